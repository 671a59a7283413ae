//! Orchestration: find the files, read each with its reader, ask `policy` for violations, attach
//! locations and suppressions, and hand the findings to a reporter.

pub use crate::finding::{AuditReport, Finding, Skipped, Suppressed, Totals};
use crate::ignore::IgnoreConfig;
use crate::source::{FileReport, Item, ObjectRef, Subject};
use crate::yaml::YValue;
use policy::catalogue::{Format, Level, Rule};
use policy::model::Violation;
use std::io::Read;
use std::path::Path;

/// Inputs larger than this are not read past it (an `SKD-INPUT-004` finding, exit 2);
/// `--max-input-size`. Memory does not depend on it: a large input is read as a stream.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 64 * 1024 * 1024 * 1024;

/// The largest single document (and the largest compose file, Dockerfile or OCI config, which
/// are read whole); `--max-document-size`. Memory follows this, not the input's size.
pub const DEFAULT_MAX_DOCUMENT_SIZE: u64 = 256 * 1024 * 1024;

/// Inputs up to this size (or `--max-document-size`, if smaller) are read whole; larger ones are
/// read document by document.
pub const WHOLE_READ_LIMIT: u64 = 8 * 1024 * 1024;

/// A stream is parsed in pieces of whole documents of about this many bytes.
const STREAM_PIECE: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct AuditOptions {
    pub policy: policy::Options,
    pub ignore: IgnoreConfig,
    pub max_file_size: u64,
    /// Largest single document; see [`DEFAULT_MAX_DOCUMENT_SIZE`].
    pub max_document_size: u64,
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
            max_document_size: DEFAULT_MAX_DOCUMENT_SIZE,
            strict: false,
        }
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
    #[error("writing the report: {0}")]
    Write(#[source] std::io::Error),
}

/// What a reporter is handed while the audit runs: findings in batches (one file, or one piece
/// of a long stream, sorted by line), as soon as they are made, so that a reporter that writes
/// them out keeps memory flat however many there are. Cross-object findings come last, in one
/// batch.
pub trait Sink {
    fn findings(&mut self, batch: &[Finding]) -> std::io::Result<()>;

    /// The same, handed over: a sink that keeps findings moves them instead of copying.
    fn take(&mut self, batch: Vec<Finding>) -> std::io::Result<()> {
        self.findings(&batch)
    }
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
    if (top_level("services") || top_level("include"))
        && !top_level("apiVersion")
        && !top_level("kind")
    {
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

/// Load one small input (a file that the walk found): the size and text checks.
/// `Err(reason)` when it cannot be audited (an `SKD-INPUT-004` finding).
/// Read a file whole into `buf` (the reading worker's own, kept from file to file so that each
/// file does not allocate, fault in and free a buffer of its own), unless it is longer than
/// `whole` bytes (`Ok(None)`: it is read as a stream instead).
fn load<'b>(
    path: &str,
    max: u64,
    whole: u64,
    buf: &'b mut Vec<u8>,
) -> Result<Option<&'b str>, String> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return Err(format!("cannot be opened: {e}")),
    };
    let len = f.metadata().map_or(0, |m| m.len());
    if len > whole {
        return Ok(None);
    }
    // Sized from the file's length, the buffer takes the whole file in one read (growing
    // from empty costs several reads and copies per file).
    let len = len.min(max + 1);
    buf.clear();
    buf.reserve(usize::try_from(len).unwrap_or(0).saturating_add(1));
    if let Err(e) = f.take(max + 1).read_to_end(buf) {
        return Err(format!("cannot be read: {e}"));
    }
    check_bytes(buf, max).map(Some)
}

/// A reading worker's buffer is kept up to this capacity; one grown past it by a large file is
/// freed after that file, so that a few large files do not pin memory for the rest of the run.
const KEPT_READ_BUFFER: usize = 1024 * 1024;

/// An input read whole: within `--max-input-size`, no NUL byte, UTF-8.
fn check_bytes(bytes: &[u8], max: u64) -> Result<&str, String> {
    if bytes.len() as u64 > max {
        return Err(format!(
            "larger than --max-input-size ({max} bytes); not audited (raise --max-input-size, \
             or split the input)"
        ));
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(format!(
            "binary input (NUL byte at offset {at}); not audited"
        ));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (invalid byte at offset {}); not audited (convert it with \
             `iconv -t UTF-8`)",
            e.valid_up_to()
        )
    })
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

/// Audit files and directories (and `-` for stdin), keeping every finding, sorted by file and
/// line (cross-object findings in their place). [`audit_paths_to`] hands them to a reporter
/// instead, as they are made.
pub fn audit_paths(paths: &[String], opts: &AuditOptions) -> Result<AuditReport, AuditError> {
    let mut findings = Collect::default();
    let totals = audit_paths_to(paths, opts, &mut findings)?;
    Ok(findings.into_report(totals))
}

/// A [`Sink`] that keeps every finding.
#[derive(Debug, Default)]
pub struct Collect(pub Vec<Finding>);

impl Sink for Collect {
    fn findings(&mut self, batch: &[Finding]) -> std::io::Result<()> {
        self.0.extend_from_slice(batch);
        Ok(())
    }

    fn take(&mut self, mut batch: Vec<Finding>) -> std::io::Result<()> {
        self.0.append(&mut batch);
        Ok(())
    }
}

impl Collect {
    /// The report of a run, findings sorted by file and line.
    pub fn into_report(self, totals: Totals) -> AuditReport {
        let mut findings = self.0;
        if !findings.is_sorted_by(|a, b| finding_order(a, b) != std::cmp::Ordering::Greater) {
            findings.sort_by(finding_order);
        }
        AuditReport {
            files: totals.files,
            objects: totals.objects,
            findings,
            skipped: totals.skipped,
            symlinks: totals.symlinks,
        }
    }
}

/// A [`Sink`] in front of another that keeps the report in file and line order, cross-object
/// findings in their place, as long as the run has at most [`Ordered::HELD`] findings: they are
/// held, sorted and handed on at the end. Past that many, the held ones are handed on and the
/// rest pass straight through (cross-object findings then come last), so that memory stays
/// flat.
pub struct Ordered<'s> {
    inner: &'s mut dyn Sink,
    /// The batches held, as they came (each file's findings are one batch, already sorted):
    /// kept apart rather than appended to one growing list, which copied every finding held
    /// each time the list doubled.
    held: Vec<Vec<Finding>>,
    /// How many findings `held` has.
    count: usize,
    through: bool,
}

impl<'s> Ordered<'s> {
    pub const HELD: usize = 50_000;

    pub fn new(inner: &'s mut dyn Sink) -> Self {
        Ordered {
            inner,
            held: Vec::new(),
            count: 0,
            through: false,
        }
    }

