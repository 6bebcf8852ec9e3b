//! Shared hosting on ispmanager (seed 002): place the service on a module, make the account
//! from the tariff's template with the tariff's resources as limits, its site and DNS zone,
//! keep it suspended or active as declared, deliver the login in the connection Secret, and
//! remove or orphan it on deletion.
//!
//! Crash safety and ownership are the driver's ([`super::driver`]): the username is claimed
//! (with the module and the finalizer, in one patch) before the create call, and checked
//! against every other service's claim on the same panel (`NameConflict`); an account that
//! exists and that the service never claimed stops it (`AccountExists`) before anything is
//! written for it. This module says what an account is (`account.rs`), what it should look
//! like ([`super::plan`]) and its DNS zone (`dns.rs`).

mod account;
mod dns;

use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::events::EventType;
use secrecy::SecretString;

use super::desired::{self, DesiredAccount};
use super::driver::{self, Removal, Seen};
use super::placement;
use super::plan::{self, Step};
use super::{Outcome, Refs, connection, failed, stalled, suspension};

use crate::api::hosting_service::{HostingServiceStatus, ServicePhase};
use crate::api::{EXTERNAL_NAME_ANNOTATION, HostingService, ProcessingModule};
use crate::controller::Error;
use crate::controller::accounts::module_key;
use crate::controller::conditions::{self, Verdict};
use crate::controller::context::Context;
use crate::controller::reason::Reason;
use crate::panel::PanelError;
use crate::panel::ispmanager::{IspManager, NewUser, User, UserChange};
use account::Account;

/// How long a module listing answers for its accounts: twice the drift interval, so a
/// listing is always there in steady state while a stale one never hides a deletion for long.
fn listing_max_age(ctx: &Context) -> Duration {
    ctx.settings.drift_interval * 2
}

