//! The simulated VMmanager 6 instance: accounts, sessions, hosts, IP addresses, catalogues and
//! tasks, plus the rules by which tasks move hosts between states.
//!
//! Tasks are the heart of VMmanager 6: every mutation answers at once with a task id and the
//! real change happens when the task completes (reference §4.6). Here a task carries the
//! effect it will have and the simulator clock time at which it ends; `settle` applies every
//! effect whose time has come, in order. Requests call `settle` first, so the state a client
//! reads is always the state "now" on the controllable clock, and advancing the clock through
//! the admin endpoint completes tasks without anyone waiting.
//!
//! No password is stored: the simulator only needs the administrator's (from the command
//! line), and a persisted state file must not become a credential dump.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// Everything a VMmanager 6 instance knows.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Vm6State {
    /// Id counters, one per collection, as the panel numbers each table separately.
    pub counters: Counters,
    /// Accounts by id.
    pub accounts: BTreeMap<u64, Account>,
    /// Sessions by token.
    pub sessions: BTreeMap<String, Session>,
    /// Hosts by id (deleted hosts are removed when their delete task completes).
    pub hosts: BTreeMap<u64, Host>,
    /// Tasks by row id.
    pub tasks: BTreeMap<u64, Task>,
    /// Assigned IPv4 addresses by id.
    pub ips: BTreeMap<u64, IpAddress>,
    /// OS images, clusters, recipes, nodes and IP pools.
    pub catalog: Catalog,
    /// Tunables: task durations, token lifetime, planned task failures.
    pub settings: Vm6Settings,
    /// Bumped on every change; answered as `last_notify`.
    pub last_notify: u64,
}

/// Next ids.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Next account id.
    pub account: u64,
    /// Next host id.
    pub host: u64,
    /// Next task row id.
    pub task: u64,
    /// Next consul task id (what mutations answer as `task`).
    pub consul: u64,
    /// Next IP address id.
    pub ip: u64,
    /// Next session (token) id.
    pub session: u64,
    /// Next disk id.
    pub disk: u64,
}

impl Default for Counters {
    fn default() -> Self {
        // Distinct ranges make a mixed-up id (a task id used as a host id) fail loudly.
        Counters {
            account: 2,
            host: 101,
            task: 1,
            consul: 1_488_200,
            ip: 501,
            session: 4,
            disk: 901,
        }
    }
}

/// A panel account.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Account {
    /// Id.
    pub id: u64,
    /// Login e-mail.
    pub email: String,
    /// `active`.
    pub state: String,
    /// `@admin` or `@user`.
    pub roles: Vec<String>,
}

/// A login session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Session {
    /// Token id (the `id` of the token response).
    pub id: u64,
    /// The account that logged in.
    pub account: u64,
    /// Last use on the simulator clock; the token dies after `token_idle_seconds` of rest.
    pub last_used: Timestamp,
}

/// A virtual server.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Host {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// `creating`, `active`, `stopped`, or `error` after a failed creation.
    pub state: String,
    /// FQDN.
    pub domain: String,
    /// Comment.
    pub comment: String,
    /// Owner account id.
    pub account: u64,
    /// Cluster id.
    pub cluster: u64,
    /// Node id.
    pub node: u64,
    /// OS image id.
    pub os: u64,
    /// Virtual CPUs.
    pub cpu_number: u64,
    /// RAM in MiB.
    pub ram_mib: u64,
    /// Main disk id.
    pub disk_id: u64,
    /// Main disk size in MiB.
    pub hdd_mib: u64,
    /// Bandwidth limit.
    pub net_bandwidth_mbitps: u64,
    /// Recipe run after the OS install, if any.
    pub recipe: Option<u64>,
    /// A resource change deferred to the next stop.
    pub deferred: Option<Resources>,
    /// How many times the root password was set (the value itself is not kept).
    pub password_changes: u64,
    /// Creation time on the simulator clock (server-pool ages follow it).
    pub created_at: Timestamp,
}

/// CPU / RAM / bandwidth values of a resource change; `None` keeps the current value.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Resources {
    /// New CPU count.
    pub cpu_number: Option<u64>,
    /// New RAM.
    pub ram_mib: Option<u64>,
    /// New bandwidth.
    pub net_bandwidth_mbitps: Option<u64>,
    /// New size of the main disk (`POST /vm/v3/disk/{id}`).
    #[serde(default)]
    pub hdd_mib: Option<u64>,
}

