//! The LicensePool reconciler (seeds 000, 003): lists the licensing module's licenses in one
//! call and reports the pool in status — every pooled license (`free.lic` on `0.0.0.0`) with
//! its id, type, expiry and state, and counts per type. Pooled licenses are never renewed; a
//! month (`retainMonthsAfterExpiry`) after its expiry a pooled license leaves the pool and is
//! deleted at the licensing server (seed 000: "it will be deleted from the list and will not
//! be extendable further"). Licenses already at the licensing server are matched to the
//! module's `SoftwareLicense` services by IP (`fixchilds`, seed 003) and the matches are
//! reported; the services' own reconciles adopt them. The pool is requeued for its next
//! change of state (an expiry, the end of a retention or of a rebind cooling), and at least
//! every drift interval, since services put licenses into the pool.

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::conditions::{self, Verdict};
use super::context::{self, Context};
use super::licenses::{remote_id, until_midnight_utc};
use super::{Error, observe_annotations};
use crate::api::common::{Date, LastError};
use crate::api::license_pool::LicensePoolStatus;
use crate::api::processing_module::ModuleType;
use crate::api::tariff::ProductType;
use crate::api::{HostingService, LicensePool};
use crate::panel::licensing::LicenseStatus;
use crate::pools::license_pool::{
    ExistingMatch, PoolLicense, PoolRules, ServiceNeed, expired_out, match_existing, pool_status,
};
use crate::pools::naming::LicenseKind;

pub async fn reconcile(pool: Arc<LicensePool>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = pool.namespace().unwrap_or_default();
    let api: Api<LicensePool> = Api::namespaced(ctx.client.clone(), &ns);
    let mut status = pool.status.clone().unwrap_or_default();
    let (verdict, requeue) = observe(&pool, &ctx, &ns, &mut status).await;
    conditions::apply(
        &mut status.common,
        &verdict,
        pool.metadata.generation,
        &super::now(),
    );
    observe_annotations(&pool.metadata, &mut status.common);
    let key = context::key("LicensePool", &*pool);
    let action = match &verdict {
        Verdict::Failed { message, .. } => {
            let attempts = ctx.failed(&key);
            let wait = context::backoff(attempts, super::rand_unit());
            status.common.last_error = Some(LastError {
                message: message.clone(),
                attempts,
                next_attempt_at: None,
            });
            Action::requeue(wait)
        }
        Verdict::Stalled { .. } => {
            status.common.last_error = None;
            Action::await_change()
        }
        _ => {
            ctx.succeeded(&key);
            status.common.last_error = None;
            Action::requeue(requeue)
        }
    };
    if super::status::write(&api, &pool.name_any(), pool.status.as_ref(), &status).await? {
        super::announce(
            &ctx,
            &*pool,
            pool.status.as_ref().map(|s| &s.common),
            &verdict,
        )
        .await;
    }
    Ok(action)
}

