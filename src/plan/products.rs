//! The operations of each product, from the controller's pure planning functions: the account
//! diff of shared hosting, the server steps of a virtual server, the licence of a licence
//! service or a server's control panel.

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::observe::{Observed, Seen};
use super::{Action, Operation, ServicePlan, World};
use crate::api::hosting_service::ManagementPolicy;
use crate::api::{EXTERNAL_NAME_ANNOTATION, HostingService, ModuleType};
use crate::controller::service::desired::{self, DesiredAccount};
use crate::controller::service::plan::{self as account_plan, Step};
use crate::controller::service::virtual_server::plan::{self as server_plan, Observed as Server};
use crate::controller::service::virtual_server::{self, DesiredServer};
use crate::controller::service::{Refs, created, suspension};
use crate::panel::ispmanager::User;
use crate::panel::licensing::{License, LicenseStatus};

/// A service before the manifests (if it lives and was not stalled) and after.
pub struct Change<'a> {
    pub before: Option<(&'a HostingService, &'a Refs)>,
    pub after: (&'a HostingService, &'a Refs),
    /// Past its auto-deletion day after the change (and not terminated already).
    pub terminated: bool,
    pub observed: &'a Observed,
}

impl Change<'_> {
    fn service(&self) -> &HostingService {
        self.after.0
    }

    /// Whether the service's panel object should be active after the change.
    fn active(&self) -> bool {
        suspension(self.after.1).is_none()
    }

    fn was_active(&self) -> Option<bool> {
        self.before.map(|(_, refs)| suspension(refs).is_none())
    }

    /// The module the service is on: recorded, declared, or the tariff's first of `type_`
    /// (placement may choose another of equal standing at reconcile time).
    fn module(&self, world: &World, type_: ModuleType) -> Option<String> {
        let s = self.service();
        let ns = s.namespace().unwrap_or_default();
        s.status
            .as_ref()
            .and_then(|st| st.processing_module.clone())
            .or_else(|| {
                s.spec
                    .processing_module_ref
                    .as_ref()
                    .map(|r| r.name.clone())
            })
            .or_else(|| {
                self.after
                    .1
                    .tariff
                    .spec
                    .processing_modules
                    .iter()
                    .find_map(|r| {
                        world
                            .module(&ns, &r.name)
                            .filter(|m| m.spec.type_ == type_)
                            .map(|_| r.name.clone())
                    })
            })
    }

    fn why(&self) -> String {
        match (self.before, self.terminated) {
            (_, true) => "past its auto-deletion day".into(),
            (None, _) => "new service".into(),
            (Some((b, _)), _) if b.spec != self.service().spec => "service edited".into(),
            (Some((_, was)), _) if was.tariff.spec != self.after.1.tariff.spec => {
                format!("tariff {} edited", self.after.1.tariff.name_any())
            }
            _ => match suspension(self.after.1) {
                Some(why) => why,
                None => "the panel differs from the declared state".into(),
            },
        }
    }
}

