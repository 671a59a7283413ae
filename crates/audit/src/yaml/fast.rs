//! A line scanner for the plain block YAML most manifests are written in, producing the same
//! events (and positions) `saphyr-parser` would, at a fraction of the cost.
//!
//! It reads only this subset: one document per chunk (an optional `---` line first), ASCII text
//! without tabs or carriage returns, space indentation, block mappings (`key: value`, `key:` with
//! the value on the following lines), block sequences (`- item`, also at the indentation of the
//! key that holds them), single-line plain, double-quoted (without escapes) and single-quoted
//! (without `''`) scalars, the empty flow collections `{}` and `[]`, and comments. Anything else
//! — a block scalar, an anchor, a tag, a flow collection with content, an empty value, a
//! multi-line scalar, `?` keys, directives, `...` — makes [`scan`] give up (`None`) and the chunk
//! is read by `saphyr-parser` instead, so this is never the only reader of a construct it might
//! get wrong: it only decides when to step aside.

use super::Chunk;
use saphyr_parser::{Event, ScalarStyle};
use std::borrow::Cow;

/// An event with its 1-based line and column.
pub(super) type Positioned<'a> = (Event<'a>, u32, u32);

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Map,
    Seq,
}

struct Block {
    kind: Kind,
    /// 0-based column of the block's keys or dashes.
    indent: usize,
}

struct Scan<'a, 'o> {
    out: &'o mut Vec<Positioned<'a>>,
    stack: Vec<Block>,
    /// Column of a `key:` whose value starts on a following line.
    pending: Option<usize>,
    /// Whether the document's root node has been started.
    rooted: bool,
    line: u32,
}

/// The events of a chunk, or `None` if it is not in the subset this scanner reads (then `out`
/// holds garbage).
pub(super) fn scan<'a>(chunk: &Chunk<'a>, out: &mut Vec<Positioned<'a>>) -> Option<()> {
    let text = chunk.text;
    if !text.is_ascii() || text.bytes().any(|b| b == b'\t' || b == b'\r') {
        return None;
    }
    let mut s = Scan {
        out,
        stack: Vec::new(),
        pending: None,
        rooted: false,
        line: 0,
    };
    let mut started = false;
    for (i, raw) in split_lines(text).enumerate() {
        s.line = chunk.first_line + i as u32;
        let content = raw.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = raw.len() - content.len();
        if indent == 0 && (content.starts_with("---") || content.starts_with("...")) {
            // Only a `---` line alone (or with a comment) opening the chunk.
            let rest = &content[3..];
            if started || !content.starts_with("---") || !blank_or_comment(rest) {
                return None;
            }
            s.out.push((Event::DocumentStart(true), s.line, 1));
            started = true;
            continue;
        }
        if indent == 0 && content.starts_with('%') {
            return None;
        }
        if !started {
            s.out
                .push((Event::DocumentStart(false), s.line, indent as u32 + 1));
            started = true;
        }
        s.content_line(indent, content)?;
    }
    if !s.rooted || s.pending.is_some() {
        return None;
    }
    while let Some(b) = s.stack.pop() {
        s.end(b.kind);
    }
    s.out.push((Event::DocumentEnd, s.line, 1));
    Some(())
}

/// `text.split('\n')` with a plain byte loop: the lines of manifests are a few dozen bytes,
/// where `split`'s `memchr` set-up per line costs more than the search.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let t = rest?;
        match find_byte(t, b'\n') {
            Some(i) => {
                rest = Some(&t[i + 1..]);
                Some(&t[..i])
            }
            None => {
                rest = None;
                Some(t)
            }
        }
    })
}

/// Whether the rest of a line after a token is empty or a comment.
fn blank_or_comment(rest: &str) -> bool {
    let t = rest.trim_start_matches(' ');
    t.is_empty() || (t.starts_with('#') && t.len() < rest.len())
}

/// The first `b` in `s` (a byte loop: cheaper than a char search on short strings).
fn find_byte(s: &str, b: u8) -> Option<usize> {
    s.bytes().position(|c| c == b)
}

