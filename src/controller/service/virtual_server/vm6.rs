//! The VMmanager 6 side of a virtual server (reference §4): the host looked up by name, made
//! (or taken from the module's `ServerPool`) for the client's owner account, watched through
//! its install and recipe, and kept at the declared power and resources. Mutations are sent and
//! the service requeued; nothing waits for a task inside a reconcile.

use std::sync::Arc;

use kube::ResourceExt;

use super::external::Vm6Host;
use super::plan::{self, Observed, Step};
use super::{
    DesiredServer, RECIPE_TASK, Run, claim_name, failed, phase_now, progressing, queued, stalled,
};
use crate::api::ServerPool;
use crate::api::hosting_service::{HostingServiceStatus, ServicePhase};
use crate::api::processing_module::{DeploymentComplete, VmManagerSettings};
use crate::controller::Error;
use crate::controller::conditions::Verdict;
use crate::controller::reason::Reason;
use crate::controller::service::driver::{self, Seen};
use crate::controller::service::{Outcome, connection};
use crate::panel::PanelError;
use crate::panel::vmmanager6::{
    Defer, Host, HostState, NewAccount, NewHost, Reinstall, ResourceChange, TaskStatus, Vm6Client,
    Where, task_names,
};
use crate::pools::server_pool::{self as pool_rules};
use secrecy::SecretString;

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

