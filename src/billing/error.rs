//! Why something cannot be priced or done. Messages are plain sentences: they reach `status`
//! conditions and the `quote` command's output as they are.

use crate::api::common::{Date, Period};
use crate::api::tariff::ResourceKind;

/// A billing rule that a spec, a tariff or a requested action breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    #[error("the tariff does not sell {period}: it has no price for it or disables it")]
    PeriodNotOrderable { period: Period },
    #[error(
        "the tariff ended on {end} (policies.endDate): nothing can be ordered or renewed on {on}"
    )]
    TariffEnded { end: Date, on: Date },
    #[error(
        "{period} is shorter than the tariff's minimum order period of {length} {unit} (policies.minimumOrderPeriod)"
    )]
    BelowMinimumOrderPeriod {
        period: Period,
        length: u32,
        unit: &'static str,
    },
    #[error("renewals[{index}] is paid on {paid_on}, before the service starts on {start}")]
    RenewalBeforeStart {
        index: usize,
        paid_on: Date,
        start: Date,
    },
    #[error(
        "renewals[{index}] is paid on {paid_on}, before the previous renewal ({previous}): list renewals in date order"
    )]
    RenewalsOutOfOrder {
        index: usize,
        paid_on: Date,
        previous: Date,
    },
    #[error("the tariff has no resource {}", .name.as_str())]
    UnknownResource { name: ResourceKind },
    #[error("control panel {name:?} is not an option of the tariff's controlPanelLicense")]
    UnknownControlPanel { name: String },
    #[error("control panel {name:?} has prices, but none for {period}")]
    ControlPanelNotPriced { name: String, period: Period },
    #[error("the tariff does not allow changing to another tariff (policies.tariffChange)")]
    TariffChangeForbidden,
    #[error("the service is not paid on {on} (paid from {start} until {paid_until})")]
    NotPaidOn {
        on: Date,
        start: Date,
        paid_until: Date,
    },
    #[error("the quantity of {} can only grow when ordering an addon ({from} → {to})", .name.as_str())]
    AddonNotAnIncrease {
        name: ResourceKind,
        from: u64,
        to: u64,
    },
    #[error("the quantity of {} can only shrink when cancelling an addon ({from} → {to})", .name.as_str())]
    AddonNotADecrease {
        name: ResourceKind,
        from: u64,
        to: u64,
    },
    #[error("tariff {name:?} is not known")]
    UnknownTariff { name: String },
    #[error("the tariffs bill in different currencies ({from} and {to}): the change is refused")]
    CurrencyMismatch { from: String, to: String },
    #[error("the date is outside the supported calendar (year 9999 at the latest)")]
    DateOutOfRange,
}
