//! YAML (and JSON, which is YAML) read the way Kubernetes reads it.
//!
//! kubectl, Helm and the API server convert YAML to JSON with `sigs.k8s.io/yaml`, a fork of
//! go-yaml v2: YAML 1.1 scalar resolution (`resolve.go`), merge keys applied in order, and
//! duplicate keys where the last one wins. This module reproduces that on top of `saphyr-parser`
//! events:
//!
//! 1. The text is split into documents at `---` lines (as kubectl's YAML reader does), so that a
//!    broken document does not hide the ones after it; a document marker at column 0 ends any
//!    scalar, so the split is safe. A chunk that is concatenated JSON objects (`jq -c` output) is
//!    read as a JSON stream.
//! 2. Each document is parsed into a small tree with positions (anchors kept as shared nodes),
//!    with nesting-depth and node-count limits checked while parsing.
//! 3. The tree is expanded into a [`YNode`]: plain scalars resolved with YAML 1.1 rules, aliases
//!    and merge keys (`<<`, single or list) expanded under a node budget (billion laughs), map
//!    keys turned into strings as `sigs.k8s.io/yaml` does (`yes:` is the key `"true"`).
//!
//! Steps 2 and 3 are what every document gets in principle; most take a shortcut that gives the
//! same [`YNode`]. A document without anchors, aliases, tags, merge keys, duplicate keys or
//! YAML 1.1 scalars that would be reported is built straight from the parser's events (the
//! direct path), and plain block YAML (what kubectl and generators write) is read by a small line
//! scanner (the private `fast` module) that emits the events `saphyr-parser` would, with the same
//! positions. Either shortcut steps aside at the first thing outside its subset and the chunk is
//! read again by the full path, so every problem is still reported by one implementation; a test
//! checks that the paths agree.
//! 4. [`YNode::decode`] decodes typed values (k8s-openapi) straight from the tree, as Go's JSON
//!    decoding would decode its JSON form, and names the field and line of a value that does not
//!    fit; [`YNode::to_json`] gives the JSON itself and [`YNode::field_lines`] the line of every
//!    field.
//!
//! Documents are handed out one at a time ([`for_each_document`]); [`load`] collects them.
//!
//! Problems are reported, never silently skipped: a document that does not parse or expand is an
//! `SKD-INPUT-001` problem; a duplicate key is `SKD-INPUT-002` (the document is still decoded,
//! last key wins, as Kubernetes does), and so is a merge key that overrides a key written before
//! it (go-yaml v2 lets the merge win, YAML 1.2 tools the explicit key); a plain scalar that
//! Kubernetes reads as a boolean or number but a YAML 1.2 tool reads differently (`On`, `yes`,
//! `00`, `0o17`, `1_000`) is `SKD-INPUT-003`.
//!
//! Deliberate differences from go-yaml: `!!binary` scalars are kept as their base64 text;
//! timestamps stay strings (as go-yaml v2 leaves them when decoding into `interface{}`); a value
//! `.inf` / `.nan` is resolved (it is a float) but has no JSON form, so decoding a field that
//! holds one fails, as it does for kubectl.

// A `Problem` is what this module reports; boxing it would only move the allocation.
#![allow(clippy::result_large_err)]

mod fast;

use crate::source::{push_index, push_key, FieldLines, Problem};
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Tag};
use serde_json::{Map, Number, Value};
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

/// Rule id of a document that cannot be read.
pub const UNDECODABLE: policy::RuleId = policy::id::SKD_INPUT_001;
/// Rule id of a duplicate key.
pub const DUPLICATE_KEY: policy::RuleId = policy::id::SKD_INPUT_002;
/// Rule id of a YAML 1.1 scalar read differently by YAML 1.2 tools.
pub const YAML11_SCALAR: policy::RuleId = policy::id::SKD_INPUT_003;

/// Bounds on what one input may cost.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest input accepted, in bytes.
    pub max_bytes: usize,
    /// Most documents read from one input; the rest are reported as one problem.
    pub max_documents: usize,
    /// Deepest nesting of mappings and sequences (after alias expansion).
    pub max_depth: usize,
    /// Most nodes one document may have as written (a `kubectl get -A -o yaml` List of
    /// thousands of pods is one document).
    pub max_nodes: usize,
    /// Most nodes aliases may add when expanded, on top of 10 per written node (alias bombs),
    /// over the whole input: every document draws on the same budget.
    pub max_expanded_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 64 * 1024 * 1024,
            max_documents: 100_000,
            max_depth: 256,
            max_nodes: 4_000_000,
            max_expanded_nodes: 1_000_000,
        }
    }
}

/// A resolved YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct YNode {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    pub value: YValue,
}

/// A resolved YAML value, as go-yaml v2 would decode it into `interface{}`.
#[derive(Debug, Clone, PartialEq)]
pub enum YValue {
    Null,
    Bool(bool),
    /// An integer (i64 or u64).
    Int(Number),
    Float(f64),
    Str(String),
    Seq(Vec<YNode>),
    /// Entries in source order, keys unique (the last duplicate won).
    Map(Vec<YEntry>),
}

/// A mapping key. The few dozen field names most manifests are made of are shared static
/// strings (no allocation, copy or free per key); any other key owns its text. A key compares,
/// hashes, prints and dereferences as its text.
#[derive(Clone)]
pub struct Key(KeyText);

#[derive(Clone)]
enum KeyText {
    Known(&'static str),
    Owned(String),
}

/// Field names of Kubernetes manifests (and compose files) common enough to be kept once.
const KNOWN_KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "labels",
    "annotations",
    "app",
    "spec",
    "template",
    "selector",
    "matchLabels",
    "replicas",
    "containers",
    "initContainers",
    "image",
    "imagePullPolicy",
    "ports",
    "containerPort",
    "hostPort",
    "protocol",
    "resources",
    "limits",
    "requests",
    "memory",
    "cpu",
    "securityContext",
    "privileged",
    "capabilities",
    "add",
    "drop",
    "allowPrivilegeEscalation",
    "readOnlyRootFilesystem",
    "runAsNonRoot",
    "runAsUser",
    "runAsGroup",
    "fsGroup",
    "seccompProfile",
    "type",
    "volumeMounts",
    "mountPath",
    "readOnly",
    "volumes",
    "emptyDir",
    "hostPath",
    "path",
    "configMap",
    "secret",
    "secretName",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "automountServiceAccountToken",
    "serviceAccountName",
    "restartPolicy",
    "schedule",
    "jobTemplate",
    "command",
    "args",
    "env",
    "value",
    "valueFrom",
    "livenessProbe",
    "readinessProbe",
    "httpGet",
    "port",
    "items",
    "key",
    "nodeSelector",
    "tolerations",
    "terminationGracePeriodSeconds",
    "strategy",
    "serviceName",
    "backoffLimit",
    "services",
    "version",
    "environment",
    "volumeClaimTemplates",
];

/// Slot of a key in [`KNOWN_TABLE`] (from its length and three of its bytes).
const fn known_slot(b: &[u8]) -> usize {
    let n = b.len();
    (n * 2 + b[0] as usize * 14 + b[n - 1] as usize * 12 + b[n / 2] as usize * 7) & 255
}

/// [`KNOWN_KEYS`] by slot; on a collision the first keeps the slot (the other is simply not
/// shared).
static KNOWN_TABLE: [Option<&str>; 256] = {
    let mut t: [Option<&str>; 256] = [None; 256];
    let mut i = 0;
    while i < KNOWN_KEYS.len() {
        let slot = known_slot(KNOWN_KEYS[i].as_bytes());
        if t[slot].is_none() {
            t[slot] = Some(KNOWN_KEYS[i]);
        }
        i += 1;
    }
    t
};

impl Key {
    /// The key for `text`, shared when it is a known field name.
    pub fn new(text: std::borrow::Cow<'_, str>) -> Key {
        if !text.is_empty() {
            if let Some(k) = KNOWN_TABLE[known_slot(text.as_bytes())] {
                if k == text {
                    return Key(KeyText::Known(k));
                }
            }
        }
        Key(KeyText::Owned(text.into_owned()))
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            KeyText::Known(k) => k,
            KeyText::Owned(s) => s,
        }
    }
}

impl std::ops::Deref for Key {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Key {}

impl PartialEq<str> for Key {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Key {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_str().hash(h)
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Key {
    fn from(s: String) -> Key {
        Key::new(std::borrow::Cow::Owned(s))
    }
}

/// One entry of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct YEntry {
    pub key: Key,
    /// Position of the key.
    pub line: u32,
    pub column: u32,
    pub value: YNode,
}

/// One document of a stream.
#[derive(Debug, Clone)]
pub struct Document {
    /// 0-based index in the stream.
    pub index: usize,
    /// Line where the document's content (or its `---`) starts.
    pub line: u32,
    /// The content, or why it could not be read (an `SKD-INPUT-001` problem).
    pub root: Result<YNode, Problem>,
    /// Duplicate keys and YAML 1.1 scalars met in this document.
    pub problems: Vec<Problem>,
}

impl YNode {
    /// The value of `key` if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&YNode> {
        match &self.value {
            YValue::Map(entries) => entries.iter().find(|e| e.key == key).map(|e| &e.value),
            _ => None,
        }
    }

