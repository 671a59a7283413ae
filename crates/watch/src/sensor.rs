//! Loading and attaching the detection programs (`bpf/sensor.bpf.c`).

use crate::bpf::{OpenSensorSkel, SensorSkel, SensorSkelBuilder};
use crate::cli::SyscallHooks;
use crate::event::class;
use crate::probe::Probe;
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags};
use std::mem::MaybeUninit;

/// Absolute-path prefixes the kernel classifies (longest prefix wins).
pub const PATH_CLASSES: &[(&str, u64, bool)] = &[
    ("/proc/sys/kernel/core_pattern", class::CORE_PATTERN, true),
    ("/proc/sys/kernel/modprobe", class::ESCAPE_SYSCTL, true),
    ("/proc/sys/kernel/hotplug", class::ESCAPE_SYSCTL, true),
    ("/proc/sys/kernel/poweroff_cmd", class::ESCAPE_SYSCTL, true),
    ("/proc/sys/fs/binfmt_misc/", class::ESCAPE_SYSCTL, true),
    ("/sys/kernel/uevent_helper", class::ESCAPE_SYSCTL, true),
    ("/proc/sysrq-trigger", class::ESCAPE_SYSCTL, true),
    ("/dev/", class::DEVICE, false),
    ("/dev/null", class::IGNORE, false),
    ("/dev/zero", class::IGNORE, false),
    ("/dev/full", class::IGNORE, false),
    ("/dev/random", class::IGNORE, false),
    ("/dev/urandom", class::IGNORE, false),
    ("/dev/tty", class::IGNORE, false),
    ("/dev/console", class::IGNORE, false),
    ("/dev/ptmx", class::IGNORE, false),
    ("/dev/pts/", class::IGNORE, false),
    ("/dev/shm/", class::IGNORE, false),
    ("/dev/mqueue/", class::IGNORE, false),
    ("/dev/fd/", class::IGNORE, false),
    ("/dev/std", class::IGNORE, false),
    ("/dev/log", class::IGNORE, false),
    ("/dev/kmsg", class::RECON, false),
    ("/proc/self/exe", class::SELF_EXE, true),
    ("/proc/thread-self/exe", class::SELF_EXE, true),
    ("/var/run/secrets/kubernetes.io/", class::K8S_CREDS, false),
    ("/run/secrets/kubernetes.io/", class::K8S_CREDS, false),
    ("/var/lib/kubelet/", class::K8S_CREDS, false),
    ("/etc/kubernetes/", class::K8S_CREDS, false),
    ("/proc/kcore", class::RECON, false),
    ("/proc/kallsyms", class::RECON, false),
    ("/proc/sched_debug", class::RECON, false),
    ("/sys/kernel/debug/", class::RECON, false),
];

const PATH_LEN: usize = 256;

pub struct Sensor {
    pub skel: SensorSkel<'static>,
    _links: Vec<Link>,
    pub attached: Vec<String>,
    /// Programs that did not attach, with the reason (e.g. a tracepoint this kernel lacks).
    pub missing: Vec<(String, String)>,
}

