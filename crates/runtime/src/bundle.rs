//! Loading and validating a bundle (`config.json` + rootfs).
//!
//! Validation happens before anything is made on the host, so a bad config
//! leaves nothing behind. Each error names the config.json field.

use crate::error::{Error, Result};
use crate::util;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};
use std::path::{Path, PathBuf};

/// A loaded, validated bundle.
pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// Absolute path of the rootfs.
    pub rootfs: PathBuf,
    pub spec: Spec,
}

const NAMESPACE_TYPES: &[&str] = &[
    "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time",
];

impl Bundle {
    pub fn load(dir: &Path) -> Result<Bundle> {
        Bundle::load_or_default(dir, None)
    }

    /// Like [`Bundle::load`]; when `default_terminal` is given and the
    /// bundle has no config.json, the hardened default config
    /// ([`crate::defaults::hardened_spec`], rootfs `rootfs`) is used with
    /// `process.terminal` set to it (`stockade run` without a config).
    pub fn load_or_default(dir: &Path, default_terminal: Option<bool>) -> Result<Bundle> {
        let dir = std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
        let cfg = dir.join("config.json");
        let spec = match (std::fs::read(&cfg), default_terminal) {
            (Ok(data), _) => parse_config(&cfg, &data)?,
            (Err(e), Some(terminal)) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut spec = crate::defaults::hardened_spec();
                if let Some(mut p) = spec.process().clone() {
                    p.set_terminal(Some(terminal));
                    spec.set_process(Some(p));
                }
                spec
            }
            (Err(e), _) => return Err(Error::io(&cfg, e)),
        };
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| Error::field("root", "missing"))?;
        let rootfs = dir.join(root.path());
        let rootfs = std::fs::canonicalize(&rootfs)
            .map_err(|e| Error::field("root.path", format!("rootfs {}: {e}", rootfs.display())))?;
        if !rootfs.is_dir() {
            return Err(Error::field(
                "root.path",
                format!("{} is not a directory", rootfs.display()),
            ));
        }
        // The gate judges what root.path names on this host (SKD-ESC-050:
        // a symlink or bind mount to "/" is the host's root).
        let mut spec = spec;
        policy::oci::resolve_root_path(&mut spec, &dir);
        validate(&spec)?;
        validate_in_rootfs(&spec, &rootfs)?;
        Ok(Bundle { dir, rootfs, spec })
    }
}

/// Parse config.json, naming the field for errors serde reports poorly.
pub fn parse_config(path: &Path, data: &[u8]) -> Result<Spec> {
    // The common case, a valid config, in one pass straight into the Spec.
    // Only when that fails is the document read again as a JSON value, to
    // name the field at fault (or to accept what only the value pass does,
    // such as a repeated key) exactly as before.
    if let Ok(spec) = serde_json::from_slice::<Spec>(data) {
        return Ok(spec);
    }
    let value: serde_json::Value = serde_json::from_slice(data).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        msg: format!("malformed JSON: {e}"),
    })?;
    if let Some(nss) = value
        .pointer("/linux/namespaces")
        .and_then(|v| v.as_array())
    {
        for (i, ns) in nss.iter().enumerate() {
            let t = ns.get("type").and_then(|t| t.as_str()).unwrap_or("");
            if !NAMESPACE_TYPES.contains(&t) {
                return Err(Error::field(
                    format!("linux.namespaces[{i}].type"),
                    format!("unknown namespace type {t:?}"),
                ));
            }
        }
    }
    decode(path, value)
}

/// Decode a JSON value into an OCI type; an error names the field it is about
/// (`process.capabilities.bounding[3]: no variant for CAP_TEST …`).
pub fn decode<T: serde::de::DeserializeOwned>(path: &Path, value: serde_json::Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        Error::Config {
            path: path.to_path_buf(),
            msg: if field.is_empty() || field == "." {
                inner.to_string()
            } else {
                format!("{field}: {inner}")
            },
        }
    })
}

