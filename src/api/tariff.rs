//! `Tariff`: what is sold, for how much, on which modules, under which policies (seed 002),
//! plus the product blocks: hosting (ispmanager), virtual server (VMmanager) and license.

use garde::Validate;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CommonStatus, Date, LocalObjectReference, Money, Period};
use super::patterns::{
    CURRENCY_RE, DOMAIN_TEMPLATE_RE, GROUP_RE, LICENSE_TYPE_RE, NAME_RE, PRICELIST_RE,
    USERNAME_TEMPLATE_RE,
};

/// A tariff plan: prices, charging, resources, policies and how its services are provisioned.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[kube(
    group = "hostplane.dev",
    version = "v1alpha1",
    kind = "Tariff",
    namespaced,
    status = "TariffStatus",
    shortname = "tariff",
    category = "hosting",
    derive = "PartialEq",
    doc = "A tariff plan: prices per period, charging mode, resources and policies (seed 002), and the hosting, virtual server or license block that says how its services are provisioned.",
    printcolumn(name = "Product", type_ = "string", json_path = ".spec.productType"),
    printcolumn(name = "Currency", type_ = "string", json_path = ".spec.currency"),
    printcolumn(name = "Monthly", type_ = "string", json_path = ".spec.prices.1m"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(name = "Services", type_ = "integer", json_path = ".status.services"),
    printcolumn(
        name = "Updated",
        type_ = "integer",
        json_path = ".status.servicesUpdated",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct TariffSpec {
    /// What the tariff sells; decides which block (`hosting`, `virtualServer`, `license`) is
    /// required and which processing module type serves it.
    pub product_type: ProductType,
    /// The name customers see; `metadata.name` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(min = 1, max = 128)))]
    pub display_name: Option<String>,
    /// Processing modules that may host this tariff's services, tried by their priority, then
    /// least loaded first. Each must be of the type the product needs (SharedHosting:
    /// ISPmanager, VirtualServer: VMmanager, SoftwareLicense: Licensing).
    #[garde(length(min = 1, max = 32), dive)]
    pub processing_modules: Vec<LocalObjectReference>,
    /// Currency of every amount in this tariff (ISO 4217).
    #[serde(default = "default_currency")]
    #[garde(pattern(CURRENCY_RE))]
    pub currency: String,
    /// The provider's time zone for this tariff's billing days (an IANA name such as
    /// `Europe/Berlin`); UTC when unset. "Today", expiry and suspension days, the weekend rule
    /// and calendar months are civil dates in it, each beginning at its local midnight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(min = 1, max = 64)))]
    pub time_zone: Option<String>,
    /// Order prices per period. A period is orderable when it has a price and is not disabled;
    /// at least one must be (seed 002: "you must set a price for at least one payment period").
    #[garde(dive)]
    pub prices: PeriodPrices,
    /// Periods that cannot be ordered even though they have a price ("Disable the Monthly period").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(length(max = 5))]
    pub disabled_periods: Vec<Period>,
    /// One-off charge on the first order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_fee: Option<Money>,
    /// "Renewal with special price": renewal prices per period; a period without one renews
    /// at its order price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub renewal_prices: Option<PeriodPrices>,
    /// How the service is charged: per period, daily, or calendar-aligned with a pro-rata day.
    #[serde(default)]
    #[garde(dive)]
    pub charging: Charging,
    /// Resources (addons) with their included amount, bounds, step and price.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(length(max = 32), dive)]
    pub resources: Vec<Resource>,
    /// Order, renewal, suspension and change policies (seed 002, "Policy").
    #[serde(default)]
    #[garde(dive)]
    pub policies: Policies,
    /// Required for `SharedHosting`: how ispmanager accounts are made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub hosting: Option<HostingSettings>,
    /// Required for `VirtualServer`: the server configuration and control-panel license addon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub virtual_server: Option<VirtualServerSettings>,
    /// Required for `SoftwareLicense`: the license bought at the licensing server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub license: Option<LicenseSettings>,
}

fn default_currency() -> String {
    "USD".to_owned()
}

/// The three products of the ISPsystem world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ProductType {
    /// An ispmanager user account (seed 002).
    SharedHosting,
    /// A VMmanager virtual server (seed 004), optionally with a control-panel license (seed 001).
    VirtualServer,
    /// A standalone ISPsystem software license for an IP address (seed 003).
    SoftwareLicense,
}

/// A price for each period; unset means "not sold for this period".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct PeriodPrices {
    /// Price for one month.
    #[serde(rename = "1m", default, skip_serializing_if = "Option::is_none")]
    pub one_month: Option<Money>,
    /// Price for three months.
    #[serde(rename = "3m", default, skip_serializing_if = "Option::is_none")]
    pub three_months: Option<Money>,
    /// Price for six months.
    #[serde(rename = "6m", default, skip_serializing_if = "Option::is_none")]
    pub six_months: Option<Money>,
    /// Price for one year.
    #[serde(rename = "1y", default, skip_serializing_if = "Option::is_none")]
    pub one_year: Option<Money>,
    /// Price for three years.
    #[serde(rename = "3y", default, skip_serializing_if = "Option::is_none")]
    pub three_years: Option<Money>,
}

