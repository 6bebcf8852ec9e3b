//! VMmanager 5 (legacy mgr API at `/vmmgr`, reference §3): owners and virtual machines.
//!
//! OS installation is asynchronous: a new VM is listed with `installing` until it is ready,
//! and callers poll [`Vm5::vm`]. Suspension is `vm.stop`, as the official module does.
//!
//! Power comes from `vmpowered` (`on`/`off`), and a VM the panel's administrator disabled has
//! `vmstatus` = `admdown` (reference §11, "VMmanager 5 power state" [S26 `VmManager5_KVM.php`]);
//! the `state` the first implementation read is not documented and is only a fallback for
//! answers without `vmpowered`. Mutations go through [`MgrClient::mutate`]: an answer without
//! `ok`, an id or an error is an outcome not known, never success (§11).

use secrecy::{ExposeSecret, SecretString};

use super::error::{Idempotency::*, PanelError};
use super::mgr::{MgrClient, Node};

/// A VMmanager 5 connection.
#[derive(Clone, Debug)]
pub struct Vm5 {
    mgr: MgrClient,
}

/// A VM owner account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vm5User {
    pub id: String,
    pub name: String,
    pub level: Option<u32>,
}

/// A virtual machine as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vm {
    pub id: String,
    pub name: String,
    pub ip: String,
    /// Owner user id.
    pub user: String,
    /// The OS is still being installed (`installing`/`installos` present).
    pub installing: bool,
    /// Whether the VM is running: `vmpowered` (`on`/`off`); when the answer has no
    /// `vmpowered` (older builds, the simulator's complete profile), the undocumented
    /// `state` (`on`/`off`). `None` when neither says, so nothing is sent on a guess.
    pub powered: Option<bool>,
    /// `vmstatus` = `admdown`: the panel's administrator disabled the VM. It is reported,
    /// never fought: starting it again would undo a person's decision at the panel.
    pub admin_down: bool,
    pub mem: String,
    pub vcpu: String,
    /// The installed OS image (`vmi`), when the list shows it; empty otherwise.
    pub vmi: String,
    /// The disk size in MiB (`vsize`), when the list shows it; empty otherwise.
    pub vsize: String,
}

/// A disk of a VM as `vm.volume&elid=VM` lists it [S26 `VmManager5_KVM.php`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vm5Volume {
    pub id: String,
    /// `vdisk` for a VM's virtual disk (the only type jbs resizes).
    pub kind: String,
    /// The size in MiB (jbs compares it with the tariff's disk limit in MiB); `None` when the
    /// answer has no readable size.
    pub size_mib: Option<u64>,
}

impl Vm5Volume {
    /// A virtual disk; an element without `type` is taken as one too (one disk per VM is the
    /// common case, and the type is not documented beyond jbs's `vdisk` check).
    pub fn is_vdisk(&self) -> bool {
        self.kind.is_empty() || self.kind == "vdisk"
    }
}

/// What to create (`vm.edit` without `elid`).
#[derive(Clone, Debug)]
pub struct NewVm {
    pub name: String,
    pub domain: String,
    /// Owner user id.
    pub user: String,
    pub preset: Option<String>,
    /// OS image id, e.g. `ISPsystem__Ubuntu-20.04-amd64`.
    pub vmi: String,
    pub vsize_mib: u64,
    pub mem_mib: u64,
    pub vcpu: u32,
    pub password: SecretString,
    pub recipe: Option<String>,
}

impl Vm5 {
    pub fn new(mgr: MgrClient) -> Self {
        Self { mgr }
    }

    pub fn mgr(&self) -> &MgrClient {
        &self.mgr
    }

    pub async fn users(&self) -> Result<Vec<Vm5User>, PanelError> {
        let doc = self.mgr.call("user", &[], Idempotent).await?;
        Ok(doc
            .elems()
            .map(|e| Vm5User {
                id: e.get("id").to_owned(),
                name: e.get("name").to_owned(),
                level: e.value("level").and_then(|l| l.parse().ok()),
            })
            .collect())
    }

