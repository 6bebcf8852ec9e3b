//! The quote of a service: what its first order cost, its setup fee, what its next renewal
//! costs, and the late fee due if it were renewed on a given day — the `status.quote` of a
//! `HostingService` and the output of `hostplane quote`.

use rust_decimal::Decimal;

use super::events::{DeclaredEvent, Tariffs, declared_events};
use super::history::{History, only_current};
use super::prices::setup_fee;
use super::service::{PaidPeriod, Term};
use super::{BillingError, Result};
use crate::api::common::Date;
use crate::api::hosting_service::{HostingServiceSpec, Quote};
use crate::api::tariff::TariffSpec;

/// A service's paid period and quote on one day.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceQuote {
    /// The terms the spec declares, and `paid_until`.
    pub paid: PaidPeriod,
    /// The quote for `status.quote`.
    pub quote: Quote,
    /// A renewal of the service's period paid on the quote's day: its dates, price and late
    /// fee, or why there can be none (the tariff ended, the day is before the order).
    pub renewal_on_day: std::result::Result<Term, BillingError>,
}

/// Quotes `service` on `tariff` as of `today`. Fails when the spec itself cannot be priced
/// (period not sold, tariff ended before the order or a renewal, renewals out of order, ...).
pub fn quote(
    tariff: &TariffSpec,
    service: &HostingServiceSpec,
    today: Date,
) -> Result<ServiceQuote> {
    quote_history(&History::new(tariff, &only_current, service), tariff, today)
}

/// [`quote`] with every declared event of the service and its cost; `tariffs` finds the
/// tariffs its `spec.tariffChanges` moved from, which price the days before each change.
pub fn quote_with_events<'a>(
    tariff: &'a TariffSpec,
    tariffs: &Tariffs<'a>,
    service: &HostingServiceSpec,
    today: Date,
) -> Result<ServiceQuote> {
    let mut q = quote_history(&History::new(tariff, tariffs, service), tariff, today)?;
    q.quote.events = declared_events(tariff, tariffs, service)?
        .iter()
        .map(DeclaredEvent::quoted)
        .collect();
    Ok(q)
}

/// The quote of `history` whose current tariff is `tariff`: the next renewal is a sale of
/// the current tariff.
fn quote_history(
    history: &History<'_, '_>,
    tariff: &TariffSpec,
    today: Date,
) -> Result<ServiceQuote> {
    let service = history.service();
    let paid = history.paid_period()?;
    let renewal_price = paid.on_time_renewal_price(tariff, service, service.period)?;
    let renewal_on_day = paid.preview_renewal(tariff, service, service.period, today);
    let late_fee = renewal_on_day
        .as_ref()
        .ok()
        .and_then(|t| t.late.as_ref())
        .map(|l| l.fee)
        .filter(|fee| fee.0 > Decimal::ZERO);
    let quote = Quote {
        currency: tariff.currency.clone(),
        order_price: paid.terms()[0].price.total,
        setup_fee: setup_fee(history.ordered_on()?),
        renewal_price: renewal_price.total,
        late_fee,
        events: Vec::new(),
    };
    Ok(ServiceQuote {
        paid,
        quote,
        renewal_on_day,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::Period;
    use crate::api::tariff::{LateFeeType, LateRenewalFee, PeriodPrices, ResourceKind};
    use crate::billing::testing::{date, money, resource, service, tariff, with_resource};

    fn start_tariff() -> TariffSpec {
        // examples/03-tariffs.yaml, hosting-start, trimmed to what is billed.
        let mut t = tariff("3.00");
        t.prices.one_year = Some(money("30.00"));
        t.setup_fee = Some(money("0.00"));
        t.renewal_prices = Some(PeriodPrices {
            one_year: Some(money("33.00")),
            ..PeriodPrices::default()
        });
        t.resources = vec![resource(ResourceKind::DiskSpace, 1024, 1024, "0.50")];
        t.policies.late_renewal_fee = LateRenewalFee {
            type_: LateFeeType::Percent,
            amount: None,
            percent: Some(50),
        };
        t
    }

    #[test]
    fn a_monthly_service_with_extra_disk() {
        let s = with_resource(
            service(
                Period::OneMonth,
                "2026-11-02",
                &[(Period::OneMonth, "2026-11-30")],
            ),
            ResourceKind::DiskSpace,
            2048,
        );
        let q = quote(&start_tariff(), &s, date("2026-12-15")).unwrap();
        assert_eq!(q.paid.paid_until(), date("2027-01-02"));
        assert_eq!(
            q.quote,
            Quote {
                currency: "USD".into(),
                order_price: money("3.50"),
                setup_fee: money("0.00"),
                renewal_price: money("3.50"),
                late_fee: None,
                events: vec![],
            }
        );
        // Renewed on Jan 10: 9 overdue days × 3.50/30 × 50 % = 0.525 → 0.53 (half up).
        let late = quote(&start_tariff(), &s, date("2027-01-10")).unwrap();
        assert_eq!(late.quote.late_fee, Some(money("0.53")));
        let term = late.renewal_on_day.unwrap();
        assert_eq!(
            (term.start, term.end),
            (date("2027-01-10"), date("2027-02-10"))
        );
    }

    #[test]
    fn the_renewal_price_is_the_special_renewal_price() {
        let s = service(Period::OneYear, "2026-03-01", &[]);
        let q = quote(&start_tariff(), &s, date("2026-04-01")).unwrap();
        assert_eq!(
            (q.quote.order_price, q.quote.renewal_price),
            (money("30.00"), money("33.00"))
        );
        assert_eq!(q.paid.paid_until(), date("2027-03-01"));
    }

    #[test]
    fn a_quote_after_the_tariff_ended_still_prices_but_cannot_renew() {
        let mut t = start_tariff();
        t.policies.end_date = Some(date("2026-12-31"));
        let s = service(Period::OneMonth, "2026-11-02", &[]);
        let q = quote(&t, &s, date("2027-01-05")).unwrap();
        assert_eq!(q.quote.renewal_price, money("3.00"));
        assert_eq!(q.quote.late_fee, None);
        assert!(matches!(
            q.renewal_on_day,
            Err(BillingError::TariffEnded { .. })
        ));
    }
}
