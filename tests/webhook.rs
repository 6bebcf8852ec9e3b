//! The admission webhook on the real local API server (kube-apiserver 1.20, see
//! `hostplane::testbed`), registered with `clientConfig.url` on loopback and a CA made here:
//! what one object shows is refused at `kubectl apply` with `validate`'s field and reason,
//! every example is admitted, reference checks are left to reconcile time, the live-object
//! guard refuses a breaking tariff edit (and admits it, warned, with the escape hatch), and
//! deletions go through. Plus, without a cluster: the certificate is reloaded when its files
//! change, a failed handshake does not stop the server, and the classification of
//! `examples/invalid/` agrees with the validator.
//!
//! These tests fail, never skip, when the API server cannot start.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hostplane::testbed::LocalCluster;
use hostplane::validation::{self, documents};
use hostplane::webhook::Server;
use hostplane::webhook::review::{Verdict, review};
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use kube::Api;
use kube::api::PostParams;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionReview};
use support::{certs, cluster_with_namespace, jsonpath, kubectl, kubectl_apply, kubectl_ok, root};

/// Single-object problems that no webhook can be asked about, and why.
const NEVER_SENT: [(&str, &str); 3] = [
    (
        "unknown-field.yaml",
        "the API server prunes unknown fields before admission (kubectl's own validation refuses it)",
    ),
    (
        "unknown-kind.yaml",
        "there is no such resource: the API server refuses it",
    ),
    ("yaml-syntax-error.yaml", "kubectl cannot parse it"),
];

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn header<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("# {name}: ")))
}

/// An invalid example with the field and reason its header names.
struct Invalid {
    path: PathBuf,
    stem: String,
    body: String,
    field: String,
    reason: String,
}

fn invalid_examples() -> Vec<Invalid> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("examples/invalid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let body = std::fs::read_to_string(&path).unwrap();
            Invalid {
                stem: path.file_stem().unwrap().to_str().unwrap().to_owned(),
                field: header(&body, "expect-field").unwrap().to_owned(),
                reason: header(&body, "expect-reason").unwrap().to_owned(),
                path,
                body,
            }
        })
        .collect()
}

impl Invalid {
    fn marked(&self, mark: &str) -> bool {
        self.body.contains(&format!("\n# {mark}: "))
    }
    fn file_name(&self) -> String {
        format!("{}.yaml", self.stem)
    }
}

/// A CREATE review of one document, as the API server would send it.
fn create_request(value: &serde_json::Value) -> AdmissionRequest<DynamicObject> {
    let api_version = value["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let review: AdmissionReview<DynamicObject> = serde_json::from_value(serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "1",
            "kind": {"group": group, "version": version, "kind": value["kind"]},
            "resource": {"group": group, "version": version, "resource": "x"},
            "name": value["metadata"]["name"],
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {},
            "object": value,
        }
    }))
    .unwrap();
    review.try_into().unwrap()
}

/// Every invalid example is classified: what one object shows is refused by the webhook
/// (`webhook-rejects`) or first by the schema (`server-rejects`), or can never be sent
/// ([`NEVER_SENT`]); the rest are reference checks. The validator's own single-object check
/// decides, so a new example cannot be left out.
#[test]
fn the_invalid_examples_are_classified_as_the_validator_sees_them() {
    let mut refused = 0;
    for file in invalid_examples() {
        let mut single = Vec::new();
        for doc in documents::split(&file.body) {
            let Ok(value) = documents::parse(&doc) else {
                continue;
            };
            let one = validation::check_one(&value, "default");
            if one
                .problems
                .iter()
                .any(|p| p.field.as_deref() == Some(file.field.as_str()))
            {
                single.push(value);
            }
        }
        let never = NEVER_SENT.iter().any(|(f, _)| *f == file.file_name());
        let marked = file.marked("webhook-rejects") || file.marked("server-rejects");
        assert_eq!(
            !single.is_empty() && !never,
            marked,
            "{}: one object shows it: {}; marked webhook-rejects or server-rejects: {marked}",
            file.stem,
            !single.is_empty()
        );
        assert!(
            !(file.marked("webhook-rejects") && file.marked("server-rejects")),
            "{}: one mark",
            file.stem
        );
        if !marked {
            continue;
        }
        // The webhook itself refuses it with validate's field and reason, even where the
        // schema refuses first (a chart installed without CRD schemas still refuses it).
        for value in single {
            let Verdict::Answer(answer) = review(&create_request(&value)) else {
                panic!("{}: a CREATE is answered at once", file.stem);
            };
            let message = &answer.result.message;
            assert!(!answer.allowed, "{}: admitted", file.stem);
            assert!(
                message.contains(&format!(": {}: ", file.field)) && message.contains(&file.reason),
                "{}: {message}",
                file.stem
            );
            refused += 1;
        }
    }
    assert!(refused >= 10, "only {refused} examples refused by review");
}

