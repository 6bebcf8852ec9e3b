//! The panel registry: turns a `ProcessingModule` and its Secrets into ready panel clients,
//! and keeps them per module so that every reconciler of the process talks to a panel through
//! one client, one session and one [`Limiter`].
//!
//! Why a registry rather than a client per reconcile: the design promises one token bucket and
//! one concurrency limit per module (§3), which only holds when every caller shares them; a
//! VMmanager 6 or mgr session is also worth keeping between calls.
//!
//! When a cached client is rebuilt: when anything it was built from changes, i.e. the parts of
//! the module's spec that shape a client ([`Recipe`]: type, URL, TLS, limits, API version,
//! Secret names) or the `resourceVersion` of a Secret it read. The spec is compared itself
//! rather than `metadata.generation`, so that status writes (which bump `resourceVersion`) and
//! spec edits that do not touch the connection (priority, licensing options) keep the session.
//! Secret versions come from the controller's metadata-only watch on Secrets
//! ([`Panels::note_secret`]), so a cache hit costs no API call; a Secret the watch has not
//! reported since the client was built is read again (one GET), which also covers callers that
//! run without the watch.
//!
//! The limiter outlives rebuilds: a new client built after a password change shares the bucket
//! with the old one still finishing a call, and only a change of `spec.limits` replaces it.
//!
//! Besides clients, the registry keeps what the module reconciler last saw of each module's
//! health ([`Panels::healthy`], for placement) and when it checks next.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

use super::conditions::Verdict;
use crate::api::ProcessingModule;
use crate::api::common::LocalObjectReference;
use crate::api::processing_module::{
    ModuleLimits as SpecLimits, ModuleTimeouts, ModuleType, TlsSettings, VmManagerApiVersion,
};
use crate::panel::ispmanager::IspManager;
use crate::panel::licensing::Licensing;
use crate::panel::mgr::{MgrClient, MgrOptions};
use crate::panel::vmmanager5::Vm5;
use crate::panel::vmmanager6::{Vm6Client, Vm6Options};
use crate::panel::{Credentials, HttpOptions, Limiter, ModuleLimits, PanelError};

/// The Secret key of the panel login.
pub const USERNAME_KEY: &str = "username";
/// The Secret key of the panel password.
pub const PASSWORD_KEY: &str = "password";
/// The Secret key of the PEM certificate authority (`spec.tls.caSecretRef`).
pub const CA_KEY: &str = "ca.crt";

/// The check interval when `Options::module_check_interval` is unset.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(300);

/// A ready client of one module, by product.
#[derive(Clone, Debug)]
pub enum PanelClient {
    IspManager(Arc<IspManager>),
    VmManager5(Arc<Vm5>),
    VmManager6(Arc<Vm6Client>),
    Licensing(Arc<Licensing>),
}

impl PanelClient {
    /// The module type this client serves.
    pub fn module_type(&self) -> ModuleType {
        match self {
            PanelClient::IspManager(_) => ModuleType::ISPmanager,
            PanelClient::VmManager5(_) | PanelClient::VmManager6(_) => ModuleType::VMmanager,
            PanelClient::Licensing(_) => ModuleType::Licensing,
        }
    }
}

/// Why no client could be built for a module. Every message names the object and the field
/// or key to fix, and none ever contains a password.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The credentials or CA Secret does not exist in the module's namespace.
    #[error("Secret {name:?} does not exist in the namespace of the processing module")]
    SecretMissing { name: String },
    /// The Secret exists but lacks a key (`username`, `password`, `ca.crt`).
    #[error("Secret {name:?} has no key {key:?}")]
    SecretKeyMissing { name: String, key: String },
    /// The key is there but is not UTF-8 text (or is empty).
    #[error("Secret {name:?} key {key:?} is empty or not UTF-8 text")]
    SecretKeyInvalid { name: String, key: String },
    /// The caller asked for one product and the module is another.
    #[error("processing module {name:?} is of type {actual:?}, not {expected:?}")]
    WrongType {
        name: String,
        expected: ModuleType,
        actual: ModuleType,
    },
    /// `spec.url` cannot be used. `url` is shown without any user information.
    #[error("spec.url {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The TLS settings cannot be applied (an unreadable CA bundle).
    #[error("TLS settings: {0}")]
    Tls(String),
    /// Reading a Secret failed at the Kubernetes API.
    #[error("reading a Secret from the Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

