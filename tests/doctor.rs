//! `hostplane doctor` against the simulator: the complete profile has every fact, the strict
//! profile (what real panels answer, reference §11) names the ones it lacks; only read
//! functions are sent; the exit status follows the facts `Full` needs; no credential is
//! printed; ProcessingModules are read from a real API server.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use hostplane::api::processing_module::{ModuleType, TlsSettings, VmManagerApiVersion};
use hostplane::controller::panels::{PanelClient, Recipe, standalone_client};
use hostplane::doctor::{self, Presence, Report};
use hostplane::panel::Credentials;
use hostplane::panel::ispmanager::NewUser;
use hostplane::panel::licensing::LicenseOrder;
use hostplane::panel::vmmanager5::NewVm;
use hostplane::simulator::{self, Config, Profile, SimHandle};
use secrecy::SecretString;
use serde_json::Value;

const ADMIN: &str = "admin";
const PASSWORD: &str = "doctor-Secret-9";

async fn simulator(profile: Profile) -> SimHandle {
    let mut config = Config::new(ADMIN, PASSWORD);
    config.dialect = profile.dialect();
    config.seed.vm5_images = ["ISPsystem__Debian-12-amd64".to_owned()].into();
    config.seed.pricelists = ["3541".to_owned()].into();
    simulator::start_in_process(config).await.unwrap()
}

fn recipe(type_: ModuleType, url: String, vm_api: Option<VmManagerApiVersion>) -> Recipe {
    Recipe {
        type_,
        url,
        tls: Some(TlsSettings::default()),
        limits: Default::default(),
        timeouts: Default::default(),
        vm_api,
        credentials: hostplane::api::common::LocalObjectReference {
            name: "panel".to_owned(),
        },
    }
}

fn client(recipe: &Recipe, password: &str) -> PanelClient {
    standalone_client(recipe, Credentials::new(ADMIN, password), None).unwrap()
}

/// The four panels of one simulator, as the doctor sees them.
fn panels(sim: &SimHandle, password: &str) -> Vec<(String, PanelClient)> {
    [
        (ModuleType::ISPmanager, "/ispmgr", None),
        (
            ModuleType::VMmanager,
            "/vmmgr",
            Some(VmManagerApiVersion::V5),
        ),
        (ModuleType::VMmanager, "", Some(VmManagerApiVersion::V6)),
        (ModuleType::Licensing, "/billmgr", None),
    ]
    .into_iter()
    .map(|(type_, path, api)| {
        let url = sim.url(path);
        let c = client(&recipe(type_, url.clone(), api), password);
        (url, c)
    })
    .collect()
}

/// Gives every list something to judge by: an active and a suspended user, a VM, a licence.
async fn populate(sim: &SimHandle) {
    let clients = panels(sim, PASSWORD);
    let PanelClient::IspManager(isp) = &clients[0].1 else {
        unreachable!()
    };
    for name in ["alice", "bob"] {
        isp.create_user(&NewUser {
            name: name.to_owned(),
            password: SecretString::from("Str0ng-pass".to_owned()),
            fullname: name.to_owned(),
            preset: None,
            limits: [("limit_quota".to_owned(), "1000".to_owned())].into(),
            domain: None,
        })
        .await
        .unwrap();
    }
    isp.suspend_user("bob").await.unwrap();
    let PanelClient::VmManager5(vm) = &clients[1].1 else {
        unreachable!()
    };
    let owner = vm
        .create_user("carol", &SecretString::from("Str0ng-pass".to_owned()))
        .await
        .unwrap();
    vm.create_vm(&NewVm {
        name: "vm1".to_owned(),
        domain: "vm1.example.net".to_owned(),
        user: owner,
        preset: None,
        vmi: "ISPsystem__Debian-12-amd64".to_owned(),
        vsize_mib: 10240,
        mem_mib: 1024,
        vcpu: 1,
        password: SecretString::from("Str0ng-pass".to_owned()),
        recipe: None,
    })
    .await
    .unwrap();
    let PanelClient::Licensing(lic) = &clients[3].1 else {
        unreachable!()
    };
    lic.order(&LicenseOrder {
        pricelist: "3541".to_owned(),
        period: "1".to_owned(),
        ip: "203.0.113.7".to_owned(),
        licname: "Item #doctor".to_owned(),
        remoteid: "hpl0-doctor".to_owned(),
        addons: Vec::new(),
    })
    .await
    .unwrap();
}

async fn check_all(sim: &SimHandle, password: &str) -> Vec<Report> {
    let mut reports = Vec::new();
    for (url, client) in panels(sim, password) {
        reports.push(doctor::check(url.clone(), url, &client).await);
    }
    reports
}

fn found(reports: &[Report], key: &str) -> Vec<Presence> {
    reports
        .iter()
        .flat_map(|r| r.facts.iter())
        .filter(|f| f.key == key)
        .map(|f| f.found)
        .collect()
}

/// What the panels hold, without what reading itself moves (install and key polls, sessions).
fn holdings(sim: &SimHandle) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for key in [
                    "installing_polls",
                    "key_polls_left",
                    "auth",
                    "sessions",
                    "last_notify",
                ] {
                    map.remove(key);
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut state = serde_json::to_value(sim.sim.snapshot()).unwrap();
    strip(&mut state);
    // A VMmanager 6 token makes the simulator note the administrator's account and bump its
    // id counters: a login, not a change to anything the panel manages.
    let vm6 = state["vm6"].as_object_mut().unwrap();
    vm6.remove("accounts");
    vm6.remove("counters");
    state
}

