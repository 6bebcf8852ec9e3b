//! `cargo bench --bench panel`: client + simulator round trips per second.
//!
//! An in-process simulator on loopback and an ispmanager client without rate limits; for about
//! two seconds each, a read (`func=user`, 50 users listed) and a write (`user.edit` of one
//! user's limits), first one call at a time, then 8 in flight. Prints the figures; asserts
//! nothing about time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hostplane::panel::ispmanager::{IspManager, NewUser, UserChange};
use hostplane::panel::mgr::{MgrClient, MgrOptions};
use hostplane::panel::{Credentials, Limiter, RetryPolicy};
use hostplane::simulator::{self, Config};
use secrecy::SecretString;

const WINDOW: Duration = Duration::from_secs(2);

async fn rate<F, Fut>(label: &str, parallel: usize, call: F)
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..parallel {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while start.elapsed() < WINDOW {
                call(worker as u64 * 1_000_000 + n).await;
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("bench task");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{label:<40} {parallel:>2} in flight: {total:>7} calls in {secs:.2} s = {:>8.0} calls/s",
        total as f64 / secs
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let sim = simulator::start_in_process(Config::new("root", "bench-password"))
            .await
            .expect("simulator");
        let options = MgrOptions {
            retry: RetryPolicy::none(),
            limiter: Some(Limiter::unlimited()),
            ..MgrOptions::default()
        };
        let mgr = MgrClient::new(
            &sim.url("/ispmgr"),
            Credentials::new("root", "bench-password"),
            options,
        )
        .expect("client");
        let isp = IspManager::new(mgr);
        for i in 0..50 {
            isp.create_user(&NewUser {
                name: format!("bench{i}"),
                password: SecretString::from("Bench-pass-1"),
                fullname: format!("Bench {i}"),
                preset: Some("basic".to_owned()),
                limits: BTreeMap::new(),
                domain: None,
            })
            .await
            .expect("create");
        }
        for parallel in [1, 8] {
            let read = isp.clone();
            rate("read  (func=user, 50 users)", parallel, move |_| {
                let isp = read.clone();
                async move {
                    assert_eq!(isp.users().await.expect("user list").len(), 50);
                }
            })
            .await;
            let write = isp.clone();
            rate("write (func=user.edit, one limit)", parallel, move |n| {
                let isp = write.clone();
                async move {
                    let change = UserChange {
                        preset: None,
                        limits: BTreeMap::from([("limit_db".to_owned(), (n % 100).to_string())]),
                    };
                    isp.edit_user("bench7", &change).await.expect("user.edit");
                }
            })
            .await;
        }
    });
}
