//! Orchestration: find the files, read each with its reader, ask `policy` for violations, attach
//! locations and suppressions, and hand the findings to a reporter.

use crate::ignore::IgnoreConfig;
use crate::source::{FileReport, Item, ObjectRef, Subject};
use crate::yaml::YValue;
use policy::catalogue::{Format, Level, Rule, Severity};
use policy::model::Violation;
use std::io::Read;
use std::path::Path;

/// Inputs larger than this are not read (an `SKD-INPUT-004` finding, exit 2); `--max-input-size`.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct AuditOptions {
    pub policy: policy::Options,
    pub ignore: IgnoreConfig,
    pub max_file_size: u64,
    /// Files that are not manifests (Helm chart sources, Ansible, Grafana provisioning, JSON
    /// configuration) are `SKD-INPUT-005` findings instead of counted skips.
    pub strict: bool,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            policy: policy::Options::default(),
            ignore: IgnoreConfig::default(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            strict: false,
        }
    }
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
    /// Unsuppressed findings at or above `severity`.
    pub fn failing(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.suppressed.is_none() && f.severity() >= severity)
            .count()
    }
}

/// An error that stops the audit (as opposed to a finding about bad input).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("stdin is empty: nothing to audit (did the command before the pipe fail?)")]
    EmptyStdin,
}

/// What kind of file this is, from its name and, failing that, its content.
pub fn detect_format(path: &str, text: &str) -> Format {
    let name = Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if name.starts_with("dockerfile")
        || name.starts_with("containerfile")
        || name.ends_with(".dockerfile")
        || name.ends_with(".containerfile")
    {
        return Format::Dockerfile;
    }
    let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
    if yaml && (name.starts_with("compose") || name.starts_with("docker-compose")) {
        return Format::Compose;
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') && text.contains("\"ociVersion\"") {
        return Format::Oci;
    }
    if !yaml && !name.ends_with(".json") && looks_like_dockerfile(text) {
        return Format::Dockerfile;
    }
    let top_level = |key: &str| top_level_key(text, key);
    if top_level("services") && !top_level("apiVersion") && !top_level("kind") {
        return Format::Compose;
    }
    Format::Kubernetes
}

/// Whether a line of `text` starts with `key` followed by optional white space and `:` (as
/// `text.lines().any(..)` would find it, but searching for `key` instead of walking every line).
fn top_level_key(text: &str, key: &str) -> bool {
    let mut from = 0;
    while let Some(i) = text[from..].find(key) {
        let at = from + i;
        let rest = &text[at + key.len()..];
        if (at == 0 || text.as_bytes()[at - 1] == b'\n')
            && rest
                .trim_start_matches(|c: char| c.is_whitespace() && c != '\n')
                .starts_with(':')
        {
            return true;
        }
        from = at + key.len();
    }
    false
}

fn looks_like_dockerfile(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let w = l
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            w == "FROM" || w == "ARG"
        })
        .unwrap_or(false)
}

/// Read one file's text with the reader for its format.
pub fn read_text(path: &str, text: &str) -> FileReport {
    match detect_format(path, text) {
        Format::Kubernetes | Format::Runtime | Format::Image | Format::Host => {
            crate::k8s::read(path, text)
        }
        Format::Compose => crate::compose::read(path, text),
        Format::Dockerfile => crate::dockerfile::read(path, text),
        Format::Oci => crate::oci::read(path, text),
    }
}

/// Whether a file found while walking a directory is one we read.
fn wanted(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    name.ends_with(".yaml")
        || name.ends_with(".yml")
        || name.ends_with(".json")
        || name.starts_with("dockerfile")
        || name.starts_with("containerfile")
        || name.ends_with(".dockerfile")
        || name.ends_with(".containerfile")
}

/// One input of a run: a file (or `-`), and what the walk already knows about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub path: String,
    pub note: Option<InputNote>,
}

/// What the walk found out about a file before reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputNote {
    /// It cannot be read (a dangling symlink): an `SKD-INPUT-004` finding.
    Unreadable(String),
    /// It is not a manifest (a file of a Helm chart): skipped and counted, or `SKD-INPUT-005`
    /// with `--strict`.
    NotManifest(String),
}

