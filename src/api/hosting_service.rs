//! `HostingService`: one ordered service of a client on a tariff: a hosting account, a virtual
//! server or a software license.
//!
//! Its paid period is a pure function of this spec (start date, period, the renewals it lists)
//! and the tariff, so applying the same YAML twice can never renew twice.

use garde::Validate;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CommonStatus, Date, LocalObjectReference, Money, Period};
use super::patterns::{DOMAIN_RE, IPV4_RE, NAME_RE};
use super::service_events::{DowntimeEvent, QuotedEvent, ResourceChangeEvent, TariffChangeEvent};
use super::tariff::ResourceKind;

/// One ordered service: a shared hosting account, a virtual server or a software license.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[kube(
    group = "hostplane.dev",
    version = "v1alpha1",
    kind = "HostingService",
    namespaced,
    status = "HostingServiceStatus",
    shortname = "hsvc",
    category = "hosting",
    derive = "PartialEq",
    doc = "One ordered service of a client on a tariff: an ispmanager account, a VMmanager server or an ISPsystem license.",
    printcolumn(name = "Tariff", type_ = "string", json_path = ".spec.tariffRef.name"),
    printcolumn(name = "Client", type_ = "string", json_path = ".spec.clientRef.name"),
    printcolumn(name = "Period", type_ = "string", json_path = ".spec.period"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "External-Name",
        type_ = "string",
        json_path = ".status.externalName"
    ),
    printcolumn(name = "IP", type_ = "string", json_path = ".status.ip"),
    printcolumn(name = "Paid-Until", type_ = "string", json_path = ".status.paidUntil"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Module",
        type_ = "string",
        json_path = ".status.processingModule",
        priority = 1
    ),
    printcolumn(
        name = "License",
        type_ = "string",
        json_path = ".status.license.id",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct HostingServiceSpec {
    /// The tariff (same namespace) the service is sold on. Changing it is a tariff change,
    /// billed by the old tariff's `policies.tariffChange`.
    #[garde(dive)]
    pub tariff_ref: LocalObjectReference,
    /// The client (same namespace) who owns the service.
    #[garde(dive)]
    pub client_ref: LocalObjectReference,
    /// The ordered period; must be orderable on the tariff (priced, not disabled).
    pub period: Period,
    /// The day the service was ordered; its first paid term starts here.
    pub start_date: Date,
    /// Renewals paid so far, in date order. Each extends the paid period by its own period;
    /// the list, not the number of applies, decides how long the service is paid for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(length(max = 1000), dive)]
    pub renewals: Vec<Renewal>,
    /// Tariff changes, in date order: on which day the service moved from which tariff. The
    /// days before a change stay priced by the tariff moved from, and the change is billed by
    /// that tariff's `policies.tariffChange`; `tariffRef` is the tariff after the last one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(length(max = 100), dive)]
    pub tariff_changes: Vec<TariffChangeEvent>,
    /// Resource (addon) orders and cancellations, in date order, each with its quantities
    /// before and after; `resources` holds the quantities after the last one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(length(max = 1000), dive)]
    pub resource_changes: Vec<ResourceChangeEvent>,
    /// Days the client suspended the service themselves, in date order (daily charging with
    /// `clientMaySuspend`): refunded unless the tariff `chargeWhileSuspended`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(length(max = 1000), dive)]
    pub downtime: Vec<DowntimeEvent>,
    /// Pin the service to one of the tariff's processing modules; placement picks one when
    /// unset. Needed to adopt an existing account with `managementPolicy: ObserveOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub processing_module_ref: Option<LocalObjectReference>,
    /// Shared hosting: the site's domain; the tariff's default domain template when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(max = 253), pattern(DOMAIN_RE)))]
    pub domain: Option<String>,
    /// Amounts of the tariff's resources; a resource not listed gets its included amount.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(length(max = 32), dive)]
    pub resources: Vec<ResourceQuantity>,
    /// Virtual servers: the control panel chosen from the tariff's control-panel license
    /// options (e.g. `ispmanager-lite`, `nopanel`); the tariff's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(max = 63), pattern(NAME_RE)))]
    pub control_panel: Option<String>,
    /// Virtual servers: the operating system, one of the tariff's; its default when unset.
    /// Changing it on a running server reinstalls the server with the new OS, which wipes its
    /// disk (a suspended server is reinstalled once it is resumed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(min = 1, max = 128)))]
    pub operating_system: Option<String>,
    /// Software licenses: the IP address the license is bound to. Required for that product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(pattern(IPV4_RE)))]
    pub license_ip: Option<String>,
    /// Suspend the service at the panel (its license too); `false` resumes it.
    #[serde(default)]
    pub suspended: bool,
    /// What deleting this object does at the panel: `Delete` the account (a license goes to
    /// the pool), or `Orphan` it (leave everything as it is).
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// `Full`: the controller creates and changes the account. `ObserveOnly`: it adopts an
    /// existing account (named by the `hostplane.dev/external-name` annotation) and only reports.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// A Secret (same namespace) the controller writes the panel username, password, URL and
    /// login link into. Nothing is written when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub write_connection_secret_to_ref: Option<LocalObjectReference>,
}

/// One paid renewal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct Renewal {
    /// The period paid for.
    pub period: Period,
    /// The day it was paid; a renewal after expiry may carry a late fee or restart the term,
    /// as the tariff's `policies.lateRenewalFee` says.
    pub paid_on: Date,
    /// An optional reference of the payment (invoice number), for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(min = 1, max = 128)))]
    pub reference: Option<String>,
}

