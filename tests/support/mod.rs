//! Shared set-up of the controller tests: the real local API server with the CRDs, kubectl,
//! polling for a condition, and a controller started (and stoppable) in-process.
#![allow(dead_code)]

pub mod certs;
pub mod fixtures;
pub mod helm;

use std::path::Path;
use std::process::Output;
use std::sync::Once;
use std::time::{Duration, Instant};

use hostplane::controller::{self, Options};
use hostplane::testbed::{self, LocalCluster};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn kubectl(cluster: &LocalCluster, args: &[&str]) -> Output {
    cluster.kubectl().args(args).output().expect("run kubectl")
}

pub fn kubectl_ok(cluster: &LocalCluster, args: &[&str]) -> String {
    let out = kubectl(cluster, args);
    assert!(
        out.status.success(),
        "kubectl {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn kubectl_apply(cluster: &LocalCluster, ns: &str, yaml: &str) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), yaml).unwrap();
    kubectl_ok(
        cluster,
        &["apply", "-n", ns, "-f", file.path().to_str().unwrap()],
    );
}

/// Applies typed fixtures ([`fixtures`]) to `ns` through the API.
pub async fn apply_fixtures(
    cluster: &LocalCluster,
    ns: &str,
    objects: impl IntoIterator<Item = impl Into<fixtures::Fixture>>,
) {
    let client = cluster
        .client()
        .await
        .expect("a client of the local API server");
    fixtures::apply_all(&client, ns, objects.into_iter().map(Into::into))
        .await
        .expect("applying fixtures");
}

/// The shared cluster with the CRDs installed and a fresh namespace.
pub fn cluster_with_namespace(ns: &str) -> &'static LocalCluster {
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
        // kubectl cached the server's kinds before the CRDs existed; 1.20 does not look again
        // for a short name it misses (`hsvc`), so the first `kubectl get hsvc/...` would fail.
        // Fixtures go through the API, so no kubectl apply refreshes that cache: do it here.
        kubectl_ok(cluster, &["api-resources", "--api-group=hostplane.dev"]);
    });
    kubectl_ok(cluster, &["create", "namespace", ns]);
    cluster
}

/// Starts a controller for one namespace; abort the handle to "kill" it.
pub async fn start_controller(
    cluster: &LocalCluster,
    ns: &str,
    drift_interval: Duration,
) -> tokio::task::JoinHandle<()> {
    start_controller_with_clock(cluster, ns, drift_interval, Default::default()).await
}

/// Starts a controller whose billing days follow `clock` (e.g. the simulator's).
pub async fn start_controller_with_clock(
    cluster: &LocalCluster,
    ns: &str,
    drift_interval: Duration,
    clock: hostplane::controller::clock::Clock,
) -> tokio::task::JoinHandle<()> {
    let client = cluster.client().await.unwrap();
    let options = Options {
        namespaces: vec![ns.to_owned()],
        concurrency: 4,
        drift_interval,
        clock,
        ..Options::default()
    };
    tokio::spawn(async move {
        controller::run(client, options)
            .await
            .expect("controller runs")
    })
}

/// A controller on a runtime of its own, so that [`Killed::kill`] can stop every task it
/// spawned (reconciles, watchers, the drift loop) at once, as a killed process stops;
/// aborting the `controller::run` task alone would leave the tasks it spawned running.
pub struct Killable(Option<tokio::runtime::Runtime>);

impl Killable {
    /// A controller already spawned on `runtime`, its own.
    pub fn from_runtime(runtime: tokio::runtime::Runtime) -> Self {
        Self(Some(runtime))
    }

