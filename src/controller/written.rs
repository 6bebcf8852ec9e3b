//! Statuses this process wrote that its cache may not show yet.
//!
//! A reconcile reads its object from the watch cache. When a service is reconciled again right
//! after a pass that wrote its status (the pass's own claim patch queues the next one), the
//! cache may still hold the status from before that write: the next pass would then redo what
//! the status records as done (a DNS zone, an event) and write the same status again. The
//! API server acknowledged the write, so the status it wrote is the truth: while the cache
//! still shows exactly the status that write replaced, a pass starts from the written one.
//! Anything else in the cache (the write arrived, or someone else wrote since) wins, and the
//! entry goes. An entry is needed only for the moments until the watch delivers the write;
//! it is forgotten after [`KEEP`] even when no pass asked again (a converged service is not
//! reconciled again), so that 10,000 services do not each keep two copies of their status for
//! the life of the process (issue 16: the controller's memory).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// How long a written status is remembered: far longer than a watch takes to deliver it.
pub const KEEP: Duration = Duration::from_secs(30);

pub struct Written {
    keep: Duration,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    /// Per object key: when, the status the write replaced, and the status it wrote.
    statuses: HashMap<String, (Instant, Value, Value)>,
    /// The count at which old entries are next swept out (doubling: amortised O(1) a note).
    sweep_at: usize,
}

impl Default for Written {
    fn default() -> Self {
        Self::keeping(KEEP)
    }
}

impl Written {
    /// Remembers each write for `keep`.
    pub fn keeping(keep: Duration) -> Self {
        Self {
            keep,
            entries: Mutex::default(),
        }
    }

    /// Records a status write of `key` from `before` to `after`.
    pub fn note<S: Serialize>(&self, key: &str, before: Option<&S>, after: &S) {
        let value = |s: Option<&S>| {
            s.map(|s| serde_json::to_value(s).expect("status serializes"))
                .unwrap_or(Value::Null)
        };
        let entry = (Instant::now(), value(before), value(Some(after)));
        let mut entries = self.entries.lock().expect("written lock");
        entries.statuses.insert(key.to_owned(), entry);
        if entries.statuses.len() >= entries.sweep_at {
            let keep = self.keep;
            entries.statuses.retain(|_, (at, _, _)| at.elapsed() < keep);
            entries.sweep_at = (entries.statuses.len() * 2).max(64);
        }
    }

    /// How many writes are remembered now.
    pub fn remembered(&self) -> usize {
        self.entries.lock().expect("written lock").statuses.len()
    }

    /// The status a pass over `key` starts from: the one this process wrote, while `cached`
    /// is still the status that write replaced; else `cached`.
    pub fn current<S: Serialize + DeserializeOwned + Clone>(
        &self,
        key: &str,
        cached: Option<&S>,
    ) -> Option<S> {
        let mut entries = self.entries.lock().expect("written lock");
        let Some((at, before, after)) = entries.statuses.get(key) else {
            return cached.cloned();
        };
        let seen = cached
            .map(|s| serde_json::to_value(s).expect("status serializes"))
            .unwrap_or(Value::Null);
        if &seen == before && at.elapsed() < self.keep {
            return serde_json::from_value(after.clone()).ok();
        }
        entries.statuses.remove(key);
        cached.cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_cache_yields_the_written_status_until_it_catches_up() {
        let written = Written::default();
        let old = Some("provisioning".to_owned());
        let new = "ready".to_owned();
        assert_eq!(
            written.current("k", old.as_ref()),
            old,
            "nothing written yet"
        );
        written.note("k", old.as_ref(), &new);
        assert_eq!(written.current("k", old.as_ref()), Some(new.clone()));
        // The watch delivered the write: the cache answers, and the entry is gone.
        assert_eq!(written.current("k", Some(&new)), Some(new.clone()));
        assert_eq!(written.current("k", old.as_ref()), old);
    }

    #[test]
    fn a_status_someone_else_wrote_wins() {
        let written = Written::default();
        written.note("k", Some(&1), &2);
        assert_eq!(written.current("k", Some(&3)), Some(3));
        assert_eq!(written.current("k", Some(&1)), Some(1), "the entry went");
    }

    #[test]
    fn writes_no_pass_asks_about_again_are_forgotten() {
        let written = Written::keeping(Duration::ZERO);
        for i in 0..1000 {
            written.note(&format!("k{i}"), Some(&1), &2);
        }
        assert!(written.remembered() < 64, "{}", written.remembered());
        // An entry past its time is not used either.
        written.note("k", Some(&1), &2);
        assert_eq!(written.current("k", Some(&1)), Some(1));

        let written = Written::default();
        for i in 0..1000 {
            written.note(&format!("k{i}"), Some(&1), &2);
        }
        assert_eq!(written.remembered(), 1000, "all within their time");
    }
}
