//! Behaviour rules: which catalogue rule a kernel event is the running form of.
//!
//! The kernel side only pre-filters (container tasks, path classes, flags); the decision and the
//! rule id are made here, so every id lives in the shared catalogue (`crates/policy/rules/`).

use crate::event::{class, kind, RawEvent};
use serde_json::{json, Value};
use std::os::unix::fs::FileTypeExt;

/// A behaviour the sensor recognised, before attribution and output.
#[derive(Debug, Clone)]
pub struct Detection {
    pub rule: policy::RuleId,
    /// Short machine name of the behaviour (stable, part of the output schema).
    pub behaviour: &'static str,
    pub args: Value,
}

/// Facts about the host the classification needs.
#[derive(Debug, Clone)]
pub struct HostFacts {
    pub pidns: u32,
    /// CLOCK_REALTIME - CLOCK_BOOTTIME, in ns.
    pub boot_to_real_ns: i128,
    /// The host's capability bounding set: a container holding all of it is privileged.
    pub cap_bnd: u64,
    /// Clock ticks per second of /proc/<pid>/stat start times.
    pub clk_tck: u64,
}

/// Boot-time start (ns) of the oldest process in mount namespace `mntns`: the container's start
/// when its init is not the reaper of its pid namespace (a container sharing the host's).
pub fn mntns_start_ns(mntns: u32, clk_tck: u64) -> Option<u64> {
    let mut best: Option<u64> = None;
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let ns = std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
            .ok()
            .and_then(|l| ns_inode(&l.to_string_lossy()));
        if ns != Some(mntns) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        // fields after the comm: state is field 3; starttime is field 22
        let Some(ticks) = stat[close + 2..]
            .split(' ')
            .nth(19)
            .and_then(|v| v.parse::<u64>().ok())
        else {
            continue;
        };
        let ns_time = ticks * (1_000_000_000 / clk_tck.max(1));
        best = Some(best.map_or(ns_time, |b: u64| b.min(ns_time)));
    }
    best
}

/// Every rule id `watch` can emit, with its behaviour name, for docs and tests.
pub const RULES: &[(policy::RuleId, &str)] = &[
    (policy::id::SKD_RUN_001, "cgroup-release-agent-write"),
    (policy::id::SKD_RUN_002, "cgroup-notify-on-release-write"),
    (policy::id::SKD_RUN_003, "core-pattern-write"),
    (policy::id::SKD_RUN_004, "escape-sysctl-write"),
    (policy::id::SKD_RUN_005, "mount"),
    (policy::id::SKD_RUN_006, "new-mount-api"),
    (policy::id::SKD_RUN_007, "mknod-device"),
    (policy::id::SKD_RUN_008, "setns"),
    (policy::id::SKD_RUN_009, "user-namespace"),
    (policy::id::SKD_RUN_010, "ptrace"),
    (policy::id::SKD_RUN_011, "process-memory-write"),
    (policy::id::SKD_RUN_012, "foreign-proc-access"),
    (policy::id::SKD_RUN_013, "kernel-module-load"),
    (policy::id::SKD_RUN_014, "rare-socket-family"),
    (policy::id::SKD_RUN_015, "bpf"),
    (policy::id::SKD_RUN_016, "perf-event-open"),
    (policy::id::SKD_RUN_017, "open-by-handle-at"),
    (policy::id::SKD_RUN_018, "userfaultfd"),
    (policy::id::SKD_RUN_019, "io-uring"),
    (policy::id::SKD_RUN_020, "exec-drift"),
    (policy::id::SKD_RUN_021, "exec-fileless"),
    (policy::id::SKD_RUN_022, "exec-from-tmp"),
    (policy::id::SKD_RUN_023, "runtime-binary-write"),
    (policy::id::SKD_RUN_024, "kubernetes-credential-read"),
    (policy::id::SKD_RUN_025, "sensitive-link"),
    (policy::id::SKD_RUN_026, "setuid-bit"),
    (policy::id::SKD_RUN_027, "credential-to-root"),
    (policy::id::SKD_RUN_028, "kernel-recon"),
    (policy::id::SKD_RUN_029, "host-disk-tool"),
    (policy::id::SKD_RUN_040, "node-service-connect"),
    (policy::id::SKD_RUN_041, "namespace-to-host"),
    (policy::id::SKD_RUN_042, "credential-to-host-root"),
    (policy::id::SKD_RUN_043, "usermode-helper-exec"),
    (policy::id::SKD_RUN_044, "pipe-page-cache-write"),
    (policy::id::SKD_ESC_001, "privileged-start"),
    (policy::id::SKD_ESC_010, "sys-admin-start"),
    (policy::id::SKD_ESC_020, "engine-socket-connect"),
    (policy::id::SKD_ESC_038, "block-device-access"),
    (policy::id::SKD_ESC_043, "cwd-outside-root"),
];

