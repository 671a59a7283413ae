//! The rpm database in its three backends: SQLite (`rpmdb.sqlite`, RHEL 9, Fedora 33+, CBL-Mariner
//! 2), Berkeley DB hash (`Packages`, RHEL 8 and older) and NDB (`Packages.db`, SUSE). Each
//! stores one header blob per installed package; the header holds the package's tags.
//!
//! A header blob: `il` and `dl` (big-endian u32: index entries, data bytes), `il` entries of 16
//! bytes (tag, type, offset, count), then `dl` bytes of data. Strings are NUL-terminated.
//!
//! Fail closed: a database or header that cannot be read whole is an error naming the file and
//! what is wrong, never a shorter list.

use super::{DbError, Package, PkgType};

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_I18NSTRING: u32 = 9;

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// An installed rpm, from its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmHeader {
    pub name: String,
    pub version: String,
    pub release: String,
    pub epoch: Option<u32>,
    pub arch: Option<String>,
    pub source_rpm: Option<String>,
}

impl RpmHeader {
    /// `[epoch:]version-release`.
    pub fn evr(&self) -> String {
        match self.epoch {
            Some(e) => format!("{e}:{}-{}", self.version, self.release),
            None => format!("{}-{}", self.version, self.release),
        }
    }

    /// The source package's name (`foo` of `foo-1.0-1.src.rpm`).
    pub fn source_name(&self) -> Option<String> {
        let s = self.source_rpm.as_deref()?.strip_suffix(".rpm")?;
        let s = s.rsplit_once('.')?.0; // arch
        let s = s.rsplit_once('-')?.0; // release
        Some(s.rsplit_once('-')?.0.to_string()) // version
    }
}

/// Parse one header blob (as the databases store it, without the lead or the 8-byte magic).
pub fn parse_header(blob: &[u8]) -> Result<RpmHeader, String> {
    let il = be32(blob, 0).ok_or("header shorter than 8 bytes")? as usize;
    let dl = be32(blob, 4).ok_or("header shorter than 8 bytes")? as usize;
    let data_start = il
        .checked_mul(16)
        .and_then(|x| x.checked_add(8))
        .filter(|&x| x <= blob.len())
        .ok_or_else(|| format!("{il} index entries do not fit in {} bytes", blob.len()))?;
    let data = blob
        .get(data_start..data_start + dl)
        .ok_or_else(|| format!("{dl} data bytes do not fit in {} bytes", blob.len()))?;
    let mut h = RpmHeader {
        name: String::new(),
        version: String::new(),
        release: String::new(),
        epoch: None,
        arch: None,
        source_rpm: None,
    };
    for i in 0..il {
        let e = 8 + i * 16;
        let (tag, ty, off) = (
            be32(blob, e).unwrap_or(0),
            be32(blob, e + 4).unwrap_or(0),
            be32(blob, e + 8).unwrap_or(0) as usize,
        );
        let string = || -> Result<String, String> {
            if ty != TYPE_STRING && ty != TYPE_I18NSTRING {
                return Err(format!("tag {tag} has type {ty}, not a string"));
            }
            let rest = data
                .get(off..)
                .ok_or_else(|| format!("tag {tag} points past the data"))?;
            let end = rest
                .iter()
                .position(|&c| c == 0)
                .ok_or_else(|| format!("tag {tag}: string without its NUL"))?;
            Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
        };
        match tag {
            TAG_NAME => h.name = string()?,
            TAG_VERSION => h.version = string()?,
            TAG_RELEASE => h.release = string()?,
            TAG_ARCH => h.arch = Some(string()?),
            TAG_SOURCERPM => h.source_rpm = Some(string()?),
            TAG_EPOCH => {
                if ty != TYPE_INT32 {
                    return Err(format!("epoch has type {ty}, not int32"));
                }
                h.epoch = Some(be32(data, off).ok_or("epoch points past the data")?);
            }
            _ => {}
        }
    }
    if h.name.is_empty() || h.version.is_empty() {
        return Err("header without a name or version".into());
    }
    Ok(h)
}

