//! `cargo bench --bench convergence [-- N] [--connection-secrets]`: how fast, and at what cost in
//! API server writes and panel calls, the controller converges N shared hosting services applied
//! at once, and what it costs once they are converged.
//!
//! Everything but the API server runs in this process: a real local kube-apiserver + etcd (the
//! test bed), the ispmanager simulator and the controller (`controller::run`). Phases:
//!
//! 1. **Floor**: the N services created in a namespace no controller watches, plus one status
//!    merge patch each, by a client of the same kind with the same parallelism: the writes no
//!    controller can avoid (create + one status write), and how long they take on this server.
//! 2. **Convergence**: the controller runs on its own namespace (module, tariff and client
//!    Ready), the same N services are created at once, and the bench lists them (`Api::list`,
//!    served from the API server's watch cache) about every second until all are `Ready=True`.
//! 3. **Settle** (a few seconds) and **steady state** (`HOSTPLANE_BENCH_STEADY_SECONDS`).
//!
//! API writes are the API server's own `apiserver_request_total` counters (`/metrics`, read with
//! the test bed's admin client) before and after each phase, minus the bench's own creates; panel
//! calls are the simulator's call counters; memory is `/proc/self/status` (VmHWM, reset before
//! the controller starts). Prints figures; asserts nothing about them.
//!
//! | environment variable | default | what |
//! |---|---|---|
//! | `HOSTPLANE_BENCH_SERVICES` | 1000 | services (a bare number argument wins) |
//! | `HOSTPLANE_BENCH_STEADY_SECONDS` | 60 | the steady-state window |
//! | `HOSTPLANE_BENCH_SETTLE_SECONDS` | 5 | between all Ready and the steady window |
//! | `HOSTPLANE_BENCH_CONCURRENCY` | 16 | `Options::concurrency` |
//! | `HOSTPLANE_BENCH_DRIFT_SECONDS` | 30 | `Options::drift_interval` |
//! | `HOSTPLANE_BENCH_PARALLEL` | 32 | creates (and floor writes) in flight |
//! | `HOSTPLANE_BENCH_CONNECTION_SECRETS` | 0 | 1: every service has `writeConnectionSecretToRef` (also `--connection-secrets`) |
//! | `HOSTPLANE_BENCH_STALL_SECONDS` | 180 | give up when no service became Ready for this long |
//! | `HOSTPLANE_BENCH_TIMEOUT_SECONDS` | 300 + N/5 | give up when not all are Ready by then |
//!
//! The controller's warnings are counted (the first few are printed); `RUST_LOG` (default
//! `error`) shows log lines on stderr.

use std::collections::BTreeMap;
use std::fmt::{Display, Write as _};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use futures::{StreamExt, TryStreamExt};
use hostplane::api::common::ConditionStatus;
use hostplane::api::{Client, HostingService, ProcessingModule, Tariff};
use hostplane::controller::{self, Options};
use hostplane::simulator::{self, SimHandle};
use hostplane::testbed::LocalCluster;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The controller's namespace.
const NS: &str = "bench-converge";
/// The floor's namespace (no controller watches it).
const FLOOR_NS: &str = "bench-floor";
const ADMIN: &str = "root";
const PASSWORD: &str = "Bench-Adm1n-pass";
/// Module limits: the schema's maximum rate, so the limiter is not what is measured.
const MODULE_CONCURRENCY: u32 = 16;
const MODULE_RPS: u32 = 1000;
/// The list poll runs every second, or less often when one list takes more than a fifth of
/// that (10,000 objects): the bench's own polling must not be what slows the controller down.
const POLL: Duration = Duration::from_secs(1);
const POLL_SHARE: u32 = 5;

// ---------------------------------------------------------------------------------------------
// Settings

struct Settings {
    services: usize,
    steady: Duration,
    settle: Duration,
    concurrency: u16,
    drift: Duration,
    parallel: usize,
    connection_secrets: bool,
    stall: Duration,
    timeout: Duration,
}

fn env_value<T>(name: &str) -> anyhow::Result<Option<T>>
where
    T: FromStr,
    T::Err: Display,
{
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| anyhow!("{name}={v:?}: {e}")),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(e) => Err(anyhow!("{name}: {e}")),
    }
}

