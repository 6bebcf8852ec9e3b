//! Seeding a simulator with the catalogue a provider's manifests name: ispmanager account
//! templates, VMmanager 6 OS images and recipes, VMmanager 5 presets and OS templates, licence
//! pricelists, and the accounts that `ObserveOnly` services adopt.
//!
//! Why: a real panel already has these (an administrator made them); a fresh simulator has
//! only a few defaults, so manifests written for real panels would fail against it with
//! "No template 'start'" or "recipe … is not at the panel". `hostplane simulate --seed-from
//! DIR`, `POST /_admin/seed` and the demo all go through [`Seed`], so what the demo shows is
//! what a provider gets when rehearsing against their own manifests.
//!
//! Manifests are read with the validator's reader ([`documents`], [`decode`]); documents
//! that do not decode are skipped here (`hostplane validate` is where they are reported).

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::state::{IspUser, SimState, Vm5Preset};
use super::state_vm6::CatalogEntry;
use crate::api::ModuleType;
use crate::api::hosting_service::ManagementPolicy;
use crate::api::processing_module::VmManagerApiVersion;
use crate::validation::decode::{self, Object};
use crate::validation::{Source, documents};

/// Annotation naming the account an existing service is bound to.
const EXTERNAL_NAME: &str = "hostplane.dev/external-name";

/// Monthly price given to a pricelist the simulator did not know. Any positive amount works:
/// the point is that orders succeed and debit the balance.
const SEEDED_PRICE_CENTS: i64 = 1000;

/// What a simulator should have before the manifests are applied. Also the body of
/// `POST /_admin/seed` (every field optional).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Seed {
    /// ispmanager account templates (`preset`), made with the limits of `basic`.
    pub account_templates: BTreeSet<String>,
    /// ispmanager accounts that exist before hostplane (`ObserveOnly` services adopt them).
    pub accounts: BTreeSet<String>,
    /// VMmanager 6 OS images, by name.
    pub os_images: BTreeSet<String>,
    /// VMmanager 6 recipes, by name.
    pub recipes: BTreeSet<String>,
    /// VMmanager 5 presets (configurations) by id.
    pub vm5_presets: BTreeMap<String, Vm5Preset>,
    /// VMmanager 5 OS templates (`vmi`).
    pub vm5_images: BTreeSet<String>,
    /// Licensing pricelist ids (licence types).
    pub pricelists: BTreeSet<String>,
}

impl Seed {
    /// What the ProcessingModules, Tariffs, ServerPools, LicensePools and HostingServices of
    /// `sources` name. With `module`, accounts are only those of services on that module (each
    /// demo panel gets its own); the catalogue is always the whole set's.
    pub fn from_sources(sources: &[Source], module: Option<&str>) -> Seed {
        let objects: Vec<Object> = sources
            .iter()
            .flat_map(|s| documents::split(&s.text))
            .filter_map(|doc| {
                let value = documents::parse(&doc).ok()?;
                decode::decode(&value, &decode::header(&value, "default")).ok()
            })
            .collect();
        let mut versions = BTreeMap::new();
        for object in &objects {
            if let Object::ProcessingModule(m) = object
                && m.spec.type_ == ModuleType::VMmanager
                && let Some(vm) = &m.spec.vmmanager
            {
                versions.insert(m.metadata.name.clone().unwrap_or_default(), vm.api_version);
            }
        }
        let mut seed = Seed::default();
        for object in &objects {
            seed.add(object, &versions, module);
        }
        seed
    }

