//! `cargo bench --bench convergence [-- N] [--connection-secrets]`: how fast, and at what cost in
//! API server writes and panel calls, the controller converges N shared hosting services applied
//! at once, and what it costs once they are converged.
//!
//! Everything but the API server runs in this process: a real local kube-apiserver + etcd (the
//! test bed), the ispmanager simulator and the controller (`controller::run`). Phases:
//!
//! 1. **Floor**: the N services created in a namespace no controller watches, plus one status
//!    merge patch each, by a client of the same kind with the same parallelism: the writes no
//!    controller can avoid (create + one status write), and how long they take on this server.
//! 2. **Convergence**: the controller runs on its own namespace (module, tariff and client
//!    Ready), the same N services are created at once, and the bench lists them (`Api::list`,
//!    served from the API server's watch cache) about every second until all are `Ready=True`.
//! 3. **Settle** (a few seconds) and **steady state** (`HOSTPLANE_BENCH_STEADY_SECONDS`).
//!
//! API writes are the API server's own `apiserver_request_total` counters (`/metrics`, read with
//! the test bed's admin client) before and after each phase, minus the bench's own creates; panel
//! calls are the simulator's call counters; memory is `/proc/self/status` (VmHWM, reset before
//! the controller starts). Prints figures; asserts nothing about them.
//!
//! | environment variable | default | what |
//! |---|---|---|
//! | `HOSTPLANE_BENCH_SERVICES` | 1000 | services (a bare number argument wins) |
//! | `HOSTPLANE_BENCH_STEADY_SECONDS` | 60 | the steady-state window |
//! | `HOSTPLANE_BENCH_SETTLE_SECONDS` | 5 | between all Ready and the steady window |
//! | `HOSTPLANE_BENCH_CONCURRENCY` | 16 | `Options::concurrency` |
//! | `HOSTPLANE_BENCH_DRIFT_SECONDS` | 30 | `Options::drift_interval` |
//! | `HOSTPLANE_BENCH_PARALLEL` | 32 | creates (and floor writes) in flight |
//! | `HOSTPLANE_BENCH_CONNECTION_SECRETS` | 0 | 1: every service has `writeConnectionSecretToRef` (also `--connection-secrets`) |
//! | `HOSTPLANE_BENCH_STALL_SECONDS` | 180 | give up when no service became Ready for this long |
//! | `HOSTPLANE_BENCH_TIMEOUT_SECONDS` | 300 + N/5 | give up when not all are Ready by then |
//!
//! The controller's warnings are counted (the first few are printed); `RUST_LOG` (default
//! `error`) shows log lines on stderr.

use std::collections::BTreeMap;
use std::fmt::{Display, Write as _};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use futures::{StreamExt, TryStreamExt};
use hostplane::api::common::ConditionStatus;
use hostplane::api::{Client, HostingService, ProcessingModule, Tariff};
use hostplane::controller::{self, Options};
use hostplane::simulator::{self, SimHandle};
use hostplane::testbed::LocalCluster;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The controller's namespace.
const NS: &str = "bench-converge";
/// The floor's namespace (no controller watches it).
const FLOOR_NS: &str = "bench-floor";
const ADMIN: &str = "root";
const PASSWORD: &str = "Bench-Adm1n-pass";
/// Module limits: the schema's maximum rate, so the limiter is not what is measured.
const MODULE_CONCURRENCY: u32 = 16;
const MODULE_RPS: u32 = 1000;
/// The list poll runs every second, or less often when one list takes more than a fifth of
/// that (10,000 objects): the bench's own polling must not be what slows the controller down.
const POLL: Duration = Duration::from_secs(1);
const POLL_SHARE: u32 = 5;

#[path = "convergence/api_requests.rs"]
mod api_requests;
#[path = "../tests/support/fixtures.rs"]
mod fixtures;
#[path = "convergence/objects.rs"]
mod objects;
#[path = "convergence/observer.rs"]
mod observer;
#[path = "convergence/panels.rs"]
mod panels;
#[path = "convergence/process.rs"]
mod process;
#[path = "convergence/settings.rs"]
mod settings;
#[path = "convergence/setup.rs"]
mod setup;
#[path = "convergence/table.rs"]
mod table;

