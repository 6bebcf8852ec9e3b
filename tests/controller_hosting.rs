//! Shared hosting end to end: the controller against the real kube-apiserver and the in-process
//! ispmanager simulator. The whole lifecycle of seed 002, drift, pause, deletion policies,
//! missing references, injected faults, a controller killed in the middle of creates, and no
//! secret anywhere a person or a log collector can read.

mod common;
mod support;

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;

use hostplane::api::Tariff;
use hostplane::api::common::{Date, LocalObjectReference, Period};
use hostplane::api::hosting_service::{DeletionPolicy, ManagementPolicy, Renewal};
use hostplane::api::service_events::TariffChangeEvent;
use hostplane::api::tariff::{Policies, ResourceKind, TariffChangePolicy, WeekendSuspension};
use hostplane::simulator::{FaultSpec, SimHandle};
use support::fixtures::{self, Fixture, FixtureSet, Login, ServiceBuilder, SharedHosting};
use support::*;

const DRIFT: Duration = Duration::from_secs(2);

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(Capture::install_global)
}

/// Today as the controller counts it (its clock; these tariffs name no zone, so UTC), not
/// the test machine's local date.
fn today() -> String {
    hostplane::controller::clock::Clock::system()
        .today()
        .to_string()
}

/// ispmanager functions that change an account (what an ObserveOnly service must never send).
const MUTATIONS: [&str; 7] = [
    "user.add.finish",
    "user.edit",
    "user.suspend",
    "user.resume",
    "user.delete",
    "usrparam",
    "webdomain.edit",
];

/// The generation the Synced condition was last written for.
const SYNCED_GENERATION: &str = r#"{.status.conditions[?(@.type=="Synced")].observedGeneration}"#;

/// The shared hosting set on `sim` ([`SharedHosting`]).
fn hosting(sim: &SimHandle) -> SharedHosting {
    SharedHosting(Login::new(
        sim.url("/ispmgr"),
        common::ADMIN,
        common::PASSWORD,
    ))
}

/// A module on `sim`, its credentials, a tariff with the module as its own name server, and a
/// client. A create killed or answered late is sent again after 2 s, not the default 180 s.
fn base(sim: &SimHandle) -> Vec<Fixture> {
    base_with(sim, |_| {})
}

/// [`base`] with the tariff's policies as `policies` says.
fn base_with(sim: &SimHandle, policies: impl FnOnce(&mut Policies)) -> Vec<Fixture> {
    let set = hosting(sim);
    set.with(
        set.module().quiet_seconds(2),
        set.tariff().with(|t| policies(&mut t.policies)),
    )
}

/// A yearly service of the base set, from today.
fn service(name: &str) -> ServiceBuilder {
    SharedHosting::service(name, &today())
}

fn user(sim: &SimHandle, name: &str) -> Option<hostplane::simulator::state::IspUser> {
    sim.sim.read(|s| s.ispmgr.users.get(name).cloned())
}

fn usernames(sim: &SimHandle) -> BTreeSet<String> {
    sim.sim
        .read(|s| s.ispmgr.users.keys().cloned().collect::<BTreeSet<_>>())
}

