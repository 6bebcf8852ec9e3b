//! The late renewal fee of seed 002: without fee, a fixed amount, a percent of the overdue days'
//! cost, or "renew from suspension date".
//!
//! A renewal is late when it is paid on or after the expiry day (`paidUntil`, the first unpaid
//! day). Where the renewed term starts follows the fee type, as billing-conventions.md describes
//! BILLmanager: with "renew from suspension date" the new term continues from the old expiry
//! (expired Aug 3, renewed Aug 15 → active until Sep 3), which is how that policy makes the
//! client pay for the overdue days; with every other type the client pays the fee instead and
//! the new term starts on the payment day (→ Sep 15).
//!
//! The percent fee is `percent` of the overdue days' cost "even if the hosting service was
//! purchased for a year": the whole renewal (tariff, resources, license) at the daily rate
//! ([`super::daily_rate`]) of its period, multiplied out before the one division, for the overdue days counted as in the module rules (expiry day and payment
//! day included: Sep 1 → Sep 5 is 5 days).

use rust_decimal::Decimal;
use serde::Serialize;

use super::dates::days_between;
use super::exact::Exact;
use super::round;
use super::term::NOMINAL_DAYS_PER_MONTH;
use crate::api::common::{Date, Money, Period};
use crate::api::tariff::{LateFeeType, LateRenewalFee};

/// How late a renewal was paid and what that cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Late {
    /// The expiry day the renewal came after.
    pub expired_on: Date,
    /// Overdue days, the expiry day and the payment day included.
    pub days: i64,
    /// The fee added to the renewal (zero for "without fee" and "renew from suspension date").
    pub fee: Money,
    /// Whether the new term starts on the payment day (every type but "renew from suspension
    /// date", whose term continues from the expiry day).
    pub restarts_on_payment_day: bool,
}

/// Overdue days of a renewal paid on `paid_on` for a service that expires on `expired_on`:
/// zero before the expiry day, else the days from the expiry day through the payment day.
pub fn overdue_days(expired_on: Date, paid_on: Date) -> i64 {
    if paid_on < expired_on {
        0
    } else {
        days_between(expired_on, paid_on) + 1
    }
}

/// The late fee for a renewal of `period` costing `renewal_total` (all lines) that is `days`
/// days overdue; zero when it is not overdue.
pub fn fee(policy: &LateRenewalFee, renewal_total: Money, period: Period, days: i64) -> Money {
    if days <= 0 {
        return round(Decimal::ZERO);
    }
    match policy.type_ {
        LateFeeType::None | LateFeeType::RenewFromSuspensionDate => round(Decimal::ZERO),
        LateFeeType::Fixed => round(policy.amount.unwrap_or(Money::ZERO).0),
        LateFeeType::Percent => {
            // price × days × percent / (30 × months × 100): one division, at the end.
            let percent = i64::from(policy.percent.unwrap_or(0));
            let nominal_days = NOMINAL_DAYS_PER_MONTH * i64::from(period.months());
            Exact::of(renewal_total.0)
                .times(days.saturating_mul(percent), nominal_days * 100)
                .round()
        }
    }
}

/// The late part of a renewal of `period` costing `renewal_total`, paid on `paid_on` for a
/// service expiring on `expired_on`; `None` when it is paid in time.
pub fn late(
    policy: &LateRenewalFee,
    renewal_total: Money,
    period: Period,
    expired_on: Date,
    paid_on: Date,
) -> Option<Late> {
    let days = overdue_days(expired_on, paid_on);
    (days > 0).then(|| Late {
        expired_on,
        days,
        fee: fee(policy, renewal_total, period, days),
        restarts_on_payment_day: policy.type_ != LateFeeType::RenewFromSuspensionDate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::testing::{date, money};

    fn policy(type_: LateFeeType, amount: Option<&str>, percent: Option<u32>) -> LateRenewalFee {
        LateRenewalFee {
            type_,
            amount: amount.map(money),
            percent,
        }
    }

    #[test]
    fn paying_before_the_expiry_day_is_not_late() {
        assert_eq!(overdue_days(date("2026-09-01"), date("2026-08-31")), 0);
        assert_eq!(overdue_days(date("2026-09-01"), date("2026-09-01")), 1);
        let p = policy(LateFeeType::Fixed, Some("2.00"), None);
        assert_eq!(
            late(
                &p,
                money("3.00"),
                Period::OneMonth,
                date("2026-09-01"),
                date("2026-08-01")
            ),
            None
        );
    }

    #[test]
    fn a_fixed_fee_is_charged_once_whatever_the_delay() {
        let p = policy(LateFeeType::Fixed, Some("2.00"), None);
        assert_eq!(fee(&p, money("60.00"), Period::OneYear, 1), money("2.00"));
        assert_eq!(fee(&p, money("60.00"), Period::OneYear, 40), money("2.00"));
    }

    #[test]
    fn a_percent_fee_uses_the_daily_cost_even_of_a_yearly_service() {
        // 36.00 a year = 0.10 a day; 10 days late at 50 % = 0.50.
        let p = policy(LateFeeType::Percent, None, Some(50));
        assert_eq!(fee(&p, money("36.00"), Period::OneYear, 10), money("0.50"));
    }

    #[test]
    fn a_percent_fee_on_a_half_cent_rounds_up() {
        // Issue 15: exactly 0.375 and 2.495; dividing for the daily rate first gave 0.37, 2.49.
        let half = policy(LateFeeType::Percent, None, Some(50));
        assert_eq!(
            fee(&half, money("2.50"), Period::OneMonth, 9),
            money("0.38")
        );
        let full = policy(LateFeeType::Percent, None, Some(100));
        assert_eq!(
            fee(&full, money("4.99"), Period::OneMonth, 15),
            money("2.50")
        );
    }

    #[test]
    fn without_fee_and_renew_from_suspension_date_cost_nothing() {
        for t in [LateFeeType::None, LateFeeType::RenewFromSuspensionDate] {
            let p = policy(t, None, None);
            let l = late(
                &p,
                money("3.00"),
                Period::OneMonth,
                date("2026-08-03"),
                date("2026-08-15"),
            )
            .unwrap();
            assert_eq!((l.days, l.fee), (13, money("0.00")));
            assert_eq!(l.restarts_on_payment_day, t == LateFeeType::None);
        }
    }
}
