//! The test order itself: the test client, the HostingService (pure: built from the tariff and
//! the request), their creation through the API server, and the wait for Ready.
//!
//! Nothing here talks to a panel: the order goes through the controller like any other, with
//! the same claims and crash safety.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};

use super::{Progress, Request};
use crate::api::common::{ConditionStatus, Date, LocalObjectReference, Period};
use crate::api::hosting_service::{
    DeletionPolicy, HostingServiceStatus, ManagementPolicy, ResourceQuantity,
};
use crate::api::tariff::{ProductType, ResourceKind};
use crate::api::{
    Client, ClientSpec, HostingService, HostingServiceSpec, LICENSE_PURCHASE_ANNOTATION,
    PURCHASE_FORBIDDEN, TEST_CLIENT_LABEL, TEST_ORDER_LABEL, TariffSpec,
};
use crate::billing::policy;
use crate::controller::conditions::{READY, STALLED, status_of};

/// The name of the test client, created in the namespace when missing.
pub const TEST_CLIENT: &str = "hostplane-test-client";

/// The first of the tariff's periods a new order may have today: sold (priced, not disabled),
/// the tariff not ended, at least the minimum order period.
pub fn smallest_period(tariff: &TariffSpec, today: Date) -> Result<Period, String> {
    let mut why = Vec::new();
    for period in Period::ALL {
        match policy::check_order(tariff, today, period) {
            Ok(()) => return Ok(period),
            Err(e) => why.push(format!("{period}: {e}")),
        }
    }
    Err(format!(
        "the tariff sells no period today ({})",
        why.join("; ")
    ))
}

/// `NAME=QTY` of `--resource`, e.g. `diskSpace=2048`.
pub fn parse_resource(text: &str) -> Result<ResourceQuantity, String> {
    let (name, quantity) = text
        .split_once('=')
        .ok_or_else(|| format!("--resource {text:?}: write NAME=QTY, e.g. diskSpace=2048"))?;
    let name: ResourceKind = serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|_| {
            format!("--resource {text:?}: {name:?} is not a resource name (e.g. diskSpace, traffic, memory, cpuCores)")
        })?;
    let quantity = quantity.parse::<u64>().map_err(|_| {
        format!("--resource {text:?}: the quantity {quantity:?} is not a whole number")
    })?;
    Ok(ResourceQuantity { name, quantity })
}

/// Whether the tariff sells `resources` as asked: each one of its resources, within its bounds
/// and on its step, and named once.
pub fn check_resources(
    tariff_name: &str,
    tariff: &TariffSpec,
    resources: &[ResourceQuantity],
) -> Result<(), String> {
    for (i, asked) in resources.iter().enumerate() {
        let name = asked.name.as_str();
        if resources[..i].iter().any(|r| r.name == asked.name) {
            return Err(format!("--resource {name} is given twice"));
        }
        let Some(sold) = tariff.resources.iter().find(|r| r.name == asked.name) else {
            return Err(format!(
                "--resource {name}: tariff {tariff_name:?} has no such resource"
            ));
        };
        let q = asked.quantity;
        if q < sold.min || q > sold.max || (q - sold.min) % sold.step != 0 {
            return Err(format!(
                "--resource {name}={q}: tariff {tariff_name:?} sells {name} from {} to {} in steps of {}",
                sold.min, sold.max, sold.step
            ));
        }
    }
    Ok(())
}

/// A short random service name, `to-` and six letters or digits: short enough for any
/// username template (`@ID@` becomes `to` and the six characters).
pub fn service_name() -> String {
    use rand::RngExt;
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let tag: String = (0..6)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect();
    format!("to-{tag}")
}

/// The connection Secret of a test order's service.
pub fn secret_name(service: &str) -> String {
    format!("{service}-login")
}

/// The labels of a test order: the test-order label with the tariff's name.
pub fn labels(tariff_name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(TEST_ORDER_LABEL.to_owned(), tariff_name.to_owned())])
}

