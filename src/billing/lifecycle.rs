//! The life of a service over time (seed 002): may it be ordered at all ([`admission`]), is it
//! active, suspended or terminated on a given day ([`standing`]), and on which day must the
//! controller look again ([`next_timer`]).
//!
//! Pure like the rest of [`super`]: no I/O, no clock. The HostingService reconciler passes
//! "today" (in the provider's time zone) and gets the same answer for the same spec, tariff,
//! client and day, so a restart or a re-applied manifest can never suspend, resume or delete
//! differently.
//!
//! # Day rules, stated once
//!
//! Dates are civil dates in the provider's time zone. Every event happens at the **start** of
//! its day, and a standing holds for whole days.
//!
//! * **Expiry.** `paidUntil` is the first unpaid day (the module rules of [`super`]): the
//!   service expires at the end of its last paid day and is **suspended on its `paidUntil`
//!   day**. Paid until September 1 means suspended on September 1; seed 002 counts September 1
//!   as the first overdue day of its late-fee example, so the service was not paid for it.
//! * **Weekend rule** (`policies.weekendSuspension`). Seed 002: with "Do not suspend services",
//!   services "will not be suspended on weekends (Saturday, Sunday) if client does not have a
//!   sufficient account balance to renew them". So a suspension *for non-payment* that would
//!   fall on a Saturday or a Sunday happens on the following Monday; a service expiring on a
//!   Friday is suspended on Friday. The weekend days are served but not paid: "if there is a
//!   penalty for renewing a suspended service, funds for the additional days of service will be
//!   debited" at renewal, which is what [`super::late_fee`] already does (overdue days count
//!   from the expiry day, and "renew from suspension date" continues the term from the expiry).
//!   `ProductTypeDefault` is hostplane's product-type setting, which suspends. Requested and
//!   client suspensions are not about the balance and never move.
//! * **Client groups do not exempt from suspension.** Seed 002's group options are "allow
//!   service suspension/activation" (a client's right to suspend their own services), "allow
//!   service deletion" and "ignore the number of services"; none keeps an unpaid service
//!   running, so the client is consulted only for its own suspension.
//! * **Auto-deletion** (`policies.autoDeletionDays: N`). Seed 002 deletes "unrenewed" services
//!   and, without a period, "expired services will not be deleted"; the API field counts "days
//!   after expiry". The service is terminated on **expiry + N days**, but never before the day
//!   after its suspension (the weekend rule can push the suspension past expiry + 1): an account
//!   is never deleted while it still runs, nor without a suspended day in which the client can
//!   notice. Unset: the product type's period ([`super::policy::ProductDefaults`], applied by
//!   the caller), else never terminated.
//! * **Renewals count from the day they are paid.** The standing on day `d` counts the
//!   renewals paid on or before `d`; a renewal dated later is *pending* until its day. Counting
//!   it early would make the unpaid days before a late "renew from suspension date" renewal look
//!   paid.
//! * **A renewal paid before the deletion day resumes the service** on its payment day, when the
//!   renewed term pays for that day. Every late fee type but "renew from suspension date"
//!   restarts the term on the payment day, so it always does; under "renew from suspension
//!   date" the term continues from the old expiry (expired Aug 3, renewed Aug 15 → active until
//!   Sep 3) and a renewal shorter than the delay leaves the service suspended: still suspended
//!   *since* the first suspension day, with the deletion day moved to N days after the new
//!   expiry (what the client paid for is theirs).
//! * **A renewal paid on or after the deletion day does not revive the service.** Seed 002 is
//!   silent beyond "automatic deletion"; the panel account and its data are gone, and mature
//!   billing platforms (BILLmanager does not prolong a deleted service, WHMCS does not
//!   reactivate a terminated one) require a new order. Such renewals are reported as
//!   [`Lifecycle::void_renewals`] so that the controller can say why they did nothing.
//! * **Requested (`spec.suspended`) and client (`Client.spec.suspended`) suspensions do not stop
//!   the clock**: the paid period runs on, and a service that expires while suspended becomes
//!   unpaid and counts towards deletion like any other. A refund of downtime (daily charging
//!   without "charge client after suspension") is money, not time: [`super::downtime`].
//! * **Before its start date** a service is [`Standing::Scheduled`]: its first term has not
//!   begun, so nothing is created yet.
//!
//! When several suspensions apply, the reported cause is the one that must be lifted first:
//! non-payment (it alone leads to deletion), then the client's suspension (resuming the service
//! does not help while its client is suspended), then the service's own flag.
//!
//! # Admission
//!
//! [`admission`] judges the order as declared: client groups, services per client, orderable
//! periods, the tariff end date at the start date and at every renewal, the minimum order
//! period, renewal dates, and finally that the whole declaration prices. It reuses
//! [`super::policy`] for the tariff's own rules. A service with violations is Stalled and
//! nothing is created for it; when admission passes, [`standing`] cannot fail for any day
//! (short of the end of the calendar).

use std::fmt;

use jiff::civil::{self, Weekday};
use serde::Serialize;

use super::history::{History, Step, only_current};
use super::service::{PaidPeriod, paid_period};
use super::{BillingError, Result, dates, policy};
use crate::api::client::ClientSpec;
use crate::api::common::{Date, Period};
use crate::api::hosting_service::{HostingServiceSpec, ServicePhase};
use crate::api::tariff::{TariffSpec, WeekendSuspension};

// ---------------------------------------------------------------------------------------------
// Admission
// ---------------------------------------------------------------------------------------------

/// One reason a service may not be ordered, attached to the spec field to change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The field a person should look at, e.g. `spec.period` or `spec.renewals[2].paidOn`.
    pub field: String,
    /// A plain sentence naming the tariff, the client and the policy involved.
    pub reason: String,
}

