//! "Charge client after suspension" (seed 002, daily charging): when a client may suspend
//! their own services and the tariff does not charge while suspended, the days of each
//! declared downtime (`spec.downtime`) are refunded.
//!
//! A downtime day is refunded at what that day was paid: each paid term's price × the
//! suspended days inside it / the term's days, exact, rounded once per downtime. So a refund
//! never exceeds what was paid for those days, and unpaid days (after the expiry) refund
//! nothing. Only ended downtime is declared (`until` is required), so nothing is refunded
//! ahead of time.

use serde::Serialize;

use super::dates::days_between;
use super::exact::Exact;
use super::service::PaidPeriod;
use super::term::Share;
use crate::api::common::{Date, Money};
use crate::api::hosting_service::HostingServiceSpec;
use crate::api::tariff::{ChargingMode, TariffSpec};

/// The refund of `spec.downtime[index]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DowntimeRefund {
    pub from: Date,
    pub until: Date,
    /// Paid days inside the downtime.
    pub days: i64,
    pub amount: Money,
}

/// Whether the tariff refunds downtime: daily charging, clients may suspend, and "charge
/// client after suspension" is off.
pub fn refunds_downtime(tariff: &TariffSpec) -> bool {
    let c = &tariff.charging;
    c.mode == ChargingMode::Daily && c.client_may_suspend && !c.charge_while_suspended
}

/// The refund of every declared downtime, in list order; none when the tariff does not refund.
pub fn refunds(
    tariff: &TariffSpec,
    paid: &PaidPeriod,
    service: &HostingServiceSpec,
) -> Vec<DowntimeRefund> {
    if !refunds_downtime(tariff) {
        return Vec::new();
    }
    service
        .downtime
        .iter()
        .map(|d| {
            let (mut days, mut amount) = (0, Exact::ZERO);
            for t in paid.terms().iter().filter(|t| t.days() > 0) {
                let overlap = days_between(d.from.max(t.start), d.until.min(t.end));
                if overlap > 0 {
                    days += overlap;
                    let share = Share {
                        numerator: overlap,
                        denominator: t.days(),
                    };
                    amount = amount.plus(Exact::of(t.price.total.0).share(share));
                }
            }
            DowntimeRefund {
                from: d.from,
                until: d.until,
                days,
                amount: amount.round(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::Period;
    use crate::api::service_events::DowntimeEvent;
    use crate::billing::paid_period;
    use crate::billing::testing::{daily, date, money, service, tariff};

    fn down(from: &str, until: &str) -> DowntimeEvent {
        DowntimeEvent {
            from: date(from),
            until: date(until),
            reference: None,
        }
    }

    fn daily_tariff(charge_while_suspended: bool) -> TariffSpec {
        let mut t = tariff("3.00");
        t.charging = daily(false);
        t.charging.client_may_suspend = true;
        t.charging.charge_while_suspended = charge_while_suspended;
        t
    }

    #[test]
    fn downtime_is_refunded_at_what_the_days_were_paid() {
        // January: 31 days × 0.10 = 3.10 paid; 5 days down → 0.50; past the expiry → nothing.
        let t = daily_tariff(false);
        let mut s = service(Period::OneMonth, "2026-01-01", &[]);
        s.downtime = vec![
            down("2026-01-10", "2026-01-15"),
            down("2026-02-01", "2026-02-05"),
        ];
        let paid = paid_period(&t, &s).unwrap();
        let r = refunds(&t, &paid, &s);
        assert_eq!((r[0].days, r[0].amount), (5, money("0.50")));
        assert_eq!((r[1].days, r[1].amount), (0, money("0.00")));
    }

    #[test]
    fn charge_client_after_suspension_refunds_nothing() {
        let t = daily_tariff(true);
        let mut s = service(Period::OneMonth, "2026-01-01", &[]);
        s.downtime = vec![down("2026-01-10", "2026-01-15")];
        let paid = paid_period(&t, &s).unwrap();
        assert!(refunds(&t, &paid, &s).is_empty());
        assert!(!refunds_downtime(&tariff("3.00")));
    }
}
