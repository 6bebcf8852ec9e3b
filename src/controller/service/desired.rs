//! What a shared hosting service should be at ispmanager, computed purely from the service, its
//! tariff and its client. The reconciler compares this with what the panel reports
//! ([`super::plan`]); nothing here talks to a panel.

use std::collections::BTreeMap;

use crate::api::tariff::ResourceKind;
use crate::api::{ClientSpec, HostingServiceSpec, TariffSpec};
use crate::billing::prices::quantity_of;
use crate::naming::{self, MacroValues};

/// The ispmanager account a service declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredAccount {
    /// The ispmanager username (from the tariff's template); the service's external name.
    pub username: String,
    /// The service's site: `spec.domain`, or the tariff's default-domain template.
    pub domain: String,
    /// The account template (preset) the user is created from.
    pub preset: String,
    /// `limit_*` fields from the tariff's resources and the service's quantities, in the
    /// panel's units.
    pub limits: BTreeMap<String, String>,
    /// The client's display name (ispmanager `fullname`).
    pub fullname: String,
}

/// The ispmanager limit a resource sets and the factor from the manifest's unit to the panel's;
/// `None` for resources ispmanager accounts do not have (VPS cores, license nodes).
pub fn panel_limit(kind: ResourceKind) -> Option<(&'static str, u64)> {
    use ResourceKind::*;
    Some(match kind {
        DiskSpace => ("limit_quota", 1),
        // Manifests count traffic in GiB; ispmanager stores MiB.
        Traffic => ("limit_traff", 1024),
        WebDomains => ("limit_webdomains", 1),
        Domains => ("limit_domains", 1),
        EmailDomains => ("limit_emaildomains", 1),
        Mailboxes => ("limit_emails", 1),
        Databases => ("limit_db", 1),
        CpuLoad => ("limit_cpu", 1),
        CpuTime => ("limit_process", 1),
        Memory => ("limit_memory", 1),
        Ipv4Addresses => ("limit_ipv4addrs", 1),
        Ipv6Addresses => ("limit_ipv6addrs", 1),
        _ => return None,
    })
}

/// The limits of a service: every tariff resource ispmanager knows, at the service's quantity
/// (or the included amount when the service declares none).
pub fn limits(tariff: &TariffSpec, service: &HostingServiceSpec) -> BTreeMap<String, String> {
    tariff
        .resources
        .iter()
        .filter_map(|r| {
            let (field, factor) = panel_limit(r.name)?;
            let amount = quantity_of(service, r).saturating_mul(factor);
            Some((field.to_owned(), amount.to_string()))
        })
        .collect()
}

/// The account of a `SharedHosting` service, or the reason it cannot be made (a field and why).
pub fn account(
    service_name: &str,
    client_name: &str,
    service: &HostingServiceSpec,
    tariff: &TariffSpec,
    client: &ClientSpec,
) -> Result<DesiredAccount, String> {
    let hosting = tariff
        .hosting
        .as_ref()
        .ok_or("tariff spec.hosting: a SharedHosting tariff needs a hosting block")?;
    let mut values = MacroValues {
        service_name,
        client_name,
        account_id: client.account_id,
        domain: None,
    };
    let domain = match &service.domain {
        Some(d) => d.to_lowercase(),
        None => naming::expand_domain(&hosting.default_domain_template, &values)
            .map_err(|e| format!("tariff spec.hosting.defaultDomainTemplate: {e}"))?,
    };
    values.domain = Some(&domain);
    let username = naming::expand_username(&hosting.username_template, &values)
        .map_err(|e| format!("tariff spec.hosting.usernameTemplate: {e}"))?;
    Ok(DesiredAccount {
        username,
        preset: hosting.account_template.clone(),
        limits: limits(tariff, service),
        fullname: client.display_name.clone(),
        domain,
    })
}
