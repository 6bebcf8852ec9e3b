//! Rules across the objects of one set: names unique per kind and namespace, references that
//! resolve to an object of the right type, and each service checked against its tariff and
//! client (orderable period, resources in bounds, client groups, services per client, minimum
//! order period, tariff end date, control panel and OS choices, the username it will get).

use std::collections::HashMap;

use jiff::ToSpan;

use super::decode::Object;
use super::rules::orderable_periods;
use super::{Entry, Problem};
use crate::api::common::{Date, LocalObjectReference};
use crate::api::tariff::{DurationUnit, ProductType};
use crate::api::{Client, HostingService, ModuleType, ProcessingModule, Tariff};
use crate::naming::{self, MacroValues};

/// Options that change what the set must contain.
#[derive(Clone, Debug, Default)]
pub struct RefOptions {
    /// Secrets live outside the set (sealed or external secrets): do not require them.
    pub external_secrets: bool,
    /// The services judged were ordered already (the controller judging a service it created):
    /// skip the order policies, which judge a sale on its own day and must not turn a tariff
    /// edit into a retroactive verdict on history (issue 15).
    pub placed_order: bool,
}

/// An index of the set by namespace, kind and name.
struct Index<'a> {
    entries: &'a [Entry],
    by_key: HashMap<(&'a str, &'a str, &'a str), usize>,
}

impl<'a> Index<'a> {
    fn get(&self, namespace: &str, kind: &str, name: &str) -> Option<&'a Entry> {
        self.by_key
            .get(&(namespace, kind, name))
            .map(|&i| &self.entries[i])
    }
    fn module(&self, ns: &str, name: &str) -> Option<&'a ProcessingModule> {
        match self.get(ns, "ProcessingModule", name).map(|e| &e.object) {
            Some(Object::ProcessingModule(m)) => Some(m),
            _ => None,
        }
    }
    fn tariff(&self, ns: &str, name: &str) -> Option<&'a Tariff> {
        match self.get(ns, "Tariff", name).map(|e| &e.object) {
            Some(Object::Tariff(t)) => Some(t),
            _ => None,
        }
    }
    fn client(&self, ns: &str, name: &str) -> Option<&'a Client> {
        match self.get(ns, "Client", name).map(|e| &e.object) {
            Some(Object::Client(c)) => Some(c),
            _ => None,
        }
    }
}

/// Checks the set and appends what is wrong to `problems`.
pub fn check(entries: &[Entry], options: &RefOptions, problems: &mut Vec<Problem>) {
    let mut by_key = HashMap::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let key = (e.header.namespace.as_str(), e.kind(), e.name());
        if let Some(&first) = by_key.get(&key) {
            let f: &Entry = &entries[first];
            problems.push(e.problem(
                Some("metadata.name"),
                format!(
                    "{} {:?} is already defined in {} (document {})",
                    e.kind(),
                    e.name(),
                    f.file,
                    f.document
                ),
            ));
        } else {
            by_key.insert(key, i);
        }
    }
    let index = Index { entries, by_key };
    let mut ctx = Ctx {
        index: &index,
        options,
        problems,
        services_per: HashMap::new(),
    };
    for e in entries {
        match &e.object {
            Object::ProcessingModule(m) => ctx.module(e, m),
            Object::Tariff(t) => ctx.tariff(e, t),
            Object::HostingService(s) => ctx.service(e, s),
            Object::LicensePool(p) => {
                ctx.module_of_type(
                    e,
                    "spec.licensingModuleRef",
                    &p.spec.licensing_module_ref,
                    ModuleType::Licensing,
                );
            }
            Object::ServerPool(p) => {
                ctx.module_of_type(
                    e,
                    "spec.vmmanagerModuleRef",
                    &p.spec.vmmanager_module_ref,
                    ModuleType::VMmanager,
                );
                ctx.exists(e, "spec.poolClientRef", "Client", &p.spec.pool_client_ref);
            }
            Object::Client(_) | Object::Secret { .. } | Object::Other => {}
        }
    }
    one_pool_per_module(&index, ctx.problems);
}