fn det(rule: policy::RuleId, behaviour: &'static str, args: Value) -> Option<Detection> {
    Some(Detection {
        rule,
        behaviour,
        args,
    })
}

/// A node service of SKD-RUN-040 (`[rule.params] services` in the catalogue: `NAME=ADDR:PORT`,
/// ADDR `*` for any address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeService {
    pub name: String,
    pub addr: Option<std::net::Ipv4Addr>,
    pub port: u16,
}

/// The node services of SKD-RUN-040, from the catalogue (an entry that does not parse is left
/// out; `node_services_parse` in the tests checks that none is).
pub fn node_services() -> Vec<NodeService> {
    let Some(rule) = policy::catalogue::catalogue()
        .rules()
        .iter()
        .find(|r| r.id == policy::id::SKD_RUN_040)
    else {
        return Vec::new();
    };
    rule.param("services")
        .iter()
        .filter_map(|s| parse_node_service(s))
        .collect()
}

/// `NAME=ADDR:PORT` (ADDR `*`: any).
pub fn parse_node_service(s: &str) -> Option<NodeService> {
    let (name, hp) = s.split_once('=')?;
    let (h, p) = hp.rsplit_once(':')?;
    let addr = if h == "*" {
        None
    } else {
        Some(h.parse().ok()?)
    };
    Some(NodeService {
        name: name.to_string(),
        addr,
        port: p.parse().ok().filter(|p| *p != 0)?,
    })
}

/// The network namespace `stockade watch` runs in: the host's.
fn host_netns() -> Option<u32> {
    static NS: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *NS.get_or_init(|| {
        std::fs::read_link("/proc/self/ns/net")
            .ok()
            .and_then(|l| ns_inode(&l.to_string_lossy()))
    })
}

/// An IPv4 connect the kernel matched against the node services: which one, and whether it is
/// the node's (a loopback address is the node's only from the host's network namespace).
fn classify_connect4(a: &[u64]) -> Option<Detection> {
    let ip = std::net::Ipv4Addr::from((a[0] as u32).to_ne_bytes());
    let port = a[1] as u16;
    let netns = a[2] as u32;
    let host_net = host_netns() == Some(netns);
    if ip.is_loopback() && !host_net {
        return None;
    }
    let services = node_services();
    let s = services
        .iter()
        .find(|s| s.addr == Some(ip) && s.port == port)
        .or_else(|| services.iter().find(|s| s.addr.is_none() && s.port == port))?;
    det(
        policy::id::SKD_RUN_040,
        "node-service-connect",
        json!({"service": s.name, "address": ip.to_string(), "port": port,
               "host_network": host_net}),
    )
}

/// Targets of symlinks or hardlinks that make a link an attack on a sensitive file.
pub const SENSITIVE_LINK_TARGETS: &[&str] = &[
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/passwd",
    "/etc/kubernetes",
    "/var/lib/kubelet",
    "/var/run/secrets",
    "/run/secrets",
    "/root/.ssh",
    "/proc/1/root",
    "/var/run/docker.sock",
    "/run/containerd",
    "/proc/sys/kernel/core_pattern",
    "/sys/kernel/uevent_helper",
];

