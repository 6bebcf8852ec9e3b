//! `pause`, `resume` and `reconcile`: the annotations the controller honours, written with
//! merge patches (nothing else of the object is touched).
//!
//! - `hostplane.dev/paused: "true"` holds every change of a HostingService at its panel,
//!   deletion included (`Synced=False`, `ReconcilePaused`); `resume` removes it.
//! - `hostplane.dev/reconcile-requested-at: <now>` makes any kind reconcile at once; the
//!   controller echoes the value in `status.lastHandledReconcileAt`, which `--wait` waits for.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::json;

use super::{Connection, kinds};
use crate::api::{PAUSED_ANNOTATION, RECONCILE_REQUESTED_AT_ANNOTATION};

#[derive(clap::Args, Debug)]
pub struct PauseArgs {
    /// HostingServices (`NAME` or `hsvc/NAME`).
    #[arg(required = true, value_name = "SERVICE")]
    services: Vec<String>,
    #[command(flatten)]
    connection: Connection,
}

#[derive(clap::Args, Debug)]
pub struct ReconcileArgs {
    /// Objects as `KIND/NAME` (`hsvc/web`, `tariff/start`, `pm/isp1`); a bare NAME is a
    /// HostingService.
    #[arg(required = true, value_name = "OBJECT")]
    objects: Vec<String>,
    /// Wait until the controller handled the request (status.lastHandledReconcileAt), at most
    /// this many seconds; exit 1 when it did not.
    #[arg(long, value_name = "SECONDS")]
    wait: Option<u64>,
    #[command(flatten)]
    connection: Connection,
}

/// What a command writes into an object's annotations.
enum Change {
    Pause,
    Resume,
    Reconcile(String),
}

impl Change {
    fn patch(&self) -> serde_json::Value {
        let annotations = match self {
            Change::Pause => json!({ PAUSED_ANNOTATION: "true" }),
            // A merge patch removes a key set to null.
            Change::Resume => json!({ PAUSED_ANNOTATION: null }),
            Change::Reconcile(mark) => json!({ RECONCILE_REQUESTED_AT_ANNOTATION: mark }),
        };
        json!({ "metadata": { "annotations": annotations } })
    }

    fn done(&self) -> &'static str {
        match self {
            Change::Pause => "paused",
            Change::Resume => "resumed",
            Change::Reconcile(_) => "reconcile requested",
        }
    }
}

pub fn pause(args: PauseArgs) -> ExitCode {
    only_services(&args.services).map_or_else(failed("pause"), |()| {
        run(
            "pause",
            &args.connection,
            &args.services,
            Change::Pause,
            None,
        )
    })
}

pub fn resume(args: PauseArgs) -> ExitCode {
    only_services(&args.services).map_or_else(failed("resume"), |()| {
        run(
            "resume",
            &args.connection,
            &args.services,
            Change::Resume,
            None,
        )
    })
}

pub fn reconcile(args: ReconcileArgs) -> ExitCode {
    let mark = jiff::Timestamp::now().to_string();
    run(
        "reconcile",
        &args.connection,
        &args.objects,
        Change::Reconcile(mark),
        args.wait.map(Duration::from_secs),
    )
}

/// The controller honours the pause annotation on HostingServices only.
fn only_services(references: &[String]) -> Result<(), String> {
    for reference in references {
        let (resource, _) = kinds::object(reference)?;
        if resource.kind != "HostingService" {
            return Err(format!(
                "{reference}: only HostingServices can be paused (they are what acts at a panel)"
            ));
        }
    }
    Ok(())
}

fn failed(command: &'static str) -> impl FnOnce(String) -> ExitCode {
    move |e| {
        eprintln!("hostplane {command}: {e}");
        ExitCode::from(2)
    }
}

fn run(
    command: &'static str,
    connection: &Connection,
    references: &[String],
    change: Change,
    wait: Option<Duration>,
) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return failed(command)(format!("cannot start the runtime: {e}")),
    };
    crate::panel::transport::install_crypto_provider();
    let result = runtime.block_on(async {
        let (client, namespace) = connection.connect().await?;
        let mut unhandled = 0;
        for reference in references {
            let (resource, name) = kinds::object(reference).map_err(anyhow::Error::msg)?;
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), &namespace, &resource);
            api.patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(change.patch()),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}/{name}: {e}", resource.plural))?;
            println!("{}/{name} {}", resource.plural, change.done());
            if let (Some(timeout), Change::Reconcile(mark)) = (wait, &change) {
                if handled(&api, &name, mark, timeout).await? {
                    println!("{}/{name} reconciled", resource.plural);
                } else {
                    eprintln!(
                        "{}/{name}: not reconciled within {timeout:?}",
                        resource.plural
                    );
                    unhandled += 1;
                }
            }
        }
        anyhow::Ok(unhandled)
    });
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => failed(command)(format!("{e:#}")),
    }
}

/// Polls until `status.lastHandledReconcileAt` is `mark`.
async fn handled(
    api: &Api<DynamicObject>,
    name: &str,
    mark: &str,
    timeout: Duration,
) -> anyhow::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let object = api.get(name).await?;
        if object.data["status"]["lastHandledReconcileAt"] == mark {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
