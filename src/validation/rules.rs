//! Rules about one object: garde's field rules (the same bounds and patterns the CRD schema
//! carries) and the cross-field rules no schema can say (min <= included <= max, a block per
//! product type, templates that fit in 16 characters, dates in order, ...).

use std::collections::HashSet;
use std::hash::Hash;

use garde::Validate;

use super::FieldProblem;
use super::decode::Object;
use crate::api::common::Period;
use crate::api::patterns;
use crate::api::processing_module::{
    DeploymentComplete, ModuleType, ProcessingModuleSpec, VmManagerApiVersion,
};
use crate::api::server_pool::ServerPoolSpec;
use crate::api::tariff::{
    ChargingMode, LateFeeType, ProductType, ResourceKind, TariffChangePolicy, TariffSpec,
};
use crate::api::{ClientSpec, HostingServiceSpec, LicensePoolSpec};
use crate::naming;

/// All problems of one decoded object.
pub fn check(object: &Object) -> Vec<FieldProblem> {
    let mut p = Problems::default();
    match object {
        Object::ProcessingModule(o) => {
            p.garde(&o.spec);
            module(&o.spec, &mut p);
        }
        Object::Tariff(o) => {
            p.garde(&o.spec);
            tariff(&o.spec, &mut p);
        }
        Object::Client(o) => {
            p.garde(&o.spec);
            client(&o.spec, &mut p);
        }
        Object::HostingService(o) => {
            p.garde(&o.spec);
            service(&o.spec, &mut p);
        }
        Object::LicensePool(o) => {
            p.garde(&o.spec);
            license_pool(&o.spec, &mut p);
        }
        Object::ServerPool(o) => {
            p.garde(&o.spec);
            server_pool(&o.spec, &mut p);
        }
        Object::Secret { .. } | Object::Other => {}
    }
    p.0
}

/// Collects problems; paths are written as in manifests.
#[derive(Default)]
pub struct Problems(pub Vec<FieldProblem>);

impl Problems {
    pub fn push(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldProblem::at(field, reason));
    }

    /// Runs garde on a spec and records its findings under `spec.`.
    fn garde<T: Validate<Context = ()>>(&mut self, spec: &T) {
        if let Err(report) = spec.validate() {
            for (path, error) in report.iter() {
                let field = manifest_path(&path.to_string());
                self.push(
                    if field.is_empty() {
                        "spec".to_owned()
                    } else {
                        format!("spec.{field}")
                    },
                    plain(error.message()),
                );
            }
        }
    }
}

/// garde names fields as Rust does (`processing_modules[0]`); manifests use camelCase.
fn manifest_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut upper = false;
    for c in path.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// garde's messages in plain words: patterns by their description, bounds as requirements.
fn plain(message: &str) -> String {
    if let Some(re) = message
        .strip_prefix("does not match pattern /")
        .and_then(|m| m.strip_suffix('/'))
    {
        return patterns::describe(re).map_or_else(|| format!("must match {re}"), str::to_owned);
    }
    if let Some(n) = message.strip_prefix("length is lower than ") {
        return if n == "1" {
            "must not be empty".into()
        } else {
            format!("must have at least {n} characters or items")
        };
    }
    if let Some(n) = message.strip_prefix("length is greater than ") {
        return format!("must have at most {n} characters or items");
    }
    if let Some(n) = message.strip_prefix("lower than ") {
        return format!("must be at least {n}");
    }
    if let Some(n) = message.strip_prefix("greater than ") {
        return format!("must be at most {n}");
    }
    message.to_owned()
}

/// Reports each repeated item of `items` at its index.
fn unique<T: Eq + Hash + std::fmt::Debug, I: IntoIterator<Item = T>>(
    items: I,
    field: &str,
    what: &str,
    p: &mut Problems,
) {
    let mut seen = HashSet::new();
    for (i, item) in items.into_iter().enumerate() {
        let text = format!("{item:?}");
        if !seen.insert(item) {
            p.push(
                format!("{field}[{i}]"),
                format!("{what} {text} appears more than once"),
            );
        }
    }
}

