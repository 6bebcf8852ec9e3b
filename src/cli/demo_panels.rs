//! The panels of the demo: one in-process simulator per processing module of the examples,
//! with the credentials of the module's Secret and the account templates its tariffs name, and
//! the examples' module URLs pointed at them. Real panels are not reachable from a laptop or
//! CI; the simulators answer at the same paths with the same protocol.

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::Value;

use crate::simulator::{self, SimHandle};
use crate::validation::{Source, documents};

/// What the demo needs to know of the examples.
#[derive(Default)]
struct Found {
    /// Secret name → (username, password).
    secrets: BTreeMap<String, (String, String)>,
    /// Module name, URL and credentials Secret name.
    modules: Vec<(String, String, String)>,
    /// Accounts that `ObserveOnly` services adopt: module name → usernames. They existed
    /// before hostplane, so the demo makes them at the simulator first.
    adopted: BTreeMap<String, Vec<String>>,
    /// Every tariff's `hosting.accountTemplate`.
    templates: Vec<String>,
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
                Some("HostingService")
                    if text("/spec/managementPolicy").as_deref() == Some("ObserveOnly") =>
                {
                    if let (Some(module), Some(user)) = (
                        text("/spec/processingModuleRef/name"),
                        text("/metadata/annotations/hostplane.dev~1external-name"),
                    ) {
                        found.adopted.entry(module).or_default().push(user);
                    }
                }
                Some("Tariff") => found
                    .templates
                    .extend(text("/spec/hosting/accountTemplate")),
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
        let sim = simulator::start_in_process(simulator::Config::new(user, password)).await?;
        sim.sim.transact(|state| {
            let basic = state
                .ispmgr
                .presets
                .get("basic")
                .cloned()
                .unwrap_or_default();
            for template in &found.templates {
                state
                    .ispmgr
                    .presets
                    .entry(template.clone())
                    .or_insert_with(|| basic.clone());
            }
            for name in found.adopted.get(module).into_iter().flatten() {
                state.ispmgr.users.insert(
                    name.clone(),
                    crate::simulator::state::IspUser {
                        name: name.clone(),
                        fullname: format!("{name} (made before hostplane)"),
                        active: true,
                        level: 16,
                        preset: "basic".into(),
                        limits: basic.clone(),
                        password_changes: 0,
                    },
                );
            }
            ((), true)
        });
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
