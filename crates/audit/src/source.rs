//! What a reader produces: the auditable items of one file, each with its location and a map from
//! field paths to lines, plus the problems met while reading.
//!
//! Field paths: keys joined with `.`, list indices as `[i]`; a key that is not a plain identifier
//! (`[A-Za-z_][A-Za-z0-9_]*`) is written `['key']`, e.g.
//! `metadata.annotations['container.apparmor.security.beta.kubernetes.io/app']`.

use policy::catalogue::Format;
use policy::model::{PodWorkload, WorkloadView};

/// Append a key to a field path, quoting it when it is not a plain identifier.
pub fn push_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}['{key}']"),
    }
}

/// Append a list index to a field path.
pub fn push_index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Line (1-based) and column (1-based) of every field of a document.
///
/// Stored compactly (one string holding every path, 16 bytes per field) because every audited
/// object keeps one until its findings are reported; lookups scan small documents and binary
/// search a sorted index (built on first use) in large ones. The first position inserted for a
/// field wins.
#[derive(Debug, Clone, Default)]
pub struct FieldLines {
    paths: String,
    entries: Vec<FieldEntry>,
    sorted: std::sync::OnceLock<Vec<u32>>,
}

#[derive(Debug, Clone, Copy)]
struct FieldEntry {
    start: u32,
    len: u32,
    line: u32,
    column: u32,
}

impl FieldLines {
    /// Documents with at most this many fields are searched linearly.
    const LINEAR: usize = 64;

    pub fn insert(&mut self, field: String, line: u32, column: u32) {
        let (Ok(start), Ok(len)) = (u32::try_from(self.paths.len()), u32::try_from(field.len()))
        else {
            return;
        };
        if start.checked_add(len).is_none() {
            return;
        }
        self.paths.push_str(&field);
        self.entries.push(FieldEntry {
            start,
            len,
            line,
            column,
        });
        self.sorted = std::sync::OnceLock::new();
    }

    fn path(&self, e: &FieldEntry) -> &str {
        &self.paths[e.start as usize..(e.start + e.len) as usize]
    }

    fn get(&self, field: &str) -> Option<(u32, u32)> {
        let found = if self.entries.len() <= Self::LINEAR {
            self.entries.iter().find(|e| self.path(e) == field)
        } else {
            let sorted = self.sorted.get_or_init(|| {
                let mut v: Vec<u32> = (0..self.entries.len() as u32).collect();
                // Stable: among equal paths the first inserted stays first.
                v.sort_by(|&a, &b| {
                    self.path(&self.entries[a as usize])
                        .cmp(self.path(&self.entries[b as usize]))
                });
                v
            });
            let i = sorted.partition_point(|&k| self.path(&self.entries[k as usize]) < field);
            sorted
                .get(i)
                .map(|&k| &self.entries[k as usize])
                .filter(|e| self.path(e) == field)
        };
        found.map(|e| (e.line, e.column))
    }

    /// The position of `field`, or of its nearest ancestor that has one.
    pub fn position(&self, field: &str) -> Option<(u32, u32)> {
        let mut f = field;
        loop {
            if let Some(p) = self.get(f) {
                return Some(p);
            }
            let cut = f.rfind(['.', '[']);
            match cut {
                Some(i) if i > 0 => f = &f[..i],
                _ => return self.get(""),
            }
        }
    }

    /// Release spare capacity once every field is in.
    pub fn shrink_to_fit(&mut self) {
        self.paths.shrink_to_fit();
        self.entries.shrink_to_fit();
    }

    /// Number of fields recorded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The object a finding is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ObjectRef {
    /// `Pod`, `Deployment`, `service` (compose), `Dockerfile`, `config.json`, ...
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

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

/// Something wrong with the input itself. It becomes a finding of an `SKD-INPUT-*` rule: an
/// auditor that cannot read a document never reports it clean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub rule_id: &'static str,
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// The object it concerns, when known.
    pub object: Option<ObjectRef>,
    pub field: String,
    pub message: String,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths() {
        let p = push_key("", "spec");
        let p = push_key(&p, "containers");
        let p = push_index(&p, 0);
        assert_eq!(
            push_key(&p, "securityContext"),
            "spec.containers[0].securityContext"
        );
        assert_eq!(
            push_key("metadata.annotations", "stockade.io/ignore"),
            "metadata.annotations['stockade.io/ignore']"
        );
    }

    #[test]
    fn position_falls_back_to_ancestor() {
        let mut l = FieldLines::default();
        l.insert(String::new(), 1, 1);
        l.insert("spec".into(), 3, 1);
        l.insert("spec.containers[0]".into(), 5, 5);
        assert_eq!(
            l.position("spec.containers[0].securityContext.privileged"),
            Some((5, 5))
        );
        assert_eq!(l.position("spec.volumes[2]"), Some((3, 1)));
        assert_eq!(l.position("metadata"), Some((1, 1)));
    }

    #[test]
    fn large_field_lines_use_the_sorted_index_and_first_insert_wins() {
        let mut l = FieldLines::default();
        l.insert(String::new(), 1, 1);
        for i in 0..500u32 {
            l.insert(format!("items[{i}]"), i + 2, 3);
        }
        l.insert("items[7]".into(), 999, 9);
        assert_eq!(l.position("items[7]"), Some((9, 3)));
        assert_eq!(l.position("items[499].spec"), Some((501, 3)));
        assert_eq!(l.position("other"), Some((1, 1)));
        l.insert("other".into(), 5, 5);
        assert_eq!(l.position("other.x"), Some((5, 5)));
    }
}
