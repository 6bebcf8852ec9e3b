//! The one error type of every panel client.
//!
//! Why typed: the controller maps panel answers to states ("already exists" means look it up,
//! "not found" on delete means gone, "auth" means the Secret is wrong and only a spec or Secret
//! change helps), and decides retries from the variant, never from message text. Unknown error
//! types are kept verbatim so that nothing the panel said is lost.

use std::fmt;

/// What went wrong in a conversation with a panel.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PanelError {
    /// mgr `exists` (or `exist`): the object is already there.
    #[error("{}", mgr_text("exists", object, message))]
    Exists { object: String, message: String },
    /// mgr `missed`: the object (or a required argument) is not there.
    #[error("{}", mgr_text("missed", object, message))]
    Missed { object: String, message: String },
    /// mgr `value`: a parameter has a value the panel refuses (`object` names the parameter).
    #[error("{}", mgr_text("value", object, message))]
    Value { object: String, message: String },
    /// mgr `auth`: bad credentials or an expired session. Never retried blindly.
    #[error("panel refused the credentials: {message}")]
    Auth { message: String },
    /// mgr `access`: authenticated, but not allowed to do this.
    #[error("{}", mgr_text("access", object, message))]
    Access { object: String, message: String },
    /// mgr `client`: BILLmanager's "the customer's side is wrong" (e.g. an empty balance).
    #[error("{}", mgr_text("client", object, message))]
    Client { object: String, message: String },
    /// Any other mgr error type, kept verbatim.
    #[error("{}", mgr_text(kind, object, message))]
    Other {
        kind: String,
        object: String,
        message: String,
    },
    /// The request did not complete at the transport level: connection refused, timeout, a
    /// proxy error page, a truncated body. `maybe_applied` is false only when the request
    /// certainly never reached the panel (connect failure).
    #[error("transport error: {message}")]
    Transport {
        message: String,
        maybe_applied: bool,
    },
    /// HTTP 503: the panel (or the VMmanager 6 instance waking up) did not take the request,
    /// or a proxy in front of it lost the upstream, possibly after the panel applied the call
    /// (reference §11). So it is retried for idempotent calls only, and is an unknown
    /// outcome for a create, an order or a prolongation.
    #[error("panel unavailable (HTTP {status})")]
    Unavailable { status: u16 },
    /// A non-idempotent call (an order, a create) was sent but its answer was lost. The
    /// change may or may not have happened: look it up (by `remoteid`, username, name)
    /// before trying again. The client never repeats such a call by itself.
    #[error("outcome of {operation} is unknown ({cause}); look the object up before retrying")]
    OutcomeUnknown { operation: String, cause: String },
    /// A VMmanager 6 task ended in `fail`, or (`timed_out`) was still running when the client
    /// stopped waiting; a timed-out task may still complete, so look again before redoing it.
    #[error(
        "task {name} ({id}) {}: {message}",
        if *timed_out { "did not finish in time" } else { "failed" }
    )]
    Task {
        name: String,
        id: u64,
        timed_out: bool,
        message: String,
    },
    /// The panel answered with something that is not a panel document.
    #[error("unexpected answer from the panel: {message}")]
    Protocol { message: String },
}

fn mgr_text(kind: &str, object: &str, message: &str) -> String {
    match (object.is_empty(), message.is_empty()) {
        (true, true) => format!("panel error {kind}"),
        (true, false) => format!("panel error {kind}: {message}"),
        (false, true) => format!("panel error {kind} ({object})"),
        (false, false) => format!("panel error {kind} ({object}): {message}"),
    }
}

/// Whether repeating a call cannot change the outcome (reads, edits to given values, deletes)
/// or may (creates, orders, prolongations: each costs or makes something new).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    Idempotent,
    NonIdempotent,
}

