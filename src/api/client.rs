//! `Client`: a customer of the provider. Services reference their client by name.

use garde::Validate;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::CommonStatus;
use super::patterns::{EMAIL_RE, GROUP_RE};

/// A customer: who owns services, which client groups they are in, whether they are suspended.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[kube(
    group = "hostplane.dev",
    version = "v1alpha1",
    kind = "Client",
    namespaced,
    status = "ClientStatus",
    shortname = "client",
    category = "hosting",
    derive = "PartialEq",
    doc = "A customer of the provider: contact, client groups (which tariffs they may order) and suspension of all their services.",
    printcolumn(
        name = "Display-Name",
        type_ = "string",
        json_path = ".spec.displayName"
    ),
    printcolumn(name = "Email", type_ = "string", json_path = ".spec.email"),
    printcolumn(name = "Suspended", type_ = "boolean", json_path = ".spec.suspended"),
    printcolumn(name = "Services", type_ = "integer", json_path = ".status.services"),
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
pub struct ClientSpec {
    /// The client's name as people read it.
    #[garde(length(min = 1, max = 256))]
    pub display_name: String,
    /// Where notifications go; also the owner account's login at VMmanager.
    #[garde(length(max = 254), pattern(EMAIL_RE))]
    pub email: String,
    /// The provider's own customer number (e.g. from its CRM); the `@ACCOUNT_ID@` macro of
    /// username templates expands to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(range(min = 1, max = 9_999_999_999u64)))]
    pub account_id: Option<u64>,
    /// Client groups. Tariffs allow or forbid groups (`policies.allowedClientGroups`,
    /// `forbiddenClientGroups`) and may exempt groups from their services-per-client limit
    /// (`policies.servicesPerClientExemptGroups`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(length(max = 64), inner(length(min = 1, max = 63), pattern(GROUP_RE)))]
    pub groups: Vec<String>,
    /// Suspend every service of this client (their accounts are suspended at the panels, not
    /// deleted); `false` resumes them.
    #[serde(default)]
    pub suspended: bool,
    /// Why the client is suspended, for staff; shown in the services' conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(max = 1024)))]
    pub suspension_reason: Option<String>,
}

/// What the controller reports about a client.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientStatus {
    /// Conditions, observed generation, last error.
    #[serde(flatten)]
    pub common: CommonStatus,
    /// Services of this client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<u32>,
    /// VMmanager owner accounts of this client, per module (module name → account id).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub owner_accounts: std::collections::BTreeMap<String, String>,
}
