//! Attribution: which container (id, runtime, pod) a kernel event belongs to.
//!
//! Each event carries the names of the task's cgroup (leaf, parent, grandparent) from the v1
//! `pids` hierarchy, or from the cgroup2 hierarchy when the task sits in the v1 root, plus its
//! mount and pid namespace inodes. The names identify the engine:
//!
//! | cgroup names                                   | runtime                          |
//! |------------------------------------------------|----------------------------------|
//! | `libpod-<id>` / `libpod-<id>.scope`, or `container` under `libpod-<id>.scope` (crun's systemd sub-cgroup on cgroup v2) | podman (libpod) |
//! | `docker-<id>.scope`, or `<id>` under `docker`  | docker                           |
//! | `<id>` / `cri-containerd-<id>.scope` / `crio-<id>.scope` under `pod<uid>` or `kubepods-*-pod<uid>.slice` | containerd/CRI-O with the pod uid |
//! | `<id>` with a runc state dir (`--runc-root`, /run/runc, /run/containerd/runc/*) | runc |
//! | `<id>` with a stockade state dir (`--stockade-root`, `$STOCKADE_STATE_DIR` or /run/stockade) | stockade |
//!
//! Tasks in the host's mount namespace, or whose cgroups match none of these and whose mount
//! namespace is no known container's, are host processes (a host daemon in a private mount
//! namespace). Results are cached per (cgroup names, mount namespace).
//!
//! A runc or stockade container can be gone, state dir and all, before its events are read (a
//! `run` of a short job): the state roots are watched with inotify, and a state dir created
//! while the sensor runs still attributes `<id>` for [`GONE_KEEP`] after it was removed.

use crate::event::RawEvent;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    pub id: String,
    pub runtime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The container's cgroup2 directory, when it has one (used by enforcement).
    #[serde(skip)]
    pub cgroup_v1_leaf: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Host,
    Container(Container),
}

pub struct Attributor {
    runc_roots: Vec<PathBuf>,
    stockade_roots: Vec<PathBuf>,
    host_mntns: u32,
    /// Resolved owners; host verdicts for tasks outside the host mount namespace expire (a
    /// runc state dir can appear after the container's first event).
    cache: HashMap<u64, (Owner, Option<std::time::Instant>)>,
    /// State dirs seen created under the roots: id -> (runtime, when it was removed).
    seen: HashMap<String, (&'static str, Option<std::time::Instant>)>,
    roots_watch: Option<RootsWatch>,
}

/// How long a removed state dir still attributes its id.
pub const GONE_KEEP: std::time::Duration = std::time::Duration::from_secs(120);

/// An inotify instance on the state roots (non-blocking; read when an event's owner is
/// looked up).
struct RootsWatch {
    fd: std::os::fd::OwnedFd,
    /// watch descriptor -> runtime
    wds: HashMap<i32, &'static str>,
    /// Roots that did not exist yet (tried again at each drain).
    missing: Vec<(std::ffi::CString, &'static str)>,
}

impl RootsWatch {
    fn new(roots: &[(&PathBuf, &'static str)]) -> Option<RootsWatch> {
        use std::os::fd::FromRawFd;
        use std::os::unix::ffi::OsStrExt;
        // SAFETY: inotify_init1 takes flags only and returns a new fd or -1.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: inotify_init1 returned a fresh fd that nothing else owns.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        let mut w = RootsWatch {
            fd,
            wds: HashMap::new(),
            missing: roots
                .iter()
                .filter_map(|(r, rt)| {
                    Some((std::ffi::CString::new(r.as_os_str().as_bytes()).ok()?, *rt))
                })
                .collect(),
        };
        w.add_missing();
        Some(w)
    }

    /// Watches the roots that exist now and were not watched yet.
    fn add_missing(&mut self) {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.fd);
        let wds = &mut self.wds;
        self.missing.retain(|(path, rt)| {
            // SAFETY: inotify_add_watch reads the NUL-terminated path; fd is our inotify fd.
            let wd = unsafe {
                libc::inotify_add_watch(
                    fd,
                    path.as_ptr(),
                    libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_DELETE | libc::IN_ONLYDIR,
                )
            };
            if wd >= 0 {
                wds.insert(wd, *rt);
            }
            wd < 0
        });
    }

