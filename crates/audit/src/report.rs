//! Reporters: text for people, JSON (versioned schema `stockade.audit/v1`, documented in
//! docs/output.md), and SARIF 2.1.0 for code-scanning UIs.

use crate::run::{AuditReport, Finding, Sink, Totals};
use policy::catalogue::{Rule, Severity};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// The JSON schema id; bumped on any incompatible change.
pub const JSON_SCHEMA: &str = "stockade.audit/v1";

fn object_label(f: &Finding) -> String {
    match &f.object {
        Some(o) => match &o.namespace {
            Some(ns) => format!("{} {}/{}", o.kind, ns, o.name),
            None if o.name.is_empty() => o.kind.clone(),
            None => format!("{} {}", o.kind, o.name),
        },
        None => "(document)".to_string(),
    }
}

fn paint(color: bool, code: &str, s: &str) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Info => "2",
    }
}

/// Text for people: grouped by file and object, one line per finding with its position, severity,
/// rule id and message, then the fix. Suppressed findings are counted, not listed.
pub fn text(report: &AuditReport, color: bool) -> String {
    let mut t = TextWriter::new(Vec::new(), color);
    // Writing to a vector cannot fail.
    let _ = t.findings(&report.findings);
    let out = t.finish(&report.totals()).unwrap_or_default();
    String::from_utf8(out).unwrap_or_default()
}

/// The text report written as the findings come ([`text`] for a whole report): each batch's
/// findings grouped by file and object, the summary at the end.
pub struct TextWriter<W: std::io::Write> {
    w: W,
    color: bool,
    /// The file whose findings were written last.
    file: Option<std::sync::Arc<str>>,
}

impl<W: std::io::Write> TextWriter<W> {
    pub fn new(w: W, color: bool) -> Self {
        TextWriter {
            w,
            color,
            file: None,
        }
    }

    /// Write the skipped files and the summary; give the writer back.
    pub fn finish(mut self, totals: &Totals) -> std::io::Result<W> {
        let mut out = String::new();
        if self.file.is_some() {
            out.push('\n');
        }
        for s in &totals.skipped {
            let _ = writeln!(out, "{}: skipped: {}", s.file, s.reason);
        }
        let mut notes = Vec::new();
        if !totals.skipped.is_empty() {
            notes.push(format!(
                "{} files skipped as not manifests (--strict fails on them)",
                totals.skipped.len()
            ));
        }
        if totals.symlinks > 0 {
            notes.push(format!("{} symbolic links followed", totals.symlinks));
        }
        let mut sev_counts = Vec::new();
        for s in Severity::ALL.iter().rev() {
            let n = totals.of(*s);
            if n > 0 {
                sev_counts.push(format!("{n} {s}"));
            }
        }
        let summary = if totals.findings() == 0 {
            "no findings".to_string()
        } else {
            format!("{} findings ({})", totals.findings(), sev_counts.join(", "))
        };
        let _ = writeln!(
            out,
            "{} in {} objects across {} files{}",
            summary,
            totals.objects,
            totals.files,
            if totals.suppressed > 0 {
                format!("; {} suppressed", totals.suppressed)
            } else {
                String::new()
            }
        );
        for n in notes {
            let _ = writeln!(out, "{n}");
        }
        self.w.write_all(out.as_bytes())?;
        Ok(self.w)
    }
}

impl<W: std::io::Write> Sink for TextWriter<W> {
    fn findings(&mut self, batch: &[Finding]) -> std::io::Result<()> {
        let color = self.color;
        let mut out = String::new();
        let mut rest = batch;
        while let Some(first) = rest.first() {
            let n = rest
                .iter()
                .position(|f| !std::sync::Arc::ptr_eq(&f.file, &first.file) && f.file != first.file)
                .unwrap_or(rest.len());
            let (group, tail) = rest.split_at(n);
            rest = tail;
            let mut objects: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
            for f in group.iter().filter(|f| f.suppressed.is_none()) {
                objects.entry(object_label(f)).or_default().push(f);
            }
            if objects.is_empty() {
                continue;
            }
            if self.file.as_deref() != Some(&*first.file) {
                if self.file.is_some() {
                    out.push('\n');
                }
                let _ = writeln!(out, "{}", paint(color, "1;4", &first.file));
                self.file = Some(first.file.clone());
            }
            for (obj, findings) in &objects {
                let _ = writeln!(out, "  {}", paint(color, "1", obj));
                for f in findings {
                    let pos = match (f.line, f.column) {
                        (Some(l), Some(c)) => format!("{l}:{c}"),
                        (Some(l), None) => format!("{l}"),
                        _ => "-".to_string(),
                    };
                    let sev = format!("{:<8}", f.rule.severity.as_str());
                    let _ = writeln!(
                        out,
                        "    {:>7}  {}  {}  {}",
                        pos,
                        paint(color, severity_color(f.rule.severity), &sev),
                        paint(color, "1", &f.rule.id),
                        f.message
                    );
                    let _ = writeln!(
                        out,
                        "    {:>7}  {}",
                        "",
                        paint(color, "2", &format!("fix: {}", f.rule.remediation))
                    );
                }
            }
        }
        self.w.write_all(out.as_bytes())
    }
}

