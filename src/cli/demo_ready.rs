//! Waiting for the demo's services: every HostingService of the namespace must report
//! `Ready=True`. When the time is up the demo names each service that is not and why (its
//! Ready and Stalled conditions as the controller wrote them), rather than printing a table
//! that looks fine at a glance while a service is stuck.

use std::fmt;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::testbed::LocalCluster;

/// The services that were not Ready when the wait ended, one line each.
#[derive(Debug)]
pub struct NotReady {
    pub waited: Duration,
    pub services: Vec<String>,
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not every service went Ready within {} s:",
            self.waited.as_secs()
        )?;
        for line in &self.services {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for NotReady {}

/// Polls until every HostingService in `namespace` is Ready, or fails after `timeout` with
/// [`NotReady`] naming the others.
pub fn wait(cluster: &LocalCluster, namespace: &str, timeout: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let pending = not_ready(cluster, namespace)?;
        if pending.is_empty() {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(NotReady {
                waited: timeout,
                services: pending,
            }
            .into());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// One line per service that is not Ready (empty when all are, and there is at least one).
pub fn not_ready(cluster: &LocalCluster, namespace: &str) -> anyhow::Result<Vec<String>> {
    let out = cluster
        .kubectl()
        .args(["get", "hsvc", "-n", namespace, "-o", "json"])
        .output()?;
    if !out.status.success() {
        anyhow::bail!(
            "kubectl get hsvc failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let list: Value = serde_json::from_slice(&out.stdout)?;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return Ok(vec![format!("no HostingService in namespace {namespace}")]);
    }
    Ok(items.iter().filter_map(why_not_ready).collect())
}

/// `None` when the service is Ready, else `name: why`.
fn why_not_ready(service: &Value) -> Option<String> {
    let name = service["metadata"]["name"].as_str().unwrap_or("?");
    let conditions = service["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let find = |kind: &str| conditions.iter().find(|c| c["type"] == kind).cloned();
    let ready = find("Ready");
    if ready.as_ref().is_some_and(|c| c["status"] == "True") {
        return None;
    }
    let describe = |c: &Value| {
        format!(
            "{}={} {}: {}",
            c["type"].as_str().unwrap_or("?"),
            c["status"].as_str().unwrap_or("?"),
            c["reason"].as_str().unwrap_or("-"),
            c["message"].as_str().unwrap_or("")
        )
    };
    let mut why: Vec<String> = ready.iter().map(describe).collect();
    if let Some(stalled) = find("Stalled").filter(|c| c["status"] == "True") {
        why.push(describe(&stalled));
    }
    if why.is_empty() {
        why.push("no Ready condition yet (not reconciled)".into());
    }
    let phase = service["status"]["phase"].as_str().unwrap_or("no phase");
    Some(format!("{name} ({phase}): {}", why.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_ready_service_needs_no_line_and_others_say_why() {
        let ready = json!({"metadata": {"name": "a"}, "status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "Available"}]}});
        assert_eq!(why_not_ready(&ready), None);
        let stalled = json!({"metadata": {"name": "b"}, "status": {"phase": "Pending", "conditions": [
            {"type": "Ready", "status": "False", "reason": "Stalled", "message": "recipe missing"},
            {"type": "Stalled", "status": "True", "reason": "Unknown", "message": "recipe missing"}]}});
        let line = why_not_ready(&stalled).expect("not ready");
        assert!(
            line.starts_with("b (Pending): Ready=False Stalled: recipe missing"),
            "{line}"
        );
        assert!(line.contains("Stalled=True"), "{line}");
        let fresh = json!({"metadata": {"name": "c"}});
        assert!(
            why_not_ready(&fresh)
                .expect("not ready")
                .contains("not reconciled")
        );
    }
}