    /// Applies the queued notifications to `seen`, after watching any root made since.
    fn drain(&mut self, seen: &mut HashMap<String, (&'static str, Option<std::time::Instant>)>) {
        if !self.missing.is_empty() {
            self.add_missing();
        }
        let mut buf = [0u8; 8192];
        loop {
            // SAFETY: read into a buffer we own, of its size, from our inotify fd.
            let n = unsafe {
                libc::read(
                    std::os::fd::AsRawFd::as_raw_fd(&self.fd),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            };
            if n <= 0 {
                return;
            }
            let mut off = 0usize;
            let hdr = std::mem::size_of::<libc::inotify_event>();
            while off + hdr <= n as usize {
                // SAFETY: the kernel wrote whole records; the header lies within the bytes read,
                // and read_unaligned copes with any alignment.
                let ev: libc::inotify_event =
                    unsafe { std::ptr::read_unaligned(buf[off..].as_ptr().cast()) };
                let name_end = (off + hdr + ev.len as usize).min(n as usize);
                let name = &buf[off + hdr..name_end];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                off = name_end;
                let (Some(rt), Ok(id)) = (self.wds.get(&ev.wd), std::str::from_utf8(name)) else {
                    continue;
                };
                if ev.mask & libc::IN_ISDIR == 0 || id.is_empty() || id.starts_with('.') {
                    continue;
                }
                if ev.mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0 {
                    seen.insert(id.to_string(), (*rt, None));
                } else if ev.mask & libc::IN_DELETE != 0 {
                    if let Some(e) = seen.get_mut(id) {
                        e.1 = Some(std::time::Instant::now());
                    }
                }
            }
        }
    }
}

fn is_hex_id(s: &str) -> bool {
    s.len() >= 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn strip(s: &str, prefix: &str, suffix: &str) -> Option<String> {
    let rest = s.strip_prefix(prefix)?;
    Some(rest.strip_suffix(suffix).unwrap_or(rest).to_string())
}

/// `pod0c5e...` or `kubepods-besteffort-pod0c5e_..._.slice` -> pod uid with dashes.
fn pod_uid(name: &str) -> Option<String> {
    let n = name.strip_suffix(".slice").unwrap_or(name);
    let idx = n.rfind("pod")?;
    let uid = &n[idx + 3..];
    if uid.len() < 32 {
        return None;
    }
    Some(uid.replace('_', "-"))
}

impl Attributor {
    /// `runc_roots` and `stockade_roots` are state directories (`--root`) besides the
    /// defaults: /run/runc, /run/crun, /run/containerd/runc/* for runc, and
    /// `$STOCKADE_STATE_DIR` (default /run/stockade) for stockade.
    pub fn new(
        runc_roots: Vec<PathBuf>,
        stockade_roots: Vec<PathBuf>,
        host_mntns: u32,
    ) -> Attributor {
        let mut roots = runc_roots;
        for d in ["/run/runc", "/run/crun"] {
            roots.push(PathBuf::from(d));
        }
        if let Ok(rd) = std::fs::read_dir("/run/containerd/runc") {
            for e in rd.flatten() {
                roots.push(e.path());
            }
        }
        let mut stockade_roots = stockade_roots;
        stockade_roots.push(
            std::env::var_os("STOCKADE_STATE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/run/stockade")),
        );
        let roots_watch = RootsWatch::new(
            &roots
                .iter()
                .map(|r| (r, "runc"))
                .chain(stockade_roots.iter().map(|r| (r, "stockade")))
                .collect::<Vec<_>>(),
        );
        Attributor {
            runc_roots: roots,
            stockade_roots,
            host_mntns,
            cache: HashMap::new(),
            seen: HashMap::new(),
            roots_watch,
        }
    }

    pub fn attribute(&mut self, ev: &RawEvent) -> Owner {
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (&ev.cg_leaf, &ev.cg_parent, &ev.cg_grand, ev.mntns).hash(&mut h);
            h.finish()
        };
        if let Some((o, expires)) = self.cache.get(&key) {
            if expires.is_none_or(|t| t > std::time::Instant::now()) {
                return o.clone();
            }
        }
        if let Some(w) = &mut self.roots_watch {
            w.drain(&mut self.seen);
            let now = std::time::Instant::now();
            self.seen
                .retain(|_, (_, gone)| gone.is_none_or(|t| now.duration_since(t) < GONE_KEEP));
        }
        let owner = self.resolve(&ev.cg_leaf, &ev.cg_parent, &ev.cg_grand, ev.mntns);
        let expires = (owner == Owner::Host && ev.mntns != self.host_mntns)
            .then(|| std::time::Instant::now() + std::time::Duration::from_secs(2));
        if self.cache.len() > 65_536 {
            self.cache.clear();
        }
        self.cache.insert(key, (owner.clone(), expires));
        owner
    }

    fn state_dir_has(&self, root: &Path, id: &str) -> bool {
        !id.is_empty() && !id.contains('/') && root.join(id).join("state.json").is_file()
    }

    /// Resolves cgroup names to an owner.
    pub fn resolve(&self, leaf: &str, parent: &str, grand: &str, mntns: u32) -> Owner {
        let c = |id: String, runtime: &str, pod: Option<String>| {
            Owner::Container(Container {
                id,
                runtime: runtime.to_string(),
                pod,
                cgroup_v1_leaf: leaf.to_string(),
            })
        };
        if leaf.starts_with("libpod-conmon-") {
            return Owner::Host;
        }
        if let Some(id) = strip(leaf, "libpod-", ".scope") {
            return c(id, "podman", None);
        }
        // crun under the systemd cgroup manager on cgroup v2 runs the container in a sub-cgroup
        // of its scope (run.oci.systemd.subgroup, `container` unless set)
        if leaf == "container" && !parent.starts_with("libpod-conmon-") {
            if let Some(id) = strip(parent, "libpod-", ".scope") {
                return c(id, "podman", None);
            }
        }
        if let Some(id) = strip(leaf, "docker-", ".scope") {
            return c(id, "docker", None);
        }
        if parent == "docker" && is_hex_id(leaf) {
            return c(leaf.to_string(), "docker", None);
        }
        for (prefix, rt) in [("cri-containerd-", "containerd"), ("crio-", "cri-o")] {
            if let Some(id) = strip(leaf, prefix, ".scope") {
                if !id.starts_with("conmon") {
                    return c(id, rt, pod_uid(parent));
                }
            }
        }
        if (parent.starts_with("pod") || parent.contains("-pod"))
            && (grand.starts_with("kubepods") || grand == "besteffort" || grand == "burstable")
            || grand.starts_with("kubepods") && parent.starts_with("pod")
        {
            if let Some(uid) = pod_uid(parent) {
                return c(leaf.to_string(), "containerd", Some(uid));
            }
        }
        if self
            .stockade_roots
            .iter()
            .any(|root| self.state_dir_has(root, leaf))
        {
            return c(leaf.to_string(), "stockade", None);
        }
        for root in &self.runc_roots {
            if self.state_dir_has(root, leaf) {
                return c(leaf.to_string(), "runc", None);
            }
        }
        // A state dir seen created while the sensor runs, maybe removed since (RootsWatch).
        if let Some((rt, _)) = self.seen.get(leaf) {
            return c(leaf.to_string(), rt, None);
        }
        if mntns == self.host_mntns {
            return Owner::Host;
        }
        // Namespace fallback: a runc container whose cgroup is not named after it
        // (cgroupsPath set), found through the init pid in the state dirs.
        let roots = self
            .runc_roots
            .iter()
            .map(|r| (r, "runc"))
            .chain(self.stockade_roots.iter().map(|r| (r, "stockade")));
        for (root, rt) in roots {
            let Ok(rd) = std::fs::read_dir(root) else {
                continue;
            };
            for e in rd.flatten() {
                let Ok(text) = std::fs::read_to_string(e.path().join("state.json")) else {
                    continue;
                };
                let Some(pid) = init_pid(&text) else { continue };
                let ns = std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
                    .ok()
                    .and_then(|l| crate::behaviour::ns_inode(&l.to_string_lossy()));
                if ns == Some(mntns) {
                    return c(e.file_name().to_string_lossy().into_owned(), rt, None);
                }
            }
        }
        Owner::Host
    }
}

fn init_pid(state_json: &str) -> Option<u32> {
    let v: serde_json::Value = serde_json::from_str(state_json).ok()?;
    v.get("init_process_pid")
        .or_else(|| v.get("pid"))
        .and_then(|p| p.as_u64())
        .map(|p| p as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(leaf: &str, parent: &str, grand: &str) -> Owner {
        Attributor::new(vec![], vec![], 1).resolve(leaf, parent, grand, 2)
    }

    #[test]
    fn engines_from_cgroup_names() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let Owner::Container(c) = owner(&format!("libpod-{id}"), "libpod_parent", "") else {
            panic!()
        };
        assert_eq!((c.id.as_str(), c.runtime.as_str()), (id, "podman"));
        let Owner::Container(c) = owner(&format!("docker-{id}.scope"), "system.slice", "") else {
            panic!()
        };
        assert_eq!(c.runtime, "docker");
        let Owner::Container(c) =
            owner(id, "pod7f0c5e2a-1111-2222-3333-444455556666", "besteffort")
        else {
            panic!()
        };
        assert_eq!(c.runtime, "containerd");
        assert_eq!(
            c.pod.as_deref(),
            Some("7f0c5e2a-1111-2222-3333-444455556666")
        );
        let Owner::Container(c) = owner(
            &format!("cri-containerd-{id}.scope"),
            "kubepods-burstable-pod7f0c5e2a_1111_2222_3333_444455556666.slice",
            "kubepods-burstable.slice",
        ) else {
            panic!()
        };
        assert_eq!(
            c.pod.as_deref(),
            Some("7f0c5e2a-1111-2222-3333-444455556666")
        );
        assert_eq!(owner("libpod-conmon-abc", "", ""), Owner::Host);
        let Owner::Container(c) =
            owner("container", &format!("libpod-{id}.scope"), "machine.slice")
        else {
            panic!()
        };
        assert_eq!((c.id.as_str(), c.runtime.as_str()), (id, "podman"));
        assert_eq!(owner("container", "system.slice", ""), Owner::Host);
        // a stockade container under a --stockade-root; the same id without a state dir is not
        let root = std::env::temp_dir().join(format!("skw-attrib-{}", std::process::id()));
        std::fs::create_dir_all(root.join("ctr-1")).unwrap();
        std::fs::write(root.join("ctr-1/state.json"), "{}").unwrap();
        let a = Attributor::new(vec![], vec![root.clone()], 1);
        let Owner::Container(c) = a.resolve("ctr-1", "", "", 2) else {
            panic!()
        };
        assert_eq!((c.id.as_str(), c.runtime.as_str()), ("ctr-1", "stockade"));
        assert_eq!(a.resolve("ctr-2", "", "", 1), Owner::Host);
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(owner("session-1.scope", "user.slice", ""), Owner::Host);
    }
}
