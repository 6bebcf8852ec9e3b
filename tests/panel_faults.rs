//! Fault tests: what the client layer does when the network or the panel misbehaves, driven
//! by the simulator's fault injection.

mod common;

use std::time::Duration;

use common::*;
use hostplane::panel::licensing::{LicenseOrder, tagged_name};
use hostplane::panel::mgr::{AuthMode, Format, MgrOptions};
use hostplane::panel::{HttpOptions, PanelError, RetryPolicy};
use hostplane::simulator::FaultSpec;
use jiff::SignedDuration;
use rust_decimal::Decimal;

#[tokio::test]
async fn expired_session_means_a_transparent_login() {
    let sim = start().await;
    let isp = isp(&sim, AuthMode::Session, Format::Json);
    isp.users().await.unwrap();
    assert_eq!(sim.sim.call_count("ispmgr", "auth"), 1);

    // The panel forgets the session (as after a restart).
    sim.sim.faults().set(
        "ispmgr",
        "user",
        FaultSpec {
            expire_session: 1,
            ..Default::default()
        },
    );
    isp.users().await.unwrap();
    assert_eq!(sim.sim.call_count("ispmgr", "auth"), 2);
    assert_eq!(sim.sim.call_count("ispmgr", "user"), 3);

    // An hour of idleness on the simulator clock ends the session too.
    isp.users().await.unwrap();
    sim.sim.clock().advance(SignedDuration::from_mins(61));
    isp.users().await.unwrap();
    assert_eq!(sim.sim.call_count("ispmgr", "auth"), 3);

    // Re-login also covers non-idempotent calls: the refused call never ran.
    let lic = licensing(&sim, AuthMode::Session, Format::Xml);
    lic.licenses().await.unwrap();
    sim.sim.faults().set(
        "billmgr",
        "soft.order.param",
        FaultSpec {
            expire_session: 1,
            ..Default::default()
        },
    );
    lic.order(&order("l-relogin")).await.unwrap();
    assert_eq!(sim.sim.read(|s| s.billmgr.licenses.len()), 1);
}

#[tokio::test]
async fn a_503_burst_is_retried_for_reads() {
    let sim = start().await;
    let isp = isp(&sim, AuthMode::Authinfo, Format::Json);
    sim.sim.faults().set(
        "ispmgr",
        "user",
        FaultSpec {
            unavailable: 2,
            ..Default::default()
        },
    );
    assert!(isp.users().await.unwrap().is_empty());
    assert_eq!(sim.sim.call_count("ispmgr", "user"), 3);

    // A burst longer than the retry budget surfaces as Unavailable.
    sim.sim.faults().set(
        "ispmgr",
        "user",
        FaultSpec {
            unavailable: 10,
            ..Default::default()
        },
    );
    let e = isp.users().await.unwrap_err();
    assert_eq!(e, PanelError::Unavailable { status: 503 });
    assert_eq!(sim.sim.call_count("ispmgr", "user"), 3 + 4);
}

