//! Declared tariff changes move the paid period itself (issue 15), under each of the five
//! change policies: `paidUntil`, the standing the controller acts on, and the quote agree with
//! what the change billed, and the days before a change stay priced by the tariff moved from.

use jiff::civil;

use super::history::History;
use super::lifecycle::{Standing, SuspensionCause, evaluate_history};
use super::quote::quote_with_events;
use super::testing::{client, date, money, service, tariff};
use super::{BillingError, TermKind};
use crate::api::common::{Date, LocalObjectReference, Period};
use crate::api::hosting_service::{HostingServiceSpec, Renewal};
use crate::api::service_events::TariffChangeEvent;
use crate::api::tariff::{RenewFrom, TariffChange, TariffChangePolicy, TariffSpec};

fn on(day: &str) -> civil::Date {
    date(day).0
}

fn old_with(policy: TariffChangePolicy, renew_from: Option<RenewFrom>) -> TariffSpec {
    let mut t = tariff("10.00");
    t.policies.tariff_change = TariffChange { policy, renew_from };
    t
}

/// Ordered on "old" on `start` for a month, moved to "new" on `change_on`, with renewals.
fn moved(start: &str, change_on: &str, renewals: &[(Period, &str)]) -> HostingServiceSpec {
    let mut s = service(Period::OneMonth, start, renewals);
    s.tariff_ref = LocalObjectReference::new("new");
    s.tariff_changes = vec![TariffChangeEvent {
        changed_on: date(change_on),
        from_tariff_ref: LocalObjectReference::new("old"),
        period: None,
        reference: None,
    }];
    s
}

/// The paid period and its standing on `day` of `s` moved from `old` to `new`.
fn replay(
    old: &TariffSpec,
    new: &TariffSpec,
    s: &HostingServiceSpec,
    day: &str,
) -> super::Result<(Date, Standing)> {
    let lookup = |name: &str| match name {
        "old" => Some(old),
        "new" => Some(new),
        _ => None,
    };
    let history = History::new(new, &lookup, s);
    let paid = history.paid_period()?;
    let standing = evaluate_history(&history, new, &client(), on(day))?.standing;
    // The quote (status.paidUntil) agrees with the replay.
    let q = quote_with_events(new, &lookup, s, date(day))?;
    assert_eq!(q.paid.paid_until(), paid.paid_until());
    Ok((paid.paid_until(), standing))
}

#[test]
fn change_period_moves_paid_until_and_the_suspension_day() {
    // Issue 15: 10.00 a month from Jul 1, changed on Jul 22 to 5.00: 10 days left buy 20.
    let old = old_with(TariffChangePolicy::ChangePeriod, None);
    let s = moved("2026-07-01", "2026-07-22", &[]);
    let (until, standing) = replay(&old, &tariff("5.00"), &s, "2026-08-05").unwrap();
    assert_eq!(until, date("2026-08-11"));
    assert!(matches!(standing, Standing::Active { paid_until, .. } if paid_until == until));
    // Before the change day the old expiry held; from Aug 11 it is unpaid.
    let (_, before) = replay(&old, &tariff("5.00"), &s, "2026-07-21").unwrap();
    assert!(
        matches!(before, Standing::Active { paid_until, next_change, .. }
            if paid_until == date("2026-08-01") && next_change == date("2026-07-22")),
        "{before:?}"
    );
    let (_, after) = replay(&old, &tariff("5.00"), &s, "2026-08-11").unwrap();
    assert!(matches!(
        after,
        Standing::Suspended {
            cause: SuspensionCause::Unpaid,
            ..
        }
    ));
}

#[test]
fn a_tariff_change_under_each_policy_moves_the_paid_period_as_billed() {
    use TariffChangePolicy::*;
    // Apr 1 → May 1 on 10.00, moved to 20.00 on Apr 16 (15 of 30 days left).
    let s = moved("2026-04-01", "2026-04-16", &[]);
    for (policy, renew_from, until) in [
        (AddFundsOrRefund, None, "2026-05-01"),
        (ChargeOnly, None, "2026-05-01"),
        (ChangePeriod, None, "2026-04-23"),
        (FullPayment, Some(RenewFrom::CurrentDate), "2026-05-16"),
        (FullPayment, Some(RenewFrom::ExpirationDate), "2026-06-01"),
    ] {
        let (paid_until, standing) = replay(
            &old_with(policy, renew_from),
            &tariff("20.00"),
            &s,
            "2026-04-20",
        )
        .unwrap();
        assert_eq!(paid_until, date(until), "{policy:?} {renew_from:?}");
        assert!(
            matches!(standing, Standing::Active { .. }),
            "{policy:?}: {standing:?}"
        );
    }
    assert_eq!(
        replay(
            &old_with(Forbidden, None),
            &tariff("20.00"),
            &s,
            "2026-04-20"
        ),
        Err(BillingError::TariffChangeForbidden)
    );
}

