//! The classic "mgr" protocol core shared by ispmanager, VMmanager 5 and BILLmanager.
//!
//! One request = one POST of a form body to the panel's endpoint (`…/ispmgr`): `func`, `out`,
//! the function's parameters, and `authinfo=LOGIN:PASSWORD` or `auth=SESSION`. Why POST bodies:
//! credentials never appear in a URL, so never in a proxy or access log. Success and panel
//! errors both come back as HTTP 200 documents (reference §1.9); anything else is transport.
//!
//! Session mode logs in with `func=auth` once, reuses the session id, and on an `auth` error
//! logs in again and repeats the call once: an `auth` answer means the panel did not run it,
//! so even a non-idempotent call is safe to repeat then.

pub mod doc;

use std::sync::Arc;
use std::time::Instant;

use secrecy::{ExposeSecret, SecretString};

pub use doc::{MgrErrorBody, Node};

use super::credentials::Credentials;
use super::error::{Idempotency, PanelError};
use super::limits::Limiter;
use super::retry::RetryPolicy;
use super::scrub::Scrub;
use super::transport::{HttpOptions, http_client, read_body};

/// The new object's id in a create or order answer, wherever it is. Production clients
/// disagree on the place (reference §11): `id` (the official modules), `id.v` (bjson
/// clients), `item.id` (jbs); all three are accepted. `None` when none holds an id.
pub fn new_id(doc: &Node) -> Option<&str> {
    let id = doc.child("id").map(|id| match id.value("v") {
        Some(v) if id.text.trim().is_empty() => v,
        _ => id.text.as_str(),
    });
    let item = doc.child("item").and_then(|item| item.value("id"));
    [id, item]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|id| !id.is_empty())
}

/// How the client authenticates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthMode {
    /// `authinfo=LOGIN:PASSWORD` in every request body: stateless, the panels' API default.
    #[default]
    Authinfo,
    /// `func=auth` once, then `auth=SESSION`; re-login when the session expires.
    Session,
}

/// The `out=` format requested. Both parse into the same [`Node`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Json,
    Xml,
}

impl Format {
    fn param(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Xml => "xml",
        }
    }
}

/// Everything about one mgr connection besides its URL and credentials.
#[derive(Clone, Debug, Default)]
pub struct MgrOptions {
    pub auth: AuthMode,
    pub format: Format,
    pub http: HttpOptions,
    pub retry: RetryPolicy,
    /// The module's shared limiter; a fresh default one when absent.
    pub limiter: Option<Limiter>,
}

/// A client for one mgr endpoint. Cheap to clone; clones share session and limits.
#[derive(Clone)]
pub struct MgrClient {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: reqwest::Url,
    credentials: Credentials,
    auth: AuthMode,
    format: Format,
    http: reqwest::Client,
    retry: RetryPolicy,
    limiter: Limiter,
    /// The largest answer read ([`HttpOptions::max_body_bytes`]).
    max_body: usize,
    /// Per-request timeouts of reads and of mutations ([`HttpOptions`]).
    read_timeout: std::time::Duration,
    mutation_timeout: std::time::Duration,
    /// The current session id (session mode); the lock also makes concurrent re-logins wait
    /// for one login instead of each doing its own.
    session: tokio::sync::Mutex<Option<SecretString>>,
    /// Who the calls are counted for in the metrics ([`MgrClient::labelled`]).
    label: String,
}

impl std::fmt::Debug for MgrClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MgrClient")
            .field("endpoint", &self.inner.endpoint.as_str())
            .field("credentials", &self.inner.credentials)
            .field("auth", &self.inner.auth)
            .finish()
    }
}

impl MgrClient {
    /// `endpoint` is the full function URL, e.g. `https://panel:1500/ispmgr`.
    pub fn new(
        endpoint: &str,
        credentials: Credentials,
        options: MgrOptions,
    ) -> Result<Self, PanelError> {
        let endpoint = reqwest::Url::parse(endpoint).map_err(|e| PanelError::Protocol {
            message: format!("invalid panel URL {endpoint:?}: {e}"),
        })?;
        if !endpoint.username().is_empty() || endpoint.password().is_some() {
            return Err(PanelError::Protocol {
                message: "the panel URL must not carry credentials; use the Secret".to_owned(),
            });
        }
        Ok(Self {
            inner: Arc::new(Inner {
                http: http_client(&options.http)?,
                max_body: options.http.max_body_bytes,
                read_timeout: options.http.timeout,
                mutation_timeout: options
                    .http
                    .mutation_timeout
                    .unwrap_or(options.http.timeout),
                credentials,
                auth: options.auth,
                format: options.format,
                retry: options.retry,
                limiter: options
                    .limiter
                    .unwrap_or_else(|| Limiter::new(Default::default())),
                session: tokio::sync::Mutex::new(None),
                label: endpoint_path_label(&endpoint),
                endpoint,
            }),
        })
    }

