//! RBAC proven by use: the controller runs as the chart's ServiceAccount
//! (`system:serviceaccount:hostplane-system:hostplane`, a token the local API server knows),
//! bound by nothing but the chart's own rendered RBAC, as the chart runs it: every namespace,
//! leader election in the release namespace. One service of each product goes Ready and is
//! deleted; a 403 anywhere (a failed reconcile, an event that could not be published) fails.
//!
//! `every_rule_is_needed` (ignored: about eight minutes) removes each rule in turn and shows
//! that the same run then fails:
//! `cargo test --test rbac -- --ignored --nocapture`.

mod common;
mod support;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures::FutureExt;
use hostplane::api::common::Period;
use hostplane::api::processing_module::VmManagerApiVersion;
use hostplane::controller::{self, Options, leader};
use hostplane::simulator::SimHandle;
use hostplane::testbed::{LocalCluster, SERVICE_ACCOUNT};
use serde_json::{Value, json};
use support::fixtures::{self, FixtureSet, Login, SharedHosting, SoftwareLicenses, VirtualServers};
use support::*;

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(Capture::install_global)
}

/// The chart's rendered RBAC objects (ClusterRole and binding, the Lease Role and binding),
/// with the values `set` (`--set` arguments).
fn chart_rbac(set: &[&str]) -> Vec<Value> {
    let mut args = vec!["--show-only", "templates/rbac.yaml"];
    args.extend(set.iter().flat_map(|value| ["--set", value]));
    helm::template(&args)
}

/// Every rule of the chart, as (object index, rule index), in rendering order.
fn rule_positions(rbac: &[Value]) -> Vec<(usize, usize)> {
    rbac.iter()
        .enumerate()
        .flat_map(|(o, object)| {
            let rules = object["rules"].as_array().map_or(0, Vec::len);
            (0..rules).map(move |r| (o, r))
        })
        .collect()
}

/// Applies the chart's RBAC rendered with `set`, without the rule at `without` when given,
/// and waits until the authorizer sees it.
fn bind(cluster: &LocalCluster, set: &[&str], without: Option<(usize, usize)>) {
    let mut rbac = chart_rbac(set);
    if let Some((o, r)) = without {
        rbac[o]["rules"].as_array_mut().unwrap().remove(r);
    }
    let list = json!({"apiVersion": "v1", "kind": "List", "items": rbac});
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), list.to_string()).unwrap();
    kubectl_ok(cluster, &["apply", "-f", file.path().to_str().unwrap()]);
    // RBAC reaches the authorizer through its informer, well within this on the local server.
    // (Polling `auth can-i` could not tell a rule not yet seen from one removed on purpose.)
    std::thread::sleep(Duration::from_millis(1500));
}

/// Creates namespace `ns` unless it exists.
fn namespace(cluster: &LocalCluster, ns: &str) {
    if !kubectl(cluster, &["get", "namespace", ns]).status.success() {
        kubectl_ok(cluster, &["create", "namespace", ns]);
    }
}

/// The namespace of the release, where the Lease lives.
fn release_namespace(cluster: &LocalCluster) {
    let ns = SERVICE_ACCOUNT.0;
    namespace(cluster, ns);
    // Each run starts without a Lease, so that `create` is exercised and no holder of a
    // killed run is waited out.
    kubectl(
        cluster,
        &[
            "delete",
            "lease",
            "hostplane-controller",
            "-n",
            ns,
            "--ignore-not-found",
        ],
    );
}

/// A controller as the chart runs it, on its own runtime, as the ServiceAccount, watching
/// `namespaces` (every namespace when empty).
fn start_as_service_account(
    cluster: &'static LocalCluster,
    sim: &SimHandle,
    namespaces: &[&str],
) -> Killable {
    let namespaces: Vec<String> = namespaces.iter().map(|ns| ns.to_string()).collect();
    let sim_clock = sim.sim.clock().clone();
    let clock = hostplane::controller::clock::Clock::from_fn(move || sim_clock.now());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime for the controller");
    runtime.spawn(async move {
        let client = cluster
            .service_account_client()
            .await
            .expect("a client with the ServiceAccount's token");
        let options = Options {
            namespaces,
            concurrency: 4,
            drift_interval: Duration::from_secs(30),
            clock,
            leader_election: Some(leader::Config::new(
                "hostplane-controller",
                SERVICE_ACCOUNT.0.to_owned(),
            )),
            ..Options::default()
        };
        // A lost lease or a 403 while electing ends the run; the services then never go
        // Ready, which the scenario reports.
        if let Err(error) = controller::run(client, options).await {
            tracing::error!(%error, "controller stopped");
        }
    });
    Killable::from_runtime(runtime)
}

/// Log lines that say the API server refused the controller.
fn refusals(since: usize) -> Vec<String> {
    let text = capture().text();
    text[since.min(text.len())..]
        .lines()
        .filter(|l| l.contains("forbidden") || l.contains("Forbidden") || l.contains(" 403"))
        .map(str::to_owned)
        .collect()
}

