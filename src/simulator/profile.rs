//! How closely the simulated panels follow what the real ones answer: a [`Dialect`] of
//! switches, and two named [`Profile`]s.
//!
//! Why: the simulator and the clients were first written from the same reference page, so the
//! simulator answered with every field the clients hoped for. Production clients (reference
//! §11) show that real panels leave some of them out. Each such difference is a switch here, so
//! a test can put the panel into any answer the reference documents, and `hostplane doctor`
//! can be shown a panel that has every fact and one that lacks some.
//!
//! - [`Profile::Strict`] (the default): what §11 says real panels answer. The whole test suite
//!   runs against it.
//! - [`Profile::Complete`]: every field the earlier sections of the reference describe, as the
//!   first simulator answered. Kept so that a client's fallback and its preferred reading are
//!   both exercised, and so `doctor` can be shown a panel with nothing missing.
//!
//! Set at start (`hostplane simulate --profile`, [`super::Config::dialect`]) or at run time
//! (`POST /_admin/profile`: `{"profile":"complete"}` and/or single switches).

use serde::{Deserialize, Serialize};

/// A named set of switches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// What real panels answer (reference §11).
    #[default]
    Strict,
    /// Every field the reference's earlier sections describe.
    Complete,
}

/// Where an order or create answer carries the new object's id (reference §11, "licence
/// order id": production clients disagree, so all three are real).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdPlacement {
    /// `<doc><id>7</id></doc>`: what the official module reads.
    #[default]
    Id,
    /// `<doc><item><id>7</id></item></doc>`: what jbs reads.
    ItemId,
    /// `{"doc":{"id":{"v":"7"}}}`-style: what bjson clients read.
    IdV,
}

/// The switches. Field names are the JSON keys of `POST /_admin/profile`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Dialect {
    /// ispmanager `user.edit&elid=NAME` for an unknown name answers an error (`value`/`elid`).
    /// Off: it answers an empty form without an error, as production clients found (§11,
    /// "does a user exist?").
    pub isp_unknown_user_is_error: bool,
    /// ispmanager's `user` list carries `active=off` for suspended users. Off: the field is
    /// left out for them (present only as `on`), as some builds do (§11, "`active` in the user
    /// list").
    pub isp_lists_inactive: bool,
    /// VMmanager 5's `vm` list carries `state` (`on`/`off`) besides `vmpowered`/`vmstatus`.
    /// Off: only `vmpowered`/`vmstatus`, as the real panel (§11, "VMmanager 5 power state").
    pub vm5_lists_state: bool,
    /// BILLmanager's `soft` list echoes each licence's `remoteid`. Off: it does not (§11,
    /// "`remoteid` in the `soft` list"); `soft.edit` still shows it.
    pub soft_lists_remoteid: bool,
    /// Where `soft.order.param` puts the new licence's id.
    pub order_id: IdPlacement,
    /// ispmanager users made with a template stay bound to it: every limit the template sets
    /// keeps the template's value, whatever `limit_*` a create or an edit sends; only limits
    /// the template leaves out take the values sent. Off in both profiles, where the panel
    /// stores the limits sent per user (§2.3). On: a panel whose templates lock their limits,
    /// or a template that disagrees with the tariff, which is what `hostplane test-order`
    /// exists to catch before a customer does.
    pub isp_template_binds_limits: bool,
}

impl Default for Dialect {
    fn default() -> Self {
        Profile::default().dialect()
    }
}

impl Profile {
    /// The switches of this profile.
    pub fn dialect(self) -> Dialect {
        match self {
            Profile::Strict => Dialect {
                isp_unknown_user_is_error: false,
                isp_lists_inactive: false,
                vm5_lists_state: false,
                soft_lists_remoteid: false,
                order_id: IdPlacement::ItemId,
                isp_template_binds_limits: false,
            },
            Profile::Complete => Dialect {
                isp_unknown_user_is_error: true,
                isp_lists_inactive: true,
                vm5_lists_state: true,
                soft_lists_remoteid: true,
                order_id: IdPlacement::Id,
                isp_template_binds_limits: false,
            },
        }
    }
}

/// The body of `POST /_admin/profile`: a profile to start from (else the current switches),
/// then any single switch.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialectChange {
    pub profile: Option<Profile>,
    pub isp_unknown_user_is_error: Option<bool>,
    pub isp_lists_inactive: Option<bool>,
    pub vm5_lists_state: Option<bool>,
    pub soft_lists_remoteid: Option<bool>,
    pub order_id: Option<IdPlacement>,
    pub isp_template_binds_limits: Option<bool>,
}

impl DialectChange {
    /// The dialect after this change is applied to `current`.
    pub fn apply(&self, current: Dialect) -> Dialect {
        let mut d = self.profile.map_or(current, Profile::dialect);
        let set = |field: &mut bool, value: Option<bool>| {
            if let Some(v) = value {
                *field = v;
            }
        };
        set(
            &mut d.isp_unknown_user_is_error,
            self.isp_unknown_user_is_error,
        );
        set(&mut d.isp_lists_inactive, self.isp_lists_inactive);
        set(&mut d.vm5_lists_state, self.vm5_lists_state);
        set(&mut d.soft_lists_remoteid, self.soft_lists_remoteid);
        set(
            &mut d.isp_template_binds_limits,
            self.isp_template_binds_limits,
        );
        if let Some(placement) = self.order_id {
            d.order_id = placement;
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_starts_from_a_profile_then_sets_single_switches() {
        let change: DialectChange =
            serde_json::from_str(r#"{"profile":"complete","soft_lists_remoteid":false}"#).unwrap();
        let d = change.apply(Profile::Strict.dialect());
        assert!(d.isp_unknown_user_is_error && d.vm5_lists_state);
        assert!(!d.soft_lists_remoteid);
        assert_eq!(d.order_id, IdPlacement::Id);
    }

    #[test]
    fn a_change_without_a_profile_keeps_the_current_switches() {
        let change: DialectChange = serde_json::from_str(r#"{"order_id":"id_v"}"#).unwrap();
        let d = change.apply(Profile::Complete.dialect());
        assert_eq!(d.order_id, IdPlacement::IdV);
        assert!(d.soft_lists_remoteid);
    }

    #[test]
    fn an_unknown_switch_is_refused() {
        assert!(serde_json::from_str::<DialectChange>(r#"{"remoteid":false}"#).is_err());
    }
}
