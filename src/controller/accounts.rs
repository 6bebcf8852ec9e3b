//! What the controller last saw of each module's accounts: one `func=user` listing per module
//! per drift interval, kept up to date by the service reconciler after each change it makes.
//!
//! Why: a reconcile with nothing to do must not call the panel (steady state costs zero panel
//! calls apart from the drift listings), yet it must never create an account without looking
//! first. So a service trusts a fresh listing that *contains* its account, and looks the
//! account up itself when the listing does not know it.
//!
//! A lookup is a whole listing (ispmanager has no reliable single-account read, reference
//! §11), so many services that need one at once share it: one listing per module is in flight
//! at a time ([`Accounts::turn`]), and a service that waited for its turn takes the listing
//! that was *sent* after it asked ([`Accounts::listed_since`]) as its own lookup. Without this,
//! at 10,000 accounts every reconcile that found the listing stale started a listing of its
//! own while the others were still being read: about one listing of 10,000 accounts every
//! 1.4 s in the convergence bench (issue 16).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::panel::ispmanager::User;

#[derive(Default)]
pub struct Accounts {
    modules: Mutex<HashMap<String, Listing>>,
    /// One listing in flight per module.
    turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

struct Listing {
    /// When the listing request was sent: it shows nothing older than that.
    sent: Instant,
    /// Whether it came from a listing (and so answers for absent accounts too), rather than
    /// from the accounts this process made or looked at alone.
    complete: bool,
    users: HashMap<String, User>,
}

/// The cache key of a module: `namespace/name`.
pub fn module_key(namespace: &str, module: &str) -> String {
    format!("{namespace}/{module}")
}

impl Accounts {
    /// The account `name` of `module` if a listing younger than `max_age` holds it.
    pub fn fresh(&self, module: &str, name: &str, max_age: Duration) -> Option<User> {
        let map = self.modules.lock().expect("accounts lock");
        let listing = map.get(module)?;
        if listing.sent.elapsed() > max_age {
            return None;
        }
        listing.users.get(name).cloned()
    }

    /// Whether a listing younger than `max_age` shows `name` as absent (`false` when it holds
    /// it or when there is no such listing).
    pub fn absent(&self, module: &str, name: &str, max_age: Duration) -> bool {
        let map = self.modules.lock().expect("accounts lock");
        map.get(module).is_some_and(|l| {
            l.complete && l.sent.elapsed() <= max_age && !l.users.contains_key(name)
        })
    }

    /// What a listing of `module` sent at or after `asked` says of `name`: `Some(account)`
    /// or `Some(None)` (absent), or `None` when no listing was sent since.
    pub fn listed_since(&self, module: &str, name: &str, asked: Instant) -> Option<Option<User>> {
        let map = self.modules.lock().expect("accounts lock");
        let listing = map.get(module).filter(|l| l.complete && l.sent >= asked)?;
        Some(listing.users.get(name).cloned())
    }

    /// Waits until no other listing of `module` is in flight; hold the guard while listing.
    pub async fn turn(&self, module: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let turn = {
            let mut turns = self.turns.lock().expect("accounts lock");
            Arc::clone(turns.entry(module.to_owned()).or_default())
        };
        turn.lock_owned().await
    }

    /// Replaces a module's listing with one whose request was sent at `sent`, unless a listing
    /// sent later is already there.
    pub fn replace(&self, module: &str, users: Vec<User>, sent: Instant) {
        let users = users.into_iter().map(|u| (u.name.clone(), u)).collect();
        let mut map = self.modules.lock().expect("accounts lock");
        if map.get(module).is_some_and(|l| l.complete && l.sent > sent) {
            return;
        }
        let listing = Listing {
            sent,
            complete: true,
            users,
        };
        map.insert(module.to_owned(), listing);
    }

    /// Records what an account is now (after a lookup or a change the controller made).
    pub fn put(&self, module: &str, user: User) {
        let mut map = self.modules.lock().expect("accounts lock");
        let listing = map.entry(module.to_owned()).or_insert_with(|| Listing {
            sent: Instant::now(),
            complete: false,
            users: HashMap::new(),
        });
        listing.users.insert(user.name.clone(), user);
    }

    /// Forgets an account (deleted, or found missing).
    pub fn forget(&self, module: &str, name: &str) {
        if let Some(listing) = self.modules.lock().expect("accounts lock").get_mut(module) {
            listing.users.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> User {
        User {
            name: name.into(),
            fullname: String::new(),
            active: true,
            level: Some(16),
            preset: "basic".into(),
            limits: Default::default(),
        }
    }

    #[test]
    fn only_fresh_listings_answer() {
        let a = Accounts::default();
        a.replace("ns/m", vec![user("u1")], Instant::now());
        assert!(a.fresh("ns/m", "u1", Duration::from_secs(60)).is_some());
        assert!(a.fresh("ns/m", "u2", Duration::from_secs(60)).is_none());
        assert!(a.fresh("ns/m", "u1", Duration::ZERO).is_none());
        a.forget("ns/m", "u1");
        assert!(a.fresh("ns/m", "u1", Duration::from_secs(60)).is_none());
        a.put("ns/other", user("u3"));
        assert!(a.fresh("ns/other", "u3", Duration::from_secs(60)).is_some());
    }

    #[test]
    fn what_this_process_made_alone_answers_for_presence_only() {
        let a = Accounts::default();
        let asked = Instant::now();
        a.put("ns/m", user("u1"));
        let hour = Duration::from_secs(3600);
        assert!(a.fresh("ns/m", "u1", hour).is_some());
        assert!(
            !a.absent("ns/m", "u2", hour),
            "not a listing: absence unknown"
        );
        assert_eq!(a.listed_since("ns/m", "u2", asked), None);
    }

    #[test]
    fn a_listing_sent_after_the_question_answers_it_and_an_older_one_does_not() {
        let a = Accounts::default();
        let before = Instant::now();
        let asked = Instant::now();
        a.replace("ns/m", vec![user("u1")], before);
        assert_eq!(
            a.listed_since("ns/m", "u2", asked),
            None,
            "sent before we asked"
        );
        let sent = Instant::now();
        a.replace("ns/m", vec![user("u1")], sent);
        assert_eq!(a.listed_since("ns/m", "u2", asked), Some(None));
        assert!(a.listed_since("ns/m", "u1", asked).unwrap().is_some());
        // A listing that comes back late never replaces one sent after it.
        a.replace("ns/m", vec![], before);
        assert!(a.listed_since("ns/m", "u1", asked).unwrap().is_some());
    }

    #[tokio::test]
    async fn one_listing_of_a_module_at_a_time() {
        let a = Arc::new(Accounts::default());
        let first = a.turn("ns/m").await;
        let waiting = {
            let a = Arc::clone(&a);
            tokio::spawn(async move { drop(a.turn("ns/m").await) })
        };
        let _other_module = a.turn("ns/other").await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "the second waits for the first");
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("its turn comes")
            .expect("no panic");
    }
}
