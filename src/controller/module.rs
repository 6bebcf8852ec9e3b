//! The ProcessingModule reconciler: judges the module, builds its client from the Secrets,
//! checks the connection on an interval and reports what a person needs to act on.
//!
//! The check logs in and counts what the panel holds (ispmanager users, VMmanager servers,
//! licenses), so `kubectl get pm -o wide` shows a working connection at a glance, and placement
//! skips modules whose last check failed ([`super::panels::Panels::healthy`]).
//!
//! Why checks are scheduled here rather than on every reconcile: a module is reconciled on
//! every event of its services and of its own status, and a panel call per event would both
//! load the panel and rewrite `lastCheckTime` endlessly. A check runs when it is due (the
//! interval, with jitter), when something it depends on changed (spec generation, a Secret, the
//! `reconcile-requested-at` annotation), or after a failure's backoff; otherwise the last
//! result is re-applied and nothing is written.
//!
//! Why bad credentials are `Failed` (retried with backoff), not `Stalled`: `Stalled` means only
//! a spec change helps, and fixing a Secret is not a spec change. The Secret watch of
//! [`super::run`] triggers a check as soon as the Secret changes anyway.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::conditions::{self, Verdict};
use super::context::{self, Context};
use super::panels::{self, CheckMemo, Findings, PanelClient, SetupError};
use super::{Error, judge, observe_annotations};
use crate::api::common::LastError;
use crate::api::{ProcessingModule, RECONCILE_REQUESTED_AT_ANNOTATION};
use crate::controller::reason::Reason;
use crate::panel::PanelError;
use crate::panel::licensing::LicenseStatus;

/// The longest a connection check may take; a panel that answers slower than this is
/// reported as `Timeout` rather than holding a reconcile worker.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn reconcile(module: Arc<ProcessingModule>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = module.namespace().unwrap_or_default();
    let name = module.name_any();
    let key = panels::key(&ns, &name);
    forget_deleted(&ctx);

    let generation = module.metadata.generation;
    let requested = module
        .annotations()
        .get(RECONCILE_REQUESTED_AT_ANNOTATION)
        .cloned();
    let now = Instant::now();
    let previous = ctx.panels.last_check(&key);
    let problems = judge::problems(&*module, related(&ctx, &ns, &name));

    let memo = if !problems.is_empty() {
        CheckMemo {
            build: 0,
            generation,
            requested: requested.clone(),
            next_check: now,
            failures: 0,
            verdict: Verdict::Stalled {
                reason: Reason::InvalidSpec,
                message: problems.join("; "),
            },
            findings: Findings {
                last_error: None,
                ..kept(previous.as_ref(), &module)
            },
        }
    } else {
        match ctx.panels.resolve(&ctx.client, &module).await {
            Err(SetupError::Kube(e)) => return Err(Error::Kube(e)),
            Err(e) => {
                let verdict = setup_verdict(&module, &e);
                let repeated = previous.as_ref().is_some_and(|m| {
                    m.verdict == verdict && !due(Some(m), 0, generation, requested.as_deref(), now)
                });
                match previous {
                    // The same failure seen again before its retry is due: nothing new.
                    Some(m) if repeated => m,
                    _ => failed_memo(
                        previous.as_ref(),
                        &module,
                        0,
                        verdict,
                        None,
                        ctx.panels.check_interval(),
                        now,
                    ),
                }
            }
            Ok((client, build)) => match previous {
                Some(m) if !due(Some(&m), build, generation, requested.as_deref(), now) => m,
                _ => {
                    let memo = check(&ctx, &key, &module, &client, build, previous.as_ref()).await;
                    tracing::info!(
                        module = %key,
                        healthy = memo.healthy(),
                        reason = memo.verdict.reason().as_str(),
                        "checked the panel connection"
                    );
                    memo
                }
            },
        }
    };
    ctx.panels.record_check(&key, memo.clone());

    let mut status = module.status.clone().unwrap_or_default();
    conditions::apply(
        &mut status.common,
        &memo.verdict,
        generation,
        &ctx.timestamp(),
    );
    observe_annotations(&module.metadata, &mut status.common);
    crate::controller::metrics::judged("ProcessingModule", &memo.verdict);
    status.common.last_error = memo.findings.last_error.clone();
    status.account_count = memo.findings.account_count;
    status.panel_version = memo.findings.panel_version.clone();
    status.last_check_time = memo.findings.last_check_time.clone();
    status.service_count = Some(service_count(&ctx, &ns, &name));

    let api: Api<ProcessingModule> = Api::namespaced(ctx.client.clone(), &ns);
    if super::status::write(&api, &name, module.status.as_ref(), &status).await? {
        super::announce(
            &ctx,
            &*module,
            module.status.as_ref().map(|s| &s.common),
            &memo.verdict,
        )
        .await;
    }
    Ok(match memo.verdict {
        Verdict::Stalled { .. } => Action::await_change(),
        _ => Action::requeue(
            memo.next_check
                .saturating_duration_since(Instant::now())
                .max(Duration::from_secs(1)),
        ),
    })
}

