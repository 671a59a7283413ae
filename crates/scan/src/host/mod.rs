//! `stockade host`: facts about this node (kernel, LSMs, sysctls, engines, node configuration) and verdicts against the curated escape database.
//!
//! 1. [`root`]: the node's files, live or a snapshot, read with `RESOLVE_IN_ROOT`.
//! 2. [`facts`] and [`config`]: what the kernel, the package database and the configuration say.
//! 3. [`db`]: the curated escape database (`crates/scan/data/escapes.toml`).
//! 4. [`verdict`]: vulnerable / mitigated / fixed, with rule, evidence and fix; `--prove`
//!    results (the escape battery under the node's runtime) as reachability evidence.
//! 5. [`Report`]: text and JSON (`stockade.host/v1`); the CLI renders SARIF with audit's
//!    reporter (`audit::report::sarif_rule`), so host and audit rules read the same.

pub mod config;
pub mod db;
pub mod facts;
pub mod root;
pub mod verdict;

use std::path::Path;

use serde::Serialize;

pub use facts::HostFacts;
pub use root::Root;
pub use verdict::{Finding, ProbeEvidence, Proof, Status};

/// The JSON schema name of [`Report`].
pub const SCHEMA: &str = "stockade.host/v1";

/// Where the facts come from.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A snapshot's root directory; `None` for this machine.
    pub root: Option<std::path::PathBuf>,
    /// A facts file (what uname, the sysctls and the LSM list say) for a snapshot.
    pub facts: Option<std::path::PathBuf>,
}

/// Read the node's facts. Errors are about the inputs named on the command line (a missing
/// root, an unreadable facts file); a file inside the root that cannot be read becomes a finding.
pub fn gather(opts: &Options) -> Result<(HostFacts, Root), String> {
    let (path, live) = match &opts.root {
        Some(r) => (r.as_path(), false),
        None => (Path::new("/"), true),
    };
    let root = Root::open(path, live).map_err(|e| {
        format!(
            "--root {}: {e} (pass the directory holding the snapshot's etc/, var/ and usr/)",
            path.display()
        )
    })?;
    let kernel = match (&opts.facts, live) {
        (Some(f), _) => Some(facts::read_facts_file(f)?),
        (None, true) => Some(facts::live_kernel()),
        (None, false) => None,
    };
    let f = facts::gather(&root, kernel)?;
    Ok((f, root))
}

/// The runtime and profile containers on this node get by default, for `--prove`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDefault {
    /// `runc`, `crun`, `stockade` or a path (as `stockade check --runtime`).
    pub runtime: String,
    /// `default` (the runtime's own spec) or `docker` (a Docker-like config with its seccomp).
    pub profile: String,
    pub why: String,
}

/// The node's default: Docker's (its `default-runtime`, else runc, with Docker's seccomp unless
/// `seccomp-profile` is `unconfined`) when `daemon.json` exists; the kubelet's (runc; a
/// RuntimeDefault-like profile when `seccompDefault: true`, the runtime's own spec otherwise);
/// else the first of runc and crun installed with its own spec; else stockade.
pub fn node_default(f: &HostFacts) -> NodeDefault {
    if let Some(d) = &f.node.docker {
        let unconfined = d.seccomp_profile.as_deref() == Some("unconfined");
        return NodeDefault {
            runtime: d.default_runtime.clone().unwrap_or_else(|| "runc".into()),
            profile: if unconfined { "default" } else { "docker" }.into(),
            why: format!(
                "Docker is configured (daemon.json): its default runtime{}",
                if unconfined {
                    " without seccomp (seccomp-profile: unconfined)"
                } else {
                    " with its default seccomp profile"
                }
            ),
        };
    }
    if let Some(k) = &f.node.kubelet {
        let rd = k.seccomp_default == Some(true);
        return NodeDefault {
            runtime: "runc".into(),
            profile: if rd { "docker" } else { "default" }.into(),
            why: format!(
                "a kubelet is configured ({}): runc{}",
                k.path,
                if rd {
                    " with RuntimeDefault seccomp (seccompDefault: true)"
                } else {
                    " and no seccomp profile for pods without one (seccompDefault not true)"
                }
            ),
        };
    }
    for rt in ["runc", "crun"] {
        if f.components.iter().any(|c| c.name == rt) {
            return NodeDefault {
                runtime: rt.into(),
                profile: "default".into(),
                why: format!(
                    "no Docker or kubelet configuration; {rt} is installed, with its own spec (what `ctr run` and a bare OCI bundle get)"
                ),
            };
        }
    }
    NodeDefault {
        runtime: "stockade".into(),
        profile: "default".into(),
        why: "no engine configuration and no runc or crun installed".into(),
    }
}