fn events(cluster: &hostplane::testbed::LocalCluster, ns: &str) -> String {
    kubectl_ok(
        cluster,
        &["get", "events.events.k8s.io", "-n", ns, "-o", "yaml"],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_of_a_shared_hosting_service() {
    let logs = capture();
    let ns = "hosting-life";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let _controller = start_controller(cluster, ns, DRIFT).await;
    apply_fixtures(cluster, ns, base(&sim)).await;
    let blog = service("blog")
        .resource(ResourceKind::DiskSpace, 2048)
        .connection_secret("blog-login");
    apply_fixtures(cluster, ns, [blog.build()]).await;

    // Created: user from the template with the tariff's resources as limits, site, DNS zone.
    eventually(cluster, ns, "hsvc/blog", READY, "True").await;
    eventually(cluster, ns, "hsvc/blog", "{.status.phase}", "Active").await;
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/blog", "{.status.externalName}"),
        "ublog"
    );
    assert_eq!(
        jsonpath(
            cluster,
            ns,
            "hsvc/blog",
            r"{.metadata.annotations.hostplane\.dev/external-name}"
        ),
        "ublog"
    );
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/blog", "{.status.ip}"),
        "127.0.0.1"
    );
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/blog", "{.status.quote.orderPrice}"),
        "36.00"
    );
    let u = user(&sim, "ublog").expect("account made");
    assert_eq!(u.preset, "basic");
    assert_eq!(u.fullname, "Jane Doe");
    assert_eq!(u.limits["limit_quota"], "2048");
    assert_eq!(
        u.limits["limit_traff"], "5120",
        "GiB in the manifest, MiB at the panel"
    );
    assert!(
        sim.sim
            .read(|s| s.ispmgr.webdomains.contains_key("blog.hosting.example"))
    );
    assert!(
        sim.sim
            .read(|s| s.ispmgr.dns.contains_key("blog.hosting.example"))
    );
    // The connection Secret.
    assert_eq!(secret_key(cluster, ns, "blog-login", "username"), "ublog");
    let password = secret_key(cluster, ns, "blog-login", "password");
    assert!(password.len() >= 16);
    assert!(secret_key(cluster, ns, "blog-login", "loginUrl").contains("func=auth"));
    assert_eq!(
        secret_key(cluster, ns, "blog-login", "panelUrl"),
        sim.url("/ispmgr")
    );

    // Resource change → one limit.
    kubectl_ok(
        cluster,
        &[
            "patch",
            "hsvc/blog",
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"spec":{"resources":[{"name":"diskSpace","quantity":3072}]}}"#,
        ],
    );
    until("quota 3072", || {
        user(&sim, "ublog").unwrap().limits["limit_quota"] == "3072"
    })
    .await;

    // Tariff change → new template, limits re-applied; the tariff counts the services updated.
    kubectl_ok(
        cluster,
        &[
            "patch",
            "tariff/start",
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"spec":{"hosting":{"accountTemplate":"pro"}}}"#,
        ],
    );
    until("preset pro", || {
        user(&sim, "ublog").unwrap().preset == "pro"
    })
    .await;
    assert_eq!(user(&sim, "ublog").unwrap().limits["limit_quota"], "3072");
    eventually(
        cluster,
        ns,
        "tariff/start",
        "{.status.servicesUpdated}/{.status.services}",
        "1/1",
    )
    .await;

    // Suspend and resume, by the service and by the client.
    kubectl_ok(
        cluster,
        &[
            "patch",
            "hsvc/blog",
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"spec":{"suspended":true}}"#,
        ],
    );
    eventually(cluster, ns, "hsvc/blog", "{.status.phase}", "Suspended").await;
    assert!(!user(&sim, "ublog").unwrap().active);
    kubectl_ok(
        cluster,
        &[
            "patch",
            "hsvc/blog",
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"spec":{"suspended":false}}"#,
        ],
    );
    eventually(cluster, ns, "hsvc/blog", "{.status.phase}", "Active").await;
    assert!(user(&sim, "ublog").unwrap().active);
    kubectl_ok(
        cluster,
        &[
            "patch",
            "client/jane",
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"spec":{"suspended":true}}"#,
        ],
    );
    until("client suspension reaches the account", || {
        !user(&sim, "ublog").unwrap().active
    })
    .await;
    kubectl_ok(
        cluster,
        &[
            "patch",
            "client/jane",
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"spec":{"suspended":false}}"#,
        ],
    );
    until("client resumption reaches the account", || {
        user(&sim, "ublog").unwrap().active
    })
    .await;

    // A new password in the Secret reaches the panel.
    let changes = user(&sim, "ublog").unwrap().password_changes;
    kubectl_ok(
        cluster,
        &[
            "patch",
            "secret/blog-login",
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"stringData":{"password":"N3w-Customer-Pw-5"}}"#,
        ],
    );
    until("password applied", || {
        user(&sim, "ublog").unwrap().password_changes == changes + 1
    })
    .await;

    // Drift: a limit changed in the panel is put back within a drift interval, with an event.
    sim.sim.transact(|s| {
        s.ispmgr
            .users
            .get_mut("ublog")
            .unwrap()
            .limits
            .insert("limit_quota".into(), "1".into());
        ((), true)
    });
    until("drift corrected", || {
        user(&sim, "ublog").unwrap().limits["limit_quota"] == "3072"
    })
    .await;
    until("DriftCorrected event", || {
        events(cluster, ns).contains("DriftCorrected")
    })
    .await;

    // Paused: visible, and holds changes until unpaused.
    kubectl_ok(
        cluster,
        &[
            "annotate",
            "hsvc/blog",
            "-n",
            ns,
            "hostplane.dev/paused=true",
        ],
    );
    eventually(cluster, ns, "hsvc/blog", SYNCED_REASON, "ReconcilePaused").await;
    kubectl_ok(
        cluster,
        &[
            "patch",
            "hsvc/blog",
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"spec":{"suspended":true}}"#,
        ],
    );
    // A positive signal that the paused controller saw the change, not a sleep: the Synced
    // condition reports ReconcilePaused for the new generation.
    let generation = jsonpath(cluster, ns, "hsvc/blog", "{.metadata.generation}");
    eventually(cluster, ns, "hsvc/blog", SYNCED_GENERATION, &generation).await;
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/blog", SYNCED_REASON),
        "ReconcilePaused"
    );
    assert!(user(&sim, "ublog").unwrap().active, "paused: no change");
    kubectl_ok(
        cluster,
        &["annotate", "hsvc/blog", "-n", ns, "hostplane.dev/paused-"],
    );
    until("unpaused change applied", || {
        !user(&sim, "ublog").unwrap().active
    })
    .await;

    // reconcile-requested-at is echoed.
    kubectl_ok(
        cluster,
        &[
            "annotate",
            "hsvc/blog",
            "-n",
            ns,
            "hostplane.dev/reconcile-requested-at=now-1",
        ],
    );
    eventually(
        cluster,
        ns,
        "hsvc/blog",
        "{.status.lastHandledReconcileAt}",
        "now-1",
    )
    .await;

    // Delete: the account goes, then the object.
    delete_and_wait(cluster, ns, "hsvc/blog");
    assert!(user(&sim, "ublog").is_none());

    // Orphan keeps the account.
    let keep = service("keep").with(|s| s.deletion_policy = DeletionPolicy::Orphan);
    apply_fixtures(cluster, ns, [keep.build()]).await;
    eventually(cluster, ns, "hsvc/keep", READY, "True").await;
    delete_and_wait(cluster, ns, "hsvc/keep");
    assert!(user(&sim, "ukeep").is_some(), "Orphan keeps the account");

    // Nothing secret in status, events or logs.
    let everything = kubectl_ok(
        cluster,
        &[
            "get",
            "hosting,events.events.k8s.io",
            "-n",
            ns,
            "-o",
            "yaml",
        ],
    );
    for secret in [common::PASSWORD, password.as_str(), "N3w-Customer-Pw-5"] {
        assert!(
            !everything.contains(secret),
            "a secret in objects or events"
        );
        assert!(!logs.text().contains(secret), "a secret in the logs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_only_adopts_and_reports_without_changing() {
    capture();
    let ns = "hosting-observe";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let _controller = start_controller(cluster, ns, DRIFT).await;
    let isp = common::isp(
        &sim,
        hostplane::panel::mgr::AuthMode::Authinfo,
        hostplane::panel::mgr::Format::Json,
    );
    isp.create_user(&hostplane::panel::ispmanager::NewUser {
        name: "legacy1".into(),
        password: secrecy::SecretString::from("L3gacy-pass-1"),
        fullname: "Legacy".into(),
        preset: Some("basic".into()),
        limits: Default::default(),
        domain: None,
    })
    .await
    .unwrap();
    // The account as the provider made it, before hostplane ever saw it.
    let before = user(&sim, "legacy1").unwrap();
    sim.sim.reset_calls();
    apply_fixtures(cluster, ns, base(&sim)).await;
    let legacy = service("legacy")
        .with(|s| s.management_policy = ManagementPolicy::ObserveOnly)
        .annotation("hostplane.dev/external-name", "legacy1");
    apply_fixtures(cluster, ns, [legacy.build()]).await;
    eventually(cluster, ns, "hsvc/legacy", READY_REASON, "Observed").await;
    let message = jsonpath(cluster, ns, "hsvc/legacy", READY_MESSAGE);
    assert!(message.contains("differs"), "{message}");
    delete_and_wait(cluster, ns, "hsvc/legacy");
    let after = user(&sim, "legacy1").expect("ObserveOnly never deletes");
    // Every field, the password-change counter included.
    assert_eq!(after, before, "ObserveOnly never changes");
    let calls = sim.sim.calls().remove("ispmgr").unwrap_or_default();
    for mutation in MUTATIONS {
        assert_eq!(calls.get(mutation), None, "ObserveOnly sent {mutation}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_reference_stalls_until_it_appears() {
    capture();
    let ns = "hosting-refs";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let _controller = start_controller(cluster, ns, DRIFT).await;
    let mut without_client = base(&sim);
    let client = without_client.pop().expect("the client comes last");
    apply_fixtures(cluster, ns, without_client).await;
    apply_fixtures(cluster, ns, [service("early").build()]).await;
    eventually(cluster, ns, "hsvc/early", STALLED, "True").await;
    let message = jsonpath(cluster, ns, "hsvc/early", STALLED_MESSAGE);
    assert!(
        message.contains("spec.clientRef.name") && message.contains("jane"),
        "{message}"
    );
    assert!(
        usernames(&sim).is_empty(),
        "nothing is created for a stalled service"
    );
    apply_fixtures(cluster, ns, [client]).await;
    eventually(cluster, ns, "hsvc/early", READY, "True").await;
    assert!(user(&sim, "uearly").is_some());
}

/// The 503s injected into creates by the faults test.
const UNAVAILABLE: u64 = 24;

/// Errors, latency and lost answers at the panel: failures show in status (or, when too short
/// to be sampled, in Warning events) meanwhile, and the end is one account per service, none
/// extra.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_end_converged_with_one_account_per_service() {
    capture();
    let ns = "hosting-faults";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    sim.sim.faults().set(
        "ispmgr",
        "user.add.finish",
        FaultSpec {
            latency_ms: 50,
            // More 503s than the client's own retries absorb: some reconciles fail and say so.
            unavailable: UNAVAILABLE as u32,
            drop_response: 4,
            ..FaultSpec::default()
        },
    );
    let _controller = start_controller(cluster, ns, DRIFT).await;
    apply_fixtures(cluster, ns, base(&sim)).await;
    let names: Vec<String> = (0..8).map(|i| format!("site{i}")).collect();
    apply_fixtures(cluster, ns, names.iter().map(|n| service(n).build())).await;
    let mut saw_error = false;
    for name in &names {
        let object = format!("hsvc/{name}");
        for _ in 0..600 {
            if !jsonpath(cluster, ns, &object, "{.status.lastError.attempts}").is_empty() {
                saw_error = true;
            }
            if jsonpath(cluster, ns, &object, READY) == "True" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eventually(cluster, ns, &object, READY, "True").await;
    }
    // Sampling status can miss a short failure; the Warning event each failure posts cannot.
    let warnings = kubectl_ok(
        cluster,
        &[
            "get",
            "events.events.k8s.io",
            "-n",
            ns,
            "-o",
            r#"jsonpath={range .items[?(@.type=="Warning")]}{.regarding.kind}/{.reason} {end}"#,
        ],
    );
    // A 503 to a create is an unknown outcome (a proxy may answer it after the panel applied
    // the call): reported as such, and looked up before it is sent again.
    assert!(
        saw_error
            || warnings.contains("HostingService/PanelError")
            || warnings.contains("HostingService/OutcomeUnknown"),
        "failures are visible in status or events while they last: {warnings}"
    );
    let want: BTreeSet<String> = names.iter().map(|n| format!("u{n}")).collect();
    assert_eq!(usernames(&sim), want, "one account per service, none extra");
    // Usernames are fixed, so a second create of one would only get `exists` and be
    // adopted: the call count is what shows that no lost answer led to a second create.
    // Each 503 is refused before the panel acts, so it costs exactly one more create; each
    // dropped answer was applied, is found by the lookup, and costs none.
    assert_eq!(
        sim.sim.call_count("ispmgr", "user.add.finish"),
        names.len() as u64 + UNAVAILABLE,
        "one create per service plus one per refused attempt"
    );
}

/// The controller dies while creates are in flight (applied at the panel, answers not yet
/// back, so no status records them) and a new one takes over: no duplicate, no orphan, no
/// second create.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_killed_mid_create_leaves_no_duplicate_or_orphan() {
    capture();
    let ns = "hosting-kill";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    // Applied at once, answered 30 s later: every create the first controller sends is in
    // flight when it dies.
    sim.sim.faults().set(
        "ispmgr",
        "user.add.finish",
        FaultSpec {
            late_ms: 30_000,
            ..FaultSpec::default()
        },
    );
    apply_fixtures(cluster, ns, base(&sim)).await;
    let names: Vec<String> = (0..12).map(|i| format!("k{i}")).collect();
    apply_fixtures(cluster, ns, names.iter().map(|n| service(n).build())).await;
    let first = start_killable_controller(cluster, ns, DRIFT, Default::default());
    until("some accounts created", || usernames(&sim).len() >= 3).await;
    first.kill();
    let created_by_first = usernames(&sim);
    // What the kill interrupted: accounts at the panel that no service records yet.
    let recorded: BTreeSet<String> = names
        .iter()
        .map(|n| jsonpath(cluster, ns, &format!("hsvc/{n}"), "{.status.externalName}"))
        .filter(|u| !u.is_empty())
        .collect();
    let in_flight: Vec<&String> = created_by_first.difference(&recorded).collect();
    assert!(
        !in_flight.is_empty(),
        "the kill interrupted no create: {created_by_first:?} all recorded"
    );
    let creates_by_first = sim.sim.call_count("ispmgr", "user.add.finish");
    sim.sim
        .faults()
        .set("ispmgr", "user.add.finish", FaultSpec::default());
    let _second = start_controller(cluster, ns, DRIFT).await;
    for name in &names {
        eventually(cluster, ns, &format!("hsvc/{name}"), READY, "True").await;
    }
    let want: BTreeSet<String> = names.iter().map(|n| format!("u{n}")).collect();
    assert_eq!(usernames(&sim), want, "killed with {in_flight:?} in flight");
    // The second controller created only what the first had not: the in-flight accounts
    // were found by the lookup, never created again.
    assert_eq!(
        sim.sim.call_count("ispmgr", "user.add.finish"),
        names.len() as u64,
        "{creates_by_first} creates by the first controller"
    );
}

/// A namespace, the simulator and a controller whose billing days follow the simulator's
/// clock; [`base_with`] `policies` applied; then the clock moved 208 whole weeks on: far from
/// the machine's date, so that a time taken from the wrong clock shows, with weekends where
/// they would fall today.
async fn on_the_simulators_clock(
    ns: &str,
    policies: impl FnOnce(&mut Policies),
) -> (
    &'static hostplane::testbed::LocalCluster,
    SimHandle,
    tokio::task::JoinHandle<()>,
) {
    capture();
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let sim_clock = sim.sim.clock().clone();
    let clock = hostplane::controller::clock::Clock::from_fn(move || sim_clock.now());
    let controller = start_controller_with_clock(cluster, ns, DRIFT, clock).await;
    apply_fixtures(cluster, ns, base_with(&sim, policies)).await;
    advance_days(&sim, 7 * 208);
    (cluster, sim, controller)
}

/// Moves the simulator's clock (and so the controller's) `days` on.
fn advance_days(sim: &SimHandle, days: i64) {
    sim.sim
        .clock()
        .advance(jiff::SignedDuration::from_hours(24 * days));
}

/// A monthly service of the base set from `start`.
fn monthly(name: &str, start: jiff::civil::Date) -> ServiceBuilder {
    service(name).with(|s| {
        s.period = Period::OneMonth;
        s.start_date = Date(start);
    })
}

/// Seed 002's unpaid lifecycle on the simulator's clock: expiry suspends, a declared renewal
/// resumes, and after the auto-deletion period the account goes while the resource stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_suspends_renewal_resumes_and_auto_deletion_terminates() {
    let ns = "hosting-unpaid";
    let (cluster, sim, _controller) = on_the_simulators_clock(ns, |p| {
        p.auto_deletion_days = Some(10);
        p.weekend_suspension = WeekendSuspension::Suspend;
    })
    .await;
    let start = sim.sim.clock().today();
    apply_fixtures(cluster, ns, [monthly("rent", start).build()]).await;
    // The same life with deletionPolicy Orphan: termination keeps the account too.
    let orphan = monthly("kept", start).with(|s| s.deletion_policy = DeletionPolicy::Orphan);
    apply_fixtures(cluster, ns, [orphan.build()]).await;
    eventually(cluster, ns, "hsvc/rent", "{.status.phase}", "Active").await;
    eventually(cluster, ns, "hsvc/kept", "{.status.phase}", "Active").await;
    let paid_until = jsonpath(cluster, ns, "hsvc/rent", "{.status.paidUntil}");
    assert_eq!(
        paid_until,
        start
            .checked_add(jiff::Span::new().months(1))
            .unwrap()
            .to_string()
    );
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/rent", "{.status.nextActionAt}"),
        format!("{paid_until}T00:00:00Z")
    );
    // Condition times come from the controller's clock (here the simulator's).
    let ready_since = jsonpath(
        cluster,
        ns,
        "hsvc/rent",
        r#"{.status.conditions[?(@.type=="Ready")].lastTransitionTime}"#,
    );
    assert!(ready_since.starts_with(&start.to_string()), "{ready_since}");

    let nudge = |n: u32| {
        for object in ["hsvc/rent", "hsvc/kept"] {
            request_reconcile(cluster, ns, object, &format!("tick-{n}"));
        }
    };
    // 35 days on: expired and suspended for non-payment.
    sim.sim
        .clock()
        .advance(jiff::SignedDuration::from_hours(24 * 35));
    nudge(1);
    eventually(cluster, ns, "hsvc/rent", "{.status.phase}", "Suspended").await;
    assert!(!user(&sim, "urent").unwrap().active);
    assert!(jsonpath(cluster, ns, "hsvc/rent", READY_MESSAGE).contains("non-payment"));

    // A renewal declared in git (paid today) resumes it.
    let paid_on = sim.sim.clock().today();
    let renewal = Renewal {
        period: Period::OneMonth,
        paid_on: Date(paid_on),
        reference: None,
    };
    let renewed = monthly("rent", start).with(|s| s.renewals = vec![renewal]);
    apply_fixtures(cluster, ns, [renewed.build()]).await;
    eventually(cluster, ns, "hsvc/rent", "{.status.phase}", "Active").await;
    assert!(user(&sim, "urent").unwrap().active);

    // Two more months unpaid: suspended, then terminated 10 days after expiry.
    sim.sim
        .clock()
        .advance(jiff::SignedDuration::from_hours(24 * 40));
    nudge(2);
    eventually(cluster, ns, "hsvc/rent", "{.status.phase}", "Suspended").await;
    sim.sim
        .clock()
        .advance(jiff::SignedDuration::from_hours(24 * 11));
    nudge(3);
    eventually(cluster, ns, "hsvc/rent", "{.status.phase}", "Terminated").await;
    assert!(user(&sim, "urent").is_none(), "the account is terminated");
    eventually(cluster, ns, "hsvc/kept", "{.status.phase}", "Terminated").await;
    let kept = user(&sim, "ukept").expect("Orphan keeps the account at termination too");
    assert!(!kept.active, "kept as it was: suspended");
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/rent", "{.metadata.name}"),
        "rent",
        "the resource stays"
    );
    until("Terminated event", || {
        events(cluster, ns).contains("reason: Terminated")
    })
    .await;
}