/// A service's amount of one tariff resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct ResourceQuantity {
    /// The resource, as named in the tariff.
    pub name: ResourceKind,
    /// The amount; within the tariff's min and max, on its step.
    #[garde(range(max = 1_000_000_000))]
    pub quantity: u64,
}

/// What deleting the object does at the panel (Crossplane's meaning).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the account (a license is suspended and joins the pool).
    #[default]
    Delete,
    /// Leave the account untouched.
    Orphan,
}

/// How much the controller may change at the panel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ManagementPolicy {
    /// Create, change, suspend and delete.
    #[default]
    Full,
    /// Observe an existing account and report; never change it.
    ObserveOnly,
}

/// Where a service is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ServicePhase {
    /// Waiting for references, validation or placement.
    #[default]
    Pending,
    /// Being created at the panel (a server installing, a license being ordered).
    Provisioning,
    /// Running and paid.
    Active,
    /// Suspended by spec, by its client, or because it expired.
    Suspended,
    /// Past the auto-deletion period: the panel account is gone, the resource stays for git.
    Terminated,
    /// Being deleted (finalizer running).
    Deleting,
    /// Cannot proceed until the spec changes (see the `Stalled` condition).
    Failed,
}

/// What the controller reports about a service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostingServiceStatus {
    /// Conditions, observed generation, last error.
    #[serde(flatten)]
    pub common: CommonStatus,
    /// Where the service is in its life.
    #[serde(default)]
    pub phase: ServicePhase,
    /// The processing module the service is placed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_module: Option<String>,
    /// The panel-side identity: ispmanager username, VMmanager host id, or license id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_name: Option<String>,
    /// The domain the account was made with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The service's IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The day the service expires: the first day that is not paid (the paid period ends
    /// before it), derived from the spec and the tariff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_until: Option<Date>,
    /// When the controller next acts on its own: a license renewal, expiry, suspension or
    /// deletion step (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_action_at: Option<String>,
    /// The license bound to the service, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<ServiceLicense>,
    /// The price of the service as declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<Quote>,
    /// The tariff generation last applied to the account (tariff edits fan out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tariff_generation: Option<i64>,
    /// The tariff (`spec.tariffRef`) the service was last priced and reconciled on. A later
    /// `spec.tariffRef` is accepted only with a `spec.tariffChanges` entry from it, so a
    /// tariff change is never billed silently by re-pricing the whole history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tariff: Option<String>,
}

/// A license bound to a service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceLicense {
    /// License id at the licensing server.
    pub id: String,
    /// License type (pricelist id).
    pub license_type: String,
    /// The day the license expires unless prolonged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<Date>,
    /// Whether it was taken from the license pool instead of bought.
    #[serde(default)]
    pub from_pool: bool,
}

/// A price quote derived from the spec and the tariff.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    /// Currency of every amount.
    pub currency: String,
    /// The first order for the service's period, resources and addon included.
    pub order_price: Money,
    /// The one-off setup fee.
    pub setup_fee: Money,
    /// One renewal for the service's period.
    pub renewal_price: Money,
    /// The late fee due if the service were renewed now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_fee: Option<Money>,
    /// Each declared tariff change and resource change, with what it cost.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<QuotedEvent>,
}
