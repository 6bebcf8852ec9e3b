//! Counters of outcomes people alert on: reconciles that ended in an error, by kind and
//! reason (the [`Reason`](crate::controller::reason::Reason) of a `Failed` or `Stalled`
//! verdict, or the kind of error a reconcile returned), and licences bought or reused from the
//! pool, by module. A bought licence costs money; the ratio of the two says what the pool
//! saves.

use std::collections::BTreeMap;
use std::sync::Mutex;

static ERRORS: Mutex<BTreeMap<(&'static str, &'static str), u64>> = Mutex::new(BTreeMap::new());
static LICENSES: Mutex<BTreeMap<(String, &'static str), u64>> = Mutex::new(BTreeMap::new());

/// How a licence came to a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LicenseSource {
    /// Ordered (and paid) at the licensing server.
    Bought,
    /// Taken from the module's pool of paid-but-unused licences.
    Reused,
}

impl LicenseSource {
    fn label(self) -> &'static str {
        match self {
            LicenseSource::Bought => "bought",
            LicenseSource::Reused => "reused",
        }
    }
}

/// A reconcile of `kind` ended in an error with `reason`.
pub fn error(kind: &'static str, reason: &'static str) {
    *ERRORS
        .lock()
        .expect("metrics lock")
        .entry((kind, reason))
        .or_default() += 1;
}

/// A licence at `module` (`namespace/name`) was bought or reused.
pub fn license(module: &str, source: LicenseSource) {
    *LICENSES
        .lock()
        .expect("metrics lock")
        .entry((module.to_owned(), source.label()))
        .or_default() += 1;
}

/// The counters in Prometheus text format.
pub fn render(out: &mut String) {
    use std::fmt::Write as _;
    out.push_str("# HELP hostplane_reconcile_errors_total Reconciles that ended in an error, per kind and reason.\n");
    out.push_str("# TYPE hostplane_reconcile_errors_total counter\n");
    for ((kind, reason), n) in ERRORS.lock().expect("metrics lock").iter() {
        let _ = writeln!(
            out,
            "hostplane_reconcile_errors_total{{kind=\"{kind}\",reason=\"{reason}\"}} {n}"
        );
    }
    out.push_str("# HELP hostplane_licenses_total Licences given to services, per licensing module and source (bought or reused from the pool).\n");
    out.push_str("# TYPE hostplane_licenses_total counter\n");
    for ((module, source), n) in LICENSES.lock().expect("metrics lock").iter() {
        let _ = writeln!(
            out,
            "hostplane_licenses_total{{module=\"{}\",source=\"{source}\"}} {n}",
            super::escape(module)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_per_label_set() {
        error("TestCounts", "PanelError");
        error("TestCounts", "PanelError");
        license("test/lic-counts", LicenseSource::Bought);
        license("test/lic-counts", LicenseSource::Reused);
        license("test/lic-counts", LicenseSource::Reused);
        let mut text = String::new();
        render(&mut text);
        assert!(text.contains(
            "hostplane_reconcile_errors_total{kind=\"TestCounts\",reason=\"PanelError\"} 2"
        ));
        assert!(
            text.contains(
                "hostplane_licenses_total{module=\"test/lic-counts\",source=\"bought\"} 1"
            )
        );
        assert!(
            text.contains(
                "hostplane_licenses_total{module=\"test/lic-counts\",source=\"reused\"} 2"
            )
        );
    }
}
