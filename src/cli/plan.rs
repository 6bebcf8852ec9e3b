//! `hostplane plan PATH...`: what applying manifests would do at the panels (see
//! [`crate::plan`]). Reads the manifests as `validate` does and the live objects of their
//! namespaces through the current kubeconfig; with `--panels`, lists the accounts of the
//! ispmanager modules in use (read-only calls).
//!
//! Exit status: 0 when nothing destructive is planned, 2 when the plan deletes, terminates,
//! reinstalls or buys (a pipeline asks for approval), 1 on error: manifests that do not
//! validate, services the change would leave `Stalled`, or a plan that could not be made.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::Output;
use crate::plan::observe::Observed;
use crate::plan::service::Settings;
use crate::plan::{Plan, World, render};
use crate::validation::{self, Options, RefOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    manifests: super::validate::Manifests,
    /// Namespace of objects that do not name one (default: the kubeconfig context's).
    #[arg(long, short)]
    namespace: Option<String>,
    /// Read the ispmanager accounts with read-only panel calls, so the plan also shows the
    /// drift the controller would correct.
    #[arg(long)]
    panels: bool,
    /// Plan for this day (YYYY-MM-DD) instead of today in each tariff's time zone.
    #[arg(long)]
    today: Option<jiff::civil::Date>,
    /// The controller's `--auto-deletion-days`, so terminations are planned as it decides them.
    #[arg(long, value_parser = super::controller::product_days, value_name = "PRODUCT=DAYS")]
    auto_deletion_days: Vec<(crate::api::ProductType, u32)>,
    /// `text` or `json`.
    #[arg(short, long, value_enum, default_value = "text")]
    output: Output,
}

pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hostplane plan: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let plan = match runtime.block_on(make(&args)) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("hostplane plan: {e:#}");
            return ExitCode::from(1);
        }
    };
    match args.output {
        Output::Text => print!("{}", render::text(&plan)),
        Output::Json => match serde_json::to_string_pretty(&plan) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("hostplane plan: {e}");
                return ExitCode::from(1);
            }
        },
    }
    ExitCode::from(plan.exit_status())
}

async fn make(args: &Args) -> anyhow::Result<Plan> {
    let sources = args.manifests.read().map_err(|e| anyhow::anyhow!(e))?;
    let kube = kube::Client::try_default().await.context(
        "no cluster: set KUBECONFIG (plan compares the manifests with the live objects)",
    )?;
    let default_namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| kube.default_namespace().to_owned());
    // References may resolve to live objects: the manifests are checked with the cluster as
    // their context.
    let options = Options {
        default_namespace: default_namespace.clone(),
        references: RefOptions {
            external_secrets: true,
            ..RefOptions::default()
        },
    };
    // A first pass only to learn the namespaces the manifests touch.
    let (_, decoded) = validation::validate_entries(&sources, &options, Vec::new());
    let mut namespaces: BTreeSet<String> = BTreeSet::from([default_namespace.clone()]);
    namespaces.extend(decoded.iter().map(|e| e.header.namespace.clone()));
    let before = World::read(&kube, &namespaces).await?;
    let (report, entries) = validation::validate_entries(&sources, &options, before.entries());
    if !report.ok() {
        bail!(
            "the manifests do not validate:\n{}",
            lines(&report.problems)
        );
    }
    let after = before.with_applied(entries);
    let observed = if args.panels {
        Observed::read(&kube, &before).await?
    } else {
        Observed::default()
    };
    let settings = Settings {
        today: args.today,
        defaults: crate::billing::policy::ProductDefaults {
            auto_deletion_days: args.auto_deletion_days.clone(),
        },
    };
    Ok(crate::plan::plan(&before, &after, &observed, &settings))
}

fn lines(problems: &[validation::Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    lines.join("\n")
}
