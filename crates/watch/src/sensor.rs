//! Loading and attaching the detection programs (`bpf/sensor.bpf.c`).

use crate::bpf::{OpenSensorSkel, SensorSkel, SensorSkelBuilder};
use crate::cli::SyscallHooks;
use crate::event::class;
use crate::probe::Probe;
use crate::Error;
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

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

/// The second bytes of the path classes ("/proc/..." gives `p`) as a 256-bit set: the kernel
/// looks a path up in the trie only when its second byte is in it (`/proc/<pid>/...` is one).
fn class_second_bytes() -> [u64; 4] {
    let mut set = [0u64; 4];
    for b in PATH_CLASSES
        .iter()
        .filter_map(|(p, _, _)| p.as_bytes().get(1))
        .chain(std::iter::once(&b'p'))
    {
        set[usize::from(*b >> 6)] |= 1 << (b & 63);
    }
    set
}

/// What the sensor's programs counted; every way the kernel side can lose an event has a field.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KernelStats {
    /// Events lost because the ring buffer was full.
    pub drops: u64,
    /// Events submitted to the ring buffer.
    pub emitted: u64,
    /// Container syscalls (or hook runs) the programs examined.
    pub seen: u64,
    /// Reactive kills.
    pub kills: u64,
    /// Ring-buffer bytes pending at the last submit (largest over CPUs).
    pub pending: u64,
    /// Lean tier: events taken for a repeat of the thread's previous call and not reported again.
    pub merged: u64,
    /// Failed map operations on an event's path.
    pub map_errors: u64,
    /// Open paths unreadable from user memory (not classified).
    pub unread: u64,
    /// Program runs the kernel skipped (`recursion_misses`: a run already active on that CPU).
    pub missed_runs: u64,
}

/// The kernel's count of runs of one program it skipped because the program was already running
/// on that CPU (`recursion_misses` in `struct bpf_prog_info`, Linux >= 5.12).
pub fn recursion_misses(fd: BorrowedFd<'_>) -> Option<u64> {
    let mut info = libbpf_rs::libbpf_sys::bpf_prog_info::default();
    let mut len = std::mem::size_of_val(&info) as u32;
    // SAFETY: `info` is a writable `bpf_prog_info` of `len` bytes that outlives the call, and its
    // pointer fields are null with zero lengths, so the kernel writes nothing beyond it.
    let ret = unsafe {
        libbpf_rs::libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut info, &mut len)
    };
    (ret == 0).then_some(info.recursion_misses)
}

