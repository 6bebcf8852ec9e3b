//! The JSON shapes of VMmanager 6 (reference §4), read tolerantly.
//!
//! Public clients disagree on details (ids as numbers or strings, `node` as an id on
//! `GET /host/{id}` but an object in lists, `ip` vs `ip_addr`), and the panel adds fields
//! between releases. So every field has a default, unknown fields are ignored, ids accept both
//! encodings and enumerations keep values they do not know instead of failing.

use serde::{Deserialize, Deserializer, Serializer};
use serde_json::Value;

/// `POST /auth/v4/public/token` → 201 `{"token","id","confirmed"}`.
#[derive(Clone, Deserialize)]
pub struct TokenResponse {
    /// The session token, sent back as `x-xsrf-token` (and cookie `ses6`).
    pub token: String,
    /// The token's id (a string in the reference, a number in some builds).
    #[serde(default, deserialize_with = "id_string")]
    pub id: String,
    /// Whether the account's e-mail is confirmed.
    #[serde(default)]
    pub confirmed: Option<bool>,
}

/// The token is a credential: it is never printed.
impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("id", &self.id)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// `{"error":{"code","msg","value"}}`, the body of every failing call (§4.3).
#[derive(Clone, Debug, Deserialize)]
pub struct ErrorBody {
    /// The error itself.
    pub error: ApiError,
}

/// One VMmanager 6 error.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct ApiError {
    /// Numeric code (3001 = not allowed from outside; 1000 = token expired in one client).
    #[serde(default)]
    pub code: i64,
    /// Human-readable message.
    #[serde(default)]
    pub msg: String,
    /// Details, e.g. the offending field.
    #[serde(default)]
    pub value: Value,
}

/// `{"list":[…],"last_notify":n}`, the shape of every collection.
#[derive(Clone, Debug, Deserialize)]
pub struct List<T> {
    /// The elements (after the `where` filter). Required: every collection answers a `list`,
    /// empty or not (reference §4), so an answer without one (an empty document from a proxy
    /// or a broken panel) is an error, never "nothing there". Read as empty, it made the
    /// lookup after a lost create answer report no host, and the host was created twice
    /// (found by the chaos soak).
    pub list: Vec<T>,
    /// Change counter of the collection.
    #[serde(default)]
    pub last_notify: Option<i64>,
}

/// What a long operation answers: the object id and the task to poll (§4.4).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct TaskRef {
    /// The object (host) id.
    #[serde(default, deserialize_with = "id_u64")]
    pub id: u64,
    /// The consul task id to correlate in `/vm/v3/task`.
    #[serde(default, deserialize_with = "id_u64")]
    pub task: u64,
    /// The recipe task of a host create, 0 when there is none.
    #[serde(default, deserialize_with = "id_u64")]
    pub recipe_task: u64,
    /// All recipe tasks of a host create.
    #[serde(default)]
    pub recipe_task_list: Vec<Value>,
    /// `restart` answers its start task here.
    #[serde(default, deserialize_with = "id_u64")]
    pub start_task: u64,
}

/// `POST /vm/v3/account` → `{"id"}`.
#[derive(Clone, Debug, Deserialize)]
pub struct Created {
    /// The new object's id.
    #[serde(deserialize_with = "id_u64")]
    pub id: u64,
}

/// A reference to another object: a bare id, or an object with an id and a name or e-mail.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectRef {
    /// The id (0 when the panel sent none).
    pub id: u64,
    /// `name`, if sent.
    pub name: Option<String>,
    /// `email`, if sent (accounts).
    pub email: Option<String>,
}

impl<'de> Deserialize<'de> for ObjectRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Ok(match &value {
            Value::Object(map) => ObjectRef {
                id: map.get("id").and_then(value_u64).unwrap_or(0),
                name: map.get("name").and_then(Value::as_str).map(str::to_owned),
                email: map.get("email").and_then(Value::as_str).map(str::to_owned),
            },
            other => ObjectRef {
                id: value_u64(other).unwrap_or(0),
                ..ObjectRef::default()
            },
        })
    }
}

/// A panel account (`GET /vm/v3/account`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Account {
    /// Account id, the `account` of a host.
    #[serde(deserialize_with = "id_u64")]
    pub id: u64,
    /// Login e-mail.
    #[serde(default)]
    pub email: String,
    /// `active`, …
    #[serde(default)]
    pub state: String,
    /// `@admin`, `@user`, …
    #[serde(default)]
    pub roles: Vec<String>,
    /// Number of hosts the account owns.
    #[serde(default)]
    pub host_count: Option<u64>,
}