    /// Creates an ordinary (level 16) owner; returns its id. Non-idempotent: after
    /// `OutcomeUnknown`, look for the name in [`Vm5::users`].
    pub async fn create_user(
        &self,
        name: &str,
        password: &SecretString,
    ) -> Result<String, PanelError> {
        let p = password.expose_secret();
        let doc = self
            .mgr
            .call(
                "user.edit",
                &[
                    ("sok", "ok"),
                    ("level", "16"),
                    ("name", name),
                    ("passwd", p),
                    ("confirm", p),
                ],
                NonIdempotent,
            )
            .await?;
        id_of(&doc, "user.edit")
    }

    pub async fn vms(&self) -> Result<Vec<Vm>, PanelError> {
        let doc = self.mgr.call("vm", &[], Idempotent).await?;
        Ok(doc.elems().map(vm_of).collect())
    }

    /// One VM by id (`vm.edit` form); `None` when unknown.
    pub async fn vm(&self, id: &str) -> Result<Option<Vm>, PanelError> {
        match self.mgr.call("vm.edit", &[("elid", id)], Idempotent).await {
            Ok(doc) => {
                let mut vm = vm_of(&doc);
                if vm.id.is_empty() {
                    vm.id = id.to_owned();
                }
                Ok(Some(vm))
            }
            Err(e) if super::ispmanager::is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a VM; returns its id. Non-idempotent: after `OutcomeUnknown`, look for the
    /// name in [`Vm5::vms`].
    pub async fn create_vm(&self, vm: &NewVm) -> Result<String, PanelError> {
        let (vsize, mem, vcpu) = (
            vm.vsize_mib.to_string(),
            vm.mem_mib.to_string(),
            vm.vcpu.to_string(),
        );
        let p = vm.password.expose_secret();
        let mut params: Vec<(&str, &str)> = vec![
            ("sok", "ok"),
            ("name", &vm.name),
            ("domain", &vm.domain),
            ("user", &vm.user),
            ("vmi", &vm.vmi),
            ("vsize", &vsize),
            ("mem", &mem),
            ("vcpu", &vcpu),
            ("family", "ipv4"),
            ("iptype", "public"),
            ("hostnode", "auto"),
            ("password", p),
            ("confirm", p),
            ("recipe", vm.recipe.as_deref().unwrap_or("null")),
        ];
        if let Some(preset) = &vm.preset {
            params.push(("preset", preset));
        }
        let doc = self.mgr.call("vm.edit", &params, NonIdempotent).await?;
        id_of(&doc, "vm.edit")
    }

    /// Changes memory and CPUs of a VM.
    pub async fn change_vm(&self, id: &str, mem_mib: u64, vcpu: u32) -> Result<(), PanelError> {
        let (mem, vcpu) = (mem_mib.to_string(), vcpu.to_string());
        self.mgr
            .mutate(
                "vm.edit",
                &[("sok", "ok"), ("elid", id), ("mem", &mem), ("vcpu", &vcpu)],
                Idempotent,
            )
            .await
            .map(drop)
    }

    /// The disks of a VM (`vm.volume&elid=VM`).
    pub async fn volumes(&self, vm: &str) -> Result<Vec<Vm5Volume>, PanelError> {
        let doc = self
            .mgr
            .call("vm.volume", &[("elid", vm)], Idempotent)
            .await?;
        Ok(doc
            .elems()
            .map(|e| Vm5Volume {
                id: e.get("id").to_owned(),
                kind: e.get("type").to_owned(),
                size_mib: e.get("size").trim().parse().ok(),
            })
            .filter(|v| !v.id.is_empty())
            .collect())
    }

    /// Grows disk `volume` of VM `vm` to `size_mib`
    /// (`vm.volume.edit&elid=DISK&plid=VM&size=MiB&sok=ok`, [S26 `VmManager5_KVM.php`]).
    /// An absolute size, so repeating it is harmless. Disks only grow: a smaller size is
    /// refused by the panel (jbs skips it, "KVM does not shrink disks").
    pub async fn grow_volume(
        &self,
        vm: &str,
        volume: &str,
        size_mib: u64,
    ) -> Result<(), PanelError> {
        let size = size_mib.to_string();
        self.mgr
            .mutate(
                "vm.volume.edit",
                &[
                    ("elid", volume),
                    ("plid", vm),
                    ("size", &size),
                    ("sok", "ok"),
                ],
                Idempotent,
            )
            .await
            .map(drop)
    }

    pub async fn start(&self, id: &str) -> Result<(), PanelError> {
        self.action("vm.start", id).await
    }

    pub async fn stop(&self, id: &str) -> Result<(), PanelError> {
        self.action("vm.stop", id).await
    }

    pub async fn restart(&self, id: &str) -> Result<(), PanelError> {
        self.action("vm.restart", id).await
    }

    pub async fn delete(&self, id: &str) -> Result<(), PanelError> {
        self.action("vm.delete", id).await
    }

    /// Reinstalls the OS (the VM is `installing` again afterwards). It wipes the disk, so it
    /// is not repeated after a lost answer: look at the VM first.
    pub async fn reinstall(
        &self,
        id: &str,
        vmi: &str,
        password: &SecretString,
        recipe: Option<&str>,
    ) -> Result<(), PanelError> {
        let p = password.expose_secret();
        self.mgr
            .mutate(
                "vm.reinstall",
                &[
                    ("sok", "ok"),
                    ("elid", id),
                    ("vmi", vmi),
                    ("password", p),
                    ("confirm", p),
                    ("new_password", "on"),
                    ("recipe", recipe.unwrap_or("null")),
                ],
                NonIdempotent,
            )
            .await
            .map(drop)
    }

    pub async fn set_password(&self, id: &str, password: &SecretString) -> Result<(), PanelError> {
        let p = password.expose_secret();
        self.mgr
            .mutate(
                "vm.chpasswd",
                &[("sok", "ok"), ("elid", id), ("password", p), ("confirm", p)],
                Idempotent,
            )
            .await
            .map(drop)
    }

    async fn action(&self, func: &str, id: &str) -> Result<(), PanelError> {
        self.mgr
            .mutate(func, &[("elid", id), ("sok", "ok")], Idempotent)
            .await
            .map(drop)
    }
}

/// The new object's id in a create or order answer ([`super::mgr::new_id`]). An answer with
/// no id may still mean the object was made, so it is an unknown outcome, never a refusal.
pub(crate) fn id_of(doc: &Node, func: &str) -> Result<String, PanelError> {
    super::mgr::new_id(doc)
        .map(str::to_owned)
        .ok_or_else(|| PanelError::unconfirmed(func, "id of the new object"))
}

fn vm_of(e: &Node) -> Vm {
    Vm {
        id: e.get("id").to_owned(),
        name: e.get("name").to_owned(),
        ip: e.get("ip").to_owned(),
        user: e.get("user").to_owned(),
        installing: e.child("installing").is_some() || e.child("installos").is_some(),
        powered: on_off(e.value("vmpowered")).or_else(|| on_off(e.value("state"))),
        admin_down: e.get("vmstatus") == "admdown",
        mem: e.get("mem").to_owned(),
        vcpu: e.get("vcpu").to_owned(),
        vmi: e.get("vmi").to_owned(),
        vsize: e.get("vsize").to_owned(),
    }
}

/// `on` → true, `off` → false; anything else (absent, empty, unknown) → `None`.
fn on_off(value: Option<&str>) -> Option<bool> {
    match value.map(str::trim) {
        Some("on") => Some(true),
        Some("off") => Some(false),
        _ => None,
    }
}
