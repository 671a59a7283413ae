//! OCI runtime config.json: its normalized view, for `stockade audit` and the runtime's gate, and
//! the rules that exist only in OCI terms (SKD-ESC-040 masked/read-only paths, SKD-ESC-041
//! writable sysfs/cgroupfs, SKD-ESC-042 hooks, SKD-ESC-070 inheritable capabilities).
//!
//! The view describes what a runtime (runc, crun, Stockade's own) does with the config, not what
//! an engine would have filled in: a missing `linux.seccomp` means no filter at all, a missing
//! namespace means the host's, a missing capability set means an empty one.
//!
//! Decisions, field by field:
//! - **capabilities**: `cap_add` is every capability, in any of the five sets, beyond runc's
//!   default {CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE}; each appears once, named by the
//!   first set holding it (bounding, effective, permitted, inheritable, ambient), sorted by name.
//!   `cap_bounding` is the bounding set (empty when absent: the runtime then drops everything).
//! - **privileged**: set (on `process.capabilities.bounding`) when the config is what
//!   `docker run --privileged` produces: every capability in the bounding set, no effective
//!   seccomp filter, and /sys mounted writable.
//! - **namespaces**: pid, network, ipc, uts or mount absent → shared with the host (field
//!   `linux.namespaces`). Any namespace whose `path` is `/proc/{1,self,thread-self}/ns/*`
//!   joins the host's (at create time `self` is the runtime, which runs on the host); field
//!   `linux.namespaces[i].path`. A pid namespace joined from another process (`/proc/<pid>/ns/pid`)
//!   is a shared pid namespace (`shared_pid_namespace`), as in a pod; other namespaces joined
//!   from another process are a pod sandbox's and are not flagged.
//! - **user**: uid from `process.user.uid`; `userns` when a user namespace is created with
//!   `linux.uidMappings` and no mapping's host range contains uid 0 (nothing maps to host root).
//!   A user namespace joined by path, or without mappings, does not count: its mapping is unknown.
//! - **seccomp**: absent → Unconfined; `defaultAction` SCMP_ACT_ALLOW or SCMP_ACT_LOG →
//!   Unconfined; any other default action → Profile.
//! - **LSMs**: `process.apparmorProfile` "unconfined"; a `process.selinuxLabel` whose type is
//!   spc_t or unconfined_t.
//! - **mounts**: a bind mount is `type: bind` or an option `bind`/`rbind`; read-only when the
//!   last of `ro`/`rw` is `ro`; propagation is the last of
//!   shared/rshared/slave/rslave/private/rprivate/unbindable/runbindable.
//! - **devices**: every `linux.devices[i]` with its type and numbers (SKD-ESC-038 judges the
//!   numbers against the classes of its `[rule.params]`, not the name); `device_allow_all` names the last device-cgroup
//!   rule that allows read or write on every device (or every device of one type: `c *:*` is
//!   /dev/mem, `b *:*` every disk) and is not overridden by a later wildcard deny. Docker's
//!   `c *:* m` / `b *:* m` (mknod only) do not count.
//! - **limits**: `linux.resources.memory.limit` and `linux.resources.pids.limit`; values <= 0 mean
//!   unlimited and are reported as unset.

use crate::catalogue::id;
use crate::catalogue::Format;
use crate::eval::Options;
use crate::model::{
    ContainerView, Field, HostMount, Namespace, Seccomp, UserView, Violation, WorkloadView,
};
use crate::paths::{is_at_or_above, normalize};
use oci_spec::runtime::{
    Capability, LinuxCapabilities, LinuxDeviceType, LinuxNamespaceType, LinuxSeccompAction, Mount,
    Spec,
};
use std::collections::BTreeSet;

/// runc's default capability set (`runc spec`): in every set it fills.
pub const DEFAULT_CAPS: [Capability; 3] = [
    Capability::AuditWrite,
    Capability::Kill,
    Capability::NetBindService,
];

/// Number of capabilities the kernel knows (CAP_LAST_CAP + 1 = CAP_CHECKPOINT_RESTORE + 1), all
/// of which `oci_spec::runtime::Capability` names.
pub const ALL_CAPS: usize = 41;

/// Paths every config must mask (SKD-ESC-040).
pub const REQUIRED_MASKED: &[&str] = &[
    "/proc/kcore",
    "/proc/keys",
    "/proc/timer_list",
    "/sys/firmware",
];

