//! The paid period of a service, replayed from its spec: the first order (start date + period),
//! then every declared renewal in list order. The list, not the number of times YAML is
//! applied, decides how long a service is paid for (design §3).
//!
//! A renewal paid before the expiry day continues the chain of terms from the expiry (anchor
//! day kept). A renewal paid on or after it is late and follows the tariff's late renewal fee
//! ([`super::late_fee`]): "renew from suspension date" still continues from the old expiry;
//! every other type starts a new chain on the payment day and charges its fee.
//!
//! Each term is priced with the resource quantities of its own day ([`as_of`]): a declared
//! resource change (`spec.resourceChanges`) is billed as an addon on its day
//! ([`super::events`]) and reaches the terms paid after it, never the ones before.
//!
//! Declared tariff changes (`spec.tariffChanges`) are replayed in date order with the renewals
//! by [`super::history`]: each term is priced by the tariff of its day, and a change that
//! moves the expiry ("change period", "full payment") moves `paidUntil` here too.
//!
//! **Policies are never retroactive.** The replay checks only what pricing needs (a price for
//! the period, renewals in date order), never the order policies (disabled periods, end date,
//! minimum order period): those judge a sale on its own day, in [`super::lifecycle::admission`]
//! for a new order and in [`PaidPeriod::preview_renewal`] for a renewal not yet made. A tariff
//! that later disables a period or ends must not turn a service's paid history into an error,
//! or an unpaid service would never be suspended (issue 15).

use serde::Serialize;

use super::change::TariffChangeOutcome;
use super::events::as_of;
use super::late_fee::{self, Late};
use super::prices::{self, PriceKind, PriceLines};
use super::term::{self, Chain, Share};
use super::{BillingError, Result, dates, policy};
use crate::api::common::{Date, Period};
use crate::api::hosting_service::HostingServiceSpec;
use crate::api::tariff::TariffSpec;

/// Whether a term was the first order or a renewal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum TermKind {
    Order,
    /// The renewal at this index of `spec.renewals`.
    Renewal {
        index: usize,
    },
    /// The term opened by the tariff change at this index of `spec.tariffChanges`
    /// (`ChangePeriod` that moves the expiry, `FullPayment`).
    TariffChange {
        index: usize,
    },
}

/// One paid term of a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Term {
    pub kind: TermKind,
    pub period: Period,
    /// The order day, or the day the renewal was paid.
    pub paid_on: Date,
    pub start: Date,
    /// Exclusive: the first day not paid by this term; earlier than `priced_end` when a
    /// later tariff change took the rest of the term.
    pub end: Date,
    /// Exclusive: the end the term was priced for, so the value of each of its days stays
    /// its price / its priced days after a change cut it short.
    #[serde(skip)]
    pub priced_end: Date,
    /// The share of the period's price this term cost (calendar alignment, daily charging).
    #[serde(skip)]
    pub share: Share,
    /// What the term cost, without setup fee and late fee.
    pub price: PriceLines,
    /// Set when the renewal was paid on or after the expiry day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late: Option<Late>,
}

impl Term {
    /// Days the term was priced for (its price buys each of them at price / days).
    pub fn days(&self) -> i64 {
        dates::days_between(self.start, self.priced_end)
    }

    /// Whether `day` is paid by this term.
    pub fn contains(&self, day: Date) -> bool {
        self.start <= day && day < self.end
    }
}

/// The terms a service has paid, in order, laid end to end except where a late renewal
/// restarted them (the gap is the unpaid time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaidPeriod {
    terms: Vec<Term>,
    chain: Chain,
}

