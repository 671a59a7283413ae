//! Resolved YAML nodes ([`YNode`]), their keys, and what a document gives: its JSON and
//! the line of every field.

use super::*;

/// A resolved YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct YNode {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    pub value: YValue,
}

/// A resolved YAML value, as go-yaml v2 would decode it into `interface{}`.
#[derive(Debug, Clone, PartialEq)]
pub enum YValue {
    Null,
    Bool(bool),
    /// An integer (i64 or u64).
    Int(Number),
    Float(f64),
    Str(String),
    Seq(Vec<YNode>),
    /// Entries in source order, keys unique (the last duplicate won).
    Map(Vec<YEntry>),
}

/// A mapping key. The few dozen field names most manifests are made of are shared static
/// strings (no allocation, copy or free per key); any other key owns its text. A key compares,
/// hashes, prints and dereferences as its text.
#[derive(Clone)]
pub struct Key(KeyText);

#[derive(Clone)]
pub(super) enum KeyText {
    Known(&'static str),
    Owned(String),
}

/// Field names of Kubernetes manifests (and compose files) common enough to be kept once.
pub(super) const KNOWN_KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "labels",
    "annotations",
    "app",
    "spec",
    "template",
    "selector",
    "matchLabels",
    "replicas",
    "containers",
    "initContainers",
    "image",
    "imagePullPolicy",
    "ports",
    "containerPort",
    "hostPort",
    "protocol",
    "resources",
    "limits",
    "requests",
    "memory",
    "cpu",
    "securityContext",
    "privileged",
    "capabilities",
    "add",
    "drop",
    "allowPrivilegeEscalation",
    "readOnlyRootFilesystem",
    "runAsNonRoot",
    "runAsUser",
    "runAsGroup",
    "fsGroup",
    "seccompProfile",
    "type",
    "volumeMounts",
    "mountPath",
    "readOnly",
    "volumes",
    "emptyDir",
    "hostPath",
    "path",
    "configMap",
    "secret",
    "secretName",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "automountServiceAccountToken",
    "serviceAccountName",
    "restartPolicy",
    "schedule",
    "jobTemplate",
    "command",
    "args",
    "env",
    "value",
    "valueFrom",
    "livenessProbe",
    "readinessProbe",
    "httpGet",
    "port",
    "items",
    "key",
    "nodeSelector",
    "tolerations",
    "terminationGracePeriodSeconds",
    "strategy",
    "serviceName",
    "backoffLimit",
    "services",
    "version",
    "environment",
    "volumeClaimTemplates",
];

/// Slot of a key in [`KNOWN_TABLE`] (from its length and three of its bytes).
pub(super) const fn known_slot(b: &[u8]) -> usize {
    let n = b.len();
    (n * 2 + b[0] as usize * 14 + b[n - 1] as usize * 12 + b[n / 2] as usize * 7) & 255
}

/// [`KNOWN_KEYS`] by slot; on a collision the first keeps the slot (the other is simply not
/// shared).
pub(super) static KNOWN_TABLE: [Option<&str>; 256] = {
    let mut t: [Option<&str>; 256] = [None; 256];
    let mut i = 0;
    while i < KNOWN_KEYS.len() {
        let slot = known_slot(KNOWN_KEYS[i].as_bytes());
        if t[slot].is_none() {
            t[slot] = Some(KNOWN_KEYS[i]);
        }
        i += 1;
    }
    t
};

impl Key {
    /// The key for `text`, shared when it is a known field name.
    pub fn new(text: std::borrow::Cow<'_, str>) -> Key {
        if !text.is_empty() {
            if let Some(k) = KNOWN_TABLE[known_slot(text.as_bytes())] {
                if k == text {
                    return Key(KeyText::Known(k));
                }
            }
        }
        Key(KeyText::Owned(text.into_owned()))
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            KeyText::Known(k) => k,
            KeyText::Owned(s) => s,
        }
    }
}

impl std::ops::Deref for Key {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Key {}

impl PartialEq<str> for Key {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Key {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_str().hash(h)
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Key {
    fn from(s: String) -> Key {
        Key::new(std::borrow::Cow::Owned(s))
    }
}

/// One entry of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct YEntry {
    pub key: Key,
    /// Position of the key.
    pub line: u32,
    pub column: u32,
    pub value: YNode,
}

/// One document of a stream.
#[derive(Debug, Clone)]
pub struct Document {
    /// 0-based index in the stream.
    pub index: usize,
    /// Line where the document's content (or its `---`) starts.
    pub line: u32,
    /// The content, or why it could not be read (an `SKD-INPUT-001` problem).
    pub root: Result<YNode, Problem>,
    /// Duplicate keys and YAML 1.1 scalars met in this document.
    pub problems: Vec<Problem>,
}

impl YNode {
    /// The value of `key` if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&YNode> {
        match &self.value {
            YValue::Map(entries) => entries.iter().find(|e| e.key == key).map(|e| &e.value),
            _ => None,
        }
    }

