//! `hostplane status` / `kubectl hostplane status`: per namespace, the processing modules and
//! their health, services by phase, licences in pools, and what is failing and why (objects
//! that are `Stalled`, retrying an error, or not Ready without work in progress), plus the
//! paused services. Exit status 1 when something is failing, so CI can gate on it.

use std::collections::BTreeMap;
use std::process::ExitCode;

use kube::api::{Api, DynamicObject, ListParams};
use kube::core::ApiResource;
use serde::Serialize;
use serde_json::Value;

use super::{Connection, kinds};
use crate::api::PAUSED_ANNOTATION;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Every namespace.
    #[arg(long, short = 'A')]
    all_namespaces: bool,
    /// `text` or `json`.
    #[arg(long, short, value_enum, default_value_t = super::super::Output::Text)]
    output: super::super::Output,
    #[command(flatten)]
    connection: Connection,
}

/// One namespace's summary.
#[derive(Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    pub namespace: String,
    pub modules: Vec<Module>,
    /// Services per phase (`Active`, `Provisioning`, ...; `Unknown` before the first status).
    pub services_by_phase: BTreeMap<String, usize>,
    pub license_pools: Vec<Pool>,
    /// `hsvc/NAME` of the paused services.
    pub paused: Vec<String>,
    pub failing: Vec<Failing>,
}

#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Module {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    /// The Ready condition's status (`True`, `False`, `Unknown`).
    pub ready: String,
    pub reason: String,
}

#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pool {
    pub name: String,
    pub module: String,
    pub pooled: u64,
    /// Pooled licences per licence type.
    pub by_type: BTreeMap<String, u64>,
}

#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failing {
    /// `short/NAME`, e.g. `hsvc/web`.
    pub object: String,
    /// `Stalled`, `Error` (retrying) or `NotReady`.
    pub state: String,
    pub reason: String,
    pub message: String,
}

/// The condition `type_` of an object, as (status, reason, message).
fn condition<'a>(object: &'a Value, type_: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let found = object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)?;
    let text = |key: &str| found[key].as_str().unwrap_or_default();
    Some((text("status"), text("reason"), text("message")))
}

/// Why an object is failing, if it is: stalled (only a change can help), retrying an error
/// (`status.lastError`), or not Ready with no work in progress (`Reconciling` not True).
fn failing(object: &Value) -> Option<(String, String, String)> {
    let owned = |(_, r, m): (&str, &str, &str)| (r.to_owned(), m.to_owned());
    if let Some(stalled) = condition(object, "Stalled").filter(|c| c.0 == "True") {
        let (reason, message) = owned(stalled);
        return Some(("Stalled".into(), reason, message));
    }
    let ready = condition(object, "Ready");
    if let Some(error) = object["status"]["lastError"].as_object() {
        let reason = ready.map(|c| c.1).unwrap_or_default().to_owned();
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Some(("Error".into(), reason, message.to_owned()));
    }
    let reconciling = condition(object, "Reconciling").is_some_and(|c| c.0 == "True");
    match ready {
        Some(c) if c.0 == "False" && !reconciling => {
            let (reason, message) = owned(c);
            Some(("NotReady".into(), reason, message))
        }
        _ => None,
    }
}

/// The short name kubectl users know a kind by (`hsvc`), else its lowercase kind.
fn short(resource: &ApiResource) -> String {
    crate::api::crds()
        .into_iter()
        .find(|crd| crd.spec.names.kind == resource.kind)
        .and_then(|crd| {
            crd.spec
                .names
                .short_names
                .and_then(|s| s.into_iter().next())
        })
        .unwrap_or_else(|| resource.kind.to_ascii_lowercase())
}