/// The webhook registered on the shared cluster: its server runs on a thread of its own for
/// the rest of the test process.
struct Registered {
    cluster: &'static LocalCluster,
}

/// The registered webhook; a set-up that failed fails every test with its reason, once.
fn registered() -> &'static Registered {
    static REGISTERED: OnceLock<Result<Registered, String>> = OnceLock::new();
    let set_up = REGISTERED.get_or_init(|| {
        std::panic::catch_unwind(register_once).map_err(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default()
        })
    });
    match set_up {
        Ok(registered) => registered,
        Err(e) => panic!("setting up the webhook failed: {e}"),
    }
}

fn register_once() -> Registered {
    let cluster = cluster_with_namespace("webhook-probe");
    // In the cluster's own temp dir, which its teardown removes: statics are never dropped.
    let dir = cluster
        .kubeconfig_path()
        .parent()
        .unwrap()
        .join("webhook-certs");
    std::fs::create_dir(&dir).unwrap();
    let ca = certs::ca(&dir, "webhook");
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    certs::serving(&ca, &cert, &key);
    let port = start_server(cluster, cert, key);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(register(cluster, port, &ca.cert));
    wait_until_refusing(cluster);
    Registered { cluster }
}

/// Starts the webhook on 127.0.0.1 (a free port) and returns the port.
fn start_server(cluster: &'static LocalCluster, cert: PathBuf, key: PathBuf) -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let client = cluster.client().await.unwrap();
            let server = Server::bind("127.0.0.1:0".parse().unwrap(), &cert, &key, client)
                .await
                .unwrap();
            tx.send(server.local_addr().port()).unwrap();
            server.run(std::future::pending()).await.unwrap();
        });
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the webhook server starts")
}

/// The registration the chart is to make, with a loopback URL instead of a Service.
async fn register(cluster: &LocalCluster, port: u16, ca_cert: &Path) {
    let mut config: ValidatingWebhookConfiguration = serde_json::from_value(serde_json::json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "hostplane"},
        "webhooks": [{
            "name": "validate.hostplane.dev",
            "clientConfig": {"url": format!("https://127.0.0.1:{port}/validate")},
            // Fail: a down webhook refuses creates and updates of hostplane kinds only;
            // DELETE is not registered, so it never blocks a deletion.
            "failurePolicy": "Fail",
            "timeoutSeconds": 10,
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "matchPolicy": "Equivalent",
            "rules": [{
                "apiGroups": ["hostplane.dev"],
                "apiVersions": ["v1alpha1"],
                "operations": ["CREATE", "UPDATE"],
                // The main resources only: the controller's status writes are not matched.
                "resources": ["processingmodules", "tariffs", "clients", "hostingservices",
                              "licensepools", "serverpools"],
                "scope": "Namespaced"
            }]
        }]
    }))
    .unwrap();
    config.webhooks.as_mut().unwrap()[0].client_config.ca_bundle =
        Some(ByteString(std::fs::read(ca_cert).unwrap()));
    let api: Api<ValidatingWebhookConfiguration> = Api::all(cluster.client().await.unwrap());
    api.create(&PostParams::default(), &config).await.unwrap();
}

