//! Virtual servers on VMmanager 6 and 5 (seed 004): place the service on a VMmanager module,
//! make (or find) the owner account of the client, make the host with the tariff's
//! configuration or take a matching one from the module's `ServerPool`, report it `Ready`
//! once the OS template (or the recipe, per the module's `deploymentComplete`) is installed,
//! keep it stopped or running as its standing says, apply OS, CPU, RAM and disk changes
//! ([`plan`]: one step per reconcile, disks only grow, an OS change reinstalls), and remove
//! or orphan it on deletion.
//!
//! Layout: [`desired`] (what the spec and tariff ask for, pure), [`plan`] (the next change to
//! an existing server, pure), `vm6` and `vm5` (each panel version's calls), this file (the
//! reconcile, the control-panel license, placement, deletion).
//!
//! Crash safety, as for shared hosting, is the driver's ([`super::driver`]; `external.rs` is
//! each version's lookup, create and delete): the host name is claimed before the create call
//! (or before a pooled server is renamed for the buyer); after a lost answer or a restart the
//! host is looked up by name before anything is created again. A host of that name hostplane
//! did not claim stops the service (`HostExists`) instead of being taken over, and on
//! VMmanager 6 only hosts carrying the service's marker in their comment are managed or
//! deleted: a stranger's host of the same name is never touched.
//!
//! Nothing waits for a panel task inside a reconcile: a mutation is sent, and the service is
//! requeued every [`TASK_POLL`] until the host shows the result. With the module's
//! `serializeOperations`, a mutation is only sent while no task of the same kind runs at the
//! module, in one queue per operation type (seed 004, "Run operations in the queue").

mod desired;
mod external;
pub(crate) mod plan;
mod vm5;
mod vm6;

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::events::EventType;

use super::connection::{self, Connection};
use super::placement;
use super::{Outcome, Refs, claim, driver, failed, stalled};
use crate::api::hosting_service::{HostingServiceStatus, ManagementPolicy, ServicePhase};
use crate::api::processing_module::{ModuleType, VmManagerApiVersion, VmManagerSettings};
use crate::api::{EXTERNAL_NAME_ANNOTATION, HostingService, ProcessingModule};
use crate::controller::Error;
use crate::controller::conditions::Verdict;
use crate::controller::context::Context;
use crate::controller::reason::Reason;

pub use desired::{
    DesiredServer, control_panel_option, default_host_name, desired_server, license_need,
    license_type_for,
};
pub use plan::{Observed, os_matches};
pub use vm5::{main_disk, observed as vm5_observed, vm5_user_name};
pub use vm6::{HostPlan, OwnerError, ResolveError, observed as vm6_observed, owner_account};

/// How often a service whose server is installing, or has a task running, is looked at again.
pub const TASK_POLL: Duration = Duration::from_secs(3);

/// The task VMmanager 6 runs a recipe in after the OS install.
pub const RECIPE_TASK: &str = "host_recipe";

fn progressing(reason: Reason, message: impl Into<String>, phase: ServicePhase) -> Outcome {
    Outcome {
        verdict: Verdict::Progressing {
            reason,
            message: message.into(),
        },
        phase,
        requeue: Some(TASK_POLL),
    }
}

/// The VMmanager settings of a module (defaults when the block is absent).
pub fn settings_of(module: &ProcessingModule) -> VmManagerSettings {
    module.spec.vmmanager.clone().unwrap_or_default()
}

/// The queue lock of one operation type at a module.
fn queue_name(module: &ProcessingModule, operation: &str) -> String {
    format!(
        "{}/{}/{operation}",
        module.namespace().unwrap_or_default(),
        module.name_any()
    )
}

