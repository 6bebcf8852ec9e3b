//! Clients of the panels: ispmanager, VMmanager 5 and the BILLmanager licensing server (the
//! classic "mgr" protocol, [`mgr`]), with VMmanager 6 (REST) alongside.
//!
//! Shared by every client, whatever the protocol:
//! - [`PanelError`]: typed panel errors and transport failures, including
//!   [`PanelError::OutcomeUnknown`] for a non-idempotent call whose answer was lost;
//! - [`Credentials`]: the password is sealed and never printed;
//! - [`Limiter`]: one token bucket and one concurrency limit per processing module;
//! - [`RetryPolicy`]: bounded, jittered exponential backoff for transport failures only;
//! - [`HttpOptions`] / [`http_client`]: timeouts, TLS, no redirects, a size limit on answers;
//! - [`scrub`]: secrets out of error text before it reaches status, events or logs.
//!
//! The typed operations live in one module per product; they return plain structs and leave
//! every decision (what "exists" means, when to look up) to the controller.

pub mod credentials;
pub mod error;
pub mod ispmanager;
pub mod licensing;
pub mod limits;
pub mod mgr;
pub mod retry;
pub mod scrub;
pub mod transport;
pub mod vmmanager5;
pub mod vmmanager6;

pub use credentials::Credentials;
pub use error::{Idempotency, PanelError};
pub use limits::{Limiter, ModuleLimits};
pub use retry::RetryPolicy;
pub use transport::{HttpOptions, http_client};