pub async fn reconcile(
    service: &HostingService,
    refs: &Refs,
    ctx: &Context,
    status: &mut HostingServiceStatus,
) -> Result<Outcome, Error> {
    let ns = service.namespace().unwrap_or_default();
    let desired = match desired::account(
        &service.name_any(),
        &refs.client.name_any(),
        &service.spec,
        &refs.tariff.spec,
        &refs.client.spec,
    ) {
        Ok(d) => d,
        Err(message) => return Ok(stalled(Reason::InvalidSpec, message)),
    };
    let module = match placement::module_for(
        service,
        refs,
        ctx,
        status,
        crate::api::ModuleType::ISPmanager,
    ) {
        Ok(m) => m,
        Err(outcome) => return Ok(outcome),
    };
    let isp = match ctx.panels.ispmanager(&ctx.client, &module).await {
        Ok(isp) => isp,
        Err(e) => {
            return Ok(failed(
                Reason::ModuleUnavailable,
                format!("processing module {}: {e}", module.name_any()),
            ));
        }
    };
    let recorded = service.annotations().get(EXTERNAL_NAME_ANNOTATION).cloned();
    // The external name is the account's identity: once recorded it is kept, even if the
    // tariff's username template changes later.
    let username = recorded.unwrap_or_else(|| desired.username.clone());
    let mkey = module_key(&ns, &module.name_any());
    status.processing_module = Some(module.name_any());
    let account = Account {
        ctx,
        isp: isp.clone(),
        module_key: mkey.clone(),
        username: username.clone(),
        listing_max_age: listing_max_age(ctx),
        first_create: crate::controller::service::claim::provenance(service)
            == crate::controller::service::claim::Provenance::Unrecorded
            && crate::controller::service::claim::pending_since(service).is_none(),
    };
    let suspended_because = suspension(refs);

    // Observe, and the claim rules before anything is written for the service (not even its
    // connection Secret): a name another service claimed, or an account hostplane never
    // claimed, stops the service here.
    let record = driver::record(ctx, service, &module, &username);
    let mut ledger = driver::ClusterLedger {
        ctx,
        service,
        module: &module,
        name: &username,
    };
    let observed = match driver::observe(&record, &mut ledger, &account).await? {
        Err(outcome) => return Ok(outcome),
        Ok(Seen::Observe(user)) => {
            return Ok(observe_only(
                &desired,
                &username,
                &user,
                suspended_because.as_deref(),
                status,
            ));
        }
        Ok(Seen::Manage(user)) => Some(user),
        Ok(Seen::Missing) => None,
    };
    let connection = match connection::prepare(ctx, service).await? {
        Ok(connection) => connection,
        Err(refused) => return Ok(stalled(Reason::SecretNotOwned, refused.to_string())),
    };
    let steps = plan::plan(&desired, suspended_because.is_none(), observed.as_ref());
    let drift = observed.is_some() && already_converged(service, refs);
    let mut created_note = None;
    for step in &steps {
        if *step == Step::Create {
            let request = new_user(&desired, &username, &connection.password);
            match driver::create(&record, &mut ledger, &account, &request).await? {
                Ok(_) => {}
                Err(outcome) => return Ok(outcome),
            }
        } else if let Err(e) = apply(&isp, step, &username).await {
            return Ok(failed(
                Reason::PanelError,
                format!("{} for {username}: {e}", step.describe()),
            ));
        }
        note_step(ctx, &mkey, &username, step, &desired, observed.as_ref());
        let reason = match (drift, step) {
            (true, _) => Reason::DriftCorrected,
            (false, Step::Create) => Reason::Created,
            (false, Step::SetPlan { .. }) => Reason::PlanChanged,
            (false, Step::Suspend) => Reason::Suspended,
            (false, Step::Resume) => Reason::Resumed,
        };
        let note = format!("{} {username} on {}", step.describe(), module.name_any());
        if *step == Step::Create {
            // Told once the zone is there too: one event for a new account.
            created_note = Some(note);
        } else {
            ctx.event(service, EventType::Normal, reason, note).await;
        }
    }
    let created = steps.contains(&Step::Create);

    let zone = match dns::ensure_dns(service, refs, ctx, &desired, &module, status).await {
        Ok(zone) => zone,
        Err(outcome) => {
            if let Some(note) = created_note {
                ctx.event(service, EventType::Normal, Reason::Created, note)
                    .await;
            }
            return Ok(outcome);
        }
    };
    match (created_note, zone) {
        (Some(note), Some(zone)) => {
            let note = format!("{note}, with its DNS {zone}");
            ctx.event(service, EventType::Normal, Reason::Created, note)
                .await;
        }
        (Some(note), None) => {
            ctx.event(service, EventType::Normal, Reason::Created, note)
                .await
        }
        (None, Some(zone)) => {
            ctx.event(service, EventType::Normal, Reason::DnsZoneCreated, zone)
                .await;
        }
        (None, None) => {}
    }
    if connection.password_changed && !created {
        if let Err(e) = isp.set_password(&username, &connection.password).await {
            return Ok(failed(
                Reason::PanelError,
                format!("changing the password of {username}: {e}"),
            ));
        }
        ctx.event(
            service,
            EventType::Normal,
            Reason::PasswordChanged,
            format!("applied the password of the connection Secret to {username}"),
        )
        .await;
    }
    let login_url = if connection.has_login_url {
        None
    } else {
        match isp.login_url(&username).await {
            Ok(url) => Some(url),
            Err(e) => {
                return Ok(failed(
                    Reason::PanelError,
                    format!("making a login link for {username}: {e}"),
                ));
            }
        }
    };
    connection::publish(
        &ctx.client,
        service,
        &connection,
        &username,
        &module.spec.url,
        login_url.as_ref(),
        &[],
    )
    .await?;

    status.external_name = Some(username);
    status.tariff_generation = refs.tariff.metadata.generation;
    if status.ip.is_none() {
        status.ip = dns::module_ip(&module.spec.url).await;
    }
    Ok(match suspended_because.as_deref() {
        None => Outcome {
            verdict: Verdict::Ready {
                reason: Reason::Available,
                message: String::new(),
            },
            phase: ServicePhase::Active,
            requeue: None,
        },
        Some(why) => Outcome {
            verdict: Verdict::Ready {
                reason: Reason::Suspended,
                message: why.into(),
            },
            phase: ServicePhase::Suspended,
            requeue: None,
        },
    })
}

/// Did the last reconcile leave the service converged on this very spec and tariff? Then any
/// step now is a correction of a change made at the panel behind hostplane's back.
fn already_converged(service: &HostingService, refs: &Refs) -> bool {
    let Some(status) = &service.status else {
        return false;
    };
    status.common.observed_generation == service.metadata.generation
        && status.tariff_generation == refs.tariff.metadata.generation
        && conditions::status_of(&status.common.conditions, conditions::READY)
            == Some(crate::api::common::ConditionStatus::True)
}

