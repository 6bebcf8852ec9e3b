//! What a virtual server should be, from the service's spec and its tariff: the server's
//! shape (OS, CPU, RAM, disk, addresses, recipe) and the control-panel license it needs.
//! Pure: no panel, no API server.

use super::Refs;
use crate::api::HostingService;
use crate::api::tariff::ResourceKind;
use crate::pools::server_pool::ServerShape;

/// The control-panel license the service's server needs (seed 001): the service's
/// `controlPanel`, else the addon's default, mapped through the tariff's control-panel
/// enumeration to its license type (the licensing server's pricelist id). `None` when the
/// tariff has no addon, the choice is unknown, or the option is `nopanel`.
pub fn license_need(refs: &Refs, service: &HostingService) -> Option<(String,)> {
    license_type_for(&refs.tariff.spec, &service.spec).map(|t| (t,))
}

/// [`license_need`] on the specs alone.
pub fn license_type_for(
    tariff: &crate::api::TariffSpec,
    service: &crate::api::HostingServiceSpec,
) -> Option<String> {
    let option = control_panel_option(tariff, service)?;
    (option.license_type != "nopanel").then(|| option.license_type.clone())
}

/// The control-panel option of the tariff the service has: its `controlPanel`, else the
/// addon's default; `None` when the tariff has no addon or the choice is not one of its
/// options.
pub fn control_panel_option<'t>(
    tariff: &'t crate::api::TariffSpec,
    service: &crate::api::HostingServiceSpec,
) -> Option<&'t crate::api::tariff::ControlPanelOption> {
    let addon = tariff
        .virtual_server
        .as_ref()?
        .control_panel_license
        .as_ref()?;
    let chosen = service.control_panel.as_deref().unwrap_or(&addon.default);
    addon.options.iter().find(|o| o.name == chosen)
}

/// The server a service asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredServer {
    /// The OS: the service's choice or the tariff's default.
    pub operating_system: String,
    pub cpu_cores: u32,
    pub memory_mib: u32,
    pub disk_gib: u32,
    pub ipv4_addresses: u32,
    /// The tariff's recipe, when the module uses recipes.
    pub recipe: Option<String>,
    /// VMmanager 5 preset.
    pub preset: Option<String>,
    pub domain: Option<String>,
}

impl DesiredServer {
    /// The pool shape of this server (seed 004 matching).
    pub fn shape(&self) -> ServerShape<'_> {
        ServerShape {
            operating_system: &self.operating_system,
            cpu_cores: self.cpu_cores,
            memory_mib: self.memory_mib,
            disk_gib: self.disk_gib,
            recipe: self.recipe.as_deref(),
        }
    }
}

/// The server of a service from its tariff's `virtualServer` block and its resources: a
/// quantity the service declares, else the tariff resource's included amount, else the
/// block's value. Disk resources are MiB and round up to whole GiB.
pub fn desired_server(
    service: &crate::api::HostingServiceSpec,
    tariff: &crate::api::TariffSpec,
    use_recipes: bool,
) -> Result<DesiredServer, String> {
    let vs = tariff
        .virtual_server
        .as_ref()
        .ok_or("the tariff has no virtualServer block")?;
    let amount = |kind: ResourceKind| -> Option<u64> {
        service
            .resources
            .iter()
            .find(|r| r.name == kind)
            .map(|r| r.quantity)
            .or_else(|| {
                tariff
                    .resources
                    .iter()
                    .find(|r| r.name == kind)
                    .map(|r| r.included)
            })
    };
    let small =
        |v: u64, what: &str| u32::try_from(v).map_err(|_| format!("{what} {v} is too large"));
    let cpu_cores = match amount(ResourceKind::CpuCores) {
        Some(v) => small(v, "cpuCores")?,
        None => vs.cpu_cores,
    };
    let memory_mib = match amount(ResourceKind::Memory) {
        Some(v) => small(v, "memory")?,
        None => vs.memory_mib,
    };
    let disk_gib = match amount(ResourceKind::DiskSpace) {
        Some(v) => small(v.div_ceil(1024), "diskSpace")?,
        None => vs.disk_gib,
    };
    let ipv4_addresses = match amount(ResourceKind::Ipv4Addresses) {
        Some(v) => small(v, "ipv4Addresses")?,
        None => vs.ipv4_addresses,
    };
    let operating_system = service
        .operating_system
        .clone()
        .or_else(|| vs.default_operating_system.clone())
        .or_else(|| vs.operating_systems.first().cloned())
        .ok_or("the tariff lists no operating system")?;
    if cpu_cores == 0 || memory_mib == 0 || disk_gib == 0 {
        return Err("CPU cores, memory and disk must be above zero".into());
    }
    Ok(DesiredServer {
        operating_system,
        cpu_cores,
        memory_mib,
        disk_gib,
        ipv4_addresses,
        recipe: vs.recipe.clone().filter(|_| use_recipes),
        preset: vs.preset.clone(),
        domain: service.domain.clone(),
    })
}

