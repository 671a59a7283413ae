//! The full path, first step: a chunk parsed by `saphyr-parser` into raw trees (anchors kept
//! as shared nodes), with the limits checked while parsing; a JSON stream read as such.

use super::*;

#[derive(Debug)]
pub(super) enum RawKind {
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
pub(super) struct RawNode {
    pub(super) line: u32,
    pub(super) column: u32,
    pub(super) kind: RawKind,
}

/// A container being built.
pub(super) struct Open {
    pub(super) line: u32,
    pub(super) column: u32,
    pub(super) anchor: usize,
    pub(super) is_map: bool,
    pub(super) children: Vec<Rc<RawNode>>,
}

pub(super) struct RawDocument {
    pub(super) line: u32,
    pub(super) root: Result<Option<Rc<RawNode>>, Problem>,
    pub(super) nodes: usize,
    /// Whether the document defines anchors (so nodes may be reached more than once).
    pub(super) anchored: bool,
}

pub(super) fn input_problem(line: u32, column: u32, message: String) -> Problem {
    Problem {
        rule_id: UNDECODABLE,
        line: Some(line),
        column: Some(column),
        object: None,
        field: String::new(),
        message,
    }
}

pub(super) fn scan_problem(e: &ScanError, first_line: u32) -> Problem {
    let m = e.marker();
    input_problem(
        m.line() as u32 + first_line - 1,
        m.col() as u32 + 1,
        format!("YAML syntax error: {}", e.info()),
    )
}

/// Most under-indented quoted scalars re-indented in one chunk (each costs a re-parse).
pub(super) const MAX_REINDENTS: usize = 16;

/// Parse one chunk into its documents. Stops at the first error, which becomes the last
/// document's problem.
pub(super) fn parse_chunk(
    chunk: &Chunk<'_>,
    limits: &Limits,
    out: &mut Vec<RawDocument>,
    budget: usize,
) {
    parse_chunk_reindenting(chunk, limits, out, budget, MAX_REINDENTS)
}

/// The chunk's text with the continuation lines of the quoted scalar that starts at `line`
/// (0-based in the chunk) and character `col` indented one column deeper than the line the
/// scalar starts on. go-yaml (libyaml) does not check the indentation of a quoted scalar's
/// continuation lines, so Kubernetes reads `k: "a` / `b"` with `b` at column 0 as `"a b"`; YAML
/// 1.2 (and saphyr) refuse it. Leading white space of a continuation line is folded away, so
/// the value is the same; lines keep their numbers. `None` if no quoted scalar starts there.
pub(super) fn reindent_quoted(text: &str, line: usize, col: usize) -> Option<String> {
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
pub(super) fn pad(rest: &str, need: usize, out: &mut String) {
    let line = rest.split('\n').next().unwrap_or("");
    let have = line.len() - line.trim_start_matches(' ').len();
    if have < need && !line.trim().is_empty() {
        out.extend(std::iter::repeat_n(' ', need - have));
    }
}

pub(super) fn parse_chunk_reindenting(
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
pub(super) fn json_stream(chunk: &Chunk<'_>) -> Option<Vec<RawDocument>> {
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

pub(super) fn json_to_raw(v: &Value, line: u32, nodes: &mut usize) -> Rc<RawNode> {
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
