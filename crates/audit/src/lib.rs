//! `stockade audit`: readers that turn Kubernetes manifests, compose files, Dockerfiles and OCI
//! configs into typed workloads with source locations, the orchestration that asks `policy` for
//! violations, and the reporters (text, JSON, SARIF).

#![forbid(unsafe_code)]

pub mod compose;
pub mod compose_env;
pub mod dockerfile;
pub mod fieldpath;
pub mod finding;
pub mod ignore;
pub mod k8s;
pub mod oci;
pub mod report;
pub mod run;
pub mod source;
pub mod yaml;

pub use source::{FieldLines, FileReport, Item, ObjectRef, Problem, Subject, Suppression};
