//! Leader election through a `coordination.k8s.io/v1` Lease, so that of several controller
//! processes (a rolling update, two replicas) exactly one acts at a time.
//!
//! Why it matters here: the exactly-once guards of the reconcilers (one license purchase per
//! need, one server hand-out per order) are locks inside one process. Two processes acting at
//! once would each pass their own lock and buy twice.
//!
//! Why our own module and not a crate: `kube-leader-election` needs kube 4; the maintained
//! `kube-lease-manager` (0.13, kube 5) renews with unconditional patches, has no renew
//! deadline (a leader cut off from the API server keeps reporting itself leader after its
//! lease ran out) and judges expiry by comparing the holder's `renewTime` with the local wall
//! clock. This module follows client-go's `leaderelection` instead:
//!
//! - Every write is a `replace` carrying the `resourceVersion` that was read, so of two
//!   candidates only one can win a given version (the other gets 409 Conflict).
//! - A lease held by another process counts as expired only when its record has not changed
//!   for `leaseDurationSeconds` *as observed by this process's monotonic clock*, so clock skew
//!   between nodes cannot make a live lease look expired.
//! - The leader renews every `retry_period`; when no renewal succeeded within `renew_deadline`
//!   (shorter than the lease duration) it reports [`Role::Lost`] and must stop acting at once.
//!   Because the others wait a full lease duration after the last change they saw, the old
//!   leader has stopped before anyone can take over.
//! - On a clean shutdown the holder clears `holderIdentity` (and sets a one-second duration),
//!   so a standby takes over at its next retry instead of waiting for expiry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::watch;

/// The settings of one election (client-go's defaults: 15 s, 10 s, 2 s).
#[derive(Clone, Debug)]
pub struct Config {
    /// The Lease's name; every process of one deployment must use the same one.
    pub name: String,
    /// The Lease's namespace.
    pub namespace: String,
    /// Who this process is in `holderIdentity`; unique per process (see [`identity`]).
    pub identity: String,
    /// How long others wait after the last renewal they saw before taking over.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up leading.
    pub renew_deadline: Duration,
    /// How often candidates try to acquire and the leader renews.
    pub retry_period: Duration,
}

impl Config {
    /// The default lease name.
    pub const DEFAULT_NAME: &'static str = "hostplane-controller";

    /// An election for lease `namespace/name` with client-go's timings and a fresh identity.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            namespace: namespace.into(),
            identity: identity(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// Refuses timings under which two processes could lead at once: the leader must give up
    /// (renew deadline) before others may take over (lease duration), and must get more than
    /// one renewal attempt in before giving up.
    pub fn check(&self) -> Result<(), String> {
        if self.retry_period.is_zero() {
            return Err("the retry period must be above zero".into());
        }
        if self.lease_duration <= self.renew_deadline {
            return Err(format!(
                "the lease duration ({:?}) must be longer than the renew deadline ({:?})",
                self.lease_duration, self.renew_deadline
            ));
        }
        if self.renew_deadline <= self.retry_period.mul_f64(1.2) {
            return Err(format!(
                "the renew deadline ({:?}) must be longer than 1.2 times the retry period ({:?})",
                self.renew_deadline, self.retry_period
            ));
        }
        Ok(())
    }
}

/// This process's `holderIdentity`: the pod name (`POD_NAME`, from the downward API) or the
/// host name, plus a random suffix, so that a restarted container never mistakes its
/// predecessor's lease for its own.
pub fn identity() -> String {
    let base = std::env::var("POD_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "hostplane".to_owned());
    format!("{base}_{:08x}", rand::random::<u32>())
}

/// Where this process stands in the election.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Waiting for the lease; must not act.
    Standby,
    /// Holds the lease; may act.
    Leader,
    /// Held the lease and could not renew it in time; must stop acting at once (for good).
    Lost,
}

/// The error of a process whose leadership ended without being asked to stop.
#[derive(Debug, thiserror::Error)]
#[error("lost the leader lease (taken by another, or not renewed within the renew deadline)")]
pub struct Lost;

/// What to do with the lease as last read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Free or expired: write ourselves in as holder.
    Acquire,
    /// Ours: write a new renew time.
    Renew,
    /// Another process holds it and it has not expired: leave it alone.
    Wait,
}

