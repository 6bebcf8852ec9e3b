//! From a parsed document to a typed object: header checks (apiVersion, kind, metadata.name),
//! then strict deserialization of hostplane kinds (unknown fields are errors, money must be a
//! string, enums must be known values), with the failing field's path.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::FieldProblem;
use crate::api::{
    self, Client, HostingService, LicensePool, ProcessingModule, ServerPool, Tariff, patterns,
};

/// The identity of a document, read leniently so that even a broken one can be named.
#[derive(Clone, Debug, Default)]
pub struct Header {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: String,
}

/// A decoded object of the set.
#[derive(Debug)]
pub enum Object {
    /// Boxed, like the tariff and the service, so that the enum stays small for the
    /// clients, pools and unknown documents that make up most of a manifest set.
    ProcessingModule(Box<ProcessingModule>),
    /// Boxed: a tariff is several times larger than the other kinds.
    Tariff(Box<Tariff>),
    Client(Client),
    HostingService(Box<HostingService>),
    LicensePool(LicensePool),
    ServerPool(ServerPool),
    /// A core Secret: only the names of its keys are kept (never the values).
    Secret {
        keys: BTreeSet<String>,
    },
    /// Any other Kubernetes object: accepted and not checked further.
    Other,
}

/// Fields a hostplane object may have at its top level.
const TOP_LEVEL_FIELDS: [&str; 5] = ["apiVersion", "kind", "metadata", "spec", "status"];

/// Reads the header of a document.
pub fn header(value: &Value, default_namespace: &str) -> Header {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let metadata = value.get("metadata");
    Header {
        api_version: text(value.get("apiVersion")),
        kind: text(value.get("kind")),
        name: text(metadata.and_then(|m| m.get("name"))),
        namespace: text(metadata.and_then(|m| m.get("namespace")))
            .unwrap_or_else(|| default_namespace.to_owned()),
    }
}

/// Decodes a document whose header was read by [`header`].
pub fn decode(value: &Value, header: &Header) -> Result<Object, Vec<FieldProblem>> {
    let Some(map) = value.as_object() else {
        return Err(vec![FieldProblem::root(
            "a document must be a mapping with apiVersion, kind and metadata",
        )]);
    };
    let mut problems = Vec::new();
    let (Some(api_version), Some(kind)) = (&header.api_version, &header.kind) else {
        for field in ["apiVersion", "kind"] {
            if !map.get(field).is_some_and(Value::is_string) {
                problems.push(FieldProblem::at(field, "is required and must be a string"));
            }
        }
        return Err(problems);
    };
    match &header.name {
        None => problems.push(FieldProblem::at("metadata.name", "is required")),
        Some(name) if name.len() > 253 || !patterns::NAME_RE.is_match(name) => {
            problems.push(FieldProblem::at(
                "metadata.name",
                format!(
                    "{name:?} {}",
                    patterns::describe(patterns::NAME_RE.as_str()).unwrap_or_default()
                ),
            ))
        }
        Some(_) => {}
    }
    if !patterns::NAMESPACE_RE.is_match(&header.namespace) {
        let what = patterns::describe(patterns::NAMESPACE_RE.as_str()).expect("described");
        problems.push(FieldProblem::at("metadata.namespace", what));
    }

    let object = if let Some(version) = api_version.strip_prefix(concat!("hostplane.dev", "/")) {
        if version != api::VERSION {
            problems.push(FieldProblem::at(
                "apiVersion",
                format!(
                    "hostplane.dev serves {} only, not {version:?}",
                    api::VERSION
                ),
            ));
            return Err(problems);
        }
        for key in map
            .keys()
            .filter(|k| !TOP_LEVEL_FIELDS.contains(&k.as_str()))
        {
            problems.push(FieldProblem::at(key, "unknown field (a hostplane object has apiVersion, kind, metadata, spec and status)"));
        }
        if !map.contains_key("spec") {
            problems.push(FieldProblem::at("spec", "is required"));
            return Err(problems);
        }
        let typed = match kind.as_str() {
            "ProcessingModule" => typed(value).map(|m| Object::ProcessingModule(Box::new(m))),
            "Tariff" => typed(value).map(|t| Object::Tariff(Box::new(t))),
            "Client" => typed(value).map(Object::Client),
            "HostingService" => typed(value).map(|s| Object::HostingService(Box::new(s))),
            "LicensePool" => typed(value).map(Object::LicensePool),
            "ServerPool" => typed(value).map(Object::ServerPool),
            other => Err(FieldProblem::at(
                "kind",
                format!(
                    "unknown kind {other:?} in hostplane.dev; the kinds are {}",
                    api::KINDS.join(", ")
                ),
            )),
        };
        match typed {
            Ok(object) => object,
            Err(problem) => {
                problems.push(problem);
                return Err(problems);
            }
        }
    } else if api_version == "v1" && kind == "Secret" {
        let keys = ["data", "stringData"]
            .iter()
            .filter_map(|f| map.get(*f).and_then(Value::as_object))
            .flat_map(|m| m.keys().cloned())
            .collect();
        Object::Secret { keys }
    } else {
        Object::Other
    };
    if problems.is_empty() {
        Ok(object)
    } else {
        Err(problems)
    }
}

