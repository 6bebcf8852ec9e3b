//! Property tests against an exact rational reference (issue 15): every amount the module
//! produces equals the exact fraction, computed here in whole cents with `i128`, rounded half
//! away from zero; every day count equals the exact floor. Every amount kind is drawn: percent
//! late fees, calendar and daily pro-rata, change-period days, change charges and refunds,
//! addon charges (until expiration, full period) and refunds, downtime refunds. Dates range over ten years, so month
//! ends and 29 February are drawn often.

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::dates::{add_days, days_between, days_in_month};
use super::downtime::refunds;
use super::late_fee::fee;
use super::testing::{calendar, daily, date, money, resource, service, tariff};
use super::{PaidPeriod, cancel_addon, change_tariff, order_addon, paid_period};
use crate::api::common::{Date, Money, Period};
use crate::api::hosting_service::HostingServiceSpec;
use crate::api::service_events::DowntimeEvent;
use crate::api::tariff::{
    AdditionalResourcesOrder, AddonCancellation, LateFeeType, LateRenewalFee, PeriodPrices,
    ResourceKind, TariffChange, TariffChangePolicy, TariffSpec,
};

/// `n / d` cents (`d > 0`, `n ≥ 0`) rounded half away from zero, as money.
fn reference(n: i128, d: i128) -> Money {
    let cents = (2 * n + d) / (2 * d);
    Money(Decimal::new(i64::try_from(cents).unwrap(), 2))
}

fn cents(c: i64) -> Money {
    Money(Decimal::new(c, 2))
}

fn day() -> impl Strategy<Value = Date> {
    (0i64..3650).prop_map(|n| add_days(date("2024-01-01"), n).unwrap())
}

/// A tariff change on a service ordered on a random day: (start, old and new monthly price in
/// cents, offset of the change day into the first term).
fn change_case() -> impl Strategy<Value = (Date, i64, i64, i64)> {
    (day(), 1i64..1_000_000, 1i64..1_000_000, 0i64..31)
}

fn period() -> impl Strategy<Value = Period> {
    prop::sample::select(Period::ALL.to_vec())
}

/// A one-month tariff at `c` cents.
fn monthly(c: i64) -> TariffSpec {
    let mut t = tariff("1.00");
    t.prices.one_month = Some(cents(c));
    t
}

/// Every period at `c` cents.
fn every_period_at(c: i64) -> PeriodPrices {
    PeriodPrices {
        one_month: Some(cents(c)),
        three_months: Some(cents(c)),
        six_months: Some(cents(c)),
        one_year: Some(cents(c)),
        three_years: Some(cents(c)),
    }
}

/// A change from a month at `old` cents, billed by `policy`, to a month at `new` cents, on a
/// service ordered on `start`: the tariffs, the service and its paid period.
fn change_between(
    old: i64,
    new: i64,
    policy: TariffChangePolicy,
    start: Date,
) -> (TariffSpec, TariffSpec, HostingServiceSpec, PaidPeriod) {
    let mut from = monthly(old);
    from.policies.tariff_change = TariffChange {
        policy,
        renew_from: None,
    };
    let s = service(Period::OneMonth, &start.to_string(), &[]);
    let paid = paid_period(&from, &s).unwrap();
    (from, monthly(new), s, paid)
}

/// A day of the first (only) term, `offset` days in (wrapped), its days left and the term's.
fn day_in_first_term(paid: &PaidPeriod, offset: i64) -> (Date, i64, i64) {
    let term_days = days_between(paid.start(), paid.paid_until());
    let on = add_days(paid.start(), offset % term_days).unwrap();
    (on, days_between(on, paid.paid_until()), term_days)
}

