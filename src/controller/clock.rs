//! The controller's notion of today. Billing dates (expiry, suspension, deletion, renewals)
//! are compared with it; production uses the system clock, and tests pass the simulator's
//! clock so that advancing one advances both.

use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;

#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    pub fn system() -> Self {
        Self(Arc::new(Timestamp::now))
    }

    /// A clock that reads `now` (e.g. a simulator's clock with its offset).
    pub fn from_fn(now: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    pub fn now(&self) -> Timestamp {
        (self.0)()
    }

    /// Today in UTC, for what has no provider zone (pools, licenses).
    pub fn today(&self) -> Date {
        self.today_in(&jiff::tz::TimeZone::UTC)
    }

    /// Today in `zone`: a tariff's billing day ([`crate::billing::zone`]).
    pub fn today_in(&self, zone: &jiff::tz::TimeZone) -> Date {
        crate::billing::zone::today(zone, self.now())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_gives_its_day_in_utc() {
        let at: Timestamp = "2026-02-28T23:30:00-02:00".parse().unwrap();
        let clock = Clock::from_fn(move || at);
        assert_eq!(clock.today().to_string(), "2026-03-01");
    }
}
