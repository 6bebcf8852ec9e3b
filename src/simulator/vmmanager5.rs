//! Simulated VMmanager 5 at `/vmmgr` (reference §3).
//!
//! Owners (`user`, `user.edit`) with numeric ids, VMs (`vm`, `vm.edit`, `vm.start`, `vm.stop`,
//! `vm.restart`, `vm.delete`, `vm.reinstall`, `vm.chpasswd`), their one disk (`vm.volume`,
//! `vm.volume.edit`, which grows it and refuses a shrink with `value`/`size`) and static
//! presets. Power is listed as `vmpowered` and `vmstatus` (`active`, or `admdown` for a VM the
//! administrator disabled: `POST /_admin/vm5/admdown`), as the real panel (reference §11). A new or
//! reinstalled VM is listed with `<installing/>` for the first few reads, as the official
//! module polls for. Unknown ids answer `value`/`elid` like ispmanager's deletes (VMmanager 5's
//! own pair is not documented).

use super::Sim;
use super::mgr::{self, Call, MgrErr, Product, USER_LEVEL, ok, ok_with_id};
use super::profile::Dialect;
use super::state::{Vm5User, Vm5Vm};
use crate::panel::mgr::Node;

pub static PRODUCT: Product = Product {
    name: "vmmgr",
    auth: |s| &mut s.vmmgr.auth,
    user_level: |s, name| {
        s.vmmgr
            .users
            .values()
            .find(|u| u.name == name)
            .map(|u| u.level)
    },
    dispatch,
};

pub fn routes() -> axum::Router<Sim> {
    mgr::routes(&PRODUCT, &["/vmmgr", "/manager/vmmgr"])
}

fn dispatch(call: &mut Call<'_>) -> Result<Node, MgrErr> {
    if !matches!(call.func, "whoami" | "vm") {
        call.admin_only()?;
    }
    match call.func {
        "whoami" => {
            let mut user = Node::default();
            user.set_attr("name", &call.user)
                .set_attr("level", call.level.to_string());
            let mut doc = Node::default();
            doc.push("user", user);
            Ok(doc)
        }
        "user" => Ok(list(call.state.vmmgr.users.values().map(|u| {
            let mut e = Node::default();
            e.push_text("id", u.id.to_string())
                .push_text("name", &u.name)
                .push_text("level", u.level.to_string());
            e
        }))),
        "user.edit" => user_edit(call),
        "preset" => Ok(list(call.state.vmmgr.presets.iter().map(|(id, p)| {
            let mut e = Node::default();
            e.push_text("id", id)
                .push_text("name", &p.name)
                .push_text("mem", p.mem.to_string())
                .push_text("vcpu", p.vcpu.to_string());
            e
        }))),
        "vm" => {
            let owner = (!call.is_admin()).then(|| {
                call.state
                    .vmmgr
                    .users
                    .values()
                    .find(|u| u.name == call.user)
                    .map(|u| u.id)
            });
            let mut doc = Node::default();
            for vm in call.state.vmmgr.vms.values_mut() {
                if owner.is_some_and(|o| o != Some(vm.user)) {
                    continue;
                }
                doc.push("elem", vm_node(vm, call.dialect));
                if vm.installing_polls > 0 {
                    vm.installing_polls -= 1;
                    call.changed = true;
                }
            }
            Ok(doc)
        }
        "vm.edit" => vm_edit(call),
        "vm.volume" => {
            let id = existing(call)?[0];
            let mut doc = Node::default();
            doc.push("elem", volume_node(&call.state.vmmgr.vms[&id]));
            Ok(doc)
        }
        "vm.volume.edit" => volume_edit(call),
        "vm.start" | "vm.stop" | "vm.restart" => {
            let running = call.func != "vm.stop";
            for id in existing(call)? {
                call.state.vmmgr.vms.get_mut(&id).expect("checked").running = running;
            }
            call.changed = true;
            Ok(ok())
        }
        "vm.delete" => {
            for id in existing(call)? {
                call.state.vmmgr.vms.remove(&id);
            }
            call.changed = true;
            Ok(ok())
        }
        "vm.reinstall" => {
            let ids = existing(call)?;
            if !call.sok() {
                return Ok(vm_node(&call.state.vmmgr.vms[&ids[0]], call.dialect));
            }
            let vmi = call.param("vmi").map(str::to_owned);
            if let Some(vmi) = &vmi {
                known_image(call, vmi)?;
            }
            let recipe = call
                .param("recipe")
                .filter(|r| *r != "null")
                .unwrap_or("")
                .to_owned();
            if call.params.raw("password").is_some() {
                check_password(call)?;
            }
            let polls = call.state.vmmgr.install_polls;
            let vm = call.state.vmmgr.vms.get_mut(&ids[0]).expect("checked");
            if let Some(vmi) = vmi {
                vm.vmi = vmi;
            }
            vm.recipe = recipe;
            vm.reinstalls += 1;
            vm.installing_polls = polls;
            call.changed = true;
            Ok(ok())
        }
        "vm.chpasswd" => {
            let ids = existing(call)?;
            check_password(call)?;
            call.state
                .vmmgr
                .vms
                .get_mut(&ids[0])
                .expect("checked")
                .password_changes += 1;
            call.changed = true;
            Ok(ok())
        }
        other => Err(MgrErr::missed("func", other)),
    }
}

