//! Licenses end to end (issue 5): the controller against the real kube-apiserver and the
//! in-process BILLmanager licensing simulator, with the simulator's clock driving the
//! controller's. A standalone license is bought once (with its remoteid), renewed monthly
//! while the service lives, suspended with it, pooled on deletion and reused by the next order
//! without a purchase; a pooled license leaves the pool a month after its expiry; period
//! comparisons pick the license period; lost answers and a killed controller never buy twice.

mod common;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::Duration;

use hostplane::api::HostingService;
use hostplane::api::ModuleType;
use hostplane::api::common::LocalObjectReference;
use hostplane::api::common::Period;
use hostplane::api::hosting_service::ManagementPolicy;
use hostplane::api::processing_module::VmManagerApiVersion;
use hostplane::api::processing_module::{LicensingSettings, PeriodComparison};
use hostplane::api::tariff::ResourceKind;
use hostplane::controller::clock::Clock;
use hostplane::simulator::state::License;
use hostplane::simulator::{FaultSpec, Profile, SimHandle};
use rust_decimal::Decimal;
use support::fixtures::{
    self, Fixture, FixtureSet, Login, ServiceBuilder, SoftwareLicenses, VirtualServers,
};
use support::*;

const DRIFT: Duration = Duration::from_secs(2);

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(Capture::install_global)
}

/// A licensing module on `sim` (with `licensing` settings), a license tariff, a client and the
/// module's pool.
/// The software licence set on `sim` ([`SoftwareLicenses`]) and the module's `LicensePool`.
fn base(sim: &SimHandle) -> Vec<Fixture> {
    base_with(sim, |_| {})
}

/// [`base`] with the module's licensing settings as `licensing` says.
fn base_with(sim: &SimHandle, licensing: impl FnOnce(&mut LicensingSettings)) -> Vec<Fixture> {
    let set = SoftwareLicenses(Login::new(
        sim.url("/billmgr"),
        common::ADMIN,
        common::PASSWORD,
    ));
    let mut all = set.with(set.module().licensing(licensing), set.lite());
    all.push(fixtures::license_pool("pool", SoftwareLicenses::MODULE).into());
    all
}

/// A licence service of `tariff` for `ip`, from the simulator's today.
fn service_of(
    sim: &SimHandle,
    tariff: &str,
    name: &str,
    ip: &str,
    period: Period,
) -> ServiceBuilder {
    let today = sim.sim.clock().today().to_string();
    SoftwareLicenses::service(name, ip, period, &today)
        .with(|s| s.tariff_ref.name = tariff.to_owned())
}

/// A licence service of the set's tariff `lite` for `ip`.
fn service(sim: &SimHandle, name: &str, ip: &str, period: Period) -> HostingService {
    service_of(sim, SoftwareLicenses::TARIFF, name, ip, period).build()
}

/// Waits for `Ready=True`, showing the Ready message when it does not come.
async fn ready(cluster: &hostplane::testbed::LocalCluster, ns: &str, svc: &str) {
    let object = format!("hsvc/{svc}");
    for _ in 0..300 {
        if jsonpath(cluster, ns, &object, READY) == "True" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "{object} is not Ready: {}",
        jsonpath(cluster, ns, &object, READY_MESSAGE)
    );
}

fn licenses(sim: &SimHandle) -> Vec<License> {
    sim.sim
        .read(|s| s.billmgr.licenses.values().cloned().collect())
}

fn license(sim: &SimHandle, id: &str) -> License {
    let id: u64 = id.parse().expect("a numeric license id");
    sim.sim.read(|s| s.billmgr.licenses[&id].clone())
}

fn balance(sim: &SimHandle) -> Decimal {
    sim.sim.read(|s| s.billmgr.balance)
}

fn charges(sim: &SimHandle, what: &str) -> usize {
    sim.sim
        .read(|s| s.billmgr.charges.iter().filter(|c| c.what == what).count())
}

fn controller_clock(sim: &SimHandle) -> Clock {
    let clock = sim.sim.clock().clone();
    Clock::from_fn(move || clock.now())
}

/// Moves the simulator's (and so the controller's) clock to `day`.
fn advance_to(sim: &SimHandle, day: jiff::civil::Date) {
    let today = sim.sim.clock().today();
    let days = (day - today).get_days();
    assert!(days >= 0, "the clock only moves forward");
    sim.sim
        .clock()
        .advance(jiff::SignedDuration::from_hours(24 * i64::from(days)));
    assert_eq!(sim.sim.clock().today(), day);
}

fn license_id(cluster: &hostplane::testbed::LocalCluster, ns: &str, svc: &str) -> String {
    jsonpath(cluster, ns, &format!("hsvc/{svc}"), "{.status.license.id}")
}

fn expiry(l: &License) -> jiff::civil::Date {
    l.expiredate.expect("an expiry")
}

