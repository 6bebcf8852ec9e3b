//! `cargo bench --bench convergence [-- N] [--connection-secrets]`: how fast, and at what cost in
//! API server writes, panel calls, CPU and memory, the controller converges N shared hosting
//! services applied at once, and what it costs once they are converged.
//!
//! The controller is measured alone: it is the real `hostplane controller` binary (the release
//! build `cargo bench` makes) in its own process, on the test bed's kubeconfig, alone (no
//! leader election). The ispmanager simulator is another process (`hostplane simulate`), and
//! the bench's client is this one; the local kube-apiserver + etcd (the test bed) are its
//! children. Phases:
//!
//! 1. **Floor**: the N services created in a namespace no controller watches, plus one status
//!    merge patch each, by a client of the same kind with the same parallelism: the writes no
//!    controller can avoid (create + one status write), and how long they take on this server.
//! 2. **Convergence**: the controller starts on its own namespace (module, tariff and client
//!    Ready), the same N services are created at once, and the bench follows them with a watch
//!    (`kube::runtime::watcher`: one list, then changes) until all are `Ready=True`.
//! 3. **Settle** (a few seconds) and **steady state** (`HOSTPLANE_BENCH_STEADY_SECONDS`).
//!
//! API writes are the API server's own `apiserver_request_total` counters (`/metrics`, read with
//! the test bed's admin client) before and after each phase, minus the bench's own creates;
//! panel calls are the simulator's counters (`GET /_admin/calls`); reconciles are the
//! controller's `hostplane_reconciles_total` (its `/metrics`); CPU seconds and peak RSS
//! (VmHWM, read before a process is stopped) come from `/proc` for each process: controller,
//! simulator, bench, kube-apiserver, etcd. About once a second during the floor and the
//! convergence the bench samples services Ready (for the floor: status writes done) and the API
//! server's writes, and draws them into `target/bench/convergence-N.svg` (under
//! `CARGO_TARGET_DIR` when set); the processes' logs are in `target/bench/convergence-N/`.
//! Prints figures, then as the last line one JSON object for scripts; asserts nothing about
//! them.
//!
//! | environment variable | default | what |
//! |---|---|---|
//! | `HOSTPLANE_BENCH_SERVICES` | 1000 | services (a bare number argument wins: `-- 10000` is the full run, `-- 50000` the controller's time and memory only) |
//! | `HOSTPLANE_BENCH_FLOOR` | 1 up to 10,000 services, 0 above | 0: skip the floor (no floor time, ratio or floor line in the chart) |
//! | `HOSTPLANE_BENCH_STEADY_SECONDS` | 60 | the steady-state window |
//! | `HOSTPLANE_BENCH_SETTLE_SECONDS` | 5 | between all Ready and the steady window |
//! | `HOSTPLANE_BENCH_CONCURRENCY` | 16 | the controller's `--concurrency` |
//! | `HOSTPLANE_BENCH_DRIFT_SECONDS` | 30 | the controller's `--drift-interval` |
//! | `HOSTPLANE_BENCH_CONTROLLER_LOG` | `error,hostplane=warn` | the controller's `RUST_LOG` (its log: `target/bench/convergence-N/controller.log`) |
//! | `HOSTPLANE_BENCH_PARALLEL` | 32 | creates (and floor writes) in flight |
//! | `HOSTPLANE_BENCH_CONNECTION_SECRETS` | 0 | 1: every service has `writeConnectionSecretToRef` (also `--connection-secrets`) |
//! | `HOSTPLANE_BENCH_STALL_SECONDS` | 180 | give up when no service became Ready for this long |
//! | `HOSTPLANE_BENCH_TIMEOUT_SECONDS` | 300 + N/5 | give up when not all are Ready by then |
//!
//! The controller's warnings and errors (JSON log lines of hostplane's own targets) are
//! counted and the first few printed; `RUST_LOG` (default `error`) shows the bench's own log
//! lines on stderr.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{Display, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use futures::{StreamExt, TryStreamExt};
use hostplane::api::common::ConditionStatus;
use hostplane::api::{Client, HostingService, ProcessingModule, Tariff};
use hostplane::testbed::LocalCluster;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// The controller's namespace.
const NS: &str = "bench-converge";
/// The floor's namespace (no controller watches it).
const FLOOR_NS: &str = "bench-floor";
const ADMIN: &str = "root";
const PASSWORD: &str = "Bench-Adm1n-pass";
/// Module limits: the schema's maximum rate, so the limiter is not what is measured.
const MODULE_CONCURRENCY: u32 = 16;
const MODULE_RPS: u32 = 1000;
/// How often the bench samples services Ready and the API server's writes.
const SAMPLE: Duration = Duration::from_secs(1);

