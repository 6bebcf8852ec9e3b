use super::*;

/// One hostplane document; `metadata` and `spec` are YAML flow mappings.
fn doc(kind: &str, metadata: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: hostplane.dev/v1alpha1\nkind: {kind}\nmetadata: {metadata}\nspec: {spec}\n"
    )
}

fn sources() -> Vec<Source> {
    let vps = r#"{productType: VirtualServer, processingModules: [{name: vm6}], prices: {1m: "6.00"},
        virtualServer: {cpuCores: 1, memoryMiB: 2048, diskGiB: 20, operatingSystems: ["Rocky 9"],
          recipe: lamp, controlPanelLicense: {default: none, options: [
            {name: none, licenseType: nopanel}, {name: lite, licenseType: "9999"}]}}}"#;
    let legacy = r#"{productType: VirtualServer, processingModules: [{name: vm5}], prices: {1m: "5.00"},
        virtualServer: {cpuCores: 2, memoryMiB: 4096, diskGiB: 40, preset: "7",
          operatingSystems: ["ISPsystem__Rocky-9-amd64"]}}"#;
    let web = r#"{productType: SharedHosting, processingModules: [{name: isp}], prices: {1m: "3.00"},
        hosting: {accountTemplate: start, usernameTemplate: u@ID@}}"#;
    let old = r#"{tariffRef: {name: web}, clientRef: {name: someone}, period: 1m,
        startDate: "2026-01-01", processingModuleRef: {name: isp}, managementPolicy: ObserveOnly}"#;
    let module = |version: &str| {
        format!(
            "{{type: VMmanager, url: https://vm.example, credentialsSecretRef: {{name: c}}, vmmanager: {{apiVersion: {version}}}}}"
        )
    };
    let text = [
        doc("ProcessingModule", "{name: vm6}", &module("V6")),
        doc("ProcessingModule", "{name: vm5}", &module("V5")),
        doc("Tariff", "{name: vps}", vps),
        doc("Tariff", "{name: legacy}", legacy),
        doc("Tariff", "{name: web}", web),
        doc(
            "HostingService",
            "{name: old, annotations: {hostplane.dev/external-name: oldsite}}",
            old,
        ),
    ]
    .concat();
    vec![Source {
        name: "test.yaml".into(),
        text,
    }]
}

#[test]
fn names_go_to_the_product_of_their_module() {
    let seed = Seed::from_sources(&sources(), None);
    assert_eq!(seed.account_templates, BTreeSet::from(["start".to_owned()]));
    assert_eq!(seed.os_images, BTreeSet::from(["Rocky 9".to_owned()]));
    assert_eq!(seed.recipes, BTreeSet::from(["lamp".to_owned()]));
    assert_eq!(
        seed.vm5_images,
        BTreeSet::from(["ISPsystem__Rocky-9-amd64".to_owned()])
    );
    assert_eq!(seed.vm5_presets["7"].mem, 4096);
    assert_eq!(seed.pricelists, BTreeSet::from(["9999".to_owned()]));
    assert_eq!(seed.accounts, BTreeSet::from(["oldsite".to_owned()]));
}

#[test]
fn adopted_accounts_are_only_those_of_the_module() {
    assert!(
        Seed::from_sources(&sources(), Some("other"))
            .accounts
            .is_empty()
    );
    assert_eq!(
        Seed::from_sources(&sources(), Some("isp")).accounts.len(),
        1
    );
}

#[test]
fn apply_adds_what_is_missing_once_and_keeps_what_exists() {
    let seed = Seed::from_sources(&sources(), None);
    let mut state = SimState::default();
    let price = state.billmgr.prices["3541"];
    let added = seed.apply(&mut state);
    // start, oldsite, Rocky 9, lamp, preset 7, the vm5 image, pricelist 9999.
    assert_eq!(added, 7);
    assert_eq!(seed.apply(&mut state), 0, "applying again adds nothing");
    assert!(state.vm6.catalog.recipes.iter().any(|r| r.name == "lamp"));
    let ids: BTreeSet<u64> = state.vm6.catalog.os.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), state.vm6.catalog.os.len(), "ids stay unique");
    assert_eq!(state.billmgr.prices["3541"], price);
}
