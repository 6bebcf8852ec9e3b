//! Claim, then act (issue 11), on the real kube-apiserver with the ispmanager simulator:
//! two services whose templates give one username never share an account, an account that
//! hostplane did not create is never adopted, changed or deleted, the claimed module wins over
//! placement after a crash, a paused service is not deleted at the panel, and a service whose
//! module is gone keeps its finalizer.

mod common;
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use hostplane::api::common::Period;
use hostplane::api::{HostingService, ModuleType, ProductType};
use hostplane::simulator::SimHandle;
use support::fixtures::{self, Fixture, FixtureSet, ServiceBuilder, SharedHosting};
use support::*;

const DRIFT: Duration = Duration::from_secs(2);

fn today() -> String {
    jiff::Zoned::now().date().to_string()
}

/// A module `name` on `sim` with its credentials Secret.
fn module(sim: &SimHandle, name: &str, priority: u32) -> Vec<Fixture> {
    let secret = format!("{name}-credentials");
    let module = fixtures::module(name, ModuleType::ISPmanager, &sim.url("/ispmgr"), &secret)
        .priority(priority)
        .quiet_seconds(2)
        .limits(8, 500);
    vec![
        fixtures::credentials(&secret, common::ADMIN, common::PASSWORD).into(),
        module.build().into(),
    ]
}

/// A tariff on `modules` with `template` for usernames, and a client.
fn tariff(modules: &[&str], template: &str) -> Vec<Fixture> {
    let tariff = fixtures::tariff(SharedHosting::TARIFF, ProductType::SharedHosting, modules)
        .price(Period::OneMonth, "3.00")
        .price(Period::OneYear, "30.00")
        .hosting("basic", template, "@ID@.hosting.example", None);
    vec![
        tariff.build().into(),
        fixtures::client(SharedHosting::CLIENT, "Jane Doe", "jane@example.org").into(),
    ]
}

fn service(name: &str) -> ServiceBuilder {
    SharedHosting::service(name, &today())
}

/// What a controller killed between the claim and the create leaves: the claim of `username`
/// on `module`, with its finalizer and the attempt's time, and nothing at the panel.
fn claimed(name: &str, username: &str, module: &str, pending: jiff::Timestamp) -> HostingService {
    service(name)
        .finalizer("hostplane.dev/cleanup")
        .annotation("hostplane.dev/external-name", username)
        .annotation("hostplane.dev/claimed-module", module)
        .annotation("hostplane.dev/create-pending", &pending.to_string())
        .build()
}

fn user(sim: &SimHandle, name: &str) -> Option<hostplane::simulator::state::IspUser> {
    sim.sim.read(|s| s.ispmgr.users.get(name).cloned())
}

fn usernames(sim: &SimHandle) -> BTreeSet<String> {
    sim.sim
        .read(|s| s.ispmgr.users.keys().cloned().collect::<BTreeSet<_>>())
}

/// The cluster with namespace `ns`, a simulator, a controller, and module `isp1` with a
/// tariff whose usernames follow `template`.
async fn one_module(
    ns: &str,
    template: &str,
) -> (
    &'static hostplane::testbed::LocalCluster,
    SimHandle,
    tokio::task::JoinHandle<()>,
) {
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let controller = start_controller(cluster, ns, DRIFT).await;
    apply_fixtures(
        cluster,
        ns,
        [module(&sim, "isp1", 1), tariff(&["isp1"], template)].concat(),
    )
    .await;
    (cluster, sim, controller)
}

const EXTERNAL_NAME: &str = r"{.metadata.annotations.hostplane\.dev/external-name}";
const FINALIZERS: &str = "{.metadata.finalizers}";

