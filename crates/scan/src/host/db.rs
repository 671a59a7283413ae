//! The curated escape database (`crates/scan/data/escapes.toml`, compiled in): kernel CVEs used
//! for container escapes with the first fixed release per stable branch, their preconditions and
//! the kernel options they need, and runtime CVEs with fixed versions and distribution fixes.
//! Each entry cites its source in the file.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use policy::Severity;
use serde::{Deserialize, Serialize};

use crate::version::deb::DebVersion;

const DATA: &str = include_str!("../../data/escapes.toml");

/// The whole database.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscapeDb {
    /// Component name to the package names that provide it.
    pub components: BTreeMap<String, Vec<String>>,
    pub kernel: Vec<KernelEntry>,
    pub runtime: Vec<RuntimeEntry>,
}

/// What a container must be able to do for a kernel bug to be reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Need {
    /// An unprivileged user namespace (capabilities inside it).
    Userns,
    /// A cgroup v1 hierarchy.
    CgroupV1,
    /// `socket(AF_ALG)`.
    AfAlg,
    /// `socket(AF_VSOCK)`.
    AfVsock,
    /// `mount(2)` inside the container's namespaces (the engines' AppArmor and SELinux
    /// container profiles deny it).
    Mount,
}

impl Need {
    pub fn as_str(self) -> &'static str {
        match self {
            Need::Userns => "unprivileged user namespaces",
            Need::CgroupV1 => "a cgroup v1 hierarchy",
            Need::AfAlg => "socket(AF_ALG)",
            Need::AfVsock => "socket(AF_VSOCK)",
            Need::Mount => "mount(2) in the container",
        }
    }
}

/// A distribution's fixed package version.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistroFix {
    /// `ID` of os-release (`debian`, `ubuntu`).
    pub os: String,
    /// `VERSION_ID` of os-release (`12`, `22.04`).
    pub release: String,
    pub fixed: DebVersion,
}

/// A kernel CVE.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelEntry {
    pub cve: String,
    pub name: String,
    pub severity: Severity,
    pub introduced: DebVersion,
    pub fixed: Vec<DebVersion>,
    pub needs: Vec<Need>,
    pub config: Vec<String>,
    pub probes: Vec<String>,
    pub distro: Vec<DistroFix>,
    pub refs: Vec<String>,
    /// What was read to check the numbers above, and what it said.
    pub verified: Vec<String>,
    /// What those sources did not confirm, and why.
    #[serde(default)]
    pub unverified: Option<String>,
}

/// A runtime or engine CVE.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeEntry {
    pub cve: String,
    pub component: String,
    pub name: String,
    pub severity: Severity,
    pub affected: DebVersion,
    pub fixed: Vec<DebVersion>,
    pub probes: Vec<String>,
    pub distro: Vec<DistroFix>,
    pub refs: Vec<String>,
    /// What was read to check the numbers above, and what it said.
    pub verified: Vec<String>,
    /// What those sources did not confirm, and why.
    #[serde(default)]
    pub unverified: Option<String>,
}

/// The database compiled into this binary. It is part of the source tree and a test proves it
/// loads, so a failure is a build defect; it is still an error here, never a panic.
pub fn db() -> Result<&'static EscapeDb, String> {
    static DB: OnceLock<Result<EscapeDb, String>> = OnceLock::new();
    DB.get_or_init(|| {
        let db: EscapeDb =
            toml::from_str(DATA).map_err(|e| format!("crates/scan/data/escapes.toml: {e}"))?;
        for r in &db.runtime {
            if !db.components.contains_key(&r.component) {
                return Err(format!(
                    "crates/scan/data/escapes.toml: {} names the unknown component {}",
                    r.cve, r.component
                ));
            }
        }
        Ok(db)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// `major.minor` of a version: the branch a fix is released on.
pub fn branch(v: &DebVersion) -> Option<(u64, u64)> {
    let mut it = v
        .upstream()
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty());
    let major = it.next()?.parse().ok()?;
    let minor = it.next().map(|m| m.parse().ok()).unwrap_or(Some(0))?;
    Some((major, minor))
}

/// A version judged against an introduced version and per-branch fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchVerdict {
    /// Older than the release that introduced the bug.
    NotAffected,
    /// At or past the fix of its branch (or past the mainline fix).
    Fixed(DebVersion),
    /// Before the fix; `fixed_in` is the nearest fixed release at or above it, when there is one.
    Vulnerable { fixed_in: Option<DebVersion> },
}