/// Strict typed deserialization with the path of the first failing field.
fn typed<T: DeserializeOwned>(value: &Value) -> Result<T, FieldProblem> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        field_error(if path == "." { "" } else { &path }, &message)
    })
}

/// Turns serde's wording into a field path and a plain reason: a missing or unknown field is
/// named in the path itself rather than buried in the message.
fn field_error(path: &str, message: &str) -> FieldProblem {
    let join = |field: &str| {
        if path.is_empty() {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return FieldProblem::at(join(field), "is required");
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let mut parts = rest.splitn(2, '`');
        let field = parts.next().unwrap_or_default();
        let expected = parts.next().unwrap_or_default().trim_start_matches(", ");
        // serde_path_to_error already ends the path with the unknown field.
        let at = if path.rsplit('.').next() == Some(field) {
            path.to_owned()
        } else {
            join(field)
        };
        return FieldProblem::at(at, format!("unknown field; {expected}"));
    }
    FieldProblem::at(path, message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> Vec<FieldProblem> {
        let value: Value = serde_saphyr::from_str(yaml).unwrap();
        decode(&value, &header(&value, "default")).unwrap_err()
    }

    #[test]
    fn unknown_and_missing_fields_are_named_in_the_path() {
        let p = problems(
            "apiVersion: hostplane.dev/v1alpha1\nkind: Client\nmetadata: {name: a}\nspec: {displayName: A, email: a@example.com, colour: red}\n",
        );
        assert_eq!(p[0].field.as_deref(), Some("spec.colour"), "{p:?}");
        assert!(p[0].reason.starts_with("unknown field"), "{p:?}");
        let p = problems(
            "apiVersion: hostplane.dev/v1alpha1\nkind: Client\nmetadata: {name: a}\nspec: {displayName: A}\n",
        );
        assert_eq!(
            (p[0].field.as_deref(), p[0].reason.as_str()),
            (Some("spec.email"), "is required")
        );
    }

    #[test]
    fn money_must_be_a_string() {
        let p = problems(
            "apiVersion: hostplane.dev/v1alpha1\nkind: Tariff\nmetadata: {name: t}\nspec:\n  productType: SoftwareLicense\n  processingModules: [{name: lic}]\n  prices: {1m: 5.00}\n",
        );
        assert_eq!(p[0].field.as_deref(), Some("spec.prices.1m"), "{p:?}");
        assert!(p[0].reason.contains("quoted decimal string"), "{p:?}");
    }

    #[test]
    fn wrong_version_unknown_kind_and_bad_names_are_reported() {
        let p =
            problems("apiVersion: hostplane.dev/v1\nkind: Client\nmetadata: {name: a}\nspec: {}\n");
        assert_eq!(p[0].field.as_deref(), Some("apiVersion"));
        let p = problems(
            "apiVersion: hostplane.dev/v1alpha1\nkind: Reseller\nmetadata: {name: a}\nspec: {}\n",
        );
        assert!(p[0].reason.contains("unknown kind \"Reseller\""), "{p:?}");
        let p = problems(
            "apiVersion: hostplane.dev/v1alpha1\nkind: Client\nmetadata: {name: Bad_Name}\nspec: {displayName: A, email: a@example.com}\n",
        );
        assert_eq!(p[0].field.as_deref(), Some("metadata.name"));
    }

    #[test]
    fn secrets_keep_key_names_only() {
        let value: Value = serde_saphyr::from_str("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {username: u, password: p}\n").unwrap();
        match decode(&value, &header(&value, "default")).unwrap() {
            Object::Secret { keys } => assert_eq!(
                keys.into_iter().collect::<Vec<_>>(),
                ["password", "username"]
            ),
            other => panic!("{other:?}"),
        }
    }
}