impl Violation {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// `field: reason`, the form of the controller's `Stalled` messages and of `hostplane validate`.
impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Whether `client` may order `service` on `tariff`: every violation at once, so that one fix
/// of the manifest can address them all.
///
/// `others` are the client's other services of the same tariff that are not terminated and
/// were ordered before this one (the caller orders them, e.g. by start date then creation
/// time); they count towards `policies.servicesPerClient`. Counting only earlier services keeps
/// the verdict stable: a later order never takes the place of an existing service.
///
/// The checks are the seed's order policies, so they are meant for a service the controller has
/// not created yet; a service that exists and stops passing (its tariff changed under it) is for
/// the reconciler to report, not to delete.
pub fn admission(
    tariff: &TariffSpec,
    service: &HostingServiceSpec,
    client: &ClientSpec,
    others: &[&HostingServiceSpec],
) -> std::result::Result<(), Vec<Violation>> {
    let tname = service.tariff_ref.name.as_str();
    let cname = service.client_ref.name.as_str();
    let mut found = Vec::new();
    client_groups(tariff, client, tname, cname, &mut found);
    services_per_client(tariff, client, others.len(), tname, cname, &mut found);
    order(tariff, service, tname, &mut found);
    renewals(tariff, service, tname, &mut found);
    // A declaration with tariff changes is priced with the tariffs it names, by the rules of
    // its declared events (`validation::service_events`).
    if found.is_empty()
        && service.tariff_changes.is_empty()
        && let Err(error) = paid_period(tariff, service)
    {
        // Everything the policies allow, yet the declaration does not price (a resource or
        // control panel the tariff lacks): the same error `standing` would return.
        found.push(Violation::new(field_of(&error), error.to_string()));
    }
    if found.is_empty() { Ok(()) } else { Err(found) }
}

/// "Allow for client groups" and "Forbid to client groups".
fn client_groups(
    tariff: &TariffSpec,
    client: &ClientSpec,
    tname: &str,
    cname: &str,
    found: &mut Vec<Violation>,
) {
    let policies = &tariff.policies;
    let groups = &client.groups;
    if !policies.allowed_client_groups.is_empty()
        && !groups
            .iter()
            .any(|g| policies.allowed_client_groups.contains(g))
    {
        found.push(Violation::new(
            "spec.clientRef",
            format!(
                "tariff {tname:?} is sold only to client groups {} (policies.allowedClientGroups), \
                 and client {cname:?} is in none of them (its groups: {})",
                quoted(&policies.allowed_client_groups),
                if groups.is_empty() {
                    "none".to_owned()
                } else {
                    quoted(groups)
                }
            ),
        ));
    }
    let forbidden: Vec<String> = groups
        .iter()
        .filter(|g| policies.forbidden_client_groups.contains(g))
        .cloned()
        .collect();
    if !forbidden.is_empty() {
        found.push(Violation::new(
            "spec.clientRef",
            format!(
                "client {cname:?} is in {} {}, which tariff {tname:?} forbids \
                 (policies.forbiddenClientGroups)",
                if forbidden.len() == 1 {
                    "group"
                } else {
                    "groups"
                },
                quoted(&forbidden)
            ),
        ));
    }
}

/// "Number of services available for order", unless a client group "ignores the number of
/// services on client's account".
fn services_per_client(
    tariff: &TariffSpec,
    client: &ClientSpec,
    earlier: usize,
    tname: &str,
    cname: &str,
    found: &mut Vec<Violation>,
) {
    let policies = &tariff.policies;
    let Some(limit) = policies.services_per_client else {
        return;
    };
    let exempt = client
        .groups
        .iter()
        .any(|g| policies.services_per_client_exempt_groups.contains(g));
    if exempt || earlier < limit as usize {
        return;
    }
    let exemption = if policies.services_per_client_exempt_groups.is_empty() {
        String::new()
    } else {
        format!(
            "; groups exempt from the limit: {}",
            quoted(&policies.services_per_client_exempt_groups)
        )
    };
    found.push(Violation::new(
        "spec.clientRef",
        format!(
            "client {cname:?} already has {earlier} {} of tariff {tname:?}, and the tariff allows \
             {limit} per client (policies.servicesPerClient){exemption}",
            if earlier == 1 { "service" } else { "services" }
        ),
    ));
}

/// The first order: its period is sold, the tariff still sold on the start date, the period
/// reaches the minimum order period.
fn order(
    tariff: &TariffSpec,
    service: &HostingServiceSpec,
    tname: &str,
    found: &mut Vec<Violation>,
) {
    if policy::check_orderable(tariff, service.period).is_err() {
        found.push(Violation::new(
            "spec.period",
            not_sold(tariff, tname, service.period),
        ));
    }
    if let Err(BillingError::TariffEnded { end, .. }) =
        policy::check_not_ended(tariff, service.start_date)
    {
        found.push(Violation::new(
            "spec.startDate",
            format!(
                "tariff {tname:?} could be ordered only until {end} (policies.endDate), and the \
                 service starts on {}",
                service.start_date
            ),
        ));
    }
    match policy::check_minimum_order_period(tariff, service.start_date, service.period) {
        Ok(()) => {}
        Err(BillingError::BelowMinimumOrderPeriod {
            period,
            length,
            unit,
        }) => found.push(Violation::new(
            "spec.period",
            format!(
                "{period} is shorter than tariff {tname:?}'s minimum order period of {length} \
                 {unit} (policies.minimumOrderPeriod)"
            ),
        )),
        Err(error) => found.push(Violation::new(field_of(&error), error.to_string())),
    }
}

/// Every declared renewal: a sold period, paid no later than the tariff's end date, in date
/// order and not before the order.
fn renewals(
    tariff: &TariffSpec,
    service: &HostingServiceSpec,
    tname: &str,
    found: &mut Vec<Violation>,
) {
    let mut previous: Option<Date> = None;
    for (index, renewal) in service.renewals.iter().enumerate() {
        if policy::check_orderable(tariff, renewal.period).is_err() {
            found.push(Violation::new(
                format!("spec.renewals[{index}].period"),
                not_sold(tariff, tname, renewal.period),
            ));
        }
        let paid_on_field = format!("spec.renewals[{index}].paidOn");
        if let Err(BillingError::TariffEnded { end, .. }) =
            policy::check_not_ended(tariff, renewal.paid_on)
        {
            found.push(Violation::new(
                &paid_on_field,
                format!(
                    "the renewal is paid on {}, after tariff {tname:?} ended on {end} \
                     (policies.endDate): the tariff can no longer be renewed",
                    renewal.paid_on
                ),
            ));
        }
        let order_error = if renewal.paid_on < service.start_date {
            Some(BillingError::RenewalBeforeStart {
                index,
                paid_on: renewal.paid_on,
                start: service.start_date,
            })
        } else {
            previous.filter(|&p| renewal.paid_on < p).map(|previous| {
                BillingError::RenewalsOutOfOrder {
                    index,
                    paid_on: renewal.paid_on,
                    previous,
                }
            })
        };
        if let Some(error) = order_error {
            found.push(Violation::new(&paid_on_field, error.to_string()));
        }
        previous = Some(previous.map_or(renewal.paid_on, |p| p.max(renewal.paid_on)));
    }
}

/// Why `period` cannot be sold, and what can.
fn not_sold(tariff: &TariffSpec, tname: &str, period: Period) -> String {
    let why = if tariff.disabled_periods.contains(&period) {
        "the period is disabled (disabledPeriods)".to_owned()
    } else {
        format!("the tariff has no price for it (prices.{period})")
    };
    let sold: Vec<&str> = Period::ALL
        .into_iter()
        .filter(|&p| policy::check_orderable(tariff, p).is_ok())
        .map(Period::as_str)
        .collect();
    let offer = if sold.is_empty() {
        "it sells no period at all".to_owned()
    } else {
        format!("it sells {}", sold.join(", "))
    };
    format!("tariff {tname:?} does not sell {period}: {why}; {offer}")
}

/// The spec field a billing error is about.
fn field_of(error: &BillingError) -> String {
    match error {
        BillingError::PeriodNotOrderable { .. } | BillingError::BelowMinimumOrderPeriod { .. } => {
            "spec.period".into()
        }
        BillingError::TariffEnded { .. } | BillingError::DateOutOfRange => "spec.startDate".into(),
        BillingError::RenewalBeforeStart { index, .. }
        | BillingError::RenewalsOutOfOrder { index, .. } => {
            format!("spec.renewals[{index}].paidOn")
        }
        BillingError::UnknownResource { .. }
        | BillingError::AddonNotAnIncrease { .. }
        | BillingError::AddonNotADecrease { .. } => "spec.resources".into(),
        BillingError::UnknownControlPanel { .. } | BillingError::ControlPanelNotPriced { .. } => {
            "spec.controlPanel".into()
        }
        BillingError::TariffChangeForbidden
        | BillingError::UnknownTariff { .. }
        | BillingError::CurrencyMismatch { .. } => "spec.tariffChanges".into(),
        BillingError::NotPaidOn { .. } => "spec.renewals".into(),
    }
}

/// `"a", "b"`: group names as a person reads them in a message.
fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// Standing
// ---------------------------------------------------------------------------------------------

/// Why a service is suspended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SuspensionCause {
    /// Its paid period ended and no renewal pays for the day; leads to deletion when the tariff
    /// deletes unrenewed services.
    Unpaid,
    /// Its client is suspended (`Client.spec.suspended`).
    ClientSuspended,
    /// The service itself asks for it (`spec.suspended`).
    Requested,
}