/// Judge `v`: the fix on its own branch decides; a branch without one is fixed only when it is
/// newer than every fix (it forked after the mainline fix).
pub fn judge(v: &DebVersion, introduced: &DebVersion, fixed: &[DebVersion]) -> BranchVerdict {
    if v < introduced {
        return BranchVerdict::NotAffected;
    }
    let b = branch(v);
    if let Some(f) = fixed.iter().find(|f| b.is_some() && branch(f) == b) {
        return if v >= f {
            BranchVerdict::Fixed(f.clone())
        } else {
            BranchVerdict::Vulnerable {
                fixed_in: Some(f.clone()),
            }
        };
    }
    match fixed.iter().max() {
        Some(m) if v >= m => BranchVerdict::Fixed(m.clone()),
        _ => BranchVerdict::Vulnerable {
            fixed_in: fixed.iter().filter(|f| *f > v).min().cloned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> DebVersion {
        DebVersion::parse(s).unwrap()
    }

    #[test]
    fn loads() {
        let d = db().unwrap();
        assert!(d.kernel.len() >= 9 && d.runtime.len() >= 10);
        for k in &d.kernel {
            assert!(!k.refs.is_empty(), "{} cites nothing", k.cve);
            assert!(k.fixed.iter().all(|f| f > &k.introduced), "{}", k.cve);
        }
    }

    /// Every entry cites its source and records what was read to verify it; each fixed
    /// version and each distribution fix appears in that record, so a number changed without
    /// re-reading its source fails here.
    #[test]
    fn every_entry_is_cited_and_verified() {
        let d = db().unwrap();
        let entries = d
            .kernel
            .iter()
            .map(|k| (&k.cve, &k.refs, &k.verified, &k.fixed, &k.distro))
            .chain(
                d.runtime
                    .iter()
                    .map(|r| (&r.cve, &r.refs, &r.verified, &r.fixed, &r.distro)),
            );
        let mut n = 0;
        for (cve, refs, verified, fixed, distro) in entries {
            n += 1;
            assert!(!refs.is_empty(), "{cve}: no refs");
            assert!(!verified.is_empty(), "{cve}: no verified record");
            assert!(
                verified.iter().all(|v| v.len() > 20 && v.contains(':')),
                "{cve}: each verified line names a source and what it said"
            );
            let all = verified.join(" ");
            for f in fixed {
                let f = f.to_string().replace('~', "-");
                assert!(
                    all.contains(&f),
                    "{cve}: fixed {f} is not in its verified record"
                );
            }
            for x in distro {
                assert!(
                    all.contains(&x.fixed.to_string()),
                    "{cve}: distribution fix {} is not in its verified record",
                    x.fixed
                );
            }
        }
        assert_eq!(n, d.kernel.len() + d.runtime.len());
    }

    #[test]
    fn branches() {
        let fixed: Vec<_> = ["5.15.149", "6.1.76", "6.6.15", "6.8"]
            .iter()
            .map(|s| v(s))
            .collect();
        let i = v("3.15");
        assert_eq!(judge(&v("3.10"), &i, &fixed), BranchVerdict::NotAffected);
        assert_eq!(
            judge(&v("6.1.76"), &i, &fixed),
            BranchVerdict::Fixed(v("6.1.76"))
        );
        assert_eq!(
            judge(&v("6.1.27"), &i, &fixed),
            BranchVerdict::Vulnerable {
                fixed_in: Some(v("6.1.76"))
            }
        );
        // 6.3 never got the fix: the nearest fixed release above it is 6.6.15.
        assert_eq!(
            judge(&v("6.3.5"), &i, &fixed),
            BranchVerdict::Vulnerable {
                fixed_in: Some(v("6.6.15"))
            }
        );
        assert_eq!(
            judge(&v("6.18.44"), &i, &fixed),
            BranchVerdict::Fixed(v("6.8"))
        );
        let runc: Vec<_> = ["1.2.8", "1.3.3", "1.4.0~rc.3"]
            .iter()
            .map(|s| v(s))
            .collect();
        assert!(matches!(
            judge(&v("1.1.5"), &v("0"), &runc),
            BranchVerdict::Vulnerable { fixed_in: Some(f) } if f == v("1.2.8")
        ));
        assert!(matches!(
            judge(&v("1.4.0~rc.2"), &v("0"), &runc),
            BranchVerdict::Vulnerable { .. }
        ));
        assert!(matches!(
            judge(&v("1.5.0"), &v("0"), &runc),
            BranchVerdict::Fixed(_)
        ));
    }
}
