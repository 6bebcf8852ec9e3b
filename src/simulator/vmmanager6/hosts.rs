//! Host functions of the simulated VMmanager 6 (reference §4.4–§4.7).
//!
//! Every mutation answers at once with `{"id","task"}`; the change itself happens when the
//! task completes on the simulator clock (see `state_vm6`). While a task runs on a host the
//! panel refuses further changes (except delete), which is what makes clients wait for tasks.

use axum::http::StatusCode;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::reply::{
    self, ApiErr, CODE_BUSY, CODE_NO_ADDRESSES, Reply, id_list, ok, only, opt_str, opt_u64,
    req_str, req_u64,
};
use crate::simulator::state_vm6::{Effect, Host, Resources, Vm6State};

/// Body fields `POST /vm/v3/host` accepts (the union of §4.5).
const CREATE_FIELDS: &[&str] = &[
    "name",
    "password",
    "cluster",
    "os",
    "image",
    "preset",
    "cpu_number",
    "ram_mib",
    "hdd_mib",
    "disks",
    "account",
    "node",
    "storage",
    "domain",
    "comment",
    "ipv4_number",
    "ipv4_pool",
    "ipv6_enabled",
    "ipv6_prefix",
    "ipv6_pool",
    "net_bandwidth_mbitps",
    "net_in_mbitps",
    "net_out_mbitps",
    "recipe",
    "recipe_params",
    "recipe_list",
    "custom_interfaces",
    "interfaces",
    "vxlan",
    "firewall_rules",
    "send_email_mode",
    "cpu_mode",
    "anti_spoofing",
    "ip_addr",
];

fn host_mut(state: &mut Vm6State, id: u64) -> Result<&mut Host, ApiErr> {
    state
        .hosts
        .get_mut(&id)
        .ok_or_else(|| ApiErr::not_found("Host", id))
}

/// Whether a change asks to wait for the host's next stop (`defer:{"action":"host_stop"}`).
fn defers_to_stop(body: &Map<String, Value>) -> bool {
    body.get("defer")
        .and_then(|d| d.get("action"))
        .and_then(Value::as_str)
        == Some("host_stop")
}

fn not_busy(state: &Vm6State, id: u64) -> Result<(), ApiErr> {
    if !state.hosts.contains_key(&id) {
        return Err(ApiErr::not_found("Host", id));
    }
    if state.host_busy(id) {
        return Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            CODE_BUSY,
            format!("Host {id} has a task in progress"),
        )
        .with(json!({"id": id})));
    }
    Ok(())
}

fn task_reply(id: u64, task: u64) -> Reply {
    ok(json!({"id": id, "task": task}))
}

