//! The gauge `hostplane_objects{kind,phase}`: how many objects of each kind the controller
//! holds, by phase (a service's `status.phase`; for the other kinds `Ready`, `NotReady` or
//! `Pending` before their first status). Counted from the controller's caches at each scrape,
//! so it is never out of step with them and costs nothing between scrapes.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Counts per (kind, phase), computed when asked.
pub type Source = Box<dyn Fn() -> BTreeMap<(&'static str, String), u64> + Send>;

static SOURCE: Mutex<Option<Source>> = Mutex::new(None);

/// Where the counts come from: the running controller's caches. A later controller of the
/// same process (tests) replaces an earlier one's.
pub fn count_from(source: Source) {
    *SOURCE.lock().expect("metrics lock") = Some(source);
}

/// The gauge in Prometheus text format (nothing before a controller registered its caches).
pub fn render(out: &mut String) {
    use std::fmt::Write as _;
    let counts = match SOURCE.lock().expect("metrics lock").as_ref() {
        Some(source) => source(),
        None => return,
    };
    out.push_str(
        "# HELP hostplane_objects Objects in the controller's caches, per kind and phase.\n",
    );
    out.push_str("# TYPE hostplane_objects gauge\n");
    for ((kind, phase), n) in counts {
        let _ = writeln!(
            out,
            "hostplane_objects{{kind=\"{kind}\",phase=\"{}\"}} {n}",
            super::escape(&phase)
        );
    }
}
