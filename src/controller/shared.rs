//! One watch per kind, shared by every controller that needs the kind: a cache (the
//! reflector's store) and a fan-out of the watched objects to subscribers.
//!
//! Why not kube's `reflect_shared` / `Writer::subscribe`: its subscriber streams carry object
//! references and look each one up in the store when it is taken; a reference to an object
//! deleted in between makes the stream answer `Pending` without asking to be woken (kube-runtime
//! 5.0, `ReflectHandle::poll_next`), so that subscriber never yields again, its buffer fills,
//! and the whole kind's watch stops behind it. The chaos soak (issue 18) hit it whenever a
//! service was deleted while events waited for a standby that then took over: the new leader
//! reconciled nothing created after that. Here subscribers receive the objects themselves.

use std::fmt::Debug;
use std::sync::Arc;

use futures::channel::mpsc;
use futures::{SinkExt as _, Stream, StreamExt as _};
use kube::Resource;
use kube::core::NamespaceResourceScope;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt as _, watcher};

use super::namespaces;
use serde::de::DeserializeOwned;

/// Room per subscriber for objects it has not taken yet; a full subscriber slows the watch
/// down (backpressure), it never drops an object.
pub(super) const SHARED_BUFFER: usize = 1024;

/// A cache of one kind that subscribers can follow: each object reaches them only after the
/// cache holds it, so a reconcile triggered by a change always finds that change in the
/// cache. (Separate watches for cache and trigger would race, and a count computed from a
/// lagging cache would stay wrong until the next event.)
pub(super) struct Shared<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    writer: reflector::store::Writer<K>,
    subscribers: Vec<mpsc::Sender<Arc<K>>>,
}

impl<K> Shared<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    pub(super) fn new() -> Self {
        let (store, writer) = reflector::store();
        Self {
            store,
            writer,
            subscribers: Vec::new(),
        }
    }

    /// A stream of the objects the watch applies (and, after each (re)list, of every object
    /// in the cache); take every subscription before [`Shared::drive`].
    pub(super) fn subscribe(&mut self) -> impl Stream<Item = Arc<K>> + Send + 'static {
        let (sender, receiver) = mpsc::channel(SHARED_BUFFER);
        self.subscribers.push(sender);
        receiver
    }

    /// Keeps the cache current from a watch of `namespaces` (every namespace when empty), in
    /// the background. What the controller never reads is dropped before it is cached: the
    /// field managers and kubectl's copy of the last applied object, which together are often
    /// larger than the rest of the object (issue 16: memory per cached service).
    pub(super) fn drive(self, client: &kube::Client, namespaces: &[String]) -> Store<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
    {
        let cache = self.store.clone();
        let in_namespace = move |ns: &str| {
            let state = cache.state().into_iter();
            state
                .filter(|o| o.meta().namespace.as_deref() == Some(ns))
                .collect()
        };
        let events =
            namespaces::watch(client, namespaces, watcher::Config::default(), in_namespace)
                .modify(forget_what_is_never_read);
        self.drive_events(events)
    }

    /// Keeps the cache current from `events` and hands each applied object to every
    /// subscriber, in the background. A subscriber that is gone is dropped.
    fn drive_events<S>(self, events: S) -> Store<K>
    where
        S: Stream<Item = watcher::Result<watcher::Event<K>>> + Send + 'static,
    {
        let Shared {
            store,
            writer,
            mut subscribers,
        } = self;
        let cache = store.clone();
        tokio::spawn(async move {
            let mut events = std::pin::pin!(reflector::reflector(writer, events));
            while let Some(event) = events.next().await {
                let objects = match event {
                    // The cache's own copy, rather than a second one per change.
                    Ok(watcher::Event::Apply(object)) => {
                        let cached = cache.get(&ObjectRef::from_obj(&object));
                        vec![cached.unwrap_or_else(|| Arc::new(object))]
                    }
                    Ok(watcher::Event::InitDone) => cache.state(),
                    Ok(_) => continue,
                    Err(error) => {
                        tracing::warn!(%error, kind = %K::kind(&()), "watch error; retrying");
                        continue;
                    }
                };
                for object in objects {
                    let mut open = Vec::with_capacity(subscribers.len());
                    for mut subscriber in subscribers.drain(..) {
                        if subscriber.send(Arc::clone(&object)).await.is_ok() {
                            open.push(subscriber);
                        }
                    }
                    subscribers = open;
                }
            }
        });
        store
    }
}

/// Drops the parts of an object no reconcile reads, before the cache holds it.
fn forget_what_is_never_read<K: Resource>(object: &mut K) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
}

/// kubectl's copy of the object as last applied (client-side apply).
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::ResourceExt as _;
    use kube::api::ObjectMeta;

    use super::*;

    fn config_map(name: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    /// What the cache keeps of an object: all but the field managers and kubectl's copy of
    /// the last applied object (other annotations stay: claims live there).
    #[test]
    fn the_cache_forgets_field_managers_and_the_last_applied_copy() {
        let mut object = config_map("a");
        object.metadata.managed_fields = Some(vec![Default::default()]);
        object.metadata.annotations = Some(
            [(LAST_APPLIED, "{\"big\":1}"), ("hostplane.dev/claim", "x")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        );
        forget_what_is_never_read(&mut object);
        assert_eq!(object.metadata.managed_fields, None);
        let kept: Vec<_> = object.annotations().keys().cloned().collect();
        assert_eq!(kept, ["hostplane.dev/claim"]);
    }

    /// The soak's failure in small: a subscriber that takes its objects only after one of
    /// them was deleted (a standby taking over) still receives everything after it.
    #[tokio::test]
    async fn an_object_deleted_before_a_subscriber_takes_it_does_not_stop_the_subscriber() {
        use watcher::Event;
        let mut shared = Shared::<ConfigMap>::new();
        let mut late = shared.subscribe();
        let events = futures::stream::iter([
            Ok(Event::Init),
            Ok(Event::InitApply(config_map("a"))),
            Ok(Event::InitDone),
            Ok(Event::Apply(config_map("b"))),
            Ok(Event::Delete(config_map("a"))),
            Ok(Event::Apply(config_map("c"))),
        ])
        .chain(futures::stream::pending());
        let store = shared.drive_events(events);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while store
            .get(&reflector::ObjectRef::new("c").within("ns"))
            .is_none()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the cache never got c"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            store
                .get(&reflector::ObjectRef::new("a").within("ns"))
                .is_none()
        );
        let mut names = Vec::new();
        while names.len() < 3 {
            let next = tokio::time::timeout(Duration::from_secs(5), late.next())
                .await
                .expect("the subscriber keeps yielding after a deleted object")
                .expect("the stream goes on");
            names.push(next.name_any());
        }
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn a_subscriber_that_is_gone_does_not_hold_the_others() {
        use watcher::Event;
        let mut shared = Shared::<ConfigMap>::new();
        drop(shared.subscribe());
        let mut kept = shared.subscribe();
        let events = futures::stream::iter(
            (0..SHARED_BUFFER + 10).map(|i| Ok(Event::Apply(config_map(&format!("m{i}"))))),
        )
        .chain(futures::stream::pending());
        let _store = shared.drive_events(events);
        for i in 0..SHARED_BUFFER + 10 {
            let next = tokio::time::timeout(Duration::from_secs(5), kept.next())
                .await
                .expect("objects keep coming")
                .expect("the stream goes on");
            assert_eq!(next.name_any(), format!("m{i}"));
        }
    }
}