/// Every live license at the simulator is bound to exactly one service or is in the pool;
/// each service has exactly one.
fn assert_no_leak(
    cluster: &hostplane::testbed::LocalCluster,
    ns: &str,
    sim: &SimHandle,
    services: &[&str],
) {
    let today = sim.sim.clock().today();
    let mut bound: BTreeMap<String, &str> = BTreeMap::new();
    for svc in services {
        let id = license_id(cluster, ns, svc);
        assert!(!id.is_empty(), "{svc} has a license");
        assert!(
            bound.insert(id.clone(), svc).is_none(),
            "license {id} bound to two services"
        );
    }
    for l in licenses(sim) {
        let live = !l.deleted && l.expiredate.is_none_or(|e| today <= e);
        if !live {
            continue;
        }
        let pooled = l.licname == "free.lic" && l.ip == "0.0.0.0";
        assert!(
            pooled || bound.contains_key(&l.id.to_string()),
            "license {} ({} {}) is neither bound to a service nor pooled",
            l.id,
            l.licname,
            l.ip
        );
    }
    for id in bound.keys() {
        let l = license(sim, id);
        assert!(
            l.remoteid.starts_with("hpl0-"),
            "bound license {id} carries the need's remoteid: {}",
            l.remoteid
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_license_is_bought_once_renewed_suspended_pooled_reused_and_expires_out() {
    capture();
    let ns = "licenses-life";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let _controller = start_controller_with_clock(cluster, ns, DRIFT, controller_clock(&sim)).await;
    apply_fixtures(cluster, ns, base(&sim)).await;
    let names = ["lic-a", "lic-b", "lic-c"];
    let ips = ["203.0.113.1", "203.0.113.2", "203.0.113.3"];
    let all: Vec<HostingService> = names
        .iter()
        .zip(ips)
        .map(|(n, ip)| service(&sim, n, ip, Period::OneYear))
        .collect();
    apply_fixtures(cluster, ns, all).await;

    // Bought once each, with the need's remoteid, the key generated, Ready.
    for n in names {
        ready(cluster, ns, n).await;
    }
    let start = sim.sim.clock().today();
    assert_eq!(licenses(&sim).len(), 3);
    assert_eq!(charges(&sim, "order"), 3);
    let mut remoteids = BTreeSet::new();
    for (n, ip) in names.iter().zip(ips) {
        let id = license_id(cluster, ns, n);
        let l = license(&sim, &id);
        assert_eq!(l.ip, ip);
        assert_eq!(l.pricelist, "3541");
        assert_eq!(l.period, 1, "monthly without a period comparison");
        assert_eq!(l.key_polls_left, 0, "the key was read");
        assert!(l.licname.starts_with("Item #"), "{}", l.licname);
        assert!(remoteids.insert(l.remoteid.clone()));
        assert_eq!(
            jsonpath(
                cluster,
                ns,
                &format!("hsvc/{n}"),
                "{.status.license.fromPool}"
            ),
            "false"
        );
        assert_eq!(
            jsonpath(cluster, ns, &format!("hsvc/{n}"), "{.status.externalName}"),
            id
        );
        assert_eq!(
            expiry(&l),
            start.checked_add(jiff::Span::new().months(1)).unwrap()
        );
        // The next action is the license renewal, a day before its expiry, not the
        // service's yearly expiry.
        assert_eq!(
            jsonpath(cluster, ns, &format!("hsvc/{n}"), "{.status.nextActionAt}"),
            format!("{}T00:00:00Z", expiry(&l).yesterday().unwrap())
        );
    }

    // Two months of renewals as the clock moves: each license is prolonged once a month,
    // a day before it expires, independent of the services' yearly period.
    for round in 1..=2 {
        let due = licenses(&sim)
            .iter()
            .map(expiry)
            .min()
            .unwrap()
            .yesterday()
            .unwrap();
        advance_to(&sim, due);
        for n in names {
            request_reconcile(cluster, ns, &format!("hsvc/{n}"), &format!("renew-{round}"));
        }
        until("every license prolonged", || {
            charges(&sim, "prolong") == 3 * round
        })
        .await;
        for n in names {
            eventually(
                cluster,
                ns,
                &format!("hsvc/{n}"),
                "{.status.lastHandledReconcileAt}",
                &format!("renew-{round}"),
            )
            .await;
        }
        for n in names {
            request_reconcile(cluster, ns, &format!("hsvc/{n}"), &format!("again-{round}"));
        }
        for n in names {
            eventually(
                cluster,
                ns,
                &format!("hsvc/{n}"),
                "{.status.lastHandledReconcileAt}",
                &format!("again-{round}"),
            )
            .await;
        }
        assert_eq!(charges(&sim, "prolong"), 3 * round, "never prolonged twice");
        let months = i64::try_from(round).unwrap() + 1;
        for l in licenses(&sim) {
            assert_eq!(
                expiry(&l),
                start.checked_add(jiff::Span::new().months(months)).unwrap()
            );
        }
        let id = license_id(cluster, ns, "lic-a");
        eventually(
            cluster,
            ns,
            "hsvc/lic-a",
            "{.status.license.expiresOn}",
            &expiry(&license(&sim, &id)).to_string(),
        )
        .await;
    }

    // Suspending the service suspends its license; resuming resumes it.
    let b = license_id(cluster, ns, "lic-b");
    kubectl_ok(
        cluster,
        &[
            "patch",
            "hsvc/lic-b",
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"spec":{"suspended":true}}"#,
        ],
    );
    eventually(cluster, ns, "hsvc/lic-b", "{.status.phase}", "Suspended").await;
    until("license suspended", || license(&sim, &b).suspended).await;
    kubectl_ok(
        cluster,
        &[
            "patch",
            "hsvc/lic-b",
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"spec":{"suspended":false}}"#,
        ],
    );
    eventually(cluster, ns, "hsvc/lic-b", "{.status.phase}", "Active").await;
    until("license resumed", || !license(&sim, &b).suspended).await;

    // Deleting a service puts its license into the pool.
    let c = license_id(cluster, ns, "lic-c");
    delete_and_wait(cluster, ns, "hsvc/lic-c");
    let pooled = license(&sim, &c);
    assert_eq!(
        (
            pooled.licname.as_str(),
            pooled.ip.as_str(),
            pooled.remoteid.as_str(),
            pooled.suspended
        ),
        ("free.lic", "0.0.0.0", "", true)
    );
    eventually(cluster, ns, "lpool/pool", "{.status.pooled}", "1").await;
    eventually(cluster, ns, "lpool/pool", "{.status.licenses[0].id}", &c).await;
    eventually(
        cluster,
        ns,
        "lpool/pool",
        "{.status.counts[0].licenseType}",
        "3541",
    )
    .await;

    // The next order takes it: no purchase.
    let before = balance(&sim);
    apply_fixtures(
        cluster,
        ns,
        [service(&sim, "lic-d", "203.0.113.4", Period::OneYear)],
    )
    .await;
    ready(cluster, ns, "lic-d").await;
    assert_eq!(
        license_id(cluster, ns, "lic-d"),
        c,
        "the pooled license is reused"
    );
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/lic-d", "{.status.license.fromPool}"),
        "true"
    );
    assert_eq!(balance(&sim), before, "nothing bought");
    let taken = license(&sim, &c);
    assert_eq!(taken.ip, "203.0.113.4");
    assert!(!taken.suspended);
    assert!(taken.remoteid.starts_with("hpl0-"));
    assert_eq!(licenses(&sim).len(), 3);
    eventually(cluster, ns, "lpool/pool", "{.status.pooled}", "0").await;
    assert_no_leak(cluster, ns, &sim, &["lic-a", "lic-b", "lic-d"]);

    // A pooled license is not renewed, and leaves the pool a month after its expiry.
    let a = license_id(cluster, ns, "lic-a");
    delete_and_wait(cluster, ns, "hsvc/lic-a");
    eventually(cluster, ns, "lpool/pool", "{.status.pooled}", "1").await;
    let expires = expiry(&license(&sim, &a));
    advance_to(
        &sim,
        expires.checked_add(jiff::Span::new().days(5)).unwrap(),
    );
    request_reconcile(cluster, ns, "lpool/pool", "expired");
    eventually(
        cluster,
        ns,
        "lpool/pool",
        "{.status.licenses[0].state}",
        "Expired",
    )
    .await;
    assert_eq!(
        expiry(&license(&sim, &a)),
        expires,
        "a pooled license is not renewed"
    );
    advance_to(
        &sim,
        expires.checked_add(jiff::Span::new().months(1)).unwrap(),
    );
    request_reconcile(cluster, ns, "lpool/pool", "out");
    eventually(cluster, ns, "lpool/pool", "{.status.pooled}", "0").await;
    assert!(license(&sim, &a).deleted, "deleted at the licensing server");
}

