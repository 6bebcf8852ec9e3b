//! The admission answers: refusals carry `validate`'s field and reason, and nothing that
//! deletes (or is not ours) is ever refused.

use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use serde_json::{Value, json};

use super::guard::ALLOW_BREAKING;
use super::review::{Verdict, review};
use crate::api::HostingService;
use crate::api::common::Period;
use crate::billing::testing::service;

/// A tariff that passes every rule: `1m` at 3.00 with a disk resource.
fn tariff(included: u64) -> Value {
    json!({
        "apiVersion": "hostplane.dev/v1alpha1",
        "kind": "Tariff",
        "metadata": {"name": "start", "namespace": "acme", "uid": "1", "generation": 1},
        "spec": {
            "productType": "SharedHosting",
            "processingModules": [{"name": "isp"}],
            "prices": {"1m": "3.00"},
            "resources": [{"name": "diskSpace", "included": included, "min": 1024, "max": 10240, "step": 1024}],
            "hosting": {"accountTemplate": "start"}
        }
    })
}

fn request(
    operation: &str,
    kind: (&str, &str),
    object: Value,
    old: Value,
) -> AdmissionRequest<DynamicObject> {
    let (group, kind) = kind;
    let review: AdmissionReview<DynamicObject> = serde_json::from_value(json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": group, "version": "v1alpha1", "kind": kind},
            "resource": {"group": group, "version": "v1alpha1", "resource": "tariffs"},
            "name": "start",
            "namespace": "acme",
            "operation": operation,
            "userInfo": {"username": "admin"},
            "object": object,
            "oldObject": old,
            "dryRun": false
        }
    }))
    .unwrap();
    review.try_into().unwrap()
}

fn tariff_request(operation: &str, object: Value, old: Value) -> AdmissionRequest<DynamicObject> {
    request(operation, ("hostplane.dev", "Tariff"), object, old)
}

fn answer(request: &AdmissionRequest<DynamicObject>) -> AdmissionResponse {
    match review(request) {
        Verdict::Answer(response) => response,
        Verdict::GuardTariff(edit) => edit.decide(&[]),
    }
}

#[test]
fn a_valid_object_is_admitted_and_the_answer_echoes_the_uid() {
    let r = answer(&tariff_request("CREATE", tariff(1024), Value::Null));
    assert!(r.allowed, "{r:?}");
    assert_eq!(r.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
}

#[test]
fn a_refusal_names_the_field_and_reason_as_validate_does() {
    let r = answer(&tariff_request("CREATE", tariff(20480), Value::Null));
    assert!(!r.allowed);
    assert_eq!(
        r.result.message,
        "Tariff/start: spec.resources[0].included: 20480 is outside min..max (1024..10240)"
    );
    assert_eq!(r.result.code, 422);
    let details = r.result.details.as_ref().unwrap();
    assert_eq!(
        (details.kind.as_str(), details.name.as_str()),
        ("Tariff", "start")
    );
    assert_eq!(details.causes[0].field, "spec.resources[0].included");
}

#[test]
fn every_problem_of_the_object_is_in_the_message() {
    let mut bad = tariff(20480);
    bad["spec"]["charging"] = json!({"proRataDay": 10});
    let r = answer(&tariff_request("CREATE", bad, Value::Null));
    assert!(
        r.result.message.contains("spec.resources[0].included: "),
        "{r:?}"
    );
    assert!(
        r.result.message.contains("spec.charging.proRataDay: "),
        "{r:?}"
    );
    assert_eq!(r.result.details.as_ref().unwrap().causes.len(), 2);
}

#[test]
fn deletes_status_writes_and_other_groups_are_never_refused() {
    let bad = tariff(20480);
    assert!(answer(&tariff_request("DELETE", Value::Null, bad.clone())).allowed);
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "data": {"password": "c2VjcmV0"}});
    let r = answer(&request("CREATE", ("", "Secret"), secret, Value::Null));
    assert!(r.allowed && r.result.message.is_empty(), "{r:?}");
    let mut status = tariff_request("UPDATE", bad.clone(), bad);
    status.sub_resource = Some("status".into());
    assert!(answer(&status).allowed);
}

