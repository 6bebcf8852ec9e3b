//! The audit after the soak: what the panels hold (read over their own protocols) against what
//! the cluster says, the licensing server's order log against the needs, and the controllers'
//! log lines against the run's passwords. Pure: it is fed a [`State`] and returns findings,
//! so its unit tests feed it a duplicate, a leak, a double purchase... and see it report them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use rust_decimal::Decimal;

/// What kind of thing went wrong; each is a counter of the final JSON line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A service holds two panel objects where it should hold one.
    Duplicate,
    /// A panel object no service claims (and, for a licence, not in the pool).
    Leak,
    /// A licence ordered (or prolonged) twice for one need, or ordered for no need.
    DoublePurchase,
    /// A live service's object, or a deleted `Orphan` service's object, is missing.
    Lost,
    /// The balance does not match the order log, or the log holds unjustified money.
    Money,
    /// A service that did not settle (not Ready, or still being deleted) after the faults.
    Unsettled,
    /// A password of the run in a controller's log line.
    SecretInLog,
}

/// One finding, with the objects involved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub kind: Kind,
    pub what: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.what)
    }
}

/// One object at a panel, as its own protocol lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PanelObject {
    /// The processing module whose panel lists it.
    pub module: String,
    /// What a claim names it by: the ispmanager user name, the VMmanager host name, the
    /// licence id.
    pub key: String,
    /// A licence's correlation id (`remoteid` or the tag in its name).
    pub correlation: Option<String>,
    /// A licence the panel shows pooled (`free.lic` on `0.0.0.0`).
    pub pooled: bool,
}

/// An object a service claims: its account, server or licence on a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// `namespace/name` of the service.
    pub service: String,
    pub module: String,
    /// What the panel object is called ([`PanelObject::key`]); `None` when the service
    /// records nothing although it should (lost).
    pub key: Option<String>,
    /// For a licence: the need's `remoteid`, so that a second licence of the need is seen.
    pub remoteid: Option<String>,
    /// The service's status recorded the object as made (a server's or account's
    /// `externalName`, a licence id). A deleted `Orphan` service that recorded nothing may
    /// have been deleted before its create: its name is then only exempt from the leak check.
    pub recorded: bool,
}

/// One debit of the licensing account (the simulator's order log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charge {
    pub license: String,
    pub remoteid: String,
    /// `order` or `prolong`.
    pub what: String,
    pub amount: Decimal,
    pub date: String,
}

/// Everything the audit compares.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// Claims of the services that exist (each must hold exactly its object).
    pub live: Vec<Claim>,
    /// Claims of services deleted with `deletionPolicy: Orphan` (their objects must stay).
    pub orphaned: Vec<Claim>,
    /// Services that did not settle, with why.
    pub unsettled: Vec<String>,
    /// Every object the panels list.
    pub panels: Vec<PanelObject>,
    /// Licence ids the LicensePools report as pooled.
    pub pool: BTreeSet<String>,
    /// Every `remoteid` a service of the run needed a licence under.
    pub needs: BTreeSet<String>,
    pub charges: Vec<Charge>,
    /// The licensing balance before the run and now.
    pub balance_before: Decimal,
    pub balance_after: Decimal,
}

/// The findings of one audit, and the money it looked at.
#[derive(Clone, Debug, Default)]
pub struct Audit {
    pub findings: Vec<Finding>,
    /// What the order log debited in all.
    pub spent: Decimal,
    /// What the needs justify: the first order of each need, one prolongation per licence
    /// and day.
    pub justified: Decimal,
}

impl Audit {
    pub fn count(&self, kind: Kind) -> usize {
        self.findings.iter().filter(|f| f.kind == kind).count()
    }

