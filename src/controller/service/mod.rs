//! The HostingService reconciler.
//!
//! One pass: deletion (behind the finalizer) or paused → dereference tariff and client →
//! judge the spec with the rules of `hostplane validate` → quote and paid period (pure billing)
//! → the product's own reconcile (observe the panel, plan, act) → status and events.
//!
//! Panel failures do not fail the reconcile: they become `Ready=False` with `lastError` (how
//! many attempts, when the next one is) and a requeue with exponential backoff, so a person
//! sees them with `kubectl get`/`describe`. Only Kubernetes API failures are returned as errors.

pub mod claim;
pub mod connection;
pub mod desired;
pub mod driver;
pub mod hosting;
pub mod licenses;
pub mod placement;
pub mod plan;
pub mod software_license;
pub mod virtual_server;

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::conditions::{self, Verdict};
use super::context::{self, Context};
use super::{Error, judge, observe_annotations};
use crate::api::common::LastError;
use crate::api::hosting_service::{HostingServiceStatus, ServicePhase};
use crate::api::tariff::ProductType;
use crate::api::{Client, HostingService, PAUSED_ANNOTATION, ProcessingModule, Tariff};
use crate::billing::lifecycle::{self, Standing, SuspensionCause};
use crate::controller::reason::Reason;

/// Held on every service the controller has acted on, so that deleting it first removes (or
/// orphans) its panel account.
pub const FINALIZER: &str = "hostplane.dev/cleanup";

/// What a product's reconcile concluded.
pub struct Outcome {
    pub verdict: Verdict,
    pub phase: ServicePhase,
    /// Requeue after this long (a timer of the product, e.g. a task to poll).
    pub requeue: Option<Duration>,
}

/// A transient failure while provisioning (a panel error, a module unavailable): retried
/// with the controller's backoff.
pub fn failed(reason: Reason, message: impl Into<String>) -> Outcome {
    Outcome {
        verdict: Verdict::Failed {
            reason,
            message: message.into(),
        },
        phase: ServicePhase::Provisioning,
        requeue: None,
    }
}

/// Only a change of the spec (or of what it refers to) can help; nothing is created
/// meanwhile.
pub fn stalled(reason: Reason, message: impl Into<String>) -> Outcome {
    Outcome {
        verdict: Verdict::Stalled {
            reason,
            message: message.into(),
        },
        phase: ServicePhase::Pending,
        requeue: None,
    }
}

/// The objects a service refers to, from the caches, and where the service stands in its
/// paid life today (seed 002: active, suspended for non-payment, terminated).
pub struct Refs {
    pub tariff: Arc<Tariff>,
    pub client: Arc<Client>,
    pub standing: Standing,
}

impl Refs {
    /// `earlier` are the tariffs the service's declared tariff changes moved from
    /// ([`crate::controller::tariff_history`]): they price the days before each change.
    pub fn new(
        service: &HostingService,
        tariff: Arc<Tariff>,
        earlier: &[Arc<Tariff>],
        client: Arc<Client>,
        today: jiff::civil::Date,
        defaults: &crate::billing::policy::ProductDefaults,
    ) -> Result<Self, crate::billing::BillingError> {
        let standing = {
            let spec = defaults.apply(&tariff.spec);
            let tariffs = crate::controller::tariff_history::lookup(&tariff, earlier);
            let history =
                crate::billing::history::History::new(&tariff.spec, &tariffs, &service.spec);
            lifecycle::evaluate_history(&history, &spec, &client.spec, today)?.standing
        };
        Ok(Self {
            tariff,
            client,
            standing,
        })
    }
}

