//! What the clients do with answers a real panel (or what stands in front of it) may give and
//! the simulator never does: an endless body, a redirect, an error that echoes the request's
//! secrets. A small axum server on 127.0.0.1 plays the panel.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use common::*;
use hostplane::panel::mgr::{AuthMode, Format, MgrClient, MgrOptions};
use hostplane::panel::vmmanager6::{Vm6Client, Vm6Options, WakePolicy};
use hostplane::panel::{Credentials, HttpOptions, Limiter, PanelError, RetryPolicy};
use secrecy::SecretString;

fn mgr_options(max_body_bytes: usize) -> MgrOptions {
    MgrOptions {
        http: HttpOptions {
            timeout: Duration::from_secs(5),
            max_body_bytes,
            ..HttpOptions::default()
        },
        retry: fast_retry(),
        ..options(AuthMode::Authinfo, Format::Json)
    }
}

fn vm6_options(max_body_bytes: usize) -> Vm6Options {
    Vm6Options {
        http: HttpOptions {
            timeout: Duration::from_secs(5),
            max_body_bytes,
            ..HttpOptions::default()
        },
        limiter: Limiter::unlimited(),
        retry: RetryPolicy {
            attempts: 2,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(4),
        },
        wake: WakePolicy {
            attempts: 3,
            step: Duration::from_millis(2),
        },
        ..Vm6Options::default()
    }
}

