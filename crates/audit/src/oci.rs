//! OCI runtime `config.json` reader: decodes into `oci_spec::runtime::Spec` with serde_json and
//! maps every field path to its line with a small JSON position scanner (serde_json gives no
//! positions for values that decode).
//!
//! A config that does not decode is a [`Problem`] of SKD-INPUT-001 naming the line, column and
//! the innermost field that contains the error. Suppressions: the annotation
//! `stockade.io/ignore: "ID[,ID]: reason"` in `annotations`.

use crate::source::{
    push_index, push_key, FieldLines, FileReport, Item, ObjectRef, Problem, Subject, Suppression,
};
use policy::catalogue::Format;

/// Nesting deeper than this is not scanned (serde_json refuses more than 128 levels anyway).
const MAX_DEPTH: usize = 128;

/// A (line, byte column) position, both 1-based.
pub type Pos = (u32, u32);

/// Where each value of a JSON document starts and ends.
#[derive(Debug, Clone, Default)]
pub struct JsonPositions {
    /// Line and column of every field path: the key for an object member, the value for an array
    /// element, `(1, 1)`-ish for the root `""`.
    pub lines: FieldLines,
    /// (path, start, end) of every value, in document order; positions are (line, byte column),
    /// 1-based, like serde_json's errors; `end` is the value's last character.
    pub spans: Vec<(String, Pos, Pos)>,
}

impl JsonPositions {
    /// The innermost field whose value contains the position (line, column).
    pub fn field_at(&self, line: u32, column: u32) -> Option<&str> {
        self.innermost(&[(line, column)])
    }

    /// The field a serde_json error is about. serde_json reports most errors at the last
    /// character of the offending value, but errors raised after a value was read (a custom
    /// `Deserialize` refusing a string) one character later, so the character before also
    /// counts, except for `missing field`, which is reported at the enclosing object's `}`.
    pub fn error_field(&self, e: &serde_json::Error) -> Option<&str> {
        let (line, column) = (e.line() as u32, e.column() as u32);
        if e.to_string().starts_with("missing field") || column <= 1 {
            return self.field_at(line, column);
        }
        self.innermost(&[(line, column), (line, column - 1)])
    }

    fn innermost(&self, points: &[(u32, u32)]) -> Option<&str> {
        self.spans
            .iter()
            .filter(|(_, s, e)| points.iter().any(|p| s <= p && p <= e))
            .max_by_key(|(_, s, _)| *s)
            .map(|(f, _, _)| f.as_str())
    }
}

/// Scan a JSON document for the positions of its fields. Stops quietly at the first syntax error
/// (the decoder reports it), keeping what it found before.
pub fn json_positions(text: &str) -> JsonPositions {
    let mut s = Scanner {
        b: text.as_bytes(),
        i: 0,
        line: 1,
        col: 1,
        out: JsonPositions::default(),
    };
    s.ws();
    let start = s.pos();
    s.out.lines.insert(String::new(), start.0, start.1);
    let _ = s.value("", 0, start);
    s.out
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    line: u32,
    col: u32,
    out: JsonPositions,
}

