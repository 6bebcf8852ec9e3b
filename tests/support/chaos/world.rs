//! The soak's namespace: one module per product on the simulator process (ispmanager,
//! VMmanager 6, VMmanager 5, the licensing server), two tariffs of each product so that a
//! tariff (or licence type) change has somewhere to go, the client, the LicensePool, and the
//! services, built with the typed fixtures.

use hostplane::api::HostingService;
use hostplane::api::common::{LocalObjectReference, Period};
use hostplane::api::hosting_service::DeletionPolicy;
use hostplane::api::processing_module::VmManagerApiVersion;
use hostplane::pools::naming::LicenseKind;

use crate::fixtures::{
    self, Fixture, FixtureSet, Login, SharedHosting, SoftwareLicenses, VirtualServers,
};

/// The products a service can be, in the order the initial set cycles through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Product {
    Hosting,
    Vps6,
    Vps5,
    License,
}

impl Product {
    pub const ALL: [Product; 4] = [
        Product::Hosting,
        Product::Vps6,
        Product::Vps5,
        Product::License,
    ];

    /// The module its objects are on.
    pub fn module(self) -> &'static str {
        match self {
            Product::Hosting => SharedHosting::MODULE,
            Product::Vps6 => VM6,
            Product::Vps5 => VM5,
            Product::License => SoftwareLicenses::MODULE,
        }
    }

    /// The tariff it is sold on first, and the one a tariff change moves it to.
    pub fn tariffs(self) -> (&'static str, &'static str) {
        match self {
            Product::Hosting => (SharedHosting::TARIFF, "start-plus"),
            Product::Vps6 => ("vps6", "vps6-big"),
            Product::Vps5 => ("vps5", "vps5-big"),
            Product::License => (SoftwareLicenses::TARIFF, "business"),
        }
    }

    /// The kind of licence it may need.
    pub fn license_kind(self) -> Option<LicenseKind> {
        match self {
            Product::Hosting => None,
            Product::Vps6 | Product::Vps5 => Some(LicenseKind::Addon),
            Product::License => Some(LicenseKind::Standalone),
        }
    }
}

pub const VM6: &str = "vm6";
pub const VM5: &str = "vm5";
/// The control-panel option whose servers need an ISPmanager Lite licence.
pub const PANEL: &str = "ispmanager-lite";
pub const NO_PANEL: &str = "nopanel";
pub const POOL: &str = "pool";
/// Every module logs in with this Secret.
pub const CREDENTIALS: &str = "panel-credentials";
/// The VMmanager 5 OS template the servers there get.
const VM5_IMAGE: &str = "ISPsystem__Debian-12-amd64";

/// Modules, tariffs, the client and the pool on the simulator at `base` (its root URL).
pub fn base(base: &str, admin: &str, password: &str) -> Vec<Fixture> {
    let login = |path: &str| Login::new(format!("{base}{path}"), admin, password);
    let hosting = SharedHosting(login("/ispmgr"));
    let licenses = SoftwareLicenses(login("/billmgr"));
    let vm6 = VirtualServers(login(""));
    let vm5 = VirtualServers(login("/vmmgr"));
    let quiet = 5;
    let licensing_ref = || {
        Some(LocalObjectReference {
            name: SoftwareLicenses::MODULE.into(),
        })
    };
    let mut out: Vec<Fixture> = vec![
        fixtures::credentials(CREDENTIALS, admin, password).into(),
        hosting
            .module()
            .with(|m| m.credentials_secret_ref.name = CREDENTIALS.into())
            .quiet_seconds(quiet)
            .build()
            .into(),
        licenses
            .module()
            .with(|m| m.credentials_secret_ref.name = CREDENTIALS.into())
            .quiet_seconds(quiet)
            .build()
            .into(),
    ];
    for (set, product, version, os) in [
        (&vm6, Product::Vps6, VmManagerApiVersion::V6, "Debian 12"),
        (&vm5, Product::Vps5, VmManagerApiVersion::V5, VM5_IMAGE),
    ] {
        let module = product.module();
        out.push(
            fixtures::module(
                module,
                hostplane::api::ModuleType::VMmanager,
                &set.0.url,
                CREDENTIALS,
            )
            .quiet_seconds(quiet)
            .limits(8, 500)
            .vmmanager(version, |v| v.licensing_module_ref = licensing_ref())
            .build()
            .into(),
        );
        let (first, bigger) = product.tariffs();
        for (name, memory) in [(first, 1024), (bigger, 2048)] {
            let mut tariff = set
                .tariff()
                .with(|t| {
                    t.processing_modules = vec![LocalObjectReference {
                        name: module.into(),
                    }];
                    t.resources.clear();
                })
                .with_virtual_server(|v| {
                    v.memory_mib = memory;
                    v.operating_systems = vec![os.into()];
                    v.default_operating_system = Some(os.into());
                })
                .control_panel(PANEL, "3541", "4.00", "40.00")
                .build();
            tariff.metadata.name = Some(name.into());
            out.push(tariff.into());
        }
    }
    out.push(hosting.tariff().build().into());
    let mut plus = hosting.tariff().build();
    plus.metadata.name = Some(Product::Hosting.tariffs().1.into());
    out.push(plus.into());
    out.push(licenses.lite().build().into());
    out.push(
        SoftwareLicenses::tariff(Product::License.tariffs().1, "4601", "9.00", "90.00")
            .build()
            .into(),
    );
    out.push(fixtures::client(SharedHosting::CLIENT, "Jane Doe", "jane@example.org").into());
    out.push(fixtures::license_pool(POOL, SoftwareLicenses::MODULE).into());
    out
}

/// What the soak decides about a service when it creates it.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub name: String,
    pub product: Product,
    /// Servers: with a control-panel licence from the start.
    pub panel: bool,
    pub period: Period,
    pub orphan: bool,
    /// Writes a connection Secret `<name>-login` (whose password the log check looks for).
    pub secret: bool,
    /// The licence IP of a licence service.
    pub ip: Option<String>,
}

/// The HostingService for `spec`, ordered `today`.
pub fn service(spec: &ServiceSpec, today: &str) -> HostingService {
    let (tariff, _) = spec.product.tariffs();
    let mut builder = fixtures::service(
        &spec.name,
        tariff,
        SharedHosting::CLIENT,
        spec.period,
        today,
    );
    match spec.product {
        Product::Hosting => {}
        Product::Vps6 | Product::Vps5 => {
            let panel = if spec.panel { PANEL } else { NO_PANEL };
            builder = builder.with(|s| s.control_panel = Some(panel.into()));
        }
        Product::License => {
            builder = builder.license_ip(spec.ip.as_deref().expect("a licence IP"));
        }
    }
    if spec.orphan {
        builder = builder.with(|s| s.deletion_policy = DeletionPolicy::Orphan);
    }
    if spec.secret {
        builder = builder.connection_secret(&format!("{}-login", spec.name));
    }
    builder.build()
}

/// A licence IP no other service of the run has: 10.x.y.z from the service's number.
pub fn license_ip(number: usize) -> String {
    let n = number + 1;
    format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}
