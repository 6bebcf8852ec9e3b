//! Simulated ispmanager at `/ispmgr` (reference §2 and checklist §7.7).
//!
//! Users keyed by name with `limit_*` stored as strings; `active` toggled by suspend/resume;
//! three ways to create a user (`user.add.finish`, `user.add`, `user.edit` without `elid`);
//! web domains under both names (`webdomain.*` and ispmanager 6's `site.*`); DNS zones; one-time
//! login keys. Error pairs as observed (§1.8): invalid login → `value`/`name`, weak password →
//! `value`/`passwd`, existing user → `exists`/`user`, `user.delete` of an unknown user →
//! `value`/`elid`, suspend/resume of an unknown user → `missed`/`users`. Ordinary users (level
//! 16, logged in with a key or reached with `su=`) get `access` for administrator functions.

use std::collections::BTreeMap;

use super::Sim;
use super::mgr::{self, Call, MgrErr, Product, USER_LEVEL, ok};
use super::state::{DnsDomain, IspUser, SimState, WebDomain};
use crate::panel::mgr::Node;

pub static PRODUCT: Product = Product {
    name: "ispmgr",
    auth: |s| &mut s.ispmgr.auth,
    user_level: |s, name| s.ispmgr.users.get(name).map(|u| u.level),
    dispatch,
};

pub fn routes() -> axum::Router<Sim> {
    mgr::routes(&PRODUCT, &["/ispmgr", "/manager/ispmgr"])
}