impl Account {
    /// Administrators are never reused as a client's owner account (reference §4.7).
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|role| role.contains("@admin"))
    }
}

/// A host (virtual server), from the list (with IPs and relations) or from `GET /host/{id}`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Host {
    /// Host id.
    #[serde(deserialize_with = "id_u64")]
    pub id: u64,
    /// Name given at creation; the operator's lookup key.
    #[serde(default)]
    pub name: String,
    /// Life-cycle state.
    #[serde(default)]
    pub state: HostState,
    /// FQDN of the host.
    #[serde(default)]
    pub domain: String,
    /// Free-text comment.
    #[serde(default)]
    pub comment: String,
    /// Owner account (list only).
    #[serde(default)]
    pub account: Option<ObjectRef>,
    /// Cluster (list only).
    #[serde(default)]
    pub cluster: Option<ObjectRef>,
    /// Node: an object in lists, a bare id on `GET /host/{id}`.
    #[serde(default)]
    pub node: Option<ObjectRef>,
    /// Virtual CPUs.
    #[serde(default)]
    pub cpu_number: u64,
    /// RAM in MiB.
    #[serde(default)]
    pub ram_mib: u64,
    /// The CPU count a deferred change will set at the host's next stop; equal to
    /// `cpu_number` (or absent) when nothing is pending [S17 `types/types.go`, reference §11].
    #[serde(default)]
    pub cpu_number_new: Option<u64>,
    /// The RAM a deferred change will set at the next stop; like `cpu_number_new`.
    #[serde(default)]
    pub ram_mib_new: Option<u64>,
    /// Main disk (list only).
    #[serde(default)]
    pub disk: Option<HostDisk>,
    /// Bandwidth limit.
    #[serde(default)]
    pub net_bandwidth_mbitps: Option<u64>,
    /// IPv4 addresses (list only).
    #[serde(default)]
    pub ip4: Vec<HostIp>,
    /// IPv6 addresses (list only).
    #[serde(default)]
    pub ip6: Vec<HostIp>,
    /// Installed OS name.
    #[serde(default)]
    pub os_name: String,
    /// Installed OS: an object or a bare id, depending on the build (list only).
    #[serde(default)]
    pub os: Option<ObjectRef>,
}

impl Host {
    /// The CPU count the host has once a pending change is applied.
    pub fn cpu_number_target(&self) -> u64 {
        self.cpu_number_new
            .filter(|&n| n > 0)
            .unwrap_or(self.cpu_number)
    }

    /// The RAM the host has once a pending change is applied.
    pub fn ram_mib_target(&self) -> u64 {
        self.ram_mib_new.filter(|&n| n > 0).unwrap_or(self.ram_mib)
    }

    /// Whether a CPU or RAM change waits for the host's next stop.
    pub fn change_pending(&self) -> bool {
        self.cpu_number_target() != self.cpu_number || self.ram_mib_target() != self.ram_mib
    }

    /// The first IPv4 address, else the first IPv6 one: the "main IP" of reference §4.7.
    pub fn main_ip(&self) -> Option<&str> {
        self.ip4
            .iter()
            .chain(&self.ip6)
            .map(|ip| ip.ip.as_str())
            .find(|ip| !ip.is_empty())
    }
}

/// The main disk of a host.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct HostDisk {
    /// Disk id (for `POST /vm/v3/disk/{id}`).
    #[serde(default, deserialize_with = "id_u64")]
    pub id: u64,
    /// Size in MiB.
    #[serde(default)]
    pub disk_mib: u64,
}

/// An address in a host list item's `ip4` / `ip6`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct HostIp {
    /// Address id, if sent.
    #[serde(default, deserialize_with = "id_u64")]
    pub id: u64,
    /// The address.
    #[serde(default, alias = "ip_addr")]
    pub ip: String,
}

/// An element of `GET /vm/v3/host/{id}/ipv4`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Ipv4Address {
    /// Address id (for `POST /vm/v3/ip/{id}/ptr`).
    #[serde(default, deserialize_with = "id_u64")]
    pub id: u64,
    /// The address; some builds call it `ip`.
    #[serde(default, alias = "ip")]
    pub ip_addr: String,
    /// PTR domain.
    #[serde(default)]
    pub domain: String,
    /// Gateway of the network.
    #[serde(default)]
    pub gateway: String,
    /// Network mask.
    #[serde(default)]
    pub mask: String,
    /// Pool the address came from.
    #[serde(default, deserialize_with = "id_u64")]
    pub ippool: u64,
}

