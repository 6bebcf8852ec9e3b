//! Credentials never leak: no password in any log line captured while the clients work
//! (successes, auth failures, re-logins, retries), and none in any URL they request.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use hostplane::panel::ispmanager::{IspManager, NewUser};
use hostplane::panel::licensing::LicenseOrder;
use hostplane::panel::mgr::{AuthMode, Format};
use hostplane::simulator::FaultSpec;
use secrecy::SecretString;

const USER_PASSWORD: &str = "Cl13nt-Pw-Kx7";
const WRONG_PASSWORD: &str = "Wr0ng-Pw-Yq3";

/// A `MakeWriter` that appends every log line to a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

// One thread: the subscriber set with `set_default` sees the server's and the client's events.
#[tokio::test(flavor = "current_thread")]
async fn no_password_in_logs_or_urls() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = start().await;
    for (auth, format) in [
        (AuthMode::Authinfo, Format::Json),
        (AuthMode::Session, Format::Xml),
    ] {
        let isp = isp(&sim, auth, format);
        tracing::info!(client = ?isp, "client built");
        let name = format!("u{}", format!("{auth:?}").to_lowercase());
        isp.create_user(&NewUser {
            name: name.clone(),
            password: SecretString::from(USER_PASSWORD),
            fullname: String::new(),
            preset: None,
            limits: Default::default(),
            domain: None,
        })
        .await
        .unwrap();
        isp.set_password(&name, &SecretString::from(USER_PASSWORD))
            .await
            .unwrap();
        // A weak password error, a retried 503, a session expiry, a lost answer.
        let _ = isp
            .set_password(&name, &SecretString::from("x"))
            .await
            .unwrap_err();
        sim.sim.faults().set(
            "ispmgr",
            "user",
            FaultSpec {
                unavailable: 1,
                expire_session: 1,
                ..Default::default()
            },
        );
        isp.users().await.unwrap();
        isp.users().await.unwrap();
        let link = isp.login_url(&name).await.unwrap();
        tracing::info!(?link, "login link made");

        // Bad credentials, both modes.
        let bad = IspManager::new(mgr_with(
            &sim,
            "/ispmgr",
            WRONG_PASSWORD,
            options(auth, format),
        ));
        let e = bad.whoami().await.unwrap_err();
        tracing::warn!(error = %e, debug = ?e, "expected auth failure");

        let lic = licensing(&sim, auth, format);
        sim.sim.faults().set(
            "billmgr",
            "soft.order.param",
            FaultSpec {
                drop_response: 1,
                ..Default::default()
            },
        );
        let e = lic
            .order(&LicenseOrder {
                pricelist: "55228".into(),
                period: "1".into(),
                ip: "203.0.113.7".into(),
                licname: "x".into(),
                remoteid: format!("r-{name}"),
                addons: vec![],
            })
            .await
            .unwrap_err();
        tracing::warn!(error = %e, "expected unknown outcome");
    }

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("mgr call ok"), "the capture works: {logs}");
    assert!(logs.contains("retrying"), "{logs}");
    for secret in [PASSWORD, USER_PASSWORD, WRONG_PASSWORD] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked into the logs:\n{logs}"
        );
    }

    // Every client request was a POST to the bare endpoint: nothing in the query string.
    let requests = sim.sim.requests();
    assert!(requests.len() > 20, "{requests:?}");
    for line in &requests {
        assert!(line.starts_with("POST /"), "{line}");
        assert!(!line.contains('?'), "{line}");
        for secret in [PASSWORD, USER_PASSWORD, WRONG_PASSWORD] {
            assert!(!line.contains(secret), "{line}");
        }
    }
}

#[test]
fn login_links_and_clients_do_not_print_secrets() {
    let client = hostplane::panel::mgr::MgrClient::new(
        "https://panel.example:1500/ispmgr",
        hostplane::panel::Credentials::new("root", PASSWORD),
        Default::default(),
    )
    .unwrap();
    let link = client.key_login_url("client42", "0123456789abcdef0123");
    let shown = format!("{client:?} {link:?}");
    assert!(
        !shown.contains(PASSWORD) && !shown.contains("0123456789abcdef0123"),
        "{shown}"
    );
    // The login link itself carries the one-time key (and nothing else secret).
    use secrecy::ExposeSecret;
    assert_eq!(
        link.expose_secret(),
        "https://panel.example:1500/ispmgr?func=auth&username=client42&key=0123456789abcdef0123&checkcookie=no"
    );
}
