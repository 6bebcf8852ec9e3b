//! The tariffs a service's declared tariff changes moved from (`spec.tariffChanges[].
//! fromTariffRef`), from the controller's cache: what the judge and the quote need to price
//! the days before each change by the tariff of those days.

use std::sync::Arc;

use kube::ResourceExt;

use super::context::Context;
use crate::api::{HostingService, HostingServiceSpec, Tariff, TariffSpec};

/// The earlier tariffs `service` names that exist in the cache, once each.
pub fn earlier_tariffs(ctx: &Context, service: &HostingService) -> Vec<Arc<Tariff>> {
    earlier_tariffs_in(service, |ns, name| Context::get(&ctx.tariffs, ns, name))
}

/// [`earlier_tariffs`] by any lookup (`namespace`, `name`): `hostplane plan` looks in the
/// live objects with the manifests applied.
pub fn earlier_tariffs_in(
    service: &HostingService,
    lookup: impl Fn(&str, &str) -> Option<Arc<Tariff>>,
) -> Vec<Arc<Tariff>> {
    let ns = service.namespace().unwrap_or_default();
    let mut found: Vec<Arc<Tariff>> = Vec::new();
    for change in &service.spec.tariff_changes {
        let name = &change.from_tariff_ref.name;
        if !found.iter().any(|t| &t.name_any() == name)
            && let Some(t) = lookup(&ns, name)
        {
            found.push(t);
        }
    }
    found
}

/// Why `spec` cannot be reconciled after its `spec.tariffRef` moved away from `priced_on`
/// (`status.tariff`, the tariff it was last reconciled on) with no declared change from it:
/// the move would silently re-price every day before it at the new tariff's prices (issue
/// 15). `None` when nothing moved, or the move is declared.
pub fn undeclared_change(spec: &HostingServiceSpec, priced_on: Option<&str>) -> Option<String> {
    let previous = priced_on?;
    let now = spec.tariff_ref.name.as_str();
    let declared = spec
        .tariff_changes
        .iter()
        .any(|c| c.from_tariff_ref.name == previous);
    (previous != now && !declared).then(|| {
        format!(
            "spec.tariffRef moved from {previous:?} to {now:?} without a spec.tariffChanges \
             entry from {previous:?}: declare the change (changedOn and fromTariffRef) so the \
             days before it stay priced by {previous:?} and the change is billed by its policy"
        )
    })
}

/// Finds `current` or one of `earlier` by name.
pub fn lookup<'a>(
    current: &'a Tariff,
    earlier: &'a [Arc<Tariff>],
) -> impl Fn(&str) -> Option<&'a TariffSpec> + 'a {
    move |name: &str| {
        std::iter::once(current)
            .chain(earlier.iter().map(|t| &**t))
            .find(|t| t.name_any() == name)
            .map(|t| &t.spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::{LocalObjectReference, Period};
    use crate::api::service_events::TariffChangeEvent;
    use crate::billing::testing::{date, service};

    #[test]
    fn a_tariff_ref_may_move_only_with_a_declared_change_from_the_old_tariff() {
        let mut s = service(Period::OneMonth, "2026-04-01", &[]);
        s.tariff_ref = LocalObjectReference::new("pro");
        assert_eq!(undeclared_change(&s, None), None, "never reconciled");
        assert_eq!(undeclared_change(&s, Some("pro")), None, "not moved");
        let message = undeclared_change(&s, Some("start")).expect("an undeclared move");
        assert!(message.contains("from \"start\" to \"pro\""), "{message}");
        s.tariff_changes = vec![TariffChangeEvent {
            changed_on: date("2026-04-16"),
            from_tariff_ref: LocalObjectReference::new("start"),
            period: None,
            reference: None,
        }];
        assert_eq!(undeclared_change(&s, Some("start")), None, "declared");
    }
}
