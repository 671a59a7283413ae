//! Host path classification: engine sockets and sensitive host directories, in any spelling.
//!
//! Paths are normalised lexically the way the kernel would resolve them without symlinks:
//! repeated and trailing slashes collapse, `.` disappears, `..` pops (never above `/`), and
//! `/var/run` is the same directory as `/run` (a symlink on every current distribution).
//!
//! The lists are the rules' parameters in the catalogue (`[rule.params]`), read from there.

use crate::catalogue::id;

/// The lexical normal form of an absolute host path. Relative paths are taken from `/`.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    if parts.first() == Some(&"var") && parts.get(1) == Some(&"run") {
        parts.remove(0);
    }
    let mut out = String::with_capacity(path.len() + 1);
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Whether `ancestor` is `path` or one of its parent directories (both normalised).
pub fn is_at_or_above(ancestor: &str, path: &str) -> bool {
    ancestor == "/"
        || path == ancestor
        || (path.starts_with(ancestor) && path.as_bytes().get(ancestor.len()) == Some(&b'/'))
}

/// The engine API sockets of SKD-ESC-020 (`[rule.params] sockets` in `rules/escape.toml`),
/// normalised (so `/var/run/...` is listed as `/run/...`).
pub fn engine_sockets() -> &'static [String] {
    id::SKD_ESC_020.rule().param("sockets")
}

/// The engine state directories of SKD-ESC-020 (`[rule.params] dirs`): their contents include a
/// socket or give equivalent control.
pub fn engine_dirs() -> &'static [String] {
    id::SKD_ESC_020.rule().param("dirs")
}

/// Whether `name` is the file name of an engine socket of SKD-ESC-020, recognised in any
/// directory (a socket bind-mounted from an unusual one, a connect seen by `stockade watch`).
pub fn is_engine_socket_name(name: &str) -> bool {
    !name.is_empty()
        && engine_sockets()
            .iter()
            .any(|s| s.rsplit('/').next() == Some(name))
}

/// Whether the normalised path is the socket or directory of an engine, or inside one.
pub fn inside_engine(p: &str) -> bool {
    engine_sockets()
        .iter()
        .chain(engine_dirs())
        .any(|s| is_at_or_above(s, p))
}

/// The pod's `/dev/shm` that containerd's CRI makes for every sandbox and binds into each of
/// its containers: `<sandbox_shm_under><sandbox id>/shm`, a tmpfs that holds no socket.
/// Without this, every pod that containerd starts is "inside /run/containerd".
fn engine_made_shm(p: &str) -> bool {
    id::SKD_ESC_020
        .rule()
        .param("sandbox_shm_under")
        .iter()
        .any(|under| {
            p.strip_prefix(under.as_str())
                .and_then(|rest| rest.strip_suffix("/shm"))
                .is_some_and(|id| !id.is_empty() && !id.contains('/') && id != "." && id != "..")
        })
}

/// If the host path exposes a container-engine socket, the socket (or directory) it exposes.
///
/// A mount exposes a socket when it is the socket, a directory holding it, or a parent of those.
pub fn engine_socket(host_path: &str) -> Option<String> {
    let p = normalize(host_path);
    let name = p.rsplit('/').next().unwrap_or("");
    if is_engine_socket_name(name) {
        return Some(p);
    }
    // /var holds /var/run, which is /run on current systems and a real directory on old ones.
    if p == "/var" {
        return Some("/var/run".to_string());
    }
    if engine_made_shm(&p) {
        return None;
    }
    for s in engine_sockets().iter().chain(engine_dirs()) {
        if is_at_or_above(&p, s) || is_at_or_above(s, &p) {
            return Some(s.clone());
        }
    }
    None
}

/// Host directories whose exposure gives a route to host root or to cluster credentials.
pub const SENSITIVE_PATHS: &[&str] = &[
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/sys/fs/cgroup",
    "/dev",
    "/boot",
    "/lib",
    "/lib64",
    "/usr",
    "/bin",
    "/sbin",
    "/root",
    "/home",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/containers",
    "/var/lib/etcd",
    "/etc/kubernetes",
    "/var/log",
    "/lib/modules",
    "/run",
    "/etc/cni",
    "/opt/cni/bin",
];

