//! The line and column of every field of a document ([`FieldLines`]).

use super::{YNode, YValue};
use crate::fieldpath::key_segment_len;

/// Line (1-based) and column (1-based) of every field of a document.
///
/// Two forms. A table (compact: one string holding every path, 16 bytes per field; lookups scan
/// small tables and binary search a sorted index, built on first use, in large ones; the first
/// position inserted for a field wins), used by readers that record positions as they go and for
/// the few positions kept after evaluation. Or a view of the document's positioned tree
/// ([`FieldLines::tree`]): nothing is built up front, and a lookup walks the tree along the
/// field path, so only the fields that are asked for (those with findings) cost anything.
#[derive(Debug, Clone, Default)]
pub struct FieldLines {
    paths: String,
    entries: Vec<FieldEntry>,
    sorted: std::sync::OnceLock<Vec<u32>>,
    /// When set, positions come from this tree (the object at this path of the document);
    /// `paths` and `entries` are unused.
    tree: Option<(std::sync::Arc<YNode>, std::sync::Arc<str>)>,
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

    /// Positions of the object at `base` (a field path, `""` for the document itself) in the
    /// document `root`, read from the tree when asked for. Field paths are relative to `base`,
    /// as [`YNode::field_lines`] of that object would give them.
    pub fn tree(root: std::sync::Arc<YNode>, base: &str) -> Self {
        FieldLines {
            tree: Some((root, base.into())),
            ..FieldLines::default()
        }
    }

    /// The same positions as a table that does not keep the document alive.
    pub fn detached(&self) -> FieldLines {
        match self.tree_node() {
            Some(node) => node.field_lines(),
            None => self.clone(),
        }
    }

    /// The object node of a tree view.
    fn tree_node(&self) -> Option<&YNode> {
        let (root, base) = self.tree.as_ref()?;
        match tree_lookup(root, base) {
            Some((len, _, node)) if len == base.len() => Some(node),
            _ => None,
        }
    }

    pub fn insert(&mut self, field: String, line: u32, column: u32) {
        if self.tree.is_some() {
            *self = self.detached();
        }
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
        if self.tree.is_some() {
            let node = self.tree_node()?;
            return tree_lookup(node, field).map(|(_, pos, _)| pos);
        }
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
        match self.tree {
            Some(_) => self.detached().len(),
            None => self.entries.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The longest ancestor-or-self of `field` (cut at `.` or `[`) that names a node under `node`:
/// its length in `field`, its position (a mapping entry's key, a sequence item, `node` itself
/// for `""`) and the node. Paths are those [`YNode::field_lines`] writes, matched without
/// building them; among equal paths the first in document order wins, as in the table.
fn tree_lookup<'n>(node: &'n YNode, field: &str) -> Option<(usize, (u32, u32), &'n YNode)> {
    let mut best = (0, (node.line, node.column), node);
    tree_walk(node, field, 0, &mut best);
    Some(best)
}

fn tree_walk<'n>(
    node: &'n YNode,
    field: &str,
    at: usize,
    best: &mut (usize, (u32, u32), &'n YNode),
) {
    let rest = &field[at..];
    if rest.is_empty() {
        return;
    }
    let boundary = |len: usize| matches!(rest.as_bytes().get(len), None | Some(b'.' | b'['));
    let mut found = |len: usize, pos: (u32, u32), child: &'n YNode| {
        if at + len > best.0 {
            *best = (at + len, pos, child);
        }
        if len < rest.len() {
            tree_walk(child, field, at + len, best);
        }
    };
    match &node.value {
        YValue::Seq(items) => {
            let Some(inner) = rest.strip_prefix('[') else {
                return;
            };
            let digits = inner.bytes().take_while(u8::is_ascii_digit).count();
            let canonical = digits == 1 || (digits > 1 && !inner.starts_with('0'));
            if !canonical || inner.as_bytes().get(digits) != Some(&b']') {
                return;
            }
            let len = digits + 2;
            if let (true, Ok(i)) = (boundary(len), inner[..digits].parse::<usize>()) {
                if let Some(item) = items.get(i) {
                    found(len, (item.line, item.column), item);
                }
            }
        }
        YValue::Map(entries) => {
            for e in entries {
                if let Some(len) = key_segment_len(rest, &e.key, at == 0) {
                    if boundary(len) {
                        found(len, (e.line, e.column), &e.value);
                        // Keys are unique and a plain segment names one key; a quoted one
                        // (`['a']['b']`) may also be the start of a longer key.
                        if !rest.starts_with("['") {
                            return;
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn tree_positions_match_the_table() {
        let text = "a:\n  b:\n  - x: 1\n    'k.y': 2\n  - [3, 4]\n  c1: {d: 5}\n'': 6\nitems:\n- kind: Pod\n  spec: {x: 1}\n";
        let docs = crate::yaml::load(text).unwrap();
        let root = std::sync::Arc::new(docs[0].root.clone().unwrap());
        let queries = [
            "",
            "a",
            "a.b",
            "a.b[0]",
            "a.b[0].x",
            "a.b[0]['k.y']",
            "a.b[0]['k.y'].z",
            "a.b[0]['k",
            "a.b[1][1]",
            "a.b[1][2]",
            "a.b[01]",
            "a.b[1]x",
            "a.bb",
            "a.c1.d",
            "a.c1.d.e",
            "['']",
            "['']x",
            "zz",
            "items[0].spec.x",
            "items[0].spec.y[3]",
            "[0]",
            "a.",
        ];
        let table = root.field_lines();
        let tree = FieldLines::tree(root.clone(), "");
        for q in queries {
            assert_eq!(tree.position(q), table.position(q), "{q}");
        }
        let item = &root.get("items").unwrap();
        let crate::yaml::YValue::Seq(list) = &item.value else {
            panic!()
        };
        let table = list[0].field_lines();
        let tree = FieldLines::tree(root.clone(), "items[0]");
        for q in ["", "kind", "spec", "spec.x", "spec.z", "items"] {
            assert_eq!(tree.position(q), table.position(q), "{q}");
        }
        assert_eq!(tree.detached().len(), table.len());
    }
}
