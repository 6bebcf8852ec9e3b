//! The next change to make to an existing server, from what the panel reports and what the
//! service asks for. Pure, so the order of the steps is tested without a panel.
//!
//! One step per reconcile: the panel refuses a change while a task of the host runs, so the
//! reconciler sends one mutation, requeues, and asks again once the task is done. The order:
//!
//! 1. **Stop** a server that must be suspended, before anything else: non-payment wins.
//! 2. **Reinstall** when the declared OS differs from the installed one (seed 004: the OS is a
//!    choice of the order, so changing it in git is the client's "reinstall with another OS").
//!    Reinstalling wipes the disk, so it is never done for a suspended service, and never
//!    when the panel does not say which OS is installed.
//! 3. **CPU and RAM**.
//! 4. **Grow the disk**. Disks only grow (reference §4.7; VMmanager 5 too, §11 "disk
//!    resize"); a smaller declared disk is refused and reported, never applied by recreating
//!    the server.
//! 5. **Restart** a running server with a resource change pending for its next stop
//!    (VMmanager 6 defers a change of a running host and shows it as `cpu_number_new` /
//!    `ram_mib_new`; the official module restarts the host to apply it, reference §11).
//! 6. **Start** a server that must run.

use super::DesiredServer;

/// What the panel reports of an existing server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub running: bool,
    /// The strings that name the installed OS at the panel (its name, its id); empty when the
    /// panel does not say.
    pub os: Vec<String>,
    pub cpu_cores: u64,
    pub memory_mib: u64,
    /// The main disk's size, when the panel reports it.
    pub disk_mib: Option<u64>,
    /// A change was accepted for the next stop and is not applied yet. `cpu_cores` and
    /// `memory_mib` then hold the pending values, so the change is not sent again.
    pub pending: bool,
}

/// The next change to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Stop,
    Reinstall,
    /// CPU and/or RAM; `None` keeps the current value.
    Resize {
        cpu_cores: Option<u64>,
        memory_mib: Option<u64>,
    },
    GrowDisk {
        to_mib: u64,
    },
    /// Restart a running server to apply a pending change.
    Restart,
    Start,
    /// Nothing to send. `disk` says why a declared disk size is not applied, if it is not.
    Done {
        disk: Option<DiskRefusal>,
    },
}

/// Why the declared disk size is not applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskRefusal {
    /// Disks only grow.
    Shrink { have_mib: u64, want_mib: u64 },
}

impl DiskRefusal {
    /// The sentence shown in the service's conditions.
    pub fn message(&self, server: &str) -> String {
        match self {
            DiskRefusal::Shrink { have_mib, want_mib } => format!(
                "the disk of {server} has {have_mib} MiB and {want_mib} MiB are declared: VMmanager disks only grow; declare at least {have_mib} MiB (diskSpace) or order a new server"
            ),
        }
    }
}

/// Whether `wanted` (a name or an id, as the tariff or the service gives it) names the
/// installed OS. `None` when the panel does not say which OS is installed.
pub fn os_matches(observed: &Observed, wanted: &str) -> Option<bool> {
    if observed.os.is_empty() {
        return None;
    }
    Some(observed.os.iter().any(|o| o == wanted))
}

/// The next step for a server that exists and is not busy.
pub fn next_step(observed: &Observed, desired: &DesiredServer, want_running: bool) -> Step {
    if !want_running && observed.running {
        return Step::Stop;
    }
    if want_running && os_matches(observed, &desired.operating_system) == Some(false) {
        return Step::Reinstall;
    }
    let cpu = u64::from(desired.cpu_cores);
    let ram = u64::from(desired.memory_mib);
    if observed.cpu_cores != cpu || observed.memory_mib != ram {
        return Step::Resize {
            cpu_cores: (observed.cpu_cores != cpu).then_some(cpu),
            memory_mib: (observed.memory_mib != ram).then_some(ram),
        };
    }
    let want_mib = u64::from(desired.disk_gib) * 1024;
    let mut disk = None;
    if let Some(have_mib) = observed.disk_mib {
        if want_mib > have_mib {
            return Step::GrowDisk { to_mib: want_mib };
        }
        if want_mib < have_mib {
            disk = Some(DiskRefusal::Shrink { have_mib, want_mib });
        }
    }
    if want_running && observed.running && observed.pending {
        return Step::Restart;
    }
    if want_running && !observed.running {
        return Step::Start;
    }
    Step::Done { disk }
}

