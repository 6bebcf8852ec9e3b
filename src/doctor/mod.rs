//! `hostplane doctor`: a read-only check of a real panel before hostplane is trusted with it.
//!
//! Why: hostplane's clients follow what production clients found real panels answer
//! (reference §11), but a provider's panel is a particular build behind a particular proxy. A
//! provider switching a module to `managementPolicy: Full` wants to know, before any account is
//! made, whether the panel answers with the facts hostplane relies on (a user list with names,
//! a VM list with power states, a licence list with names and IPs …) and which optional facts
//! it lacks (a `remoteid` in the licence list, an error for an unknown user), so that the
//! fallback hostplane then uses is known too.
//!
//! Only read functions are ever sent ([`probes`] lists them): list functions, forms opened
//! without `sok`, a VMmanager 6 token and GETs. A test proves it with the simulator's counters
//! and state. Credentials are never printed: reports carry URLs without user info, facts and
//! timings, and every error text is scrubbed by the clients before it reaches a report.

mod probes;
mod render;
mod vm6;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::controller::panels::PanelClient;
use crate::panel::PanelError;

pub use render::text;

/// Whether the panel's answer had a fact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    Yes,
    No,
    /// Nothing to judge by (e.g. a field of list rows when the list is empty), or the call
    /// that would show it failed for another reason.
    Unknown,
}

impl Presence {
    fn of(found: bool) -> Self {
        if found { Presence::Yes } else { Presence::No }
    }
}

/// One protocol fact hostplane relies on or adapts to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fact {
    /// A stable key for scripts: `user-list-active`.
    pub key: &'static str,
    /// What is checked, in words: "user list carries `active` for every user".
    pub fact: &'static str,
    pub found: Presence,
    /// `managementPolicy: Full` cannot work without it.
    pub needed_for_full: bool,
    /// What was seen, and what hostplane does about a missing optional fact.
    pub note: String,
}

/// One call the doctor made, with its round trip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Timing {
    pub call: String,
    pub millis: u64,
    pub ok: bool,
}

/// Everything found about one panel.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `namespace/name` of the ProcessingModule, or `--url` when given directly.
    pub module: String,
    /// `ispmanager`, `VMmanager 5`, `VMmanager 6`, `licensing`.
    pub product: &'static str,
    /// The panel URL (never with credentials: a module's URL cannot carry them).
    pub url: String,
    /// The panel's version, where its answers say it.
    pub version: Option<String>,
    pub facts: Vec<Fact>,
    pub calls: Vec<Timing>,
    /// Answers that could not be read (not a panel document, not the JSON expected), with
    /// the call that gave them. A panel error is not a problem: the fact it concerns says it.
    pub problems: Vec<String>,
    /// Every fact that `Full` management needs was found.
    pub ready_for_full: bool,
}

impl Report {
    fn new(module: String, product: &'static str, url: String) -> Self {
        Report {
            module,
            product,
            url,
            version: None,
            facts: Vec::new(),
            calls: Vec::new(),
            problems: Vec::new(),
            ready_for_full: false,
        }
    }

    fn fact(
        &mut self,
        key: &'static str,
        fact: &'static str,
        needed_for_full: bool,
        found: Presence,
        note: impl Into<String>,
    ) {
        self.facts.push(Fact {
            key,
            fact,
            found,
            needed_for_full,
            note: note.into(),
        });
    }

    /// Times one call and records it; an answer that could not be read is kept in `problems`.
    async fn timed<T>(
        &mut self,
        call: &str,
        f: impl Future<Output = Result<T, PanelError>>,
    ) -> Result<T, PanelError> {
        let started = Instant::now();
        let result = f.await;
        self.calls.push(Timing {
            call: call.to_owned(),
            millis: millis(started.elapsed()),
            ok: result.is_ok(),
        });
        if let Err(e @ PanelError::Protocol { .. }) = &result {
            self.problems.push(format!("{call}: {e}"));
        }
        result
    }

    /// The facts `Full` management needs that were not found.
    pub fn missing_for_full(&self) -> impl Iterator<Item = &Fact> {
        self.facts
            .iter()
            .filter(|f| f.needed_for_full && f.found == Presence::No)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Checks one panel through its client with read calls only.
pub async fn check(module: String, url: String, client: &PanelClient) -> Report {
    let mut report = match client {
        PanelClient::IspManager(isp) => probes::ispmanager(module, url, isp).await,
        PanelClient::VmManager5(vm) => probes::vmmanager5(module, url, vm).await,
        PanelClient::Licensing(lic) => probes::licensing(module, url, lic).await,
        PanelClient::VmManager6(vm) => vm6::check(module, url, vm).await,
    };
    let ready = report.missing_for_full().next().is_none();
    report.ready_for_full = ready;
    report
}

/// The exit status for a set of reports: 0 when every panel has what `Full` needs, 1 when
/// one lacks a needed fact.
pub fn exit_status(reports: &[Report]) -> u8 {
    if reports.iter().all(|r| r.ready_for_full) {
        0
    } else {
        1
    }
}
