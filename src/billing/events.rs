//! The declared events of a service (`spec.tariffChanges`, `spec.resourceChanges`) and what
//! each cost, so that `hostplane quote` and `status.quote.events` can show them.
//!
//! Each event is priced on its own day against the paid period as it stood then: the renewals
//! paid before that day, the resource quantities of that day and the tariff in force that day
//! (the `fromTariffRef` of the next change, else `spec.tariffRef`). A tariff change is billed by
//! the tariff moved from ([`super::change_tariff`]); an addon order or cancellation by the
//! tariff in force ([`super::order_addon`], [`super::cancel_addon`]); declared downtime by the
//! current tariff ([`super::downtime`]). Amounts come out of those
//! functions rounded once; nothing is summed here.

use std::borrow::Cow;

use serde::Serialize;

use super::addons::{AddonCharge, AddonRefund, cancel_addon, order_addon};
use super::change::{TariffChangeOutcome, change_tariff};
use super::downtime::{DowntimeRefund, refunds, refunds_downtime};
use super::service::paid_period;
use super::{BillingError, Result};
use crate::api::common::Date;
use crate::api::hosting_service::{HostingServiceSpec, ResourceQuantity};
use crate::api::service_events::QuotedEvent;
use crate::api::tariff::{TariffChangePolicy, TariffSpec};

/// One declared event and its cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum DeclaredEvent {
    /// `spec.tariffChanges[index]`.
    TariffChange {
        index: usize,
        on: Date,
        from: String,
        to: String,
        #[serde(flatten)]
        outcome: TariffChangeOutcome,
    },
    /// `spec.resourceChanges[index]` that adds.
    AddonOrder {
        index: usize,
        on: Date,
        #[serde(flatten)]
        charge: AddonCharge,
    },
    /// `spec.resourceChanges[index]` that removes.
    AddonCancellation {
        index: usize,
        on: Date,
        #[serde(flatten)]
        refund: AddonRefund,
    },
    /// `spec.downtime[index]`, refunded (daily charging).
    DowntimeRefund {
        index: usize,
        #[serde(flatten)]
        refund: DowntimeRefund,
    },
}

/// Finds a tariff of the namespace by name.
pub type Tariffs<'a> = dyn Fn(&str) -> Option<&'a TariffSpec> + 'a;

/// Every declared event of `service` (whose current tariff is `current`), tariff changes then
/// resource changes, each in list order.
pub fn declared_events<'a>(
    current: &'a TariffSpec,
    tariffs: &Tariffs<'a>,
    service: &HostingServiceSpec,
) -> Result<Vec<DeclaredEvent>> {
    let mut events = Vec::new();
    let changes = &service.tariff_changes;
    for (index, change) in changes.iter().enumerate() {
        let from_name = change.from_tariff_ref.name.as_str();
        let from = tariffs(from_name).ok_or_else(|| BillingError::UnknownTariff {
            name: from_name.to_owned(),
        })?;
        let to_name = changes
            .get(index + 1)
            .map_or(service.tariff_ref.name.as_str(), |c| {
                c.from_tariff_ref.name.as_str()
            });
        let to = tariffs(to_name).unwrap_or(current);
        check_change(from, to)?;
        let before = before(service, change.on);
        let paid = paid_period(from, &before)?;
        let period = change.period.unwrap_or(service.period);
        let outcome = change_tariff(from, to, &before, &paid, change.on, period)?;
        events.push(DeclaredEvent::TariffChange {
            index,
            on: change.on,
            from: from_name.to_owned(),
            to: to_name.to_owned(),
            outcome,
        });
    }
    for (index, rc) in service.resource_changes.iter().enumerate() {
        let tariff = tariff_on(current, tariffs, service, rc.on);
        let before = before(service, rc.on);
        let paid = paid_period(tariff, &before)?;
        events.push(if rc.to >= rc.from {
            DeclaredEvent::AddonOrder {
                index,
                on: rc.on,
                charge: order_addon(tariff, &paid, rc.name, rc.from, rc.to, rc.on)?,
            }
        } else {
            DeclaredEvent::AddonCancellation {
                index,
                on: rc.on,
                refund: cancel_addon(tariff, &paid, rc.name, rc.from, rc.to, rc.on)?,
            }
        });
    }
    if refunds_downtime(current) {
        let paid = paid_period(current, service)?;
        for (index, refund) in refunds(current, &paid, service).into_iter().enumerate() {
            events.push(DeclaredEvent::DowntimeRefund { index, refund });
        }
    }
    Ok(events)
}

