//! Facts about a node: what `uname`, the sysctls and the LSM list say (live, or from a facts file
//! for a snapshot), and what its files say (os-release, the dpkg database, the kernel config, the
//! engines' and kubelet's configuration, sockets and state directories). Gathering changes
//! nothing on the host. An input that exists but cannot be read or decoded is recorded as a
//! [`Problem`] (a finding later), never skipped.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::config::{self, NodeConfig};
use super::root::{Meta, Root};
use crate::pkgdb::dpkg::{self, DpkgPackage};
use crate::version::deb::DebVersion;

/// What `uname` says.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uname {
    /// `uname -r`.
    pub release: String,
    /// `uname -v` (Debian puts the package version here: `... Debian 6.1.76-1 (2024-02-01)`).
    pub version: String,
    /// `uname -m`.
    #[serde(default)]
    pub machine: String,
}

/// The cgroup layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupLayout {
    V1,
    V2,
    Hybrid,
}

/// What `--facts FILE` gives for a snapshot: what the running kernel would say (JSON).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelView {
    pub uname: Uname,
    /// `/proc/version_signature` (Ubuntu: `Ubuntu 5.15.0-91.101-generic 5.15.131`).
    #[serde(default)]
    pub version_signature: Option<String>,
    /// sysctl name (dotted) to value, as `sysctl -n` prints it.
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    /// Active LSMs in order (`/sys/kernel/security/lsm`).
    #[serde(default)]
    pub lsms: Vec<String>,
    /// `/sys/kernel/security/lockdown`'s selected mode (`none`, `integrity`, `confidentiality`).
    #[serde(default)]
    pub lockdown: Option<String>,
    #[serde(default)]
    pub cgroup: Option<CgroupLayout>,
}

/// The sysctls `stockade host` reads (the ones that open or close attack surface).
pub const SYSCTLS: &[&str] = &[
    "user.max_user_namespaces",
    "kernel.unprivileged_userns_clone",
    "kernel.apparmor_restrict_unprivileged_userns",
    "kernel.unprivileged_bpf_disabled",
    "kernel.io_uring_disabled",
    "vm.unprivileged_userfaultfd",
    "kernel.yama.ptrace_scope",
    "kernel.kptr_restrict",
    "kernel.dmesg_restrict",
    "kernel.perf_event_paranoid",
    "fs.protected_symlinks",
    "fs.protected_hardlinks",
    "fs.protected_fifos",
    "fs.protected_regular",
    "kernel.modules_disabled",
];

/// An installed runtime or engine and how its version was learnt.
#[derive(Debug, Clone, Serialize)]
pub struct Component {
    /// The component (`runc`, `containerd`, ...), as in the escape database.
    pub name: String,
    /// The package that provides it, when the package database knows it.
    pub package: Option<String>,
    /// The packaged (or reported) version.
    pub version: Option<DebVersion>,
    /// `dpkg`, `Go build info` or `binary --version`, or `binary present` when nothing told
    /// the version.
    pub source: String,
    /// The binary path, for the binary fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
}

/// An input that exists and could not be read or decoded.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

/// Owner and mode of an engine socket or state directory.
#[derive(Debug, Clone, Serialize)]
pub struct PathFact {
    pub path: String,
    pub kind: &'static str,
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    #[serde(skip)]
    pub meta: Meta,
}

/// Everything known about the node.
#[derive(Debug, Clone, Serialize)]
pub struct HostFacts {
    /// Where the files came from (`/` or the snapshot).
    pub root: String,
    pub live: bool,
    /// What the kernel says; `None` for a snapshot without `--facts`.
    pub kernel: Option<KernelView>,
    /// os-release `ID` and `VERSION_ID`.
    pub os_id: Option<String>,
    pub os_version: Option<String>,
    /// Kernel options (`CONFIG_X` to `y`/`m`/value); `None` when no config was found.
    #[serde(skip)]
    pub kernel_config: Option<BTreeMap<String, String>>,
    pub kernel_config_source: Option<String>,
    /// Installed packages (dpkg), empty without a dpkg database.
    #[serde(skip)]
    pub packages: Vec<DpkgPackage>,
    pub components: Vec<Component>,
    pub node: NodeConfig,
    pub paths: Vec<PathFact>,
    pub problems: Vec<Problem>,
}

