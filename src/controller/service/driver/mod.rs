//! The managed-resource driver: one place that owns the safety rules of every product that
//! makes something at a panel under a name (an ispmanager account, a VMmanager 6 host, a
//! VMmanager 5 VM), in the spirit of crossplane-runtime's managed reconciler.
//!
//! A product implements [`External`]: how to look its resource up, create it and delete it at
//! its panel. The cluster side (the claim, the record of a create attempt, the finalizer) is
//! behind [`Ledger`]. The driver decides *when* each is called, so each rule is written once:
//!
//! - **Observe first**, by keys the panel really returns; an `ObserveOnly` service only
//!   observes ([`observe`]).
//! - **Ownership before any write**: a name another service claimed is `NameConflict`; a
//!   resource that exists and that the service never claimed, nor had handed over by a person,
//!   is a stranger's (the product's `exists_reason`, e.g. `AccountExists`). Neither writes
//!   anything, not even a finalizer.
//! - **Claim, then create** ([`claim`], [`create`]): module, name, finalizer and the time of
//!   the attempt in one patch before the call. A lost answer (timeout, 502/503/504, no id) is
//!   an unknown outcome: look up, and send again only after the module's quiet period. A
//!   definite refusal settles the attempt. An "exists" answer to a claim written in the same
//!   pass withdraws the claim (someone else made it in between); to an earlier claim it is
//!   looked up and adopted (ours, from an attempt whose answer was lost).
//! - **Removal** ([`remove`]): only what was recorded; `Orphan` and `ObserveOnly` keep it (at
//!   deletion and at termination); "not found" counts as done.
//!
//! The driver has no Kubernetes client and no panel client of its own, so its rules are unit
//! tested with a fake product and an in-memory ledger (`tests.rs`).

mod ledger;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::time::Duration;

pub use ledger::{ClusterLedger, announce_removal, record};

use super::claim::{self, Ownership, Provenance};
use super::{Outcome, failed, stalled};
use crate::api::hosting_service::{DeletionPolicy, ManagementPolicy};
use crate::controller::Error;
use crate::controller::reason::Reason;
use crate::panel::PanelError;

/// What the panel shows under the service's name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Found<T> {
    /// Nothing of that name.
    #[default]
    Absent,
    /// A resource of that name that may be this service's (the product checked its marker,
    /// where the panel keeps one).
    Present(T),
    /// Resources of that name exist and the product knows none is this service's (none carries
    /// its marker). Never managed, never deleted.
    Foreign,
}

/// One product's calls at its panel, for one service and one name.
pub trait External {
    /// What the panel shows of the resource.
    type Observed: Send;
    /// What a create sends (the product builds it once it knows the owner, the password...).
    type Create: Sync;
    /// What it is, for messages and events: "ispmanager account", "VMmanager host".
    fn kind(&self) -> &'static str;
    /// The external name.
    fn name(&self) -> &str;
    /// The reason a stranger's resource of this name stops the service (`AccountExists`).
    fn exists_reason(&self) -> Reason;
    /// Looks the resource up, by keys the panel really returns.
    fn observe(&self) -> impl Future<Output = Result<Found<Self::Observed>, PanelError>> + Send;
    /// Sends the create call.
    fn create(&self, request: &Self::Create)
    -> impl Future<Output = Result<(), PanelError>> + Send;
}

/// A product whose resource is deleted at its panel when hostplane removes it (an account, a
/// host). A licence is not: it goes to the pool, which is the licence module's own business.
pub trait Removable: External {
    /// Deletes the resource; `Ok(false)` when there was nothing (left) to delete.
    fn delete(&self) -> impl Future<Output = Result<bool, PanelError>> + Send;
}

/// The service's record in the cluster: its claim and the attempts made under it.
pub trait Ledger {
    /// Writes the claim (module, name, finalizer and, with `attempt`, the time of the create
    /// about to be sent) in one guarded patch, unless another service holds the name:
    /// `Err(message)` names it, and nothing was written.
    fn claim(
        &mut self,
        attempt: bool,
    ) -> impl Future<Output = Result<Result<(), String>, Error>> + Send;
    /// Records a new create attempt under an existing claim.
    fn attempt(&mut self) -> impl Future<Output = Result<(), Error>> + Send;
    /// The panel refused the create: the attempt is settled, the next need not wait.
    fn settle(&mut self) -> impl Future<Output = Result<(), Error>> + Send;
    /// Takes back a claim written in this pass (the name turned out to be a stranger's).
    fn withdraw(&mut self) -> impl Future<Output = Result<(), Error>> + Send;
    /// Puts the finalizer on a service that holds a recorded name.
    fn keep_finalizer(&mut self) -> impl Future<Output = Result<(), Error>> + Send;
}