pub struct Sensor {
    pub skel: SensorSkel<'static>,
    _links: Vec<Link>,
    /// The effects' task iterator (`effects_sweep`), run by [`Sensor::sweep_effects`].
    sweep: Option<Link>,
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
    lean_devices: bool,
    with_exec: bool,
) -> Result<OpenSensorSkel<'static>, Error> {
    let storage: &'static mut MaybeUninit<libbpf_rs::OpenObject> =
        Box::leak(Box::new(MaybeUninit::uninit()));
    let mut builder = SensorSkelBuilder::default();
    if let Ok(p) = &probe.btf {
        if p.as_os_str() != "/sys/kernel/btf/vmlinux" {
            builder
                .obj_builder
                .btf_custom_path(p)
                .map_err(Error::bpf(format!("BTF {}", p.display())))?;
        }
    }
    let mut open = builder.open(storage).map_err(Error::bpf("open"))?;
    let ro = open
        .maps
        .rodata_data
        .as_deref_mut()
        .ok_or(Error::Object("sensor object has no rodata"))?;
    ro.host_mntns = host_mntns;
    ro.host_pidns = host_pidns;
    // the effects' reference points (bpf/sensor.bpf.c, ctr_tasks): the namespaces of the
    // sensor's own process, which runs on the host as host_mntns is taken
    let ns = |n: &str| {
        std::fs::read_link(format!("/proc/self/ns/{n}"))
            .ok()
            .and_then(|l| crate::behaviour::ns_inode(&l.to_string_lossy()))
            .unwrap_or(0)
    };
    ro.host_netns = ns("net");
    ro.init_userns = ns("user");
    ro.self_tgid = std::process::id();
    ro.wakeup_bytes = wakeup;
    ro.class_c1 = class_second_bytes();
    // Load one of the three hook styles (bpf/sensor.bpf.c): the dispatcher program `sys_enter`,
    // the per-syscall tracepoint programs `tp_<syscall>`, or the lean tier's `cap_capable` and
    // `lean_io_uring` (no syscall hook).
    for mut prog in open.open_object_mut().progs_mut() {
        let name = prog.name().to_string_lossy().into_owned();
        let wanted = match name.as_str() {
            // the effects' timer (a task iterator) goes and comes with the exec program
            "tp_exec" | "effects_sweep" => with_exec,
            // the runtime set-up lineage (setup_tasks), in every tier
            "setup_fork" | "setup_exit" => true,
            "sys_enter" => hooks == SyscallHooks::Dispatcher,
            "cap_capable" | "lean_io_uring" | "lean_sysctl" | "lean_connect_unix"
            | "lean_newtask" | "lean_connect4" => hooks == SyscallHooks::None,
            // opt-in (--lean-devices): it runs on every device-node open, /dev/null included
            "lean_dev" => hooks == SyscallHooks::None && lean_devices,
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
        lean_devices: bool,
    ) -> Result<Sensor, Error> {
        let mut missing = Vec::new();
        let open_with = |exec| {
            open(
                probe,
                host_mntns,
                host_pidns,
                wakeup,
                hooks,
                lean_devices,
                exec,
            )
        };
        let mut skel = match open_with(true)?.load() {
            Ok(s) => s,
            Err(e) => {
                // The exec program reads more kernel types than the syscall dispatcher; when it
                // is what the kernel refuses, keep the syscall behaviours.
                missing.push(("tp_exec".to_string(), format!("load: {e}")));
                open_with(false)?.load().map_err(Error::bpf("load"))?
            }
        };
        let mut links = Vec::new();
        let mut sweep = None;
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
            let link = if matches!(
                name.as_str(),
                "lean_sysctl" | "lean_connect_unix" | "lean_dev" | "lean_connect4"
            ) {
                match &probe.cgroup2 {
                    Some(root) => match std::fs::File::open(root) {
                        Ok(dir) => {
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
                Ok(l) if name == "effects_sweep" => {
                    sweep = Some(l);
                    attached.push(name);
                }
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
            sweep,
            attached,
            missing,
        };
        sensor.fill_path_classes()?;
        sensor.fill_node_services()?;
        Ok(sensor)
    }

    /// The node services of SKD-RUN-040 (its catalogue parameters) into `node_services`.
    fn fill_node_services(&self) -> Result<(), Error> {
        for s in crate::behaviour::node_services() {
            let mut key = [0u8; 8];
            key[..4].copy_from_slice(&s.addr.map(|a| a.octets()).unwrap_or([0; 4]));
            key[4..].copy_from_slice(&u32::from(s.port).to_ne_bytes());
            self.skel
                .maps
                .node_services
                .update(&key, &[1u8], MapFlags::ANY)
                .map_err(Error::bpf("node_services"))?;
        }
        Ok(())
    }

    fn fill_path_classes(&self) -> Result<(), Error> {
        for (prefix, cls, write_only) in PATH_CLASSES {
            let mut key = vec![0u8; 4 + PATH_LEN];
            key[..4].copy_from_slice(&((prefix.len() * 8) as u32).to_ne_bytes());
            key[4..4 + prefix.len()].copy_from_slice(prefix.as_bytes());
            let v = (*cls as u32) | if *write_only { class::WRITE_ONLY } else { 0 };
            self.skel
                .maps
                .path_classes
                .update(&key, &v.to_ne_bytes(), MapFlags::ANY)
                .map_err(Error::bpf("path_classes"))?;
        }
        Ok(())
    }

    /// The per-CPU counters of `bpf/sensor.bpf.c` (`STAT_*`), summed over CPUs (the pending bytes:
    /// the largest over CPUs), and the runs the kernel skipped, summed over the attached programs.
    pub fn stats(&self) -> KernelStats {
        let mut out = [0u64; 8];
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
        let [drops, emitted, seen, kills, pending, merged, map_errors, unread] = out;
        let missed_runs = self
            .skel
            .object()
            .progs()
            .filter(|p| self.attached.iter().any(|a| p.name().to_str() == Some(a)))
            .filter_map(|p| recursion_misses(p.as_fd()))
            .sum();
        KernelStats {
            drops,
            emitted,
            seen,
            kills,
            pending,
            merged,
            map_errors,
            unread,
            missed_runs,
        }
    }

    /// Runs the effects' task iterator once (bpf/sensor.bpf.c, `effects_sweep`): every task
    /// with a baseline is compared with it; changes go to the ring buffer as events.
    pub fn sweep_effects(&self) {
        use std::io::Read;
        if let Some(link) = &self.sweep {
            if let Ok(mut it) = libbpf_rs::Iter::new(link) {
                let mut sink = [0u8; 64];
                while matches!(it.read(&mut sink), Ok(n) if n > 0) {}
            }
        }
    }

    /// Turns on the reactive kill for these event kinds in enforced containers.
    pub fn set_kill_mask(&mut self, mask: u64) {
        if let Some(bss) = self.skel.maps.bss_data.as_deref_mut() {
            bss.kill_mask = mask;
        }
    }

    /// Marks a container's cgroup2 directory as enforced (reactive kills apply to its tasks).
    pub fn enforce_cgroup(&self, id: u64) -> Result<(), Error> {
        self.skel
            .maps
            .enforced_cgroups
            .update(&id.to_ne_bytes(), &1u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(Error::bpf("enforced_cgroups"))
    }

    /// Marks a container's mount namespace as enforced (reactive kills apply to it).
    pub fn enforce_mntns(&self, mntns: u32) -> Result<(), Error> {
        self.skel
            .maps
            .enforced_mntns
            .update(&mntns.to_ne_bytes(), &1u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(Error::bpf("enforced_mntns"))
    }
}

/// Rules the lean tier (`--syscall-hooks none`) misses in part or in whole, with what it misses:
/// the `[rule.watch]` entries of the catalogue (`lean = "partial"` or `"none"`). docs/rules.md
/// and `stockade explain ID` show the same data; tests/behaviours.rs checks its lean triggers
/// against it.
pub fn lean_uncovered() -> Vec<(&'static str, &'static str)> {
    policy::catalogue::catalogue()
        .rules()
        .iter()
        .filter_map(|r| {
            let w = r.watch.as_ref()?;
            (w.lean != policy::catalogue::LeanCoverage::Full)
                .then(|| (r.id.as_str(), w.lean_misses.as_deref().unwrap_or("")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_shortcuts_agree_with_the_path_classes() {
        // handle_open returns early for "/dev/null" without the trie: it must be ignored there
        assert!(PATH_CLASSES.contains(&("/dev/null", class::IGNORE, false)));
        // and for paths whose second byte starts no class
        let set = class_second_bytes();
        let has = |b: u8| set[usize::from(b >> 6)] >> (b & 63) & 1 == 1;
        for (p, _, _) in PATH_CLASSES {
            assert!(p.starts_with('/') && has(p.as_bytes()[1]), "{p}");
        }
        assert!(has(b'p'), "/proc/<pid>/... classes");
        assert!(!has(b'u') && !has(b'h'), "/usr, /home: no class");
    }
}