struct Ctx<'i, 'a> {
    index: &'i Index<'a>,
    options: &'i RefOptions,
    problems: &'i mut Vec<Problem>,
    /// Services seen so far per (namespace, client, tariff), for `servicesPerClient`.
    services_per: HashMap<(String, String, String), u32>,
}

impl Ctx<'_, '_> {
    fn report(&mut self, e: &Entry, field: &str, reason: String) {
        self.problems.push(e.problem(Some(field), reason));
    }

    fn exists(&mut self, e: &Entry, field: &str, kind: &str, r: &LocalObjectReference) -> bool {
        let found = self.index.get(&e.header.namespace, kind, &r.name).is_some();
        if !found {
            self.report(
                e,
                field,
                format!(
                    "{kind} {:?} is not in namespace {:?} of this set",
                    r.name, e.header.namespace
                ),
            );
        }
        found
    }

    fn module_of_type(
        &mut self,
        e: &Entry,
        field: &str,
        r: &LocalObjectReference,
        want: ModuleType,
    ) -> bool {
        if !self.exists(e, field, "ProcessingModule", r) {
            return false;
        }
        match self.index.module(&e.header.namespace, &r.name) {
            Some(m) if m.spec.type_ != want => {
                let reason = format!(
                    "ProcessingModule {:?} is of type {:?}; {:?} is needed here",
                    r.name, m.spec.type_, want
                );
                self.report(e, field, reason);
                false
            }
            _ => true,
        }
    }

    fn secret(&mut self, e: &Entry, field: &str, r: &LocalObjectReference, keys: &[&str]) {
        if self.options.external_secrets {
            return;
        }
        match self.index.get(&e.header.namespace, "Secret", &r.name).map(|s| &s.object) {
            None => self.report(
                e,
                field,
                format!("Secret {:?} is not in this set (pass --external-secrets if Secrets are managed elsewhere)", r.name),
            ),
            Some(Object::Secret { keys: have }) => {
                for k in keys.iter().filter(|k| !have.contains(**k)) {
                    self.report(e, field, format!("Secret {:?} has no key {k:?}", r.name));
                }
            }
            Some(_) => {}
        }
    }

    fn module(&mut self, e: &Entry, m: &ProcessingModule) {
        self.secret(
            e,
            "spec.credentialsSecretRef",
            &m.spec.credentials_secret_ref,
            &["username", "password"],
        );
        if let Some(ca) = m.spec.tls.as_ref().and_then(|t| t.ca_secret_ref.as_ref()) {
            self.secret(e, "spec.tls.caSecretRef", ca, &["ca.crt"]);
        }
        if let Some(r) = m
            .spec
            .vmmanager
            .as_ref()
            .and_then(|v| v.licensing_module_ref.as_ref())
        {
            self.module_of_type(
                e,
                "spec.vmmanager.licensingModuleRef",
                r,
                ModuleType::Licensing,
            );
        }
        if let Some(lic) = &m.spec.licensing {
            for (i, c) in lic.period_comparisons.iter().enumerate() {
                if let Some(t) = &c.tariff_ref {
                    self.exists(
                        e,
                        &format!("spec.licensing.periodComparisons[{i}].tariffRef"),
                        "Tariff",
                        t,
                    );
                }
            }
        }
    }