const VIRTUAL_FS: &[&str] = &[
    "tmpfs",
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "devpts",
    "mqueue",
    "overlay",
    "bind",
    "none",
    "shm",
    "devtmpfs",
    "fusectl",
    "tracefs",
    "debugfs",
    "securityfs",
    "bpf",
    "hugetlbfs",
    "binfmt_misc",
    "ramfs",
    "nsfs",
    "pstore",
    "configfs",
];

/// Exe basenames of host-disk tools whose run in a container is SKD-RUN-029.
const DISK_TOOLS: &[&str] = &[
    "debugfs",
    "fdisk",
    "sfdisk",
    "dd_rescue",
    "e2fsck",
    "xfs_db",
];

const CAP_SYS_ADMIN: u64 = 1 << 21;
/// Capabilities 0..=40: what a `privileged` container gets on a 6.x kernel.
const ALL_CAPS_6X: u64 = (1 << 41) - 1;

fn is_block_device(ev: &RawEvent, path: &str, same_ns: &[u32]) -> bool {
    // Look the path up in the task's own root, or through another live task of the same mount
    // namespace when it has exited already.
    for pid in std::iter::once(&ev.tgid).chain(same_ns) {
        if *pid != ev.tgid {
            let ns = std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
                .ok()
                .and_then(|l| ns_inode(&l.to_string_lossy()));
            if ns != Some(ev.mntns) {
                continue;
            }
        }
        if let Ok(m) = std::fs::metadata(format!("/proc/{pid}/root{path}")) {
            return m.file_type().is_block_device();
        }
    }
    // The task is gone: judge by name, with the device classes of SKD-ESC-038 the audit uses.
    policy::escape::host_device_class(path).is_some()
}

/// `/dev/mem`, `/dev/kmem`, `/dev/port`: the memory and I/O-port devices of SKD-ESC-038's classes
/// (its other classes are block devices, or their control and raw-command nodes).
fn raw_memory_device(path: &str) -> bool {
    policy::escape::host_device_class(path) == Some(path) && !path.contains('*')
}

