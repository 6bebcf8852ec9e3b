//! `hostplane quote` through the real binary on the shipped examples, against figures worked
//! out by hand from examples/03-tariffs.yaml and examples/05-services.yaml, plus its exit codes.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn quote(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hostplane"))
        .arg("quote")
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs")
}

fn service<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} is quoted: {report:#}"))
}

fn examples_on(day: &str) -> Value {
    let out = quote(&["-f", "examples/", "--at", day, "--output", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn jane_blog_monthly_hosting_with_extra_disk_renewed_late() {
    // hosting-start, 1m at 3.00 + diskSpace 2048 (1 step of 1024 above 1024 at 0.50) = 3.50.
    // Ordered 2026-11-02, renewed in time on 2026-11-30 → paid until 2027-01-02.
    // Renewed on 2027-01-10: Jan 2..Jan 10 = 9 overdue days × 3.50/30 × 50 % = 0.525 → 0.53.
    let report = examples_on("2027-01-10");
    let s = service(&report, "jane-blog");
    assert_eq!(s["paidUntil"], "2027-01-02");
    assert_eq!(s["quote"]["orderPrice"], "3.50");
    assert_eq!(s["quote"]["setupFee"], "0.00");
    assert_eq!(s["quote"]["renewalPrice"], "3.50");
    assert_eq!(s["quote"]["lateFee"], "0.53");
    assert_eq!(s["renewalAt"]["late"]["days"], 9);
}

#[test]
fn shop_web_calendar_hosting_ordered_after_the_pro_rata_day() {
    // hosting-business, calendar with pro-rata day 15, 3m at 34.00, ordered 2026-07-17: partial
    // July (15/31) + Aug, Sep, Oct → until 2026-11-01, share (15/31 + 3) / 3 = 108/93:
    //   base 34.00 × 108/93 = 39.48; disk 1 step × 2.00 × 3 × 108/93 = 6.97;
    //   mailboxes 1 step × 0.50 × 3 × 108/93 = 1.74; total 48.19; setup fee 10.00.
    // Renewed in time on 2026-09-28 for 3m → 2027-02-01; a renewal costs 34 + 6 + 1.50 = 41.50.
    let report = examples_on("2027-01-10");
    let s = service(&report, "shop-web");
    assert_eq!(s["paidUntil"], "2027-02-01");
    assert_eq!(s["quote"]["orderPrice"], "48.19");
    assert_eq!(s["quote"]["setupFee"], "10.00");
    assert_eq!(s["quote"]["renewalPrice"], "41.50");
    assert!(s["quote"].get("lateFee").is_none(), "in time: {s:#}");
}

#[test]
fn jane_vps_daily_charging_from_the_order_period_with_a_panel_license() {
    // vps-s, daily from the order period: 1m = 30 days from 2026-11-20 → 2026-12-20;
    // 6.00 + memory 4096 (2 steps of 1024 at 1.50) + ISPmanager Lite 4.00 = 13.00;
    // a late renewal pays the fixed fee 2.00.
    let report = examples_on("2027-01-10");
    let s = service(&report, "jane-vps");
    assert_eq!(s["paidUntil"], "2026-12-20");
    assert_eq!(s["quote"]["orderPrice"], "13.00");
    assert_eq!(s["quote"]["lateFee"], "2.00");
}

#[test]
fn text_output_names_every_service_and_its_figures() {
    let out = quote(&["-f", "examples/", "--at", "2027-01-10"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for name in [
        "jane-blog",
        "shop-web",
        "old-site",
        "jane-vps",
        "shop-license",
    ] {
        assert!(
            text.contains(&format!("{name} (namespace default)")),
            "{text}"
        );
    }
    assert!(text.contains("order price    48.19 USD"), "{text}");
    assert!(
        text.contains("0.53 if renewed on 2027-01-10 (9 day(s) late)"),
        "{text}"
    );
}

#[test]
fn a_service_that_cannot_be_quoted_is_named_with_its_reason_and_exits_1() {
    let out = quote(&[
        "-f",
        "examples/invalid/tariff-ended.yaml",
        "--at",
        "2027-01-10",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("blog (namespace default, tariff start): cannot be quoted"),
        "{text}"
    );
    assert!(text.contains("the tariff ended on 2026-06-30"), "{text}");
}

#[test]
fn unreadable_input_or_no_service_exits_2() {
    assert_eq!(
        quote(&["-f", "examples/no-such-file.yaml"]).status.code(),
        Some(2)
    );
    assert_eq!(
        quote(&["-f", "examples/03-tariffs.yaml"]).status.code(),
        Some(2)
    );
    assert_eq!(
        quote(&["-f", "examples/", "--at", "tomorrow"])
            .status
            .code(),
        Some(2),
        "clap rejects a malformed date"
    );
}

/// A shared hosting tariff selling one month at `price`, with `policies` (YAML flow map).
fn tariff_doc(name: &str, price: &str, policies: &str) -> String {
    format!(
        "apiVersion: hostplane.dev/v1alpha1\nkind: Tariff\nmetadata: {{name: {name}}}\nspec:\n  \
         productType: SharedHosting\n  processingModules: [{{name: isp}}]\n  prices: {{1m: \"{price}\"}}\n  \
         policies: {policies}\n  hosting: {{accountTemplate: start}}\n---\n"
    )
}

/// A one-month service of `tariff` from `start`, with extra spec lines.
fn service_doc(name: &str, tariff: &str, start: &str, extra: &str) -> String {
    format!(
        "apiVersion: hostplane.dev/v1alpha1\nkind: HostingService\nmetadata: {{name: {name}}}\nspec:\n  \
         tariffRef: {{name: {tariff}}}\n  clientRef: {{name: jane}}\n  period: 1m\n  startDate: \"{start}\"\n{extra}---\n"
    )
}

/// The three money cases of issue 15: two percent late fees that sit on a half cent, and a
/// "change period" tariff change whose credit buys exactly 20 days.
fn issue_15() -> String {
    let mut yaml = String::from(
        "apiVersion: hostplane.dev/v1alpha1\nkind: ProcessingModule\nmetadata: {name: isp}\n\
         spec: {type: ISPmanager, url: \"https://panel.example.com:1500/ispmgr\", \
         credentialsSecretRef: {name: panel}}\n---\napiVersion: hostplane.dev/v1alpha1\n\
         kind: Client\nmetadata: {name: jane}\nspec: {displayName: Jane Doe, email: jane@example.org}\n---\n",
    );
    yaml += &tariff_doc(
        "t250",
        "2.50",
        "{lateRenewalFee: {type: Percent, percent: 50}}",
    );
    yaml += &tariff_doc(
        "t499",
        "4.99",
        "{lateRenewalFee: {type: Percent, percent: 100}}",
    );
    yaml += &tariff_doc("t1000", "10.00", "{tariffChange: {policy: ChangePeriod}}");
    yaml += &tariff_doc("t500", "5.00", "{}");
    yaml += &service_doc("fee-half", "t250", "2026-07-01", "");
    yaml += &service_doc("fee-full", "t499", "2026-06-26", "");
    let change =
        "  tariffChanges:\n    - {changedOn: \"2026-07-22\", fromTariffRef: {name: t1000}}\n";
    yaml += &service_doc("changed", "t500", "2026-07-01", change);
    yaml
}

/// `yaml` written to a file and quoted on `at`: the JSON report and the text output.
fn quote_yaml(yaml: &str, at: &str) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("services.yaml");
    std::fs::write(&file, yaml).unwrap();
    let path = file.to_str().unwrap();
    let out = quote(&["-f", path, "--at", at, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = quote(&["-f", path, "--at", at]).stdout;
    (
        serde_json::from_slice(&out.stdout).unwrap(),
        String::from_utf8(text).unwrap(),
    )
}

#[test]
fn issue_15_late_fees_on_a_half_cent_and_a_change_period_to_the_day() {
    let (report, _) = quote_yaml(&issue_15(), "2026-08-09");
    // 2.50 × 9 days (Aug 1..9) × 50 % / 30 = 0.375 → 0.38.
    let half = service(&report, "fee-half");
    assert_eq!(half["renewalAt"]["late"]["days"], 9);
    assert_eq!(half["quote"]["lateFee"], "0.38");
    // 4.99 × 15 days (Jul 26..Aug 9) × 100 % / 30 = 2.495 → 2.50.
    let full = service(&report, "fee-full");
    assert_eq!(full["renewalAt"]["late"]["days"], 15);
    assert_eq!(full["quote"]["lateFee"], "2.50");
    // 10 days left of 10.00/31 days buy 20 days at 5.00: Jul 22 + 20 = Aug 11.
    let event = &service(&report, "changed")["quote"]["events"][0];
    assert_eq!(event["type"], "TariffChange", "{event:#}");
    assert_eq!(event["paidUntil"], "2026-08-11");
    assert_eq!(event["field"], "spec.tariffChanges[0]");
    // ... and the service's own paid period moves with it.
    assert_eq!(service(&report, "changed")["paidUntil"], "2026-08-11");
}

/// A service with one event of each kind: a tariff change that charges the difference, an
/// addon order and its cancellation, on a month paid Apr 1 → May 1 (30 days).
fn events_yaml() -> String {
    let disk = |yaml: String| {
        yaml.replace(
            "  hosting:",
            "  resources:\n    - {name: diskSpace, included: 1024, min: 1024, max: 10240, \
             step: 1024, monthlyPrice: \"0.60\"}\n  hosting:",
        )
    };
    let mut yaml = issue_15();
    yaml += &disk(tariff_doc(
        "small",
        "10.00",
        "{tariffChange: {policy: AddFundsOrRefund}}",
    ));
    yaml += &disk(tariff_doc("big", "20.00", "{}"));
    yaml += &service_doc(
        "events",
        "big",
        "2026-04-01",
        "  tariffChanges:\n    - {changedOn: \"2026-04-16\", fromTariffRef: {name: small}}\n  \
         resourceChanges:\n    - {changedOn: \"2026-04-21\", name: diskSpace, from: 1024, to: 3072}\n    \
         - {changedOn: \"2026-04-26\", name: diskSpace, from: 3072, to: 1024}\n",
    );
    yaml
}

#[test]
fn quote_shows_each_declared_event_and_its_cost_in_json_and_text() {
    let (report, text) = quote_yaml(&events_yaml(), "2026-04-27");
    let s = service(&report, "events");
    // The order is priced by the tariff of its day, the next renewal by the current one.
    assert_eq!(s["quote"]["orderPrice"], "10.00");
    assert_eq!(s["quote"]["renewalPrice"], "20.00");
    let events = s["quote"]["events"].as_array().unwrap();
    let figures: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["charge"].as_str().unwrap(),
                e["refund"].as_str().unwrap(),
            )
        })
        .collect();
    // 15 of 30 days: 20.00 − 10.00 → 5.00; 2 disk steps × 0.60 for 10/30 days → 0.40; back
    // for 5/30 days → 0.20.
    assert_eq!(
        figures,
        [
            ("TariffChange", "5.00", "0.00"),
            ("AddonOrder", "0.40", "0.00"),
            ("AddonCancellation", "0.00", "0.20"),
        ]
    );
    for line in [
        "TariffChange on 2026-04-16: charge 5.00 USD, refund 0.00 USD, paid until 2026-05-01",
        "AddonOrder on 2026-04-21: charge 0.40 USD, refund 0.00 USD",
        "AddonCancellation on 2026-04-26: charge 0.00 USD, refund 0.20 USD",
    ] {
        assert!(text.contains(line), "{line:?} in {text}");
    }
}
