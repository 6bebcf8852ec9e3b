//! Typed fixtures: the objects the tests and the benches put into a namespace, built from the
//! API's own types and applied through the API (server-side apply), not YAML through kubectl
//! and temporary files.
//!
//! Each builder starts from the smallest object the API accepts, read through the types'
//! serde defaults (so a default here is the API's default, not a second copy of it), and
//! offers typed setters for what the tests vary; [`ModuleBuilder::with`] and friends reach any
//! other field. The benches include this file with `#[path]`, so it depends only on the
//! library and its dependencies.
#![allow(dead_code)]

use std::fmt::Debug;

use hostplane::api::common::{LocalObjectReference, Money, Period};
use hostplane::api::hosting_service::{HostingServiceSpec, ResourceQuantity};
use hostplane::api::processing_module::{
    LicensingSettings, ModuleType, ProcessingModuleSpec, VmManagerApiVersion, VmManagerSettings,
};
use hostplane::api::server_pool::{PoolConfiguration, SalesBucket};
use hostplane::api::tariff::{
    ControlPanelLicense, ControlPanelOption, ResourceKind, TariffSpec, VirtualServerSettings,
};
use hostplane::api::{
    Client, ClientSpec, HostingService, LicensePool, LicensePoolSpec, ProcessingModule,
    ProductType, ServerPool, ServerPoolSpec, Tariff,
};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The field manager of everything the fixtures apply.
pub const FIELD_MANAGER: &str = "hostplane-fixtures";

/// One object of any fixture kind, so a namespace's set can be applied in one call. A handful
/// live for a test's set-up only, so the size of a tariff is no reason to box it.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Fixture {
    Secret(Secret),
    Module(ProcessingModule),
    Tariff(Tariff),
    Client(Client),
    Service(HostingService),
    LicensePool(LicensePool),
    ServerPool(ServerPool),
}

macro_rules! fixture_from {
    ($($variant:ident($ty:ty)),+) => {
        $(impl From<$ty> for Fixture {
            fn from(object: $ty) -> Self {
                Fixture::$variant(object)
            }
        })+
    };
}
fixture_from!(
    Secret(Secret),
    Module(ProcessingModule),
    Tariff(Tariff),
    Client(Client),
    Service(HostingService),
    LicensePool(LicensePool),
    ServerPool(ServerPool)
);

/// Creates or updates `object` in `ns` (server-side apply, forced: the fixture is the truth).
pub async fn apply<K>(client: &kube::Client, ns: &str, object: &K) -> kube::Result<K>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&object.name_any(), &params, &Patch::Apply(object))
        .await
}

/// Applies every fixture, in order (Secrets and modules before what refers to them keeps the
/// first reconciles quiet, though the controller copes with any order).
pub async fn apply_all(
    client: &kube::Client,
    ns: &str,
    fixtures: impl IntoIterator<Item = Fixture>,
) -> kube::Result<()> {
    for fixture in fixtures {
        match &fixture {
            Fixture::Secret(o) => drop(apply(client, ns, o).await?),
            Fixture::Module(o) => drop(apply(client, ns, o).await?),
            Fixture::Tariff(o) => drop(apply(client, ns, o).await?),
            Fixture::Client(o) => drop(apply(client, ns, o).await?),
            Fixture::Service(o) => drop(apply(client, ns, o).await?),
            Fixture::LicensePool(o) => drop(apply(client, ns, o).await?),
            Fixture::ServerPool(o) => drop(apply(client, ns, o).await?),
        }
    }
    Ok(())
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        ..ObjectMeta::default()
    }
}

fn reference(name: &str) -> LocalObjectReference {
    LocalObjectReference {
        name: name.to_owned(),
    }
}

/// A spec read from the smallest JSON the API accepts: the API's defaults fill the rest.
fn spec_of<T: DeserializeOwned>(kind: &str, minimal: Value) -> T {
    serde_json::from_value(minimal)
        .unwrap_or_else(|e| panic!("the minimal {kind} fixture no longer fits the API: {e}"))
}

fn money(text: &str) -> Money {
    text.parse()
        .unwrap_or_else(|e| panic!("fixture price {text:?}: {e:?}"))
}

/// A Secret holding `data` (as `stringData`).
pub fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: meta(name),
        string_data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..Secret::default()
    }
}

/// A panel login Secret with the `username` and `password` keys a module reads.
pub fn credentials(name: &str, username: &str, password: &str) -> Secret {
    secret(name, &[("username", username), ("password", password)])
}