/// `POST /vm/v3/host`.
pub fn create(state: &mut Vm6State, now: Timestamp, body: &Map<String, Value>) -> Reply {
    only(body, CREATE_FIELDS)?;
    let name = req_str(body, "name")?.to_owned();
    req_str(body, "password")?;
    let cluster = req_u64(body, "cluster")?;
    if !state.catalog.clusters.iter().any(|c| c.id == cluster) {
        return Err(ApiErr::field(
            "cluster",
            format!("Cluster {cluster} not found"),
        ));
    }
    let os = match (opt_u64(body, "os")?, opt_u64(body, "image")?) {
        (Some(os), _) if state.catalog.os.iter().any(|o| o.id == os) => os,
        (Some(os), _) => return Err(ApiErr::field("os", format!("OS {os} not found"))),
        (None, Some(image)) => image,
        (None, None) => return Err(ApiErr::field("os", "'os' or 'image' is required")),
    };
    let account = req_u64(body, "account")?;
    if !state.accounts.contains_key(&account) {
        return Err(ApiErr::field(
            "account",
            format!("Account {account} not found"),
        ));
    }
    let cpu_number = opt_u64(body, "cpu_number")?.unwrap_or(1);
    let ram_mib = opt_u64(body, "ram_mib")?.unwrap_or(1024);
    let hdd_mib = opt_u64(body, "hdd_mib")?.unwrap_or(10_240);
    if cpu_number == 0 || ram_mib < 128 || hdd_mib < 1024 {
        return Err(ApiErr::field(
            "cpu_number",
            "cpu_number must be at least 1, ram_mib at least 128 and hdd_mib at least 1024",
        ));
    }
    let recipe = opt_u64(body, "recipe")?.filter(|r| *r != 0);
    if let Some(recipe) = recipe
        && !state.catalog.recipes.iter().any(|r| r.id == recipe)
    {
        return Err(ApiErr::field(
            "recipe",
            format!("Recipe {recipe} not found"),
        ));
    }
    let node = match opt_u64(body, "node")?.filter(|n| *n != 0) {
        Some(node) => node,
        None => state
            .catalog
            .nodes
            .iter()
            .find(|n| n.cluster == Some(cluster))
            .map_or(0, |n| n.id),
    };
    let ipv4_number = opt_u64(body, "ipv4_number")?.unwrap_or(1);
    let pools = id_list(body, "ipv4_pool")?;

    let id = state.next_host_id();
    if state.assign_ips(id, &pools, ipv4_number).is_none() {
        return Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            CODE_NO_ADDRESSES,
            "Not enough free IPv4 addresses in the pool",
        )
        .with(json!({"ipv4_number": ipv4_number})));
    }
    let disk_id = state.next_disk_id();
    state.hosts.insert(
        id,
        Host {
            id,
            name,
            state: "creating".into(),
            domain: opt_str(body, "domain")?.unwrap_or_default().to_owned(),
            comment: opt_str(body, "comment")?.unwrap_or_default().to_owned(),
            account,
            cluster,
            node,
            os,
            cpu_number,
            ram_mib,
            disk_id,
            hdd_mib,
            net_bandwidth_mbitps: opt_u64(body, "net_bandwidth_mbitps")?.unwrap_or(0),
            recipe,
            deferred: None,
            password_changes: 1,
            created_at: now,
        },
    );
    let task = state.add_task("host_create", Some(id), Effect::Create, now);
    let (recipe_task, recipe_list) = match recipe {
        Some(_) => {
            let start = state
                .tasks
                .values()
                .find(|t| t.consul_id == task)
                .map_or(now, |t| t.ends_at);
            let recipe_task =
                state.add_task_after("host_recipe", Some(id), Effect::Recipe, now, start);
            (recipe_task, vec![recipe_task])
        }
        None => (0, Vec::new()),
    };
    ok(json!({"id": id, "task": task, "recipe_task_list": recipe_list, "recipe_task": recipe_task}))
}

/// `POST /vm/v3/host/{id}`: name and comment (and HA flags, accepted and ignored).
pub fn edit(state: &mut Vm6State, now: Timestamp, id: u64, body: &Map<String, Value>) -> Reply {
    only(
        body,
        &[
            "name",
            "comment",
            "ha_restore_on_fail",
            "ha_restore_priority",
        ],
    )?;
    let name = opt_str(body, "name")?.map(str::to_owned);
    let comment = opt_str(body, "comment")?.map(str::to_owned);
    if name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(ApiErr::field("name", "'name' must not be empty"));
    }
    let host = host_mut(state, id)?;
    if let Some(name) = name {
        host.name = name;
    }
    if let Some(comment) = comment {
        host.comment = comment;
    }
    let task = state.add_task("host_edit", Some(id), Effect::Nothing, now);
    task_reply(id, task)
}

/// `DELETE /vm/v3/host/{id}`: allowed even while another task runs.
pub fn delete(state: &mut Vm6State, now: Timestamp, id: u64) -> Reply {
    host_mut(state, id)?;
    let task = state.add_task("host_delete", Some(id), Effect::Delete, now);
    task_reply(id, task)
}