impl Settings {
    fn read() -> anyhow::Result<Settings> {
        let mut services = env_value::<usize>("HOSTPLANE_BENCH_SERVICES")?.unwrap_or(1000);
        let mut connection_secrets =
            env_value::<u8>("HOSTPLANE_BENCH_CONNECTION_SECRETS")?.unwrap_or(0) != 0;
        for arg in std::env::args().skip(1) {
            match arg.as_str() {
                // `cargo bench` passes `--bench` to every harness-less benchmark.
                "--bench" => {}
                "--connection-secrets" => connection_secrets = true,
                other => match other.parse::<usize>() {
                    Ok(n) => services = n,
                    Err(_) => bail!(
                        "unknown argument {other:?}; usage: cargo bench --bench convergence [-- N] [--connection-secrets]"
                    ),
                },
            }
        }
        if services == 0 || services > 99_999 {
            bail!("the service count must be 1..=99999, not {services}");
        }
        let secs = |name: &str, default: u64| -> anyhow::Result<Duration> {
            Ok(Duration::from_secs(
                env_value::<u64>(name)?.unwrap_or(default),
            ))
        };
        Ok(Settings {
            services,
            steady: secs("HOSTPLANE_BENCH_STEADY_SECONDS", 60)?,
            settle: secs("HOSTPLANE_BENCH_SETTLE_SECONDS", 5)?,
            concurrency: env_value("HOSTPLANE_BENCH_CONCURRENCY")?.unwrap_or(16),
            drift: secs("HOSTPLANE_BENCH_DRIFT_SECONDS", 30)?,
            parallel: env_value::<usize>("HOSTPLANE_BENCH_PARALLEL")?
                .unwrap_or(32)
                .max(1),
            connection_secrets,
            stall: secs("HOSTPLANE_BENCH_STALL_SECONDS", 180)?,
            timeout: secs("HOSTPLANE_BENCH_TIMEOUT_SECONDS", 300 + services as u64 / 5)?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The API server's request counters

/// `apiserver_request_total` summed by verb, resource (with subresource) and whether it failed.
#[derive(Clone, Debug, Default)]
struct Requests(BTreeMap<(String, String, bool), u64>);

const WRITE_VERBS: [&str; 6] = [
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "DELETECOLLECTION",
    "APPLY",
];

impl Requests {
    fn parse(text: &str) -> anyhow::Result<Requests> {
        let mut out = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
                continue;
            };
            let (labels, value) =
                split_labels(rest).with_context(|| format!("unreadable metric line {line:?}"))?;
            let value: f64 = value
                .trim()
                .parse()
                .with_context(|| format!("unreadable metric value in {line:?}"))?;
            let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
            let mut resource = label("resource");
            if resource.is_empty() {
                continue; // non-resource URLs (/metrics, /readyz, discovery)
            }
            let sub = label("subresource");
            if !sub.is_empty() {
                resource = format!("{resource}/{sub}");
            }
            let failed = !label("code").starts_with('2');
            *out.entry((label("verb"), resource, failed)).or_default() += value as u64;
        }
        if out.is_empty() {
            bail!("the API server's /metrics holds no apiserver_request_total");
        }
        Ok(Requests(out))
    }

    /// What happened between `before` and `self`.
    fn since(&self, before: &Requests) -> Requests {
        Requests(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v - before.0.get(k).copied().unwrap_or(0).min(*v)))
                .filter(|(_, v)| *v > 0)
                .collect(),
        )
    }

    /// Takes `n` successful `verb`s on `resource` out (the bench's own requests).
    fn without(mut self, verb: &str, resource: &str, n: u64) -> Requests {
        let key = (verb.to_owned(), resource.to_owned(), false);
        if let Some(v) = self.0.get_mut(&key) {
            *v = v.saturating_sub(n);
        }
        self.0.retain(|_, v| *v > 0);
        self
    }

    fn writes(&self) -> impl Iterator<Item = (&(String, String, bool), &u64)> {
        self.0
            .iter()
            .filter(|((verb, _, _), _)| WRITE_VERBS.contains(&verb.as_str()))
    }

    fn write_total(&self) -> u64 {
        self.writes().map(|(_, v)| v).sum()
    }

    fn failed_writes(&self) -> u64 {
        self.writes()
            .filter(|((_, _, f), _)| *f)
            .map(|(_, v)| v)
            .sum()
    }

    fn writes_to(&self, resource: &str) -> u64 {
        self.writes()
            .filter(|((_, r, _), _)| r == resource)
            .map(|(_, v)| v)
            .sum()
    }

    /// `GET`s (single objects) by resource.
    fn gets(&self) -> u64 {
        self.0
            .iter()
            .filter(|((verb, _, _), _)| verb == "GET")
            .map(|(_, v)| v)
            .sum()
    }

    /// `verb resource` → count, writes only, failed ones marked.
    fn write_lines(&self) -> Vec<(String, u64)> {
        self.writes()
            .map(|((verb, resource, failed), v)| {
                let mark = if *failed { " (failed)" } else { "" };
                (format!("{verb} {resource}{mark}"), *v)
            })
            .collect()
    }
}

/// Splits `k="v",k2="v2"} 12` into the labels and the value text.
fn split_labels(s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    let mut chars = s.char_indices();
    loop {
        let (start, c) = chars.next()?;
        if c == '}' {
            return Some((labels, &s[start + 1..]));
        }
        if c == ',' {
            continue;
        }
        let mut key = String::from(c);
        for (_, c) in chars.by_ref() {
            if c == '=' {
                break;
            }
            key.push(c);
        }
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()?.1 {
                '\\' => value.push(chars.next()?.1),
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(key, value);
    }
}

async fn scrape(client: &kube::Client) -> anyhow::Result<Requests> {
    let request = kube::core::Request::new("/metrics").list(&ListParams::default())?;
    let text = client
        .request_text(request)
        .await
        .context("reading the kube-apiserver's /metrics")?;
    Requests::parse(&text)
}

// ---------------------------------------------------------------------------------------------
// Panel calls

type Calls = BTreeMap<String, u64>;

fn panel_calls(sim: &SimHandle) -> Calls {
    sim.sim
        .calls()
        .into_iter()
        .flat_map(|(product, functions)| {
            functions
                .into_iter()
                .map(move |(f, n)| (format!("{product} {f}"), n))
        })
        .collect()
}

fn calls_since(after: &Calls, before: &Calls) -> Calls {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0).min(*v)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn total(calls: &Calls) -> u64 {
    calls.values().sum()
}

// ---------------------------------------------------------------------------------------------
// Memory

/// (VmRSS, VmHWM) in KiB of a process (`self` or a pid).
fn memory_of(pid: &str) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resets this process's peak RSS to its current RSS (Linux ≥ 4.0).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Children of this process by name (etcd, kube-apiserver): (name, VmRSS, VmHWM) in KiB.
fn children_memory() -> Vec<(String, u64, u64)> {
    let mut out: Vec<_> = children()
        .into_iter()
        .filter_map(|(name, pid)| memory_of(&pid).map(|(rss, hwm)| (name, rss, hwm)))
        .collect();
    out.sort();
    out
}

/// The children of this process: (command name, pid).
fn children() -> Vec<(String, String)> {
    let me = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        let ppid = stat[close + 1..].split_whitespace().nth(1);
        if ppid == Some(me.as_str()) {
            out.push((name.to_owned(), pid));
        }
    }
    out
}

