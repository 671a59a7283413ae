//! Scalar resolution, as go-yaml v2 resolves plain scalars (`resolve.go`).

use super::*;

/// A resolved plain scalar, and whether YAML 1.2 tools would read it differently.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(Number),
    Float(f64),
    Str,
}

/// Resolve a plain (unquoted, untagged) scalar as Kubernetes does. The flag says the text is a
/// non-canonical YAML 1.1 form (`On`, `y`, `00`, `0o17`, `0x1f`, `+1`, `1_000`, `0b1`).
pub fn resolve_plain(s: &str) -> (Scalar, bool) {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return (Scalar::Null, false),
        "true" | "True" | "TRUE" => return (Scalar::Bool(true), false),
        "false" | "False" | "FALSE" => return (Scalar::Bool(false), false),
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => {
            return (Scalar::Bool(true), true)
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
            return (Scalar::Bool(false), true)
        }
        ".nan" | ".NaN" | ".NAN" => return (Scalar::Float(f64::NAN), false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return (Scalar::Float(f64::INFINITY), false)
        }
        "-.inf" | "-.Inf" | "-.INF" => return (Scalar::Float(f64::NEG_INFINITY), false),
        _ => {}
    }
    let first = s.as_bytes()[0];
    match first {
        b'.' => {
            if s.bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
            {
                if let Ok(f) = s.parse::<f64>() {
                    if f.is_finite() {
                        return (Scalar::Float(f), false);
                    }
                }
            }
            (Scalar::Str, false)
        }
        b'+' | b'-' | b'0'..=b'9' => {
            let plain: String = s.chars().filter(|&c| c != '_').collect();
            let canonical_int = is_canonical_decimal(s);
            if let Some(n) = go_parse_int(&plain) {
                return (Scalar::Int(n), !canonical_int);
            }
            if is_yaml_style_float(&plain) {
                if let Ok(f) = plain.parse::<f64>() {
                    if f.is_finite() {
                        let odd = s.contains('_') || has_leading_zero(&plain);
                        return (Scalar::Float(f), odd);
                    }
                }
            }
            let (neg, digits) = match plain.strip_prefix("-0b") {
                Some(d) => (true, Some(d)),
                None => (false, plain.strip_prefix("0b")),
            };
            if let Some(d) = digits {
                if !d.is_empty() && d.bytes().all(|c| c == b'0' || c == b'1') {
                    if let Ok(v) = u64::from_str_radix(d, 2) {
                        let n = if neg {
                            i64::try_from(v).ok().map(|v| Number::from(-v))
                        } else {
                            Some(Number::from(v))
                        };
                        if let Some(n) = n {
                            return (Scalar::Int(n), true);
                        }
                    }
                }
            }
            (Scalar::Str, false)
        }
        _ => (Scalar::Str, false),
    }
}

pub(super) fn is_canonical_decimal(s: &str) -> bool {
    let d = s.strip_prefix('-').unwrap_or(s);
    !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()) && (d == "0" || !d.starts_with('0'))
}

pub(super) fn has_leading_zero(s: &str) -> bool {
    let d = s.trim_start_matches(['+', '-']);
    d.len() > 1 && d.starts_with('0') && d.as_bytes()[1].is_ascii_digit()
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
pub(super) fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint(s, 0, 64)` for values above i64.
pub(super) fn go_parse_int(s: &str) -> Option<Number> {
    let (neg, signed, body) = match s.as_bytes().first()? {
        b'+' => (false, true, &s[1..]),
        b'-' => (true, true, &s[1..]),
        _ => (false, false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) = if let Some(rest) = body.strip_prefix('0') {
        let lower = rest.as_bytes().first().map(|c| c.to_ascii_lowercase());
        match lower {
            Some(b'x') if body.len() >= 3 => (16, &body[2..]),
            Some(b'o') if body.len() >= 3 => (8, &body[2..]),
            Some(b'b') if body.len() >= 3 => (2, &body[2..]),
            _ => (8, rest),
        }
    } else {
        (10, body)
    };
    if !digits.bytes().all(|c| (c as char).is_digit(radix)) {
        return None;
    }
    let v: u64 = if digits.is_empty() {
        0
    } else {
        u64::from_str_radix(digits, radix).ok()?
    };
    if neg {
        if v <= i64::MAX as u64 {
            Some(Number::from(-(v as i64)))
        } else if v == i64::MAX as u64 + 1 {
            Some(Number::from(i64::MIN))
        } else {
            None
        }
    } else if v <= i64::MAX as u64 || !signed {
        Some(Number::from(v))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(s: &str) -> Option<i64> {
        match resolve_plain(s).0 {
            Scalar::Int(n) => n.as_i64(),
            _ => None,
        }
    }

    #[test]
    fn yaml11_ints() {
        assert_eq!(int("0o17"), Some(15));
        assert_eq!(int("0x1f"), Some(31));
        assert_eq!(int("017"), Some(15));
        assert_eq!(int("0b101"), Some(5));
        assert_eq!(int("-0b101"), Some(-5));
        assert_eq!(int("+1"), Some(1));
        assert_eq!(int("-0"), Some(0));
        assert_eq!(int("1_000"), Some(1000));
        assert_eq!(int("0_0"), Some(0));
        assert_eq!(int("00"), Some(0));
        assert_eq!(int("0"), Some(0));
        assert_eq!(int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(resolve_plain("08").0, Scalar::Float(8.0));
        assert_eq!(resolve_plain("1e3").0, Scalar::Float(1000.0));
        assert_eq!(resolve_plain("0x").0, Scalar::Str);
        assert_eq!(resolve_plain("1.2.3").0, Scalar::Str);
        assert_eq!(resolve_plain("2001-12-14").0, Scalar::Str);
        assert_eq!(resolve_plain("_1").0, Scalar::Str);
        assert_eq!(resolve_plain("1e400").0, Scalar::Str);
        assert!(!resolve_plain("10").1);
        assert!(resolve_plain("010").1);
        assert!(resolve_plain("0o0").1);
    }

    #[test]
    fn yaml11_bools_and_nulls() {
        for t in ["y", "Y", "yes", "Yes", "YES", "on", "On", "ON"] {
            assert_eq!(resolve_plain(t), (Scalar::Bool(true), true), "{t}");
        }
        for t in ["n", "N", "no", "No", "NO", "off", "Off", "OFF"] {
            assert_eq!(resolve_plain(t), (Scalar::Bool(false), true), "{t}");
        }
        for t in ["true", "True", "TRUE"] {
            assert_eq!(resolve_plain(t), (Scalar::Bool(true), false), "{t}");
        }
        assert_eq!(resolve_plain("yEs").0, Scalar::Str);
        for t in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(resolve_plain(t).0, Scalar::Null);
        }
        assert_eq!(resolve_plain(".inf").0, Scalar::Float(f64::INFINITY));
        assert_eq!(resolve_plain(".5").0, Scalar::Float(0.5));
    }
}
