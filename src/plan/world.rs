//! The objects a plan weighs: the cluster as it is (read once with lists) and the cluster as
//! it would be once the manifests are applied (the same objects with the manifests laid over
//! them, as `kubectl apply` would leave them).

use std::collections::BTreeSet;
use std::sync::Arc;

use kube::api::{Api, ListParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::api::{Client, HostingService, LicensePool, ProcessingModule, Tariff};
use crate::validation::Entry;
use crate::validation::decode::Object;

/// One state of the objects hostplane reconciles, in the namespaces the plan looks at.
#[derive(Clone, Debug, Default)]
pub struct World {
    pub modules: Vec<Arc<ProcessingModule>>,
    pub tariffs: Vec<Arc<Tariff>>,
    pub clients: Vec<Arc<Client>>,
    pub services: Vec<Arc<HostingService>>,
    pub license_pools: Vec<Arc<LicensePool>>,
}

fn find<'a, K: ResourceExt>(list: &'a [Arc<K>], ns: &str, name: &str) -> Option<&'a Arc<K>> {
    list.iter()
        .find(|o| o.namespace().as_deref() == Some(ns) && o.name_any() == name)
}

impl World {
    /// Reads every object of the kinds the plan needs in `namespaces`.
    pub async fn read(kube: &kube::Client, namespaces: &BTreeSet<String>) -> anyhow::Result<Self> {
        let mut world = World::default();
        for ns in namespaces {
            world.modules.extend(list(kube, ns).await?);
            world.tariffs.extend(list(kube, ns).await?);
            world.clients.extend(list(kube, ns).await?);
            world.services.extend(list(kube, ns).await?);
            world.license_pools.extend(list(kube, ns).await?);
        }
        Ok(world)
    }

    /// Every object as a validation entry (the context `hostplane validate` rules resolve
    /// references in).
    pub fn entries(&self) -> Vec<Entry> {
        use crate::controller::judge::entry;
        let mut out: Vec<Entry> = Vec::new();
        out.extend(self.modules.iter().map(|o| entry(&**o)));
        out.extend(self.tariffs.iter().map(|o| entry(&**o)));
        out.extend(self.clients.iter().map(|o| entry(&**o)));
        out.extend(self.services.iter().map(|o| entry(&**o)));
        out.extend(self.license_pools.iter().map(|o| entry(&**o)));
        out
    }

    pub fn tariff(&self, ns: &str, name: &str) -> Option<&Arc<Tariff>> {
        find(&self.tariffs, ns, name)
    }

    pub fn client(&self, ns: &str, name: &str) -> Option<&Arc<Client>> {
        find(&self.clients, ns, name)
    }

    pub fn module(&self, ns: &str, name: &str) -> Option<&Arc<ProcessingModule>> {
        find(&self.modules, ns, name)
    }

    pub fn service(&self, ns: &str, name: &str) -> Option<&Arc<HostingService>> {
        find(&self.services, ns, name)
    }

    /// The world once `entries` (decoded manifests) are applied: each object replaces the
    /// live one of its kind, namespace and name (or joins the set). A live service keeps its
    /// metadata (claims, finalizers) and status, as `kubectl apply` changes only what the
    /// manifest says; its annotations are merged with the manifest's.
    pub fn with_applied(&self, entries: Vec<Entry>) -> World {
        let mut next = self.clone();
        for entry in entries {
            let ns = entry.header.namespace.clone();
            match entry.object {
                Object::ProcessingModule(m) => put(&mut next.modules, placed(*m, &ns)),
                Object::Tariff(t) => put(&mut next.tariffs, placed(*t, &ns)),
                Object::Client(c) => put(&mut next.clients, placed(c, &ns)),
                Object::LicensePool(p) => put(&mut next.license_pools, placed(p, &ns)),
                Object::HostingService(s) => {
                    let s = placed(*s, &ns);
                    let s = match self.service(&ns, &s.name_any()) {
                        Some(live) => service_over(live, s),
                        None => s,
                    };
                    put(&mut next.services, s)
                }
                Object::ServerPool(_) | Object::Secret { .. } | Object::Other => {}
            }
        }
        next
    }
}

/// A manifest object in the namespace `kubectl apply` would put it in.
fn placed<K: Resource>(mut object: K, ns: &str) -> K {
    object.meta_mut().namespace = Some(ns.to_owned());
    object
}

/// The live service's metadata and status under the manifest's spec and annotations.
fn service_over(live: &HostingService, manifest: HostingService) -> HostingService {
    let mut next = live.clone();
    next.spec = manifest.spec;
    let annotations = next
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    annotations.extend(manifest.metadata.annotations.unwrap_or_default());
    if next.spec != live.spec {
        next.metadata.generation = live.metadata.generation.map(|g| g + 1);
    }
    next
}

/// Puts `object` in `list`, replacing the one of the same namespace and name.
fn put<K: ResourceExt>(list: &mut Vec<Arc<K>>, object: K) {
    let (ns, name) = (object.namespace(), object.name_any());
    match list
        .iter_mut()
        .find(|o| o.namespace() == ns && o.name_any() == name)
    {
        Some(slot) => *slot = Arc::new(object),
        None => list.push(Arc::new(object)),
    }
}

async fn list<K>(kube: &kube::Client, ns: &str) -> anyhow::Result<Vec<Arc<K>>>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(kube.clone(), ns);
    let items = api
        .list(&ListParams::default())
        .await
        .map_err(|e| anyhow::anyhow!("listing {} in {ns}: {e}", K::kind(&Default::default())))?;
    Ok(items.items.into_iter().map(Arc::new).collect())
}
