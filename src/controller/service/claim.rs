//! Claim, then act: the rules that keep hostplane from creating anything twice and from
//! touching an account, host or server it did not create. The managed-resource driver
//! ([`super::driver`]) applies them in order for every product that creates something at a
//! panel under a name (shared hosting, VMmanager 6 and 5); this module holds the rules and
//! the claim's writes in the cluster.
//!
//! - **The claim** is the module and the external name, written in the cluster in *one*
//!   patch with the finalizer and the time of the create attempt
//!   ([`CREATE_PENDING_ANNOTATION`]), before the create call. After a crash, a lost answer or
//!   a failed status write the next reconcile reads the claim back: it places the service on
//!   the claimed module (never runs placement again) and looks the name up there.
//! - **One claimant per name**: before a claim is written it is checked against every other
//!   service's claim on the same panel (same module URL, across namespaces). A second claimant
//!   is `Stalled`/`NameConflict` and nothing is written for it: no annotation, no finalizer,
//!   so deleting it can never delete the first customer's account.
//! - **Provenance**: hostplane changes and deletes only what it claimed before creating it
//!   ([`Provenance::Claimed`]), or what a person handed to it by writing the external-name
//!   annotation themselves ([`Provenance::HandedOver`]). An account that exists at the panel
//!   and that the service never claimed is a stranger's (`AccountExists`), found before any
//!   write; when the create itself answers "exists" to a claim written in the same pass, the
//!   claim is withdrawn again.
//! - **Unknown outcomes**: while the last create attempt's answer is unknown and the lookup
//!   finds nothing, the same call is sent again only after the module's quiet period
//!   ([`quiet_until`]); the service shows `OutcomeUnknown` meanwhile.
//!
//! Claims being written by this process are also kept in a [`Registry`], so two services
//! reconciled at the same moment cannot both claim one name before either claim reaches the
//! cache. The registry is only a fast path: the authority is the annotations, and only the
//! leader (a Lease) writes claims.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::FINALIZER;
use crate::api::{EXTERNAL_NAME_ANNOTATION, HostingService, ProcessingModule};
use crate::controller::Error;
use crate::controller::context::Context;
use crate::controller::reason::Reason;

/// The module a service's external name was claimed on, written with the claim.
pub const CLAIMED_MODULE_ANNOTATION: &str = "hostplane.dev/claimed-module";
/// When the last create attempt was sent (RFC 3339); removed when the panel refused it.
pub const CREATE_PENDING_ANNOTATION: &str = "hostplane.dev/create-pending";

/// How the service's external name came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provenance {
    /// No external name: nothing was created for the service, nothing may be adopted.
    Unrecorded,
    /// hostplane claimed the name before creating it: the account is (or may be) its own.
    Claimed,
    /// The external name was written without a claim: a person handed an existing account to
    /// the service (or an older hostplane recorded it, before claims existed). Adopted.
    HandedOver,
}

/// Where the service's external name comes from.
pub fn provenance(service: &HostingService) -> Provenance {
    let annotations = service.annotations();
    match (
        annotations.get(EXTERNAL_NAME_ANNOTATION),
        annotations.get(CLAIMED_MODULE_ANNOTATION),
    ) {
        (None, _) => Provenance::Unrecorded,
        (Some(_), Some(_)) => Provenance::Claimed,
        (Some(_), None) => Provenance::HandedOver,
    }
}

/// The module the service is bound to: its claim, else where status says it was placed.
pub fn claimed_module(service: &HostingService) -> Option<&str> {
    service
        .annotations()
        .get(CLAIMED_MODULE_ANNOTATION)
        .map(String::as_str)
        .or_else(|| super::placed_on(service))
}

/// One name at one panel. Two modules with the same URL are one panel, whatever their names
/// or namespaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClaimKey {
    pub panel: String,
    pub name: String,
}

impl ClaimKey {
    pub fn new(module_url: &str, name: &str) -> Self {
        Self {
            panel: panel_identity(module_url),
            name: name.to_ascii_lowercase(),
        }
    }
}

/// A panel's identity from a module URL: scheme, lowercased host, explicit port, path without
/// a trailing slash; no query, fragment or user info. `https://Panel:443/ispmgr/` and
/// `https://panel/ispmgr` are one panel.
pub fn panel_identity(url: &str) -> String {
    match reqwest::Url::parse(url.trim()) {
        Ok(u) => format!(
            "{}://{}:{}{}",
            u.scheme(),
            u.host_str().unwrap_or_default().to_ascii_lowercase(),
            u.port_or_known_default().unwrap_or_default(),
            u.path().trim_end_matches('/')
        ),
        Err(_) => url.trim().trim_end_matches('/').to_ascii_lowercase(),
    }
}

