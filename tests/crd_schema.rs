//! The generated CRDs are complete enough for `kubectl explain` and `kubectl get`: every field
//! at every depth has a description, and every kind has its short name, the `hosting`
//! category, a status subresource and printer columns.

use hostplane::api;
use serde_json::Value;

/// Calls `visit(path, name, property)` for every property at every depth.
fn walk(schema: &Value, path: &str, visit: &mut dyn FnMut(&str, &str, &Value)) {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let here = format!("{path}.{name}");
            visit(&here, name, prop);
            walk(prop, &here, visit);
        }
    }
    if let Some(items) = schema.get("items") {
        walk(items, &format!("{path}[]"), visit);
    }
}

/// Each kind and its OpenAPI schema.
fn schemas() -> Vec<(String, Value)> {
    api::crds()
        .into_iter()
        .map(|crd| {
            let version = &crd.spec.versions[0];
            let schema = version.schema.as_ref().unwrap().open_api_v3_schema.as_ref();
            (
                crd.spec.names.kind.clone(),
                serde_json::to_value(schema.unwrap()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_field_of_every_kind_has_a_description() {
    let mut total = 0;
    for (kind, schema) in schemas() {
        let mut missing = Vec::new();
        walk(&schema, "", &mut |path, _, prop| {
            total += 1;
            let described = prop
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| !d.trim().is_empty());
            // metadata is Kubernetes' own; apiVersion and kind are described by kube.
            if !described && path != ".metadata" {
                missing.push(path.to_owned());
            }
        });
        assert!(
            missing.is_empty(),
            "{kind}: fields without a description: {missing:#?}"
        );
    }
    assert!(total > 200, "the walk saw only {total} properties");
}

/// kubectl, Argo CD and Flux read manifests as YAML 1.1, where a bare `on`, `off`, `yes`,
/// `no`, `y` or `n` key is a boolean: a field with such a name cannot be written naturally
/// (`{on: "2026-07-22"}` fails `kubectl apply` with `unknown field "true"`).
#[test]
fn no_field_is_named_like_a_yaml_1_1_boolean() {
    const BOOLEANS: [&str; 8] = ["y", "yes", "n", "no", "true", "false", "on", "off"];
    for (kind, schema) in schemas() {
        let mut found = Vec::new();
        walk(&schema, "", &mut |path, name, _| {
            if BOOLEANS.contains(&name.to_ascii_lowercase().as_str()) {
                found.push(path.to_owned());
            }
        });
        assert!(found.is_empty(), "{kind}: {found:?}");
    }
}

/// Defaults inside list items would make client-side `kubectl apply` re-send the list on
/// every apply (see `api::crds`); elsewhere they stay so `kubectl get` shows effective values.
#[test]
fn list_items_carry_no_server_side_defaults_but_document_them() {
    let (mut in_lists, mut elsewhere, mut documented) = (0, 0, 0);
    for mut crd in api::crds() {
        let schema = crd.spec.versions[0]
            .schema
            .as_mut()
            .unwrap()
            .open_api_v3_schema
            .as_mut()
            .unwrap();
        api::visit_schemas(schema, false, &mut |node, in_list| {
            if in_list {
                in_lists += node.default.is_some() as usize;
                documented +=
                    node.description
                        .as_deref()
                        .is_some_and(|d| d.contains("Default: `")) as usize;
            } else {
                elsewhere += node.default.is_some() as usize;
            }
        });
    }
    assert_eq!(in_lists, 0, "defaults left inside list items");
    // resources[].min, .step, .monthlyPrice and controlPanelLicense.options[].prices
    assert_eq!(documented, 4, "list-item defaults documented");
    assert!(
        elsewhere > 20,
        "defaults outside lists are kept ({elsewhere})"
    );
    let tariff = serde_json::to_string(&api::crds()[1]).unwrap();
    assert!(
        tariff.contains("Default: `1`."),
        "a resource step documents its default"
    );
}

#[test]
fn every_kind_has_short_name_category_status_and_columns() {
    let short: Vec<(String, String)> = api::crds()
        .iter()
        .map(|c| {
            (
                c.spec.names.kind.clone(),
                c.spec
                    .names
                    .short_names
                    .clone()
                    .unwrap_or_default()
                    .join(","),
            )
        })
        .collect();
    assert_eq!(
        short,
        [
            ("ProcessingModule", "pm"),
            ("Tariff", "tariff"),
            ("Client", "client"),
            ("HostingService", "hsvc"),
            ("LicensePool", "lpool"),
            ("ServerPool", "spool")
        ]
        .map(|(k, s)| (k.to_owned(), s.to_owned()))
    );
    for crd in api::crds() {
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.group, api::GROUP);
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(&["hosting".to_owned()][..])
        );
        let v = &crd.spec.versions[0];
        assert_eq!(v.name, api::VERSION);
        assert!(
            v.subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some(),
            "{}",
            crd.spec.names.kind
        );
        let columns = v.additional_printer_columns.as_deref().unwrap_or_default();
        assert!(
            columns.iter().any(|c| c.name == "Ready"),
            "{}",
            crd.spec.names.kind
        );
        assert!(
            columns.iter().any(|c| c.name == "Age"),
            "{}",
            crd.spec.names.kind
        );
    }
}

/// `kubectl get` shows, for every kind, what a person and a GitOps dashboard look for first:
/// READY, SYNCED and the Ready condition's REASON, in that order, and AGE last.
#[test]
fn every_kind_prints_ready_synced_reason_and_age() {
    for crd in api::crds() {
        let kind = crd.spec.names.kind.clone();
        let columns = crd.spec.versions[0]
            .additional_printer_columns
            .clone()
            .unwrap_or_default();
        let at = |name: &str| {
            columns
                .iter()
                .position(|c| c.name == name)
                .unwrap_or_else(|| panic!("{kind} has no {name} column"))
        };
        let (ready, synced, reason, age) = (at("Ready"), at("Synced"), at("Reason"), at("Age"));
        assert_eq!((synced, reason), (ready + 1, ready + 2), "{kind}");
        assert_eq!(age, columns.len() - 1, "{kind}: Age last");
        assert_eq!(
            columns[synced].json_path,
            r#".status.conditions[?(@.type=="Synced")].status"#
        );
        assert_eq!(
            columns[reason].json_path,
            r#".status.conditions[?(@.type=="Ready")].reason"#
        );
        assert!(columns.len() > 4, "{kind}: and what matters per kind");
    }
}