/// The inputs of a run.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub files: Vec<Input>,
    /// Symbolic links followed in directory walks.
    pub symlinks: usize,
}

/// Expand the command-line paths: files as given, directories recursively (hidden directories
/// and `target`/`node_modules` skipped), `-` for stdin. Sorted for stable output.
///
/// Symbolic links met in a walk are followed; a directory already walked (a link loop, or two
/// links to one directory) is not walked twice. A link whose target is missing is kept as an
/// unreadable input (a finding, never a silent skip). The files of a Helm chart (a directory
/// holding `Chart.yaml`) are templates, not manifests: they are noted as such.
pub fn collect_inputs(paths: &[String]) -> Result<Inputs, AuditError> {
    let mut w = Walk::default();
    for p in paths {
        if p == "-" {
            w.inputs.files.push(Input {
                path: p.clone(),
                note: None,
            });
            continue;
        }
        let meta = std::fs::metadata(p).map_err(|source| AuditError::Io {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            let before = w.inputs.files.len();
            w.seen.insert(dir_key(&meta));
            w.walk(Path::new(p), None)
                .map_err(|source| AuditError::Io {
                    path: p.clone(),
                    source,
                })?;
            w.inputs.files[before..].sort_by(|a, b| a.path.cmp(&b.path));
        } else {
            w.inputs.files.push(Input {
                path: p.clone(),
                note: None,
            });
        }
    }
    Ok(w.inputs)
}

#[derive(Default)]
struct Walk {
    inputs: Inputs,
    /// Directories walked, by device and inode.
    seen: std::collections::HashSet<(u64, u64)>,
}

fn dir_key(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

/// Whether `dir` is the root of a Helm chart.
fn is_helm_chart(dir: &Path) -> bool {
    dir.join("Chart.yaml").is_file() || dir.join("Chart.yml").is_file()
}

impl Walk {
    fn walk(&mut self, dir: &Path, chart: Option<&Path>) -> std::io::Result<()> {
        let own_chart;
        let chart = match chart {
            Some(c) => Some(c),
            None if is_helm_chart(dir) => {
                own_chart = dir.to_path_buf();
                Some(own_chart.as_path())
            }
            None => None,
        };
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let mut ft = entry.file_type()?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let mut meta = None;
            if ft.is_symlink() {
                match std::fs::metadata(&path) {
                    Ok(m) => {
                        self.inputs.symlinks += 1;
                        ft = m.file_type();
                        meta = Some(m);
                    }
                    Err(e) => {
                        if wanted(&path) {
                            self.inputs.files.push(Input {
                                path: path.to_string_lossy().into_owned(),
                                note: Some(InputNote::Unreadable(format!(
                                    "symbolic link that cannot be followed: {e}"
                                ))),
                            });
                        }
                        continue;
                    }
                }
            }
            if ft.is_dir() {
                if name.starts_with('.') || name == "target" || name == "node_modules" {
                    continue;
                }
                let meta = match meta {
                    Some(m) => m,
                    None => std::fs::metadata(&path)?,
                };
                if !self.seen.insert(dir_key(&meta)) {
                    // Already walked (a loop back to an ancestor, or a second link to it).
                    continue;
                }
                self.walk(&path, chart)?;
            } else if ft.is_file() && wanted(&path) {
                let note = chart.map(|c| {
                    InputNote::NotManifest(format!(
                        "part of the Helm chart {}: render it and audit the output \
                         (`helm template {} | stockade audit -`)",
                        c.display(),
                        c.display()
                    ))
                });
                self.inputs.files.push(Input {
                    path: path.to_string_lossy().into_owned(),
                    note,
                });
            }
        }
        Ok(())
    }
}

/// Load one input: stdin or a file, with the size and text checks. `Ok(Err(reason))` when it
/// cannot be audited (an `SKD-INPUT-004` finding).
fn load(path: &str, max: u64) -> Result<Result<String, String>, AuditError> {
    let io = |source| AuditError::Io {
        path: path.to_string(),
        source,
    };
    let mut bytes = Vec::new();
    if path == "-" {
        std::io::stdin()
            .take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.is_empty() {
            return Err(AuditError::EmptyStdin);
        }
    } else {
        let f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => return Ok(Err(format!("cannot be opened: {e}"))),
        };
        // Sized from the file's length, the buffer takes the whole file in one read (growing
        // from empty costs several reads and copies per file).
        let len = f.metadata().map_or(0, |m| m.len()).min(max + 1);
        bytes.reserve_exact(usize::try_from(len).unwrap_or(0).saturating_add(1));
        if let Err(e) = f.take(max + 1).read_to_end(&mut bytes) {
            return Ok(Err(format!("cannot be read: {e}")));
        }
    }
    if bytes.len() as u64 > max {
        return Ok(Err(format!(
            "larger than --max-input-size ({max} bytes); not audited (raise --max-input-size, \
             or split the input)"
        )));
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Ok(Err(format!(
            "binary input (NUL byte at offset {at}); not audited"
        )));
    }
    match String::from_utf8(bytes) {
        Ok(s) => Ok(Ok(s)),
        Err(e) => Ok(Err(format!(
            "not UTF-8 text (invalid byte at offset {}); not audited (convert it with \
             `iconv -t UTF-8`)",
            e.utf8_error().valid_up_to()
        ))),
    }
}

