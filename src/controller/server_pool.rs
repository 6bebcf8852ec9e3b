//! The ServerPool reconciler (seed 004): pre-created virtual servers at one VMmanager 6
//! module, owned by the pool client's account until an order takes one.
//!
//! The panel is the source of truth: a pooled server is a host owned by the pool client's
//! account whose comment carries the pool's marker ([`marker`]: pool, configuration, creation
//! time on the controller's clock). Each pass lists those hosts in one call, counts the sales
//! of the statistics window (HostingServices of `VirtualServer` tariffs at the module, by
//! creation day), asks [`crate::pools::server_pool::plan`] what to create and delete, acts,
//! and writes the servers and the per-configuration sizes to status. A taken server leaves
//! the pool by itself: the order renames it, rewrites its comment and changes its owner.
//!
//! Timers, not polling: while servers install the pool is looked at every few seconds;
//! otherwise it is requeued for the next age-out, and new orders wake it through the watch on
//! services.
//!
//! VMmanager 5 has no owner change, so pools exist on VMmanager 6 modules only.

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use super::conditions::{self, Verdict};
use super::context::{self, Context};
use super::service::virtual_server::{self, HostPlan, OwnerError, ResolveError};
use super::{Error, observe_annotations};
use crate::api::ServerPool;
use crate::api::common::{Date, LastError};
use crate::api::processing_module::{ModuleType, VmManagerApiVersion};
use crate::api::server_pool::{
    ConfigurationStatus, PoolConfiguration, PooledServer, PooledServerState, ServerPoolStatus,
};
use crate::api::tariff::ProductType;
use crate::controller::reason::Reason;
use crate::panel::PanelError;
use crate::panel::vmmanager6::{HostState, Vm6Client, Where};
use crate::pools::server_pool::{self as rules, Sale};

/// How often a pool with installing servers is looked at.
const INSTALL_POLL: Duration = Duration::from_secs(3);

/// The comment prefix of pooled servers.
const MARKER: &str = "hostplane.dev/server-pool=";

/// What a pooled server's comment says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// `namespace/name` of the pool.
    pub pool: String,
    pub configuration: String,
    /// RFC 3339, on the controller's clock.
    pub created_at: String,
}

/// The comment of a pooled server.
pub fn marker(pool: &str, configuration: &str, created_at: &str) -> String {
    format!("{MARKER}{pool} configuration={configuration} created={created_at}")
}

/// Reads a pooled server's comment; `None` for any other host.
pub fn marker_of(comment: &str) -> Option<Marker> {
    let rest = comment.strip_prefix(MARKER)?;
    let mut parts = rest.split(' ');
    let pool = parts.next()?.to_owned();
    let configuration = parts.next()?.strip_prefix("configuration=")?.to_owned();
    let created_at = parts.next()?.strip_prefix("created=")?.to_owned();
    Some(Marker {
        pool,
        configuration,
        created_at,
    })
}

/// The queue in which servers of a module's pool are handed out and deleted, one at a time,
/// so an order never takes a server the pool is deleting (or another order took).
pub fn take_queue(namespace: &str, module: &str) -> String {
    format!("{namespace}/{module}/server-pool")
}

fn failed(reason: Reason, message: impl Into<String>) -> Verdict {
    Verdict::Failed {
        reason,
        message: message.into(),
    }
}

fn stalled(reason: Reason, message: impl Into<String>) -> Verdict {
    Verdict::Stalled {
        reason,
        message: message.into(),
    }
}

pub async fn reconcile(pool: Arc<ServerPool>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = pool.namespace().unwrap_or_default();
    let api: Api<ServerPool> = Api::namespaced(ctx.client.clone(), &ns);
    let mut status = pool.status.clone().unwrap_or_default();
    let (verdict, requeue) = match run(&pool, &ctx, &mut status).await {
        Ok(done) => done,
        Err(verdict) => (verdict, None),
    };
    finish(&pool, &ctx, &api, status, verdict, requeue).await
}

