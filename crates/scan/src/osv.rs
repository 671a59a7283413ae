//! The offline vulnerability store: OSV records imported from a directory of OSV JSON files
//! (`stockade db import`), kept with where each import came from and when, and matched against
//! an image's packages with each ecosystem's own version order.
//!
//! Distribution advisories win over upstream ones: when a Debian or Alpine record speaks about a
//! vulnerability (by id, alias or upstream id) for a package, an upstream record (Go) about the
//! same vulnerability is not used for that package, so a fix the distribution backported is not
//! reported. When only the upstream record exists for a distribution's package of a known
//! runtime, the match is reported with a status that says so.

use crate::pkgdb::{Package, PkgType};
use crate::version;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OsvError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not an OSV record: {reason}", path.display())]
    Record { path: PathBuf, reason: String },
    #[error("{}: the vulnerability store is unreadable: {reason} (import the data again with `stockade db import`)", path.display())]
    Store { path: PathBuf, reason: String },
    #[error("{}: no OSV records found (a directory of OSV .json files is expected)", path.display())]
    Empty { path: PathBuf },
}

/// An OSV record, the fields matching uses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub upstream: Vec<String>,
    #[serde(default)]
    pub modified: Option<String>,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub affected: Vec<Affected>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Affected {
    pub package: Option<OsvPackage>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OsvPackage {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// One import: where the records came from, when, how many.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provenance {
    pub source: String,
    /// Seconds since the epoch.
    pub imported_at: u64,
    pub records: usize,
    /// The newest `modified` among the records (RFC 3339), the data's own age.
    pub newest_modified: Option<String>,
}

/// The store on disk (`DIR/osv-store.json`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Store {
    pub schema: String,
    pub imports: Vec<Provenance>,
    pub records: Vec<Record>,
}

const STORE_FILE: &str = "osv-store.json";
const SCHEMA: &str = "stockade.osvstore/v1";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Seconds since the epoch of an RFC 3339 time (`2024-01-31T12:00:00Z`); `None` if unreadable.
pub fn parse_time(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b't') {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let days = policy::civil::days_from_civil(y, m, d);
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

impl Store {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(STORE_FILE)
    }

    /// Load the store; `Ok(None)` when nothing was imported into `dir` yet.
    pub fn load(dir: &Path) -> Result<Option<Store>, OsvError> {
        let p = Self::path(dir);
        let data = match std::fs::read(&p) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(OsvError::Io { path: p, source }),
        };
        let s: Store = serde_json::from_slice(&data).map_err(|e| OsvError::Store {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        if s.schema != SCHEMA {
            return Err(OsvError::Store {
                path: p,
                reason: format!("schema {:?}, expected {SCHEMA}", s.schema),
            });
        }
        Ok(Some(s))
    }

    /// Import OSV records into the store in `dir`: every `*.json` under `src` (a file or a
    /// directory, recursively), or every `*.json` entry of a zip archive (OSV's per-ecosystem
    /// `all.zip`, told by its magic bytes). A record with the same id replaces the older one.
    /// The store is written to a temporary file and renamed, so a failed import leaves the old
    /// store whole.
    pub fn import(dir: &Path, src: &Path) -> Result<Provenance, OsvError> {
        let new = if is_zip(src) {
            read_zip(src)?
        } else {
            let mut files = Vec::new();
            collect(src, &mut files)?;
            let mut new = Vec::new();
            for f in &files {
                let data = std::fs::read(f).map_err(|source| OsvError::Io {
                    path: f.clone(),
                    source,
                })?;
                new.push(record(&data, f)?);
            }
            new
        };
        if new.is_empty() {
            return Err(OsvError::Empty {
                path: src.to_path_buf(),
            });
        }
        let mut store = Self::load(dir)?.unwrap_or_else(|| Store {
            schema: SCHEMA.into(),
            ..Store::default()
        });
        let ids: BTreeSet<String> = new.iter().map(|r| r.id.clone()).collect();
        store.records.retain(|r| !ids.contains(&r.id));
        let newest = new
            .iter()
            .filter_map(|r| r.modified.clone())
            .max_by_key(|m| parse_time(m).unwrap_or(0));
        let prov = Provenance {
            source: std::fs::canonicalize(src)
                .unwrap_or_else(|_| src.to_path_buf())
                .display()
                .to_string(),
            imported_at: now(),
            records: new.len(),
            newest_modified: newest,
        };
        store.records.extend(new);
        store.imports.push(prov.clone());
        std::fs::create_dir_all(dir).map_err(|source| OsvError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let tmp = dir.join(format!(".{STORE_FILE}.{}", std::process::id()));
        let data = serde_json::to_vec(&store).map_err(|e| OsvError::Store {
            path: tmp.clone(),
            reason: e.to_string(),
        })?;
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&tmp)?;
            f.write_all(&data)?;
            f.sync_all()?;
            std::fs::rename(&tmp, Self::path(dir))
        };
        write().map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            OsvError::Io {
                path: Self::path(dir),
                source,
            }
        })?;
        Ok(prov)
    }

    /// Age of the data in seconds: since the newest record's `modified` (or the last import).
    pub fn age(&self) -> u64 {
        let t = self
            .imports
            .iter()
            .map(|p| {
                p.newest_modified
                    .as_deref()
                    .and_then(parse_time)
                    .unwrap_or(p.imported_at)
            })
            .max()
            .unwrap_or(0);
        now().saturating_sub(t)
    }
}

