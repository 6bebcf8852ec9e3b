//! The VMmanager 6 client (REST/JSON under `/auth/v4`, `/vm/v3`, `/ip/v3`; reference §4).
//!
//! Module by concern: `rest` (login, headers, 401 and 503 handling, error mapping), `filter`
//! (`where` expressions), `wire` (answers), `requests` (bodies), and the typed operations in
//! `accounts`, `hosts`, `catalog` and `tasks`.
//!
//! Non-idempotent calls (account create, host create) are never repeated after a lost answer:
//! they fail with `PanelError::OutcomeUnknown`, and the caller looks the object up (account by
//! e-mail, host by name) before deciding to create again. Everything else is safe to repeat.

mod accounts;
mod catalog;
pub mod filter;
mod hosts;
pub mod requests;
mod rest;
mod tasks;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

pub use filter::{Op, Where};
pub use hosts::task_names;
pub use requests::{Defer, NewAccount, NewHost, RecipeParam, Reinstall, ResourceChange};
pub use rest::{LoginPolicy, WakePolicy};
pub use tasks::TaskWait;
pub use wire::{
    Account, ApiError, CatalogItem, Cluster, Host, HostIp, HostState, IpPool, Ipv4Address, Os,
    Recipe, Task, TaskRef, TaskStatus,
};

use super::credentials::Credentials;
use super::error::PanelError;
use super::limits::Limiter;
use super::retry::RetryPolicy;
use super::transport::{HttpOptions, http_client};

/// How a client talks to one VMmanager 6 instance.
#[derive(Clone, Debug)]
pub struct Vm6Options {
    /// Timeouts and TLS.
    pub http: HttpOptions,
    /// The module's shared limiter (token bucket and concurrency).
    pub limiter: Limiter,
    /// Retries of transport failures.
    pub retry: RetryPolicy,
    /// Patience with a suspended instance (503).
    pub wake: WakePolicy,
    /// Patience with a login that fails transiently.
    pub login: LoginPolicy,
    /// Task polling.
    pub tasks: TaskWait,
}

impl Default for Vm6Options {
    fn default() -> Self {
        Vm6Options {
            http: HttpOptions::default(),
            limiter: Limiter::new(Default::default()),
            retry: RetryPolicy::default(),
            wake: WakePolicy::default(),
            login: LoginPolicy::default(),
            tasks: TaskWait::default(),
        }
    }
}

/// A VMmanager 6 client; cheap to clone, clones share the session and the limiter.
#[derive(Clone)]
pub struct Vm6Client {
    inner: Arc<Inner>,
}

struct Inner {
    base: reqwest::Url,
    http: reqwest::Client,
    credentials: Credentials,
    limiter: Limiter,
    /// The largest answer read ([`HttpOptions::max_body_bytes`]).
    max_body: usize,
    /// Per-request timeouts of reads (GET, the login) and of mutations ([`HttpOptions`]).
    read_timeout: Duration,
    mutation_timeout: Duration,
    retry: RetryPolicy,
    wake: WakePolicy,
    login: LoginPolicy,
    tasks: TaskWait,
    session: tokio::sync::Mutex<Option<rest::Session>>,
    /// Who the calls are counted for in the metrics ([`Vm6Client::labelled`]).
    label: String,
}

impl Vm6Client {
    /// A client for the instance at `base_url` (`https://vm.example.net`, the panel's root;
    /// the service paths are appended). No request is made until the first call.
    pub fn new(
        base_url: &str,
        credentials: Credentials,
        options: Vm6Options,
    ) -> Result<Self, PanelError> {
        let mut base = reqwest::Url::parse(base_url).map_err(|e| PanelError::Protocol {
            message: format!("VMmanager 6 URL {base_url:?} is not a URL: {e}"),
        })?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(Vm6Client {
            inner: Arc::new(Inner {
                base,
                http: http_client(&options.http)?,
                max_body: options.http.max_body_bytes,
                read_timeout: options.http.timeout,
                mutation_timeout: options
                    .http
                    .mutation_timeout
                    .unwrap_or(options.http.timeout),
                credentials,
                limiter: options.limiter,
                retry: options.retry,
                wake: options.wake,
                login: options.login,
                tasks: options.tasks,
                session: tokio::sync::Mutex::new(None),
                label: "vm6".to_owned(),
            }),
        })
    }

    /// Counts this client's calls in the metrics under `label` (the processing module's
    /// namespace/name) rather than as `vm6`; for a client just made.
    pub fn labelled(mut self, label: &str) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.label = label.to_owned();
        }
        self
    }

    /// The panel's root URL.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// A read-only `GET` of `path` (relative to the panel root), as raw JSON: for checks
    /// that look at which fields the panel sends (`hostplane doctor`), not at typed values.
    pub async fn get_json(
        &self,
        operation: &str,
        path: &str,
    ) -> Result<serde_json::Value, PanelError> {
        self.call(rest::Call::get(operation, path)).await
    }

    /// How long task waits last by default.
    pub fn task_timeout(&self) -> Duration {
        self.inner.tasks.timeout
    }
}

impl std::fmt::Debug for Vm6Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm6Client")
            .field("base", &self.inner.base.as_str())
            .field("credentials", &self.inner.credentials)
            .finish()
    }
}
