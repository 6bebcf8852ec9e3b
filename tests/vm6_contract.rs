//! Contract tests: the VMmanager 6 client against the in-process simulator, for every
//! operation, the 401 / 503 / lost-answer paths and task polling (only 127.0.0.1).

use std::time::Duration;

use hostplane::panel::vmmanager6::{
    HostState, LoginPolicy, NewAccount, NewHost, Reinstall, ResourceChange, TaskWait, Vm6Client,
    Vm6Options, WakePolicy, Where, task_names,
};
use hostplane::panel::{Credentials, Limiter, PanelError, RetryPolicy};
use hostplane::simulator::state_vm6::Vm6Settings;
use hostplane::simulator::{Config, FaultSpec, SimHandle, start_in_process};
use jiff::SignedDuration;
use secrecy::SecretString;

const ADMIN: &str = "admin@example.com";
const PASSWORD: &str = "Adm1n-Pa55-vm6";

fn options() -> Vm6Options {
    Vm6Options {
        limiter: Limiter::unlimited(),
        retry: RetryPolicy {
            attempts: 2,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(10),
        },
        wake: WakePolicy {
            attempts: 10,
            step: Duration::from_millis(2),
        },
        tasks: TaskWait {
            interval: Duration::from_millis(20),
            timeout: Duration::from_secs(10),
        },
        login: LoginPolicy {
            attempts: 5,
            step: Duration::from_millis(2),
        },
        ..Vm6Options::default()
    }
}

/// Short tasks so the suite runs in seconds; tests that need more change them.
fn fast_settings() -> Vm6Settings {
    let mut settings = Vm6Settings {
        task_ms: 40,
        ..Vm6Settings::default()
    };
    settings.task_ms_by_name.insert("host_create".into(), 120);
    settings
}

async fn start() -> (SimHandle, Vm6Client) {
    let handle = start_in_process(Config::new(ADMIN, PASSWORD))
        .await
        .expect("simulator starts");
    set_settings(&handle, fast_settings());
    let client = Vm6Client::new(
        &handle.base_url,
        Credentials::new(ADMIN, PASSWORD),
        options(),
    )
    .expect("client");
    (handle, client)
}

fn set_settings(handle: &SimHandle, settings: Vm6Settings) {
    handle.sim.transact(|s| {
        s.vm6.settings = settings;
        ((), true)
    });
}

fn edit_settings(handle: &SimHandle, f: impl FnOnce(&mut Vm6Settings)) {
    handle.sim.transact(|s| {
        f(&mut s.vm6.settings);
        ((), true)
    });
}

fn calls(handle: &SimHandle, function: &str) -> u64 {
    handle.sim.call_count("vm6", function)
}

fn new_account(email: &str) -> NewAccount {
    NewAccount {
        email: email.into(),
        password: SecretString::from("Client-Pa55"),
        role: "@user".into(),
    }
}

fn new_host(name: &str, account: u64) -> NewHost {
    NewHost {
        name: name.into(),
        password: SecretString::from("R00t-Pa55-host"),
        cluster: 1,
        os: 8211,
        cpu_number: 2,
        ram_mib: 2048,
        hdd_mib: 20480,
        account,
        ipv4_number: 1,
        ipv4_pool: vec![],
        domain: Some(format!("{name}.example.net")),
        comment: Some("hostplane test".into()),
        node: None,
        net_bandwidth_mbitps: None,
        recipe: None,
        recipe_params: vec![],
        send_email_mode: None,
    }
}

async fn owner(client: &Vm6Client, email: &str) -> u64 {
    client.create_account(&new_account(email)).await.unwrap()
}

