//! `hostplane demo`: the README's run command. Starts a real local API server, installs the
//! CRDs, starts a panel simulator per processing module of the examples (seeded with what the
//! examples name) and the controller, validates and applies the example provider namespace
//! pointed at the simulators, waits until every service is Ready (or says per service why
//! not and exits 1), shows `kubectl get hosting`, and keeps running until Ctrl-C so that
//! people can explore with kubectl.
//!
//! The examples are read from `--examples` at run time (default `./examples`, relative to
//! where the demo is started), never from a path of the build machine, so the binary works
//! wherever it is copied.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, bail};

use super::demo_ready::{self, NotReady};
use crate::testbed::{self, LocalCluster};
use crate::validation::{self, Options, Source};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder of the manifests to apply (a hostplane checkout's `examples/`).
    #[arg(long, default_value = "./examples")]
    examples: PathBuf,
    /// Namespace the examples go into.
    #[arg(long, default_value = "acme-hosting")]
    namespace: String,
    /// Where to write the kubeconfig.
    #[arg(long, default_value = "hostplane-demo.kubeconfig")]
    kubeconfig: PathBuf,
    /// Seconds to wait for every service to go Ready; the demo fails after that.
    #[arg(long, default_value_t = 120)]
    wait: u64,
}

/// The simulators and the controller run on this runtime in the background while the main
/// thread watches the API server (`testbed::run_foreground`); it lives until the process ends.
static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

pub fn run(args: Args) -> ExitCode {
    let sources = match read_examples(&args.examples) {
        Ok(sources) => sources,
        Err(e) => {
            eprintln!("hostplane demo: {e:#}");
            return ExitCode::from(2);
        }
    };
    let kubeconfig = args.kubeconfig.clone();
    let outcome = testbed::run_foreground(Some(&kubeconfig), |cluster| {
        setup(cluster, &sources, &args.namespace)?;
        println!(
            "\nwaiting up to {} s for every service to go Ready ...",
            args.wait
        );
        let waited = demo_ready::wait(cluster, &args.namespace, Duration::from_secs(args.wait));
        println!();
        kubectl(cluster, &["get", "hosting", "-n", &args.namespace], None)?;
        waited?;
        let kubeconfig = args.kubeconfig.display();
        println!(
            "\nTry: KUBECONFIG={kubeconfig} kubectl get hsvc -n {} -o wide",
            args.namespace
        );
        println!("     KUBECONFIG={kubeconfig} kubectl explain tariff.spec.charging");
        Ok(())
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<NotReady>() => {
            eprintln!("hostplane demo: {e:#}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("hostplane demo: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Reads the example manifests, failing with what to do when the folder is not there (the
/// usual case: the binary was started outside a hostplane checkout).
pub fn read_examples(dir: &Path) -> anyhow::Result<Vec<Source>> {
    if !dir.is_dir() {
        bail!(
            "no examples folder at {}: run the demo from a hostplane checkout (where \
             examples/ is), or pass --examples DIR with the manifests to apply",
            dir.display()
        );
    }
    super::validate::read_sources(&[dir.to_path_buf()], false).map_err(anyhow::Error::msg)
}

/// Everything up to the examples being applied: validates them, installs the CRDs, creates
/// `namespace`, starts one seeded simulator per processing module and the controller (on a
/// background runtime that lives as long as the process), and applies the examples pointed
/// at the simulators. Waiting for them is [`demo_ready::wait`]; the test of the demo calls
/// both.
pub fn setup(cluster: &LocalCluster, sources: &[Source], namespace: &str) -> anyhow::Result<()> {
    let report = validation::validate(sources, &Options::default());
    if !report.ok() {
        let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        bail!("the examples do not validate:\n{}", problems.join("\n"));
    }
    println!("validated {} documents", report.documents);

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
    kubectl(cluster, &["create", "namespace", namespace], None)?;

    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    });
    let (sims, rewritten) = runtime.block_on(super::demo_panels::start(sources))?;
    // The simulators stop when their handles drop; the demo keeps them for its whole life.
    std::mem::forget(sims);
    let client = runtime.block_on(cluster.client())?;
    let options = crate::controller::Options {
        namespaces: vec![namespace.to_owned()],
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
    kubectl(cluster, &["apply", "-n", namespace, "-f", "-"], Some(all))
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
