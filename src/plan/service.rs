//! One service in the plan: judged and placed in its paid life by the controller's own
//! functions, before and after the manifests, then handed to its product.

use kube::ResourceExt;

use super::observe::Observed;
use super::{ServicePlan, World, money, products};
use crate::api::HostingService;
use crate::api::hosting_service::ServicePhase;
use crate::api::tariff::ProductType;
use crate::billing::lifecycle::Standing;
use crate::billing::policy::ProductDefaults;
use crate::controller::conditions::Verdict;
use crate::controller::service::{self as reconciler, Order, Refs};

/// What the plan assumes about the day and the product types.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// The day to plan for; `None`: today in each tariff's time zone.
    pub today: Option<jiff::civil::Date>,
    /// The controller's `--auto-deletion-days`.
    pub defaults: ProductDefaults,
}

impl Settings {
    /// The day of the plan in the tariff's time zone (billing days are the tariff's).
    pub fn today_for(&self, tariff: &crate::api::TariffSpec) -> jiff::civil::Date {
        self.today.unwrap_or_else(|| {
            crate::controller::clock::Clock::system().today_in(&crate::billing::zone::of(tariff))
        })
    }

    fn today_of(&self, world: &World, service: &HostingService) -> jiff::civil::Date {
        let ns = service.namespace().unwrap_or_default();
        match world.tariff(&ns, &service.spec.tariff_ref.name) {
            Some(t) => self.today_for(&t.spec),
            None => self.today.unwrap_or_else(|| {
                crate::controller::clock::Clock::system().today_in(&jiff::tz::TimeZone::UTC)
            }),
        }
    }
}

/// How the controller sees a service in one world: its references and standing, or the
/// verdict that stops it.
pub fn judged(
    world: &World,
    service: &HostingService,
    settings: &Settings,
) -> Result<Refs, Verdict> {
    let (tariff, client) = reconciler::dereference_with(
        service,
        |ns, name| world.tariff(ns, name).cloned(),
        |ns, name| world.client(ns, name).cloned(),
    )?;
    let ns = service.namespace().unwrap_or_default();
    let earlier = crate::controller::tariff_history::earlier_tariffs_in(service, |ns, name| {
        world.tariff(ns, name).cloned()
    });
    let today = settings.today_for(&tariff.spec);
    let order = Order {
        related: reconciler::related(
            world.modules.iter().map(|m| &**m),
            &ns,
            &tariff,
            &earlier,
            &client,
        ),
        earlier: &earlier,
        others: &|| reconciler::earlier_services_of_client(world.services.clone(), service),
        today,
        defaults: &settings.defaults,
    };
    let priced_on = service.status.as_ref().and_then(|s| s.tariff.as_deref());
    reconciler::judge_order(service, tariff, client, priced_on, order)
}

/// The plan of the service `after` (as the manifests leave it), `before` being the live one
/// (`None` for a service the manifests add).
pub fn plan(
    before_world: &World,
    after_world: &World,
    before: Option<&HostingService>,
    after: &HostingService,
    observed: &Observed,
    pools: &mut products::PoolStock,
    settings: &Settings,
) -> ServicePlan {
    let mut plan = ServicePlan {
        namespace: after.namespace().unwrap_or_default(),
        name: after.name_any(),
        tariff: after.spec.tariff_ref.name.clone(),
        new: before.is_none(),
        ..ServicePlan::default()
    };
    let was = before.map(|b| judged(before_world, b, settings));
    let will = judged(after_world, after, settings);
    let refs = match will {
        Ok(refs) => refs,
        Err(verdict) => {
            let message = stall_message(&verdict);
            let stalled_before = matches!(&was, Some(Err(v)) if stall_message(v) == message);
            if !stalled_before {
                plan.stalls = Some(message);
            }
            return plan;
        }
    };
    let was = was.and_then(Result::ok);
    let before_quote =
        before.and_then(|b| money::quote(before_world, b, settings.today_of(before_world, b)));
    let after_quote = money::quote(after_world, after, settings.today_of(after_world, after));
    plan.money = money::changes(
        before.is_none(),
        before_quote.as_ref(),
        after_quote.as_ref(),
    );
    if matches!(refs.standing, Standing::Scheduled { .. }) {
        return plan;
    }
    let terminated = matches!(refs.standing, Standing::Terminated { .. });
    let already_terminated = after
        .status
        .as_ref()
        .is_some_and(|s| s.phase == ServicePhase::Terminated);
    if terminated && already_terminated {
        return plan;
    }
    let change = products::Change {
        before: before.zip(was.as_ref()),
        after: (after, &refs),
        terminated,
        observed,
    };
    match refs.tariff.spec.product_type {
        ProductType::SharedHosting => products::hosting(&change, after_world, &mut plan),
        ProductType::VirtualServer => products::server(&change, after_world, pools, &mut plan),
        ProductType::SoftwareLicense => products::license(&change, after_world, pools, &mut plan),
    }
    plan
}

fn stall_message(verdict: &Verdict) -> String {
    let (Verdict::Ready { message, .. }
    | Verdict::Progressing { message, .. }
    | Verdict::Stalled { message, .. }
    | Verdict::Failed { message, .. }) = verdict;
    format!("{}: {message}", verdict.reason().as_str())
}