impl SetupError {
    /// The Secret this error is about, if any.
    pub fn secret(&self) -> Option<&str> {
        match self {
            SetupError::SecretMissing { name }
            | SetupError::SecretKeyMissing { name, .. }
            | SetupError::SecretKeyInvalid { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// The key of a module in the registry: `namespace/name`.
pub fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

fn module_key(module: &ProcessingModule) -> String {
    key(&module.namespace().unwrap_or_default(), &module.name_any())
}

/// The parts of a module's spec a client is built from; a change of any of them rebuilds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    pub type_: ModuleType,
    pub url: String,
    pub tls: Option<TlsSettings>,
    pub limits: SpecLimits,
    pub timeouts: ModuleTimeouts,
    pub vm_api: Option<VmManagerApiVersion>,
    pub credentials: LocalObjectReference,
}

impl Recipe {
    pub fn of(module: &ProcessingModule) -> Self {
        let spec = &module.spec;
        Recipe {
            type_: spec.type_,
            url: spec.url.clone(),
            tls: spec.tls.clone(),
            limits: spec.limits.clone(),
            timeouts: spec.timeouts.clone(),
            vm_api: (spec.type_ == ModuleType::VMmanager).then(|| {
                spec.vmmanager
                    .as_ref()
                    .map(|v| v.api_version)
                    .unwrap_or_default()
            }),
            credentials: spec.credentials_secret_ref.clone(),
        }
    }

    /// The Secrets the client needs, credentials first.
    pub fn secrets(&self) -> Vec<&str> {
        let mut names = vec![self.credentials.name.as_str()];
        if let Some(ca) = self.ca_secret()
            && ca != self.credentials.name
        {
            names.push(ca);
        }
        names
    }

    /// The CA Secret, when the module names one and verification is on.
    pub fn ca_secret(&self) -> Option<&str> {
        self.tls
            .as_ref()
            .filter(|t| !t.insecure_skip_verify)
            .and_then(|t| t.ca_secret_ref.as_ref())
            .map(|r| r.name.as_str())
    }
}

/// The limiter settings of a module. `spec.limits.burst` has no counterpart yet: the panel
/// limiter's bucket holds one second of requests.
pub fn limits_of(spec: &SpecLimits) -> ModuleLimits {
    ModuleLimits {
        requests_per_second: NonZeroU32::new(spec.requests_per_second).unwrap_or(NonZeroU32::MIN),
        concurrency: spec.max_concurrent_operations.max(1) as usize,
    }
}

/// Checks `spec.url` before any client sees it: http(s), a host, and no user information
/// (credentials come from the Secret only, and a URL ends up in logs and status).
pub fn check_url(raw: &str) -> Result<reqwest::Url, SetupError> {
    let invalid = |url: String, reason: &str| SetupError::InvalidUrl {
        url,
        reason: reason.to_owned(),
    };
    let url =
        reqwest::Url::parse(raw).map_err(|e| invalid(redact_userinfo(raw), &e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        return Err(invalid(
            shown.to_string(),
            "must not carry a user or password; put them in the credentials Secret",
        ));
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            raw.to_owned(),
            "must be an http:// or https:// URL",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(raw.to_owned(), "has no host"));
    }
    Ok(url)
}

/// `raw` without anything between `://` and an `@` of the authority, for messages about a
/// URL that did not even parse.
fn redact_userinfo(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => raw.to_owned(),
    }
}

/// One value of a Secret as text. A single trailing newline is dropped: `kubectl create
/// secret --from-file` keeps the one an editor adds, and no panel password ends in one.
fn secret_text(secret: &Secret, name: &str, key: &str) -> Result<String, SetupError> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|s| s.clone().into_bytes())
        })
        .ok_or_else(|| SetupError::SecretKeyMissing {
            name: name.to_owned(),
            key: key.to_owned(),
        })?;
    let invalid = || SetupError::SecretKeyInvalid {
        name: name.to_owned(),
        key: key.to_owned(),
    };
    let mut text = String::from_utf8(bytes).map_err(|_| invalid())?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err(invalid());
    }
    Ok(text)
}

