//! Conditions as kstatus, Argo CD and Crossplane users read them: `Ready`, `Synced`, `Stalled`
//! and `Reconciling`.
//!
//! kstatus (what Flux and `kubectl wait`-style tools judge health by) reads only `Reconciling`
//! and `Stalled` for a custom resource: without `Reconciling=True`, a service still being
//! provisioned or retrying a panel error would count as Current. So every verdict that is
//! neither done nor stuck says `Reconciling=True` with its reason ([`super::kstatus`] encodes
//! the rules and checks every verdict against them).
//!
//! Pure functions. A condition's `lastTransitionTime` changes only when its status changes, so
//! a reconcile that learns nothing new produces an identical status and no API write.

use crate::api::common::{CommonStatus, Condition, ConditionStatus};
use crate::controller::reason::Reason;

pub const READY: &str = "Ready";
pub const SYNCED: &str = "Synced";
pub const STALLED: &str = "Stalled";
pub const RECONCILING: &str = "Reconciling";

/// What a reconcile concluded, before it is turned into conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Usable; `reason` says how (e.g. `Available`).
    Ready { reason: Reason, message: String },
    /// Working towards ready (e.g. `Provisioning`); nothing is wrong.
    Progressing { reason: Reason, message: String },
    /// Only a spec change can fix this (invalid spec, missing reference).
    Stalled { reason: Reason, message: String },
    /// A transient failure (panel unreachable); retried with backoff.
    Failed { reason: Reason, message: String },
}

impl Verdict {
    /// The reason, whatever the verdict.
    pub fn reason(&self) -> Reason {
        match self {
            Verdict::Ready { reason, .. }
            | Verdict::Progressing { reason, .. }
            | Verdict::Stalled { reason, .. }
            | Verdict::Failed { reason, .. } => *reason,
        }
    }
}

/// Sets `type_` to `status`, keeping the transition time when the status is unchanged.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &str,
) {
    let existing = conditions.iter_mut().find(|c| c.type_ == type_);
    let transition = match &existing {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Some(now.to_owned()),
    };
    let new = Condition {
        type_: type_.to_owned(),
        status,
        reason: reason.to_owned(),
        message: message.to_owned(),
        last_transition_time: transition,
        observed_generation: generation,
    };
    match existing {
        Some(c) => *c = new,
        None => conditions.push(new),
    }
}

/// The status of condition `type_`, if present.
pub fn status_of(conditions: &[Condition], type_: &str) -> Option<ConditionStatus> {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status)
}

/// Writes a verdict into the common status: the three conditions and observedGeneration.
pub fn apply(status: &mut CommonStatus, verdict: &Verdict, generation: Option<i64>, now: &str) {
    use ConditionStatus::{False, True};
    let (reason, message) = match verdict {
        Verdict::Ready { reason, message }
        | Verdict::Progressing { reason, message }
        | Verdict::Stalled { reason, message }
        | Verdict::Failed { reason, message } => (reason.as_str(), message.as_str()),
    };
    let ready = if matches!(verdict, Verdict::Ready { .. }) {
        True
    } else {
        False
    };
    // Synced: whether this reconcile went through; Stalled: whether only a change can help.
    let (synced, stalled) = match verdict {
        Verdict::Ready { .. } | Verdict::Progressing { .. } => (
            (True, Reason::ReconcileSuccess.as_str(), ""),
            (False, "", ""),
        ),
        Verdict::Stalled { .. } => ((False, reason, message), (True, reason, message)),
        Verdict::Failed { .. } => (
            (False, Reason::ReconcileError.as_str(), message),
            (False, "", ""),
        ),
    };
    // Reconciling: still working towards Ready (provisioning, a panel task, a retry).
    let reconciling = match verdict {
        Verdict::Progressing { .. } | Verdict::Failed { .. } => (True, reason, message),
        Verdict::Ready { .. } | Verdict::Stalled { .. } => (False, "", ""),
    };
    let c = &mut status.conditions;
    set(c, READY, ready, reason, message, generation, now);
    set(c, SYNCED, synced.0, synced.1, synced.2, generation, now);
    set(c, STALLED, stalled.0, stalled.1, stalled.2, generation, now);
    set(
        c,
        RECONCILING,
        reconciling.0,
        reconciling.1,
        reconciling.2,
        generation,
        now,
    );
    status.observed_generation = generation;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready() -> Verdict {
        Verdict::Ready {
            reason: Reason::Available,
            message: String::new(),
        }
    }

    #[test]
    fn transition_time_moves_only_when_the_status_changes() {
        let mut s = CommonStatus::default();
        apply(&mut s, &ready(), Some(1), "t1");
        let first = s.clone();
        apply(&mut s, &ready(), Some(1), "t2");
        assert_eq!(s, first, "nothing new learned, nothing to write");
        apply(
            &mut s,
            &Verdict::Stalled {
                reason: Reason::InvalidSpec,
                message: "spec.prices: ...".into(),
            },
            Some(2),
            "t3",
        );
        let ready = s.conditions.iter().find(|c| c.type_ == READY).unwrap();
        assert_eq!(
            (ready.status, ready.last_transition_time.as_deref()),
            (ConditionStatus::False, Some("t3"))
        );
        assert_eq!(
            status_of(&s.conditions, STALLED),
            Some(ConditionStatus::True)
        );
        assert_eq!(s.observed_generation, Some(2));
    }

    #[test]
    fn a_transient_failure_is_not_stalled() {
        let mut s = CommonStatus::default();
        apply(
            &mut s,
            &Verdict::Failed {
                reason: Reason::Unreachable,
                message: "connection refused".into(),
            },
            Some(1),
            "t",
        );
        assert_eq!(
            status_of(&s.conditions, SYNCED),
            Some(ConditionStatus::False)
        );
        assert_eq!(
            status_of(&s.conditions, STALLED),
            Some(ConditionStatus::False)
        );
    }
}