/// The JSON form of a rule, shared by `stockade rules --format json` and the reports.
pub fn rule_json(r: &Rule) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

#[derive(serde::Serialize)]
struct JsonFinding<'a> {
    rule_id: &'a str,
    rule: &'a str,
    title: &'a str,
    severity: Severity,
    level: policy::Level,
    pss: bool,
    upstream: Option<&'a str>,
    file: &'a str,
    line: Option<u32>,
    column: Option<u32>,
    object: Option<&'a crate::source::ObjectRef>,
    field: &'a str,
    message: &'a str,
    remediation: &'a str,
    suppressed: Option<&'a crate::run::Suppressed>,
}

#[derive(serde::Serialize)]
struct JsonTool {
    name: &'static str,
    version: &'static str,
}

#[derive(serde::Serialize)]
struct JsonSummary {
    files: usize,
    objects: usize,
    findings: usize,
    suppressed: usize,
    by_severity: BTreeMap<&'static str, usize>,
    /// Files recognised as not manifests and skipped (listed under `skipped`).
    not_manifests: usize,
    /// Symbolic links followed in directory walks.
    symlinks_followed: usize,
}

/// The JSON report (schema `stockade.audit/v1`), borrowing from the audit report; serialize it
/// straight to a writer (`serde_json::to_writer_pretty`) so no intermediate tree is built.
#[derive(serde::Serialize)]
pub struct JsonReport<'a> {
    schema: &'static str,
    tool: JsonTool,
    summary: JsonSummary,
    findings: Vec<JsonFinding<'a>>,
    skipped: &'a [crate::run::Skipped],
}

fn json_finding(f: &Finding) -> JsonFinding<'_> {
    JsonFinding {
        rule_id: &f.rule.id,
        rule: &f.rule.slug,
        title: &f.rule.title,
        severity: f.rule.severity,
        level: f.rule.level,
        pss: f.rule.pss,
        upstream: f.rule.upstream.as_deref(),
        file: &f.file,
        line: f.line,
        column: f.column,
        object: f.object.as_deref(),
        field: &f.field,
        message: &f.message,
        remediation: &f.rule.remediation,
        suppressed: f.suppressed.as_ref(),
    }
}

/// JSON output (schema `stockade.audit/v1`).
pub fn json(report: &AuditReport) -> JsonReport<'_> {
    let findings = report.findings.iter().map(json_finding).collect();
    let mut by_severity = BTreeMap::new();
    for s in Severity::ALL {
        by_severity.insert(
            s.as_str(),
            report
                .findings
                .iter()
                .filter(|f| f.suppressed.is_none() && f.rule.severity == s)
                .count(),
        );
    }
    let suppressed = report
        .findings
        .iter()
        .filter(|f| f.suppressed.is_some())
        .count();
    JsonReport {
        schema: JSON_SCHEMA,
        tool: JsonTool {
            name: "stockade",
            version: env!("CARGO_PKG_VERSION"),
        },
        summary: JsonSummary {
            files: report.files,
            objects: report.objects,
            findings: report.findings.len() - suppressed,
            suppressed,
            by_severity,
            not_manifests: report.skipped.len(),
            symlinks_followed: report.symlinks,
        },
        findings,
        skipped: &report.skipped,
    }
}

/// Write the JSON report (schema `stockade.audit/v1`) to `w`: the same bytes as
/// `serde_json::to_writer_pretty(w, &json(report))`, written faster (see [`JsonWriter`]).
pub fn write_json<W: std::io::Write>(report: &AuditReport, w: W) -> std::io::Result<()> {
    let mut j = JsonWriter::default();
    j.findings(&report.findings)?;
    j.finish(&report.totals(), w)
}

/// The JSON report written as the findings come. The summary comes first in the document and is
/// known only at the end, so the findings are kept meanwhile: in memory up to a few megabytes,
/// then in an unlinked temporary file (in `$TMPDIR`), so that memory stays flat however many
/// findings there are. They are kept compactly (see [`Spool`]): only what differs from finding
/// to finding, a file or object only when it changes; their JSON is written at the end straight
/// to the output — strings with nothing to escape copied as they are, the others escaped by
/// `serde_json` — and the small parts around them by `serde_json`.
#[derive(Default)]
pub struct JsonWriter {
    spool: Spool,
    rules: RuleBytes,
    written: usize,
    /// The file and object of the finding kept last (a record names them only when they change).
    file: Option<std::sync::Arc<str>>,
    object: Option<std::sync::Arc<crate::source::ObjectRef>>,
}

