//! A standalone ISPsystem software license for `spec.licenseIp` (product `SoftwareLicense`,
//! seed 003): the license is the service. Its lifecycle — lookup by `remoteid` (listed, or
//! the tag in the license name) before any order, the pool before buying, suspension with the service, monthly (or compared-period)
//! prolongation, the pool on termination — is [`super::licenses`].

use kube::ResourceExt;

use super::driver::Removal;
use super::licenses::{self, Need};
use super::suspension;
use super::{Outcome, Refs, stalled};
use crate::api::hosting_service::{HostingServiceStatus, ManagementPolicy, ServicePhase};
use crate::api::processing_module::ModuleType;
use crate::api::tariff::ResourceKind;
use crate::api::{HostingService, ProcessingModule};
use crate::controller::Error;
use crate::controller::conditions::Verdict;
use crate::controller::context::Context;
use crate::controller::reason::Reason;
use crate::panel::licensing::LicenseStatus;
use crate::pools::naming::LicenseKind;

pub async fn reconcile(
    service: &HostingService,
    refs: &Refs,
    ctx: &Context,
    status: &mut HostingServiceStatus,
) -> Result<Outcome, Error> {
    let Some(settings) = refs.tariff.spec.license.as_ref() else {
        return Ok(stalled(
            Reason::InvalidSpec,
            "the tariff has no license block (spec.license.licenseType)",
        ));
    };
    let Some(ip) = service.spec.license_ip.clone() else {
        return Ok(stalled(
            Reason::InvalidSpec,
            "spec.licenseIp is required for SoftwareLicense services",
        ));
    };
    let module =
        match super::placement::module_for(service, refs, ctx, status, ModuleType::Licensing) {
            Ok(m) => m,
            Err(outcome) => return Ok(outcome),
        };
    status.processing_module = Some(module.name_any());
    let nodes = settings.nodes_addon_id.as_ref().and_then(|addon| {
        service
            .spec
            .resources
            .iter()
            .find(|r| r.name == ResourceKind::LicenseNodes && r.quantity > 0)
            .map(|r| (addon.clone(), u32::try_from(r.quantity).unwrap_or(u32::MAX)))
    });
    let need = Need {
        license_type: settings.license_type.clone(),
        ip: ip.clone(),
        kind: LicenseKind::Standalone,
        period: service.spec.period,
        nodes,
    };
    if service.spec.management_policy == ManagementPolicy::ObserveOnly {
        return Ok(observe_only(service, ctx, &need, &module, status).await);
    }
    let ensured = match licenses::ensure(ctx, service, refs, &need, &module, status).await {
        Ok(e) => e,
        Err(outcome) => return Ok(outcome),
    };
    status.external_name = Some(ensured.license.id.clone());
    status.ip = Some(ip);
    status.tariff_generation = refs.tariff.metadata.generation;
    licenses::merge_next_action(status, ensured.renews_on);
    let requeue = ensured.requeue(ctx.settings.clock.now());
    Ok(match suspension(refs) {
        None => Outcome {
            verdict: Verdict::Ready {
                reason: Reason::Available,
                message: String::new(),
            },
            phase: ServicePhase::Active,
            requeue,
        },
        Some(why) => Outcome {
            verdict: Verdict::Ready {
                reason: Reason::Suspended,
                message: why,
            },
            phase: ServicePhase::Suspended,
            requeue,
        },
    })
}

/// `ObserveOnly`: the license is found ([`licenses::observe`]) and reported — id and type in
/// `status.license`, the id as `externalName`, its expiry and IP — and nothing at the
/// licensing server is changed; differences from the spec are shown in the `Ready` message.
async fn observe_only(
    service: &HostingService,
    ctx: &Context,
    need: &Need,
    module: &ProcessingModule,
    status: &mut HostingServiceStatus,
) -> Outcome {
    let (license, differences) = match licenses::observe(ctx, service, need, module, status).await {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    status.external_name = Some(license.id.clone());
    status.ip = Some(license.ip.trim().to_owned()).filter(|ip| !ip.is_empty());
    let expiry = if license.expiredate.trim().is_empty() {
        String::new()
    } else {
        format!(", expires {}", license.expiredate.trim())
    };
    let message = if differences.is_empty() {
        format!(
            "observed license {} of type {}{expiry}; matches the spec",
            license.id, license.pricelist
        )
    } else {
        format!(
            "observed only: license {} of type {}{expiry} {}",
            license.id,
            license.pricelist,
            differences.join("; ")
        )
    };
    Outcome {
        verdict: Verdict::Ready {
            reason: Reason::Observed,
            message,
        },
        phase: if license.status == LicenseStatus::Suspended {
            ServicePhase::Suspended
        } else {
            ServicePhase::Active
        },
        requeue: None,
    }
}

/// Terminated or deleted: the license goes to the pool (see [`licenses::release`]).
pub async fn remove(
    service: &HostingService,
    module: &ProcessingModule,
    ctx: &Context,
    status: &mut HostingServiceStatus,
    why: Removal,
) -> Result<(), String> {
    licenses::release(ctx, service, module, LicenseKind::Standalone, status, why).await
}
