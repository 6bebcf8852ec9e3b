//! What a term of a service costs on a tariff: the tariff's price for the period (order or
//! special renewal price), resources above the included amount, and the control-panel license
//! option of VPS tariffs — each a line item, scaled by the term's [`Share`] and rounded once.

use rust_decimal::Decimal;
use serde::Serialize;

use super::term::Share;
use super::{BillingError, Result, round};
use crate::api::common::{Money, Period};
use crate::api::hosting_service::HostingServiceSpec;
use crate::api::tariff::{Resource, ResourceKind, TariffSpec};

/// Whether a price is for a first order or for a renewal ("Renewal with special price").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceKind {
    Order,
    Renewal,
}

/// The line items of one term.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceLines {
    /// The tariff's price for the period.
    pub base: Money,
    /// Resources above their included amount, in the tariff's order; resources that cost
    /// nothing are left out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceLine>,
    /// The chosen control-panel license option, when it costs something.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_panel: Option<ControlPanelLine>,
    /// The sum of the lines.
    pub total: Money,
}

/// A resource's line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceLine {
    pub name: ResourceKind,
    pub amount: Money,
}

/// The control-panel license option's line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ControlPanelLine {
    pub option: String,
    pub amount: Money,
}

/// The tariff's own price for `period`: the order price, or for a renewal the special renewal
/// price when set and the order price otherwise. Fails when the period has no price; whether
/// it may still be sold (`disabledPeriods`) is [`super::policy::check_orderable`]'s question, asked
/// for new sales only, so that disabling a period never un-prices history.
pub fn period_price(tariff: &TariffSpec, period: Period, kind: PriceKind) -> Result<Money> {
    let order = tariff
        .prices
        .get(period)
        .ok_or(BillingError::PeriodNotOrderable { period })?;
    Ok(match kind {
        PriceKind::Order => order,
        PriceKind::Renewal => tariff
            .renewal_prices
            .as_ref()
            .and_then(|r| r.get(period))
            .unwrap_or(order),
    })
}

/// The one-off setup fee of a first order (zero when the tariff sets none).
pub fn setup_fee(tariff: &TariffSpec) -> Money {
    round(tariff.setup_fee.unwrap_or(Money::ZERO).0)
}

/// Steps above the included amount: `ceil((quantity − included) / step)`; none at or below
/// the included amount (less than included is not refunded).
pub fn steps_above_included(resource: &Resource, quantity: u64) -> u64 {
    let extra = quantity.saturating_sub(resource.included);
    extra.div_ceil(resource.step.max(1))
}

/// The quantity a service has of `resource`: declared, or the included amount.
pub fn quantity_of(service: &HostingServiceSpec, resource: &Resource) -> u64 {
    service
        .resources
        .iter()
        .find(|q| q.name == resource.name)
        .map_or(resource.included, |q| q.quantity)
}

/// The exact (unrounded) price of `steps` steps of `resource` for a whole `period`.
pub fn resource_period_price(resource: &Resource, steps: u64, period: Period) -> Decimal {
    resource.monthly_price.0 * Decimal::from(steps) * Decimal::from(period.months())
}

/// The line items of a term of `period` with `share` of the period's price.
pub fn lines(
    tariff: &TariffSpec,
    service: &HostingServiceSpec,
    period: Period,
    kind: PriceKind,
    share: Share,
) -> Result<PriceLines> {
    let base = round(share.of(period_price(tariff, period, kind)?.0));
    if let Some(q) = service
        .resources
        .iter()
        .find(|q| !tariff.resources.iter().any(|r| r.name == q.name))
    {
        return Err(BillingError::UnknownResource { name: q.name });
    }
    let resources: Vec<ResourceLine> = tariff
        .resources
        .iter()
        .map(|r| {
            let steps = steps_above_included(r, quantity_of(service, r));
            ResourceLine {
                name: r.name,
                amount: round(share.of(resource_period_price(r, steps, period))),
            }
        })
        .filter(|line| line.amount.0 > Decimal::ZERO)
        .collect();
    let control_panel = control_panel_price(tariff, service, period)?
        .map(|(option, price)| ControlPanelLine {
            option,
            amount: round(share.of(price.0)),
        })
        .filter(|line| line.amount.0 > Decimal::ZERO);
    let total = base.0
        + resources.iter().map(|l| l.amount.0).sum::<Decimal>()
        + control_panel.as_ref().map_or(Decimal::ZERO, |l| l.amount.0);
    Ok(PriceLines {
        base,
        resources,
        control_panel,
        total: round(total),
    })
}

