//! The paid period of a service across its declared tariff changes: the order, renewals and
//! `spec.tariffChanges` replayed in date order, each sale priced by the tariff in force on its
//! day (issue 15: "the tariff the service moved from stays priced by its own prices and policy
//! for the days before").
//!
//! * The tariff in force on a day is the `fromTariffRef` of the first change after that day,
//!   else `spec.tariffRef`; on a change's own day it is already the new tariff.
//! * The order and each renewal are priced, charged and late-feed by the tariff of their day.
//! * A change is billed by the tariff moved from ([`change_tariff`]) against the paid period
//!   as it stood that morning, and then moves it ([`PaidPeriod::apply_change`]): `ChangePeriod`
//!   replaces the days left by the days the credit buys, `FullPayment` adds its new term (from
//!   the change day, forfeiting the days left, or from the expiry); the money-only policies
//!   leave the dates alone. A change comes before a renewal paid on the same day.
//!
//! So `paidUntil`, suspension and every amount stay a pure function of the spec and the
//! tariffs it names, and editing `spec.tariffRef` never re-prices the days before a change.

use super::change::{TariffChangeOutcome, change_tariff};
use super::events::{Tariffs, as_of, check_change};
use super::service::PaidPeriod;
use super::{BillingError, Result};
use crate::api::common::Date;
use crate::api::hosting_service::HostingServiceSpec;
use crate::api::tariff::TariffSpec;

/// One declared sale after the order, by its index in its spec list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `spec.renewals[i]`.
    Renewal(usize),
    /// `spec.tariffChanges[i]`.
    Change(usize),
}

/// A service and the tariffs its history names.
pub struct History<'a, 's> {
    current: &'a TariffSpec,
    tariffs: &'s Tariffs<'a>,
    service: &'s HostingServiceSpec,
}

impl<'a, 's> History<'a, 's> {
    /// `current` is the tariff of `spec.tariffRef`; `tariffs` finds the ones changed from.
    pub fn new(
        current: &'a TariffSpec,
        tariffs: &'s Tariffs<'a>,
        service: &'s HostingServiceSpec,
    ) -> Self {
        Self {
            current,
            tariffs,
            service,
        }
    }

    /// The service replayed.
    pub fn service(&self) -> &'s HostingServiceSpec {
        self.service
    }

    /// The tariff in force on `day`.
    pub fn tariff_on(&self, day: Date) -> Result<&'a TariffSpec> {
        match self
            .service
            .tariff_changes
            .iter()
            .find(|c| c.changed_on > day)
        {
            Some(c) => self.named(&c.from_tariff_ref.name),
            None => Ok(self.current),
        }
    }

    fn named(&self, name: &str) -> Result<&'a TariffSpec> {
        (self.tariffs)(name).ok_or_else(|| BillingError::UnknownTariff {
            name: name.to_owned(),
        })
    }

    /// Every step with its day, in date order; a change before a renewal of the same day,
    /// and each list in its own order (so a list out of order is still reported as such).
    pub fn steps(&self) -> Vec<(Date, Step)> {
        let renewals = &self.service.renewals;
        let changes = &self.service.tariff_changes;
        let (mut r, mut c) = (0, 0);
        let mut steps = Vec::with_capacity(renewals.len() + changes.len());
        while r < renewals.len() || c < changes.len() {
            let change_first = match (renewals.get(r), changes.get(c)) {
                (Some(renewal), Some(change)) => change.changed_on <= renewal.paid_on,
                (None, _) => true,
                (_, None) => false,
            };
            if change_first {
                steps.push((changes[c].changed_on, Step::Change(c)));
                c += 1;
            } else {
                steps.push((renewals[r].paid_on, Step::Renewal(r)));
                r += 1;
            }
        }
        steps
    }

    /// The tariff the service was ordered on: the one the first change moved from (even a
    /// change on the order day comes after the order), else the current one.
    pub fn ordered_on(&self) -> Result<&'a TariffSpec> {
        match self.service.tariff_changes.first() {
            Some(c) => self.named(&c.from_tariff_ref.name),
            None => Ok(self.current),
        }
    }

    /// The first order, on [`Self::ordered_on`].
    pub fn order(&self) -> Result<PaidPeriod> {
        PaidPeriod::order(self.ordered_on()?, self.service)
    }

    /// Records `step` in `paid`; a change returns its billing.
    pub fn apply(&self, paid: &mut PaidPeriod, step: Step) -> Result<Option<TariffChangeOutcome>> {
        match step {
            Step::Renewal(i) => {
                let r = &self.service.renewals[i];
                paid.renew(
                    self.tariff_on(r.paid_on)?,
                    self.service,
                    r.period,
                    r.paid_on,
                )?;
                Ok(None)
            }
            Step::Change(i) => {
                let change = &self.service.tariff_changes[i];
                let from = self.named(&change.from_tariff_ref.name)?;
                let on = change.changed_on;
                let to = self.tariff_on(on)?;
                check_change(from, to)?;
                let period = change.period.unwrap_or(self.service.period);
                let spec = as_of(self.service, on);
                let outcome = change_tariff(from, to, &spec, paid, on, period)?;
                paid.apply_change(i, on, &outcome);
                Ok(Some(outcome))
            }
        }
    }

    /// The paid period of the whole declaration.
    pub fn paid_period(&self) -> Result<PaidPeriod> {
        self.paid_while(|_, _| true)
    }

    /// The paid period as it stood when an event of `day` happened: the changes made up to
    /// that day and the renewals paid before it.
    pub fn paid_as_of(&self, day: Date) -> Result<PaidPeriod> {
        self.paid_while(|on, step| match step {
            Step::Change(_) => on <= day,
            Step::Renewal(_) => on < day,
        })
    }

    /// The billing of every declared change, in list order.
    pub fn changes(&self) -> Result<Vec<(usize, TariffChangeOutcome)>> {
        let mut paid = self.order()?;
        let mut found = Vec::new();
        for (_, step) in self.steps() {
            if let (Step::Change(i), Some(outcome)) = (step, self.apply(&mut paid, step)?) {
                found.push((i, outcome));
            }
        }
        Ok(found)
    }

    /// The steps taken while `take` holds, from the order on (steps are in date order, so
    /// the first refused one ends the replay).
    fn paid_while(&self, take: impl Fn(Date, Step) -> bool) -> Result<PaidPeriod> {
        let mut paid = self.order()?;
        for (on, step) in self.steps() {
            if !take(on, step) {
                break;
            }
            self.apply(&mut paid, step)?;
        }
        Ok(paid)
    }
}

/// No tariff but the current one: for services that declare no tariff change.
pub fn only_current<'a>(_: &str) -> Option<&'a TariffSpec> {
    None
}
