//! The license of one need of a service (seeds 000, 001, 003; issue 5): a standalone
//! `SoftwareLicense` service, or the control-panel license addon of a virtual server. Both
//! products call [`ensure`] while the service lives and [`release`] when it goes.
//!
//! Money first: buying a license (`soft.order.param`) and prolonging one (`service.prolong`)
//! cost money and are never repeated blindly.
//!
//! - every order and every rebind carries the need's stable `remoteid` ([`RemoteId`]:
//!   derived from the service's namespace, name and uid), in the `remoteid` field and as the
//!   tag at the end of the license name ([`license_name`]): real `soft` lists do not echo
//!   `remoteid` (reference §11), they do list the name;
//! - before anything is bought, the account's licenses are listed (one `func=soft` call).
//!   After an order whose outcome is unknown (the attempt recorded in
//!   [`order_pending_annotation`]: a lost or late answer, a 503, an answer without an id) the
//!   lookup of reference §11 runs first ([`Licensing::confirm_order`]: name tag + IP + type +
//!   created since the order, each confirmed by `soft.edit`). Then a license carrying the
//!   need's `remoteid` (listed, or in its name's tag) is adopted, after its form confirms it —
//!   after a timeout or a restart the license bought then is found instead of buying another;
//!   a license of the right type at the need's IP that no hostplane service claims is matched
//!   too (`fixchilds`);
//! - a pooled license is taken before one is bought ([`license_pool::acquire`],
//!   [`license_pool::take_plan`]; a failed take is put back and the next candidate tried);
//! - the order itself is the licence product's create on the managed-resource driver
//!   ([`purchase`]), so the rules of an unknown outcome are the driver's, as for accounts and
//!   hosts;
//! - a lost answer to an order or a prolongation fails the reconcile: the next one looks first
//!   (the listing; the license's `expiredate`), never re-sends the call; an order the listing
//!   does not show yet, or a prolongation whose expiry has not moved yet, is sent again only
//!   after the module's quiet period, counted from the attempt recorded on the service
//!   ([`order_pending_annotation`], [`prolong_pending_annotation`]) — in the cluster, so a
//!   restart or another replica waits too;
//! - acquisitions in this process are serialized, so two services never take the same pooled
//!   license or race one another's lookups;
//! - a change of the need's license type never buys: the bound license changes pricelist, or
//!   (`useExistingOnUpgrade`) a pooled license of the new type is taken and the old one pooled
//!   ([`change_type`]); a license the service no longer needs goes to the pool
//!   ([`release_unneeded`]).
//!
//! The license follows the service ([`renewal::license_action`]): suspended with it, resumed
//! with it (prolonged first when it ran out meanwhile), and prolonged per the licensing
//! module's period comparisons shortly before it expires, independent of the service's own
//! period. [`Ensured::renews_on`] is the day to come back for the next prolongation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};

use super::claim;
use super::driver::{self, Created, Removal, Seen};
use super::{Outcome, Refs, failed, stalled};
use crate::api::common::{Date, LicensePeriod, Period};
use crate::api::hosting_service::{
    HostingServiceStatus, ManagementPolicy, ServiceLicense, ServicePhase,
};
use crate::api::license_pool::LicensePoolSpec;
use crate::api::processing_module::LicensingSettings;
use crate::api::{HostingService, LicensePool, ProcessingModule};
use crate::billing::lifecycle::Standing;
use crate::controller::conditions::Verdict;
use crate::controller::context::Context;
use crate::panel::PanelError;
use crate::panel::licensing::{License, LicenseDetails, LicenseOrder, LicenseStatus, Licensing};
use crate::pools::license_pool::{
    self, Acquisition, Binding, ExistingMatch, FREE_LICNAME, LicenseNeed, LicenseStep, NeedKind,
    NodesRecord, OnFailure, PoolLicense, PoolRules, ServiceNeed, TakeChoice, TypeSettlement,
    nodes_records,
};
use crate::pools::naming::{LicenseKind, RemoteId, license_name};
use crate::pools::renewal::{self, BoundLicense, LicenseAction, ServiceState};

mod acquire;
mod book;
mod change_type;
mod ensure;
mod observe;
mod pool;
mod prolong;
mod purchase;
mod release;