    /// Hand on what is held.
    pub fn finish(self) -> std::io::Result<()> {
        let in_order = self
            .held
            .iter()
            .flatten()
            .is_sorted_by(|a, b| finding_order(a, b) != std::cmp::Ordering::Greater);
        if in_order {
            for batch in self.held {
                self.inner.take(batch)?;
            }
            return Ok(());
        }
        let mut all = Vec::with_capacity(self.count);
        for batch in self.held {
            all.extend(batch);
        }
        all.sort_by(finding_order);
        self.inner.take(all)
    }
}

impl Sink for Ordered<'_> {
    fn findings(&mut self, batch: &[Finding]) -> std::io::Result<()> {
        if self.through {
            return self.inner.findings(batch);
        }
        self.take(batch.to_vec())
    }

    fn take(&mut self, batch: Vec<Finding>) -> std::io::Result<()> {
        if self.through {
            return self.inner.take(batch);
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.count += batch.len();
        self.held.push(batch);
        if self.count > Self::HELD {
            self.through = true;
            for batch in std::mem::take(&mut self.held) {
                self.inner.take(batch)?;
            }
        }
        Ok(())
    }
}

/// Inputs read and evaluated ahead of the one being handed on, at most: each holds one file's
/// findings and cross-object context until its turn, so this bounds memory.
const AHEAD: usize = 64;

/// Audit files and directories (and `-` for stdin), handing the findings to `sink` as they are
/// made: each file's in one batch, sorted by line, in input order; a large input (stdin, or a
/// file over [`WHOLE_READ_LIMIT`]) in pieces as its documents are read; the cross-object
/// findings last.
///
/// Small files are read and evaluated on every core, at most [`AHEAD`] files ahead of the one
/// being handed on (on this thread, while the workers go on); what stays behind for the whole
/// run is the small context the cross-object rules need (cluster objects and
/// [`policy::cluster::PodRef`]s), so memory does not follow the findings or the input.
pub fn audit_paths_to(
    paths: &[String],
    opts: &AuditOptions,
    sink: &mut dyn Sink,
) -> Result<Totals, AuditError> {
    let inputs = collect_inputs(paths)?;
    let mut run = Run::new(opts, sink);
    run.totals.files = inputs.files.len();
    run.totals.symlinks = inputs.symlinks;
    let whole = opts.max_document_size.min(WHOLE_READ_LIMIT);
    let files = &inputs.files;
    for_each_parallel(
        files,
        AHEAD,
        Vec::new,
        |buf: &mut Vec<u8>, input: &Input| audit_one(input, opts, whole, buf),
        |i, p| match p {
            Some(p) => run.emit(p),
            None => audit_stream(&files[i].path, &mut run),
        },
    )?;
    run.cross_object()?;
    Ok(run.totals)
}

/// Evaluate already-read files as one set (cross-object rules see every file).
pub fn evaluate_files(files: &[FileReport], opts: &AuditOptions) -> AuditReport {
    let mut findings = Collect::default();
    let mut run = Run::new(opts, &mut findings);
    run.totals.files = files.len();
    for f in files {
        // Collecting cannot fail.
        let _ = run.emit(partial(f, &opts.policy));
    }
    let _ = run.cross_object();
    let totals = std::mem::take(&mut run.totals);
    findings.into_report(totals)
}

/// Where a cross-object finding lands: the item it names.
struct ItemCtx {
    file: std::sync::Arc<str>,
    object: std::sync::Arc<ObjectRef>,
    line: u32,
    lines: crate::source::FieldLines,
    suppressions: Vec<crate::source::Suppression>,
}

/// What one file (or one piece of a stream) leaves behind after evaluation.
struct Partial {
    objects: usize,
    findings: Vec<Finding>,
    skipped: Option<Skipped>,
    cluster: Vec<(ItemCtx, policy::cluster::ClusterObject)>,
    pods: Vec<(ItemCtx, policy::cluster::PodRef)>,
}

impl Partial {
    fn empty() -> Partial {
        Partial {
            objects: 0,
            findings: Vec::new(),
            skipped: None,
            cluster: Vec::new(),
            pods: Vec::new(),
        }
    }

    fn finding(f: Finding) -> Partial {
        Partial {
            findings: vec![f],
            ..Partial::empty()
        }
    }
}

/// One run: the totals, the cross-object context, and where findings go.
struct Run<'a> {
    opts: &'a AuditOptions,
    sink: &'a mut dyn Sink,
    totals: Totals,
    ctxs: Vec<ItemCtx>,
    cluster: Vec<(usize, policy::cluster::ClusterObject)>,
    pods: PodStore,
}

impl<'a> Run<'a> {
    fn new(opts: &'a AuditOptions, sink: &'a mut dyn Sink) -> Run<'a> {
        Run {
            opts,
            sink,
            totals: Totals::default(),
            ctxs: Vec::new(),
            cluster: Vec::new(),
            pods: PodStore::default(),
        }
    }

    /// Count a partial's findings, apply the ignore file, hand them on, and keep its
    /// cross-object context.
    fn emit(&mut self, p: Partial) -> Result<(), AuditError> {
        self.totals.objects += p.objects;
        self.totals.skipped.extend(p.skipped);
        for (ctx, c) in p.cluster {
            self.cluster.push((self.ctxs.len(), c));
            self.ctxs.push(ctx);
        }
        for (ctx, r) in p.pods {
            self.pods.push(ctx, r).map_err(spool_error)?;
        }
        self.hand_on(p.findings)
    }

    fn hand_on(&mut self, mut findings: Vec<Finding>) -> Result<(), AuditError> {
        for fd in findings.iter_mut() {
            if fd.suppressed.is_none() {
                fd.suppressed = self.opts.ignore.matches(fd);
            }
            self.totals.count(fd);
        }
        if findings.is_empty() {
            return Ok(());
        }
        self.sink.take(findings).map_err(AuditError::Write)
    }

    /// The rules across objects, over every file of the run.
    fn cross_object(&mut self) -> Result<(), AuditError> {
        let opts = self.opts;
        if opts.policy.pss_only || self.cluster.is_empty() {
            return Ok(());
        }
        let cluster = std::mem::take(&mut self.cluster);
        let objects: Vec<(usize, &policy::cluster::ClusterObject)> =
            cluster.iter().map(|(i, c)| (*i, c)).collect();
        let ix = policy::cluster::ClusterIndex::new(&objects);
        let level = opts.policy.level;
        let mut out = Vec::new();
        for (i, v) in ix.object_violations() {
            if let (true, Some(ctx)) = (level.includes(v.rule.level), self.ctxs.get(i)) {
                out.push(cross_finding(ctx, v));
            }
        }
        // The pods come back from the store one at a time; their findings are handed on in
        // batches so that a long stream's stay bounded too.
        let pods = std::mem::take(&mut self.pods);
        let mut failed = None;
        pods.for_each(|ctx, r| {
            for (_, v) in ix.pod_violations(0, &r) {
                if level.includes(v.rule.level) {
                    out.push(cross_finding(&ctx, v));
                }
            }
            if out.len() >= 4096 && failed.is_none() {
                out.sort_by(finding_order);
                if let Err(e) = self.hand_on(std::mem::take(&mut out)) {
                    failed = Some(e);
                }
                out.clear();
            }
        })
        .map_err(spool_error)?;
        if let Some(e) = failed {
            return Err(e);
        }
        out.sort_by(finding_order);
        self.hand_on(out)
    }
}

