//! Answers of the simulated VMmanager 6: success bodies and the panel's error shape
//! `{"error":{"code","msg","value"}}` (reference §4.3).
//!
//! The reference documents the shape and code 3001 only; the other codes are the simulator's
//! own, one per kind of failure, so that tests can tell them apart. Clients must decide by HTTP
//! status (and `msg`), as the public clients do, never by these numbers.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// Missing, unknown or expired token (also the code one public client re-logs in on).
pub const CODE_UNAUTHORIZED: i64 = 1000;
/// Wrong e-mail or password at login.
pub const CODE_LOGIN_FAILED: i64 = 1001;
/// The body is not JSON (or not an object).
pub const CODE_BAD_JSON: i64 = 2000;
/// A field is missing or has a wrong value.
pub const CODE_BAD_FIELD: i64 = 2001;
/// A property the function does not know (`Unexpected property`).
pub const CODE_UNEXPECTED_PROPERTY: i64 = 2002;
/// The `where` filter does not parse.
pub const CODE_BAD_FILTER: i64 = 2003;
/// No such object or path.
pub const CODE_NOT_FOUND: i64 = 4004;
/// An object with this key exists already.
pub const CODE_EXISTS: i64 = 4009;
/// The host has a task in progress.
pub const CODE_BUSY: i64 = 4010;
/// The IP pools have no free address.
pub const CODE_NO_ADDRESSES: i64 = 4011;
/// Method not allowed on this path.
pub const CODE_METHOD: i64 = 4005;
/// A server error that is not about the request (a fault of the simulator's table).
pub const CODE_INTERNAL: i64 = 5000;

/// A handler's answer: status and JSON body, or an error.
pub type Reply = Result<(StatusCode, Value), ApiErr>;

/// A failing answer.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiErr {
    /// HTTP status.
    pub status: StatusCode,
    /// `error.code`.
    pub code: i64,
    /// `error.msg`.
    pub msg: String,
    /// `error.value`.
    pub value: Value,
}

impl ApiErr {
    /// An error with an empty `value`.
    pub fn new(status: StatusCode, code: i64, msg: impl Into<String>) -> Self {
        ApiErr {
            status,
            code,
            msg: msg.into(),
            value: json!({}),
        }
    }

    /// Adds details.
    pub fn with(mut self, value: Value) -> Self {
        self.value = value;
        self
    }

    /// The body.
    pub fn body(&self) -> Value {
        json!({"error": {"code": self.code, "msg": self.msg, "value": self.value}})
    }

    /// 401 for a request without a valid token.
    pub fn unauthorized() -> Self {
        ApiErr::new(
            StatusCode::UNAUTHORIZED,
            CODE_UNAUTHORIZED,
            "Unauthorized: the token is missing, unknown or expired",
        )
    }

    /// 404 for an unknown object.
    pub fn not_found(kind: &str, id: impl std::fmt::Display) -> Self {
        ApiErr::new(
            StatusCode::NOT_FOUND,
            CODE_NOT_FOUND,
            format!("{kind} {id} not found"),
        )
        .with(json!({"id": id.to_string()}))
    }

    /// 400 for a bad field.
    pub fn field(field: &str, msg: impl Into<String>) -> Self {
        ApiErr::new(StatusCode::BAD_REQUEST, CODE_BAD_FIELD, msg).with(json!({"field": field}))
    }
}

/// 200 with a body.
pub fn ok(body: Value) -> Reply {
    Ok((StatusCode::OK, body))
}

/// `{"list":[…],"last_notify":n}`.
pub fn list(items: Vec<Value>, last_notify: u64) -> Reply {
    ok(json!({"list": items, "last_notify": last_notify}))
}

/// Reads the request body as a JSON object; an empty body is `{}` (clients send `{}` or
/// nothing for start/stop).
pub fn body_object(raw: &[u8]) -> Result<serde_json::Map<String, Value>, ApiErr> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(raw) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            CODE_BAD_JSON,
            "The request body must be a JSON object",
        )),
        Err(e) => Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            CODE_BAD_JSON,
            format!("The request body is not valid JSON: {e}"),
        )),
    }
}

/// Rejects properties outside `allowed`, as the panel does (`Unexpected property`).
pub fn only(body: &serde_json::Map<String, Value>, allowed: &[&str]) -> Result<(), ApiErr> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            CODE_UNEXPECTED_PROPERTY,
            format!("Unexpected property '{key}'"),
        )
        .with(json!({"property": key}))),
        None => Ok(()),
    }
}

/// An unsigned integer field (numbers or digit strings); `None` when absent or null.
pub fn opt_u64(body: &serde_json::Map<String, Value>, field: &str) -> Result<Option<u64>, ApiErr> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(Value::String(s)) if s.parse::<u64>().is_ok() => Ok(s.parse().ok()),
        Some(_) => Err(ApiErr::field(
            field,
            format!("'{field}' must be a non-negative integer"),
        )),
    }
}

/// A required unsigned integer field.
pub fn req_u64(body: &serde_json::Map<String, Value>, field: &str) -> Result<u64, ApiErr> {
    opt_u64(body, field)?.ok_or_else(|| ApiErr::field(field, format!("'{field}' is required")))
}

/// A string field; `None` when absent or null.
pub fn opt_str<'a>(
    body: &'a serde_json::Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, ApiErr> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiErr::field(field, format!("'{field}' must be a string"))),
    }
}

/// A required, non-empty string field.
pub fn req_str<'a>(
    body: &'a serde_json::Map<String, Value>,
    field: &str,
) -> Result<&'a str, ApiErr> {
    match opt_str(body, field)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(ApiErr::field(field, format!("'{field}' is required"))),
    }
}

/// A list of ids (`ipv4_pool`).
pub fn id_list(body: &serde_json::Map<String, Value>, field: &str) -> Result<Vec<u64>, ApiErr> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            })
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| ApiErr::field(field, format!("'{field}' must be a list of ids"))),
        Some(_) => Err(ApiErr::field(
            field,
            format!("'{field}' must be a list of ids"),
        )),
    }
}