impl Sink for JsonWriter {
    fn findings(&mut self, batch: &[Finding]) -> std::io::Result<()> {
        for f in batch {
            let new_file = !self
                .file
                .as_ref()
                .is_some_and(|k| std::sync::Arc::ptr_eq(k, &f.file));
            if new_file {
                self.file = Some(f.file.clone());
            }
            let new_object = match &f.object {
                Some(o) => {
                    let new = !self
                        .object
                        .as_ref()
                        .is_some_and(|k| std::sync::Arc::ptr_eq(k, o));
                    if new {
                        self.object = Some(o.clone());
                    }
                    new
                }
                None => false,
            };
            let slot = self.rules.slot(&json_finding(f));
            self.spool.record(f, slot, new_file, new_object);
            self.written += 1;
            self.spool.spill_if_full()?;
        }
        Ok(())
    }
}

impl JsonWriter {
    /// Write the whole document to `w`.
    pub fn finish<W: std::io::Write>(self, totals: &Totals, mut w: W) -> std::io::Result<()> {
        let mut by_severity = BTreeMap::new();
        for s in Severity::ALL {
            by_severity.insert(s.as_str(), totals.of(s));
        }
        let summary = JsonSummary {
            files: totals.files,
            objects: totals.objects,
            findings: totals.findings(),
            suppressed: totals.suppressed,
            by_severity,
            not_manifests: totals.skipped.len(),
            symlinks_followed: totals.symlinks,
        };
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        buf.extend_from_slice(b"{\n  \"schema\": ");
        push_str(&mut buf, JSON_SCHEMA);
        buf.extend_from_slice(b",\n  \"tool\": ");
        push_pretty(
            &mut buf,
            &JsonTool {
                name: "stockade",
                version: env!("CARGO_PKG_VERSION"),
            },
        )?;
        buf.extend_from_slice(b",\n  \"summary\": ");
        push_pretty(&mut buf, &summary)?;
        buf.extend_from_slice(b",\n  \"findings\": [");
        self.spool
            .replay(self.written, &self.rules, &mut buf, &mut w)?;
        if self.written > 0 {
            buf.extend_from_slice(b"\n  ");
        }
        buf.extend_from_slice(b"],\n  \"skipped\": ");
        push_pretty(&mut buf, &totals.skipped)?;
        buf.extend_from_slice(b"\n}");
        w.write_all(&buf)
    }
}

/// Findings kept for later: in memory, then in an unlinked temporary file past
/// [`Spool::MEMORY`]. One record per finding: a flags byte ([`Spool::LINE`] ...), the rule's
/// slot in [`RuleBytes`] (u32), the line and column if any (u32 each), the file if it differs
/// from the previous record's, the object's kind, name and namespace if it differs, the field,
/// the message, and the suppression's source and reason if suppressed; strings as a u32 length
/// and their bytes, numbers little-endian. Records are only ever read back in order.
#[derive(Default)]
struct Spool {
    buf: Vec<u8>,
    file: Option<std::fs::File>,
}

impl Spool {
    const MEMORY: usize = 4 * 1024 * 1024;
    const LINE: u8 = 1;
    const COLUMN: u8 = 2;
    const NEW_FILE: u8 = 4;
    const OBJECT: u8 = 8;
    const NEW_OBJECT: u8 = 16;
    const NAMESPACE: u8 = 32;
    const SUPPRESSED: u8 = 64;

    fn record(&mut self, f: &Finding, slot: u32, new_file: bool, new_object: bool) {
        let b = &mut self.buf;
        if b.capacity() == 0 {
            // Its whole size at once (it is cleared, not freed, when spilled): growing it by
            // doubling copied it each time onto fresh pages.
            b.reserve(Self::MEMORY + 64 * 1024);
        }
        let mut flags = 0;
        for (on, bit) in [
            (f.line.is_some(), Self::LINE),
            (f.column.is_some(), Self::COLUMN),
            (new_file, Self::NEW_FILE),
            (f.object.is_some(), Self::OBJECT),
            (new_object, Self::NEW_OBJECT),
            (
                f.object.as_ref().is_some_and(|o| o.namespace.is_some()),
                Self::NAMESPACE,
            ),
            (f.suppressed.is_some(), Self::SUPPRESSED),
        ] {
            if on {
                flags |= bit;
            }
        }
        b.push(flags);
        b.extend_from_slice(&slot.to_le_bytes());
        for n in [f.line, f.column].into_iter().flatten() {
            b.extend_from_slice(&n.to_le_bytes());
        }
        let text = |b: &mut Vec<u8>, s: &str| {
            // A string longer than 4 GiB cannot come from an input within the size limits.
            b.extend_from_slice(&(s.len() as u32).to_le_bytes());
            b.extend_from_slice(s.as_bytes());
        };
        if new_file {
            text(b, &f.file);
        }
        if let (true, Some(o)) = (new_object, &f.object) {
            text(b, &o.kind);
            text(b, &o.name);
            if let Some(ns) = &o.namespace {
                text(b, ns);
            }
        }
        text(b, &f.field);
        text(b, &f.message);
        if let Some(s) = &f.suppressed {
            text(b, s.source);
            text(b, &s.reason);
        }
    }

