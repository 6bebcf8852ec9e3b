//! The LicensePool reconciler (seeds 000, 003): lists the licensing module's licenses in one
//! call and reports the pool in status — every pooled license (`free.lic` on `0.0.0.0`) with
//! its id, type, expiry and state, and counts per type. Pooled licenses are never renewed; a
//! month (`retainMonthsAfterExpiry`) after its expiry a pooled license leaves the pool and is
//! deleted at the licensing server (seed 000: "it will be deleted from the list and will not
//! be extendable further"). Licenses already at the licensing server are matched by IP
//! (`fixchilds`, seed 003) to the module's `SoftwareLicense` services and to the virtual
//! servers whose control-panel license addon is ordered here ([`license_needs`]), and the
//! matches are reported; the services' own reconciles adopt them. The pool is requeued for its next
//! change of state (an expiry, the end of a retention or of a rebind cooling), and at least
//! every drift interval, since services put licenses into the pool.

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::conditions::{self, Verdict};
use super::context::{self, Context};
use super::service::licenses::{remote_id, until_midnight_utc};
use super::service::virtual_server::license_type_for;
use super::{Error, observe_annotations};
use crate::api::common::{Date, LastError};
use crate::api::license_pool::LicensePoolStatus;
use crate::api::processing_module::ModuleType;
use crate::api::tariff::ProductType;
use crate::api::{HostingService, LicensePool, ProcessingModule, Tariff};
use crate::controller::reason::Reason;
use crate::panel::licensing::LicenseStatus;
use crate::pools::license_pool::{
    ExistingMatch, NodesRecord, PoolLicense, PoolRules, ServiceNeed, expired_out, match_existing,
    nodes_records, pool_status,
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
        &ctx.timestamp(),
    );
    observe_annotations(&pool.metadata, &mut status.common);
    crate::controller::metrics::judged("LicensePool", &verdict);
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
                reason: Reason::ReferenceNotFound,
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
                reason: Reason::InvalidSpec,
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
                    reason: Reason::ModuleUnavailable,
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
                    reason: Reason::PanelError,
                    message: format!("listing licenses: {e}"),
                },
                every,
            );
        }
    };
    let settings = super::service::licenses::settings_of(&module);
    let rules = PoolRules::new(&settings, Some(&pool.spec));
    let today = Date(ctx.settings.clock.today());
    // Node counts come from the pool's own records (the licensing server does not list them).
    let records = nodes_records(pool.annotations());
    let pooled: Vec<PoolLicense> = all
        .iter()
        .filter_map(PoolLicense::from_panel)
        .map(|l| l.with_recorded_nodes(&records))
        .collect();
    // Records of licenses the server lists as deleted are dropped. Only those: a license
    // missing from the listing may have been bought after it was taken, with its record
    // written since.
    let void: serde_json::Map<String, serde_json::Value> = all
        .iter()
        .filter(|l| l.status == LicenseStatus::Deleted && records.contains_key(&l.id))
        .map(|l| (NodesRecord::key(&l.id), serde_json::Value::Null))
        .collect();
    if !void.is_empty() {
        let patch = serde_json::json!({"metadata": {"annotations": void}});
        let api: Api<LicensePool> = Api::namespaced(ctx.client.clone(), ns);
        if let Err(e) = api
            .patch(
                &pool.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            tracing::warn!(pool = %pool.name_any(), error = %e, "dropping node records of deleted licenses failed");
        }
    }

    // A month after expiry a pooled license leaves the pool, and the licensing server's copy
    // is deleted so that nobody renews or rebinds it by mistake.
    for gone in expired_out(&pooled, &rules, today) {
        match lic.delete(&gone.id).await {
            Ok(()) => {
                ctx.event(
                    pool,
                    EventType::Normal,
                    Reason::LicenseExpiredOut,
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
                        reason: Reason::PanelError,
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

    // fixchilds: the services of this licensing module that need a license, matched by IP.
    let services: Vec<Arc<HostingService>> = ctx
        .services
        .state()
        .into_iter()
        .filter(|s| s.namespace().as_deref() == Some(ns))
        .collect();
    let needs = license_needs(
        module_name,
        &services,
        |name| Context::get(&ctx.tariffs, ns, name),
        |name| Context::get(&ctx.modules, ns, name),
    );
    let rows: Vec<ServiceNeed<'_>> = needs
        .iter()
        .map(|n| ServiceNeed {
            service: &n.service,
            ip: &n.ip,
            license_type: &n.license_type,
            remoteid: &n.remoteid,
            suspended: n.suspended,
            bound_license: n.bound_license.as_deref(),
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
            reason: Reason::Observed,
            message,
        },
        requeue,
    )
}

/// One service's license need at a licensing module, for the `fixchilds` report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolNeed {
    /// The service's name.
    pub service: String,
    /// The IP its license is bound to; empty while a virtual server has none.
    pub ip: String,
    /// The pricelist id it needs.
    pub license_type: String,
    /// Its `remoteid` ([`remote_id`]).
    pub remoteid: String,
    pub suspended: bool,
    /// The license recorded in its status, if any.
    pub bound_license: Option<String>,
}

/// The license needs at licensing module `module_name` among `services` (seeds 001, 003):
///
/// - `SoftwareLicense` services placed on the module (`status.processingModule`), for their
///   `spec.licenseIp` and the tariff's license type;
/// - `VirtualServer` services placed on a VMmanager module whose `licensingModuleRef` is this
///   module and whose chosen control panel needs a license (the control-panel license addon,
///   [`license_type_for`]; `nopanel` needs none), for the server's IP (`status.ip`: seed 001's
///   license IP is the server's).
///
/// Services whose tariff or module is missing are left out (their own reconcile reports it).
pub fn license_needs(
    module_name: &str,
    services: &[Arc<HostingService>],
    tariff: impl Fn(&str) -> Option<Arc<Tariff>>,
    module: impl Fn(&str) -> Option<Arc<ProcessingModule>>,
) -> Vec<PoolNeed> {
    services
        .iter()
        .filter_map(|s| {
            let placed = s.status.as_ref()?.processing_module.as_deref()?;
            let tariff = tariff(&s.spec.tariff_ref.name)?;
            let (ip, license_type, kind) = match tariff.spec.product_type {
                ProductType::SoftwareLicense if placed == module_name => (
                    s.spec.license_ip.clone().unwrap_or_default(),
                    tariff.spec.license.as_ref()?.license_type.clone(),
                    LicenseKind::Standalone,
                ),
                ProductType::VirtualServer => {
                    let vm = module(placed)?;
                    let licensing = vm.spec.vmmanager.as_ref()?.licensing_module_ref.as_ref()?;
                    if vm.spec.type_ != ModuleType::VMmanager || licensing.name != module_name {
                        return None;
                    }
                    (
                        s.status.as_ref()?.ip.clone().unwrap_or_default(),
                        license_type_for(&tariff.spec, &s.spec)?,
                        LicenseKind::Addon,
                    )
                }
                _ => return None,
            };
            Some(PoolNeed {
                service: s.name_any(),
                ip,
                license_type,
                remoteid: remote_id(s, kind),
                suspended: s.spec.suspended,
                bound_license: s
                    .status
                    .as_ref()
                    .and_then(|st| st.license.as_ref())
                    .map(|l| l.id.clone()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json as j;

    fn object<K: serde::de::DeserializeOwned>(json: serde_json::Value) -> Arc<K> {
        Arc::new(serde_json::from_value(json).expect("a valid object"))
    }

    fn service(
        name: &str,
        tariff: &str,
        spec: serde_json::Value,
        status: serde_json::Value,
    ) -> Arc<HostingService> {
        let mut spec_json = serde_json::json!({
            "tariffRef": {"name": tariff},
            "clientRef": {"name": "jane"},
            "period": "1m",
            "startDate": "2026-01-01",
        });
        spec_json
            .as_object_mut()
            .unwrap()
            .extend(spec.as_object().unwrap().clone());
        object(serde_json::json!({
            "apiVersion": "hostplane.dev/v1alpha1",
            "kind": "HostingService",
            "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}")},
            "spec": spec_json,
            "status": status,
        }))
    }

    fn tariffs(name: &str) -> Option<Arc<Tariff>> {
        let spec = match name {
            "lite" => serde_json::json!({
                "productType": "SoftwareLicense",
                "processingModules": [{"name": "lic"}],
                "prices": {"1m": "4.50"},
                "license": {"licenseType": "3541"},
            }),
            "vps" => serde_json::json!({
                "productType": "VirtualServer",
                "processingModules": [{"name": "vm"}],
                "prices": {"1m": "6.00"},
                "virtualServer": {
                    "cpuCores": 1, "memoryMiB": 1024, "diskGiB": 10,
                    "operatingSystems": ["Debian 12"], "defaultOperatingSystem": "Debian 12",
                    "controlPanelLicense": {
                        "default": "nopanel",
                        "options": [
                            {"name": "nopanel", "licenseType": "nopanel", "displayName": "None"},
                            {"name": "business", "licenseType": "4601", "displayName": "Business"},
                        ],
                    },
                },
            }),
            _ => return None,
        };
        Some(object(serde_json::json!({
            "apiVersion": "hostplane.dev/v1alpha1",
            "kind": "Tariff",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": spec,
        })))
    }

    fn modules(name: &str) -> Option<Arc<ProcessingModule>> {
        let spec = match name {
            "vm" => serde_json::json!({
                "type": "VMmanager", "url": "https://vm:1500", "credentialsSecretRef": {"name": "c"},
                "vmmanager": {"apiVersion": "V6", "licensingModuleRef": {"name": "lic"}},
            }),
            "vm-other" => serde_json::json!({
                "type": "VMmanager", "url": "https://vm2:1500", "credentialsSecretRef": {"name": "c"},
                "vmmanager": {"apiVersion": "V6", "licensingModuleRef": {"name": "lic2"}},
            }),
            "lic" | "lic2" => serde_json::json!({
                "type": "Licensing", "url": "https://lic", "credentialsSecretRef": {"name": "c"},
            }),
            _ => return None,
        };
        Some(object(serde_json::json!({
            "apiVersion": "hostplane.dev/v1alpha1",
            "kind": "ProcessingModule",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": spec,
        })))
    }

    /// Issue 5: the fixchilds report covers the control-panel license addons of virtual
    /// servers (the server's IP, the chosen panel's type), not only standalone licenses.
    #[test]
    fn virtual_servers_with_a_panel_license_are_matched_by_their_ip() {
        let services = [
            service(
                "std",
                "lite",
                j!({"licenseIp": "203.0.113.1"}),
                j!({"processingModule": "lic"}),
            ),
            service(
                "vps-panel",
                "vps",
                j!({"controlPanel": "business"}),
                j!({"processingModule": "vm", "ip": "203.0.113.2", "license": {"id": "7", "licenseType": "4601"}}),
            ),
            // No IP yet: listed, the match waits for it.
            service(
                "vps-new",
                "vps",
                j!({"controlPanel": "business", "suspended": true}),
                j!({"processingModule": "vm"}),
            ),
            // No panel: no license need.
            service(
                "vps-bare",
                "vps",
                j!({}),
                j!({"processingModule": "vm", "ip": "203.0.113.3"}),
            ),
            // Another licensing module's servers and licenses.
            service(
                "vps-elsewhere",
                "vps",
                j!({"controlPanel": "business"}),
                j!({"processingModule": "vm-other", "ip": "203.0.113.4"}),
            ),
            service(
                "std-elsewhere",
                "lite",
                j!({"licenseIp": "203.0.113.5"}),
                j!({"processingModule": "lic2"}),
            ),
            // Not placed yet, or on an unknown tariff.
            service("unplaced", "vps", j!({"controlPanel": "business"}), j!({})),
            service("unknown", "gone", j!({}), j!({"processingModule": "vm"})),
        ];
        let needs = license_needs("lic", &services, tariffs, modules);
        let got: Vec<(&str, &str, &str, bool, Option<&str>)> = needs
            .iter()
            .map(|n| {
                (
                    n.service.as_str(),
                    n.ip.as_str(),
                    n.license_type.as_str(),
                    n.suspended,
                    n.bound_license.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("std", "203.0.113.1", "3541", false, None),
                ("vps-panel", "203.0.113.2", "4601", false, Some("7")),
                ("vps-new", "", "4601", true, None),
            ]
        );
        // The remoteids are the ones the services order with.
        assert_eq!(
            needs[0].remoteid,
            remote_id(&services[0], LicenseKind::Standalone)
        );
        assert_eq!(
            needs[1].remoteid,
            remote_id(&services[1], LicenseKind::Addon)
        );
        assert!(needs[1].remoteid.starts_with("hpa0-"));
    }
}
