//! The controller against a real kube-apiserver: tariffs and clients are judged with the
//! validator's rules, become Ready or Stalled with a reason a person can act on, recover when
//! a missing reference appears, emit events, and stop writing once converged.

mod support;

use std::time::{Duration, Instant};

use support::*;

/// The shared cluster with CRDs installed, a fresh namespace, and a controller for it.
async fn setup(ns: &str) -> &'static hostplane::testbed::LocalCluster {
    let cluster = cluster_with_namespace(ns);
    start_controller(cluster, ns, Duration::from_secs(300)).await;
    cluster
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_tariffs_and_clients_become_ready_with_counts() {
    let ns = "ctl-examples";
    let cluster = setup(ns).await;
    kubectl_ok(
        cluster,
        &[
            "apply",
            "-n",
            ns,
            "-f",
            root().join("examples").to_str().unwrap(),
        ],
    );
    for tariff in [
        "hosting-start",
        "hosting-business",
        "vps-s",
        "vps-legacy-kvm",
        "license-ispmanager-lite",
    ] {
        eventually(cluster, ns, &format!("tariff/{tariff}"), READY, "True").await;
    }
    for client in ["acme-shop", "jane-doe", "late-payer", "server-pool"] {
        eventually(cluster, ns, &format!("client/{client}"), READY, "True").await;
    }
    eventually(
        cluster,
        ns,
        "tariff/hosting-start",
        "{.status.services}",
        "2",
    )
    .await;
    eventually(
        cluster,
        ns,
        "tariff/hosting-business",
        "{.status.orderablePeriods}",
        r#"["3m","1y"]"#,
    )
    .await;
    eventually(cluster, ns, "client/jane-doe", "{.status.services}", "2").await;
    let generation = kubectl_ok(
        cluster,
        &[
            "get",
            "tariff/vps-s",
            "-n",
            ns,
            "-o",
            "jsonpath={.metadata.generation}",
        ],
    );
    eventually(
        cluster,
        ns,
        "tariff/vps-s",
        "{.status.observedGeneration}",
        &generation,
    )
    .await;

    // Converged: nothing new to learn, so no further writes.
    let before = kubectl_ok(
        cluster,
        &[
            "get",
            "tariffs,clients",
            "-n",
            ns,
            "-o",
            "jsonpath={.items[*].metadata.resourceVersion}",
        ],
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = kubectl_ok(
        cluster,
        &[
            "get",
            "tariffs,clients",
            "-n",
            ns,
            "-o",
            "jsonpath={.items[*].metadata.resourceVersion}",
        ],
    );
    assert_eq!(
        before, after,
        "the controller kept writing after convergence"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tariff_with_a_missing_module_is_stalled_until_the_module_appears() {
    let ns = "ctl-missing";
    let cluster = setup(ns).await;
    kubectl_apply(
        cluster,
        ns,
        "apiVersion: hostplane.dev/v1alpha1\nkind: Tariff\nmetadata: {name: start}\nspec:\n  productType: SharedHosting\n  processingModules: [{name: isp}]\n  prices: {1m: \"3.00\"}\n  hosting: {accountTemplate: start}\n",
    );
    eventually(cluster, ns, "tariff/start", STALLED, "True").await;
    eventually(
        cluster,
        ns,
        "tariff/start",
        READY_REASON,
        "ReferenceNotFound",
    )
    .await;
    let message = kubectl_ok(
        cluster,
        &[
            "get",
            "tariff/start",
            "-n",
            ns,
            "-o",
            &format!("jsonpath={STALLED_MESSAGE}"),
        ],
    );
    assert!(
        message
            .contains(r#"spec.processingModules[0]: ProcessingModule "isp" is not in namespace"#),
        "{message}"
    );

    kubectl_apply(
        cluster,
        ns,
        "apiVersion: hostplane.dev/v1alpha1\nkind: ProcessingModule\nmetadata: {name: isp}\nspec:\n  type: ISPmanager\n  url: https://panel.example.com:1500/ispmgr\n  credentialsSecretRef: {name: isp-credentials}\n",
    );
    eventually(cluster, ns, "tariff/start", READY, "True").await;
    eventually(cluster, ns, "tariff/start", STALLED, "False").await;

    let events = kubectl_ok(
        cluster,
        &[
            "get",
            "events",
            "-n",
            ns,
            "--field-selector",
            "involvedObject.name=start",
            "-o",
            "jsonpath={.items[*].reason}",
        ],
    );
    assert!(
        events.contains("ReferenceNotFound") && events.contains("Available"),
        "events: {events}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_the_schema_cannot_say_stalls_the_tariff_with_its_field() {
    let ns = "ctl-invalid";
    let cluster = setup(ns).await;
    let file = root().join("examples/invalid/resource-included-above-max.yaml");
    kubectl_ok(cluster, &["apply", "-n", ns, "-f", file.to_str().unwrap()]);
    eventually(cluster, ns, "tariff/start", READY_REASON, "InvalidSpec").await;
    let message = kubectl_ok(
        cluster,
        &[
            "get",
            "tariff/start",
            "-n",
            ns,
            "-o",
            &format!("jsonpath={STALLED_MESSAGE}"),
        ],
    );
    assert_eq!(
        message,
        "spec.resources[0].included: 20480 is outside min..max (1024..10240)"
    );

    kubectl_ok(
        cluster,
        &[
            "patch",
            "tariff/start",
            "-n",
            ns,
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/resources/0/included","value":2048}]"#,
        ],
    );
    eventually(cluster, ns, "tariff/start", READY, "True").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_requested_at_is_echoed_in_status() {
    let ns = "ctl-requested";
    let cluster = setup(ns).await;
    kubectl_apply(
        cluster,
        ns,
        "apiVersion: hostplane.dev/v1alpha1\nkind: Client\nmetadata: {name: jane}\nspec: {displayName: Jane, email: jane@example.org}\n",
    );
    eventually(cluster, ns, "client/jane", READY, "True").await;
    kubectl_ok(
        cluster,
        &[
            "annotate",
            "client/jane",
            "-n",
            ns,
            "hostplane.dev/reconcile-requested-at=2026-11-23T10:00:00Z",
        ],
    );
    eventually(
        cluster,
        ns,
        "client/jane",
        "{.status.lastHandledReconcileAt}",
        "2026-11-23T10:00:00Z",
    )
    .await;
}

/// The binary as operators run it: `hostplane controller` with a kubeconfig answers health,
/// readiness and Prometheus metrics on `--metrics-address`, and logs JSON lines with
/// `--log-format json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_binary_serves_health_readiness_and_metrics() {
    let ns = "ctl-binary";
    let log = tempfile::NamedTempFile::new().expect("a log file");
    let cluster = setup(ns).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hostplane"))
        .args([
            "controller",
            "--namespace",
            ns,
            "--metrics-address",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
        ])
        .env("KUBECONFIG", cluster.kubeconfig_path())
        .stdout(log.reopen().expect("the log file"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start hostplane controller");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = loop {
        let answer = reqwest::get(format!("{base}/readyz")).await;
        if let Ok(r) = answer
            && r.status().is_success()
        {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let health = reqwest::get(format!("{base}/healthz"))
        .await
        .map(|r| r.status().as_u16());
    // Work for it: three clients, each reconciled at least once.
    let clients = ["ann", "bob", "cid"]
        .map(|name| support::fixtures::client(name, name, &format!("{name}@example.org")));
    apply_fixtures(cluster, ns, clients).await;
    for name in ["ann", "bob", "cid"] {
        eventually(cluster, ns, &format!("client/{name}"), READY, "True").await;
    }
    let metrics = match reqwest::get(format!("{base}/metrics")).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready, "/readyz never answered 200");
    assert_eq!(health.ok(), Some(200));
    assert!(metrics.contains("hostplane_ready 1"), "{metrics}");
    // The histogram counts every reconcile the counter counts, and the +Inf bucket all.
    let value = |line: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {line} in:\n{metrics}"))
    };
    let total = value("hostplane_reconciles_total{kind=\"Client\",outcome=\"success\"}");
    let count =
        value("hostplane_reconcile_duration_seconds_count{kind=\"Client\",result=\"success\"}");
    let infinite = value(
        "hostplane_reconcile_duration_seconds_bucket{kind=\"Client\",result=\"success\",le=\"+Inf\"}",
    );
    assert!(total >= 3, "three clients reconciled: {total}");
    assert_eq!((count, infinite), (total, total), "{metrics}");
    assert!(
        metrics.contains("hostplane_reconciles_in_flight{kind=\"Client\"} "),
        "{metrics}"
    );
    // `--log-format json`: every line one JSON object with a level and a message.
    let lines = std::fs::read_to_string(log.path()).expect("the log");
    assert!(lines.lines().count() >= 3, "{lines}");
    for line in lines.lines() {
        let entry: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(entry["level"].is_string(), "{line}");
        assert!(entry["fields"].is_object(), "{line}");
    }
}
