//! Verdicts: every kernel and runtime CVE of the escape database judged against the node's
//! facts, as *vulnerable* (and reachable, as far as the host shows), *mitigated* (by what) or
//! *fixed* (by which release or backport), plus the node's configuration findings. Each finding
//! carries its catalogue rule (`SKD-HOST-*`), its evidence and its fix.

use std::collections::BTreeMap;

use policy::Severity;
use serde::Serialize;

use super::db::{self, BranchVerdict, DistroFix, KernelEntry, Need, RuntimeEntry};
use super::facts::{changelog_cves, CgroupLayout, HostFacts};
use super::root::Root;
use crate::version::deb::DebVersion;
use std::cell::RefCell;

/// A changelog's CVE ids with the upload naming each, or why it could not be read.
type ChangelogCves = Result<BTreeMap<String, String>, String>;

/// Debian changelogs read once per package for one judgement.
struct Changelogs<'a> {
    root: &'a Root,
    read: RefCell<BTreeMap<String, ChangelogCves>>,
}

impl Changelogs<'_> {
    fn get(&self, package: &str) -> ChangelogCves {
        self.read
            .borrow_mut()
            .entry(package.to_string())
            .or_insert_with(|| changelog_cves(self.root, package))
            .clone()
    }
}

/// The verdict of one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Vulnerable,
    Mitigated,
    Fixed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Vulnerable => "vulnerable",
            Status::Mitigated => "mitigated",
            Status::Fixed => "fixed",
        }
    }
}

/// One finding of `stockade host` (schema `stockade.host/v1`).
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule_id: String,
    pub severity: Severity,
    pub status: Status,
    /// `kernel`, `runc`, `docker`, `kubelet`, `sysctl`, ...
    pub component: String,
    /// The version judged (or the setting's value).
    pub version: String,
    pub cves: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_in: Option<String>,
    pub title: String,
    /// Why: each fact the verdict rests on.
    pub evidence: Vec<String>,
    /// What to do.
    pub fix: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

/// A battery result used as reachability evidence (`--prove`).
#[derive(Debug, Clone, Serialize)]
pub struct ProbeEvidence {
    /// `escaped`, `exposed`, `blocked`, `not-applicable`, `inconclusive`.
    pub outcome: String,
    pub detail: String,
    /// The defence that stopped it, when blocked.
    pub layer: Option<String>,
}

/// The battery's results by technique id, with the runtime and profile they ran under.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Proof {
    pub runtime: String,
    pub profile: String,
    /// Why this runtime and profile (the node's default, or the command line).
    pub why: String,
    pub results: BTreeMap<String, ProbeEvidence>,
}

fn sysctl<'a>(f: &'a HostFacts, name: &str) -> Option<&'a str> {
    f.kernel.as_ref()?.sysctls.get(name).map(String::as_str)
}

fn sysctl_num(f: &HostFacts, name: &str) -> Option<i64> {
    sysctl(f, name)?.trim().parse().ok()
}

fn config_has(f: &HostFacts, opt: &str) -> Option<bool> {
    let c = f.kernel_config.as_ref()?;
    Some(matches!(
        c.get(opt).map(String::as_str),
        Some("y") | Some("m")
    ))
}

/// The kernel version to judge and where it came from, or why there is none.
pub struct KernelVersion {
    pub upstream: DebVersion,
    /// Debian or Ubuntu package version of the running kernel.
    pub package: Option<DebVersion>,
    pub how: String,
}

fn numeric_prefix(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    s[..end].trim_end_matches('.')
}

/// A version whose numbers are beyond any real release: judged by nothing.
fn absurd(v: &DebVersion) -> bool {
    let nums: Vec<&str> = v
        .upstream()
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(3)
        .collect();
    let limits = [99u64, 9999, 99999];
    nums.iter()
        .zip(limits)
        .any(|(n, lim)| n.parse::<u64>().map_or(true, |n| n > lim))
}