#[test]
fn days_before_a_change_keep_the_old_price_and_renewals_after_it_pay_the_new_one() {
    let old = old_with(TariffChangePolicy::AddFundsOrRefund, None);
    let new = tariff("20.00");
    // Renewed once on the old tariff (Apr 20), once on the new one (May 20).
    let s = moved(
        "2026-04-01",
        "2026-05-10",
        &[
            (Period::OneMonth, "2026-04-20"),
            (Period::OneMonth, "2026-05-20"),
        ],
    );
    let lookup = |name: &str| match name {
        "old" => Some(&old),
        "new" => Some(&new),
        _ => None,
    };
    let paid = History::new(&new, &lookup, &s).paid_period().unwrap();
    let prices: Vec<String> = paid
        .terms()
        .iter()
        .map(|t| t.price.total.to_string())
        .collect();
    assert_eq!(prices, ["10.00", "10.00", "20.00"]);
    assert_eq!(paid.paid_until(), date("2026-07-01"));
    let q = quote_with_events(&new, &lookup, &s, date("2026-05-25")).unwrap();
    assert_eq!(
        (q.quote.order_price, q.quote.renewal_price),
        (money("10.00"), money("20.00"))
    );
}

#[test]
fn a_renewal_after_change_period_continues_from_the_new_expiry() {
    let old = old_with(TariffChangePolicy::ChangePeriod, None);
    let s = moved(
        "2026-07-01",
        "2026-07-22",
        &[(Period::OneMonth, "2026-08-01")],
    );
    let (until, _) = replay(&old, &tariff("5.00"), &s, "2026-08-02").unwrap();
    // Aug 11 + 1 month, anchored on the new expiry.
    assert_eq!(until, date("2026-09-11"));
}

#[test]
fn the_terms_a_change_replaced_stop_on_its_day() {
    let old = old_with(TariffChangePolicy::FullPayment, None);
    let new = tariff("20.00");
    let s = moved("2026-04-01", "2026-04-16", &[]);
    let lookup = |name: &str| match name {
        "old" => Some(&old),
        _ => None,
    };
    let paid = History::new(&new, &lookup, &s).paid_period().unwrap();
    let terms: Vec<(TermKind, Date, Date)> = paid
        .terms()
        .iter()
        .map(|t| (t.kind, t.start, t.end))
        .collect();
    assert_eq!(
        terms,
        [
            (TermKind::Order, date("2026-04-01"), date("2026-04-16")),
            (
                TermKind::TariffChange { index: 0 },
                date("2026-04-16"),
                date("2026-05-16")
            ),
        ]
    );
    // A day's value stays what the order paid for it: 10.00 / 30 days.
    assert_eq!(paid.terms()[0].days(), 30);
}

#[test]
fn a_declared_renewal_index_survives_a_change_term() {
    let old = old_with(TariffChangePolicy::ChangePeriod, None);
    let mut s = moved("2026-07-01", "2026-07-22", &[]);
    s.renewals.push(Renewal {
        period: Period::OneMonth,
        paid_on: date("2026-08-05"),
        reference: None,
    });
    let new = tariff("5.00");
    let lookup = |name: &str| match name {
        "old" => Some(&old),
        _ => None,
    };
    let paid = History::new(&new, &lookup, &s).paid_period().unwrap();
    assert_eq!(paid.last_term().kind, TermKind::Renewal { index: 0 });
}

#[test]
fn each_declared_sale_is_judged_by_the_tariff_of_its_day() {
    // Ordered monthly on "old"; "new" sells only a year. The order is still a good sale.
    let old = old_with(TariffChangePolicy::FullPayment, None);
    let mut new = tariff("20.00");
    new.prices.one_year = Some(money("200.00"));
    new.disabled_periods = vec![Period::OneMonth];
    let mut s = moved("2026-04-01", "2026-04-16", &[]);
    s.tariff_changes[0].period = Some(Period::OneYear);
    let lookup = |name: &str| match name {
        "old" => Some(&old),
        _ => None,
    };
    let history = History::new(&new, &lookup, &s);
    assert_eq!(super::policy::check_declared_sales(&history), Ok(()));
    assert_eq!(
        history.paid_period().unwrap().paid_until(),
        date("2027-04-16")
    );
    // Judged by the current tariff alone, the order would be refused.
    assert!(super::policy::check_order(&new, s.start_date, s.period).is_err());
}

