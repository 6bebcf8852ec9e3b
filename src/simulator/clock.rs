//! The simulator's controllable clock, shared by every simulated product.
//!
//! Why: license expiry, session idle time, VMmanager 6 tasks and server-pool ages all follow
//! time, and tests cannot wait a month. The clock is real time plus an offset that only grows
//! (`POST /_admin/clock/advance`), so time still flows between requests and never goes back.
//! The offset is saved with the state file, so a restarted simulator keeps its date.
//!
//! API for the products and the controller tests: [`Clock::now`], [`Clock::today`],
//! [`Clock::advance`].

use std::sync::{Arc, Mutex};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// Real time shifted by an adjustable offset. Clones share the offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset: Arc<Mutex<SignedDuration>>,
}

impl Clock {
    /// A clock already `offset` ahead of real time.
    pub fn with_offset(offset: SignedDuration) -> Self {
        Self {
            offset: Arc::new(Mutex::new(offset)),
        }
    }

    /// The simulated now.
    pub fn now(&self) -> Timestamp {
        Timestamp::now() + self.offset()
    }

    /// The simulated date in UTC (license dates are dates, in UTC).
    pub fn today(&self) -> Date {
        self.now().to_zoned(TimeZone::UTC).date()
    }

    /// How far ahead of real time the clock is.
    pub fn offset(&self) -> SignedDuration {
        *self.offset.lock().expect("clock lock")
    }

    /// Moves the clock forward by `by` (negative values are ignored: time never goes back).
    /// Returns the new simulated now.
    pub fn advance(&self, by: SignedDuration) -> Timestamp {
        let mut offset = self.offset.lock().expect("clock lock");
        if by.is_positive() {
            *offset += by;
        }
        Timestamp::now() + *offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_and_today_and_never_back() {
        let clock = Clock::default();
        let before = clock.today();
        clock.advance(SignedDuration::from_hours(24 * 31));
        assert!(clock.today() > before);
        let offset = clock.offset();
        clock.advance(SignedDuration::from_hours(-100));
        assert_eq!(clock.offset(), offset);
        assert!(clock.clone().now() > Timestamp::now() + SignedDuration::from_hours(24 * 30));
    }
}