/// If `text` (already known to be read as a Kubernetes manifest) is recognisably something
/// else, what it is. Conservative: a file with any document that has a `kind`, a string
/// `apiVersion`, `metadata`, `spec`, `template` or `items` at its top level (or a list item that
/// has `kind`) is a manifest and goes to the reader, which reports what it cannot decode.
pub fn not_a_manifest(path: &str, text: &str) -> Option<String> {
    let name = Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if matches!(name.as_str(), "chart.yaml" | "chart.yml" | "chart.lock") {
        return Some(
            "Helm chart metadata: render the chart and audit the output \
             (`helm template CHART | stockade audit -`)"
                .into(),
        );
    }
    // The common case, decided without parsing (JSON keys are quoted and usually indented).
    if top_level_key(text, "kind") || text.contains("\"kind\"") {
        return None;
    }
    let docs = crate::yaml::load(text).ok()?;
    let object_keys = ["kind", "metadata", "spec", "template", "items"];
    let mut keys: Vec<String> = Vec::new();
    let mut list = false;
    for d in &docs {
        let root = d.root.as_ref().ok()?;
        match &root.value {
            YValue::Null => {}
            YValue::Map(entries) => {
                for e in entries {
                    let string_api =
                        e.key == "apiVersion" && matches!(e.value.value, YValue::Str(_));
                    if string_api || object_keys.contains(&e.key.as_str()) {
                        return None;
                    }
                    keys.push(e.key.to_string());
                }
            }
            YValue::Seq(items) => {
                list = true;
                for i in items {
                    if i.get("kind").is_some() || i.get("apiVersion").is_some() {
                        return None;
                    }
                    if let YValue::Map(entries) = &i.value {
                        keys.extend(entries.iter().map(|e| e.key.to_string()));
                    }
                }
            }
            // A bare scalar: let the reader say it is not an object.
            _ => return None,
        }
    }
    if docs
        .iter()
        .all(|d| matches!(d.root, Ok(ref r) if r.is_null()))
    {
        // Empty or comments only: nothing to audit, but nothing that is something else either.
        return None;
    }
    let has = |k: &str| keys.iter().any(|x| x == k);
    let what = if list
        && [
            "hosts",
            "tasks",
            "roles",
            "import_playbook",
            "include_tasks",
            "become",
        ]
        .iter()
        .any(|k| has(k))
    {
        "an Ansible playbook or task list"
    } else if [
        "datasources",
        "deleteDatasources",
        "providers",
        "apps",
        "notifiers",
        "contactPoints",
        "policies",
        "templates",
        "muteTimes",
    ]
    .iter()
    .any(|k| has(k))
        && has("apiVersion")
    {
        "a Grafana provisioning file"
    } else if name.ends_with(".json") {
        "a JSON document with no Kubernetes object (configuration?)"
    } else if list {
        "a YAML list with no Kubernetes object (Ansible tasks?)"
    } else {
        "a YAML document with no Kubernetes object (Helm values or configuration?)"
    };
    Some(format!("{what}: not a manifest"))
}

