//! Shared hosting on ispmanager (seed 002): place the service on a module, make the account
//! from the tariff's template with the tariff's resources as limits, its site and DNS zone,
//! keep it suspended or active as declared, deliver the login in the connection Secret, and
//! remove or orphan it on deletion.
//!
//! Crash safety and ownership follow [`super::claim`]: the username is claimed (with the
//! module and the finalizer, in one patch) before the create call, and checked against every
//! other service's claim on the same panel (`NameConflict`). A claimed service may have been
//! created by a run that died before it could say so; it is looked up, and an "already
//! exists" answer to a later attempt is adopted as its own. A service that never claimed the
//! name and meets an existing account stops (`AccountExists`) before anything is written for
//! it, rather than take over someone else's account.

use std::time::Duration;

use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use secrecy::SecretString;

use super::desired::{self, DesiredAccount};
use super::placement;
use super::plan::{self, Step};
use super::{Outcome, Refs, claim, connection, failed, stalled};
use crate::api::hosting_service::{
    DeletionPolicy, HostingServiceStatus, ManagementPolicy, ServicePhase,
};
use crate::api::{EXTERNAL_NAME_ANNOTATION, HostingService, ProcessingModule};
use crate::billing::lifecycle::{Standing, SuspensionCause};
use crate::controller::Error;
use crate::controller::accounts::module_key;
use crate::controller::conditions::{self, Verdict};
use crate::controller::context::Context;
use crate::panel::PanelError;
use crate::panel::ispmanager::{IspManager, NewUser, User, UserChange, is_not_found};

/// How long a module listing answers for its accounts: twice the drift interval, so a
/// listing is always there in steady state while a stale one never hides a deletion for long.
fn listing_max_age(ctx: &Context) -> Duration {
    ctx.settings.drift_interval * 2
}