pub async fn reconcile(service: Arc<HostingService>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = service.namespace().unwrap_or_default();
    let api: Api<HostingService> = Api::namespaced(ctx.client.clone(), &ns);
    let key = context::key("HostingService", &*service);
    let mut status = ctx
        .written
        .current(&key, service.status.as_ref())
        .unwrap_or_default();
    // A pass that ended early (an API error) may have left its flag.
    ctx.take_told(&key);

    // Paused holds everything, deletion included: a person pausing a service is stopping
    // hostplane from touching its panel account, and deleting it is touching it.
    if is_paused(&service) {
        return paused(&service, &ctx, &api, status).await;
    }
    if service.meta().deletion_timestamp.is_some() {
        return cleanup(&service, &ctx, &api, status).await;
    }

    let outcome = match dereference(&service, &ctx) {
        Err(verdict) => Outcome {
            verdict,
            phase: ServicePhase::Pending,
            requeue: None,
        },
        Ok((tariff, client)) => match admit(&service, &ctx, &ns, tariff, client, &mut status) {
            Err(verdict) => Outcome {
                verdict,
                phase: ServicePhase::Pending,
                requeue: None,
            },
            Ok(refs) => run_product(&service, &refs, &ctx, &api, &mut status).await?,
        },
    };
    finish(&service, &ctx, &api, status, outcome).await
}

/// Judges the spec (the rules of `hostplane validate`), the order policies of the tariff for
/// a service not created yet, and its standing. A service that fails is `Stalled` and
/// nothing is made at a panel for it.
fn admit(
    service: &HostingService,
    ctx: &Context,
    ns: &str,
    tariff: Arc<Tariff>,
    client: Arc<Client>,
    status: &mut HostingServiceStatus,
) -> Result<Refs, Verdict> {
    let today = ctx
        .settings
        .clock
        .today_in(&crate::billing::zone::of(&tariff.spec));
    let earlier = crate::controller::tariff_history::earlier_tariffs(ctx, service);
    price(service, &tariff, &earlier, today, status);
    let order = Order {
        related: related(
            ctx.modules.state().iter().map(|m| &**m),
            ns,
            &tariff,
            &earlier,
            &client,
        ),
        earlier: &earlier,
        others: &|| earlier_services_of_client(ctx.services.state(), service),
        today,
        defaults: &ctx.settings.product_defaults,
    };
    let refs = judge_order(service, tariff, client, status.tariff.as_deref(), order)?;
    status.tariff = Some(service.spec.tariff_ref.name.clone());
    Ok(refs)
}

/// What [`judge_order`] weighs a service against besides its tariff and client.
pub struct Order<'a> {
    /// The tariff, client, earlier tariffs and modules of the namespace as validation entries.
    pub related: Vec<crate::validation::Entry>,
    /// The tariffs the service's declared tariff changes moved from.
    pub earlier: &'a [Arc<Tariff>],
    /// The client's earlier services on the same tariff (only asked for a service not
    /// created yet).
    pub others: &'a dyn Fn() -> Vec<Arc<HostingService>>,
    /// Today in the tariff's zone.
    pub today: jiff::civil::Date,
    pub defaults: &'a crate::billing::policy::ProductDefaults,
}

/// The pure half of [`admit`], shared with `hostplane plan` so that a plan and the controller
/// cannot disagree on which services are stalled and where each one stands. `priced_on` is
/// the tariff the service was last priced on (`status.tariff`).
pub fn judge_order(
    service: &HostingService,
    tariff: Arc<Tariff>,
    client: Arc<Client>,
    priced_on: Option<&str>,
    order: Order<'_>,
) -> Result<Refs, Verdict> {
    let problems = judge::problems(service, order.related);
    if !problems.is_empty() {
        return Err(Verdict::Stalled {
            reason: Reason::InvalidSpec,
            message: problems.join("; "),
        });
    }
    if let Some(message) =
        crate::controller::tariff_history::undeclared_change(&service.spec, priced_on)
    {
        return Err(Verdict::Stalled {
            reason: Reason::UndeclaredTariffChange,
            message,
        });
    }
    if !created(service) {
        let others = (order.others)();
        let others: Vec<&crate::api::HostingServiceSpec> = others.iter().map(|s| &s.spec).collect();
        if let Err(violations) =
            lifecycle::admission(&tariff.spec, &service.spec, &client.spec, &others)
        {
            let lines: Vec<String> = violations.iter().map(ToString::to_string).collect();
            return Err(Verdict::Stalled {
                reason: Reason::OrderPolicy,
                message: lines.join("; "),
            });
        }
    }
    Refs::new(
        service,
        tariff,
        order.earlier,
        client,
        order.today,
        order.defaults,
    )
    .map_err(|e| Verdict::Stalled {
        reason: Reason::InvalidSpec,
        message: e.to_string(),
    })
}

