//! A real, throw-away Kubernetes API server on loopback: etcd plus kube-apiserver, no
//! kubelet, no controllers, no Docker.
//!
//! Why: the operator's contract is with the API server (CRD schemas, RBAC, server-side
//! apply, watches), and fakes drift from it. This runs the genuine apiserver in a temp dir,
//! fast enough to share one per test process (see [`shared`]) and usable by hand through
//! `hostplane local-cluster` (see [`run_foreground`]).
//!
//! Binaries come from `$KUBEBUILDER_ASSETS` (the envtest convention), `PATH`, or the cache
//! that `scripts/kube-binaries.sh` fills (see `assets`). Set `HOSTPLANE_KEEP_CLUSTER=1` to
//! keep the temp dir (logs, etcd data) after teardown; set `TMPDIR=/dev/shm` to spare the
//! disk etcd's fsyncs.

mod assets;
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use support::Keeper;

/// The identity of the Helm chart's ServiceAccount (release `hostplane` in namespace
/// `hostplane-system`), which the API server also knows by a token: tests run the controller
/// under it, bound by the chart's own rendered RBAC, so that a missing rule is a 403 in the
/// suite rather than in a provider's cluster ([`LocalCluster::service_account_client`]).
pub const SERVICE_ACCOUNT: (&str, &str) = ("hostplane-system", "hostplane");

/// How long etcd plus kube-apiserver may take to become ready. A cold start takes a few
/// seconds; the slack is for a 2-core machine that is compiling at the same time.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running etcd + kube-apiserver pair owned by this process.
///
/// Why a struct with `Drop`: everything (processes, certificates, etcd data) lives in one
/// temp dir and dies with the value; the children also die with the process even when
/// `Drop` never runs, so a crashed test run leaves no servers behind.
pub struct LocalCluster {
    dir: Option<tempfile::TempDir>,
    assets: PathBuf,
    kubeconfig: PathBuf,
    /// A kubeconfig with the token of [`SERVICE_ACCOUNT`].
    service_account_kubeconfig: PathBuf,
    server_url: String,
    /// etcd first, kube-apiserver second; killed in reverse order.
    children: Vec<(&'static str, Child)>,
    keeper: Option<Keeper>,
}

impl LocalCluster {
    /// Starts etcd and kube-apiserver on free loopback ports and waits until the API
    /// server is ready. Blocking; errors say what is missing (with what to run when the
    /// binaries are nowhere) and include the servers' log tails.
    pub fn start() -> anyhow::Result<LocalCluster> {
        let assets = assets::find()?;
        support::sweep_stale_dirs();
        let dir = tempfile::Builder::new()
            .prefix(support::DIR_PREFIX)
            .tempdir()
            .context("creating temp dir")?;
        let root = dir.path().to_path_buf();
        fs::write(
            root.join(support::OWNER_FILE),
            std::process::id().to_string(),
        )?;
        let [etcd_port, peer_port, api_port] = support::free_ports::<3>()?;
        let server_url = format!("https://127.0.0.1:{api_port}");
        let mut cluster = LocalCluster {
            dir: Some(dir),
            assets,
            kubeconfig: root.join("kubeconfig"),
            service_account_kubeconfig: root.join("service-account.kubeconfig"),
            server_url,
            children: Vec::new(),
            keeper: Some(Keeper::new().context("starting the keeper thread")?),
        };
        let deadline = Instant::now() + START_TIMEOUT;

        cluster.spawn("etcd", cluster.etcd_command(&root, etcd_port, peer_port))?;
        cluster.wait_until("etcd /health", deadline, |_| {
            Ok(support::etcd_healthy(etcd_port))
        })?;

        let token = support::random_token()?;
        let sa_token = support::random_token()?;
        let (sa_namespace, sa_name) = SERVICE_ACCOUNT;
        // token,user,uid,"groups": the admin is in system:masters (every RBAC check passes);
        // the ServiceAccount has exactly the groups a real one's token carries.
        fs::write(
            root.join("tokens.csv"),
            format!(
                "{token},admin,admin,system:masters\n\
                 {sa_token},system:serviceaccount:{sa_namespace}:{sa_name},{sa_name}-uid,\
                 \"system:serviceaccounts,system:serviceaccounts:{sa_namespace},system:authenticated\"\n"
            ),
        )?;
        let (sa_key, sa_pub) = support::make_service_account_keys(&root)?;
        let api = cluster.apiserver_command(&root, etcd_port, api_port, &sa_key, &sa_pub);
        cluster.spawn("kube-apiserver", api)?;
        fs::write(
            &cluster.kubeconfig,
            kubeconfig_yaml(&cluster.server_url, &token),
        )?;
        fs::write(
            &cluster.service_account_kubeconfig,
            kubeconfig_yaml(&cluster.server_url, &sa_token),
        )?;
        cluster.wait_until("kube-apiserver /readyz", deadline, |c| c.apiserver_ready())?;
        Ok(cluster)
    }

