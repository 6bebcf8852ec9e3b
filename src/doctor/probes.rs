//! The read-only probes of the mgr panels: ispmanager, VMmanager 5 and the licensing server.
//!
//! The only functions sent: `whoami`, `user`, `user.edit` without `sok` (the form of a name
//! that does not exist), `preset`, `vm`, `vm.volume` (a VM's disk list), `soft`, and
//! `soft.edit` without `sok` (the form of one licence). The raw document of each answer is
//! read, not the typed client's result, because the point is which fields the panel sends.

use rand::RngExt;

use super::{Presence, Report};
use crate::panel::Idempotency::Idempotent;
use crate::panel::PanelError;
use crate::panel::ispmanager::IspManager;
use crate::panel::licensing::Licensing;
use crate::panel::mgr::{MgrClient, Node};
use crate::panel::vmmanager5::Vm5;

/// One read call of an mgr panel, timed.
async fn read(
    report: &mut Report,
    mgr: &MgrClient,
    func: &str,
    params: &[(&str, &str)],
) -> Result<Node, PanelError> {
    report.timed(func, mgr.call(func, params, Idempotent)).await
}

/// `whoami`: the login works. Every later fact depends on it.
async fn login(report: &mut Report, mgr: &MgrClient) -> bool {
    let answer = read(report, mgr, "whoami", &[]).await;
    let (found, note) = match &answer {
        Ok(doc) => {
            let user = doc.child("user");
            let name = user.and_then(|u| u.value("name")).unwrap_or("");
            let level = user.and_then(|u| u.value("level")).unwrap_or("not said");
            report.version = doc.attr("version").map(str::to_owned);
            (Presence::Yes, format!("as {name:?}, level {level}"))
        }
        Err(PanelError::Auth { message }) => (Presence::No, format!("refused: {message}")),
        Err(e) => (Presence::Unknown, format!("could not ask: {e}")),
    };
    let ok = found == Presence::Yes;
    report.fact(
        "login",
        "logs in with the module's credentials (`whoami`)",
        true,
        // A panel that cannot be reached at all cannot be judged, but it cannot be managed
        // either: both block `Full`.
        if ok { found } else { Presence::No },
        note,
    );
    ok
}

/// How many rows of a list lack `field`: `(rows, without)`.
fn rows_without(doc: &Node, field: &str) -> (usize, usize) {
    let rows = doc.elems().count();
    let without = doc.elems().filter(|e| e.value(field).is_none()).count();
    (rows, without)
}

/// A fact about a field of every row of a list.
fn every_row(doc: &Node, field: &str, what: &str, missing_means: &str) -> (Presence, String) {
    match rows_without(doc, field) {
        (0, _) => (
            Presence::Unknown,
            format!("the {what} list is empty: nothing to judge by"),
        ),
        (rows, 0) => (Presence::Yes, format!("on all {rows} rows")),
        (rows, without) => (
            Presence::No,
            format!("{without} of {rows} rows lack `{field}`: {missing_means}"),
        ),
    }
}

