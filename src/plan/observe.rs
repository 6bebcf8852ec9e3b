//! `--panels`: what the panels hold, read with read-only calls only (one account listing per
//! ispmanager module), so a plan also shows the drift the controller would correct. Servers
//! and licences are taken as the cluster records them.

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::World;
use crate::api::ModuleType;
use crate::controller::panels::Panels;
use crate::panel::ispmanager::User;

/// The panel accounts read for the plan, per `(namespace, module)`.
#[derive(Debug, Default)]
pub struct Observed {
    accounts: BTreeMap<(String, String), Vec<User>>,
}

/// What the plan knows of one account.
#[derive(Debug, PartialEq)]
pub enum Account<'a> {
    /// The module was not read (no `--panels`): the cluster's record stands for the panel.
    NotRead,
    Missing,
    Found(&'a User),
}

impl Observed {
    pub fn account(&self, ns: &str, module: &str, username: &str) -> Account<'_> {
        match self.accounts.get(&(ns.to_owned(), module.to_owned())) {
            None => Account::NotRead,
            Some(users) => users
                .iter()
                .find(|u| u.name == username)
                .map_or(Account::Missing, Account::Found),
        }
    }

    /// Lists the accounts of every ispmanager module of `world` that a service is placed on,
    /// with the controller's own client (credentials from the module's Secret).
    pub async fn read(kube: &kube::Client, world: &World) -> anyhow::Result<Observed> {
        let panels = Panels::new();
        let mut observed = Observed::default();
        for module in &world.modules {
            if module.spec.type_ != ModuleType::ISPmanager {
                continue;
            }
            let ns = module.namespace().unwrap_or_default();
            let name = module.name_any();
            let used = world.services.iter().any(|s| {
                s.namespace().as_deref() == Some(&*ns)
                    && s.status
                        .as_ref()
                        .and_then(|st| st.processing_module.as_deref())
                        == Some(&*name)
            });
            if !used {
                continue;
            }
            let isp = panels
                .ispmanager(kube, module)
                .await
                .map_err(|e| anyhow::anyhow!("processing module {ns}/{name}: {e}"))?;
            let users = isp
                .users()
                .await
                .map_err(|e| anyhow::anyhow!("listing the accounts of {ns}/{name}: {e}"))?;
            observed.accounts.insert((ns, name), users);
        }
        Ok(observed)
    }
}