/// Engine sockets and state directories whose owner and mode matter.
const ENGINE_PATHS: &[(&str, &str)] = &[
    ("run/docker.sock", "socket"),
    ("run/containerd/containerd.sock", "socket"),
    ("run/crio/crio.sock", "socket"),
    ("run/podman/podman.sock", "socket"),
    ("run/buildkit/buildkitd.sock", "socket"),
    ("var/lib/docker", "dir"),
    ("var/lib/containerd", "dir"),
    ("var/lib/containers", "dir"),
    ("var/lib/kubelet", "dir"),
    ("run/containerd", "dir"),
];

/// Binaries of each component, for the fallback when no package provides it.
const BINARIES: &[(&str, &str)] = &[
    ("runc", "runc"),
    ("crun", "crun"),
    ("containerd", "containerd"),
    ("cri-o", "crio"),
    ("podman", "podman"),
    ("docker", "dockerd"),
    ("buildkit", "buildkitd"),
    ("nvidia-container-toolkit", "nvidia-ctk"),
];

const BIN_DIRS: &[&str] = &[
    "usr/local/sbin",
    "usr/local/bin",
    "usr/sbin",
    "usr/bin",
    "sbin",
    "bin",
];

/// The live kernel's view, read without changing anything.
pub fn live_kernel() -> KernelView {
    let u = nix::sys::utsname::uname().ok();
    let s = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        u.as_ref()
            .map(|u| f(u).to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let uname = Uname {
        release: s(|u| u.release()),
        version: s(|u| u.version()),
        machine: s(|u| u.machine()),
    };
    let mut sysctls = BTreeMap::new();
    for name in SYSCTLS {
        let p = format!("/proc/sys/{}", name.replace('.', "/"));
        if let Ok(v) = std::fs::read_to_string(&p) {
            sysctls.insert(name.to_string(), v.trim().to_string());
        }
    }
    let lsms = match std::fs::read_to_string("/sys/kernel/security/lsm") {
        Ok(s) => s
            .trim()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Err(_) => lsm_list_modules(),
    };
    let lockdown = std::fs::read_to_string("/sys/kernel/security/lockdown")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .find(|w| w.starts_with('['))
                .map(|w| w.trim_matches(['[', ']']).to_string())
        });
    KernelView {
        uname,
        version_signature: std::fs::read_to_string("/proc/version_signature")
            .ok()
            .map(|s| s.trim().to_string()),
        sysctls,
        lsms,
        lockdown,
        cgroup: Some(live_cgroup()),
    }
}

/// The LSM list from `lsm_list_modules(2)` (Linux 6.8), for hosts without securityfs mounted.
fn lsm_list_modules() -> Vec<String> {
    const SYS_LSM_LIST_MODULES: libc::c_long = 461;
    let mut ids = [0u64; 32];
    let mut size: u32 = std::mem::size_of_val(&ids) as u32;
    // SAFETY: the kernel writes at most `size` bytes into `ids` and updates `size`; both
    // pointers are valid for the call.
    let n = unsafe {
        libc::syscall(
            SYS_LSM_LIST_MODULES,
            ids.as_mut_ptr(),
            &mut size as *mut u32,
            0u32,
        )
    };
    if n <= 0 {
        return Vec::new();
    }
    ids.iter()
        .take(n as usize)
        .map(|id| {
            match id {
                100 => "capability",
                101 => "selinux",
                102 => "smack",
                103 => "tomoyo",
                104 => "apparmor",
                105 => "yama",
                106 => "loadpin",
                107 => "safesetid",
                108 => "lockdown",
                109 => "bpf",
                110 => "landlock",
                111 => "ima",
                112 => "evm",
                113 => "ipe",
                _ => "unknown",
            }
            .to_string()
        })
        .collect()
}

fn live_cgroup() -> CgroupLayout {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    let magic = |p: &str| {
        nix::sys::statfs::statfs(p)
            .ok()
            .map(|s| s.filesystem_type().0)
    };
    if magic("/sys/fs/cgroup") == Some(CGROUP2_SUPER_MAGIC) {
        CgroupLayout::V2
    } else if magic("/sys/fs/cgroup/unified") == Some(CGROUP2_SUPER_MAGIC) {
        CgroupLayout::Hybrid
    } else {
        CgroupLayout::V1
    }
}

/// Read the facts file of a snapshot.
pub fn read_facts_file(path: &Path) -> Result<KernelView, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        format!(
            "{}: field `{}`: {} (expected the stockade host facts JSON: uname {{release, version, machine}}, version_signature, sysctls, lsms, lockdown, cgroup; see docs/host.md)",
            path.display(),
            e.path(),
            e.inner()
        )
    })
}