fn open(
    probe: &Probe,
    host_mntns: u32,
    host_pidns: u32,
    wakeup: u64,
    hooks: SyscallHooks,
    with_exec: bool,
) -> Result<OpenSensorSkel<'static>, String> {
    let storage: &'static mut MaybeUninit<libbpf_rs::OpenObject> =
        Box::leak(Box::new(MaybeUninit::uninit()));
    let mut builder = SensorSkelBuilder::default();
    if let Ok(p) = &probe.btf {
        if p.as_os_str() != "/sys/kernel/btf/vmlinux" {
            builder
                .obj_builder
                .btf_custom_path(p)
                .map_err(|e| e.to_string())?;
        }
    }
    let mut open = builder.open(storage).map_err(|e| format!("open: {e}"))?;
    let ro = open
        .maps
        .rodata_data
        .as_deref_mut()
        .ok_or("sensor object has no rodata")?;
    ro.host_mntns = host_mntns;
    ro.host_pidns = host_pidns;
    ro.self_tgid = std::process::id();
    ro.wakeup_bytes = wakeup;
    // Load one of the three hook styles (bpf/sensor.bpf.c): the dispatcher program `sys_enter`,
    // the per-syscall tracepoint programs `tp_<syscall>`, or the lean tier's `cap_capable` and
    // `lean_io_uring` (no syscall hook).
    for mut prog in open.open_object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        let wanted = match name.as_str() {
            "tp_exec" => with_exec,
            "sys_enter" => hooks == SyscallHooks::Dispatcher,
            "cap_capable" | "lean_io_uring" | "lean_sysctl" | "lean_connect_unix" => {
                hooks == SyscallHooks::None
            }
            _ => hooks == SyscallHooks::Tracepoints,
        };
        if !wanted {
            prog.set_autoload(false);
        }
    }
    Ok(open)
}

impl Sensor {
    /// Loads and attaches the detection programs; the lean tier's cgroup/sysctl program goes on
    /// the cgroup2 root `cgroup2` (without one it is reported as not attached).
    pub fn load(
        probe: &Probe,
        host_mntns: u32,
        host_pidns: u32,
        wakeup: u64,
        hooks: SyscallHooks,
    ) -> Result<Sensor, String> {
        let mut missing = Vec::new();
        let mut skel = match open(probe, host_mntns, host_pidns, wakeup, hooks, true)?.load() {
            Ok(s) => s,
            Err(e) => {
                // The exec program reads more kernel types than the syscall dispatcher; when it
                // is what the kernel refuses, keep the syscall behaviours.
                missing.push(("tp_exec".to_string(), format!("load: {e}")));
                open(probe, host_mntns, host_pidns, wakeup, hooks, false)?
                    .load()
                    .map_err(|e| format!("load: {e}"))?
            }
        };
        let mut links = Vec::new();
        let mut attached = Vec::new();
        // Programs an operator chose not to attach (cost/coverage trade-offs, benchmarks).
        let skip: Vec<String> = std::env::var("STOCKADE_WATCH_SKIP_PROGRAMS")
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        for prog in skel.object_mut().progs_mut() {
            let name = prog.name().to_string_lossy().into_owned();
            if !prog.autoload() || missing.iter().any(|(n, _)| n == &name) {
                continue;
            }
            if skip.contains(&name) {
                missing.push((name, "skipped (STOCKADE_WATCH_SKIP_PROGRAMS)".into()));
                continue;
            }
            let link = if name == "lean_sysctl" || name == "lean_connect_unix" {
                match &probe.cgroup2 {
                    Some(root) => match std::fs::File::open(root) {
                        Ok(dir) => {
                            use std::os::fd::AsRawFd;
                            // the link holds its own reference to the cgroup; `dir` may close
                            prog.attach_cgroup(dir.as_raw_fd())
                        }
                        Err(e) => {
                            missing.push((name, format!("{}: {e}", root.display())));
                            continue;
                        }
                    },
                    None => {
                        missing.push((name, "no cgroup2 mount".into()));
                        continue;
                    }
                }
            } else {
                prog.attach()
            };
            match link {
                Ok(l) => {
                    links.push(l);
                    attached.push(name);
                }
                Err(e) => missing.push((name, e.to_string())),
            }
        }
        let sensor = Sensor {
            skel,
            _links: links,
            attached,
            missing,
        };
        sensor.fill_path_classes()?;
        Ok(sensor)
    }