/// Whether the account should be active, and if not, why (a person reads this in the
/// `Ready` message).
pub fn suspension(refs: &Refs) -> Option<String> {
    let Standing::Suspended {
        cause,
        since,
        deletion_on,
        ..
    } = refs.standing
    else {
        return None;
    };
    Some(match cause {
        SuspensionCause::Requested => "suspended as requested (spec.suspended)".into(),
        SuspensionCause::ClientSuspended => "suspended because the client is suspended".into(),
        SuspensionCause::Unpaid => {
            let since = since.map(|d| format!(" since {d}")).unwrap_or_default();
            match deletion_on {
                Some(d) => format!(
                    "suspended for non-payment{since}; terminated on {d} unless renewed before"
                ),
                None => format!("suspended for non-payment{since}"),
            }
        }
    })
}

/// Whether hostplane may have made something at a panel for the service already.
pub(crate) fn created(service: &HostingService) -> bool {
    service
        .annotations()
        .contains_key(crate::api::EXTERNAL_NAME_ANNOTATION)
        || service
            .status
            .as_ref()
            .is_some_and(|s| s.external_name.is_some())
}

/// The client's services on the same tariff that were ordered before this one and are not
/// terminated: what "services per client" counts.
pub fn earlier_services_of_client(
    all: Vec<Arc<HostingService>>,
    service: &HostingService,
) -> Vec<Arc<HostingService>> {
    let order = |s: &HostingService| {
        (
            s.metadata.creation_timestamp.clone().map(|t| t.0),
            s.name_any(),
        )
    };
    let me = order(service);
    all.into_iter()
        .filter(|s| {
            s.namespace() == service.namespace()
                && s.name_any() != service.name_any()
                && s.spec.client_ref.name == service.spec.client_ref.name
                && s.spec.tariff_ref.name == service.spec.tariff_ref.name
                && s.status.as_ref().map(|st| st.phase) != Some(ServicePhase::Terminated)
                && order(s) < me
        })
        .collect()
}

/// Acts on the standing: nothing before the start date, the product's reconcile while the
/// service lives, the removal of its panel account once terminated. Requeues for the next
/// change of standing (a suspension day, a deletion day) without any polling loop.
async fn run_product(
    service: &HostingService,
    refs: &Refs,
    ctx: &Arc<Context>,
    api: &Api<HostingService>,
    status: &mut HostingServiceStatus,
) -> Result<Outcome, Error> {
    let timer = refs.standing.next_timer();
    let zone = crate::billing::zone::of(&refs.tariff.spec);
    let at = timer.and_then(|day| crate::billing::zone::start_of(&zone, day));
    status.next_action_at = at.map(|t| t.to_string());
    let now = ctx.settings.clock.now();
    let until_timer = at.map(|at| until(at, now));
    match refs.standing {
        Standing::Scheduled { starts_on } => {
            return Ok(Outcome {
                verdict: Verdict::Progressing {
                    reason: Reason::Scheduled,
                    message: format!("starts on {starts_on}; nothing is created before"),
                },
                phase: ServicePhase::Pending,
                requeue: until_timer,
            });
        }
        Standing::Terminated { since } => {
            return terminate(service, refs, ctx, status, since).await;
        }
        _ => {}
    }
    // Shared hosting and virtual servers write their finalizer with their claim, before the
    // create (claim.rs), so nothing is written for a service that may not claim its name.
    if refs.tariff.spec.product_type == ProductType::SoftwareLicense
        && service.spec.management_policy == crate::api::hosting_service::ManagementPolicy::Full
    {
        ensure_finalizer(service, api).await?;
    }
    let mut outcome = match refs.tariff.spec.product_type {
        ProductType::SharedHosting => hosting::reconcile(service, refs, ctx, status).await?,
        ProductType::SoftwareLicense => {
            software_license::reconcile(service, refs, ctx, status).await?
        }
        ProductType::VirtualServer => virtual_server::reconcile(service, refs, ctx, status).await?,
    };
    // The earliest timer wins: the product's own (e.g. a license renewal) or the standing's.
    outcome.requeue = match (outcome.requeue, until_timer) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(outcome)
}

