//! Declared events priced on their own day: a tariff change under each of the five change
//! policies, and an addon ordered and cancelled mid-period under each addon policy.

use super::events::{DeclaredEvent, declared_events};
use super::testing::{date, money, resource, service, tariff, with_resource};
use super::{BillingError, Result};
use crate::api::common::{LocalObjectReference, Money, Period};
use crate::api::hosting_service::HostingServiceSpec;
use crate::api::service_events::{ResourceChangeEvent, TariffChangeEvent};
use crate::api::tariff::{
    AdditionalResourcesOrder, AddonCancellation, RenewFrom, ResourceKind, TariffChange,
    TariffChangePolicy, TariffSpec,
};

/// Ordered Apr 1 for a month (30 days) on "old", moved to "new" on Apr 16 (15 days left).
fn changed(old: &TariffSpec, new: &TariffSpec) -> Result<Vec<DeclaredEvent>> {
    let mut s = service(Period::OneMonth, "2026-04-01", &[]);
    s.tariff_ref = LocalObjectReference::new("new");
    s.tariff_changes = vec![TariffChangeEvent {
        changed_on: date("2026-04-16"),
        from_tariff_ref: LocalObjectReference::new("old"),
        period: None,
        reference: None,
    }];
    let lookup = |name: &str| match name {
        "old" => Some(old),
        "new" => Some(new),
        _ => None,
    };
    declared_events(new, &lookup, &s)
}

fn old_with(policy: TariffChangePolicy, renew_from: Option<RenewFrom>) -> TariffSpec {
    let mut t = tariff("10.00");
    t.policies.tariff_change = TariffChange { policy, renew_from };
    t
}

/// (charge, refund, paid until) of the one change.
fn outcome(policy: TariffChangePolicy, to: &str) -> (Money, Money, String) {
    let events = changed(&old_with(policy, None), &tariff(to)).unwrap();
    let [DeclaredEvent::TariffChange { outcome, .. }] = events.as_slice() else {
        panic!("one tariff change: {events:?}");
    };
    (
        outcome.charge,
        outcome.refund,
        outcome.paid_until.to_string(),
    )
}

#[test]
fn a_tariff_change_under_each_policy() {
    use TariffChangePolicy::*;
    // (policy, new price) → (charge, refund, paid until); 15 of 30 days of 10.00 left.
    for (policy, to, expected) in [
        (AddFundsOrRefund, "20.00", ("5.00", "0.00", "2026-05-01")),
        (AddFundsOrRefund, "4.00", ("0.00", "3.00", "2026-05-01")),
        (ChargeOnly, "4.00", ("0.00", "0.00", "2026-05-01")),
        (ChangePeriod, "20.00", ("0.00", "0.00", "2026-04-23")),
        (FullPayment, "20.00", ("20.00", "0.00", "2026-05-16")),
    ] {
        let (charge, refund, until) = expected;
        assert_eq!(
            outcome(policy, to),
            (money(charge), money(refund), until.to_owned()),
            "{policy:?} to {to}"
        );
    }
    assert_eq!(
        changed(&old_with(Forbidden, None), &tariff("20.00")),
        Err(BillingError::TariffChangeForbidden)
    );
}

#[test]
fn a_change_between_currencies_is_refused() {
    let mut eur = tariff("20.00");
    eur.currency = "EUR".into();
    assert!(matches!(
        changed(&old_with(TariffChangePolicy::AddFundsOrRefund, None), &eur),
        Err(BillingError::CurrencyMismatch { .. })
    ));
}

/// 2 steps of disk (0.60 a month each) ordered Apr 11 and cancelled Apr 21 on a month paid
/// Apr 1 → May 1: 20 and 10 of its 30 days left.
fn addon(order: AdditionalResourcesOrder, cancel: AddonCancellation) -> (Money, Money) {
    let mut t = tariff("3.00");
    t.resources = vec![resource(ResourceKind::DiskSpace, 1024, 1024, "0.60")];
    t.policies.additional_resources_order = order;
    t.policies.addon_cancellation = cancel;
    let change = |on: &str, from: u64, to: u64| ResourceChangeEvent {
        changed_on: date(on),
        name: ResourceKind::DiskSpace,
        from,
        to,
        reference: None,
    };
    let mut s: HostingServiceSpec = with_resource(
        service(Period::OneMonth, "2026-04-01", &[]),
        ResourceKind::DiskSpace,
        1024,
    );
    s.resource_changes = vec![
        change("2026-04-11", 1024, 3072),
        change("2026-04-21", 3072, 1024),
    ];
    let events = declared_events(&t, &|_: &str| Some(&t), &s).unwrap();
    match events.as_slice() {
        [
            DeclaredEvent::AddonOrder { charge, .. },
            DeclaredEvent::AddonCancellation { refund, .. },
        ] => (charge.amount, refund.amount),
        other => panic!("an order and a cancellation: {other:?}"),
    }
}

#[test]
fn an_addon_ordered_and_cancelled_under_each_policy() {
    use AdditionalResourcesOrder::*;
    use AddonCancellation::*;
    // 1.20 a month: 20/30 of it = 0.80, the whole month = 1.20; 10/30 back = 0.40.
    assert_eq!(
        addon(UntilExpiration, RefundRemaining),
        (money("0.80"), money("0.40"))
    );
    assert_eq!(
        addon(FullPeriod, RefundRemaining),
        (money("1.20"), money("0.40"))
    );
    assert_eq!(
        addon(UntilExpiration, NoRefund),
        (money("0.80"), money("0.00"))
    );
    assert_eq!(addon(FullPeriod, NoRefund), (money("1.20"), money("0.00")));
}