impl PeriodPrices {
    /// The price for `period`, if one is set.
    pub fn get(&self, period: Period) -> Option<Money> {
        match period {
            Period::OneMonth => self.one_month,
            Period::ThreeMonths => self.three_months,
            Period::SixMonths => self.six_months,
            Period::OneYear => self.one_year,
            Period::ThreeYears => self.three_years,
        }
    }
}

/// How services of the tariff are charged (seed 002, "Charge daily" and "Calendar-based charges").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct Charging {
    /// `PerPeriod`: the paid period starts on the order day; `Daily`: charged every day;
    /// `Calendar`: aligned to the 1st of the month with a pro-rata day.
    #[serde(default)]
    pub mode: ChargingMode,
    /// Calendar mode only: ordered before this day of the month, the first term ends on the
    /// 1st of next month; on or after it, on the 1st of the month after (seed 002 example:
    /// day 15, ordered July 12 → August 1, July 17 → September 1). 15 when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(range(min = 1, max = 28)))]
    pub pro_rata_day: Option<u8>,
    /// Daily mode only: "Calculate daily cost depending on order period". The daily rate is
    /// always the period price divided by 30 days per month; with this option a month is billed
    /// as 30 days (a month costs its price: $0.1 a day → $3), without it the calendar's days
    /// are billed (31 days of January → $3.1).
    #[serde(default)]
    pub daily_cost_from_order_period: bool,
    /// Daily mode only: clients may suspend and resume their services themselves.
    #[serde(default)]
    pub client_may_suspend: bool,
    /// Daily mode only, with `clientMaySuspend`: keep charging while suspended ("Charge client
    /// after suspension"); otherwise downtime is refunded.
    #[serde(default)]
    pub charge_while_suspended: bool,
}

/// Charging modes of seed 002.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ChargingMode {
    /// Charged per ordered period from the order day (June 5 + 3 months → September 5).
    #[default]
    PerPeriod,
    /// Charged every day.
    Daily,
    /// Aligned to calendar months, with a pro-rata day.
    Calendar,
}

/// A resource (addon) of the tariff: how much is included and what more costs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct Resource {
    /// Which resource; decides the panel limit it sets (e.g. `diskSpace` → ispmanager
    /// `limit_quota`). Each may appear once.
    pub name: ResourceKind,
    /// Amount included in the tariff price; also a service's amount when it declares none.
    #[garde(range(max = 1_000_000_000))]
    pub included: u64,
    /// Smallest amount a service may have.
    #[serde(default)]
    #[garde(range(max = 1_000_000_000))]
    pub min: u64,
    /// Largest amount a service may have.
    #[garde(range(max = 1_000_000_000))]
    pub max: u64,
    /// Amounts go from `min` in steps of this size.
    #[serde(default = "default_step")]
    #[garde(range(min = 1, max = 1_000_000_000))]
    pub step: u64,
    /// Price of one step above `included`, per month; longer periods multiply it.
    #[serde(default)]
    pub monthly_price: Money,
}

fn default_step() -> u64 {
    1
}

