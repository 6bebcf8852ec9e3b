//! The BILLmanager licensing server (reference §5): ISPsystem software licenses.
//!
//! Every order and every prolongation costs money, so both are non-idempotent: when their
//! answer is lost the client returns [`PanelError::OutcomeUnknown`] and never repeats them.
//! The key is generated asynchronously: a fresh license reads with an empty `lickey` for a
//! while ([`LicenseDetails::lickey`] is `None`).
//!
//! **Finding an order again.** Orders carry a `remoteid` (the caller's correlation id), but
//! whether the `soft` list echoes it is uncertain: the documented list fields (reference §5.2,
//! D12) have none, no public client reads it back, and jbs calls `soft.edit` per licence
//! because the list "doesn't have enough data" (reference §11, [S4], [S26 `IspSoft.php`]).
//! Both readings are handled:
//!
//! - the caller puts the correlation id into the licence *name* too, as a trailing tag
//!   (`Item #shopvps1 addon shop.example [hpa0-mfzwizltmvzgs3tbnvsq]`, [`tagged_name`]); the
//!   list always carries `licname`, so the list alone identifies a licence exactly;
//! - a licence listed **with** a `remoteid` (a panel that echoes it) is read by that field
//!   first ([`License::correlation_id`]), so licences named before the tag existed are still
//!   found there;
//! - [`Licensing::find_order`] is the lookup after an unknown order outcome: candidates by
//!   correlation id (listed `remoteid` or name tag) + IP + pricelist + created not before the
//!   order day, each confirmed with `soft.edit` (which shows `remoteid` where the panel has
//!   it; where it does not, the tag in `licname` is the proof).
//!
//! **The order id** comes as `<id>` (the official module), `<item><id>` (jbs) or bjson `id.v`
//! ([`super::mgr::new_id`]); an answer with none of them is an unknown outcome, never a
//! refusal: the licence may have been bought (reference §11, "licence order id").

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
    /// The caller's correlation id, when the server lists it. Real `soft` lists may not
    /// (reference §11): read [`License::correlation_id`], which falls back to the name's tag.
    pub remoteid: String,
}

impl License {
    /// The correlation id this licence carries: its `remoteid` when the answer has one, else
    /// the tag at the end of its name ([`name_tag`]); `None` for a licence with neither (a
    /// pooled `free.lic`, one bought by someone else, or by a hostplane older than the tag
    /// on a panel that does not echo `remoteid`). `remoteid` wins when both are there, as the
    /// panel's own field; hostplane always sets the two together in one call, so they agree.
    pub fn correlation_id(&self) -> Option<&str> {
        let listed = self.remoteid.trim();
        if listed.is_empty() {
            name_tag(&self.licname)
        } else {
            Some(listed)
        }
    }

    /// Whether the licence carries the (non-empty) correlation id `correlation`.
    pub fn carries(&self, correlation: &str) -> bool {
        !correlation.is_empty() && self.correlation_id() == Some(correlation)
    }

    /// The day it was created (`createdate`, `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`); `None`
    /// when the answer has no readable date.
    pub fn created_on(&self) -> Option<jiff::civil::Date> {
        self.createdate.trim().get(..10)?.parse().ok()
    }
}

/// `name` with the correlation tag ` [correlation]` appended, at most `max_len` characters:
/// `name` is cut to make room, never the tag, so the list always shows the full id.
pub fn tagged_name(name: &str, correlation: &str, max_len: usize) -> String {
    let tag = format!(" [{correlation}]");
    let room = max_len.saturating_sub(tag.chars().count());
    let name: String = name.chars().take(room).collect();
    format!("{}{tag}", name.trim_end())
}

