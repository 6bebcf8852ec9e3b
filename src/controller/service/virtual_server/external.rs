//! The two VMmanager versions as the driver's [`External`]: a VMmanager 6 host (found by name
//! and told apart from a stranger's by the marker in its comment) and a VMmanager 5 VM (found
//! by name in the `vm` list; VMmanager 5 keeps no marker, so ownership rests on the claim).

use std::sync::Arc;

use crate::controller::reason::Reason;
use crate::controller::service::driver::{External, Found, Removable};
use crate::panel::PanelError;
use crate::panel::vmmanager5::{NewVm, Vm, Vm5};
use crate::panel::vmmanager6::{Host, NewHost, Vm6Client};

/// One host name at a VMmanager 6 module, for one service.
pub struct Vm6Host {
    pub vm: Arc<Vm6Client>,
    pub name: String,
    /// The comment every host of the service carries.
    pub marker: String,
    /// A person handed the name over (or the service only observes): an unmarked host of the
    /// name is taken as the service's.
    pub handed_over: bool,
}

impl External for Vm6Host {
    type Observed = Host;
    type Create = NewHost;

    fn kind(&self) -> &'static str {
        "VMmanager host"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn exists_reason(&self) -> Reason {
        Reason::HostExists
    }

    async fn observe(&self) -> Result<Found<Host>, PanelError> {
        let hosts = self.vm.find_hosts_by_name(&self.name).await?;
        let any = !hosts.is_empty();
        Ok(match ours(hosts, &self.marker, self.handed_over) {
            Some(host) => Found::Present(host),
            None if any => Found::Foreign,
            None => Found::Absent,
        })
    }

    async fn create(&self, request: &NewHost) -> Result<(), PanelError> {
        self.vm.create_host(request).await.map(|_| ())
    }
}

impl Removable for Vm6Host {
    /// Every host of the name with the service's marker (a lost answer may have left two), or
    /// the one a person handed over; a stranger's host of the same name is never touched.
    async fn delete(&self) -> Result<bool, PanelError> {
        let found = self.vm.find_hosts_by_name(&self.name).await?;
        let mut hosts: Vec<Host> = found
            .iter()
            .filter(|h| h.comment == self.marker)
            .cloned()
            .collect();
        if hosts.is_empty() && self.handed_over {
            hosts.extend(ours(found, &self.marker, true));
        }
        for host in &hosts {
            match self.vm.delete_host(host.id).await {
                Ok(_) | Err(PanelError::Missed { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(!hosts.is_empty())
    }
}

/// The host a service manages among the hosts of its name: the oldest one carrying its
/// marker; without one, the oldest of all only when a person handed the name over (or the
/// service only observes).
fn ours(hosts: Vec<Host>, marker: &str, handed_over: bool) -> Option<Host> {
    let (marked, rest): (Vec<Host>, Vec<Host>) =
        hosts.into_iter().partition(|h| h.comment == marker);
    marked
        .into_iter()
        .min_by_key(|h| h.id)
        .or_else(|| handed_over.then(|| rest.into_iter().min_by_key(|h| h.id))?)
}

/// One VM name at a VMmanager 5 module.
pub struct Vm5Machine {
    pub vm: Arc<Vm5>,
    pub name: String,
}

impl Vm5Machine {
    async fn find(&self) -> Result<Option<Vm>, PanelError> {
        Ok(self
            .vm
            .vms()
            .await?
            .into_iter()
            .find(|v| v.name == self.name))
    }
}

impl External for Vm5Machine {
    type Observed = Vm;
    type Create = NewVm;

    fn kind(&self) -> &'static str {
        "VMmanager VM"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn exists_reason(&self) -> Reason {
        Reason::HostExists
    }

    async fn observe(&self) -> Result<Found<Vm>, PanelError> {
        Ok(self.find().await?.map_or(Found::Absent, Found::Present))
    }

    async fn create(&self, request: &NewVm) -> Result<(), PanelError> {
        self.vm.create_vm(request).await.map(|_| ())
    }
}

impl Removable for Vm5Machine {
    async fn delete(&self) -> Result<bool, PanelError> {
        let Some(machine) = self.find().await? else {
            return Ok(false);
        };
        match self.vm.delete(&machine.id).await {
            Ok(()) => Ok(true),
            Err(e) if crate::panel::ispmanager::is_not_found(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
