//! Acquiring a licence: the lookup, a pooled one taken, or one bought, exactly once.

use super::*;
use crate::api::{LICENSE_PURCHASE_ANNOTATION, PURCHASE_FORBIDDEN};

pub(super) struct Order<'a> {
    pub(super) remoteid: &'a str,
    pub(super) licname: &'a str,
    pub(super) period: LicensePeriod,
    pub(super) period_code: &'a str,
}

/// The need has no license on record: adopt its own (by `remoteid`) or a matching one at its
/// IP, else take a pooled one, else buy one. Returns the license and whether it came from the
/// pool.
#[allow(clippy::too_many_arguments)]
pub(super) async fn acquire(
    ctx: &Context,
    service: &HostingService,
    refs: &Refs,
    need: &Need,
    module: &ProcessingModule,
    lic: &Licensing,
    settings: &LicensingSettings,
    order: &Order<'_>,
    today: Date,
) -> Result<(LicenseDetails, bool), Outcome> {
    let _one_at_a_time = ctx.license_acquisitions.lock().await;
    let all = list_all(lic).await?;
    let ns = service.namespace().unwrap_or_default();
    // What would be (or was) ordered: the lookup below compares with it.
    let wanted = LicenseOrder {
        pricelist: need.license_type.clone(),
        period: order.period_code.to_owned(),
        ip: need.ip.clone(),
        licname: order.licname.to_owned(),
        remoteid: order.remoteid.to_owned(),
        addons: need
            .nodes
            .iter()
            .map(|(id, n)| (id.clone(), n.to_string()))
            .collect(),
    };
    let pending = order_pending_annotation(need.kind);
    let record = purchase_record(ctx, service, module, &pending);
    let purchase = Purchase::new(lic, &wanted, &all, &record);
    let mut ledger = PurchaseLedger {
        ctx,
        service,
        pending: &pending,
        remoteid: order.remoteid,
        book: None,
    };

    // An order whose outcome is unknown: the lookup of reference §11 first.
    if record.pending_since.is_some() {
        match driver::observe(&record, &mut ledger, &purchase)
            .await
            .map_err(unrecorded)?
        {
            Ok(Seen::Manage(details) | Seen::Observe(details)) => {
                return adopt_lost_order(ctx, service, module, order, &pending, details).await;
            }
            Ok(Seen::Missing) => {}
            Err(outcome) => return Err(outcome),
        }
    }

    let key = format!(
        "{}/{}",
        service.namespace().unwrap_or_default(),
        service.name_any()
    );
    let suspended = matches!(refs.standing, Standing::Suspended { .. });
    let row = ServiceNeed {
        service: &key,
        ip: &need.ip,
        license_type: &need.license_type,
        remoteid: order.remoteid,
        suspended,
        bound_license: None,
    };
    let matched = license_pool::match_existing(
        &all,
        std::slice::from_ref(&row),
        settings.skip_suspended_when_matching,
    );
    let outcome = matched
        .into_iter()
        .next()
        .map_or(ExistingMatch::Order, |m| m.outcome);
    let mut book = match outcome {
        ExistingMatch::ByRemoteId(_) | ExistingMatch::Order => {
            NodeBook::open(ctx, &ns, &module.name_any())
                .await
                .map_err(|e| failed(Reason::NodeRecordsUnavailable, e))?
        }
        _ => None,
    };
    let view = |id: String| read_license(lic, id);
    match outcome {
        ExistingMatch::ByRemoteId(id) => {
            // The list says it is ours; its form must not say otherwise.
            let details = view(id.clone()).await?;
            if !is_ours(&details.license, order.remoteid) {
                return Err(failed(
                    Reason::LicenseConflict,
                    format!(
                        "license {id} is listed with this service's remoteid but its form carries another; nothing is bought until that is resolved"
                    ),
                ));
            }
            if let Some(book) = &mut book {
                // An order with nodes whose answer was lost: its count was recorded first.
                book.settle(order.remoteid, &id)
                    .await
                    .map_err(|e| failed(Reason::NodeRecordsUnavailable, e))?;
            }
            ctx.event(
                service,
                EventType::Normal,
                Reason::LicenseFound,
                format!("license {id} carries this service's remoteid: adopted, nothing bought"),
            )
            .await;
            settle_order(ctx, service, &pending, false).await;
            return Ok((details, false));
        }
        ExistingMatch::ByIp(id) => {
            let foreign = all.iter().find(|l| l.id == id).is_some_and(of_hostplane);
            if !foreign {
                ctx.event(
                    service,
                    EventType::Normal,
                    Reason::LicenseMatched,
                    format!(
                        "license {id} of type {} is already bound to {}: assigned to this service (fixchilds)",
                        need.license_type, need.ip
                    ),
                )
                .await;
                return Ok((view(id).await?, false));
            }
        }
        ExistingMatch::WaitForIp => {
            return Err(waiting(
                Reason::WaitingForIp,
                "the license is ordered once the service has an IP address",
                Duration::from_secs(5),
            ));
        }
        ExistingMatch::Skip => {
            return Err(Outcome {
                verdict: Verdict::Ready {
                    reason: Reason::Suspended,
                    message: "suspended; no license is ordered for suspended services (skipSuspendedWhenMatching)".into(),
                },
                phase: ServicePhase::Suspended,
                requeue: None,
            });
        }
        ExistingMatch::Order => {}
    }

    // An earlier order whose answer was lost and that the listing does not show (yet): the
    // licensing server may still be booking it. Ordering again before the quiet period has
    // passed could buy twice, and taking a pooled license meanwhile would leave the need
    // with two once the order shows up: both wait.
    if let Some(wait) = claim::quiet_until(record.pending_since, record.quiet, record.now) {
        return Err(claim::outcome_unknown("the license order", wait));
    }

    // The pool before buying; a pooled license's node count comes from the records.
    let rules = PoolRules::new(settings, pool_spec(ctx, &ns, &module.name_any()).as_ref());
    let empty = BTreeMap::new();
    let records = book.as_ref().map_or(&empty, |b| &b.records);
    let pooled = Pooled {
        all: &all,
        records,
        rules: &rules,
        kind: NeedKind::NewOrder,
        purpose: "",
    };
    if let Some(choice) = take_pooled(ctx, service, lic, need, order, &pooled, today).await? {
        ctx.event(
            service,
            EventType::Normal,
            Reason::LicenseTakenFromPool,
            format!(
                "took pooled license {} (expires {}) instead of buying one",
                choice.license_id, choice.expires_on
            ),
        )
        .await;
        crate::telemetry::counts::license(
            &format!("{ns}/{}", module.name_any()),
            crate::telemetry::counts::LicenseSource::Reused,
        );
        return Ok((view(choice.license_id).await?, true));
    }

    // A service that may not buy (a test order without --allow-purchase) stops here; it is
    // looked at again in a while, when a licence may have come back to the pool.
    if purchase_forbidden(service) {
        return Err(Outcome {
            requeue: Some(Duration::from_secs(60)),
            ..stalled(
                Reason::PurchaseNotAllowed,
                format!(
                    "no pooled license of type {} fits and {LICENSE_PURCHASE_ANNOTATION} is {PURCHASE_FORBIDDEN}: nothing was bought",
                    need.license_type
                ),
            )
        });
    }

    // Buy, once: the remoteid finds this order again if the answer is lost. The node count
    // is recorded before the order, under the remoteid, so that it is known even when the
    // answer is lost.
    let nodes = nodes_record(need);
    if let (Some(book), Some(r)) = (&mut book, &nodes) {
        book.set(&[(order.remoteid, Some(r))])
            .await
            .map_err(|e| failed(Reason::NodeRecordsUnavailable, e))?;
    }
    ledger.book = book.as_mut();
    let created = driver::create(&record, &mut ledger, &purchase, &())
        .await
        .map_err(unrecorded)?;
    match created {
        Ok(Created::Made) => {
            let id = purchase
                .bought()
                .expect("a licence order that succeeded answered with its id");
            settle_order(ctx, service, &pending, true).await;
            if let Some(book) = &mut book
                && let Err(e) = book.settle(order.remoteid, &id).await
            {
                // The record under the remoteid stays and is settled on release.
                tracing::warn!(license = %id, error = %e, "recording the license's node count failed");
            }
            ctx.event(
                service,
                EventType::Normal,
                Reason::LicenseOrdered,
                format!(
                    "bought license {id} of type {} for {} ({:?})",
                    need.license_type, need.ip, order.period
                ),
            )
            .await;
            crate::telemetry::counts::license(
                &format!("{ns}/{}", module.name_any()),
                crate::telemetry::counts::LicenseSource::Bought,
            );
            Ok((view(id).await?, false))
        }
        // The answer was lost, and the lookup right after found the order.
        Ok(Created::Found(details)) => {
            adopt_lost_order(ctx, service, module, order, &pending, details).await
        }
        // Still unknown (the attempt stays recorded: the next reconcile looks first), or
        // refused (settled, nothing bought, the record made for it dropped).
        Err(outcome) => Err(outcome),
    }
}

