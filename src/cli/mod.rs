//! The `hostplane` command line: one binary, one subcommand per job.

mod controller;
mod crdgen;
pub mod demo;
mod demo_panels;
pub mod demo_ready;
pub mod doctor;
mod quote;
mod simulate;
pub mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Serve the panel simulators (ispmanager, VMmanager, licensing) until Ctrl-C.
    Simulate(simulate::Args),
    /// Check panels read-only before managing them: which protocol facts hostplane relies on
    /// each panel's answers have; exit 0 when every panel is ready for managementPolicy Full,
    /// 1 when one lacks a needed fact, 2 when the check could not run.
    Doctor(doctor::Args),
    /// Run the controller against the cluster of the current kubeconfig (or in-cluster).
    Controller(controller::Args),
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
}

/// Runs the command line and returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crdgen(args) => crdgen::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Quote(args) => quote::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Controller(args) => controller::run(args),
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