/// Past the auto-deletion period (seed 002): the panel account goes; the resource stays,
/// because git owns it, with phase `Terminated`. A new order is a new service.
async fn terminate(
    service: &HostingService,
    refs: &Refs,
    ctx: &Arc<Context>,
    status: &mut HostingServiceStatus,
    since: crate::api::common::Date,
) -> Result<Outcome, Error> {
    let already = status.phase == ServicePhase::Terminated;
    if !already {
        let ns = service.namespace().unwrap_or_default();
        let module = claim::claimed_module(service)
            .or(status.processing_module.as_deref())
            .and_then(|m| Context::get(&ctx.modules, &ns, m));
        if let Some(module) = module {
            let removed = match refs.tariff.spec.product_type {
                ProductType::SharedHosting => {
                    hosting::remove(service, &module, ctx, status, driver::Removal::Terminated)
                        .await
                }
                ProductType::SoftwareLicense => {
                    software_license::remove(
                        service,
                        &module,
                        ctx,
                        status,
                        driver::Removal::Terminated,
                    )
                    .await
                }
                ProductType::VirtualServer => {
                    virtual_server::remove(
                        service,
                        &module,
                        ctx,
                        status,
                        driver::Removal::Terminated,
                    )
                    .await
                }
            };
            if let Err(message) = removed {
                return Ok(Outcome {
                    verdict: Verdict::Failed {
                        reason: Reason::TerminateFailed,
                        message,
                    },
                    phase: status.phase,
                    requeue: None,
                });
            }
        }
    }
    Ok(Outcome {
        verdict: Verdict::Progressing {
            reason: Reason::Terminated,
            message: format!(
                "terminated on {since} after the auto-deletion period; the panel account is gone. Remove the service from git, or order a new one"
            ),
        },
        phase: ServicePhase::Terminated,
        requeue: None,
    })
}

/// How long until `at`, the start of a billing day in the tariff's zone (plus a minute, so
/// the day has surely begun); zero when it is past.
fn until(at: jiff::Timestamp, now: jiff::Timestamp) -> Duration {
    let wait = at.duration_since(now);
    Duration::try_from(wait).unwrap_or_default() + Duration::from_secs(60)
}

