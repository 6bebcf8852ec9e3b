//! Terms: where a paid term ends and which share of its period's price it costs, per charging
//! mode (seed 002, "Charge daily" and "Calendar-based charges").
//!
//! | mode | term of N months starting on `s` | share of the period price |
//! |---|---|---|
//! | `PerPeriod` | `s` + N months (anchor day kept) | 1 |
//! | `Daily` | `s` + N months | days of the term / (30 × N) |
//! | `Daily` + `dailyCostFromOrderPeriod` | `s` + 30 × N days | 1 |
//! | `Calendar`, `s` on the 1st | `s` + N months | 1 |
//! | `Calendar`, `s` before the pro-rata day | 1st of `s`'s month + N months | (partial + (N−1) months) / N |
//! | `Calendar`, `s` on/after the pro-rata day | 1st of `s`'s month + N + 1 months | (partial + N months) / N |
//!
//! where partial = (days in month − day + 1) / days in month (billing-conventions.md §3.1).
//!
//! **Daily charging.** The daily rate is the period price / (30 × N) ([`daily_rate`]). Without
//! "calculate daily cost depending on order period" the client pays that rate for every calendar
//! day of the term, so a January month of a $3.00 tariff costs 31 × $0.10 = $3.10; with it, the
//! order period counts 30 days a month, so the month is 30 days and costs $3.00 (the seed's
//! example). A declared payment in daily mode buys one such term; the controller debits nothing
//! day by day.
//!
//! **Calendar charging.** An order on the 1st is a whole month: there is no partial month to
//! align, whatever the pro-rata day is.

use rust_decimal::Decimal;

use super::Result;
use super::dates::{add_days, add_months, days_between, days_in_month, first_of_month};
use crate::api::common::{Date, Money, Period};
use crate::api::tariff::{Charging, ChargingMode};

/// Days in a month of an order period, for daily rates (seed 002: "30 days").
pub const NOMINAL_DAYS_PER_MONTH: i64 = 30;

/// The pro-rata day when the tariff sets none (seed 002: "Default value: 15").
pub const DEFAULT_PRO_RATA_DAY: u8 = 15;

/// The daily rate of a period's price: price / (30 × months). Not rounded (a rate is not an
/// amount); the amounts made from it are.
pub fn daily_rate(price: Money, period: Period) -> Decimal {
    price.0 / Decimal::from(NOMINAL_DAYS_PER_MONTH * i64::from(period.months()))
}

/// The fraction of a period's price that a term costs (1 for a whole period). Kept as a
/// fraction so that `price × numerator / denominator` divides once, at the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    pub numerator: i64,
    pub denominator: i64,
}

impl Share {
    /// A whole period.
    pub const WHOLE: Share = Share {
        numerator: 1,
        denominator: 1,
    };

    /// `amount` × this share, exact (not rounded).
    pub fn of(self, amount: Decimal) -> Decimal {
        if self.denominator == 0 {
            return Decimal::ZERO;
        }
        amount * Decimal::from(self.numerator) / Decimal::from(self.denominator)
    }
}

/// How a month is counted in a chain of terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonthUnit {
    /// A calendar month, clamped to the anchor day.
    Calendar,
    /// 30 days (daily charging with "calculate daily cost depending on order period").
    ThirtyDays,
}

/// Terms laid end to end from one anchor: every end is `anchor + months`, never the previous
/// end plus a month, so the anchor day survives short months.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chain {
    pub anchor: Date,
    pub months: i64,
    pub unit: MonthUnit,
}

impl Chain {
    /// The exclusive end of the last term of the chain.
    pub fn end(&self) -> Result<Date> {
        match self.unit {
            MonthUnit::Calendar => add_months(self.anchor, self.months),
            MonthUnit::ThirtyDays => add_days(self.anchor, self.months * NOMINAL_DAYS_PER_MONTH),
        }
    }
}

/// One term's dates and price share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: Date,
    /// Exclusive.
    pub end: Date,
    pub share: Share,
}

/// How the charging mode counts a month.
pub fn month_unit(charging: &Charging) -> MonthUnit {
    match (charging.mode, charging.daily_cost_from_order_period) {
        (ChargingMode::Daily, true) => MonthUnit::ThirtyDays,
        _ => MonthUnit::Calendar,
    }
}