/// An IPv4 address assigned to a host.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IpAddress {
    /// Id.
    pub id: u64,
    /// The address.
    pub ip: String,
    /// Pool it came from.
    pub pool: u64,
    /// Host it is assigned to.
    pub host: u64,
    /// PTR domain.
    pub domain: String,
}

/// A task and the effect it has when it ends.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Task {
    /// Row id.
    pub id: u64,
    /// The id mutations answer as `task`.
    pub consul_id: u64,
    /// `host_create`, `host_start`, …
    pub name: String,
    /// Host the task works on.
    pub host: Option<u64>,
    /// When it was created.
    pub created_at: Timestamp,
    /// Before this instant the task is not yet listed (reference §4.6: "empty list = not yet
    /// visible, keep polling").
    pub visible_at: Timestamp,
    /// When it ends.
    pub ends_at: Timestamp,
    /// Whether it will end in `fail`.
    pub fails: bool,
    /// What completing it does.
    pub effect: Effect,
    /// Set once the effect (or the failure) has been applied.
    pub settled: bool,
    /// The `output` shown for a failed task.
    pub output: String,
}

/// What a task does to the state when it completes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum Effect {
    /// `host_create`: the host becomes active (or `error` if the task fails).
    Create,
    /// `host_start`.
    Start,
    /// `host_stop`: also applies a deferred resource change.
    Stop,
    /// `host_restart`: also applies a deferred resource change (the host stops on the way).
    Restart,
    /// `host_delete`: the host and its addresses go away.
    Delete,
    /// `host_reinstall` with a new OS.
    Reinstall {
        /// New OS image id.
        os: u64,
    },
    /// `host_change_params`.
    Resources(Resources),
    /// `host_change_password`.
    Password,
    /// `ip_change`: addresses were already assigned or released by the request.
    IpChange,
    /// A recipe run after `host_create`.
    Recipe,
    /// `host_edit`: name and comment were changed by the request.
    Nothing,
}

/// Catalogue objects.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Catalog {
    /// OS images.
    pub os: Vec<CatalogEntry>,
    /// Clusters.
    pub clusters: Vec<CatalogEntry>,
    /// Recipes.
    pub recipes: Vec<CatalogEntry>,
    /// Nodes (hosts are placed on the first node of their cluster).
    pub nodes: Vec<CatalogEntry>,
    /// IPv4 pools.
    pub ippools: Vec<IpPool>,
}

/// An OS image, cluster, recipe or node.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CatalogEntry {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// `active`.
    pub state: String,
    /// Cluster the node belongs to (nodes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<u64>,
}

/// A pool of IPv4 addresses: a /24 with a gateway at `.1`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IpPool {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// The first three octets, e.g. `203.0.113`.
    pub prefix: String,
    /// First host number handed out.
    pub first: u8,
    /// Last host number handed out.
    pub last: u8,
}

impl Default for Catalog {
    fn default() -> Self {
        let entry = |id, name: &str, cluster| CatalogEntry {
            id,
            name: name.into(),
            state: "active".into(),
            cluster,
        };
        Catalog {
            os: vec![
                entry(8211, "Ubuntu 22.04", None),
                entry(8212, "Debian 12", None),
                entry(8213, "AlmaLinux 9", None),
            ],
            clusters: vec![entry(1, "Cluster KVM", None), entry(2, "Cluster LXD", None)],
            recipes: vec![
                entry(11, "ispmanager 6", None),
                entry(12, "Docker CE", None),
            ],
            nodes: vec![entry(1, "node1", Some(1)), entry(2, "node2", Some(2))],
            ippools: vec![
                IpPool {
                    id: 3,
                    name: "public".into(),
                    prefix: "203.0.113".into(),
                    first: 10,
                    last: 250,
                },
                IpPool {
                    id: 4,
                    name: "reserve".into(),
                    prefix: "198.51.100".into(),
                    first: 10,
                    last: 250,
                },
            ],
        }
    }
}

