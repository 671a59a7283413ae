//! `stockade admission`: a Kubernetes validating and mutating admission webhook that applies
//! Stockade's rule catalogue at the moment a workload is declared.
//!
//! Decisions follow Kubernetes' own Pod Security admission (namespace labels, enforce / audit /
//! warn, pods denied and controllers warned, exemptions) and add Stockade's escape rules under the
//! `stockade.io/enforce` namespace label. The modules, from the wire inwards:
//!
//! * [`server`]: HTTPS (rustls, ring), limits and timeouts, routes, graceful shutdown;
//! * [`tls`]: certificate loading, reload without restart, `certs` generation;
//! * [`review`]: one AdmissionReview in, one out;
//! * [`workload`]: the object of a review as a [`policy::PodWorkload`];
//! * [`nspolicy`], [`nslabels`], [`config`]: which policy applies;
//! * [`nsapi`], [`kubeconfig`]: namespace labels listed and watched from the API server;
//! * [`decide`]: the decision from violations (pure);
//! * [`mutate`]: the hardening JSONPatch;
//! * [`metrics`]: Prometheus text.

// Unsafe code only where it is allowed, beside its SAFETY comment: glibc allocator calls
// (server.rs: `mallopt` in tune_allocator, `malloc_trim` in release_memory).
#![deny(unsafe_code)]

pub mod cli;
pub mod config;
pub mod decide;
pub mod kubeconfig;
pub mod metrics;
pub mod mutate;
pub mod nsapi;
pub mod nslabels;
pub mod nspolicy;
pub mod review;
pub mod server;
pub mod tls;
pub mod workload;

pub use cli::{run, AdmissionArgs, Error};
