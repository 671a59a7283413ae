//! Cross-format escape rules over the normalized [`WorkloadView`]: engine sockets, sensitive host
//! paths, dangerous capabilities one by one, propagation, limits, seccomp, LSMs, devices, sysctls.
//!
//! The same functions run for Kubernetes pods (through `k8s::pod_view`), compose services, OCI
//! configs in `stockade audit`, and the runtime's policy gate at `create`.

use crate::catalogue::{id, RuleId};
use crate::catalogue::{rule, Format};
use crate::model::{ContainerView, Namespace, Seccomp, Violation, WorkloadView};
use crate::paths;

/// Capabilities that get a rule of their own, by normalized name.
const NAMED_CAPS: &[(&str, RuleId)] = &[
    ("SYS_ADMIN", id::SKD_ESC_010),
    ("SYS_PTRACE", id::SKD_ESC_011),
    ("SYS_MODULE", id::SKD_ESC_012),
    ("DAC_READ_SEARCH", id::SKD_ESC_013),
    ("NET_ADMIN", id::SKD_ESC_014),
    ("BPF", id::SKD_ESC_015),
    ("PERFMON", id::SKD_ESC_016),
    ("SYS_RAWIO", id::SKD_ESC_017),
    ("ALL", id::SKD_ESC_018),
];

/// Other capabilities with host-wide effect (SKD-ESC-019).
const OTHER_DANGEROUS_CAPS: &[&str] = &[
    "SYS_BOOT",
    "SYS_TIME",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "LINUX_IMMUTABLE",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_PACCT",
    "SYS_TTY_CONFIG",
    "AUDIT_CONTROL",
    "AUDIT_READ",
    "LEASE",
    "IPC_LOCK",
    "IPC_OWNER",
    "CHECKPOINT_RESTORE",
];

/// A capability name without case or the `CAP_` prefix: `cap_sys_admin` → `SYS_ADMIN`.
pub fn normalize_cap(cap: &str) -> String {
    let up = cap.trim().to_ascii_uppercase();
    match up.strip_prefix("CAP_") {
        Some(rest) => rest.to_string(),
        None => up,
    }
}

/// SKD-ESC-039 allows the sysctls Pod Security allows at this version (1.`minor`), its newest
/// release (`[rule.params]` of SKD-PSS-010).
const SAFE_SYSCTLS_AT: u32 = 32;

/// Whether a rule with a Pod Security equivalent should be left to the PSS check for this view.
fn left_to_pss(view: &WorkloadView, rid: RuleId) -> bool {
    view.format == Format::Kubernetes && rule(rid).pss_equivalent.is_some()
}