/// Where a service stands on one day. Ordered in time: without new renewals a service only
/// moves forward through Scheduled → Active → Suspended → Terminated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "standing", rename_all_fields = "camelCase")]
pub enum Standing {
    /// Its start date is still to come: nothing is created yet.
    Scheduled { starts_on: Date },
    /// Paid for the day (or in the weekend grace before a Monday suspension).
    Active {
        /// The first unpaid day of the renewals counted so far (`status.paidUntil`).
        paid_until: Date,
        /// The day it is suspended unless renewed: `paid_until`, or the Monday after it under
        /// the weekend rule.
        suspends_on: Date,
        /// When the standing next changes: `suspends_on`, or earlier the day a renewal already
        /// declared with a later payment date takes effect.
        next_change: Date,
    },
    /// Suspended at the panel; the account and its data are kept.
    Suspended {
        /// The first day of this suspension for non-payment. `None` for a requested or client
        /// suspension: the spec records no date for those.
        since: Option<Date>,
        cause: SuspensionCause,
        /// `Unpaid` only: the day the service is terminated unless renewed before it; `None`
        /// when the tariff never deletes.
        deletion_on: Option<Date>,
        /// When the standing next changes: the deletion day, the day a requested or client
        /// suspension becomes a suspension for non-payment, or the day a renewal already
        /// declared with a later payment date takes effect. `None`: not without a change of
        /// spec.
        next_change: Option<Date>,
    },
    /// Past the auto-deletion period: the panel account goes, the resource stays in git. Final.
    Terminated { since: Date },
}

impl Standing {
    /// The day the controller must look again, if any: see [`next_timer`].
    pub fn next_timer(&self) -> Option<Date> {
        match *self {
            Standing::Scheduled { starts_on } => Some(starts_on),
            Standing::Active { next_change, .. } => Some(next_change),
            Standing::Suspended { next_change, .. } => next_change,
            Standing::Terminated { .. } => None,
        }
    }

    /// The `status.phase` this standing implies once the account exists (a scheduled service
    /// is still `Pending`).
    pub fn phase(&self) -> ServicePhase {
        match self {
            Standing::Scheduled { .. } => ServicePhase::Pending,
            Standing::Active { .. } => ServicePhase::Active,
            Standing::Suspended { .. } => ServicePhase::Suspended,
            Standing::Terminated { .. } => ServicePhase::Terminated,
        }
    }
}

/// The day the controller must requeue at: the first day on which [`standing`] may answer
/// differently. Always after the day the standing was computed for; `None` when nothing but a
/// change of spec (a renewal, lifting a suspension) can change it.
pub fn next_timer(standing: &Standing) -> Option<Date> {
    standing.next_timer()
}

/// A service's standing on a day, with what it was derived from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lifecycle {
    pub standing: Standing,
    /// The paid period in effect on the day: the order, and the renewals and tariff changes
    /// counted (dated on or before the day, and before any termination). The paid period of
    /// the whole spec ([`History::paid_period`]) also counts the pending ones.
    pub paid: PaidPeriod,
    /// Indexes in `spec.renewals` of renewals paid after the day: they count from their day.
    pub pending_renewals: Vec<usize>,
    /// Indexes in `spec.renewals` of renewals paid on or after the termination day: they do
    /// not revive the service (see the module rules); a new order is needed.
    pub void_renewals: Vec<usize>,
}

/// Where `service` stands on `today`: see the module rules.
///
/// Fails when the spec cannot be priced at all (a period the tariff does not sell, renewals out
/// of order, a renewal after the tariff's end date, ...), whatever the day: a spec that is wrong
/// is wrong before its wrong renewal's date too. [`admission`] reports the same problems field
/// by field.
pub fn standing(
    tariff: &TariffSpec,
    service: &HostingServiceSpec,
    client: &ClientSpec,
    today: civil::Date,
) -> Result<Standing> {
    evaluate(tariff, service, client, today).map(|l| l.standing)
}

/// [`standing`] of a service on `tariff` that declares no tariff change.
pub fn evaluate(
    tariff: &TariffSpec,
    service: &HostingServiceSpec,
    client: &ClientSpec,
    today: civil::Date,
) -> Result<Lifecycle> {
    evaluate_history(
        &History::new(tariff, &only_current, service),
        tariff,
        client,
        today,
    )
}

/// [`standing`] with the paid period it was computed from and the renewals it did not count,
/// across the service's declared tariff changes (`history`). `tariff` is the current one:
/// its suspension, weekend and deletion rules apply today, whatever the tariff of the days
/// before a change was.
pub fn evaluate_history(
    history: &History<'_, '_>,
    tariff: &TariffSpec,
    client: &ClientSpec,
    today: civil::Date,
) -> Result<Lifecycle> {
    let service = history.service();
    let today = Date(today);
    // Validate the whole declaration first, so that the verdict on a bad spec does not depend
    // on the day.
    history.paid_period()?;
    let mut paid = history.order()?;
    let renewals = &service.renewals;
    if today < service.start_date {
        return Ok(Lifecycle {
            standing: Standing::Scheduled {
                starts_on: service.start_date,
            },
            paid,
            pending_renewals: (0..renewals.len()).collect(),
            void_renewals: Vec::new(),
        });
    }

    // Replay the renewals and tariff changes made so far in date order, remembering when the
    // current suspension for non-payment began (a renewal that does not pay for its own
    // payment day leaves the service suspended since then).
    let steps = history.steps();
    let mut unpaid_since: Option<Date> = None;
    let mut counted = 0;
    for &(on, step) in &steps {
        if on > today {
            break;
        }
        let before = Deadlines::of(tariff, paid.paid_until())?;
        if before.terminated_on(on) {
            break;
        }
        if on >= before.suspends_on {
            unpaid_since.get_or_insert(before.suspends_on);
        }
        history.apply(&mut paid, step)?;
        counted += 1;
        if on < Deadlines::of(tariff, paid.paid_until())?.suspends_on {
            unpaid_since = None;
        }
    }

    let now = Deadlines::of(tariff, paid.paid_until())?;
    let uncounted: Vec<usize> = steps[counted..]
        .iter()
        .filter_map(|&(_, step)| match step {
            Step::Renewal(i) => Some(i),
            Step::Change(_) => None,
        })
        .collect();
    // Steps are in date order, so the first uncounted one is the next to take effect.
    let next_step = steps.get(counted).map(|&(on, _)| on);
    let earliest = |natural: Option<Date>| natural.into_iter().chain(next_step).min();

    let (standing, pending_renewals, void_renewals) =
        if let Some(since) = now.deletion_on.filter(|&d| today >= d) {
            let standing = Standing::Terminated { since };
            (standing, Vec::new(), uncounted)
        } else {
            let standing = if today >= now.suspends_on {
                Standing::Suspended {
                    since: Some(unpaid_since.unwrap_or(now.suspends_on)),
                    cause: SuspensionCause::Unpaid,
                    deletion_on: now.deletion_on,
                    next_change: earliest(now.deletion_on),
                }
            } else if client.suspended || service.suspended {
                Standing::Suspended {
                    since: None,
                    cause: if client.suspended {
                        SuspensionCause::ClientSuspended
                    } else {
                        SuspensionCause::Requested
                    },
                    deletion_on: None,
                    next_change: earliest(Some(now.suspends_on)),
                }
            } else {
                Standing::Active {
                    paid_until: paid.paid_until(),
                    suspends_on: now.suspends_on,
                    next_change: earliest(Some(now.suspends_on)).unwrap_or(now.suspends_on),
                }
            };
            (standing, uncounted, Vec::new())
        };
    Ok(Lifecycle {
        standing,
        paid,
        pending_renewals,
        void_renewals,
    })
}

