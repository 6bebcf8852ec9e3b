//! Catalogues: OS images, clusters, recipes, IP pools, and a host's IPv4 addresses.

use serde_json::json;

use super::Vm6Client;
use super::filter::Where;
use super::rest::Call;
use super::wire::{CatalogItem, Ipv4Address, List};
use crate::panel::error::PanelError;

impl Vm6Client {
    async fn catalog(
        &self,
        operation: &str,
        path: &str,
        filter: Option<&Where>,
    ) -> Result<Vec<CatalogItem>, PanelError> {
        let list: List<CatalogItem> = self
            .call(Call::get(operation, path).filtered(filter))
            .await?;
        Ok(list.list)
    }

    /// `GET /vm/v3/os`: OS images.
    pub async fn list_os(&self, filter: Option<&Where>) -> Result<Vec<CatalogItem>, PanelError> {
        self.catalog("os.list", "vm/v3/os", filter).await
    }

    /// `GET /vm/v3/cluster`.
    pub async fn list_clusters(
        &self,
        filter: Option<&Where>,
    ) -> Result<Vec<CatalogItem>, PanelError> {
        self.catalog("cluster.list", "vm/v3/cluster", filter).await
    }

    /// `GET /vm/v3/recipe`.
    pub async fn list_recipes(
        &self,
        filter: Option<&Where>,
    ) -> Result<Vec<CatalogItem>, PanelError> {
        self.catalog("recipe.list", "vm/v3/recipe", filter).await
    }

    /// `GET /ip/v3/ippool`: IPv4 pools.
    pub async fn list_ip_pools(
        &self,
        filter: Option<&Where>,
    ) -> Result<Vec<CatalogItem>, PanelError> {
        self.catalog("ippool.list", "ip/v3/ippool", filter).await
    }

    /// `GET /vm/v3/host/{id}/ipv4`: the host's addresses with their ids (for PTR records).
    pub async fn host_ipv4(&self, host: u64) -> Result<Vec<Ipv4Address>, PanelError> {
        let path = format!("vm/v3/host/{host}/ipv4");
        let list: List<Ipv4Address> = self.call(Call::get("host.ipv4", &path)).await?;
        Ok(list.list)
    }

    /// `POST /vm/v3/ip/{id}/ptr`: the reverse DNS name of an address.
    pub async fn set_ptr(&self, ip: u64, domain: &str) -> Result<(), PanelError> {
        let path = format!("vm/v3/ip/{ip}/ptr");
        let _: serde_json::Value = self
            .call(Call::post("ip.ptr", &path, json!({ "domain": domain })))
            .await?;
        Ok(())
    }
}
