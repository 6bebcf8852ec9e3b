//! The generated CRDs are complete enough for `kubectl explain` and `kubectl get`: every field
//! at every depth has a description, and every kind has its short name, the `hosting`
//! category, a status subresource and printer columns.

use hostplane::api;
use serde_json::Value;

/// Collects the paths of properties that lack a description; returns how many it saw.
fn undocumented(schema: &Value, path: &str, out: &mut Vec<String>) -> usize {
    let mut seen = 0;
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            seen += 1;
            let here = format!("{path}.{name}");
            let described = prop
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| !d.trim().is_empty());
            // metadata is Kubernetes' own; apiVersion and kind are described by kube.
            if !described && !matches!(here.as_str(), ".metadata") {
                out.push(here.clone());
            }
            seen += undocumented(prop, &here, out);
        }
    }
    if let Some(items) = schema.get("items") {
        seen += undocumented(items, &format!("{path}[]"), out);
    }
    seen
}

#[test]
fn every_field_of_every_kind_has_a_description() {
    let mut total = 0;
    for crd in api::crds() {
        let version = &crd.spec.versions[0];
        let schema = serde_json::to_value(
            version
                .schema
                .as_ref()
                .unwrap()
                .open_api_v3_schema
                .as_ref()
                .unwrap(),
        )
        .unwrap();
        let mut missing = Vec::new();
        total += undocumented(&schema, "", &mut missing);
        assert!(
            missing.is_empty(),
            "{}: fields without a description: {missing:#?}",
            crd.spec.names.kind
        );
    }
    assert!(total > 200, "the walk saw only {total} properties");
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
