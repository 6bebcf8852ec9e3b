//! ispmanager (5 and 6): typed operations of a hosting reseller (reference §2).
//!
//! Users are keyed by username. Limits travel as `limit_*` strings exactly as the panel stores
//! them; the controller converts units. Creates are non-idempotent: after
//! [`PanelError::OutcomeUnknown`] look the user up with [`IspManager::user`] before retrying.
//!
//! What production clients taught (reference §11): whether a user exists comes from the
//! `user` list only (`user.edit&elid=` of an unknown name may answer an empty form without an
//! error); `active` other than `on`, or missing, is suspended; a mutation answered with neither
//! `ok` nor an id nor an error is not success ([`MgrClient::mutate`]).

use std::collections::BTreeMap;

use rand::RngExt;
use secrecy::{ExposeSecret, SecretString};

use super::error::{Idempotency::*, PanelError};
use super::mgr::{MgrClient, Node};

/// An ispmanager connection.
#[derive(Clone, Debug)]
pub struct IspManager {
    mgr: MgrClient,
}

/// One row of `func=user` (or the form of `user.edit`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub fullname: String,
    /// `active=on`. Anything else, a missing field included, is suspended: some builds list
    /// a suspended user without the field (reference §11).
    pub active: bool,
    /// 16 = ordinary user.
    pub level: Option<u32>,
    pub preset: String,
    /// Every `limit_*` field, name as sent by the panel.
    pub limits: BTreeMap<String, String>,
}

/// What to create (`user.add.finish`, the official module's call).
#[derive(Clone, Debug)]
pub struct NewUser {
    pub name: String,
    pub password: SecretString,
    pub fullname: String,
    pub preset: Option<String>,
    pub limits: BTreeMap<String, String>,
    /// Create a web and mail domain with the user.
    pub domain: Option<String>,
}

/// A change of plan: a preset and/or limits (omitted limits stay as they are).
#[derive(Clone, Debug, Default)]
pub struct UserChange {
    pub preset: Option<String>,
    pub limits: BTreeMap<String, String>,
}

/// An account template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preset {
    pub name: String,
    pub limits: BTreeMap<String, String>,
}

/// A web domain (site) or a DNS zone, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    pub owner: String,
}

/// The account the client is logged in as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhoAmI {
    pub name: String,
    pub level: Option<u32>,
}

impl IspManager {
    pub fn new(mgr: MgrClient) -> Self {
        Self { mgr }
    }

    pub fn mgr(&self) -> &MgrClient {
        &self.mgr
    }

    /// `func=whoami`: the connection test.
    pub async fn whoami(&self) -> Result<WhoAmI, PanelError> {
        let doc = self.mgr.call("whoami", &[], Idempotent).await?;
        let user = doc.child("user").ok_or_else(|| PanelError::Protocol {
            message: "whoami answered without <user>".to_owned(),
        })?;
        Ok(WhoAmI {
            name: user.value("name").unwrap_or(&user.text).to_owned(),
            level: user.value("level").and_then(|l| l.parse().ok()),
        })
    }

    /// All users, in one call (drift checks list rather than read one by one).
    pub async fn users(&self) -> Result<Vec<User>, PanelError> {
        let doc = self.mgr.call("user", &[], Idempotent).await?;
        Ok(doc.elems().map(user_of).collect())
    }

    /// One user by name, from the `user` list; `None` when the list does not hold it.
    ///
    /// Why the list and not `user.edit&elid=NAME`: for an unknown name that form can come back
    /// without an error (production clients had to add a check for it, reference §11), so an
    /// answer without an error proves nothing. The official module looks in the list too.
    /// Callers that need many names list once with [`IspManager::users`].
    pub async fn user(&self, name: &str) -> Result<Option<User>, PanelError> {
        Ok(self.users().await?.into_iter().find(|u| u.name == name))
    }