/// Tunables, changed through `/admin/vm6/settings` or directly by in-process tests.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Vm6Settings {
    /// Default task duration in milliseconds of simulator time.
    pub task_ms: u64,
    /// Per task name overrides (`host_create` takes longer: it installs an OS).
    pub task_ms_by_name: BTreeMap<String, u64>,
    /// How long after creation a task shows up in `/vm/v3/task`.
    pub task_visible_after_ms: u64,
    /// Idle lifetime of a token (reference: 1 h of inactivity).
    pub token_idle_seconds: u64,
    /// The next N tasks with this name end in `fail`.
    pub fail_next: BTreeMap<String, u32>,
}

impl Default for Vm6Settings {
    fn default() -> Self {
        Vm6Settings {
            task_ms: 300,
            task_ms_by_name: BTreeMap::from([("host_create".into(), 1_500)]),
            task_visible_after_ms: 0,
            token_idle_seconds: 3_600,
            fail_next: BTreeMap::new(),
        }
    }
}

impl Default for Vm6State {
    fn default() -> Self {
        Vm6State {
            counters: Counters::default(),
            accounts: BTreeMap::new(),
            sessions: BTreeMap::new(),
            hosts: BTreeMap::new(),
            tasks: BTreeMap::new(),
            ips: BTreeMap::new(),
            catalog: Catalog::default(),
            settings: Vm6Settings::default(),
            last_notify: 1,
        }
    }
}

/// Task status as the API shows it.
pub fn task_status(task: &Task, now: Timestamp) -> &'static str {
    if now >= task.ends_at {
        if task.fails { "fail" } else { "complete" }
    } else if now >= task.created_at + task.ends_at.duration_since(task.created_at) / 3 {
        "running"
    } else {
        "pending"
    }
}

impl Vm6State {
    /// The administrator account of the simulator's own credentials, created on first use.
    pub fn ensure_admin(&mut self, email: &str) -> u64 {
        if let Some(found) = self.accounts.values().find(|a| a.email == email) {
            return found.id;
        }
        self.add_account(email, "@admin")
    }

    /// Adds an account; the caller has checked the e-mail is free.
    pub fn add_account(&mut self, email: &str, role: &str) -> u64 {
        let id = next(&mut self.counters.account);
        self.accounts.insert(
            id,
            Account {
                id,
                email: email.to_owned(),
                state: "active".into(),
                roles: vec![role.to_owned()],
            },
        );
        self.touch();
        id
    }

    /// Opens a session and returns (token id, token).
    pub fn open_session(&mut self, account: u64, now: Timestamp) -> (u64, String) {
        let id = next(&mut self.counters.session);
        let token = format!("{id}-{:032x}", rand::random::<u128>());
        self.sessions.insert(
            token.clone(),
            Session {
                id,
                account,
                last_used: now,
            },
        );
        (id, token)
    }

    /// Checks a token and refreshes its idle timer; expired tokens are dropped.
    pub fn use_session(&mut self, token: &str, now: Timestamp) -> Option<u64> {
        let idle = SignedDuration::from_secs(self.settings.token_idle_seconds as i64);
        let session = self.sessions.get_mut(token)?;
        if now.duration_since(session.last_used) > idle {
            self.sessions.remove(token);
            return None;
        }
        session.last_used = now;
        Some(session.account)
    }

    /// Drops every session: what a panel restart or the "session expiry" fault does.
    pub fn expire_sessions(&mut self) {
        self.sessions.clear();
    }

    /// Queues a task for `host` and returns its consul id.
    pub fn add_task(
        &mut self,
        name: &str,
        host: Option<u64>,
        effect: Effect,
        now: Timestamp,
    ) -> u64 {
        self.add_task_after(name, host, effect, now, now)
    }

    /// Queues a task that starts only at `start` (a recipe runs after the OS install).
    pub fn add_task_after(
        &mut self,
        name: &str,
        host: Option<u64>,
        effect: Effect,
        now: Timestamp,
        start: Timestamp,
    ) -> u64 {
        let ms = self
            .settings
            .task_ms_by_name
            .get(name)
            .copied()
            .unwrap_or(self.settings.task_ms);
        let fails = match self.settings.fail_next.get_mut(name) {
            Some(count) if *count > 0 => {
                *count -= 1;
                true
            }
            _ => false,
        };
        let id = next(&mut self.counters.task);
        let consul_id = next(&mut self.counters.consul);
        self.tasks.insert(
            id,
            Task {
                id,
                consul_id,
                name: name.to_owned(),
                host,
                created_at: now,
                visible_at: now
                    + SignedDuration::from_millis(self.settings.task_visible_after_ms as i64),
                ends_at: start + SignedDuration::from_millis(ms as i64),
                fails,
                effect,
                settled: false,
                output: if fails {
                    format!("{name} failed (injected by the simulator)")
                } else {
                    String::new()
                },
            },
        );
        self.touch();
        consul_id
    }

