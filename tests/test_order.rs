//! `hostplane test-order` end to end: the real binary against the real kube-apiserver, a
//! controller in-process and the in-process simulators. A test order of each product passes
//! and leaves the panels as they were (licences in the pool aside); a template that gives the
//! account other limits than the tariff fails the matching check with both values; Ctrl-C in
//! the middle removes the order; a killed run's order is removed by the next run; no licence
//! is bought without `--allow-purchase`; the login key never reaches the output.

mod common;
mod support;

use std::process::{Output, Stdio};
use std::time::Duration;

use hostplane::api::common::{LocalObjectReference, Period};
use hostplane::api::processing_module::VmManagerApiVersion;
use hostplane::api::tariff::{ControlPanelLicense, ControlPanelOption, ResourceKind};
use hostplane::api::{ModuleType, ProductType};
use hostplane::simulator::{FaultSpec, SimHandle};
use hostplane::testbed::LocalCluster;
use support::fixtures::{self, Fixture, ModuleBuilder, SoftwareLicenses};
use support::*;

const DRIFT: Duration = Duration::from_secs(30);

/// Credentials `NAME-credentials` and the module `name` of `type_` at `url`.
fn module(name: &str, type_: ModuleType, url: &str) -> (Fixture, ModuleBuilder) {
    let secret = format!("{name}-credentials");
    let module = fixtures::module(name, type_, url, &secret)
        .quiet_seconds(2)
        .limits(8, 500);
    (
        fixtures::credentials(&secret, common::ADMIN, common::PASSWORD).into(),
        module,
    )
}

/// An ispmanager module and a hosting tariff `start` on template `basic` (its `limit_quota`
/// is 1024 MiB at the simulator), selling 2048 MiB of disk by default, with the module as its
/// own name server.
fn hosting(sim: &SimHandle) -> Vec<Fixture> {
    let (secret, module) = module("isp1", ModuleType::ISPmanager, &sim.url("/ispmgr"));
    let tariff = fixtures::tariff("start", ProductType::SharedHosting, &["isp1"])
        .price(Period::OneMonth, "3.00")
        .price(Period::OneYear, "30.00")
        .resource(ResourceKind::DiskSpace, 2048, 10240, 1024, "0.50")
        .resource_min(ResourceKind::DiskSpace, 1024)
        .resource(ResourceKind::Traffic, 5, 50, 5, "1.00")
        .hosting("basic", "u@ID@", "@ID@.hosting.example", Some("isp1"));
    vec![secret, module.build().into(), tariff.build().into()]
}

/// Runs `hostplane test-order ARGS` to its end.
async fn test_order(cluster: &LocalCluster, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_hostplane"));
    command
        .arg("test-order")
        .args(args)
        .env("KUBECONFIG", cluster.kubeconfig_path());
    command.output().await.expect("run hostplane test-order")
}