/// The day a service expiring on `expiry` (its `paidUntil`) is suspended for non-payment:
/// the expiry day, or the Monday after it when the tariff does not suspend on weekends.
pub fn suspension_day(tariff: &TariffSpec, expiry: Date) -> Result<Date> {
    let weekend_days_left = match (tariff.policies.weekend_suspension, expiry.0.weekday()) {
        (WeekendSuspension::DoNotSuspend, Weekday::Saturday) => 2,
        (WeekendSuspension::DoNotSuspend, Weekday::Sunday) => 1,
        _ => 0,
    };
    dates::add_days(expiry, weekend_days_left)
}

/// The day a service expiring on `expiry` is terminated unless renewed before it: expiry + N
/// days, but not before the day after its suspension; `None` when the tariff never deletes.
pub fn deletion_day(tariff: &TariffSpec, expiry: Date) -> Result<Option<Date>> {
    let Some(days) = tariff.policies.auto_deletion_days else {
        return Ok(None);
    };
    let after_expiry = dates::add_days(expiry, i64::from(days))?;
    let after_suspension = dates::add_days(suspension_day(tariff, expiry)?, 1)?;
    Ok(Some(after_expiry.max(after_suspension)))
}

/// The suspension and deletion days of one expiry.
struct Deadlines {
    suspends_on: Date,
    deletion_on: Option<Date>,
}

impl Deadlines {
    fn of(tariff: &TariffSpec, expiry: Date) -> Result<Self> {
        Ok(Self {
            suspends_on: suspension_day(tariff, expiry)?,
            deletion_on: deletion_day(tariff, expiry)?,
        })
    }

