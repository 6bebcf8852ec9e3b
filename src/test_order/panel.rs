//! The read calls at the panels, after the service is Ready (what the account, server or
//! licence looks like there) and after it is deleted (what is left of it). Only list and view functions are sent (plus the one GET of the
//! login link, see [`super::login`]); the checklist is then computed from the answers by
//! [`super::checks`].

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use secrecy::SecretString;

use super::checks::{self, Check, HostingFacts};
use super::login;
use crate::api::processing_module::VmManagerApiVersion;
use crate::api::tariff::ProductType;
use crate::api::{Client, HostingService, ProcessingModule, Tariff};
use crate::controller::panels::{PanelClient, Panels, Recipe, ca_of};
use crate::controller::service::connection::LOGIN_URL;
use crate::controller::service::desired::{self, DesiredAccount};
use crate::controller::service::virtual_server::{
    self, DesiredServer, Observed, default_host_name, desired_server, license_type_for, main_disk,
    vm5_observed, vm6_observed,
};
use crate::panel::licensing::License;

/// Everything one verification needs from the cluster.
pub struct Subject<'a> {
    pub kube: &'a kube::Client,
    pub panels: &'a Panels,
    pub service: &'a HostingService,
    pub tariff: &'a Tariff,
    pub client: &'a Client,
    /// Keep the service: the login link's used-up key is then dropped from the Secret, so
    /// the controller writes a fresh link.
    pub keep: bool,
}

impl Subject<'_> {
    fn namespace(&self) -> String {
        self.service.namespace().unwrap_or_default()
    }

    async fn module(&self, name: &str) -> anyhow::Result<ProcessingModule> {
        let api: Api<ProcessingModule> = Api::namespaced(self.kube.clone(), &self.namespace());
        api.get_opt(name)
            .await?
            .ok_or_else(|| anyhow::anyhow!("processing module {name:?} does not exist"))
    }

    async fn client_of(&self, module: &ProcessingModule) -> anyhow::Result<PanelClient> {
        Ok(self
            .panels
            .resolve(self.kube, module)
            .await
            .map_err(|e| anyhow::anyhow!("processing module {}: {e}", module.name_any()))?
            .0)
    }

    /// The module the controller placed the service on.
    async fn placed_module(&self) -> anyhow::Result<ProcessingModule> {
        let name = self
            .service
            .status
            .as_ref()
            .and_then(|s| s.processing_module.clone())
            .ok_or_else(|| anyhow::anyhow!("the Ready service names no processing module"))?;
        self.module(&name).await
    }
}

/// The checks at the panel for a Ready service. `Err` only when a panel could not be asked
/// (the test could not run); everything the panel answered goes into the checklist.
pub async fn verify(subject: &Subject<'_>) -> anyhow::Result<(String, Vec<Check>)> {
    let module = subject.placed_module().await?;
    let checks = match subject.tariff.spec.product_type {
        ProductType::SharedHosting => hosting(subject, &module).await?,
        ProductType::VirtualServer => server(subject, &module).await?,
        ProductType::SoftwareLicense => {
            let ip = subject.service.spec.license_ip.clone().unwrap_or_default();
            let license_type = subject
                .tariff
                .spec
                .license
                .as_ref()
                .map(|l| l.license_type.clone())
                .unwrap_or_default();
            license(subject, &module, "licence", &license_type, &ip).await?
        }
    };
    Ok((module.name_any(), checks))
}

