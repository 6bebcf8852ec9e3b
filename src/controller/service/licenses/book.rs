//! The record of which licence nodes (counts) a need holds, kept on the service.

use super::*;

/// The node records of a licensing module's pool ([`license_pool::NODES_ANNOTATION_PREFIX`]): the durable
/// answer to "how many extra nodes does this license have", which the licensing server does
/// not give. They live in annotations of the module's `LicensePool`; without one there is no
/// record and a need with nodes never takes a pooled license (it buys, as before).
pub(super) struct NodeBook {
    pub(super) api: Api<LicensePool>,
    pub(super) pool: String,
    pub(super) records: BTreeMap<String, NodesRecord>,
}

impl NodeBook {
    /// Reads the records fresh from the API server (not the cache: a record written a moment
    /// ago by this process must be seen). `None` when the module has no `LicensePool`.
    pub(super) async fn open(
        ctx: &Context,
        ns: &str,
        module: &str,
    ) -> Result<Option<Self>, String> {
        let Some(pool) = ctx
            .license_pools
            .state()
            .iter()
            .find(|p| {
                p.namespace().as_deref() == Some(ns) && p.spec.licensing_module_ref.name == module
            })
            .map(|p| p.name_any())
        else {
            return Ok(None);
        };
        let api: Api<LicensePool> = Api::namespaced(ctx.client.clone(), ns);
        let object = api
            .get(&pool)
            .await
            .map_err(|e| format!("reading the node records of LicensePool {pool}: {e}"))?;
        Ok(Some(Self {
            records: nodes_records(object.annotations()),
            api,
            pool,
        }))
    }

    /// Sets (`Some`) or removes (`None`) records, in one merge patch: each record is its own
    /// annotation key, so concurrent writers of other records never overwrite one another.
    pub(super) async fn set(
        &mut self,
        changes: &[(&str, Option<&NodesRecord>)],
    ) -> Result<(), String> {
        if changes.is_empty() {
            return Ok(());
        }
        let annotations: serde_json::Map<String, serde_json::Value> = changes
            .iter()
            .map(|(of, r)| {
                (
                    NodesRecord::key(of),
                    r.map_or(serde_json::Value::Null, |r| r.value().into()),
                )
            })
            .collect();
        let patch = serde_json::json!({"metadata": {"annotations": annotations}});
        self.api
            .patch(&self.pool, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| format!("writing the node records of LicensePool {}: {e}", self.pool))?;
        for (of, r) in changes {
            match r {
                Some(r) => self.records.insert((*of).to_owned(), (*r).clone()),
                None => self.records.remove(*of),
            };
        }
        Ok(())
    }

    /// The license `id` was found carrying `remoteid`: the record written before its order
    /// becomes the license's own record.
    pub(super) async fn settle(&mut self, remoteid: &str, id: &str) -> Result<(), String> {
        let Some(pending) = self.records.get(remoteid).cloned() else {
            return Ok(());
        };
        let own = (!self.records.contains_key(id)).then_some(&pending);
        let mut changes = vec![(remoteid, None)];
        if let Some(r) = own {
            changes.push((id, Some(r)));
        }
        self.set(&changes).await
    }
}

/// The need's extra nodes as a record; `None` without nodes (or zero).
pub(super) fn nodes_record(need: &Need) -> Option<NodesRecord> {
    need.nodes
        .as_ref()
        .filter(|(_, n)| *n > 0)
        .map(|(addon, n)| NodesRecord {
            addon_id: addon.clone(),
            quantity: *n,
        })
}