/// Paths every config must make read-only, or mask (SKD-ESC-040).
pub const REQUIRED_READONLY: &[&str] = &[
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
];

/// The kernel's name of a capability: `CAP_SYS_ADMIN`.
pub fn cap_name(c: &Capability) -> String {
    format!("CAP_{c}")
}

/// Quote a map key into a field path the way `audit::source::push_key` does.
fn key_field(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}['{key}']")
    }
}

/// Mount options, as the runtime applies them (later options override earlier ones).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountOptions {
    pub bind: bool,
    pub read_only: bool,
    pub propagation: Option<String>,
}

/// Read a mount's type and options.
pub fn mount_options(m: &Mount) -> MountOptions {
    let mut o = MountOptions {
        bind: m.typ().as_deref() == Some("bind"),
        ..MountOptions::default()
    };
    for opt in m.options().iter().flatten() {
        match opt.as_str() {
            "bind" | "rbind" => o.bind = true,
            "ro" => o.read_only = true,
            "rw" => o.read_only = false,
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" | "unbindable"
            | "runbindable" => o.propagation = Some(opt.clone()),
            _ => {}
        }
    }
    o
}

/// Whether a namespace path names a namespace of the host: `/proc/1/ns/*`, or the runtime's own
/// (`/proc/self/ns/*`, `/proc/thread-self/ns/*`). Returns `Some(pid)` for `/proc/<pid>/ns/*`.
fn ns_path_pid(path: &str) -> Option<String> {
    let n = normalize(path);
    let segs: Vec<&str> = n.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["proc", pid, "ns", ..] => Some((*pid).to_string()),
        ["proc", pid, "task", _, "ns", ..] => Some((*pid).to_string()),
        _ => None,
    }
}

fn host_pid(pid: &str) -> bool {
    pid == "1" || pid == "self" || pid == "thread-self"
}

fn model_ns(t: LinuxNamespaceType) -> Namespace {
    match t {
        LinuxNamespaceType::Mount => Namespace::Mount,
        LinuxNamespaceType::Cgroup => Namespace::Cgroup,
        LinuxNamespaceType::Uts => Namespace::Uts,
        LinuxNamespaceType::Ipc => Namespace::Ipc,
        LinuxNamespaceType::User => Namespace::User,
        LinuxNamespaceType::Pid => Namespace::Pid,
        LinuxNamespaceType::Network => Namespace::Network,
        LinuxNamespaceType::Time => Namespace::Time,
    }
}

/// The capability sets in view order, with their field names.
fn cap_sets(
    c: &LinuxCapabilities,
) -> [(&'static str, Option<&std::collections::HashSet<Capability>>); 5] {
    [
        ("bounding", c.bounding().as_ref()),
        ("effective", c.effective().as_ref()),
        ("permitted", c.permitted().as_ref()),
        ("inheritable", c.inheritable().as_ref()),
        ("ambient", c.ambient().as_ref()),
    ]
}

fn sorted_names(set: &std::collections::HashSet<Capability>) -> Vec<String> {
    let mut v: Vec<String> = set.iter().map(cap_name).collect();
    v.sort();
    v
}

/// The seccomp confinement of a config, and the field that decides it.
pub fn seccomp(spec: &Spec) -> Field<Seccomp> {
    match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        None => Field::new(Seccomp::Unconfined, "linux.seccomp"),
        Some(s) => match s.default_action() {
            LinuxSeccompAction::ScmpActAllow | LinuxSeccompAction::ScmpActLog => {
                Field::new(Seccomp::Unconfined, "linux.seccomp.defaultAction")
            }
            _ => Field::new(Seccomp::Profile, "linux.seccomp.defaultAction"),
        },
    }
}

/// Whether /sys is mounted writable (as sysfs, or a bind of the host's /sys).
fn sys_writable(spec: &Spec) -> bool {
    spec.mounts().iter().flatten().any(|m| {
        let o = mount_options(m);
        let dest = normalize(&m.destination().to_string_lossy());
        let fs = m.typ().as_deref() == Some("sysfs");
        let bind_sys = o.bind
            && m.source()
                .as_ref()
                .is_some_and(|s| normalize(&s.to_string_lossy()) == "/sys");
        dest == "/sys" && (fs || bind_sys) && !o.read_only
    })
}