/// What the tariff promises for the account and what ispmanager (and the name server) list.
async fn hosting_seen(
    subject: &Subject<'_>,
    module: &ProcessingModule,
) -> anyhow::Result<(DesiredAccount, HostingFacts)> {
    let expected = desired::account(
        &subject.service.name_any(),
        &subject.client.name_any(),
        &subject.service.spec,
        &subject.tariff.spec,
        &subject.client.spec,
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let PanelClient::IspManager(isp) = subject.client_of(module).await? else {
        anyhow::bail!("module {} is not an ispmanager module", module.name_any());
    };
    let read = |what: &str, e: crate::panel::PanelError| {
        anyhow::anyhow!("{what} at {}: {e}", module.name_any())
    };
    let user = isp
        .users()
        .await
        .map_err(|e| read("listing the users", e))?
        .into_iter()
        .find(|u| u.name == expected.username);
    let sites = isp
        .webdomains()
        .await
        .map_err(|e| read("listing the sites", e))?;
    let name_server = subject
        .tariff
        .spec
        .hosting
        .as_ref()
        .and_then(|h| h.name_server.as_ref());
    let dns = match name_server {
        None => None,
        Some(ns) => {
            let ns_module = subject.module(&ns.processing_module_ref.name).await?;
            let PanelClient::IspManager(dns) = subject.client_of(&ns_module).await? else {
                anyhow::bail!(
                    "name server {} is not an ispmanager module",
                    ns_module.name_any()
                );
            };
            let zones = dns.dns_domains().await.map_err(|e| {
                anyhow::anyhow!("listing the DNS zones at {}: {e}", ns_module.name_any())
            })?;
            Some((ns_module.name_any(), zones))
        }
    };
    Ok((expected, HostingFacts { user, sites, dns }))
}

async fn hosting(subject: &Subject<'_>, module: &ProcessingModule) -> anyhow::Result<Vec<Check>> {
    let (expected, seen) = hosting_seen(subject, module).await?;
    let login = login_link(subject, module).await?;
    Ok(checks::hosting(&expected, &seen, &login))
}

/// The login link's verdict ([`login::judge`]); the link is read from the connection Secret.
async fn login_link(
    subject: &Subject<'_>,
    module: &ProcessingModule,
) -> anyhow::Result<Result<String, String>> {
    let Some(target) = &subject.service.spec.write_connection_secret_to_ref else {
        return Ok(Err("the service writes no connection Secret".into()));
    };
    let api: Api<Secret> = Api::namespaced(subject.kube.clone(), &subject.namespace());
    let link = api
        .get_opt(&target.name)
        .await?
        .and_then(|s| s.data)
        .and_then(|d| d.get(LOGIN_URL).cloned())
        .and_then(|b| String::from_utf8(b.0).ok())
        .filter(|s| !s.is_empty());
    let Some(link) = link else {
        return Ok(Err(format!("no {LOGIN_URL} in Secret {}", target.name)));
    };
    let recipe = Recipe::of(module);
    let insecure = recipe.tls.as_ref().is_some_and(|t| t.insecure_skip_verify);
    let ca = match recipe.ca_secret() {
        Some(name) => {
            let secret = api
                .get_opt(name)
                .await?
                .ok_or_else(|| anyhow::anyhow!("the module's CA Secret {name:?} is missing"))?;
            Some(ca_of(&secret, name).map_err(|e| anyhow::anyhow!("{e}"))?)
        }
        None => None,
    };
    let verdict = match login::probe(&SecretString::from(link), insecure, ca).await {
        Ok(answer) => login::judge(&answer),
        Err(e) => Err(e),
    };
    if subject.keep {
        // The key is used up: without it the controller writes a fresh link.
        let drop_link = serde_json::json!({ "data": { LOGIN_URL: null } });
        api.patch(
            &target.name,
            &PatchParams::default(),
            &Patch::Merge(&drop_link),
        )
        .await?;
    }
    Ok(verdict)
}

/// The server's name, what the tariff promises for it, and what VMmanager shows of it.
async fn server_seen(
    subject: &Subject<'_>,
    module: &ProcessingModule,
) -> anyhow::Result<(String, DesiredServer, Option<Observed>)> {
    let settings = virtual_server::settings_of(module);
    let expected = desired_server(
        &subject.service.spec,
        &subject.tariff.spec,
        settings.use_recipes,
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let name = default_host_name(&subject.namespace(), &subject.service.name_any());
    let read = |e: crate::panel::PanelError| {
        anyhow::anyhow!("reading server {name} at {}: {e}", module.name_any())
    };
    let observed = match (settings.api_version, subject.client_of(module).await?) {
        (VmManagerApiVersion::V6, PanelClient::VmManager6(vm)) => vm
            .find_hosts_by_name(&name)
            .await
            .map_err(read)?
            .first()
            .map(vm6_observed),
        (VmManagerApiVersion::V5, PanelClient::VmManager5(vm)) => {
            match vm
                .vms()
                .await
                .map_err(read)?
                .into_iter()
                .find(|v| v.name == name)
            {
                None => None,
                Some(machine) => {
                    let mut seen = vm5_observed(&machine, true);
                    if seen.disk_mib.is_none() {
                        let volumes = vm.volumes(&machine.id).await.map_err(read)?;
                        seen.disk_mib = main_disk(&volumes).and_then(|d| d.size_mib);
                    }
                    // The list says whether it runs; a list without power says nothing.
                    seen.running = machine.powered.unwrap_or(false);
                    Some(seen)
                }
            }
        }
        _ => anyhow::bail!("module {} is not a VMmanager module", module.name_any()),
    };
    Ok((name, expected, observed))
}

/// The licensing module of a server's control-panel licence, when its tariff option needs one.
async fn panel_licence_module(
    subject: &Subject<'_>,
    module: &ProcessingModule,
) -> anyhow::Result<Option<(ProcessingModule, String)>> {
    let Some(license_type) = license_type_for(&subject.tariff.spec, &subject.service.spec) else {
        return Ok(None);
    };
    let Some(lic_ref) = module
        .spec
        .vmmanager
        .as_ref()
        .and_then(|v| v.licensing_module_ref.as_ref())
    else {
        anyhow::bail!("module {} names no licensing module", module.name_any());
    };
    Ok(Some((subject.module(&lic_ref.name).await?, license_type)))
}

async fn server(subject: &Subject<'_>, module: &ProcessingModule) -> anyhow::Result<Vec<Check>> {
    let (name, expected, observed) = server_seen(subject, module).await?;
    let mut checks = checks::server(&name, &expected, observed.as_ref());
    if let Some((lic_module, license_type)) = panel_licence_module(subject, module).await? {
        let ip = subject
            .service
            .status
            .as_ref()
            .and_then(|s| s.ip.clone())
            .unwrap_or_default();
        checks.extend(license(subject, &lic_module, "panel licence", &license_type, &ip).await?);
    }
    Ok(checks)
}

/// What the panels still hold of the order once it is deleted: nothing of an account or a
/// server, and its licence in the pool.
pub async fn verify_removed(subject: &Subject<'_>) -> anyhow::Result<Vec<Check>> {
    let module = subject.placed_module().await?;
    let mut checks = Vec::new();
    let licence_module = match subject.tariff.spec.product_type {
        ProductType::SharedHosting => {
            let (expected, seen) = hosting_seen(subject, &module).await?;
            checks.push(checks::removed(
                &format!("account {}", expected.username),
                seen.user.is_some(),
            ));
            let has = |list: &[crate::panel::ispmanager::Domain]| {
                list.iter().any(|d| d.name == expected.domain)
            };
            checks.push(checks::removed(
                &format!("site {}", expected.domain),
                has(&seen.sites),
            ));
            if let Some((ns, zones)) = &seen.dns {
                checks.push(checks::removed(
                    &format!("DNS zone {} on {ns}", expected.domain),
                    has(zones),
                ));
            }
            None
        }
        ProductType::VirtualServer => {
            let (name, _, observed) = server_seen(subject, &module).await?;
            checks.push(checks::removed(
                &format!("server {name}"),
                observed.is_some(),
            ));
            panel_licence_module(subject, &module)
                .await?
                .map(|(m, _)| m)
        }
        ProductType::SoftwareLicense => Some(module),
    };
    if let Some(lic_module) = licence_module
        && let Some(id) = subject
            .service
            .status
            .as_ref()
            .and_then(|s| s.license.as_ref())
            .map(|l| l.id.clone())
    {
        let found = licence_view(subject, &lic_module, &id).await?;
        checks.push(checks::pooled(&id, found.as_ref()));
    }
    Ok(checks)
}

/// A licence's form at the licensing server (`soft.edit` without `sok`: a read).
async fn licence_view(
    subject: &Subject<'_>,
    module: &ProcessingModule,
    id: &str,
) -> anyhow::Result<Option<License>> {
    let PanelClient::Licensing(lic) = subject.client_of(module).await? else {
        anyhow::bail!("module {} is not a licensing module", module.name_any());
    };
    Ok(lic
        .view(id)
        .await
        .map_err(|e| anyhow::anyhow!("reading licence {id} at {}: {e}", module.name_any()))?
        .map(|d| d.license))
}

async fn license(
    subject: &Subject<'_>,
    module: &ProcessingModule,
    what: &str,
    license_type: &str,
    ip: &str,
) -> anyhow::Result<Vec<Check>> {
    let id = subject
        .service
        .status
        .as_ref()
        .and_then(|s| s.license.as_ref())
        .map(|l| l.id.clone());
    let found = match &id {
        Some(id) => licence_view(subject, module, id).await?,
        None => None,
    };
    Ok(checks::license(
        what,
        id.as_deref(),
        license_type,
        ip,
        found.as_ref(),
    ))
}