async fn observe(
    pool: &LicensePool,
    ctx: &Context,
    ns: &str,
    status: &mut LicensePoolStatus,
) -> (Verdict, Duration) {
    let every = ctx.settings.drift_interval;
    let module_name = &pool.spec.licensing_module_ref.name;
    let Some(module) = Context::get(&ctx.modules, ns, module_name) else {
        return (
            Verdict::Stalled {
                reason: "ReferenceNotFound".into(),
                message: format!(
                    "spec.licensingModuleRef.name: ProcessingModule {module_name:?} does not exist in namespace {ns}"
                ),
            },
            every,
        );
    };
    if module.spec.type_ != ModuleType::Licensing {
        return (
            Verdict::Stalled {
                reason: "InvalidSpec".into(),
                message: format!(
                    "spec.licensingModuleRef.name: processing module {module_name:?} is of type {:?}, not Licensing",
                    module.spec.type_
                ),
            },
            every,
        );
    }
    let lic = match ctx.panels.licensing(&ctx.client, &module).await {
        Ok(l) => l,
        Err(e) => {
            return (
                Verdict::Failed {
                    reason: "ModuleUnavailable".into(),
                    message: format!("licensing module {module_name}: {e}"),
                },
                every,
            );
        }
    };
    let all = match lic.licenses().await {
        Ok(all) => all,
        Err(e) => {
            return (
                Verdict::Failed {
                    reason: "PanelError".into(),
                    message: format!("listing licenses: {e}"),
                },
                every,
            );
        }
    };
    let settings = super::licenses::settings_of(&module);
    let rules = PoolRules::new(&settings, Some(&pool.spec));
    let today = Date(ctx.settings.clock.today());
    let pooled: Vec<PoolLicense> = all.iter().filter_map(PoolLicense::from_panel).collect();

    // A month after expiry a pooled license leaves the pool, and the licensing server's copy
    // is deleted so that nobody renews or rebinds it by mistake.
    for gone in expired_out(&pooled, &rules, today) {
        match lic.delete(&gone.id).await {
            Ok(()) => {
                ctx.event(
                    pool,
                    EventType::Normal,
                    "LicenseExpiredOut",
                    format!(
                        "pooled license {} expired on {} and left the pool; deleted at the licensing server",
                        gone.id, gone.expires_on
                    ),
                )
                .await;
            }
            Err(e) if crate::panel::ispmanager::is_not_found(&e) => {}
            Err(e) => {
                return (
                    Verdict::Failed {
                        reason: "PanelError".into(),
                        message: format!("deleting expired pooled license {}: {e}", gone.id),
                    },
                    every,
                );
            }
        }
    }
    let (entries, counts) = pool_status(&pooled, &rules, today);
    status.pooled = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    status.licenses = entries;
    status.counts = counts;

    // fixchilds: the module's SoftwareLicense services without a license, matched by IP.
    let services: Vec<Arc<HostingService>> = ctx
        .services
        .state()
        .into_iter()
        .filter(|s| {
            s.namespace().as_deref() == Some(ns)
                && s.status
                    .as_ref()
                    .and_then(|st| st.processing_module.as_deref())
                    == Some(module_name.as_str())
        })
        .collect();
    let needs: Vec<(String, String, String, String, bool, Option<String>)> = services
        .iter()
        .filter_map(|s| {
            let tariff = Context::get(&ctx.tariffs, ns, &s.spec.tariff_ref.name)?;
            if tariff.spec.product_type != ProductType::SoftwareLicense {
                return None;
            }
            let license_type = tariff.spec.license.as_ref()?.license_type.clone();
            Some((
                s.name_any(),
                s.spec.license_ip.clone().unwrap_or_default(),
                license_type,
                remote_id(s, LicenseKind::Standalone),
                s.spec.suspended,
                s.status
                    .as_ref()
                    .and_then(|st| st.license.as_ref())
                    .map(|l| l.id.clone()),
            ))
        })
        .collect();
    let rows: Vec<ServiceNeed<'_>> = needs
        .iter()
        .map(|(name, ip, ty, rid, suspended, bound)| ServiceNeed {
            service: name,
            ip,
            license_type: ty,
            remoteid: rid,
            suspended: *suspended,
            bound_license: bound.as_deref(),
        })
        .collect();
    let matches = match_existing(&all, &rows, settings.skip_suspended_when_matching);
    let by_ip: Vec<String> = matches
        .iter()
        .filter_map(|m| match &m.outcome {
            ExistingMatch::ByIp(id) => Some(format!("{} ← license {id}", m.service)),
            _ => None,
        })
        .collect();
    let to_order = matches
        .iter()
        .filter(|m| m.outcome == ExistingMatch::Order)
        .count();
    let bound = all
        .iter()
        .filter(|l| l.status != LicenseStatus::Deleted && l.licname != "free.lic")
        .count();

    let mut message = format!(
        "{} pooled; {bound} bound at the licensing server",
        status.pooled
    );
    if !by_ip.is_empty() {
        message.push_str(&format!("; matched by IP: {}", by_ip.join(", ")));
    }
    if to_order > 0 {
        message.push_str(&format!("; {to_order} services waiting for a license"));
    }

    // The next change of state of any pooled license.
    let next = pooled
        .iter()
        .flat_map(|l| {
            let cooling = [l.ip_changed_on, l.key_changed_on]
                .into_iter()
                .flatten()
                .filter_map(|c| rules.cooling_until(c))
                .filter_map(|d| crate::billing::dates::add_days(d, 1).ok());
            [Some(l.expires_on), rules.leaves_pool_on(l.expires_on)]
                .into_iter()
                .flatten()
                .chain(cooling)
        })
        .filter(|d| *d > today)
        .min();
    let now = ctx.settings.clock.now();
    let requeue = next
        .map(|d| until_midnight_utc(d, now))
        .map_or(every, |d| d.min(every));
    (
        Verdict::Ready {
            reason: "Observed".into(),
            message,
        },
        requeue,
    )
}