use crate::controller::reason::Reason;
pub use acquire::purchase_forbidden;
use acquire::*;
use book::*;
use change_type::*;
pub use ensure::*;
pub use observe::*;
use pool::*;
use prolong::*;
use purchase::*;
pub use release::*;

/// The client of the need's licensing module; a module that cannot be used is a transient
/// failure (`ModuleUnavailable`).
async fn connect(ctx: &Context, module: &ProcessingModule) -> Result<Arc<Licensing>, Outcome> {
    ctx.panels
        .licensing(&ctx.client, module)
        .await
        .map_err(|e| {
            failed(
                Reason::ModuleUnavailable,
                format!("licensing module {}: {e}", module.name_any()),
            )
        })
}

/// Every licence of the account, in one call (the lookup before anything is bought or taken).
async fn list_all(lic: &Licensing) -> Result<Vec<License>, Outcome> {
    lic.licenses()
        .await
        .map_err(|e| failed(Reason::PanelError, format!("listing licenses: {e}")))
}

/// One licence's form: a licence the server no longer has, or a failed read, is a transient
/// failure of the reconcile.
async fn read_license(lic: &Licensing, id: String) -> Result<LicenseDetails, Outcome> {
    match lic.view(&id).await {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err(failed(
            Reason::PanelError,
            format!("license {id} is not at the licensing server"),
        )),
        Err(e) => Err(failed(
            Reason::PanelError,
            format!("reading license {id}: {e}"),
        )),
    }
}

/// One license a service needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    /// The pricelist id.
    pub license_type: String,
    /// The IP the license is bound to: the server's IP (addon) or `spec.licenseIp`.
    pub ip: String,
    /// Addon of a virtual server, or a standalone license service.
    pub kind: LicenseKind,
    /// The service's own period: the licensing module's period comparisons map it to the
    /// license period (seed 001); monthly without one.
    pub period: Period,
    /// Extra nodes: the licensing server's addon id and quantity (`addon_<id>=N`). The `soft`
    /// list does not say how many nodes a pooled license has, so the count is recorded on the
    /// module's `LicensePool` ([`license_pool::NODES_ANNOTATION_PREFIX`]) when the license is bought; a need
    /// with nodes takes only a pooled license recorded with the same count (none without a
    /// `LicensePool`), and a need without takes none recorded with nodes.
    pub nodes: Option<(String, u32)>,
}

/// What [`ensure`] leaves: the license in `status.license`, and when to come back.
#[derive(Clone, Debug, PartialEq)]
pub struct Ensured {
    pub license: ServiceLicense,
    /// The day of the next prolongation (seed 003: shortly before expiry, while the service
    /// is active); `None` when nothing is due on its own (suspended, lifetime).
    pub renews_on: Option<Date>,
}

impl Ensured {
    /// How long to wait before the next prolongation, from `now`.
    pub fn requeue(&self, now: jiff::Timestamp) -> Option<Duration> {
        self.renews_on.map(|day| until_midnight_utc(day, now))
    }
}

fn waiting(reason: Reason, message: impl Into<String>, after: Duration) -> Outcome {
    Outcome {
        verdict: Verdict::Progressing {
            reason,
            message: message.into(),
        },
        phase: ServicePhase::Provisioning,
        requeue: Some(after),
    }
}

/// Where the time of the need's last license order is kept until its answer is known: a
/// service may need a standalone license or a control-panel addon, each ordered on its own.
pub fn order_pending_annotation(kind: LicenseKind) -> String {
    match kind {
        LicenseKind::Addon => "hostplane.dev/order-pending-addon".into(),
        LicenseKind::Standalone => "hostplane.dev/order-pending-license".into(),
    }
}

/// Where the last prolongation of the need's license is recorded until its answer is known.
pub fn prolong_pending_annotation(kind: LicenseKind) -> String {
    match kind {
        LicenseKind::Addon => "hostplane.dev/prolong-pending-addon".into(),
        LicenseKind::Standalone => "hostplane.dev/prolong-pending-license".into(),
    }
}

/// The need's correlation id. Always generation 0: one `remoteid` per need and service
/// object, also across license type changes, which tell the need's licenses apart by
/// pricelist ([`license_pool::settle_type`]; see [`RemoteId`] for why no bump is needed).
pub fn remote_id(service: &HostingService, kind: LicenseKind) -> String {
    RemoteId::for_service(
        &service.namespace().unwrap_or_default(),
        &service.name_any(),
        service.meta().uid.as_deref().unwrap_or_default(),
        kind,
        0,
    )
    .to_string()
}