    fn tariff(&mut self, e: &Entry, t: &Tariff) {
        let ns = &e.header.namespace;
        let want = match t.spec.product_type {
            ProductType::SharedHosting => ModuleType::ISPmanager,
            ProductType::VirtualServer => ModuleType::VMmanager,
            ProductType::SoftwareLicense => ModuleType::Licensing,
        };
        let sells_panel = t
            .spec
            .virtual_server
            .as_ref()
            .and_then(|v| v.control_panel_license.as_ref())
            .is_some_and(|cp| cp.options.iter().any(|o| o.license_type != "nopanel"));
        for (i, r) in t.spec.processing_modules.iter().enumerate() {
            let field = format!("spec.processingModules[{i}]");
            if self.module_of_type(e, &field, r, want) && sells_panel {
                let licensing = self
                    .index
                    .module(ns, &r.name)
                    .and_then(|m| m.spec.vmmanager.as_ref()?.licensing_module_ref.as_ref());
                if licensing.is_none() {
                    self.report(
                        e,
                        &field,
                        format!("the tariff sells control-panel licenses but module {:?} has no vmmanager.licensingModuleRef", r.name),
                    );
                }
            }
        }
        if let Some(ns_ref) = t.spec.hosting.as_ref().and_then(|h| h.name_server.as_ref()) {
            self.module_of_type(
                e,
                "spec.hosting.nameServer.processingModuleRef",
                &ns_ref.processing_module_ref,
                ModuleType::ISPmanager,
            );
        }
    }

    fn service(&mut self, e: &Entry, s: &HostingService) {
        let ns = &e.header.namespace;
        let spec = &s.spec;
        let has_tariff = self.exists(e, "spec.tariffRef", "Tariff", &spec.tariff_ref);
        let has_client = self.exists(e, "spec.clientRef", "Client", &spec.client_ref);
        if let Some(secret) = &spec.write_connection_secret_to_ref {
            let clash = self.index.entries.iter().any(|o| match &o.object {
                Object::ProcessingModule(m) => {
                    o.header.namespace == *ns && m.spec.credentials_secret_ref.name == secret.name
                }
                _ => false,
            });
            if clash {
                self.report(e, "spec.writeConnectionSecretToRef", format!("Secret {:?} holds a processing module's credentials and must not be overwritten", secret.name));
            }
        }
        let (Some(tariff), Some(client)) = (
            self.index.tariff(ns, &spec.tariff_ref.name),
            self.index.client(ns, &spec.client_ref.name),
        ) else {
            return;
        };
        if !(has_tariff && has_client) {
            return;
        }
        let ts = &tariff.spec;
        let tname = &spec.tariff_ref.name;

        if !self.options.placed_order {
            self.order_policies(e, s, ts, client);
        }
        let tariffs = |name: &str| self.index.tariff(ns, name).map(|t| &t.spec);
        for (field, reason) in super::service_events::problems(spec, ts, &tariffs) {
            self.report(e, &field, reason);
        }
        if !self.options.placed_order {
            for (field, reason) in super::service_events::change_sales(spec, ts, &tariffs) {
                self.report(e, &field, reason);
            }
        }

        if let Some(pin) = &spec.processing_module_ref
            && !ts.processing_modules.contains(pin)
        {
            self.report(
                e,
                "spec.processingModuleRef",
                format!(
                    "module {:?} is not one of tariff {tname:?}'s processingModules",
                    pin.name
                ),
            );
        }
        for (i, q) in spec.resources.iter().enumerate() {
            let field = format!("spec.resources[{i}].quantity");
            match ts.resources.iter().find(|r| r.name == q.name) {
                None => self.report(
                    e,
                    &format!("spec.resources[{i}].name"),
                    format!("tariff {tname:?} has no resource {}", q.name.as_str()),
                ),
                Some(r) if q.quantity < r.min || q.quantity > r.max => self.report(
                    e,
                    &field,
                    format!(
                        "{} is outside tariff {tname:?}'s bounds {}..{} for {}",
                        q.quantity,
                        r.min,
                        r.max,
                        q.name.as_str()
                    ),
                ),
                Some(r) if (q.quantity - r.min) % r.step != 0 => self.report(
                    e,
                    &field,
                    format!(
                        "{} is not on tariff {tname:?}'s step: {}, {}, {}, ...",
                        q.quantity,
                        r.min,
                        r.min + r.step,
                        r.min + 2 * r.step
                    ),
                ),
                Some(_) => {}
            }
        }
        self.product_fields(e, s, tariff, client);
    }