/// Audit files and directories (and `-` for stdin).
///
/// Files are read and evaluated on every core, one file at a time per worker; each worker keeps
/// only the findings and the small context the cross-object rules need (cluster objects and
/// [`policy::cluster::PodRef`]s), so memory stays flat however many manifests are audited.
pub fn audit_paths(paths: &[String], opts: &AuditOptions) -> Result<AuditReport, AuditError> {
    let inputs = collect_inputs(paths)?;
    let partials = map_parallel(&inputs.files, |input: &Input| audit_one(input, opts))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let mut report = combine(partials, opts);
    report.symlinks = inputs.symlinks;
    Ok(report)
}

/// Evaluate already-read files as one set (cross-object rules see every file).
pub fn evaluate_files(files: &[FileReport], opts: &AuditOptions) -> AuditReport {
    let partials = files.iter().map(|f| partial(f, &opts.policy)).collect();
    combine(partials, opts)
}

/// Where a cross-object finding lands: the item it names.
struct ItemCtx {
    file: std::sync::Arc<str>,
    object: std::sync::Arc<ObjectRef>,
    line: u32,
    lines: crate::source::FieldLines,
    suppressions: Vec<crate::source::Suppression>,
}

/// What one file leaves behind after evaluation.
struct Partial {
    objects: usize,
    findings: Vec<Finding>,
    skipped: Option<Skipped>,
    cluster: Vec<(ItemCtx, policy::cluster::ClusterObject)>,
    pods: Vec<(ItemCtx, policy::cluster::PodRef)>,
}

fn audit_one(input: &Input, opts: &AuditOptions) -> Result<Partial, AuditError> {
    let path = input.path.as_str();
    let empty = |findings, skipped| Partial {
        objects: 0,
        findings,
        skipped,
        cluster: Vec::new(),
        pods: Vec::new(),
    };
    let unreadable =
        |reason: String| empty(vec![file_finding(path, "SKD-INPUT-004", reason)], None);
    let not_manifest = |reason: String| {
        if opts.strict {
            empty(vec![file_finding(path, "SKD-INPUT-005", reason)], None)
        } else {
            empty(
                Vec::new(),
                Some(Skipped {
                    file: path.to_string(),
                    reason,
                }),
            )
        }
    };
    match &input.note {
        Some(InputNote::Unreadable(reason)) => return Ok(unreadable(reason.clone())),
        Some(InputNote::NotManifest(reason)) => return Ok(not_manifest(reason.clone())),
        None => {}
    }
    match load(path, opts.max_file_size)? {
        Ok(text) => {
            if detect_format(path, &text) == Format::Kubernetes {
                if let Some(reason) = not_a_manifest(path, &text) {
                    return Ok(not_manifest(reason));
                }
            }
            Ok(partial(&read_text(path, &text), &opts.policy))
        }
        Err(reason) => Ok(unreadable(reason)),
    }
}

/// A finding about a whole file (no object, no line).
fn file_finding(path: &str, rule_id: &str, message: String) -> Finding {
    Finding {
        rule: policy::rule(rule_id),
        file: path.into(),
        line: None,
        column: None,
        object: None,
        field: String::new(),
        message,
        suppressed: None,
    }
}