/// The pure rule of the election. `holder` is the lease's `holderIdentity`; `unchanged_for` is
/// how long this process has seen the lease record unchanged (by its own monotonic clock);
/// `lease_duration` is the record's `leaseDurationSeconds`.
pub fn decide(
    holder: Option<&str>,
    me: &str,
    unchanged_for: Duration,
    lease_duration: Duration,
) -> Decision {
    match holder.filter(|h| !h.is_empty()) {
        None => Decision::Acquire,
        Some(h) if h == me => Decision::Renew,
        Some(_) if unchanged_for >= lease_duration => Decision::Acquire,
        Some(_) => Decision::Wait,
    }
}

/// A running election: a background task acquires and then renews the lease and publishes
/// this process's [`Role`].
pub struct Elector {
    role: watch::Receiver<Role>,
    lock: Arc<tokio::sync::Mutex<Lock>>,
    task: tokio::task::JoinHandle<()>,
}

impl Elector {
    /// Starts campaigning for the lease in the background.
    pub fn start(client: kube::Client, config: Config) -> Self {
        tracing::info!(
            lease = %format!("{}/{}", config.namespace, config.name),
            identity = %config.identity,
            "leader election: campaigning"
        );
        let (tx, role) = watch::channel(Role::Standby);
        let lock = Arc::new(tokio::sync::Mutex::new(Lock {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
        }));
        let task = tokio::spawn(campaign(Arc::clone(&lock), tx));
        Self { role, lock, task }
    }

    /// A receiver of this process's role.
    pub fn role(&self) -> watch::Receiver<Role> {
        self.role.clone()
    }

    /// Stops renewing and, when this process still holds the lease, hands it back so that a
    /// standby takes over at once. Failures are logged: the lease then simply expires.
    pub async fn release(self) {
        self.task.abort();
        let _ = self.task.await;
        let mut lock = self.lock.lock().await;
        let timeout = lock.config.renew_deadline;
        match tokio::time::timeout(timeout, lock.release()).await {
            Ok(Ok(true)) => tracing::info!("leader election: lease released"),
            Ok(Ok(false)) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "leader election: cannot release the lease; it will expire")
            }
            Err(_) => tracing::warn!("leader election: releasing timed out; the lease will expire"),
        }
    }
}

/// Waits until `role` says [`Role::Leader`]; `Err` when leadership was already lost.
pub async fn leading(mut role: watch::Receiver<Role>) -> Result<(), Lost> {
    match role.wait_for(|r| *r != Role::Standby).await.map(|r| *r) {
        Ok(Role::Leader) => Ok(()),
        _ => Err(Lost),
    }
}

/// Resolves when `role` says [`Role::Lost`]; never without an election.
pub async fn lost(role: Option<watch::Receiver<Role>>) -> Lost {
    if let Some(mut role) = role
        && role.wait_for(|r| *r == Role::Lost).await.is_ok()
    {
        return Lost;
    }
    std::future::pending().await
}

/// Acquires, then renews until a renewal misses the deadline.
async fn campaign(lock: Arc<tokio::sync::Mutex<Lock>>, role: watch::Sender<Role>) {
    let config = lock.lock().await.config.clone();
    let mut renewed = loop {
        let started = Instant::now();
        if attempt(&lock, config.retry_period.max(config.renew_deadline)).await {
            break started;
        }
        tokio::time::sleep(jittered(config.retry_period)).await;
    };
    tracing::info!(identity = %config.identity, "leader election: leading");
    role.send_replace(Role::Leader);
    loop {
        tokio::time::sleep(config.retry_period).await;
        let started = Instant::now();
        let budget = (renewed + config.renew_deadline).saturating_duration_since(started);
        if !budget.is_zero() && attempt(&lock, budget).await {
            renewed = started;
            continue;
        }
        let taken = lock.lock().await.held_by_other();
        if taken || renewed.elapsed() >= config.renew_deadline {
            tracing::error!(
                taken_by_another = taken,
                "leader election: lost the lease; stopping all work"
            );
            role.send_replace(Role::Lost);
            return;
        }
    }
}

