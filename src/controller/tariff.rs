//! The Tariff reconciler: judges the tariff with the validation rules against the namespace's
//! processing modules, reports what can be ordered and how many services use it.
//!
//! A tariff acts on no panel; its edits reach the panels through its services, whose
//! `status.tariffGeneration` counts the progress (`servicesUpdated` / `services`).

use std::sync::Arc;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::conditions::{self, Verdict};
use super::context::Context;
use super::{Error, judge, observe_annotations};
use crate::api::Tariff;
use crate::controller::reason::Reason;
use crate::validation::rules::orderable_periods;

pub async fn reconcile(tariff: Arc<Tariff>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = tariff.namespace().unwrap_or_default();
    let name = tariff.name_any();
    let missing: Vec<&str> = tariff
        .spec
        .processing_modules
        .iter()
        .filter(|r| Context::get(&ctx.modules, &ns, &r.name).is_none())
        .map(|r| r.name.as_str())
        .collect();
    let related = ctx
        .modules
        .state()
        .iter()
        .filter(|m| m.namespace().as_deref() == Some(&ns))
        .map(|m| judge::entry(&**m))
        .collect();
    let problems = judge::problems(&*tariff, related);

    let verdict = if !missing.is_empty() {
        Verdict::Stalled {
            reason: Reason::ReferenceNotFound,
            message: problems.join("; "),
        }
    } else if !problems.is_empty() {
        Verdict::Stalled {
            reason: Reason::InvalidSpec,
            message: problems.join("; "),
        }
    } else {
        let periods: Vec<&str> = orderable_periods(&tariff.spec)
            .iter()
            .map(|p| p.as_str())
            .collect();
        Verdict::Ready {
            reason: Reason::Available,
            message: format!("orderable for {}", periods.join(", ")),
        }
    };

    let generation = tariff.metadata.generation;
    let mut status = tariff.status.clone().unwrap_or_default();
    conditions::apply(&mut status.common, &verdict, generation, &ctx.timestamp());
    observe_annotations(&tariff.metadata, &mut status.common);
    crate::controller::metrics::judged("Tariff", &verdict);
    status.orderable_periods = if matches!(verdict, Verdict::Ready { .. }) {
        orderable_periods(&tariff.spec)
    } else {
        Vec::new()
    };
    let services: Vec<_> = ctx
        .services
        .state()
        .into_iter()
        .filter(|s| s.namespace().as_deref() == Some(&ns) && s.spec.tariff_ref.name == name)
        .collect();
    status.services = Some(services.len() as u32);
    status.services_updated = Some(
        services
            .iter()
            .filter(|s| s.status.as_ref().and_then(|st| st.tariff_generation) == generation)
            .count() as u32,
    );

    let api: Api<Tariff> = Api::namespaced(ctx.client.clone(), &ns);
    if super::status::write(&api, &name, tariff.status.as_ref(), &status).await? {
        super::announce(
            &ctx,
            &*tariff,
            tariff.status.as_ref().map(|s| &s.common),
            &verdict,
        )
        .await;
    }
    Ok(Action::await_change())
}

/// The reason a verdict is announced with, and its event type.
pub fn event_of(verdict: &Verdict) -> (EventType, Reason, &str) {
    match verdict {
        Verdict::Ready { reason, message } | Verdict::Progressing { reason, message } => {
            (EventType::Normal, *reason, message)
        }
        Verdict::Stalled { reason, message } | Verdict::Failed { reason, message } => {
            (EventType::Warning, *reason, message)
        }
    }
}
