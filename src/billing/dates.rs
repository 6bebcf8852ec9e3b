//! Calendar arithmetic on [`Date`]: month additions with a stable anchor day and day counts.
//!
//! jiff's month addition clamps the day to the target month (Jan 31 + 1 month = Feb 28), which is
//! right for one step but drifts when chained (Feb 28 + 1 month = Mar 28). So callers keep the
//! anchor of a chain and always add the total number of months to it: [`add_months`] is only
//! ever called with the original anchor.

use jiff::ToSpan;

use super::{BillingError, Result};
use crate::api::common::Date;

/// `anchor` plus `months` calendar months, the day clamped to the target month's length.
pub fn add_months(anchor: Date, months: i64) -> Result<Date> {
    anchor
        .0
        .checked_add(months.months())
        .map(Date)
        .map_err(|_| BillingError::DateOutOfRange)
}

/// `date` plus `days` days.
pub fn add_days(date: Date, days: i64) -> Result<Date> {
    date.0
        .checked_add(days.days())
        .map(Date)
        .map_err(|_| BillingError::DateOutOfRange)
}

/// Midnight-to-midnight days from `from` to `to`; negative when `to` is earlier.
pub fn days_between(from: Date, to: Date) -> i64 {
    // Both dates are valid civil dates, so the span always fits; days are the largest unit of
    // `Date::until` by default.
    from.0
        .until(to.0)
        .map(|span| i64::from(span.get_days()))
        .unwrap_or_default()
}

/// The 1st of `date`'s month.
pub fn first_of_month(date: Date) -> Date {
    Date(date.0.first_of_month())
}

/// Days in `date`'s month (28–31).
pub fn days_in_month(date: Date) -> i64 {
    i64::from(date.0.days_in_month())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::testing::date;

    #[test]
    fn jan_31_plus_one_month_is_feb_28_or_29() {
        assert_eq!(add_months(date("2026-01-31"), 1), Ok(date("2026-02-28")));
        assert_eq!(add_months(date("2028-01-31"), 1), Ok(date("2028-02-29")));
    }

    #[test]
    fn jan_31_plus_two_months_is_mar_31_from_the_anchor() {
        assert_eq!(add_months(date("2026-01-31"), 2), Ok(date("2026-03-31")));
        // Chaining would drift to Mar 28; the anchor rule never does.
        let chained = add_months(add_months(date("2026-01-31"), 1).unwrap(), 1).unwrap();
        assert_eq!(chained, date("2026-03-28"));
    }

    #[test]
    fn jan_31_plus_three_months_is_apr_30() {
        assert_eq!(add_months(date("2026-01-31"), 3), Ok(date("2026-04-30")));
        assert_eq!(add_months(date("2026-01-31"), 4), Ok(date("2026-05-31")));
    }

    #[test]
    fn feb_29_plus_one_year_is_feb_28() {
        assert_eq!(add_months(date("2028-02-29"), 12), Ok(date("2029-02-28")));
        assert_eq!(add_months(date("2028-02-29"), 48), Ok(date("2032-02-29")));
    }

    #[test]
    fn day_counts_are_midnight_to_midnight() {
        assert_eq!(days_between(date("2026-11-15"), date("2026-11-30")), 15);
        assert_eq!(days_between(date("2028-02-01"), date("2028-03-01")), 29);
        assert_eq!(days_between(date("2026-03-01"), date("2026-02-01")), -28);
        assert_eq!(days_between(date("2026-01-01"), date("2027-01-01")), 365);
    }

    #[test]
    fn the_end_of_the_calendar_is_an_error_not_a_panic() {
        assert_eq!(
            add_months(date("9999-12-01"), 1),
            Err(BillingError::DateOutOfRange)
        );
    }
}
