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
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};

use super::conditions::Verdict;
use super::context::Context;
use super::service::claim;
use super::service::driver::Removal;
use super::service::{Outcome, Refs, failed, stalled};
use crate::api::common::{Date, LicensePeriod, Period};
use crate::api::hosting_service::{
    HostingServiceStatus, ManagementPolicy, ServiceLicense, ServicePhase,
};
use crate::api::license_pool::LicensePoolSpec;
use crate::api::processing_module::LicensingSettings;
use crate::api::{HostingService, LicensePool, ProcessingModule};
use crate::billing::lifecycle::Standing;
use crate::panel::PanelError;
use crate::panel::licensing::{License, LicenseDetails, LicenseOrder, LicenseStatus, Licensing};
use crate::pools::license_pool::{
    self, Acquisition, Binding, ExistingMatch, FREE_LICNAME, LicenseNeed, LicenseStep, NeedKind,
    NodesRecord, OnFailure, PoolLicense, PoolRules, ServiceNeed, TakeChoice, TypeSettlement,
    nodes_records,
};
use crate::pools::naming::{LicenseKind, RemoteId, license_name};
use crate::pools::renewal::{self, BoundLicense, LicenseAction, ServiceState};

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

fn waiting(reason: &str, message: impl Into<String>, after: Duration) -> Outcome {
    Outcome {
        verdict: Verdict::Progressing {
            reason: reason.into(),
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

/// A prolongation sent: when, for which license, from which expiry. Once the license shows
/// another expiry the attempt is settled (it was applied), with no write needed to say so.
#[derive(Clone, Copy, Debug, PartialEq)]
struct ProlongAttempt<'a> {
    at: jiff::Timestamp,
    license: &'a str,
    expiry: &'a str,
}

impl<'a> ProlongAttempt<'a> {
    fn value(at: jiff::Timestamp, license: &str, expiry: Date) -> String {
        let at = at.round(jiff::Unit::Second).unwrap_or(at);
        format!("{at} license={license} expiry={expiry}")
    }

    fn parse(text: &'a str) -> Option<Self> {
        let mut words = text.split_whitespace();
        let at = words.next()?.parse().ok()?;
        let license = words.next()?.strip_prefix("license=")?;
        let expiry = words.next()?.strip_prefix("expiry=")?;
        Some(Self {
            at,
            license,
            expiry,
        })
    }

    fn read(service: &'a HostingService, key: &str) -> Option<Self> {
        Self::parse(service.annotations().get(key)?)
    }

    /// Whether the attempt was for `license` while it expired on `expiry`.
    fn is(&self, license: &str, expiry: Date) -> bool {
        self.license == license && self.expiry == expiry.to_string()
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

/// The node records of a licensing module's pool ([`license_pool::NODES_ANNOTATION_PREFIX`]): the durable
/// answer to "how many extra nodes does this license have", which the licensing server does
/// not give. They live in annotations of the module's `LicensePool`; without one there is no
/// record and a need with nodes never takes a pooled license (it buys, as before).
struct NodeBook {
    api: Api<LicensePool>,
    pool: String,
    records: BTreeMap<String, NodesRecord>,
}

impl NodeBook {
    /// Reads the records fresh from the API server (not the cache: a record written a moment
    /// ago by this process must be seen). `None` when the module has no `LicensePool`.
    async fn open(ctx: &Context, ns: &str, module: &str) -> Result<Option<Self>, String> {
        let Some(pool) = ctx
            .license_pools
            .state()
            .iter()
            .find(|p| {
                p.namespace().as_deref() == Some(ns) && p.spec.licensing_module_ref.name == module
            })
            .map(|p| p.name_any())
        else {
            return Ok(None);
        };
        let api: Api<LicensePool> = Api::namespaced(ctx.client.clone(), ns);
        let object = api
            .get(&pool)
            .await
            .map_err(|e| format!("reading the node records of LicensePool {pool}: {e}"))?;
        Ok(Some(Self {
            records: nodes_records(object.annotations()),
            api,
            pool,
        }))
    }

    /// Sets (`Some`) or removes (`None`) records, in one merge patch: each record is its own
    /// annotation key, so concurrent writers of other records never overwrite one another.
    async fn set(&mut self, changes: &[(&str, Option<&NodesRecord>)]) -> Result<(), String> {
        if changes.is_empty() {
            return Ok(());
        }
        let annotations: serde_json::Map<String, serde_json::Value> = changes
            .iter()
            .map(|(of, r)| {
                (
                    NodesRecord::key(of),
                    r.map_or(serde_json::Value::Null, |r| r.value().into()),
                )
            })
            .collect();
        let patch = serde_json::json!({"metadata": {"annotations": annotations}});
        self.api
            .patch(&self.pool, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| format!("writing the node records of LicensePool {}: {e}", self.pool))?;
        for (of, r) in changes {
            match r {
                Some(r) => self.records.insert((*of).to_owned(), (*r).clone()),
                None => self.records.remove(*of),
            };
        }
        Ok(())
    }

    /// The license `id` was found carrying `remoteid`: the record written before its order
    /// becomes the license's own record.
    async fn settle(&mut self, remoteid: &str, id: &str) -> Result<(), String> {
        let Some(pending) = self.records.get(remoteid).cloned() else {
            return Ok(());
        };
        let own = (!self.records.contains_key(id)).then_some(&pending);
        let mut changes = vec![(remoteid, None)];
        if let Some(r) = own {
            changes.push((id, Some(r)));
        }
        self.set(&changes).await
    }
}

/// The need's extra nodes as a record; `None` without nodes (or zero).
fn nodes_record(need: &Need) -> Option<NodesRecord> {
    need.nodes
        .as_ref()
        .filter(|(_, n)| *n > 0)
        .map(|(addon, n)| NodesRecord {
            addon_id: addon.clone(),
            quantity: *n,
        })
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

/// Makes sure the need has exactly one license, bound to its IP, following the service's
/// standing and renewed on time; records it in `status.license`.
///
/// `Err` is the outcome to report instead of going on (a failure, a key still being
/// generated, a spec problem).
pub async fn ensure(
    ctx: &Context,
    service: &HostingService,
    refs: &Refs,
    need: &Need,
    module: &ProcessingModule,
    status: &mut HostingServiceStatus,
) -> Result<Ensured, Outcome> {
    let lic = ctx
        .panels
        .licensing(&ctx.client, module)
        .await
        .map_err(|e| {
            failed(
                "ModuleUnavailable",
                format!("licensing module {}: {e}", module.name_any()),
            )
        })?;
    let settings = settings_of(module);
    let today = Date(ctx.settings.clock.today());
    let tariff = refs.tariff.name_any();
    let remoteid = remote_id(service, need.kind);
    let period = renewal::license_period(&settings, need.period, Some(&tariff));
    let Some(period_code) = period_param(period) else {
        return Err(stalled(
            "UnsupportedLicensePeriod",
            format!(
                "the licensing module maps the {} period to {period:?} licenses, which hostplane does not order",
                need.period
            ),
        ));
    };
    if need.ip.trim().is_empty() {
        return Err(waiting(
            "WaitingForIp",
            "the license is ordered once the service has an IP address",
            Duration::from_secs(5),
        ));
    }
    let display = service.spec.domain.as_deref();
    let licname = license_name(need.kind, &service.name_any(), display, &remoteid);

    // Observe the license recorded in status, if any.
    let mut bound: Option<(LicenseDetails, bool)> = None;
    if let Some(current) = status.license.clone() {
        match lic.view(&current.id).await {
            Ok(Some(d)) if is_ours(&d.license, &remoteid) => bound = Some((d, current.from_pool)),
            Ok(_) => {
                status.license = None;
                ctx.event(
                    service,
                    EventType::Warning,
                    "LicenseLost",
                    format!(
                        "license {} is gone or no longer bound to this service; looking for its license again",
                        current.id
                    ),
                )
                .await;
            }
            Err(e) => {
                return Err(failed(
                    "PanelError",
                    format!("reading license {}: {e}", current.id),
                ));
            }
        }
    }
    let order = Order {
        remoteid: &remoteid,
        licname: &licname,
        period,
        period_code: &period_code,
    };
    let (details, from_pool) = match bound {
        Some(b) => b,
        None => {
            acquire(
                ctx, service, refs, need, module, &lic, &settings, &order, today,
            )
            .await?
        }
    };
    // The need's type changed (another tariff, another control panel): settle it before
    // anything else touches the license, so that a renewal is never paid on the old type.
    let (mut details, from_pool) = if details.license.pricelist != need.license_type {
        change_type(
            ctx, service, need, module, &lic, &settings, &order, today, details, from_pool,
        )
        .await?
    } else {
        (details, from_pool)
    };
    let id = details.license.id.clone();
    let record = |details: &LicenseDetails, status: &mut HostingServiceStatus| {
        let license = ServiceLicense {
            id: details.license.id.clone(),
            license_type: details.license.pricelist.clone(),
            expires_on: parse_date(&details.license.expiredate),
            from_pool,
        };
        status.license = Some(license.clone());
        license
    };
    record(&details, status);

    // Bound to the need's IP, under its tagged name and remoteid (an IP change of the
    // server, a license matched by IP, a rename at the licensing server, a license named
    // before the tag existed). A form that does not show `remoteid` is judged by the tag, so
    // it is not rebound on every reconcile.
    if details.license.ip.trim() != need.ip.trim()
        || details.license.licname != licname
        || !details.license.carries(&remoteid)
    {
        lic.edit(&id, &licname, &need.ip, &remoteid)
            .await
            .map_err(|e| failed("PanelError", format!("rebinding license {id}: {e}")))?;
        details.license.ip = need.ip.clone();
        details.license.licname = licname.clone();
        details.license.remoteid = remoteid.clone();
    }

    // Follow the service.
    let state = match refs.standing {
        Standing::Suspended { .. } => ServiceState::Suspended,
        _ => ServiceState::Active,
    };
    let Some(mut expires_on) = parse_date(&details.license.expiredate) else {
        return Err(waiting(
            "LicenseProcessing",
            format!("license {id} has no expiry date yet"),
            Duration::from_secs(2),
        ));
    };
    let suspended = details.license.status == LicenseStatus::Suspended;
    let action = renewal::license_action(
        state,
        BoundLicense {
            expires_on,
            suspended,
        },
        &settings,
        need.period,
        Some(&tariff),
        today,
    );
    let before = expires_on;
    let prolong = |period: LicensePeriod| {
        let lic = &lic;
        let id = &id;
        async move {
            // A prolongation whose answer was lost and whose expiry has not moved (yet) is
            // not paid for again before the module's quiet period has passed.
            let key = prolong_pending_annotation(need.kind);
            let attempt = ProlongAttempt::read(service, &key).filter(|a| a.is(id, before));
            if let Some(wait) = claim::quiet_until(
                attempt.map(|a| a.at),
                claim::quiet_period(module),
                ctx.settings.clock.now(),
            ) {
                return Err(claim::outcome_unknown(
                    &format!("prolonging license {id}"),
                    wait,
                ));
            }
            claim::set_annotation(
                ctx,
                service,
                &key,
                Some(ProlongAttempt::value(ctx.settings.clock.now(), id, before)),
            )
            .await
            .map_err(|e| {
                failed(
                    "KubernetesError",
                    format!("recording the prolongation: {e}"),
                )
            })?;
            let months = period_param(period).unwrap_or_else(|| "1".into());
            let new = match lic.prolong(id, &months).await {
                Ok(new) => new,
                Err(e) if !is_refusal(&e) => {
                    // Maybe paid: the recorded attempt stays; the next reconcile reads the
                    // expiry, and a moved one settles it.
                    return Err(claim::outcome_unknown(
                        &format!("prolonging license {id} (its expiry is read again first)"),
                        claim::quiet_period(module),
                    ));
                }
                Err(e) => {
                    // Refused: nothing was paid; the next attempt need not wait.
                    if let Err(e) = claim::set_annotation(ctx, service, &key, None).await {
                        tracing::warn!(error = %e, "settling a refused prolongation failed");
                    }
                    return Err(failed(
                        "PanelError",
                        format!("prolonging license {id}: {e}"),
                    ));
                }
            };
            parse_date(&new).ok_or_else(|| {
                failed(
                    "PanelError",
                    format!("prolonging license {id}: unreadable new expiry {new:?}"),
                )
            })
        }
    };
    match action {
        LicenseAction::Renew(plan) => {
            let before = expires_on;
            expires_on = prolong(plan.period).await?;
            ctx.event(
                service,
                EventType::Normal,
                "LicenseRenewed",
                format!("prolonged license {id} from {before} to {expires_on}"),
            )
            .await;
        }
        LicenseAction::Suspend => {
            lic.suspend(&id)
                .await
                .map_err(|e| failed("PanelError", format!("suspending license {id}: {e}")))?;
            ctx.event(
                service,
                EventType::Normal,
                "LicenseSuspended",
                format!("suspended license {id} with the service"),
            )
            .await;
        }
        LicenseAction::Resume { prolong: p } => {
            if let Some(p) = p {
                expires_on = prolong(p).await?;
            }
            lic.resume(&id)
                .await
                .map_err(|e| failed("PanelError", format!("resuming license {id}: {e}")))?;
            ctx.event(
                service,
                EventType::Normal,
                "LicenseResumed",
                format!("resumed license {id} with the service"),
            )
            .await;
        }
        LicenseAction::WaitUntil(_) | LicenseAction::Release | LicenseAction::Nothing => {}
    }
    details.license.expiredate = expires_on.to_string();
    let license = record(&details, status);
    let renews_on = match state {
        ServiceState::Active => {
            renewal::next_renewal(expires_on, &settings, need.period, Some(&tariff), today)
                .map(|p| p.on)
        }
        _ => None,
    };

    // The key is generated asynchronously; the official module reads the form until it is set.
    if details.lickey.is_none() {
        match lic.view(&id).await {
            Ok(Some(d)) if d.lickey.is_some() => {}
            Ok(_) => {
                return Err(waiting(
                    "LicenseKeyPending",
                    format!("license {id} is bought; its key is being generated"),
                    Duration::from_secs(1),
                ));
            }
            Err(e) => return Err(failed("PanelError", format!("reading license {id}: {e}"))),
        }
    }
    Ok(Ensured { license, renews_on })
}

/// `managementPolicy: ObserveOnly`: finds the need's license and reports it, changing nothing
/// at the licensing server — no order, no rebind, no suspension, no prolongation, no release.
///
/// The license is, in this order: the one named by the `hostplane.dev/external-name`
/// annotation (a license id; adopting a license someone else bought), the one carrying the
/// need's `remoteid` (a service that was `Full` before), else a live, unpooled license of the
/// need's type bound to its IP that no other hostplane service claims (seed 003's `fixchilds`
/// match). `Ok` records it in `status.license` (`fromPool` false: observing takes nothing)
/// and returns it with the differences from the spec; `Err` is the outcome to report
/// (`ExternalNotFound` when there is none).
pub async fn observe(
    ctx: &Context,
    service: &HostingService,
    need: &Need,
    module: &ProcessingModule,
    status: &mut HostingServiceStatus,
) -> Result<(License, Vec<String>), Outcome> {
    let lic = ctx
        .panels
        .licensing(&ctx.client, module)
        .await
        .map_err(|e| {
            failed(
                "ModuleUnavailable",
                format!("licensing module {}: {e}", module.name_any()),
            )
        })?;
    let remoteid = remote_id(service, need.kind);
    let all = lic
        .licenses()
        .await
        .map_err(|e| failed("PanelError", format!("listing licenses: {e}")))?;
    let named = service
        .annotations()
        .get(crate::api::EXTERNAL_NAME_ANNOTATION)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let found = match &named {
        Some(id) => all
            .iter()
            .find(|l| &l.id == id && l.status != LicenseStatus::Deleted)
            .cloned(),
        None => {
            let key = format!(
                "{}/{}",
                service.namespace().unwrap_or_default(),
                service.name_any()
            );
            let row = ServiceNeed {
                service: &key,
                ip: &need.ip,
                license_type: &need.license_type,
                remoteid: &remoteid,
                suspended: false,
                bound_license: None,
            };
            let matched = license_pool::match_existing(&all, std::slice::from_ref(&row), false);
            match matched.into_iter().next().map(|m| m.outcome) {
                Some(ExistingMatch::ByRemoteId(id)) => all.iter().find(|l| l.id == id).cloned(),
                // A license carrying another hostplane service's remoteid is that service's.
                Some(ExistingMatch::ByIp(id)) => {
                    all.iter().find(|l| l.id == id && !of_hostplane(l)).cloned()
                }
                _ => None,
            }
        }
    };
    let Some(license) = found else {
        status.license = None;
        return Err(stalled(
            "ExternalNotFound",
            match &named {
                Some(id) => format!(
                    "managementPolicy is ObserveOnly and license {id} (hostplane.dev/external-name) is not at the licensing server"
                ),
                None => format!(
                    "managementPolicy is ObserveOnly and no license of type {} is bound to {} (nor carries this service's remoteid)",
                    need.license_type, need.ip
                ),
            },
        ));
    };
    status.license = Some(ServiceLicense {
        id: license.id.clone(),
        license_type: license.pricelist.clone(),
        expires_on: parse_date(&license.expiredate),
        from_pool: false,
    });
    let mut differences = Vec::new();
    if license.pricelist != need.license_type {
        differences.push(format!(
            "is of type {}, the tariff sells {}",
            license.pricelist, need.license_type
        ));
    }
    if license.ip.trim() != need.ip.trim() {
        differences.push(format!(
            "is bound to {}, the spec asks for {}",
            license.ip.trim(),
            need.ip.trim()
        ));
    }
    Ok((license, differences))
}

/// Whether a license carries a correlation id made by hostplane (listed `remoteid` or name
/// tag): it belongs to another hostplane service and is never matched by IP.
fn of_hostplane(license: &License) -> bool {
    license
        .correlation_id()
        .is_some_and(|c| c.parse::<RemoteId>().is_ok())
}

struct Order<'a> {
    remoteid: &'a str,
    licname: &'a str,
    period: LicensePeriod,
    period_code: &'a str,
}

/// The need has no license on record: adopt its own (by `remoteid`) or a matching one at its
/// IP, else take a pooled one, else buy one. Returns the license and whether it came from the
/// pool.
#[allow(clippy::too_many_arguments)]
async fn acquire(
    ctx: &Context,
    service: &HostingService,
    refs: &Refs,
    need: &Need,
    module: &ProcessingModule,
    lic: &Licensing,
    settings: &LicensingSettings,
    order: &Order<'_>,
    today: Date,
) -> Result<(LicenseDetails, bool), Outcome> {
    let _one_at_a_time = ctx.license_acquisitions.lock().await;
    let all = lic
        .licenses()
        .await
        .map_err(|e| failed("PanelError", format!("listing licenses: {e}")))?;
    let ns = service.namespace().unwrap_or_default();
    // What would be (or was) ordered: the lookup below compares with it.
    let wanted = LicenseOrder {
        pricelist: need.license_type.clone(),
        period: order.period_code.to_owned(),
        ip: need.ip.clone(),
        licname: order.licname.to_owned(),
        remoteid: order.remoteid.to_owned(),
        addons: need
            .nodes
            .iter()
            .map(|(id, n)| (id.clone(), n.to_string()))
            .collect(),
    };
    let pending = order_pending_annotation(need.kind);

    // An order whose outcome is unknown: the lookup of reference §11 first.
    if let Some(at) = claim::attempted_at(service, &pending) {
        // The order day at the licensing server, less a day: the server's time zone is not
        // documented (its `createdate` is its local date), and a day of slack only widens a
        // search that the name tag keeps exact.
        let since = at
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .checked_sub(jiff::Span::new().days(1))
            .ok();
        let found = lic
            .confirm_order(&all, &wanted, since)
            .await
            .map_err(|e| failed("PanelError", format!("looking up the lost order: {e}")))?;
        if let Some(details) = found.into_iter().next() {
            let id = details.license.id.clone();
            if let Some(mut book) = NodeBook::open(ctx, &ns, &module.name_any())
                .await
                .map_err(|e| failed("NodeRecordsUnavailable", e))?
            {
                book.settle(order.remoteid, &id)
                    .await
                    .map_err(|e| failed("NodeRecordsUnavailable", e))?;
            }
            settle_order(ctx, service, &pending, false).await;
            ctx.event(
                service,
                EventType::Normal,
                "LicenseFound",
                format!(
                    "license {id} is the order whose answer was lost (its name carries this service's remoteid, same IP and type, confirmed by its form): adopted, nothing bought"
                ),
            )
            .await;
            return Ok((details, false));
        }
    }

    let key = format!(
        "{}/{}",
        service.namespace().unwrap_or_default(),
        service.name_any()
    );
    let suspended = matches!(refs.standing, Standing::Suspended { .. });
    let row = ServiceNeed {
        service: &key,
        ip: &need.ip,
        license_type: &need.license_type,
        remoteid: order.remoteid,
        suspended,
        bound_license: None,
    };
    let matched = license_pool::match_existing(
        &all,
        std::slice::from_ref(&row),
        settings.skip_suspended_when_matching,
    );
    let outcome = matched
        .into_iter()
        .next()
        .map_or(ExistingMatch::Order, |m| m.outcome);
    let mut book = match outcome {
        ExistingMatch::ByRemoteId(_) | ExistingMatch::Order => {
            NodeBook::open(ctx, &ns, &module.name_any())
                .await
                .map_err(|e| failed("NodeRecordsUnavailable", e))?
        }
        _ => None,
    };
    let view = |id: String| async move {
        match lic.view(&id).await {
            Ok(Some(d)) => Ok(d),
            Ok(None) => Err(failed(
                "PanelError",
                format!("license {id} is not at the licensing server"),
            )),
            Err(e) => Err(failed("PanelError", format!("reading license {id}: {e}"))),
        }
    };
    match outcome {
        ExistingMatch::ByRemoteId(id) => {
            // The list says it is ours; its form must not say otherwise.
            let details = view(id.clone()).await?;
            if !is_ours(&details.license, order.remoteid) {
                return Err(failed(
                    "LicenseConflict",
                    format!(
                        "license {id} is listed with this service's remoteid but its form carries another; nothing is bought until that is resolved"
                    ),
                ));
            }
            if let Some(book) = &mut book {
                // An order with nodes whose answer was lost: its count was recorded first.
                book.settle(order.remoteid, &id)
                    .await
                    .map_err(|e| failed("NodeRecordsUnavailable", e))?;
            }
            ctx.event(
                service,
                EventType::Normal,
                "LicenseFound",
                format!("license {id} carries this service's remoteid: adopted, nothing bought"),
            )
            .await;
            settle_order(ctx, service, &pending, false).await;
            return Ok((details, false));
        }
        ExistingMatch::ByIp(id) => {
            let foreign = all.iter().find(|l| l.id == id).is_some_and(of_hostplane);
            if !foreign {
                ctx.event(
                    service,
                    EventType::Normal,
                    "LicenseMatched",
                    format!(
                        "license {id} of type {} is already bound to {}: assigned to this service (fixchilds)",
                        need.license_type, need.ip
                    ),
                )
                .await;
                return Ok((view(id).await?, false));
            }
        }
        ExistingMatch::WaitForIp => {
            return Err(waiting(
                "WaitingForIp",
                "the license is ordered once the service has an IP address",
                Duration::from_secs(5),
            ));
        }
        ExistingMatch::Skip => {
            return Err(Outcome {
                verdict: Verdict::Ready {
                    reason: "Suspended".into(),
                    message: "suspended; no license is ordered for suspended services (skipSuspendedWhenMatching)".into(),
                },
                phase: ServicePhase::Suspended,
                requeue: None,
            });
        }
        ExistingMatch::Order => {}
    }

    // An earlier order whose answer was lost and that the listing does not show (yet): the
    // licensing server may still be booking it. Ordering again before the quiet period has
    // passed could buy twice, and taking a pooled license meanwhile would leave the need
    // with two once the order shows up: both wait.
    if let Some(wait) = claim::quiet_until(
        claim::attempted_at(service, &pending),
        claim::quiet_period(module),
        ctx.settings.clock.now(),
    ) {
        return Err(claim::outcome_unknown("the license order", wait));
    }

    // The pool before buying; a pooled license's node count comes from the records.
    let rules = PoolRules::new(settings, pool_spec(ctx, &ns, &module.name_any()).as_ref());
    let empty = BTreeMap::new();
    let records = book.as_ref().map_or(&empty, |b| &b.records);
    let pooled = Pooled {
        all: &all,
        records,
        rules: &rules,
        kind: NeedKind::NewOrder,
        purpose: "",
    };
    if let Some(choice) = take_pooled(ctx, service, lic, need, order, &pooled, today).await? {
        ctx.event(
            service,
            EventType::Normal,
            "LicenseTakenFromPool",
            format!(
                "took pooled license {} (expires {}) instead of buying one",
                choice.license_id, choice.expires_on
            ),
        )
        .await;
        return Ok((view(choice.license_id).await?, true));
    }

    // Buy, once: the remoteid finds this order again if the answer is lost. The node count
    // is recorded before the order, under the remoteid, so that it is known even when the
    // answer is lost.
    let record = nodes_record(need);
    if let (Some(book), Some(r)) = (&mut book, &record) {
        book.set(&[(order.remoteid, Some(r))])
            .await
            .map_err(|e| failed("NodeRecordsUnavailable", e))?;
    }
    claim::mark_attempt(ctx, service, &pending, true)
        .await
        .map_err(|e| {
            failed(
                "KubernetesError",
                format!("recording the order attempt: {e}"),
            )
        })?;
    let bought = lic.order(&wanted).await;
    match bought {
        Ok(id) => {
            settle_order(ctx, service, &pending, true).await;
            if let Some(book) = &mut book
                && let Err(e) = book.settle(order.remoteid, &id).await
            {
                // The record under the remoteid stays and is settled on release.
                tracing::warn!(license = %id, error = %e, "recording the license's node count failed");
            }
            ctx.event(
                service,
                EventType::Normal,
                "LicenseOrdered",
                format!(
                    "bought license {id} of type {} for {} ({:?})",
                    need.license_type, need.ip, order.period
                ),
            )
            .await;
            Ok((view(id).await?, false))
        }
        // No id in the answer, a lost or late answer, a 503: maybe bought. The attempt stays
        // recorded, and the next reconcile looks the order up before anything else.
        Err(e) if !is_refusal(&e) => Err(claim::outcome_unknown(
            &format!("the license order (remoteid {})", order.remoteid),
            claim::quiet_period(module),
        )),
        Err(e) => {
            // Refused: the next order need not wait out a quiet period.
            if let Err(e) = claim::mark_attempt(ctx, service, &pending, false).await {
                tracing::warn!(error = %e, "settling a refused order attempt failed");
            }
            // Refused: nothing was bought, the record made for it is void.
            if let (Some(book), Some(_)) = (&mut book, &record)
                && let Err(e) = book.set(&[(order.remoteid, None)]).await
            {
                tracing::warn!(error = %e, "dropping the node record of a refused order failed");
            }
            Err(failed("OrderFailed", format!("ordering a license: {e}")))
        }
    }
}

/// The need's order is settled (its license is known): the recorded attempt goes, so that a
/// later order of this need (after a release) does not wait out a quiet period for it. A
/// failure to clear it only costs that wait.
/// `recorded_now`: the attempt was recorded by this reconcile, so `service` (read before it)
/// does not show it yet.
async fn settle_order(ctx: &Context, service: &HostingService, pending: &str, recorded_now: bool) {
    if (recorded_now || claim::attempted_at(service, pending).is_some())
        && let Err(e) = claim::mark_attempt(ctx, service, pending, false).await
    {
        tracing::warn!(error = %e, "clearing a settled order attempt failed");
    }
}

/// The license the need is bound to has another type than the need wants (seed 003: a
/// tariff change, or another control panel chosen for a virtual server). Never buys:
///
/// 1. the account's licenses are listed and [`license_pool::settle_type`] decides: a license
///    of the need (its `remoteid`) that already has the wanted type is current — an earlier
///    take that was interrupted, or a `changepricelist` whose answer was lost — and every other
///    license carrying the `remoteid` is superseded and released to the pool;
/// 2. otherwise, with the module's `useExistingOnUpgrade` and a takeable pooled license of the
///    wanted type, that license is taken ([`license_pool::take_plan`], rebound to the need's
///    name, IP and `remoteid`) and only then is the old license released
///    ([`license_pool::release_plan`]). A controller killed between the two leaves two
///    licenses carrying the `remoteid`; step 1 of the next reconcile finds the new one by its
///    type and releases the old one. `status.license` keeps naming the old license until it is
///    released, so the next reconcile always comes back here;
/// 3. otherwise (no option, no candidate, or every take refused and put back) the bound
///    license is moved to the wanted pricelist with `service.changepricelist`: same id, same
///    `remoteid`, so a lost answer is found by step 1 on the next reconcile.
///
/// Returns the license now current and whether it came from the pool.
#[allow(clippy::too_many_arguments)]
async fn change_type(
    ctx: &Context,
    service: &HostingService,
    need: &Need,
    module: &ProcessingModule,
    lic: &Licensing,
    settings: &LicensingSettings,
    order: &Order<'_>,
    today: Date,
    current: LicenseDetails,
    from_pool: bool,
) -> Result<(LicenseDetails, bool), Outcome> {
    let _one_at_a_time = ctx.license_acquisitions.lock().await;
    let all = lic
        .licenses()
        .await
        .map_err(|e| failed("PanelError", format!("listing licenses: {e}")))?;
    let ns = service.namespace().unwrap_or_default();
    let rules = PoolRules::new(settings, pool_spec(ctx, &ns, &module.name_any()).as_ref());
    let old_id = current.license.id.clone();
    let old_type = current.license.pricelist.clone();
    let wanted = need.license_type.as_str();
    let view = |id: String| async move {
        match lic.view(&id).await {
            Ok(Some(d)) => Ok(d),
            Ok(None) => Err(failed(
                "PanelError",
                format!("license {id} is not at the licensing server"),
            )),
            Err(e) => Err(failed("PanelError", format!("reading license {id}: {e}"))),
        }
    };
    let (listed, pool_rules, bound) = (&all, &rules, &current.license);
    let release_superseded = |ids: Vec<String>| async move {
        for id in ids {
            let Some(row) = listed
                .iter()
                .find(|l| l.id == id)
                .or((bound.id == id).then_some(bound))
            else {
                continue;
            };
            let reusable = pool_rules.reusable(&row.pricelist);
            put_into_pool(lic, &id, reusable).await.map_err(|e| {
                failed(
                    "PanelError",
                    format!("releasing superseded license {id}: {e}"),
                )
            })?;
            ctx.event(
                service,
                EventType::Normal,
                if reusable {
                    "LicensePooled"
                } else {
                    "LicenseRetired"
                },
                format!(
                    "license {id} of type {} was superseded by the type change to {}: suspended, renamed free.lic on 0.0.0.0{}",
                    row.pricelist,
                    need.license_type,
                    if reusable {
                        "; it joins the pool"
                    } else {
                        "; its type is not reused, so it is left to expire"
                    }
                ),
            )
            .await;
        }
        Ok::<(), Outcome>(())
    };

    match license_pool::settle_type(&all, order.remoteid, &current.license, wanted) {
        TypeSettlement::Adopt {
            license_id,
            superseded,
        } => {
            release_superseded(superseded).await?;
            let adopted_other = license_id != old_id;
            ctx.event(
                service,
                EventType::Normal,
                "LicenseTypeChanged",
                if adopted_other {
                    format!(
                        "license {license_id} of type {wanted} carries this service's remoteid: it replaces license {old_id} of type {old_type} (an interrupted type change finished)"
                    )
                } else {
                    format!(
                        "license {license_id} is of type {wanted} already (a type change whose answer was lost)"
                    )
                },
            )
            .await;
            let from_pool = if adopted_other { true } else { from_pool };
            return Ok((view(license_id).await?, from_pool));
        }
        TypeSettlement::Switch {
            license_id: _,
            superseded,
        } => release_superseded(superseded).await?,
    }

    // Seed 003, `Option UseExistingOnUpgrade`: another license from the pool, the current one
    // into the pool.
    let mut book = NodeBook::open(ctx, &ns, &module.name_any())
        .await
        .map_err(|e| failed("NodeRecordsUnavailable", e))?;
    let empty = BTreeMap::new();
    let records = book.as_ref().map_or(&empty, |b| &b.records);
    let pooled = Pooled {
        all: &all,
        records,
        rules: &rules,
        kind: NeedKind::TariffChange,
        purpose: " for the type change",
    };
    if let Some(choice) = take_pooled(ctx, service, lic, need, order, &pooled, today).await? {
        // Taken: from here on two licenses carry the remoteid until the old one is
        // released; a crash now is settled by type on the next reconcile.
        let reusable = rules.reusable(&old_type);
        put_into_pool(lic, &old_id, reusable).await.map_err(|e| {
            failed(
                "PanelError",
                format!(
                    "took pooled license {} for the type change; releasing the old license {old_id} failed (retried): {e}",
                    choice.license_id
                ),
            )
        })?;
        ctx.event(
            service,
            EventType::Normal,
            "LicenseTypeChanged",
            format!(
                "type changed from {old_type} to {wanted}: took pooled license {} (expires {}) instead of changing license {old_id}, which {} (useExistingOnUpgrade)",
                choice.license_id,
                choice.expires_on,
                if reusable {
                    "joins the pool"
                } else {
                    "is suspended and left to expire (its type is not reused)"
                }
            ),
        )
        .await;
        return Ok((view(choice.license_id).await?, true));
    }

    // Seed 003: "the service package of the current one will be changed".
    lic.change_pricelist(&old_id, wanted, order.period_code)
        .await
        .map_err(|e| {
            failed(
                "LicenseTypeChangeFailed",
                format!("moving license {old_id} from type {old_type} to {wanted}: {e}"),
            )
        })?;
    // What a pricelist change does to the node addon is not documented: the count is no
    // longer known, so the record goes (an unrecorded license is never taken by a need with
    // nodes).
    if let Some(book) = &mut book
        && book.records.contains_key(&old_id)
        && let Err(e) = book.set(&[(old_id.as_str(), None)]).await
    {
        tracing::warn!(license = %old_id, error = %e, "dropping the node record after a pricelist change failed");
    }
    ctx.event(
        service,
        EventType::Normal,
        "LicenseTypeChanged",
        format!(
            "moved license {old_id} from type {old_type} to {wanted} (service.changepricelist); nothing bought"
        ),
    )
    .await;
    Ok((view(old_id).await?, from_pool))
}

/// The pool as one acquisition sees it.
struct Pooled<'a> {
    /// The account's licenses, as listed for this acquisition.
    all: &'a [License],
    /// Node counts of pooled licenses ([`NodeBook`]).
    records: &'a BTreeMap<String, NodesRecord>,
    rules: &'a PoolRules,
    /// A new order, or a tariff change (`useExistingOnUpgrade`).
    kind: NeedKind,
    /// Said in the `PoolTakeFailed` event after "taking pooled license N".
    purpose: &'a str,
}

/// Takes the first pooled license the need may have ([`license_pool::candidates`], seed 003's
/// rules), binding it to the need's name, IP and `remoteid`. A refused take is put back and
/// the next candidate tried; an unanswered one fails the reconcile, so that it never turns
/// into a purchase. `Ok(None)` when no candidate could be taken.
async fn take_pooled(
    ctx: &Context,
    service: &HostingService,
    lic: &Licensing,
    need: &Need,
    order: &Order<'_>,
    pooled: &Pooled<'_>,
    today: Date,
) -> Result<Option<TakeChoice>, Outcome> {
    let pool: Vec<PoolLicense> = pooled
        .all
        .iter()
        .filter_map(PoolLicense::from_panel)
        .map(|l| l.with_recorded_nodes(pooled.records))
        .collect();
    let pool_need = LicenseNeed {
        kind: pooled.kind,
        license_type: need.license_type.clone(),
        addon_quantity: need.nodes.as_ref().map_or(0, |(_, n)| *n),
        period: order.period,
    };
    let Acquisition::Take(_) = license_pool::acquire(&pool, &pool_need, pooled.rules, today) else {
        return Ok(None);
    };
    let binding = Binding {
        licname: order.licname.to_owned(),
        ip: need.ip.clone(),
        remoteid: order.remoteid.to_owned(),
    };
    for choice in license_pool::candidates(&pool, &pool_need, pooled.rules, today) {
        let Err(e) = take(lic, &choice, &binding).await else {
            return Ok(Some(choice));
        };
        ctx.event(
            service,
            EventType::Warning,
            "PoolTakeFailed",
            format!(
                "taking pooled license {}{} failed ({e}); it stays in the pool",
                choice.license_id, pooled.purpose
            ),
        )
        .await;
        if unanswered(&e) {
            return Err(nothing_bought(&choice.license_id, &e));
        }
    }
    Ok(None)
}

/// Whether a failed take says nothing about the license: the licensing server did not
/// answer (or its answer was lost). Only a refusal (e.g. the IP was changed too recently) is
/// a reason to try the next candidate or to buy; an unanswered take fails the reconcile, so
/// that a slow server never turns into a purchase.
fn unanswered(e: &PanelError) -> bool {
    e.is_transport() || matches!(e, PanelError::OutcomeUnknown { .. })
}

fn nothing_bought(license: &str, e: &PanelError) -> Outcome {
    failed(
        "PoolTakeFailed",
        format!(
            "the licensing server did not answer while pooled license {license} was being taken ({e}); nothing is bought until it answers"
        ),
    )
}

/// Takes one pooled license ([`license_pool::take_plan`]); on any failure it is put back into
/// the pool (the partner module's compensation) and the error returned.
async fn take(lic: &Licensing, choice: &TakeChoice, binding: &Binding) -> Result<(), PanelError> {
    let plan = license_pool::take_plan(choice, binding);
    for (i, step) in plan.steps.iter().enumerate() {
        if let Err(e) = run_step(lic, step).await {
            if let OnFailure::PutBack(back) = plan.on_failure(i) {
                for step in &back.steps {
                    if let Err(e) = run_step(lic, step).await {
                        tracing::warn!(license = %choice.license_id, error = %e, "putting a license back into the pool failed");
                        break;
                    }
                }
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Runs [`license_pool::release_plan`] on one license: suspended, `free.lic`, `0.0.0.0`, no
/// `remoteid`. Every step is idempotent, so a failure is retried by the next reconcile.
async fn put_into_pool(lic: &Licensing, id: &str, reusable: bool) -> Result<(), PanelError> {
    for step in &license_pool::release_plan(id, reusable).steps {
        run_step(lic, step).await?;
    }
    Ok(())
}

async fn run_step(lic: &Licensing, step: &LicenseStep) -> Result<(), PanelError> {
    match step {
        LicenseStep::Suspend { license_id } => lic.suspend(license_id).await,
        LicenseStep::Resume { license_id } => lic.resume(license_id).await,
        LicenseStep::Edit {
            license_id,
            licname,
            ip,
            remoteid,
        } => lic.edit(license_id, licname, ip, remoteid).await,
        LicenseStep::Prolong { license_id, period } => {
            let months = period_param(*period).unwrap_or_else(|| "1".into());
            lic.prolong(license_id, &months).await.map(drop)
        }
        LicenseStep::JoinPool { .. } | LicenseStep::Retire { .. } => Ok(()),
    }
}

/// The service is terminated or deleted: its license is suspended, renamed `free.lic`,
/// rebound to `0.0.0.0` and joins the pool ([`license_pool::release_plan`]); a license of a
/// type that is not reused is retired the same way (left to expire, never renewed). A license
/// still carrying the need's `remoteid` (an order whose answer was lost) goes too, so nothing
/// is leaked. `Orphan` (on deletion) and `ObserveOnly` leave the license as it is.
pub async fn release(
    ctx: &Context,
    service: &HostingService,
    module: &ProcessingModule,
    kind: LicenseKind,
    status: &mut HostingServiceStatus,
    why: Removal,
) -> Result<(), String> {
    let orphan = why.keeps(service);
    if orphan {
        if let Some(l) = &status.license {
            ctx.event(
                service,
                EventType::Normal,
                "Orphaned",
                format!(
                    "kept license {} as it is (deletionPolicy Orphan or ObserveOnly)",
                    l.id
                ),
            )
            .await;
        }
        return Ok(());
    }
    let lic = ctx
        .panels
        .licensing(&ctx.client, module)
        .await
        .map_err(|e| format!("licensing module {}: {e}", module.name_any()))?;
    let settings = settings_of(module);
    let ns = service.namespace().unwrap_or_default();
    let rules = PoolRules::new(&settings, pool_spec(ctx, &ns, &module.name_any()).as_ref());
    let remoteid = remote_id(service, kind);
    let all = lic
        .licenses()
        .await
        .map_err(|e| format!("listing licenses: {e}"))?;
    let mut ids: Vec<String> = status.license.iter().map(|l| l.id.clone()).collect();
    for l in all.iter().filter(|l| l.carries(&remoteid)) {
        if !ids.contains(&l.id) {
            ids.push(l.id.clone());
        }
    }
    // A node count still recorded under the remoteid (its order's answer was lost, or the
    // record could not be moved then) becomes the license's record before the release clears
    // the remoteid: the pool must know the count of what it receives.
    if let Some(mut book) = NodeBook::open(ctx, &ns, &module.name_any()).await?
        && book.records.contains_key(&remoteid)
    {
        let ordered = ids
            .iter()
            .find(|id| {
                !book.records.contains_key(*id)
                    && all.iter().any(|l| &l.id == *id && l.carries(&remoteid))
            })
            .cloned();
        match ordered {
            Some(id) => book.settle(&remoteid, &id).await?,
            None => book.set(&[(remoteid.as_str(), None)]).await?,
        }
    }
    for id in ids {
        let Some(row) = all
            .iter()
            .find(|l| l.id == id && l.status != LicenseStatus::Deleted)
        else {
            continue; // gone already
        };
        if row.licname == FREE_LICNAME && row.remoteid.is_empty() && row.ip.trim() == "0.0.0.0" {
            continue; // released by an earlier pass
        }
        let reusable = rules.reusable(&row.pricelist);
        let plan = license_pool::release_plan(&id, reusable);
        for step in &plan.steps {
            if let Err(e) = run_step(&lic, step).await {
                // Every release step is idempotent: the next reconcile runs the plan again.
                return Err(format!("putting license {id} into the pool: {e}"));
            }
        }
        let (reason, note) = if reusable {
            (
                "LicensePooled",
                format!("license {id} suspended, renamed free.lic on 0.0.0.0: it joins the pool"),
            )
        } else {
            (
                "LicenseRetired",
                format!(
                    "license {id} suspended and unbound; its type is not reused, so it is left to expire"
                ),
            )
        };
        ctx.event(service, EventType::Normal, reason, note).await;
    }
    status.license = None;
    Ok(())
}

/// The service still lives but no longer needs a license: its virtual server's control panel
/// changed to `nopanel` (or to a choice without a license type). The license is released to
/// the pool exactly as on termination ([`release`]: suspended, `free.lic`, `0.0.0.0`, every
/// license carrying the need's `remoteid` included); `ObserveOnly` keeps it. Does nothing when
/// no license is recorded, so it costs no call on the common path. `status.license` is cleared
/// only once every release step succeeded, so a failure (or a crash) is retried by the next
/// reconcile.
pub async fn release_unneeded(
    ctx: &Context,
    service: &HostingService,
    module: &ProcessingModule,
    kind: LicenseKind,
    status: &mut HostingServiceStatus,
) -> Result<(), String> {
    let Some(current) = status.license.clone() else {
        return Ok(());
    };
    if service.spec.management_policy != ManagementPolicy::ObserveOnly {
        ctx.event(
            service,
            EventType::Normal,
            "LicenseTypeChanged",
            format!(
                "the service no longer needs a license (no license type chosen): license {} of type {} goes to the pool",
                current.id, current.license_type
            ),
        )
        .await;
    }
    release(ctx, service, module, kind, status, Removal::Unneeded).await
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