    fn terminated_on(&self, day: Date) -> bool {
        self.deletion_on.is_some_and(|d| day >= d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tariff::{
        DurationUnit, LateFeeType, LateRenewalFee, MinimumOrderPeriod, ResourceKind,
    };
    use crate::billing::testing::{calendar, client, date, money, service, tariff, with_resource};

    fn client_in(groups: &[&str]) -> ClientSpec {
        ClientSpec {
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            ..client()
        }
    }

    fn on(day: &str) -> civil::Date {
        date(day).0
    }

    fn at(t: &TariffSpec, s: &HostingServiceSpec, day: &str) -> Standing {
        standing(t, s, &client(), on(day)).unwrap()
    }

    fn active(paid_until: &str, suspends_on: &str) -> Standing {
        Standing::Active {
            paid_until: date(paid_until),
            suspends_on: date(suspends_on),
            next_change: date(suspends_on),
        }
    }

    fn unpaid(since: &str, deletion_on: Option<&str>, next_change: Option<&str>) -> Standing {
        Standing::Suspended {
            since: Some(date(since)),
            cause: SuspensionCause::Unpaid,
            deletion_on: deletion_on.map(date),
            next_change: next_change.map(date),
        }
    }

    fn terminated(since: &str) -> Standing {
        Standing::Terminated { since: date(since) }
    }

    fn with_fee(mut t: TariffSpec, type_: LateFeeType, percent: Option<u32>) -> TariffSpec {
        t.policies.late_renewal_fee = LateRenewalFee {
            type_,
            amount: None,
            percent,
        };
        t
    }

    fn weekends(rule: WeekendSuspension) -> TariffSpec {
        let mut t = tariff("3.00");
        t.policies.weekend_suspension = rule;
        t
    }

    fn deleting_after(days: u32) -> TariffSpec {
        let mut t = tariff("3.00");
        t.policies.auto_deletion_days = Some(days);
        t
    }

    // --- Seed 002, "Late renewal fee" ------------------------------------------------------

    #[test]
    fn renew_from_suspension_date_expired_august_3_renewed_august_15_active_until_september_3() {
        let t = with_fee(tariff("3.00"), LateFeeType::RenewFromSuspensionDate, None);
        let s = service(
            Period::OneMonth,
            "2026-07-03",
            &[(Period::OneMonth, "2026-08-15")],
        );
        assert_eq!(at(&t, &s, "2026-08-02"), active("2026-08-03", "2026-08-03"));
        // Suspended at expiry; the declared renewal is pending until its payment day.
        let suspended = unpaid("2026-08-03", None, Some("2026-08-15"));
        assert_eq!(at(&t, &s, "2026-08-03"), suspended);
        assert_eq!(at(&t, &s, "2026-08-14"), suspended);
        assert_eq!(at(&t, &s, "2026-08-15"), active("2026-09-03", "2026-09-03"));
        assert_eq!(at(&t, &s, "2026-09-03"), unpaid("2026-09-03", None, None));
    }

    #[test]
    fn without_that_policy_the_same_renewal_is_active_until_september_15() {
        let t = with_fee(tariff("3.00"), LateFeeType::None, None);
        let s = service(
            Period::OneMonth,
            "2026-07-03",
            &[(Period::OneMonth, "2026-08-15")],
        );
        assert_eq!(at(&t, &s, "2026-08-15"), active("2026-09-15", "2026-09-15"));
    }

    #[test]
    fn percent_fee_expired_september_1_renewed_september_5_fine_0_25() {
        // $3.00 a month = $0.10 a day; 5 overdue days × $0.10 × 50 % = $0.25.
        let t = with_fee(tariff("3.00"), LateFeeType::Percent, Some(50));
        let s = service(
            Period::OneMonth,
            "2026-08-01",
            &[(Period::OneMonth, "2026-09-05")],
        );
        assert_eq!(at(&t, &s, "2026-08-31"), active("2026-09-01", "2026-09-01"));
        assert_eq!(
            at(&t, &s, "2026-09-04"),
            unpaid("2026-09-01", None, Some("2026-09-05"))
        );
        let renewed = evaluate(&t, &s, &client(), on("2026-09-05")).unwrap();
        assert_eq!(renewed.standing, active("2026-10-05", "2026-10-05"));
        let late = renewed.paid.last_term().late.clone().unwrap();
        assert_eq!((late.days, late.fee), (5, money("0.25")));
    }

    // --- Seed 002, "Suspend service on weekends" -------------------------------------------

    #[test]
    fn do_not_suspend_expiring_friday_is_suspended_friday() {
        let t = weekends(WeekendSuspension::DoNotSuspend);
        let s = service(Period::OneMonth, "2026-09-02", &[]);
        assert_eq!(at(&t, &s, "2026-10-01"), active("2026-10-02", "2026-10-02"));
        assert_eq!(at(&t, &s, "2026-10-02"), unpaid("2026-10-02", None, None));
    }

    #[test]
    fn do_not_suspend_expiring_saturday_is_suspended_monday() {
        let t = weekends(WeekendSuspension::DoNotSuspend);
        let s = service(Period::OneMonth, "2026-09-03", &[]);
        assert_eq!(at(&t, &s, "2026-10-03"), active("2026-10-03", "2026-10-05"));
        assert_eq!(at(&t, &s, "2026-10-04"), active("2026-10-03", "2026-10-05"));
        assert_eq!(at(&t, &s, "2026-10-05"), unpaid("2026-10-05", None, None));
    }

    #[test]
    fn do_not_suspend_expiring_sunday_is_suspended_monday() {
        let t = weekends(WeekendSuspension::DoNotSuspend);
        let s = service(Period::OneMonth, "2026-09-04", &[]);
        assert_eq!(at(&t, &s, "2026-10-04"), active("2026-10-04", "2026-10-05"));
        assert_eq!(at(&t, &s, "2026-10-05"), unpaid("2026-10-05", None, None));
    }

    #[test]
    fn suspend_services_and_the_default_suspend_on_saturday() {
        let s = service(Period::OneMonth, "2026-09-03", &[]);
        for rule in [
            WeekendSuspension::Suspend,
            WeekendSuspension::ProductTypeDefault,
        ] {
            let t = weekends(rule);
            assert_eq!(at(&t, &s, "2026-10-03"), unpaid("2026-10-03", None, None));
        }
    }

    #[test]
    fn weekend_days_are_debited_at_renewal_when_there_is_a_penalty() {
        // Expired Saturday Oct 3, served over the weekend, renewed Sunday: the fee covers
        // Saturday and Sunday (2 × $0.10 × 50 %) and the new term starts on the payment day.
        let t = with_fee(
            weekends(WeekendSuspension::DoNotSuspend),
            LateFeeType::Percent,
            Some(50),
        );
        let s = service(
            Period::OneMonth,
            "2026-09-03",
            &[(Period::OneMonth, "2026-10-04")],
        );
        let l = evaluate(&t, &s, &client(), on("2026-10-04")).unwrap();
        assert_eq!(l.standing, active("2026-11-04", "2026-11-04"));
        let late = l.paid.last_term().late.clone().unwrap();
        assert_eq!((late.days, late.fee), (2, money("0.10")));
        // Renewing from the suspension date instead, the weekend is part of the renewed term.
        let t = with_fee(
            weekends(WeekendSuspension::DoNotSuspend),
            LateFeeType::RenewFromSuspensionDate,
            None,
        );
        assert_eq!(at(&t, &s, "2026-10-04"), active("2026-11-03", "2026-11-03"));
    }

    // --- Seed 002, "Auto-deletion period" --------------------------------------------------

    #[test]
    fn auto_deletion_30_days_after_expiry() {
        let t = deleting_after(30);
        let s = service(Period::OneMonth, "2026-08-01", &[]);
        let suspended = unpaid("2026-09-01", Some("2026-10-01"), Some("2026-10-01"));
        assert_eq!(at(&t, &s, "2026-09-01"), suspended);
        assert_eq!(at(&t, &s, "2026-09-30"), suspended);
        assert_eq!(at(&t, &s, "2026-10-01"), terminated("2026-10-01"));
        assert_eq!(at(&t, &s, "2030-01-01"), terminated("2026-10-01"));
    }

    #[test]
    fn without_an_auto_deletion_period_expired_services_are_not_deleted() {
        let s = service(Period::OneMonth, "2026-08-01", &[]);
        let later = at(&tariff("3.00"), &s, "2036-01-01");
        assert_eq!(later, unpaid("2026-09-01", None, None));
        assert_eq!(next_timer(&later), None);
    }

    #[test]
    fn a_renewal_before_the_deletion_day_resumes_the_service() {
        let t = deleting_after(30);
        let s = service(
            Period::OneMonth,
            "2026-08-01",
            &[(Period::OneMonth, "2026-09-30")],
        );
        assert_eq!(at(&t, &s, "2026-09-30"), active("2026-10-30", "2026-10-30"));
    }

    #[test]
    fn a_renewal_on_or_after_the_deletion_day_does_not_revive_the_service() {
        let t = deleting_after(30);
        let s = service(
            Period::OneMonth,
            "2026-08-01",
            &[(Period::OneMonth, "2026-10-01")],
        );
        // Before its day the renewal is pending, and the next change is the deletion day.
        let before = evaluate(&t, &s, &client(), on("2026-09-15")).unwrap();
        assert_eq!(
            before.standing,
            unpaid("2026-09-01", Some("2026-10-01"), Some("2026-10-01"))
        );
        assert_eq!(
            (before.pending_renewals, before.void_renewals),
            (vec![0], vec![])
        );
        for day in ["2026-10-01", "2026-10-02", "2027-06-01"] {
            let after = evaluate(&t, &s, &client(), on(day)).unwrap();
            assert_eq!(after.standing, terminated("2026-10-01"));
            assert_eq!(
                (after.pending_renewals, after.void_renewals),
                (vec![], vec![0])
            );
            assert_eq!(after.paid.paid_until(), date("2026-09-01"));
        }
    }

    #[test]
    fn deletion_waits_for_a_suspended_day_after_a_weekend() {
        // One day after a Saturday expiry is Sunday, but the service runs until Monday.
        let mut t = weekends(WeekendSuspension::DoNotSuspend);
        t.policies.auto_deletion_days = Some(1);
        let s = service(Period::OneMonth, "2026-09-03", &[]);
        assert_eq!(
            deletion_day(&t, date("2026-10-03")),
            Ok(Some(date("2026-10-06")))
        );
        assert_eq!(at(&t, &s, "2026-10-04"), active("2026-10-03", "2026-10-05"));
        assert_eq!(
            at(&t, &s, "2026-10-05"),
            unpaid("2026-10-05", Some("2026-10-06"), Some("2026-10-06"))
        );
        assert_eq!(at(&t, &s, "2026-10-06"), terminated("2026-10-06"));
    }

    #[test]
    fn a_renewal_shorter_than_the_delay_keeps_the_suspension_and_moves_the_deletion() {
        let mut t = with_fee(tariff("3.00"), LateFeeType::RenewFromSuspensionDate, None);
        t.policies.auto_deletion_days = Some(60);
        // Expired Aug 1; on Sep 10 a month is paid from Aug 1, i.e. until Sep 1: still unpaid.
        let s = service(
            Period::OneMonth,
            "2026-07-01",
            &[(Period::OneMonth, "2026-09-10")],
        );
        assert_eq!(
            at(&t, &s, "2026-09-09"),
            unpaid("2026-08-01", Some("2026-09-30"), Some("2026-09-10"))
        );
        assert_eq!(
            at(&t, &s, "2026-09-10"),
            unpaid("2026-08-01", Some("2026-10-31"), Some("2026-10-31"))
        );
        assert_eq!(at(&t, &s, "2026-10-31"), terminated("2026-10-31"));
    }

    // --- Month ends and leap years ---------------------------------------------------------

    #[test]
    fn ordered_january_31_expires_february_28_a_saturday() {
        let s = service(Period::OneMonth, "2026-01-31", &[]);
        assert_eq!(
            at(&tariff("3.00"), &s, "2026-02-28"),
            unpaid("2026-02-28", None, None)
        );
        let t = weekends(WeekendSuspension::DoNotSuspend);
        assert_eq!(at(&t, &s, "2026-02-28"), active("2026-02-28", "2026-03-02"));
        assert_eq!(at(&t, &s, "2026-03-02"), unpaid("2026-03-02", None, None));
    }

    #[test]
    fn ordered_january_31_of_a_leap_year_expires_february_29() {
        let s = service(Period::OneMonth, "2028-01-31", &[]);
        let t = tariff("3.00");
        assert_eq!(at(&t, &s, "2028-02-28"), active("2028-02-29", "2028-02-29"));
        assert_eq!(at(&t, &s, "2028-02-29"), unpaid("2028-02-29", None, None));
    }

    #[test]
    fn a_year_from_february_29_expires_february_28() {
        let mut t = tariff("3.00");
        t.prices.one_year = Some(money("30.00"));
        let s = service(Period::OneYear, "2028-02-29", &[]);
        assert_eq!(at(&t, &s, "2029-02-27"), active("2029-02-28", "2029-02-28"));
        assert_eq!(at(&t, &s, "2029-02-28"), unpaid("2029-02-28", None, None));
    }

    #[test]
    fn thirty_days_of_deletion_across_february() {
        let t = deleting_after(30);
        let leap = service(Period::OneMonth, "2028-01-01", &[]);
        assert_eq!(
            at(&t, &leap, "2028-03-01"),
            unpaid("2028-02-01", Some("2028-03-02"), Some("2028-03-02"))
        );
        assert_eq!(at(&t, &leap, "2028-03-02"), terminated("2028-03-02"));
        let common = service(Period::OneMonth, "2026-01-01", &[]);
        assert_eq!(at(&t, &common, "2026-03-03"), terminated("2026-03-03"));
        assert_eq!(
            at(&t, &common, "2026-03-02").next_timer(),
            Some(date("2026-03-03"))
        );
    }

    #[test]
    fn calendar_ordered_july_12_expires_saturday_august_1() {
        // Seed 002's pro-rata example (day 15): active until August 1, a Saturday.
        let mut t = weekends(WeekendSuspension::DoNotSuspend);
        t.charging = calendar(Some(15));
        let s = service(Period::OneMonth, "2026-07-12", &[]);
        assert_eq!(at(&t, &s, "2026-08-02"), active("2026-08-01", "2026-08-03"));
        assert_eq!(at(&t, &s, "2026-08-03"), unpaid("2026-08-03", None, None));
        let s = service(Period::OneMonth, "2026-07-17", &[]);
        assert_eq!(at(&t, &s, "2026-08-31"), active("2026-09-01", "2026-09-01"));
    }

    // --- Requested and client suspension ---------------------------------------------------

    #[test]
    fn a_requested_suspension_does_not_stop_the_clock() {
        let t = deleting_after(30);
        let mut s = service(Period::OneMonth, "2026-08-01", &[]);
        s.suspended = true;
        assert_eq!(
            at(&t, &s, "2026-08-15"),
            Standing::Suspended {
                since: None,
                cause: SuspensionCause::Requested,
                deletion_on: None,
                next_change: Some(date("2026-09-01")),
            }
        );
        assert_eq!(
            at(&t, &s, "2026-09-01"),
            unpaid("2026-09-01", Some("2026-10-01"), Some("2026-10-01"))
        );
        assert_eq!(at(&t, &s, "2026-10-01"), terminated("2026-10-01"));
        // Renewed while suspended by request: no longer unpaid, still suspended by request.
        s.renewals = service(
            Period::OneMonth,
            "2026-08-01",
            &[(Period::OneMonth, "2026-09-10")],
        )
        .renewals;
        assert_eq!(
            at(&t, &s, "2026-09-10"),
            Standing::Suspended {
                since: None,
                cause: SuspensionCause::Requested,
                deletion_on: None,
                next_change: Some(date("2026-10-10")),
            }
        );
    }

    #[test]
    fn a_client_suspension_comes_before_the_service_flag_and_after_non_payment() {
        let t = tariff("3.00");
        let mut s = service(Period::OneMonth, "2026-08-01", &[]);
        s.suspended = true;
        let mut c = client();
        c.suspended = true;
        let on_day = |day: &str| standing(&t, &s, &c, on(day)).unwrap();
        assert!(matches!(
            on_day("2026-08-15"),
            Standing::Suspended {
                cause: SuspensionCause::ClientSuspended,
                since: None,
                ..
            }
        ));
        assert_eq!(on_day("2026-09-01"), unpaid("2026-09-01", None, None));
    }

    #[test]
    fn client_groups_do_not_exempt_from_suspension() {
        let mut t = tariff("3.00");
        t.policies.services_per_client_exempt_groups = vec!["vip".into()];
        t.policies.services_per_client = Some(1);
        let s = service(Period::OneMonth, "2026-08-01", &[]);
        let vip = client_in(&["vip"]);
        assert_eq!(
            standing(&t, &s, &vip, on("2026-09-01")),
            Ok(unpaid("2026-09-01", None, None))
        );
    }

    // --- Scheduled, timers, errors ---------------------------------------------------------

    #[test]
    fn before_its_start_date_a_service_is_scheduled() {
        let s = service(
            Period::OneMonth,
            "2026-08-01",
            &[(Period::OneMonth, "2026-08-20")],
        );
        let l = evaluate(&tariff("3.00"), &s, &client(), on("2026-07-30")).unwrap();
        assert_eq!(
            l.standing,
            Standing::Scheduled {
                starts_on: date("2026-08-01")
            }
        );
        assert_eq!(l.standing.next_timer(), Some(date("2026-08-01")));
        assert_eq!(l.standing.phase(), ServicePhase::Pending);
        assert_eq!(l.pending_renewals, vec![0]);
        assert_eq!(
            at(&tariff("3.00"), &s, "2026-08-01"),
            Standing::Active {
                paid_until: date("2026-09-01"),
                suspends_on: date("2026-09-01"),
                next_change: date("2026-08-20"),
            }
        );
    }

    #[test]
    fn an_early_renewal_counts_from_its_payment_day() {
        let s = service(
            Period::OneMonth,
            "2026-08-01",
            &[(Period::OneMonth, "2026-08-20")],
        );
        let t = tariff("3.00");
        assert_eq!(at(&t, &s, "2026-08-20"), active("2026-10-01", "2026-10-01"));
    }

    #[test]
    fn next_timer_of_each_standing() {
        assert_eq!(
            next_timer(&active("2026-09-01", "2026-09-01")),
            Some(date("2026-09-01"))
        );
        assert_eq!(
            next_timer(&unpaid(
                "2026-09-01",
                Some("2026-10-01"),
                Some("2026-10-01")
            )),
            Some(date("2026-10-01"))
        );
        assert_eq!(next_timer(&unpaid("2026-09-01", None, None)), None);
        assert_eq!(next_timer(&terminated("2026-10-01")), None);
    }

    #[test]
    fn a_wrong_renewal_is_an_error_before_its_date_too() {
        let s = service(
            Period::OneMonth,
            "2026-08-01",
            &[
                (Period::OneMonth, "2026-12-01"),
                (Period::OneMonth, "2026-11-01"),
            ],
        );
        assert!(matches!(
            standing(&tariff("3.00"), &s, &client(), on("2026-08-10")),
            Err(BillingError::RenewalsOutOfOrder { index: 1, .. })
        ));
    }

    // --- Admission -------------------------------------------------------------------------

    fn reasons(result: std::result::Result<(), Vec<Violation>>) -> Vec<String> {
        result
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_plain_order_is_admitted() {
        let s = service(
            Period::OneMonth,
            "2026-08-01",
            &[(Period::OneMonth, "2026-08-25")],
        );
        assert_eq!(admission(&tariff("3.00"), &s, &client(), &[]), Ok(()));
    }

    #[test]
    fn allow_for_client_groups() {
        let mut t = tariff("3.00");
        t.policies.allowed_client_groups = vec!["resellers".into(), "staff".into()];
        let s = service(Period::OneMonth, "2026-08-01", &[]);
        assert_eq!(
            reasons(admission(&t, &s, &client(), &[])),
            [
                r#"spec.clientRef: tariff "t" is sold only to client groups "resellers", "staff" (policies.allowedClientGroups), and client "c" is in none of them (its groups: none)"#
            ]
        );
        assert_eq!(admission(&t, &s, &client_in(&["staff"]), &[]), Ok(()));
    }

    #[test]
    fn forbid_to_client_groups() {
        let mut t = tariff("3.00");
        t.policies.forbidden_client_groups = vec!["debtors".into()];
        let s = service(Period::OneMonth, "2026-08-01", &[]);
        assert_eq!(
            reasons(admission(&t, &s, &client_in(&["retail", "debtors"]), &[])),
            [
                r#"spec.clientRef: client "c" is in group "debtors", which tariff "t" forbids (policies.forbiddenClientGroups)"#
            ]
        );
    }

    #[test]
    fn number_of_services_available_for_order_and_the_group_that_ignores_it() {
        let mut t = tariff("3.00");
        t.policies.services_per_client = Some(1);
        t.policies.services_per_client_exempt_groups = vec!["partners".into()];
        let first = service(Period::OneMonth, "2026-07-01", &[]);
        let s = service(Period::OneMonth, "2026-08-01", &[]);
        assert_eq!(admission(&t, &first, &client(), &[]), Ok(()));
        assert_eq!(
            reasons(admission(&t, &s, &client(), &[&first])),
            [
                r#"spec.clientRef: client "c" already has 1 service of tariff "t", and the tariff allows 1 per client (policies.servicesPerClient); groups exempt from the limit: "partners""#
            ]
        );
        assert_eq!(
            admission(&t, &s, &client_in(&["partners"]), &[&first]),
            Ok(())
        );
    }

    #[test]
    fn minimum_order_period() {
        let mut t = tariff("3.00");
        t.prices.three_months = Some(money("8.50"));
        t.policies.minimum_order_period = Some(MinimumOrderPeriod {
            length: 3,
            unit: DurationUnit::Months,
        });
        let s = service(Period::OneMonth, "2026-08-01", &[]);
        assert_eq!(
            reasons(admission(&t, &s, &client(), &[])),
            [
                r#"spec.period: 1m is shorter than tariff "t"'s minimum order period of 3 months (policies.minimumOrderPeriod)"#
            ]
        );
        let s = service(Period::ThreeMonths, "2026-08-01", &[]);
        assert_eq!(admission(&t, &s, &client(), &[]), Ok(()));
    }

    #[test]
    fn tariff_plan_end_date_at_the_start_date_and_at_renewals() {
        let mut t = tariff("3.00");
        t.policies.end_date = Some(date("2026-12-31"));
        let s = service(Period::OneMonth, "2026-12-31", &[]);
        assert_eq!(admission(&t, &s, &client(), &[]), Ok(()));
        let s = service(Period::OneMonth, "2027-01-01", &[]);
        assert_eq!(
            reasons(admission(&t, &s, &client(), &[])),
            [
                r#"spec.startDate: tariff "t" could be ordered only until 2026-12-31 (policies.endDate), and the service starts on 2027-01-01"#
            ]
        );
        let s = service(
            Period::OneMonth,
            "2026-12-01",
            &[(Period::OneMonth, "2027-01-02")],
        );
        assert_eq!(
            reasons(admission(&t, &s, &client(), &[])),
            [
                r#"spec.renewals[0].paidOn: the renewal is paid on 2027-01-02, after tariff "t" ended on 2026-12-31 (policies.endDate): the tariff can no longer be renewed"#
            ]
        );
    }

    #[test]
    fn disabled_and_unpriced_periods() {
        let mut t = tariff("3.00");
        t.prices.one_year = Some(money("30.00"));
        t.disabled_periods = vec![Period::OneMonth];
        let s = service(
            Period::OneMonth,
            "2026-08-01",
            &[(Period::ThreeMonths, "2026-08-20")],
        );
        assert_eq!(
            reasons(admission(&t, &s, &client(), &[])),
            [
                r#"spec.period: tariff "t" does not sell 1m: the period is disabled (disabledPeriods); it sells 1y"#,
                r#"spec.renewals[0].period: tariff "t" does not sell 3m: the tariff has no price for it (prices.3m); it sells 1y"#,
            ]
        );
    }

    #[test]
    fn every_violation_is_reported_at_once() {
        let mut t = tariff("3.00");
        t.policies.allowed_client_groups = vec!["staff".into()];
        t.policies.forbidden_client_groups = vec!["debtors".into()];
        t.policies.services_per_client = Some(1);
        t.policies.end_date = Some(date("2026-01-01"));
        t.disabled_periods = vec![Period::OneMonth];
        let other = service(Period::OneMonth, "2025-12-01", &[]);
        let s = service(
            Period::OneMonth,
            "2026-08-01",
            &[
                (Period::OneMonth, "2026-09-01"),
                (Period::OneMonth, "2026-07-01"),
            ],
        );
        let fields: Vec<String> = admission(&t, &s, &client_in(&["debtors"]), &[&other])
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            [
                "spec.clientRef",
                "spec.clientRef",
                "spec.clientRef",
                "spec.period",
                "spec.startDate",
                "spec.renewals[0].period",
                "spec.renewals[0].paidOn",
                "spec.renewals[1].period",
                "spec.renewals[1].paidOn",
                "spec.renewals[1].paidOn",
            ]
        );
    }

    #[test]
    fn renewals_before_the_order_or_out_of_order() {
        let s = service(
            Period::OneMonth,
            "2026-08-01",
            &[
                (Period::OneMonth, "2026-07-31"),
                (Period::OneMonth, "2026-09-01"),
                (Period::OneMonth, "2026-08-15"),
            ],
        );
        assert_eq!(
            reasons(admission(&tariff("3.00"), &s, &client(), &[])),
            [
                "spec.renewals[0].paidOn: renewals[0] is paid on 2026-07-31, before the service starts on 2026-08-01",
                "spec.renewals[2].paidOn: renewals[2] is paid on 2026-08-15, before the previous renewal (2026-09-01): list renewals in date order",
            ]
        );
    }

    #[test]
    fn a_declaration_that_does_not_price_is_not_admitted() {
        let s = with_resource(
            service(Period::OneMonth, "2026-08-01", &[]),
            ResourceKind::Databases,
            5,
        );
        let v = admission(&tariff("3.00"), &s, &client(), &[]).unwrap_err();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].field, "spec.resources");
    }
}

