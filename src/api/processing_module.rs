//! `ProcessingModule`: one connection to a control panel or to the licensing server.
//!
//! The type-specific blocks carry the module parameters of the seeds: the licensing server's
//! period comparisons and license reuse options (seeds 001 and 003) and VMmanager's licensing
//! server, recipes, deployment completion and serialized operation queue (seeds 001 and 004).

use garde::Validate;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CommonStatus, LicensePeriod, LocalObjectReference, Period, Timestamp};
use super::patterns::{PRICELIST_RE, URL_RE};

/// A connection to one ispmanager, VMmanager or BILLmanager licensing server.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[kube(
    group = "hostplane.dev",
    version = "v1alpha1",
    kind = "ProcessingModule",
    namespaced,
    status = "ProcessingModuleStatus",
    shortname = "pm",
    category = "hosting",
    derive = "PartialEq",
    doc = "A connection to one control panel (ispmanager, VMmanager) or to a BILLmanager licensing server.",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(name = "URL", type_ = "string", json_path = ".spec.url"),
    printcolumn(name = "Priority", type_ = "integer", json_path = ".spec.priority"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].reason"#
    ),
    printcolumn(
        name = "Accounts",
        type_ = "integer",
        json_path = ".status.accountCount",
        priority = 1
    ),
    printcolumn(
        name = "Version",
        type_ = "string",
        json_path = ".status.panelVersion",
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
pub struct ProcessingModuleSpec {
    /// What is at the other end: `ISPmanager` (shared hosting), `VMmanager` (virtual servers)
    /// or `Licensing` (a BILLmanager selling ISPsystem licenses).
    #[serde(rename = "type")]
    pub type_: ModuleType,
    /// Full URL of the panel API. ispmanager and VMmanager 5: `https://host:1500/ispmgr` or
    /// `.../vmmgr` (seed 004: VMmanager 5 URLs must end with `/vmmgr`); VMmanager 6: the base URL
    /// (`https://host`); licensing: `https://api.ispsystem.com/manager/billmgr`.
    /// Never put credentials in it: they come from `credentialsSecretRef`.
    #[garde(length(max = 2048), pattern(URL_RE))]
    pub url: String,
    /// The Secret (same namespace) with keys `username` and `password` for the panel account.
    /// ispmanager: an administrator or reseller; VMmanager: an "Administrator" role user;
    /// licensing: the partner account allowed to order licenses.
    #[garde(dive)]
    pub credentials_secret_ref: LocalObjectReference,
    /// How to trust the panel's TLS certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub tls: Option<TlsSettings>,
    /// Placement order among modules of a tariff: 1 is tried first; equal priorities are
    /// tried least-loaded first.
    #[serde(default = "default_priority")]
    #[garde(range(min = 1, max = 1000))]
    pub priority: u32,
    /// Per-module limits; one token bucket and one concurrency limit per module protect the
    /// panel from the controller.
    #[serde(default)]
    #[garde(dive)]
    pub limits: ModuleLimits,
    /// Settings that apply when `type` is `ISPmanager`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub ispmanager: Option<IspManagerSettings>,
    /// Settings that apply when `type` is `VMmanager`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub vmmanager: Option<VmManagerSettings>,
    /// Settings that apply when `type` is `Licensing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub licensing: Option<LicensingSettings>,
    /// Seconds to wait, after a create, order or prolong whose answer was lost (a timeout, a
    /// dropped connection, a 502/503/504, an answer without the new object's id), before the
    /// same call is sent again when the lookup still finds nothing. A panel may apply a call
    /// and show its result only later; sending it again too soon would buy or create twice.
    /// The service shows `OutcomeUnknown` meanwhile.
    #[serde(default = "default_unknown_outcome_quiet_seconds")]
    #[garde(range(max = 86400))]
    pub unknown_outcome_quiet_seconds: u32,
    /// How long one panel call may take before its answer counts as lost. The official
    /// modules wait 60 s, and an ispmanager account create taking 40 s is normal (reference
    /// §11); a mutation cut off early is an unknown outcome that must be looked up.
    #[serde(default)]
    #[garde(dive)]
    pub timeouts: ModuleTimeouts,
}

fn default_priority() -> u32 {
    1
}

fn default_unknown_outcome_quiet_seconds() -> u32 {
    180
}

/// The product behind a processing module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ModuleType {
    /// ispmanager 5 or 6: shared hosting accounts.
    ISPmanager,
    /// VMmanager 5 (`/vmmgr`) or 6 (REST): virtual servers.
    VMmanager,
    /// A BILLmanager that sells ISPsystem software licenses.
    Licensing,
}

