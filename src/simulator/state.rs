//! The simulator's state: everything the simulated panels know, serde-serializable so that
//! `--state FILE` keeps it across restarts and `GET /_admin/state` shows it.
//!
//! One struct per product; VMmanager 6 keeps its own in [`Vm6State`]. No password of a panel
//! user is stored (a state file must not become a credential dump): the simulated panels accept
//! the administrator from the command line and one-time login keys.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use super::state_vm6::Vm6State;

/// Everything, per product.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SimState {
    pub ispmgr: IspState,
    pub vmmgr: Vm5State,
    pub billmgr: BillState,
    pub vm6: Vm6State,
}

/// An mgr session (`func=auth`): who, and when it was last used on the simulator clock.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MgrSession {
    pub user: String,
    pub level: u32,
    pub last_used: Timestamp,
}

/// A one-time login key (`session.newkey`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoginKey {
    pub user: String,
    pub created: Timestamp,
}

/// Sessions and login keys of one mgr panel.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MgrAuth {
    pub sessions: BTreeMap<String, MgrSession>,
    pub keys: BTreeMap<String, LoginKey>,
}

// ---- ispmanager ----

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct IspState {
    pub users: BTreeMap<String, IspUser>,
    pub presets: BTreeMap<String, BTreeMap<String, String>>,
    pub webdomains: BTreeMap<String, WebDomain>,
    pub dns: BTreeMap<String, DnsDomain>,
    pub auth: MgrAuth,
}

impl Default for IspState {
    fn default() -> Self {
        let preset = |quota: &str, sites: &str, db: &str, mail: &str| {
            BTreeMap::from(
                [
                    ("limit_quota", quota),
                    ("limit_webdomains", sites),
                    ("limit_domains", sites),
                    ("limit_db", db),
                    ("limit_emails", mail),
                    ("limit_ftp_users", "5"),
                    ("limit_traff", "102400"),
                ]
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
            )
        };
        Self {
            users: BTreeMap::new(),
            presets: BTreeMap::from([
                ("basic".to_owned(), preset("1024", "5", "5", "10")),
                ("pro".to_owned(), preset("10240", "50", "50", "100")),
            ]),
            webdomains: BTreeMap::new(),
            dns: BTreeMap::new(),
            auth: MgrAuth::default(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IspUser {
    pub name: String,
    pub fullname: String,
    pub active: bool,
    pub level: u32,
    pub preset: String,
    pub limits: BTreeMap<String, String>,
    /// How many times the password was set (the password itself is not kept).
    pub password_changes: u32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WebDomain {
    pub name: String,
    pub owner: String,
    pub email: String,
    pub active: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsDomain {
    pub name: String,
    pub owner: String,
    pub ip: String,
    pub ns: String,
}

// ---- VMmanager 5 ----

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Vm5State {
    pub users: BTreeMap<u64, Vm5User>,
    pub vms: BTreeMap<u64, Vm5Vm>,
    pub next_user_id: u64,
    pub next_vm_id: u64,
    /// Next IPv4 host part in 198.51.100.0/24 (documentation range).
    pub next_ip: u32,
    /// `func=vm` polls a new VM stays `installing`.
    pub install_polls: u32,
    /// Presets (the panel's configurations) by id; a VM names one or none.
    pub presets: BTreeMap<String, Vm5Preset>,
    /// OS templates (`vmi`) a VM can be made from or reinstalled with.
    pub images: BTreeSet<String>,
    pub auth: MgrAuth,
}

/// A VMmanager 5 preset: the size a VM gets when the order does not say.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Vm5Preset {
    pub name: String,
    /// Memory, MiB.
    pub mem: u64,
    pub vcpu: u32,
}

impl Default for Vm5State {
    fn default() -> Self {
        Self {
            users: BTreeMap::new(),
            vms: BTreeMap::new(),
            next_user_id: 2,
            next_vm_id: 100,
            next_ip: 10,
            install_polls: 2,
            presets: BTreeMap::from([("1", "small", 1024, 1), ("2", "medium", 4096, 2)].map(
                |(id, name, mem, vcpu)| {
                    let name = name.to_owned();
                    (id.to_owned(), Vm5Preset { name, mem, vcpu })
                },
            )),
            images: [
                "ISPsystem__CentOS-7-amd64",
                "ISPsystem__Ubuntu-20.04-amd64",
                "ISPsystem__Ubuntu-22.04-amd64",
                "ISPsystem__Debian-12-amd64",
            ]
            .map(str::to_owned)
            .into(),
            auth: MgrAuth::default(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Vm5User {
    pub id: u64,
    pub name: String,
    pub level: u32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Vm5Vm {
    pub id: u64,
    pub name: String,
    pub domain: String,
    pub user: u64,
    pub preset: String,
    pub vmi: String,
    pub vsize: u64,
    pub mem: u64,
    pub vcpu: u32,
    pub ip: String,
    pub running: bool,
    /// Disabled by the panel's administrator (`vmstatus` = `admdown`); set with
    /// `POST /_admin/vm5/admdown`.
    pub admin_down: bool,
    pub recipe: String,
    /// `func=vm` / `vm.edit` reads left before the install finishes.
    pub installing_polls: u32,
    pub password_changes: u32,
    pub reinstalls: u32,
}

// ---- BILLmanager licensing ----

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct BillState {
    /// The partner's prepaid balance; orders and prolongations are debited from it.
    pub balance: Decimal,
    /// Price per month of each pricelist id.
    pub prices: BTreeMap<String, Decimal>,
    /// `soft.edit` views of a new license that still show an empty `lickey`.
    pub key_polls: u32,
    pub licenses: BTreeMap<u64, License>,
    pub next_id: u64,
    /// Every debit, in order (tests assert "debited once").
    pub charges: Vec<Charge>,
    pub auth: MgrAuth,
}

impl Default for BillState {
    fn default() -> Self {
        let price = |p: &str, m: i64| (p.to_owned(), Decimal::new(m, 2));
        Self {
            balance: Decimal::new(100_000, 2),
            prices: BTreeMap::from([
                price("3541", 600),
                price("4601", 1200),
                price("3045", 2000),
                price("3651", 1500),
                price("3887", 3000),
                price("55227", 700),
                price("55228", 1000),
                price("55229", 1600),
                price("55230", 2500),
                price("55239", 0),
                price("55240", 0),
                price("55163", 4000),
            ]),
            key_polls: 2,
            licenses: BTreeMap::new(),
            next_id: 1_234_567,
            charges: Vec::new(),
            auth: MgrAuth::default(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct License {
    pub id: u64,
    pub pricelist: String,
    pub period: i32,
    pub ip: String,
    pub licname: String,
    pub remoteid: String,
    pub autoprolong: String,
    pub addons: BTreeMap<String, String>,
    pub createdate: Option<Date>,
    pub expiredate: Option<Date>,
    pub lickey: String,
    /// `soft.edit` views left before the key appears.
    pub key_polls_left: u32,
    pub suspended: bool,
    pub deleted: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Charge {
    pub license: u64,
    /// The licence's `remoteid` when it was debited (an order's own, as sent with it): the
    /// need the money was spent for, which stays in this log after a release clears it on
    /// the licence (the chaos soak's audit reads it).
    #[serde(default)]
    pub remoteid: String,
    pub what: String,
    pub amount: Decimal,
    pub date: Date,
}
