//! Panel calls: the simulator's counters.

use super::*;

pub(super) type Calls = BTreeMap<String, u64>;

pub(super) fn panel_calls(sim: &SimHandle) -> Calls {
    sim.sim
        .calls()
        .into_iter()
        .flat_map(|(product, functions)| {
            functions
                .into_iter()
                .map(move |(f, n)| (format!("{product} {f}"), n))
        })
        .collect()
}

pub(super) fn calls_since(after: &Calls, before: &Calls) -> Calls {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0).min(*v)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

pub(super) fn total(calls: &Calls) -> u64 {
    calls.values().sum()
}