/// `POST /vm/v3/host/{id}/start|stop|restart`.
pub fn power(
    state: &mut Vm6State,
    now: Timestamp,
    id: u64,
    action: &str,
    body: &Map<String, Value>,
) -> Reply {
    only(body, &["force"])?;
    not_busy(state, id)?;
    let (name, effect) = match action {
        "start" => ("host_start", Effect::Start),
        "stop" => ("host_stop", Effect::Stop),
        _ => ("host_restart", Effect::Restart),
    };
    let task = state.add_task(name, Some(id), effect, now);
    if action == "restart" {
        return ok(json!({"id": id, "task": task, "start_task": task}));
    }
    task_reply(id, task)
}

/// `POST /vm/v3/host/{id}/resource`. With `defer:{"action":"host_stop"}` on a running host
/// the change waits for the next stop; the answered task only acknowledges it.
pub fn resources(
    state: &mut Vm6State,
    now: Timestamp,
    id: u64,
    body: &Map<String, Value>,
) -> Reply {
    only(
        body,
        &[
            "cpu_number",
            "ram_mib",
            "net_bandwidth_mbitps",
            "cpu_mode",
            "firewall_rules",
            "defer",
        ],
    )?;
    not_busy(state, id)?;
    let change = Resources {
        cpu_number: opt_u64(body, "cpu_number")?,
        ram_mib: opt_u64(body, "ram_mib")?,
        net_bandwidth_mbitps: opt_u64(body, "net_bandwidth_mbitps")?,
        hdd_mib: None,
    };
    if change.cpu_number == Some(0) || change.ram_mib.is_some_and(|r| r < 128) {
        return Err(ApiErr::field(
            "cpu_number",
            "cpu_number must be at least 1 and ram_mib at least 128",
        ));
    }
    let defer_on_stop = defers_to_stop(body);
    let host = host_mut(state, id)?;
    let effect = if defer_on_stop && host.state == "active" {
        let deferred = host.deferred.get_or_insert_with(Resources::default);
        deferred.cpu_number = change.cpu_number.or(deferred.cpu_number);
        deferred.ram_mib = change.ram_mib.or(deferred.ram_mib);
        deferred.net_bandwidth_mbitps = change
            .net_bandwidth_mbitps
            .or(deferred.net_bandwidth_mbitps);
        Effect::Nothing
    } else {
        Effect::Resources(change)
    };
    let task = state.add_task("host_change_params", Some(id), effect, now);
    task_reply(id, task)
}

/// `POST /vm/v3/disk/{disk_id}`: grow a host's main disk (task `disk_resize`). Disks only
/// grow; with `defer:{"action":"host_stop"}` on a running host the new size waits for the
/// next stop, like a deferred resource change.
pub fn disk_resize(
    state: &mut Vm6State,
    now: Timestamp,
    disk: u64,
    body: &Map<String, Value>,
) -> Reply {
    only(body, &["size_mib", "defer"])?;
    let size = req_u64(body, "size_mib")?;
    let Some(id) = state
        .hosts
        .values()
        .find(|h| h.disk_id == disk)
        .map(|h| h.id)
    else {
        return Err(ApiErr::not_found("Disk", disk));
    };
    not_busy(state, id)?;
    let defer_on_stop = defers_to_stop(body);
    let host = host_mut(state, id)?;
    let current = host
        .deferred
        .as_ref()
        .and_then(|d| d.hdd_mib)
        .unwrap_or(host.hdd_mib);
    if size < current {
        return Err(ApiErr::field(
            "size_mib",
            format!("the disk can only grow: it has {current} MiB, {size} MiB asked"),
        ));
    }
    let change = Resources {
        hdd_mib: Some(size),
        ..Resources::default()
    };
    let effect = if defer_on_stop && host.state == "active" {
        host.deferred.get_or_insert_with(Resources::default).hdd_mib = Some(size);
        Effect::Nothing
    } else {
        Effect::Resources(change)
    };
    let task = state.add_task("disk_resize", Some(id), effect, now);
    ok(json!({"id": disk, "task": task}))
}

