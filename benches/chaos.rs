//! `cargo bench --bench chaos [-- N] [--duration SECONDS] [--seed SEED] [--controllers K]`: the
//! chaos soak of issue 18. N services of every product (default 300) on the simulator process,
//! K real `hostplane controller` replicas (default 3) with leader election, and for the
//! duration (default 300 s) the leader SIGKILLed, panel faults, the controllers' API
//! connections cut, the desired state changed and the panels' clock moved; then an audit of the
//! panels against the cluster, the order log against the needs and the logs against the run's
//! passwords (`tests/support/chaos/`, shared with `tests/chaos_soak.rs`).
//!
//! Prints the report and a final JSON line; the seed (random unless given) is printed first, so
//! that a run can be replayed. Exits non-zero when the audit found something. The controller
//! logs are kept in the directory printed at the start.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use hostplane::testbed::LocalCluster;

#[path = "chaos/args.rs"]
mod args;
#[path = "../tests/support/chaos/mod.rs"]
mod chaos;
#[path = "../tests/support/fixtures.rs"]
mod fixtures;

const NS: &str = "chaos";

fn kubectl(cluster: &LocalCluster, args: &[&str]) -> anyhow::Result<()> {
    let out = cluster.kubectl().args(args).output()?;
    if !out.status.success() {
        bail!(
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn run() -> anyhow::Result<bool> {
    let settings = args::read()?;
    hostplane::panel::transport::install_crypto_provider();
    let dir = tempfile::Builder::new()
        .prefix("hostplane-chaos-")
        .tempdir()?
        .keep();
    eprintln!(
        "chaos: seed {} ({} services, {} s, {} controllers); logs in {}",
        settings.seed,
        settings.services,
        settings.duration.as_secs(),
        settings.controllers,
        dir.display()
    );
    eprintln!("starting etcd + kube-apiserver ...");
    let cluster = LocalCluster::start().context("starting the local kube-apiserver")?;
    let crds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let crds = crds.to_str().context("crds path is not UTF-8")?;
    kubectl(&cluster, &["apply", "-f", crds])?;
    kubectl(
        &cluster,
        &[
            "wait",
            "--for=condition=established",
            "--timeout=60s",
            "-f",
            crds,
        ],
    )?;
    kubectl(&cluster, &["create", "namespace", NS])?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(chaos::run(&cluster, NS, &settings, &dir));
    runtime.shutdown_timeout(Duration::from_secs(5));
    let report = report?;
    println!("{}", report.text());
    Ok(report.audit.clean())
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("\nchaos soak: the audit found something (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("\nchaos bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