fn read_or_problem(root: &Root, rel: &str, problems: &mut Vec<Problem>) -> Option<Vec<u8>> {
    match root.read(rel) {
        Ok(b) => b,
        Err(e) => {
            problems.push(Problem {
                path: root.display(rel),
                message: format!("cannot be read: {e}"),
            });
            None
        }
    }
}

fn os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_string(),
                v.trim().trim_matches(['"', '\'']).to_string(),
            )
        })
        .collect()
}

fn parse_kernel_config(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| l.starts_with("CONFIG_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(super::root::MAX_FILE + 1)
        .read_to_end(&mut out)?;
    if out.len() as u64 > super::root::MAX_FILE {
        return Err(std::io::Error::other("decompresses past the size limit"));
    }
    Ok(out)
}

/// `runc version 1.1.12` / `containerd github.com/containerd/containerd v1.7.2 ...`: the first
/// word that looks like a version.
fn version_in(output: &str) -> Option<DebVersion> {
    output
        .lines()
        .take(3)
        .flat_map(|l| l.split_whitespace())
        .map(|w| w.trim_start_matches('v').trim_end_matches(','))
        .filter(|w| w.as_bytes().first().is_some_and(|b| b.is_ascii_digit()) && w.contains('.'))
        .find_map(|w| DebVersion::parse(&w.replace('-', "~")).ok())
}

/// The Go main modules of each component's binary.
const GO_MODULES: &[(&str, &[&str])] = &[
    ("runc", &["github.com/opencontainers/runc"]),
    (
        "containerd",
        &[
            "github.com/containerd/containerd",
            "github.com/containerd/containerd/v2",
        ],
    ),
    ("cri-o", &["github.com/cri-o/cri-o"]),
    (
        "podman",
        &[
            "github.com/containers/podman/v4",
            "github.com/containers/podman/v5",
        ],
    ),
    ("docker", &["github.com/docker/docker"]),
    ("buildkit", &["github.com/moby/buildkit"]),
    (
        "nvidia-container-toolkit",
        &["github.com/NVIDIA/nvidia-container-toolkit"],
    ),
];

/// The version a component's Go binary records (its main module's version, or the version its
/// build set with `-ldflags -X`), when the binary is that component's.
fn go_version(root: &Root, rel: &str, component: &str) -> Option<DebVersion> {
    let modules = GO_MODULES.iter().find(|(c, _)| *c == component)?.1;
    let mut f = root.open_file(rel).ok()??;
    let info = crate::pkgdb::gobuildinfo::scan(&mut f).ok()??;
    if !modules.contains(&info.main.as_ref()?.path.as_str()) {
        return None;
    }
    let v = info.main_version()?;
    DebVersion::parse(&v.trim_start_matches('v').replace('-', "~")).ok()
}

/// Run `bin --version` for at most two seconds (live host only).
fn binary_version(bin: &str) -> Option<DebVersion> {
    let mut child = Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() < Duration::from_secs(2) => {
                std::thread::sleep(Duration::from_millis(5))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut out = String::new();
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    version_in(&out)
}

/// Gather the facts of `root`, with `kernel` the kernel's view (live or a facts file).
pub fn gather(root: &Root, kernel: Option<KernelView>) -> Result<HostFacts, String> {
    let db = super::db::db()?;
    let mut problems = Vec::new();

    let os = read_or_problem(root, "etc/os-release", &mut problems)
        .or_else(|| read_or_problem(root, "usr/lib/os-release", &mut problems))
        .map(|b| os_release(&String::from_utf8_lossy(&b)))
        .unwrap_or_default();

    // The package database: a corrupt one is a problem (a finding), and no package counts.
    let mut packages = Vec::new();
    if let Some(bytes) = read_or_problem(root, dpkg::STATUS_PATH, &mut problems) {
        match dpkg::parse_status(&bytes, &root.display(dpkg::STATUS_PATH)) {
            Ok(p) => packages = p.into_iter().filter(|p| p.is_installed()).collect(),
            Err(e) => problems.push(Problem {
                path: root.display(dpkg::STATUS_PATH),
                message: e.to_string(),
            }),
        }
    }

    // The kernel config: /proc/config.gz of the running kernel, else /boot/config-RELEASE.
    let mut kernel_config = None;
    let mut kernel_config_source = None;
    let release = kernel.as_ref().map(|k| k.uname.release.clone());
    let mut candidates = Vec::new();
    if root.is_live() {
        candidates.push(("proc/config.gz".to_string(), true));
    }
    if let Some(r) = &release {
        if !r.contains('/') && !r.is_empty() {
            candidates.push((format!("boot/config-{r}"), false));
        }
    }
    for (rel, gz) in candidates {
        let Some(bytes) = read_or_problem(root, &rel, &mut problems) else {
            continue;
        };
        let text = if gz {
            match gunzip(&bytes) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(Problem {
                        path: root.display(&rel),
                        message: format!("cannot be decompressed: {e}"),
                    });
                    continue;
                }
            }
        } else {
            bytes
        };
        kernel_config = Some(parse_kernel_config(&String::from_utf8_lossy(&text)));
        kernel_config_source = Some(root.display(&rel));
        break;
    }

    // Runtimes and engines: the package database first, the binary second.
    let mut components = Vec::new();
    for (name, pkgs) in &db.components {
        if let Some(p) = packages.iter().find(|p| pkgs.contains(&p.name)) {
            components.push(Component {
                name: name.clone(),
                package: Some(p.name.clone()),
                version: Some(p.version.clone()),
                source: "dpkg".into(),
                binary: None,
            });
            continue;
        }
        let Some(bin) = BINARIES.iter().find(|(c, _)| c == name).map(|(_, b)| *b) else {
            continue;
        };
        let Some(dir) = BIN_DIRS.iter().find(|d| {
            matches!(root.meta(&format!("{d}/{bin}")), Ok(Some(m)) if m.mode & libc::S_IFMT == libc::S_IFREG)
        }) else {
            continue;
        };
        let path = format!("/{dir}/{bin}");
        // The Go build info first (read, never run: a snapshot's binaries are not this
        // machine's), then, live only, `--version`.
        let (version, source) = match go_version(root, &format!("{dir}/{bin}"), name) {
            Some(v) => (Some(v), "Go build info"),
            None if root.is_live() => (binary_version(&path), "binary --version"),
            None => (None, ""),
        };
        components.push(Component {
            name: name.clone(),
            package: None,
            source: if version.is_some() {
                source.into()
            } else {
                "binary present, version unknown".into()
            },
            version,
            binary: Some(root.display(&path)),
        });
    }

    let node = config::read(root, &mut problems);

    let mut paths = Vec::new();
    for (rel, kind) in ENGINE_PATHS {
        if let Ok(Some(m)) = root.meta(rel) {
            let ok_kind = if *kind == "socket" {
                m.is_socket()
            } else {
                m.is_dir()
            };
            if ok_kind {
                paths.push(PathFact {
                    path: format!("/{rel}"),
                    kind,
                    mode: format!("{:04o}", m.mode & 0o7777),
                    uid: m.uid,
                    gid: m.gid,
                    meta: m,
                });
            }
        }
    }

    Ok(HostFacts {
        root: root.display(""),
        live: root.is_live(),
        kernel,
        os_id: os.get("ID").cloned(),
        os_version: os.get("VERSION_ID").cloned(),
        kernel_config,
        kernel_config_source,
        packages,
        components,
        node,
        paths,
        problems,
    })
}