impl Scanner<'_> {
    fn pos(&self) -> (u32, u32) {
        (self.line, self.col)
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        if c == b'\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.bump();
        }
    }

    /// Scan a value whose first character is at `start`; record its span under `path`. A value
    /// cut short by a syntax error still gets a span, up to the error.
    fn value(&mut self, path: &str, depth: usize, start: (u32, u32)) -> Result<(), ()> {
        if depth > MAX_DEPTH {
            return Err(());
        }
        let r = self.value_inner(path, depth, start);
        if r.is_err() {
            let here = self.pos();
            self.out.spans.push((path.to_string(), start, here));
        }
        r
    }

    fn value_inner(&mut self, path: &str, depth: usize, start: (u32, u32)) -> Result<(), ()> {
        let mut end = start;
        match self.peek().ok_or(())? {
            b'{' => {
                self.bump();
                self.ws();
                if self.peek() == Some(b'}') {
                    end = self.pos();
                    self.bump();
                } else {
                    loop {
                        self.ws();
                        let key_pos = self.pos();
                        let key = self.string()?;
                        self.ws();
                        if self.bump() != Some(b':') {
                            return Err(());
                        }
                        self.ws();
                        let p = push_key(path, &key);
                        self.out.lines.insert(p.clone(), key_pos.0, key_pos.1);
                        let vstart = self.pos();
                        self.value(&p, depth + 1, vstart)?;
                        self.ws();
                        end = self.pos();
                        match self.bump() {
                            Some(b',') => continue,
                            Some(b'}') => break,
                            _ => return Err(()),
                        }
                    }
                }
            }
            b'[' => {
                self.bump();
                self.ws();
                if self.peek() == Some(b']') {
                    end = self.pos();
                    self.bump();
                } else {
                    let mut idx = 0;
                    loop {
                        self.ws();
                        let p = push_index(path, idx);
                        let vstart = self.pos();
                        self.out.lines.insert(p.clone(), vstart.0, vstart.1);
                        self.value(&p, depth + 1, vstart)?;
                        idx += 1;
                        self.ws();
                        end = self.pos();
                        match self.bump() {
                            Some(b',') => continue,
                            Some(b']') => break,
                            _ => return Err(()),
                        }
                    }
                }
            }
            b'"' => {
                self.string()?;
                end = (self.line, self.col.saturating_sub(1).max(1));
            }
            _ => {
                let mut any = false;
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    end = self.pos();
                    self.bump();
                    any = true;
                }
                if !any {
                    return Err(());
                }
            }
        }
        self.out.spans.push((path.to_string(), start, end));
        Ok(())
    }

    /// A JSON string, decoded.
    fn string(&mut self) -> Result<String, ()> {
        if self.bump() != Some(b'"') {
            return Err(());
        }
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            match self.bump().ok_or(())? {
                b'"' => break,
                b'\\' => match self.bump().ok_or(())? {
                    b'"' => bytes.push(b'"'),
                    b'\\' => bytes.push(b'\\'),
                    b'/' => bytes.push(b'/'),
                    b'b' => bytes.push(8),
                    b'f' => bytes.push(12),
                    b'n' => bytes.push(b'\n'),
                    b'r' => bytes.push(b'\r'),
                    b't' => bytes.push(b'\t'),
                    b'u' => {
                        let mut cp = self.hex4()?;
                        if (0xD800..0xDC00).contains(&cp) && self.peek() == Some(b'\\') {
                            self.bump();
                            if self.bump() != Some(b'u') {
                                return Err(());
                            }
                            let lo = self.hex4()?;
                            if (0xDC00..0xE000).contains(&lo) {
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            }
                        }
                        let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                        let mut buf = [0u8; 4];
                        bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => return Err(()),
                },
                c => bytes.push(c),
            }
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn hex4(&mut self) -> Result<u32, ()> {
        let mut v = 0u32;
        for _ in 0..4 {
            let c = self.bump().ok_or(())?;
            v = v * 16 + (c as char).to_digit(16).ok_or(())?;
        }
        Ok(v)
    }
}

/// Parse `ID[,ID]: reason`.
fn suppression(value: &str) -> Option<Suppression> {
    let (ids, reason) = value.split_once(':').unwrap_or((value, ""));
    let rule_ids: Vec<String> = ids
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(|s| s.trim().to_ascii_uppercase())
        .collect();
    (!rule_ids.is_empty()).then(|| Suppression {
        rule_ids,
        reason: reason.trim().to_string(),
    })
}

/// Every key of the Linux parts of the OCI runtime spec, as `oci_spec` decodes them (generated
/// from oci-spec 0.10's runtime structs).
const SPEC_KEYS: &[&str] = &[
    "access",
    "action",
    "additionalGids",
    "allow",
    "ambient",
    "annotations",
    "apparmorProfile",
    "architectures",
    "args",
    "blockIO",
    "bounding",
    "burst",
    "capabilities",
    "cgroupsPath",
    "checkBeforeUpdate",
    "class",
    "classID",
    "closID",
    "commandLine",
    "consoleSize",
    "containerID",
    "cpu",
    "cpus",
    "createContainer",
    "createRuntime",
    "cwd",
    "deadline",
    "defaultAction",
    "defaultErrnoRet",
    "destination",
    "devices",
    "disableOOMKiller",
    "domain",
    "domainname",
    "effective",
    "enableCmt",
    "enableMbm",
    "enableMonitoring",
    "env",
    "errnoRet",
    "execCPUAffinity",
    "fileMode",
    "final",
    "flags",
    "gid",
    "gidMappings",
    "hard",
    "hcaHandles",
    "hcaObjects",
    "height",
    "hooks",
    "hostID",
    "hostname",
    "hugepageLimits",
    "idle",
    "index",
    "inheritable",
    "initial",
    "intelRdt",
    "ioPriority",
    "kernel",
    "kernelTCP",
    "l3CacheSchema",
    "leafWeight",
    "limit",
    "linux",
    "listenerMetadata",
    "listenerPath",
    "major",
    "maskedPaths",
    "memBwSchema",
    "memory",
    "memoryPolicy",
    "mems",
    "minor",
    "mode",
    "mountLabel",
    "mounts",
    "name",
    "names",
    "namespaces",
    "nanosecs",
    "netDevices",
    "network",
    "nice",
    "noNewPrivileges",
    "nodes",
    "ociVersion",
    "oomScoreAdj",
    "op",
    "options",
    "pageSize",
    "path",
    "period",
    "permitted",
    "personality",
    "pids",
    "policy",
    "poststart",
    "poststop",
    "prestart",
    "priorities",
    "priority",
    "process",
    "quota",
    "rate",
    "rdma",
    "readonly",
    "readonlyPaths",
    "realtimePeriod",
    "realtimeRuntime",
    "reservation",
    "resources",
    "rlimits",
    "root",
    "rootfsPropagation",
    "runtime",
    "scheduler",
    "schemata",
    "seccomp",
    "secs",
    "selinuxLabel",
    "shares",
    "size",
    "soft",
    "solaris",
    "source",
    "startContainer",
    "swap",
    "swappiness",
    "syscalls",
    "sysctl",
    "terminal",
    "throttleReadBpsDevice",
    "throttleReadIOPSDevice",
    "throttleWriteBpsDevice",
    "throttleWriteIOPSDevice",
    "timeOffsets",
    "timeout",
    "type",
    "uid",
    "uidMappings",
    "umask",
    "unified",
    "useHierarchy",
    "user",
    "username",
    "value",
    "valueTwo",
    "vm",
    "weight",
    "weightDevice",
    "width",
    "windows",
    "zos",
];

/// Keys whose values are maps with free-form keys.
const MAP_KEYS: &[&str] = &[
    "annotations",
    "sysctl",
    "unified",
    "netDevices",
    "rdma",
    "timeOffsets",
    "windows",
    "solaris",
    "vm",
    "zos",
];

/// Fold a key the way Go's encoding/json matches struct fields: ASCII case-insensitively, plus
/// the two non-ASCII letters whose simple case folding reaches ASCII (`ſ` → s, Kelvin `K` → k).
fn go_fold(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '\u{17f}' => 's',
            '\u{212a}' => 'k',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// The first key that a Go runtime (runc) would read as a spec field but this decoder would
/// ignore: `"NoNewPrivileges"`, `"Bounding"`, `"capabilitieſ"`. Returns (path, canonical key).
fn go_case_alias(v: &serde_json::Value, path: &str) -> Option<(String, &'static str)> {
    use serde_json::Value;
    match v {
        Value::Object(o) => o.iter().find_map(|(k, child)| {
            let here = push_key(path, k);
            if !SPEC_KEYS.contains(&k.as_str()) {
                let f = go_fold(k);
                if let Some(canon) = SPEC_KEYS.iter().find(|n| n.to_ascii_lowercase() == f) {
                    return Some((here, *canon));
                }
            }
            if MAP_KEYS.contains(&k.as_str()) {
                return None;
            }
            go_case_alias(child, &here)
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, child)| go_case_alias(child, &push_index(path, i))),
        _ => None,
    }
}

/// Why a config.json is not a usable OCI config: position, field and reason.
struct DecodeError {
    line: u32,
    column: u32,
    field: String,
    reason: String,
}

impl DecodeError {
    fn from_serde(e: &serde_json::Error, positions: &JsonPositions) -> Self {
        let full = e.to_string();
        let reason = full
            .rsplit_once(" at line ")
            .map_or(full.as_str(), |(r, _)| r)
            .to_string();
        DecodeError {
            line: (e.line() as u32).max(1),
            column: (e.column() as u32).max(1),
            field: positions.error_field(e).unwrap_or("").to_string(),
            reason,
        }
    }

    fn at_field(field: String, positions: &JsonPositions, reason: String) -> Self {
        let (line, column) = positions.lines.position(&field).unwrap_or((1, 1));
        DecodeError {
            line,
            column,
            field,
            reason,
        }
    }
}

/// Decode a config the way a Go runtime would accept it, or say why not.
///
/// Beyond serde_json's own checks: the top level must be an object, and no object of the spec
/// may be written as a JSON array (serde accepts a struct as a positional array; runc does not,
/// and the audit must not read a different config than the runtime), and no key may differ from
/// a spec key only in case (Go's encoding/json, which runc uses, matches keys case-insensitively;
/// serde ignores them, so `"NoNewPrivileges": false` would be seen by runc and not by the audit).
fn decode(text: &str, positions: &JsonPositions) -> Result<oci_spec::runtime::Spec, DecodeError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| DecodeError::from_serde(&e, positions))?;
    if !value.is_object() {
        return Err(DecodeError::at_field(
            String::new(),
            positions,
            "the top level must be a JSON object".to_string(),
        ));
    }
    if let Some((field, canon)) = go_case_alias(&value, "") {
        return Err(DecodeError::at_field(
            field.clone(),
            positions,
            format!(
                "{field}: runc reads this key as {canon:?} (Go matches JSON keys without regard to case) \
                 but other tools ignore it; write {canon:?}"
            ),
        ));
    }
    let spec: oci_spec::runtime::Spec =
        serde_json::from_str(text).map_err(|e| DecodeError::from_serde(&e, positions))?;
    if let Ok(ser) = serde_json::to_value(&spec) {
        if let Some(field) = positional(&value, &ser, "") {
            return Err(DecodeError::at_field(
                field.clone(),
                positions,
                format!("{field} is a JSON array where the OCI spec has an object"),
            ));
        }
    }
    Ok(spec)
}