    /// The entry of `key` (with the key's position) if this is a mapping that has it.
    pub fn entry(&self, key: &str) -> Option<&YEntry> {
        match &self.value {
            YValue::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            YValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, YValue::Null)
    }

    /// The JSON value Kubernetes would decode (`sigs.k8s.io/yaml.YAMLToJSON`). Fails on values
    /// JSON cannot hold (`.inf`, `.nan`), naming where.
    pub fn to_json(&self) -> Result<Value, Problem> {
        let mut path = String::new();
        self.to_json_at(&mut path)
    }

    fn to_json_at(&self, path: &mut String) -> Result<Value, Problem> {
        Ok(match &self.value {
            YValue::Null => Value::Null,
            YValue::Bool(b) => Value::Bool(*b),
            YValue::Int(n) => Value::Number(n.clone()),
            YValue::Float(f) => float_to_json(*f).ok_or_else(|| Problem {
                rule_id: UNDECODABLE,
                line: Some(self.line),
                column: Some(self.column),
                object: None,
                field: path.clone(),
                message: format!("the float {f} has no JSON form; Kubernetes rejects the document"),
            })?,
            YValue::Str(s) => Value::String(s.clone()),
            YValue::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    out.push(item.to_json_at(path)?);
                    path.truncate(len);
                }
                Value::Array(out)
            }
            YValue::Map(entries) => {
                let mut out = Map::new();
                for e in entries {
                    let child = push_key(path, &e.key);
                    let mut child_path = child;
                    let v = e.value.to_json_at(&mut child_path)?;
                    out.insert(e.key.to_string(), v);
                }
                Value::Object(out)
            }
        })
    }

    /// The position of every field under this node, with paths relative to it (`""` is this
    /// node). Mapping entries are placed at their key, sequence items at the item. At most
    /// [`FIELD_LINES_BUDGET`] bytes of paths are kept (a deep, wide document cannot exhaust
    /// memory); fields past it fall back to their nearest recorded ancestor.
    pub fn field_lines(&self) -> FieldLines {
        let mut lines = FieldLines::default();
        lines.insert(String::new(), self.line, self.column);
        let mut budget = FIELD_LINES_BUDGET;
        let mut path = String::with_capacity(128);
        self.collect_lines(&mut path, &mut lines, &mut budget);
        lines.shrink_to_fit();
        lines
    }

    /// `path` is a scratch buffer holding this node's path; it is restored before returning.
    fn collect_lines(&self, path: &mut String, lines: &mut FieldLines, budget: &mut usize) {
        let len = path.len();
        match &self.value {
            YValue::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    use std::fmt::Write;
                    let _ = write!(path, "[{i}]");
                    if *budget < path.len() {
                        path.truncate(len);
                        return;
                    }
                    *budget -= path.len();
                    lines.insert(path.clone(), item.line, item.column);
                    item.collect_lines(path, lines, budget);
                    path.truncate(len);
                }
            }
            YValue::Map(entries) => {
                for e in entries {
                    append_key(path, &e.key);
                    if *budget < path.len() {
                        path.truncate(len);
                        return;
                    }
                    *budget -= path.len();
                    lines.insert(path.clone(), e.line, e.column);
                    e.value.collect_lines(path, lines, budget);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
}

/// [`push_key`] into a buffer.
fn append_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .bytes()
            .enumerate()
            .all(|(i, c)| c == b'_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if plain {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push_str("['");
        path.push_str(key);
        path.push_str("']");
    }
}

/// Bytes of field paths one [`YNode::field_lines`] keeps.
pub const FIELD_LINES_BUDGET: usize = 16 * 1024 * 1024;

/// JSON for a float the way Go's `json.Marshal` writes it: integral values become integers (so
/// `runAsUser: 08`, a YAML 1.1 float, still decodes into an integer field as it does in Go).
fn float_to_json(f: f64) -> Option<Value> {
    if !f.is_finite() {
        return None;
    }
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Some(Value::Number(Number::from(f as i64)));
    }
    Number::from_f64(f).map(Value::Number)
}

// ---------------------------------------------------------------------------------------------
// Splitting the stream into documents.

/// A piece of the input holding whole documents, with the line it starts on.
struct Chunk<'a> {
    text: &'a str,
    first_line: u32,
}

/// Whether a line of a stream starts a document (`---` alone or followed by white space).
pub fn is_document_start(line: &[u8]) -> bool {
    line.strip_prefix(b"---")
        .is_some_and(|rest| rest.is_empty() || matches!(rest[0], b' ' | b'\t' | b'\r' | b'\n'))
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// Split at lines that start with `---` (a new document). Directive lines (`%...`) just before a
/// `---` go with the document they introduce.
fn split_documents(text: &str, first_line: u32) -> Vec<Chunk<'_>> {
    let mut starts: Vec<(usize, u32)> = vec![(0, first_line)];
    let mut offset = 0usize;
    // Offset and line of a run of directive lines that may belong to the next document.
    let mut directive_start: Option<(usize, u32)> = None;
    let bytes = text.as_bytes();
    let mut line_no = first_line - 1;
    while offset < bytes.len() {
        line_no += 1;
        // Most lines start with neither `-` nor `%`: skip them with a plain byte loop (a
        // `split_inclusive` searcher costs a call per line).
        if directive_start.is_none() && !matches!(bytes[offset], b'-' | b'%') {
            offset = bytes[offset..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |i| offset + i + 1);
            continue;
        }
        let end = bytes[offset..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| offset + i + 1);
        let line = &text[offset..end];
        if is_marker(line, "---") {
            let start = directive_start.unwrap_or((offset, line_no));
            if start.0 > 0 {
                starts.push(start);
            }
            directive_start = None;
        } else if line.starts_with('%') {
            if directive_start.is_none() {
                directive_start = Some((offset, line_no));
            }
        } else if directive_start.is_some()
            && !(line.trim().is_empty() || line.trim_start().starts_with('#'))
        {
            directive_start = None;
        }
        offset += line.len();
    }
    starts.dedup_by_key(|s| s.0);
    let mut chunks = Vec::with_capacity(starts.len());
    for (i, &(start, first_line)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(text.len(), |s| s.0);
        chunks.push(Chunk {
            text: &text[start..end],
            first_line,
        });
    }
    chunks
}

// ---------------------------------------------------------------------------------------------
// Parsing a chunk into raw trees.

#[derive(Debug)]
enum RawKind {
    Scalar {
        /// Taken (left empty) when the document is expanded, if no other node shares it.
        text: std::cell::RefCell<String>,
        style: ScalarStyle,
        tag: Option<Tag>,
    },
    Seq(Vec<Rc<RawNode>>),
    /// Keys and values alternate.
    Map(Vec<Rc<RawNode>>),
    Alias(Rc<RawNode>),
}

#[derive(Debug)]
struct RawNode {
    line: u32,
    column: u32,
    kind: RawKind,
}

/// A container being built.
struct Open {
    line: u32,
    column: u32,
    anchor: usize,
    is_map: bool,
    children: Vec<Rc<RawNode>>,
}

struct RawDocument {
    line: u32,
    root: Result<Option<Rc<RawNode>>, Problem>,
    nodes: usize,
    /// Whether the document defines anchors (so nodes may be reached more than once).
    anchored: bool,
}

fn input_problem(line: u32, column: u32, message: String) -> Problem {
    Problem {
        rule_id: UNDECODABLE,
        line: Some(line),
        column: Some(column),
        object: None,
        field: String::new(),
        message,
    }
}

fn scan_problem(e: &ScanError, first_line: u32) -> Problem {
    let m = e.marker();
    input_problem(
        m.line() as u32 + first_line - 1,
        m.col() as u32 + 1,
        format!("YAML syntax error: {}", e.info()),
    )
}

/// Most under-indented quoted scalars re-indented in one chunk (each costs a re-parse).
const MAX_REINDENTS: usize = 16;

/// Parse one chunk into its documents. Stops at the first error, which becomes the last
/// document's problem.
fn parse_chunk(chunk: &Chunk<'_>, limits: &Limits, out: &mut Vec<RawDocument>, budget: usize) {
    parse_chunk_reindenting(chunk, limits, out, budget, MAX_REINDENTS)
}