/// Conditions, last error, phase; the status write; the events; the next requeue.
async fn finish(
    service: &HostingService,
    ctx: &Context,
    api: &Api<HostingService>,
    mut status: HostingServiceStatus,
    outcome: Outcome,
) -> Result<Action, Error> {
    let key = context::key("HostingService", service);
    let generation = service.metadata.generation;
    conditions::apply(
        &mut status.common,
        &outcome.verdict,
        generation,
        &ctx.timestamp(),
    );
    observe_annotations(&service.metadata, &mut status.common);
    crate::controller::metrics::judged("HostingService", &outcome.verdict);
    status.phase = outcome.phase;
    let action = match &outcome.verdict {
        Verdict::Failed { message, .. } => {
            let attempts = ctx.failed(&key);
            // A product's own timer (e.g. the end of a quiet period) may come before the
            // backoff: looking again early is harmless.
            let backoff = context::backoff(attempts, super::rand_unit());
            let wait = outcome.requeue.map_or(backoff, |r| r.min(backoff));
            status.common.last_error = Some(LastError {
                message: message.clone(),
                attempts,
                next_attempt_at: Some(ctx.time_after(wait)),
            });
            Action::requeue(wait)
        }
        _ => {
            ctx.succeeded(&key);
            status.common.last_error = None;
            match outcome.requeue {
                Some(after) => Action::requeue(after),
                None => Action::await_change(),
            }
        }
    };
    let name = service.name_any();
    let previous = ctx.written.current(&key, service.status.as_ref());
    // What was done at the panel (e.g. `Created`) already tells the reader that the service
    // became ready: that transition adds no second event (issue 16: writes per create).
    // Other transitions (`Terminated`, a failure) are always told.
    let told = ctx.take_told(&key) && matches!(outcome.verdict, Verdict::Ready { .. });
    let wrote = super::status::write(api, &name, previous.as_ref(), &status).await?;
    if wrote {
        ctx.written.note(&key, previous.as_ref(), &status);
    }
    if wrote && !told {
        super::announce(
            ctx,
            service,
            previous.as_ref().map(|s| &s.common),
            &outcome.verdict,
        )
        .await;
    }
    Ok(action)
}

/// The tariff and client from the caches, or a `Stalled` verdict naming what is missing: a
/// service waits for its references without touching a panel, and the watches on tariffs and
/// clients wake it when they appear.
fn dereference(
    service: &HostingService,
    ctx: &Context,
) -> Result<(Arc<Tariff>, Arc<Client>), Verdict> {
    dereference_with(
        service,
        |ns, name| Context::get(&ctx.tariffs, ns, name),
        |ns, name| Context::get(&ctx.clients, ns, name),
    )
}

/// The service's tariff and client by the given lookups (`namespace`, `name`), or `Stalled`
/// naming what is missing; shared with `hostplane plan`.
pub fn dereference_with(
    service: &HostingService,
    tariff: impl Fn(&str, &str) -> Option<Arc<Tariff>>,
    client: impl Fn(&str, &str) -> Option<Arc<Client>>,
) -> Result<(Arc<Tariff>, Arc<Client>), Verdict> {
    let ns = service.namespace().unwrap_or_default();
    let tariff = tariff(&ns, &service.spec.tariff_ref.name);
    let client = client(&ns, &service.spec.client_ref.name);
    let mut missing = Vec::new();
    if tariff.is_none() {
        missing.push(format!(
            "spec.tariffRef.name: Tariff {:?} does not exist in namespace {ns}",
            service.spec.tariff_ref.name
        ));
    }
    if client.is_none() {
        missing.push(format!(
            "spec.clientRef.name: Client {:?} does not exist in namespace {ns}",
            service.spec.client_ref.name
        ));
    }
    match (tariff, client) {
        (Some(tariff), Some(client)) => Ok((tariff, client)),
        _ => Err(Verdict::Stalled {
            reason: Reason::ReferenceNotFound,
            message: missing.join("; "),
        }),
    }
}

/// The validation set a service is judged in: its tariff, its client, the namespace's
/// modules, and the client's other services (for services-per-client).
pub fn related<'m>(
    modules: impl Iterator<Item = &'m ProcessingModule>,
    ns: &str,
    tariff: &Tariff,
    earlier: &[Arc<Tariff>],
    client: &Client,
) -> Vec<crate::validation::Entry> {
    let mut set = vec![judge::entry(tariff), judge::entry(client)];
    set.extend(earlier.iter().map(|t| judge::entry(&**t)));
    set.extend(
        modules
            .filter(|m| m.namespace().as_deref() == Some(ns))
            .map(judge::entry),
    );
    set
}