/// Whether a check must run now: never checked, a new client (URL, TLS, Secret changed), a
/// new generation, a new `reconcile-requested-at`, or the scheduled time has come.
pub fn due(
    memo: Option<&CheckMemo>,
    build: u64,
    generation: Option<i64>,
    requested: Option<&str>,
    now: Instant,
) -> bool {
    match memo {
        None => true,
        Some(m) => {
            m.build != build
                || m.generation != generation
                || m.requested.as_deref() != requested
                || now >= m.next_check
        }
    }
}

/// The interval with ±10% jitter (`unit` in [0, 1)), so that modules created together do not
/// hit their panels together forever.
pub fn jittered(interval: Duration, unit: f64) -> Duration {
    interval.mul_f64(0.9 + 0.2 * unit.clamp(0.0, 1.0))
}

/// The wait after the `failures`-th failure in a row: the controller's exponential backoff,
/// never longer than the interval of a healthy module.
pub fn retry_after(failures: u32, interval: Duration, unit: f64) -> Duration {
    context::backoff(failures, unit).min(jittered(interval, unit))
}

fn unit() -> f64 {
    rand::random_range(0.0..1.0)
}

/// Runs the connection check and turns its outcome into a memo.
async fn check(
    ctx: &Context,
    key: &str,
    module: &ProcessingModule,
    client: &PanelClient,
    build: u64,
    previous: Option<&CheckMemo>,
) -> CheckMemo {
    let interval = ctx.panels.check_interval();
    let now = Instant::now();
    let outcome = tokio::time::timeout(CHECK_TIMEOUT, probe(client)).await;
    let checked_at = ctx.timestamp();
    let url = &module.spec.url;
    let (verdict, observation) = match outcome {
        Ok(Ok(observation)) => {
            let mut message = observation.summary.clone();
            if let Some(note) = server_name_note(module) {
                message.push_str(&format!(" ({note})"));
            }
            let verdict = Verdict::Ready {
                reason: Reason::Connected,
                message,
            };
            (verdict, Some(observation))
        }
        Ok(Err(e)) => {
            let (reason, message) = failure(&e, url, &module.spec.credentials_secret_ref.name);
            let message = match (reason, server_name_note(module)) {
                (Reason::TlsError, Some(note)) => format!("{message} ({note})"),
                _ => message,
            };
            let message = ctx.panels.scrub(key, &message);
            let verdict = Verdict::Failed { reason, message };
            (verdict, None)
        }
        Err(_) => {
            let verdict = Verdict::Failed {
                reason: Reason::Timeout,
                message: format!(
                    "{url} did not complete the connection check within {} s",
                    CHECK_TIMEOUT.as_secs()
                ),
            };
            (verdict, None)
        }
    };
    match observation {
        Some(o) => CheckMemo {
            build,
            generation: module.metadata.generation,
            requested: requested_of(module),
            next_check: now + jittered(interval, unit()),
            failures: 0,
            verdict,
            findings: Findings {
                account_count: Some(o.accounts),
                panel_version: o.version,
                last_check_time: Some(checked_at),
                last_error: None,
            },
        },
        None => failed_memo(
            previous,
            module,
            build,
            verdict,
            Some(checked_at),
            interval,
            now,
        ),
    }
}

