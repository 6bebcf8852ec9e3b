//! The REST core of VMmanager 6: token login, the `x-xsrf-token` header, re-login on 401,
//! patience while the instance wakes up (503), and error mapping (reference §4.2, §4.3).
//!
//! One request goes through three layers, innermost first:
//! 1. `exchange`: one HTTP round trip; a 503 is retried here with the documented linear sleep
//!    (0.1 s · attempt) because the panel answers 503 *instead of* processing the request
//!    while it resumes from suspension. Not for a create: a proxy in front of the panel
//!    answers 503 too, possibly after the panel applied the call (reference §11), so a 503
//!    on a create is an unknown outcome like a lost answer.
//! 2. `authorized`: adds the token, logs in when there is none, and on a 401 logs in again
//!    and repeats once (a 401 also means "not processed").
//!    The login itself is retried with a growing sleep while it fails transiently
//!    ([`LoginPolicy`], reference §11); only a credentials refusal is `Auth`.
//! 3. the shared [`RetryPolicy`] for transport failures, which never repeats a create whose
//!    answer was lost: that becomes `OutcomeUnknown` for the caller to look up.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Vm6Client;
use super::filter::Where;
use super::wire::{ErrorBody, TokenResponse};
use crate::panel::error::{Idempotency, PanelError};
use crate::panel::scrub::Scrub;
use crate::panel::transport::read_body;

/// The error code one public client treats as "token expired" (reference §4.3, uncertain);
/// honoured whatever the HTTP status, alongside 401.
const CODE_TOKEN_EXPIRED: i64 = 1000;

/// How patiently to wait for a suspended instance (reference §4.3: up to 10 retries,
/// sleeping 0.1 s · attempt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WakePolicy {
    /// Attempts in total while the panel answers 503.
    pub attempts: u32,
    /// Sleep before retry `n` is `n · step`.
    pub step: Duration,
}

impl Default for WakePolicy {
    fn default() -> Self {
        WakePolicy {
            attempts: 10,
            step: Duration::from_millis(100),
        }
    }
}

/// How patiently to log in (reference §11, "VMmanager 6 login"): the login "sometimes fails
/// with an error; sleep and retry" [S26 `VmManager6_Hosting.php`], and S16 retries 5 times on
/// a non-201 with a growing sleep. Only a clear credentials answer stops at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Logins in total while they fail transiently.
    pub attempts: u32,
    /// Sleep before retry `n` is `n · step`.
    pub step: Duration,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            attempts: 5,
            step: Duration::from_millis(200),
        }
    }
}

/// The error code of the login refusal ("Invalid email or password") the simulator and, per
/// the public clients' handling, the panel answer; with a 4xx status it is the one answer that
/// means "fix the Secret".
const CODE_LOGIN_FAILED: i64 = 1001;

/// What one failed login attempt means.
enum LoginFailure {
    /// The panel refused these credentials: repeating cannot help.
    Credentials(PanelError),
    /// Anything else (5xx, a timeout, a body that is not a credentials error): try again.
    Transient(PanelError),
}

/// A logged-in session. The token is a credential: kept secret, never logged.
pub(super) struct Session {
    pub token: SecretString,
    /// Bumped per login, so that concurrent 401s cause one login, not one each.
    pub generation: u64,
}

/// One request: what to send and how it may be repeated.
pub(super) struct Call<'a> {
    pub method: Method,
    pub path: &'a str,
    pub filter: Option<&'a Where>,
    pub body: Option<Value>,
    /// The name in logs, errors and `OutcomeUnknown` (`host.create`).
    pub operation: &'a str,
    pub idempotency: Idempotency,
}

impl<'a> Call<'a> {
    pub fn get(operation: &'a str, path: &'a str) -> Self {
        Call {
            method: Method::GET,
            path,
            filter: None,
            body: None,
            operation,
            idempotency: Idempotency::Idempotent,
        }
    }

    pub fn post(operation: &'a str, path: &'a str, body: impl Serialize) -> Self {
        Call {
            method: Method::POST,
            path,
            filter: None,
            body: Some(serde_json::to_value(body).unwrap_or_else(|_| json!({}))),
            operation,
            idempotency: Idempotency::Idempotent,
        }
    }

