//! Changing a service to another tariff, billed by the old tariff's `policies.tariffChange`
//! (seed 002, "Tariff change policy").
//!
//! The unused part of the paid period is valued per term, in proportion to its remaining days
//! (WHMCS's and HostBill's rule, billing-conventions.md §3.2): `credit` is what the client paid
//! for the days left, `debit` what the same days cost on the new tariff (the term's own period
//! when the new tariff sells it, else the requested period's price per month). Then:
//!
//! | policy | charge | refund | expiry |
//! |---|---|---|---|
//! | `ChangePeriod` | 0 | 0 | change day + days left × credit / debit (whole days, rounded down, compared exactly) |
//! | `AddFundsOrRefund` | debit − credit when positive | credit − debit when positive | unchanged |
//! | `ChargeOnly` | debit − credit when positive | 0 | unchanged |
//! | `FullPayment` | the new tariff's order price for the period (no setup fee: not a new order) | 0 | a new term from the change day, or from the expiry with `renewFrom: ExpirationDate` |
//! | `Forbidden` | — an error | | |
//!
//! The charge or refund is the exact difference of credit and debit, rounded once (the
//! module's rule: one division at the end); as the debit is never negative, a refund never
//! exceeds the rounded credit, what was paid for the remaining days. `ChangePeriod` to a
//! tariff whose remaining days cost nothing keeps the expiry: there is no price to convert
//! the credit into.

use rust_decimal::Decimal;
use serde::Serialize;

use super::dates::{add_days, days_between};
use super::exact::Exact;
use super::prices::PriceLines;
use super::prices::{self, PriceKind};
use super::service::{PaidPeriod, Term, TermKind};
use super::term::{self, Chain, Share, Span};
use super::{BillingError, Result, policy, round};
use crate::api::common::{Date, Money, Period};
use crate::api::hosting_service::HostingServiceSpec;
use crate::api::tariff::{RenewFrom, TariffChangePolicy, TariffSpec};

/// What a tariff change costs and how it moves the expiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TariffChangeOutcome {
    pub policy: TariffChangePolicy,
    /// Due from the client now.
    pub charge: Money,
    /// Paid back to the client now.
    pub refund: Money,
    /// The expiry after the change.
    pub paid_until: Date,
    /// `FullPayment`: the first day of the new term.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_term_start: Option<Date>,
    /// The term the change opens in the paid period (`ChangePeriod` that moves the expiry,
    /// `FullPayment`), for the replay ([`super::service::PaidPeriod::apply_change`]).
    #[serde(skip)]
    pub opens: Option<ChangeTerm>,
}

/// A term a tariff change opens: its dates, chain, period and what it is worth on the new
/// tariff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeTerm {
    pub period: Period,
    pub chain: Chain,
    pub span: Span,
    pub price: PriceLines,
    /// Whether the paid days after the change day are given up for this term (`ChangePeriod`,
    /// whose credit bought it; `FullPayment` from the current date, which forfeits them).
    pub replaces_from_change_day: bool,
}

