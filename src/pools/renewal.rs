//! When a license bound to a service is prolonged, and for which license period.
//!
//! The rules, and where they come from:
//!
//! - **The period** (seed 001, "Comparing order periods"; seed 003, `Period` lines of
//!   `cpbillmgr.conf`; seed 000, "all the licenses are ordered with ISPsystem on a monthly
//!   basis"): a license is bought and prolonged for one month, unless a period comparison of
//!   the licensing module maps the service's period to another license period, optionally only
//!   for one tariff ("Compare with tariff plan").
//! - **The date** (seed 003, "Renewing licenses associated with services"): *"A license is
//!   renewed regardless the renewal of the main services"* — a VPS paid for a year on
//!   2013-01-01 has a monthly license expiring 2013-02-01, renewed on 2013-01-31 *"if the
//!   service is still active"*. The day is the license's expiry minus
//!   `renewDaysBeforeExpiry` (the partner module: one day before, reference §5.4), never the
//!   service's own expiry.
//! - **The service's state** (seed 003, "Operations that can be performed with licenses when
//!   changing a service status"): *"suspending the main service will also suspend the license
//!   …, activating the main license will activate the service"*; a suspended service's
//!   license is suspended and not renewed (seed 000 extends only licenses *"attached … to
//!   hosting plan in use by a client"*); *"If the client cancelled the server, the license won't
//!   be renewed"* — it goes to the pool ([`super::license_pool::release_plan`]). On resume, an
//!   expired license is prolonged first (the partner module's unsuspend, reference §5.4).

use crate::api::common::{Date, LicensePeriod, Period};
use crate::api::processing_module::LicensingSettings;
use crate::billing::dates::add_days;

/// The license period for a service of `service_period` on tariff `tariff` (seed 001).
///
/// A comparison naming the tariff wins over one for all tariffs; among equals the first listed
/// wins. Without a matching comparison: one month — seed 001's "minimum order period",
/// seed 000's "monthly basis", and `LicensingSettings.periodComparisons`' documented default.
/// (Seed 001 could be read as keeping a service period the licensing server also sells, such
/// as one year; the other seeds and the API type say monthly, so monthly it is.)
pub fn license_period(
    settings: &LicensingSettings,
    service_period: Period,
    tariff: Option<&str>,
) -> LicensePeriod {
    let for_period = || {
        settings
            .period_comparisons
            .iter()
            .filter(move |c| c.service_period == service_period)
    };
    let specific = tariff
        .and_then(|t| for_period().find(|c| c.tariff_ref.as_ref().is_some_and(|r| r.name == t)));
    specific
        .or_else(|| for_period().find(|c| c.tariff_ref.is_none()))
        .map_or(LicensePeriod::OneMonth, |c| c.license_period)
}

/// The `period` parameter of `service.prolong`/`soft.order.param`, in months (reference
/// §5.3: `1`, `12`; `3` and `6` seen in a HostBill module). `None` for the trial (ordered with
/// `period=-100`, never prolonged) and for lifetime licenses (never prolonged).
pub fn prolong_months(period: LicensePeriod) -> Option<u32> {
    match period {
        LicensePeriod::OneMonth => Some(1),
        LicensePeriod::ThreeMonths => Some(3),
        LicensePeriod::SixMonths => Some(6),
        LicensePeriod::OneYear => Some(12),
        LicensePeriod::Trial | LicensePeriod::Lifetime => None,
    }
}

/// The next prolongation of a bound license.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenewalPlan {
    /// The day to prolong: `renewDaysBeforeExpiry` days before the license's expiry, or
    /// `today` when that day has passed (a late renewal is done at once). Never before today,
    /// so it is directly the requeue time.
    pub on: Date,
    /// The period to prolong for.
    pub period: LicensePeriod,
}

impl RenewalPlan {
    /// Whether the prolongation is due on `today`.
    pub fn is_due(&self, today: Date) -> bool {
        self.on <= today
    }
}