    fn add(
        &mut self,
        object: &Object,
        versions: &BTreeMap<String, VmManagerApiVersion>,
        module: Option<&str>,
    ) {
        match object {
            Object::ProcessingModule(m) => {
                if let Some(licensing) = &m.spec.licensing {
                    self.pricelists
                        .extend(licensing.reusable_license_types.iter().cloned());
                }
            }
            Object::Tariff(t) => {
                let spec = &t.spec;
                self.account_templates
                    .extend(spec.hosting.iter().map(|h| h.account_template.clone()));
                self.pricelists
                    .extend(spec.license.iter().map(|l| l.license_type.clone()));
                let Some(vs) = &spec.virtual_server else {
                    return;
                };
                let on = |v| {
                    spec.processing_modules
                        .iter()
                        .any(|m| versions.get(&m.name).is_none_or(|found| *found == v))
                };
                let panels = vs.control_panel_license.iter().flat_map(|c| &c.options);
                self.pricelists.extend(
                    panels
                        .filter(|o| o.license_type != "nopanel")
                        .map(|o| o.license_type.clone()),
                );
                let images = vs
                    .operating_systems
                    .iter()
                    .chain(&vs.default_operating_system);
                if on(VmManagerApiVersion::V6) {
                    self.os_images.extend(images.clone().cloned());
                    self.recipes.extend(vs.recipe.iter().cloned());
                }
                if on(VmManagerApiVersion::V5) {
                    self.vm5_images.extend(images.cloned());
                    if let Some(preset) = &vs.preset {
                        self.vm5_presets.insert(
                            preset.clone(),
                            Vm5Preset {
                                name: format!("preset {preset}"),
                                mem: u64::from(vs.memory_mib),
                                vcpu: vs.cpu_cores,
                            },
                        );
                    }
                }
            }
            Object::ServerPool(p) => {
                for c in &p.spec.configurations {
                    self.os_images.insert(c.operating_system.clone());
                    self.recipes.extend(c.recipe.iter().cloned());
                }
            }
            Object::LicensePool(p) => {
                self.pricelists.extend(p.spec.license_types.iter().cloned());
            }
            Object::HostingService(s)
                if s.spec.management_policy == ManagementPolicy::ObserveOnly =>
            {
                let on_module = s
                    .spec
                    .processing_module_ref
                    .as_ref()
                    .map(|r| r.name.as_str());
                let name = s
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(EXTERNAL_NAME));
                if let Some(name) = name
                    && (module.is_none() || module == on_module)
                {
                    self.accounts.insert(name.clone());
                }
            }
            _ => {}
        }
    }

    /// Adds to `state` what it lacks (never changes what exists) and returns how many things
    /// were added.
    pub fn apply(&self, state: &mut SimState) -> usize {
        let before = count(state);
        let isp = &mut state.ispmgr;
        let basic = isp.presets.get("basic").cloned().unwrap_or_default();
        for template in &self.account_templates {
            isp.presets
                .entry(template.clone())
                .or_insert_with(|| basic.clone());
        }
        for name in &self.accounts {
            isp.users.entry(name.clone()).or_insert_with(|| IspUser {
                name: name.clone(),
                fullname: format!("{name} (made before hostplane)"),
                active: true,
                level: 16,
                preset: "basic".into(),
                limits: basic.clone(),
                password_changes: 0,
            });
        }
        let catalog = &mut state.vm6.catalog;
        add_entries(&mut catalog.os, &self.os_images);
        add_entries(&mut catalog.recipes, &self.recipes);
        let vm5 = &mut state.vmmgr;
        for (id, preset) in &self.vm5_presets {
            vm5.presets
                .entry(id.clone())
                .or_insert_with(|| preset.clone());
        }
        vm5.images.extend(self.vm5_images.iter().cloned());
        for pricelist in &self.pricelists {
            state
                .billmgr
                .prices
                .entry(pricelist.clone())
                .or_insert(Decimal::new(SEEDED_PRICE_CENTS, 2));
        }
        let added = count(state) - before;
        if added > 0 {
            state.vm6.touch();
        }
        added
    }
}

/// Adds catalogue entries by name, with ids after the highest one present.
fn add_entries(entries: &mut Vec<CatalogEntry>, names: &BTreeSet<String>) {
    for name in names {
        if entries.iter().any(|e| &e.name == name) {
            continue;
        }
        let id = entries.iter().map(|e| e.id).max().unwrap_or(0) + 1;
        entries.push(CatalogEntry {
            id,
            name: name.clone(),
            state: "active".into(),
            cluster: None,
        });
    }
}

/// Everything [`Seed::apply`] can add, counted.
fn count(state: &SimState) -> usize {
    state.ispmgr.presets.len()
        + state.ispmgr.users.len()
        + state.vm6.catalog.os.len()
        + state.vm6.catalog.recipes.len()
        + state.vmmgr.presets.len()
        + state.vmmgr.images.len()
        + state.billmgr.prices.len()
}

#[cfg(test)]
mod tests;
