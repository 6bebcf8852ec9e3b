//! Property tests: over arbitrary tariffs (every charging mode, pro-rata day, late fee type and
//! policy), start dates, periods and renewal lists, the promises billing makes hold — a renewal
//! never shortens a service, paid-until grows with the renewal list, no amount is negative, and
//! no refund exceeds what was paid.

use proptest::prelude::*;
use rust_decimal::Decimal;

use crate::api::common::{Date, Money, Period};
use crate::api::hosting_service::HostingServiceSpec;
use crate::api::tariff::{
    AdditionalResourcesOrder, AddonCancellation, Charging, ChargingMode, LateFeeType,
    LateRenewalFee, PeriodPrices, RenewFrom, ResourceKind, TariffChange, TariffChangePolicy,
    TariffSpec,
};

use super::dates::add_days;
use super::testing::{date, resource, service, tariff, with_resource};
use super::{cancel_addon, change_tariff, order_addon, paid_period, quote};

fn day() -> impl Strategy<Value = Date> {
    (0i64..3650).prop_map(|n| add_days(date("2024-01-01"), n).unwrap())
}

fn period() -> impl Strategy<Value = Period> {
    prop::sample::select(Period::ALL.to_vec())
}

fn amount() -> impl Strategy<Value = Money> {
    // Up to four decimal places, as the API allows.
    (0i64..10_000_000).prop_map(|n| Money(Decimal::new(n, 4)))
}

fn prices() -> impl Strategy<Value = PeriodPrices> {
    (amount(), amount(), amount(), amount(), amount()).prop_map(|(a, b, c, d, e)| PeriodPrices {
        one_month: Some(a),
        three_months: Some(b),
        six_months: Some(c),
        one_year: Some(d),
        three_years: Some(e),
    })
}

fn charging() -> impl Strategy<Value = Charging> {
    (0..4u8, 1..=28u8).prop_map(|(mode, day)| match mode {
        0 => Charging::default(),
        1 => Charging {
            mode: ChargingMode::Daily,
            ..Charging::default()
        },
        2 => Charging {
            mode: ChargingMode::Daily,
            daily_cost_from_order_period: true,
            ..Charging::default()
        },
        _ => Charging {
            mode: ChargingMode::Calendar,
            pro_rata_day: Some(day),
            ..Charging::default()
        },
    })
}

fn late_fee() -> impl Strategy<Value = LateRenewalFee> {
    (0..4u8, amount(), 1..=1000u32).prop_map(|(t, a, p)| LateRenewalFee {
        type_: [
            LateFeeType::None,
            LateFeeType::Fixed,
            LateFeeType::Percent,
            LateFeeType::RenewFromSuspensionDate,
        ][usize::from(t)],
        amount: Some(a),
        percent: Some(p),
    })
}

prop_compose! {
    fn any_tariff()(
        prices in prices(),
        renewal in prop::option::of(prices()),
        charging in charging(),
        late in late_fee(),
        step in 1u64..2048,
        monthly in amount(),
        full_period in any::<bool>(),
        refund in any::<bool>(),
        change in 0..4u8,
        renew_from_expiry in any::<bool>(),
    ) -> TariffSpec {
        let mut t = tariff("1.00");
        t.prices = prices;
        t.renewal_prices = renewal;
        t.charging = charging;
        t.resources = vec![resource(ResourceKind::DiskSpace, 1024, step, "0.00")];
        t.resources[0].monthly_price = monthly;
        t.policies.late_renewal_fee = late;
        t.policies.additional_resources_order = if full_period {
            AdditionalResourcesOrder::FullPeriod
        } else {
            AdditionalResourcesOrder::UntilExpiration
        };
        t.policies.addon_cancellation = if refund {
            AddonCancellation::RefundRemaining
        } else {
            AddonCancellation::NoRefund
        };
        t.policies.tariff_change = TariffChange {
            policy: [
                TariffChangePolicy::ChangePeriod,
                TariffChangePolicy::AddFundsOrRefund,
                TariffChangePolicy::ChargeOnly,
                TariffChangePolicy::FullPayment,
            ][usize::from(change)],
            renew_from: Some(if renew_from_expiry { RenewFrom::ExpirationDate } else { RenewFrom::CurrentDate }),
        };
        t
    }
}