    /// The entry of `key` (with the key's position) if this is a mapping that has it.
    pub fn entry(&self, key: &str) -> Option<&YEntry> {
        match &self.value {
            YValue::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            YValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, YValue::Null)
    }

    /// The JSON value Kubernetes would decode (`sigs.k8s.io/yaml.YAMLToJSON`). Fails on values
    /// JSON cannot hold (`.inf`, `.nan`), naming where.
    pub fn to_json(&self) -> Result<Value, Problem> {
        let mut path = String::new();
        self.to_json_at(&mut path)
    }

    fn to_json_at(&self, path: &mut String) -> Result<Value, Problem> {
        Ok(match &self.value {
            YValue::Null => Value::Null,
            YValue::Bool(b) => Value::Bool(*b),
            YValue::Int(n) => Value::Number(n.clone()),
            YValue::Float(f) => float_to_json(*f).ok_or_else(|| Problem {
                rule_id: UNDECODABLE,
                line: Some(self.line),
                column: Some(self.column),
                object: None,
                field: path.clone(),
                message: format!("the float {f} has no JSON form; Kubernetes rejects the document"),
            })?,
            YValue::Str(s) => Value::String(s.clone()),
            YValue::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    out.push(item.to_json_at(path)?);
                    path.truncate(len);
                }
                Value::Array(out)
            }
            YValue::Map(entries) => {
                let mut out = Map::new();
                for e in entries {
                    let child = push_key(path, &e.key);
                    let mut child_path = child;
                    let v = e.value.to_json_at(&mut child_path)?;
                    out.insert(e.key.to_string(), v);
                }
                Value::Object(out)
            }
        })
    }

    /// The position of every field under this node, with paths relative to it (`""` is this
    /// node). Mapping entries are placed at their key, sequence items at the item. At most
    /// [`FIELD_LINES_BUDGET`] bytes of paths are kept (a deep, wide document cannot exhaust
    /// memory); fields past it fall back to their nearest recorded ancestor.
    pub fn field_lines(&self) -> FieldLines {
        let mut lines = FieldLines::default();
        lines.insert(String::new(), self.line, self.column);
        let mut budget = FIELD_LINES_BUDGET;
        let mut path = String::with_capacity(128);
        self.collect_lines(&mut path, &mut lines, &mut budget);
        lines.shrink_to_fit();
        lines
    }

    /// `path` is a scratch buffer holding this node's path; it is restored before returning.
    fn collect_lines(&self, path: &mut String, lines: &mut FieldLines, budget: &mut usize) {
        let len = path.len();
        match &self.value {
            YValue::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    use std::fmt::Write;
                    let _ = write!(path, "[{i}]");
                    if *budget < path.len() {
                        path.truncate(len);
                        return;
                    }
                    *budget -= path.len();
                    lines.insert(path.clone(), item.line, item.column);
                    item.collect_lines(path, lines, budget);
                    path.truncate(len);
                }
            }
            YValue::Map(entries) => {
                for e in entries {
                    append_key(path, &e.key);
                    if *budget < path.len() {
                        path.truncate(len);
                        return;
                    }
                    *budget -= path.len();
                    lines.insert(path.clone(), e.line, e.column);
                    e.value.collect_lines(path, lines, budget);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
}

/// [`push_key`] into a buffer.
pub(super) fn append_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .bytes()
            .enumerate()
            .all(|(i, c)| c == b'_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if plain {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push_str("['");
        path.push_str(key);
        path.push_str("']");
    }
}

/// Bytes of field paths one [`YNode::field_lines`] keeps.
pub const FIELD_LINES_BUDGET: usize = 16 * 1024 * 1024;

/// JSON for a float the way Go's `json.Marshal` writes it: integral values become integers (so
/// `runAsUser: 08`, a YAML 1.1 float, still decodes into an integer field as it does in Go).
pub(super) fn float_to_json(f: f64) -> Option<Value> {
    if !f.is_finite() {
        return None;
    }
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Some(Value::Number(Number::from(f as i64)));
    }
    Number::from_f64(f).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_key_matches_push_key() {
        for (base, key) in [
            ("", "a"),
            ("a", "b_1"),
            ("a", "x.y/z"),
            ("", "1a"),
            ("a", ""),
            ("", "é"),
        ] {
            let mut buf = base.to_string();
            append_key(&mut buf, key);
            assert_eq!(buf, push_key(base, key));
        }
    }
}
