//! `hostplane plan`: what applying manifests would do at the panels, before it is done.
//!
//! The plan lays the manifests over the live objects ([`world`]) and asks, for every service
//! of the namespaces they touch, the very functions the controller decides with: the judge and
//! the standing (`controller::service::judge_order`), the account diff
//! (`controller::service::plan`), the next server step (`virtual_server::plan::next_step`), and
//! the billing quote. What the panels hold is either read with read-only calls (`--panels`,
//! [`observe`]) or taken to be what the live objects declare (the controller keeps them so).
//! So the plan cannot disagree with what the controller then does, except where the panel
//! changes in between.

pub mod money;
pub mod observe;
pub mod products;
pub mod render;
pub mod service;
pub mod world;

#[cfg(test)]
mod examples_tests;

use std::collections::BTreeMap;

use serde::Serialize;

pub use world::World;

use kube::ResourceExt;

/// The plan of every service of `after` (the live objects with the manifests applied)
/// against `before` (the live objects).
pub fn plan(
    before: &World,
    after: &World,
    observed: &observe::Observed,
    settings: &service::Settings,
) -> Plan {
    let mut pools = products::PoolStock::default();
    let mut services: Vec<_> = after.services.iter().collect();
    services.sort_by_key(|s| (s.namespace(), s.name_any()));
    let plans = services
        .into_iter()
        .map(|s| {
            let ns = s.namespace().unwrap_or_default();
            let live = before.service(&ns, &s.name_any()).map(|b| &**b);
            service::plan(before, after, live, s, observed, &mut pools, settings)
        })
        .collect();
    Plan::from_services(plans, after)
}

/// One change at a panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    CreateAccount,
    ChangeTemplate,
    ChangeLimits,
    SuspendAccount,
    ResumeAccount,
    DeleteAccount,
    CreateServer,
    StopServer,
    StartServer,
    RestartServer,
    ReinstallServer,
    ResizeServer,
    GrowDisk,
    DeleteServer,
    BuyLicense,
    TakeLicenseFromPool,
    ChangeLicenseType,
    SuspendLicense,
    ResumeLicense,
    ReleaseLicenseToPool,
}

impl Action {
    /// What a pipeline should ask a person about: data or money goes (deletes, terminations,
    /// reinstalls, purchases).
    pub fn destructive(self) -> bool {
        matches!(
            self,
            Action::DeleteAccount
                | Action::DeleteServer
                | Action::ReinstallServer
                | Action::BuyLicense
                | Action::ChangeLicenseType
        )
    }

    /// The words people read.
    pub fn verb(self) -> &'static str {
        match self {
            Action::CreateAccount => "create account",
            Action::ChangeTemplate => "change account template",
            Action::ChangeLimits => "change limits",
            Action::SuspendAccount => "suspend account",
            Action::ResumeAccount => "resume account",
            Action::DeleteAccount => "delete account",
            Action::CreateServer => "create server",
            Action::StopServer => "stop server",
            Action::StartServer => "start server",
            Action::RestartServer => "restart server",
            Action::ReinstallServer => "reinstall server",
            Action::ResizeServer => "resize server",
            Action::GrowDisk => "grow disk",
            Action::DeleteServer => "delete server",
            Action::BuyLicense => "buy license",
            Action::TakeLicenseFromPool => "take license from pool",
            Action::ChangeLicenseType => "change license type",
            Action::SuspendLicense => "suspend license",
            Action::ResumeLicense => "resume license",
            Action::ReleaseLicenseToPool => "release license to pool",
        }
    }
}

/// One planned operation of a service.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub action: Action,
    /// What exactly changes (`limit_quota 1024 -> 2048`, the licence type, the OS).
    pub detail: String,
    /// Why: the edit or the standing that asks for it.
    pub reason: String,
    /// The panel function(s) the controller calls for it (`user.edit`).
    pub panel_calls: Vec<&'static str>,
}

/// A change of what the service costs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MoneyChange {
    /// `orderPrice`, `setupFee`, `renewalPrice` or `lateFee`.
    pub item: &'static str,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// What applying the manifests does to one service.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePlan {
    pub namespace: String,
    pub name: String,
    pub tariff: String,
    /// A service the manifests add.
    pub new: bool,
    pub operations: Vec<Operation>,
    pub money: Vec<MoneyChange>,
    /// The service would be `Stalled` (nothing done at a panel) and was not before: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stalls: Option<String>,
    /// What the plan could not know (e.g. the panel state without `--panels`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl ServicePlan {
    pub fn changes_anything(&self) -> bool {
        !self.operations.is_empty() || !self.money.is_empty() || self.stalls.is_some()
    }
}

