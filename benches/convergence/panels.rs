//! Panel calls: the simulator process's counters (`GET /_admin/calls`).

use super::*;

pub(super) type Calls = BTreeMap<String, u64>;

/// `{"ispmgr":{"user":3}}` → `ispmgr user` → 3.
pub(super) async fn panel_calls(sim: &Simulator) -> anyhow::Result<Calls> {
    let calls: BTreeMap<String, Calls> = serde_json::from_value(
        sim.get("/_admin/calls")
            .await
            .context("reading the simulator's /_admin/calls")?,
    )?;
    Ok(calls
        .into_iter()
        .flat_map(|(product, functions)| {
            functions
                .into_iter()
                .map(move |(f, n)| (format!("{product} {f}"), n))
        })
        .collect())
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