    fn spill_if_full(&mut self) -> std::io::Result<()> {
        use std::io::Write;
        if self.buf.len() < Self::MEMORY {
            return Ok(());
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(temp_file()?),
        };
        file.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Write the JSON of the `n` findings kept, `,`-separated, to `w` after what `out` holds
    /// (`out` is the output buffer, handed back empty).
    fn replay<W: std::io::Write>(
        mut self,
        n: usize,
        rules: &RuleBytes,
        out: &mut Vec<u8>,
        w: &mut W,
    ) -> std::io::Result<()> {
        use std::io::{Read, Seek};
        let mut boxed: Box<dyn Read + '_> = match self.file.take() {
            Some(mut f) => {
                f.seek(std::io::SeekFrom::Start(0))?;
                Box::new(std::io::BufReader::with_capacity(256 * 1024, f).chain(&self.buf[..]))
            }
            None => Box::new(&self.buf[..]),
        };
        let r: &mut dyn Read = &mut *boxed;
        let bad = |what: &str| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the report's temporary file is damaged ({what})"),
            )
        };
        let u32_ = |r: &mut dyn Read| -> std::io::Result<u32> {
            let mut x = [0u8; 4];
            r.read_exact(&mut x)?;
            Ok(u32::from_le_bytes(x))
        };
        let text = |r: &mut dyn Read, s: &mut String| -> std::io::Result<()> {
            let len = u32_(r)? as usize;
            let mut bytes = std::mem::take(s).into_bytes();
            bytes.clear();
            bytes.resize(len, 0);
            r.read_exact(&mut bytes)?;
            *s = String::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
            Ok(())
        };
        let (mut file, mut kind, mut name, mut ns) =
            (String::new(), String::new(), String::new(), String::new());
        let (mut field, mut message, mut source, mut reason) =
            (String::new(), String::new(), String::new(), String::new());
        for i in 0..n {
            let mut flags = [0u8];
            r.read_exact(&mut flags)?;
            let flags = flags[0];
            let has = |bit: u8| flags & bit != 0;
            let slot = u32_(r)? as usize;
            let (head, rem) = rules.get(slot).ok_or_else(|| bad("rule"))?;
            let line = if has(Self::LINE) {
                Some(u32_(r)?)
            } else {
                None
            };
            let column = if has(Self::COLUMN) {
                Some(u32_(r)?)
            } else {
                None
            };
            if has(Self::NEW_FILE) {
                text(r, &mut file)?;
            }
            if has(Self::NEW_OBJECT) {
                text(r, &mut kind)?;
                text(r, &mut name)?;
                if has(Self::NAMESPACE) {
                    text(r, &mut ns)?;
                }
            }
            text(r, &mut field)?;
            text(r, &mut message)?;
            if has(Self::SUPPRESSED) {
                text(r, &mut source)?;
                text(r, &mut reason)?;
            }
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(head);
            push_finding(
                out,
                &FindingParts {
                    file: &file,
                    line,
                    column,
                    object: has(Self::OBJECT).then_some((
                        kind.as_str(),
                        name.as_str(),
                        has(Self::NAMESPACE).then_some(ns.as_str()),
                    )),
                    field: &field,
                    message: &message,
                    suppressed: has(Self::SUPPRESSED).then_some((source.as_str(), reason.as_str())),
                },
                rem,
            );
            if out.len() >= 64 * 1024 {
                w.write_all(out)?;
                out.clear();
            }
        }
        w.write_all(out)?;
        out.clear();
        Ok(())
    }
}

/// A new file in `$TMPDIR` (mode 0600, opened close-on-exec by the standard library), unlinked
/// at once so that nothing is left behind however the process ends.
pub(crate) fn temp_file() -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir();
    for _ in 0..16 {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!(
            ".stockade-audit-{}-{n}-{nanos}.spool",
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => {
                std::fs::remove_file(&path)?;
                return Ok(f);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("creating a temporary file in {}: {e}", dir.display()),
                ))
            }
        }
    }
    Err(std::io::Error::other(format!(
        "no free temporary file name in {}",
        dir.display()
    )))
}

/// A value pretty-printed by `serde_json`, indented one level.
fn push_pretty<T: serde::Serialize>(buf: &mut Vec<u8>, v: &T) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(v)?;
    // Newlines inside JSON strings are escaped, so every raw newline starts a line.
    for &b in &text {
        buf.push(b);
        if b == b'\n' {
            buf.extend_from_slice(b"  ");
        }
    }
    Ok(())
}

/// A JSON string, escaped as `serde_json` escapes it.
fn push_str(buf: &mut Vec<u8>, s: &str) {
    if !needs_escape(s.as_bytes()) {
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    } else if serde_json::to_writer(&mut *buf, s).is_err() {
        // Writing to a vector cannot fail.
        buf.extend_from_slice(b"null");
    }
}