#[cfg(test)]
mod properties {
    //! Over arbitrary tariffs (every charging mode, weekend rule, deletion period and late fee
    //! type), services, suspension flags and days: the standing only moves forward in time,
    //! a renewal never makes things worse, and the timer is never late nor in the past.

    use proptest::prelude::*;

    use super::*;
    use crate::api::hosting_service::Renewal;
    use crate::api::tariff::{Charging, ChargingMode, LateFeeType, LateRenewalFee, PeriodPrices};
    use crate::billing::dates::add_days;
    use crate::billing::testing::{date, money, service, tariff};

    fn period() -> impl Strategy<Value = Period> {
        prop::sample::select(Period::ALL.to_vec())
    }

    fn arb_tariff() -> impl Strategy<Value = TariffSpec> {
        (
            0..4u8,
            1..=28u8,
            prop::sample::select(vec![
                WeekendSuspension::ProductTypeDefault,
                WeekendSuspension::Suspend,
                WeekendSuspension::DoNotSuspend,
            ]),
            prop::option::of(1u32..=90),
            prop::sample::select(vec![
                LateFeeType::None,
                LateFeeType::Fixed,
                LateFeeType::Percent,
                LateFeeType::RenewFromSuspensionDate,
            ]),
        )
            .prop_map(|(mode, day, weekend, deletion, fee)| {
                let mut t = tariff("3.00");
                t.prices = PeriodPrices {
                    one_month: Some(money("3.00")),
                    three_months: Some(money("8.50")),
                    six_months: Some(money("16.00")),
                    one_year: Some(money("30.00")),
                    three_years: Some(money("80.00")),
                };
                t.charging = match mode {
                    0 => Charging::default(),
                    1 => Charging {
                        mode: ChargingMode::Daily,
                        ..Charging::default()
                    },
                    2 => Charging {
                        mode: ChargingMode::Daily,
                        daily_cost_from_order_period: true,
                        ..Charging::default()
                    },
                    _ => Charging {
                        mode: ChargingMode::Calendar,
                        pro_rata_day: Some(day),
                        ..Charging::default()
                    },
                };
                t.policies.weekend_suspension = weekend;
                t.policies.auto_deletion_days = deletion;
                t.policies.late_renewal_fee = LateRenewalFee {
                    type_: fee,
                    amount: Some(money("1.50")),
                    percent: Some(50),
                };
                t
            })
    }