/// An endless body without a length, and a 1 MiB body that says so up front.
fn endless() -> Response {
    let chunk = Bytes::from(vec![b' '; 64 * 1024]);
    let stream = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn one_mib() -> Response {
    let mut body = vec![b' '; 1024 * 1024];
    body[0] = b'{';
    *body.last_mut().unwrap() = b'}';
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[tokio::test]
async fn answers_are_read_up_to_a_limit_that_the_error_names() {
    let base = serve_mock(
        Router::new()
            .route("/endless/ispmgr", post(|| async { endless() }))
            .route("/big/ispmgr", post(|| async { one_mib() }))
            .route("/endless/vm/v3/os", any(|| async { endless() }))
            .route(
                "/endless/auth/v4/public/token",
                post(|| async {
                    (
                        StatusCode::CREATED,
                        [(header::CONTENT_TYPE, "application/json")],
                        r#"{"token":"t-1","id":"1"}"#,
                    )
                }),
            ),
    )
    .await;
    for path in ["/endless/ispmgr", "/big/ispmgr"] {
        let mgr = MgrClient::new(
            &format!("{base}{path}"),
            Credentials::new(ADMIN, PASSWORD),
            mgr_options(256 * 1024),
        )
        .unwrap();
        let e = tokio::time::timeout(
            Duration::from_secs(10),
            mgr.call("user", &[], hostplane::panel::Idempotency::Idempotent),
        )
        .await
        .expect("the client stops reading at the limit")
        .unwrap_err();
        assert!(
            matches!(&e, PanelError::Protocol { message } if message.contains("256 KiB")),
            "{path}: {e:?}"
        );
    }
    // The default is 16 MiB, and the REST client keeps it too.
    assert_eq!(HttpOptions::default().max_body_bytes, 16 * 1024 * 1024);
    let vm6 = Vm6Client::new(
        &format!("{base}/endless"),
        Credentials::new(ADMIN, PASSWORD),
        vm6_options(128 * 1024),
    )
    .unwrap();
    let e = tokio::time::timeout(Duration::from_secs(10), vm6.list_os(None))
        .await
        .expect("the client stops reading at the limit")
        .unwrap_err();
    assert!(e.to_string().contains("128 KiB"), "{e:?}");
}

/// Requests that reached the redirect target, as `METHOD path?query body`.
type Seen = Arc<Mutex<Vec<String>>>;

#[tokio::test]
async fn credentialed_requests_never_follow_redirects() {
    let seen: Seen = Arc::default();
    let recorder = {
        let seen = Arc::clone(&seen);
        move |request: axum::extract::Request| {
            let seen = Arc::clone(&seen);
            async move {
                let line = format!("{} {}", request.method(), request.uri());
                let body = axum::body::to_bytes(request.into_body(), 1 << 20)
                    .await
                    .unwrap();
                seen.lock()
                    .unwrap()
                    .push(format!("{line} {}", String::from_utf8_lossy(&body)));
                r#"{"doc":{"ok":{}}}"#
            }
        }
    };
    let elsewhere = serve_mock(Router::new().fallback(recorder)).await;
    let target = format!("{elsewhere}/stolen/ispmgr?session=abcdef123456#frag");
    let redirect = move |code: u16| {
        let target = target.clone();
        move || async move {
            let mut headers = HeaderMap::new();
            headers.insert(header::LOCATION, target.parse().unwrap());
            (StatusCode::from_u16(code).unwrap(), headers)
        }
    };
    let base = serve_mock(
        Router::new()
            .route("/r302/ispmgr", post(redirect(302)))
            .route("/r307/ispmgr", post(redirect(307)))
            .route("/r308/auth/v4/public/token", post(redirect(308))),
    )
    .await;

    for path in ["/r302/ispmgr", "/r307/ispmgr"] {
        let mgr = MgrClient::new(
            &format!("{base}{path}"),
            Credentials::new(ADMIN, PASSWORD),
            mgr_options(1 << 20),
        )
        .unwrap();
        let e = mgr
            .call("user", &[], hostplane::panel::Idempotency::Idempotent)
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(&format!("{elsewhere}/stolen/ispmgr")) && text.contains("redirect"),
            "{text}"
        );
        assert!(
            !text.contains("abcdef123456") && !text.contains("frag"),
            "{text}"
        );
        // A create answered by a redirect may have been applied before it: unknown outcome.
        let e = mgr
            .call(
                "user.add.finish",
                &[("sok", "ok"), ("name", "u1")],
                hostplane::panel::Idempotency::NonIdempotent,
            )
            .await
            .unwrap_err();
        assert!(matches!(e, PanelError::OutcomeUnknown { .. }), "{e:?}");
    }
    let vm6 = Vm6Client::new(
        &format!("{base}/r308"),
        Credentials::new(ADMIN, PASSWORD),
        vm6_options(1 << 20),
    )
    .unwrap();
    let e = vm6.login().await.unwrap_err();
    assert!(e.to_string().contains("redirect"), "{e:?}");
    assert!(
        seen.lock().unwrap().is_empty(),
        "credentials were sent to the redirect target: {:?}",
        seen.lock().unwrap()
    );
}

const CUSTOMER_PASSWORD: &str = "Cust0mer-Pw-Ab7";
const SESSION: &str = "ses-0123456789abcdef";
const TOKEN: &str = "tok-4f1c2a9b7e6d";

/// An mgr panel whose errors quote the request (with its session id in session mode) and the
/// credentials, as some versions do.
async fn echo_form(body: String) -> Response {
    if body.contains("func=auth&") {
        return format!(r#"{{"doc":{{"auth":{{"$id":"{SESSION}","$":"{SESSION}"}}}}}}"#)
            .into_response();
    }
    let quoted = body.replace('"', "'");
    serde_json::json!({"doc": {"error": {
        "$type": "value", "$object": "passwd",
        "msg": {"$": format!("Invalid request {quoted} (login {ADMIN}:{PASSWORD})")}
    }}})
    .to_string()
    .into_response()
}

/// A VMmanager 6 whose errors quote the token and the request body.
async fn echo_json(headers: HeaderMap, body: String) -> Response {
    let token = headers
        .get("x-xsrf-token")
        .and_then(|t| t.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({"error": {"code": 4000, "msg": format!("bad body {body} for token {token}"), "value": {}}})
            .to_string(),
    )
        .into_response()
}

#[tokio::test]
async fn panel_error_text_is_scrubbed_of_secrets() {
    let base = serve_mock(
        Router::new()
            .route("/ispmgr", post(echo_form))
            .route(
                "/auth/v4/public/token",
                post(|| async {
                    (
                        StatusCode::CREATED,
                        [(header::CONTENT_TYPE, "application/json")],
                        format!(r#"{{"token":"{TOKEN}","id":"7"}}"#),
                    )
                }),
            )
            .route("/vm/v3/host", post(echo_json)),
    )
    .await;
    let mut texts = vec![];
    for auth in [AuthMode::Authinfo, AuthMode::Session] {
        let isp = hostplane::panel::ispmanager::IspManager::new(
            MgrClient::new(
                &format!("{base}/ispmgr"),
                Credentials::new(ADMIN, PASSWORD),
                MgrOptions {
                    auth,
                    ..mgr_options(1 << 20)
                },
            )
            .unwrap(),
        );
        let e = isp
            .set_password("client42", &SecretString::from(CUSTOMER_PASSWORD))
            .await
            .unwrap_err();
        assert!(matches!(e, PanelError::Value { .. }), "{e:?}");
        texts.push(format!("{e} {e:?}"));
    }
    let vm6 = Vm6Client::new(
        &base,
        Credentials::new(ADMIN, PASSWORD),
        vm6_options(1 << 20),
    )
    .unwrap();
    let host = hostplane::panel::vmmanager6::NewHost {
        name: "h1".into(),
        password: SecretString::from(CUSTOMER_PASSWORD),
        cluster: 1,
        os: 1,
        cpu_number: 1,
        ram_mib: 1024,
        hdd_mib: 10240,
        account: 3,
        ipv4_number: 1,
        ipv4_pool: vec![],
        domain: None,
        comment: None,
        node: None,
        net_bandwidth_mbitps: None,
        recipe: None,
        recipe_params: vec![],
        send_email_mode: None,
    };
    let e = vm6.create_host(&host).await.unwrap_err();
    texts.push(format!("{e} {e:?}"));
    for text in &texts {
        for secret in [PASSWORD, CUSTOMER_PASSWORD, SESSION, TOKEN] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("[redacted]"), "{text}");
    }
    // What is not secret stays, so the message still says what went wrong.
    assert!(texts[0].contains("client42") && texts[0].contains("Invalid request"));
    assert!(texts[2].contains("bad body"), "{}", texts[2]);
}
