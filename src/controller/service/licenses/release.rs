//! `release` and `release_unneeded`: a licence the service no longer needs goes to the pool.

use super::*;

/// The service is terminated or deleted: its license is suspended, renamed `free.lic`,
/// rebound to `0.0.0.0` and joins the pool ([`license_pool::release_plan`]); a license of a
/// type that is not reused is retired the same way (left to expire, never renewed). A license
/// still carrying the need's `remoteid` (an order whose answer was lost) goes too, so nothing
/// is leaked. `Orphan` (on deletion) and `ObserveOnly` leave the license as it is.
pub async fn release(
    ctx: &Context,
    service: &HostingService,
    module: &ProcessingModule,
    kind: LicenseKind,
    status: &mut HostingServiceStatus,
    why: Removal,
) -> Result<(), String> {
    let orphan = why.keeps(service);
    if orphan {
        if let Some(l) = &status.license {
            ctx.event(
                service,
                EventType::Normal,
                Reason::Orphaned,
                format!(
                    "kept license {} as it is (deletionPolicy Orphan or ObserveOnly)",
                    l.id
                ),
            )
            .await;
        }
        return Ok(());
    }
    let lic = ctx
        .panels
        .licensing(&ctx.client, module)
        .await
        .map_err(|e| format!("licensing module {}: {e}", module.name_any()))?;
    let settings = settings_of(module);
    let ns = service.namespace().unwrap_or_default();
    let rules = PoolRules::new(&settings, pool_spec(ctx, &ns, &module.name_any()).as_ref());
    let remoteid = remote_id(service, kind);
    let all = lic
        .licenses()
        .await
        .map_err(|e| format!("listing licenses: {e}"))?;
    let mut ids: Vec<String> = status.license.iter().map(|l| l.id.clone()).collect();
    for l in all.iter().filter(|l| l.carries(&remoteid)) {
        if !ids.contains(&l.id) {
            ids.push(l.id.clone());
        }
    }
    // A node count still recorded under the remoteid (its order's answer was lost, or the
    // record could not be moved then) becomes the license's record before the release clears
    // the remoteid: the pool must know the count of what it receives.
    if let Some(mut book) = NodeBook::open(ctx, &ns, &module.name_any()).await?
        && book.records.contains_key(&remoteid)
    {
        let ordered = ids
            .iter()
            .find(|id| {
                !book.records.contains_key(*id)
                    && all.iter().any(|l| &l.id == *id && l.carries(&remoteid))
            })
            .cloned();
        match ordered {
            Some(id) => book.settle(&remoteid, &id).await?,
            None => book.set(&[(remoteid.as_str(), None)]).await?,
        }
    }
    for id in ids {
        let Some(row) = all
            .iter()
            .find(|l| l.id == id && l.status != LicenseStatus::Deleted)
        else {
            continue; // gone already
        };
        if row.licname == FREE_LICNAME && row.remoteid.is_empty() && row.ip.trim() == "0.0.0.0" {
            continue; // released by an earlier pass
        }
        let reusable = rules.reusable(&row.pricelist);
        let plan = license_pool::release_plan(&id, reusable);
        for step in &plan.steps {
            if let Err(e) = run_step(&lic, step).await {
                // Every release step is idempotent: the next reconcile runs the plan again.
                return Err(format!("putting license {id} into the pool: {e}"));
            }
        }
        let (reason, note) = if reusable {
            (
                Reason::LicensePooled,
                format!("license {id} suspended, renamed free.lic on 0.0.0.0: it joins the pool"),
            )
        } else {
            (
                Reason::LicenseRetired,
                format!(
                    "license {id} suspended and unbound; its type is not reused, so it is left to expire"
                ),
            )
        };
        ctx.event(service, EventType::Normal, reason, note).await;
    }
    status.license = None;
    Ok(())
}

/// The service still lives but no longer needs a license: its virtual server's control panel
/// changed to `nopanel` (or to a choice without a license type). The license is released to
/// the pool exactly as on termination ([`release`]: suspended, `free.lic`, `0.0.0.0`, every
/// license carrying the need's `remoteid` included); `ObserveOnly` keeps it. Does nothing when
/// no license is recorded, so it costs no call on the common path. `status.license` is cleared
/// only once every release step succeeded, so a failure (or a crash) is retried by the next
/// reconcile.
pub async fn release_unneeded(
    ctx: &Context,
    service: &HostingService,
    module: &ProcessingModule,
    kind: LicenseKind,
    status: &mut HostingServiceStatus,
) -> Result<(), String> {
    let Some(current) = status.license.clone() else {
        return Ok(());
    };
    if service.spec.management_policy != ManagementPolicy::ObserveOnly {
        ctx.event(
            service,
            EventType::Normal,
            Reason::LicenseTypeChanged,
            format!(
                "the service no longer needs a license (no license type chosen): license {} of type {} goes to the pool",
                current.id, current.license_type
            ),
        )
        .await;
    }
    release(ctx, service, module, kind, status, Removal::Unneeded).await
}
