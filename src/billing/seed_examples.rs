//! Every worked example of seed 002, one test each, and the worked numbers of
//! billing-conventions.md. Test names say the example; the numbers are the documents'.

use crate::api::common::Period;
use crate::api::tariff::{
    AdditionalResourcesOrder, AddonCancellation, LateFeeType, LateRenewalFee, ResourceKind,
    TariffSpec,
};

use super::testing::{calendar, daily, date, money, resource, service, tariff};
use super::{daily_rate, order_addon, paid_period};

fn calendar_tariff(monthly: &str) -> TariffSpec {
    let mut t = tariff(monthly);
    t.charging = calendar(Some(15));
    t
}

// "Calendar-based charges": pro-rata day 15.

#[test]
fn pro_rata_day_15_ordered_july_12_is_active_until_august_1() {
    let paid = paid_period(
        &calendar_tariff("300.00"),
        &service(Period::OneMonth, "2026-07-12", &[]),
    )
    .unwrap();
    assert_eq!(paid.paid_until(), date("2026-08-01"));
}

#[test]
fn pro_rata_day_15_ordered_july_17_is_active_until_september_1() {
    let paid = paid_period(
        &calendar_tariff("300.00"),
        &service(Period::OneMonth, "2026-07-17", &[]),
    )
    .unwrap();
    assert_eq!(paid.paid_until(), date("2026-09-01"));
}

// billing-conventions.md §3.1: partial month = (days in month − day + 1) / days in month × price.

#[test]
fn calendar_price_300_ordered_july_12_costs_193_55() {
    let paid = paid_period(
        &calendar_tariff("300.00"),
        &service(Period::OneMonth, "2026-07-12", &[]),
    )
    .unwrap();
    assert_eq!(paid.terms()[0].price.total, money("193.55"));
}

#[test]
fn calendar_price_300_ordered_july_17_costs_445_16() {
    // 15/31 × 300 = 145.16 for July + 300 for August.
    let paid = paid_period(
        &calendar_tariff("300.00"),
        &service(Period::OneMonth, "2026-07-17", &[]),
    )
    .unwrap();
    assert_eq!(paid.terms()[0].price.total, money("445.16"));
}

// "Charge daily" / "Calculate daily cost depending on order period": $0.1 a day, January.

#[test]
fn daily_charge_of_0_10_for_the_31_days_of_january_is_3_10() {
    let mut t = tariff("3.00");
    t.charging = daily(false);
    assert_eq!(daily_rate(money("3.00"), Period::OneMonth), money("0.1").0);
    let paid = paid_period(&t, &service(Period::OneMonth, "2026-01-01", &[])).unwrap();
    assert_eq!(paid.paid_until(), date("2026-02-01"));
    assert_eq!(paid.terms()[0].price.total, money("3.10"));
}

#[test]
fn daily_cost_from_order_period_charges_0_10_for_30_days_3_00() {
    let mut t = tariff("3.00");
    t.charging = daily(true);
    let paid = paid_period(&t, &service(Period::OneMonth, "2026-01-01", &[])).unwrap();
    assert_eq!(paid.terms()[0].days(), 30);
    assert_eq!(paid.paid_until(), date("2026-01-31"));
    assert_eq!(paid.terms()[0].price.total, money("3.00"));
}

// "Late renewal fee": 50 %, expired September 1, renewed September 5, $0.1 a day.

#[test]
fn late_fee_expired_september_1_renewed_september_5_at_50_percent_is_0_25() {
    let mut t = tariff("3.00");
    t.policies.late_renewal_fee = LateRenewalFee {
        type_: LateFeeType::Percent,
        amount: None,
        percent: Some(50),
    };
    let s = service(
        Period::OneMonth,
        "2026-08-01",
        &[(Period::OneMonth, "2026-09-05")],
    );
    let paid = paid_period(&t, &s).unwrap();
    let late = paid.last_term().late.clone().expect("the renewal is late");
    assert_eq!(late.expired_on, date("2026-09-01"));
    assert_eq!(late.days, 5, "5 days x $0.1 = $0.5");
    assert_eq!(late.fee, money("0.25"));
    // The fee is charged on top of the renewal, whose term starts on the payment day.
    assert_eq!(paid.last_term().price.total, money("3.00"));
    assert_eq!(paid.paid_until(), date("2026-10-05"));
}