/// The chunk's text with the continuation lines of the quoted scalar that starts at `line`
/// (0-based in the chunk) and character `col` indented one column deeper than the line the
/// scalar starts on. go-yaml (libyaml) does not check the indentation of a quoted scalar's
/// continuation lines, so Kubernetes reads `k: "a` / `b"` with `b` at column 0 as `"a b"`; YAML
/// 1.2 (and saphyr) refuse it. Leading white space of a continuation line is folded away, so
/// the value is the same; lines keep their numbers. `None` if no quoted scalar starts there.
fn reindent_quoted(text: &str, line: usize, col: usize) -> Option<String> {
    let start_line = text.split_inclusive('\n').nth(line)?;
    let line_offset: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
    let quote_offset = line_offset + start_line.char_indices().nth(col)?.0;
    let quote = text[quote_offset..].chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let need = start_line.len() - start_line.trim_start_matches(' ').len() + 1;
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str(&text[..=quote_offset]);
    let mut chars = text[quote_offset + 1..].char_indices().peekable();
    let mut end = None;
    while let Some((i, c)) = chars.next() {
        out.push(c);
        match c {
            '\\' if quote == '"' => {
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                    if n == '\n' {
                        pad(&text[quote_offset + 1 + i + 2..], need, &mut out);
                    }
                }
            }
            '\'' if quote == '\'' => {
                if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                    chars.next();
                    out.push('\'');
                } else {
                    end = Some(quote_offset + 1 + i + 1);
                    break;
                }
            }
            '"' if quote == '"' => {
                end = Some(quote_offset + 1 + i + 1);
                break;
            }
            '\n' => pad(&text[quote_offset + 1 + i + 1..], need, &mut out),
            _ => {}
        }
    }
    out.push_str(&text[end?..]);
    Some(out)
}

/// Spaces that bring the line starting `rest` to `need` columns of indentation (none if it has
/// them, or if it is blank).
fn pad(rest: &str, need: usize, out: &mut String) {
    let line = rest.split('\n').next().unwrap_or("");
    let have = line.len() - line.trim_start_matches(' ').len();
    if have < need && !line.trim().is_empty() {
        out.extend(std::iter::repeat_n(' ', need - have));
    }
}

fn parse_chunk_reindenting(
    chunk: &Chunk<'_>,
    limits: &Limits,
    out: &mut Vec<RawDocument>,
    budget: usize,
    reindents: usize,
) {
    let chunk_start = out.len();
    let mut parser = Parser::new_from_str(chunk.text);
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: HashMap<usize, Rc<RawNode>> = HashMap::new();
    let mut current: Option<RawDocument> = None;
    let mut root: Option<Rc<RawNode>> = None;
    let mut nodes = 0usize;
    let line_of = |l: usize| l as u32 + chunk.first_line - 1;
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                // Concatenated JSON objects (`{..}{..}`, what `jq -c` writes) are a stream
                // kubectl reads but YAML does not.
                if let Some(docs) = json_stream(chunk) {
                    out.truncate(chunk_start);
                    out.extend(docs);
                    return;
                }
                if reindents > 0 && e.info() == "invalid indentation in quoted scalar" {
                    let m = e.marker();
                    if let Some(text) = reindent_quoted(chunk.text, m.line() - 1, m.col()) {
                        out.truncate(chunk_start);
                        let fixed = Chunk {
                            text: &text,
                            first_line: chunk.first_line,
                        };
                        return parse_chunk_reindenting(&fixed, limits, out, budget, reindents - 1);
                    }
                }
                let p = scan_problem(&e, chunk.first_line);
                let line = current.as_ref().map_or(p.line.unwrap_or(1), |d| d.line);
                out.push(RawDocument {
                    line,
                    root: Err(p),
                    nodes,
                    anchored: true,
                });
                return;
            }
        };
        let line = line_of(span.start.line());
        let column = span.start.col() as u32 + 1;
        let mut finished: Option<(Rc<RawNode>, usize)> = None;
        let is_map = matches!(event, Event::MappingStart(..));
        match event {
            Event::StreamStart | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                anchors.clear();
                stack.clear();
                root = None;
                nodes = 0;
                current = Some(RawDocument {
                    line,
                    root: Ok(None),
                    nodes: 0,
                    anchored: true,
                });
            }
            Event::DocumentEnd => {
                if let Some(mut d) = current.take() {
                    d.root = Ok(root.take());
                    d.nodes = nodes;
                    d.anchored = !anchors.is_empty();
                    out.push(d);
                }
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(target) => {
                    finished = Some((
                        Rc::new(RawNode {
                            line,
                            column,
                            kind: RawKind::Alias(target.clone()),
                        }),
                        0,
                    ))
                }
                None => {
                    out.push(RawDocument {
                        line: current.as_ref().map_or(line, |d| d.line),
                        root: Err(input_problem(
                            line,
                            column,
                            "alias to an anchor that is not defined before it (or that contains \
                             the alias)"
                                .into(),
                        )),
                        nodes,
                        anchored: true,
                    });
                    return;
                }
            },
            Event::Scalar(text, style, anchor, tag) => {
                finished = Some((
                    Rc::new(RawNode {
                        line,
                        column,
                        kind: RawKind::Scalar {
                            text: std::cell::RefCell::new(text.into_owned()),
                            style,
                            tag: tag.map(|t| t.into_owned()),
                        },
                    }),
                    anchor,
                ));
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= limits.max_depth {
                    out.push(RawDocument {
                        line: current.as_ref().map_or(line, |d| d.line),
                        root: Err(input_problem(
                            line,
                            column,
                            format!("nesting deeper than {} levels", limits.max_depth),
                        )),
                        nodes,
                        anchored: true,
                    });
                    return;
                }
                stack.push(Open {
                    line,
                    column,
                    anchor,
                    is_map,
                    children: Vec::new(),
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(open) = stack.pop() {
                    let kind = if open.is_map {
                        RawKind::Map(open.children)
                    } else {
                        RawKind::Seq(open.children)
                    };
                    finished = Some((
                        Rc::new(RawNode {
                            line: open.line,
                            column: open.column,
                            kind,
                        }),
                        open.anchor,
                    ));
                }
            }
        }
        if let Some((node, anchor)) = finished {
            nodes += 1;
            if nodes > budget {
                out.push(RawDocument {
                    line: current.as_ref().map_or(line, |d| d.line),
                    root: Err(input_problem(
                        line,
                        column,
                        format!("document has more than {budget} nodes"),
                    )),
                    nodes,
                    anchored: true,
                });
                return;
            }
            if anchor != 0 {
                anchors.insert(anchor, node.clone());
            }
            match stack.last_mut() {
                Some(parent) => parent.children.push(node),
                None => root = Some(node),
            }
        }
    }
    if let Some(mut d) = current.take() {
        d.root = Ok(root.take());
        d.nodes = nodes;
        d.anchored = !anchors.is_empty();
        out.push(d);
    }
}

/// Read a chunk as a stream of JSON values, if it is one (every field placed at the line where
/// its value starts; duplicate keys keep the last, as in the YAML path).
fn json_stream(chunk: &Chunk<'_>) -> Option<Vec<RawDocument>> {
    let text = chunk.text;
    if !text.trim_start().starts_with(['{', '[']) {
        return None;
    }
    let mut docs = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut offset = 0usize;
    let mut line = chunk.first_line;
    loop {
        let rest = &text[offset..];
        let skipped = rest.len() - rest.trim_start().len();
        line += rest[..skipped].matches('\n').count() as u32;
        offset += skipped;
        match stream.next() {
            None => break,
            Some(Err(_)) => return None,
            Some(Ok(v)) => {
                let mut nodes = 0;
                let root = json_to_raw(&v, line, &mut nodes);
                docs.push(RawDocument {
                    line,
                    root: Ok(Some(root)),
                    nodes,
                    anchored: false,
                });
                let end = stream.byte_offset();
                line += text[offset..end].matches('\n').count() as u32;
                offset = end;
            }
        }
    }
    Some(docs)
}

fn json_to_raw(v: &Value, line: u32, nodes: &mut usize) -> Rc<RawNode> {
    *nodes += 1;
    let scalar = |text: String, style| RawKind::Scalar {
        text: std::cell::RefCell::new(text),
        style,
        tag: None,
    };
    let kind = match v {
        Value::Null => scalar("null".into(), ScalarStyle::Plain),
        Value::Bool(b) => scalar(b.to_string(), ScalarStyle::Plain),
        Value::Number(n) => scalar(n.to_string(), ScalarStyle::Plain),
        Value::String(s) => scalar(s.clone(), ScalarStyle::DoubleQuoted),
        Value::Array(a) => RawKind::Seq(a.iter().map(|x| json_to_raw(x, line, nodes)).collect()),
        Value::Object(m) => RawKind::Map(
            m.iter()
                .flat_map(|(k, x)| {
                    [
                        Rc::new(RawNode {
                            line,
                            column: 1,
                            kind: scalar(k.clone(), ScalarStyle::DoubleQuoted),
                        }),
                        json_to_raw(x, line, nodes),
                    ]
                })
                .collect(),
        ),
    };
    Rc::new(RawNode {
        line,
        column: 1,
        kind,
    })
}

// ---------------------------------------------------------------------------------------------
// Scalar resolution (go-yaml v2 resolve.go).

/// A resolved plain scalar, and whether YAML 1.2 tools would read it differently.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(Number),
    Float(f64),
    Str,
}