/// The panel login of a credentials Secret (keys `username`, `password`).
pub fn credentials_of(secret: &Secret, name: &str) -> Result<Credentials, SetupError> {
    let username = secret_text(secret, name, USERNAME_KEY)?;
    let password = secret_text(secret, name, PASSWORD_KEY)?;
    Ok(Credentials::new(username, password))
}

/// The PEM bundle of a CA Secret (key `ca.crt`), checked to hold at least one certificate.
pub fn ca_of(secret: &Secret, name: &str) -> Result<Vec<u8>, SetupError> {
    let pem = secret_text(secret, name, CA_KEY)?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(SetupError::Tls(format!(
            "Secret {name:?} key {CA_KEY:?} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(pem.into_bytes())
}

/// Replaces every occurrence of `secret` in `text`: panel error texts are shown in status and
/// events, and a panel that echoes what it was sent must not leak the password through them.
/// The clients scrub their errors already; this covers messages composed here around them,
/// with the same rules ([`crate::panel::scrub`]).
pub fn scrub(text: &str, secret: &str) -> String {
    crate::panel::scrub::Scrub::new().secret(secret).text(text)
}

/// What the module reconciler remembers of its last look at a module.
#[derive(Clone, Debug)]
pub struct CheckMemo {
    /// The client build the check used ([`Panels::client_build`]); a new build is checked
    /// at once (a changed Secret or URL).
    pub build: u64,
    /// The module generation checked.
    pub generation: Option<i64>,
    /// The `reconcile-requested-at` annotation seen at the check; a new value asks for a check.
    pub requested: Option<String>,
    /// When the next check is due.
    pub next_check: Instant,
    /// Consecutive failed checks (the backoff exponent; 0 after a success).
    pub failures: u32,
    /// The verdict of the check, reused until the next one.
    pub verdict: Verdict,
    /// What the check wrote into status, re-applied until the next check (so a status write
    /// that failed is repeated, not lost).
    pub findings: Findings,
}

/// The status fields a connection check owns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Findings {
    pub account_count: Option<u32>,
    pub panel_version: Option<String>,
    pub last_check_time: Option<String>,
    pub last_error: Option<crate::api::common::LastError>,
}

impl CheckMemo {
    pub fn healthy(&self) -> bool {
        matches!(self.verdict, Verdict::Ready { .. })
    }
}

/// One cached client and what it was built from.
struct Entry {
    recipe: Recipe,
    /// `resourceVersion` per Secret read for this client.
    secret_versions: Vec<(String, String)>,
    client: PanelClient,
    /// Kept to scrub panel messages of the password.
    credentials: Credentials,
    build: u64,
}

/// The registry; lives in the controller's `Context` as `panels`.
pub struct Panels {
    entries: Mutex<HashMap<String, Entry>>,
    /// One limiter per module with the limits it was made for.
    limiters: Mutex<HashMap<String, (ModuleLimits, Limiter)>>,
    /// Latest `resourceVersion` per Secret (`namespace/name`) known from the watch or a read.
    secret_versions: Mutex<HashMap<String, String>>,
    checks: Mutex<HashMap<String, CheckMemo>>,
    /// The check interval in milliseconds; atomic so `run` can set it on the shared context.
    check_interval_ms: AtomicU64,
}

impl Default for Panels {
    fn default() -> Self {
        Self::new()
    }
}

/// Numbers client builds, so a reconciler can tell whether it holds the same client as before.
static BUILDS: AtomicU64 = AtomicU64::new(1);

impl Panels {
    pub fn new() -> Self {
        Panels {
            entries: Mutex::default(),
            limiters: Mutex::default(),
            secret_versions: Mutex::default(),
            checks: Mutex::default(),
            check_interval_ms: AtomicU64::new(DEFAULT_CHECK_INTERVAL.as_millis() as u64),
        }
    }

    /// How often the module reconciler checks a healthy connection.
    pub fn check_interval(&self) -> Duration {
        Duration::from_millis(self.check_interval_ms.load(Ordering::Relaxed))
    }

    /// Sets the check interval (`Options::module_check_interval`); zero means the default.
    pub fn set_check_interval(&self, interval: Duration) {
        let interval = if interval.is_zero() {
            DEFAULT_CHECK_INTERVAL
        } else {
            interval
        };
        let ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
        self.check_interval_ms.store(ms, Ordering::Relaxed);
    }

    /// A ready client of `module`, built or taken from the cache.
    pub async fn client(
        &self,
        kube: &kube::Client,
        module: &ProcessingModule,
    ) -> Result<PanelClient, SetupError> {
        Ok(self.resolve(kube, module).await?.0)
    }

    /// The ispmanager client of `module`; [`SetupError::WrongType`] for other modules.
    pub async fn ispmanager(
        &self,
        kube: &kube::Client,
        module: &ProcessingModule,
    ) -> Result<Arc<IspManager>, SetupError> {
        match self.client(kube, module).await? {
            PanelClient::IspManager(c) => Ok(c),
            other => Err(wrong_type(module, ModuleType::ISPmanager, &other)),
        }
    }

    /// The licensing-server client of `module`; [`SetupError::WrongType`] for other modules.
    pub async fn licensing(
        &self,
        kube: &kube::Client,
        module: &ProcessingModule,
    ) -> Result<Arc<Licensing>, SetupError> {
        match self.client(kube, module).await? {
            PanelClient::Licensing(c) => Ok(c),
            other => Err(wrong_type(module, ModuleType::Licensing, &other)),
        }
    }

    /// The VMmanager 5 client of `module`; [`SetupError::WrongType`] for anything else
    /// (including a VMmanager 6 module).
    pub async fn vmmanager5(
        &self,
        kube: &kube::Client,
        module: &ProcessingModule,
    ) -> Result<Arc<Vm5>, SetupError> {
        match self.client(kube, module).await? {
            PanelClient::VmManager5(c) => Ok(c),
            other => Err(wrong_type(module, ModuleType::VMmanager, &other)),
        }
    }

    /// The VMmanager 6 client of `module`; [`SetupError::WrongType`] for anything else
    /// (including a VMmanager 5 module).
    pub async fn vmmanager6(
        &self,
        kube: &kube::Client,
        module: &ProcessingModule,
    ) -> Result<Arc<Vm6Client>, SetupError> {
        match self.client(kube, module).await? {
            PanelClient::VmManager6(c) => Ok(c),
            other => Err(wrong_type(module, ModuleType::VMmanager, &other)),
        }
    }

    /// Health as last seen by the module reconciler, for placement (skip unhealthy modules);
    /// `None` when this process has not checked the module yet.
    pub fn healthy(&self, namespace: &str, name: &str) -> Option<bool> {
        self.checks
            .lock()
            .expect("checks lock")
            .get(&key(namespace, name))
            .map(CheckMemo::healthy)
    }

    /// What the module reconciler last recorded for `key`.
    pub fn last_check(&self, key: &str) -> Option<CheckMemo> {
        self.checks.lock().expect("checks lock").get(key).cloned()
    }

    /// Records the module reconciler's latest look at `key`.
    pub fn record_check(&self, key: &str, memo: CheckMemo) {
        self.checks
            .lock()
            .expect("checks lock")
            .insert(key.to_owned(), memo);
    }

    /// Records a Secret's latest `resourceVersion` (from the watch): clients built from an
    /// older version are rebuilt on their next use.
    pub fn note_secret(&self, namespace: &str, name: &str, resource_version: &str) {
        self.secret_versions
            .lock()
            .expect("secret versions lock")
            .insert(key(namespace, name), resource_version.to_owned());
    }

    /// Forgets every module not in `live` (`namespace/name` keys): clients, limiters and
    /// health of deleted modules.
    pub fn retain(&self, live: &HashSet<String>) {
        self.entries
            .lock()
            .expect("entries lock")
            .retain(|k, _| live.contains(k));
        self.limiters
            .lock()
            .expect("limiters lock")
            .retain(|k, _| live.contains(k));
        self.checks
            .lock()
            .expect("checks lock")
            .retain(|k, _| live.contains(k));
    }

    /// Drops the cached client of `key`, so the next use reads the Secrets and builds anew.
    pub fn forget_client(&self, key: &str) {
        self.entries.lock().expect("entries lock").remove(key);
    }

    /// Replaces the password of `key`'s client in `text` (see [`scrub`]).
    pub fn scrub(&self, key: &str, text: &str) -> String {
        match self.entries.lock().expect("entries lock").get(key) {
            Some(e) => scrub(text, e.credentials.expose_password()),
            None => text.to_owned(),
        }
    }

    /// The client of `module` and its build number.
    pub async fn resolve(
        &self,
        kube: &kube::Client,
        module: &ProcessingModule,
    ) -> Result<(PanelClient, u64), SetupError> {
        let ns = module.namespace().unwrap_or_default();
        let module_key = module_key(module);
        let recipe = Recipe::of(module);
        if let Some(hit) = self.cached(&module_key, &ns, &recipe) {
            return Ok(hit);
        }
        let read = self.read_secrets(kube, &ns, &recipe).await;
        let (secrets, versions) = match read {
            Ok(read) => read,
            Err(e) => {
                // Never keep using a login whose Secret is gone or broken.
                if e.secret().is_some() {
                    self.forget_client(&module_key);
                }
                return Err(e);
            }
        };
        {
            let entries = self.entries.lock().expect("entries lock");
            if let Some(e) = entries.get(&module_key)
                && e.recipe == recipe
                && e.secret_versions == versions
            {
                return Ok((e.client.clone(), e.build));
            }
        }
        let credentials = credentials_of(&secrets[0], &recipe.credentials.name)?;
        let ca = match recipe.ca_secret() {
            Some(name) => {
                // `secrets` follows `recipe.secrets()`, which lists a shared Secret once.
                let at = recipe
                    .secrets()
                    .iter()
                    .position(|n| *n == name)
                    .unwrap_or(0);
                Some(ca_of(&secrets[at], name)?)
            }
            None => None,
        };
        let limiter = self.limiter(&module_key, limits_of(&recipe.limits));
        let client = build(
            &recipe,
            credentials.clone(),
            ca,
            limiter,
            &http_options(&recipe.timeouts),
            &module_key,
        )?;
        let build = BUILDS.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(module = %module_key, build, "built panel client");
        self.entries.lock().expect("entries lock").insert(
            module_key,
            Entry {
                recipe,
                secret_versions: versions,
                client: client.clone(),
                credentials,
                build,
            },
        );
        Ok((client, build))
    }

    /// The cached client when its recipe is current and no Secret it was built from has a
    /// newer known version.
    fn cached(&self, module_key: &str, ns: &str, recipe: &Recipe) -> Option<(PanelClient, u64)> {
        let entries = self.entries.lock().expect("entries lock");
        let entry = entries.get(module_key)?;
        if entry.recipe != *recipe {
            return None;
        }
        let known = self.secret_versions.lock().expect("secret versions lock");
        let current = entry.secret_versions.iter().all(|(name, version)| {
            known
                .get(&key(ns, name))
                .is_some_and(|latest| latest == version)
        });
        current.then(|| (entry.client.clone(), entry.build))
    }

    /// Reads the recipe's Secrets (credentials first) with their versions.
    async fn read_secrets(
        &self,
        kube: &kube::Client,
        ns: &str,
        recipe: &Recipe,
    ) -> Result<(Vec<Secret>, Vec<(String, String)>), SetupError> {
        let api: Api<Secret> = Api::namespaced(kube.clone(), ns);
        let mut secrets = Vec::new();
        let mut versions = Vec::new();
        for name in recipe.secrets() {
            let secret = api
                .get_opt(name)
                .await?
                .ok_or_else(|| SetupError::SecretMissing {
                    name: name.to_owned(),
                })?;
            let version = secret.resource_version().unwrap_or_default();
            self.note_secret(ns, name, &version);
            versions.push((name.to_owned(), version));
            secrets.push(secret);
        }
        Ok((secrets, versions))
    }

    /// The module's limiter: the existing one while the limits are unchanged.
    fn limiter(&self, module_key: &str, limits: ModuleLimits) -> Limiter {
        let mut limiters = self.limiters.lock().expect("limiters lock");
        match limiters.get(module_key) {
            Some((l, limiter)) if *l == limits => limiter.clone(),
            _ => {
                let limiter = Limiter::new(limits);
                limiters.insert(module_key.to_owned(), (limits, limiter.clone()));
                limiter
            }
        }
    }
}

/// The transport settings of a module's `spec.timeouts` (reads and mutations).
pub fn http_options(timeouts: &ModuleTimeouts) -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_secs(u64::from(timeouts.read_seconds.max(1))),
        mutation_timeout: Some(Duration::from_secs(u64::from(
            timeouts.mutation_seconds.max(1),
        ))),
        ..HttpOptions::default()
    }
}