/// The first path where the document has an array and the decoded spec an object.
fn positional(orig: &serde_json::Value, ser: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match (orig, ser) {
        (Value::Array(_), Value::Object(_)) => Some(path.to_string()),
        (Value::Object(o), Value::Object(s)) => s.iter().find_map(|(k, sv)| {
            o.get(k)
                .and_then(|ov| positional(ov, sv, &push_key(path, k)))
        }),
        (Value::Array(o), Value::Array(s)) => o
            .iter()
            .zip(s)
            .enumerate()
            .find_map(|(i, (ov, sv))| positional(ov, sv, &push_index(path, i))),
        _ => None,
    }
}

/// Read one config.json into a report: one item (`Subject::Oci`) or one SKD-INPUT-001 problem.
pub fn read(path: &str, text: &str) -> FileReport {
    let mut report = FileReport::new(path, Some(Format::Oci));
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let positions = json_positions(text);
    let file_name = path.rsplit('/').next().unwrap_or(path).to_string();
    match decode(text, &positions) {
        Err(e) => {
            let at = if e.field.is_empty() {
                String::new()
            } else {
                format!(" (in {})", e.field)
            };
            report.problems.push(Problem {
                rule_id: policy::id::SKD_INPUT_001,
                line: Some(e.line),
                column: Some(e.column),
                object: Some(ObjectRef {
                    kind: "config.json".to_string(),
                    name: file_name,
                    namespace: None,
                }),
                field: e.field,
                message: format!("not a valid OCI runtime config: {}{at}", e.reason),
            });
        }
        Ok(mut spec) => {
            // root.path as it resolves next to this file (SKD-ESC-050: a
            // symlink or bind mount to the host's root), when it is a file here.
            let file = std::path::Path::new(path);
            if file.is_file() {
                let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
                policy::oci::resolve_root_path(&mut spec, dir.unwrap_or(std::path::Path::new(".")));
            }
            let suppressions = spec
                .annotations()
                .as_ref()
                .and_then(|a| a.get("stockade.io/ignore"))
                .and_then(|v| suppression(v))
                .into_iter()
                .collect();
            let name = spec
                .hostname()
                .clone()
                .filter(|h| !h.is_empty())
                .unwrap_or(file_name);
            report.items.push(Item {
                object: ObjectRef {
                    kind: "config.json".to_string(),
                    name,
                    namespace: None,
                },
                document: 0,
                line: 1,
                lines: positions.lines,
                suppressions,
                subject: Subject::Oci(Box::new(spec)),
            });
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_and_elements() {
        let text = "{\n  \"a\": {\"b\": [1, {\"c\": \"x\\\"y\"}]},\n  \"d.e\": true\n}";
        let p = json_positions(text);
        assert_eq!(p.lines.position("a"), Some((2, 3)));
        assert_eq!(p.lines.position("a.b[1].c"), Some((2, 19)));
        assert_eq!(p.lines.position("['d.e']"), Some((3, 3)));
        assert_eq!(p.field_at(2, 25), Some("a.b[1].c"));
        assert_eq!(p.field_at(3, 11), Some("['d.e']"));
    }

    #[test]
    fn stops_at_syntax_errors_and_deep_nesting() {
        let p = json_positions("{\"a\": 1, \"b\": [");
        assert_eq!(p.lines.position("a"), Some((1, 2)));
        let deep = "[".repeat(100_000);
        let _ = json_positions(&deep);
    }
}
