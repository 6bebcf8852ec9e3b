//! Unknown outcomes, client side (reference §11): a create, an order or a prolongation
//! answered by a 502, 503 or 504, a timeout, a lost connection or an answer without the new
//! object's id may have been applied. Every panel client returns `OutcomeUnknown` for it and
//! never repeats the call by itself; reads keep being retried. Driven by the simulator's fault
//! injection, and by a loopback mock for answers the simulator never gives.

mod common;

use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use common::*;
use hostplane::panel::ispmanager::NewUser;
use hostplane::panel::licensing::{LicenseOrder, Licensing};
use hostplane::panel::mgr::{AuthMode, Format, MgrOptions};
use hostplane::panel::vmmanager5::{NewVm, Vm5};
use hostplane::panel::vmmanager6::{NewHost, Vm6Client, Vm6Options, WakePolicy};
use hostplane::panel::{Credentials, HttpOptions, Limiter, PanelError, RetryPolicy};
use hostplane::simulator::FaultSpec;
use secrecy::SecretString;

fn unknown(result: Result<impl std::fmt::Debug, PanelError>, operation: &str) {
    match result {
        Err(PanelError::OutcomeUnknown { operation: op, .. }) => assert_eq!(op, operation),
        other => panic!("{operation}: expected OutcomeUnknown, got {other:?}"),
    }
}

fn fault(sim: &hostplane::simulator::SimHandle, product: &str, function: &str, spec: FaultSpec) {
    sim.sim.faults().set(product, function, spec);
}

const BUSY: FaultSpec = FaultSpec {
    unavailable: 1,
    ..FaultSpec::NONE
};
const PROXY: FaultSpec = FaultSpec {
    error_rate: 1.0,
    ..FaultSpec::NONE
};

fn order(remoteid: &str) -> LicenseOrder {
    LicenseOrder {
        pricelist: "55228".to_owned(),
        period: "1".to_owned(),
        ip: "203.0.113.20".to_owned(),
        licname: format!("lic {remoteid}"),
        remoteid: remoteid.to_owned(),
        addons: vec![],
    }
}

fn user(name: &str) -> NewUser {
    NewUser {
        name: name.into(),
        password: SecretString::from("Us3r-Pass-77"),
        fullname: String::new(),
        preset: None,
        limits: Default::default(),
        domain: None,
    }
}

fn vm(name: &str, owner: &str) -> NewVm {
    NewVm {
        name: name.to_owned(),
        domain: format!("{name}.example.net"),
        user: owner.to_owned(),
        preset: None,
        vmi: "ISPsystem__Ubuntu-20.04-amd64".to_owned(),
        vsize_mib: 20_480,
        mem_mib: 2048,
        vcpu: 2,
        password: SecretString::from("R00t-pass-vm"),
        recipe: None,
    }
}

#[tokio::test]
async fn mgr_creates_orders_and_prolongs_answered_by_503_or_502_are_unknown_and_sent_once() {
    let sim = start().await;
    let isp = isp(&sim, AuthMode::Authinfo, Format::Json);
    let lic = licensing(&sim, AuthMode::Authinfo, Format::Xml);
    let vm5 = vm5(&sim);
    let owner = vm5
        .create_user("owner1", &SecretString::from("Own3r-Pass"))
        .await
        .unwrap();
    let bought = lic.order(&order("r-0")).await.unwrap();

    for spec in [BUSY, PROXY] {
        sim.sim.reset_calls();
        fault(&sim, "ispmgr", "user.add.finish", spec.clone());
        unknown(isp.create_user(&user("u503")).await, "user.add.finish");
        fault(&sim, "billmgr", "soft.order.param", spec.clone());
        unknown(lic.order(&order("r-1")).await, "soft.order.param");
        fault(&sim, "billmgr", "service.prolong", spec.clone());
        unknown(lic.prolong(&bought, "1").await, "service.prolong");
        fault(&sim, "vmmgr", "vm.edit", spec.clone());
        unknown(vm5.create_vm(&vm("vm503", &owner)).await, "vm.edit");
        fault(&sim, "vmmgr", "user.edit", spec.clone());
        unknown(
            vm5.create_user("owner2", &SecretString::from("Own3r-Pass"))
                .await,
            "user.edit",
        );
        sim.sim.faults().clear();
        for (product, function) in [
            ("ispmgr", "user.add.finish"),
            ("billmgr", "soft.order.param"),
            ("billmgr", "service.prolong"),
            ("vmmgr", "vm.edit"),
            ("vmmgr", "user.edit"),
        ] {
            assert_eq!(
                sim.sim.call_count(product, function),
                1,
                "{product} {function} {spec:?} was repeated"
            );
        }
    }

    // Reads are still retried through a 503 and a proxy error.
    fault(
        &sim,
        "billmgr",
        "soft",
        FaultSpec {
            unavailable: 2,
            ..FaultSpec::default()
        },
    );
    assert_eq!(lic.licenses().await.unwrap().len(), 1);
    assert_eq!(sim.sim.call_count("billmgr", "soft"), 3);
}