/// The licensing settings of a module; a module without a `licensing` block gets the API's
/// documented defaults (reuse on, renew a day before expiry), not `Default`'s zeroes.
pub fn settings_of(module: &ProcessingModule) -> LicensingSettings {
    module.spec.licensing.clone().unwrap_or_else(|| {
        serde_json::from_value(serde_json::json!({}))
            .expect("every licensing setting has a default")
    })
}

/// The `LicensePool` of a licensing module, if there is one.
pub fn pool_spec(ctx: &Context, namespace: &str, module: &str) -> Option<LicensePoolSpec> {
    ctx.license_pools
        .state()
        .iter()
        .find(|p| {
            p.namespace().as_deref() == Some(namespace)
                && p.spec.licensing_module_ref.name == module
        })
        .map(|p| p.spec.clone())
}

/// The `period` parameter for a license period; `None` for lifetime (not sold here).
fn period_param(period: LicensePeriod) -> Option<String> {
    match period {
        LicensePeriod::Trial => Some("-100".into()),
        other => renewal::prolong_months(other).map(|m| m.to_string()),
    }
}

fn parse_date(text: &str) -> Option<Date> {
    text.trim().parse().ok().map(Date)
}

/// Whether a license read by id is still this need's: it carries the `remoteid` (in the
/// form's `remoteid`, or in its name's tag), or it carries no correlation id at all and is
/// not pooled — a form without `remoteid` for a license bought by a hostplane older than the
/// name tag, which the id recorded in the service's status links to it (it is renamed with
/// the tag right after). A license tagged with another need's id was rebound: not ours.
fn is_ours(license: &License, remoteid: &str) -> bool {
    license.status != LicenseStatus::Deleted
        && match license.correlation_id() {
            Some(carried) => carried == remoteid,
            None => license.licname != FREE_LICNAME,
        }
}

/// Whether a failed order or prolongation certainly bought nothing: the licensing server
/// answered with an error, or the request never left (connect failure). Everything else — a
/// lost or late answer, a 503 that a proxy may send after the server did the work, an answer
/// without the new id or date — may have spent the money (reference §11), so the attempt's
/// record is kept and the license is looked up before anything is sent again.
fn is_refusal(e: &PanelError) -> bool {
    e.mgr_kind().is_some()
        || matches!(
            e,
            PanelError::Transport {
                maybe_applied: false,
                ..
            }
        )
}

/// Whether a license carries a correlation id made by hostplane (listed `remoteid` or name
/// tag): it belongs to another hostplane service and is never matched by IP.
fn of_hostplane(license: &License) -> bool {
    license
        .correlation_id()
        .is_some_and(|c| c.parse::<RemoteId>().is_ok())
}

/// How long until 00:00 UTC of `day` (plus a minute); zero when it is past.
pub fn until_midnight_utc(day: Date, now: jiff::Timestamp) -> Duration {
    let at = day
        .0
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .unwrap_or(now);
    Duration::try_from(at.duration_since(now)).unwrap_or_default() + Duration::from_secs(60)
}

