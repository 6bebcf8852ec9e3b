//! The objects the bench applies: module, tariff, client, services.

use super::*;
use crate::fixtures::{Fixture, FixtureSet, Login, SharedHosting};

pub(super) fn today() -> String {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

/// A module on the simulator, its credentials, a tariff that is its own name server, a
/// client: the shared hosting set of the tests ([`SharedHosting`]), with the bench's limits.
pub(super) fn base(sim: &Simulator) -> Vec<Fixture> {
    let set = SharedHosting(Login::new(format!("{}/ispmgr", sim.base), ADMIN, PASSWORD));
    set.with(
        set.module().limits(MODULE_CONCURRENCY, MODULE_RPS),
        set.tariff(),
    )
}

pub(super) fn service_name(i: usize) -> String {
    format!("s{i:05}")
}

/// The `i`th yearly service of the set, from `today`.
pub(super) fn service(i: usize, today: &str, connection_secret: bool) -> HostingService {
    let name = service_name(i);
    let service = SharedHosting::service(&name, today);
    if connection_secret {
        service.connection_secret(&format!("{name}-login")).build()
    } else {
        service.build()
    }
}

/// `(status, reason)` of the Ready condition in a status.
pub(super) fn ready_condition(status: &Value) -> Option<(String, String)> {
    let ready = status
        .get("conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type") == Some(&Value::from("Ready")))?;
    let text = |k: &str| {
        ready
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    Some((text("status"), text("reason")))
}

pub(super) fn is_ready(s: &HostingService) -> bool {
    s.status.as_ref().is_some_and(|st| {
        st.common
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == ConditionStatus::True)
    })
}

/// Not-ready services by their Ready reason, for a timeout message.
pub(super) fn not_ready_reasons(list: &[HostingService]) -> String {
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut example: BTreeMap<String, String> = BTreeMap::new();
    for s in list.iter().filter(|s| !is_ready(s)) {
        let (reason, message) = s
            .status
            .as_ref()
            .and_then(|st| st.common.conditions.iter().find(|c| c.type_ == "Ready"))
            .map(|c| (format!("{:?}/{}", c.status, c.reason), c.message.clone()))
            .unwrap_or_else(|| ("no status yet".into(), String::new()));
        *reasons.entry(reason.clone()).or_default() += 1;
        example.entry(reason).or_insert_with(|| {
            if message.is_empty() {
                s.name_any()
            } else {
                format!("{}: {message}", s.name_any())
            }
        });
    }
    reasons
        .iter()
        .map(|(r, n)| format!("\n  {n} × Ready={r} (e.g. {})", example[r]))
        .collect()
}
