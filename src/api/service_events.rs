//! Billed events of a `HostingService` besides its order and renewals: tariff changes and
//! resource (addon) orders and cancellations, each with its day.
//!
//! They are declared in the spec, like renewals, so that what a service paid stays a pure
//! function of its spec (design §3): re-applying the YAML can never bill an event twice, and
//! editing `spec.tariffRef` or `spec.resources` alone never re-prices what happened before.
//! The controller applies the current tariff and resources at the panel; these lists say when
//! they changed and so what each change cost.

use garde::Validate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Date, LocalObjectReference, Money, Period};
use super::tariff::ResourceKind;

/// The service moved to another tariff on a day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct TariffChangeEvent {
    /// The day of the change. Billed by the tariff moved from (its `policies.tariffChange`),
    /// which also prices every day before it. Named `changedOn`, not `on`: YAML 1.1 readers
    /// (kubectl, Argo CD, Flux) read a bare `on` key as the boolean `true`.
    pub changed_on: Date,
    /// The tariff (same namespace) the service moved from; the tariff it moved to is the
    /// next change's `fromTariffRef`, or `spec.tariffRef` for the last change. Both must use
    /// one currency.
    #[garde(dive)]
    pub from_tariff_ref: LocalObjectReference,
    /// The period on the new tariff; `spec.period` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// An optional reference (invoice or ticket number), for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(min = 1, max = 128)))]
    pub reference: Option<String>,
}

/// More or less of one resource from a day on: an addon order (more) or cancellation (less),
/// billed by the tariff's `policies.additionalResourcesOrder` or `policies.addonCancellation`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct ResourceChangeEvent {
    /// The day of the order or cancellation; must be a paid day.
    pub changed_on: Date,
    /// The resource, as named in the tariff.
    pub name: ResourceKind,
    /// The quantity before the change (the ordered amount, or the previous change's `to`).
    #[garde(range(max = 1_000_000_000))]
    pub from: u64,
    /// The quantity from this day on; the last change of a resource matches
    /// `spec.resources`.
    #[garde(range(max = 1_000_000_000))]
    pub to: u64,
    /// An optional reference (invoice or ticket number), for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(min = 1, max = 128)))]
    pub reference: Option<String>,
}

/// Days a client had their own service suspended (daily charging with `clientMaySuspend`):
/// refunded at what those days were paid, unless the tariff `chargeWhileSuspended`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct DowntimeEvent {
    /// The first suspended day.
    pub from: Date,
    /// The day it was resumed (not suspended any more); declared once it is over, so a refund
    /// is only ever for days that have passed.
    pub until: Date,
    /// An optional reference (ticket number), for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(min = 1, max = 128)))]
    pub reference: Option<String>,
}

/// A declared event and what it cost, in `status.quote.events`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotedEvent {
    /// `TariffChange`, `AddonOrder`, `AddonCancellation` or `DowntimeRefund`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The spec field that declares it, e.g. `spec.tariffChanges[0]`.
    pub field: String,
    /// The day of the event (`day`, not `on`: a YAML 1.1 boolean).
    pub day: Date,
    /// Due from the client for it.
    pub charge: Money,
    /// Paid back to the client for it.
    pub refund: Money,
    /// The expiry after a tariff change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_until: Option<Date>,
    /// What happened, in words (tariffs, policy, quantities, days).
    pub detail: String,
}