fn cross_finding(ctx: &ItemCtx, v: Violation) -> Finding {
    let pos = ctx.lines.position(&v.field);
    let suppressed = annotation_suppression(&ctx.suppressions, v.rule);
    Finding {
        rule: v.rule,
        file: ctx.file.clone(),
        line: pos.map(|p| p.0).or(Some(ctx.line)),
        column: pos.map(|p| p.1),
        object: Some(ctx.object.clone()),
        field: v.field,
        message: v.message,
        suppressed,
    }
}

fn spool_error(source: std::io::Error) -> AuditError {
    AuditError::Io {
        path: format!("a temporary file in {}", std::env::temp_dir().display()),
        source,
    }
}

/// The pod-bearing objects of a run, kept for the cross-object rules: in memory up to
/// [`PodStore::IN_MEMORY`], then written to an unlinked temporary file (a few dozen bytes each),
/// so that a stream of millions of pods keeps memory flat.
#[derive(Default)]
struct PodStore {
    memory: Vec<(ItemCtx, policy::cluster::PodRef)>,
    spill: Option<std::io::BufWriter<std::fs::File>>,
    /// The files named by spilled pods (their index is written).
    files: Vec<std::sync::Arc<str>>,
}

impl PodStore {
    const IN_MEMORY: usize = 20_000;

    fn push(&mut self, ctx: ItemCtx, r: policy::cluster::PodRef) -> std::io::Result<()> {
        if self.spill.is_none() && self.memory.len() < Self::IN_MEMORY {
            if self.memory.capacity() == 0 {
                // Room for all at once (pages are touched only as it fills): growing it by
                // doubling copied every pod kept each time.
                self.memory.reserve_exact(Self::IN_MEMORY);
            }
            self.memory.push((ctx, r));
            return Ok(());
        }
        let w = match &mut self.spill {
            Some(w) => w,
            None => self
                .spill
                .insert(std::io::BufWriter::new(crate::report::temp_file()?)),
        };
        // Each document of a stream names its file with a new `Arc`: compare the names too, or
        // this index grows by one entry per spilled pod (the growth of a 1 GB stream's memory).
        if !self
            .files
            .last()
            .is_some_and(|f| std::sync::Arc::ptr_eq(f, &ctx.file) || **f == *ctx.file)
        {
            self.files.push(ctx.file.clone());
        }
        let mut b = Vec::with_capacity(256);
        put_u32(&mut b, (self.files.len() - 1) as u32);
        put_str(&mut b, &ctx.object.kind);
        put_str(&mut b, &ctx.object.name);
        put_opt(&mut b, ctx.object.namespace.as_deref());
        put_u32(&mut b, ctx.line);
        let fields = r.fields();
        for f in &fields {
            let (l, c) = ctx.lines.position(f).unwrap_or((0, 0));
            put_u32(&mut b, l);
            put_u32(&mut b, c);
        }
        put_u32(&mut b, ctx.suppressions.len() as u32);
        for sp in &ctx.suppressions {
            put_u32(&mut b, sp.rule_ids.len() as u32);
            for id in &sp.rule_ids {
                put_str(&mut b, id);
            }
            put_str(&mut b, &sp.reason);
        }
        put_str(&mut b, &r.kind);
        put_str(&mut b, &r.name);
        put_opt(&mut b, r.namespace.as_deref());
        put_opt(&mut b, r.service_account.as_deref());
        b.push(match r.automount_token {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
        put_str(&mut b, &r.spec_path);
        put_u32(&mut b, r.labels.len() as u32);
        for (k, v) in &r.labels {
            put_str(&mut b, k);
            put_str(&mut b, v);
        }
        use std::io::Write;
        w.write_all(&(b.len() as u32).to_le_bytes())?;
        w.write_all(&b)
    }

    /// Every pod, in the order they were stored.
    fn for_each(self, mut f: impl FnMut(ItemCtx, policy::cluster::PodRef)) -> std::io::Result<()> {
        use std::io::{Read, Seek};
        for (ctx, r) in self.memory {
            f(ctx, r);
        }
        let Some(w) = self.spill else {
            return Ok(());
        };
        let mut file = w.into_inner().map_err(|e| e.into_error())?;
        file.seek(std::io::SeekFrom::Start(0))?;
        let mut rd = std::io::BufReader::new(file);
        let mut len = [0u8; 4];
        let mut b = Vec::new();
        loop {
            match rd.read_exact(&mut len) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
            b.resize(u32::from_le_bytes(len) as usize, 0);
            rd.read_exact(&mut b)?;
            let bad = || std::io::Error::other("the pod store is damaged");
            let mut c = Cursor(&b);
            let file = self.files.get(c.u32()? as usize).ok_or_else(bad)?.clone();
            let object = ObjectRef {
                kind: c.string()?,
                name: c.string()?,
                namespace: c.opt()?,
            };
            let line = c.u32()?;
            let mut positions = [(0, 0); 4];
            for p in &mut positions {
                *p = (c.u32()?, c.u32()?);
            }
            let mut suppressions = Vec::new();
            for _ in 0..c.u32()? {
                let mut rule_ids = Vec::new();
                for _ in 0..c.u32()? {
                    rule_ids.push(c.string()?);
                }
                suppressions.push(crate::source::Suppression {
                    rule_ids,
                    reason: c.string()?,
                });
            }
            let mut r = policy::cluster::PodRef {
                kind: c.string()?,
                name: c.string()?,
                namespace: c.opt()?,
                service_account: c.opt()?,
                automount_token: match c.byte()? {
                    0 => None,
                    1 => Some(false),
                    _ => Some(true),
                },
                spec_path: c.string()?,
                labels: Default::default(),
            };
            for _ in 0..c.u32()? {
                let k = c.string()?;
                r.labels.insert(k, c.string()?);
            }
            let mut lines = crate::source::FieldLines::default();
            for (field, (l, col)) in r.fields().into_iter().zip(positions) {
                if l > 0 {
                    lines.insert(field, l, col);
                }
            }
            let ctx = ItemCtx {
                file,
                object: std::sync::Arc::new(object),
                line,
                lines,
                suppressions,
            };
            f(ctx, r);
        }
    }
}

fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    put_u32(b, s.len() as u32);
    b.extend_from_slice(s.as_bytes());
}

fn put_opt(b: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => b.push(0),
        Some(s) => {
            b.push(1);
            put_str(b, s);
        }
    }
}