/// A short view of the facts for the report.
#[derive(Debug, Clone, Serialize)]
pub struct HostSummary {
    pub root: String,
    pub live: bool,
    pub os: Option<String>,
    pub kernel_release: Option<String>,
    pub kernel_version: Option<String>,
    pub kernel_config: Option<String>,
    pub lsms: Vec<String>,
    pub lockdown: Option<String>,
    pub cgroup: Option<facts::CgroupLayout>,
    pub sysctls: std::collections::BTreeMap<String, String>,
    pub components: Vec<facts::Component>,
    pub node: config::NodeConfig,
    pub paths: Vec<facts::PathFact>,
}

/// The whole answer of `stockade host`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub host: HostSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<Proof>,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn new(f: &HostFacts, root: &Root, proof: Option<Proof>) -> Result<Report, String> {
        let findings = verdict::judge(f, root, proof.as_ref())?;
        let k = f.kernel.as_ref();
        Ok(Report {
            schema: SCHEMA,
            host: HostSummary {
                root: f.root.clone(),
                live: f.live,
                os: match (&f.os_id, &f.os_version) {
                    (Some(i), Some(v)) => Some(format!("{i} {v}")),
                    (Some(i), None) => Some(i.clone()),
                    _ => None,
                },
                kernel_release: k.map(|k| k.uname.release.clone()),
                kernel_version: k.map(|k| k.uname.version.clone()),
                kernel_config: f.kernel_config_source.clone(),
                lsms: k.map(|k| k.lsms.clone()).unwrap_or_default(),
                lockdown: k.and_then(|k| k.lockdown.clone()),
                cgroup: k.and_then(|k| k.cgroup),
                sysctls: k.map(|k| k.sysctls.clone()).unwrap_or_default(),
                components: f.components.clone(),
                node: f.node.clone(),
                paths: f.paths.clone(),
            },
            proof,
            findings,
        })
    }

    /// Findings that are vulnerable at or above `min`.
    pub fn failing(&self, min: policy::Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.status == Status::Vulnerable && f.severity >= min)
            .count()
    }

    /// JSON (`stockade.host/v1`).
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Text for people: the facts, then the findings, vulnerable first.
    pub fn text(&self) -> String {
        let h = &self.host;
        let mut s = String::new();
        s.push_str(&format!(
            "host {}{}\n",
            h.root,
            if h.live {
                " (this machine)"
            } else {
                " (snapshot)"
            }
        ));
        s.push_str(&format!(
            "  os {}  kernel {}  config {}\n  LSMs {}  lockdown {}  cgroup {}\n",
            h.os.as_deref().unwrap_or("unknown"),
            h.kernel_release.as_deref().unwrap_or("unknown"),
            h.kernel_config.as_deref().unwrap_or("none found"),
            if h.lsms.is_empty() {
                "unknown".into()
            } else {
                h.lsms.join(",")
            },
            h.lockdown.as_deref().unwrap_or("unknown"),
            h.cgroup
                .map(|c| format!("{c:?}").to_lowercase())
                .unwrap_or_else(|| "unknown".into()),
        ));
        for c in &h.components {
            s.push_str(&format!(
                "  {} {} ({})\n",
                c.name,
                c.version
                    .as_ref()
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "unknown".into()),
                c.source
            ));
        }
        if let Some(p) = &self.proof {
            s.push_str(&format!(
                "  --prove: escape battery ran under {} {} ({} techniques): {}\n",
                p.runtime,
                p.profile,
                p.results.len(),
                p.why
            ));
        }
        s.push('\n');
        let mut sorted: Vec<&Finding> = self.findings.iter().collect();
        sorted.sort_by(|a, b| a.status.cmp(&b.status).then(b.severity.cmp(&a.severity)));
        for f in sorted {
            s.push_str(&format!(
                "{:<10} {:<8} {} {} {}{}\n  {}\n",
                f.status.as_str().to_uppercase(),
                f.severity.as_str(),
                f.rule_id,
                f.component,
                if f.cves.is_empty() {
                    String::new()
                } else {
                    format!("{} ", f.cves.join(","))
                },
                f.version,
                f.title
            ));
            for e in &f.evidence {
                s.push_str(&format!("    - {e}\n"));
            }
            if let Some(fi) = &f.fixed_in {
                s.push_str(&format!("    fixed in: {fi}\n"));
            }
            if f.status != Status::Fixed {
                s.push_str(&format!("    fix: {}\n", f.fix));
            }
        }
        let count = |st: Status| self.findings.iter().filter(|f| f.status == st).count();
        s.push_str(&format!(
            "\n{} findings: {} vulnerable, {} mitigated, {} fixed\n",
            self.findings.len(),
            count(Status::Vulnerable),
            count(Status::Mitigated),
            count(Status::Fixed)
        ));
        s
    }
}
