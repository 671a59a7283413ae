//! Dockerfile / Containerfile reader: a small lexer that reads the file the way BuildKit's
//! parser does, into [`policy::dockerfile::Dockerfile`].
//!
//! What it handles, in BuildKit's order:
//! 1. parser directives at the very top (`# syntax=`, `# escape=`, `# check=`), until the first
//!    line that is not a directive (a blank line, a comment, an instruction);
//! 2. comment lines (`#` as the first non-blank character) and blank lines, also in the middle of
//!    a continued instruction, where BuildKit drops them too;
//! 3. line continuations: the escape character (`\` or the `# escape=` one) as the last
//!    non-blank character of a line;
//! 4. heredocs on `RUN`, `COPY` and `ADD`: every word `<<NAME`, `<<-NAME`, `<<"NAME"`,
//!    `<<'NAME'` of the instruction line opens one, in order; their bodies follow the line;
//! 5. flags (`--name=value`) before the arguments, then JSON (exec) form when the arguments are a
//!    JSON array of strings, else shell form.
//!
//! Field paths are documented in `policy::dockerfile`: `globalArgs[i]`, `stages[s]` (the FROM),
//! `stages[s].instructions[i]`, `stages[s].instructions[i].heredocs[h]`; each maps to its line.
//!
//! Suppressions are comment lines `# stockade:ignore ID[,ID]: reason` anywhere in the file.

use crate::source::{FieldLines, FileReport, Item, ObjectRef, Problem, Subject, Suppression};
use policy::catalogue::Format;
use policy::dockerfile::{Args, Dockerfile, Flag, Heredoc, Instruction, Stage};

const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Instructions whose arguments may be a JSON array.
const EXEC_FORM: &[&str] = &["RUN", "CMD", "ENTRYPOINT", "SHELL", "ADD", "COPY", "VOLUME"];

/// Instructions that take heredocs.
const HEREDOC: &[&str] = &["RUN", "COPY", "ADD"];

/// What the lexer produced.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub dockerfile: Dockerfile,
    pub lines: FieldLines,
    pub suppressions: Vec<Suppression>,
    pub problems: Vec<Problem>,
}

/// Read one Dockerfile into a report with one item (`Subject::Dockerfile`).
pub fn read(path: &str, text: &str) -> FileReport {
    let mut report = FileReport::new(path, Some(Format::Dockerfile));
    let parsed = parse(text);
    let object = ObjectRef {
        kind: "Dockerfile".to_string(),
        name: path.rsplit('/').next().unwrap_or(path).to_string(),
        namespace: None,
    };
    for mut p in parsed.problems {
        p.object = Some(object.clone());
        report.problems.push(p);
    }
    report.items.push(Item {
        object,
        document: 0,
        line: 1,
        lines: parsed.lines,
        suppressions: parsed.suppressions,
        subject: Subject::Dockerfile(Box::new(parsed.dockerfile)),
    });
    report
}

fn problem(line: u32, column: u32, field: &str, message: String) -> Problem {
    Problem {
        rule_id: policy::id::SKD_INPUT_001,
        line: Some(line),
        column: Some(column),
        object: None,
        field: field.to_string(),
        message,
    }
}