#[test]
fn an_object_being_deleted_or_whose_spec_is_unchanged_is_admitted_even_if_invalid() {
    let bad = tariff(20480);
    let mut finalizer_removed = bad.clone();
    finalizer_removed["metadata"]["deletionTimestamp"] = json!("2026-12-07T10:00:00Z");
    assert!(answer(&tariff_request("UPDATE", finalizer_removed, bad.clone())).allowed);
    let mut annotated = bad.clone();
    annotated["metadata"]["annotations"] = json!({"hostplane.dev/external-name": "x"});
    assert!(answer(&tariff_request("UPDATE", annotated, bad.clone())).allowed);
    let mut worse = bad.clone();
    worse["spec"]["prices"]["1m"] = json!("4.00");
    assert!(!answer(&tariff_request("UPDATE", worse, bad)).allowed);
}

/// A tariff edit that drops the 1m price under a service on it.
fn drop_1m(annotate: bool) -> AdmissionResponse {
    let old = tariff(1024);
    let mut new = old.clone();
    new["spec"]["prices"] = json!({"3m": "8.00"});
    if annotate {
        new["metadata"]["annotations"] = json!({ALLOW_BREAKING: "true"});
    }
    let mut web = HostingService::new("web-1", service(Period::OneMonth, "2026-01-05", &[]));
    web.spec.tariff_ref.name = "start".into();
    match review(&tariff_request("UPDATE", new, old)) {
        Verdict::GuardTariff(edit) => {
            assert_eq!(
                (edit.namespace.as_str(), edit.name.as_str()),
                ("acme", "start")
            );
            edit.decide(&[web])
        }
        Verdict::Answer(r) => panic!("a tariff edit goes to the guard: {r:?}"),
    }
}

#[test]
fn a_breaking_tariff_edit_is_refused_naming_the_services_and_the_escape_hatch() {
    let r = drop_1m(false);
    assert!(!r.allowed);
    let m = &r.result.message;
    assert!(
        m.starts_with("Tariff/start: spec.prices.1m: removing the price of 1m"),
        "{m}"
    );
    assert!(m.contains("1 service (web-1)"), "{m}");
    assert!(m.contains(ALLOW_BREAKING), "{m}");
    // kubectl prints the causes only: the escape hatch is one of them.
    let causes = &r.result.details.as_ref().unwrap().causes;
    assert_eq!(causes[0].field, "spec.prices.1m");
    assert_eq!(causes[1].field, "metadata.annotations");
    assert!(causes[1].message.contains(ALLOW_BREAKING));
}

#[test]
fn the_escape_hatch_admits_a_breaking_edit_with_warnings() {
    let r = drop_1m(true);
    assert!(r.allowed, "{r:?}");
    let warnings = r.warnings.unwrap();
    assert!(warnings[0].starts_with("spec.prices.1m: "), "{warnings:?}");
    assert!(warnings[0].contains("web-1") && warnings[0].contains(ALLOW_BREAKING));
}

#[test]
fn a_tariff_edit_whose_services_cannot_be_listed_is_refused_unless_allowed() {
    let old = tariff(1024);
    let mut new = old.clone();
    new["spec"]["prices"]["1m"] = json!("4.00");
    let Verdict::GuardTariff(edit) = review(&tariff_request("UPDATE", new.clone(), old.clone()))
    else {
        panic!("goes to the guard");
    };
    let r = edit.unchecked("connection refused");
    assert!(
        !r.allowed && r.result.message.contains("could not be listed"),
        "{r:?}"
    );
    new["metadata"]["annotations"] = json!({ALLOW_BREAKING: "true"});
    let Verdict::GuardTariff(edit) = review(&tariff_request("UPDATE", new, old)) else {
        panic!("goes to the guard");
    };
    let r = edit.unchecked("connection refused");
    assert!(
        r.allowed
            && r.warnings
                .is_some_and(|w| w[0].contains("could not be listed"))
    );
}
