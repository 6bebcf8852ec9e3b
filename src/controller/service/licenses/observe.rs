//! `observe`: the licence of an `ObserveOnly` service, found and reported without a change.

use super::*;

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
    let lic = connect(ctx, module).await?;
    let remoteid = remote_id(service, need.kind);
    let all = lic
        .licenses()
        .await
        .map_err(|e| failed(Reason::PanelError, format!("listing licenses: {e}")))?;
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
            Reason::ExternalNotFound,
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
