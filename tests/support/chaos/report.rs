//! The soak's report: what the chaos did, what the driver changed, the audit's findings with
//! the objects involved, and one final JSON line for scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;

use super::Chaos;
use super::audit::{Audit, Kind};

pub struct Report {
    pub seed: u64,
    /// Services of the run (created before and during the chaos).
    pub services: usize,
    /// Services that exist at the end.
    pub live: usize,
    pub duration: Duration,
    pub settled_in: Duration,
    pub chaos: Chaos,
    pub actions: BTreeMap<String, u64>,
    pub reconciles: u64,
    /// Controller exits the soak did not cause.
    pub exits: Vec<String>,
    pub secrets_checked: usize,
    pub audit: Audit,
}

fn list(counts: &BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

impl Report {
    /// The final line: `seed`, `services`, `kills`, `faults`, and the audit's counts.
    pub fn json(&self) -> serde_json::Value {
        let count = |kind| self.audit.count(kind);
        json!({
            "seed": self.seed,
            "services": self.services,
            "kills": self.chaos.kills,
            "faults": self.chaos.faults.values().sum::<u64>(),
            "duplicates": count(Kind::Duplicate),
            "leaks": count(Kind::Leak),
            "double_purchases": count(Kind::DoublePurchase),
            "lost": count(Kind::Lost),
            "secrets_in_logs": count(Kind::SecretInLog),
            "unsettled": count(Kind::Unsettled),
            "money": count(Kind::Money),
        })
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let c = &self.chaos;
        let _ = writeln!(out, "\nchaos soak, seed {}", self.seed);
        let _ = writeln!(
            out,
            "  {} s of chaos, settled in {:.0} s; {} services in the run, {} at the end",
            self.duration.as_secs(),
            self.settled_in.as_secs_f64(),
            self.services,
            self.live
        );
        let _ = writeln!(
            out,
            "  leader SIGKILLed {} times; API connections cut {} times ({} connections); clock moved {} days",
            c.kills, c.cuts, c.connections_cut, c.clock_days
        );
        let _ = writeln!(out, "  faults injected: {}", list(&c.faults));
        let _ = writeln!(out, "  driver: {}", list(&self.actions));
        if !c.driver_errors.is_empty() {
            let _ = writeln!(
                out,
                "  driver calls refused: {} (first: {})",
                c.driver_errors.len(),
                c.driver_errors[0]
            );
        }
        let _ = writeln!(
            out,
            "  reconciles (all replicas' /metrics): {}",
            self.reconciles
        );
        for exit in &self.exits {
            let _ = writeln!(out, "  controller exit: {exit}");
        }
        let _ = writeln!(
            out,
            "  money: {} debited, {} justified by the needs",
            self.audit.spent, self.audit.justified
        );
        let _ = writeln!(out, "  logs checked for {} passwords", self.secrets_checked);
        if self.audit.clean() {
            let _ = writeln!(out, "  audit: clean");
        } else {
            let _ = writeln!(out, "  audit: {} findings", self.audit.findings.len());
            for finding in &self.audit.findings {
                let _ = writeln!(out, "    {finding}");
            }
        }
        let _ = writeln!(out, "{}", self.json());
        out
    }
}
