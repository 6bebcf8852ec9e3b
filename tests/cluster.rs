//! The API against a real kube-apiserver (etcd + kube-apiserver v1.20 on loopback, see
//! `hostplane::testbed`): the CRDs install and become Established, every example applies,
//! `kubectl get` shows the printer columns, and what the schema forbids the server refuses.
//!
//! These tests fail, never skip, when the server cannot start.

use std::path::Path;
use std::process::Output;
use std::sync::Once;
use std::time::{Duration, Instant};

use hostplane::testbed::{self, LocalCluster};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn kubectl(cluster: &LocalCluster, args: &[&str]) -> Output {
    cluster.kubectl().args(args).output().expect("run kubectl")
}

fn kubectl_ok(cluster: &LocalCluster, args: &[&str]) -> String {
    let out = kubectl(cluster, args);
    assert!(
        out.status.success(),
        "kubectl {} failed:\n{}",
        args.join(" "),
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The shared cluster with the CRDs installed and Established (once per test process).
fn cluster() -> &'static LocalCluster {
    static CRDS: Once = Once::new();
    let cluster = testbed::shared();
    CRDS.call_once(|| {
        let crds = root().join("crds");
        kubectl_ok(cluster, &["apply", "-f", crds.to_str().unwrap()]);
        kubectl_ok(
            cluster,
            &[
                "wait",
                "--for=condition=established",
                "--timeout=60s",
                "-f",
                crds.to_str().unwrap(),
            ],
        );
    });
    cluster
}

fn namespace(cluster: &LocalCluster, name: &str) -> String {
    kubectl_ok(cluster, &["create", "namespace", name]);
    name.to_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test]
async fn crds_install_and_become_established() {
    let cluster = cluster();
    let client = cluster.client().await.unwrap();
    let api: Api<CustomResourceDefinition> = Api::all(client);
    for kind in hostplane::api::KINDS {
        let plural = format!("{}s", kind.to_lowercase());
        let crd = api.get(&format!("{plural}.hostplane.dev")).await.unwrap();
        let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
        let established = conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        assert!(established, "{kind}: {conditions:?}");
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(&["hosting".to_owned()][..]),
            "{kind}"
        );
    }
}

#[test]
fn every_example_applies_and_is_listed_by_category() {
    let cluster = cluster();
    let ns = namespace(cluster, "examples");
    let out = kubectl_ok(
        cluster,
        &["apply", "-n", &ns, "-f", path(&root().join("examples"))],
    );
    assert!(!out.contains("unchanged"), "{out}");
    let listed = kubectl_ok(cluster, &["get", "hosting", "-n", &ns, "-o", "name"]);
    let count = |kind: &str| {
        listed
            .lines()
            .filter(|l| l.starts_with(&format!("{kind}.hostplane.dev/")))
            .count()
    };
    assert_eq!(count("processingmodule"), 6, "{listed}");
    assert_eq!(count("tariff"), 5, "{listed}");
    assert_eq!(count("client"), 4, "{listed}");
    assert_eq!(count("hostingservice"), 5, "{listed}");
    assert_eq!(count("licensepool"), 1, "{listed}");
    assert_eq!(count("serverpool"), 1, "{listed}");
    // Re-applying the same YAML changes nothing: what git holds is what the server holds.
    // (Secrets are left out: kubectl always reports stringData as configured.)
    let again = kubectl_ok(
        cluster,
        &["apply", "-n", &ns, "-f", path(&root().join("examples"))],
    );
    assert!(
        again
            .lines()
            .filter(|l| l.contains(".hostplane.dev/"))
            .all(|l| l.ends_with(" unchanged")),
        "{again}"
    );
    // Money survives the round trip as written.
    let price = kubectl_ok(
        cluster,
        &[
            "get",
            "tariff",
            "hosting-start",
            "-n",
            &ns,
            "-o",
            "jsonpath={.spec.prices.1m}",
        ],
    );
    assert_eq!(price, "3.00");
}

