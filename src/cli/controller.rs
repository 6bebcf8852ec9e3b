//! `hostplane controller`: runs the reconcilers against the cluster the kubeconfig (or the
//! in-cluster service account) points at, until interrupted.

use std::process::ExitCode;

use std::time::Duration;

use crate::controller::shutdown::Shutdown;
use crate::controller::{self, Options, leader};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Watch only these namespaces (repeat the flag, or separate names with commas); every
    /// namespace when unset. Each is watched on its own, so the controller needs rights in
    /// these namespaces only (the chart's `namespaces` list makes a Role in each).
    #[arg(long, short, value_delimiter = ',', value_parser = namespace_name)]
    namespace: Vec<String>,
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
    /// How log lines are written (to stdout): `text` for people, `json` (one object a line) for
    /// log collectors. Neither carries a secret: panel errors are scrubbed before they are
    /// logged.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Act only while holding a coordination.k8s.io Lease, so that of several replicas (or
    /// the old and new pod of a rolling update) exactly one acts. `--leader-elect=false` for a
    /// controller that is certainly alone.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    leader_elect: bool,
    /// The Lease's name.
    #[arg(long, default_value = leader::Config::DEFAULT_NAME)]
    lease_name: String,
    /// The Lease's namespace [default: the first --namespace, else $POD_NAMESPACE, else
    /// `default`].
    #[arg(long)]
    lease_namespace: Option<String>,
    /// How long a standby waits after the last renewal it saw before taking over (`15s`,
    /// `500ms`, `1m`; a bare number is seconds).
    #[arg(long, default_value = "15s", value_parser = duration, value_name = "DURATION")]
    lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up and exits (status 1).
    #[arg(long, default_value = "10s", value_parser = duration, value_name = "DURATION")]
    renew_deadline: Duration,
    /// How often a standby tries to acquire and the leader renews.
    #[arg(long, default_value = "2s", value_parser = duration, value_name = "DURATION")]
    retry_period: Duration,
    /// On SIGTERM or SIGINT, how long reconciles in flight may take to finish before the
    /// process hands back the lease and exits anyway.
    #[arg(long, default_value = "20s", value_parser = duration, value_name = "DURATION")]
    shutdown_grace: Duration,
    /// The auto-deletion period of a product type, for its tariffs that set no
    /// `policies.autoDeletionDays` (seed 002's "Service type settings"), e.g.
    /// `SharedHosting=30`; repeatable. A product type without one never deletes.
    #[arg(long, value_parser = product_days, value_name = "PRODUCT=DAYS")]
    auto_deletion_days: Vec<(crate::api::ProductType, u32)>,
    /// Testing only: billing days follow the clock of the `hostplane simulate` process at
    /// this address (`http://127.0.0.1:1500`), which a soak test moves across renewal and
    /// expiry days (`cargo bench --bench chaos`). Never point it at anything in production.
    #[arg(long, hide = true, value_name = "URL")]
    clock_from_simulator: Option<String>,
}

/// `SharedHosting=30`: a product type and a number of days (1 to 3650, as the tariff field).
pub(super) fn product_days(text: &str) -> Result<(crate::api::ProductType, u32), String> {
    let (product, days) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected PRODUCT=DAYS, e.g. SharedHosting=30"))?;
    let product = serde_json::from_value(serde_json::Value::String(product.trim().into()))
        .map_err(|_| {
            format!("{product:?}: expected SharedHosting, VirtualServer or SoftwareLicense")
        })?;
    match days.trim().parse::<u32>() {
        Ok(d @ 1..=3650) => Ok((product, d)),
        _ => Err(format!(
            "{days:?}: expected a number of days from 1 to 3650"
        )),
    }
}

/// `15s`, `500ms`, `2m`, `1h`, or a bare number of seconds.
fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 15s or 500ms"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(number)),
        "ms" => Ok(Duration::from_millis(number)),
        "m" => Ok(Duration::from_secs(number * 60)),
        "h" => Ok(Duration::from_secs(number * 3600)),
        _ => Err(format!(
            "{text:?}: unknown unit {unit:?} (use ms, s, m or h)"
        )),
    }
}

/// A namespace name as the API server takes it: a DNS label.
fn namespace_name(text: &str) -> Result<String, String> {
    let label = text.trim();
    if crate::api::patterns::NAMESPACE_RE.is_match(label) {
        Ok(label.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a namespace name (lowercase letters, digits and '-', at most 63, \
             starting and ending with a letter or digit)"
        ))
    }
}

/// The names in their first order, each once: a name given twice is watched once.
fn distinct(names: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    names
        .into_iter()
        .filter(|n| seen.insert(n.clone()))
        .collect()
}

impl Args {
    /// The election settings, or `None` with `--leader-elect=false`.
    fn leader_election(&self) -> Result<Option<leader::Config>, String> {
        if !self.leader_elect {
            return Ok(None);
        }
        let namespace = self
            .lease_namespace
            .clone()
            .or_else(|| self.namespace.first().cloned())
            .or_else(|| {
                std::env::var("POD_NAMESPACE")
                    .ok()
                    .filter(|n| !n.is_empty())
            })
            .unwrap_or_else(|| "default".to_owned());
        let config = leader::Config {
            lease_duration: self.lease_duration,
            renew_deadline: self.renew_deadline,
            retry_period: self.retry_period,
            ..leader::Config::new(&self.lease_name, namespace)
        };
        config.check()?;
        Ok(Some(config))
    }
}

/// Exit status when the lease was lost: non-zero, so that the Deployment restarts the pod
/// (as a client-go controller does), and distinct from 2 (could not run at all).
const LOST_LEASE: u8 = 1;

