//! The read-only probe of VMmanager 6: a token (`POST /auth/v4/public/token`, which makes a
//! session and nothing else), `GET /auth/v4/whoami` and `GET /vm/v3/host`.

use serde_json::Value;

use super::{Presence, Report};
use crate::panel::PanelError;
use crate::panel::vmmanager6::Vm6Client;

pub async fn check(module: String, url: String, vm: &Vm6Client) -> Report {
    let mut report = Report::new(module, "VMmanager 6", url);
    let login = report.timed("auth.token", vm.login()).await;
    let (found, note) = match &login {
        Ok(_) => (Presence::Yes, "a token was issued".to_owned()),
        Err(PanelError::Auth { message }) => (Presence::No, format!("refused: {message}")),
        Err(e) => (Presence::No, format!("could not log in: {e}")),
    };
    report.fact(
        "login",
        "logs in with the module's credentials (token)",
        true,
        found,
        note,
    );
    if login.is_err() {
        return report;
    }
    if let Ok(who) = report
        .timed("auth.whoami", vm.get_json("auth.whoami", "auth/v4/whoami"))
        .await
    {
        report.version = who
            .get("version")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    let hosts = match report
        .timed("host.list", vm.get_json("host.list", "vm/v3/host"))
        .await
    {
        Ok(answer) => answer,
        Err(e) => {
            report.fact(
                "host-list",
                "`GET /vm/v3/host` answers a `list`",
                true,
                Presence::No,
                e.to_string(),
            );
            return report;
        }
    };
    let Some(list) = hosts.get("list").and_then(Value::as_array) else {
        report.fact(
            "host-list",
            "`GET /vm/v3/host` answers a `list`",
            true,
            Presence::No,
            "the answer has no `list` array",
        );
        return report;
    };
    report.fact(
        "host-list",
        "`GET /vm/v3/host` answers a `list`",
        true,
        Presence::Yes,
        format!("{} hosts", list.len()),
    );
    for (key, field, fact, needed, missing) in HOST_FIELDS {
        let without = list.iter().filter(|h| h.get(field).is_none()).count();
        let (found, note) = match (list.len(), without) {
            (0, _) => (Presence::Unknown, "no hosts to judge by".to_owned()),
            (n, 0) => (Presence::Yes, format!("on all {n} hosts")),
            (n, w) => (
                Presence::No,
                format!("{w} of {n} hosts lack `{field}`: {missing}"),
            ),
        };
        report.fact(key, fact, needed, found, note);
    }
    report
}

/// Host fields hostplane reads: key, field, fact, needed for `Full`, what a lack means.
const HOST_FIELDS: [(&str, &str, &str, bool, &str); 3] = [
    (
        "host-state",
        "state",
        "hosts carry `state`",
        true,
        "power and provisioning cannot be followed",
    ),
    (
        "host-name",
        "name",
        "hosts carry `name`",
        true,
        "a host cannot be found again after a lost create answer",
    ),
    (
        "host-pending-change",
        "cpu_number_new",
        "hosts carry `cpu_number_new` (a deferred resource change)",
        false,
        "a change deferred to the next stop cannot be seen as pending",
    ),
];