/// Puts `day` into `status.nextActionAt` when it is earlier than what is there.
pub fn merge_next_action(status: &mut HostingServiceStatus, day: Option<Date>) {
    let Some(day) = day else { return };
    let at = format!("{day}T00:00:00Z");
    if status.next_action_at.as_ref().is_none_or(|cur| at < *cur) {
        status.next_action_at = Some(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(licensing: Option<LicensingSettings>) -> ProcessingModule {
        let spec: crate::api::ProcessingModuleSpec = serde_json::from_value(serde_json::json!({
            "type": "Licensing",
            "url": "https://api.ispsystem.com/manager/billmgr",
            "credentialsSecretRef": {"name": "c"},
        }))
        .unwrap();
        ProcessingModule::new(
            "lic",
            crate::api::ProcessingModuleSpec { licensing, ..spec },
        )
    }

    #[test]
    fn a_module_without_a_licensing_block_gets_the_documented_defaults() {
        let s = settings_of(&module(None));
        assert!(s.reuse_licenses, "pooling is on by default");
        assert_eq!(s.renew_days_before_expiry, 1);
        let own = LicensingSettings {
            renew_days_before_expiry: 3,
            ..settings_of(&module(None))
        };
        assert_eq!(settings_of(&module(Some(own.clone()))), own);
    }

    #[test]
    fn a_prolongation_attempt_is_settled_by_a_moved_expiry() {
        let at = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let day = |s: &str| Date(s.parse().unwrap());
        let text = ProlongAttempt::value(at, "42", day("2027-01-01"));
        let attempt = ProlongAttempt::parse(&text).unwrap();
        assert_eq!(attempt.at, at);
        assert!(attempt.is("42", day("2027-01-01")));
        assert!(
            !attempt.is("42", day("2027-02-01")),
            "expiry moved: applied"
        );
        assert!(!attempt.is("43", day("2027-01-01")), "another license");
        assert!(ProlongAttempt::parse("garbage").is_none());
    }

    #[test]
    fn the_earliest_next_action_wins() {
        let mut status = HostingServiceStatus {
            next_action_at: Some("2027-01-01T00:00:00Z".into()),
            ..HostingServiceStatus::default()
        };
        let day = |s: &str| Date(s.parse().unwrap());
        merge_next_action(&mut status, Some(day("2026-12-22")));
        assert_eq!(
            status.next_action_at.as_deref(),
            Some("2026-12-22T00:00:00Z")
        );
        merge_next_action(&mut status, Some(day("2027-02-01")));
        assert_eq!(
            status.next_action_at.as_deref(),
            Some("2026-12-22T00:00:00Z")
        );
        merge_next_action(&mut status, None);
        assert_eq!(
            status.next_action_at.as_deref(),
            Some("2026-12-22T00:00:00Z")
        );
    }

    /// A licence read by the id recorded in status (reference §11: a form may or may not show
    /// `remoteid`; the name's tag stands in for it).
    #[test]
    fn a_recorded_licence_is_ours_by_remoteid_tag_or_as_an_untagged_bound_one() {
        let license = |licname: &str, remoteid: &str, status| License {
            id: "7".into(),
            licname: licname.into(),
            ip: "203.0.113.1".into(),
            pricelist: "3541".into(),
            period: "1".into(),
            status,
            createdate: "2026-01-01".into(),
            expiredate: "2026-02-01".into(),
            remoteid: remoteid.into(),
        };
        let active = LicenseStatus::Active;
        let ours = "hpl0-a";
        assert!(is_ours(&license("Item #a a", ours, active), ours));
        assert!(!is_ours(
            &license("Item #a a [hpl0-a]", "hpl0-b", active),
            ours
        ));
        assert!(is_ours(&license("Item #a a [hpl0-a]", "", active), ours));
        assert!(!is_ours(&license("Item #b b [hpl0-b]", "", active), ours));
        // Bought before the tag, on a panel whose form has no remoteid: the recorded id is
        // the link.
        assert!(is_ours(&license("Item #a a", "", active), ours));
        assert!(!is_ours(&license("free.lic", "", active), ours));
        assert!(!is_ours(
            &license("Item #a a [hpl0-a]", "", LicenseStatus::Deleted),
            ours
        ));
    }

    #[test]
    fn only_an_error_answer_or_an_unsent_request_is_a_refusal() {
        assert!(is_refusal(&PanelError::from_mgr("client", "balance", "no")));
        assert!(is_refusal(&PanelError::Transport {
            message: "refused".into(),
            maybe_applied: false,
        }));
        for maybe in [
            PanelError::unconfirmed("soft.order.param", "id of the new object"),
            PanelError::Unavailable { status: 503 },
            PanelError::Transport {
                message: "reset".into(),
                maybe_applied: true,
            },
            PanelError::Protocol {
                message: "garbage".into(),
            },
        ] {
            assert!(!is_refusal(&maybe), "{maybe:?}");
        }
    }

    #[test]
    fn period_codes_follow_the_licensing_server() {
        assert_eq!(period_param(LicensePeriod::OneMonth).as_deref(), Some("1"));
        assert_eq!(period_param(LicensePeriod::OneYear).as_deref(), Some("12"));
        assert_eq!(period_param(LicensePeriod::Trial).as_deref(), Some("-100"));
        assert_eq!(period_param(LicensePeriod::Lifetime), None);
    }
}