pub async fn reconcile(
    service: &HostingService,
    refs: &Refs,
    ctx: &Context,
    status: &mut HostingServiceStatus,
) -> Result<Outcome, Error> {
    let module = match placement::module_for(service, refs, ctx, status, ModuleType::VMmanager) {
        Ok(m) => m,
        Err(outcome) => return Ok(outcome),
    };
    let settings = settings_of(&module);
    let desired = match desired_server(&service.spec, &refs.tariff.spec, settings.use_recipes) {
        Ok(d) => d,
        Err(message) => return Ok(stalled(Reason::InvalidSpec, message)),
    };
    status.processing_module = Some(module.name_any());
    let ns = service.namespace().unwrap_or_default();
    let recorded = service.annotations().get(EXTERNAL_NAME_ANNOTATION).cloned();
    let name = recorded
        .clone()
        .unwrap_or_else(|| default_host_name(&ns, &service.name_any()));
    let record = driver::record(ctx, service, &module, &name);
    let base = Base {
        service,
        refs,
        ctx,
        module: &module,
        settings: &settings,
        desired: &desired,
        name: &name,
        record: &record,
    };
    let unavailable = |e: crate::controller::panels::SetupError| {
        failed(
            Reason::ModuleUnavailable,
            format!("processing module {}: {e}", module.name_any()),
        )
    };
    let outcome = match settings.api_version {
        VmManagerApiVersion::V6 => match ctx.panels.vmmanager6(&ctx.client, &module).await {
            Ok(vm) => {
                let host = external::Vm6Host {
                    vm: vm.clone(),
                    name: name.clone(),
                    marker: vm6::marker_for(service),
                    handed_over: service.spec.management_policy == ManagementPolicy::ObserveOnly
                        || record.provenance == claim::Provenance::HandedOver,
                };
                base.drive(&host, status, async |run, seen, status| {
                    run.vm6(&vm, &host, seen, status).await
                })
                .await?
            }
            Err(e) => unavailable(e),
        },
        VmManagerApiVersion::V5 => match ctx.panels.vmmanager5(&ctx.client, &module).await {
            Ok(vm) => {
                let machine = external::Vm5Machine {
                    vm: vm.clone(),
                    name: name.clone(),
                };
                base.drive(&machine, status, async |run, seen, status| {
                    run.vm5(&vm, &machine, seen, status).await
                })
                .await?
            }
            Err(e) => unavailable(e),
        },
    };
    if matches!(outcome.verdict, Verdict::Ready { .. }) {
        status.external_name = Some(name);
        status.tariff_generation = refs.tariff.metadata.generation;
    }
    control_panel_license(service, refs, ctx, &module, status, outcome).await
}

/// The control-panel license addon (seed 001): once the server has its IP, while the OS still
/// installs, the license its chosen panel needs is ensured at the VMmanager module's licensing
/// module (taken from the pool or ordered once, with the server's IP), and it follows the
/// service from then on (suspension, renewal). A failure here holds the service back.
async fn control_panel_license(
    service: &HostingService,
    refs: &Refs,
    ctx: &Context,
    module: &ProcessingModule,
    status: &mut HostingServiceStatus,
    mut outcome: Outcome,
) -> Result<Outcome, Error> {
    if service.spec.management_policy == ManagementPolicy::ObserveOnly {
        // Observing takes, orders, prolongs, suspends and renames nothing: the license of an
        // observed server is the business of whoever manages that server.
        return Ok(outcome);
    }
    let Some((license_type,)) = license_need(refs, service) else {
        // No panel (any more): a license still recorded goes to the pool, paid for as it is.
        if status.license.is_some()
            && let Some(licensing) = licensing_module_of(ctx, module)
            && let Err(e) = crate::controller::service::licenses::release_unneeded(
                ctx,
                service,
                &licensing,
                crate::pools::naming::LicenseKind::Addon,
                status,
            )
            .await
        {
            return Ok(failed(
                Reason::PanelError,
                format!("releasing the control-panel license to the pool: {e}"),
            ));
        }
        return Ok(outcome);
    };
    let Some(ip) = status.ip.clone() else {
        return Ok(outcome);
    };
    // A server that is up follows its license even when something else is wrong (a refused
    // disk size): the license's renewal must not wait for that.
    let deployed = matches!(
        outcome.phase,
        ServicePhase::Active | ServicePhase::Suspended
    );
    if !deployed
        && matches!(
            outcome.verdict,
            Verdict::Stalled { .. } | Verdict::Failed { .. }
        )
    {
        return Ok(outcome);
    }
    let Some(licensing) = licensing_module_of(ctx, module) else {
        return Ok(stalled(
            Reason::ReferenceNotFound,
            format!(
                "the tariff sells a control-panel license, but processing module {} has no existing spec.vmmanager.licensingModuleRef",
                module.name_any()
            ),
        ));
    };
    let need = crate::controller::service::licenses::Need {
        license_type,
        ip,
        kind: crate::pools::naming::LicenseKind::Addon,
        period: service.spec.period,
        nodes: None,
    };
    match crate::controller::service::licenses::ensure(
        ctx, service, refs, &need, &licensing, status,
    )
    .await
    {
        Ok(ensured) => {
            let renewal = ensured.requeue(ctx.settings.clock.now());
            outcome.requeue = match (outcome.requeue, renewal) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            Ok(outcome)
        }
        Err(license_outcome) => Ok(license_outcome),
    }
}

