//! Resources (addons) added or removed during a paid period: the "Additional resources order
//! policy" and the "Addon cancellation policy" of seed 002.
//!
//! The steps added or removed are priced like any resource line (monthly price × months of the
//! term's period × the term's share) and then:
//!
//! * `UntilExpiration` — for the days from the order day to the expiry, in proportion to each
//!   paid term's days (valid until Nov 30, ordered Nov 15: 15 days of a 30-day term = half);
//! * `FullPeriod` — the full price of every term that is not over on the order day: the current
//!   term (and any renewal already paid after it), "regardless of the hosting service expiration
//!   date" (seed examples: a month paid to Nov 20, ordered Nov 10 → the whole month; the last
//!   renewal was 3 months, ordered with one left → 3 months);
//! * cancellation `RefundRemaining` refunds the removed steps for the days from the cancellation
//!   day to the expiry, by the same proportion; `NoRefund` refunds nothing.
//!
//! Each result is one line item, rounded once.

use serde::Serialize;

use super::dates::days_between;
use super::exact::Exact;
use super::prices::{resource_period_price, steps_above_included};
use super::service::{PaidPeriod, Term};
use super::term::Share;
use super::{BillingError, Result};
use crate::api::common::{Date, Money};
use crate::api::tariff::{
    AdditionalResourcesOrder, AddonCancellation, Resource, ResourceKind, TariffSpec,
};

/// The price of an addon ordered during a paid period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddonCharge {
    pub resource: ResourceKind,
    /// Priced steps added.
    pub steps: u64,
    /// Days the addon is used before the expiry.
    pub days: i64,
    /// Days charged: the same as `days` for `UntilExpiration`, whole terms for `FullPeriod`.
    pub charged_days: i64,
    pub amount: Money,
}

/// The refund of an addon removed during a paid period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddonRefund {
    pub resource: ResourceKind,
    /// Priced steps removed.
    pub steps: u64,
    /// Paid days left after the cancellation day.
    pub days: i64,
    pub amount: Money,
}

/// Orders more of resource `name` (`from` → `to`) on day `on`, which must be paid.
pub fn order_addon(
    tariff: &TariffSpec,
    paid: &PaidPeriod,
    name: ResourceKind,
    from: u64,
    to: u64,
    on: Date,
) -> Result<AddonCharge> {
    let resource = find(tariff, name)?;
    if to < from {
        return Err(BillingError::AddonNotAnIncrease { name, from, to });
    }
    if !(paid.start() <= on && on < paid.paid_until()) {
        return Err(BillingError::NotPaidOn {
            on,
            start: paid.start(),
            paid_until: paid.paid_until(),
        });
    }
    let steps = steps_above_included(resource, to) - steps_above_included(resource, from);
    let days = days_between(on, paid.paid_until());
    let current = paid.terms().iter().filter(|t| t.end > on);
    let (amount, charged_days) = match tariff.policies.additional_resources_order {
        AdditionalResourcesOrder::UntilExpiration => (remaining(resource, steps, paid, on), days),
        AdditionalResourcesOrder::FullPeriod => current.fold((Exact::ZERO, 0), |(sum, d), t| {
            (sum.plus(term_price(resource, steps, t)), d + t.days())
        }),
    };
    Ok(AddonCharge {
        resource: name,
        steps,
        days,
        charged_days,
        amount: amount.round(),
    })
}

/// Removes some of resource `name` (`from` → `to`) on day `on`.
pub fn cancel_addon(
    tariff: &TariffSpec,
    paid: &PaidPeriod,
    name: ResourceKind,
    from: u64,
    to: u64,
    on: Date,
) -> Result<AddonRefund> {
    let resource = find(tariff, name)?;
    if to > from {
        return Err(BillingError::AddonNotADecrease { name, from, to });
    }
    let steps = steps_above_included(resource, from) - steps_above_included(resource, to);
    let days = days_between(on.max(paid.start()), paid.paid_until()).max(0);
    let amount = match tariff.policies.addon_cancellation {
        AddonCancellation::RefundRemaining => remaining(resource, steps, paid, on),
        AddonCancellation::NoRefund => Exact::ZERO,
    };
    Ok(AddonRefund {
        resource: name,
        steps,
        days,
        amount: amount.round(),
    })
}