/// Summarises objects of every hostplane kind, per namespace (sorted).
pub fn summarise(objects: &[(ApiResource, DynamicObject)]) -> Vec<Namespace> {
    let mut namespaces: BTreeMap<String, Namespace> = BTreeMap::new();
    for (resource, object) in objects {
        let ns = object.metadata.namespace.clone().unwrap_or_default();
        let name = object.metadata.name.clone().unwrap_or_default();
        let summary = namespaces.entry(ns.clone()).or_insert_with(|| Namespace {
            namespace: ns,
            ..Namespace::default()
        });
        let data = &object.data;
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        match resource.kind.as_str() {
            "ProcessingModule" => {
                let (ready, reason, _) = condition(data, "Ready").unwrap_or(("Unknown", "", ""));
                summary.modules.push(Module {
                    name: name.clone(),
                    type_: text(&data["spec"]["type"]),
                    ready: ready.to_owned(),
                    reason: reason.to_owned(),
                });
            }
            "HostingService" => {
                let phase = data["status"]["phase"].as_str().unwrap_or("Unknown");
                *summary
                    .services_by_phase
                    .entry(phase.to_owned())
                    .or_default() += 1;
                let paused = object
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(PAUSED_ANNOTATION))
                    .is_some_and(|v| v == "true");
                if paused {
                    summary.paused.push(format!("hsvc/{name}"));
                }
            }
            "LicensePool" => summary.license_pools.push(Pool {
                name: name.clone(),
                module: text(&data["spec"]["licensingModuleRef"]["name"]),
                pooled: data["status"]["pooled"].as_u64().unwrap_or(0),
                by_type: data["status"]["counts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| (text(&c["licenseType"]), c["count"].as_u64().unwrap_or(0)))
                    .collect(),
            }),
            _ => {}
        }
        if let Some((state, reason, message)) = failing(data) {
            summary.failing.push(Failing {
                object: format!("{}/{name}", short(resource)),
                state,
                reason,
                message,
            });
        }
    }
    namespaces.into_values().collect()
}

/// The summaries as text for people.
pub fn render(namespaces: &[Namespace]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if namespaces.is_empty() {
        out.push_str("No hostplane objects.\n");
    }
    for ns in namespaces {
        let _ = writeln!(out, "Namespace {}", ns.namespace);
        if ns.modules.is_empty() {
            out.push_str("  Modules: none\n");
        } else {
            out.push_str("  Modules:\n");
            for m in &ns.modules {
                let _ = writeln!(
                    out,
                    "    {:<24} {:<12} Ready={} {}",
                    m.name, m.type_, m.ready, m.reason
                );
            }
        }
        let phases: Vec<String> = ns
            .services_by_phase
            .iter()
            .map(|(phase, n)| format!("{n} {phase}"))
            .collect();
        let _ = writeln!(
            out,
            "  Services: {}",
            if phases.is_empty() {
                "none".to_owned()
            } else {
                phases.join(", ")
            }
        );
        for p in &ns.license_pools {
            let types: Vec<String> = p.by_type.iter().map(|(t, n)| format!("{t}: {n}")).collect();
            let _ = writeln!(
                out,
                "  Licence pool {} ({}): {} pooled{}",
                p.name,
                p.module,
                p.pooled,
                if types.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", types.join(", "))
                }
            );
        }
        if !ns.paused.is_empty() {
            let _ = writeln!(out, "  Paused: {}", ns.paused.join(", "));
        }
        if ns.failing.is_empty() {
            out.push_str("  Failing: nothing\n");
        } else {
            out.push_str("  Failing:\n");
            for f in &ns.failing {
                let _ = writeln!(
                    out,
                    "    {} {} {}: {}",
                    f.object, f.state, f.reason, f.message
                );
            }
        }
    }
    out
}

async fn gather(args: &Args) -> anyhow::Result<Vec<Namespace>> {
    let (client, namespace) = args.connection.connect().await?;
    let mut objects = Vec::new();
    for resource in kinds::all() {
        let api: Api<DynamicObject> = if args.all_namespaces {
            Api::all_with(client.clone(), &resource)
        } else {
            Api::namespaced_with(client.clone(), &namespace, &resource)
        };
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|e| anyhow::anyhow!("listing {}: {e}", resource.plural))?;
        objects.extend(list.items.into_iter().map(|o| (resource.clone(), o)));
    }
    let mut summaries = summarise(&objects);
    if summaries.is_empty() && !args.all_namespaces {
        summaries.push(Namespace {
            namespace,
            ..Namespace::default()
        });
    }
    Ok(summaries)
}