/// Order policies stop a service before anything is made at the panel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_against_the_tariffs_policies_is_stalled_and_not_created() {
    capture();
    let ns = "hosting-policy";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let _controller = start_controller(cluster, ns, DRIFT).await;
    let base = base_with(&sim, |p| p.services_per_client = Some(1));
    apply_fixtures(cluster, ns, base).await;
    apply_fixtures(cluster, ns, [service("first").build()]).await;
    eventually(cluster, ns, "hsvc/first", READY, "True").await;
    apply_fixtures(cluster, ns, [service("second").build()]).await;
    eventually(cluster, ns, "hsvc/second", STALLED, "True").await;
    let message = jsonpath(cluster, ns, "hsvc/second", STALLED_MESSAGE);
    assert!(message.to_lowercase().contains("services"), "{message}");
    assert!(user(&sim, "usecond").is_none());
}

/// Issue 15: a tariff edit is never retroactive. A monthly service is running when its tariff
/// disables the monthly period; unpaid, it is still suspended (not `Stalled` and left running
/// at the panel for free).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_service_is_suspended_after_its_tariff_disables_its_period() {
    let ns = "hosting-disabled-period";
    let suspend_on_weekends = |p: &mut Policies| p.weekend_suspension = WeekendSuspension::Suspend;
    let (cluster, sim, _controller) = on_the_simulators_clock(ns, suspend_on_weekends).await;
    let start = sim.sim.clock().today();
    apply_fixtures(cluster, ns, [monthly("late", start).build()]).await;
    eventually(cluster, ns, "hsvc/late", "{.status.phase}", "Active").await;
    assert!(user(&sim, "ulate").unwrap().active);

    // The provider stops selling monthly terms; the running service keeps its history.
    let set = hosting(&sim);
    let edited = set.tariff().with(|t| {
        suspend_on_weekends(&mut t.policies);
        t.disabled_periods = vec![Period::OneMonth];
    });
    apply_fixtures(cluster, ns, [edited.build()]).await;
    assert!(
        kubectl_ok(cluster, &["get", "tariff/start", "-n", ns, "-o", "yaml"])
            .contains("disabledPeriods"),
        "the tariff edit reached the cluster"
    );
    request_reconcile(cluster, ns, "hsvc/late", "after-tariff-edit");
    eventually(cluster, ns, "hsvc/late", "{.status.phase}", "Active").await;
    assert_ne!(jsonpath(cluster, ns, "hsvc/late", STALLED), "True");

    // 35 days on, unpaid: suspended at the panel, whatever the tariff sells today.
    advance_days(&sim, 35);
    request_reconcile(cluster, ns, "hsvc/late", "after-expiry");
    eventually(cluster, ns, "hsvc/late", "{.status.phase}", "Suspended").await;
    assert!(
        !user(&sim, "ulate").unwrap().active,
        "suspended at the panel"
    );
    assert!(jsonpath(cluster, ns, "hsvc/late", READY_MESSAGE).contains("non-payment"));
    assert_ne!(jsonpath(cluster, ns, "hsvc/late", STALLED), "True");
}