fn module(spec: &ProcessingModuleSpec, p: &mut Problems) {
    let blocks = [
        (
            "ispmanager",
            spec.ispmanager.is_some(),
            ModuleType::ISPmanager,
        ),
        ("vmmanager", spec.vmmanager.is_some(), ModuleType::VMmanager),
        ("licensing", spec.licensing.is_some(), ModuleType::Licensing),
    ];
    for (field, present, owner) in blocks {
        if present && spec.type_ != owner {
            p.push(
                format!("spec.{field}"),
                format!(
                    "only applies to modules of type {owner:?}, this one is {:?}",
                    spec.type_
                ),
            );
        }
    }
    if let Some(tls) = &spec.tls
        && tls.insecure_skip_verify
        && tls.ca_secret_ref.is_some()
    {
        p.push(
            "spec.tls",
            "set either insecureSkipVerify or caSecretRef, not both",
        );
    }
    if spec.type_ == ModuleType::VMmanager {
        let vm = spec.vmmanager.clone().unwrap_or_default();
        let path = spec.url.trim_end_matches('/');
        match vm.api_version {
            VmManagerApiVersion::V5 if !path.ends_with("/vmmgr") => {
                p.push("spec.url", "VMmanager 5 URLs must end with /vmmgr (seed 004)")
            }
            VmManagerApiVersion::V6 if path.ends_with("/vmmgr") => p.push(
                "spec.url",
                "ends with /vmmgr, the VMmanager 5 API; set spec.vmmanager.apiVersion: V5, or give VMmanager 6's base URL",
            ),
            _ => {}
        }
        if vm.deployment_complete == DeploymentComplete::AfterRecipe && !vm.use_recipes {
            p.push(
                "spec.vmmanager.deploymentComplete",
                "AfterRecipe needs useRecipes: true",
            );
        }
    }
    if let Some(lic) = &spec.licensing {
        let keys = lic.period_comparisons.iter().map(|c| {
            (
                c.service_period,
                c.tariff_ref.as_ref().map(|r| r.name.clone()),
            )
        });
        unique(
            keys,
            "spec.licensing.periodComparisons",
            "service period and tariff",
            p,
        );
        unique(
            lic.reusable_license_types.iter(),
            "spec.licensing.reusableLicenseTypes",
            "license type",
            p,
        );
    }
}

/// The periods a tariff sells: priced and not disabled.
pub fn orderable_periods(spec: &TariffSpec) -> Vec<Period> {
    Period::ALL
        .into_iter()
        .filter(|&d| spec.prices.get(d).is_some() && !spec.disabled_periods.contains(&d))
        .collect()
}

