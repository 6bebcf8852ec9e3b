//! The checklist: pure functions from what the tariff and the order promise and what the
//! panel answered to one line per check (expected, found, pass or fail). No I/O, so every
//! verdict is unit-tested here.
//!
//! What is expected comes from the same functions the controller provisions with
//! ([`crate::controller::service::desired`], [`desired_server`](crate::controller::service::virtual_server::desired_server)),
//! so a check fails exactly when the panel holds something else than what the tariff sells.

use serde::Serialize;

use crate::controller::service::desired::{DesiredAccount, panel_limit};
use crate::controller::service::virtual_server::{DesiredServer, Observed, os_matches};
use crate::panel::ispmanager::{Domain, User};
use crate::panel::licensing::License;
use crate::pools::license_pool::{FREE_IP, FREE_LICNAME};

/// The verdict of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// Nothing to check: the tariff asks for nothing here (no name server), or an earlier
    /// check failed so that this one cannot be made.
    Skip,
}

/// One line of the checklist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: String,
    pub expected: String,
    pub found: String,
    pub result: Verdict,
}

impl Check {
    fn compare(
        check: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        let (expected, found) = (expected.into(), found.into());
        let result = if expected == found {
            Verdict::Pass
        } else {
            Verdict::Fail
        };
        Check {
            check: check.into(),
            expected,
            found,
            result,
        }
    }

    fn judged(
        check: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
        pass: bool,
    ) -> Self {
        Check {
            check: check.into(),
            expected: expected.into(),
            found: found.into(),
            result: if pass { Verdict::Pass } else { Verdict::Fail },
        }
    }

    fn skipped(
        check: impl Into<String>,
        expected: impl Into<String>,
        why: impl Into<String>,
    ) -> Self {
        Check {
            check: check.into(),
            expected: expected.into(),
            found: why.into(),
            result: Verdict::Skip,
        }
    }
}

/// Every check passed (skipped ones do not count against).
pub fn all_passed(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.result != Verdict::Fail)
}

const MISSING: &str = "missing";

/// The service became Ready at the controller, or what it did instead.
pub fn ready(found: Result<(), &str>) -> Check {
    match found {
        Ok(()) => Check::judged("service Ready", "Ready", "Ready", true),
        Err(what) => Check::judged("service Ready", "Ready", what, false),
    }
}

/// What ispmanager answered about a test order's account.
#[derive(Clone, Debug)]
pub struct HostingFacts {
    /// The account from the user list, if listed.
    pub user: Option<User>,
    /// The web domains listed.
    pub sites: Vec<Domain>,
    /// The tariff's name server (module name) and the zones it lists; `None` when the tariff
    /// names no name server.
    pub dns: Option<(String, Vec<Domain>)>,
}

/// The checks of a shared hosting order; `login` is the login link's answer: `Ok(what)` when
/// it logged in, `Err(what)` otherwise.
pub fn hosting(
    expected: &DesiredAccount,
    facts: &HostingFacts,
    login: &Result<String, String>,
) -> Vec<Check> {
    let name = &expected.username;
    let mut checks = Vec::new();
    let Some(user) = &facts.user else {
        checks.push(Check::compare("account", name.as_str(), MISSING));
        return checks;
    };
    checks.push(Check::compare("account", name.as_str(), user.name.as_str()));
    checks.push(Check::compare(
        "account template",
        expected.preset.as_str(),
        user.preset.as_str(),
    ));
    for (field, value) in &expected.limits {
        let found = user.limits.get(field).map_or(MISSING, String::as_str);
        checks.push(Check::compare(
            format!("limit {field}{}", resource_of(field)),
            value.as_str(),
            found,
        ));
    }
    let site = facts.sites.iter().find(|s| s.name == expected.domain);
    checks.push(Check::compare(
        "site",
        format!("{} (owner {name})", expected.domain),
        site.map_or_else(
            || MISSING.to_owned(),
            |s| format!("{} (owner {})", s.name, s.owner),
        ),
    ));
    match &facts.dns {
        None => checks.push(Check::skipped(
            "DNS zone",
            expected.domain.as_str(),
            "the tariff names no name server",
        )),
        Some((module, zones)) => {
            let found = zones.iter().any(|z| z.name == expected.domain);
            checks.push(Check::compare(
                "DNS zone",
                format!("{} on {module}", expected.domain),
                if found {
                    format!("{} on {module}", expected.domain)
                } else {
                    format!("{MISSING} on {module}")
                },
            ));
        }
    }
    checks.push(match login {
        Ok(what) => Check::judged(
            "login link",
            "the panel logs the account in",
            what.as_str(),
            true,
        ),
        Err(what) => Check::judged(
            "login link",
            "the panel logs the account in",
            what.as_str(),
            false,
        ),
    });
    checks
}