/// Seed 001's period comparison: yearly licenses for monthly services (per the module), and
/// monthly licenses for yearly services.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn period_comparisons_choose_the_license_period() {
    capture();
    let ns = "licenses-periods";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let _controller = start_controller_with_clock(cluster, ns, DRIFT, controller_clock(&sim)).await;
    let monthly_to_yearly: PeriodComparison =
        serde_json::from_value(serde_json::json!({"servicePeriod": "1m", "licensePeriod": "1y"}))
            .expect("a period comparison");
    let base = base_with(&sim, |l| l.period_comparisons = vec![monthly_to_yearly]);
    apply_fixtures(cluster, ns, base).await;
    let services = [
        service(&sim, "monthly", "198.51.100.1", Period::OneMonth),
        service(&sim, "yearly", "198.51.100.2", Period::OneYear),
    ];
    apply_fixtures(cluster, ns, services).await;
    ready(cluster, ns, "monthly").await;
    ready(cluster, ns, "yearly").await;
    let start = sim.sim.clock().today();
    let m = license(&sim, &license_id(cluster, ns, "monthly"));
    let y = license(&sim, &license_id(cluster, ns, "yearly"));
    assert_eq!(m.period, 12, "a monthly service gets a yearly license");
    assert_eq!(
        expiry(&m),
        start.checked_add(jiff::Span::new().years(1)).unwrap()
    );
    assert_eq!(y.period, 1, "a yearly service gets a monthly license");
    let one_month = sim.sim.read(|s| s.billmgr.prices["3541"]);
    assert_eq!(
        sim.sim
            .read(|s| s.billmgr.charges.iter().map(|c| c.amount).sum::<Decimal>()),
        one_month * Decimal::from(13)
    );

    // A day before the monthly license runs out, only it is prolonged (for a month).
    advance_to(&sim, expiry(&y).yesterday().unwrap());
    request_reconcile(cluster, ns, "hsvc/monthly", "t1");
    request_reconcile(cluster, ns, "hsvc/yearly", "t1");
    until("the monthly license prolonged", || {
        charges(&sim, "prolong") == 1
    })
    .await;
    eventually(
        cluster,
        ns,
        "hsvc/monthly",
        "{.status.lastHandledReconcileAt}",
        "t1",
    )
    .await;
    eventually(
        cluster,
        ns,
        "hsvc/yearly",
        "{.status.lastHandledReconcileAt}",
        "t1",
    )
    .await;
    assert_eq!(charges(&sim, "prolong"), 1);
    let y = license(&sim, &y.id.to_string());
    assert_eq!(
        expiry(&y),
        start.checked_add(jiff::Span::new().months(2)).unwrap()
    );
    assert_eq!(expiry(&license(&sim, &m.id.to_string())), expiry(&m));
}

/// `soft.order.param` applied but its answer dropped: the controller looks the order up by
/// remoteid instead of buying again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_order_answers_never_buy_twice() {
    capture();
    let ns = "licenses-lost";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    sim.sim.faults().set(
        "billmgr",
        "soft.order.param",
        FaultSpec {
            drop_response: 3,
            ..FaultSpec::default()
        },
    );
    let _controller = start_controller_with_clock(cluster, ns, DRIFT, controller_clock(&sim)).await;
    apply_fixtures(cluster, ns, base(&sim)).await;
    let names: Vec<String> = (0..4).map(|i| format!("lost{i}")).collect();
    let all: Vec<HostingService> = names
        .iter()
        .enumerate()
        .map(|(i, n)| service(&sim, n, &format!("192.0.2.{}", i + 1), Period::OneYear))
        .collect();
    apply_fixtures(cluster, ns, all).await;
    for n in &names {
        ready(cluster, ns, n).await;
    }
    assert_eq!(sim.sim.call_count("billmgr", "soft.order.param"), 4);
    assert_eq!(charges(&sim, "order"), 4, "one purchase per service");
    assert_eq!(licenses(&sim).len(), 4);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_no_leak(cluster, ns, &sim, &names);
}

/// The controller dies while orders are in flight (applied and paid at the licensing server,
/// answers not back yet, so no status records them); a new one finds them by their
/// correlation id and buys only what was never ordered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_killed_mid_order_buys_nothing_twice() {
    capture();
    let ns = "licenses-kill";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    // Applied at once, answered 30 s later: every order the first controller sends is in
    // flight when it dies.
    sim.sim.faults().set(
        "billmgr",
        "soft.order.param",
        FaultSpec {
            late_ms: 30_000,
            ..FaultSpec::default()
        },
    );
    apply_fixtures(cluster, ns, base(&sim)).await;
    let names: Vec<String> = (0..6).map(|i| format!("kill{i}")).collect();
    let all: Vec<HostingService> = names
        .iter()
        .enumerate()
        .map(|(i, n)| service(&sim, n, &format!("192.0.2.{}", i + 10), Period::OneYear))
        .collect();
    apply_fixtures(cluster, ns, all).await;
    let first = start_killable_controller(cluster, ns, DRIFT, controller_clock(&sim));
    // Purchases are made one at a time (under the lease), so the first is the one in flight.
    until("a license bought", || !licenses(&sim).is_empty()).await;
    first.kill();
    let bought_by_first: Vec<String> = licenses(&sim).iter().map(|l| l.id.to_string()).collect();
    let recorded: Vec<String> = names.iter().map(|n| license_id(cluster, ns, n)).collect();
    let in_flight: Vec<&String> = bought_by_first
        .iter()
        .filter(|id| !recorded.contains(id))
        .collect();
    assert!(
        !in_flight.is_empty(),
        "the kill interrupted no order: {bought_by_first:?} all recorded"
    );
    sim.sim
        .faults()
        .set("billmgr", "soft.order.param", FaultSpec::default());
    let _second = start_controller_with_clock(cluster, ns, DRIFT, controller_clock(&sim)).await;
    for n in &names {
        ready(cluster, ns, n).await;
    }
    assert_eq!(
        licenses(&sim).len(),
        6,
        "one license per service (killed with {in_flight:?} in flight)"
    );
    assert_eq!(charges(&sim, "order"), 6);
    assert_eq!(
        sim.sim.call_count("billmgr", "soft.order.param"),
        6,
        "no order sent twice"
    );
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_no_leak(cluster, ns, &sim, &names);
    // The logs of both controllers (every line at debug level): neither the partner's
    // password nor a licence key.
    let logs = capture().text();
    assert!(logs.contains("hostplane"), "the capture works");
    let keys: Vec<String> = licenses(&sim).into_iter().map(|l| l.lickey).collect();
    for secret in keys.iter().map(String::as_str).chain([common::PASSWORD]) {
        assert!(!logs.contains(secret), "a secret in the logs");
    }
}

