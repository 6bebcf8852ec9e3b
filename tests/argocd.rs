//! The Argo CD health checks (`deploy/argocd/`): `health.lua` run by Lua 5.1 (what Argo CD
//! embeds) against a status object of every phase and kind, and the `argocd-cm` patch carrying
//! exactly that script for every hostplane kind. No lua5.1 is a failure (scripts/test.sh
//! installs it), never a skip.

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::root;

fn script() -> String {
    std::fs::read_to_string(root().join("deploy/argocd/health.lua")).unwrap()
}

/// A JSON value as a Lua 5.1 table constructor.
fn lua(value: &Value) -> String {
    match value {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!(
            "{{{}}}",
            items.iter().map(lua).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("[{k:?}] = {}", lua(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Runs the health script on `object` as Argo CD does (the object in the global `obj`, the
/// script's returned table read); returns (status, message).
fn health(object: &Value) -> (String, String) {
    let program = format!(
        "obj = {}\nlocal hs = (function()\n{}\nend)()\nio.write(hs.status, \"\\n\", hs.message)\n",
        lua(object),
        script()
    );
    let out = Command::new("lua5.1")
        .arg("-e")
        .arg(&program)
        .output()
        .expect("lua5.1 (scripts/test.sh installs it: apt-get install lua5.1)");
    assert!(
        out.status.success(),
        "lua5.1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (status, message) = text.split_once('\n').unwrap();
    (status.to_owned(), message.to_owned())
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message})
}

fn service(generation: i64, status: Value) -> Value {
    json!({
        "apiVersion": "hostplane.dev/v1alpha1",
        "kind": "HostingService",
        "metadata": {"name": "web", "namespace": "acme", "generation": generation},
        "status": status,
    })
}

#[test]
fn every_phase_has_its_argo_cd_health() {
    let provisioning = service(
        2,
        json!({"observedGeneration": 2, "phase": "Provisioning", "conditions": [
            condition("Ready", "False", "Provisioning", "the server is installing"),
            condition("Reconciling", "True", "Provisioning", "the server is installing"),
        ]}),
    );
    let active = service(
        2,
        json!({"observedGeneration": 2, "phase": "Active", "conditions": [
            condition("Ready", "True", "Available", "account u1 on isp1"),
            condition("Synced", "True", "ReconcileSuccess", ""),
        ]}),
    );
    let stale = service(3, active["status"].clone());
    let retrying = service(
        2,
        json!({"observedGeneration": 2, "phase": "Provisioning", "lastError": {"message": "503", "attempts": 2},
               "conditions": [
            condition("Ready", "False", "PanelError", "503"),
            condition("Reconciling", "True", "PanelError", "retrying"),
        ]}),
    );
    let stalled = service(
        2,
        json!({"observedGeneration": 2, "phase": "Failed", "conditions": [
            condition("Ready", "False", "AccountExists", "u1 exists"),
            condition("Stalled", "True", "AccountExists", "u1 exists at the panel"),
        ]}),
    );
    let suspended = service(
        2,
        json!({"observedGeneration": 2, "phase": "Suspended", "conditions": [
            condition("Ready", "True", "Suspended", "not paid"),
        ]}),
    );
    let mut paused = active.clone();
    paused["metadata"]["annotations"] = json!({"hostplane.dev/paused": "true"});
    let terminated = service(
        2,
        json!({"observedGeneration": 2, "phase": "Terminated", "conditions": [
            condition("Ready", "True", "Terminated", "deleted after the auto-deletion period"),
        ]}),
    );
    let pending = json!({"kind": "HostingService", "metadata": {"name": "web", "generation": 1}});
    let unreachable = json!({
        "kind": "ProcessingModule",
        "metadata": {"name": "isp1", "generation": 1},
        "status": {"observedGeneration": 1, "conditions": [
            condition("Ready", "False", "Unreachable", "connection refused"),
        ]},
    });
    let no_ready_yet = service(1, json!({"observedGeneration": 1, "phase": "Pending"}));

    for (what, object, status, message) in [
        (
            "no status",
            &pending,
            "Progressing",
            "Waiting for the controller",
        ),
        (
            "provisioning",
            &provisioning,
            "Progressing",
            "Provisioning: the server is installing",
        ),
        (
            "active",
            &active,
            "Healthy",
            "Available: account u1 on isp1",
        ),
        (
            "a new generation",
            &stale,
            "Progressing",
            "Waiting for the controller to observe generation 3",
        ),
        ("retrying", &retrying, "Progressing", "PanelError: retrying"),
        (
            "stalled",
            &stalled,
            "Degraded",
            "AccountExists: u1 exists at the panel",
        ),
        ("suspended", &suspended, "Suspended", "Suspended: not paid"),
        (
            "paused",
            &paused,
            "Suspended",
            "Paused (hostplane.dev/paused): no change is made at the panel",
        ),
        (
            "terminated",
            &terminated,
            "Healthy",
            "Terminated: deleted after the auto-deletion period",
        ),
        (
            "module unreachable",
            &unreachable,
            "Degraded",
            "Unreachable: connection refused",
        ),
        (
            "no Ready yet",
            &no_ready_yet,
            "Progressing",
            "Waiting for the Ready condition",
        ),
    ] {
        assert_eq!(
            health(object),
            (status.to_owned(), message.to_owned()),
            "{what}"
        );
    }
}

#[test]
fn the_argocd_cm_patch_carries_the_script_for_every_kind() {
    let text = std::fs::read_to_string(root().join("deploy/argocd/argocd-cm.yaml")).unwrap();
    let doc = &hostplane::validation::documents::split(&text)[0];
    let patch = hostplane::validation::documents::parse(doc).unwrap();
    let data = patch["data"].as_object().expect("a data map");
    let script = script();
    let kinds: Vec<String> = hostplane::api::crds()
        .into_iter()
        .map(|crd| {
            format!(
                "resource.customizations.health.{}_{}",
                crd.spec.group, crd.spec.names.kind
            )
        })
        .collect();
    assert_eq!(data.len(), kinds.len(), "one entry per kind");
    for key in kinds {
        assert_eq!(
            data[&key].as_str(),
            Some(script.as_str()),
            "{key} is health.lua"
        );
    }
}