/// One service of each product in its own namespace (suffix `tag`), each Ready with its
/// connection Secret, then deleted.
async fn scenario(cluster: &'static LocalCluster, sim: &SimHandle, tag: &str) {
    let today = sim.sim.clock().today().to_string();
    let hosting_ns = format!("rbac-hosting{tag}");
    let licence_ns = format!("rbac-licences{tag}");
    let vps_ns = format!("rbac-vps{tag}");
    for ns in [&hosting_ns, &licence_ns, &vps_ns] {
        namespace(cluster, ns);
    }
    let login = |path: &str| Login::new(sim.url(path), common::ADMIN, common::PASSWORD);

    let hosting = SharedHosting(login("/ispmgr"));
    apply_fixtures(cluster, &hosting_ns, hosting.fixtures()).await;
    // ispmanager user names are unique per panel: one per run.
    let site_name = format!("site{}", tag.replace('-', ""));
    let site = SharedHosting::service(&site_name, &today).connection_secret("site-connection");
    apply_fixtures(cluster, &hosting_ns, [site.build()]).await;

    let licences = SoftwareLicenses(login("/billmgr"));
    let mut licence_set = licences.fixtures();
    licence_set.push(fixtures::license_pool("pool", SoftwareLicenses::MODULE).into());
    apply_fixtures(cluster, &licence_ns, licence_set).await;
    apply_fixtures(
        cluster,
        &licence_ns,
        [SoftwareLicenses::service("lic", "192.0.2.10", Period::OneMonth, &today).build()],
    )
    .await;

    let servers = VirtualServers(Login::new(
        sim.base_url.clone(),
        common::ADMIN,
        common::PASSWORD,
    ));
    apply_fixtures(
        cluster,
        &vps_ns,
        servers.with(servers.module(VmManagerApiVersion::V6), servers.tariff()),
    )
    .await;
    apply_fixtures(
        cluster,
        &vps_ns,
        [VirtualServers::service("web", &today)
            .connection_secret("web-connection")
            .build()],
    )
    .await;

    let site_object = format!("hsvc/{site_name}");
    for (ns, object) in [
        (&hosting_ns, site_object.as_str()),
        (&licence_ns, "hsvc/lic"),
        (&vps_ns, "hsvc/web"),
    ] {
        eventually(cluster, ns, object, READY, "True").await;
    }
    assert!(!secret_key(cluster, &hosting_ns, "site-connection", "password").is_empty());
    assert!(!secret_key(cluster, &vps_ns, "web-connection", "password").is_empty());
    eventually(cluster, &licence_ns, "lpool/pool", READY, "True").await;
    eventually(cluster, &hosting_ns, "tariff/start", READY, "True").await;
    eventually(cluster, &hosting_ns, "client/jane", READY, "True").await;

    // Deletion: the panel side goes, then the finalizer (a patch), then the object.
    for (ns, object) in [
        (&hosting_ns, site_object.as_str()),
        (&licence_ns, "hsvc/lic"),
        (&vps_ns, "hsvc/web"),
    ] {
        kubectl_ok(cluster, &["delete", object, "-n", ns, "--wait=false"]);
        wait_gone(cluster, ns, object).await;
    }
    // The licence went to the pool, which reports it.
    eventually(cluster, &licence_ns, "lpool/pool", "{.status.pooled}", "1").await;

    // Events were published (events.k8s.io, by the controller).
    let events = kubectl_ok(
        cluster,
        &[
            "get",
            "events.events.k8s.io",
            "-n",
            &hosting_ns,
            "-o",
            "jsonpath={.items[*].reportingController}",
        ],
    );
    assert!(
        events.contains("hostplane"),
        "no events published: {events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_works_with_exactly_the_charts_rbac() {
    capture();
    let cluster = hostplane::testbed::shared();
    cluster_with_namespace("rbac-setup");
    release_namespace(cluster);
    bind(cluster, &[], None);
    // Without the binding the identity can do nothing: the test is about the chart's rules.
    let sim = common::start().await;
    common::quick_vm6_tasks(&sim);
    let since = capture().text().len();
    let controller = start_as_service_account(cluster, &sim, &[]);
    scenario(cluster, &sim, "").await;
    let holder = kubectl_ok(
        cluster,
        &[
            "get",
            "lease",
            "hostplane-controller",
            "-n",
            SERVICE_ACCOUNT.0,
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ],
    );
    assert!(!holder.is_empty(), "the controller leads through the Lease");
    scrape_after(cluster).await;
    controller.kill();
    let refused = refusals(since);
    assert!(
        refused.is_empty(),
        "the API server refused the controller:\n{}",
        refused.join("\n")
    );

    // The chart with a list of namespaces: a Role in each, no cluster-wide right at all (the
    // cluster-wide binding goes first), and the controller told the same list. In this one
    // test, after the run above: the two bindings are of one identity, so they cannot be
    // tried side by side.
    for binding in chart_rbac(&[]) {
        if binding["kind"] == "ClusterRoleBinding" {
            let name = binding["metadata"]["name"].as_str().unwrap();
            kubectl_ok(cluster, &["delete", "clusterrolebinding", name]);
        }
    }
    let listed = ["rbac-hosting-ns", "rbac-licences-ns", "rbac-vps-ns"];
    for ns in listed {
        namespace(cluster, ns);
    }
    release_namespace(cluster);
    bind(
        cluster,
        &[&format!("namespaces={{{}}}", listed.join(","))],
        None,
    );
    // A namespace outside the list, with a client in it: never looked at.
    let outside = "rbac-outside";
    namespace(cluster, outside);
    let jane = fixtures::client("jane", "Jane", "jane@example.com");
    apply_fixtures(cluster, outside, [jane]).await;
    let since = capture().text().len();
    let controller = start_as_service_account(cluster, &sim, &listed);
    scenario(cluster, &sim, "-ns").await;
    controller.kill();
    assert_eq!(jsonpath(cluster, outside, "client/jane", "{.status}"), "");
    let refused = refusals(since);
    assert!(
        refused.is_empty(),
        "with a list of namespaces, the API server refused the controller:\n{}",
        refused.join("\n")
    );
}

/// `/metrics`, served as `hostplane controller` serves it, after [`scenario`]: the licence it
/// bought, objects by kind and phase, and errors by reason (a service of a missing tariff:
/// Stalled, still Pending).
async fn scrape_after(cluster: &'static LocalCluster) {
    let ns = "rbac-hosting";
    apply_fixtures(
        cluster,
        ns,
        [SharedHosting::service("orphan", "2026-01-01")
            .with(|s| s.tariff_ref.name = "missing".into())
            .build()],
    )
    .await;
    eventually(cluster, ns, "hsvc/orphan", STALLED, "True").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let server = tokio::spawn(controller::metrics::serve(address));
    let url = format!("http://{address}/metrics");
    let mut text = String::new();
    for _ in 0..50 {
        if let Ok(answer) = reqwest::get(&url).await {
            text = answer.text().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.abort();
    for line in [
        "hostplane_licenses_total{module=\"rbac-licences/lic1\",source=\"bought\"} 1",
        "hostplane_objects{kind=\"ProcessingModule\",phase=\"Ready\"} 3",
        "hostplane_objects{kind=\"Tariff\",phase=\"Ready\"} 3",
        "hostplane_objects{kind=\"LicensePool\",phase=\"Ready\"} 1",
        "hostplane_objects{kind=\"HostingService\",phase=\"Pending\"} 1",
    ] {
        assert!(text.contains(line), "no {line} in /metrics:\n{text}");
    }
    let prefix =
        "hostplane_reconcile_errors_total{kind=\"HostingService\",reason=\"ReferenceNotFound\"} ";
    let errors = text
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no ReferenceNotFound errors in /metrics:\n{text}"));
    assert!(errors.parse::<u64>().unwrap() >= 1, "{errors}");
}

/// Removes each rule of the chart in turn and shows that the run then fails: the services do
/// not all go Ready and deleted within the time, or the API server refused something (an event
/// that could not be published fails nothing else, but is logged).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "about eight minutes; run with --ignored"]
async fn every_rule_is_needed() {
    capture();
    let cluster = hostplane::testbed::shared();
    cluster_with_namespace("rbac-setup");
    let sim = common::start().await;
    common::quick_vm6_tasks(&sim);
    let positions = rule_positions(&chart_rbac(&[]));
    let mut unproven = Vec::new();
    for (i, position) in positions.iter().enumerate() {
        release_namespace(cluster);
        bind(cluster, &[], Some(*position));
        let since = capture().text().len();
        let controller = start_as_service_account(cluster, &sim, &[]);
        let started = Instant::now();
        let tag = format!("-{i}");
        // A failed wait panics; caught here, it is this rule's failing run.
        let run = tokio::time::timeout(
            Duration::from_secs(45),
            std::panic::AssertUnwindSafe(scenario(cluster, &sim, &tag)).catch_unwind(),
        )
        .await;
        controller.kill();
        let completed = matches!(run, Ok(Ok(())));
        let refused = refusals(since);
        let rule = &chart_rbac(&[])[position.0]["rules"][position.1];
        eprintln!(
            "without rule {rule}: {} after {:?}, {} refusals",
            if completed { "completed" } else { "failed" },
            started.elapsed(),
            refused.len()
        );
        if completed && refused.is_empty() {
            unproven.push(rule.to_string());
        }
    }
    bind(cluster, &[], None);
    assert!(unproven.is_empty(), "rules no run needed: {unproven:#?}");
}