/// Evaluate one file's items and problems.
fn partial(f: &FileReport, opts: &policy::Options) -> Partial {
    let file: std::sync::Arc<str> = f.path.as_str().into();
    let mut out = Partial {
        objects: f.items.len(),
        findings: Vec::new(),
        skipped: None,
        cluster: Vec::new(),
        pods: Vec::new(),
    };
    // A reader that gave up on the whole file (a limit) audited nothing in it: never clean.
    if let Some(reason) = &f.skipped {
        out.findings.push(file_finding(
            &f.path,
            "SKD-INPUT-004",
            format!("{reason}; not audited"),
        ));
    }
    for p in &f.problems {
        let rule = policy::rule(p.rule_id);
        if !opts.level.includes(rule.level) && !opts.pss_only {
            continue;
        }
        out.findings.push(Finding {
            rule,
            file: file.clone(),
            line: p.line,
            column: p.column,
            object: p.object.clone().map(std::sync::Arc::new),
            field: p.field.clone(),
            message: p.message.clone(),
            suppressed: None,
        });
    }
    for item in &f.items {
        let object = std::sync::Arc::new(item.object.clone());
        for v in evaluate_item(item, opts) {
            out.findings.push(finding(&file, item, &object, v));
        }
        if opts.pss_only {
            continue;
        }
        let ctx = |lines| ItemCtx {
            file: file.clone(),
            object: object.clone(),
            line: item.line,
            lines,
            suppressions: item.suppressions.clone(),
        };
        match &item.subject {
            Subject::Cluster(c) => out
                .cluster
                .push((ctx(item.lines.detached()), (**c).clone())),
            Subject::Pod(w) => {
                // Keep the positions of only the fields the cross-object rules name on a pod.
                let r = policy::cluster::PodRef::of(w);
                let mut lines = crate::source::FieldLines::default();
                for field in [
                    format!("{}.automountServiceAccountToken", r.spec_path),
                    format!("{}.serviceAccountName", r.spec_path),
                    "metadata.name".to_string(),
                    "metadata.namespace".to_string(),
                ] {
                    if let Some((l, c)) = item.lines.position(&field) {
                        lines.insert(field, l, c);
                    }
                }
                out.pods.push((ctx(lines), r));
            }
            _ => {}
        }
    }
    out.findings.sort_by(finding_order);
    out
}

/// Join the per-file results, run the cross-object rules, apply the ignore file, sort.
fn combine(partials: Vec<Partial>, opts: &AuditOptions) -> AuditReport {
    let mut report = AuditReport {
        files: partials.len(),
        ..AuditReport::default()
    };
    let mut ctxs: Vec<ItemCtx> = Vec::new();
    let mut cluster = Vec::new();
    let mut pods = Vec::new();
    // One allocation of the right size: growing by doubling held up to three times the
    // findings' size at the peak (old and new buffers during a reallocation).
    report
        .findings
        .reserve_exact(partials.iter().map(|p| p.findings.len()).sum());
    for p in partials {
        report.objects += p.objects;
        report.findings.extend(p.findings);
        report.skipped.extend(p.skipped);
        for (ctx, c) in p.cluster {
            cluster.push((ctxs.len(), c));
            ctxs.push(ctx);
        }
        for (ctx, r) in p.pods {
            pods.push((ctxs.len(), r));
            ctxs.push(ctx);
        }
    }
    if !opts.policy.pss_only && !cluster.is_empty() {
        let objects: Vec<(usize, &policy::cluster::ClusterObject)> =
            cluster.iter().map(|(i, c)| (*i, c)).collect();
        for (i, v) in policy::cluster::evaluate_refs(&objects, &pods) {
            if !opts.policy.level.includes(v.rule.level) {
                continue;
            }
            if let Some(ctx) = ctxs.get(i) {
                let pos = ctx.lines.position(&v.field);
                let suppressed = annotation_suppression(&ctx.suppressions, v.rule);
                report.findings.push(Finding {
                    rule: v.rule,
                    file: ctx.file.clone(),
                    line: pos.map(|p| p.0).or(Some(ctx.line)),
                    column: pos.map(|p| p.1),
                    object: Some(ctx.object.clone()),
                    field: v.field,
                    message: v.message,
                    suppressed,
                });
            }
        }
    }
    for fd in &mut report.findings {
        if fd.suppressed.is_none() {
            fd.suppressed = opts.ignore.matches(fd);
        }
    }
    // Each file's findings come sorted from its worker and the files in path order, so the
    // list is usually sorted already; a stable sort (which allocates half the list) only when
    // it is not (cross-object findings, or an input order that differs from string order).
    if !report
        .findings
        .is_sorted_by(|a, b| finding_order(a, b) != std::cmp::Ordering::Greater)
    {
        report.findings.sort_by(finding_order);
    }
    report
}