/// A processing module at `url`, logging in with the Secret `credentials`.
pub fn module(name: &str, type_: ModuleType, url: &str, credentials: &str) -> ModuleBuilder {
    let spec: ProcessingModuleSpec = spec_of(
        "ProcessingModule",
        json!({"type": type_, "url": url, "credentialsSecretRef": {"name": credentials}}),
    );
    ModuleBuilder(ProcessingModule::new(name, spec))
}

pub struct ModuleBuilder(ProcessingModule);

impl ModuleBuilder {
    /// Concurrent operations and requests per second (the burst equals the rate).
    pub fn limits(self, concurrency: u32, per_second: u32) -> Self {
        self.with(|s| {
            s.limits.max_concurrent_operations = concurrency;
            s.limits.requests_per_second = per_second;
            s.limits.burst = per_second;
        })
    }

    /// How long a create whose answer was lost waits before it is sent again.
    pub fn quiet_seconds(self, seconds: u32) -> Self {
        self.with(|s| s.unknown_outcome_quiet_seconds = seconds)
    }

    /// The licensing settings, from the API's defaults changed by `change`.
    pub fn licensing(self, change: impl FnOnce(&mut LicensingSettings)) -> Self {
        let mut settings: LicensingSettings = spec_of("licensing settings", json!({}));
        change(&mut settings);
        self.with(|s| s.licensing = Some(settings))
    }

    /// The VMmanager settings of `version`, from the API's defaults changed by `change`.
    pub fn vmmanager(
        self,
        version: VmManagerApiVersion,
        change: impl FnOnce(&mut VmManagerSettings),
    ) -> Self {
        let mut settings: VmManagerSettings = spec_of("VMmanager settings", json!({}));
        settings.api_version = version;
        change(&mut settings);
        self.with(|s| s.vmmanager = Some(settings))
    }

    pub fn priority(self, priority: u32) -> Self {
        self.with(|s| s.priority = priority)
    }

    /// Any other field of the spec.
    pub fn with(mut self, change: impl FnOnce(&mut ProcessingModuleSpec)) -> Self {
        change(&mut self.0.spec);
        self
    }

    pub fn build(self) -> ProcessingModule {
        self.0
    }
}

/// A tariff of `product` served by `modules`, with no price yet.
pub fn tariff(name: &str, product: ProductType, modules: &[&str]) -> TariffBuilder {
    let modules: Vec<Value> = modules.iter().map(|m| json!({"name": m})).collect();
    let spec: TariffSpec = spec_of(
        "Tariff",
        json!({"productType": product, "processingModules": modules, "prices": {}}),
    );
    TariffBuilder(Tariff::new(name, spec))
}

pub struct TariffBuilder(Tariff);

impl TariffBuilder {
    pub fn price(self, period: Period, price: &str) -> Self {
        let price = Some(money(price));
        self.with(|s| {
            let p = &mut s.prices;
            match period {
                Period::OneMonth => p.one_month = price,
                Period::ThreeMonths => p.three_months = price,
                Period::SixMonths => p.six_months = price,
                Period::OneYear => p.one_year = price,
                Period::ThreeYears => p.three_years = price,
            }
        })
    }

    /// A resource from `included` up to `max` in `step`s, each step above `included` at
    /// `monthly` a month.
    pub fn resource(
        self,
        kind: ResourceKind,
        included: u64,
        max: u64,
        step: u64,
        monthly: &str,
    ) -> Self {
        let resource = spec_of(
            "resource",
            json!({"name": kind, "included": included, "min": included, "max": max,
                   "step": step, "monthlyPrice": monthly}),
        );
        self.with(|s| s.resources.push(resource))
    }

    /// Lets services of the tariff hold less of `kind` than it includes, down to `min`.
    pub fn resource_min(self, kind: ResourceKind, min: u64) -> Self {
        self.with(|s| {
            for resource in s.resources.iter_mut().filter(|r| r.name == kind) {
                resource.min = min;
            }
        })
    }

    /// Shared hosting on the account template `template`, usernames from `username_template`,
    /// default domains from `domain_template`; `name_server` holds the DNS zones.
    pub fn hosting(
        self,
        template: &str,
        username_template: &str,
        domain_template: &str,
        name_server: Option<&str>,
    ) -> Self {
        let mut hosting = json!({
            "accountTemplate": template,
            "usernameTemplate": username_template,
            "defaultDomainTemplate": domain_template,
        });
        if let Some(module) = name_server {
            hosting["nameServer"] = json!({"processingModuleRef": {"name": module}});
        }
        let hosting = spec_of("hosting block", hosting);
        self.with(|s| s.hosting = Some(hosting))
    }

