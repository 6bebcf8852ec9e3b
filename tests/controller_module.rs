//! The ProcessingModule reconciler against a real kube-apiserver and the in-process panel
//! simulator: a module with good credentials becomes Ready `Connected` with its account count;
//! bad credentials, a missing Secret and an unreachable panel each say so with their own
//! reason; fixing or creating the Secret heals the module without touching it; and the
//! password appears in no status, event or log line.

use std::io::Write;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use hostplane::controller::{self, Options};
use hostplane::panel::Credentials;
use hostplane::panel::ispmanager::{IspManager, NewUser};
use hostplane::panel::mgr::{MgrClient, MgrOptions};
use hostplane::simulator::{self, SimHandle};
use hostplane::testbed::{self, LocalCluster};
use secrecy::SecretString;

const ADMIN: &str = "root";
/// Distinctive, so that a leak is easy to grep for.
const PASSWORD: &str = "Pm-Adm1n-S3cret-Hq4";
const WRONG_PASSWORD: &str = "Pm-Wr0ng-Pw-Ty8";

const READY: &str = r#"{.status.conditions[?(@.type=="Ready")].status}"#;
const READY_REASON: &str = r#"{.status.conditions[?(@.type=="Ready")].reason}"#;
const READY_MESSAGE: &str = r#"{.status.conditions[?(@.type=="Ready")].message}"#;
const STALLED: &str = r#"{.status.conditions[?(@.type=="Stalled")].status}"#;

/// Every log line of the test process (all tests share one global subscriber).
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
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

fn logs() -> &'static Capture {
    static LOGS: OnceLock<Capture> = OnceLock::new();
    LOGS.get_or_init(|| {
        let capture = Capture::default();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "hostplane=trace,kube=debug,info",
            ))
            .with_writer(capture.clone())
            .with_ansi(false)
            .init();
        capture
    })
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn kubectl(cluster: &LocalCluster, args: &[&str]) -> Output {
    cluster.kubectl().args(args).output().expect("run kubectl")
}

fn kubectl_ok(cluster: &LocalCluster, args: &[&str]) -> String {
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

fn kubectl_apply(cluster: &LocalCluster, ns: &str, yaml: &str) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), yaml).unwrap();
    kubectl_ok(
        cluster,
        &["apply", "-n", ns, "-f", file.path().to_str().unwrap()],
    );
}

