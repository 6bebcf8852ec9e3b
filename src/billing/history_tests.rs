//! Policies are never retroactive (issue 15): a tariff edited after a service was sold — a
//! period disabled, a longer minimum order period, an earlier end date — leaves the service's
//! paid history priced, and an unpaid service is still suspended and terminated.

use jiff::civil;

use super::lifecycle::{Standing, SuspensionCause, admission, standing};
use super::policy::ProductDefaults;
use super::testing::{client, date, service, tariff};
use super::{paid_period, quote};
use crate::api::common::Period;
use crate::api::tariff::{DurationUnit, MinimumOrderPeriod, ProductType, TariffSpec};

fn on(day: &str) -> civil::Date {
    date(day).0
}

/// The tariff the service was sold on, deleting unpaid services 30 days after expiry.
fn sold_on() -> TariffSpec {
    let mut t = tariff("3.00");
    t.policies.auto_deletion_days = Some(30);
    t
}

/// The same tariff after every edit the issue names.
fn edited_since() -> Vec<(&'static str, TariffSpec)> {
    let mut disabled = sold_on();
    disabled.disabled_periods = vec![Period::OneMonth];
    let mut minimum = sold_on();
    minimum.policies.minimum_order_period = Some(MinimumOrderPeriod {
        length: 3,
        unit: DurationUnit::Months,
    });
    let mut ended = sold_on();
    ended.policies.end_date = Some(date("2026-08-10"));
    vec![
        ("period disabled", disabled),
        ("minimum raised", minimum),
        ("end date moved before a renewal", ended),
    ]
}

#[test]
fn a_tariff_edit_leaves_history_priced_and_an_unpaid_service_is_still_suspended_and_terminated() {
    // Ordered Aug 1 for a month, renewed Aug 25: paid until Oct 1.
    let s = service(
        Period::OneMonth,
        "2026-08-01",
        &[(Period::OneMonth, "2026-08-25")],
    );
    let before = paid_period(&sold_on(), &s).unwrap();
    for (edit, t) in edited_since() {
        let after = paid_period(&t, &s).unwrap_or_else(|e| panic!("{edit}: {e}"));
        assert_eq!(after, before, "{edit}: the history is priced as it was");
        assert_eq!(
            standing(&t, &s, &client(), on("2026-10-01")).unwrap(),
            Standing::Suspended {
                since: Some(date("2026-10-01")),
                cause: SuspensionCause::Unpaid,
                deletion_on: Some(date("2026-10-31")),
                next_change: Some(date("2026-10-31")),
            },
            "{edit}: unpaid, so suspended"
        );
        assert_eq!(
            standing(&t, &s, &client(), on("2026-10-31")).unwrap(),
            Standing::Terminated {
                since: date("2026-10-31")
            },
            "{edit}: and terminated"
        );
        assert!(
            quote(&t, &s, date("2026-09-15")).is_ok(),
            "{edit}: quotable"
        );
    }
}

#[test]
fn the_same_edits_still_refuse_a_new_order_and_a_new_renewal() {
    let s = service(Period::OneMonth, "2026-08-20", &[]);
    for (edit, t) in edited_since() {
        assert!(admission(&t, &s, &client(), &[]).is_err(), "{edit}");
    }
    // A renewal not yet made is a new sale, judged by the tariff of its day.
    let mut t = sold_on();
    t.disabled_periods = vec![Period::OneMonth];
    let paid = paid_period(&t, &s).unwrap();
    assert!(
        paid.preview_renewal(&t, &s, Period::OneMonth, date("2026-09-10"))
            .is_err()
    );
}

#[test]
fn a_tariff_without_an_auto_deletion_period_takes_its_product_types() {
    // Seed 002: a blank auto-deletion period uses the service type's; without one, an
    // expired service is never deleted. Paid until Sep 1, the product type deletes after 30.
    let mut t = tariff("3.00");
    t.policies.auto_deletion_days = None;
    let s = service(Period::OneMonth, "2026-08-01", &[]);
    let defaults = ProductDefaults {
        auto_deletion_days: vec![(ProductType::SharedHosting, 30)],
    };
    let with_fallback = defaults.apply(&t);
    assert_eq!(
        standing(&with_fallback, &s, &client(), on("2026-10-01")).unwrap(),
        Standing::Terminated {
            since: date("2026-10-01")
        }
    );
    assert!(matches!(
        standing(&t, &s, &client(), on("2027-10-01")).unwrap(),
        Standing::Suspended {
            deletion_on: None,
            ..
        }
    ));
}
