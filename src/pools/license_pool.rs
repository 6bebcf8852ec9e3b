//! The license pool: which pooled license a new order takes, when a pooled license leaves the
//! pool, the steps that put a license into the pool and take it out again, and how licenses
//! already at the licensing server are matched to services (`fixchilds`).
//!
//! The rules, and where they come from:
//!
//! - **Joining** (seeds 000, 003; reference §5.4): a terminated service's license is
//!   suspended, renamed `free.lic` and bound to `0.0.0.0`; it then waits, paid but unused.
//! - **What may be taken** (seed 003): *"You can re-use only the license which name is
//!   specified as free.lic, and its IP address is 0.0.0.0"*, of the same service package
//!   (license type = pricelist id; the partner module also compares the addon count), and
//!   only types listed in `ReusePrice` when reuse is limited to some. A license whose IP or
//!   key was changed too recently is not taken: the licensing server limits rebinding, and a
//!   refused `soft.edit` is exactly how the partner module skips a candidate.
//! - **When the pool is used** (seeds 000, 003): a new order takes a pooled license before
//!   buying one; *"A license won't be taken from a pool of free licenses when renewing the
//!   license. Only a new license can be taken from the pool."*; a tariff change takes one only
//!   with `Option UseExistingOnUpgrade`, otherwise the current license changes pricelist.
//! - **Leaving** (seed 000): *"If a license is not attached … and a month has elapsed since
//!   this license's termination date, it will be deleted from the list and will not be
//!   extendable further."* Pooled licenses are never renewed.
//! - **Failure** (reference §5.4, the partner module): any error while taking a license puts it
//!   back — suspended, `free.lic`, `0.0.0.0` — and the next candidate is tried; an order is
//!   placed only when no candidate could be taken.
//!
//! Months are calendar months with a stable anchor ([`crate::billing::dates::add_months`]):
//! a license that expired on Jan 31 leaves the pool on Feb 28 (Feb 29 in a leap year).

use std::cmp::Ordering;

use crate::api::common::{Date, LicensePeriod};
use crate::api::license_pool::{
    LicensePoolSpec, LicenseTypeCount, PooledLicense, PooledLicenseState,
};
use crate::api::processing_module::LicensingSettings;
use crate::billing::dates::add_months;
use crate::panel::licensing::{License, LicenseStatus};

/// The name of a pooled license (seed 003).
pub const FREE_LICNAME: &str = "free.lic";
/// The IP address of a pooled license (seed 003).
pub const FREE_IP: &str = "0.0.0.0";

/// One license of the account at the licensing server, as the pool sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolLicense {
    /// License id at the licensing server (`elid`).
    pub id: String,
    /// License type: the pricelist id.
    pub license_type: String,
    /// Quantity of the license's node addon (`addon_<id>=N`); 0 when the type has none. The
    /// partner module takes only licenses with the same addon count (reference §5.4).
    pub addon_quantity: u32,
    /// Bound IP: [`FREE_IP`] while pooled.
    pub ip: String,
    /// License name: [`FREE_LICNAME`] while pooled.
    pub name: String,
    /// Its expiry date (`expiredate`): the first day it is not paid.
    pub expires_on: Date,
    /// When its IP was last really changed (`real_ipchange`), if the server says.
    pub ip_changed_on: Option<Date>,
    /// When its key was last regenerated (`real_keychange`), if the server says.
    pub key_changed_on: Option<Date>,
    /// Its `soft` status at the licensing server.
    pub status: LicenseStatus,
    /// A take of this license is in progress for some service; nobody else may take it.
    pub reserved: bool,
}

impl PoolLicense {
    /// Whether it carries the pooled name and IP: the only licenses seed 003 lets us reuse.
    pub fn is_free(&self) -> bool {
        self.name == FREE_LICNAME && self.ip == FREE_IP
    }

    /// Its node count from the pool's records ([`NODES_ANNOTATION_PREFIX`]); unchanged (0)
    /// without a record.
    pub fn with_recorded_nodes(
        mut self,
        records: &std::collections::BTreeMap<String, NodesRecord>,
    ) -> Self {
        if let Some(r) = records.get(&self.id) {
            self.addon_quantity = r.quantity;
        }
        self
    }

    /// A pooled license from a `func=soft` row: `None` unless the row is free (`free.lic`,
    /// `0.0.0.0`), not deleted, and has a readable `expiredate` (a license without a known
    /// expiry is not guessed at). The `soft` row carries no addon count (see
    /// [`Self::with_recorded_nodes`]) and the panel client does not read
    /// `real_ipchange`/`real_keychange` yet: those are 0 and unknown, to be filled by the
    /// caller where it knows better (an unknown change date does not hold a
    /// license back; the server's refusal of the rebind does, and is compensated).
    pub fn from_panel(license: &License) -> Option<Self> {
        let expires_on = license.expiredate.trim().parse().ok().map(Date)?;
        let pooled = Self {
            id: license.id.clone(),
            license_type: license.pricelist.clone(),
            addon_quantity: 0,
            ip: license.ip.trim().to_owned(),
            name: license.licname.trim().to_owned(),
            expires_on,
            ip_changed_on: None,
            key_changed_on: None,
            status: license.status,
            reserved: false,
        };
        (pooled.is_free() && license.status != LicenseStatus::Deleted).then_some(pooled)
    }
}

/// Prefix of the `LicensePool` annotations that record how many extra nodes a license has.
///
/// Why a record at all: the node addon (`addon_<id>=N`, reference §5.2/§5.3) is sent with
/// the order, but neither `func=soft` nor the `soft.edit` view gives it back, so a pooled
/// license does not say how many nodes it has. The partner module keeps the count in its
/// local table (reference §5.4: `ispsystem_noc(… servicepackage, serviceaddon)`) and takes
/// only licenses with the same count. hostplane's durable local table is the `LicensePool`
/// object of the module (its status is not: status is observation, rebuilt from the panel):
///
/// - `nodes.hostplane.dev/<license id>: <addon id>=<N>` — the license was bought (or taken
///   from the pool) with N extra nodes;
/// - `nodes.hostplane.dev/<remoteid>: <addon id>=<N>` — an order with N extra nodes is about
///   to be sent for this need; written *before* the order, so that a lost answer or a crash
///   still tells how many nodes the license found later by its `remoteid` has. It is turned
///   into the license's record when that license is found (or released), and dropped when the
///   order is refused.
///
/// Only counts above zero are recorded (a record per license of a 10,000-service account would
/// not fit the annotation size limit). A license without a record has an unknown count and is
/// treated as having none, as before these records existed: a need with nodes never takes it.
pub const NODES_ANNOTATION_PREFIX: &str = "nodes.hostplane.dev/";

/// The node addon a license was bought with: `<addon id>=<quantity>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodesRecord {
    pub addon_id: String,
    pub quantity: u32,
}

impl NodesRecord {
    /// Reads `4602=3`; `None` for anything else (a hand-edited value is not guessed at).
    pub fn parse(text: &str) -> Option<Self> {
        let (addon, quantity) = text.trim().split_once('=')?;
        let addon = addon.trim();
        (!addon.is_empty() && addon.bytes().all(|b| b.is_ascii_digit())).then_some(())?;
        Some(Self {
            addon_id: addon.to_owned(),
            quantity: quantity.trim().parse().ok()?,
        })
    }

    /// The annotation value.
    pub fn value(&self) -> String {
        format!("{}={}", self.addon_id, self.quantity)
    }

    /// The annotation key of a license id or a `remoteid`.
    pub fn key(of: &str) -> String {
        format!("{NODES_ANNOTATION_PREFIX}{of}")
    }
}

/// The node records among a `LicensePool`'s annotations, by license id or `remoteid`.
pub fn nodes_records<'a>(
    annotations: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> std::collections::BTreeMap<String, NodesRecord> {
    annotations
        .into_iter()
        .filter_map(|(k, v)| {
            let of = k.strip_prefix(NODES_ANNOTATION_PREFIX)?;
            Some((of.to_owned(), NodesRecord::parse(v)?))
        })
        .collect()
}

/// The pool's rules, merged from the licensing module (seed 003's `cpbillmgr.conf` options)
/// and the `LicensePool` object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolRules {
    /// `Option ReUseLicense`: use the pool at all.
    pub reuse: bool,
    /// `ReusePrice` of the module: reusable types; empty means every type.
    pub reusable_types: Vec<String>,
    /// `LicensePool.spec.licenseTypes`: narrows the module's list; empty means no narrowing.
    pub pool_types: Vec<String>,
    /// `Option UseExistingOnUpgrade`: a tariff change may take a pooled license.
    pub use_existing_on_upgrade: bool,
    /// A license is taken only when its IP and key were last changed more than this many
    /// months ago; 0 disables the check.
    pub min_months_since_rebind: u32,
    /// A pooled license leaves the pool this many months after its expiry.
    pub retain_months_after_expiry: u32,
}

