//! The simulated VMmanager 6 REST API at its natural paths: `/auth/v4/...`, `/vm/v3/...` and
//! `/ip/v3/...` (reference §4, checklist §7).
//!
//! One dispatcher per service rather than one axum route per function: it lets every bad
//! request (an unknown path, a non-numeric id, a body that is not JSON) get the panel's own
//! error shape instead of axum's plain-text rejections, and gives every call one function name
//! for fault injection and call counters (`vm6` product; names like `host.create`).
//!
//! Order of a call: route → faults that precede the panel (latency, 503 burst, injected error,
//! session expiry) → token check → the clock settles due tasks → the handler → faults that
//! follow it ("apply, then drop the response").

mod accounts;
mod catalog;
mod hosts;
mod render;
mod reply;
pub mod where_expr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use jiff::Timestamp;

use catalog::Collection;
pub use reply::ApiErr;
use reply::{CODE_INTERNAL, CODE_METHOD, CODE_NOT_FOUND, Reply, body_object};

use super::Sim;
use super::faults;
use super::state_vm6::{Vm6Settings, Vm6State};

/// The fault-injection and counter name of the product.
pub const PRODUCT: &str = "vm6";

/// One resolved call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Token,
    Whoami,
    List(Collection),
    AccountCreate,
    HostCreate,
    HostGet(u64),
    HostEdit(u64),
    HostDelete(u64),
    HostPower(u64, &'static str),
    HostResource(u64),
    HostPassword(u64),
    HostReinstall(u64),
    /// `POST /vm/v3/disk/{disk_id}`.
    DiskResize(u64),
    HostAccount(u64),
    HostIpv4(u64),
    HostIp(u64),
    IpPtr(u64),
    TaskGet(u64),
}

impl Route {
    /// The function name used by faults and counters.
    fn function(self) -> &'static str {
        match self {
            Route::Token => "auth.token",
            Route::Whoami => "auth.whoami",
            Route::List(Collection::Accounts) => "account.list",
            Route::List(Collection::Hosts) => "host.list",
            Route::List(Collection::Tasks) => "task.list",
            Route::List(Collection::Os) => "os.list",
            Route::List(Collection::Clusters) => "cluster.list",
            Route::List(Collection::Recipes) => "recipe.list",
            Route::List(Collection::Nodes) => "node.list",
            Route::List(Collection::Presets) => "preset.list",
            Route::List(Collection::IpPools) => "ippool.list",
            Route::List(Collection::IpNets) => "ipnet.list",
            Route::AccountCreate => "account.create",
            Route::HostCreate => "host.create",
            Route::HostGet(_) => "host.get",
            Route::HostEdit(_) => "host.edit",
            Route::HostDelete(_) => "host.delete",
            Route::HostPower(_, "start") => "host.start",
            Route::HostPower(_, "stop") => "host.stop",
            Route::HostPower(..) => "host.restart",
            Route::HostResource(_) => "host.resource",
            Route::HostPassword(_) => "host.password",
            Route::HostReinstall(_) => "host.reinstall",
            Route::DiskResize(_) => "disk.resize",
            Route::HostAccount(_) => "host.account",
            Route::HostIpv4(_) => "host.ipv4",
            Route::HostIp(_) => "host.ip",
            Route::IpPtr(_) => "ip.ptr",
            Route::TaskGet(_) => "task.get",
        }
    }
}