/// Evaluate every cross-format escape rule on a view.
pub fn evaluate(view: &WorkloadView) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut push = |rid: RuleId, field: &str, message: String| {
        if !left_to_pss(view, rid) {
            out.push(Violation::new(rid, field, message));
        }
    };

    for ns in &view.host_namespaces {
        push(
            id::SKD_ESC_002,
            &ns.field,
            format!("shares the host's {} namespace", ns.value.as_str()),
        );
    }
    // For pods, shareProcessNamespace and Bidirectional propagation (on any volume, not only
    // hostPath) are reported by `k8s::evaluate`.
    let kubernetes = view.format == Format::Kubernetes;
    if let (Some(f), false) = (&view.shared_pid_namespace, kubernetes) {
        push(
            id::SKD_ESC_030,
            f,
            "containers share one PID namespace: each can read the others' /proc/<pid>/root and environ".into(),
        );
    }

    for m in &view.host_mounts {
        if paths::benign(&m.host_path, m.read_only) {
            continue;
        }
        let shown = if m.target.is_empty() {
            format!("host path {:?}", m.host_path)
        } else {
            format!("host path {:?} at {:?}", m.host_path, m.target)
        };
        if let Some(sock) = paths::engine_socket(&m.host_path) {
            // An engine socket works read-only as well: the socket rule says all there is to
            // say about this mount (unless it also exposes a wider sensitive tree, like `/`).
            push(
                id::SKD_ESC_020,
                &m.field,
                format!("{shown} exposes the container-engine socket {sock}"),
            );
            let wider = paths::sensitive(&m.host_path)
                .is_some_and(|s| paths::is_at_or_above(&paths::normalize(&m.host_path), s));
            if !wider {
                continue;
            }
        }
        match (paths::sensitive(&m.host_path), m.read_only) {
            (Some(s), false) => push(
                id::SKD_ESC_021,
                &m.field,
                format!("{shown} is writable and exposes the sensitive host path {s}"),
            ),
            (Some(s), true) => push(
                id::SKD_ESC_022,
                &m.field,
                format!("{shown} exposes the sensitive host path {s} (read-only)"),
            ),
            (None, false) => match paths::sensitive_when_writable(&m.host_path) {
                Some(s) => push(
                    id::SKD_ESC_021,
                    &m.field,
                    format!(
                        "{shown} is writable and exposes {s}, the cgroup tree lxcfs writes as host root"
                    ),
                ),
                None => push(
                    id::SKD_ESC_023,
                    &m.mount_field,
                    crate::cat(&shown, " is mounted writable"),
                ),
            },
            (None, true) => {}
        }
        if let (Some(p), false) = (&m.propagation, kubernetes) {
            let lower = p.to_ascii_lowercase();
            if lower == "bidirectional" || lower == "shared" || lower == "rshared" {
                push(
                    id::SKD_ESC_026,
                    &m.mount_field,
                    format!(
                        "{shown} uses {p} mount propagation: mounts made inside reach the host"
                    ),
                );
            }
        }
    }
    if let Some(p) = &view.rootfs_propagation {
        let lower = p.value.to_ascii_lowercase();
        if lower == "shared" || lower == "rshared" {
            push(
                id::SKD_ESC_026,
                &p.field,
                format!("root filesystem propagation is {}", p.value),
            );
        }
    }

    let devices = rule(id::SKD_ESC_038);
    for d in &view.devices {
        if let Some(p) = host_device_class(&d.value) {
            push(
                id::SKD_ESC_038,
                &d.field,
                format!("host device {} is exposed (class {p})", d.value),
            );
        }
    }
    for d in &view.device_nodes {
        let n = &d.value;
        if let Some(class) = devices
            .param("numbers")
            .iter()
            .find(|c| device_class_matches(c, n.kind, n.major, n.minor))
        {
            let (code, what) = class.split_once('#').unwrap_or((class, ""));
            push(
                id::SKD_ESC_038,
                &d.field,
                format!(
                    "device {} ({} {}:{}) is a host device of class {} ({})",
                    n.path,
                    n.kind,
                    n.major,
                    n.minor,
                    code.trim(),
                    what.trim()
                ),
            );
        }
    }
    if let Some(f) = &view.device_allow_all {
        push(
            id::SKD_ESC_038,
            f,
            "the device cgroup allows every device (block devices, /dev/mem)".into(),
        );
    }
    let weakening = rule(id::SKD_ESC_044);
    for a in &view.annotations {
        let key = a.value.as_str();
        if weakening.param("exempt").iter().any(|p| wildcard(p, key)) {
            continue;
        }
        if let Some(p) = weakening
            .param("prefixes")
            .iter()
            .find(|p| key.starts_with(p.as_str()))
        {
            push(
                id::SKD_ESC_044,
                &a.field,
                format!("annotation {key} ({p}*) can switch off or weaken an isolation layer"),
            );
        }
    }
    for s in &view.sysctls {
        let name = s.value.split('=').next().unwrap_or("").trim();
        if !crate::pss::safe_sysctl(name, SAFE_SYSCTLS_AT) {
            push(
                id::SKD_ESC_039,
                &s.field,
                format!("sysctl {name} is not in the safe, namespaced set"),
            );
        }
    }

    for s in &view.sysctl_values {
        if smuggles_a_setting(&s.value) {
            push(
                id::SKD_ESC_060,
                &s.field,
                format!(
                    "sysctl value {:?} carries a second setting (CRI-O CVE-2022-0811: \
                     `1+kernel.core_pattern=|/x` sets the host's core_pattern)",
                    s.value
                ),
            );
        }
    }

    for c in &view.containers {
        container(view, c, &mut push);
    }
    out
}