/// Classifies one event from a container task. `None`: the event only feeds lineage or is benign.
/// `same_ns`: other tasks seen in the event's mount namespace (to resolve paths after the task
/// exited).
pub fn classify(ev: &RawEvent, host: &HostFacts, same_ns: &[u32]) -> Option<Detection> {
    let a = &ev.args;
    match ev.kind {
        kind::OPEN => {
            let flags = json!({"path": ev.path, "flags": format!("{:#o}", a[0])});
            match a[1] {
                class::RELEASE_AGENT => {
                    det(policy::id::SKD_RUN_001, "cgroup-release-agent-write", flags)
                }
                class::NOTIFY_ON_RELEASE => det(
                    policy::id::SKD_RUN_002,
                    "cgroup-notify-on-release-write",
                    flags,
                ),
                class::CORE_PATTERN => det(policy::id::SKD_RUN_003, "core-pattern-write", flags),
                class::ESCAPE_SYSCTL => det(policy::id::SKD_RUN_004, "escape-sysctl-write", flags),
                class::DEVICE => {
                    if is_block_device(ev, &ev.path, same_ns) || raw_memory_device(&ev.path) {
                        det(policy::id::SKD_ESC_038, "block-device-access", flags)
                    } else {
                        None
                    }
                }
                class::PROC_MEM => det(
                    policy::id::SKD_RUN_011,
                    "process-memory-write",
                    json!({"path": ev.path, "flags": format!("{:#o}", a[0]), "target_pid": a[2]}),
                ),
                class::PROC_FOREIGN => {
                    // Only a process outside the container's pid namespace is foreign. A container
                    // with its own pid namespace sees only its own processes in its /proc.
                    if ev.pidns != host.pidns {
                        return None;
                    }
                    let target = a[2] as u32;
                    if target == ev.tgid {
                        return None;
                    }
                    let target_mnt = std::fs::read_link(format!("/proc/{target}/ns/mnt"))
                        .ok()
                        .and_then(|l| ns_inode(&l.to_string_lossy()));
                    if target_mnt == Some(ev.mntns) {
                        return None;
                    }
                    det(
                        policy::id::SKD_RUN_012,
                        "foreign-proc-access",
                        json!({"path": ev.path, "target_pid": target}),
                    )
                }
                class::SELF_EXE => det(policy::id::SKD_RUN_023, "runtime-binary-write", flags),
                class::K8S_CREDS => {
                    det(policy::id::SKD_RUN_024, "kubernetes-credential-read", flags)
                }
                class::RECON => det(policy::id::SKD_RUN_028, "kernel-recon", flags),
                _ => None,
            }
        }
        kind::MOUNT => {
            // Propagation-only changes (`unshare -m` makes / private) create no mount.
            const PROPAGATION: u64 = (1 << 17) | (1 << 18) | (1 << 19) | (1 << 20);
            if a[0] & PROPAGATION != 0 && a[0] & 0x1000 == 0 {
                return None;
            }
            let args = json!({"source": ev.path2, "target": ev.path, "fstype": ev.path3,
                              "flags": format!("{:#x}", a[0])});
            let fstype = ev.path3.as_str();
            if ev.path2.starts_with("/dev/") && !VIRTUAL_FS.contains(&fstype) && a[0] & 0x1000 == 0
            /* MS_BIND */
            {
                det(policy::id::SKD_ESC_038, "block-device-access", args)
            } else {
                det(policy::id::SKD_RUN_005, "mount", args)
            }
        }
        kind::NEWMOUNT => {
            let call = match a[0] {
                1 => "fsopen",
                2 => "open_tree",
                _ => "fspick",
            };
            det(
                policy::id::SKD_RUN_006,
                "new-mount-api",
                json!({"syscall": call, "path_or_fstype": ev.path}),
            )
        }
        kind::MKNOD => {
            let mode = a[0] as u32;
            let dev = a[1];
            let (major, minor) = (
                ((dev >> 8) & 0xfff) as u32,
                ((dev & 0xff) | ((dev >> 12) & 0xfff00)) as u32,
            );
            let t = if mode & 0o170000 == 0o060000 {
                "block"
            } else {
                "char"
            };
            det(
                policy::id::SKD_RUN_007,
                "mknod-device",
                json!({"path": ev.path, "type": t, "major": major, "minor": minor}),
            )
        }
        kind::SETNS => det(
            policy::id::SKD_RUN_008,
            "setns",
            json!({"fd": a[0] as i32, "nstype": format!("{:#x}", a[1])}),
        ),
        kind::USERNS => det(
            policy::id::SKD_RUN_009,
            "user-namespace",
            json!({"flags": format!("{:#x}", a[0])}),
        ),
        kind::PTRACE => det(
            policy::id::SKD_RUN_010,
            "ptrace",
            json!({"request": a[0], "target_pid": a[1] as i32}),
        ),
        kind::PVM_WRITEV => det(
            policy::id::SKD_RUN_011,
            "process-memory-write",
            json!({"syscall": "process_vm_writev", "target_pid": a[0] as i32}),
        ),
        kind::MODULE => det(policy::id::SKD_RUN_013, "kernel-module-load", json!({})),
        kind::SOCKET => det(
            policy::id::SKD_RUN_014,
            "rare-socket-family",
            json!({"family": a[0], "type": a[1], "protocol": a[2]}),
        ),
        kind::BPF => det(policy::id::SKD_RUN_015, "bpf", json!({"cmd": a[0]})),
        kind::PERF => det(
            policy::id::SKD_RUN_016,
            "perf-event-open",
            json!({"pid": a[1] as i32, "cpu": a[2] as i32}),
        ),
        kind::OPEN_BY_HANDLE => det(
            policy::id::SKD_RUN_017,
            "open-by-handle-at",
            json!({"mount_fd": a[0] as i32}),
        ),
        kind::USERFAULTFD => det(
            policy::id::SKD_RUN_018,
            "userfaultfd",
            json!({"flags": format!("{:#x}", a[0])}),
        ),
        kind::IO_URING => det(
            policy::id::SKD_RUN_019,
            "io-uring",
            json!({"entries": a[0]}),
        ),
        kind::CONNECT => {
            let base = ev.path.rsplit('/').next().unwrap_or("");
            // The socket names of SKD-ESC-020 in the catalogue, the same the audit and the
            // runtime's gate read.
            if policy::paths::is_engine_socket_name(base) {
                det(
                    policy::id::SKD_ESC_020,
                    "engine-socket-connect",
                    json!({"socket": ev.path}),
                )
            } else {
                None
            }
        }
        kind::CONNECT4 => classify_connect4(a),
        kind::LINK => {
            let target = ev.path.as_str();
            let sensitive = SENSITIVE_LINK_TARGETS
                .iter()
                .any(|s| target == *s || target.starts_with(&format!("{s}/")));
            if sensitive {
                det(
                    policy::id::SKD_RUN_025,
                    "sensitive-link",
                    json!({"target": target, "link": ev.path2,
                           "type": if a[0] == 1 { "symlink" } else { "hardlink" }}),
                )
            } else {
                None
            }
        }
        kind::CHMOD => det(
            policy::id::SKD_RUN_026,
            "setuid-bit",
            json!({"path": ev.path, "mode": format!("{:#o}", a[0] & 0o7777)}),
        ),
        kind::SETUID => det(
            policy::id::SKD_RUN_027,
            "credential-to-root",
            json!({"syscall": match a[0] { 1 => "setuid", 2 => "setreuid", _ => "setresuid" },
                   "uid": ev.uid, "euid": ev.euid}),
        ),
        kind::CWD_OUTSIDE => det(
            policy::id::SKD_ESC_043,
            "cwd-outside-root",
            json!({"cwd_name": ev.path}),
        ),
        kind::EXEC => classify_exec(ev, host),
        kind::NS_HOST | kind::CRED_ROOT => classify_effect(ev),
        kind::UMH => det(
            policy::id::SKD_RUN_043,
            "usermode-helper-exec",
            json!({"path": ev.path, "argv": ev.argv, "spawned_by": ev.path3}),
        ),
        kind::PIPE_PAGE_WRITE => {
            // PIPE_BUF_FLAG_CAN_MERGE on the spliced page: the write lands in the file's page
            // cache (a kernel with CVE-2022-0847); without it the kernel gives the write a buffer
            // of its own and the file is unchanged
            let merges = a[1] & 0x10 != 0;
            det(
                policy::id::SKD_RUN_044,
                "pipe-page-cache-write",
                json!({"fd": a[0] as i32, "file": ev.path, "inode": a[2],
                       "dev": format!("{}:{}", a[3] >> 20, a[3] & 0xf_ffff),
                       "mode": format!("{:#o}", a[4] & 0o7777), "owner_uid": a[5],
                       "merges_into_page_cache": merges}),
            )
        }
        kind::DENY_DEV | kind::DEV => {
            let t = if a[0] == 1 { "block" } else { "char" };
            let access = a[2] >> 32;
            let rule = if access & 1 != 0 {
                (policy::id::SKD_RUN_007, "mknod-device")
            } else {
                (policy::id::SKD_ESC_038, "block-device-access")
            };
            let mut args = json!({"type": t, "major": a[1], "minor": a[2] & 0xffff_ffff,
                                  "access": access});
            if ev.kind == kind::DENY_DEV {
                args["by"] = json!("cgroup/dev");
            }
            det(rule.0, rule.1, args)
        }
        kind::DENY_SYSCTL => {
            let rule = if ev.path == "kernel/core_pattern" {
                (policy::id::SKD_RUN_003, "core-pattern-write")
            } else {
                (policy::id::SKD_RUN_004, "escape-sysctl-write")
            };
            det(
                rule.0,
                rule.1,
                json!({"sysctl": ev.path, "by": "cgroup/sysctl"}),
            )
        }
        kind::DENY_LSM => {
            let (rule, b) = match a[0] {
                1 | 2 => (policy::id::SKD_RUN_005, "mount"),
                3 => (policy::id::SKD_RUN_001, "cgroup-release-agent-write"),
                4 => (policy::id::SKD_RUN_010, "ptrace"),
                _ => (policy::id::SKD_RUN_022, "exec-from-tmp"),
            };
            det(rule, b, json!({"name": ev.path, "by": "bpf-lsm"}))
        }
        _ => None,
    }
}