/// The largest OSV record accepted (the largest in OSV's data are a few hundred KiB).
pub const MAX_RECORD: u64 = 16 << 20;

fn record(data: &[u8], at: &Path) -> Result<Record, OsvError> {
    let r: Record = serde_json::from_slice(data).map_err(|e| OsvError::Record {
        path: at.to_path_buf(),
        reason: e.to_string(),
    })?;
    if r.id.is_empty() {
        return Err(OsvError::Record {
            path: at.to_path_buf(),
            reason: "empty id".into(),
        });
    }
    Ok(r)
}

/// Whether `p` is a regular file that starts like a zip archive (`PK\x03\x04`, or an empty
/// archive's `PK\x05\x06`).
fn is_zip(p: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06")
}

/// The records of a zip archive, entry by entry: each `*.json` entry is inflated alone, bounded
/// by [`MAX_RECORD`] (a larger one, or one that inflates past its declared size, is an error),
/// and checked against its CRC as zip's reader does at its end. A truncated or corrupt archive
/// is an error naming it and the entry.
fn read_zip(p: &Path) -> Result<Vec<Record>, OsvError> {
    use std::io::Read;
    let bad = |entry: &str, reason: String| OsvError::Record {
        path: if entry.is_empty() {
            p.to_path_buf()
        } else {
            p.join(entry)
        },
        reason,
    };
    let f = std::fs::File::open(p).map_err(|source| OsvError::Io {
        path: p.to_path_buf(),
        source,
    })?;
    let mut z = zip::ZipArchive::new(std::io::BufReader::new(f))
        .map_err(|e| bad("", format!("not a readable zip archive: {e}")))?;
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for i in 0..z.len() {
        let mut e = z
            .by_index(i)
            .map_err(|e| bad("", format!("entry {i}: {e}")))?;
        let name = e.name().to_string();
        if e.is_dir() || !name.ends_with(".json") {
            continue;
        }
        if e.size() > MAX_RECORD {
            return Err(bad(
                &name,
                format!(
                    "{} bytes inflated, more than the {} MiB an OSV record may have",
                    e.size(),
                    MAX_RECORD >> 20
                ),
            ));
        }
        buf.clear();
        (&mut e)
            .take(MAX_RECORD + 1)
            .read_to_end(&mut buf)
            .map_err(|x| bad(&name, format!("cannot be inflated: {x}")))?;
        if buf.len() as u64 != e.size() {
            return Err(bad(
                &name,
                format!(
                    "inflates to {} bytes, the archive says {}",
                    buf.len(),
                    e.size()
                ),
            ));
        }
        out.push(record(&buf, &p.join(&name))?);
    }
    Ok(out)
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), OsvError> {
    let m = std::fs::metadata(p).map_err(|source| OsvError::Io {
        path: p.to_path_buf(),
        source,
    })?;
    if m.is_file() {
        out.push(p.to_path_buf());
        return Ok(());
    }
    let rd = std::fs::read_dir(p).map_err(|source| OsvError::Io {
        path: p.to_path_buf(),
        source,
    })?;
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for e in entries {
        let ft = std::fs::symlink_metadata(&e).map(|m| m.file_type());
        if ft.as_ref().is_ok_and(|t| t.is_dir()) {
            collect(&e, out)?;
        } else if e.extension().is_some_and(|x| x == "json") {
            out.push(e);
        }
    }
    Ok(())
}

