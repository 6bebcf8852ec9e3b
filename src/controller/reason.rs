//! Every reason the controller writes into a condition or an event, in one enum.
//!
//! Reasons are an API: `kubectl get` shows them, alerts and GitOps health checks filter on
//! them, and the README's Safety section names them. Kept in one place they cannot drift
//! apart in spelling between the file that writes a reason and the test or tool that reads it,
//! and a newcomer sees every outcome hostplane can report. The text a reason is written as is
//! its variant's name ([`Reason::as_str`]).

use std::fmt;

macro_rules! reasons {
    ($( $(#[doc = $doc:literal])+ $name:ident, )+) => {
        /// A condition's or an event's reason (see the module documentation).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Reason {
            $( $(#[doc = $doc])+ $name, )+
        }

        impl Reason {
            /// Every reason, for documentation and tests.
            pub const ALL: &'static [Reason] = &[$(Reason::$name),+];

            /// The reason as written into conditions and events: the variant's name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$name => stringify!($name),)+
                }
            }
        }
    };
}

reasons! {
    // ----- Ready: usable, and how -----
    /// The service runs, or the module answered as expected.
    Available,
    /// The service is suspended at its panel, as its billing or spec says.
    Suspended,
    /// `managementPolicy: ObserveOnly`: the external resource is reported, never changed.
    Observed,
    /// A processing module's panel accepted its credentials.
    Connected,

    // ----- Progressing: working towards ready, nothing is wrong -----
    /// A server pool is still making or installing the servers its spec asks for.
    Filling,
    /// A service waits for its start date; nothing is created before.
    Scheduled,
    /// A service ran out unpaid and its external resource was removed (seed 002
    /// auto-deletion); nothing more happens to it.
    Terminated,
    /// A panel task runs (VMmanager); the service waits for it.
    TaskRunning,
    /// The module's serialized queue holds another operation (`serializeOperations`).
    Queued,
    /// A virtual server's operating system is being installed.
    Installing,
    /// A virtual server is being reinstalled with another operating system.
    Reinstalling,
    /// A virtual server is starting.
    Starting,
    /// A virtual server is stopping.
    Stopping,
    /// A virtual server is restarting to apply deferred changes.
    Restarting,
    /// A virtual server's disk is being grown.
    Resizing,
    /// The disk grow step runs (stop, grow, start).
    ResizingDisk,
    /// A virtual server is powered on or off to follow the spec.
    PowerChanging,
    /// A virtual server's password is being changed.
    ChangingPassword,
    /// A recipe runs on a new virtual server.
    RunningRecipe,
    /// The license is ordered once the service's server has an IP address.
    WaitingForIp,
    /// A license is bought but has no expiry date yet.
    LicenseProcessing,
    /// A license is bought and its key is being generated.
    LicenseKeyPending,

    // ----- Stalled: only a change of the spec (or a person) fixes it -----
    /// The spec breaks a rule of `hostplane validate`.
    InvalidSpec,
    /// A referenced object (tariff, client, module, Secret) does not exist.
    ReferenceNotFound,
    /// The tariff's order policies refuse the order (client groups, services per client...).
    OrderPolicy,
    /// `spec.tariffRef` moved away from the tariff the service was last reconciled on without
    /// a declared `spec.tariffChanges` entry: re-pricing the whole history is refused.
    UndeclaredTariffChange,
    /// No processing module of the tariff's type can take the service.
    NoModuleAvailable,
    /// The module's type does not serve this product.
    UnsupportedModule,
    /// The licensing module maps the service's period to a license period hostplane does not
    /// order (lifetime).
    UnsupportedLicensePeriod,
    /// Another service claims the same name at the same panel; nothing is written for this one.
    NameConflict,
    /// An account of the service's name exists that hostplane did not create: left alone.
    AccountExists,
    /// A VMmanager host of the service's name exists without the service's marker.
    HostExists,
    /// A license says it is this service's but its form says otherwise.
    LicenseConflict,
    /// `ObserveOnly`, and there is nothing at the panel to observe.
    ExternalNotFound,
    /// The connection Secret is neither new nor this service's, or holds a module's
    /// credentials: it is never written.
    SecretNotOwned,
    /// The VMmanager owner is the panel's administrator: a service is never placed there.
    OwnerIsAdministrator,
    /// The service's module is gone while it still holds an external resource: the finalizer
    /// stays until the module is back or a person lets go.
    ModuleMissing,
    /// No pooled license fits and the service may not buy one (`hostplane.dev/license-purchase:
    /// Forbidden`, e.g. a test order without `--allow-purchase`); looked at again in a while.
    PurchaseNotAllowed,
    /// A disk cannot shrink; the spec asks for a smaller one.
    DiskNotResized,
    /// `hostplane.dev/paused`: nothing is done for the object until the annotation goes.
    ReconcilePaused,
    /// A person disabled the server at the panel (VMmanager 5 `admdown`); hostplane does not
    /// fight it.
    DisabledByPanelAdmin,
    /// A module's Secret lacks the username or password.
    CredentialsMissing,
    /// The panel refused the module's credentials.
    AuthenticationFailed,
    /// Logged in, but the account may not list what the controller manages.
    AccessDenied,

    // ----- Failed: transient, retried with backoff -----
    /// A panel call failed; retried.
    PanelError,
    /// A call to the API server failed; retried.
    KubernetesError,
    /// The module's panel client cannot be made (its Secret, its URL); retried.
    ModuleUnavailable,
    /// The panel cannot be reached.
    Unreachable,
    /// The panel's TLS certificate is refused.
    TlsError,
    /// The panel did not answer in time.
    Timeout,
    /// A create, order or prolongation was sent and its answer lost: looked up before it is
    /// sent again, after the module's quiet period.
    OutcomeUnknown,
    /// A reinstall was sent and its answer lost: looked up before it is sent again.
    ReinstallOutcomeUnknown,
    /// The node counts of pooled licenses (on the `LicensePool`) cannot be read or written.
    NodeRecordsUnavailable,
    /// Taking a pooled license failed; it is put back and another tried.
    PoolTakeFailed,
    /// A license type change failed at the licensing server.
    LicenseTypeChangeFailed,
    /// A VMmanager recipe failed on the server.
    RecipeFailed,
    /// A server pool's deployment failed.
    DeploymentFailed,
    /// Removing the external resource of a deleted service failed; retried.
    DeleteFailed,
    /// Removing the external resource of a terminated service failed; retried.
    TerminateFailed,

    // ----- Synced: whether the last reconcile went through -----
    /// The last reconcile did what it set out to do.
    ReconcileSuccess,
    /// The last reconcile failed; `Ready` and `lastError` say why.
    ReconcileError,

    // ----- Events: what was done -----
    /// The external resource was created.
    Created,
    /// The external resource was deleted.
    Deleted,
    /// The external resource was kept at deletion or termination (`Orphan`, `ObserveOnly`).
    Orphaned,
    /// The service was resumed at its panel.
    Resumed,
    /// The account's plan (template and limits) was changed to follow the tariff.
    PlanChanged,
    /// Something changed at the panel by hand was set back to the spec.
    DriftCorrected,
    /// The DNS zone of the service's domain was created.
    DnsZoneCreated,
    /// A virtual server's disk was grown.
    Resized,
    /// The disk grow step finished.
    DiskResized,
    /// A virtual server restarted and its deferred changes apply.
    Restarted,
    /// A virtual server's password was changed.
    PasswordChanged,
    /// A pooled server was taken for the service.
    TakenFromPool,
    /// Servers were created for a server pool.
    ServersCreated,
    /// A server pool's surplus or aged servers were deleted.
    ServersDeleted,
    /// A license was bought.
    LicenseOrdered,
    /// A license of an earlier order (its answer lost) or carrying the service's `remoteid`
    /// was found and adopted; nothing bought.
    LicenseFound,
    /// A license of the right type already at the IP was assigned to the service.
    LicenseMatched,
    /// A pooled license was taken instead of buying one.
    LicenseTakenFromPool,
    /// A license went to the pool.
    LicensePooled,
    /// A license was prolonged.
    LicenseRenewed,
    /// A license was suspended with its service.
    LicenseSuspended,
    /// A license was resumed with its service.
    LicenseResumed,
    /// A license's type changed to follow the tariff.
    LicenseTypeChanged,
    /// The license recorded for the service is gone or rebound elsewhere.
    LicenseLost,
    /// A pooled license expired and left the pool.
    LicenseExpiredOut,
    /// A license no longer needed was suspended and unbound; its type is not reused, so it is
    /// left to expire rather than pooled.
    LicenseRetired,
    /// A person let go of a service's external resource (the force-release annotation).
    ForceReleased,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for Reason {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_written_as_its_name_in_upper_camel_case_and_once() {
        let mut seen = std::collections::BTreeSet::new();
        for reason in Reason::ALL {
            let text = reason.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(text.starts_with(|c: char| c.is_ascii_uppercase()), "{text}");
            assert!(text.chars().all(|c| c.is_ascii_alphanumeric()), "{text}");
            assert_eq!(format!("{reason}"), text);
        }
    }
}