/// The pass; `Err` is a verdict that ends it early.
async fn run(
    pool: &ServerPool,
    ctx: &Context,
    status: &mut ServerPoolStatus,
) -> Result<(Verdict, Option<Duration>), Verdict> {
    let ns = pool.namespace().unwrap_or_default();
    let key = format!("{ns}/{}", pool.name_any());
    let module_name = &pool.spec.vmmanager_module_ref.name;
    let module = Context::get(&ctx.modules, &ns, module_name).ok_or_else(|| {
        stalled(
            Reason::ReferenceNotFound,
            format!(
                "spec.vmmanagerModuleRef.name: ProcessingModule {module_name:?} does not exist"
            ),
        )
    })?;
    if module.spec.type_ != ModuleType::VMmanager
        || virtual_server::settings_of(&module).api_version != VmManagerApiVersion::V6
    {
        return Err(stalled(
            Reason::UnsupportedModule,
            format!(
                "spec.vmmanagerModuleRef.name: {module_name:?} is not a VMmanager 6 module; server pools need VMmanager 6 (owner change)"
            ),
        ));
    }
    let client_name = &pool.spec.pool_client_ref.name;
    let pool_client = Context::get(&ctx.clients, &ns, client_name).ok_or_else(|| {
        stalled(
            Reason::ReferenceNotFound,
            format!("spec.poolClientRef.name: Client {client_name:?} does not exist"),
        )
    })?;
    let vm = ctx
        .panels
        .vmmanager6(&ctx.client, &module)
        .await
        .map_err(|e| {
            failed(
                Reason::ModuleUnavailable,
                format!("processing module {module_name}: {e}"),
            )
        })?;
    let email = pool_client.spec.email.clone();
    let owner = virtual_server::owner_account(&vm, &email)
        .await
        .map_err(|e| match e {
            OwnerError::Admin => stalled(
                Reason::OwnerIsAdministrator,
                format!("the pool client's account {email:?} is an administrator"),
            ),
            OwnerError::Panel(e) => failed(
                Reason::PanelError,
                format!("the pool account {email:?}: {e}"),
            ),
        })?;

    let servers = pooled(&vm, owner, &key)
        .await
        .map_err(|e| failed(Reason::PanelError, format!("listing pooled servers: {e}")))?;
    let tz = jiff::tz::TimeZone::UTC;
    let today = Date(ctx.settings.clock.today());
    let sales = sales(ctx, &ns, module_name);
    let sales: Vec<Sale<'_>> = sales
        .iter()
        .map(|(desired, on)| Sale {
            shape: desired.shape(),
            on: *on,
        })
        .collect();
    let plan = rules::plan(&pool.spec, &servers, &sales, &tz, today);

    // Deletions, in the hand-out queue so that no order takes a server being deleted.
    let mut deleted = Vec::new();
    if !plan.delete.is_empty() {
        let lock = ctx.vm_queues.queue(&take_queue(&ns, module_name));
        let _guard = lock.lock().await;
        for id in &plan.delete {
            let Ok(host) = id.parse::<u64>() else {
                continue;
            };
            // Still ours? An order may have taken it since the listing.
            match vm.find_host(host).await {
                Ok(Some(h)) if marker_of(&h.comment).is_some_and(|m| m.pool == key) => {}
                Ok(_) => continue,
                Err(e) => {
                    return Err(failed(
                        Reason::PanelError,
                        format!("looking up server {id}: {e}"),
                    ));
                }
            }
            match vm.delete_host(host).await {
                Ok(_) | Err(PanelError::Missed { .. }) => deleted.push(id.clone()),
                Err(e) => {
                    return Err(failed(
                        Reason::PanelError,
                        format!("deleting server {id}: {e}"),
                    ));
                }
            }
        }
        if !deleted.is_empty() {
            ctx.event(
                pool,
                EventType::Normal,
                Reason::ServersDeleted,
                format!(
                    "deleted {} pooled server(s) past {} month(s) in the pool: {}",
                    deleted.len(),
                    pool.spec.max_months_in_pool,
                    deleted.join(", ")
                ),
            )
            .await;
        }
    }

    // Creations.
    let settings = virtual_server::settings_of(&module);
    let mut created = 0u32;
    let now = ctx.settings.clock.now();
    for config_plan in plan.configurations.iter().filter(|c| c.create > 0) {
        let Some(config) = pool
            .spec
            .configurations
            .iter()
            .find(|c| c.name == config_plan.name)
        else {
            continue;
        };
        let desired = desired_of(config, settings.use_recipes);
        let host_plan = HostPlan::resolve(&vm, &settings, &desired)
            .await
            .map_err(|e| match e {
                ResolveError::Unknown(message) => stalled(
                    Reason::InvalidSpec,
                    format!("configuration {}: {message}", config.name),
                ),
                ResolveError::Panel(e) => {
                    failed(Reason::PanelError, format!("reading catalogues: {e}"))
                }
            })?;
        for n in 0..config_plan.create {
            let created_at = now.to_string();
            let name = pool_host_name(&pool.name_any(), &config.name, now, n);
            let new = host_plan.new_host(
                name.clone(),
                owner,
                &desired,
                Some(marker(&key, &config.name, &created_at)),
                // Nobody logs into a pooled server: the buyer's root password is set when it
                // is taken.
                super::service::connection::generate_password(),
            );
            match vm.create_host(&new).await {
                // A lost answer may have made the server: the next listing counts it, so the
                // pool is never short; at worst it holds one server more until it is taken.
                Ok(_) | Err(PanelError::OutcomeUnknown { .. }) => created += 1,
                Err(e) => {
                    return Err(failed(
                        Reason::PanelError,
                        format!("creating pooled server {name}: {e}"),
                    ));
                }
            }
        }
    }
    if created > 0 {
        ctx.event(
            pool,
            EventType::Normal,
            Reason::ServersCreated,
            format!("creating {created} pooled server(s)"),
        )
        .await;
    }

    status.configurations = plan
        .configurations
        .iter()
        .map(|c| ConfigurationStatus {
            name: c.name.clone(),
            sold: c.sold,
            desired: c.desired,
            ready: c.ready,
        })
        .collect();
    status.desired_servers = plan.desired();
    status.ready_servers = plan.ready();
    let mut listed: Vec<PooledServer> = servers
        .into_iter()
        .filter(|s| !deleted.contains(&s.id))
        .collect();
    listed.sort_by(|a, b| (a.id.len(), &a.id).cmp(&(b.id.len(), &b.id)));
    status.servers = listed;

    let installing = created > 0
        || status
            .servers
            .iter()
            .any(|s| s.state == PooledServerState::Creating);
    let short: Vec<String> = plan
        .configurations
        .iter()
        .filter(|c| c.ready < c.desired)
        .map(|c| format!("{} {}/{}", c.name, c.ready, c.desired))
        .collect();
    let verdict = if short.is_empty() {
        Verdict::Ready {
            reason: Reason::Available,
            message: format!(
                "{} server(s) ready, {} desired",
                status.ready_servers, status.desired_servers
            ),
        }
    } else {
        Verdict::Progressing {
            reason: Reason::Filling,
            message: format!("ready/desired: {}", short.join(", ")),
        }
    };
    let requeue = if installing {
        Some(INSTALL_POLL)
    } else {
        next_age_out(pool, &status.servers, now)
    };
    Ok((verdict, requeue))
}