/// Resolve a plain (unquoted, untagged) scalar as Kubernetes does. The flag says the text is a
/// non-canonical YAML 1.1 form (`On`, `y`, `00`, `0o17`, `0x1f`, `+1`, `1_000`, `0b1`).
pub fn resolve_plain(s: &str) -> (Scalar, bool) {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return (Scalar::Null, false),
        "true" | "True" | "TRUE" => return (Scalar::Bool(true), false),
        "false" | "False" | "FALSE" => return (Scalar::Bool(false), false),
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => {
            return (Scalar::Bool(true), true)
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
            return (Scalar::Bool(false), true)
        }
        ".nan" | ".NaN" | ".NAN" => return (Scalar::Float(f64::NAN), false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return (Scalar::Float(f64::INFINITY), false)
        }
        "-.inf" | "-.Inf" | "-.INF" => return (Scalar::Float(f64::NEG_INFINITY), false),
        _ => {}
    }
    let first = s.as_bytes()[0];
    match first {
        b'.' => {
            if s.bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
            {
                if let Ok(f) = s.parse::<f64>() {
                    if f.is_finite() {
                        return (Scalar::Float(f), false);
                    }
                }
            }
            (Scalar::Str, false)
        }
        b'+' | b'-' | b'0'..=b'9' => {
            let plain: String = s.chars().filter(|&c| c != '_').collect();
            let canonical_int = is_canonical_decimal(s);
            if let Some(n) = go_parse_int(&plain) {
                return (Scalar::Int(n), !canonical_int);
            }
            if is_yaml_style_float(&plain) {
                if let Ok(f) = plain.parse::<f64>() {
                    if f.is_finite() {
                        let odd = s.contains('_') || has_leading_zero(&plain);
                        return (Scalar::Float(f), odd);
                    }
                }
            }
            let (neg, digits) = match plain.strip_prefix("-0b") {
                Some(d) => (true, Some(d)),
                None => (false, plain.strip_prefix("0b")),
            };
            if let Some(d) = digits {
                if !d.is_empty() && d.bytes().all(|c| c == b'0' || c == b'1') {
                    if let Ok(v) = u64::from_str_radix(d, 2) {
                        let n = if neg {
                            i64::try_from(v).ok().map(|v| Number::from(-v))
                        } else {
                            Some(Number::from(v))
                        };
                        if let Some(n) = n {
                            return (Scalar::Int(n), true);
                        }
                    }
                }
            }
            (Scalar::Str, false)
        }
        _ => (Scalar::Str, false),
    }
}

fn is_canonical_decimal(s: &str) -> bool {
    let d = s.strip_prefix('-').unwrap_or(s);
    !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()) && (d == "0" || !d.starts_with('0'))
}