impl PaidPeriod {
    /// The first order of `service` on `tariff`, before any renewal.
    pub fn order(tariff: &TariffSpec, service: &HostingServiceSpec) -> Result<Self> {
        let (start, period) = (service.start_date, service.period);
        let service = &as_of(service, start);
        let (chain, span) = term::open(&tariff.charging, start, period)?;
        let price = prices::lines(tariff, service, period, PriceKind::Order, span.share)?;
        Ok(Self {
            terms: vec![Term {
                kind: TermKind::Order,
                period,
                paid_on: start,
                start: span.start,
                end: span.end,
                priced_end: span.end,
                share: span.share,
                price,
                late: None,
            }],
            chain,
        })
    }

    /// Applies a tariff change made on `on` (`spec.tariffChanges[index]`) whose billing is
    /// `outcome`: the term it opens, if any, is added; when that term replaces the paid days
    /// after the change day, every term stops at the change day. Renewals after the change
    /// continue from the new term's chain.
    pub fn apply_change(&mut self, index: usize, on: Date, outcome: &TariffChangeOutcome) {
        let Some(opens) = &outcome.opens else {
            return;
        };
        if opens.replaces_from_change_day {
            for t in &mut self.terms {
                t.end = t.end.min(on).max(t.start);
            }
        }
        self.terms.push(Term {
            kind: TermKind::TariffChange { index },
            period: opens.period,
            paid_on: on,
            start: opens.span.start,
            end: opens.span.end,
            priced_end: opens.span.end,
            share: opens.span.share,
            price: opens.price.clone(),
            late: None,
        });
        self.chain = opens.chain;
    }

    /// Every term, the order first.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// The first paid day.
    pub fn start(&self) -> Date {
        self.terms[0].start
    }

    /// The first unpaid day: the expiry day (`status.paidUntil`).
    pub fn paid_until(&self) -> Date {
        self.terms[self.terms.len() - 1].end
    }

    /// The most recently paid term.
    pub fn last_term(&self) -> &Term {
        &self.terms[self.terms.len() - 1]
    }

    /// The term that pays for `day`, if any.
    pub fn term_on(&self, day: Date) -> Option<&Term> {
        self.terms.iter().find(|t| t.contains(day))
    }

    /// What a renewal of `period` paid on `paid_on` would be, without recording it: its dates,
    /// price and late fee. For the controller's and the CLI's "what if renewed today". A new
    /// sale, so the tariff's renewal policies of that day apply.
    pub fn preview_renewal(
        &self,
        tariff: &TariffSpec,
        service: &HostingServiceSpec,
        period: Period,
        paid_on: Date,
    ) -> Result<Term> {
        policy::check_renewal(tariff, paid_on, period)?;
        self.next(tariff, service, period, paid_on, self.renewals())
            .map(|(term, _)| term)
    }

    /// Records a renewal of `period` paid on `paid_on`.
    pub fn renew(
        &mut self,
        tariff: &TariffSpec,
        service: &HostingServiceSpec,
        period: Period,
        paid_on: Date,
    ) -> Result<&Term> {
        let (term, chain) = self.next(tariff, service, period, paid_on, self.renewals())?;
        self.terms.push(term);
        self.chain = chain;
        Ok(self.last_term())
    }

    /// What an on-time renewal of `period` (continuing from the expiry) costs; ignores the
    /// tariff's end date, so a quote can still show the price of a tariff that stopped selling.
    pub fn on_time_renewal_price(
        &self,
        tariff: &TariffSpec,
        service: &HostingServiceSpec,
        period: Period,
    ) -> Result<PriceLines> {
        let (_, span) = term::extend(&tariff.charging, self.chain, period)?;
        prices::lines(tariff, service, period, PriceKind::Renewal, span.share)
    }

    /// Renewals recorded so far: the index the next one has in `spec.renewals`.
    fn renewals(&self) -> usize {
        self.terms
            .iter()
            .filter(|t| matches!(t.kind, TermKind::Renewal { .. }))
            .count()
    }

