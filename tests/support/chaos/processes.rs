//! The processes of the soak: `hostplane simulate` (the panels, with its admin endpoint) and
//! several `hostplane controller` replicas, the real binary with leader election on, each
//! killable with SIGKILL and restarted as a Deployment would restart it.
//!
//! `cargo bench --bench convergence` includes this file too, for [`Simulator`] and
//! [`controller_command`] (one controller, alone).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;

/// The `hostplane` binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hostplane"))
}

/// A free loopback port (bound and released; the caller binds it again at once).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Kills a child with SIGKILL (nothing it had in flight finishes) and reaps it.
pub fn kill(child: &mut Child) {
    // SAFETY: kill(2) on a pid we spawned and have not reaped yet.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
    }
    let _ = child.wait();
}

/// The simulator in its own process, and a client of its admin endpoint.
pub struct Simulator {
    child: Child,
    pub base: String,
    http: reqwest::Client,
}

impl Simulator {
    pub async fn start(dir: &Path, admin: &str, password: &str) -> anyhow::Result<Simulator> {
        hostplane::panel::transport::install_crypto_provider();
        let port = free_port()?;
        let log = std::fs::File::create(dir.join("simulator.log"))?;
        let child = Command::new(binary())
            .args(["simulate", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--username", admin, "--password", password])
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting hostplane simulate")?;
        let sim = Simulator {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while sim.get("/_admin/clock").await.is_err() {
            if Instant::now() > deadline {
                bail!("hostplane simulate did not answer within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(sim)
    }

    /// The process id, for its CPU time and memory in `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let answer = self.http.get(format!("{}{path}", self.base)).send().await?;
        Ok(answer.error_for_status()?.json().await?)
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let answer = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await?;
        let status = answer.status();
        let text = answer.text().await?;
        if !status.is_success() {
            bail!("POST {path} {body}: {status} {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn clear_faults(&self) -> anyhow::Result<()> {
        self.http
            .delete(format!("{}/_admin/faults", self.base))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// The simulator's today.
    pub async fn today(&self) -> anyhow::Result<String> {
        let clock = self.get("/_admin/clock").await?;
        clock["today"]
            .as_str()
            .map(str::to_owned)
            .context("the clock has no today")
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// How the controllers run.
#[derive(Clone, Debug)]
pub struct ControllerArgs {
    pub namespace: String,
    /// A kubeconfig pointing at the proxy in front of the API server.
    pub kubeconfig: PathBuf,
    /// The simulator whose clock the billing days follow.
    pub simulator: String,
    pub dir: PathBuf,
}

/// `hostplane controller` on `namespace` through `kubeconfig`, serving `/metrics` on
/// `127.0.0.1:port`, with JSON log lines (stdout and stderr) into `log`; the caller adds
/// the flags of its setting and the log filter (`RUST_LOG`).
pub fn controller_command(
    namespace: &str,
    kubeconfig: &Path,
    port: u16,
    log: &Path,
) -> anyhow::Result<Command> {
    let file = std::fs::File::create(log)?;
    let mut command = Command::new(binary());
    command
        .args(["controller", "--namespace", namespace])
        .arg(format!("--metrics-address=127.0.0.1:{port}"))
        .arg("--log-format=json")
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file);
    Ok(command)
}

/// One replica slot; each (re)start is a new incarnation with its own log and port.
struct Replica {
    child: Option<Child>,
    port: u16,
    /// The last `hostplane_reconciles_total` read from each incarnation.
    reconciles: Vec<u64>,
    logs: Vec<PathBuf>,
}

/// The controller replicas.
pub struct Controllers {
    args: ControllerArgs,
    replicas: Vec<Replica>,
    http: reqwest::Client,
    /// Exits the soak did not cause (a lost lease ends a process with status 1), restarted.
    pub exits: Vec<String>,
}

/// The lease's name (`hostplane controller`'s default).
pub const LEASE: &str = "hostplane-controller";

impl Controllers {
    pub fn start(args: ControllerArgs, count: usize) -> anyhow::Result<Controllers> {
        let mut out = Controllers {
            args,
            replicas: Vec::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()?,
            exits: Vec::new(),
        };
        for slot in 0..count {
            out.replicas.push(Replica {
                child: None,
                port: 0,
                reconciles: Vec::new(),
                logs: Vec::new(),
            });
            out.spawn(slot)?;
        }
        Ok(out)
    }

    fn pod_name(slot: usize) -> String {
        format!("chaos-{slot}")
    }

    fn spawn(&mut self, slot: usize) -> anyhow::Result<()> {
        let port = free_port()?;
        let replica = &mut self.replicas[slot];
        let log = self
            .args
            .dir
            .join(format!("controller-{slot}-{}.log", replica.logs.len() + 1));
        let child = controller_command(&self.args.namespace, &self.args.kubeconfig, port, &log)?
            .args(["--concurrency=8", "--drift-interval=20"])
            .arg("--module-check-interval=30")
            .args(["--lease-duration=6s", "--renew-deadline=4s"])
            .args(["--retry-period=1s", "--shutdown-grace=5s"])
            .arg(format!("--clock-from-simulator={}", self.args.simulator))
            .env("POD_NAME", Self::pod_name(slot))
            // `HOSTPLANE_CHAOS_LOG` (a `RUST_LOG` filter) to see more of the controllers.
            .env(
                "RUST_LOG",
                std::env::var("HOSTPLANE_CHAOS_LOG").unwrap_or_else(|_| "info".into()),
            )
            .spawn()
            .context("starting hostplane controller")?;
        replica.child = Some(child);
        replica.port = port;
        replica.logs.push(log);
        replica.reconciles.push(0);
        Ok(())
    }

    /// The slot whose process holds the lease, from the Lease's holder (`<pod>_<suffix>`).
    pub async fn leader(&self, client: &kube::Client) -> Option<usize> {
        use k8s_openapi::api::coordination::v1::Lease;
        let api: kube::Api<Lease> = kube::Api::namespaced(client.clone(), &self.args.namespace);
        let lease = api.get_opt(LEASE).await.ok()??;
        let holder = lease.spec?.holder_identity?;
        (0..self.replicas.len()).find(|slot| {
            holder.starts_with(&format!("{}_", Self::pod_name(*slot)))
                && self.replicas[*slot].child.is_some()
        })
    }

    /// SIGKILLs the process of `slot`; [`Self::restart`] brings it back.
    pub fn kill(&mut self, slot: usize) {
        if let Some(mut child) = self.replicas[slot].child.take() {
            kill(&mut child);
        }
    }

    pub fn restart(&mut self, slot: usize) -> anyhow::Result<()> {
        self.kill(slot);
        self.spawn(slot)
    }

    /// Restarts the replicas that exited on their own (a lost lease ends a process with
    /// status 1; a Deployment would restart it), except those in `held` (killed by the soak
    /// and due back later). Each such exit is recorded.
    pub fn restart_exited(&mut self, held: &[usize]) -> anyhow::Result<()> {
        for slot in 0..self.replicas.len() {
            if held.contains(&slot) {
                continue;
            }
            let replica = &mut self.replicas[slot];
            let exited = match replica.child.as_mut() {
                None => true,
                Some(child) => match child.try_wait()? {
                    Some(status) => {
                        let log = replica.logs.last().map(|l| l.display().to_string());
                        self.exits.push(format!(
                            "replica {slot} exited ({status}), log {}",
                            log.unwrap_or_default()
                        ));
                        replica.child = None;
                        true
                    }
                    None => false,
                },
            };
            if exited {
                self.spawn(slot)?;
            }
        }
        Ok(())
    }

    /// Reads every running replica's `/metrics` and keeps its reconcile count.
    pub async fn scrape(&mut self) {
        for replica in &mut self.replicas {
            if replica.child.is_none() {
                continue;
            }
            let url = format!("http://127.0.0.1:{}/metrics", replica.port);
            let Ok(answer) = self.http.get(&url).send().await else {
                continue;
            };
            let Ok(text) = answer.text().await else {
                continue;
            };
            let total: u64 = text
                .lines()
                .filter(|l| l.starts_with("hostplane_reconciles_total"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .map(|v| v as u64)
                .sum();
            if let Some(last) = replica.reconciles.last_mut() {
                *last = (*last).max(total);
            }
        }
    }

    /// The running replicas' `hostplane_reconciles_in_flight` and `hostplane_leader` lines,
    /// for the report of a soak that did not settle: reconciles stuck in flight, or no leader.
    pub async fn in_flight(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (slot, replica) in self.replicas.iter().enumerate() {
            if replica.child.is_none() {
                continue;
            }
            let url = format!("http://127.0.0.1:{}/metrics", replica.port);
            let Ok(answer) = self.http.get(&url).send().await else {
                continue;
            };
            let text = answer.text().await.unwrap_or_default();
            out.extend(
                text.lines()
                    .filter(|l| {
                        l.starts_with("hostplane_reconciles_in_flight")
                            || l.starts_with("hostplane_reconciles_total")
                            || l.starts_with("hostplane_leader")
                    })
                    .map(|l| format!("replica {slot}: {l}")),
            );
        }
        out
    }

    /// Reconciles counted by every incarnation (each one's last scrape).
    pub fn reconciles(&self) -> u64 {
        self.replicas.iter().flat_map(|r| &r.reconciles).sum()
    }

    /// Every log file of every incarnation: (file name, text).
    pub fn logs(&self) -> Vec<(String, String)> {
        self.replicas
            .iter()
            .flat_map(|r| &r.logs)
            .map(|path| {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (name, std::fs::read_to_string(path).unwrap_or_default())
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.replicas.len()
    }
}

impl Drop for Controllers {
    fn drop(&mut self) {
        for replica in &mut self.replicas {
            if let Some(mut child) = replica.child.take() {
                kill(&mut child);
            }
        }
    }
}