/// CPU seconds (user + system) a process has used so far, from `/proc/PID/stat`.
fn cpu_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    // After the command: state is field 3, utime 14 and stime 15.
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some((utime + stime) as f64 / ticks)
}

/// CPU seconds so far of this process and of each child (etcd, kube-apiserver), by name.
#[derive(Clone, Debug, Default)]
struct Cpu(BTreeMap<String, f64>);

impl Cpu {
    fn now() -> Cpu {
        let mut out = BTreeMap::new();
        if let Some(me) = cpu_of("self") {
            out.insert("bench process".to_owned(), me);
        }
        for (name, pid) in children() {
            if let Some(cpu) = cpu_of(&pid) {
                out.insert(name, cpu);
            }
        }
        Cpu(out)
    }

    fn since(&self, before: &Cpu) -> Cpu {
        Cpu(self
            .0
            .iter()
            .map(|(k, v)| (k.clone(), v - before.0.get(k).copied().unwrap_or(0.0)))
            .collect())
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k} {v:.1}")).collect();
        parts.join(", ")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

// ---------------------------------------------------------------------------------------------
// What the controller logs: warnings, and kube-runtime's "reconciling object" spans

/// Counts the controller's warnings (keeping the first few) and its reconciles by kind and
/// reason, from kube-runtime's `reconciling object` span (one per reconcile).
#[derive(Clone, Default)]
struct Observer {
    warnings: Arc<AtomicU64>,
    first: Arc<Mutex<Vec<String>>>,
    reconciles: Arc<Mutex<Calls>>,
    /// Time spent inside reconciles (polling their futures), by the same keys, in µs.
    busy: Arc<Mutex<Calls>>,
    /// Time from the start to the end of reconciles (awaits included), in µs.
    wall: Arc<Mutex<Calls>>,
}

/// Kept in a reconcile span's extensions: its key and the time spent in it so far.
struct Timing {
    key: String,
    opened: Instant,
    busy: Duration,
    entered: Option<Instant>,
}

const KEEP_WARNINGS: usize = 5;

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?} ");
        } else {
            let _ = write!(self.0, "{}={value:?} ", field.name());
        }
    }
}

#[derive(Default)]
struct SpanFields {
    object: String,
    reason: String,
}

impl tracing::field::Visit for SpanFields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "object.ref" => self.object = format!("{value:?}"),
            "object.reason" => self.reason = format!("{value:?}"),
            _ => {}
        }
    }
}

/// The kind of an `ObjectRef` as displayed (`Kind.version.group/name.namespace`).
fn kind_of(object_ref: &str) -> &str {
    object_ref.split(['.', '/']).next().unwrap_or(object_ref)
}

impl<S> tracing_subscriber::Layer<S> for Observer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attrs.metadata().name() != "reconciling object" {
            return;
        }
        let mut fields = SpanFields::default();
        attrs.record(&mut fields);
        let reason = match fields.reason.strip_prefix("related object updated: ") {
            Some(related) => format!("{} changed", kind_of(related)),
            None => fields.reason,
        };
        let key = format!("{} ({reason})", kind_of(&fields.object));
        *self
            .reconciles
            .lock()
            .expect("reconciles lock")
            .entry(key.clone())
            .or_default() += 1;
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Timing {
                key,
                opened: Instant::now(),
                busy: Duration::ZERO,
                entered: None,
            });
        }
    }

    fn on_enter(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(timing) = span.extensions_mut().get_mut::<Timing>()
        {
            timing.entered = Some(Instant::now());
        }
    }

    fn on_exit(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(timing) = span.extensions_mut().get_mut::<Timing>()
            && let Some(entered) = timing.entered.take()
        {
            timing.busy += entered.elapsed();
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(timing) = span.extensions_mut().remove::<Timing>()
        {
            *self
                .wall
                .lock()
                .expect("wall lock")
                .entry(timing.key.clone())
                .or_default() += timing.opened.elapsed().as_micros() as u64;
            *self
                .busy
                .lock()
                .expect("busy lock")
                .entry(timing.key)
                .or_default() += timing.busy.as_micros() as u64;
        }
    }

    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if *event.metadata().level() > tracing::Level::WARN {
            return;
        }
        self.warnings.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first.lock().expect("warnings lock");
        if first.len() < KEEP_WARNINGS {
            let mut fields = Fields(format!(
                "{} {}: ",
                event.metadata().level(),
                event.metadata().target()
            ));
            event.record(&mut fields);
            first.push(fields.0.trim_end().to_owned());
        }
    }
}

impl Observer {
    fn install() -> Observer {
        let observer = Observer::default();
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
        // Only hostplane's warnings (kube's client warns about the test bed's self-signed
        // certificate on every connection) and kube-runtime's reconcile spans.
        let observed = tracing_subscriber::filter::Targets::new()
            .with_target("hostplane", tracing::Level::WARN)
            .with_target("kube_runtime::controller", tracing::Level::INFO);
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .with(observer.clone().with_filter(observed))
            .init();
        observer
    }

    fn warnings(&self) -> u64 {
        self.warnings.load(Ordering::Relaxed)
    }

    fn first_warnings(&self) -> Vec<String> {
        self.first.lock().expect("warnings lock").clone()
    }