/// Parse Dockerfile text.
pub fn parse(text: &str) -> Parsed {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.trim_end_matches(['\r', '\n']))
        .collect();
    let mut out = Parsed::default();
    out.dockerfile.escape = '\\';
    out.lines.insert(String::new(), 1, 1);

    // 1. Parser directives.
    let mut i = 0;
    while i < lines.len() {
        let Some((name, value)) = directive(lines[i]) else {
            break;
        };
        if name == "escape" {
            match value.as_str() {
                "\\" => out.dockerfile.escape = '\\',
                "`" => out.dockerfile.escape = '`',
                v => out.problems.push(problem(
                    i as u32 + 1,
                    1,
                    "",
                    format!("invalid escape directive {v:?}: it must be ` or \\"),
                )),
            }
        }
        if out.dockerfile.directives.iter().any(|(n, _)| *n == name) {
            out.problems.push(problem(
                i as u32 + 1,
                1,
                "",
                format!("the {name} directive is given twice"),
            ));
        }
        out.lines
            .insert(format!("directives.{name}"), i as u32 + 1, 1);
        out.dockerfile.directives.push((name, value));
        i += 1;
    }
    let escape = out.dockerfile.escape;

    // 2.-5. Instructions.
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            i += 1;
            continue;
        }
        if trimmed.starts_with('#') {
            comment(trimmed, &mut out.suppressions);
            i += 1;
            continue;
        }
        let start = i;
        let column = (line.len() - trimmed.len()) as u32 + 1;
        // Join continuation lines.
        let mut logical = String::new();
        loop {
            let l = lines[i];
            i += 1;
            match continued(l, escape) {
                Some(body) => {
                    logical.push_str(body);
                    while i < lines.len() {
                        let t = lines[i].trim_start();
                        if t.is_empty() {
                            i += 1;
                        } else if t.starts_with('#') {
                            comment(t, &mut out.suppressions);
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    if i >= lines.len() {
                        break;
                    }
                }
                None => {
                    logical.push_str(l);
                    break;
                }
            }
        }
        let logical = logical.trim();
        let (kw, rest) = split_first_word(logical);
        let keyword = kw.to_ascii_uppercase();
        let mut ins = Instruction {
            keyword: keyword.clone(),
            line: start as u32 + 1,
            ..Instruction::default()
        };

        // Flags, then arguments.
        let (rest, flag_words) = extract_flags(rest);
        let rest = rest.trim();
        for word in flag_words {
            let body = word.strip_prefix("--").unwrap_or(&word);
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            ins.flags.push(Flag {
                name: name.to_ascii_lowercase(),
                value,
            });
        }
        ins.args = if EXEC_FORM.contains(&keyword.as_str()) && rest.starts_with('[') {
            match serde_json::from_str::<Vec<String>>(rest) {
                Ok(v) => Args::Exec(v),
                Err(_) => Args::Shell(rest.to_string()),
            }
        } else {
            Args::Shell(rest.to_string())
        };

        // Heredoc bodies follow the instruction line.
        if takes_heredocs(&keyword, &ins.args) {
            for (name, strip_tabs, expand) in heredoc_words(logical) {
                let body_start = i;
                let mut body: Vec<&str> = Vec::new();
                let mut closed = false;
                while i < lines.len() {
                    let l = lines[i];
                    i += 1;
                    let l = if strip_tabs {
                        l.trim_start_matches('\t')
                    } else {
                        l
                    };
                    if l.trim_end_matches(['\r', '\n']) == name {
                        closed = true;
                        break;
                    }
                    body.push(l);
                }
                if !closed {
                    out.problems.push(problem(
                        ins.line,
                        column,
                        "",
                        format!(
                            "heredoc <<{name} opened on line {} is never closed",
                            ins.line
                        ),
                    ));
                }
                let mut content = body.join("\n");
                if closed {
                    content.push('\n');
                }
                ins.heredocs.push(Heredoc {
                    name,
                    content,
                    expand,
                    strip_tabs,
                    line: body_start as u32 + 1,
                });
            }
        }
        ins.end_line = i as u32;

        if !KEYWORDS.contains(&keyword.as_str()) {
            out.problems.push(problem(
                ins.line,
                column,
                "",
                format!("unknown instruction {kw}"),
            ));
            continue;
        }
        let df = &mut out.dockerfile;
        if keyword == "FROM" {
            let s = df.stages.len();
            ins.field = format!("stages[{s}]");
            let text = ins.args.text();
            let words: Vec<&str> = text.split_whitespace().collect();
            let base = words.first().copied().unwrap_or("").to_string();
            let name = match words.as_slice() {
                [_, as_kw, n, ..] if as_kw.eq_ignore_ascii_case("as") => {
                    Some(n.to_ascii_lowercase())
                }
                _ => None,
            };
            if base.is_empty() {
                out.problems.push(problem(
                    ins.line,
                    column,
                    &ins.field,
                    "FROM names no image".to_string(),
                ));
            }
            insert_lines(&mut out.lines, &ins, column);
            df.stages.push(Stage {
                field: ins.field.clone(),
                from: ins,
                base,
                name,
                instructions: Vec::new(),
            });
        } else if !df.stages.is_empty() {
            let s = df.stages.len() - 1;
            let stage = &mut df.stages[s];
            ins.field = format!("stages[{s}].instructions[{}]", stage.instructions.len());
            insert_lines(&mut out.lines, &ins, column);
            stage.instructions.push(ins);
        } else if keyword == "ARG" {
            ins.field = format!("globalArgs[{}]", df.global_args.len());
            insert_lines(&mut out.lines, &ins, column);
            df.global_args.push(ins);
        } else {
            out.problems.push(problem(
                ins.line,
                column,
                "",
                format!("{keyword} before the first FROM (only ARG may come before FROM)"),
            ));
        }
    }
    if out.dockerfile.stages.is_empty() {
        out.problems.push(problem(
            1,
            1,
            "",
            "no FROM instruction: this is not a Dockerfile BuildKit can build".to_string(),
        ));
    }
    out
}