fn op(plan: &mut ServicePlan, action: Action, detail: String, why: &str, calls: &[&'static str]) {
    plan.operations.push(Operation {
        action,
        detail,
        reason: why.to_owned(),
        panel_calls: calls.to_vec(),
    });
}

/// Observe-only services are never changed; say so instead of planning.
fn observe_only(change: &Change<'_>, plan: &mut ServicePlan) -> bool {
    let only = change.service().spec.management_policy == ManagementPolicy::ObserveOnly;
    if only {
        plan.notes
            .push("managementPolicy ObserveOnly: nothing is changed at the panel".into());
    }
    only
}

/// Shared hosting: `controller::service::plan::plan` against the account the panel lists
/// (`--panels`) or the account the live service declares.
pub fn hosting(change: &Change<'_>, world: &World, plan: &mut ServicePlan) {
    if observe_only(change, plan) {
        return;
    }
    let (service, refs) = change.after;
    let account = |s: &HostingService, r: &Refs| {
        desired::account(
            &s.name_any(),
            &r.client.name_any(),
            &s.spec,
            &r.tariff.spec,
            &r.client.spec,
        )
    };
    let desired = match account(service, refs) {
        Ok(d) => d,
        Err(message) => {
            plan.stalls = Some(format!("InvalidSpec: {message}"));
            return;
        }
    };
    let username = service
        .annotations()
        .get(EXTERNAL_NAME_ANNOTATION)
        .cloned()
        .unwrap_or_else(|| desired.username.clone());
    let ns = service.namespace().unwrap_or_default();
    let module = change
        .module(world, ModuleType::ISPmanager)
        .unwrap_or_default();
    let assumed = change
        .before
        .filter(|(b, _)| created(b))
        .and_then(|(b, r)| account(b, r).ok())
        .map(|d| user_like(&d, &username, change.was_active().unwrap_or(true)));
    let observed = match change.observed.account(&ns, &module, &username) {
        Seen::Found(user) => Some(user.clone()),
        Seen::Missing => None,
        Seen::NotRead if created(service) && assumed.is_none() => {
            plan.notes.push(
                "the account's present state is not known (the live service is stalled): \
                 run with --panels"
                    .into(),
            );
            Some(user_like(&desired, &username, change.active()))
        }
        Seen::NotRead => assumed,
    };
    let why = change.why();
    if change.terminated {
        if observed.is_some() {
            let detail = format!("{username} on {module}");
            op(plan, Action::DeleteAccount, detail, &why, &["user.delete"]);
        }
        return;
    }
    for step in account_plan::plan(&desired, change.active(), observed.as_ref()) {
        let (action, detail, calls): (Action, String, &[&'static str]) = match &step {
            Step::Create => (
                Action::CreateAccount,
                format!(
                    "{username} with template {} and site {}",
                    desired.preset, desired.domain
                ),
                &["user.add.finish"],
            ),
            Step::SetPlan {
                preset: Some(p), ..
            } => (
                Action::ChangeTemplate,
                format!("{username}: template {p} with every limit"),
                &["user.edit"],
            ),
            Step::SetPlan { limits, .. } => (
                Action::ChangeLimits,
                format!("{username}: {}", limit_changes(limits, observed.as_ref())),
                &["user.edit"],
            ),
            Step::Suspend => (Action::SuspendAccount, username.clone(), &["user.suspend"]),
            Step::Resume => (Action::ResumeAccount, username.clone(), &["user.resume"]),
        };
        op(plan, action, detail, &why, calls);
    }
}

/// The account the panel holds when it is as `desired` declares.
fn user_like(desired: &DesiredAccount, username: &str, active: bool) -> User {
    User {
        name: username.to_owned(),
        fullname: desired.fullname.clone(),
        active,
        level: None,
        preset: desired.preset.clone(),
        limits: desired.limits.clone(),
    }
}

/// `limit_quota 1024 -> 2048, limit_db 3 -> 5`.
fn limit_changes(limits: &BTreeMap<String, String>, was: Option<&User>) -> String {
    let parts: Vec<String> = limits
        .iter()
        .map(|(k, v)| {
            let old = was
                .and_then(|u| u.limits.get(k))
                .map_or("unset", String::as_str);
            format!("{k} {old} -> {v}")
        })
        .collect();
    parts.join(", ")
}

/// The step's server, as if the step were done: steps are planned one after the other as the
/// controller sends them, one per reconcile.
fn after_step(server: &mut Server, step: &server_plan::Step, desired: &DesiredServer) {
    use server_plan::Step::*;
    match step {
        Stop => server.running = false,
        Start => server.running = true,
        Restart => server.pending = false,
        Reinstall => server.os = vec![desired.operating_system.clone()],
        Resize {
            cpu_cores,
            memory_mib,
        } => {
            server.cpu_cores = cpu_cores.unwrap_or(server.cpu_cores);
            server.memory_mib = memory_mib.unwrap_or(server.memory_mib);
        }
        GrowDisk { to_mib } => server.disk_mib = Some(*to_mib),
        Done { .. } => {}
    }
}

/// The server the panel holds when it is as `desired` declares.
fn server_like(desired: &DesiredServer, running: bool) -> Server {
    Server {
        running,
        os: vec![desired.operating_system.clone()],
        cpu_cores: u64::from(desired.cpu_cores),
        memory_mib: u64::from(desired.memory_mib),
        disk_mib: Some(u64::from(desired.disk_gib) * 1024),
        pending: false,
    }
}

/// A virtual server: `virtual_server::plan::next_step` until it has nothing left, against the
/// server the live service declares; then its control-panel licence.
pub fn server(change: &Change<'_>, world: &World, pools: &mut PoolStock, plan: &mut ServicePlan) {
    if observe_only(change, plan) {
        return;
    }
    let (service, refs) = change.after;
    let module_name = change.module(world, ModuleType::VMmanager);
    let ns = service.namespace().unwrap_or_default();
    let module = module_name.as_deref().and_then(|m| world.module(&ns, m));
    let use_recipes = module.is_some_and(|m| virtual_server::settings_of(m).use_recipes);
    let v5 = module.is_some_and(|m| {
        virtual_server::settings_of(m).api_version
            == crate::api::processing_module::VmManagerApiVersion::V5
    });
    // VMmanager 5 speaks functions; VMmanager 6 is REST, whose paths the plan does not list.
    let calls = |f: &'static [&'static str]| if v5 { f } else { &[] };
    let desire = |s: &HostingService, r: &Refs| {
        virtual_server::desired_server(&s.spec, &r.tariff.spec, use_recipes)
    };
    let desired = match desire(service, refs) {
        Ok(d) => d,
        Err(message) => {
            plan.stalls = Some(format!("InvalidSpec: {message}"));
            return;
        }
    };
    let why = change.why();
    let host = service
        .annotations()
        .get(EXTERNAL_NAME_ANNOTATION)
        .cloned()
        .unwrap_or_else(|| virtual_server::default_host_name(&ns, &service.name_any()));
    let assumed = change
        .before
        .filter(|(b, _)| created(b))
        .and_then(|(b, r)| desire(b, r).ok())
        .map(|d| server_like(&d, change.was_active().unwrap_or(true)));
    let seen = module_name
        .as_deref()
        .map_or(Seen::NotRead, |m| change.observed.server(&ns, m, &host));
    let existing = match seen {
        Seen::Found(server) => Some(server.clone()),
        Seen::Missing => None,
        Seen::NotRead => assumed,
    };
    if change.terminated {
        if existing.is_some() {
            op(
                plan,
                Action::DeleteServer,
                host,
                &why,
                calls(&["vm.delete"]),
            );
        }
        license_change(change, world, module_name.as_deref(), pools, plan);
        return;
    }
    match existing {
        None => op(
            plan,
            Action::CreateServer,
            format!(
                "{host}: {} CPU, {} MiB, {} GiB, {}",
                desired.cpu_cores, desired.memory_mib, desired.disk_gib, desired.operating_system
            ),
            &why,
            calls(&["vm.edit"]),
        ),
        Some(mut server) => {
            for _ in 0..8 {
                let step = server_plan::next_step(&server, &desired, change.active());
                let (action, detail, functions): (_, _, &'static [&'static str]) = match &step {
                    server_plan::Step::Done { disk } => {
                        if let Some(refused) = disk {
                            plan.notes.push(refused.message(&host));
                        }
                        break;
                    }
                    server_plan::Step::Stop => (Action::StopServer, host.clone(), &["vm.stop"]),
                    server_plan::Step::Start => (Action::StartServer, host.clone(), &["vm.start"]),
                    server_plan::Step::Restart => {
                        (Action::RestartServer, host.clone(), &["vm.restart"])
                    }
                    server_plan::Step::Reinstall => (
                        Action::ReinstallServer,
                        format!(
                            "{host} with {} (the disk is wiped)",
                            desired.operating_system
                        ),
                        &["vm.reinstall"],
                    ),
                    server_plan::Step::Resize {
                        cpu_cores,
                        memory_mib,
                    } => (
                        Action::ResizeServer,
                        format!(
                            "{host}: CPU {} -> {}, memory {} -> {} MiB",
                            server.cpu_cores,
                            cpu_cores.unwrap_or(server.cpu_cores),
                            server.memory_mib,
                            memory_mib.unwrap_or(server.memory_mib)
                        ),
                        &["vm.edit"],
                    ),
                    server_plan::Step::GrowDisk { to_mib } => (
                        Action::GrowDisk,
                        format!(
                            "{host}: {} -> {to_mib} MiB",
                            server.disk_mib.unwrap_or_default()
                        ),
                        &["vm.volume.edit"],
                    ),
                };
                op(plan, action, detail, &why, calls(functions));
                after_step(&mut server, &step, &desired);
            }
        }
    }
    license_change(change, world, module_name.as_deref(), pools, plan);
}