fn has_leading_zero(s: &str) -> bool {
    let d = s.trim_start_matches(['+', '-']);
    d.len() > 1 && d.starts_with('0') && d.as_bytes()[1].is_ascii_digit()
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint(s, 0, 64)` for values above i64.
fn go_parse_int(s: &str) -> Option<Number> {
    let (neg, signed, body) = match s.as_bytes().first()? {
        b'+' => (false, true, &s[1..]),
        b'-' => (true, true, &s[1..]),
        _ => (false, false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) = if let Some(rest) = body.strip_prefix('0') {
        let lower = rest.as_bytes().first().map(|c| c.to_ascii_lowercase());
        match lower {
            Some(b'x') if body.len() >= 3 => (16, &body[2..]),
            Some(b'o') if body.len() >= 3 => (8, &body[2..]),
            Some(b'b') if body.len() >= 3 => (2, &body[2..]),
            _ => (8, rest),
        }
    } else {
        (10, body)
    };
    if !digits.bytes().all(|c| (c as char).is_digit(radix)) {
        return None;
    }
    let v: u64 = if digits.is_empty() {
        0
    } else {
        u64::from_str_radix(digits, radix).ok()?
    };
    if neg {
        if v <= i64::MAX as u64 {
            Some(Number::from(-(v as i64)))
        } else if v == i64::MAX as u64 + 1 {
            Some(Number::from(i64::MIN))
        } else {
            None
        }
    } else if v <= i64::MAX as u64 || !signed {
        Some(Number::from(v))
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Expansion of raw trees into resolved nodes.

fn core_tag(tag: &Option<Tag>) -> Option<&str> {
    tag.as_ref()
        .filter(|t| t.is_yaml_core_schema())
        .map(|t| t.suffix.as_str())
}

struct Expander<'p, 'r> {
    budget: usize,
    used: usize,
    max_depth: usize,
    problems: &'p mut Vec<Problem>,
    /// Whether every node is reached once (no anchors), so value scalars can be moved out.
    consume: bool,
    /// Where the expansion is, rendered to a field path only when a problem needs it.
    segs: Vec<Seg<'r>>,
}

#[derive(Clone, Copy)]
enum Seg<'r> {
    Key(&'r RawNode),
    Index(usize),
}

/// The string a key node becomes (for paths in problems).
fn key_text(k: &RawNode) -> String {
    match &deref(k).kind {
        RawKind::Scalar {
            text,
            style: ScalarStyle::Plain,
            tag: None,
        } => match resolve_plain(&text.borrow()).0 {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(n) => n.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Null => "null".into(),
            Scalar::Str => text.borrow().clone(),
        },
        RawKind::Scalar { text, .. } => text.borrow().clone(),
        _ => "?".into(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Origin {
    Explicit,
    Merged,
}

/// Finds a key among a mapping's entries: a linear scan for the small mappings manifests are
/// made of, a hash map past [`KeyIndex::SMALL`] entries. Also remembers which entries came from a
/// merge key (only allocated once a merge happens).
#[derive(Default)]
struct KeyIndex {
    map: Option<HashMap<String, usize>>,
    merged: Option<Vec<bool>>,
}

impl KeyIndex {
    const SMALL: usize = 16;

    fn get(&self, entries: &[YEntry], key: &str) -> Option<(usize, Origin)> {
        let i = match &self.map {
            Some(m) => m.get(key).copied(),
            None => entries.iter().position(|e| e.key == key),
        }?;
        let merged = self
            .merged
            .as_ref()
            .is_some_and(|m| m.get(i).copied().unwrap_or(false));
        Some((
            i,
            if merged {
                Origin::Merged
            } else {
                Origin::Explicit
            },
        ))
    }

    fn set_origin(&mut self, i: usize, origin: Origin) {
        if origin == Origin::Merged || self.merged.is_some() {
            let m = self.merged.get_or_insert_with(Vec::new);
            if m.len() <= i {
                m.resize(i + 1, false);
            }
            m[i] = origin == Origin::Merged;
        }
    }

    /// Record that `key` is entry `i` (about to be pushed after `entries`).
    fn push(&mut self, entries: &[YEntry], key: &str, i: usize, origin: Origin) {
        self.set_origin(i, origin);
        match &mut self.map {
            Some(m) => {
                m.insert(key.to_string(), i);
            }
            None if i + 1 > Self::SMALL => {
                let mut m: HashMap<String, usize> = entries
                    .iter()
                    .enumerate()
                    .map(|(j, e)| (e.key.to_string(), j))
                    .collect();
                m.insert(key.to_string(), i);
                self.map = Some(m);
            }
            None => {}
        }
    }
}

impl<'r> Expander<'_, 'r> {
    fn path(&self) -> String {
        let mut p = String::new();
        for s in &self.segs {
            p = match s {
                Seg::Key(k) => push_key(&p, &key_text(k)),
                Seg::Index(i) => push_index(&p, *i),
            };
        }
        p
    }

    fn fail(&self, node: &RawNode, message: String) -> Problem {
        Problem {
            rule_id: UNDECODABLE,
            line: Some(node.line),
            column: Some(node.column),
            object: None,
            field: self.path(),
            message,
        }
    }

    fn count(&mut self, node: &RawNode) -> Result<(), Problem> {
        self.used += 1;
        if self.used > self.budget {
            return Err(self.fail(
                node,
                format!(
                    "aliases expand to more than {} nodes (an alias bomb?; the budget is \
                     shared by every document of the input)",
                    self.budget
                ),
            ));
        }
        Ok(())
    }

    /// Resolve a scalar node. With `take`, a string's text is moved out of the node rather than
    /// copied (only for a node that is expanded once: a value, not a key, in a document
    /// without anchors).
    fn scalar(&mut self, node: &RawNode, take: bool) -> Result<YValue, Problem> {
        let RawKind::Scalar {
            text: cell,
            style,
            tag,
        } = &node.kind
        else {
            return Err(self.fail(node, "expected a scalar".into()));
        };
        let guard = cell.borrow();
        let text: &str = &guard;
        let plain = *style == ScalarStyle::Plain;
        let resolved = match core_tag(tag) {
            Some("str") | Some("binary") | Some("timestamp") => Scalar::Str,
            Some(t @ ("int" | "bool" | "float" | "null")) => {
                let (r, _) = resolve_plain(text);
                match (t, r) {
                    ("int", r @ Scalar::Int(_)) => r,
                    ("bool", r @ Scalar::Bool(_)) => r,
                    ("null", r @ Scalar::Null) => r,
                    ("float", Scalar::Float(f)) => Scalar::Float(f),
                    ("float", Scalar::Int(n)) => Scalar::Float(n.as_f64().unwrap_or(f64::NAN)),
                    _ => return Err(self.fail(node, format!("cannot decode `{text}` as a !!{t}"))),
                }
            }
            Some(other) if !matches!(other, "map" | "seq" | "merge") => Scalar::Str,
            _ if tag.is_some() && core_tag(tag).is_none() => Scalar::Str,
            _ if !plain => Scalar::Str,
            _ => {
                let (r, odd) = resolve_plain(text);
                if odd {
                    let read = match &r {
                        Scalar::Bool(b) => b.to_string(),
                        Scalar::Int(n) => n.to_string(),
                        Scalar::Float(f) => f.to_string(),
                        _ => String::new(),
                    };
                    self.problems.push(Problem {
                        rule_id: YAML11_SCALAR,
                        line: Some(node.line),
                        column: Some(node.column),
                        object: None,
                        field: self.path(),
                        message: format!(
                            "`{text}` is read by Kubernetes (YAML 1.1) as {read}; YAML 1.2 tools \
                             read it differently; write {read}"
                        ),
                    });
                }
                r
            }
        };
        drop(guard);
        Ok(match resolved {
            Scalar::Null => YValue::Null,
            Scalar::Bool(b) => YValue::Bool(b),
            Scalar::Int(n) => YValue::Int(n),
            Scalar::Float(f) => YValue::Float(f),
            Scalar::Str if take => YValue::Str(std::mem::take(&mut *cell.borrow_mut())),
            Scalar::Str => YValue::Str(cell.borrow().clone()),
        })
    }

    fn expand(&mut self, node: &'r RawNode, depth: usize) -> Result<YNode, Problem> {
        self.count(node)?;
        if depth > self.max_depth {
            return Err(self.fail(
                node,
                format!("nesting deeper than {} levels", self.max_depth),
            ));
        }
        let value = match &node.kind {
            RawKind::Alias(target) => {
                let mut n = self.expand(target, depth)?;
                n.line = node.line;
                n.column = node.column;
                return Ok(n);
            }
            RawKind::Scalar { .. } => self.scalar(node, self.consume)?,
            RawKind::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    self.segs.push(Seg::Index(i));
                    out.push(self.expand(item, depth + 1)?);
                    self.segs.pop();
                }
                YValue::Seq(out)
            }
            RawKind::Map(kv) => YValue::Map(self.mapping(node, kv, depth)?),
        };
        Ok(YNode {
            line: node.line,
            column: node.column,
            value,
        })
    }

    fn key(&mut self, key: &RawNode) -> Result<String, Problem> {
        let target = deref(key);
        match &target.kind {
            RawKind::Scalar { .. } => match self.scalar(target, false)? {
                YValue::Str(s) => Ok(s),
                YValue::Bool(b) => Ok(b.to_string()),
                YValue::Int(n) => Ok(n.to_string()),
                YValue::Float(f) if f.is_nan() => Ok(".nan".into()),
                YValue::Float(f) if f.is_infinite() => {
                    Ok(if f > 0.0 { ".inf" } else { "-.inf" }.into())
                }
                YValue::Float(f) => Ok(f.to_string()),
                _ => Err(self.fail(key, "a mapping key is null".into())),
            },
            _ => Err(self.fail(
                key,
                "a mapping key is a mapping or sequence; Kubernetes accepts only scalar keys"
                    .into(),
            )),
        }
    }

    fn mapping(
        &mut self,
        node: &'r RawNode,
        kv: &'r [Rc<RawNode>],
        depth: usize,
    ) -> Result<Vec<YEntry>, Problem> {
        let mut entries: Vec<YEntry> = Vec::with_capacity(kv.len() / 2);
        let mut index = KeyIndex::default();
        for pair in kv.chunks(2) {
            let (k, v) = (&pair[0], pair.get(1));
            let Some(v) = v else {
                return Err(self.fail(node, "mapping key without a value".into()));
            };
            if is_merge_key(k) {
                let merged = self.merge_sources(v, depth)?;
                for e in merged {
                    self.set(&mut entries, &mut index, e, Origin::Merged, k);
                }
                continue;
            }
            let key = self.key(k)?;
            self.segs.push(Seg::Key(k));
            let value = self.expand(v, depth + 1)?;
            self.segs.pop();
            let entry = YEntry {
                key: key.into(),
                line: k.line,
                column: k.column,
                value,
            };
            self.set(&mut entries, &mut index, entry, Origin::Explicit, k);
        }
        Ok(entries)
    }

    fn set(
        &mut self,
        entries: &mut Vec<YEntry>,
        index: &mut KeyIndex,
        entry: YEntry,
        origin: Origin,
        key_node: &RawNode,
    ) {
        match index.get(entries, &entry.key) {
            Some((i, was)) => {
                let prev = &entries[i];
                let field = push_key(&self.path(), &entry.key);
                match (was, origin) {
                    (Origin::Explicit, Origin::Explicit) => self.problems.push(Problem {
                        rule_id: DUPLICATE_KEY,
                        line: Some(entry.line),
                        column: Some(entry.column),
                        object: None,
                        field,
                        message: format!(
                            "key `{}` appears again (first at line {}); Kubernetes keeps this \
                             last one, other tools may keep the first",
                            entry.key, prev.line
                        ),
                    }),
                    (Origin::Explicit, Origin::Merged) => self.problems.push(Problem {
                        rule_id: DUPLICATE_KEY,
                        line: Some(key_node.line),
                        column: Some(key_node.column),
                        object: None,
                        field,
                        message: format!(
                            "the merge key `<<` after `{}` (line {}) overrides it with the \
                             value from line {}; Kubernetes (go-yaml v2) keeps the merged \
                             value, YAML 1.2 tools keep the explicit one",
                            entry.key, prev.line, entry.line
                        ),
                    }),
                    _ => {}
                }
                entries[i] = entry;
                index.set_origin(i, origin);
            }
            None => {
                index.push(entries, &entry.key, entries.len(), origin);
                entries.push(entry);
            }
        }
    }

    /// The entries a `<<` value merges, in the order they are applied (go-yaml v2: a list is
    /// applied last to first, so earlier maps win among themselves).
    fn merge_sources(&mut self, v: &'r RawNode, depth: usize) -> Result<Vec<YEntry>, Problem> {
        let target = deref(v);
        match &target.kind {
            RawKind::Map(kv) => {
                self.count(target)?;
                self.mapping(target, kv, depth)
            }
            RawKind::Seq(items) => {
                let mut out = Vec::new();
                for item in items.iter().rev() {
                    let t = deref(item);
                    let RawKind::Map(kv) = &t.kind else {
                        return Err(self.fail(
                            item,
                            "a merge key `<<` needs a mapping or a list of mappings".into(),
                        ));
                    };
                    self.count(t)?;
                    out.extend(self.mapping(t, kv, depth)?);
                }
                Ok(out)
            }
            _ => Err(self.fail(
                v,
                "a merge key `<<` needs a mapping or a list of mappings".into(),
            )),
        }
    }
}

fn deref(node: &RawNode) -> &RawNode {
    let mut n = node;
    // Aliases point at finished nodes, which cannot be aliases to themselves.
    while let RawKind::Alias(t) = &n.kind {
        n = t;
    }
    n
}

fn is_merge_key(k: &RawNode) -> bool {
    match &k.kind {
        RawKind::Scalar { text, style, tag } => {
            *text.borrow() == "<<"
                && ((*style == ScalarStyle::Plain && tag.is_none())
                    || core_tag(tag) == Some("merge"))
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// The direct path: resolved nodes built straight from parser events.
//
// Most manifests have no anchors, aliases, merge keys, tags, duplicate keys or YAML 1.1 oddities.
// For those, the raw tree and its expansion are pure overhead, so a chunk is first read by
// [`parse_chunk_direct`], which builds [`YNode`]s as the events arrive (one tree, children
// gathered on shared stacks and moved into exact-size vectors). The moment it meets anything
// else — an anchor, an alias, a tag, a `<<` key, a non-scalar or null key, a duplicate key, a
// scalar that would be reported, a limit, a syntax error — it gives up and the chunk is read
// again by [`parse_chunk`] and expanded, so every problem and edge case keeps a single
// implementation. The two paths give identical documents (tested against each other).

/// A document of a chunk: built directly, or raw (to be expanded).
enum Parsed {
    Built { line: u32, root: Option<YNode> },
    Raw(RawDocument),
}

/// A container being built on the direct path.
struct Frame {
    line: u32,
    column: u32,
    is_map: bool,
    /// Where this container's children start on the shared stack (`items` or `entries`).
    start: usize,
    /// A key read, waiting for its value: text and position.
    key: Option<(Key, u32, u32)>,
}

/// The key string a plain or quoted untagged key scalar becomes, or `None` when the direct path
/// must give up (a null key, a YAML 1.1 form that is reported, a merge key).
fn direct_key(text: std::borrow::Cow<'_, str>, style: ScalarStyle) -> Option<Key> {
    if style != ScalarStyle::Plain {
        return Some(Key::new(text));
    }
    if text == "<<" {
        return None;
    }
    match resolve_plain(&text) {
        (_, true) | (Scalar::Null, _) => None,
        (Scalar::Str, _) => Some(Key::new(text)),
        (Scalar::Bool(b), _) => Some(b.to_string().into()),
        (Scalar::Int(n), _) => Some(n.to_string().into()),
        (Scalar::Float(f), _) if f.is_nan() => Some(".nan".to_string().into()),
        (Scalar::Float(f), _) if f.is_infinite() => {
            Some(if f > 0.0 { ".inf" } else { "-.inf" }.to_string().into())
        }
        (Scalar::Float(f), _) => Some(f.to_string().into()),
    }
}

/// The value an untagged value scalar resolves to, or `None` when it is a YAML 1.1 form that is
/// reported (the raw path reports it).
fn direct_value(text: std::borrow::Cow<'_, str>, style: ScalarStyle) -> Option<YValue> {
    if style != ScalarStyle::Plain {
        return Some(YValue::Str(text.into_owned()));
    }
    Some(match resolve_plain(&text) {
        (_, true) => return None,
        (Scalar::Null, _) => YValue::Null,
        (Scalar::Bool(b), _) => YValue::Bool(b),
        (Scalar::Int(n), _) => YValue::Int(n),
        (Scalar::Float(f), _) => YValue::Float(f),
        (Scalar::Str, _) => YValue::Str(text.into_owned()),
    })
}

/// Whether a finished mapping's entries have a key twice.
fn has_duplicate_key(entries: &[YEntry]) -> bool {
    if entries.len() <= 16 {
        return entries
            .iter()
            .enumerate()
            .any(|(i, e)| entries[..i].iter().any(|p| p.key == e.key));
    }
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    !entries.iter().all(|e| seen.insert(e.key.as_str()))
}

/// Read a chunk on the direct path. `None` when it has anything the direct path leaves to the
/// raw one (see above); then nothing is pushed to `out`.
fn parse_chunk_direct(chunk: &Chunk<'_>, limits: &Limits, out: &mut Vec<Parsed>) -> Option<()> {
    let chunk_start = out.len();
    let result = direct_events(chunk, limits, out);
    if result.is_none() {
        out.truncate(chunk_start);
    }
    result
}

fn direct_events(chunk: &Chunk<'_>, limits: &Limits, out: &mut Vec<Parsed>) -> Option<()> {
    let mut events = Vec::new();
    if fast::scan(chunk, &mut events).is_some() {
        let mut events = events.into_iter();
        return build_direct(|| events.next().map(Ok), limits, out);
    }
    let mut parser = Parser::new_from_str(chunk.text);
    let line_of = |l: usize| l as u32 + chunk.first_line - 1;
    build_direct(
        || {
            parser.next_event().map(|r| {
                r.map(|(event, span)| {
                    (
                        event,
                        line_of(span.start.line()),
                        span.start.col() as u32 + 1,
                    )
                })
                .map_err(|_| ())
            })
        },
        limits,
        out,
    )
}

/// Build documents from events (with their line and column); `None` as soon as the direct path
/// cannot be taken.
fn build_direct<'a>(
    mut next: impl FnMut() -> Option<Result<(Event<'a>, u32, u32), ()>>,
    limits: &Limits,
    out: &mut Vec<Parsed>,
) -> Option<()> {
    let mut frames: Vec<Frame> = Vec::new();
    let mut items: Vec<YNode> = Vec::new();
    let mut entries: Vec<YEntry> = Vec::new();
    let mut current: Option<u32> = None;
    let mut root: Option<YNode> = None;
    let mut nodes = 0usize;
    loop {
        let (event, line, column) = match next() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(())) => return None,
        };
        let is_map = matches!(event, Event::MappingStart(..));
        let finished: YNode = match event {
            Event::StreamStart | Event::Nothing => continue,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                frames.clear();
                items.clear();
                entries.clear();
                root = None;
                nodes = 0;
                current = Some(line);
                continue;
            }
            Event::DocumentEnd => {
                if let Some(line) = current.take() {
                    out.push(Parsed::Built {
                        line,
                        root: root.take(),
                    });
                }
                continue;
            }
            Event::Alias(_) => return None,
            Event::Scalar(text, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() || frames.len() + 1 > limits.max_depth {
                    return None;
                }
                if let Some(top) = frames.last_mut() {
                    if top.is_map && top.key.is_none() {
                        nodes += 1;
                        if nodes > limits.max_nodes {
                            return None;
                        }
                        top.key = Some((direct_key(text, style)?, line, column));
                        continue;
                    }
                }
                YNode {
                    line,
                    column,
                    value: direct_value(text, style)?,
                }
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) => {
                if anchor != 0 || tag.is_some() || frames.len() >= limits.max_depth {
                    return None;
                }
                // A mapping or sequence as a key.
                if frames.last().is_some_and(|f| f.is_map && f.key.is_none()) {
                    return None;
                }
                frames.push(Frame {
                    line,
                    column,
                    is_map,
                    start: if is_map { entries.len() } else { items.len() },
                    key: None,
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = frames.pop()?;
                let value = if frame.is_map {
                    if frame.key.is_some() {
                        return None;
                    }
                    let mine: Vec<YEntry> = entries.drain(frame.start..).collect();
                    if has_duplicate_key(&mine) {
                        return None;
                    }
                    YValue::Map(mine)
                } else {
                    YValue::Seq(items.drain(frame.start..).collect())
                };
                YNode {
                    line: frame.line,
                    column: frame.column,
                    value,
                }
            }
        };
        nodes += 1;
        if nodes > limits.max_nodes {
            return None;
        }
        match frames.last_mut() {
            Some(parent) if parent.is_map => {
                let (key, line, column) = parent.key.take()?;
                entries.push(YEntry {
                    key,
                    line,
                    column,
                    value: finished,
                });
            }
            Some(_) => items.push(finished),
            None => root = Some(finished),
        }
    }
    if let Some(line) = current.take() {
        out.push(Parsed::Built {
            line,
            root: root.take(),
        });
    }
    Some(())
}

// ---------------------------------------------------------------------------------------------
// Entry points.

/// Read every document of a YAML (or JSON) stream with the default limits.
pub fn load(text: &str) -> Result<Vec<Document>, Problem> {
    load_with(text, &Limits::default())
}

/// Read every document of a YAML (or JSON) stream. `Err` when the whole input is refused (too
/// large); otherwise one [`Document`] per document, each either read or carrying its problem.
pub fn load_with(text: &str, limits: &Limits) -> Result<Vec<Document>, Problem> {
    let mut docs = Vec::new();
    for_each_document(text, limits, |d| docs.push(d))?;
    Ok(docs)
}

/// Like [`load_with`], handing each document to `f` as soon as it is read, so that only one
/// document's tree is in memory at a time.
pub fn for_each_document(
    text: &str,
    limits: &Limits,
    f: impl FnMut(Document),
) -> Result<(), Problem> {
    read_documents(text, limits, true, &mut StreamState::new(limits), 1, f)
}

/// Where a stream read piece by piece stands: the index of its next document and what remains
/// of its alias budget (one budget per input, however it is cut).
#[derive(Debug, Clone)]
pub struct StreamState {
    pub index: usize,
    pub alias_left: usize,
}

impl StreamState {
    pub fn new(limits: &Limits) -> StreamState {
        StreamState {
            index: 0,
            alias_left: limits.max_expanded_nodes,
        }
    }
}

/// [`for_each_document`] over one piece of a longer stream: `text` holds whole documents and
/// starts at line `first_line` of the stream; `state` carries the document index and the alias
/// budget from one piece to the next.
pub fn for_each_document_in_stream(
    text: &str,
    first_line: u32,
    limits: &Limits,
    state: &mut StreamState,
    f: impl FnMut(Document),
) -> Result<(), Problem> {
    read_documents(text, limits, true, state, first_line.max(1), f)
}

/// [`for_each_document`], with the direct path (`direct`) or only the raw path and expansion.
fn read_documents(
    text: &str,
    limits: &Limits,
    direct: bool,
    state: &mut StreamState,
    first_line: u32,
    mut f: impl FnMut(Document),
) -> Result<(), Problem> {
    if text.len() > limits.max_bytes {
        return Err(Problem {
            rule_id: UNDECODABLE,
            line: None,
            column: None,
            object: None,
            field: String::new(),
            message: format!(
                "input is {} bytes, more than the limit of {}",
                text.len(),
                limits.max_bytes
            ),
        });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut index = state.index;
    let mut parsed: Vec<Parsed> = Vec::new();
    let mut raw: Vec<RawDocument> = Vec::new();
    let alias_left = &mut state.alias_left;
    for chunk in split_documents(text, first_line) {
        if !direct || parse_chunk_direct(&chunk, limits, &mut parsed).is_none() {
            parse_chunk(&chunk, limits, &mut raw, limits.max_nodes);
            parsed.extend(raw.drain(..).map(Parsed::Raw));
        }
        for pd in parsed.drain(..) {
            let line = match &pd {
                Parsed::Built { line, .. } => *line,
                Parsed::Raw(rd) => rd.line,
            };
            if index == limits.max_documents {
                f(Document {
                    index,
                    line,
                    root: Err(input_problem(
                        line,
                        1,
                        format!(
                            "more than {} documents; this one and those after it were not read",
                            limits.max_documents
                        ),
                    )),
                    problems: Vec::new(),
                });
                return Ok(());
            }
            f(match pd {
                Parsed::Built { line, root } => Document {
                    index,
                    line,
                    root: Ok(root.unwrap_or(YNode {
                        line,
                        column: 1,
                        value: YValue::Null,
                    })),
                    problems: Vec::new(),
                },
                Parsed::Raw(rd) => expand_document(rd, index, limits, alias_left),
            });
            index += 1;
            state.index = index;
        }
    }
    Ok(())
}

/// Expand one document. `alias_left` is what remains of the input's alias budget
/// ([`Limits::max_expanded_nodes`], shared by every document of the input, so that many small
/// alias-heavy documents cannot add up to an alias bomb): the document may expand to 10 nodes
/// per written node plus that, and what it uses beyond its 10 per node is taken from it.
fn expand_document(
    rd: RawDocument,
    index: usize,
    limits: &Limits,
    alias_left: &mut usize,
) -> Document {
    let mut problems = Vec::new();
    let own = rd.nodes.saturating_mul(10);
    let root = match rd.root {
        Err(p) => Err(p),
        Ok(None) => Ok(YNode {
            line: rd.line,
            column: 1,
            value: YValue::Null,
        }),
        Ok(Some(node)) => {
            let mut ex = Expander {
                budget: alias_left.saturating_add(own),
                used: 0,
                max_depth: limits.max_depth,
                problems: &mut problems,
                consume: !rd.anchored,
                segs: Vec::new(),
            };
            let root = ex.expand(&node, 1);
            *alias_left = alias_left.saturating_sub(ex.used.saturating_sub(own));
            root
        }
    };
    dedup(&mut problems);
    Document {
        index,
        line: rd.line,
        root,
        problems,
    }
}

/// One problem per place and message (an anchor used twice reports its problems once).
fn dedup(problems: &mut Vec<Problem>) {
    let mut seen = BTreeSet::new();
    problems.retain(|p| seen.insert((p.rule_id, p.line, p.column, p.message.clone())));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(s: &str) -> Option<i64> {
        match resolve_plain(s).0 {
            Scalar::Int(n) => n.as_i64(),
            _ => None,
        }
    }

    #[test]
    fn yaml11_ints() {
        assert_eq!(int("0o17"), Some(15));
        assert_eq!(int("0x1f"), Some(31));
        assert_eq!(int("017"), Some(15));
        assert_eq!(int("0b101"), Some(5));
        assert_eq!(int("-0b101"), Some(-5));
        assert_eq!(int("+1"), Some(1));
        assert_eq!(int("-0"), Some(0));
        assert_eq!(int("1_000"), Some(1000));
        assert_eq!(int("0_0"), Some(0));
        assert_eq!(int("00"), Some(0));
        assert_eq!(int("0"), Some(0));
        assert_eq!(int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(resolve_plain("08").0, Scalar::Float(8.0));
        assert_eq!(resolve_plain("1e3").0, Scalar::Float(1000.0));
        assert_eq!(resolve_plain("0x").0, Scalar::Str);
        assert_eq!(resolve_plain("1.2.3").0, Scalar::Str);
        assert_eq!(resolve_plain("2001-12-14").0, Scalar::Str);
        assert_eq!(resolve_plain("_1").0, Scalar::Str);
        assert_eq!(resolve_plain("1e400").0, Scalar::Str);
        assert!(!resolve_plain("10").1);
        assert!(resolve_plain("010").1);
        assert!(resolve_plain("0o0").1);
    }

    #[test]
    fn yaml11_bools_and_nulls() {
        for t in ["y", "Y", "yes", "Yes", "YES", "on", "On", "ON"] {
            assert_eq!(resolve_plain(t), (Scalar::Bool(true), true), "{t}");
        }
        for t in ["n", "N", "no", "No", "NO", "off", "Off", "OFF"] {
            assert_eq!(resolve_plain(t), (Scalar::Bool(false), true), "{t}");
        }
        for t in ["true", "True", "TRUE"] {
            assert_eq!(resolve_plain(t), (Scalar::Bool(true), false), "{t}");
        }
        assert_eq!(resolve_plain("yEs").0, Scalar::Str);
        for t in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(resolve_plain(t).0, Scalar::Null);
        }
        assert_eq!(resolve_plain(".inf").0, Scalar::Float(f64::INFINITY));
        assert_eq!(resolve_plain(".5").0, Scalar::Float(0.5));
    }

    #[test]
    fn append_key_matches_push_key() {
        for (base, key) in [
            ("", "a"),
            ("a", "b_1"),
            ("a", "x.y/z"),
            ("", "1a"),
            ("a", ""),
            ("", "é"),
        ] {
            let mut buf = base.to_string();
            append_key(&mut buf, key);
            assert_eq!(buf, push_key(base, key));
        }
    }

    fn both_paths(text: &str, limits: &Limits) -> (String, String) {
        let read = |direct| {
            let mut docs = Vec::new();
            let r = read_documents(
                text,
                limits,
                direct,
                &mut StreamState::new(limits),
                1,
                |d| docs.push(d),
            );
            format!("{r:?} {docs:?}")
        };
        (read(true), read(false))
    }

    /// The direct path gives exactly what the raw path and expansion give, on every YAML and
    /// JSON file of the repository and on inputs made to leave it at each point.
    #[test]
    fn direct_path_matches_expansion() {
        let mut texts: Vec<(String, String)> = Vec::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                if p.is_dir() {
                    if !name.starts_with('.') && name != "target" {
                        dirs.push(p);
                    }
                } else if [".yaml", ".yml", ".json"].iter().any(|x| name.ends_with(x))
                    || p.parent().is_some_and(|d| d.ends_with("seeds/k8s_read"))
                {
                    if let Ok(t) = std::fs::read_to_string(&p) {
                        texts.push((p.display().to_string(), t));
                    }
                }
            }
        }
        assert!(texts.len() > 50, "found only {} files", texts.len());
        let made = [
            "a: 1\nb: [x, {c: d}]\n",
            "a: &x 1\nb: *x\n",
            "base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n",
            "m:\n  <<: {x: 1}\n  x: 2\n",
            "'<<': 1\n",
            "a: 1\na: 2\n",
            "k:\n  a: 1\n  b: 2\n  c: 3\n  d: 4\n  e: 5\n  f: 6\n  g: 7\n  h: 8\n  i: 9\n  j: 0\n  k: 1\n  l: 2\n  m: 3\n  n: 4\n  o: 5\n  p: 6\n  q: 7\n  a: 8\n",
            "a: yes\n",
            "yes: 1\n",
            "on: 1\n1: a\n\"1\": b\n",
            "1.5: a\ntrue: b\n.inf: c\n.nan: d\n",
            "~: a\n",
            "? [a]\n: b\n",
            "? {a: 1}\n: b\n",
            "a: !!str 1\n",
            "a: !!int x\n",
            "a: !custom x\n",
            "a: 0o17\nb: 017\nc: 1_000\n",
            "a: .inf\nb: -.inf\nc: 1e3\nd: 08\n",
            "---\n---\na: 1\n...\n---\n",
            "",
            "# only a comment\n",
            "a: [1, 2\n",
            "a: 1\n--- \nb: [\n---\nc: 3\n",
            "{\"a\": 1}{\"b\": [2]}\n",
            "- 1\n- [2, 3]\n- {a: b}\n",
            "a: \"x\\ty\"\nb: 'it''s'\nc: |\n  block\nd: >\n  folded\n",
            "%YAML 1.1\n---\na: 1\n",
            // Edges of the line scanner's subset, on both sides.
            "a:\n  b\n",
            "a:\n  - b\n  -  c\n",
            "- a: 1\n  b: 2\n- c\n",
            "a: 'x' # c\nb: x #c\nc: \"y\"\nd: b # e: f\ng: b:c\nh: x#y\n",
            "a:   \n  b: 1\n",
            "key: value:\n",
            "'a': 1\n\"b c\": 2\n",
            "a: -1\nb: - 1\n",
            "a:\n- b\nc:\n- d\n",
            "  a: 1\n  b: 2\n",
            "  a: 1\nb: 2\n",
            "a: {}\nb: []\nc: {} # x\n",
            "- []\n- {}\n",
            "a: 1 \n\n\n# end\n",
            "---\n# just a comment\n",
            "--- # c\na: 1\n",
            "a: \"unterminated\n",
            "a: b\n c\n",
            "a:\n  b: 1\n c: 2\n",
            "a:\n  -\n    b: 1\n",
            "a: 'it''s'\n",
            "a:\n    - x\n  b: 1\n",
            "- - a\n",
            "a: \"x\"y\n",
            "? a\n",
            "a: 1\n...\n",
            "a:\n  - b: 1\n    c:\n    - d\n  - e\n",
            "x\n",
            "a:\n",
        ];
        for (i, t) in made.iter().enumerate() {
            texts.push((format!("made[{i}]"), t.to_string()));
        }
        let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
        texts.push(("deep255".into(), deep(255)));
        texts.push(("deep256".into(), deep(256)));
        texts.push(("deep257".into(), deep(257)));
        let limits = Limits::default();
        let mut fast_chunks = 0;
        for (name, t) in &texts {
            let (direct, raw) = both_paths(t, &limits);
            assert_eq!(direct, raw, "{name}");
            for c in split_documents(t.strip_prefix('\u{feff}').unwrap_or(t), 1) {
                fast_chunks += usize::from(fast::scan(&c, &mut Vec::new()).is_some());
            }
        }
        // Most of the repository's manifests are in the line scanner's subset.
        assert!(fast_chunks > 50, "{fast_chunks} chunks scanned fast");
        let small = Limits {
            max_nodes: 5,
            max_depth: 2,
            ..Limits::default()
        };
        for t in [
            "a: 1\nb: 2\n",
            "a: 1\nb: 2\nc: 3\n",
            "a: {b: 1}\n",
            "a: {b: {c: 1}}\n",
        ] {
            let (direct, raw) = both_paths(t, &small);
            assert_eq!(direct, raw, "{t}");
        }
        // The direct path is taken for plain documents and left for the others.
        let chunk = |text| Chunk {
            text,
            first_line: 1,
        };
        let mut out = Vec::new();
        assert!(parse_chunk_direct(&chunk("a: [1, {b: c}]\n"), &limits, &mut out).is_some());
        assert_eq!(out.len(), 1);
        let plain = "---\nkind: Pod # c\nspec:\n  containers:\n  - name: 'a'\n    ports: []\n    \
                     args:\n      - \"x: y\"\n      - -v\n  hostPID: true\n";
        assert!(fast::scan(&chunk(plain), &mut Vec::new()).is_some());
        for t in [
            "a: |\n  x\n",
            "a:\nb: 1\n",
            "a: b\n  c\n",
            "- a\n-\n",
            "a: \"\\n\"\n",
        ] {
            assert!(fast::scan(&chunk(t), &mut Vec::new()).is_none(), "{t}");
        }
        for t in [
            "a: &x 1\n",
            "a: !!str 1\n",
            "<<: {a: 1}\n",
            "a: 1\na: 2\n",
            "a: on\n",
        ] {
            let mut out = Vec::new();
            assert!(
                parse_chunk_direct(&chunk(t), &limits, &mut out).is_none(),
                "{t}"
            );
            assert!(out.is_empty());
        }
    }

    #[test]
    fn split_keeps_directives_with_their_document() {
        let c = split_documents("a: 1\n...\n%YAML 1.1\n---\nb: 2\n", 1);
        assert_eq!(c.len(), 2);
        assert!(c[1].text.starts_with("%YAML"));
        assert_eq!(c[1].first_line, 3);
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding typed values straight from a `YNode` (no `serde_json::Value` in between).

/// Why a [`YNode`] did not decode into a type: where (innermost value) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Field path relative to the node decoded.
    pub field: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
    /// Path segments, innermost first, while the error travels out.
    segs: Vec<PathPart>,
    located: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PathPart {
    Key(String),
    Index(usize),
}

impl DecodeError {
    fn at(mut self, node: &YNode) -> Self {
        if !self.located {
            self.located = true;
            self.line = node.line;
            self.column = node.column;
        }
        self
    }

    fn within(mut self, part: PathPart) -> Self {
        self.segs.push(part);
        self
    }

    fn finish(mut self, base: &str) -> Self {
        let mut p = base.to_string();
        for part in self.segs.iter().rev() {
            p = match part {
                PathPart::Key(k) => push_key(&p, k),
                PathPart::Index(i) => push_index(&p, *i),
            };
        }
        self.field = p;
        self.segs.clear();
        self
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

impl serde::de::Error for DecodeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        DecodeError {
            field: String::new(),
            line: 0,
            column: 0,
            message: msg.to_string(),
            segs: Vec::new(),
            located: false,
        }
    }
}

impl YNode {
    /// Decode this node into `T` the way Kubernetes' JSON decoding would decode the JSON form
    /// of it (unknown fields ignored). `base` is this node's field path, for the error.
    pub fn decode<'de, T: serde::Deserialize<'de>>(
        &'de self,
        base: &str,
    ) -> Result<T, DecodeError> {
        T::deserialize(self).map_err(|e| e.at(self).finish(base))
    }

    /// Like [`YNode::decode`] for a top-level object, with `apiVersion` and `kind` presented as
    /// given (typed `k8s-openapi` objects insist on their own).
    pub fn decode_as<'de, T: serde::Deserialize<'de>>(
        &'de self,
        api_version: &'static str,
        kind: &'static str,
    ) -> Result<T, DecodeError> {
        let root = Overridden {
            node: self,
            api_version,
            kind,
        };
        T::deserialize(root).map_err(|e| e.at(self).finish(""))
    }
}

fn visit_node<'de, V: serde::de::Visitor<'de>>(
    node: &'de YNode,
    visitor: V,
    extra: Option<(&'static str, &'static str)>,
) -> Result<V::Value, DecodeError> {
    use serde::de::Error;
    let r = match &node.value {
        YValue::Null => visitor.visit_unit(),
        YValue::Bool(b) => visitor.visit_bool(*b),
        YValue::Int(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => visitor.visit_i64(i),
            (_, Some(u)) => visitor.visit_u64(u),
            _ => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
        },
        YValue::Float(f) => {
            if !f.is_finite() {
                Err(DecodeError::custom(format!(
                    "the float {f} has no JSON form; Kubernetes rejects the document"
                )))
            } else if f.fract() == 0.0 && f.abs() < 9.0e15 {
                // Go's json.Marshal writes integral floats as integers.
                visitor.visit_i64(*f as i64)
            } else {
                visitor.visit_f64(*f)
            }
        }
        YValue::Str(s) => visitor.visit_borrowed_str(s),
        YValue::Seq(items) => visitor.visit_seq(SeqDe {
            items: items.iter().enumerate(),
        }),
        YValue::Map(entries) => visitor.visit_map(MapDe {
            entries: entries.iter(),
            value: None,
            extra: extra.map(|(a, k)| [("apiVersion", a), ("kind", k)]),
            extra_at: 0,
        }),
    };
    r.map_err(|e| e.at(node))
}

impl<'de> serde::Deserializer<'de> for &'de YNode {
    type Error = DecodeError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        visit_node(self, v, None)
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        match self.value {
            YValue::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DecodeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: serde::de::Visitor<'de>>(
        self,
        v: V,
    ) -> Result<V::Value, DecodeError> {
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct enum identifier
    }
}

/// A top-level object whose `apiVersion` and `kind` are replaced.
struct Overridden<'de> {
    node: &'de YNode,
    api_version: &'static str,
    kind: &'static str,
}

impl<'de> serde::Deserializer<'de> for Overridden<'de> {
    type Error = DecodeError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        visit_node(self.node, v, Some((self.api_version, self.kind)))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct SeqDe<'de> {
    items: std::iter::Enumerate<std::slice::Iter<'de, YNode>>,
}

impl<'de> serde::de::SeqAccess<'de> for SeqDe<'de> {
    type Error = DecodeError;

    fn next_element_seed<T: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeError> {
        match self.items.next() {
            None => Ok(None),
            Some((i, item)) => seed
                .deserialize(item)
                .map(Some)
                .map_err(|e| e.at(item).within(PathPart::Index(i))),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapDe<'de> {
    entries: std::slice::Iter<'de, YEntry>,
    value: Option<&'de YEntry>,
    /// Entries presented first, replacing the node's own (apiVersion and kind).
    extra: Option<[(&'static str, &'static str); 2]>,
    extra_at: usize,
}

impl<'de> serde::de::MapAccess<'de> for MapDe<'de> {
    type Error = DecodeError;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        use serde::de::value::BorrowedStrDeserializer;
        if let Some(extra) = &self.extra {
            if let Some((k, _)) = extra.get(self.extra_at) {
                return seed.deserialize(BorrowedStrDeserializer::new(k)).map(Some);
            }
        }
        loop {
            let Some(e) = self.entries.next() else {
                return Ok(None);
            };
            if self.extra.is_some() && (e.key == "apiVersion" || e.key == "kind") {
                continue;
            }
            self.value = Some(e);
            return seed
                .deserialize(BorrowedStrDeserializer::new(e.key.as_str()))
                .map(Some);
        }
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DecodeError> {
        use serde::de::value::BorrowedStrDeserializer;
        use serde::de::Error;
        if let Some(extra) = &self.extra {
            if let Some((_, v)) = extra.get(self.extra_at) {
                self.extra_at += 1;
                return seed.deserialize(BorrowedStrDeserializer::new(v));
            }
        }
        let e = self
            .value
            .take()
            .ok_or_else(|| DecodeError::custom("value without a key"))?;
        seed.deserialize(&e.value).map_err(|err| {
            let err = if err.located {
                err
            } else {
                DecodeError {
                    located: true,
                    line: e.line,
                    column: e.column,
                    ..err
                }
            };
            err.within(PathPart::Key(e.key.to_string()))
        })
    }
}
