//! No password (the panel administrator's, a client account's, a server's root password) and
//! no session token appears in any log line, at any level, or in any URL, while the VMmanager
//! 6 client and simulator go through login, re-login, creates and failures.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hostplane::panel::vmmanager6::{
    NewAccount, NewHost, Reinstall, TaskWait, Vm6Client, Vm6Options, WakePolicy, task_names,
};
use hostplane::panel::{Credentials, Limiter, PanelError};
use hostplane::simulator::{Config, FaultSpec, start_in_process};
use secrecy::SecretString;

const ADMIN_PASSWORD: &str = "Adm1n-S3cret-logs";
const ACCOUNT_PASSWORD: &str = "Acc0unt-S3cret-logs";
const ROOT_PASSWORD: &str = "R00t-S3cret-logs";
const NEW_ROOT_PASSWORD: &str = "N3w-R00t-S3cret-logs";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// The test runs on one thread (current-thread runtime), so the thread-local subscriber sees
// the client, the in-process simulator, reqwest and hyper alike.
#[tokio::test]
async fn no_secret_in_any_log_line_or_url() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = start_in_process(Config::new("admin@example.com", ADMIN_PASSWORD))
        .await
        .unwrap();
    sim.sim.transact(|s| {
        s.vm6.settings.task_ms = 20;
        s.vm6.settings.task_ms_by_name.clear();
        ((), true)
    });
    let options = Vm6Options {
        limiter: Limiter::unlimited(),
        wake: WakePolicy {
            attempts: 5,
            step: Duration::from_millis(1),
        },
        tasks: TaskWait {
            interval: Duration::from_millis(10),
            timeout: Duration::from_secs(5),
        },
        ..Vm6Options::default()
    };
    let client = Vm6Client::new(
        &sim.base_url,
        Credentials::new("admin@example.com", ADMIN_PASSWORD),
        options,
    )
    .unwrap();
    tracing::info!(?client, "client built");

    let account = NewAccount {
        email: "jane@example.com".into(),
        password: SecretString::from(ACCOUNT_PASSWORD),
        role: "@user".into(),
    };
    tracing::info!(?account, "creating account");
    let owner = client.create_account(&account).await.unwrap();
    let host = NewHost {
        name: "cont-logs".into(),
        password: SecretString::from(ROOT_PASSWORD),
        cluster: 1,
        os: 8211,
        cpu_number: 1,
        ram_mib: 1024,
        hdd_mib: 10240,
        account: owner,
        ipv4_number: 1,
        ipv4_pool: vec![],
        domain: None,
        comment: None,
        node: None,
        net_bandwidth_mbitps: None,
        recipe: None,
        recipe_params: vec![],
        send_email_mode: None,
    };
    tracing::info!(?host, "creating host");
    let started = client.create_host(&host).await.unwrap();
    client.wait(&started, task_names::CREATE).await.unwrap();
    let password = client
        .set_host_password(started.id, &SecretString::from(NEW_ROOT_PASSWORD))
        .await
        .unwrap();
    client
        .wait(&password, "host_change_password")
        .await
        .unwrap();

    // Re-login, a 503 burst, a lost answer and a failing login all log something.
    sim.sim.faults().set(
        "vm6",
        "host.list",
        FaultSpec {
            expire_session: 1,
            unavailable: 0,
            ..FaultSpec::default()
        },
    );
    client.list_hosts(None).await.unwrap();
    sim.sim.faults().set(
        "vm6",
        "os.list",
        FaultSpec {
            unavailable: 2,
            ..FaultSpec::default()
        },
    );
    client.list_os(None).await.unwrap();
    sim.sim.faults().set(
        "vm6",
        "host.reinstall",
        FaultSpec {
            drop_response: 1,
            ..FaultSpec::default()
        },
    );
    let reinstall = Reinstall {
        os: 8212,
        password: SecretString::from(NEW_ROOT_PASSWORD),
        send_email_mode: "default".into(),
        recipe: None,
    };
    let lost = client.reinstall_host(started.id, &reinstall).await;
    // The failure paths must really run, or their log lines prove nothing.
    assert!(
        matches!(lost, Err(PanelError::OutcomeUnknown { .. })),
        "{lost:?}"
    );
    tracing::warn!(?lost, ?reinstall, "reinstall answer lost");
    let wrong = Vm6Client::new(
        &sim.base_url,
        Credentials::new("admin@example.com", "Wr0ng-S3cret-logs"),
        Vm6Options::default(),
    )
    .unwrap();
    let refused = wrong.list_os(None).await;
    assert!(
        matches!(refused, Err(PanelError::Auth { .. })),
        "{refused:?}"
    );
    tracing::warn!(?refused, "login refused");

    let tokens: Vec<String> = sim.sim.read(|s| s.vm6.sessions.keys().cloned().collect());
    assert!(!tokens.is_empty());
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.lines().count() > 20, "the capture works: {logs}");
    assert!(
        logs.contains("VMmanager 6 call"),
        "client lines are captured"
    );
    let urls = sim.sim.requests().join("\n");
    assert!(urls.contains("/vm/v3/host"), "{urls}");
    for secret in [
        ADMIN_PASSWORD,
        ACCOUNT_PASSWORD,
        ROOT_PASSWORD,
        NEW_ROOT_PASSWORD,
        "Wr0ng-S3cret-logs",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(tokens)
    {
        assert!(!logs.contains(&secret), "a secret leaked into the logs");
        assert!(!urls.contains(&secret), "a secret leaked into a URL");
    }
}