/// A second shared hosting tariff at half the price of `start`, a month at a time.
fn half(sim: &SimHandle) -> Tariff {
    let set = hosting(sim);
    let mut half = set.tariff().with(|t| {
        t.prices = Default::default();
        t.resources.clear();
    });
    half = half.price(Period::OneMonth, "1.50");
    let mut tariff = half.build();
    tariff.metadata.name = Some("half".into());
    tariff
}

/// A change from tariff `from` on `day`.
fn change(day: jiff::civil::Date, from: &str) -> TariffChangeEvent {
    TariffChangeEvent {
        changed_on: Date(day),
        from_tariff_ref: LocalObjectReference { name: from.into() },
        period: None,
        reference: None,
    }
}

/// Issue 15: a declared "change period" tariff change moves the paid period the controller
/// acts on. 3.00 a month changed after 10 days to a 1.50 tariff: the days left buy twice as
/// many, `status.paidUntil` and `status.quote.events` say so, and the service is not
/// suspended on the old expiry but on the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_period_tariff_change_moves_paid_until_and_the_suspension() {
    let ns = "hosting-tariff-change";
    let (cluster, sim, _controller) = on_the_simulators_clock(ns, |p| {
        p.weekend_suspension = WeekendSuspension::Suspend;
        p.tariff_change.policy = TariffChangePolicy::ChangePeriod;
    })
    .await;
    apply_fixtures(cluster, ns, [half(&sim)]).await;
    let start = sim.sim.clock().today();
    let changed_on = start.checked_add(jiff::Span::new().days(10)).unwrap();
    let old_end = start.checked_add(jiff::Span::new().months(1)).unwrap();
    let left = (old_end - changed_on).get_days();
    let new_end = changed_on
        .checked_add(jiff::Span::new().days(2 * i64::from(left)))
        .unwrap();
    let moved = monthly("moved", start).with(|s| {
        s.tariff_ref.name = "half".into();
        s.tariff_changes = vec![change(changed_on, "start")];
    });
    apply_fixtures(cluster, ns, [moved.build()]).await;
    eventually(cluster, ns, "hsvc/moved", "{.status.phase}", "Active").await;
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/moved", "{.status.paidUntil}"),
        new_end.to_string()
    );
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/moved", "{.status.quote.events[0].type}"),
        "TariffChange"
    );
    assert_eq!(
        jsonpath(
            cluster,
            ns,
            "hsvc/moved",
            "{.status.quote.events[0].paidUntil}"
        ),
        new_end.to_string()
    );
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/moved", "{.status.quote.orderPrice}"),
        "3.00",
        "the order is priced by the tariff of its day"
    );

    // A day past the old expiry: still paid, still active at the panel.
    let days_to = |day: jiff::civil::Date| i64::from((day - sim.sim.clock().today()).get_days());
    advance_days(&sim, days_to(old_end) + 1);
    reconcile_now(cluster, ns, "hsvc/moved", "past-old-expiry").await;
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/moved", "{.status.phase}"),
        "Active"
    );
    assert!(user(&sim, "umoved").unwrap().active);

    // On the new expiry: suspended for non-payment.
    advance_days(&sim, days_to(new_end));
    request_reconcile(cluster, ns, "hsvc/moved", "new-expiry");
    eventually(cluster, ns, "hsvc/moved", "{.status.phase}", "Suspended").await;
    assert!(!user(&sim, "umoved").unwrap().active);
}