#[path = "convergence/api_requests.rs"]
mod api_requests;
#[path = "convergence/chart.rs"]
mod chart;
#[path = "convergence/controller.rs"]
mod controller;
#[path = "../tests/support/fixtures.rs"]
mod fixtures;
#[path = "convergence/objects.rs"]
mod objects;
#[path = "convergence/panels.rs"]
mod panels;
#[path = "convergence/process.rs"]
mod process;
/// `hostplane simulate` and `hostplane controller` processes, shared with the chaos soak.
#[allow(dead_code)]
#[path = "../tests/support/chaos/processes.rs"]
mod processes;
#[path = "convergence/readiness.rs"]
mod readiness;
#[path = "convergence/samples.rs"]
mod samples;
#[path = "convergence/settings.rs"]
mod settings;
#[path = "convergence/setup.rs"]
mod setup;
#[path = "convergence/summary.rs"]
mod summary;
#[path = "convergence/table.rs"]
mod table;

use api_requests::*;
use controller::*;
use objects::*;
use panels::*;
use process::*;
use processes::Simulator;
use readiness::*;
use samples::*;
use settings::*;
use setup::*;
use table::*;

// ---------------------------------------------------------------------------------------------
// The run

struct Floor {
    time: Duration,
    requests: Requests,
    cpu: Cpu,
    series: Series,
}