/// The device class of SKD-ESC-038 (`[rule.params] host_paths`, e.g. `/dev/sd*`) that a host
/// device path is in, if any: the host devices that reach memory, I/O ports, disks or CPU
/// registers.
pub fn host_device_class(path: &str) -> Option<&'static str> {
    rule(id::SKD_ESC_038)
        .param("host_paths")
        .iter()
        .find(|p| wildcard(p, path))
        .map(String::as_str)
}

/// `*` matches any run of characters (SKD-ESC-038's `host_paths`).
fn wildcard(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(mut t) = text.strip_prefix(head) else {
                return false;
            };
            loop {
                if wildcard(rest, t) {
                    return true;
                }
                match t.chars().next() {
                    Some(c) => t = &t[c.len_utf8()..],
                    None => return false,
                }
            }
        }
    }
}

/// A class of SKD-ESC-038's `numbers`: `TYPE MAJOR:MINOR`, `*` for any number, and a trailing
/// comment after `#`. Type `c` also matches `u` (an unbuffered character device); a class that
/// cannot be read matches every device (fail closed).
fn device_class_matches(class: &str, kind: char, major: i64, minor: i64) -> bool {
    let class = class.split('#').next().unwrap_or("").trim();
    let mut parts = class.split_whitespace();
    let (Some(t), Some(nums), None) = (parts.next(), parts.next(), parts.next()) else {
        return true;
    };
    let Some((ma, mi)) = nums.split_once(':') else {
        return true;
    };
    let num = |p: &str, n: i64| p == "*" || p.parse::<i64>().map_or(true, |v| v == n);
    let kind_ok = match t {
        "*" | "a" => true,
        "c" => kind == 'c' || kind == 'u',
        _ => t.len() == 1 && t.starts_with(kind),
    };
    kind_ok && num(ma, major) && num(mi, minor)
}

/// Whether a sysctl value could be read as more than one setting by a runtime that joins
/// `name=value` pairs: an `=`, a line break or NUL, or a `+` followed by a dotted name.
pub fn smuggles_a_setting(value: &str) -> bool {
    value.contains(['=', '\n', '\r', '\0'])
        || value.split('+').skip(1).any(|rest| {
            rest.starts_with(|c: char| c.is_ascii_alphabetic())
                && rest
                    .split(|c: char| c.is_whitespace())
                    .next()
                    .is_some_and(|w| w.contains('.'))
        })
}

