//! The tariffs a service's declared tariff changes moved from (`spec.tariffChanges[].
//! fromTariffRef`), from the controller's cache: what the judge and the quote need to price
//! the days before each change by the tariff of those days.

use std::sync::Arc;

use kube::ResourceExt;

use super::context::Context;
use crate::api::{HostingService, Tariff, TariffSpec};

/// The earlier tariffs `service` names that exist in the cache, once each.
pub fn earlier_tariffs(ctx: &Context, service: &HostingService) -> Vec<Arc<Tariff>> {
    let ns = service.namespace().unwrap_or_default();
    let mut found: Vec<Arc<Tariff>> = Vec::new();
    for change in &service.spec.tariff_changes {
        let name = &change.from_tariff_ref.name;
        if !found.iter().any(|t| &t.name_any() == name)
            && let Some(t) = Context::get(&ctx.tariffs, &ns, name)
        {
            found.push(t);
        }
    }
    found
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
