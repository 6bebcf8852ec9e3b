//! The printer columns every kind shares: `Synced` and the Ready condition's `Reason` right
//! after each kind's `Ready` column, so `kubectl get` reads READY, SYNCED, REASON for every kind
//! (as Crossplane's kinds do) while each kind keeps its own columns and `Age` last. Added here,
//! once, rather than repeated in six derive attributes.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition,
};

fn condition_column(name: &str, condition: &str, field: &str) -> CustomResourceColumnDefinition {
    CustomResourceColumnDefinition {
        name: name.to_owned(),
        type_: "string".to_owned(),
        json_path: format!(r#".status.conditions[?(@.type=="{condition}")].{field}"#),
        ..Default::default()
    }
}

/// Inserts `Synced` and `Reason` after `Ready` (each only when the kind lacks it).
pub(super) fn with_condition_columns(
    mut crd: CustomResourceDefinition,
) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        let Some(columns) = version.additional_printer_columns.as_mut() else {
            continue;
        };
        let Some(ready) = columns.iter().position(|c| c.name == "Ready") else {
            continue;
        };
        let mut at = ready + 1;
        for (name, condition, field) in [
            ("Synced", "Synced", "status"),
            ("Reason", "Ready", "reason"),
        ] {
            if let Some(existing) = columns.iter().position(|c| c.name == name) {
                let column = columns.remove(existing);
                let at_now = if existing < at { at - 1 } else { at };
                columns.insert(at_now, column);
                at = at_now + 1;
            } else {
                columns.insert(at, condition_column(name, condition, field));
                at += 1;
            }
        }
    }
    crd
}
