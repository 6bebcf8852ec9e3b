//! The objects the bench applies: module, tariff, client, services.

use super::*;

pub(super) fn today() -> String {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

/// A module on the simulator, its credentials, a tariff that is its own name server, a
/// client: the shape of `tests/controller_hosting.rs`.
pub(super) fn base_yaml(sim: &SimHandle) -> String {
    format!(
        r#"
apiVersion: v1
kind: Secret
metadata: {{name: isp-credentials}}
stringData: {{username: {ADMIN}, password: {PASSWORD}}}
---
apiVersion: hostplane.dev/v1alpha1
kind: ProcessingModule
metadata: {{name: isp1}}
spec:
  type: ISPmanager
  url: {url}
  credentialsSecretRef: {{name: isp-credentials}}
  limits: {{maxConcurrentOperations: {MODULE_CONCURRENCY}, requestsPerSecond: {MODULE_RPS}, burst: {MODULE_RPS}}}
---
apiVersion: hostplane.dev/v1alpha1
kind: Tariff
metadata: {{name: start}}
spec:
  productType: SharedHosting
  processingModules: [{{name: isp1}}]
  prices: {{1m: "3.00", 1y: "30.00"}}
  resources:
    - {{name: diskSpace, included: 1024, min: 1024, max: 10240, step: 1024, monthlyPrice: "0.50"}}
    - {{name: traffic, included: 5, min: 5, max: 50, step: 5, monthlyPrice: "1.00"}}
  hosting:
    accountTemplate: basic
    usernameTemplate: u@ID@
    defaultDomainTemplate: "@ID@.hosting.example"
    nameServer:
      processingModuleRef: {{name: isp1}}
---
apiVersion: hostplane.dev/v1alpha1
kind: Client
metadata: {{name: jane}}
spec: {{displayName: Jane Doe, email: jane@example.org}}
"#,
        url = sim.url("/ispmgr"),
    )
}

pub(super) fn service_name(i: usize) -> String {
    format!("s{i:05}")
}

pub(super) fn service(
    i: usize,
    today: &str,
    connection_secret: bool,
) -> anyhow::Result<HostingService> {
    let name = service_name(i);
    let mut spec = json!({
        "tariffRef": {"name": "start"},
        "clientRef": {"name": "jane"},
        "period": "1y",
        "startDate": today,
    });
    if connection_secret {
        spec["writeConnectionSecretToRef"] = json!({"name": format!("{name}-login")});
    }
    serde_json::from_value(json!({
        "apiVersion": "hostplane.dev/v1alpha1",
        "kind": "HostingService",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .context("building a HostingService")
}

/// `(status, reason)` of the Ready condition in a status.
pub(super) fn ready_condition(status: &Value) -> Option<(String, String)> {
    let ready = status
        .get("conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type") == Some(&Value::from("Ready")))?;
    let text = |k: &str| {
        ready
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    Some((text("status"), text("reason")))
}

pub(super) fn is_ready(s: &HostingService) -> bool {
    s.status.as_ref().is_some_and(|st| {
        st.common
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == ConditionStatus::True)
    })
}

/// Not-ready services by their Ready reason, for a timeout message.
pub(super) fn not_ready_reasons(list: &[HostingService]) -> String {
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut example: BTreeMap<String, String> = BTreeMap::new();
    for s in list.iter().filter(|s| !is_ready(s)) {
        let (reason, message) = s
            .status
            .as_ref()
            .and_then(|st| st.common.conditions.iter().find(|c| c.type_ == "Ready"))
            .map(|c| (format!("{:?}/{}", c.status, c.reason), c.message.clone()))
            .unwrap_or_else(|| ("no status yet".into(), String::new()));
        *reasons.entry(reason.clone()).or_default() += 1;
        example.entry(reason).or_insert_with(|| {
            if message.is_empty() {
                s.name_any()
            } else {
                format!("{}: {message}", s.name_any())
            }
        });
    }
    reasons
        .iter()
        .map(|(r, n)| format!("\n  {n} × Ready={r} (e.g. {})", example[r]))
        .collect()
}
