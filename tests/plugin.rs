//! `kubectl hostplane` and shell completions: the binary linked as `kubectl-hostplane` run by
//! the real kubectl's plugin mechanism against the local API server (`status`, `pause`,
//! `resume`, `reconcile`), and `hostplane completion bash|zsh|fish`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use hostplane::api::processing_module::ModuleType;
use hostplane::api::{HostingService, LicensePool, ProcessingModule};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use support::fixtures::{self, SharedHosting};
use support::*;

fn hostplane() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hostplane"))
}

/// A folder holding `kubectl-hostplane`, a link to the binary (as the README installs it).
fn plugin_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_hostplane"),
            dir.path().join("kubectl-hostplane"),
        )
        .unwrap();
        dir
    })
    .path()
}

/// `kubectl hostplane ARGS` through the real kubectl, which finds the plugin on PATH (global
/// flags before a plugin's name are not passed on by kubectl, so the kubeconfig goes by
/// $KUBECONFIG).
fn kubectl_hostplane(cluster: &hostplane::testbed::LocalCluster, args: &[&str]) -> Output {
    let kubectl = PathBuf::from(cluster.kubectl().get_program());
    let path = format!(
        "{}:{}",
        plugin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new(kubectl)
        .arg("hostplane")
        .args(args)
        .env("PATH", path)
        .env("KUBECONFIG", cluster.kubeconfig_path())
        .output()
        .expect("run kubectl hostplane")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn completion_scripts_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "_hostplane()"),
        ("zsh", "#compdef hostplane"),
        ("fish", "complete -c hostplane"),
    ] {
        let out = hostplane().args(["completion", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {}", text(&out));
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for subcommand in ["controller", "status", "reconcile", "validate"] {
            assert!(
                script.contains(subcommand),
                "{shell} completes {subcommand}"
            );
        }
        if shell == "bash" {
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), &script).unwrap();
            let syntax = Command::new("bash")
                .arg("-n")
                .arg(file.path())
                .output()
                .unwrap();
            assert!(syntax.status.success(), "bash -n: {}", text(&syntax));
        }
    }
    let out = hostplane()
        .args(["completion", "powershell"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "an unknown shell is refused");
}