/// The pooled servers at the panel: hosts of the pool account with this pool's marker.
async fn pooled(vm: &Vm6Client, owner: u64, key: &str) -> Result<Vec<PooledServer>, PanelError> {
    let hosts = vm.list_hosts(Some(&Where::eq("account.id", owner))).await?;
    Ok(hosts
        .into_iter()
        .filter_map(|h| {
            let m = marker_of(&h.comment).filter(|m| m.pool == key)?;
            let state = match &h.state {
                HostState::Active | HostState::Stopped => PooledServerState::Ready,
                HostState::Creating | HostState::Unknown => PooledServerState::Creating,
                // A server that failed to install is replaced.
                HostState::Other(_) => PooledServerState::Expiring,
            };
            Some(PooledServer {
                id: h.id.to_string(),
                configuration: m.configuration,
                created_at: m.created_at,
                state,
            })
        })
        .collect())
}

/// The servers sold at the module: services of `VirtualServer` tariffs placed there (or, not
/// placed yet, on a tariff that lists it), by creation day.
fn sales(ctx: &Context, ns: &str, module: &str) -> Vec<(virtual_server::DesiredServer, Date)> {
    let use_recipes = Context::get(&ctx.modules, ns, module)
        .map(|m| virtual_server::settings_of(&m).use_recipes)
        .unwrap_or(false);
    ctx.services
        .state()
        .iter()
        .filter(|s| s.namespace().as_deref() == Some(ns))
        .filter_map(|s| {
            let tariff = Context::get(&ctx.tariffs, ns, &s.spec.tariff_ref.name)?;
            if tariff.spec.product_type != ProductType::VirtualServer {
                return None;
            }
            let here = match super::service::placed_on(s) {
                Some(m) => m == module,
                None => tariff
                    .spec
                    .processing_modules
                    .iter()
                    .any(|r| r.name == module),
            };
            if !here {
                return None;
            }
            let created = s.metadata.creation_timestamp.as_ref()?.0;
            let day = Date(created.to_zoned(jiff::tz::TimeZone::UTC).date());
            let desired =
                virtual_server::desired_server(&s.spec, &tariff.spec, use_recipes).ok()?;
            Some((desired, day))
        })
        .collect()
}