/// The running kernel's version: Debian's package version from `uname -v`, Ubuntu's from the
/// version signature, else the numeric prefix of the release.
pub fn kernel_version(f: &HostFacts) -> Result<KernelVersion, String> {
    let Some(k) = &f.kernel else {
        return Err(
            "no kernel facts (a snapshot needs --facts FILE with uname, sysctls and LSMs)".into(),
        );
    };
    let parse = |s: &str, what: &str| {
        DebVersion::parse(s).map_err(|e| format!("{what} {s:?} is not a version: {e}"))
    };
    let (upstream, package, how) = if let Some(sig) = k
        .version_signature
        .as_deref()
        .filter(|s| s.starts_with("Ubuntu "))
    {
        // "Ubuntu 5.15.0-91.101-generic 5.15.131": package 5.15.0-91.101, stable base 5.15.131.
        let words: Vec<&str> = sig.split_whitespace().collect();
        let pkg = words.get(1).map(|w| {
            let cut = w
                .rfind('-')
                .filter(|&i| w[i + 1..].chars().all(|c| c.is_ascii_alphabetic()));
            cut.map_or(*w, |i| &w[..i])
        });
        let base = words.get(2).copied().unwrap_or("");
        (
            parse(numeric_prefix(base), "Ubuntu stable base")?,
            pkg.map(|p| parse(p, "Ubuntu kernel package version"))
                .transpose()?,
            format!("Ubuntu version signature {sig:?}"),
        )
    } else if let Some(i) = k.uname.version.find("Debian ") {
        let pv = k.uname.version[i + 7..]
            .split_whitespace()
            .next()
            .unwrap_or("");
        let pkg = parse(pv, "Debian kernel package version")?;
        (
            parse(
                numeric_prefix(pkg.upstream()),
                "Debian kernel upstream version",
            )?,
            Some(pkg),
            format!("Debian package version {pv} from uname -v"),
        )
    } else {
        let r = &k.uname.release;
        let n = numeric_prefix(r);
        if n.matches('.').count() < 1 {
            return Err(format!("kernel release {r:?} has no major.minor version"));
        }
        (
            parse(n, "kernel release")?,
            None,
            format!("kernel release {r}"),
        )
    };
    if absurd(&upstream) {
        return Err(format!(
            "kernel version {upstream} is beyond any real release ({how})"
        ));
    }
    Ok(KernelVersion {
        upstream,
        package,
        how,
    })
}

fn distro_fix<'a>(f: &HostFacts, distro: &'a [DistroFix]) -> Option<&'a DistroFix> {
    let (os, rel) = (f.os_id.as_deref()?, f.os_version.as_deref()?);
    distro.iter().find(|d| d.os == os && d.release == rel)
}

/// Why a user namespace is closed to unprivileged processes, if it is.
fn userns_closed(f: &HostFacts) -> Option<String> {
    if sysctl_num(f, "user.max_user_namespaces") == Some(0) {
        return Some("user namespaces disabled (user.max_user_namespaces=0)".into());
    }
    if sysctl_num(f, "kernel.unprivileged_userns_clone") == Some(0) {
        return Some(
            "unprivileged user namespaces disabled (kernel.unprivileged_userns_clone=0)".into(),
        );
    }
    if sysctl_num(f, "kernel.apparmor_restrict_unprivileged_userns") == Some(1)
        && lsm_active(f, "apparmor")
    {
        return Some("AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)".into());
    }
    None
}

fn lsm_active(f: &HostFacts, name: &str) -> bool {
    f.kernel
        .as_ref()
        .is_some_and(|k| k.lsms.iter().any(|l| l == name))
}

/// An LSM whose engines' default container profile denies mount(2): AppArmor's docker-default
/// and containerd/CRI-O/podman's profiles have `deny mount`, SELinux's `container_t` may not
/// mount. Needs an engine that applies such a profile.
fn mac_denies_mount(f: &HostFacts) -> Option<String> {
    let lsm = ["apparmor", "selinux"]
        .into_iter()
        .find(|l| lsm_active(f, l))?;
    let engine = f.components.iter().find(|c| {
        matches!(
            c.name.as_str(),
            "docker" | "podman" | "containerd" | "cri-o"
        )
    })?;
    Some(format!(
        "{lsm} is active and {} applies its default container profile, which denies mount",
        engine.name
    ))
}

/// A seccomp default that keeps containers from creating user namespaces (the moby-derived
/// RuntimeDefault profiles allow clone/unshare with namespace flags only with CAP_SYS_ADMIN).
fn seccomp_blocks_userns(f: &HostFacts) -> Option<String> {
    if let Some(k) = &f.node.kubelet {
        return (k.seccomp_default == Some(true))
            .then(|| format!("kubelet seccompDefault: true ({}): RuntimeDefault seccomp blocks unshare(CLONE_NEWUSER) without CAP_SYS_ADMIN", k.path));
    }
    let d = f.node.docker.as_ref()?;
    let docker_only = f.components.iter().any(|c| c.name == "docker");
    (docker_only && d.seccomp_profile.as_deref() != Some("unconfined")).then(|| {
        "Docker's default seccomp profile blocks unshare(CLONE_NEWUSER) without CAP_SYS_ADMIN (daemon.json keeps it)".into()
    })
}