/// Issue 15: moving `spec.tariffRef` without declaring the change would re-price the whole
/// history at the new tariff; the controller stalls it with the reason, changes nothing at
/// the panel, and goes on once the change is declared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_tariff_change_is_stalled_until_it_is_declared() {
    let ns = "hosting-undeclared-change";
    let (cluster, sim, _controller) = on_the_simulators_clock(ns, |p| {
        p.tariff_change.policy = TariffChangePolicy::AddFundsOrRefund;
    })
    .await;
    apply_fixtures(cluster, ns, [half(&sim)]).await;
    let start = sim.sim.clock().today();
    apply_fixtures(cluster, ns, [monthly("swap", start).build()]).await;
    eventually(cluster, ns, "hsvc/swap", READY, "True").await;
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/swap", "{.status.tariff}"),
        "start"
    );

    let moved = || monthly("swap", start).with(|s| s.tariff_ref.name = "half".into());
    apply_fixtures(cluster, ns, [moved().build()]).await;
    eventually(cluster, ns, "hsvc/swap", STALLED, "True").await;
    let reason = r#"{.status.conditions[?(@.type=="Stalled")].reason}"#;
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/swap", reason),
        "UndeclaredTariffChange"
    );
    assert!(jsonpath(cluster, ns, "hsvc/swap", STALLED_MESSAGE).contains("spec.tariffChanges"));
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/swap", "{.status.tariff}"),
        "start"
    );

    let declared = moved().with(|s| s.tariff_changes = vec![change(start, "start")]);
    apply_fixtures(cluster, ns, [declared.build()]).await;
    eventually(cluster, ns, "hsvc/swap", "{.status.tariff}", "half").await;
    eventually(cluster, ns, "hsvc/swap", READY, "True").await;
    assert_ne!(jsonpath(cluster, ns, "hsvc/swap", STALLED), "True");
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/swap", "{.status.quote.events[0].type}"),
        "TariffChange"
    );
}