/// Resource kinds. Units are fixed so that manifests stay comparable: disk and memory in MiB,
/// traffic in GiB.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum ResourceKind {
    /// Disk space, MiB (ispmanager `limit_quota`; VPS disk).
    #[serde(rename = "diskSpace")]
    DiskSpace,
    /// Monthly traffic, GiB (ispmanager `limit_traff`, sent in MiB).
    #[serde(rename = "traffic")]
    Traffic,
    /// Web domains (sites) (`limit_webdomains`).
    #[serde(rename = "webDomains")]
    WebDomains,
    /// DNS domains (`limit_domains`).
    #[serde(rename = "domains")]
    Domains,
    /// Mail domains (`limit_emaildomains`).
    #[serde(rename = "emailDomains")]
    EmailDomains,
    /// Mailboxes (`limit_emails`).
    #[serde(rename = "mailboxes")]
    Mailboxes,
    /// Databases (`limit_db`).
    #[serde(rename = "databases")]
    Databases,
    /// Maximum CPU load, percent of a core (CloudLinux; `limit_cpu`).
    #[serde(rename = "cpuLoad")]
    CpuLoad,
    /// CPU time (`limit_process` family; "CPU time" in seed 002).
    #[serde(rename = "cpuTime")]
    CpuTime,
    /// Memory, MiB (`limit_memory`; VPS RAM).
    #[serde(rename = "memory")]
    Memory,
    /// Public IPv4 addresses.
    #[serde(rename = "ipv4Addresses")]
    Ipv4Addresses,
    /// IPv6 addresses.
    #[serde(rename = "ipv6Addresses")]
    Ipv6Addresses,
    /// VPS CPU cores.
    #[serde(rename = "cpuCores")]
    CpuCores,
    /// Extra nodes or servers of a license (seed 000 "additional servers"; `addon_<id>`).
    #[serde(rename = "licenseNodes")]
    LicenseNodes,
}

impl ResourceKind {
    /// The spelling used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::DiskSpace => "diskSpace",
            ResourceKind::Traffic => "traffic",
            ResourceKind::WebDomains => "webDomains",
            ResourceKind::Domains => "domains",
            ResourceKind::EmailDomains => "emailDomains",
            ResourceKind::Mailboxes => "mailboxes",
            ResourceKind::Databases => "databases",
            ResourceKind::CpuLoad => "cpuLoad",
            ResourceKind::CpuTime => "cpuTime",
            ResourceKind::Memory => "memory",
            ResourceKind::Ipv4Addresses => "ipv4Addresses",
            ResourceKind::Ipv6Addresses => "ipv6Addresses",
            ResourceKind::CpuCores => "cpuCores",
            ResourceKind::LicenseNodes => "licenseNodes",
        }
    }

    /// Whether a tariff of `product` may sell this resource.
    pub fn applies_to(self, product: ProductType) -> bool {
        use ResourceKind::*;
        match product {
            ProductType::SharedHosting => !matches!(self, CpuCores | LicenseNodes),
            ProductType::VirtualServer => {
                matches!(
                    self,
                    DiskSpace | Memory | CpuCores | Traffic | Ipv4Addresses | Ipv6Addresses
                )
            }
            ProductType::SoftwareLicense => matches!(self, LicenseNodes),
        }
    }
}

/// Order, renewal and change policies (seed 002, "Policy").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct Policies {
    /// Only clients in one of these groups may order or change to this tariff ("Allow for
    /// client groups"). Empty: everyone not forbidden.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(length(max = 64), inner(length(min = 1, max = 63), pattern(GROUP_RE)))]
    pub allowed_client_groups: Vec<String>,
    /// Clients in any of these groups may not order or change to this tariff.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(length(max = 64), inner(length(min = 1, max = 63), pattern(GROUP_RE)))]
    pub forbidden_client_groups: Vec<String>,
    /// The shortest time a service must be kept after ordering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub minimum_order_period: Option<MinimumOrderPeriod>,
    /// Services of this tariff one client may have ("Number of services available for order").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(range(min = 1, max = 100_000)))]
    pub services_per_client: Option<u32>,
    /// Client groups for which `servicesPerClient` does not apply (the client group option
    /// "Ignore the number of services on client's account").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(length(max = 64), inner(length(min = 1, max = 63), pattern(GROUP_RE)))]
    pub services_per_client_exempt_groups: Vec<String>,
    /// "Simultaneous services order": how many new services of one client are provisioned at
    /// once; the rest wait their turn. Unset: one at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(range(min = 1, max = 1000)))]
    pub max_services_per_order: Option<u32>,
    /// Penalty for renewing after expiry.
    #[serde(default)]
    #[garde(dive)]
    pub late_renewal_fee: LateRenewalFee,
    /// Days after expiry at which an unrenewed service is terminated at the panel. Unset: the
    /// product type's period (`hostplane controller --auto-deletion-days SharedHosting=30`),
    /// else never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(range(min = 1, max = 3650)))]
    pub auto_deletion_days: Option<u32>,
    /// Whether expired services are suspended on Saturdays and Sundays.
    #[serde(default)]
    pub weekend_suspension: WeekendSuspension,
    /// How a change of a service to another tariff is billed.
    #[serde(default)]
    #[garde(dive)]
    pub tariff_change: TariffChange,
    /// How resources added during a paid period are priced.
    #[serde(default)]
    pub additional_resources_order: AdditionalResourcesOrder,
    /// What happens to the money for resources removed during a paid period.
    #[serde(default)]
    pub addon_cancellation: AddonCancellation,
    /// After this date the tariff can be neither ordered nor renewed ("Tariff plan end date").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<Date>,
    /// Notes for staff; never shown to clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(max = 4096)))]
    pub notes: Option<String>,
}