impl Default for PoolRules {
    /// The defaults of the API types: reuse every type, one month of rebind cooling, one
    /// month of retention after expiry (seed 000).
    fn default() -> Self {
        Self {
            reuse: true,
            reusable_types: Vec::new(),
            pool_types: Vec::new(),
            use_existing_on_upgrade: false,
            min_months_since_rebind: 1,
            retain_months_after_expiry: 1,
        }
    }
}

impl PoolRules {
    /// The rules of a licensing module and, if there is one, its `LicensePool`. Without a
    /// `LicensePool` object the pool still works with the defaults: pooling is the module's
    /// `reuseLicenses` decision, the object only tunes it.
    pub fn new(licensing: &LicensingSettings, pool: Option<&LicensePoolSpec>) -> Self {
        let defaults = Self::default();
        Self {
            reuse: licensing.reuse_licenses,
            reusable_types: licensing.reusable_license_types.clone(),
            pool_types: pool.map(|p| p.license_types.clone()).unwrap_or_default(),
            use_existing_on_upgrade: licensing.use_existing_on_upgrade,
            min_months_since_rebind: pool.map_or(defaults.min_months_since_rebind, |p| {
                p.min_months_since_rebind
            }),
            retain_months_after_expiry: pool.map_or(defaults.retain_months_after_expiry, |p| {
                p.retain_months_after_expiry
            }),
        }
    }

    /// Whether licenses of this type are pooled and reused (`ReUseLicense` and `ReusePrice`,
    /// seed 003, narrowed by the pool's own list).
    pub fn reusable(&self, license_type: &str) -> bool {
        let listed = |list: &[String]| list.is_empty() || list.iter().any(|t| t == license_type);
        self.reuse && listed(&self.reusable_types) && listed(&self.pool_types)
    }

    /// The last day a license changed on `changed_on` is still cooling: the rebind limit ends
    /// only when *more than* `min_months_since_rebind` calendar months have passed, so on the
    /// anniversary itself (Jan 15 → Feb 15; Jan 31 → Feb 28) it is still held back. `None`
    /// when there is no limit; the last day of the calendar when the anniversary is past it.
    pub fn cooling_until(&self, changed_on: Date) -> Option<Date> {
        if self.min_months_since_rebind == 0 {
            return None;
        }
        Some(
            add_months(changed_on, i64::from(self.min_months_since_rebind))
                .unwrap_or(Date(jiff::civil::Date::MAX)),
        )
    }

    /// The day a license that expires on `expires_on` leaves the pool. `None` when that day
    /// is past the end of the calendar.
    pub fn leaves_pool_on(&self, expires_on: Date) -> Option<Date> {
        add_months(expires_on, i64::from(self.retain_months_after_expiry)).ok()
    }
}

/// Why a license is wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NeedKind {
    /// A new service, or a new control-panel addon: the pool is tried first.
    NewOrder,
    /// The service changes to a tariff with another license type: the pool is tried only
    /// with `UseExistingOnUpgrade`, else the current license changes pricelist (seed 003).
    TariffChange,
    /// The bound license runs out: it is prolonged, never swapped for a pooled one (seed 003).
    Renewal,
}

/// A license a service needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenseNeed {
    pub kind: NeedKind,
    /// The pricelist id wanted.
    pub license_type: String,
    /// The node addon quantity wanted; 0 when the type has none.
    pub addon_quantity: u32,
    /// The period a bought license would have ([`super::renewal::license_period`]); an
    /// expired pooled license is prolonged for it when taken.
    pub period: LicensePeriod,
}

/// Why a pooled license cannot serve a need; shown in status so that "why was a license
/// bought when the pool has one" has an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ineligible {
    /// Not named `free.lic` with IP `0.0.0.0` (seed 003).
    NotFree,
    /// Deleted at the licensing server.
    Deleted,
    /// Another service is taking it.
    Reserved,
    /// Another license type (pricelist).
    TypeMismatch,
    /// Another node addon quantity.
    AddonMismatch,
    /// The type is not reusable (`ReUseLicense`/`ReusePrice`).
    NotReusable,
    /// Its IP or key changed too recently; takeable the day after `until`.
    Cooling { until: Date },
    /// A month past its expiry: it has left the pool (seed 000).
    ExpiredOut,
}

/// Whether `license` can serve `need` on `today`, regardless of the need's kind (see [`take`]
/// for which kinds use the pool at all).
pub fn eligibility(
    license: &PoolLicense,
    need: &LicenseNeed,
    rules: &PoolRules,
    today: Date,
) -> Result<(), Ineligible> {
    if !license.is_free() {
        return Err(Ineligible::NotFree);
    }
    if license.status == LicenseStatus::Deleted {
        return Err(Ineligible::Deleted);
    }
    if license.reserved {
        return Err(Ineligible::Reserved);
    }
    if license.license_type != need.license_type {
        return Err(Ineligible::TypeMismatch);
    }
    if license.addon_quantity != need.addon_quantity {
        return Err(Ineligible::AddonMismatch);
    }
    if !rules.reusable(&license.license_type) {
        return Err(Ineligible::NotReusable);
    }
    if rules
        .leaves_pool_on(license.expires_on)
        .is_some_and(|leaves| leaves <= today)
    {
        return Err(Ineligible::ExpiredOut);
    }
    let cooling = [license.ip_changed_on, license.key_changed_on]
        .into_iter()
        .flatten()
        .filter_map(|changed| rules.cooling_until(changed))
        .max();
    if let Some(until) = cooling
        && today <= until
    {
        return Err(Ineligible::Cooling { until });
    }
    Ok(())
}

/// The pool's state of one license on `today`, for `LicensePool.status`.
pub fn pool_state(license: &PoolLicense, rules: &PoolRules, today: Date) -> PooledLicenseState {
    let cooling = [license.ip_changed_on, license.key_changed_on]
        .into_iter()
        .flatten()
        .filter_map(|changed| rules.cooling_until(changed))
        .any(|until| today <= until);
    if license.reserved {
        PooledLicenseState::Reserved
    } else if license.expires_on <= today {
        PooledLicenseState::Expired
    } else if cooling {
        PooledLicenseState::Cooling
    } else {
        PooledLicenseState::Idle
    }
}

/// The `LicensePool.status.licenses` entries and per-type `counts` on `today`: licenses that
/// left the pool ([`expired_out`]) are not listed. Entries are ordered by id, counts by type,
/// so an unchanged pool writes an unchanged status.
pub fn pool_status(
    pool: &[PoolLicense],
    rules: &PoolRules,
    today: Date,
) -> (Vec<PooledLicense>, Vec<LicenseTypeCount>) {
    let mut listed: Vec<&PoolLicense> = pool
        .iter()
        .filter(|l| l.is_free() && l.status != LicenseStatus::Deleted)
        .filter(|l| {
            rules
                .leaves_pool_on(l.expires_on)
                .is_none_or(|leaves| today < leaves)
        })
        .collect();
    listed.sort_by(|a, b| numeric_id_order(&a.id, &b.id));
    let mut counts: Vec<LicenseTypeCount> = Vec::new();
    for l in &listed {
        match counts.iter_mut().find(|c| c.license_type == l.license_type) {
            Some(c) => c.count += 1,
            None => counts.push(LicenseTypeCount {
                license_type: l.license_type.clone(),
                count: 1,
            }),
        }
    }
    counts.sort_by(|a, b| numeric_id_order(&a.license_type, &b.license_type));
    let entries = listed
        .into_iter()
        .map(|l| PooledLicense {
            id: l.id.clone(),
            license_type: l.license_type.clone(),
            expires_on: l.expires_on,
            state: pool_state(l, rules, today),
            pooled_on: None,
            nodes: (l.addon_quantity > 0).then_some(l.addon_quantity),
        })
        .collect();
    (entries, counts)
}

/// The pooled license a need takes, and what taking it involves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TakeChoice {
    pub license_id: String,
    /// Its expiry before the take.
    pub expires_on: Date,
    /// `Some(period)` when it has already expired (`today >= expiredate`): it is prolonged for
    /// the need's period as part of the take, as the partner module does (reference §5.4).
    pub prolong: Option<LicensePeriod>,
}

/// Every pooled license `need` could take on `today`, best first; empty when the need's kind
/// does not use the pool.
///
/// Best = **latest expiry first**. A pooled license's prepaid time runs out whether or not it
/// is used; the service that takes it rides on that time until its first renewal. Taking the
/// license with the most time left therefore saves the most money per take, and a license
/// expiring soon is worth little to anyone (seeds are silent on the order; the partner module
/// takes whatever its table lists first). Expired licenses, which cost a prolongation at once,
/// come last on their own: their expiry is before every unexpired one. Equal expiries are
/// ordered by id (numerically), so the choice is deterministic.
///
/// After a failed take ([`LicensePlan::on_failure`]) the caller tries the next candidate,
/// like the partner module's `continue`, and orders only when none is left.
pub fn candidates(
    pool: &[PoolLicense],
    need: &LicenseNeed,
    rules: &PoolRules,
    today: Date,
) -> Vec<TakeChoice> {
    let uses_pool = rules.reuse
        && need.period != LicensePeriod::Trial
        && match need.kind {
            NeedKind::NewOrder => true,
            NeedKind::TariffChange => rules.use_existing_on_upgrade,
            NeedKind::Renewal => false,
        };
    if !uses_pool {
        return Vec::new();
    }
    let mut found: Vec<&PoolLicense> = pool
        .iter()
        .filter(|l| eligibility(l, need, rules, today).is_ok())
        .collect();
    found.sort_by(|a, b| {
        b.expires_on
            .cmp(&a.expires_on)
            .then_with(|| numeric_id_order(&a.id, &b.id))
    });
    found
        .into_iter()
        .map(|l| TakeChoice {
            license_id: l.id.clone(),
            expires_on: l.expires_on,
            prolong: (l.expires_on <= today).then_some(need.period),
        })
        .collect()
}