/// If the host path is a sensitive directory, at or above one, or inside one of those whose
/// every entry matters (`/proc`, `/sys`, `/dev`, `/etc`, ...), the sensitive path it touches.
pub fn sensitive(host_path: &str) -> Option<&'static str> {
    let p = normalize(host_path);
    // Exact match or a parent of a sensitive path: the mount exposes all of it.
    if let Some(s) = SENSITIVE_PATHS.iter().find(|s| is_at_or_above(&p, s)) {
        return Some(s);
    }
    // Inside a sensitive tree: everything under these is sensitive (/proc/1/root, /etc/shadow).
    const WHOLE_TREE: &[&str] = &[
        "/proc",
        "/sys",
        "/dev",
        "/etc",
        "/boot",
        "/root",
        "/var/lib/kubelet",
        "/var/lib/docker",
        "/var/lib/containerd",
        "/var/lib/etcd",
        "/lib/modules",
    ];
    WHOLE_TREE.iter().copied().find(|s| is_at_or_above(s, &p))
}

/// If the host path is at, above or inside a tree that is sensitive only when mounted writable
/// (SKD-ESC-021's `writable_only` in `rules/escape.toml`: the cgroup tree of lxcfs), that tree.
pub fn sensitive_when_writable(host_path: &str) -> Option<&'static str> {
    let p = normalize(host_path);
    id::SKD_ESC_021
        .rule()
        .param("writable_only")
        .iter()
        .find(|s| is_at_or_above(&p, s) || is_at_or_above(s, &p))
        .map(String::as_str)
}

/// Host files that are harmless to bind in any mode: character devices that discard or give
/// nothing (binding `/dev/null` over a file masks it).
pub const BENIGN_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// Host paths (and everything under them) that are harmless to bind read-only: the time zone
/// and the public CA certificates. Not their parents: `/etc/ssl/private` and
/// `/etc/pki/tls/private` hold keys.
pub const BENIGN_READ_ONLY: &[&str] = &[
    "/etc/localtime",
    "/etc/timezone",
    "/usr/share/zoneinfo",
    "/etc/ssl/certs",
    "/etc/ssl/cert.pem",
    "/etc/pki/tls/certs",
    "/etc/pki/tls/cert.pem",
    "/etc/pki/ca-trust/extracted",
    "/etc/pki/ca-trust/source/anchors",
    "/etc/ca-certificates",
    "/usr/share/ca-certificates",
    "/usr/local/share/ca-certificates",
];

/// Whether binding this host path (read-only or not) exposes nothing worth a finding.
pub fn benign(host_path: &str, read_only: bool) -> bool {
    let p = normalize(host_path);
    BENIGN_DEVICES.contains(&p.as_str())
        || (read_only && BENIGN_READ_ONLY.iter().any(|b| is_at_or_above(b, &p)))
}

/// Docker's masked paths (moby `oci/defaults.go`): the runtime's hardened default and the
/// Docker-like profile of `stockade check` both use them.
pub const DOCKER_MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths (moby `oci/defaults.go`).
pub const DOCKER_READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Whether a working directory goes through `/proc/<pid>/fd`, `/proc/<pid>/cwd` (or `self`,
/// `thread-self`, a task), where a leaked file descriptor can point outside the container
/// (CVE-2024-21626). `..` is resolved lexically only before such a prefix: after it, `..` climbs
/// from wherever the descriptor points.
pub fn cwd_through_fd(path: &str) -> bool {
    let mut stack: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => continue,
            ".." => {
                stack.pop();
            }
            s => stack.push(s),
        }
        if proc_fd_prefix(&stack) {
            return true;
        }
    }
    false
}