/// TLS trust settings for a panel connection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct TlsSettings {
    /// Accept any certificate. Panels on port 1500 often run with a self-signed certificate;
    /// prefer `caSecretRef` where you can.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// A Secret (same namespace) whose key `ca.crt` holds the PEM certificate authority to trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub ca_secret_ref: Option<LocalObjectReference>,
    /// The name to verify in the certificate when it differs from the URL's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(min = 1, max = 253)))]
    pub server_name: Option<String>,
}

/// Per-call timeouts of one module.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModuleTimeouts {
    /// Seconds a call that changes something (create, order, delete, suspend, a change of
    /// limits or resources) may take. Default 60, as the official modules wait; a shorter
    /// one turns slow successes into unknown outcomes that are looked up before anything is
    /// sent again.
    #[serde(default = "default_mutation_seconds")]
    #[garde(range(min = 1, max = 600))]
    pub mutation_seconds: u32,
    /// Seconds a read (a list, a view, a login) may take. Default 30.
    #[serde(default = "default_read_seconds")]
    #[garde(range(min = 1, max = 600))]
    pub read_seconds: u32,
}

fn default_mutation_seconds() -> u32 {
    60
}
fn default_read_seconds() -> u32 {
    30
}

impl Default for ModuleTimeouts {
    fn default() -> Self {
        Self {
            mutation_seconds: default_mutation_seconds(),
            read_seconds: default_read_seconds(),
        }
    }
}

/// Rate and concurrency limits of one module.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModuleLimits {
    /// Panel operations running at the same time, across all services of this module.
    #[serde(default = "default_concurrency")]
    #[garde(range(min = 1, max = 256))]
    pub max_concurrent_operations: u32,
    /// Sustained panel requests per second (token bucket refill rate).
    #[serde(default = "default_rps")]
    #[garde(range(min = 1, max = 1000))]
    pub requests_per_second: u32,
    /// Requests that may be sent at once after a quiet period (token bucket size).
    #[serde(default = "default_burst")]
    #[garde(range(min = 1, max = 1000))]
    pub burst: u32,
}

fn default_concurrency() -> u32 {
    4
}
fn default_rps() -> u32 {
    10
}
fn default_burst() -> u32 {
    20
}

impl Default for ModuleLimits {
    fn default() -> Self {
        Self {
            max_concurrent_operations: default_concurrency(),
            requests_per_second: default_rps(),
            burst: default_burst(),
        }
    }
}

/// ispmanager-specific settings (seed 002).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct IspManagerSettings {
    /// How new users get an IP address: `Auto` lets the panel pick a shared address
    /// (`ipsrc=auto`); `DoNotAssign` creates users without one (the "mock IPmanager" setup).
    #[serde(default)]
    pub ip_assignment: IpAssignment,
    /// The data center this panel stands in; shown in status and used in placement reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(min = 1, max = 63)))]
    pub data_center: Option<String>,
}

/// How ispmanager assigns an IP address to a new user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum IpAssignment {
    /// The panel picks an address (`ipsrc=auto`).
    #[default]
    Auto,
    /// No address is assigned (`ipsrc=do_not_assign`).
    DoNotAssign,
}

