//! The two pools of the ISPsystem world, and the license lifecycle around them, as pure
//! decisions (issue 5): no I/O, no clock — `today` is always an argument — so the reconcilers,
//! the simulator-backed tests and these unit tests get the same answer for the same inputs.
//!
//! - [`license_pool`]: paid-but-unused licenses (seeds 000, 001, 003): which pooled license a
//!   new order takes, when pooled licenses leave, the steps of putting a license into the pool
//!   and taking it out (with the put-back on failure), and `fixchilds` matching by IP;
//! - [`renewal`]: when a bound license is prolonged and for which period (monthly, or per the
//!   module's period comparisons), independent of the service's own period; suspension and
//!   resumption following the service;
//! - [`naming`]: the license name `Item #ID addon NAME` (seed 003) and the `remoteid` that ties
//!   a license to the need it was bought for;
//! - [`server_pool`]: pre-created virtual servers (seed 004): size per configuration from
//!   recent sales, ageing out, and which server an order takes.

pub mod license_pool;
pub mod naming;
pub mod renewal;
pub mod server_pool;