/// What the driver knows of the service, read once per reconcile.
#[derive(Clone, Debug)]
pub struct Record {
    pub policy: ManagementPolicy,
    pub deletion: DeletionPolicy,
    pub provenance: Provenance,
    /// The service converged before (status records its external name).
    pub converged: bool,
    /// Another service's claim of the name, when it matters (see [`claim::ownership`]).
    pub conflict: Option<String>,
    /// When the last create attempt was sent, if its outcome is not settled.
    pub pending_since: Option<jiff::Timestamp>,
    /// The module's quiet period after an unknown outcome.
    pub quiet: Duration,
    pub now: jiff::Timestamp,
    /// [`claim`] wrote the claim earlier in this pass (a product that may still wait before
    /// its create): [`create`] records its attempt under it instead of claiming again, and
    /// still treats an `Exists` answer as a stranger's.
    pub claimed_in_this_pass: bool,
}

impl Record {
    fn recorded(&self) -> bool {
        self.provenance != Provenance::Unrecorded
    }

    /// The record after [`claim`] wrote the claim in this pass.
    pub fn after_claim(&self) -> Record {
        if self.recorded() {
            return self.clone();
        }
        Record {
            provenance: Provenance::Claimed,
            claimed_in_this_pass: true,
            ..self.clone()
        }
    }
}

/// What [`observe`] found, for the product to go on with.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen<T> {
    /// `ObserveOnly`: the resource, to report on; change nothing.
    Observe(T),
    /// The service's own resource, to converge.
    Manage(T),
    /// Nothing yet: [`claim`] and [`create`] it.
    Missing,
}

/// Looks the resource up and applies the ownership rules, before anything is written for the
/// service. `Err` is the outcome to report (nothing was written).
pub async fn observe<E: External, L: Ledger>(
    record: &Record,
    ledger: &mut L,
    external: &E,
) -> Result<Result<Seen<E::Observed>, Outcome>, Error> {
    let found = match external.observe().await {
        Ok(found) => found,
        Err(e) => {
            return Ok(Err(failed(
                Reason::PanelError,
                format!("looking up {} {}: {e}", external.kind(), external.name()),
            )));
        }
    };
    if record.policy == ManagementPolicy::ObserveOnly {
        return Ok(match found {
            Found::Present(observed) => Ok(Seen::Observe(observed)),
            Found::Absent | Found::Foreign => Err(stalled(
                Reason::ExternalNotFound,
                format!(
                    "managementPolicy is ObserveOnly and there is no {} {:?} to observe",
                    external.kind(),
                    external.name()
                ),
            )),
        });
    }
    let exists = !matches!(found, Found::Absent);
    let ownership = claim::ownership(
        record.provenance,
        record.converged,
        || record.conflict.clone(),
        exists,
    );
    match ownership {
        Ownership::Act => {}
        Ownership::NameConflict(message) => return Ok(Err(stalled(Reason::NameConflict, message))),
        Ownership::Foreign => return Ok(Err(foreign(external))),
    }
    if matches!(found, Found::Foreign) {
        return Ok(Err(stalled(
            external.exists_reason(),
            format!(
                "{} resources named {:?} exist at the panel, but none carries this service's marker; they are left alone",
                external.kind(),
                external.name()
            ),
        )));
    }
    if record.recorded() {
        ledger.keep_finalizer().await?;
    }
    Ok(Ok(match found {
        Found::Present(observed) => Seen::Manage(observed),
        Found::Absent | Found::Foreign => Seen::Missing,
    }))
}

fn foreign<E: External>(external: &E) -> Outcome {
    stalled(
        external.exists_reason(),
        format!(
            "{} {:?} already exists at the panel and hostplane did not create it; it is left alone. Set spec.managementPolicy: ObserveOnly to watch it, or write the hostplane.dev/external-name annotation yourself to hand it to this service",
            external.kind(),
            external.name()
        ),
    )
}

/// Claims the name before anything else is done for a missing resource (e.g. a pooled server
/// renamed for the service): nothing when the name is recorded already. `Some` is the outcome
/// to report: another service holds the name, nothing was written.
pub async fn claim<L: Ledger>(record: &Record, ledger: &mut L) -> Result<Option<Outcome>, Error> {
    if record.recorded() {
        return Ok(None);
    }
    Ok(ledger
        .claim(false)
        .await?
        .err()
        .map(|message| stalled(Reason::NameConflict, message)))
}

/// How a [`create`] ended, when it did not stop the reconcile.
#[derive(Debug, PartialEq, Eq)]
pub enum Created<T> {
    /// The panel made it now.
    Made,
    /// It was there already, from an earlier attempt whose answer was lost: found and kept,
    /// as the lookup showed it.
    Found(T),
}