fn tariff(spec: &TariffSpec, p: &mut Problems) {
    if let Some(zone) = &spec.time_zone
        && !crate::billing::zone::is_known(zone)
    {
        p.push(
            "spec.timeZone",
            format!(
                "{zone:?} is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)"
            ),
        );
    }
    let blocks = [
        (
            "hosting",
            spec.hosting.is_some(),
            ProductType::SharedHosting,
        ),
        (
            "virtualServer",
            spec.virtual_server.is_some(),
            ProductType::VirtualServer,
        ),
        (
            "license",
            spec.license.is_some(),
            ProductType::SoftwareLicense,
        ),
    ];
    for (field, present, owner) in blocks {
        match (present, spec.product_type == owner) {
            (false, true) => p.push(
                format!("spec.{field}"),
                format!("is required for productType {owner:?}"),
            ),
            (true, false) => p.push(
                format!("spec.{field}"),
                format!("only applies to productType {owner:?}"),
            ),
            _ => {}
        }
    }
    unique(
        spec.processing_modules.iter().map(|r| &r.name),
        "spec.processingModules",
        "module",
        p,
    );
    unique(
        spec.disabled_periods.iter(),
        "spec.disabledPeriods",
        "period",
        p,
    );
    if orderable_periods(spec).is_empty() {
        p.push("spec.prices", "no period can be ordered: set a price for at least one period that is not in disabledPeriods");
    }
    if let Some(renewal) = &spec.renewal_prices {
        for period in Period::ALL {
            if renewal.get(period).is_some() && spec.prices.get(period).is_none() {
                p.push(
                    format!("spec.renewalPrices.{period}"),
                    format!("the tariff has no order price for {period}, so nothing renews for it"),
                );
            }
        }
    }

    let c = &spec.charging;
    if c.pro_rata_day.is_some() && c.mode != ChargingMode::Calendar {
        p.push("spec.charging.proRataDay", "only applies to mode Calendar");
    }
    if c.mode != ChargingMode::Daily {
        for (set, field) in [
            (c.daily_cost_from_order_period, "dailyCostFromOrderPeriod"),
            (c.client_may_suspend, "clientMaySuspend"),
            (c.charge_while_suspended, "chargeWhileSuspended"),
        ] {
            if set {
                p.push(
                    format!("spec.charging.{field}"),
                    "only applies to mode Daily",
                );
            }
        }
    }
    if c.charge_while_suspended && !c.client_may_suspend {
        p.push(
            "spec.charging.chargeWhileSuspended",
            "needs clientMaySuspend: true",
        );
    }

    unique(
        spec.resources.iter().map(|r| r.name),
        "spec.resources",
        "resource",
        p,
    );
    for (i, r) in spec.resources.iter().enumerate() {
        let at = |f: &str| format!("spec.resources[{i}].{f}");
        if !r.name.applies_to(spec.product_type) {
            p.push(
                at("name"),
                format!(
                    "{} is not a resource of productType {:?}",
                    r.name.as_str(),
                    spec.product_type
                ),
            );
        }
        if r.min > r.max {
            p.push(
                at("min"),
                format!("{} is greater than max ({})", r.min, r.max),
            );
        } else if r.included < r.min || r.included > r.max {
            p.push(
                at("included"),
                format!("{} is outside min..max ({}..{})", r.included, r.min, r.max),
            );
        } else {
            if (r.included - r.min) % r.step != 0 {
                p.push(
                    at("included"),
                    format!(
                        "{} is not min ({}) plus a multiple of step ({})",
                        r.included, r.min, r.step
                    ),
                );
            }
            if (r.max - r.min) % r.step != 0 {
                p.push(
                    at("max"),
                    format!(
                        "{} is not min ({}) plus a multiple of step ({})",
                        r.max, r.min, r.step
                    ),
                );
            }
        }
    }
    if spec
        .resources
        .iter()
        .any(|r| r.name == ResourceKind::LicenseNodes)
        && spec
            .license
            .as_ref()
            .is_some_and(|l| l.nodes_addon_id.is_none())
    {
        p.push(
            "spec.license.nodesAddonId",
            "is required when the tariff sells the licenseNodes resource",
        );
    }

    let pol = &spec.policies;
    for (i, g) in pol.forbidden_client_groups.iter().enumerate() {
        if pol.allowed_client_groups.contains(g) {
            p.push(
                format!("spec.policies.forbiddenClientGroups[{i}]"),
                format!("group {g:?} is also in allowedClientGroups"),
            );
        }
    }
    if !pol.services_per_client_exempt_groups.is_empty() && pol.services_per_client.is_none() {
        p.push(
            "spec.policies.servicesPerClientExemptGroups",
            "needs servicesPerClient: there is no limit to be exempt from",
        );
    }
    let fee = &pol.late_renewal_fee;
    let wants = |t: LateFeeType| fee.type_ == t;
    match (wants(LateFeeType::Fixed), fee.amount.is_some()) {
        (true, false) => p.push(
            "spec.policies.lateRenewalFee.amount",
            "is required for type Fixed",
        ),
        (false, true) => p.push(
            "spec.policies.lateRenewalFee.amount",
            "only applies to type Fixed",
        ),
        _ => {}
    }
    match (wants(LateFeeType::Percent), fee.percent.is_some()) {
        (true, false) => p.push(
            "spec.policies.lateRenewalFee.percent",
            "is required for type Percent",
        ),
        (false, true) => p.push(
            "spec.policies.lateRenewalFee.percent",
            "only applies to type Percent",
        ),
        _ => {}
    }
    match (
        pol.tariff_change.policy == TariffChangePolicy::FullPayment,
        pol.tariff_change.renew_from.is_some(),
    ) {
        (true, false) => p.push(
            "spec.policies.tariffChange.renewFrom",
            "is required for policy FullPayment",
        ),
        (false, true) => p.push(
            "spec.policies.tariffChange.renewFrom",
            "only applies to policy FullPayment",
        ),
        _ => {}
    }

    if let Some(h) = &spec.hosting {
        if let Err(e) = naming::check_username_template(&h.username_template) {
            p.push("spec.hosting.usernameTemplate", e);
        }
        if let Err(e) = naming::check_domain_template(&h.default_domain_template) {
            p.push("spec.hosting.defaultDomainTemplate", e);
        }
    }
    if let Some(vs) = &spec.virtual_server {
        unique(
            vs.operating_systems.iter(),
            "spec.virtualServer.operatingSystems",
            "operating system",
            p,
        );
        if let Some(os) = &vs.default_operating_system
            && !vs.operating_systems.contains(os)
        {
            p.push(
                "spec.virtualServer.defaultOperatingSystem",
                format!("{os:?} is not in operatingSystems"),
            );
        }
        if let Some(cp) = &vs.control_panel_license {
            unique(
                cp.options.iter().map(|o| &o.name),
                "spec.virtualServer.controlPanelLicense.options",
                "option",
                p,
            );
            if !cp.options.iter().any(|o| o.name == cp.default) {
                p.push(
                    "spec.virtualServer.controlPanelLicense.default",
                    format!("{:?} is not one of the options", cp.default),
                );
            }
        }
    }
}