/// A memo for a failed attempt: one more failure in a row, the next attempt after backoff,
/// `lastError` saying so. `checked_at` is when the panel was contacted (`lastCheckTime`), if
/// it was.
fn failed_memo(
    previous: Option<&CheckMemo>,
    module: &ProcessingModule,
    build: u64,
    verdict: Verdict,
    checked_at: Option<String>,
    interval: Duration,
    now: Instant,
) -> CheckMemo {
    let failures = previous
        .filter(|m| m.failures > 0)
        .map_or(0, |m| m.failures)
        .saturating_add(1);
    let wait = retry_after(failures, interval, unit());
    let message = match &verdict {
        Verdict::Failed { message, .. } | Verdict::Stalled { message, .. } => message.clone(),
        _ => String::new(),
    };
    let next_attempt_at = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::try_from(wait).unwrap_or_default())
        .ok()
        .map(|t| t.to_string());
    let mut findings = kept(previous, module);
    if checked_at.is_some() {
        findings.last_check_time = checked_at;
    }
    findings.last_error = Some(LastError {
        message,
        attempts: failures,
        next_attempt_at,
    });
    CheckMemo {
        build,
        generation: module.metadata.generation,
        requested: requested_of(module),
        next_check: now + wait,
        failures,
        verdict,
        findings,
    }
}

/// The findings of the last successful check (counts stay as last seen while the panel
/// cannot be asked), from memory or, after a restart, from the object's status.
fn kept(previous: Option<&CheckMemo>, module: &ProcessingModule) -> Findings {
    match previous {
        Some(m) => m.findings.clone(),
        None => {
            let status = module.status.clone().unwrap_or_default();
            Findings {
                account_count: status.account_count,
                panel_version: status.panel_version,
                last_check_time: status.last_check_time,
                last_error: status.common.last_error,
            }
        }
    }
}

fn requested_of(module: &ProcessingModule) -> Option<String> {
    module
        .annotations()
        .get(RECONCILE_REQUESTED_AT_ANNOTATION)
        .cloned()
}

/// What a successful check learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// Users (ispmanager), servers (VMmanager) or licenses (licensing) at the panel.
    pub accounts: u32,
    /// The panel's version, where its API reports one (none of the current ones does).
    pub version: Option<String>,
    /// One sentence for the Ready message.
    pub summary: String,
}

/// Logs in and counts, with the calls the controller itself depends on: a module that passes
/// can list what the service reconcilers will look up.
pub async fn probe(client: &PanelClient) -> Result<Observation, PanelError> {
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(match client {
        PanelClient::IspManager(isp) => {
            let me = isp.whoami().await?;
            let users = count(isp.users().await?.len());
            Observation {
                accounts: users,
                version: None,
                summary: format!("logged in as {}; {users} users on the panel", me.name),
            }
        }
        PanelClient::VmManager5(vm) => {
            let owners = count(vm.users().await?.len());
            let servers = count(vm.vms().await?.len());
            Observation {
                accounts: servers,
                version: None,
                summary: format!(
                    "logged in to VMmanager 5; {servers} servers, {owners} accounts on the panel"
                ),
            }
        }
        PanelClient::VmManager6(vm) => {
            vm.login().await?;
            let servers = count(vm.list_hosts(None).await?.len());
            Observation {
                accounts: servers,
                version: None,
                summary: format!("logged in to VMmanager 6; {servers} servers on the panel"),
            }
        }
        PanelClient::Licensing(lic) => {
            // Deleted licenses stay listed for a while; they are no longer the account's.
            let licenses = count(
                lic.licenses()
                    .await?
                    .iter()
                    .filter(|l| l.status != LicenseStatus::Deleted)
                    .count(),
            );
            Observation {
                accounts: licenses,
                version: None,
                summary: format!("logged in to the licensing server; {licenses} licenses"),
            }
        }
    })
}

