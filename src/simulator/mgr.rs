//! The mgr request pipeline shared by the simulated ispmanager, VMmanager 5 and BILLmanager.
//!
//! Order of a call: parameters (query string and form body, GET or POST; the last value of a
//! repeated name wins) → counter → faults that precede the panel (latency, 503 burst, proxy
//! error) → authentication (`authinfo`, `auth=SESSION`, `func=auth`; `su=USER` for the
//! administrator) → the product's function → the "drop the response" fault → the document in
//! `out=json` or `out=xml` (XML when `out` is absent; `sjson` and other variants as JSON).
//! Panel errors are HTTP 200 documents (reference §1.9); nothing here answers a bare 500.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

use super::Sim;
use super::faults;
use super::profile::Dialect;
use super::state::{MgrAuth, MgrSession, SimState};
use crate::panel::mgr::Node;

/// Idle lifetime of a session and of a one-time key (reference §1.3: one hour).
pub const SESSION_IDLE: SignedDuration = SignedDuration::from_hours(1);

/// Administrator access level (ordinary users are 16).
pub const ADMIN_LEVEL: u32 = 30;
pub const USER_LEVEL: u32 = 16;

/// One simulated mgr product.
pub struct Product {
    /// Name for faults and counters: `ispmgr`, `vmmgr`, `billmgr`.
    pub name: &'static str,
    pub auth: fn(&mut SimState) -> &mut MgrAuth,
    /// The level of a non-admin user of this panel, if it exists (`su=`, key login).
    pub user_level: fn(&SimState, &str) -> Option<u32>,
    pub dispatch: fn(&mut Call<'_>) -> Result<Node, MgrErr>,
}

/// A request's parameters.
#[derive(Clone, Debug, Default)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    pub fn parse(query: Option<&str>, body: &[u8]) -> Self {
        let mut map = BTreeMap::new();
        for source in [query.unwrap_or("").as_bytes(), body] {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(source).unwrap_or_default();
            map.extend(pairs);
        }
        Self(map)
    }

    /// A parameter, `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A parameter as sent (possibly empty).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Every parameter whose name starts with `prefix`.
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// A panel error as the simulator sends it (reference §1.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MgrErr {
    pub kind: String,
    pub object: String,
    pub value: String,
    pub msg: String,
    pub group: String,
}

impl MgrErr {
    fn new(kind: &str, object: &str, value: &str, msg: String, group: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            object: object.to_owned(),
            value: value.to_owned(),
            msg,
            group: group.to_owned(),
        }
    }

    /// `exists`/`object`: "User with name 'client42' already exists".
    pub fn exists(object: &str, value: &str) -> Self {
        Self::new(
            "exists",
            object,
            value,
            format!("{} with name '{value}' already exists", capitalised(object)),
            "__object__ with '__value__' already exists",
        )
    }

    /// `missed`/`object`: the object is not there.
    pub fn missed(object: &str, value: &str) -> Self {
        Self::new(
            "missed",
            object,
            value,
            format!("{} '{value}' not found", capitalised(object)),
            "__object__ '__value__' not found",
        )
    }

    /// `value`/`field`: the field's value is refused.
    pub fn value(field: &str, value: &str, msg: impl Into<String>) -> Self {
        Self::new(
            "value",
            field,
            value,
            msg.into(),
            "Invalid value of the field '__object__'",
        )
    }

    /// `value`/`elid`: no such element (what ispmanager answers for `user.delete`).
    pub fn no_elid(value: &str) -> Self {
        Self::value(
            "elid",
            value,
            format!("The object '{value}' does not exist"),
        )
    }

    /// `value`/`field` for a required field left empty.
    pub fn required(field: &str) -> Self {
        Self::value(field, "", format!("The field '{field}' is required"))
    }

    pub fn auth(msg: &str) -> Self {
        Self::new("auth", "", "", msg.to_owned(), "")
    }

    pub fn access(func: &str) -> Self {
        Self::new(
            "access",
            func,
            "",
            format!("Insufficient privileges to run '{func}'"),
            "",
        )
    }

    pub fn client(object: &str, msg: impl Into<String>) -> Self {
        Self::new("client", object, "", msg.into(), "")
    }

    /// The `<doc>` with this `<error>`.
    pub fn to_doc(&self) -> Node {
        let mut error = Node::default();
        error.set_attr("type", &self.kind).set_attr("lang", "en");
        if !self.object.is_empty() {
            error.set_attr("object", &self.object);
            let mut object = Node::text(&self.object);
            object
                .set_attr("name", "object")
                .set_attr("type", "msg")
                .set_attr("msg", &self.object);
            error.push("param", object);
        }
        if !self.value.is_empty() {
            let mut value = Node::text(&self.value);
            value.set_attr("name", "value");
            error.push("param", value);
        }
        if !self.group.is_empty() {
            error.push_text("group", &self.group);
        }
        error.push_text("msg", &self.msg);
        let mut doc = Node::default();
        doc.set_attr("lang", "en");
        doc.push("error", error);
        doc
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// One authenticated call, as a product's function sees it.
pub struct Call<'a> {
    pub state: &'a mut SimState,
    pub params: &'a Params,
    pub func: &'a str,
    /// Who the function runs as (after `su`).
    pub user: String,
    pub level: u32,
    pub now: Timestamp,
    pub today: Date,
    /// How the answer is worded ([`super::profile`]).
    pub dialect: Dialect,
    /// Set by functions that change the state (it is saved afterwards).
    pub changed: bool,
}

