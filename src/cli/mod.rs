//! The `hostplane` command line: one binary, one subcommand per job.

mod completion;
pub(crate) mod controller;
mod crdgen;
pub mod demo;
mod demo_panels;
pub mod demo_ready;
pub mod doctor;
mod plan;
mod plugin;
mod quote;
mod simulate;
mod test_order;
pub mod validate;
mod webhook;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub use crdgen::{crd_files, render_all};

/// hostplane: hosting provisioning (ispmanager, VMmanager, ISPsystem licenses) as Kubernetes resources.
#[derive(Parser, Debug)]
#[command(name = "hostplane", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the CustomResourceDefinitions as YAML, write them to a folder, or check a folder.
    Crdgen(crdgen::Args),
    /// Check manifests offline (schema, rules, references); exit 0 when all is well,
    /// 1 when something is wrong, 2 when the check could not run.
    Validate(validate::Args),
    /// Quote the HostingServices of manifests: order, setup and renewal prices, paid-until and
    /// the late fee if renewed on --at; exit 0 when all are quoted, 1 when one cannot be, 2 when
    /// the command could not run.
    Quote(quote::Args),
    /// Show what applying manifests would do at the panels, service by service (operations,
    /// money, licences to buy), from the live cluster and, with --panels, read-only panel
    /// calls; exit 0 when nothing destructive, 2 when the plan deletes, reinstalls or buys,
    /// 1 on error (including services the change would leave Stalled).
    Plan(plan::Args),
    /// Serve the panel simulators (ispmanager, VMmanager, licensing) until Ctrl-C.
    Simulate(simulate::Args),
    /// Check panels read-only before managing them: which protocol facts hostplane relies on
    /// each panel's answers have; exit 0 when every panel is ready for managementPolicy Full,
    /// 1 when one lacks a needed fact, 2 when the check could not run.
    Doctor(doctor::Args),
    /// Place a test order of a tariff (seed 002): a real HostingService for the test client,
    /// checked at the panel with read calls once Ready, then deleted; exit 0 when every check
    /// passed, 1 when one failed, 2 when the order could not run.
    TestOrder(test_order::Args),
    /// Run the controller against the cluster of the current kubeconfig (or in-cluster).
    Controller(controller::Args),
    /// Serve the validating admission webhook over TLS: refuses what `validate` reports about
    /// an object on its own, and Tariff edits that would break the services sold on them.
    Webhook(webhook::Args),
    /// The local demo: a real local API server with the CRDs installed and the example
    /// provider namespace applied; runs until Ctrl-C.
    Demo(demo::Args),
    /// Start a local etcd + kube-apiserver on free loopback ports and keep it running until
    /// interrupted; prints the kubeconfig path.
    LocalCluster {
        /// Also copy the kubeconfig to this path.
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
    },
    /// Per namespace: processing modules and their health, services by phase, licences in
    /// pools, paused services, and what is failing and why; exit 1 when something fails.
    Status(plugin::status::Args),
    /// Hold every change of HostingServices at their panels (hostplane.dev/paused).
    Pause(plugin::nudge::PauseArgs),
    /// Let paused HostingServices change again.
    Resume(plugin::nudge::PauseArgs),
    /// Ask the controller to reconcile objects now (hostplane.dev/reconcile-requested-at).
    Reconcile(plugin::nudge::ReconcileArgs),
    /// Print a shell completion script (bash, zsh or fish).
    Completion(completion::Args),
}

/// The output format of the commands that print a report.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Output {
    Text,
    Json,
}

/// Runs a command that prints a report: `work` on a fresh runtime, its report printed as
/// `text` or JSON, the exit status from `status`. A command that could not run (an `Err`, no
/// runtime) exits 2 with the error on stderr, named after `command`.
fn report_command<R: serde::Serialize>(
    command: &str,
    output: Output,
    work: impl Future<Output = anyhow::Result<R>>,
    text: impl Fn(&R) -> String,
    status: impl Fn(&R) -> u8,
) -> ExitCode {
    crate::panel::transport::install_crypto_provider();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hostplane {command}: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match runtime.block_on(work) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("hostplane {command}: {e:#}");
            return ExitCode::from(2);
        }
    };
    match output {
        Output::Text => print!("{}", text(&report)),
        Output::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("hostplane {command}: {e}");
                return ExitCode::from(2);
            }
        },
    }
    ExitCode::from(status(&report))
}

/// Runs the command line and returns the process exit code.
///
/// Started as `kubectl-hostplane` (a link or copy of the binary on PATH, which kubectl runs for
/// `kubectl hostplane ...`), it names itself `kubectl hostplane` in help and errors.
pub fn run() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let as_plugin = argv
        .first()
        .is_some_and(|argv0| plugin::invoked_as_plugin(argv0));
    let mut command = Cli::command();
    if as_plugin {
        command = command
            .name("kubectl hostplane")
            .bin_name("kubectl hostplane");
    }
    let cli = match Cli::from_arg_matches(&command.clone().get_matches_from(argv)) {
        Ok(cli) => cli,
        Err(e) => e.format(&mut command).exit(),
    };
    match cli.command {
        Command::Status(args) => plugin::status::run(args),
        Command::Pause(args) => plugin::nudge::pause(args),
        Command::Resume(args) => plugin::nudge::resume(args),
        Command::Reconcile(args) => plugin::nudge::reconcile(args),
        Command::Completion(args) => completion::run(args, &mut Cli::command()),
        Command::Crdgen(args) => crdgen::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Quote(args) => quote::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::TestOrder(args) => test_order::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Controller(args) => controller::run(args),
        Command::Webhook(args) => webhook::run(args),
        Command::LocalCluster { kubeconfig } => {
            match crate::testbed::run_foreground(kubeconfig.as_deref(), |_| Ok(())) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("hostplane local-cluster: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
