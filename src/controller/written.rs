//! Statuses this process wrote that its cache may not show yet.
//!
//! A reconcile reads its object from the watch cache. When a service is reconciled again right
//! after a pass that wrote its status (the pass's own claim patch queues the next one), the
//! cache may still hold the status from before that write: the next pass would then redo what
//! the status records as done (a DNS zone, an event) and write the same status again. The
//! API server acknowledged the write, so the status it wrote is the truth: while the cache
//! still shows exactly the status that write replaced, a pass starts from the written one.
//! Anything else in the cache (the write arrived, or someone else wrote since) wins, and the
//! entry goes. Entries live for the few milliseconds until the watch delivers the write.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(Default)]
pub struct Written {
    /// Per object key: the status the write replaced, and the status it wrote.
    statuses: Mutex<HashMap<String, (Value, Value)>>,
}

impl Written {
    /// Records a status write of `key` from `before` to `after`.
    pub fn note<S: Serialize>(&self, key: &str, before: Option<&S>, after: &S) {
        let value = |s: Option<&S>| {
            s.map(|s| serde_json::to_value(s).expect("status serializes"))
                .unwrap_or(Value::Null)
        };
        let entry = (value(before), value(Some(after)));
        self.statuses
            .lock()
            .expect("written lock")
            .insert(key.to_owned(), entry);
    }

    /// The status a pass over `key` starts from: the one this process wrote, while `cached`
    /// is still the status that write replaced; else `cached`.
    pub fn current<S: Serialize + DeserializeOwned + Clone>(
        &self,
        key: &str,
        cached: Option<&S>,
    ) -> Option<S> {
        let mut statuses = self.statuses.lock().expect("written lock");
        let Some((before, after)) = statuses.get(key) else {
            return cached.cloned();
        };
        let seen = cached
            .map(|s| serde_json::to_value(s).expect("status serializes"))
            .unwrap_or(Value::Null);
        if &seen == before {
            return serde_json::from_value(after.clone()).ok();
        }
        statuses.remove(key);
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
}
