//! `hostplane controller`: reconciles hostplane objects against the panels.
//!
//! Each reconcile follows one shape: dereference (tariff, client, module) → validate with the
//! rules of `hostplane validate` → observe → plan → act → write status (only what changed).
//! This part reconciles Tariffs and Clients; processing modules and services follow.

pub mod accounts;
pub mod client;
pub mod clock;
pub mod conditions;
pub mod context;
pub mod drift;
pub mod judge;
pub mod kstatus;
pub mod leader;
pub mod license_pool;
pub mod metrics;
pub mod module;
pub mod namespaces;
pub mod panels;
pub mod reason;
pub mod server_pool;
pub mod service;
mod shared;
pub mod shutdown;
pub mod status;
pub mod tariff;
pub mod tariff_history;
pub mod watches;
pub mod written;

use std::sync::Arc;

use futures::StreamExt;
use kube::api::ObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use k8s_openapi::api::core::v1::Secret;
use kube::{Resource, ResourceExt};

use crate::api::common::CommonStatus;
use crate::api::{
    Client, HostingService, LicensePool, ProcessingModule, RECONCILE_REQUESTED_AT_ANNOTATION,
    ServerPool, Tariff,
};
use conditions::Verdict;
use context::Context;
use shared::Shared;

/// Why a reconcile failed; every variant is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// A processing module's client could not be set up (its Secret, URL or TLS settings).
    #[error("processing module: {0}")]
    Setup(#[from] panels::SetupError),
    /// A panel call failed.
    #[error("panel: {0}")]
    Panel(#[from] crate::panel::PanelError),
}

impl Error {
    /// The reason the error is counted under in `hostplane_reconcile_errors_total`.
    pub fn reason(&self) -> reason::Reason {
        match self {
            Error::Kube(_) => reason::Reason::KubernetesError,
            Error::Setup(_) => reason::Reason::ModuleUnavailable,
            Error::Panel(_) => reason::Reason::PanelError,
        }
    }
}

/// Where the controller looks.
#[derive(Clone, Debug)]
pub struct Options {
    /// Only these namespaces; every namespace when empty.
    pub namespaces: Vec<String>,
    /// Reconciles running at once per kind.
    pub concurrency: u16,
    /// How often each module's accounts are listed and compared with the services.
    pub drift_interval: std::time::Duration,
    /// The clock billing dates are compared with (the system clock unless a test drives it).
    pub clock: clock::Clock,
    /// How often a healthy processing module's connection is checked (plus or minus 10%
    /// jitter); failed checks are retried sooner, with backoff.
    pub module_check_interval: std::time::Duration,
    /// Act only while holding this Lease (`None`: this process is the only controller, as in
    /// the tests and the demo; `hostplane controller` elects by default).
    pub leader_election: Option<leader::Config>,
    /// When to stop taking work, finish what is in flight and hand the lease back.
    pub shutdown: shutdown::Shutdown,
    /// How long reconciles in flight may take to finish after a stop was requested.
    pub shutdown_grace: std::time::Duration,
    /// The product types' auto-deletion periods, for tariffs that set none.
    pub product_defaults: crate::billing::policy::ProductDefaults,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            namespaces: Vec::new(),
            concurrency: 16,
            drift_interval: context::Settings::default().drift_interval,
            clock: clock::Clock::system(),
            module_check_interval: panels::DEFAULT_CHECK_INTERVAL,
            leader_election: None,
            shutdown: shutdown::Shutdown::never(),
            shutdown_grace: std::time::Duration::from_secs(20),
            product_defaults: Default::default(),
        }
    }
}

/// Echoes `hostplane.dev/reconcile-requested-at` into status, so a person who set it can see
/// that the controller acted on it.
fn observe_annotations(meta: &ObjectMeta, status: &mut CommonStatus) {
    status.last_handled_reconcile_at = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(RECONCILE_REQUESTED_AT_ANNOTATION))
        .cloned();
}

/// Publishes an event when the Ready condition's status or reason changed.
async fn announce<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    object: &K,
    old: Option<&CommonStatus>,
    verdict: &Verdict,
) {
    let (type_, reason, message) = tariff::event_of(verdict);
    let before = old
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == conditions::READY))
        .map(|c| c.reason.as_str());
    if before != Some(reason.as_str()) {
        ctx.event(object, type_, reason, message.to_owned()).await;
    }
}

/// How long tariffs, clients and modules wait for a burst of changes to end before they count
/// again: short enough that a person sees the counts move at once.
const AGGREGATE_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(500);