fn proof_lines(proof: Option<&Proof>, probes: &[String]) -> Vec<(String, ProbeEvidence)> {
    let Some(p) = proof else { return Vec::new() };
    probes
        .iter()
        .filter_map(|t| p.results.get(t).map(|e| (t.clone(), e.clone())))
        .collect()
}

fn describe(t: &str, e: &ProbeEvidence, p: &Proof) -> String {
    let by = e
        .layer
        .as_deref()
        .map(|l| format!(" by {l}"))
        .unwrap_or_default();
    format!(
        "--prove: battery technique {t} under {} {}: {}{by} ({})",
        p.runtime, p.profile, e.outcome, e.detail
    )
}

fn kernel_finding(
    f: &HostFacts,
    root: &Changelogs,
    kv: &KernelVersion,
    e: &KernelEntry,
    proof: Option<&Proof>,
) -> Finding {
    let mut evidence = vec![format!("kernel {} ({})", kv.upstream, kv.how)];
    let mut fixed_in = None;
    // 1. Distro data, 2. the kernel package's Debian changelog, 3. the upstream stable branches.
    let mut status = None;
    // Distribution data speaks for the kernel series it was written for: Debian 12's 6.1.76-1
    // says nothing about a 6.12 kernel from the same release.
    let same_series = |d: &&DistroFix| {
        kv.package
            .as_ref()
            .is_some_and(|p| db::branch(p) == db::branch(&d.fixed))
    };
    if let (Some(pkg), Some(d)) = (&kv.package, distro_fix(f, &e.distro).filter(same_series)) {
        if pkg >= &d.fixed {
            evidence.push(format!(
                "{} {} fixed it in kernel package {} (distro data); running {pkg}",
                d.os, d.release, d.fixed
            ));
            status = Some(Status::Fixed);
        } else {
            evidence.push(format!(
                "{} {} fixed it in kernel package {}; running {pkg}",
                d.os, d.release, d.fixed
            ));
            fixed_in = Some(d.fixed.to_string());
            status = Some(Status::Vulnerable);
        }
    }
    if status != Some(Status::Fixed) {
        if let Some(k) = &f.kernel {
            let pkg = format!("linux-image-{}", k.uname.release);
            if let Ok(cves) = root.get(&pkg) {
                if let Some(upload) = cves.get(&e.cve) {
                    evidence.push(format!(
                        "/usr/share/doc/{pkg}/changelog.Debian.gz names {} in upload {upload} (backport)",
                        e.cve
                    ));
                    status = Some(Status::Fixed);
                }
            }
        }
    }
    let status = match status {
        Some(s) => s,
        None => match db::judge(&kv.upstream, &e.introduced, &e.fixed) {
            BranchVerdict::NotAffected => {
                evidence.push(format!(
                    "introduced in {}; this kernel predates it",
                    e.introduced
                ));
                Status::Fixed
            }
            BranchVerdict::Fixed(v) => {
                evidence.push(if db::branch(&v) == db::branch(&kv.upstream) {
                    format!("at or past {v}, the fix on its stable branch")
                } else {
                    format!("its branch forked after the mainline fix in {v}")
                });
                Status::Fixed
            }
            BranchVerdict::Vulnerable { fixed_in: fi } => {
                evidence.push(match &fi {
                    Some(v) => {
                        format!("before the fix: {v} is the first fixed release at or above it")
                    }
                    None => "no fixed release at or above it".to_string(),
                });
                fixed_in = fixed_in.or(fi.map(|v| v.to_string()));
                Status::Vulnerable
            }
        },
    };
    let mut status = status;
    let mut mitigations = Vec::new();
    if !e.config.is_empty() {
        match e
            .config
            .iter()
            .map(|o| config_has(f, o))
            .collect::<Option<Vec<_>>>()
        {
            Some(v) if v.iter().all(|b| !b) => {
                let m = format!(
                    "kernel built without {} ({})",
                    e.config.join(" or "),
                    f.kernel_config_source.as_deref().unwrap_or("kernel config")
                );
                mitigations.push(m);
            }
            Some(_) => evidence.push(format!("kernel config has {}", e.config.join(" or "))),
            None => {
                evidence.push("no kernel config found to tell whether the code is built".into())
            }
        }
    }
    // What closes the path on this host: it mitigates a vulnerable kernel, and is said as well
    // ("also") for a fixed one.
    let vulnerable = status == Status::Vulnerable;
    for need in &e.needs {
        match need {
            Need::Userns => {
                if let Some(why) = userns_closed(f) {
                    mitigations.push(why);
                } else if let Some(why) = seccomp_blocks_userns(f) {
                    mitigations.push(why);
                } else if vulnerable {
                    evidence.push(format!(
                        "precondition met: {} (user.max_user_namespaces={})",
                        need.as_str(),
                        sysctl(f, "user.max_user_namespaces").unwrap_or("unknown")
                    ));
                }
            }
            Need::CgroupV1 => {
                if f.kernel.as_ref().and_then(|k| k.cgroup) == Some(CgroupLayout::V2) {
                    mitigations.push("cgroup v2 only: no v1 hierarchy with a release_agent".into());
                } else if vulnerable {
                    evidence.push("precondition met: cgroup v1 hierarchies".into());
                }
            }
            Need::Mount => {
                if let Some(why) = mac_denies_mount(f) {
                    mitigations.push(why);
                } else if vulnerable {
                    evidence.push(
                        "precondition met: no AppArmor or SELinux profile denies mount in containers"
                            .into(),
                    );
                }
            }
            Need::AfAlg | Need::AfVsock => {
                if vulnerable {
                    evidence.push(format!(
                        "precondition: {} allowed unless a seccomp profile blocks it",
                        need.as_str()
                    ));
                }
            }
        }
    }
    if !mitigations.is_empty() {
        if vulnerable {
            status = Status::Mitigated;
            evidence.extend(mitigations.into_iter().map(|m| format!("mitigated: {m}")));
        } else {
            evidence.extend(mitigations.into_iter().map(|m| format!("also: {m}")));
        }
    }
    // --prove: the battery under the node's runtime says whether a container reaches the path.
    let proved = proof_lines(proof, &e.probes);
    if let Some(p) = proof {
        for (t, pe) in &proved {
            evidence.push(describe(t, pe, p));
        }
        if status == Status::Vulnerable && !proved.is_empty() {
            let reached = proved
                .iter()
                .any(|(_, pe)| matches!(pe.outcome.as_str(), "exposed" | "escaped"));
            if reached {
                evidence.push("reachable from a container on this node (proved)".into());
            } else if proved
                .iter()
                .all(|(_, pe)| matches!(pe.outcome.as_str(), "blocked" | "not-applicable"))
            {
                status = Status::Mitigated;
                evidence.push(
                    "mitigated: the battery could not reach the path from a container".into(),
                );
            }
        }
        if proved.is_empty() && !e.probes.is_empty() {
            evidence.push(format!(
                "--prove: no battery result for {}",
                e.probes.join(", ")
            ));
        }
    } else if status == Status::Vulnerable {
        evidence.push("reachability from a container not proved (run with --prove)".into());
    }
    Finding {
        rule_id: policy::id::SKD_HOST_001.to_string(),
        severity: e.severity,
        status,
        component: "kernel".into(),
        version: kv
            .package
            .as_ref()
            .map(|p| format!("{} (package {p})", kv.upstream))
            .unwrap_or_else(|| kv.upstream.to_string()),
        cves: vec![e.cve.clone()],
        fixed_in,
        title: e.name.clone(),
        evidence,
        fix: match status {
            Status::Fixed => "None needed.".into(),
            _ => "Install the distribution's fixed kernel and reboot into it; until then keep the mitigation (or add one: disable unprivileged user namespaces, a seccomp profile that blocks the path).".into(),
        },
        references: e.refs.clone(),
    }
}

