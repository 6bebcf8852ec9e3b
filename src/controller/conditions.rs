//! Conditions as kstatus, Argo CD and Crossplane users read them: `Ready`, `Synced`, `Stalled`.
//!
//! Pure functions. A condition's `lastTransitionTime` changes only when its status changes, so
//! a reconcile that learns nothing new produces an identical status and no API write.

use crate::api::common::{CommonStatus, Condition, ConditionStatus};

pub const READY: &str = "Ready";
pub const SYNCED: &str = "Synced";
pub const STALLED: &str = "Stalled";

/// What a reconcile concluded, before it is turned into conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Usable; `reason` says how (e.g. `Available`).
    Ready { reason: String, message: String },
    /// Working towards ready (e.g. `Provisioning`); nothing is wrong.
    Progressing { reason: String, message: String },
    /// Only a spec change can fix this (invalid spec, missing reference).
    Stalled { reason: String, message: String },
    /// A transient failure (panel unreachable); retried with backoff.
    Failed { reason: String, message: String },
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
    let c = &mut status.conditions;
    match verdict {
        Verdict::Ready { reason, message } => {
            set(c, READY, True, reason, message, generation, now);
            set(c, SYNCED, True, "ReconcileSuccess", "", generation, now);
            set(c, STALLED, False, "", "", generation, now);
        }
        Verdict::Progressing { reason, message } => {
            set(c, READY, False, reason, message, generation, now);
            set(c, SYNCED, True, "ReconcileSuccess", "", generation, now);
            set(c, STALLED, False, "", "", generation, now);
        }
        Verdict::Stalled { reason, message } => {
            set(c, READY, False, reason, message, generation, now);
            set(c, SYNCED, False, reason, message, generation, now);
            set(c, STALLED, True, reason, message, generation, now);
        }
        Verdict::Failed { reason, message } => {
            set(c, READY, False, reason, message, generation, now);
            set(c, SYNCED, False, "ReconcileError", message, generation, now);
            set(c, STALLED, False, "", "", generation, now);
        }
    }
    status.observed_generation = generation;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready() -> Verdict {
        Verdict::Ready {
            reason: "Available".into(),
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
                reason: "InvalidSpec".into(),
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
                reason: "Unreachable".into(),
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
