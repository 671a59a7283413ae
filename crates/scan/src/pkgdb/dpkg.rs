//! The dpkg database: `var/lib/dpkg/status` (one deb822 paragraph per package) and distroless's
//! `var/lib/dpkg/status.d/` (one file per package, plus `*.md5sums` files that are not
//! paragraphs).
//!
//! Each package comes with its source package and source version (`Source: name (version)`,
//! defaulting to the binary's own name and version), because distro advisories are written per
//! source package: Debian's tracker says `runc` (source) is fixed in `1.1.5+ds1-1+deb12u1`, and
//! every binary built from it inherits that.
//!
//! Fail closed: a database that cannot be read whole is an error naming the file and line, never
//! a shorter package list. A line that is neither a field nor a continuation, a continuation
//! before any field, a duplicate field, a paragraph without `Package`, `Version` or (in
//! `status`) `Status`, an invalid package name or version, a duplicate package, a file that does
//! not end with a newline (truncated): each is a [`DpkgError`].
//!
//! This module parses bytes; where the bytes come from (a host's root read with
//! `RESOLVE_IN_ROOT`, an image's layers) is the caller's business.

use std::collections::HashSet;

use crate::version::deb::{DebVersion, DebVersionError};

/// Where dpkg keeps its status file, relative to a root.
pub const STATUS_PATH: &str = "var/lib/dpkg/status";
/// Where distroless images keep one status paragraph per package, relative to a root.
pub const STATUS_D_PATH: &str = "var/lib/dpkg/status.d";

/// One package as the dpkg database records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DpkgPackage {
    pub name: String,
    /// `amd64`, `all`, ...; absent in some hand-made databases.
    pub architecture: Option<String>,
    pub version: DebVersion,
    /// The source package (the binary's own name when there is no `Source` field).
    pub source: String,
    /// The source version (the binary's version when `Source` has none).
    pub source_version: DebVersion,
    /// The third word of `Status` (`installed`, `config-files`, ...); `installed` for a
    /// distroless `status.d` entry without a `Status` field.
    pub state: String,
    /// The file this entry came from and the line its paragraph starts on.
    pub origin: String,
    pub line: usize,
}

impl DpkgPackage {
    /// Whether the package's files are on disk: every state but `not-installed` and
    /// `config-files` (half-installed and unpacked packages count, their binaries are there).
    pub fn is_installed(&self) -> bool {
        !matches!(self.state.as_str(), "not-installed" | "config-files")
    }
}

/// A dpkg database that cannot be trusted whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}: {kind}; the dpkg database is unreadable or corrupt (restore it from {origin}-old or a backup, or fix the line)")]
pub struct DpkgError {
    pub origin: String,
    pub line: usize,
    pub kind: DpkgErrorKind,
}

/// What is wrong, for [`DpkgError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpkgErrorKind {
    #[error("a line that is neither `Field: value` nor a continuation: {0:?}")]
    BadLine(String),
    #[error("a continuation line before any field")]
    ContinuationFirst,
    #[error("the field {0:?} appears twice in one paragraph")]
    DuplicateField(String),
    #[error("the paragraph has no {0:?} field")]
    MissingField(&'static str),
    #[error("invalid package name {0:?}")]
    BadName(String),
    #[error("the field {0:?} has an invalid value {1:?}")]
    BadField(&'static str, String),
    #[error("invalid version: {0}")]
    BadVersion(DebVersionError),
    #[error("package {0:?} appears twice")]
    DuplicatePackage(String),
    #[error("the file does not end with a newline (truncated?)")]
    Truncated,
    #[error("the file is empty")]
    Empty,
}

/// One deb822 paragraph: its fields in order, with the line each starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paragraph {
    pub line: usize,
    pub fields: Vec<Field>,
}

/// One field of a [`Paragraph`]. Multi-line values keep their continuation lines, joined with
/// `\n` and without the leading space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub value: String,
    pub line: usize,
}

impl Paragraph {
    /// The value of the field `name` (field names compare case-insensitively, as in dpkg).
    pub fn get(&self, name: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

fn err(origin: &str, line: usize, kind: DpkgErrorKind) -> DpkgError {
    DpkgError {
        origin: origin.to_string(),
        line,
        kind,
    }
}

/// Split deb822 text into paragraphs. Bytes that are not UTF-8 are replaced (they can only
/// matter in free text such as `Description`; the fields we use are validated strictly after).
pub fn parse_paragraphs(bytes: &[u8], origin: &str) -> Result<Vec<Paragraph>, DpkgError> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut cur: Option<Paragraph> = None;
    let mut lineno = 0;
    for raw in text.split_inclusive('\n') {
        lineno += 1;
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            if let Some(p) = cur.take() {
                out.push(p);
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            let Some(p) = cur.as_mut() else {
                return Err(err(origin, lineno, DpkgErrorKind::ContinuationFirst));
            };
            let Some(f) = p.fields.last_mut() else {
                return Err(err(origin, lineno, DpkgErrorKind::ContinuationFirst));
            };
            f.value.push('\n');
            f.value.push_str(line[1..].trim_end());
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(err(
                origin,
                lineno,
                DpkgErrorKind::BadLine(line.to_string()),
            ));
        };
        if name.is_empty()
            || name.starts_with('-')
            || name.starts_with('#')
            || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
        {
            return Err(err(
                origin,
                lineno,
                DpkgErrorKind::BadLine(line.to_string()),
            ));
        }
        let p = cur.get_or_insert_with(|| Paragraph {
            line: lineno,
            fields: Vec::new(),
        });
        if p.get(name).is_some() {
            return Err(err(
                origin,
                lineno,
                DpkgErrorKind::DuplicateField(name.to_string()),
            ));
        }
        p.fields.push(Field {
            name: name.to_string(),
            value: value.trim().to_string(),
            line: lineno,
        });
    }
    if let Some(p) = cur.take() {
        out.push(p);
    }
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(err(origin, lineno, DpkgErrorKind::Truncated));
    }
    Ok(out)
}

