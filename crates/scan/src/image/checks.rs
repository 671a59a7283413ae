//! The escape-specific image checks (`SKD-IMG-*`): what an image carries that helps an escape
//! or what follows one. The lists and the runtime CVE table are the catalogue's
//! (`policy::image`); this module only applies them to an [`Image`].

use super::{Image, Kind};
use crate::pkgdb::{DbError, Package, PkgType};
use crate::version::gosemver;
use policy::image as know;
use policy::Severity;
use serde::Serialize;
use std::cmp::Ordering;

/// One image finding (JSON `findings[]` of `stockade.image/v1`).
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule_id: policy::RuleId,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub cves: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_in: Option<String>,
    /// For vulnerability matches: `fixed`, `no-fix`, `will-not-fix`, and whose record decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The advisory that decided a vulnerability match, and whose it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Why a reviewed exception (VEX statement, ignore file) suppresses it; suppressed findings
    /// stay in the report and do not count toward the exit code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
    /// With `--with MANIFEST`: whether the escape is reachable under that workload, and why.
    /// An unreachable finding does not count toward the exit code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reachability: Option<super::reach::Reachability>,
}

impl Finding {
    pub fn new(rule_id: policy::RuleId, message: String) -> Finding {
        Finding {
            rule_id,
            severity: policy::rule(rule_id).severity,
            message,
            package: None,
            version: None,
            cves: Vec::new(),
            fixed_in: None,
            status: None,
            advisory: None,
            layer: None,
            path: None,
            suppressed: None,
            reachability: None,
        }
    }

    fn at(mut self, path: &str, layer: u16) -> Finding {
        self.path = Some(format!("/{path}"));
        self.layer = Some(layer);
        self
    }
}

/// Every package the image's databases and Go binaries list, with the layer that added each;
/// databases that cannot be read are returned beside them (never taken for empty).
pub fn packages(img: &Image) -> (Vec<Package>, Vec<DbError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (path, cap) in &img.captured {
        let Some(parsed) = crate::pkgdb::parse_db(path, &cap.data) else {
            continue;
        };
        match parsed {
            Ok(mut pkgs) => {
                // The layer of a package is the first layer whose database lists this version.
                for p in &mut pkgs {
                    p.layer = Some(cap.layer_of(&p.name, &p.version));
                }
                out.extend(pkgs);
            }
            Err(e) => errors.push(e),
        }
    }
    for go in img.go.values() {
        let gp = |name: &str, version: &str| Package {
            name: name.to_string(),
            version: version.to_string(),
            kind: PkgType::Go,
            source: None,
            source_version: None,
            layer: Some(go.layer),
            path: Some(format!("/{}", go.path)),
        };
        if let Some(v) = go.info.go_version.strip_prefix("go") {
            out.push(gp("stdlib", v));
        }
        if let Some(m) = &go.info.main {
            if !m.path.is_empty() {
                let v = go.info.main_version().unwrap_or_else(|| m.version.clone());
                out.push(gp(&m.path, &v));
            }
        }
        for d in &go.info.deps {
            out.push(gp(&d.path, &d.version));
        }
    }
    (out, errors)
}

fn in_range(v: &str, introduced: &str, fixed: &str) -> bool {
    (introduced.is_empty() || gosemver::compare(v, introduced) != Ordering::Less)
        && gosemver::compare(v, fixed) == Ordering::Less
}

/// The runtime escape CVEs of the curated table that a Go binary's main module is affected by.
fn runtime_cves(img: &Image, out: &mut Vec<Finding>) {
    for go in img.go.values() {
        let Some(m) = &go.info.main else { continue };
        // A binary built from a source tree says `(devel)`; its version is then the one its
        // build wrote with `-ldflags -X`, else (a distribution's `-trimpath` package) its
        // package version, matched against the distribution's advisories, decides instead.
        let Some(version) = go.info.main_version() else {
            continue;
        };
        for r in know::RUNTIME_CVES.iter().filter(|r| r.module == m.path) {
            let hit = r.affected.iter().find(|(i, f)| in_range(&version, i, f));
            if let Some((_, fixed)) = hit {
                let mut f = Finding::new(
                    policy::id::SKD_IMG_001,
                    format!(
                        "{} {} is affected by {} (fixed in {fixed}; {})",
                        r.name, version, r.cve, r.reference
                    ),
                )
                .at(&go.path, go.layer);
                f.package = Some(m.path.clone());
                f.version = Some(version.clone());
                f.cves = vec![r.cve.to_string()];
                f.fixed_in = Some((*fixed).to_string());
                f.status = Some("fixed".into());
                out.push(f);
            }
        }
    }
}