prop_compose! {
    /// A service with up to 6 renewals, each paid 0–400 days after the previous payment.
    fn any_service()(
        start in day(),
        period in period(),
        renewals in prop::collection::vec((period(), 0i64..400), 0..6),
        disk in 0u64..8192,
    ) -> HostingServiceSpec {
        let mut s = service(period, "2024-01-01", &[]);
        s.start_date = start;
        let mut paid_on = start;
        for (period, gap) in renewals {
            paid_on = add_days(paid_on, gap).unwrap();
            s.renewals.push(crate::api::hosting_service::Renewal { period, paid_on, reference: None });
        }
        with_resource(s, ResourceKind::DiskSpace, disk)
    }
}

fn non_negative(m: Money) -> bool {
    m.0 >= Decimal::ZERO
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_renewal_never_shortens_a_service(
        t in any_tariff(), s in any_service(), period in period(), gap in 0i64..400,
    ) {
        let before = paid_period(&t, &s).unwrap();
        let mut renewed = before.clone();
        let last = before.last_term().paid_on;
        renewed.renew(&t, &s, period, add_days(last, gap).unwrap()).unwrap();
        prop_assert!(renewed.paid_until() > before.paid_until());
    }

    #[test]
    fn paid_until_is_monotonic_in_the_renewal_list(t in any_tariff(), s in any_service()) {
        let mut previous = None;
        for n in 0..=s.renewals.len() {
            let mut prefix = s.clone();
            prefix.renewals.truncate(n);
            let until = paid_period(&t, &prefix).unwrap().paid_until();
            prop_assert!(previous.is_none_or(|p| until > p), "{previous:?} then {until}");
            previous = Some(until);
        }
    }

    #[test]
    fn prices_are_never_negative(t in any_tariff(), s in any_service(), today in day()) {
        let q = quote(&t, &s, today).unwrap();
        prop_assert!(non_negative(q.quote.order_price));
        prop_assert!(non_negative(q.quote.setup_fee));
        prop_assert!(non_negative(q.quote.renewal_price));
        prop_assert!(q.quote.late_fee.is_none_or(non_negative));
        for term in q.paid.terms() {
            prop_assert!(term.start < term.end);
            prop_assert!(non_negative(term.price.total));
            prop_assert!(term.late.as_ref().is_none_or(|l| non_negative(l.fee)));
        }
    }

    #[test]
    fn addon_refunds_never_exceed_what_was_paid(
        t in any_tariff(), s in any_service(), extra in 1u64..8192, a in 0i64..2000, b in 0i64..2000,
    ) {
        let paid = paid_period(&t, &s).unwrap();
        let from = s.resources[0].quantity;
        let ordered_on = add_days(paid.start(), a.min(b)).unwrap();
        let cancelled_on = add_days(paid.start(), a.max(b)).unwrap();
        if let Ok(charge) = order_addon(&t, &paid, ResourceKind::DiskSpace, from, from + extra, ordered_on) {
            prop_assert!(non_negative(charge.amount));
            let refund = cancel_addon(&t, &paid, ResourceKind::DiskSpace, from + extra, from, cancelled_on).unwrap();
            prop_assert!(non_negative(refund.amount));
            prop_assert!(refund.amount <= charge.amount, "refund {} > charge {}", refund.amount, charge.amount);
        }
    }

    #[test]
    fn tariff_change_refunds_never_exceed_what_was_paid(
        from in any_tariff(), to in any_tariff(), s in any_service(), offset in 0i64..2000, period in period(),
    ) {
        let paid = paid_period(&from, &s).unwrap();
        let on = add_days(paid.start(), offset).unwrap();
        if let Ok(o) = change_tariff(&from, &to, &s, &paid, on, period) {
            prop_assert!(non_negative(o.charge) && non_negative(o.refund));
            let unused: Decimal = paid.terms().iter().filter(|t| t.end > on).map(|t| t.price.total.0).sum();
            prop_assert!(o.refund.0 <= unused, "refund {} > paid {}", o.refund, unused);
            prop_assert!(o.paid_until >= on);
        }
    }
}