/// A packaged upstream version without Debian's repack suffix (`1.1.5+ds1` is upstream 1.1.5).
fn upstream_of(v: &DebVersion) -> Option<DebVersion> {
    let u = v.upstream();
    let cut = ["+ds", "~ds", "+dfsg", "~dfsg", "+repack"]
        .iter()
        .filter_map(|m| u.find(m))
        .min()
        .unwrap_or(u.len());
    DebVersion::parse(&u[..cut]).ok()
}

fn runtime_finding(
    f: &HostFacts,
    root: &Changelogs,
    e: &RuntimeEntry,
    proof: Option<&Proof>,
) -> Option<Finding> {
    let c = f.components.iter().find(|c| c.name == e.component)?;
    let mut evidence = vec![format!(
        "{} {} ({}{})",
        c.name,
        c.version
            .as_ref()
            .map(|v| v.to_string())
            .unwrap_or_else(|| "version unknown".into()),
        c.source,
        c.package
            .as_ref()
            .map(|p| format!(", package {p}"))
            .or_else(|| c.binary.as_ref().map(|b| format!(", {b}")))
            .unwrap_or_default()
    )];
    let mut fixed_in = None;
    let mut status = None;
    match &c.version {
        None => {
            evidence
                .push("the version could not be learnt: judged vulnerable (fail closed)".into());
            status = Some(Status::Vulnerable);
        }
        Some(v) if absurd(v) => {
            evidence.push(format!(
                "version {v} is beyond any real release: judged vulnerable (fail closed)"
            ));
            status = Some(Status::Vulnerable);
        }
        Some(_) => {}
    }
    if status.is_none() {
        if let Some(pkg) = &c.package {
            match root.get(pkg) {
                Ok(cves) => {
                    if let Some(upload) = cves.get(&e.cve) {
                        let backport = c
                            .version
                            .as_ref()
                            .and_then(upstream_of)
                            .is_some_and(|u| e.fixed.iter().all(|f| &u < f));
                        evidence.push(format!(
                            "/usr/share/doc/{pkg}/changelog.Debian.gz names {} in upload {upload}{}",
                            e.cve,
                            if backport {
                                " (a backport: the upstream version is below every upstream fix)"
                            } else {
                                ""
                            }
                        ));
                        status = Some(Status::Fixed);
                    }
                }
                Err(msg) => evidence.push(format!("changelog unreadable: {msg}")),
            }
        }
    }
    if status.is_none() && c.package.is_some() {
        if let (Some(v), Some(d)) = (&c.version, distro_fix(f, &e.distro)) {
            if v >= &d.fixed {
                evidence.push(format!(
                    "{} {} fixed it in {} (distro data)",
                    d.os, d.release, d.fixed
                ));
                status = Some(Status::Fixed);
            } else {
                evidence.push(format!("{} {} fixed it in {}", d.os, d.release, d.fixed));
                fixed_in = Some(d.fixed.to_string());
                status = Some(Status::Vulnerable);
            }
        }
    }
    let status = match status {
        Some(s) => s,
        None => {
            let v = c.version.as_ref().and_then(upstream_of);
            match v.map(|v| (db::judge(&v, &e.affected, &e.fixed), v)) {
                None => Status::Vulnerable,
                Some((BranchVerdict::NotAffected, v)) => {
                    evidence.push(format!(
                        "upstream {v} predates {} (first affected)",
                        e.affected
                    ));
                    Status::Fixed
                }
                Some((BranchVerdict::Fixed(x), v)) => {
                    evidence.push(format!("upstream {v} is at or past the fix {x}"));
                    Status::Fixed
                }
                Some((BranchVerdict::Vulnerable { fixed_in: fi }, v)) => {
                    evidence.push(format!(
                        "upstream {v} is before the fix ({}); no distribution fix recorded and the changelog does not name {}",
                        e.fixed.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "),
                        e.cve
                    ));
                    fixed_in = fixed_in.or(fi.map(|x| x.to_string()));
                    Status::Vulnerable
                }
            }
        }
    };
    let mut status = status;
    if status == Status::Vulnerable && e.component == "runc" {
        if let Some(remap) = f
            .node
            .docker
            .as_ref()
            .and_then(|d| d.userns_remap.as_deref())
        {
            status = Status::Mitigated;
            evidence.push(format!(
                "mitigated (partly): Docker runs containers in a user namespace (userns-remap: {remap:?}), so container root is not host root and cannot write host files or procfs as root"
            ));
        }
    }
    if let Some(p) = proof {
        for (t, pe) in proof_lines(proof, &e.probes) {
            evidence.push(describe(&t, &pe, p));
        }
    }
    Some(Finding {
        rule_id: policy::id::SKD_HOST_002.to_string(),
        severity: e.severity,
        status,
        component: c.name.clone(),
        version: c
            .version
            .as_ref()
            .map(|v| v.to_string())
            .unwrap_or_else(|| "unknown".into()),
        cves: vec![e.cve.clone()],
        fixed_in,
        title: e.name.clone(),
        evidence,
        fix: match status {
            Status::Fixed => "None needed.".into(),
            _ => format!(
                "Upgrade {} to a fixed release ({}) or the distribution's fixed package; until then run containers in user namespaces.",
                c.name,
                e.fixed.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
            ),
        },
        references: e.refs.clone(),
    })
}