// --- License type changes (seed 003: `Option UseExistingOnUpgrade`, changepricelist) -------

/// A second license tariff of another type (ISPmanager 5 Business, 4601).
fn business() -> Fixture {
    SoftwareLicenses::tariff("business", "4601", "9.00", "90.00")
        .build()
        .into()
}

/// Moves `svc` to `tariff` on the simulator's today, declaring the change from its current
/// tariff (issue 15: a tariff change is a declared, billed event).
fn change_tariff(
    cluster: &hostplane::testbed::LocalCluster,
    sim: &SimHandle,
    ns: &str,
    svc: &str,
    tariff: &str,
) {
    let object = format!("hsvc/{svc}");
    let from = jsonpath(cluster, ns, &object, "{.spec.tariffRef.name}");
    let today = sim.sim.clock().today();
    let patch = format!(
        r#"{{"spec":{{"tariffRef":{{"name":"{tariff}"}},"tariffChanges":[{{"changedOn":"{today}","fromTariffRef":{{"name":"{from}"}}}}]}}}}"#
    );
    kubectl_ok(
        cluster,
        &["patch", &object, "-n", ns, "--type=merge", "-p", &patch],
    );
}

/// The reasons of the events about `object` (e.g. `HostingService/lic-a`).
fn event_reasons(cluster: &hostplane::testbed::LocalCluster, ns: &str, name: &str) -> String {
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

/// Live licenses carrying `remoteid`.
fn carrying(sim: &SimHandle, remoteid: &str) -> Vec<License> {
    licenses(sim)
        .into_iter()
        .filter(|l| !l.deleted && l.remoteid == remoteid)
        .collect()
}

/// Without `useExistingOnUpgrade` a tariff change moves the bound license to the new
/// pricelist (`service.changepricelist`): same license, nothing bought, even with a pooled
/// license of the new type waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tariff_change_moves_the_license_to_the_new_pricelist() {
    capture();
    let ns = "licenses-changepricelist";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let _controller = start_controller_with_clock(cluster, ns, DRIFT, controller_clock(&sim)).await;
    let mut set = base(&sim);
    set.push(business());
    apply_fixtures(cluster, ns, set).await;
    // A pooled Business license: not taken without the option.
    let biz = service_of(&sim, "business", "biz", "203.0.113.20", Period::OneYear);
    apply_fixtures(cluster, ns, [biz.build()]).await;
    ready(cluster, ns, "biz").await;
    let pooled = license_id(cluster, ns, "biz");
    delete_and_wait(cluster, ns, "hsvc/biz");
    eventually(cluster, ns, "lpool/pool", "{.status.pooled}", "1").await;

    apply_fixtures(
        cluster,
        ns,
        [service(&sim, "lic-a", "203.0.113.21", Period::OneYear)],
    )
    .await;
    ready(cluster, ns, "lic-a").await;
    let id = license_id(cluster, ns, "lic-a");
    let remoteid = license(&sim, &id).remoteid;
    let (orders, before) = (charges(&sim, "order"), balance(&sim));
    assert_eq!(orders, 2);

    change_tariff(cluster, &sim, ns, "lic-a", "business");
    eventually(
        cluster,
        ns,
        "hsvc/lic-a",
        "{.status.license.licenseType}",
        "4601",
    )
    .await;
    ready(cluster, ns, "lic-a").await;
    assert_eq!(license_id(cluster, ns, "lic-a"), id, "the same license");
    let moved = license(&sim, &id);
    assert_eq!(moved.pricelist, "4601");
    assert_eq!(
        (moved.ip.as_str(), moved.remoteid.as_str()),
        ("203.0.113.21", remoteid.as_str())
    );
    assert_eq!(sim.sim.call_count("billmgr", "service.changepricelist"), 1);
    assert_eq!(charges(&sim, "order"), orders, "nothing bought");
    assert_eq!(balance(&sim), before);
    assert_eq!(
        carrying(&sim, &remoteid).len(),
        1,
        "one license for the need"
    );
    let still = license(&sim, &pooled);
    assert_eq!(
        (still.licname.as_str(), still.ip.as_str()),
        ("free.lic", "0.0.0.0")
    );
    assert!(event_reasons(cluster, ns, "lic-a").contains("LicenseTypeChanged"));

    // Another reconcile changes nothing more.
    request_reconcile(cluster, ns, "hsvc/lic-a", "again");
    eventually(
        cluster,
        ns,
        "hsvc/lic-a",
        "{.status.lastHandledReconcileAt}",
        "again",
    )
    .await;
    assert_eq!(sim.sim.call_count("billmgr", "service.changepricelist"), 1);
    assert_eq!(charges(&sim, "order"), orders);
}

