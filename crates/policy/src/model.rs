//! The normalized workload model: the security-relevant view of anything that runs a container,
//! whatever it was declared in. Readers (in `audit`) and the runtime build these; the rule modules
//! evaluate them. Every value carries the field path it came from, so a finding can name the exact
//! field (and the reader can map that field to a line).

use crate::catalogue::{Format, Rule};
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

/// A rule broken by a workload: which rule, which field, and a one-line specific message.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    #[serde(serialize_with = "ser_rule_id")]
    pub rule: &'static Rule,
    /// Field path in the source document's terms, e.g.
    /// `spec.template.spec.containers[0].securityContext.privileged`, `services.web.volumes[1]`,
    /// `linux.namespaces`.
    pub field: String,
    /// What exactly is wrong, e.g. `container "app" must not set securityContext.privileged=true`.
    pub message: String,
}

fn ser_rule_id<S: serde::Serializer>(r: &&'static Rule, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&r.id)
}

impl Violation {
    pub fn new(
        rule_id: impl crate::catalogue::RuleRef,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Violation {
            rule: crate::catalogue::rule(rule_id),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A value and the field path it was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field<T> {
    pub value: T,
    pub field: String,
}

impl<T> Field<T> {
    pub fn new(value: T, field: impl Into<String>) -> Self {
        Field {
            value,
            field: field.into(),
        }
    }
}

/// A Kubernetes object that carries a pod template (or is a Pod), as the API server would hold
/// it after defaulting.
#[derive(Debug, Clone)]
pub struct PodWorkload {
    /// `Pod`, `Deployment`, `CronJob`, ...
    pub kind: String,
    pub api_version: String,
    /// The object's own metadata (name, namespace, annotations used for suppressions).
    pub metadata: ObjectMeta,
    /// The pod template's metadata (for a Pod, the same as `metadata`). PSS reads the AppArmor and
    /// seccomp annotations from here.
    pub pod_metadata: ObjectMeta,
    pub spec: PodSpec,
    /// Field path of `spec` inside the object: `spec`, `spec.template.spec`,
    /// `spec.jobTemplate.spec.template.spec`, `template.spec` (PodTemplate).
    pub spec_path: String,
}

impl PodWorkload {
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }
    pub fn namespace(&self) -> Option<&str> {
        self.metadata.namespace.as_deref()
    }
    /// Whether Kubernetes' Pod Security admission enforces on this kind (only Pods; controllers
    /// get warnings and audit annotations).
    pub fn is_pod(&self) -> bool {
        self.kind == "Pod"
    }
}

/// A kind of Linux namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Namespace {
    Pid,
    Network,
    Ipc,
    Uts,
    Mount,
    User,
    Cgroup,
    Time,
}

impl Namespace {
    pub fn as_str(self) -> &'static str {
        match self {
            Namespace::Pid => "pid",
            Namespace::Network => "network",
            Namespace::Ipc => "ipc",
            Namespace::Uts => "uts",
            Namespace::Mount => "mount",
            Namespace::User => "user",
            Namespace::Cgroup => "cgroup",
            Namespace::Time => "time",
        }
    }
}

/// A host path made visible inside the container (hostPath volume, compose bind, OCI bind mount).
#[derive(Debug, Clone, Serialize)]
pub struct HostMount {
    /// The host path as written.
    pub host_path: String,
    /// Where it appears in the container, when known (`""` when the volume is not mounted).
    pub target: String,
    /// Mounted read-only in every container that mounts it.
    pub read_only: bool,
    /// Propagation as written (`Bidirectional`, `rshared`, ...), if any.
    pub propagation: Option<String>,
    /// A `subPath` / `subPathExpr` is used on it.
    pub sub_path: bool,
    /// Field of the volume or mount that names the host path.
    pub field: String,
    /// Field of the mount's read-only / propagation setting, for findings about those.
    pub mount_field: String,
}