#[tokio::test]
async fn accounts_are_found_by_email_and_created_once() {
    let (_sim, client) = start().await;
    assert_eq!(
        client
            .find_account_by_email("c1@example.com")
            .await
            .unwrap(),
        None
    );
    let id = owner(&client, "c1@example.com").await;
    let found = client
        .find_account_by_email("c1@example.com")
        .await
        .unwrap()
        .expect("created account is found");
    assert_eq!(found.id, id);
    assert_eq!(found.roles, vec!["@user".to_owned()]);
    assert!(!found.is_admin());

    let again = client.create_account(&new_account("c1@example.com")).await;
    assert!(matches!(again, Err(PanelError::Exists { .. })), "{again:?}");

    // '+' and '@' survive the where filter's URL encoding.
    let plus = owner(&client, "c1+vps@example.com").await;
    let found = client
        .find_account_by_email("c1+vps@example.com")
        .await
        .unwrap();
    assert_eq!(found.map(|a| a.id), Some(plus));

    let admin = client.find_account_by_email(ADMIN).await.unwrap().unwrap();
    assert!(admin.is_admin(), "the logged-in administrator has @admin");
    assert_eq!(client.list_accounts(None).await.unwrap().len(), 3);

    let bad = client.create_account(&new_account("not-an-email")).await;
    assert!(
        matches!(&bad, Err(PanelError::Value { object, .. }) if object == "email"),
        "{bad:?}"
    );
}