/// Per tariff: how many services the change touches.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TariffImpact {
    pub namespace: String,
    pub name: String,
    pub services: usize,
    pub services_affected: usize,
}

/// The whole plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Services with something to do, in namespace and name order.
    pub services: Vec<ServicePlan>,
    pub tariffs: Vec<TariffImpact>,
    /// Licences to buy, by type.
    pub licenses_to_buy: BTreeMap<String, u32>,
    /// Operations by action.
    pub counts: BTreeMap<String, usize>,
    pub destructive: bool,
    /// Services that would newly be `Stalled`.
    pub stalled: usize,
}

impl Plan {
    /// Gathers the service plans into the totals.
    pub fn from_services(services: Vec<ServicePlan>, after: &World) -> Plan {
        let mut plan = Plan::default();
        for s in &services {
            for op in &s.operations {
                *plan.counts.entry(op.action.verb().to_owned()).or_default() += 1;
                plan.destructive |= op.action.destructive();
                if op.action == Action::BuyLicense {
                    *plan.licenses_to_buy.entry(op.detail.clone()).or_default() += 1;
                }
            }
            plan.stalled += usize::from(s.stalls.is_some());
        }
        for tariff in &after.tariffs {
            let ns = tariff.namespace().unwrap_or_default();
            let name = tariff.name_any();
            let on = |s: &&ServicePlan| s.namespace == ns && s.tariff == name;
            let total = after
                .services
                .iter()
                .filter(|s| {
                    s.namespace().as_deref() == Some(&*ns) && s.spec.tariff_ref.name == name
                })
                .count();
            let affected = services
                .iter()
                .filter(on)
                .filter(|s| s.changes_anything())
                .count();
            plan.tariffs.push(TariffImpact {
                namespace: ns.clone(),
                name: name.clone(),
                services: total,
                services_affected: affected,
            });
        }
        plan.services = services
            .into_iter()
            .filter(ServicePlan::changes_anything)
            .collect();
        plan
    }

    /// 0: nothing destructive; 2: the plan deletes, terminates, reinstalls or buys (a pipeline
    /// asks for approval); 1 is left for errors, including services the change would stall.
    pub fn exit_status(&self) -> u8 {
        if self.stalled > 0 {
            1
        } else if self.destructive {
            2
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service_with(action: Action) -> ServicePlan {
        ServicePlan {
            namespace: "ns".into(),
            name: "web".into(),
            tariff: "start".into(),
            operations: vec![Operation {
                action,
                detail: "3541".into(),
                reason: "new service".into(),
                panel_calls: vec![],
            }],
            ..ServicePlan::default()
        }
    }

    #[test]
    fn a_pipeline_is_asked_for_approval_only_when_data_or_money_goes() {
        let world = World::default();
        let mild = Plan::from_services(vec![service_with(Action::ChangeLimits)], &world);
        assert_eq!(mild.exit_status(), 0);
        for action in [
            Action::DeleteAccount,
            Action::DeleteServer,
            Action::ReinstallServer,
            Action::BuyLicense,
        ] {
            let plan = Plan::from_services(vec![service_with(action)], &world);
            assert_eq!(plan.exit_status(), 2, "{action:?}");
        }
        let bought = Plan::from_services(vec![service_with(Action::BuyLicense)], &world);
        assert_eq!(bought.licenses_to_buy, BTreeMap::from([("3541".into(), 1)]));
    }

    #[test]
    fn a_service_left_stalled_is_an_error_whatever_else_is_planned() {
        let mut stalled = service_with(Action::BuyLicense);
        stalled.stalls = Some("InvalidSpec: spec.period: not sold".into());
        let plan = Plan::from_services(vec![stalled], &World::default());
        assert_eq!(plan.stalled, 1);
        assert_eq!(plan.exit_status(), 1);
    }

    #[test]
    fn services_with_nothing_to_do_are_left_out() {
        let idle = ServicePlan::default();
        let plan = Plan::from_services(vec![idle], &World::default());
        assert!(plan.services.is_empty());
        assert_eq!(plan.exit_status(), 0);
    }
}
