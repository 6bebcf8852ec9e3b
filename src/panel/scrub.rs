//! Secrets out of panel error text, before it reaches a status field, an event or a log line.
//!
//! Why: panels echo what they were sent. An mgr error message may quote the request
//! (`authinfo=root:PW`), a `value` error on `passwd` may quote the password, a proxy page may
//! show a session id, and a VMmanager 6 error may quote the JSON body. The controller copies
//! `PanelError`'s text into `status.conditions`, `status.lastError` and events, which everyone
//! with read access to the namespace sees. So every error leaves a client through
//! [`PanelError::scrubbed`] (in `MgrClient::call`, `Vm6Client::call` and `Vm6Client::login`):
//! the secrets the client knows (the module's password, `LOGIN:PASSWORD`, the session id or
//! token, the call's own secret parameters) are replaced literally, and anything that looks
//! like a credential (`authinfo=…`, `password=…`, `"token":"…"`, `user:pass@` in a URL) is
//! replaced by its shape, whoever it belonged to.

use std::sync::LazyLock;

use regex::Regex;

use super::error::PanelError;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not replaced literally: a one-letter password would turn
/// every message into confetti. The patterns below still catch them in `name=value` form.
const MIN_LITERAL: usize = 4;

/// Parameter names (form fields, JSON keys) whose values are secrets.
const SECRET_NAMES: &str =
    "authinfo|auth|password|passwd|confirm|new_password|key|token|ses6|session|sessionid";

static FORM_VALUE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r#"(?i)\b({SECRET_NAMES})=[^&\s"'<>]+"#)).expect("regex"));
static JSON_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"(?i)"({SECRET_NAMES})"\s*:\s*"(?:[^"\\]|\\.)*""#
    ))
    .expect("regex")
});
static URL_USERINFO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@").expect("regex"));
static HEADER_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(x-xsrf-token|authorization|cookie)\s*:\s*[^\s,;]+").expect("regex")
});

/// The secrets of one call, and the scrubbing of text with them.
#[derive(Default)]
pub struct Scrub {
    secrets: Vec<String>,
}

impl Scrub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret to replace wherever it appears.
    pub fn secret(mut self, secret: &str) -> Self {
        if secret.chars().count() >= MIN_LITERAL && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_owned());
        }
        self
    }

    /// Adds the values of the secret-named parameters of a form (`passwd`, `confirm`, …).
    pub fn form(mut self, params: &[(&str, &str)]) -> Self {
        for (name, value) in params {
            if is_secret_name(name) {
                self = self.secret(value);
            }
        }
        self
    }

    /// Adds the string values under secret-named keys of a JSON body (`password`, …).
    pub fn json(mut self, value: &serde_json::Value) -> Self {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    match v {
                        serde_json::Value::String(s) if is_secret_name(key) => {
                            self = self.secret(s);
                        }
                        other => self = self.json(other),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    self = self.json(item);
                }
            }
            _ => {}
        }
        self
    }

    /// `text` without the known secrets and without anything shaped like a credential.
    pub fn text(&self, text: &str) -> String {
        // Longest first, so a secret that contains another is replaced whole.
        let mut secrets: Vec<&String> = self.secrets.iter().collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut out = text.to_owned();
        for secret in secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        let out = FORM_VALUE.replace_all(&out, format!("${{1}}={REDACTED}"));
        let out = JSON_VALUE.replace_all(&out, format!(r#""${{1}}":"{REDACTED}""#));
        let out = URL_USERINFO.replace_all(&out, format!("${{1}}{REDACTED}@"));
        let out = HEADER_VALUE.replace_all(&out, format!("${{1}}: {REDACTED}"));
        out.into_owned()
    }
}

fn is_secret_name(name: &str) -> bool {
    SECRET_NAMES
        .split('|')
        .any(|s| s.eq_ignore_ascii_case(name))
}

impl PanelError {
    /// The same error with every text field scrubbed (see the module documentation).
    pub fn scrubbed(self, scrub: &Scrub) -> Self {
        let s = |t: String| scrub.text(&t);
        match self {
            Self::Exists { object, message } => Self::Exists {
                object: s(object),
                message: s(message),
            },
            Self::Missed { object, message } => Self::Missed {
                object: s(object),
                message: s(message),
            },
            Self::Value { object, message } => Self::Value {
                object: s(object),
                message: s(message),
            },
            Self::Auth { message } => Self::Auth {
                message: s(message),
            },
            Self::Access { object, message } => Self::Access {
                object: s(object),
                message: s(message),
            },
            Self::Client { object, message } => Self::Client {
                object: s(object),
                message: s(message),
            },
            Self::Other {
                kind,
                object,
                message,
            } => Self::Other {
                kind: s(kind),
                object: s(object),
                message: s(message),
            },
            Self::Transport {
                message,
                maybe_applied,
            } => Self::Transport {
                message: s(message),
                maybe_applied,
            },
            Self::Unavailable { status } => Self::Unavailable { status },
            Self::OutcomeUnknown { operation, cause } => Self::OutcomeUnknown {
                operation,
                cause: s(cause),
            },
            Self::Task {
                name,
                id,
                timed_out,
                message,
            } => Self::Task {
                name,
                id,
                timed_out,
                message: s(message),
            },
            Self::Protocol { message } => Self::Protocol {
                message: s(message),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_secrets_and_credential_shapes_are_replaced() {
        let scrub = Scrub::new()
            .secret("Adm1n-S3cret")
            .secret("root:Adm1n-S3cret")
            .form(&[("passwd", "Cl13nt-Pw"), ("name", "client42")]);
        let text = scrub.text(
            "bad request authinfo=root:Adm1n-S3cret&func=user for client42 with Cl13nt-Pw; \
             other=auth=abc123 see https://admin:pw@panel:1500/x {\"token\": \"t0k3n\"} \
             x-xsrf-token: deadbeef and Adm1n-S3cret again",
        );
        for leaked in [
            "Adm1n-S3cret",
            "Cl13nt-Pw",
            "abc123",
            "admin:pw",
            "t0k3n",
            "deadbeef",
        ] {
            assert!(!text.contains(leaked), "{leaked} in {text}");
        }
        assert!(text.contains("client42"), "{text}");
        assert!(text.contains("authinfo=[redacted]"), "{text}");
    }

    #[test]
    fn short_secrets_do_not_shred_messages_and_plain_text_is_kept() {
        let scrub = Scrub::new().secret("x").form(&[("passwd", "x")]);
        let text = "the password is too weak: use more characters";
        assert_eq!(scrub.text(text), text);
        assert_eq!(scrub.text("passwd=x"), "passwd=[redacted]");
    }

    #[test]
    fn json_bodies_give_their_secrets() {
        let body = serde_json::json!({"name": "h", "password": "R00t-Pass", "nested": [{"token": "abcd-efgh"}]});
        let scrub = Scrub::new().json(&body);
        assert_eq!(
            scrub.text("R00t-Pass and abcd-efgh and h"),
            "[redacted] and [redacted] and h"
        );
    }

    #[test]
    fn every_variant_is_scrubbed() {
        let scrub = Scrub::new().secret("S3cr3t!!");
        let e = PanelError::from_mgr("value", "passwd", "S3cr3t!! is weak").scrubbed(&scrub);
        assert!(!e.to_string().contains("S3cr3t!!"), "{e}");
        let e = PanelError::OutcomeUnknown {
            operation: "user.add.finish".into(),
            cause: "invalid JSON: authinfo=root:S3cr3t!!".into(),
        }
        .scrubbed(&scrub);
        assert!(!e.to_string().contains("S3cr3t"), "{e}");
    }
}