    fn reconciles(&self) -> Calls {
        self.reconciles.lock().expect("reconciles lock").clone()
    }

    fn busy(&self) -> Calls {
        self.busy.lock().expect("busy lock").clone()
    }

    fn wall(&self) -> Calls {
        self.wall.lock().expect("wall lock").clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Objects

fn today() -> String {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

/// A module on the simulator, its credentials, a tariff that is its own name server, a
/// client: the shape of `tests/controller_hosting.rs`.
fn base_yaml(sim: &SimHandle) -> String {
    format!(
        r#"
apiVersion: v1
kind: Secret
metadata: {{name: isp-credentials}}
stringData: {{username: {ADMIN}, password: {PASSWORD}}}
---
apiVersion: hostplane.dev/v1alpha1
kind: ProcessingModule
metadata: {{name: isp1}}
spec:
  type: ISPmanager
  url: {url}
  credentialsSecretRef: {{name: isp-credentials}}
  limits: {{maxConcurrentOperations: {MODULE_CONCURRENCY}, requestsPerSecond: {MODULE_RPS}, burst: {MODULE_RPS}}}
---
apiVersion: hostplane.dev/v1alpha1
kind: Tariff
metadata: {{name: start}}
spec:
  productType: SharedHosting
  processingModules: [{{name: isp1}}]
  prices: {{1m: "3.00", 1y: "30.00"}}
  resources:
    - {{name: diskSpace, included: 1024, min: 1024, max: 10240, step: 1024, monthlyPrice: "0.50"}}
    - {{name: traffic, included: 5, min: 5, max: 50, step: 5, monthlyPrice: "1.00"}}
  hosting:
    accountTemplate: basic
    usernameTemplate: u@ID@
    defaultDomainTemplate: "@ID@.hosting.example"
    nameServer:
      processingModuleRef: {{name: isp1}}
---
apiVersion: hostplane.dev/v1alpha1
kind: Client
metadata: {{name: jane}}
spec: {{displayName: Jane Doe, email: jane@example.org}}
"#,
        url = sim.url("/ispmgr"),
    )
}

fn service_name(i: usize) -> String {
    format!("s{i:05}")
}

fn service(i: usize, today: &str, connection_secret: bool) -> anyhow::Result<HostingService> {
    let name = service_name(i);
    let mut spec = json!({
        "tariffRef": {"name": "start"},
        "clientRef": {"name": "jane"},
        "period": "1y",
        "startDate": today,
    });
    if connection_secret {
        spec["writeConnectionSecretToRef"] = json!({"name": format!("{name}-login")});
    }
    serde_json::from_value(json!({
        "apiVersion": "hostplane.dev/v1alpha1",
        "kind": "HostingService",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .context("building a HostingService")
}

/// `(status, reason)` of the Ready condition in a status.
fn ready_condition(status: &Value) -> Option<(String, String)> {
    let ready = status
        .get("conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type") == Some(&Value::from("Ready")))?;
    let text = |k: &str| {
        ready
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    Some((text("status"), text("reason")))
}

fn is_ready(s: &HostingService) -> bool {
    s.status.as_ref().is_some_and(|st| {
        st.common
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == ConditionStatus::True)
    })
}

/// Not-ready services by their Ready reason, for a timeout message.
fn not_ready_reasons(list: &[HostingService]) -> String {
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut example: BTreeMap<String, String> = BTreeMap::new();
    for s in list.iter().filter(|s| !is_ready(s)) {
        let (reason, message) = s
            .status
            .as_ref()
            .and_then(|st| st.common.conditions.iter().find(|c| c.type_ == "Ready"))
            .map(|c| (format!("{:?}/{}", c.status, c.reason), c.message.clone()))
            .unwrap_or_else(|| ("no status yet".into(), String::new()));
        *reasons.entry(reason.clone()).or_default() += 1;
        example.entry(reason).or_insert_with(|| {
            if message.is_empty() {
                s.name_any()
            } else {
                format!("{}: {message}", s.name_any())
            }
        });
    }
    reasons
        .iter()
        .map(|(r, n)| format!("\n  {n} × Ready={r} (e.g. {})", example[r]))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Set-up

fn kubectl(cluster: &LocalCluster, args: &[&str]) -> anyhow::Result<String> {
    let out = tokio::task::block_in_place(|| cluster.kubectl().args(args).output())
        .context("running kubectl")?;
    if !out.status.success() {
        bail!(
            "kubectl {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn kubectl_apply(cluster: &LocalCluster, ns: &str, yaml: &str) -> anyhow::Result<()> {
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), yaml)?;
    let path = file.path().to_str().context("temp path is not UTF-8")?;
    kubectl(cluster, &["apply", "-n", ns, "-f", path]).map(drop)
}

fn install_crds(cluster: &LocalCluster) -> anyhow::Result<()> {
    let crds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let crds = crds.to_str().context("crds path is not UTF-8")?;
    kubectl(cluster, &["apply", "-f", crds])?;
    kubectl(
        cluster,
        &[
            "wait",
            "--for=condition=established",
            "--timeout=60s",
            "-f",
            crds,
        ],
    )
    .map(drop)
}

/// Waits until `name` reports `Ready=True`.
async fn wait_ready<K>(api: &Api<K>, name: &str, timeout: Duration) -> anyhow::Result<()>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let deadline = Instant::now() + timeout;
    loop {
        let object = api.get_opt(name).await?;
        let ready = object
            .as_ref()
            .and_then(|o| serde_json::to_value(o).ok())
            .and_then(|v| ready_condition(v.get("status")?));
        if ready.as_ref().is_some_and(|(status, _)| status == "True") {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} {name} not Ready after {}s (Ready: {ready:?})",
                K::kind(&()),
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Creates every object, `parallel` at a time; with `status`, also writes it (the floor).
async fn create_all(
    api: Api<HostingService>,
    objects: Vec<HostingService>,
    parallel: usize,
    status: Option<Value>,
    created: Arc<AtomicU64>,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    futures::stream::iter(objects)
        .map(|object| {
            let (api, status, created) = (api.clone(), status.clone(), Arc::clone(&created));
            async move {
                let name = object.name_any();
                api.create(&PostParams::default(), &object)
                    .await
                    .with_context(|| format!("creating HostingService {name}"))?;
                created.fetch_add(1, Ordering::Relaxed);
                if let Some(status) = status {
                    api.patch_status(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({ "status": status })),
                    )
                    .await
                    .with_context(|| format!("writing the status of HostingService {name}"))?;
                }
                anyhow::Ok(())
            }
        })
        .buffer_unordered(parallel)
        .try_collect::<()>()
        .await?;
    Ok(started.elapsed())
}

// ---------------------------------------------------------------------------------------------
// The run

struct Floor {
    time: Duration,
    requests: Requests,
    cpu: Cpu,
}

struct Convergence {
    time: Duration,
    first_ready: Option<Duration>,
    creates_done: Duration,
    /// Everything but the bench's own creates.
    requests: Requests,
    calls: Calls,
    reconciles: Calls,
    /// µs spent in reconciles (polled / start to end), by kind (reason).
    busy: Calls,
    wall: Calls,
    cpu: Cpu,
    polls: u32,
    poll_time: Duration,
}

struct Window {
    length: Duration,
    requests: Requests,
    calls: Calls,
    reconciles: Calls,
    cpu: Cpu,
}

struct Report {
    services: usize,
    floor: Floor,
    convergence: Convergence,
    /// Why the convergence phase ended before all were Ready (then there is no steady state).
    incomplete: Option<String>,
    /// Services Ready when the convergence phase ended.
    ready: usize,
    settle: Option<Window>,
    steady: Option<Window>,
    ready_after_steady: Option<usize>,
    rss_before: Option<(u64, u64)>,
    peak_reset: bool,
    rss_converged: Option<(u64, u64)>,
    rss_end: Option<(u64, u64)>,
    children: Vec<(String, u64, u64)>,
    warnings: u64,
    first_warnings: Vec<String>,
}

/// Set by SIGINT or SIGTERM: the phase under way ends early and what was measured is printed.
/// A second signal exits at once.
fn stop_on_signals() -> anyhow::Result<tokio::sync::watch::Receiver<bool>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        for round in 0.. {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            if round > 0 {
                eprintln!("{name} again: exiting");
                std::process::exit(130);
            }
            eprintln!("{name}: ending the current phase and printing what was measured");
            let _ = tx.send(true);
        }
    });
    Ok(rx)
}

/// Sleeps for `d`, or less when a stop signal comes; true when it came.
async fn sleep_or_stop(d: Duration, stop: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    let stopped = tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stop.wait_for(|s| *s) => true,
    };
    stopped || *stop.borrow()
}

fn controller_running(handle: &tokio::task::JoinHandle<anyhow::Result<()>>) -> bool {
    !handle.is_finished()
}

async fn bench(
    cluster: &LocalCluster,
    s: &Settings,
    observer: &Observer,
) -> anyhow::Result<Report> {
    let n = s.services;
    let mut stop = stop_on_signals()?;
    let client = cluster.client().await?;
    let sim = simulator::start_in_process(simulator::Config::new(ADMIN, PASSWORD))
        .await
        .context("starting the simulator")?;
    let day = today();
    let objects = (0..n)
        .map(|i| service(i, &day, s.connection_secrets))
        .collect::<anyhow::Result<Vec<_>>>()?;
    kubectl(cluster, &["create", "namespace", FLOOR_NS])?;
    kubectl(cluster, &["create", "namespace", NS])?;

    // 1. The floor.
    eprintln!("floor: creating {n} services + one status write each in {FLOOR_NS} ...");
    let floor_status = json!({
        "phase": "Active",
        "observedGeneration": 1,
        "conditions": [{
            "type": "Ready", "status": "True", "reason": "Available",
            "lastTransitionTime": jiff::Timestamp::now().to_string(),
            "observedGeneration": 1,
        }],
    });
    let before = scrape(&client).await?;
    let cpu_before = Cpu::now();
    let floor_writes = create_all(
        Api::namespaced(client.clone(), FLOOR_NS),
        objects.clone(),
        s.parallel,
        Some(floor_status),
        Arc::default(),
    );
    let time = tokio::select! {
        time = floor_writes => time?,
        _ = stop.wait_for(|s| *s) => bail!("stopped by a signal during the floor phase"),
    };
    let floor = Floor {
        time,
        cpu: Cpu::now().since(&cpu_before),
        requests: scrape(&client).await?.since(&before),
    };
    eprintln!("floor: {:.1} s", time.as_secs_f64());

    // 2. The controller, then the services.
    kubectl_apply(cluster, NS, &base_yaml(&sim))?;
    let rss_before = memory_of("self");
    let peak_reset = reset_peak_rss();
    let options = Options {
        namespace: Some(NS.to_owned()),
        concurrency: s.concurrency,
        drift_interval: s.drift,
        ..Options::default()
    };
    let controller_client = cluster.client().await?;
    let controller = tokio::spawn(controller::run(controller_client, options));
    let setup_timeout = Duration::from_secs(120);
    wait_ready(
        &Api::<ProcessingModule>::namespaced(client.clone(), NS),
        "isp1",
        setup_timeout,
    )
    .await?;
    wait_ready(
        &Api::<Tariff>::namespaced(client.clone(), NS),
        "start",
        setup_timeout,
    )
    .await?;
    wait_ready(
        &Api::<Client>::namespaced(client.clone(), NS),
        "jane",
        setup_timeout,
    )
    .await?;
    if !controller_running(&controller) {
        bail!(
            "the controller stopped during set-up: {:?}",
            controller.await
        );
    }

    eprintln!("convergence: creating {n} services in {NS} with the controller running ...");
    let api: Api<HostingService> = Api::namespaced(client.clone(), NS);
    let requests_before = scrape(&client).await?;
    let calls_before = panel_calls(&sim);
    let reconciles_before = observer.reconciles();
    let busy_before = observer.busy();
    let wall_before = observer.wall();
    let cpu_before = Cpu::now();
    let started = Instant::now();
    let created = Arc::new(AtomicU64::new(0));
    let mut creator = tokio::spawn(create_all(
        api.clone(),
        objects,
        s.parallel,
        None,
        Arc::clone(&created),
    ));
    let mut creates_done = None;
    let (mut first_ready, mut polls, mut poll_time) = (None, 0u32, Duration::ZERO);
    let (mut best, mut progressed, mut reported) = (0usize, Instant::now(), Instant::now());
    let mut incomplete = None;
    let (time, ready) = loop {
        if creates_done.is_none() && creator.is_finished() {
            let took = (&mut creator).await.context("the create task panicked")??;
            creates_done = Some(took);
        }
        if !controller_running(&controller) {
            bail!("the controller stopped: {:?}", controller.await);
        }
        let t = Instant::now();
        let list = api
            .list(&ListParams::default().match_any())
            .await
            .context("listing the services")?;
        let took = t.elapsed();
        polls += 1;
        poll_time += took;
        let ready = list.items.iter().filter(|s| is_ready(s)).count();
        if ready > 0 && first_ready.is_none() {
            first_ready = Some(started.elapsed());
        }
        if ready == n {
            break (started.elapsed(), ready);
        }
        if ready > best {
            (best, progressed) = (ready, Instant::now());
        }
        if reported.elapsed() >= Duration::from_secs(5) {
            reported = Instant::now();
            eprintln!(
                "  {:>6.1} s: {ready}/{n} Ready, {} listed, {} panel calls, list took {} ms",
                started.elapsed().as_secs_f64(),
                list.items.len(),
                total(&calls_since(&panel_calls(&sim), &calls_before)),
                took.as_millis()
            );
        }
        let why = if *stop.borrow() {
            Some("stopped by a signal".to_owned())
        } else if progressed.elapsed() > s.stall {
            Some(format!(
                "no service became Ready for {} s",
                s.stall.as_secs()
            ))
        } else if started.elapsed() > s.timeout {
            Some(format!("not all Ready after {} s", s.timeout.as_secs()))
        } else {
            None
        };
        if let Some(why) = why {
            incomplete = Some(format!(
                "{why}: {ready}/{n} Ready after {:.0} s, {} objects listed{}",
                started.elapsed().as_secs_f64(),
                list.items.len(),
                not_ready_reasons(&list.items)
            ));
            break (started.elapsed(), ready);
        }
        sleep_or_stop(POLL.max(took * POLL_SHARE).saturating_sub(took), &mut stop).await;
    };
    let requests_ready = scrape(&client).await?;
    let calls_ready = panel_calls(&sim);
    let reconciles_ready = observer.reconciles();
    let cpu_ready = Cpu::now();
    let rss_converged = memory_of("self");
    let creates_done = match creates_done {
        Some(d) => d,
        None if incomplete.is_some() => {
            creator.abort();
            started.elapsed()
        }
        None => creator.await.context("the create task panicked")??,
    };
    if incomplete.is_none() {
        eprintln!(
            "all {n} Ready after {:.1} s; settling {} s, then {} s of steady state ...",
            time.as_secs_f64(),
            s.settle.as_secs(),
            s.steady.as_secs()
        );
    }
    let convergence = Convergence {
        time,
        first_ready,
        creates_done,
        requests: requests_ready.since(&requests_before).without(
            "POST",
            "hostingservices",
            created.load(Ordering::Relaxed),
        ),
        calls: calls_since(&calls_ready, &calls_before),
        reconciles: calls_since(&reconciles_ready, &reconciles_before),
        busy: calls_since(&observer.busy(), &busy_before),
        wall: calls_since(&observer.wall(), &wall_before),
        cpu: cpu_ready.since(&cpu_before),
        polls,
        poll_time,
    };

    let mut report = Report {
        services: n,
        floor,
        convergence,
        incomplete,
        ready,
        settle: None,
        steady: None,
        ready_after_steady: None,
        rss_before,
        peak_reset,
        rss_converged,
        rss_end: None,
        children: Vec::new(),
        warnings: 0,
        first_warnings: Vec::new(),
    };
    if report.incomplete.is_none() {
        let at_ready = (requests_ready, calls_ready, reconciles_ready, cpu_ready);
        settle_and_steady(
            &mut report,
            s,
            &client,
            &api,
            &sim,
            observer,
            &mut stop,
            at_ready,
        )
        .await?;
    }
    if !controller_running(&controller) {
        bail!("the controller stopped: {:?}", controller.await);
    }
    controller.abort();
    report.rss_end = memory_of("self");
    report.children = children_memory();
    report.warnings = observer.warnings();
    report.first_warnings = observer.first_warnings();
    Ok(report)
}

/// Phase 3: a few seconds to settle, then the steady-state window.
#[allow(clippy::too_many_arguments)]
async fn settle_and_steady(
    report: &mut Report,
    s: &Settings,
    client: &kube::Client,
    api: &Api<HostingService>,
    sim: &SimHandle,
    observer: &Observer,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    (requests_ready, calls_ready, reconciles_ready, cpu_ready): (Requests, Calls, Calls, Cpu),
) -> anyhow::Result<()> {
    let settle_start = Instant::now();
    sleep_or_stop(s.settle, stop).await;
    let requests_settled = scrape(client).await?;
    let calls_settled = panel_calls(sim);
    let reconciles_settled = observer.reconciles();
    let cpu_settled = Cpu::now();
    report.settle = Some(Window {
        length: settle_start.elapsed(),
        requests: requests_settled.since(&requests_ready),
        calls: calls_since(&calls_settled, &calls_ready),
        reconciles: calls_since(&reconciles_settled, &reconciles_ready),
        cpu: cpu_settled.since(&cpu_ready),
    });
    let steady_start = Instant::now();
    sleep_or_stop(s.steady, stop).await;
    let requests_end = scrape(client).await?;
    let calls_end = panel_calls(sim);
    let reconciles_end = observer.reconciles();
    let cpu_end = Cpu::now();
    report.steady = Some(Window {
        length: steady_start.elapsed(),
        requests: requests_end.since(&requests_settled),
        calls: calls_since(&calls_end, &calls_settled),
        reconciles: calls_since(&reconciles_end, &reconciles_settled),
        cpu: cpu_end.since(&cpu_settled),
    });
    report.ready_after_steady = Some(
        api.list(&ListParams::default().match_any())
            .await?
            .items
            .iter()
            .filter(|s| is_ready(s))
            .count(),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The table

fn row(out: &mut String, what: &str, figure: impl Display) {
    let _ = writeln!(out, "{what:<46} {figure}");
}

fn per(n: u64, services: usize) -> String {
    format!("{:.2}", n as f64 / services as f64)
}

fn breakdown(out: &mut String, lines: Vec<(String, u64)>, services: usize, unit: &str) {
    for (what, n) in lines {
        row(
            out,
            &format!("  {what}"),
            format!("{:>9}  {n}", format!("{} {unit}", per(n, services))),
        );
    }
}

fn rates(out: &mut String, label: &str, w: &Window) {
    let secs = w.length.as_secs_f64();
    let writes = w.requests.write_total();
    let calls = total(&w.calls);
    row(
        out,
        &format!("{label}: API writes"),
        format!("{:.2}/s ({writes} in {secs:.0} s)", writes as f64 / secs),
    );
    for (what, n) in w.requests.write_lines() {
        row(out, &format!("  {what}"), n);
    }
    row(
        out,
        &format!("{label}: panel calls"),
        format!("{:.2}/s ({calls} in {secs:.0} s)", calls as f64 / secs),
    );
    for (what, n) in &w.calls {
        row(out, &format!("  {what}"), n);
    }
    row(
        out,
        &format!("{label}: reconciles"),
        format!("{} in {secs:.0} s", total(&w.reconciles)),
    );
    for (what, n) in &w.reconciles {
        row(out, &format!("  {what}"), n);
    }
    row(out, &format!("{label}: CPU seconds"), w.cpu.describe());
}

fn print(r: &Report, s: &Settings) {
    let n = r.services;
    let c = &r.convergence;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nconvergence of {n} SharedHosting services applied at once (cargo bench --bench convergence -- {n}{})",
        if s.connection_secrets {
            " --connection-secrets"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "one ISPmanager module on the in-process simulator (limits: {MODULE_CONCURRENCY} concurrent, {MODULE_RPS} req/s), one tariff, one client; controller concurrency {}, drift interval {} s; connection Secrets: {}; {} creates in flight; kube-apiserver + etcd in TMPDIR={}\n",
        s.concurrency,
        s.drift.as_secs(),
        if s.connection_secrets { "yes" } else { "no" },
        s.parallel,
        std::env::temp_dir().display()
    );
    if let Some(why) = &r.incomplete {
        let _ = writeln!(
            out,
            "INCOMPLETE, figures up to the end of the convergence phase (per service = per service applied): {why}\n"
        );
    }
    row(&mut out, "what", "figure");
    row(&mut out, &"-".repeat(46), "-".repeat(30));
    if r.incomplete.is_none() {
        row(
            &mut out,
            "until all Ready (from the first create)",
            format!(
                "{:.1} s ({:.0} services/s)",
                c.time.as_secs_f64(),
                n as f64 / c.time.as_secs_f64()
            ),
        );
    } else {
        row(
            &mut out,
            "Ready when the convergence phase ended",
            format!(
                "{}/{n} after {:.1} s ({:.1} services/s)",
                r.ready,
                c.time.as_secs_f64(),
                r.ready as f64 / c.time.as_secs_f64()
            ),
        );
    }
    row(
        &mut out,
        "  first Ready / all created",
        format!(
            "{} / {:.1} s",
            c.first_ready
                .map(|d| format!("{:.1} s", d.as_secs_f64()))
                .unwrap_or_else(|| "-".into()),
            c.creates_done.as_secs_f64()
        ),
    );
    row(
        &mut out,
        "  bench list polls",
        format!(
            "{} (mean {} ms each)",
            c.polls,
            (c.poll_time / c.polls.max(1)).as_millis()
        ),
    );
    let writes = c.requests.write_total();
    let events = c.requests.writes_to("events");
    row(
        &mut out,
        "API writes by the controller, per service",
        format!(
            "{} ({writes} in all; {} without events; {} failed)",
            per(writes, n),
            per(writes - events, n),
            c.requests.failed_writes()
        ),
    );
    breakdown(&mut out, c.requests.write_lines(), n, "");
    row(
        &mut out,
        "API GETs by the controller, per service",
        format!("{} ({})", per(c.requests.gets(), n), c.requests.gets()),
    );
    let calls = total(&c.calls);
    row(
        &mut out,
        "panel calls per service",
        format!("{} ({calls} in all)", per(calls, n)),
    );
    breakdown(
        &mut out,
        c.calls.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        n,
        "",
    );
    row(
        &mut out,
        "reconciles per service (all kinds)",
        format!(
            "{} ({} in all)",
            per(total(&c.reconciles), n),
            total(&c.reconciles)
        ),
    );
    row(
        &mut out,
        "  kind (reason)",
        "per svc   count, mean duration (polled / start to end), total polled",
    );
    for (what, count) in &c.reconciles {
        let busy = c.busy.get(what).copied().unwrap_or(0) as f64;
        let wall = c.wall.get(what).copied().unwrap_or(0) as f64;
        let mean = |us: f64| us / 1000.0 / (*count).max(1) as f64;
        row(
            &mut out,
            &format!("  {what}"),
            format!(
                "{:>9}  {count}, {:.2} / {:.0} ms, {:.1} s",
                per(*count, n),
                mean(busy),
                mean(wall),
                busy / 1e6
            ),
        );
    }
    row(
        &mut out,
        "CPU seconds while converging",
        format!(
            "{} (the bench process holds the controller, the simulator and the bench's client)",
            c.cpu.describe()
        ),
    );
    let (rss_before, hwm_before) = r.rss_before.unwrap_or_default();
    let (_, hwm_converged) = r.rss_converged.unwrap_or_default();
    let (rss_end, hwm_end) = r.rss_end.unwrap_or_default();
    row(
        &mut out,
        "peak RSS of the bench process (VmHWM)",
        format!(
            "{} at the end of convergence, {} at the end",
            mib(hwm_converged),
            mib(hwm_end)
        ),
    );
    row(
        &mut out,
        "  before the controller started (VmRSS)",
        format!(
            "{}{}",
            mib(rss_before),
            if r.peak_reset {
                String::new()
            } else {
                format!(
                    "; peak could not be reset, so the peak includes the floor phase (VmHWM {} then)",
                    mib(hwm_before)
                )
            }
        ),
    );
    row(
        &mut out,
        "  controller's share (peak - before)",
        format!(
            "{} (the process also holds the bench's client, its lists, the simulator)",
            mib(hwm_end.saturating_sub(rss_before))
        ),
    );
    row(&mut out, "  RSS at the end (VmRSS)", mib(rss_end));
    for (name, rss, hwm) in &r.children {
        row(
            &mut out,
            &format!("  {name} RSS / peak"),
            format!("{} / {}", mib(*rss), mib(*hwm)),
        );
    }
    if let Some(settle) = &r.settle {
        rates(&mut out, "settle", settle);
    }
    if let Some(steady) = &r.steady {
        rates(&mut out, "steady state", steady);
    }
    if let Some(ready) = r.ready_after_steady {
        row(
            &mut out,
            "  Ready at the end of the steady state",
            format!("{ready}/{n}"),
        );
    }
    let f = &r.floor;
    let floor_writes = f.requests.write_total();
    row(
        &mut out,
        "floor: create + 1 status write, same client",
        format!(
            "{:.1} s ({:.0} services/s), {floor_writes} writes ({} per service)",
            f.time.as_secs_f64(),
            n as f64 / f.time.as_secs_f64(),
            per(floor_writes, n)
        ),
    );
    row(&mut out, "  floor CPU seconds", f.cpu.describe());
    let all_writes = writes + n as u64;
    if r.incomplete.is_none() {
        row(
            &mut out,
            "ratio controller / floor: time",
            format!("{:.1}x", c.time.as_secs_f64() / f.time.as_secs_f64()),
        );
        row(
            &mut out,
            "ratio controller / floor: writes",
            format!(
                "{:.1}x ({} per service incl. the create, vs {})",
                all_writes as f64 / floor_writes.max(1) as f64,
                per(all_writes, n),
                per(floor_writes, n)
            ),
        );
    }
    row(
        &mut out,
        "controller warnings logged",
        format!("{}", r.warnings),
    );
    for w in &r.first_warnings {
        let _ = writeln!(out, "  {w}");
    }
    let _ = writeln!(
        out,
        "\nreconciles are kube-runtime's `reconciling object` spans by kind (reason). A trigger that \
         arrives while the object already has a requeue scheduled runs under that requeue's \
         reason, so \"reconciler requested retry\" also counts reconciles triggered by related \
         objects (tariff, client) of services that already had their timer requeue set."
    );
    println!("{out}");
}

fn run() -> anyhow::Result<()> {
    let observer = Observer::install();
    let settings = Settings::read()?;
    hostplane::panel::transport::install_crypto_provider();
    eprintln!("starting etcd + kube-apiserver ...");
    let cluster = LocalCluster::start().context("starting the local kube-apiserver")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        install_crds(&cluster)?;
        bench(&cluster, &settings, &observer).await
    });
    // The controller's tasks end with the runtime, before the API server goes.
    runtime.shutdown_timeout(Duration::from_secs(5));
    let report = report?;
    print(&report, &settings);
    match &report.incomplete {
        Some(why) => bail!("the services did not all become Ready: {why}"),
        None => Ok(()),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nconvergence bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
