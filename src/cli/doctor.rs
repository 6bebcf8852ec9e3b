//! `hostplane doctor`: check real panels read-only before trusting hostplane with them (see
//! [`crate::doctor`]).
//!
//! Two ways to name a panel: ProcessingModules in the cluster of the current kubeconfig (their
//! URL, TLS settings and credentials Secret, exactly as the controller would use them), or a
//! URL with `--type` and `--username`, the password read from `HOSTPLANE_PANEL_PASSWORD` or
//! `--password-file` (never from the command line, where `ps` would show it).
//!
//! Exit status: 0 when every panel has what `managementPolicy: Full` needs, 1 when one lacks a
//! needed fact (the report names it), 2 when the check could not run (no cluster, no module,
//! a bad argument).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use super::Output;
use crate::api::ProcessingModule;
use crate::api::common::LocalObjectReference;
use crate::api::processing_module::{ModuleType, TlsSettings, VmManagerApiVersion};
use crate::controller::panels::{Panels, Recipe, standalone_client};
use crate::doctor::{self, Report};
use crate::panel::Credentials;

/// The environment variable that carries the panel password in `--url` mode.
pub const PASSWORD_ENV: &str = "HOSTPLANE_PANEL_PASSWORD";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// ProcessingModules to check (all of the namespace when none is named).
    modules: Vec<String>,
    /// The namespace of the modules (default: the kubeconfig context's, else `default`).
    #[arg(short, long)]
    namespace: Option<String>,
    /// Check this panel URL instead of cluster modules (needs --type and --username).
    #[arg(long, conflicts_with_all = ["modules", "namespace"])]
    url: Option<String>,
    /// The product at --url.
    #[arg(long = "type", value_enum, requires = "url")]
    product: Option<Product>,
    /// The panel login at --url.
    #[arg(long, requires = "url")]
    username: Option<String>,
    /// A file holding the password for --url (else the HOSTPLANE_PANEL_PASSWORD variable).
    #[arg(long, requires = "url")]
    password_file: Option<PathBuf>,
    /// Accept any TLS certificate at --url (panels on port 1500 are often self-signed).
    #[arg(long, requires = "url")]
    insecure_skip_tls_verify: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "text")]
    output: Output,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Product {
    Ispmanager,
    Vmmanager5,
    Vmmanager6,
    Licensing,
}

pub fn run(args: Args) -> ExitCode {
    super::report_command(
        "doctor",
        args.output,
        reports(&args),
        |reports| doctor::text(reports),
        |reports| doctor::exit_status(reports),
    )
}

async fn reports(args: &Args) -> anyhow::Result<Vec<Report>> {
    match &args.url {
        Some(url) => Ok(vec![by_url(args, url).await?]),
        None => by_modules(args).await,
    }
}

async fn by_url(args: &Args, url: &str) -> anyhow::Result<Report> {
    let Some(product) = args.product else {
        bail!("--url needs --type (ispmanager, vmmanager5, vmmanager6 or licensing)");
    };
    let Some(username) = &args.username else {
        bail!("--url needs --username");
    };
    let password = match &args.password_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("--password-file {}", path.display()))?
            .trim_end_matches(['\r', '\n'])
            .to_owned(),
        None => std::env::var(PASSWORD_ENV)
            .with_context(|| format!("--url needs --password-file or {PASSWORD_ENV}"))?,
    };
    let (type_, vm_api) = match product {
        Product::Ispmanager => (ModuleType::ISPmanager, None),
        Product::Vmmanager5 => (ModuleType::VMmanager, Some(VmManagerApiVersion::V5)),
        Product::Vmmanager6 => (ModuleType::VMmanager, Some(VmManagerApiVersion::V6)),
        Product::Licensing => (ModuleType::Licensing, None),
    };
    let recipe = Recipe {
        type_,
        url: url.to_owned(),
        tls: Some(TlsSettings {
            insecure_skip_verify: args.insecure_skip_tls_verify,
            ..TlsSettings::default()
        }),
        limits: Default::default(),
        timeouts: Default::default(),
        vm_api,
        credentials: LocalObjectReference {
            name: "--url".to_owned(),
        },
    };
    let client = standalone_client(&recipe, Credentials::new(username, password), None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(doctor::check("--url".to_owned(), url.to_owned(), &client).await)
}

async fn by_modules(args: &Args) -> anyhow::Result<Vec<Report>> {
    let kube = kube::Client::try_default()
        .await
        .context("no cluster: set KUBECONFIG, or check a panel with --url")?;
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| kube.default_namespace().to_owned());
    let api: Api<ProcessingModule> = Api::namespaced(kube.clone(), &namespace);
    let modules = if args.modules.is_empty() {
        let list = api
            .list(&ListParams::default())
            .await
            .with_context(|| format!("listing ProcessingModules in {namespace}"))?;
        if list.items.is_empty() {
            bail!("no ProcessingModule in namespace {namespace}");
        }
        list.items
    } else {
        let mut found = Vec::new();
        for name in &args.modules {
            found.push(
                api.get(name)
                    .await
                    .with_context(|| format!("ProcessingModule {namespace}/{name}"))?,
            );
        }
        found
    };
    let panels = Panels::new();
    let mut reports = Vec::new();
    for module in &modules {
        let label = format!("{namespace}/{}", module.name_any());
        let client = panels
            .resolve(&kube, module)
            .await
            .map_err(|e| anyhow::anyhow!("{label}: {e}"))?
            .0;
        reports.push(doctor::check(label, module.spec.url.clone(), &client).await);
    }
    Ok(reports)
}