/// Another service's claim, as the cache shows it.
#[derive(Clone, Debug)]
pub struct Claimant {
    /// `namespace/name`.
    pub service: String,
    pub uid: String,
    /// Creation time and name: the earlier claimant keeps a contested name.
    pub order: (Option<jiff::Timestamp>, String),
    pub key: ClaimKey,
}

/// The first claimant of `key` other than `me`, if any; `mine` is my own order, used only
/// when I hold a claim already (two recorded claims of one name: the earlier keeps it).
pub fn contested<'a>(
    key: &ClaimKey,
    my_uid: &str,
    mine: Option<&(Option<jiff::Timestamp>, String)>,
    others: &'a [Claimant],
) -> Option<&'a Claimant> {
    others
        .iter()
        .filter(|c| c.uid != my_uid && c.key == *key)
        .filter(|c| mine.is_none_or(|m| c.order < *m))
        .min_by(|a, b| a.order.cmp(&b.order))
}

fn order_of(service: &HostingService) -> (Option<jiff::Timestamp>, String) {
    (
        service.metadata.creation_timestamp.clone().map(|t| t.0),
        format!(
            "{}/{}",
            service.namespace().unwrap_or_default(),
            service.name_any()
        ),
    )
}

/// Every claim of `name` the cache shows, other than `me`'s: services with that external
/// name, on the module they claimed it on (resolved to its URL in their own namespace). The
/// name is compared first, so a check costs one pass of string comparisons.
fn claimants(ctx: &Context, me: &HostingService, name: &str) -> Vec<Claimant> {
    let my_uid = me.uid().unwrap_or_default();
    ctx.services
        .state()
        .iter()
        .filter(|s| s.uid().unwrap_or_default() != my_uid)
        .filter_map(|s| {
            let name = s
                .annotations()
                .get(EXTERNAL_NAME_ANNOTATION)
                .filter(|n| n.eq_ignore_ascii_case(name))?;
            let ns = s.namespace().unwrap_or_default();
            let module = Context::get(&ctx.modules, &ns, claimed_module(s)?)?;
            Some(Claimant {
                service: format!("{ns}/{}", s.name_any()),
                uid: s.uid().unwrap_or_default(),
                order: order_of(s),
                key: ClaimKey::new(&module.spec.url, name),
            })
        })
        .collect()
}

/// Why `service` may not hold `name` at `module`: another service claimed it first. The
/// message names both services, for a person to decide which one should change.
pub fn conflict(
    ctx: &Context,
    service: &HostingService,
    module: &ProcessingModule,
    name: &str,
) -> Option<String> {
    let key = ClaimKey::new(&module.spec.url, name);
    let me = format!(
        "{}/{}",
        service.namespace().unwrap_or_default(),
        service.name_any()
    );
    let my_uid = service.uid().unwrap_or_default();
    let mine = (provenance(service) != Provenance::Unrecorded).then(|| order_of(service));
    let others = claimants(ctx, service, name);
    let holder = contested(&key, &my_uid, mine.as_ref(), &others)
        .map(|c| c.service.clone())
        .or_else(|| ctx.claims.holder(&key, &my_uid, ctx));
    holder.map(|other| {
        format!(
            "the name {name:?} on panel {} is already claimed by service {other}; service {me} would share its account. Change this service's name or the tariff's name template",
            key.panel
        )
    })
}

/// What the claim rules allow before anything is written for a `Full` service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// The service may act on its name (create it, or manage what it claimed or was handed).
    Act,
    /// Another service claimed the name first; the message names both.
    NameConflict(String),
    /// Something of that name exists at the panel and the service never claimed it, nor was
    /// it handed over: a stranger's, left alone.
    Foreign,
}

/// The claim rules as one pure decision. `conflict` is another service's claim of the name
/// (looked up only while the service is not converged and holds no claim of its own: once it
/// claimed, the claim is its title); `exists` is whether the panel shows the name.
pub fn ownership(
    provenance: Provenance,
    converged: bool,
    conflict: impl FnOnce() -> Option<String>,
    exists: bool,
) -> Ownership {
    if provenance != Provenance::Claimed
        && !converged
        && let Some(message) = conflict()
    {
        return Ownership::NameConflict(message);
    }
    if provenance == Provenance::Unrecorded && exists {
        return Ownership::Foreign;
    }
    Ownership::Act
}