/// Whether `s` has a byte JSON escapes (a control character, `"` or `\\`), eight bytes at a
/// time.
fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `v` is zero: the classic test, exact as to whether any byte is.
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(c);
        let v = u64::from_le_bytes(word);
        // Below 0x20: subtracting 0x20 borrows into the high bit only for such bytes (bytes
        // from 0x80 up have their high bit set in `v`, so `!v` clears it).
        let control = v.wrapping_sub(ONES * 0x20) & !v & HIGH != 0;
        if control
            || has_zero(v ^ (ONES * u64::from(b'"')))
            || has_zero(v ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

fn push_u32(buf: &mut Vec<u8>, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// One finding, at the indentation of the `findings` array's items, with its leading newline.
/// The JSON of a finding's fields that depend only on its rule (everything up to `upstream`,
/// and `remediation`), written once per rule: a report repeats a few dozen rules tens of
/// thousands of times, and escaping their long titles and remediations again each time was
/// most of the output's cost. Keyed by the address of the rule's id (catalogue rules live for
/// the whole run).
#[derive(Default)]
struct RuleBytes {
    rules: Vec<(usize, Vec<u8>, Vec<u8>)>,
}

impl RuleBytes {
    /// The slot of a finding's rule, its bytes written the first time.
    fn slot(&mut self, f: &JsonFinding<'_>) -> u32 {
        let id = f.rule_id.as_ptr() as usize;
        let i = match self.rules.iter().position(|(k, _, _)| *k == id) {
            Some(i) => i,
            None => {
                let mut head = Vec::new();
                push_rule_head(&mut head, f);
                let mut rem = Vec::new();
                push_str(&mut rem, f.remediation);
                self.rules.push((id, head, rem));
                self.rules.len() - 1
            }
        };
        // A catalogue has a few hundred rules.
        i as u32
    }

    /// The head (through `upstream`) and the remediation of the rule in `slot`.
    fn get(&self, slot: usize) -> Option<(&[u8], &[u8])> {
        self.rules
            .get(slot)
            .map(|(_, head, rem)| (head.as_slice(), rem.as_slice()))
    }
}

const I: &[u8] = b"\n      ";

fn key(buf: &mut Vec<u8>, first: bool, name: &str) {
    if !first {
        buf.push(b',');
    }
    buf.extend_from_slice(I);
    buf.push(b'"');
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b"\": ");
}

/// From the opening brace through `upstream`: the fields a finding takes from its rule.
fn push_rule_head(buf: &mut Vec<u8>, f: &JsonFinding<'_>) {
    buf.extend_from_slice(b"\n    {");
    key(buf, true, "rule_id");
    push_str(buf, f.rule_id);
    key(buf, false, "rule");
    push_str(buf, f.rule);
    key(buf, false, "title");
    push_str(buf, f.title);
    key(buf, false, "severity");
    push_str(buf, f.severity.as_str());
    key(buf, false, "level");
    push_str(buf, f.level.as_str());
    key(buf, false, "pss");
    buf.extend_from_slice(if f.pss { b"true" } else { b"false" });
    key(buf, false, "upstream");
    match f.upstream {
        Some(s) => push_str(buf, s),
        None => buf.extend_from_slice(b"null"),
    }
}

/// What a finding's JSON takes from the finding itself (the rest comes from its rule).
struct FindingParts<'a> {
    file: &'a str,
    line: Option<u32>,
    column: Option<u32>,
    /// Kind, name, namespace.
    object: Option<(&'a str, &'a str, Option<&'a str>)>,
    field: &'a str,
    message: &'a str,
    /// Source, reason.
    suppressed: Option<(&'a str, &'a str)>,
}

/// A finding's fields after its rule's head, `remediation` being the rule's (JSON) bytes.
fn push_finding(buf: &mut Vec<u8>, f: &FindingParts<'_>, remediation: &[u8]) {
    let opt_u32 = |buf: &mut Vec<u8>, v: Option<u32>| match v {
        Some(n) => push_u32(buf, n),
        None => buf.extend_from_slice(b"null"),
    };
    key(buf, false, "file");
    push_str(buf, f.file);
    key(buf, false, "line");
    opt_u32(buf, f.line);
    key(buf, false, "column");
    opt_u32(buf, f.column);
    key(buf, false, "object");
    match f.object {
        Some((kind, name, namespace)) => {
            buf.extend_from_slice(b"{\n        \"kind\": ");
            push_str(buf, kind);
            buf.extend_from_slice(b",\n        \"name\": ");
            push_str(buf, name);
            if let Some(ns) = namespace {
                buf.extend_from_slice(b",\n        \"namespace\": ");
                push_str(buf, ns);
            }
            buf.extend_from_slice(b"\n      }");
        }
        None => buf.extend_from_slice(b"null"),
    }
    key(buf, false, "field");
    push_str(buf, f.field);
    key(buf, false, "message");
    push_str(buf, f.message);
    key(buf, false, "remediation");
    buf.extend_from_slice(remediation);
    key(buf, false, "suppressed");
    match f.suppressed {
        Some((source, reason)) => {
            buf.extend_from_slice(b"{\n        \"source\": ");
            push_str(buf, source);
            buf.extend_from_slice(b",\n        \"reason\": ");
            push_str(buf, reason);
            buf.extend_from_slice(b"\n      }");
        }
        None => buf.extend_from_slice(b"null"),
    }
    buf.extend_from_slice(b"\n    }");
}

/// The SARIF level of a severity (shared with `stockade image`).
pub fn sarif_level(s: Severity) -> serde_sarif::sarif::ResultLevel {
    use serde_sarif::sarif::ResultLevel;
    match s {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low | Severity::Info => ResultLevel::Note,
    }
}

/// GitHub code scanning reads `security-severity` (0.0–10.0) from rule properties.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

/// A rule as a SARIF reporting descriptor (shared with `stockade image`).
pub fn sarif_rule(r: &Rule) -> serde_sarif::sarif::ReportingDescriptor {
    use serde_sarif::sarif::{
        MultiformatMessageString, PropertyBag, ReportingConfiguration, ReportingDescriptor,
    };
    let mut props = BTreeMap::new();
    props.insert(
        "security-severity".to_string(),
        json!(security_severity(r.severity)),
    );
    props.insert("severity".to_string(), json!(r.severity));
    props.insert("level".to_string(), json!(r.level));
    if let Some(u) = &r.upstream {
        props.insert("pss-check".to_string(), json!(u));
    }
    let mut tags = vec!["security".to_string(), "container-escape".to_string()];
    if r.pss {
        tags.push("pod-security-standards".to_string());
    }
    let help_text = format!(
        "{}\n\nPrevents: {}\n\nFix: {}",
        r.checks,
        r.prevents.join("; "),
        r.remediation
    );
    let help_md = format!(
        "**{}**\n\n{}\n\n**Prevents:** {}\n\n**Fix:** {}",
        r.title,
        r.checks,
        r.prevents.join("; "),
        r.remediation
    );
    ReportingDescriptor::builder()
        .id(r.id.clone())
        .name(r.slug.clone())
        .short_description(
            MultiformatMessageString::builder()
                .text(r.title.clone())
                .build(),
        )
        .full_description(
            MultiformatMessageString::builder()
                .text(r.checks.clone())
                .build(),
        )
        .help(
            MultiformatMessageString::builder()
                .text(help_text)
                .markdown(help_md)
                .build(),
        )
        .default_configuration(
            ReportingConfiguration::builder()
                .level(json!(sarif_level(r.severity).to_string()))
                .build(),
        )
        .properties(
            PropertyBag::builder()
                .tags(tags)
                .additional_properties(props)
                .build(),
        )
        .build()
}

/// SARIF 2.1.0 output: one run, the rules that fired as tool rules (with help), results with
/// physical locations, suppressed findings as results carrying a `suppressions` entry.
pub fn sarif(report: &AuditReport) -> serde_sarif::sarif::Sarif {
    use serde_sarif::sarif::{
        ArtifactLocation, Location, Message, PhysicalLocation, PropertyBag, Region, Result,
        Suppression,
    };
    let (rules, index) = sarif_rules(report.findings.iter().map(|f| f.rule.id.as_str()));
    let results: Vec<Result> = report
        .findings
        .iter()
        .map(|f| {
            let uri = f.file.trim_start_matches("./").to_string();
            let mut region = Region::builder().build();
            region.start_line = f.line.map(i64::from);
            region.start_column = f.column.map(i64::from);
            let location = Location::builder()
                .physical_location(
                    PhysicalLocation::builder()
                        .artifact_location(ArtifactLocation::builder().uri(uri).build())
                        .region(region)
                        .build(),
                )
                .build();
            let mut props = BTreeMap::new();
            props.insert("field".to_string(), json!(f.field));
            if let Some(o) = &f.object {
                props.insert("object".to_string(), json!(o.as_ref()));
            }
            let mut r = Result::builder()
                .message(Message::builder().text(f.message.clone()).build())
                .rule_id(f.rule.id.clone())
                .level(sarif_level(f.rule.severity))
                .locations(vec![location])
                .properties(PropertyBag::builder().additional_properties(props).build())
                .build();
            r.rule_index = index.get(f.rule.id.as_str()).map(|&i| i as i64);
            if let Some(s) = &f.suppressed {
                r.suppressions = Some(vec![Suppression::builder()
                    .kind(json!(if s.source == "annotation" {
                        "inSource"
                    } else {
                        "external"
                    }))
                    .justification(s.reason.clone())
                    .build()]);
            }
            r
        })
        .collect();
    sarif_document("stockade", rules, results)
}

/// The catalogue rules that findings name (`ids`, repeats allowed), in catalogue order, and each
/// one's position in that list (a SARIF result's `ruleIndex`). Every SARIF writer (audit, image,
/// host) describes its rules this way.
pub fn sarif_rules<'a>(
    ids: impl IntoIterator<Item = &'a str>,
) -> (Vec<&'static Rule>, BTreeMap<&'static str, usize>) {
    let ids: BTreeSet<&str> = ids.into_iter().collect();
    let rules: Vec<&'static Rule> = policy::catalogue()
        .rules()
        .iter()
        .filter(|r| ids.contains(r.id.as_str()))
        .collect();
    let index = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    (rules, index)
}