proptest! {
    #[test]
    fn a_percent_late_fee_is_the_exact_fraction_rounded_once(
        total in 0i64..10_000_000,
        days in 1i64..400,
        percent in 1u32..=1000,
        period in period(),
    ) {
        let policy = LateRenewalFee {
            type_: LateFeeType::Percent,
            amount: None,
            percent: Some(percent),
        };
        // total × days × percent / (30 × months × 100), in cents.
        let n = i128::from(total) * i128::from(days) * i128::from(percent);
        let d = 30 * i128::from(period.months()) * 100;
        prop_assert_eq!(fee(&policy, cents(total), period, days), reference(n, d));
    }

    #[test]
    fn change_period_buys_the_exact_floor_of_days((start, old, new, offset) in change_case()) {
        let (from, to, s, paid) =
            change_between(old, new, TariffChangePolicy::ChangePeriod, start);
        let (on, left, _) = day_in_first_term(&paid, offset);
        let o = change_tariff(&from, &to, &s, &paid, on, Period::OneMonth).unwrap();
        // left × (old × left / days) / (new × left / days) = left × old / new, floored.
        let bought = i64::try_from(i128::from(left) * i128::from(old) / i128::from(new)).unwrap();
        prop_assert_eq!(o.paid_until, add_days(on, bought).unwrap());
    }

    #[test]
    fn a_calendar_first_term_is_the_exact_pro_rata_share(
        start in day(),
        price in 0i64..1_000_000,
        pro_rata_day in 1u8..=28,
        period in period(),
    ) {
        let mut t = tariff("1.00");
        t.prices = every_period_at(price);
        t.charging = calendar(Some(pro_rata_day));
        let s = service(period, &start.to_string(), &[]);
        let first = paid_period(&t, &s).unwrap().terms()[0].clone();
        let (m, n) = (days_in_month(start), i64::from(period.months()));
        let day = i64::from(start.0.day());
        let (num, den) = if day == 1 {
            (1, 1)
        } else {
            let extra = i64::from(day >= i64::from(pro_rata_day));
            ((m - day + 1) + (n - 1 + extra) * m, m * n)
        };
        let expected = reference(i128::from(price) * i128::from(num), i128::from(den));
        prop_assert_eq!(first.price.base, expected);
    }

    #[test]
    fn a_change_difference_is_the_exact_fraction_rounded_once(
        (start, old, new, offset) in change_case(),
        charge_only in any::<bool>(),
    ) {
        let policy = if charge_only {
            TariffChangePolicy::ChargeOnly
        } else {
            TariffChangePolicy::AddFundsOrRefund
        };
        let (from, to, s, paid) = change_between(old, new, policy, start);
        let (on, left, term_days) = day_in_first_term(&paid, offset);
        let o = change_tariff(&from, &to, &s, &paid, on, Period::OneMonth).unwrap();
        // (new − old) × left / days, in cents: a charge when positive, else a refund.
        let n = i128::from(new - old) * i128::from(left);
        let d = i128::from(term_days);
        let charge = if n > 0 { reference(n, d) } else { cents(0) };
        let refund = if n < 0 && !charge_only { reference(-n, d) } else { cents(0) };
        prop_assert_eq!((o.charge, o.refund), (charge, refund));
        prop_assert_eq!(o.paid_until, paid.paid_until());
    }

    #[test]
    fn addon_charges_and_refunds_are_the_exact_share_of_days_left(
        start in day(),
        monthly in 0i64..100_000,
        steps in 1u64..20,
        offset in 0i64..400,
        period in period(),
    ) {
        let mut t = tariff("1.00");
        t.prices = every_period_at(100);
        let mut disk = resource(ResourceKind::DiskSpace, 1024, 1024, "0.00");
        disk.monthly_price = cents(monthly);
        t.resources = vec![disk];
        t.policies.addon_cancellation = AddonCancellation::RefundRemaining;
        let s = service(period, &start.to_string(), &[]);
        let paid = paid_period(&t, &s).unwrap();
        let (on, left, term_days) = day_in_first_term(&paid, offset);
        let more = 1024 * (steps + 1);
        // monthly × steps × months for the whole term; × left / days for the days left.
        let whole = i128::from(monthly) * i128::from(steps) * i128::from(period.months());
        let share_left = reference(whole * i128::from(left), i128::from(term_days));
        for (policy, expected) in [
            (AdditionalResourcesOrder::UntilExpiration, share_left),
            (AdditionalResourcesOrder::FullPeriod, reference(whole, 1)),
        ] {
            t.policies.additional_resources_order = policy;
            let charge = order_addon(&t, &paid, ResourceKind::DiskSpace, 1024, more, on).unwrap();
            prop_assert_eq!(charge.amount, expected);
        }
        let refund = cancel_addon(&t, &paid, ResourceKind::DiskSpace, more, 1024, on).unwrap();
        prop_assert_eq!(refund.amount, share_left);
    }

    #[test]
    fn a_daily_term_and_its_downtime_refund_are_exact(
        start in day(),
        monthly in 0i64..1_000_000,
        from_offset in 0i64..31,
        length in 1i64..40,
    ) {
        let mut t = self::monthly(monthly);
        t.charging = daily(false);
        t.charging.client_may_suspend = true;
        let mut s = service(Period::OneMonth, &start.to_string(), &[]);
        let first = paid_period(&t, &s).unwrap();
        let days = days_between(first.start(), first.paid_until());
        // Each calendar day at price / 30: what the term cost, rounded once.
        let paid_cents = i128::from(monthly) * i128::from(days);
        let term_price = reference(paid_cents, 30);
        prop_assert_eq!(first.terms()[0].price.total, term_price);
        // Down from `from` for `length` days: the paid days inside it at what they cost.
        let from = add_days(first.start(), from_offset % days).unwrap();
        let until = add_days(from, length).unwrap();
        s.downtime = vec![DowntimeEvent { from, until, reference: None }];
        let paid = paid_period(&t, &s).unwrap();
        let inside = days_between(from, until.min(paid.paid_until()));
        let price_cents = term_price.0.mantissa();
        let expected = reference(price_cents * i128::from(inside), i128::from(days));
        let r = refunds(&t, &paid, &s);
        prop_assert_eq!((r[0].days, r[0].amount), (inside, expected));
    }
}

#[test]
fn the_reference_rounds_half_away_from_zero() {
    assert_eq!(reference(375, 10), money("0.38"));
    assert_eq!(reference(2495, 1000), money("0.02"));
    assert_eq!(reference(2495, 10), money("2.50"));
}