/// VMmanager-specific settings (seeds 001 and 004).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct VmManagerSettings {
    /// API generation: `V6` (REST under `/vm/v3`) or `V5` (the classic `/vmmgr` API).
    #[serde(default)]
    pub api_version: VmManagerApiVersion,
    /// The `Licensing` processing module that orders control-panel licenses for servers of
    /// this module (seed 001). Required when a tariff on this module sells the control-panel
    /// license addon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub licensing_module_ref: Option<LocalObjectReference>,
    /// Use recipes when creating servers (seed 004, "Use recipes").
    #[serde(default)]
    pub use_recipes: bool,
    /// When a new server counts as deployed and the service becomes Ready: after the OS
    /// template is installed, or after the recipe has run (needs `useRecipes`).
    #[serde(default)]
    pub deployment_complete: DeploymentComplete,
    /// Run operations of one type one at a time, in a queue per operation type (seed 004,
    /// "Run operations in the queue").
    #[serde(default)]
    pub serialize_operations: bool,
    /// VMmanager 6 cluster id new servers are placed in; the panel chooses when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(range(min = 1)))]
    pub cluster: Option<u32>,
    /// The data center this panel stands in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(min = 1, max = 63)))]
    pub data_center: Option<String>,
}

/// Which VMmanager API the module speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum VmManagerApiVersion {
    /// VMmanager 6: REST/JSON under `/vm/v3`, token authentication.
    #[default]
    V6,
    /// VMmanager 5: the classic mgr API at `/vmmgr`.
    V5,
}

/// The point at which server deployment counts as complete (seed 004).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeploymentComplete {
    /// "After template setup": the OS image is installed.
    #[default]
    AfterTemplate,
    /// "After recipe setup": the recipe has finished too.
    AfterRecipe,
}

/// Licensing-server settings (seeds 001 and 003).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct LicensingSettings {
    /// Periods comparison (seed 001) / `Period` lines of cpbillmgr.conf (seed 003): buy
    /// licenses for `licensePeriod` when a service is sold for `servicePeriod`. Without a
    /// matching entry licenses are bought for one month.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(dive, length(max = 100))]
    pub period_comparisons: Vec<PeriodComparison>,
    /// Put licenses of terminated services into the license pool and take pooled licenses
    /// for new orders (`Option ReUseLicense`, seed 003).
    #[serde(default = "default_true")]
    pub reuse_licenses: bool,
    /// License types (pricelist ids) that may be reused (`ReusePrice`, seed 003).
    /// Empty means every type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(length(max = 100), inner(pattern(PRICELIST_RE)))]
    pub reusable_license_types: Vec<String>,
    /// On a tariff change, take a pooled license of the new type instead of changing the
    /// pricelist of the current one (`Option UseExistingOnUpgrade`, seed 003).
    #[serde(default)]
    pub use_existing_on_upgrade: bool,
    /// When matching licenses already at the licensing server to services by IP
    /// (`fixchilds`), skip suspended services (`Option NoFixSuspended`, seed 003).
    #[serde(default)]
    pub skip_suspended_when_matching: bool,
    /// Prolong a bound license this many days before it expires (the partner module does it
    /// one day before).
    #[serde(default = "default_renew_days")]
    #[garde(range(min = 1, max = 27))]
    pub renew_days_before_expiry: u32,
}

fn default_true() -> bool {
    true
}
fn default_renew_days() -> u32 {
    1
}

/// One periods-comparison rule: licenses for services of `servicePeriod` are bought for
/// `licensePeriod`, optionally only for the services of one tariff.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct PeriodComparison {
    /// The service's period this rule applies to ("Source period").
    pub service_period: Period,
    /// The period the license is bought for instead ("Change into").
    pub license_period: LicensePeriod,
    /// Apply only to services of this tariff ("Compare with tariff plan"); all tariffs when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub tariff_ref: Option<LocalObjectReference>,
}

/// What the controller learned about the connection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessingModuleStatus {
    /// Conditions, observed generation, last error.
    #[serde(flatten)]
    pub common: CommonStatus,
    /// Panel version, where the API reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panel_version: Option<String>,
    /// Accounts (users, servers or licenses) found at the panel at the last check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_count: Option<u32>,
    /// Services currently placed on this module; placement prefers the least loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_count: Option<u32>,
    /// When the connection was last checked (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check_time: Option<Timestamp>,
    /// Licensing modules: the partner account balance after the last order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<String>,
}