/// A SARIF 2.1.0 document of one run by `tool`, with `rules` (from [`sarif_rules`]) as the
/// driver's rule descriptors and `results`.
pub fn sarif_document(
    tool: &str,
    rules: Vec<&Rule>,
    results: Vec<serde_sarif::sarif::Result>,
) -> serde_sarif::sarif::Sarif {
    use serde_sarif::sarif::{Run, Sarif, Tool, ToolComponent};
    let driver = ToolComponent::builder()
        .name(tool)
        .version(env!("CARGO_PKG_VERSION"))
        .rules(rules.into_iter().map(sarif_rule).collect::<Vec<_>>())
        .build();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .build();
    Sarif::builder()
        .schema(serde_sarif::sarif::SCHEMA_URL)
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build()
}

/// The given rules as Markdown: docs/rules.md is this output over the whole catalogue (a test
/// fails when it is stale); `stockade rules --format markdown --level ...` passes the filtered set.
pub fn rules_markdown(rules: &[&Rule]) -> String {
    let mut out = String::new();
    out.push_str("<!-- Generated by `stockade rules --format markdown`; do not edit. -->\n");
    out.push_str("# Stockade rule catalogue\n\n");
    out.push_str(
        "Every rule has a stable id used by every moment: `stockade audit` and `stockade admission` \
         (declared), the runtime's policy gate (started) and `stockade watch` (running). \
         `Level` is the lowest policy level (`baseline` ⊂ `restricted` ⊂ `hardened`) at which the \
         rule applies; PSS rules mirror the Kubernetes pod-security-admission check named in \
         `Upstream`.\n\n",
    );
    out.push_str("| Id | Rule | Severity | Level | PSS | Formats | Moments |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    let fmt_list = |v: Vec<String>| v.join(", ");
    for r in rules {
        let _ = writeln!(
            out,
            "| [{id}](#{anchor}) | {title} | {sev} | {lvl} | {pss} | {formats} | {moments} |",
            id = r.id,
            anchor = r.id.to_ascii_lowercase(),
            title = r.title,
            sev = r.severity,
            lvl = r.level,
            pss = r.upstream.as_deref().unwrap_or(""),
            formats = fmt_list(
                r.formats
                    .iter()
                    .map(|f| format!("{f:?}").to_ascii_lowercase())
                    .collect()
            ),
            moments = fmt_list(
                r.moments
                    .iter()
                    .map(|m| format!("{m:?}").to_ascii_lowercase())
                    .collect()
            ),
        );
    }
    out.push('\n');
    for r in rules {
        out.push_str(&explain_markdown(r));
        out.push('\n');
    }
    out
}

/// One rule as Markdown (a section of docs/rules.md).
pub fn explain_markdown(r: &Rule) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## {}\n", r.id);
    let _ = writeln!(out, "**{}** (`{}`)\n", r.title, r.slug);
    let _ = writeln!(out, "- Severity: {}", r.severity);
    let _ = writeln!(out, "- Level: {}", r.level);
    if let Some(u) = &r.upstream {
        let _ = writeln!(out, "- Pod Security check: `{u}`");
    }
    if let Some(e) = &r.pss_equivalent {
        let _ = writeln!(out, "- On Kubernetes objects reported as: {e}");
    }
    let _ = writeln!(out, "- Checks: {}", r.checks);
    let _ = writeln!(out, "- Prevents: {}", r.prevents.join("; "));
    if let Some(w) = &r.watch {
        let _ = writeln!(out, "- Seen by `stockade watch`: {}", w.describe());
    }
    let _ = writeln!(out, "- Fix: {}", r.remediation);
    for (name, values) in &r.params {
        let shown: Vec<String> = values.iter().map(|v| format!("`{}`", v.trim())).collect();
        let _ = writeln!(out, "- Parameter `{name}`: {}", shown.join(", "));
    }
    out
}

