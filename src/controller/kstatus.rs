//! kstatus's verdict on an object, as Flux, `kstatus` and the cli-utils apply/wait tools compute
//! it for a custom resource they have no special rules for (upstream `kstatus/status`:
//! generic properties, then the `Reconciling` and `Stalled` conditions):
//!
//! 1. `status.observedGeneration` behind `metadata.generation`: **InProgress** (the latest spec
//!    was not looked at yet);
//! 2. `Reconciling=True`: **InProgress**;
//! 3. `Stalled=True`: **Failed**;
//! 4. otherwise **Current**.
//!
//! `Ready` plays no part upstream, which is why hostplane writes `Reconciling`
//! ([`super::conditions`]). Kept here, pure, so that the rule and the statuses hostplane writes
//! are checked against each other in one place.

use crate::api::common::{CommonStatus, ConditionStatus};
use crate::controller::conditions::{RECONCILING, STALLED, status_of};

/// kstatus's three outcomes for a custom resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KStatus {
    Current,
    InProgress,
    Failed,
}

/// kstatus's verdict on an object of `generation` with `status`.
pub fn kstatus(generation: Option<i64>, status: &CommonStatus) -> KStatus {
    if let (Some(generation), Some(observed)) = (generation, status.observed_generation)
        && observed != generation
    {
        return KStatus::InProgress;
    }
    if status_of(&status.conditions, RECONCILING) == Some(ConditionStatus::True) {
        return KStatus::InProgress;
    }
    if status_of(&status.conditions, STALLED) == Some(ConditionStatus::True) {
        return KStatus::Failed;
    }
    KStatus::Current
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::conditions::{READY, Verdict, apply};
    use crate::controller::reason::Reason;

    fn written(verdict: &Verdict) -> CommonStatus {
        let mut status = CommonStatus::default();
        apply(&mut status, verdict, Some(3), "t");
        status
    }

    /// Every verdict any kind can reach (each kind writes its status through
    /// `conditions::apply`), and what GitOps tools must conclude from it.
    #[test]
    fn every_verdict_reads_as_gitops_tools_should_judge_it() {
        let message = String::from("m");
        let cases = [
            (
                Verdict::Ready {
                    reason: Reason::Available,
                    message: message.clone(),
                },
                KStatus::Current,
            ),
            (
                Verdict::Ready {
                    reason: Reason::Suspended,
                    message: message.clone(),
                },
                KStatus::Current,
            ),
            (
                Verdict::Progressing {
                    reason: Reason::Installing,
                    message: message.clone(),
                },
                KStatus::InProgress,
            ),
            (
                Verdict::Failed {
                    reason: Reason::PanelError,
                    message: message.clone(),
                },
                KStatus::InProgress,
            ),
            (
                Verdict::Failed {
                    reason: Reason::OutcomeUnknown,
                    message: message.clone(),
                },
                KStatus::InProgress,
            ),
            (
                Verdict::Stalled {
                    reason: Reason::InvalidSpec,
                    message: message.clone(),
                },
                KStatus::Failed,
            ),
        ];
        for (verdict, want) in cases {
            let status = written(&verdict);
            assert_eq!(kstatus(Some(3), &status), want, "{verdict:?}");
            // The reason of an object in progress says why, where people look for it.
            if want == KStatus::InProgress {
                let reconciling = status
                    .conditions
                    .iter()
                    .find(|c| c.type_ == RECONCILING)
                    .expect("a Reconciling condition");
                assert_eq!(reconciling.reason, verdict.reason().as_str());
            }
            assert!(status.conditions.iter().any(|c| c.type_ == READY));
        }
    }

    #[test]
    fn a_spec_not_yet_looked_at_is_in_progress_whatever_the_conditions() {
        let status = written(&Verdict::Ready {
            reason: Reason::Available,
            message: String::new(),
        });
        assert_eq!(kstatus(Some(4), &status), KStatus::InProgress);
        assert_eq!(kstatus(Some(3), &status), KStatus::Current);
    }

    #[test]
    fn a_retry_that_succeeds_is_current_again() {
        let mut status = CommonStatus::default();
        let failed = Verdict::Failed {
            reason: Reason::Unreachable,
            message: "connection refused".into(),
        };
        apply(&mut status, &failed, Some(1), "t1");
        assert_eq!(kstatus(Some(1), &status), KStatus::InProgress);
        let ready = Verdict::Ready {
            reason: Reason::Available,
            message: String::new(),
        };
        apply(&mut status, &ready, Some(1), "t2");
        assert_eq!(kstatus(Some(1), &status), KStatus::Current);
    }
}
