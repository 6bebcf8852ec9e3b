//! Bounded retries with jittered exponential backoff, for transport failures only.
//!
//! Why only transport failures: a panel error (`exists`, `value`, `auth` …) is an answer, and
//! asking again gets the same answer. Why bounded and jittered: the controller has its own
//! per-object backoff; this layer only smooths over a dropped connection or a panel restart,
//! and jitter keeps many workers from retrying in lockstep. Non-idempotent calls are repeated
//! only when the failure proves the panel never saw them (see [`PanelError::is_retryable`]):
//! a connect error or a failed login. A timeout, a lost answer, a 502, 503 or 504 may each
//! come after the panel applied the call, so the caller gets [`PanelError::OutcomeUnknown`]
//! and must look before retrying.

use std::future::Future;
use std::time::Duration;

use super::error::{Idempotency, PanelError};

/// How often and how patiently to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included (1 = never retry).
    pub attempts: u32,
    /// Backoff before the second attempt; doubles per attempt.
    pub base_delay: Duration,
    /// Upper bound of one backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            attempts: 1,
            ..Self::default()
        }
    }

    /// The backoff before attempt `attempt + 1` (`attempt` counts from 1): "equal jitter",
    /// half fixed and half random, so a retry never fires immediately.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max_delay);
        let half = cap / 2;
        let jitter_ms = half.as_millis() as u64;
        half + Duration::from_millis(if jitter_ms == 0 {
            0
        } else {
            rand::random_range(0..=jitter_ms)
        })
    }

    /// Runs `call` (given the 1-based attempt number) until it succeeds, fails with an error
    /// that is not retryable for this `idempotency`, or the attempts are used up. The final
    /// error of a non-idempotent call that may have been applied is `OutcomeUnknown`.
    pub async fn run<F, Fut, T>(
        &self,
        operation: &str,
        idempotency: Idempotency,
        mut call: F,
    ) -> Result<T, PanelError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, PanelError>>,
    {
        let mut attempt = 1;
        loop {
            match call(attempt).await {
                Ok(value) => return Ok(value),
                Err(e) if attempt < self.attempts && e.is_retryable(idempotency) => {
                    let wait = self.backoff(attempt);
                    tracing::debug!(
                        operation,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        error = %e,
                        "panel call failed at the transport level; retrying"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e.for_call(operation, idempotency)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(4),
        }
    }

    fn lost() -> PanelError {
        PanelError::Transport {
            message: "response body lost".into(),
            maybe_applied: true,
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for attempt in 1..10 {
            let d = p.backoff(attempt);
            assert!(d <= p.max_delay, "{d:?}");
            assert!(d >= (p.base_delay * (1 << (attempt - 1))).min(p.max_delay) / 2);
        }
    }

    #[tokio::test]
    async fn idempotent_transport_errors_are_retried_then_given_up() {
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = fast()
            .run("user", Idempotency::Idempotent, |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(lost())
            })
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(r.unwrap_err(), lost());
    }

    #[tokio::test]
    async fn a_lost_order_is_never_repeated() {
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = fast()
            .run("soft.order.param", Idempotency::NonIdempotent, |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(lost())
            })
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(matches!(r, Err(PanelError::OutcomeUnknown { .. })), "{r:?}");
    }

    #[tokio::test]
    async fn unavailable_is_retried_for_reads_unknown_for_orders_and_panel_errors_never() {
        let calls = AtomicU32::new(0);
        let r = fast()
            .run("soft", Idempotency::Idempotent, |n| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 1 {
                        Err(PanelError::Unavailable { status: 503 })
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(r, Ok(2));
        // A proxy answers 503 after an upstream reset that may follow the order's purchase.
        let r: Result<(), _> = fast()
            .run("soft.order.param", Idempotency::NonIdempotent, |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(PanelError::Unavailable { status: 503 })
            })
            .await;
        assert!(matches!(r, Err(PanelError::OutcomeUnknown { .. })), "{r:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // A login that failed before the call was sent may be repeated even for an order.
        let r = fast()
            .run(
                "soft.order.param",
                Idempotency::NonIdempotent,
                |n| async move {
                    if n == 1 {
                        Err(PanelError::Unavailable { status: 503 }.before_sending())
                    } else {
                        Ok(n)
                    }
                },
            )
            .await;
        assert_eq!(r, Ok(2));
        let r: Result<(), _> = fast()
            .run("user", Idempotency::Idempotent, |_| async {
                Err(PanelError::from_mgr("value", "elid", "no such user"))
            })
            .await;
        assert!(matches!(r, Err(PanelError::Value { .. })));
    }
}