fn proc_fd_prefix(s: &[&str]) -> bool {
    let is_pid = |p: &str| {
        p == "self"
            || p == "thread-self"
            || (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    if s.len() < 3 || s[0] != "proc" || !is_pid(s[1]) {
        return false;
    }
    // An entry of `fd/` or `cwd` itself is a magic link that can lead anywhere.
    match s[2] {
        "fd" => s.len() >= 4,
        "cwd" => true,
        "task" => s.len() >= 5 && is_pid(s[3]) && ((s[4] == "fd" && s.len() >= 6) || s[4] == "cwd"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_spellings() {
        assert_eq!(normalize("/var/run/docker.sock"), "/run/docker.sock");
        assert_eq!(normalize("//var//run/"), "/run");
        assert_eq!(
            normalize("/var/lib/../run/./docker.sock"),
            "/run/docker.sock"
        );
        assert_eq!(normalize("/../../"), "/");
        assert_eq!(normalize(""), "/");
        assert_eq!(normalize("/etc/"), "/etc");
    }

    #[test]
    fn engine_sockets_in_any_spelling() {
        for p in [
            "/var/run/docker.sock",
            "/run/docker.sock",
            "//var/run/docker.sock",
            "/var/run/",
            "/run",
            "/var/run/docker.sock/",
            "/tmp/../var/run/docker.sock",
            "/run/containerd",
            "/run/containerd/containerd.sock",
            "/var/run/crio/crio.sock",
            "/run/podman/podman.sock",
            "/",
            "/var",
            "/srv/sockets/docker.sock",
        ] {
            assert!(engine_socket(p).is_some(), "{p} exposes an engine socket");
        }
        for p in ["/data", "/var/lib/app", "/run2", "/var/runner"] {
            assert!(engine_socket(p).is_none(), "{p} is not an engine socket");
        }
        // containerd's own per-pod /dev/shm, and only that, is not the engine's socket.
        let shm = "/run/containerd/io.containerd.grpc.v1.cri/sandboxes/cc72fb98/shm";
        assert!(engine_socket(shm).is_none());
        for p in [
            "/run/containerd/io.containerd.grpc.v1.cri/sandboxes/cc72fb98",
            "/run/containerd/io.containerd.grpc.v1.cri/sandboxes//shm",
            "/run/containerd/io.containerd.grpc.v1.cri/sandboxes/a/b/shm",
            "/run/containerd/io.containerd.grpc.v1.cri/sandboxes/x/shm/../../../containerd.sock",
            "/run/containerd/io.containerd.grpc.v1.cri",
        ] {
            assert!(engine_socket(p).is_some(), "{p} is inside /run/containerd");
        }
    }

    #[test]
    fn sensitive_paths() {
        assert_eq!(sensitive("/etc/"), Some("/etc"));
        assert_eq!(sensitive("/etc/shadow"), Some("/etc"));
        assert_eq!(sensitive("/proc/1/root"), Some("/proc"));
        assert_eq!(sensitive("/var"), Some("/var/lib/kubelet"));
        assert_eq!(sensitive("/sys/fs/cgroup/"), Some("/sys/fs/cgroup"));
        assert_eq!(sensitive("/lib/modules/6.1"), Some("/lib/modules"));
        assert_eq!(sensitive("/data/app"), None);
        assert_eq!(sensitive("/var/lib/app"), None);
    }

    #[test]
    fn lxcfs_cgroup_tree_is_sensitive_when_writable() {
        let tree = Some("/var/lib/lxcfs/cgroup");
        assert_eq!(sensitive_when_writable("/var/lib/lxcfs"), tree);
        assert_eq!(sensitive_when_writable("/var/lib/lxcfs/"), tree);
        assert_eq!(
            sensitive_when_writable("/var/lib/lxcfs/cgroup/devices"),
            tree
        );
        assert_eq!(sensitive_when_writable("/var/lib/../lib/lxcfs"), tree);
        // lxcfs's /proc files are what it is bound for; they take no writes
        assert_eq!(sensitive_when_writable("/var/lib/lxcfs/proc/meminfo"), None);
        assert_eq!(sensitive_when_writable("/var/lib/lxcfs2"), None);
        // not on the always-sensitive list: a read-only bind of it is no finding
        assert_eq!(sensitive("/var/lib/lxcfs"), None);
    }
}