/// Starts a new chain with a term of `period` on `start`: the first order, or a late renewal
/// that restarts the term on its payment day.
pub fn open(charging: &Charging, start: Date, period: Period) -> Result<(Chain, Span)> {
    let n = i64::from(period.months());
    let unit = month_unit(charging);
    if charging.mode == ChargingMode::Calendar && start.0.day() != 1 {
        let pro_rata_day = charging.pro_rata_day.unwrap_or(DEFAULT_PRO_RATA_DAY);
        let day = i64::from(start.0.day());
        let extra = i64::from(day >= i64::from(pro_rata_day));
        let month_days = days_in_month(start);
        let chain = Chain {
            anchor: first_of_month(start),
            months: n + extra,
            unit,
        };
        let share = Share {
            numerator: (month_days - day + 1) + (n - 1 + extra) * month_days,
            denominator: month_days * n,
        };
        let end = chain.end()?;
        return Ok((chain, Span { start, end, share }));
    }
    let chain = Chain {
        anchor: start,
        months: n,
        unit,
    };
    let end = chain.end()?;
    let share = share_of(charging, start, end, period);
    Ok((chain, Span { start, end, share }))
}

/// The next term of `chain` for `period`: an on-time renewal, or a late one under "renew from
/// suspension date". It starts where the chain ends.
pub fn extend(charging: &Charging, chain: Chain, period: Period) -> Result<(Chain, Span)> {
    let start = chain.end()?;
    let next = Chain {
        months: chain.months + i64::from(period.months()),
        ..chain
    };
    let end = next.end()?;
    let share = share_of(charging, start, end, period);
    Ok((next, Span { start, end, share }))
}

/// The share of a term that needs no calendar alignment.
fn share_of(charging: &Charging, start: Date, end: Date, period: Period) -> Share {
    match (charging.mode, charging.daily_cost_from_order_period) {
        (ChargingMode::Daily, false) => Share {
            numerator: days_between(start, end),
            denominator: NOMINAL_DAYS_PER_MONTH * i64::from(period.months()),
        },
        _ => Share::WHOLE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::testing::{calendar, date, per_period};

    #[test]
    fn per_period_terms_keep_the_anchor_day() {
        let (chain, first) = open(&per_period(), date("2026-01-31"), Period::OneMonth).unwrap();
        assert_eq!(first.end, date("2026-02-28"));
        let (chain, second) = extend(&per_period(), chain, Period::OneMonth).unwrap();
        assert_eq!(
            (second.start, second.end),
            (date("2026-02-28"), date("2026-03-31"))
        );
        let (_, third) = extend(&per_period(), chain, Period::OneMonth).unwrap();
        assert_eq!(third.end, date("2026-04-30"));
    }

    #[test]
    fn a_calendar_order_on_the_first_is_a_whole_month() {
        let (_, span) = open(&calendar(Some(1)), date("2026-07-01"), Period::OneMonth).unwrap();
        assert_eq!((span.end, span.share), (date("2026-08-01"), Share::WHOLE));
    }

    #[test]
    fn calendar_terms_of_several_months_prorate_the_first_month_only() {
        // 3 months from July 17 with pro-rata day 15: partial July + Aug, Sep, Oct.
        let (chain, span) =
            open(&calendar(Some(15)), date("2026-07-17"), Period::ThreeMonths).unwrap();
        assert_eq!(span.end, date("2026-11-01"));
        assert_eq!(
            span.share,
            Share {
                numerator: 15 + 3 * 31,
                denominator: 31 * 3
            }
        );
        let (_, next) = extend(&calendar(Some(15)), chain, Period::ThreeMonths).unwrap();
        assert_eq!(
            (next.start, next.end, next.share),
            (date("2026-11-01"), date("2027-02-01"), Share::WHOLE)
        );
    }

    #[test]
    fn the_pro_rata_day_defaults_to_15() {
        let (_, before) = open(&calendar(None), date("2026-07-14"), Period::OneMonth).unwrap();
        let (_, on) = open(&calendar(None), date("2026-07-15"), Period::OneMonth).unwrap();
        assert_eq!(
            (before.end, on.end),
            (date("2026-08-01"), date("2026-09-01"))
        );
    }
}
