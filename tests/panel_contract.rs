//! Contract tests: every typed operation of the mgr clients (ispmanager, VMmanager 5, the
//! licensing server) against the in-process simulator, and every error pair of reference §1.8
//! produced by the simulator and mapped by the client.

mod common;

use std::collections::BTreeMap;

use common::*;
use hostplane::panel::PanelError;
use hostplane::panel::ispmanager::{NewUser, UserChange};
use hostplane::panel::licensing::{LicenseOrder, LicenseStatus, tagged_name};
use hostplane::panel::mgr::{AuthMode, Format};
use hostplane::panel::vmmanager5::NewVm;
use hostplane::panel::{Credentials, HttpOptions, Idempotency};
use jiff::SignedDuration;
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};

fn limits(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        name: name.to_owned(),
        password: SecretString::from("Us3r-Pass-77"),
        fullname: "Jane Doe".to_owned(),
        preset: Some("basic".to_owned()),
        limits: limits(&[("limit_quota", "2048")]),
        domain: Some(format!("{name}.example")),
    }
}

fn assert_pair(e: &PanelError, kind: &str, object: &str) {
    assert_eq!(e.mgr_kind(), Some(kind), "{e:?}");
    assert_eq!(e.mgr_object().unwrap_or(""), object, "{e:?}");
}

