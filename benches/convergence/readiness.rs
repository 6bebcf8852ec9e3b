//! Services Ready, followed with a watch (`kube::runtime::watcher`): one list when it starts,
//! then only the changes, so the bench's client costs the API server little while the
//! controller works.

use super::*;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher;

/// Counts the services whose `Ready` is `True`, as the watch sees them.
pub(super) struct Readiness {
    ready: tokio::sync::watch::Receiver<u64>,
    /// When the first service became Ready.
    first: Arc<std::sync::OnceLock<Instant>>,
    synced: Arc<AtomicBool>,
    events: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Readiness {
    /// Starts the watch and waits until its first list is in.
    pub(super) async fn follow(api: Api<HostingService>) -> anyhow::Result<Readiness> {
        let (ready, ready_) = tokio::sync::watch::channel(0u64);
        let (first, synced, events) = (
            Arc::<std::sync::OnceLock<Instant>>::default(),
            Arc::<AtomicBool>::default(),
            Arc::<AtomicU64>::default(),
        );
        let (first_, synced_, events_) =
            (Arc::clone(&first), Arc::clone(&synced), Arc::clone(&events));
        let task = tokio::spawn(async move {
            let stream = watcher(api, watcher::Config::default()).default_backoff();
            let mut stream = std::pin::pin!(stream);
            // name → Ready; a relist fills `next`, which replaces `known` when it is done.
            let (mut known, mut next) = (HashMap::<String, bool>::new(), HashMap::new());
            let mut count = 0u64;
            while let Some(event) = stream.next().await {
                events.fetch_add(1, Ordering::Relaxed);
                match event {
                    Ok(watcher::Event::Apply(s)) => {
                        let now = is_ready(&s);
                        let was = known.insert(s.name_any(), now).unwrap_or(false);
                        count = count + u64::from(now) - u64::from(was);
                    }
                    Ok(watcher::Event::Delete(s)) => {
                        count -= u64::from(known.remove(&s.name_any()).unwrap_or(false));
                    }
                    Ok(watcher::Event::Init) => next.clear(),
                    Ok(watcher::Event::InitApply(s)) => {
                        next.insert(s.name_any(), is_ready(&s));
                    }
                    Ok(watcher::Event::InitDone) => {
                        known = std::mem::take(&mut next);
                        count = known.values().filter(|r| **r).count() as u64;
                        synced.store(true, Ordering::Relaxed);
                    }
                    Err(e) => eprintln!("  the bench's watch: {e} (retrying)"),
                }
                if count > 0 {
                    first.get_or_init(Instant::now);
                }
                ready.send_if_modified(|r| std::mem::replace(r, count) != count);
            }
        });
        let out = Readiness {
            ready: ready_,
            first: first_,
            synced: synced_,
            events: events_,
            task,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !out.synced.load(Ordering::Relaxed) {
            if Instant::now() > deadline {
                bail!("the bench's watch of the services did not start within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(out)
    }

    pub(super) fn ready(&self) -> usize {
        *self.ready.borrow() as usize
    }

    /// Waits until at least `n` services are Ready (forever if the watch ends).
    pub(super) async fn all(&self, n: usize) {
        let mut ready = self.ready.clone();
        if ready.wait_for(|r| *r as usize >= n).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// When the first service became Ready, if one did.
    pub(super) fn first_ready(&self) -> Option<Instant> {
        self.first.get().copied()
    }

    /// Watch events received so far (the initial list's objects included).
    pub(super) fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }
}

impl Drop for Readiness {
    fn drop(&mut self) {
        self.task.abort();
    }
}
