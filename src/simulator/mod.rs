//! Simulators of the panels' HTTP APIs: ispmanager (`/ispmgr`), VMmanager 5 (`/vmmgr`), the
//! BILLmanager licensing server (`/billmgr`, also `/manager/billmgr`) and VMmanager 6
//! (`/auth/v4/…`, `/vm/v3/…`, `/ip/v3/…`), in one axum server.
//!
//! Why: no real panel is reachable from tests, the demo or CI, and a provider wants to rehearse
//! a tariff change before it touches customers. The behaviour follows the reference page
//! (`ispsystem-api.md`, checklist §7): mgr documents in `out=json` and `out=xml`, the error
//! type/object pairs of §1.8, forms that show current values without `sok`, license keys that
//! appear after a few polls, a balance debited per order.
//!
//! Started by `hostplane simulate --listen ADDR --username U --password P [--state FILE]
//! [--seed-from DIR]`, or in-process by tests with [`start_in_process`] (a free 127.0.0.1
//! port); [`Config::seed`] gives it what a provider's manifests name ([`seed`]).
//!
//! # Admin endpoints (no authentication: bind the simulator to loopback)
//!
//! | Method and path | Does |
//! |---|---|
//! | `GET /_admin/state` | the whole state as JSON (plus the clock) |
//! | `GET /_admin/calls` | calls per product and function: `{"ispmgr":{"user":3}}` |
//! | `DELETE /_admin/calls` | resets the counters and the request log |
//! | `GET /_admin/requests` | the last 1000 request lines (`POST /ispmgr`, query included) |
//! | `GET /_admin/faults` | the fault table |
//! | `POST /_admin/faults` | sets one rule: `{"product":"billmgr","function":"soft.order.param","drop_response":1}` (see [`faults`]) |
//! | `DELETE /_admin/faults` | clears all faults |
//! | `GET /_admin/clock` | `{"now":…,"today":…,"offset_seconds":…}` |
//! | `POST /_admin/clock/advance` | `{"seconds":N}` and/or `{"days":N}`: moves the clock forward |
//! | `POST /_admin/licensing` | `{"balance":"100.00","prices":{"55228":"10.00"},"key_polls":2}` (any subset) |
//! | `POST /_admin/sessions/expire` | drops every mgr session (all products) |
//! | `GET /_admin/profile` | the answers' dialect: `{"isp_unknown_user_is_error":false,…}` |
//! | `POST /_admin/profile` | `{"profile":"strict"}` or `"complete"`, and/or single switches (see [`profile`]); answers the new dialect |
//! | `POST /_admin/vm5/admdown` | `{"id":N,"down":true}`: the VMmanager 5 administrator disables VM N (`vmstatus` = `admdown`, powered off); `"down":false` lifts it (the VM stays off); 404 for an unknown VM |
//! | `POST /_admin/seed` | adds what manifests name (see [`seed::Seed`]): `{"account_templates":["start"],"recipes":["ispmanager-install"],"os_images":["Debian 12"],"vm5_presets":{"3":{"name":"big","mem":4096,"vcpu":2}},"vm5_images":["ISPsystem__Debian-12-amd64"],"pricelists":["3541"],"accounts":["oldsite"]}` (any subset); answers `{"added":N}` |
//!
//! Product names for faults and counters: `ispmgr`, `vmmgr`, `billmgr`, `vm6`.
//!
//! # Composition
//!
//! [`router`] merges one `Router<Sim>` per product. The VMmanager 6 part lives in
//! `vmmanager6.rs` / `state_vm6.rs` and is merged at the marked line in [`router`]; it uses
//! [`Sim::transact`] for its state (`state.vm6`), [`Sim::clock`], [`Sim::faults`] and
//! [`Sim::count_call`] like the mgr products do.

pub mod admin;
mod billmanager;
pub mod clock;
pub mod faults;
mod ispmanager;
pub mod mgr;
pub mod profile;
pub mod seed;
pub mod state;
pub mod state_vm6;
mod vmmanager5;
pub mod vmmanager6;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use jiff::SignedDuration;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use clock::Clock;
pub use faults::{FaultSpec, Faults};
pub use profile::{Dialect, Profile};
pub use state::SimState;