/// The whole ispmanager surface, in JSON with authinfo and in XML with sessions.
#[tokio::test]
async fn ispmanager_operations_and_error_pairs() {
    let sim = start().await;
    for (auth, format) in [
        (AuthMode::Authinfo, Format::Json),
        (AuthMode::Session, Format::Xml),
    ] {
        let isp = isp(&sim, auth, format);
        let who = isp.whoami().await.unwrap();
        assert_eq!(who.name, ADMIN);

        // Presets.
        let presets = isp.presets().await.unwrap();
        assert!(presets.contains(&"basic".to_owned()), "{presets:?}");
        let basic = isp.preset("basic").await.unwrap().unwrap();
        assert_eq!(basic.limits["limit_quota"], "1024");
        assert_eq!(isp.preset("nope").await.unwrap(), None);

        // Create, list, get.
        let name = if format == Format::Json {
            "client42"
        } else {
            "client43"
        };
        isp.create_user(&new_user(name)).await.unwrap();
        let users = isp.users().await.unwrap();
        let listed = users.iter().find(|u| u.name == name).expect("listed");
        assert!(listed.active);
        assert_eq!(listed.level, Some(16));
        assert_eq!(
            listed.limits["limit_quota"], "2048",
            "explicit limit wins over the preset"
        );
        assert_eq!(
            listed.limits["limit_webdomains"], "5",
            "preset limit copied"
        );
        let got = isp.user(name).await.unwrap().expect("found");
        assert_eq!(got.fullname, "Jane Doe");
        assert_eq!(isp.user("ghost").await.unwrap(), None);
        let sites = isp.webdomains().await.unwrap();
        assert!(
            sites
                .iter()
                .any(|d| d.name == format!("{name}.example") && d.owner == name)
        );

        // §1.8 pairs on create.
        let e = isp.create_user(&new_user(name)).await.unwrap_err();
        assert_pair(&e, "exists", "user");
        assert!(matches!(e, PanelError::Exists { .. }));
        let e = isp.create_user(&new_user("Bad Name!")).await.unwrap_err();
        assert_pair(&e, "value", "name");
        let mut weak = new_user("weakling");
        weak.password = SecretString::from("123");
        let e = isp.create_user(&weak).await.unwrap_err();
        assert_pair(&e, "value", "passwd");

        // Edit: preset and one limit; omitted limits unchanged.
        let change = UserChange {
            preset: Some("pro".to_owned()),
            limits: limits(&[("limit_db", "7")]),
        };
        isp.edit_user(name, &change).await.unwrap();
        let got = isp.user(name).await.unwrap().unwrap();
        assert_eq!(got.preset, "pro");
        assert_eq!(got.limits["limit_db"], "7");
        assert_eq!(got.limits["limit_quota"], "10240");
        isp.edit_user(
            name,
            &UserChange {
                preset: None,
                limits: limits(&[("limit_emails", "3")]),
            },
        )
        .await
        .unwrap();
        let got = isp.user(name).await.unwrap().unwrap();
        assert_eq!(
            (
                got.limits["limit_emails"].as_str(),
                got.limits["limit_db"].as_str()
            ),
            ("3", "7")
        );

        // Suspend / resume, and their pair for an unknown user.
        isp.suspend_user(name).await.unwrap();
        assert!(!isp.user(name).await.unwrap().unwrap().active);
        isp.suspend_user(name).await.unwrap(); // again: still ok
        isp.resume_user(name).await.unwrap();
        assert!(isp.user(name).await.unwrap().unwrap().active);
        assert_pair(
            &isp.suspend_user("ghost").await.unwrap_err(),
            "missed",
            "users",
        );
        assert_pair(
            &isp.resume_user("ghost").await.unwrap_err(),
            "missed",
            "users",
        );

        // Password.
        isp.set_password(name, &SecretString::from("N3w-Pass-99"))
            .await
            .unwrap();
        let e = isp
            .set_password(name, &SecretString::from("x"))
            .await
            .unwrap_err();
        assert_pair(&e, "value", "passwd");

        // Web domains and DNS.
        let site = format!("shop.{name}.example");
        isp.create_webdomain(name, &site, "admin@example.org")
            .await
            .unwrap();
        assert_pair(
            &isp.create_webdomain(name, &site, "admin@example.org")
                .await
                .unwrap_err(),
            "exists",
            "webdomain",
        );
        isp.delete_webdomain(&site).await.unwrap();
        assert!(
            !isp.webdomains()
                .await
                .unwrap()
                .iter()
                .any(|d| d.name == site)
        );
        let zone = format!("{name}.example");
        let ns = vec!["ns1.example.net.".to_owned(), "ns2.example.net.".to_owned()];
        isp.create_dns_domain(name, &zone, "203.0.113.5", &ns)
            .await
            .unwrap();
        assert!(
            isp.dns_domains()
                .await
                .unwrap()
                .iter()
                .any(|d| d.name == zone && d.owner == name)
        );
        assert_pair(
            &isp.create_dns_domain(name, &zone, "203.0.113.5", &ns)
                .await
                .unwrap_err(),
            "exists",
            "domain",
        );
        isp.delete_dns_domain(&zone).await.unwrap();
        assert!(isp.dns_domains().await.unwrap().is_empty());

        // Login link: works once, in a browser-like GET.
        let url = isp.login_url(name).await.unwrap();
        assert!(
            url.expose_secret().contains("func=auth")
                && url.expose_secret().contains("checkcookie=no")
        );
        let first = reqwest::get(format!("{}&out=json", url.expose_secret()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(first.contains(r#""auth""#), "{first}");
        let again = reqwest::get(format!("{}&out=json", url.expose_secret()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            again.contains(r#""$type":"auth""#),
            "key is single-use: {again}"
        );

        // access: an ordinary user (via su) may not list users.
        let e = isp
            .mgr()
            .call("user", &[("su", name)], Idempotency::Idempotent)
            .await
            .unwrap_err();
        assert_pair(&e, "access", "user");

        // Delete, and the pair for deleting again.
        isp.delete_user(name).await.unwrap();
        assert_eq!(isp.user(name).await.unwrap(), None);
        assert_pair(&isp.delete_user(name).await.unwrap_err(), "value", "elid");
    }
}

#[tokio::test]
async fn bad_credentials_are_an_auth_error_in_both_modes() {
    let sim = start().await;
    for auth in [AuthMode::Authinfo, AuthMode::Session] {
        let client = mgr_with(
            &sim,
            "/ispmgr",
            "wrong-password",
            options(auth, Format::Json),
        );
        let e = hostplane::panel::ispmanager::IspManager::new(client)
            .whoami()
            .await
            .unwrap_err();
        assert!(matches!(e, PanelError::Auth { .. }), "{e:?}");
        assert_pair(&e, "auth", "");
    }
}

#[tokio::test]
async fn vmmanager5_operations() {
    let sim = start().await;
    let vm5 = vm5(&sim);
    let uid = vm5
        .create_user("owner1", &SecretString::from("Own3r-pass"))
        .await
        .unwrap();
    let users = vm5.users().await.unwrap();
    assert!(
        users
            .iter()
            .any(|u| u.id == uid && u.name == "owner1" && u.level == Some(16))
    );
    assert_pair(
        &vm5.create_user("owner1", &SecretString::from("Own3r-pass"))
            .await
            .unwrap_err(),
        "exists",
        "user",
    );

    let new = NewVm {
        name: "cont1234".to_owned(),
        domain: "vps1234.example.net".to_owned(),
        user: uid.clone(),
        preset: None,
        vmi: "ISPsystem__Ubuntu-20.04-amd64".to_owned(),
        vsize_mib: 20_480,
        mem_mib: 2048,
        vcpu: 2,
        password: SecretString::from("R00t-pass-vm"),
        recipe: None,
    };
    let id = vm5.create_vm(&new).await.unwrap();
    assert_pair(&vm5.create_vm(&new).await.unwrap_err(), "exists", "vm");
    // Installing for the first polls (2 by default), then ready.
    assert!(vm5.vms().await.unwrap()[0].installing);
    assert!(vm5.vms().await.unwrap()[0].installing);
    let vm = vm5.vms().await.unwrap().remove(0);
    assert!(!vm.installing);
    assert_eq!(
        (vm.id.as_str(), vm.user.as_str(), vm.mem.as_str()),
        (id.as_str(), uid.as_str(), "2048")
    );
    assert!(!vm.ip.is_empty());

    vm5.change_vm(&id, 4096, 4).await.unwrap();
    let vm = vm5.vm(&id).await.unwrap().unwrap();
    assert_eq!((vm.mem.as_str(), vm.vcpu.as_str()), ("4096", "4"));
    vm5.stop(&id).await.unwrap();
    assert_eq!(vm5.vm(&id).await.unwrap().unwrap().powered, Some(false));
    vm5.start(&id).await.unwrap();
    vm5.restart(&id).await.unwrap();
    assert_eq!(vm5.vm(&id).await.unwrap().unwrap().powered, Some(true));

    // The disk grows (`vm.volume.edit`); a shrink is the panel's `value`/`size`.
    let disks = vm5.volumes(&id).await.unwrap();
    assert_eq!(disks.len(), 1, "{disks:?}");
    assert!(disks[0].is_vdisk());
    assert_eq!(disks[0].size_mib, Some(20_480));
    vm5.grow_volume(&id, &disks[0].id, 30_720).await.unwrap();
    assert_eq!(vm5.volumes(&id).await.unwrap()[0].size_mib, Some(30_720));
    assert_eq!(vm5.vm(&id).await.unwrap().unwrap().vsize, "30720");
    assert_pair(
        &vm5.grow_volume(&id, &disks[0].id, 10_240)
            .await
            .unwrap_err(),
        "value",
        "size",
    );
    assert_pair(
        &vm5.grow_volume(&id, &id, 40_960).await.unwrap_err(),
        "value",
        "elid",
    );
    vm5.reinstall(
        &id,
        "ISPsystem__CentOS-7-amd64",
        &SecretString::from("N3w-root-pw"),
        None,
    )
    .await
    .unwrap();
    assert!(vm5.vm(&id).await.unwrap().unwrap().installing);
    vm5.set_password(&id, &SecretString::from("An0ther-pw"))
        .await
        .unwrap();
    assert_pair(
        &vm5.set_password(&id, &SecretString::from("x"))
            .await
            .unwrap_err(),
        "value",
        "password",
    );
    vm5.delete(&id).await.unwrap();
    assert_eq!(vm5.vm(&id).await.unwrap(), None);
    assert_pair(&vm5.delete(&id).await.unwrap_err(), "value", "elid");
    assert_pair(&vm5.start("999999").await.unwrap_err(), "value", "elid");
}

/// A small VM `name` to create, owned by the new owner `owner`.
async fn small_vm(vm5: &hostplane::panel::vmmanager5::Vm5, owner: &str, name: &str) -> NewVm {
    NewVm {
        name: name.to_owned(),
        domain: format!("{name}.example.net"),
        user: vm5
            .create_user(owner, &SecretString::from("Own3r-pass"))
            .await
            .unwrap(),
        preset: None,
        vmi: "ISPsystem__Ubuntu-20.04-amd64".to_owned(),
        vsize_mib: 10_240,
        mem_mib: 1024,
        vcpu: 1,
        password: SecretString::from("R00t-pass-vm"),
        recipe: None,
    }
}

/// A VMmanager 5 `vm` list under both dialects: power from `vmpowered` (the strict, real
/// answer) and from `state` only where `vmpowered` is missing; `admdown` from `vmstatus`.
#[tokio::test]
async fn vmmanager5_power_comes_from_vmpowered_and_admdown_from_vmstatus() {
    use hostplane::simulator::Profile;
    let sim = start().await;
    let vm5 = vm5(&sim);
    let new = small_vm(&vm5, "owner2", "cont77").await;
    let id = vm5.create_vm(&new).await.unwrap();
    for profile in [Profile::Strict, Profile::Complete] {
        sim.sim.set_dialect(profile.dialect());
        let vm = vm5.vms().await.unwrap().remove(0);
        assert_eq!(
            (vm.powered, vm.admin_down),
            (Some(true), false),
            "{profile:?}"
        );
    }
    sim.sim.set_dialect(Profile::Strict.dialect());
    assert!(sim.sim.set_vm5_admin_down(id.parse().unwrap(), true));
    let vm = vm5.vms().await.unwrap().remove(0);
    assert_eq!((vm.powered, vm.admin_down), (Some(false), true));
    assert!(!sim.sim.set_vm5_admin_down(999_999, true));
}

/// Plays a VMmanager 5 panel that answers every `func` with the fixed XML document `answers`
/// gives for it (an `<error>` for any other).
async fn fixed_vm5(answers: &'static [(&'static str, &'static str)]) -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/vmmgr",
        post(move |body: String| async move {
            let func = body
                .split('&')
                .find_map(|kv| kv.strip_prefix("func="))
                .unwrap_or("")
                .to_owned();
            answers
                .iter()
                .find(|(f, _)| *f == func)
                .map(|(_, doc)| doc.to_string())
                .unwrap_or_else(|| {
                    r#"<?xml version="1.0" encoding="UTF-8"?><doc><error type="missed" object="func"/></doc>"#
                        .to_owned()
                })
        }),
    );
    let base = serve_mock(app).await;
    format!("{base}/vmmgr")
}

/// The fields a production client reads from a real VMmanager 5 (reference §11): the `vm`
/// list carries `vmpowered` and `vmstatus`, no `state` [S26 `VmManager5_KVM.php`:
/// `$VM['vmpowered'] == 'off'` and `$VM['vmstatus'] == 'admdown'` in `CheckIsActive`]; the
/// disks come from `vm.volume` with `id`, `type` = `vdisk` and `size` in MiB, grown with
/// `vm.volume.edit&elid=DISK&plid=VM&size=&sok=ok` [S26, `Scheme_Change`]; mutations answer
/// `<ok/>`, and an answer without `ok` or an error is not success (§11).
#[tokio::test]
async fn vmmanager5_reads_the_documented_real_answers() {
    static ANSWERS: &[(&str, &str)] = &[
        (
            "vm",
            r#"<?xml version="1.0" encoding="UTF-8"?>
<doc><elem><id>152</id><name>v152558</name><ip>203.0.113.7</ip><vmpowered>on</vmpowered><vmstatus>active</vmstatus></elem><elem><id>153</id><name>v152559</name><ip>203.0.113.8</ip><vmpowered>off</vmpowered><vmstatus>admdown</vmstatus></elem><elem><id>154</id><name>v152560</name><ip>203.0.113.9</ip></elem></doc>"#,
        ),
        (
            "vm.volume",
            r#"<?xml version="1.0" encoding="UTF-8"?>
<doc><elem><id>301</id><name>v152558_disk</name><type>vdisk</type><size>20480</size></elem><elem><id>302</id><name>cdrom</name><type>iso</type></elem></doc>"#,
        ),
        (
            "vm.volume.edit",
            r#"<?xml version="1.0" encoding="UTF-8"?><doc><ok/></doc>"#,
        ),
        // Neither `ok` nor an id nor an error: a panel interrupted mid-way.
        ("vm.stop", r#"<?xml version="1.0" encoding="UTF-8"?><doc/>"#),
    ];
    let url = fixed_vm5(ANSWERS).await;
    let vm5 = hostplane::panel::vmmanager5::Vm5::new(
        hostplane::panel::mgr::MgrClient::new(
            &url,
            Credentials::new(ADMIN, PASSWORD),
            options(AuthMode::Authinfo, Format::Xml),
        )
        .unwrap(),
    );
    let vms = vm5.vms().await.unwrap();
    let power: Vec<_> = vms
        .iter()
        .map(|v| (v.id.as_str(), v.powered, v.admin_down))
        .collect();
    assert_eq!(
        power,
        [
            ("152", Some(true), false),
            ("153", Some(false), true),
            // Neither field: unknown, never guessed.
            ("154", None, false),
        ]
    );
    let disks = vm5.volumes("152").await.unwrap();
    assert_eq!(disks.len(), 2);
    assert_eq!(
        (disks[0].id.as_str(), disks[0].size_mib, disks[0].is_vdisk()),
        ("301", Some(20_480), true)
    );
    assert!(!disks[1].is_vdisk());
    vm5.grow_volume("152", "301", 30_720).await.unwrap();
    assert!(matches!(
        vm5.stop("152").await,
        Err(PanelError::OutcomeUnknown { .. })
    ));
}

/// A mutation waits for `HttpOptions::mutation_timeout`, a read for `timeout` (a module's
/// `spec.timeouts`): with 1 s for reads and 3 s for mutations, a change answered after 2 s
/// succeeds and a read answered after 2 s times out; with 1 s for mutations the same change is
/// an unknown outcome (reference §11, "timeouts"; the `late_ms` fault applies, then answers).
#[tokio::test]
async fn mutations_and_reads_have_their_own_timeouts() {
    use hostplane::simulator::FaultSpec;
    let sim = start().await;
    let with = |mutation_secs: u64| {
        hostplane::panel::vmmanager5::Vm5::new(mgr_with(
            &sim,
            "/vmmgr",
            PASSWORD,
            hostplane::panel::mgr::MgrOptions {
                http: HttpOptions {
                    timeout: std::time::Duration::from_secs(1),
                    mutation_timeout: Some(std::time::Duration::from_secs(mutation_secs)),
                    ..HttpOptions::default()
                },
                retry: hostplane::panel::RetryPolicy::none(),
                ..options(AuthMode::Authinfo, Format::Json)
            },
        ))
    };
    let new = small_vm(&vm5(&sim), "owner3", "cont88").await;
    let id = vm5(&sim).create_vm(&new).await.unwrap();
    let late = FaultSpec {
        late_ms: 2000,
        ..FaultSpec::NONE
    };
    sim.sim.faults().set("vmmgr", "vm.edit", late.clone());
    sim.sim.faults().set("vmmgr", "vm", late);
    with(3)
        .change_vm(&id, 2048, 2)
        .await
        .expect("a slow change within the mutation timeout");
    assert!(matches!(
        with(3).vms().await,
        Err(PanelError::Transport { .. })
    ));
    let lost = with(1)
        .create_vm(&NewVm {
            name: "cont89".to_owned(),
            ..new.clone()
        })
        .await;
    assert!(
        matches!(lost, Err(PanelError::OutcomeUnknown { .. })),
        "{lost:?}"
    );
    sim.sim.faults().clear();
    // It was applied all the same: the caller must look before creating again.
    assert!(
        vm5(&sim)
            .vms()
            .await
            .unwrap()
            .iter()
            .any(|v| v.name == "cont89")
    );
}

fn order(remoteid: &str) -> LicenseOrder {
    LicenseOrder {
        pricelist: "55228".to_owned(),
        period: "1".to_owned(),
        ip: "203.0.113.10".to_owned(),
        // hostplane's names carry the correlation id: real `soft` lists do not echo
        // `remoteid` (reference §11).
        licname: tagged_name("Item #7 addon ispmanager", remoteid, 128),
        remoteid: remoteid.to_owned(),
        addons: vec![],
    }
}

#[tokio::test]
async fn licensing_operations_balance_and_statuses() {
    let sim = start().await;
    for (auth, format) in [
        (AuthMode::Authinfo, Format::Xml),
        (AuthMode::Session, Format::Json),
    ] {
        sim.sim.transact(|s| {
            s.billmgr.balance = Decimal::new(5000, 2); // 50.00; 55228 costs 10.00 a month
            ((), true)
        });
        let lic = licensing(&sim, auth, format);
        let remoteid = format!("l-{format:?}");
        let id = lic.order(&order(&remoteid)).await.unwrap();
        assert_eq!(sim.sim.read(|s| s.billmgr.balance), Decimal::new(4000, 2));

        // The key appears after two polls.
        let view = lic.view(&id).await.unwrap().unwrap();
        assert_eq!(
            (view.lickey.as_deref(), view.license.status),
            (None, LicenseStatus::Processing)
        );
        assert_eq!(lic.view(&id).await.unwrap().unwrap().lickey, None);
        let view = lic.view(&id).await.unwrap().unwrap();
        assert!(
            view.lickey.as_deref().is_some_and(|k| k.starts_with(&id)),
            "{view:?}"
        );
        assert_eq!(view.license.status, LicenseStatus::Active);
        let today = sim.sim.clock().today();
        assert_eq!(view.license.createdate, today.to_string());
        assert_eq!(
            view.license.expiredate,
            today
                .checked_add(jiff::Span::new().months(1))
                .unwrap()
                .to_string()
        );

        let found = lic
            .find_order(&order(&remoteid), Some(today))
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].license.id, id);
        assert_eq!(lic.view("42").await.unwrap(), None);

        // Pooling: suspend, rename to free.lic on 0.0.0.0, resume, rebind.
        lic.suspend(&id).await.unwrap();
        assert_eq!(
            lic.view(&id).await.unwrap().unwrap().license.status,
            LicenseStatus::Suspended
        );
        lic.edit(&id, "free.lic", "0.0.0.0", "").await.unwrap();
        let pooled = lic.view(&id).await.unwrap().unwrap().license;
        assert_eq!(
            (
                pooled.licname.as_str(),
                pooled.ip.as_str(),
                pooled.remoteid.as_str()
            ),
            ("free.lic", "0.0.0.0", "")
        );
        lic.edit(&id, "Item #8 addon ispmanager", "203.0.113.11", "l-8")
            .await
            .unwrap();
        lic.resume(&id).await.unwrap();
        assert_eq!(
            lic.view(&id).await.unwrap().unwrap().license.status,
            LicenseStatus::Active
        );
        assert_pair(
            &lic.edit(&id, "x", "not-an-ip", "").await.unwrap_err(),
            "value",
            "ip",
        );

        // Prolong: one month more, debited.
        let before = lic.view(&id).await.unwrap().unwrap().license.expiredate;
        let new = lic.prolong(&id, "1").await.unwrap();
        let before: jiff::civil::Date = before.parse().unwrap();
        assert_eq!(
            new,
            before
                .checked_add(jiff::Span::new().months(1))
                .unwrap()
                .to_string()
        );
        assert_eq!(sim.sim.read(|s| s.billmgr.balance), Decimal::new(3000, 2));

        lic.change_pricelist(&id, "55229", "1").await.unwrap();
        assert_eq!(
            lic.view(&id).await.unwrap().unwrap().license.pricelist,
            "55229"
        );
        assert_pair(
            &lic.change_pricelist(&id, "1", "1").await.unwrap_err(),
            "value",
            "pricelist",
        );

        // client/balance: 55230 for 12 months costs 300.00.
        let mut big = order("l-big");
        big.pricelist = "55230".to_owned();
        big.period = "12".to_owned();
        let e = lic.order(&big).await.unwrap_err();
        assert!(matches!(e, PanelError::Client { .. }), "{e:?}");
        assert_pair(&e, "client", "balance");
        assert_eq!(
            sim.sim.read(|s| s.billmgr.balance),
            Decimal::new(3000, 2),
            "nothing debited"
        );
        let mut bad = order("l-bad");
        bad.pricelist = "1".to_owned();
        assert_pair(&lic.order(&bad).await.unwrap_err(), "value", "pricelist");
        bad.pricelist = "55228".to_owned();
        bad.period = "5".to_owned();
        assert_pair(&lic.order(&bad).await.unwrap_err(), "value", "period");

        lic.delete(&id).await.unwrap();
        assert_eq!(
            lic.view(&id).await.unwrap().unwrap().license.status,
            LicenseStatus::Deleted
        );
        assert_pair(&lic.suspend(&id).await.unwrap_err(), "value", "elid");
    }
}

#[tokio::test]
async fn license_expiry_follows_the_clock() {
    let sim = start().await;
    let lic = licensing(&sim, AuthMode::Authinfo, Format::Json);
    let id = lic.order(&order("l-clock")).await.unwrap();
    for _ in 0..3 {
        lic.view(&id).await.unwrap();
    }
    sim.sim.clock().advance(SignedDuration::from_hours(24 * 32));
    let l = lic.view(&id).await.unwrap().unwrap().license;
    assert_eq!(
        l.status,
        LicenseStatus::Suspended,
        "expired licenses are stopped"
    );
    // Prolonging an expired license counts from today.
    let new = lic.prolong(&id, "1").await.unwrap();
    let today = sim.sim.clock().today();
    assert_eq!(
        new,
        today
            .checked_add(jiff::Span::new().months(1))
            .unwrap()
            .to_string()
    );
    assert_eq!(
        lic.view(&id).await.unwrap().unwrap().license.status,
        LicenseStatus::Active
    );
    // Unpaid for two months: dropped by the vendor.
    sim.sim.clock().advance(SignedDuration::from_hours(24 * 65));
    assert_eq!(
        lic.view(&id).await.unwrap().unwrap().license.status,
        LicenseStatus::Deleted
    );
}

#[tokio::test]
async fn unknown_function_and_missing_credentials() {
    let sim = start().await;
    let client = mgr(&sim, "/ispmgr", AuthMode::Authinfo, Format::Json);
    let e = client
        .call("no.such.func", &[], Idempotency::Idempotent)
        .await
        .unwrap_err();
    assert_pair(&e, "missed", "func");
    // A URL with credentials in it is refused before anything is sent.
    let e = hostplane::panel::mgr::MgrClient::new(
        &format!("http://root:pw@{}/ispmgr", sim.addr),
        Credentials::new(ADMIN, PASSWORD),
        Default::default(),
    )
    .unwrap_err();
    assert!(matches!(e, PanelError::Protocol { .. }));
}

#[tokio::test]
async fn state_survives_a_restart_with_a_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sim.json");
    let config = || {
        let mut c = hostplane::simulator::Config::new(ADMIN, PASSWORD);
        c.state_file = Some(file.clone());
        c
    };
    {
        let sim = hostplane::simulator::start_in_process(config())
            .await
            .unwrap();
        isp(&sim, AuthMode::Authinfo, Format::Json)
            .create_user(&new_user("keeper"))
            .await
            .unwrap();
        sim.sim.clock().advance(SignedDuration::from_hours(48));
        sim.sim.save().unwrap();
    }
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(
        !saved.contains("Us3r-Pass-77"),
        "no user password in the state file"
    );
    let sim = hostplane::simulator::start_in_process(config())
        .await
        .unwrap();
    assert!(
        isp(&sim, AuthMode::Authinfo, Format::Json)
            .user("keeper")
            .await
            .unwrap()
            .is_some()
    );
    assert!(sim.sim.clock().offset() >= SignedDuration::from_hours(48));
}
