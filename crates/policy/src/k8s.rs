//! Kubernetes pod specs: the normalized view of a pod (for the cross-format escape rules) and the
//! escape rules that only exist in Kubernetes terms (gitRepo, subPath, shareProcessNamespace, ...).

use crate::catalogue::Format;
use crate::model::{PodWorkload, Violation, WorkloadView};

/// The normalized view of a pod-bearing object.
pub fn pod_view(_w: &PodWorkload) -> WorkloadView {
    WorkloadView::new(Format::Kubernetes)
}

/// Kubernetes-only escape rules on one object.
pub fn evaluate(_w: &PodWorkload) -> Vec<Violation> {
    Vec::new()
}