fn insert_lines(lines: &mut FieldLines, ins: &Instruction, column: u32) {
    lines.insert(ins.field.clone(), ins.line, column);
    for (h, doc) in ins.heredocs.iter().enumerate() {
        lines.insert(ins.heredoc_field(h), doc.line, 1);
    }
}

/// `# name=value` at the top of the file, for a known directive.
fn directive(line: &str) -> Option<(String, String)> {
    // BuildKit, on the line without leading blanks: ^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$
    let body = line.trim_start().strip_prefix('#')?;
    let (name, value) = body.split_once('=')?;
    let name = name.trim().to_ascii_lowercase();
    let known = matches!(name.as_str(), "syntax" | "escape" | "check");
    let plain = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    if value.trim().is_empty() {
        return None;
    }
    (known && plain).then(|| (name, value.trim().to_string()))
}

/// A comment line; records a `stockade:ignore` suppression.
fn comment(trimmed: &str, suppressions: &mut Vec<Suppression>) {
    let body = trimmed.trim_start_matches('#').trim();
    let Some(rest) = body.strip_prefix("stockade:ignore") else {
        return;
    };
    let (ids, reason) = match rest.split_once(':') {
        Some((ids, reason)) => (ids, reason.trim()),
        None => (rest, ""),
    };
    let rule_ids: Vec<String> = ids
        .split([',', ' ', '\t'])
        .filter(|s| !s.is_empty())
        .map(|s| s.to_ascii_uppercase())
        .collect();
    if !rule_ids.is_empty() {
        suppressions.push(Suppression {
            rule_ids,
            reason: reason.to_string(),
        });
    }
}

/// The line without its trailing escape character, when it continues on the next line.
///
/// BuildKit: `([^E])E[ \t]*$|^E[ \t]*$` for escape character E, so an escape character that is
/// itself escaped (`\\` at the end) does not continue the line.
fn continued(line: &str, escape: char) -> Option<&str> {
    let t = line.trim_end_matches([' ', '\t']);
    let body = t.strip_suffix(escape)?;
    if body.ends_with(escape) {
        return None;
    }
    Some(body)
}

fn split_first_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(p) => (&s[..p], &s[p..]),
        None => (s, ""),
    }
}

/// Whether an instruction's body lines may be heredocs: RUN, COPY, ADD in shell form, also as
/// the command of an ONBUILD (BuildKit's `canContainHeredoc`).
fn takes_heredocs(keyword: &str, args: &Args) -> bool {
    let Args::Shell(text) = args else {
        return false;
    };
    let kw = if keyword == "ONBUILD" {
        let (sub, rest) = split_first_word(text);
        let sub = sub.to_ascii_uppercase();
        if rest.trim_start().starts_with('[') && EXEC_FORM.contains(&sub.as_str()) {
            return false;
        }
        sub
    } else {
        keyword.to_string()
    };
    HEREDOC.contains(&kw.as_str())
}

/// Heredoc openers among the words of an instruction line: (name, strip tabs, expand).
///
/// As BuildKit's `heredocsFromLine` and `ParseHeredoc`: the whole logical line is split into
/// words with raw quotes and escapes, always with `\` as the escape (a quoted `"<<EOF"` is one
/// word that is not an opener); a word `[digits]<<[-]REST` whose REST is non-empty and holds no
/// `<` opens one. The delimiter is REST with quotes and escapes removed, and the body is expanded
/// only when REST held no quotes. REST is taken whole: `<<EOF>out` is closed by the line
/// `EOF>out`, as in BuildKit.
fn heredoc_words(line: &str) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    for w in raw_words(line, '\\') {
        let Some((fd, spec)) = w.split_once("<<") else {
            continue;
        };
        if !fd.bytes().all(|b| b.is_ascii_digit()) || spec.contains('<') {
            continue; // not an opener, or a here-string <<<
        }
        let (strip_tabs, rest) = match spec.strip_prefix('-') {
            Some(s) => (true, s),
            None => (false, spec),
        };
        let mut words = unquoted_words(rest);
        if words.len() != 1 {
            continue;
        }
        let name = words.remove(0);
        if name.is_empty() {
            continue;
        }
        out.push((name, strip_tabs, !rest.contains(['"', '\''])));
    }
    out
}

