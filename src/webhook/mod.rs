//! The validating admission webhook (`hostplane webhook`): refuses at `kubectl apply` what
//! `hostplane validate` reports about an object on its own, and a Tariff edit that would break
//! the services already sold on it.
//!
//! Why: without it a bad object is stored and only later shows up as `Stalled`, and a tariff
//! edit merged by a pipeline can strand live accounts. Split by concern: [`review`] (request
//! to answer, pure), [`guard`] (a tariff edit's effect on its services, pure), [`certs`] (the
//! serving certificate, reloaded on rotation), [`listener`] (TLS for axum) and [`server`].

pub mod certs;
pub mod guard;
pub mod listener;
pub mod review;
pub mod server;

pub use server::Server;

#[cfg(test)]
mod guard_tests;
#[cfg(test)]
mod review_tests;
