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

mod de;
mod direct;
mod expand;
mod fast;
mod lines;
mod node;
mod raw;
mod scalar;
mod split;

pub use de::*;
pub use lines::*;
pub use node::*;
pub use scalar::*;
pub use split::*;

use direct::*;
use expand::*;
use raw::*;

use crate::fieldpath::{push_index, push_key};
use crate::finding::Problem;
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