    /// The tariff's order policies (sold periods, end date, minimum order period, client groups,
    /// services per client): rules for a sale on its own day, so skipped for a service whose
    /// order was placed already ([`RefOptions::placed_order`]); a later tariff edit is never
    /// retroactive.
    fn order_policies(
        &mut self,
        e: &Entry,
        s: &HostingService,
        ts: &crate::api::tariff::TariffSpec,
        client: &Client,
    ) {
        let ns = &e.header.namespace;
        let spec = &s.spec;
        let tname = &spec.tariff_ref.name;
        let orderable = orderable_periods(ts);
        if !orderable.contains(&spec.period) {
            let list: Vec<&str> = orderable.iter().map(|p| p.as_str()).collect();
            self.report(
                e,
                "spec.period",
                format!(
                    "tariff {tname:?} does not sell {} (orderable: {})",
                    spec.period,
                    list.join(", ")
                ),
            );
        }
        for (i, r) in spec.renewals.iter().enumerate() {
            if !orderable.contains(&r.period) {
                self.report(
                    e,
                    &format!("spec.renewals[{i}].period"),
                    format!("tariff {tname:?} does not sell {}", r.period),
                );
            }
        }
        if let Some(end) = ts.policies.end_date {
            if spec.start_date > end {
                self.report(
                    e,
                    "spec.startDate",
                    format!(
                        "tariff {tname:?} could be ordered only until {end} (policies.endDate)"
                    ),
                );
            }
            for (i, r) in spec
                .renewals
                .iter()
                .enumerate()
                .filter(|(_, r)| r.paid_on > end)
            {
                self.report(
                    e,
                    &format!("spec.renewals[{i}].paidOn"),
                    format!(
                        "{} is after the tariff's end date {end}: it can no longer be renewed",
                        r.paid_on
                    ),
                );
            }
        }
        if let Some(min) = &ts.policies.minimum_order_period {
            let span = match min.unit {
                DurationUnit::Days => (min.length as i64).days(),
                DurationUnit::Months => (min.length as i64).months(),
            };
            let covers = |start: Date| {
                let ordered = start.0.checked_add((spec.period.months() as i64).months());
                let minimum = start.0.checked_add(span);
                matches!((ordered, minimum), (Ok(o), Ok(m)) if o >= m)
            };
            if !covers(spec.start_date) {
                let unit = if min.unit == DurationUnit::Days {
                    "days"
                } else {
                    "months"
                };
                let reason = format!(
                    "{} is shorter than tariff {tname:?}'s minimum order period of {} {unit}",
                    spec.period, min.length
                );
                self.report(e, "spec.period", reason);
            }
        }

        let pol = &ts.policies;
        let groups = &client.spec.groups;
        if !pol.allowed_client_groups.is_empty()
            && !groups.iter().any(|g| pol.allowed_client_groups.contains(g))
        {
            self.report(
                e,
                "spec.clientRef",
                format!(
                    "client {:?} is in none of tariff {tname:?}'s allowed groups {:?}",
                    spec.client_ref.name, pol.allowed_client_groups
                ),
            );
        }
        if let Some(g) = groups
            .iter()
            .find(|g| pol.forbidden_client_groups.contains(g))
        {
            self.report(
                e,
                "spec.clientRef",
                format!(
                    "client {:?} is in group {g:?}, which tariff {tname:?} forbids",
                    spec.client_ref.name
                ),
            );
        }
        if let Some(limit) = pol.services_per_client {
            let exempt = groups
                .iter()
                .any(|g| pol.services_per_client_exempt_groups.contains(g));
            let count = self
                .services_per
                .entry((ns.clone(), spec.client_ref.name.clone(), tname.clone()))
                .or_default();
            *count += 1;
            if *count > limit && !exempt {
                let reason = format!(
                    "client {:?} already has {limit} services of tariff {tname:?} (policies.servicesPerClient)",
                    spec.client_ref.name
                );
                self.report(e, "spec.clientRef", reason);
            }
        }
    }