    /// A service started within ten years of 2024 with up to six renewals, each paid 0–150
    /// days after the previous payment (so some are early and some late).
    fn arb_service() -> impl Strategy<Value = HostingServiceSpec> {
        (
            period(),
            0i64..3650,
            prop::collection::vec((period(), 0i64..150), 0..6),
            any::<bool>(),
        )
            .prop_map(|(p, start, renewals, suspended)| {
                let start = add_days(date("2024-01-01"), start).unwrap();
                let mut s = service(p, &start.to_string(), &[]);
                let mut paid_on = start;
                for (period, gap) in renewals {
                    paid_on = add_days(paid_on, gap).unwrap();
                    s.renewals.push(Renewal {
                        period,
                        paid_on,
                        reference: None,
                    });
                }
                s.suspended = suspended;
                s
            })
    }

    fn arb_client() -> impl Strategy<Value = ClientSpec> {
        any::<bool>().prop_map(|suspended| ClientSpec {
            display_name: "Acme".into(),
            email: "ops@acme.example".into(),
            account_id: None,
            groups: vec![],
            suspended,
            suspension_reason: None,
        })
    }

    /// How far along its life a standing is; without renewals it never decreases.
    fn rank(s: &Standing) -> u8 {
        match s {
            Standing::Scheduled { .. } => 0,
            Standing::Active { .. } => 1,
            Standing::Suspended {
                cause: SuspensionCause::Unpaid,
                ..
            } => 3,
            Standing::Suspended { .. } => 2,
            Standing::Terminated { .. } => 4,
        }
    }