/// ` (diskSpace)`: the tariff resource a limit comes from, for people reading the list.
fn resource_of(field: &str) -> String {
    use crate::api::tariff::ResourceKind::*;
    [
        DiskSpace,
        Traffic,
        WebDomains,
        Domains,
        EmailDomains,
        Mailboxes,
        Databases,
        CpuLoad,
        CpuTime,
        Memory,
        Ipv4Addresses,
        Ipv6Addresses,
    ]
    .into_iter()
    .find(|k| panel_limit(*k).is_some_and(|(f, _)| f == field))
    .map(|k| format!(" ({})", k.as_str()))
    .unwrap_or_default()
}

/// The checks of a virtual server: it exists under its name, with the OS, CPU, RAM and disk
/// the tariff and resources promise, and runs.
pub fn server(name: &str, expected: &DesiredServer, observed: Option<&Observed>) -> Vec<Check> {
    let Some(seen) = observed else {
        return vec![Check::compare("server", name, MISSING)];
    };
    let os = match os_matches(seen, &expected.operating_system) {
        Some(true) => expected.operating_system.clone(),
        Some(false) => seen.os.join(" / "),
        None => "not reported by the panel".to_owned(),
    };
    let want_disk = u64::from(expected.disk_gib) * 1024;
    vec![
        Check::compare("server", name, name),
        Check::compare("operating system", expected.operating_system.as_str(), os),
        Check::compare(
            "CPU cores",
            expected.cpu_cores.to_string(),
            seen.cpu_cores.to_string(),
        ),
        Check::compare(
            "RAM MiB",
            expected.memory_mib.to_string(),
            seen.memory_mib.to_string(),
        ),
        Check::compare(
            "disk MiB",
            want_disk.to_string(),
            seen.disk_mib
                .map_or_else(|| "not reported by the panel".to_owned(), |d| d.to_string()),
        ),
        Check::compare(
            "power",
            "running",
            if seen.running { "running" } else { "stopped" },
        ),
    ]
}

/// The checks of a licence: it is at the licensing server, of the type the tariff sells,
/// bound to the expected IP, and active.
pub fn license(
    what: &str,
    id: Option<&str>,
    license_type: &str,
    ip: &str,
    found: Option<&License>,
) -> Vec<Check> {
    let Some(id) = id else {
        return vec![Check::compare(
            what,
            "a licence in the service's status",
            MISSING,
        )];
    };
    let Some(l) = found else {
        return vec![Check::compare(what, id, MISSING)];
    };
    vec![
        Check::compare(what, id, l.id.as_str()),
        Check::compare(format!("{what} type"), license_type, l.pricelist.as_str()),
        Check::compare(format!("{what} IP"), ip, l.ip.as_str()),
        // Ordered or processing is on its way, but a test order wants the real thing.
        Check::compare(
            format!("{what} status"),
            "Active",
            format!("{:?}", l.status),
        ),
    ]
}

