//! Request bodies of VMmanager 6 mutations (reference §4.4, §4.5).
//!
//! Optional fields are left out when unset rather than sent as 0 or "": the panel rejects
//! unknown or conflicting properties (`os` *or* `image`, `preset` *or* explicit sizes), and
//! an explicit 0 would mean something else than "let the panel choose".

use secrecy::SecretString;
use serde::Serialize;

use super::wire::expose;

/// `POST /vm/v3/host`.
#[derive(Clone, Debug, Serialize)]
pub struct NewHost {
    /// Unique name; the operator looks hosts up by it after a lost response.
    pub name: String,
    /// Root password of the new server.
    #[serde(serialize_with = "expose")]
    pub password: SecretString,
    /// Cluster id.
    pub cluster: u64,
    /// OS image id.
    pub os: u64,
    /// Virtual CPUs.
    pub cpu_number: u64,
    /// RAM in MiB.
    pub ram_mib: u64,
    /// Main disk in MiB.
    pub hdd_mib: u64,
    /// Owner account id.
    pub account: u64,
    /// Number of IPv4 addresses to assign.
    pub ipv4_number: u64,
    /// IPv4 pools to take them from; the cluster's pools when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ipv4_pool: Vec<u64>,
    /// FQDN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Free text; the operator stores its own identity here too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Node; the panel places the host when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<u64>,
    /// Bandwidth limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_bandwidth_mbitps: Option<u64>,
    /// Recipe to run after the OS install.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipe: Option<u64>,
    /// Parameters of the recipe.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recipe_params: Vec<RecipeParam>,
    /// `default`: let the panel mail the owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_email_mode: Option<String>,
}

/// A recipe parameter.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RecipeParam {
    /// Parameter name.
    pub name: String,
    /// Parameter value.
    pub value: String,
}

/// `POST /vm/v3/account`.
#[derive(Clone, Debug, Serialize)]
pub struct NewAccount {
    /// Login e-mail, the lookup key.
    pub email: String,
    /// Initial password.
    #[serde(serialize_with = "expose")]
    pub password: SecretString,
    /// `@user` for clients.
    pub role: String,
}

/// `POST /vm/v3/host/{id}/resource`: only the fields that change.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ResourceChange {
    /// New number of virtual CPUs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_number: Option<u64>,
    /// New RAM in MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ram_mib: Option<u64>,
    /// New bandwidth limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_bandwidth_mbitps: Option<u64>,
    /// `{"action":"host_stop"}`: apply at the next stop instead of now (running hosts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defer: Option<Defer>,
}

/// When a deferred change applies.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Defer {
    /// The action that triggers it, `host_stop`.
    pub action: String,
}

/// `POST /vm/v3/host/{id}/reinstall`.
#[derive(Clone, Debug, Serialize)]
pub struct Reinstall {
    /// OS image id.
    pub os: u64,
    /// New root password.
    #[serde(serialize_with = "expose")]
    pub password: SecretString,
    /// `default`.
    pub send_email_mode: String,
    /// Recipe to run afterwards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipe: Option<u64>,
}