#[tokio::test]
async fn host_lifecycle() {
    let (sim, client) = start().await;
    let account = owner(&client, "owner@example.com").await;

    // create → task host_create → active with an address
    let started = client
        .create_host(&new_host("cont1001", account))
        .await
        .unwrap();
    assert!(started.id > 0 && started.task > 0);
    let creating = client.find_host(started.id).await.unwrap().unwrap();
    assert_eq!(creating.state, HostState::Creating);
    let task = client.wait(&started, task_names::CREATE).await.unwrap();
    assert_eq!(task.consul_id, started.task);
    let host = client.find_host(started.id).await.unwrap().unwrap();
    assert_eq!(host.state, HostState::Active);
    assert_eq!(host.name, "cont1001");
    assert_eq!(host.account.as_ref().map(|a| a.id), Some(account));
    assert_eq!(host.cluster.as_ref().map(|c| c.id), Some(1));
    assert_eq!((host.cpu_number, host.ram_mib), (2, 2048));
    assert_eq!(host.disk.as_ref().map(|d| d.disk_mib), Some(20480));
    assert_eq!(host.os_name, "Ubuntu 22.04");
    let ip = host.main_ip().expect("an address").to_owned();
    assert!(ip.starts_with("203.0.113."), "{ip}");

    // get (element alone: no addresses) and list with filters
    let bare = client.get_host(started.id).await.unwrap();
    assert_eq!(bare.name, "cont1001");
    assert!(bare.ip4.is_empty());
    assert_eq!(bare.node.map(|n| n.id), Some(1));
    let second = client
        .create_host(&new_host("cont1002", account))
        .await
        .unwrap();
    client.wait(&second, task_names::CREATE).await.unwrap();
    assert_eq!(client.list_hosts(None).await.unwrap().len(), 2);
    let mine = Where::eq("account.id", account).and(Where::cp("name", "%1002"));
    let filtered = client.list_hosts(Some(&mine)).await.unwrap();
    assert_eq!(
        filtered.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![second.id]
    );
    assert_eq!(
        client.find_hosts_by_name("cont1001").await.unwrap().len(),
        1
    );

    // stop (suspend) / start (resume)
    let stop = client.stop_host(started.id, false).await.unwrap();
    client.wait(&stop, task_names::STOP).await.unwrap();
    assert_eq!(
        client.get_host(started.id).await.unwrap().state,
        HostState::Stopped
    );
    let start = client.start_host(started.id).await.unwrap();
    client.wait(&start, task_names::START).await.unwrap();
    assert_eq!(
        client.get_host(started.id).await.unwrap().state,
        HostState::Active
    );

    // resources: deferred on a running host until it stops, at once on a stopped one
    let deferred = ResourceChange {
        cpu_number: Some(4),
        ram_mib: Some(4096),
        defer: Some(hostplane::panel::vmmanager6::Defer {
            action: "host_stop".into(),
        }),
        ..ResourceChange::default()
    };
    let change = client
        .change_resources(started.id, &deferred)
        .await
        .unwrap();
    client.wait(&change, task_names::RESOURCES).await.unwrap();
    assert_eq!(client.get_host(started.id).await.unwrap().cpu_number, 2);
    let stop = client.stop_host(started.id, true).await.unwrap();
    client.wait(&stop, task_names::STOP).await.unwrap();
    let resized = client.get_host(started.id).await.unwrap();
    assert_eq!((resized.cpu_number, resized.ram_mib), (4, 4096));
    let now = ResourceChange {
        net_bandwidth_mbitps: Some(100),
        ..ResourceChange::default()
    };
    let change = client.change_resources(started.id, &now).await.unwrap();
    client.wait(&change, task_names::RESOURCES).await.unwrap();
    let listed = client.find_host(started.id).await.unwrap().unwrap();
    assert_eq!(listed.net_bandwidth_mbitps, Some(100));

    // the disk grows, and only grows
    let disk = listed.disk.clone().expect("the list shows the main disk");
    let grow = client
        .resize_disk(disk.id, disk.disk_mib * 2, None)
        .await
        .unwrap();
    client.wait(&grow, task_names::DISK_RESIZE).await.unwrap();
    let grown = client.find_host(started.id).await.unwrap().unwrap();
    assert_eq!(grown.disk.map(|d| d.disk_mib), Some(disk.disk_mib * 2));
    let shrink = client.resize_disk(disk.id, disk.disk_mib, None).await;
    let refused = shrink.expect_err("a disk never shrinks").to_string();
    assert!(refused.contains("only grow"), "{refused}");

    // password and reinstall
    let pw = client
        .set_host_password(started.id, &SecretString::from("N3w-R00t-pw"))
        .await
        .unwrap();
    client.wait(&pw, "host_change_password").await.unwrap();
    let reinstall = Reinstall {
        os: 8212,
        password: SecretString::from("N3w-R00t-pw"),
        send_email_mode: "default".into(),
        recipe: None,
    };
    let task = client.reinstall_host(started.id, &reinstall).await.unwrap();
    client.wait(&task, task_names::REINSTALL).await.unwrap();
    let host = client.find_host(started.id).await.unwrap().unwrap();
    assert_eq!(
        (host.os_name.as_str(), &host.state),
        ("Debian 12", &HostState::Active)
    );

    // owner change (a pooled server handed to its buyer)
    let buyer = owner(&client, "buyer@example.com").await;
    client.change_host_owner(started.id, buyer).await.unwrap();
    let host = client.find_host(started.id).await.unwrap().unwrap();
    assert_eq!(host.account.map(|a| a.id), Some(buyer));

    // addresses: one more, a PTR record, then one less
    let more = client.change_ipv4_count(started.id, 1, &[4]).await.unwrap();
    client.wait(&more, task_names::IP_CHANGE).await.unwrap();
    let ips = client.host_ipv4(started.id).await.unwrap();
    assert_eq!(ips.len(), 2);
    assert_eq!(ips[0].ip_addr, ip);
    assert!(ips[1].ip_addr.starts_with("198.51.100."), "{ips:?}");
    assert_eq!(ips[1].ippool, 4);
    client
        .set_ptr(ips[0].id, "cont1001.example.net")
        .await
        .unwrap();
    let ips = client.host_ipv4(started.id).await.unwrap();
    assert_eq!(ips[0].domain, "cont1001.example.net");
    let less = client.change_ipv4_count(started.id, -1, &[]).await.unwrap();
    client.wait(&less, task_names::IP_CHANGE).await.unwrap();
    assert_eq!(client.host_ipv4(started.id).await.unwrap().len(), 1);

    // rename
    let edit = client
        .edit_host(started.id, Some("cont1001-renamed"), Some("moved"))
        .await
        .unwrap();
    client.wait(&edit, "host_edit").await.unwrap();
    let host = client.get_host(started.id).await.unwrap();
    assert_eq!(
        (host.name.as_str(), host.comment.as_str()),
        ("cont1001-renamed", "moved")
    );

    // delete: gone after the task, addresses freed, a second delete is "missed"
    let delete = client.delete_host(started.id).await.unwrap();
    client.wait(&delete, task_names::DELETE).await.unwrap();
    assert_eq!(client.find_host(started.id).await.unwrap(), None);
    let missing = client.get_host(started.id).await;
    assert!(
        matches!(missing, Err(PanelError::Missed { .. })),
        "{missing:?}"
    );
    let again = client.delete_host(started.id).await;
    assert!(matches!(again, Err(PanelError::Missed { .. })), "{again:?}");
    assert!(
        sim.sim
            .read(|s| s.vm6.ips.values().all(|ip| ip.host != started.id))
    );
}