use api_requests::*;
use objects::*;
use observer::*;
use panels::*;
use process::*;
use settings::*;
use setup::*;
use table::*;

// ---------------------------------------------------------------------------------------------
// The run

struct Floor {
    time: Duration,
    requests: Requests,
    cpu: Cpu,
}

struct Convergence {
    time: Duration,
    first_ready: Option<Duration>,
    creates_done: Duration,
    /// Everything but the bench's own creates.
    requests: Requests,
    calls: Calls,
    reconciles: Calls,
    /// µs spent in reconciles (polled / start to end), by kind (reason).
    busy: Calls,
    wall: Calls,
    cpu: Cpu,
    polls: u32,
    poll_time: Duration,
}

struct Window {
    length: Duration,
    requests: Requests,
    calls: Calls,
    reconciles: Calls,
    cpu: Cpu,
}

struct Report {
    services: usize,
    floor: Floor,
    convergence: Convergence,
    /// Why the convergence phase ended before all were Ready (then there is no steady state).
    incomplete: Option<String>,
    /// Services Ready when the convergence phase ended.
    ready: usize,
    settle: Option<Window>,
    steady: Option<Window>,
    ready_after_steady: Option<usize>,
    rss_before: Option<(u64, u64)>,
    peak_reset: bool,
    rss_converged: Option<(u64, u64)>,
    rss_end: Option<(u64, u64)>,
    children: Vec<(String, u64, u64)>,
    warnings: u64,
    first_warnings: Vec<String>,
}

/// Set by SIGINT or SIGTERM: the phase under way ends early and what was measured is printed.
/// A second signal exits at once.
fn stop_on_signals() -> anyhow::Result<tokio::sync::watch::Receiver<bool>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        for round in 0.. {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            if round > 0 {
                eprintln!("{name} again: exiting");
                std::process::exit(130);
            }
            eprintln!("{name}: ending the current phase and printing what was measured");
            let _ = tx.send(true);
        }
    });
    Ok(rx)
}

/// Sleeps for `d`, or less when a stop signal comes; true when it came.
async fn sleep_or_stop(d: Duration, stop: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    let stopped = tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stop.wait_for(|s| *s) => true,
    };
    stopped || *stop.borrow()
}

fn controller_running(handle: &tokio::task::JoinHandle<anyhow::Result<()>>) -> bool {
    !handle.is_finished()
}

