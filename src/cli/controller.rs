//! `hostplane controller`: runs the reconcilers against the cluster the kubeconfig (or the
//! in-cluster service account) points at, until interrupted.

use std::process::ExitCode;

use crate::controller::{self, Options};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Watch only this namespace; all namespaces when unset.
    #[arg(long, short)]
    namespace: Option<String>,
    /// Reconciles running at once per kind.
    #[arg(long, default_value_t = 16)]
    concurrency: u16,
    /// How often each module's accounts are listed and compared with the services, in
    /// seconds (plus up to 10% jitter).
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    drift_interval: u64,
    /// How often each processing module's connection is checked, in seconds (plus jitter).
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    module_check_interval: u64,
    /// Serve /healthz, /readyz and /metrics (Prometheus) here.
    #[arg(long, default_value = "0.0.0.0:8080", value_name = "ADDR")]
    metrics_address: std::net::SocketAddr,
}

pub fn run(args: Args) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = runtime.block_on(async {
        let client = kube::Client::try_default().await?;
        let options = Options {
            namespace: args.namespace,
            concurrency: args.concurrency,
            drift_interval: std::time::Duration::from_secs(args.drift_interval.max(1)),
            module_check_interval: std::time::Duration::from_secs(
                args.module_check_interval.max(1),
            ),
            ..Options::default()
        };
        let metrics_address = args.metrics_address;
        tokio::spawn(async move {
            if let Err(error) = controller::metrics::serve(metrics_address).await {
                tracing::error!(%error, "health and metrics server stopped");
            }
        });
        tokio::select! {
            done = controller::run(client, options) => done,
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("interrupted; stopping");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hostplane controller: {e:#}");
            ExitCode::from(2)
        }
    }
}