fn validate(spec: &Spec) -> Result<()> {
    let v = spec.version();
    if !v.starts_with("1.") {
        return Err(Error::field(
            "ociVersion",
            format!("unsupported version {v:?} (want 1.x)"),
        ));
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::field("process", "missing"))?;
    match process.args() {
        Some(a) if !a.is_empty() => {}
        _ => return Err(Error::field("process.args", "empty")),
    }
    check_exec_strings(process)?;
    if let Some(p) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.pids().as_ref())
    {
        if p.limit() < -1 {
            return Err(Error::field(
                "linux.resources.pids.limit",
                format!(
                    "{} is not a limit: use a positive number of tasks, or -1 (or 0) for no limit",
                    p.limit()
                ),
            ));
        }
    }
    let cwd = process.cwd();
    if !cwd.is_absolute() {
        return Err(Error::field(
            "process.cwd",
            format!("{} is not an absolute path", cwd.display()),
        ));
    }
    if util::clean_in_root(cwd).is_none() {
        return Err(Error::field(
            "process.cwd",
            format!("{} points outside the rootfs", cwd.display()),
        ));
    }
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| Error::field("linux", "missing"))?;
    let nss = linux.namespaces().clone().unwrap_or_default();
    let mut seen = Vec::new();
    for (i, ns) in nss.iter().enumerate() {
        if seen.contains(&ns.typ()) {
            return Err(Error::field(
                format!("linux.namespaces[{i}]"),
                format!("duplicate namespace {:?}", ns.typ()),
            ));
        }
        seen.push(ns.typ());
        if let Some(p) = ns.path() {
            if !p.exists() {
                return Err(Error::field(
                    format!("linux.namespaces[{i}].path"),
                    format!("{} does not exist", p.display()),
                ));
            }
        }
        if ns.typ() == LinuxNamespaceType::Time {
            return Err(Error::unsupported(
                format!("linux.namespaces[{i}]"),
                "time namespaces",
            ));
        }
    }
    // Fields this runtime does not implement are refused rather than
    // silently ignored: a config that asks for them would run with less
    // than it asked for.
    for (present, field) in [
        (linux.intel_rdt().is_some(), "linux.intelRdt"),
        (linux.memory_policy().is_some(), "linux.memoryPolicy"),
        (
            linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()),
            "linux.netDevices",
        ),
        (
            linux.time_offsets().as_ref().is_some_and(|d| !d.is_empty()),
            "linux.timeOffsets",
        ),
        (
            linux
                .resources()
                .as_ref()
                .is_some_and(|r| r.rdma().as_ref().is_some_and(|d| !d.is_empty())),
            "linux.resources.rdma",
        ),
        (
            process.exec_cpu_affinity().is_some(),
            "process.execCPUAffinity",
        ),
    ] {
        if present {
            return Err(Error::unsupported(field, "not implemented"));
        }
    }
    let has = |t: LinuxNamespaceType| nss.iter().any(|n| n.typ() == t);
    // Without a mount namespace the container's mounts are made in the
    // runtime's namespace, under the rootfs (as runc does), and the process
    // is chrooted; `delete` takes them down again (rootfs::unmount_host_mounts).
    let new_user = nss
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
    let uids = linux.uid_mappings().clone().unwrap_or_default();
    let gids = linux.gid_mappings().clone().unwrap_or_default();
    if new_user {
        check_mappings("linux.uidMappings", &uids)?;
        check_mappings("linux.gidMappings", &gids)?;
    } else if !uids.is_empty() || !gids.is_empty() {
        return Err(Error::field(
            "linux.uidMappings",
            "id mappings need a new user namespace",
        ));
    }
    if (spec.hostname().is_some() || spec.domainname().is_some()) && !has(LinuxNamespaceType::Uts) {
        return Err(Error::field(
            "hostname",
            "setting a hostname needs a uts namespace",
        ));
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let d = m.destination();
        if util::clean_in_root(&Path::new("/").join(d)).is_none() {
            return Err(Error::field(
                format!("mounts[{i}].destination"),
                format!("{} points outside the rootfs", d.display()),
            ));
        }
    }
    // AppArmor and SELinux fields this host cannot apply: refused here,
    // before anything is made (lsm.rs).
    crate::lsm::check(spec)?;
    Ok(())
}

