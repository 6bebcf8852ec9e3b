//! The connection Secret of a service (`spec.writeConnectionSecretToRef`): how the customer
//! logs in. Shared hosting: `username`, `password`, `panelUrl`, `loginUrl` (a one-time link
//! into the panel; delete the key to get a fresh one). Virtual servers: `username` (`root`),
//! `password` (the root password), `panelUrl` (the VMmanager the server runs on) and `ip`.
//!
//! The password is written to the Secret *before* the account is created, so a crash between
//! the two never leaves an account whose password nobody knows. Changing `password` in the
//! Secret changes it at the panel: the Secret carries a fingerprint of the password last
//! applied (`hostplane.dev/password-applied`, see [`fingerprint`]), and a different password
//! is pushed.
//!
//! Only a Secret this service owns is ever written ([`ownership`]): [`prepare`] answers with a
//! [`Refusal`] instead, which the caller reports as `Stalled`/`SecretNotOwned`.

mod fingerprint;
mod ownership;

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use secrecy::{ExposeSecret, SecretString};

use crate::api::HostingService;
use crate::controller::context::Context;
use fingerprint::fingerprint;
pub use ownership::Refusal;

pub const USERNAME: &str = "username";
pub const PASSWORD: &str = "password";
pub const PANEL_URL: &str = "panelUrl";
pub const LOGIN_URL: &str = "loginUrl";
/// A virtual server's address.
pub const IP: &str = "ip";
/// Where the fingerprint of the applied password is kept.
pub const APPLIED_ANNOTATION: &str = "hostplane.dev/password-applied";
/// Owned Secrets carry this label, so the controller watches only its own Secrets.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "hostplane");

/// The connection Secret as the reconciler needs it.
pub struct Connection {
    pub password: SecretString,
    /// The password differs from the one last applied at the panel.
    pub password_changed: bool,
    pub has_login_url: bool,
    secret: Option<Secret>,
}

/// A new random password that ispmanager's default policy accepts (letters and digits, 20
/// characters, with at least one of each class).
pub fn generate_password() -> SecretString {
    use rand::RngExt;
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGIT: &[u8] = b"23456789";
    let mut rng = rand::rng();
    let mut pick = |set: &[u8]| set[rng.random_range(0..set.len())] as char;
    let mut s: String = (0..17)
        .map(|i| match i % 3 {
            0 => pick(LOWER),
            1 => pick(UPPER),
            _ => pick(DIGIT),
        })
        .collect();
    s.push(pick(UPPER));
    s.push(pick(DIGIT));
    s.push(pick(LOWER));
    SecretString::from(s)
}

fn text(secret: &Secret, key: &str) -> Option<String> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .and_then(|b| String::from_utf8(b.0.clone()).ok())
        .filter(|s| !s.is_empty())
}

/// A connection that is never written: a random password, no Secret (`ObserveOnly`
/// services, which must not create objects of their own).
pub fn unpublished() -> Connection {
    Connection {
        password: generate_password(),
        password_changed: false,
        has_login_url: true,
        secret: None,
    }
}

