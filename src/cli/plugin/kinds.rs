//! Names of hostplane kinds as kubectl accepts them (`hsvc`, `hostingservice`,
//! `hostingservices`, `HostingService`), read from the CRDs themselves so that a new kind or
//! short name needs no second list.

use kube::core::ApiResource;

/// The API resource a kubectl-style name denotes.
pub fn resolve(name: &str) -> Option<ApiResource> {
    let wanted = name.to_ascii_lowercase();
    crate::api::crds().into_iter().find_map(|crd| {
        let names = &crd.spec.names;
        let matches = names.plural == wanted
            || names.kind.to_ascii_lowercase() == wanted
            || names.singular.as_deref() == Some(wanted.as_str())
            || names.short_names.iter().flatten().any(|s| *s == wanted);
        let version = crd.spec.versions.first()?;
        matches.then(|| ApiResource {
            group: crd.spec.group.clone(),
            version: version.name.clone(),
            api_version: format!("{}/{}", crd.spec.group, version.name),
            kind: names.kind.clone(),
            plural: names.plural.clone(),
        })
    })
}

/// Every hostplane kind.
pub fn all() -> Vec<ApiResource> {
    crate::api::crds()
        .iter()
        .filter_map(|crd| resolve(&crd.spec.names.plural))
        .collect()
}

/// `KIND/NAME` (or a bare NAME, taken as a HostingService): the resource and the name.
pub fn object(reference: &str) -> Result<(ApiResource, String), String> {
    let (kind, name) = reference
        .split_once('/')
        .unwrap_or(("hostingservice", reference));
    if name.is_empty() {
        return Err(format!("{reference:?}: no name"));
    }
    let resource = resolve(kind).ok_or_else(|| {
        format!("{kind:?} is not a hostplane kind (hsvc, pm, tariff, client, lpool, spool)")
    })?;
    Ok((resource, name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_kubectl_accepts_resolves() {
        for name in [
            "hsvc",
            "hostingservice",
            "hostingservices",
            "HostingService",
        ] {
            assert_eq!(resolve(name).unwrap().kind, "HostingService", "{name}");
        }
        assert_eq!(resolve("pm").unwrap().plural, "processingmodules");
        assert_eq!(resolve("lpool").unwrap().kind, "LicensePool");
        assert_eq!(
            resolve("tariff").unwrap().api_version,
            "hostplane.dev/v1alpha1"
        );
        assert!(resolve("pods").is_none());
        assert_eq!(all().len(), 6);
    }

    #[test]
    fn a_bare_name_is_a_service_and_a_bad_kind_is_refused() {
        let (resource, name) = object("web").unwrap();
        assert_eq!(
            (resource.kind.as_str(), name.as_str()),
            ("HostingService", "web")
        );
        let (resource, name) = object("tariff/start").unwrap();
        assert_eq!((resource.kind.as_str(), name.as_str()), ("Tariff", "start"));
        assert!(object("pod/web").is_err());
        assert!(object("hsvc/").is_err());
    }
}