    /// Creates a user. Non-idempotent: `Exists` or `OutcomeUnknown` (a lost, failed or
    /// unconfirmed answer) means look it up before trying again.
    pub async fn create_user(&self, user: &NewUser) -> Result<(), PanelError> {
        let password = user.password.expose_secret();
        let mut params: Vec<(&str, &str)> = vec![
            ("sok", "ok"),
            ("name", &user.name),
            ("passwd", password),
            ("confirm", password),
            ("fullname", &user.fullname),
            ("ipsrc", "do_not_assign"),
        ];
        if let Some(preset) = &user.preset {
            params.push(("preset", preset));
        }
        match &user.domain {
            Some(domain) => {
                params.push(("webdomain_name", domain));
                params.push(("emaildomain_name", domain));
            }
            None => {
                params.push(("webdomain", "off"));
                params.push(("emaildomain", "off"));
            }
        }
        params.extend(user.limits.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.mgr
            .mutate("user.add.finish", &params, NonIdempotent)
            .await
            .map(drop)
    }

    /// Applies a preset and/or limits to an existing user.
    pub async fn edit_user(&self, name: &str, change: &UserChange) -> Result<(), PanelError> {
        let mut params: Vec<(&str, &str)> = vec![("sok", "ok"), ("elid", name)];
        if let Some(preset) = &change.preset {
            params.push(("preset", preset));
        }
        params.extend(change.limits.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.mgr
            .mutate("user.edit", &params, Idempotent)
            .await
            .map(drop)
    }

    pub async fn suspend_user(&self, name: &str) -> Result<(), PanelError> {
        self.action("user.suspend", name).await
    }

    pub async fn resume_user(&self, name: &str) -> Result<(), PanelError> {
        self.action("user.resume", name).await
    }

    /// Deletes a user. The panel answers `value`/`elid` for an unknown one: the caller maps
    /// that to "already gone".
    pub async fn delete_user(&self, name: &str) -> Result<(), PanelError> {
        self.action("user.delete", name).await
    }

    pub async fn set_password(
        &self,
        name: &str,
        password: &SecretString,
    ) -> Result<(), PanelError> {
        let p = password.expose_secret();
        self.mgr
            .mutate(
                "user.edit",
                &[("sok", "ok"), ("elid", name), ("passwd", p), ("confirm", p)],
                Idempotent,
            )
            .await
            .map(drop)
    }

    /// Account template names.
    pub async fn presets(&self) -> Result<Vec<String>, PanelError> {
        let doc = self.mgr.call("preset", &[], Idempotent).await?;
        Ok(doc.elems().map(|e| e.get("name").to_owned()).collect())
    }

    /// One template with its limits; `None` when unknown.
    pub async fn preset(&self, name: &str) -> Result<Option<Preset>, PanelError> {
        match self
            .mgr
            .call("preset.edit", &[("elid", name)], Idempotent)
            .await
        {
            Ok(doc) => Ok(Some(Preset {
                name: name.to_owned(),
                limits: limits_of(&doc),
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn webdomains(&self) -> Result<Vec<Domain>, PanelError> {
        let doc = self.mgr.call("webdomain", &[], Idempotent).await?;
        Ok(domains_of(&doc))
    }

    /// Creates a site owned by `owner` (`webdomain.edit`). Non-idempotent.
    pub async fn create_webdomain(
        &self,
        owner: &str,
        name: &str,
        email: &str,
    ) -> Result<(), PanelError> {
        self.mgr
            .mutate(
                "webdomain.edit",
                &[
                    ("sok", "ok"),
                    ("name", name),
                    ("owner", owner),
                    ("email", email),
                ],
                NonIdempotent,
            )
            .await
            .map(drop)
    }

    pub async fn delete_webdomain(&self, name: &str) -> Result<(), PanelError> {
        self.action("webdomain.delete", name).await
    }

    pub async fn dns_domains(&self) -> Result<Vec<Domain>, PanelError> {
        let doc = self.mgr.call("domain", &[], Idempotent).await?;
        Ok(domains_of(&doc))
    }

    /// Creates a DNS zone pointing at `ip`, on the given name servers (`ns1.x.net.` form),
    /// owned by `owner` (the caller when empty).
    pub async fn create_dns_domain(
        &self,
        owner: &str,
        name: &str,
        ip: &str,
        name_servers: &[String],
    ) -> Result<(), PanelError> {
        let ns = name_servers.join(" ");
        let mut params = vec![
            ("sok", "ok"),
            ("name", name),
            ("ip", ip),
            ("ns", ns.as_str()),
        ];
        // An empty owner leaves the zone with the caller (the administrator).
        if !owner.is_empty() {
            params.push(("owner", owner));
        }
        self.mgr
            .mutate("domain.edit", &params, NonIdempotent)
            .await
            .map(drop)
    }

    pub async fn delete_dns_domain(&self, name: &str) -> Result<(), PanelError> {
        self.action("domain.delete", name).await
    }

    /// A one-time login link into the panel as `username` (`session.newkey`, then the URL).
    pub async fn login_url(&self, username: &str) -> Result<SecretString, PanelError> {
        let key = random_key();
        self.mgr
            .call(
                "session.newkey",
                &[("username", username), ("key", key.expose_secret())],
                Idempotent,
            )
            .await?;
        Ok(self.mgr.key_login_url(username, key.expose_secret()))
    }

    async fn action(&self, func: &str, elid: &str) -> Result<(), PanelError> {
        self.mgr
            .mutate(func, &[("elid", elid), ("sok", "ok")], Idempotent)
            .await
            .map(drop)
    }
}

/// 32 random hex characters (the panel wants at least 16).
pub(crate) fn random_key() -> SecretString {
    let mut rng = rand::rng();
    let key: String = (0..32)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).expect("hex digit"))
        .collect();
    SecretString::from(key)
}

/// "No such object" as ispmanager says it: `value`/`elid` or `missed`.
pub fn is_not_found(e: &PanelError) -> bool {
    matches!(e, PanelError::Missed { .. })
        || matches!(e, PanelError::Value { object, .. } if object == "elid")
}

fn limits_of(node: &Node) -> BTreeMap<String, String> {
    node.children
        .iter()
        .filter(|(name, _)| name.starts_with("limit_"))
        .map(|(name, value)| (name.clone(), value.text.clone()))
        .collect()
}

fn user_of(node: &Node) -> User {
    User {
        name: node.get("name").to_owned(),
        fullname: node.get("fullname").to_owned(),
        active: node.value("active") == Some("on"),
        level: node.value("level").and_then(|l| l.parse().ok()),
        preset: node.get("preset").to_owned(),
        limits: limits_of(node),
    }
}

fn domains_of(doc: &Node) -> Vec<Domain> {
    doc.elems()
        .map(|e| Domain {
            name: e.get("name").to_owned(),
            owner: e.get("owner").to_owned(),
        })
        .collect()
}
