//! `hostplane demo`: the README's run command. Starts a real local API server, installs the
//! CRDs, validates and applies the example provider namespace, shows `kubectl get hosting`,
//! and keeps running until Ctrl-C so that people can explore with kubectl.

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};

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
}

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
    let examples = args
        .examples
        .to_str()
        .context("examples path is not UTF-8")?;
    kubectl(
        cluster,
        &["apply", "-n", &args.namespace, "-f", examples],
        None,
    )?;
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
