//! The watches of one kind over a list of namespaces, shaped as one watch for one cache.
//!
//! A controller given several namespaces (`--namespace a --namespace b`, the chart's
//! `namespaces` list) cannot watch them with one request: the API server watches one namespace
//! or all. So each namespace has its own watch, and [`merged`] joins them for the kind's
//! reflector. Why not join the streams as they are: each relists on its own (`Init`,
//! `InitApply`…, `InitDone`), and a reflector replaces its whole cache at every `InitDone`, so
//! one namespace's relist would empty the cache of every other namespace until they relisted
//! too, and the services there would look deleted. Here the cache sees one initial listing,
//! made of each namespace's first listing, and a later relist of one namespace becomes applies
//! of what it lists plus deletes of that namespace's cached objects it no longer lists.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;
use std::sync::Arc;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt as _};
use kube::api::Api;
use kube::core::NamespaceResourceScope;
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt as _, watcher as watch_of};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

/// A namespaced kind the controller can watch.
pub trait Watched:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + Clone
    + DeserializeOwned
    + Debug
    + Send
    + 'static
{
}

impl<K> Watched for K where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + 'static
{
}

/// The watch of `K` in `ns`, or in every namespace when `ns` is `None`, retried with backoff.
fn watch_one<K: Watched>(
    client: &kube::Client,
    ns: Option<&str>,
    config: &watcher::Config,
) -> impl Stream<Item = watcher::Result<Event<K>>> + Send + use<K> {
    let api = match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    watch_of(api, config.clone()).default_backoff()
}

/// One watch of `K` over `namespaces` (every namespace when the list is empty), fit for one
/// cache: several namespaces are joined by [`merged`], which asks `cached` for the cache's
/// objects in a namespace when that namespace relists.
pub fn watch<K: Watched>(
    client: &kube::Client,
    namespaces: &[String],
    config: watcher::Config,
    cached: impl Fn(&str) -> Vec<Arc<K>> + Send + 'static,
) -> BoxStream<'static, watcher::Result<Event<K>>> {
    let one = |ns: Option<&str>| watch_one::<K>(client, ns, &config);
    match namespaces {
        [] => one(None).boxed(),
        [ns] => one(Some(ns)).boxed(),
        many => {
            let watches = many
                .iter()
                .map(|ns| (ns.clone(), one(Some(ns)).boxed()))
                .collect();
            merged(watches, cached).boxed()
        }
    }
}

/// The objects of `K` that change in `namespaces` (every namespace when empty), for a
/// controller to react to without caching them: the watches are simply interleaved.
pub fn changes<K: Watched>(
    client: &kube::Client,
    namespaces: &[String],
    config: watcher::Config,
) -> BoxStream<'static, watcher::Result<K>> {
    let one = |ns: Option<&str>| {
        watch_one::<K>(client, ns, &config)
            .touched_objects()
            .boxed()
    };
    match namespaces {
        [] => one(None),
        many => futures::stream::select_all(many.iter().map(|ns| one(Some(ns)))).boxed(),
    }
}

/// Joins the watches of `namespaces` (each stream tagged with its namespace) into one watch.
/// `cached(ns)` gives the objects the cache now holds in `ns`; it is asked only when a
/// relist of `ns` ends, after every event before it has reached the cache.
pub fn merged<K, S>(
    watches: Vec<(String, S)>,
    cached: impl Fn(&str) -> Vec<Arc<K>> + Send + 'static,
) -> impl Stream<Item = watcher::Result<Event<K>>> + Send
where
    K: ResourceExt + Clone + Send + 'static,
    S: Stream<Item = watcher::Result<Event<K>>> + Send + Unpin + 'static,
{
    let mut merger = Merger::new(watches.iter().map(|(ns, _)| ns.clone()));
    let tagged = watches
        .into_iter()
        .map(|(ns, stream)| stream.map(move |event| (ns.clone(), event)));
    futures::stream::select_all(tagged).flat_map(move |(ns, event)| {
        futures::stream::iter(merger.on(&ns, event, |ns: &str| cached(ns)))
    })
}

/// The joining, as a state machine over tagged events (no I/O, so it is tested directly).
pub struct Merger<K> {
    /// Until every namespace has listed once: what each one listed and saw change since.
    initial: Option<Initial<K>>,
    /// Namespaces relisting after the initial listing: the names listed so far.
    relisting: HashMap<String, BTreeSet<String>>,
}

struct Initial<K> {
    namespaces: BTreeSet<String>,
    listed: BTreeSet<String>,
    objects: BTreeMap<String, BTreeMap<String, K>>,
}