/// One acquire-or-renew within `budget`; true when this process holds the lease after it.
async fn attempt(lock: &tokio::sync::Mutex<Lock>, budget: Duration) -> bool {
    let mut lock = lock.lock().await;
    match tokio::time::timeout(budget, lock.try_acquire_or_renew()).await {
        Ok(Ok(held)) => held,
        Ok(Err(error)) => {
            tracing::warn!(%error, "leader election: lease request failed");
            false
        }
        Err(_) => {
            tracing::warn!("leader election: lease request timed out");
            false
        }
    }
}

/// `leaseDurationSeconds` for a lease duration: whole seconds, rounded up, because the others
/// wait this long and must never wait less than the renew deadline was checked against.
fn lease_seconds(d: Duration) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs.max(1)).unwrap_or(i32::MAX)
}

/// Up to 20% more than `period`, so that candidates started together do not retry together.
fn jittered(period: Duration) -> Duration {
    period.mul_f64(1.0 + 0.2 * rand::random::<f64>())
}

/// The lease as this process last saw it change.
struct Observed {
    spec: LeaseSpec,
    since: Instant,
}

/// The lease and what this process knows of it.
struct Lock {
    api: Api<Lease>,
    config: Config,
    observed: Option<Observed>,
}

impl Lock {
    /// Notes the record read at `now`; the expiry clock restarts whenever it changed.
    fn observe(&mut self, spec: &LeaseSpec, now: Instant) {
        if self.observed.as_ref().is_none_or(|o| o.spec != *spec) {
            self.observed = Some(Observed {
                spec: spec.clone(),
                since: now,
            });
        }
    }

    fn held_by_other(&self) -> bool {
        self.observed
            .as_ref()
            .and_then(|o| o.spec.holder_identity.as_deref())
            .is_some_and(|h| !h.is_empty() && h != self.config.identity)
    }

    fn duration_seconds(&self) -> i32 {
        lease_seconds(self.config.lease_duration)
    }