fn list(elems: impl Iterator<Item = Node>) -> Node {
    let mut doc = Node::default();
    for e in elems {
        doc.push("elem", e);
    }
    doc
}

/// The `elid` list, every id known; `value`/`elid` otherwise.
fn existing(call: &Call<'_>) -> Result<Vec<u64>, MgrErr> {
    let elids = call.elids();
    if elids.is_empty() {
        return Err(MgrErr::required("elid"));
    }
    elids
        .iter()
        .map(|e| {
            e.parse::<u64>()
                .ok()
                .filter(|id| call.state.vmmgr.vms.contains_key(id))
                .ok_or_else(|| MgrErr::no_elid(e))
        })
        .collect()
}

fn check_password(call: &Call<'_>) -> Result<(), MgrErr> {
    let password = call
        .params
        .raw("password")
        .or(call.params.raw("passwd"))
        .unwrap_or("");
    if password.chars().count() < 6 {
        return Err(MgrErr::value(
            "password",
            "",
            "The password is too weak: use at least 6 characters",
        ));
    }
    let confirm = call.params.raw("confirm");
    if confirm.is_some_and(|c| c != password) {
        return Err(MgrErr::value("confirm", "", "The passwords do not match"));
    }
    Ok(())
}

/// One VM as listed. Power is `vmpowered` (`on`/`off`) as on the real panel (reference §11);
/// `state` only in the complete profile.
fn vm_node(vm: &Vm5Vm, dialect: Dialect) -> Node {
    let mut e = Node::default();
    e.push_text("id", vm.id.to_string())
        .push_text("name", &vm.name)
        .push_text("domain", &vm.domain)
        .push_text("ip", &vm.ip)
        .push_text("user", vm.user.to_string())
        .push_text("mem", vm.mem.to_string())
        .push_text("vcpu", vm.vcpu.to_string())
        .push_text("vsize", vm.vsize.to_string())
        .push_text("vmi", &vm.vmi)
        .push_text("vmpowered", if vm.running { "on" } else { "off" })
        .push_text("vmstatus", if vm.admin_down { "admdown" } else { "active" });
    if dialect.vm5_lists_state {
        e.push_text("state", if vm.running { "on" } else { "off" });
    }
    if vm.installing_polls > 0 {
        e.push("installing", Node::default());
    }
    e
}

/// The disk id of a VM: the simulator gives every VM one disk, numbered after the VM so that
/// no state is needed for it (and a disk id is never a VM id: the two are told apart).
fn disk_id(vm: u64) -> u64 {
    vm * 100 + 1
}

/// A VM's disk as `vm.volume` lists it: `id`, `name`, `type` = `vdisk` and `size` in MiB,
/// the fields jbs reads [S26 `VmManager5_KVM.php`].
fn volume_node(vm: &Vm5Vm) -> Node {
    let mut e = Node::default();
    e.push_text("id", disk_id(vm.id).to_string())
        .push_text("name", format!("{}_disk", vm.name))
        .push_text("type", "vdisk")
        .push_text("size", vm.vsize.to_string());
    e
}

/// `vm.volume.edit&elid=DISK&plid=VM&size=MiB&sok=ok`: grows the disk; a smaller size is
/// refused (`value`/`size`), as KVM does not shrink disks; an unknown disk of the VM is
/// `value`/`elid`.
fn volume_edit(call: &mut Call<'_>) -> Result<Node, MgrErr> {
    let plid = call.require("plid")?.to_owned();
    let vm = plid
        .parse::<u64>()
        .ok()
        .filter(|id| call.state.vmmgr.vms.contains_key(id))
        .ok_or_else(|| MgrErr::no_elid(&plid))?;
    let elid = call.require("elid")?.to_owned();
    if elid.parse::<u64>().ok() != Some(disk_id(vm)) {
        return Err(MgrErr::no_elid(&elid));
    }
    if !call.sok() {
        return Ok(volume_node(&call.state.vmmgr.vms[&vm]));
    }
    let size_text = call.require("size")?.to_owned();
    let have = call.state.vmmgr.vms[&vm].vsize;
    let size = size_text
        .parse::<u64>()
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| {
            MgrErr::value(
                "size",
                &size_text,
                format!("'{size_text}' is not a valid size"),
            )
        })?;
    if size < have {
        return Err(MgrErr::value(
            "size",
            &size_text,
            format!("The disk can not be made smaller: it has {have} MiB"),
        ));
    }
    call.state.vmmgr.vms.get_mut(&vm).expect("checked").vsize = size;
    call.changed = true;
    Ok(ok())
}

