//! Rules across several Kubernetes objects: RBAC, service-account tokens, NetworkPolicies and
//! namespace Pod Security labels.

/// A Kubernetes object used by the cross-object rules (being written).
#[derive(Debug, Clone)]
pub enum ClusterObject {}
