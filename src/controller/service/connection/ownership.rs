//! Which Secret a service may write its connection details to.
//!
//! Why a rule at all: `spec.writeConnectionSecretToRef` is a free name. Without a check a
//! service could name a processing module's credentials Secret (the customer's password would
//! replace the administrator's), another service's connection Secret, or any Secret someone
//! keeps in the namespace. So hostplane writes only to a Secret that does not exist yet (it
//! then creates it, owned by the service) or that carries this service's controller owner
//! reference (by uid, so a namesake service created later does not inherit it), and never to a
//! Secret a ProcessingModule of the namespace names as `spec.credentialsSecretRef`, whoever
//! owns it.

use std::fmt;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::runtime::reflector::Store;

use crate::api::{HostingService, ProcessingModule};

/// Why the connection Secret is not written. The service is `Stalled`/`SecretNotOwned` with
/// this text: only a person can resolve it (name another Secret, or delete the stranger).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The Secret's name.
    pub secret: String,
    /// Why, in words.
    pub why: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spec.writeConnectionSecretToRef names Secret {:?}, which {}; nothing was written to it: name a Secret of this service's own",
            self.secret, self.why
        )
    }
}

/// Whether `service` may write to the Secret `name` (currently `existing`), given the
/// processing modules of the namespace.
pub fn check(
    modules: &Store<ProcessingModule>,
    service: &HostingService,
    name: &str,
    existing: Option<&Secret>,
) -> Result<(), Refusal> {
    let ns = service.namespace().unwrap_or_default();
    let refuse = |why: String| Refusal {
        secret: name.to_owned(),
        why,
    };
    let mut holders: Vec<String> = modules
        .state()
        .iter()
        .filter(|m| {
            m.namespace().as_deref() == Some(ns.as_str())
                && m.spec.credentials_secret_ref.name == name
        })
        .map(|m| m.name_any())
        .collect();
    if !holders.is_empty() {
        holders.sort();
        return Err(refuse(format!(
            "holds the credentials of ProcessingModule {}",
            holders.join(", ")
        )));
    }
    match existing {
        None => Ok(()),
        Some(secret) if owned_by(secret, service) => Ok(()),
        Some(_) => Err(refuse(format!(
            "exists and is not owned by this service (no controller owner reference to HostingService {:?} with uid {})",
            service.name_any(),
            service.uid().unwrap_or_default()
        ))),
    }
}

/// The Secret carries `service`'s controller owner reference, matched by uid.
fn owned_by(secret: &Secret, service: &HostingService) -> bool {
    let Some(uid) = service.uid() else {
        return false;
    };
    secret
        .owner_references()
        .iter()
        .any(|o| o.uid == uid && o.controller == Some(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::LocalObjectReference;
    use crate::api::{ModuleType, ProcessingModuleSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use kube::api::ObjectMeta;
    use kube::runtime::reflector::store::Writer;
    use kube::runtime::watcher::Event;

    fn service(uid: &str) -> HostingService {
        let mut s: HostingService = serde_json::from_value(serde_json::json!({
            "apiVersion": "hostplane.dev/v1alpha1",
            "kind": "HostingService",
            "metadata": {"name": "jane-blog", "namespace": "acme", "uid": uid},
            "spec": {"tariffRef": {"name": "t"}, "clientRef": {"name": "c"},
                     "period": "1m", "startDate": "2026-01-01"}
        }))
        .expect("service");
        s.metadata.uid = Some(uid.to_owned());
        s
    }

    fn modules(entries: &[(&str, &str, &str)]) -> Store<ProcessingModule> {
        let mut writer = Writer::<ProcessingModule>::default();
        for (ns, name, secret) in entries {
            let mut m = ProcessingModule::new(
                name,
                ProcessingModuleSpec {
                    type_: ModuleType::ISPmanager,
                    url: "https://panel.example:1500/ispmgr".into(),
                    credentials_secret_ref: LocalObjectReference::new(*secret),
                    tls: None,
                    priority: 1,
                    limits: Default::default(),
                    ispmanager: None,
                    vmmanager: None,
                    licensing: None,
                    unknown_outcome_quiet_seconds: 180,
                    timeouts: Default::default(),
                },
            );
            m.metadata.namespace = Some((*ns).to_owned());
            writer.apply_watcher_event(&Event::Apply(m));
        }
        writer.as_reader()
    }

    fn secret(owner_uid: Option<(&str, bool)>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("jane-blog-connection".into()),
                owner_references: owner_uid.map(|(uid, controller)| {
                    vec![OwnerReference {
                        api_version: "hostplane.dev/v1alpha1".into(),
                        kind: "HostingService".into(),
                        name: "jane-blog".into(),
                        uid: uid.into(),
                        controller: Some(controller),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_new_or_own_secret_is_allowed() {
        let svc = service("uid-1");
        let none = modules(&[]);
        assert_eq!(check(&none, &svc, "jane-blog-connection", None), Ok(()));
        let own = secret(Some(("uid-1", true)));
        assert_eq!(
            check(&none, &svc, "jane-blog-connection", Some(&own)),
            Ok(())
        );
    }

    #[test]
    fn a_stranger_a_namesake_or_a_non_controller_reference_is_refused() {
        let svc = service("uid-1");
        let none = modules(&[]);
        for other in [
            secret(None),
            secret(Some(("uid-of-an-earlier-jane-blog", true))),
            secret(Some(("uid-1", false))),
        ] {
            let refused = check(&none, &svc, "jane-blog-connection", Some(&other)).unwrap_err();
            assert!(refused.why.contains("not owned"), "{refused}");
            assert!(refused.to_string().contains("\"jane-blog-connection\""));
        }
    }

    #[test]
    fn a_module_credentials_secret_is_refused_even_when_owned_or_absent() {
        let svc = service("uid-1");
        let mods = modules(&[("acme", "isp-1", "isp-creds"), ("other", "isp-9", "mine")]);
        let refused = check(&mods, &svc, "isp-creds", None).unwrap_err();
        assert!(refused.why.contains("ProcessingModule isp-1"), "{refused}");
        let own = secret(Some(("uid-1", true)));
        assert!(check(&mods, &svc, "isp-creds", Some(&own)).is_err());
        // A module of another namespace cannot name a Secret here.
        assert_eq!(check(&mods, &svc, "mine", None), Ok(()));
    }
}