/// The distribution of an image, from `os-release` (`ID`, `VERSION_ID`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Distro {
    pub id: String,
    pub version_id: String,
}

impl Distro {
    pub fn parse(os_release: &[u8]) -> Distro {
        let mut d = Distro::default();
        for line in String::from_utf8_lossy(os_release).lines() {
            if let Some((k, v)) = line.split_once('=') {
                let v = v.trim().trim_matches('"').to_string();
                match k.trim() {
                    "ID" => d.id = v,
                    "VERSION_ID" => d.version_id = v,
                    _ => {}
                }
            }
        }
        d
    }

    /// Whether an OSV ecosystem (`Debian:12`, `Alpine:v3.18`, `Debian`) covers this distribution
    /// for packages of `kind`.
    fn covers(&self, kind: PkgType, ecosystem: &str) -> bool {
        let (name, release) = match ecosystem.split_once(':') {
            Some((n, r)) => (n, Some(r)),
            None => (ecosystem, None),
        };
        match (kind, name) {
            (PkgType::Deb, "Debian") => release.is_none_or(|r| {
                r == self.version_id || self.version_id.split('.').next() == Some(r)
            }),
            (PkgType::Apk, "Alpine") => release.is_none_or(|r| {
                let mut parts = self.version_id.split('.');
                let mm = format!(
                    "v{}.{}",
                    parts.next().unwrap_or(""),
                    parts.next().unwrap_or("")
                );
                r == mm
            }),
            (PkgType::Rpm, name) => self.covers_rpm(name, release),
            _ => false,
        }
    }

    /// The OSV ecosystems of rpm distributions: `AlmaLinux:9`, `Rocky Linux:8`,
    /// `Red Hat:enterprise_linux:9::baseos`, `openSUSE:Leap 15.5`, `openSUSE:Tumbleweed`,
    /// `SUSE:Linux Enterprise Server 15 SP5`, `Mageia:9`, `openEuler:22.03-LTS-SP1`, each for
    /// the `os-release` `ID` that names it and the release of its `VERSION_ID`.
    fn covers_rpm(&self, name: &str, release: Option<&str>) -> bool {
        let v = self.version_id.as_str();
        let major = v.split('.').next().unwrap_or("");
        let ok = |f: &dyn Fn(&str) -> bool| release.is_none_or(f);
        match (self.id.as_str(), name) {
            ("almalinux", "AlmaLinux") | ("rocky", "Rocky Linux") | ("mageia", "Mageia") => {
                ok(&|r| r == major || r == v)
            }
            ("rhel", "Red Hat") => ok(&|r| {
                r.split(':')
                    .nth(1)
                    .is_some_and(|x| x == major || x.split('.').next() == Some(major))
            }),
            ("opensuse-leap", "openSUSE") => ok(&|r| r == format!("Leap {v}")),
            ("opensuse-tumbleweed", "openSUSE") => ok(&|r| r == "Tumbleweed"),
            ("sles" | "sled", "SUSE") => ok(&|r| {
                let want = match v.split_once('.') {
                    Some((m, sp)) if sp != "0" => format!("{m} SP{sp}"),
                    _ => major.to_string(),
                };
                r.ends_with(&format!(" {want}"))
            }),
            ("openEuler" | "openeuler", "openEuler") => ok(&|r| r.starts_with(v) && !v.is_empty()),
            _ => false,
        }
    }
}

/// How a match stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Fixed(String),
    NoFix,
    WillNotFix,
}

/// One vulnerability of one package.
#[derive(Debug, Clone)]
pub struct Match {
    pub package: Package,
    pub id: String,
    /// Every name of the vulnerability (id, aliases, upstream ids), CVEs first.
    pub names: Vec<String>,
    pub status: Status,
    /// Whose record decided: `debian`, `alpine`, `upstream (Go)`.
    pub decided_by: String,
    /// The upstream record was the only one for a distribution's package.
    pub upstream_only: bool,
    pub summary: Option<String>,
}

fn cmp(kind: PkgType, a: &str, b: &str) -> Option<Ordering> {
    match kind {
        PkgType::Deb => version::deb::compare(a, b).ok(),
        PkgType::Apk => Some(version::apk::compare(a, b)),
        PkgType::Rpm => Some(version::rpm::compare_evr(a, b)),
        PkgType::Go => Some(version::gosemver::compare(a, b)),
    }
}