/// How a simulator starts.
#[derive(Clone, Debug)]
pub struct Config {
    /// The administrator of every simulated product (for BILLmanager: the partner account).
    pub username: String,
    pub password: SecretString,
    /// Load the state from this file at start (when it exists) and save it after every change.
    pub state_file: Option<PathBuf>,
    /// Catalogue entries and accounts added at start to whatever state was loaded.
    pub seed: seed::Seed,
    /// How closely the answers follow the real panels ([`profile`]).
    pub dialect: Dialect,
}

impl Config {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: SecretString::from(password.into()),
            state_file: None,
            seed: seed::Seed::default(),
            // What real panels answer (reference §11): the whole suite runs against it.
            dialect: Profile::Strict.dialect(),
        }
    }
}

/// The running simulator's shared parts. Cheap to clone.
#[derive(Clone)]
pub struct Sim {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    state: Mutex<SimState>,
    clock: Clock,
    faults: Faults,
    dialect: Mutex<Dialect>,
    calls: Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
    requests: Mutex<VecDeque<String>>,
}

/// What the state file holds.
#[derive(Serialize, Deserialize)]
struct Saved {
    clock_offset_seconds: i64,
    state: SimState,
}

const REQUEST_LOG: usize = 1000;

impl Sim {
    /// A simulator with the state of `config.state_file` (or a fresh one).
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let (mut state, offset) = match &config.state_file {
            Some(path) if path.exists() => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let saved: Saved = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not a simulator state file", path.display()))?;
                (
                    saved.state,
                    SignedDuration::from_secs(saved.clock_offset_seconds),
                )
            }
            _ => (SimState::default(), SignedDuration::ZERO),
        };
        config.seed.apply(&mut state);
        Ok(Self {
            inner: Arc::new(Inner {
                dialect: Mutex::new(config.dialect),
                config,
                state: Mutex::new(state),
                clock: Clock::with_offset(offset),
                faults: Faults::default(),
                calls: Mutex::default(),
                requests: Mutex::default(),
            }),
        })
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// The answers' current dialect ([`profile`]).
    pub fn dialect(&self) -> Dialect {
        *self.inner.dialect.lock().expect("dialect lock")
    }

    /// Switches the answers to `dialect` from the next call on.
    pub fn set_dialect(&self, dialect: Dialect) {
        *self.inner.dialect.lock().expect("dialect lock") = dialect;
    }

    pub fn admin_username(&self) -> &str {
        &self.inner.config.username
    }

    /// Whether `username`/`password` are the administrator's.
    pub fn is_admin(&self, username: &str, password: &str) -> bool {
        username == self.inner.config.username
            && password == self.inner.config.password.expose_secret()
    }

    /// Runs `f` on the state; `f` returns its result and whether it changed anything. A change
    /// is saved to the state file before the lock is released.
    pub fn transact<R>(&self, f: impl FnOnce(&mut SimState) -> (R, bool)) -> R {
        let mut state = self.inner.state.lock().expect("state lock");
        let (result, changed) = f(&mut state);
        if changed && let Err(e) = self.save_locked(&state) {
            tracing::warn!(error = %format!("{e:#}"), "could not save the simulator state");
        }
        result
    }

    /// Reads the state.
    pub fn read<R>(&self, f: impl FnOnce(&SimState) -> R) -> R {
        f(&self.inner.state.lock().expect("state lock"))
    }

    /// A copy of the whole state.
    pub fn snapshot(&self) -> SimState {
        self.read(Clone::clone)
    }

    /// Saves the state now (also done after every change).
    pub fn save(&self) -> anyhow::Result<()> {
        let state = self.inner.state.lock().expect("state lock");
        self.save_locked(&state)
    }

    fn save_locked(&self, state: &SimState) -> anyhow::Result<()> {
        let Some(path) = &self.inner.config.state_file else {
            return Ok(());
        };
        let saved = Saved {
            clock_offset_seconds: self.clock().offset().as_secs(),
            state: state.clone(),
        };
        write_atomically(path, &serde_json::to_vec_pretty(&saved)?)
    }

    /// Counts one call of `function` of `product` (shown by `GET /_admin/calls`).
    pub fn count_call(&self, product: &str, function: &str) {
        let mut calls = self.inner.calls.lock().expect("calls lock");
        *calls
            .entry(product.to_owned())
            .or_default()
            .entry(function.to_owned())
            .or_default() += 1;
    }

    /// Calls per product and function.
    pub fn calls(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        self.inner.calls.lock().expect("calls lock").clone()
    }

    /// Disables (`down`) VMmanager 5 VM `id` as its panel's administrator would: `vmstatus`
    /// becomes `admdown` and the VM is powered off; lifting it leaves the VM off. `false` when
    /// there is no such VM.
    pub fn set_vm5_admin_down(&self, id: u64, down: bool) -> bool {
        self.transact(|state| match state.vmmgr.vms.get_mut(&id) {
            Some(vm) => {
                vm.admin_down = down;
                if down {
                    vm.running = false;
                }
                (true, true)
            }
            None => (false, false),
        })
    }

    /// Calls of one function so far.
    pub fn call_count(&self, product: &str, function: &str) -> u64 {
        let calls = self.inner.calls.lock().expect("calls lock");
        calls
            .get(product)
            .and_then(|f| f.get(function))
            .copied()
            .unwrap_or(0)
    }

    /// The last request lines (`METHOD path?query`), oldest first. Bodies are never kept.
    pub fn requests(&self) -> Vec<String> {
        self.inner
            .requests
            .lock()
            .expect("requests lock")
            .iter()
            .cloned()
            .collect()
    }

    /// Forgets the counters and the request log.
    pub fn reset_calls(&self) {
        self.inner.calls.lock().expect("calls lock").clear();
        self.inner.requests.lock().expect("requests lock").clear();
    }

    fn log_request(&self, line: String) {
        let mut log = self.inner.requests.lock().expect("requests lock");
        if log.len() == REQUEST_LOG {
            log.pop_front();
        }
        log.push_back(line);
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// The whole simulator as one router: every product at its natural path plus `/_admin`.
pub fn router(sim: Sim) -> Router {
    Router::new()
        .merge(ispmanager::routes())
        .merge(vmmanager5::routes())
        .merge(billmanager::routes())
        .merge(admin::routes())
        // VMmanager 6 (/auth/v4, /vm/v3, /ip/v3) is merged here:
        .merge(vmmanager6::routes())
        .fallback(mgr::unknown_path)
        .layer(middleware::from_fn_with_state(sim.clone(), log_request))
        .with_state(sim)
}

async fn log_request(State(sim): State<Sim>, request: Request, next: Next) -> Response {
    sim.log_request(format!("{} {}", request.method(), request.uri()));
    next.run(request).await
}

/// A simulator running inside the current process (tests, benchmarks).
pub struct SimHandle {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base_url: String,
    pub addr: SocketAddr,
    pub sim: Sim,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl SimHandle {
    /// The full URL of a path, e.g. `url("/ispmgr")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts a simulator on a free 127.0.0.1 port in the current tokio runtime; it stops when
/// the handle is dropped.
pub async fn start_in_process(config: Config) -> anyhow::Result<SimHandle> {
    let sim = Sim::new(config)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(sim.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(SimHandle {
        base_url: format!("http://{addr}"),
        addr,
        sim,
        shutdown: Some(tx),
    })
}

/// Serves until Ctrl-C (the `hostplane simulate` command).
pub async fn serve(listen: SocketAddr, config: Config) -> anyhow::Result<()> {
    let sim = Sim::new(config)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    eprintln!(
        "hostplane simulate: http://{addr}/ispmgr, /vmmgr, /billmgr, /auth/v4, /vm/v3; admin at http://{addr}/_admin/state"
    );
    axum::serve(listener, router(sim.clone()))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    sim.save()
}