/// Claims written by this process, by key: closes the window between the claim patch and the
/// cache showing it.
#[derive(Default)]
pub struct Registry {
    held: Mutex<HashMap<ClaimKey, (String, String)>>,
}

impl Registry {
    /// The other live service holding `key` in this process's registry.
    fn holder(&self, key: &ClaimKey, my_uid: &str, ctx: &Context) -> Option<String> {
        let mut held = self.held.lock().expect("claims lock");
        let (uid, who) = held.get(key)?.clone();
        if uid == my_uid {
            return None;
        }
        // A holder that is gone from the cache was deleted: its claim went with it.
        let alive = ctx
            .services
            .state()
            .iter()
            .any(|s| s.uid().as_deref() == Some(uid.as_str()));
        if alive {
            Some(who)
        } else {
            held.remove(key);
            None
        }
    }

    /// Takes `key` for `uid` unless another holds it.
    fn take(&self, key: ClaimKey, uid: &str, who: String) -> bool {
        let mut held = self.held.lock().expect("claims lock");
        match held.get(&key) {
            Some((holder, _)) if holder != uid => false,
            _ => {
                held.insert(key, (uid.to_owned(), who));
                true
            }
        }
    }

    fn drop_key(&self, key: &ClaimKey, uid: &str) {
        let mut held = self.held.lock().expect("claims lock");
        if held.get(key).is_some_and(|(holder, _)| holder == uid) {
            held.remove(key);
        }
    }
}

/// What writing a claim came to.
pub enum Claimed {
    /// The claim is in the cluster (with the finalizer): the create may be sent.
    Written,
    /// Another service holds the name: nothing was written.
    Conflict(String),
}

fn api(ctx: &Context, service: &HostingService) -> Api<HostingService> {
    Api::namespaced(ctx.client.clone(), &service.namespace().unwrap_or_default())
}

fn now(ctx: &Context) -> String {
    ctx.settings
        .clock
        .now()
        .round(jiff::Unit::Second)
        .unwrap_or_else(|_| ctx.settings.clock.now())
        .to_string()
}

/// Writes the claim (module, external name and, with `attempt`, the time of the create about
/// to be sent) and the finalizer in one patch, guarded by the resourceVersion: a concurrent
/// writer makes it fail instead of both claiming. Checked against every other claim first.
/// A product that may still wait (a queue) before its create claims without `attempt` and
/// records the attempt with [`attempt`] right before the call.
pub async fn write(
    ctx: &Context,
    service: &HostingService,
    module: &ProcessingModule,
    name: &str,
    attempt: bool,
) -> Result<Claimed, Error> {
    if let Some(message) = conflict(ctx, service, module, name) {
        return Ok(Claimed::Conflict(message));
    }
    let key = ClaimKey::new(&module.spec.url, name);
    let uid = service.uid().unwrap_or_default();
    let who = format!(
        "{}/{}",
        service.namespace().unwrap_or_default(),
        service.name_any()
    );
    if !ctx.claims.take(key.clone(), &uid, who) {
        return Ok(Claimed::Conflict(
            conflict(ctx, service, module, name).unwrap_or_else(|| {
                format!("the name {name:?} is being claimed by another service")
            }),
        ));
    }
    let mut finalizers = service.finalizers().to_vec();
    if !finalizers.iter().any(|f| f == FINALIZER) {
        finalizers.push(FINALIZER.to_owned());
    }
    let patch = json!({
        "metadata": {
            "resourceVersion": service.resource_version(),
            "finalizers": finalizers,
            "annotations": {
                EXTERNAL_NAME_ANNOTATION: name,
                CLAIMED_MODULE_ANNOTATION: module.name_any(),
                CREATE_PENDING_ANNOTATION: attempt.then(|| now(ctx)),
            },
        }
    });
    if let Err(e) = merge(ctx, service, patch).await {
        ctx.claims.drop_key(&key, &uid);
        return Err(e);
    }
    Ok(Claimed::Written)
}

/// Puts the finalizer on a service that holds a recorded name (claimed, or handed over by a
/// person) but lacks it: what it holds at the panel must be removed before it goes.
pub async fn keep_finalizer(ctx: &Context, service: &HostingService) -> Result<(), Error> {
    super::ensure_finalizer(service, &api(ctx, service)).await
}