fn error_policy<K: ResourceExt>(
    kind: &'static str,
) -> impl Fn(Arc<K>, &Error, Arc<Context>) -> Action {
    move |object, error, ctx| {
        let key = context::key(kind, &*object);
        let failures = ctx.failed(&key);
        let wait = context::backoff(failures, rand_unit());
        tracing::warn!(%key, failures, ?wait, %error, "reconcile failed; retrying");
        Action::requeue(wait)
    }
}

/// A number in [0, 1) for jitter, without a random number generator dependency.
fn rand_unit() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}

/// Runs the controllers until `options.shutdown` fires (then `Ok`, after the reconciles in
/// flight finished or the grace period ran out, and with the lease handed back) or until the
/// lease is lost (then [`leader::Lost`] at once: every reconcile is dropped at its next await,
/// and the caller should exit so that nothing of this process acts any more).
pub async fn run(client: kube::Client, options: Options) -> anyhow::Result<()> {
    let elector = options
        .leader_election
        .clone()
        .map(|config| leader::Elector::start(client.clone(), config));
    let role = elector.as_ref().map(leader::Elector::role);
    let result = tokio::select! {
        done = serve(client, &options, role.clone()) => done,
        lost = leader::lost(role) => Err(lost.into()),
    };
    metrics::set_leader(false);
    let lost = matches!(&result, Err(e) if e.is::<leader::Lost>());
    // Lost: another may hold it by now, and the caller must exit without delay.
    if let Some(elector) = elector
        && !lost
    {
        elector.release().await;
    }
    result
}

