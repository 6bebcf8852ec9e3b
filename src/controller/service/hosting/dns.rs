//! The DNS zone of a shared hosting service's domain, on the tariff's name server (the
//! account's own ispmanager, or a separate one), and the address its records point at.
//!
//! On the account's own server the zone is the account's and goes with it. On a separate name
//! server it belongs to the administrator, so deleting the account leaves it behind: the zone
//! is claimed on the service ([`DNS_ZONE_ANNOTATION`]) before it is created, and removed with
//! the account ([`remove_zone`]). A zone that was there before the claim is someone else's and
//! is never claimed, so never removed.

use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};

use super::super::desired::DesiredAccount;
use super::super::{Outcome, Refs, failed, stalled};
use crate::api::HostingService;
use crate::api::ProcessingModule;
use crate::api::hosting_service::HostingServiceStatus;
use crate::controller::context::Context;
use crate::controller::reason::Reason;
use crate::controller::service::claim;
use crate::controller::service::driver::Removed;
use crate::panel::PanelError;
use crate::panel::ispmanager::is_not_found;

/// The zone the service created on a separate name server: `MODULE/DOMAIN`.
pub const DNS_ZONE_ANNOTATION: &str = "hostplane.dev/dns-zone";

/// The DNS zone of the service's domain on the tariff's name server, made once per domain.
/// `Some(note)` when this pass made the zone (the caller tells it in its event).
///
/// On the account's own server the zone is created without listing the zones first: one
/// panel call per new service, not two. A zone that is there already (ispmanager may make it
/// with the account's site, reference §2.5) answers `Exists`, which is as good; on a separate
/// name server the listing stays, since a zone found there before the claim is someone else's.
pub(super) async fn ensure_dns(
    service: &HostingService,
    refs: &Refs,
    ctx: &Context,
    desired: &DesiredAccount,
    module: &ProcessingModule,
    status: &mut HostingServiceStatus,
) -> Result<Option<String>, Outcome> {
    if status.domain.as_deref() == Some(desired.domain.as_str()) {
        return Ok(None);
    }
    let name_server = refs
        .tariff
        .spec
        .hosting
        .as_ref()
        .and_then(|h| h.name_server.as_ref());
    let mut made = None;
    if let Some(ns_ref) = name_server {
        let ns = service.namespace().unwrap_or_default();
        let ns_module = Context::get(&ctx.modules, &ns, &ns_ref.processing_module_ref.name)
            .ok_or_else(|| {
                stalled(
                    Reason::ReferenceNotFound,
                    format!(
                        "the tariff's name server module {:?} does not exist",
                        ns_ref.processing_module_ref.name
                    ),
                )
            })?;
        let dns = ctx
            .panels
            .ispmanager(&ctx.client, &ns_module)
            .await
            .map_err(|e| {
                failed(
                    Reason::ModuleUnavailable,
                    format!("name server {}: {e}", ns_module.name_any()),
                )
            })?;
        let ip = module_ip(&module.spec.url).await.ok_or_else(|| {
            failed(
                Reason::PanelError,
                format!("cannot resolve the address of module {}", module.name_any()),
            )
        })?;
        let owner = status
            .external_name
            .clone()
            .unwrap_or_else(|| desired.username.clone());
        let separate = ns_module.meta().uid != module.meta().uid;
        let exists = separate
            && dns
                .dns_domains()
                .await
                .map_err(|e| failed(Reason::PanelError, format!("listing DNS zones: {e}")))?
                .iter()
                .any(|z| z.name == desired.domain);
        if !exists {
            if separate {
                // Claimed before it exists: a zone created now is removed with the account,
                // even if this reconcile stops right after the create.
                let claimed = format!("{}/{}", ns_module.name_any(), desired.domain);
                claim::set_annotation(ctx, service, DNS_ZONE_ANNOTATION, Some(claimed))
                    .await
                    .map_err(|e| {
                        failed(
                            Reason::KubernetesError,
                            format!("recording the DNS zone before creating it: {e}"),
                        )
                    })?;
            }
            let ns_names = vec![format!(
                "ns1.{}.",
                host_of(&ns_module.spec.url).unwrap_or_default()
            )];
            match dns
                .create_dns_domain(
                    &owner_for_dns(&ns_module, module, &owner),
                    &desired.domain,
                    &ip,
                    &ns_names,
                )
                .await
            {
                Ok(()) => {
                    made = Some(format!(
                        "zone {} on {}",
                        desired.domain,
                        ns_module.name_any()
                    ))
                }
                Err(PanelError::Exists { .. }) => {
                    // Made by someone else between the listing and the create: not ours.
                    // (On the account's own server: made with the account's site.)
                    if separate {
                        claim::set_annotation(ctx, service, DNS_ZONE_ANNOTATION, None)
                            .await
                            .map_err(|e| {
                                failed(
                                    Reason::KubernetesError,
                                    format!("withdrawing the DNS zone claim: {e}"),
                                )
                            })?;
                    }
                }
                Err(e) => {
                    return Err(failed(
                        Reason::PanelError,
                        format!("creating the DNS zone {}: {e}", desired.domain),
                    ));
                }
            }
        }
    }
    status.domain = Some(desired.domain.clone());
    Ok(made)
}

