//! The simulator's admin endpoints under `/_admin` (listed in the module doc of
//! [`crate::simulator`]): read the state and call counters, set faults, move the clock, tune
//! the licensing account. Bad bodies get a JSON error, never a crash.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::SignedDuration;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;

use super::Sim;
use super::faults::FaultRule;
use super::profile::{Dialect, DialectChange};
use super::seed::Seed;

pub fn routes() -> Router<Sim> {
    Router::new()
        .route("/_admin/state", get(state))
        .route("/_admin/calls", get(calls).delete(reset_calls))
        .route("/_admin/requests", get(requests))
        .route(
            "/_admin/faults",
            get(list_faults).post(set_fault).delete(clear_faults),
        )
        .route("/_admin/clock", get(clock))
        .route("/_admin/clock/advance", post(advance))
        .route("/_admin/licensing", post(licensing))
        .route("/_admin/sessions/expire", post(expire_sessions))
        .route("/_admin/seed", post(seed))
        .route("/_admin/profile", get(profile).post(set_profile))
        .route("/_admin/vm5/admdown", post(vm5_admin_down))
}

fn bad_request(msg: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {"msg": msg}})),
    )
        .into_response()
}

fn clock_json(sim: &Sim) -> serde_json::Value {
    json!({
        "now": sim.clock().now().to_string(),
        "today": sim.clock().today().to_string(),
        "offset_seconds": sim.clock().offset().as_secs(),
    })
}

async fn state(State(sim): State<Sim>) -> Response {
    Json(json!({"clock": clock_json(&sim), "state": sim.snapshot()})).into_response()
}

async fn calls(State(sim): State<Sim>) -> Json<BTreeMap<String, BTreeMap<String, u64>>> {
    Json(sim.calls())
}

async fn reset_calls(State(sim): State<Sim>) -> StatusCode {
    sim.reset_calls();
    StatusCode::NO_CONTENT
}

async fn requests(State(sim): State<Sim>) -> Json<Vec<String>> {
    Json(sim.requests())
}

async fn list_faults(State(sim): State<Sim>) -> Json<Vec<FaultRule>> {
    Json(sim.faults().list())
}

async fn set_fault(
    State(sim): State<Sim>,
    body: Result<Json<FaultRule>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(rule)) => {
            if !(0.0..=1.0).contains(&rule.spec.error_rate) {
                return bad_request("error_rate must be between 0 and 1".to_owned());
            }
            sim.faults().set(&rule.product, &rule.function, rule.spec);
            Json(sim.faults().list()).into_response()
        }
        Err(e) => bad_request(e.body_text()),
    }
}

async fn clear_faults(State(sim): State<Sim>) -> StatusCode {
    sim.faults().clear();
    StatusCode::NO_CONTENT
}

async fn clock(State(sim): State<Sim>) -> Json<serde_json::Value> {
    Json(clock_json(&sim))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    #[serde(default)]
    seconds: i64,
    #[serde(default)]
    days: i64,
}

async fn advance(State(sim): State<Sim>, body: Result<Json<Advance>, JsonRejection>) -> Response {
    let Json(by) = match body {
        Ok(b) => b,
        Err(e) => return bad_request(e.body_text()),
    };
    let total = by.seconds.saturating_add(by.days.saturating_mul(86_400));
    if total < 0 {
        return bad_request("the clock only moves forward".to_owned());
    }
    sim.clock().advance(SignedDuration::from_secs(total));
    // The offset is part of the saved state.
    if let Err(e) = sim.save() {
        return bad_request(format!("could not save the state: {e:#}"));
    }
    Json(clock_json(&sim)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LicensingSettings {
    balance: Option<Decimal>,
    #[serde(default)]
    prices: BTreeMap<String, Decimal>,
    key_polls: Option<u32>,
}

async fn licensing(
    State(sim): State<Sim>,
    body: Result<Json<LicensingSettings>, JsonRejection>,
) -> Response {
    let Json(settings) = match body {
        Ok(b) => b,
        Err(e) => return bad_request(e.body_text()),
    };
    let bill = sim.transact(|state| {
        let bill = &mut state.billmgr;
        if let Some(balance) = settings.balance {
            bill.balance = balance;
        }
        bill.prices.extend(settings.prices);
        if let Some(polls) = settings.key_polls {
            bill.key_polls = polls;
        }
        (
            json!({"balance": bill.balance, "prices": bill.prices, "key_polls": bill.key_polls}),
            true,
        )
    });
    Json(bill).into_response()
}

async fn expire_sessions(State(sim): State<Sim>) -> StatusCode {
    sim.transact(|state| {
        state.ispmgr.auth.sessions.clear();
        state.vmmgr.auth.sessions.clear();
        state.billmgr.auth.sessions.clear();
        ((), true)
    });
    StatusCode::NO_CONTENT
}

/// Adds catalogue entries and pre-existing accounts at run time (what `--seed-from` does at
/// start); answers how many things were new.
async fn seed(State(sim): State<Sim>, body: Result<Json<Seed>, JsonRejection>) -> Response {
    let Json(seed) = match body {
        Ok(b) => b,
        Err(e) => return bad_request(e.body_text()),
    };
    let added = sim.transact(|state| {
        let added = seed.apply(state);
        (added, added > 0)
    });
    Json(json!({ "added": added })).into_response()
}

async fn profile(State(sim): State<Sim>) -> Json<Dialect> {
    Json(sim.dialect())
}

async fn set_profile(
    State(sim): State<Sim>,
    body: Result<Json<DialectChange>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(change)) => {
            let dialect = change.apply(sim.dialect());
            sim.set_dialect(dialect);
            Json(dialect).into_response()
        }
        Err(e) => bad_request(e.body_text()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminDown {
    id: u64,
    down: bool,
}

/// Puts a VMmanager 5 VM into (or out of) the administrator's `admdown` ([`Sim::set_vm5_admin_down`]).
async fn vm5_admin_down(
    State(sim): State<Sim>,
    body: Result<Json<AdminDown>, JsonRejection>,
) -> Response {
    let Json(change) = match body {
        Ok(b) => b,
        Err(e) => return bad_request(e.body_text()),
    };
    if sim.set_vm5_admin_down(change.id, change.down) {
        Json(json!({"id": change.id, "down": change.down})).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"msg": format!("no VMmanager 5 VM {}", change.id)}})),
        )
            .into_response()
    }
}