    /// Virtual servers of `cpu` cores, `memory_mib` and `disk_gib`, with the operating systems
    /// `systems` (the first is the default).
    pub fn virtual_server(
        self,
        cpu: u32,
        memory_mib: u32,
        disk_gib: u32,
        systems: &[&str],
    ) -> Self {
        let settings: VirtualServerSettings = spec_of(
            "virtual server block",
            json!({"cpuCores": cpu, "memoryMiB": memory_mib, "diskGiB": disk_gib,
                   "operatingSystems": systems, "defaultOperatingSystem": systems.first()}),
        );
        self.with(|s| s.virtual_server = Some(settings))
    }

    /// Any field of the virtual server block ([`Self::virtual_server`] first).
    pub fn with_virtual_server(self, change: impl FnOnce(&mut VirtualServerSettings)) -> Self {
        self.with(|s| {
            change(
                s.virtual_server
                    .as_mut()
                    .expect("a virtual server block to change"),
            )
        })
    }

    /// Control-panel licences sold with the servers: `nopanel` (the default, free) and
    /// `option` of the pricelist `license_type` at `monthly` / `yearly`.
    pub fn control_panel(
        self,
        option: &str,
        license_type: &str,
        monthly: &str,
        yearly: &str,
    ) -> Self {
        let none: ControlPanelOption = spec_of(
            "control panel option",
            json!({"name": "nopanel", "licenseType": "nopanel", "displayName": "Without control panel"}),
        );
        let mut panel: ControlPanelOption = spec_of(
            "control panel option",
            json!({"name": option, "licenseType": license_type, "displayName": option}),
        );
        panel.prices.one_month = Some(money(monthly));
        panel.prices.one_year = Some(money(yearly));
        let license = ControlPanelLicense {
            default: "nopanel".into(),
            options: vec![none, panel],
        };
        self.with_virtual_server(|v| v.control_panel_license = Some(license))
    }

    /// A standalone software licence of the pricelist `license_type`.
    pub fn license(self, license_type: &str) -> Self {
        let license = spec_of("license block", json!({"licenseType": license_type}));
        self.with(|s| s.license = Some(license))
    }

    /// Any other field of the spec.
    pub fn with(mut self, change: impl FnOnce(&mut TariffSpec)) -> Self {
        change(&mut self.0.spec);
        self
    }

    pub fn build(self) -> Tariff {
        self.0
    }
}

/// A client.
pub fn client(name: &str, display_name: &str, email: &str) -> Client {
    let spec: ClientSpec = spec_of(
        "Client",
        json!({"displayName": display_name, "email": email}),
    );
    Client::new(name, spec)
}

/// The license pool of the licensing module `module`, with the API's defaults.
pub fn license_pool(name: &str, module: &str) -> LicensePool {
    let spec: LicensePoolSpec = spec_of(
        "LicensePool",
        json!({"licensingModuleRef": {"name": module}}),
    );
    LicensePool::new(name, spec)
}

/// A server pool at the VMmanager module `module`, its servers owned by `pool_client`.
pub fn server_pool(name: &str, module: &str, pool_client: &str) -> ServerPoolBuilder {
    let spec: ServerPoolSpec = spec_of(
        "ServerPool",
        json!({"vmmanagerModuleRef": {"name": module}, "poolClientRef": {"name": pool_client},
               "configurations": [], "sizeBySales": [], "maxMonthsInPool": 1}),
    );
    ServerPoolBuilder(ServerPool::new(name, spec))
}

pub struct ServerPoolBuilder(ServerPool);

impl ServerPoolBuilder {
    /// One configuration of pre-created servers.
    pub fn configuration(
        self,
        name: &str,
        operating_system: &str,
        cpu: u32,
        memory_mib: u32,
        disk_gib: u32,
    ) -> Self {
        let configuration = PoolConfiguration {
            name: name.to_owned(),
            operating_system: operating_system.to_owned(),
            cpu_cores: cpu,
            memory_mib,
            disk_gib,
            recipe: None,
        };
        self.with(|s| s.configurations.push(configuration))
    }

    /// `servers` per configuration while at most `max_sold` were sold in the window (`None`:
    /// above every other bucket).
    pub fn size(self, max_sold: Option<u32>, servers: u32) -> Self {
        self.with(|s| s.size_by_sales.push(SalesBucket { max_sold, servers }))
    }

