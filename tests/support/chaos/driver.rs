//! The driver: changes the desired state while the faults run, as people and a billing system
//! do — creates, deletes (some `Orphan`), suspensions and resumptions, tariff changes, licence
//! type changes (a licence service's tariff, a server's control panel), renewals declared —
//! and keeps the ledger of every service of the run that the audit needs: which were deleted
//! with `Orphan` (and what they held then), and every licence need (`remoteid`).

use std::collections::{BTreeMap, BTreeSet};

use hostplane::api::HostingService;
use hostplane::api::common::Period;
use hostplane::pools::naming::RemoteId;
use kube::ResourceExt as _;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use rand::RngExt as _;
use rand::rngs::StdRng;
use serde_json::json;

use super::world::{self, NO_PANEL, PANEL, Product, ServiceSpec};

/// One service of the run.
#[derive(Clone, Debug)]
pub struct Tracked {
    pub spec: ServiceSpec,
    pub uid: String,
    /// Deleted by the driver (with the object as it was just before, for an `Orphan`).
    pub deleted: bool,
    pub orphaned: Option<HostingService>,
    /// A tariff change or a control-panel switch was declared (each at most once, so that a
    /// need never ends and starts again: a second order for one need is then always a
    /// double purchase).
    pub changed_tariff: bool,
    pub switched_panel: bool,
    pub has_panel: bool,
}

/// Every service of the run, and what the driver did.
#[derive(Default)]
pub struct Ledger {
    pub services: BTreeMap<String, Tracked>,
    pub actions: BTreeMap<String, u64>,
    next: usize,
}

impl Ledger {
    /// The licence needs of the run: each licence service's, and each server's that had a
    /// control panel at some time.
    pub fn needs(&self, namespace: &str) -> BTreeSet<String> {
        self.services
            .values()
            .filter(|t| t.spec.product == Product::License || t.has_panel || t.switched_panel)
            .filter_map(|t| {
                let kind = t.spec.product.license_kind()?;
                Some(RemoteId::for_service(namespace, &t.spec.name, &t.uid, kind, 0).to_string())
            })
            .collect()
    }

    fn live(&self) -> Vec<&Tracked> {
        self.services.values().filter(|t| !t.deleted).collect()
    }
}

/// A new service's decisions, from the run's random stream.
pub fn new_spec(ledger: &mut Ledger, rng: &mut StdRng, product: Option<Product>) -> ServiceSpec {
    let number = ledger.next;
    ledger.next += 1;
    let product = product.unwrap_or(Product::ALL[rng.random_range(0..Product::ALL.len())]);
    ServiceSpec {
        name: format!("s{number}"),
        product,
        panel: rng.random_bool(0.5),
        // Monthly services cross their expiry when the clock moves a month.
        period: if rng.random_bool(0.5) {
            Period::OneMonth
        } else {
            Period::OneYear
        },
        orphan: rng.random_bool(0.2),
        secret: rng.random_bool(0.3),
        ip: (product == Product::License).then(|| world::license_ip(number)),
    }
}

/// Creates the service of `spec` ordered `today` and records it.
pub async fn create(
    api: &Api<HostingService>,
    ledger: &mut Ledger,
    spec: ServiceSpec,
    today: &str,
) -> anyhow::Result<()> {
    let created = api
        .create(&PostParams::default(), &world::service(&spec, today))
        .await?;
    record(ledger, spec, &created);
    Ok(())
}

/// Records a service the soak created.
pub fn record(ledger: &mut Ledger, spec: ServiceSpec, created: &HostingService) {
    let has_panel = spec.panel && matches!(spec.product, Product::Vps6 | Product::Vps5);
    ledger.services.insert(
        spec.name.clone(),
        Tracked {
            uid: created.uid().unwrap_or_default(),
            spec,
            deleted: false,
            orphaned: None,
            changed_tariff: false,
            switched_panel: false,
            has_panel,
        },
    );
}

/// A tariff change is declared only on a day the service is paid for (the API refuses one
/// outside the paid period) and only once.
fn changeable(service: &HostingService, today: &str) -> bool {
    let paid_until = service.status.as_ref().and_then(|s| s.paid_until);
    service.spec.tariff_changes.is_empty()
        && paid_until.is_some_and(|until| {
            today
                .parse()
                .is_ok_and(|day: jiff::civil::Date| day < until.0)
        })
}

const ACTIONS: [(&str, u32); 6] = [
    ("create", 20),
    ("delete", 15),
    ("suspend", 20),
    ("tariff_change", 10),
    ("license_type_change", 10),
    ("renewal", 25),
];

/// One random change of the desired state.
pub async fn step(
    api: &Api<HostingService>,
    ledger: &mut Ledger,
    rng: &mut StdRng,
    today: &str,
) -> anyhow::Result<()> {
    let total: u32 = ACTIONS.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total);
    let action = ACTIONS
        .iter()
        .find(|(_, w)| {
            let hit = pick < *w;
            pick = pick.saturating_sub(*w);
            hit
        })
        .map(|(a, _)| *a)
        .unwrap_or("renewal");
    let live = ledger.live();
    if action == "create" || live.is_empty() {
        let spec = new_spec(ledger, rng, None);
        create(api, ledger, spec, today).await?;
        *ledger.actions.entry("create".into()).or_default() += 1;
        return Ok(());
    }
    let target = live[rng.random_range(0..live.len())].spec.name.clone();
    let Some(current) = api.get_opt(&target).await? else {
        return Ok(());
    };
    if current.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    let tracked = ledger.services.get_mut(&target).expect("tracked");
    let spec = &current.spec;
    let patch = match action {
        "delete" => {
            tracked.deleted = true;
            if tracked.spec.orphan {
                tracked.orphaned = Some(current.clone());
            }
            api.delete(&target, &DeleteParams::default()).await?;
            None
        }
        "suspend" => Some(json!({"spec": {"suspended": !spec.suspended}})),
        "renewal" => {
            let mut renewals = serde_json::to_value(&spec.renewals)?;
            let list = renewals.as_array_mut().expect("a list");
            list.push(json!({"period": spec.period, "paidOn": today}));
            Some(json!({"spec": {"renewals": renewals}}))
        }
        "tariff_change" if !tracked.changed_tariff && changeable(&current, today) => {
            tracked.changed_tariff = true;
            let (from, to) = tracked.spec.product.tariffs();
            Some(json!({"spec": {
                "tariffRef": {"name": to},
                "tariffChanges": [{"changedOn": today, "fromTariffRef": {"name": from}}],
            }}))
        }
        "license_type_change" => match tracked.spec.product {
            // ISPmanager Lite to Business: the licence moves to the new pricelist.
            Product::License if !tracked.changed_tariff && changeable(&current, today) => {
                tracked.changed_tariff = true;
                let (from, to) = tracked.spec.product.tariffs();
                Some(json!({"spec": {
                    "tariffRef": {"name": to},
                    "tariffChanges": [{"changedOn": today, "fromTariffRef": {"name": from}}],
                }}))
            }
            // A server gets a control panel, or gives its up (once).
            Product::Vps6 | Product::Vps5 if !tracked.switched_panel => {
                tracked.switched_panel = true;
                let panel = if tracked.has_panel { NO_PANEL } else { PANEL };
                Some(json!({"spec": {"controlPanel": panel}}))
            }
            _ => None,
        },
        _ => None,
    };
    if let Some(patch) = patch {
        api.patch(&target, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    } else if action != "delete" {
        return Ok(());
    }
    *ledger.actions.entry(action.into()).or_default() += 1;
    Ok(())
}
