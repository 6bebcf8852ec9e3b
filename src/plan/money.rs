//! What a change does to a service's money: its quote (the billing module's `status.quote`)
//! before and after, item by item.

use kube::ResourceExt;

use super::{MoneyChange, World};
use crate::api::HostingService;
use crate::api::common::{Date, Money};
use crate::api::hosting_service::Quote;

/// The service's quote in `world` on `today`, as the controller writes it to `status.quote`;
/// `None` when it cannot be priced (the judge reports why).
pub fn quote(world: &World, service: &HostingService, today: jiff::civil::Date) -> Option<Quote> {
    let ns = service.namespace().unwrap_or_default();
    let tariff = world.tariff(&ns, &service.spec.tariff_ref.name)?;
    let lookup = |name: &str| world.tariff(&ns, name).map(|t| &t.spec);
    crate::billing::quote::quote_with_events(&tariff.spec, &lookup, &service.spec, Date(today))
        .ok()
        .map(|q| q.quote)
}

/// The items that differ between `before` and `after`. A `new` service shows its order
/// price and setup fee; a live one what its next renewal and a late renewal would cost.
pub fn changes(new: bool, before: Option<&Quote>, after: Option<&Quote>) -> Vec<MoneyChange> {
    let Some(after) = after else {
        return Vec::new();
    };
    let show = |m: Option<&Money>| m.map(ToString::to_string);
    let mut out = Vec::new();
    let mut item = |item: &'static str, was: Option<&Money>, will: Option<&Money>| {
        if was != will {
            out.push(MoneyChange {
                item,
                currency: after.currency.clone(),
                before: show(was),
                after: show(will),
            });
        }
    };
    match before.filter(|_| !new) {
        None if new => {
            item("orderPrice", None, Some(&after.order_price));
            if after.setup_fee != Money::ZERO {
                item("setupFee", None, Some(&after.setup_fee));
            }
            item("renewalPrice", None, Some(&after.renewal_price));
        }
        live => {
            item(
                "renewalPrice",
                live.map(|b| &b.renewal_price),
                Some(&after.renewal_price),
            );
            item(
                "lateFee",
                live.and_then(|b| b.late_fee.as_ref()),
                after.late_fee.as_ref(),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(renewal: &str, late: Option<&str>) -> Quote {
        let money = |s: &str| Money(s.parse().unwrap());
        Quote {
            currency: "EUR".into(),
            order_price: money("10.00"),
            setup_fee: Money::ZERO,
            renewal_price: money(renewal),
            late_fee: late.map(money),
            events: Vec::new(),
        }
    }

    #[test]
    fn a_new_service_shows_what_it_costs_to_order() {
        let c = changes(true, None, Some(&quote("10.00", None)));
        let items: Vec<_> = c.iter().map(|m| m.item).collect();
        assert_eq!(items, ["orderPrice", "renewalPrice"]);
        assert_eq!(c[0].after.as_deref(), Some("10.00"));
    }

    #[test]
    fn a_live_service_shows_only_what_changed() {
        let same = changes(
            false,
            Some(&quote("10.00", None)),
            Some(&quote("10.00", None)),
        );
        assert!(same.is_empty());
        let dearer = changes(
            false,
            Some(&quote("10.00", None)),
            Some(&quote("12.50", Some("1.00"))),
        );
        assert_eq!(dearer.len(), 2);
        assert_eq!(dearer[0].item, "renewalPrice");
        assert_eq!(dearer[0].before.as_deref(), Some("10.00"));
        assert_eq!(dearer[0].after.as_deref(), Some("12.50"));
        assert_eq!(dearer[1].item, "lateFee");
        assert_eq!(dearer[1].before, None);
    }
}
