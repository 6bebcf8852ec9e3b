//! Buying a licence on the managed-resource driver ([`driver`]): the order is the licence
//! product's create, so the rules every product shares are the driver's, written once —
//! an order whose answer was lost (timeout, 502/503/504, an answer without the new id) is an
//! unknown outcome, looked up before anything else, and sent again only after the module's
//! quiet period; a refusal settles the attempt.
//!
//! What is the licence's own: the lookup is reference §11's ([`Licensing::confirm_order`]:
//! the `remoteid` tag in the name, IP, type, created since the order, each confirmed by its
//! form), and the record of an attempt is the need's own annotation
//! ([`order_pending_annotation`]), since one service may need two licences (a standalone one,
//! or its server's control-panel addon). The name is the need's `remoteid`, made from the
//! service's uid: no other service can claim it, so there is no name conflict to check.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::controller::Error;
use crate::controller::service::claim::Provenance;
use crate::controller::service::driver::{External, Found, Ledger, Record};

/// One order of a need's licence at its licensing server.
pub(super) struct Purchase<'a> {
    lic: &'a Licensing,
    wanted: &'a LicenseOrder,
    /// The listing made for this reconcile: it answers the first lookup; a lookup after an
    /// order lists again, since the order cannot be in it.
    listed: &'a [License],
    looked: AtomicBool,
    /// The day the order was (or is about to be) placed, less a day: the server's time zone
    /// is not documented (its `createdate` is its local date), and a day of slack only widens
    /// a search that the name tag keeps exact.
    ordered_since: Option<jiff::civil::Date>,
    /// The id the licensing server answered the order with.
    bought: Mutex<Option<String>>,
}

impl<'a> Purchase<'a> {
    pub(super) fn new(
        lic: &'a Licensing,
        wanted: &'a LicenseOrder,
        listed: &'a [License],
        record: &Record,
    ) -> Self {
        let ordered_since = record
            .pending_since
            .unwrap_or(record.now)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .checked_sub(jiff::Span::new().days(1))
            .ok();
        Purchase {
            lic,
            wanted,
            listed,
            looked: AtomicBool::new(false),
            ordered_since,
            bought: Mutex::new(None),
        }
    }

    /// The id of the licence bought by this pass's order.
    pub(super) fn bought(&self) -> Option<String> {
        self.bought.lock().expect("not poisoned").clone()
    }
}

impl External for Purchase<'_> {
    type Observed = LicenseDetails;
    type Create = ();

    fn kind(&self) -> &'static str {
        "license"
    }

    fn name(&self) -> &str {
        &self.wanted.remoteid
    }

    fn exists_reason(&self) -> Reason {
        Reason::LicenseConflict
    }

    async fn observe(&self) -> Result<Found<LicenseDetails>, PanelError> {
        let fresh;
        let listed = if self.looked.swap(true, Ordering::Relaxed) {
            fresh = self.lic.licenses().await?;
            fresh.as_slice()
        } else {
            self.listed
        };
        let found = self
            .lic
            .confirm_order(listed, self.wanted, self.ordered_since)
            .await?;
        Ok(found
            .into_iter()
            .next()
            .map_or(Found::Absent, Found::Present))
    }

    async fn create(&self, _: &()) -> Result<(), PanelError> {
        let id = self.lic.order(self.wanted).await?;
        *self.bought.lock().expect("not poisoned") = Some(id);
        Ok(())
    }
}

/// What the driver knows of the need's order, from the service and the injected clock.
pub(super) fn purchase_record(
    ctx: &Context,
    service: &HostingService,
    module: &ProcessingModule,
    pending: &str,
) -> Record {
    Record {
        policy: service.spec.management_policy,
        deletion: service.spec.deletion_policy,
        provenance: Provenance::Claimed,
        converged: true,
        conflict: None,
        pending_since: claim::attempted_at(service, pending),
        quiet: claim::quiet_period(module),
        now: ctx.settings.clock.now(),
        claimed_in_this_pass: false,
    }
}

/// The need's record of its order attempts in the cluster: the pending annotation, and the
/// node count recorded under the `remoteid` before an order with nodes.
pub(super) struct PurchaseLedger<'a> {
    pub(super) ctx: &'a Context,
    pub(super) service: &'a HostingService,
    pub(super) pending: &'a str,
    pub(super) remoteid: &'a str,
    pub(super) book: Option<&'a mut NodeBook>,
}

impl Ledger for PurchaseLedger<'_> {
    /// The `remoteid` is the service's own: there is nothing to conflict with, only the
    /// attempt to record.
    async fn claim(&mut self, attempt: bool) -> Result<Result<(), String>, Error> {
        if attempt {
            self.attempt().await?;
        }
        Ok(Ok(()))
    }

    async fn attempt(&mut self) -> Result<(), Error> {
        claim::mark_attempt(self.ctx, self.service, self.pending, true).await
    }

    /// Refused: nothing was bought, so the next order need not wait, and the node count
    /// recorded for it is void.
    async fn settle(&mut self) -> Result<(), Error> {
        claim::mark_attempt(self.ctx, self.service, self.pending, false).await?;
        if let Some(book) = self.book.as_deref_mut()
            && let Err(e) = book.set(&[(self.remoteid, None)]).await
        {
            tracing::warn!(error = %e, "dropping the node record of a refused order failed");
        }
        Ok(())
    }

    async fn withdraw(&mut self) -> Result<(), Error> {
        claim::mark_attempt(self.ctx, self.service, self.pending, false).await
    }

    async fn keep_finalizer(&mut self) -> Result<(), Error> {
        claim::keep_finalizer(self.ctx, self.service).await
    }
}

/// A failed write of the need's record: the reconcile is retried.
pub(super) fn unrecorded(e: Error) -> Outcome {
    failed(
        Reason::KubernetesError,
        format!("recording the license order: {e}"),
    )
}
