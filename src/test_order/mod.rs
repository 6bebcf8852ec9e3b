//! `hostplane test-order`: the test order of seed 002 ("after activating the tariffs, we
//! recommend placing a test order"), end to end and cleaned up after.
//!
//! A real HostingService is ordered for the namespace's test client (a Client labelled
//! [`TEST_CLIENT_LABEL`], created when missing), labelled [`TEST_ORDER_LABEL`] with the
//! tariff's name, on the tariff's smallest orderable period with its included resources (or
//! those asked for). The controller provisions it like any other order: same placement, same
//! claims, same crash safety; nothing is created at a panel by this command. Once the
//! service is Ready, the panel is asked with read calls only whether the account, server or
//! licence is what the tariff promises ([`checks`]), and the order is deleted
//! (`deletionPolicy: Delete`: the account goes, a licence goes to the pool) unless kept. The
//! panels are then read once more: what the order made must be gone (account, site, zone,
//! server) and its licence pooled, so that "leaves nothing behind" is a check too.
//!
//! Licences cost money: an order that needs one and finds none in the pool is refused unless
//! purchases are allowed ([`purchase`]).
//!
//! Interrupted, the order is still removed ([`run`] takes the interruption as a future); a run
//! that was killed leaves its order behind, and the next run of the tariff removes it first
//! ([`cleanup::sweep`]).

pub mod checks;
mod cleanup;
mod login;
pub mod order;
mod panel;
pub mod purchase;
mod render;

use std::time::Duration;

use kube::ResourceExt;
use kube::api::Api;
use serde::Serialize;

use crate::api::common::{Date, Period};
use crate::api::hosting_service::ResourceQuantity;
use crate::api::tariff::ProductType;
use crate::api::{HostingService, Tariff};
pub use crate::api::{TEST_CLIENT_LABEL, TEST_ORDER_LABEL};
use crate::controller::clock::Clock;
use crate::controller::panels::Panels;
pub use checks::{Check, Verdict};
pub use render::text;

/// What to order.
#[derive(Clone, Debug)]
pub struct Request {
    pub namespace: String,
    /// The tariff's name.
    pub tariff: String,
    /// Quantities asked for; the tariff's included amounts for the others.
    pub resources: Vec<ResourceQuantity>,
    /// The IP a `SoftwareLicense` test licence is bound to.
    pub license_ip: Option<String>,
    /// Buy a licence when the pool has none that fits.
    pub allow_purchase: bool,
    /// Leave the order in place after the checks.
    pub keep: bool,
    /// How long the order may take to become Ready.
    pub timeout: Duration,
}

/// Where progress lines go (the terminal's stderr in the command).
pub trait Progress {
    fn note(&self, line: &str);
}

/// What became of the order after the checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum Cleanup {
    Deleted,
    Kept,
    Failed { reason: String },
}

/// The result of one test order.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub namespace: String,
    pub tariff: String,
    pub product: ProductType,
    /// The HostingService's name.
    pub service: String,
    pub period: Period,
    /// The processing module the order was placed on.
    pub module: Option<String>,
    /// Where the order's licence came from (pool or purchase), when it needs one.
    pub license: Option<String>,
    pub checks: Vec<Check>,
    /// Every check passed.
    pub passed: bool,
    pub cleanup: Cleanup,
}

impl Report {
    /// 0 when every check passed and the order is deleted or kept as asked, 1 when a check
    /// failed, 2 when the order could not be removed.
    pub fn exit_status(&self) -> u8 {
        match (&self.cleanup, self.passed) {
            (Cleanup::Failed { .. }, _) => 2,
            (_, true) => 0,
            (_, false) => 1,
        }
    }
}

