//! When a running controller is asked to stop (SIGTERM from the kubelet, Ctrl-C, a test).
//!
//! A cloneable handle rather than a signal listener inside `run`: the binary stops on
//! signals, tests stop a controller by hand, and the demo never stops it. On a request the
//! controllers stop taking new work, let the reconciles in flight finish (bounded by
//! `Options::shutdown_grace`), and the leader hands its lease back.

use tokio::sync::watch;

/// A request to stop, shared by everything that must notice it.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

/// The side that requests the stop.
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

impl Trigger {
    /// Requests the stop; idempotent.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// A handle and the trigger that fires it.
    pub fn channel() -> (Trigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (Trigger(tx), Shutdown(rx))
    }

    /// A handle that never fires (the controller runs until its task is dropped).
    pub fn never() -> Shutdown {
        Self::channel().1
    }

    /// A handle that fires on the first SIGTERM or SIGINT; a second one ends the process at
    /// once (exit status 130), for an operator who does not want to wait for the grace period.
    /// Must be called inside a Tokio runtime.
    pub fn on_signals() -> std::io::Result<Shutdown> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let (trigger, shutdown) = Self::channel();
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: stopping gracefully"),
                _ = int.recv() => tracing::info!("SIGINT: stopping gracefully"),
            }
            trigger.stop();
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            tracing::warn!("second signal: exiting without waiting");
            std::process::exit(130);
        });
        Ok(shutdown)
    }

    /// Whether a stop has been requested.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once a stop is requested (never for [`Shutdown::never`]). Owned, `Send` and
    /// `Sync`, as kube-runtime's `Controller::graceful_shutdown_on` wants it.
    pub fn requested(&self) -> impl std::future::Future<Output = ()> + Send + Sync + 'static {
        let mut rx = self.0.clone();
        async move {
            loop {
                if *rx.borrow_and_update() {
                    return;
                }
                if rx.changed().await.is_err() {
                    // The trigger is gone without firing: no stop can come any more.
                    return std::future::pending().await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_trigger_fires_every_clone() {
        let (trigger, shutdown) = Shutdown::channel();
        let other = shutdown.clone();
        assert!(!shutdown.is_requested());
        let waiting = tokio::spawn(other.requested());
        trigger.stop();
        waiting.await.unwrap();
        assert!(shutdown.is_requested());
        // Asked again after the fact, it resolves at once.
        shutdown.requested().await;
    }

    #[tokio::test]
    async fn never_does_not_fire() {
        let never = Shutdown::never();
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(20), never.requested()).await;
        assert!(waited.is_err());
    }
}