fn config_checks(img: &Image, out: &mut Vec<Finding>) {
    let Some(c) = img.config.config.as_ref() else {
        return;
    };
    for e in c.env.iter().flatten() {
        let name = e.split('=').next().unwrap_or("");
        if know::LOADER_ENV.contains(&name) {
            out.push(Finding::new(
                policy::id::SKD_IMG_020,
                format!("the image config's Env sets {e:?}"),
            ));
        }
    }
    if let Some(w) = &c.working_dir {
        let norm = format!("{}/", w.trim_end_matches('/'));
        if know::PROC_FD_PREFIXES.iter().any(|p| norm.starts_with(p)) {
            let mut f = Finding::new(
                policy::id::SKD_IMG_021,
                format!("the image config's WorkingDir is {w:?}"),
            );
            f.cves = vec!["CVE-2024-21626".into()];
            out.push(f);
        }
    }
    if let Some(u) = &c.user {
        for part in u.split(':') {
            if part.parse::<u64>().is_ok_and(|n| n > 0x7fff_ffff) {
                let mut f = Finding::new(
                    policy::id::SKD_IMG_022,
                    format!("the image config's User is {u:?}: {part} is above 2147483647"),
                );
                f.cves = vec!["CVE-2024-40635".into()];
                out.push(f);
            }
        }
    }
    if let Some(ob) = c.on_build.as_ref().filter(|o| !o.is_empty()) {
        out.push(Finding::new(
            policy::id::SKD_IMG_023,
            format!("the image config has ONBUILD triggers: {}", ob.join("; ")),
        ));
    }
    for (k, v) in c.labels.iter().flatten() {
        if know::ENGINE_LABELS.contains(&k.as_str()) {
            out.push(Finding::new(
                policy::id::SKD_IMG_024,
                format!("the image config has the label {k}={v:?}"),
            ));
        }
    }
}

