//! The checklist as text for people (`-o json` is the [`Report`] serialized).

use std::fmt::Write;

use super::checks::Verdict;
use super::{Cleanup, Report};

/// The report as a table: one line per check with expected, found and the verdict, then the
/// summary and what became of the order.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Test order of tariff {}/{} ({:?}): hsvc/{} for {}, module {}",
        report.namespace,
        report.tariff,
        report.product,
        report.service,
        report.period,
        report.module.as_deref().unwrap_or("-"),
    );
    if let Some(license) = &report.license {
        let _ = writeln!(out, "Licence: {license}");
    }
    let width = |f: fn(&super::Check) -> &str, title: &str| {
        report
            .checks
            .iter()
            .map(|c| f(c).chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let (wc, we, wf) = (
        width(|c| &c.check, "CHECK"),
        width(|c| &c.expected, "EXPECTED"),
        width(|c| &c.found, "FOUND"),
    );
    let _ = writeln!(
        out,
        "\n  {:<wc$}  {:<we$}  {:<wf$}  RESULT",
        "CHECK", "EXPECTED", "FOUND"
    );
    for c in &report.checks {
        let result = match c.result {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
        };
        let _ = writeln!(
            out,
            "  {:<wc$}  {:<we$}  {:<wf$}  {result}",
            c.check, c.expected, c.found
        );
    }
    let count = |v: Verdict| report.checks.iter().filter(|c| c.result == v).count();
    let mut summary = format!(
        "{} of {} checks passed",
        count(Verdict::Pass),
        report.checks.len()
    );
    for (n, what) in [
        (count(Verdict::Skip), "skipped"),
        (count(Verdict::Fail), "FAILED"),
    ] {
        if n > 0 {
            let _ = write!(summary, ", {n} {what}");
        }
    }
    let _ = writeln!(out, "\n{summary}.");
    let _ = writeln!(
        out,
        "{}",
        match &report.cleanup {
            Cleanup::Deleted => format!("The test order hsvc/{} was deleted.", report.service),
            Cleanup::Kept => format!(
                "The test order hsvc/{} was kept (--keep); delete it with: kubectl delete hsvc {} -n {}",
                report.service, report.service, report.namespace
            ),
            Cleanup::Failed { reason } => format!(
                "The test order hsvc/{} could not be deleted: {reason}",
                report.service
            ),
        }
    );
    out
}