    fn day_after(s: &HostingServiceSpec, offset: i64) -> Date {
        add_days(s.start_date, offset).unwrap()
    }

    proptest! {
        #[test]
        fn without_renewals_the_standing_only_moves_forward(
            t in arb_tariff(),
            mut s in arb_service(),
            c in arb_client(),
            a in -60i64..2000,
            b in -60i64..2000,
        ) {
            s.renewals.clear();
            let (early, late) = (day_after(&s, a.min(b)), day_after(&s, a.max(b)));
            let first = standing(&t, &s, &c, early.0).unwrap();
            let second = standing(&t, &s, &c, late.0).unwrap();
            prop_assert!(rank(&first) <= rank(&second), "{first:?} on {early}, then {second:?} on {late}");
            // Within one suspension for non-payment, its start and deletion day stay put.
            if let (
                Standing::Suspended { cause: SuspensionCause::Unpaid, since: a, deletion_on: x, .. },
                Standing::Suspended { cause: SuspensionCause::Unpaid, since: b, deletion_on: y, .. },
            ) = (first, second) {
                prop_assert_eq!((a, x), (b, y));
            }
            if let (Standing::Terminated { since: a }, Standing::Terminated { since: b }) = (first, second) {
                prop_assert_eq!(a, b);
            }
        }

        #[test]
        fn adding_a_renewal_never_suspends_an_active_service(
            t in arb_tariff(),
            s in arb_service(),
            c in arb_client(),
            p in period(),
            gap in 0i64..400,
            d in -60i64..2500,
        ) {
            let last = s.renewals.last().map_or(s.start_date, |r| r.paid_on);
            let mut renewed = s.clone();
            renewed.renewals.push(Renewal { period: p, paid_on: add_days(last, gap).unwrap(), reference: None });
            let day = day_after(&s, d);
            let before = standing(&t, &s, &c, day.0).unwrap();
            let after = standing(&t, &renewed, &c, day.0).unwrap();
            if matches!(before, Standing::Active { .. }) {
                prop_assert!(matches!(after, Standing::Active { .. }), "{before:?} became {after:?} on {day}");
            }
            // More generally, a renewal never moves a service further along its life.
            prop_assert!(rank(&after) <= rank(&before), "{before:?} became {after:?} on {day}");
        }

        #[test]
        fn next_timer_is_after_today_and_nothing_changes_before_it(
            t in arb_tariff(),
            s in arb_service(),
            c in arb_client(),
            d in -60i64..2000,
            k in 1i64..4000,
        ) {
            let today = day_after(&s, d);
            let now = standing(&t, &s, &c, today.0).unwrap();
            match next_timer(&now) {
                Some(timer) => {
                    prop_assert!(timer > today, "{now:?} on {today} asks for {timer}");
                    let eve = add_days(timer, -1).unwrap();
                    prop_assert_eq!(standing(&t, &s, &c, eve.0).unwrap(), now);
                    let span = crate::billing::dates::days_between(today, timer);
                    let between = add_days(today, k % span).unwrap();
                    prop_assert_eq!(standing(&t, &s, &c, between.0).unwrap(), now);
                }
                None => {
                    let later = add_days(today, k).unwrap();
                    prop_assert_eq!(standing(&t, &s, &c, later.0).unwrap(), now);
                }
            }
        }

        #[test]
        fn an_admitted_service_always_has_a_standing(
            t in arb_tariff(),
            s in arb_service(),
            c in arb_client(),
            d in -60i64..2000,
        ) {
            prop_assert_eq!(admission(&t, &s, &c, &[]), Ok(()));
            prop_assert!(standing(&t, &s, &c, day_after(&s, d).0).is_ok());
        }
    }
}
