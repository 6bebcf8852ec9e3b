//! The hostplane API (`hostplane.dev/v1alpha1`): six namespaced kinds, one file each.
//!
//! Field names are a public contract (see the design page): add fields, never rename them.
//! Every doc comment here becomes the schema description `kubectl explain` prints.

// kube's `#[kube(printcolumn(name = .., type_ = ..), printcolumn(..))]` repeats argument names
// across columns by design; clippy reads them as one attribute's duplicates.
#![allow(clippy::duplicated_attributes)]

pub mod client;
mod columns;
pub mod common;
pub mod hosting_service;
pub mod license_pool;
pub mod patterns;
pub mod processing_module;
pub mod server_pool;
pub mod service_events;
pub mod tariff;

pub use client::{Client, ClientSpec};
pub use hosting_service::{HostingService, HostingServiceSpec};
pub use license_pool::{LicensePool, LicensePoolSpec};
pub use processing_module::{ModuleType, ProcessingModule, ProcessingModuleSpec};
pub use server_pool::{ServerPool, ServerPoolSpec};
pub use tariff::{ProductType, Tariff, TariffSpec};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSON, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use kube::CustomResourceExt;

/// The API group of every kind.
pub const GROUP: &str = "hostplane.dev";
/// The served and stored version.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in manifests.
pub const API_VERSION: &str = "hostplane.dev/v1alpha1";

/// Annotation holding the panel-side identity, written before the create call completes.
pub const EXTERNAL_NAME_ANNOTATION: &str = "hostplane.dev/external-name";
/// Annotation that stops all changes at the panel while present and `"true"`.
pub const PAUSED_ANNOTATION: &str = "hostplane.dev/paused";
/// Annotation whose change forces a reconcile; echoed in status.
pub const RECONCILE_REQUESTED_AT_ANNOTATION: &str = "hostplane.dev/reconcile-requested-at";
/// Annotation that forbids a service to buy a licence: with the value `Forbidden`, a licence
/// it needs comes from the pool (or an existing one is matched) and otherwise it stalls
/// (`PurchaseNotAllowed`) instead of ordering one. `hostplane test-order` sets it unless it is
/// run with `--allow-purchase`, so that a pooled licence taken by someone else meanwhile never
/// turns a test into a purchase.
pub const LICENSE_PURCHASE_ANNOTATION: &str = "hostplane.dev/license-purchase";
/// The value of [`LICENSE_PURCHASE_ANNOTATION`] that forbids buying.
pub const PURCHASE_FORBIDDEN: &str = "Forbidden";
/// Label of the objects a `hostplane test-order` run creates (the HostingService and its
/// connection Secret), valued with the tariff's name: a run finds a killed run's leftovers by
/// it, and `kubectl get hsvc -l hostplane.dev/test-order` shows them to people.
pub const TEST_ORDER_LABEL: &str = "hostplane.dev/test-order";
/// Annotation of a test order kept on purpose (`--keep`): the next run leaves it alone.
pub const TEST_ORDER_KEPT_ANNOTATION: &str = "hostplane.dev/test-order-kept";
/// Label that marks a Client as the provider's test client (value `"true"`): the owner of test
/// orders, kept between runs, never a customer.
pub const TEST_CLIENT_LABEL: &str = "hostplane.dev/test-client";

/// The kinds of the API, in the order they are documented and installed.
pub const KINDS: [&str; 6] = [
    "ProcessingModule",
    "Tariff",
    "Client",
    "HostingService",
    "LicensePool",
    "ServerPool",
];

/// The CustomResourceDefinitions of every kind, in [`KINDS`] order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    [
        ProcessingModule::crd(),
        Tariff::crd(),
        Client::crd(),
        HostingService::crd(),
        LicensePool::crd(),
        ServerPool::crd(),
    ]
    .into_iter()
    .map(defaults_into_descriptions)
    .map(columns::with_condition_columns)
    .collect()
}

/// Moves the `default` of every field inside a list item into its description.
///
/// Why: the API server applies schema defaults on write. For a field of a list item (a
/// resource's `step`) that makes the stored list differ from the YAML in git, and client-side
/// `kubectl apply` (JSON merge patch, lists replaced whole) then re-sends the list on every
/// apply: a permanent diff for Argo CD and Flux users. Defaults outside lists never cause a
/// patch and stay, so `kubectl get` shows effective values such as a module's priority.
/// serde applies the same defaults wherever hostplane reads an object, so nothing is lost.
fn defaults_into_descriptions(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            visit_schemas(schema, false, &mut |node, in_list| {
                if !in_list {
                    return;
                }
                if let Some(JSON(default)) = node.default.take() {
                    let note = format!("Default: `{default}`.");
                    node.description = Some(match node.description.take() {
                        Some(d) if !d.is_empty() => format!("{d}\n\n{note}"),
                        _ => note,
                    });
                }
            });
        }
    }
    crd
}

/// Calls `f` on `schema` and on every schema nested in it (properties, items, combinators),
/// telling it whether the node lies inside a list item.
pub fn visit_schemas(
    schema: &mut JSONSchemaProps,
    in_list: bool,
    f: &mut impl FnMut(&mut JSONSchemaProps, bool),
) {
    f(schema, in_list);
    for child in schema.properties.iter_mut().flat_map(|p| p.values_mut()) {
        visit_schemas(child, in_list, f);
    }
    match &mut schema.items {
        Some(JSONSchemaPropsOrArray::Schema(item)) => visit_schemas(item, true, f),
        Some(JSONSchemaPropsOrArray::Schemas(items)) => {
            items.iter_mut().for_each(|i| visit_schemas(i, true, f))
        }
        None => {}
    }
    if let Some(JSONSchemaPropsOrBool::Schema(extra)) = &mut schema.additional_properties {
        visit_schemas(extra, in_list, f);
    }
    for group in [&mut schema.all_of, &mut schema.any_of, &mut schema.one_of]
        .into_iter()
        .flatten()
    {
        group.iter_mut().for_each(|s| visit_schemas(s, in_list, f));
    }
}
