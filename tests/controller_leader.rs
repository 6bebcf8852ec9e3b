//! Leader election and shutdown (issue 11, item 4) with the real binary: `hostplane controller`
//! processes against the local API server and the in-process licensing simulator, with slow
//! license orders so that work is in flight when things happen.
//!
//! - Two processes at once (a rolling update): one license per need, and the standby does not
//!   reconcile at all.
//! - The leader killed with SIGKILL: the standby takes over only after the lease ran out (never
//!   while the old leader could still act) and finishes the work, still one license per need.
//! - SIGTERM: the reconciles in flight finish, the lease is handed back, exit status 0.

mod common;
mod support;

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use hostplane::api::common::Period;
use hostplane::simulator::state::License;
use hostplane::simulator::{FaultSpec, SimHandle};
use hostplane::testbed::LocalCluster;
use support::fixtures::{Fixture, Login, SoftwareLicenses};
use support::*;

const LEASE: &str = "lease/hostplane-controller";
/// Shorter than the defaults so that a takeover does not dominate the test's time.
const LEASE_DURATION: Duration = Duration::from_secs(6);

/// A licensing module on `sim`, a license tariff, a client and `count` license services.
fn manifests(sim: &SimHandle, prefix: &str, count: usize) -> Vec<Fixture> {
    let set = SoftwareLicenses(Login::new(
        sim.url("/billmgr"),
        common::ADMIN,
        common::PASSWORD,
    ));
    let today = sim.sim.clock().today().to_string();
    let services = (0..count).map(|i| {
        let ip = format!("192.0.2.{}", i + 1);
        SoftwareLicenses::service(&format!("{prefix}{i}"), &ip, Period::OneYear, &today)
            .build()
            .into()
    });
    set.fixtures().into_iter().chain(services).collect()
}

fn names(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i}")).collect()
}

/// Every license order takes `millis` at the simulator.
fn slow_orders(sim: &SimHandle, millis: u64) {
    sim.sim.faults().set(
        "billmgr",
        "soft.order.param",
        FaultSpec {
            latency_ms: millis,
            ..FaultSpec::default()
        },
    );
}

fn licenses(sim: &SimHandle) -> Vec<License> {
    sim.sim
        .read(|s| s.billmgr.licenses.values().cloned().collect())
}

fn orders_charged(sim: &SimHandle) -> usize {
    sim.sim.read(|s| {
        s.billmgr
            .charges
            .iter()
            .filter(|c| c.what == "order")
            .count()
    })
}

/// Each service has its own license and every license at the simulator is one of them.
fn assert_one_license_each(cluster: &LocalCluster, ns: &str, sim: &SimHandle, services: &[String]) {
    let mut bound = std::collections::BTreeSet::new();
    for svc in services {
        let id = jsonpath(cluster, ns, &format!("hsvc/{svc}"), "{.status.license.id}");
        assert!(!id.is_empty(), "{svc} records a license");
        assert!(
            bound.insert(id.clone()),
            "license {id} bound to two services"
        );
    }
    let at_simulator: std::collections::BTreeSet<String> =
        licenses(sim).iter().map(|l| l.id.to_string()).collect();
    assert_eq!(
        at_simulator, bound,
        "the licenses at the simulator are exactly those of the services"
    );
}