fn find(tariff: &TariffSpec, name: ResourceKind) -> Result<&Resource> {
    tariff
        .resources
        .iter()
        .find(|r| r.name == name)
        .ok_or(BillingError::UnknownResource { name })
}

/// `steps` of `resource` for one whole term, exact.
fn term_price(resource: &Resource, steps: u64, term: &Term) -> Exact {
    Exact::of(resource_period_price(resource, steps, term.period)).share(term.share)
}

/// `steps` of `resource` for the paid days from `on` to the expiry, each term in proportion to
/// its days; exact.
fn remaining(resource: &Resource, steps: u64, paid: &PaidPeriod, on: Date) -> Exact {
    paid.terms()
        .iter()
        .filter(|t| t.end > on && t.days() > 0)
        .map(|t| {
            let left = Share {
                numerator: days_between(t.start.max(on), t.end),
                denominator: t.days(),
            };
            term_price(resource, steps, t).share(left)
        })
        .fold(Exact::ZERO, Exact::plus)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::Period;
    use crate::billing::service::paid_period;
    use crate::billing::testing::{date, money, resource, service, tariff};

    fn disk_tariff(order: AdditionalResourcesOrder, cancel: AddonCancellation) -> TariffSpec {
        let mut t = tariff("3.00");
        t.resources = vec![resource(ResourceKind::DiskSpace, 1024, 1024, "0.60")];
        t.policies.additional_resources_order = order;
        t.policies.addon_cancellation = cancel;
        t
    }

    #[test]
    fn refund_remaining_returns_the_unused_days() {
        let t = disk_tariff(
            AdditionalResourcesOrder::UntilExpiration,
            AddonCancellation::RefundRemaining,
        );
        // Apr 1 → May 1 (30 days); 2 steps × 0.60 = 1.20 a month; 10 days left → 0.40.
        let paid = paid_period(&t, &service(Period::OneMonth, "2026-04-01", &[])).unwrap();
        let r = cancel_addon(
            &t,
            &paid,
            ResourceKind::DiskSpace,
            3072,
            1024,
            date("2026-04-21"),
        )
        .unwrap();
        assert_eq!((r.steps, r.days, r.amount), (2, 10, money("0.40")));
    }

    #[test]
    fn no_refund_returns_nothing() {
        let t = disk_tariff(
            AdditionalResourcesOrder::UntilExpiration,
            AddonCancellation::NoRefund,
        );
        let paid = paid_period(&t, &service(Period::OneMonth, "2026-04-01", &[])).unwrap();
        let r = cancel_addon(
            &t,
            &paid,
            ResourceKind::DiskSpace,
            3072,
            1024,
            date("2026-04-21"),
        )
        .unwrap();
        assert_eq!(r.amount, money("0.00"));
    }

    #[test]
    fn an_expired_service_refunds_nothing_and_orders_nothing() {
        let t = disk_tariff(
            AdditionalResourcesOrder::UntilExpiration,
            AddonCancellation::RefundRemaining,
        );
        let paid = paid_period(&t, &service(Period::OneMonth, "2026-04-01", &[])).unwrap();
        let r = cancel_addon(
            &t,
            &paid,
            ResourceKind::DiskSpace,
            3072,
            1024,
            date("2026-05-03"),
        )
        .unwrap();
        assert_eq!((r.days, r.amount), (0, money("0.00")));
        assert!(matches!(
            order_addon(
                &t,
                &paid,
                ResourceKind::DiskSpace,
                1024,
                3072,
                date("2026-05-01")
            ),
            Err(BillingError::NotPaidOn { .. })
        ));
    }

    #[test]
    fn orders_must_grow_and_cancellations_must_shrink() {
        let t = disk_tariff(
            AdditionalResourcesOrder::UntilExpiration,
            AddonCancellation::RefundRemaining,
        );
        let paid = paid_period(&t, &service(Period::OneMonth, "2026-04-01", &[])).unwrap();
        assert!(
            order_addon(
                &t,
                &paid,
                ResourceKind::DiskSpace,
                3072,
                1024,
                date("2026-04-10")
            )
            .is_err()
        );
        assert!(
            cancel_addon(
                &t,
                &paid,
                ResourceKind::DiskSpace,
                1024,
                3072,
                date("2026-04-10")
            )
            .is_err()
        );
        assert!(matches!(
            order_addon(&t, &paid, ResourceKind::Memory, 1, 2, date("2026-04-10")),
            Err(BillingError::UnknownResource { .. })
        ));
    }
}