fn to_package(h: RpmHeader) -> Package {
    Package {
        name: h.name.clone(),
        version: h.evr(),
        kind: PkgType::Rpm,
        source: h.source_name(),
        source_version: None,
        layer: None,
        path: None,
    }
}

fn headers(origin: &str, blobs: Vec<Vec<u8>>) -> Result<Vec<Package>, DbError> {
    if blobs.is_empty() {
        return Err(DbError {
            path: origin.to_string(),
            reason: "no package headers: the rpm database is empty or unreadable".into(),
        });
    }
    blobs
        .iter()
        .enumerate()
        .map(|(i, b)| {
            parse_header(b).map(to_package).map_err(|reason| DbError {
                path: origin.to_string(),
                reason: format!("package header {}: {reason}", i + 1),
            })
        })
        .collect()
}

/// NDB (`Packages.db`): slot pages index blobs of 16-byte blocks.
pub fn read_ndb(origin: &str, b: &[u8]) -> Result<Vec<Package>, DbError> {
    let bad = |reason: String| DbError {
        path: origin.to_string(),
        reason,
    };
    if b.get(0..4) != Some(b"RpmP") {
        return Err(bad("not an NDB rpm database (no RpmP magic)".into()));
    }
    let slot_pages = le32(b, 12).ok_or_else(|| bad("truncated header".into()))? as usize;
    let slots_end = slot_pages
        .checked_mul(4096)
        .filter(|&e| e <= b.len())
        .ok_or_else(|| bad(format!("{slot_pages} slot pages do not fit in the file")))?;
    let mut blobs = Vec::new();
    // The first two 16-byte slots are the file header.
    for at in (32..slots_end).step_by(16) {
        if b.get(at..at + 4) != Some(b"Slot") {
            continue;
        }
        let pkgidx = le32(b, at + 4).unwrap_or(0);
        let blkoff = le32(b, at + 8).unwrap_or(0) as usize;
        if pkgidx == 0 {
            continue;
        }
        let start = blkoff * 16;
        if b.get(start..start + 4) != Some(b"BlbS") {
            return Err(bad(format!("package {pkgidx}: no blob at block {blkoff}")));
        }
        let len = le32(b, start + 12).unwrap_or(0) as usize;
        let blob = b
            .get(start + 16..start + 16 + len)
            .ok_or_else(|| bad(format!("package {pkgidx}: blob runs past the end")))?;
        blobs.push(blob.to_vec());
    }
    headers(origin, blobs)
}

/// Berkeley DB hash (`Packages`): key/data pairs on hash pages; header blobs are on overflow
/// page chains.
pub fn read_bdb(origin: &str, b: &[u8]) -> Result<Vec<Package>, DbError> {
    let bad = |reason: String| DbError {
        path: origin.to_string(),
        reason,
    };
    const HASH_MAGIC: u32 = 0x0006_1561;
    if le32(b, 12) != Some(HASH_MAGIC) {
        return Err(bad(
            "not a Berkeley DB hash database (or not little-endian)".into(),
        ));
    }
    let page_size = le32(b, 20).unwrap_or(0) as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(bad(format!("page size {page_size}")));
    }
    let last = le32(b, 32).unwrap_or(0) as usize;
    if (last + 1) * page_size > b.len() {
        return Err(bad(format!(
            "{} pages of {page_size} bytes do not fit in {} bytes (truncated)",
            last + 1,
            b.len()
        )));
    }
    let page = |n: usize| &b[n * page_size..(n + 1) * page_size];
    let mut blobs = Vec::new();
    for n in 1..=last {
        let p = page(n);
        // P_HASH (13) or P_HASH_UNSORTED (2).
        if p[25] != 13 && p[25] != 2 {
            continue;
        }
        let entries = le16(p, 20).unwrap_or(0) as usize;
        // Pairs of (key, data) item offsets after the 26-byte page header.
        for k in (1..entries).step_by(2) {
            let off = le16(p, 26 + k * 2).unwrap_or(0) as usize;
            let item = p
                .get(off..)
                .ok_or_else(|| bad(format!("page {n}: item past the page")))?;
            // H_OFFPAGE: the data is on an overflow chain. (H_KEYDATA, inline, is a short value
            // such as the instance counter, not a header.)
            if item.first() == Some(&3) {
                {
                    let mut next = le32(item, 4).unwrap_or(0) as usize;
                    let total = le32(item, 8).unwrap_or(0) as usize;
                    let mut blob = Vec::with_capacity(total);
                    let mut hops = 0;
                    while next != 0 && blob.len() < total {
                        hops += 1;
                        if next > last || hops > last {
                            return Err(bad(format!("page {n}: broken overflow chain")));
                        }
                        let op = page(next);
                        let len = le16(op, 22).unwrap_or(0) as usize;
                        blob.extend_from_slice(
                            op.get(26..26 + len).ok_or_else(|| {
                                bad(format!("overflow page {next}: length {len}"))
                            })?,
                        );
                        next = le32(op, 16).unwrap_or(0) as usize;
                    }
                    if blob.len() != total {
                        return Err(bad(format!(
                            "page {n}: overflow chain holds {} of {total} bytes",
                            blob.len()
                        )));
                    }
                    blobs.push(blob);
                }
            }
        }
    }
    headers(origin, blobs)
}