/// What `user.add.finish` sends for the account: template, limits and the site.
fn new_user(desired: &DesiredAccount, username: &str, password: &SecretString) -> NewUser {
    NewUser {
        name: username.to_owned(),
        password: password.clone(),
        fullname: desired.fullname.clone(),
        preset: Some(desired.preset.clone()),
        limits: desired.limits.clone(),
        domain: Some(desired.domain.clone()),
    }
}

/// A change to an existing account (the create goes through the driver).
async fn apply(isp: &IspManager, step: &Step, username: &str) -> Result<(), PanelError> {
    match step {
        Step::Create => unreachable!("the driver creates the account"),
        Step::SetPlan { preset, limits } => {
            isp.edit_user(
                username,
                &UserChange {
                    preset: preset.clone(),
                    limits: limits.clone(),
                },
            )
            .await
        }
        Step::Suspend => isp.suspend_user(username).await,
        Step::Resume => isp.resume_user(username).await,
    }
}

/// Keeps the module's listing true after a change hostplane made, so the next reconcile
/// needs no lookup.
fn note_step(
    ctx: &Context,
    mkey: &str,
    username: &str,
    step: &Step,
    desired: &DesiredAccount,
    observed: Option<&User>,
) {
    let mut user = ctx
        .accounts
        .fresh(mkey, username, Duration::MAX)
        .or_else(|| observed.cloned())
        .unwrap_or_else(|| User {
            name: username.to_owned(),
            fullname: desired.fullname.clone(),
            active: true,
            level: Some(16),
            preset: desired.preset.clone(),
            limits: Default::default(),
        });
    match step {
        Step::Create => user.limits.extend(desired.limits.clone()),
        Step::SetPlan { preset, limits } => {
            if let Some(p) = preset {
                user.preset = p.clone();
            }
            user.limits.extend(limits.clone());
        }
        Step::Suspend => user.active = false,
        Step::Resume => user.active = true,
    }
    ctx.accounts.put(mkey, user);
}

/// `ObserveOnly`: report the account and how it differs from the spec; change nothing.
fn observe_only(
    desired: &DesiredAccount,
    username: &str,
    user: &User,
    suspended_because: Option<&str>,
    status: &mut HostingServiceStatus,
) -> Outcome {
    status.external_name = Some(username.to_owned());
    let differences: Vec<String> = plan::plan(desired, suspended_because.is_none(), Some(user))
        .iter()
        .map(|s| format!("would have {}", s.describe()))
        .collect();
    Outcome {
        verdict: Verdict::Ready {
            reason: Reason::Observed,
            message: if differences.is_empty() {
                "observed; matches the spec".into()
            } else {
                format!(
                    "observed only; differs from the spec: {}",
                    differences.join("; ")
                )
            },
        },
        phase: if user.active {
            ServicePhase::Active
        } else {
            ServicePhase::Suspended
        },
        requeue: None,
    }
}

/// Removes the account, as the driver's removal rules say ([`driver::remove`]).
pub async fn remove(
    service: &HostingService,
    module: &ProcessingModule,
    ctx: &Context,
    status: &HostingServiceStatus,
    why: Removal,
) -> Result<(), String> {
    let username = recorded_name(service, status);
    let ns = service.namespace().unwrap_or_default();
    let name = username.clone().unwrap_or_default();
    let record = driver::record(ctx, service, module, &name);
    let removed = driver::remove(&record, why, username.as_deref(), async || {
        Ok(Account {
            ctx,
            isp: driver::connect(ctx.panels.ispmanager(&ctx.client, module).await, module)?,
            module_key: module_key(&ns, &module.name_any()),
            username: name.clone(),
            listing_max_age: listing_max_age(ctx),
            // Removal looks up what it removes.
            first_create: false,
        })
    })
    .await?;
    driver::announce_removal(
        ctx,
        service,
        module,
        "ispmanager account",
        username.as_deref(),
        &removed,
    )
    .await;
    dns::remove_zone(service, ctx, &removed).await
}

/// The external name recorded for the service: in status once converged, else its claim.
pub fn recorded_name(service: &HostingService, status: &HostingServiceStatus) -> Option<String> {
    status
        .external_name
        .clone()
        .or_else(|| service.annotations().get(EXTERNAL_NAME_ANNOTATION).cloned())
}
