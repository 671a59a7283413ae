//! Cross-format escape rules over the normalized [`WorkloadView`]: engine sockets, sensitive host
//! paths, dangerous capabilities one by one, propagation, limits, seccomp, LSMs, devices, sysctls.

use crate::model::{Violation, WorkloadView};

/// Evaluate every cross-format escape rule on a view. Rules that have a Pod Security equivalent
/// are skipped for Kubernetes views (the PSS check reports the same field).
pub fn evaluate(_view: &WorkloadView) -> Vec<Violation> {
    Vec::new()
}
