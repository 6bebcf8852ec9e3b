//! `cargo bench --bench licenses [-- SERVICES [SEED]]`: licenses bought versus licenses needed
//! over a simulated year of churn, with and without the license pool — the money the pool
//! saves (seeds 000, 001, 003).
//!
//! Drives the pure decisions the controller uses (`pools::license_pool::acquire`,
//! `take_plan`'s effect, `release_plan`'s effect, `expired_out`; `pools::renewal::
//! license_action`) day by day, with a seeded RNG for churn, so a run is reproducible:
//!
//! - day 0: SERVICES services (default 1,000), 60% ISPmanager Lite (3541, 6.00/month), 40%
//!   Business (4601, 12.00/month), periods 1m or 1y;
//! - every day each active service is cancelled with a 6%-a-month chance, and as many new
//!   orders arrive on average as were cancelled (the population stays near SERVICES);
//! - a new order takes a pooled license when the pool allows (same type, not cooling after
//!   its rebind, not a month past expiry; an expired one is prolonged on the take), else buys;
//!   bound licenses are prolonged a day before they expire; a cancelled service's license is
//!   suspended, renamed `free.lic` on `0.0.0.0` and pooled (or, without the pool, left to
//!   expire); pooled licenses are never renewed and leave a month after expiry.
//!
//! License policies: monthly licenses (seed 000), with the default one-month rebind cooling of
//! `LicensePool.minMonthsSinceRebind` and without it, and yearly licenses for every service
//! period (seed 001's period comparison), where a cancelled license keeps months of paid time.

use std::process::ExitCode;

use hostplane::api::common::{Date, LicensePeriod, Period};
use hostplane::api::processing_module::{LicensingSettings, PeriodComparison};
use hostplane::billing::dates::{add_days, add_months};
use hostplane::panel::licensing::LicenseStatus;
use hostplane::pools::license_pool::{
    Acquisition, FREE_IP, FREE_LICNAME, LicenseNeed, NeedKind, PoolLicense, PoolRules, acquire,
    expired_out, release_plan,
};
use hostplane::pools::renewal::{self, BoundLicense, LicenseAction, ServiceState};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rust_decimal::Decimal;

const DAYS: i64 = 365;
const MONTHLY_CHURN: f64 = 0.06;

struct Service {
    license: usize,
    period: Period,
}

#[derive(Default)]
struct Tally {
    needed: u64,
    bought: u64,
    taken: u64,
    prolonged: u64,
    spent: Decimal,
    pooled_at_end: usize,
}

fn price(license_type: &str) -> Decimal {
    match license_type {
        "3541" => Decimal::new(600, 2),
        _ => Decimal::new(1200, 2),
    }
}

fn months(period: LicensePeriod) -> i64 {
    i64::from(renewal::prolong_months(period).unwrap_or(1))
}

