//! `hostplane simulate`: the panel simulators as one local server (see [`crate::simulator`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::simulator;

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
}

pub fn run(args: Args) -> ExitCode {
    let mut config = simulator::Config::new(args.username, args.password);
    config.state_file = args.state;
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
