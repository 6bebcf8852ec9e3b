//! `hostplane simulate`: the panel simulators as one local server (see [`crate::simulator`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::simulator;
use crate::simulator::seed::Seed;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on, e.g. 127.0.0.1:1500 (the admin endpoints have no authentication:
    /// keep it on loopback).
    #[arg(long, default_value = "127.0.0.1:1500")]
    listen: SocketAddr,
    /// Administrator login of every simulated panel (the partner account for licensing).
    #[arg(long)]
    username: String,
    /// Administrator password.
    #[arg(long)]
    password: String,
    /// Keep the state in this JSON file: loaded at start, saved after every change.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Manifests (files, or the YAML files of folders without their subfolders, as
    /// `hostplane validate` without -R; repeatable) whose Tariffs, ProcessingModules and pools name
    /// what the panels must have: account templates, recipes, OS images, VMmanager 5 presets,
    /// licence pricelists, and the accounts ObserveOnly services adopt. Added at start.
    #[arg(long = "seed-from", value_name = "PATH")]
    seed_from: Vec<PathBuf>,
    /// How closely the answers follow the real panels: `strict` (what production clients
    /// found real panels answer, reference §11) or `complete` (every field the reference's
    /// earlier sections describe). Changeable at run time with `POST /_admin/profile`.
    #[arg(long, value_enum)]
    profile: Option<simulator::Profile>,
}

pub fn run(args: Args) -> ExitCode {
    let mut config = simulator::Config::new(args.username, args.password);
    config.state_file = args.state;
    if let Some(profile) = args.profile {
        config.dialect = profile.dialect();
    }
    if !args.seed_from.is_empty() {
        match super::validate::read_sources(&args.seed_from, false) {
            Ok(sources) => config.seed = Seed::from_sources(&sources, None),
            Err(e) => {
                eprintln!("hostplane simulate: --seed-from: {e}");
                return ExitCode::from(2);
            }
        }
        eprintln!("hostplane simulate: seeding {}", describe(&config.seed));
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hostplane simulate: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(simulator::serve(args.listen, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hostplane simulate: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// One line of what a seed holds, so that a typo in a manifest shows as an unexpected name.
fn describe(seed: &Seed) -> String {
    let list = |names: Vec<&String>| {
        if names.is_empty() {
            "-".to_owned()
        } else {
            names
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    format!(
        "account templates: {}; accounts: {}; VMmanager 6 OS images: {}; recipes: {}; VMmanager 5 presets: {}; OS templates: {}; pricelists: {}",
        list(seed.account_templates.iter().collect()),
        list(seed.accounts.iter().collect()),
        list(seed.os_images.iter().collect()),
        list(seed.recipes.iter().collect()),
        list(seed.vm5_presets.keys().collect()),
        list(seed.vm5_images.iter().collect()),
        list(seed.pricelists.iter().collect()),
    )
}
