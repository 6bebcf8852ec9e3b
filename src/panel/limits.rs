//! Per-module limits: one token bucket and one concurrency limit per processing module.
//!
//! Why both: the bucket spreads calls over time (no panel documents a rate limit, but a burst
//! of hundreds of calls after a controller restart is how a provider gets its IP blocked); the
//! semaphore bounds how many calls are in flight (mgr panels serialise work internally, and a
//! slow panel must not pile up connections). Every client of one module shares one [`Limiter`]
//! (it is cheap to clone); it is generic over the call so the REST client uses it too.

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

/// The limits of one processing module (`spec.limits` of a `ProcessingModule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleLimits {
    /// Sustained requests per second; also the burst size.
    pub requests_per_second: NonZeroU32,
    /// Calls in flight at once.
    pub concurrency: usize,
}

impl Default for ModuleLimits {
    fn default() -> Self {
        Self {
            requests_per_second: NonZeroU32::new(10).expect("non-zero"),
            concurrency: 4,
        }
    }
}

/// The shared limiter of one module.
#[derive(Clone)]
pub struct Limiter {
    bucket: Arc<DefaultDirectRateLimiter>,
    slots: Arc<Semaphore>,
    limits: ModuleLimits,
}

impl Limiter {
    pub fn new(limits: ModuleLimits) -> Self {
        Self {
            bucket: Arc::new(RateLimiter::direct(Quota::per_second(
                limits.requests_per_second,
            ))),
            slots: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            limits,
        }
    }

    /// A limiter that lets everything through at once (benchmarks of the panel itself).
    pub fn unlimited() -> Self {
        Self::new(ModuleLimits {
            requests_per_second: NonZeroU32::MAX,
            concurrency: Semaphore::MAX_PERMITS,
        })
    }

    pub fn limits(&self) -> ModuleLimits {
        self.limits
    }

    /// Runs one request within the limits: waits for a concurrency slot, then for a token,
    /// and holds the slot until the request is done.
    pub async fn run<F, T>(&self, request: F) -> T
    where
        F: Future<Output = T>,
    {
        // The semaphore is never closed, so acquiring cannot fail.
        let _slot = self
            .slots
            .acquire()
            .await
            .expect("limiter semaphore closed");
        self.bucket.until_ready().await;
        request.await
    }
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("limits", &self.limits)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn concurrency_is_bounded() {
        let limiter = Limiter::new(ModuleLimits {
            requests_per_second: NonZeroU32::new(1000).unwrap(),
            concurrency: 2,
        });
        let live = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (limiter, live, peak) = (limiter.clone(), live.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                limiter
                    .run(async {
                        let now = live.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        live.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn rate_is_bounded() {
        let limiter = Limiter::new(ModuleLimits {
            requests_per_second: NonZeroU32::new(20).unwrap(),
            concurrency: 8,
        });
        let start = Instant::now();
        // 20 pass at once (the burst), the next 10 need about half a second.
        for _ in 0..30 {
            limiter.run(async {}).await;
        }
        assert!(
            start.elapsed() >= Duration::from_millis(400),
            "{:?}",
            start.elapsed()
        );
    }
}