impl PanelError {
    /// A short, bounded name of the error's kind, for metrics.
    pub fn outcome_label(&self) -> &'static str {
        match self {
            Self::Exists { .. } => "exists",
            Self::Missed { .. } => "missed",
            Self::Value { .. } => "value",
            Self::Auth { .. } => "auth",
            Self::Access { .. } => "access",
            Self::Client { .. } => "client",
            Self::Other { .. } => "other",
            Self::Transport { .. } => "transport",
            Self::Unavailable { .. } => "unavailable",
            Self::OutcomeUnknown { .. } => "outcome_unknown",
            Self::Task { .. } => "task",
            Self::Protocol { .. } => "protocol",
        }
    }

    /// Builds the typed error from an mgr `(type, object, msg)` triple.
    pub fn from_mgr(kind: &str, object: &str, message: &str) -> Self {
        let (object, message) = (object.to_owned(), message.to_owned());
        match kind {
            "exists" | "exist" => Self::Exists { object, message },
            "missed" => Self::Missed { object, message },
            "value" => Self::Value { object, message },
            "auth" => Self::Auth { message },
            "access" => Self::Access { object, message },
            "client" => Self::Client { object, message },
            _ => Self::Other {
                kind: kind.to_owned(),
                object,
                message,
            },
        }
    }

    /// The mgr error type this error stands for, if it came from the panel.
    pub fn mgr_kind(&self) -> Option<&str> {
        Some(match self {
            Self::Exists { .. } => "exists",
            Self::Missed { .. } => "missed",
            Self::Value { .. } => "value",
            Self::Auth { .. } => "auth",
            Self::Access { .. } => "access",
            Self::Client { .. } => "client",
            Self::Other { kind, .. } => kind,
            _ => return None,
        })
    }

    /// The mgr error object (`user`, `elid`, `passwd` …), if any.
    pub fn mgr_object(&self) -> Option<&str> {
        match self {
            Self::Exists { object, .. }
            | Self::Missed { object, .. }
            | Self::Value { object, .. }
            | Self::Access { object, .. }
            | Self::Client { object, .. }
            | Self::Other { object, .. } => Some(object),
            _ => None,
        }
    }

    /// A transport-level failure (the only kind the retry helper ever repeats).
    pub fn is_transport(&self) -> bool {
        matches!(self, Self::Transport { .. } | Self::Unavailable { .. })
    }

    /// Whether repeating the call is safe and may help: transport failures of idempotent
    /// calls, and failures that certainly left the panel untouched (connect errors, a login
    /// that failed before the call was sent). Not a 503 of a non-idempotent call: a proxy
    /// answers 503 after an upstream reset, which may come after the panel applied it.
    pub fn is_retryable(&self, idempotency: Idempotency) -> bool {
        match self {
            Self::Unavailable { .. } => idempotency == Idempotency::Idempotent,
            Self::Transport { maybe_applied, .. } => {
                !maybe_applied || idempotency == Idempotency::Idempotent
            }
            _ => false,
        }
    }

    /// Turns a failure of a non-idempotent call into [`PanelError::OutcomeUnknown`] when the
    /// change may have been applied (lost, unreadable or id-less answer, timeout, 502/503/504);
    /// everything else is returned as is.
    pub fn for_call(self, operation: &str, idempotency: Idempotency) -> Self {
        match self {
            Self::Unavailable { status } if idempotency == Idempotency::NonIdempotent => {
                Self::OutcomeUnknown {
                    operation: operation.to_owned(),
                    cause: format!("HTTP {status}, possibly from a proxy after the panel took it"),
                }
            }
            Self::Transport {
                message,
                maybe_applied: true,
            }
            | Self::Protocol { message }
                if idempotency == Idempotency::NonIdempotent =>
            {
                Self::OutcomeUnknown {
                    operation: operation.to_owned(),
                    cause: message,
                }
            }
            other => other,
        }
    }

    /// A failure while logging in, before the call itself was sent: whatever it was, the call
    /// cannot have been applied, so it may be repeated even when it creates something.
    /// Refused credentials stay [`PanelError::Auth`] (repeating does not help).
    pub fn before_sending(self) -> Self {
        match self {
            e @ (Self::Transport { .. } | Self::Unavailable { .. } | Self::Protocol { .. }) => {
                Self::Transport {
                    message: format!("logging in: {e}"),
                    maybe_applied: false,
                }
            }
            other => other,
        }
    }

    /// An answer to a create, order or prolongation that says neither "done" (`ok`, the new
    /// id, the new date) nor what went wrong: it may have been applied (reference §11).
    pub fn unconfirmed(operation: &str, what: &str) -> Self {
        Self::OutcomeUnknown {
            operation: operation.to_owned(),
            cause: format!("the answer has no {what}"),
        }
    }

    /// Classifies a reqwest failure. Only connect errors prove the request never left.
    pub fn from_reqwest(e: &reqwest::Error) -> Self {
        Self::Transport {
            message: describe_reqwest(e),
            maybe_applied: !e.is_connect(),
        }
    }
}

/// A one-line description of a reqwest error with its causes, without the URL (URLs carry
/// no secrets here, but they do carry hostnames that make messages noisy in status).
fn describe_reqwest(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "response body lost"
    } else {
        "request failed"
    };
    let mut text = what.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl fmt::Display for Idempotency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Idempotent => "idempotent",
            Self::NonIdempotent => "non-idempotent",
        })
    }
}