/// The licensing module a VMmanager module orders control-panel licenses from.
fn licensing_module_of(ctx: &Context, module: &ProcessingModule) -> Option<Arc<ProcessingModule>> {
    let name = licensing_module_name(module)?;
    Context::get(&ctx.modules, &module.namespace().unwrap_or_default(), name)
}

/// The name of the licensing module a VMmanager module names (`vmmanager.licensingModuleRef`).
pub fn licensing_module_name(module: &ProcessingModule) -> Option<&str> {
    let reference = module
        .spec
        .vmmanager
        .as_ref()?
        .licensing_module_ref
        .as_ref()?;
    Some(&reference.name)
}

/// What one reconcile of one service knows before it looks at the panel.
#[derive(Clone, Copy)]
struct Base<'a> {
    service: &'a HostingService,
    refs: &'a Refs,
    ctx: &'a Context,
    module: &'a ProcessingModule,
    settings: &'a VmManagerSettings,
    desired: &'a DesiredServer,
    name: &'a str,
    record: &'a driver::Record,
}

impl<'a> Base<'a> {
    /// Looks the server up and applies the claim rules ([`driver::observe`]); then, and only
    /// then, the connection Secret is prepared (nothing is written for a service that may not
    /// act on its name).
    async fn observe<E: driver::External>(
        &self,
        external: &E,
    ) -> Result<Result<(driver::Seen<E::Observed>, Connection), Outcome>, Error> {
        let seen = match driver::observe(self.record, &mut self.ledger(), external).await? {
            Ok(seen) => seen,
            Err(outcome) => return Ok(Err(outcome)),
        };
        if matches!(seen, driver::Seen::Observe(_)) {
            return Ok(Ok((seen, connection::unpublished())));
        }
        Ok(match connection::prepare(self.ctx, self.service).await? {
            Ok(connection) => Ok((seen, connection)),
            Err(refused) => Err(stalled(Reason::SecretNotOwned, refused.to_string())),
        })
    }

    fn ledger(&self) -> driver::ClusterLedger<'a> {
        driver::ClusterLedger {
            ctx: self.ctx,
            service: self.service,
            module: self.module,
            name: self.name,
        }
    }

    /// Observes (see [`Base::observe`]), then lets `act` converge what was seen, and publishes
    /// the connection Secret once the server is ready.
    async fn drive<E: driver::External>(
        self,
        external: &E,
        status: &mut HostingServiceStatus,
        act: impl AsyncFnOnce(
            &Run<'_>,
            driver::Seen<E::Observed>,
            &mut HostingServiceStatus,
        ) -> Result<Outcome, Error>,
    ) -> Result<Outcome, Error> {
        match self.observe(external).await? {
            Err(outcome) => Ok(outcome),
            Ok((seen, connection)) => {
                let run = self.with(&connection);
                let outcome = act(&run, seen, status).await?;
                run.publish_when_ready(&outcome, status.ip.as_deref())
                    .await?;
                Ok(outcome)
            }
        }
    }

    fn with<'b>(self, connection: &'b Connection) -> Run<'b>
    where
        'a: 'b,
    {
        Run {
            base: self,
            connection,
        }
    }
}

/// One reconcile of one service, once its server was looked up.
struct Run<'a> {
    base: Base<'a>,
    /// The root password (and the Secret it is published in).
    connection: &'a Connection,
}

impl<'a> std::ops::Deref for Run<'a> {
    type Target = Base<'a>;
    fn deref(&self) -> &Base<'a> {
        &self.base
    }
}