/// Changes `service`, paid as `paid` on tariff `from`, to tariff `to` on day `on`; `period` is
/// the service's period on the new tariff.
///
/// Prices only: whether `to` sells `period` on `on` is a rule for a new sale
/// ([`policy::check_change`]), never for history, so a tariff edited after the change leaves
/// it priced (issue 15).
pub fn change_tariff(
    from: &TariffSpec,
    to: &TariffSpec,
    service: &HostingServiceSpec,
    paid: &PaidPeriod,
    on: Date,
    period: Period,
) -> Result<TariffChangeOutcome> {
    let change = &from.policies.tariff_change;
    if change.policy == TariffChangePolicy::Forbidden {
        return Err(BillingError::TariffChangeForbidden);
    }
    let outcome = |charge: Decimal, refund: Decimal, paid_until: Date| TariffChangeOutcome {
        policy: change.policy,
        charge: round(charge),
        refund: round(refund),
        paid_until,
        new_term_start: None,
        opens: None,
    };

    if change.policy == TariffChangePolicy::FullPayment {
        let start = match change.renew_from.unwrap_or(RenewFrom::CurrentDate) {
            RenewFrom::CurrentDate => on,
            RenewFrom::ExpirationDate => paid.paid_until().max(on),
        };
        let (chain, span) = term::open(&to.charging, start, period)?;
        let price = prices::lines(to, service, period, PriceKind::Order, span.share)?;
        return Ok(TariffChangeOutcome {
            new_term_start: Some(span.start),
            opens: Some(ChangeTerm {
                period,
                chain,
                span,
                replaces_from_change_day: span.start == on,
                price: price.clone(),
            }),
            ..outcome(price.total.0, Decimal::ZERO, span.end)
        });
    }

    if !(paid.start() <= on && on < paid.paid_until()) {
        return Err(BillingError::NotPaidOn {
            on,
            start: paid.start(),
            paid_until: paid.paid_until(),
        });
    }
    let (credit, debit) = remaining_value(to, service, paid, on, period)?;
    // The difference is the amount: exact, rounded once (rounding credit and debit first
    // could land a cent off, e.g. 0.67 − 0.33 = 0.34 for an exact 0.333…).
    let difference = debit.minus(credit).value();
    let up = difference.max(Decimal::ZERO);
    let down = (-difference).max(Decimal::ZERO);
    Ok(match change.policy {
        TariffChangePolicy::AddFundsOrRefund => outcome(up, down, paid.paid_until()),
        TariffChangePolicy::ChargeOnly => outcome(up, Decimal::ZERO, paid.paid_until()),
        _ => {
            // ChangePeriod: the credit buys days of the new tariff at its price, compared as
            // exact fractions (a ratio of two rounded decimals floored 20 to 19, issue 15).
            let left = days_between(on, paid.paid_until());
            if !debit.is_positive() {
                return Ok(outcome(Decimal::ZERO, Decimal::ZERO, paid.paid_until()));
            }
            let days = credit
                .floor_ratio(left, debit)
                .ok_or(BillingError::DateOutOfRange)?;
            let paid_until = add_days(on, days)?;
            TariffChangeOutcome {
                opens: Some(bought_days(to, service, on, days, period)?),
                ..outcome(Decimal::ZERO, Decimal::ZERO, paid_until)
            }
        }
    })
}

/// The term `ChangePeriod` opens: `days` from the change day, worth what they cost on the new
/// tariff (its price for `period` × days / the period's nominal days), so that a later change
/// or addon refund values them at what they are worth, never above the credit that bought
/// them. Renewals continue from its end.
fn bought_days(
    to: &TariffSpec,
    service: &HostingServiceSpec,
    on: Date,
    days: i64,
    period: Period,
) -> Result<ChangeTerm> {
    let end = add_days(on, days)?;
    let share = Share {
        numerator: days,
        denominator: term::NOMINAL_DAYS_PER_MONTH * i64::from(period.months()),
    };
    let price = prices::lines(to, service, period, PriceKind::Renewal, share)?;
    let unit = term::month_unit(&to.charging);
    Ok(ChangeTerm {
        period,
        chain: Chain {
            anchor: end,
            months: 0,
            unit,
        },
        span: Span {
            start: on,
            end,
            share,
        },
        price,
        replaces_from_change_day: true,
    })
}

/// (credit, debit): what the days from `on` to the expiry were paid on the old tariff and what
/// they cost on `to`; exact, not rounded.
fn remaining_value(
    to: &TariffSpec,
    service: &HostingServiceSpec,
    paid: &PaidPeriod,
    on: Date,
    period: Period,
) -> Result<(Exact, Exact)> {
    let mut credit = Exact::ZERO;
    let mut debit = Exact::ZERO;
    for term in paid.terms().iter().filter(|t| t.end > on && t.days() > 0) {
        let left = Share {
            numerator: days_between(term.start.max(on), term.end),
            denominator: term.days(),
        };
        credit = credit.plus(Exact::of(term.price.total.0).share(left));
        debit = debit.plus(value_on(to, service, term, period)?.share(left));
    }
    Ok((credit, debit))
}