/// With `useExistingOnUpgrade` a tariff change takes a pooled license of the new type and
/// puts the old license into the pool. The controller dies between the take and the release
/// (the release's `soft.suspend` is unavailable, then the controller is aborted): the next
/// controller sees two licenses carrying the need's remoteid, keeps the one of the new type
/// and pools the other — one license per need, nothing bought, nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tariff_change_takes_a_pooled_license_and_survives_a_kill_between_take_and_release() {
    capture();
    let ns = "licenses-upgrade";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let first = start_controller_with_clock(cluster, ns, DRIFT, controller_clock(&sim)).await;
    let mut set = base_with(&sim, |l| l.use_existing_on_upgrade = true);
    set.push(business());
    apply_fixtures(cluster, ns, set).await;
    let services = [
        service_of(&sim, "business", "biz", "203.0.113.30", Period::OneYear).build(),
        service(&sim, "lic-a", "203.0.113.31", Period::OneYear),
    ];
    apply_fixtures(cluster, ns, services).await;
    ready(cluster, ns, "biz").await;
    ready(cluster, ns, "lic-a").await;
    let pooled = license_id(cluster, ns, "biz");
    let old = license_id(cluster, ns, "lic-a");
    delete_and_wait(cluster, ns, "hsvc/biz");
    eventually(cluster, ns, "lpool/pool", "{.status.pooled}", "1").await;
    let remoteid = license(&sim, &old).remoteid;
    let (orders, before) = (charges(&sim, "order"), balance(&sim));
    assert_eq!(orders, 2);

    // The take succeeds, the release of the old license cannot: the state a kill between
    // the two leaves behind.
    sim.sim.faults().set(
        "billmgr",
        "soft.suspend",
        FaultSpec {
            unavailable: 1_000_000,
            ..FaultSpec::default()
        },
    );
    change_tariff(cluster, &sim, ns, "lic-a", "business");
    until("the pooled license taken", || {
        carrying(&sim, &remoteid).len() == 2
    })
    .await;
    first.abort();
    let _ = first.await;
    let both = carrying(&sim, &remoteid);
    assert!(
        both.iter()
            .any(|l| l.id.to_string() == pooled && l.pricelist == "4601")
    );
    assert!(
        both.iter()
            .any(|l| l.id.to_string() == old && l.pricelist == "3541")
    );
    sim.sim
        .faults()
        .set("billmgr", "soft.suspend", FaultSpec::default());

    let _second = start_controller_with_clock(cluster, ns, DRIFT, controller_clock(&sim)).await;
    eventually(cluster, ns, "hsvc/lic-a", "{.status.license.id}", &pooled).await;
    ready(cluster, ns, "lic-a").await;
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/lic-a", "{.status.license.licenseType}"),
        "4601"
    );
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/lic-a", "{.status.license.fromPool}"),
        "true"
    );
    let taken = license(&sim, &pooled);
    assert_eq!(taken.ip, "203.0.113.31");
    assert!(!taken.suspended);
    let released = license(&sim, &old);
    assert_eq!(
        (
            released.licname.as_str(),
            released.ip.as_str(),
            released.remoteid.as_str(),
            released.suspended
        ),
        ("free.lic", "0.0.0.0", "", true),
        "the old license is in the pool"
    );
    assert_eq!(
        carrying(&sim, &remoteid).len(),
        1,
        "one license for the need"
    );
    assert_eq!(charges(&sim, "order"), orders, "nothing bought");
    assert_eq!(balance(&sim), before, "nothing paid");
    assert_eq!(sim.sim.call_count("billmgr", "service.changepricelist"), 0);
    assert_eq!(licenses(&sim).len(), 2);
    eventually(cluster, ns, "lpool/pool", "{.status.licenses[0].id}", &old).await;
    eventually(
        cluster,
        ns,
        "lpool/pool",
        "{.status.counts[0].licenseType}",
        "3541",
    )
    .await;
    assert!(event_reasons(cluster, ns, "lic-a").contains("LicenseTypeChanged"));
    assert_no_leak(cluster, ns, &sim, &["lic-a"]);
}

// --- ObserveOnly ------------------------------------------------------------------------

/// `managementPolicy: ObserveOnly`: a license bought elsewhere is found by IP and type (the
/// `fixchilds` match) and reported; suspension, renewal time and deletion change nothing at
/// the licensing server. A service whose IP has no license is `Stalled` `ExternalNotFound`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_only_license_services_report_the_license_and_change_nothing() {
    use hostplane::panel::licensing::LicenseOrder;
    use hostplane::panel::mgr::{AuthMode, Format};

    capture();
    let ns = "licenses-observe";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    // Bought by someone else (another billing system): no hostplane remoteid.
    let bought = common::licensing(&sim, AuthMode::Authinfo, Format::Json)
        .order(&LicenseOrder {
            pricelist: "3541".into(),
            period: "1".into(),
            ip: "198.51.100.40".into(),
            licname: "legacy".into(),
            remoteid: "l17".into(),
            addons: vec![],
        })
        .await
        .expect("a license ordered by hand");
    let _controller = start_controller_with_clock(cluster, ns, DRIFT, controller_clock(&sim)).await;
    apply_fixtures(cluster, ns, base(&sim)).await;
    let observe = |name: &str, ip: &str| {
        service_of(&sim, SoftwareLicenses::TARIFF, name, ip, Period::OneYear)
            .with(|s| s.management_policy = ManagementPolicy::ObserveOnly)
            .build()
    };
    let services = [
        observe("seen", "198.51.100.40"),
        observe("missing", "198.51.100.41"),
    ];
    apply_fixtures(cluster, ns, services).await;
    ready(cluster, ns, "seen").await;
    let object = "hsvc/seen";
    assert_eq!(jsonpath(cluster, ns, object, READY_REASON), "Observed");
    assert_eq!(
        jsonpath(cluster, ns, object, "{.status.license.id}"),
        bought
    );
    assert_eq!(
        jsonpath(cluster, ns, object, "{.status.license.licenseType}"),
        "3541"
    );
    assert_eq!(
        jsonpath(cluster, ns, object, "{.status.license.fromPool}"),
        "false"
    );
    assert_eq!(
        jsonpath(cluster, ns, object, "{.status.externalName}"),
        bought
    );
    assert_eq!(
        jsonpath(cluster, ns, object, "{.status.ip}"),
        "198.51.100.40"
    );
    let expires = expiry(&license(&sim, &bought));
    assert_eq!(
        jsonpath(cluster, ns, object, "{.status.license.expiresOn}"),
        expires.to_string()
    );
    eventually(cluster, ns, "hsvc/missing", STALLED, "True").await;
    assert_eq!(
        jsonpath(
            cluster,
            ns,
            "hsvc/missing",
            r#"{.status.conditions[?(@.type=="Stalled")].reason}"#
        ),
        "ExternalNotFound"
    );

    // Suspended, and on the day a Full service's license would be prolonged: nothing moves.
    kubectl_ok(
        cluster,
        &[
            "patch",
            object,
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"spec":{"suspended":true}}"#,
        ],
    );
    advance_to(&sim, expires.yesterday().unwrap());
    request_reconcile(cluster, ns, object, "late");
    eventually(
        cluster,
        ns,
        object,
        "{.status.lastHandledReconcileAt}",
        "late",
    )
    .await;
    delete_and_wait(cluster, ns, object);
    let after = license(&sim, &bought);
    assert_eq!(
        (
            after.licname.as_str(),
            after.ip.as_str(),
            after.remoteid.as_str(),
            after.suspended,
            expiry(&after)
        ),
        ("legacy", "198.51.100.40", "l17", false, expires),
        "an observed license is never edited, suspended, prolonged or pooled"
    );
    for func in [
        "soft.edit",
        "soft.suspend",
        "soft.resume",
        "service.prolong",
        "service.changepricelist",
        "soft.delete",
    ] {
        assert_eq!(sim.sim.call_count("billmgr", func), 0, "{func} called");
    }
    assert_eq!(sim.sim.call_count("billmgr", "soft.order.param"), 1);
    assert_eq!(licenses(&sim).len(), 1);
}

// --- fixchilds for virtual servers -------------------------------------------------------

