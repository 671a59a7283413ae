//! What an audit reports: findings (a rule broken at one place, in an object of a file), the
//! problems met reading the input (which become findings), and the totals of a run.

use policy::catalogue::{Rule, Severity};

/// The object a finding is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ObjectRef {
    /// `Pod`, `Deployment`, `service` (compose), `Dockerfile`, `config.json`, ...
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Something wrong with the input itself. It becomes a finding of an `SKD-INPUT-*` rule: an
/// auditor that cannot read a document never reports it clean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub rule_id: policy::RuleId,
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// The object it concerns, when known.
    pub object: Option<ObjectRef>,
    pub field: String,
    pub message: String,
}

/// Why a finding is not counted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Suppressed {
    /// `annotation` (in the file) or `config` (the ignore file).
    pub source: &'static str,
    pub reason: String,
}

/// One rule broken at one place.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static Rule,
    /// Shared by every finding of the file.
    pub file: std::sync::Arc<str>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// Shared by every finding of the object.
    pub object: Option<std::sync::Arc<ObjectRef>>,
    pub field: String,
    pub message: String,
    pub suppressed: Option<Suppressed>,
}

impl Finding {
    pub fn severity(&self) -> Severity {
        self.rule.severity
    }
}

/// A file that was recognised as something other than a manifest and not audited, and what it
/// is (with advice: a Helm chart is audited by rendering it).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Skipped {
    pub file: String,
    pub reason: String,
}

/// The result of an audit run.
#[derive(Debug, Clone, Default)]
pub struct AuditReport {
    pub files: usize,
    pub objects: usize,
    pub findings: Vec<Finding>,
    pub skipped: Vec<Skipped>,
    /// Symbolic links followed while walking directories.
    pub symlinks: usize,
}

impl AuditReport {
    /// Everything but the findings, counted from them.
    pub fn totals(&self) -> Totals {
        let mut t = Totals {
            files: self.files,
            objects: self.objects,
            skipped: self.skipped.clone(),
            symlinks: self.symlinks,
            ..Totals::default()
        };
        for f in &self.findings {
            t.count(f);
        }
        t
    }

    /// Unsuppressed findings at or above `severity`.
    pub fn failing(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.suppressed.is_none() && f.severity() >= severity)
            .count()
    }
}

/// Everything about a run but its findings: what a reporter prints around them.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub files: usize,
    pub objects: usize,
    pub skipped: Vec<Skipped>,
    /// Symbolic links followed while walking directories.
    pub symlinks: usize,
    /// Unsuppressed findings by severity ([`Severity::ALL`]'s order).
    pub by_severity: [usize; 5],
    pub suppressed: usize,
    /// Unsuppressed findings that say an input could not be read or decoded
    /// (`SKD-INPUT-001`, `SKD-INPUT-004`): the exit code is then 2.
    pub input_errors: usize,
}

impl Totals {
    /// Unsuppressed findings.
    pub fn findings(&self) -> usize {
        self.by_severity.iter().sum()
    }

    /// Unsuppressed findings of exactly this severity.
    pub fn of(&self, s: Severity) -> usize {
        self.by_severity[s as usize]
    }

    /// Unsuppressed findings at or above `severity`.
    pub fn failing(&self, severity: Severity) -> usize {
        Severity::ALL
            .iter()
            .filter(|s| **s >= severity)
            .map(|s| self.of(*s))
            .sum()
    }

    pub(crate) fn count(&mut self, f: &Finding) {
        if f.suppressed.is_some() {
            self.suppressed += 1;
        } else {
            self.by_severity[f.severity() as usize] += 1;
            if f.rule.id == policy::id::SKD_INPUT_001 || f.rule.id == policy::id::SKD_INPUT_004 {
                self.input_errors += 1;
            }
        }
    }
}
