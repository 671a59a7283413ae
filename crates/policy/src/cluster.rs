//! Rules across several Kubernetes objects: RBAC, service-account tokens, NetworkPolicies and
//! namespace Pod Security labels.

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// A Kubernetes object used by the cross-object rules.
#[derive(Debug, Clone)]
pub enum ClusterObject {
    Namespace(Namespace),
    NetworkPolicy(NetworkPolicy),
    ServiceAccount(ServiceAccount),
    Role(Role),
    ClusterRole(ClusterRole),
    RoleBinding(RoleBinding),
    ClusterRoleBinding(ClusterRoleBinding),
}

impl ClusterObject {
    /// The kinds this enum holds.
    pub const KINDS: &'static [&'static str] = &[
        "Namespace",
        "NetworkPolicy",
        "ServiceAccount",
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
    ];

    pub fn kind(&self) -> &'static str {
        match self {
            ClusterObject::Namespace(_) => "Namespace",
            ClusterObject::NetworkPolicy(_) => "NetworkPolicy",
            ClusterObject::ServiceAccount(_) => "ServiceAccount",
            ClusterObject::Role(_) => "Role",
            ClusterObject::ClusterRole(_) => "ClusterRole",
            ClusterObject::RoleBinding(_) => "RoleBinding",
            ClusterObject::ClusterRoleBinding(_) => "ClusterRoleBinding",
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            ClusterObject::Namespace(o) => &o.metadata,
            ClusterObject::NetworkPolicy(o) => &o.metadata,
            ClusterObject::ServiceAccount(o) => &o.metadata,
            ClusterObject::Role(o) => &o.metadata,
            ClusterObject::ClusterRole(o) => &o.metadata,
            ClusterObject::RoleBinding(o) => &o.metadata,
            ClusterObject::ClusterRoleBinding(o) => &o.metadata,
        }
    }
}

/// Evaluate the cross-object rules (being written).
pub fn evaluate(
    _objects: &[(usize, &ClusterObject)],
    _pods: &[(usize, &crate::model::PodWorkload)],
) -> Vec<(usize, crate::model::Violation)> {
    Vec::new()
}
