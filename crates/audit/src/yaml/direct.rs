//! The direct path: resolved nodes built straight from parser events.
//!
//! Most manifests have no anchors, aliases, merge keys, tags, duplicate keys or YAML 1.1 oddities.
//! For those, the raw tree and its expansion are pure overhead, so a chunk is first read by
//! [`parse_chunk_direct`], which builds [`YNode`]s as the events arrive (one tree, children
//! gathered on shared stacks and moved into exact-size vectors). The moment it meets anything
//! else — an anchor, an alias, a tag, a `<<` key, a non-scalar or null key, a duplicate key, a
//! scalar that would be reported, a limit, a syntax error — it gives up and the chunk is read
//! again by [`parse_chunk`] and expanded, so every problem and edge case keeps a single
//! implementation. The two paths give identical documents (tested against each other).

use super::*;

/// A document of a chunk: built directly, or raw (to be expanded).
pub(super) enum Parsed {
    Built { line: u32, root: Option<YNode> },
    Raw(RawDocument),
}

/// A container being built on the direct path.
pub(super) struct Frame {
    pub(super) line: u32,
    pub(super) column: u32,
    pub(super) is_map: bool,
    /// Where this container's children start on the shared stack (`items` or `entries`).
    pub(super) start: usize,
    /// A key read, waiting for its value: text and position.
    pub(super) key: Option<(Key, u32, u32)>,
}

/// The key string a plain or quoted untagged key scalar becomes, or `None` when the direct path
/// must give up (a null key, a YAML 1.1 form that is reported, a merge key).
pub(super) fn direct_key(text: std::borrow::Cow<'_, str>, style: ScalarStyle) -> Option<Key> {
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
pub(super) fn direct_value(text: std::borrow::Cow<'_, str>, style: ScalarStyle) -> Option<YValue> {
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
pub(super) fn has_duplicate_key(entries: &[YEntry]) -> bool {
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
pub(super) fn parse_chunk_direct(
    chunk: &Chunk<'_>,
    limits: &Limits,
    out: &mut Vec<Parsed>,
) -> Option<()> {
    let chunk_start = out.len();
    let result = direct_events(chunk, limits, out);
    if result.is_none() {
        out.truncate(chunk_start);
    }
    result
}

pub(super) fn direct_events(
    chunk: &Chunk<'_>,
    limits: &Limits,
    out: &mut Vec<Parsed>,
) -> Option<()> {
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
pub(super) fn build_direct<'a>(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