    fn fill_path_classes(&self) -> Result<(), String> {
        for (prefix, cls, write_only) in PATH_CLASSES {
            let mut key = vec![0u8; 4 + PATH_LEN];
            key[..4].copy_from_slice(&((prefix.len() * 8) as u32).to_ne_bytes());
            key[4..4 + prefix.len()].copy_from_slice(prefix.as_bytes());
            let v = (*cls as u32) | if *write_only { class::WRITE_ONLY } else { 0 };
            self.skel
                .maps
                .path_classes
                .update(&key, &v.to_ne_bytes(), MapFlags::ANY)
                .map_err(|e| format!("path_classes: {e}"))?;
        }
        Ok(())
    }

    /// The per-CPU counters: drops, emitted, container syscalls, kills (summed over CPUs) and the
    /// ring-buffer bytes pending at the last submit (the largest over CPUs).
    pub fn stats(&self) -> [u64; 5] {
        let mut out = [0u64; 5];
        for (i, slot) in out.iter_mut().enumerate() {
            let key = (i as u32).to_ne_bytes();
            if let Ok(Some(per_cpu)) = self.skel.maps.stats.lookup_percpu(&key, MapFlags::ANY) {
                let vals = per_cpu
                    .iter()
                    .filter_map(|v| v.get(..8).and_then(|b| b.try_into().ok()))
                    .map(u64::from_ne_bytes);
                *slot = if i == 4 {
                    vals.max().unwrap_or(0)
                } else {
                    vals.sum()
                };
            }
        }
        out
    }

    /// Turns on the reactive kill for these event kinds in enforced containers.
    pub fn set_kill_mask(&mut self, mask: u64) {
        if let Some(bss) = self.skel.maps.bss_data.as_deref_mut() {
            bss.kill_mask = mask;
        }
    }

    /// Marks a container's cgroup2 directory as enforced (reactive kills apply to its tasks).
    pub fn enforce_cgroup(&self, id: u64) -> Result<(), String> {
        self.skel
            .maps
            .enforced_cgroups
            .update(&id.to_ne_bytes(), &1u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(|e| e.to_string())
    }

    /// Marks a container's mount namespace as enforced (reactive kills apply to it).
    pub fn enforce_mntns(&self, mntns: u32) -> Result<(), String> {
        self.skel
            .maps
            .enforced_mntns
            .update(&mntns.to_ne_bytes(), &1u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(|e| e.to_string())
    }
}

/// Behaviours the lean tier (`--syscall-hooks none`) does not see: they make no capability
/// check, or fail before it (bad arguments), and have no other non-syscall hook here. Rule id and
/// behaviour; docs/watch.md has the per-tier table, and tests/behaviours.rs asserts this set.
pub const LEAN_UNCOVERED: &[(&str, &str)] = &[
    (
        "SKD-RUN-004",
        "binfmt_misc, uevent_helper, sysrq-trigger writes (files, not sysctls)",
    ),
    ("SKD-RUN-009", "unshare/clone of a user namespace"),
    ("SKD-RUN-010", "ptrace of a same-uid process"),
    (
        "SKD-RUN-011",
        "/proc/<pid>/mem write and process_vm_writev to a same-uid process",
    ),
    (
        "SKD-RUN-013",
        "module load (kernels without module support)",
    ),
    ("SKD-RUN-014", "rare socket family (AF_ALG, AF_VSOCK...)"),
    (
        "SKD-RUN-016",
        "perf_event_open failing before its capability check",
    ),
    (
        "SKD-RUN-017",
        "open_by_handle_at failing before its capability check",
    ),
    ("SKD-RUN-018", "userfaultfd(UFFD_USER_MODE_ONLY)"),
    ("SKD-RUN-019", "io_uring_setup that creates no ring"),
    ("SKD-RUN-023", "/proc/self/exe write"),
    ("SKD-RUN-024", "service-account token read"),
    ("SKD-RUN-025", "symlink/hard link to a sensitive file"),
    ("SKD-RUN-026", "chmod u+s / g+s by the file's owner"),
    ("SKD-ESC-038", "block device read"),
    ("SKD-ESC-043", "chdir into a leaked host fd"),
];
