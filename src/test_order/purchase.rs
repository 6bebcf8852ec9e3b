//! Licences cost money: before a test order that needs a licence (a `SoftwareLicense`, or a
//! virtual server with a control panel) is placed, the licensing server's list is read and the
//! controller's own pool decision ([`license_pool::acquire`]) is asked whether the order
//! would take a pooled licence or buy one. Buying is refused unless `--allow-purchase`, and
//! the refusal says what the order would cost by the tariff.

use kube::ResourceExt;
use kube::api::{Api, ListParams};

use crate::api::common::{Date, Money, Period};
use crate::api::processing_module::ModuleType;
use crate::api::tariff::{ProductType, ResourceKind};
use crate::api::{HostingServiceSpec, LicensePool, ProcessingModule, TariffSpec};
use crate::controller::panels::{PanelClient, Panels};
use crate::controller::service::licenses::settings_of;
use crate::controller::service::virtual_server::{control_panel_option, license_type_for};
use crate::panel::licensing::License;
use crate::pools::license_pool::{
    self, Acquisition, LicenseNeed, NeedKind, PoolLicense, PoolRules, nodes_records,
};
use crate::pools::renewal;

/// The licence a test order needs, and its price by the tariff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenseCost {
    /// The pricelist id.
    pub license_type: String,
    /// Node addon quantity (0 without).
    pub nodes: u32,
    /// What the tariff sells it as: "the SoftwareLicense tariff" or "control panel NAME".
    pub what: String,
    /// The tariff's price for the order's period, when it has one.
    pub price: Option<Money>,
    pub currency: String,
    pub period: Period,
}

impl LicenseCost {
    /// "1m of licence type 3541 (control panel ispmanager-lite) at 10.00 USD by the tariff".
    pub fn describe(&self) -> String {
        let price = match self.price {
            Some(p) => format!("{p} {}", self.currency),
            None => "a price the tariff does not state".to_owned(),
        };
        format!(
            "{} of licence type {} ({}) at {price} by the tariff",
            self.period, self.license_type, self.what
        )
    }
}

/// The licence a test order of `service` on `tariff` needs, if any, with its price: the
/// tariff's order price and setup fee for a `SoftwareLicense`, the control-panel option's
/// price for a virtual server.
pub fn license_cost(tariff: &TariffSpec, service: &HostingServiceSpec) -> Option<LicenseCost> {
    let period = service.period;
    let (license_type, what, price) = match tariff.product_type {
        ProductType::SharedHosting => return None,
        ProductType::SoftwareLicense => {
            let license = tariff.license.as_ref()?;
            let price = tariff
                .prices
                .get(period)
                .map(|p| Money(p.0 + tariff.setup_fee.unwrap_or(Money::ZERO).0));
            let what = match tariff.setup_fee {
                Some(fee) if !fee.0.is_zero() => "the SoftwareLicense tariff, setup fee included",
                _ => "the SoftwareLicense tariff",
            };
            (license.license_type.clone(), what.to_owned(), price)
        }
        ProductType::VirtualServer => {
            let license_type = license_type_for(tariff, service)?;
            let option = control_panel_option(tariff, service)?;
            (
                license_type,
                format!("control panel {}", option.name),
                option.prices.get(period),
            )
        }
    };
    let nodes = match tariff.product_type {
        ProductType::SoftwareLicense => service
            .resources
            .iter()
            .find(|r| r.name == ResourceKind::LicenseNodes)
            .map_or(0, |r| u32::try_from(r.quantity).unwrap_or(u32::MAX)),
        _ => 0,
    };
    Some(LicenseCost {
        license_type,
        nodes,
        what,
        price,
        currency: tariff.currency.clone(),
        period,
    })
}

