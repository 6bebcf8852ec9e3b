//! The VMmanager 5 side of a virtual server (reference §3): the VM looked up by name, made for
//! the client's owner user, and kept at the declared power, CPU and RAM. VMmanager 5 answers
//! mutations synchronously, so the service is Ready as soon as the install flags are gone.

use kube::ResourceExt;

use super::external::Vm5Machine;
use super::plan::{self, Observed, Step};
use super::{Run, claim_name, failed, phase_now, progressing, stalled};
use crate::api::hosting_service::{HostingServiceStatus, ServicePhase};
use crate::controller::Error;
use crate::controller::conditions::Verdict;
use crate::controller::reason::Reason;
use crate::controller::service::driver::{self, Seen};
use crate::controller::service::{Outcome, connection};
use crate::panel::PanelError;
use crate::panel::vmmanager5::{NewVm, Vm, Vm5, Vm5Volume};

impl Run<'_> {
    pub(super) async fn vm5(
        &self,
        vm: &Vm5,
        external: &Vm5Machine,
        seen: Seen<Vm>,
        status: &mut HostingServiceStatus,
    ) -> Result<Outcome, Error> {
        let observe_only = matches!(seen, Seen::Observe(_));
        let machine = match seen {
            Seen::Observe(machine) | Seen::Manage(machine) => machine,
            Seen::Missing => return self.vm5_create(vm, external).await,
        };
        if !machine.ip.is_empty() {
            status.ip = Some(machine.ip.clone());
        }
        let power = match machine.powered {
            Some(true) => "on",
            Some(false) => "off",
            None => "power not reported",
        };
        if observe_only {
            return Ok(Outcome {
                verdict: Verdict::Ready {
                    reason: Reason::Observed,
                    message: format!(
                        "observed VM {} ({power}{})",
                        machine.id,
                        if machine.admin_down {
                            ", disabled by the panel administrator"
                        } else {
                            ""
                        }
                    ),
                },
                phase: if machine.powered == Some(true) {
                    ServicePhase::Active
                } else {
                    ServicePhase::Suspended
                },
                requeue: None,
            });
        }
        if machine.installing {
            return Ok(progressing(
                Reason::Installing,
                format!("VM {} is installing its OS", self.name),
                ServicePhase::Provisioning,
            ));
        }
        if machine.admin_down {
            return Ok(self.vm5_admin_down(&machine, status).await);
        }
        let want_running = crate::controller::service::suspension(self.refs).is_none();
        // VMmanager 5 answers changes synchronously: apply the steps in turn, at most one of
        // each kind, keeping the observed state up to date.
        let mut observed = observed(&machine, want_running);
        if observed.disk_mib.is_none() {
            // The `vm` list need not show the disk size; `vm.volume` does (reference §11).
            match vm.volumes(&machine.id).await {
                Ok(volumes) => observed.disk_mib = main_disk(&volumes).and_then(|v| v.size_mib),
                Err(e) => {
                    return Ok(failed(
                        Reason::PanelError,
                        format!("listing the disks of {}: {e}", self.name),
                    ));
                }
            }
        }
        for _ in 0..4 {
            match plan::next_step(&observed, self.desired, want_running) {
                Step::Done { .. } if self.connection.password_changed && observed.running => {
                    if let Err(e) = vm
                        .set_password(&machine.id, &self.connection.password)
                        .await
                    {
                        return Ok(failed(
                            Reason::PanelError,
                            format!("changing the root password of {}: {e}", self.name),
                        ));
                    }
                    self.publish(
                        Some(&machine.ip)
                            .filter(|ip| !ip.is_empty())
                            .map(String::as_str),
                    )
                    .await?;
                    self.event(
                        Reason::PasswordChanged,
                        format!(
                            "applied the connection Secret's password to VM {}",
                            self.name
                        ),
                    )
                    .await;
                    return Ok(self.ready(observed.running));
                }
                Step::Done { disk } => {
                    return Ok(match disk {
                        Some(refusal) => Outcome {
                            phase: phase_now(observed.running),
                            ..stalled(Reason::DiskNotResized, refusal.message(self.name))
                        },
                        None => self.ready(observed.running),
                    });
                }
                Step::Reinstall => return Ok(self.vm5_reinstall(vm, &machine).await),
                Step::Resize { .. } => {
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
                            Reason::PanelError,
                            format!("changing CPU and RAM of {}: {e}", self.name),
                        ));
                    }
                    observed.cpu_cores = u64::from(self.desired.cpu_cores);
                    observed.memory_mib = u64::from(self.desired.memory_mib);
                    self.event(
                        Reason::Resized,
                        format!(
                            "VM {}: {} CPU, {} MiB RAM",
                            self.name, self.desired.cpu_cores, self.desired.memory_mib
                        ),
                    )
                    .await;
                }
                Step::Stop | Step::Start => {
                    let operation = if want_running { "vm.start" } else { "vm.stop" };
                    let _queue = self.enqueue(operation).await;
                    let sent = if want_running {
                        vm.start(&machine.id).await
                    } else {
                        vm.stop(&machine.id).await
                    };
                    if let Err(e) = sent {
                        return Ok(failed(
                            Reason::PanelError,
                            format!("{operation} of {}: {e}", self.name),
                        ));
                    }
                    observed.running = want_running;
                    let (reason, what) = if want_running {
                        (Reason::Resumed, "started")
                    } else {
                        (Reason::Suspended, "stopped")
                    };
                    self.event(
                        reason,
                        format!("{what} VM {} on {}", self.name, self.module_name()),
                    )
                    .await;
                }
                Step::Restart => {
                    // Only a change pending for the next stop asks for this, and VMmanager 5
                    // has none ([`observed`]); a restart is still what the step means.
                    if let Err(e) = vm.restart(&machine.id).await {
                        return Ok(failed(
                            Reason::PanelError,
                            format!("vm.restart of {}: {e}", self.name),
                        ));
                    }
                    observed.pending = false;
                }
                Step::GrowDisk { to_mib } => {
                    let _queue = self.enqueue("vm.volume.edit").await;
                    if let Err(outcome) = self
                        .vm5_grow_disk(vm, &machine.id, &mut observed, to_mib)
                        .await
                    {
                        return Ok(outcome);
                    }
                }
            }
        }
        Ok(self.ready(observed.running))
    }

    /// Grows the VM's main disk to `to_mib` (`vm.volume.edit`). A running VM is stopped first
    /// and started again by the next step, as jbs does [S26 `VmManager5_KVM.php`]: whether
    /// the panel grows the disk of a running VM is not documented, and a stopped VM is safe
    /// under both readings.
    async fn vm5_grow_disk(
        &self,
        vm: &Vm5,
        id: &str,
        observed: &mut Observed,
        to_mib: u64,
    ) -> Result<(), Outcome> {
        let volumes = vm.volumes(id).await.map_err(|e| {
            failed(
                Reason::PanelError,
                format!("listing the disks of {}: {e}", self.name),
            )
        })?;
        let Some(disk) = main_disk(&volumes) else {
            return Err(failed(
                Reason::PanelError,
                format!("VMmanager lists no virtual disk of VM {}", self.name),
            ));
        };
        if observed.running {
            vm.stop(id).await.map_err(|e| {
                failed(
                    Reason::PanelError,
                    format!("stopping VM {} to grow its disk: {e}", self.name),
                )
            })?;
            observed.running = false;
        }
        vm.grow_volume(id, &disk.id, to_mib).await.map_err(|e| {
            failed(
                Reason::PanelError,
                format!("growing the disk of {} to {to_mib} MiB: {e}", self.name),
            )
        })?;
        observed.disk_mib = Some(to_mib);
        self.event(
            Reason::DiskResized,
            format!(
                "VM {}: disk grown from {} MiB to {to_mib} MiB",
                self.name,
                disk.size_mib.map_or("?".to_owned(), |s| s.to_string())
            ),
        )
        .await;
        Ok(())
    }

    /// A VM the panel's administrator disabled (`vmstatus` = `admdown`): reported, never
    /// fought. Starting it (or changing it) would undo a person's decision at the panel, so
    /// nothing is sent until the administrator lifts it; the event is sent once, when the
    /// service first sees it.
    async fn vm5_admin_down(&self, machine: &Vm, status: &HostingServiceStatus) -> Outcome {
        const REASON: Reason = Reason::DisabledByPanelAdmin;
        let message = format!(
            "VM {} ({}) is disabled by the administrator of {} (vmstatus admdown); hostplane does not start or change it until it is enabled at the panel",
            self.name,
            machine.id,
            self.module_name()
        );
        let seen_before = status
            .common
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.reason == REASON.as_str());
        if !seen_before {
            self.ctx
                .event(
                    self.service,
                    kube::runtime::events::EventType::Warning,
                    REASON,
                    message.clone(),
                )
                .await;
        }
        match crate::controller::service::suspension(self.refs) {
            // Suspended anyway: the VM is off, as the service wants.
            Some(why) => Outcome {
                verdict: Verdict::Ready {
                    reason: Reason::Suspended,
                    message: format!("{why}; {message}"),
                },
                phase: ServicePhase::Suspended,
                requeue: None,
            },
            // Looked at again with the controller's backoff, so that lifting it is noticed.
            None => Outcome {
                phase: ServicePhase::Suspended,
                ..failed(REASON, message)
            },
        }
    }

    /// Reinstalls the VM with the declared OS image (and the tariff's recipe). Not repeated
    /// after a lost answer: the next reconcile reads the VM (installing, or its new image)
    /// before it could send another.
    async fn vm5_reinstall(&self, vm: &Vm5, machine: &Vm) -> Outcome {
        let _queue = self.enqueue("vm.reinstall").await;
        let sent = vm
            .reinstall(
                &machine.id,
                &self.desired.operating_system,
                &self.connection.password,
                self.desired.recipe.as_deref(),
            )
            .await;
        match sent {
            Ok(()) => {
                self.event(
                    Reason::Reinstalling,
                    format!(
                        "reinstalling VM {} with {} (was {}): its disk is wiped",
                        self.name, self.desired.operating_system, machine.vmi
                    ),
                )
                .await;
                progressing(
                    Reason::Reinstalling,
                    format!(
                        "VM {} is being reinstalled with {}",
                        self.name, self.desired.operating_system
                    ),
                    ServicePhase::Provisioning,
                )
            }
            Err(e @ PanelError::OutcomeUnknown { .. }) => failed(
                Reason::ReinstallOutcomeUnknown,
                format!(
                    "the answer to reinstalling VM {} was lost ({e}); the VM is read before anything is sent again",
                    self.name
                ),
            ),
            Err(e) => failed(
                Reason::PanelError,
                format!("reinstalling VM {}: {e}", self.name),
            ),
        }
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
            Err(e) => {
                return Err(failed(
                    Reason::PanelError,
                    format!("listing VM owners: {e}"),
                ));
            }
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
                        Reason::PanelError,
                        format!("the owner {user} was not made; trying again"),
                    )),
                    Err(e) => Err(failed(
                        Reason::PanelError,
                        format!("listing VM owners: {e}"),
                    )),
                }
            }
            Err(e) => Err(failed(
                Reason::PanelError,
                format!("making the VM owner {user}: {e}"),
            )),
        }
    }

    async fn vm5_create(&self, vm: &Vm5, external: &Vm5Machine) -> Result<Outcome, Error> {
        let owner = match self.vm5_owner(vm).await {
            Ok(id) => id,
            Err(outcome) => return Ok(outcome),
        };
        let record = match claim_name(self).await? {
            Ok(record) => record,
            Err(outcome) => return Ok(outcome),
        };
        let new = NewVm {
            name: self.name.to_owned(),
            domain: self.desired.domain.clone().unwrap_or_default(),
            user: owner,
            preset: self.desired.preset.clone(),
            vmi: self.desired.operating_system.clone(),
            vsize_mib: u64::from(self.desired.disk_gib) * 1024,
            mem_mib: u64::from(self.desired.memory_mib),
            vcpu: self.desired.cpu_cores,
            password: self.connection.password.clone(),
            recipe: self.desired.recipe.clone(),
        };
        let _queue = self.enqueue("vm.create").await;
        if let Err(outcome) = driver::create(&record, &mut self.ledger(), external, &new).await? {
            return Ok(outcome);
        }
        self.event(
            Reason::Created,
            format!("created VM {} on {}", self.name, self.module_name()),
        )
        .await;
        Ok(progressing(
            Reason::Installing,
            format!("VM {} is installing its OS", self.name),
            ServicePhase::Provisioning,
        ))
    }
}

/// A VMmanager 5 owner name for a client: its object name, at most 32 characters.
pub fn vm5_user_name(client: &str) -> String {
    let mut name = client.to_owned();
    name.truncate(32);
    name
}

/// The VM's main disk: its first virtual disk.
pub fn main_disk(volumes: &[Vm5Volume]) -> Option<&Vm5Volume> {
    volumes.iter().find(|v| v.is_vdisk())
}

/// What the planner needs to know of a VM. A field the list does not show is empty: the OS
/// is then unknown (never reinstalled on a guess) and the disk is read from `vm.volume`. A VM
/// whose power the panel does not report is taken to be as the service wants it, so that no
/// start or stop is sent on a guess.
pub fn observed(machine: &Vm, want_running: bool) -> Observed {
    Observed {
        running: machine.powered.unwrap_or(want_running),
        os: if machine.vmi.is_empty() {
            Vec::new()
        } else {
            vec![machine.vmi.clone()]
        },
        // VMmanager 5 applies a change when it answers: nothing is ever pending.
        pending: false,
        cpu_cores: machine.vcpu.parse().unwrap_or(0),
        memory_mib: machine.mem.parse().unwrap_or(0),
        disk_mib: machine.vsize.parse().ok(),
    }
}
