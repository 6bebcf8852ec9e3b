//! `--panels`: what the panels hold, read with read-only calls only — one listing per module
//! in use (ispmanager accounts, VMmanager 6 hosts or VMmanager 5 VMs, licences) — so a plan
//! also shows the drift the controller would correct. The panel answers are turned into what
//! the controller compares with by the controller's own functions (`vm5_observed`,
//! `vm6_observed`).

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::World;
use crate::api::processing_module::VmManagerApiVersion;
use crate::api::{ModuleType, ProcessingModule};
use crate::controller::panels::Panels;
use crate::controller::service::virtual_server::{self, Observed as Server};
use crate::panel::ispmanager::User;
use crate::panel::licensing::License;

/// One module's listing.
#[derive(Debug)]
enum Listing {
    Accounts(Vec<User>),
    Servers(Vec<(String, Server)>),
    Licenses(Vec<License>),
}

/// The panel objects read for the plan, per `(namespace, module)`.
#[derive(Debug, Default)]
pub struct Observed {
    listings: BTreeMap<(String, String), Listing>,
}

/// What the plan knows of one panel object.
#[derive(Debug, PartialEq)]
pub enum Seen<T> {
    /// The module was not read (no `--panels`): the cluster's record stands for the panel.
    NotRead,
    Missing,
    Found(T),
}

impl Observed {
    fn listing(&self, ns: &str, module: &str) -> Option<&Listing> {
        self.listings.get(&(ns.to_owned(), module.to_owned()))
    }

    pub fn account(&self, ns: &str, module: &str, username: &str) -> Seen<&User> {
        match self.listing(ns, module) {
            Some(Listing::Accounts(users)) => users
                .iter()
                .find(|u| u.name == username)
                .map_or(Seen::Missing, Seen::Found),
            _ => Seen::NotRead,
        }
    }

    pub fn server(&self, ns: &str, module: &str, name: &str) -> Seen<&Server> {
        match self.listing(ns, module) {
            Some(Listing::Servers(servers)) => servers
                .iter()
                .find(|(n, _)| n == name)
                .map_or(Seen::Missing, |(_, s)| Seen::Found(s)),
            _ => Seen::NotRead,
        }
    }

    pub fn license(&self, ns: &str, module: &str, id: &str) -> Seen<&License> {
        match self.listing(ns, module) {
            Some(Listing::Licenses(licenses)) => licenses
                .iter()
                .find(|l| l.id == id)
                .map_or(Seen::Missing, Seen::Found),
            _ => Seen::NotRead,
        }
    }

    /// Lists every module of `world` that a live service is placed on (and the licensing
    /// modules the VMmanager ones buy from), with the controller's own clients and the
    /// credentials of the module's Secret.
    pub async fn read(kube: &kube::Client, world: &World) -> anyhow::Result<Observed> {
        let panels = Panels::new();
        let mut observed = Observed::default();
        for module in world.modules.iter().filter(|m| in_use(world, m)) {
            let ns = module.namespace().unwrap_or_default();
            let name = module.name_any();
            let listing = list(&panels, kube, module)
                .await
                .map_err(|e| anyhow::anyhow!("processing module {ns}/{name}: {e}"))?;
            observed.listings.insert((ns, name), listing);
        }
        Ok(observed)
    }
}

/// A module some live service is placed on, or whose licences a placed server uses.
fn in_use(world: &World, module: &ProcessingModule) -> bool {
    let ns = module.namespace();
    let name = module.name_any();
    world.services.iter().any(|s| {
        let placed = s
            .status
            .as_ref()
            .and_then(|st| st.processing_module.as_deref());
        s.namespace() == ns
            && placed.is_some_and(|p| {
                p == name
                    || world
                        .module(ns.as_deref().unwrap_or_default(), p)
                        .and_then(|m| virtual_server::licensing_module_name(m))
                        == Some(name.as_str())
            })
    })
}

async fn list(
    panels: &Panels,
    kube: &kube::Client,
    module: &ProcessingModule,
) -> anyhow::Result<Listing> {
    Ok(match module.spec.type_ {
        ModuleType::ISPmanager => {
            Listing::Accounts(panels.ispmanager(kube, module).await?.users().await?)
        }
        ModuleType::Licensing => {
            Listing::Licenses(panels.licensing(kube, module).await?.licenses().await?)
        }
        ModuleType::VMmanager => match virtual_server::settings_of(module).api_version {
            VmManagerApiVersion::V6 => {
                let vm = panels.vmmanager6(kube, module).await?;
                let hosts = vm.list_hosts(None).await?;
                Listing::Servers(
                    hosts
                        .iter()
                        .map(|h| (h.name.clone(), virtual_server::vm6_observed(h)))
                        .collect(),
                )
            }
            VmManagerApiVersion::V5 => {
                let vm = panels.vmmanager5(kube, module).await?;
                let vms = vm.vms().await?;
                Listing::Servers(
                    vms.iter()
                        .map(|v| (v.name.clone(), virtual_server::vm5_observed(v, true)))
                        .collect(),
                )
            }
        },
    })
}