    pub fn delete(operation: &'a str, path: &'a str) -> Self {
        Call {
            method: Method::DELETE,
            ..Call::get(operation, path)
        }
    }

    pub fn filtered(mut self, filter: Option<&'a Where>) -> Self {
        self.filter = filter;
        self
    }

    /// Marks a call that creates something each time it is made.
    pub fn non_idempotent(mut self) -> Self {
        self.idempotency = Idempotency::NonIdempotent;
        self
    }
}

/// A raw answer.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

impl Vm6Client {
    /// Sends a call and decodes the JSON answer.
    /// Every error is scrubbed of secrets ([`crate::panel::scrub`]) before it leaves.
    pub(super) async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, PanelError> {
        let inner = &self.inner;
        let started = std::time::Instant::now();
        let result = inner
            .retry
            .run(call.operation, call.idempotency, |_| self.authorized(&call))
            .await
            .and_then(|value| {
                serde_json::from_value(value).map_err(|e| {
                    PanelError::Protocol {
                        message: format!("{}: unexpected JSON: {e}", call.operation),
                    }
                    // A create whose answer cannot be read may have been applied.
                    .for_call(call.operation, call.idempotency)
                })
            });
        let outcome = result
            .as_ref()
            .map_or_else(PanelError::outcome_label, |_| "ok");
        crate::telemetry::panel_call(&inner.label, call.operation, outcome, started.elapsed());
        match result {
            Ok(value) => Ok(value),
            Err(e) => {
                let mut scrub = self.scrub().await;
                if let Some(body) = &call.body {
                    scrub = scrub.json(body);
                }
                Err(e.scrubbed(&scrub))
            }
        }
    }

    /// The secrets this client knows of: the password and the current token.
    pub(super) async fn scrub(&self) -> Scrub {
        let scrub = Scrub::new().secret(self.inner.credentials.expose_password());
        match self.inner.session.lock().await.as_ref() {
            Some(session) => scrub.secret(session.token.expose_secret()),
            None => scrub,
        }
    }

    /// Logs in now (normally done lazily by the first call); returns the token id.
    pub async fn login(&self) -> Result<String, PanelError> {
        let mut session = self.inner.session.lock().await;
        let (token, id) = self.fetch_token().await.map_err(|e| {
            e.scrubbed(&Scrub::new().secret(self.inner.credentials.expose_password()))
        })?;
        let generation = session.as_ref().map_or(1, |s| s.generation + 1);
        *session = Some(Session { token, generation });
        Ok(id)
    }

    async fn authorized(&self, call: &Call<'_>) -> Result<Value, PanelError> {
        // A failed login means the call was never sent: safe to repeat even for a create.
        let not_sent = |e: PanelError| match call.idempotency {
            Idempotency::NonIdempotent => e.before_sending(),
            Idempotency::Idempotent => e,
        };
        let (token, generation) = self.current_token().await.map_err(not_sent)?;
        let answer = self.exchange(call, Some(&token)).await?;
        if !is_auth_failure(&answer) {
            return decode(call, answer);
        }
        tracing::debug!(
            operation = call.operation,
            "VMmanager 6 refused the token; logging in again"
        );
        let token = self.relogin(generation).await.map_err(not_sent)?;
        let answer = self.exchange(call, Some(&token)).await?;
        decode(call, answer)
    }

    async fn current_token(&self) -> Result<(SecretString, u64), PanelError> {
        let mut session = self.inner.session.lock().await;
        if let Some(s) = session.as_ref() {
            return Ok((s.token.clone(), s.generation));
        }
        let (token, _) = self.fetch_token().await?;
        *session = Some(Session {
            token: token.clone(),
            generation: 1,
        });
        Ok((token, 1))
    }

    /// Replaces the token that failed, unless another request already did.
    async fn relogin(&self, failed_generation: u64) -> Result<SecretString, PanelError> {
        let mut session = self.inner.session.lock().await;
        if let Some(s) = session.as_ref()
            && s.generation != failed_generation
        {
            return Ok(s.token.clone());
        }
        let (token, _) = self.fetch_token().await?;
        *session = Some(Session {
            token: token.clone(),
            generation: failed_generation + 1,
        });
        Ok(token)
    }