/// An effect (bpf/sensor.bpf.c, `ctr_tasks`): what a container task became since it was last
/// seen executing, forking or exiting.
fn classify_effect(ev: &RawEvent) -> Option<Detection> {
    let a = &ev.args;
    let seen_at = match a[1] {
        1 => "exec",
        2 => "fork",
        3 => "exit",
        _ => "timer",
    };
    let (was_mnt, was_net) = ((a[2] >> 32) as u32, a[2] as u32);
    let (was_user, was_euid) = ((a[3] >> 32) as u32, a[3] as u32);
    if ev.kind == kind::NS_HOST {
        let mut which = Vec::new();
        if a[0] & 1 != 0 {
            which.push("mnt");
        }
        if a[0] & 2 != 0 {
            which.push("net");
        }
        return det(
            policy::id::SKD_RUN_041,
            "namespace-to-host",
            json!({"namespaces": which, "seen_at": seen_at,
                   "was": {"mnt": was_mnt, "net": was_net}}),
        );
    }
    let mut how = Vec::new();
    if a[0] & 4 != 0 {
        how.push("initial-user-namespace");
    }
    if a[0] & 8 != 0 {
        how.push("capabilities-beyond-bounding-set");
    }
    det(
        policy::id::SKD_RUN_042,
        "credential-to-host-root",
        json!({"how": how, "seen_at": seen_at, "euid": ev.euid,
               "was": {"user_ns": was_user, "euid": was_euid, "capabilities": format!("{:#x}", a[4])},
               "capabilities": format!("{:#x}", a[5]),
               "gained": format!("{:#x}", a[5] & !a[4])}),
    )
}

