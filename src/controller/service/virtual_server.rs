//! Virtual servers on VMmanager 6 and 5 (seed 004): place the service on a VMmanager module,
//! make (or find) the owner account of the client, make the host with the tariff's
//! configuration or take a matching one from the module's `ServerPool`, report it `Ready`
//! once the OS template (or the recipe, per the module's `deploymentComplete`) is installed,
//! keep it stopped or running as its standing says, apply CPU and RAM changes, and remove or
//! orphan it on deletion.
//!
//! Crash safety, as for shared hosting: the host name is recorded in the
//! `hostplane.dev/external-name` annotation before the create call (or before a pooled server
//! is renamed for the buyer); after a lost answer or a restart the host is looked up by name
//! before anything is created again. A host of that name hostplane did not record stops the
//! service (`HostExists`) instead of being taken over.
//!
//! Nothing waits for a panel task inside a reconcile: a mutation is sent, and the service is
//! requeued every [`TASK_POLL`] until the host shows the result. With the module's
//! `serializeOperations`, a mutation is only sent while no task of the same kind runs at the
//! module, in one queue per operation type (seed 004, "Run operations in the queue").

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;

use super::placement::{self, Candidate};
use super::{Outcome, Refs, connection};
use crate::api::hosting_service::{
    DeletionPolicy, HostingServiceStatus, ManagementPolicy, ServicePhase,
};
use crate::api::processing_module::{
    DeploymentComplete, ModuleType, VmManagerApiVersion, VmManagerSettings,
};
use crate::api::tariff::ResourceKind;
use crate::api::{EXTERNAL_NAME_ANNOTATION, HostingService, ProcessingModule, ServerPool};
use crate::controller::Error;
use crate::controller::conditions::Verdict;
use crate::controller::context::Context;
use crate::panel::PanelError;
use crate::panel::vmmanager5::{NewVm, Vm, Vm5};
use crate::panel::vmmanager6::{
    Host, HostState, NewAccount, NewHost, ResourceChange, TaskStatus, Vm6Client, Where, task_names,
};
use crate::pools::server_pool::{self as pool_rules, ServerShape};

/// How often a service whose server is installing, or has a task running, is looked at again.
pub const TASK_POLL: Duration = Duration::from_secs(3);

/// The task VMmanager 6 runs a recipe in after the OS install.
pub const RECIPE_TASK: &str = "host_recipe";

fn failed(reason: &str, message: impl Into<String>) -> Outcome {
    Outcome {
        verdict: Verdict::Failed {
            reason: reason.into(),
            message: message.into(),
        },
        phase: ServicePhase::Provisioning,
        requeue: None,
    }
}

fn stalled(reason: &str, message: impl Into<String>) -> Outcome {
    Outcome {
        verdict: Verdict::Stalled {
            reason: reason.into(),
            message: message.into(),
        },
        phase: ServicePhase::Pending,
        requeue: None,
    }
}

fn progressing(reason: &str, message: impl Into<String>, phase: ServicePhase) -> Outcome {
    Outcome {
        verdict: Verdict::Progressing {
            reason: reason.into(),
            message: message.into(),
        },
        phase,
        requeue: Some(TASK_POLL),
    }
}

/// The control-panel license the service's server needs (seed 001): the service's
/// `controlPanel`, else the addon's default, mapped through the tariff's control-panel
/// enumeration to its license type (the licensing server's pricelist id). `None` when the
/// tariff has no addon, the choice is unknown, or the option is `nopanel`.
pub fn license_need(refs: &Refs, service: &HostingService) -> Option<(String,)> {
    license_type_for(&refs.tariff.spec, &service.spec).map(|t| (t,))
}

/// [`license_need`] on the specs alone.
pub fn license_type_for(
    tariff: &crate::api::TariffSpec,
    service: &crate::api::HostingServiceSpec,
) -> Option<String> {
    let addon = tariff
        .virtual_server
        .as_ref()?
        .control_panel_license
        .as_ref()?;
    let chosen = service.control_panel.as_deref().unwrap_or(&addon.default);
    let option = addon.options.iter().find(|o| o.name == chosen)?;
    (option.license_type != "nopanel").then(|| option.license_type.clone())
}

/// The server a service asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredServer {
    /// The OS: the service's choice or the tariff's default.
    pub operating_system: String,
    pub cpu_cores: u32,
    pub memory_mib: u32,
    pub disk_gib: u32,
    pub ipv4_addresses: u32,
    /// The tariff's recipe, when the module uses recipes.
    pub recipe: Option<String>,
    /// VMmanager 5 preset.
    pub preset: Option<String>,
    pub domain: Option<String>,
}

impl DesiredServer {
    /// The pool shape of this server (seed 004 matching).
    pub fn shape(&self) -> ServerShape<'_> {
        ServerShape {
            operating_system: &self.operating_system,
            cpu_cores: self.cpu_cores,
            memory_mib: self.memory_mib,
            disk_gib: self.disk_gib,
            recipe: self.recipe.as_deref(),
        }
    }
}