#[test]
fn kubectl_get_shows_the_printer_columns_and_short_names() {
    let cluster = cluster();
    let ns = namespace(cluster, "columns");
    kubectl_ok(
        cluster,
        &["apply", "-n", &ns, "-f", path(&root().join("examples"))],
    );
    let table = kubectl_ok(cluster, &["get", "hsvc", "-n", &ns]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "TARIFF",
            "CLIENT",
            "PERIOD",
            "PHASE",
            "EXTERNAL-NAME",
            "IP",
            "PAID-UNTIL",
            "READY",
            "SYNCED",
            "REASON",
            "AGE"
        ]
    );
    let row = table
        .lines()
        .find(|l| l.starts_with("jane-blog "))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[..4],
        ["jane-blog", "hosting-start", "jane-doe", "1m"],
        "{table}"
    );
    let wide = kubectl_ok(cluster, &["get", "hsvc", "-n", &ns, "-o", "wide"]);
    assert!(
        wide.lines().next().unwrap().contains("MODULE") && wide.contains("LICENSE"),
        "{wide}"
    );
    for (short, name) in [
        ("pm", "licensing"),
        ("tariff", "vps-s"),
        ("client", "jane-doe"),
        ("lpool", "ispsystem-licenses"),
        ("spool", "vps-ready"),
    ] {
        let out = kubectl_ok(cluster, &["get", short, name, "-n", &ns, "-o", "name"]);
        assert!(
            out.trim_end().ends_with(&format!("/{name}")),
            "{short}: {out}"
        );
    }
    let pm = kubectl_ok(cluster, &["get", "pm", "-n", &ns]);
    assert!(
        pm.lines().next().unwrap().split_whitespace().eq([
            "NAME", "TYPE", "URL", "PRIORITY", "READY", "SYNCED", "REASON", "AGE"
        ]),
        "{pm}"
    );
}

/// Every example in examples/invalid marked `server-rejects` breaks a schema rule: the API
/// server must refuse it, naming the same field the validator names.
#[test]
fn the_server_rejects_what_the_schema_forbids() {
    let cluster = cluster();
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("examples/invalid")).unwrap() {
        let file = entry.unwrap().path();
        let body = std::fs::read_to_string(&file).unwrap();
        if !body.contains("# server-rejects:") {
            continue;
        }
        let field = body
            .lines()
            .find_map(|l| l.strip_prefix("# expect-field: "))
            .unwrap();
        let stem = file.file_stem().unwrap().to_str().unwrap();
        let ns = namespace(cluster, &format!("reject-{stem}"));
        // --validate=false: kubectl's own client-side check must not stand in for the server's.
        let out = kubectl(
            cluster,
            &["apply", "--validate=false", "-n", &ns, "-f", path(&file)],
        );
        assert!(
            !out.status.success(),
            "{stem}: the server accepted it:\n{}",
            text(&out)
        );
        assert!(
            text(&out).contains(field),
            "{stem}: the server's error does not name {field}:\n{}",
            text(&out)
        );
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} server-rejects examples");
}

/// `kubectl explain` reads the schema the server publishes; CRD schemas reach the published
/// OpenAPI a moment after they are Established.
#[test]
fn kubectl_explain_shows_the_field_docs() {
    let cluster = cluster();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = kubectl(cluster, &["explain", "tariff.spec.charging.proRataDay"]);
        let shown = text(&out);
        if out.status.success() && shown.contains("pro-rata day")
            || shown.contains("Calendar mode only")
        {
            assert!(shown.contains("July 12"), "{shown}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "kubectl explain never showed the docs:\n{shown}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let hsvc = kubectl_ok(cluster, &["explain", "hsvc.spec.renewals"]);
    assert!(
        hsvc.contains("can never renew twice")
            || hsvc.contains("the list, not the number of applies"),
        "{hsvc}"
    );
}