fn simple(
    rule: policy::RuleId,
    status: Status,
    component: &str,
    version: String,
    title: String,
    evidence: Vec<String>,
) -> Finding {
    let r = Some(rule.rule());
    Finding {
        rule_id: rule.to_string(),
        severity: r.map(|r| r.severity).unwrap_or(Severity::High),
        status,
        component: component.to_string(),
        version,
        cves: Vec::new(),
        fixed_in: None,
        title,
        evidence,
        fix: r.map(|r| r.remediation.clone()).unwrap_or_default(),
        references: Vec::new(),
    }
}

fn config_findings(f: &HostFacts, out: &mut Vec<Finding>) {
    // Sysctls that open attack surface to every container.
    type Check = (&'static str, fn(i64) -> bool, &'static str, &'static str);
    let checks: &[Check] = &[
        (
            "kernel.unprivileged_bpf_disabled",
            |v| v == 0,
            "unprivileged BPF programs allowed",
            "2",
        ),
        (
            "kernel.io_uring_disabled",
            |v| v == 0,
            "io_uring open to every process",
            "2 (or 1 with a trusted group)",
        ),
        (
            "vm.unprivileged_userfaultfd",
            |v| v == 1,
            "userfaultfd (race widening) open to unprivileged processes",
            "0",
        ),
        (
            "kernel.kptr_restrict",
            |v| v == 0,
            "kernel pointers visible (KASLR bypass)",
            "1",
        ),
        (
            "kernel.dmesg_restrict",
            |v| v == 0,
            "kernel log readable by unprivileged processes",
            "1",
        ),
        (
            "kernel.perf_event_paranoid",
            |v| v < 2,
            "perf events open to unprivileged processes",
            "2 (3 where the kernel has it)",
        ),
        (
            "fs.protected_symlinks",
            |v| v == 0,
            "symlink protection off in sticky directories",
            "1",
        ),
        (
            "fs.protected_hardlinks",
            |v| v == 0,
            "hardlink protection off",
            "1",
        ),
        (
            "fs.protected_fifos",
            |v| v == 0,
            "FIFO protection off in sticky directories",
            "2",
        ),
        (
            "fs.protected_regular",
            |v| v == 0,
            "regular-file protection off in sticky directories",
            "2",
        ),
        (
            "kernel.yama.ptrace_scope",
            |v| v == 0,
            "ptrace of any same-uid process allowed",
            "1",
        ),
    ];
    for (name, bad, what, good) in checks {
        if let Some(v) = sysctl_num(f, name) {
            if bad(v) {
                let mut fd = simple(
                    policy::id::SKD_HOST_004,
                    Status::Vulnerable,
                    "sysctl",
                    format!("{name}={v}"),
                    what.to_string(),
                    vec![format!("{name} = {v}")],
                );
                fd.fix = format!(
                    "Set {name}={good} (a file in /etc/sysctl.d/, then `sysctl --system`)."
                );
                out.push(fd);
            }
        }
    }
    // Module loading: a root process that escapes its capabilities can load kernel code.
    if sysctl_num(f, "kernel.modules_disabled") == Some(0)
        && config_has(f, "CONFIG_MODULES") != Some(false)
    {
        let lockdown = f.kernel.as_ref().and_then(|k| k.lockdown.clone());
        if !matches!(
            lockdown.as_deref(),
            Some("integrity") | Some("confidentiality")
        ) {
            let mut fd = simple(
                policy::id::SKD_HOST_004,
                Status::Vulnerable,
                "sysctl",
                "kernel.modules_disabled=0".into(),
                "kernel modules can be loaded (no lockdown to require signatures)".into(),
                vec![format!(
                    "kernel.modules_disabled = 0, lockdown {}",
                    lockdown.as_deref().unwrap_or("unknown")
                )],
            );
            fd.fix = "Set kernel.modules_disabled=1 once the modules the node needs are loaded, or boot with lockdown=integrity (signed modules only).".into();
            out.push(fd);
        }
    }
    if f.kernel.is_some() {
        match userns_closed(f) {
            None => out.push(simple(
                policy::id::SKD_HOST_003,
                Status::Vulnerable,
                "sysctl",
                format!(
                    "user.max_user_namespaces={}",
                    sysctl(f, "user.max_user_namespaces").unwrap_or("unknown")
                ),
                "unprivileged user namespaces are open (the entry point of most kernel escapes)".into(),
                vec!["neither user.max_user_namespaces=0, kernel.unprivileged_userns_clone=0 nor AppArmor's restriction is set".into()],
            )),
            Some(why) => out.push(simple(
                policy::id::SKD_HOST_003,
                Status::Mitigated,
                "sysctl",
                why.clone(),
                "unprivileged user namespaces are closed".into(),
                vec![why],
            )),
        }
        if let Some(k) = &f.kernel {
            let mac = k.lsms.iter().any(|l| l == "apparmor" || l == "selinux");
            out.push(simple(
                policy::id::SKD_HOST_005,
                if mac {
                    Status::Fixed
                } else {
                    Status::Vulnerable
                },
                "lsm",
                k.lsms.join(","),
                if mac {
                    "a mandatory access control LSM is active".into()
                } else {
                    "no AppArmor or SELinux: containers get no MAC profile".into()
                },
                vec![
                    format!(
                        "active LSMs: {}",
                        if k.lsms.is_empty() {
                            "unknown".into()
                        } else {
                            k.lsms.join(", ")
                        }
                    ),
                    format!(
                        "lockdown: {}",
                        k.lockdown
                            .as_deref()
                            .unwrap_or("unknown (securityfs not mounted)")
                    ),
                ],
            ));
        }
    }
    if let Some(d) = &f.node.docker {
        if d.seccomp_profile.as_deref() == Some("unconfined") {
            out.push(simple(
                policy::id::SKD_HOST_006,
                Status::Vulnerable,
                "docker",
                "seccomp-profile=unconfined".into(),
                "Docker runs every container without seccomp".into(),
                vec!["/etc/docker/daemon.json: \"seccomp-profile\": \"unconfined\"".into()],
            ));
        }
        match &d.userns_remap {
            None => out.push(simple(
                policy::id::SKD_HOST_007,
                Status::Vulnerable,
                "docker",
                "userns-remap unset".into(),
                "Docker containers' root is host root".into(),
                vec!["/etc/docker/daemon.json has no \"userns-remap\"".into()],
            )),
            Some(r) => out.push(simple(
                policy::id::SKD_HOST_007,
                Status::Mitigated,
                "docker",
                format!("userns-remap={r}"),
                "Docker remaps container root to an unprivileged host user".into(),
                vec![format!("/etc/docker/daemon.json: \"userns-remap\": {r:?}")],
            )),
        }
        let mut weak = Vec::new();
        if d.no_new_privileges != Some(true) {
            weak.push("\"no-new-privileges\" is not true".to_string());
        }
        if d.icc != Some(false) {
            weak.push(
                "\"icc\" is not false (containers on the default bridge talk to each other)"
                    .to_string(),
            );
        }
        if !weak.is_empty() {
            out.push(simple(
                policy::id::SKD_HOST_008,
                Status::Vulnerable,
                "docker",
                "daemon.json".into(),
                "Docker daemon defaults that widen a compromise".into(),
                weak,
            ));
        }
    }
    if let Some(c) = &f.node.containerd {
        let mut ev = Vec::new();
        if c.enable_unprivileged_ports == Some(true) {
            ev.push("enable_unprivileged_ports = true".to_string());
        }
        if c.enable_unprivileged_icmp == Some(true) {
            ev.push("enable_unprivileged_icmp = true".to_string());
        }
        if !ev.is_empty() {
            out.push(simple(
                policy::id::SKD_HOST_009,
                Status::Vulnerable,
                "containerd",
                "config.toml".into(),
                "containerd widens what an unprivileged container may do on the network".into(),
                ev,
            ));
        }
    }
    if let Some(k) = &f.node.kubelet {
        let anon = k
            .authentication
            .as_ref()
            .and_then(|a| a.anonymous.as_ref())
            .and_then(|a| a.enabled);
        if anon != Some(false) {
            out.push(simple(
                policy::id::SKD_HOST_010,
                Status::Vulnerable,
                "kubelet",
                format!("anonymous.enabled={anon:?}"),
                "the kubelet API accepts anonymous requests".into(),
                vec![format!(
                    "{}: authentication.anonymous.enabled is {}",
                    k.path,
                    anon.map_or("unset (true by default)".into(), |b| b.to_string())
                )],
            ));
        }
        if let Some(p) = k.read_only_port.filter(|p| *p != 0) {
            out.push(simple(
                policy::id::SKD_HOST_011,
                Status::Vulnerable,
                "kubelet",
                format!("readOnlyPort={p}"),
                "the kubelet serves its read-only port without authentication".into(),
                vec![format!("{}: readOnlyPort: {p}", k.path)],
            ));
        }
        if k.seccomp_default != Some(true) {
            out.push(simple(
                policy::id::SKD_HOST_012,
                Status::Vulnerable,
                "kubelet",
                format!("seccompDefault={:?}", k.seccomp_default),
                "pods without a seccomp profile run Unconfined".into(),
                vec![format!("{}: seccompDefault is not true", k.path)],
            ));
        }
        if k.protect_kernel_defaults != Some(true) {
            out.push(simple(
                policy::id::SKD_HOST_013,
                Status::Vulnerable,
                "kubelet",
                format!("protectKernelDefaults={:?}", k.protect_kernel_defaults),
                "the kubelet does not insist on the kernel defaults it needs".into(),
                vec![format!("{}: protectKernelDefaults is not true", k.path)],
            ));
        }
        if !k.allowed_unsafe_sysctls.is_empty() {
            out.push(simple(
                policy::id::SKD_HOST_014,
                Status::Vulnerable,
                "kubelet",
                k.allowed_unsafe_sysctls.join(","),
                "pods may set unsafe sysctls".into(),
                vec![format!(
                    "{}: allowedUnsafeSysctls: {:?}",
                    k.path, k.allowed_unsafe_sysctls
                )],
            ));
        }
        if k.feature_gates.get("UserNamespacesSupport") == Some(&false) {
            out.push(simple(
                policy::id::SKD_HOST_014,
                Status::Vulnerable,
                "kubelet",
                "UserNamespacesSupport=false".into(),
                "pods cannot run in user namespaces (hostUsers: false is refused)".into(),
                vec![format!(
                    "{}: featureGates.UserNamespacesSupport: false",
                    k.path
                )],
            ));
        }
    }
    for p in &f.paths {
        let m = p.meta.mode;
        let world_w = m & 0o002 != 0;
        let group_w_nonroot = m & 0o020 != 0 && p.gid != 0;
        if p.kind == "socket" && (world_w || p.uid != 0) {
            out.push(simple(
                policy::id::SKD_HOST_015,
                Status::Vulnerable,
                "engine-socket",
                format!("{} {} {}:{}", p.path, p.mode, p.uid, p.gid),
                "an engine socket is writable beyond root".into(),
                vec![format!(
                    "{} mode {} owner {}:{}{}",
                    p.path,
                    p.mode,
                    p.uid,
                    p.gid,
                    if world_w {
                        " (world-writable)"
                    } else {
                        " (not owned by root)"
                    }
                )],
            ));
        } else if p.kind == "socket" && group_w_nonroot {
            out.push(simple(
                policy::id::SKD_HOST_015,
                Status::Mitigated,
                "engine-socket",
                format!("{} {} {}:{}", p.path, p.mode, p.uid, p.gid),
                "an engine socket is writable by a group (its members are root-equivalent)".into(),
                vec![format!(
                    "{} mode {} group {}: every member can start a privileged container",
                    p.path, p.mode, p.gid
                )],
            ));
        } else if p.kind == "dir" && (world_w || p.uid != 0) {
            out.push(simple(
                policy::id::SKD_HOST_015,
                Status::Vulnerable,
                "engine-state",
                format!("{} {} {}:{}", p.path, p.mode, p.uid, p.gid),
                "an engine state directory is writable beyond root".into(),
                vec![format!(
                    "{} mode {} owner {}:{}",
                    p.path, p.mode, p.uid, p.gid
                )],
            ));
        }
    }
}

/// Judge the node. `proof` is the battery's results (`--prove`).
pub fn judge(f: &HostFacts, root: &Root, proof: Option<&Proof>) -> Result<Vec<Finding>, String> {
    let db = db::db()?;
    let root = &Changelogs {
        root,
        read: RefCell::new(BTreeMap::new()),
    };
    let mut out = Vec::new();
    for p in &f.problems {
        out.push(simple(
            policy::id::SKD_HOST_016,
            Status::Vulnerable,
            "input",
            p.path.clone(),
            format!("{} could not be read whole", p.path),
            vec![format!("{}: {}", p.path, p.message)],
        ));
    }
    match kernel_version(f) {
        Ok(kv) => {
            for e in &db.kernel {
                out.push(kernel_finding(f, root, &kv, e, proof));
            }
        }
        Err(why) => out.push(simple(
            policy::id::SKD_HOST_017,
            Status::Vulnerable,
            "kernel",
            f.kernel
                .as_ref()
                .map(|k| k.uname.release.clone())
                .unwrap_or_else(|| "unknown".into()),
            "the kernel cannot be judged against the escape database".into(),
            vec![
                why,
                format!(
                    "{} kernel CVEs left unjudged: {}",
                    db.kernel.len(),
                    db.kernel
                        .iter()
                        .map(|e| e.cve.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ],
        )),
    }
    for e in &db.runtime {
        if let Some(fd) = runtime_finding(f, root, e, proof) {
            out.push(fd);
        }
    }
    config_findings(f, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repack_suffix() {
        let v = |s: &str| DebVersion::parse(s).unwrap();
        assert_eq!(
            upstream_of(&v("1.1.5+ds1-1+deb12u1")).unwrap().as_str(),
            "1.1.5"
        );
        assert_eq!(
            upstream_of(&v("1.6.20~ds1-1+deb12u3")).unwrap().as_str(),
            "1.6.20"
        );
        assert_eq!(
            upstream_of(&v("1.4.0~rc.3")).unwrap().as_str(),
            "1.4.0~rc.3"
        );
        assert!(absurd(&v("99999999999.1")));
        assert!(!absurd(&v("6.18.44")));
    }
}
