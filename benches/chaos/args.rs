//! The chaos bench's command line: `[N] [--duration SECONDS] [--seed SEED] [--controllers K]`.

use std::time::Duration;

use anyhow::{Context as _, bail};

use super::chaos::Settings;

const USAGE: &str =
    "usage: cargo bench --bench chaos [-- N] [--duration SECONDS] [--seed SEED] [--controllers K]";

pub fn read() -> anyhow::Result<Settings> {
    let mut settings = Settings {
        services: 300,
        duration: Duration::from_secs(300),
        seed: rand::random(),
        controllers: 3,
        settle: Duration::from_secs(300),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> anyhow::Result<u64> {
            let text = args
                .next()
                .with_context(|| format!("{name} needs a value; {USAGE}"))?;
            text.parse()
                .with_context(|| format!("{name} {text:?}; {USAGE}"))
        };
        match arg.as_str() {
            // `cargo bench` passes `--bench` to every harness-less benchmark.
            "--bench" => {}
            "--duration" => settings.duration = Duration::from_secs(value("--duration")?),
            "--seed" => settings.seed = value("--seed")?,
            "--controllers" => settings.controllers = value("--controllers")?.max(1) as usize,
            other => match other.parse::<usize>() {
                Ok(n) if n > 0 => settings.services = n,
                _ => bail!("unknown argument {other:?}; {USAGE}"),
            },
        }
    }
    Ok(settings)
}
