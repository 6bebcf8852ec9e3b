//! Fault injection, per product and function: what a flaky network and a tired panel do.
//!
//! A [`FaultSpec`] is set for `(product, function)`; the function `*` matches every function
//! of the product. Counted faults (`unavailable`, `expire_session`, `drop_response`) are used
//! up one call at a time; `latency_ms` and `error_rate` stay until cleared.
//!
//! - `latency_ms`: added before the call is handled. Clearing the rule (or setting it without
//!   latency) lets calls that are waiting go on at once, so a test can hold a call in flight
//!   for as long as it needs, whatever the machine's load, and then release it.
//! - `error_rate`: probability (0..1) of an HTTP 502 proxy error page; nothing is applied.
//! - `unavailable`: the next N calls get HTTP 503; nothing is applied.
//! - `expire_session`: the next N calls find their session expired (an `auth` error for
//!   mgr, 401 for VMmanager 6), as if the panel had restarted.
//! - `drop_response`: the next N calls are applied, then the connection is cut before the
//!   answer arrives: the case that makes a naive client buy a license twice.
//! - `applied_unavailable`: the next N calls are applied, then answered HTTP 503, as a
//!   reverse proxy answers after an upstream reset that came after the panel did the work
//!   (reference §11, "HTTP 503 from a proxy").
//! - `no_id`: the next N calls are applied and answered with an empty document: neither `ok`,
//!   nor the new id, nor an error (reference §11, "success of a mutation"). A call the panel
//!   refuses still answers its error.
//! - `late_ms`: applied first, answered this many milliseconds later (a client whose timeout
//!   is shorter sees a lost answer after the call was applied). Stays until cleared.
//! - `login_failure`: the next N logins fail with a server error that is not about the
//!   credentials (VMmanager 6's "login sometimes fails; sleep and retry", reference §11).
//!   Set it on the token function (`vm6`/`auth.token`): like every counted fault it is used
//!   up by each call its rule matches, and only a login acts on it.
//!
//! Products consult [`Faults::on_call`] once per request and act on the [`Injected`] result;
//! [`unavailable_response`], [`proxy_error_response`] and [`dropped_response`] build the
//! transport-level answers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The faults of one `(product, function)`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultSpec {
    pub latency_ms: u64,
    pub error_rate: f64,
    pub unavailable: u32,
    pub expire_session: u32,
    pub drop_response: u32,
    pub applied_unavailable: u32,
    pub no_id: u32,
    pub late_ms: u64,
    pub login_failure: u32,
}

impl FaultSpec {
    /// No fault: the base of a spec written as a constant (`..FaultSpec::NONE`).
    pub const NONE: FaultSpec = FaultSpec {
        latency_ms: 0,
        error_rate: 0.0,
        unavailable: 0,
        expire_session: 0,
        drop_response: 0,
        applied_unavailable: 0,
        no_id: 0,
        late_ms: 0,
        login_failure: 0,
    };
}

/// A fault setting as the admin endpoint takes it: `{"product":"billmgr",
/// "function":"soft.order.param","drop_response":1}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    pub product: String,
    #[serde(default = "any_function")]
    pub function: String,
    #[serde(flatten)]
    pub spec: FaultSpec,
}

fn any_function() -> String {
    "*".to_owned()
}

/// The rule that applies to a call of `(product, function)`: the exact function's rule, else
/// the product's `*` rule (which may not exist either).
fn rule_key(
    rules: &BTreeMap<(String, String), FaultSpec>,
    product: &str,
    function: &str,
) -> (String, String) {
    let exact = (product.to_owned(), function.to_owned());
    if rules.contains_key(&exact) {
        exact
    } else {
        (product.to_owned(), any_function())
    }
}

/// What to do to one call.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Injected {
    pub latency: Duration,
    /// Answer 503 and do nothing else.
    pub unavailable: bool,
    /// Answer a 502 proxy page and do nothing else.
    pub proxy_error: bool,
    /// Treat the caller's session as expired.
    pub expire_session: bool,
    /// Apply the call, then cut the connection instead of answering.
    pub drop_response: bool,
    /// Apply the call, then answer 503.
    pub applied_unavailable: bool,
    /// Apply the call, then answer without `ok`, id or error.
    pub no_id: bool,
    /// Apply the call, then wait this long before answering.
    pub late: Duration,
    /// A login fails with a server error.
    pub login_failure: bool,
}

