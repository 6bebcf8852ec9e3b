//! `hostplane plan` against the real kube-apiserver and the ispmanager simulator: a converged
//! namespace, a tariff edit and a service edit in manifests; the plan reads only, and the
//! panel calls the controller then makes once they are applied are the plan's.

mod common;
mod support;

use std::collections::BTreeMap;
use std::process::Output;
use std::time::Duration;

use hostplane::api::tariff::ResourceKind;
use hostplane::simulator::SimHandle;
use hostplane::testbed::LocalCluster;
use support::fixtures::{Login, SharedHosting};
use support::*;

fn hosting(sim: &SimHandle) -> SharedHosting {
    SharedHosting(Login::new(
        sim.url("/ispmgr"),
        common::ADMIN,
        common::PASSWORD,
    ))
}

fn today() -> String {
    hostplane::controller::clock::Clock::system()
        .today()
        .to_string()
}

/// `hostplane plan ARGS` with the local cluster's kubeconfig.
async fn plan(cluster: &LocalCluster, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_hostplane"))
        .arg("plan")
        .args(args)
        .env("KUBECONFIG", cluster.kubeconfig_path())
        .output()
        .await
        .expect("run hostplane plan")
}

/// ispmanager calls that change something: every function but the listings and the login.
fn mutations(sim: &SimHandle) -> BTreeMap<String, u64> {
    sim.sim
        .calls()
        .get("ispmgr")
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|(f, _)| f.contains('.') && !f.ends_with(".info"))
        .collect()
}

