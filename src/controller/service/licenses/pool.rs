//! Taking from and putting into the licence pool, step by step.

use super::*;

/// The pool as one acquisition sees it.
pub(super) struct Pooled<'a> {
    /// The account's licenses, as listed for this acquisition.
    pub(super) all: &'a [License],
    /// Node counts of pooled licenses ([`NodeBook`]).
    pub(super) records: &'a BTreeMap<String, NodesRecord>,
    pub(super) rules: &'a PoolRules,
    /// A new order, or a tariff change (`useExistingOnUpgrade`).
    pub(super) kind: NeedKind,
    /// Said in the `PoolTakeFailed` event after "taking pooled license N".
    pub(super) purpose: &'a str,
}

/// Takes the first pooled license the need may have ([`license_pool::candidates`], seed 003's
/// rules), binding it to the need's name, IP and `remoteid`. A refused take is put back and
/// the next candidate tried; an unanswered one fails the reconcile, so that it never turns
/// into a purchase. `Ok(None)` when no candidate could be taken.
pub(super) async fn take_pooled(
    ctx: &Context,
    service: &HostingService,
    lic: &Licensing,
    need: &Need,
    order: &Order<'_>,
    pooled: &Pooled<'_>,
    today: Date,
) -> Result<Option<TakeChoice>, Outcome> {
    let pool: Vec<PoolLicense> = pooled
        .all
        .iter()
        .filter_map(PoolLicense::from_panel)
        .map(|l| l.with_recorded_nodes(pooled.records))
        .collect();
    let pool_need = LicenseNeed {
        kind: pooled.kind,
        license_type: need.license_type.clone(),
        addon_quantity: need.nodes.as_ref().map_or(0, |(_, n)| *n),
        period: order.period,
    };
    let Acquisition::Take(_) = license_pool::acquire(&pool, &pool_need, pooled.rules, today) else {
        return Ok(None);
    };
    let binding = Binding {
        licname: order.licname.to_owned(),
        ip: need.ip.clone(),
        remoteid: order.remoteid.to_owned(),
    };
    for choice in license_pool::candidates(&pool, &pool_need, pooled.rules, today) {
        let Err(e) = take(lic, &choice, &binding).await else {
            return Ok(Some(choice));
        };
        ctx.event(
            service,
            EventType::Warning,
            Reason::PoolTakeFailed,
            format!(
                "taking pooled license {}{} failed ({e}); it stays in the pool",
                choice.license_id, pooled.purpose
            ),
        )
        .await;
        if unanswered(&e) {
            return Err(nothing_bought(&choice.license_id, &e));
        }
    }
    Ok(None)
}

/// Whether a failed take says nothing about the license: the licensing server did not
/// answer (or its answer was lost). Only a refusal (e.g. the IP was changed too recently) is
/// a reason to try the next candidate or to buy; an unanswered take fails the reconcile, so
/// that a slow server never turns into a purchase.
pub(super) fn unanswered(e: &PanelError) -> bool {
    e.is_transport() || matches!(e, PanelError::OutcomeUnknown { .. })
}

pub(super) fn nothing_bought(license: &str, e: &PanelError) -> Outcome {
    failed(
        Reason::PoolTakeFailed,
        format!(
            "the licensing server did not answer while pooled license {license} was being taken ({e}); nothing is bought until it answers"
        ),
    )
}

/// Takes one pooled license ([`license_pool::take_plan`]); on any failure it is put back into
/// the pool (the partner module's compensation) and the error returned.
pub(super) async fn take(
    lic: &Licensing,
    choice: &TakeChoice,
    binding: &Binding,
) -> Result<(), PanelError> {
    let plan = license_pool::take_plan(choice, binding);
    for (i, step) in plan.steps.iter().enumerate() {
        if let Err(e) = run_step(lic, step).await {
            if let OnFailure::PutBack(back) = plan.on_failure(i) {
                for step in &back.steps {
                    if let Err(e) = run_step(lic, step).await {
                        tracing::warn!(license = %choice.license_id, error = %e, "putting a license back into the pool failed");
                        break;
                    }
                }
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Runs [`license_pool::release_plan`] on one license: suspended, `free.lic`, `0.0.0.0`, no
/// `remoteid`. Every step is idempotent, so a failure is retried by the next reconcile.
pub(super) async fn put_into_pool(
    lic: &Licensing,
    id: &str,
    reusable: bool,
) -> Result<(), PanelError> {
    for step in &license_pool::release_plan(id, reusable).steps {
        run_step(lic, step).await?;
    }
    Ok(())
}

pub(super) async fn run_step(lic: &Licensing, step: &LicenseStep) -> Result<(), PanelError> {
    match step {
        LicenseStep::Suspend { license_id } => lic.suspend(license_id).await,
        LicenseStep::Resume { license_id } => lic.resume(license_id).await,
        LicenseStep::Edit {
            license_id,
            licname,
            ip,
            remoteid,
        } => lic.edit(license_id, licname, ip, remoteid).await,
        LicenseStep::Prolong { license_id, period } => {
            let months = period_param(*period).unwrap_or_else(|| "1".into());
            lic.prolong(license_id, &months).await.map(drop)
        }
        LicenseStep::JoinPool { .. } | LicenseStep::Retire { .. } => Ok(()),
    }
}