/// The order of findings in a report: file, line, rule, field.
fn finding_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    // The findings of one file share its name: comparing the pointer first spares a memcmp
    // of the whole path for nearly every pair.
    let file = if std::sync::Arc::ptr_eq(&a.file, &b.file) {
        std::cmp::Ordering::Equal
    } else {
        a.file.cmp(&b.file)
    };
    file.then_with(|| (a.line, &a.rule.id, &a.field).cmp(&(b.line, &b.rule.id, &b.field)))
}

/// Run `f` over every input on as many threads as the machine has cores; results in input order.
fn map_parallel<I: Sync, T: Send>(inputs: &[I], f: impl Fn(&I) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(inputs.len());
    if threads <= 1 {
        return inputs.iter().map(&f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, T)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(path) = inputs.get(i) else { break };
                        mine.push((i, f(path)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(v) => v,
                // A reader panic is a bug; re-raise it rather than lose files silently.
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Violations of one item (not the cross-object ones).
pub fn evaluate_item(item: &Item, opts: &policy::Options) -> Vec<Violation> {
    match &item.subject {
        Subject::Pod(w) => policy::evaluate_pod(w, opts),
        Subject::View(v) => policy::evaluate_view(v, opts),
        Subject::Volume(v) => {
            if opts.pss_only {
                Vec::new()
            } else {
                policy::k8s::evaluate_persistent_volume(v)
                    .into_iter()
                    .filter(|x| opts.level.includes(x.rule.level))
                    .collect()
            }
        }
        Subject::Oci(spec) => policy::oci::evaluate_config(spec, opts),
        Subject::Dockerfile(d) => {
            if opts.pss_only {
                Vec::new()
            } else {
                policy::dockerfile::evaluate(d)
                    .into_iter()
                    .filter(|v| opts.level.includes(v.rule.level))
                    .collect()
            }
        }
        Subject::Cluster(_) | Subject::Other => Vec::new(),
    }
}

fn finding(
    file: &std::sync::Arc<str>,
    item: &Item,
    object: &std::sync::Arc<ObjectRef>,
    v: Violation,
) -> Finding {
    let pos = item.lines.position(&v.field);
    let suppressed = annotation_suppression(&item.suppressions, v.rule);
    Finding {
        rule: v.rule,
        file: file.clone(),
        line: pos.map(|p| p.0).or(Some(item.line)),
        column: pos.map(|p| p.1),
        object: Some(object.clone()),
        field: v.field,
        message: v.message,
        suppressed,
    }
}

fn annotation_suppression(
    suppressions: &[crate::source::Suppression],
    rule: &Rule,
) -> Option<Suppressed> {
    suppressions
        .iter()
        .find(|s| s.rule_ids.iter().any(|id| rule_matches(id, rule)))
        .map(|s| Suppressed {
            source: "annotation",
            reason: s.reason.clone(),
        })
}

/// Whether a suppression's rule reference names this rule (id, slug or upstream PSS id; `*`).
pub fn rule_matches(reference: &str, rule: &Rule) -> bool {
    let r = reference.trim();
    r == "*"
        || r.eq_ignore_ascii_case(&rule.id)
        || r.eq_ignore_ascii_case(&rule.slug)
        || rule.upstream.as_deref() == Some(r)
}

/// The level value for messages.
pub fn level_name(l: Level) -> &'static str {
    l.as_str()
}

#[cfg(test)]
mod tests {
    use super::top_level_key;

    #[test]
    fn top_level_key_agrees_with_a_walk_over_lines() {
        let by_lines = |text: &str, key: &str| {
            text.lines()
                .any(|l| l.starts_with(key) && l[key.len()..].trim_start().starts_with(':'))
        };
        let texts = [
            "",
            "services:",
            "services :\n",
            "services\n:",
            "services\r\n: x",
            "services\r: x",
            "services \t: x",
            " services: x",
            "x: 1\nservices: {}\n",
            "x: services:\nservicesx: 1",
            "a: 1\r\nservices\u{a0}: 2",
            "servicesservices: 1\nservices",
            "kind: Pod\nspec:\n  services: 1\n",
        ];
        for t in texts {
            assert_eq!(
                top_level_key(t, "services"),
                by_lines(t, "services"),
                "{t:?}"
            );
        }
    }
}
