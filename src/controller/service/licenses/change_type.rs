//! A change of the need's licence type: a pricelist change, or a pooled licence of the new type taken and the old one pooled; never a purchase.

use super::*;

/// The license the need is bound to has another type than the need wants (seed 003: a
/// tariff change, or another control panel chosen for a virtual server). Never buys:
///
/// 1. the account's licenses are listed and [`license_pool::settle_type`] decides: a license
///    of the need (its `remoteid`) that already has the wanted type is current — an earlier
///    take that was interrupted, or a `changepricelist` whose answer was lost — and every other
///    license carrying the `remoteid` is superseded and released to the pool;
/// 2. otherwise, with the module's `useExistingOnUpgrade` and a takeable pooled license of the
///    wanted type, that license is taken ([`license_pool::take_plan`], rebound to the need's
///    name, IP and `remoteid`) and only then is the old license released
///    ([`license_pool::release_plan`]). A controller killed between the two leaves two
///    licenses carrying the `remoteid`; step 1 of the next reconcile finds the new one by its
///    type and releases the old one. `status.license` keeps naming the old license until it is
///    released, so the next reconcile always comes back here;
/// 3. otherwise (no option, no candidate, or every take refused and put back) the bound
///    license is moved to the wanted pricelist with `service.changepricelist`: same id, same
///    `remoteid`, so a lost answer is found by step 1 on the next reconcile.
///
/// Returns the license now current and whether it came from the pool.
#[allow(clippy::too_many_arguments)]
pub(super) async fn change_type(
    ctx: &Context,
    service: &HostingService,
    need: &Need,
    module: &ProcessingModule,
    lic: &Licensing,
    settings: &LicensingSettings,
    order: &Order<'_>,
    today: Date,
    current: LicenseDetails,
    from_pool: bool,
) -> Result<(LicenseDetails, bool), Outcome> {
    let _one_at_a_time = ctx.license_acquisitions.lock().await;
    let all = list_all(lic).await?;
    let ns = service.namespace().unwrap_or_default();
    let rules = PoolRules::new(settings, pool_spec(ctx, &ns, &module.name_any()).as_ref());
    let old_id = current.license.id.clone();
    let old_type = current.license.pricelist.clone();
    let wanted = need.license_type.as_str();
    let view = |id: String| read_license(lic, id);
    let (listed, pool_rules, bound) = (&all, &rules, &current.license);
    let release_superseded = |ids: Vec<String>| async move {
        for id in ids {
            let Some(row) = listed
                .iter()
                .find(|l| l.id == id)
                .or((bound.id == id).then_some(bound))
            else {
                continue;
            };
            let reusable = pool_rules.reusable(&row.pricelist);
            put_into_pool(lic, &id, reusable).await.map_err(|e| {
                failed(
                    Reason::PanelError,
                    format!("releasing superseded license {id}: {e}"),
                )
            })?;
            ctx.event(
                service,
                EventType::Normal,
                if reusable {
                    Reason::LicensePooled
                } else {
                    Reason::LicenseRetired
                },
                format!(
                    "license {id} of type {} was superseded by the type change to {}: suspended, renamed free.lic on 0.0.0.0{}",
                    row.pricelist,
                    need.license_type,
                    if reusable {
                        "; it joins the pool"
                    } else {
                        "; its type is not reused, so it is left to expire"
                    }
                ),
            )
            .await;
        }
        Ok::<(), Outcome>(())
    };

    match license_pool::settle_type(&all, order.remoteid, &current.license, wanted) {
        TypeSettlement::Adopt {
            license_id,
            superseded,
        } => {
            release_superseded(superseded).await?;
            let adopted_other = license_id != old_id;
            ctx.event(
                service,
                EventType::Normal,
                Reason::LicenseTypeChanged,
                if adopted_other {
                    format!(
                        "license {license_id} of type {wanted} carries this service's remoteid: it replaces license {old_id} of type {old_type} (an interrupted type change finished)"
                    )
                } else {
                    format!(
                        "license {license_id} is of type {wanted} already (a type change whose answer was lost)"
                    )
                },
            )
            .await;
            let from_pool = if adopted_other { true } else { from_pool };
            return Ok((view(license_id).await?, from_pool));
        }
        TypeSettlement::Switch {
            license_id: _,
            superseded,
        } => release_superseded(superseded).await?,
    }

    // Seed 003, `Option UseExistingOnUpgrade`: another license from the pool, the current one
    // into the pool.
    let mut book = NodeBook::open(ctx, &ns, &module.name_any())
        .await
        .map_err(|e| failed(Reason::NodeRecordsUnavailable, e))?;
    let empty = BTreeMap::new();
    let records = book.as_ref().map_or(&empty, |b| &b.records);
    let pooled = Pooled {
        all: &all,
        records,
        rules: &rules,
        kind: NeedKind::TariffChange,
        purpose: " for the type change",
    };
    if let Some(choice) = take_pooled(ctx, service, lic, need, order, &pooled, today).await? {
        // Taken: from here on two licenses carry the remoteid until the old one is
        // released; a crash now is settled by type on the next reconcile.
        let reusable = rules.reusable(&old_type);
        put_into_pool(lic, &old_id, reusable).await.map_err(|e| {
            failed(
                Reason::PanelError,
                format!(
                    "took pooled license {} for the type change; releasing the old license {old_id} failed (retried): {e}",
                    choice.license_id
                ),
            )
        })?;
        ctx.event(
            service,
            EventType::Normal,
            Reason::LicenseTypeChanged,
            format!(
                "type changed from {old_type} to {wanted}: took pooled license {} (expires {}) instead of changing license {old_id}, which {} (useExistingOnUpgrade)",
                choice.license_id,
                choice.expires_on,
                if reusable {
                    "joins the pool"
                } else {
                    "is suspended and left to expire (its type is not reused)"
                }
            ),
        )
        .await;
        return Ok((view(choice.license_id).await?, true));
    }

    // Seed 003: "the service package of the current one will be changed".
    lic.change_pricelist(&old_id, wanted, order.period_code)
        .await
        .map_err(|e| {
            failed(
                Reason::LicenseTypeChangeFailed,
                format!("moving license {old_id} from type {old_type} to {wanted}: {e}"),
            )
        })?;
    // What a pricelist change does to the node addon is not documented: the count is no
    // longer known, so the record goes (an unrecorded license is never taken by a need with
    // nodes).
    if let Some(book) = &mut book
        && book.records.contains_key(&old_id)
        && let Err(e) = book.set(&[(old_id.as_str(), None)]).await
    {
        tracing::warn!(license = %old_id, error = %e, "dropping the node record after a pricelist change failed");
    }
    ctx.event(
        service,
        EventType::Normal,
        Reason::LicenseTypeChanged,
        format!(
            "moved license {old_id} from type {old_type} to {wanted} (service.changepricelist); nothing bought"
        ),
    )
    .await;
    Ok((view(old_id).await?, from_pool))
}