/// dpkg's rule for a package name: an alphanumeric first, then alphanumerics and `-+._`.
fn valid_name(n: &str) -> bool {
    let mut b = n.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || b"-+._".contains(&c))
}

fn version(origin: &str, f: &Field) -> Result<DebVersion, DpkgError> {
    DebVersion::parse(&f.value).map_err(|e| err(origin, f.line, DpkgErrorKind::BadVersion(e)))
}

/// One paragraph to a package. `None` for a `not-installed` entry without a version (dpkg keeps
/// such entries for packages it only knows about).
fn package(
    p: &Paragraph,
    origin: &str,
    status_required: bool,
) -> Result<Option<DpkgPackage>, DpkgError> {
    let missing = |f: &'static str| err(origin, p.line, DpkgErrorKind::MissingField(f));
    let name_f = p.get("Package").ok_or_else(|| missing("Package"))?;
    if !valid_name(&name_f.value) {
        return Err(err(
            origin,
            name_f.line,
            DpkgErrorKind::BadName(name_f.value.clone()),
        ));
    }
    let state = match p.get("Status") {
        Some(f) => {
            let words: Vec<&str> = f.value.split_ascii_whitespace().collect();
            if words.len() != 3 {
                return Err(err(
                    origin,
                    f.line,
                    DpkgErrorKind::BadField("Status", f.value.clone()),
                ));
            }
            words[2].to_string()
        }
        None if status_required => return Err(missing("Status")),
        None => "installed".to_string(),
    };
    let Some(version_f) = p.get("Version") else {
        if state == "not-installed" {
            return Ok(None);
        }
        return Err(missing("Version"));
    };
    let version = version(origin, version_f)?;
    let (source, source_version) = match p.get("Source") {
        None => (name_f.value.clone(), version.clone()),
        Some(f) => {
            let (n, v) = match f.value.split_once('(') {
                None => (f.value.trim(), None),
                Some((n, rest)) => {
                    let Some(v) = rest.trim().strip_suffix(')') else {
                        return Err(err(
                            origin,
                            f.line,
                            DpkgErrorKind::BadField("Source", f.value.clone()),
                        ));
                    };
                    (n.trim(), Some(v.trim()))
                }
            };
            if !valid_name(n) {
                return Err(err(origin, f.line, DpkgErrorKind::BadName(n.to_string())));
            }
            let sv = match v {
                None => version.clone(),
                Some(v) => DebVersion::parse(v)
                    .map_err(|e| err(origin, f.line, DpkgErrorKind::BadVersion(e)))?,
            };
            (n.to_string(), sv)
        }
    };
    let architecture = match p.get("Architecture") {
        None => None,
        Some(f) if valid_name(&f.value) => Some(f.value.clone()),
        Some(f) => {
            return Err(err(
                origin,
                f.line,
                DpkgErrorKind::BadField("Architecture", f.value.clone()),
            ))
        }
    };
    Ok(Some(DpkgPackage {
        name: name_f.value.clone(),
        architecture,
        version,
        source,
        source_version,
        state,
        origin: origin.to_string(),
        line: p.line,
    }))
}

fn check_unique(pkgs: &[DpkgPackage]) -> Result<(), DpkgError> {
    let mut seen = HashSet::new();
    for p in pkgs {
        let key = (p.name.as_str(), p.architecture.as_deref());
        if !seen.insert(key) {
            let label = match &p.architecture {
                Some(a) => format!("{}:{a}", p.name),
                None => p.name.clone(),
            };
            return Err(err(
                &p.origin,
                p.line,
                DpkgErrorKind::DuplicatePackage(label),
            ));
        }
    }
    Ok(())
}

/// Parse a dpkg `status` file. `origin` names it in errors (e.g. `/var/lib/dpkg/status`).
/// Entries of every state are returned; see [`DpkgPackage::is_installed`].
pub fn parse_status(bytes: &[u8], origin: &str) -> Result<Vec<DpkgPackage>, DpkgError> {
    if bytes.is_empty() {
        // dpkg itself writes an empty status on a fresh root, but a root with a package
        // database and no packages is not something to call clean.
        return Err(err(origin, 0, DpkgErrorKind::Empty));
    }
    let mut out = Vec::new();
    for p in parse_paragraphs(bytes, origin)? {
        if let Some(pkg) = package(&p, origin, true)? {
            out.push(pkg);
        }
    }
    check_unique(&out)?;
    Ok(out)
}