/// The Ready reason and message of a failed check: what is wrong and what to do about it.
pub fn failure(error: &PanelError, url: &str, secret: &str) -> (Reason, String) {
    match error {
        PanelError::Auth { message } => (
            Reason::AuthenticationFailed,
            format!(
                "{url} refused the login from Secret {secret:?} ({message}); fix the Secret, the module is checked again as soon as it changes"
            ),
        ),
        PanelError::Access { .. } => (
            Reason::AccessDenied,
            format!(
                "{url} accepted the login from Secret {secret:?} but refused to list accounts ({error}); the account needs administrator rights"
            ),
        ),
        PanelError::Transport { message, .. } if is_tls(message) => (
            Reason::TlsError,
            format!(
                "TLS with {url} failed ({message}); trust the panel's certificate with spec.tls.caSecretRef, or set spec.tls.insecureSkipVerify for a self-signed one"
            ),
        ),
        PanelError::Transport { message, .. } if is_timeout(message) => (
            Reason::Timeout,
            format!("{url} did not answer in time ({message})"),
        ),
        PanelError::Transport { message, .. } => (
            Reason::Unreachable,
            format!("cannot reach {url} ({message})"),
        ),
        PanelError::Unavailable { .. } => (
            Reason::Unreachable,
            format!("{url} is not taking requests ({error})"),
        ),
        other => (
            Reason::PanelError,
            format!("{url} answered the connection check with an error: {other}"),
        ),
    }
}

/// Whether a transport failure is a TLS one (reqwest reports rustls' errors in the cause
/// chain the panel error's message carries).
fn is_tls(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "certificate",
        "tls",
        "ssl",
        "handshake",
        "corrupt message",
        "unknownissuer",
        "invalidcontenttype",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

fn is_timeout(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("timed out") || m.contains("timeout") || m.contains("deadline")
}

/// The verdict of a module whose client cannot be built.
fn setup_verdict(module: &ProcessingModule, error: &SetupError) -> Verdict {
    let message = error.to_string();
    let credentials = &module.spec.credentials_secret_ref.name;
    match error {
        SetupError::SecretMissing { name }
        | SetupError::SecretKeyMissing { name, .. }
        | SetupError::SecretKeyInvalid { name, .. } => {
            let (reason, field) = if name == credentials {
                (Reason::CredentialsMissing, "spec.credentialsSecretRef")
            } else {
                (Reason::TlsError, "spec.tls.caSecretRef")
            };
            Verdict::Failed {
                reason,
                message: format!("{field}: {message}"),
            }
        }
        SetupError::Tls(_) => Verdict::Failed {
            reason: Reason::TlsError,
            message,
        },
        SetupError::InvalidUrl { .. } | SetupError::WrongType { .. } => Verdict::Stalled {
            reason: Reason::InvalidSpec,
            message,
        },
        SetupError::Kube(_) => Verdict::Failed {
            reason: Reason::PanelError,
            message,
        },
    }
}

/// Says that `spec.tls.serverName` is set but not applied (see `panels::build`).
fn server_name_note(module: &ProcessingModule) -> Option<&'static str> {
    let tls = module.spec.tls.as_ref()?;
    (tls.server_name.is_some() && !tls.insecure_skip_verify).then_some(
        "note: spec.tls.serverName is not applied yet; the certificate is checked against the URL's host",
    )
}

/// The objects the module's references are judged against: the namespace's other modules
/// (VMmanager's licensing module) and tariffs (period comparisons).
fn related(ctx: &Context, ns: &str, name: &str) -> Vec<crate::validation::Entry> {
    let mut related: Vec<_> = ctx
        .modules
        .state()
        .iter()
        .filter(|m| m.namespace().as_deref() == Some(ns) && m.name_any() != name)
        .map(|m| judge::entry(&**m))
        .collect();
    related.extend(
        ctx.tariffs
            .state()
            .iter()
            .filter(|t| t.namespace().as_deref() == Some(ns))
            .map(|t| judge::entry(&**t)),
    );
    related
}

