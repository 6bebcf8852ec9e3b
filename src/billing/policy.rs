//! Order and renewal policies that decide whether something may be sold at all: orderable
//! periods, the tariff end date and the minimum order period (seed 002, "Policy").
//!
//! The offline validator reports the same rules against manifests; these are the versions the
//! billing arithmetic relies on, so that nothing is ever priced for a sale the tariff forbids.

use super::dates::add_months;
use super::history::History;
use super::{BillingError, Result, dates};
use crate::api::common::{Date, Period};
use std::borrow::Cow;

use crate::api::tariff::{DurationUnit, ProductType, TariffSpec};

/// A period can be ordered (and renewed) when it has a price and is not disabled.
pub fn check_orderable(tariff: &TariffSpec, period: Period) -> Result<()> {
    if tariff.prices.get(period).is_some() && !tariff.disabled_periods.contains(&period) {
        Ok(())
    } else {
        Err(BillingError::PeriodNotOrderable { period })
    }
}

/// "After this date" nothing is ordered or renewed: the end date itself still sells.
pub fn check_not_ended(tariff: &TariffSpec, on: Date) -> Result<()> {
    match tariff.policies.end_date {
        Some(end) if on > end => Err(BillingError::TariffEnded { end, on }),
        _ => Ok(()),
    }
}

/// The ordered period must reach at least as far as the minimum order period, both counted
/// from the order day in calendar months or days (the validator's rule; a calendar-aligned
/// first term that happens to be shorter does not make a period too short).
pub fn check_minimum_order_period(tariff: &TariffSpec, start: Date, period: Period) -> Result<()> {
    let Some(min) = &tariff.policies.minimum_order_period else {
        return Ok(());
    };
    let ordered_end = add_months(start, i64::from(period.months()))?;
    let (minimum_end, unit) = match min.unit {
        DurationUnit::Months => (add_months(start, i64::from(min.length))?, "months"),
        DurationUnit::Days => (dates::add_days(start, i64::from(min.length))?, "days"),
    };
    if ordered_end >= minimum_end {
        Ok(())
    } else {
        Err(BillingError::BelowMinimumOrderPeriod {
            period,
            length: min.length,
            unit,
        })
    }
}

/// Everything a first order of `period` on `start` must satisfy.
pub fn check_order(tariff: &TariffSpec, start: Date, period: Period) -> Result<()> {
    check_orderable(tariff, period)?;
    check_not_ended(tariff, start)?;
    check_minimum_order_period(tariff, start, period)
}

/// Everything a renewal of `period` paid on `paid_on` must satisfy.
pub fn check_renewal(tariff: &TariffSpec, paid_on: Date, period: Period) -> Result<()> {
    check_orderable(tariff, period)?;
    check_not_ended(tariff, paid_on)
}

/// A change to `to` on `on` for `period`: the new tariff must sell the period and not have
/// ended (a sale on its own day, like an order).
pub fn check_change(to: &TariffSpec, on: Date, period: Period) -> Result<()> {
    check_orderable(to, period)?;
    check_not_ended(to, on)
}

/// Every sale the spec declares, each judged on its own day by the tariff of that day: the
/// order, every renewal and every tariff change. For readers of
/// manifests that cannot tell an order already placed from a new one (`hostplane quote`); the
/// controller judges new sales only, never history (issue 15).
pub fn check_declared_sales(history: &History<'_, '_>) -> Result<()> {
    let service = history.service();
    check_order(history.ordered_on()?, service.start_date, service.period)?;
    for r in &service.renewals {
        check_renewal(history.tariff_on(r.paid_on)?, r.paid_on, r.period)?;
    }
    for c in &service.tariff_changes {
        let period = c.period.unwrap_or(service.period);
        check_change(history.tariff_on(c.changed_on)?, c.changed_on, period)?;
    }
    Ok(())
}