/// The log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logs to stdout in `format`, filtered by `RUST_LOG` (`info` when unset); for every
/// long-running subcommand (the controller, the webhook).
pub fn init_logs(format: LogFormat) {
    let logs = tracing_subscriber::fmt().with_env_filter(
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
    );
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

pub fn run(args: Args) -> ExitCode {
    init_logs(args.log_format);
    let leader_election = match args.leader_election() {
        Ok(election) => election,
        Err(e) => {
            eprintln!("hostplane controller: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = runtime.block_on(async {
        let shutdown = Shutdown::on_signals()?;
        let client = kube::Client::try_default().await?;
        let clock = match &args.clock_from_simulator {
            Some(url) => controller::clock::Clock::following_simulator(url).await?,
            None => controller::clock::Clock::system(),
        };
        let options = Options {
            clock,
            namespaces: distinct(args.namespace),
            concurrency: args.concurrency,
            drift_interval: Duration::from_secs(args.drift_interval.max(1)),
            module_check_interval: Duration::from_secs(args.module_check_interval.max(1)),
            leader_election,
            shutdown,
            shutdown_grace: args.shutdown_grace,
            product_defaults: crate::billing::policy::ProductDefaults {
                auto_deletion_days: args.auto_deletion_days,
            },
        };
        let metrics_address = args.metrics_address;
        tokio::spawn(async move {
            if let Err(error) = controller::metrics::serve(metrics_address).await {
                tracing::error!(%error, "health and metrics server stopped");
            }
        });
        controller::run(client, options).await
    });
    // Whatever is still running (watches, the metrics server) ends with the process; nothing
    // of it may act after the lease was lost, so do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) if e.is::<leader::Lost>() => {
            eprintln!("hostplane controller: {e:#}");
            ExitCode::from(LOST_LEASE)
        }
        Err(e) => {
            eprintln!("hostplane controller: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Args {
        Cli::try_parse_from(std::iter::once("controller").chain(argv.iter().copied()))
            .expect("parses")
            .args
    }

    #[test]
    fn durations_take_units_or_seconds() {
        assert_eq!(duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(duration("15"), Ok(Duration::from_secs(15)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert!(duration("2 weeks").is_err());
        assert!(duration("s").is_err());
    }

    #[test]
    fn election_is_on_by_default_in_the_watched_namespace() {
        let election = parse(&["--namespace", "acme"])
            .leader_election()
            .unwrap()
            .expect("on by default");
        assert_eq!(election.name, "hostplane-controller");
        assert_eq!(election.namespace, "acme");
        assert_eq!(election.lease_duration, Duration::from_secs(15));
        assert_eq!(election.renew_deadline, Duration::from_secs(10));
        assert_eq!(election.retry_period, Duration::from_secs(2));
    }

    #[test]
    fn several_namespaces_are_taken_repeated_or_comma_separated_and_checked() {
        let args = parse(&["-n", "acme,beta", "--namespace", "gamma", "-n", "acme"]);
        assert_eq!(args.namespace, ["acme", "beta", "gamma", "acme"]);
        assert_eq!(distinct(args.namespace.clone()), ["acme", "beta", "gamma"]);
        let election = args.leader_election().unwrap().expect("on by default");
        assert_eq!(
            election.namespace, "acme",
            "the first namespace holds the Lease"
        );
        let try_parse = |argv: &[&str]| {
            Cli::try_parse_from(std::iter::once("controller").chain(argv.iter().copied()))
        };
        let refused = try_parse(&["-n", "acme,Bad_Name"]);
        let message = refused.expect_err("an invalid name").to_string();
        assert!(
            message.contains("\"Bad_Name\" is not a namespace name"),
            "{message}"
        );
        assert!(try_parse(&["-n", "a,,b"]).is_err());
    }

    #[test]
    fn election_can_be_switched_off_and_configured() {
        assert!(
            parse(&["--leader-elect=false"])
                .leader_election()
                .unwrap()
                .is_none()
        );
        assert!(
            parse(&["--leader-elect"])
                .leader_election()
                .unwrap()
                .is_some()
        );
        let election = parse(&[
            "--lease-name=x",
            "--lease-namespace=ops",
            "--lease-duration=6s",
            "--renew-deadline=4s",
            "--retry-period=1s",
        ])
        .leader_election()
        .unwrap()
        .unwrap();
        assert_eq!(
            (election.name.as_str(), election.namespace.as_str()),
            ("x", "ops")
        );
        assert_eq!(election.lease_duration, Duration::from_secs(6));
    }

    #[test]
    fn unsafe_timings_are_refused() {
        let args = parse(&["--lease-duration=5s", "--renew-deadline=10s"]);
        assert!(args.leader_election().is_err());
    }

    #[test]
    fn auto_deletion_days_per_product_type_are_repeatable_and_bounded() {
        use crate::api::ProductType::{SharedHosting, VirtualServer};
        let args = parse(&[
            "--auto-deletion-days",
            "SharedHosting=30",
            "--auto-deletion-days=VirtualServer=7",
        ]);
        assert_eq!(
            args.auto_deletion_days,
            [(SharedHosting, 30), (VirtualServer, 7)]
        );
        assert!(parse(&[]).auto_deletion_days.is_empty(), "none by default");
        for bad in [
            "SharedHosting",
            "Hosting=30",
            "SharedHosting=0",
            "SharedHosting=3651",
        ] {
            assert!(product_days(bad).is_err(), "{bad}");
        }
    }
}
