//! What every reconciler shares: the API client, the event recorder, caches of every kind
//! (so references are resolved without API calls), and per-object retry counters.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};

use super::accounts::Accounts;
use super::panels::Panels;
use crate::api::{Client, HostingService, LicensePool, ProcessingModule, ServerPool, Tariff};
use crate::controller::reason::Reason;

pub struct Context {
    pub client: kube::Client,
    pub recorder: Recorder,
    pub modules: Store<ProcessingModule>,
    pub tariffs: Store<Tariff>,
    pub clients: Store<Client>,
    pub services: Store<HostingService>,
    /// License pools (empty until [`Context::with_license_pools`]).
    pub license_pools: Store<LicensePool>,
    /// What the controller last saw of each module's accounts (drift listings).
    pub accounts: Accounts,
    /// Panel clients per processing module, their limiters, and module health.
    pub panels: Panels,
    pub settings: Settings,
    /// VMmanager operation queues (a module's `serializeOperations`) and pool hand-outs.
    pub vm_queues: VmQueues,
    /// The server pools, when the controller watches them (virtual servers take from them).
    pub server_pools: Option<Store<ServerPool>>,
    /// Claims this process is writing, so two services reconciled at once cannot both claim
    /// one name before the cache shows either claim.
    pub claims: super::service::claim::Registry,
    /// License acquisitions (lookup, then take from the pool or order), one at a time, so
    /// that two reconciles never both find "no license yet" and both buy. Exactly-once across
    /// processes comes from leader election (only the leader runs reconciles); this lock lives
    /// here, not in a static, so that it belongs to one running controller.
    pub license_acquisitions: tokio::sync::Mutex<()>,
    /// Consecutive failures per object, for exponential backoff; cleared on success.
    failures: Mutex<HashMap<String, u32>>,
    /// Objects that got an event in the reconcile under way ([`Context::take_told`]): a pass
    /// that said what it did (`Created ...`) does not add a second event for the `Ready`
    /// transition it caused. Reconciles of one object never overlap, so a per-key flag set
    /// by the pass and taken at its end is the pass's own; only events are spared by it.
    told: Mutex<std::collections::HashSet<String>>,
    /// Status writes the watch cache may not show yet ([`super::written`]).
    pub written: super::written::Written,
}

/// One async lock per queue name (e.g. `namespace/module/host_create`): operations of one
/// queue run one at a time in this process.
#[derive(Default)]
pub struct VmQueues {
    locks: Mutex<HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
}

impl VmQueues {
    /// The lock of queue `name`, made on first use.
    pub fn queue(&self, name: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().expect("queues lock");
        std::sync::Arc::clone(locks.entry(name.to_owned()).or_default())
    }
}

/// Tunables of a running controller.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How often each module's accounts are listed and compared with the services.
    pub drift_interval: Duration,
    /// Today, for billing dates.
    pub clock: super::clock::Clock,
    /// What a tariff that leaves a policy blank falls back to (auto-deletion days).
    pub product_defaults: crate::billing::policy::ProductDefaults,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            drift_interval: Duration::from_secs(300),
            clock: super::clock::Clock::system(),
            product_defaults: Default::default(),
        }
    }
}

/// The first retry after a failure; each further failure doubles it.
const BACKOFF_BASE: Duration = Duration::from_secs(2);
/// The longest wait between retries.
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// The wait before attempt `failures + 1`: exponential, capped, with up to 10% jitter so that
/// objects failing together do not retry together.
pub fn backoff(failures: u32, jitter: f64) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    exp.min(BACKOFF_MAX)
        .mul_f64(1.0 + 0.1 * jitter.clamp(0.0, 1.0))
}

impl Context {
    pub fn new(
        client: kube::Client,
        recorder: Recorder,
        modules: Store<ProcessingModule>,
        tariffs: Store<Tariff>,
        clients: Store<Client>,
        services: Store<HostingService>,
    ) -> Self {
        Self {
            client,
            recorder,
            modules,
            tariffs,
            clients,
            services,
            license_pools: kube::runtime::reflector::store::Writer::default().as_reader(),
            accounts: Accounts::default(),
            panels: Panels::new(),
            settings: Settings::default(),
            vm_queues: VmQueues::default(),
            server_pools: None,
            claims: Default::default(),
            license_acquisitions: tokio::sync::Mutex::const_new(()),
            failures: Mutex::default(),
            told: Mutex::default(),
            written: Default::default(),
        }
    }

    /// Lets virtual servers take from the server pools of this cache.
    pub fn with_server_pools(mut self, pools: Store<ServerPool>) -> Self {
        self.server_pools = Some(pools);
        self
    }

    pub fn with_license_pools(mut self, pools: Store<LicensePool>) -> Self {
        self.license_pools = pools;
        self
    }

    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// The current time on the controller's clock (RFC 3339), for condition transitions and
    /// check times: the same clock that decides billing days, so a test that moves it sees
    /// consistent times.
    pub fn timestamp(&self) -> String {
        self.settings.clock.now().to_string()
    }

    /// The time `wait` from now on the controller's clock, to the second (RFC 3339): when a
    /// failed reconcile is tried next (`lastError.nextAttemptAt`).
    pub fn time_after(&self, wait: Duration) -> String {
        let now = self.settings.clock.now();
        let later = now + jiff::SignedDuration::try_from(wait).unwrap_or_default();
        later.round(jiff::Unit::Second).unwrap_or(later).to_string()
    }

    /// Records one more failure of `key` and returns how many there have been in a row.
    pub fn failed(&self, key: &str) -> u32 {
        let mut map = self.failures.lock().expect("failures lock");
        let n = map.entry(key.to_owned()).or_default();
        *n += 1;
        *n
    }

    /// Forgets the failures of `key` after a success.
    pub fn succeeded(&self, key: &str) {
        self.failures.lock().expect("failures lock").remove(key);
    }

    /// Looks up an object of the namespace in a cache.
    pub fn get<K>(store: &Store<K>, namespace: &str, name: &str) -> Option<std::sync::Arc<K>>
    where
        K: Resource<DynamicType = ()> + Clone + 'static,
    {
        store.get(&ObjectRef::new(name).within(namespace))
    }

    /// Publishes an event about `object`; a failure to publish is logged, never fatal.
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        type_: EventType,
        reason: Reason,
        note: String,
    ) {
        let event = Event {
            type_,
            reason: reason.as_str().into(),
            note: Some(note),
            action: "Reconcile".into(),
            secondary: None,
        };
        let told = key(&K::kind(&()), object);
        self.told.lock().expect("told lock").insert(told);
        if let Err(e) = self.recorder.publish(&event, &object.object_ref(&())).await {
            tracing::warn!(object = %object.meta().name.as_deref().unwrap_or_default(), error = %e, "cannot publish event");
        }
    }
}

impl Context {
    /// Whether the object of `key` ([`key`]) got an event since the last call, clearing it.
    pub fn take_told(&self, key: &str) -> bool {
        self.told.lock().expect("told lock").remove(key)
    }
}

/// A key for per-object state: namespace/name of a kind.
pub fn key<K: ResourceExt>(kind: &str, object: &K) -> String {
    format!(
        "{kind}/{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(2, 0.0), Duration::from_secs(4));
        assert_eq!(backoff(5, 0.0), Duration::from_secs(32));
        assert_eq!(backoff(30, 0.0), Duration::from_secs(300));
        assert_eq!(backoff(1, 1.0), Duration::from_millis(2200));
    }
}