    /// `POST /auth/v4/public/token` → 201 `{"token","id"}`, retried with a growing sleep while
    /// it fails transiently ([`LoginPolicy`]). A credentials refusal is [`PanelError::Auth`]
    /// at once; a login that still fails transiently after the last attempt is a transport
    /// error that proves nothing was sent ([`PanelError::before_sending`] keeps it so), so the
    /// caller retries later instead of stalling on "fix the Secret".
    async fn fetch_token(&self) -> Result<(SecretString, String), PanelError> {
        let policy = self.inner.login;
        let mut attempt = 1;
        loop {
            match self.login_once().await {
                Ok(token) => return Ok(token),
                Err(LoginFailure::Credentials(e)) => return Err(e),
                // The wake policy already waited out the 503s of a suspended instance:
                // repeating that wait per login would multiply it.
                Err(LoginFailure::Transient(e @ PanelError::Unavailable { .. })) => {
                    return Err(e.before_sending());
                }
                Err(LoginFailure::Transient(e)) if attempt >= policy.attempts.max(1) => {
                    return Err(PanelError::Transport {
                        message: format!("logging in failed {attempt} times: {e}"),
                        maybe_applied: false,
                    });
                }
                Err(LoginFailure::Transient(e)) => {
                    tracing::debug!(attempt, error = %e, "VMmanager 6 login failed; retrying");
                    tokio::time::sleep(policy.step * attempt).await;
                    attempt += 1;
                }
            }
        }
    }

    /// One login attempt, classified.
    async fn login_once(&self) -> Result<(SecretString, String), LoginFailure> {
        let creds = &self.inner.credentials;
        let login = Call {
            method: Method::POST,
            path: "auth/v4/public/token",
            filter: None,
            body: Some(json!({"email": creds.username(), "password": creds.expose_password()})),
            operation: "auth.token",
            idempotency: Idempotency::Idempotent,
        };
        // Transport failures and 503s the wake policy gave up on are transient.
        let answer = self
            .exchange(&login, None)
            .await
            .map_err(LoginFailure::Transient)?;
        if !answer.status.is_success() {
            let body = error_body(&answer);
            let status = answer.status.as_u16();
            let message = body
                .as_ref()
                .map(|e| e.msg.clone())
                .unwrap_or_else(|| format!("login answered HTTP {status}"));
            // A clear credentials answer: the login-failed code, or a 4xx refusal other than
            // "too early / too many" (408, 429). Which code a real panel sends for a wrong
            // password is not documented (reference §4.3); both readings end here.
            let refused = body.as_ref().is_some_and(|e| e.code == CODE_LOGIN_FAILED)
                || ((400..500).contains(&status) && !matches!(status, 408 | 429));
            return Err(if refused {
                LoginFailure::Credentials(PanelError::Auth { message })
            } else {
                LoginFailure::Transient(PanelError::Transport {
                    message: format!("login answered HTTP {status}: {message}"),
                    maybe_applied: false,
                })
            });
        }
        if answer.status != StatusCode::CREATED {
            // The reference documents 201; accept any 2xx carrying a token (§8: both readings).
            tracing::debug!(
                status = answer.status.as_u16(),
                "VMmanager 6 login answered without 201"
            );
        }
        // A 2xx without a usable token is a panel mid-way, not a refusal: transient.
        let token: TokenResponse = serde_json::from_slice(&answer.body).map_err(|e| {
            LoginFailure::Transient(PanelError::Protocol {
                message: format!("login answer has no token: {e}"),
            })
        })?;
        if token.token.is_empty() {
            return Err(LoginFailure::Transient(PanelError::Protocol {
                message: "login answer has an empty token".into(),
            }));
        }
        tracing::debug!(token_id = %token.id, "logged in to VMmanager 6");
        Ok((SecretString::from(token.token), token.id))
    }

