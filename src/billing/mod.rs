//! Billing arithmetic of seed 002: periods, prices, charging modes, late renewal fees, tariff
//! changes, addon orders and cancellations, and the paid period of a service.
//!
//! Pure: no I/O and no clock. "Today" is always an argument (a civil day in the tariff's time
//! zone, [`zone`]), so the controller, the `quote`
//! command and the tests get the same answer for the same spec, tariff and date — which is what
//! makes re-applying YAML safe (design §3: the paid period is a function of the spec).
//!
//! # The rules, stated once
//!
//! **Money.** Amounts are [`rust_decimal::Decimal`], never floats. Every amount the module
//! produces goes through [`round`]: **half away from zero ("commercial" rounding) to 2 decimal
//! places**, once per line item. A line item is one priced thing (the tariff, one resource, the
//! control-panel license, a late fee, a setup fee) for one term; its amount is computed exactly
//! (multiplications first, one division last) and rounded once; totals are sums of rounded lines,
//! so an invoice always adds up. Half-up rather than banker's rounding because it is what the
//! PHP-based platforms of billing-conventions.md produce (`round()` in WHMCS, FOSSBilling,
//! Blesta), so a provider comparing our figures with its old platform sees the same cents.
//! Rates (a daily rate, a share of a month) are never rounded: rounding them first would make a
//! 90-day period cost 90 × 0.09 = 8.10 instead of its price 8.50.
//!
//! **Dates.** A term runs from its first day to its end, **exclusive**: "ordered July 12,
//! active until August 1" is the term `[2026-07-12, 2026-08-01)`; `paidUntil` is the first day
//! that is not paid, the day the service expires. Days between two dates are midnight-to-midnight
//! differences, so a term `[Nov 1, Nov 30)` has 29 days and an addon ordered on Nov 15 for a
//! service paid until Nov 30 is charged for 15 days (seed 002), the order day included.
//!
//! **Months.** Adding months keeps the **original anchor day** and clamps it to the target
//! month's length, and every term end is computed from the anchor of its chain, never from the
//! previous end: Jan 31 + 1 month = Feb 28 (29 in leap years), + 2 months = Mar 31
//! (billing-conventions.md §3.5, the Stripe/Recurly convention).
//!
//! **Overdue days** (late renewal fee) count the expiry day and the payment day, both included:
//! expired Sep 1, renewed Sep 5 → 5 days (seed 002: "5 days x $0.1"). BILLmanager counts the day
//! of an event as a whole day (billing-conventions.md §3.7); on its expiry day a service is
//! already suspended, and on the payment day it is unpaid until the payment.
//!
//! **Daily rate.** One rule everywhere (daily charging, late fees): the period's price divided by
//! its nominal days, **30 per month** (`daily_rate`), the "30 days" of the seed's example and
//! FOSSBilling's `months × 30`. See [`term`] for how daily charging uses it.

pub mod addons;
pub mod change;
pub mod dates;
pub mod downtime;
mod error;
pub mod events;
pub mod exact;
pub mod history;
pub mod late_fee;
pub mod lifecycle;
pub mod policy;
pub mod prices;
pub mod quote;
pub mod service;
pub mod term;
pub mod zone;

#[cfg(test)]
mod events_tests;
#[cfg(test)]
mod exact_properties;
#[cfg(test)]
mod history_tests;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod replay_tests;
#[cfg(test)]
mod seed_examples;
#[cfg(test)]
pub(crate) mod testing;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::api::common::Money;

pub use addons::{AddonCharge, AddonRefund, cancel_addon, order_addon};
pub use change::{TariffChangeOutcome, change_tariff};
pub use error::BillingError;
pub use late_fee::{Late, overdue_days};
pub use prices::{ControlPanelLine, PriceKind, PriceLines, ResourceLine};
pub use quote::{ServiceQuote, quote};
pub use service::{PaidPeriod, Term, TermKind, paid_period};
pub use term::{Share, daily_rate};

/// Decimal places of every amount the module produces.
pub const MONEY_DECIMAL_PLACES: u32 = 2;

/// The one rounding rule: half away from zero to [`MONEY_DECIMAL_PLACES`] places, always shown
/// with that many places (`3.5` becomes `3.50`). Zero is never negative: `-0.00` is not an
/// amount a person should read, and the CRD's money pattern refuses it, so a status carrying
/// it could not be written at all.
pub fn round(amount: Decimal) -> Money {
    let mut rounded =
        amount.round_dp_with_strategy(MONEY_DECIMAL_PLACES, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(MONEY_DECIMAL_PLACES);
    if rounded.is_zero() {
        rounded.set_sign_positive(true);
    }
    Money(rounded)
}

/// Shorthand for results of this module.
pub type Result<T> = std::result::Result<T, BillingError>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn rounding_is_half_away_from_zero_to_two_places() {
        assert_eq!(round(d("0.525")).to_string(), "0.53");
        assert_eq!(round(d("0.535")).to_string(), "0.54");
        assert_eq!(round(d("0.5249")).to_string(), "0.52");
        assert_eq!(round(d("193.548387")).to_string(), "193.55");
    }

    #[test]
    fn zero_is_never_negative() {
        // A change whose debit equals its credit gave a refund of -0.00 (0 negated), which
        // the API server refused, so the service's status could not be written.
        assert_eq!(round(-Decimal::ZERO).to_string(), "0.00");
        assert_eq!(round(d("-0.004")).to_string(), "0.00");
        assert_eq!(round(d("-0.005")).to_string(), "-0.01");
    }

    #[test]
    fn rounded_amounts_always_show_two_places() {
        assert_eq!(round(d("3.5")).to_string(), "3.50");
        assert_eq!(round(Decimal::ZERO).to_string(), "0.00");
        assert_eq!(round(d("3")).to_string(), "3.00");
    }
}