/// The server of a service from its tariff's `virtualServer` block and its resources: a
/// quantity the service declares, else the tariff resource's included amount, else the
/// block's value. Disk resources are MiB and round up to whole GiB.
pub fn desired_server(
    service: &crate::api::HostingServiceSpec,
    tariff: &crate::api::TariffSpec,
    use_recipes: bool,
) -> Result<DesiredServer, String> {
    let vs = tariff
        .virtual_server
        .as_ref()
        .ok_or("the tariff has no virtualServer block")?;
    let amount = |kind: ResourceKind| -> Option<u64> {
        service
            .resources
            .iter()
            .find(|r| r.name == kind)
            .map(|r| r.quantity)
            .or_else(|| {
                tariff
                    .resources
                    .iter()
                    .find(|r| r.name == kind)
                    .map(|r| r.included)
            })
    };
    let small =
        |v: u64, what: &str| u32::try_from(v).map_err(|_| format!("{what} {v} is too large"));
    let cpu_cores = match amount(ResourceKind::CpuCores) {
        Some(v) => small(v, "cpuCores")?,
        None => vs.cpu_cores,
    };
    let memory_mib = match amount(ResourceKind::Memory) {
        Some(v) => small(v, "memory")?,
        None => vs.memory_mib,
    };
    let disk_gib = match amount(ResourceKind::DiskSpace) {
        Some(v) => small(v.div_ceil(1024), "diskSpace")?,
        None => vs.disk_gib,
    };
    let ipv4_addresses = match amount(ResourceKind::Ipv4Addresses) {
        Some(v) => small(v, "ipv4Addresses")?,
        None => vs.ipv4_addresses,
    };
    let operating_system = service
        .operating_system
        .clone()
        .or_else(|| vs.default_operating_system.clone())
        .or_else(|| vs.operating_systems.first().cloned())
        .ok_or("the tariff lists no operating system")?;
    if cpu_cores == 0 || memory_mib == 0 || disk_gib == 0 {
        return Err("CPU cores, memory and disk must be above zero".into());
    }
    Ok(DesiredServer {
        operating_system,
        cpu_cores,
        memory_mib,
        disk_gib,
        ipv4_addresses,
        recipe: vs.recipe.clone().filter(|_| use_recipes),
        preset: vs.preset.clone(),
        domain: service.domain.clone(),
    })
}