fn run(services: usize, seed: u64, yearly: bool, cooling: u32, pool: bool) -> Tally {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut settings: LicensingSettings =
        serde_json::from_value(serde_json::json!({})).expect("defaults");
    settings.reuse_licenses = pool;
    if yearly {
        settings.period_comparisons = [Period::OneMonth, Period::OneYear]
            .into_iter()
            .map(|p| PeriodComparison {
                service_period: p,
                license_period: LicensePeriod::OneYear,
                tariff_ref: None,
            })
            .collect();
    }
    let mut rules = PoolRules::new(&settings, None);
    rules.min_months_since_rebind = cooling;
    let start = Date("2026-01-01".parse().expect("a date"));
    let mut licenses: Vec<PoolLicense> = Vec::new();
    let mut active: Vec<Service> = Vec::new();
    let mut tally = Tally::default();
    let p_cancel = MONTHLY_CHURN / 30.0;

    let order = |today: Date,
                 rng: &mut StdRng,
                 licenses: &mut Vec<PoolLicense>,
                 tally: &mut Tally|
     -> Service {
        let license_type = if rng.random_bool(0.6) { "3541" } else { "4601" };
        let period = if rng.random_bool(0.5) {
            Period::OneMonth
        } else {
            Period::OneYear
        };
        let license_period = renewal::license_period(&settings, period, None);
        let need = LicenseNeed {
            kind: NeedKind::NewOrder,
            license_type: license_type.to_owned(),
            addon_quantity: 0,
            period: license_period,
        };
        tally.needed += 1;
        let free: Vec<PoolLicense> = licenses
            .iter()
            .filter(|l| l.is_free() && l.status != LicenseStatus::Deleted)
            .cloned()
            .collect();
        let index = match acquire(&free, &need, &rules, today) {
            Acquisition::Take(choice) => {
                let i = licenses
                    .iter()
                    .position(|l| l.id == choice.license_id)
                    .expect("a listed license");
                let l = &mut licenses[i];
                // take_plan: rebind (an IP change today), prolong if expired, resume.
                l.name = "Item #svc addon svc".into();
                l.ip = "203.0.113.1".into();
                l.ip_changed_on = Some(today);
                l.status = LicenseStatus::Active;
                if let Some(p) = choice.prolong {
                    tally.prolonged += 1;
                    tally.spent += price(license_type) * Decimal::from(months(p));
                    l.expires_on = add_months(today, months(p)).expect("in range");
                }
                tally.taken += 1;
                i
            }
            _ => {
                tally.bought += 1;
                tally.spent += price(license_type) * Decimal::from(months(license_period));
                licenses.push(PoolLicense {
                    id: licenses.len().to_string(),
                    license_type: license_type.to_owned(),
                    addon_quantity: 0,
                    ip: "203.0.113.1".into(),
                    name: "Item #svc addon svc".into(),
                    expires_on: add_months(today, months(license_period)).expect("in range"),
                    ip_changed_on: None,
                    key_changed_on: None,
                    status: LicenseStatus::Active,
                    reserved: false,
                });
                licenses.len() - 1
            }
        };
        Service {
            license: index,
            period,
        }
    };

    for _ in 0..services {
        let s = order(start, &mut rng, &mut licenses, &mut tally);
        active.push(s);
    }
    for day in 1..=DAYS {
        let today = add_days(start, day).expect("in range");
        // Cancellations: the license goes to the pool (release_plan's effect).
        let mut kept = Vec::with_capacity(active.len());
        let mut cancelled = 0usize;
        for s in active.drain(..) {
            if rng.random_bool(p_cancel) {
                cancelled += 1;
                let l = &mut licenses[s.license];
                let _plan = release_plan(&l.id, rules.reusable(&l.license_type));
                l.status = LicenseStatus::Suspended;
                l.name = FREE_LICNAME.into();
                l.ip = FREE_IP.into();
                l.ip_changed_on = Some(today);
            } else {
                kept.push(s);
            }
        }
        active = kept;
        // Pooled licenses a month past expiry leave (deleted at the licensing server).
        let gone: Vec<String> = expired_out(&licenses, &rules, today)
            .into_iter()
            .filter(|l| l.is_free() && l.status != LicenseStatus::Deleted)
            .map(|l| l.id.clone())
            .collect();
        for id in gone {
            let i: usize = id.parse().expect("numeric ids");
            licenses[i].status = LicenseStatus::Deleted;
        }
        // Renewals of bound licenses.
        for s in &active {
            let l = &mut licenses[s.license];
            let action = renewal::license_action(
                ServiceState::Active,
                BoundLicense {
                    expires_on: l.expires_on,
                    suspended: false,
                },
                &settings,
                s.period,
                None,
                today,
            );
            if let LicenseAction::Renew(plan) = action {
                tally.prolonged += 1;
                tally.spent += price(&l.license_type) * Decimal::from(months(plan.period));
                let base = l.expires_on.max(today);
                l.expires_on = add_months(base, months(plan.period)).expect("in range");
            }
        }
        // New orders: on average as many as were cancelled, at least the expected number.
        let expected = services as f64 * p_cancel;
        let arrivals = (cancelled as f64).max(expected);
        let n = arrivals.floor() as usize + usize::from(rng.random_bool(arrivals.fract()));
        for _ in 0..n {
            let s = order(today, &mut rng, &mut licenses, &mut tally);
            active.push(s);
        }
    }
    tally.pooled_at_end = licenses
        .iter()
        .filter(|l| l.is_free() && l.status != LicenseStatus::Deleted)
        .count();
    tally
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let services: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let seed: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(42);
    let started = std::time::Instant::now();
    println!(
        "license pool over {DAYS} days: {services} services, {:.0}% monthly churn, seed {seed}",
        MONTHLY_CHURN * 100.0
    );
    println!();
    println!(
        "| licenses | pool | needed | bought | from pool | prolonged | spent | saved by the pool | pooled at end |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (label, yearly, cooling) in [
        ("monthly, rebind cooling 1 month", false, 1),
        ("monthly, no rebind cooling", false, 0),
        ("yearly (1m,1y → 1y), cooling 1 month", true, 1),
    ] {
        let without = run(services, seed, yearly, cooling, false);
        let with = run(services, seed, yearly, cooling, true);
        for (pool, t) in [("off", &without), ("on", &with)] {
            let saved = if pool == "on" {
                let d = without.spent - t.spent;
                let pct = if without.spent.is_zero() {
                    Decimal::ZERO
                } else {
                    (d * Decimal::from(100) / without.spent).round_dp(1)
                };
                format!("{d} ({pct}%)")
            } else {
                "—".to_owned()
            };
            println!(
                "| {label} | {pool} | {} | {} | {} | {} | {} | {saved} | {} |",
                t.needed, t.bought, t.taken, t.prolonged, t.spent, t.pooled_at_end
            );
        }
    }
    println!();
    println!("(simulated in {:.2?})", started.elapsed());
    ExitCode::SUCCESS
}