/// Starts `hostplane test-order ARGS` without waiting.
fn start_test_order(cluster: &LocalCluster, args: &[&str]) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_hostplane"))
        .arg("test-order")
        .args(args)
        .env("KUBECONFIG", cluster.kubeconfig_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hostplane test-order")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The JSON report of a run, with its stderr shown when stdout is not one.
fn report(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}): stdout {} stderr {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

/// The check named `name` of a report: (expected, found, result).
fn check(report: &serde_json::Value, name: &str) -> (String, String, String) {
    let c = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no check {name:?} in {report:#}"));
    let s = |k: &str| c[k].as_str().unwrap().to_owned();
    (s("expected"), s("found"), s("result"))
}

/// The test orders (labelled HostingServices) left in the namespace.
fn orders_left(cluster: &LocalCluster, ns: &str) -> String {
    kubectl_ok(
        cluster,
        &[
            "get",
            "hsvc,secret",
            "-n",
            ns,
            "-l",
            "hostplane.dev/test-order",
            "-o",
            "name",
        ],
    )
}

/// The started test order's HostingService, printed by `kubectl -o <output>`.
fn started_order(cluster: &LocalCluster, ns: &str, output: &str) -> String {
    kubectl_ok(
        cluster,
        &[
            "get",
            "hsvc",
            "-n",
            ns,
            "-l",
            "hostplane.dev/test-order=start",
            "-o",
            output,
        ],
    )
}

/// What shared hosting holds at the simulator: users, sites and DNS zones.
fn hosting_state(sim: &SimHandle) -> String {
    sim.sim.read(|s| {
        format!(
            "{:?} {:?} {:?}",
            s.ispmgr.users.keys().collect::<Vec<_>>(),
            s.ispmgr.webdomains.keys().collect::<Vec<_>>(),
            s.ispmgr.dns.keys().collect::<Vec<_>>()
        )
    })
}

/// Whether `output` holds something shaped like a login key (hostplane's keys are 32 hex
/// digits) or a link carrying one.
fn shows_a_key(output: &str) -> bool {
    let hex = regex::Regex::new(r"[0-9a-f]{32}").unwrap();
    hex.is_match(output) || output.contains("key=")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hosting_test_order_passes_checks_the_login_and_leaves_nothing_behind() {
    let ns = "to-hosting";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let _controller = start_controller(cluster, ns, DRIFT).await;
    apply_fixtures(cluster, ns, hosting(&sim)).await;
    let before = hosting_state(&sim);

    let out = test_order(cluster, &["start", "-n", ns, "-o", "json"]).await;
    let r = report(&out);
    assert_eq!(out.status.code(), Some(0), "{r:#}\n{}", text(&out.stderr));
    assert_eq!(r["passed"], true);
    assert_eq!(r["period"], "1m", "the smallest period sold");
    assert_eq!(r["cleanup"]["result"], "deleted");
    let service = r["service"].as_str().unwrap().to_owned();
    let username = format!("u{}", service.replace('-', ""));
    assert_eq!(
        check(&r, "account"),
        (username.clone(), username.clone(), "pass".into())
    );
    assert_eq!(check(&r, "account template").1, "basic");
    assert_eq!(
        check(&r, "limit limit_quota (diskSpace)"),
        ("2048".into(), "2048".into(), "pass".into())
    );
    assert_eq!(check(&r, "limit limit_traff (traffic)").1, "5120");
    assert_eq!(check(&r, "site").2, "pass");
    assert_eq!(check(&r, "DNS zone").2, "pass");
    let domain = format!("{}.hosting.example", service.replace('-', ""));
    for gone in [
        format!("removed: account {username}"),
        format!("removed: site {domain}"),
        format!("removed: DNS zone {domain} on isp1"),
    ] {
        assert_eq!(
            check(&r, &gone),
            ("gone".into(), "gone".into(), "pass".into())
        );
    }
    let (_, login, verdict) = check(&r, "login link");
    assert_eq!(verdict, "pass", "{login}");
    assert!(login.contains("session"), "{login}");

    // Nothing left: the service, its Secret, the account, its site and zone are gone; the
    // test client stays, marked.
    assert_eq!(orders_left(cluster, ns), "");
    assert_eq!(hosting_state(&sim), before);
    assert_eq!(
        jsonpath(
            cluster,
            ns,
            "client/hostplane-test-client",
            "{.metadata.labels.hostplane\\.dev/test-client}"
        ),
        "true"
    );

    // The login key was made and used up by the check (one key login), and never shown; the
    // text output says the same as JSON.
    assert_eq!(sim.sim.call_count("ispmgr", "session.newkey"), 1);
    let out2 = test_order(cluster, &["start", "-n", ns]).await;
    assert_eq!(out2.status.code(), Some(0), "{}", text(&out2.stderr));
    let table = text(&out2.stdout);
    assert!(table.contains("login link"), "{table}");
    assert!(table.contains("checks passed."), "{table}");
    assert!(!table.contains("FAIL"), "{table}");
    // A kept order stays, also through the next run, which takes it for no leftover.
    let kept = report(&test_order(cluster, &["start", "-n", ns, "--keep", "-o", "json"]).await);
    assert_eq!(kept["cleanup"]["result"], "kept");
    let kept = format!("hsvc/{}", kept["service"].as_str().unwrap());
    let out3 = test_order(cluster, &["start", "-n", ns]).await;
    assert_eq!(out3.status.code(), Some(0), "{}", text(&out3.stderr));
    assert_eq!(jsonpath(cluster, ns, &kept, READY), "True");
    delete_and_wait(cluster, ns, &kept);
    for output in [&out.stdout, &out.stderr, &out2.stdout, &out2.stderr] {
        let output = text(output);
        assert!(!shows_a_key(&output), "a login key leaked: {output}");
        assert!(!output.contains(common::PASSWORD), "{output}");
    }
    assert_eq!(hosting_state(&sim), before);
    // The kept order's Secret stays without a garbage collector (the local API server has
    // none); the next run removes it as a leftover whose service is gone.
    let left = orders_left(cluster, ns);
    assert!(
        left.starts_with("secret/") && left.ends_with("-login\n"),
        "{left}"
    );
    let out4 = test_order(cluster, &["start", "-n", ns]).await;
    assert_eq!(out4.status.code(), Some(0), "{}", text(&out4.stderr));
    assert_eq!(orders_left(cluster, ns), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_that_gives_other_limits_than_the_tariff_fails_the_limit_check() {
    let ns = "to-template";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    // The panel keeps the template's limits (`basic`: 1024 MiB), whatever hostplane sends.
    let mut dialect = sim.sim.dialect();
    dialect.isp_template_binds_limits = true;
    sim.sim.set_dialect(dialect);
    let _controller = start_controller(cluster, ns, DRIFT).await;
    apply_fixtures(cluster, ns, hosting(&sim)).await;
    let before = hosting_state(&sim);

    let out = test_order(cluster, &["start", "-n", ns, "-o", "json"]).await;
    let r = report(&out);
    assert_eq!(out.status.code(), Some(1), "{r:#}\n{}", text(&out.stderr));
    assert_eq!(r["passed"], false);
    assert_eq!(
        check(&r, "limit limit_quota (diskSpace)"),
        ("2048".into(), "1024".into(), "fail".into())
    );
    let failed: Vec<&str> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["result"] == "fail")
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    // The template's traffic (100 GiB) differs from the tariff's 5 GiB too.
    assert_eq!(
        failed,
        [
            "limit limit_quota (diskSpace)",
            "limit limit_traff (traffic)"
        ]
    );
    assert_eq!(r["cleanup"]["result"], "deleted");
    assert_eq!(orders_left(cluster, ns), "");
    assert_eq!(hosting_state(&sim), before);

    // A resource asked for: the same check, another expected value; the text shows FAIL.
    let out = test_order(
        cluster,
        &["start", "-n", ns, "--resource", "diskSpace=4096"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let line = table
        .lines()
        .find(|l| l.contains("limit_quota"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        line.contains("4096") && line.contains("1024") && line.ends_with("FAIL"),
        "{line}"
    );

    // A resource the tariff does not sell: refused before anything is ordered.
    let out = test_order(
        cluster,
        &["start", "-n", ns, "--resource", "diskSpace=1500"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--resource diskSpace=1500"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(orders_left(cluster, ns), "");
}

/// A hosting namespace whose account creates the panel holds for 3 s, and a test order
/// started there that has just sent its create: the moment to stop it in the middle. Returns
/// the cluster, the simulator, the controller, the simulator's hosting state before the
/// order, and the running command.
async fn stopped_in_the_middle(
    ns: &str,
) -> (
    &'static LocalCluster,
    SimHandle,
    tokio::task::JoinHandle<()>,
    String,
    tokio::process::Child,
) {
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let controller = start_controller(cluster, ns, DRIFT).await;
    apply_fixtures(cluster, ns, hosting(&sim)).await;
    let before = hosting_state(&sim);
    sim.sim.faults().set(
        "ispmgr",
        "user.add.finish",
        // Held until the test clears the faults, however slow the machine is: a fixed short
        // latency let a loaded CI machine finish the order before the test stopped it.
        FaultSpec {
            latency_ms: 600_000,
            ..FaultSpec::NONE
        },
    );
    let child = start_test_order(cluster, &["start", "-n", ns]);
    until("the account create reached the panel", || {
        sim.sim.call_count("ispmgr", "user.add.finish") > 0
    })
    .await;
    (cluster, sim, controller, before, child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_in_the_middle_removes_the_order() {
    let ns = "to-interrupt";
    let (cluster, sim, _controller, before, child) = stopped_in_the_middle(ns).await;
    let pid = child.id().expect("running") as i32;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    // Let the create go on only once the interrupted run has asked for its removal.
    until("the interrupted order is being removed", || {
        let deleting = "jsonpath={.items[*].metadata.deletionTimestamp}";
        !started_order(cluster, ns, deleting).trim().is_empty()
    })
    .await;
    sim.sim.faults().clear();
    let out = child.wait_with_output().await.unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(stderr.contains("was removed"), "{stderr}");
    assert_eq!(
        text(&out.stdout),
        "",
        "no checklist for an interrupted order"
    );
    // The create that was in flight went through the controller's claim, so its deletion
    // removed the account too.
    assert_eq!(sim.sim.call_count("ispmgr", "user.add.finish"), 1);
    assert_eq!(orders_left(cluster, ns), "");
    assert_eq!(hosting_state(&sim), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_is_cleaned_up_by_the_next_one() {
    let ns = "to-killed";
    let (cluster, sim, _controller, before, mut child) = stopped_in_the_middle(ns).await;
    child.kill().await.unwrap();
    sim.sim.faults().clear();
    let left = started_order(cluster, ns, "name");
    let old = left
        .trim()
        .strip_prefix("hostingservice.hostplane.dev/")
        .unwrap_or_else(|| panic!("{left}"))
        .to_owned();
    eventually(cluster, ns, &format!("hsvc/{old}"), READY, "True").await;
    assert_ne!(
        hosting_state(&sim),
        before,
        "the killed run's account is there"
    );

    let out = test_order(cluster, &["start", "-n", ns, "-o", "json"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("was left behind: removing hsvc/{old}")),
        "{stderr}"
    );
    assert_ne!(report(&out)["service"], old.as_str());
    assert_eq!(orders_left(cluster, ns), "");
    assert_eq!(hosting_state(&sim), before);
}

/// A licensing module, a `SoftwareLicense` tariff, its pool; VMmanager 6 with a VPS tariff
/// without a panel and one whose default panel needs a licence.
fn licences_and_servers(sim: &SimHandle) -> Vec<Fixture> {
    let (lic_secret, lic) = module("lic1", ModuleType::Licensing, &sim.url("/billmgr"));
    let (vm_secret, vm) = module("vm", ModuleType::VMmanager, &sim.base_url);
    let vm = vm.vmmanager(VmManagerApiVersion::V6, |v| {
        v.licensing_module_ref = Some(LocalObjectReference {
            name: "lic1".into(),
        });
    });
    let lite = SoftwareLicenses::tariff("lite", "3541", "4.50", "45.00")
        .with(|t| t.setup_fee = Some("1.00".parse().expect("a price")));
    // Control-panel licences: `none` (free) and `lite` at 9.50 a month.
    let panels = |default: &str| {
        let option: fn(&str, &str) -> ControlPanelOption = |name, license_type| {
            serde_json::from_value(serde_json::json!({"name": name, "licenseType": license_type}))
                .expect("a control panel option")
        };
        let mut lite = option("lite", "3541");
        lite.prices.one_month = Some("9.50".parse().expect("a price"));
        ControlPanelLicense {
            default: default.into(),
            options: vec![option("none", "nopanel"), lite],
        }
    };
    let vps = fixtures::tariff("vps", ProductType::VirtualServer, &["vm"])
        .price(Period::OneMonth, "6.00")
        .price(Period::OneYear, "60.00")
        .resource(ResourceKind::Memory, 2048, 8192, 1024, "1.50")
        .resource_min(ResourceKind::Memory, 1024)
        .virtual_server(2, 1024, 10, &["Debian 12", "Ubuntu 22.04"])
        .with_virtual_server(|v| v.control_panel_license = Some(panels("none")));
    let vps_lite = fixtures::tariff("vps-lite", ProductType::VirtualServer, &["vm"])
        .price(Period::OneMonth, "6.00")
        .virtual_server(1, 1024, 10, &["Debian 12"])
        .with_virtual_server(|v| {
            v.default_operating_system = None;
            v.control_panel_license = Some(panels("lite"));
        });
    vec![
        lic_secret,
        lic.build().into(),
        lite.build().into(),
        fixtures::license_pool("pool", "lic1").into(),
        vm_secret,
        vm.build().into(),
        vps.build().into(),
        vps_lite.build().into(),
    ]
}

/// Licences at the simulator: (id, name, ip, pricelist), deleted ones left out.
fn licences(sim: &SimHandle) -> Vec<(u64, String, String, String)> {
    sim.sim.read(|s| {
        s.billmgr
            .licenses
            .values()
            .filter(|l| !l.deleted)
            .map(|l| (l.id, l.licname.clone(), l.ip.clone(), l.pricelist.clone()))
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licence_orders_buy_only_when_allowed_and_leave_the_licence_in_the_pool() {
    let ns = "to-licences";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    sim.sim.transact(|s| {
        s.billmgr.key_polls = 0;
        ((), true)
    });
    let _controller = start_controller(cluster, ns, DRIFT).await;
    apply_fixtures(cluster, ns, licences_and_servers(&sim)).await;
    let balance = || sim.sim.read(|s| s.billmgr.balance);
    let paid = balance();

    // No pooled licence: refused, with the price, and nothing ordered or placed.
    for (tariff, price) in [("lite", "5.50 USD"), ("vps-lite", "9.50 USD")] {
        let out = test_order(cluster, &[tariff, "-n", ns, "--license-ip", "192.0.2.10"]).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("would buy 1m of licence type 3541"),
            "{stderr}"
        );
        assert!(stderr.contains(price), "{tariff}: {stderr}");
        assert!(stderr.contains("--allow-purchase"), "{stderr}");
    }
    assert_eq!(sim.sim.call_count("billmgr", "soft.order.param"), 0);
    assert_eq!(balance(), paid);
    assert_eq!(orders_left(cluster, ns), "");
    // What the controller does for a service that may not buy (the annotation every test
    // order without --allow-purchase carries, in case the pool empties after the pre-check):
    // it stalls and buys nothing.
    let today = hostplane::controller::clock::Clock::system()
        .today()
        .to_string();
    let no_buy = SoftwareLicenses::service("no-buy", "192.0.2.12", Period::OneMonth, &today)
        .annotation("hostplane.dev/license-purchase", "Forbidden");
    let jane = fixtures::client("jane", "Jane Doe", "jane@example.org");
    apply_fixtures(cluster, ns, [Fixture::from(jane), no_buy.build().into()]).await;
    eventually(cluster, ns, "hsvc/no-buy", STALLED, "True").await;
    let why = jsonpath(cluster, ns, "hsvc/no-buy", STALLED_MESSAGE);
    assert!(why.contains("nothing was bought"), "{why}");
    delete_and_wait(cluster, ns, "hsvc/no-buy");
    assert_eq!(sim.sim.call_count("billmgr", "soft.order.param"), 0);
    assert_eq!(balance(), paid);

    let out = test_order(cluster, &["lite", "-n", ns]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--license-ip is required"),
        "{}",
        text(&out.stderr)
    );

    // Allowed: one licence bought, checked, and put into the pool.
    let out = test_order(
        cluster,
        &[
            "lite",
            "-n",
            ns,
            "--license-ip",
            "192.0.2.10",
            "--allow-purchase",
            "-o",
            "json",
        ],
    )
    .await;
    let r = report(&out);
    assert_eq!(out.status.code(), Some(0), "{r:#}\n{}", text(&out.stderr));
    assert_eq!(
        check(&r, "licence type"),
        ("3541".into(), "3541".into(), "pass".into())
    );
    assert_eq!(check(&r, "licence IP").1, "192.0.2.10");
    assert_eq!(check(&r, "licence status").1, "Active");
    let bought = check(&r, "licence").1;
    assert_eq!(
        check(&r, &format!("licence {bought} pooled")),
        (
            "free.lic at 0.0.0.0".into(),
            "free.lic at 0.0.0.0".into(),
            "pass".into()
        )
    );
    assert_eq!(sim.sim.call_count("billmgr", "soft.order.param"), 1);
    assert_eq!(orders_left(cluster, ns), "");
    let pooled = licences(&sim);
    assert_eq!(pooled.len(), 1);
    assert_eq!(
        (pooled[0].1.as_str(), pooled[0].2.as_str()),
        ("free.lic", "0.0.0.0")
    );

    // With a pooled licence the order takes it, without --allow-purchase, and buys nothing.
    let out = test_order(
        cluster,
        &["lite", "-n", ns, "--license-ip", "192.0.2.11", "-o", "json"],
    )
    .await;
    let r = report(&out);
    assert_eq!(out.status.code(), Some(0), "{r:#}\n{}", text(&out.stderr));
    let note = r["license"].as_str().unwrap();
    assert!(
        note.contains(&format!("pooled licence {}", pooled[0].0)),
        "{note}"
    );
    assert_eq!(check(&r, "licence").1, pooled[0].0.to_string());
    assert_eq!(check(&r, "licence IP").1, "192.0.2.11");
    assert_eq!(sim.sim.call_count("billmgr", "soft.order.param"), 1);
    assert_eq!(licences(&sim), pooled, "the licence is back in the pool");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_test_order_passes_and_leaves_no_server() {
    let ns = "to-server";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    common::quick_vm6_tasks(&sim);
    let _controller = start_controller(cluster, ns, DRIFT).await;
    apply_fixtures(cluster, ns, licences_and_servers(&sim)).await;
    // Read after the tasks due now have ended (the simulator settles them when called).
    let hosts = || {
        let now = sim.sim.clock().now();
        sim.sim.transact(|s| {
            s.vm6.settle(now);
            (s.vm6.hosts.keys().copied().collect::<Vec<_>>(), true)
        })
    };
    let accounts = || {
        sim.sim.read(|s| {
            s.vm6
                .accounts
                .values()
                .map(|a| a.email.clone())
                .collect::<Vec<_>>()
        })
    };
    // The module's health check has logged in (the simulator makes its admin account then).
    eventually(cluster, ns, "pm/vm", READY, "True").await;
    let (hosts_before, accounts_before) = (hosts(), accounts());

    let out = test_order(
        cluster,
        &["vps", "-n", ns, "--resource", "memory=4096", "-o", "json"],
    )
    .await;
    let r = report(&out);
    assert_eq!(out.status.code(), Some(0), "{r:#}\n{}", text(&out.stderr));
    assert_eq!(check(&r, "operating system").1, "Debian 12");
    assert_eq!(
        check(&r, "CPU cores"),
        ("2".into(), "2".into(), "pass".into())
    );
    assert_eq!(check(&r, "RAM MiB").1, "4096", "the resource asked for");
    assert_eq!(check(&r, "disk MiB").1, "10240");
    assert!(r["license"].is_null(), "no panel, no licence");
    let host = hostplane::controller::service::virtual_server::default_host_name(
        ns,
        r["service"].as_str().unwrap(),
    );
    assert_eq!(check(&r, &format!("removed: server {host}")).2, "pass");
    assert_eq!(r["module"], "vm");
    assert_eq!(orders_left(cluster, ns), "");
    assert_eq!(hosts(), hosts_before, "the server is deleted");
    // The test client's owner account stays at VMmanager for the next order: hostplane never
    // deletes owner accounts. Nothing else is left.
    let mut expected = accounts_before.clone();
    expected.push("test-client@hostplane.invalid".into());
    assert_eq!(accounts(), expected);
}