/// The zones a separate name server holds for the tariff's domains (the account's own panel
/// deletes an account's zones with it; a separate one does not).
fn zones(sim: &SimHandle) -> BTreeSet<String> {
    sim.sim.read(|s| s.ispmgr.dns.keys().cloned().collect())
}

/// On a separate name server the zone is the administrator's, so deleting the account leaves
/// it: hostplane claims the zone it creates and deletes it with the account. A zone that was
/// there before is someone else's and stays; `Orphan` keeps its zone with its account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_on_a_separate_name_server_goes_with_its_account_and_only_its_own() {
    capture();
    let ns = "hosting-dns";
    let cluster = cluster_with_namespace(ns);
    let (sim, dns_sim) = (common::start().await, common::start().await);
    let _controller = start_controller(cluster, ns, DRIFT).await;
    // A zone someone made before hostplane came.
    common::isp(
        &dns_sim,
        hostplane::panel::mgr::AuthMode::Authinfo,
        hostplane::panel::mgr::Format::Json,
    )
    .create_dns_domain("", "theirs.example", "192.0.2.9", &["ns1.example.".into()])
    .await
    .expect("a zone made by hand");
    let set = hosting(&sim);
    let dns_module = fixtures::module(
        "dns1",
        hostplane::api::ModuleType::ISPmanager,
        &dns_sim.url("/ispmgr"),
        SharedHosting::SECRET,
    );
    let tariff = set
        .tariff()
        .hosting("basic", "u@ID@", "@ID@.hosting.example", Some("dns1"));
    let mut all = set.with(set.module(), tariff);
    all.push(dns_module.build().into());
    apply_fixtures(cluster, ns, all).await;
    let services = [
        service("mine").build(),
        service("theirs").domain("theirs.example").build(),
        service("kept")
            .with(|s| s.deletion_policy = DeletionPolicy::Orphan)
            .build(),
    ];
    apply_fixtures(cluster, ns, services).await;
    for name in ["mine", "theirs", "kept"] {
        eventually(cluster, ns, &format!("hsvc/{name}"), READY, "True").await;
    }
    let before = zones(&dns_sim);
    assert!(before.contains("mine.hosting.example"), "{before:?}");
    assert!(before.contains("kept.hosting.example"), "{before:?}");
    assert!(zones(&sim).is_empty(), "the zones are on the name server");

    for name in ["mine", "theirs", "kept"] {
        delete_and_wait(cluster, ns, &format!("hsvc/{name}"));
    }
    let after = zones(&dns_sim);
    assert!(
        !after.contains("mine.hosting.example"),
        "its own zone goes: {after:?}"
    );
    assert!(
        after.contains("theirs.example"),
        "a stranger's zone stays: {after:?}"
    );
    assert!(
        after.contains("kept.hosting.example"),
        "Orphan keeps its zone: {after:?}"
    );
    assert!(user(&sim, "umine").is_none() && user(&sim, "utheirs").is_none());
    assert!(user(&sim, "ukept").is_some());
}