/// A standalone software licence: the licence is the service.
pub fn license(change: &Change<'_>, world: &World, pools: &mut PoolStock, plan: &mut ServicePlan) {
    if observe_only(change, plan) {
        return;
    }
    license_change(change, world, None, pools, plan);
    if change.terminated || change.before.is_none() {
        return;
    }
    let why = change.why();
    let licensing = change.module(world, ModuleType::Licensing);
    let was_active = match at_panel(change, licensing.as_deref()) {
        Seen::Found(l) => Some(l.status != LicenseStatus::Suspended),
        Seen::Missing => None,
        Seen::NotRead => change.was_active(),
    };
    match (was_active, change.active()) {
        (Some(true), false) => op(
            plan,
            Action::SuspendLicense,
            id_of(change),
            &why,
            &["soft.suspend"],
        ),
        (Some(false), true) => op(
            plan,
            Action::ResumeLicense,
            id_of(change),
            &why,
            &["soft.resume"],
        ),
        _ => {}
    }
}

/// The service's recorded licence as the licensing module lists it (`--panels`).
fn at_panel<'o>(change: &Change<'o>, licensing: Option<&str>) -> Seen<&'o License> {
    let service = change.service();
    let recorded = service.status.as_ref().and_then(|s| s.license.as_ref());
    match (licensing, recorded) {
        (Some(module), Some(license)) => {
            let ns = service.namespace().unwrap_or_default();
            change.observed.license(&ns, module, &license.id)
        }
        _ => Seen::NotRead,
    }
}

