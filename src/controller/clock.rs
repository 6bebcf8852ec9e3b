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

/// How often [`Clock::following_simulator`] reads the simulator's clock again.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

impl Clock {
    /// The system clock moved by the offset of a `hostplane simulate` process's clock
    /// (`GET {admin}/_admin/clock`), read once now and then every half second in the
    /// background: a controller *process* whose billing days follow a simulator that a soak
    /// test advances across renewal and expiry days, as tests in-process pass the simulator's
    /// clock directly. Fails when the first read fails, so that a controller never starts on
    /// the wrong day; a later failed read keeps the last offset. Needs a tokio runtime.
    pub async fn following_simulator(admin: &str) -> anyhow::Result<Self> {
        use std::sync::atomic::{AtomicI64, Ordering};
        crate::panel::transport::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()?;
        let url = format!("{}/_admin/clock", admin.trim_end_matches('/'));
        let read = {
            let (http, url) = (http.clone(), url.clone());
            move || {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let answer: serde_json::Value = http
                        .get(&url)
                        .send()
                        .await?
                        .error_for_status()?
                        .json()
                        .await?;
                    answer["offset_seconds"]
                        .as_i64()
                        .ok_or_else(|| anyhow::anyhow!("{url}: no offset_seconds in {answer}"))
                }
            }
        };
        let offset = Arc::new(AtomicI64::new(read().await?));
        let shared = Arc::clone(&offset);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(FOLLOW_EVERY).await;
                if let Ok(seconds) = read().await {
                    shared.store(seconds, Ordering::Relaxed);
                }
            }
        });
        Ok(Self::from_fn(move || {
            let seconds = offset.load(Ordering::Relaxed);
            Timestamp::now()
                .checked_add(jiff::SignedDuration::from_secs(seconds))
                .unwrap_or_else(|_| Timestamp::now())
        }))
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
