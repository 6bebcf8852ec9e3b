//! VMmanager 6 client + simulator round trips per second (`cargo bench --bench vm6`).
//!
//! Everything runs in one process over 127.0.0.1 with the module limiter off, so the figures
//! measure the client layer, the HTTP stack and the simulator, not a rate limit.

use std::time::{Duration, Instant};

use hostplane::panel::vmmanager6::{NewAccount, NewHost, TaskWait, Vm6Client, Vm6Options, Where};
use hostplane::panel::{Credentials, Limiter};
use hostplane::simulator::{Config, start_in_process};
use secrecy::SecretString;

const ADMIN: &str = "admin@example.com";
const PASSWORD: &str = "bench-password";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}

fn report(what: &str, latencies: &mut [Duration], total: Duration) {
    latencies.sort();
    let n = latencies.len();
    let pct = |p: f64| latencies[((n as f64 * p) as usize).min(n - 1)].as_secs_f64() * 1e3;
    println!(
        "vm6 {what:<42} {n:>6} in {:>6.2} s = {:>8.0}/s   p50 {:.2} ms  p99 {:.2} ms",
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64(),
        pct(0.50),
        pct(0.99),
    );
}

async fn timed<F, Fut>(what: &str, n: usize, mut f: F)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut latencies = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        f(i).await;
        latencies.push(t.elapsed());
    }
    report(what, &mut latencies, start.elapsed());
}

async fn run() {
    let sim = start_in_process(Config::new(ADMIN, PASSWORD))
        .await
        .expect("simulator");
    sim.sim.transact(|s| {
        s.vm6.settings.task_ms = 0;
        s.vm6.settings.task_ms_by_name.clear();
        ((), true)
    });
    let options = Vm6Options {
        limiter: Limiter::unlimited(),
        tasks: TaskWait {
            interval: Duration::from_millis(1),
            timeout: Duration::from_secs(10),
        },
        ..Vm6Options::default()
    };
    let client =
        Vm6Client::new(&sim.base_url, Credentials::new(ADMIN, PASSWORD), options).expect("client");

    timed("login (POST /auth/v4/public/token)", 300, |_| async {
        client.login().await.expect("login");
    })
    .await;

    let owner = client
        .create_account(&NewAccount {
            email: "bench@example.com".into(),
            password: SecretString::from("pw"),
            role: "@user".into(),
        })
        .await
        .expect("account");

    timed("create host + wait for host_create", 200, |i| {
        let client = client.clone();
        async move {
            let started = client
                .create_host(&NewHost {
                    name: format!("bench{i}"),
                    password: SecretString::from("root-pw"),
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
                })
                .await
                .expect("create");
            client.wait(&started, "host_create").await.expect("task");
        }
    })
    .await;

    timed("list hosts (200 hosts, no filter)", 500, |_| async {
        assert_eq!(client.list_hosts(None).await.expect("list").len(), 200);
    })
    .await;

    timed("find host by name (where name EQ)", 1000, |i| {
        let client = client.clone();
        async move {
            let name = format!("bench{}", i % 200);
            assert_eq!(
                client.find_hosts_by_name(&name).await.expect("find").len(),
                1
            );
        }
    })
    .await;

    timed("find account by email (where email EQ)", 2000, |_| async {
        client
            .find_account_by_email("bench@example.com")
            .await
            .expect("find")
            .expect("found");
    })
    .await;

    timed("list OS filtered (where name CP)", 2000, |_| async {
        let os = client
            .list_os(Some(&Where::cp("name", "%debian%")))
            .await
            .expect("os");
        assert_eq!(os.len(), 1);
    })
    .await;

    // 8 callers at once, sharing one client (one session, one limiter).
    let workers = 8;
    let per_worker = 500;
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let client = client.clone();
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_worker);
            for _ in 0..per_worker {
                let t = Instant::now();
                client
                    .find_account_by_email("bench@example.com")
                    .await
                    .expect("find");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for handle in handles {
        latencies.extend(handle.await.expect("worker"));
    }
    report(
        "find account by email, 8 concurrent callers",
        &mut latencies,
        start.elapsed(),
    );
}
