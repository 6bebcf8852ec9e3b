//! The controller judges objects with the very rules `hostplane validate` applies, so that CI
//! and the cluster never disagree: the object and the related objects from the controller's
//! caches become a validation set, and only the subject's own problems are kept.

use kube::ResourceExt;

use crate::api::{Client, HostingService, LicensePool, ProcessingModule, ServerPool, Tariff};
use crate::validation::decode::{Header, Object};
use crate::validation::references::{self, RefOptions};
use crate::validation::{Entry, rules};

/// A kind the validation rules know.
pub trait Judged: ResourceExt + Clone {
    const KIND: &'static str;
    fn to_object(&self) -> Object;
}

macro_rules! judged {
    ($($kind:ident => $wrap:expr;)*) => {$(
        impl Judged for $kind {
            const KIND: &'static str = stringify!($kind);
            fn to_object(&self) -> Object {
                $wrap(self.clone())
            }
        }
    )*};
}

judged! {
    ProcessingModule => |m| Object::ProcessingModule(Box::new(m));
    Tariff => |t| Object::Tariff(Box::new(t));
    Client => Object::Client;
    HostingService => |s| Object::HostingService(Box::new(s));
    LicensePool => Object::LicensePool;
    ServerPool => Object::ServerPool;
}

/// An object of the cluster as a validation entry.
pub fn entry<K: Judged>(object: &K) -> Entry {
    Entry {
        file: "cluster".into(),
        document: 0,
        line: 0,
        header: Header {
            api_version: Some(crate::api::API_VERSION.into()),
            kind: Some(K::KIND.into()),
            name: Some(object.name_any()),
            namespace: object.namespace().unwrap_or_default(),
        },
        object: object.to_object(),
    }
}

/// The subject's problems as `field: reason` lines: its own rules, then its references
/// against `related`. Secrets are the processing module's concern, not checked here.
pub fn problems<K: Judged>(subject: &K, related: Vec<Entry>) -> Vec<String> {
    let own = entry(subject);
    // A service with a claim was admitted when ordered; a tariff edit since is not retroactive.
    let placed_order =
        matches!(&own.object, Object::HostingService(s) if super::service::created(s));
    let mut lines: Vec<String> = rules::check(&own.object)
        .into_iter()
        .map(|p| line(p.field.as_deref(), &p.reason))
        .collect();
    let mut set = vec![own];
    set.extend(related);
    let mut found = Vec::new();
    references::check(
        &set,
        &RefOptions {
            external_secrets: true,
            placed_order,
        },
        &mut found,
    );
    let name = subject.name_any();
    lines.extend(
        found
            .into_iter()
            .filter(|p| {
                p.kind.as_deref() == Some(K::KIND) && p.name.as_deref() == Some(name.as_str())
            })
            // Which Secret a service may write is decided where it is written, with the live
            // Secret at hand (`service::connection`, `Stalled`/`SecretNotOwned`): one rule and
            // one reason for a module's credentials and for any other Secret not its own.
            .filter(|p| p.field.as_deref() != Some(CONNECTION_SECRET_FIELD))
            .map(|p| line(p.field.as_deref(), &p.reason)),
    );
    lines
}

/// The field whose reference problems the controller reports as `SecretNotOwned` instead.
const CONNECTION_SECRET_FIELD: &str = "spec.writeConnectionSecretToRef";

fn line(field: Option<&str>, reason: &str) -> String {
    match field {
        Some(f) => format!("{f}: {reason}"),
        None => reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tariff(disabled: &[&str]) -> Tariff {
        serde_json::from_value(json!({
            "apiVersion": "hostplane.dev/v1alpha1", "kind": "Tariff",
            "metadata": {"name": "start", "namespace": "ns"},
            "spec": {"productType": "SharedHosting", "processingModules": [{"name": "isp"}],
                     "prices": {"1m": "3.00", "1y": "30.00"}, "disabledPeriods": disabled,
                     "hosting": {"accountTemplate": "start"}}
        }))
        .unwrap()
    }

    fn service(claimed: bool) -> HostingService {
        let annotations = if claimed {
            json!({ crate::api::EXTERNAL_NAME_ANNOTATION: "userblog" })
        } else {
            json!({})
        };
        serde_json::from_value(json!({
            "apiVersion": "hostplane.dev/v1alpha1", "kind": "HostingService",
            "metadata": {"name": "blog", "namespace": "ns", "annotations": annotations},
            "spec": {"tariffRef": {"name": "start"}, "clientRef": {"name": "jane"},
                     "period": "1m", "startDate": "2026-08-01"}
        }))
        .unwrap()
    }

    fn client() -> Client {
        serde_json::from_value(json!({
            "apiVersion": "hostplane.dev/v1alpha1", "kind": "Client",
            "metadata": {"name": "jane", "namespace": "ns"},
            "spec": {"displayName": "Jane", "email": "jane@example.org"}
        }))
        .unwrap()
    }

    #[test]
    fn a_period_disabled_after_the_order_stalls_only_a_new_order() {
        // Issue 15: a tariff edit is not retroactive. A service hostplane created (its claim
        // is written) keeps being reconciled, so it is still suspended when unpaid.
        let related = || vec![entry(&tariff(&["1m"])), entry(&client())];
        assert_eq!(problems(&service(true), related()), Vec::<String>::new());
        let new_order = problems(&service(false), related());
        assert!(
            new_order.iter().any(|p| p.starts_with("spec.period:")),
            "{new_order:?}"
        );
        assert_eq!(
            problems(&service(false), vec![entry(&tariff(&[])), entry(&client())]),
            Vec::<String>::new()
        );
    }
}