#[tokio::test]
async fn proxy_errors_and_lost_answers_are_retried_for_idempotent_calls_only() {
    let sim = start().await;
    let isp = isp(&sim, AuthMode::Authinfo, Format::Json);
    isp.create_user(&hostplane::panel::ispmanager::NewUser {
        name: "edited".into(),
        password: "Us3r-Pass-77".to_owned().into(),
        fullname: String::new(),
        preset: None,
        limits: Default::default(),
        domain: None,
    })
    .await
    .unwrap();
    // An edit whose answer is lost is simply repeated (same values, same result).
    sim.sim.faults().set(
        "ispmgr",
        "user.edit",
        FaultSpec {
            drop_response: 1,
            ..Default::default()
        },
    );
    let change = hostplane::panel::ispmanager::UserChange {
        preset: None,
        limits: [("limit_db".to_owned(), "9".to_owned())].into(),
    };
    isp.edit_user("edited", &change).await.unwrap();
    assert_eq!(sim.sim.call_count("ispmgr", "user.edit"), 2);

    // A create whose answer is lost is not repeated: the caller must look.
    sim.sim.faults().set(
        "ispmgr",
        "user.add.finish",
        FaultSpec {
            drop_response: 1,
            ..Default::default()
        },
    );
    let e = isp
        .create_user(&hostplane::panel::ispmanager::NewUser {
            name: "lost".into(),
            password: "Us3r-Pass-77".to_owned().into(),
            fullname: String::new(),
            preset: None,
            limits: Default::default(),
            domain: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(e, PanelError::OutcomeUnknown { .. }), "{e:?}");
    assert_eq!(
        sim.sim.call_count("ispmgr", "user.add.finish"),
        2,
        "one for each user, none repeated"
    );
    assert!(
        isp.user("lost").await.unwrap().is_some(),
        "the lookup finds it"
    );

    // A proxy error page (502) on every call: reads give up after the budget.
    sim.sim.faults().set(
        "ispmgr",
        "preset",
        FaultSpec {
            error_rate: 1.0,
            ..Default::default()
        },
    );
    let e = isp.presets().await.unwrap_err();
    assert!(
        matches!(
            e,
            PanelError::Transport {
                maybe_applied: true,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(sim.sim.call_count("ispmgr", "preset"), 4);
}

#[tokio::test]
async fn a_slow_panel_times_out() {
    let sim = start().await;
    let options = MgrOptions {
        http: HttpOptions {
            timeout: Duration::from_millis(150),
            ..HttpOptions::default()
        },
        retry: RetryPolicy {
            attempts: 2,
            ..fast_retry()
        },
        ..options(AuthMode::Authinfo, Format::Json)
    };
    let isp =
        hostplane::panel::ispmanager::IspManager::new(mgr_with(&sim, "/ispmgr", PASSWORD, options));
    sim.sim.faults().set(
        "ispmgr",
        "whoami",
        FaultSpec {
            latency_ms: 400,
            ..Default::default()
        },
    );
    let e = isp.whoami().await.unwrap_err();
    assert!(
        matches!(&e, PanelError::Transport { message, .. } if message.contains("timed out")),
        "{e:?}"
    );
    assert_eq!(sim.sim.call_count("ispmgr", "whoami"), 2);
}

fn order(remoteid: &str) -> LicenseOrder {
    LicenseOrder {
        pricelist: "55228".to_owned(),
        period: "1".to_owned(),
        ip: "203.0.113.10".to_owned(),
        // hostplane's names carry the correlation id: real `soft` lists do not echo
        // `remoteid` (reference §11).
        licname: tagged_name("Item #9 addon ispmanager", remoteid, 128),
        remoteid: remoteid.to_owned(),
        addons: vec![],
    }
}

/// The case that makes a naive client buy a license twice.
#[tokio::test]
async fn a_lost_order_answer_never_buys_twice() {
    let sim = start().await;
    let lic = licensing(&sim, AuthMode::Authinfo, Format::Json);
    let balance = sim.sim.read(|s| s.billmgr.balance);
    sim.sim.faults().set(
        "billmgr",
        "soft.order.param",
        FaultSpec {
            drop_response: 1,
            ..Default::default()
        },
    );

    let e = lic.order(&order("l-9")).await.unwrap_err();
    assert!(
        matches!(&e, PanelError::OutcomeUnknown { operation, .. } if operation == "soft.order.param"),
        "{e:?}"
    );
    assert_eq!(
        sim.sim.call_count("billmgr", "soft.order.param"),
        1,
        "not repeated"
    );

    // The caller looks the order up (name tag, IP, type, created today, confirmed by the
    // form) and finds exactly one license.
    let today = sim.sim.clock().today();
    let found = lic.find_order(&order("l-9"), Some(today)).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let (charges, now) = sim
        .sim
        .read(|s| (s.billmgr.charges.clone(), s.billmgr.balance));
    assert_eq!(charges.len(), 1);
    assert_eq!(now, balance - Decimal::new(1000, 2), "debited once");

    // A prolongation whose answer is lost is not repeated either.
    sim.sim.faults().set(
        "billmgr",
        "service.prolong",
        FaultSpec {
            drop_response: 1,
            ..Default::default()
        },
    );
    let e = lic.prolong(&found[0].license.id, "1").await.unwrap_err();
    assert!(matches!(e, PanelError::OutcomeUnknown { .. }), "{e:?}");
    assert_eq!(sim.sim.call_count("billmgr", "service.prolong"), 1);
    assert_eq!(sim.sim.read(|s| s.billmgr.charges.len()), 2);

    // A 503 may come from a proxy after the panel took the order (reference §11): it is an
    // unknown outcome too, never repeated by the client.
    sim.sim.faults().set(
        "billmgr",
        "soft.order.param",
        FaultSpec {
            unavailable: 1,
            ..Default::default()
        },
    );
    let e = lic.order(&order("l-10")).await.unwrap_err();
    assert!(matches!(e, PanelError::OutcomeUnknown { .. }), "{e:?}");
    assert_eq!(sim.sim.call_count("billmgr", "soft.order.param"), 2);
}

/// Against the strict dialect (no `remoteid` in the list, the id as `item.id`): an order or
/// a prolongation applied and answered after the client's timeout (`late_ms`), or applied and
/// answered 503 or without an id, is an unknown outcome sent once; the lookup finds exactly
/// the one licence bought, and the expiry moved by one period only.
#[tokio::test]
async fn strict_late_unavailable_and_id_less_answers_are_found_once() {
    let sim = start().await;
    sim.sim
        .set_dialect(hostplane::simulator::Profile::Strict.dialect());
    let options = MgrOptions {
        http: HttpOptions {
            timeout: Duration::from_millis(200),
            ..HttpOptions::default()
        },
        ..options(AuthMode::Authinfo, Format::Xml)
    };
    let lic =
        hostplane::panel::licensing::Licensing::new(mgr_with(&sim, "/billmgr", PASSWORD, options));
    let today = sim.sim.clock().today();
    let start_balance = sim.sim.read(|s| s.billmgr.balance);
    let late = FaultSpec {
        late_ms: 600,
        ..FaultSpec::NONE
    };
    let applied_503 = FaultSpec {
        applied_unavailable: 1,
        ..FaultSpec::NONE
    };
    let no_id = FaultSpec {
        no_id: 1,
        ..FaultSpec::NONE
    };
    for (i, spec) in [late, applied_503, no_id].into_iter().enumerate() {
        let remoteid = format!("hpl0-strict{i}");
        let wanted = LicenseOrder {
            ip: format!("203.0.113.{}", 30 + i),
            ..order(&remoteid)
        };
        sim.sim.reset_calls();
        sim.sim
            .faults()
            .set("billmgr", "soft.order.param", spec.clone());
        let e = lic.order(&wanted).await.unwrap_err();
        assert!(
            matches!(e, PanelError::OutcomeUnknown { .. }),
            "{spec:?}: {e:?}"
        );
        sim.sim.faults().clear();
        assert_eq!(sim.sim.call_count("billmgr", "soft.order.param"), 1);
        let listed = lic.licenses().await.unwrap();
        assert!(
            listed.iter().all(|l| l.remoteid.is_empty()),
            "strict: none listed"
        );
        let found = lic.find_order(&wanted, Some(today)).await.unwrap();
        assert_eq!(found.len(), 1, "{spec:?}: {found:?}");
        let id = found[0].license.id.clone();
        let expires = found[0].license.expiredate.clone();

        sim.sim
            .faults()
            .set("billmgr", "service.prolong", spec.clone());
        let e = lic.prolong(&id, "1").await.unwrap_err();
        assert!(
            matches!(e, PanelError::OutcomeUnknown { .. }),
            "{spec:?}: {e:?}"
        );
        sim.sim.faults().clear();
        assert_eq!(sim.sim.call_count("billmgr", "service.prolong"), 1);
        // The caller compares the expiry before prolonging again: moved by one month.
        let moved = lic.view(&id).await.unwrap().unwrap().license.expiredate;
        let want = expires
            .parse::<jiff::civil::Date>()
            .unwrap()
            .checked_add(jiff::Span::new().months(1))
            .unwrap();
        assert_eq!(moved, want.to_string(), "{spec:?}");
    }
    // Three licences bought and three prolonged, once each (10.00 a month for 55228).
    let (charges, balance) = sim
        .sim
        .read(|s| (s.billmgr.charges.len(), s.billmgr.balance));
    assert_eq!(charges, 6);
    assert_eq!(balance, start_balance - Decimal::new(6000, 2));
}

#[tokio::test]
async fn faults_can_be_set_through_the_admin_endpoint() {
    let sim = start().await;
    let http = reqwest::Client::new();
    let r = http
        .post(sim.url("/_admin/faults"))
        .json(&serde_json::json!({"product": "billmgr", "function": "soft", "unavailable": 1}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let lic = licensing(&sim, AuthMode::Authinfo, Format::Json);
    lic.licenses().await.unwrap();
    assert_eq!(sim.sim.call_count("billmgr", "soft"), 2);
    let calls: serde_json::Value = http
        .get(sim.url("/_admin/calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls["billmgr"]["soft"], 2);
    // A malformed rule is a 400 with a message, not a crash.
    let r = http
        .post(sim.url("/_admin/faults"))
        .body("{")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .post(sim.url("/_admin/clock/advance"))
        .json(&serde_json::json!({"days": 2}))
        .send()
        .await
        .unwrap();
    let clock: serde_json::Value = r.json().await.unwrap();
    assert_eq!(clock["offset_seconds"], 2 * 86_400);
    let state: serde_json::Value = http
        .get(sim.url("/_admin/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(state["state"]["billmgr"]["balance"].is_string());
}