/// Asserts that nothing at all was written on a service refused before its claim.
fn untouched(cluster: &hostplane::testbed::LocalCluster, ns: &str, object: &str) {
    assert_eq!(jsonpath(cluster, ns, object, EXTERNAL_NAME), "", "{object}");
    assert_eq!(jsonpath(cluster, ns, object, FINALIZERS), "", "{object}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twins_of_one_username_never_share_an_account() {
    let ns = "claims-twins";
    let (cluster, sim, _controller) = one_module(ns, "user@ID@").await;
    // `@ID@` drops `-`: both services are `usershop1`.
    let first = service("shop-1").connection_secret("shop-1-login");
    apply_fixtures(cluster, ns, [first.build()]).await;
    eventually(cluster, ns, "hsvc/shop-1", READY, "True").await;
    let first = user(&sim, "usershop1").expect("the first account");
    let creates = sim.sim.call_count("ispmgr", "user.add.finish");

    let twin = service("shop1").connection_secret("shop1-login");
    apply_fixtures(cluster, ns, [twin.build()]).await;
    eventually(cluster, ns, "hsvc/shop1", READY_REASON, "NameConflict").await;
    eventually(cluster, ns, "hsvc/shop1", STALLED, "True").await;
    let message = jsonpath(cluster, ns, "hsvc/shop1", STALLED_MESSAGE);
    assert!(
        message.contains(&format!("{ns}/shop-1")) && message.contains(&format!("{ns}/shop1")),
        "both services are named: {message}"
    );
    untouched(cluster, ns, "hsvc/shop1");
    assert_eq!(
        secret_key(cluster, ns, "shop1-login", "username"),
        "",
        "the second service gets no login to the first one's account"
    );
    assert_eq!(
        sim.sim.call_count("ispmgr", "user.add.finish"),
        creates,
        "nothing is sent for the second claimant"
    );

    // Deleting the second leaves the first account exactly as it was.
    delete_and_wait(cluster, ns, "hsvc/shop1");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = user(&sim, "usershop1").expect("the first account stays");
    assert_eq!(
        (
            after.preset,
            after.limits,
            after.active,
            after.password_changes
        ),
        (
            first.preset,
            first.limits,
            first.active,
            first.password_changes
        )
    );
    assert_eq!(jsonpath(cluster, ns, "hsvc/shop-1", READY), "True");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_twins_on_one_panel_never_share_an_account() {
    let ns = "claims-domains";
    let (cluster, sim, _controller) = one_module(ns, "@DOMAIN@").await;
    // `@DOMAIN@` is the first label: both are `shop`.
    apply_fixtures(cluster, ns, [service("a").domain("shop.a.com").build()]).await;
    eventually(cluster, ns, "hsvc/a", READY, "True").await;
    apply_fixtures(cluster, ns, [service("b").domain("shop.b.org").build()]).await;
    eventually(cluster, ns, "hsvc/b", READY_REASON, "NameConflict").await;
    untouched(cluster, ns, "hsvc/b");
    assert_eq!(usernames(&sim), BTreeSet::from(["shop".to_owned()]));
    delete_and_wait(cluster, ns, "hsvc/b");
    assert!(user(&sim, "shop").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_hostplane_did_not_create_is_never_adopted() {
    let ns = "claims-stranger";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let isp = common::isp(
        &sim,
        hostplane::panel::mgr::AuthMode::Authinfo,
        hostplane::panel::mgr::Format::Json,
    );
    isp.create_user(&hostplane::panel::ispmanager::NewUser {
        name: "ushop".into(),
        password: secrecy::SecretString::from("Str4nger-pass-1"),
        fullname: "Someone else".into(),
        preset: Some("pro".into()),
        limits: Default::default(),
        domain: None,
    })
    .await
    .unwrap();
    let before = user(&sim, "ushop").unwrap();
    sim.sim.reset_calls();
    let _controller = start_controller(cluster, ns, DRIFT).await;
    apply_fixtures(
        cluster,
        ns,
        [module(&sim, "isp1", 1), tariff(&["isp1"], "u@ID@")].concat(),
    )
    .await;
    let shop = service("shop").connection_secret("shop-login");
    apply_fixtures(cluster, ns, [shop.build()]).await;
    eventually(cluster, ns, "hsvc/shop", READY_REASON, "AccountExists").await;
    eventually(cluster, ns, "hsvc/shop", STALLED, "True").await;
    untouched(cluster, ns, "hsvc/shop");
    let out = kubectl(cluster, &["get", "secret", "shop-login", "-n", ns]);
    assert!(
        !out.status.success(),
        "no Secret is written for a service that may not act"
    );
    delete_and_wait(cluster, ns, "hsvc/shop");
    let after = user(&sim, "ushop").expect("never deleted");
    assert_eq!(
        (
            after.preset,
            after.limits,
            after.active,
            after.password_changes
        ),
        (
            before.preset,
            before.limits,
            before.active,
            before.password_changes
        ),
        "never changed"
    );
    for function in [
        "user.add",
        "user.add.finish",
        "user.delete",
        "user.suspend",
        "user.resume",
        "domain.edit",
    ] {
        assert_eq!(sim.sim.call_count("ispmgr", function), 0, "{function}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_claimed_module_wins_over_placement_after_a_crash() {
    let ns = "claims-crash";
    let cluster = cluster_with_namespace(ns);
    let (sim1, sim2) = (common::start().await, common::start().await);
    // isp1 comes first by priority: placement alone would choose it.
    let set = [
        module(&sim1, "isp1", 1),
        module(&sim2, "isp2", 2),
        tariff(&["isp1", "isp2"], "u@ID@"),
    ];
    apply_fixtures(cluster, ns, set.concat()).await;
    // What a controller killed between the claim and the create leaves: the claim on isp2,
    // with its finalizer and the attempt's time, and nothing at either panel.
    let pending = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60))
        .round(jiff::Unit::Second)
        .unwrap();
    apply_fixtures(cluster, ns, [claimed("site", "usite", "isp2", pending)]).await;
    let _controller = start_controller(cluster, ns, DRIFT).await;
    eventually(cluster, ns, "hsvc/site", READY, "True").await;
    assert!(user(&sim2, "usite").is_some(), "on the claimed module");
    assert!(user(&sim1, "usite").is_none(), "and nowhere else");
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/site", "{.status.processingModule}"),
        "isp2"
    );
    assert_eq!(sim2.sim.call_count("ispmgr", "user.add.finish"), 1);
    assert_eq!(sim1.sim.call_count("ispmgr", "user.add.finish"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_is_unknown_waits_its_quiet_period() {
    let ns = "claims-quiet";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    apply_fixtures(
        cluster,
        ns,
        [module(&sim, "isp1", 1), tariff(&["isp1"], "u@ID@")].concat(),
    )
    .await;
    // An attempt sent just now whose answer never came, and nothing at the panel (yet).
    let pending = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap();
    apply_fixtures(cluster, ns, [claimed("late", "ulate", "isp1", pending)]).await;
    let _controller = start_controller(cluster, ns, DRIFT).await;
    // The quiet period (2 s here) is waited out with OutcomeUnknown, then the create is sent
    // once.
    eventually(cluster, ns, "hsvc/late", READY, "True").await;
    assert_eq!(sim.sim.call_count("ispmgr", "user.add.finish"), 1);
    let events = kubectl_ok(
        cluster,
        &["get", "events.events.k8s.io", "-n", ns, "-o", "yaml"],
    );
    assert!(events.contains("OutcomeUnknown"), "{events}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_service_is_not_deleted_at_the_panel_until_unpaused() {
    let ns = "claims-paused";
    let (cluster, sim, _controller) = one_module(ns, "u@ID@").await;
    apply_fixtures(cluster, ns, [service("held").build()]).await;
    eventually(cluster, ns, "hsvc/held", READY, "True").await;
    kubectl_ok(
        cluster,
        &[
            "annotate",
            "hsvc/held",
            "-n",
            ns,
            "hostplane.dev/paused=true",
        ],
    );
    eventually(cluster, ns, "hsvc/held", SYNCED_REASON, "ReconcilePaused").await;
    kubectl_ok(cluster, &["delete", "hsvc/held", "-n", ns, "--wait=false"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(user(&sim, "uheld").is_some(), "held while paused");
    assert_eq!(sim.sim.call_count("ispmgr", "user.delete"), 0);
    let message = jsonpath(
        cluster,
        ns,
        "hsvc/held",
        r#"{.status.conditions[?(@.type=="Synced")].message}"#,
    );
    assert!(message.contains("deletion waits"), "{message}");
    kubectl_ok(
        cluster,
        &["annotate", "hsvc/held", "-n", ns, "hostplane.dev/paused-"],
    );
    until("deleted once unpaused", || user(&sim, "uheld").is_none()).await;
    wait_gone(cluster, ns, "hsvc/held").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_deleted_after_its_module_keeps_its_finalizer() {
    let ns = "claims-module-gone";
    let (cluster, sim, _controller) = one_module(ns, "u@ID@").await;
    apply_fixtures(cluster, ns, [service("lonely").build()]).await;
    eventually(cluster, ns, "hsvc/lonely", READY, "True").await;
    delete_and_wait(cluster, ns, "pm/isp1");
    kubectl_ok(
        cluster,
        &["delete", "hsvc/lonely", "-n", ns, "--wait=false"],
    );
    eventually(cluster, ns, "hsvc/lonely", READY_REASON, "ModuleMissing").await;
    eventually(cluster, ns, "hsvc/lonely", STALLED, "True").await;
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/lonely", FINALIZERS),
        r#"["hostplane.dev/cleanup"]"#
    );
    assert!(
        user(&sim, "ulonely").is_some(),
        "nothing leaked, nothing lost"
    );
    // A person lets it go explicitly: the object goes, the account stays as it is.
    kubectl_ok(
        cluster,
        &[
            "annotate",
            "hsvc/lonely",
            "-n",
            ns,
            "hostplane.dev/force-release=true",
        ],
    );
    wait_gone(cluster, ns, "hsvc/lonely").await;
    assert!(user(&sim, "ulonely").is_some());
}