/// The longest single argument or environment string execve takes
/// (MAX_ARG_STRLEN: 32 pages).
const MAX_ARG_STRLEN: usize = 32 * 4096;

/// `process.args` and `process.env` as execve will take them: no NUL byte
/// (a C string ends there), no string over MAX_ARG_STRLEN, and all of them
/// within the kernel's total (a quarter of the stack limit the process
/// will have, at most 6 MiB, at least 128 KiB). Checked at `create`, so
/// such a config fails there and not only at `start` with E2BIG.
fn check_exec_strings(process: &oci_spec::runtime::Process) -> Result<()> {
    let mut total = 0usize;
    for (field, list) in [
        ("process.args", process.args()),
        ("process.env", process.env()),
    ] {
        for (i, a) in list.iter().flatten().enumerate() {
            if a.contains('\0') {
                return Err(Error::field(
                    format!("{field}[{i}]"),
                    "contains a NUL byte, which execve cannot pass",
                ));
            }
            if a.len() >= MAX_ARG_STRLEN {
                return Err(Error::field(
                    format!("{field}[{i}]"),
                    format!(
                        "is {} bytes; execve takes at most {} per string",
                        a.len(),
                        MAX_ARG_STRLEN - 1
                    ),
                ));
            }
            total += a.len() + 1 + std::mem::size_of::<usize>();
        }
    }
    let stack = process
        .rlimits()
        .iter()
        .flatten()
        .find(|r| {
            serde_json::to_value(r.typ())
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                == Some("RLIMIT_STACK".into())
        })
        .map(|r| r.soft())
        .unwrap_or_else(|| {
            let mut cur = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit writes one struct we own.
            let rc = unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut cur) };
            if rc == 0 {
                cur.rlim_cur
            } else {
                8 << 20
            }
        });
    let limit = (stack / 4).clamp(128 << 10, 6 << 20) as usize;
    if total > limit {
        return Err(Error::field(
            "process.env",
            format!(
                "process.args and process.env take {total} bytes, over execve's limit of {limit} (a quarter of the stack limit, at most 6 MiB): pass large data in a file instead"
            ),
        ));
    }
    Ok(())
}

