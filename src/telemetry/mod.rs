//! Process-wide measurements, in controller-runtime's shape: reconcile durations per kind and
//! result, reconciles in flight, and panel call durations per module, function and outcome;
//! errors by reason and licences bought or reused ([`counts`]); objects by kind and phase
//! ([`objects`]).
//! Read by the controller's `/metrics` ([`crate::controller::metrics`]).
//!
//! Process-wide rather than a field of a context: the panel clients record their calls, and
//! the HTTP server that reads them lives outside any one controller run. Nothing here is state
//! that must survive the process: it is what this process saw.

pub mod counts;
pub mod histogram;
pub mod objects;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use histogram::Histogram;

static RECONCILES: Mutex<BTreeMap<(&'static str, &'static str), Histogram>> =
    Mutex::new(BTreeMap::new());
static IN_FLIGHT: Mutex<BTreeMap<&'static str, i64>> = Mutex::new(BTreeMap::new());
static PANEL_CALLS: Mutex<BTreeMap<(String, String, &'static str), Histogram>> =
    Mutex::new(BTreeMap::new());

/// One reconcile of `kind` ended with `result` (`success` or `error`) after `took`.
pub fn reconcile(kind: &'static str, result: &'static str, took: Duration) {
    RECONCILES
        .lock()
        .expect("metrics lock")
        .entry((kind, result))
        .or_default()
        .observe(took.as_secs_f64());
}

/// A reconcile of `kind` started (`+1`) or ended (`-1`).
pub fn in_flight(kind: &'static str, change: i64) {
    *IN_FLIGHT
        .lock()
        .expect("metrics lock")
        .entry(kind)
        .or_default() += change;
}

/// One panel call (with its retries) of `module` to `function` ended with `outcome` after
/// `took`.
pub fn panel_call(module: &str, function: &str, outcome: &'static str, took: Duration) {
    PANEL_CALLS
        .lock()
        .expect("metrics lock")
        .entry((module.to_owned(), function.to_owned(), outcome))
        .or_default()
        .observe(took.as_secs_f64());
}

/// Per kind and result, how many reconciles ended and the seconds they took in all (the
/// reconcile histograms' count and sum, for the plain counters).
pub fn reconcile_totals() -> Vec<(&'static str, &'static str, u64, f64)> {
    RECONCILES
        .lock()
        .expect("metrics lock")
        .iter()
        .map(|((kind, result), h)| (*kind, *result, h.count(), h.sum()))
        .collect()
}

/// The measurements in Prometheus text format.
pub fn render(out: &mut String) {
    use std::fmt::Write as _;
    out.push_str("# HELP hostplane_reconcile_duration_seconds How long reconciles took, per kind and result.\n");
    out.push_str("# TYPE hostplane_reconcile_duration_seconds histogram\n");
    for ((kind, result), h) in RECONCILES.lock().expect("metrics lock").iter() {
        let labels = format!("kind=\"{kind}\",result=\"{result}\"");
        h.render("hostplane_reconcile_duration_seconds", &labels, out);
    }
    out.push_str("# HELP hostplane_reconciles_in_flight Reconciles running now, per kind.\n");
    out.push_str("# TYPE hostplane_reconciles_in_flight gauge\n");
    for (kind, n) in IN_FLIGHT.lock().expect("metrics lock").iter() {
        let _ = writeln!(out, "hostplane_reconciles_in_flight{{kind=\"{kind}\"}} {n}");
    }
    out.push_str("# HELP hostplane_panel_call_duration_seconds How long panel calls took (retries included), per module, function and outcome.\n");
    out.push_str("# TYPE hostplane_panel_call_duration_seconds histogram\n");
    for ((module, function, outcome), h) in PANEL_CALLS.lock().expect("metrics lock").iter() {
        let labels = format!(
            "module=\"{}\",function=\"{}\",outcome=\"{outcome}\"",
            escape(module),
            escape(function)
        );
        h.render("hostplane_panel_call_duration_seconds", &labels, out);
    }
    counts::render(out);
    objects::render(out);
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