/// What seccomp confinement a container gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Seccomp {
    /// Not specified; the engine's default applies (for Kubernetes: Unconfined unless the kubelet
    /// defaults to RuntimeDefault).
    Unset,
    RuntimeDefault,
    /// A custom profile that denies by default.
    Profile,
    /// Explicitly disabled or a profile that allows (or only logs) by default.
    Unconfined,
}

/// The process identity a container starts with.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UserView {
    /// Numeric uid, when known.
    pub uid: Option<Field<i64>>,
    /// A user name that is not numeric (compose `user: app`), when given.
    pub name: Option<Field<String>>,
    /// Container root is mapped to an unprivileged host uid (user namespace).
    pub userns: bool,
}

/// The security view of one container (or the one process of an OCI config).
#[derive(Debug, Clone, Serialize)]
pub struct ContainerView {
    pub name: String,
    /// Field path of the container, e.g. `spec.containers[0]`, `services.web`, `process`.
    pub field: String,
    /// Field of a `privileged: true`, if set.
    pub privileged: Option<String>,
    /// Capabilities added, as written (case and `CAP_` prefix kept).
    pub cap_add: Vec<Field<String>>,
    /// For OCI configs: the full bounding set (the container's ceiling), as written.
    pub cap_bounding: Option<Vec<Field<String>>>,
    pub user: UserView,
    pub seccomp: Field<Seccomp>,
    /// Fields that disable an LSM (AppArmor unconfined, SELinux disabled or spc_t).
    pub lsm_unconfined: Vec<Field<String>>,
    /// no_new_privs (allowPrivilegeEscalation: false, no-new-privileges, noNewPrivileges).
    pub no_new_privs: Field<Option<bool>>,
    pub read_only_root: Field<Option<bool>>,
    /// Memory limit in bytes, or the field where it would go when unset.
    pub memory_limit: Field<Option<i64>>,
    /// pids limit, when the format has one (`None` value: unset; field: where it would go).
    pub pids_limit: Option<Field<Option<i64>>>,
    /// Working directory.
    pub cwd: Option<Field<String>>,
}

/// The security view of a workload: its containers plus what they share.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadView {
    pub format: Format,
    pub containers: Vec<ContainerView>,
    /// Namespaces shared with the host (or with pid 1) and the field that says so.
    pub host_namespaces: Vec<Field<Namespace>>,
    /// Field that shares one pid namespace between containers (shareProcessNamespace, `pid:
    /// service:x`), if any.
    pub shared_pid_namespace: Option<String>,
    pub host_mounts: Vec<HostMount>,
    /// Host devices exposed by host path (compose `devices`), and device-cgroup rules that
    /// allow every device.
    pub devices: Vec<Field<String>>,
    /// Device nodes created in the container (OCI `linux.devices`), judged by type and number
    /// (the path inside is any name the config chose).
    pub device_nodes: Vec<Field<DeviceNode>>,
    pub device_allow_all: Option<String>,
    pub sysctls: Vec<Field<String>>,
    /// The value of each sysctl, with the field it was read from.
    pub sysctl_values: Vec<Field<String>>,
    /// Mount propagation of the root filesystem (OCI rootfsPropagation).
    pub rootfs_propagation: Option<Field<String>>,
    /// Annotation keys (of a Pod or its template, or of config.json), each with its field.
    pub annotations: Vec<Field<String>>,
}

/// A device node of an OCI config: its path inside, type (`b`, `c`, `u`, `p`) and numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceNode {
    pub path: String,
    pub kind: char,
    pub major: i64,
    pub minor: i64,
}

impl WorkloadView {
    pub fn new(format: Format) -> Self {
        WorkloadView {
            format,
            containers: Vec::new(),
            host_namespaces: Vec::new(),
            shared_pid_namespace: None,
            host_mounts: Vec::new(),
            devices: Vec::new(),
            device_nodes: Vec::new(),
            device_allow_all: None,
            sysctls: Vec::new(),
            sysctl_values: Vec::new(),
            rootfs_propagation: None,
            annotations: Vec::new(),
        }
    }
}