/// The host name of a service when nothing is recorded yet: `<namespace>-<name>`, at most 63
/// characters.
pub fn default_host_name(namespace: &str, name: &str) -> String {
    let mut full = format!("{namespace}-{name}");
    full.truncate(63);
    full.trim_end_matches('-').to_owned()
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

/// Whether a task of `operation` still runs at the module (serialized operations).
async fn queue_busy(vm: &Vm6Client, operation: &str) -> Result<bool, PanelError> {
    let tasks = vm.list_tasks(Some(&Where::eq("name", operation))).await?;
    Ok(tasks.iter().any(|t| !t.status.is_terminal()))
}

/// Whether any task of the host is unfinished (the panel refuses changes meanwhile).
async fn host_busy(vm: &Vm6Client, host: u64) -> Result<bool, PanelError> {
    let tasks = vm.list_tasks(Some(&Where::eq("host", host))).await?;
    Ok(tasks.iter().any(|t| !t.status.is_terminal()))
}

pub async fn reconcile(
    service: &HostingService,
    refs: &Refs,
    ctx: &Context,
    status: &mut HostingServiceStatus,
) -> Result<Outcome, Error> {
    let module = match choose_module(service, refs, ctx, status) {
        Ok(m) => m,
        Err(outcome) => return Ok(outcome),
    };
    let settings = settings_of(&module);
    let desired = match desired_server(&service.spec, &refs.tariff.spec, settings.use_recipes) {
        Ok(d) => d,
        Err(message) => return Ok(stalled("InvalidSpec", message)),
    };
    status.processing_module = Some(module.name_any());
    let ns = service.namespace().unwrap_or_default();
    let recorded = service.annotations().get(EXTERNAL_NAME_ANNOTATION).cloned();
    let name = recorded
        .clone()
        .unwrap_or_else(|| default_host_name(&ns, &service.name_any()));
    let run = Run {
        service,
        refs,
        ctx,
        module: &module,
        settings: &settings,
        desired: &desired,
        name: &name,
        recorded: recorded.is_some(),
    };
    let outcome = match settings.api_version {
        VmManagerApiVersion::V6 => match ctx.panels.vmmanager6(&ctx.client, &module).await {
            Ok(vm) => run.vm6(&vm, status).await?,
            Err(e) => failed(
                "ModuleUnavailable",
                format!("processing module {}: {e}", module.name_any()),
            ),
        },
        VmManagerApiVersion::V5 => match ctx.panels.vmmanager5(&ctx.client, &module).await {
            Ok(vm) => run.vm5(&vm, status).await?,
            Err(e) => failed(
                "ModuleUnavailable",
                format!("processing module {}: {e}", module.name_any()),
            ),
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
    let (Some((license_type,)), Some(ip)) = (license_need(refs, service), status.ip.clone()) else {
        return Ok(outcome);
    };
    if matches!(
        outcome.verdict,
        Verdict::Stalled { .. } | Verdict::Failed { .. }
    ) {
        return Ok(outcome);
    }
    let Some(licensing) = licensing_module_of(ctx, module) else {
        return Ok(stalled(
            "ReferenceNotFound",
            format!(
                "the tariff sells a control-panel license, but processing module {} has no existing spec.vmmanager.licensingModuleRef",
                module.name_any()
            ),
        ));
    };
    let need = crate::controller::licenses::Need {
        license_type,
        ip,
        kind: crate::pools::naming::LicenseKind::Addon,
        period: service.spec.period,
        nodes: None,
    };
    match crate::controller::licenses::ensure(ctx, service, refs, &need, &licensing, status).await {
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
    let name = &module
        .spec
        .vmmanager
        .as_ref()?
        .licensing_module_ref
        .as_ref()?
        .name;
    Context::get(&ctx.modules, &module.namespace().unwrap_or_default(), name)
}

/// One reconcile of one service.
struct Run<'a> {
    service: &'a HostingService,
    refs: &'a Refs,
    ctx: &'a Context,
    module: &'a ProcessingModule,
    settings: &'a VmManagerSettings,
    desired: &'a DesiredServer,
    name: &'a str,
    recorded: bool,
}

impl Run<'_> {
    fn module_name(&self) -> String {
        self.module.name_any()
    }

    async fn event(&self, reason: &str, note: String) {
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
        match super::hosting::suspension(self.refs) {
            None if running => Outcome {
                verdict: Verdict::Ready {
                    reason: "Available".into(),
                    message: String::new(),
                },
                phase: ServicePhase::Active,
                requeue: None,
            },
            Some(why) if !running => Outcome {
                verdict: Verdict::Ready {
                    reason: "Suspended".into(),
                    message: why,
                },
                phase: ServicePhase::Suspended,
                requeue: None,
            },
            _ => progressing(
                "PowerChanging",
                "waiting for the server to start or stop",
                ServicePhase::Provisioning,
            ),
        }
    }

    // ---- VMmanager 6 ----

    async fn vm6(
        &self,
        vm: &Vm6Client,
        status: &mut HostingServiceStatus,
    ) -> Result<Outcome, Error> {
        let hosts = match vm.find_hosts_by_name(self.name).await {
            Ok(h) => h,
            Err(e) => {
                return Ok(failed(
                    "PanelError",
                    format!("looking up host {}: {e}", self.name),
                ));
            }
        };
        let observe_only = self.service.spec.management_policy == ManagementPolicy::ObserveOnly;
        let host = match hosts.into_iter().min_by_key(|h| h.id) {
            Some(host) => {
                if !self.recorded && !observe_only {
                    return Ok(stalled(
                        "HostExists",
                        format!(
                            "a VMmanager host {:?} already exists on module {} and hostplane did not create it; set spec.managementPolicy: ObserveOnly to adopt it",
                            self.name,
                            self.module_name()
                        ),
                    ));
                }
                host
            }
            None if observe_only => {
                return Ok(stalled(
                    "ExternalNotFound",
                    format!(
                        "managementPolicy is ObserveOnly and there is no VMmanager host {:?} to observe",
                        self.name
                    ),
                ));
            }
            None => return self.vm6_provide(vm, status).await,
        };
        status.ip = host.main_ip().map(str::to_owned);
        if observe_only {
            return Ok(Outcome {
                verdict: Verdict::Ready {
                    reason: "Observed".into(),
                    message: format!("observed host {} ({})", host.id, host.state.as_str()),
                },
                phase: if host.state == HostState::Stopped {
                    ServicePhase::Suspended
                } else {
                    ServicePhase::Active
                },
                requeue: None,
            });
        }
        // The owner: a pooled server renamed for this service but not handed over yet.
        let email = &self.refs.client.spec.email;
        let owned = host
            .account
            .as_ref()
            .is_none_or(|a| a.email.as_deref() == Some(email.as_str()));
        if !owned {
            let owner = match self.vm6_owner(vm).await {
                Ok(id) => id,
                Err(outcome) => return Ok(outcome),
            };
            if host.account.as_ref().is_some_and(|a| a.id != owner)
                && let Err(e) = vm.change_host_owner(host.id, owner).await
            {
                return Ok(failed(
                    "PanelError",
                    format!("handing host {} to its owner: {e}", self.name),
                ));
            }
        }
        match &host.state {
            HostState::Creating => {
                return Ok(progressing(
                    "Installing",
                    format!("host {} is installing its OS", self.name),
                    ServicePhase::Provisioning,
                ));
            }
            HostState::Other(s) if s == "error" => {
                return Ok(failed(
                    "DeploymentFailed",
                    format!(
                        "host {} is in state error at the panel; delete it there or fix it",
                        self.name
                    ),
                ));
            }
            _ => {}
        }
        if !self.deployed_before(status) && self.waits_for_recipe() {
            match self.recipe_state(vm, host.id).await {
                Ok(None) => {}
                Ok(Some(outcome)) => return Ok(outcome),
                Err(e) => {
                    return Ok(failed(
                        "PanelError",
                        format!("reading the recipe task of {}: {e}", self.name),
                    ));
                }
            }
        }
        self.vm6_converge(vm, &host).await
    }

    fn waits_for_recipe(&self) -> bool {
        self.settings.deployment_complete == DeploymentComplete::AfterRecipe
            && self.desired.recipe.is_some()
    }

    /// Whether an earlier reconcile already saw this host deployed.
    fn deployed_before(&self, status: &HostingServiceStatus) -> bool {
        status.external_name.as_deref() == Some(self.name)
            && matches!(status.phase, ServicePhase::Active | ServicePhase::Suspended)
    }

    /// `None` when the recipe has finished; else the outcome to report.
    async fn recipe_state(&self, vm: &Vm6Client, host: u64) -> Result<Option<Outcome>, PanelError> {
        let filter = Where::eq("host", host).and(Where::eq("name", RECIPE_TASK));
        let tasks = vm.list_tasks(Some(&filter)).await?;
        if let Some(t) = tasks.iter().find(|t| t.status == TaskStatus::Fail) {
            let output = match &t.output {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            return Ok(Some(failed(
                "RecipeFailed",
                format!("the recipe of host {} failed: {output}", self.name),
            )));
        }
        if tasks.iter().any(|t| !t.status.is_terminal()) {
            return Ok(Some(progressing(
                "RunningRecipe",
                format!(
                    "host {} is installed; its recipe {} is running",
                    self.name,
                    self.desired.recipe.as_deref().unwrap_or_default()
                ),
                ServicePhase::Provisioning,
            )));
        }
        Ok(None)
    }

    /// Power and resources as declared.
    async fn vm6_converge(&self, vm: &Vm6Client, host: &Host) -> Result<Outcome, Error> {
        let want_running = super::hosting::suspension(self.refs).is_none();
        let running = host.state == HostState::Active;
        let change = ResourceChange {
            cpu_number: (host.cpu_number != u64::from(self.desired.cpu_cores))
                .then_some(u64::from(self.desired.cpu_cores)),
            ram_mib: (host.ram_mib != u64::from(self.desired.memory_mib))
                .then_some(u64::from(self.desired.memory_mib)),
            ..ResourceChange::default()
        };
        let resize = change.cpu_number.is_some() || change.ram_mib.is_some();
        let power = want_running != running;
        if !resize && !power {
            return Ok(self.ready(running));
        }
        match host_busy(vm, host.id).await {
            Ok(true) => {
                return Ok(progressing(
                    "TaskRunning",
                    format!("a task runs on host {}", self.name),
                    phase_now(running),
                ));
            }
            Ok(false) => {}
            Err(e) => {
                return Ok(failed(
                    "PanelError",
                    format!("listing tasks of {}: {e}", self.name),
                ));
            }
        }
        if resize {
            let _queue = self.enqueue(task_names::RESOURCES).await;
            if self.settings.serialize_operations {
                match queue_busy(vm, task_names::RESOURCES).await {
                    Ok(true) => return Ok(queued(task_names::RESOURCES, phase_now(running))),
                    Ok(false) => {}
                    Err(e) => return Ok(failed("PanelError", format!("listing tasks: {e}"))),
                }
            }
            if let Err(e) = vm.change_resources(host.id, &change).await {
                return Ok(failed(
                    "PanelError",
                    format!("changing CPU and RAM of {}: {e}", self.name),
                ));
            }
            self.event(
                "Resized",
                format!(
                    "host {}: {} CPU, {} MiB RAM",
                    self.name, self.desired.cpu_cores, self.desired.memory_mib
                ),
            )
            .await;
            return Ok(progressing(
                "Resizing",
                format!("changing CPU and RAM of host {}", self.name),
                phase_now(running),
            ));
        }
        let operation = if want_running {
            task_names::START
        } else {
            task_names::STOP
        };
        let _queue = self.enqueue(operation).await;
        if self.settings.serialize_operations {
            match queue_busy(vm, operation).await {
                Ok(true) => return Ok(queued(operation, phase_now(running))),
                Ok(false) => {}
                Err(e) => return Ok(failed("PanelError", format!("listing tasks: {e}"))),
            }
        }
        let sent = if want_running {
            vm.start_host(host.id).await
        } else {
            vm.stop_host(host.id, false).await
        };
        if let Err(e) = sent {
            return Ok(failed(
                "PanelError",
                format!("{operation} of {}: {e}", self.name),
            ));
        }
        let (reason, what) = if want_running {
            ("Resumed", "started")
        } else {
            ("Suspended", "stopped")
        };
        self.event(
            reason,
            format!("{what} host {} on {}", self.name, self.module_name()),
        )
        .await;
        Ok(progressing(
            if want_running { "Starting" } else { "Stopping" },
            format!("host {} is being {what}", self.name),
            phase_now(running),
        ))
    }

    /// The client's account at the panel: found by e-mail, else made (reference §4.7).
    async fn vm6_owner(&self, vm: &Vm6Client) -> Result<u64, Outcome> {
        let email = self.refs.client.spec.email.clone();
        owner_account(vm, &email).await.map_err(|e| match e {
            OwnerError::Admin => stalled(
                "OwnerIsAdministrator",
                format!(
                    "the VMmanager account {email:?} is an administrator; hostplane does not give clients' servers to administrators"
                ),
            ),
            OwnerError::Panel(e) => failed(
                "PanelError",
                format!("finding or making the account {email:?}: {e}"),
            ),
        })
    }

    /// No host of this name: take one from the pool, else create one.
    async fn vm6_provide(
        &self,
        vm: &Vm6Client,
        status: &mut HostingServiceStatus,
    ) -> Result<Outcome, Error> {
        let owner = match self.vm6_owner(vm).await {
            Ok(id) => id,
            Err(outcome) => return Ok(outcome),
        };
        if !self.recorded {
            record_external_name(self.service, self.ctx, self.name).await?;
        }
        match self.take_from_pool(vm, owner).await {
            Ok(Some(host)) => {
                status.ip = host.main_ip().map(str::to_owned);
                self.event(
                    "TakenFromPool",
                    format!(
                        "took pooled server {} as {} on {}",
                        host.id,
                        self.name,
                        self.module_name()
                    ),
                )
                .await;
                return Ok(progressing(
                    "TakenFromPool",
                    format!("host {} comes from the server pool", self.name),
                    ServicePhase::Provisioning,
                ));
            }
            Ok(None) => {}
            Err(e) => {
                return Ok(failed(
                    "PanelError",
                    format!("taking a server from the pool: {e}"),
                ));
            }
        }
        let new = match self.vm6_new_host(vm, owner).await {
            Ok(new) => new,
            Err(outcome) => return Ok(outcome),
        };
        let _queue = self.enqueue(task_names::CREATE).await;
        if self.settings.serialize_operations {
            match queue_busy(vm, task_names::CREATE).await {
                Ok(true) => return Ok(queued(task_names::CREATE, ServicePhase::Provisioning)),
                Ok(false) => {}
                Err(e) => return Ok(failed("PanelError", format!("listing tasks: {e}"))),
            }
        }
        match vm.create_host(&new).await {
            Ok(_) => {}
            Err(PanelError::OutcomeUnknown { .. }) => {
                // The answer was lost: look before trying again, never create twice.
                match vm.find_hosts_by_name(self.name).await {
                    Ok(found) if !found.is_empty() => {}
                    Ok(_) => {
                        return Ok(failed(
                            "PanelError",
                            format!(
                                "the answer to creating host {} was lost and the host is not there; creating it again",
                                self.name
                            ),
                        ));
                    }
                    Err(e) => {
                        return Ok(failed(
                            "PanelError",
                            format!(
                                "the answer to creating host {} was lost, and looking it up failed: {e}",
                                self.name
                            ),
                        ));
                    }
                }
            }
            Err(e) => {
                return Ok(failed(
                    "PanelError",
                    format!("creating host {}: {e}", self.name),
                ));
            }
        }
        self.event(
            "Created",
            format!(
                "created host {} ({}, {} CPU, {} MiB RAM, {} GiB disk) on {}",
                self.name,
                self.desired.operating_system,
                self.desired.cpu_cores,
                self.desired.memory_mib,
                self.desired.disk_gib,
                self.module_name()
            ),
        )
        .await;
        Ok(progressing(
            "Installing",
            format!("host {} is installing its OS", self.name),
            ServicePhase::Provisioning,
        ))
    }

    async fn vm6_new_host(&self, vm: &Vm6Client, owner: u64) -> Result<NewHost, Outcome> {
        let plan = HostPlan::resolve(vm, self.settings, self.desired)
            .await
            .map_err(|e| match e {
                ResolveError::Unknown(message) => stalled("InvalidSpec", message),
                ResolveError::Panel(e) => failed("PanelError", format!("reading catalogues: {e}")),
            })?;
        Ok(plan.new_host(
            self.name.to_owned(),
            owner,
            self.desired,
            Some(format!(
                "hostplane.dev/service={}/{}",
                self.service.namespace().unwrap_or_default(),
                self.service.name_any()
            )),
        ))
    }

    /// A ready pooled server of the same shape at this module, renamed for the service and
    /// handed to its owner (seed 004). `None` when the pool has none.
    async fn take_from_pool(&self, vm: &Vm6Client, owner: u64) -> Result<Option<Host>, PanelError> {
        let Some(pools) = &self.ctx.server_pools else {
            return Ok(None);
        };
        let ns = self.service.namespace().unwrap_or_default();
        let module = self.module_name();
        let pool: Option<Arc<ServerPool>> = pools.state().into_iter().find(|p| {
            p.namespace().as_deref() == Some(&ns) && p.spec.vmmanager_module_ref.name == module
        });
        let Some(pool) = pool else { return Ok(None) };
        let Some(pool_status) = &pool.status else {
            return Ok(None);
        };
        let today = crate::api::common::Date(self.ctx.settings.clock.today());
        let tz = jiff::tz::TimeZone::UTC;
        let shape = self.desired.shape();
        let lock = self
            .ctx
            .vm_queues
            .queue(&crate::controller::server_pool::take_queue(&ns, &module));
        let _guard = lock.lock().await;
        let mut servers = pool_status.servers.clone();
        // A few candidates at most: the pool's status may lag behind the panel.
        for _ in 0..3 {
            let Some(candidate) =
                pool_rules::take(&pool.spec, &servers, &shape, &tz, today).cloned()
            else {
                return Ok(None);
            };
            servers.retain(|s| s.id != candidate.id);
            let Ok(id) = candidate.id.parse::<u64>() else {
                continue;
            };
            let Some(host) = vm.find_host(id).await? else {
                continue;
            };
            let marked = crate::controller::server_pool::marker_of(&host.comment)
                .is_some_and(|m| m.pool == format!("{ns}/{}", pool.name_any()));
            if !marked || host.state != HostState::Active {
                continue;
            }
            let comment = format!("hostplane.dev/service={ns}/{}", self.service.name_any());
            vm.edit_host(id, Some(self.name), Some(&comment)).await?;
            vm.change_host_owner(id, owner).await?;
            return Ok(Some(host));
        }
        Ok(None)
    }

    // ---- VMmanager 5 ----

    async fn vm5(&self, vm: &Vm5, status: &mut HostingServiceStatus) -> Result<Outcome, Error> {
        let found = match find_vm(vm, self.name).await {
            Ok(found) => found,
            Err(e) => {
                return Ok(failed(
                    "PanelError",
                    format!("looking up VM {}: {e}", self.name),
                ));
            }
        };
        let observe_only = self.service.spec.management_policy == ManagementPolicy::ObserveOnly;
        let machine = match found {
            Some(machine) if self.recorded || observe_only => machine,
            Some(_) => {
                return Ok(stalled(
                    "HostExists",
                    format!(
                        "a VMmanager VM {:?} already exists on module {} and hostplane did not create it; set spec.managementPolicy: ObserveOnly to adopt it",
                        self.name,
                        self.module_name()
                    ),
                ));
            }
            None if observe_only => {
                return Ok(stalled(
                    "ExternalNotFound",
                    format!(
                        "managementPolicy is ObserveOnly and there is no VMmanager VM {:?} to observe",
                        self.name
                    ),
                ));
            }
            None => return self.vm5_create(vm).await,
        };
        if !machine.ip.is_empty() {
            status.ip = Some(machine.ip.clone());
        }
        let running = machine.state == "on";
        if observe_only {
            return Ok(Outcome {
                verdict: Verdict::Ready {
                    reason: "Observed".into(),
                    message: format!("observed VM {} ({})", machine.id, machine.state),
                },
                phase: if running {
                    ServicePhase::Active
                } else {
                    ServicePhase::Suspended
                },
                requeue: None,
            });
        }
        if machine.installing {
            return Ok(progressing(
                "Installing",
                format!("VM {} is installing its OS", self.name),
                ServicePhase::Provisioning,
            ));
        }
        let want_running = super::hosting::suspension(self.refs).is_none();
        let resize = machine.mem != self.desired.memory_mib.to_string()
            || machine.vcpu != self.desired.cpu_cores.to_string();
        if resize {
            let _queue = self.enqueue("vm.edit").await;
            if let Err(e) = vm
                .change_vm(
                    &machine.id,
                    u64::from(self.desired.memory_mib),
                    self.desired.cpu_cores,
                )
                .await
            {
                return Ok(failed(
                    "PanelError",
                    format!("changing CPU and RAM of {}: {e}", self.name),
                ));
            }
            self.event(
                "Resized",
                format!(
                    "VM {}: {} CPU, {} MiB RAM",
                    self.name, self.desired.cpu_cores, self.desired.memory_mib
                ),
            )
            .await;
        }
        if want_running != running {
            let operation = if want_running { "vm.start" } else { "vm.stop" };
            let _queue = self.enqueue(operation).await;
            let sent = if want_running {
                vm.start(&machine.id).await
            } else {
                vm.stop(&machine.id).await
            };
            if let Err(e) = sent {
                return Ok(failed(
                    "PanelError",
                    format!("{operation} of {}: {e}", self.name),
                ));
            }
            let (reason, what) = if want_running {
                ("Resumed", "started")
            } else {
                ("Suspended", "stopped")
            };
            self.event(
                reason,
                format!("{what} VM {} on {}", self.name, self.module_name()),
            )
            .await;
        }
        Ok(self.ready(want_running))
    }

    async fn vm5_owner(&self, vm: &Vm5) -> Result<String, Outcome> {
        let user = vm5_user_name(&self.refs.client.name_any());
        let lookup = |users: Vec<crate::panel::vmmanager5::Vm5User>| {
            users.into_iter().find(|u| u.name == user).map(|u| u.id)
        };
        match vm.users().await {
            Ok(users) => {
                if let Some(id) = lookup(users) {
                    return Ok(id);
                }
            }
            Err(e) => return Err(failed("PanelError", format!("listing VM owners: {e}"))),
        }
        match vm
            .create_user(&user, &connection::generate_password())
            .await
        {
            Ok(id) => Ok(id),
            Err(PanelError::OutcomeUnknown { .. } | PanelError::Exists { .. }) => {
                match vm.users().await.map(lookup) {
                    Ok(Some(id)) => Ok(id),
                    Ok(None) => Err(failed(
                        "PanelError",
                        format!("the owner {user} was not made; trying again"),
                    )),
                    Err(e) => Err(failed("PanelError", format!("listing VM owners: {e}"))),
                }
            }
            Err(e) => Err(failed(
                "PanelError",
                format!("making the VM owner {user}: {e}"),
            )),
        }
    }

    async fn vm5_create(&self, vm: &Vm5) -> Result<Outcome, Error> {
        let owner = match self.vm5_owner(vm).await {
            Ok(id) => id,
            Err(outcome) => return Ok(outcome),
        };
        if !self.recorded {
            record_external_name(self.service, self.ctx, self.name).await?;
        }
        let new = NewVm {
            name: self.name.to_owned(),
            domain: self.desired.domain.clone().unwrap_or_default(),
            user: owner,
            preset: self.desired.preset.clone(),
            vmi: self.desired.operating_system.clone(),
            vsize_mib: u64::from(self.desired.disk_gib) * 1024,
            mem_mib: u64::from(self.desired.memory_mib),
            vcpu: self.desired.cpu_cores,
            password: connection::generate_password(),
            recipe: self.desired.recipe.clone(),
        };
        let _queue = self.enqueue("vm.create").await;
        match vm.create_vm(&new).await {
            Ok(_) => {}
            Err(PanelError::OutcomeUnknown { .. } | PanelError::Exists { .. }) => {
                match find_vm(vm, self.name).await {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        return Ok(failed(
                            "PanelError",
                            format!(
                                "the answer to creating VM {} was lost and the VM is not there; creating it again",
                                self.name
                            ),
                        ));
                    }
                    Err(e) => {
                        return Ok(failed(
                            "PanelError",
                            format!("looking up VM {} after a lost answer: {e}", self.name),
                        ));
                    }
                }
            }
            Err(e) => {
                return Ok(failed(
                    "PanelError",
                    format!("creating VM {}: {e}", self.name),
                ));
            }
        }
        self.event(
            "Created",
            format!("created VM {} on {}", self.name, self.module_name()),
        )
        .await;
        Ok(progressing(
            "Installing",
            format!("VM {} is installing its OS", self.name),
            ServicePhase::Provisioning,
        ))
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
        "Queued",
        format!("waiting for the module's {operation} queue (serializeOperations)"),
        phase,
    )
}

/// A VMmanager 5 owner name for a client: its object name, at most 32 characters.
pub fn vm5_user_name(client: &str) -> String {
    let mut name = client.to_owned();
    name.truncate(32);
    name
}

async fn find_vm(vm: &Vm5, name: &str) -> Result<Option<Vm>, PanelError> {
    Ok(vm.vms().await?.into_iter().find(|v| v.name == name))
}

/// Why no owner account.
pub enum OwnerError {
    /// The e-mail belongs to an administrator.
    Admin,
    Panel(PanelError),
}

/// The account with `email`, made with role `@user` when there is none. A lost answer to the
/// create is followed by a lookup, never by a second create.
pub async fn owner_account(vm: &Vm6Client, email: &str) -> Result<u64, OwnerError> {
    let check = |account: crate::panel::vmmanager6::Account| {
        if account.is_admin() {
            Err(OwnerError::Admin)
        } else {
            Ok(account.id)
        }
    };
    match vm.find_account_by_email(email).await {
        Ok(Some(account)) => return check(account),
        Ok(None) => {}
        Err(e) => return Err(OwnerError::Panel(e)),
    }
    let new = NewAccount {
        email: email.to_owned(),
        password: connection::generate_password(),
        role: "@user".into(),
    };
    match vm.create_account(&new).await {
        Ok(id) => Ok(id),
        Err(PanelError::OutcomeUnknown { .. } | PanelError::Exists { .. }) => {
            match vm.find_account_by_email(email).await {
                Ok(Some(account)) => check(account),
                Ok(None) => Err(OwnerError::Panel(PanelError::Protocol {
                    message: format!("the account {email:?} was not made"),
                })),
                Err(e) => Err(OwnerError::Panel(e)),
            }
        }
        Err(e) => Err(OwnerError::Panel(e)),
    }
}

/// Catalogue ids a new host needs.
pub struct HostPlan {
    pub cluster: u64,
    pub os: u64,
    pub recipe: Option<u64>,
}

/// Why catalogue ids could not be found.
pub enum ResolveError {
    /// Something the spec names is not at the panel.
    Unknown(String),
    Panel(PanelError),
}

impl From<PanelError> for ResolveError {
    fn from(e: PanelError) -> Self {
        ResolveError::Panel(e)
    }
}

impl HostPlan {
    /// Resolves the OS and recipe by name (or id) and the cluster (the module's, else the
    /// panel's first).
    pub async fn resolve(
        vm: &Vm6Client,
        settings: &VmManagerSettings,
        desired: &DesiredServer,
    ) -> Result<Self, ResolveError> {
        let by_name = |items: &[crate::panel::vmmanager6::CatalogItem], wanted: &str| {
            items
                .iter()
                .find(|i| i.name == wanted || i.id.to_string() == wanted)
                .map(|i| i.id)
        };
        let os_list = vm.list_os(None).await?;
        let os = by_name(&os_list, &desired.operating_system).ok_or_else(|| {
            ResolveError::Unknown(format!(
                "operating system {:?} is not in the panel's OS list",
                desired.operating_system
            ))
        })?;
        let cluster = match settings.cluster {
            Some(c) => u64::from(c),
            None => vm
                .list_clusters(None)
                .await?
                .first()
                .map(|c| c.id)
                .ok_or_else(|| ResolveError::Unknown("the panel has no cluster".into()))?,
        };
        let recipe = match &desired.recipe {
            Some(name) => {
                let recipes = vm.list_recipes(None).await?;
                Some(by_name(&recipes, name).ok_or_else(|| {
                    ResolveError::Unknown(format!("recipe {name:?} is not at the panel"))
                })?)
            }
            None => None,
        };
        Ok(HostPlan {
            cluster,
            os,
            recipe,
        })
    }

    pub fn new_host(
        &self,
        name: String,
        owner: u64,
        desired: &DesiredServer,
        comment: Option<String>,
    ) -> NewHost {
        NewHost {
            name,
            password: connection::generate_password(),
            cluster: self.cluster,
            os: self.os,
            cpu_number: u64::from(desired.cpu_cores),
            ram_mib: u64::from(desired.memory_mib),
            hdd_mib: u64::from(desired.disk_gib) * 1024,
            account: owner,
            ipv4_number: u64::from(desired.ipv4_addresses),
            ipv4_pool: Vec::new(),
            domain: desired.domain.clone(),
            comment,
            node: None,
            net_bandwidth_mbitps: None,
            recipe: self.recipe,
            recipe_params: Vec::new(),
            send_email_mode: None,
        }
    }
}

/// Records the host name before the create call, so a restart finds it.
async fn record_external_name(
    service: &HostingService,
    ctx: &Context,
    name: &str,
) -> Result<(), Error> {
    let api: Api<HostingService> =
        Api::namespaced(ctx.client.clone(), &service.namespace().unwrap_or_default());
    let patch = serde_json::json!({"metadata": {"annotations": {EXTERNAL_NAME_ANNOTATION: name}}});
    api.patch(
        &service.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// The module: the one the service is on, the one it names, or the best of the tariff's
/// VMmanager modules.
fn choose_module(
    service: &HostingService,
    refs: &Refs,
    ctx: &Context,
    status: &HostingServiceStatus,
) -> Result<Arc<ProcessingModule>, Outcome> {
    let ns = service.namespace().unwrap_or_default();
    let fixed = status.processing_module.clone().or_else(|| {
        service
            .spec
            .processing_module_ref
            .as_ref()
            .map(|r| r.name.clone())
    });
    if let Some(name) = fixed {
        return Context::get(&ctx.modules, &ns, &name).ok_or_else(|| {
            stalled(
                "ReferenceNotFound",
                format!(
                    "the service is placed on processing module {name:?}, which does not exist"
                ),
            )
        });
    }
    let services = ctx.services.state();
    let candidates: Vec<Candidate> = refs
        .tariff
        .spec
        .processing_modules
        .iter()
        .filter_map(|r| Context::get(&ctx.modules, &ns, &r.name))
        .filter(|m| m.spec.type_ == ModuleType::VMmanager)
        .map(|m| {
            let name = m.name_any();
            Candidate {
                load: services
                    .iter()
                    .filter(|s| {
                        s.namespace().as_deref() == Some(&ns) && super::placed_on(s) == Some(&name)
                    })
                    .count(),
                healthy: ctx.panels.healthy(&ns, &name),
                priority: m.spec.priority,
                name,
            }
        })
        .collect();
    let chosen = placement::choose(&candidates).map_err(|why| failed("NoModuleAvailable", why))?;
    Context::get(&ctx.modules, &ns, &chosen.name)
        .ok_or_else(|| failed("NoModuleAvailable", "the chosen module disappeared"))
}

/// Removes the server. `ObserveOnly` services never touch the panel; `Orphan` keeps the
/// server when the resource is deleted (termination removes it whatever the policy). Not
/// found counts as done.
pub async fn remove(
    service: &HostingService,
    module: &ProcessingModule,
    ctx: &Context,
    status: &mut HostingServiceStatus,
    why: super::hosting::Removal,
) -> Result<(), String> {
    // The control-panel license goes to the pool first: it is paid for, and the server it was
    // bound to is about to go.
    if status.license.is_some()
        && let Some(licensing) = licensing_module_of(ctx, module)
    {
        crate::controller::licenses::release(
            ctx,
            service,
            &licensing,
            crate::pools::naming::LicenseKind::Addon,
            status,
            why,
        )
        .await?;
    }
    let status = &*status;
    let orphan = (why == super::hosting::Removal::Deleted
        && service.spec.deletion_policy == DeletionPolicy::Orphan)
        || service.spec.management_policy == ManagementPolicy::ObserveOnly;
    let name = status
        .external_name
        .clone()
        .or_else(|| service.annotations().get(EXTERNAL_NAME_ANNOTATION).cloned());
    let Some(name) = name else {
        return Ok(()); // nothing was ever created
    };
    if orphan {
        ctx.event(
            service,
            EventType::Normal,
            "Orphaned",
            format!("kept the VMmanager host {name} (deletionPolicy Orphan or ObserveOnly)"),
        )
        .await;
        return Ok(());
    }
    let unavailable = |e: crate::controller::panels::SetupError| {
        format!("processing module {}: {e}", module.name_any())
    };
    let removed = match settings_of(module).api_version {
        VmManagerApiVersion::V6 => {
            let vm = ctx
                .panels
                .vmmanager6(&ctx.client, module)
                .await
                .map_err(unavailable)?;
            let hosts = vm
                .find_hosts_by_name(&name)
                .await
                .map_err(|e| format!("looking up host {name}: {e}"))?;
            for host in &hosts {
                match vm.delete_host(host.id).await {
                    Ok(_) | Err(PanelError::Missed { .. }) => {}
                    Err(e) => return Err(format!("deleting host {name}: {e}")),
                }
            }
            !hosts.is_empty()
        }
        VmManagerApiVersion::V5 => {
            let vm = ctx
                .panels
                .vmmanager5(&ctx.client, module)
                .await
                .map_err(unavailable)?;
            match find_vm(&vm, &name)
                .await
                .map_err(|e| format!("looking up VM {name}: {e}"))?
            {
                Some(machine) => match vm.delete(&machine.id).await {
                    Ok(()) => true,
                    Err(e) if crate::panel::ispmanager::is_not_found(&e) => false,
                    Err(e) => return Err(format!("deleting VM {name}: {e}")),
                },
                None => false,
            }
        }
    };
    if removed {
        ctx.event(
            service,
            EventType::Normal,
            "Deleted",
            format!("deleted the VMmanager host {name} on {}", module.name_any()),
        )
        .await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::hosting_service::ResourceQuantity;

    fn tariff() -> crate::api::TariffSpec {
        let yaml = r#"
productType: VirtualServer
processingModules: [{name: vm}]
prices: {1m: "5.00"}
resources:
  - {name: memory, included: 2048, min: 1024, max: 8192, step: 1024, monthlyPrice: "1.00"}
virtualServer:
  cpuCores: 1
  memoryMiB: 1024
  diskGiB: 10
  operatingSystems: [Ubuntu 22.04, Debian 12]
  defaultOperatingSystem: Debian 12
  recipe: Docker CE
  controlPanelLicense:
    default: none
    options:
      - {name: none, licenseType: nopanel}
      - {name: ispmanager-lite, licenseType: "3541"}
"#;
        serde_saphyr::from_str(yaml).expect("a tariff")
    }

    fn service(extra: &str) -> crate::api::HostingServiceSpec {
        let yaml = format!(
            "tariffRef: {{name: t}}\nclientRef: {{name: c}}\nperiod: 1m\nstartDate: \"2026-01-01\"\n{extra}"
        );
        serde_saphyr::from_str(&yaml).expect("a service")
    }

    #[test]
    fn the_server_comes_from_the_tariff_and_the_services_resources() {
        let t = tariff();
        let d = desired_server(&service(""), &t, false).unwrap();
        assert_eq!(d.operating_system, "Debian 12");
        assert_eq!((d.cpu_cores, d.memory_mib, d.disk_gib), (1, 2048, 10));
        assert_eq!(d.recipe, None);
        let mut s = service("operatingSystem: Ubuntu 22.04");
        s.resources.push(ResourceQuantity {
            name: ResourceKind::DiskSpace,
            quantity: 20_000,
        });
        s.resources.push(ResourceQuantity {
            name: ResourceKind::Memory,
            quantity: 4096,
        });
        let d = desired_server(&s, &t, true).unwrap();
        assert_eq!(d.operating_system, "Ubuntu 22.04");
        assert_eq!((d.memory_mib, d.disk_gib), (4096, 20));
        assert_eq!(d.recipe.as_deref(), Some("Docker CE"));
    }

    #[test]
    fn the_chosen_panel_maps_to_its_license_type() {
        let t = tariff();
        assert_eq!(
            license_type_for(&t, &service("")),
            None,
            "default is nopanel"
        );
        assert_eq!(
            license_type_for(&t, &service("controlPanel: ispmanager-lite")).as_deref(),
            Some("3541")
        );
        assert_eq!(license_type_for(&t, &service("controlPanel: other")), None);
    }

    #[test]
    fn host_names_are_bounded() {
        assert_eq!(default_host_name("prod", "vps1"), "prod-vps1");
        assert!(default_host_name(&"n".repeat(40), &"s".repeat(40)).len() <= 63);
    }
}