/// On the account's own server the zone belongs to the account; on a separate name server it
/// belongs to the administrator (the account does not exist there).
fn owner_for_dns(ns_module: &ProcessingModule, module: &ProcessingModule, owner: &str) -> String {
    if ns_module.meta().uid == module.meta().uid {
        owner.to_owned()
    } else {
        String::new()
    }
}

fn host_of(url: &str) -> Option<String> {
    reqwest::Url::parse(url).ok()?.host_str().map(str::to_owned)
}

/// The address shared hosting sites get: the panel server's (its URL's host, resolved).
pub(super) async fn module_ip(url: &str) -> Option<String> {
    let host = host_of(url)?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Some(ip.to_string());
    }
    let mut addrs = tokio::net::lookup_host((host.as_str(), 443)).await.ok()?;
    addrs.next().map(|a| a.ip().to_string())
}

/// Removes the zone the service claimed on a separate name server, once its account is gone
/// (`removed` says what became of it: a kept account keeps its zone). "Not found" counts as
/// done; a failure is retried like the account's removal.
pub(super) async fn remove_zone(
    service: &HostingService,
    ctx: &Context,
    removed: &Removed,
) -> Result<(), String> {
    let Some(claimed) = service.annotations().get(DNS_ZONE_ANNOTATION) else {
        return Ok(());
    };
    if matches!(removed, Removed::Kept) {
        return Ok(());
    }
    let Some((module_name, domain)) = claimed.split_once('/') else {
        return Err(format!(
            "{DNS_ZONE_ANNOTATION} {claimed:?} is not MODULE/DOMAIN"
        ));
    };
    let ns = service.namespace().unwrap_or_default();
    let ns_module = Context::get(&ctx.modules, &ns, module_name).ok_or_else(|| {
        format!("the name server module {module_name:?} holding zone {domain} does not exist")
    })?;
    let dns = ctx
        .panels
        .ispmanager(&ctx.client, &ns_module)
        .await
        .map_err(|e| format!("name server {module_name}: {e}"))?;
    let deleted = match dns.delete_dns_domain(domain).await {
        Ok(()) => true,
        Err(e) if is_not_found(&e) => false,
        Err(e) => {
            return Err(format!(
                "deleting the DNS zone {domain} on {module_name}: {e}"
            ));
        }
    };
    // Settled: a terminated service lives on, and must not try again.
    claim::set_annotation(ctx, service, DNS_ZONE_ANNOTATION, None)
        .await
        .map_err(|e| format!("clearing {DNS_ZONE_ANNOTATION}: {e}"))?;
    if deleted {
        ctx.event(
            service,
            EventType::Normal,
            Reason::Deleted,
            format!("DNS zone {domain} on {module_name}"),
        )
        .await;
    }
    Ok(())
}
