//! Rules of a service's declared events (`spec.tariffChanges`, `spec.resourceChanges`) that
//! need the tariffs of the set: dates in order and not before the order, the tariff moved from
//! exists, allows the change (`policies.tariffChange` not `Forbidden`) and bills in the same
//! currency, each resource's quantities form one chain that ends at `spec.resources`, and
//! downtime is in order without overlaps.
//! Pure: the caller reports each `(field, reason)`.

use crate::api::common::Date;
use crate::api::hosting_service::HostingServiceSpec;
use crate::api::tariff::{TariffChangePolicy, TariffSpec};
use crate::billing::events::{Tariffs, declared_events};
use crate::billing::history::History;

/// The problems of `spec`'s declared events; `current` is the tariff of `spec.tariffRef`.
pub fn problems<'a>(
    spec: &HostingServiceSpec,
    current: &'a TariffSpec,
    tariffs: &Tariffs<'a>,
) -> Vec<(String, String)> {
    let mut found = Vec::new();
    tariff_changes(spec, current, tariffs, &mut found);
    resource_changes(spec, current, &mut found);
    downtime(spec, &mut found);
    if found.is_empty()
        && let Err(e) = declared_events(current, tariffs, spec)
    {
        // Structurally sound, yet an event cannot be billed (a change on an unpaid day).
        let field = if spec.tariff_changes.is_empty() {
            "spec.resourceChanges"
        } else {
            "spec.tariffChanges"
        };
        found.push((field.to_owned(), e.to_string()));
    }
    found
}

/// Whether each declared tariff change was a sale the new tariff made on its day (it sells the
/// period and had not ended): an order policy, judged for a service whose order is not placed
/// yet (`hostplane validate` in CI), never retroactively by the controller (issue 15).
pub fn change_sales<'a>(
    spec: &HostingServiceSpec,
    current: &'a TariffSpec,
    tariffs: &Tariffs<'a>,
) -> Vec<(String, String)> {
    let history = History::new(current, tariffs, spec);
    let mut found = Vec::new();
    for (i, c) in spec.tariff_changes.iter().enumerate() {
        let period = c.period.unwrap_or(spec.period);
        if let Ok(to) = history.tariff_on(c.changed_on)
            && let Err(e) = crate::billing::policy::check_change(to, c.changed_on, period)
        {
            found.push((format!("spec.tariffChanges[{i}]"), e.to_string()));
        }
    }
    found
}

fn tariff_changes<'a>(
    spec: &HostingServiceSpec,
    current: &'a TariffSpec,
    tariffs: &Tariffs<'a>,
    found: &mut Vec<(String, String)>,
) {
    let mut previous = spec.start_date;
    let changes = &spec.tariff_changes;
    for (i, c) in changes.iter().enumerate() {
        in_order(
            format!("spec.tariffChanges[{i}].changedOn"),
            c.changed_on,
            &mut previous,
            found,
        );
        let field = format!("spec.tariffChanges[{i}].fromTariffRef");
        let from_name = &c.from_tariff_ref.name;
        let to_name = changes
            .get(i + 1)
            .map_or(&spec.tariff_ref.name, |n| &n.from_tariff_ref.name);
        let Some(from) = tariffs(from_name.as_str()) else {
            found.push((field, format!("tariff {from_name:?} does not exist")));
            continue;
        };
        let to = tariffs(to_name.as_str()).unwrap_or(current);
        if from_name == to_name {
            found.push((field, format!("the change is from {from_name:?} to itself")));
        } else if from.policies.tariff_change.policy == TariffChangePolicy::Forbidden {
            found.push((
                field,
                format!(
                    "tariff {from_name:?} does not allow changing to another tariff \
                     (policies.tariffChange.policy: Forbidden)"
                ),
            ));
        } else if from.currency != to.currency {
            found.push((
                field,
                format!(
                    "tariff {from_name:?} bills in {} and {to_name:?} in {}: a change between \
                     currencies is refused",
                    from.currency, to.currency
                ),
            ));
        }
    }
}

fn resource_changes(
    spec: &HostingServiceSpec,
    current: &TariffSpec,
    found: &mut Vec<(String, String)>,
) {
    let mut previous = spec.start_date;
    // (resource, its last `to`), in first-change order so messages come out stable.
    let mut last_to: Vec<(crate::api::tariff::ResourceKind, u64)> = Vec::new();
    for (i, rc) in spec.resource_changes.iter().enumerate() {
        in_order(
            format!("spec.resourceChanges[{i}].changedOn"),
            rc.changed_on,
            &mut previous,
            found,
        );
        if let Some(to) = last_to
            .iter()
            .find(|(n, _)| *n == rc.name)
            .map(|&(_, to)| to)
            && to != rc.from
        {
            found.push((
                format!("spec.resourceChanges[{i}].from"),
                format!(
                    "{} changed to {to} last time, so this change starts from {to}, not {}",
                    rc.name.as_str(),
                    rc.from
                ),
            ));
        }
        match last_to.iter_mut().find(|(n, _)| *n == rc.name) {
            Some(entry) => entry.1 = rc.to,
            None => last_to.push((rc.name, rc.to)),
        }
    }
    for (name, to) in last_to {
        let now = spec.resources.iter().find(|q| q.name == name).map_or_else(
            || {
                current
                    .resources
                    .iter()
                    .find(|r| r.name == name)
                    .map(|r| r.included)
            },
            |q| Some(q.quantity),
        );
        if now.is_some_and(|now| now != to) {
            found.push((
                "spec.resourceChanges".to_owned(),
                format!(
                    "the last change of {} ends at {to}, but spec.resources has {}",
                    name.as_str(),
                    now.unwrap_or_default()
                ),
            ));
        }
    }
}

fn downtime(spec: &HostingServiceSpec, found: &mut Vec<(String, String)>) {
    let mut previous = spec.start_date;
    for (i, d) in spec.downtime.iter().enumerate() {
        if d.until <= d.from {
            found.push((
                format!("spec.downtime[{i}].until"),
                format!(
                    "{} is not after the first suspended day {}",
                    d.until, d.from
                ),
            ));
        }
        in_order(
            format!("spec.downtime[{i}].from"),
            d.from,
            &mut previous,
            found,
        );
        previous = previous.max(d.until);
    }
}

/// An event dated `on` must not come before `previous` (the start date or the previous
/// event); `previous` moves on to it.
fn in_order(field: String, on: Date, previous: &mut Date, found: &mut Vec<(String, String)>) {
    if on < *previous {
        found.push((
            field,
            format!(
                "{on} is before {previous} (the start date or the previous event): list events \
                 in date order, without overlaps"
            ),
        ));
    }
    *previous = (*previous).max(on);
}