/// What `term` would have cost on tariff `to`.
fn value_on(
    to: &TariffSpec,
    service: &HostingServiceSpec,
    term: &Term,
    period: Period,
) -> Result<Exact> {
    let kind = match term.kind {
        TermKind::Order => PriceKind::Order,
        TermKind::Renewal { .. } | TermKind::TariffChange { .. } => PriceKind::Renewal,
    };
    if policy::check_orderable(to, term.period).is_ok() {
        let lines = prices::lines(to, service, term.period, kind, term.share)?;
        return Ok(Exact::of(lines.total.0));
    }
    // The new tariff does not sell the term's period: its requested period's price per month.
    let whole = prices::lines(to, service, period, kind, Share::WHOLE)?
        .total
        .0;
    let months = Share {
        numerator: i64::from(term.period.months()),
        denominator: i64::from(period.months()),
    };
    Ok(Exact::of(whole).share(months).share(term.share))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tariff::TariffChange;
    use crate::billing::service::paid_period;
    use crate::billing::testing::{date, money, service, tariff};

    fn with_policy(
        monthly: &str,
        policy: TariffChangePolicy,
        renew_from: Option<RenewFrom>,
    ) -> TariffSpec {
        let mut t = tariff(monthly);
        t.policies.tariff_change = TariffChange { policy, renew_from };
        t
    }

    /// A 30-day month (Apr 1 → May 1) on a $10 tariff, changed to $20 with 15 days left.
    fn change(policy: TariffChangePolicy, to: &str) -> TariffChangeOutcome {
        let from = with_policy("10.00", policy, None);
        let s = service(Period::OneMonth, "2026-04-01", &[]);
        let paid = paid_period(&from, &s).unwrap();
        change_tariff(
            &from,
            &tariff(to),
            &s,
            &paid,
            date("2026-04-16"),
            Period::OneMonth,
        )
        .unwrap()
    }

    #[test]
    fn add_funds_or_refund_pays_the_difference_both_ways() {
        // WHMCS's worked example: credit 5.00, debit 10.00, payable 5.00.
        let up = change(TariffChangePolicy::AddFundsOrRefund, "20.00");
        assert_eq!(
            (up.charge, up.refund, up.paid_until),
            (money("5.00"), money("0.00"), date("2026-05-01"))
        );
        let down = change(TariffChangePolicy::AddFundsOrRefund, "4.00");
        assert_eq!((down.charge, down.refund), (money("0.00"), money("3.00")));
    }

    #[test]
    fn the_difference_is_rounded_once_not_credit_and_debit_apart() {
        // 10.00 → 20.00 with 1 of 30 days left: exactly 20/30 − 10/30 = 0.333… → 0.33
        // (rounding each first gave 0.67 − 0.33 = 0.34); back down, a refund of 0.33.
        let s = service(Period::OneMonth, "2026-04-01", &[]);
        let mut outcomes = Vec::new();
        for (from, to) in [("10.00", "20.00"), ("20.00", "10.00")] {
            let from = with_policy(from, TariffChangePolicy::AddFundsOrRefund, None);
            let paid = paid_period(&from, &s).unwrap();
            let day = date("2026-04-30");
            let o = change_tariff(&from, &tariff(to), &s, &paid, day, Period::OneMonth).unwrap();
            outcomes.push((o.charge, o.refund));
        }
        assert_eq!(
            outcomes,
            [
                (money("0.33"), money("0.00")),
                (money("0.00"), money("0.33"))
            ]
        );
    }

    #[test]
    fn charge_only_never_refunds() {
        let up = change(TariffChangePolicy::ChargeOnly, "20.00");
        assert_eq!((up.charge, up.refund), (money("5.00"), money("0.00")));
        let down = change(TariffChangePolicy::ChargeOnly, "4.00");
        assert_eq!(
            (down.charge, down.refund, down.paid_until),
            (money("0.00"), money("0.00"), date("2026-05-01"))
        );
    }

    #[test]
    fn change_period_moves_the_expiry_instead_of_money() {
        // 15 days worth 5.00 buy 7 days (7.5 rounded down) at 20.00 and 37 (37.5) at 4.00.
        let up = change(TariffChangePolicy::ChangePeriod, "20.00");
        assert_eq!(
            (up.charge, up.refund, up.paid_until),
            (money("0.00"), money("0.00"), date("2026-04-23"))
        );
        let down = change(TariffChangePolicy::ChangePeriod, "4.00");
        assert_eq!(down.paid_until, date("2026-05-23"));
    }

    #[test]
    fn change_period_counts_whole_days_exactly() {
        // Issue 15: 10.00 a month from Jul 1 (31 days), changed on Jul 22 to 5.00: 10 days left
        // buy exactly 20 days, so Aug 11 (a floored ratio of rounded decimals gave Aug 10).
        let from = with_policy("10.00", TariffChangePolicy::ChangePeriod, None);
        let s = service(Period::OneMonth, "2026-07-01", &[]);
        let paid = paid_period(&from, &s).unwrap();
        let o = change_tariff(
            &from,
            &tariff("5.00"),
            &s,
            &paid,
            date("2026-07-22"),
            Period::OneMonth,
        )
        .unwrap();
        assert_eq!(o.paid_until, date("2026-08-11"));
    }

    #[test]
    fn a_forbidden_change_is_an_error() {
        let from = with_policy("10.00", TariffChangePolicy::Forbidden, None);
        let s = service(Period::OneMonth, "2026-04-01", &[]);
        let paid = paid_period(&from, &s).unwrap();
        assert_eq!(
            change_tariff(
                &from,
                &tariff("20.00"),
                &s,
                &paid,
                date("2026-04-16"),
                Period::OneMonth
            ),
            Err(BillingError::TariffChangeForbidden)
        );
    }

    #[test]
    fn full_payment_from_the_current_date_or_the_expiration_date() {
        let s = service(Period::OneMonth, "2026-04-01", &[]);
        for (renew_from, start, end) in [
            (None, "2026-04-16", "2026-05-16"),
            (Some(RenewFrom::CurrentDate), "2026-04-16", "2026-05-16"),
            (Some(RenewFrom::ExpirationDate), "2026-05-01", "2026-06-01"),
        ] {
            let from = with_policy("10.00", TariffChangePolicy::FullPayment, renew_from);
            let paid = paid_period(&from, &s).unwrap();
            let o = change_tariff(
                &from,
                &tariff("20.00"),
                &s,
                &paid,
                date("2026-04-16"),
                Period::OneMonth,
            )
            .unwrap();
            assert_eq!(
                (o.charge, o.refund, o.new_term_start, o.paid_until),
                (money("20.00"), money("0.00"), Some(date(start)), date(end)),
                "{renew_from:?}"
            );
        }
    }

    #[test]
    fn changes_other_than_full_payment_need_a_paid_day() {
        let from = with_policy("10.00", TariffChangePolicy::AddFundsOrRefund, None);
        let s = service(Period::OneMonth, "2026-04-01", &[]);
        let paid = paid_period(&from, &s).unwrap();
        assert!(matches!(
            change_tariff(
                &from,
                &tariff("20.00"),
                &s,
                &paid,
                date("2026-05-01"),
                Period::OneMonth
            ),
            Err(BillingError::NotPaidOn { .. })
        ));
    }

    #[test]
    fn the_sale_rules_judge_a_new_change_but_never_its_pricing() {
        let from = with_policy("10.00", TariffChangePolicy::AddFundsOrRefund, None);
        let s = service(Period::OneMonth, "2026-04-01", &[]);
        let paid = paid_period(&from, &s).unwrap();
        let mut to = tariff("20.00");
        to.policies.end_date = Some(date("2026-04-15"));
        to.disabled_periods = vec![Period::OneMonth];
        let on = date("2026-04-16");
        // As a new sale the change is refused: the new tariff sells no month, and ended.
        assert!(matches!(
            policy::check_change(&to, on, Period::OneMonth),
            Err(BillingError::PeriodNotOrderable { .. })
        ));
        to.disabled_periods.clear();
        assert!(matches!(
            policy::check_change(&to, on, Period::OneMonth),
            Err(BillingError::TariffEnded { .. })
        ));
        // As history (the tariff edited since) it stays priced: 15 days of 20.00 − 10.00.
        let o = change_tariff(&from, &to, &s, &paid, on, Period::OneMonth).unwrap();
        assert_eq!(o.charge, money("5.00"));
    }
}