/// When and for how long the license of an **active** service that expires on `expires_on` is
/// prolonged, seen on `today` (seed 003: renewed while the service is active, independent of
/// the service's own period).
///
/// The period is [`license_period`]; a comparison to the trial is read as one month (the
/// minimum order period, seed 001), since a trial cannot be prolonged. `None` for a lifetime
/// license: it is never prolonged.
pub fn next_renewal(
    expires_on: Date,
    settings: &LicensingSettings,
    service_period: Period,
    tariff: Option<&str>,
    today: Date,
) -> Option<RenewalPlan> {
    let period = match license_period(settings, service_period, tariff) {
        LicensePeriod::Lifetime => return None,
        LicensePeriod::Trial => LicensePeriod::OneMonth,
        p => p,
    };
    // Dates near the start of the calendar cannot underflow by 27 days in practice; if one
    // did, the renewal is simply due.
    let nominal =
        add_days(expires_on, -i64::from(settings.renew_days_before_expiry)).unwrap_or(today);
    Some(RenewalPlan {
        on: nominal.max(today),
        period,
    })
}

/// Where the service that owns a license is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceState {
    /// Active and paid: its license is kept active and renewed.
    Active,
    /// Suspended (by spec, by its client, or unpaid): its license is suspended, not renewed.
    Suspended,
    /// Terminated or deleted: its license goes to the pool.
    Terminated,
}

/// A license bound to a service, as last seen at the licensing server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoundLicense {
    /// `expiredate`: the first day it is not paid.
    pub expires_on: Date,
    /// Whether it is suspended (`soft` status 3).
    pub suspended: bool,
}

/// What to do with a service's license on `today`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LicenseAction {
    /// Prolong now (`service.prolong`) for the plan's period.
    Renew(RenewalPlan),
    /// Nothing now; come back on the plan's day.
    WaitUntil(RenewalPlan),
    /// The service is suspended and the license is not: suspend it (`soft.suspend`).
    Suspend,
    /// The service is active again and the license is suspended: prolong it first when it
    /// has expired (`prolong`), then resume it (`soft.resume`) and rebind name/IP/remoteid.
    Resume { prolong: Option<LicensePeriod> },
    /// The service is gone: put the license in the pool ([`super::license_pool::release_plan`]).
    Release,
    /// Nothing to do, ever (a suspended service's suspended license; a lifetime license).
    Nothing,
}

