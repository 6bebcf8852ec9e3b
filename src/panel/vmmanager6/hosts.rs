//! Hosts (virtual servers): lookups, creation, power, resources, password, reinstall, owner
//! and addresses (reference §4.4, §4.5, §4.7).
//!
//! Mutations return the [`TaskRef`] the panel answered; wait for it with
//! [`Vm6Client::wait`] and the task name given on each method.

use secrecy::SecretString;
use serde_json::json;

use super::Vm6Client;
use super::filter::Where;
use super::requests::{Defer, NewHost, Reinstall, ResourceChange};
use super::rest::Call;
use super::wire::{Host, List, TaskRef, expose};
use crate::panel::error::PanelError;

/// Task names, for [`Vm6Client::wait`].
pub mod task_names {
    /// `create_host`.
    pub const CREATE: &str = "host_create";
    /// `delete_host`.
    pub const DELETE: &str = "host_delete";
    /// `start_host`.
    pub const START: &str = "host_start";
    /// `stop_host`.
    pub const STOP: &str = "host_stop";
    /// `restart_host`.
    pub const RESTART: &str = "host_restart";
    /// `change_resources`.
    pub const RESOURCES: &str = "host_change_params";
    /// `reinstall_host`.
    pub const REINSTALL: &str = "host_reinstall";
    /// `resize_disk`.
    pub const DISK_RESIZE: &str = "disk_resize";
    /// `change_ipv4_count`.
    pub const IP_CHANGE: &str = "ip_change";
}

impl Vm6Client {
    /// `GET /vm/v3/host`, optionally filtered: hosts with owner, cluster, disk and addresses.
    pub async fn list_hosts(&self, filter: Option<&Where>) -> Result<Vec<Host>, PanelError> {
        let list: List<Host> = self
            .call(Call::get("host.list", "vm/v3/host").filtered(filter))
            .await?;
        Ok(list.list)
    }

    /// Hosts with exactly this name: the lookup after a lost create answer. More than one
    /// means someone created twice; the caller decides which to keep.
    pub async fn find_hosts_by_name(&self, name: &str) -> Result<Vec<Host>, PanelError> {
        let hosts = self.list_hosts(Some(&Where::eq("name", name))).await?;
        Ok(hosts.into_iter().filter(|h| h.name == name).collect())
    }

    /// The host with its relations and addresses (the list endpoint filtered by id, since
    /// `GET /host/{id}` omits them); `None` when it does not exist.
    pub async fn find_host(&self, id: u64) -> Result<Option<Host>, PanelError> {
        let hosts = self.list_hosts(Some(&Where::eq("id", id))).await?;
        Ok(hosts.into_iter().find(|h| h.id == id))
    }

    /// `GET /vm/v3/host/{id}`: the element alone (no addresses); `Missed` when unknown.
    pub async fn get_host(&self, id: u64) -> Result<Host, PanelError> {
        let path = format!("vm/v3/host/{id}");
        self.call(Call::get("host.get", &path)).await
    }

    /// `POST /vm/v3/host`; task `host_create`. Never repeated after a lost answer: on
    /// `OutcomeUnknown` look the name up with [`Vm6Client::find_hosts_by_name`].
    pub async fn create_host(&self, host: &NewHost) -> Result<TaskRef, PanelError> {
        let created: TaskRef = self
            .call(Call::post("host.create", "vm/v3/host", host).non_idempotent())
            .await?;
        // An answer without the host's id may still mean the host is being made.
        if created.id == 0 {
            return Err(PanelError::unconfirmed("host.create", "host id"));
        }
        Ok(created)
    }

    /// `POST /vm/v3/host/{id}`: rename and/or re-comment.
    pub async fn edit_host(
        &self,
        id: u64,
        name: Option<&str>,
        comment: Option<&str>,
    ) -> Result<TaskRef, PanelError> {
        let mut body = serde_json::Map::new();
        if let Some(name) = name {
            body.insert("name".into(), json!(name));
        }
        if let Some(comment) = comment {
            body.insert("comment".into(), json!(comment));
        }
        let path = format!("vm/v3/host/{id}");
        self.call(Call::post("host.edit", &path, body)).await
    }

    /// `DELETE /vm/v3/host/{id}`; task `host_delete`. A second delete answers `Missed`.
    pub async fn delete_host(&self, id: u64) -> Result<TaskRef, PanelError> {
        let path = format!("vm/v3/host/{id}");
        self.call(Call::delete("host.delete", &path)).await
    }

