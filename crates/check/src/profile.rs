//! Step 3: the bundle's `config.json` for a profile.
//!
//! * `default`: whatever the runtime's own `spec` command emits (`stockade spec`, `runc spec`,
//!   `crun spec`) — what a user gets who tuned nothing.
//! * `docker`: what `docker run` gives a container, approximated as an OCI config: Docker's 14
//!   default capabilities, its masked and read-only `/proc` and `/sys` paths, its device rules
//!   (mknod of any node, read/write only of the standard character devices), no user namespace,
//!   no pids or memory limit, host cgroup namespace (Docker's default on a cgroup v1/hybrid
//!   host), and a seccomp profile approximating moby's default (see [`docker_seccomp`]).
//! * `privileged`: `docker run --privileged -v /srv/hostdir:/hostdir -v engine.sock`: every
//!   capability the host has, no seccomp, no no_new_privs, read-write rootfs, `/sys`, `/proc/sys`
//!   and cgroupfs, no masked paths, every device allowed, and the host canary directory and the
//!   fake engine socket bind-mounted in.
//! * `lxcfs`: `docker` plus `-v /var/lib/lxcfs:/var/lib/lxcfs:rw`, the read-write bind of lxcfs
//!   that LXD and the Kubernetes lxcfs admission set-ups give a container (the check's own
//!   lxcfs instance, targets.rs; without one, the docker profile alone).
//! * a file: a complete `config.json`; a mount `source` of `@hostdir` (or starting with
//!   `@hostdir/`) is replaced by the check's host canary directory, `@lxcfs` by its lxcfs
//!   instance's mount point.
//!
//! The docker and privileged profiles set every security-relevant field explicitly, so they stay
//! the same whatever the runtime's `spec` defaults become. In every profile `check` then sets
//! `root.path`, a non-terminal process running the probe with the targets, and `cwd`.

use crate::runner::Runtime;
use crate::targets::Fixture;
use crate::{io, Error, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Profile {
    Default,
    Docker,
    Privileged,
    Lxcfs,
    File(PathBuf),
}

impl Profile {
    pub fn parse(s: &str) -> Profile {
        match s {
            "default" => Profile::Default,
            "docker" => Profile::Docker,
            "privileged" => Profile::Privileged,
            "lxcfs" => Profile::Lxcfs,
            f => Profile::File(PathBuf::from(f)),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Profile::Default => "default".into(),
            Profile::Docker => "docker".into(),
            Profile::Privileged => "privileged".into(),
            Profile::Lxcfs => "lxcfs".into(),
            Profile::File(p) => p.display().to_string(),
        }
    }
}

/// Where lxcfs lives on a host and in the containers that bind it (`/var/lib/lxcfs`).
pub const LXCFS_DIR: &str = "/var/lib/lxcfs";

/// Docker's default capabilities (moby `oci/caps/defaults.go`).
pub const DOCKER_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Docker's masked paths (moby `oci/defaults.go`).
pub use policy::paths::DOCKER_MASKED_PATHS as DOCKER_MASKED;
/// Docker's read-only paths.
pub use policy::paths::DOCKER_READONLY_PATHS as DOCKER_READONLY;

/// Syscalls moby's default profile does not allow for a container without extra capabilities
/// (those it allows only with CAP_SYS_ADMIN, CAP_SYS_MODULE, … which Docker does not grant).
const DOCKER_DENIED: &[&str] = &[
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "get_mempolicy",
    "init_module",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mbind",
    "mount",
    "mount_setattr",
    "move_mount",
    "move_pages",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "query_module",
    "quotactl",
    "quotactl_fd",
    "reboot",
    "request_key",
    "set_mempolicy",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "syslog",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
];

/// A seccomp profile approximating moby's default for a container with Docker's 14 capabilities.
///
/// moby's profile is an allow list (`defaultAction: SCMP_ACT_ERRNO`) of ~350 syscalls, with more
/// allowed per granted capability. This approximation is the complement for the syscalls that
/// matter to the battery: allow by default, deny with EPERM every syscall moby leaves out without
/// CAP_SYS_ADMIN/SYS_MODULE/SYS_BOOT/SYS_TIME/SYS_PTRACE/…, including the new mount API and
/// io_uring (removed from moby's list in 2023); `clone` with any namespace flag and `socket` with
/// AF_VSOCK get EPERM (moby's argument filters and default errno), and `clone3` gets ENOSYS (moby's trick so libc
/// falls back to `clone`). Differences: syscalls that moby simply does not list (new or obscure
/// ones) are allowed here; `personality` is not restricted to its safe values; `ptrace` is
/// allowed, as moby allows it on kernels ≥ 4.8.
pub fn docker_seccomp() -> Value {
    let mut rules = vec![json!({
        "names": DOCKER_DENIED,
        "action": "SCMP_ACT_ERRNO",
        "errnoRet": libc::EPERM,
    })];
    // clone(flags): EPERM when any CLONE_NEW* bit is set (one rule per bit: a masked compare
    // checks equality, so "any of" is several rules).
    for bit in [
        libc::CLONE_NEWNS,
        libc::CLONE_NEWCGROUP,
        libc::CLONE_NEWUTS,
        libc::CLONE_NEWIPC,
        libc::CLONE_NEWUSER,
        libc::CLONE_NEWPID,
        libc::CLONE_NEWNET,
    ] {
        rules.push(json!({
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": libc::EPERM,
            "args": [{"index": 0, "value": bit as u64, "valueTwo": bit as u64, "op": "SCMP_CMP_MASKED_EQ"}],
        }));
    }
    rules.push(json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS}));
    rules.push(json!({
        "names": ["socket"],
        "action": "SCMP_ACT_ERRNO",
        // moby's default errno (EPERM): AF_VSOCK falls outside its allow rule for socket.
        "errnoRet": libc::EPERM,
        "args": [{"index": 0, "value": libc::AF_VSOCK as u64, "op": "SCMP_CMP_EQ"}],
    }));
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules,
    })
}

