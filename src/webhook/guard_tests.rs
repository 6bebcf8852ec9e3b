//! The live-object guard, case by case: what breaks services is refused, what only changes
//! their terms is warned about, and services on other tariffs do not count.

use super::guard::{Effects, tariff_edit};
use crate::api::common::{LocalObjectReference, Period};
use crate::api::hosting_service::{HostingServiceStatus, Renewal};
use crate::api::service_events::{ResourceChangeEvent, TariffChangeEvent};
use crate::api::tariff::{PeriodPrices, ProductType, ResourceKind};
use crate::api::{HostingService, HostingServiceSpec, TariffSpec};
use crate::billing::testing::{date, money, resource, service, tariff, with_resource};

/// Tariff `t`: 1m at 3.00 and 3m at 8.00, on modules isp-1 and isp-2, disk 1024..10240.
fn base() -> TariffSpec {
    let mut t = tariff("3.00");
    t.prices.three_months = Some(money("8.00"));
    t.processing_modules = vec![
        LocalObjectReference::new("isp-1"),
        LocalObjectReference::new("isp-2"),
    ];
    let mut disk = resource(ResourceKind::DiskSpace, 1024, 1024, "0.50");
    disk.max = 10240;
    t.resources = vec![disk];
    t
}

fn svc(name: &str, spec: HostingServiceSpec) -> HostingService {
    HostingService::new(name, spec)
}

fn on_module(mut s: HostingService, module: &str) -> HostingService {
    s.status = Some(HostingServiceStatus {
        processing_module: Some(module.into()),
        tariff: Some("t".into()),
        ..HostingServiceStatus::default()
    });
    s
}

fn monthly(name: &str) -> HostingService {
    svc(name, service(Period::OneMonth, "2026-01-05", &[]))
}

/// A monthly service holding `quantity` MiB of disk.
fn holding(name: &str, quantity: u64) -> HostingService {
    let spec = service(Period::OneMonth, "2026-01-05", &[]);
    svc(name, with_resource(spec, ResourceKind::DiskSpace, quantity))
}

fn effects(new: &TariffSpec, services: &[HostingService]) -> Effects {
    tariff_edit("t", &base(), new, services)
}

fn fields(e: &[super::guard::Effect]) -> Vec<&str> {
    e.iter().map(|e| e.field.as_str()).collect()
}

#[test]
fn an_edit_of_a_tariff_nobody_is_on_has_no_effect() {
    let mut new = base();
    new.prices.one_month = None;
    new.product_type = ProductType::VirtualServer;
    new.processing_modules.clear();
    new.resources.clear();
    assert_eq!(effects(&new, &[]), Effects::default());
    let mut elsewhere = monthly("web-1");
    elsewhere.spec.tariff_ref.name = "other".into();
    assert_eq!(effects(&new, &[elsewhere]), Effects::default());
}

#[test]
fn removing_the_price_of_a_period_in_use_is_breaking_and_names_the_services() {
    let mut new = base();
    new.prices.one_month = None;
    let e = effects(&new, &[monthly("web-1"), monthly("web-2")]);
    assert_eq!(fields(&e.breaking), ["spec.prices.1m"]);
    assert!(
        e.breaking[0].reason.contains("2 services (web-1, web-2)"),
        "{e:?}"
    );
    let mut unused = base();
    unused.prices.three_months = None;
    assert_eq!(effects(&unused, &[monthly("web-1")]), Effects::default());
}

#[test]
fn the_period_of_a_renewal_counts_as_in_use() {
    let renewed = svc(
        "web-1",
        service(
            Period::OneMonth,
            "2026-01-05",
            &[(Period::ThreeMonths, "2026-02-05")],
        ),
    );
    let mut new = base();
    new.prices.three_months = None;
    let e = effects(&new, &[renewed]);
    assert_eq!(fields(&e.breaking), ["spec.prices.3m"], "{e:?}");
}

#[test]
fn sales_before_a_change_onto_the_tariff_are_priced_by_the_old_one() {
    let mut spec = service(
        Period::OneMonth,
        "2026-01-05",
        &[(Period::OneMonth, "2026-02-05")],
    );
    spec.tariff_changes = vec![TariffChangeEvent {
        changed_on: date("2026-02-20"),
        from_tariff_ref: LocalObjectReference::new("old"),
        period: Some(Period::ThreeMonths),
        reference: None,
    }];
    let moved = svc("web-1", spec);
    let mut no_1m = base();
    no_1m.prices.one_month = None;
    assert!(
        effects(&no_1m, std::slice::from_ref(&moved))
            .breaking
            .is_empty()
    );
    let mut no_3m = base();
    no_3m.prices.three_months = None;
    assert_eq!(
        fields(&effects(&no_3m, &[moved]).breaking),
        ["spec.prices.3m"]
    );
}

#[test]
fn removing_a_module_services_are_placed_on_or_pinned_to_is_breaking() {
    let placed = on_module(monthly("web-1"), "isp-1");
    let mut pinned = monthly("web-2");
    pinned.spec.processing_module_ref = Some(LocalObjectReference::new("isp-1"));
    let elsewhere = on_module(monthly("web-3"), "isp-2");
    let mut new = base();
    new.processing_modules.retain(|m| m.name != "isp-1");
    let e = effects(&new, &[placed, pinned, elsewhere]);
    assert_eq!(fields(&e.breaking), ["spec.processingModules"]);
    assert!(e.breaking[0].reason.contains("\"isp-1\""), "{e:?}");
    assert!(
        e.breaking[0].reason.contains("2 services (web-1, web-2)"),
        "web-3 is on isp-2: {e:?}"
    );
}