/// Checks that need the rootfs: mount destinations that resolve (through
/// symlinks in the rootfs) to the rootfs itself, and a /dev that cannot be
/// populated.
fn validate_in_rootfs(spec: &Spec, rootfs: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let root = crate::rootfs::Root::open(rootfs)?;
    let id =
        |fd: &std::os::fd::OwnedFd| nix::sys::stat::fstat(fd).ok().map(|s| (s.st_dev, s.st_ino));
    let root_id = id(root.fd());
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let d = m.destination();
        if util::clean_in_root(&Path::new("/").join(d)).is_some_and(|c| c == Path::new("/")) {
            continue; // a mount over "/" is meant so
        }
        if let Ok(fd) = root.resolve(d) {
            if id(&fd) == root_id {
                return Err(Error::field(
                    format!("mounts[{i}].destination"),
                    format!(
                        "{} resolves to the rootfs itself ({} is a symlink to /): replace the symlink with a directory",
                        d.display(),
                        rootfs.join(d.strip_prefix("/").unwrap_or(d)).display()
                    ),
                ));
            }
        }
    }
    let linux = spec.linux().as_ref();
    let new_user = linux
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| {
            n.iter()
                .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none())
        });
    let root_uid = linux
        .and_then(|l| l.uid_mappings().as_ref())
        .and_then(|m| m.iter().find(|m| m.container_id() == 0))
        .map(|m| m.host_id());
    // A missing mount point is made by the container's root; in a new
    // user namespace it can only do that in a directory it owns (or one
    // anyone may write). A relative destination is taken from "/", as the
    // runtime spec says for old configs.
    if new_user {
        let clean = |d: &Path| util::clean_in_root(&Path::new("/").join(d));
        let mounts: Vec<_> = spec.mounts().iter().flatten().collect();
        for (i, m) in mounts.iter().enumerate() {
            let d = m.destination();
            // Made inside an earlier mount (/dev/pts in the /dev tmpfs).
            let in_earlier = clean(d).is_some_and(|c| {
                mounts[..i]
                    .iter()
                    .filter_map(|e| clean(e.destination()))
                    .any(|e| c != e && c.starts_with(&e))
            });
            if in_earlier {
                continue;
            }
            let mut p = d.to_path_buf();
            while root.resolve(&p).is_err() {
                if !p.pop() || p.as_os_str().is_empty() {
                    break;
                }
            }
            if p.as_path() == d {
                continue; // exists
            }
            let Ok(fd) = root.resolve(&p) else { continue };
            let Ok(st) = nix::sys::stat::fstat(&fd) else {
                continue;
            };
            if Some(st.st_uid) != root_uid && st.st_mode & 0o002 == 0 {
                return Err(Error::field(
                    format!("mounts[{i}].destination"),
                    format!(
                        "{} does not exist in the rootfs, and the container's root (host uid {}) cannot create it in {} (owned by uid {}) in its user namespace: create it in the image",
                        d.display(),
                        root_uid.map_or("unmapped".to_string(), |u| u.to_string()),
                        p.display(),
                        st.st_uid
                    ),
                ));
            }
        }
    }
    // No mount at /dev: the default devices are made in the rootfs's own
    // /dev. In a new user namespace, the container's root can only do
    // that when it owns that directory.
    let dev_mounted = spec.mounts().iter().flatten().any(|m| {
        util::clean_in_root(&Path::new("/").join(m.destination()))
            .is_some_and(|c| c == Path::new("/dev"))
    });
    if new_user && !dev_mounted {
        let owner = std::fs::metadata(rootfs.join("dev")).ok().map(|m| m.uid());
        if owner.is_none() || owner != root_uid {
            return Err(Error::field(
                "mounts",
                format!(
                    "no mount at /dev, so the default devices (/dev/null, ...) would be made in {}, which the container's root (host uid {}) does not own in its user namespace: add a tmpfs mount at /dev, as `stockade spec` writes",
                    rootfs.join("dev").display(),
                    root_uid.map_or("unmapped".to_string(), |u| u.to_string())
                ),
            ));
        }
    }
    Ok(())
}

fn check_mappings(field: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    if maps.is_empty() {
        return Err(Error::field(field, "a new user namespace needs mappings"));
    }
    if maps.len() > 340 {
        return Err(Error::field(field, "too many mappings (kernel limit 340)"));
    }
    for (i, m) in maps.iter().enumerate() {
        if m.size() == 0 {
            return Err(Error::field(format!("{field}[{i}].size"), "is 0"));
        }
        let c_end = m.container_id() as u64 + m.size() as u64;
        let h_end = m.host_id() as u64 + m.size() as u64;
        if c_end > u32::MAX as u64 || h_end > u32::MAX as u64 {
            return Err(Error::field(
                format!("{field}[{i}]"),
                "range overflows 32-bit ids",
            ));
        }
        for (j, o) in maps.iter().enumerate().take(i) {
            let overlap = |a: u32, b: u32| {
                let (a, b, s1, s2) = (a as u64, b as u64, m.size() as u64, o.size() as u64);
                a < b + s2 && b < a + s1
            };
            if overlap(m.container_id(), o.container_id()) {
                return Err(Error::field(
                    format!("{field}[{i}]"),
                    format!("containerID range overlaps {field}[{j}]"),
                ));
            }
            if overlap(m.host_id(), o.host_id()) {
                return Err(Error::field(
                    format!("{field}[{i}]"),
                    format!("hostID range overlaps {field}[{j}]"),
                ));
            }
        }
    }
    Ok(())
}
