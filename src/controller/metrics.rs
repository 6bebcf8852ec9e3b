//! Health and metrics of a running controller, served on `--metrics-address`: `/healthz`
//! (the process answers), `/readyz` (the caches have synced) and `/metrics` (Prometheus text
//! format: reconciles per kind and outcome, their duration as a histogram, reconciles in
//! flight, panel calls per module, function and outcome, errors per kind and reason, objects
//! per kind and phase, licences bought and reused ([`crate::telemetry`]), and whether this
//! process leads).
//!
//! A standby (not holding the leader lease) is ready: readiness says the process can serve
//! its role, and a standby that failed readiness would be restarted or kept out of a rolling
//! update for no reason. Which process acts is the `hostplane_leader` gauge.
//!
//! Process-wide measurements ([`crate::telemetry`]) rather than a field of the reconcile
//! context: they are read by the HTTP server, which lives outside any one `run()`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use std::collections::BTreeMap;

use axum::Router;
use kube::runtime::reflector::Store;

use crate::api::common::{CommonStatus, ConditionStatus};
use crate::api::{Client, HostingService, LicensePool, ProcessingModule, ServerPool, Tariff};
use axum::http::StatusCode;
use axum::routing::get;

static READY: AtomicBool = AtomicBool::new(false);
static LEADER: AtomicBool = AtomicBool::new(false);

/// Marks the controller ready (caches synced, reconcilers started).
pub fn set_ready(ready: bool) {
    READY.store(ready, Ordering::Relaxed);
}

/// Marks this process as the one that acts (it holds the leader lease, or runs without
/// election) or not.
pub fn set_leader(leader: bool) {
    LEADER.store(leader, Ordering::Relaxed);
}

/// Records one reconcile of `kind` that ended `ok` or not, and how long it took.
pub fn record(kind: &'static str, ok: bool, took: Duration) {
    let outcome = if ok { "success" } else { "error" };
    crate::telemetry::reconcile(kind, outcome, took);
}

/// Counts a reconcile of `kind` whose verdict was an error (`Failed`: retried; `Stalled`:
/// waits for a change), by its reason, for `hostplane_reconcile_errors_total`.
pub fn judged(kind: &'static str, verdict: &super::conditions::Verdict) {
    use super::conditions::Verdict;
    if matches!(verdict, Verdict::Failed { .. } | Verdict::Stalled { .. }) {
        crate::telemetry::counts::error(kind, verdict.reason().as_str());
    }
}

/// The metrics in Prometheus text format.
pub fn render() -> String {
    let totals = crate::telemetry::reconcile_totals();
    let mut out = String::new();
    out.push_str("# HELP hostplane_reconciles_total Reconciles finished, per kind and outcome.\n");
    out.push_str("# TYPE hostplane_reconciles_total counter\n");
    for (kind, outcome, count, _) in &totals {
        let _ = writeln!(
            out,
            "hostplane_reconciles_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {count}"
        );
    }
    out.push_str(
        "# HELP hostplane_reconcile_seconds_total Time spent in reconciles, per kind and outcome.\n",
    );
    out.push_str("# TYPE hostplane_reconcile_seconds_total counter\n");
    for (kind, outcome, _, seconds) in &totals {
        let _ = writeln!(
            out,
            "hostplane_reconcile_seconds_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {seconds:.6}"
        );
    }
    out.push_str("# HELP hostplane_ready Whether the controller's caches have synced.\n");
    out.push_str("# TYPE hostplane_ready gauge\n");
    let _ = writeln!(
        out,
        "hostplane_ready {}",
        u8::from(READY.load(Ordering::Relaxed))
    );
    out.push_str(
        "# HELP hostplane_leader Whether this process acts (holds the leader lease, or runs without election).\n",
    );
    out.push_str("# TYPE hostplane_leader gauge\n");
    let _ = writeln!(
        out,
        "hostplane_leader {}",
        u8::from(LEADER.load(Ordering::Relaxed))
    );
    crate::telemetry::render(&mut out);
    out
}

/// Registers the caches `hostplane_objects{kind,phase}` is counted from at each scrape: a
/// service's phase is its `status.phase`, any other object's is `Ready`, `NotReady` or
/// `Pending` (no Ready condition yet).
pub fn count_objects(
    modules: Store<ProcessingModule>,
    tariffs: Store<Tariff>,
    clients: Store<Client>,
    services: Store<HostingService>,
    license_pools: Store<LicensePool>,
    server_pools: Store<ServerPool>,
) {
    crate::telemetry::objects::count_from(Box::new(move || {
        let mut counts = BTreeMap::new();
        let mut add = |kind: &'static str, phase: String| {
            *counts.entry((kind, phase)).or_insert(0) += 1;
        };
        for s in services.state() {
            let phase = s.status.as_ref().map(|st| st.phase).unwrap_or_default();
            add("HostingService", format!("{phase:?}"));
        }
        let ready = |common: Option<&CommonStatus>| {
            let ready = common.and_then(|c| {
                c.conditions
                    .iter()
                    .find(|c| c.type_ == super::conditions::READY)
            });
            match ready.map(|c| c.status) {
                Some(ConditionStatus::True) => "Ready",
                Some(_) => "NotReady",
                None => "Pending",
            }
            .to_owned()
        };
        for m in modules.state() {
            add(
                "ProcessingModule",
                ready(m.status.as_ref().map(|s| &s.common)),
            );
        }
        for t in tariffs.state() {
            add("Tariff", ready(t.status.as_ref().map(|s| &s.common)));
        }
        for c in clients.state() {
            add("Client", ready(c.status.as_ref().map(|s| &s.common)));
        }
        for p in license_pools.state() {
            add("LicensePool", ready(p.status.as_ref().map(|s| &s.common)));
        }
        for p in server_pools.state() {
            add("ServerPool", ready(p.status.as_ref().map(|s| &s.common)));
        }
        counts
    }));
}

fn routes() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|| async {
                if READY.load(Ordering::Relaxed) {
                    let role = if LEADER.load(Ordering::Relaxed) {
                        "ready (leader)"
                    } else {
                        "ready (standby)"
                    };
                    (StatusCode::OK, role)
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "caches not synced yet")
                }
            }),
        )
        .route("/metrics", get(|| async { render() }))
}

/// Serves health and metrics on `address` until the process ends.
pub async fn serve(address: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    tracing::info!(address = %listener.local_addr()?, "serving /healthz, /readyz, /metrics");
    axum::serve(listener, routes()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_in_prometheus_text_format() {
        record("TestKind", true, Duration::from_millis(1500));
        record("TestKind", true, Duration::from_millis(500));
        record("TestKind", false, Duration::from_millis(10));
        let text = render();
        assert!(
            text.contains("hostplane_reconciles_total{kind=\"TestKind\",outcome=\"success\"} 2")
        );
        assert!(text.contains("hostplane_reconciles_total{kind=\"TestKind\",outcome=\"error\"} 1"));
        assert!(text.contains(
            "hostplane_reconcile_seconds_total{kind=\"TestKind\",outcome=\"success\"} 2.000000"
        ));
        assert!(text.contains("# TYPE hostplane_ready gauge"));
        assert!(text.contains("# TYPE hostplane_leader gauge"));
    }
}