async fn bench(
    cluster: &LocalCluster,
    s: &Settings,
    observer: &Observer,
) -> anyhow::Result<Report> {
    let n = s.services;
    let mut stop = stop_on_signals()?;
    let client = cluster.client().await?;
    let sim = simulator::start_in_process(simulator::Config::new(ADMIN, PASSWORD))
        .await
        .context("starting the simulator")?;
    let day = today();
    let objects: Vec<_> = (0..n)
        .map(|i| service(i, &day, s.connection_secrets))
        .collect();
    kubectl(cluster, &["create", "namespace", FLOOR_NS])?;
    kubectl(cluster, &["create", "namespace", NS])?;

    // 1. The floor.
    eprintln!("floor: creating {n} services + one status write each in {FLOOR_NS} ...");
    let floor_status = json!({
        "phase": "Active",
        "observedGeneration": 1,
        "conditions": [{
            "type": "Ready", "status": "True", "reason": "Available",
            "lastTransitionTime": jiff::Timestamp::now().to_string(),
            "observedGeneration": 1,
        }],
    });
    let before = scrape(&client).await?;
    let cpu_before = Cpu::now();
    let floor_writes = create_all(
        Api::namespaced(client.clone(), FLOOR_NS),
        objects.clone(),
        s.parallel,
        Some(floor_status),
        Arc::default(),
    );
    let time = tokio::select! {
        time = floor_writes => time?,
        _ = stop.wait_for(|s| *s) => bail!("stopped by a signal during the floor phase"),
    };
    let floor = Floor {
        time,
        cpu: Cpu::now().since(&cpu_before),
        requests: scrape(&client).await?.since(&before),
    };
    eprintln!("floor: {:.1} s", time.as_secs_f64());

    // 2. The controller, then the services.
    fixtures::apply_all(&client, NS, base(&sim)).await?;
    let rss_before = memory_of("self");
    let peak_reset = reset_peak_rss();
    let options = Options {
        namespaces: vec![NS.to_owned()],
        concurrency: s.concurrency,
        drift_interval: s.drift,
        ..Options::default()
    };
    let controller_client = cluster.client().await?;
    let controller = tokio::spawn(controller::run(controller_client, options));
    let setup_timeout = Duration::from_secs(120);
    wait_ready(
        &Api::<ProcessingModule>::namespaced(client.clone(), NS),
        "isp1",
        setup_timeout,
    )
    .await?;
    wait_ready(
        &Api::<Tariff>::namespaced(client.clone(), NS),
        "start",
        setup_timeout,
    )
    .await?;
    wait_ready(
        &Api::<Client>::namespaced(client.clone(), NS),
        "jane",
        setup_timeout,
    )
    .await?;
    if !controller_running(&controller) {
        bail!(
            "the controller stopped during set-up: {:?}",
            controller.await
        );
    }

    eprintln!("convergence: creating {n} services in {NS} with the controller running ...");
    let api: Api<HostingService> = Api::namespaced(client.clone(), NS);
    let requests_before = scrape(&client).await?;
    let calls_before = panel_calls(&sim);
    let reconciles_before = observer.reconciles();
    let busy_before = observer.busy();
    let wall_before = observer.wall();
    let cpu_before = Cpu::now();
    let started = Instant::now();
    let created = Arc::new(AtomicU64::new(0));
    let mut creator = tokio::spawn(create_all(
        api.clone(),
        objects,
        s.parallel,
        None,
        Arc::clone(&created),
    ));
    let mut creates_done = None;
    let (mut first_ready, mut polls, mut poll_time) = (None, 0u32, Duration::ZERO);
    let (mut best, mut progressed, mut reported) = (0usize, Instant::now(), Instant::now());
    let mut incomplete = None;
    let (time, ready) = loop {
        if creates_done.is_none() && creator.is_finished() {
            let took = (&mut creator).await.context("the create task panicked")??;
            creates_done = Some(took);
        }
        if !controller_running(&controller) {
            bail!("the controller stopped: {:?}", controller.await);
        }
        let t = Instant::now();
        let list = api
            .list(&ListParams::default().match_any())
            .await
            .context("listing the services")?;
        let took = t.elapsed();
        polls += 1;
        poll_time += took;
        let ready = list.items.iter().filter(|s| is_ready(s)).count();
        if ready > 0 && first_ready.is_none() {
            first_ready = Some(started.elapsed());
        }
        if ready == n {
            break (started.elapsed(), ready);
        }
        if ready > best {
            (best, progressed) = (ready, Instant::now());
        }
        if reported.elapsed() >= Duration::from_secs(5) {
            reported = Instant::now();
            eprintln!(
                "  {:>6.1} s: {ready}/{n} Ready, {} listed, {} panel calls, list took {} ms",
                started.elapsed().as_secs_f64(),
                list.items.len(),
                total(&calls_since(&panel_calls(&sim), &calls_before)),
                took.as_millis()
            );
        }
        let why = if *stop.borrow() {
            Some("stopped by a signal".to_owned())
        } else if progressed.elapsed() > s.stall {
            Some(format!(
                "no service became Ready for {} s",
                s.stall.as_secs()
            ))
        } else if started.elapsed() > s.timeout {
            Some(format!("not all Ready after {} s", s.timeout.as_secs()))
        } else {
            None
        };
        if let Some(why) = why {
            incomplete = Some(format!(
                "{why}: {ready}/{n} Ready after {:.0} s, {} objects listed{}",
                started.elapsed().as_secs_f64(),
                list.items.len(),
                not_ready_reasons(&list.items)
            ));
            break (started.elapsed(), ready);
        }
        sleep_or_stop(POLL.max(took * POLL_SHARE).saturating_sub(took), &mut stop).await;
    };
    let requests_ready = scrape(&client).await?;
    let calls_ready = panel_calls(&sim);
    let reconciles_ready = observer.reconciles();
    let cpu_ready = Cpu::now();
    let rss_converged = memory_of("self");
    let creates_done = match creates_done {
        Some(d) => d,
        None if incomplete.is_some() => {
            creator.abort();
            started.elapsed()
        }
        None => creator.await.context("the create task panicked")??,
    };
    if incomplete.is_none() {
        eprintln!(
            "all {n} Ready after {:.1} s; settling {} s, then {} s of steady state ...",
            time.as_secs_f64(),
            s.settle.as_secs(),
            s.steady.as_secs()
        );
    }
    let convergence = Convergence {
        time,
        first_ready,
        creates_done,
        requests: requests_ready.since(&requests_before).without(
            "POST",
            "hostingservices",
            created.load(Ordering::Relaxed),
        ),
        calls: calls_since(&calls_ready, &calls_before),
        reconciles: calls_since(&reconciles_ready, &reconciles_before),
        busy: calls_since(&observer.busy(), &busy_before),
        wall: calls_since(&observer.wall(), &wall_before),
        cpu: cpu_ready.since(&cpu_before),
        polls,
        poll_time,
    };

    let mut report = Report {
        services: n,
        floor,
        convergence,
        incomplete,
        ready,
        settle: None,
        steady: None,
        ready_after_steady: None,
        rss_before,
        peak_reset,
        rss_converged,
        rss_end: None,
        children: Vec::new(),
        warnings: 0,
        first_warnings: Vec::new(),
    };
    if report.incomplete.is_none() {
        let at_ready = (requests_ready, calls_ready, reconciles_ready, cpu_ready);
        settle_and_steady(
            &mut report,
            s,
            &client,
            &api,
            &sim,
            observer,
            &mut stop,
            at_ready,
        )
        .await?;
    }
    if !controller_running(&controller) {
        bail!("the controller stopped: {:?}", controller.await);
    }
    controller.abort();
    report.rss_end = memory_of("self");
    report.children = children_memory();
    report.warnings = observer.warnings();
    report.first_warnings = observer.first_warnings();
    Ok(report)
}