/// Docker's default device rules: deny all, mknod of anything, rw of the standard nodes.
fn docker_devices() -> Value {
    let mut d = vec![
        json!({"allow": false, "access": "rwm"}),
        json!({"allow": true, "type": "c", "access": "m"}),
        json!({"allow": true, "type": "b", "access": "m"}),
    ];
    for (maj, min) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
    ] {
        d.push(json!({"allow": true, "type": "c", "major": maj, "minor": min, "access": "rwm"}));
    }
    d.push(json!({"allow": true, "type": "c", "major": 136, "access": "rwm"}));
    d.push(json!({"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"}));
    Value::Array(d)
}

/// The mounts `docker run` sets up (`ro` on sysfs and cgroupfs unless privileged).
fn docker_mounts(ro: bool) -> Vec<Value> {
    let ro = |mut o: Vec<&'static str>| -> Vec<&'static str> {
        if ro {
            o.push("ro");
        }
        o
    };
    vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ro(vec!["nosuid", "noexec", "nodev"])}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ro(vec!["nosuid", "noexec", "nodev", "relatime"])}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
    ]
}

/// Every capability in the host's bounding set (what `--privileged` grants).
pub fn host_caps() -> Vec<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let st = probe::ProcState::parse(&status, None);
    (0..probe::state::cap::NAMES.len() as u32)
        .filter(|c| st.cap_bnd & (1u64 << c) != 0)
        .map(|c| format!("CAP_{}", probe::state::cap::name(c)))
        .collect()
}

/// The capability sets; `inheritable` too when asked (runc before 1.1.2 and Docker before
/// 20.10.17 filled it, CVE-2022-29162; Docker today leaves it empty).
fn set_caps(c: &mut Value, caps: &[String], inheritable: bool) {
    let mut m = serde_json::Map::new();
    for set in ["bounding", "effective", "permitted"] {
        m.insert(set.into(), json!(caps));
    }
    if inheritable {
        m.insert("inheritable".into(), json!(caps));
    }
    c["process"]["capabilities"] = Value::Object(m);
}

