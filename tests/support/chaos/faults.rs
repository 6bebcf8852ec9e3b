//! Random panel faults, set on the simulator process through its admin endpoint
//! (`POST /_admin/faults`, `POST /_admin/sessions/expire`), on every product: latency, 502s,
//! 503 bursts, answers lost after the call was applied, 503 after it was applied, answers
//! without ids, expired sessions. Each is counted by kind for the report.

use std::collections::BTreeMap;

use rand::RngExt as _;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::processes::Simulator;

/// The simulator's product names, and the mutation each one's lost answers matter most for
/// (a create or an order); `*` covers every call of the product.
const PRODUCTS: [(&str, &str); 4] = [
    ("ispmgr", "user.add.finish"),
    ("vmmgr", "vm.edit"),
    ("vm6", "host.create"),
    ("billmgr", "soft.order.param"),
];

/// Fault kinds, as the report names them.
pub const KINDS: [&str; 8] = [
    "latency",
    "error_rate",
    "unavailable",
    "drop_response",
    "applied_unavailable",
    "no_id",
    "expire_session",
    "sessions_expired",
];

/// Picks one fault, sets it, and counts it in `counts` (calls affected for counted faults,
/// windows for latency and error rates).
pub async fn inject(
    sim: &Simulator,
    rng: &mut StdRng,
    counts: &mut BTreeMap<String, u64>,
) -> anyhow::Result<()> {
    let (product, mutation) = PRODUCTS[rng.random_range(0..PRODUCTS.len())];
    let kind = KINDS[rng.random_range(0..KINDS.len())];
    // Half of the faults that hit applied calls target the product's mutation, so that they
    // land on creates and orders rather than on the many reads.
    let function = if rng.random_bool(0.5) { mutation } else { "*" };
    let n: u64 = rng.random_range(1..=4);
    let rule: Value = match kind {
        "sessions_expired" => {
            sim.post("/_admin/sessions/expire", &json!({})).await?;
            *counts.entry(kind.into()).or_default() += 1;
            return Ok(());
        }
        "latency" => json!({"product": product, "function": "*",
                            "latency_ms": rng.random_range(100..1500)}),
        "error_rate" => json!({"product": product, "function": "*", "error_rate": 0.3}),
        "unavailable" => json!({"product": product, "function": "*", "unavailable": n * 3}),
        other => json!({"product": product, "function": function, other: n}),
    };
    sim.post("/_admin/faults", &rule).await?;
    let counted = match kind {
        "latency" | "error_rate" => 1,
        "unavailable" => n * 3,
        _ => n,
    };
    *counts.entry(kind.into()).or_default() += counted;
    Ok(())
}