    /// Fields that belong to one product type, and the names a hosting account will get.
    fn product_fields(&mut self, e: &Entry, s: &HostingService, tariff: &Tariff, client: &Client) {
        let spec = &s.spec;
        let product = tariff.spec.product_type;
        let tname = &spec.tariff_ref.name;
        let only = |field: &str, owner: ProductType, set: bool| {
            (set && product != owner).then(|| (field.to_owned(), owner))
        };
        for (field, owner) in [
            only(
                "spec.domain",
                ProductType::SharedHosting,
                spec.domain.is_some(),
            ),
            only(
                "spec.controlPanel",
                ProductType::VirtualServer,
                spec.control_panel.is_some(),
            ),
            only(
                "spec.operatingSystem",
                ProductType::VirtualServer,
                spec.operating_system.is_some(),
            ),
            only(
                "spec.licenseIp",
                ProductType::SoftwareLicense,
                spec.license_ip.is_some(),
            ),
        ]
        .into_iter()
        .flatten()
        {
            self.report(
                e,
                &field,
                format!("only applies to {owner:?} services; tariff {tname:?} sells {product:?}"),
            );
        }
        match product {
            ProductType::SoftwareLicense if spec.license_ip.is_none() => {
                self.report(
                    e,
                    "spec.licenseIp",
                    "is required for SoftwareLicense services: the IP the license is bound to"
                        .into(),
                );
            }
            ProductType::VirtualServer => {
                let Some(vs) = &tariff.spec.virtual_server else {
                    return;
                };
                if let Some(os) = &spec.operating_system
                    && !vs.operating_systems.contains(os)
                {
                    self.report(
                        e,
                        "spec.operatingSystem",
                        format!("{os:?} is not one of tariff {tname:?}'s operatingSystems"),
                    );
                }
                if let Some(panel) = &spec.control_panel {
                    match &vs.control_panel_license {
                        None => self.report(
                            e,
                            "spec.controlPanel",
                            format!("tariff {tname:?} has no controlPanelLicense addon"),
                        ),
                        Some(cp) if !cp.options.iter().any(|o| &o.name == panel) => {
                            let names: Vec<&str> =
                                cp.options.iter().map(|o| o.name.as_str()).collect();
                            self.report(
                                e,
                                "spec.controlPanel",
                                format!(
                                    "{panel:?} is not one of tariff {tname:?}'s options: {}",
                                    names.join(", ")
                                ),
                            );
                        }
                        Some(_) => {}
                    }
                }
            }
            ProductType::SharedHosting => {
                let Some(h) = &tariff.spec.hosting else {
                    return;
                };
                let mut values = MacroValues {
                    service_name: e.name(),
                    client_name: &spec.client_ref.name,
                    account_id: client.spec.account_id,
                    domain: spec.domain.as_deref(),
                };
                let generated;
                if values.domain.is_none() {
                    match naming::expand_domain(&h.default_domain_template, &values) {
                        Ok(d) => {
                            generated = d;
                            values.domain = Some(&generated);
                        }
                        Err(err) => {
                            self.report(e, "spec.domain", format!("unset, and tariff {tname:?}'s defaultDomainTemplate fails: {err}"));
                            return;
                        }
                    }
                }
                if let Err(err) = naming::expand_username(&h.username_template, &values) {
                    let field = if h.username_template.contains("@ID@") {
                        "metadata.name"
                    } else {
                        "spec.tariffRef"
                    };
                    self.report(
                        e,
                        field,
                        format!(
                            "with tariff {tname:?}'s usernameTemplate {:?}: {err}",
                            h.username_template
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}

/// Two pools at one licensing module would hand the same license out twice.
fn one_pool_per_module(index: &Index, problems: &mut Vec<Problem>) {
    let mut seen: HashMap<(&str, &str), &Entry> = HashMap::new();
    for e in index.entries {
        if let Object::LicensePool(p) = &e.object {
            let key = (
                e.header.namespace.as_str(),
                p.spec.licensing_module_ref.name.as_str(),
            );
            if let Some(first) = seen.insert(key, e) {
                problems.push(e.problem(
                    Some("spec.licensingModuleRef"),
                    format!(
                        "LicensePool {:?} already pools module {:?}; one pool per licensing module",
                        first.name(),
                        key.1
                    ),
                ));
            }
        }
    }
}