/// Issue 5: the pool's `fixchilds` report covers the control-panel license addons of virtual
/// servers (seed 001: the license IP is the server's IP), not only standalone licenses. A
/// server whose license cannot be bought (orders unavailable) is reported as waiting for a
/// license at the VMmanager module's licensing module.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_reports_virtual_servers_waiting_for_a_panel_license() {
    capture();
    let ns = "licenses-vps-fixchilds";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    common::quick_vm6_tasks(&sim);
    sim.sim.faults().set(
        "billmgr",
        "soft.order.param",
        FaultSpec {
            unavailable: 1_000_000,
            ..FaultSpec::default()
        },
    );
    let _controller = start_controller_with_clock(cluster, ns, DRIFT, controller_clock(&sim)).await;
    // A VMmanager 6 module that takes its control-panel licences from lic1, a tariff selling
    // servers with or without ISPmanager Lite, and one server of each.
    let servers = VirtualServers(Login::new(
        sim.base_url.clone(),
        common::ADMIN,
        common::PASSWORD,
    ));
    let module = fixtures::module(
        VirtualServers::MODULE,
        ModuleType::VMmanager,
        &sim.base_url,
        SoftwareLicenses::SECRET,
    )
    .quiet_seconds(2)
    .vmmanager(VmManagerApiVersion::V6, |v| {
        v.licensing_module_ref = Some(LocalObjectReference {
            name: SoftwareLicenses::MODULE.into(),
        });
    });
    let tariff = servers
        .tariff()
        .with(|t| t.resources.clear())
        .with_virtual_server(|v| v.operating_systems = vec!["Debian 12".into()])
        .control_panel("ispmanager-lite", "3541", "4.00", "40.00");
    let today = sim.sim.clock().today().to_string();
    let mut set = base(&sim);
    set.extend([
        module.build().into(),
        tariff.build().into(),
        VirtualServers::service("panel", &today)
            .with(|s| s.control_panel = Some("ispmanager-lite".into()))
            .build()
            .into(),
        VirtualServers::service("bare", &today).build().into(),
    ]);
    apply_fixtures(cluster, ns, set).await;
    until("the server has its IP", || {
        !jsonpath(cluster, ns, "hsvc/panel", "{.status.ip}").is_empty()
    })
    .await;
    eventually(cluster, ns, "hsvc/bare", READY, "True").await;
    request_reconcile(cluster, ns, "lpool/pool", "vps");
    eventually(
        cluster,
        ns,
        "lpool/pool",
        "{.status.lastHandledReconcileAt}",
        "vps",
    )
    .await;
    let message = jsonpath(cluster, ns, "lpool/pool", READY_MESSAGE);
    assert!(
        message.contains("1 services waiting for a license"),
        "the server with a panel (and only it) waits for its license: {message}"
    );
    assert!(licenses(&sim).is_empty(), "nothing bought");
}

// --- Extra nodes and the pool (reference §5.4: same addon count) --------------------------

/// A tariff of ISPmanager Business licences with extra nodes (addon 4602) at 1.00 a month each.
fn nodes_tariff() -> Fixture {
    SoftwareLicenses::tariff("nodes", "4601", "9.00", "90.00")
        .resource(ResourceKind::LicenseNodes, 0, 10, 1, "1.00")
        .with(|t| {
            if let Some(license) = &mut t.license {
                license.nodes_addon_id = Some("4602".into());
            }
        })
        .build()
        .into()
}

fn with_nodes(sim: &SimHandle, name: &str, ip: &str, nodes: u64) -> HostingService {
    service_of(sim, "nodes", name, ip, Period::OneYear)
        .resource(ResourceKind::LicenseNodes, nodes)
        .build()
}

/// The `nodes.hostplane.dev/*` annotations of the pool.
fn node_records(cluster: &hostplane::testbed::LocalCluster, ns: &str) -> BTreeMap<String, String> {
    let json = kubectl_ok(cluster, &["get", "lpool/pool", "-n", ns, "-o", "json"]);
    let pool: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    pool["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let of = k.strip_prefix("nodes.hostplane.dev/")?;
            Some((of.to_owned(), v.as_str()?.to_owned()))
        })
        .collect()
}

/// A license bought with extra nodes has its count recorded on the LicensePool (before the
/// order, so a lost answer keeps it); pooled, it serves only a need with the same count — a
/// need with other nodes, or none, buys its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_license_with_nodes_serves_only_a_need_with_the_same_count() {
    capture();
    let ns = "licenses-nodes";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let _controller = start_controller_with_clock(cluster, ns, DRIFT, controller_clock(&sim)).await;
    let mut set = base(&sim);
    set.push(nodes_tariff());
    apply_fixtures(cluster, ns, set).await;
    eventually(cluster, ns, "lpool/pool", READY, "True").await;
    // The first order's answer is lost: its count is known all the same.
    sim.sim.faults().set(
        "billmgr",
        "soft.order.param",
        FaultSpec {
            drop_response: 1,
            ..FaultSpec::default()
        },
    );
    apply_fixtures(cluster, ns, [with_nodes(&sim, "three", "203.0.113.50", 3)]).await;
    ready(cluster, ns, "three").await;
    let three = license_id(cluster, ns, "three");
    assert_eq!(
        license(&sim, &three)
            .addons
            .get("addon_4602")
            .map(String::as_str),
        Some("3")
    );
    assert_eq!(charges(&sim, "order"), 1);
    assert_eq!(
        node_records(cluster, ns),
        BTreeMap::from([(three.clone(), "4602=3".to_owned())]),
        "the license's record, and none left under the remoteid"
    );
    delete_and_wait(cluster, ns, "hsvc/three");
    eventually(
        cluster,
        ns,
        "lpool/pool",
        "{.status.licenses[0].nodes}",
        "3",
    )
    .await;

    // Two nodes, and none: not the pooled license; each buys.
    let services = [
        with_nodes(&sim, "two", "203.0.113.51", 2),
        with_nodes(&sim, "none", "203.0.113.52", 0),
    ];
    apply_fixtures(cluster, ns, services).await;
    ready(cluster, ns, "two").await;
    ready(cluster, ns, "none").await;
    assert_ne!(license_id(cluster, ns, "two"), three);
    assert_ne!(license_id(cluster, ns, "none"), three);
    assert_eq!(charges(&sim, "order"), 3);
    assert_eq!(
        license(&sim, &license_id(cluster, ns, "two"))
            .addons
            .get("addon_4602")
            .map(String::as_str),
        Some("2")
    );
    assert!(
        license(&sim, &license_id(cluster, ns, "none"))
            .addons
            .is_empty()
    );
    assert_eq!(license(&sim, &three).licname, "free.lic", "still pooled");

    // Three nodes: the pooled license, nothing bought.
    let before = balance(&sim);
    apply_fixtures(
        cluster,
        ns,
        [with_nodes(&sim, "three-again", "203.0.113.53", 3)],
    )
    .await;
    ready(cluster, ns, "three-again").await;
    assert_eq!(license_id(cluster, ns, "three-again"), three);
    assert_eq!(
        jsonpath(
            cluster,
            ns,
            "hsvc/three-again",
            "{.status.license.fromPool}"
        ),
        "true"
    );
    assert_eq!(charges(&sim, "order"), 3);
    assert_eq!(balance(&sim), before);
    let records = node_records(cluster, ns);
    assert_eq!(records.get(&three).map(String::as_str), Some("4602=3"));
    assert_eq!(records.len(), 2, "the 3- and 2-node licenses: {records:?}");
    assert_no_leak(cluster, ns, &sim, &["two", "none", "three-again"]);
}

