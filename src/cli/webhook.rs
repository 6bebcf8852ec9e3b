//! `hostplane webhook`: serves the validating admission webhook over TLS until SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::controller::shutdown::Shutdown;
use crate::webhook::Server;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Serve `POST /validate`, `/healthz` and `/readyz` over TLS here.
    #[arg(long, default_value = "0.0.0.0:9443", value_name = "ADDR")]
    address: SocketAddr,
    /// The serving certificate chain (PEM), e.g. `tls.crt` of a mounted Secret; re-read when
    /// it changes, so a rotated certificate is served without a restart.
    #[arg(long, value_name = "FILE")]
    tls_cert_file: PathBuf,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1), e.g. `tls.key`.
    #[arg(long, value_name = "FILE")]
    tls_key_file: PathBuf,
    /// How log lines are written: `text` or `json`.
    #[arg(long, value_enum, default_value_t = super::controller::LogFormat::Text)]
    log_format: super::controller::LogFormat,
}

pub fn run(args: Args) -> ExitCode {
    super::controller::init_logs(args.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("hostplane webhook: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        let shutdown = Shutdown::on_signals()?;
        // The guard lists a namespace's HostingServices: the in-cluster service account
        // (or the kubeconfig when run by hand).
        let client = kube::Client::try_default().await?;
        let server = Server::bind(
            args.address,
            &args.tls_cert_file,
            &args.tls_key_file,
            client,
        )
        .await?;
        server.run(shutdown.requested()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hostplane webhook: {e:#}");
            ExitCode::from(2)
        }
    }
}