fn file_checks(img: &Image, out: &mut Vec<Finding>) {
    for (path, e) in &img.files {
        let name = path.rsplit('/').next().unwrap_or(path);
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        match e.kind {
            Kind::File if e.mode & 0o6000 != 0 => {
                let bits = match e.mode & 0o6000 {
                    0o6000 => "setuid and setgid",
                    0o4000 => "setuid",
                    _ => "setgid",
                };
                out.push(
                    Finding::new(
                        policy::id::SKD_IMG_010,
                        format!(
                            "/{path} is {bits} (mode {:04o}, owner uid {})",
                            e.mode, e.uid
                        ),
                    )
                    .at(path, e.layer),
                );
            }
            Kind::Char
                if know::STANDARD_DEVICES
                    .iter()
                    .any(|&(p, ma, mi)| p == &**path && (ma, mi) == e.dev) => {}
            Kind::Char | Kind::Block => {
                let what = if e.kind == Kind::Char {
                    "character"
                } else {
                    "block"
                };
                out.push(
                    Finding::new(
                        policy::id::SKD_IMG_012,
                        format!("/{path} is a {what} device node ({}:{})", e.dev.0, e.dev.1),
                    )
                    .at(path, e.layer),
                );
            }
            _ => {}
        }
        if e.caps {
            out.push(
                Finding::new(
                    policy::id::SKD_IMG_011,
                    format!("/{path} carries file capabilities (security.capability)"),
                )
                .at(path, e.layer),
            );
        }
        if know::BIN_DIRS.contains(&dir)
            && matches!(e.kind, Kind::File | Kind::Symlink | Kind::Hardlink)
        {
            let setuid = e.kind == Kind::File && e.mode & 0o4000 != 0;
            if know::ATTACKER_TOOLS.contains(&name)
                || (setuid && know::SETUID_ONLY_TOOLS.contains(&name))
            {
                out.push(
                    Finding::new(
                        policy::id::SKD_IMG_050,
                        format!(
                            "/{path} ({name}{}) is in the image",
                            if setuid { ", setuid" } else { "" }
                        ),
                    )
                    .at(path, e.layer),
                );
            }
        }
        if let Some(cred) = know::credential_at(path) {
            let content = img.content(path).unwrap_or_default();
            let real = !content.is_empty()
                && cred
                    .content_marker()
                    .is_none_or(|m| content.windows(m.len()).any(|w| w == m.as_bytes()));
            if e.kind == Kind::File && real {
                out.push(
                    Finding::new(
                        policy::id::SKD_IMG_040,
                        format!("/{path} holds {}", cred.describe()),
                    )
                    .at(path, e.layer),
                );
            }
        }
    }
    for p in know::MUST_BE_CHAR {
        if let Some(e) = img.files.get(*p) {
            if e.kind != Kind::Char {
                let what = match e.kind {
                    Kind::Symlink => format!("a symlink to {}", e.link.as_deref().unwrap_or("?")),
                    Kind::File => "a regular file".into(),
                    Kind::Dir => "a directory".into(),
                    Kind::Block => "a block device".into(),
                    Kind::Fifo => "a FIFO".into(),
                    _ => "not a character device".into(),
                };
                out.push(
                    Finding::new(policy::id::SKD_IMG_030, format!("/{p} is {what}")).at(p, e.layer),
                );
            }
        }
    }
    for t in &img.traversal {
        let mut f = Finding::new(
            policy::id::SKD_IMG_060,
            format!("layer {} entry {:?}: {}", t.layer, t.path, t.reason),
        );
        f.layer = Some(t.layer);
        f.path = Some(t.path.clone());
        out.push(f);
    }
}

/// Every escape-specific finding of an image (not the vulnerability matches).
pub fn escape_findings(img: &Image) -> Vec<Finding> {
    let mut out = Vec::new();
    runtime_cves(img, &mut out);
    config_checks(img, &mut out);
    file_checks(img, &mut out);
    out
}

/// The finding for a vulnerability match: SKD-IMG-001 when it is a curated runtime escape CVE,
/// SKD-IMG-070 otherwise.
pub fn vulnerability(m: &crate::osv::Match) -> Finding {
    use crate::osv::Status;
    let escape = m.names.iter().any(|n| know::is_runtime_escape_cve(n));
    let rule = if escape {
        policy::id::SKD_IMG_001
    } else {
        policy::id::SKD_IMG_070
    };
    let p = &m.package;
    let (status, fixed_in, what) = match &m.status {
        Status::Fixed(v) if m.upstream_only => (
            "fixed",
            Some(v.clone()),
            format!(
                "fixed upstream in {v}; only the upstream record ({}) is present: whether {} backported the fix is not known",
                m.decided_by,
                p.kind.as_str()
            ),
        ),
        Status::Fixed(v) => ("fixed", Some(v.clone()), format!("fixed in {v} ({})", m.decided_by)),
        Status::NoFix => ("no-fix", None, format!("no fix yet ({})", m.decided_by)),
        Status::WillNotFix => ("will-not-fix", None, format!("will not fix ({})", m.decided_by)),
    };
    let mut f = Finding::new(
        rule,
        format!(
            "{} {} ({}) is affected by {}: {what}",
            p.name,
            p.version,
            p.kind.as_str(),
            m.names.join(", ")
        ),
    );
    f.package = Some(p.name.clone());
    f.version = Some(p.version.clone());
    f.cves = m
        .names
        .iter()
        .filter(|n| n.starts_with("CVE-"))
        .cloned()
        .collect();
    f.fixed_in = fixed_in;
    f.status = Some(status.to_string());
    f.advisory = Some(if m.upstream_only {
        format!("{} (upstream only)", m.id)
    } else {
        m.id.clone()
    });
    f.layer = p.layer;
    f.path = p.path.clone();
    f
}
