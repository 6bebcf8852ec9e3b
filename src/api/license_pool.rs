//! `LicensePool`: paid-but-unused licenses at one licensing module (seeds 000, 001, 003).
//!
//! A terminated service's license is suspended, renamed `free.lic`, bound to `0.0.0.0` and kept
//! here; a new order takes a pooled license of its type before buying one. Pooled licenses are
//! not renewed and leave the pool a while after they expire.

use garde::Validate;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CommonStatus, Date, LocalObjectReference};
use super::patterns::PRICELIST_RE;

/// The pool of paid-but-unused licenses at one licensing module.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[kube(
    group = "hostplane.dev",
    version = "v1alpha1",
    kind = "LicensePool",
    namespaced,
    status = "LicensePoolStatus",
    shortname = "lpool",
    category = "hosting",
    derive = "PartialEq",
    doc = "The pool of paid-but-unused ISPsystem licenses at one licensing module: reused by new orders before any license is bought.",
    printcolumn(
        name = "Module",
        type_ = "string",
        json_path = ".spec.licensingModuleRef.name"
    ),
    printcolumn(name = "Pooled", type_ = "integer", json_path = ".status.pooled"),
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
pub struct LicensePoolSpec {
    /// The `Licensing` processing module whose licenses this pool holds. One pool per module.
    #[garde(dive)]
    pub licensing_module_ref: LocalObjectReference,
    /// License types (pricelist ids) that may be pooled and reused; empty means all types the
    /// module's `licensing.reusableLicenseTypes` allows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(length(max = 100), inner(pattern(PRICELIST_RE)))]
    pub license_types: Vec<String>,
    /// A pooled license leaves the pool (and is deleted at the licensing server) this many
    /// months after its expiry (seed 000: "a month has elapsed since this license's
    /// termination date").
    #[serde(default = "one")]
    #[garde(range(min = 1, max = 24))]
    pub retain_months_after_expiry: u32,
    /// Only licenses whose IP and key were last changed at least this many months ago are
    /// taken (the licensing server limits how often a license may be rebound).
    #[serde(default = "one")]
    #[garde(range(max = 12))]
    pub min_months_since_rebind: u32,
}

fn one() -> u32 {
    1
}

/// The state of a pooled license.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PooledLicenseState {
    /// Free and takeable.
    #[default]
    Idle,
    /// Free but rebound too recently to be taken yet.
    Cooling,
    /// Being handed to a service.
    Reserved,
    /// Past its expiry; leaves the pool once the retention ends.
    Expired,
}

/// One license in the pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PooledLicense {
    /// License id at the licensing server.
    pub id: String,
    /// License type (pricelist id).
    pub license_type: String,
    /// The day it expires (pooled licenses are not renewed).
    pub expires_on: Date,
    /// Its state in the pool.
    pub state: PooledLicenseState,
    /// When it joined the pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooled_on: Option<Date>,
    /// Extra nodes (`addon_<id>=N`) it was bought with, from the pool's
    /// `nodes.hostplane.dev/<id>` annotation (the licensing server does not list them); unset
    /// when none are recorded. Only needs with the same count take it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<u32>,
}

/// How many licenses of one type the pool holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseTypeCount {
    /// License type (pricelist id).
    pub license_type: String,
    /// Pooled licenses of that type.
    pub count: u32,
}

/// What the controller reports about the pool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicensePoolStatus {
    /// Conditions, observed generation, last error.
    #[serde(flatten)]
    pub common: CommonStatus,
    /// Licenses in the pool.
    #[serde(default)]
    pub pooled: u32,
    /// Every pooled license.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<PooledLicense>,
    /// Counts per license type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counts: Vec<LicenseTypeCount>,
}