/// A change is refused outright when the tariff moved from forbids it, or when the two
/// tariffs bill in different currencies (a credit in one cannot pay a debit in the other).
pub fn check_change(from: &TariffSpec, to: &TariffSpec) -> Result<()> {
    if from.policies.tariff_change.policy == TariffChangePolicy::Forbidden {
        return Err(BillingError::TariffChangeForbidden);
    }
    if from.currency != to.currency {
        return Err(BillingError::CurrencyMismatch {
            from: from.currency.clone(),
            to: to.currency.clone(),
        });
    }
    Ok(())
}

/// The tariff in force on `day`: the one moved from by the first change after it.
fn tariff_on<'a>(
    current: &'a TariffSpec,
    tariffs: &Tariffs<'a>,
    service: &HostingServiceSpec,
    day: Date,
) -> &'a TariffSpec {
    service
        .tariff_changes
        .iter()
        .find(|c| c.on > day)
        .and_then(|c| tariffs(&c.from_tariff_ref.name))
        .unwrap_or(current)
}

/// The service's resources as they stood at the start of `day`: each at its quantity before
/// its first change on or after it. Borrowed, with no copy, when nothing changed since.
pub fn as_of(service: &HostingServiceSpec, day: Date) -> Cow<'_, HostingServiceSpec> {
    let later = || service.resource_changes.iter().filter(|rc| rc.on >= day);
    if later().next().is_none() {
        return Cow::Borrowed(service);
    }
    let mut spec = service.clone();
    // Latest first, so each resource ends at the `from` of its earliest change.
    for rc in later().collect::<Vec<_>>().into_iter().rev() {
        match spec.resources.iter_mut().find(|q| q.name == rc.name) {
            Some(q) => q.quantity = rc.from,
            None => spec.resources.push(ResourceQuantity {
                name: rc.name,
                quantity: rc.from,
            }),
        }
    }
    Cow::Owned(spec)
}

/// The service as it stood at the start of `day`: [`as_of`], and the renewals paid before it.
fn before(service: &HostingServiceSpec, day: Date) -> HostingServiceSpec {
    let mut spec = as_of(service, day).into_owned();
    spec.renewals.retain(|r| r.paid_on < day);
    spec
}

impl DeclaredEvent {
    /// The event as `status.quote.events` and `hostplane quote` show it.
    pub fn quoted(&self) -> QuotedEvent {
        let zero = super::round(rust_decimal::Decimal::ZERO);
        let (type_, field, on, charge, refund, paid_until, detail) = match self {
            DeclaredEvent::TariffChange {
                index,
                on,
                from,
                to,
                outcome,
            } => (
                "TariffChange",
                format!("spec.tariffChanges[{index}]"),
                *on,
                outcome.charge,
                outcome.refund,
                Some(outcome.paid_until),
                format!("{from} → {to} ({:?})", outcome.policy),
            ),
            DeclaredEvent::AddonOrder { index, on, charge } => (
                "AddonOrder",
                format!("spec.resourceChanges[{index}]"),
                *on,
                charge.amount,
                zero,
                None,
                format!(
                    "{} +{} step(s), {} day(s) charged",
                    charge.resource.as_str(),
                    charge.steps,
                    charge.charged_days
                ),
            ),
            DeclaredEvent::AddonCancellation { index, on, refund } => (
                "AddonCancellation",
                format!("spec.resourceChanges[{index}]"),
                *on,
                zero,
                refund.amount,
                None,
                format!(
                    "{} -{} step(s), {} paid day(s) left",
                    refund.resource.as_str(),
                    refund.steps,
                    refund.days
                ),
            ),
            DeclaredEvent::DowntimeRefund { index, refund } => (
                "DowntimeRefund",
                format!("spec.downtime[{index}]"),
                refund.from,
                zero,
                refund.amount,
                None,
                format!(
                    "suspended {} → {}, {} paid day(s)",
                    refund.from, refund.until, refund.days
                ),
            ),
        };
        QuotedEvent {
            type_: type_.into(),
            field,
            on,
            charge,
            refund,
            paid_until,
            detail,
        }
    }
}