struct Convergence {
    time: Duration,
    first_ready: Option<Duration>,
    creates_done: Duration,
    /// Everything but the bench's own creates.
    requests: Requests,
    calls: Calls,
    reconciles: Reconciles,
    cpu: Cpu,
    series: Series,
    /// Events the bench's watch received (its first list included).
    watch_events: u64,
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
    floor: Option<Floor>,
    convergence: Convergence,
    /// Why the convergence phase ended before all were Ready (then there is no steady state).
    incomplete: Option<String>,
    /// Services Ready when the convergence phase ended.
    ready: usize,
    settle: Option<Window>,
    steady: Option<Window>,
    ready_after_steady: Option<usize>,
    /// The controller's VmHWM when all were Ready, KiB.
    controller_peak_converged: Option<u64>,
    /// VmHWM of each process at the end, KiB.
    peaks: BTreeMap<String, u64>,
    /// CPU seconds of each process from the start of the floor to the end.
    cpu: Cpu,
    warnings: u64,
    first_warnings: Vec<String>,
    /// The processes' logs.
    logs: PathBuf,
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

/// Phase 1: the floor, sampled about once a second (status writes done, API writes).
async fn floor(
    client: &kube::Client,
    s: &Settings,
    procs: &Procs,
    objects: Vec<HostingService>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Floor> {
    let n = objects.len();
    eprintln!("floor: creating {n} services + one status write each in {FLOOR_NS} ...");
    let status = json!({
        "phase": "Active",
        "observedGeneration": 1,
        "conditions": [{
            "type": "Ready", "status": "True", "reason": "Available",
            "lastTransitionTime": jiff::Timestamp::now().to_string(),
            "observedGeneration": 1,
        }],
    });
    let before = scrape(client).await?;
    let cpu_before = procs.cpu();
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut writes = tokio::spawn(create_all(
        Api::namespaced(client.clone(), FLOOR_NS),
        objects,
        s.parallel,
        Some(status),
        Arc::clone(&done),
    ));
    let mut series = Series::new();
    let time = loop {
        let tick = Instant::now();
        if writes.is_finished() {
            break (&mut writes).await.context("the floor task panicked")??;
        }
        let done = done.load(Ordering::Relaxed) as usize;
        let now = scrape(client).await?;
        series.push(started.elapsed(), done, &before, &now);
        if sleep_or_stop(SAMPLE.saturating_sub(tick.elapsed()), stop).await {
            writes.abort();
            bail!("stopped by a signal during the floor phase");
        }
    };
    let after = scrape(client).await?;
    series.push(time, n, &before, &after);
    let requests = after.since(&before);
    eprintln!("floor: {:.1} s", time.as_secs_f64());
    Ok(Floor {
        time,
        cpu: procs.cpu().since(&cpu_before),
        requests,
        series,
    })
}

async fn bench(cluster: &LocalCluster, s: &Settings) -> anyhow::Result<Report> {
    let n = s.services;
    let mut stop = stop_on_signals()?;
    let client = cluster.client().await?;
    let logs = chart::bench_dir()?.join(format!("convergence-{n}"));
    std::fs::create_dir_all(&logs)?;
    let sim = Simulator::start(&logs, ADMIN, PASSWORD)
        .await
        .context("starting hostplane simulate")?;
    let mut procs = Procs::new();
    procs.add("simulator", sim.pid());
    let cpu_start = procs.cpu();
    let day = today();
    let objects: Vec<_> = (0..n)
        .map(|i| service(i, &day, s.connection_secrets))
        .collect();
    kubectl(cluster, &["create", "namespace", FLOOR_NS])?;
    kubectl(cluster, &["create", "namespace", NS])?;

    let floor = match s.floor {
        true => Some(floor(&client, s, &procs, objects.clone(), &mut stop).await?),
        false => None,
    };

    // 2. The controller, then the services.
    fixtures::apply_all(&client, NS, base(&sim)).await?;
    let mut controller = Controller::start(cluster, s, &logs)?;
    procs.add("controller", controller.pid());
    let setup_timeout = Duration::from_secs(120);
    let set_up = async {
        let modules = Api::<ProcessingModule>::namespaced(client.clone(), NS);
        wait_ready(&modules, "isp1", setup_timeout).await?;
        let tariffs = Api::<Tariff>::namespaced(client.clone(), NS);
        wait_ready(&tariffs, "start", setup_timeout).await?;
        wait_ready(
            &Api::<Client>::namespaced(client.clone(), NS),
            "jane",
            setup_timeout,
        )
        .await
    };
    if let Err(e) = set_up.await {
        controller.check_running()?;
        return Err(e);
    }

    let api: Api<HostingService> = Api::namespaced(client.clone(), NS);
    let readiness = Readiness::follow(api.clone()).await?;
    eprintln!("convergence: creating {n} services in {NS} with the controller running ...");
    let requests_before = scrape(&client).await?;
    let calls_before = panel_calls(&sim).await?;
    let reconciles_before = controller.reconciles().await?;
    let cpu_before = procs.cpu();
    let started = Instant::now();
    let created = Arc::new(AtomicU64::new(0));
    let mut creator = tokio::spawn(create_all(
        api.clone(),
        objects,
        s.parallel,
        None,
        Arc::clone(&created),
    ));
    let mut series = Series::new();
    let mut creates_done = None;
    let (mut best, mut progressed, mut reported) = (0usize, Instant::now(), Instant::now());
    let mut incomplete = None;
    let (time, ready, requests_ready) = loop {
        let tick = Instant::now();
        if creates_done.is_none() && creator.is_finished() {
            let took = (&mut creator).await.context("the create task panicked")??;
            creates_done = Some(took);
        }
        controller.check_running()?;
        // `at` for the time to Ready; the sample's time is when the writes were read.
        let (at, ready) = (started.elapsed(), readiness.ready());
        let requests = scrape(&client).await?;
        let t = started.elapsed();
        series.scrape_time += t - at;
        series.push(t, ready, &requests_before, &requests);
        if ready >= n {
            break (at, ready, requests);
        }
        if ready > best {
            (best, progressed) = (ready, Instant::now());
        }
        if reported.elapsed() >= Duration::from_secs(5) {
            reported = Instant::now();
            eprintln!(
                "  {:>6.1} s: {ready}/{n} Ready, {} created, {} API writes, {} panel calls",
                started.elapsed().as_secs_f64(),
                created.load(Ordering::Relaxed),
                requests.since(&requests_before).write_total(),
                total(&calls_since(&panel_calls(&sim).await?, &calls_before)),
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
            let list = api.list(&ListParams::default().match_any()).await?;
            incomplete = Some(format!(
                "{why}: {ready}/{n} Ready after {:.0} s, {} objects listed{}",
                started.elapsed().as_secs_f64(),
                list.items.len(),
                not_ready_reasons(&list.items)
            ));
            break (at, ready, requests);
        }
        tokio::select! {
            _ = sleep_or_stop(SAMPLE.saturating_sub(tick.elapsed()), &mut stop) => {}
            _ = readiness.all(n) => {}
        }
    };
    let first_ready = readiness
        .first_ready()
        .map(|t| t.saturating_duration_since(started));
    let calls_ready = panel_calls(&sim).await?;
    let reconciles_ready = controller.reconciles().await?;
    let cpu_ready = procs.cpu();
    let controller_peak_converged = procs.peak_of("controller");
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
        reconciles: reconciles_ready.since(&reconciles_before),
        cpu: cpu_ready.since(&cpu_before),
        series,
        watch_events: readiness.events(),
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
        controller_peak_converged,
        peaks: BTreeMap::new(),
        cpu: Cpu::default(),
        warnings: 0,
        first_warnings: Vec::new(),
        logs,
    };
    if report.incomplete.is_none() {
        let at_ready = (
            requests_ready,
            calls_ready,
            reconciles_ready.counts,
            cpu_ready,
        );
        let phase = Steady {
            client: &client,
            sim: &sim,
            controller: &controller,
            procs: &procs,
        };
        phase
            .settle_and_steady(&mut report, s, &mut stop, at_ready)
            .await?;
        report.ready_after_steady = Some(readiness.ready());
    }
    controller.check_running()?;
    // Read before any process is stopped.
    report.peaks = procs.peaks();
    report.cpu = procs.cpu().since(&cpu_start);
    (report.warnings, report.first_warnings) = controller.warnings();
    drop(controller);
    drop(sim);
    Ok(report)
}

/// What phase 3 reads.
struct Steady<'a> {
    client: &'a kube::Client,
    sim: &'a Simulator,
    controller: &'a Controller,
    procs: &'a Procs,
}

impl Steady<'_> {
    async fn read(&self) -> anyhow::Result<(Requests, Calls, Calls, Cpu)> {
        Ok((
            scrape(self.client).await?,
            panel_calls(self.sim).await?,
            self.controller.reconciles().await?.counts,
            self.procs.cpu(),
        ))
    }