impl Run<'_> {
    fn module_name(&self) -> String {
        self.module.name_any()
    }

    /// Once the server is ready: writes the connection Secret's keys (`root`, the panel URL,
    /// the IP) and records the password as applied; nothing without
    /// `writeConnectionSecretToRef`, nothing for an observed server.
    async fn publish_when_ready(&self, outcome: &Outcome, ip: Option<&str>) -> Result<(), Error> {
        if !matches!(outcome.verdict, Verdict::Ready { .. })
            || self.service.spec.management_policy == ManagementPolicy::ObserveOnly
        {
            return Ok(());
        }
        self.publish(ip).await
    }

    /// Writes the connection Secret's keys (`root`, the panel URL, the IP) and records the
    /// password as applied; nothing without `writeConnectionSecretToRef`.
    async fn publish(&self, ip: Option<&str>) -> Result<(), Error> {
        let extra: Vec<(&str, &str)> = ip.map(|ip| (connection::IP, ip)).into_iter().collect();
        connection::publish(
            &self.ctx.client,
            self.service,
            self.connection,
            "root",
            &self.module.spec.url,
            None,
            &extra,
        )
        .await?;
        Ok(())
    }

    async fn event(&self, reason: Reason, note: String) {
        self.ctx
            .event(self.service, EventType::Normal, reason, note)
            .await;
    }

    /// The queue of `operation` when the module serializes operations.
    async fn enqueue(&self, operation: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        if !self.settings.serialize_operations {
            return None;
        }
        let lock = self
            .ctx
            .vm_queues
            .queue(&queue_name(self.module, operation));
        Some(lock.lock_owned().await)
    }

    fn ready(&self, running: bool) -> Outcome {
        match super::suspension(self.refs) {
            None if running => Outcome {
                verdict: Verdict::Ready {
                    reason: Reason::Available,
                    message: String::new(),
                },
                phase: ServicePhase::Active,
                requeue: None,
            },
            Some(why) if !running => Outcome {
                verdict: Verdict::Ready {
                    reason: Reason::Suspended,
                    message: why,
                },
                phase: ServicePhase::Suspended,
                requeue: None,
            },
            _ => progressing(
                Reason::PowerChanging,
                "waiting for the server to start or stop",
                ServicePhase::Provisioning,
            ),
        }
    }
}

fn phase_now(running: bool) -> ServicePhase {
    if running {
        ServicePhase::Active
    } else {
        ServicePhase::Suspended
    }
}

fn queued(operation: &str, phase: ServicePhase) -> Outcome {
    progressing(
        Reason::Queued,
        format!("waiting for the module's {operation} queue (serializeOperations)"),
        phase,
    )
}

/// Claims the host name (with the finalizer) before a pooled server is renamed for the
/// service or a host is created; the create itself goes through [`driver::create`], after
/// any queue wait, with the record this returns (the claim made here counted).
async fn claim_name(run: &Run<'_>) -> Result<Result<driver::Record, Outcome>, Error> {
    Ok(match driver::claim(run.record, &mut run.ledger()).await? {
        Some(outcome) => Err(outcome),
        None => Ok(run.record.after_claim()),
    })
}

/// Removes the server. `ObserveOnly` services never touch the panel; `Orphan` keeps the
/// server ([`super::driver::Removal::keeps`]). Not found counts as done.
pub async fn remove(
    service: &HostingService,
    module: &ProcessingModule,
    ctx: &Context,
    status: &mut HostingServiceStatus,
    why: super::driver::Removal,
) -> Result<(), String> {
    // The control-panel license goes to the pool first: it is paid for, and the server it was
    // bound to is about to go.
    if status.license.is_some()
        && let Some(licensing) = licensing_module_of(ctx, module)
    {
        crate::controller::service::licenses::release(
            ctx,
            service,
            &licensing,
            crate::pools::naming::LicenseKind::Addon,
            status,
            why,
        )
        .await?;
    }
    let name = super::hosting::recorded_name(service, status);
    let host_name = name.clone().unwrap_or_default();
    let record = driver::record(ctx, service, module, &host_name);
    let removed = match settings_of(module).api_version {
        VmManagerApiVersion::V6 => {
            driver::remove(&record, why, name.as_deref(), async || {
                Ok(external::Vm6Host {
                    vm: driver::connect(ctx.panels.vmmanager6(&ctx.client, module).await, module)?,
                    name: host_name.clone(),
                    marker: vm6::marker_for(service),
                    handed_over: record.provenance == claim::Provenance::HandedOver,
                })
            })
            .await?
        }
        VmManagerApiVersion::V5 => {
            driver::remove(&record, why, name.as_deref(), async || {
                Ok(external::Vm5Machine {
                    vm: driver::connect(ctx.panels.vmmanager5(&ctx.client, module).await, module)?,
                    name: host_name.clone(),
                })
            })
            .await?
        }
    };
    driver::announce_removal(
        ctx,
        service,
        module,
        "VMmanager host",
        name.as_deref(),
        &removed,
    )
    .await;
    Ok(())
}
