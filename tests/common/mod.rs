//! Shared set-up of the panel tests: an in-process simulator and clients pointed at it.
#![allow(dead_code)]

use std::time::Duration;

use hostplane::panel::ispmanager::IspManager;
use hostplane::panel::licensing::Licensing;
use hostplane::panel::mgr::{AuthMode, Format, MgrClient, MgrOptions};
use hostplane::panel::vmmanager5::Vm5;
use hostplane::panel::{Credentials, HttpOptions, Limiter, ModuleLimits, RetryPolicy};
use hostplane::simulator::{self, SimHandle};

pub const ADMIN: &str = "root";
/// Distinctive, so that a leak is easy to grep for.
pub const PASSWORD: &str = "Adm1n-S3cret-Zq9";

pub async fn start() -> SimHandle {
    // Plain `reqwest` calls in the tests need the process's crypto provider too.
    hostplane::panel::transport::install_crypto_provider();
    simulator::start_in_process(simulator::Config::new(ADMIN, PASSWORD))
        .await
        .expect("simulator starts")
}

/// Makes VMmanager 6 tasks quick (100 ms, a host create 400 ms), so that servers install
/// within a test's patience.
pub fn quick_vm6_tasks(sim: &SimHandle) {
    sim.sim.transact(|s| {
        s.vm6.settings.task_ms = 100;
        s.vm6
            .settings
            .task_ms_by_name
            .insert("host_create".into(), 400);
        ((), true)
    });
}

/// Retries fast enough for tests.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    }
}

pub fn options(auth: AuthMode, format: Format) -> MgrOptions {
    MgrOptions {
        auth,
        format,
        http: HttpOptions {
            timeout: Duration::from_secs(5),
            ..HttpOptions::default()
        },
        retry: fast_retry(),
        // Generous: the limiter has its own unit tests; here it must not slow the suite.
        limiter: Some(Limiter::new(ModuleLimits {
            requests_per_second: std::num::NonZeroU32::new(10_000).unwrap(),
            concurrency: 8,
        })),
    }
}

pub fn mgr_with(sim: &SimHandle, path: &str, password: &str, options: MgrOptions) -> MgrClient {
    MgrClient::new(&sim.url(path), Credentials::new(ADMIN, password), options).expect("client")
}

pub fn mgr(sim: &SimHandle, path: &str, auth: AuthMode, format: Format) -> MgrClient {
    mgr_with(sim, path, PASSWORD, options(auth, format))
}

pub fn isp(sim: &SimHandle, auth: AuthMode, format: Format) -> IspManager {
    IspManager::new(mgr(sim, "/ispmgr", auth, format))
}

pub fn vm5(sim: &SimHandle) -> Vm5 {
    Vm5::new(mgr(sim, "/vmmgr", AuthMode::Authinfo, Format::Json))
}

pub fn licensing(sim: &SimHandle, auth: AuthMode, format: Format) -> Licensing {
    Licensing::new(mgr(sim, "/billmgr", auth, format))
}

/// Serves `app` (a mock panel) on a free loopback port; returns its base URL
/// (`http://127.0.0.1:PORT`, no trailing slash).
pub async fn serve_mock(app: axum::Router) -> String {
    hostplane::panel::transport::install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}
