//! Login and accounts of the simulated VMmanager 6 (reference §4.2, §4.4).

use axum::http::StatusCode;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::reply::{self, ApiErr, CODE_EXISTS, CODE_LOGIN_FAILED, Reply, only, req_str};
use crate::simulator::state_vm6::Vm6State;

/// `POST /auth/v4/public/token` → 201 `{"token","id","confirmed"}`. Only the simulator's own
/// credentials log in (they are the panel administrator's); `is_admin` checks them.
pub fn token(
    state: &mut Vm6State,
    now: Timestamp,
    is_admin: impl Fn(&str, &str) -> bool,
    body: &Map<String, Value>,
) -> Reply {
    let email = req_str(body, "email")?;
    let password = req_str(body, "password")?;
    if !is_admin(email, password) {
        return Err(ApiErr::new(
            StatusCode::UNAUTHORIZED,
            CODE_LOGIN_FAILED,
            "Invalid email or password",
        )
        .with(json!({"email": email})));
    }
    let account = state.ensure_admin(email);
    let (id, token) = state.open_session(account, now);
    Ok((
        StatusCode::CREATED,
        json!({"token": token, "id": id.to_string(), "confirmed": true}),
    ))
}

/// `GET /auth/v4/whoami`.
pub fn whoami(state: &Vm6State, account: u64) -> Reply {
    match state.accounts.get(&account) {
        Some(a) => reply::ok(super::render::account_item(state, a)),
        None => Err(ApiErr::unauthorized()),
    }
}

/// `POST /vm/v3/account` `{"email","password","role"}` → `{"id"}`.
pub fn create(state: &mut Vm6State, body: &Map<String, Value>) -> Reply {
    only(body, &["email", "password", "role", "lang", "ssh_keys"])?;
    let email = req_str(body, "email")?.trim().to_owned();
    if !valid_email(&email) {
        return Err(ApiErr::field(
            "email",
            format!("'{email}' is not an e-mail address"),
        ));
    }
    req_str(body, "password")?;
    let role = match body.get("role").and_then(Value::as_str) {
        None => "@user",
        Some(role @ ("@user" | "@admin" | "@advanced_user")) => role,
        Some(other) => return Err(ApiErr::field("role", format!("Unknown role '{other}'"))),
    };
    if state
        .accounts
        .values()
        .any(|a| a.email.eq_ignore_ascii_case(&email))
    {
        return Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            CODE_EXISTS,
            format!("Account with email '{email}' already exists"),
        )
        .with(json!({"field": "email", "email": email})));
    }
    let id = state.add_account(&email, role);
    reply::ok(json!({ "id": id }))
}

fn valid_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    }
}
