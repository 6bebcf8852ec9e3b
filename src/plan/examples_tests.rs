//! The plan of the shipped examples (shared hosting, a virtual server with a panel licence, a
//! software licence), without a cluster: worlds built from the manifests.

use std::sync::Arc;

use kube::ResourceExt;

use super::observe::Observed;
use super::service::{Settings, judged};
use super::{Action, Plan, World};
use crate::api::HostingService;
use crate::api::hosting_service::{HostingServiceStatus, ServicePhase};
use crate::api::license_pool::{LicensePoolStatus, LicenseTypeCount};
use crate::api::tariff::ResourceKind;
use crate::billing::lifecycle::Standing;
use crate::validation::{self, Options, Source};

fn settings() -> Settings {
    Settings {
        today: Some(jiff::civil::date(2026, 12, 2)),
        ..Settings::default()
    }
}

/// Every example, as the manifests declare them (services not made yet).
fn declared() -> World {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let sources: Vec<Source> = files
        .iter()
        .map(|p| Source {
            name: p.display().to_string(),
            text: std::fs::read_to_string(p).unwrap(),
        })
        .collect();
    let (report, entries) = validation::validate_entries(&sources, &Options::default(), vec![]);
    assert!(report.ok(), "{:?}", report.problems);
    World::default().with_applied(entries)
}

/// The world as the controller leaves it: every service made and in its phase.
fn converged(world: &World) -> World {
    let mut next = world.clone();
    next.services = world
        .services
        .iter()
        .map(|s| {
            let mut s = (**s).clone();
            let phase = match judged(world, &s, &settings()).map(|r| r.standing) {
                Ok(Standing::Terminated { .. }) => ServicePhase::Terminated,
                _ => ServicePhase::Active,
            };
            s.status = Some(HostingServiceStatus {
                external_name: Some(s.name_any()),
                tariff: Some(s.spec.tariff_ref.name.clone()),
                phase,
                ..HostingServiceStatus::default()
            });
            Arc::new(s)
        })
        .collect();
    next
}

fn edited(world: &World, name: &str, change: impl FnOnce(&mut HostingService)) -> World {
    let mut next = world.clone();
    let slot = next
        .services
        .iter_mut()
        .find(|s| s.name_any() == name)
        .expect("an example service");
    let mut s = (**slot).clone();
    change(&mut s);
    *slot = Arc::new(s);
    next
}

fn without_services(world: &World) -> World {
    World {
        services: Vec::new(),
        ..world.clone()
    }
}

fn actions(plan: &Plan, service: &str) -> Vec<Action> {
    plan.services
        .iter()
        .find(|s| s.name == service)
        .map(|s| s.operations.iter().map(|o| o.action).collect())
        .unwrap_or_default()
}

fn run(before: &World, after: &World) -> Plan {
    super::plan(before, after, &Observed::default(), &settings())
}

#[test]
fn new_services_are_created_and_their_licences_bought() {
    let after = declared();
    let plan = run(&without_services(&after), &after);
    assert_eq!(actions(&plan, "jane-blog"), [Action::CreateAccount]);
    assert_eq!(
        actions(&plan, "jane-vps"),
        [Action::CreateServer, Action::BuyLicense]
    );
    assert_eq!(actions(&plan, "shop-license"), [Action::BuyLicense]);
    assert_eq!(plan.licenses_to_buy.get("3541"), Some(&2));
    assert_eq!(plan.exit_status(), 2, "buying asks for approval");
    let blog = plan
        .services
        .iter()
        .find(|s| s.name == "jane-blog")
        .unwrap();
    assert!(blog.new);
    assert!(blog.money.iter().any(|m| m.item == "orderPrice"));
}

#[test]
fn a_converged_namespace_plans_nothing() {
    let world = converged(&declared());
    let plan = run(&world, &world);
    assert!(plan.services.is_empty(), "{:#?}", plan.services);
    assert_eq!(plan.exit_status(), 0);
}

#[test]
fn a_pooled_licence_is_taken_before_one_is_bought_and_only_once() {
    let mut after = declared();
    let pool = after.license_pools.first_mut().expect("the example pool");
    let mut with_one = (**pool).clone();
    with_one.status = Some(LicensePoolStatus {
        pooled: 1,
        counts: vec![LicenseTypeCount {
            license_type: "3541".into(),
            count: 1,
        }],
        ..LicensePoolStatus::default()
    });
    *pool = Arc::new(with_one);
    let plan = run(&without_services(&after), &after);
    let mut licence_actions: Vec<Action> = ["jane-vps", "shop-license"]
        .iter()
        .flat_map(|s| actions(&plan, s))
        .filter(|a| *a != Action::CreateServer)
        .collect();
    licence_actions.sort();
    assert_eq!(
        licence_actions,
        [Action::BuyLicense, Action::TakeLicenseFromPool]
    );
    assert_eq!(plan.licenses_to_buy.get("3541"), Some(&1));
}

#[test]
fn a_new_os_reinstalls_and_more_memory_resizes_in_the_controllers_order() {
    let before = converged(&declared());
    let after = edited(&before, "jane-vps", |s| {
        s.spec.operating_system = Some("Debian 12".into());
        let memory = s
            .spec
            .resources
            .iter_mut()
            .find(|r| r.name == ResourceKind::Memory);
        memory.unwrap().quantity = 8192;
    });
    let plan = run(&before, &after);
    assert_eq!(
        actions(&plan, "jane-vps"),
        [Action::ReinstallServer, Action::ResizeServer]
    );
    assert_eq!(plan.exit_status(), 2, "a reinstall wipes the disk");
    let vps = plan.services.iter().find(|s| s.name == "jane-vps").unwrap();
    assert!(
        vps.money.iter().any(|m| m.item == "renewalPrice"),
        "more memory costs more: {:?}",
        vps.money
    );
}

#[test]
fn suspending_a_service_suspends_its_account_and_dropping_the_panel_releases_its_licence() {
    let before = converged(&declared());
    let after = edited(&before, "jane-blog", |s| s.spec.suspended = true);
    let after = edited(&after, "jane-vps", |s| {
        s.spec.control_panel = Some("nopanel".into())
    });
    let plan = run(&before, &after);
    assert_eq!(actions(&plan, "jane-blog"), [Action::SuspendAccount]);
    assert_eq!(actions(&plan, "jane-vps"), [Action::ReleaseLicenseToPool]);
    assert_eq!(plan.exit_status(), 0);
}
