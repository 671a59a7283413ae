//! The hardened default config: what `stockade spec` writes and what
//! `stockade run` uses for a bundle without config.json.
//!
//! Starting from runc's default (`oci_spec::runtime::Spec::default()`):
//!
//! * a user namespace mapping container root to the unprivileged host range
//!   [`HOST_ID_BASE`]..+[`HOST_ID_COUNT`] (uids and gids), so a process that
//!   escapes is nobody on the host;
//! * every namespace (pid, network, ipc, uts, mount, cgroup, user); the
//!   network namespace has only loopback;
//! * runc's three capabilities (AUDIT_WRITE, KILL, NET_BIND_SERVICE), and
//!   `noNewPrivileges`;
//! * the default seccomp profile (`profiles/default-seccomp.json`, see
//!   docs/runtime.md), native architecture only: a 32-bit (x86) or x32
//!   system call kills the thread;
//! * a read-only root with tmpfs on /tmp and /run, Docker's masked and
//!   read-only /proc and /sys paths, /sys and the cgroupfs read-only;
//! * pids (1024) and memory (512 MiB, no extra swap) limits.

use oci_spec::runtime::{LinuxSeccomp, Spec};
use serde_json::{json, Value};

/// First host uid/gid of the container's id range (container root).
/// Above what `useradd` hands out in /etc/subuid and /etc/subgid (Debian
/// and Fedora: SUB_UID_MIN 100000 to SUB_UID_MAX 600100000) and above
/// systemd-nspawn's `--private-users=pick` range (524288-1879048191), below
/// 2^31 (tools that read ids as signed) and systemd's foreign range
/// (2147352576-2147418111). See docs/runtime.md.
pub const HOST_ID_BASE: u32 = 2_000_000_000;
/// Number of ids mapped.
pub const HOST_ID_COUNT: u32 = 65_536;
/// `linux.resources.pids.limit` of the default config.
pub const PIDS_LIMIT: i64 = 1024;
/// `linux.resources.memory.limit` of the default config.
pub const MEMORY_LIMIT: i64 = 512 << 20;

/// The default seccomp profile, as OCI `linux.seccomp` JSON.
pub const SECCOMP_PROFILE: &str = include_str!("../profiles/default-seccomp.json");

/// The seccomp architecture this binary was built for: the only system call
/// table the default profile allows (a compat table's calls kill the thread).
pub const NATIVE_ARCH: &str = if cfg!(target_arch = "x86_64") {
    "SCMP_ARCH_X86_64"
} else if cfg!(target_arch = "aarch64") {
    "SCMP_ARCH_AARCH64"
} else if cfg!(target_arch = "riscv64") {
    "SCMP_ARCH_RISCV64"
} else if cfg!(target_arch = "s390x") {
    "SCMP_ARCH_S390X"
} else if cfg!(all(target_arch = "powerpc64", target_endian = "little")) {
    "SCMP_ARCH_PPC64LE"
} else {
    "SCMP_ARCH_NATIVE"
};

/// The default seccomp profile as JSON: profiles/default-seccomp.json with
/// its architecture set to [`NATIVE_ARCH`] (the file names x86_64).
fn seccomp_json() -> Value {
    // The profile is part of the binary and covered by a unit test.
    let mut v: Value =
        serde_json::from_str(SECCOMP_PROFILE).expect("profiles/default-seccomp.json is valid");
    v["architectures"] = json!([NATIVE_ARCH]);
    v
}

/// The default seccomp profile.
pub fn seccomp_profile() -> LinuxSeccomp {
    serde_json::from_value(seccomp_json()).expect("profiles/default-seccomp.json is valid")
}

/// Docker's masked paths (shared with `stockade check`'s Docker-like profile).
pub use policy::paths::DOCKER_MASKED_PATHS as MASKED_PATHS;
/// Docker's read-only paths.
pub use policy::paths::DOCKER_READONLY_PATHS as READONLY_PATHS;

/// The device cgroup rules of a default spec: deny everything, as `runc
/// spec` writes. The runtime then allows only its default devices (/dev/null,
/// zero, full, random, urandom, tty, console, ptmx, pts). An empty list would
/// leave the device cgroup open (`a *:* rwm`, no device program).
pub fn deny_all_devices() -> Value {
    json!([{"allow": false, "access": "rwm"}])
}

/// runc's default config (`stockade spec --unhardened`): oci-spec's default
/// with `runc spec`'s deny-all device list, process `sh` on a terminal.
pub fn unhardened_spec() -> Spec {
    let mut v = serde_json::to_value(Spec::default()).expect("Spec serializes");
    v["hostname"] = json!("stockade");
    v["process"]["terminal"] = json!(true);
    v["process"]["args"] = json!(["sh"]);
    v["linux"]["resources"]["devices"] = deny_all_devices();
    serde_json::from_value(v).expect("unhardened default is a valid Spec")
}

