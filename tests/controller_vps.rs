//! Virtual servers end to end (seed 004): the controller against the real kube-apiserver and
//! the in-process VMmanager 6 and 5 simulators. Create → Ready with the IP, suspend/resume as
//! stop/start, CPU/RAM and disk changes (a smaller disk refused), an OS change reinstalling
//! once, delete and orphan, a lost create answer, recipe completion gating
//! Ready, and the server pool (filled from sales, taken by an order, aged out on the
//! simulator's clock).

mod common;
mod support;

use std::time::Duration;

use hostplane::api::hosting_service::{DeletionPolicy, ManagementPolicy};
use hostplane::api::processing_module::{DeploymentComplete, ModuleTimeouts, VmManagerApiVersion};
use hostplane::simulator::{FaultSpec, SimHandle};
use support::fixtures::{self, Fixture, FixtureSet, Login, ServiceBuilder, VirtualServers};
use support::*;

const DRIFT: Duration = Duration::from_secs(30);

/// A simulator whose VMmanager 6 tasks are quick.
async fn sim() -> SimHandle {
    let sim = common::start().await;
    common::quick_vm6_tasks(&sim);
    sim.sim.transact(|s| {
        s.vmmgr.install_polls = 2;
        ((), true)
    });
    sim
}

/// A controller whose clock is the simulator's.
async fn controller(
    cluster: &hostplane::testbed::LocalCluster,
    ns: &str,
    sim: &SimHandle,
) -> tokio::task::JoinHandle<()> {
    let sim_clock = sim.sim.clock().clone();
    let clock = hostplane::controller::clock::Clock::from_fn(move || sim_clock.now());
    start_controller_with_clock(cluster, ns, DRIFT, clock).await
}

fn today(sim: &SimHandle) -> String {
    sim.sim.clock().today().to_string()
}

/// The virtual server set on `sim` ([`VirtualServers`]).
fn set(url: String) -> VirtualServers {
    VirtualServers(Login::new(url, common::ADMIN, common::PASSWORD))
}

/// Credentials, a VMmanager 6 module, the VPS tariff on it, a client.
fn base(sim: &SimHandle) -> Vec<Fixture> {
    let set = set(sim.base_url.clone());
    set.with(set.module(VmManagerApiVersion::V6), set.tariff())
}

/// A server of the set's tariff, from the simulator's today.
fn service(sim: &SimHandle, name: &str) -> ServiceBuilder {
    VirtualServers::service(name, &today(sim))
}

type Vm6Host = hostplane::simulator::state_vm6::Host;

/// The hosts, after the tasks due on the simulator's clock have ended (the simulator settles
/// tasks when it is called; a test reading its state settles them too).
fn hosts(sim: &SimHandle) -> Vec<Vm6Host> {
    let now = sim.sim.clock().now();
    sim.sim.transact(|s| {
        s.vm6.settle(now);
        (s.vm6.hosts.values().cloned().collect(), true)
    })
}

/// The host name hostplane gives service `name` of namespace `ns`.
fn host_name(ns: &str, name: &str) -> String {
    hostplane::controller::service::virtual_server::default_host_name(ns, name)
}

fn host(sim: &SimHandle, name: &str) -> Option<Vm6Host> {
    hosts(sim).into_iter().find(|h| h.name == name)
}

fn account_of(sim: &SimHandle, email: &str) -> Option<u64> {
    sim.sim.read(|s| {
        s.vm6
            .accounts
            .values()
            .find(|a| a.email == email)
            .map(|a| a.id)
    })
}

