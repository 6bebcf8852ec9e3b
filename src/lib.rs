//! hostplane: a Kubernetes operator for the provisioning side of a hosting provider.
//!
//! Modules by concern: `api` (the CRD types), `billing` (prices, periods, policies and a
//! service's lifecycle, pure), `pools` (license and server pool decisions, pure), `naming`
//! (username and domain templates), `validation` (offline checks for CI and people), `panel`
//! (the panel clients), `simulator` (the panels' HTTP APIs for tests and the demo), `cli` (the
//! `hostplane` command), `controller` (the reconcilers), `doctor` (read-only panel checks),
//! `test_order` (a tariff's test order, checked at the panel), `testbed` (a real local
//! kube-apiserver for tests and the demo), `webhook` (the validating admission webhook).

pub mod api;
pub mod billing;
pub mod cli;
pub mod controller;
pub mod doctor;
pub mod naming;
pub mod panel;
pub mod plan;
pub mod pools;
pub mod simulator;
pub mod telemetry;
pub mod test_order;
pub mod testbed;
pub mod validation;
pub mod webhook;
