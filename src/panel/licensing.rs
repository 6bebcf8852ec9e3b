//! The BILLmanager licensing server (reference §5): ISPsystem software licenses.
//!
//! Every order and every prolongation costs money, so both are non-idempotent: when their
//! answer is lost the client returns [`PanelError::OutcomeUnknown`] and never repeats them.
//! Orders carry a `remoteid` (the caller's correlation id); [`Licensing::find_by_remoteid`]
//! is the lookup to do before ordering again. The key is generated asynchronously: a fresh
//! license reads with an empty `lickey` for a while ([`LicenseDetails::lickey`] is `None`).

use super::error::{Idempotency::*, PanelError};
use super::mgr::{MgrClient, Node};
use super::vmmanager5::id_of;

/// A licensing-server connection.
#[derive(Clone, Debug)]
pub struct Licensing {
    mgr: MgrClient,
}

/// `soft` status codes (reference §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LicenseStatus {
    Ordered,
    Active,
    Suspended,
    Deleted,
    Processing,
    Unknown,
}

impl LicenseStatus {
    pub fn from_code(code: &str) -> Self {
        match code.trim() {
            "1" => Self::Ordered,
            "2" => Self::Active,
            "3" => Self::Suspended,
            "4" => Self::Deleted,
            "5" => Self::Processing,
            _ => Self::Unknown,
        }
    }
}

/// One row of `func=soft`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct License {
    pub id: String,
    pub licname: String,
    pub ip: String,
    pub pricelist: String,
    pub period: String,
    pub status: LicenseStatus,
    pub createdate: String,
    /// `YYYY-MM-DD`.
    pub expiredate: String,
    /// The caller's correlation id, when the server lists it.
    pub remoteid: String,
}

/// The `soft.edit` form of one license.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenseDetails {
    pub license: License,
    /// `None` while the key is still being generated.
    pub lickey: Option<String>,
}

/// What to buy (`soft.order.param … skipbasket=on`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenseOrder {
    pub pricelist: String,
    /// Months: `1`, `12` …
    pub period: String,
    pub ip: String,
    pub licname: String,
    /// Correlation id (`l<id>` / `a<id>` in the official module); must be unique per need.
    pub remoteid: String,
    /// `addon_<id>` quantities.
    pub addons: Vec<(String, String)>,
}

impl Licensing {
    pub fn new(mgr: MgrClient) -> Self {
        Self { mgr }
    }

    pub fn mgr(&self) -> &MgrClient {
        &self.mgr
    }

    /// Every license of the account, in one call.
    pub async fn licenses(&self) -> Result<Vec<License>, PanelError> {
        let doc = self.mgr.call("soft", &[], Idempotent).await?;
        Ok(doc.elems().map(license_of).collect())
    }

    /// Licenses ordered with this `remoteid` (the lookup after an unknown outcome).
    pub async fn find_by_remoteid(&self, remoteid: &str) -> Result<Vec<License>, PanelError> {
        Ok(self
            .licenses()
            .await?
            .into_iter()
            .filter(|l| l.remoteid == remoteid)
            .collect())
    }

    /// Buys a license from the balance; returns its id. Never repeated by the client.
    pub async fn order(&self, order: &LicenseOrder) -> Result<String, PanelError> {
        let mut params: Vec<(&str, &str)> = vec![
            ("sok", "ok"),
            ("clicked_button", "finish"),
            ("skipbasket", "on"),
            ("pricelist", &order.pricelist),
            ("period", &order.period),
            ("autoprolong", "null"),
            ("ip", &order.ip),
            ("licname", &order.licname),
            ("remoteid", &order.remoteid),
        ];
        let addons: Vec<(String, &str)> = order
            .addons
            .iter()
            .map(|(id, n)| (format!("addon_{id}"), n.as_str()))
            .collect();
        params.extend(addons.iter().map(|(k, v)| (k.as_str(), *v)));
        let doc = self
            .mgr
            .call("soft.order.param", &params, NonIdempotent)
            .await?;
        id_of(&doc, "soft.order.param")
    }

    /// The license's form, including the key once it exists; `None` when unknown.
    pub async fn view(&self, id: &str) -> Result<Option<LicenseDetails>, PanelError> {
        match self
            .mgr
            .call("soft.edit", &[("elid", id)], Idempotent)
            .await
        {
            Ok(doc) => {
                let mut license = license_of(&doc);
                if license.id.is_empty() {
                    license.id = id.to_owned();
                }
                let key = doc.get("lickey").trim();
                Ok(Some(LicenseDetails {
                    license,
                    lickey: (!key.is_empty()).then(|| key.to_owned()),
                }))
            }
            Err(e) if super::ispmanager::is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Renames and rebinds a license (pooling: `free.lic`, `0.0.0.0`, empty remoteid).
    pub async fn edit(
        &self,
        id: &str,
        licname: &str,
        ip: &str,
        remoteid: &str,
    ) -> Result<(), PanelError> {
        self.mgr
            .call(
                "soft.edit",
                &[
                    ("sok", "ok"),
                    ("elid", id),
                    ("licname", licname),
                    ("ip", ip),
                    ("remoteid", remoteid),
                ],
                Idempotent,
            )
            .await
            .map(drop)
    }

    /// Extends a license by `period` months and returns the new expiry date. Costs money,
    /// so it is never repeated after a lost answer: compare `expiredate` before retrying.
    pub async fn prolong(&self, id: &str, period: &str) -> Result<String, PanelError> {
        let doc = self
            .mgr
            .call(
                "service.prolong",
                &[("sok", "ok"), ("elid", id), ("period", period)],
                NonIdempotent,
            )
            .await?;
        // The official module reads /doc/doc/newexpiredate; accept it at the top too.
        let date = doc
            .child("doc")
            .and_then(|d| d.value("newexpiredate"))
            .or_else(|| doc.value("newexpiredate"))
            .unwrap_or("");
        if date.is_empty() {
            // The money may be spent already: compare the expiry before prolonging again.
            return Err(PanelError::unconfirmed("service.prolong", "newexpiredate"));
        }
        Ok(date.to_owned())
    }

    pub async fn suspend(&self, id: &str) -> Result<(), PanelError> {
        self.action("soft.suspend", id).await
    }

    pub async fn resume(&self, id: &str) -> Result<(), PanelError> {
        self.action("soft.resume", id).await
    }

    pub async fn delete(&self, id: &str) -> Result<(), PanelError> {
        self.action("soft.delete", id).await
    }

    /// Moves a license to another pricelist (license type).
    pub async fn change_pricelist(
        &self,
        id: &str,
        pricelist: &str,
        period: &str,
    ) -> Result<(), PanelError> {
        self.mgr
            .call(
                "service.changepricelist",
                &[
                    ("sok", "ok"),
                    ("elid", id),
                    ("pricelist", pricelist),
                    ("period", period),
                ],
                Idempotent,
            )
            .await
            .map(drop)
    }

    async fn action(&self, func: &str, id: &str) -> Result<(), PanelError> {
        self.mgr
            .call(func, &[("elid", id), ("sok", "ok")], Idempotent)
            .await
            .map(drop)
    }
}

fn license_of(e: &Node) -> License {
    License {
        id: e.get("id").to_owned(),
        licname: e.get("licname").to_owned(),
        ip: e.get("ip").to_owned(),
        pricelist: e.get("pricelist").to_owned(),
        period: e.get("period").to_owned(),
        status: LicenseStatus::from_code(e.get("status")),
        createdate: e.get("createdate").to_owned(),
        expiredate: e.get("expiredate").to_owned(),
        remoteid: e.get("remoteid").to_owned(),
    }
}
