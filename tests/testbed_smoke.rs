//! Proves the local API server test bed works end to end: a kube client and kubectl both
//! talk to it with the generated kubeconfig, and CRDs can be created (the v1.20 reflect2
//! crash on Debian's Go would show up here first).

use std::process::Output;

use hostplane::testbed;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

fn assert_ok(what: &str, out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn client_and_kubectl_reach_the_cluster() {
    let cluster = testbed::shared();
    let client = cluster.client().await.expect("kube client");
    let namespaces: Api<Namespace> = Api::all(client);
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some("testbed-smoke".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
    let listed = namespaces
        .list(&Default::default())
        .await
        .expect("list namespaces");
    assert!(
        listed
            .items
            .iter()
            .any(|n| n.metadata.name.as_deref() == Some("testbed-smoke"))
    );

    let out = cluster
        .kubectl()
        .args(["get", "namespaces", "-o", "name"])
        .output()
        .unwrap();
    let stdout = assert_ok("kubectl get namespaces", out);
    assert!(
        stdout.contains("namespace/testbed-smoke"),
        "kubectl output:\n{stdout}"
    );
}

#[test]
fn kubectl_applies_a_crd() {
    let cluster = testbed::shared();
    let crd = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.smoke.example.com}
spec:
  group: smoke.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
"#;
    let path = cluster.kubeconfig_path().with_file_name("smoke-crd.yaml");
    std::fs::write(&path, crd).unwrap();
    let apply = cluster
        .kubectl()
        .arg("apply")
        .arg("-f")
        .arg(&path)
        .output()
        .unwrap();
    assert_ok("kubectl apply CRD", apply);
    let wait = [
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/widgets.smoke.example.com",
    ];
    assert_ok(
        "kubectl wait CRD",
        cluster.kubectl().args(wait).output().unwrap(),
    );
    let widget = "apiVersion: smoke.example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: default}\nspec: {size: 3}\n";
    let wpath = path.with_file_name("smoke-widget.yaml");
    std::fs::write(&wpath, widget).unwrap();
    // `default` is created by a bootstrap controller shortly after readiness; retry briefly.
    let mut last = None;
    for _ in 0..40 {
        let out = cluster
            .kubectl()
            .arg("apply")
            .arg("-f")
            .arg(&wpath)
            .output()
            .unwrap();
        if out.status.success() {
            last = None;
            break;
        }
        last = Some(out);
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    if let Some(out) = last {
        assert_ok("kubectl apply Widget", out);
    }
    let got = cluster
        .kubectl()
        .args(["get", "widgets", "-n", "default", "-o", "name"])
        .output()
        .unwrap();
    assert!(assert_ok("kubectl get widgets", got).contains("w1"));
}