/// Parse distroless's `status.d/`: `files` are (file name, contents) pairs of that directory.
/// `*.md5sums` files are skipped; every other file must hold package paragraphs. `dir` names the
/// directory in errors.
pub fn parse_status_d<'a, I>(files: I, dir: &str) -> Result<Vec<DpkgPackage>, DpkgError>
where
    I: IntoIterator<Item = (&'a str, &'a [u8])>,
{
    let mut out = Vec::new();
    for (name, bytes) in files {
        if name.ends_with(".md5sums") {
            continue;
        }
        let origin = format!("{}/{name}", dir.trim_end_matches('/'));
        let paragraphs = parse_paragraphs(bytes, &origin)?;
        if paragraphs.is_empty() {
            return Err(err(&origin, 0, DpkgErrorKind::Empty));
        }
        for p in paragraphs {
            if let Some(pkg) = package(&p, &origin, false)? {
                out.push(pkg);
            }
        }
    }
    check_unique(&out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNC: &str = "Package: runc\nStatus: install ok installed\nPriority: optional\nSection: admin\nInstalled-Size: 9011\nMaintainer: Debian Go Packaging Team <team+pkg-go@tracker.debian.org>\nArchitecture: amd64\nVersion: 1.1.5+ds1-1+deb12u1\nDepends: libc6 (>= 2.34), libseccomp2 (>= 2.5.0)\nDescription: Open Container Project - runtime\n \"runc\" is a command line client for running applications packaged according\n .\n to the Open Container Format (OCF).\nBuilt-Using: golang-1.19 (= 1.19.8-2)\n\nPackage: libseccomp2\nStatus: install ok installed\nArchitecture: amd64\nSource: libseccomp (2.5.4-1)\nVersion: 2.5.4-1+b3\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\nPackage: never\nStatus: purge ok not-installed\n";

    #[test]
    fn status_with_sources() {
        let p = parse_status(RUNC.as_bytes(), "status").unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].name, "runc");
        assert_eq!(p[0].source, "runc");
        assert_eq!(p[0].version.as_str(), "1.1.5+ds1-1+deb12u1");
        assert_eq!(p[0].architecture.as_deref(), Some("amd64"));
        assert!(p[0].is_installed());
        assert_eq!(p[1].source, "libseccomp");
        assert_eq!(p[1].source_version.as_str(), "2.5.4-1");
        assert_eq!(p[1].version.as_str(), "2.5.4-1+b3");
        assert!(!p[2].is_installed());
        assert_eq!(p[2].line, 22);
    }

    #[test]
    fn corrupt_is_an_error_with_a_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("Package: a\nStatus: install ok installed\nVersion 1.0\n", 3, "neither"),
            (" cont\nPackage: a\n", 1, "continuation"),
            ("Package: a\nPackage: b\n", 2, "twice"),
            ("Package: a\nStatus: install ok installed\n", 1, "\"Version\""),
            ("Package: a\nVersion: 1\n", 1, "\"Status\""),
            ("Package: a\nStatus: install ok installed\nVersion: x1\n", 3, "digit"),
            ("Package: A_b!\nStatus: install ok installed\nVersion: 1\n", 1, "name"),
            ("Package: a\nStatus: installed\nVersion: 1\n", 2, "Status"),
            ("Package: a\nStatus: install ok installed\nVersion: 1", 3, "truncated"),
            ("Package: a\nStatus: install ok installed\nVersion: 1\nSource: b (1\n", 4, "Source"),
            ("Package: a\nStatus: install ok installed\nVersion: 1\n\nPackage: a\nStatus: install ok installed\nVersion: 2\n", 5, "twice"),
            ("", 0, "empty"),
        ];
        for (text, line, word) in cases {
            let e = parse_status(text.as_bytes(), "/x/status").unwrap_err();
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(e.to_string().contains(word), "{text:?}: {e}");
            assert!(e.to_string().starts_with("/x/status:"), "{e}");
        }
    }

    #[test]
    fn distroless_status_d() {
        let files: Vec<(&str, &[u8])> = vec![
            (
                "base",
                b"Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n",
            ),
            ("base.md5sums", b"d41d8cd98f00b204e9800998ecf8427e  etc/x\n"),
            (
                "libssl3",
                b"Package: libssl3\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n",
            ),
        ];
        let p = parse_status_d(files, "var/lib/dpkg/status.d/").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].source, "openssl");
        assert_eq!(p[1].source_version.as_str(), "3.0.11-1~deb12u2");
        assert_eq!(p[1].origin, "var/lib/dpkg/status.d/libssl3");
        let bad: Vec<(&str, &[u8])> = vec![("x", b"garbage\n")];
        let e = parse_status_d(bad, "sd").unwrap_err();
        assert_eq!(e.origin, "sd/x");
        let empty: Vec<(&str, &[u8])> = vec![("x", b"\n")];
        assert!(parse_status_d(empty, "sd").is_err());
    }
}