/// After the order is deleted: `what` is gone at the panel.
pub fn removed(what: &str, still_there: bool) -> Check {
    Check::compare(
        format!("removed: {what}"),
        "gone",
        if still_there { "still there" } else { "gone" },
    )
}

/// After a licence order is deleted: the licence is in the pool (seed 000: renamed
/// `free.lic`, IP `0.0.0.0`), never thrown away.
pub fn pooled(id: &str, found: Option<&License>) -> Check {
    Check::compare(
        format!("licence {id} pooled"),
        format!("{FREE_LICNAME} at {FREE_IP}"),
        found.map_or_else(
            || MISSING.to_owned(),
            |l| format!("{} at {}", l.licname, l.ip),
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::panel::licensing::LicenseStatus;

    fn expected() -> DesiredAccount {
        DesiredAccount {
            username: "utoabc234".into(),
            domain: "toabc234.hosting.example".into(),
            preset: "basic".into(),
            limits: BTreeMap::from([
                ("limit_quota".into(), "2048".into()),
                ("limit_traff".into(), "5120".into()),
            ]),
            fullname: "hostplane test client".into(),
        }
    }

    fn user(quota: &str) -> User {
        User {
            name: "utoabc234".into(),
            fullname: "hostplane test client".into(),
            active: true,
            level: Some(16),
            preset: "basic".into(),
            limits: BTreeMap::from([
                ("limit_quota".into(), quota.into()),
                ("limit_traff".into(), "5120".into()),
                ("limit_db".into(), "5".into()),
            ]),
        }
    }

    fn domain(name: &str, owner: &str) -> Domain {
        Domain {
            name: name.into(),
            owner: owner.into(),
        }
    }

    fn facts(quota: &str) -> HostingFacts {
        HostingFacts {
            user: Some(user(quota)),
            sites: vec![domain("toabc234.hosting.example", "utoabc234")],
            dns: Some((
                "isp1".into(),
                vec![domain("toabc234.hosting.example", "utoabc234")],
            )),
        }
    }

    const LOGGED_IN: Result<String, String> = Ok(String::new());

    #[test]
    fn an_account_as_the_tariff_promises_passes_every_check() {
        let checks = hosting(&expected(), &facts("2048"), &LOGGED_IN);
        assert!(all_passed(&checks), "{checks:#?}");
        let names: Vec<&str> = checks.iter().map(|c| c.check.as_str()).collect();
        assert_eq!(
            names,
            [
                "account",
                "account template",
                "limit limit_quota (diskSpace)",
                "limit limit_traff (traffic)",
                "site",
                "DNS zone",
                "login link"
            ]
        );
    }

    #[test]
    fn a_limit_the_panel_holds_otherwise_fails_with_both_values() {
        let checks = hosting(&expected(), &facts("1024"), &LOGGED_IN);
        assert!(!all_passed(&checks));
        let failed: Vec<&Check> = checks
            .iter()
            .filter(|c| c.result == Verdict::Fail)
            .collect();
        assert_eq!(failed.len(), 1, "{failed:#?}");
        assert_eq!(failed[0].check, "limit limit_quota (diskSpace)");
        assert_eq!(
            (failed[0].expected.as_str(), failed[0].found.as_str()),
            ("2048", "1024")
        );
    }

    #[test]
    fn a_missing_account_site_zone_or_refused_login_fails_and_no_name_server_skips() {
        let mut f = facts("2048");
        f.user = None;
        let checks = hosting(&expected(), &f, &LOGGED_IN);
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].found, "missing");
        assert_eq!(checks[0].result, Verdict::Fail);

        let mut f = facts("2048");
        f.sites.clear();
        f.dns = Some(("ns".into(), vec![]));
        let refused = Err("refused: Invalid or expired key".into());
        let checks = hosting(&expected(), &f, &refused);
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| c.result == Verdict::Fail)
            .map(|c| c.check.as_str())
            .collect();
        assert_eq!(failed, ["site", "DNS zone", "login link"]);

        let mut f = facts("2048");
        f.dns = None;
        let checks = hosting(&expected(), &f, &LOGGED_IN);
        let zone = checks.iter().find(|c| c.check == "DNS zone").unwrap();
        assert_eq!(zone.result, Verdict::Skip);
        assert!(all_passed(&checks));
    }

    use crate::controller::service::virtual_server::plan::samples;

    fn server_wanted() -> DesiredServer {
        samples::desired()
    }

    fn seen() -> Observed {
        samples::matching()
    }

    #[test]
    fn a_server_is_checked_for_os_cpu_ram_disk_and_power() {
        let checks = server("h", &server_wanted(), Some(&seen()));
        assert!(all_passed(&checks), "{checks:#?}");
        let mut other = seen();
        other.memory_mib = 1024;
        other.os = vec!["Debian 12".into()];
        let checks = server("h", &server_wanted(), Some(&other));
        let failed: Vec<(&str, &str, &str)> = checks
            .iter()
            .filter(|c| c.result == Verdict::Fail)
            .map(|c| (c.check.as_str(), c.expected.as_str(), c.found.as_str()))
            .collect();
        assert_eq!(
            failed,
            [
                ("operating system", "Ubuntu 22.04", "Debian 12"),
                ("RAM MiB", "2048", "1024")
            ]
        );
        let missing = server("h", &server_wanted(), None);
        assert_eq!(missing[0].result, Verdict::Fail);
    }

    #[test]
    fn what_is_left_after_the_deletion_fails_and_a_pooled_licence_passes() {
        assert_eq!(removed("account u1", false).result, Verdict::Pass);
        let left = removed("DNS zone z.example on ns", true);
        assert_eq!(
            (
                left.check.as_str(),
                left.expected.as_str(),
                left.found.as_str(),
                left.result
            ),
            (
                "removed: DNS zone z.example on ns",
                "gone",
                "still there",
                Verdict::Fail
            )
        );
        let mut l = License {
            id: "7".into(),
            licname: "free.lic".into(),
            ip: "0.0.0.0".into(),
            pricelist: "3541".into(),
            period: "1".into(),
            status: LicenseStatus::Suspended,
            createdate: "2026-01-01".into(),
            expiredate: "2026-02-01".into(),
            remoteid: String::new(),
        };
        assert_eq!(pooled("7", Some(&l)).result, Verdict::Pass);
        l.ip = "192.0.2.7".into();
        assert_eq!(pooled("7", Some(&l)).found, "free.lic at 192.0.2.7");
        assert_eq!(pooled("7", Some(&l)).result, Verdict::Fail);
        assert_eq!(pooled("7", None).result, Verdict::Fail);
    }

    #[test]
    fn a_licence_is_checked_for_type_ip_and_status() {
        let l = License {
            id: "7".into(),
            licname: "Item #x".into(),
            ip: "192.0.2.7".into(),
            pricelist: "3541".into(),
            period: "1".into(),
            status: LicenseStatus::Active,
            createdate: "2026-01-01".into(),
            expiredate: "2026-02-01".into(),
            remoteid: String::new(),
        };
        let checks = license("licence", Some("7"), "3541", "192.0.2.7", Some(&l));
        assert!(all_passed(&checks), "{checks:#?}");
        let mut suspended = l.clone();
        suspended.status = LicenseStatus::Suspended;
        suspended.ip = "0.0.0.0".into();
        let checks = license("licence", Some("7"), "3541", "192.0.2.7", Some(&suspended));
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| c.result == Verdict::Fail)
            .map(|c| c.check.as_str())
            .collect();
        assert_eq!(failed, ["licence IP", "licence status"]);
        assert_eq!(
            license("licence", None, "3541", "ip", None)[0].result,
            Verdict::Fail
        );
        assert_eq!(
            license("licence", Some("7"), "3541", "ip", None)[0].found,
            "missing"
        );
    }
}