/// Fills the caches (a standby keeps them warm), waits for the lease when electing, then runs
/// the reconcilers until a stop is requested.
async fn serve(
    client: kube::Client,
    options: &Options,
    role: Option<tokio::sync::watch::Receiver<leader::Role>>,
) -> anyhow::Result<()> {
    let ns = &options.namespaces;
    let (mut modules, mut tariffs, mut clients, mut services) = (
        Shared::<ProcessingModule>::new(),
        Shared::<Tariff>::new(),
        Shared::<Client>::new(),
        Shared::<HostingService>::new(),
    );
    let module_events = modules.subscribe();
    let tariff_events = tariffs.subscribe();
    let client_events = clients.subscribe();
    let service_events_for_tariffs = services.subscribe();
    let service_events_for_clients = services.subscribe();
    let module_events_for_modules = modules.subscribe();
    let module_events_for_referrers = modules.subscribe();
    let service_events_for_modules = services.subscribe();
    let tariff_events_for_modules = tariffs.subscribe();
    let service_events = services.subscribe();
    let tariff_events_for_services = tariffs.subscribe();
    let client_events_for_services = clients.subscribe();
    let mut license_pools = Shared::<LicensePool>::new();
    let pool_events = license_pools.subscribe();
    let license_pools = license_pools.drive(&client, ns);
    let mut server_pools = Shared::<ServerPool>::new();
    let server_pool_events = server_pools.subscribe();
    let service_events_for_server_pools = services.subscribe();
    let module_events_for_server_pools = modules.subscribe();
    let client_events_for_server_pools = clients.subscribe();
    let server_pools = server_pools.drive(&client, ns);
    let modules = modules.drive(&client, ns);
    let tariffs = tariffs.drive(&client, ns);
    let clients = clients.drive(&client, ns);
    let services = services.drive(&client, ns);
    let synced = async {
        for ready in [
            modules.wait_until_ready().await,
            tariffs.wait_until_ready().await,
            clients.wait_until_ready().await,
            services.wait_until_ready().await,
            license_pools.wait_until_ready().await,
            server_pools.wait_until_ready().await,
        ] {
            ready?;
        }
        anyhow::Ok(())
    };
    tokio::select! {
        synced = synced => synced?,
        () = options.shutdown.requested() => return Ok(()),
    }
    metrics::count_objects(
        modules.clone(),
        tariffs.clone(),
        clients.clone(),
        services.clone(),
        license_pools.clone(),
        server_pools.clone(),
    );
    // A standby is ready: it can take over as soon as the lease is free. Until then its
    // caches stay current, except that a kind whose reconcilers have not started holds its
    // watch once SHARED_BUFFER changes wait for them; it resumes when this process leads.
    metrics::set_ready(true);
    if let Some(role) = role {
        tracing::info!("caches synced; waiting for the leader lease");
        tokio::select! {
            leading = leader::leading(role) => leading?,
            () = options.shutdown.requested() => return Ok(()),
        }
    }
    metrics::set_leader(true);
    let reporter = Reporter {
        controller: "hostplane".into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let ctx = Arc::new(
        Context::new(
            client.clone(),
            recorder,
            modules.clone(),
            tariffs.clone(),
            clients.clone(),
            services.clone(),
        )
        .with_license_pools(license_pools.clone())
        .with_server_pools(server_pools.clone())
        .with_settings(context::Settings {
            drift_interval: options.drift_interval,
            clock: options.clock.clone(),
            product_defaults: options.product_defaults.clone(),
        }),
    );
    ctx.panels.set_check_interval(options.module_check_interval);
    let config =
        kube::runtime::controller::Config::default().concurrency(options.concurrency.max(1));
    // Tariffs, clients and modules count their services: while hundreds of services converge
    // at once, each service's change would wake them again (a reconcile and a status write
    // per service). A short trailing debounce folds a burst into one pass (issue 16).
    let aggregate = config.clone().debounce(AGGREGATE_DEBOUNCE);

    let tariff_of_service = |s: Arc<HostingService>| {
        Some(ObjectRef::new(&s.spec.tariff_ref.name).within(&s.namespace().unwrap_or_default()))
    };
    let client_of_service = |s: Arc<HostingService>| {
        Some(ObjectRef::new(&s.spec.client_ref.name).within(&s.namespace().unwrap_or_default()))
    };

    let tariffs_done = Controller::for_shared_stream(tariff_events, tariffs.clone())
        .with_config(aggregate.clone())
        .watches_shared_stream(
            module_events,
            watches::referrers(tariffs.clone(), watches::tariff_uses_module),
        )
        .watches_shared_stream(service_events_for_tariffs, tariff_of_service)
        .graceful_shutdown_on(options.shutdown.requested())
        .run(
            counted("Tariff", tariff::reconcile),
            error_policy("Tariff"),
            Arc::clone(&ctx),
        )
        .for_each(|_| std::future::ready(()));
    let clients_done = Controller::for_shared_stream(client_events, clients)
        .with_config(aggregate.clone())
        .watches_shared_stream(service_events_for_clients, client_of_service)
        .graceful_shutdown_on(options.shutdown.requested())
        .run(
            counted("Client", client::reconcile),
            error_policy("Client"),
            Arc::clone(&ctx),
        )
        .for_each(|_| std::future::ready(()));
    // A changed Secret re-checks the modules that read it. Metadata only: the controller
    // needs to know that a Secret changed, not to hold every Secret's data in memory.
    let modules_of_secret = {
        let (modules, ctx) = (modules.clone(), Arc::clone(&ctx));
        move |s: kube::core::PartialObjectMeta<Secret>| {
            let (ns, name) = (s.namespace().unwrap_or_default(), s.name_any());
            let found = module::referencing(modules.state().iter().map(|m| &**m), &ns, &name);
            if !found.is_empty() {
                let version = s.resource_version().unwrap_or_default();
                ctx.panels.note_secret(&ns, &name, &version);
            }
            found
        }
    };
    let module_of_service = |s: Arc<HostingService>| {
        let module = s.status.as_ref()?.processing_module.as_ref()?;
        Some(ObjectRef::new(module).within(&s.namespace().unwrap_or_default()))
    };
    // `Api<PartialObjectMeta<_>>` makes metadata-only requests (kube 5's `metadata_watcher`).
    let secret_events = namespaces::changes::<kube::core::PartialObjectMeta<Secret>>(
        &client,
        ns,
        watcher::Config::default(),
    );
    let modules_done = Controller::for_shared_stream(module_events_for_modules, modules.clone())
        .with_config(aggregate.clone())
        .watches_stream(secret_events, modules_of_secret)
        .watches_shared_stream(service_events_for_modules, module_of_service)
        .watches_shared_stream(
            tariff_events_for_modules,
            watches::referrers(modules.clone(), watches::module_compares_tariff),
        )
        .watches_shared_stream(
            module_events_for_referrers.filter(spec_changed()),
            watches::referrers(modules.clone(), watches::module_uses_licensing_module),
        )
        .graceful_shutdown_on(options.shutdown.requested())
        .run(
            counted("ProcessingModule", module::reconcile),
            error_policy("ProcessingModule"),
            Arc::clone(&ctx),
        )
        .for_each(|_| std::future::ready(()));
    let (drift_trigger, drifted) = futures::channel::mpsc::unbounded();
    let _drift = AbortOnDrop(tokio::spawn(drift::run(Arc::clone(&ctx), drift_trigger)));
    let services_done = Controller::for_shared_stream(
        service_events.filter({
            let mut changed = service::spec_changes();
            move |s| std::future::ready(changed(s))
        }),
        services.clone(),
    )
    .with_config(config.clone())
    // Only spec changes of a tariff or client concern its services: their own status writes
    // (counts that change as each service converges) would otherwise wake every service of
    // the tariff once per write, N² reconciles for N services.
    .watches_shared_stream(
        tariff_events_for_services.filter(spec_changed()),
        watches::referrers(services.clone(), watches::service_on_tariff),
    )
    .watches_shared_stream(
        client_events_for_services.filter(spec_changed()),
        watches::referrers(services.clone(), watches::service_of_client),
    )
    .owns_stream(namespaces::changes::<Secret>(
        &client,
        ns,
        watcher::Config::default().labels(&format!(
            "{}={}",
            service::connection::MANAGED_BY.0,
            service::connection::MANAGED_BY.1
        )),
    ))
    .reconcile_on(drifted)
    .graceful_shutdown_on(options.shutdown.requested())
    .run(
        counted("HostingService", service::reconcile),
        error_policy("HostingService"),
        Arc::clone(&ctx),
    )
    .for_each(|_| std::future::ready(()));
    let pools_done = Controller::for_shared_stream(pool_events, license_pools)
        .with_config(config.clone())
        .graceful_shutdown_on(options.shutdown.requested())
        .run(
            counted("LicensePool", license_pool::reconcile),
            error_policy("LicensePool"),
            Arc::clone(&ctx),
        )
        .for_each(|_| std::future::ready(()));
    let server_pools_done = Controller::for_shared_stream(server_pool_events, server_pools.clone())
        .with_config(config.clone())
        .watches_shared_stream(
            service_events_for_server_pools,
            watches::referrers(server_pools.clone(), watches::any_pool),
        )
        .watches_shared_stream(
            module_events_for_server_pools,
            watches::referrers(server_pools.clone(), watches::pool_on_module),
        )
        .watches_shared_stream(
            client_events_for_server_pools,
            watches::referrers(server_pools.clone(), watches::pool_of_client),
        )
        .graceful_shutdown_on(options.shutdown.requested())
        .run(
            counted("ServerPool", server_pool::reconcile),
            error_policy("ServerPool"),
            Arc::clone(&ctx),
        )
        .for_each(|_| std::future::ready(()));
    let all_done = async {
        tokio::join!(
            tariffs_done,
            clients_done,
            services_done,
            modules_done,
            pools_done,
            server_pools_done
        )
    };
    let grace_over = async {
        options.shutdown.requested().await;
        tracing::info!(grace = ?options.shutdown_grace, "stopping: no new work; waiting for reconciles in flight");
        tokio::time::sleep(options.shutdown_grace).await;
    };
    tokio::select! {
        _ = all_done => tracing::info!("stopping: reconciles in flight finished"),
        () = grace_over => tracing::warn!("stopping: grace period over; abandoning reconciles in flight"),
    }
    Ok(())
}

/// A background task that ends with the scope that started it (the drift rounds end when the
/// controllers stop, e.g. when the lease is lost).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A stream filter that passes an object when its generation (its spec) or its deletion
/// changed since it last passed, and drops status-only updates.
fn spec_changed<K: Resource>() -> impl FnMut(&Arc<K>) -> std::future::Ready<bool> {
    let mut seen: std::collections::HashMap<String, (Option<i64>, bool)> = Default::default();
    move |object: &Arc<K>| {
        let meta = object.meta();
        let key = meta.uid.clone().unwrap_or_default();
        let now = (meta.generation, meta.deletion_timestamp.is_some());
        std::future::ready(seen.insert(key, now) != Some(now))
    }
}

/// A reconcile in flight.
type ReconcileFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Action, Error>> + Send>>;

/// Wraps a reconciler so that a success clears the object's failure count (its backoff).
fn counted<K, F, Fut>(
    kind: &'static str,
    reconcile: F,
) -> impl Fn(Arc<K>, Arc<Context>) -> ReconcileFuture
where
    K: ResourceExt + Send + Sync + 'static,
    F: Fn(Arc<K>, Arc<Context>) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Action, Error>> + Send + 'static,
{
    move |object, ctx| {
        let key = context::key(kind, &*object);
        Box::pin(async move {
            let started = std::time::Instant::now();
            crate::telemetry::in_flight(kind, 1);
            let result = reconcile(object, Arc::clone(&ctx)).await;
            crate::telemetry::in_flight(kind, -1);
            metrics::record(kind, result.is_ok(), started.elapsed());
            if let Err(error) = &result {
                crate::telemetry::counts::error(kind, error.reason().as_str());
            }
            if result.is_ok() {
                ctx.succeeded(&key);
            }
            result
        })
    }
}
