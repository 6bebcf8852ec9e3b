//! Which objects to reconcile when another object changes: one generic mapping
//! ([`referrers`]) and one named predicate per relation.
//!
//! Why one mapping: every relation has the same shape (the objects of a cache, in the changed
//! object's namespace, that name it), and eight hand-written closures had drifted apart in
//! small ways. Each predicate below says what refers to what and why a change must wake it.

use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::api::{HostingService, ProcessingModule, ServerPool, Tariff};

/// The objects of `store` in the namespace of the changed object that `refers` to its name.
pub fn referrers<K, W>(
    store: Store<K>,
    refers: fn(&K, &str) -> bool,
) -> impl Fn(Arc<W>) -> Vec<ObjectRef<K>> + Send + Sync + 'static
where
    K: kube::Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    W: ResourceExt,
{
    move |changed: Arc<W>| {
        let (ns, name) = (changed.namespace(), changed.name_any());
        store
            .state()
            .iter()
            .filter(|k| k.namespace() == ns && refers(k, &name))
            .map(|k| ObjectRef::from(&**k))
            .collect()
    }
}

/// A tariff lists its processing modules: a module that comes, goes or changes health changes
/// what the tariff can sell.
pub fn tariff_uses_module(tariff: &Tariff, module: &str) -> bool {
    tariff
        .spec
        .processing_modules
        .iter()
        .any(|r| r.name == module)
}

/// A licensing module's period comparisons name tariffs: it is judged again when they come or
/// go (at start-up the module may be judged before the tariff cache has them).
pub fn module_compares_tariff(module: &ProcessingModule, tariff: &str) -> bool {
    module.spec.licensing.as_ref().is_some_and(|l| {
        l.period_comparisons
            .iter()
            .any(|c| c.tariff_ref.as_ref().is_some_and(|r| r.name == tariff))
    })
}

/// A VMmanager module names its licensing module: it is judged again when that module comes,
/// goes or changes (applied together, the VMmanager module may be judged first and found
/// pointing at nothing).
pub fn module_uses_licensing_module(module: &ProcessingModule, licensing: &str) -> bool {
    module
        .spec
        .vmmanager
        .as_ref()
        .and_then(|v| v.licensing_module_ref.as_ref())
        .is_some_and(|r| r.name == licensing)
}

/// A service is sold on a tariff.
pub fn service_on_tariff(service: &HostingService, tariff: &str) -> bool {
    service.spec.tariff_ref.name == tariff
}

/// A service belongs to a client.
pub fn service_of_client(service: &HostingService, client: &str) -> bool {
    service.spec.client_ref.name == client
}

/// A sale changes a server pool's size and may take one of its servers: every pool of the
/// service's namespace looks again.
pub fn any_pool(_pool: &ServerPool, _service: &str) -> bool {
    true
}

/// A server pool waits for its VMmanager module.
pub fn pool_on_module(pool: &ServerPool, module: &str) -> bool {
    pool.spec.vmmanager_module_ref.name == module
}

/// A server pool's servers belong to its pool client.
pub fn pool_of_client(pool: &ServerPool, client: &str) -> bool {
    pool.spec.pool_client_ref.name == client
}