#[tokio::test]
async fn catalogs_and_filters() {
    let (_sim, client) = start().await;
    let os = client.list_os(None).await.unwrap();
    assert!(os.iter().any(|o| o.id == 8211 && o.name == "Ubuntu 22.04"));
    let debian = client
        .list_os(Some(&Where::cp("name", "%debian%")))
        .await
        .unwrap();
    assert_eq!(debian.iter().map(|o| o.id).collect::<Vec<_>>(), vec![8212]);
    let either = Where::eq("id", 8211).or(Where::eq("id", 8213));
    assert_eq!(client.list_os(Some(&either)).await.unwrap().len(), 2);
    let clusters = client.list_clusters(None).await.unwrap();
    assert_eq!(clusters.len(), 2);
    assert_eq!(clusters[0].extra["virtualization_type"], "kvm");
    assert!(!client.list_recipes(None).await.unwrap().is_empty());
    let pools = client.list_ip_pools(None).await.unwrap();
    assert_eq!(pools.iter().map(|p| p.id).collect::<Vec<_>>(), vec![3, 4]);
}

#[tokio::test]
async fn recipe_task_follows_the_install() {
    let (_sim, client) = start().await;
    let account = owner(&client, "r@example.com").await;
    let mut host = new_host("cont-recipe", account);
    host.recipe = Some(11);
    let started = client.create_host(&host).await.unwrap();
    assert!(started.recipe_task > 0);
    client.wait(&started, task_names::CREATE).await.unwrap();
    let recipe = client
        .wait_task(started.recipe_task, None, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(recipe.name, "host_recipe");
    let row = client.get_task(recipe.id).await.unwrap();
    assert_eq!(row.consul_id, started.recipe_task);
}

#[tokio::test]
async fn failing_task_is_reported_and_leaves_the_host_in_error() {
    let (sim, client) = start().await;
    let account = owner(&client, "f@example.com").await;
    edit_settings(&sim, |s| {
        s.fail_next.insert("host_create".into(), 1);
    });
    let started = client
        .create_host(&new_host("cont-fail", account))
        .await
        .unwrap();
    let failed = client.wait(&started, task_names::CREATE).await;
    match failed {
        Err(PanelError::Task {
            name,
            timed_out: false,
            message,
            ..
        }) => {
            assert_eq!(name, "host_create");
            assert!(message.contains("failed"), "{message}");
        }
        other => panic!("expected a failed task, got {other:?}"),
    }
    let host = client.find_host(started.id).await.unwrap().unwrap();
    assert_eq!(host.state, HostState::Other("error".into()));
}

#[tokio::test]
async fn task_wait_times_out_then_completes_when_the_clock_moves() {
    let (sim, client) = start().await;
    let account = owner(&client, "slow@example.com").await;
    edit_settings(&sim, |s| {
        s.task_ms_by_name.insert("host_create".into(), 600_000);
    });
    let started = client
        .create_host(&new_host("cont-slow", account))
        .await
        .unwrap();
    let waited = client
        .wait_task(
            started.task,
            Some("host_create"),
            Duration::from_millis(150),
        )
        .await;
    assert!(
        matches!(
            waited,
            Err(PanelError::Task {
                timed_out: true,
                ..
            })
        ),
        "{waited:?}"
    );
    let running = client
        .find_task(started.task, Some("host_create"))
        .await
        .unwrap()
        .unwrap();
    assert!(!running.status.is_terminal(), "{running:?}");
    // Ten minutes pass on the simulator clock: the install is done.
    sim.sim.clock().advance(SignedDuration::from_mins(11));
    // The token's idle limit is an hour, so the session survives the jump.
    client.wait(&started, task_names::CREATE).await.unwrap();
    assert_eq!(
        client.get_host(started.id).await.unwrap().state,
        HostState::Active
    );
}

#[tokio::test]
async fn tasks_not_yet_listed_are_waited_for() {
    let (sim, client) = start().await;
    let account = owner(&client, "late@example.com").await;
    edit_settings(&sim, |s| s.task_visible_after_ms = 200);
    let started = client
        .create_host(&new_host("cont-late", account))
        .await
        .unwrap();
    assert_eq!(client.find_task(started.task, None).await.unwrap(), None);
    client.wait(&started, task_names::CREATE).await.unwrap();
}

#[tokio::test]
async fn expired_token_means_one_new_login() {
    let (sim, client) = start().await;
    client.list_hosts(None).await.unwrap();
    assert_eq!(calls(&sim, "auth.token"), 1);

    // The panel forgets the session (restart): 401, one new login, the call succeeds.
    sim.sim.faults().set(
        "vm6",
        "host.list",
        FaultSpec {
            expire_session: 1,
            ..FaultSpec::default()
        },
    );
    assert!(client.list_hosts(None).await.unwrap().is_empty());
    assert_eq!(calls(&sim, "auth.token"), 2);
    assert_eq!(calls(&sim, "host.list"), 3);

    // Idle for more than an hour on the simulator clock: the token expires.
    sim.sim.clock().advance(SignedDuration::from_mins(61));
    client.list_os(None).await.unwrap();
    assert_eq!(calls(&sim, "auth.token"), 3);

    // Concurrent calls after expiry share one login.
    sim.sim.clock().advance(SignedDuration::from_mins(61));
    let (a, b, c) = tokio::join!(
        client.list_os(None),
        client.list_clusters(None),
        client.list_recipes(None)
    );
    a.unwrap();
    b.unwrap();
    c.unwrap();
    assert_eq!(calls(&sim, "auth.token"), 4);
}

#[tokio::test]
async fn wrong_password_is_an_auth_error() {
    let (sim, _client) = start().await;
    let client = Vm6Client::new(
        &sim.base_url,
        Credentials::new(ADMIN, "wrong-password"),
        options(),
    )
    .unwrap();
    let refused = client.list_hosts(None).await;
    assert!(
        matches!(refused, Err(PanelError::Auth { .. })),
        "{refused:?}"
    );
    assert_eq!(calls(&sim, "host.list"), 0);
    // A credentials refusal is final at once: one login, no retries.
    assert_eq!(calls(&sim, "auth.token"), 1);
}

/// VMmanager 6 login "sometimes fails with an error; sleep and retry" [S26
/// `VmManager6_Hosting.php`]; S16 retries 5 times on a non-201 (reference §11). The simulator
/// answers such a failure as HTTP 500 with error code 5000, nothing about the credentials.
#[tokio::test]
async fn a_transient_login_failure_is_retried_and_never_an_auth_error() {
    let (sim, client) = start().await;
    let login_fails = |n: u32| {
        sim.sim.faults().set(
            "vm6",
            "auth.token",
            FaultSpec {
                login_failure: n,
                ..FaultSpec::NONE
            },
        )
    };
    // Two failures: the third login works and the call succeeds.
    login_fails(2);
    client.list_hosts(None).await.expect("the call succeeds");
    assert_eq!(calls(&sim, "auth.token"), 3);
    assert_eq!(calls(&sim, "host.list"), 1);

    // Failing on and on: a transport-class error the caller retries later, never Auth.
    let fresh =
        Vm6Client::new(&sim.base_url, Credentials::new(ADMIN, PASSWORD), options()).unwrap();
    sim.sim.reset_calls();
    login_fails(100);
    let failed = fresh.list_hosts(None).await.unwrap_err();
    assert!(matches!(failed, PanelError::Transport { .. }), "{failed:?}");
    assert!(
        failed.is_transport() && failed.is_retryable(hostplane::panel::Idempotency::NonIdempotent)
    );
    // Bounded: 5 logins per attempt, 2 attempts of the retry policy.
    assert_eq!(calls(&sim, "auth.token"), 10);
    assert_eq!(calls(&sim, "host.list"), 0);
    assert!(!format!("{failed} {failed:?}").contains(PASSWORD));
    sim.sim.faults().clear();
    fresh
        .list_hosts(None)
        .await
        .expect("works once the panel does");

    // A login answered 503 (an instance waking up) is waited out by the wake policy once per
    // attempt, not once more per login retry: 10 waits × 2 attempts.
    let waking =
        Vm6Client::new(&sim.base_url, Credentials::new(ADMIN, PASSWORD), options()).unwrap();
    sim.sim.reset_calls();
    sim.sim.faults().set(
        "vm6",
        "auth.token",
        FaultSpec {
            unavailable: 100,
            ..FaultSpec::NONE
        },
    );
    let failed = waking.list_hosts(None).await.unwrap_err();
    assert!(matches!(failed, PanelError::Transport { .. }), "{failed:?}");
    assert_eq!(calls(&sim, "auth.token"), 20);
    sim.sim.faults().clear();
}

/// A host list item with a change pending for the next stop, as the public Go client types it
/// [S17 `types/types.go`: `CPUNumberNew`, `RAMMibNew` beside `CPUNumber`, `RAMMib`]: the
/// client reads the pending values, so the controller neither resends the change nor misses
/// that a restart is due (reference §11).
#[test]
fn a_pending_resource_change_is_read_from_the_new_fields() {
    let item = serde_json::json!({
        "id": 77, "name": "cont1234", "state": "active",
        "cpu_number": 1, "cpu_number_new": 2,
        "ram_mib": 1024, "ram_mib_new": 4096,
    });
    let host: hostplane::panel::vmmanager6::Host = serde_json::from_value(item).unwrap();
    assert_eq!((host.cpu_number_target(), host.ram_mib_target()), (2, 4096));
    assert!(host.change_pending());
    // Without the fields (`GET /host/{id}`, older builds) nothing is pending.
    let plain: hostplane::panel::vmmanager6::Host =
        serde_json::from_value(serde_json::json!({"id": 77, "cpu_number": 1, "ram_mib": 1024}))
            .unwrap();
    assert!(!plain.change_pending());
    assert_eq!(plain.ram_mib_target(), 1024);
}

/// A running host's resource change deferred to its next stop: the simulator lists it as
/// `*_new` and applies it at a stop or a restart, as the official module relies on [S19].
#[tokio::test]
async fn a_deferred_resource_change_applies_at_the_next_restart() {
    let (_sim, client) = start().await;
    let account = owner(&client, "defer@example.com").await;
    let created = client
        .create_host(&new_host("defer1", account))
        .await
        .unwrap();
    client.wait(&created, task_names::CREATE).await.unwrap();
    let find = || async { client.find_host(created.id).await.unwrap().unwrap() };
    let change = ResourceChange {
        ram_mib: Some(4096),
        defer: Some(hostplane::panel::vmmanager6::Defer {
            action: "host_stop".into(),
        }),
        ..ResourceChange::default()
    };
    let task = client.change_resources(created.id, &change).await.unwrap();
    client.wait(&task, task_names::RESOURCES).await.unwrap();
    let host = find().await;
    assert_eq!((host.ram_mib, host.ram_mib_target()), (2048, 4096));
    assert!(host.change_pending());
    let restart = client.restart_host(created.id).await.unwrap();
    client.wait(&restart, task_names::RESTART).await.unwrap();
    let host = find().await;
    assert_eq!((host.ram_mib, &host.state), (4096, &HostState::Active));
    assert!(!host.change_pending());
}

#[tokio::test]
async fn burst_of_503_is_waited_out() {
    let (sim, client) = start().await;
    let account = owner(&client, "wake@example.com").await;
    sim.sim.faults().set(
        "vm6",
        "host.list",
        FaultSpec {
            unavailable: 4,
            ..FaultSpec::default()
        },
    );
    client.list_hosts(None).await.unwrap();
    assert_eq!(calls(&sim, "host.list"), 5);

    // A create is not repeated on a 503: a proxy answers 503 too, possibly after the panel
    // took the call (reference §11). The caller looks the name up instead.
    sim.sim.faults().set(
        "vm6",
        "host.create",
        FaultSpec {
            unavailable: 3,
            ..FaultSpec::default()
        },
    );
    let busy = client.create_host(&new_host("cont-wake", account)).await;
    assert!(
        matches!(busy, Err(PanelError::OutcomeUnknown { .. })),
        "{busy:?}"
    );
    assert_eq!(calls(&sim, "host.create"), 1);
    sim.sim.faults().clear();

    // The login itself waits too.
    sim.sim.faults().set(
        "vm6",
        "auth.token",
        FaultSpec {
            unavailable: 2,
            ..FaultSpec::default()
        },
    );
    sim.sim.transact(|s| (s.vm6.expire_sessions(), true));
    client.list_os(None).await.unwrap();

    // A panel that never wakes: bounded, then Unavailable (10 per attempt, 2 attempts).
    sim.sim.reset_calls();
    sim.sim.faults().set(
        "vm6",
        "os.list",
        FaultSpec {
            unavailable: 100,
            ..FaultSpec::default()
        },
    );
    let down = client.list_os(None).await;
    assert!(
        matches!(down, Err(PanelError::Unavailable { status: 503 })),
        "{down:?}"
    );
    assert_eq!(calls(&sim, "os.list"), 20);
}

#[tokio::test]
async fn lost_create_answer_is_outcome_unknown_and_lookup_finds_exactly_one() {
    let (sim, client) = start().await;
    sim.sim.faults().set(
        "vm6",
        "account.create",
        FaultSpec {
            drop_response: 1,
            ..FaultSpec::default()
        },
    );
    let lost = client
        .create_account(&new_account("lost@example.com"))
        .await;
    assert!(
        matches!(lost, Err(PanelError::OutcomeUnknown { .. })),
        "{lost:?}"
    );
    assert_eq!(calls(&sim, "account.create"), 1);
    let account = client
        .find_account_by_email("lost@example.com")
        .await
        .unwrap()
        .expect("the create was applied");

    sim.sim.faults().set(
        "vm6",
        "host.create",
        FaultSpec {
            drop_response: 1,
            ..FaultSpec::default()
        },
    );
    let lost = client.create_host(&new_host("cont-lost", account.id)).await;
    match &lost {
        Err(PanelError::OutcomeUnknown { operation, .. }) => assert_eq!(operation, "host.create"),
        other => panic!("expected OutcomeUnknown, got {other:?}"),
    }
    assert_eq!(
        calls(&sim, "host.create"),
        1,
        "a lost create is never repeated"
    );
    let found = client.find_hosts_by_name("cont-lost").await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");

    // A lost answer to a read is simply asked again.
    sim.sim.faults().set(
        "vm6",
        "host.list",
        FaultSpec {
            drop_response: 1,
            ..FaultSpec::default()
        },
    );
    assert_eq!(client.list_hosts(None).await.unwrap().len(), 1);

    // A listing answered with an empty document is an error, never "no such host": read as
    // empty, the lookup after a lost create made the chaos soak create a host twice.
    sim.sim.faults().set(
        "vm6",
        "host.list",
        FaultSpec {
            no_id: 1,
            ..FaultSpec::default()
        },
    );
    let empty = client.find_hosts_by_name("cont-lost").await;
    assert!(empty.is_err(), "an answer without a list: {empty:?}");
    assert_eq!(
        client.find_hosts_by_name("cont-lost").await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn panel_errors_are_typed() {
    let (sim, client) = start().await;
    let account = owner(&client, "e@example.com").await;
    let mut bad = new_host("cont-bad", account);
    bad.os = 1;
    let refused = client.create_host(&bad).await;
    assert!(
        matches!(&refused, Err(PanelError::Value { object, .. }) if object == "os"),
        "{refused:?}"
    );
    let started = client
        .create_host(&new_host("cont-busy", account))
        .await
        .unwrap();
    let busy = client.stop_host(started.id, false).await;
    assert!(matches!(busy, Err(PanelError::Value { .. })), "{busy:?}");
    let missing = client.start_host(999_999).await;
    assert!(
        matches!(missing, Err(PanelError::Missed { .. })),
        "{missing:?}"
    );
    // Proxy error pages (injected 502s) are transport failures, retried for reads.
    sim.sim.faults().set(
        "vm6",
        "cluster.list",
        FaultSpec {
            error_rate: 1.0,
            ..FaultSpec::default()
        },
    );
    let proxy = client.list_clusters(None).await;
    assert!(
        matches!(proxy, Err(PanelError::Transport { .. })),
        "{proxy:?}"
    );
    assert_eq!(calls(&sim, "cluster.list"), 2);
}