    /// Any other field of the spec.
    pub fn with(mut self, change: impl FnOnce(&mut ServerPoolSpec)) -> Self {
        change(&mut self.0.spec);
        self
    }

    pub fn build(self) -> ServerPool {
        self.0
    }
}

/// A service of `tariff` for `client`, ordered for `period` from `start_date`.
pub fn service(
    name: &str,
    tariff: &str,
    client: &str,
    period: Period,
    start_date: &str,
) -> ServiceBuilder {
    let spec: HostingServiceSpec = spec_of(
        "HostingService",
        json!({"tariffRef": {"name": tariff}, "clientRef": {"name": client},
               "period": period, "startDate": start_date}),
    );
    ServiceBuilder(HostingService::new(name, spec))
}

pub struct ServiceBuilder(HostingService);

impl ServiceBuilder {
    pub fn domain(self, domain: &str) -> Self {
        self.with(|s| s.domain = Some(domain.to_owned()))
    }

    pub fn resource(self, kind: ResourceKind, quantity: u64) -> Self {
        let quantity: ResourceQuantity = spec_of(
            "resource quantity",
            json!({"name": kind, "quantity": quantity}),
        );
        self.with(|s| s.resources.push(quantity))
    }

    /// Where the connection details (login, password, panel link) are written.
    pub fn connection_secret(self, secret: &str) -> Self {
        self.with(|s| s.write_connection_secret_to_ref = Some(reference(secret)))
    }

    pub fn license_ip(self, ip: &str) -> Self {
        self.with(|s| s.license_ip = Some(ip.to_owned()))
    }

    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.0
            .annotations_mut()
            .insert(key.to_owned(), value.to_owned());
        self
    }

    /// A finalizer already on the object (what a controller that stopped mid-way leaves).
    pub fn finalizer(mut self, finalizer: &str) -> Self {
        self.0.finalizers_mut().push(finalizer.to_owned());
        self
    }

    /// Any other field of the spec.
    pub fn with(mut self, change: impl FnOnce(&mut HostingServiceSpec)) -> Self {
        change(&mut self.0.spec);
        self
    }

    pub fn build(self) -> HostingService {
        self.0
    }
}

/// A panel's address and login, as a set's module and credentials Secret carry them.
pub struct Login {
    pub url: String,
    pub username: String,
    pub password: String,
}

impl Login {
    pub fn new(url: String, username: &str, password: &str) -> Self {
        Login {
            url,
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }
}

/// What each set shares: a panel module with its credentials Secret, a tariff on it, and the
/// client `jane`.
pub trait FixtureSet {
    const MODULE: &'static str;
    const SECRET: &'static str;
    const TARIFF: &'static str;
    const CLIENT: &'static str = "jane";

    fn login(&self) -> &Login;

    /// The whole set, with the module and the tariff as given.
    fn with(&self, module: ModuleBuilder, tariff: TariffBuilder) -> Vec<Fixture> {
        let login = self.login();
        vec![
            credentials(Self::SECRET, &login.username, &login.password).into(),
            module.build().into(),
            tariff.build().into(),
            client(Self::CLIENT, "Jane Doe", "jane@example.org").into(),
        ]
    }
}

/// The shared hosting set most tests and the convergence bench start from: the ispmanager
/// module `isp1` at `url` (credentials in `isp-credentials`), the tariff `start` (1m 3.00,
/// 1y 30.00; disk and traffic resources; account template `basic`, usernames `u@ID@`, the
/// module its own name server) and the client `jane`.
pub struct SharedHosting(pub Login);

impl FixtureSet for SharedHosting {
    const MODULE: &'static str = "isp1";
    const SECRET: &'static str = "isp-credentials";
    const TARIFF: &'static str = "start";

    fn login(&self) -> &Login {
        &self.0
    }
}

impl SharedHosting {
    pub fn module(&self) -> ModuleBuilder {
        module(
            Self::MODULE,
            ModuleType::ISPmanager,
            &self.0.url,
            Self::SECRET,
        )
        .limits(8, 500)
    }

    pub fn tariff(&self) -> TariffBuilder {
        tariff(Self::TARIFF, ProductType::SharedHosting, &[Self::MODULE])
            .price(Period::OneMonth, "3.00")
            .price(Period::OneYear, "30.00")
            .resource(ResourceKind::DiskSpace, 1024, 10240, 1024, "0.50")
            .resource(ResourceKind::Traffic, 5, 50, 5, "1.00")
            .hosting("basic", "u@ID@", "@ID@.hosting.example", Some(Self::MODULE))
    }

