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
    hostplane::panel::transport::install_crypto_provider();
    let app = Router::new().fallback(post(move || async move {
        ([(header::CONTENT_TYPE, "application/json")], answer).into_response()
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/billmgr")
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
    hostplane::panel::transport::install_crypto_provider();
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = Vm6Client::new(
        &format!("http://{addr}"),
        Credentials::new(ADMIN, PASSWORD),
        vm6_options(Duration::from_secs(5)),
    )
    .unwrap();
    unknown(client.create_host(&host("h", 3)).await, "host.create");
}
