//! Accounts: the owners of hosts (reference §4.4, flow §4.7 step 1).

use super::Vm6Client;
use super::filter::Where;
use super::requests::NewAccount;
use super::rest::Call;
use super::wire::{Account, Created, List};
use crate::panel::error::PanelError;

impl Vm6Client {
    /// `GET /vm/v3/account`, optionally filtered.
    pub async fn list_accounts(&self, filter: Option<&Where>) -> Result<Vec<Account>, PanelError> {
        let list: List<Account> = self
            .call(Call::get("account.list", "vm/v3/account").filtered(filter))
            .await?;
        Ok(list.list)
    }

    /// The account with this e-mail, if any. E-mails compare exactly, as the panel's `EQ`
    /// does; the operator keeps client e-mails as written.
    pub async fn find_account_by_email(&self, email: &str) -> Result<Option<Account>, PanelError> {
        let found = self.list_accounts(Some(&Where::eq("email", email))).await?;
        Ok(found.into_iter().find(|a| a.email == email))
    }

    /// `POST /vm/v3/account` → the new id. Not repeated after a lost answer: on
    /// `OutcomeUnknown` look the e-mail up first.
    pub async fn create_account(&self, account: &NewAccount) -> Result<u64, PanelError> {
        let created: Created = self
            .call(Call::post("account.create", "vm/v3/account", account).non_idempotent())
            .await?;
        Ok(created.id)
    }
}