#[tokio::test]
async fn a_timed_out_order_is_unknown_and_sent_once() {
    let sim = start().await;
    let options = MgrOptions {
        http: HttpOptions {
            timeout: Duration::from_millis(200),
            ..HttpOptions::default()
        },
        ..options(AuthMode::Authinfo, Format::Json)
    };
    let lic = Licensing::new(mgr_with(&sim, "/billmgr", PASSWORD, options));
    fault(
        &sim,
        "billmgr",
        "soft.order.param",
        FaultSpec {
            latency_ms: 500,
            ..FaultSpec::default()
        },
    );
    // A real panel may finish the order after the client gave up: so it is not repeated.
    unknown(lic.order(&order("r-slow")).await, "soft.order.param");
    assert_eq!(sim.sim.call_count("billmgr", "soft.order.param"), 1);
}

#[tokio::test]
async fn a_failed_login_is_not_an_unknown_outcome_the_order_is_sent_once() {
    let sim = start().await;
    let lic = licensing(&sim, AuthMode::Session, Format::Json);
    // The login answers 503: the order itself was never sent, so it is safe to go on.
    fault(&sim, "billmgr", "auth", BUSY);
    lic.order(&order("r-login")).await.unwrap();
    assert_eq!(sim.sim.call_count("billmgr", "soft.order.param"), 1);
    assert_eq!(sim.sim.read(|s| s.billmgr.licenses.len()), 1);
}

/// Answers that say neither "done" nor what went wrong, or carry the id where only some
/// clients look for it.
async fn mock_mgr(answer: &'static str) -> String {
    let app = Router::new().fallback(post(move || async move {
        ([(header::CONTENT_TYPE, "application/json")], answer).into_response()
    }));
    let base = serve_mock(app).await;
    format!("{base}/billmgr")
}

fn client_of(url: &str) -> hostplane::panel::mgr::MgrClient {
    hostplane::panel::mgr::MgrClient::new(
        url,
        Credentials::new(ADMIN, PASSWORD),
        options(AuthMode::Authinfo, Format::Json),
    )
    .unwrap()
}