    fn next(
        &self,
        tariff: &TariffSpec,
        service: &HostingServiceSpec,
        period: Period,
        paid_on: Date,
        index: usize,
    ) -> Result<(Term, Chain)> {
        let service = &as_of(service, paid_on);
        let previous = self.last_term().paid_on;
        if paid_on < self.terms[0].paid_on {
            return Err(BillingError::RenewalBeforeStart {
                index,
                paid_on,
                start: self.terms[0].paid_on,
            });
        }
        if paid_on < previous {
            return Err(BillingError::RenewalsOutOfOrder {
                index,
                paid_on,
                previous,
            });
        }
        let whole = prices::lines(tariff, service, period, PriceKind::Renewal, Share::WHOLE)?;
        let expiry = self.paid_until();
        let late = late_fee::late(
            &tariff.policies.late_renewal_fee,
            whole.total,
            period,
            expiry,
            paid_on,
        );
        let restart = late.as_ref().is_some_and(|l| l.restarts_on_payment_day);
        let (chain, span) = if restart {
            term::open(&tariff.charging, paid_on, period)?
        } else {
            term::extend(&tariff.charging, self.chain, period)?
        };
        let price = if span.share == Share::WHOLE {
            whole
        } else {
            prices::lines(tariff, service, period, PriceKind::Renewal, span.share)?
        };
        let term = Term {
            kind: TermKind::Renewal { index },
            period,
            paid_on,
            start: span.start,
            end: span.end,
            priced_end: span.end,
            share: span.share,
            price,
            late,
        };
        Ok((term, chain))
    }
}