/// Claims the name (when not yet recorded) with the attempt, or waits out the quiet period of
/// an earlier attempt whose answer was lost and records a new one; sends the create; settles
/// what its answer says. `Err` is the outcome to report.
pub async fn create<E: External, L: Ledger>(
    record: &Record,
    ledger: &mut L,
    external: &E,
    request: &E::Create,
) -> Result<Result<Created<E::Observed>, Outcome>, Error> {
    let claimed_now = !record.recorded() || record.claimed_in_this_pass;
    if !record.recorded() {
        if let Err(message) = ledger.claim(true).await? {
            return Ok(Err(stalled(Reason::NameConflict, message)));
        }
    } else if record.claimed_in_this_pass {
        // Claimed a moment ago without an attempt: claiming again would be refused by the
        // resourceVersion guard (the object changed with the claim), costing a failed pass.
        ledger.attempt().await?;
    } else {
        // An attempt whose outcome is not settled and whose quiet period runs: the resource
        // may still appear; sending again now could make a second one.
        if let Some(wait) = claim::quiet_until(record.pending_since, record.quiet, record.now) {
            return Ok(Err(claim::outcome_unknown(&what(external), wait)));
        }
        ledger.attempt().await?;
    }
    match external.create(request).await {
        Ok(()) => Ok(Ok(Created::Made)),
        Err(PanelError::Exists { .. }) if claimed_now => {
            // Made by someone else between the lookup and the create: not ours.
            ledger.withdraw().await?;
            Ok(Err(foreign(external)))
        }
        Err(e @ (PanelError::Exists { .. } | PanelError::OutcomeUnknown { .. })) => {
            // Ours from an earlier attempt, or a lost answer: look before trying again.
            let lost = matches!(e, PanelError::OutcomeUnknown { .. });
            match external.observe().await {
                Ok(Found::Present(observed)) => Ok(Ok(Created::Found(observed))),
                // Someone else's of that name; ours may still appear after a lost answer.
                Ok(Found::Foreign) if !lost => Ok(Err(foreign(external))),
                Ok(_) if lost => Ok(Err(claim::outcome_unknown(&what(external), record.quiet))),
                Ok(_) => Ok(Err(failed(
                    Reason::PanelError,
                    format!(
                        "the panel answered that {} {} exists but does not show it; looking again",
                        external.kind(),
                        external.name()
                    ),
                ))),
                Err(e) => Ok(Err(failed(
                    Reason::OutcomeUnknown,
                    format!(
                        "the answer to {} was lost, and looking it up failed: {e}",
                        what(external)
                    ),
                ))),
            }
        }
        Err(e) => {
            // A definite "no": the next attempt need not wait out a quiet period.
            ledger.settle().await?;
            Ok(Err(failed(
                Reason::PanelError,
                format!("{}: {e}", what(external)),
            )))
        }
    }
}

fn what<E: External>(external: &E) -> String {
    format!("creating {} {}", external.kind(), external.name())
}

/// What [`remove`] did at the panel, for the event.
#[derive(Debug, PartialEq, Eq)]
pub enum Removed {
    /// Nothing was ever recorded for the service: nothing to remove.
    NothingRecorded,
    /// Kept as it is (`Orphan`, `ObserveOnly`).
    Kept,
    /// Deleted now.
    Deleted,
    /// It was gone already.
    AlreadyGone,
}

/// Why a resource is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// The HostingService is being deleted: `deletionPolicy` decides.
    Deleted,
    /// Terminated for non-payment (seed 002 auto-deletion). `deletionPolicy: Orphan` keeps
    /// the resource here too: it says what happens to the external resource whenever
    /// hostplane would remove it, as in Crossplane.
    Terminated,
    /// The service lives on but no longer needs it (a virtual server switched to no control
    /// panel gives its license back to the pool): only `ObserveOnly` keeps it.
    Unneeded,
}

impl Removal {
    /// Whether `service`'s external resource is kept as it is (`Orphan`, `ObserveOnly`).
    pub fn keeps(self, service: &crate::api::HostingService) -> bool {
        self.keeps_under(service.spec.management_policy, service.spec.deletion_policy)
    }

    /// Whether the external resource is kept under these policies.
    pub fn keeps_under(self, policy: ManagementPolicy, deletion: DeletionPolicy) -> bool {
        let observe_only = policy == ManagementPolicy::ObserveOnly;
        match self {
            Removal::Deleted | Removal::Terminated => {
                observe_only || deletion == DeletionPolicy::Orphan
            }
            Removal::Unneeded => observe_only,
        }
    }
}

/// Removes the resource recorded for the service, unless the policies keep it. `external` is
/// made only when something is to be deleted (connecting to the panel may fail). `Err` is a
/// message for `lastError`; the removal is retried.
pub async fn remove<E: Removable>(
    record: &Record,
    why: Removal,
    recorded_name: Option<&str>,
    external: impl AsyncFnOnce() -> Result<E, String>,
) -> Result<Removed, String> {
    if recorded_name.is_none() {
        return Ok(Removed::NothingRecorded);
    }
    if why.keeps_under(record.policy, record.deletion) {
        return Ok(Removed::Kept);
    }
    let external = external().await?;
    match external.delete().await {
        Ok(true) => Ok(Removed::Deleted),
        Ok(false) => Ok(Removed::AlreadyGone),
        Err(e) => Err(format!(
            "deleting {} {}: {e}",
            external.kind(),
            external.name()
        )),
    }
}

/// A module's panel client for a removal, or the message for `lastError`.
pub fn connect<T>(
    client: Result<T, crate::controller::panels::SetupError>,
    module: &crate::api::ProcessingModule,
) -> Result<T, String> {
    use kube::ResourceExt;
    client.map_err(|e| format!("processing module {}: {e}", module.name_any()))
}