/// The normalized view of an OCI runtime config. See the module documentation for every choice.
pub fn view(spec: &Spec) -> WorkloadView {
    let mut v = WorkloadView::new(Format::Oci);
    let linux = spec.linux().as_ref();
    let process = spec.process().as_ref();

    // Annotations (SKD-ESC-044 judges their keys).
    let mut keys: Vec<&String> = spec
        .annotations()
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    for k in keys {
        v.annotations.push(Field::new(
            k.clone(),
            crate::k8s::key_path("annotations", k),
        ));
    }

    // Namespaces.
    let namespaces = linux.and_then(|l| l.namespaces().as_ref());
    for required in [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
    ] {
        if !namespaces.is_some_and(|ns| ns.iter().any(|n| n.typ() == required)) {
            v.host_namespaces
                .push(Field::new(model_ns(required), "linux.namespaces"));
        }
    }
    let mut own_userns = false;
    for (i, ns) in namespaces.into_iter().flatten().enumerate() {
        let field = format!("linux.namespaces[{i}].path");
        match ns.path().as_ref().map(|p| p.to_string_lossy().to_string()) {
            None => own_userns |= ns.typ() == LinuxNamespaceType::User,
            Some(p) => match ns_path_pid(&p) {
                Some(pid) if host_pid(&pid) => v
                    .host_namespaces
                    .push(Field::new(model_ns(ns.typ()), field)),
                Some(_) if ns.typ() == LinuxNamespaceType::Pid => {
                    v.shared_pid_namespace = Some(field)
                }
                _ => {}
            },
        }
    }
    let mappings = linux.and_then(|l| l.uid_mappings().as_ref());
    let userns = own_userns
        && mappings
            .is_some_and(|m| !m.is_empty() && !m.iter().any(|m| m.host_id() == 0 && m.size() > 0));

    // Mounts.
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let o = mount_options(m);
        if !o.bind {
            continue;
        }
        v.host_mounts.push(HostMount {
            host_path: m
                .source()
                .as_ref()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default(),
            target: m.destination().to_string_lossy().to_string(),
            read_only: o.read_only,
            propagation: o.propagation,
            sub_path: false,
            field: format!("mounts[{i}].source"),
            mount_field: if m.options().is_some() {
                format!("mounts[{i}].options")
            } else {
                format!("mounts[{i}]")
            },
        });
    }
    v.rootfs_propagation = linux
        .and_then(|l| l.rootfs_propagation().clone())
        .map(|p| Field::new(p, "linux.rootfsPropagation"));

    // Devices.
    if let Some(l) = linux {
        for (i, d) in l.devices().iter().flatten().enumerate() {
            let kind = match d.typ() {
                LinuxDeviceType::B => 'b',
                LinuxDeviceType::C => 'c',
                LinuxDeviceType::U => 'u',
                LinuxDeviceType::P => 'p',
                LinuxDeviceType::A => 'a',
            };
            v.device_nodes.push(Field::new(
                crate::model::DeviceNode {
                    path: d.path().to_string_lossy().to_string(),
                    kind,
                    major: d.major(),
                    minor: d.minor(),
                },
                format!("linux.devices[{i}]"),
            ));
        }
        let rules = l.resources().as_ref().and_then(|r| r.devices().as_ref());
        for (i, r) in rules.into_iter().flatten().enumerate() {
            let wild = |n: Option<i64>| n.is_none_or(|n| n < 0);
            if !(wild(r.major()) && wild(r.minor())) {
                continue;
            }
            let rw = r
                .access()
                .as_deref()
                .is_none_or(|a| a.contains(['r', 'w']) || a.is_empty());
            let all_types = matches!(r.typ(), None | Some(LinuxDeviceType::A));
            if r.allow() && rw {
                v.device_allow_all = Some(format!("linux.resources.devices[{i}]"));
            } else if !r.allow() && all_types && rw {
                v.device_allow_all = None;
            }
        }
        let mut sysctls: Vec<&String> = l.sysctl().iter().flat_map(|m| m.keys()).collect();
        sysctls.sort();
        for k in sysctls {
            v.sysctls
                .push(Field::new(k.clone(), key_field("linux.sysctl", k)));
            if let Some(value) = l.sysctl().as_ref().and_then(|m| m.get(k)) {
                v.sysctl_values
                    .push(Field::new(value.clone(), key_field("linux.sysctl", k)));
            }
        }
    }

    // The process.
    let caps = process.and_then(|p| p.capabilities().as_ref());
    let mut cap_add: Vec<Field<String>> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut cap_bounding = Some(Vec::new());
    let mut all_caps = false;
    if let Some(c) = caps {
        for (set, caps) in cap_sets(c) {
            let Some(caps) = caps else { continue };
            let field = format!("process.capabilities.{set}");
            if set == "bounding" {
                all_caps = caps.len() >= ALL_CAPS;
                cap_bounding = Some(
                    sorted_names(caps)
                        .into_iter()
                        .map(|n| Field::new(n, field.clone()))
                        .collect(),
                );
            }
            for name in sorted_names(caps) {
                let default = DEFAULT_CAPS.iter().any(|d| cap_name(d) == name);
                if !default && seen.insert(name.clone()) {
                    cap_add.push(Field::new(name, field.clone()));
                }
            }
        }
    }
    let seccomp = seccomp(spec);
    let privileged = (all_caps && seccomp.value == Seccomp::Unconfined && sys_writable(spec))
        .then(|| "process.capabilities.bounding".to_string());

    let mut lsm_unconfined = Vec::new();
    if let Some(p) = process {
        if p.apparmor_profile().as_deref() == Some("unconfined") {
            lsm_unconfined.push(Field::new(
                "unconfined".to_string(),
                "process.apparmorProfile",
            ));
        }
        if let Some(label) = p.selinux_label() {
            let typ = label.split(':').nth(2).unwrap_or("");
            if typ == "spc_t" || typ == "unconfined_t" {
                lsm_unconfined.push(Field::new(label.clone(), "process.selinuxLabel"));
            }
        }
    }
    let resources = linux.and_then(|l| l.resources().as_ref());
    let memory = resources
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit())
        .filter(|&l| l > 0);
    let pids = resources
        .and_then(|r| r.pids().as_ref())
        .map(|p| p.limit())
        .filter(|&l| l > 0);

    v.containers.push(ContainerView {
        name: spec
            .hostname()
            .clone()
            .unwrap_or_else(|| "container".to_string()),
        field: "process".to_string(),
        privileged,
        cap_add,
        cap_bounding,
        user: UserView {
            uid: process.map(|p| Field::new(i64::from(p.user().uid()), "process.user.uid")),
            name: None,
            userns,
        },
        seccomp,
        lsm_unconfined,
        no_new_privs: Field::new(
            process.and_then(|p| p.no_new_privileges()),
            "process.noNewPrivileges",
        ),
        read_only_root: Field::new(
            spec.root().as_ref().and_then(|r| r.readonly()),
            "root.readonly",
        ),
        memory_limit: Field::new(memory, "linux.resources.memory.limit"),
        pids_limit: Some(Field::new(pids, "linux.resources.pids.limit")),
        cwd: process.map(|p| Field::new(p.cwd().to_string_lossy().to_string(), "process.cwd")),
    });
    v
}