impl Run<'_> {
    pub(super) async fn vm6(
        &self,
        vm: &Vm6Client,
        external: &Vm6Host,
        seen: Seen<Host>,
        status: &mut HostingServiceStatus,
    ) -> Result<Outcome, Error> {
        let observe_only = matches!(seen, Seen::Observe(_));
        let host = match seen {
            Seen::Observe(host) | Seen::Manage(host) => host,
            Seen::Missing => return self.vm6_provide(vm, external, status).await,
        };
        status.ip = host.main_ip().map(str::to_owned);
        if observe_only {
            return Ok(Outcome {
                verdict: Verdict::Ready {
                    reason: Reason::Observed,
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
                    Reason::PanelError,
                    format!("handing host {} to its owner: {e}", self.name),
                ));
            }
        }
        match &host.state {
            HostState::Creating => {
                return Ok(progressing(
                    Reason::Installing,
                    format!("host {} is installing its OS", self.name),
                    ServicePhase::Provisioning,
                ));
            }
            HostState::Other(s) if s == "error" => {
                return Ok(failed(
                    Reason::DeploymentFailed,
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
                        Reason::PanelError,
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
                Reason::RecipeFailed,
                format!("the recipe of host {} failed: {output}", self.name),
            )));
        }
        if tasks.iter().any(|t| !t.status.is_terminal()) {
            return Ok(Some(progressing(
                Reason::RunningRecipe,
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

    /// Power, OS and resources as declared: one step per reconcile ([`plan::next_step`]).
    async fn vm6_converge(&self, vm: &Vm6Client, host: &Host) -> Result<Outcome, Error> {
        let want_running = crate::controller::service::suspension(self.refs).is_none();
        let running = host.state == HostState::Active;
        let step = plan::next_step(&observed(host), self.desired, want_running);
        if matches!(step, Step::Done { .. }) && self.connection.password_changed && running {
            return self.vm6_password(vm, host).await;
        }
        if let Step::Done { disk } = &step {
            return Ok(match disk {
                Some(refusal) => Outcome {
                    phase: phase_now(running),
                    ..stalled(Reason::DiskNotResized, refusal.message(self.name))
                },
                None => self.ready(running),
            });
        }
        match host_busy(vm, host.id).await {
            Ok(true) => {
                return Ok(progressing(
                    Reason::TaskRunning,
                    format!("a task runs on host {}", self.name),
                    phase_now(running),
                ));
            }
            Ok(false) => {}
            Err(e) => {
                return Ok(failed(
                    Reason::PanelError,
                    format!("listing tasks of {}: {e}", self.name),
                ));
            }
        }
        let operation = match step {
            Step::Stop => task_names::STOP,
            Step::Start => task_names::START,
            Step::Reinstall => task_names::REINSTALL,
            Step::Resize { .. } => task_names::RESOURCES,
            Step::GrowDisk { .. } => task_names::DISK_RESIZE,
            Step::Restart => task_names::RESTART,
            Step::Done { .. } => unreachable!("returned above"),
        };
        let _queue = self.enqueue(operation).await;
        if self.settings.serialize_operations {
            match queue_busy(vm, operation).await {
                Ok(true) => return Ok(queued(operation, phase_now(running))),
                Ok(false) => {}
                Err(e) => return Ok(failed(Reason::PanelError, format!("listing tasks: {e}"))),
            }
        }
        let (reason, note, progress) = match step {
            Step::Stop | Step::Start => {
                let sent = if want_running {
                    vm.start_host(host.id).await
                } else {
                    vm.stop_host(host.id, false).await
                };
                if let Err(e) = sent {
                    return Ok(failed(
                        Reason::PanelError,
                        format!("{operation} of {}: {e}", self.name),
                    ));
                }
                let (reason, what, progress) = if want_running {
                    (Reason::Resumed, "started", Reason::Starting)
                } else {
                    (Reason::Suspended, "stopped", Reason::Stopping)
                };
                (
                    reason,
                    format!("{what} host {} on {}", self.name, self.module_name()),
                    progress,
                )
            }
            Step::Reinstall => match self.reinstall(vm, host).await {
                Ok(note) => (Reason::Reinstalling, note, Reason::Reinstalling),
                Err(outcome) => return Ok(outcome),
            },
            Step::Resize {
                cpu_cores,
                memory_mib,
            } => {
                // A running host takes the change at its next stop, as the official module
                // sends it (reference §11); the host then lists it as `cpu_number_new` /
                // `ram_mib_new`, so it is not sent again, and the next step restarts the host
                // to apply it. A stopped host takes it at once.
                let change = ResourceChange {
                    cpu_number: cpu_cores,
                    ram_mib: memory_mib,
                    defer: running.then(|| Defer {
                        action: task_names::STOP.to_owned(),
                    }),
                    ..ResourceChange::default()
                };
                if let Err(e) = vm.change_resources(host.id, &change).await {
                    return Ok(failed(
                        Reason::PanelError,
                        format!("changing CPU and RAM of {}: {e}", self.name),
                    ));
                }
                (
                    Reason::Resized,
                    format!(
                        "host {}: {} CPU, {} MiB RAM{}",
                        self.name,
                        self.desired.cpu_cores,
                        self.desired.memory_mib,
                        if running {
                            " at its next stop; it is restarted to apply them"
                        } else {
                            ""
                        }
                    ),
                    Reason::Resizing,
                )
            }
            Step::Restart => {
                if let Err(e) = vm.restart_host(host.id).await {
                    return Ok(failed(
                        Reason::PanelError,
                        format!("restarting {} to apply its new CPU and RAM: {e}", self.name),
                    ));
                }
                (
                    Reason::Restarted,
                    format!(
                        "restarted host {} to apply {} CPU, {} MiB RAM",
                        self.name,
                        host.cpu_number_target(),
                        host.ram_mib_target()
                    ),
                    Reason::Restarting,
                )
            }
            Step::GrowDisk { to_mib } => {
                let Some(disk) = &host.disk else {
                    unreachable!("a disk size is only compared when the panel reports the disk")
                };
                if let Err(e) = vm.resize_disk(disk.id, to_mib, None).await {
                    return Ok(failed(
                        Reason::PanelError,
                        format!("growing the disk of {} to {to_mib} MiB: {e}", self.name),
                    ));
                }
                (
                    Reason::DiskResized,
                    format!(
                        "host {}: disk grown from {} MiB to {to_mib} MiB",
                        self.name, disk.disk_mib
                    ),
                    Reason::ResizingDisk,
                )
            }
            Step::Done { .. } => unreachable!("returned above"),
        };
        self.event(reason, note).await;
        Ok(progressing(
            progress,
            format!("{operation} of host {} is running", self.name),
            phase_now(running),
        ))
    }

    /// The connection Secret's password changed: it becomes the host's root password
    /// (`POST /vm/v3/host/{id}/password`), and the Secret records it as applied at once, so
    /// the change is sent once.
    async fn vm6_password(&self, vm: &Vm6Client, host: &Host) -> Result<Outcome, Error> {
        match host_busy(vm, host.id).await {
            Ok(false) => {}
            Ok(true) => {
                return Ok(progressing(
                    Reason::TaskRunning,
                    format!("a task runs on host {}", self.name),
                    phase_now(true),
                ));
            }
            Err(e) => {
                return Ok(failed(
                    Reason::PanelError,
                    format!("listing tasks of {}: {e}", self.name),
                ));
            }
        }
        if let Err(e) = vm
            .set_host_password(host.id, &self.connection.password)
            .await
        {
            return Ok(failed(
                Reason::PanelError,
                format!("changing the root password of {}: {e}", self.name),
            ));
        }
        self.publish(host.main_ip()).await?;
        self.event(
            Reason::PasswordChanged,
            format!(
                "applied the connection Secret's password to host {}",
                self.name
            ),
        )
        .await;
        Ok(progressing(
            Reason::ChangingPassword,
            format!("the root password of host {} is being changed", self.name),
            phase_now(true),
        ))
    }

    /// Reinstalls the host with the declared OS (and the tariff's recipe), with a fresh root
    /// password. Not repeated after a lost answer: the next reconcile sees the task, or the new
    /// OS, before it could send another. Returns the event's note.
    async fn reinstall(&self, vm: &Vm6Client, host: &Host) -> Result<String, Outcome> {
        let plan = HostPlan::resolve(vm, self.settings, self.desired)
            .await
            .map_err(|e| match e {
                ResolveError::Unknown(message) => stalled(Reason::InvalidSpec, message),
                ResolveError::Panel(e) => {
                    failed(Reason::PanelError, format!("reading catalogues: {e}"))
                }
            })?;
        let request = Reinstall {
            os: plan.os,
            password: self.connection.password.clone(),
            send_email_mode: "default".into(),
            recipe: plan.recipe,
        };
        match vm.reinstall_host(host.id, &request).await {
            Ok(_) => Ok(format!(
                "reinstalling host {} with {} (was {}): its disk is wiped",
                self.name,
                self.desired.operating_system,
                if host.os_name.is_empty() {
                    "unknown"
                } else {
                    &host.os_name
                }
            )),
            Err(e @ PanelError::OutcomeUnknown { .. }) => Err(failed(
                Reason::ReinstallOutcomeUnknown,
                format!(
                    "the answer to reinstalling host {} was lost ({e}); its tasks and OS are read before anything is sent again",
                    self.name
                ),
            )),
            Err(e) => Err(failed(
                Reason::PanelError,
                format!("reinstalling host {}: {e}", self.name),
            )),
        }
    }

    /// The client's account at the panel: found by e-mail, else made (reference §4.7).
    async fn vm6_owner(&self, vm: &Vm6Client) -> Result<u64, Outcome> {
        let email = self.refs.client.spec.email.clone();
        owner_account(vm, &email).await.map_err(|e| match e {
            OwnerError::Admin => stalled(
                Reason::OwnerIsAdministrator,
                format!(
                    "the VMmanager account {email:?} is an administrator; hostplane does not give clients' servers to administrators"
                ),
            ),
            OwnerError::Panel(e) => failed(
                Reason::PanelError,
                format!("finding or making the account {email:?}: {e}"),
            ),
        })
    }

    /// No host of this name: take one from the pool, else create one.
    async fn vm6_provide(
        &self,
        vm: &Vm6Client,
        external: &Vm6Host,
        status: &mut HostingServiceStatus,
    ) -> Result<Outcome, Error> {
        let owner = match self.vm6_owner(vm).await {
            Ok(id) => id,
            Err(outcome) => return Ok(outcome),
        };
        let record = match claim_name(self).await? {
            Ok(record) => record,
            Err(outcome) => return Ok(outcome),
        };
        match self.take_from_pool(vm, owner).await {
            Ok(Some(host)) => {
                status.ip = host.main_ip().map(str::to_owned);
                self.event(
                    Reason::TakenFromPool,
                    format!(
                        "took pooled server {} as {} on {}",
                        host.id,
                        self.name,
                        self.module_name()
                    ),
                )
                .await;
                return Ok(progressing(
                    Reason::TakenFromPool,
                    format!("host {} comes from the server pool", self.name),
                    ServicePhase::Provisioning,
                ));
            }
            Ok(None) => {}
            Err(e) => {
                return Ok(failed(
                    Reason::PanelError,
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
                Err(e) => return Ok(failed(Reason::PanelError, format!("listing tasks: {e}"))),
            }
        }
        if let Err(outcome) = driver::create(&record, &mut self.ledger(), external, &new).await? {
            return Ok(outcome);
        }
        self.event(
            Reason::Created,
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
            Reason::Installing,
            format!("host {} is installing its OS", self.name),
            ServicePhase::Provisioning,
        ))
    }

    async fn vm6_new_host(&self, vm: &Vm6Client, owner: u64) -> Result<NewHost, Outcome> {
        let plan = HostPlan::resolve(vm, self.settings, self.desired)
            .await
            .map_err(|e| match e {
                ResolveError::Unknown(message) => stalled(Reason::InvalidSpec, message),
                ResolveError::Panel(e) => {
                    failed(Reason::PanelError, format!("reading catalogues: {e}"))
                }
            })?;
        Ok(plan.new_host(
            self.name.to_owned(),
            owner,
            self.desired,
            Some(self.marker()),
            self.connection.password.clone(),
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
            let comment = self.marker();
            // Nobody knows a pooled server's root password: the buyer's is set first, while
            // no task of the host runs (the panel refuses it during one). A failure after it
            // leaves the server in the pool, where the next take sets its own.
            vm.set_host_password(id, &self.connection.password).await?;
            vm.edit_host(id, Some(self.name), Some(&comment)).await?;
            vm.change_host_owner(id, owner).await?;
            return Ok(Some(host));
        }
        Ok(None)
    }
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
        password: SecretString,
    ) -> NewHost {
        NewHost {
            name,
            password,
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

/// The comment every host of a service carries (created or taken from the pool): what tells
/// its hosts from a stranger's host of the same name.
pub(super) fn marker_for(service: &crate::api::HostingService) -> String {
    format!(
        "hostplane.dev/service={}/{}",
        service.namespace().unwrap_or_default(),
        service.name_any()
    )
}

impl Run<'_> {
    fn marker(&self) -> String {
        marker_for(self.service)
    }
}

/// What the planner needs to know of a host.
pub fn observed(host: &Host) -> Observed {
    let mut os = Vec::new();
    if !host.os_name.is_empty() {
        os.push(host.os_name.clone());
    }
    if let Some(o) = host.os.as_ref().filter(|o| o.id != 0) {
        os.push(o.id.to_string());
        os.extend(o.name.clone());
    }
    Observed {
        running: host.state == HostState::Active,
        os,
        // A change waiting for the next stop counts as made: it is not sent again.
        cpu_cores: host.cpu_number_target(),
        memory_mib: host.ram_mib_target(),
        pending: host.change_pending(),
        disk_mib: host
            .disk
            .as_ref()
            .map(|d| d.disk_mib)
            .filter(|&mib| mib > 0),
    }
}