    pub fn clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Audits `state`.
pub fn audit(state: &State) -> Audit {
    let mut out = Audit::default();
    let mut push = |kind, what: String| out.findings.push(Finding { kind, what });
    for why in &state.unsettled {
        push(Kind::Unsettled, why.clone());
    }
    let at = |module: &str, key: &str| -> Vec<&PanelObject> {
        state
            .panels
            .iter()
            .filter(|o| o.module == module && o.key == key)
            .collect()
    };
    // Every live service holds exactly its object, on its recorded module.
    for claim in &state.live {
        let Some(key) = &claim.key else {
            push(
                Kind::Lost,
                format!("{} records nothing on {}", claim.service, claim.module),
            );
            continue;
        };
        match at(&claim.module, key).len() {
            0 => push(
                Kind::Lost,
                format!("{}: {key} is not at {}", claim.service, claim.module),
            ),
            1 => {}
            n => push(
                Kind::Duplicate,
                format!(
                    "{}: {n} objects named {key} at {}",
                    claim.service, claim.module
                ),
            ),
        }
        if let Some(remoteid) = &claim.remoteid {
            let others: Vec<&str> = state
                .panels
                .iter()
                .filter(|o| {
                    o.module == claim.module
                        && &o.key != key
                        && !o.pooled
                        && o.correlation.as_deref() == Some(remoteid.as_str())
                })
                .map(|o| o.key.as_str())
                .collect();
            if !others.is_empty() {
                push(
                    Kind::Duplicate,
                    format!(
                        "{}: licence {key} and also {} carry its remoteid {remoteid} at {}",
                        claim.service,
                        others.join(", "),
                        claim.module
                    ),
                );
            }
        }
    }
    // What a deleted Orphan service held is still there.
    for claim in state.orphaned.iter().filter(|c| c.recorded) {
        if let Some(key) = &claim.key
            && at(&claim.module, key).is_empty()
        {
            push(
                Kind::Lost,
                format!(
                    "{} was deleted with deletionPolicy Orphan, but {key} is gone from {}",
                    claim.service, claim.module
                ),
            );
        }
    }
    // Nothing at a panel that no service claims, except what the pool accounts for.
    let claimed: BTreeSet<(&str, &str)> = state
        .live
        .iter()
        .chain(&state.orphaned)
        .filter_map(|c| Some((c.module.as_str(), c.key.as_deref()?)))
        .collect();
    // A deleted Orphan service keeps whatever carries its need's remoteid, even a licence
    // whose order was still in flight when it was deleted.
    let kept: BTreeSet<(&str, &str)> = state
        .orphaned
        .iter()
        .filter_map(|c| Some((c.module.as_str(), c.remoteid.as_deref()?)))
        .collect();
    for object in &state.panels {
        if claimed.contains(&(object.module.as_str(), object.key.as_str())) {
            continue;
        }
        if let Some(correlation) = &object.correlation
            && kept.contains(&(object.module.as_str(), correlation.as_str()))
        {
            continue;
        }
        if object.pooled && state.pool.contains(&object.key) {
            continue;
        }
        let why = if object.pooled {
            "pooled at the panel but in no LicensePool's status"
        } else {
            "claimed by no service"
        };
        push(
            Kind::Leak,
            format!("{} at {}: {why}", object.key, object.module),
        );
    }
    // The order log against the needs.
    let mut orders: BTreeMap<&str, Vec<&Charge>> = BTreeMap::new();
    let mut prolongs: BTreeMap<(&str, &str), Vec<&Charge>> = BTreeMap::new();
    let mut justified = Decimal::ZERO;
    for charge in &state.charges {
        out.spent += charge.amount;
        match charge.what.as_str() {
            "order" => orders.entry(&charge.remoteid).or_default().push(charge),
            _ => prolongs
                .entry((&charge.license, &charge.date))
                .or_default()
                .push(charge),
        }
    }
    for (remoteid, charges) in &orders {
        let ids = || {
            charges
                .iter()
                .map(|c| format!("{} on {}", c.license, c.date))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !state.needs.contains(*remoteid) {
            push(
                Kind::DoublePurchase,
                format!("ordered for no need (remoteid {remoteid:?}): {}", ids()),
            );
            continue;
        }
        justified += charges[0].amount;
        if charges.len() > 1 {
            push(
                Kind::DoublePurchase,
                format!(
                    "{} licences ordered for the need {remoteid}: {}",
                    charges.len(),
                    ids()
                ),
            );
        }
    }
    for ((license, date), charges) in &prolongs {
        justified += charges[0].amount;
        if charges.len() > 1 {
            push(
                Kind::DoublePurchase,
                format!(
                    "licence {license} prolonged {} times on {date}",
                    charges.len()
                ),
            );
        }
    }
    out.justified = justified;
    let debited = state.balance_before - state.balance_after;
    if debited != out.spent {
        push(
            Kind::Money,
            format!(
                "the balance went down by {debited}, the order log says {}",
                out.spent
            ),
        );
    }
    if out.spent != out.justified {
        push(
            Kind::Money,
            format!(
                "{} spent, {} justified by the needs: {} too much",
                out.spent,
                out.justified,
                out.spent - out.justified
            ),
        );
    }
    out
}

/// Log lines that carry one of `secrets` (label, value): one finding per file and secret,
/// naming the secret by its label, never by its value.
pub fn secrets_in_logs(logs: &[(String, String)], secrets: &[(String, String)]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (file, text) in logs {
        for (label, value) in secrets {
            if value.is_empty() {
                continue;
            }
            let lines = text.lines().filter(|l| l.contains(value.as_str())).count();
            if lines > 0 {
                out.push(Finding {
                    kind: Kind::SecretInLog,
                    what: format!("{file}: {lines} lines carry the password of {label}"),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(module: &str, key: &str) -> PanelObject {
        PanelObject {
            module: module.into(),
            key: key.into(),
            correlation: None,
            pooled: false,
        }
    }

    fn licence(key: &str, correlation: Option<&str>, pooled: bool) -> PanelObject {
        PanelObject {
            correlation: correlation.map(Into::into),
            pooled,
            ..object("lic1", key)
        }
    }

    fn claim(service: &str, module: &str, key: &str) -> Claim {
        Claim {
            service: service.into(),
            module: module.into(),
            key: Some(key.into()),
            remoteid: None,
            recorded: true,
        }
    }

    fn charge(license: &str, remoteid: &str, what: &str, amount: i64, date: &str) -> Charge {
        Charge {
            license: license.into(),
            remoteid: remoteid.into(),
            what: what.into(),
            amount: Decimal::new(amount, 2),
            date: date.into(),
        }
    }

    /// One hosting account, one server, one licence bought once: clean.
    fn clean_state() -> State {
        State {
            live: vec![
                claim("ns/web", "isp1", "uweb"),
                claim("ns/vps", "vm6", "ns-vps-abc"),
                Claim {
                    remoteid: Some("hpl0-a".into()),
                    ..claim("ns/lic", "lic1", "100")
                },
            ],
            panels: vec![
                object("isp1", "uweb"),
                object("vm6", "ns-vps-abc"),
                licence("100", Some("hpl0-a"), false),
            ],
            needs: ["hpl0-a".to_owned()].into(),
            charges: vec![charge("100", "hpl0-a", "order", 600, "2026-12-07")],
            balance_before: Decimal::new(100_000, 2),
            balance_after: Decimal::new(99_400, 2),
            ..State::default()
        }
    }

    fn kinds(state: &State) -> Vec<Kind> {
        audit(state).findings.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn a_consistent_state_is_clean() {
        let audit = audit(&clean_state());
        assert!(audit.clean(), "{:?}", audit.findings);
        assert_eq!(audit.spent, Decimal::new(600, 2));
        assert_eq!(audit.justified, audit.spent);
    }

    #[test]
    fn two_servers_of_one_name_are_a_duplicate() {
        let mut state = clean_state();
        state.panels.push(object("vm6", "ns-vps-abc"));
        let audit = audit(&state);
        assert_eq!(audit.count(Kind::Duplicate), 1, "{:?}", audit.findings);
        assert!(audit.findings[0].what.contains("ns/vps"));
    }

    #[test]
    fn a_second_licence_of_one_need_is_a_duplicate_and_a_double_purchase() {
        let mut state = clean_state();
        state.panels.push(licence("101", Some("hpl0-a"), false));
        state
            .charges
            .push(charge("101", "hpl0-a", "order", 600, "2026-12-07"));
        state.balance_after -= Decimal::new(600, 2);
        let audit = audit(&state);
        let kinds: Vec<Kind> = audit.findings.iter().map(|f| f.kind).collect();
        assert!(kinds.contains(&Kind::Duplicate), "{kinds:?}");
        assert!(kinds.contains(&Kind::DoublePurchase), "{kinds:?}");
        assert!(kinds.contains(&Kind::Money), "6.00 too much: {kinds:?}");
        // The unclaimed second licence is also a leak.
        assert!(kinds.contains(&Kind::Leak), "{kinds:?}");
        assert_eq!(audit.spent - audit.justified, Decimal::new(600, 2));
    }

    #[test]
    fn an_unclaimed_account_is_a_leak_and_a_pooled_licence_is_not() {
        let mut state = clean_state();
        state.panels.push(object("isp1", "ustray"));
        state.panels.push(licence("102", None, true));
        state.pool.insert("102".into());
        assert_eq!(kinds(&state), vec![Kind::Leak]);
        // Pooled at the panel but unknown to the pool: a leak too.
        state.pool.clear();
        assert_eq!(kinds(&state), vec![Kind::Leak, Kind::Leak]);
    }

    #[test]
    fn a_missing_object_and_a_deleted_orphan_are_lost() {
        let mut state = clean_state();
        state.panels.retain(|o| o.key != "uweb");
        state.orphaned.push(claim("ns/kept", "isp1", "ukept"));
        let audit = audit(&state);
        assert_eq!(audit.count(Kind::Lost), 2, "{:?}", audit.findings);
        // Present, the orphan's account is neither lost nor a leak.
        state.panels.push(object("isp1", "ukept"));
        state.panels.push(object("isp1", "uweb"));
        assert!(kinds(&state).is_empty());
    }

    #[test]
    fn an_orphan_deleted_before_its_create_is_neither_lost_nor_leaked() {
        let mut state = clean_state();
        state.orphaned.push(Claim {
            recorded: false,
            ..claim("ns/early", "vm5", "ns-early-abc")
        });
        assert!(kinds(&state).is_empty(), "nothing made, nothing lost");
        state.panels.push(object("vm5", "ns-early-abc"));
        assert!(kinds(&state).is_empty(), "made after all, and kept");
    }

    #[test]
    fn an_order_for_no_need_and_a_double_prolongation_are_double_purchases() {
        let mut state = clean_state();
        state.charges.extend([
            charge("103", "", "order", 600, "2026-12-07"),
            charge("100", "hpl0-a", "prolong", 600, "2027-01-01"),
            charge("100", "hpl0-a", "prolong", 600, "2027-01-01"),
        ]);
        state.balance_after -= Decimal::new(1800, 2);
        let audit = audit(&state);
        assert_eq!(audit.count(Kind::DoublePurchase), 2, "{:?}", audit.findings);
        assert_eq!(audit.spent - audit.justified, Decimal::new(1200, 2));
    }

    #[test]
    fn a_balance_that_disagrees_with_the_order_log_is_reported() {
        let mut state = clean_state();
        state.balance_after = Decimal::new(99_000, 2);
        assert_eq!(kinds(&state), vec![Kind::Money]);
    }

    #[test]
    fn a_password_in_a_log_line_is_reported_by_its_label_only() {
        let logs = vec![(
            "a-1.log".to_owned(),
            "ok\nlogin with Pa55-word-x\n".to_owned(),
        )];
        let secrets = vec![("Secret ns/web-login".to_owned(), "Pa55-word-x".to_owned())];
        let found = secrets_in_logs(&logs, &secrets);
        assert_eq!(found.len(), 1);
        assert!(found[0].what.contains("ns/web-login"));
        assert!(!found[0].what.contains("Pa55"));
        assert!(secrets_in_logs(&logs, &[("x".into(), "absent".into())]).is_empty());
    }
}
