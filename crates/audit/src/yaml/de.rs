//! Decoding typed values straight from a [`YNode`] (no `serde_json::Value` in between).

use super::*;

/// Why a [`YNode`] did not decode into a type: where (innermost value) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Field path relative to the node decoded.
    pub field: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
    /// Path segments, innermost first, while the error travels out.
    segs: Vec<PathPart>,
    located: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PathPart {
    Key(String),
    Index(usize),
}

impl DecodeError {
    fn at(mut self, node: &YNode) -> Self {
        if !self.located {
            self.located = true;
            self.line = node.line;
            self.column = node.column;
        }
        self
    }

    fn within(mut self, part: PathPart) -> Self {
        self.segs.push(part);
        self
    }

    fn finish(mut self, base: &str) -> Self {
        let mut p = base.to_string();
        for part in self.segs.iter().rev() {
            p = match part {
                PathPart::Key(k) => push_key(&p, k),
                PathPart::Index(i) => push_index(&p, *i),
            };
        }
        self.field = p;
        self.segs.clear();
        self
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

impl serde::de::Error for DecodeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        DecodeError {
            field: String::new(),
            line: 0,
            column: 0,
            message: msg.to_string(),
            segs: Vec::new(),
            located: false,
        }
    }
}

impl YNode {
    /// Decode this node into `T` the way Kubernetes' JSON decoding would decode the JSON form
    /// of it (unknown fields ignored). `base` is this node's field path, for the error.
    pub fn decode<'de, T: serde::Deserialize<'de>>(
        &'de self,
        base: &str,
    ) -> Result<T, DecodeError> {
        T::deserialize(self).map_err(|e| e.at(self).finish(base))
    }

    /// Like [`YNode::decode`] for a top-level object, with `apiVersion` and `kind` presented as
    /// given (typed `k8s-openapi` objects insist on their own).
    pub fn decode_as<'de, T: serde::Deserialize<'de>>(
        &'de self,
        api_version: &'static str,
        kind: &'static str,
    ) -> Result<T, DecodeError> {
        let root = Overridden {
            node: self,
            api_version,
            kind,
        };
        T::deserialize(root).map_err(|e| e.at(self).finish(""))
    }
}

pub(super) fn visit_node<'de, V: serde::de::Visitor<'de>>(
    node: &'de YNode,
    visitor: V,
    extra: Option<(&'static str, &'static str)>,
) -> Result<V::Value, DecodeError> {
    use serde::de::Error;
    let r = match &node.value {
        YValue::Null => visitor.visit_unit(),
        YValue::Bool(b) => visitor.visit_bool(*b),
        YValue::Int(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => visitor.visit_i64(i),
            (_, Some(u)) => visitor.visit_u64(u),
            _ => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
        },
        YValue::Float(f) => {
            if !f.is_finite() {
                Err(DecodeError::custom(format!(
                    "the float {f} has no JSON form; Kubernetes rejects the document"
                )))
            } else if f.fract() == 0.0 && f.abs() < 9.0e15 {
                // Go's json.Marshal writes integral floats as integers.
                visitor.visit_i64(*f as i64)
            } else {
                visitor.visit_f64(*f)
            }
        }
        YValue::Str(s) => visitor.visit_borrowed_str(s),
        YValue::Seq(items) => visitor.visit_seq(SeqDe {
            items: items.iter().enumerate(),
        }),
        YValue::Map(entries) => visitor.visit_map(MapDe {
            entries: entries.iter(),
            value: None,
            extra: extra.map(|(a, k)| [("apiVersion", a), ("kind", k)]),
            extra_at: 0,
        }),
    };
    r.map_err(|e| e.at(node))
}

impl<'de> serde::Deserializer<'de> for &'de YNode {
    type Error = DecodeError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        visit_node(self, v, None)
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        match self.value {
            YValue::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DecodeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: serde::de::Visitor<'de>>(
        self,
        v: V,
    ) -> Result<V::Value, DecodeError> {
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct enum identifier
    }
}

/// A top-level object whose `apiVersion` and `kind` are replaced.
pub(super) struct Overridden<'de> {
    node: &'de YNode,
    api_version: &'static str,
    kind: &'static str,
}

impl<'de> serde::Deserializer<'de> for Overridden<'de> {
    type Error = DecodeError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, DecodeError> {
        visit_node(self.node, v, Some((self.api_version, self.kind)))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

pub(super) struct SeqDe<'de> {
    items: std::iter::Enumerate<std::slice::Iter<'de, YNode>>,
}

impl<'de> serde::de::SeqAccess<'de> for SeqDe<'de> {
    type Error = DecodeError;

    fn next_element_seed<T: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeError> {
        match self.items.next() {
            None => Ok(None),
            Some((i, item)) => seed
                .deserialize(item)
                .map(Some)
                .map_err(|e| e.at(item).within(PathPart::Index(i))),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

pub(super) struct MapDe<'de> {
    entries: std::slice::Iter<'de, YEntry>,
    value: Option<&'de YEntry>,
    /// Entries presented first, replacing the node's own (apiVersion and kind).
    extra: Option<[(&'static str, &'static str); 2]>,
    extra_at: usize,
}

impl<'de> serde::de::MapAccess<'de> for MapDe<'de> {
    type Error = DecodeError;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        use serde::de::value::BorrowedStrDeserializer;
        if let Some(extra) = &self.extra {
            if let Some((k, _)) = extra.get(self.extra_at) {
                return seed.deserialize(BorrowedStrDeserializer::new(k)).map(Some);
            }
        }
        loop {
            let Some(e) = self.entries.next() else {
                return Ok(None);
            };
            if self.extra.is_some() && (e.key == "apiVersion" || e.key == "kind") {
                continue;
            }
            self.value = Some(e);
            return seed
                .deserialize(BorrowedStrDeserializer::new(e.key.as_str()))
                .map(Some);
        }
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DecodeError> {
        use serde::de::value::BorrowedStrDeserializer;
        use serde::de::Error;
        if let Some(extra) = &self.extra {
            if let Some((_, v)) = extra.get(self.extra_at) {
                self.extra_at += 1;
                return seed.deserialize(BorrowedStrDeserializer::new(v));
            }
        }
        let e = self
            .value
            .take()
            .ok_or_else(|| DecodeError::custom("value without a key"))?;
        seed.deserialize(&e.value).map_err(|err| {
            let err = if err.located {
                err
            } else {
                DecodeError {
                    located: true,
                    line: e.line,
                    column: e.column,
                    ..err
                }
            };
            err.within(PathPart::Key(e.key.to_string()))
        })
    }
}
