//! Splitting the stream into documents (at `---` lines).

/// A piece of the input holding whole documents, with the line it starts on.
pub(super) struct Chunk<'a> {
    pub(super) text: &'a str,
    pub(super) first_line: u32,
}

/// Whether a line of a stream starts a document (`---` alone or followed by white space).
pub fn is_document_start(line: &[u8]) -> bool {
    line.strip_prefix(b"---")
        .is_some_and(|rest| rest.is_empty() || matches!(rest[0], b' ' | b'\t' | b'\r' | b'\n'))
}

pub(super) fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// Split at lines that start with `---` (a new document). Directive lines (`%...`) just before a
/// `---` go with the document they introduce.
pub(super) fn split_documents(text: &str, first_line: u32) -> Vec<Chunk<'_>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_directives_with_their_document() {
        let c = split_documents("a: 1\n...\n%YAML 1.1\n---\nb: 2\n", 1);
        assert_eq!(c.len(), 2);
        assert!(c[1].text.starts_with("%YAML"));
        assert_eq!(c[1].first_line, 3);
    }
}
