//! The live-object guard: what an edit of a Tariff does to the services already sold on it.
//!
//! Why: single-object rules cannot see that a valid tariff edit strands live accounts: a
//! removed price leaves a service unable to be priced or renewed, a removed module orphans
//! the accounts placed on it, a smaller `max` puts a service out of bounds, a new product type
//! makes every account the wrong kind. Those are refused, naming the services; softer effects
//! (a period disabled for renewal, new prices) are admitted with warnings. Pure: the caller
//! lists the namespace's services, so every case is unit-tested without a cluster.

use std::collections::{BTreeMap, BTreeSet};

use kube::ResourceExt;

use crate::api::common::Period;
use crate::api::tariff::ResourceKind;
use crate::api::{HostingService, TariffSpec};
use crate::billing::prices::{PriceKind, period_price};

/// The annotation that admits a breaking edit (with warnings) for an operator who means it.
pub const ALLOW_BREAKING: &str = "hostplane.dev/allow-breaking-change";

/// How many services a message names before it only counts the rest.
const NAMED: usize = 3;

/// One effect of an edit: the tariff field that causes it and what it does, services named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effect {
    pub field: String,
    pub reason: String,
}

/// What an edit does: effects that break services, and effects to warn about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    pub breaking: Vec<Effect>,
    pub warnings: Vec<Effect>,
}

/// What one service uses of the tariff it is on.
struct Usage<'a> {
    name: String,
    /// Periods of the sales this tariff prices: the order or the change onto it, and the
    /// renewals since.
    periods: BTreeSet<Period>,
    /// The period of the latest of those sales: what the service renews on.
    renews_on: Period,
    /// The processing module it is placed on (status) or pinned to (spec).
    modules: BTreeSet<&'a str>,
    /// Quantities it holds: declared resources and the latest change of each.
    held: BTreeMap<ResourceKind, u64>,
}

/// The effects of changing Tariff `tariff` from `old` to `new` on `services` (all services
/// of the namespace; those on other tariffs are ignored).
pub fn tariff_edit(
    tariff: &str,
    old: &TariffSpec,
    new: &TariffSpec,
    services: &[HostingService],
) -> Effects {
    let mut usages: Vec<Usage<'_>> = services
        .iter()
        .filter(|s| is_on(s, tariff))
        .map(usage)
        .collect();
    usages.sort_by(|a, b| a.name.cmp(&b.name));
    let mut effects = Effects::default();
    if usages.is_empty() {
        return effects;
    }
    if old.product_type != new.product_type {
        effects.breaking.push(Effect {
            field: "spec.productType".into(),
            reason: format!(
                "changing {:?} to {:?} would make the accounts of {} the wrong product",
                old.product_type,
                new.product_type,
                names(usages.iter())
            ),
        });
    }
    periods(old, new, &usages, &mut effects);
    modules(old, new, &usages, &mut effects);
    resources(old, new, &usages, &mut effects);
    effects
}

/// Whether the tariff in force for `service` is `tariff`: its `spec.tariffRef` (the tariff
/// after the last change), or the tariff the controller last reconciled it on
/// (`status.tariff`) while a change is not yet accepted.
fn is_on(service: &HostingService, tariff: &str) -> bool {
    service.spec.tariff_ref.name == tariff
        || service
            .status
            .as_ref()
            .and_then(|s| s.tariff.as_deref())
            .is_some_and(|t| t == tariff)
}

fn usage(service: &HostingService) -> Usage<'_> {
    let spec = &service.spec;
    let (since, first) = match spec.tariff_changes.last() {
        Some(change) => (
            Some(change.changed_on),
            change.period.unwrap_or(spec.period),
        ),
        None => (None, spec.period),
    };
    let mut periods = BTreeSet::from([first]);
    let mut renews_on = first;
    for renewal in spec
        .renewals
        .iter()
        .filter(|r| since.is_none_or(|day| r.paid_on >= day))
    {
        periods.insert(renewal.period);
        renews_on = renewal.period;
    }
    let mut modules = BTreeSet::new();
    if let Some(module) = service
        .status
        .as_ref()
        .and_then(|s| s.processing_module.as_deref())
    {
        modules.insert(module);
    }
    if let Some(pinned) = &spec.processing_module_ref {
        modules.insert(pinned.name.as_str());
    }
    let mut held = BTreeMap::new();
    let declared = spec.resources.iter().map(|q| (q.name, q.quantity));
    // The last change of a resource should match `resources`; whichever is larger is held.
    let changed = spec.resource_changes.iter().map(|c| (c.name, c.to));
    for (name, quantity) in declared.chain(latest(changed)) {
        let entry = held.entry(name).or_insert(quantity);
        *entry = (*entry).max(quantity);
    }
    Usage {
        name: service.name_any(),
        periods,
        renews_on,
        modules,
        held,
    }
}

/// The last value per resource of a list of changes in date order.
fn latest(changes: impl Iterator<Item = (ResourceKind, u64)>) -> BTreeMap<ResourceKind, u64> {
    changes.collect()
}

