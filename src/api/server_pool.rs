//! `ServerPool`: pre-created virtual servers at one VMmanager module (seed 004).
//!
//! Servers are owned by the pool client; an order whose configuration matches takes one (its
//! owner changes to the buyer) instead of waiting for a new server. The pool is sized from the
//! sales of the last N days, and servers older than the maximum age are deleted.

use garde::Validate;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CommonStatus, LocalObjectReference, Timestamp};
use super::patterns::NAME_RE;

/// Pre-created virtual servers, kept ready at one VMmanager module.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[kube(
    group = "hostplane.dev",
    version = "v1alpha1",
    kind = "ServerPool",
    namespaced,
    status = "ServerPoolStatus",
    shortname = "spool",
    category = "hosting",
    derive = "PartialEq",
    doc = "Pre-created virtual servers at one VMmanager module, sized from recent sales (seed 004).",
    printcolumn(
        name = "Module",
        type_ = "string",
        json_path = ".spec.vmmanagerModuleRef.name"
    ),
    printcolumn(
        name = "Ready-Servers",
        type_ = "integer",
        json_path = ".status.readyServers"
    ),
    printcolumn(
        name = "Desired",
        type_ = "integer",
        json_path = ".status.desiredServers"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct ServerPoolSpec {
    /// The `VMmanager` processing module the servers are created at.
    #[garde(dive)]
    pub vmmanager_module_ref: LocalObjectReference,
    /// The client that owns pooled servers until they are taken (seed 004: "user-pool").
    #[garde(dive)]
    pub pool_client_ref: LocalObjectReference,
    /// Server configurations to keep ready; an order matches when the tariff's CPU, memory,
    /// disk and the chosen OS are equal.
    #[garde(length(min = 1, max = 64), dive)]
    pub configurations: Vec<PoolConfiguration>,
    /// "Calculate statistics for": count servers sold in this many most recent days.
    #[serde(default = "default_window")]
    #[garde(range(min = 1, max = 365))]
    pub statistics_window_days: u32,
    /// Pool size per configuration by sales in the window, in ascending order of `maxSold`;
    /// the last bucket has no `maxSold` and covers everything above. Seed 004's table:
    /// (0,3], (3,6], (6,10], (10,15], above 15. With no sales nothing is pre-created.
    #[garde(length(min = 1, max = 16), dive)]
    pub size_by_sales: Vec<SalesBucket>,
    /// "Maximum period in pool": servers older than this many months are deleted.
    #[garde(range(min = 1, max = 120))]
    pub max_months_in_pool: u32,
}

fn default_window() -> u32 {
    3
}

/// One configuration kept in the pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct PoolConfiguration {
    /// A name for the configuration, used in status.
    #[garde(length(min = 1, max = 63), pattern(NAME_RE))]
    pub name: String,
    /// Operating system image.
    #[garde(length(min = 1, max = 128))]
    pub operating_system: String,
    /// Virtual CPU cores.
    #[garde(range(min = 1, max = 256))]
    pub cpu_cores: u32,
    /// Memory, MiB.
    #[serde(rename = "memoryMiB")]
    #[garde(rename("memoryMiB"), range(min = 256, max = 4_194_304))]
    pub memory_mib: u32,
    /// Disk, GiB.
    #[serde(rename = "diskGiB")]
    #[garde(rename("diskGiB"), range(min = 1, max = 65_536))]
    pub disk_gib: u32,
    /// Recipe, when the module uses recipes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(min = 1, max = 128)))]
    pub recipe: Option<String>,
}

/// A row of the pool-size table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SalesBucket {
    /// Upper bound (inclusive) of servers sold in the window for this row; the lower bound is
    /// the previous row's. Unset on the last row: "more than the previous row".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(range(min = 1, max = 1_000_000)))]
    pub max_sold: Option<u32>,
    /// Servers of the configuration to keep ready.
    #[garde(range(max = 1000))]
    pub servers: u32,
}

/// The state of a pooled server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PooledServerState {
    /// Being created.
    #[default]
    Creating,
    /// Ready to be taken.
    Ready,
    /// Being handed to a buyer.
    Taking,
    /// Too old; being deleted.
    Expiring,
}

/// One server in the pool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PooledServer {
    /// Host id at VMmanager.
    pub id: String,
    /// The configuration it was made for.
    pub configuration: String,
    /// When it was created (RFC 3339).
    pub created_at: Timestamp,
    /// Its state.
    pub state: PooledServerState,
}

/// Pool size and sales per configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationStatus {
    /// Configuration name.
    pub name: String,
    /// Servers sold in the statistics window.
    pub sold: u32,
    /// Servers to keep ready, from the size table.
    pub desired: u32,
    /// Servers ready now.
    pub ready: u32,
}

/// What the controller reports about the pool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerPoolStatus {
    /// Conditions, observed generation, last error.
    #[serde(flatten)]
    pub common: CommonStatus,
    /// Servers ready to be taken.
    #[serde(default)]
    pub ready_servers: u32,
    /// Servers the size table asks for, over all configurations.
    #[serde(default)]
    pub desired_servers: u32,
    /// Per configuration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configurations: Vec<ConfigurationStatus>,
    /// Every pooled server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<PooledServer>,
}
