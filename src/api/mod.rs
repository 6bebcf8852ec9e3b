//! The hostplane API (`hostplane.dev/v1alpha1`): six namespaced kinds, one file each.
//!
//! Field names are a public contract (see the design page): add fields, never rename them.
//! Every doc comment here becomes the schema description `kubectl explain` prints.

// kube's `#[kube(printcolumn(name = .., type_ = ..), printcolumn(..))]` repeats argument names
// across columns by design; clippy reads them as one attribute's duplicates.
#![allow(clippy::duplicated_attributes)]

pub mod client;
pub mod common;
pub mod hosting_service;
pub mod license_pool;
pub mod patterns;
pub mod processing_module;
pub mod server_pool;
pub mod tariff;

pub use client::{Client, ClientSpec};
pub use hosting_service::{HostingService, HostingServiceSpec};
pub use license_pool::{LicensePool, LicensePoolSpec};
pub use processing_module::{ModuleType, ProcessingModule, ProcessingModuleSpec};
pub use server_pool::{ServerPool, ServerPoolSpec};
pub use tariff::{ProductType, Tariff, TariffSpec};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
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
    vec![
        ProcessingModule::crd(),
        Tariff::crd(),
        Client::crd(),
        HostingService::crd(),
        LicensePool::crd(),
        ServerPool::crd(),
    ]
}