/// Settings of the product types, seed 002's "Service type settings": what applies when a
/// tariff leaves a policy blank. "Auto-deletion period: leave blank to use the auto-deletion
/// period specified in the Service type settings. If the auto-deletion period is not
/// specified in the service type, expired services will not be deleted."
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProductDefaults {
    /// Days after expiry at which an unrenewed service of the product type is terminated.
    pub auto_deletion_days: Vec<(ProductType, u32)>,
}

impl ProductDefaults {
    /// `tariff` with its product type's auto-deletion period when it sets none; borrowed when
    /// nothing is filled in.
    pub fn apply<'a>(&self, tariff: &'a TariffSpec) -> Cow<'a, TariffSpec> {
        let fallback = self
            .auto_deletion_days
            .iter()
            .find(|(p, _)| *p == tariff.product_type)
            .map(|&(_, days)| days);
        match fallback {
            Some(days) if tariff.policies.auto_deletion_days.is_none() => {
                let mut spec = tariff.clone();
                spec.policies.auto_deletion_days = Some(days);
                Cow::Owned(spec)
            }
            _ => Cow::Borrowed(tariff),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tariff::MinimumOrderPeriod;
    use crate::billing::testing::{date, money, tariff};

    #[test]
    fn disabled_and_unpriced_periods_are_not_orderable() {
        let mut t = tariff("3.00");
        t.prices.one_year = Some(money("30.00"));
        t.disabled_periods = vec![Period::OneMonth];
        assert_eq!(
            check_orderable(&t, Period::OneMonth),
            Err(BillingError::PeriodNotOrderable {
                period: Period::OneMonth
            })
        );
        assert!(check_orderable(&t, Period::ThreeMonths).is_err());
        assert_eq!(check_orderable(&t, Period::OneYear), Ok(()));
    }

    #[test]
    fn the_end_date_itself_still_sells() {
        let mut t = tariff("3.00");
        t.policies.end_date = Some(date("2027-12-31"));
        assert_eq!(check_not_ended(&t, date("2027-12-31")), Ok(()));
        assert!(matches!(
            check_renewal(&t, date("2028-01-01"), Period::OneMonth),
            Err(BillingError::TariffEnded { .. })
        ));
    }

    #[test]
    fn minimum_order_period_in_months_and_days() {
        let mut t = tariff("3.00");
        t.prices.three_months = Some(money("8.50"));
        t.policies.minimum_order_period = Some(MinimumOrderPeriod {
            length: 3,
            unit: DurationUnit::Months,
        });
        assert!(matches!(
            check_order(&t, date("2026-01-31"), Period::OneMonth),
            Err(BillingError::BelowMinimumOrderPeriod { length: 3, .. })
        ));
        assert_eq!(
            check_order(&t, date("2026-01-31"), Period::ThreeMonths),
            Ok(())
        );
        // 31 days: a January month reaches it, a February month does not.
        t.policies.minimum_order_period = Some(MinimumOrderPeriod {
            length: 31,
            unit: DurationUnit::Days,
        });
        assert_eq!(
            check_order(&t, date("2026-01-05"), Period::OneMonth),
            Ok(())
        );
        assert!(check_order(&t, date("2026-02-05"), Period::OneMonth).is_err());
    }

    #[test]
    fn a_blank_auto_deletion_period_falls_back_to_the_product_type() {
        let defaults = ProductDefaults {
            auto_deletion_days: vec![(ProductType::SharedHosting, 30)],
        };
        let mut t = tariff("3.00");
        assert_eq!(defaults.apply(&t).policies.auto_deletion_days, Some(30));
        t.policies.auto_deletion_days = Some(7);
        assert_eq!(defaults.apply(&t).policies.auto_deletion_days, Some(7));
        t.policies.auto_deletion_days = None;
        t.product_type = ProductType::VirtualServer;
        assert_eq!(defaults.apply(&t).policies.auto_deletion_days, None);
        assert_eq!(
            ProductDefaults::default()
                .apply(&t)
                .policies
                .auto_deletion_days,
            None
        );
    }
}
