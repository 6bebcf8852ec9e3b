//! What the controller last saw of each module's accounts: one `func=user` listing per module
//! per drift interval, kept up to date by the service reconciler after each change it makes.
//!
//! Why: a reconcile with nothing to do must not call the panel (steady state costs zero panel
//! calls apart from the drift listings), yet it must never create an account without looking
//! first. So a service trusts a fresh listing that *contains* its account, and looks the
//! account up itself when the listing does not know it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::panel::ispmanager::User;

#[derive(Default)]
pub struct Accounts {
    modules: Mutex<HashMap<String, Listing>>,
}

struct Listing {
    taken: Instant,
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
        if listing.taken.elapsed() > max_age {
            return None;
        }
        listing.users.get(name).cloned()
    }

    /// Whether a listing younger than `max_age` shows `name` as absent (`false` when it holds
    /// it or when there is no such listing).
    pub fn absent(&self, module: &str, name: &str, max_age: Duration) -> bool {
        let map = self.modules.lock().expect("accounts lock");
        map.get(module)
            .is_some_and(|l| l.taken.elapsed() <= max_age && !l.users.contains_key(name))
    }

    /// Replaces a module's listing with a new one.
    pub fn replace(&self, module: &str, users: Vec<User>) {
        let users = users.into_iter().map(|u| (u.name.clone(), u)).collect();
        self.modules.lock().expect("accounts lock").insert(
            module.to_owned(),
            Listing {
                taken: Instant::now(),
                users,
            },
        );
    }

    /// Records what an account is now (after a lookup or a change the controller made).
    pub fn put(&self, module: &str, user: User) {
        let mut map = self.modules.lock().expect("accounts lock");
        let listing = map.entry(module.to_owned()).or_insert_with(|| Listing {
            taken: Instant::now(),
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
        a.replace("ns/m", vec![user("u1")]);
        assert!(a.fresh("ns/m", "u1", Duration::from_secs(60)).is_some());
        assert!(a.fresh("ns/m", "u2", Duration::from_secs(60)).is_none());
        assert!(a.fresh("ns/m", "u1", Duration::ZERO).is_none());
        a.forget("ns/m", "u1");
        assert!(a.fresh("ns/m", "u1", Duration::from_secs(60)).is_none());
        a.put("ns/other", user("u3"));
        assert!(a.fresh("ns/other", "u3", Duration::from_secs(60)).is_some());
    }
}