/// Functions the doctor may send; `user.edit` and `soft.edit` only as forms (no `sok`),
/// which the unchanged holdings prove.
const READS: [&str; 11] = [
    "whoami",
    "user",
    "user.edit",
    "preset",
    "vm",
    "vm.volume",
    "soft",
    "soft.edit",
    "auth.token",
    "auth.whoami",
    "host.list",
];

#[tokio::test]
async fn the_complete_profile_has_every_fact_and_only_reads_are_sent() {
    let sim = simulator(Profile::Complete).await;
    populate(&sim).await;
    let before = holdings(&sim);
    sim.sim.reset_calls();
    let reports = check_all(&sim, PASSWORD).await;
    for r in &reports {
        assert!(r.ready_for_full, "{}", doctor::text(&reports));
        for f in &r.facts {
            // VMmanager 6 has no hosts here: its host fields cannot be judged.
            let empty = r.product == "VMmanager 6" && f.key.starts_with("host-");
            if !empty {
                assert_eq!(f.found, Presence::Yes, "{}: {}", f.key, f.note);
            }
        }
    }
    let sent: BTreeSet<String> = sim
        .sim
        .calls()
        .into_values()
        .flat_map(|f| f.into_keys())
        .collect();
    for func in &sent {
        assert!(READS.contains(&func.as_str()), "the doctor sent {func}");
    }
    assert_eq!(holdings(&sim), before, "the doctor changed a panel");
}

#[tokio::test]
async fn the_strict_profile_names_the_facts_real_panels_leave_out() {
    let sim = simulator(Profile::Strict).await;
    populate(&sim).await;
    let reports = check_all(&sim, PASSWORD).await;
    let text = doctor::text(&reports);
    assert_eq!(
        found(&reports, "user-list-active"),
        [Presence::No],
        "{text}"
    );
    assert_eq!(
        found(&reports, "unknown-user-error"),
        [Presence::No],
        "{text}"
    );
    assert_eq!(
        found(&reports, "soft-list-remoteid"),
        [Presence::No],
        "{text}"
    );
    assert_eq!(found(&reports, "vm-power"), [Presence::Yes], "{text}");
    assert_eq!(found(&reports, "soft-edit-remoteid"), [Presence::Yes]);
    // Nothing it lacks is needed: hostplane reads these panels their way.
    assert!(reports.iter().all(|r| r.ready_for_full), "{text}");
    assert!(text.contains("1 of 2 rows lack `active`"), "{text}");
    assert_eq!(doctor::exit_status(&reports), 0);
}

#[tokio::test]
async fn a_refused_login_blocks_full_and_no_password_is_printed() {
    let sim = simulator(Profile::Strict).await;
    let wrong = "wrong-Password-77";
    let reports = check_all(&sim, wrong).await;
    assert_eq!(found(&reports, "login"), [Presence::No; 4]);
    assert_eq!(doctor::exit_status(&reports), 1);
    let url = sim.url("/ispmgr");
    let (code, stdout) = run_doctor(
        &[
            "--url",
            &url,
            "--type",
            "ispmanager",
            "--username",
            ADMIN,
            "-o",
            "json",
        ],
        ("HOSTPLANE_PANEL_PASSWORD", wrong),
        wrong,
    )
    .await;
    assert_eq!(code, Some(1), "{stdout}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json[0]["ready_for_full"], false);
    assert_eq!(json[0]["facts"][0]["key"], "login");
}

#[tokio::test]
async fn modules_are_read_from_the_cluster_with_their_secret() {
    let ns = "doctor-modules";
    let cluster = support::cluster_with_namespace(ns);
    let sim = simulator(Profile::Strict).await;
    support::kubectl_apply(
        cluster,
        ns,
        &format!(
            r#"apiVersion: v1
kind: Secret
metadata: {{name: panel}}
stringData: {{username: {ADMIN}, password: {PASSWORD}}}
---
apiVersion: hostplane.dev/v1alpha1
kind: ProcessingModule
metadata: {{name: shared}}
spec:
  type: ISPmanager
  url: {url}
  credentialsSecretRef: {{name: panel}}
"#,
            url = sim.url("/ispmgr")
        ),
    );
    let kubeconfig = cluster.kubeconfig_path().to_str().unwrap();
    let (code, stdout) = run_doctor(&["-n", ns], ("KUBECONFIG", kubeconfig), PASSWORD).await;
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("doctor-modules/shared — ispmanager"),
        "{stdout}"
    );
    assert!(stdout.contains("verdict: ready for managementPolicy Full"));
}

/// Runs `hostplane doctor ARGS` with one environment variable; returns its exit code and
/// stdout after checking that neither output holds `secret`.
async fn run_doctor(args: &[&str], env: (&str, &str), secret: &str) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hostplane"));
    command.arg("doctor").args(args).env(env.0, env.1);
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stdout.contains(secret) && !stderr.contains(secret),
        "a secret was printed"
    );
    (out.status.code(), format!("{stdout}{stderr}"))
}