/// Host `state`. Only `active` is documented; `stopped` and `creating` come from a
/// third-party client; anything else is kept verbatim (reference §4.6, §8).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum HostState {
    /// Running.
    Active,
    /// Powered off.
    Stopped,
    /// Being created (OS install).
    Creating,
    /// A value this client does not know.
    Other(String),
    /// No state sent.
    #[default]
    Unknown,
}

impl HostState {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            HostState::Active => "active",
            HostState::Stopped => "stopped",
            HostState::Creating => "creating",
            HostState::Other(other) => other,
            HostState::Unknown => "",
        }
    }
}

impl<'de> Deserialize<'de> for HostState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Option::<String>::deserialize(d)?.unwrap_or_default();
        Ok(match raw.as_str() {
            "active" => HostState::Active,
            "stopped" => HostState::Stopped,
            "creating" => HostState::Creating,
            "" => HostState::Unknown,
            _ => HostState::Other(raw),
        })
    }
}

/// Task `status`: `complete` and `fail` are terminal; the rest (`pending`, `running`, or
/// values nobody documented) mean "keep polling" (reference §4.6).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TaskStatus {
    /// Done, successfully.
    Complete,
    /// Done, failed.
    Fail,
    /// Not finished (any other value, kept verbatim).
    InProgress(String),
    /// No status sent.
    #[default]
    Unknown,
}

impl TaskStatus {
    /// `complete` or `fail`.
    pub fn is_terminal(&self) -> bool {
        matches!(self, TaskStatus::Complete | TaskStatus::Fail)
    }
}

impl<'de> Deserialize<'de> for TaskStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Option::<String>::deserialize(d)?.unwrap_or_default();
        Ok(match raw.as_str() {
            "complete" => TaskStatus::Complete,
            "fail" => TaskStatus::Fail,
            "" => TaskStatus::Unknown,
            _ => TaskStatus::InProgress(raw),
        })
    }
}

/// An element of `GET /vm/v3/task`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Task {
    /// Row id.
    #[serde(default, deserialize_with = "id_u64")]
    pub id: u64,
    /// The id a mutation answered as `task`.
    #[serde(default, deserialize_with = "id_u64")]
    pub consul_id: u64,
    /// `host_create`, `host_stop`, …
    #[serde(default)]
    pub name: String,
    /// Progress.
    #[serde(default)]
    pub status: TaskStatus,
    /// Why a deferred task waits, if it does.
    #[serde(default)]
    pub defer_reason: Value,
    /// Task output (error text of a failed task), when the panel sends it.
    #[serde(default)]
    pub output: Value,
}

/// An element of a catalogue (`/vm/v3/os`, `/vm/v3/recipe`, `/ip/v3/ippool`, …): id, name and
/// the rest kept as JSON for callers that need more.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct CatalogItem {
    /// Object id.
    #[serde(deserialize_with = "id_u64")]
    pub id: u64,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// `state`, when the catalogue has one (OS images: `active`).
    #[serde(default)]
    pub state: String,
    /// Everything else.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// An operating-system image (`GET /vm/v3/os`).
pub type Os = CatalogItem;
/// A cluster (`GET /vm/v3/cluster`).
pub type Cluster = CatalogItem;
/// A recipe (`GET /vm/v3/recipe`).
pub type Recipe = CatalogItem;
/// An IP pool (`GET /ip/v3/ippool`).
pub type IpPool = CatalogItem;

fn value_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An id sent as a number or as a string of digits; `null` reads as 0.
pub(crate) fn id_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let value = Value::deserialize(d)?;
    match value {
        Value::Null => Ok(0),
        other => value_u64(&other)
            .ok_or_else(|| serde::de::Error::custom(format!("expected an id, got {other}"))),
    }
}

fn id_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// Serialises a secret (a root or account password) into a request body. Request types keep
/// secrets as `SecretString` so that their `Debug` never shows them.
pub(crate) fn expose<S: Serializer>(
    secret: &secrecy::SecretString,
    s: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    s.serialize_str(secret.expose_secret())
}