/// `user.edit`: view with `elid`, create with `sok` and no `elid`.
fn user_edit(call: &mut Call<'_>) -> Result<Node, MgrErr> {
    if let Some(elid) = call.param("elid").map(str::to_owned) {
        let user = elid
            .parse::<u64>()
            .ok()
            .and_then(|id| call.state.vmmgr.users.get(&id))
            .ok_or_else(|| MgrErr::no_elid(&elid))?;
        let mut doc = Node::default();
        doc.push_text("id", user.id.to_string())
            .push_text("name", &user.name)
            .push_text("level", user.level.to_string());
        return Ok(doc);
    }
    if !call.sok() {
        return Ok(Node::default());
    }
    let name = call.params.raw("name").unwrap_or("").to_owned();
    let valid = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if !valid {
        return Err(MgrErr::value(
            "name",
            &name,
            format!("Invalid user name '{name}'"),
        ));
    }
    let password = call
        .params
        .raw("passwd")
        .or(call.params.raw("password"))
        .unwrap_or("");
    if password.chars().count() < 6 {
        return Err(MgrErr::value(
            "passwd",
            "",
            "The password is too weak: use at least 6 characters",
        ));
    }
    if call.state.vmmgr.users.values().any(|u| u.name == name) {
        return Err(MgrErr::exists("user", &name));
    }
    let level = call
        .param("level")
        .and_then(|l| l.parse().ok())
        .unwrap_or(USER_LEVEL);
    let vm5 = &mut call.state.vmmgr;
    let id = vm5.next_user_id;
    vm5.next_user_id += 1;
    vm5.users.insert(id, Vm5User { id, name, level });
    call.changed = true;
    Ok(ok_with_id(id))
}

/// `vm.edit`: view with `elid`, change with `elid`+`sok`, create with `sok` only.
fn vm_edit(call: &mut Call<'_>) -> Result<Node, MgrErr> {
    let number = |call: &Call<'_>, name: &str| -> Result<Option<u64>, MgrErr> {
        match call.param(name) {
            None => Ok(None),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .map(Some)
                .ok_or_else(|| MgrErr::value(name, v, format!("'{v}' is not a valid {name}"))),
        }
    };
    if call.param("elid").is_some() {
        let id = existing(call)?[0];
        if !call.sok() {
            return Ok(vm_node(&call.state.vmmgr.vms[&id], call.dialect));
        }
        let mem = number(call, "mem")?;
        let vcpu = number(call, "vcpu")?;
        let vm = call.state.vmmgr.vms.get_mut(&id).expect("checked");
        if let Some(mem) = mem {
            vm.mem = mem;
        }
        if let Some(vcpu) = vcpu {
            vm.vcpu = vcpu as u32;
        }
        call.changed = true;
        return Ok(ok());
    }
    if !call.sok() {
        return Ok(Node::default());
    }
    let name = call.require("name")?.to_owned();
    let user = call.require("user")?.to_owned();
    let owner = user
        .parse::<u64>()
        .ok()
        .filter(|id| call.state.vmmgr.users.contains_key(id))
        .ok_or_else(|| MgrErr::value("user", &user, format!("No user with id '{user}'")))?;
    let vmi = call.require("vmi")?.to_owned();
    known_image(call, &vmi)?;
    check_password(call)?;
    let preset = call.param("preset").unwrap_or("").to_owned();
    let (preset_mem, preset_vcpu) =
        if preset.is_empty() {
            (1024, 1)
        } else {
            let p =
                call.state.vmmgr.presets.get(&preset).ok_or_else(|| {
                    MgrErr::value("preset", &preset, format!("No preset '{preset}'"))
                })?;
            (p.mem, u64::from(p.vcpu))
        };
    let mem = number(call, "mem")?.unwrap_or(preset_mem);
    let vcpu = number(call, "vcpu")?.unwrap_or(preset_vcpu) as u32;
    let vsize = number(call, "vsize")?.unwrap_or(10_240);
    if call.state.vmmgr.vms.values().any(|v| v.name == name) {
        return Err(MgrErr::exists("vm", &name));
    }
    let domain = call.param("domain").unwrap_or("").to_owned();
    let recipe = call
        .param("recipe")
        .filter(|r| *r != "null")
        .unwrap_or("")
        .to_owned();
    let vm5 = &mut call.state.vmmgr;
    let id = vm5.next_vm_id;
    vm5.next_vm_id += 1;
    let ip = format!("198.51.100.{}", vm5.next_ip);
    vm5.next_ip = if vm5.next_ip >= 250 {
        10
    } else {
        vm5.next_ip + 1
    };
    vm5.vms.insert(
        id,
        Vm5Vm {
            id,
            name,
            domain,
            user: owner,
            preset,
            vmi,
            vsize,
            mem,
            vcpu,
            ip,
            running: true,
            admin_down: false,
            recipe,
            installing_polls: vm5.install_polls,
            password_changes: 0,
            reinstalls: 0,
        },
    );
    call.changed = true;
    Ok(ok_with_id(id))
}

/// A real panel refuses an OS template it does not have; so does the simulator, so that a
/// tariff naming one the panel lacks fails here as it would in production.
fn known_image(call: &Call<'_>, vmi: &str) -> Result<(), MgrErr> {
    if call.state.vmmgr.images.contains(vmi) {
        Ok(())
    } else {
        Err(MgrErr::value("vmi", vmi, format!("No OS template '{vmi}'")))
    }
}
