//! Drift: on a jittered interval, each ispmanager module's accounts are listed in one call and
//! compared with what the services placed on it declare. A service whose account differs (a
//! limit edited in the panel, a suspension lifted by hand, an account deleted) is queued for a
//! reconcile, which corrects it and reports `DriftCorrected`.
//!
//! One listing per module per interval is the only panel traffic of a steady state, and the
//! listing also feeds [`super::accounts`], so reconciles in between need no lookups.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::accounts::module_key;
use super::context::Context;
use super::service::{self, desired, plan};
use crate::api::HostingService;
use crate::api::hosting_service::ManagementPolicy;

/// The wait before the next round: the interval, plus up to 10% so that several controllers
/// (or modules) do not list in lockstep.
pub fn jittered(interval: Duration, unit: f64) -> Duration {
    interval.mul_f64(1.0 + 0.1 * unit.clamp(0.0, 1.0))
}

/// Runs drift rounds forever, sending the services that drifted to `trigger`.
pub async fn run(ctx: Arc<Context>, trigger: UnboundedSender<ObjectRef<HostingService>>) {
    loop {
        tokio::time::sleep(jittered(ctx.settings.drift_interval, super::rand_unit())).await;
        round(&ctx, &trigger).await;
    }
}

/// One round over every ispmanager module that has services.
pub async fn round(ctx: &Context, trigger: &UnboundedSender<ObjectRef<HostingService>>) {
    let services = ctx.services.state();
    for module in ctx
        .modules
        .state()
        .iter()
        .filter(|m| service::is_ispmanager(m))
    {
        let ns = module.namespace().unwrap_or_default();
        let name = module.name_any();
        let placed: Vec<&Arc<HostingService>> = services
            .iter()
            .filter(|s| {
                s.namespace().as_deref() == Some(ns.as_str())
                    && service::placed_on(s) == Some(name.as_str())
                    && s.metadata.deletion_timestamp.is_none()
                    && s.spec.management_policy == ManagementPolicy::Full
            })
            .collect();
        if placed.is_empty() {
            continue;
        }
        let isp = match ctx.panels.ispmanager(&ctx.client, module).await {
            Ok(isp) => isp,
            Err(error) => {
                tracing::warn!(module = %name, %error, "drift check skipped");
                continue;
            }
        };
        let sent = std::time::Instant::now();
        let users = match isp.users().await {
            Ok(users) => users,
            Err(error) => {
                tracing::warn!(module = %name, %error, "drift check: listing accounts failed");
                continue;
            }
        };
        let by_name: HashMap<&str, &crate::panel::ispmanager::User> =
            users.iter().map(|u| (u.name.as_str(), u)).collect();
        let mut drifted = 0;
        for svc in placed {
            if drifts(ctx, svc, &by_name) {
                drifted += 1;
                let _ = trigger.unbounded_send(ObjectRef::from(&**svc));
            }
        }
        tracing::debug!(module = %name, accounts = users.len(), drifted, "drift check");
        ctx.accounts.replace(&module_key(&ns, &name), users, sent);
    }
}

/// Whether the listed account of `svc` differs from what it declares.
fn drifts(
    ctx: &Context,
    svc: &HostingService,
    listed: &HashMap<&str, &crate::panel::ispmanager::User>,
) -> bool {
    let Some(username) = svc.status.as_ref().and_then(|s| s.external_name.as_deref()) else {
        return false; // not created yet: its own reconcile is on it
    };
    let ns = svc.namespace().unwrap_or_default();
    let (Some(tariff), Some(client)) = (
        Context::get(&ctx.tariffs, &ns, &svc.spec.tariff_ref.name),
        Context::get(&ctx.clients, &ns, &svc.spec.client_ref.name),
    ) else {
        return false;
    };
    let Ok(declared) = desired::account(
        &svc.name_any(),
        &client.name_any(),
        &svc.spec,
        &tariff.spec,
        &client.spec,
    ) else {
        return false;
    };
    let today = ctx
        .settings
        .clock
        .today_in(&crate::billing::zone::of(&tariff.spec));
    let defaults = &ctx.settings.product_defaults;
    let earlier = crate::controller::tariff_history::earlier_tariffs(ctx, svc);
    let Ok(refs) = service::Refs::new(svc, tariff, &earlier, client, today, defaults) else {
        return false;
    };
    if matches!(
        refs.standing,
        crate::billing::lifecycle::Standing::Terminated { .. }
            | crate::billing::lifecycle::Standing::Scheduled { .. }
    ) {
        return false;
    }
    let active = service::suspension(&refs).is_none();
    !plan::plan(&declared, active, listed.get(username).copied()).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_adds_at_most_a_tenth() {
        let base = Duration::from_secs(100);
        assert_eq!(jittered(base, 0.0), base);
        assert_eq!(jittered(base, 1.0), Duration::from_secs(110));
        assert_eq!(jittered(base, 7.0), Duration::from_secs(110));
    }
}