/// The API server picks a new registration up within a moment: probe until it refuses.
fn wait_until_refusing(cluster: &LocalCluster) {
    let file = root().join("examples/invalid/resource-included-above-max.yaml");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = kubectl(
            cluster,
            &[
                "apply",
                "--validate=false",
                "-n",
                "webhook-probe",
                "-f",
                file.to_str().unwrap(),
            ],
        );
        if text(&out).contains("is outside min..max") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the webhook never refused the probe:\n{}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn namespace(cluster: &LocalCluster, name: &str) -> String {
    kubectl_ok(cluster, &["create", "namespace", name]);
    name.to_owned()
}

/// `kubectl apply` of an invalid example in a namespace of its own (`PREFIX-STEM`), with
/// `--validate=false`: kubectl's client-side check must not stand in for the server's.
fn apply_example(cluster: &LocalCluster, prefix: &str, file: &Invalid) -> (bool, String) {
    let ns = namespace(cluster, &format!("{prefix}-{}", file.stem));
    let out = kubectl(
        cluster,
        &[
            "apply",
            "--validate=false",
            "-n",
            &ns,
            "-f",
            file.path.to_str().unwrap(),
        ],
    );
    (out.status.success(), text(&out))
}

#[test]
fn what_one_object_shows_is_refused_at_apply_with_the_field_and_reason() {
    let cluster = registered().cluster;
    let mut checked = 0;
    for file in invalid_examples() {
        if !file.marked("webhook-rejects") {
            continue;
        }
        let (admitted, said) = apply_example(cluster, "refuse", &file);
        assert!(!admitted, "{}: admitted:\n{said}", file.stem);
        // kubectl prints the answer's causes as it prints the schema's refusals.
        assert!(
            said.contains(&format!(" is invalid: {}: ", file.field)) && said.contains(&file.reason),
            "{}: lacks {} / {}:\n{said}",
            file.stem,
            file.field,
            file.reason
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} webhook-rejects examples");
}

/// API clients (Argo CD, Flux, client libraries) get the webhook's message, every problem
/// in it, and the causes with their fields.
#[tokio::test]
async fn the_api_answer_carries_the_message_and_the_causes() {
    let cluster = registered().cluster;
    let ns = namespace(cluster, "api-answer");
    let tariff: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "hostplane.dev/v1alpha1",
        "kind": "Tariff",
        "metadata": {"name": "start"},
        "spec": {
            "productType": "SharedHosting",
            "processingModules": [{"name": "isp"}],
            "prices": {"1m": "3.00"},
            "charging": {"proRataDay": 10},
            "resources": [{"name": "diskSpace", "included": 20480, "min": 1024, "max": 10240, "step": 1024}],
            "hosting": {"accountTemplate": "start"}
        }
    }))
    .unwrap();
    let resource = kube::discovery::ApiResource::erase::<hostplane::api::Tariff>(&());
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client().await.unwrap(), &ns, &resource);
    let Err(kube::Error::Api(status)) = api.create(&PostParams::default(), &tariff).await else {
        panic!("admitted");
    };
    assert_eq!(status.code, 422, "{status:?}");
    assert!(
        status.message.starts_with(
            "admission webhook \"validate.hostplane.dev\" denied the request: Tariff/start: "
        ) && status
            .message
            .contains("spec.resources[0].included: 20480 is outside min..max")
            && status.message.contains("spec.charging.proRataDay: "),
        "{}",
        status.message
    );
    let fields: Vec<&str> = status
        .details
        .as_ref()
        .unwrap()
        .causes
        .iter()
        .map(|c| c.field.as_str())
        .collect();
    assert!(fields.contains(&"spec.resources[0].included"), "{fields:?}");
    assert!(fields.contains(&"spec.charging.proRataDay"), "{fields:?}");
}

/// What the schema forbids is refused before the webhook is asked, naming the field.
#[test]
fn schema_refusals_still_name_the_field_with_the_webhook_installed() {
    let cluster = registered().cluster;
    for file in invalid_examples() {
        if !file.marked("server-rejects") {
            continue;
        }
        let (admitted, said) = apply_example(cluster, "schema", &file);
        assert!(!admitted, "{}: admitted", file.stem);
        assert!(said.contains(&file.field), "{}:\n{said}", file.stem);
    }
}