fn classify_exec(ev: &RawEvent, host: &HostFacts) -> Option<Detection> {
    let a = &ev.args;
    // i_ctime_nsec carries the multigrain "queried" flag in bit 31 (6.13+): mask it off.
    let (nlink, ctime_s, ctime_ns, cwd_out) =
        (a[0], a[1] as i64, (a[2] & 0x3fff_ffff) as i64, a[3]);
    let file = ev.path.as_str();
    let args = json!({"filename": file, "file": ev.path2});
    if cwd_out != 0 {
        return det(policy::id::SKD_ESC_043, "cwd-outside-root", args);
    }
    if ev.vpid == 1 {
        // The container's init: the moment the workload starts.
        let all = ALL_CAPS_6X & host.cap_bnd;
        if all != 0 && ev.cap_eff & all == all {
            return det(
                policy::id::SKD_ESC_001,
                "privileged-start",
                json!({"filename": file, "cap_eff": format!("{:#x}", ev.cap_eff)}),
            );
        }
        if ev.cap_eff & CAP_SYS_ADMIN != 0 {
            return det(
                policy::id::SKD_ESC_010,
                "sys-admin-start",
                json!({"filename": file, "cap_eff": format!("{:#x}", ev.cap_eff)}),
            );
        }
        return None;
    }
    if nlink == 0 || ev.path2.starts_with("memfd:") {
        return det(policy::id::SKD_RUN_021, "exec-fileless", args);
    }
    if file.starts_with("/tmp/") || file.starts_with("/dev/shm/") || file.starts_with("/var/tmp/") {
        return det(policy::id::SKD_RUN_022, "exec-from-tmp", args);
    }
    if ev.euid == 0 && ev.uid != 0 {
        return det(
            policy::id::SKD_RUN_027,
            "credential-to-root",
            json!({"filename": file, "uid": ev.uid, "euid": ev.euid}),
        );
    }
    let base = file.rsplit('/').next().unwrap_or(file);
    if DISK_TOOLS.contains(&base) {
        return det(policy::id::SKD_RUN_029, "host-disk-tool", args);
    }
    // Drift: the executable's inode changed after the container's init started.
    let start = if ev.reaper_start_ns != 0 {
        Some(ev.reaper_start_ns)
    } else {
        mntns_start_ns(ev.mntns, host.clk_tck)
    };
    if let (Some(start), true) = (start, ctime_s > 0) {
        let start_real = start as i128 + host.boot_to_real_ns;
        let ctime = ctime_s as i128 * 1_000_000_000 + ctime_ns as i128;
        if ctime > start_real {
            return det(
                policy::id::SKD_RUN_020,
                "exec-drift",
                json!({"filename": file, "file": ev.path2,
                       "file_changed": crate::output::rfc3339(ctime),
                       "container_started": crate::output::rfc3339(start_real)}),
            );
        }
    }
    None
}