/// `POST /vm/v3/host/{id}/password`.
pub fn password(state: &mut Vm6State, now: Timestamp, id: u64, body: &Map<String, Value>) -> Reply {
    only(body, &["password"])?;
    req_str(body, "password")?;
    not_busy(state, id)?;
    let task = state.add_task("host_change_password", Some(id), Effect::Password, now);
    task_reply(id, task)
}

/// `POST /vm/v3/host/{id}/reinstall`.
pub fn reinstall(
    state: &mut Vm6State,
    now: Timestamp,
    id: u64,
    body: &Map<String, Value>,
) -> Reply {
    only(
        body,
        &[
            "os",
            "image",
            "password",
            "send_email_mode",
            "recipe",
            "recipe_params",
            "recipe_list",
        ],
    )?;
    let os = req_u64(body, "os")?;
    if !state.catalog.os.iter().any(|o| o.id == os) {
        return Err(ApiErr::field("os", format!("OS {os} not found")));
    }
    req_str(body, "password")?;
    not_busy(state, id)?;
    let task = state.add_task("host_reinstall", Some(id), Effect::Reinstall { os }, now);
    task_reply(id, task)
}

/// `POST /vm/v3/host/{id}/account`: a new owner, at once.
pub fn change_owner(state: &mut Vm6State, id: u64, body: &Map<String, Value>) -> Reply {
    only(body, &["account"])?;
    let account = req_u64(body, "account")?;
    if !state.accounts.contains_key(&account) {
        return Err(ApiErr::field(
            "account",
            format!("Account {account} not found"),
        ));
    }
    host_mut(state, id)?.account = account;
    state.touch();
    ok(json!({"id": id}))
}

/// `GET /vm/v3/host/{id}/ipv4`.
pub fn ipv4(state: &Vm6State, id: u64) -> Reply {
    if !state.hosts.contains_key(&id) {
        return Err(ApiErr::not_found("Host", id));
    }
    let items = super::render::host_ips(state, id)
        .map(|ip| super::render::ipv4_item(state, ip))
        .collect();
    reply::list(items, state.last_notify)
}

/// `POST /vm/v3/host/{id}/ip`: `ipv4_number` is a delta (negative releases addresses).
pub fn change_ips(
    state: &mut Vm6State,
    now: Timestamp,
    id: u64,
    body: &Map<String, Value>,
) -> Reply {
    only(
        body,
        &[
            "ipv4_number",
            "ipv4_pool",
            "ipv6_enabled",
            "ipv6_prefix",
            "ip_addr",
        ],
    )?;
    not_busy(state, id)?;
    let delta = match body.get("ipv4_number") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| ApiErr::field("ipv4_number", "'ipv4_number' must be an integer"))?,
    };
    let pools = id_list(body, "ipv4_pool")?;
    if delta > 0 {
        if state.assign_ips(id, &pools, delta as u64).is_none() {
            return Err(ApiErr::new(
                StatusCode::BAD_REQUEST,
                CODE_NO_ADDRESSES,
                "Not enough free IPv4 addresses in the pool",
            ));
        }
    } else if delta < 0 {
        state.release_ips(id, delta.unsigned_abs());
    }
    let task = state.add_task("ip_change", Some(id), Effect::IpChange, now);
    task_reply(id, task)
}

/// `POST /vm/v3/ip/{id}/ptr`.
pub fn set_ptr(state: &mut Vm6State, ip: u64, body: &Map<String, Value>) -> Reply {
    only(body, &["domain", "name"])?;
    let domain = req_str(body, "domain")?.to_owned();
    let address = state
        .ips
        .get_mut(&ip)
        .ok_or_else(|| ApiErr::not_found("IP address", ip))?;
    address.domain = domain;
    state.touch();
    ok(json!({"id": ip}))
}