/// What the controller would do for the licence at one licensing module: take pooled licence
/// `Some(id)`, or buy (`None`). The same rules as the controller's ([`license_pool::acquire`]).
pub fn pooled_choice(
    listed: &[License],
    pool: Option<&LicensePool>,
    module: &ProcessingModule,
    cost: &LicenseCost,
    tariff_name: &str,
    today: Date,
) -> Option<String> {
    let settings = settings_of(module);
    let rules = PoolRules::new(&settings, pool.map(|p| &p.spec));
    let records = pool
        .map(|p| nodes_records(p.annotations().iter()))
        .unwrap_or_default();
    let pooled: Vec<PoolLicense> = listed
        .iter()
        .filter_map(PoolLicense::from_panel)
        .map(|l| l.with_recorded_nodes(&records))
        .collect();
    let need = LicenseNeed {
        kind: NeedKind::NewOrder,
        license_type: cost.license_type.clone(),
        addon_quantity: cost.nodes,
        period: renewal::license_period(&settings, cost.period, Some(tariff_name)),
    };
    match license_pool::acquire(&pooled, &need, &rules, today) {
        Acquisition::Take(choice) => Some(choice.license_id),
        _ => None,
    }
}

/// The licensing modules a test order's licence may come from: the tariff's own modules for a
/// `SoftwareLicense`, the licensing module of each of its VMmanager modules for a server.
async fn licensing_modules(
    kube: &kube::Client,
    namespace: &str,
    tariff: &TariffSpec,
) -> anyhow::Result<Vec<ProcessingModule>> {
    let api: Api<ProcessingModule> = Api::namespaced(kube.clone(), namespace);
    let mut names = Vec::new();
    for r in &tariff.processing_modules {
        let Some(module) = api.get_opt(&r.name).await? else {
            anyhow::bail!("the tariff's processing module {:?} does not exist", r.name);
        };
        match module.spec.type_ {
            ModuleType::Licensing => names.push(module.name_any()),
            ModuleType::VMmanager => {
                let Some(lic) = module
                    .spec
                    .vmmanager
                    .as_ref()
                    .and_then(|v| v.licensing_module_ref.as_ref())
                else {
                    anyhow::bail!(
                        "VMmanager module {:?} names no licensing module (spec.vmmanager.licensingModuleRef), so its servers get no control-panel licence",
                        module.name_any()
                    );
                };
                names.push(lic.name.clone());
            }
            ModuleType::ISPmanager => {}
        }
    }
    names.sort();
    names.dedup();
    let mut modules = Vec::new();
    for name in names {
        match api.get_opt(&name).await? {
            Some(m) => modules.push(m),
            None => anyhow::bail!("licensing module {name:?} does not exist"),
        }
    }
    Ok(modules)
}