/// Reads (or, when the service asks for one, creates) the connection Secret with a password.
/// Without `writeConnectionSecretToRef` a random password is used and never stored: the
/// customer then gets in through the panel's own password reset.
///
/// The inner `Err` is a [`Refusal`]: the named Secret is not this service's to write (see
/// [`ownership`]); nothing was written, and the caller stalls the service with it.
pub async fn prepare(
    ctx: &Context,
    service: &HostingService,
) -> kube::Result<Result<Connection, Refusal>> {
    let Some(target) = &service.spec.write_connection_secret_to_ref else {
        return Ok(Ok(unpublished()));
    };
    let ns = service.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let existing = api.get_opt(&target.name).await?;
    if let Err(refusal) = ownership::check(&ctx.modules, service, &target.name, existing.as_ref()) {
        return Ok(Err(refusal));
    }
    if let Some(secret) = &existing
        && let Some(password) = text(secret, PASSWORD)
    {
        let secret = secret.clone();
        let password = SecretString::from(password);
        let key = secret.uid().unwrap_or_default();
        let applied = secret.annotations().get(APPLIED_ANNOTATION);
        let password_changed = applied.is_some_and(|a| !fingerprint::matches(a, &password, &key));
        return Ok(Ok(Connection {
            has_login_url: text(&secret, LOGIN_URL).is_some(),
            password,
            password_changed,
            secret: Some(secret),
        }));
    }
    // No Secret, or one without a password: write a new password before anything is created.
    let password = generate_password();
    let mut data = BTreeMap::new();
    data.insert(
        PASSWORD.to_owned(),
        ByteString(password.expose_secret().as_bytes().to_vec()),
    );
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(target.name.clone()),
            namespace: Some(ns.clone()),
            labels: Some([(MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned())].into()),
            owner_references: service.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        data: Some(data),
        type_: Some("Opaque".into()),
        ..Default::default()
    };
    // Both writes are conditional on what was checked: a create fails if someone made the
    // Secret meanwhile, a patch (ours, without a password) if it changed since it was read.
    let secret = match existing {
        None => api.create(&PostParams::default(), &secret).await?,
        Some(checked) => {
            api.patch(
                &target.name,
                &PatchParams::default(),
                &Patch::Merge(&serde_json::json!({
                    "metadata": { "resourceVersion": checked.resource_version() },
                    "data": {
                        PASSWORD: k8s_openapi::ByteString(password.expose_secret().as_bytes().to_vec())
                    }
                })),
            )
            .await?
        }
    };
    Ok(Ok(Connection {
        password,
        password_changed: false,
        has_login_url: false,
        secret: Some(secret),
    }))
}

/// Writes what the customer needs next to the password, and the fingerprint of the password
/// now applied at the panel. Only changed keys are written; nothing when nothing changed. A
/// fingerprint in the legacy form is rewritten in the current one here.
pub async fn publish(
    kube: &kube::Client,
    service: &HostingService,
    connection: &Connection,
    username: &str,
    panel_url: &str,
    login_url: Option<&SecretString>,
    extra: &[(&str, &str)],
) -> kube::Result<()> {
    let Some(secret) = &connection.secret else {
        return Ok(());
    };
    let key = secret.uid().unwrap_or_default();
    let applied = fingerprint(&connection.password, &key);
    let mut data = serde_json::Map::new();
    for &(key, value) in [(USERNAME, username), (PANEL_URL, panel_url)]
        .iter()
        .chain(extra)
    {
        if text(secret, key).as_deref() != Some(value) {
            data.insert(
                key.into(),
                serde_json::to_value(ByteString(value.into())).expect("bytes"),
            );
        }
    }
    if let Some(url) = login_url {
        data.insert(
            LOGIN_URL.into(),
            serde_json::to_value(ByteString(url.expose_secret().as_bytes().to_vec()))
                .expect("bytes"),
        );
    }
    let annotation_current = secret.annotations().get(APPLIED_ANNOTATION) == Some(&applied);
    if data.is_empty() && annotation_current {
        return Ok(());
    }
    let api: Api<Secret> = Api::namespaced(kube.clone(), &service.namespace().unwrap_or_default());
    let patch = serde_json::json!({
        "metadata": { "annotations": { APPLIED_ANNOTATION: applied } },
        "data": data,
    });
    api.patch(
        &secret.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_have_every_class_and_differ() {
        let a = generate_password();
        let b = generate_password();
        let s = a.expose_secret();
        assert_eq!(s.len(), 20);
        assert!(s.chars().any(|c| c.is_ascii_lowercase()));
        assert!(s.chars().any(|c| c.is_ascii_uppercase()));
        assert!(s.chars().any(|c| c.is_ascii_digit()));
        assert_ne!(s, b.expose_secret());
    }
}