#[test]
fn under_the_plugin_name_it_calls_itself_kubectl_hostplane() {
    let out = Command::new(plugin_dir().join("kubectl-hostplane"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = text(&out);
    assert!(help.contains("Usage: kubectl hostplane"), "{help}");
    assert!(help.contains("status") && help.contains("pause"), "{help}");
    let own = text(&hostplane().arg("--help").output().unwrap());
    assert!(own.contains("Usage: hostplane"), "{own}");
}

async fn patch_status<K>(ns: &str, name: &str, status: Value)
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let client = hostplane::testbed::shared().client().await.unwrap();
    Api::<K>::namespaced(client, ns)
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .expect("status written");
}

fn annotation(
    cluster: &hostplane::testbed::LocalCluster,
    ns: &str,
    object: &str,
    key: &str,
) -> String {
    let escaped = key.replace('.', "\\.");
    jsonpath(
        cluster,
        ns,
        object,
        &format!("{{.metadata.annotations.{escaped}}}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_pause_and_resume_through_kubectl() {
    let ns = "plugin-status";
    let cluster = cluster_with_namespace(ns);
    let today = "2026-01-01";
    apply_fixtures(
        cluster,
        ns,
        [
            fixtures::module(
                "isp1",
                ModuleType::ISPmanager,
                "https://isp.example:1500/ispmgr",
                "isp",
            )
            .build()
            .into(),
            fixtures::license_pool("pool", "lic1").into(),
            SharedHosting::service("a", today).build().into(),
            SharedHosting::service("b", today).build().into(),
            fixtures::Fixture::from(SharedHosting::service("c", today).build()),
        ],
    )
    .await;
    let ready = |reason: &str| json!({"type": "Ready", "status": "True", "reason": reason, "lastTransitionTime": "2026-01-01T00:00:00Z"});
    patch_status::<ProcessingModule>(ns, "isp1", json!({"conditions": [ready("Connected")]})).await;
    patch_status::<HostingService>(
        ns,
        "a",
        json!({"phase": "Active", "conditions": [ready("Available")]}),
    )
    .await;
    patch_status::<HostingService>(ns, "b", json!({"phase": "Provisioning"})).await;
    patch_status::<HostingService>(
        ns,
        "c",
        json!({"phase": "Failed", "conditions": [
            {"type": "Stalled", "status": "True", "reason": "AccountExists", "message": "ua exists at the panel", "lastTransitionTime": "2026-01-01T00:00:00Z"}
        ]}),
    )
    .await;
    patch_status::<LicensePool>(
        ns,
        "pool",
        json!({"pooled": 2, "counts": [{"licenseType": "3541", "count": 2}]}),
    )
    .await;

    let out = kubectl_hostplane(cluster, &["status", "-n", ns]);
    let report = text(&out);
    assert_eq!(out.status.code(), Some(1), "something fails: {report}");
    for line in [
        &format!("Namespace {ns}"),
        "isp1",
        "Ready=True Connected",
        "Services: 1 Active, 1 Failed, 1 Provisioning",
        "Licence pool pool (lic1): 2 pooled (3541: 2)",
        "hsvc/c Stalled AccountExists: ua exists at the panel",
    ] {
        assert!(report.contains(line), "no {line:?} in:\n{report}");
    }
    let json_out = kubectl_hostplane(cluster, &["status", "-n", ns, "-o", "json"]);
    let parsed: Value = serde_json::from_slice(&json_out.stdout).expect("JSON");
    assert_eq!(parsed[0]["servicesByPhase"]["Active"], 1);
    assert_eq!(parsed[0]["failing"][0]["reason"], "AccountExists");

    let paused = "hostplane.dev/paused";
    let out = kubectl_hostplane(cluster, &["pause", "a", "hsvc/b", "-n", ns]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(annotation(cluster, ns, "hsvc/a", paused), "true");
    assert_eq!(annotation(cluster, ns, "hsvc/b", paused), "true");
    let report = text(&kubectl_hostplane(cluster, &["status", "-n", ns]));
    assert!(report.contains("Paused: hsvc/a, hsvc/b"), "{report}");
    let out = kubectl_hostplane(cluster, &["resume", "hostingservice/a", "-n", ns]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(annotation(cluster, ns, "hsvc/a", paused), "");
    assert_eq!(
        annotation(cluster, ns, "hsvc/b", paused),
        "true",
        "only what was named"
    );

    let refused = kubectl_hostplane(cluster, &["pause", "pm/isp1", "-n", ns]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    let missing = kubectl_hostplane(cluster, &["pause", "nosuch", "-n", ns]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));

    let empty = kubectl_hostplane(cluster, &["status", "-n", "default"]);
    assert_eq!(empty.status.code(), Some(0), "{}", text(&empty));
}

/// `reconcile` sets the request; `--wait` returns once the controller echoed it (a tariff here,
/// reconciled by a real controller), and exits 1 when nothing handles it in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_requests_a_pass_and_waits_for_it() {
    let ns = "plugin-reconcile";
    let cluster = cluster_with_namespace(ns);
    let set = SharedHosting(fixtures::Login::new(
        "https://isp.example:1500/ispmgr".into(),
        "admin",
        "unused",
    ));
    apply_fixtures(cluster, ns, [set.tariff().build()]).await;

    let unhandled = kubectl_hostplane(
        cluster,
        &["reconcile", "tariff/start", "-n", ns, "--wait", "1"],
    );
    assert_eq!(
        unhandled.status.code(),
        Some(1),
        "no controller: {}",
        text(&unhandled)
    );
    let mark = annotation(
        cluster,
        ns,
        "tariff/start",
        "hostplane.dev/reconcile-requested-at",
    );
    assert!(mark.starts_with("20"), "a timestamp: {mark:?}");

    let _controller = start_controller(cluster, ns, Duration::from_secs(300)).await;
    let out = kubectl_hostplane(
        cluster,
        &["reconcile", "tariff/start", "-n", ns, "--wait", "60"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("tariffs/start reconciled"),
        "{}",
        text(&out)
    );
    let handled = jsonpath(
        cluster,
        ns,
        "tariff/start",
        "{.status.lastHandledReconcileAt}",
    );
    let requested = annotation(
        cluster,
        ns,
        "tariff/start",
        "hostplane.dev/reconcile-requested-at",
    );
    assert_eq!(handled, requested);
    assert_ne!(requested, mark, "a new request each time");
}