/// Where a comment (`#` after a space) starts in `s`, at its space.
fn comment_start(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (1..b.len())
        .find(|&i| b[i] == b'#' && b[i - 1] == b' ')
        .map(|i| i - 1)
}

/// `- ` (a sequence item) at the start of `content`.
fn is_dash(content: &str) -> bool {
    content.starts_with("- ")
}

/// Whether a plain scalar may start with these bytes (YAML's indicators may not, except `-`
/// before a non-space).
fn plain_start(s: &str) -> bool {
    let b = s.as_bytes();
    match b.first() {
        None => false,
        Some(b'-') => b.get(1).is_some_and(|&c| c != b' '),
        Some(c) => !b"?:,[]{}#&*!|>'\"%@`".contains(c),
    }
}

impl<'a> Scan<'a, '_> {
    fn end(&mut self, kind: Kind) {
        let e = match kind {
            Kind::Map => Event::MappingEnd,
            Kind::Seq => Event::SequenceEnd,
        };
        self.out.push((e, self.line, 1));
    }

    fn top_is(&self, kind: Kind, indent: usize) -> bool {
        self.stack
            .last()
            .is_some_and(|b| b.kind == kind && b.indent == indent)
    }

    fn content_line(&mut self, indent: usize, content: &'a str) -> Option<()> {
        if let Some(p) = self.pending.take() {
            // The value of `key:` (at column p): a more indented node, or a sequence at the
            // key's own indentation.
            if indent > p || (indent == p && is_dash(content)) {
                return self.node(indent, content, true);
            }
            return None;
        }
        while self.stack.last().is_some_and(|b| b.indent > indent) {
            let b = self.stack.pop()?;
            self.end(b.kind);
        }
        // A sequence at its key's indentation ends at the next key.
        if self.top_is(Kind::Seq, indent) && !is_dash(content) {
            self.stack.pop();
            self.end(Kind::Seq);
        }
        match self.stack.last() {
            Some(b) if b.indent == indent => self.node(indent, content, false),
            None if !self.rooted => self.node(indent, content, true),
            _ => None,
        }
    }

    /// A node starting at column `col`; `open` says a new block may start here.
    fn node(&mut self, col: usize, content: &'a str, open: bool) -> Option<()> {
        if is_dash(content) {
            let rest = &content[1..];
            let item = rest.trim_start_matches(' ');
            if item.is_empty() || item.starts_with('#') || is_dash(item) {
                return None;
            }
            let item_col = col + 1 + (rest.len() - item.len());
            if !self.top_is(Kind::Seq, col) {
                // saphyr-parser places a sequence written at its key's indentation at its
                // first item, any other at its first dash.
                let indentless = self.top_is(Kind::Map, col);
                self.open(Kind::Seq, col, open)?;
                if indentless {
                    if let Some(last) = self.out.last_mut() {
                        last.2 = item_col as u32 + 1;
                    }
                }
            }
            return self.node(item_col, item, true);
        }
        if let Some((key, style, value, vcol)) = split_key(content, col)? {
            if !self.top_is(Kind::Map, col) {
                self.open(Kind::Map, col, open)?;
            }
            self.out.push((
                Event::Scalar(Cow::Borrowed(key), style, 0, None),
                self.line,
                col as u32 + 1,
            ));
            if value.is_empty() {
                self.pending = Some(col);
                return Some(());
            }
            return self.value(value, vcol);
        }
        // A scalar alone: an item, or a value on the line after its key; never a root.
        if !open || self.stack.is_empty() {
            return None;
        }
        self.value(content, col)
    }

    fn open(&mut self, kind: Kind, col: usize, open: bool) -> Option<()> {
        if !open || (self.stack.is_empty() && self.rooted) {
            return None;
        }
        self.rooted = true;
        self.stack.push(Block { kind, indent: col });
        let e = match kind {
            Kind::Map => Event::MappingStart(0, None),
            Kind::Seq => Event::SequenceStart(0, None),
        };
        self.out.push((e, self.line, col as u32 + 1));
        Some(())
    }

    /// A value on the line of its key or dash: a scalar, `{}` or `[]`.
    fn value(&mut self, v: &'a str, col: usize) -> Option<()> {
        let (line, column) = (self.line, col as u32 + 1);
        for (flow, start, end) in [
            ("{}", Event::MappingStart(0, None), Event::MappingEnd),
            ("[]", Event::SequenceStart(0, None), Event::SequenceEnd),
        ] {
            if let Some(rest) = v.strip_prefix(flow) {
                if !blank_or_comment(rest) {
                    return None;
                }
                self.out.push((start, line, column));
                self.out.push((end, line, column));
                return Some(());
            }
        }
        let (text, style, rest) = scalar(v)?;
        if !blank_or_comment(rest) {
            return None;
        }
        self.out.push((
            Event::Scalar(Cow::Borrowed(text), style, 0, None),
            line,
            column,
        ));
        Some(())
    }
}