/// A licensing server that does not answer while a pooled license is being taken never turns
/// the take into a purchase: the service waits (`PoolTakeFailed`, retried) and takes the
/// pooled license once the server answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_pool_take_buys_nothing() {
    capture();
    let ns = "licenses-take-unanswered";
    let cluster = cluster_with_namespace(ns);
    let sim = common::start().await;
    let _controller = start_controller_with_clock(cluster, ns, DRIFT, controller_clock(&sim)).await;
    let mut set = base(&sim);
    set.push(service(&sim, "first", "203.0.113.60", Period::OneMonth).into());
    apply_fixtures(cluster, ns, set).await;
    ready(cluster, ns, "first").await;
    let pooled = license_id(cluster, ns, "first");
    delete_and_wait(cluster, ns, "hsvc/first");
    eventually(cluster, ns, "lpool/pool", "{.status.pooled}", "1").await;
    let (orders, before) = (charges(&sim, "order"), balance(&sim));

    sim.sim.faults().set(
        "billmgr",
        "soft.edit",
        FaultSpec {
            unavailable: 1_000_000,
            ..FaultSpec::default()
        },
    );
    apply_fixtures(
        cluster,
        ns,
        [service(&sim, "second", "203.0.113.61", Period::OneMonth)],
    )
    .await;
    eventually(
        cluster,
        ns,
        "hsvc/second",
        r#"{.status.conditions[?(@.type=="Ready")].reason}"#,
        "PoolTakeFailed",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(charges(&sim, "order"), orders, "nothing bought meanwhile");

    sim.sim
        .faults()
        .set("billmgr", "soft.edit", FaultSpec::default());
    ready(cluster, ns, "second").await;
    assert_eq!(license_id(cluster, ns, "second"), pooled);
    assert_eq!(charges(&sim, "order"), orders);
    assert_eq!(balance(&sim), before, "a pooled license costs nothing");
    assert_no_leak(cluster, ns, &sim, &["second"]);
}

// --- The strict dialect: no `remoteid` in the `soft` list, the order id as `item.id` -------

/// A simulator that answers as real licensing servers do (reference §11): the `soft` list
/// has no `remoteid` (only `soft.edit` shows it) and an order answer carries its id as
/// `item.id`.
async fn strict_sim() -> SimHandle {
    let sim = common::start().await;
    sim.sim.set_dialect(Profile::Strict.dialect());
    sim
}

/// A strict simulator, a controller on its clock, the licensing module and one Ready service.
async fn strict_with_one(
    ns: &str,
    name: &str,
    ip: &str,
    period: Period,
) -> (
    &'static hostplane::testbed::LocalCluster,
    SimHandle,
    tokio::task::JoinHandle<()>,
) {
    capture();
    let cluster = cluster_with_namespace(ns);
    let sim = strict_sim().await;
    let controller = start_controller_with_clock(cluster, ns, DRIFT, controller_clock(&sim)).await;
    let mut set = base(&sim);
    set.push(service(&sim, name, ip, period).into());
    apply_fixtures(cluster, ns, set).await;
    ready(cluster, ns, name).await;
    (cluster, sim, controller)
}

/// Every way an order's answer can be lost after the licence was bought — cut, a proxy's 503,
/// an answer without an id — against a list that does not echo `remoteid`: each service ends
/// bound to the one licence its single order bought, found by the tag in its name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_orders_answered_without_an_id_or_lost_buy_exactly_once() {
    capture();
    let ns = "licenses-strict-lost";
    let cluster = cluster_with_namespace(ns);
    let sim = strict_sim().await;
    let before = balance(&sim);
    sim.sim.faults().set(
        "billmgr",
        "soft.order.param",
        FaultSpec {
            drop_response: 1,
            applied_unavailable: 1,
            no_id: 1,
            ..FaultSpec::NONE
        },
    );
    let _controller = start_controller_with_clock(cluster, ns, DRIFT, controller_clock(&sim)).await;
    apply_fixtures(cluster, ns, base(&sim)).await;
    let names: Vec<String> = (0..4).map(|i| format!("strict{i}")).collect();
    let all: Vec<HostingService> = names
        .iter()
        .enumerate()
        .map(|(i, n)| service(&sim, n, &format!("192.0.2.{}", i + 40), Period::OneYear))
        .collect();
    apply_fixtures(cluster, ns, all).await;
    for n in &names {
        ready(cluster, ns, n).await;
    }
    assert!(sim.sim.faults().list().is_empty(), "every fault was hit");
    assert_eq!(
        sim.sim.call_count("billmgr", "soft.order.param"),
        4,
        "one order per service, never sent again"
    );
    assert_eq!(charges(&sim, "order"), 4, "one purchase per service");
    assert_eq!(licenses(&sim).len(), 4);
    // 3541 costs the same for each: four months bought, nothing more.
    let month = sim.sim.read(|s| s.billmgr.prices["3541"]);
    assert_eq!(balance(&sim), before - month * Decimal::from(4));
    for (i, n) in names.iter().enumerate() {
        let l = license(&sim, &license_id(cluster, ns, n));
        assert_eq!(l.ip, format!("192.0.2.{}", i + 40));
        // The name carries the need's remoteid: what the list identifies it by.
        assert!(
            l.licname.ends_with(&format!(" [{}]", l.remoteid)),
            "{} / {}",
            l.licname,
            l.remoteid
        );
        // The order attempt is settled once its licence is known.
        assert_eq!(
            jsonpath(
                cluster,
                ns,
                &format!("hsvc/{n}"),
                "{.metadata.annotations.hostplane\\.dev/order-pending-license}"
            ),
            ""
        );
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_no_leak(cluster, ns, &sim, &names);
}