/// The pooled license a need takes on `today`, if any: the first of [`candidates`].
pub fn take(
    pool: &[PoolLicense],
    need: &LicenseNeed,
    rules: &PoolRules,
    today: Date,
) -> Option<TakeChoice> {
    candidates(pool, need, rules, today).into_iter().next()
}

/// How a need gets its license.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acquisition {
    /// Take this pooled license ([`take_plan`]).
    Take(TakeChoice),
    /// Buy a new license (`soft.order.param`, with the need's `remoteid`).
    Order,
    /// Tariff change without a usable pooled license, or without `UseExistingOnUpgrade`:
    /// move the current license to the new pricelist (`service.changepricelist`, seed 003:
    /// "the service package of the current one will be changed").
    ChangePricelist,
    /// Renewal: prolong the bound license (`service.prolong`); the pool is never used.
    Prolong,
}

/// Seed 003's decision for a need: the pool first for new orders (and for tariff changes with
/// `UseExistingOnUpgrade`, where the old license then goes to the pool), else buy or change
/// the current license's pricelist; renewals always prolong.
pub fn acquire(
    pool: &[PoolLicense],
    need: &LicenseNeed,
    rules: &PoolRules,
    today: Date,
) -> Acquisition {
    match (need.kind, take(pool, need, rules, today)) {
        (NeedKind::Renewal, _) => Acquisition::Prolong,
        (_, Some(choice)) => Acquisition::Take(choice),
        (NeedKind::NewOrder, None) => Acquisition::Order,
        (NeedKind::TariffChange, None) => Acquisition::ChangePricelist,
    }
}

/// The pooled licenses that leave the pool on `today`: those whose expiry is
/// `retain_months_after_expiry` calendar months ago or more (seed 000: "a month has elapsed
/// since this license's termination date"). Expired Jan 15 → leaves Feb 15; expired Jan 31
/// → leaves Feb 28. They are forgotten and never renewed; the licensing server deletes
/// expired licenses on its own, and `LicensePool` documents deleting them there.
pub fn expired_out<'p>(
    pool: &'p [PoolLicense],
    rules: &PoolRules,
    today: Date,
) -> Vec<&'p PoolLicense> {
    pool.iter()
        .filter(|l| {
            rules
                .leaves_pool_on(l.expires_on)
                .is_some_and(|leaves| leaves <= today)
        })
        .collect()
}

/// Where a taken license is bound: the service's name, IP and correlation id
/// ([`super::naming`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// `Item #ID addon NAME [remoteid]` ([`super::naming::license_name`]).
    pub licname: String,
    /// The server's IP (addon) or the service's `licenseIp` (standalone).
    pub ip: String,
    /// The need's `remoteid` ([`super::naming::RemoteId`]).
    pub remoteid: String,
}

/// One call (or one bookkeeping step) of a license plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LicenseStep {
    /// `soft.suspend`.
    Suspend { license_id: String },
    /// `soft.resume`.
    Resume { license_id: String },
    /// `soft.edit sok=ok licname= ip= remoteid=`: the rename and the rebind are one call at
    /// the licensing server, so they succeed or fail together.
    Edit {
        license_id: String,
        licname: String,
        ip: String,
        remoteid: String,
    },
    /// `service.prolong period=`: costs money and is never repeated after a lost answer
    /// (compare `expiredate` first).
    Prolong {
        license_id: String,
        period: LicensePeriod,
    },
    /// Bookkeeping: the license is now in the pool (`LicensePool.status`).
    JoinPool { license_id: String },
    /// Bookkeeping: a license of a type that is not reused is left suspended as `free.lic`
    /// on `0.0.0.0` (so the IP can get a new license) to expire; it is not renewed.
    Retire { license_id: String },
}

/// Taking a license out of the pool, or putting one in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanKind {
    Take,
    Release,
}

/// An ordered list of steps on one license.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicensePlan {
    pub kind: PlanKind,
    pub license_id: String,
    pub steps: Vec<LicenseStep>,
}

/// What to do after a step of a plan failed (or its outcome is unknown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnFailure {
    /// Run the plan again from this step: every step of a release is idempotent (suspend,
    /// edit, bookkeeping), so repeating it is safe. The license joins the pool only when all
    /// steps succeeded.
    RetryFrom(usize),
    /// Undo a take: run this release plan (suspended, `free.lic`, `0.0.0.0`, back in the pool),
    /// then try the next candidate or order. A prolongation that did happen is not lost: the
    /// license returns to the pool with the later expiry.
    PutBack(LicensePlan),
}

impl LicensePlan {
    /// Seed 003/reference §5.4: any error while taking a license puts it back; a release is
    /// retried until the license is in the pool.
    pub fn on_failure(&self, failed_step: usize) -> OnFailure {
        match self.kind {
            PlanKind::Take => OnFailure::PutBack(release_plan(&self.license_id, true)),
            PlanKind::Release => OnFailure::RetryFrom(failed_step.min(self.steps.len())),
        }
    }
}

/// Taking a pooled license for a service (reference §5.4, the partner module's create):
/// rebind first (`soft.edit`: the new owner's name `Item #ID addon NAME [remoteid]`, the
/// service's IP and `remoteid`) — the step the licensing server refuses when the license was
/// rebound too recently, so a refusal costs nothing — then prolong if it has expired, then resume it. Key reading
/// (`soft.edit` view until `lickey` is set) follows as for any new license; it is not part of
/// the take, so a slow key never puts a working license back.
pub fn take_plan(choice: &TakeChoice, binding: &Binding) -> LicensePlan {
    let id = || choice.license_id.clone();
    let mut steps = vec![LicenseStep::Edit {
        license_id: id(),
        licname: binding.licname.clone(),
        ip: binding.ip.clone(),
        remoteid: binding.remoteid.clone(),
    }];
    if let Some(period) = choice.prolong {
        steps.push(LicenseStep::Prolong {
            license_id: id(),
            period,
        });
    }
    steps.push(LicenseStep::Resume { license_id: id() });
    LicensePlan {
        kind: PlanKind::Take,
        license_id: id(),
        steps,
    }
}

/// Putting a license into the pool when its service is terminated (seeds 000 and 003,
/// reference §5.4): suspend, rename to `free.lic` and rebind to `0.0.0.0` with an empty
/// `remoteid` (one `soft.edit`), then join the pool. For a type that is not reused
/// (`reusable` false) the license is still suspended and unbound, and is retired instead.
/// Also the compensation of a failed take ([`OnFailure::PutBack`]).
pub fn release_plan(license_id: &str, reusable: bool) -> LicensePlan {
    let id = || license_id.to_owned();
    LicensePlan {
        kind: PlanKind::Release,
        license_id: id(),
        steps: vec![
            LicenseStep::Suspend { license_id: id() },
            LicenseStep::Edit {
                license_id: id(),
                licname: FREE_LICNAME.to_owned(),
                ip: FREE_IP.to_owned(),
                remoteid: String::new(),
            },
            if reusable {
                LicenseStep::JoinPool { license_id: id() }
            } else {
                LicenseStep::Retire { license_id: id() }
            },
        ],
    }
}

/// A service that needs a license, for [`match_existing`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceNeed<'a> {
    /// The service (e.g. `namespace/name`), echoed in the result.
    pub service: &'a str,
    /// The IP its license must be bound to; empty while the server has none.
    pub ip: &'a str,
    /// The pricelist id it needs.
    pub license_type: &'a str,
    /// Its `remoteid`.
    pub remoteid: &'a str,
    /// Whether the service is suspended (`Option NoFixSuspended`).
    pub suspended: bool,
    /// The license it already has, if any: that license is nobody else's.
    pub bound_license: Option<&'a str>,
}

/// Which license a service gets by [`match_existing`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExistingMatch {
    /// A license carries the service's own `remoteid`: it is the service's order (a lost
    /// answer, a restart). Its type is not compared: a pricelist change in flight keeps the
    /// id, and the reconciler compares the type itself.
    ByRemoteId(String),
    /// A license of the needed type is bound to the service's IP (seed 003, `fixchilds`).
    ByIp(String),
    /// Nothing matches: order one.
    Order,
    /// Suspended, nothing matches, and `NoFixSuspended` is set: order nothing.
    Skip,
    /// The service has no IP yet: a license cannot be matched or ordered.
    WaitForIp,
}

/// The outcome for one service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matched<'a> {
    pub service: &'a str,
    pub outcome: ExistingMatch,
}

