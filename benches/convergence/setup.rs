//! Set-up: the CRDs, kubectl, waiting for objects to be Ready, creating N at once.

use super::*;

pub(super) fn kubectl(cluster: &LocalCluster, args: &[&str]) -> anyhow::Result<String> {
    let out = tokio::task::block_in_place(|| cluster.kubectl().args(args).output())
        .context("running kubectl")?;
    if !out.status.success() {
        bail!(
            "kubectl {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(super) fn install_crds(cluster: &LocalCluster) -> anyhow::Result<()> {
    let crds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let crds = crds.to_str().context("crds path is not UTF-8")?;
    kubectl(cluster, &["apply", "-f", crds])?;
    kubectl(
        cluster,
        &[
            "wait",
            "--for=condition=established",
            "--timeout=60s",
            "-f",
            crds,
        ],
    )
    .map(drop)
}

/// Waits until `name` reports `Ready=True`.
pub(super) async fn wait_ready<K>(api: &Api<K>, name: &str, timeout: Duration) -> anyhow::Result<()>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let deadline = Instant::now() + timeout;
    loop {
        let object = api.get_opt(name).await?;
        let ready = object
            .as_ref()
            .and_then(|o| serde_json::to_value(o).ok())
            .and_then(|v| ready_condition(v.get("status")?));
        if ready.as_ref().is_some_and(|(status, _)| status == "True") {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} {name} not Ready after {}s (Ready: {ready:?})",
                K::kind(&()),
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Creates every object, `parallel` at a time; with `status`, also writes it (the floor).
/// `done` counts the objects finished (created, and with `status` also written).
pub(super) async fn create_all(
    api: Api<HostingService>,
    objects: Vec<HostingService>,
    parallel: usize,
    status: Option<Value>,
    done: Arc<AtomicU64>,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    futures::stream::iter(objects)
        .map(|object| {
            let (api, status, done) = (api.clone(), status.clone(), Arc::clone(&done));
            async move {
                let name = object.name_any();
                api.create(&PostParams::default(), &object)
                    .await
                    .with_context(|| format!("creating HostingService {name}"))?;
                if let Some(status) = status {
                    api.patch_status(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({ "status": status })),
                    )
                    .await
                    .with_context(|| format!("writing the status of HostingService {name}"))?;
                }
                done.fetch_add(1, Ordering::Relaxed);
                anyhow::Ok(())
            }
        })
        .buffer_unordered(parallel)
        .try_collect::<()>()
        .await?;
    Ok(started.elapsed())
}
