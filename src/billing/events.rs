//! The declared events of a service (`spec.tariffChanges`, `spec.resourceChanges`) and what
//! each cost, so that `hostplane quote` and `status.quote.events` can show them.
//!
//! Each event is priced on its own day against the paid period as it stood then
//! ([`super::history`]: the renewals paid before that day and the changes made up to it), the
//! resource quantities of that day and the tariff in force that day (the `fromTariffRef` of the
//! next change, else `spec.tariffRef`). A tariff change is billed by the tariff moved from
//! ([`super::change_tariff`]); an addon order or cancellation by the tariff in force
//! ([`super::order_addon`], [`super::cancel_addon`]); declared downtime by the current tariff
//! ([`super::downtime`]). Amounts come out of those
//! functions rounded once; nothing is summed here.

use std::borrow::Cow;

use serde::Serialize;

use super::addons::{AddonCharge, AddonRefund, cancel_addon, order_addon};
use super::change::TariffChangeOutcome;
use super::downtime::{DowntimeRefund, refunds, refunds_downtime};
use super::history::History;
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
/// resource changes then downtime, each in list order.
pub fn declared_events<'a>(
    current: &'a TariffSpec,
    tariffs: &Tariffs<'a>,
    service: &HostingServiceSpec,
) -> Result<Vec<DeclaredEvent>> {
    let history = History::new(current, tariffs, service);
    let mut events = Vec::new();
    let changes = &service.tariff_changes;
    // Only a declaration with changes is replayed here: a bad renewal list is the renewals'
    // own problem, reported with their field.
    let outcomes = if changes.is_empty() {
        Vec::new()
    } else {
        history.changes()?
    };
    for (index, outcome) in outcomes {
        let change = &changes[index];
        let to = changes
            .get(index + 1)
            .map_or(&service.tariff_ref.name, |c| &c.from_tariff_ref.name);
        events.push(DeclaredEvent::TariffChange {
            index,
            on: change.changed_on,
            from: change.from_tariff_ref.name.clone(),
            to: to.clone(),
            outcome,
        });
    }
    for (index, rc) in service.resource_changes.iter().enumerate() {
        let on = rc.changed_on;
        let tariff = history.tariff_on(on)?;
        let paid = history.paid_as_of(on)?;
        events.push(if rc.to >= rc.from {
            DeclaredEvent::AddonOrder {
                index,
                on,
                charge: order_addon(tariff, &paid, rc.name, rc.from, rc.to, on)?,
            }
        } else {
            DeclaredEvent::AddonCancellation {
                index,
                on,
                refund: cancel_addon(tariff, &paid, rc.name, rc.from, rc.to, on)?,
            }
        });
    }
    if refunds_downtime(current) {
        let paid = history.paid_period()?;
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

/// The service's resources as they stood at the start of `day`: each at its quantity before
/// its first change on or after it. Borrowed, with no copy, when nothing changed since.
pub fn as_of(service: &HostingServiceSpec, day: Date) -> Cow<'_, HostingServiceSpec> {
    let later = || {
        service
            .resource_changes
            .iter()
            .filter(|rc| rc.changed_on >= day)
    };
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

impl DeclaredEvent {
    /// The event as `status.quote.events` and `hostplane quote` show it.
    pub fn quoted(&self) -> QuotedEvent {
        let zero = super::round(rust_decimal::Decimal::ZERO);
        let (type_, field, day, charge, refund, paid_until, detail) = match self {
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
            day,
            charge,
            refund,
            paid_until,
            detail,
        }
    }
}