/// The chosen control-panel option's price for a whole `period`: the service's choice or the
/// tariff's default. An option without any price is free ("Without control panel"); an option
/// priced for other periods only is an error rather than a free license, because a license is
/// bought for real money.
fn control_panel_price(
    tariff: &TariffSpec,
    service: &HostingServiceSpec,
    period: Period,
) -> Result<Option<(String, Money)>> {
    let addon = tariff
        .virtual_server
        .as_ref()
        .and_then(|v| v.control_panel_license.as_ref());
    let Some(addon) = addon else {
        return match &service.control_panel {
            Some(name) => Err(BillingError::UnknownControlPanel { name: name.clone() }),
            None => Ok(None),
        };
    };
    let name = service.control_panel.as_ref().unwrap_or(&addon.default);
    let option = addon
        .options
        .iter()
        .find(|o| &o.name == name)
        .ok_or_else(|| BillingError::UnknownControlPanel { name: name.clone() })?;
    match option.prices.get(period) {
        Some(price) => Ok(Some((name.clone(), price))),
        None if Period::ALL.iter().all(|&p| option.prices.get(p).is_none()) => Ok(None),
        None => Err(BillingError::ControlPanelNotPriced {
            name: name.clone(),
            period,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tariff::{
        ControlPanelLicense, ControlPanelOption, PeriodPrices, VirtualServerSettings,
    };
    use crate::billing::testing::{money, resource, service, tariff, with_resource};

    #[test]
    fn special_renewal_prices_apply_to_renewals_only() {
        let mut t = tariff("3.00");
        t.prices.one_year = Some(money("30.00"));
        t.renewal_prices = Some(PeriodPrices {
            one_year: Some(money("33.00")),
            ..PeriodPrices::default()
        });
        assert_eq!(
            period_price(&t, Period::OneYear, PriceKind::Order),
            Ok(money("30.00"))
        );
        assert_eq!(
            period_price(&t, Period::OneYear, PriceKind::Renewal),
            Ok(money("33.00"))
        );
        assert_eq!(
            period_price(&t, Period::OneMonth, PriceKind::Renewal),
            Ok(money("3.00"))
        );
    }

    #[test]
    fn resources_are_charged_per_started_step_per_month_of_the_period() {
        let mut t = tariff("3.00");
        t.prices.three_months = Some(money("8.50"));
        t.resources = vec![
            resource(ResourceKind::DiskSpace, 1024, 1024, "0.50"),
            resource(ResourceKind::WebDomains, 10, 10, "0.20"),
        ];
        // 2500 MiB = 1476 above included = 2 started steps; web domains at their included 10.
        let s = with_resource(
            service(Period::ThreeMonths, "2026-01-01", &[]),
            ResourceKind::DiskSpace,
            2500,
        );
        let lines = lines(&t, &s, Period::ThreeMonths, PriceKind::Order, Share::WHOLE).unwrap();
        assert_eq!(lines.base, money("8.50"));
        assert_eq!(
            lines.resources,
            vec![ResourceLine {
                name: ResourceKind::DiskSpace,
                amount: money("3.00")
            }]
        );
        assert_eq!(lines.total.to_string(), "11.50");
    }

    #[test]
    fn fewer_than_included_costs_nothing_and_refunds_nothing() {
        let r = resource(ResourceKind::DiskSpace, 1024, 1024, "0.50");
        assert_eq!(steps_above_included(&r, 0), 0);
        assert_eq!(steps_above_included(&r, 1024), 0);
        assert_eq!(steps_above_included(&r, 1025), 1);
    }

    #[test]
    fn a_resource_the_tariff_does_not_sell_cannot_be_priced() {
        let s = with_resource(
            service(Period::OneMonth, "2026-01-01", &[]),
            ResourceKind::Memory,
            4096,
        );
        assert_eq!(
            lines(
                &tariff("3.00"),
                &s,
                Period::OneMonth,
                PriceKind::Order,
                Share::WHOLE
            ),
            Err(BillingError::UnknownResource {
                name: ResourceKind::Memory
            })
        );
    }

    fn vps() -> TariffSpec {
        let mut t = tariff("6.00");
        t.prices.three_months = Some(money("17.00"));
        t.virtual_server = Some(VirtualServerSettings {
            cpu_cores: 1,
            memory_mib: 2048,
            disk_gib: 20,
            ipv4_addresses: 1,
            operating_systems: vec!["Debian 12".into()],
            default_operating_system: None,
            recipe: None,
            preset: None,
            control_panel_license: Some(ControlPanelLicense {
                default: "nopanel".into(),
                options: vec![
                    ControlPanelOption {
                        name: "nopanel".into(),
                        license_type: "nopanel".into(),
                        display_name: None,
                        prices: PeriodPrices::default(),
                    },
                    ControlPanelOption {
                        name: "ispmanager-lite".into(),
                        license_type: "3541".into(),
                        display_name: None,
                        prices: PeriodPrices {
                            one_month: Some(money("4.00")),
                            ..PeriodPrices::default()
                        },
                    },
                ],
            }),
        });
        t
    }

    #[test]
    fn the_control_panel_license_option_is_added_to_the_price() {
        let mut s = service(Period::OneMonth, "2026-01-01", &[]);
        let plain = lines(&vps(), &s, Period::OneMonth, PriceKind::Order, Share::WHOLE).unwrap();
        assert_eq!((plain.control_panel, plain.total), (None, money("6.00")));
        s.control_panel = Some("ispmanager-lite".into());
        let lite = lines(
            &vps(),
            &s,
            Period::OneMonth,
            PriceKind::Renewal,
            Share::WHOLE,
        )
        .unwrap();
        assert_eq!(
            lite.control_panel,
            Some(ControlPanelLine {
                option: "ispmanager-lite".into(),
                amount: money("4.00")
            })
        );
        assert_eq!(lite.total.to_string(), "10.00");
    }

    #[test]
    fn a_license_option_without_a_price_for_the_period_is_an_error_not_a_gift() {
        let mut s = service(Period::ThreeMonths, "2026-01-01", &[]);
        s.control_panel = Some("ispmanager-lite".into());
        assert!(matches!(
            lines(
                &vps(),
                &s,
                Period::ThreeMonths,
                PriceKind::Order,
                Share::WHOLE
            ),
            Err(BillingError::ControlPanelNotPriced { .. })
        ));
        s.control_panel = Some("cpanel".into());
        assert!(matches!(
            lines(
                &vps(),
                &s,
                Period::ThreeMonths,
                PriceKind::Order,
                Share::WHOLE
            ),
            Err(BillingError::UnknownControlPanel { .. })
        ));
    }
}
