//! The difference between the account a service declares and the account ispmanager reports,
//! as the ordered steps that close it. Pure, so every case is a unit test.

use std::collections::BTreeMap;

use super::desired::DesiredAccount;
use crate::panel::ispmanager::User;

/// One change at ispmanager.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `user.add.finish` with the preset, the limits and the site.
    Create,
    /// `user.edit` with a new preset (a tariff change) and/or the limits that differ. A new
    /// preset resets the account to the template's limits, so it is sent with every limit.
    SetPlan {
        preset: Option<String>,
        limits: BTreeMap<String, String>,
    },
    Suspend,
    Resume,
}

impl Step {
    /// A short verb for events and logs.
    pub fn describe(&self) -> String {
        match self {
            Step::Create => "created the account".into(),
            Step::SetPlan {
                preset: Some(p), ..
            } => format!("changed the account template to {p} and set the limits"),
            Step::SetPlan { limits, .. } => {
                let names: Vec<&str> = limits.keys().map(String::as_str).collect();
                format!("set {}", names.join(", "))
            }
            Step::Suspend => "suspended the account".into(),
            Step::Resume => "resumed the account".into(),
        }
    }
}

/// The steps that turn `observed` into `desired` (active or suspended as `active` says).
pub fn plan(desired: &DesiredAccount, active: bool, observed: Option<&User>) -> Vec<Step> {
    let Some(user) = observed else {
        let mut steps = vec![Step::Create];
        if !active {
            steps.push(Step::Suspend);
        }
        return steps;
    };
    let mut steps = Vec::new();
    if user.preset != desired.preset {
        steps.push(Step::SetPlan {
            preset: Some(desired.preset.clone()),
            limits: desired.limits.clone(),
        });
    } else {
        let differing: BTreeMap<String, String> = desired
            .limits
            .iter()
            .filter(|(k, v)| user.limits.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !differing.is_empty() {
            steps.push(Step::SetPlan {
                preset: None,
                limits: differing,
            });
        }
    }
    match (user.active, active) {
        (true, false) => steps.push(Step::Suspend),
        (false, true) => steps.push(Step::Resume),
        _ => {}
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> DesiredAccount {
        DesiredAccount {
            username: "web1".into(),
            domain: "web1.example".into(),
            preset: "basic".into(),
            limits: [("limit_quota", "2048"), ("limit_db", "3")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            fullname: "Jane".into(),
        }
    }

    fn user_like(d: &DesiredAccount) -> User {
        User {
            name: d.username.clone(),
            fullname: d.fullname.clone(),
            active: true,
            level: Some(16),
            preset: d.preset.clone(),
            limits: d.limits.clone(),
        }
    }

    #[test]
    fn a_missing_account_is_created_and_suspended_if_it_must_be() {
        assert_eq!(plan(&desired(), true, None), vec![Step::Create]);
        assert_eq!(
            plan(&desired(), false, None),
            vec![Step::Create, Step::Suspend]
        );
    }

    #[test]
    fn an_account_as_declared_needs_nothing() {
        let d = desired();
        let mut u = user_like(&d);
        // Limits the tariff does not declare are the panel's business.
        u.limits.insert("limit_emails".into(), "10".into());
        assert!(plan(&d, true, Some(&u)).is_empty());
    }

    #[test]
    fn only_differing_limits_are_sent() {
        let d = desired();
        let mut u = user_like(&d);
        u.limits.insert("limit_quota".into(), "1024".into());
        assert_eq!(
            plan(&d, true, Some(&u)),
            vec![Step::SetPlan {
                preset: None,
                limits: [("limit_quota".to_owned(), "2048".to_owned())].into()
            }]
        );
    }

    #[test]
    fn a_new_template_is_sent_with_every_limit() {
        let d = desired();
        let mut u = user_like(&d);
        u.preset = "old".into();
        assert_eq!(
            plan(&d, true, Some(&u)),
            vec![Step::SetPlan {
                preset: Some("basic".into()),
                limits: d.limits.clone()
            }]
        );
    }

    #[test]
    fn suspension_follows_the_declared_state_both_ways() {
        let d = desired();
        let mut u = user_like(&d);
        assert_eq!(plan(&d, false, Some(&u)), vec![Step::Suspend]);
        u.active = false;
        assert_eq!(plan(&d, true, Some(&u)), vec![Step::Resume]);
        assert!(plan(&d, false, Some(&u)).is_empty());
    }
}