/// Phase 3: a few seconds to settle, then the steady-state window.
#[allow(clippy::too_many_arguments)]
async fn settle_and_steady(
    report: &mut Report,
    s: &Settings,
    client: &kube::Client,
    api: &Api<HostingService>,
    sim: &SimHandle,
    observer: &Observer,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    (requests_ready, calls_ready, reconciles_ready, cpu_ready): (Requests, Calls, Calls, Cpu),
) -> anyhow::Result<()> {
    let settle_start = Instant::now();
    sleep_or_stop(s.settle, stop).await;
    let requests_settled = scrape(client).await?;
    let calls_settled = panel_calls(sim);
    let reconciles_settled = observer.reconciles();
    let cpu_settled = Cpu::now();
    report.settle = Some(Window {
        length: settle_start.elapsed(),
        requests: requests_settled.since(&requests_ready),
        calls: calls_since(&calls_settled, &calls_ready),
        reconciles: calls_since(&reconciles_settled, &reconciles_ready),
        cpu: cpu_settled.since(&cpu_ready),
    });
    let steady_start = Instant::now();
    sleep_or_stop(s.steady, stop).await;
    let requests_end = scrape(client).await?;
    let calls_end = panel_calls(sim);
    let reconciles_end = observer.reconciles();
    let cpu_end = Cpu::now();
    report.steady = Some(Window {
        length: steady_start.elapsed(),
        requests: requests_end.since(&requests_settled),
        calls: calls_since(&calls_end, &calls_settled),
        reconciles: calls_since(&reconciles_end, &reconciles_settled),
        cpu: cpu_end.since(&cpu_settled),
    });
    report.ready_after_steady = Some(
        api.list(&ListParams::default().match_any())
            .await?
            .items
            .iter()
            .filter(|s| is_ready(s))
            .count(),
    );
    Ok(())
}

fn run() -> anyhow::Result<()> {
    let observer = Observer::install();
    let settings = Settings::read()?;
    hostplane::panel::transport::install_crypto_provider();
    eprintln!("starting etcd + kube-apiserver ...");
    let cluster = LocalCluster::start().context("starting the local kube-apiserver")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        install_crds(&cluster)?;
        bench(&cluster, &settings, &observer).await
    });
    // The controller's tasks end with the runtime, before the API server goes.
    runtime.shutdown_timeout(Duration::from_secs(5));
    let report = report?;
    print_report(&report, &settings);
    match &report.incomplete {
        Some(why) => bail!("the services did not all become Ready: {why}"),
        None => Ok(()),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nconvergence bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