fn container(view: &WorkloadView, c: &ContainerView, push: &mut impl FnMut(RuleId, &str, String)) {
    let who = container_label(view, c);
    if let Some(uid) = c
        .user
        .uid
        .as_ref()
        .filter(|u| u.value > i64::from(i32::MAX))
    {
        push(
            id::SKD_ESC_061,
            &uid.field,
            format!(
                "{who} runs as uid {} (above 2^31-1: runtimes that store it in a signed 32-bit \
                 value wrap it, to 0 in the worst case)",
                uid.value
            ),
        );
    }
    if let Some(f) = &c.privileged {
        push(id::SKD_ESC_001, f, crate::cat(&who, " is privileged"));
    }
    for cap in &c.cap_add {
        let name = normalize_cap(&cap.value);
        if let Some(&(_, rid)) = NAMED_CAPS.iter().find(|(n, _)| *n == name) {
            push(
                rid,
                &cap.field,
                format!("{who} adds capability {}", cap.value),
            );
        } else if OTHER_DANGEROUS_CAPS.contains(&name.as_str()) {
            push(
                id::SKD_ESC_019,
                &cap.field,
                format!("{who} adds capability {}", cap.value),
            );
        }
    }
    match &c.seccomp.value {
        Seccomp::Unconfined => push(
            id::SKD_ESC_034,
            &c.seccomp.field,
            crate::cat(&who, " runs without a deny-by-default seccomp profile"),
        ),
        Seccomp::Unset if view.format == Format::Oci => push(
            id::SKD_ESC_034,
            &c.seccomp.field,
            crate::cat(&who, " has no seccomp profile"),
        ),
        _ => {}
    }
    for l in &c.lsm_unconfined {
        push(
            id::SKD_ESC_035,
            &l.field,
            format!("{who} disables LSM confinement ({})", l.value),
        );
    }
    if c.no_new_privs.value != Some(true) {
        push(
            id::SKD_ESC_036,
            &c.no_new_privs.field,
            crate::cat(&who, " does not set no_new_privs"),
        );
    }
    let root = match (&c.user.uid, &c.user.name) {
        (Some(uid), _) => uid.value == 0,
        (None, Some(name)) => name.value == "root",
        (None, None) => true,
    };
    if root && !c.user.userns {
        let field = c
            .user
            .uid
            .as_ref()
            .map(|u| u.field.clone())
            .or_else(|| c.user.name.as_ref().map(|n| n.field.clone()))
            .unwrap_or_else(|| c.field.clone());
        push(
            id::SKD_ESC_037,
            &field,
            crate::cat(&who, " runs as root without a user namespace"),
        );
    }
    if c.read_only_root.value != Some(true) {
        push(
            id::SKD_ESC_031,
            &c.read_only_root.field,
            crate::cat(&who, " has a writable root filesystem"),
        );
    }
    match c.memory_limit.value {
        Some(n) if n > 0 => {}
        _ => push(
            id::SKD_ESC_032,
            &c.memory_limit.field,
            crate::cat(&who, " has no memory limit"),
        ),
    }
    if let Some(p) = &c.pids_limit {
        match p.value {
            Some(n) if n > 0 => {}
            _ => push(
                id::SKD_ESC_033,
                &p.field,
                crate::cat(&who, " has no pids limit"),
            ),
        }
    }
    if let Some(cwd) = &c.cwd {
        if paths::cwd_through_fd(&cwd.value) {
            push(
                id::SKD_ESC_043,
                &cwd.field,
                format!(
                    "{who} starts in {:?}, a directory reached through a file descriptor (CVE-2024-21626 shape)",
                    cwd.value
                ),
            );
        }
    }
}

fn container_label(view: &WorkloadView, c: &ContainerView) -> String {
    match view.format {
        Format::Kubernetes => format!("container {:?}", c.name),
        Format::Compose => format!("service {:?}", c.name),
        Format::Oci | Format::Runtime | Format::Host => "the container process".to_string(),
        Format::Dockerfile | Format::Image => "the image".to_string(),
    }
}