/// The fault table of a simulator. Clones share it.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    rules: Arc<Mutex<BTreeMap<(String, String), FaultSpec>>>,
    /// Bumped on every change of the table, to wake calls waiting out a latency.
    changed: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Faults {
    /// Sets (replaces) the faults of `(product, function)`.
    pub fn set(&self, product: &str, function: &str, spec: FaultSpec) {
        let mut rules = self.rules.lock().expect("faults lock");
        if spec == FaultSpec::default() {
            rules.remove(&(product.to_owned(), function.to_owned()));
        } else {
            rules.insert((product.to_owned(), function.to_owned()), spec);
        }
        drop(rules);
        self.changed.send_modify(|n| *n += 1);
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.rules.lock().expect("faults lock").clear();
        self.changed.send_modify(|n| *n += 1);
    }

    /// Waits out the `latency` that [`Faults::on_call`] gave a call of `(product, function)`,
    /// ending early once the table no longer asks that call to wait.
    pub async fn delay(&self, product: &str, function: &str, latency: Duration) {
        let until = tokio::time::Instant::now() + latency;
        let mut changed = self.changed.subscribe();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return,
                woke = changed.changed() => {
                    if woke.is_err() || self.latency_of(product, function).is_zero() {
                        return;
                    }
                }
            }
        }
    }

    /// The latency the table now sets for calls of `(product, function)`.
    fn latency_of(&self, product: &str, function: &str) -> Duration {
        let rules = self.rules.lock().expect("faults lock");
        let spec = rules.get(&rule_key(&rules, product, function));
        Duration::from_millis(spec.map_or(0, |s| s.latency_ms))
    }

    /// The current table.
    pub fn list(&self) -> Vec<FaultRule> {
        let rules = self.rules.lock().expect("faults lock");
        rules
            .iter()
            .map(|((product, function), spec)| FaultRule {
                product: product.clone(),
                function: function.clone(),
                spec: spec.clone(),
            })
            .collect()
    }

    /// Decides the faults of one call and uses up counted ones. The exact function's rule
    /// wins over the product's `*` rule.
    pub fn on_call(&self, product: &str, function: &str) -> Injected {
        let mut rules = self.rules.lock().expect("faults lock");
        let key = rule_key(&rules, product, function);
        let Some(spec) = rules.get_mut(&key) else {
            return Injected::default();
        };
        let take = |n: &mut u32| {
            let hit = *n > 0;
            if hit {
                *n -= 1;
            }
            hit
        };
        let mut injected = Injected {
            latency: Duration::from_millis(spec.latency_ms),
            late: Duration::from_millis(spec.late_ms),
            ..Injected::default()
        };
        if take(&mut spec.unavailable) {
            injected.unavailable = true;
        } else if spec.error_rate > 0.0 && rand::random_bool(spec.error_rate.clamp(0.0, 1.0)) {
            injected.proxy_error = true;
        } else {
            injected.expire_session = take(&mut spec.expire_session);
            injected.login_failure = take(&mut spec.login_failure);
            injected.drop_response = take(&mut spec.drop_response);
            if !injected.drop_response {
                injected.applied_unavailable = take(&mut spec.applied_unavailable);
            }
            if !injected.drop_response && !injected.applied_unavailable {
                injected.no_id = take(&mut spec.no_id);
            }
        }
        if *spec == FaultSpec::default() {
            rules.remove(&key);
        }
        injected
    }
}

/// HTTP 503, as a panel that is not taking requests answers.
pub fn unavailable_response() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [("retry-after", "1")],
        "503 Service Temporarily Unavailable\n",
    )
        .into_response()
}

/// HTTP 502 with an nginx-like page, as a fronting proxy answers when the panel fails.
pub fn proxy_error_response() -> Response {
    (
        StatusCode::BAD_GATEWAY,
        [("content-type", "text/html")],
        "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n",
    )
        .into_response()
}

/// A response whose body fails at once: the server closes the connection without a complete
/// answer, so the client sees a lost response after the change was applied.
pub fn dropped_response() -> Response {
    let stream = futures::stream::once(async {
        Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated lost response",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("content-length", "4096")
        .body(Body::from_stream(stream))
        .expect("static response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_are_used_up_and_exact_rules_win() {
        let faults = Faults::default();
        faults.set(
            "billmgr",
            "*",
            FaultSpec {
                unavailable: 1,
                ..Default::default()
            },
        );
        faults.set(
            "billmgr",
            "soft.order.param",
            FaultSpec {
                drop_response: 1,
                ..Default::default()
            },
        );
        assert!(faults.on_call("billmgr", "soft.order.param").drop_response);
        // The exact rule is used up and gone; the product rule applies now.
        assert!(faults.on_call("billmgr", "soft.order.param").unavailable);
        assert_eq!(
            faults.on_call("billmgr", "soft.order.param"),
            Injected::default()
        );
        assert!(faults.list().is_empty());
    }

    #[tokio::test]
    async fn a_held_call_goes_on_when_its_latency_is_cleared_and_not_before() {
        let faults = Faults::default();
        let hold = FaultSpec {
            latency_ms: 600_000,
            ..FaultSpec::NONE
        };
        faults.set("ispmgr", "user.add.finish", hold.clone());
        let latency = faults.on_call("ispmgr", "user.add.finish").latency;
        let waiting = {
            let faults = faults.clone();
            tokio::spawn(async move { faults.delay("ispmgr", "user.add.finish", latency).await })
        };
        // Another rule changing does not release it.
        faults.set("ispmgr", "user.edit", hold);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        faults.clear();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("released at once")
            .expect("no panic");
    }
}
