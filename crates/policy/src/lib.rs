//! Stockade's policy: the rule catalogue, the normalized workload model, and evaluation of
//! workloads to violations. This crate parses no files and touches no kernel: readers (`audit`),
//! the admission webhook, the runtime's policy gate and `watch` hand it typed values.

#![forbid(unsafe_code)]

pub mod catalogue;
pub mod civil;
pub mod cluster;
pub mod dockerfile;
pub mod escape;
pub mod eval;
pub mod image;
pub mod k8s;
pub mod model;
pub mod oci;
pub mod paths;
pub mod pss;

pub use catalogue::{catalogue, id, rule, Format, Level, Moment, Rule, RuleId, Severity};
pub use eval::{evaluate_pod, evaluate_pod_beyond_pss, evaluate_view, Options};
pub use model::{Field, PodWorkload, Violation, WorkloadView};
pub use pss::PssVersion;

/// `a` followed by `b` in a string allocated once at its final size (field paths are built this
/// way on every evaluation; `format!` starts from an empty buffer and grows it).
pub(crate) fn cat(a: &str, b: &str) -> String {
    let mut s = String::with_capacity(a.len() + b.len());
    s.push_str(a);
    s.push_str(b);
    s
}