/// Seed 003's `cpbillmgr fixchilds`: match the licenses already ordered on the partner account
/// to the services that need one and have none.
///
/// 1. Licenses come from `func=soft`; services with a `bound_license` are left out, and their
///    licenses are nobody else's.
/// 2. A license carrying a service's own `remoteid` goes to that service first (design §3:
///    look up before re-ordering). "Carrying" is the listed `remoteid` where the list echoes
///    it, else the tag in the license name ([`License::correlation_id`], reference §11).
/// 3. Otherwise *"if the list … contains a required license with the same IP address as the
///    service's IP, the license will be assigned to that service"*: same IP, same pricelist,
///    not deleted, not pooled, and not carrying another listed service's `remoteid`. When
///    several match, an active one wins over a suspended one, then the later expiry, then the
///    lower id.
/// 4. *"Otherwise, the module will order a required license"* — except for suspended services
///    with `NoFixSuspended` (`skip_suspended`): *"If you do not want to order licenses for
///    suspended services"*. The option only stops orders: a suspended service still gets an
///    existing license that matches, since that costs nothing.
///
/// Services are answered in input order; each license goes to at most one service.
pub fn match_existing<'a>(
    licenses: &[License],
    services: &[ServiceNeed<'a>],
    skip_suspended: bool,
) -> Vec<Matched<'a>> {
    use std::collections::HashSet;

    let mut taken: HashSet<&str> = services.iter().filter_map(|s| s.bound_license).collect();
    let claimed: HashSet<&str> = services
        .iter()
        .map(|s| s.remoteid)
        .filter(|r| !r.is_empty())
        .collect();
    let live = |l: &License| l.status != LicenseStatus::Deleted;
    let open: Vec<&ServiceNeed<'a>> = services
        .iter()
        .filter(|s| s.bound_license.is_none())
        .collect();

    // Pass 1: remoteids, so that a service's own order is never handed to a neighbour by IP.
    let mut by_remoteid: Vec<Option<String>> = Vec::with_capacity(open.len());
    for s in &open {
        let found = (!s.remoteid.is_empty())
            .then(|| {
                licenses
                    .iter()
                    .filter(|l| live(l) && l.carries(s.remoteid) && !taken.contains(l.id.as_str()))
                    .min_by(|a, b| preference(a, b))
            })
            .flatten();
        if let Some(l) = found {
            taken.insert(l.id.as_str());
        }
        by_remoteid.push(found.map(|l| l.id.clone()));
    }

    // Pass 2: IPs.
    let mut out = Vec::with_capacity(open.len());
    for (s, own) in open.into_iter().zip(by_remoteid) {
        let outcome = if let Some(id) = own {
            ExistingMatch::ByRemoteId(id)
        } else if s.ip.trim().is_empty() {
            ExistingMatch::WaitForIp
        } else {
            let found = licenses
                .iter()
                .filter(|l| {
                    live(l)
                        && l.ip.trim() == s.ip.trim()
                        && l.ip.trim() != FREE_IP
                        && l.licname != FREE_LICNAME
                        && l.pricelist == s.license_type
                        && !taken.contains(l.id.as_str())
                        && !l
                            .correlation_id()
                            .is_some_and(|c| claimed.contains(c) && c != s.remoteid)
                })
                .min_by(|a, b| preference(a, b));
            match found {
                Some(l) => {
                    taken.insert(l.id.as_str());
                    ExistingMatch::ByIp(l.id.clone())
                }
                None if s.suspended && skip_suspended => ExistingMatch::Skip,
                None => ExistingMatch::Order,
            }
        };
        out.push(Matched {
            service: s.service,
            outcome,
        });
    }
    out
}

/// Where a need stands when the license it is bound to may carry another type (pricelist)
/// than the need wants: a tariff change of a `SoftwareLicense` service, another control panel
/// chosen for a virtual server (seed 003, `Option UseExistingOnUpgrade`).
///
/// The need's licenses are identified by its `remoteid` **and** the wanted pricelist; no
/// `remoteid` generation is bumped. Why one generation suffices: a take on a type change
/// rebinds the pooled license to the need's `remoteid` *before* the old license is released,
/// so if the controller dies in between, two live licenses carry the `remoteid` — exactly one
/// of the wanted type (the new one: the old one cannot have it, since the type differs) and
/// the others of other types. The next reconcile therefore knows which one is current without
/// any record: the one of the wanted type; every other license carrying the `remoteid` is
/// superseded and goes to the pool. A `changepricelist` keeps the license id and the
/// `remoteid`, so it needs no second identity either.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeSettlement {
    /// A license of the need already has the wanted type (an earlier take, or a
    /// `changepricelist` that was applied): it is current; `superseded` go to the pool.
    Adopt {
        license_id: String,
        superseded: Vec<String>,
    },
    /// No license of the need has the wanted type: `license_id` (the bound one) is switched —
    /// a pooled license of the wanted type is taken with `UseExistingOnUpgrade`, else its
    /// pricelist is changed. `superseded` (leftovers of earlier changes, other types) go to
    /// the pool first.
    Switch {
        license_id: String,
        superseded: Vec<String>,
    },
}

/// Decides [`TypeSettlement`] from the account's licenses (`func=soft`), the need's `remoteid`,
/// the license the need is bound to, and the wanted type. The bound license counts as the
/// need's even when the listing does not echo its `remoteid`. Among several licenses of the
/// wanted type the working one with the later expiry wins ([`preference`]); the rest are
/// superseded like the others, so a need never keeps two licenses.
pub fn settle_type(
    licenses: &[License],
    remoteid: &str,
    bound: &License,
    wanted_type: &str,
) -> TypeSettlement {
    let mut ours: Vec<&License> = licenses
        .iter()
        .filter(|l| l.status != LicenseStatus::Deleted && l.id != bound.id && l.carries(remoteid))
        .collect();
    ours.push(bound);
    let current = ours
        .iter()
        .filter(|l| l.pricelist == wanted_type)
        .min_by(|a, b| preference(a, b))
        .map(|l| l.id.clone());
    let others = |keep: &str| -> Vec<String> {
        let mut ids: Vec<String> = ours
            .iter()
            .filter(|l| l.id != keep)
            .map(|l| l.id.clone())
            .collect();
        ids.sort_by(|a, b| numeric_id_order(a, b));
        ids
    };
    match current {
        Some(id) => TypeSettlement::Adopt {
            superseded: others(&id),
            license_id: id,
        },
        None => TypeSettlement::Switch {
            license_id: bound.id.clone(),
            superseded: others(&bound.id),
        },
    }
}

/// Among licenses that match one service: working before suspended, later expiry, lower id.
fn preference(a: &License, b: &License) -> Ordering {
    let working = |l: &License| {
        matches!(
            l.status,
            LicenseStatus::Active | LicenseStatus::Ordered | LicenseStatus::Processing
        )
    };
    working(b)
        .cmp(&working(a))
        .then_with(|| b.expiredate.trim().cmp(a.expiredate.trim()))
        .then_with(|| numeric_id_order(&a.id, &b.id))
}