fn resolve(method: &Method, path: &str) -> Result<Route, ApiErr> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let id = |raw: &str, kind: &str| {
        raw.parse::<u64>()
            .map_err(|_| ApiErr::not_found(kind, raw.to_owned()))
    };
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    let route = match (segments.as_slice(), method) {
        (["auth", "v4", "public", "token"], _) if post => Route::Token,
        (["auth", "v4", "whoami"], _) if get => Route::Whoami,
        (["vm", "v3", "account"], _) if get => Route::List(Collection::Accounts),
        (["vm", "v3", "account"], _) if post => Route::AccountCreate,
        (["vm", "v3", "host"], _) if get => Route::List(Collection::Hosts),
        (["vm", "v3", "host"], _) if post => Route::HostCreate,
        (["vm", "v3", "host", raw], m) => {
            let host = id(raw, "Host")?;
            match *m {
                Method::GET => Route::HostGet(host),
                Method::POST => Route::HostEdit(host),
                Method::DELETE => Route::HostDelete(host),
                _ => return Err(method_not_allowed(path)),
            }
        }
        (["vm", "v3", "host", raw, action], _) => {
            let host = id(raw, "Host")?;
            match (*action, get, post) {
                ("start", _, true) => Route::HostPower(host, "start"),
                ("stop", _, true) => Route::HostPower(host, "stop"),
                ("restart", _, true) => Route::HostPower(host, "restart"),
                ("resource", _, true) => Route::HostResource(host),
                ("password", _, true) => Route::HostPassword(host),
                ("reinstall", _, true) => Route::HostReinstall(host),
                ("account", _, true) => Route::HostAccount(host),
                ("ip", _, true) => Route::HostIp(host),
                ("ipv4", true, _) => Route::HostIpv4(host),
                (
                    "start" | "stop" | "restart" | "resource" | "password" | "reinstall"
                    | "account" | "ip" | "ipv4",
                    _,
                    _,
                ) => return Err(method_not_allowed(path)),
                _ => return Err(unknown_path(path)),
            }
        }
        (["vm", "v3", "disk", raw], _) if post => Route::DiskResize(id(raw, "Disk")?),
        (["vm", "v3", "ip", raw, "ptr"], _) if post => Route::IpPtr(id(raw, "IP address")?),
        (["vm", "v3", "task"], _) if get => Route::List(Collection::Tasks),
        (["vm", "v3", "task", raw], _) if get => Route::TaskGet(id(raw, "Task")?),
        (["vm", "v3", "os"], _) if get => Route::List(Collection::Os),
        (["vm", "v3", "cluster"], _) if get => Route::List(Collection::Clusters),
        (["vm", "v3", "recipe"], _) if get => Route::List(Collection::Recipes),
        (["vm", "v3", "node"], _) if get => Route::List(Collection::Nodes),
        (["vm", "v3", "preset"], _) if get => Route::List(Collection::Presets),
        (["ip", "v3", "ippool"], _) if get => Route::List(Collection::IpPools),
        (["ip", "v3", "ipnet"], _) if get => Route::List(Collection::IpNets),
        _ => return Err(unknown_path(path)),
    };
    Ok(route)
}

fn unknown_path(path: &str) -> ApiErr {
    ApiErr::new(
        StatusCode::NOT_FOUND,
        CODE_NOT_FOUND,
        format!("No such function: {path}"),
    )
}

fn method_not_allowed(path: &str) -> ApiErr {
    ApiErr::new(
        StatusCode::METHOD_NOT_ALLOWED,
        CODE_METHOD,
        format!("Method not allowed for {path}"),
    )
}

/// The token of a request: `x-xsrf-token`, else the `ses6` cookie (reference §4.2).
fn request_token(headers: &HeaderMap) -> Option<String> {
    if let Some(token) = headers.get("x-xsrf-token").and_then(|v| v.to_str().ok()) {
        return Some(token.trim().to_owned());
    }
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("ses6=").map(str::to_owned))
}