    /// Applies every task that has ended by `now`, oldest end first.
    pub fn settle(&mut self, now: Timestamp) {
        let mut due: Vec<(Timestamp, u64)> = self
            .tasks
            .values()
            .filter(|t| !t.settled && t.ends_at <= now)
            .map(|t| (t.ends_at, t.id))
            .collect();
        due.sort();
        for (_, id) in due {
            let task = match self.tasks.get_mut(&id) {
                Some(task) => {
                    task.settled = true;
                    task.clone()
                }
                None => continue,
            };
            self.apply(&task);
            self.touch();
        }
    }

    fn apply(&mut self, task: &Task) {
        let Some(host_id) = task.host else { return };
        if task.fails {
            if task.effect == Effect::Create
                && let Some(host) = self.hosts.get_mut(&host_id)
            {
                host.state = "error".into();
            }
            return;
        }
        if task.effect == Effect::Delete {
            self.hosts.remove(&host_id);
            self.ips.retain(|_, ip| ip.host != host_id);
            return;
        }
        let Some(host) = self.hosts.get_mut(&host_id) else {
            return;
        };
        match &task.effect {
            Effect::Create | Effect::Start => host.state = "active".into(),
            // A restart stops the host on the way, so a change deferred to the next stop
            // applies: the official module restarts the host for exactly that (reference §11).
            Effect::Restart | Effect::Stop => {
                if let Some(deferred) = host.deferred.take() {
                    apply_resources(host, &deferred);
                }
                host.state = if task.effect == Effect::Stop {
                    "stopped"
                } else {
                    "active"
                }
                .into();
            }
            Effect::Reinstall { os } => {
                host.os = *os;
                host.state = "active".into();
            }
            Effect::Resources(resources) => apply_resources(host, resources),
            Effect::Password => host.password_changes += 1,
            Effect::Delete | Effect::IpChange | Effect::Recipe | Effect::Nothing => {}
        }
    }

    /// Assigns `count` free addresses from `pools` (or the first pool) to `host`; `None` when
    /// the pools run out, in which case nothing is assigned.
    pub fn assign_ips(&mut self, host: u64, pools: &[u64], count: u64) -> Option<Vec<u64>> {
        let candidates: Vec<IpPool> = if pools.is_empty() {
            self.catalog.ippools.iter().take(1).cloned().collect()
        } else {
            self.catalog
                .ippools
                .iter()
                .filter(|p| pools.contains(&p.id))
                .cloned()
                .collect()
        };
        let mut chosen = Vec::new();
        'outer: for pool in &candidates {
            for n in pool.first..=pool.last {
                if chosen.len() as u64 == count {
                    break 'outer;
                }
                let ip = format!("{}.{n}", pool.prefix);
                let taken = self.ips.values().any(|a| a.ip == ip)
                    || chosen.iter().any(|(a, _): &(String, u64)| *a == ip);
                if !taken {
                    chosen.push((ip, pool.id));
                }
            }
        }
        if (chosen.len() as u64) < count {
            return None;
        }
        let mut ids = Vec::new();
        for (ip, pool) in chosen {
            let id = next(&mut self.counters.ip);
            self.ips.insert(
                id,
                IpAddress {
                    id,
                    ip,
                    pool,
                    host,
                    domain: String::new(),
                },
            );
            ids.push(id);
        }
        self.touch();
        Some(ids)
    }

    /// Releases the `count` most recently assigned addresses of `host`.
    pub fn release_ips(&mut self, host: u64, count: u64) {
        let mut owned: Vec<u64> = self
            .ips
            .values()
            .filter(|ip| ip.host == host)
            .map(|ip| ip.id)
            .collect();
        owned.sort_unstable_by(|a, b| b.cmp(a));
        for id in owned.into_iter().take(count as usize) {
            self.ips.remove(&id);
        }
        self.touch();
    }

    /// A fresh host id.
    pub fn next_host_id(&mut self) -> u64 {
        next(&mut self.counters.host)
    }

    /// A fresh disk id.
    pub fn next_disk_id(&mut self) -> u64 {
        next(&mut self.counters.disk)
    }

    /// Whether a task is still running on the host (the panel refuses most changes then).
    pub fn host_busy(&self, host: u64) -> bool {
        self.tasks
            .values()
            .any(|t| !t.settled && t.host == Some(host) && t.effect != Effect::Recipe)
    }

    /// Records a change for `last_notify`.
    pub fn touch(&mut self) {
        self.last_notify += 1;
    }
}