impl Call<'_> {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    /// A required parameter.
    pub fn require(&self, name: &str) -> Result<&str, MgrErr> {
        self.params.get(name).ok_or_else(|| MgrErr::required(name))
    }

    /// Whether the form is submitted (`sok` non-empty).
    pub fn sok(&self) -> bool {
        self.params.get("sok").is_some()
    }

    /// The `elid` list: one id, or several as `a, b, c` (reference §1.4).
    pub fn elids(&self) -> Vec<String> {
        self.params
            .get("elid")
            .map(|e| {
                e.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn is_admin(&self) -> bool {
        self.level >= ADMIN_LEVEL
    }

    /// Refuses non-administrators.
    pub fn admin_only(&self) -> Result<(), MgrErr> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(MgrErr::access(self.func))
        }
    }
}

/// `<doc><ok/></doc>`.
pub fn ok() -> Node {
    let mut doc = Node::default();
    doc.push("ok", Node::default());
    doc
}

/// `<doc><ok/><id>ID</id></doc>`.
pub fn ok_with_id(id: impl ToString) -> Node {
    let mut doc = ok();
    doc.push_text("id", id.to_string());
    doc
}

/// A random hex token (session ids).
pub fn token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Out {
    Json,
    Xml,
}

/// Handles one HTTP request to an mgr endpoint.
pub async fn handle(product: &'static Product, sim: Sim, uri: Uri, body: Bytes) -> Response {
    let params = Params::parse(uri.query(), &body);
    let out = match params.get("out") {
        None | Some("xml") => Out::Xml,
        Some(_) => Out::Json,
    };
    let func = params.get("func").unwrap_or("").to_owned();
    sim.count_call(product.name, &func);
    let injected = sim.faults().on_call(product.name, &func);
    if !injected.latency.is_zero() {
        sim.faults()
            .delay(product.name, &func, injected.latency)
            .await;
    }
    if injected.unavailable {
        return faults::unavailable_response();
    }
    if injected.proxy_error {
        return faults::proxy_error_response();
    }
    let now = sim.clock().now();
    let today = sim.clock().today();
    let result = sim.transact(|state| {
        let mut changed = false;
        let result = run(
            product,
            &sim,
            state,
            &params,
            &func,
            now,
            today,
            injected.expire_session,
            &mut changed,
        );
        (result, changed)
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
    let doc = match result {
        // The call was applied; the answer says neither `ok` nor the id (reference §11).
        Ok(_) if injected.no_id => Node::default(),
        Ok(doc) => doc,
        Err(e) => e.to_doc(),
    };
    render(out, &func, doc)
}

#[allow(clippy::too_many_arguments)]
fn run(
    product: &Product,
    sim: &Sim,
    state: &mut SimState,
    params: &Params,
    func: &str,
    now: Timestamp,
    today: Date,
    expire_session: bool,
    changed: &mut bool,
) -> Result<Node, MgrErr> {
    if func == "auth" {
        *changed = true;
        return login(product, sim, state, params, now);
    }
    let (user, level) = authenticate(product, sim, state, params, now, expire_session, changed)?;
    let (user, level) = match params.get("su") {
        Some(su) if level >= ADMIN_LEVEL && su != user => match (product.user_level)(state, su) {
            Some(l) => (su.to_owned(), l),
            None => return Err(MgrErr::value("su", su, format!("No such user '{su}'"))),
        },
        _ => (user, level),
    };
    if func.is_empty() {
        return Err(MgrErr::required("func"));
    }
    let mut call = Call {
        state,
        params,
        func,
        user,
        level,
        now,
        today,
        dialect: sim.dialect(),
        changed: false,
    };
    let result = if func == "session.newkey" {
        new_key(product, &mut call)
    } else {
        (product.dispatch)(&mut call)
    };
    *changed |= call.changed;
    result
}

/// `func=auth`: with `username`+`password` (the administrator) or `username`+`key` (a
/// one-time key, single use) → a session.
fn login(
    product: &Product,
    sim: &Sim,
    state: &mut SimState,
    params: &Params,
    now: Timestamp,
) -> Result<Node, MgrErr> {
    let username = params.get("username").unwrap_or("");
    let (user, level) = if let Some(key) = params.get("key") {
        let auth = (product.auth)(state);
        let grant = auth
            .keys
            .remove(key)
            .ok_or_else(|| MgrErr::auth("Invalid or expired key"))?;
        if now.duration_since(grant.created) > SESSION_IDLE
            || (!username.is_empty() && username != grant.user)
        {
            return Err(MgrErr::auth("Invalid or expired key"));
        }
        let level = if grant.user == sim.admin_username() {
            ADMIN_LEVEL
        } else {
            (product.user_level)(state, &grant.user)
                .ok_or_else(|| MgrErr::auth("Invalid or expired key"))?
        };
        (grant.user, level)
    } else if sim.is_admin(username, params.raw("password").unwrap_or("")) {
        (username.to_owned(), ADMIN_LEVEL)
    } else {
        return Err(MgrErr::auth("Invalid username or password"));
    };
    let id = token();
    (product.auth)(state).sessions.insert(
        id.clone(),
        MgrSession {
            user: user.clone(),
            level,
            last_used: now,
        },
    );
    let mut auth = Node::text(&id);
    auth.set_attr("id", &id)
        .set_attr("level", level.to_string());
    let mut doc = Node::default();
    doc.push("auth", auth);
    Ok(doc)
}

fn authenticate(
    product: &Product,
    sim: &Sim,
    state: &mut SimState,
    params: &Params,
    now: Timestamp,
    expire_session: bool,
    changed: &mut bool,
) -> Result<(String, u32), MgrErr> {
    if let Some(authinfo) = params.get("authinfo") {
        let (user, password) = authinfo.split_once(':').unwrap_or((authinfo, ""));
        return if sim.is_admin(user, password) {
            Ok((user.to_owned(), ADMIN_LEVEL))
        } else {
            Err(MgrErr::auth("Invalid username or password"))
        };
    }
    if let Some(id) = params.get("auth") {
        let sessions = &mut (product.auth)(state).sessions;
        *changed = true;
        let live = sessions
            .get(id)
            .is_some_and(|s| now.duration_since(s.last_used) <= SESSION_IDLE);
        if !live || expire_session {
            sessions.remove(id);
            return Err(MgrErr::auth("Session expired; log in again"));
        }
        let session = sessions.get_mut(id).expect("checked above");
        session.last_used = now;
        return Ok((session.user.clone(), session.level));
    }
    Err(MgrErr::auth("Authorization required"))
}

/// `func=session.newkey&username=U&key=K` (administrator only): a one-time login key.
fn new_key(product: &Product, call: &mut Call<'_>) -> Result<Node, MgrErr> {
    call.admin_only()?;
    let username = call.require("username")?.to_owned();
    let key = call.require("key")?.to_owned();
    if key.chars().count() < 16 {
        return Err(MgrErr::value(
            "key",
            "",
            "The key must be at least 16 characters long",
        ));
    }
    let admin = username == call.user;
    if !admin && (product.user_level)(call.state, &username).is_none() {
        return Err(MgrErr::missed("user", &username));
    }
    let auth = (product.auth)(call.state);
    auth.keys
        .retain(|_, k| call.now.duration_since(k.created) <= SESSION_IDLE);
    auth.keys.insert(
        key,
        super::state::LoginKey {
            user: username,
            created: call.now,
        },
    );
    call.changed = true;
    Ok(ok())
}

fn render(out: Out, func: &str, mut doc: Node) -> Response {
    doc.set_attr("lang", "en");
    if !func.is_empty() {
        doc.set_attr("func", func);
    }
    match out {
        Out::Json => {
            let mut response = doc.to_json().to_string().into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=UTF-8"),
            );
            response
        }
        Out::Xml => {
            let mut response = doc.to_xml().into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/xml; charset=UTF-8"),
            );
            response
        }
    }
}

/// Any path no product answers: a 404 with an mgr error document.
pub async fn unknown_path(uri: Uri) -> Response {
    let err = MgrErr::missed("path", uri.path());
    let mut response = render(Out::Json, "", err.to_doc());
    *response.status_mut() = axum::http::StatusCode::NOT_FOUND;
    response
}

/// Declares the axum routes of an mgr product at `paths`.
pub fn routes(product: &'static Product, paths: &[&str]) -> axum::Router<Sim> {
    use axum::extract::State;
    use axum::routing::any;
    let mut router = axum::Router::new();
    for path in paths {
        router = router.route(
            path,
            any(move |State(sim): State<Sim>, uri: Uri, body: Bytes| {
                handle(product, sim, uri, body)
            }),
        );
    }
    router
}
