//! The chaos soak (issue 18): services of every product on the simulator process, several
//! real `hostplane controller` replicas with leader election, and for a fixed, seeded time
//! the leader SIGKILLed, panel faults injected, the controllers' API connections (their
//! watches) cut, the desired state changed and the panels' clock moved across renewal and
//! expiry days; then everything settles with faults off and [`audit`] compares the panels
//! with the cluster, the order log with the needs, and the logs with the run's passwords.
//!
//! Shared by `cargo bench --bench chaos` (minutes, hundreds of services) and
//! `tests/chaos_soak.rs` (a minute, a few dozen), which include this folder with `#[path]`;
//! each provides the typed fixtures (`tests/support/fixtures.rs`) as `crate::fixtures`.
//!
//! Replaying: one seeded random stream makes every decision (which fault, which action on
//! which service, when), so a seed replays the same decisions in the same order; where they
//! land relative to the controllers' own timing is the machine's, as in any soak.
//!
//! Watch connections are cut by a TCP proxy between the controllers and the API server
//! ([`proxy`]): dropping its connections ends every watch and request in flight at once,
//! which is what a load balancer restart does, without pausing the processes.
#![allow(dead_code)]

pub mod audit;
pub mod driver;
pub mod faults;
pub mod observe;
pub mod processes;
pub mod proxy;
pub mod report;
pub mod world;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt as _;
use hostplane::api::{HostingService, LicensePool};
use hostplane::testbed::LocalCluster;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams};
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use serde_json::json;

use crate::fixtures;
use processes::{ControllerArgs, Controllers, Simulator};
pub use report::Report;

/// The panels' administrator (every product) in the simulator process.
pub const ADMIN: &str = "root";
/// Distinctive, so that the log check finds it if it leaks.
pub const PASSWORD: &str = "Ch40s-Adm1n-Vx7q";

/// What a soak does.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Services created before the chaos starts (the driver creates more).
    pub services: usize,
    /// How long the chaos lasts.
    pub duration: Duration,
    pub seed: u64,
    /// `hostplane controller` replicas.
    pub controllers: usize,
    /// How long the settling may take before what has not settled is a finding.
    pub settle: Duration,
}

/// Counts of what the chaos did.
#[derive(Clone, Debug, Default)]
pub struct Chaos {
    pub kills: u64,
    pub cuts: u64,
    pub connections_cut: u64,
    pub faults: BTreeMap<String, u64>,
    pub clock_days: u64,
    pub driver_errors: Vec<String>,
}

/// Random intervals of each kind of event, in seconds.
const FAULT_EVERY: (f64, f64) = (1.0, 4.0);
const KILL_EVERY: (f64, f64) = (15.0, 40.0);
const DOWN_FOR: (f64, f64) = (1.0, 4.0);
const CUT_EVERY: (f64, f64) = (8.0, 25.0);
const STEP_EVERY: (f64, f64) = (0.3, 1.5);
const SCRAPE_EVERY: Duration = Duration::from_secs(3);
/// The clock moves this many times during the run, by 8 to 12 days each.
const CLOCK_MOVES: u32 = 3;

fn after(rng: &mut StdRng, (low, high): (f64, f64)) -> Instant {
    Instant::now() + Duration::from_secs_f64(rng.random_range(low..high))
}