/// ispmanager: users, their fields, templates, and what an unknown name's form says.
pub async fn ispmanager(module: String, url: String, isp: &IspManager) -> Report {
    let mut report = Report::new(module, "ispmanager", url);
    let mgr = isp.mgr();
    if !login(&mut report, mgr).await {
        return report;
    }
    match read(&mut report, mgr, "user", &[]).await {
        Ok(users) => {
            let (rows, no_name) = rows_without(&users, "name");
            report.fact(
                "user-list",
                "`user` list answers with a `name` on every row",
                true,
                Presence::of(no_name == 0),
                format!("{rows} users"),
            );
            let (found, note) = every_row(
                &users,
                "active",
                "user",
                "hostplane reads a user without `active=on` as suspended (reference §11)",
            );
            report.fact(
                "user-list-active",
                "`user` list carries `active` on every user",
                false,
                found,
                note,
            );
            let with_limits = users
                .elems()
                .any(|e| e.children.iter().any(|(n, _)| n.starts_with("limit_")));
            let (found, note) = match rows {
                0 => (Presence::Unknown, "no users to judge by".to_owned()),
                _ if with_limits => (Presence::Yes, "limits are compared from the list".into()),
                _ => (
                    Presence::No,
                    "without them every drift check would find every limit changed".into(),
                ),
            };
            report.fact(
                "user-list-limits",
                "`user` list carries the `limit_*` fields",
                true,
                found,
                note,
            );
        }
        Err(e) => report.fact(
            "user-list",
            "`user` list answers with a `name` on every row",
            true,
            Presence::No,
            e.to_string(),
        ),
    }
    let ghost = unknown_name();
    let answer = read(&mut report, mgr, "user.edit", &[("elid", &ghost)]).await;
    let (found, note) = match answer {
        Err(e) if crate::panel::ispmanager::is_not_found(&e) => {
            (Presence::Yes, format!("{ghost}: {e}"))
        }
        Ok(_) => (
            Presence::No,
            format!(
                "the form of {ghost} came back without an error: hostplane reads existence from the `user` list only (reference §11)"
            ),
        ),
        Err(e) => (Presence::Unknown, e.to_string()),
    };
    report.fact(
        "unknown-user-error",
        "`user.edit` of an unknown name answers an error",
        false,
        found,
        note,
    );
    let presets = read(&mut report, mgr, "preset", &[]).await;
    let (found, note) = match presets {
        Ok(doc) => (
            Presence::Yes,
            format!("{} account templates", doc.elems().count()),
        ),
        Err(e) => (Presence::No, e.to_string()),
    };
    report.fact(
        "preset-list",
        "`preset` list answers (tariffs name account templates)",
        true,
        found,
        note,
    );
    report
}

/// A username no panel has: `hpdoctor` and 8 hex digits (16 characters, ispmanager's limit).
fn unknown_name() -> String {
    format!("hpdoctor{:08x}", rand::rng().random::<u32>())
}

/// VMmanager 5: owners, VMs and how they say their power, and one VM's disks.
pub async fn vmmanager5(module: String, url: String, vm: &Vm5) -> Report {
    let mut report = Report::new(module, "VMmanager 5", url);
    let mgr = vm.mgr();
    if !login(&mut report, mgr).await {
        return report;
    }
    let owners = read(&mut report, mgr, "user", &[]).await;
    report.fact(
        "owner-list",
        "`user` list answers (VM owners are found by name)",
        true,
        Presence::of(owners.is_ok()),
        match owners {
            Ok(doc) => format!("{} owners", doc.elems().count()),
            Err(e) => e.to_string(),
        },
    );
    let vms = match read(&mut report, mgr, "vm", &[]).await {
        Ok(doc) => doc,
        Err(e) => {
            report.fact(
                "vm-list",
                "`vm` list answers",
                true,
                Presence::No,
                e.to_string(),
            );
            return report;
        }
    };
    report.fact(
        "vm-list",
        "`vm` list answers",
        true,
        Presence::Yes,
        format!("{} VMs", vms.elems().count()),
    );
    let powered = |e: &Node| e.value("vmpowered").or(e.value("state")).is_some();
    let rows = vms.elems().count();
    let without_power = vms.elems().filter(|e| !powered(e)).count();
    report.fact(
        "vm-power",
        "`vm` list says each VM's power (`vmpowered`, or `state` of older builds)",
        true,
        match (rows, without_power) {
            (0, _) => Presence::Unknown,
            (_, 0) => Presence::Yes,
            _ => Presence::No,
        },
        match rows {
            0 => "no VMs to judge by".to_owned(),
            _ => format!("{without_power} of {rows} VMs say neither"),
        },
    );
    for (key, field, fact, missing) in [
        (
            "vm-list-vmpowered",
            "vmpowered",
            "`vm` list carries `vmpowered`",
            "hostplane falls back to `state`",
        ),
        (
            "vm-list-vmstatus",
            "vmstatus",
            "`vm` list carries `vmstatus` (`admdown` = disabled by the admin)",
            "a VM disabled by the panel's admin cannot be told apart",
        ),
    ] {
        let (found, note) = every_row(&vms, field, "vm", missing);
        report.fact(key, fact, false, found, note);
    }
    let first = vms.elems().map(|e| e.get("id").to_owned()).next();
    let (found, note) = match first {
        None => (Presence::Unknown, "no VMs to judge by".to_owned()),
        Some(id) => match read(&mut report, mgr, "vm.volume", &[("elid", &id)]).await {
            Ok(doc) => (
                Presence::Yes,
                format!("VM {id}: {} disks", doc.elems().count()),
            ),
            Err(e) => (
                Presence::No,
                format!("VM {id}: {e}; disks cannot be grown through the API"),
            ),
        },
    };
    report.fact(
        "vm-volume",
        "`vm.volume` lists a VM's disks (disk growth)",
        false,
        found,
        note,
    );
    report
}