/// Records a new create attempt of a claimed name (after a quiet period found nothing).
pub async fn attempt(ctx: &Context, service: &HostingService) -> Result<(), Error> {
    set_pending(ctx, service, Some(now(ctx))).await
}

/// The panel refused the create: the attempt is settled, the next one need not wait.
pub async fn refused(ctx: &Context, service: &HostingService) -> Result<(), Error> {
    set_pending(ctx, service, None).await
}

async fn set_pending(
    ctx: &Context,
    service: &HostingService,
    at: Option<String>,
) -> Result<(), Error> {
    set_annotation(ctx, service, CREATE_PENDING_ANNOTATION, at).await
}

/// Records (`Some`: now) or settles (`None`) an attempt under `key`, e.g. a license order.
pub async fn mark_attempt(
    ctx: &Context,
    service: &HostingService,
    key: &str,
    sent: bool,
) -> Result<(), Error> {
    set_annotation(ctx, service, key, sent.then(|| now(ctx))).await
}

pub async fn set_annotation(
    ctx: &Context,
    service: &HostingService,
    key: &str,
    value: Option<String>,
) -> Result<(), Error> {
    merge(
        ctx,
        service,
        json!({"metadata": {"annotations": {key: value}}}),
    )
    .await
}

/// One JSON merge patch of the service's metadata.
async fn merge(
    ctx: &Context,
    service: &HostingService,
    patch: serde_json::Value,
) -> Result<(), Error> {
    api(ctx, service)
        .patch(
            &service.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
    Ok(())
}

/// Withdraws a claim written in this very pass whose create the panel answered with "exists":
/// the name belongs to someone else, so the service must not keep a claim (nor a finalizer)
/// that would later delete a stranger's account.
pub async fn withdraw(
    ctx: &Context,
    service: &HostingService,
    module: &ProcessingModule,
    name: &str,
) -> Result<(), Error> {
    let patch = json!({
        "metadata": {
            "finalizers": super::finalizers_without_ours(service),
            "annotations": {
                EXTERNAL_NAME_ANNOTATION: null,
                CLAIMED_MODULE_ANNOTATION: null,
                CREATE_PENDING_ANNOTATION: null,
            },
        }
    });
    merge(ctx, service, patch).await?;
    ctx.claims.drop_key(
        &ClaimKey::new(&module.spec.url, name),
        &service.uid().unwrap_or_default(),
    );
    Ok(())
}

/// Forgets this process's record of a deleted service's claim.
pub fn forget(ctx: &Context, service: &HostingService, module: &ProcessingModule) {
    if let Some(name) = service.annotations().get(EXTERNAL_NAME_ANNOTATION) {
        ctx.claims.drop_key(
            &ClaimKey::new(&module.spec.url, name),
            &service.uid().unwrap_or_default(),
        );
    }
}

/// When the last create attempt was sent, if its outcome is not settled.
pub fn pending_since(service: &HostingService) -> Option<jiff::Timestamp> {
    attempted_at(service, CREATE_PENDING_ANNOTATION)
}

/// When the attempt recorded under `key` was sent, if it is not settled.
pub fn attempted_at(service: &HostingService, key: &str) -> Option<jiff::Timestamp> {
    service.annotations().get(key).and_then(|t| t.parse().ok())
}

/// The module's quiet period after an unknown outcome.
pub fn quiet_period(module: &ProcessingModule) -> Duration {
    Duration::from_secs(u64::from(module.spec.unknown_outcome_quiet_seconds))
}

/// While the last attempt's outcome is unknown and its quiet period runs: how long to wait
/// before the create may be sent again. `None`: it may be sent now.
pub fn quiet_until(
    pending: Option<jiff::Timestamp>,
    quiet: Duration,
    now: jiff::Timestamp,
) -> Option<Duration> {
    let since = pending?;
    let elapsed = Duration::try_from(now.duration_since(since)).unwrap_or_default();
    (elapsed < quiet).then(|| quiet - elapsed)
}

/// The outcome to report while waiting out a quiet period: a failure (`Ready=False`,
/// `lastError`, a Warning event), since a call went unanswered, retried by looking first.
pub fn outcome_unknown(what: &str, wait: Duration) -> super::Outcome {
    super::Outcome {
        verdict: crate::controller::conditions::Verdict::Failed {
            reason: Reason::OutcomeUnknown,
            message: format!(
                "the answer to {what} was lost and it is not at the panel (yet); looking again, and sending it again only after the module's quiet period ({}s left) if it is still missing",
                wait.as_secs()
            ),
        },
        phase: crate::api::hosting_service::ServicePhase::Provisioning,
        requeue: Some(wait.min(Duration::from_secs(30)) + Duration::from_secs(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimant(service: &str, uid: &str, created: i64, key: &ClaimKey) -> Claimant {
        Claimant {
            service: service.into(),
            uid: uid.into(),
            order: (
                Some(jiff::Timestamp::from_second(created).unwrap()),
                service.into(),
            ),
            key: key.clone(),
        }
    }

    #[test]
    fn one_panel_whatever_the_spelling_of_its_url() {
        assert_eq!(
            panel_identity("https://Panel.Example:443/ispmgr/"),
            panel_identity("https://panel.example/ispmgr")
        );
        assert_ne!(
            panel_identity("https://panel.example:1500/ispmgr"),
            panel_identity("https://panel.example/ispmgr")
        );
        assert_ne!(
            panel_identity("https://a.example/ispmgr"),
            panel_identity("https://b.example/ispmgr")
        );
        assert_eq!(
            ClaimKey::new("https://p/ispmgr", "UserShop1"),
            ClaimKey::new("https://p/ispmgr?x=1", "usershop1")
        );
    }

    #[test]
    fn a_new_claimant_loses_to_any_holder_and_never_to_itself() {
        let key = ClaimKey::new("https://p/ispmgr", "usershop1");
        let other = ClaimKey::new("https://q/ispmgr", "usershop1");
        let others = vec![
            claimant("ns/shop-1", "u1", 10, &key),
            claimant("ns/elsewhere", "u3", 5, &other),
        ];
        assert_eq!(
            contested(&key, "u2", None, &others).map(|c| c.service.as_str()),
            Some("ns/shop-1")
        );
        assert!(contested(&key, "u1", None, &others).is_none());
        assert!(contested(&ClaimKey::new("https://p/ispmgr", "x"), "u2", None, &others).is_none());
    }

    #[test]
    fn of_two_recorded_claims_the_earlier_keeps_the_name() {
        let key = ClaimKey::new("https://p/ispmgr", "usershop1");
        let others = vec![claimant("ns/shop-1", "u1", 10, &key)];
        let earlier = (
            Some(jiff::Timestamp::from_second(5).unwrap()),
            "ns/shop1".to_owned(),
        );
        let later = (
            Some(jiff::Timestamp::from_second(20).unwrap()),
            "ns/shop1".to_owned(),
        );
        assert!(contested(&key, "u2", Some(&earlier), &others).is_none());
        assert!(contested(&key, "u2", Some(&later), &others).is_some());
    }

    #[test]
    fn ownership_rules() {
        use Provenance::*;
        let taken = || Some("taken by ns/first".to_owned());
        let free = || None;
        // A name someone else claimed stops a service that holds no claim of its own.
        for p in [Unrecorded, HandedOver] {
            assert!(matches!(
                ownership(p, false, taken, false),
                Ownership::NameConflict(_)
            ));
        }
        // A claim is a title: the check is not even made.
        assert_eq!(
            ownership(Claimed, false, || unreachable!(), true),
            Ownership::Act
        );
        // Converged services keep what they have.
        assert_eq!(ownership(HandedOver, true, taken, true), Ownership::Act);
        // Something at the panel that was never claimed nor handed over is a stranger's.
        assert_eq!(ownership(Unrecorded, false, free, true), Ownership::Foreign);
        assert_eq!(ownership(Unrecorded, false, free, false), Ownership::Act);
        // Handed over by a person: adopted.
        assert_eq!(ownership(HandedOver, false, free, true), Ownership::Act);
    }

    #[test]
    fn the_quiet_period_runs_from_the_last_attempt() {
        let t0 = jiff::Timestamp::from_second(1_000).unwrap();
        let quiet = Duration::from_secs(180);
        assert_eq!(quiet_until(None, quiet, t0), None);
        assert_eq!(
            quiet_until(Some(t0), quiet, t0 + jiff::SignedDuration::from_secs(60)),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            quiet_until(Some(t0), quiet, t0 + jiff::SignedDuration::from_secs(180)),
            None
        );
        assert_eq!(quiet_until(Some(t0), Duration::ZERO, t0), None);
    }
}