    /// Path of a kubeconfig (admin bearer token, in group `system:masters`) for this
    /// cluster, for tools and clients outside this process.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// Path of a kubeconfig with the identity of [`SERVICE_ACCOUNT`] (no rights until a
    /// binding grants them).
    pub fn service_account_kubeconfig_path(&self) -> &Path {
        &self.service_account_kubeconfig
    }

    /// The API server's URL, `https://127.0.0.1:PORT`, for messages and raw HTTP clients.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// A `kubectl` from the same assets as the server (so versions match), with
    /// `--kubeconfig` preset: tests can exercise the same paths users take.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(self.assets.join("kubectl"));
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        cmd
    }

    /// A `kube::Client` with admin rights on this cluster. Call it inside each test's own
    /// runtime: a client is tied to the Tokio runtime that created it.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        client_of(&self.kubeconfig).await
    }

    /// A `kube::Client` with the identity of [`SERVICE_ACCOUNT`]: only what RBAC grants it.
    pub async fn service_account_client(&self) -> anyhow::Result<kube::Client> {
        client_of(&self.service_account_kubeconfig).await
    }

    fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .expect("cluster dir exists until drop")
            .path()
    }

    fn spawn(&mut self, name: &'static str, cmd: Command) -> anyhow::Result<()> {
        let log = self.dir().join(format!("{name}.log"));
        let keeper = self.keeper.as_ref().expect("keeper lives until drop");
        let child = keeper.spawn(cmd, &log)?;
        self.children.push((name, child));
        Ok(())
    }

    fn etcd_command(&self, root: &Path, port: u16, peer_port: u16) -> Command {
        let (client, peer) = (
            format!("http://127.0.0.1:{port}"),
            format!("http://127.0.0.1:{peer_port}"),
        );
        let mut cmd = Command::new(self.assets.join("etcd"));
        cmd.arg("--name=testbed")
            .arg(format!("--data-dir={}", root.join("etcd").display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=testbed={peer}"))
            .args(["--logger=zap", "--log-level=warn"]);
        cmd
    }

    fn apiserver_command(
        &self,
        root: &Path,
        etcd: u16,
        port: u16,
        sa_key: &Path,
        sa_pub: &Path,
    ) -> Command {
        let path = |flag: &str, p: &Path| format!("--{flag}={}", p.display());
        let mut cmd = Command::new(self.assets.join("kube-apiserver"));
        cmd.arg(format!("--etcd-servers=http://127.0.0.1:{etcd}"))
            .args(["--advertise-address=127.0.0.1", "--bind-address=127.0.0.1"])
            .arg(format!("--secure-port={port}"))
            // The reconciler would publish 127.0.0.1 as the `kubernetes` Endpoints, which
            // validation rejects (loopback), logging an error every 10 seconds.
            .arg("--endpoint-reconciler-type=none")
            .arg(path("cert-dir", &root.join("certs")))
            .arg(path("token-auth-file", &root.join("tokens.csv")))
            // 1.20 refuses to start without all three service-account flags.
            .arg(path("service-account-key-file", sa_pub))
            .arg(path("service-account-signing-key-file", sa_key))
            .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
            .args([
                "--authorization-mode=RBAC",
                "--disable-admission-plugins=ServiceAccount",
            ])
            .args([
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
            ]);
        cmd
    }

    fn apiserver_ready(&self) -> anyhow::Result<bool> {
        let out = self
            .kubectl()
            .args(["get", "--raw=/readyz", "--request-timeout=5s"])
            .output()?;
        Ok(out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok")
    }

    /// Polls `ready` until it is true, failing early if a child exits and at `deadline`.
    fn wait_until(
        &mut self,
        what: &str,
        deadline: Instant,
        mut ready: impl FnMut(&Self) -> anyhow::Result<bool>,
    ) -> anyhow::Result<()> {
        loop {
            if ready(self)? {
                return Ok(());
            }
            if let Some((name, status)) = self.exited_child()? {
                bail!(
                    "{name} exited ({status}) before {what} was ready{}",
                    self.log_tails()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{what} not ready after {}s{}",
                    START_TIMEOUT.as_secs(),
                    self.log_tails()
                );
            }
            sleep(Duration::from_millis(250));
        }
    }

    fn exited_child(&mut self) -> anyhow::Result<Option<(&'static str, ExitStatus)>> {
        for (name, child) in &mut self.children {
            if let Some(status) = child.try_wait()? {
                return Ok(Some((name, status)));
            }
        }
        Ok(None)
    }

    fn log_tails(&self) -> String {
        let mut out = String::new();
        for name in ["kube-apiserver", "etcd"] {
            let log = self.dir().join(format!("{name}.log"));
            out += &format!(
                "\n--- last lines of {} ---\n{}",
                log.display(),
                support::tail(&log, 30)
            );
        }
        out
    }
}

impl Drop for LocalCluster {
    /// Kills the servers (SIGKILL: there is nothing worth flushing) and removes the temp
    /// dir, unless `HOSTPLANE_KEEP_CLUSTER` is set.
    fn drop(&mut self) {
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
        drop(self.keeper.take());
        // Dropping the TempDir removes it; keeping it forgets the path instead.
        if let Some(dir) = self.dir.take()
            && std::env::var_os("HOSTPLANE_KEEP_CLUSTER").is_some()
        {
            let _ = fs::remove_file(dir.path().join(support::OWNER_FILE));
            eprintln!("HOSTPLANE_KEEP_CLUSTER: kept {}", dir.keep().display());
        }
    }
}

async fn client_of(path: &Path) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)?;
    let options = kube::config::KubeConfigOptions::default();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await?;
    Ok(kube::Client::try_from(config)?)
}