/// Runs one test order. `Err` when it could not run (no tariff, a refused purchase, a panel
/// that cannot be read, an interruption); the order, if one was placed, is removed first.
pub async fn run(
    kube: &kube::Client,
    request: &Request,
    progress: &dyn Progress,
    interrupted: impl Future<Output = ()>,
) -> anyhow::Result<Report> {
    let ns = &request.namespace;
    let tariff = Api::<Tariff>::namespaced(kube.clone(), ns)
        .get_opt(&request.tariff)
        .await?
        .ok_or_else(|| anyhow::anyhow!("tariff {ns}/{} does not exist", request.tariff))?;
    let today = Date(Clock::system().today_in(&crate::billing::zone::of(&tariff.spec)));
    cleanup::sweep(kube, ns, &request.tariff, progress).await?;

    let name = order::service_name();
    let service =
        order::service(&name, request, &tariff.spec, today).map_err(|e| anyhow::anyhow!(e))?;
    let license = match purchase::license_cost(&tariff.spec, &service.spec) {
        None => None,
        Some(cost) => {
            match purchase::preflight(
                kube,
                ns,
                &request.tariff,
                &tariff.spec,
                &cost,
                request.allow_purchase,
                today,
            )
            .await?
            {
                Ok(note) => Some(note),
                Err(refusal) => anyhow::bail!(refusal),
            }
        }
    };
    if let Some(note) = &license {
        progress.note(note);
    }
    let client = order::ensure_test_client(kube, ns).await?;
    let client = order::fit_test_client(kube, client, &tariff.spec).await?;
    progress.note(&format!(
        "ordering hsvc/{name} on tariff {} for client {} ({})",
        request.tariff,
        client.name_any(),
        service.spec.period
    ));

    let placed = place_and_verify(kube, request, &service, &tariff, &client, progress);
    let outcome = tokio::select! {
        outcome = placed => Some(outcome),
        () = interrupted => None,
    };
    let keep = request.keep && matches!(outcome, Some(Ok(_)));
    let cleanup = if keep {
        match cleanup::mark_kept(kube, ns, &name).await {
            Ok(()) => Cleanup::Kept,
            Err(e) => Cleanup::Failed {
                reason: format!("kept, but not marked as kept ({e:#}): the next run removes it"),
            },
        }
    } else {
        match cleanup::remove(kube, ns, &name, progress).await {
            Ok(()) => Cleanup::Deleted,
            Err(e) => Cleanup::Failed {
                reason: format!("{e:#}"),
            },
        }
    };
    let verified = match outcome {
        None => anyhow::bail!(
            "interrupted; the test order hsvc/{name} {}",
            match &cleanup {
                Cleanup::Failed { reason } => format!("is left behind ({reason})"),
                _ => "was removed".to_owned(),
            }
        ),
        Some(Err(e)) => match &cleanup {
            Cleanup::Failed { reason } => {
                anyhow::bail!("{e:#}; the test order hsvc/{name} is left behind ({reason})")
            }
            _ => return Err(e.context(format!("the test order hsvc/{name} was removed"))),
        },
        Some(Ok(found)) => found,
    };
    let (module, mut checks, ready) = (verified.module, verified.checks, verified.ready);
    if let (Cleanup::Deleted, Some(service)) = (&cleanup, &ready) {
        let panels = Panels::new();
        let subject = panel::Subject {
            kube,
            panels: &panels,
            service,
            tariff: &tariff,
            client: &client,
            keep: false,
        };
        let left = panel::verify_removed(&subject).await.map_err(|e| {
            e.context(format!(
                "the test order hsvc/{name} was deleted, but what it left at the panel could not be read"
            ))
        })?;
        checks.extend(left);
    }
    Ok(Report {
        namespace: ns.clone(),
        tariff: request.tariff.clone(),
        product: tariff.spec.product_type,
        service: name,
        period: service.spec.period,
        module,
        license,
        passed: checks::all_passed(&checks),
        checks,
        cleanup,
    })
}

/// What [`place_and_verify`] found.
struct Verified {
    /// The module the order was placed on.
    module: Option<String>,
    checks: Vec<Check>,
    /// The service as it was when Ready (its status names what was made at the panel).
    ready: Option<HostingService>,
}

/// Places the order, waits for Ready and checks at the panel.
async fn place_and_verify(
    kube: &kube::Client,
    request: &Request,
    service: &HostingService,
    tariff: &Tariff,
    client: &crate::api::Client,
    progress: &dyn Progress,
) -> anyhow::Result<Verified> {
    let ns = &request.namespace;
    let name = service.name_any();
    order::place(kube, service).await?;
    let (ready, status) = order::wait_ready(kube, ns, &name, request.timeout, progress).await?;
    let module = status.and_then(|s| s.processing_module);
    let service = match ready {
        Ok(service) => service,
        Err(found) => {
            return Ok(Verified {
                module,
                checks: vec![checks::ready(Err(&found))],
                ready: None,
            });
        }
    };
    if let Some(secret) = &service.spec.write_connection_secret_to_ref {
        cleanup::label_secret(kube, ns, &secret.name, &request.tariff).await?;
    }
    progress.note(&format!("hsvc/{name} is Ready; checking at the panel"));
    let panels = Panels::new();
    let subject = panel::Subject {
        kube,
        panels: &panels,
        service: &service,
        tariff,
        client,
        keep: request.keep,
    };
    let (module, found) = panel::verify(&subject).await?;
    let mut checks = vec![checks::ready(Ok(()))];
    checks.extend(found);
    Ok(Verified {
        module: Some(module),
        checks,
        ready: Some(service),
    })
}