/// Whether `v` is affected by one `affected` entry, and its status.
fn affected_by(kind: PkgType, v: &str, a: &Affected) -> Option<Status> {
    if a.versions.iter().any(|x| x == v) {
        return Some(Status::NoFix);
    }
    for r in &a.ranges {
        if r.kind == "GIT" {
            continue;
        }
        // Events in order: an interval opens at `introduced` and closes at `fixed` (exclusive)
        // or `last_affected` (inclusive).
        let mut open: Option<&str> = None;
        for e in &r.events {
            if let Some(i) = &e.introduced {
                open = Some(i);
            }
            let ge = |x: &str| x == "0" || cmp(kind, v, x).is_some_and(|o| o != Ordering::Less);
            if let (Some(i), Some(f)) = (open, &e.fixed) {
                if ge(i) && cmp(kind, v, f) == Some(Ordering::Less) {
                    return Some(Status::Fixed(f.clone()));
                }
                open = None;
            }
            if let (Some(i), Some(l)) = (open, &e.last_affected) {
                if ge(i) && cmp(kind, v, l).is_some_and(|o| o != Ordering::Greater) {
                    return Some(Status::NoFix);
                }
                open = None;
            }
        }
        if let Some(i) = open {
            let ge = i == "0" || cmp(kind, v, i).is_some_and(|o| o != Ordering::Less);
            if ge {
                return Some(if will_not_fix(a) {
                    Status::WillNotFix
                } else {
                    Status::NoFix
                });
            }
        }
    }
    None
}

/// A distribution's "will not fix" (Debian's `ignored`/`no-dsa`-and-postponed, Ubuntu's
/// `wontfix`), as recorded in `database_specific.status` or `ecosystem_specific.status`.
fn will_not_fix(a: &Affected) -> bool {
    [&a.database_specific, &a.ecosystem_specific]
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("status").and_then(|s| s.as_str()))
        .any(|s| {
            matches!(
                s.to_ascii_lowercase().as_str(),
                "will-not-fix" | "will not fix" | "wontfix" | "ignored"
            )
        })
}

/// The upstream version of a distribution package (`1:1.1.5+ds1-1+deb12u1` -> `1.1.5`), for
/// comparison with an upstream record.
pub fn upstream_version(kind: PkgType, v: &str) -> String {
    let v = v.split_once(':').map_or(v, |(_, r)| r);
    let v = match kind {
        PkgType::Deb | PkgType::Rpm => v.rsplit_once('-').map_or(v, |(u, _)| u),
        PkgType::Apk => v.split("-r").next().unwrap_or(v),
        PkgType::Go => v,
    };
    let end = v.find(['+', '~']).unwrap_or(v.len());
    v[..end].to_string()
}

fn names(r: &Record) -> Vec<String> {
    let mut n: Vec<String> = std::iter::once(&r.id)
        .chain(&r.aliases)
        .chain(&r.upstream)
        .cloned()
        .collect();
    n.sort_by_key(|x| (!x.starts_with("CVE-"), x.clone()));
    n.dedup();
    n
}