/// Ids are numbers at the licensing server: `99` before `100`.
fn numeric_id_order(a: &str, b: &str) -> Ordering {
    (a.len(), a).cmp(&(b.len(), b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::dates::add_days;
    use proptest::prelude::*;

    fn date(s: &str) -> Date {
        Date(s.parse().expect("a YYYY-MM-DD date"))
    }

    fn pooled(id: &str, license_type: &str, expires_on: &str) -> PoolLicense {
        PoolLicense {
            id: id.to_owned(),
            license_type: license_type.to_owned(),
            addon_quantity: 0,
            ip: FREE_IP.to_owned(),
            name: FREE_LICNAME.to_owned(),
            expires_on: date(expires_on),
            ip_changed_on: None,
            key_changed_on: None,
            status: LicenseStatus::Suspended,
            reserved: false,
        }
    }

    fn need(kind: NeedKind, license_type: &str) -> LicenseNeed {
        LicenseNeed {
            kind,
            license_type: license_type.to_owned(),
            addon_quantity: 0,
            period: LicensePeriod::OneMonth,
        }
    }

    fn new_order(license_type: &str) -> LicenseNeed {
        need(NeedKind::NewOrder, license_type)
    }

    fn ids(choices: &[TakeChoice]) -> Vec<&str> {
        choices.iter().map(|c| c.license_id.as_str()).collect()
    }

    // --- Seeds' worked examples -------------------------------------------------------

    /// Seed 001: yearly licenses sold with monthly VPSs; a client cancels in the third month
    /// and the paid-up license joins the pool; the next order takes it instead of buying.
    #[test]
    fn seed_001_a_cancelled_yearly_license_serves_the_next_order() {
        let rules = PoolRules::default();
        // Ordered 2026-01-10 for a year; the VPS is cancelled on 2026-03-20.
        let release = release_plan("1001", rules.reusable("3541"));
        assert_eq!(
            release.steps,
            vec![
                LicenseStep::Suspend {
                    license_id: "1001".into()
                },
                LicenseStep::Edit {
                    license_id: "1001".into(),
                    licname: "free.lic".into(),
                    ip: "0.0.0.0".into(),
                    remoteid: String::new(),
                },
                LicenseStep::JoinPool {
                    license_id: "1001".into()
                },
            ]
        );
        let mut license = pooled("1001", "3541", "2027-01-10");
        // The rebind to 0.0.0.0 counted as an IP change on the day of cancellation.
        license.ip_changed_on = Some(date("2026-03-20"));
        let pool = [license];
        // A month later (more than a month after the change) a new order takes it.
        assert_eq!(
            acquire(&pool, &new_order("3541"), &rules, date("2026-04-21")),
            Acquisition::Take(TakeChoice {
                license_id: "1001".into(),
                expires_on: date("2027-01-10"),
                prolong: None,
            })
        );
    }

    /// Seed 003: "A license won't be taken from a pool of free licenses when renewing the
    /// license. Only a new license can be taken from the pool."
    #[test]
    fn seed_003_renewal_never_takes_from_the_pool() {
        let pool = [pooled("1", "3541", "2027-01-01")];
        let rules = PoolRules::default();
        let renewal = need(NeedKind::Renewal, "3541");
        assert_eq!(take(&pool, &renewal, &rules, date("2026-06-01")), None);
        assert_eq!(
            acquire(&pool, &renewal, &rules, date("2026-06-01")),
            Acquisition::Prolong
        );
    }

    /// Seed 003: "You can re-use only the license which name is specified as free.lic, and
    /// its IP address is 0.0.0.0."
    #[test]
    fn seed_003_only_free_lic_on_0_0_0_0_is_reused() {
        let rules = PoolRules::default();
        let today = date("2026-06-01");
        let mut named = pooled("1", "3541", "2027-01-01");
        named.name = "Item #vps1 addon vps1".into();
        let mut bound = pooled("2", "3541", "2027-01-01");
        bound.ip = "203.0.113.5".into();
        let pool = [named.clone(), bound.clone()];
        assert_eq!(take(&pool, &new_order("3541"), &rules, today), None);
        assert_eq!(
            eligibility(&named, &new_order("3541"), &rules, today),
            Err(Ineligible::NotFree)
        );
        assert_eq!(
            eligibility(&bound, &new_order("3541"), &rules, today),
            Err(Ineligible::NotFree)
        );
    }

    /// Seed 003: `Option ReUseLicense` with `ReusePrice` lines: only listed packages reuse.
    #[test]
    fn seed_003_reuse_price_limits_the_reusable_types() {
        let pool = [
            pooled("1", "3541", "2027-01-01"),
            pooled("2", "4601", "2027-01-01"),
        ];
        let today = date("2026-06-01");
        let rules = PoolRules {
            reusable_types: vec!["4601".into()],
            ..PoolRules::default()
        };
        assert_eq!(take(&pool, &new_order("3541"), &rules, today), None);
        assert_eq!(
            take(&pool, &new_order("4601"), &rules, today).map(|c| c.license_id),
            Some("2".into())
        );
        // The LicensePool's own list narrows further.
        let narrowed = PoolRules {
            pool_types: vec!["3541".into()],
            ..rules.clone()
        };
        assert_eq!(take(&pool, &new_order("4601"), &narrowed, today), None);
        // Without ReUseLicense nothing is reused.
        let off = PoolRules {
            reuse: false,
            ..PoolRules::default()
        };
        assert_eq!(
            acquire(&pool, &new_order("3541"), &off, today),
            Acquisition::Order
        );
        // A type that is not reused is retired, not pooled, on termination.
        assert_eq!(
            release_plan("9", rules.reusable("3541")).steps.last(),
            Some(&LicenseStep::Retire {
                license_id: "9".into()
            })
        );
    }

    /// Seed 003: `Option UseExistingOnUpgrade` — a tariff change takes a pooled license of the
    /// new type; without a match, or without the option, the current license changes pricelist.
    #[test]
    fn seed_003_use_existing_on_upgrade() {
        let pool = [pooled("7", "4601", "2027-01-01")];
        let today = date("2026-06-01");
        let change = need(NeedKind::TariffChange, "4601");
        let without = PoolRules::default();
        assert_eq!(
            acquire(&pool, &change, &without, today),
            Acquisition::ChangePricelist
        );
        let with = PoolRules {
            use_existing_on_upgrade: true,
            ..PoolRules::default()
        };
        assert!(matches!(
            acquire(&pool, &change, &with, today),
            Acquisition::Take(c) if c.license_id == "7"
        ));
        assert_eq!(
            acquire(&[], &change, &with, today),
            Acquisition::ChangePricelist
        );
    }

    /// Seed 000: "If a license is not attached … and a month has elapsed since this license's
    /// termination date, it will be deleted from the list".
    #[test]
    fn seed_000_a_pooled_license_leaves_a_month_after_expiry() {
        let rules = PoolRules::default();
        let pool = [pooled("1", "3541", "2026-05-15")];
        assert!(expired_out(&pool, &rules, date("2026-06-14")).is_empty());
        assert_eq!(expired_out(&pool, &rules, date("2026-06-15")).len(), 1);
        assert_eq!(expired_out(&pool, &rules, date("2026-09-01")).len(), 1);
        // Retention is configurable.
        let two = PoolRules {
            retain_months_after_expiry: 2,
            ..rules
        };
        assert!(expired_out(&pool, &two, date("2026-07-14")).is_empty());
        assert_eq!(expired_out(&pool, &two, date("2026-07-15")).len(), 1);
    }

    /// Reference §5.4: the partner module prolongs a free license that has already expired
    /// (`today >= duedate`) when it takes it.
    #[test]
    fn an_expired_pooled_license_is_prolonged_when_taken() {
        let rules = PoolRules::default();
        let pool = [pooled("1", "3541", "2026-06-01")];
        let mut yearly = new_order("3541");
        yearly.period = LicensePeriod::OneYear;
        let choice = take(&pool, &yearly, &rules, date("2026-06-10")).unwrap();
        assert_eq!(choice.prolong, Some(LicensePeriod::OneYear));
        let plan = take_plan(
            &choice,
            &Binding {
                licname: "Item #vps1 addon vps1.example.com".into(),
                ip: "203.0.113.5".into(),
                remoteid: "hpa0-aaaaaaaaaaaaaaaaaaaa".into(),
            },
        );
        assert_eq!(
            plan.steps,
            vec![
                LicenseStep::Edit {
                    license_id: "1".into(),
                    licname: "Item #vps1 addon vps1.example.com".into(),
                    ip: "203.0.113.5".into(),
                    remoteid: "hpa0-aaaaaaaaaaaaaaaaaaaa".into(),
                },
                LicenseStep::Prolong {
                    license_id: "1".into(),
                    period: LicensePeriod::OneYear
                },
                LicenseStep::Resume {
                    license_id: "1".into()
                },
            ]
        );
    }

    // --- Edge cases -------------------------------------------------------------------

    #[test]
    fn an_empty_pool_means_ordering() {
        let rules = PoolRules::default();
        let today = date("2026-06-01");
        assert_eq!(take(&[], &new_order("3541"), &rules, today), None);
        assert_eq!(
            acquire(&[], &new_order("3541"), &rules, today),
            Acquisition::Order
        );
    }

    #[test]
    fn another_type_or_addon_count_is_not_taken() {
        let rules = PoolRules::default();
        let today = date("2026-06-01");
        let lite = pooled("1", "3541", "2027-01-01");
        let mut business = pooled("2", "4601", "2027-01-01");
        business.addon_quantity = 2;
        let pool = [lite.clone(), business.clone()];
        assert_eq!(
            eligibility(&lite, &new_order("4601"), &rules, today),
            Err(Ineligible::TypeMismatch)
        );
        let mut one_node = new_order("4601");
        one_node.addon_quantity = 1;
        assert_eq!(take(&pool, &one_node, &rules, today), None);
        assert_eq!(
            eligibility(&business, &one_node, &rules, today),
            Err(Ineligible::AddonMismatch)
        );
        one_node.addon_quantity = 2;
        assert_eq!(
            take(&pool, &one_node, &rules, today).map(|c| c.license_id),
            Some("2".into())
        );
    }

    #[test]
    fn a_license_changed_exactly_a_month_ago_is_still_cooling() {
        let rules = PoolRules::default();
        let mut license = pooled("1", "3541", "2027-01-01");
        license.ip_changed_on = Some(date("2026-05-15"));
        let pool = [license.clone()];
        let order = new_order("3541");
        assert_eq!(
            eligibility(&license, &order, &rules, date("2026-06-15")),
            Err(Ineligible::Cooling {
                until: date("2026-06-15")
            })
        );
        assert_eq!(
            pool_state(&license, &rules, date("2026-06-15")),
            PooledLicenseState::Cooling
        );
        assert!(take(&pool, &order, &rules, date("2026-06-16")).is_some());
        assert_eq!(
            pool_state(&license, &rules, date("2026-06-16")),
            PooledLicenseState::Idle
        );
        // The key counts as much as the IP; the later change decides.
        license.key_changed_on = Some(date("2026-06-01"));
        assert_eq!(
            eligibility(&license, &order, &rules, date("2026-06-16")),
            Err(Ineligible::Cooling {
                until: date("2026-07-01")
            })
        );
        // 0 months: no cooling at all.
        let none = PoolRules {
            min_months_since_rebind: 0,
            ..rules
        };
        assert!(eligibility(&license, &order, &none, date("2026-06-01")).is_ok());
    }

    #[test]
    fn cooling_follows_calendar_months_at_month_ends() {
        let rules = PoolRules::default();
        let order = new_order("3541");
        let mut license = pooled("1", "3541", "2030-01-01");
        // Jan 31 + 1 month = Feb 28 (2026) / Feb 29 (2028): takeable the day after.
        for (changed, last_cooling, first_free) in [
            ("2026-01-31", "2026-02-28", "2026-03-01"),
            ("2028-01-31", "2028-02-29", "2028-03-01"),
            ("2026-03-31", "2026-04-30", "2026-05-01"),
            ("2026-12-31", "2027-01-31", "2027-02-01"),
        ] {
            license.ip_changed_on = Some(date(changed));
            assert!(
                eligibility(&license, &order, &rules, date(last_cooling)).is_err(),
                "{changed}"
            );
            assert!(
                eligibility(&license, &order, &rules, date(first_free)).is_ok(),
                "{changed}"
            );
        }
    }

    #[test]
    fn a_pooled_license_expiring_today_is_taken_with_a_prolongation() {
        let rules = PoolRules::default();
        let today = date("2026-06-01");
        let license = pooled("1", "3541", "2026-06-01");
        assert_eq!(
            pool_state(&license, &rules, today),
            PooledLicenseState::Expired
        );
        let choice = take(&[license], &new_order("3541"), &rules, today).unwrap();
        assert_eq!(choice.prolong, Some(LicensePeriod::OneMonth));
        // One day earlier it still has a day paid: no prolongation.
        let earlier = take(
            &[pooled("1", "3541", "2026-06-01")],
            &new_order("3541"),
            &rules,
            date("2026-05-31"),
        )
        .unwrap();
        assert_eq!(earlier.prolong, None);
    }

    #[test]
    fn expiry_at_month_ends_uses_the_anchor() {
        let rules = PoolRules::default();
        let pool = [pooled("1", "3541", "2026-01-31")];
        assert!(expired_out(&pool, &rules, date("2026-02-27")).is_empty());
        assert_eq!(expired_out(&pool, &rules, date("2026-02-28")).len(), 1);
        // While retained it can still be taken (and prolonged); from that day on it cannot.
        assert!(take(&pool, &new_order("3541"), &rules, date("2026-02-27")).is_some());
        assert_eq!(
            eligibility(&pool[0], &new_order("3541"), &rules, date("2026-02-28")),
            Err(Ineligible::ExpiredOut)
        );
    }

    #[test]
    fn the_latest_expiry_is_taken_first_and_expired_ones_last() {
        let rules = PoolRules::default();
        let today = date("2026-06-01");
        let pool = [
            pooled("10", "3541", "2026-06-20"),
            pooled("11", "3541", "2027-03-01"),
            pooled("12", "3541", "2026-05-20"), // expired, still retained
            pooled("9", "3541", "2027-03-01"),
            pooled("100", "3541", "2027-03-01"),
            pooled("13", "4601", "2028-01-01"),
        ];
        let all = candidates(&pool, &new_order("3541"), &rules, today);
        assert_eq!(ids(&all), ["9", "11", "100", "10", "12"]);
        assert_eq!(all[4].prolong, Some(LicensePeriod::OneMonth));
    }

    #[test]
    fn reserved_and_deleted_licenses_are_not_taken() {
        let rules = PoolRules::default();
        let today = date("2026-06-01");
        let mut reserved = pooled("1", "3541", "2027-01-01");
        reserved.reserved = true;
        let mut deleted = pooled("2", "3541", "2027-01-01");
        deleted.status = LicenseStatus::Deleted;
        assert_eq!(
            pool_state(&reserved, &rules, today),
            PooledLicenseState::Reserved
        );
        assert_eq!(
            take(&[reserved, deleted], &new_order("3541"), &rules, today),
            None
        );
    }

    #[test]
    fn a_trial_is_never_served_from_the_pool() {
        let mut trial = new_order("55239");
        trial.period = LicensePeriod::Trial;
        let pool = [pooled("1", "55239", "2027-01-01")];
        assert_eq!(
            take(&pool, &trial, &PoolRules::default(), date("2026-06-01")),
            None
        );
    }

    #[test]
    fn any_failed_take_step_puts_the_license_back() {
        let choice = TakeChoice {
            license_id: "5".into(),
            expires_on: date("2026-06-01"),
            prolong: Some(LicensePeriod::OneMonth),
        };
        let plan = take_plan(
            &choice,
            &Binding {
                licname: "Item #a addon a".into(),
                ip: "198.51.100.1".into(),
                remoteid: "r".into(),
            },
        );
        assert_eq!(plan.steps.len(), 3);
        for step in 0..plan.steps.len() {
            let OnFailure::PutBack(back) = plan.on_failure(step) else {
                panic!("a take is put back");
            };
            assert_eq!(back, release_plan("5", true));
            assert_eq!(back.kind, PlanKind::Release);
            // The put-back itself is retried, never undone.
            assert_eq!(back.on_failure(1), OnFailure::RetryFrom(1));
        }
    }

    #[test]
    fn from_panel_keeps_only_free_live_rows() {
        let row = |licname: &str, ip: &str, status: LicenseStatus, expiredate: &str| License {
            id: "42".into(),
            licname: licname.into(),
            ip: ip.into(),
            pricelist: "3541".into(),
            period: "1".into(),
            status,
            createdate: "2026-01-01".into(),
            expiredate: expiredate.into(),
            remoteid: String::new(),
        };
        let free = PoolLicense::from_panel(&row(
            "free.lic",
            "0.0.0.0",
            LicenseStatus::Suspended,
            "2026-07-01",
        ))
        .unwrap();
        assert_eq!(free.expires_on, date("2026-07-01"));
        assert_eq!(free.license_type, "3541");
        assert!(
            PoolLicense::from_panel(&row("x", "0.0.0.0", LicenseStatus::Suspended, "2026-07-01"))
                .is_none()
        );
        assert!(
            PoolLicense::from_panel(&row(
                "free.lic",
                "0.0.0.0",
                LicenseStatus::Deleted,
                "2026-07-01"
            ))
            .is_none()
        );
        assert!(
            PoolLicense::from_panel(&row("free.lic", "0.0.0.0", LicenseStatus::Suspended, ""))
                .is_none()
        );
    }

    #[test]
    fn the_status_lists_live_pooled_licenses_with_counts() {
        let rules = PoolRules::default();
        let today = date("2026-06-01");
        let mut cooling = pooled("100", "3541", "2027-01-01");
        cooling.ip_changed_on = Some(date("2026-05-20"));
        let mut bound = pooled("5", "3541", "2027-01-01");
        bound.name = "Item #a addon a".into();
        let pool = [
            cooling,
            pooled("99", "4601", "2026-05-20"),
            pooled("7", "3541", "2026-04-01"), // left the pool on 2026-05-01
            bound,
            pooled("8", "3541", "2026-09-01"),
        ];
        let (entries, counts) = pool_status(&pool, &rules, today);
        let got: Vec<(&str, PooledLicenseState)> =
            entries.iter().map(|e| (e.id.as_str(), e.state)).collect();
        assert_eq!(
            got,
            [
                ("8", PooledLicenseState::Idle),
                ("99", PooledLicenseState::Expired),
                ("100", PooledLicenseState::Cooling),
            ]
        );
        assert_eq!(
            counts,
            [
                LicenseTypeCount {
                    license_type: "3541".into(),
                    count: 2
                },
                LicenseTypeCount {
                    license_type: "4601".into(),
                    count: 1
                },
            ]
        );
    }

    #[test]
    fn rules_merge_the_module_and_the_pool() {
        let licensing = LicensingSettings {
            reuse_licenses: true,
            reusable_license_types: vec!["3541".into()],
            use_existing_on_upgrade: true,
            ..LicensingSettings::default()
        };
        let defaults = PoolRules::new(&licensing, None);
        assert_eq!(defaults.min_months_since_rebind, 1);
        assert_eq!(defaults.retain_months_after_expiry, 1);
        assert!(defaults.use_existing_on_upgrade);
        assert!(defaults.reusable("3541") && !defaults.reusable("4601"));
    }

    // --- fixchilds ----------------------------------------------------------------------

    fn row(id: &str, ip: &str, pricelist: &str, status: LicenseStatus, remoteid: &str) -> License {
        License {
            id: id.into(),
            licname: format!("lic {id}"),
            ip: ip.into(),
            pricelist: pricelist.into(),
            period: "1".into(),
            status,
            createdate: "2026-01-01".into(),
            expiredate: "2026-07-01".into(),
            remoteid: remoteid.into(),
        }
    }

    fn svc<'a>(service: &'a str, ip: &'a str, license_type: &'a str) -> ServiceNeed<'a> {
        ServiceNeed {
            service,
            ip,
            license_type,
            remoteid: "",
            suspended: false,
            bound_license: None,
        }
    }

    /// Seed 003, `fixchilds`: steps 3 and 4 — same IP assigns, otherwise order.
    #[test]
    fn seed_003_fixchilds_matches_by_ip_or_orders() {
        let licenses = [
            row("1", "203.0.113.1", "3541", LicenseStatus::Active, "l17"),
            row("2", "203.0.113.2", "4601", LicenseStatus::Active, ""),
        ];
        let services = [
            svc("ns/a", "203.0.113.1", "3541"),
            svc("ns/b", "203.0.113.2", "3541"), // IP matches, type does not
            svc("ns/c", "203.0.113.3", "3541"),
        ];
        let out = match_existing(&licenses, &services, false);
        assert_eq!(
            out,
            vec![
                Matched {
                    service: "ns/a",
                    outcome: ExistingMatch::ByIp("1".into())
                },
                Matched {
                    service: "ns/b",
                    outcome: ExistingMatch::Order
                },
                Matched {
                    service: "ns/c",
                    outcome: ExistingMatch::Order
                },
            ]
        );
    }

    /// Seed 003, `Option NoFixSuspended`: no orders for suspended services.
    #[test]
    fn seed_003_no_fix_suspended() {
        let licenses = [row(
            "1",
            "203.0.113.1",
            "3541",
            LicenseStatus::Suspended,
            "",
        )];
        let mut a = svc("ns/a", "203.0.113.1", "3541");
        a.suspended = true;
        let mut b = svc("ns/b", "203.0.113.9", "3541");
        b.suspended = true;
        let services = [a, b];
        let skip = match_existing(&licenses, &services, true);
        assert_eq!(skip[0].outcome, ExistingMatch::ByIp("1".into()));
        assert_eq!(skip[1].outcome, ExistingMatch::Skip);
        let fix = match_existing(&licenses, &services, false);
        assert_eq!(fix[1].outcome, ExistingMatch::Order);
    }

    #[test]
    fn fixchilds_prefers_the_services_own_remoteid_and_respects_bindings() {
        let licenses = [
            row("1", "203.0.113.1", "3541", LicenseStatus::Active, ""),
            row("2", "203.0.113.1", "3541", LicenseStatus::Active, "hpa0-b"),
            row("3", "203.0.113.7", "3541", LicenseStatus::Active, "hpa0-a"),
            row("4", "203.0.113.4", "3541", LicenseStatus::Active, ""),
            row("5", "0.0.0.0", "3541", LicenseStatus::Suspended, ""),
            row("6", "203.0.113.6", "3541", LicenseStatus::Deleted, ""),
        ];
        let mut a = svc("ns/a", "203.0.113.1", "3541");
        a.remoteid = "hpa0-a";
        let mut b = svc("ns/b", "203.0.113.1", "3541");
        b.remoteid = "hpa0-b";
        let mut c = svc("ns/c", "203.0.113.4", "3541");
        c.bound_license = Some("9");
        let d = svc("ns/d", "203.0.113.4", "3541");
        let e = svc("ns/e", "0.0.0.0", "3541");
        let f = svc("ns/f", "203.0.113.6", "3541");
        let g = svc("ns/g", "", "3541");
        let out = match_existing(&licenses, &[a, b, c, d, e, f, g], false);
        let got: Vec<(&str, ExistingMatch)> =
            out.into_iter().map(|m| (m.service, m.outcome)).collect();
        assert_eq!(
            got,
            vec![
                // Its own order, even at another IP, beats license 1 at its IP.
                ("ns/a", ExistingMatch::ByRemoteId("3".into())),
                ("ns/b", ExistingMatch::ByRemoteId("2".into())),
                // ns/c is bound already and is not answered.
                ("ns/d", ExistingMatch::ByIp("4".into())),
                // Pooled licenses and deleted ones never match by IP.
                ("ns/e", ExistingMatch::Order),
                ("ns/f", ExistingMatch::Order),
                ("ns/g", ExistingMatch::WaitForIp),
            ]
        );
    }

    #[test]
    fn fixchilds_gives_each_license_once_and_prefers_a_working_one() {
        let mut late = row("8", "203.0.113.1", "3541", LicenseStatus::Suspended, "");
        late.expiredate = "2027-01-01".into();
        let licenses = [
            late,
            row("7", "203.0.113.1", "3541", LicenseStatus::Active, ""),
            // Another service's remoteid: not handed out by IP.
            row("6", "203.0.113.1", "3541", LicenseStatus::Active, "hpa0-z"),
        ];
        let mut z = svc("ns/z", "198.51.100.1", "3541");
        z.remoteid = "hpa0-z";
        z.bound_license = Some("1");
        let services = [
            svc("ns/a", "203.0.113.1", "3541"),
            svc("ns/b", "203.0.113.1", "3541"),
            svc("ns/c", "203.0.113.1", "3541"),
            z,
        ];
        let out: Vec<ExistingMatch> = match_existing(&licenses, &services, false)
            .into_iter()
            .map(|m| m.outcome)
            .collect();
        assert_eq!(
            out,
            vec![
                ExistingMatch::ByIp("7".into()),
                ExistingMatch::ByIp("8".into()),
                ExistingMatch::Order,
            ]
        );
    }

    // --- Node records -------------------------------------------------------------------

    #[test]
    fn node_records_are_read_from_the_pools_annotations() {
        let annotations: std::collections::BTreeMap<String, String> = [
            ("nodes.hostplane.dev/42", "4602=3"),
            (
                "nodes.hostplane.dev/hpl0-abcdefghijklmnopqrst",
                " 4602 = 2 ",
            ),
            ("nodes.hostplane.dev/43", "three"),
            ("nodes.hostplane.dev/44", "=3"),
            ("other.example/42", "4602=9"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let records = nodes_records(&annotations);
        assert_eq!(
            records.keys().map(String::as_str).collect::<Vec<_>>(),
            ["42", "hpl0-abcdefghijklmnopqrst"]
        );
        let three = NodesRecord {
            addon_id: "4602".into(),
            quantity: 3,
        };
        assert_eq!(records["42"], three);
        assert_eq!(three.value(), "4602=3");
        assert_eq!(NodesRecord::key("42"), "nodes.hostplane.dev/42");
        assert_eq!(NodesRecord::parse(&three.value()), Some(three));
    }

    /// Reference §5.4: a pooled license serves only a need with the same addon count; the
    /// count comes from the records, and an unrecorded license counts as none.
    #[test]
    fn recorded_node_counts_decide_which_need_takes_a_pooled_license() {
        let rules = PoolRules::default();
        let today = date("2026-06-01");
        let records = nodes_records(
            &[("nodes.hostplane.dev/1".to_owned(), "4602=3".to_owned())]
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>(),
        );
        let pool: Vec<PoolLicense> = [
            pooled("1", "4601", "2026-09-01"),
            pooled("2", "4601", "2026-08-01"),
        ]
        .into_iter()
        .map(|l| l.with_recorded_nodes(&records))
        .collect();
        let with = |n| LicenseNeed {
            addon_quantity: n,
            ..new_order("4601")
        };
        assert_eq!(ids(&candidates(&pool, &with(3), &rules, today)), ["1"]);
        assert_eq!(ids(&candidates(&pool, &with(0), &rules, today)), ["2"]);
        assert!(candidates(&pool, &with(2), &rules, today).is_empty());
        let (entries, _) = pool_status(&pool, &rules, today);
        assert_eq!(
            entries.iter().map(|e| e.nodes).collect::<Vec<_>>(),
            [Some(3), None]
        );
    }

    // --- Type changes (UseExistingOnUpgrade / changepricelist) ------------------------

    #[test]
    fn a_type_change_switches_the_bound_license_when_none_has_the_new_type() {
        let old = row("1", "203.0.113.1", "3541", LicenseStatus::Active, "hpl0-a");
        let licenses = [
            old.clone(),
            // Another need's license of the new type, and a pooled one: not ours.
            row("2", "203.0.113.2", "4601", LicenseStatus::Active, "hpl0-b"),
            row("3", "0.0.0.0", "4601", LicenseStatus::Suspended, ""),
        ];
        assert_eq!(
            settle_type(&licenses, "hpl0-a", &old, "4601"),
            TypeSettlement::Switch {
                license_id: "1".into(),
                superseded: vec![],
            }
        );
        // No change: the bound license is current.
        assert_eq!(
            settle_type(&licenses, "hpl0-a", &old, "3541"),
            TypeSettlement::Adopt {
                license_id: "1".into(),
                superseded: vec![],
            }
        );
    }

    /// The controller died after taking a pooled license of the new type and before the old
    /// one was released: both carry the remoteid. Whichever one status still names, the one of
    /// the wanted type is current and the other is released — never a second take or order.
    #[test]
    fn a_take_interrupted_before_the_release_is_settled_by_type() {
        let old = row("1", "203.0.113.1", "3541", LicenseStatus::Active, "hpl0-a");
        let taken = row("7", "203.0.113.1", "4601", LicenseStatus::Active, "hpl0-a");
        let licenses = [old.clone(), taken.clone()];
        let want = TypeSettlement::Adopt {
            license_id: "7".into(),
            superseded: vec!["1".into()],
        };
        assert_eq!(settle_type(&licenses, "hpl0-a", &old, "4601"), want);
        assert_eq!(settle_type(&licenses, "hpl0-a", &taken, "4601"), want);
        // The spec went back to the old type meanwhile: the taken one goes back.
        assert_eq!(
            settle_type(&licenses, "hpl0-a", &taken, "3541"),
            TypeSettlement::Adopt {
                license_id: "1".into(),
                superseded: vec!["7".into()],
            }
        );
        // A third type: the bound one is switched, the leftover released.
        assert_eq!(
            settle_type(&licenses, "hpl0-a", &taken, "55228"),
            TypeSettlement::Switch {
                license_id: "7".into(),
                superseded: vec!["1".into()],
            }
        );
    }

    #[test]
    fn settling_ignores_deleted_and_foreign_licenses_and_keeps_one_of_the_type() {
        let mut older = row("5", "203.0.113.1", "4601", LicenseStatus::Active, "hpl0-a");
        older.expiredate = "2026-06-01".into();
        let bound = row("1", "203.0.113.1", "3541", LicenseStatus::Active, "");
        let licenses = [
            // The listing does not echo the bound license's remoteid: still the need's.
            bound.clone(),
            older,
            row("9", "203.0.113.1", "4601", LicenseStatus::Active, "hpl0-a"),
            row("4", "203.0.113.1", "4601", LicenseStatus::Deleted, "hpl0-a"),
            row("8", "203.0.113.1", "4601", LicenseStatus::Active, "hpl0-z"),
        ];
        assert_eq!(
            settle_type(&licenses, "hpl0-a", &bound, "4601"),
            TypeSettlement::Adopt {
                license_id: "9".into(),
                superseded: vec!["1".into(), "5".into()],
            }
        );
        // An empty remoteid never claims the licenses without one.
        assert_eq!(
            settle_type(&licenses, "", &bound, "4601"),
            TypeSettlement::Switch {
                license_id: "1".into(),
                superseded: vec![],
            }
        );
    }

    /// A row as a licensing server that does not echo `remoteid` lists it (reference §11):
    /// the correlation id is only in the name's tag.
    fn tagged(id: &str, ip: &str, pricelist: &str, tag: &str) -> License {
        License {
            licname: format!("Item #x addon x.example [{tag}]"),
            ..row(id, ip, pricelist, LicenseStatus::Active, "")
        }
    }

    #[test]
    fn without_remoteid_in_the_list_the_name_tag_identifies_the_license() {
        // Two licenses of one IP (one type each): the IP cannot tell them apart, the tag can.
        let licenses = [
            tagged("3", "203.0.113.1", "3541", "hpl0-b"),
            tagged("4", "203.0.113.9", "3541", "hpl0-a"),
        ];
        let mut a = svc("a", "203.0.113.1", "3541");
        a.remoteid = "hpl0-a";
        let mut b = svc("b", "203.0.113.1", "3541");
        b.remoteid = "hpl0-b";
        let matched = match_existing(&licenses, &[a, b], false);
        // a's license was moved to another IP: still a's, found by its tag, not b's by IP.
        assert_eq!(matched[0].outcome, ExistingMatch::ByRemoteId("4".into()));
        assert_eq!(matched[1].outcome, ExistingMatch::ByRemoteId("3".into()));
        // Another listed service's tag is never handed out by IP (here b is bound elsewhere).
        let mut c = svc("c", "203.0.113.1", "3541");
        c.remoteid = "hpl0-c";
        let mut b = svc("b", "203.0.113.1", "3541");
        b.remoteid = "hpl0-b";
        b.bound_license = Some("99");
        let matched = match_existing(&licenses[..1], &[c, b], false);
        assert_eq!(matched[0].outcome, ExistingMatch::Order);
        // A listed remoteid wins over the tag (a panel that echoes it).
        let echoed = License {
            remoteid: "hpl0-z".into(),
            ..tagged("5", "203.0.113.1", "4601", "hpl0-a")
        };
        let bound = tagged("1", "203.0.113.1", "3541", "hpl0-a");
        let licenses = [
            bound.clone(),
            echoed,
            tagged("6", "203.0.113.1", "4601", "hpl0-a"),
        ];
        assert_eq!(
            settle_type(&licenses, "hpl0-a", &bound, "4601"),
            TypeSettlement::Adopt {
                license_id: "6".into(),
                superseded: vec!["1".into()],
            }
        );
    }

    // --- Properties ---------------------------------------------------------------------

    fn day() -> impl Strategy<Value = Date> {
        (0i64..1500).prop_map(|n| add_days(date("2025-01-01"), n).unwrap())
    }

    fn license_strategy() -> impl Strategy<Value = PoolLicense> {
        (
            prop::sample::select(vec!["3541", "4601", "55227"]),
            0u32..3,
            day(),
            prop::option::of(day()),
            prop::option::of(day()),
            any::<bool>(),
            0u8..8,
        )
            .prop_map(
                |(ty, addons, expires, ip_changed, key_changed, free, flags)| PoolLicense {
                    id: String::new(),
                    license_type: ty.to_owned(),
                    addon_quantity: addons,
                    ip: if free || flags == 7 {
                        FREE_IP.to_owned()
                    } else {
                        "203.0.113.1".to_owned()
                    },
                    name: if free {
                        FREE_LICNAME.to_owned()
                    } else {
                        "Item #x addon x".to_owned()
                    },
                    expires_on: expires,
                    ip_changed_on: ip_changed,
                    key_changed_on: key_changed,
                    status: if flags == 0 {
                        LicenseStatus::Deleted
                    } else {
                        LicenseStatus::Suspended
                    },
                    reserved: flags == 1,
                },
            )
    }

    fn rules_strategy() -> impl Strategy<Value = PoolRules> {
        (0u32..4, 1u32..4, any::<bool>()).prop_map(|(min, retain, upgrade)| PoolRules {
            min_months_since_rebind: min,
            retain_months_after_expiry: retain,
            use_existing_on_upgrade: upgrade,
            ..PoolRules::default()
        })
    }

    /// A pool with unique ids (their position), as at the licensing server.
    fn pool_strategy() -> impl Strategy<Value = Vec<PoolLicense>> {
        prop::collection::vec(license_strategy(), 0..12).prop_map(|pool| {
            pool.into_iter()
                .enumerate()
                .map(|(i, l)| PoolLicense {
                    id: (100 + i).to_string(),
                    ..l
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn take_never_returns_a_recent_or_foreign_license(
            pool in pool_strategy(),
            rules in rules_strategy(),
            ty in prop::sample::select(vec!["3541", "4601", "55227"]),
            addons in 0u32..3,
            kind in prop::sample::select(vec![NeedKind::NewOrder, NeedKind::TariffChange, NeedKind::Renewal]),
            today in day(),
        ) {
            let need = LicenseNeed {
                kind,
                license_type: ty.to_owned(),
                addon_quantity: addons,
                period: LicensePeriod::OneMonth,
            };
            let all = candidates(&pool, &need, &rules, today);
            if kind == NeedKind::Renewal {
                prop_assert!(all.is_empty());
            }
            for choice in &all {
                let l = pool.iter().find(|l| l.id == choice.license_id).unwrap();
                prop_assert_eq!(&l.license_type, &need.license_type);
                prop_assert_eq!(l.addon_quantity, need.addon_quantity);
                prop_assert!(l.is_free() && !l.reserved && l.status != LicenseStatus::Deleted);
                if rules.min_months_since_rebind > 0 {
                    for changed in [l.ip_changed_on, l.key_changed_on].into_iter().flatten() {
                        let anniversary = add_months(changed, i64::from(rules.min_months_since_rebind)).unwrap();
                        prop_assert!(today > anniversary, "changed {} taken {}", changed, today);
                    }
                }
                prop_assert_eq!(choice.prolong.is_some(), l.expires_on <= today);
                prop_assert!(expired_out(std::slice::from_ref(l), &rules, today).is_empty());
            }
            // Best first: expiries never increase along the list.
            prop_assert!(all.windows(2).all(|w| w[0].expires_on >= w[1].expires_on));
            prop_assert_eq!(take(&pool, &need, &rules, today), all.first().cloned());
        }

        #[test]
        fn expired_out_never_keeps_a_license_past_its_retention(
            pool in pool_strategy(),
            rules in rules_strategy(),
            today in day(),
        ) {
            let out = expired_out(&pool, &rules, today);
            for l in &pool {
                let leaves = add_months(l.expires_on, i64::from(rules.retain_months_after_expiry)).unwrap();
                let dropped = out.iter().any(|o| std::ptr::eq(*o, l));
                // Kept only while less than the retention has passed; dropped only after it.
                prop_assert_eq!(dropped, today >= leaves);
                // Never dropped before expiry.
                if dropped {
                    prop_assert!(l.expires_on < today);
                }
            }
        }
    }
}
