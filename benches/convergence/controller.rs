//! The controller under test: the `hostplane controller` binary in its own process, its
//! reconcile counters (`/metrics`) and the warnings in its log.

use super::*;

/// Warnings (and errors) printed in the report; the rest are only counted.
pub(super) const KEEP_WARNINGS: usize = 5;

pub(super) struct Controller {
    child: std::process::Child,
    port: u16,
    pub(super) log: PathBuf,
    http: reqwest::Client,
}

/// What `/metrics` says: reconciles by `kind (outcome)`, and the seconds spent in them.
#[derive(Clone, Debug, Default)]
pub(super) struct Reconciles {
    pub(super) counts: Calls,
    /// µs by the same keys.
    pub(super) micros: Calls,
}

impl Reconciles {
    pub(super) fn parse(text: &str) -> Reconciles {
        let mut out = Reconciles::default();
        for line in text.lines() {
            let (target, rest, scale) =
                if let Some(rest) = line.strip_prefix("hostplane_reconciles_total{") {
                    (&mut out.counts, rest, 1.0)
                } else if let Some(rest) = line.strip_prefix("hostplane_reconcile_seconds_total{") {
                    (&mut out.micros, rest, 1e6)
                } else {
                    continue;
                };
            let Some((labels, value)) = split_labels(rest) else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
            let key = format!("{} ({})", label("kind"), label("outcome"));
            *target.entry(key).or_default() += (value * scale) as u64;
        }
        out
    }

    pub(super) fn since(&self, before: &Reconciles) -> Reconciles {
        Reconciles {
            counts: calls_since(&self.counts, &before.counts),
            micros: calls_since(&self.micros, &before.micros),
        }
    }
}

impl Controller {
    /// Starts `hostplane controller` alone (no leader election: no Lease writes) on the
    /// bench's namespace, with the bench's concurrency and drift interval; logs into `dir`.
    pub(super) fn start(
        cluster: &LocalCluster,
        s: &Settings,
        dir: &Path,
    ) -> anyhow::Result<Controller> {
        let port = processes::free_port()?;
        let log = dir.join("controller.log");
        let child = processes::controller_command(NS, cluster.kubeconfig_path(), port, &log)?
            .arg(format!("--concurrency={}", s.concurrency))
            .arg(format!("--drift-interval={}", s.drift.as_secs()))
            .arg("--leader-elect=false")
            .env("RUST_LOG", &s.controller_log)
            .spawn()
            .context("starting hostplane controller")?;
        Ok(Controller {
            child,
            port,
            log,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
        })
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An error when the process has exited.
    pub(super) fn check_running(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => bail!(
                "the controller exited ({status}); its log: {}",
                self.log.display()
            ),
        }
    }

    pub(super) async fn reconciles(&self) -> anyhow::Result<Reconciles> {
        let url = format!("http://127.0.0.1:{}/metrics", self.port);
        let text = self
            .http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("reading the controller's {url}"))?
            .text()
            .await?;
        Ok(Reconciles::parse(&text))
    }

    /// The warning and error lines of hostplane's own code in the log: how many, and the
    /// first few as `LEVEL target: message fields`.
    pub(super) fn warnings(&self) -> (u64, Vec<String>) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut count = 0;
        let mut first = Vec::new();
        for line in text.lines() {
            let Ok(entry) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let level = entry["level"].as_str().unwrap_or("");
            let target = entry["target"].as_str().unwrap_or("");
            if !["WARN", "ERROR"].contains(&level) || !target.starts_with("hostplane") {
                continue;
            }
            count += 1;
            if first.len() < KEEP_WARNINGS {
                let fields = entry["fields"].as_object().cloned().unwrap_or_default();
                let mut text = format!("{level} {target}: ");
                for (k, v) in &fields {
                    let v = v
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string());
                    if k == "message" {
                        let _ = write!(text, "{v} ");
                    } else {
                        let _ = write!(text, "{k}={v} ");
                    }
                }
                first.push(text.trim_end().to_owned());
            }
        }
        (count, first)
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        processes::kill(&mut self.child);
    }
}
