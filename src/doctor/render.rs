//! The doctor's report as a terminal table (JSON is the serde form of [`super::Report`]).

use std::fmt::Write;

use super::{Presence, Report};

/// Every report as text: a header, one row per fact, the calls with their round trips, the
/// problems, and a verdict.
pub fn text(reports: &[Report]) -> String {
    let mut out = String::new();
    for r in reports {
        let _ = writeln!(out, "{} — {} at {}", r.module, r.product, r.url);
        let _ = writeln!(
            out,
            "  version: {}",
            r.version.as_deref().unwrap_or("not said by the panel")
        );
        let width = r.facts.iter().map(|f| f.fact.len()).max().unwrap_or(4);
        let _ = writeln!(out, "  {:<width$}  FOUND    FULL NEEDS IT  NOTE", "FACT");
        for f in &r.facts {
            let found = match f.found {
                Presence::Yes => "yes",
                Presence::No => "no",
                Presence::Unknown => "unknown",
            };
            let needed = if f.needed_for_full { "yes" } else { "no" };
            let _ = writeln!(
                out,
                "  {:<width$}  {found:<7}  {needed:<13}  {}",
                f.fact, f.note
            );
        }
        let calls: Vec<String> = r
            .calls
            .iter()
            .map(|c| {
                let failed = if c.ok { "" } else { " (failed)" };
                format!("{} {} ms{failed}", c.call, c.millis)
            })
            .collect();
        let _ = writeln!(out, "  calls: {}", calls.join(", "));
        for p in &r.problems {
            let _ = writeln!(out, "  problem: {p}");
        }
        let missing: Vec<&str> = r.missing_for_full().map(|f| f.key).collect();
        if missing.is_empty() {
            let _ = writeln!(out, "  verdict: ready for managementPolicy Full\n");
        } else {
            let _ = writeln!(
                out,
                "  verdict: NOT ready for managementPolicy Full: missing {}\n",
                missing.join(", ")
            );
        }
    }
    out
}