    /// One round trip, repeated while the instance answers 503.
    async fn exchange(
        &self,
        call: &Call<'_>,
        token: Option<&SecretString>,
    ) -> Result<Answer, PanelError> {
        let inner = &self.inner;
        let mut url = inner
            .base
            .join(call.path)
            .map_err(|e| PanelError::Protocol {
                message: format!("bad path {}: {e}", call.path),
            })?;
        if let Some(filter) = call.filter {
            url.set_query(Some(&format!("where={}", filter.to_query_value())));
        }
        // A mutation may take longer than a read before its answer counts as lost; the
        // login is a read (it changes nothing the caller could look up).
        let timeout = if call.method == Method::GET || token.is_none() {
            inner.read_timeout
        } else {
            inner.mutation_timeout
        };
        let mut attempt = 1;
        loop {
            let mut request = inner
                .http
                .request(call.method.clone(), url.clone())
                .timeout(timeout);
            if let Some(token) = token {
                let token = token.expose_secret();
                request = request
                    .header("x-xsrf-token", token)
                    .header(reqwest::header::COOKIE, format!("ses6={token}"));
            }
            if let Some(body) = &call.body {
                request = request.json(body);
            }
            let sent = inner.limiter.run(async {
                let response = request
                    .send()
                    .await
                    .map_err(|e| PanelError::from_reqwest(&e))?;
                let (status, body) = read_body(response, inner.max_body).await?;
                Ok::<_, PanelError>(Answer { status, body })
            });
            let answer = sent.await?;
            tracing::debug!(
                operation = call.operation,
                method = %call.method,
                path = call.path,
                status = answer.status.as_u16(),
                attempt,
                "VMmanager 6 call"
            );
            if answer.status != StatusCode::SERVICE_UNAVAILABLE {
                return Ok(answer);
            }
            // A 503 may come from a proxy after an upstream reset that happened after the
            // panel applied the call (reference §11): a create is not repeated on it; the
            // retry layer turns this into `OutcomeUnknown` and the caller looks first.
            if call.idempotency == Idempotency::NonIdempotent || attempt >= inner.wake.attempts {
                return Err(PanelError::Unavailable { status: 503 });
            }
            tokio::time::sleep(inner.wake.step * attempt).await;
            attempt += 1;
        }
    }
}

fn error_body(answer: &Answer) -> Option<super::wire::ApiError> {
    serde_json::from_slice::<ErrorBody>(&answer.body)
        .ok()
        .map(|b| b.error)
}

fn is_auth_failure(answer: &Answer) -> bool {
    answer.status == StatusCode::UNAUTHORIZED
        || (!answer.status.is_success()
            && error_body(answer).is_some_and(|e| e.code == CODE_TOKEN_EXPIRED))
}

/// Success → the JSON body (`{}` when empty); failure → the typed error.
fn decode(call: &Call<'_>, answer: Answer) -> Result<Value, PanelError> {
    if answer.status.is_success() {
        if answer.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(json!({}));
        }
        return serde_json::from_slice(&answer.body).map_err(|e| PanelError::Protocol {
            message: format!("{}: answer is not JSON: {e}", call.operation),
        });
    }
    Err(map_error(call, answer.status, error_body(&answer)))
}

/// Maps a failing answer to the crate's error, by HTTP status first (what the public clients
/// rely on) and message second; the numeric code is kept in `Other` only.
pub(super) fn map_error(
    call: &Call<'_>,
    status: StatusCode,
    error: Option<super::wire::ApiError>,
) -> PanelError {
    let Some(error) = error else {
        return match status.as_u16() {
            // A proxy in front of the panel: the request may or may not have arrived.
            502 | 504 => PanelError::Transport {
                message: format!("{}: HTTP {} from a proxy", call.operation, status.as_u16()),
                maybe_applied: true,
            },
            code => PanelError::Protocol {
                message: format!("{}: HTTP {code} without an error body", call.operation),
            },
        };
    };
    let object = error
        .value
        .get("field")
        .or_else(|| error.value.get("property"))
        .and_then(Value::as_str)
        .unwrap_or(call.operation)
        .to_owned();
    let message = error.msg.clone();
    match status.as_u16() {
        401 => PanelError::Auth { message },
        403 => PanelError::Access { object, message },
        _ if error.code == 3001 => PanelError::Access { object, message },
        404 => PanelError::Missed { object, message },
        400 | 409 if message.to_lowercase().contains("exist") => {
            PanelError::Exists { object, message }
        }
        400 | 422 => PanelError::Value { object, message },
        _ => PanelError::Other {
            kind: format!("vm6 {}/{}", status.as_u16(), error.code),
            object,
            message,
        },
    }
}