/// Whether the order may go ahead: `Ok(note)` says where its licence comes from (a pooled one
/// at every module it may be placed on, or a purchase that `--allow-purchase` allows); `Err`
/// is the refusal, with the price.
pub async fn preflight(
    kube: &kube::Client,
    namespace: &str,
    tariff_name: &str,
    tariff: &TariffSpec,
    cost: &LicenseCost,
    allow_purchase: bool,
    today: Date,
) -> anyhow::Result<Result<String, String>> {
    let modules = licensing_modules(kube, namespace, tariff).await?;
    let pools: Vec<LicensePool> = Api::<LicensePool>::namespaced(kube.clone(), namespace)
        .list(&ListParams::default())
        .await?
        .items;
    let panels = Panels::new();
    let mut pooled = Vec::new();
    let mut buying = Vec::new();
    for module in &modules {
        let name = module.name_any();
        let client = panels
            .resolve(kube, module)
            .await
            .map_err(|e| anyhow::anyhow!("licensing module {name}: {e}"))?
            .0;
        let PanelClient::Licensing(lic) = client else {
            anyhow::bail!("module {name} is not a licensing module");
        };
        let listed = lic
            .licenses()
            .await
            .map_err(|e| anyhow::anyhow!("listing the licences at {name}: {e}"))?;
        let pool = pools
            .iter()
            .find(|p| p.spec.licensing_module_ref.name == name);
        match pooled_choice(&listed, pool, module, cost, tariff_name, today) {
            Some(id) => pooled.push(format!("pooled licence {id} at {name}")),
            None => buying.push(name),
        }
    }
    if buying.is_empty() {
        return Ok(Ok(format!("the order takes {}", pooled.join(", "))));
    }
    let at = buying.join(", ");
    if allow_purchase {
        Ok(Ok(format!(
            "no pooled licence fits at {at}: the order may buy {} (--allow-purchase)",
            cost.describe()
        )))
    } else {
        Ok(Err(format!(
            "no pooled licence fits at {at}: the order would buy {}; nothing was ordered. Run again with --allow-purchase to buy it (after the test the licence joins the pool for the next order)",
            cost.describe()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> HostingServiceSpec {
        serde_saphyr::from_str(yaml).expect("a service")
    }

    fn tariff(yaml: &str) -> TariffSpec {
        serde_saphyr::from_str(yaml).expect("a tariff")
    }

    const VPS: &str = r#"
productType: VirtualServer
processingModules: [{name: vm}]
prices: {1m: "5.00"}
virtualServer:
  cpuCores: 1
  memoryMiB: 1024
  diskGiB: 10
  operatingSystems: [Debian 12]
  controlPanelLicense:
    default: lite
    options:
      - {name: none, licenseType: nopanel}
      - {name: lite, licenseType: "3541", prices: {1m: "9.50"}}
"#;

    const SERVICE: &str =
        "tariffRef: {name: t}\nclientRef: {name: c}\nperiod: 1m\nstartDate: \"2026-01-01\"\n";

    #[test]
    fn a_server_with_a_panel_needs_its_options_licence_at_its_price() {
        let cost = license_cost(&tariff(VPS), &spec(SERVICE)).expect("a licence");
        assert_eq!(cost.license_type, "3541");
        assert_eq!(cost.price.unwrap().to_string(), "9.50");
        assert_eq!(
            cost.describe(),
            "1m of licence type 3541 (control panel lite) at 9.50 USD by the tariff"
        );
        let without = spec(&format!("{SERVICE}controlPanel: none\n"));
        assert_eq!(license_cost(&tariff(VPS), &without), None);
    }

    #[test]
    fn a_software_licence_costs_its_period_price_and_setup_fee() {
        let t = tariff(
            r#"
productType: SoftwareLicense
processingModules: [{name: lic}]
prices: {1m: "12.00"}
setupFee: "3.00"
license: {licenseType: "55228"}
"#,
        );
        let cost = license_cost(&t, &spec(SERVICE)).expect("a licence");
        assert_eq!(cost.price.unwrap().to_string(), "15.00");
        assert_eq!(cost.license_type, "55228");
        let hosting = tariff(
            "productType: SharedHosting\nprocessingModules: [{name: isp}]\nprices: {1m: \"1.00\"}\nhosting: {accountTemplate: basic}\n",
        );
        assert_eq!(license_cost(&hosting, &spec(SERVICE)), None);
    }

    #[test]
    fn a_free_licence_of_the_type_is_taken_and_anything_else_is_a_purchase() {
        let module: ProcessingModule = serde_saphyr::from_str(
            "apiVersion: hostplane.dev/v1alpha1\nkind: ProcessingModule\nmetadata: {name: lic}\nspec: {type: Licensing, url: \"https://lic.example\", credentialsSecretRef: {name: s}}\n",
        )
        .expect("a module");
        let cost = license_cost(&tariff(VPS), &spec(SERVICE)).unwrap();
        let today = Date("2026-01-10".parse().unwrap());
        let row = |id: &str, name: &str, ip: &str, pricelist: &str| License {
            id: id.into(),
            licname: name.into(),
            ip: ip.into(),
            pricelist: pricelist.into(),
            period: "1".into(),
            status: crate::panel::licensing::LicenseStatus::Suspended,
            createdate: "2025-12-01".into(),
            expiredate: "2026-02-01".into(),
            remoteid: String::new(),
        };
        let bound = row("7", "Item #7", "192.0.2.1", "3541");
        let other_type = row("8", "free.lic", "0.0.0.0", "55228");
        assert_eq!(
            pooled_choice(
                &[bound.clone(), other_type.clone()],
                None,
                &module,
                &cost,
                "t",
                today
            ),
            None
        );
        let free = row("9", "free.lic", "0.0.0.0", "3541");
        assert_eq!(
            pooled_choice(&[bound, other_type, free], None, &module, &cost, "t", today),
            Some("9".into())
        );
    }
}
