//! Debian package versions (`[epoch:]upstream[-revision]`, deb-version(7)) and their order, as
//! `dpkg --compare-versions` decides it.
//!
//! Parsing is ours and strict: every string dpkg would refuse *or warn about* (an empty part, a
//! non-numeric or too large epoch, a character outside the allowed sets, an upstream part that
//! does not start with a digit, embedded spaces, non-ASCII) is a [`DebVersionError`] naming what
//! is wrong, never a version that sorts somewhere. The ordering itself (`~` before everything,
//! letters before other punctuation, digit runs compared as numbers of any length) is the
//! `deb-version` crate's, which we call only on strings this parser accepted. The tests in
//! `tests/deb_version.rs` compare both against `dpkg --compare-versions` over generated pairs.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The largest epoch dpkg accepts (it stores the epoch as a C `int`).
pub const MAX_EPOCH: u32 = i32::MAX as u32;

/// A validated Debian version. Equality is dpkg's: `1.0`, `0:1.0` and `1.0-0` are equal.
#[derive(Debug, Clone)]
pub struct DebVersion {
    raw: String,
    epoch: u32,
    /// Byte range of the upstream part in `raw`.
    upstream: (usize, usize),
    /// Byte range of the revision in `raw`, if there is one.
    revision: Option<(usize, usize)>,
}

/// Why a string is not a Debian version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DebVersionError {
    #[error("version string is empty")]
    Empty,
    #[error("version {0:?} has embedded whitespace")]
    Whitespace(String),
    #[error("version {0:?} has a non-ASCII character")]
    NonAscii(String),
    #[error("version {0:?}: the epoch before ':' is empty")]
    EmptyEpoch(String),
    #[error("version {0:?}: the epoch before ':' is not a number")]
    EpochNotNumber(String),
    #[error("version {0:?}: the epoch is larger than {MAX_EPOCH}")]
    EpochTooBig(String),
    #[error("version {0:?}: nothing after the epoch's ':'")]
    NothingAfterColon(String),
    #[error("version {0:?}: the revision after the last '-' is empty")]
    EmptyRevision(String),
    #[error("version {0:?}: the upstream version is empty")]
    EmptyUpstream(String),
    #[error("version {0:?}: the upstream version does not start with a digit")]
    UpstreamNotDigit(String),
    #[error("version {0:?}: the upstream version has the invalid character {1:?} (allowed: A-Z a-z 0-9 . + ~ - :)")]
    UpstreamChar(String, char),
    #[error(
        "version {0:?}: the revision has the invalid character {1:?} (allowed: A-Z a-z 0-9 . + ~)"
    )]
    RevisionChar(String, char),
}

impl DebVersion {
    /// Parse and validate `s`.
    pub fn parse(s: &str) -> Result<DebVersion, DebVersionError> {
        if s.is_empty() {
            return Err(DebVersionError::Empty);
        }
        let owned = || s.to_string();
        if !s.is_ascii() {
            return Err(DebVersionError::NonAscii(owned()));
        }
        if s.bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(DebVersionError::Whitespace(owned()));
        }
        let (epoch, rest_start) = match s.find(':') {
            Some(colon) => {
                let e = &s[..colon];
                if e.is_empty() {
                    return Err(DebVersionError::EmptyEpoch(owned()));
                }
                if !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(DebVersionError::EpochNotNumber(owned()));
                }
                // Digits only: the parse fails only by overflow.
                let epoch = match e.parse::<u64>() {
                    Ok(v) if v <= u64::from(MAX_EPOCH) => v as u32,
                    _ => return Err(DebVersionError::EpochTooBig(owned())),
                };
                if colon + 1 == s.len() {
                    return Err(DebVersionError::NothingAfterColon(owned()));
                }
                (epoch, colon + 1)
            }
            None => (0, 0),
        };
        let rest = &s[rest_start..];
        let (upstream, revision) = match rest.rfind('-') {
            Some(h) => {
                if h + 1 == rest.len() {
                    return Err(DebVersionError::EmptyRevision(owned()));
                }
                (
                    (rest_start, rest_start + h),
                    Some((rest_start + h + 1, s.len())),
                )
            }
            None => ((rest_start, s.len()), None),
        };
        let up = &s[upstream.0..upstream.1];
        if up.is_empty() {
            return Err(DebVersionError::EmptyUpstream(owned()));
        }
        if !up.as_bytes()[0].is_ascii_digit() {
            return Err(DebVersionError::UpstreamNotDigit(owned()));
        }
        if let Some(c) = up
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || ".+~-:".contains(*c)))
        {
            return Err(DebVersionError::UpstreamChar(owned(), c));
        }
        if let Some((a, b)) = revision {
            if let Some(c) = s[a..b]
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || ".+~".contains(*c)))
            {
                return Err(DebVersionError::RevisionChar(owned(), c));
            }
        }
        Ok(DebVersion {
            raw: s.to_string(),
            epoch,
            upstream,
            revision,
        })
    }

    /// The string as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The epoch (0 when absent).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The upstream part.
    pub fn upstream(&self) -> &str {
        &self.raw[self.upstream.0..self.upstream.1]
    }

    /// The Debian revision, if there is one.
    pub fn revision(&self) -> Option<&str> {
        self.revision.map(|(a, b)| &self.raw[a..b])
    }
}

impl FromStr for DebVersion {
    type Err = DebVersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DebVersion::parse(s)
    }
}

impl fmt::Display for DebVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl Ord for DebVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        // Only strings the parser accepted reach the crate: ASCII, a numeric epoch before the
        // first ':', so its split at that colon and at the last '-' is dpkg's.
        deb_version::compare_versions(&self.raw, &other.raw)
    }
}

impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DebVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DebVersion {}

impl serde::Serialize for DebVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de> serde::Deserialize<'de> for DebVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DebVersion::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Compare two version strings the way `dpkg --compare-versions` does, refusing either when it
/// is not a valid version.
pub fn compare(a: &str, b: &str) -> Result<Ordering, DebVersionError> {
    Ok(DebVersion::parse(a)?.cmp(&DebVersion::parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> DebVersion {
        DebVersion::parse(s).unwrap()
    }

    #[test]
    fn parts() {
        let x = v("1:1.1.5+ds1-1+deb12u1");
        assert_eq!(x.epoch(), 1);
        assert_eq!(x.upstream(), "1.1.5+ds1");
        assert_eq!(x.revision(), Some("1+deb12u1"));
        let y = v("2.0-rc1-3");
        assert_eq!(y.upstream(), "2.0-rc1");
        assert_eq!(y.revision(), Some("3"));
        assert_eq!(v("7").revision(), None);
    }

    #[test]
    fn order_basics() {
        assert!(v("1.0~rc1") < v("1.0"));
        assert!(v("1.0") < v("1.0+b1"));
        assert!(v("1.0") < v("1.0a"));
        assert!(v("1.0a") < v("1.0+"));
        assert!(v("1:0.1") > v("9999"));
        assert!(v("1.1.5+ds1-1+deb12u1") < v("1.1.12"));
        assert!(v("1.1.5+ds1-1+deb12u1") > v("1.1.5+ds1-1"));
        assert_eq!(v("1.0"), v("0:1.0-0"));
        assert_eq!(v("1.001"), v("1.1"));
        assert!(v("1.99999999999999999999999999") > v("1.99999999999999999999999998"));
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            ":1",
            "a:1",
            "99999999999:1",
            "1:",
            "1.0-",
            "-1",
            "a1",
            "1 0",
            "1.0_1",
            "1-a_b",
            "1.0\u{e9}",
            "0:-1",
            "1:a",
        ] {
            assert!(DebVersion::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