fn id_of(change: &Change<'_>) -> String {
    change
        .service()
        .status
        .as_ref()
        .and_then(|s| s.license.as_ref())
        .map_or_else(|| "the service's license".into(), |l| l.id.clone())
}

/// The licence type the service needs in its state (`None`: no licence).
fn license_type(s: &HostingService, r: &Refs) -> Option<String> {
    match r.tariff.spec.product_type {
        crate::api::ProductType::SoftwareLicense => r
            .tariff
            .spec
            .license
            .as_ref()
            .map(|l| l.license_type.clone()),
        _ => virtual_server::license_type_for(&r.tariff.spec, &s.spec),
    }
}

/// Licence need before and after: take from the pool or buy, change type, or release.
fn license_change(
    change: &Change<'_>,
    world: &World,
    vm_module: Option<&str>,
    pools: &mut PoolStock,
    plan: &mut ServicePlan,
) {
    let (service, refs) = change.after;
    let ns = service.namespace().unwrap_or_default();
    let needs = license_type(service, refs).filter(|_| !change.terminated);
    let licensing = match vm_module {
        Some(vm) => world
            .module(&ns, vm)
            .and_then(|m| virtual_server::licensing_module_name(m).map(str::to_owned)),
        None => change.module(world, ModuleType::Licensing),
    };
    let had = match at_panel(change, licensing.as_deref()) {
        Seen::Found(l) if l.status != LicenseStatus::Deleted => Some(l.pricelist.clone()),
        Seen::Found(_) | Seen::Missing => None,
        Seen::NotRead => change
            .before
            .filter(|(b, _)| created(b))
            .and_then(|(b, r)| license_type(b, r)),
    };
    let why = change.why();
    match (had, needs) {
        (None, Some(wanted)) => {
            if pools.take(world, &ns, licensing.as_deref(), &wanted) {
                op(
                    plan,
                    Action::TakeLicenseFromPool,
                    wanted,
                    &why,
                    &["soft.edit"],
                );
            } else if crate::controller::service::licenses::purchase_forbidden(service) {
                plan.notes.push(format!(
                    "needs a license of type {wanted}; buying is forbidden for this service and the pool has none"
                ));
            } else {
                op(
                    plan,
                    Action::BuyLicense,
                    wanted,
                    &why,
                    &["soft.order.param"],
                );
            }
        }
        (Some(had), Some(wanted)) if had != wanted => op(
            plan,
            Action::ChangeLicenseType,
            format!("{had} -> {wanted}"),
            &why,
            &["service.changepricelist"],
        ),
        (Some(had), None) => op(
            plan,
            Action::ReleaseLicenseToPool,
            had,
            &why,
            &["soft.suspend", "soft.edit"],
        ),
        _ => {}
    }
}

/// The pooled licences the plan has handed out so far, so two new services do not count on
/// the same one.
#[derive(Debug, Default)]
pub struct PoolStock {
    taken: BTreeMap<(String, String, String), u32>,
}

impl PoolStock {
    /// Takes one pooled licence of `license_type` from the pool of `module`, if one is left.
    fn take(&mut self, world: &World, ns: &str, module: Option<&str>, license_type: &str) -> bool {
        let Some(module) = module else {
            return false;
        };
        let pooled: u32 = world
            .license_pools
            .iter()
            .filter(|p| {
                p.namespace().as_deref() == Some(ns) && p.spec.licensing_module_ref.name == module
            })
            .filter_map(|p| p.status.as_ref())
            .flat_map(|s| &s.counts)
            .filter(|c| c.license_type == license_type)
            .map(|c| c.count)
            .sum();
        let key = (ns.to_owned(), module.to_owned(), license_type.to_owned());
        let taken = self.taken.entry(key).or_default();
        if *taken < pooled {
            *taken += 1;
            true
        } else {
            false
        }
    }
}