/// The quote and paid period in status: pure functions of the spec and the tariff, so they
/// are the same on every reconcile and re-applying the YAML never renews twice.
fn price(
    service: &HostingService,
    tariff: &Tariff,
    earlier: &[Arc<Tariff>],
    today: jiff::civil::Date,
    status: &mut HostingServiceStatus,
) {
    let tariffs = crate::controller::tariff_history::lookup(tariff, earlier);
    let today = crate::api::common::Date(today);
    match crate::billing::quote::quote_with_events(&tariff.spec, &tariffs, &service.spec, today) {
        Ok(q) => {
            status.paid_until = Some(q.paid.paid_until());
            status.quote = Some(q.quote);
        }
        Err(_) => {
            // The judge reports the same problem with its field; nothing to quote.
            status.quote = None;
        }
    }
}

/// Set by a person to let a service whose module is gone be deleted without removing what it
/// holds at that panel.
pub const FORCE_RELEASE_ANNOTATION: &str = "hostplane.dev/force-release";

fn force_released(service: &HostingService) -> bool {
    service
        .annotations()
        .get(FORCE_RELEASE_ANNOTATION)
        .is_some_and(|v| v == "true")
}

fn is_paused(service: &HostingService) -> bool {
    service
        .annotations()
        .get(PAUSED_ANNOTATION)
        .is_some_and(|v| v != "false")
}

/// A paused service is left alone: `Synced=False` says so, and an event marks the moment.
async fn paused(
    service: &HostingService,
    ctx: &Context,
    api: &Api<HostingService>,
    mut status: HostingServiceStatus,
) -> Result<Action, Error> {
    let was =
        conditions::status_of(&status.common.conditions, conditions::SYNCED).is_some_and(|_| {
            status.common.conditions.iter().any(|c| {
                c.type_ == conditions::SYNCED && c.reason == Reason::ReconcilePaused.as_str()
            })
        });
    conditions::set(
        &mut status.common.conditions,
        conditions::SYNCED,
        crate::api::common::ConditionStatus::False,
        Reason::ReconcilePaused.as_str(),
        &if service.meta().deletion_timestamp.is_some() {
            format!(
                "the {PAUSED_ANNOTATION} annotation is set; the deletion waits, nothing is removed at the panel until it is removed"
            )
        } else {
            format!("the {PAUSED_ANNOTATION} annotation is set; no change is made at the panel")
        },
        service.metadata.generation,
        &ctx.timestamp(),
    );
    observe_annotations(&service.metadata, &mut status.common);
    let key = context::key("HostingService", service);
    let previous = ctx.written.current(&key, service.status.as_ref());
    if super::status::write(api, &service.name_any(), previous.as_ref(), &status).await? {
        ctx.written.note(&key, previous.as_ref(), &status);
    }
    if !was {
        ctx.event(
            service,
            EventType::Normal,
            Reason::ReconcilePaused,
            format!("{PAUSED_ANNOTATION} is set: changes are held until it is removed"),
        )
        .await;
    }
    Ok(Action::await_change())
}

pub(super) async fn ensure_finalizer(
    service: &HostingService,
    api: &Api<HostingService>,
) -> Result<(), Error> {
    if service.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(());
    }
    let mut finalizers = service.finalizers().to_vec();
    finalizers.push(FINALIZER.to_owned());
    patch_finalizers(service, api, finalizers).await
}

/// The service's finalizers less hostplane's own.
pub(super) fn finalizers_without_ours(service: &HostingService) -> Vec<String> {
    service
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect()
}