/// Whether the account should be active, and if not, why (a person reads this in the
/// `Ready` message).
pub fn suspension(refs: &Refs) -> Option<String> {
    let Standing::Suspended {
        cause,
        since,
        deletion_on,
        ..
    } = refs.standing
    else {
        return None;
    };
    Some(match cause {
        SuspensionCause::Requested => "suspended as requested (spec.suspended)".into(),
        SuspensionCause::ClientSuspended => "suspended because the client is suspended".into(),
        SuspensionCause::Unpaid => {
            let since = since.map(|d| format!(" since {d}")).unwrap_or_default();
            match deletion_on {
                Some(d) => format!(
                    "suspended for non-payment{since}; terminated on {d} unless renewed before"
                ),
                None => format!("suspended for non-payment{since}"),
            }
        }
    })
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
        Err(message) => return Ok(stalled("InvalidSpec", message)),
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
                "ModuleUnavailable",
                format!("processing module {}: {e}", module.name_any()),
            ));
        }
    };
    let recorded = service.annotations().get(EXTERNAL_NAME_ANNOTATION).cloned();
    // The external name is the account's identity: once recorded it is kept, even if the
    // tariff's username template changes later.
    let username = recorded.clone().unwrap_or_else(|| desired.username.clone());
    let mkey = module_key(&ns, &module.name_any());
    status.processing_module = Some(module.name_any());

    let observed = match ctx.accounts.fresh(&mkey, &username, listing_max_age(ctx)) {
        Some(user) => Some(user),
        None => match isp.user(&username).await {
            Ok(found) => found,
            Err(e) => return Ok(failed("PanelError", format!("looking up {username}: {e}"))),
        },
    };
    if let Some(user) = &observed {
        ctx.accounts.put(&mkey, user.clone());
    }
    let suspended_because = suspension(refs);

    if service.spec.management_policy == ManagementPolicy::ObserveOnly {
        return Ok(observe_only(
            &desired,
            &username,
            observed.as_ref(),
            suspended_because.as_deref(),
            status,
        ));
    }

    // Claims and ownership, before anything is written for the service (not even its
    // connection Secret): a name another service claimed, or an account hostplane never
    // claimed, stops the service here.
    match claim::check(ctx, service, &module, &username, observed.is_some()) {
        claim::Ownership::Act => {}
        claim::Ownership::NameConflict(message) => return Ok(stalled("NameConflict", message)),
        claim::Ownership::Foreign => return Ok(account_exists(&username, &module)),
    }
    if recorded.is_some() {
        claim::keep_finalizer(ctx, service).await?;
    }
    let connection = match connection::prepare(ctx, service).await? {
        Ok(connection) => connection,
        Err(refused) => return Ok(stalled("SecretNotOwned", refused.to_string())),
    };
    let steps = plan::plan(&desired, suspended_because.is_none(), observed.as_ref());
    let drift = observed.is_some() && already_converged(service, refs);
    for step in &steps {
        let mut claimed_now = false;
        if *step == Step::Create {
            match claim::before_create(ctx, service, &module, &username, recorded.is_some()).await?
            {
                Ok(fresh) => claimed_now = fresh,
                Err(outcome) => return Ok(outcome),
            }
        }
        let result = apply(&isp, step, &desired, &username, &connection.password).await;
        match result {
            Ok(()) => {}
            Err(e) if *step == Step::Create && matches!(e, PanelError::Exists { .. }) => {
                if claimed_now {
                    // Made by someone else between the lookup and the create: not ours.
                    claim::withdraw(ctx, service, &module, &username).await?;
                    return Ok(account_exists(&username, &module));
                }
                // Ours, from an earlier attempt whose answer was lost.
                if let Some(outcome) = adopt(&isp, &username, &mkey, ctx).await {
                    return Ok(outcome);
                }
            }
            Err(PanelError::OutcomeUnknown { .. }) if *step == Step::Create => {
                // The answer was lost: look before trying again, never create twice.
                match isp.user(&username).await {
                    Ok(Some(user)) => ctx.accounts.put(&mkey, user),
                    Ok(None) => {
                        return Ok(claim::outcome_unknown(
                            &format!("creating {username}"),
                            claim::quiet_period(&module),
                        ));
                    }
                    Err(e) => {
                        return Ok(failed(
                            "OutcomeUnknown",
                            format!(
                                "the answer to creating {username} was lost, and looking it up failed: {e}"
                            ),
                        ));
                    }
                }
            }
            Err(e) => {
                if *step == Step::Create {
                    // A definite "no": the next attempt need not wait out a quiet period.
                    claim::refused(ctx, service).await?;
                }
                return Ok(failed(
                    "PanelError",
                    format!("{} for {username}: {e}", step.describe()),
                ));
            }
        }
        note_step(ctx, &mkey, &username, step, &desired, observed.as_ref());
        let reason = match (drift, step) {
            (true, _) => "DriftCorrected",
            (false, Step::Create) => "Created",
            (false, Step::SetPlan { .. }) => "PlanChanged",
            (false, Step::Suspend) => "Suspended",
            (false, Step::Resume) => "Resumed",
        };
        let note = format!("{} {username} on {}", step.describe(), module.name_any());
        ctx.event(service, EventType::Normal, reason, note).await;
    }
    let created = steps.contains(&Step::Create);

    if let Err(outcome) = ensure_dns(service, refs, ctx, &desired, &module, status).await {
        return Ok(outcome);
    }
    if connection.password_changed && !created {
        if let Err(e) = isp.set_password(&username, &connection.password).await {
            return Ok(failed(
                "PanelError",
                format!("changing the password of {username}: {e}"),
            ));
        }
        ctx.event(
            service,
            EventType::Normal,
            "PasswordChanged",
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
                    "PanelError",
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
        status.ip = module_ip(&module.spec.url).await;
    }
    Ok(match suspended_because.as_deref() {
        None => Outcome {
            verdict: Verdict::Ready {
                reason: "Available".into(),
                message: String::new(),
            },
            phase: ServicePhase::Active,
            requeue: None,
        },
        Some(why) => Outcome {
            verdict: Verdict::Ready {
                reason: "Suspended".into(),
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

async fn apply(
    isp: &IspManager,
    step: &Step,
    desired: &DesiredAccount,
    username: &str,
    password: &SecretString,
) -> Result<(), PanelError> {
    match step {
        Step::Create => {
            isp.create_user(&NewUser {
                name: username.to_owned(),
                password: password.clone(),
                fullname: desired.fullname.clone(),
                preset: Some(desired.preset.clone()),
                limits: desired.limits.clone(),
                domain: Some(desired.domain.clone()),
            })
            .await
        }
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

/// After an "exists" answer for an account this service claimed in an earlier pass (whose
/// answer was lost): look it up. `None` when it is there (adopted, carry on), or the outcome
/// to report.
async fn adopt(isp: &IspManager, username: &str, mkey: &str, ctx: &Context) -> Option<Outcome> {
    match isp.user(username).await {
        Ok(Some(user)) => {
            ctx.accounts.put(mkey, user);
            None
        }
        Ok(None) => Some(failed(
            "PanelError",
            format!(
                "the panel answered that {username} exists but does not list it; looking again"
            ),
        )),
        Err(e) => Some(failed(
            "PanelError",
            format!("the panel answered that {username} exists, and looking it up failed: {e}"),
        )),
    }
}

fn account_exists(username: &str, module: &ProcessingModule) -> Outcome {
    stalled(
        "AccountExists",
        format!(
            "an ispmanager user {username:?} already exists on module {} and hostplane did not create it; it is left alone. Set spec.managementPolicy: ObserveOnly to watch it, write the hostplane.dev/external-name annotation yourself to hand it to this service, or change the tariff's username template",
            module.name_any()
        ),
    )
}

/// `ObserveOnly`: report the account and how it differs from the spec; change nothing.
fn observe_only(
    desired: &DesiredAccount,
    username: &str,
    observed: Option<&User>,
    suspended_because: Option<&str>,
    status: &mut HostingServiceStatus,
) -> Outcome {
    let Some(user) = observed else {
        return stalled(
            "ExternalNotFound",
            format!(
                "managementPolicy is ObserveOnly and there is no ispmanager user {username:?} to observe"
            ),
        );
    };
    status.external_name = Some(username.to_owned());
    let differences: Vec<String> = plan::plan(desired, suspended_because.is_none(), Some(user))
        .iter()
        .map(|s| format!("would have {}", s.describe()))
        .collect();
    Outcome {
        verdict: Verdict::Ready {
            reason: "Observed".into(),
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

/// The DNS zone of the service's domain on the tariff's name server, made once per domain.
async fn ensure_dns(
    service: &HostingService,
    refs: &Refs,
    ctx: &Context,
    desired: &DesiredAccount,
    module: &ProcessingModule,
    status: &mut HostingServiceStatus,
) -> Result<(), Outcome> {
    if status.domain.as_deref() == Some(desired.domain.as_str()) {
        return Ok(());
    }
    let name_server = refs
        .tariff
        .spec
        .hosting
        .as_ref()
        .and_then(|h| h.name_server.as_ref());
    if let Some(ns_ref) = name_server {
        let ns = service.namespace().unwrap_or_default();
        let ns_module = Context::get(&ctx.modules, &ns, &ns_ref.processing_module_ref.name)
            .ok_or_else(|| {
                stalled(
                    "ReferenceNotFound",
                    format!(
                        "the tariff's name server module {:?} does not exist",
                        ns_ref.processing_module_ref.name
                    ),
                )
            })?;
        let dns = ctx
            .panels
            .ispmanager(&ctx.client, &ns_module)
            .await
            .map_err(|e| {
                failed(
                    "ModuleUnavailable",
                    format!("name server {}: {e}", ns_module.name_any()),
                )
            })?;
        let ip = module_ip(&module.spec.url).await.ok_or_else(|| {
            failed(
                "PanelError",
                format!("cannot resolve the address of module {}", module.name_any()),
            )
        })?;
        let owner = status
            .external_name
            .clone()
            .unwrap_or_else(|| desired.username.clone());
        let zones = dns
            .dns_domains()
            .await
            .map_err(|e| failed("PanelError", format!("listing DNS zones: {e}")))?;
        if !zones.iter().any(|z| z.name == desired.domain) {
            let ns_names = vec![format!(
                "ns1.{}.",
                host_of(&ns_module.spec.url).unwrap_or_default()
            )];
            match dns
                .create_dns_domain(
                    &owner_for_dns(&ns_module, module, &owner),
                    &desired.domain,
                    &ip,
                    &ns_names,
                )
                .await
            {
                Ok(()) | Err(PanelError::Exists { .. }) => {}
                Err(e) => {
                    return Err(failed(
                        "PanelError",
                        format!("creating the DNS zone {}: {e}", desired.domain),
                    ));
                }
            }
            ctx.event(
                service,
                EventType::Normal,
                "DnsZoneCreated",
                format!("zone {} on {}", desired.domain, ns_module.name_any()),
            )
            .await;
        }
    }
    status.domain = Some(desired.domain.clone());
    Ok(())
}

/// On the account's own server the zone belongs to the account; on a separate name server it
/// belongs to the administrator (the account does not exist there).
fn owner_for_dns(ns_module: &ProcessingModule, module: &ProcessingModule, owner: &str) -> String {
    if ns_module.meta().uid == module.meta().uid {
        owner.to_owned()
    } else {
        String::new()
    }
}

fn host_of(url: &str) -> Option<String> {
    reqwest::Url::parse(url).ok()?.host_str().map(str::to_owned)
}

/// The address shared hosting sites get: the panel server's (its URL's host, resolved).
async fn module_ip(url: &str) -> Option<String> {
    let host = host_of(url)?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Some(ip.to_string());
    }
    let mut addrs = tokio::net::lookup_host((host.as_str(), 443)).await.ok()?;
    addrs.next().map(|a| a.ip().to_string())
}

/// Why an account is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// The HostingService is being deleted: `deletionPolicy` decides.
    Deleted,
    /// Terminated for non-payment (seed 002 auto-deletion). `deletionPolicy: Orphan` keeps
    /// the account here too: it says what happens to the external resource whenever
    /// hostplane would remove it, as in Crossplane.
    Terminated,
    /// The service lives on but no longer needs it (a virtual server switched to no control
    /// panel gives its license back to the pool): only `ObserveOnly` keeps it.
    Unneeded,
}

impl Removal {
    /// Whether the external resource is kept as it is (`Orphan`, `ObserveOnly`).
    pub fn keeps(self, service: &HostingService) -> bool {
        let observe_only = service.spec.management_policy == ManagementPolicy::ObserveOnly;
        match self {
            Removal::Deleted | Removal::Terminated => {
                observe_only || service.spec.deletion_policy == DeletionPolicy::Orphan
            }
            Removal::Unneeded => observe_only,
        }
    }
}

/// Removes the account. `ObserveOnly` services never touch the panel; `Orphan` keeps the
/// account ([`Removal::keeps`]). Not found counts as done.
pub async fn remove(
    service: &HostingService,
    module: &ProcessingModule,
    ctx: &Context,
    status: &HostingServiceStatus,
    why: Removal,
) -> Result<(), String> {
    let orphan = why.keeps(service);
    let username = status
        .external_name
        .clone()
        .or_else(|| service.annotations().get(EXTERNAL_NAME_ANNOTATION).cloned());
    let Some(username) = username else {
        return Ok(()); // nothing was ever created
    };
    if orphan {
        ctx.event(
            service,
            EventType::Normal,
            "Orphaned",
            format!(
                "kept the ispmanager account {username} (deletionPolicy Orphan or ObserveOnly)"
            ),
        )
        .await;
        return Ok(());
    }
    let isp = ctx
        .panels
        .ispmanager(&ctx.client, module)
        .await
        .map_err(|e| format!("processing module {}: {e}", module.name_any()))?;
    match isp.delete_user(&username).await {
        Ok(()) => {}
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(format!("deleting {username}: {e}")),
    }
    let ns = service.namespace().unwrap_or_default();
    ctx.accounts
        .forget(&module_key(&ns, &module.name_any()), &username);
    ctx.event(
        service,
        EventType::Normal,
        "Deleted",
        format!(
            "deleted the ispmanager account {username} on {}",
            module.name_any()
        ),
    )
    .await;
    Ok(())
}