/// The test order's HostingService: the test client, the smallest period, the resources
/// asked for (the tariff's included amounts otherwise), `deletionPolicy: Delete`.
pub fn service(
    name: &str,
    request: &Request,
    tariff: &TariffSpec,
    today: Date,
) -> Result<HostingService, String> {
    check_resources(&request.tariff, tariff, &request.resources)?;
    let period =
        smallest_period(tariff, today).map_err(|e| format!("tariff {:?}: {e}", request.tariff))?;
    let license_ip = match tariff.product_type {
        ProductType::SoftwareLicense => Some(request.license_ip.clone().ok_or_else(|| {
            "--license-ip is required for a SoftwareLicense tariff: the IP address the test licence is bound to".to_owned()
        })?),
        _ => None,
    };
    let secret =
        (tariff.product_type != ProductType::SoftwareLicense).then(|| LocalObjectReference {
            name: secret_name(name),
        });
    let spec = HostingServiceSpec {
        tariff_ref: LocalObjectReference {
            name: request.tariff.clone(),
        },
        client_ref: LocalObjectReference {
            name: TEST_CLIENT.to_owned(),
        },
        period,
        start_date: today,
        renewals: Vec::new(),
        tariff_changes: Vec::new(),
        resource_changes: Vec::new(),
        downtime: Vec::new(),
        processing_module_ref: None,
        domain: None,
        resources: request.resources.clone(),
        control_panel: None,
        operating_system: None,
        license_ip,
        suspended: false,
        deletion_policy: DeletionPolicy::Delete,
        management_policy: ManagementPolicy::Full,
        write_connection_secret_to_ref: secret,
    };
    let needs_license = super::purchase::license_cost(tariff, &spec).is_some();
    let mut service = HostingService::new(name, spec);
    service.metadata.namespace = Some(request.namespace.clone());
    service.metadata.labels = Some(labels(&request.tariff));
    if needs_license && !request.allow_purchase {
        // The controller enforces what the pre-check promised (see `purchase`).
        service.metadata.annotations = Some(BTreeMap::from([(
            LICENSE_PURCHASE_ANNOTATION.to_owned(),
            PURCHASE_FORBIDDEN.to_owned(),
        )]));
    }
    Ok(service)
}

/// The test client: marked with the test-client label, kept between runs.
pub fn test_client(namespace: &str) -> Client {
    let mut client = Client::new(
        TEST_CLIENT,
        ClientSpec {
            display_name: "hostplane test client".to_owned(),
            email: "test-client@hostplane.invalid".to_owned(),
            account_id: None,
            groups: Vec::new(),
            suspended: false,
            suspension_reason: None,
        },
    );
    client.metadata.namespace = Some(namespace.to_owned());
    client.metadata.labels = Some(BTreeMap::from([(
        TEST_CLIENT_LABEL.to_owned(),
        "true".to_owned(),
    )]));
    client
}

/// The test client of the namespace, created when missing. A Client of that name that is not
/// marked as the test client is a customer's: refused.
pub async fn ensure_test_client(kube: &kube::Client, namespace: &str) -> anyhow::Result<Client> {
    let api: Api<Client> = Api::namespaced(kube.clone(), namespace);
    if let Some(existing) = api.get_opt(TEST_CLIENT).await? {
        if existing.labels().get(TEST_CLIENT_LABEL).map(String::as_str) != Some("true") {
            anyhow::bail!(
                "Client {namespace}/{TEST_CLIENT} exists without the label {TEST_CLIENT_LABEL}=true: it is not the test client, and test orders are never placed for a customer; label it or delete it"
            );
        }
        return Ok(existing);
    }
    match api
        .create(&PostParams::default(), &test_client(namespace))
        .await
    {
        Ok(created) => Ok(created),
        // Another run made it meanwhile.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(api.get(TEST_CLIENT).await?),
        Err(e) => Err(e.into()),
    }
}

/// The account number the test client gets when it has none: tariffs whose username
/// template uses `@ACCOUNT_ID@` need one, and three digits keep such usernames short.
pub const TEST_ACCOUNT_ID: u64 = 999;

/// What the test client lacks to be sold `tariff`, as a merge patch of its spec: one of the
/// tariff's allowed client groups (a group the tariff forbids is never added) and an account
/// number. `None` when it lacks nothing.
pub fn client_fit(client: &ClientSpec, tariff: &TariffSpec) -> Option<serde_json::Value> {
    let policies = &tariff.policies;
    let mut patch = serde_json::Map::new();
    let allowed = &policies.allowed_client_groups;
    if !allowed.is_empty() && !client.groups.iter().any(|g| allowed.contains(g)) {
        let mut groups = client.groups.clone();
        if let Some(group) = allowed
            .iter()
            .find(|g| !policies.forbidden_client_groups.contains(g))
        {
            groups.push(group.clone());
            patch.insert("groups".into(), serde_json::json!(groups));
        }
    }
    if client.account_id.is_none() {
        patch.insert("accountId".into(), serde_json::json!(TEST_ACCOUNT_ID));
    }
    (!patch.is_empty()).then(|| serde_json::json!({ "spec": patch }))
}