/// Seed 003's license follow-the-service rules for one license on `today`.
///
/// A suspended service's license is suspended and **not renewed**, even when it runs out
/// meanwhile: seed 000 renews only licenses of services *in use*. The licensing server
/// deletes licenses 30 days after they expire unpaid (billing-conventions.md §3.6), so a
/// service suspended longer than that finds its license gone on resume and the reconciler
/// acquires a new one (pool first).
pub fn license_action(
    state: ServiceState,
    license: BoundLicense,
    settings: &LicensingSettings,
    service_period: Period,
    tariff: Option<&str>,
    today: Date,
) -> LicenseAction {
    match state {
        ServiceState::Terminated => LicenseAction::Release,
        ServiceState::Suspended if license.suspended => LicenseAction::Nothing,
        ServiceState::Suspended => LicenseAction::Suspend,
        ServiceState::Active => {
            let plan = next_renewal(license.expires_on, settings, service_period, tariff, today);
            if license.suspended {
                let expired = license.expires_on <= today;
                return LicenseAction::Resume {
                    prolong: plan.filter(|_| expired).map(|p| p.period),
                };
            }
            match plan {
                Some(plan) if plan.is_due(today) => LicenseAction::Renew(plan),
                Some(plan) => LicenseAction::WaitUntil(plan),
                None => LicenseAction::Nothing,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::LocalObjectReference;
    use crate::api::processing_module::PeriodComparison;
    use crate::billing::dates::add_months;
    use proptest::prelude::*;

    fn date(s: &str) -> Date {
        Date(s.parse().expect("a YYYY-MM-DD date"))
    }

    fn settings(comparisons: Vec<PeriodComparison>) -> LicensingSettings {
        LicensingSettings {
            period_comparisons: comparisons,
            renew_days_before_expiry: 1,
            ..LicensingSettings::default()
        }
    }

    fn compare(service: Period, license: LicensePeriod, tariff: Option<&str>) -> PeriodComparison {
        PeriodComparison {
            service_period: service,
            license_period: license,
            tariff_ref: tariff.map(LocalObjectReference::new),
        }
    }

    /// Seed 003's worked example: a VPS paid for a year on 2013-01-01 with a monthly license
    /// that expires 2013-02-01 is renewed on 2013-01-31 for one month, and again a month
    /// later, regardless of the VPS's own year.
    #[test]
    fn seed_003_a_yearly_vps_renews_its_license_monthly() {
        let s = settings(vec![]);
        let plan = next_renewal(
            date("2013-02-01"),
            &s,
            Period::OneYear,
            None,
            date("2013-01-01"),
        )
        .unwrap();
        assert_eq!(
            plan,
            RenewalPlan {
                on: date("2013-01-31"),
                period: LicensePeriod::OneMonth
            }
        );
        assert!(!plan.is_due(date("2013-01-30")));
        assert!(plan.is_due(date("2013-01-31")));
        let active = BoundLicense {
            expires_on: date("2013-02-01"),
            suspended: false,
        };
        assert_eq!(
            license_action(
                ServiceState::Active,
                active,
                &s,
                Period::OneYear,
                None,
                date("2013-01-31")
            ),
            LicenseAction::Renew(plan)
        );
        // After the prolongation the license expires 2013-03-01: next on 2013-02-28.
        let next = next_renewal(
            date("2013-03-01"),
            &s,
            Period::OneYear,
            None,
            date("2013-02-01"),
        )
        .unwrap();
        assert_eq!(next.on, date("2013-02-28"));
        // "If the client cancelled the server, the license won't be renewed."
        assert_eq!(
            license_action(
                ServiceState::Terminated,
                active,
                &s,
                Period::OneYear,
                None,
                date("2013-01-31")
            ),
            LicenseAction::Release
        );
    }

    /// Seed 001: "a hosting provider [can] purchase ISPsystem licenses for 1 year and offer
    /// them as monthly licenses"; a comparison may be limited to one tariff.
    #[test]
    fn seed_001_period_comparisons() {
        let s = settings(vec![
            compare(Period::OneMonth, LicensePeriod::OneYear, None),
            compare(Period::OneYear, LicensePeriod::Lifetime, Some("vps-pro")),
            compare(
                Period::OneMonth,
                LicensePeriod::ThreeMonths,
                Some("vps-pro"),
            ),
        ]);
        assert_eq!(
            license_period(&s, Period::OneMonth, None),
            LicensePeriod::OneYear
        );
        assert_eq!(
            license_period(&s, Period::OneMonth, Some("vps-basic")),
            LicensePeriod::OneYear
        );
        // The tariff's own comparison wins over the general one, whatever the order.
        assert_eq!(
            license_period(&s, Period::OneMonth, Some("vps-pro")),
            LicensePeriod::ThreeMonths
        );
        assert_eq!(
            license_period(&s, Period::OneYear, Some("vps-pro")),
            LicensePeriod::Lifetime
        );
        // No comparison: the minimum order period, one month.
        assert_eq!(
            license_period(&s, Period::OneYear, Some("vps-basic")),
            LicensePeriod::OneMonth
        );
        assert_eq!(
            license_period(&s, Period::SixMonths, None),
            LicensePeriod::OneMonth
        );
        // A lifetime license is never renewed.
        assert_eq!(
            next_renewal(
                date("2030-01-01"),
                &s,
                Period::OneYear,
                Some("vps-pro"),
                date("2026-01-01")
            ),
            None
        );
    }

    /// Seed 003 `cpbillmgr.conf` example: 1-month VPS → 1-month license, longer periods →
    /// lifetime (here: 3m/6m/1y → lifetime).
    #[test]
    fn seed_003_cpbillmgr_period_lines() {
        let s = settings(vec![
            compare(Period::OneMonth, LicensePeriod::OneMonth, None),
            compare(Period::ThreeMonths, LicensePeriod::Lifetime, None),
            compare(Period::SixMonths, LicensePeriod::Lifetime, None),
            compare(Period::OneYear, LicensePeriod::Lifetime, None),
        ]);
        assert_eq!(
            license_period(&s, Period::OneMonth, None),
            LicensePeriod::OneMonth
        );
        for p in [Period::ThreeMonths, Period::SixMonths, Period::OneYear] {
            assert_eq!(license_period(&s, p, None), LicensePeriod::Lifetime);
        }
    }

    #[test]
    fn renew_days_before_expiry_moves_the_day_and_late_renewals_are_due_today() {
        let mut s = settings(vec![]);
        s.renew_days_before_expiry = 7;
        let plan = next_renewal(
            date("2026-03-01"),
            &s,
            Period::OneMonth,
            None,
            date("2026-02-01"),
        )
        .unwrap();
        assert_eq!(plan.on, date("2026-02-22"));
        // The controller was down: the renewal is due at once, even past expiry.
        let late = next_renewal(
            date("2026-03-01"),
            &s,
            Period::OneMonth,
            None,
            date("2026-03-04"),
        )
        .unwrap();
        assert_eq!(late.on, date("2026-03-04"));
        assert!(late.is_due(date("2026-03-04")));
    }

    #[test]
    fn a_suspended_service_suspends_its_license_and_never_renews_it() {
        let s = settings(vec![]);
        let active = BoundLicense {
            expires_on: date("2026-06-01"),
            suspended: false,
        };
        let suspended = BoundLicense {
            suspended: true,
            ..active
        };
        // On the renewal day, and after expiry: suspend, then nothing.
        for today in ["2026-05-31", "2026-06-10"] {
            assert_eq!(
                license_action(
                    ServiceState::Suspended,
                    active,
                    &s,
                    Period::OneMonth,
                    None,
                    date(today)
                ),
                LicenseAction::Suspend
            );
            assert_eq!(
                license_action(
                    ServiceState::Suspended,
                    suspended,
                    &s,
                    Period::OneMonth,
                    None,
                    date(today)
                ),
                LicenseAction::Nothing
            );
        }
    }

    #[test]
    fn resuming_prolongs_an_expired_license_first() {
        let s = settings(vec![compare(Period::OneYear, LicensePeriod::OneYear, None)]);
        let suspended = BoundLicense {
            expires_on: date("2026-06-01"),
            suspended: true,
        };
        assert_eq!(
            license_action(
                ServiceState::Active,
                suspended,
                &s,
                Period::OneYear,
                None,
                date("2026-05-20")
            ),
            LicenseAction::Resume { prolong: None }
        );
        // Expiring today counts as expired (`today >= duedate`, reference §5.4).
        assert_eq!(
            license_action(
                ServiceState::Active,
                suspended,
                &s,
                Period::OneYear,
                None,
                date("2026-06-01")
            ),
            LicenseAction::Resume {
                prolong: Some(LicensePeriod::OneYear)
            }
        );
    }

    #[test]
    fn an_active_license_waits_until_its_day() {
        let s = settings(vec![]);
        let active = BoundLicense {
            expires_on: date("2026-06-01"),
            suspended: false,
        };
        assert_eq!(
            license_action(
                ServiceState::Active,
                active,
                &s,
                Period::ThreeMonths,
                None,
                date("2026-05-10")
            ),
            LicenseAction::WaitUntil(RenewalPlan {
                on: date("2026-05-31"),
                period: LicensePeriod::OneMonth
            })
        );
    }

    #[test]
    fn a_trial_comparison_renews_monthly() {
        let s = settings(vec![compare(Period::OneMonth, LicensePeriod::Trial, None)]);
        assert_eq!(
            next_renewal(
                date("2026-06-01"),
                &s,
                Period::OneMonth,
                None,
                date("2026-05-01")
            )
            .map(|p| p.period),
            Some(LicensePeriod::OneMonth)
        );
    }

    #[test]
    fn prolong_months_are_the_licensing_servers_period_ids() {
        assert_eq!(prolong_months(LicensePeriod::OneMonth), Some(1));
        assert_eq!(prolong_months(LicensePeriod::OneYear), Some(12));
        assert_eq!(prolong_months(LicensePeriod::Lifetime), None);
        assert_eq!(prolong_months(LicensePeriod::Trial), None);
    }

    fn period() -> impl Strategy<Value = Period> {
        prop::sample::select(Period::ALL.to_vec())
    }

    proptest! {
        /// The renewal day depends on the license's expiry only, never on the service's
        /// period (seed 003), and is never in the past.
        #[test]
        fn the_renewal_day_ignores_the_service_period(
            offset in 0i64..2000,
            days in 1u32..=27,
            today_offset in 0i64..2100,
            a in period(),
            b in period(),
        ) {
            let base = date("2025-01-01");
            let expires = add_days(base, offset).unwrap();
            let today = add_days(base, today_offset).unwrap();
            let mut s = settings(vec![]);
            s.renew_days_before_expiry = days;
            let pa = next_renewal(expires, &s, a, None, today).unwrap();
            let pb = next_renewal(expires, &s, b, None, today).unwrap();
            prop_assert_eq!(pa, pb);
            prop_assert!(pa.on >= today);
            prop_assert!(pa.on < expires || pa.on == today);
            prop_assert_eq!(pa.period, LicensePeriod::OneMonth);
            // A monthly renewal from the anchor lands on the next anniversary's eve.
            let next = next_renewal(add_months(expires, 1).unwrap(), &s, a, None, today).unwrap();
            prop_assert!(next.on >= pa.on);
        }
    }
}
