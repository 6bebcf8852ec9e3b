//! An ispmanager account as the driver's [`External`]: looked up in the module's fresh
//! listing or with the `user` list, created with `user.add.finish`, deleted with `user.delete`.
//! ispmanager keeps no marker on an account, so ownership rests on the claim alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::controller::context::Context;
use crate::controller::reason::Reason;
use crate::controller::service::driver::{External, Found, Removable};
use crate::panel::PanelError;
use crate::panel::ispmanager::{IspManager, NewUser, User, is_not_found};

/// How long a lookup waits for another lookup's listing of the same module before it lists
/// on its own: longer than a listing of 10,000 accounts takes, far shorter than a timeout.
const LISTING_TURN_WAIT: Duration = Duration::from_secs(5);

/// One account name at one module.
pub struct Account<'a> {
    pub ctx: &'a Context,
    pub isp: Arc<IspManager>,
    /// The module's key in the account listings.
    pub module_key: String,
    pub username: String,
    /// How old a listing may be and still answer for the account.
    pub listing_max_age: Duration,
    /// The service has never claimed this name (no create was ever sent for it): a fresh
    /// listing without the account is enough to create it. A name with a claim is always
    /// looked up, since a create whose answer was lost may have made it after the listing.
    pub first_create: bool,
}

impl External for Account<'_> {
    type Observed = User;
    type Create = NewUser;

    fn kind(&self) -> &'static str {
        "ispmanager account"
    }

    fn name(&self) -> &str {
        &self.username
    }

    fn exists_reason(&self) -> Reason {
        Reason::AccountExists
    }

    async fn observe(&self) -> Result<Found<User>, PanelError> {
        let asked = Instant::now();
        let listed =
            self.ctx
                .accounts
                .fresh(&self.module_key, &self.username, self.listing_max_age);
        if let Some(user) = listed {
            return Ok(Found::Present(user));
        }
        // A new service's name in a fresh listing that lacks it: one listing answers for
        // every service created at once (issue 16). Should someone make the account in the
        // meantime, the create answers `Exists` and the driver stops with `AccountExists`,
        // as a lookup would have.
        if self.first_create
            && self
                .ctx
                .accounts
                .absent(&self.module_key, &self.username, self.listing_max_age)
        {
            return Ok(Found::Absent);
        }
        // Existence comes from the `user` list only (reference §11): the whole list is one
        // call, so it also refreshes the module's listing for every other service, and a
        // listing another reconcile sent after this one asked answers for it too.
        // One listing of the module at a time, but never held up for long behind one that
        // hangs (a lost answer takes the request timeout to notice): after LISTING_TURN_WAIT
        // this lookup lists on its own, as it did before the turns.
        let turn = self.ctx.accounts.turn(&self.module_key);
        let _turn = tokio::time::timeout(LISTING_TURN_WAIT, turn).await.ok();
        let user = match self
            .ctx
            .accounts
            .listed_since(&self.module_key, &self.username, asked)
        {
            Some(user) => user,
            None => {
                let sent = Instant::now();
                let users = self.isp.users().await?;
                let user = users.iter().find(|u| u.name == self.username).cloned();
                self.ctx.accounts.replace(&self.module_key, users, sent);
                user
            }
        };
        Ok(match user {
            Some(user) => Found::Present(user),
            None => Found::Absent,
        })
    }

    async fn create(&self, request: &NewUser) -> Result<(), PanelError> {
        self.isp.create_user(request).await
    }
}

impl Removable for Account<'_> {
    async fn delete(&self) -> Result<bool, PanelError> {
        match self.isp.delete_user(&self.username).await {
            Ok(()) => {
                self.ctx.accounts.forget(&self.module_key, &self.username);
                Ok(true)
            }
            Err(e) if is_not_found(&e) => {
                self.ctx.accounts.forget(&self.module_key, &self.username);
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}