/// The rules that exist only in OCI terms: SKD-ESC-040, -041, -042, -050, -070.
pub fn evaluate(spec: &Spec) -> Vec<Violation> {
    let mut out = Vec::new();
    let linux = spec.linux().as_ref();

    // SKD-ESC-050: the host's root as the container's root. A root.path
    // that reached here resolved ([`resolve_root_path`]) names "/" itself.
    if let Some(r) = spec.root().as_ref() {
        // A relative path is the bundle's ("." is the bundle directory).
        if r.path().is_absolute() && normalize(&r.path().to_string_lossy()) == "/" {
            out.push(Violation::new(
                id::SKD_ESC_050,
                "root.path",
                format!(
                    "root.path {:?} is the host's root directory: the container would run on the whole host filesystem",
                    r.path().display()
                ),
            ));
        }
    }

    // SKD-ESC-040: masked and read-only paths.
    let masked: Vec<String> = linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
        .map(|p| normalize(p))
        .collect();
    let readonly: Vec<String> = linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
        .map(|p| normalize(p))
        .collect();
    let covered = |list: &[String], p: &str| list.iter().any(|m| is_at_or_above(m, p));
    let missing: Vec<&str> = REQUIRED_MASKED
        .iter()
        .copied()
        .filter(|p| !covered(&masked, p))
        .collect();
    if !missing.is_empty() {
        out.push(Violation::new(
            id::SKD_ESC_040,
            "linux.maskedPaths",
            format!("linux.maskedPaths does not mask {}", missing.join(", ")),
        ));
    }
    let missing: Vec<&str> = REQUIRED_READONLY
        .iter()
        .copied()
        .filter(|p| !covered(&readonly, p) && !covered(&masked, p))
        .collect();
    if !missing.is_empty() {
        out.push(Violation::new(
            id::SKD_ESC_040,
            "linux.readonlyPaths",
            format!(
                "linux.readonlyPaths does not make {} read-only",
                missing.join(", ")
            ),
        ));
    }

    // SKD-ESC-040 too: a second procfs mounted writable elsewhere than /proc is not covered by
    // the masked and read-only paths, which are all under /proc.
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let dest = normalize(&m.destination().to_string_lossy());
        if m.typ().as_deref() == Some("proc") && dest != "/proc" && !mount_options(m).read_only {
            out.push(Violation::new(
                id::SKD_ESC_040,
                format!("mounts[{i}]"),
                format!(
                    "procfs is also mounted writable at {dest}, where the masked and read-only \
                     paths do not apply"
                ),
            ));
        }
    }

    // SKD-ESC-041: sysfs and cgroupfs writable.
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let typ = m.typ().as_deref().unwrap_or("");
        if matches!(typ, "sysfs" | "cgroup" | "cgroup2") && !mount_options(m).read_only {
            let field = if m.options().is_some() {
                format!("mounts[{i}].options")
            } else {
                format!("mounts[{i}]")
            };
            out.push(Violation::new(
                id::SKD_ESC_041,
                field,
                format!("{typ} is mounted writable at {}", m.destination().display()),
            ));
        }
    }

    // SKD-ESC-042: hooks.
    if let Some(h) = spec.hooks() {
        let kinds = [
            ("prestart", h.prestart(), "on the host, in the runtime's namespaces (deprecated)"),
            ("createRuntime", h.create_runtime(), "on the host, in the runtime's namespaces"),
            (
                "createContainer",
                h.create_container(),
                "in the container's mount namespace before pivot_root, with the runtime's privileges",
            ),
            ("startContainer", h.start_container(), "inside the container before the process"),
            ("poststart", h.poststart(), "on the host, in the runtime's namespaces"),
            ("poststop", h.poststop(), "on the host, in the runtime's namespaces"),
        ];
        for (kind, hooks, context) in kinds {
            for (i, hook) in hooks.iter().flatten().enumerate() {
                out.push(Violation::new(
                    id::SKD_ESC_042,
                    format!("hooks.{kind}[{i}]"),
                    format!("{kind} hook {} runs {context}", hook.path().display()),
                ));
            }
        }
    }

    // SKD-ESC-070: inheritable capabilities beyond runc's default set (and the ambient set,
    // which only takes effect for what is inheritable).
    if let Some(c) = spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref())
    {
        let beyond = |set: Option<&std::collections::HashSet<Capability>>| -> Vec<String> {
            set.map(sorted_names)
                .unwrap_or_default()
                .into_iter()
                .filter(|n| !DEFAULT_CAPS.iter().any(|d| cap_name(d) == *n))
                .collect()
        };
        let inh = beyond(c.inheritable().as_ref());
        if !inh.is_empty() {
            let amb: Vec<String> = beyond(c.ambient().as_ref())
                .into_iter()
                .filter(|n| inh.contains(n))
                .collect();
            let mut msg = format!(
                "inheritable capabilities {}: a program with file-inheritable capabilities gains them at exec, whoever runs it (CVE-2022-29162)",
                inh.join(", ")
            );
            if !amb.is_empty() {
                msg.push_str(&format!(
                    "; ambient {}: kept across every exec, also by a non-root user",
                    amb.join(", ")
                ));
            }
            out.push(Violation::new(
                id::SKD_ESC_070,
                "process.capabilities.inheritable",
                msg,
            ));
        }
    }
    out
}