/// The host name of a service when nothing is recorded yet: `<namespace>-<name>-<tag>`, at
/// most 63 characters. The tag (6 hex digits of a stable hash of `namespace/name`) keeps
/// names unique across namespaces, where `a-b`/`c` and `a`/`b-c` would otherwise both be
/// `a-b-c`; it is FNV-1a, fixed by its definition, so a toolchain upgrade never renames hosts.
pub fn default_host_name(namespace: &str, name: &str) -> String {
    let tag = fnv1a(format!("{namespace}/{name}").as_bytes()) & 0xff_ffff;
    let mut base = format!("{namespace}-{name}");
    base.truncate(63 - 7);
    format!("{}-{tag:06x}", base.trim_end_matches('-'))
}

/// 32-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::hosting_service::ResourceQuantity;

    fn tariff() -> crate::api::TariffSpec {
        let yaml = r#"
productType: VirtualServer
processingModules: [{name: vm}]
prices: {1m: "5.00"}
resources:
  - {name: memory, included: 2048, min: 1024, max: 8192, step: 1024, monthlyPrice: "1.00"}
virtualServer:
  cpuCores: 1
  memoryMiB: 1024
  diskGiB: 10
  operatingSystems: [Ubuntu 22.04, Debian 12]
  defaultOperatingSystem: Debian 12
  recipe: Docker CE
  controlPanelLicense:
    default: none
    options:
      - {name: none, licenseType: nopanel}
      - {name: ispmanager-lite, licenseType: "3541"}
"#;
        serde_saphyr::from_str(yaml).expect("a tariff")
    }

    fn service(extra: &str) -> crate::api::HostingServiceSpec {
        let yaml = format!(
            "tariffRef: {{name: t}}\nclientRef: {{name: c}}\nperiod: 1m\nstartDate: \"2026-01-01\"\n{extra}"
        );
        serde_saphyr::from_str(&yaml).expect("a service")
    }

    #[test]
    fn the_server_comes_from_the_tariff_and_the_services_resources() {
        let t = tariff();
        let d = desired_server(&service(""), &t, false).unwrap();
        assert_eq!(d.operating_system, "Debian 12");
        assert_eq!((d.cpu_cores, d.memory_mib, d.disk_gib), (1, 2048, 10));
        assert_eq!(d.recipe, None);
        let mut s = service("operatingSystem: Ubuntu 22.04");
        s.resources.push(ResourceQuantity {
            name: ResourceKind::DiskSpace,
            quantity: 20_000,
        });
        s.resources.push(ResourceQuantity {
            name: ResourceKind::Memory,
            quantity: 4096,
        });
        let d = desired_server(&s, &t, true).unwrap();
        assert_eq!(d.operating_system, "Ubuntu 22.04");
        assert_eq!((d.memory_mib, d.disk_gib), (4096, 20));
        assert_eq!(d.recipe.as_deref(), Some("Docker CE"));
    }

    #[test]
    fn the_chosen_panel_maps_to_its_license_type() {
        let t = tariff();
        assert_eq!(
            license_type_for(&t, &service("")),
            None,
            "default is nopanel"
        );
        assert_eq!(
            license_type_for(&t, &service("controlPanel: ispmanager-lite")).as_deref(),
            Some("3541")
        );
        assert_eq!(license_type_for(&t, &service("controlPanel: other")), None);
    }

    #[test]
    fn host_names_are_bounded() {
        let name = default_host_name("prod", "vps1");
        assert!(name.starts_with("prod-vps1-") && name.len() == "prod-vps1-".len() + 6);
        assert_eq!(name, default_host_name("prod", "vps1"), "stable");
        assert!(default_host_name(&"n".repeat(40), &"s".repeat(40)).len() <= 63);
        assert_ne!(
            default_host_name("a-b", "c"),
            default_host_name("a", "b-c"),
            "unique across namespaces"
        );
        // FNV-1a's published test vector: the tag never changes with the toolchain.
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
    }
}