/// A prolongation that was applied but whose answer was lost (a proxy's 503, an answer
/// without the new date), against the strict dialect: the expiry moves by one period per
/// renewal, and each renewal is paid once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_a_lost_prolong_answer_never_prolongs_twice() {
    let ns = "licenses-strict-prolong";
    let (cluster, sim, _controller) =
        strict_with_one(ns, "renewed", "203.0.113.70", Period::OneYear).await;
    let id = license_id(cluster, ns, "renewed");
    let start = expiry(&license(&sim, &id));

    for (round, fault) in [
        FaultSpec {
            applied_unavailable: 1,
            ..FaultSpec::NONE
        },
        FaultSpec {
            no_id: 1,
            ..FaultSpec::NONE
        },
    ]
    .into_iter()
    .enumerate()
    {
        let round = round + 1;
        sim.sim.faults().set("billmgr", "service.prolong", fault);
        advance_to(&sim, expiry(&license(&sim, &id)).yesterday().unwrap());
        request_reconcile(cluster, ns, "hsvc/renewed", &format!("renew-{round}"));
        until("the licence prolonged", || {
            charges(&sim, "prolong") == round
        })
        .await;
        // The lost answer fails one reconcile; the next ones read the moved expiry.
        eventually(
            cluster,
            ns,
            "hsvc/renewed",
            "{.status.license.expiresOn}",
            &start
                .checked_add(jiff::Span::new().months(i64::try_from(round).unwrap()))
                .unwrap()
                .to_string(),
        )
        .await;
        ready(cluster, ns, "renewed").await;
        request_reconcile(cluster, ns, "hsvc/renewed", &format!("again-{round}"));
        eventually(
            cluster,
            ns,
            "hsvc/renewed",
            "{.status.lastHandledReconcileAt}",
            &format!("again-{round}"),
        )
        .await;
        assert_eq!(
            sim.sim.call_count("billmgr", "service.prolong"),
            u64::try_from(round).unwrap(),
            "never sent twice"
        );
        assert_eq!(charges(&sim, "prolong"), round, "paid once per renewal");
        assert_eq!(
            expiry(&license(&sim, &id)),
            start
                .checked_add(jiff::Span::new().months(i64::try_from(round).unwrap()))
                .unwrap()
        );
    }
}

/// A pool take (`soft.edit` rebinding the pooled licence) applied with its answer cut, then
/// answered without `ok`, against the strict dialect: the same pooled licence ends up bound
/// and nothing is ordered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_a_pool_take_applied_with_its_answer_lost_buys_nothing() {
    let ns = "licenses-strict-take";
    let (cluster, sim, _controller) =
        strict_with_one(ns, "first", "203.0.113.80", Period::OneMonth).await;
    let pooled = license_id(cluster, ns, "first");
    delete_and_wait(cluster, ns, "hsvc/first");
    eventually(cluster, ns, "lpool/pool", "{.status.pooled}", "1").await;
    let (orders, before) = (
        sim.sim.call_count("billmgr", "soft.order.param"),
        balance(&sim),
    );

    // The take's rebind is applied and its answer cut (the client repeats the edit, which is
    // idempotent), then applied and answered with neither `ok` nor an error.
    sim.sim.faults().set(
        "billmgr",
        "soft.edit",
        FaultSpec {
            drop_response: 1,
            no_id: 1,
            ..FaultSpec::NONE
        },
    );
    apply_fixtures(
        cluster,
        ns,
        [service(&sim, "second", "203.0.113.81", Period::OneMonth)],
    )
    .await;
    ready(cluster, ns, "second").await;
    assert!(sim.sim.faults().list().is_empty(), "every fault was hit");
    assert_eq!(license_id(cluster, ns, "second"), pooled);
    assert_eq!(
        sim.sim.call_count("billmgr", "soft.order.param"),
        orders,
        "nothing ordered"
    );
    assert_eq!(balance(&sim), before, "a pooled licence costs nothing");
    let taken = license(&sim, &pooled);
    assert_eq!(taken.ip, "203.0.113.81");
    assert!(
        taken.licname.starts_with("Item #second "),
        "{}",
        taken.licname
    );
    assert!(
        taken.licname.ends_with(&format!(" [{}]", taken.remoteid)),
        "renamed with the new owner's tag: {}",
        taken.licname
    );
    assert_no_leak(cluster, ns, &sim, &["second"]);
}

/// A licence bought by a hostplane older than the name tag: its name has no tag, only its
/// `remoteid` (which a strict list does not show) ties it to the service. On a panel that
/// echoes `remoteid` it is found by that field; on one that does not, by seed 003's
/// `fixchilds` match (its IP and type, claimed by no other service). Either way nothing is
/// bought, and the licence is renamed with the tag, so the list identifies it from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_licence_named_before_the_tag_is_adopted_and_tagged_under_both_dialects() {
    capture();
    for profile in [Profile::Strict, Profile::Complete] {
        let ns = format!("licenses-untagged-{profile:?}").to_lowercase();
        let ns = ns.as_str();
        let cluster = cluster_with_namespace(ns);
        let sim = common::start().await;
        sim.sim.set_dialect(profile.dialect());
        let _controller =
            start_controller_with_clock(cluster, ns, DRIFT, controller_clock(&sim)).await;
        apply_fixtures(cluster, ns, base(&sim)).await;
        // Paused until its old licence is in place.
        let paused = service_of(
            &sim,
            SoftwareLicenses::TARIFF,
            "old",
            "203.0.113.90",
            Period::OneYear,
        )
        .annotation("hostplane.dev/paused", "true");
        apply_fixtures(cluster, ns, [paused.build()]).await;
        let uid = jsonpath(cluster, ns, "hsvc/old", "{.metadata.uid}");
        let remoteid = hostplane::pools::naming::RemoteId::for_service(
            ns,
            "old",
            &uid,
            hostplane::pools::naming::LicenseKind::Standalone,
            0,
        )
        .to_string();
        let today = sim.sim.clock().today();
        let id = sim.sim.transact(|s| {
            let bill = &mut s.billmgr;
            let id = bill.next_id;
            bill.next_id += 1;
            bill.licenses.insert(
                id,
                License {
                    id,
                    pricelist: "3541".into(),
                    period: 1,
                    ip: "203.0.113.90".into(),
                    licname: "Item #old old".into(),
                    remoteid: remoteid.clone(),
                    autoprolong: "null".into(),
                    createdate: Some(today),
                    expiredate: today.checked_add(jiff::Span::new().months(1)).ok(),
                    lickey: format!("{id}-OLDKEY"),
                    ..License::default()
                },
            );
            (id.to_string(), true)
        });
        kubectl_ok(
            cluster,
            &["annotate", "hsvc/old", "-n", ns, "hostplane.dev/paused-"],
        );
        ready(cluster, ns, "old").await;
        assert_eq!(license_id(cluster, ns, "old"), id, "{profile:?}");
        assert_eq!(
            sim.sim.call_count("billmgr", "soft.order.param"),
            0,
            "{profile:?}: nothing bought"
        );
        let l = license(&sim, &id);
        assert_eq!(
            l.licname,
            format!("Item #old old [{remoteid}]"),
            "{profile:?}"
        );
        assert_eq!(l.remoteid, remoteid);
    }
}