/// GitOps tools apply in any order: a service before its tariff, a client in a group a tariff
/// forbids... are admitted and judged at reconcile time.
#[test]
fn reference_checks_are_left_to_reconcile_time() {
    let cluster = registered().cluster;
    let mut admitted = 0;
    for file in invalid_examples() {
        let never = NEVER_SENT.iter().any(|(f, _)| *f == file.file_name());
        if never || file.marked("webhook-rejects") || file.marked("server-rejects") {
            continue;
        }
        let (ok, said) = apply_example(cluster, "refs", &file);
        assert!(ok, "{}: refused:\n{said}", file.stem);
        admitted += 1;
    }
    assert!(admitted >= 10, "only {admitted} reference-check examples");
}

#[test]
fn every_example_is_admitted() {
    let cluster = registered().cluster;
    let ns = namespace(cluster, "examples");
    let out = kubectl(
        cluster,
        &[
            "apply",
            "-n",
            &ns,
            "-f",
            root().join("examples").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("Warning"), "{}", text(&out));
}

/// A namespace with tariff `start` (1m and 3m) and service `web-1` on it for 1m.
const SOLD: &str = r#"
apiVersion: v1
kind: Secret
metadata: {name: panel-credentials}
stringData: {username: root, password: change-me}
---
apiVersion: hostplane.dev/v1alpha1
kind: ProcessingModule
metadata: {name: isp}
spec:
  type: ISPmanager
  url: https://panel.example.com:1500/ispmgr
  credentialsSecretRef: {name: panel-credentials}
---
apiVersion: hostplane.dev/v1alpha1
kind: Tariff
metadata: {name: start}
spec:
  productType: SharedHosting
  processingModules: [{name: isp}]
  prices: {1m: "3.00", 3m: "8.00"}
  hosting: {accountTemplate: start}
---
apiVersion: hostplane.dev/v1alpha1
kind: Client
metadata: {name: jane}
spec: {displayName: Jane Doe, email: jane@example.org}
---
apiVersion: hostplane.dev/v1alpha1
kind: HostingService
metadata: {name: web-1}
spec:
  tariffRef: {name: start}
  clientRef: {name: jane}
  period: 1m
  startDate: "2026-11-02"
"#;

/// Tariff `start` without its 1m price, optionally with the escape hatch.
fn start_without_1m(annotations: &str) -> String {
    format!(
        r#"apiVersion: hostplane.dev/v1alpha1
kind: Tariff
metadata:
  name: start
  annotations: {{{annotations}}}
spec:
  productType: SharedHosting
  processingModules: [{{name: isp}}]
  prices: {{3m: "8.00"}}
  hosting: {{accountTemplate: start}}
"#
    )
}

fn apply_text(cluster: &LocalCluster, ns: &str, yaml: &str) -> Output {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), yaml).unwrap();
    kubectl(
        cluster,
        &["apply", "-n", ns, "-f", file.path().to_str().unwrap()],
    )
}

#[test]
fn a_breaking_tariff_edit_is_refused_naming_the_service_unless_meant() {
    let cluster = registered().cluster;
    let ns = namespace(cluster, "guard");
    kubectl_apply(cluster, &ns, SOLD);

    let out = apply_text(cluster, &ns, &start_without_1m(""));
    let said = text(&out);
    assert!(!out.status.success(), "admitted:\n{said}");
    assert!(
        said.contains("The Tariff \"start\" is invalid")
            && said.contains("spec.prices.1m: removing the price of 1m")
            && said.contains("1 service (web-1)")
            && said.contains("hostplane.dev/allow-breaking-change: \"true\""),
        "{said}"
    );
    let price = jsonpath(cluster, &ns, "tariff/start", "{.spec.prices.1m}");
    assert_eq!(price, "3.00", "the refused edit was not stored");

    // A price change that breaks nothing is admitted with a warning counting the service.
    let dearer = SOLD.replace(r#"1m: "3.00""#, r#"1m: "4.00""#);
    let out = apply_text(cluster, &ns, &dearer);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "Warning: spec.prices.1m: 3.00 -> 4.00 changes the price for 1 service (web-1)"
        ),
        "{}",
        text(&out)
    );

    let meant = start_without_1m(r#"hostplane.dev/allow-breaking-change: "true""#);
    let out = apply_text(cluster, &ns, &meant);
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        warned.contains("Warning: spec.prices.1m: removing the price of 1m")
            && warned.contains("web-1"),
        "{warned}"
    );
    let prices = jsonpath(cluster, &ns, "tariff/start", "{.spec.prices}");
    assert!(!prices.contains("1m"), "{prices}");
}