/// The minimum order period ("Minimum period length" in days or months).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct MinimumOrderPeriod {
    /// How many units.
    #[garde(range(min = 1, max = 3650))]
    pub length: u32,
    /// Days or months.
    pub unit: DurationUnit,
}

/// A unit of calendar time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DurationUnit {
    Days,
    Months,
}

/// The late renewal fee of seed 002.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct LateRenewalFee {
    /// `None`, `Fixed` (add `amount`), `Percent` (add `percent` of the daily cost of the
    /// overdue days) or `RenewFromSuspensionDate` (the new term starts at the old expiry).
    #[serde(rename = "type", default)]
    pub type_: LateFeeType,
    /// `Fixed` only: the amount added to the renewal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    /// `Percent` only: whole percent of the overdue days' cost (seed example: 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(range(min = 1, max = 1000)))]
    pub percent: Option<u32>,
}

/// Kinds of late renewal fee.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum LateFeeType {
    /// "Without fee".
    #[default]
    None,
    /// "Fixed amount".
    Fixed,
    /// "Percent from the price for late renewal".
    Percent,
    /// "Renew from suspension date": expired Aug 3, renewed Aug 15 → active until Sep 3.
    RenewFromSuspensionDate,
}

/// "Suspend service on weekends".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum WeekendSuspension {
    /// Use the product type's setting (hostplane's default: suspend).
    #[default]
    ProductTypeDefault,
    /// Suspend expired services on weekends too.
    Suspend,
    /// Do not suspend on Saturday and Sunday; the days are charged at renewal.
    DoNotSuspend,
}

/// The tariff change policy of seed 002.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct TariffChange {
    /// How a change away from this tariff is billed.
    #[serde(default)]
    pub policy: TariffChangePolicy,
    /// `FullPayment` only: the new term starts on the change date or on the current expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_from: Option<RenewFrom>,
}

/// Tariff change policies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TariffChangePolicy {
    /// "Change period": the remaining value is kept and the expiry moves.
    #[default]
    ChangePeriod,
    /// "Add funds/refund": pay or get back the difference for the remaining term.
    AddFundsOrRefund,
    /// "Tariff cannot be changed".
    Forbidden,
    /// "Extra charge only, no refund upon downgrade".
    ChargeOnly,
    /// "Full payment for a new tariff plan".
    FullPayment,
}

/// Where a fully paid new term starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RenewFrom {
    /// From the change date.
    CurrentDate,
    /// From the service's current expiry.
    ExpirationDate,
}

/// "Additional resources order policy".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AdditionalResourcesOrder {
    /// Charged from the order day to the service's expiry (ordered Nov 15, valid to Nov 30:
    /// 15 days).
    #[default]
    UntilExpiration,
    /// Charged for the whole last paid period, whatever is left of it.
    FullPeriod,
}

/// "Addon cancellation policy".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AddonCancellation {
    /// Refund the unused part of the paid term.
    #[default]
    RefundRemaining,
    /// Remove without compensation.
    NoRefund,
}

/// How ispmanager accounts of the tariff are made (seed 002, "Additional settings").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct HostingSettings {
    /// The ispmanager account template (preset) new users are created from.
    #[garde(length(min = 1, max = 64))]
    pub account_template: String,
    /// Username template, at most 16 characters once expanded. Macros: `@ID@` (the service
    /// name without '-' and '.'), `@USERNAME@` (the client's name likewise), `@ACCOUNT_ID@`
    /// (the client's `accountId`), `@DOMAIN@` (the first label of the service's domain).
    #[serde(default = "default_username_template")]
    #[garde(length(min = 1, max = 64), pattern(USERNAME_TEMPLATE_RE))]
    pub username_template: String,
    /// Domain used when a service declares none. Macros: `@USERNAME@` (the client's name),
    /// `@TYPE@` (`hosting`), `@ID@` (the service name without '-' and '.').
    #[serde(default = "default_domain_template")]
    #[garde(length(min = 3, max = 253), pattern(DOMAIN_TEMPLATE_RE))]
    pub default_domain_template: String,
    /// The name server (an ISPmanager processing module) on which the services' DNS domains
    /// are created; no DNS domain is made when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub name_server: Option<NameServer>,
}