    /// Counts this client's calls in the metrics under `label` (the processing module's
    /// namespace/name) rather than its endpoint; for a client just made.
    pub fn labelled(mut self, label: &str) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.label = label.to_owned();
        }
        self
    }

    pub fn endpoint(&self) -> &reqwest::Url {
        &self.inner.endpoint
    }

    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    /// Calls `func` with `params` and returns the document, or the panel's error as a typed
    /// [`PanelError`]. Transport failures are retried per the policy when `idempotency`
    /// allows; a non-idempotent call whose answer was lost yields `OutcomeUnknown`. Every
    /// error is scrubbed of secrets ([`super::scrub`]) before it leaves.
    pub async fn call(
        &self,
        func: &str,
        params: &[(&str, &str)],
        idempotency: Idempotency,
    ) -> Result<Node, PanelError> {
        let started = Instant::now();
        let result = self
            .inner
            .retry
            .run(func, idempotency, |attempt| {
                self.attempt(func, params, idempotency, attempt)
            })
            .await;
        let outcome = result
            .as_ref()
            .map_or_else(PanelError::outcome_label, |_| "ok");
        crate::telemetry::panel_call(&self.inner.label, func, outcome, started.elapsed());
        match result {
            Ok(doc) => Ok(doc),
            Err(e) => Err(e.scrubbed(&self.scrub(params).await)),
        }
    }

    /// Calls a mutating function (`sok=ok`) and requires the panel to say it was done: `ok`,
    /// or the new object's id. Production clients require it after create, delete, suspend
    /// and resume (reference §11, "success of a mutation"): a document with neither, and no
    /// error, may come from a panel interrupted mid-way, so it is an outcome not known
    /// ([`PanelError::OutcomeUnknown`]), never success. The id may sit at `id`, `id.v` or
    /// `item.id`.
    pub async fn mutate(
        &self,
        func: &str,
        params: &[(&str, &str)],
        idempotency: Idempotency,
    ) -> Result<Node, PanelError> {
        let doc = self.call(func, params, idempotency).await?;
        if doc.is_ok() || new_id(&doc).is_some() {
            Ok(doc)
        } else {
            Err(PanelError::unconfirmed(func, "ok"))
        }
    }

    /// The secrets this client knows of, plus the secret parameters of one call.
    async fn scrub(&self, params: &[(&str, &str)]) -> Scrub {
        let creds = &self.inner.credentials;
        let mut scrub = Scrub::new()
            .secret(creds.expose_password())
            .secret(creds.authinfo().expose_secret())
            .form(params);
        if let Some(session) = self.inner.session.lock().await.as_ref() {
            scrub = scrub.secret(session.expose_secret());
        }
        scrub
    }

    /// The browser URL that opens the panel as `username` with a one-time `key` created by
    /// `session.newkey` (reference §2.9). It holds a login secret: hand it over, never log it.
    pub fn key_login_url(&self, username: &str, key: &str) -> SecretString {
        let mut url = self.inner.endpoint.clone();
        url.query_pairs_mut()
            .append_pair("func", "auth")
            .append_pair("username", username)
            .append_pair("key", key)
            .append_pair("checkcookie", "no");
        SecretString::from(String::from(url))
    }

    async fn attempt(
        &self,
        func: &str,
        params: &[(&str, &str)],
        idempotency: Idempotency,
        attempt: u32,
    ) -> Result<Node, PanelError> {
        let started = Instant::now();
        let result = match self.inner.auth {
            AuthMode::Authinfo => {
                let authinfo = self.inner.credentials.authinfo();
                self.post(func, params, idempotency, ("authinfo", &authinfo))
                    .await
            }
            AuthMode::Session => self.with_session(func, params, idempotency).await,
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(_) => tracing::debug!(
                endpoint = %self.inner.endpoint,
                func,
                attempt,
                elapsed_ms,
                "mgr call ok"
            ),
            Err(e) => tracing::debug!(
                endpoint = %self.inner.endpoint,
                func,
                attempt,
                elapsed_ms,
                error = %e,
                "mgr call failed"
            ),
        }
        result
    }

    async fn with_session(
        &self,
        func: &str,
        params: &[(&str, &str)],
        idempotency: Idempotency,
    ) -> Result<Node, PanelError> {
        // A failed login means the call was never sent: safe to repeat even for a create.
        let not_sent = |e: PanelError| match idempotency {
            Idempotency::NonIdempotent => e.before_sending(),
            Idempotency::Idempotent => e,
        };
        let session = self.session(None).await.map_err(not_sent)?;
        match self
            .post(func, params, idempotency, ("auth", &session))
            .await
        {
            Err(PanelError::Auth { .. }) => {
                tracing::debug!(endpoint = %self.inner.endpoint, func, "mgr session expired; logging in again");
                let fresh = self.session(Some(&session)).await.map_err(not_sent)?;
                self.post(func, params, idempotency, ("auth", &fresh)).await
            }
            other => other,
        }
    }

    /// The current session, logging in when there is none or when it is `stale` (the one a
    /// call was just refused with; another task may already have replaced it).
    async fn session(&self, stale: Option<&SecretString>) -> Result<SecretString, PanelError> {
        let mut slot = self.inner.session.lock().await;
        if let Some(current) = slot.as_ref() {
            let is_stale = stale.is_some_and(|s| s.expose_secret() == current.expose_secret());
            if !is_stale {
                return Ok(current.clone());
            }
        }
        *slot = None;
        let creds = &self.inner.credentials;
        let form = [
            ("func", "auth"),
            ("out", self.inner.format.param()),
            ("username", creds.username()),
            ("password", creds.expose_password()),
        ];
        let doc = self
            .inner
            .limiter
            .run(self.send(&form, self.inner.read_timeout))
            .await?;
        if let Some(err) = doc.error() {
            return Err(PanelError::from_mgr(&err.kind, &err.object, &err.message));
        }
        let auth = doc.child("auth").ok_or_else(|| PanelError::Protocol {
            message: "func=auth answered without <auth>".to_owned(),
        })?;
        let id = auth.attr("id").unwrap_or(&auth.text);
        if id.is_empty() {
            return Err(PanelError::Protocol {
                message: "func=auth answered with an empty session id".to_owned(),
            });
        }
        let id = SecretString::from(id.to_owned());
        *slot = Some(id.clone());
        Ok(id)
    }

    /// One POST within the module's limits; a document with `<error>` becomes `Err`.
    async fn post(
        &self,
        func: &str,
        params: &[(&str, &str)],
        idempotency: Idempotency,
        auth: (&str, &SecretString),
    ) -> Result<Node, PanelError> {
        let mut form: Vec<(&str, &str)> = Vec::with_capacity(params.len() + 3);
        form.push(("func", func));
        form.push(("out", self.inner.format.param()));
        form.extend_from_slice(params);
        form.push((auth.0, auth.1.expose_secret()));
        let timeout = self.timeout_for(params, idempotency);
        let doc = self.inner.limiter.run(self.send(&form, timeout)).await?;
        match doc.error() {
            Some(err) => Err(PanelError::from_mgr(&err.kind, &err.object, &err.message)),
            None => Ok(doc),
        }
    }

    /// The timeout of one call: a mutation's when it changes something (it carries `sok`, the
    /// mgr "commit" parameter, or creates something each time), a read's otherwise.
    fn timeout_for(
        &self,
        params: &[(&str, &str)],
        idempotency: Idempotency,
    ) -> std::time::Duration {
        let mutates = idempotency == Idempotency::NonIdempotent
            || params.iter().any(|(name, _)| *name == "sok");
        if mutates {
            self.inner.mutation_timeout
        } else {
            self.inner.read_timeout
        }
    }

    async fn send(
        &self,
        form: &[(&str, &str)],
        timeout: std::time::Duration,
    ) -> Result<Node, PanelError> {
        let response = self
            .inner
            .http
            .post(self.inner.endpoint.clone())
            .timeout(timeout)
            .form(form)
            .send()
            .await
            .map_err(|e| PanelError::from_reqwest(&e))?;
        if response.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            return Err(PanelError::Unavailable { status: 503 });
        }
        let (status, body) = read_body(response, self.inner.max_body).await?;
        if !status.is_success() {
            return Err(PanelError::Transport {
                message: format!("HTTP {status}"),
                maybe_applied: true,
            });
        }
        let body = String::from_utf8_lossy(&body);
        Node::parse(&body).map_err(|message| PanelError::Protocol { message })
    }
}

/// The panel an endpoint is, by its path's last segment (`ispmgr`, `vmmgr`, `billmgr`).
fn endpoint_path_label(endpoint: &reqwest::Url) -> String {
    endpoint
        .path_segments()
        .and_then(|mut segments| segments.rfind(|s| !s.is_empty()))
        .unwrap_or("mgr")
        .to_owned()
}