/// SQLite (`rpmdb.sqlite`): the `Packages` table's `blob` column. The file is opened read-only
/// and immutable (no journal, no WAL, nothing written beside it).
pub fn read_sqlite(origin: &str, path: &std::path::Path) -> Result<Vec<Package>, DbError> {
    let bad = |reason: String| DbError {
        path: origin.to_string(),
        reason,
    };
    let uri = format!("file:{}?immutable=1", path.display());
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
        | rusqlite::OpenFlags::SQLITE_OPEN_URI
        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(uri, flags)
        .map_err(|e| bad(format!("not an SQLite database: {e}")))?;
    let mut st = conn
        .prepare("SELECT blob FROM Packages")
        .map_err(|e| bad(format!("no Packages table: {e}")))?;
    let rows = st
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .map_err(|e| bad(e.to_string()))?;
    let mut blobs = Vec::new();
    for r in rows {
        blobs.push(r.map_err(|e| bad(e.to_string()))?);
    }
    headers(origin, blobs)
}

/// Read an rpm database from bytes, by its file name. SQLite needs a file: the bytes are written
/// to a private (0700) temporary directory that is removed afterwards.
pub fn parse(origin: &str, name: &str, data: &[u8]) -> Result<Vec<Package>, DbError> {
    match name {
        "Packages" => read_bdb(origin, data),
        "Packages.db" => read_ndb(origin, data),
        "rpmdb.sqlite" => {
            let io = |e: std::io::Error| DbError {
                path: origin.to_string(),
                reason: format!("temporary copy: {e}"),
            };
            let dir = std::env::temp_dir().join(format!(
                "stockade-rpmdb-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ));
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&dir)
                .map_err(io)?;
            let f = dir.join("rpmdb.sqlite");
            let r = std::fs::write(&f, data)
                .map_err(io)
                .and_then(|()| read_sqlite(origin, &f));
            let _ = std::fs::remove_dir_all(&dir);
            r
        }
        _ => Err(DbError {
            path: origin.to_string(),
            reason: "not an rpm database file name".into(),
        }),
    }
}

use std::os::unix::fs::DirBuilderExt;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_name() {
        let h = RpmHeader {
            name: "libuuid".into(),
            version: "2.32.1".into(),
            release: "42.el8_8".into(),
            epoch: None,
            arch: None,
            source_rpm: Some("util-linux-2.32.1-42.el8_8.src.rpm".into()),
        };
        assert_eq!(h.source_name().as_deref(), Some("util-linux"));
        assert_eq!(h.evr(), "2.32.1-42.el8_8");
        assert!(parse_header(&[0, 0, 0, 9, 0, 0, 0, 0]).is_err());
    }
}