    /// Drops every task of this controller where it stands: nothing it had in flight
    /// finishes, nothing more is written.
    pub fn kill(mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Killable {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Starts a controller for one namespace on its own runtime (see [`Killable`]), its billing
/// days following `clock`.
pub fn start_killable_controller(
    cluster: &'static LocalCluster,
    ns: &str,
    drift_interval: Duration,
    clock: hostplane::controller::clock::Clock,
) -> Killable {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime for the controller");
    let ns = ns.to_owned();
    runtime.spawn(async move {
        let client = cluster.client().await.unwrap();
        let options = Options {
            namespaces: vec![ns],
            concurrency: 4,
            drift_interval,
            clock,
            ..Options::default()
        };
        controller::run(client, options)
            .await
            .expect("controller runs")
    });
    Killable(Some(runtime))
}

/// Deletes `object` and waits (at most 60 s) until it is gone, finalizers included.
pub fn delete_and_wait(cluster: &LocalCluster, ns: &str, object: &str) {
    kubectl_ok(
        cluster,
        &["delete", object, "-n", ns, "--wait=true", "--timeout=60s"],
    );
}

/// Waits (at most 60 s) until `object`, already being deleted, is gone. (kubectl 1.20's
/// `wait --for=delete` fails when the object is gone before it starts.)
pub async fn wait_gone(cluster: &LocalCluster, ns: &str, object: &str) {
    until(&format!("{object} is gone"), || {
        !kubectl(cluster, &["get", object, "-n", ns])
            .status
            .success()
    })
    .await;
}

/// One key of a Secret, decoded; empty when the Secret or the key is missing.
pub fn secret_key(cluster: &LocalCluster, ns: &str, name: &str, key: &str) -> String {
    let template = format!("go-template={{{{index .data \"{key}\" | base64decode}}}}");
    let out = kubectl(cluster, &["get", "secret", name, "-n", ns, "-o", &template]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The output of a jsonpath query of an object.
pub fn jsonpath(cluster: &LocalCluster, ns: &str, object: &str, path: &str) -> String {
    let out = kubectl(
        cluster,
        &["get", object, "-n", ns, "-o", &format!("jsonpath={path}")],
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls a jsonpath of an object until it equals `want` (at most `timeout`).
pub async fn eventually_within(
    cluster: &LocalCluster,
    ns: &str,
    object: &str,
    path: &str,
    want: &str,
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    loop {
        let got = jsonpath(cluster, ns, object, path);
        if got == want {
            return;
        }
        if Instant::now() >= deadline {
            // The conditions say why, which the value alone rarely does.
            let conditions = jsonpath(cluster, ns, object, "{.status.conditions}");
            panic!("{object} {path}: {got:?}, wanted {want:?}; conditions: {conditions}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Sets `hostplane.dev/reconcile-requested-at` on `object` to `mark`: asks for a reconcile
/// without waiting for it.
pub fn request_reconcile(cluster: &LocalCluster, ns: &str, object: &str, mark: &str) {
    kubectl_ok(
        cluster,
        &[
            "annotate",
            "--overwrite",
            object,
            "-n",
            ns,
            &format!("hostplane.dev/reconcile-requested-at={mark}"),
        ],
    );
}

/// Asks for a reconcile of `object` with the `hostplane.dev/reconcile-requested-at`
/// annotation set to `mark`, and waits until the controller echoes `mark` in
/// `status.lastHandledReconcileAt`, i.e. until a whole reconcile ran after the request.
pub async fn reconcile_now(cluster: &LocalCluster, ns: &str, object: &str, mark: &str) {
    request_reconcile(cluster, ns, object, mark);
    eventually(
        cluster,
        ns,
        object,
        "{.status.lastHandledReconcileAt}",
        mark,
    )
    .await;
}

pub async fn eventually(cluster: &LocalCluster, ns: &str, object: &str, path: &str, want: &str) {
    eventually_within(cluster, ns, object, path, want, Duration::from_secs(60)).await
}

/// Polls until `check` holds (at most 60 s), describing the failure with `what`.
pub async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub const READY: &str = r#"{.status.conditions[?(@.type=="Ready")].status}"#;
pub const READY_REASON: &str = r#"{.status.conditions[?(@.type=="Ready")].reason}"#;
pub const READY_MESSAGE: &str = r#"{.status.conditions[?(@.type=="Ready")].message}"#;
pub const STALLED: &str = r#"{.status.conditions[?(@.type=="Stalled")].status}"#;
pub const STALLED_MESSAGE: &str = r#"{.status.conditions[?(@.type=="Stalled")].message}"#;
pub const SYNCED_REASON: &str = r#"{.status.conditions[?(@.type=="Synced")].reason}"#;

/// A `MakeWriter` that keeps every log line, for checking that no secret is ever logged.
#[derive(Clone, Default)]
pub struct Capture(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

impl Capture {
    /// Installs a process-wide subscriber at debug level writing into the returned capture.
    pub fn install_global() -> Capture {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(capture.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        capture
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