// "Renew from suspension date": expired August 3, renewed August 15.

#[test]
fn renew_from_suspension_date_expired_august_3_renewed_august_15_is_active_until_september_3() {
    let mut t = tariff("3.00");
    t.policies.late_renewal_fee.type_ = LateFeeType::RenewFromSuspensionDate;
    let s = service(
        Period::OneMonth,
        "2026-07-03",
        &[(Period::OneMonth, "2026-08-15")],
    );
    let paid = paid_period(&t, &s).unwrap();
    assert_eq!(paid.paid_until(), date("2026-09-03"), "not September 15");
    assert_eq!(paid.last_term().late.as_ref().unwrap().fee, money("0.00"));
    // Any other fee type starts the new term on the payment day instead.
    t.policies.late_renewal_fee.type_ = LateFeeType::None;
    assert_eq!(
        paid_period(&t, &s).unwrap().paid_until(),
        date("2026-09-15")
    );
}

// "Additional resources order policy".

fn addon_tariff(policy: AdditionalResourcesOrder) -> TariffSpec {
    let mut t = tariff("3.00");
    t.prices.three_months = Some(money("8.50"));
    t.resources = vec![resource(ResourceKind::DiskSpace, 1024, 1024, "0.60")];
    t.policies.additional_resources_order = policy;
    t.policies.addon_cancellation = AddonCancellation::RefundRemaining;
    t
}

#[test]
fn addons_ordered_november_15_for_a_service_valid_until_november_30_are_charged_for_15_days() {
    let t = addon_tariff(AdditionalResourcesOrder::UntilExpiration);
    // A month from October 31 is valid until November 30 (30 days).
    let paid = paid_period(&t, &service(Period::OneMonth, "2026-10-31", &[])).unwrap();
    assert_eq!(paid.paid_until(), date("2026-11-30"));
    let charge = order_addon(
        &t,
        &paid,
        ResourceKind::DiskSpace,
        1024,
        2048,
        date("2026-11-15"),
    )
    .unwrap();
    assert_eq!((charge.days, charge.charged_days), (15, 15));
    assert_eq!(charge.amount, money("0.30"), "15 of 30 days of 0.60");
}

#[test]
fn full_price_addon_example_1_ordered_november_10_for_a_month_paid_until_november_20() {
    let t = addon_tariff(AdditionalResourcesOrder::FullPeriod);
    let paid = paid_period(&t, &service(Period::OneMonth, "2026-10-20", &[])).unwrap();
    assert_eq!(paid.paid_until(), date("2026-11-20"));
    let charge = order_addon(
        &t,
        &paid,
        ResourceKind::DiskSpace,
        1024,
        2048,
        date("2026-11-10"),
    )
    .unwrap();
    assert_eq!(charge.days, 10, "active for 10 days only");
    assert_eq!(charge.amount, money("0.60"), "but paid at full price");
}

#[test]
fn full_price_addon_example_2_three_monthly_renewals_then_three_months_charged_for_three_months() {
    // Three months renewed month by month, then three months renewed before expiry; the
    // addon is ordered after two months of that last term.
    let s = service(
        Period::OneMonth,
        "2026-01-01",
        &[
            (Period::OneMonth, "2026-01-25"),
            (Period::OneMonth, "2026-02-25"),
            (Period::ThreeMonths, "2026-03-25"),
        ],
    );
    let full = addon_tariff(AdditionalResourcesOrder::FullPeriod);
    let paid = paid_period(&full, &s).unwrap();
    assert_eq!(paid.paid_until(), date("2026-07-01"));
    let charge = order_addon(
        &full,
        &paid,
        ResourceKind::DiskSpace,
        1024,
        2048,
        date("2026-06-01"),
    )
    .unwrap();
    assert_eq!(charge.amount, money("1.80"), "three months of 0.60");
    assert_eq!(charge.days, 30, "even with one month left");
    // The other policy charges the month that is left: 30 of the term's 91 days.
    let until = addon_tariff(AdditionalResourcesOrder::UntilExpiration);
    let charge = order_addon(
        &until,
        &paid,
        ResourceKind::DiskSpace,
        1024,
        2048,
        date("2026-06-01"),
    )
    .unwrap();
    assert_eq!(charge.amount, money("0.59"));
}