/// One rule as text for `stockade explain`.
pub fn explain_text(r: &Rule) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}  {}  ({})", r.id, r.title, r.slug);
    let _ = writeln!(out, "severity:    {}", r.severity);
    let _ = writeln!(out, "level:       {}", r.level);
    if let Some(u) = &r.upstream {
        let _ = writeln!(out, "pss check:   {u}");
    }
    if let Some(e) = &r.pss_equivalent {
        let _ = writeln!(out, "on pods:     reported as {e}");
    }
    let fmts: Vec<String> = r
        .formats
        .iter()
        .map(|f| format!("{f:?}").to_ascii_lowercase())
        .collect();
    let moments: Vec<String> = r
        .moments
        .iter()
        .map(|m| format!("{m:?}").to_ascii_lowercase())
        .collect();
    let _ = writeln!(out, "formats:     {}", fmts.join(", "));
    let _ = writeln!(out, "moments:     {}", moments.join(", "));
    let _ = writeln!(out, "checks:      {}", r.checks);
    let _ = writeln!(out, "prevents:    {}", r.prevents.join("; "));
    if let Some(w) = &r.watch {
        let _ = writeln!(out, "watch:       {}", w.describe());
    }
    let _ = writeln!(out, "fix:         {}", r.remediation);
    for (name, values) in &r.params {
        let _ = writeln!(out, "{name}:");
        for v in values {
            let _ = writeln!(out, "  {}", v.trim());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Finding, Skipped, Suppressed};
    use crate::source::ObjectRef;

    fn finding(id: policy::RuleId, file: &str, n: u32) -> Finding {
        Finding {
            rule: policy::rule(id),
            file: file.into(),
            line: (n % 3 != 0).then_some(n),
            column: (n % 2 == 0).then_some(n * 7),
            object: (n % 4 != 1).then(|| {
                std::sync::Arc::new(ObjectRef {
                    kind: "Deployment".into(),
                    name: format!("w{n} \"quoted\" ü"),
                    namespace: (n % 2 == 1).then(|| "ns\\x".into()),
                })
            }),
            field: format!("spec.template.spec.containers[{n}].securityContext['a.b/c']"),
            message: format!("line\nbreak\ttab \u{1} \u{7f} é {n}"),
            suppressed: (n % 5 == 0).then(|| Suppressed {
                source: "config",
                reason: "because \"reasons\"".into(),
            }),
        }
    }

    #[test]
    fn needs_escape_is_exact() {
        let naive = |s: &[u8]| s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        let clean = [
            b'a', b' ', b'!', b'#', b'[', b']', 0x7f, 0x80, 0xc3, 0xff, 0x21, 0x5d,
        ];
        let escaped = [b'"', b'\\', 0x1f, 0x00, b'\n', 0x01];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as usize
        };
        for len in 0..40 {
            for round in 0..300 {
                let mut s: Vec<u8> = (0..len).map(|_| clean[next() % clean.len()]).collect();
                if len > 0 && round % 2 == 1 {
                    let at = next() % len;
                    s[at] = escaped[next() % escaped.len()];
                }
                assert_eq!(needs_escape(&s), naive(&s), "{s:?}");
                assert_eq!(needs_escape(&s), round % 2 == 1 && len > 0);
            }
        }
    }

    /// The hand-written JSON report is byte for byte what `serde_json` writes.
    #[test]
    fn write_json_matches_serde() {
        let mut report = AuditReport {
            files: 3,
            objects: 7,
            ..AuditReport::default()
        };
        let expect = |report: &AuditReport| {
            let mut v = Vec::new();
            serde_json::to_writer_pretty(&mut v, &json(report)).unwrap();
            v
        };
        let got = |report: &AuditReport| {
            let mut v = Vec::new();
            write_json(report, &mut v).unwrap();
            v
        };
        assert_eq!(
            String::from_utf8(got(&report)),
            String::from_utf8(expect(&report))
        );
        let ids = [
            policy::id::SKD_PSS_001,
            policy::id::SKD_PSS_005,
            policy::id::SKD_INPUT_001,
            policy::id::SKD_INPUT_002,
        ];
        for n in 0..400u32 {
            report
                .findings
                .push(finding(ids[n as usize % ids.len()], "dir/a b.yaml", n));
        }
        report.skipped.push(Skipped {
            file: "big.yaml".into(),
            reason: "larger than 1 byte".into(),
        });
        let (g, e) = (got(&report), expect(&report));
        assert!(g.len() > 100 * 1024, "spans several buffer flushes");
        assert_eq!(String::from_utf8(g), String::from_utf8(e));
    }

    /// Findings that share their file and object (as a file's do), some without an object in
    /// between, and enough of them that the spool goes to its temporary file: still the bytes
    /// `serde_json` writes.
    #[test]
    fn write_json_matches_serde_past_the_spool_memory() {
        let mut report = AuditReport::default();
        let ids = [
            policy::id::SKD_PSS_001,
            policy::id::SKD_PSS_005,
            policy::id::SKD_K8S_010,
        ];
        let mut file: std::sync::Arc<str> = "first.yaml".into();
        let mut object = None;
        let mut n = 0u32;
        while report.findings.len() < 60_000 {
            if n % 7 == 0 {
                file = format!("dir/file-{n}.yaml").into();
            }
            if n % 3 == 0 {
                object = finding(ids[0], "x", n).object;
            }
            let mut f = finding(ids[n as usize % ids.len()], "x", n);
            f.file = file.clone();
            if f.object.is_some() {
                f.object = object.clone();
            }
            report.findings.push(f);
            n += 1;
        }
        let mut g = Vec::new();
        let mut j = JsonWriter::default();
        j.findings(&report.findings).unwrap();
        assert!(j.spool.file.is_some(), "the spool spilled to its file");
        j.finish(&report.totals(), &mut g).unwrap();
        let mut e = Vec::new();
        serde_json::to_writer_pretty(&mut e, &json(&report)).unwrap();
        assert_eq!(String::from_utf8(g), String::from_utf8(e));
    }
}
