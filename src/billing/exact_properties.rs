//! Property tests against an exact rational reference (issue 15): every amount the module
//! produces equals the exact fraction, computed here in whole cents with `i128`, rounded half
//! away from zero; every day count equals the exact floor. Dates range over ten years, so month
//! ends and 29 February are drawn often.

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::dates::{add_days, days_between, days_in_month};
use super::late_fee::fee;
use super::testing::{calendar, date, money, resource, service, tariff};
use super::{PaidPeriod, change_tariff, order_addon, paid_period};
use crate::api::common::{Date, Money, Period};
use crate::api::tariff::{
    AdditionalResourcesOrder, LateFeeType, LateRenewalFee, PeriodPrices, ResourceKind,
    TariffChange, TariffChangePolicy,
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

fn period() -> impl Strategy<Value = Period> {
    prop::sample::select(Period::ALL.to_vec())
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
    fn change_period_buys_the_exact_floor_of_days(
        start in day(),
        old in 1i64..1_000_000,
        new in 1i64..1_000_000,
        offset in 0i64..31,
    ) {
        let mut from = tariff("1.00");
        from.prices.one_month = Some(cents(old));
        from.policies.tariff_change = TariffChange {
            policy: TariffChangePolicy::ChangePeriod,
            renew_from: None,
        };
        let mut to = tariff("1.00");
        to.prices.one_month = Some(cents(new));
        let s = service(Period::OneMonth, &start.to_string(), &[]);
        let paid = paid_period(&from, &s).unwrap();
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
        t.prices = PeriodPrices {
            one_month: Some(cents(price)),
            three_months: Some(cents(price)),
            six_months: Some(cents(price)),
            one_year: Some(cents(price)),
            three_years: Some(cents(price)),
        };
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
    fn an_addon_until_expiration_is_the_exact_share_of_days_left(
        start in day(),
        monthly in 0i64..100_000,
        steps in 1u64..20,
        offset in 0i64..31,
    ) {
        let mut t = tariff("3.00");
        let mut disk = resource(ResourceKind::DiskSpace, 1024, 1024, "0.00");
        disk.monthly_price = cents(monthly);
        t.resources = vec![disk];
        t.policies.additional_resources_order = AdditionalResourcesOrder::UntilExpiration;
        let s = service(Period::OneMonth, &start.to_string(), &[]);
        let paid = paid_period(&t, &s).unwrap();
        let (on, left, term_days) = day_in_first_term(&paid, offset);
        let charge =
            order_addon(&t, &paid, ResourceKind::DiskSpace, 1024, 1024 * (steps + 1), on).unwrap();
        let n = i128::from(monthly) * i128::from(steps) * i128::from(left);
        prop_assert_eq!(charge.amount, reference(n, i128::from(term_days)));
    }
}

#[test]
fn the_reference_rounds_half_away_from_zero() {
    assert_eq!(reference(375, 10), money("0.38"));
    assert_eq!(reference(2495, 1000), money("0.02"));
    assert_eq!(reference(2495, 10), money("2.50"));
}