    /// A few seconds to settle, then the steady-state window.
    async fn settle_and_steady(
        &self,
        report: &mut Report,
        s: &Settings,
        stop: &mut tokio::sync::watch::Receiver<bool>,
        at_ready: (Requests, Calls, Calls, Cpu),
    ) -> anyhow::Result<()> {
        let window =
            |length: Duration,
             (r0, c0, n0, u0): &(Requests, Calls, Calls, Cpu),
             (r1, c1, n1, u1): &(Requests, Calls, Calls, Cpu)| Window {
                length,
                requests: r1.since(r0),
                calls: calls_since(c1, c0),
                reconciles: calls_since(n1, n0),
                cpu: u1.since(u0),
            };
        let start = Instant::now();
        sleep_or_stop(s.settle, stop).await;
        let settled = self.read().await?;
        report.settle = Some(window(start.elapsed(), &at_ready, &settled));
        let start = Instant::now();
        sleep_or_stop(s.steady, stop).await;
        let end = self.read().await?;
        report.steady = Some(window(start.elapsed(), &settled, &end));
        Ok(())
    }
}

fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let settings = Settings::read()?;
    hostplane::panel::transport::install_crypto_provider();
    eprintln!("starting etcd + kube-apiserver ...");
    let cluster = LocalCluster::start().context("starting the local kube-apiserver")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        install_crds(&cluster)?;
        bench(&cluster, &settings).await
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    let report = report?;
    print_report(&report, &settings);
    let n = report.services;
    let title = format!(
        "{n} shared hosting services applied at once (cargo bench --bench convergence -- {n})"
    );
    let svg = chart::svg(
        n,
        &report.convergence.series,
        report.floor.as_ref().map(|f| &f.series),
        &title,
    );
    println!("chart: {}", chart::write(n, &svg)?.display());
    println!("{}", summary::json(&report));
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
