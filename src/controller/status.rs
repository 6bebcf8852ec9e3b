//! Writing status: only what changed, as an RFC 7386 merge patch against the status the
//! controller last saw.
//!
//! Why a computed diff: the status types skip `None` fields when serialized, so a merge patch
//! of the new status alone could never clear a field (a resolved `lastError` would stay). The
//! diff sets removed keys to `null`, and an empty diff means no API write at all, which keeps
//! steady state free of writes.

use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The merge patch that turns `old` into `new`, or `None` when they are equal.
pub fn merge_diff(old: &Value, new: &Value) -> Option<Value> {
    if old == new {
        return None;
    }
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut patch = Map::new();
            for (key, old_value) in o {
                match n.get(key) {
                    None => {
                        patch.insert(key.clone(), Value::Null);
                    }
                    Some(new_value) => {
                        if let Some(d) = merge_diff(old_value, new_value) {
                            patch.insert(key.clone(), d);
                        }
                    }
                }
            }
            for (key, new_value) in n.iter().filter(|(k, _)| !o.contains_key(*k)) {
                patch.insert(key.clone(), new_value.clone());
            }
            Some(Value::Object(patch))
        }
        _ => Some(new.clone()),
    }
}

/// Patches the status subresource of `name` from `old` to `new`; returns whether it wrote.
pub async fn write<K, S>(api: &Api<K>, name: &str, old: Option<&S>, new: &S) -> kube::Result<bool>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let old = old
        .map(|s| serde_json::to_value(s).expect("status serializes"))
        .unwrap_or(Value::Null);
    let new = serde_json::to_value(new).expect("status serializes");
    let Some(diff) = merge_diff(&old, &new) else {
        return Ok(false);
    };
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "status": diff })),
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_values_need_no_patch() {
        assert_eq!(merge_diff(&json!({"a": 1}), &json!({"a": 1})), None);
    }

    #[test]
    fn removed_keys_become_null_and_lists_are_replaced() {
        let old = json!({"lastError": {"message": "x", "attempts": 2}, "services": 3, "conditions": [{"type": "Ready"}]});
        let new = json!({"services": 4, "conditions": [{"type": "Ready"}, {"type": "Synced"}]});
        assert_eq!(
            merge_diff(&old, &new),
            Some(
                json!({"lastError": null, "services": 4, "conditions": [{"type": "Ready"}, {"type": "Synced"}]})
            )
        );
    }

    #[test]
    fn nested_changes_patch_only_the_changed_leaf() {
        let old = json!({"quote": {"currency": "USD", "orderPrice": "3.00"}});
        let new = json!({"quote": {"currency": "USD", "orderPrice": "4.00"}});
        assert_eq!(
            merge_diff(&old, &new),
            Some(json!({"quote": {"orderPrice": "4.00"}}))
        );
    }

    #[test]
    fn a_first_status_is_written_whole() {
        assert_eq!(
            merge_diff(&Value::Null, &json!({"a": 1})),
            Some(json!({"a": 1}))
        );
    }
}