/// Services of the namespace placed on this module.
fn service_count(ctx: &Context, ns: &str, name: &str) -> u32 {
    let n = ctx
        .services
        .state()
        .iter()
        .filter(|s| {
            s.namespace().as_deref() == Some(ns)
                && s.status
                    .as_ref()
                    .and_then(|st| st.processing_module.as_deref())
                    == Some(name)
        })
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Drops the registry's clients and health of modules that no longer exist (a reconcile
/// is not called for a deleted object, so the next reconcile of any module does it).
fn forget_deleted(ctx: &Context) {
    let live: HashSet<String> = ctx
        .modules
        .state()
        .iter()
        .map(|m| panels::key(&m.namespace().unwrap_or_default(), &m.name_any()))
        .collect();
    ctx.panels.retain(&live);
}

/// The modules of `namespace` that read the Secret `name` (credentials or CA), for the
/// Secret watch of [`super::run`].
pub fn referencing<'a>(
    modules: impl IntoIterator<Item = &'a ProcessingModule>,
    namespace: &str,
    name: &str,
) -> Vec<kube::runtime::reflector::ObjectRef<ProcessingModule>> {
    modules
        .into_iter()
        .filter(|m| m.namespace().as_deref() == Some(namespace))
        .filter(|m| {
            m.spec.credentials_secret_ref.name == name
                || m.spec
                    .tls
                    .as_ref()
                    .and_then(|t| t.ca_secret_ref.as_ref())
                    .is_some_and(|r| r.name == name)
        })
        .map(kube::runtime::reflector::ObjectRef::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ProcessingModuleSpec;
    use crate::api::common::LocalObjectReference;
    use crate::api::processing_module::{ModuleLimits, ModuleType, TlsSettings};

    fn memo(build: u64, next_check: Instant) -> CheckMemo {
        CheckMemo {
            build,
            generation: Some(1),
            requested: None,
            next_check,
            failures: 0,
            verdict: Verdict::Ready {
                reason: Reason::Connected,
                message: String::new(),
            },
            findings: Findings::default(),
        }
    }

    fn module(name: &str, secret: &str, ca: Option<&str>) -> ProcessingModule {
        let mut m = ProcessingModule::new(
            name,
            ProcessingModuleSpec {
                type_: ModuleType::ISPmanager,
                url: "https://p:1500/ispmgr".into(),
                credentials_secret_ref: LocalObjectReference::new(secret),
                tls: ca.map(|ca| TlsSettings {
                    ca_secret_ref: Some(LocalObjectReference::new(ca)),
                    ..TlsSettings::default()
                }),
                priority: 1,
                limits: ModuleLimits::default(),
                ispmanager: None,
                vmmanager: None,
                licensing: None,
                unknown_outcome_quiet_seconds: 180,
                timeouts: Default::default(),
            },
        );
        m.metadata.namespace = Some("ns".into());
        m.metadata.generation = Some(1);
        m
    }

    #[test]
    fn a_check_is_due_only_when_something_changed_or_the_time_came() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let m = memo(7, later);
        assert!(due(None, 7, Some(1), None, now), "never checked");
        assert!(!due(Some(&m), 7, Some(1), None, now), "nothing changed");
        assert!(
            due(Some(&m), 8, Some(1), None, now),
            "a new client (Secret changed)"
        );
        assert!(due(Some(&m), 7, Some(2), None, now), "a spec change");
        assert!(
            due(Some(&m), 7, Some(1), Some("2026-01-01"), now),
            "asked for"
        );
        assert!(
            due(Some(&m), 7, Some(1), None, later),
            "the interval passed"
        );
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let i = Duration::from_secs(300);
        assert_eq!(jittered(i, 0.0), Duration::from_secs(270));
        assert_eq!(jittered(i, 1.0), Duration::from_secs(330));
        assert_eq!(jittered(i, 0.5), i);
    }

    #[test]
    fn retries_back_off_but_never_beyond_the_interval() {
        let i = Duration::from_secs(300);
        assert_eq!(retry_after(1, i, 0.0), Duration::from_secs(2));
        assert_eq!(retry_after(3, i, 0.0), Duration::from_secs(8));
        assert_eq!(retry_after(20, i, 0.0), Duration::from_secs(270));
        assert_eq!(
            retry_after(5, Duration::from_secs(10), 0.5),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn failures_map_to_reasons_a_person_can_act_on() {
        let url = "https://p:1500/ispmgr";
        let cases = [
            (
                PanelError::Auth {
                    message: "Invalid username or password".into(),
                },
                Reason::AuthenticationFailed,
            ),
            (
                PanelError::Access {
                    object: "user".into(),
                    message: String::new(),
                },
                Reason::AccessDenied,
            ),
            (
                PanelError::Transport {
                    message: "could not connect: client error (Connect): invalid peer certificate: UnknownIssuer".into(),
                    maybe_applied: false,
                },
                Reason::TlsError,
            ),
            (
                PanelError::Transport {
                    message: "timed out: operation timed out".into(),
                    maybe_applied: true,
                },
                Reason::Timeout,
            ),
            (
                PanelError::Transport {
                    message: "could not connect: client error (Connect): tcp connect error: Connection refused (os error 111)".into(),
                    maybe_applied: false,
                },
                Reason::Unreachable,
            ),
            (PanelError::Unavailable { status: 503 }, Reason::Unreachable),
            (
                PanelError::Protocol {
                    message: "not a panel document".into(),
                },
                Reason::PanelError,
            ),
        ];
        for (error, want) in cases {
            let (reason, message) = failure(&error, url, "isp-creds");
            assert_eq!(reason, want, "{error}");
            assert!(message.contains(url), "{message}");
        }
        let (_, message) = failure(
            &PanelError::Auth {
                message: "Invalid username or password".into(),
            },
            url,
            "isp-creds",
        );
        assert!(message.contains(r#"Secret "isp-creds""#), "{message}");
    }

    #[test]
    fn a_missing_secret_is_credentials_missing_unless_it_is_the_ca() {
        let m = module("isp", "isp-creds", Some("panel-ca"));
        let creds = setup_verdict(
            &m,
            &SetupError::SecretMissing {
                name: "isp-creds".into(),
            },
        );
        assert_eq!(creds.reason(), Reason::CredentialsMissing);
        assert!(
            matches!(creds, Verdict::Failed { .. }),
            "a Secret fix is not a spec change"
        );
        let ca = setup_verdict(
            &m,
            &SetupError::SecretKeyMissing {
                name: "panel-ca".into(),
                key: "ca.crt".into(),
            },
        );
        assert_eq!(ca.reason(), Reason::TlsError);
        let url = setup_verdict(
            &m,
            &SetupError::InvalidUrl {
                url: "https://p".into(),
                reason: "has no host".into(),
            },
        );
        assert!(matches!(url, Verdict::Stalled { .. }));
    }

    #[test]
    fn failures_count_up_and_a_success_resets_them() {
        let m = module("isp", "isp-creds", None);
        let now = Instant::now();
        let failed = Verdict::Failed {
            reason: Reason::Unreachable,
            message: "cannot reach".into(),
        };
        let first = failed_memo(
            None,
            &m,
            3,
            failed.clone(),
            Some("2026-12-07T10:00:00Z".into()),
            Duration::from_secs(300),
            now,
        );
        assert_eq!(first.failures, 1);
        let error = first.findings.last_error.as_ref().unwrap();
        assert_eq!(
            (error.attempts, error.message.as_str()),
            (1, "cannot reach")
        );
        assert!(error.next_attempt_at.is_some());
        assert!(first.findings.last_check_time.is_some());
        let second = failed_memo(
            Some(&first),
            &m,
            3,
            failed.clone(),
            Some("2026-12-07T10:00:00Z".into()),
            Duration::from_secs(300),
            now,
        );
        assert_eq!(second.failures, 2);
        assert!(second.next_check > first.next_check);
        let after_success = failed_memo(
            Some(&memo(3, now)),
            &m,
            3,
            failed,
            None,
            Duration::from_secs(300),
            now,
        );
        assert_eq!(after_success.failures, 1);
        assert_eq!(
            after_success.findings.last_check_time, None,
            "no panel call, no check time"
        );
    }

    #[test]
    fn secrets_map_to_the_modules_that_read_them() {
        let a = module("a", "creds", None);
        let b = module("b", "other", Some("creds"));
        let c = module("c", "other", None);
        let mut elsewhere = module("d", "creds", None);
        elsewhere.metadata.namespace = Some("ns2".into());
        let all = [a, b, c, elsewhere];
        let names: Vec<String> = referencing(&all, "ns", "creds")
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn server_name_is_reported_as_not_applied() {
        let mut m = module("isp", "creds", None);
        assert_eq!(server_name_note(&m), None);
        m.spec.tls = Some(TlsSettings {
            server_name: Some("panel.internal".into()),
            ..TlsSettings::default()
        });
        assert!(server_name_note(&m).is_some());
    }
}