    /// `POST /vm/v3/host/{id}/start`; task `host_start` (resume).
    pub async fn start_host(&self, id: u64) -> Result<TaskRef, PanelError> {
        let path = format!("vm/v3/host/{id}/start");
        self.call(Call::post("host.start", &path, json!({}))).await
    }

    /// `POST /vm/v3/host/{id}/stop`; task `host_stop` (suspend). `force` pulls the plug.
    pub async fn stop_host(&self, id: u64, force: bool) -> Result<TaskRef, PanelError> {
        let path = format!("vm/v3/host/{id}/stop");
        let body = if force {
            json!({"force": true})
        } else {
            json!({})
        };
        self.call(Call::post("host.stop", &path, body)).await
    }

    /// `POST /vm/v3/host/{id}/restart`; task `host_restart` (the answer also names the start
    /// task). It applies a change deferred to the next stop, as the official module relies
    /// on [S19].
    pub async fn restart_host(&self, id: u64) -> Result<TaskRef, PanelError> {
        let path = format!("vm/v3/host/{id}/restart");
        self.call(Call::post("host.restart", &path, json!({})))
            .await
    }

    /// `POST /vm/v3/host/{id}/resource`; task `host_change_params`. Use
    /// `defer: host_stop` for a running host, then stop and start it.
    pub async fn change_resources(
        &self,
        id: u64,
        change: &ResourceChange,
    ) -> Result<TaskRef, PanelError> {
        let path = format!("vm/v3/host/{id}/resource");
        self.call(Call::post("host.resource", &path, change)).await
    }

    /// `POST /vm/v3/disk/{disk_id}`; task `disk_resize`. Disks only grow (reference §4.7);
    /// `defer: host_stop` applies the new size at the next stop of a running host. Setting
    /// an absolute size is idempotent, so a lost answer may be repeated.
    pub async fn resize_disk(
        &self,
        disk: u64,
        size_mib: u64,
        defer: Option<Defer>,
    ) -> Result<TaskRef, PanelError> {
        let path = format!("vm/v3/disk/{disk}");
        let mut body = json!({ "size_mib": size_mib });
        if let Some(defer) = defer {
            body["defer"] = json!({ "action": defer.action });
        }
        self.call(Call::post("disk.resize", &path, body)).await
    }

    /// `POST /vm/v3/host/{id}/password`: the root password.
    pub async fn set_host_password(
        &self,
        id: u64,
        password: &SecretString,
    ) -> Result<TaskRef, PanelError> {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            #[serde(serialize_with = "expose")]
            password: &'a SecretString,
        }
        let path = format!("vm/v3/host/{id}/password");
        self.call(Call::post("host.password", &path, Body { password }))
            .await
    }

    /// `POST /vm/v3/host/{id}/reinstall`; task `host_reinstall`. Wipes the disk, so it is
    /// not repeated after a lost answer.
    pub async fn reinstall_host(
        &self,
        id: u64,
        reinstall: &Reinstall,
    ) -> Result<TaskRef, PanelError> {
        let path = format!("vm/v3/host/{id}/reinstall");
        self.call(Call::post("host.reinstall", &path, reinstall).non_idempotent())
            .await
    }

    /// `POST /vm/v3/host/{id}/account`: a new owner (a pooled server handed to its buyer).
    pub async fn change_host_owner(&self, id: u64, account: u64) -> Result<(), PanelError> {
        let path = format!("vm/v3/host/{id}/account");
        let _: serde_json::Value = self
            .call(Call::post(
                "host.account",
                &path,
                json!({ "account": account }),
            ))
            .await?;
        Ok(())
    }

    /// `POST /vm/v3/host/{id}/ip`: add (`delta` > 0) or remove IPv4 addresses; task
    /// `ip_change`. A delta is not idempotent, so it is not repeated after a lost answer.
    pub async fn change_ipv4_count(
        &self,
        id: u64,
        delta: i64,
        pools: &[u64],
    ) -> Result<TaskRef, PanelError> {
        let path = format!("vm/v3/host/{id}/ip");
        let mut body = json!({ "ipv4_number": delta });
        if !pools.is_empty() {
            body["ipv4_pool"] = json!(pools);
        }
        self.call(Call::post("host.ip", &path, body).non_idempotent())
            .await
    }
}