#[tokio::test]
async fn answers_without_the_new_id_are_unknown_and_every_known_id_shape_is_read() {
    let ok_only = client_of(&mock_mgr(r#"{"doc":{"ok":{}}}"#).await);
    unknown(
        Licensing::new(ok_only.clone()).order(&order("r")).await,
        "soft.order.param",
    );
    unknown(
        Licensing::new(ok_only.clone()).prolong("5", "1").await,
        "service.prolong",
    );
    unknown(
        Vm5::new(ok_only.clone()).create_vm(&vm("v", "1")).await,
        "vm.edit",
    );
    let empty = client_of(&mock_mgr(r#"{"doc":{}}"#).await);
    unknown(
        hostplane::panel::ispmanager::IspManager::new(empty)
            .create_user(&user("u"))
            .await,
        "user.add.finish",
    );
    for (answer, id) in [
        (r#"{"doc":{"ok":{},"id":{"$":"71"}}}"#, "71"),
        (r#"{"doc":{"item":{"id":{"$":"72"}}}}"#, "72"),
        (r#"{"doc":{"id":{"v":"73"}}}"#, "73"),
    ] {
        let lic = Licensing::new(client_of(&mock_mgr(answer).await));
        assert_eq!(lic.order(&order("r")).await.unwrap(), id, "{answer}");
    }
}

fn vm6_options(timeout: Duration) -> Vm6Options {
    Vm6Options {
        http: HttpOptions {
            timeout,
            ..HttpOptions::default()
        },
        limiter: Limiter::unlimited(),
        retry: RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(4),
        },
        wake: WakePolicy {
            attempts: 5,
            step: Duration::from_millis(2),
        },
        ..Vm6Options::default()
    }
}

fn host(name: &str, account: u64) -> NewHost {
    NewHost {
        name: name.into(),
        password: SecretString::from("R00t-Pa55-host"),
        cluster: 1,
        os: 8211,
        cpu_number: 2,
        ram_mib: 2048,
        hdd_mib: 20480,
        account,
        ipv4_number: 1,
        ipv4_pool: vec![],
        domain: None,
        comment: None,
        node: None,
        net_bandwidth_mbitps: None,
        recipe: None,
        recipe_params: vec![],
        send_email_mode: None,
    }
}

#[tokio::test]
async fn vmmanager6_host_creates_answered_by_503_502_or_a_timeout_are_unknown_and_sent_once() {
    const VM6_ADMIN: &str = "admin@example.com";
    let sim = hostplane::simulator::start_in_process(hostplane::simulator::Config::new(
        VM6_ADMIN, PASSWORD,
    ))
    .await
    .unwrap();
    let client = Vm6Client::new(
        &sim.base_url,
        Credentials::new(VM6_ADMIN, PASSWORD),
        vm6_options(Duration::from_millis(300)),
    )
    .unwrap();
    let account = client
        .create_account(&hostplane::panel::vmmanager6::NewAccount {
            email: "o@example.com".into(),
            password: SecretString::from("Own3r-Pass-1"),
            role: "@user".into(),
        })
        .await
        .unwrap();
    let slow = FaultSpec {
        latency_ms: 600,
        ..FaultSpec::default()
    };
    for (i, spec) in [BUSY, PROXY, slow].into_iter().enumerate() {
        sim.sim.reset_calls();
        fault(&sim, "vm6", "host.create", spec.clone());
        unknown(
            client.create_host(&host(&format!("h{i}"), account)).await,
            "host.create",
        );
        sim.sim.faults().clear();
        assert_eq!(sim.sim.call_count("vm6", "host.create"), 1, "{spec:?}");
    }
    // Reads wait out a 503 burst as before.
    fault(
        &sim,
        "vm6",
        "host.list",
        FaultSpec {
            unavailable: 3,
            ..FaultSpec::default()
        },
    );
    client.list_hosts(None).await.unwrap();
    assert_eq!(sim.sim.call_count("vm6", "host.list"), 4);
}

#[tokio::test]
async fn a_vmmanager6_create_answer_without_the_host_id_is_unknown() {
    let app = Router::new()
        .route(
            "/auth/v4/public/token",
            post(|| async {
                (
                    StatusCode::CREATED,
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"token":"t","id":"1"}"#,
                )
            }),
        )
        .route(
            "/vm/v3/host",
            post(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"task":55}"#,
                )
            }),
        );
    let base = serve_mock(app).await;
    let client = Vm6Client::new(
        &base,
        Credentials::new(ADMIN, PASSWORD),
        vm6_options(Duration::from_secs(5)),
    )
    .unwrap();
    unknown(client.create_host(&host("h", 3)).await, "host.create");
}

// --- Licensing contract: the documented real answers (reference §5.2, §11) ----------------

/// A loopback BILLmanager that answers each `(func, elid)` with a fixture (XML, as the
/// official module asks for, [S4]); anything else is an mgr `missed` error. Counts the
/// `soft.edit` reads.
async fn mock_billmgr(
    answers: &'static [(&'static str, &'static str, &'static str)],
) -> (Licensing, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let views = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = views.clone();
    let app = Router::new().fallback(post(
        move |axum::extract::Form(form): axum::extract::Form<Vec<(String, String)>>| {
            let counted = counted.clone();
            async move {
                let get = |k: &str| {
                    form.iter()
                        .find(|(key, _)| key == k)
                        .map_or("", |(_, v)| v.as_str())
                };
                let (func, elid) = (get("func"), get("elid"));
                if func == "soft.edit" {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
                let body = answers
                    .iter()
                    .find(|(f, e, _)| *f == func && *e == elid)
                    .map_or(
                        r#"<doc><error type="missed" object="func"><msg>no</msg></error></doc>"#,
                        |(_, _, body)| body,
                    );
                ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
            }
        },
    ));
    let base = serve_mock(app).await;
    let mgr = hostplane::panel::mgr::MgrClient::new(
        &format!("{base}/billmgr"),
        Credentials::new(ADMIN, PASSWORD),
        options(AuthMode::Authinfo, Format::Xml),
    )
    .unwrap();
    (Licensing::new(mgr), views)
}

const TAG: &str = "hpa0-mfzwizltmvzgs3tbnvsq";

/// What hostplane ordered, and the lookup compares with.
fn tagged_order() -> LicenseOrder {
    LicenseOrder {
        pricelist: "55228".to_owned(),
        period: "1".to_owned(),
        ip: "203.0.113.20".to_owned(),
        licname: format!("Item #shopvps1 addon shop.example [{TAG}]"),
        remoteid: TAG.to_owned(),
        addons: vec![],
    }
}

/// The `soft` list with the documented fields only (reference §5.2, [D12]): no `remoteid`,
/// as real lists answer (reference §11, [S4], [S26 `IspSoft.php`]: "doesn't have enough
/// data"). 501 is the order whose answer was lost; 502 is another licence at the same IP (a
/// second product), which IP + type alone could not tell apart if it were of the same type;
/// 503 carries the tag but was created before the order day (not this order); 504 carries the
/// tag at another IP; 505 is a pooled licence; 506 carries the tag in its list name, but its
/// form shows another `remoteid`.
const SOFT_LIST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<doc>
<elem><id>501</id><licname>Item #shopvps1 addon shop.example [hpa0-mfzwizltmvzgs3tbnvsq]</licname><ip>203.0.113.20</ip><period>1</period><pricelist>55228</pricelist><createdate>2026-12-07</createdate><expiredate>2027-01-07</expiredate><autoprolong>off</autoprolong><status>5</status><item_status>5</item_status><status_msg>Processing</status_msg><cost>10.00</cost><update_expiredate/><real_ipchange/><real_keychange/></elem>
<elem><id>502</id><licname>Item #other addon other.example [hpa0-aaaaaaaaaaaaaaaaaaaa]</licname><ip>203.0.113.20</ip><period>1</period><pricelist>55228</pricelist><createdate>2026-12-07</createdate><expiredate>2027-01-07</expiredate><autoprolong>off</autoprolong><status>2</status><item_status>2</item_status><status_msg>Active</status_msg><cost>10.00</cost></elem>
<elem><id>503</id><licname>Item #shopvps1 addon shop.example [hpa0-mfzwizltmvzgs3tbnvsq]</licname><ip>203.0.113.20</ip><period>1</period><pricelist>55228</pricelist><createdate>2026-10-01</createdate><expiredate>2026-11-01</expiredate><autoprolong>off</autoprolong><status>3</status><item_status>3</item_status><status_msg>Stopped</status_msg><cost>10.00</cost></elem>
<elem><id>504</id><licname>Item #shopvps1 addon shop.example [hpa0-mfzwizltmvzgs3tbnvsq]</licname><ip>198.51.100.1</ip><period>1</period><pricelist>55228</pricelist><createdate>2026-12-07</createdate><expiredate>2027-01-07</expiredate><autoprolong>off</autoprolong><status>2</status><item_status>2</item_status><status_msg>Active</status_msg><cost>10.00</cost></elem>
<elem><id>505</id><licname>free.lic</licname><ip>0.0.0.0</ip><period>1</period><pricelist>55228</pricelist><createdate>2026-12-07</createdate><expiredate>2027-01-07</expiredate><autoprolong>off</autoprolong><status>3</status><item_status>3</item_status><status_msg>Stopped</status_msg><cost>10.00</cost></elem>
<elem><id>506</id><licname>Item #shopvps1 addon shop.example [hpa0-mfzwizltmvzgs3tbnvsq]</licname><ip>203.0.113.20</ip><period>1</period><pricelist>55228</pricelist><createdate>2026-12-08</createdate><expiredate>2027-01-08</expiredate><autoprolong>off</autoprolong><status>2</status><item_status>2</item_status><status_msg>Active</status_msg><cost>10.00</cost></elem>
</doc>"#;

/// The `soft.edit` view fields the official module and Upmind read ([S4], [S22]): `lickey`
/// (empty while generated), `expiredate`, `licname`, `ip`, `status`, `createdate`,
/// `pricelist`, `pricelist_name` — no `remoteid`.
const FORM_501: &str = r#"<doc><elid>501</elid><lickey/><expiredate>2027-01-07</expiredate><licname>Item #shopvps1 addon shop.example [hpa0-mfzwizltmvzgs3tbnvsq]</licname><ip>203.0.113.20</ip><status>5</status><createdate>2026-12-07</createdate><pricelist>55228</pricelist><pricelist_name>ispmanager 6 pro</pricelist_name></doc>"#;
const FORM_503: &str = r#"<doc><elid>503</elid><lickey>503-ABCD</lickey><expiredate>2026-11-01</expiredate><licname>Item #shopvps1 addon shop.example [hpa0-mfzwizltmvzgs3tbnvsq]</licname><ip>203.0.113.20</ip><status>3</status><createdate>2026-10-01</createdate><pricelist>55228</pricelist></doc>"#;
/// A form that does show `remoteid` (a panel that has it), and it is someone else's.
const FORM_506: &str = r#"<doc><elid>506</elid><lickey>506-ABCD</lickey><expiredate>2027-01-08</expiredate><licname>Item #shopvps1 addon shop.example [hpa0-mfzwizltmvzgs3tbnvsq]</licname><ip>203.0.113.20</ip><status>2</status><createdate>2026-12-08</createdate><pricelist>55228</pricelist><remoteid>l4711</remoteid></doc>"#;

#[tokio::test]
async fn a_lost_order_is_found_by_its_name_tag_ip_type_and_day_and_confirmed_by_its_form() {
    static ANSWERS: [(&str, &str, &str); 4] = [
        ("soft", "", SOFT_LIST),
        ("soft.edit", "501", FORM_501),
        ("soft.edit", "503", FORM_503),
        ("soft.edit", "506", FORM_506),
    ];
    let (lic, views) = mock_billmgr(&ANSWERS).await;
    let listed = lic.licenses().await.unwrap();
    assert_eq!(listed.len(), 6);
    assert!(
        listed.iter().all(|l| l.remoteid.is_empty()),
        "no remoteid listed"
    );
    assert_eq!(listed[0].correlation_id(), Some(TAG), "the name's tag");
    assert_eq!(
        listed[4].correlation_id(),
        None,
        "a pooled licence carries none"
    );

    let day: jiff::civil::Date = "2026-12-07".parse().unwrap();
    let found = lic.find_order(&tagged_order(), Some(day)).await.unwrap();
    let ids: Vec<&str> = found.iter().map(|d| d.license.id.as_str()).collect();
    assert_eq!(ids, ["501"], "{found:?}");
    assert_eq!(found[0].lickey, None, "the key is still being generated");
    // Only the two candidates were read: 501 (confirmed by its tag) and 506 (its form's
    // remoteid is another one).
    assert_eq!(views.load(std::sync::atomic::Ordering::SeqCst), 2);

    // Without the order day, the older licence of the need (bought before, since stopped) is
    // a candidate too, after the working one.
    let found = lic.find_order(&tagged_order(), None).await.unwrap();
    let ids: Vec<&str> = found.iter().map(|d| d.license.id.as_str()).collect();
    assert_eq!(ids, ["501", "503"], "{found:?}");
}

/// The order id where each production client reads it, in the XML the official module asks
/// for; an answer without one is an unknown outcome, never "refused" (reference §11).
#[tokio::test]
async fn order_and_prolong_answers_as_production_clients_read_them() {
    // [S4] `billmanager_noc.php` reads /doc/id.
    static S4: [(&str, &str, &str); 2] = [
        ("soft.order.param", "", "<doc><id>1234567</id></doc>"),
        (
            "service.prolong",
            "1234567",
            "<doc><doc><newexpiredate>2027-02-07</newexpiredate></doc></doc>",
        ),
    ];
    let (lic, _) = mock_billmgr(&S4).await;
    assert_eq!(lic.order(&tagged_order()).await.unwrap(), "1234567");
    assert_eq!(lic.prolong("1234567", "1").await.unwrap(), "2027-02-07");

    // [S26 `BillManager.php`] reads item.id (changed from id in a fix, still so in 2023).
    static S26: [(&str, &str, &str); 1] = [(
        "soft.order.param",
        "",
        "<doc><ok/><item><id>88</id></item></doc>",
    )];
    let (lic, _) = mock_billmgr(&S26).await;
    assert_eq!(lic.order(&tagged_order()).await.unwrap(), "88");

    // An answer with neither id nor error: maybe bought.
    static EMPTY: [(&str, &str, &str); 2] = [
        ("soft.order.param", "", "<doc/>"),
        ("service.prolong", "1", "<doc><ok/></doc>"),
    ];
    let (lic, _) = mock_billmgr(&EMPTY).await;
    unknown(lic.order(&tagged_order()).await, "soft.order.param");
    unknown(lic.prolong("1", "1").await, "service.prolong");

    // A refusal is an error document: the only answer that says nothing was bought.
    static REFUSED: [(&str, &str, &str); 1] = [(
        "soft.order.param",
        "",
        r#"<doc><error type="client" object="balance"><msg>Insufficient funds</msg></error></doc>"#,
    )];
    let (lic, _) = mock_billmgr(&REFUSED).await;
    let e = lic.order(&tagged_order()).await.unwrap_err();
    assert_eq!(e.mgr_kind(), Some("client"), "{e:?}");
}

/// An ispmanager that answers as production clients found real ones do (reference §11,
/// [S26 `IspManager5.php`] "JBS-753", [S7], [S8]): `user.edit&elid=` of an unknown name is
/// an empty form without an error; the `user` list leaves `active` out for a suspended user;
/// `user.suspend` can come back with neither `ok` nor an error. Independent of our simulator,
/// which was written from the same page as the client.
async fn mock_ispmanager() -> String {
    let app = Router::new().fallback(post(|body: String| async move {
        let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
        let func = form
            .iter()
            .find(|(k, _)| k == "func")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let answer = match func {
            "user" => {
                r#"{"doc":{"elem":[{"name":{"$":"alice"},"active":{"$":"on"},"limit_quota":{"$":"1024"}},{"name":{"$":"bob"},"limit_quota":{"$":"1024"}}]}}"#
            }
            "user.edit" => r#"{"doc":{"elid":{},"name":{},"preset":{"$":"basic"}}}"#,
            _ => r#"{"doc":{}}"#,
        };
        ([(header::CONTENT_TYPE, "application/json")], answer).into_response()
    }));
    let base = serve_mock(app).await;
    format!("{base}/ispmgr")
}

#[tokio::test]
async fn ispmanager_existence_activity_and_success_are_read_as_production_clients_do() {
    let isp = hostplane::panel::ispmanager::IspManager::new(client_of(&mock_ispmanager().await));
    // The empty form of an unknown name is not an account: existence is the list's word.
    assert_eq!(isp.user("ghost").await.unwrap(), None);
    let alice = isp.user("alice").await.unwrap().expect("listed");
    assert!(alice.active);
    // No `active` is not "active".
    let bob = isp.user("bob").await.unwrap().expect("listed");
    assert!(!bob.active, "a user listed without active=on is suspended");
    // Neither `ok` nor an error: not known to be done.
    unknown(isp.suspend_user("alice").await, "user.suspend");
    unknown(isp.delete_user("alice").await, "user.delete");
}