/// Replaces the finalizer list, guarded by the resourceVersion so a concurrent change by
/// another controller is not lost (the conflict is retried by the next reconcile).
async fn patch_finalizers(
    service: &HostingService,
    api: &Api<HostingService>,
    finalizers: Vec<String>,
) -> Result<(), Error> {
    let patch = json!({
        "metadata": {
            "resourceVersion": service.resource_version(),
            "finalizers": finalizers,
        }
    });
    api.patch(
        &service.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// Deletion: the product removes (or, with `deletionPolicy: Orphan` or `ObserveOnly`, keeps)
/// the panel account, then the finalizer goes and Kubernetes deletes the object.
async fn cleanup(
    service: &HostingService,
    ctx: &Arc<Context>,
    api: &Api<HostingService>,
    mut status: HostingServiceStatus,
) -> Result<Action, Error> {
    if !service.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let ns = service.namespace().unwrap_or_default();
    let module_name = claim::claimed_module(service)
        .map(str::to_owned)
        .or_else(|| status.processing_module.clone());
    let module = module_name
        .as_deref()
        .and_then(|m| Context::get(&ctx.modules, &ns, m));
    if let (Some(name), None) = (&module_name, &module) {
        // What the service holds at that panel cannot be removed without the module; letting
        // the finalizer go would leak a paid server or license silently.
        if !force_released(service) {
            let outcome = stalled(
                Reason::ModuleMissing,
                format!(
                    "processing module {name:?} is gone, so what this service holds there cannot be removed; restore the module, or set the annotation {FORCE_RELEASE_ANNOTATION}: \"true\" to let the service go and leave its panel resources as they are"
                ),
            );
            status.phase = ServicePhase::Deleting;
            let outcome = Outcome {
                phase: ServicePhase::Deleting,
                ..outcome
            };
            return finish(service, ctx, api, status, outcome).await;
        }
        ctx.event(
            service,
            EventType::Warning,
            Reason::ForceReleased,
            format!(
                "processing module {name:?} is gone and {FORCE_RELEASE_ANNOTATION} is set: the service is let go, its panel resources are left as they are"
            ),
        )
        .await;
    }
    let result = match module.clone() {
        Some(module) if module.spec.type_ == crate::api::ModuleType::Licensing => {
            software_license::remove(service, &module, ctx, &mut status, driver::Removal::Deleted)
                .await
        }
        Some(module) if module.spec.type_ == crate::api::ModuleType::VMmanager => {
            virtual_server::remove(service, &module, ctx, &mut status, driver::Removal::Deleted)
                .await
        }
        Some(module) => {
            hosting::remove(service, &module, ctx, &status, driver::Removal::Deleted).await
        }
        None => Ok(()),
    };
    match result {
        Ok(()) => {
            if let Some(module) = &module {
                claim::forget(ctx, service, module);
            }
            patch_finalizers(service, api, finalizers_without_ours(service)).await?;
            Ok(Action::await_change())
        }
        Err(message) => {
            let outcome = Outcome {
                verdict: Verdict::Failed {
                    reason: Reason::DeleteFailed,
                    message,
                },
                phase: ServicePhase::Deleting,
                requeue: None,
            };
            status.phase = ServicePhase::Deleting;
            finish(service, ctx, api, status, outcome).await
        }
    }
}

/// A filter for watch events that lets through what can change the outcome of a reconcile
/// (spec, annotations, labels, finalizers, deletion) and drops status-only updates: the
/// controller's own status writes would otherwise cost a reconcile each.
pub fn spec_changes() -> impl FnMut(&Arc<HostingService>) -> bool + Send + 'static {
    let mut seen: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    move |s: &Arc<HostingService>| {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let meta = s.meta();
        meta.generation.hash(&mut h);
        meta.annotations.hash(&mut h);
        meta.labels.hash(&mut h);
        meta.finalizers.hash(&mut h);
        meta.deletion_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .hash(&mut h);
        let key = meta.uid.clone().unwrap_or_else(|| s.name_any());
        seen.insert(key, h.finish()) != Some(h.finish())
    }
}

/// The module a service lives on, for drift checks and cleanup.
pub fn placed_on(service: &HostingService) -> Option<&str> {
    service
        .status
        .as_ref()
        .and_then(|s| s.processing_module.as_deref())
}

/// Whether a module is an ispmanager module.
pub fn is_ispmanager(module: &ProcessingModule) -> bool {
    module.spec.type_ == crate::api::processing_module::ModuleType::ISPmanager
}