/// The hardened default config (process `sh` on a terminal, rootfs `rootfs`).
pub fn hardened_spec() -> Spec {
    let mut v = serde_json::to_value(Spec::default()).expect("Spec serializes");
    let map = json!([{"containerID": 0, "hostID": HOST_ID_BASE, "size": HOST_ID_COUNT}]);
    v["hostname"] = json!("stockade");
    v["root"] = json!({"path": "rootfs", "readonly": true});
    let p = &mut v["process"];
    p["terminal"] = json!(true);
    p["args"] = json!(["sh"]);
    p["noNewPrivileges"] = json!(true);
    let mounts = v["mounts"].as_array_mut().expect("default mounts");
    for m in mounts.iter_mut() {
        // cgroupfs read-only, and /sys read-only (the default already is).
        if m["type"] == "cgroup" || m["type"] == "sysfs" {
            let opts = m["options"].as_array_mut().expect("options");
            opts.retain(|o| o != "rw");
            if !opts.iter().any(|o| o == "ro") {
                opts.push(json!("ro"));
            }
        }
    }
    for dest in ["/tmp", "/run"] {
        mounts.push(
            json!({"destination": dest, "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=1777", "size=65536k"]}),
        );
    }
    let l = &mut v["linux"];
    l["uidMappings"] = map.clone();
    l["gidMappings"] = map;
    l["namespaces"] = json!(["pid", "network", "ipc", "uts", "mount", "cgroup", "user"]
        .iter()
        .map(|t| json!({"type": t}))
        .collect::<Vec<Value>>());
    l["maskedPaths"] = json!(MASKED_PATHS);
    l["readonlyPaths"] = json!(READONLY_PATHS);
    l["resources"]["devices"] = deny_all_devices();
    l["resources"]["pids"] = json!({"limit": PIDS_LIMIT});
    l["resources"]["memory"] = json!({"limit": MEMORY_LIMIT, "swap": MEMORY_LIMIT});
    l["seccomp"] = seccomp_json();
    serde_json::from_value(v).expect("hardened default is a valid Spec")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_parses_and_compiles() {
        let p = seccomp_profile();
        crate::seccomp::build(&p).unwrap();
        // Native only: no compat (x86, x32) system call table.
        let archs = serde_json::to_value(p.architectures()).unwrap();
        assert_eq!(archs, json!([NATIVE_ARCH]));
        #[cfg(target_arch = "x86_64")]
        assert_eq!(archs, json!(["SCMP_ARCH_X86_64"]));
        let names: Vec<&String> = p
            .syscalls()
            .iter()
            .flatten()
            .filter(|r| serde_json::to_value(r.action()).unwrap() == "SCMP_ACT_ALLOW")
            .flat_map(|r| r.names())
            .collect();
        for denied in [
            "keyctl",
            "add_key",
            "request_key",
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "io_uring_setup",
            "kexec_load",
            "init_module",
            "finit_module",
            "open_by_handle_at",
            "mount",
            "fsopen",
            "fsmount",
            "move_mount",
            "open_tree",
            "mount_setattr",
            "pivot_root",
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "clone3",
        ] {
            assert!(!names.iter().any(|n| *n == denied), "{denied} allowed");
        }
    }

    #[test]
    fn profile_is_compiled_once_and_cached() {
        // The cache is `<root>/.cache/seccomp` under a private state root, as the runtime lays
        // it out: a cache whose directories another user could write is never used.
        let base = std::env::temp_dir().join(format!("stockade-bpf-{}", std::process::id()));
        crate::state::make_private_dir(&base).unwrap();
        let dir = base.join(".cache").join("seccomp");
        let p = seccomp_profile();
        let a = crate::seccomp::program(&p, Some(&dir)).unwrap().unwrap();
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(files.len(), 1);
        assert_eq!(std::fs::read(files[0].path()).unwrap(), a);
        // A second call reads the cache (same bytes), even with the
        // compiler's output removed from memory.
        let b = crate::seccomp::program(&p, Some(&dir)).unwrap().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len() % 8, 0);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn default_specs_deny_devices_first() {
        for s in [hardened_spec(), unhardened_spec()] {
            let devs = s
                .linux()
                .as_ref()
                .unwrap()
                .resources()
                .as_ref()
                .unwrap()
                .devices()
                .clone();
            let first = &devs.expect("devices")[0];
            assert!(!first.allow());
            assert_eq!(first.access().as_deref(), Some("rwm"));
            assert!(first.typ().is_none() && first.major().is_none());
        }
    }

    #[test]
    fn hardened_spec_shape() {
        let s = hardened_spec();
        assert_eq!(s.root().as_ref().unwrap().readonly(), Some(true));
        let l = s.linux().as_ref().unwrap();
        assert_eq!(l.namespaces().as_ref().unwrap().len(), 7);
        assert_eq!(
            l.uid_mappings().as_ref().unwrap()[0].host_id(),
            HOST_ID_BASE
        );
    }
}