/// The order whose answer was lost is at the licensing server: adopted, its node count
/// settled under its id, the attempt cleared; nothing is bought.
async fn adopt_lost_order(
    ctx: &Context,
    service: &HostingService,
    module: &ProcessingModule,
    order: &Order<'_>,
    pending: &str,
    details: LicenseDetails,
) -> Result<(LicenseDetails, bool), Outcome> {
    let id = details.license.id.clone();
    let ns = service.namespace().unwrap_or_default();
    if let Some(mut book) = NodeBook::open(ctx, &ns, &module.name_any())
        .await
        .map_err(|e| failed(Reason::NodeRecordsUnavailable, e))?
    {
        book.settle(order.remoteid, &id)
            .await
            .map_err(|e| failed(Reason::NodeRecordsUnavailable, e))?;
    }
    settle_order(ctx, service, pending, false).await;
    ctx.event(
        service,
        EventType::Normal,
        Reason::LicenseFound,
        format!(
            "license {id} is the order whose answer was lost (its name carries this service's remoteid, same IP and type, confirmed by its form): adopted, nothing bought"
        ),
    )
    .await;
    Ok((details, false))
}

/// Whether the service's [`LICENSE_PURCHASE_ANNOTATION`] forbids buying a licence.
pub fn purchase_forbidden(service: &HostingService) -> bool {
    service
        .annotations()
        .get(LICENSE_PURCHASE_ANNOTATION)
        .map(String::as_str)
        == Some(PURCHASE_FORBIDDEN)
}

/// The need's order is settled (its license is known): the recorded attempt goes, so that a
/// later order of this need (after a release) does not wait out a quiet period for it. A
/// failure to clear it only costs that wait.
/// `recorded_now`: the attempt was recorded by this reconcile, so `service` (read before it)
/// does not show it yet.
pub(super) async fn settle_order(
    ctx: &Context,
    service: &HostingService,
    pending: &str,
    recorded_now: bool,
) {
    if (recorded_now || claim::attempted_at(service, pending).is_some())
        && let Err(e) = claim::mark_attempt(ctx, service, pending, false).await
    {
        tracing::warn!(error = %e, "clearing a settled order attempt failed");
    }
}