/// Removed prices break the services priced on the period; a period newly disabled stops
/// their renewals; changed prices change what they pay.
fn periods(old: &TariffSpec, new: &TariffSpec, usages: &[Usage<'_>], effects: &mut Effects) {
    for period in Period::ALL {
        let on = |u: &&Usage<'_>| u.periods.contains(&period);
        let affected: Vec<&Usage<'_>> = usages.iter().filter(on).collect();
        let renewing: Vec<&Usage<'_>> = usages.iter().filter(|u| u.renews_on == period).collect();
        let (was, now) = (old.prices.get(period), new.prices.get(period));
        if was.is_some() && now.is_none() && !affected.is_empty() {
            effects.breaking.push(Effect {
                field: format!("spec.prices.{period}"),
                reason: format!(
                    "removing the price of {period} would leave {} priced on {period} without a price",
                    names(affected.iter().copied())
                ),
            });
            continue;
        }
        if now.is_none() {
            continue;
        }
        if !old.disabled_periods.contains(&period)
            && new.disabled_periods.contains(&period)
            && !renewing.is_empty()
        {
            effects.warnings.push(Effect {
                field: "spec.disabledPeriods".into(),
                reason: format!(
                    "{period} is disabled: {} renewing on {period} cannot renew on it",
                    names(renewing.iter().copied())
                ),
            });
        }
        for (field, kind) in [
            (format!("spec.prices.{period}"), PriceKind::Order),
            (format!("spec.renewalPrices.{period}"), PriceKind::Renewal),
        ] {
            let (Ok(before), Ok(after)) = (
                period_price(old, period, kind),
                period_price(new, period, kind),
            ) else {
                continue;
            };
            // Without a special renewal price, a renewal pays the order price: one warning.
            let special = |t: &TariffSpec| t.renewal_prices.as_ref().and_then(|r| r.get(period));
            if kind == PriceKind::Renewal && special(old).is_none() && special(new).is_none() {
                continue;
            }
            let who = if kind == PriceKind::Order {
                &affected
            } else {
                &renewing
            };
            if before != after && !who.is_empty() {
                effects.warnings.push(Effect {
                    field,
                    reason: format!(
                        "{before} -> {after} changes the price for {}",
                        names(who.iter().copied())
                    ),
                });
            }
        }
    }
}

/// A module removed from the tariff strands the accounts placed on it.
fn modules(old: &TariffSpec, new: &TariffSpec, usages: &[Usage<'_>], effects: &mut Effects) {
    let kept: BTreeSet<&str> = new
        .processing_modules
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    for removed in old
        .processing_modules
        .iter()
        .map(|m| m.name.as_str())
        .filter(|m| !kept.contains(m))
    {
        let placed: Vec<&Usage<'_>> = usages
            .iter()
            .filter(|u| u.modules.contains(removed))
            .collect();
        if !placed.is_empty() {
            effects.breaking.push(Effect {
                field: "spec.processingModules".into(),
                reason: format!(
                    "removing module {removed:?} would strand {} placed on it",
                    names(placed.iter().copied())
                ),
            });
        }
    }
}

/// A resource removed, or bounds moved past what services hold, puts them out of bounds;
/// a new monthly price changes what the services holding more than included pay.
fn resources(old: &TariffSpec, new: &TariffSpec, usages: &[Usage<'_>], effects: &mut Effects) {
    for before in &old.resources {
        let kind = before.name;
        let holders: Vec<(&Usage<'_>, u64)> = usages
            .iter()
            .filter_map(|u| u.held.get(&kind).map(|q| (u, *q)))
            .collect();
        let Some((index, after)) = new
            .resources
            .iter()
            .enumerate()
            .find(|(_, r)| r.name == kind)
        else {
            if !holders.is_empty() {
                effects.breaking.push(Effect {
                    field: "spec.resources".into(),
                    reason: format!(
                        "removing {} would take it from {}",
                        kind.as_str(),
                        held(&holders)
                    ),
                });
            }
            continue;
        };
        let above: Vec<(&Usage<'_>, u64)> = holders
            .iter()
            .copied()
            .filter(|(_, q)| *q > after.max)
            .collect();
        if !above.is_empty() && after.max < before.max {
            effects.breaking.push(Effect {
                field: format!("spec.resources[{index}].max"),
                reason: format!("{} is below what {} hold", after.max, held(&above)),
            });
        }
        let below: Vec<(&Usage<'_>, u64)> = holders
            .iter()
            .copied()
            .filter(|(_, q)| *q < after.min)
            .collect();
        if !below.is_empty() && after.min > before.min {
            effects.breaking.push(Effect {
                field: format!("spec.resources[{index}].min"),
                reason: format!("{} is above what {} hold", after.min, held(&below)),
            });
        }
        let paying: Vec<&Usage<'_>> = holders
            .iter()
            .filter(|(_, q)| *q > after.included.min(before.included))
            .map(|(u, _)| *u)
            .collect();
        if before.monthly_price != after.monthly_price && !paying.is_empty() {
            effects.warnings.push(Effect {
                field: format!("spec.resources[{index}].monthlyPrice"),
                reason: format!(
                    "{} -> {} changes the price for {}",
                    before.monthly_price,
                    after.monthly_price,
                    names(paying.iter().copied())
                ),
            });
        }
    }
}

/// `2 services (a, b)`, `5 services (a, b, c and 2 more)`.
fn names<'a, 'b: 'a>(usages: impl Iterator<Item = &'a Usage<'b>>) -> String {
    let all: Vec<&str> = usages.map(|u| u.name.as_str()).collect();
    counted(&all)
}

/// `HostingService a (20480)`-style list of holders with their quantities.
fn held(holders: &[(&Usage<'_>, u64)]) -> String {
    let all: Vec<String> = holders
        .iter()
        .map(|(u, q)| format!("{} at {q}", u.name))
        .collect();
    counted(&all.iter().map(String::as_str).collect::<Vec<_>>())
}

fn counted(names: &[&str]) -> String {
    let noun = if names.len() == 1 {
        "service"
    } else {
        "services"
    };
    let shown = names[..names.len().min(NAMED)].join(", ");
    match names.len().saturating_sub(NAMED) {
        0 => format!("{} {noun} ({shown})", names.len()),
        more => format!("{} {noun} ({shown} and {more} more)", names.len()),
    }
}