/// Reading back what `put_*` wrote.
struct Cursor<'b>(&'b [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> std::io::Result<&[u8]> {
        if self.0.len() < n {
            return Err(std::io::Error::other("the pod store is damaged"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn byte(&mut self) -> std::io::Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> std::io::Result<u32> {
        let mut w = [0u8; 4];
        w.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(w))
    }
    fn string(&mut self) -> std::io::Result<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(std::io::Error::other)
    }
    fn opt(&mut self) -> std::io::Result<Option<String>> {
        match self.byte()? {
            0 => Ok(None),
            _ => self.string().map(Some),
        }
    }
}

/// Read and audit one input whole; `None` if it is to be read as a stream instead (stdin; a
/// file longer than `whole` bytes). `buf` is the reading worker's buffer.
fn audit_one(input: &Input, opts: &AuditOptions, whole: u64, buf: &mut Vec<u8>) -> Option<Partial> {
    let path = input.path.as_str();
    match &input.note {
        Some(InputNote::Unreadable(reason)) => return Some(unreadable(path, reason.clone())),
        Some(InputNote::NotManifest(reason)) => {
            return Some(not_manifest(path, reason.clone(), opts))
        }
        None => {}
    }
    if path == "-" {
        return None;
    }
    let partial = match load(path, opts.max_file_size, whole, buf) {
        Ok(Some(text)) => Some(audit_text(path, text, opts)),
        Ok(None) => None,
        Err(reason) => Some(unreadable(path, reason)),
    };
    if buf.capacity() > KEPT_READ_BUFFER {
        *buf = Vec::new();
    }
    partial
}

fn unreadable(path: &str, reason: String) -> Partial {
    Partial::finding(file_finding(path, policy::id::SKD_INPUT_004, reason))
}

fn not_manifest(path: &str, reason: String, opts: &AuditOptions) -> Partial {
    if opts.strict {
        Partial::finding(file_finding(path, policy::id::SKD_INPUT_005, reason))
    } else {
        Partial {
            skipped: Some(Skipped {
                file: path.to_string(),
                reason,
            }),
            ..Partial::empty()
        }
    }
}

/// Audit one input read whole.
fn audit_text(path: &str, text: &str, opts: &AuditOptions) -> Partial {
    match detect_format(path, text) {
        Format::Kubernetes => {}
        Format::Compose => {
            // The file and those it includes, each under its own name.
            let mut acc = Partial::empty();
            for r in crate::compose::read_project(path, text, opts.max_document_size) {
                let p = partial(&r, &opts.policy);
                acc.objects += p.objects;
                acc.findings.extend(p.findings);
            }
            return acc;
        }
        _ => return partial(&read_text(path, text), &opts.policy),
    }
    if let Some(reason) = not_a_manifest(path, text) {
        return not_manifest(path, reason, opts);
    }
    // Document by document: each one's tree and typed objects are dropped once it is
    // evaluated, so memory follows the largest document, not the input.
    let mut acc = Partial::empty();
    let refused = crate::k8s::read_each(path, text, |part| acc.absorb(&part, &opts.policy));
    if let Some(reason) = refused {
        acc.findings.push(file_finding(
            path,
            policy::id::SKD_INPUT_004,
            format!("{reason}; not audited"),
        ));
    }
    acc.findings.sort_by(finding_order);
    acc
}

impl Partial {
    /// Evaluate one document's items and problems into this partial.
    fn absorb(&mut self, part: &FileReport, opts: &policy::Options) {
        let p = partial(part, opts);
        self.objects += p.objects;
        self.findings.extend(p.findings);
        self.cluster.extend(p.cluster);
        self.pods.extend(p.pods);
    }
}

/// Read and audit one large input (stdin, or a file over the whole-read size): read whole if it
/// turns out small (stdin), or if it is a compose file, Dockerfile or OCI config (one document
/// each, up to `--max-document-size`); otherwise as a stream of Kubernetes documents.
fn audit_stream(path: &str, run: &mut Run<'_>) -> Result<(), AuditError> {
    let opts = run.opts;
    let whole = opts.max_document_size.min(WHOLE_READ_LIMIT);
    let mut reader: Box<dyn Read> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(path) {
            Ok(f) => Box::new(f),
            Err(e) => return run.emit(unreadable(path, format!("cannot be opened: {e}"))),
        }
    };
    let mut head = Vec::new();
    if let Err(e) = (&mut reader).take(whole + 1).read_to_end(&mut head) {
        if path == "-" {
            return Err(AuditError::Io {
                path: path.to_string(),
                source: e,
            });
        }
        return run.emit(unreadable(path, format!("cannot be read: {e}")));
    }
    if head.is_empty() && path == "-" {
        return Err(AuditError::EmptyStdin);
    }
    let checked = |bytes: Vec<u8>| match check_bytes(&bytes, opts.max_file_size) {
        Ok(text) => audit_text(path, text, opts),
        Err(reason) => unreadable(path, reason),
    };
    if head.len() as u64 <= whole {
        return run.emit(checked(head));
    }
    let format = detect_format(path, &String::from_utf8_lossy(&head));
    if format != Format::Kubernetes {
        let room = opts.max_document_size.saturating_add(1) - head.len() as u64;
        if let Err(e) = (&mut reader).take(room).read_to_end(&mut head) {
            return run.emit(unreadable(path, format!("cannot be read: {e}")));
        }
        if head.len() as u64 > opts.max_document_size {
            return run.emit(unreadable(
                path,
                format!(
                    "a {} is read whole, and this one is larger than --max-document-size ({} \
                     bytes); not audited (raise --max-document-size)",
                    match format {
                        Format::Compose => "compose file",
                        Format::Dockerfile => "Dockerfile",
                        _ => "OCI config",
                    },
                    opts.max_document_size
                ),
            ));
        }
        return run.emit(checked(head));
    }
    stream_documents(
        path,
        HeadThen {
            head,
            at: 0,
            rest: reader,
        },
        run,
    )
}

/// The bytes already read (up to the whole-read size), then the rest of the input. The first
/// part is freed as soon as it has been read, rather than kept for the whole stream.
struct HeadThen<R> {
    head: Vec<u8>,
    at: usize,
    rest: R,
}

impl<R: Read> Read for HeadThen<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at < self.head.len() {
            let n = (self.head.len() - self.at).min(buf.len());
            buf[..n].copy_from_slice(&self.head[self.at..self.at + n]);
            self.at += n;
            if self.at == self.head.len() {
                self.head = Vec::new();
                self.at = 0;
            }
            return Ok(n);
        }
        self.rest.read(buf)
    }
}

