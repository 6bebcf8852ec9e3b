//! `kubectl hostplane` (the binary installed or linked as `kubectl-hostplane`, which kubectl
//! runs for `kubectl hostplane ...`): `status`, `pause`, `resume`, `reconcile`. The same
//! subcommands work as `hostplane status` etc.
//!
//! They only read objects and write the annotations the controller already honours
//! (`hostplane.dev/paused`, `hostplane.dev/reconcile-requested-at`), so they need no more
//! rights than `kubectl annotate`.

pub mod kinds;
pub mod nudge;
pub mod status;

use std::path::PathBuf;

/// The name kubectl looks for on PATH to run `kubectl hostplane`.
pub const PLUGIN_BINARY: &str = "kubectl-hostplane";

/// Whether this process was started under the plugin's name (argv[0]).
pub fn invoked_as_plugin(argv0: &std::ffi::OsStr) -> bool {
    std::path::Path::new(argv0)
        .file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s == PLUGIN_BINARY)
}

/// Where to connect: the kubeconfig as kubectl finds it, unless overridden.
#[derive(clap::Args, Debug, Clone)]
pub struct Connection {
    /// The kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster].
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context [default: its current context].
    #[arg(long)]
    context: Option<String>,
    /// The namespace [default: the context's namespace, else `default`].
    #[arg(long, short)]
    namespace: Option<String>,
}

impl Connection {
    /// A client and the namespace to act in.
    pub async fn connect(&self) -> anyhow::Result<(kube::Client, String)> {
        let options = kube::config::KubeConfigOptions {
            context: self.context.clone(),
            ..Default::default()
        };
        let config = match &self.kubeconfig {
            Some(path) => {
                let kubeconfig = kube::config::Kubeconfig::read_from(path)?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &options).await?
            }
            None if self.context.is_some() => kube::Config::from_kubeconfig(&options).await?,
            None => kube::Config::infer().await?,
        };
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        Ok((kube::Client::try_from(config)?, namespace))
    }
}