/// Every violation of a config: the cross-format escape rules over its [`view`] and the OCI-only
/// rules, filtered by level. This is what `audit` and the runtime's gate call.
/// Resolve `root.path` from the bundle directory on this machine, so the
/// rules see what it names: the canonical path, or "/" when it is the
/// host's root directory under another name (a symlink, or a bind mount of
/// "/" elsewhere: same device and inode). Left as written when it cannot be
/// resolved (the bundle is not here, or the rootfs does not exist yet).
pub fn resolve_root_path(spec: &mut Spec, bundle_dir: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let Some(mut root) = spec.root().clone() else {
        return;
    };
    let Ok(canon) = std::fs::canonicalize(bundle_dir.join(root.path())) else {
        return;
    };
    let id = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let host_root = std::path::Path::new("/");
    let resolved = if id(&canon).is_some() && id(&canon) == id(host_root) {
        host_root.to_path_buf()
    } else {
        canon
    };
    root.set_path(resolved);
    spec.set_root(Some(root));
}

pub fn evaluate_config(spec: &Spec, opts: &Options) -> Vec<Violation> {
    if opts.pss_only {
        return Vec::new();
    }
    let mut out = crate::eval::evaluate_view(&view(spec), opts);
    out.extend(
        evaluate(spec)
            .into_iter()
            .filter(|v| opts.level.includes(v.rule.level)),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inheritable_capabilities_beyond_the_default() {
        let with_caps = |inh: &[&str], amb: &[&str]| {
            let mut v: serde_json::Value =
                serde_json::to_value(Spec::default()).expect("spec as JSON");
            v["process"]["capabilities"]["inheritable"] = serde_json::json!(inh);
            v["process"]["capabilities"]["ambient"] = serde_json::json!(amb);
            let s: Spec = serde_json::from_value(v).expect("spec from JSON");
            evaluate(&s)
                .into_iter()
                .filter(|v| v.rule.id == id::SKD_ESC_070)
                .collect::<Vec<_>>()
        };
        // runc's default three alone, as `stockade spec` asks: no finding
        let dflt = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
        assert!(with_caps(&dflt, &dflt).is_empty());
        assert!(with_caps(&[], &[]).is_empty());
        let v = with_caps(&["CAP_SYS_ADMIN", "CAP_KILL"], &["CAP_SYS_ADMIN"]);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].field, "process.capabilities.inheritable");
        assert!(
            v[0].message.contains("CAP_SYS_ADMIN")
                && v[0].message.contains("ambient CAP_SYS_ADMIN"),
            "{}",
            v[0].message
        );
        assert!(!v[0].message.contains("CAP_KILL"), "{}", v[0].message);
        // ambient alone cannot be raised (the kernel needs it inheritable): no finding
        assert!(with_caps(&[], &["CAP_SYS_ADMIN"]).is_empty());
    }

    #[test]
    fn host_root_as_rootfs_is_critical() {
        let with_root = |p: &str| {
            let mut s = Spec::default();
            let mut r = s.root().clone().unwrap();
            r.set_path(p.into());
            s.set_root(Some(r));
            s
        };
        for p in ["/", "//", "/.", "/..", "/../"] {
            let v = evaluate(&with_root(p));
            assert!(
                v.iter()
                    .any(|v| v.rule.id == id::SKD_ESC_050 && v.field == "root.path"),
                "{p}"
            );
        }
        for p in ["rootfs", ".", "/var/lib/x/rootfs"] {
            assert!(
                !evaluate(&with_root(p))
                    .iter()
                    .any(|v| v.rule.id == id::SKD_ESC_050),
                "{p}"
            );
        }
        // A symlink to "/" in a bundle resolves to it.
        let dir = std::env::temp_dir().join(format!("stockade-rootlink-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink("/", dir.join("rootfs")).unwrap();
        let mut s = with_root("rootfs");
        resolve_root_path(&mut s, &dir);
        std::fs::remove_dir_all(&dir).unwrap();
        let v = evaluate(&s);
        assert!(v.iter().any(|v| v.rule.id == id::SKD_ESC_050), "{v:?}");
    }

    #[test]
    fn cap_names_are_kernel_names() {
        assert_eq!(cap_name(&Capability::SysAdmin), "CAP_SYS_ADMIN");
        assert_eq!(
            cap_name(&Capability::NetBindService),
            "CAP_NET_BIND_SERVICE"
        );
        assert_eq!(
            cap_name(&Capability::CheckpointRestore),
            "CAP_CHECKPOINT_RESTORE"
        );
    }

    #[test]
    fn ns_paths() {
        assert_eq!(ns_path_pid("/proc/1/ns/net").as_deref(), Some("1"));
        assert_eq!(ns_path_pid("/proc//self/ns/pid").as_deref(), Some("self"));
        assert_eq!(
            ns_path_pid("/proc/42/task/43/ns/ipc").as_deref(),
            Some("42")
        );
        assert_eq!(ns_path_pid("/var/run/netns/cni-1"), None);
    }
}