/// The CVE ids a Debian changelog (`usr/share/doc/PKG/changelog.Debian.gz`) names, each with the
/// upload that names it first (oldest). The file only holds uploads up to the installed one, so
/// a CVE named there is fixed in the installed package. `Err` when it exists and is unreadable.
pub fn changelog_cves(root: &Root, package: &str) -> Result<BTreeMap<String, String>, String> {
    let rel = format!("usr/share/doc/{package}/changelog.Debian.gz");
    let bytes = match root.read(&rel) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("{}: {e}", root.display(&rel))),
    };
    let text = gunzip(&bytes).map_err(|e| format!("{}: {e}", root.display(&rel)))?;
    let text = String::from_utf8_lossy(&text);
    let mut out = BTreeMap::new();
    let mut upload = String::new();
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            if let Some((_, rest)) = line.split_once('(') {
                if let Some((v, _)) = rest.split_once(')') {
                    upload = v.to_string();
                }
            }
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("CVE-") {
            let id: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if id.len() >= 13 {
                // Uploads are newest first: the last one seen is the oldest.
                out.insert(id.clone(), upload.clone());
            }
            rest = &rest[i + 4..];
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_output() {
        assert_eq!(
            version_in("runc version 1.1.12\ncommit: v1.1.12-0-g51d5e94\nspec: 1.0.2-dev")
                .unwrap()
                .as_str(),
            "1.1.12"
        );
        assert_eq!(
            version_in("containerd github.com/containerd/containerd v1.7.2 0cae528")
                .unwrap()
                .as_str(),
            "1.7.2"
        );
        assert!(version_in("no version here").is_none());
    }
}