fn client(spec: &ClientSpec, p: &mut Problems) {
    unique(spec.groups.iter(), "spec.groups", "group", p);
    if spec.suspension_reason.is_some() && !spec.suspended {
        p.push(
            "spec.suspensionReason",
            "only applies while suspended is true",
        );
    }
}

fn service(spec: &HostingServiceSpec, p: &mut Problems) {
    unique(
        spec.resources.iter().map(|r| r.name),
        "spec.resources",
        "resource",
        p,
    );
    let mut previous = spec.start_date;
    for (i, r) in spec.renewals.iter().enumerate() {
        if r.paid_on < previous {
            let after = if i == 0 {
                format!("startDate ({})", spec.start_date)
            } else {
                format!("the previous renewal ({previous})")
            };
            p.push(
                format!("spec.renewals[{i}].paidOn"),
                format!(
                    "{} is before {after}: renewals are listed in date order",
                    r.paid_on
                ),
            );
        }
        previous = previous.max(r.paid_on);
    }
}

fn license_pool(spec: &LicensePoolSpec, p: &mut Problems) {
    unique(
        spec.license_types.iter(),
        "spec.licenseTypes",
        "license type",
        p,
    );
}

fn server_pool(spec: &ServerPoolSpec, p: &mut Problems) {
    unique(
        spec.configurations.iter().map(|c| &c.name),
        "spec.configurations",
        "configuration",
        p,
    );
    let last = spec.size_by_sales.len().saturating_sub(1);
    let mut previous = 0;
    for (i, bucket) in spec.size_by_sales.iter().enumerate() {
        match bucket.max_sold {
            None if i != last => p.push(
                format!("spec.sizeBySales[{i}].maxSold"),
                "only the last row may leave maxSold unset",
            ),
            Some(_) if i == last => p.push(
                format!("spec.sizeBySales[{i}].maxSold"),
                "the last row must leave maxSold unset, so that every sales figure has a row",
            ),
            Some(max) if max <= previous => p.push(
                format!("spec.sizeBySales[{i}].maxSold"),
                format!("{max} must be greater than the previous row's ({previous})"),
            ),
            Some(max) => previous = max,
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garde_paths_become_manifest_paths() {
        assert_eq!(
            manifest_path("processing_modules[0].name"),
            "processingModules[0].name"
        );
        assert_eq!(
            manifest_path("virtual_server.memoryMiB"),
            "virtualServer.memoryMiB"
        );
    }

    #[test]
    fn garde_messages_become_plain_requirements() {
        assert_eq!(plain("greater than 1000"), "must be at most 1000");
        assert_eq!(plain("length is lower than 1"), "must not be empty");
        let re = patterns::CURRENCY_RE.as_str();
        assert!(plain(&format!("does not match pattern /{re}/")).contains("ISO 4217"));
    }
}
