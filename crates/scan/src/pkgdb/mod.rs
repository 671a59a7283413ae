//! Package databases: what a root filesystem says is installed (dpkg, apk, rpm, Go build info).

pub mod apk;
pub mod dpkg;
pub mod gobuildinfo;
pub mod rpm;

use serde::Serialize;

/// Package database files whose content an image scan keeps.
pub const DB_PATHS: &[&str] = &[
    "lib/apk/db/installed",
    "var/lib/dpkg/status",
    "var/lib/rpm/Packages",
    "var/lib/rpm/Packages.db",
    "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/Packages",
    "usr/lib/sysimage/rpm/Packages.db",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
];

/// Directories whose files (one level) are package databases: distroless dpkg `status.d/`.
pub const DB_DIRS: &[&str] = &["var/lib/dpkg/status.d/"];

/// A package's ecosystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PkgType {
    Deb,
    Apk,
    Rpm,
    Go,
}

impl PkgType {
    pub fn as_str(self) -> &'static str {
        match self {
            PkgType::Deb => "deb",
            PkgType::Apk => "apk",
            PkgType::Rpm => "rpm",
            PkgType::Go => "go",
        }
    }
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    #[serde(rename = "type")]
    pub kind: PkgType,
    /// The source package (dpkg `Source:`, apk origin), which distro advisories are keyed by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The source package's version, when it differs from the binary's (a binNMU).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// The layer that added this version (0-based), when read from an image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<u16>,
    /// The file the package was read from (the Go binary, for Go modules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A package database that cannot be read whole: never taken for an empty one.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct DbError {
    pub path: String,
    pub reason: String,
}

/// dpkg's packages as inventory entries (installed ones only).
pub fn from_dpkg(pkgs: Vec<dpkg::DpkgPackage>) -> Vec<Package> {
    pkgs.into_iter()
        .filter(|p| p.is_installed())
        .map(|p| Package {
            source_version: (p.source_version != p.version)
                .then(|| p.source_version.as_str().to_string()),
            name: p.name,
            version: p.version.as_str().to_string(),
            kind: PkgType::Deb,
            source: Some(p.source),
            layer: None,
            path: None,
        })
        .collect()
}

/// Parse one package database file by its path (relative to the root); `None` when the path
/// is not a database this crate reads.
pub fn parse_db(path: &str, data: &[u8]) -> Option<Result<Vec<Package>, DbError>> {
    let origin = format!("/{path}");
    let dpkg_err = |e: dpkg::DpkgError| DbError {
        path: origin.clone(),
        reason: e.to_string(),
    };
    if path == "lib/apk/db/installed" {
        return Some(apk::parse(&origin, data));
    }
    if path == dpkg::STATUS_PATH {
        return Some(
            dpkg::parse_status(data, &origin)
                .map(from_dpkg)
                .map_err(dpkg_err),
        );
    }
    if let Some(name) = path
        .strip_prefix("var/lib/rpm/")
        .or_else(|| path.strip_prefix("usr/lib/sysimage/rpm/"))
    {
        return Some(rpm::parse(&origin, name, data));
    }
    if let Some(name) = path.strip_prefix(DB_DIRS[0]) {
        return Some(
            dpkg::parse_status_d([(name, data)], dpkg::STATUS_D_PATH)
                .map(from_dpkg)
                .map_err(dpkg_err),
        );
    }
    None
}
