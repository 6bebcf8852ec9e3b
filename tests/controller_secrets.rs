//! Connection Secrets against the real kube-apiserver and the ispmanager simulator: a service
//! writes only to a Secret that is its own, never to a module's credentials or a stranger's
//! Secret, and a password fingerprint of the first version does not push a password change
//! after the upgrade.

mod common;
mod support;

use std::hash::{Hash, Hasher};
use std::time::Duration;

use hostplane::api::HostingService;
use hostplane::simulator::SimHandle;
use support::fixtures::{self, Fixture, Login, SharedHosting};
use support::*;

const STALLED_REASON: &str = r#"{.status.conditions[?(@.type=="Stalled")].reason}"#;
const APPLIED: &str = r"{.metadata.annotations.hostplane\.dev/password-applied}";

/// The shared hosting set, and a Secret that someone else keeps.
fn base(sim: &SimHandle) -> Vec<Fixture> {
    let set = SharedHosting(Login::new(
        sim.url("/ispmgr"),
        common::ADMIN,
        common::PASSWORD,
    ));
    let strangers = fixtures::secret("strangers", &[("note", "kept by someone else")]);
    let mut all = set.fixtures();
    all.push(strangers.into());
    all
}

/// A service whose connection details go to the Secret `secret`.
fn service(name: &str, secret: &str) -> HostingService {
    SharedHosting::service(name, &jiff::Zoned::now().date().to_string())
        .connection_secret(secret)
        .build()
}

fn secret_json(cluster: &hostplane::testbed::LocalCluster, ns: &str, name: &str) -> String {
    let json = kubectl_ok(cluster, &["get", "secret", name, "-n", ns, "-o", "json"]);
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    // What a write would change: data, annotations, owners, labels (not managedFields).
    let meta = v["metadata"].take();
    serde_json::json!({
        "data": v["data"],
        "annotations": meta["annotations"],
        "ownerReferences": meta["ownerReferences"],
        "labels": meta["labels"],
        "resourceVersion": meta["resourceVersion"],
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_secret_of_its_own_is_written() {
    let ns = "hosting-secrets";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    apply_fixtures(cluster, ns, base(&sim)).await;
    let credentials_before = secret_json(cluster, ns, "isp-credentials");
    let strangers_before = secret_json(cluster, ns, "strangers");
    let _controller = start_controller(cluster, ns, Duration::from_secs(300)).await;
    let services = [
        service("thief", "isp-credentials"),
        service("squatter", "strangers"),
        service("owner", "owner-login"),
    ];
    apply_fixtures(cluster, ns, services).await;

    for (name, why) in [
        ("thief", "credentials of ProcessingModule isp1"),
        ("squatter", "not owned by this service"),
    ] {
        let object = format!("hsvc/{name}");
        eventually(cluster, ns, &object, STALLED_REASON, "SecretNotOwned").await;
        let message = jsonpath(cluster, ns, &object, STALLED_MESSAGE);
        assert!(message.contains(why), "{name}: {message}");
        assert!(!message.contains(common::PASSWORD), "{message}");
    }
    eventually(cluster, ns, "hsvc/owner", READY, "True").await;
    // Nothing at the panel for the refused ones, nothing written to their Secrets.
    let users = sim
        .sim
        .read(|s| s.ispmgr.users.keys().cloned().collect::<Vec<_>>());
    assert_eq!(users, ["uowner"]);
    assert_eq!(
        secret_json(cluster, ns, "isp-credentials"),
        credentials_before
    );
    assert_eq!(secret_json(cluster, ns, "strangers"), strangers_before);
    assert_eq!(
        secret_key(cluster, ns, "isp-credentials", "password"),
        common::PASSWORD
    );
    // The owned one carries the service as controller owner.
    let uid = jsonpath(cluster, ns, "hsvc/owner", "{.metadata.uid}");
    assert_eq!(
        jsonpath(
            cluster,
            ns,
            "secret/owner-login",
            "{.metadata.ownerReferences[0].uid}/{.metadata.ownerReferences[0].controller}"
        ),
        format!("{uid}/true")
    );
    assert_eq!(
        jsonpath(cluster, ns, "secret/owner-login", APPLIED).len(),
        64,
        "HMAC-SHA-256 in hex"
    );
}

/// What the first version wrote: `DefaultHasher` over the Secret's uid and the password.
fn legacy_fingerprint(uid: &str, password: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    uid.hash(&mut h);
    password.hash(&mut h);
    format!("{:016x}", h.finish())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_fingerprint_is_accepted_once_and_rewritten_without_a_password_push() {
    let ns = "hosting-secrets-legacy";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    apply_fixtures(cluster, ns, base(&sim)).await;
    let _controller = start_controller(cluster, ns, Duration::from_secs(300)).await;
    apply_fixtures(cluster, ns, [service("blog", "blog-login")]).await;
    eventually(cluster, ns, "hsvc/blog", READY, "True").await;
    let password = secret_key(cluster, ns, "blog-login", "password");
    let uid = jsonpath(cluster, ns, "secret/blog-login", "{.metadata.uid}");
    let changes = || sim.sim.read(|s| s.ispmgr.users["ublog"].password_changes);
    let before = changes();

    // The state an upgrade finds: the annotation as the first version wrote it.
    let legacy = legacy_fingerprint(&uid, &password);
    kubectl_ok(
        cluster,
        &[
            "annotate",
            "--overwrite",
            "secret/blog-login",
            "-n",
            ns,
            &format!("hostplane.dev/password-applied={legacy}"),
        ],
    );
    kubectl_ok(
        cluster,
        &[
            "annotate",
            "--overwrite",
            "hsvc/blog",
            "-n",
            ns,
            "hostplane.dev/reconcile-requested-at=legacy-1",
        ],
    );
    until("the fingerprint rewritten as HMAC-SHA-256", || {
        jsonpath(cluster, ns, "secret/blog-login", APPLIED).len() == 64
    })
    .await;
    assert_eq!(
        changes(),
        before,
        "no password pushed for a legacy fingerprint"
    );

    // A legacy fingerprint of another password is a change, as it always was.
    let other = legacy_fingerprint(&uid, "not-the-password");
    kubectl_ok(
        cluster,
        &[
            "annotate",
            "--overwrite",
            "secret/blog-login",
            "-n",
            ns,
            &format!("hostplane.dev/password-applied={other}"),
        ],
    );
    kubectl_ok(
        cluster,
        &[
            "annotate",
            "--overwrite",
            "hsvc/blog",
            "-n",
            ns,
            "hostplane.dev/reconcile-requested-at=legacy-2",
        ],
    );
    until("the password pushed", || changes() == before + 1).await;
    until("the fingerprint rewritten", || {
        jsonpath(cluster, ns, "secret/blog-login", APPLIED).len() == 64
    })
    .await;
}