    /// The whole set as described.
    pub fn fixtures(&self) -> Vec<Fixture> {
        self.with(self.module(), self.tariff())
    }

    /// A yearly service of the set's tariff for its client, from `start_date`.
    pub fn service(name: &str, start_date: &str) -> ServiceBuilder {
        service(
            name,
            Self::TARIFF,
            Self::CLIENT,
            Period::OneYear,
            start_date,
        )
    }
}

/// The software licence set: the licensing module `lic1` at `url` (credentials in
/// `lic-credentials`; a create killed or answered late is sent again after 2 s, not the
/// default 180 s), the tariff `lite` (ISPmanager Lite, pricelist 3541: 1m 4.50, 1y 45.00) and
/// the client `jane`.
pub struct SoftwareLicenses(pub Login);

impl FixtureSet for SoftwareLicenses {
    const MODULE: &'static str = "lic1";
    const SECRET: &'static str = "lic-credentials";
    const TARIFF: &'static str = "lite";

    fn login(&self) -> &Login {
        &self.0
    }
}

impl SoftwareLicenses {
    pub fn module(&self) -> ModuleBuilder {
        module(
            Self::MODULE,
            ModuleType::Licensing,
            &self.0.url,
            Self::SECRET,
        )
        .quiet_seconds(2)
        .limits(8, 500)
    }

    /// A licence tariff of pricelist `license_type` on the set's module.
    pub fn tariff(name: &str, license_type: &str, monthly: &str, yearly: &str) -> TariffBuilder {
        tariff(name, ProductType::SoftwareLicense, &[Self::MODULE])
            .price(Period::OneMonth, monthly)
            .price(Period::OneYear, yearly)
            .license(license_type)
    }

    /// The tariff `lite`: ISPmanager Lite licences.
    pub fn lite(&self) -> TariffBuilder {
        Self::tariff(Self::TARIFF, "3541", "4.50", "45.00")
    }

    /// The whole set as described.
    pub fn fixtures(&self) -> Vec<Fixture> {
        self.with(self.module(), self.lite())
    }

    /// A licence service of the set's tariff for the IP `ip`, ordered for `period` from
    /// `start_date`.
    pub fn service(name: &str, ip: &str, period: Period, start_date: &str) -> ServiceBuilder {
        service(name, Self::TARIFF, Self::CLIENT, period, start_date).license_ip(ip)
    }
}

/// The virtual server set: the VMmanager module `vm` at `url` (credentials in
/// `vm-credentials`; a create answered late is looked up again after 2 s), the tariff `vps`
/// (1 CPU, 1024 MiB, 10 GiB, Debian 12 by default; memory and disk resources; 1m 6.00,
/// 1y 60.00) and the client `jane`.
pub struct VirtualServers(pub Login);

impl FixtureSet for VirtualServers {
    const MODULE: &'static str = "vm";
    const SECRET: &'static str = "vm-credentials";
    const TARIFF: &'static str = "vps";

    fn login(&self) -> &Login {
        &self.0
    }
}

impl VirtualServers {
    /// The module speaking `version`.
    pub fn module(&self, version: VmManagerApiVersion) -> ModuleBuilder {
        module(
            Self::MODULE,
            ModuleType::VMmanager,
            &self.0.url,
            Self::SECRET,
        )
        .quiet_seconds(2)
        .limits(8, 500)
        .vmmanager(version, |_| {})
    }

    pub fn tariff(&self) -> TariffBuilder {
        tariff(Self::TARIFF, ProductType::VirtualServer, &[Self::MODULE])
            .price(Period::OneMonth, "6.00")
            .price(Period::OneYear, "60.00")
            .resource(ResourceKind::Memory, 1024, 8192, 1024, "1.50")
            .resource(ResourceKind::DiskSpace, 10240, 102400, 10240, "1.00")
            .virtual_server(
                1,
                1024,
                10,
                &[
                    "Debian 12",
                    "Ubuntu 22.04",
                    "ISPsystem__Debian-12-amd64",
                    "ISPsystem__Ubuntu-22.04-amd64",
                ],
            )
    }

    /// A yearly server of the set's tariff for its client, from `start_date`.
    pub fn service(name: &str, start_date: &str) -> ServiceBuilder {
        service(
            name,
            Self::TARIFF,
            Self::CLIENT,
            Period::OneYear,
            start_date,
        )
    }
}
