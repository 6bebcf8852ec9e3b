//! The Helm chart (`charts/hostplane`) with the real helm: lint, rendering with the default
//! values and with each switch, the CRDs it installs against `crds/`, values the schema must
//! refuse, and `helm install` / `uninstall` against the local API server. What its RBAC grants
//! is proven by use in `tests/rbac.rs`.

mod support;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use support::helm::{self, NAMESPACE, RELEASE, of_kind, one, template};
use support::*;

fn deployment(objects: &[Value]) -> &Value {
    one(objects, "Deployment")
}

fn container(objects: &[Value]) -> &Value {
    &deployment(objects)["spec"]["template"]["spec"]["containers"][0]
}

fn args(objects: &[Value]) -> Vec<String> {
    container(objects)["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_owned())
        .collect()
}

/// The value of `--flag=value` among the controller's arguments.
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let prefix = format!("--{name}=");
    args.iter().find_map(|a| a.strip_prefix(&prefix))
}

/// The rendered objects of the controller; the webhook's are checked on their own.
fn controller_objects(args: &[&str]) -> Vec<Value> {
    template(args)
        .into_iter()
        .filter(|o| o["metadata"]["labels"]["app.kubernetes.io/component"] != "webhook")
        .collect()
}

/// Kind/namespace/name of every object, to compare what switches add and remove.
fn inventory(objects: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = objects
        .iter()
        .map(|o| {
            format!(
                "{}/{}/{}",
                o["kind"].as_str().unwrap_or_default(),
                o["metadata"]["namespace"].as_str().unwrap_or_default(),
                o["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    names.sort();
    names
}

#[test]
fn lint_is_strictly_clean_with_the_defaults_and_every_switch() {
    for set in [
        &[][..],
        &["--set", "crds.enabled=false"],
        &["--set", "namespaces={acme-hosting}"],
        &["--set", "namespaces={acme-hosting,acme-resale}"],
        &["--set", "controller.leaderElection.enabled=false"],
        &["--set", "metrics.serviceMonitor.enabled=true"],
        &["--set", "networkPolicy.enabled=true"],
        &["--set", "podDisruptionBudget.enabled=false"],
        &["--set", "webhook.enabled=false"],
        &["--set", "webhook.certManager.enabled=true"],
    ] {
        let out = helm::helm()
            .args(["lint", "--strict"])
            .arg(helm::chart_dir())
            .args(set)
            .output()
            .expect("run helm lint");
        assert!(
            out.status.success(),
            "helm lint --strict {}: {}{}",
            set.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_default_values_render_a_restricted_elected_controller() {
    let objects = controller_objects(&[]);
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &objects {
        *kinds.entry(o["kind"].as_str().unwrap()).or_default() += 1;
    }
    assert_eq!(
        kinds,
        BTreeMap::from([
            ("ClusterRole", 1),
            ("ClusterRoleBinding", 1),
            ("CustomResourceDefinition", 6),
            ("Deployment", 1),
            ("PodDisruptionBudget", 1),
            ("Role", 1),
            ("RoleBinding", 1),
            ("Service", 1),
            ("ServiceAccount", 1),
        ]),
        "cluster-wide RBAC, the Lease Role, CRDs, no ServiceMonitor or NetworkPolicy"
    );

    let deploy = deployment(&objects);
    assert_eq!(deploy["metadata"]["namespace"], NAMESPACE);
    assert_eq!(deploy["spec"]["replicas"], 2, "two replicas with the lease");
    assert_eq!(deploy["spec"]["strategy"]["type"], "RollingUpdate");
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], RELEASE);
    assert_eq!(
        one(&objects, "ServiceAccount")["metadata"]["name"],
        RELEASE,
        "the identity tests/rbac.rs runs the controller as"
    );

    // The image the repository's Dockerfile builds, as its non-root user.
    let c = container(&objects);
    assert_eq!(c["image"], "ghcr.io/hostplane/hostplane:0.1.0");
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("ghcr.io/hostplane/hostplane"));
    assert!(dockerfile.contains("USER 65532:65532"));
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);

    // The restricted Pod Security profile.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    assert!(c["resources"]["requests"]["memory"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());

    // `hostplane controller` with the flags its parser knows, the election in the release's
    // namespace, and probes on the port it serves health on.
    let args = args(&objects);
    assert_eq!(args[0], "controller");
    assert_eq!(flag(&args, "leader-elect"), Some("true"));
    assert_eq!(flag(&args, "lease-namespace"), Some(NAMESPACE));
    assert_eq!(flag(&args, "lease-name"), Some("hostplane-controller"));
    assert_eq!(flag(&args, "namespace"), None, "every namespace");
    assert_eq!(flag(&args, "log-format"), Some("json"));
    assert_eq!(flag(&args, "metrics-address"), Some("0.0.0.0:8080"));
    assert_eq!(c["ports"][0]["containerPort"], 8080);
    assert_eq!(c["ports"][0]["name"], "metrics");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "metrics");
    assert_eq!(
        pod["terminationGracePeriodSeconds"], 30,
        "--shutdown-grace 20s plus 10 s to hand the lease back"
    );
    // The binary accepts exactly these arguments.
    let parsed = std::process::Command::new(env!("CARGO_BIN_EXE_hostplane"))
        .args(&args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        parsed.status.success(),
        "hostplane {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&parsed.stderr)
    );

    let service = one(&objects, "Service");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "metrics");
    assert_eq!(
        service["spec"]["selector"],
        deploy["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(
        one(&objects, "PodDisruptionBudget")["spec"]["minAvailable"],
        1
    );

    let lease = one(&objects, "Role");
    assert_eq!(lease["metadata"]["namespace"], NAMESPACE);
    assert_eq!(
        lease["rules"][1]["resourceNames"],
        json!(["hostplane-controller"])
    );
}

#[test]
fn each_switch_changes_what_it_says() {
    let defaults = inventory(&controller_objects(&[]));

    // crds.enabled=false: everything but the CRDs.
    let without = controller_objects(&["--set", "crds.enabled=false"]);
    assert!(of_kind(&without, "CustomResourceDefinition").is_empty());
    assert_eq!(inventory(&without).len(), defaults.len() - 6);

    // crds.keep=false: the CRDs without the keep annotation (uninstall deletes them).
    for crd in of_kind(
        &controller_objects(&["--set", "crds.keep=false"]),
        "CustomResourceDefinition",
    ) {
        assert!(crd["metadata"]["annotations"].is_null(), "{crd}");
    }

    // A list of namespaces: a Role and a RoleBinding in each, no cluster-wide rights, the
    // controller told each of them.
    let listed = ["acme-hosting", "acme-resale"];
    let scoped = controller_objects(&["--set", "namespaces={acme-hosting,acme-resale}"]);
    assert!(of_kind(&scoped, "ClusterRole").is_empty());
    assert!(of_kind(&scoped, "ClusterRoleBinding").is_empty());
    let cluster_role = one(&controller_objects(&[]), "ClusterRole").clone();
    for ns in listed {
        let roles: Vec<_> = of_kind(&scoped, "Role")
            .into_iter()
            .filter(|r| r["metadata"]["namespace"] == ns)
            .collect();
        assert_eq!(roles.len(), 1, "one Role in {ns}");
        assert_eq!(
            roles[0]["rules"], cluster_role["rules"],
            "the same rules, namespaced"
        );
        let binding = of_kind(&scoped, "RoleBinding")
            .into_iter()
            .find(|b| b["metadata"]["namespace"] == ns)
            .unwrap_or_else(|| panic!("a RoleBinding in {ns}"));
        assert_eq!(binding["subjects"][0]["namespace"], NAMESPACE);
    }
    let told: Vec<_> = args(&scoped)
        .into_iter()
        .filter_map(|a| a.strip_prefix("--namespace=").map(str::to_owned))
        .collect();
    assert_eq!(told, listed);

    // Without leader election: one replica, Recreate, no Lease rights, the flag off, and a
    // PDB that never blocks a drain.
    let alone = controller_objects(&["--set", "controller.leaderElection.enabled=false"]);
    assert_eq!(deployment(&alone)["spec"]["replicas"], 1);
    assert_eq!(deployment(&alone)["spec"]["strategy"]["type"], "Recreate");
    assert!(of_kind(&alone, "Role").is_empty());
    assert_eq!(flag(&args(&alone), "leader-elect"), Some("false"));
    let pdb = one(&alone, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert!(pdb["spec"]["minAvailable"].is_null());

    let monitored = controller_objects(&["--set", "metrics.serviceMonitor.enabled=true"]);
    let monitor = one(&monitored, "ServiceMonitor");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(
        monitor["spec"]["selector"]["matchLabels"],
        one(&monitored, "Service")["metadata"]["labels"]
            .as_object()
            .map(|l| json!({
                "app.kubernetes.io/name": l["app.kubernetes.io/name"],
                "app.kubernetes.io/instance": l["app.kubernetes.io/instance"],
            }))
            .unwrap()
    );

    let fenced = controller_objects(&[
        "--set",
        "networkPolicy.enabled=true",
        "--set",
        "networkPolicy.apiServer.cidrs={10.0.0.1/32}",
    ]);
    let policy = one(&fenced, "NetworkPolicy");
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(policy["spec"]["ingress"][0]["ports"][0]["port"], "metrics");
    assert_eq!(
        policy["spec"]["egress"][1]["to"][0]["ipBlock"]["cidr"],
        "10.0.0.1/32"
    );

    assert!(
        of_kind(
            &controller_objects(&["--set", "podDisruptionBudget.enabled=false"]),
            "PodDisruptionBudget"
        )
        .is_empty()
    );
    assert!(
        of_kind(
            &controller_objects(&["--set", "metrics.service.enabled=false"]),
            "Service"
        )
        .is_empty()
    );

    let no_rbac = controller_objects(&["--set", "rbac.create=false"]);
    for kind in ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"] {
        assert!(of_kind(&no_rbac, kind).is_empty(), "{kind}");
    }
    let own_sa = controller_objects(&[
        "--set",
        "serviceAccount.create=false",
        "--set",
        "serviceAccount.name=provided",
    ]);
    assert!(of_kind(&own_sa, "ServiceAccount").is_empty());
    assert_eq!(
        deployment(&own_sa)["spec"]["template"]["spec"]["serviceAccountName"],
        "provided"
    );
    assert_eq!(
        one(&own_sa, "ClusterRoleBinding")["subjects"][0]["name"],
        "provided"
    );

    let days = controller_objects(&["--set", "controller.autoDeletionDays.SharedHosting=30"]);
    assert_eq!(
        flag(&args(&days), "auto-deletion-days"),
        Some("SharedHosting=30")
    );
}

/// The CRDs the chart installs are `crds/` (which `tests/validate.rs` proves is what
/// `hostplane crdgen` generates), with only the chart's labels and the keep annotation added.
#[test]
fn the_rendered_crds_are_exactly_the_generated_ones() {
    let rendered = template(&["--show-only", "templates/crds.yaml"]);
    let mut by_name: BTreeMap<String, Value> = rendered
        .into_iter()
        .map(|mut crd| {
            let meta = crd["metadata"].as_object_mut().unwrap();
            let annotations = meta.remove("annotations").expect("annotated");
            assert_eq!(annotations, json!({"helm.sh/resource-policy": "keep"}));
            let labels = meta.remove("labels").expect("labelled");
            assert_eq!(labels["app.kubernetes.io/instance"], RELEASE);
            (meta["name"].as_str().unwrap().to_owned(), crd)
        })
        .collect();
    let dir = root().join("crds");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 6);
    for file in files {
        let generated = &helm::parse_all(&std::fs::read_to_string(&file).unwrap())[0];
        let name = generated["metadata"]["name"].as_str().unwrap();
        let rendered = by_name
            .remove(name)
            .unwrap_or_else(|| panic!("the chart does not install {name}"));
        assert!(
            &rendered == generated,
            "the chart's {name} differs from {}: run `cargo run -- crdgen --out crds --out charts/hostplane/files/crds`",
            file.display()
        );
    }
    assert!(
        by_name.is_empty(),
        "the chart installs more: {:?}",
        by_name.keys()
    );
}

#[test]
fn bad_values_are_refused_with_the_field() {
    for (set, field) in [
        ("replicaCount=0", "replicaCount"),
        ("replicaCount=two", "replicaCount"),
        ("image.pullPolicy=Sometimes", "pullPolicy"),
        ("controller.logFormat=xml", "logFormat"),
        ("controller.concurrency=0", "concurrency"),
        (
            "controller.leaderElection.leaseDuration=soon",
            "leaseDuration",
        ),
        ("controller.autoDeletionDays.Hosting=30", "Hosting"),
        (
            "controller.autoDeletionDays.SharedHosting=0",
            "SharedHosting",
        ),
        ("namespaces={a,a}", "namespaces"),
        ("namespaces={Not_A_Name}", "namespaces"),
        ("metrics.port=70000", "port"),
        ("crds.enabled=maybe", "enabled"),
        ("typo=1", "typo"),
        ("controller.typo=1", "typo"),
        ("networkPolicy.apiServer.cidrs={10.0.0.1}", "cidrs"),
        ("webhook.failurePolicy=Maybe", "failurePolicy"),
        ("webhook.timeoutSeconds=60", "timeoutSeconds"),
        ("webhook.certManager.issuerRef.kind=Vault", "kind"),
    ] {
        let out = helm::template_output(&["--set", set]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{set} was accepted");
        assert!(stderr.contains(field), "{set}: {stderr}");
    }
}

/// `helm install` into the local API server stores every object (no pod runs there), the
/// CRDs become established, `helm uninstall` removes the release but keeps the CRDs.
#[test]
fn helm_install_and_uninstall_against_the_api_server() {
    let cluster = hostplane::testbed::shared();
    let started = std::time::Instant::now();
    let kubeconfig = cluster.kubeconfig_path();
    let out = helm::helm()
        .args(["install", RELEASE])
        .arg(helm::chart_dir())
        .args([
            "--namespace",
            NAMESPACE,
            "--create-namespace",
            "--kubeconfig",
        ])
        .arg(kubeconfig)
        .args([
            "--set",
            "metrics.serviceMonitor.enabled=false",
            "--timeout",
            "60s",
        ])
        .output()
        .expect("run helm install");
    assert!(
        out.status.success(),
        "helm install: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let notes = String::from_utf8_lossy(&out.stdout);
    assert!(
        notes.contains("kubectl get hosting -A"),
        "NOTES.txt: {notes}"
    );
    eprintln!("helm install took {:?}", started.elapsed());

    kubectl_ok(
        cluster,
        &[
            "wait",
            "--for=condition=established",
            "--timeout=60s",
            "crd/hostingservices.hostplane.dev",
            "crd/tariffs.hostplane.dev",
        ],
    );
    for object in [
        "deployment/hostplane",
        "serviceaccount/hostplane",
        "service/hostplane-metrics",
        "poddisruptionbudget/hostplane",
        "role/hostplane-leader-election",
        "rolebinding/hostplane-leader-election",
    ] {
        kubectl_ok(cluster, &["get", object, "-n", NAMESPACE]);
    }
    kubectl_ok(
        cluster,
        &[
            "get",
            "clusterrole/hostplane",
            "clusterrolebinding/hostplane",
        ],
    );
    let can = |verb: &str, resource: &str| {
        kubectl(
            cluster,
            &[
                "auth",
                "can-i",
                verb,
                resource,
                "-n",
                "acme",
                "--as=system:serviceaccount:hostplane-system:hostplane",
            ],
        )
        .status
        .success()
    };
    assert!(can("patch", "hostingservices.hostplane.dev/status"));
    assert!(can("watch", "secrets"));
    assert!(!can("delete", "secrets"), "never deletes a Secret");
    assert!(!can("create", "hostingservices.hostplane.dev"));
    assert!(!can("delete", "hostingservices.hostplane.dev"));

    let out = helm::helm()
        .args([
            "uninstall",
            RELEASE,
            "--namespace",
            NAMESPACE,
            "--kubeconfig",
        ])
        .arg(kubeconfig)
        .output()
        .expect("run helm uninstall");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !kubectl(cluster, &["get", "deployment/hostplane", "-n", NAMESPACE])
            .status
            .success()
    );
    kubectl_ok(cluster, &["get", "crd/hostingservices.hostplane.dev"]);
}

/// The webhook's object of `kind` (named `<release>-webhook`).
fn webhook_object<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let name = format!("{RELEASE}-webhook");
    of_kind(objects, kind)
        .into_iter()
        .find(|o| o["metadata"]["name"] == name.as_str())
        .unwrap_or_else(|| panic!("the webhook's {kind}"))
}

fn decoded(secret: &Value, key: &str) -> Vec<u8> {
    use base64::Engine as _;
    let text = secret["data"][key].as_str().expect("a data key");
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

#[test]
fn the_webhook_is_registered_for_creates_and_spec_edits_with_a_certificate_it_serves() {
    let objects = template(&[]);
    let registration = one(&objects, "ValidatingWebhookConfiguration");
    let hook = &registration["webhooks"][0];
    assert_eq!(hook["failurePolicy"], "Fail");
    assert_eq!(hook["sideEffects"], "None");
    assert_eq!(hook["admissionReviewVersions"], json!(["v1"]));
    let rule = &hook["rules"][0];
    assert_eq!(
        rule["operations"],
        json!(["CREATE", "UPDATE"]),
        "a deletion never waits for the webhook"
    );
    let resources = rule["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 6, "every kind: {resources:?}");
    assert!(
        resources.iter().all(|r| !r.as_str().unwrap().contains('/')),
        "no subresource: the controller's status writes are never checked"
    );
    let service = webhook_object(&objects, "Service");
    let client = &hook["clientConfig"]["service"];
    assert_eq!(client["name"], service["metadata"]["name"]);
    assert_eq!(client["namespace"], NAMESPACE);
    assert_eq!(client["path"], "/validate");
    assert_eq!(service["spec"]["ports"][0]["port"], 443);

    // The pod serves the Secret's pair; the registration trusts the Secret's CA; the pair is
    // valid for the Service's name.
    let deploy = webhook_object(&objects, "Deployment");
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["containers"][0]["args"][0], "webhook");
    let secret = one(&objects, "Secret");
    assert_eq!(
        pod["volumes"][0]["secret"]["secretName"],
        secret["metadata"]["name"]
    );
    assert_eq!(
        hook["clientConfig"]["caBundle"], secret["data"]["ca.crt"],
        "caBundle is the CA of the served certificate"
    );
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    let crt = dir.path().join("tls.crt");
    std::fs::write(&ca, decoded(secret, "ca.crt")).unwrap();
    std::fs::write(&crt, decoded(secret, "tls.crt")).unwrap();
    let host = format!("{RELEASE}-webhook.{NAMESPACE}.svc");
    let verify = std::process::Command::new("openssl")
        .args(["verify", "-verify_hostname", &host, "-CAfile"])
        .arg(&ca)
        .arg(&crt)
        .output()
        .expect("run openssl verify");
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    // Its own identity, allowed to list services and nothing else.
    assert_eq!(pod["serviceAccountName"], format!("{RELEASE}-webhook"));
    let role = webhook_object(&objects, "ClusterRole");
    assert_eq!(
        role["rules"],
        json!([{"apiGroups": ["hostplane.dev"], "resources": ["hostingservices"], "verbs": ["list"]}])
    );
    assert_eq!(
        pod["securityContext"]["runAsNonRoot"], true,
        "the same restricted profile as the controller"
    );

    // cert-manager issues the pair and injects the CA; helm makes none.
    let managed = template(&["--set", "webhook.certManager.enabled=true"]);
    assert!(of_kind(&managed, "Secret").is_empty());
    assert_eq!(
        of_kind(&managed, "Certificate").len(),
        2,
        "a CA and the serving pair"
    );
    let registration = one(&managed, "ValidatingWebhookConfiguration");
    assert_eq!(
        registration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        format!("{NAMESPACE}/{RELEASE}-webhook")
    );
    assert!(registration["webhooks"][0]["clientConfig"]["caBundle"].is_null());

    // A list of namespaces: only their objects are checked, and the webhook lists only there.
    let scoped = template(&["--set", "namespaces={acme-hosting,acme-resale}"]);
    let hook = &one(&scoped, "ValidatingWebhookConfiguration")["webhooks"][0];
    assert_eq!(
        hook["namespaceSelector"]["matchExpressions"],
        serde_json::json!([{
            "key": "kubernetes.io/metadata.name",
            "operator": "In",
            "values": ["acme-hosting", "acme-resale"],
        }])
    );
    let role_namespaces: Vec<_> = of_kind(&scoped, "Role")
        .into_iter()
        .filter(|r| r["metadata"]["name"] == format!("{RELEASE}-webhook").as_str())
        .map(|r| r["metadata"]["namespace"].clone())
        .collect();
    assert_eq!(role_namespaces, ["acme-hosting", "acme-resale"]);

    let off = template(&["--set", "webhook.enabled=false"]);
    assert!(of_kind(&off, "ValidatingWebhookConfiguration").is_empty());
    assert_eq!(of_kind(&off, "Deployment").len(), 1);
}