/// Whether a view shares the given namespace with the host.
pub fn shares(view: &WorkloadView, ns: Namespace) -> bool {
    view.host_namespaces.iter().any(|f| f.value == ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Field, HostMount, UserView};

    #[test]
    fn host_device_classes() {
        assert_eq!(host_device_class("/dev/nbd0"), Some("/dev/nbd*"));
        assert_eq!(host_device_class("/dev/sda1"), Some("/dev/sd*"));
        assert_eq!(host_device_class("/dev/mem"), Some("/dev/mem"));
        assert_eq!(host_device_class("/dev/cpu/0/msr"), Some("/dev/cpu/*"));
        for benign in ["/dev/null", "/dev/fuse", "/dev/tty1", "/dev/memx/a"] {
            assert_eq!(host_device_class(benign), None, "{benign}");
        }
    }

    fn base(format: Format) -> WorkloadView {
        let mut v = WorkloadView::new(format);
        v.containers.push(ContainerView {
            name: "app".into(),
            field: "services.app".into(),
            privileged: None,
            cap_add: vec![],
            cap_bounding: None,
            user: UserView {
                uid: Some(Field::new(1000, "services.app.user")),
                name: None,
                userns: false,
            },
            seccomp: Field::new(Seccomp::RuntimeDefault, "services.app.security_opt"),
            lsm_unconfined: vec![],
            no_new_privs: Field::new(Some(true), "services.app.security_opt"),
            read_only_root: Field::new(Some(true), "services.app.read_only"),
            memory_limit: Field::new(Some(1 << 28), "services.app.mem_limit"),
            pids_limit: Some(Field::new(Some(100), "services.app.pids_limit")),
            cwd: None,
        });
        v
    }

    fn ids(v: &WorkloadView) -> Vec<String> {
        evaluate(v).into_iter().map(|x| x.rule.id.clone()).collect()
    }

    #[test]
    fn clean_view_is_clean() {
        assert!(ids(&base(Format::Compose)).is_empty());
    }

    #[test]
    fn caps_are_named_individually_in_any_spelling() {
        let mut v = base(Format::Compose);
        for (i, c) in [
            "cap_sys_admin",
            "SYS_PTRACE",
            "CAP_BPF",
            "all",
            "NET_RAW",
            "sys_time",
        ]
        .iter()
        .enumerate()
        {
            v.containers[0].cap_add.push(Field::new(
                c.to_string(),
                format!("services.app.cap_add[{i}]"),
            ));
        }
        assert_eq!(
            ids(&v),
            [
                id::SKD_ESC_010,
                id::SKD_ESC_011,
                id::SKD_ESC_015,
                id::SKD_ESC_018,
                id::SKD_ESC_019
            ]
        );
    }

    #[test]
    fn socket_and_sensitive_mounts() {
        let mut v = base(Format::Compose);
        let mount = |p: &str, ro: bool| HostMount {
            host_path: p.into(),
            target: "/x".into(),
            read_only: ro,
            propagation: None,
            sub_path: false,
            field: "services.app.volumes[0]".into(),
            mount_field: "services.app.volumes[0]".into(),
        };
        v.host_mounts.push(mount("/var/run/docker.sock", true));
        assert_eq!(ids(&v), [id::SKD_ESC_020]);
        v.host_mounts[0] = mount("/etc/", false);
        assert_eq!(ids(&v), [id::SKD_ESC_021]);
        v.host_mounts[0] = mount("/data", false);
        assert_eq!(ids(&v), [id::SKD_ESC_023]);
        v.host_mounts[0] = mount("/data", true);
        assert!(ids(&v).is_empty());
        // lxcfs (E48): its cgroup tree writable is critical; read-only, or its /proc files
        // (what it is bound for) in any mode, no finding beyond a plain writable host path
        v.host_mounts[0] = mount("/var/lib/lxcfs", false);
        assert_eq!(ids(&v), [id::SKD_ESC_021]);
        v.host_mounts[0] = mount("/var/lib/lxcfs", true);
        assert!(ids(&v).is_empty());
        v.host_mounts[0] = mount("/var/lib/lxcfs/proc/meminfo", true);
        assert!(ids(&v).is_empty());
        v.host_mounts[0] = mount("/var/lib/lxcfs/proc/meminfo", false);
        assert_eq!(ids(&v), [id::SKD_ESC_023]);
    }

    #[test]
    fn pss_equivalents_are_left_to_pss_for_pods() {
        let mut v = base(Format::Kubernetes);
        v.containers[0].privileged = Some("spec.containers[0].securityContext.privileged".into());
        assert!(ids(&v).is_empty());
        v.format = Format::Compose;
        assert_eq!(ids(&v), [id::SKD_ESC_001]);
    }

    #[test]
    fn cwd_shapes() {
        assert!(paths::cwd_through_fd("/proc/self/fd/7"));
        assert!(paths::cwd_through_fd("/proc/1/cwd/.."));
        assert!(paths::cwd_through_fd("//proc/./self/fd/8/"));
        assert!(!paths::cwd_through_fd("/proc"));
        assert!(!paths::cwd_through_fd("/app/proc/self/fd"));
    }

    #[test]
    fn oci_without_seccomp_and_root_without_userns() {
        let mut v = base(Format::Oci);
        v.containers[0].seccomp.value = Seccomp::Unset;
        v.containers[0].user.uid = Some(Field::new(0, "process.user.uid"));
        assert_eq!(ids(&v), [id::SKD_ESC_034, id::SKD_ESC_037]);
        v.containers[0].user.userns = true;
        assert_eq!(ids(&v), [id::SKD_ESC_034]);
    }
}
