//! JSON views of the simulated objects, shaped like the panel's (reference §4.4; field names
//! from the public clients it cites).

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::simulator::state_vm6::{Host, IpAddress, Task, Vm6State, task_status};

/// A host as the list endpoint shows it: with owner, cluster, node, disk and addresses.
pub fn host_list_item(state: &Vm6State, host: &Host) -> Value {
    let account = state.accounts.get(&host.account);
    let cluster = state.catalog.clusters.iter().find(|c| c.id == host.cluster);
    let node = state.catalog.nodes.iter().find(|n| n.id == host.node);
    let os = state.catalog.os.iter().find(|o| o.id == host.os);
    let ip4: Vec<Value> = host_ips(state, host.id)
        .map(|ip| json!({"id": ip.id, "ip": ip.ip}))
        .collect();
    let deferred = host.deferred.clone().unwrap_or_default();
    json!({
        "id": host.id,
        "name": host.name,
        "state": host.state,
        "domain": host.domain,
        "comment": host.comment,
        "account": {"id": host.account, "email": account.map(|a| a.email.as_str()).unwrap_or("")},
        "cluster": {"id": host.cluster, "name": cluster.map(|c| c.name.as_str()).unwrap_or("")},
        "node": {"id": host.node, "name": node.map(|n| n.name.as_str()).unwrap_or("")},
        "disk": {
            "id": host.disk_id,
            "disk_mib": host.hdd_mib,
            "disk_mib_new": deferred.hdd_mib.unwrap_or(host.hdd_mib),
        },
        "disk_count": 1,
        "cpu_number": host.cpu_number,
        "cpu_number_new": deferred.cpu_number.unwrap_or(host.cpu_number),
        "ram_mib": host.ram_mib,
        "ram_mib_new": deferred.ram_mib.unwrap_or(host.ram_mib),
        "net_bandwidth_mbitps": host.net_bandwidth_mbitps,
        "ip4": ip4,
        "ip6": [],
        "os_name": os.map(|o| o.name.as_str()).unwrap_or(""),
        "os": host.os,
        "recipe": host.recipe,
        "date_create": host.created_at.to_string(),
    })
}

/// A host as `GET /vm/v3/host/{id}` shows it: the element alone, `node` as a bare id
/// (reference §4.3: "without associated objects").
pub fn host_item(host: &Host) -> Value {
    json!({
        "id": host.id,
        "internal_name": format!("{}_{}", host.id, host.name),
        "name": host.name,
        "state": host.state,
        "node": host.node,
        "cpu_number": host.cpu_number,
        "ram_mib": host.ram_mib,
        "domain": host.domain,
        "comment": host.comment,
        "ip_automation": "default",
        "net_is_synced": true,
    })
}

/// The addresses of one host, oldest first.
pub fn host_ips(state: &Vm6State, host: u64) -> impl Iterator<Item = &IpAddress> {
    state.ips.values().filter(move |ip| ip.host == host)
}

/// An element of `GET /vm/v3/host/{id}/ipv4`.
pub fn ipv4_item(state: &Vm6State, ip: &IpAddress) -> Value {
    let host = state.hosts.get(&ip.host);
    let prefix = ip.ip.rsplit_once('.').map(|(p, _)| p).unwrap_or("");
    json!({
        "id": ip.id,
        "ip_addr": ip.ip,
        "domain": ip.domain,
        "gateway": format!("{prefix}.1"),
        "mask": "255.255.255.0",
        "state": "assigned",
        "family": 4,
        "ippool": ip.pool,
        "network": ip.pool,
        "host": {"id": ip.host, "name": host.map(|h| h.name.as_str()).unwrap_or("")},
    })
}

/// An element of `GET /vm/v3/task`.
pub fn task_item(task: &Task, now: Timestamp) -> Value {
    let status = task_status(task, now);
    json!({
        "id": task.id,
        "consul_id": task.consul_id,
        "name": task.name,
        "status": status,
        "defer_reason": Value::Null,
        "host": task.host,
        "output": if status == "fail" { task.output.as_str() } else { "" },
        "registration_date": task.created_at.to_string(),
    })
}

/// An element of `GET /vm/v3/account`.
pub fn account_item(state: &Vm6State, account: &crate::simulator::state_vm6::Account) -> Value {
    let host_count = state
        .hosts
        .values()
        .filter(|h| h.account == account.id)
        .count();
    json!({
        "id": account.id,
        "email": account.email,
        "state": account.state,
        "roles": account.roles,
        "host_count": host_count,
    })
}