fn dispatch(call: &mut Call<'_>) -> Result<Node, MgrErr> {
    match call.func {
        "whoami" => Ok(whoami(call)),
        "user" => {
            call.admin_only()?;
            let dialect = call.dialect;
            Ok(list(
                call.state
                    .ispmgr
                    .users
                    .values()
                    .map(|u| user_node(u, dialect.isp_lists_inactive)),
            ))
        }
        "user.add" | "user.add.finish" => {
            call.admin_only()?;
            if call.sok() {
                create_user(call)
            } else {
                Ok(user_form(None, call))
            }
        }
        "user.edit" => {
            call.admin_only()?;
            match (call.param("elid").map(str::to_owned), call.sok()) {
                (None, true) => create_user(call),
                (None, false) => Ok(user_form(None, call)),
                (Some(name), false) => match call.state.ispmgr.users.get(&name) {
                    Some(user) => Ok(user_form(Some(user), call)),
                    None if call.dialect.isp_unknown_user_is_error => Err(MgrErr::no_elid(&name)),
                    // What production clients found (reference §11): the empty form of a new
                    // user, no error. Existence has to come from the `user` list.
                    None => Ok(user_form(None, call)),
                },
                (Some(name), true) => edit_user(call, &name),
            }
        }
        "user.delete" => {
            call.admin_only()?;
            delete_users(call)
        }
        "user.suspend" | "user.resume" => {
            call.admin_only()?;
            let active = call.func == "user.resume";
            let names = call.elids();
            if names.is_empty() {
                return Err(MgrErr::required("elid"));
            }
            if let Some(missing) = names
                .iter()
                .find(|n| !call.state.ispmgr.users.contains_key(*n))
            {
                return Err(MgrErr::missed("users", missing));
            }
            for name in names {
                call.state
                    .ispmgr
                    .users
                    .get_mut(&name)
                    .expect("checked")
                    .active = active;
            }
            call.changed = true;
            Ok(ok())
        }
        "usrparam" => usrparam(call),
        "preset" => {
            call.admin_only()?;
            Ok(list(call.state.ispmgr.presets.iter().map(
                |(name, limits)| {
                    let mut e = Node::default();
                    e.push_text("name", name);
                    for (k, v) in limits {
                        e.push_text(k, v);
                    }
                    e
                },
            )))
        }
        "preset.edit" => {
            call.admin_only()?;
            preset_edit(call)
        }
        "webdomain" | "site" => Ok(list(
            call.state
                .ispmgr
                .webdomains
                .values()
                .filter(|d| call.is_admin() || d.owner == call.user)
                .map(|d| {
                    let mut e = Node::default();
                    e.push_text("name", &d.name)
                        .push_text("owner", &d.owner)
                        .push_text(
                            "docroot",
                            format!("/var/www/{}/data/www/{}", d.owner, d.name),
                        )
                        .push_text("active", on_off(d.active));
                    e
                }),
        )),
        "webdomain.edit" | "site.edit" => webdomain_edit(call),
        "webdomain.delete" | "site.delete" => delete_webdomains(call),
        "domain" => Ok(list(
            call.state
                .ispmgr
                .dns
                .values()
                .filter(|d| call.is_admin() || d.owner == call.user)
                .map(|d| {
                    let mut e = Node::default();
                    e.push_text("name", &d.name)
                        .push_text("owner", &d.owner)
                        .push_text("ip", &d.ip);
                    e
                }),
        )),
        "domain.edit" => dns_edit(call),
        "domain.delete" => delete_owned(call, |state| &mut state.ispmgr.dns, |d| &d.owner),
        other => Err(MgrErr::missed("func", other)),
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn list(elems: impl Iterator<Item = Node>) -> Node {
    let mut doc = Node::default();
    for e in elems {
        doc.push("elem", e);
    }
    doc
}

fn whoami(call: &Call<'_>) -> Node {
    let mut user = Node::default();
    user.set_attr("name", &call.user)
        .set_attr("level", call.level.to_string());
    let mut doc = Node::default();
    doc.push("user", user);
    doc
}

/// A user's fields; `active` is `on`, or `off` only when `with_inactive` (some builds leave
/// the field out for a suspended user, reference §11).
fn user_fields(e: &mut Node, u: &IspUser, with_inactive: bool) {
    e.push_text("name", &u.name)
        .push_text("fullname", &u.fullname);
    if u.active || with_inactive {
        e.push_text("active", on_off(u.active));
    }
    e.push_text("level", u.level.to_string())
        .push_text("preset", &u.preset)
        .push_text(
            "quota_total",
            u.limits.get("limit_quota").cloned().unwrap_or_default(),
        )
        .push_text("quota_used", "0");
    for (k, v) in &u.limits {
        e.push_text(k, v);
    }
}

fn user_node(u: &IspUser, with_inactive: bool) -> Node {
    let mut e = Node::default();
    user_fields(&mut e, u, with_inactive);
    e
}

/// The form without `sok`: current values, or defaults for a new user.
fn user_form(user: Option<&IspUser>, call: &Call<'_>) -> Node {
    let mut doc = Node::default();
    match user {
        Some(u) => {
            doc.push_text("elid", &u.name);
            user_fields(&mut doc, u, true);
        }
        None => {
            let preset = call
                .state
                .ispmgr
                .presets
                .keys()
                .next()
                .cloned()
                .unwrap_or_default();
            doc.push_text("name", "").push_text("preset", &preset);
            for (k, v) in call.state.ispmgr.presets.get(&preset).into_iter().flatten() {
                doc.push_text(k, v);
            }
        }
    }
    doc
}

/// Username rule of the simulator: lowercase letter first, then lowercase letters, digits,
/// `_` or `-`, at most 16 characters (reference §2.1 notes a client enforcing this).
fn valid_username(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 16
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn check_password(call: &Call<'_>) -> Result<(), MgrErr> {
    let password = call.params.raw("passwd").unwrap_or("");
    if password.chars().count() < 6 {
        // Never echo the password back: not in the message, not as the value.
        return Err(MgrErr::value(
            "passwd",
            "",
            "The password is too weak: use at least 6 characters",
        ));
    }
    if let Some(confirm) = call.params.raw("confirm")
        && confirm != password
    {
        return Err(MgrErr::value("confirm", "", "The passwords do not match"));
    }
    Ok(())
}

fn limits_from(call: &Call<'_>) -> BTreeMap<String, String> {
    call.params
        .with_prefix("limit_")
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn create_user(call: &mut Call<'_>) -> Result<Node, MgrErr> {
    let name = call.params.raw("name").unwrap_or("").to_owned();
    if !valid_username(&name) {
        return Err(MgrErr::value(
            "name",
            &name,
            format!("Invalid user name '{name}'"),
        ));
    }
    check_password(call)?;
    if call.state.ispmgr.users.contains_key(&name) {
        return Err(MgrErr::exists("user", &name));
    }
    let preset = call.param("preset").unwrap_or("").to_owned();
    let mut limits = if preset.is_empty() {
        BTreeMap::new()
    } else {
        call.state
            .ispmgr
            .presets
            .get(&preset)
            .cloned()
            .ok_or_else(|| MgrErr::value("preset", &preset, format!("No template '{preset}'")))?
    };
    limits.extend(limits_from(call));
    if call.dialect.isp_template_binds_limits {
        bind_to_template(&call.state.ispmgr.presets, &preset, &mut limits);
    }
    let webdomain = call
        .param("webdomain_name")
        .or(call.param("domain"))
        .filter(|_| call.param("webdomain") != Some("off"))
        .map(str::to_owned);
    if let Some(domain) = &webdomain {
        if !valid_domain(domain) {
            return Err(MgrErr::value(
                "webdomain_name",
                domain,
                format!("Invalid domain name '{domain}'"),
            ));
        }
        if call.state.ispmgr.webdomains.contains_key(domain) {
            return Err(MgrErr::exists("webdomain", domain));
        }
    }
    let user = IspUser {
        name: name.clone(),
        fullname: call.param("fullname").unwrap_or("").to_owned(),
        active: true,
        level: USER_LEVEL,
        preset,
        limits,
        password_changes: 1,
    };
    call.state.ispmgr.users.insert(name.clone(), user);
    if let Some(domain) = webdomain {
        call.state.ispmgr.webdomains.insert(
            domain.clone(),
            WebDomain {
                name: domain.clone(),
                owner: name.clone(),
                email: format!("webmaster@{domain}"),
                active: true,
            },
        );
    }
    call.changed = true;
    let mut doc = ok();
    doc.push_text("id", &name);
    Ok(doc)
}

fn edit_user(call: &mut Call<'_>, name: &str) -> Result<Node, MgrErr> {
    if !call.state.ispmgr.users.contains_key(name) {
        return Err(MgrErr::no_elid(name));
    }
    if call.params.raw("passwd").is_some() {
        check_password(call)?;
    }
    let preset_limits = match call.param("preset") {
        Some(p) => Some((
            p.to_owned(),
            call.state
                .ispmgr
                .presets
                .get(p)
                .cloned()
                .ok_or_else(|| MgrErr::value("preset", p, format!("No template '{p}'")))?,
        )),
        None => None,
    };
    let explicit = limits_from(call);
    let new_password = call.params.raw("passwd").is_some();
    let fullname = call.param("fullname").map(str::to_owned);
    let user = call.state.ispmgr.users.get_mut(name).expect("checked");
    if let Some((preset, limits)) = preset_limits {
        user.preset = preset;
        user.limits.extend(limits);
    }
    // Omitted limits stay as they are (reference §2.1).
    user.limits.extend(explicit);
    if call.dialect.isp_template_binds_limits {
        bind_to_template(&call.state.ispmgr.presets, &user.preset, &mut user.limits);
    }
    if let Some(fullname) = fullname {
        user.fullname = fullname;
    }
    if new_password {
        user.password_changes += 1;
    }
    call.changed = true;
    Ok(ok())
}

/// A user bound to its template ([`super::Dialect::isp_template_binds_limits`]): the
/// template's value wins for every limit the template sets.
fn bind_to_template(
    presets: &BTreeMap<String, BTreeMap<String, String>>,
    preset: &str,
    limits: &mut BTreeMap<String, String>,
) {
    if let Some(template) = presets.get(preset) {
        limits.extend(template.clone());
    }
}

fn delete_users(call: &mut Call<'_>) -> Result<Node, MgrErr> {
    let names = call.elids();
    if names.is_empty() {
        return Err(MgrErr::required("elid"));
    }
    if let Some(missing) = names
        .iter()
        .find(|n| !call.state.ispmgr.users.contains_key(*n))
    {
        return Err(MgrErr::no_elid(missing));
    }
    let isp = &mut call.state.ispmgr;
    for name in &names {
        isp.users.remove(name);
        isp.webdomains.retain(|_, d| &d.owner != name);
        isp.dns.retain(|_, d| &d.owner != name);
        isp.auth.sessions.retain(|_, s| &s.user != name);
        isp.auth.keys.retain(|_, k| &k.user != name);
    }
    call.changed = true;
    Ok(ok())
}

/// `usrparam` as the user itself (`su=NAME` or a user session): the own settings, and the
/// password with `sok`.
fn usrparam(call: &mut Call<'_>) -> Result<Node, MgrErr> {
    let name = call.user.clone();
    if !call.sok() {
        let mut doc = Node::default();
        doc.push_text("name", &name);
        return Ok(doc);
    }
    if call.params.raw("passwd").is_some() {
        check_password(call)?;
        if let Some(user) = call.state.ispmgr.users.get_mut(&name) {
            user.password_changes += 1;
            call.changed = true;
        }
    }
    Ok(ok())
}

fn preset_edit(call: &mut Call<'_>) -> Result<Node, MgrErr> {
    let elid = call.param("elid").map(str::to_owned);
    if !call.sok() {
        let Some(name) = elid else {
            return Ok(Node::default());
        };
        let limits = call
            .state
            .ispmgr
            .presets
            .get(&name)
            .ok_or_else(|| MgrErr::no_elid(&name))?;
        let mut doc = Node::default();
        doc.push_text("elid", &name).push_text("name", &name);
        for (k, v) in limits {
            doc.push_text(k, v);
        }
        return Ok(doc);
    }
    let limits = limits_from(call);
    match elid {
        Some(name) => {
            let preset = call
                .state
                .ispmgr
                .presets
                .get_mut(&name)
                .ok_or_else(|| MgrErr::no_elid(&name))?;
            preset.extend(limits);
        }
        None => {
            let name = call.require("name")?.to_owned();
            if call.state.ispmgr.presets.contains_key(&name) {
                return Err(MgrErr::exists("preset", &name));
            }
            call.state.ispmgr.presets.insert(name, limits);
        }
    }
    call.changed = true;
    Ok(ok())
}

fn valid_domain(name: &str) -> bool {
    name.len() <= 253
        && name.contains('.')
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// `webdomain.edit` (or `site.edit` with `site_name`): view with `elid`, create without.
fn webdomain_edit(call: &mut Call<'_>) -> Result<Node, MgrErr> {
    if let Some(elid) = call.param("elid").map(str::to_owned) {
        let domain = call
            .state
            .ispmgr
            .webdomains
            .get(&elid)
            .ok_or_else(|| MgrErr::no_elid(&elid))?;
        if !call.is_admin() && domain.owner != call.user {
            return Err(MgrErr::no_elid(&elid));
        }
        let mut doc = Node::default();
        doc.push_text("elid", &domain.name)
            .push_text("name", &domain.name)
            .push_text("owner", &domain.owner)
            .push_text("email", &domain.email);
        return Ok(doc);
    }
    if !call.sok() {
        return Ok(Node::default());
    }
    let name = call
        .param("name")
        .or(call.param("site_name"))
        .ok_or_else(|| MgrErr::required("name"))?
        .to_lowercase();
    if !valid_domain(&name) {
        return Err(MgrErr::value(
            "name",
            &name,
            format!("Invalid domain name '{name}'"),
        ));
    }
    let owner = owner_param(call)?;
    if call.state.ispmgr.webdomains.contains_key(&name) {
        return Err(MgrErr::exists("webdomain", &name));
    }
    let email = call
        .param("email")
        .map(str::to_owned)
        .unwrap_or_else(|| format!("webmaster@{name}"));
    call.state.ispmgr.webdomains.insert(
        name.clone(),
        WebDomain {
            name,
            owner,
            email,
            active: true,
        },
    );
    call.changed = true;
    Ok(ok())
}

fn delete_webdomains(call: &mut Call<'_>) -> Result<Node, MgrErr> {
    delete_owned(call, |state| &mut state.ispmgr.webdomains, |d| &d.owner)
}

/// Deletes every `elid` of a table of owned records, all or none: an unknown name, or one that
/// belongs to someone else when the caller is not the administrator, is "no such elid".
fn delete_owned<T>(
    call: &mut Call<'_>,
    table: impl Fn(&mut SimState) -> &mut BTreeMap<String, T>,
    owner: impl Fn(&T) -> &String,
) -> Result<Node, MgrErr> {
    let names = call.elids();
    if names.is_empty() {
        return Err(MgrErr::required("elid"));
    }
    let admin = call.is_admin();
    let user = call.user.clone();
    let records = table(call.state);
    for name in &names {
        match records.get(name) {
            Some(d) if admin || *owner(d) == user => {}
            _ => return Err(MgrErr::no_elid(name)),
        }
    }
    for name in names {
        records.remove(&name);
    }
    call.changed = true;
    Ok(ok())
}

/// The owner of a new domain: `owner` when the administrator names one (it must exist),
/// otherwise whoever calls.
fn owner_param(call: &Call<'_>) -> Result<String, MgrErr> {
    let owner = if call.is_admin() {
        call.param("owner").unwrap_or(&call.user).to_owned()
    } else {
        call.user.clone()
    };
    if owner != call.user && !call.state.ispmgr.users.contains_key(&owner) {
        return Err(MgrErr::value("owner", &owner, format!("No user '{owner}'")));
    }
    Ok(owner)
}

/// `domain.edit`: view a zone with `elid`, create one without (`name`, `ip`, `ns`).
fn dns_edit(call: &mut Call<'_>) -> Result<Node, MgrErr> {
    if let Some(elid) = call.param("elid").map(str::to_owned) {
        let zone = call
            .state
            .ispmgr
            .dns
            .get(&elid)
            .ok_or_else(|| MgrErr::no_elid(&elid))?;
        let mut doc = Node::default();
        doc.push_text("elid", &zone.name)
            .push_text("name", &zone.name)
            .push_text("owner", &zone.owner)
            .push_text("ip", &zone.ip)
            .push_text("ns", &zone.ns);
        return Ok(doc);
    }
    if !call.sok() {
        return Ok(Node::default());
    }
    let name = call.require("name")?.trim_end_matches('.').to_lowercase();
    if !valid_domain(&name) {
        return Err(MgrErr::value(
            "name",
            &name,
            format!("Invalid domain name '{name}'"),
        ));
    }
    let ip = call.require("ip")?.to_owned();
    if ip.parse::<std::net::IpAddr>().is_err() {
        return Err(MgrErr::value(
            "ip",
            &ip,
            format!("Invalid IP address '{ip}'"),
        ));
    }
    let owner = owner_param(call)?;
    if call.state.ispmgr.dns.contains_key(&name) {
        return Err(MgrErr::exists("domain", &name));
    }
    let ns = call.param("ns").unwrap_or("").to_owned();
    call.state.ispmgr.dns.insert(
        name.clone(),
        DnsDomain {
            name,
            owner,
            ip,
            ns,
        },
    );
    call.changed = true;
    Ok(ok())
}