fn write(dir: &std::path::Path, name: &str, object: &impl serde::Serialize) {
    // JSON is YAML: `kubectl apply` and `hostplane plan` read it as manifests.
    let text = serde_json::to_string_pretty(object).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_reads_only_and_the_controller_then_does_what_it_said() {
    let ns = "plan-e2e";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let _controller = start_controller(cluster, ns, Duration::from_secs(2)).await;
    let set = hosting(&sim);
    apply_fixtures(cluster, ns, set.fixtures()).await;
    let services = ["alpha", "beta", "gamma"];
    apply_fixtures(
        cluster,
        ns,
        services.map(|s| SharedHosting::service(s, &today()).build()),
    )
    .await;
    for s in services {
        eventually(cluster, ns, &format!("hsvc/{s}"), READY, "True").await;
    }

    // Nothing edited: nothing to do.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tariff.yaml", &set.tariff().build());
    let dir_arg = dir.path().to_str().unwrap();
    let same = plan(cluster, &[dir_arg, "-n", ns, "--panels", "-o", "json"]).await;
    assert_eq!(same.status.code(), Some(0), "{same:?}");
    let same: serde_json::Value = serde_json::from_slice(&same.stdout).unwrap();
    assert_eq!(same["services"], serde_json::json!([]), "{same:#}");

    // The tariff includes twice the disk; beta is suspended.
    let bigger = set
        .tariff()
        .with(|t| {
            let disk = t
                .resources
                .iter_mut()
                .find(|r| r.name == ResourceKind::DiskSpace);
            disk.expect("the set's tariff sells disk").included = 2048;
        })
        .build();
    write(dir.path(), "tariff.yaml", &bigger);
    let beta = SharedHosting::service("beta", &today())
        .with(|s| s.suspended = true)
        .build();
    write(dir.path(), "beta.yaml", &beta);

    sim.sim.reset_calls();
    let out = plan(cluster, &[dir_arg, "-n", ns, "--panels", "-o", "json"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "nothing destructive: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        mutations(&sim).is_empty(),
        "the plan only reads: {:?}",
        sim.sim.calls()
    );
    let planned: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for service in planned["services"].as_array().unwrap() {
        for op in service["operations"].as_array().unwrap() {
            for call in op["panelCalls"].as_array().unwrap() {
                *expected
                    .entry(call.as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
    }
    assert_eq!(
        expected,
        BTreeMap::from([("user.edit".to_owned(), 3), ("user.suspend".to_owned(), 1)]),
        "{planned:#}"
    );
    let tariff = &planned["tariffs"][0];
    assert_eq!(tariff["servicesAffected"], 3, "{planned:#}");
    let text = plan(cluster, &[dir_arg, "-n", ns]).await;
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("change limits: ubeta: limit_quota 1024 -> 2048"),
        "{text}"
    );
    assert!(text.contains("suspend account: ubeta"), "{text}");

    // Applied: the controller makes exactly the planned calls.
    kubectl_ok(cluster, &["apply", "-n", ns, "-f", dir_arg]);
    until(
        "every account has the new disk and beta is suspended",
        || {
            let users = sim.sim.read(|s| s.ispmgr.users.clone());
            services
                .iter()
                .all(|s| users[&format!("u{s}")].limits["limit_quota"] == "2048")
                && !users["ubeta"].active
        },
    )
    .await;
    for s in services {
        eventually(cluster, ns, &format!("hsvc/{s}"), READY, "True").await;
    }
    // A drift pass more, in case a late call were still to come.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(mutations(&sim), expected, "{:?}", sim.sim.calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_would_stall_live_services_fails_the_plan() {
    let ns = "plan-stall";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let set = hosting(&sim);
    apply_fixtures(cluster, ns, set.fixtures()).await;
    apply_fixtures(
        cluster,
        ns,
        [SharedHosting::service("web", &today()).build()],
    )
    .await;
    // The yearly price goes: the live yearly service could no longer be renewed.
    let dir = tempfile::tempdir().unwrap();
    let monthly_only = set.tariff().with(|t| t.prices.one_year = None).build();
    write(dir.path(), "tariff.yaml", &monthly_only);
    let out = plan(cluster, &[dir.path().to_str().unwrap(), "-n", ns]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("HostingService plan-stall/web"), "{text}");
    assert!(text.contains("would be Stalled"), "{text}");
    assert!(text.contains("1 services would be Stalled"), "{text}");
}

/// Licensing functions that change something (`soft.edit` is left out: with only `elid` it is
/// also the read of one licence).
const LICENSE_MUTATIONS: [&str; 6] = [
    "soft.order.param",
    "soft.suspend",
    "soft.resume",
    "soft.delete",
    "service.changepricelist",
    "service.prolong",
];

fn license_mutations(sim: &SimHandle) -> BTreeMap<String, u64> {
    let calls = sim.sim.calls().get("billmgr").cloned().unwrap_or_default();
    calls
        .into_iter()
        .filter(|(f, n)| LICENSE_MUTATIONS.contains(&f.as_str()) && *n > 0)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_panels_the_plan_reads_the_licence_and_matches_the_controller() {
    use hostplane::api::common::Period;
    use support::fixtures::SoftwareLicenses;

    let ns = "plan-licence";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let _controller = start_controller(cluster, ns, Duration::from_secs(2)).await;
    let set = SoftwareLicenses(Login::new(
        sim.url("/billmgr"),
        common::ADMIN,
        common::PASSWORD,
    ));
    apply_fixtures(cluster, ns, set.fixtures()).await;
    let today = sim.sim.clock().today().to_string();
    let shop = || SoftwareLicenses::service("shop", "203.0.113.7", Period::OneYear, &today);
    apply_fixtures(cluster, ns, [shop().build()]).await;
    eventually(cluster, ns, "hsvc/shop", READY, "True").await;

    // A new licence service in the manifests is a purchase: exit 2, one licence of 3541.
    let dir = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    write(
        dir.path(),
        "more.yaml",
        &SoftwareLicenses::service("more", "203.0.113.8", Period::OneYear, &today).build(),
    );
    sim.sim.reset_calls();
    let out = plan(cluster, &[dir_arg, "-n", ns, "--panels", "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(2), "a purchase asks for approval");
    let planned: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(planned["licensesToBuy"]["3541"], 1, "{planned:#}");
    assert!(license_mutations(&sim).is_empty(), "{:?}", sim.sim.calls());
    assert!(
        sim.sim.call_count("billmgr", "soft") > 0,
        "--panels lists the licences"
    );

    // Suspending the live one: planned from the licence the panel lists, then done as planned.
    std::fs::remove_file(dir.path().join("more.yaml")).unwrap();
    write(
        dir.path(),
        "shop.yaml",
        &shop().with(|s| s.suspended = true).build(),
    );
    let out = plan(cluster, &[dir_arg, "-n", ns, "--panels", "-o", "json"]).await;
    assert_eq!(out.status.code(), Some(0));
    let planned: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ops = &planned["services"][0]["operations"];
    assert_eq!(ops[0]["action"], "suspendLicense", "{planned:#}");
    assert!(license_mutations(&sim).is_empty(), "{:?}", sim.sim.calls());

    kubectl_ok(cluster, &["apply", "-n", ns, "-f", dir_arg]);
    eventually(cluster, ns, "hsvc/shop", "{.status.phase}", "Suspended").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        license_mutations(&sim),
        BTreeMap::from([("soft.suspend".to_owned(), 1)]),
        "{:?}",
        sim.sim.calls()
    );
}
