//! `hostplane test-order`: the test order of seed 002 for one tariff (see
//! [`crate::test_order`]).
//!
//! Exit status: 0 when every check passed, 1 when one failed, 2 when the order could not run
//! (no cluster, no tariff, a bad argument, a licence purchase not allowed, an interruption,
//! an order that could not be removed). Progress goes to stderr, the checklist to stdout.
//!
//! Ctrl-C (or SIGTERM) stops the order and removes it; a second one leaves at once, and the
//! next run removes what is left.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Notify;

use super::Output;
use crate::test_order::{self, Progress, Request, order};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The tariff to test.
    tariff: String,
    /// The namespace of the tariff (default: the kubeconfig context's, else `default`).
    #[arg(short, long)]
    namespace: Option<String>,
    /// A resource quantity other than the tariff's included amount, e.g. `diskSpace=2048`
    /// (repeatable).
    #[arg(long = "resource", value_name = "NAME=QTY")]
    resources: Vec<String>,
    /// SoftwareLicense tariffs: the IP address the test licence is bound to.
    #[arg(long)]
    license_ip: Option<String>,
    /// Buy a licence when the pool has none that fits (licences cost money).
    #[arg(long)]
    allow_purchase: bool,
    /// Keep the test order after the checks instead of deleting it.
    #[arg(long)]
    keep: bool,
    /// How long the order may take to become Ready, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    timeout: u64,
    /// Output format of the checklist.
    #[arg(short, long, value_enum, default_value = "text")]
    output: Output,
}

/// Progress on the terminal: stderr, so stdout stays the checklist alone.
struct Terminal;

impl Progress for Terminal {
    fn note(&self, line: &str) {
        eprintln!("{line}");
    }
}

pub fn run(args: Args) -> ExitCode {
    super::report_command(
        "test-order",
        args.output,
        order_once(&args),
        test_order::text,
        test_order::Report::exit_status,
    )
}

async fn order_once(args: &Args) -> anyhow::Result<test_order::Report> {
    let resources = args
        .resources
        .iter()
        .map(|r| order::parse_resource(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!(e))?;
    if let Some(ip) = &args.license_ip
        && ip.parse::<std::net::Ipv4Addr>().is_err()
    {
        anyhow::bail!("--license-ip {ip:?}: not an IPv4 address");
    }
    if args.timeout == 0 {
        anyhow::bail!("--timeout: must be at least 1 second");
    }
    let kube = kube::Client::try_default()
        .await
        .context("no cluster: set KUBECONFIG")?;
    let request = Request {
        namespace: args
            .namespace
            .clone()
            .unwrap_or_else(|| kube.default_namespace().to_owned()),
        tariff: args.tariff.clone(),
        resources,
        license_ip: args.license_ip.clone(),
        allow_purchase: args.allow_purchase,
        keep: args.keep,
        timeout: Duration::from_secs(args.timeout),
    };
    let interrupt = Arc::new(Notify::new());
    let signals = tokio::spawn(watch_signals(interrupt.clone()));
    let result = test_order::run(&kube, &request, &Terminal, interrupt.notified()).await;
    signals.abort();
    result
}

/// The first Ctrl-C or SIGTERM asks the order to stop (it is then removed); the second leaves
/// at once.
async fn watch_signals(interrupt: Arc<Notify>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    for count in 0.. {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        if count == 0 {
            eprintln!(
                "interrupted: removing the test order (interrupt again to leave it for the next run)"
            );
            interrupt.notify_one();
        } else {
            eprintln!("interrupted again: the next run of this tariff removes the test order");
            std::process::exit(2);
        }
    }
}
