//! Which processing module a new service goes to (seed 002: "the module with the highest
//! priority; among equals the least loaded"). [`choose`] is pure; [`module_for`] gathers the
//! candidates from the controller's caches for every product. A service keeps its module once
//! placed (its claim, `hostplane.dev/claimed-module`, else `status.processingModule`).

use std::sync::Arc;

use kube::ResourceExt;

use super::{Outcome, Refs, failed, stalled};
use crate::api::hosting_service::HostingServiceStatus;
use crate::api::processing_module::ModuleType;
use crate::api::{HostingService, ProcessingModule};
use crate::controller::context::Context;
use crate::controller::reason::Reason;

/// A module a tariff names, as the reconciler sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    /// `spec.priority`: 1 is tried first.
    pub priority: u32,
    /// Services already placed on it.
    pub load: usize,
    /// The last connection check: `Some(false)` when it failed, `None` before the first check.
    pub healthy: Option<bool>,
}

/// The module of a service: the one it is placed on, else the one it names
/// (`spec.processingModuleRef`), else the best of its tariff's modules of type `type_`
/// ([`choose`]). A module that does not exist is `Stalled` (only a spec change helps); no
/// healthy module is a failure, retried with backoff.
pub fn module_for(
    service: &HostingService,
    refs: &Refs,
    ctx: &Context,
    status: &HostingServiceStatus,
    type_: ModuleType,
) -> Result<Arc<ProcessingModule>, Outcome> {
    let ns = service.namespace().unwrap_or_default();
    // The claim wins: it was written before anything was created, so a crash or a lost status
    // write never sends the service to another module (and a second account there).
    let claimed = service
        .annotations()
        .get(super::claim::CLAIMED_MODULE_ANNOTATION)
        .cloned();
    let fixed = claimed
        .or_else(|| status.processing_module.clone())
        .or_else(|| {
            service
                .spec
                .processing_module_ref
                .as_ref()
                .map(|r| r.name.clone())
        });
    if let Some(name) = fixed {
        return Context::get(&ctx.modules, &ns, &name).ok_or_else(|| {
            stalled(
                Reason::ReferenceNotFound,
                format!(
                    "the service is placed on processing module {name:?}, which does not exist"
                ),
            )
        });
    }
    let services = ctx.services.state();
    let candidates: Vec<Candidate> = refs
        .tariff
        .spec
        .processing_modules
        .iter()
        .filter_map(|r| Context::get(&ctx.modules, &ns, &r.name))
        .filter(|m| m.spec.type_ == type_)
        .map(|m| {
            let name = m.name_any();
            Candidate {
                load: services
                    .iter()
                    .filter(|s| {
                        s.namespace().as_deref() == Some(&ns) && super::placed_on(s) == Some(&name)
                    })
                    .count(),
                healthy: ctx.panels.healthy(&ns, &name),
                priority: m.spec.priority,
                name,
            }
        })
        .collect();
    let chosen = choose(&candidates).map_err(|why| failed(Reason::NoModuleAvailable, why))?;
    Context::get(&ctx.modules, &ns, &chosen.name)
        .ok_or_else(|| failed(Reason::NoModuleAvailable, "the chosen module disappeared"))
}

/// The module for a new service, or why there is none.
pub fn choose(candidates: &[Candidate]) -> Result<&Candidate, String> {
    if candidates.is_empty() {
        return Err("none of the tariff's processing modules exists".into());
    }
    candidates
        .iter()
        .filter(|c| c.healthy != Some(false))
        .min_by(|a, b| (a.priority, a.load, &a.name).cmp(&(b.priority, b.load, &b.name)))
        .ok_or_else(|| {
            let names: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
            format!(
                "every processing module of the tariff failed its connection check ({})",
                names.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, priority: u32, load: usize, healthy: Option<bool>) -> Candidate {
        Candidate {
            name: name.into(),
            priority,
            load,
            healthy,
        }
    }

    #[test]
    fn priority_first_then_least_loaded_then_name() {
        let list = [c("b", 2, 0, Some(true)), c("a", 1, 9, Some(true))];
        assert_eq!(choose(&list).unwrap().name, "a");
        let list = [c("a", 1, 9, Some(true)), c("b", 1, 3, Some(true))];
        assert_eq!(choose(&list).unwrap().name, "b");
        let list = [c("b", 1, 3, None), c("a", 1, 3, Some(true))];
        assert_eq!(choose(&list).unwrap().name, "a");
    }

    #[test]
    fn unhealthy_modules_are_skipped_and_all_unhealthy_is_explained() {
        let list = [c("a", 1, 0, Some(false)), c("b", 5, 100, None)];
        assert_eq!(choose(&list).unwrap().name, "b");
        let list = [c("a", 1, 0, Some(false))];
        assert!(choose(&list).unwrap_err().contains("(a)"));
        assert!(choose(&[]).is_err());
    }
}
