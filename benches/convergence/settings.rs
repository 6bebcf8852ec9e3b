//! The bench's settings: environment variables and arguments.

use super::*;

pub(super) struct Settings {
    pub(super) services: usize,
    pub(super) steady: Duration,
    pub(super) settle: Duration,
    pub(super) concurrency: u16,
    pub(super) drift: Duration,
    pub(super) parallel: usize,
    pub(super) connection_secrets: bool,
    pub(super) stall: Duration,
    pub(super) timeout: Duration,
    /// Whether the floor phase runs (`HOSTPLANE_BENCH_FLOOR`).
    pub(super) floor: bool,
    /// The controller's `RUST_LOG`.
    pub(super) controller_log: String,
}

/// Above this many services the floor is skipped unless asked for: the 50,000 run is about
/// the controller's time and memory.
pub(super) const FLOOR_UP_TO: usize = 10_000;

pub(super) fn env_value<T>(name: &str) -> anyhow::Result<Option<T>>
where
    T: FromStr,
    T::Err: Display,
{
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| anyhow!("{name}={v:?}: {e}")),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(e) => Err(anyhow!("{name}: {e}")),
    }
}

impl Settings {
    pub(super) fn read() -> anyhow::Result<Settings> {
        let mut services = env_value::<usize>("HOSTPLANE_BENCH_SERVICES")?.unwrap_or(1000);
        let mut connection_secrets =
            env_value::<u8>("HOSTPLANE_BENCH_CONNECTION_SECRETS")?.unwrap_or(0) != 0;
        for arg in std::env::args().skip(1) {
            match arg.as_str() {
                // `cargo bench` passes `--bench` to every harness-less benchmark.
                "--bench" => {}
                "--connection-secrets" => connection_secrets = true,
                other => match other.parse::<usize>() {
                    Ok(n) => services = n,
                    Err(_) => bail!(
                        "unknown argument {other:?}; usage: cargo bench --bench convergence [-- N] [--connection-secrets]"
                    ),
                },
            }
        }
        if services == 0 || services > 99_999 {
            bail!("the service count must be 1..=99999, not {services}");
        }
        let secs = |name: &str, default: u64| -> anyhow::Result<Duration> {
            Ok(Duration::from_secs(
                env_value::<u64>(name)?.unwrap_or(default),
            ))
        };
        Ok(Settings {
            services,
            steady: secs("HOSTPLANE_BENCH_STEADY_SECONDS", 60)?,
            settle: secs("HOSTPLANE_BENCH_SETTLE_SECONDS", 5)?,
            concurrency: env_value("HOSTPLANE_BENCH_CONCURRENCY")?.unwrap_or(16),
            drift: secs("HOSTPLANE_BENCH_DRIFT_SECONDS", 30)?,
            parallel: env_value::<usize>("HOSTPLANE_BENCH_PARALLEL")?
                .unwrap_or(32)
                .max(1),
            connection_secrets,
            stall: secs("HOSTPLANE_BENCH_STALL_SECONDS", 180)?,
            timeout: secs("HOSTPLANE_BENCH_TIMEOUT_SECONDS", 300 + services as u64 / 5)?,
            floor: env_value::<u8>("HOSTPLANE_BENCH_FLOOR")?
                .map_or(services <= FLOOR_UP_TO, |f| f != 0),
            controller_log: std::env::var("HOSTPLANE_BENCH_CONTROLLER_LOG")
                .unwrap_or_else(|_| "error,hostplane=warn".to_owned()),
        })
    }
}