/// Parses `mnt:[4026531840]` into the inode number.
pub fn ns_inode(link: &str) -> Option<u32> {
    let start = link.find('[')? + 1;
    let end = link.find(']')?;
    link.get(start..end)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_watch_rule_is_in_the_catalogue_as_a_running_rule() {
        for (id, _) in RULES {
            let r = policy::catalogue::catalogue()
                .find(id.as_str())
                .unwrap_or_else(|| panic!("{id} missing from the catalogue"));
            assert!(
                r.moments.contains(&policy::catalogue::Moment::Running),
                "{id} lacks moment running"
            );
        }
    }

    #[test]
    fn node_services_parse_from_the_catalogue() {
        let rule = policy::catalogue::catalogue()
            .rules()
            .iter()
            .find(|r| r.id == policy::id::SKD_RUN_040)
            .unwrap();
        let listed = rule.param("services");
        let parsed = node_services();
        assert_eq!(
            parsed.len(),
            listed.len(),
            "an entry does not parse: {listed:?}"
        );
        let md = parsed.iter().find(|s| s.name == "metadata").unwrap();
        assert_eq!(md.addr, Some(std::net::Ipv4Addr::new(169, 254, 169, 254)));
        assert_eq!(md.port, 80);
        assert!(parsed.iter().any(|s| s.addr.is_none() && s.port == 10250));
        assert_eq!(parse_node_service("x=1.2.3.4"), None);
        assert_eq!(parse_node_service("x=*:0"), None);
        // metadata from a container's own network namespace
        let ev = [
            u64::from(u32::from_ne_bytes([169, 254, 169, 254])),
            80,
            1,
            0,
            0,
            0,
        ];
        let d = classify_connect4(&ev).unwrap();
        assert_eq!(d.rule, "SKD-RUN-040");
        assert_eq!(d.args["service"], "metadata");
        // its own loopback is not the node's
        let ev = [
            u64::from(u32::from_ne_bytes([127, 0, 0, 1])),
            10250,
            1,
            0,
            0,
            0,
        ];
        assert!(classify_connect4(&ev).is_none());
        // a port of no service
        let ev = [
            u64::from(u32::from_ne_bytes([169, 254, 169, 254])),
            81,
            1,
            0,
            0,
            0,
        ];
        assert!(classify_connect4(&ev).is_none());
    }

    #[test]
    fn engine_socket_names_pass_the_kernel_prefilter() {
        // sensor.bpf.c passes on AF_UNIX connects to paths ending in ".sock" only.
        let sockets = policy::paths::engine_sockets();
        assert!(!sockets.is_empty());
        for s in sockets {
            assert!(
                s.ends_with(".sock"),
                "{s}: the lean tier would never see it"
            );
        }
    }

    #[test]
    fn ns_inode_parses() {
        assert_eq!(ns_inode("mnt:[4026531840]"), Some(4026531840));
        assert_eq!(ns_inode("garbage"), None);
    }
}