fn kubeconfig_yaml(server: &str, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: hostplane-local\n  cluster:\n    server: {server}\n    \
         insecure-skip-tls-verify: true\nusers:\n- name: admin\n  user:\n    token: {token}\ncontexts:\n\
         - name: hostplane-local\n  context:\n    cluster: hostplane-local\n    user: admin\n\
         current-context: hostplane-local\n"
    )
}

static SHARED: OnceLock<Result<LocalCluster, String>> = OnceLock::new();

/// The cluster shared by all tests of this process, started on first use.
///
/// Why shared: starting a cluster costs seconds, so a test binary starts one and each
/// test isolates itself in its own namespace. Panics with the start error, so tests fail
/// (rather than skip) where no cluster can run. Being a `static` it is never dropped; an
/// `atexit` hook kills the servers and removes the temp dir when the process exits.
pub fn shared() -> &'static LocalCluster {
    let cluster = SHARED.get_or_init(|| {
        let started = LocalCluster::start().map_err(|e| format!("{e:#}"));
        if started.is_ok() {
            // SAFETY: registering a plain `extern "C" fn` with no captured state.
            unsafe { libc::atexit(teardown_shared) };
        }
        started
    });
    match cluster {
        Ok(cluster) => cluster,
        Err(e) => panic!("cannot start the local Kubernetes API server: {e}"),
    }
}

extern "C" fn teardown_shared() {
    let Some(Ok(cluster)) = SHARED.get() else {
        return;
    };
    for (_, child) in cluster.children.iter().rev() {
        let pid = child.id() as libc::pid_t;
        // SAFETY: the pid is our own unreaped child, so it cannot have been reused.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    if std::env::var_os("HOSTPLANE_KEEP_CLUSTER").is_some() {
        let _ = fs::remove_file(cluster.dir().join(support::OWNER_FILE));
        eprintln!("HOSTPLANE_KEEP_CLUSTER: kept {}", cluster.dir().display());
    } else {
        let _ = fs::remove_dir_all(cluster.dir());
    }
}

/// Runs a cluster until SIGINT/SIGTERM, for `hostplane local-cluster`: lets a developer
/// point kubectl or a locally running operator at a real API server without Docker.
///
/// Copies the kubeconfig to `kubeconfig_out` when given (a stable path for scripts), prints
/// where it is, runs `setup` (the demo installs CRDs and applies examples there), and tears
/// everything down on the signal or if a server dies.
pub fn run_foreground(
    kubeconfig_out: Option<&Path>,
    setup: impl FnOnce(&LocalCluster) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while we tear down exits at once.
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))?;
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let mut cluster = LocalCluster::start()?;
    let kubeconfig = match kubeconfig_out {
        Some(out) => {
            fs::copy(cluster.kubeconfig_path(), out)
                .with_context(|| format!("writing {}", out.display()))?;
            fs::canonicalize(out)?
        }
        None => cluster.kubeconfig_path().to_path_buf(),
    };
    println!("kube-apiserver: {}", cluster.server_url());
    println!("kubeconfig: {}", kubeconfig.display());
    println!("  export KUBECONFIG={}", kubeconfig.display());
    setup(&cluster)?;
    println!("Press Ctrl-C to stop and delete the cluster.");
    while !stop.load(Ordering::Relaxed) {
        if let Some((name, status)) = cluster.exited_child()? {
            bail!(
                "{name} exited unexpectedly ({status}){}",
                cluster.log_tails()
            );
        }
        sleep(Duration::from_millis(200));
    }
    eprintln!("stopping the local cluster");
    Ok(())
}
