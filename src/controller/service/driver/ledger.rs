//! The driver's [`Ledger`] in the cluster: the service's annotations and finalizer, written by
//! the claim functions of [`super::super::claim`].

use super::Ledger;
use crate::api::{HostingService, ProcessingModule};
use crate::controller::Error;
use crate::controller::context::Context;
use crate::controller::reason::Reason;
use crate::controller::service::claim;

/// One service's claim of `name` at `module`.
pub struct ClusterLedger<'a> {
    pub ctx: &'a Context,
    pub service: &'a HostingService,
    pub module: &'a ProcessingModule,
    pub name: &'a str,
}

impl Ledger for ClusterLedger<'_> {
    async fn claim(&mut self, attempt: bool) -> Result<Result<(), String>, Error> {
        Ok(
            match claim::write(self.ctx, self.service, self.module, self.name, attempt).await? {
                claim::Claimed::Written => Ok(()),
                claim::Claimed::Conflict(message) => Err(message),
            },
        )
    }

    async fn attempt(&mut self) -> Result<(), Error> {
        claim::attempt(self.ctx, self.service).await
    }

    async fn settle(&mut self) -> Result<(), Error> {
        claim::refused(self.ctx, self.service).await
    }

    async fn withdraw(&mut self) -> Result<(), Error> {
        claim::withdraw(self.ctx, self.service, self.module, self.name).await
    }

    async fn keep_finalizer(&mut self) -> Result<(), Error> {
        claim::keep_finalizer(self.ctx, self.service).await
    }
}

/// What the driver needs to know of `service` and its claim of `name` at `module`, from the
/// caches and the injected clock.
pub fn record(
    ctx: &Context,
    service: &HostingService,
    module: &ProcessingModule,
    name: &str,
) -> super::Record {
    let provenance = claim::provenance(service);
    let converged = service
        .status
        .as_ref()
        .is_some_and(|s| s.external_name.is_some());
    // Another service's claim matters only while this one holds none and has not converged
    // (claim::ownership); the scan is skipped otherwise.
    let conflict = (provenance != claim::Provenance::Claimed && !converged)
        .then(|| claim::conflict(ctx, service, module, name))
        .flatten();
    super::Record {
        policy: service.spec.management_policy,
        deletion: service.spec.deletion_policy,
        provenance,
        converged,
        conflict,
        pending_since: claim::pending_since(service),
        quiet: claim::quiet_period(module),
        now: ctx.settings.clock.now(),
        claimed_in_this_pass: false,
    }
}

/// The event of a removal: `Orphaned` when the policies kept the resource, `Deleted` when it
/// was deleted now; nothing when there was nothing to remove.
pub async fn announce_removal(
    ctx: &Context,
    service: &HostingService,
    module: &ProcessingModule,
    kind: &str,
    name: Option<&str>,
    removed: &super::Removed,
) {
    use kube::ResourceExt;
    use kube::runtime::events::EventType;
    let name = name.unwrap_or_default();
    let (reason, note) = match removed {
        super::Removed::Kept => (
            Reason::Orphaned,
            format!("kept the {kind} {name} (deletionPolicy Orphan or ObserveOnly)"),
        ),
        super::Removed::Deleted => (
            Reason::Deleted,
            format!("deleted the {kind} {name} on {}", module.name_any()),
        ),
        super::Removed::NothingRecorded | super::Removed::AlreadyGone => return,
    };
    ctx.event(service, EventType::Normal, reason, note).await;
}
