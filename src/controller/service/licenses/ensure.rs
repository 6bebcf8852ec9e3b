//! `ensure`: the licence of one need while the service lives (bind, buy, renew, suspend, resume).

use super::*;

/// Makes sure the need has exactly one license, bound to its IP, following the service's
/// standing and renewed on time; records it in `status.license`.
///
/// `Err` is the outcome to report instead of going on (a failure, a key still being
/// generated, a spec problem).
pub async fn ensure(
    ctx: &Context,
    service: &HostingService,
    refs: &Refs,
    need: &Need,
    module: &ProcessingModule,
    status: &mut HostingServiceStatus,
) -> Result<Ensured, Outcome> {
    let lic = connect(ctx, module).await?;
    let settings = settings_of(module);
    let today = Date(ctx.settings.clock.today());
    let tariff = refs.tariff.name_any();
    let remoteid = remote_id(service, need.kind);
    let period = renewal::license_period(&settings, need.period, Some(&tariff));
    let Some(period_code) = period_param(period) else {
        return Err(stalled(
            Reason::UnsupportedLicensePeriod,
            format!(
                "the licensing module maps the {} period to {period:?} licenses, which hostplane does not order",
                need.period
            ),
        ));
    };
    if need.ip.trim().is_empty() {
        return Err(waiting(
            Reason::WaitingForIp,
            "the license is ordered once the service has an IP address",
            Duration::from_secs(5),
        ));
    }
    let display = service.spec.domain.as_deref();
    let licname = license_name(need.kind, &service.name_any(), display, &remoteid);

    // The cache may lag behind this controller's own last status write (a reconcile queued
    // while the previous one ran reads the object as it was): before looking for a license
    // to acquire, look at the service as the API server has it, so that a license recorded a
    // moment ago is kept as recorded (taken from the pool) rather than found anew.
    if status.license.is_none() {
        status.license = recorded_license(ctx, service).await?;
    }

    // Observe the license recorded in status, if any.
    let mut bound: Option<(LicenseDetails, bool)> = None;
    if let Some(current) = status.license.clone() {
        match lic.view(&current.id).await {
            Ok(Some(d)) if is_ours(&d.license, &remoteid) => bound = Some((d, current.from_pool)),
            Ok(_) => {
                status.license = None;
                ctx.event(
                    service,
                    EventType::Warning,
                    Reason::LicenseLost,
                    format!(
                        "license {} is gone or no longer bound to this service; looking for its license again",
                        current.id
                    ),
                )
                .await;
            }
            Err(e) => {
                return Err(failed(
                    Reason::PanelError,
                    format!("reading license {}: {e}", current.id),
                ));
            }
        }
    }
    let order = Order {
        remoteid: &remoteid,
        licname: &licname,
        period,
        period_code: &period_code,
    };
    let (details, from_pool) = match bound {
        Some(b) => b,
        None => {
            acquire(
                ctx, service, refs, need, module, &lic, &settings, &order, today,
            )
            .await?
        }
    };
    // The need's type changed (another tariff, another control panel): settle it before
    // anything else touches the license, so that a renewal is never paid on the old type.
    let (mut details, from_pool) = if details.license.pricelist != need.license_type {
        change_type(
            ctx, service, need, module, &lic, &settings, &order, today, details, from_pool,
        )
        .await?
    } else {
        (details, from_pool)
    };
    let id = details.license.id.clone();
    let record = |details: &LicenseDetails, status: &mut HostingServiceStatus| {
        let license = ServiceLicense {
            id: details.license.id.clone(),
            license_type: details.license.pricelist.clone(),
            expires_on: parse_date(&details.license.expiredate),
            from_pool,
        };
        status.license = Some(license.clone());
        license
    };
    record(&details, status);

    // Bound to the need's IP, under its tagged name and remoteid (an IP change of the
    // server, a license matched by IP, a rename at the licensing server, a license named
    // before the tag existed). A form that does not show `remoteid` is judged by the tag, so
    // it is not rebound on every reconcile.
    if details.license.ip.trim() != need.ip.trim()
        || details.license.licname != licname
        || !details.license.carries(&remoteid)
    {
        lic.edit(&id, &licname, &need.ip, &remoteid)
            .await
            .map_err(|e| failed(Reason::PanelError, format!("rebinding license {id}: {e}")))?;
        details.license.ip = need.ip.clone();
        details.license.licname = licname.clone();
        details.license.remoteid = remoteid.clone();
    }

    // Follow the service.
    let state = match refs.standing {
        Standing::Suspended { .. } => ServiceState::Suspended,
        _ => ServiceState::Active,
    };
    let Some(mut expires_on) = parse_date(&details.license.expiredate) else {
        return Err(waiting(
            Reason::LicenseProcessing,
            format!("license {id} has no expiry date yet"),
            Duration::from_secs(2),
        ));
    };
    let suspended = details.license.status == LicenseStatus::Suspended;
    let action = renewal::license_action(
        state,
        BoundLicense {
            expires_on,
            suspended,
        },
        &settings,
        need.period,
        Some(&tariff),
        today,
    );
    let before = expires_on;
    let prolong = |period: LicensePeriod| {
        let lic = &lic;
        let id = &id;
        async move {
            // A prolongation whose answer was lost and whose expiry has not moved (yet) is
            // not paid for again before the module's quiet period has passed.
            let key = prolong_pending_annotation(need.kind);
            let attempt = ProlongAttempt::read(service, &key).filter(|a| a.is(id, before));
            if let Some(wait) = claim::quiet_until(
                attempt.map(|a| a.at),
                claim::quiet_period(module),
                ctx.settings.clock.now(),
            ) {
                return Err(claim::outcome_unknown(
                    &format!("prolonging license {id}"),
                    wait,
                ));
            }
            claim::set_annotation(
                ctx,
                service,
                &key,
                Some(ProlongAttempt::value(ctx.settings.clock.now(), id, before)),
            )
            .await
            .map_err(|e| {
                failed(
                    Reason::KubernetesError,
                    format!("recording the prolongation: {e}"),
                )
            })?;
            let months = period_param(period).unwrap_or_else(|| "1".into());
            let new = match lic.prolong(id, &months).await {
                Ok(new) => new,
                Err(e) if !is_refusal(&e) => {
                    // Maybe paid: the recorded attempt stays; the next reconcile reads the
                    // expiry, and a moved one settles it.
                    return Err(claim::outcome_unknown(
                        &format!("prolonging license {id} (its expiry is read again first)"),
                        claim::quiet_period(module),
                    ));
                }
                Err(e) => {
                    // Refused: nothing was paid; the next attempt need not wait.
                    if let Err(e) = claim::set_annotation(ctx, service, &key, None).await {
                        tracing::warn!(error = %e, "settling a refused prolongation failed");
                    }
                    return Err(failed(
                        Reason::PanelError,
                        format!("prolonging license {id}: {e}"),
                    ));
                }
            };
            parse_date(&new).ok_or_else(|| {
                failed(
                    Reason::PanelError,
                    format!("prolonging license {id}: unreadable new expiry {new:?}"),
                )
            })
        }
    };
    match action {
        LicenseAction::Renew(plan) => {
            let before = expires_on;
            expires_on = prolong(plan.period).await?;
            ctx.event(
                service,
                EventType::Normal,
                Reason::LicenseRenewed,
                format!("prolonged license {id} from {before} to {expires_on}"),
            )
            .await;
        }
        LicenseAction::Suspend => {
            lic.suspend(&id)
                .await
                .map_err(|e| failed(Reason::PanelError, format!("suspending license {id}: {e}")))?;
            ctx.event(
                service,
                EventType::Normal,
                Reason::LicenseSuspended,
                format!("suspended license {id} with the service"),
            )
            .await;
        }
        LicenseAction::Resume { prolong: p } => {
            if let Some(p) = p {
                expires_on = prolong(p).await?;
            }
            lic.resume(&id)
                .await
                .map_err(|e| failed(Reason::PanelError, format!("resuming license {id}: {e}")))?;
            ctx.event(
                service,
                EventType::Normal,
                Reason::LicenseResumed,
                format!("resumed license {id} with the service"),
            )
            .await;
        }
        LicenseAction::WaitUntil(_) | LicenseAction::Release | LicenseAction::Nothing => {}
    }
    details.license.expiredate = expires_on.to_string();
    let license = record(&details, status);
    let renews_on = match state {
        ServiceState::Active => {
            renewal::next_renewal(expires_on, &settings, need.period, Some(&tariff), today)
                .map(|p| p.on)
        }
        _ => None,
    };

    // The key is generated asynchronously; the official module reads the form until it is set.
    if details.lickey.is_none() {
        match lic.view(&id).await {
            Ok(Some(d)) if d.lickey.is_some() => {}
            Ok(_) => {
                return Err(waiting(
                    Reason::LicenseKeyPending,
                    format!("license {id} is bought; its key is being generated"),
                    Duration::from_secs(1),
                ));
            }
            Err(e) => {
                return Err(failed(
                    Reason::PanelError,
                    format!("reading license {id}: {e}"),
                ));
            }
        }
    }
    Ok(Ensured { license, renews_on })
}

/// The license in the service's status as the API server has it now.
async fn recorded_license(
    ctx: &Context,
    service: &HostingService,
) -> Result<Option<ServiceLicense>, Outcome> {
    let api: Api<HostingService> =
        Api::namespaced(ctx.client.clone(), &service.namespace().unwrap_or_default());
    let live = api.get_status(&service.name_any()).await.map_err(|e| {
        failed(
            Reason::KubernetesError,
            format!("reading the service's recorded license: {e}"),
        )
    })?;
    Ok(live.status.and_then(|s| s.license))
}
