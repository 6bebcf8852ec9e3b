//! `hostplane demo`: the README's run command. Starts a real local API server, installs the
//! CRDs, starts a panel simulator per processing module of the examples and the controller,
//! validates and applies the example provider namespace pointed at the simulators, shows
//! `kubectl get hosting` as services go Ready, and keeps running until Ctrl-C so that people
//! can explore with kubectl.

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::testbed::{self, LocalCluster};
use crate::validation::{self, Options};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The manifests to apply.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))]
    examples: PathBuf,
    /// Namespace the examples go into.
    #[arg(long, default_value = "acme-hosting")]
    namespace: String,
    /// Where to write the kubeconfig.
    #[arg(long, default_value = "hostplane-demo.kubeconfig")]
    kubeconfig: PathBuf,
    /// Seconds to wait for the services to go Ready before showing them.
    #[arg(long, default_value_t = 60)]
    wait: u64,
}

/// The simulators and the controller run on this runtime in the background while the main
/// thread watches the API server (`testbed::run_foreground`); it lives until the process ends.
static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

pub fn run(args: Args) -> ExitCode {
    let kubeconfig = args.kubeconfig.clone();
    match testbed::run_foreground(Some(&kubeconfig), |cluster| setup(cluster, &args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hostplane demo: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn setup(cluster: &LocalCluster, args: &Args) -> anyhow::Result<()> {
    let sources = super::validate::read_sources(std::slice::from_ref(&args.examples), false)
        .map_err(anyhow::Error::msg)?;
    let report = validation::validate(&sources, &Options::default());
    if !report.ok() {
        let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        bail!("the examples do not validate:\n{}", problems.join("\n"));
    }
    println!(
        "validated {} documents in {}",
        report.documents,
        args.examples.display()
    );

    kubectl(cluster, &["apply", "-f", "-"], Some(super::render_all()))?;
    kubectl(
        cluster,
        &[
            "wait",
            "--for=condition=established",
            "--timeout=60s",
            "crd",
            "-l",
            "!nonexistent",
        ],
        None,
    )?;
    kubectl(cluster, &["create", "namespace", &args.namespace], None)?;

    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    });
    let (sims, rewritten) = runtime.block_on(super::demo_panels::start(&sources))?;
    // The simulators stop when their handles drop; the demo keeps them for its whole life.
    std::mem::forget(sims);
    let client = runtime.block_on(cluster.client())?;
    let options = crate::controller::Options {
        namespace: Some(args.namespace.clone()),
        drift_interval: Duration::from_secs(30),
        ..Default::default()
    };
    runtime.spawn(async move {
        if let Err(e) = crate::controller::run(client, options).await {
            eprintln!("hostplane demo: the controller stopped: {e:#}");
        }
    });
    let all: String = rewritten
        .iter()
        .map(|s| format!("---\n{}\n", s.text))
        .collect();
    kubectl(
        cluster,
        &["apply", "-n", &args.namespace, "-f", "-"],
        Some(all),
    )?;
    println!(
        "\nwaiting up to {} s for the services to go Ready ...",
        args.wait
    );
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    while Instant::now() < deadline && !all_ready(cluster, &args.namespace) {
        std::thread::sleep(Duration::from_millis(500));
    }
    println!();
    kubectl(cluster, &["get", "hosting", "-n", &args.namespace], None)?;
    println!(
        "\nTry: KUBECONFIG={} kubectl get hsvc -n {} -o wide",
        args.kubeconfig.display(),
        args.namespace
    );
    println!(
        "     KUBECONFIG={} kubectl explain tariff.spec.charging",
        args.kubeconfig.display()
    );
    Ok(())
}

/// Whether every HostingService of the namespace reports a Ready condition status (True, or
/// False with a reason: a service waiting for something the demo cannot provide).
fn all_ready(cluster: &LocalCluster, namespace: &str) -> bool {
    let out = cluster
        .kubectl()
        .args([
            "get",
            "hsvc",
            "-n",
            namespace,
            "-o",
            r#"jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#,
        ])
        .output();
    match out {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            !text.trim().is_empty() && text.lines().all(|l| l == "True")
        }
        _ => false,
    }
}

/// Runs kubectl against the cluster, passing its output through; fails with its stderr.
fn kubectl(cluster: &LocalCluster, args: &[&str], stdin: Option<String>) -> anyhow::Result<()> {
    let mut cmd = cluster.kubectl();
    cmd.args(args).stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().context("running kubectl")?;
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .context("kubectl stdin")?
            .write_all(input.as_bytes())?;
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("kubectl {} failed ({status})", args.join(" "));
    }
    Ok(())
}