fn wrong_type(module: &ProcessingModule, expected: ModuleType, got: &PanelClient) -> SetupError {
    SetupError::WrongType {
        name: module.name_any(),
        expected,
        actual: got.module_type(),
    }
}

/// Builds the product client of a recipe.
///
/// `spec.tls.serverName` is not applied: the shared HTTP layer (`panel::transport`) verifies
/// the certificate against the URL's host only. The module reconciler says so in the module's
/// message rather than ignoring the field silently.
/// A client built from a recipe outside the registry, with its own limiter (one-off
/// checks such as `hostplane doctor`, which must not share a running controller's state).
pub fn standalone_client(
    recipe: &Recipe,
    credentials: Credentials,
    ca: Option<Vec<u8>>,
) -> Result<PanelClient, SetupError> {
    let limiter = Limiter::new(limits_of(&recipe.limits));
    build(
        recipe,
        credentials,
        ca,
        limiter,
        &http_options(&recipe.timeouts),
        &recipe.url,
    )
}

/// `label` names the client's calls in the metrics: the module's `namespace/name`.
fn build(
    recipe: &Recipe,
    credentials: Credentials,
    ca: Option<Vec<u8>>,
    limiter: Limiter,
    http: &HttpOptions,
    label: &str,
) -> Result<PanelClient, SetupError> {
    let url = check_url(&recipe.url)?;
    let tls = recipe.tls.clone().unwrap_or_default();
    let http = HttpOptions {
        accept_invalid_certs: tls.insecure_skip_verify,
        ca_pem: ca,
        ..http.clone()
    };
    let setup = |e: PanelError| match e {
        PanelError::Protocol { message } if message.contains("URL") => SetupError::InvalidUrl {
            url: url.to_string(),
            reason: message,
        },
        other => SetupError::Tls(other.to_string()),
    };
    let mgr = || {
        MgrClient::new(
            url.as_str(),
            credentials.clone(),
            MgrOptions {
                http: http.clone(),
                limiter: Some(limiter.clone()),
                ..MgrOptions::default()
            },
        )
        .map(|client| client.labelled(label))
        .map_err(setup)
    };
    Ok(match (recipe.type_, recipe.vm_api) {
        (ModuleType::ISPmanager, _) => PanelClient::IspManager(Arc::new(IspManager::new(mgr()?))),
        (ModuleType::Licensing, _) => PanelClient::Licensing(Arc::new(Licensing::new(mgr()?))),
        (ModuleType::VMmanager, Some(VmManagerApiVersion::V5)) => {
            PanelClient::VmManager5(Arc::new(Vm5::new(mgr()?)))
        }
        (ModuleType::VMmanager, _) => {
            let options = Vm6Options {
                http: http.clone(),
                limiter: limiter.clone(),
                ..Vm6Options::default()
            };
            PanelClient::VmManager6(Arc::new(
                Vm6Client::new(url.as_str(), credentials, options)
                    .map(|client| client.labelled(label))
                    .map_err(setup)?,
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ProcessingModuleSpec;
    use crate::api::processing_module::VmManagerSettings;
    use crate::controller::reason::Reason;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    const PW: &str = "Pw-9fXq-Secret";

    fn module(type_: ModuleType, url: &str) -> ProcessingModule {
        let mut m = ProcessingModule::new(
            "isp",
            ProcessingModuleSpec {
                type_,
                url: url.into(),
                credentials_secret_ref: LocalObjectReference::new("isp-creds"),
                tls: None,
                priority: 1,
                limits: SpecLimits::default(),
                ispmanager: None,
                vmmanager: None,
                licensing: None,
                unknown_outcome_quiet_seconds: 180,
                timeouts: ModuleTimeouts::default(),
            },
        );
        m.metadata.namespace = Some("ns".into());
        m
    }

    fn secret(pairs: &[(&str, &[u8])]) -> Secret {
        Secret {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        }
    }

    #[test]
    fn credentials_come_from_the_two_keys_without_a_trailing_newline() {
        let s = secret(&[("username", b"root\n"), ("password", b"Pw-9fXq-Secret\r\n")]);
        let c = credentials_of(&s, "isp-creds").unwrap();
        assert_eq!((c.username(), c.expose_password()), ("root", PW));
    }

    #[test]
    fn a_missing_or_unreadable_key_names_the_secret_and_key_but_never_the_password() {
        let s = secret(&[("username", b"root")]);
        let e = credentials_of(&s, "isp-creds").unwrap_err();
        assert_eq!(e.to_string(), r#"Secret "isp-creds" has no key "password""#);
        let s = secret(&[("username", &[0xff, 0xfe]), ("password", PW.as_bytes())]);
        let e = credentials_of(&s, "isp-creds").unwrap_err();
        assert!(matches!(e, SetupError::SecretKeyInvalid { .. }), "{e}");
        assert!(!format!("{e} {e:?}").contains(PW));
        let s = secret(&[("username", b"root"), ("password", b"\n")]);
        assert!(matches!(
            credentials_of(&s, "isp-creds"),
            Err(SetupError::SecretKeyInvalid { .. })
        ));
    }

    #[test]
    fn a_ca_secret_must_hold_a_pem_certificate() {
        let s = secret(&[("ca.crt", b"not a certificate")]);
        assert!(matches!(ca_of(&s, "ca"), Err(SetupError::Tls(_))));
        let pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert!(ca_of(&secret(&[("ca.crt", pem)]), "ca").is_ok());
        assert!(matches!(
            ca_of(&secret(&[]), "ca"),
            Err(SetupError::SecretKeyMissing { .. })
        ));
    }

    #[test]
    fn urls_with_user_information_are_refused_without_echoing_it() {
        let e = check_url(&format!("https://root:{PW}@panel:1500/ispmgr")).unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(PW) && !shown.contains("root:"), "{shown}");
        assert!(shown.contains("https://panel:1500/ispmgr"), "{shown}");
        let e = check_url(&format!("ht tp://root:{PW}@panel")).unwrap_err();
        assert!(!format!("{e} {e:?}").contains(PW));
        assert!(check_url("ftp://panel/ispmgr").is_err());
        assert!(check_url("https://panel:1500/ispmgr").is_ok());
    }

    #[test]
    fn user_information_is_cut_from_unparsable_urls() {
        assert_eq!(redact_userinfo("h://a:b@host/x@y"), "h://host/x@y");
        assert_eq!(redact_userinfo("h://host/x@y"), "h://host/x@y");
        assert_eq!(redact_userinfo("no scheme"), "no scheme");
    }

    #[test]
    fn timeouts_default_to_the_official_modules_and_map_per_kind() {
        let http = http_options(&ModuleTimeouts::default());
        assert_eq!(
            (http.mutation_timeout, http.timeout),
            (Some(Duration::from_secs(60)), Duration::from_secs(30))
        );
        let http = http_options(&ModuleTimeouts {
            mutation_seconds: 90,
            read_seconds: 10,
        });
        assert_eq!(
            (http.mutation_timeout, http.timeout),
            (Some(Duration::from_secs(90)), Duration::from_secs(10))
        );
    }

    #[test]
    fn limits_map_to_one_limiter_setting() {
        let l = limits_of(&SpecLimits {
            max_concurrent_operations: 3,
            requests_per_second: 7,
            burst: 20,
        });
        assert_eq!((l.requests_per_second.get(), l.concurrency), (7, 3));
    }

    #[test]
    fn the_recipe_ignores_what_does_not_shape_a_client() {
        let a = module(ModuleType::ISPmanager, "https://p:1500/ispmgr");
        let mut b = a.clone();
        b.spec.priority = 9;
        b.metadata.resource_version = Some("42".into());
        assert_eq!(Recipe::of(&a), Recipe::of(&b));
        b.spec.url = "https://q:1500/ispmgr".into();
        assert_ne!(Recipe::of(&a), Recipe::of(&b));
        let mut c = a.clone();
        c.spec.limits.requests_per_second = 1;
        assert_ne!(Recipe::of(&a), Recipe::of(&c));
        let mut d = a.clone();
        d.spec.timeouts.mutation_seconds = 5;
        assert_ne!(
            Recipe::of(&a),
            Recipe::of(&d),
            "a new timeout rebuilds the client"
        );
    }

    #[test]
    fn the_ca_secret_is_read_only_when_verification_is_on() {
        let mut m = module(ModuleType::ISPmanager, "https://p:1500/ispmgr");
        m.spec.tls = Some(TlsSettings {
            insecure_skip_verify: false,
            ca_secret_ref: Some(LocalObjectReference::new("panel-ca")),
            server_name: None,
        });
        assert_eq!(Recipe::of(&m).secrets(), ["isp-creds", "panel-ca"]);
        m.spec.tls.as_mut().unwrap().insecure_skip_verify = true;
        assert_eq!(Recipe::of(&m).secrets(), ["isp-creds"]);
    }

    #[test]
    fn vmmanager_modules_get_the_client_of_their_api_version() {
        let creds = Credentials::new("root", PW);
        let limiter = Limiter::new(ModuleLimits::default());
        let http = HttpOptions::default();
        let client_of = |m: &ProcessingModule| {
            build(
                &Recipe::of(m),
                creds.clone(),
                None,
                limiter.clone(),
                &http,
                "t",
            )
            .unwrap()
        };
        let mut m = module(ModuleType::VMmanager, "https://vm.example");
        let v6 = client_of(&m);
        assert!(matches!(v6, PanelClient::VmManager6(_)));
        m.spec.url = "https://vm5.example:1500/vmmgr".into();
        m.spec.vmmanager = Some(VmManagerSettings {
            api_version: VmManagerApiVersion::V5,
            ..VmManagerSettings::default()
        });
        let v5 = client_of(&m);
        assert!(matches!(v5, PanelClient::VmManager5(_)));
        let lic = module(ModuleType::Licensing, "https://api.example/manager/billmgr");
        let c = build(&Recipe::of(&lic), creds, None, limiter, &http, "t").unwrap();
        assert_eq!(c.module_type(), ModuleType::Licensing);
        assert!(!format!("{c:?}").contains(PW));
    }

    #[tokio::test]
    async fn one_limiter_per_module_until_its_limits_change() {
        let one = ModuleLimits {
            concurrency: 1,
            ..ModuleLimits::default()
        };
        let panels = Panels::new();
        let a = panels.limiter("ns/isp", one);
        let b = panels.limiter("ns/isp", one);
        // `a` holds the only slot, so `b` must wait: they are one limiter.
        let (release, held) = tokio::sync::oneshot::channel::<()>();
        let holder = tokio::spawn(async move { a.run(held).await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let waited = tokio::time::timeout(Duration::from_millis(50), b.run(async {})).await;
        assert!(
            waited.is_err(),
            "the second client did not share the first one's slot"
        );
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        b.run(async {}).await;
        let changed = ModuleLimits {
            concurrency: 2,
            ..one
        };
        assert_eq!(panels.limiter("ns/isp", changed).limits(), changed);
        assert_eq!(panels.limiter("ns/other", one).limits(), one);
    }

    #[test]
    fn scrub_removes_the_password() {
        assert_eq!(
            scrub(&format!("bad password {PW}!"), PW),
            "bad password [redacted]!"
        );
        assert_eq!(scrub("nothing", ""), "nothing");
    }

    #[test]
    fn health_is_unknown_until_checked_and_forgotten_with_the_module() {
        let panels = Panels::new();
        assert_eq!(panels.healthy("ns", "isp"), None);
        panels.record_check(
            "ns/isp",
            CheckMemo {
                build: 1,
                generation: Some(1),
                requested: None,
                next_check: Instant::now(),
                failures: 0,
                verdict: Verdict::Ready {
                    reason: Reason::Connected,
                    message: String::new(),
                },
                findings: Findings::default(),
            },
        );
        assert_eq!(panels.healthy("ns", "isp"), Some(true));
        panels.retain(&HashSet::new());
        assert_eq!(panels.healthy("ns", "isp"), None);
    }

    #[test]
    fn a_zero_interval_means_the_default() {
        let panels = Panels::new();
        panels.set_check_interval(Duration::ZERO);
        assert_eq!(panels.check_interval(), DEFAULT_CHECK_INTERVAL);
        panels.set_check_interval(Duration::from_secs(7));
        assert_eq!(panels.check_interval(), Duration::from_secs(7));
    }
}