    /// Reads the lease and, per [`decide`], takes or renews it with a write guarded by the
    /// version read. Ok(false) when another holds it or won the race.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let me = self.config.identity.clone();
        let Some(current) = self.api.get_opt(&self.config.name).await? else {
            return self.create().await;
        };
        let (now, wall) = (Instant::now(), MicroTime(jiff::Timestamp::now()));
        let spec = current.spec.clone().unwrap_or_default();
        self.observe(&spec, now);
        let record_duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .filter(|s| *s > 0)
            .map_or(self.config.lease_duration, Duration::from_secs);
        let since = self.observed.as_ref().map_or(now, |o| o.since);
        let next = match decide(
            spec.holder_identity.as_deref(),
            &me,
            now.saturating_duration_since(since),
            record_duration,
        ) {
            Decision::Wait => return Ok(false),
            Decision::Renew => LeaseSpec {
                renew_time: Some(wall),
                lease_duration_seconds: Some(self.duration_seconds()),
                ..spec
            },
            Decision::Acquire => {
                tracing::info!(
                    previous = spec.holder_identity.as_deref().unwrap_or(""),
                    "leader election: taking over a free or expired lease"
                );
                LeaseSpec {
                    holder_identity: Some(me),
                    acquire_time: Some(wall.clone()),
                    renew_time: Some(wall),
                    lease_duration_seconds: Some(self.duration_seconds()),
                    lease_transitions: Some(spec.lease_transitions.unwrap_or(0) + 1),
                    ..spec
                }
            }
        };
        // `current` keeps its resourceVersion: the write fails if anyone wrote in between.
        let lease = Lease {
            spec: Some(next),
            ..current
        };
        self.write(lease).await
    }

    /// Creates the lease with this process as holder; Ok(false) if another created it first.
    async fn create(&mut self) -> Result<bool, kube::Error> {
        let wall = MicroTime(jiff::Timestamp::now());
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.config.identity.clone()),
                acquire_time: Some(wall.clone()),
                renew_time: Some(wall),
                lease_duration_seconds: Some(self.duration_seconds()),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        match self.api.create(&PostParams::default(), &lease).await {
            Ok(created) => {
                self.observe(&created.spec.unwrap_or_default(), Instant::now());
                Ok(true)
            }
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Replaces the lease; Ok(false) on a version conflict (someone else wrote first).
    async fn write(&mut self, lease: Lease) -> Result<bool, kube::Error> {
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => {
                self.observe(&written.spec.unwrap_or_default(), Instant::now());
                Ok(true)
            }
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Clears the holder when it is this process (guarded by the version read, retried on a
    /// conflict). Ok(true) when released, Ok(false) when it was not ours.
    async fn release(&mut self) -> Result<bool, kube::Error> {
        for _ in 0..3 {
            let Some(current) = self.api.get_opt(&self.config.name).await? else {
                return Ok(false);
            };
            let spec = current.spec.clone().unwrap_or_default();
            if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
                return Ok(false);
            }
            let wall = MicroTime(jiff::Timestamp::now());
            let lease = Lease {
                spec: Some(LeaseSpec {
                    holder_identity: None,
                    lease_duration_seconds: Some(1),
                    acquire_time: Some(wall.clone()),
                    renew_time: Some(wall),
                    ..spec
                }),
                ..current
            };
            if self.write(lease).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "pod-a_0001";
    const LEASE: Duration = Duration::from_secs(15);

    #[test]
    fn a_free_lease_is_acquired() {
        assert_eq!(decide(None, ME, Duration::ZERO, LEASE), Decision::Acquire);
        // A released lease has an empty holder.
        assert_eq!(
            decide(Some(""), ME, Duration::ZERO, LEASE),
            Decision::Acquire
        );
    }

    #[test]
    fn an_expired_lease_of_another_is_taken_over() {
        assert_eq!(
            decide(Some("pod-b_0002"), ME, LEASE, LEASE),
            Decision::Acquire
        );
        assert_eq!(
            decide(Some("pod-b_0002"), ME, Duration::from_secs(60), LEASE),
            Decision::Acquire
        );
    }

    #[test]
    fn a_live_lease_of_another_is_left_alone() {
        assert_eq!(
            decide(Some("pod-b_0002"), ME, Duration::ZERO, LEASE),
            Decision::Wait
        );
        assert_eq!(
            decide(
                Some("pod-b_0002"),
                ME,
                LEASE - Duration::from_millis(1),
                LEASE
            ),
            Decision::Wait
        );
    }

    #[test]
    fn my_own_lease_is_renewed_whatever_its_age() {
        assert_eq!(decide(Some(ME), ME, Duration::ZERO, LEASE), Decision::Renew);
        assert_eq!(
            decide(Some(ME), ME, Duration::from_secs(600), LEASE),
            Decision::Renew
        );
    }

    #[test]
    fn timings_that_allow_two_leaders_are_refused() {
        let ok = Config::new("l", "ns");
        assert_eq!(ok.check(), Ok(()));
        let deadline_too_long = Config {
            renew_deadline: Duration::from_secs(15),
            ..ok.clone()
        };
        assert!(deadline_too_long.check().is_err());
        let retry_too_slow = Config {
            retry_period: Duration::from_secs(9),
            ..ok.clone()
        };
        assert!(retry_too_slow.check().is_err());
        let no_retry = Config {
            retry_period: Duration::ZERO,
            ..ok
        };
        assert!(no_retry.check().is_err());
    }

    #[test]
    fn the_recorded_duration_never_rounds_down() {
        assert_eq!(lease_seconds(Duration::from_secs(15)), 15);
        assert_eq!(lease_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(lease_seconds(Duration::from_millis(200)), 1);
    }

    #[test]
    fn identities_differ_per_process_start() {
        let (a, b) = (identity(), identity());
        assert_ne!(a, b);
        assert!(!a.is_empty());
    }
}
