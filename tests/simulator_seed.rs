//! Seeding the simulator with what manifests name: at run time through `POST /_admin/seed`,
//! and the VMmanager 5 catalogue it fills, which refuses what it does not have as a real
//! panel would.

mod common;

use common::*;
use serde_json::{Value, json};

async fn admin_seed(sim: &hostplane::simulator::SimHandle, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(sim.url("/_admin/seed"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn vm5(sim: &hostplane::simulator::SimHandle, query: &str) -> String {
    let url = sim.url(&format!(
        "/vmmgr?authinfo={ADMIN}:{PASSWORD}&out=json&{query}"
    ));
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn the_admin_endpoint_adds_catalogue_entries_once() {
    let sim = start().await;
    let body = json!({"recipes": ["ispmanager-install"], "account_templates": ["start"],
                      "pricelists": ["77777"]});
    let (status, answer) = admin_seed(&sim, body.clone()).await;
    assert_eq!((status, answer), (200, json!({"added": 3})));
    let (_, again) = admin_seed(&sim, body).await;
    assert_eq!(again, json!({"added": 0}));
    sim.sim.read(|state| {
        assert!(
            state
                .vm6
                .catalog
                .recipes
                .iter()
                .any(|r| r.name == "ispmanager-install")
        );
        assert!(state.ispmgr.presets.contains_key("start"));
        assert!(state.billmgr.prices.contains_key("77777"));
    });
    let (status, answer) = admin_seed(&sim, json!({"recipe": ["typo"]})).await;
    assert_eq!(status, 400, "{answer}");
}

#[tokio::test]
async fn vmmanager5_refuses_an_unknown_os_template_or_preset_until_seeded() {
    let sim = start().await;
    let user = vm5(&sim, "func=user.edit&sok=ok&name=owner&passwd=Pw-123456x").await;
    assert!(!user.contains("error"), "{user}");
    let create = "func=vm.edit&sok=ok&name=vm1&user=2&password=Pw-123456x&vmi=ISPsystem__Rocky-9-amd64&preset=3";
    let refused = vm5(&sim, create).await;
    assert!(refused.contains("No OS template"), "{refused}");
    let (_, added) = admin_seed(
        &sim,
        json!({"vm5_images": ["ISPsystem__Rocky-9-amd64"],
               "vm5_presets": {"3": {"name": "big", "mem": 8192, "vcpu": 4}}}),
    )
    .await;
    assert_eq!(added, json!({"added": 2}));
    let created = vm5(&sim, create).await;
    assert!(!created.contains("error"), "{created}");
    sim.sim.read(|state| {
        let vm = state.vmmgr.vms.values().next().expect("a VM");
        assert_eq!((vm.mem, vm.vcpu), (8192, 4));
    });
}
