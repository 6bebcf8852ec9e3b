//! What the audit is fed: the cluster's services (what each claims), the panels' objects read
//! over their own protocols with the project's clients (`hostplane::panel`, not the
//! simulator's internals), the LicensePool's status, and the licensing server's order log and
//! balance from the simulator's admin endpoint (the one thing no panel protocol shows).

use std::collections::BTreeSet;

use hostplane::api::{EXTERNAL_NAME_ANNOTATION, HostingService, LicensePool};
use hostplane::controller::service::claim::CLAIMED_MODULE_ANNOTATION;
use hostplane::controller::service::virtual_server::default_host_name;
use hostplane::panel::Credentials;
use hostplane::panel::ispmanager::IspManager;
use hostplane::panel::licensing::{LicenseStatus, Licensing};
use hostplane::panel::mgr::{MgrClient, MgrOptions};
use hostplane::panel::vmmanager5::Vm5;
use hostplane::panel::vmmanager6::{Vm6Client, Vm6Options};
use hostplane::pools::naming::{LicenseKind, RemoteId};
use kube::ResourceExt as _;
use kube::api::{Api, ListParams};
use rust_decimal::Decimal;
use serde_json::Value;

use super::audit::{Charge, Claim, PanelObject};
use super::driver::Ledger;
use super::processes::Simulator;
use super::world::{self, PANEL, Product};

/// What one service claims: its account or server, and its licence when it needs one.
/// `key: None` where the service records nothing yet.
pub fn claims(namespace: &str, service: &HostingService, product: Product) -> Vec<Claim> {
    let name = service.name_any();
    let who = format!("{namespace}/{name}");
    let status = service.status.as_ref();
    let module = service
        .annotations()
        .get(CLAIMED_MODULE_ANNOTATION)
        .cloned()
        .unwrap_or_else(|| product.module().to_owned());
    let made = status.and_then(|s| s.external_name.as_ref()).is_some();
    let license = |kind| Claim {
        service: who.clone(),
        module: world::Product::License.module().to_owned(),
        key: status
            .and_then(|s| s.license.as_ref())
            .map(|l| l.id.clone()),
        recorded: status.and_then(|s| s.license.as_ref()).is_some(),
        remoteid: Some(
            RemoteId::for_service(
                namespace,
                &name,
                &service.uid().unwrap_or_default(),
                kind,
                0,
            )
            .to_string(),
        ),
    };
    match product {
        Product::Hosting => vec![Claim {
            service: who.clone(),
            module,
            key: service.annotations().get(EXTERNAL_NAME_ANNOTATION).cloned(),
            remoteid: None,
            recorded: made,
        }],
        Product::Vps6 | Product::Vps5 => {
            let mut out = vec![Claim {
                service: who.clone(),
                module,
                key: Some(default_host_name(namespace, &name)),
                remoteid: None,
                recorded: made,
            }];
            if service.spec.control_panel.as_deref() == Some(PANEL) {
                out.push(license(LicenseKind::Addon));
            }
            out
        }
        Product::License => vec![license(LicenseKind::Standalone)],
    }
}

/// Why a service has not settled, or `None` when it has (Ready, or suspended or terminated
/// as its spec and billing say).
pub fn unsettled(service: &HostingService) -> Option<String> {
    let name = service.name_any();
    if service.metadata.deletion_timestamp.is_some() {
        return Some(format!("{name} is still being deleted"));
    }
    let status = serde_json::to_value(&service.status).unwrap_or(Value::Null);
    let ready = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready");
    match ready {
        Some(c) if c["status"] == "True" => None,
        Some(c) => Some(format!(
            "{name} is not Ready ({}): {}",
            c["reason"].as_str().unwrap_or(""),
            c["message"].as_str().unwrap_or("")
        )),
        None => Some(format!("{name} has no Ready condition")),
    }
}

/// The services of the namespace now.
pub async fn services(api: &Api<HostingService>) -> anyhow::Result<Vec<HostingService>> {
    Ok(api.list(&ListParams::default()).await?.items)
}

/// Every object the panels list, with the modules they belong to.
pub async fn panels(
    sim: &Simulator,
    admin: &str,
    password: &str,
) -> anyhow::Result<Vec<PanelObject>> {
    let credentials = || Credentials::new(admin, password);
    let mgr = |path: &str| {
        MgrClient::new(
            &format!("{}{path}", sim.base),
            credentials(),
            MgrOptions::default(),
        )
    };
    let mut out = Vec::new();
    let object = |module: &str, key: String| PanelObject {
        module: module.to_owned(),
        key,
        correlation: None,
        pooled: false,
    };
    for user in IspManager::new(mgr("/ispmgr")?).users().await? {
        if user.name != admin {
            out.push(object(Product::Hosting.module(), user.name));
        }
    }
    for vm in Vm5::new(mgr("/vmmgr")?).vms().await? {
        out.push(object(Product::Vps5.module(), vm.name));
    }
    let vm6 = Vm6Client::new(&sim.base, credentials(), Vm6Options::default())?;
    for host in vm6.list_hosts(None).await? {
        out.push(object(Product::Vps6.module(), host.name));
    }
    for licence in Licensing::new(mgr("/billmgr")?).licenses().await? {
        if licence.status == LicenseStatus::Deleted {
            continue;
        }
        out.push(PanelObject {
            correlation: licence.correlation_id().map(str::to_owned),
            pooled: licence.licname == hostplane::pools::license_pool::FREE_LICNAME
                && licence.ip.trim() == "0.0.0.0",
            ..object(Product::License.module(), licence.id)
        });
    }
    Ok(out)
}

/// The licence ids the LicensePool reports.
pub async fn pooled(api: &Api<LicensePool>) -> anyhow::Result<BTreeSet<String>> {
    let pool = api.get(world::POOL).await?;
    Ok(pool
        .status
        .map(|s| s.licenses.into_iter().map(|l| l.id).collect())
        .unwrap_or_default())
}

/// The licensing server's order log and balance (`GET /_admin/state`).
pub async fn ledger_of_money(sim: &Simulator) -> anyhow::Result<(Vec<Charge>, Decimal)> {
    let state = sim.get("/_admin/state").await?;
    let bill = &state["state"]["billmgr"];
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let decimal = |v: &Value| -> anyhow::Result<Decimal> { Ok(text(v).parse()?) };
    let mut charges = Vec::new();
    for c in bill["charges"].as_array().into_iter().flatten() {
        charges.push(Charge {
            license: text(&c["license"]),
            remoteid: text(&c["remoteid"]),
            what: text(&c["what"]),
            amount: decimal(&c["amount"])?,
            date: text(&c["date"]),
        });
    }
    Ok((charges, decimal(&bill["balance"])?))
}

/// The claims of the services deleted with `Orphan`, as they were just before.
pub fn orphaned(namespace: &str, ledger: &Ledger) -> Vec<Claim> {
    ledger
        .services
        .values()
        .filter_map(|t| Some((t.orphaned.as_ref()?, t.spec.product)))
        .flat_map(|(service, product)| claims(namespace, service, product))
        .collect()
}
