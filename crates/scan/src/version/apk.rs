//! apk version comparison (apk-tools): `digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#}`.
//!
//! The string is read as a sequence of typed tokens; two versions are compared token by token
//! on the value, and where they stop agreeing, on the kind of token that comes next (a version
//! that goes on is newer, unless what goes on is a pre-release suffix: `_alpha`, `_beta`,
//! `_pre`, `_rc`). A component after a `.` that starts with `0` counts its leading zeros as a
//! negative value, so `1.01` sorts before `1.1`.

use std::cmp::Ordering;

/// Token kinds, in the order apk ranks them when one version ends or changes kind.
const DIGIT_OR_ZERO: i8 = 0;
const DIGIT: i8 = 1;
const LETTER: i8 = 2;
const SUFFIX: i8 = 3;
const SUFFIX_NO: i8 = 4;
const HASH: i8 = 5;
const REVISION_NO: i8 = 6;
const END: i8 = 7;
const INVALID: i8 = -1;

const PRE: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

struct Reader<'a> {
    s: &'a [u8],
    kind: i8,
}

impl Reader<'_> {
    /// The kind of the next token; consumes its separator.
    fn advance(&mut self) {
        let prev = self.kind;
        let Some(&c) = self.s.first() else {
            self.kind = END;
            return;
        };
        let mut next = INVALID;
        if (prev == DIGIT || prev == DIGIT_OR_ZERO) && c.is_ascii_lowercase() {
            next = LETTER;
        } else if prev == LETTER && c.is_ascii_digit() {
            next = DIGIT;
        } else if prev == SUFFIX && c.is_ascii_digit() {
            next = SUFFIX_NO;
        } else {
            match c {
                b'.' => next = DIGIT_OR_ZERO,
                b'_' => next = SUFFIX,
                b'~' => next = HASH,
                b'-' if self.s.get(1) == Some(&b'r') => {
                    next = REVISION_NO;
                    self.s = &self.s[1..];
                }
                _ => {}
            }
            self.s = &self.s[1..];
        }
        // Kinds only move forward, but for the repeats the grammar allows.
        let repeat = (next == DIGIT_OR_ZERO && prev == DIGIT)
            || (next == SUFFIX && prev == SUFFIX_NO)
            || (next == DIGIT && prev == LETTER);
        if next < prev && !repeat {
            next = INVALID;
        }
        self.kind = next;
    }

    /// The value of the current token; moves on to the next.
    fn value(&mut self) -> i64 {
        if self.s.is_empty() {
            self.kind = END;
            return 0;
        }
        let mut v: i64 = 0;
        let mut i = 0;
        let mut then_digit = false;
        match self.kind {
            DIGIT_OR_ZERO if self.s[0] == b'0' => {
                while i < self.s.len() && self.s[i] == b'0' {
                    i += 1;
                }
                v = -(i as i64);
                then_digit = true;
            }
            DIGIT_OR_ZERO | DIGIT | SUFFIX_NO | REVISION_NO => {
                while i < self.s.len() && self.s[i].is_ascii_digit() {
                    v = v
                        .saturating_mul(10)
                        .saturating_add(i64::from(self.s[i] - b'0'));
                    i += 1;
                }
            }
            LETTER => {
                v = i64::from(self.s[0]);
                i = 1;
            }
            SUFFIX => {
                if let Some(k) = PRE.iter().position(|p| self.s.starts_with(p.as_bytes())) {
                    v = k as i64 - PRE.len() as i64;
                    i = PRE[k].len();
                } else if let Some(k) = POST.iter().position(|p| self.s.starts_with(p.as_bytes())) {
                    v = k as i64;
                    i = POST[k].len();
                } else {
                    self.kind = INVALID;
                    return -1;
                }
            }
            // apk stops comparing at a commit hash: what follows it (even `-rN`) is not
            // compared (`1.0~ab-r1` = `1.0~ab-r2` for `apk version -t`).
            HASH => i = self.s.len(),
            _ => {
                self.kind = INVALID;
                return -1;
            }
        }
        self.s = &self.s[i..];
        if self.s.is_empty() {
            self.kind = END;
        } else if then_digit && self.s[0].is_ascii_digit() {
            self.kind = DIGIT;
        } else {
            self.advance();
        }
        v
    }
}

/// Compare two apk versions as `apk version -t` does.
pub fn compare(a: &str, b: &str) -> Ordering {
    let mut x = Reader {
        s: a.as_bytes(),
        kind: DIGIT,
    };
    let mut y = Reader {
        s: b.as_bytes(),
        kind: DIGIT,
    };
    let (mut xv, mut yv) = (0, 0);
    while x.kind == y.kind && x.kind != END && x.kind != INVALID && xv == yv {
        xv = x.value();
        yv = y.value();
    }
    if xv != yv {
        return xv.cmp(&yv);
    }
    if x.kind == y.kind {
        return Ordering::Equal;
    }
    // One goes on where the other stops or changes kind: a pre-release suffix makes it older.
    if x.kind == SUFFIX && is_pre(x.s) {
        return Ordering::Less;
    }
    if y.kind == SUFFIX && is_pre(y.s) {
        return Ordering::Greater;
    }
    y.kind.cmp(&x.kind)
}

fn is_pre(s: &[u8]) -> bool {
    PRE.iter().any(|p| s.starts_with(p.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering::*;

    #[test]
    fn known_orders() {
        assert_eq!(compare("1.2.3-r0", "1.2.3-r1"), Less);
        assert_eq!(compare("1.0_rc1", "1.0"), Less);
        assert_eq!(compare("1.0_p1", "1.0"), Greater);
        assert_eq!(compare("1.01", "1.1"), Less);
        assert_eq!(compare("1.0a", "1.0"), Greater);
        assert_eq!(compare("3.1.4-r5", "3.1.4-r5"), Equal);
    }
}