#[test]
fn deleting_a_tariff_in_use_goes_through_finalizer_and_all() {
    let cluster = registered().cluster;
    let ns = namespace(cluster, "deletes");
    kubectl_apply(cluster, &ns, SOLD);
    let finalizers = |list: &str| {
        let patch = format!(r#"{{"metadata":{{"finalizers":{list}}}}}"#);
        let args = [
            "patch",
            "tariff",
            "start",
            "-n",
            &ns,
            "--type=merge",
            "-p",
            &patch,
        ];
        kubectl_ok(cluster, &args);
    };
    finalizers(r#"["hostplane.dev/test-hold"]"#);
    kubectl_ok(
        cluster,
        &["delete", "tariff", "start", "-n", &ns, "--wait=false"],
    );
    // Removing the finalizer is an UPDATE of an object being deleted: admitted.
    finalizers("null");
    let gone = kubectl(cluster, &["get", "tariff", "start", "-n", &ns]);
    assert!(!gone.status.success(), "still there: {}", text(&gone));
    kubectl_ok(cluster, &["delete", "hsvc", "web-1", "-n", &ns]);
}

/// A client of the webhook's TLS port trusting only `ca`, on a fresh connection each time.
async fn healthz(port: u16, ca: &Path) -> Result<String, String> {
    hostplane::panel::transport::install_crypto_provider();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let answer = client
        .get(format!("https://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    answer.text().await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_rotated_certificate_is_served_without_a_restart_and_bad_handshakes_are_survived() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (
        certs::ca(dir.path(), "first"),
        certs::ca(dir.path(), "second"),
    );
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    certs::serving(&first, &cert, &key);
    // No cluster is needed to serve: a client that is never called.
    let config = kube::Config::new("https://127.0.0.1:1".parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), &cert, &key, client)
        .await
        .unwrap();
    let port = server.local_addr().port();
    tokio::spawn(server.run(std::future::pending()));

    assert_eq!(healthz(port, &first.cert).await.as_deref(), Ok("ok"));
    assert!(
        healthz(port, &second.cert).await.is_err(),
        "trusts only its CA"
    );

    // Plain text on the TLS port: that handshake fails, the server goes on.
    {
        use tokio::io::AsyncWriteExt;
        let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        raw.write_all(b"GET /healthz HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
    }
    certs::serving(&second, &cert, &key);
    assert_eq!(
        healthz(port, &second.cert).await.as_deref(),
        Ok("ok"),
        "the new certificate is served"
    );
    assert!(
        healthz(port, &first.cert).await.is_err(),
        "the old one no longer"
    );

    // A key that does not match the certificate (a rotation half done) keeps the last pair.
    std::fs::copy(&first.cert, &cert).unwrap();
    assert_eq!(healthz(port, &second.cert).await.as_deref(), Ok("ok"));
}

#[test]
fn the_webhook_refuses_to_start_on_missing_or_mismatched_files() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::ca(dir.path(), "only");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bind = |cert: &Path, key: &Path| {
        runtime
            .block_on(async {
                let config = kube::Config::new("https://127.0.0.1:1".parse().unwrap());
                let client = kube::Client::try_from(config).unwrap();
                Server::bind("127.0.0.1:0".parse().unwrap(), cert, key, client).await
            })
            .err()
            .map(|e| format!("{e:#}"))
    };
    let missing = dir.path().join("missing.crt");
    let error = bind(&missing, &missing).expect("refused");
    assert!(error.contains("missing.crt"), "{error}");
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    certs::serving(&ca, &cert, &key);
    // The CA's certificate with the serving key: they do not belong together.
    let error = bind(&ca.cert, &key).expect("refused");
    assert!(error.contains("cannot serve this certificate"), "{error}");
    assert!(bind(&cert, &key).is_none(), "the matching pair serves");
}
