//! The chaos soak, short (issue 18): a few dozen services of every product, three controller
//! processes, under a minute of kills, faults, cut watches and desired-state changes; the audit
//! afterwards must be clean. The long run is `cargo bench --bench chaos`; both use
//! `tests/support/chaos/`, whose auditor's own unit tests (run here) prove it reports a
//! duplicate, a leak, a double purchase, a lost object, wrong money and a leaked password.

#[path = "support/chaos/mod.rs"]
mod chaos;
mod support;

use std::time::Duration;

// The soak builds its objects with the suite's typed fixtures (`crate::fixtures`).
use support::fixtures;

/// The seed: `HOSTPLANE_CHAOS_SEED` replays a failure the report printed.
fn seed() -> u64 {
    std::env::var("HOSTPLANE_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(18)
}

/// Every kind of chaos at least once, and a clean audit afterwards. A failure prints the
/// report (findings with the objects involved) and keeps the controllers' logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_soak_leaves_nothing_lost_leaked_or_bought_twice() {
    let ns = "chaos-soak";
    let cluster = support::cluster_with_namespace(ns);
    let settings = chaos::Settings {
        services: 24,
        duration: Duration::from_secs(45),
        seed: seed(),
        controllers: 3,
        settle: Duration::from_secs(60),
    };
    let dir = tempfile::tempdir().unwrap();
    let report = chaos::run(cluster, ns, &settings, dir.path())
        .await
        .expect("the soak runs");
    println!("{}", report.text());
    if !report.audit.clean() {
        // The controllers' logs say why; keep them.
        println!("controller logs kept in {}", dir.keep().display());
    }
    assert!(
        report.chaos.kills > 0,
        "the leader was killed at least once"
    );
    assert!(
        report.chaos.faults.values().sum::<u64>() > 0,
        "faults were injected"
    );
    assert!(
        report.audit.clean(),
        "the audit found (seed {}): {:#?}",
        settings.seed,
        report.audit.findings
    );
}
