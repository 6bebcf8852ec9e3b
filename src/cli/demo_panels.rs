//! The panels of the demo: one in-process simulator per processing module of the examples,
//! with the credentials of the module's Secret, seeded ([`Seed`]) with what the examples name, and
//! the examples' module URLs pointed at them. Real panels are not reachable from a laptop or
//! CI; the simulators answer at the same paths with the same protocol.

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::Value;

use crate::simulator::seed::Seed;
use crate::simulator::{self, SimHandle};
use crate::validation::{Source, documents};

/// What the demo needs to know of the examples besides the seed.
#[derive(Default)]
struct Found {
    /// Secret name → (username, password).
    secrets: BTreeMap<String, (String, String)>,
    /// Module name, URL and credentials Secret name.
    modules: Vec<(String, String, String)>,
}

fn scan(sources: &[Source]) -> Found {
    let mut found = Found::default();
    for source in sources {
        for doc in documents::split(&source.text) {
            let Ok(value) = documents::parse(&doc) else {
                continue;
            };
            let text = |p: &str| value.pointer(p).and_then(Value::as_str).map(str::to_owned);
            match value.get("kind").and_then(Value::as_str) {
                Some("Secret") => {
                    if let (Some(name), Some(user), Some(password)) = (
                        text("/metadata/name"),
                        text("/stringData/username"),
                        text("/stringData/password"),
                    ) {
                        found.secrets.insert(name, (user, password));
                    }
                }
                Some("ProcessingModule") => {
                    if let (Some(name), Some(url), Some(secret)) = (
                        text("/metadata/name"),
                        text("/spec/url"),
                        text("/spec/credentialsSecretRef/name"),
                    ) {
                        found.modules.push((name, url, secret));
                    }
                }
                _ => {}
            }
        }
    }
    found
}

/// Starts the simulators and returns them with the examples rewritten to point at them.
pub async fn start(sources: &[Source]) -> anyhow::Result<(Vec<SimHandle>, Vec<Source>)> {
    crate::panel::transport::install_crypto_provider();
    let found = scan(sources);
    let mut sims = Vec::new();
    let mut rewrites = Vec::new();
    for (module, url, secret) in &found.modules {
        let (user, password) = found
            .secrets
            .get(secret)
            .with_context(|| format!("the examples have no Secret {secret} with stringData"))?;
        let mut config = simulator::Config::new(user, password);
        // The same seeding as `hostplane simulate --seed-from`: what the examples name, and
        // the accounts that this module's ObserveOnly services adopt.
        config.seed = Seed::from_sources(sources, Some(module));
        let sim = simulator::start_in_process(config).await?;
        let parsed = reqwest::Url::parse(url).with_context(|| format!("module URL {url}"))?;
        let path = parsed.path().trim_end_matches('/');
        rewrites.push((url.clone(), format!("{}{path}", sim.base_url)));
        println!("simulator for {url}: {}", sim.base_url);
        sims.push(sim);
    }
    let sources = sources
        .iter()
        .map(|s| Source {
            name: s.name.clone(),
            text: rewrites.iter().fold(s.text.clone(), |text, (from, to)| {
                text.replace(from.as_str(), to)
            }),
        })
        .collect();
    Ok((sims, sources))
}
