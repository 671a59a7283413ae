//! What a reader produces: the auditable items of one file, each with its location and a map from
//! field paths to lines, plus the problems met while reading.
//!
//! Field paths are written as [`crate::fieldpath`] says.

pub use crate::fieldpath::{push_index, push_key};
pub use crate::finding::{ObjectRef, Problem};
pub use crate::yaml::FieldLines;
use policy::catalogue::Format;
use policy::model::{PodWorkload, WorkloadView};

/// An in-file suppression: `stockade.io/ignore: "ID[,ID]: reason"` on a Kubernetes object, the
/// `x-stockade-ignore` extension on a compose service, or a `# stockade:ignore ID: reason` comment
/// in a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Suppression {
    pub rule_ids: Vec<String>,
    pub reason: String,
}

/// What an item is, for evaluation.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A Kubernetes pod-bearing object.
    Pod(Box<PodWorkload>),
    /// A compose service, already normalized.
    View(Box<WorkloadView>),
    /// An OCI runtime config. Evaluate with `policy::oci::evaluate_config`, which runs the
    /// cross-format rules over `policy::oci::view` and the OCI-only rules (masked paths, sysfs,
    /// hooks) that need the whole spec.
    Oci(Box<oci_spec::runtime::Spec>),
    /// A Dockerfile.
    Dockerfile(Box<policy::dockerfile::Dockerfile>),
    /// A Kubernetes object that matters only across objects (Namespace, NetworkPolicy,
    /// ServiceAccount, Role, ClusterRole, RoleBinding, ClusterRoleBinding).
    Cluster(Box<policy::cluster::ClusterObject>),
    /// A Kubernetes PersistentVolume: its host directory (hostPath, local) as a host mount of
    /// whichever pod claims it.
    Volume(Box<WorkloadView>),
    /// Anything else (a ConfigMap, a Service): read, nothing to check.
    Other,
}

/// One auditable object of a file.
#[derive(Debug, Clone)]
pub struct Item {
    pub object: ObjectRef,
    /// 0-based index of the YAML document in its file (0 for single-document formats).
    pub document: usize,
    /// Line where the object starts.
    pub line: u32,
    pub lines: FieldLines,
    pub suppressions: Vec<Suppression>,
    pub subject: Subject,
}

/// Everything read from one file.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The path as given (`-` for stdin).
    pub path: String,
    pub format: Option<Format>,
    pub items: Vec<Item>,
    pub problems: Vec<Problem>,
    /// Why the file was not read at all (binary, too large), if so.
    pub skipped: Option<String>,
}

impl FileReport {
    pub fn new(path: &str, format: Option<Format>) -> Self {
        FileReport {
            path: path.to_string(),
            format,
            items: Vec::new(),
            problems: Vec::new(),
            skipped: None,
        }
    }
}