impl<K: ResourceExt + Clone> Merger<K> {
    pub fn new(namespaces: impl IntoIterator<Item = String>) -> Self {
        Self {
            initial: Some(Initial {
                namespaces: namespaces.into_iter().collect(),
                listed: BTreeSet::new(),
                objects: BTreeMap::new(),
            }),
            relisting: HashMap::new(),
        }
    }

    /// The events one event of namespace `ns` turns into.
    pub fn on(
        &mut self,
        ns: &str,
        event: watcher::Result<Event<K>>,
        cached: impl Fn(&str) -> Vec<Arc<K>>,
    ) -> Vec<watcher::Result<Event<K>>> {
        let event = match event {
            Ok(event) => event,
            Err(e) => return vec![Err(e)],
        };
        match &mut self.initial {
            Some(initial) => {
                initial.on(ns, event);
                if initial.listed != initial.namespaces {
                    return Vec::new();
                }
                let objects = std::mem::take(&mut initial.objects);
                self.initial = None;
                let listing = objects.into_values().flat_map(BTreeMap::into_values);
                std::iter::once(Event::Init)
                    .chain(listing.map(Event::InitApply))
                    .chain(std::iter::once(Event::InitDone))
                    .map(Ok)
                    .collect()
            }
            None => self.live(ns, event, cached).into_iter().map(Ok).collect(),
        }
    }

    fn live(
        &mut self,
        ns: &str,
        event: Event<K>,
        cached: impl Fn(&str) -> Vec<Arc<K>>,
    ) -> Vec<Event<K>> {
        match event {
            Event::Init => {
                self.relisting.insert(ns.to_owned(), BTreeSet::new());
                Vec::new()
            }
            Event::InitApply(object) => {
                self.relisting
                    .entry(ns.to_owned())
                    .or_default()
                    .insert(object.name_any());
                vec![Event::Apply(object)]
            }
            Event::InitDone => {
                let listed = self.relisting.remove(ns).unwrap_or_default();
                cached(ns)
                    .into_iter()
                    .filter(|object| !listed.contains(&object.name_any()))
                    .map(|gone| Event::Delete((*gone).clone()))
                    .collect()
            }
            event @ (Event::Apply(_) | Event::Delete(_)) => vec![event],
        }
    }
}