/// The licensing server: the licence list's fields and one licence's form.
pub async fn licensing(module: String, url: String, lic: &Licensing) -> Report {
    let mut report = Report::new(module, "licensing", url);
    let mgr = lic.mgr();
    if !login(&mut report, mgr).await {
        return report;
    }
    let soft = match read(&mut report, mgr, "soft", &[]).await {
        Ok(doc) => doc,
        Err(e) => {
            report.fact(
                "soft-list",
                "`soft` list answers",
                true,
                Presence::No,
                e.to_string(),
            );
            return report;
        }
    };
    report.fact(
        "soft-list",
        "`soft` list answers",
        true,
        Presence::Yes,
        format!("{} licences", soft.elems().count()),
    );
    for (key, field, fact) in SOFT_FIELDS {
        let (found, note) = every_row(&soft, field, "soft", "licences are found and renewed by it");
        report.fact(key, fact, true, found, note);
    }
    let (found, note) = every_row(
        &soft,
        "remoteid",
        "soft",
        "after a lost order answer hostplane finds the licence by the tag in its name, its IP and pricelist, confirmed with `soft.edit` (reference §11)",
    );
    report.fact(
        "soft-list-remoteid",
        "`soft` list echoes `remoteid`",
        false,
        found,
        note,
    );
    let first = soft.elems().map(|e| e.get("id").to_owned()).next();
    match first {
        None => report.fact(
            "soft-edit",
            "`soft.edit` shows a licence's form with its key",
            true,
            Presence::Unknown,
            "no licences to judge by",
        ),
        Some(id) => {
            let form = read(&mut report, mgr, "soft.edit", &[("elid", &id)]).await;
            let (found, note) = match &form {
                Ok(doc) if doc.value("lickey").is_some() => {
                    (Presence::Yes, format!("licence {id}"))
                }
                Ok(_) => (Presence::No, format!("licence {id}: no `lickey` field")),
                Err(e) => (Presence::No, format!("licence {id}: {e}")),
            };
            report.fact(
                "soft-edit",
                "`soft.edit` shows a licence's form with its key",
                true,
                found,
                note,
            );
            if let Ok(doc) = form {
                report.fact(
                    "soft-edit-remoteid",
                    "`soft.edit` shows `remoteid`",
                    false,
                    Presence::of(doc.value("remoteid").is_some()),
                    "confirms a licence found after a lost order answer",
                );
            }
        }
    }
    report
}

/// The fields of the `soft` list that hostplane reads: key, field, fact.
const SOFT_FIELDS: [(&str, &str, &str); 5] = [
    (
        "soft-list-licname",
        "licname",
        "`soft` list carries `licname` on every licence",
    ),
    (
        "soft-list-ip",
        "ip",
        "`soft` list carries `ip` on every licence",
    ),
    (
        "soft-list-pricelist",
        "pricelist",
        "`soft` list carries `pricelist` on every licence",
    ),
    (
        "soft-list-status",
        "status",
        "`soft` list carries `status` on every licence",
    ),
    (
        "soft-list-expiredate",
        "expiredate",
        "`soft` list carries `expiredate` on every licence",
    ),
];