/// Waits for `Ready=True` (at most 90 s), showing the Ready message when it does not come.
async fn ready(cluster: &LocalCluster, ns: &str, svc: &str) {
    let object = format!("hsvc/{svc}");
    let deadline = Instant::now() + Duration::from_secs(90);
    while jsonpath(cluster, ns, &object, READY) != "True" {
        assert!(
            Instant::now() < deadline,
            "{object} is not Ready: {}",
            jsonpath(cluster, ns, &object, READY_MESSAGE)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The lease's holder, empty when free or absent.
fn holder(cluster: &LocalCluster, ns: &str) -> String {
    jsonpath(cluster, ns, LEASE, "{.spec.holderIdentity}")
}

fn lease_time(cluster: &LocalCluster, ns: &str, field: &str) -> jiff::Timestamp {
    let text = jsonpath(cluster, ns, LEASE, &format!("{{.spec.{field}}}"));
    text.parse()
        .unwrap_or_else(|e| panic!("lease {field} {text:?}: {e}"))
}

/// Polls until `check` holds, at most `timeout`.
async fn within(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One `hostplane controller` process; killed when dropped.
struct Controller {
    name: &'static str,
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Controller {
    /// Starts the binary for `ns` as pod `name` (its lease identity starts with the name).
    fn start(cluster: &LocalCluster, ns: &str, name: &'static str) -> Self {
        // For the plain `reqwest` calls to /readyz and /metrics.
        hostplane::panel::transport::install_crypto_provider();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_hostplane"))
            .args([
                "controller",
                "--namespace",
                ns,
                "--metrics-address",
                &format!("127.0.0.1:{port}"),
                "--concurrency=4",
                "--drift-interval=2",
                &format!("--lease-duration={}s", LEASE_DURATION.as_secs()),
                "--renew-deadline=4s",
                "--retry-period=1s",
                "--shutdown-grace=30s",
            ])
            .env("KUBECONFIG", cluster.kubeconfig_path())
            .env("POD_NAME", name)
            .env("RUST_LOG", "info")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("start hostplane controller");
        Self {
            name,
            child,
            port,
            log,
            _dir: dir,
        }
    }

    fn identity_prefix(&self) -> String {
        format!("{}_", self.name)
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn get(&self, path: &str) -> Option<(u16, String)> {
        let answer = reqwest::get(format!("http://127.0.0.1:{}{path}", self.port))
            .await
            .ok()?;
        let status = answer.status().as_u16();
        Some((status, answer.text().await.unwrap_or_default()))
    }

    /// Waits until `/readyz` answers 200 (caches synced; a standby is ready too).
    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some((200, _)) = self.get("/readyz").await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} never became ready; its log:\n{}",
                self.name,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn metrics(&self) -> String {
        self.get("/metrics")
            .await
            .map(|(_, t)| t)
            .unwrap_or_default()
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: the pid is our own child, not yet reaped, so it cannot have been reused.
        let done = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(done, 0, "signal {signal} to {}", self.name);
    }

    /// Waits for the process to exit (at most `timeout`).
    async fn exited(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {timeout:?}; its log:\n{}",
                self.name,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A rolling update runs the old and the new pod at once: with slow orders both see needs
/// without licenses for a long time, yet only the leader acts, so each need is bought once
/// (without the lease the issue measured two licenses per need).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_controller_processes_buy_one_license_per_need() {
    let ns = "leader-two";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    slow_orders(&sim, 700);
    let a = Controller::start(cluster, ns, "ctl-a");
    let b = Controller::start(cluster, ns, "ctl-b");
    a.wait_ready().await;
    b.wait_ready().await;
    within("a leader", Duration::from_secs(60), || {
        !holder(cluster, ns).is_empty()
    })
    .await;
    let services = names("two", 6);
    apply_fixtures(cluster, ns, manifests(&sim, "two", 6)).await;
    for svc in &services {
        ready(cluster, ns, svc).await;
    }
    // A standby that acted would have had as long as the leader to order.
    assert_eq!(sim.sim.call_count("billmgr", "soft.order.param"), 6);
    assert_eq!(orders_charged(&sim), 6, "one purchase per need");
    assert_one_license_each(cluster, ns, &sim, &services);

    let (leader, standby) = if holder(cluster, ns).starts_with(&a.identity_prefix()) {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let (led, stood_by) = (leader.metrics().await, standby.metrics().await);
    assert!(led.contains("hostplane_leader 1"), "{led}");
    assert!(stood_by.contains("hostplane_leader 0"), "{stood_by}");
    assert!(
        !stood_by.contains("hostplane_reconciles_total{"),
        "the standby reconciled: {stood_by}"
    );
    let readyz = standby.get("/readyz").await;
    assert_eq!(readyz, Some((200, "ready (standby)".to_owned())));
}

/// The leader dies mid-purchase without a word (SIGKILL): the standby waits until the lease
/// has run out as it observed it, never earlier, takes over and buys only what is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_is_replaced_after_its_lease_and_the_work_finishes() {
    let ns = "leader-kill";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    slow_orders(&sim, 1500);
    let mut a = Controller::start(cluster, ns, "ctl-a");
    let a_prefix = a.identity_prefix();
    within("ctl-a leads", Duration::from_secs(60), || {
        holder(cluster, ns).starts_with(&a_prefix)
    })
    .await;
    let b = Controller::start(cluster, ns, "ctl-b");
    b.wait_ready().await;
    let services = names("kill", 6);
    apply_fixtures(cluster, ns, manifests(&sim, "kill", 6)).await;
    within("two licenses bought", Duration::from_secs(90), || {
        licenses(&sim).len() >= 2
    })
    .await;
    a.signal(libc::SIGKILL);
    a.exited(Duration::from_secs(10)).await;
    let killed = Instant::now();
    // The dead leader's last renewal: nothing can renew the lease any more.
    let last_renewal = lease_time(cluster, ns, "renewTime");
    assert!(
        licenses(&sim).len() < 6,
        "the leader was killed with work left"
    );

    let b_prefix = b.identity_prefix();
    within("ctl-b takes over", Duration::from_secs(60), || {
        holder(cluster, ns).starts_with(&b_prefix)
    })
    .await;
    let took = killed.elapsed();
    let acquired = lease_time(cluster, ns, "acquireTime");
    // Same machine, same clock: the takeover came a full lease duration after the last
    // renewal (the standby counts from when it saw that renewal, which is later).
    let gap = acquired.duration_since(last_renewal);
    assert!(
        gap >= jiff::SignedDuration::try_from(LEASE_DURATION).unwrap()
            - jiff::SignedDuration::from_millis(100),
        "ctl-b took over {gap:?} after the last renewal, before the lease ran out"
    );
    eprintln!("ctl-b led {took:?} after the kill ({gap:?} after the last renewal)");

    for svc in &services {
        ready(cluster, ns, svc).await;
    }
    assert_eq!(orders_charged(&sim), 6, "one purchase per need");
    assert_one_license_each(cluster, ns, &sim, &services);
    assert!(b.metrics().await.contains("hostplane_leader 1"));
}

/// SIGTERM while orders are in flight: no new work starts, the reconciles in flight finish
/// (each license bought is recorded by its service), the lease is handed back for an
/// immediate takeover, and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_work_releases_the_lease_and_exits_zero() {
    let ns = "leader-term";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    slow_orders(&sim, 2000);
    let mut c = Controller::start(cluster, ns, "ctl-c");
    let prefix = c.identity_prefix();
    within("ctl-c leads", Duration::from_secs(60), || {
        holder(cluster, ns).starts_with(&prefix)
    })
    .await;
    apply_fixtures(cluster, ns, manifests(&sim, "term", 3)).await;
    within("an order in flight", Duration::from_secs(60), || {
        sim.sim.call_count("billmgr", "soft.order.param") >= 1
    })
    .await;
    c.signal(libc::SIGTERM);
    let status = c.exited(Duration::from_secs(60)).await;
    let logs = c.logs();
    assert_eq!(status.code(), Some(0), "exit status; log:\n{logs}");
    assert_eq!(
        holder(cluster, ns),
        "",
        "the lease is released; log:\n{logs}"
    );
    assert_eq!(
        jsonpath(cluster, ns, LEASE, "{.spec.leaseDurationSeconds}"),
        "1"
    );
    let bought = licenses(&sim);
    assert!(!bought.is_empty(), "the order in flight completed");
    let recorded: Vec<String> = names("term", 3)
        .iter()
        .map(|svc| jsonpath(cluster, ns, &format!("hsvc/{svc}"), "{.status.license.id}"))
        .collect();
    for license in &bought {
        assert!(
            recorded.contains(&license.id.to_string()),
            "license {} was bought but its reconcile was cut before recording it; recorded: {recorded:?}; log:\n{logs}",
            license.id
        );
    }
    assert!(
        !logs.contains(common::PASSWORD),
        "the module password reached the log"
    );
}

/// Another process writes itself into the lease (as a standby does once it judged the lease
/// expired, e.g. after this leader stalled): the leader notices at its next renewal, stops at
/// once and exits 1 so that the Deployment restarts it, leaving the new holder alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_loses_its_lease_exits_non_zero_and_leaves_it_alone() {
    let ns = "leader-lost";
    let cluster = cluster_with_namespace(ns);
    let mut d = Controller::start(cluster, ns, "ctl-d");
    let prefix = d.identity_prefix();
    within("ctl-d leads", Duration::from_secs(60), || {
        holder(cluster, ns).starts_with(&prefix)
    })
    .await;
    d.wait_ready().await;
    kubectl_ok(
        cluster,
        &[
            "patch",
            LEASE,
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"spec":{"holderIdentity":"intruder"}}"#,
        ],
    );
    let status = d.exited(Duration::from_secs(60)).await;
    let logs = d.logs();
    assert_eq!(status.code(), Some(1), "exit status; log:\n{logs}");
    assert!(logs.contains("lost the leader lease"), "{logs}");
    assert_eq!(
        holder(cluster, ns),
        "intruder",
        "the new holder is untouched"
    );
}
