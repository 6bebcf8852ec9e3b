//! Lists of the simulated VMmanager 6: accounts, hosts, tasks and catalogues, all with the
//! `where` filter applied to the JSON the client will see (reference §4.3).

use axum::http::StatusCode;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::reply::{self, ApiErr, CODE_BAD_FILTER, Reply};
use super::{render, where_expr};
use crate::simulator::state_vm6::{CatalogEntry, Vm6State};

/// The collections with a list endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Collection {
    /// `/vm/v3/account`.
    Accounts,
    /// `/vm/v3/host`.
    Hosts,
    /// `/vm/v3/task`.
    Tasks,
    /// `/vm/v3/os`.
    Os,
    /// `/vm/v3/cluster`.
    Clusters,
    /// `/vm/v3/recipe`.
    Recipes,
    /// `/vm/v3/node`.
    Nodes,
    /// `/vm/v3/preset` (always empty: the simulator sizes hosts explicitly).
    Presets,
    /// `/ip/v3/ippool`.
    IpPools,
    /// `/ip/v3/ipnet`.
    IpNets,
}

/// Answers a list, filtered by the decoded `where` parameter if one was sent.
pub fn list(state: &Vm6State, now: Timestamp, what: Collection, filter: Option<&str>) -> Reply {
    let expr = match filter {
        Some(text) => Some(where_expr::parse(text).map_err(|e| {
            ApiErr::new(
                StatusCode::BAD_REQUEST,
                CODE_BAD_FILTER,
                format!("Invalid where filter: {e}"),
            )
            .with(json!({"where": text}))
        })?),
        None => None,
    };
    let items: Vec<Value> = match what {
        Collection::Accounts => state
            .accounts
            .values()
            .map(|a| render::account_item(state, a))
            .collect(),
        Collection::Hosts => state
            .hosts
            .values()
            .map(|h| render::host_list_item(state, h))
            .collect(),
        Collection::Tasks => state
            .tasks
            .values()
            .filter(|t| now >= t.visible_at)
            .rev()
            .map(|t| render::task_item(t, now))
            .collect(),
        Collection::Os => entries(&state.catalog.os),
        Collection::Clusters => state
            .catalog
            .clusters
            .iter()
            .map(|c| {
                json!({"id": c.id, "name": c.name, "state": c.state,
                       "virtualization_type": if c.id == 2 { "lxd" } else { "kvm" },
                       "host_count": state.hosts.values().filter(|h| h.cluster == c.id).count()})
            })
            .collect(),
        Collection::Recipes => entries(&state.catalog.recipes),
        Collection::Nodes => state
            .catalog
            .nodes
            .iter()
            .map(|n| json!({"id": n.id, "name": n.name, "state": n.state,
                            "cluster": {"id": n.cluster}}))
            .collect(),
        Collection::Presets => Vec::new(),
        Collection::IpPools | Collection::IpNets => state
            .catalog
            .ippools
            .iter()
            .map(|p| {
                let used = state.ips.values().filter(|ip| ip.pool == p.id).count();
                json!({"id": p.id, "name": p.name, "ranges": [format!("{}.{}-{}.{}", p.prefix, p.first, p.prefix, p.last)],
                       "network": format!("{}.0/24", p.prefix), "gateway": format!("{}.1", p.prefix),
                       "ip_used": used})
            })
            .collect(),
    };
    let items = match expr {
        Some(expr) => items.into_iter().filter(|i| expr.matches(i)).collect(),
        None => items,
    };
    reply::list(items, state.last_notify)
}

fn entries(list: &[CatalogEntry]) -> Vec<Value> {
    list.iter()
        .map(|e| json!({"id": e.id, "name": e.name, "state": e.state}))
        .collect()
}

/// `GET /vm/v3/host/{id}`.
pub fn host(state: &Vm6State, id: u64) -> Reply {
    match state.hosts.get(&id) {
        Some(host) => reply::ok(render::host_item(host)),
        None => Err(ApiErr::not_found("Host", id)),
    }
}

/// `GET /vm/v3/task/{id}` → `{"task":{…}}` (reference §4.4); the id may be the row id or the
/// consul id, as clients use both.
pub fn task(state: &Vm6State, now: Timestamp, id: u64) -> Reply {
    let task = state
        .tasks
        .get(&id)
        .or_else(|| state.tasks.values().find(|t| t.consul_id == id));
    match task {
        Some(task) => reply::ok(json!({"task": render::task_item(task, now)})),
        None => Err(ApiErr::not_found("Task", id)),
    }
}