fn jsonpath(cluster: &LocalCluster, ns: &str, object: &str, path: &str) -> String {
    let out = kubectl(
        cluster,
        &["get", object, "-n", ns, "-o", &format!("jsonpath={path}")],
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The shared cluster with CRDs installed, a fresh namespace, and a controller for it.
async fn setup(ns: &str) -> &'static LocalCluster {
    static CRDS: Once = Once::new();
    logs();
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
    kubectl_ok(cluster, &["create", "namespace", ns]);
    let client = cluster.client().await.unwrap();
    let options = Options {
        namespaces: vec![ns.to_owned()],
        concurrency: 4,
        ..Options::default()
    };
    tokio::spawn(async move {
        controller::run(client, options)
            .await
            .expect("controller runs")
    });
    cluster
}

async fn start_simulator() -> SimHandle {
    hostplane::panel::transport::install_crypto_provider();
    simulator::start_in_process(simulator::Config::new(ADMIN, PASSWORD))
        .await
        .expect("simulator starts")
}

/// Polls a jsonpath of an object until it equals `want`.
async fn eventually(cluster: &LocalCluster, ns: &str, object: &str, path: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = jsonpath(cluster, ns, object, path);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{object} {path}: {got:?}, wanted {want:?}; status: {}",
            jsonpath(cluster, ns, object, "{.status}")
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn secret_yaml(name: &str, password: &str) -> String {
    // `stringData` through `kubectl apply`: the password also lands in the Secret's
    // last-applied annotation, which the metadata-only Secret watch does see.
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\ntype: Opaque\nstringData:\n  username: {ADMIN}\n  password: {password}\n"
    )
}

fn module_yaml(name: &str, type_: &str, url: &str, secret: &str, extra: &str) -> String {
    format!(
        "apiVersion: hostplane.dev/v1alpha1\nkind: ProcessingModule\nmetadata: {{name: {name}}}\nspec:\n  type: {type_}\n  url: {url}\n  credentialsSecretRef: {{name: {secret}}}\n{extra}"
    )
}

/// No password in the namespace's modules (status included) and events, nor in any log
/// line captured so far.
fn assert_no_password(cluster: &LocalCluster, ns: &str) {
    let modules = kubectl_ok(
        cluster,
        &["get", "processingmodules", "-n", ns, "-o", "yaml"],
    );
    let events = kubectl_ok(cluster, &["get", "events", "-n", ns, "-o", "yaml"]);
    let logs = String::from_utf8_lossy(&logs().0.lock().unwrap()).into_owned();
    assert!(!logs.is_empty(), "the log capture is not working");
    for secret in [PASSWORD, WRONG_PASSWORD] {
        assert!(
            !modules.contains(secret),
            "password in a module:\n{modules}"
        );
        assert!(!events.contains(secret), "password in an event:\n{events}");
        assert!(!logs.contains(secret), "password in the logs");
    }
}

fn event_reasons(cluster: &LocalCluster, ns: &str, name: &str) -> String {
    kubectl_ok(
        cluster,
        &[
            "get",
            "events",
            "-n",
            ns,
            "--field-selector",
            &format!("involvedObject.name={name}"),
            "-o",
            "jsonpath={.items[*].reason}",
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_credentials_connect_and_count_accounts() {
    let ns = "pm-connected";
    let cluster = setup(ns).await;
    let sim = start_simulator().await;
    let isp = IspManager::new(
        MgrClient::new(
            &sim.url("/ispmgr"),
            Credentials::new(ADMIN, PASSWORD),
            MgrOptions::default(),
        )
        .unwrap(),
    );
    for name in ["alice", "bob"] {
        isp.create_user(&NewUser {
            name: name.into(),
            password: SecretString::from("Us3r-Pw-Jk2"),
            fullname: String::new(),
            preset: None,
            limits: Default::default(),
            domain: None,
        })
        .await
        .unwrap();
    }
    kubectl_apply(cluster, ns, &secret_yaml("panel-credentials", PASSWORD));
    kubectl_apply(
        cluster,
        ns,
        &module_yaml(
            "isp",
            "ISPmanager",
            &sim.url("/ispmgr"),
            "panel-credentials",
            "",
        ),
    );
    eventually(cluster, ns, "pm/isp", READY, "True").await;
    eventually(cluster, ns, "pm/isp", READY_REASON, "Connected").await;
    eventually(cluster, ns, "pm/isp", "{.status.accountCount}", "2").await;
    eventually(cluster, ns, "pm/isp", "{.status.serviceCount}", "0").await;
    eventually(cluster, ns, "pm/isp", STALLED, "False").await;
    let message = jsonpath(cluster, ns, "pm/isp", READY_MESSAGE);
    assert!(message.contains("logged in as root"), "{message}");
    assert!(!jsonpath(cluster, ns, "pm/isp", "{.status.lastCheckTime}").is_empty());
    assert!(event_reasons(cluster, ns, "isp").contains("Connected"));

    // Converged: an unrelated change (a label) reconciles the module but neither calls the
    // panel nor writes status.
    let calls = sim.sim.calls();
    kubectl_ok(cluster, &["label", "pm/isp", "-n", ns, "team=hosting"]);
    let before = jsonpath(cluster, ns, "pm/isp", "{.metadata.resourceVersion}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = jsonpath(cluster, ns, "pm/isp", "{.metadata.resourceVersion}");
    assert_eq!(
        before, after,
        "the controller kept writing after convergence"
    );
    assert_eq!(
        calls,
        sim.sim.calls(),
        "a reconcile without a due check called the panel"
    );

    let requests = sim.sim.requests().join("\n");
    assert!(
        !requests.contains(PASSWORD),
        "password in a URL:\n{requests}"
    );
    assert_no_password(cluster, ns);

    // The check's calls are measured under the module's name, with their outcome; the
    // metrics carry no secret.
    let mut metrics = String::new();
    hostplane::telemetry::render(&mut metrics);
    let ours = format!("module=\"{ns}/isp\"");
    assert!(
        metrics.lines().any(
            |l| l.starts_with("hostplane_panel_call_duration_seconds_count{")
                && l.contains(&ours)
                && l.contains("outcome=\"ok\"")
        ),
        "{metrics}"
    );
    assert!(!metrics.contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_module_type_connects() {
    let ns = "pm-types";
    let cluster = setup(ns).await;
    let sim = start_simulator().await;
    kubectl_apply(cluster, ns, &secret_yaml("panel-credentials", PASSWORD));
    let modules = [
        module_yaml(
            "vm6",
            "VMmanager",
            &sim.base_url,
            "panel-credentials",
            "  vmmanager: {apiVersion: V6}\n",
        ),
        module_yaml(
            "vm5",
            "VMmanager",
            &sim.url("/vmmgr"),
            "panel-credentials",
            "  vmmanager: {apiVersion: V5}\n",
        ),
        module_yaml(
            "licensing",
            "Licensing",
            &sim.url("/billmgr"),
            "panel-credentials",
            "",
        ),
    ];
    kubectl_apply(cluster, ns, &modules.join("---\n"));
    for name in ["vm6", "vm5", "licensing"] {
        let object = format!("pm/{name}");
        eventually(cluster, ns, &object, READY_REASON, "Connected").await;
        eventually(cluster, ns, &object, "{.status.accountCount}", "0").await;
    }
    let message = jsonpath(cluster, ns, "pm/vm6", READY_MESSAGE);
    assert!(message.contains("VMmanager 6"), "{message}");
    assert_no_password(cluster, ns);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_until_the_secret_is_fixed() {
    let ns = "pm-wrong-password";
    let cluster = setup(ns).await;
    let sim = start_simulator().await;
    kubectl_apply(cluster, ns, &secret_yaml("isp-credentials", WRONG_PASSWORD));
    kubectl_apply(
        cluster,
        ns,
        &module_yaml(
            "isp",
            "ISPmanager",
            &sim.url("/ispmgr"),
            "isp-credentials",
            "",
        ),
    );
    eventually(cluster, ns, "pm/isp", READY_REASON, "AuthenticationFailed").await;
    eventually(cluster, ns, "pm/isp", READY, "False").await;
    // Not Stalled: fixing a Secret is not a spec change, and the controller retries.
    eventually(cluster, ns, "pm/isp", STALLED, "False").await;
    let message = jsonpath(cluster, ns, "pm/isp", READY_MESSAGE);
    assert!(message.contains(r#"Secret "isp-credentials""#), "{message}");
    assert!(
        !jsonpath(cluster, ns, "pm/isp", "{.status.lastError.attempts}").is_empty(),
        "the failure and its retry are visible in status"
    );
    let generation = jsonpath(cluster, ns, "pm/isp", "{.metadata.generation}");

    kubectl_apply(cluster, ns, &secret_yaml("isp-credentials", PASSWORD));
    eventually(cluster, ns, "pm/isp", READY_REASON, "Connected").await;
    eventually(cluster, ns, "pm/isp", READY, "True").await;
    eventually(cluster, ns, "pm/isp", "{.status.lastError}", "").await;
    assert_eq!(
        jsonpath(cluster, ns, "pm/isp", "{.metadata.generation}"),
        generation,
        "the module itself was not touched"
    );
    let reasons = event_reasons(cluster, ns, "isp");
    assert!(
        reasons.contains("AuthenticationFailed") && reasons.contains("Connected"),
        "events: {reasons}"
    );
    assert_no_password(cluster, ns);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_panel_is_reported_as_such() {
    let ns = "pm-unreachable";
    let cluster = setup(ns).await;
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    kubectl_apply(cluster, ns, &secret_yaml("isp-credentials", PASSWORD));
    kubectl_apply(
        cluster,
        ns,
        &module_yaml(
            "isp",
            "ISPmanager",
            &format!("http://127.0.0.1:{port}/ispmgr"),
            "isp-credentials",
            "",
        ),
    );
    eventually(cluster, ns, "pm/isp", READY_REASON, "Unreachable").await;
    eventually(cluster, ns, "pm/isp", READY, "False").await;
    let message = jsonpath(cluster, ns, "pm/isp", READY_MESSAGE);
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(!jsonpath(cluster, ns, "pm/isp", "{.status.lastCheckTime}").is_empty());
    assert_no_password(cluster, ns);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_plain_http_panel_is_a_tls_error() {
    let ns = "pm-tls";
    let cluster = setup(ns).await;
    let sim = start_simulator().await;
    kubectl_apply(cluster, ns, &secret_yaml("isp-credentials", PASSWORD));
    let url = sim.url("/ispmgr").replace("http://", "https://");
    kubectl_apply(
        cluster,
        ns,
        &module_yaml("isp", "ISPmanager", &url, "isp-credentials", ""),
    );
    eventually(cluster, ns, "pm/isp", READY_REASON, "TlsError").await;
    let message = jsonpath(cluster, ns, "pm/isp", READY_MESSAGE);
    assert!(message.contains("spec.tls.caSecretRef"), "{message}");
    assert_no_password(cluster, ns);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_is_credentials_missing_until_it_appears() {
    let ns = "pm-no-secret";
    let cluster = setup(ns).await;
    let sim = start_simulator().await;
    kubectl_apply(
        cluster,
        ns,
        &module_yaml(
            "isp",
            "ISPmanager",
            &sim.url("/ispmgr"),
            "isp-credentials",
            "",
        ),
    );
    eventually(cluster, ns, "pm/isp", READY_REASON, "CredentialsMissing").await;
    eventually(cluster, ns, "pm/isp", READY, "False").await;
    let message = jsonpath(cluster, ns, "pm/isp", READY_MESSAGE);
    assert!(
        message.contains("spec.credentialsSecretRef") && message.contains("isp-credentials"),
        "{message}"
    );
    assert_eq!(
        jsonpath(cluster, ns, "pm/isp", "{.status.lastCheckTime}"),
        "",
        "no check time is shown"
    );
    assert!(
        sim.sim.calls().is_empty() && sim.sim.requests().is_empty(),
        "no panel was contacted: {:?}",
        sim.sim.requests()
    );
    assert!(event_reasons(cluster, ns, "isp").contains("CredentialsMissing"));

    kubectl_apply(cluster, ns, &secret_yaml("isp-credentials", PASSWORD));
    eventually(cluster, ns, "pm/isp", READY_REASON, "Connected").await;
    assert_no_password(cluster, ns);
}

/// A VMmanager module naming a licensing module that does not exist yet is `Stalled` until
/// that module appears, then connects at once: it is judged again when the module it names
/// comes (applied together, either may be seen first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vmmanager_module_heals_when_its_licensing_module_appears() {
    let ns = "pm-licensing-ref";
    let cluster = setup(ns).await;
    let sim = start_simulator().await;
    kubectl_apply(cluster, ns, &secret_yaml("credentials", PASSWORD));
    kubectl_apply(
        cluster,
        ns,
        &module_yaml(
            "vm",
            "VMmanager",
            &sim.base_url,
            "credentials",
            "  vmmanager: {apiVersion: V6, licensingModuleRef: {name: lic}}\n",
        ),
    );
    eventually(cluster, ns, "pm/vm", STALLED, "True").await;
    let message = jsonpath(cluster, ns, "pm/vm", READY_MESSAGE);
    assert!(message.contains("lic"), "{message}");

    kubectl_apply(
        cluster,
        ns,
        &module_yaml("lic", "Licensing", &sim.url("/billmgr"), "credentials", ""),
    );
    eventually(cluster, ns, "pm/vm", READY_REASON, "Connected").await;
    eventually(cluster, ns, "pm/vm", STALLED, "False").await;
}