/// The runtime's own `spec` output.
fn runtime_spec(rt: &Runtime, bundle: &Path) -> Result<Value> {
    let path = bundle.join("config.json");
    let _ = std::fs::remove_file(&path);
    let mut cmd = rt.command();
    cmd.arg("spec").current_dir(bundle).stdin(Stdio::null());
    let out = cmd.output().map_err(io(format!("{} spec", rt.name())))?;
    if !out.status.success() {
        return Err(Error::Command {
            cmd: format!("{} spec", rt.name()),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let text = std::fs::read_to_string(&path).map_err(io(format!(
        "read the config.json `{} spec` wrote",
        rt.name()
    )))?;
    serde_json::from_str(&text).map_err(|e| Error::Profile {
        path,
        msg: format!("`{} spec` output is not JSON: {e}", rt.name()),
    })
}

/// Docker-like or privileged, from a neutral base (the runtime's spec, security fields replaced).
fn docker_like(rt: &Runtime, bundle: &Path, fx: &Fixture, privileged: bool) -> Result<Value> {
    let mut c = runtime_spec(rt, bundle)?;
    c["hostname"] = json!("stockade-check");
    c["process"]["user"] = json!({"uid": 0, "gid": 0});
    let linux = c["linux"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut l = serde_json::Map::new();
    // Of the runtime's `linux` section keep only rootfsPropagation; every security field is set
    // below, so the profile does not inherit the runtime's defaults.
    for (k, v) in linux {
        if matches!(k.as_str(), "rootfsPropagation") {
            l.insert(k, v);
        }
    }
    // Docker's bridge network: the container's own namespace with a veth to the node (the
    // check's stand-in, targets.rs); without the stand-in, an empty namespace of its own.
    let network = match &fx.ctr_netns {
        Some(p) => json!({"type": "network", "path": p}),
        None => json!({"type": "network"}),
    };
    l.insert(
        "namespaces".into(),
        json!([{"type": "pid"}, network, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]),
    );
    c["annotations"] = json!({});
    let mut mounts = docker_mounts(!privileged);
    if privileged {
        set_caps(&mut c, &host_caps(), true);
        c["process"]["noNewPrivileges"] = json!(false);
        c["root"]["readonly"] = json!(false);
        l.insert("maskedPaths".into(), json!([]));
        l.insert("readonlyPaths".into(), json!([]));
        l.insert(
            "resources".into(),
            json!({"devices": [{"allow": true, "access": "rwm"}]}),
        );
        mounts.push(json!({"destination": "/hostdir", "type": "bind", "source": fx.hostdir, "options": ["rbind", "ro"]}));
        mounts.push(json!({"destination": "/run/engine.sock", "type": "bind", "source": fx.hostdir.join("engine.sock"), "options": ["bind"]}));
    } else {
        let caps: Vec<String> = DOCKER_CAPS.iter().map(|s| s.to_string()).collect();
        set_caps(&mut c, &caps, false);
        // Docker sets no_new_privs only with --security-opt no-new-privileges.
        c["process"]["noNewPrivileges"] = json!(false);
        c["root"]["readonly"] = json!(false);
        l.insert("maskedPaths".into(), json!(DOCKER_MASKED));
        l.insert("readonlyPaths".into(), json!(DOCKER_READONLY));
        l.insert("resources".into(), json!({"devices": docker_devices()}));
        l.insert("seccomp".into(), docker_seccomp());
    }
    c["mounts"] = Value::Array(mounts);
    c["linux"] = Value::Object(l);
    Ok(c)
}

fn from_file(path: &Path, fx: &Fixture) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(io(format!("read {}", path.display())))?;
    let mut c: Value = serde_json::from_str(&text).map_err(|e| Error::Profile {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    if !c.is_object() {
        return Err(Error::Profile {
            path: path.to_path_buf(),
            msg: "not a JSON object (an OCI config.json)".into(),
        });
    }
    if let Some(mounts) = c["mounts"].as_array_mut() {
        for m in mounts {
            if let Some(src) = m["source"].as_str() {
                if let Some(rest) = src.strip_prefix("@hostdir") {
                    let p = format!("{}{rest}", fx.hostdir.display());
                    m["source"] = json!(p);
                } else if let Some(rest) = src.strip_prefix("@lxcfs") {
                    let Some(l) = &fx.lxcfs else {
                        return Err(Error::Profile {
                            path: path.to_path_buf(),
                            msg: format!(
                                "a mount source is @lxcfs but the check runs no lxcfs ({})",
                                fx.no_lxcfs.as_deref().unwrap_or("not started")
                            ),
                        });
                    };
                    m["source"] = json!(format!("{}{rest}", l.display()));
                }
            }
        }
    }
    Ok(c)
}

/// Write `bundle/config.json` for the profile and return it.
pub fn write_config(
    profile: &Profile,
    rt: &Runtime,
    fx: &Fixture,
    bundle: &Path,
    probe_args: &[String],
) -> Result<Value> {
    let mut c = match profile {
        Profile::Default => runtime_spec(rt, bundle)?,
        Profile::Docker => docker_like(rt, bundle, fx, false)?,
        Profile::Privileged => docker_like(rt, bundle, fx, true)?,
        Profile::Lxcfs => {
            let mut c = docker_like(rt, bundle, fx, false)?;
            if let (Some(l), Some(m)) = (&fx.lxcfs, c["mounts"].as_array_mut()) {
                m.push(json!({"destination": LXCFS_DIR, "type": "bind", "source": l, "options": ["rbind", "rw"]}));
            }
            c
        }
        Profile::File(p) => from_file(p, fx)?,
    };
    if !c["root"].is_object() {
        c["root"] = json!({});
    }
    c["root"]["path"] = json!("rootfs");
    if !c["process"].is_object() {
        c["process"] = json!({"user": {"uid": 0, "gid": 0}});
    }
    c["process"]["terminal"] = json!(false);
    c["process"]["args"] = json!(probe_args);
    c["process"]["cwd"] = json!("/");
    if c["process"]["env"].is_null() {
        c["process"]["env"] = json!(["PATH=/bin"]);
    }
    let path = bundle.join("config.json");
    let text = serde_json::to_string_pretty(&c).unwrap_or_default();
    std::fs::write(&path, text).map_err(io(format!("write {}", path.display())))?;
    Ok(c)
}