fn patch(cluster: &hostplane::testbed::LocalCluster, ns: &str, object: &str, json: &str) {
    kubectl_ok(
        cluster,
        &["patch", object, "-n", ns, "--type=merge", "-p", json],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_of_a_vmmanager6_server() {
    let ns = "vps-life";
    let cluster = cluster_with_namespace(ns);
    let sim = sim().await;
    let _controller = controller(cluster, ns, &sim).await;
    apply_fixtures(cluster, ns, base(&sim)).await;
    let web = service(&sim, "web").connection_secret("web-connection");
    apply_fixtures(cluster, ns, [web.build()]).await;

    eventually(cluster, ns, "hsvc/web", READY, "True").await;
    eventually(cluster, ns, "hsvc/web", "{.status.phase}", "Active").await;
    let name = host_name(ns, "web");
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/web", "{.status.externalName}"),
        name
    );
    let h = host(&sim, &name).expect("a host");
    assert_eq!(h.state, "active");
    assert_eq!((h.cpu_number, h.ram_mib, h.hdd_mib), (1, 1024, 10 * 1024));
    assert_eq!(h.os, 8212, "Debian 12, the tariff's default");
    assert_eq!(Some(h.account), account_of(&sim, "jane@example.org"));
    let ip = jsonpath(cluster, ns, "hsvc/web", "{.status.ip}");
    assert!(ip.starts_with("203.0.113."), "{ip}");

    // The connection Secret: root, its password (the one the host was made with), the
    // panel and the address; a new password in the Secret is applied once.
    let key = |k: &str| secret_key(cluster, ns, "web-connection", k);
    assert_eq!(key("username"), "root");
    assert_eq!(key("ip"), ip);
    assert_eq!(key("panelUrl"), sim.base_url);
    assert!(key("password").len() >= 16, "a generated root password");
    assert_eq!(
        host(&sim, &name).unwrap().password_changes,
        1,
        "set at create"
    );
    kubectl_ok(
        cluster,
        &[
            "patch",
            "secret",
            "web-connection",
            "-n",
            ns,
            "-p",
            r#"{"stringData":{"password":"N3w-R00t-pw-2026x"}}"#,
        ],
    );
    until("the new root password applied", || {
        host(&sim, &name).unwrap().password_changes == 2
    })
    .await;
    eventually(cluster, ns, "hsvc/web", READY, "True").await;
    reconcile_now(cluster, ns, "hsvc/web", "after-password").await;
    assert_eq!(host(&sim, &name).unwrap().password_changes, 2, "sent once");
    assert_eq!(key("password"), "N3w-R00t-pw-2026x");

    // Suspend = stop.
    patch(cluster, ns, "hsvc/web", r#"{"spec":{"suspended":true}}"#);
    eventually(cluster, ns, "hsvc/web", "{.status.phase}", "Suspended").await;
    eventually(cluster, ns, "hsvc/web", READY, "True").await;
    assert_eq!(host(&sim, &name).unwrap().state, "stopped");
    // Resume = start.
    patch(cluster, ns, "hsvc/web", r#"{"spec":{"suspended":false}}"#);
    eventually(cluster, ns, "hsvc/web", "{.status.phase}", "Active").await;
    assert_eq!(host(&sim, &name).unwrap().state, "active");

    // Resize: memory from the service's resources.
    patch(
        cluster,
        ns,
        "hsvc/web",
        r#"{"spec":{"resources":[{"name":"memory","quantity":4096}]}}"#,
    );
    until("RAM 4096", || host(&sim, &name).unwrap().ram_mib == 4096).await;
    eventually(cluster, ns, "hsvc/web", READY, "True").await;
    // The host was running: the change was sent once, deferred to its next stop (shown as
    // `ram_mib_new` meanwhile, so not sent again), and a restart applied it (reference §11).
    let tasks = |name: &str| {
        sim.sim
            .read(|s| s.vm6.tasks.values().filter(|t| t.name == name).count())
    };
    assert_eq!(tasks("host_change_params"), 1);
    assert_eq!(tasks("host_restart"), 1);
    assert_eq!(host(&sim, &name).unwrap().state, "active");
    assert!(host(&sim, &name).unwrap().deferred.is_none());

    // The disk grows (POST /vm/v3/disk/{id}); it never shrinks, and asking for less is
    // reported while the server keeps running.
    patch(
        cluster,
        ns,
        "hsvc/web",
        r#"{"spec":{"resources":[{"name":"memory","quantity":4096},{"name":"diskSpace","quantity":20480}]}}"#,
    );
    until("disk 20 GiB", || {
        host(&sim, &name).unwrap().hdd_mib == 20 * 1024
    })
    .await;
    eventually(cluster, ns, "hsvc/web", READY, "True").await;
    patch(
        cluster,
        ns,
        "hsvc/web",
        r#"{"spec":{"resources":[{"name":"memory","quantity":4096},{"name":"diskSpace","quantity":10240}]}}"#,
    );
    eventually(cluster, ns, "hsvc/web", STALLED, "True").await;
    eventually(
        cluster,
        ns,
        "hsvc/web",
        "{.status.conditions[?(@.type==\"Stalled\")].reason}",
        "DiskNotResized",
    )
    .await;
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/web", "{.status.phase}"),
        "Active"
    );
    let h = host(&sim, &name).unwrap();
    assert_eq!((h.hdd_mib, h.state.as_str()), (20 * 1024, "active"));
    patch(
        cluster,
        ns,
        "hsvc/web",
        r#"{"spec":{"resources":[{"name":"memory","quantity":4096},{"name":"diskSpace","quantity":20480}]}}"#,
    );
    eventually(cluster, ns, "hsvc/web", READY, "True").await;

    // Another OS is a reinstall, sent once.
    patch(
        cluster,
        ns,
        "hsvc/web",
        r#"{"spec":{"operatingSystem":"Ubuntu 22.04"}}"#,
    );
    until("reinstalled with Ubuntu", || {
        host(&sim, &name).unwrap().os == 8211
    })
    .await;
    eventually(cluster, ns, "hsvc/web", READY, "True").await;
    let reinstalls = sim.sim.read(|s| {
        s.vm6
            .tasks
            .values()
            .filter(|t| t.name == "host_reinstall")
            .count()
    });
    assert_eq!(reinstalls, 1);
    let h = host(&sim, &name).unwrap();
    assert_eq!(
        (h.hdd_mib, h.ram_mib, h.state.as_str()),
        (20 * 1024, 4096, "active")
    );

    // Orphan keeps the host; Delete removes it.
    let keep = service(&sim, "keep").with(|s| s.deletion_policy = DeletionPolicy::Orphan);
    apply_fixtures(cluster, ns, [keep.build()]).await;
    eventually(cluster, ns, "hsvc/keep", READY, "True").await;
    kubectl_ok(cluster, &["delete", "hsvc/keep", "-n", ns, "--wait=true"]);
    kubectl_ok(cluster, &["delete", "hsvc/web", "-n", ns, "--wait=true"]);
    until("the deleted host is gone", || host(&sim, &name).is_none()).await;
    assert!(host(&sim, &host_name(ns, "keep")).is_some(), "orphaned");
}

/// Puts a copy of `like` at the simulator under `name`, with someone else's comment: a host
/// a person made at the panel, not hostplane.
fn foreign_host(sim: &SimHandle, like: &Vm6Host, name: &str) -> u64 {
    sim.sim.transact(|s| {
        let id = s.vm6.hosts.keys().max().copied().unwrap_or(0) + 1000;
        let mut h = like.clone();
        h.id = id;
        h.name = name.to_owned();
        h.comment = "made by hand at the panel".into();
        s.vm6.hosts.insert(id, h);
        (id, true)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_named_foreign_host_on_vmmanager6_is_never_touched() {
    let ns = "vps-foreign";
    let cluster = cluster_with_namespace(ns);
    let sim = sim().await;
    let _controller = controller(cluster, ns, &sim).await;
    apply_fixtures(cluster, ns, base(&sim)).await;
    apply_fixtures(cluster, ns, [service(&sim, "web").build()]).await;
    eventually(cluster, ns, "hsvc/web", READY, "True").await;
    let ours = host(&sim, &host_name(ns, "web")).expect("our host");

    // A stranger's host appears under the same name: never managed, never deleted.
    let twin = foreign_host(&sim, &ours, &host_name(ns, "web"));
    // And one exists before a service would create its name: that service stops.
    let before = foreign_host(&sim, &ours, &host_name(ns, "other"));
    let untouched = |id: u64| sim.sim.read(|s| s.vm6.hosts.get(&id).cloned());
    let (twin_then, before_then) = (untouched(twin).unwrap(), untouched(before).unwrap());
    apply_fixtures(cluster, ns, [service(&sim, "other").build()]).await;
    eventually(cluster, ns, "hsvc/other", READY_REASON, "HostExists").await;
    assert_eq!(
        jsonpath(
            cluster,
            ns,
            "hsvc/other",
            r"{.metadata.annotations.hostplane\.dev/external-name}"
        ),
        "",
        "nothing is claimed for a name a stranger holds"
    );
    patch(cluster, ns, "hsvc/web", r#"{"spec":{"suspended":true}}"#);
    eventually(cluster, ns, "hsvc/web", "{.status.phase}", "Suspended").await;
    kubectl_ok(cluster, &["delete", "hsvc/web", "-n", ns, "--wait=true"]);
    kubectl_ok(cluster, &["delete", "hsvc/other", "-n", ns, "--wait=true"]);
    until("our host is gone", || {
        hosts(&sim).iter().all(|h| h.id != ours.id)
    })
    .await;
    assert_eq!(untouched(twin), Some(twin_then), "the same-named stranger");
    assert_eq!(untouched(before), Some(before_then), "the earlier stranger");
}

/// A VMmanager 5 module (its per-call `timeouts` as given) and service `name` with a
/// VMmanager 5 image, once Ready and Active.
async fn vm5_service(
    cluster: &hostplane::testbed::LocalCluster,
    ns: &str,
    sim: &SimHandle,
    name: &str,
    timeouts: Option<ModuleTimeouts>,
) {
    let set = set(sim.url("/vmmgr"));
    let mut module = set.module(VmManagerApiVersion::V5);
    if let Some(timeouts) = timeouts {
        module = module.with(|m| m.timeouts = timeouts);
    }
    apply_fixtures(cluster, ns, set.with(module, set.tariff())).await;
    let server =
        service(sim, name).with(|s| s.operating_system = Some("ISPsystem__Debian-12-amd64".into()));
    apply_fixtures(cluster, ns, [server.build()]).await;
    let object = format!("hsvc/{name}");
    eventually(cluster, ns, &object, READY, "True").await;
    eventually(cluster, ns, &object, "{.status.phase}", "Active").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vmmanager5_server_becomes_ready_after_its_install() {
    let ns = "vps-vm5";
    let cluster = cluster_with_namespace(ns);
    let sim = sim().await;
    let _controller = controller(cluster, ns, &sim).await;
    vm5_service(cluster, ns, &sim, "old", None).await;
    let vm = sim
        .sim
        .read(|s| {
            s.vmmgr
                .vms
                .values()
                .find(|v| v.name == host_name("vps-vm5", "old"))
                .cloned()
        })
        .expect("a VM");
    assert_eq!(vm.vmi, "ISPsystem__Debian-12-amd64");
    assert_eq!((vm.mem, vm.vcpu, vm.vsize), (1024, 1, 10 * 1024));
    assert_eq!(vm.installing_polls, 0);
    let owner = sim
        .sim
        .read(|s| s.vmmgr.users.get(&vm.user).cloned())
        .unwrap();
    assert_eq!(owner.name, "jane");
    assert_eq!(jsonpath(cluster, ns, "hsvc/old", "{.status.ip}"), vm.ip);

    // Another image is a reinstall (vm.reinstall), sent once; Ready again after the install.
    patch(
        cluster,
        ns,
        "hsvc/old",
        r#"{"spec":{"operatingSystem":"ISPsystem__Ubuntu-22.04-amd64"}}"#,
    );
    let vm_of = || {
        sim.sim.read(|s| {
            s.vmmgr
                .vms
                .values()
                .find(|v| v.name == host_name("vps-vm5", "old"))
                .cloned()
                .unwrap()
        })
    };
    until("reinstalled", || {
        vm_of().vmi == "ISPsystem__Ubuntu-22.04-amd64"
    })
    .await;
    eventually(cluster, ns, "hsvc/old", READY, "True").await;
    let vm = vm_of();
    assert_eq!((vm.reinstalls, vm.installing_polls), (1, 0));

    patch(cluster, ns, "hsvc/old", r#"{"spec":{"suspended":true}}"#);
    eventually(cluster, ns, "hsvc/old", "{.status.phase}", "Suspended").await;
    assert!(!sim.sim.read(|s| {
        s.vmmgr
            .vms
            .values()
            .find(|v| v.name == host_name("vps-vm5", "old"))
            .unwrap()
            .running
    }));
    kubectl_ok(cluster, &["delete", "hsvc/old", "-n", ns, "--wait=true"]);
    assert!(sim.sim.read(|s| s.vmmgr.vms.is_empty()));
}

/// VMmanager 5 as the real panel answers (strict dialect: `vmpowered`/`vmstatus`, no
/// `state`, reference §11): a steady server gets no `vm.start`, suspension stops it, the disk
/// grows (`vm.volume.edit`, the VM stopped around it) and never shrinks, and a VM the panel's
/// administrator disabled (`admdown`) is reported and left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vmmanager5_server_follows_vmpowered_and_leaves_an_admin_disabled_vm_alone() {
    let ns = "vps-vm5-strict";
    let cluster = cluster_with_namespace(ns);
    let sim = sim().await;
    sim.sim
        .set_dialect(hostplane::simulator::Profile::Strict.dialect());
    let _controller = controller(cluster, ns, &sim).await;
    vm5_service(cluster, ns, &sim, "vm", None).await;
    let name = host_name(ns, "vm");
    let vm_of = || {
        sim.sim.read(|s| {
            s.vmmgr
                .vms
                .values()
                .find(|v| v.name == name)
                .cloned()
                .expect("the VM")
        })
    };
    let calls = |f: &str| sim.sim.call_count("vmmgr", f);

    // Steady state: reconciles send nothing, in particular no vm.start.
    sim.sim.reset_calls();
    reconcile_now(cluster, ns, "hsvc/vm", "steady-1").await;
    reconcile_now(cluster, ns, "hsvc/vm", "steady-2").await;
    assert_eq!(calls("vm.start"), 0, "{:?}", sim.sim.calls());
    assert!(calls("vm") >= 2, "{:?}", sim.sim.calls());

    // The disk grows: stopped, grown, started again.
    patch(
        cluster,
        ns,
        "hsvc/vm",
        r#"{"spec":{"resources":[{"name":"diskSpace","quantity":20480}]}}"#,
    );
    until("disk 20 GiB", || vm_of().vsize == 20 * 1024).await;
    eventually(cluster, ns, "hsvc/vm", READY, "True").await;
    assert!(vm_of().running);
    assert_eq!(calls("vm.volume.edit"), 1);
    // A smaller disk is refused and reported; the server keeps running.
    patch(
        cluster,
        ns,
        "hsvc/vm",
        r#"{"spec":{"resources":[{"name":"diskSpace","quantity":10240}]}}"#,
    );
    eventually(
        cluster,
        ns,
        "hsvc/vm",
        "{.status.conditions[?(@.type==\"Stalled\")].reason}",
        "DiskNotResized",
    )
    .await;
    assert_eq!((vm_of().vsize, vm_of().running), (20 * 1024, true));
    assert_eq!(calls("vm.volume.edit"), 1, "a shrink is never sent");
    patch(
        cluster,
        ns,
        "hsvc/vm",
        r#"{"spec":{"resources":[{"name":"diskSpace","quantity":20480}]}}"#,
    );
    eventually(cluster, ns, "hsvc/vm", READY, "True").await;

    // Suspension stops the VM, once.
    sim.sim.reset_calls();
    patch(cluster, ns, "hsvc/vm", r#"{"spec":{"suspended":true}}"#);
    eventually(cluster, ns, "hsvc/vm", "{.status.phase}", "Suspended").await;
    assert!(!vm_of().running);
    reconcile_now(cluster, ns, "hsvc/vm", "suspended").await;
    assert_eq!((calls("vm.stop"), calls("vm.start")), (1, 0));
    patch(cluster, ns, "hsvc/vm", r#"{"spec":{"suspended":false}}"#);
    eventually(cluster, ns, "hsvc/vm", "{.status.phase}", "Active").await;
    assert!(vm_of().running);

    // The panel's administrator disables the VM: reported, an event, never started.
    let id = vm_of().id;
    assert!(sim.sim.set_vm5_admin_down(id, true));
    sim.sim.reset_calls();
    reconcile_now(cluster, ns, "hsvc/vm", "admdown").await;
    eventually(cluster, ns, "hsvc/vm", READY_REASON, "DisabledByPanelAdmin").await;
    eventually(cluster, ns, "hsvc/vm", READY, "False").await;
    assert!(jsonpath(cluster, ns, "hsvc/vm", READY_MESSAGE).contains("admdown"));
    let events = kubectl_ok(
        cluster,
        &["get", "events.events.k8s.io", "-n", ns, "-o", "yaml"],
    );
    assert!(events.contains("DisabledByPanelAdmin"), "{events}");
    reconcile_now(cluster, ns, "hsvc/vm", "admdown-2").await;
    assert_eq!(calls("vm.start"), 0, "{:?}", sim.sim.calls());
    assert!(!vm_of().running);

    // Lifted at the panel: the VM is started again.
    assert!(sim.sim.set_vm5_admin_down(id, false));
    reconcile_now(cluster, ns, "hsvc/vm", "lifted").await;
    eventually(cluster, ns, "hsvc/vm", READY, "True").await;
    assert!(vm_of().running);
    kubectl_ok(cluster, &["delete", "hsvc/vm", "-n", ns, "--wait=true"]);
    assert!(sim.sim.read(|s| s.vmmgr.vms.is_empty()));
}

/// `spec.timeouts.mutationSeconds`: a create the panel answers after 2 s, with a 1 s mutation
/// timeout, is an unknown outcome; the VM is looked up and found, never created twice
/// (reference §11, "timeouts"; the simulator's `late_ms` fault applies first, answers later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_answered_after_the_mutation_timeout_is_looked_up_not_repeated() {
    let ns = "vps-vm5-late";
    let cluster = cluster_with_namespace(ns);
    let sim = sim().await;
    sim.sim
        .set_dialect(hostplane::simulator::Profile::Strict.dialect());
    sim.sim.faults().set(
        "vmmgr",
        "vm.edit",
        FaultSpec {
            late_ms: 2000,
            ..FaultSpec::NONE
        },
    );
    let _controller = controller(cluster, ns, &sim).await;
    vm5_service(
        cluster,
        ns,
        &sim,
        "slow",
        Some(ModuleTimeouts {
            mutation_seconds: 1,
            read_seconds: 5,
        }),
    )
    .await;
    let name = host_name(ns, "slow");
    let made = sim
        .sim
        .read(|s| s.vmmgr.vms.values().filter(|v| v.name == name).count());
    assert_eq!(made, 1);
    assert_eq!(sim.sim.call_count("vmmgr", "vm.edit"), 1, "sent once");
    sim.sim.faults().clear();
    kubectl_ok(cluster, &["delete", "hsvc/slow", "-n", ns, "--wait=true"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_answer_makes_exactly_one_host() {
    let ns = "vps-lost";
    let cluster = cluster_with_namespace(ns);
    let sim = sim().await;
    sim.sim.faults().set(
        "vm6",
        "host.create",
        FaultSpec {
            drop_response: 1,
            ..FaultSpec::default()
        },
    );
    let _controller = controller(cluster, ns, &sim).await;
    apply_fixtures(cluster, ns, base(&sim)).await;
    apply_fixtures(cluster, ns, [service(&sim, "once").build()]).await;
    eventually(cluster, ns, "hsvc/once", READY, "True").await;
    let named: Vec<_> = hosts(&sim)
        .into_iter()
        .filter(|h| h.name == host_name("vps-lost", "once"))
        .collect();
    assert_eq!(named.len(), 1, "one host despite the lost answer");
    assert_eq!(hosts(&sim).len(), 1);
    assert_eq!(sim.sim.call_count("vm6", "host.create"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_waits_for_the_recipe_when_the_module_says_so() {
    let ns = "vps-recipe";
    let cluster = cluster_with_namespace(ns);
    let sim = sim().await;
    sim.sim.transact(|s| {
        s.vm6
            .settings
            .task_ms_by_name
            .insert("host_recipe".into(), 8_000);
        ((), true)
    });
    let _controller = controller(cluster, ns, &sim).await;
    let set = set(sim.base_url.clone());
    let module = set
        .module(VmManagerApiVersion::V6)
        .vmmanager(VmManagerApiVersion::V6, |v| {
            v.use_recipes = true;
            v.deployment_complete = DeploymentComplete::AfterRecipe;
            v.serialize_operations = true;
        });
    let tariff = set
        .tariff()
        .with_virtual_server(|v| v.recipe = Some("Docker CE".into()));
    apply_fixtures(cluster, ns, set.with(module, tariff)).await;
    apply_fixtures(cluster, ns, [service(&sim, "app").build()]).await;
    eventually(cluster, ns, "hsvc/app", READY_REASON, "RunningRecipe").await;
    let h = host(&sim, &host_name("vps-recipe", "app")).expect("a host");
    assert_eq!(h.state, "active", "the template is installed");
    assert_eq!(h.recipe, Some(12));
    assert_eq!(jsonpath(cluster, ns, "hsvc/app", READY), "False");
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/app", "{.status.phase}"),
        "Provisioning"
    );
    eventually(cluster, ns, "hsvc/app", READY, "True").await;
    let now = sim.sim.clock().now();
    let recipe_done = sim.sim.read(|s| {
        s.vm6
            .tasks
            .values()
            .filter(|t| t.name == "host_recipe")
            .all(|t| t.ends_at <= now)
    });
    assert!(recipe_done, "Ready only after the recipe");
}

/// The pool client and a server pool at the set's module: 2 servers of one configuration while
/// at most 3 were sold in the window, 4 above; a month at most in the pool.
fn pool(config_os: &str) -> Vec<Fixture> {
    let pool = fixtures::server_pool("ready", VirtualServers::MODULE, "user-pool")
        .configuration("small", config_os, 1, 1024, 10)
        .size(Some(3), 2)
        .size(None, 4)
        .with(|p| {
            p.statistics_window_days = 3;
            p.max_months_in_pool = 1;
        });
    vec![
        fixtures::client("user-pool", "Server pool", "pool@example.org").into(),
        pool.build().into(),
    ]
}

fn pooled(sim: &SimHandle) -> Vec<Vm6Host> {
    hosts(sim)
        .into_iter()
        .filter(|h| h.comment.starts_with("hostplane.dev/server-pool="))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_pool_fills_from_sales_hands_out_and_ages_out() {
    let ns = "vps-pool";
    let cluster = cluster_with_namespace(ns);
    let sim = sim().await;
    let _controller = controller(cluster, ns, &sim).await;
    apply_fixtures(cluster, ns, base(&sim)).await;
    apply_fixtures(cluster, ns, pool("Debian 12")).await;
    // No sales: nothing pre-created.
    eventually(cluster, ns, "spool/ready", READY, "True").await;
    assert_eq!(
        jsonpath(cluster, ns, "spool/ready", "{.status.desiredServers}"),
        "0"
    );
    assert!(pooled(&sim).is_empty());

    // One sale → two servers kept ready.
    apply_fixtures(cluster, ns, [service(&sim, "first").build()]).await;
    eventually(cluster, ns, "hsvc/first", READY, "True").await;
    eventually(cluster, ns, "spool/ready", "{.status.desiredServers}", "2").await;
    eventually(cluster, ns, "spool/ready", "{.status.readyServers}", "2").await;
    eventually(cluster, ns, "spool/ready", READY, "True").await;
    let pool_account = account_of(&sim, "pool@example.org").expect("the pool account");
    let in_pool = pooled(&sim);
    assert_eq!(in_pool.len(), 2);
    assert!(in_pool.iter().all(|h| h.account == pool_account));
    assert_eq!(
        jsonpath(
            cluster,
            ns,
            "spool/ready",
            r#"{.status.configurations[0].sold}"#
        ),
        "1"
    );

    // An order of the same configuration takes a pooled server: no host is created for it.
    let creates_before = sim.sim.call_count("vm6", "host.create");
    let pool_ids: Vec<u64> = in_pool.iter().map(|h| h.id).collect();
    apply_fixtures(cluster, ns, [service(&sim, "second").build()]).await;
    eventually(cluster, ns, "hsvc/second", READY, "True").await;
    let taken = host(&sim, &host_name("vps-pool", "second")).expect("the taken host");
    assert!(pool_ids.contains(&taken.id), "a pooled server was taken");
    assert_eq!(Some(taken.account), account_of(&sim, "jane@example.org"));
    assert!(!taken.comment.starts_with("hostplane.dev/server-pool="));
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/second", "{.status.ip}"),
        sim.sim.read(|s| s
            .vm6
            .ips
            .values()
            .find(|ip| ip.host == taken.id)
            .map(|ip| ip.ip.clone())
            .unwrap())
    );
    // The pool refills (two sales, still two servers), with creates only for the pool.
    eventually(cluster, ns, "spool/ready", "{.status.readyServers}", "2").await;
    let pool_creates = sim.sim.call_count("vm6", "host.create") - creates_before;
    assert_eq!(pool_creates, 1, "one refill, nothing for the order");
    assert_eq!(pooled(&sim).len(), 2);

    // Two months later the pooled servers are past their time; sales left the window.
    sim.sim
        .clock()
        .advance(jiff::SignedDuration::from_hours(24 * 40));
    kubectl_ok(
        cluster,
        &[
            "annotate",
            "spool/ready",
            "-n",
            ns,
            "--overwrite",
            "hostplane.dev/reconcile-requested-at=later",
        ],
    );
    until("aged servers deleted", || pooled(&sim).is_empty()).await;
    eventually(cluster, ns, "spool/ready", "{.status.desiredServers}", "0").await;
    assert!(
        host(&sim, &host_name("vps-pool", "second")).is_some(),
        "sold servers stay"
    );
    assert!(host(&sim, &host_name("vps-pool", "first")).is_some());
}

/// A VMmanager 6 module with a licensing module, and a tariff selling an ISPmanager Lite
/// control-panel license with its servers.
fn panel_tariff(sim: &SimHandle) -> Vec<Fixture> {
    let set = set(sim.base_url.clone());
    let module = set
        .module(VmManagerApiVersion::V6)
        .vmmanager(VmManagerApiVersion::V6, |v| {
            v.licensing_module_ref =
                Some(hostplane::api::common::LocalObjectReference { name: "lic".into() });
        });
    let tariff = set
        .tariff()
        .control_panel("ispmanager-lite", "3541", "4.00", "40.00");
    let licensing = fixtures::module(
        "lic",
        hostplane::api::ModuleType::Licensing,
        &sim.url("/billmgr"),
        VirtualServers::SECRET,
    )
    .quiet_seconds(2);
    let mut all = set.with(module, tariff);
    all.push(licensing.build().into());
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observe_only_server_with_a_control_panel_makes_read_calls_only() {
    let ns = "vps-observe-panel";
    let cluster = cluster_with_namespace(ns);
    let sim = sim().await;
    let _controller = controller(cluster, ns, &sim).await;
    apply_fixtures(cluster, ns, panel_tariff(&sim)).await;
    // A server with its panel license, left at the panels by an orphaned service.
    let source = service(&sim, "source").with(|s| {
        s.control_panel = Some("ispmanager-lite".into());
        s.deletion_policy = DeletionPolicy::Orphan;
    });
    apply_fixtures(cluster, ns, [source.build()]).await;
    eventually(cluster, ns, "hsvc/source", READY, "True").await;
    delete_and_wait(cluster, ns, "hsvc/source");
    let panels = || {
        format!(
            "{:?}",
            (hosts(&sim), sim.sim.read(|s| s.billmgr.licenses.clone()))
        )
    };
    let before = panels();
    sim.sim.reset_calls();

    // Observed with a spec that differs everywhere it can: suspended, another CPU count.
    let watcher = service(&sim, "watcher")
        .with(|s| {
            s.control_panel = Some("ispmanager-lite".into());
            s.suspended = true;
            s.management_policy = ManagementPolicy::ObserveOnly;
        })
        .annotation("hostplane.dev/external-name", &host_name(ns, "source"));
    apply_fixtures(cluster, ns, [watcher.build()]).await;
    eventually(cluster, ns, "hsvc/watcher", READY_REASON, "Observed").await;
    kubectl_ok(
        cluster,
        &[
            "annotate",
            "hsvc/watcher",
            "-n",
            ns,
            "hostplane.dev/reconcile-requested-at=again",
        ],
    );
    eventually(
        cluster,
        ns,
        "hsvc/watcher",
        "{.status.lastHandledReconcileAt}",
        "again",
    )
    .await;
    delete_and_wait(cluster, ns, "hsvc/watcher");

    let reads = [
        "auth.token",
        "auth.whoami",
        "whoami",
        "soft",
        "host.get",
        "task.get",
    ];
    let calls = sim.sim.calls();
    let mutating: Vec<String> = calls
        .iter()
        .flat_map(|(product, functions)| {
            functions
                .keys()
                .filter(|f| !f.ends_with(".list") && !reads.contains(&f.as_str()))
                .map(move |f| format!("{product}/{f}"))
        })
        .collect();
    assert!(
        mutating.is_empty(),
        "mutating calls: {mutating:?} of {calls:?}"
    );
    assert_eq!(panels(), before, "nothing changed at the panels");
}

/// Seed 001: a VPS sold with a control panel gets its license from the VMmanager module's
/// licensing module, bound to the server's IP and named after the service, exactly once;
/// deleting the server puts the license in the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_panel_license_is_ordered_once_for_the_server_ip_and_pooled_on_delete() {
    let ns = "vps-panel-license";
    let cluster = cluster_with_namespace(ns);
    let sim = sim().await;
    let _controller = controller(cluster, ns, &sim).await;
    apply_fixtures(cluster, ns, panel_tariff(&sim)).await;
    let server = service(&sim, "panel").with(|s| s.control_panel = Some("ispmanager-lite".into()));
    apply_fixtures(cluster, ns, [server.build()]).await;
    eventually(cluster, ns, "hsvc/panel", READY, "True").await;
    let ip = jsonpath(cluster, ns, "hsvc/panel", "{.status.ip}");
    let licenses: Vec<_> = sim
        .sim
        .read(|s| s.billmgr.licenses.values().cloned().collect());
    assert_eq!(licenses.len(), 1, "exactly one license: {licenses:?}");
    let license = &licenses[0];
    assert_eq!(
        (license.pricelist.as_str(), license.ip.as_str()),
        ("3541", ip.as_str())
    );
    assert!(
        license.licname.starts_with("Item #panel addon"),
        "{}",
        license.licname
    );
    assert_eq!(
        jsonpath(cluster, ns, "hsvc/panel", "{.status.license.id}"),
        license.id.to_string()
    );
    // Nudged again: nothing more is bought.
    kubectl_ok(
        cluster,
        &[
            "annotate",
            "hsvc/panel",
            "-n",
            ns,
            "hostplane.dev/reconcile-requested-at=again",
        ],
    );
    eventually(
        cluster,
        ns,
        "hsvc/panel",
        "{.status.lastHandledReconcileAt}",
        "again",
    )
    .await;
    assert_eq!(sim.sim.read(|s| s.billmgr.licenses.len()), 1);

    // Switched to no panel: the license goes to the pool while the server stays.
    patch(
        cluster,
        ns,
        "hsvc/panel",
        r#"{"spec":{"controlPanel":"nopanel"}}"#,
    );
    until("the license is pooled", || {
        sim.sim.read(|s| {
            s.billmgr
                .licenses
                .get(&license.id)
                .is_some_and(|l| l.licname == "free.lic" && l.ip == "0.0.0.0" && l.suspended)
        })
    })
    .await;
    eventually(cluster, ns, "hsvc/panel", "{.status.license.id}", "").await;
    eventually(cluster, ns, "hsvc/panel", READY, "True").await;
    assert_eq!(sim.sim.read(|s| s.billmgr.licenses.len()), 1);
    assert!(host(&sim, &host_name(ns, "panel")).is_some_and(|h| h.state == "active"));

    delete_and_wait(cluster, ns, "hsvc/panel");
    let after = sim
        .sim
        .read(|s| s.billmgr.licenses.get(&license.id).cloned())
        .expect("the license is kept, in the pool");
    assert_eq!(
        (after.licname.as_str(), after.ip.as_str()),
        ("free.lic", "0.0.0.0")
    );
    assert!(after.suspended);

    // Deleted while it still holds its license: the server goes, the license goes to the
    // pool (the pooled one above is taken for it first, so nothing is bought at all).
    let orders = sim.sim.call_count("billmgr", "soft.order.param");
    let server = service(&sim, "held").with(|s| s.control_panel = Some("ispmanager-lite".into()));
    apply_fixtures(cluster, ns, [server.build()]).await;
    eventually(cluster, ns, "hsvc/held", READY, "True").await;
    let held = jsonpath(cluster, ns, "hsvc/held", "{.status.license.id}");
    assert_eq!(held, license.id.to_string(), "the pooled license is reused");
    let held_ip = jsonpath(cluster, ns, "hsvc/held", "{.status.ip}");
    assert_eq!(
        sim.sim
            .read(|s| s.billmgr.licenses.get(&license.id).map(|l| l.ip.clone())),
        Some(held_ip)
    );
    delete_and_wait(cluster, ns, "hsvc/held");
    // The panel removes the host when its delete task ends.
    until("the server is gone", || {
        host(&sim, &host_name(ns, "held")).is_none()
    })
    .await;
    let pooled = sim
        .sim
        .read(|s| s.billmgr.licenses.get(&license.id).cloned())
        .expect("the license is kept, in the pool");
    assert_eq!(
        (
            pooled.licname.as_str(),
            pooled.ip.as_str(),
            pooled.suspended
        ),
        ("free.lic", "0.0.0.0", true)
    );
    assert_eq!(sim.sim.read(|s| s.billmgr.licenses.len()), 1);
    assert_eq!(
        sim.sim.call_count("billmgr", "soft.order.param"),
        orders,
        "nothing bought"
    );
}