/// Runs a soak in `namespace` (which exists, with the CRDs installed), keeping the logs in
/// `dir`.
pub async fn run(
    cluster: &LocalCluster,
    namespace: &str,
    settings: &Settings,
    dir: &Path,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let client = cluster.client().await?;
    let services: Api<HostingService> = Api::namespaced(client.clone(), namespace);
    let sim = Simulator::start(dir, ADMIN, PASSWORD).await?;
    sim.post(
        "/_admin/licensing",
        &json!({"balance": "1000000.00", "key_polls": 1}),
    )
    .await?;
    let (_, balance_before) = observe::ledger_of_money(&sim).await?;

    // The controllers reach the API server through the proxy the soak cuts.
    let upstream: SocketAddr = cluster
        .server_url()
        .trim_start_matches("https://")
        .parse()
        .context("the API server's address")?;
    let proxy = proxy::Proxy::start(upstream).await?;
    let kubeconfig = dir.join("kubeconfig-proxied");
    let original = std::fs::read_to_string(cluster.kubeconfig_path())?;
    std::fs::write(
        &kubeconfig,
        proxy.kubeconfig(&original, cluster.server_url()),
    )?;

    fixtures::apply_all(&client, namespace, world::base(&sim.base, ADMIN, PASSWORD)).await?;
    let mut ledger = driver::Ledger::default();
    let today = sim.today().await?;
    let specs: Vec<_> = (0..settings.services)
        .map(|i| {
            let product = world::Product::ALL[i % world::Product::ALL.len()];
            driver::new_spec(&mut ledger, &mut rng, Some(product))
        })
        .collect();
    let created: Vec<_> = futures::stream::iter(specs)
        .map(|spec| {
            let (services, today) = (services.clone(), today.clone());
            async move {
                let object = world::service(&spec, &today);
                let made = services.create(&Default::default(), &object).await;
                (spec, made)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for (spec, made) in created {
        let made = made.with_context(|| format!("creating {}", spec.name))?;
        driver::record(&mut ledger, spec, &made);
    }
    eprintln!(
        "chaos: {} services created, starting {} controllers",
        settings.services, settings.controllers
    );
    let mut controllers = Controllers::start(
        ControllerArgs {
            namespace: namespace.to_owned(),
            kubeconfig,
            simulator: sim.base.clone(),
            dir: dir.to_owned(),
        },
        settings.controllers,
    )?;

    // The chaos.
    let mut chaos = Chaos::default();
    let mut secrets = BTreeMap::new();
    let end = Instant::now() + settings.duration;
    let clock_every = settings.duration / (CLOCK_MOVES + 1);
    let (mut next_fault, mut next_kill, mut next_cut, mut next_step) = (
        after(&mut rng, FAULT_EVERY),
        after(&mut rng, KILL_EVERY),
        after(&mut rng, CUT_EVERY),
        after(&mut rng, STEP_EVERY),
    );
    let mut next_clock = Instant::now() + clock_every;
    let mut next_scrape = Instant::now() + SCRAPE_EVERY;
    let mut down: Vec<(Instant, usize)> = Vec::new();
    let mut reported = Instant::now();
    while Instant::now() < end {
        let now = Instant::now();
        if now >= next_fault {
            faults::inject(&sim, &mut rng, &mut chaos.faults).await?;
            next_fault = after(&mut rng, FAULT_EVERY);
        }
        if now >= next_kill {
            if let Some(leader) = controllers.leader(&client).await {
                controllers.kill(leader);
                chaos.kills += 1;
                down.push((after(&mut rng, DOWN_FOR), leader));
            }
            next_kill = after(&mut rng, KILL_EVERY);
        }
        for (_, slot) in down.iter().filter(|(at, _)| *at <= now) {
            controllers.restart(*slot)?;
        }
        down.retain(|(at, _)| *at > now);
        controllers.restart_exited(&down.iter().map(|(_, s)| *s).collect::<Vec<_>>())?;
        if now >= next_cut {
            chaos.cuts += 1;
            chaos.connections_cut += proxy.cut() as u64;
            next_cut = after(&mut rng, CUT_EVERY);
        }
        if now >= next_step {
            let today = sim.today().await?;
            if let Err(e) = driver::step(&services, &mut ledger, &mut rng, &today).await {
                chaos.driver_errors.push(format!("{e:#}"));
            }
            next_step = after(&mut rng, STEP_EVERY);
        }
        if now >= next_clock {
            let days: u64 = rng.random_range(8..=12);
            sim.post("/_admin/clock/advance", &json!({ "days": days }))
                .await?;
            chaos.clock_days += days;
            next_clock += clock_every;
        }
        if now >= next_scrape {
            controllers.scrape().await;
            collect_secrets(&client, namespace, &mut secrets).await;
            next_scrape = now + SCRAPE_EVERY;
        }
        if reported.elapsed() >= Duration::from_secs(15) {
            reported = Instant::now();
            eprintln!(
                "chaos: {:>4.0} s: {} kills, {} cuts, {} faults, {} driver actions, {} reconciles",
                started.elapsed().as_secs_f64(),
                chaos.kills,
                chaos.cuts,
                chaos.faults.values().sum::<u64>(),
                ledger.actions.values().sum::<u64>(),
                controllers.reconciles()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Settle: faults off, every replica up, until each service is Ready (or the time is up).
    eprintln!("chaos: settling");
    sim.clear_faults().await?;
    for (_, slot) in down.drain(..) {
        controllers.restart(slot)?;
    }
    let settle_started = Instant::now();
    let mut unsettled;
    loop {
        controllers.restart_exited(&[])?;
        controllers.scrape().await;
        let now = observe::services(&services).await?;
        unsettled = now
            .iter()
            .filter_map(observe::unsettled)
            .collect::<Vec<_>>();
        if unsettled.is_empty() || settle_started.elapsed() > settings.settle {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let settled_in = settle_started.elapsed();
    if !unsettled.is_empty() {
        for line in controllers.in_flight().await {
            eprintln!("chaos: not settled; {line}");
        }
    }
    // The pool's status must be current before it is compared.
    let pools: Api<LicensePool> = Api::namespaced(client.clone(), namespace);
    refresh_pool(&pools).await?;
    controllers.scrape().await;
    collect_secrets(&client, namespace, &mut secrets).await;

    // The audit.
    let live = observe::services(&services).await?;
    let mut state = audit::State {
        unsettled,
        panels: observe::panels(&sim, ADMIN, PASSWORD).await?,
        pool: observe::pooled(&pools).await?,
        needs: ledger.needs(namespace),
        orphaned: observe::orphaned(namespace, &ledger),
        balance_before,
        ..audit::State::default()
    };
    for service in &live {
        let name = kube::ResourceExt::name_any(service);
        let Some(tracked) = ledger.services.get(&name) else {
            continue;
        };
        state
            .live
            .extend(observe::claims(namespace, service, tracked.spec.product));
    }
    (state.charges, state.balance_after) = observe::ledger_of_money(&sim).await?;
    let mut result = audit::audit(&state);
    secrets.insert("the panels' administrator".to_owned(), PASSWORD.to_owned());
    let secrets: Vec<(String, String)> = secrets.into_iter().collect();
    result
        .findings
        .extend(audit::secrets_in_logs(&controllers.logs(), &secrets));
    Ok(Report {
        seed: settings.seed,
        services: ledger.services.len(),
        live: live.len(),
        duration: settings.duration,
        settled_in,
        chaos,
        actions: ledger.actions.clone(),
        reconciles: controllers.reconciles(),
        exits: controllers.exits.clone(),
        secrets_checked: secrets.len(),
        audit: result,
    })
}

/// Adds the `password` of every Secret of the namespace to `into` (label → value), so that
/// the passwords of services deleted during the run are looked for in the logs too.
async fn collect_secrets(
    client: &kube::Client,
    namespace: &str,
    into: &mut BTreeMap<String, String>,
) {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let Ok(list) = api.list(&ListParams::default()).await else {
        return;
    };
    for secret in list.items {
        let name = kube::ResourceExt::name_any(&secret);
        if let Some(password) = secret.data.as_ref().and_then(|d| d.get("password")) {
            let value = String::from_utf8_lossy(&password.0).into_owned();
            into.insert(format!("Secret {namespace}/{name}"), value);
        }
    }
}

/// Asks the LicensePool for a reconcile and waits (at most a minute) until it ran.
async fn refresh_pool(pools: &Api<LicensePool>) -> anyhow::Result<()> {
    let mark = jiff::Timestamp::now().to_string();
    let patch = json!({"metadata": {"annotations": {
        "hostplane.dev/reconcile-requested-at": mark,
    }}});
    pools
        .patch(world::POOL, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pool = pools.get(world::POOL).await?;
        let handled = serde_json::to_value(&pool.status)?["lastHandledReconcileAt"].clone();
        if handled == json!(mark) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the LicensePool did not handle a reconcile request within a minute"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