fn desired_of(config: &PoolConfiguration, use_recipes: bool) -> virtual_server::DesiredServer {
    virtual_server::DesiredServer {
        operating_system: config.operating_system.clone(),
        cpu_cores: config.cpu_cores,
        memory_mib: config.memory_mib,
        disk_gib: config.disk_gib,
        ipv4_addresses: 1,
        recipe: config.recipe.clone().filter(|_| use_recipes),
        preset: None,
        domain: None,
    }
}

/// A unique name for a new pooled server.
fn pool_host_name(pool: &str, configuration: &str, now: jiff::Timestamp, n: u32) -> String {
    let mut name = format!("pool-{pool}-{configuration}-{}-{n}", now.as_millisecond());
    name.truncate(63);
    name
}

/// How long until the first server's time in the pool is over (plus a minute).
fn next_age_out(
    pool: &ServerPool,
    servers: &[PooledServer],
    now: jiff::Timestamp,
) -> Option<Duration> {
    let tz = jiff::tz::TimeZone::UTC;
    servers
        .iter()
        .filter_map(|s| rules::created_on(s, &tz))
        .filter_map(|day| {
            crate::billing::dates::add_months(day, i64::from(pool.spec.max_months_in_pool)).ok()
        })
        .filter_map(|over| over.0.to_zoned(tz.clone()).ok().map(|z| z.timestamp()))
        .min()
        .map(|at| {
            Duration::try_from(at.duration_since(now)).unwrap_or_default() + Duration::from_secs(60)
        })
}

async fn finish(
    pool: &ServerPool,
    ctx: &Context,
    api: &Api<ServerPool>,
    mut status: ServerPoolStatus,
    verdict: Verdict,
    requeue: Option<Duration>,
) -> Result<Action, Error> {
    let key = context::key("ServerPool", pool);
    conditions::apply(
        &mut status.common,
        &verdict,
        pool.metadata.generation,
        &ctx.timestamp(),
    );
    observe_annotations(&pool.metadata, &mut status.common);
    crate::controller::metrics::judged("ServerPool", &verdict);
    let action = match &verdict {
        Verdict::Failed { message, .. } => {
            let attempts = ctx.failed(&key);
            let wait = context::backoff(attempts, super::rand_unit());
            status.common.last_error = Some(LastError {
                message: message.clone(),
                attempts,
                next_attempt_at: Some(ctx.time_after(wait)),
            });
            Action::requeue(wait)
        }
        _ => {
            ctx.succeeded(&key);
            status.common.last_error = None;
            match requeue {
                Some(after) => Action::requeue(after),
                None => Action::await_change(),
            }
        }
    };
    if super::status::write(api, &pool.name_any(), pool.status.as_ref(), &status).await? {
        super::announce(ctx, pool, pool.status.as_ref().map(|s| &s.common), &verdict).await;
    }
    Ok(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_read_back() {
        let text = marker("ns/p", "small", "2026-01-02T03:04:05Z");
        assert_eq!(
            marker_of(&text),
            Some(Marker {
                pool: "ns/p".into(),
                configuration: "small".into(),
                created_at: "2026-01-02T03:04:05Z".into(),
            })
        );
        assert_eq!(marker_of("hostplane.dev/service=ns/x"), None);
    }
}
