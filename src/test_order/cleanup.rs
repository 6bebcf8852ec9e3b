//! Removing a test order: the HostingService is deleted (its `deletionPolicy: Delete` has the
//! controller delete the account or server, and put a licence into the pool), waited for until
//! its finalizer is done, then its connection Secret is deleted (a cluster without a garbage
//! collector, like the local API server, would keep it).
//!
//! A run that was killed leaves its order behind; the next run of the same tariff finds it by
//! the test-order label and removes it before placing its own.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};

use super::Progress;
use crate::api::{HostingService, TEST_ORDER_KEPT_ANNOTATION, TEST_ORDER_LABEL};

/// How long the controller gets to remove an order at the panel.
pub const REMOVAL_TIMEOUT: Duration = Duration::from_secs(180);

/// Removes the test order `name` and waits until it is gone; nothing to do when it does not
/// exist (a create that never happened).
pub async fn remove(
    kube: &kube::Client,
    namespace: &str,
    name: &str,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    let services: Api<HostingService> = Api::namespaced(kube.clone(), namespace);
    let secrets: Api<Secret> = Api::namespaced(kube.clone(), namespace);
    let Some(service) = services.get_opt(name).await? else {
        delete_labelled_secret(&secrets, &super::order::secret_name(name)).await?;
        return Ok(());
    };
    if service.labels().get(TEST_ORDER_LABEL).is_none() {
        anyhow::bail!(
            "hsvc/{name} has no {TEST_ORDER_LABEL} label: it is not a test order and is left alone"
        );
    }
    progress.note(&format!("deleting hsvc/{name}"));
    match services.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => return Err(e.into()),
    }
    let started = Instant::now();
    let mut last = String::new();
    while let Some(current) = services.get_opt(name).await? {
        if current.meta().uid != service.meta().uid {
            break;
        }
        let why = current
            .status
            .as_ref()
            .and_then(|s| {
                s.common
                    .conditions
                    .iter()
                    .find(|c| c.type_ == crate::controller::conditions::READY)
            })
            .map(|c| super::order::reason_and_message(&c.reason, &c.message))
            .unwrap_or_default();
        if why != last {
            progress.note(&format!(
                "[{:>4}s] hsvc/{name} being deleted: {why}",
                started.elapsed().as_secs()
            ));
            last = why;
        }
        if started.elapsed() >= REMOVAL_TIMEOUT {
            anyhow::bail!(
                "hsvc/{name} is still being deleted after {} s ({last}); is the controller running? The next run removes it",
                REMOVAL_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if let Some(target) = &service.spec.write_connection_secret_to_ref {
        let uid = service.meta().uid.clone();
        if let Some(secret) = secrets.get_opt(&target.name).await? {
            let owned = secret
                .owner_references()
                .iter()
                .any(|o| Some(&o.uid) == uid.as_ref());
            if owned || secret.labels().contains_key(TEST_ORDER_LABEL) {
                delete(&secrets, &target.name).await?;
            }
        }
    }
    progress.note(&format!("hsvc/{name} is gone"));
    Ok(())
}

async fn delete_labelled_secret(secrets: &Api<Secret>, name: &str) -> anyhow::Result<()> {
    if let Some(secret) = secrets.get_opt(name).await?
        && secret.labels().contains_key(TEST_ORDER_LABEL)
    {
        delete(secrets, name).await?;
    }
    Ok(())
}

async fn delete<K>(api: &Api<K>, name: &str) -> anyhow::Result<()>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Merges `metadata` (labels, annotations) into object `name`.
async fn merge_metadata<K>(
    api: &Api<K>,
    name: &str,
    metadata: serde_json::Value,
) -> anyhow::Result<()>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = serde_json::json!({ "metadata": metadata });
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Marks a kept order ([`TEST_ORDER_KEPT_ANNOTATION`]) so that the next run does not take it
/// for a killed run's leftover.
pub async fn mark_kept(kube: &kube::Client, namespace: &str, name: &str) -> anyhow::Result<()> {
    let services: Api<HostingService> = Api::namespaced(kube.clone(), namespace);
    let kept = serde_json::json!({ "annotations": { TEST_ORDER_KEPT_ANNOTATION: "true" } });
    merge_metadata(&services, name, kept).await
}

/// Marks the order's connection Secret with the test-order label, so a run killed after its
/// service is gone still finds the Secret.
pub async fn label_secret(
    kube: &kube::Client,
    namespace: &str,
    name: &str,
    tariff: &str,
) -> anyhow::Result<()> {
    let secrets: Api<Secret> = Api::namespaced(kube.clone(), namespace);
    if secrets.get_opt(name).await?.is_some() {
        let label = serde_json::json!({ "labels": { TEST_ORDER_LABEL: tariff } });
        merge_metadata(&secrets, name, label).await?;
    }
    Ok(())
}

/// Removes what killed runs of `tariff` left in the namespace: their services (each waited
/// for; an order kept with `--keep` is not a leftover) and any labelled Secret whose service
/// is gone. Returns the services removed.
pub async fn sweep(
    kube: &kube::Client,
    namespace: &str,
    tariff: &str,
    progress: &dyn Progress,
) -> anyhow::Result<Vec<String>> {
    let selector = ListParams::default().labels(&format!("{TEST_ORDER_LABEL}={tariff}"));
    let services: Api<HostingService> = Api::namespaced(kube.clone(), namespace);
    let leftovers: Vec<String> = services
        .list(&selector)
        .await?
        .items
        .iter()
        .filter(|s| !s.annotations().contains_key(TEST_ORDER_KEPT_ANNOTATION))
        .map(|s| s.name_any())
        .collect();
    for name in &leftovers {
        progress.note(&format!(
            "a previous test order of tariff {tariff} was left behind: removing hsvc/{name}"
        ));
        remove(kube, namespace, name, progress).await?;
    }
    let secrets: Api<Secret> = Api::namespaced(kube.clone(), namespace);
    for secret in secrets.list(&selector).await?.items {
        let owner_alive = match secret.owner_references().first() {
            Some(owner) => services
                .get_opt(&owner.name)
                .await?
                .is_some_and(|s| s.meta().uid.as_deref() == Some(owner.uid.as_str())),
            None => false,
        };
        if !owner_alive {
            delete(&secrets, &secret.name_any()).await?;
        }
    }
    Ok(leftovers)
}