impl<K: ResourceExt> Initial<K> {
    fn on(&mut self, ns: &str, event: Event<K>) {
        let objects = self.objects.entry(ns.to_owned()).or_default();
        match event {
            // A namespace that lists again before all have listed starts over.
            Event::Init => {
                objects.clear();
                self.listed.remove(ns);
            }
            Event::InitApply(object) | Event::Apply(object) => {
                objects.insert(object.name_any(), object);
            }
            Event::Delete(object) => {
                objects.remove(&object.name_any());
            }
            Event::InitDone => {
                self.listed.insert(ns.to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    use super::*;

    fn cm(ns: &str, name: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    /// The events as short strings: `init`, `init+ a/x`, `done`, `+ a/x`, `- a/x`.
    fn shown(events: &[watcher::Result<Event<ConfigMap>>]) -> Vec<String> {
        let name = |o: &ConfigMap| format!("{}/{}", o.namespace().unwrap(), o.name_any());
        events
            .iter()
            .map(|e| match e.as_ref().expect("no error") {
                Event::Init => "init".to_owned(),
                Event::InitApply(o) => format!("init+ {}", name(o)),
                Event::InitDone => "done".to_owned(),
                Event::Apply(o) => format!("+ {}", name(o)),
                Event::Delete(o) => format!("- {}", name(o)),
            })
            .collect()
    }

    /// A cache kept from the merged events, as the reflector keeps it.
    #[derive(Default)]
    struct Cache {
        objects: BTreeMap<(String, String), Arc<ConfigMap>>,
        buffer: Option<BTreeMap<(String, String), Arc<ConfigMap>>>,
    }

    impl Cache {
        fn key(o: &ConfigMap) -> (String, String) {
            (o.namespace().unwrap(), o.name_any())
        }

        fn apply(&mut self, events: &[watcher::Result<Event<ConfigMap>>]) {
            for event in events {
                match event.as_ref().unwrap() {
                    Event::Init => self.buffer = Some(BTreeMap::new()),
                    Event::InitApply(o) => {
                        let buffer = self.buffer.as_mut().expect("inside a listing");
                        buffer.insert(Self::key(o), Arc::new(o.clone()));
                    }
                    Event::InitDone => self.objects = self.buffer.take().expect("a listing"),
                    Event::Apply(o) => {
                        self.objects.insert(Self::key(o), Arc::new(o.clone()));
                    }
                    Event::Delete(o) => {
                        self.objects.remove(&Self::key(o));
                    }
                }
            }
        }

        fn in_namespace(&self, ns: &str) -> Vec<Arc<ConfigMap>> {
            self.objects
                .iter()
                .filter(|((n, _), _)| n == ns)
                .map(|(_, o)| Arc::clone(o))
                .collect()
        }

        fn names(&self) -> Vec<String> {
            self.objects
                .keys()
                .map(|(n, o)| format!("{n}/{o}"))
                .collect()
        }
    }

    struct Run {
        merger: Merger<ConfigMap>,
        cache: Cache,
    }

    impl Run {
        fn new(namespaces: &[&str]) -> Self {
            Self {
                merger: Merger::new(namespaces.iter().map(|n| n.to_string())),
                cache: Cache::default(),
            }
        }

        fn on(&mut self, ns: &str, event: Event<ConfigMap>) -> Vec<String> {
            let cache = &self.cache;
            let out = self.merger.on(ns, Ok(event), |n| cache.in_namespace(n));
            self.cache.apply(&out);
            shown(&out)
        }
    }

    #[test]
    fn the_cache_is_listed_once_when_every_namespace_has_listed() {
        let mut run = Run::new(&["a", "b"]);
        assert!(run.on("a", Event::Init).is_empty());
        assert!(run.on("a", Event::InitApply(cm("a", "x"))).is_empty());
        assert!(run.on("a", Event::InitDone).is_empty());
        // Changes in a listed namespace while another still lists are kept, not lost.
        assert!(run.on("a", Event::Apply(cm("a", "y"))).is_empty());
        assert!(run.on("a", Event::Delete(cm("a", "x"))).is_empty());
        assert!(run.on("b", Event::Init).is_empty());
        assert!(run.on("b", Event::InitApply(cm("b", "z"))).is_empty());
        assert_eq!(
            run.on("b", Event::InitDone),
            ["init", "init+ a/y", "init+ b/z", "done"]
        );
        assert_eq!(run.cache.names(), ["a/y", "b/z"]);
    }

    #[test]
    fn a_later_relist_of_one_namespace_keeps_the_others_and_deletes_what_it_lost() {
        let mut run = Run::new(&["a", "b"]);
        for ns in ["a", "b"] {
            run.on(ns, Event::Init);
            run.on(ns, Event::InitApply(cm(ns, "x")));
            run.on(ns, Event::InitApply(cm(ns, "y")));
            run.on(ns, Event::InitDone);
        }
        assert_eq!(run.cache.names(), ["a/x", "a/y", "b/x", "b/y"]);
        // b's watch expired; while it was down, b/x was deleted and b/w created.
        assert!(run.on("b", Event::Init).is_empty());
        assert_eq!(run.on("b", Event::InitApply(cm("b", "y"))), ["+ b/y"]);
        assert_eq!(run.on("b", Event::InitApply(cm("b", "w"))), ["+ b/w"]);
        assert_eq!(run.on("a", Event::Apply(cm("a", "v"))), ["+ a/v"]);
        assert_eq!(run.on("b", Event::InitDone), ["- b/x"]);
        assert_eq!(run.cache.names(), ["a/v", "a/x", "a/y", "b/w", "b/y"]);
        assert_eq!(run.on("a", Event::Delete(cm("a", "x"))), ["- a/x"]);
    }

    #[test]
    fn a_namespace_that_lists_again_before_all_listed_starts_over() {
        let mut run = Run::new(&["a", "b"]);
        run.on("a", Event::Init);
        run.on("a", Event::InitApply(cm("a", "gone")));
        run.on("a", Event::InitDone);
        run.on("a", Event::Init);
        run.on("a", Event::InitApply(cm("a", "kept")));
        // a has not finished its second listing: b's end of listing does not end the merge.
        run.on("b", Event::Init);
        assert!(run.on("b", Event::InitDone).is_empty());
        assert_eq!(
            run.on("a", Event::InitDone),
            ["init", "init+ a/kept", "done"]
        );
    }

    #[test]
    fn errors_pass_through_and_change_nothing() {
        let mut merger = Merger::<ConfigMap>::new(["a".to_owned()]);
        let error = watcher::Error::NoResourceVersion;
        let out = merger.on("a", Err(error), |_| Vec::new());
        assert!(matches!(out.as_slice(), [Err(_)]));
        let listed = merger.on("a", Ok(Event::Init), |_| Vec::new());
        assert!(listed.is_empty());
        let out = merger.on("a", Ok(Event::InitDone), |_| Vec::new());
        assert_eq!(shown(&out), ["init", "done"]);
    }
}