fn default_username_template() -> String {
    "user@ID@".to_owned()
}
fn default_domain_template() -> String {
    "@USERNAME@.example.com".to_owned()
}

/// A name server for the tariff's domains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct NameServer {
    /// The ISPmanager processing module that serves DNS.
    #[garde(dive)]
    pub processing_module_ref: LocalObjectReference,
    /// The server hosts a free zone: generated third-level domains point at the service's IP.
    #[serde(default)]
    pub free_domains: bool,
}

/// The virtual server configuration of a VPS tariff (seed 004).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct VirtualServerSettings {
    /// Virtual CPU cores.
    #[garde(range(min = 1, max = 256))]
    pub cpu_cores: u32,
    /// Memory, MiB.
    #[serde(rename = "memoryMiB")]
    #[garde(rename("memoryMiB"), range(min = 256, max = 4_194_304))]
    pub memory_mib: u32,
    /// Disk, GiB.
    #[serde(rename = "diskGiB")]
    #[garde(rename("diskGiB"), range(min = 1, max = 65_536))]
    pub disk_gib: u32,
    /// Public IPv4 addresses per server.
    #[serde(default = "default_ipv4")]
    #[garde(range(max = 64))]
    pub ipv4_addresses: u32,
    /// Operating systems a service may choose (VMmanager 5 image ids such as
    /// `ISPsystem__Ubuntu-22.04-amd64`, or VMmanager 6 OS names).
    #[garde(length(min = 1, max = 64), inner(length(min = 1, max = 128)))]
    pub operating_systems: Vec<String>,
    /// The OS used when a service chooses none; the first of `operatingSystems` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(min = 1, max = 128)))]
    pub default_operating_system: Option<String>,
    /// A recipe run after installation (used when the module has `useRecipes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(min = 1, max = 128)))]
    pub recipe: Option<String>,
    /// VMmanager 5 preset id, when servers are made from a preset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(min = 1, max = 64)))]
    pub preset: Option<String>,
    /// The "Control panel license" addon (seed 001): the panels a client may choose, each
    /// mapped to a license type ordered for the server's IP while the OS installs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub control_panel_license: Option<ControlPanelLicense>,
}

fn default_ipv4() -> u32 {
    1
}

/// The control-panel license addon enumeration (seed 001).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct ControlPanelLicense {
    /// The option a service gets when it chooses none ("Server control panel" default).
    #[garde(length(min = 1, max = 63), pattern(NAME_RE))]
    pub default: String,
    /// The enumeration values.
    #[garde(length(min = 1, max = 32), dive)]
    pub options: Vec<ControlPanelOption>,
}

/// One value of the control-panel enumeration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct ControlPanelOption {
    /// The value a service names in `spec.controlPanel`, e.g. `ispmanager-lite`.
    #[garde(length(min = 1, max = 63), pattern(NAME_RE))]
    pub name: String,
    /// The enumeration's internal name: the licensing server's pricelist id (e.g. 3541
    /// ISPmanager Lite, 4601 Business), or `nopanel` for "Without control panel".
    #[garde(pattern(LICENSE_TYPE_RE))]
    pub license_type: String,
    /// What customers see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(length(min = 1, max = 128)))]
    pub display_name: Option<String>,
    /// Price of the license per service period, added to the service price.
    #[serde(default)]
    #[garde(dive)]
    pub prices: PeriodPrices,
}

/// The license sold by a `SoftwareLicense` tariff (seed 003).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct LicenseSettings {
    /// The licensing server's pricelist id (e.g. 55227 ispmanager 6 lite).
    #[garde(pattern(PRICELIST_RE))]
    pub license_type: String,
    /// The licensing server's addon id for extra nodes (`addon_<id>`), sold through the
    /// `licenseNodes` resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(pattern(PRICELIST_RE)))]
    pub nodes_addon_id: Option<String>,
}

/// What the controller reports about a tariff.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TariffStatus {
    /// Conditions, observed generation, last error.
    #[serde(flatten)]
    pub common: CommonStatus,
    /// Periods that can be ordered (priced and not disabled).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orderable_periods: Vec<Period>,
    /// Services on this tariff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<u32>,
    /// Services already reconciled against the tariff's current generation (a tariff edit
    /// fans out to its services; this counts the progress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services_updated: Option<u32>,
}