/// Makes the test client one the tariff sells to ([`client_fit`]); it is the provider's test
/// client, never a customer, so its groups are the test's to set.
pub async fn fit_test_client(
    kube: &kube::Client,
    client: Client,
    tariff: &TariffSpec,
) -> anyhow::Result<Client> {
    let Some(patch) = client_fit(&client.spec, tariff) else {
        return Ok(client);
    };
    let api: Api<Client> = Api::namespaced(kube.clone(), &client.namespace().unwrap_or_default());
    Ok(api
        .patch(
            &client.name_any(),
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await?)
}

/// Where the service stands while it is waited for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    Ready,
    /// Stalled: only a spec change helps (reason: message).
    Stalled(String),
    Waiting(String),
}

/// `Reason: message`, or the reason alone when there is no message.
pub fn reason_and_message(reason: &str, message: &str) -> String {
    if message.is_empty() {
        reason.to_owned()
    } else {
        format!("{reason}: {message}")
    }
}

/// The service's standing from its status.
pub fn standing(service: &HostingService) -> Standing {
    let Some(status) = &service.status else {
        return Standing::Waiting("no status yet".into());
    };
    let conditions = &status.common.conditions;
    let current = status.common.observed_generation.is_some()
        && status.common.observed_generation == service.meta().generation;
    let describe = |type_: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == type_)
            .map(|c| reason_and_message(&c.reason, &c.message))
            .unwrap_or_default()
    };
    if status_of(conditions, STALLED) == Some(ConditionStatus::True) {
        return Standing::Stalled(describe(STALLED));
    }
    if current && status_of(conditions, READY) == Some(ConditionStatus::True) {
        return Standing::Ready;
    }
    Standing::Waiting(format!("{:?} ({})", status.phase, describe(READY)))
}

/// Creates the service.
pub async fn place(kube: &kube::Client, service: &HostingService) -> anyhow::Result<()> {
    let api: Api<HostingService> =
        Api::namespaced(kube.clone(), &service.namespace().unwrap_or_default());
    api.create(&PostParams::default(), service).await?;
    Ok(())
}