/// The decoded `where` parameter (`+` is a space, percent-escapes decoded).
fn where_param(uri: &Uri) -> Option<String> {
    let query = uri.query()?;
    query_pairs(query)
        .into_iter()
        .find(|(k, _)| k == "where")
        .map(|(_, v)| v)
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn form_decode(raw: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn render(reply: Reply) -> Response {
    match reply {
        Ok((status, body)) => (status, axum::Json(body)).into_response(),
        Err(e) => (e.status, axum::Json(e.body())).into_response(),
    }
}

/// The routes, merged into the simulator's router (`super::router`). Besides the panel's own
/// paths there is `GET|POST /_admin/vm6/settings` for the tunables of [`Vm6Settings`] (task
/// durations, planned task failures, token lifetime).
pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/auth/v4/{*rest}", any(handle))
        .route("/vm/v3/{*rest}", any(handle))
        .route("/ip/v3/{*rest}", any(handle))
        .route("/_admin/vm6/settings", get(get_settings).post(set_settings))
}

async fn handle(
    State(sim): State<Sim>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let route = match resolve(&method, uri.path()) {
        Ok(route) => route,
        Err(e) => {
            sim.count_call(PRODUCT, "unknown");
            return render(Err(e));
        }
    };
    sim.count_call(PRODUCT, route.function());
    let injected = sim.faults().on_call(PRODUCT, route.function());
    if !injected.latency.is_zero() {
        sim.faults()
            .delay(PRODUCT, route.function(), injected.latency)
            .await;
    }
    if injected.unavailable {
        return faults::unavailable_response();
    }
    if injected.proxy_error {
        return faults::proxy_error_response();
    }
    if injected.expire_session {
        sim.transact(|s| (s.vm6.expire_sessions(), true));
    }
    if injected.login_failure && route == Route::Token {
        // "Login sometimes fails with an error; sleep and retry" (reference §11): a server
        // error that says nothing about the credentials.
        return render(Err(ApiErr::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            CODE_INTERNAL,
            "Internal error, try again later",
        )));
    }
    let now = sim.clock().now();
    let reply = sim.transact(|s| {
        let before = s.vm6.last_notify;
        let reply = serve(&sim, &mut s.vm6, now, route, &uri, &headers, &body);
        let changed = s.vm6.last_notify != before || route == Route::Token;
        (reply, changed)
    });
    if !injected.late.is_zero() {
        tokio::time::sleep(injected.late).await;
    }
    if injected.drop_response {
        return faults::dropped_response();
    }
    if injected.applied_unavailable {
        return faults::unavailable_response();
    }
    match reply {
        // Applied, answered without the new object's id or task (reference §11).
        Ok((status, _)) if injected.no_id => render(Ok((status, serde_json::json!({})))),
        reply => render(reply),
    }
}

fn serve(
    sim: &Sim,
    state: &mut Vm6State,
    now: Timestamp,
    route: Route,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    let reads_body = !matches!(
        route,
        Route::List(_)
            | Route::HostGet(_)
            | Route::HostIpv4(_)
            | Route::TaskGet(_)
            | Route::Whoami
            | Route::HostDelete(_)
    );
    let body = if reads_body {
        body_object(body)?
    } else {
        serde_json::Map::new()
    };
    if route == Route::Token {
        return accounts::token(
            state,
            now,
            |email, password| sim.is_admin(email, password),
            &body,
        );
    }
    let account = request_token(headers)
        .and_then(|token| state.use_session(&token, now))
        .ok_or_else(ApiErr::unauthorized)?;
    state.settle(now);
    match route {
        Route::Token => unreachable!("answered above"),
        Route::Whoami => accounts::whoami(state, account),
        Route::List(what) => catalog::list(state, now, what, where_param(uri).as_deref()),
        Route::AccountCreate => accounts::create(state, &body),
        Route::HostCreate => hosts::create(state, now, &body),
        Route::HostGet(id) => catalog::host(state, id),
        Route::HostEdit(id) => hosts::edit(state, now, id, &body),
        Route::HostDelete(id) => hosts::delete(state, now, id),
        Route::HostPower(id, action) => hosts::power(state, now, id, action, &body),
        Route::HostResource(id) => hosts::resources(state, now, id, &body),
        Route::HostPassword(id) => hosts::password(state, now, id, &body),
        Route::HostReinstall(id) => hosts::reinstall(state, now, id, &body),
        Route::DiskResize(disk) => hosts::disk_resize(state, now, disk, &body),
        Route::HostAccount(id) => hosts::change_owner(state, id, &body),
        Route::HostIpv4(id) => hosts::ipv4(state, id),
        Route::HostIp(id) => hosts::change_ips(state, now, id, &body),
        Route::IpPtr(id) => hosts::set_ptr(state, id, &body),
        Route::TaskGet(id) => catalog::task(state, now, id),
    }
}

async fn get_settings(State(sim): State<Sim>) -> Response {
    axum::Json(sim.read(|s| s.vm6.settings.clone())).into_response()
}

/// Replaces the settings; fields left out take their defaults.
async fn set_settings(State(sim): State<Sim>, body: Bytes) -> Response {
    match serde_json::from_slice::<Vm6Settings>(&body) {
        Ok(settings) => {
            sim.transact(|s| {
                s.vm6.settings = settings.clone();
                ((), true)
            });
            axum::Json(settings).into_response()
        }
        Err(e) => render(Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            reply::CODE_BAD_JSON,
            format!("not VMmanager 6 settings: {e}"),
        ))),
    }
}