#[test]
fn a_tariff_edited_after_a_change_leaves_it_priced_and_an_unpaid_service_suspended() {
    // Changed to "new" on Jul 22 (ChangePeriod → Aug 11); "new" later stops selling months
    // and ends on Jul 31. History stays priced, the service is suspended on Aug 11 unpaid.
    let old = old_with(TariffChangePolicy::ChangePeriod, None);
    let mut new = tariff("5.00");
    new.prices.one_year = Some(money("50.00"));
    new.disabled_periods = vec![Period::OneMonth];
    new.policies.end_date = Some(date("2026-07-21"));
    let s = moved("2026-07-01", "2026-07-22", &[]);
    let (until, standing) = replay(&old, &new, &s, "2026-08-11").unwrap();
    assert_eq!(until, date("2026-08-11"));
    assert!(
        matches!(
            standing,
            Standing::Suspended {
                cause: SuspensionCause::Unpaid,
                ..
            }
        ),
        "{standing:?}"
    );
    // Judged as a new sale (offline, CI), the same change is refused.
    let lookup = |name: &str| match name {
        "old" => Some(&old),
        _ => None,
    };
    assert!(super::policy::check_declared_sales(&History::new(&new, &lookup, &s)).is_err());
}

#[test]
fn a_change_on_the_order_day_comes_after_the_order() {
    // Ordered on "old" (10.00) and moved to "new" (5.00) the same day: the order is priced by
    // the tariff it was placed on, and the whole month's difference is refunded.
    let old = old_with(TariffChangePolicy::AddFundsOrRefund, None);
    let new = tariff("5.00");
    let s = moved("2026-04-01", "2026-04-01", &[]);
    let lookup = |name: &str| match name {
        "old" => Some(&old),
        _ => None,
    };
    let q = quote_with_events(&new, &lookup, &s, date("2026-04-02")).unwrap();
    assert_eq!(q.quote.order_price, money("10.00"));
    let change = &q.quote.events[0];
    assert_eq!(
        (change.charge, change.refund),
        (money("0.00"), money("5.00"))
    );
}

proptest::proptest! {
    /// Over random days (month ends and 29 February included), prices and policies: the
    /// replay's `paidUntil` is the one the change billed, the service is active on its last
    /// paid day and suspended for non-payment on `paidUntil`.
    #[test]
    fn the_replay_carries_every_change_into_paid_until_and_the_standing(
        start in 0i64..3650,
        offset in 0i64..31,
        old in 1i64..100_000,
        new in 1i64..100_000,
        policy in proptest::sample::select(vec![
            TariffChangePolicy::AddFundsOrRefund,
            TariffChangePolicy::ChargeOnly,
            TariffChangePolicy::ChangePeriod,
            TariffChangePolicy::FullPayment,
        ]),
    ) {
        use super::dates::{add_days, days_between};
        use rust_decimal::Decimal;
        let start = add_days(date("2024-01-01"), start).unwrap();
        let mut from = old_with(policy, None);
        from.prices.one_month = Some(crate::api::common::Money(Decimal::new(old, 2)));
        let mut to = tariff("1.00");
        to.prices.one_month = Some(crate::api::common::Money(Decimal::new(new, 2)));
        let ordered = service(Period::OneMonth, &start.to_string(), &[]);
        let first_end = super::paid_period(&from, &ordered).unwrap().paid_until();
        let on = add_days(start, offset % days_between(start, first_end)).unwrap();
        let s = moved(&start.to_string(), &on.to_string(), &[]);
        let lookup = |name: &str| match name {
            "old" => Some(&from),
            _ => None,
        };
        let events = super::events::declared_events(&to, &lookup, &s).unwrap();
        let [super::events::DeclaredEvent::TariffChange { outcome, .. }] = events.as_slice() else {
            panic!("one change: {events:?}");
        };
        let history = History::new(&to, &lookup, &s);
        let until = history.paid_period().unwrap().paid_until();
        proptest::prop_assert_eq!(until, outcome.paid_until);
        let standing = |day: Date| evaluate_history(&history, &to, &client(), day.0).unwrap().standing;
        if until > on {
            let last_paid = add_days(until, -1).unwrap();
            let active = matches!(standing(last_paid), Standing::Active { paid_until, .. } if paid_until == until);
            proptest::prop_assert!(active, "{:?}", standing(last_paid));
        }
        let unpaid = matches!(
            standing(until),
            Standing::Suspended { cause: SuspensionCause::Unpaid, .. }
        );
        proptest::prop_assert!(unpaid, "{:?}", standing(until));
    }
}