/// Words with quotes and backslash escapes removed.
fn unquoted_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                for d in chars.by_ref() {
                    if d == '\'' {
                        break;
                    }
                    cur.push(d);
                }
            }
            '"' => {
                in_word = true;
                while let Some(d) = chars.next() {
                    match d {
                        '"' => break,
                        '\\' => cur.extend(chars.next()),
                        d => cur.push(d),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Split the leading `--flag` words off an instruction's arguments, as BuildKit's
/// `extractBuilderFlags`: quotes inside a flag word are removed (`--security="insecure"` is
/// `--security=insecure`), `\` escapes the next character, and a bare `--` ends the flags.
fn extract_flags(line: &str) -> (&str, Vec<String>) {
    let b = line.as_bytes();
    let mut words = Vec::new();
    let mut pos = 0;
    loop {
        while pos < b.len() && (b[pos] as char).is_ascii_whitespace() {
            pos += 1;
        }
        if pos >= b.len() {
            return ("", words);
        }
        if !(b[pos] == b'-' && b.get(pos + 1) == Some(&b'-')) {
            return (&line[pos..], words);
        }
        // One flag word, up to unquoted whitespace.
        let mut word: Vec<u8> = Vec::new();
        let mut quote: Option<u8> = None;
        while pos < b.len() {
            let c = b[pos];
            match quote {
                None if (c as char).is_ascii_whitespace() => break,
                None if c == b'\'' || c == b'"' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ if c == b'\\' => {
                    if pos + 1 < b.len() {
                        pos += 1;
                        word.push(b[pos]);
                    }
                }
                _ => word.push(c),
            }
            pos += 1;
        }
        let word = String::from_utf8_lossy(&word).into_owned();
        if word == "--" {
            return (&line[pos..], words);
        }
        if !word.is_empty() {
            words.push(word);
        }
    }
}

/// Split on unquoted blanks, keeping quotes and escapes as written.
fn raw_words(line: &str, escape: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == escape && q == '"' {
                    if let Some(d) = chars.next() {
                        cur.push(d);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None if c == ' ' || c == '\t' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            None => {
                cur.push(c);
                if c == escape {
                    if let Some(d) = chars.next() {
                        cur.push(d);
                    }
                } else if c == '"' || c == '\'' {
                    quote = Some(c);
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_openers() {
        let h =
            heredoc_words(r#"RUN <<EOF cat <<-"X" > f "<<NOT" <<<str <<'Y' 3<<Z <<E>out <<E"O"F"#);
        let names: Vec<(&str, bool, bool)> =
            h.iter().map(|(n, t, e)| (n.as_str(), *t, *e)).collect();
        assert_eq!(
            names,
            vec![
                ("EOF", false, true),
                ("X", true, false),
                ("Y", false, false),
                ("Z", false, true),
                ("E>out", false, true),
                ("EOF", false, false)
            ]
        );
    }

    #[test]
    fn flags_like_buildkit() {
        let (rest, f) =
            extract_flags(r#"--security="insecure" --mount=type=bind,"source=/x" -- --not-a-flag"#);
        assert_eq!(
            f,
            vec!["--security=insecure", "--mount=type=bind,source=/x"]
        );
        assert_eq!(rest.trim(), "--not-a-flag");
        let (rest, f) = extract_flags("  --network=host echo --x");
        assert_eq!(f, vec!["--network=host"]);
        assert_eq!(rest, "echo --x");
    }

    #[test]
    fn continuation_uses_escape() {
        assert_eq!(continued("RUN a \\\\", '\\'), None);
        assert_eq!(continued("\\", '\\'), Some(""));
        assert_eq!(continued("RUN a \\  ", '\\'), Some("RUN a "));
        assert_eq!(continued("RUN a `", '`'), Some("RUN a "));
        assert_eq!(continued("RUN a \\", '`'), None);
    }
}