#[test]
fn shrinking_max_below_a_held_quantity_or_removing_a_held_resource_is_breaking() {
    let big = holding("web-1", 8192);
    let mut new = base();
    new.resources[0].max = 4096;
    let e = effects(&new, std::slice::from_ref(&big));
    assert_eq!(fields(&e.breaking), ["spec.resources[0].max"]);
    assert!(e.breaking[0].reason.contains("web-1 at 8192"), "{e:?}");

    let mut still_fits = base();
    still_fits.resources[0].max = 8192;
    assert!(
        effects(&still_fits, std::slice::from_ref(&big))
            .breaking
            .is_empty()
    );

    let mut removed = base();
    removed.resources.clear();
    let e = effects(&removed, std::slice::from_ref(&big));
    assert_eq!(fields(&e.breaking), ["spec.resources"]);
    assert!(e.breaking[0].reason.contains("diskSpace"), "{e:?}");
    // A service that holds only the included amount (declares nothing) loses nothing.
    assert!(effects(&removed, &[monthly("web-2")]).breaking.is_empty());
}

#[test]
fn the_latest_resource_change_counts_as_held() {
    let mut spec = service(Period::OneMonth, "2026-01-05", &[]);
    spec.resource_changes = vec![
        ResourceChangeEvent {
            changed_on: date("2026-01-10"),
            name: ResourceKind::DiskSpace,
            from: 1024,
            to: 2048,
            reference: None,
        },
        ResourceChangeEvent {
            changed_on: date("2026-01-20"),
            name: ResourceKind::DiskSpace,
            from: 2048,
            to: 6144,
            reference: None,
        },
    ];
    let mut new = base();
    new.resources[0].max = 4096;
    let e = effects(&new, &[svc("web-1", spec)]);
    assert!(e.breaking[0].reason.contains("web-1 at 6144"), "{e:?}");
}

#[test]
fn raising_min_above_a_held_quantity_is_breaking() {
    let small = holding("web-1", 1024);
    let mut new = base();
    new.resources[0].min = 2048;
    new.resources[0].included = 2048;
    assert_eq!(
        fields(&effects(&new, &[small]).breaking),
        ["spec.resources[0].min"]
    );
}

#[test]
fn changing_the_product_type_under_services_is_breaking() {
    let mut new = base();
    new.product_type = ProductType::VirtualServer;
    assert_eq!(
        fields(&effects(&new, &[monthly("web-1")]).breaking),
        ["spec.productType"]
    );
}

#[test]
fn disabling_the_period_services_renew_on_is_a_warning() {
    let mut new = base();
    new.disabled_periods = vec![Period::OneMonth];
    let e = effects(&new, &[monthly("web-1")]);
    assert!(e.breaking.is_empty(), "{e:?}");
    assert_eq!(fields(&e.warnings), ["spec.disabledPeriods"]);
    assert!(e.warnings[0].reason.contains("web-1"), "{e:?}");
    let mut other = base();
    other.disabled_periods = vec![Period::ThreeMonths];
    assert_eq!(effects(&other, &[monthly("web-1")]), Effects::default());
}

#[test]
fn price_changes_are_warnings_counting_the_services() {
    let mut new = base();
    new.prices.one_month = Some(money("4.00"));
    let five: Vec<HostingService> = (1..=5).map(|i| monthly(&format!("web-{i}"))).collect();
    let e = effects(&new, &five);
    assert!(e.breaking.is_empty(), "{e:?}");
    assert_eq!(
        fields(&e.warnings),
        ["spec.prices.1m"],
        "no special renewal price"
    );
    assert!(
        e.warnings[0].reason.contains(
            "3.00 -> 4.00 changes the price for 5 services (web-1, web-2, web-3 and 2 more)"
        ),
        "{e:?}"
    );
    let mut special = base();
    special.renewal_prices = Some(PeriodPrices {
        one_month: Some(money("2.50")),
        ..PeriodPrices::default()
    });
    let e = effects(&special, &five[..1]);
    assert_eq!(fields(&e.warnings), ["spec.renewalPrices.1m"], "{e:?}");
    assert!(e.warnings[0].reason.contains("3.00 -> 2.50"), "{e:?}");
    let mut addon = base();
    addon.resources[0].monthly_price = money("0.75");
    let holder = holding("web-1", 4096);
    let e = effects(&addon, &[holder, monthly("web-2")]);
    assert_eq!(fields(&e.warnings), ["spec.resources[0].monthlyPrice"]);
    assert!(e.warnings[0].reason.contains("1 service (web-1)"), "{e:?}");
}

#[test]
fn a_service_whose_change_away_is_not_yet_accepted_is_still_on_the_tariff() {
    let mut leaving = on_module(monthly("web-1"), "isp-1");
    leaving.spec.tariff_ref.name = "next".into();
    let mut new = base();
    new.prices.one_month = None;
    assert_eq!(
        fields(&effects(&new, &[leaving]).breaking),
        ["spec.prices.1m"]
    );
}

#[test]
fn renewals_are_read_in_order_for_the_period_services_renew_on() {
    let renewed = svc(
        "web-1",
        HostingServiceSpec {
            renewals: vec![Renewal {
                period: Period::ThreeMonths,
                paid_on: date("2026-02-05"),
                reference: None,
            }],
            ..service(Period::OneMonth, "2026-01-05", &[])
        },
    );
    let mut new = base();
    new.disabled_periods = vec![Period::OneMonth];
    assert!(
        effects(&new, std::slice::from_ref(&renewed))
            .warnings
            .is_empty(),
        "it renews on 3m now"
    );
    new.disabled_periods = vec![Period::ThreeMonths];
    assert_eq!(
        fields(&effects(&new, &[renewed]).warnings),
        ["spec.disabledPeriods"]
    );
}