/// Match packages against the store. `distro` is the image's; `upstream_of` maps a
/// distribution package name to the Go module of its upstream (the runtime table).
pub fn match_packages(
    store: &Store,
    packages: &[Package],
    distro: &Distro,
    upstream_of: &dyn Fn(&str) -> Option<&'static str>,
) -> Vec<Match> {
    let mut out = Vec::new();
    for p in packages {
        // Distribution records, by source package (Debian, Alpine advisories are per source).
        let key = p.source.as_deref().unwrap_or(&p.name);
        let ver = p.source_version.as_deref().unwrap_or(&p.version);
        let mut distro_names: BTreeSet<String> = BTreeSet::new();
        for r in store.records.iter().filter(|r| r.withdrawn.is_none()) {
            let mine: Vec<&Affected> = r
                .affected
                .iter()
                .filter(|a| {
                    a.package.as_ref().is_some_and(|pk| match p.kind {
                        PkgType::Go => pk.ecosystem == "Go" && pk.name == p.name,
                        // rpm advisories name binary packages; the source is a fallback.
                        PkgType::Rpm => {
                            distro.covers(PkgType::Rpm, &pk.ecosystem)
                                && (pk.name == p.name || Some(&pk.name) == p.source.as_ref())
                        }
                        k => distro.covers(k, &pk.ecosystem) && pk.name == key,
                    })
                })
                .collect();
            if mine.is_empty() {
                continue;
            }
            let ns = names(r);
            if p.kind != PkgType::Go {
                distro_names.extend(ns.iter().cloned());
            }
            let ver = if p.kind == PkgType::Rpm {
                &p.version
            } else {
                ver
            };
            if let Some((status, eco)) = mine.iter().find_map(|a| {
                affected_by(p.kind, ver, a)
                    .map(|s| (s, a.package.as_ref().map(|x| x.ecosystem.clone())))
            }) {
                out.push(Match {
                    package: p.clone(),
                    id: r.id.clone(),
                    names: ns,
                    status,
                    decided_by: match p.kind {
                        PkgType::Deb => "debian".into(),
                        PkgType::Apk => "alpine".into(),
                        PkgType::Rpm => eco.unwrap_or_else(|| "rpm".into()),
                        PkgType::Go => "upstream (Go)".into(),
                    },
                    upstream_only: false,
                    summary: r.summary.clone(),
                });
            }
        }
        // Upstream records for a distribution's package of a known runtime, unless the
        // distribution spoke about the same vulnerability.
        if p.kind == PkgType::Go {
            continue;
        }
        let Some(module) = upstream_of(key).or_else(|| upstream_of(&p.name)) else {
            continue;
        };
        let uv = upstream_version(p.kind, ver);
        for r in store.records.iter().filter(|r| r.withdrawn.is_none()) {
            let ns = names(r);
            if ns.iter().any(|n| distro_names.contains(n)) {
                continue;
            }
            let hit = r
                .affected
                .iter()
                .filter(|a| {
                    a.package
                        .as_ref()
                        .is_some_and(|pk| pk.ecosystem == "Go" && pk.name == module)
                })
                .find_map(|a| affected_by(PkgType::Go, &uv, a));
            if let Some(status) = hit {
                out.push(Match {
                    package: p.clone(),
                    id: r.id.clone(),
                    names: ns,
                    status,
                    decided_by: "upstream (Go)".into(),
                    upstream_only: true,
                    summary: r.summary.clone(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_upstream_versions() {
        assert_eq!(parse_time("1970-01-02T00:00:00Z"), Some(86_400));
        assert_eq!(parse_time("2024-01-31T00:00:00Z"), Some(1_706_659_200));
        assert_eq!(
            upstream_version(PkgType::Deb, "1.1.5+ds1-1+deb12u1"),
            "1.1.5"
        );
        assert_eq!(upstream_version(PkgType::Apk, "1.1.12-r3"), "1.1.12");
    }

    #[test]
    fn rpm_distributions_and_their_ecosystems() {
        let d = |id: &str, v: &str| Distro {
            id: id.into(),
            version_id: v.into(),
        };
        let yes = [
            ("almalinux", "9.3", "AlmaLinux:9"),
            ("rocky", "8.9", "Rocky Linux:8"),
            ("rhel", "9.2", "Red Hat:enterprise_linux:9::baseos"),
            ("rhel", "8.6", "Red Hat:rhel_eus:8.6::appstream"),
            ("opensuse-leap", "15.5", "openSUSE:Leap 15.5"),
            ("opensuse-tumbleweed", "20241101", "openSUSE:Tumbleweed"),
            ("sles", "15.5", "SUSE:Linux Enterprise Server 15 SP5"),
            ("sles", "15", "SUSE:Linux Enterprise Server 15"),
            ("mageia", "9", "Mageia:9"),
            ("openEuler", "22.03", "openEuler:22.03-LTS-SP1"),
            ("almalinux", "9.3", "AlmaLinux"),
        ];
        for (id, v, eco) in yes {
            assert!(d(id, v).covers(PkgType::Rpm, eco), "{id} {v} {eco}");
        }
        let no = [
            ("almalinux", "9.3", "AlmaLinux:8"),
            ("almalinux", "9.3", "Rocky Linux:9"),
            ("rhel", "9.2", "Red Hat:enterprise_linux:8::baseos"),
            ("sles", "15.5", "SUSE:Linux Enterprise Server 15 SP4"),
            ("opensuse-leap", "15.5", "openSUSE:Leap 15.4"),
            ("debian", "12", "AlmaLinux:9"),
            ("fedora", "40", "Red Hat"),
        ];
        for (id, v, eco) in no {
            assert!(!d(id, v).covers(PkgType::Rpm, eco), "{id} {v} {eco}");
        }
        assert!(!d("almalinux", "9.3").covers(PkgType::Deb, "AlmaLinux:9"));
    }
}
