//! The provider's time zone: which civil day it is, and when a billing day begins.
//!
//! **Per tariff** (`Tariff.spec.timeZone`, an IANA name, UTC when unset), not per namespace:
//! the tariff already carries every rule that decides a billing day (charging mode, weekend
//! rule, auto-deletion), it is what a provider reviews in git before a change, and one brand
//! (namespace) may sell in several regions with one tariff per region. A namespace-wide setting
//! would need either a new kind or reading `Namespace` objects (cluster-scoped RBAC) for a
//! value that is not in the provider's manifests.
//!
//! Every billing day (expiry, suspension, the weekend rule, deletion, calendar months) is a
//! civil date in that zone and begins at its local midnight. jiff carries the IANA database
//! in the binary (`tzdb-bundle-always`), so a bare container without `/usr/share/zoneinfo`
//! gets the same answer as a full system.

use jiff::Timestamp;
use jiff::civil;
use jiff::tz::TimeZone;

use crate::api::common::Date;
use crate::api::tariff::TariffSpec;

/// The tariff's zone; UTC when unset. An unknown name is refused by the validator, so it
/// falls back to UTC here rather than failing a reconcile.
pub fn of(tariff: &TariffSpec) -> TimeZone {
    tariff
        .time_zone
        .as_deref()
        .and_then(|name| TimeZone::get(name).ok())
        .unwrap_or(TimeZone::UTC)
}

/// Whether `name` is a zone of the bundled IANA database.
pub fn is_known(name: &str) -> bool {
    TimeZone::get(name).is_ok()
}

/// The civil day `now` falls on in `zone`.
pub fn today(zone: &TimeZone, now: Timestamp) -> civil::Date {
    now.to_zoned(zone.clone()).date()
}

/// The instant `day` begins in `zone` (its first valid local time, should a DST change skip
/// midnight).
pub fn start_of(zone: &TimeZone, day: Date) -> Option<Timestamp> {
    day.0.to_zoned(zone.clone()).ok().map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::Period;
    use crate::api::tariff::WeekendSuspension;
    use crate::billing::lifecycle::standing;
    use crate::billing::testing::{client, date, service, tariff};

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_day_is_the_providers_day_east_and_west_of_utc() {
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        let la = TimeZone::get("America/Los_Angeles").unwrap();
        // Friday 2026-07-31 20:00 UTC is Saturday morning in Tokyo and Friday noon in LA.
        let now = at("2026-07-31T20:00:00Z");
        assert_eq!(today(&tokyo, now), date("2026-08-01").0);
        assert_eq!(today(&la, now), date("2026-07-31").0);
        assert_eq!(today(&TimeZone::UTC, now), date("2026-07-31").0);
    }

    #[test]
    fn the_weekend_rule_around_midnight_east_and_west_of_utc() {
        // Paid until Saturday Aug 1; "do not suspend" moves the suspension to Monday Aug 3.
        let s = service(Period::OneMonth, "2026-07-01", &[]);
        let suspended = |zone: &str, now: &str| {
            let mut t = tariff("3.00");
            t.policies.weekend_suspension = WeekendSuspension::DoNotSuspend;
            t.time_zone = Some(zone.into());
            let day = today(&of(&t), at(now));
            !matches!(
                standing(&t, &s, &client(), day).unwrap(),
                crate::billing::lifecycle::Standing::Active { .. }
            )
        };
        // Monday Aug 3 begins at 15:00 UTC on Sunday in Tokyo, at 07:00 UTC Monday in LA.
        assert!(!suspended("Asia/Tokyo", "2026-08-02T14:59:00Z"));
        assert!(suspended("Asia/Tokyo", "2026-08-02T15:00:00Z"));
        assert!(!suspended("America/Los_Angeles", "2026-08-03T06:59:00Z"));
        assert!(suspended("America/Los_Angeles", "2026-08-03T07:00:00Z"));
    }

    #[test]
    fn a_billing_day_begins_at_local_midnight_and_unset_is_utc() {
        let mut t = tariff("3.00");
        assert_eq!(of(&t), TimeZone::UTC);
        t.time_zone = Some("Europe/Berlin".into());
        assert_eq!(
            start_of(&of(&t), date("2026-07-01")),
            Some(at("2026-06-30T22:00:00Z"))
        );
        assert!(is_known("America/Sao_Paulo"));
        assert!(!is_known("Mars/Olympus_Mons"));
    }
}