/// A server as a tariff wants it and as a panel shows it when it matches, for the unit tests
/// of whoever compares the two.
#[cfg(test)]
pub(crate) mod samples {
    use super::*;

    pub(crate) fn desired() -> DesiredServer {
        DesiredServer {
            operating_system: "Ubuntu 22.04".into(),
            cpu_cores: 2,
            memory_mib: 2048,
            disk_gib: 20,
            ipv4_addresses: 1,
            recipe: None,
            preset: None,
            domain: None,
        }
    }

    pub(crate) fn matching() -> Observed {
        Observed {
            running: true,
            os: vec!["Ubuntu 22.04".into(), "8211".into()],
            cpu_cores: 2,
            memory_mib: 2048,
            disk_mib: Some(20 * 1024),
            pending: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::samples::{desired, matching};

    #[test]
    fn a_matching_running_server_needs_nothing() {
        assert_eq!(
            next_step(&matching(), &desired(), true),
            Step::Done { disk: None }
        );
    }

    #[test]
    fn suspension_stops_first_even_with_other_changes_pending() {
        let mut observed = matching();
        observed.cpu_cores = 1;
        observed.os = vec!["Debian 12".into()];
        assert_eq!(next_step(&observed, &desired(), false), Step::Stop);
    }

    #[test]
    fn an_os_change_reinstalls_only_a_running_service_and_only_when_the_os_is_known() {
        let mut observed = matching();
        observed.os = vec!["Debian 12".into(), "7".into()];
        assert_eq!(next_step(&observed, &desired(), true), Step::Reinstall);
        // Suspended: the disk is not wiped while the client cannot use the server.
        observed.running = false;
        assert_eq!(
            next_step(&observed, &desired(), false),
            Step::Done { disk: None }
        );
        // The panel does not say: nothing destructive on a guess.
        observed.running = true;
        observed.os.clear();
        assert_eq!(
            next_step(&observed, &desired(), true),
            Step::Done { disk: None }
        );
    }

    #[test]
    fn the_os_may_be_named_by_id() {
        let mut wanted = desired();
        wanted.operating_system = "8211".into();
        assert_eq!(
            next_step(&matching(), &wanted, true),
            Step::Done { disk: None }
        );
    }

    #[test]
    fn cpu_and_ram_change_only_what_differs() {
        let mut observed = matching();
        observed.memory_mib = 1024;
        assert_eq!(
            next_step(&observed, &desired(), true),
            Step::Resize {
                cpu_cores: None,
                memory_mib: Some(2048)
            }
        );
    }

    #[test]
    fn the_disk_grows_but_never_shrinks() {
        let mut observed = matching();
        observed.disk_mib = Some(10 * 1024);
        assert_eq!(
            next_step(&observed, &desired(), true),
            Step::GrowDisk { to_mib: 20 * 1024 }
        );
        observed.disk_mib = Some(40 * 1024);
        assert_eq!(
            next_step(&observed, &desired(), true),
            Step::Done {
                disk: Some(DiskRefusal::Shrink {
                    have_mib: 40 * 1024,
                    want_mib: 20 * 1024
                })
            }
        );
    }

    #[test]
    fn a_pending_change_restarts_a_running_server_once_nothing_else_is_to_do() {
        let mut observed = matching();
        observed.pending = true;
        assert_eq!(next_step(&observed, &desired(), true), Step::Restart);
        // A suspended server applies it at its stop; a stopped one when it starts.
        assert_eq!(next_step(&observed, &desired(), false), Step::Stop);
        observed.running = false;
        assert_eq!(next_step(&observed, &desired(), true), Step::Start);
        // Another change first: the restart applies both.
        observed.running = true;
        observed.cpu_cores = 1;
        assert!(matches!(
            next_step(&observed, &desired(), true),
            Step::Resize { .. }
        ));
    }

    #[test]
    fn a_resize_waits_for_nothing_but_a_start_waits_for_the_resize() {
        let mut observed = matching();
        observed.running = false;
        observed.cpu_cores = 1;
        assert!(matches!(
            next_step(&observed, &desired(), true),
            Step::Resize { .. }
        ));
    }
}
