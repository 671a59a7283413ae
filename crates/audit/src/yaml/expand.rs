//! The full path, second step: raw trees expanded into resolved nodes ([`YNode`]).

use super::*;

pub(super) fn core_tag(tag: &Option<Tag>) -> Option<&str> {
    tag.as_ref()
        .filter(|t| t.is_yaml_core_schema())
        .map(|t| t.suffix.as_str())
}

pub(super) struct Expander<'p, 'r> {
    pub(super) budget: usize,
    pub(super) used: usize,
    pub(super) max_depth: usize,
    pub(super) problems: &'p mut Vec<Problem>,
    /// Whether every node is reached once (no anchors), so value scalars can be moved out.
    pub(super) consume: bool,
    /// Where the expansion is, rendered to a field path only when a problem needs it.
    pub(super) segs: Vec<Seg<'r>>,
}

#[derive(Clone, Copy)]
pub(super) enum Seg<'r> {
    Key(&'r RawNode),
    Index(usize),
}

/// The string a key node becomes (for paths in problems).
pub(super) fn key_text(k: &RawNode) -> String {
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
pub(super) enum Origin {
    Explicit,
    Merged,
}

/// Finds a key among a mapping's entries: a linear scan for the small mappings manifests are
/// made of, a hash map past [`KeyIndex::SMALL`] entries. Also remembers which entries came from a
/// merge key (only allocated once a merge happens).
#[derive(Default)]
pub(super) struct KeyIndex {
    pub(super) map: Option<HashMap<String, usize>>,
    pub(super) merged: Option<Vec<bool>>,
}

impl KeyIndex {
    const SMALL: usize = 16;

    pub(super) fn get(&self, entries: &[YEntry], key: &str) -> Option<(usize, Origin)> {
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

    pub(super) fn set_origin(&mut self, i: usize, origin: Origin) {
        if origin == Origin::Merged || self.merged.is_some() {
            let m = self.merged.get_or_insert_with(Vec::new);
            if m.len() <= i {
                m.resize(i + 1, false);
            }
            m[i] = origin == Origin::Merged;
        }
    }

    /// Record that `key` is entry `i` (about to be pushed after `entries`).
    pub(super) fn push(&mut self, entries: &[YEntry], key: &str, i: usize, origin: Origin) {
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
    pub(super) fn path(&self) -> String {
        let mut p = String::new();
        for s in &self.segs {
            p = match s {
                Seg::Key(k) => push_key(&p, &key_text(k)),
                Seg::Index(i) => push_index(&p, *i),
            };
        }
        p
    }

    pub(super) fn fail(&self, node: &RawNode, message: String) -> Problem {
        Problem {
            rule_id: UNDECODABLE,
            line: Some(node.line),
            column: Some(node.column),
            object: None,
            field: self.path(),
            message,
        }
    }

    pub(super) fn count(&mut self, node: &RawNode) -> Result<(), Problem> {
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
    pub(super) fn scalar(&mut self, node: &RawNode, take: bool) -> Result<YValue, Problem> {
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

    pub(super) fn expand(&mut self, node: &'r RawNode, depth: usize) -> Result<YNode, Problem> {
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

    pub(super) fn key(&mut self, key: &RawNode) -> Result<String, Problem> {
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

    pub(super) fn mapping(
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

    pub(super) fn set(
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
    pub(super) fn merge_sources(
        &mut self,
        v: &'r RawNode,
        depth: usize,
    ) -> Result<Vec<YEntry>, Problem> {
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

pub(super) fn deref(node: &RawNode) -> &RawNode {
    let mut n = node;
    // Aliases point at finished nodes, which cannot be aliases to themselves.
    while let RawKind::Alias(t) = &n.kind {
        n = t;
    }
    n
}

pub(super) fn is_merge_key(k: &RawNode) -> bool {
    match &k.kind {
        RawKind::Scalar { text, style, tag } => {
            *text.borrow() == "<<"
                && ((*style == ScalarStyle::Plain && tag.is_none())
                    || core_tag(tag) == Some("merge"))
        }
        _ => false,
    }
}
