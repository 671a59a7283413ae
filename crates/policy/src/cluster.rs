//! Rules across several Kubernetes objects: RBAC, service-account tokens, NetworkPolicies and
//! namespace Pod Security labels.

/// A Kubernetes object used by the cross-object rules (being written).
#[derive(Debug, Clone)]
pub enum ClusterObject {}

/// Evaluate the cross-object rules (being written).
pub fn evaluate(
    _objects: &[(usize, &ClusterObject)],
    _pods: &[(usize, &crate::model::PodWorkload)],
) -> Vec<(usize, crate::model::Violation)> {
    Vec::new()
}