/// Waits until the service is Ready, Stalled, or `timeout` has passed, telling `progress`
/// each change of where it stands. `Ok(Err(found))` when it did not become Ready: what was
/// found instead.
pub async fn wait_ready(
    kube: &kube::Client,
    namespace: &str,
    name: &str,
    timeout: Duration,
    progress: &dyn Progress,
) -> anyhow::Result<(Result<HostingService, String>, Option<HostingServiceStatus>)> {
    let api: Api<HostingService> = Api::namespaced(kube.clone(), namespace);
    let started = Instant::now();
    let mut last = None;
    loop {
        let service = api.get(name).await?;
        let now = standing(&service);
        if last.as_ref() != Some(&now) {
            let text = match &now {
                Standing::Ready => "Ready".to_owned(),
                Standing::Stalled(why) => format!("Stalled: {why}"),
                Standing::Waiting(what) => what.clone(),
            };
            progress.note(&format!(
                "[{:>4}s] hsvc/{name}: {text}",
                started.elapsed().as_secs()
            ));
            last = Some(now.clone());
        }
        let status = service.status.clone();
        match now {
            Standing::Ready => return Ok((Ok(service), status)),
            Standing::Stalled(why) => return Ok((Err(format!("Stalled: {why}")), status)),
            Standing::Waiting(what) if started.elapsed() >= timeout => {
                return Ok((
                    Err(format!("not Ready after {} s: {what}", timeout.as_secs())),
                    status,
                ));
            }
            Standing::Waiting(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tariff(extra: &str) -> TariffSpec {
        let yaml = format!(
            r#"
productType: SharedHosting
processingModules: [{{name: isp}}]
prices: {{1m: "3.00", 3m: "8.00", 1y: "30.00"}}
resources:
  - {{name: diskSpace, included: 1024, min: 1024, max: 10240, step: 1024, monthlyPrice: "0.50"}}
hosting: {{accountTemplate: basic}}
{extra}"#
        );
        serde_saphyr::from_str(&yaml).expect("a tariff")
    }

    fn day(s: &str) -> Date {
        Date(s.parse().unwrap())
    }

    fn request(resources: Vec<ResourceQuantity>) -> Request {
        Request {
            namespace: "shop".into(),
            tariff: "start".into(),
            resources,
            license_ip: None,
            allow_purchase: false,
            keep: false,
            timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn the_smallest_period_is_the_first_one_sold_today() {
        assert_eq!(
            smallest_period(&tariff(""), day("2026-01-10")),
            Ok(Period::OneMonth)
        );
        let t = tariff("disabledPeriods: [1m]");
        assert_eq!(
            smallest_period(&t, day("2026-01-10")),
            Ok(Period::ThreeMonths)
        );
        let t = tariff("policies: {minimumOrderPeriod: {length: 6, unit: Months}}");
        assert_eq!(smallest_period(&t, day("2026-01-10")), Ok(Period::OneYear));
        let t = tariff("policies: {endDate: \"2026-01-01\"}");
        let e = smallest_period(&t, day("2026-01-10")).unwrap_err();
        assert!(e.contains("sells no period"), "{e}");
    }

    #[test]
    fn resources_are_parsed_and_checked_against_the_tariff() {
        let r = parse_resource("diskSpace=2048").unwrap();
        assert_eq!((r.name, r.quantity), (ResourceKind::DiskSpace, 2048));
        for (bad, says) in [
            ("diskSpace", "NAME=QTY"),
            ("disk=2048", "not a resource name"),
            ("diskSpace=lots", "not a whole number"),
        ] {
            let e = parse_resource(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let t = tariff("");
        assert_eq!(
            check_resources("start", &t, std::slice::from_ref(&r)),
            Ok(())
        );
        let off_step = parse_resource("diskSpace=1500").unwrap();
        let e = check_resources("start", &t, &[off_step]).unwrap_err();
        assert!(e.contains("from 1024 to 10240 in steps of 1024"), "{e}");
        let unsold = parse_resource("memory=1024").unwrap();
        let e = check_resources("start", &t, &[unsold]).unwrap_err();
        assert!(e.contains("has no such resource"), "{e}");
        let e = check_resources("start", &t, &[r.clone(), r]).unwrap_err();
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn the_service_is_a_labelled_order_of_the_test_client_that_deletes_at_the_panel() {
        let asked = vec![parse_resource("diskSpace=2048").unwrap()];
        let s = service(
            "to-abc234",
            &request(asked.clone()),
            &tariff(""),
            day("2026-01-10"),
        )
        .unwrap();
        assert_eq!(s.spec.client_ref.name, TEST_CLIENT);
        assert_eq!(s.spec.period, Period::OneMonth);
        assert_eq!(s.spec.resources, asked);
        assert_eq!(s.spec.deletion_policy, DeletionPolicy::Delete);
        assert_eq!(s.labels().get(TEST_ORDER_LABEL).unwrap(), "start");
        assert_eq!(
            s.spec.write_connection_secret_to_ref.unwrap().name,
            "to-abc234-login"
        );
        let name = service_name();
        assert!(name.starts_with("to-") && name.len() == 9, "{name}");
    }

    #[test]
    fn the_test_client_gets_an_allowed_group_and_an_account_number_once() {
        let client = test_client("shop").spec;
        let open = tariff("");
        assert_eq!(
            client_fit(&client, &open),
            Some(serde_json::json!({"spec": {"accountId": 999}}))
        );
        let groups = tariff(
            "policies: {allowedClientGroups: [blocked, business], forbiddenClientGroups: [blocked]}",
        );
        assert_eq!(
            client_fit(&client, &groups),
            Some(serde_json::json!({"spec": {"groups": ["business"], "accountId": 999}}))
        );
        let fitted = ClientSpec {
            groups: vec!["business".into()],
            account_id: Some(42),
            ..client
        };
        assert_eq!(client_fit(&fitted, &groups), None);
        assert_eq!(client_fit(&fitted, &open), None);
    }

    #[test]
    fn a_license_order_needs_an_ip() {
        let t = tariff("");
        let t = TariffSpec {
            product_type: ProductType::SoftwareLicense,
            license: Some(crate::api::tariff::LicenseSettings {
                license_type: "3541".into(),
                nodes_addon_id: None,
            }),
            ..t
        };
        let e = service("to-x", &request(Vec::new()), &t, day("2026-01-10")).unwrap_err();
        assert!(e.contains("--license-ip"), "{e}");
        let mut with_ip = request(Vec::new());
        with_ip.license_ip = Some("192.0.2.7".into());
        let s = service("to-x", &with_ip, &t, day("2026-01-10")).unwrap();
        assert_eq!(s.spec.license_ip.as_deref(), Some("192.0.2.7"));
        assert!(s.spec.write_connection_secret_to_ref.is_none());
        assert!(crate::controller::service::licenses::purchase_forbidden(&s));
        with_ip.allow_purchase = true;
        let s = service("to-x", &with_ip, &t, day("2026-01-10")).unwrap();
        assert!(!crate::controller::service::licenses::purchase_forbidden(
            &s
        ));
    }
}
