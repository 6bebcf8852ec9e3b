//! Builders for the billing tests: small tariffs and services written in one line each.

use std::str::FromStr;

use crate::api::client::ClientSpec;
use crate::api::common::{Date, LocalObjectReference, Money, Period};
use crate::api::hosting_service::{HostingServiceSpec, Renewal, ResourceQuantity};
use crate::api::tariff::{
    Charging, ChargingMode, PeriodPrices, Policies, ProductType, Resource, ResourceKind, TariffSpec,
};

pub fn date(s: &str) -> Date {
    Date(s.parse().expect("a YYYY-MM-DD date"))
}

pub fn money(s: &str) -> Money {
    Money::from_str(s).expect("an amount")
}

pub fn per_period() -> Charging {
    Charging::default()
}

pub fn calendar(pro_rata_day: Option<u8>) -> Charging {
    Charging {
        mode: ChargingMode::Calendar,
        pro_rata_day,
        ..Charging::default()
    }
}

pub fn daily(from_order_period: bool) -> Charging {
    Charging {
        mode: ChargingMode::Daily,
        daily_cost_from_order_period: from_order_period,
        ..Charging::default()
    }
}

/// A shared hosting tariff selling one month at `monthly` and nothing else.
pub fn tariff(monthly: &str) -> TariffSpec {
    TariffSpec {
        product_type: ProductType::SharedHosting,
        display_name: None,
        processing_modules: vec![LocalObjectReference::new("ispmanager-1")],
        currency: "USD".into(),
        time_zone: None,
        prices: PeriodPrices {
            one_month: Some(money(monthly)),
            ..PeriodPrices::default()
        },
        disabled_periods: vec![],
        setup_fee: None,
        renewal_prices: None,
        charging: Charging::default(),
        resources: vec![],
        policies: Policies::default(),
        hosting: None,
        virtual_server: None,
        license: None,
    }
}

/// A resource with `included` free and `monthly` per `step` above it.
pub fn resource(name: ResourceKind, included: u64, step: u64, monthly: &str) -> Resource {
    Resource {
        name,
        included,
        min: 0,
        max: 1_000_000,
        step,
        monthly_price: money(monthly),
    }
}

/// A service of `period` started on `start` with renewals `(period, paid_on)`.
pub fn service(period: Period, start: &str, renewals: &[(Period, &str)]) -> HostingServiceSpec {
    HostingServiceSpec {
        tariff_ref: LocalObjectReference::new("t"),
        client_ref: LocalObjectReference::new("c"),
        period,
        start_date: date(start),
        renewals: renewals
            .iter()
            .map(|&(period, paid_on)| Renewal {
                period,
                paid_on: date(paid_on),
                reference: None,
            })
            .collect(),
        tariff_changes: vec![],
        resource_changes: vec![],
        downtime: vec![],
        processing_module_ref: None,
        domain: None,
        resources: vec![],
        control_panel: None,
        operating_system: None,
        license_ip: None,
        suspended: false,
        deletion_policy: Default::default(),
        management_policy: Default::default(),
        write_connection_secret_to_ref: None,
    }
}

pub fn with_resource(
    mut spec: HostingServiceSpec,
    name: ResourceKind,
    quantity: u64,
) -> HostingServiceSpec {
    spec.resources.retain(|r| r.name != name);
    spec.resources.push(ResourceQuantity { name, quantity });
    spec
}

/// A client in no group, not suspended.
pub fn client() -> ClientSpec {
    ClientSpec {
        display_name: "Acme".into(),
        email: "ops@acme.example".into(),
        account_id: None,
        groups: vec![],
        suspended: false,
        suspension_reason: None,
    }
}
