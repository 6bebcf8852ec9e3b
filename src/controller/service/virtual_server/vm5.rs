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
use crate::controller::service::driver::{self, Seen};
use crate::controller::service::{Outcome, connection};
use crate::panel::PanelError;
use crate::panel::vmmanager5::{NewVm, Vm, Vm5};

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
        let want_running = crate::controller::service::suspension(self.refs).is_none();
        // VMmanager 5 answers changes synchronously: apply the steps in turn, at most one of
        // each kind, keeping the observed state up to date.
        let mut observed = observed(&machine);
        for _ in 0..4 {
            match plan::next_step(&observed, self.desired, want_running, false) {
                Step::Done { .. } if self.connection.password_changed && observed.running => {
                    if let Err(e) = vm
                        .set_password(&machine.id, &self.connection.password)
                        .await
                    {
                        return Ok(failed(
                            "PanelError",
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
                        "PasswordChanged",
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
                            ..stalled("DiskNotResized", refusal.message(self.name))
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
                            "PanelError",
                            format!("changing CPU and RAM of {}: {e}", self.name),
                        ));
                    }
                    observed.cpu_cores = u64::from(self.desired.cpu_cores);
                    observed.memory_mib = u64::from(self.desired.memory_mib);
                    self.event(
                        "Resized",
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
                            "PanelError",
                            format!("{operation} of {}: {e}", self.name),
                        ));
                    }
                    observed.running = want_running;
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
                Step::GrowDisk { .. } => unreachable!("VMmanager 5 disks are not grown"),
            }
        }
        Ok(self.ready(observed.running))
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
                    "Reinstalling",
                    format!(
                        "reinstalling VM {} with {} (was {}): its disk is wiped",
                        self.name, self.desired.operating_system, machine.vmi
                    ),
                )
                .await;
                progressing(
                    "Reinstalling",
                    format!(
                        "VM {} is being reinstalled with {}",
                        self.name, self.desired.operating_system
                    ),
                    ServicePhase::Provisioning,
                )
            }
            Err(e @ PanelError::OutcomeUnknown { .. }) => failed(
                "ReinstallOutcomeUnknown",
                format!(
                    "the answer to reinstalling VM {} was lost ({e}); the VM is read before anything is sent again",
                    self.name
                ),
            ),
            Err(e) => failed("PanelError", format!("reinstalling VM {}: {e}", self.name)),
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

    async fn vm5_create(&self, vm: &Vm5, external: &Vm5Machine) -> Result<Outcome, Error> {
        let owner = match self.vm5_owner(vm).await {
            Ok(id) => id,
            Err(outcome) => return Ok(outcome),
        };
        if let Some(outcome) = claim_name(self).await? {
            return Ok(outcome);
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
            password: self.connection.password.clone(),
            recipe: self.desired.recipe.clone(),
        };
        let _queue = self.enqueue("vm.create").await;
        if let Err(outcome) =
            driver::create(self.record, &mut self.ledger(), external, &new).await?
        {
            return Ok(outcome);
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

/// A VMmanager 5 owner name for a client: its object name, at most 32 characters.
pub fn vm5_user_name(client: &str) -> String {
    let mut name = client.to_owned();
    name.truncate(32);
    name
}

/// What the planner needs to know of a VM. A field the list does not show is empty: the OS
/// is then unknown (never reinstalled on a guess) and the disk is not compared.
fn observed(machine: &Vm) -> Observed {
    Observed {
        running: machine.state == "on",
        os: if machine.vmi.is_empty() {
            Vec::new()
        } else {
            vec![machine.vmi.clone()]
        },
        cpu_cores: machine.vcpu.parse().unwrap_or(0),
        memory_mib: machine.mem.parse().unwrap_or(0),
        disk_mib: machine.vsize.parse().ok(),
    }
}