/// Read a stream of Kubernetes documents with a bounded buffer: documents are gathered into
/// pieces of about [`STREAM_PIECE`] bytes (cut only at `---` lines), and each piece is parsed,
/// evaluated and handed on before the next is read. Fail closed, document by document: a
/// document with a NUL byte, bytes that are not UTF-8, or more than `--max-document-size` bytes
/// is an `SKD-INPUT-004` finding at its first line and is not read, and the documents around it
/// are; a read error, or more than `--max-input-size` bytes, ends the stream with a finding
/// naming the line from which nothing was audited.
fn stream_documents(path: &str, reader: impl Read, run: &mut Run<'_>) -> Result<(), AuditError> {
    use std::io::BufRead;
    let opts = run.opts;
    let max_doc = usize::try_from(opts.max_document_size).unwrap_or(usize::MAX);
    // A List's items are handed on in pieces of about this size, so that a piece (with the
    // entry that ends it) stays within the document limit.
    let list_piece = STREAM_PIECE.min(max_doc / 2).max(1);
    let mut r = std::io::BufReader::with_capacity(64 * 1024, reader);
    let mut stream = Stream {
        path,
        limits: crate::yaml::Limits {
            max_bytes: usize::MAX,
            max_documents: usize::MAX,
            ..crate::yaml::Limits::default()
        },
        state: None,
        piece: String::new(),
        piece_line: 1,
    };
    stream.state = Some(crate::yaml::StreamState::new(&stream.limits));
    // Offset in `piece` and line of the document being read.
    let mut doc_start = 0usize;
    let mut doc_line = 1u32;
    // Directive lines (`%YAML`) just read, which go with the document their `---` starts.
    let mut directive: Option<(usize, u32)> = None;
    // Why the document being read is not audited (its lines are then dropped as they come).
    let mut bad: Option<String> = None;
    let mut line: Vec<u8> = Vec::new();
    let mut line_no = 0u32;
    let mut total = 0u64;
    // Whether the document being read is a List whose items can be read a few at a time, and,
    // once it is read so, its header.
    let mut scan = ListScan::Header(ListHead::default());
    let mut list: Option<ListRead> = None;
    let doc_finding = |line: u32, message: String| Finding {
        line: Some(line),
        ..file_finding(path, policy::id::SKD_INPUT_004, message)
    };
    loop {
        line.clear();
        let n = match r.read_until(b'\n', &mut line) {
            Ok(n) => n,
            Err(e) => {
                stream.piece.truncate(doc_start);
                stream.flush(run)?;
                let message = format!(
                    "cannot be read past line {line_no}: {e}; the input from line {doc_line} \
                     on is not audited"
                );
                return run.emit(Partial::finding(doc_finding(doc_line, message)));
            }
        };
        if n == 0 {
            break;
        }
        line_no = line_no.saturating_add(1);
        total += n as u64;
        if total > opts.max_file_size {
            stream.piece.truncate(doc_start);
            stream.flush(run)?;
            let message = format!(
                "larger than --max-input-size ({} bytes) at line {line_no}: the input from line \
                 {doc_line} on is not audited (raise --max-input-size)",
                opts.max_file_size
            );
            return run.emit(Partial::finding(doc_finding(doc_line, message)));
        }
        if crate::yaml::is_document_start(&line) {
            if let Some(l) = list.take() {
                // The List's top level ends here (or at its successor's directives).
                let (cut, cut_line) = directive.take().unwrap_or((stream.piece.len(), line_no));
                let rest = stream.piece.split_off(cut);
                stream.finish_list(run, l)?;
                stream.piece = rest;
                stream.piece_line = cut_line;
                directive = (!stream.piece.is_empty()).then_some((0, cut_line));
            }
            // The document before ends here (or at its successor's directives).
            let (cut, cut_line) = directive.take().unwrap_or((stream.piece.len(), line_no));
            if let Some(reason) = bad.take() {
                run.emit(Partial::finding(doc_finding(doc_line, reason)))?;
            }
            if cut >= STREAM_PIECE {
                let rest = stream.piece.split_off(cut);
                stream.flush(run)?;
                stream.piece = rest;
                stream.piece_line = cut_line;
                doc_start = 0;
            } else {
                doc_start = cut;
                if cut == 0 {
                    stream.piece_line = cut_line;
                }
            }
            doc_line = cut_line;
        }
        if bad.is_some() {
            continue;
        }
        let reason = if let Some(at) = line.iter().position(|&b| b == 0) {
            Some(format!(
                "binary input (NUL byte at line {line_no}, column {}); this document is not \
                 audited",
                at + 1
            ))
        } else if let Err(e) = std::str::from_utf8(&line) {
            Some(format!(
                "not UTF-8 text (invalid byte at line {line_no}, column {}); this document is \
                 not audited (convert the input with `iconv -t UTF-8`)",
                e.valid_up_to() + 1
            ))
        } else if stream.piece.len() - doc_start + n > max_doc {
            Some(format!(
                "document larger than --max-document-size ({max_doc} bytes); not audited \
                 (raise --max-document-size)"
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            bad = Some(match list.take() {
                None => reason,
                // The List's items read so far are audited; the piece being read is dropped.
                Some(_) => {
                    doc_line = stream.piece_line;
                    format!(
                        "{reason}; in a List read item by item, its items from line {doc_line} \
                         on"
                    )
                }
            });
            scan = ListScan::No;
            // The documents before are whole: evaluated now, so that the lines of those after
            // are counted from where they are.
            stream.piece.truncate(doc_start);
            stream.flush(run)?;
            doc_start = 0;
            directive = None;
            continue;
        }
        let text = std::str::from_utf8(&line).unwrap_or_default();
        if let Some(l) = list.as_mut() {
            // A List read item by item: a piece of whole entries is handed on at an entry's
            // first line once it is large enough; the first line after the entries starts the
            // List's trailer (`kind: List`, `metadata:` in kubectl's output).
            if l.trailer.is_none() {
                let cut = match item_line(text, l.indent, l.json) {
                    ItemLine::Entry => stream.piece.len() >= list_piece,
                    ItemLine::After => {
                        l.trailer = Some(line_no);
                        true
                    }
                    ItemLine::Blank | ItemLine::Inside => false,
                };
                if cut {
                    stream.flush_items(run, l)?;
                    stream.piece_line = line_no;
                    doc_line = line_no;
                }
            }
        } else if crate::yaml::is_document_start(&line) {
            let rest = text[3..].trim();
            scan = if rest.is_empty() || rest.starts_with('#') {
                ListScan::Header(ListHead::default())
            } else {
                ListScan::No
            };
        } else if scan.line(text, stream.piece.len(), line_no)
            && stream.piece.len() - doc_start >= list_piece
        {
            // A List too large for one piece (`kubectl get -A -o yaml` writes one document):
            // read from here on a few items at a time.
            let ListScan::Items {
                head,
                indent,
                json,
                first,
                first_line,
            } = std::mem::replace(&mut scan, ListScan::No)
            else {
                unreachable!("ListScan::line is true only in the items")
            };
            let header = stream.piece[doc_start..first].to_string();
            let entries = stream.piece.split_off(first);
            stream.piece.truncate(doc_start);
            stream.flush(run)?;
            let inherited = match (head.kind, head.api_version) {
                (Some(k), Some(a)) => k
                    .strip_suffix("List")
                    .filter(|k| !k.is_empty())
                    .map(|k| (k.to_string(), a)),
                _ => None,
            };
            let l = ListRead {
                header,
                header_line: doc_line,
                indent,
                json,
                inherited,
                trailer: None,
            };
            stream.piece = entries;
            stream.piece_line = first_line;
            stream.flush_items(run, &l)?;
            stream.piece_line = line_no;
            doc_line = line_no;
            doc_start = 0;
            directive = None;
            list = Some(l);
        }
        if text.starts_with('%') {
            directive.get_or_insert((stream.piece.len(), line_no));
        } else if directive.is_some()
            && !(text.trim().is_empty() || text.trim_start().starts_with('#'))
        {
            directive = None;
        }
        stream.piece.push_str(text);
    }
    if let Some(reason) = bad {
        run.emit(Partial::finding(doc_finding(doc_line, reason)))?;
    }
    if let Some(l) = list {
        return stream.finish_list(run, l);
    }
    stream.flush(run)
}

/// A `List` document being read a few items at a time.
struct ListRead {
    /// Its text before the first entry of `items` (with the `items:` line), and its line.
    header: String,
    header_line: u32,
    /// Indentation of the entries of `items` (0 in kubectl's YAML, 8 in its JSON).
    indent: usize,
    /// JSON (`kubectl get -o json`): entries are objects, one `{` line to one `}` line.
    json: bool,
    /// Kind and apiVersion its items inherit (a typed list whose `kind` came first).
    inherited: Option<(String, String)>,
    /// Line of the first line after the entries, once read (the rest of the List is then in
    /// the stream's piece).
    trailer: Option<u32>,
}

/// What the top level of a document read so far says of a List.
#[derive(Default)]
struct ListHead {
    kind: Option<String>,
    api_version: Option<String>,
}

/// Whether the document being read is a List whose items can be read a few at a time: a
/// block mapping whose `kind`, if it came yet, is a list, with a top-level `items:` block
/// sequence.
enum ListScan {
    /// The top level, before `items:`.
    Header(ListHead),
    /// Just after a top-level `items:` line.
    ItemsKey(ListHead),
    /// In the entries of `items`, which start at `indent`; `first` is the offset in the piece
    /// of the first entry and `first_line` its line.
    Items {
        head: ListHead,
        indent: usize,
        json: bool,
        first: usize,
        first_line: u32,
    },
    /// A JSON object's top level, before `"items": [`; `keys` is the indentation of its keys
    /// (from the first one).
    JsonHeader { head: ListHead, keys: Option<usize> },
    /// Just after a top-level `"items": [` line.
    JsonItemsKey(ListHead),
    /// Anything else.
    No,
}

impl ListScan {
    /// Follow one more line of the document (`offset`: where it starts in the piece). True at
    /// the first line of an entry of `items`, where the entries before it are whole.
    fn line(&mut self, text: &str, offset: usize, line_no: u32) -> bool {
        match self {
            ListScan::No => false,
            ListScan::Header(head) => {
                let content = text.trim_end_matches(['\n', '\r']);
                if content.is_empty() || content.starts_with([' ', '#']) {
                    return false;
                }
                if content.trim_end() == "{" {
                    *self = ListScan::JsonHeader {
                        head: std::mem::take(head),
                        keys: None,
                    };
                    return false;
                }
                if let Some(kind) = top_scalar(content, "kind") {
                    if kind.ends_with("List") {
                        head.kind = Some(kind);
                    } else {
                        *self = ListScan::No;
                    }
                } else if let Some(v) = top_scalar(content, "apiVersion") {
                    head.api_version = Some(v);
                } else if top_scalar(content, "items").is_some_and(|v| v.is_empty()) {
                    *self = ListScan::ItemsKey(std::mem::take(head));
                } else if content.starts_with(|c: char| "-[{?%.&!*|>\t".contains(c)) {
                    *self = ListScan::No;
                }
                false
            }
            ListScan::ItemsKey(head) => match item_line(text, usize::MAX, false) {
                ItemLine::Blank => false,
                _ => {
                    let trimmed = text.trim_start_matches(' ');
                    if is_entry(trimmed) {
                        *self = ListScan::Items {
                            head: std::mem::take(head),
                            indent: text.len() - trimmed.len(),
                            json: false,
                            first: offset,
                            first_line: line_no,
                        };
                        true
                    } else {
                        *self = ListScan::No;
                        false
                    }
                }
            },
            ListScan::JsonHeader { head, keys } => {
                let content = text.trim_end_matches(['\n', '\r']);
                let trimmed = content.trim_start_matches(' ');
                if trimmed.is_empty() {
                    return false;
                }
                let at = content.len() - trimmed.len();
                let keys = *keys.get_or_insert(at);
                if at < keys || at == 0 || !trimmed.starts_with('"') {
                    // The object ended, or this is not a top-level key.
                    if at <= keys {
                        *self = ListScan::No;
                    }
                    return false;
                }
                if at > keys {
                    return false;
                }
                let value = |key: &str| {
                    let rest = trimmed.strip_prefix(key)?.trim_start().strip_prefix(':')?;
                    let v = rest.trim().trim_end_matches(',').trim_end();
                    Some(v.strip_prefix('"')?.strip_suffix('"')?.to_string())
                };
                if let Some(kind) = value("\"kind\"") {
                    if kind.ends_with("List") {
                        head.kind = Some(kind);
                    } else {
                        *self = ListScan::No;
                    }
                } else if let Some(v) = value("\"apiVersion\"") {
                    head.api_version = Some(v);
                } else if trimmed
                    .strip_prefix("\"items\"")
                    .and_then(|r| r.trim_start().strip_prefix(':'))
                    .is_some_and(|r| r.trim() == "[")
                {
                    *self = ListScan::JsonItemsKey(std::mem::take(head));
                }
                false
            }
            ListScan::JsonItemsKey(head) => match item_line(text, usize::MAX, false) {
                ItemLine::Blank => false,
                _ => {
                    let trimmed = text.trim_start_matches(' ');
                    let indent = text.len() - trimmed.len();
                    if trimmed.trim_end() == "{" && indent > 0 {
                        *self = ListScan::Items {
                            head: std::mem::take(head),
                            indent,
                            json: true,
                            first: offset,
                            first_line: line_no,
                        };
                        true
                    } else {
                        *self = ListScan::No;
                        false
                    }
                }
            },
            ListScan::Items { indent, json, .. } => match item_line(text, *indent, *json) {
                ItemLine::Entry => true,
                ItemLine::Blank | ItemLine::Inside => false,
                // The entries ended before the document grew large: read it whole.
                ItemLine::After => {
                    *self = ListScan::No;
                    false
                }
            },
        }
    }
}

/// A line of a block sequence whose entries start at `indent`.
enum ItemLine {
    /// Blank or a comment.
    Blank,
    /// The first line of an entry.
    Entry,
    /// Inside an entry (more indented).
    Inside,
    /// After the sequence.
    After,
}

fn item_line(text: &str, indent: usize, json: bool) -> ItemLine {
    let content = text.trim_end_matches(['\n', '\r']);
    let trimmed = content.trim_start_matches(' ');
    if trimmed.is_empty() || (!json && trimmed.starts_with('#')) {
        return ItemLine::Blank;
    }
    let at = content.len() - trimmed.len();
    if at > indent {
        ItemLine::Inside
    } else if at < indent {
        ItemLine::After
    } else if json {
        // An entry is an object from a `{` line to a `}` (or `},`) line at this indentation.
        match trimmed.trim_end() {
            "{" => ItemLine::Entry,
            "}" | "}," => ItemLine::Inside,
            _ => ItemLine::After,
        }
    } else if is_entry(trimmed) {
        ItemLine::Entry
    } else {
        ItemLine::After
    }
}

/// Make whole entries of a JSON array (`{` line to `}` or `},` line, indented) a JSON array of
/// their own without moving a line or column: the first entry's first space becomes `[`, and
/// what follows the last entry's closing brace (`,` or the line's end) becomes `]`.
fn json_entries_as_sequence(piece: &mut String) {
    if piece.starts_with(' ') {
        piece.replace_range(0..1, "[");
    }
    let Some(close) = piece.rfind('}') else {
        return;
    };
    match piece.as_bytes().get(close + 1) {
        Some(b',' | b'\r' | b'\n') => piece.replace_range(close + 1..close + 2, "]"),
        _ => piece.push(']'),
    }
}

/// A block sequence entry's indicator: `-` followed by a space, a tab or the line's end.
fn is_entry(trimmed: &str) -> bool {
    let t = trimmed.trim_end_matches(['\n', '\r']);
    t == "-" || t.starts_with("- ") || t.starts_with("-\t")
}

/// The plain or quoted scalar value of a top-level `key:` line (without a trailing comment),
/// or None if the line is not that key's.
fn top_scalar(content: &str, key: &str) -> Option<String> {
    let rest = content.strip_prefix(key)?.strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let mut v = rest.trim();
    if let Some(at) = v.find(" #") {
        v = v[..at].trim_end();
    }
    if v.starts_with('#') {
        v = "";
    }
    let unquoted = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
        .unwrap_or(v);
    Some(unquoted.to_string())
}

/// The documents of a stream read so far and not yet evaluated.
struct Stream<'p> {
    path: &'p str,
    limits: crate::yaml::Limits,
    state: Option<crate::yaml::StreamState>,
    piece: String,
    /// Line of the stream where `piece` starts.
    piece_line: u32,
}

impl Stream<'_> {
    /// Parse, evaluate and hand on the whole documents gathered so far.
    fn flush(&mut self, run: &mut Run<'_>) -> Result<(), AuditError> {
        self.flush_as(run, None)
    }

    /// Parse, evaluate and hand on the whole entries of a List's items gathered so far.
    fn flush_items(&mut self, run: &mut Run<'_>, list: &ListRead) -> Result<(), AuditError> {
        self.flush_as(run, Some(list))
    }

    /// The end of a List read item by item: its last entries, then its top level without the
    /// items (`kind`, `apiVersion`, what does not parse), as a reader of the whole document
    /// would have judged it.
    fn finish_list(&mut self, run: &mut Run<'_>, list: ListRead) -> Result<(), AuditError> {
        if list.trailer.is_none() {
            self.flush_items(run, &list)?;
        }
        let trailer = std::mem::take(&mut self.piece);
        let state = self
            .state
            .get_or_insert_with(|| crate::yaml::StreamState::new(&self.limits));
        let problems = crate::k8s::list_shell_problems(
            (list.header.as_str(), list.header_line),
            list.trailer.map(|line| (trailer.as_str(), line)),
            &self.limits,
            state,
        );
        if problems.is_empty() {
            return Ok(());
        }
        let mut report = FileReport::new(self.path, Some(Format::Kubernetes));
        report.problems = problems;
        run.emit(partial(&report, &run.opts.policy))
    }

    fn flush_as(&mut self, run: &mut Run<'_>, list: Option<&ListRead>) -> Result<(), AuditError> {
        if self.piece.is_empty() {
            return Ok(());
        }
        let opts = run.opts;
        let mut acc = Partial::empty();
        let state = self
            .state
            .get_or_insert_with(|| crate::yaml::StreamState::new(&self.limits));
        let absorb = |part: FileReport| acc.absorb(&part, &opts.policy);
        let refused = match list {
            None => crate::k8s::read_each_at(
                self.path,
                &self.piece,
                self.piece_line,
                &self.limits,
                state,
                absorb,
            ),
            Some(l) => {
                if l.json {
                    json_entries_as_sequence(&mut self.piece);
                }
                crate::k8s::read_list_items_at(
                    self.path,
                    &self.piece,
                    self.piece_line,
                    &self.limits,
                    state,
                    l.inherited.as_ref().map(|(k, a)| (k.as_str(), a.as_str())),
                    absorb,
                )
            }
        };
        if let Some(reason) = refused {
            acc.findings.push(Finding {
                line: Some(self.piece_line),
                ..file_finding(
                    self.path,
                    policy::id::SKD_INPUT_004,
                    format!("{reason}; not audited"),
                )
            });
        }
        acc.findings.sort_by(finding_order);
        self.piece.clear();
        run.emit(acc)
    }
}