fn apply_resources(host: &mut Host, resources: &Resources) {
    if let Some(cpu) = resources.cpu_number {
        host.cpu_number = cpu;
    }
    if let Some(ram) = resources.ram_mib {
        host.ram_mib = ram;
    }
    if let Some(bw) = resources.net_bandwidth_mbitps {
        host.net_bandwidth_mbitps = bw;
    }
    if let Some(size) = resources.hdd_mib {
        host.hdd_mib = size;
    }
}

fn next(counter: &mut u64) -> u64 {
    let id = *counter;
    *counter += 1;
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + SignedDuration::from_millis(ms)
    }

    fn host(state: &mut Vm6State, now: Timestamp) -> u64 {
        let id = state.next_host_id();
        state.hosts.insert(
            id,
            Host {
                id,
                name: format!("cont{id}"),
                state: "creating".into(),
                domain: String::new(),
                comment: String::new(),
                account: 2,
                cluster: 1,
                node: 1,
                os: 8211,
                cpu_number: 1,
                ram_mib: 1024,
                disk_id: 0,
                hdd_mib: 10240,
                net_bandwidth_mbitps: 0,
                recipe: None,
                deferred: None,
                password_changes: 0,
                created_at: now,
            },
        );
        id
    }

    #[test]
    fn tasks_progress_with_the_clock_and_move_host_state() {
        let mut state = Vm6State::default();
        let id = host(&mut state, at(0));
        state.add_task("host_create", Some(id), Effect::Create, at(0));
        let task = state.tasks.values().next().unwrap().clone();
        assert_eq!(task_status(&task, at(0)), "pending");
        assert_eq!(task_status(&task, at(1000)), "running");
        state.settle(at(1000));
        assert_eq!(state.hosts[&id].state, "creating");
        state.settle(at(1500));
        assert_eq!(task_status(&task, at(1500)), "complete");
        assert_eq!(state.hosts[&id].state, "active");
    }

    #[test]
    fn planned_failure_leaves_the_host_in_error() {
        let mut state = Vm6State::default();
        state.settings.fail_next.insert("host_create".into(), 1);
        let id = host(&mut state, at(0));
        state.add_task("host_create", Some(id), Effect::Create, at(0));
        state.settle(at(10_000));
        assert_eq!(state.hosts[&id].state, "error");
        assert_eq!(state.settings.fail_next["host_create"], 0);
    }

    #[test]
    fn deferred_resources_apply_on_stop_and_delete_frees_addresses() {
        let mut state = Vm6State::default();
        let id = host(&mut state, at(0));
        assert_eq!(state.assign_ips(id, &[], 2).unwrap().len(), 2);
        state.hosts.get_mut(&id).unwrap().deferred = Some(Resources {
            cpu_number: Some(4),
            ..Resources::default()
        });
        state.add_task("host_stop", Some(id), Effect::Stop, at(0));
        state.settle(at(1000));
        assert_eq!(state.hosts[&id].cpu_number, 4);
        assert_eq!(state.hosts[&id].state, "stopped");
        state.add_task("host_delete", Some(id), Effect::Delete, at(1000));
        state.settle(at(2000));
        assert!(state.hosts.is_empty());
        assert!(state.ips.is_empty());
    }

    #[test]
    fn idle_tokens_expire() {
        let mut state = Vm6State::default();
        let admin = state.ensure_admin("admin@example.com");
        let (_, token) = state.open_session(admin, at(0));
        assert_eq!(state.use_session(&token, at(3_000_000)), Some(admin));
        assert_eq!(state.use_session(&token, at(3_000_000 + 3_601_000)), None);
        assert_eq!(state.use_session(&token, at(0)), None);
    }
}