pub fn run(args: Args) -> ExitCode {
    super::super::report_command(
        "status",
        args.output,
        gather(&args),
        |report| render(report),
        |report| u8::from(report.iter().any(|ns| !ns.failing.is_empty())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(kind: &str, ns: &str, name: &str, body: Value) -> (ApiResource, DynamicObject) {
        let resource = kinds::resolve(kind).unwrap();
        let mut object = DynamicObject::new(name, &resource).within(ns);
        object.data = body;
        (resource, object)
    }

    fn conditions(list: Value) -> Value {
        json!({ "status": { "conditions": list } })
    }

    #[test]
    fn failing_means_stalled_retrying_or_not_ready_without_progress() {
        let stalled = conditions(json!([
            {"type": "Ready", "status": "False", "reason": "AccountExists", "message": "m"},
            {"type": "Stalled", "status": "True", "reason": "AccountExists", "message": "taken"}
        ]));
        assert_eq!(failing(&stalled).unwrap().0, "Stalled");
        let mut retrying = conditions(json!([
            {"type": "Ready", "status": "False", "reason": "PanelError"},
            {"type": "Reconciling", "status": "True", "reason": "PanelError"}
        ]));
        retrying["status"]["lastError"] = json!({"message": "503", "attempts": 2});
        assert_eq!(
            failing(&retrying).unwrap(),
            ("Error".into(), "PanelError".into(), "503".into())
        );
        let provisioning = conditions(json!([
            {"type": "Ready", "status": "False", "reason": "Provisioning"},
            {"type": "Reconciling", "status": "True", "reason": "Provisioning"}
        ]));
        assert_eq!(
            failing(&provisioning),
            None,
            "work in progress is not failing"
        );
        let down = conditions(
            json!([{"type": "Ready", "status": "False", "reason": "Unreachable", "message": "refused"}]),
        );
        assert_eq!(failing(&down).unwrap().0, "NotReady");
        let ready = conditions(json!([{"type": "Ready", "status": "True", "reason": "Available"}]));
        assert_eq!(failing(&ready), None);
        assert_eq!(failing(&json!({})), None, "no status yet");
    }

    #[test]
    fn a_namespace_summary_counts_phases_pools_and_failures() {
        let objects = vec![
            object(
                "pm",
                "acme",
                "isp1",
                json!({
                    "spec": {"type": "ISPmanager"},
                    "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Connected"}]}
                }),
            ),
            object("hsvc", "acme", "a", json!({"status": {"phase": "Active"}})),
            object("hsvc", "acme", "b", json!({"status": {"phase": "Active"}})),
            object(
                "hsvc",
                "acme",
                "c",
                json!({
                    "status": {"phase": "Failed", "conditions": [
                        {"type": "Stalled", "status": "True", "reason": "NameConflict", "message": "twin"}
                    ]}
                }),
            ),
            object("hsvc", "other", "d", json!({})),
            object(
                "lpool",
                "acme",
                "pool",
                json!({
                    "spec": {"licensingModuleRef": {"name": "lic1"}},
                    "status": {"pooled": 3, "counts": [{"licenseType": "3541", "count": 3}]}
                }),
            ),
        ];
        let mut paused = objects.clone();
        paused[1].1.metadata.annotations =
            Some([(PAUSED_ANNOTATION.to_owned(), "true".to_owned())].into());
        let summary = summarise(&paused);
        assert_eq!(summary.len(), 2);
        let acme = &summary[0];
        assert_eq!(acme.namespace, "acme");
        assert_eq!(acme.modules[0].reason, "Connected");
        assert_eq!(
            acme.services_by_phase,
            BTreeMap::from([("Active".into(), 2), ("Failed".into(), 1)])
        );
        assert_eq!(
            acme.license_pools[0].by_type,
            BTreeMap::from([("3541".into(), 3)])
        );
        assert_eq!(acme.paused, ["hsvc/a"]);
        assert_eq!(acme.failing.len(), 1);
        assert_eq!(acme.failing[0].object, "hsvc/c");
        assert_eq!(
            summary[1].services_by_phase,
            BTreeMap::from([("Unknown".into(), 1)])
        );

        let text = render(&summary);
        assert!(text.contains("Namespace acme"), "{text}");
        assert!(text.contains("Services: 2 Active, 1 Failed"), "{text}");
        assert!(
            text.contains("Licence pool pool (lic1): 3 pooled (3541: 3)"),
            "{text}"
        );
        assert!(text.contains("hsvc/c Stalled NameConflict: twin"), "{text}");
        assert!(text.contains("Paused: hsvc/a"), "{text}");
    }
}