/// The correlation tag at the end of a licence name (` [id]`, [`tagged_name`]); `None`
/// without one. The id holds no whitespace and no brackets.
pub fn name_tag(licname: &str) -> Option<&str> {
    let inner = licname.trim_end().strip_suffix(']')?;
    let (before, tag) = inner.rsplit_once('[')?;
    let well_formed = !tag.is_empty()
        && !tag.contains(|c: char| c.is_whitespace() || c == '[' || c == ']')
        && (before.is_empty() || before.ends_with(' '));
    well_formed.then_some(tag)
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

    /// The licences `order` may have bought, each confirmed by its form: the lookup after an
    /// unknown order outcome (reference §11). Lists the account once, then
    /// [`Self::confirm_order`].
    pub async fn find_order(
        &self,
        order: &LicenseOrder,
        ordered_on: Option<jiff::civil::Date>,
    ) -> Result<Vec<LicenseDetails>, PanelError> {
        let listed = self.licenses().await?;
        self.confirm_order(&listed, order, ordered_on).await
    }

    /// [`Self::find_order`] on a list the caller already has. Candidates: not deleted,
    /// carrying `order.remoteid` (listed `remoteid` or name tag), at `order.ip`, of
    /// `order.pricelist`, created not before `ordered_on` (when both dates are known; the
    /// format of `createdate` is not documented, so an unreadable one excludes nothing).
    /// Each candidate is then read with `soft.edit` and kept when the form carries the id too:
    /// its `remoteid` where the form shows one, else the tag of its `licname`; a form that
    /// shows neither contradicts nothing, so the listed tag stands. A licence that is gone by
    /// then is dropped. Best first: working before suspended, then the lower id (the first
    /// order).
    pub async fn confirm_order(
        &self,
        listed: &[License],
        order: &LicenseOrder,
        ordered_on: Option<jiff::civil::Date>,
    ) -> Result<Vec<LicenseDetails>, PanelError> {
        let mut candidates: Vec<&License> = listed
            .iter()
            .filter(|l| {
                l.status != LicenseStatus::Deleted
                    && l.carries(&order.remoteid)
                    && l.ip.trim() == order.ip.trim()
                    && l.pricelist.trim() == order.pricelist.trim()
                    && match (l.created_on(), ordered_on) {
                        (Some(created), Some(day)) => created >= day,
                        _ => true,
                    }
            })
            .collect();
        candidates.sort_by_key(|l| {
            (
                l.status == LicenseStatus::Suspended,
                l.id.len(),
                l.id.clone(),
            )
        });
        let mut confirmed = Vec::new();
        for candidate in candidates {
            let Some(details) = self.view(&candidate.id).await? else {
                continue;
            };
            let form = &details.license;
            let proven = match form.correlation_id() {
                Some(id) => id == order.remoteid,
                None => true,
            };
            if proven && form.status != LicenseStatus::Deleted {
                confirmed.push(details);
            }
        }
        Ok(confirmed)
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
        // A change must be answered `ok` (reference §11, "success of a mutation").
        self.mgr
            .mutate(
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
            .mutate(
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
            .mutate(func, &[("elid", id), ("sok", "ok")], Idempotent)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(licname: &str, remoteid: &str) -> License {
        License {
            id: "1".into(),
            licname: licname.into(),
            ip: "203.0.113.1".into(),
            pricelist: "3541".into(),
            period: "1".into(),
            status: LicenseStatus::Active,
            createdate: "2026-12-07 10:11:12".into(),
            expiredate: "2027-01-07".into(),
            remoteid: remoteid.into(),
        }
    }

    #[test]
    fn the_tag_is_the_last_bracketed_word_of_the_name() {
        assert_eq!(name_tag("Item #a addon a.example [hpa0-x]"), Some("hpa0-x"));
        assert_eq!(name_tag("[hpa0-x]"), Some("hpa0-x"));
        assert_eq!(name_tag("Item #a [x] [hpa0-x]  "), Some("hpa0-x"));
        for untagged in [
            "free.lic",
            "Item #a a",
            "a [b c]",
            "a[hpa0-x]",
            "a []",
            "a ]",
        ] {
            assert_eq!(name_tag(untagged), None, "{untagged}");
        }
        assert_eq!(tagged_name("Item #a  ", "hp", 12), "Item #a [hp]");
        assert_eq!(tagged_name("Item #abcdef", "hp", 12), "Item #a [hp]");
        assert_eq!(tagged_name("x", "hpa0-longer", 4), " [hpa0-longer]");
    }

    #[test]
    fn a_listed_remoteid_wins_over_the_tag_and_both_may_be_missing() {
        assert_eq!(listed("n [hp-a]", "").correlation_id(), Some("hp-a"));
        assert_eq!(listed("n [hp-a]", "hp-b").correlation_id(), Some("hp-b"));
        assert_eq!(listed("free.lic", "").correlation_id(), None);
        assert!(listed("n [hp-a]", "").carries("hp-a"));
        assert!(!listed("n", "").carries(""), "an empty id carries nothing");
        let day = |s: &str| s.parse::<jiff::civil::Date>().ok();
        assert_eq!(listed("n", "").created_on(), day("2026-12-07"));
        let undated = License {
            createdate: String::new(),
            ..listed("n", "")
        };
        assert_eq!(undated.created_on(), None);
    }
}