/// A scalar at the start of `v`: its text, style and what follows it on the line.
fn scalar(v: &str) -> Option<(&str, ScalarStyle, &str)> {
    match v.as_bytes()[0] {
        b'"' => {
            let end = find_byte(&v[1..], b'"')? + 1;
            let text = &v[1..end];
            if text.contains('\\') {
                return None;
            }
            Some((text, ScalarStyle::DoubleQuoted, &v[end + 1..]))
        }
        b'\'' => {
            let end = find_byte(&v[1..], b'\'')? + 1;
            if v.as_bytes().get(end + 1) == Some(&b'\'') {
                return None;
            }
            Some((&v[1..end], ScalarStyle::SingleQuoted, &v[end + 1..]))
        }
        _ => {
            if !plain_start(v) {
                return None;
            }
            let end = comment_start(v).unwrap_or(v.len());
            let text = v[..end].trim_end_matches(' ');
            if text.as_bytes().windows(2).any(|w| w == b": ") || text.ends_with(':') {
                return None;
            }
            Some((text, ScalarStyle::Plain, &v[end..]))
        }
    }
}

/// If `content` (at column `col`) is `key: value` or `key:`, the key, its style, the value
/// (empty when it is on the following lines) and the value's column. `Some(None)`: not a key.
#[allow(clippy::type_complexity)]
fn split_key(content: &str, col: usize) -> Option<Option<(&str, ScalarStyle, &str, usize)>> {
    let (key, style, after) = match content.as_bytes()[0] {
        b'"' | b'\'' => {
            let (text, style, rest) = scalar(content)?;
            match rest.strip_prefix(':') {
                Some(after) if after.is_empty() || after.starts_with(' ') => (text, style, after),
                _ => return Some(None),
            }
        }
        _ => {
            let b = content.as_bytes();
            let mut colon = None;
            for i in 0..b.len() {
                if b[i] == b'#' && i > 0 && b[i - 1] == b' ' {
                    break;
                }
                if b[i] == b':' && (i + 1 == b.len() || b[i + 1] == b' ') {
                    colon = Some(i);
                    break;
                }
            }
            let Some(i) = colon else {
                return Some(None);
            };
            let key = &content[..i];
            if !plain_start(key) || key.ends_with(' ') {
                return None;
            }
            (key, ScalarStyle::Plain, &content[i + 1..])
        }
    };
    if key.len() > 1024 {
        return None;
    }
    let value = after.trim_start_matches(' ');
    if value.starts_with('#') || value.is_empty() {
        if !value.is_empty() && value.len() == after.len() {
            return None;
        }
        return Some(Some((key, style, "", 0)));
    }
    let vcol = col + (content.len() - value.len());
    Some(Some((key, style, value, vcol)))
}

#[cfg(test)]
mod tests {
    use super::split_lines;

    #[test]
    fn split_lines_is_split_on_newline() {
        for t in [
            "",
            "\n",
            "a",
            "a\n",
            "\na",
            "a\nb",
            "a\n\nb\n",
            "  x: 1\n  y: 2",
        ] {
            let ours: Vec<&str> = split_lines(t).collect();
            let std: Vec<&str> = t.split('\n').collect();
            assert_eq!(ours, std, "{t:?}");
        }
    }
}
