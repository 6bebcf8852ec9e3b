//! The last line of the output: one JSON object for scripts.

use super::*;

fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}

fn mib_of(kib: u64) -> f64 {
    round(kib as f64 / 1024.0, 1)
}

pub(super) fn json(r: &Report) -> Value {
    let n = r.services as f64;
    let c = &r.convergence;
    let per = |x: u64| round(x as f64 / n, 2);
    let seconds = c.time.as_secs_f64();
    let floor_seconds = r.floor.as_ref().map(|f| f.time.as_secs_f64());
    let writes = c.requests.write_total();
    let steady_rate = |f: fn(&Window) -> u64| {
        r.steady
            .as_ref()
            .map(|w| round(f(w) as f64 / w.length.as_secs_f64().max(1e-3), 3))
    };
    json!({
        "services": r.services,
        "complete": r.incomplete.is_none(),
        "ready": r.ready,
        "seconds": round(seconds, 1),
        "floor_seconds": floor_seconds.map(|f| round(f, 1)),
        // Only when all became Ready: an incomplete run's time is when it was stopped.
        "time_ratio": floor_seconds
            .filter(|_| r.incomplete.is_none())
            .map(|f| round(seconds / f, 2)),
        "writes_per_service": per(writes),
        "writes_per_service_without_events": per(writes - c.requests.writes_to("events")),
        "floor_writes_per_service": r.floor.as_ref().map(|f| per(f.requests.write_total())),
        "panel_calls_per_service": per(total(&c.calls)),
        "reconciles_per_service": per(total(&c.reconciles.counts)),
        "controller_peak_rss_mib": r.peaks.get("controller").copied().map(mib_of),
        "controller_peak_rss_when_ready_mib": r.controller_peak_converged.map(mib_of),
        "steady_writes_per_second": steady_rate(|w| w.requests.write_total()),
        "steady_panel_calls_per_second": steady_rate(|w| total(&w.calls)),
        "steady_reconciles": r.steady.as_ref().map(|w| total(&w.reconciles)),
        "cpu_seconds": r.cpu.0.iter().map(|(k, v)| (k.clone(), round(*v, 1))).collect::<BTreeMap<_, _>>(),
        "convergence_cpu_seconds": c.cpu.0.iter().map(|(k, v)| (k.clone(), round(*v, 1))).collect::<BTreeMap<_, _>>(),
        "peak_rss_mib": r.peaks.iter().map(|(k, v)| (k.clone(), mib_of(*v))).collect::<BTreeMap<_, _>>(),
        "warnings": r.warnings,
    })
}