/// A finding about a whole file (no object, no line).
fn file_finding(path: &str, rule_id: policy::RuleId, message: String) -> Finding {
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
            policy::id::SKD_INPUT_004,
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
                for field in r.fields() {
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

/// Run `f` over every input on as many threads as the machine has cores, and `each` on this
/// thread over the results in input order, as they come: the workers stay at most `ahead`
/// inputs in front of the run `each` is on, so that at most that many results (and that run's)
/// wait. The first error of `each` stops the run (the workers finish the inputs they hold and
/// end) and is returned.
///
/// Each worker has its own state (`state()`, e.g. a read buffer kept from input to input) and
/// takes the inputs in runs of consecutive ones, handing back each run's results together:
/// this thread then wakes once per run rather than once per input, and a worker is woken only
/// if it waits for room.
fn for_each_parallel<I: Sync, S, T: Send, E>(
    inputs: &[I],
    ahead: usize,
    state: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &I) -> T + Sync,
    mut each: impl FnMut(usize, T) -> Result<(), E>,
) -> Result<(), E> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Condvar, Mutex, PoisonError};
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(inputs.len());
    if threads <= 1 {
        let mut s = state();
        for (i, input) in inputs.iter().enumerate() {
            each(i, f(&mut s, input))?;
        }
        return Ok(());
    }
    // Runs short enough that every worker gets many of them (a few inputs keep one run each),
    // and at most `ahead` inputs in runs ahead of `each`.
    let run = (inputs.len() / (threads * 16))
        .clamp(1, 16)
        .min(ahead.max(1));
    let runs = inputs.len().div_ceil(run);
    let runs_ahead = (ahead / run).max(1);
    /// How far `each` has come (runs handed on), whether the run has stopped, and how many
    /// workers wait for room.
    struct Progress {
        done: usize,
        stop: bool,
        waiting: usize,
    }
    /// Stops the workers when the loop below ends, however it ends (an error of `each`, a
    /// panic), so that none waits for room that never comes and the scope can join them.
    struct StopOnDrop<'a>(&'a Mutex<Progress>, &'a Condvar);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
            self.1.notify_all();
        }
    }
    let progress = Mutex::new(Progress {
        done: 0,
        stop: false,
        waiting: 0,
    });
    let room = Condvar::new();
    let next = AtomicUsize::new(0);
    type Results<T> = Vec<std::thread::Result<T>>;
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Results<T>)>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (state, f, next, progress, room) = (&state, &f, &next, &progress, &room);
            scope.spawn(move || {
                let mut s = state();
                loop {
                    // Runs are taken in order, so the one `each` waits for is always taken by
                    // a worker that has room for it.
                    let r = next.fetch_add(1, Ordering::Relaxed);
                    if r >= runs {
                        break;
                    }
                    let mut p = progress.lock().unwrap_or_else(PoisonError::into_inner);
                    while !p.stop && r >= p.done + runs_ahead {
                        p.waiting += 1;
                        p = room.wait(p).unwrap_or_else(PoisonError::into_inner);
                        p.waiting -= 1;
                    }
                    if p.stop {
                        break;
                    }
                    drop(p);
                    let end = ((r + 1) * run).min(inputs.len());
                    let results: Results<T> = inputs[r * run..end]
                        .iter()
                        .map(|input| {
                            // A reader panic is a bug: it is re-raised on this thread below
                            // rather than losing the file silently.
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                f(&mut s, input)
                            }))
                        })
                        .collect();
                    if tx.send((r, results)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let _stop = StopOnDrop(&progress, &room);
        let mut waiting: std::collections::HashMap<usize, Results<T>> =
            std::collections::HashMap::new();
        for r in 0..runs {
            let results = loop {
                if let Some(results) = waiting.remove(&r) {
                    break results;
                }
                match rx.recv() {
                    Ok((j, results)) => {
                        waiting.insert(j, results);
                    }
                    // Every taken run is sent unless the run stopped, and it has not.
                    Err(_) => unreachable!("a worker ended without handing on run {r}"),
                }
            };
            let wake = {
                let mut p = progress.lock().unwrap_or_else(PoisonError::into_inner);
                p.done = r + 1;
                p.waiting > 0
            };
            if wake {
                room.notify_all();
            }
            for (k, result) in results.into_iter().enumerate() {
                match result {
                    Ok(t) => each(r * run + k, t)?,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        }
        Ok(())
    })
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
    fn pods_spilled_to_the_store_come_back_as_they_went_in() {
        use super::{ItemCtx, PodStore};
        let pod = |i: usize| {
            let r = policy::cluster::PodRef {
                kind: "Deployment".into(),
                name: format!("p{i}"),
                namespace: (i % 3 == 0).then(|| "ns\u{e9}".to_string()),
                service_account: (i % 2 == 0).then(|| "sa".to_string()),
                automount_token: [None, Some(false), Some(true)][i % 3],
                spec_path: "spec.template.spec".into(),
                labels: [("app".to_string(), format!("a{i}"))].into(),
            };
            let mut lines = crate::source::FieldLines::default();
            lines.insert("metadata.name".into(), i as u32 + 1, 3);
            let ctx = ItemCtx {
                // As in a stream, where every document names its file with an `Arc` of its own.
                file: "stream.yaml".into(),
                object: std::sync::Arc::new(crate::ObjectRef {
                    kind: "Deployment".into(),
                    name: format!("p{i}"),
                    namespace: None,
                }),
                line: i as u32,
                lines,
                suppressions: vec![crate::source::Suppression {
                    rule_ids: vec!["SKD-K8S-010".into()],
                    reason: format!("r{i}"),
                }],
            };
            (ctx, r)
        };
        let n = PodStore::IN_MEMORY + 500;
        let mut store = PodStore::default();
        for i in 0..n {
            let (ctx, r) = pod(i);
            store.push(ctx, r).unwrap();
        }
        assert!(store.spill.is_some());
        // One file named, not one entry per spilled pod (memory that grew with a stream).
        assert_eq!(store.files.len(), 1);
        let mut i = 0;
        store
            .for_each(|ctx, r| {
                let (want_ctx, want) = pod(i);
                assert_eq!(r, want);
                assert_eq!(ctx.object, want_ctx.object);
                assert_eq!(ctx.line, want_ctx.line);
                assert_eq!(&*ctx.file, "stream.yaml");
                assert_eq!(ctx.lines.position("metadata.name"), Some((i as u32 + 1, 3)));
                assert_eq!(ctx.suppressions[0].reason, format!("r{i}"));
                i += 1;
            })
            .unwrap();
        assert_eq!(i, n);
    }

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