/// The paid period of `service` on `tariff`: the order, then each declared renewal in order.
/// A service that declares tariff changes needs the tariffs it moved from:
/// [`super::history::History`].
pub fn paid_period(tariff: &TariffSpec, service: &HostingServiceSpec) -> Result<PaidPeriod> {
    super::history::History::new(tariff, &super::history::only_current, service).paid_period()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tariff::{LateFeeType, LateRenewalFee};
    use crate::billing::history::{History, only_current};
    use crate::billing::testing::{date, money, service, tariff};

    #[test]
    fn renewals_paid_in_time_extend_from_the_expiry_with_the_anchor_day() {
        let s = service(
            Period::OneMonth,
            "2026-01-31",
            &[
                (Period::OneMonth, "2026-02-20"),
                (Period::OneMonth, "2026-03-20"),
            ],
        );
        let paid = paid_period(&tariff("3.00"), &s).unwrap();
        let ends: Vec<Date> = paid.terms().iter().map(|t| t.end).collect();
        assert_eq!(
            ends,
            [date("2026-02-28"), date("2026-03-31"), date("2026-04-30")]
        );
        assert_eq!(paid.paid_until(), date("2026-04-30"));
        assert!(paid.terms().iter().all(|t| t.late.is_none()));
    }

    #[test]
    fn an_early_renewal_adds_to_the_end_not_to_the_payment_day() {
        let s = service(
            Period::OneMonth,
            "2026-01-10",
            &[(Period::OneMonth, "2026-01-11")],
        );
        assert_eq!(
            paid_period(&tariff("3.00"), &s).unwrap().paid_until(),
            date("2026-03-10")
        );
    }

    #[test]
    fn a_late_renewal_without_fee_restarts_on_the_payment_day() {
        let s = service(
            Period::OneMonth,
            "2026-01-31",
            &[(Period::OneMonth, "2026-03-05")],
        );
        let paid = paid_period(&tariff("3.00"), &s).unwrap();
        assert_eq!(paid.paid_until(), date("2026-04-05"));
        let late = paid.last_term().late.clone().unwrap();
        assert_eq!(
            (late.expired_on, late.days, late.fee),
            (date("2026-02-28"), 6, money("0.00"))
        );
    }

    #[test]
    fn a_renewal_paid_on_the_expiry_day_is_one_day_late() {
        let mut t = tariff("3.00");
        t.policies.late_renewal_fee = LateRenewalFee {
            type_: LateFeeType::Fixed,
            amount: Some(money("2.00")),
            percent: None,
        };
        let s = service(
            Period::OneMonth,
            "2026-01-10",
            &[(Period::OneMonth, "2026-02-10")],
        );
        let paid = paid_period(&t, &s).unwrap();
        let late = paid.last_term().late.clone().unwrap();
        assert_eq!((late.days, late.fee), (1, money("2.00")));
        assert_eq!(paid.paid_until(), date("2026-03-10"));
    }

    #[test]
    fn a_late_calendar_renewal_is_realigned_like_an_order() {
        let mut t = tariff("300.00");
        t.charging = crate::billing::testing::calendar(Some(15));
        // Paid until Aug 1, renewed Aug 20 (on/after day 15): partial August + September.
        let s = service(
            Period::OneMonth,
            "2026-07-01",
            &[(Period::OneMonth, "2026-08-20")],
        );
        let paid = paid_period(&t, &s).unwrap();
        assert_eq!(paid.paid_until(), date("2026-10-01"));
        assert_eq!(
            paid.last_term().price.total,
            money("416.13"),
            "300 × (12/31 + 1)"
        );
    }

    #[test]
    fn a_daily_renewal_costs_the_days_of_its_term() {
        let mut t = tariff("3.00");
        t.charging = crate::billing::testing::daily(false);
        // January (31 days) then February (28 days) at 0.10 a day.
        let s = service(
            Period::OneMonth,
            "2026-01-01",
            &[(Period::OneMonth, "2026-01-20")],
        );
        let paid = paid_period(&t, &s).unwrap();
        let prices: Vec<String> = paid
            .terms()
            .iter()
            .map(|t| t.price.total.to_string())
            .collect();
        assert_eq!(prices, ["3.10", "2.80"]);
        assert_eq!(paid.paid_until(), date("2026-03-01"));
    }

    #[test]
    fn renewals_before_the_start_or_out_of_order_are_errors() {
        let s = service(
            Period::OneMonth,
            "2026-01-10",
            &[(Period::OneMonth, "2026-01-09")],
        );
        assert!(matches!(
            paid_period(&tariff("3.00"), &s),
            Err(BillingError::RenewalBeforeStart { index: 0, .. })
        ));
        let s = service(
            Period::OneMonth,
            "2026-01-10",
            &[
                (Period::OneMonth, "2026-02-01"),
                (Period::OneMonth, "2026-01-20"),
            ],
        );
        assert!(matches!(
            paid_period(&tariff("3.00"), &s),
            Err(BillingError::RenewalsOutOfOrder { index: 1, .. })
        ));
    }

    #[test]
    fn a_renewal_after_the_tariff_end_date_is_a_bad_sale_but_history_stays_priced() {
        let mut t = tariff("3.00");
        t.policies.end_date = Some(date("2026-01-31"));
        let s = service(
            Period::OneMonth,
            "2026-01-10",
            &[(Period::OneMonth, "2026-02-01")],
        );
        assert_eq!(
            policy::check_declared_sales(&History::new(&t, &only_current, &s)).unwrap_err(),
            BillingError::TariffEnded {
                end: date("2026-01-31"),
                on: date("2026-02-01")
            }
        );
        // The end date may have been set after the renewal was sold: never retroactive.
        assert_eq!(
            paid_period(&t, &s).unwrap().paid_until(),
            date("2026-03-10")
        );
        let s = service(Period::OneMonth, "2026-02-01", &[]);
        assert!(matches!(
            policy::check_declared_sales(&History::new(&t, &only_current, &s)),
            Err(BillingError::TariffEnded { .. })
        ));
    }

    #[test]
    fn a_renewal_for_a_period_the_tariff_does_not_sell_is_an_error() {
        let s = service(
            Period::OneMonth,
            "2026-01-10",
            &[(Period::OneYear, "2026-02-01")],
        );
        assert_eq!(
            paid_period(&tariff("3.00"), &s).unwrap_err(),
            BillingError::PeriodNotOrderable {
                period: Period::OneYear
            }
        );
    }
}
