//! The `stockade watch` main loop.

use crate::attrib::{Attributor, Container, Owner};
use crate::behaviour::{self, HostFacts};
use crate::cli::{OutputFormat, SyscallHooks, WatchArgs};
use crate::config::RulesFile;
use crate::enforce::Enforcer;
use crate::event::{kind, KernelVerdict, RawEvent};
use crate::metrics::{self, Metrics};
use crate::output::{self, Guard, Namespaces, ProcessOut, Record, Sink, Verdict};
use crate::probe::{Probe, Tier};
use crate::proctree::ProcTree;
use crate::sensor::Sensor;
use crate::Error;
use libbpf_rs::RingBufferBuilder;
use std::cell::RefCell;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Event kinds the reactive tier kills in enforced containers: actions with no cgroup-BPF
/// control and no legitimate use inside a workload container.
const KILL_KINDS: &[u32] = &[
    kind::MOUNT,
    kind::NEWMOUNT,
    kind::SETNS,
    kind::PTRACE,
    kind::PVM_WRITEV,
    kind::MODULE,
    kind::OPEN_BY_HANDLE,
    kind::BPF,
    // Rare socket families: no cgroup hook sees them (`cgroup/sock_create` runs only for
    // AF_INET/AF_INET6), and BPF-LSM's socket_create is not among our LSM programs.
    kind::SOCKET,
];

fn ns_of_self(ns: &str) -> u32 {
    std::fs::read_link(format!("/proc/self/ns/{ns}"))
        .ok()
        .and_then(|l| behaviour::ns_inode(&l.to_string_lossy()))
        .unwrap_or(0)
}

fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

/// libbpf and tracepoint attach need tracefs; mount it when it is missing (root only).
fn ensure_tracefs() -> Option<String> {
    if std::path::Path::new("/sys/kernel/tracing/events").exists()
        || std::path::Path::new("/sys/kernel/debug/tracing/events").exists()
    {
        return None;
    }
    // SAFETY: constant NUL-terminated strings; mount(2) does not keep the pointers.
    let rc = unsafe {
        libc::mount(
            c"tracefs".as_ptr(),
            c"/sys/kernel/tracing".as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    Some(if rc == 0 {
        "mounted tracefs at /sys/kernel/tracing".into()
    } else {
        format!(
            "tracefs is not mounted and mounting it failed ({}); syscall tracepoints will not attach",
            std::io::Error::last_os_error()
        )
    })
}

/// Every process whose mount namespace is not the host's, attributed: for enforcement of
/// containers that started before `watch`.
fn scan_containers(attrib: &Attributor, host_mntns: u32) -> Vec<(Container, u32, u32)> {
    let mut out: Vec<(Container, u32, u32)> = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Some(mnt) = std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
            .ok()
            .and_then(|l| behaviour::ns_inode(&l.to_string_lossy()))
        else {
            continue;
        };
        if mnt == host_mntns {
            continue;
        }
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let path = cg
            .lines()
            .find(|l| {
                l.split(':')
                    .nth(1)
                    .is_some_and(|c| c.split(',').any(|c| c == "pids"))
            })
            .or_else(|| cg.lines().find(|l| l.starts_with("0::")))
            .and_then(|l| l.splitn(3, ':').nth(2))
            .unwrap_or("/");
        let mut parts = path.rsplit('/');
        let leaf = parts.next().unwrap_or("");
        let parent = parts.next().unwrap_or("");
        let grand = parts.next().unwrap_or("");
        if let Owner::Container(c) = attrib.resolve(leaf, parent, grand, mnt) {
            if !out.iter().any(|(o, _, _)| o == &c) {
                out.push((c, pid, mnt));
            }
        }
    }
    out
}

/// The container whose root directory holds the file a usermode helper executed (SKD-RUN-043):
/// the helper runs in the host's namespaces, so its own cgroups and namespaces name no container.
/// The file's path is the host's view: `/proc/<pid>/root/...` (through a container process), a
/// path inside a container's root directory (a runc bundle's rootfs, an overlay's merged
/// directory), or inside the upper directory of an overlay mounted on the host (the path the
/// classic release_agent escape reads from /etc/mtab). Each directory on the path, and the mount
/// point of each host overlay whose upper directory holds the file, is compared (device and
/// inode) with the root directory of each running container.
fn helper_owner(attrib: &Attributor, host_mntns: u32, path: &str) -> Option<Container> {
    use std::os::unix::fs::MetadataExt;
    let id = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let mut dirs: Vec<(u64, u64)> = std::path::Path::new(path)
        .ancestors()
        .skip(1)
        .filter(|a| a.as_os_str().len() > 1)
        .filter_map(id)
        .collect();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let mut f = post.split(' ');
        if f.next() != Some("overlay") {
            continue;
        }
        let opts = f.nth(1).unwrap_or("");
        let upper = opts.split(',').find_map(|o| o.strip_prefix("upperdir="));
        if upper.is_some_and(|u| path.starts_with(&format!("{u}/"))) {
            if let Some(mp) = pre.split(' ').nth(4) {
                dirs.extend(id(std::path::Path::new(&mp.replace("\\040", " "))));
            }
        }
    }
    if dirs.is_empty() {
        return None;
    }
    let running = scan_containers(attrib, host_mntns);
    // `/proc/<pid>/root/...` names the process whose root it is: its container (by mount
    // namespace) is the owner, even when other containers were started from the same root
    // directory (plain runtime bundles may share one rootfs).
    let via_pid = path
        .strip_prefix("/proc/")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(_, rest)| rest.starts_with("root/"))
        .and_then(|(pid, _)| std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok())
        .and_then(|l| behaviour::ns_inode(&l.to_string_lossy()));
    if let Some(mnt) = via_pid {
        if let Some((c, _, _)) = running.iter().find(|(_, _, m)| *m == mnt) {
            return Some(c.clone());
        }
    }
    running
        .into_iter()
        .find(|(_, pid, _)| {
            id(std::path::Path::new(&format!("/proc/{pid}/root")))
                .is_some_and(|r| dirs.contains(&r))
        })
        .map(|(c, _, _)| c)
}

/// (tgid, kind, args, path) of a denial, to fold repeats of one refused action.
type DenialKey = (u32, u32, [u64; 6], String);

struct State {
    args: WatchArgs,
    rules: RulesFile,
    sink: Sink,
    attrib: Attributor,
    tree: ProcTree,
    host: HostFacts,
    metrics: Arc<Metrics>,
    enforcer: Option<Enforcer>,
    sensor: Option<Sensor>,
    recent_denials: Vec<(DenialKey, Instant)>,
    ns_pids: std::collections::HashMap<u32, Vec<u32>>,
    host_mntns: u32,
}

impl State {
    fn selected(&self, c: &Container) -> bool {
        self.args.containers.is_empty()
            || self
                .args
                .containers
                .iter()
                .any(|p| c.id.starts_with(p.as_str()))
    }

    fn enforce(&mut self, c: &Container, pid: u32, mntns: u32) {
        if !self.selected(c) {
            return;
        }
        let Some(enf) = self.enforcer.as_mut() else {
            return;
        };
        if enf.is_enforced(c) {
            return;
        }
        match enf.add(c, pid) {
            Ok((dir, cgid)) => {
                if let Some(s) = &self.sensor {
                    if let Err(e) = s.enforce_mntns(mntns).and_then(|()| s.enforce_cgroup(cgid)) {
                        eprintln!("stockade watch: reactive tier for {}: {e}", c.id);
                    }
                }
                self.metrics
                    .containers_enforced
                    .store(enf.count() as u64, Ordering::Relaxed);
                eprintln!(
                    "stockade watch: enforcing on container {} ({}): cgroup BPF dev+sysctl on {}{}",
                    c.id,
                    c.runtime,
                    dir.display(),
                    if enf.lsm.is_some() {
                        ", BPF-LSM scoped to it"
                    } else {
                        ""
                    }
                );
            }
            Err(e) => eprintln!("stockade watch: cannot enforce on container {}: {e}", c.id),
        }
    }

    /// Is this sensor event one that the container's cgroup BPF programs deny (and report)?
    fn cgroup_bpf_covers(&self, c: &Container, ev: &RawEvent) -> bool {
        let Some(enf) = &self.enforcer else {
            return false;
        };
        if !enf.is_enforced(c) {
            return false;
        }
        use crate::event::class;
        match ev.kind {
            // cgroup/dev denies every block device and all but the standard character devices
            kind::MKNOD => {
                let dev = ev.args[1];
                let (major, minor) = ((dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00));
                let block = ev.args[0] & 0o170000 == 0o060000;
                block
                    || !matches!(
                        (major, minor),
                        (1, 3) | (1, 5) | (1, 7) | (1, 8) | (1, 9) | (5, 0) | (5, 2)
                    ) && major != 136
            }
            kind::DEV => true,
            kind::OPEN => match ev.args[1] {
                class::CORE_PATTERN => true,
                class::ESCAPE_SYSCTL => ev.path.starts_with("/proc/sys/kernel/"),
                class::DEVICE => {
                    ev.path != "/dev/mem" && ev.path != "/dev/kmem" && ev.path != "/dev/port"
                }
                _ => false,
            },
            _ => false,
        }
    }

    fn handle(&mut self, ev: RawEvent) {
        if ev.kind == kind::EXEC {
            self.tree.exec(ev.tgid, ev.ppid, &ev.comm, &ev.path);
        }
        let denial = ev.kind >= kind::DENY_DEV;
        // A container runtime building a container (decided in the kernel by what the task
        // executed, not by its name: bpf/sensor.bpf.c, setup_tasks).
        if !denial && ev.setup {
            return;
        }
        let container = if denial {
            match self
                .enforcer
                .as_ref()
                .and_then(|e| e.by_cgroup.get(&ev.cgroup_id))
            {
                Some(c) => c.clone(),
                None => Container {
                    id: format!("cgroup:{}", ev.cgroup_id),
                    runtime: "unknown".into(),
                    pod: None,
                    cgroup_v1_leaf: String::new(),
                },
            }
        } else {
            let owner = if ev.kind == kind::UMH {
                helper_owner(&self.attrib, self.host_mntns, &ev.path)
                    .map_or(Owner::Host, Owner::Container)
            } else {
                self.attrib.attribute(&ev)
            };
            match owner {
                Owner::Container(c) => {
                    if !self.selected(&c) {
                        return;
                    }
                    if self.args.enforce {
                        self.enforce(&c, ev.tgid, ev.mntns);
                    }
                    c
                }
                Owner::Host => {
                    self.metrics
                        .host_events_suppressed
                        .fetch_add(1, Ordering::Relaxed);
                    if !self.args.include_host {
                        return;
                    }
                    Container {
                        id: "host".into(),
                        runtime: "host".into(),
                        pod: None,
                        cgroup_v1_leaf: String::new(),
                    }
                }
            }
        };
        if self.ns_pids.len() > 10_000 {
            self.ns_pids.clear();
        }
        let pids = self.ns_pids.entry(ev.mntns).or_default();
        if !pids.contains(&ev.tgid) {
            if pids.len() >= 8 {
                pids.remove(1); // keep the first (usually the container's init)
            }
            pids.push(ev.tgid);
        }
        let same_ns = pids.clone();
        let Some(det) = behaviour::classify(&ev, &self.host, &same_ns) else {
            return;
        };
        if !denial && self.cgroup_bpf_covers(&container, &ev) {
            // The cgroup program denies this action and reports it itself: one record, "denied".
            return;
        }
        if denial {
            let key = (ev.tgid, ev.kind, ev.args, ev.path.clone());
            let now = Instant::now();
            self.recent_denials
                .retain(|(_, t)| now.duration_since(*t) < Duration::from_secs(1));
            if self.recent_denials.iter().any(|(k, _)| k == &key) {
                return;
            }
            self.recent_denials.push((key, now));
        }
        if !self.rules.enabled(det.rule.as_str()) {
            return;
        }
        let (title, default_sev) = match policy::catalogue::catalogue().find(det.rule.as_str()) {
            Some(r) => (r.title.clone(), r.severity),
            None => (det.behaviour.to_string(), policy::catalogue::Severity::High),
        };
        let verdict = match ev.verdict {
            KernelVerdict::Allowed => Verdict::Alerted,
            KernelVerdict::Killed => Verdict::Killed,
            KernelVerdict::Denied => Verdict::Denied,
        };
        let (exe, parents) = self.tree.lineage(ev.tgid, ev.ppid, 6);
        let exe = if ev.kind == kind::EXEC {
            Some(ev.path.clone())
        } else {
            exe
        };
        let rec = Record {
            schema: output::SCHEMA,
            time: output::rfc3339(ev.ts_boot_ns as i128 + self.host.boot_to_real_ns),
            rule: det.rule.to_string(),
            title,
            severity: self.rules.severity(det.rule.as_str(), default_sev),
            behaviour: det.behaviour.to_string(),
            container,
            process: ProcessOut {
                pid: ev.tgid,
                tid: ev.tid,
                vpid: ev.vpid,
                comm: ev.comm.clone(),
                exe,
                uid: ev.uid,
                euid: ev.euid,
                cap_eff: format!("{:#x}", ev.cap_eff),
                parents,
            },
            args: det.args,
            verdict,
            namespaces: Namespaces {
                mnt: ev.mntns,
                pid: ev.pidns,
                cgroup2_id: ev.cgroup_id,
            },
        };
        let v = match verdict {
            Verdict::Alerted => "alerted",
            Verdict::Killed => "killed",
            Verdict::Denied => "denied",
        };
        self.metrics.count(det.rule.as_str(), v);
        if let Err(e) = self.sink.write(&rec) {
            output_failed(&e);
        }
    }
}

/// Runs `stockade watch` until it is stopped: exit code 0, or 1 when `--probe` finds nothing
/// usable. Errors are returned, not printed (the binary prints them, `stockade watch: ...`);
/// start-up and status lines go to stderr as the run goes.
pub fn run(args: WatchArgs) -> Result<ExitCode, Error> {
    let probe = Probe::run();
    let tier = probe.tier();
    let sensor_ok = probe.sensor_ok();
    let mode = if args.enforce { "enforce" } else { "detect" };
    eprintln!(
        "stockade watch: tier {} mode={mode}; {}",
        tier.label(),
        probe.summary()
    );
    if args.probe {
        match &sensor_ok {
            Ok(()) => eprintln!("stockade watch: detection: available"),
            Err(e) => eprintln!("stockade watch: detection: unavailable: {e}"),
        }
        return Ok(if tier == Tier::None {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    let rules = match &args.rules {
        Some(p) => RulesFile::load(p)?,
        None => RulesFile::default(),
    };
    let text = match args.format {
        OutputFormat::Text => true,
        OutputFormat::Json => false,
        OutputFormat::Auto => args.output.is_none() && std::io::stdout().is_terminal(),
    };
    // The output is guarded (output.rs): after a failed write nothing more
    // is written, and a file is cut back to its last whole line.
    let lines = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let writer: Box<dyn std::io::Write + Send> = match &args.output {
        Some(p) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            Ok(f) => {
                let handle = f.try_clone().ok();
                Box::new(std::io::BufWriter::with_capacity(
                    1 << 20,
                    Guard::new(f, handle, lines.clone()),
                ))
            }
            Err(source) => {
                return Err(Error::Output {
                    path: p.clone(),
                    source,
                })
            }
        },
        None => Box::new(std::io::BufWriter::with_capacity(
            1 << 20,
            Guard::new(std::io::stdout(), None, lines.clone()),
        )),
    };
    let sink = if text {
        Sink::text(writer)
    } else {
        Sink::json_counted(writer, lines)
    };
    let metrics = Arc::new(Metrics::default());
    if let Some(addr) = args.metrics {
        match metrics::serve(addr, metrics.clone()) {
            Ok(a) => eprintln!("stockade watch: metrics at http://{a}/metrics"),
            Err(source) => return Err(Error::Metrics { addr, source }),
        }
    }
    libbpf_rs::set_print(Some((libbpf_rs::PrintLevel::Warn, |_lvl, msg| {
        if std::env::var_os("STOCKADE_WATCH_DEBUG").is_some() {
            eprint!("libbpf: {msg}");
        }
    })));
    if let Some(m) = ensure_tracefs() {
        eprintln!("stockade watch: {m}");
    }
    let host_mntns = ns_of_self("mnt");
    let host_pidns = ns_of_self("pid");
    let host = HostFacts {
        pidns: host_pidns,
        boot_to_real_ns: clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_BOOTTIME),
        cap_bnd: std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("CapBnd:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(u64::MAX),
        // SAFETY: sysconf has no preconditions.
        clk_tck: unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64,
    };

    let mut sensor = None;
    match &sensor_ok {
        Ok(()) => match load_sensor(&probe, host_mntns, host_pidns, &args) {
            Ok((s, hooks)) => {
                eprintln!(
                    "stockade watch: detection: {} programs attached (syscall hooks: {}){}",
                    s.attached.len(),
                    hooks.name(),
                    if s.missing.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; not attached: {}",
                            s.missing
                                .iter()
                                .map(|(n, e)| format!("{n} ({})", e.lines().next().unwrap_or("")))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                );
                if hooks == SyscallHooks::None {
                    eprintln!(
                        "stockade watch: lean tier (--syscall-hooks none): not covered: {}",
                        crate::sensor::lean_uncovered()
                            .iter()
                            .map(|(rule, what)| format!("{rule} {what}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                sensor = Some(s);
            }
            Err(e) => eprintln!("stockade watch: detection unavailable: {e}"),
        },
        Err(e) => eprintln!(
            "stockade watch: detection unavailable: {e}; {}",
            if args.enforce && tier != Tier::None {
                "enforcement through cgroup BPF still works (containers found by scanning /proc)"
            } else if tier != Tier::None {
                "with --enforce, cgroup BPF enforcement would still work"
            } else {
                "nothing can run"
            }
        ),
    }

    let mut enforcer = None;
    if args.enforce {
        match (&probe.cgroup2, tier) {
            (_, Tier::None) => eprintln!("stockade watch: enforcement unavailable: not privileged"),
            (Some(cg2), _) => match Enforcer::load(cg2.clone(), tier == Tier::Lsm) {
                Ok((e, lsm_err)) => {
                    if let Some(err) = lsm_err {
                        eprintln!("stockade watch: BPF-LSM tier unavailable ({err}); using cgroup BPF");
                    }
                    enforcer = Some(e);
                }
                Err(e) => eprintln!("stockade watch: cgroup BPF enforcement unavailable: {e}"),
            },
            (None, _) => eprintln!(
                "stockade watch: no cgroup2 mount: cgroup BPF enforcement unavailable; reactive kill only"
            ),
        }
        if let Some(s) = sensor.as_mut() {
            s.set_kill_mask(KILL_KINDS.iter().fold(0u64, |m, k| m | (1 << k)));
        }
    }
    if sensor.is_none() && enforcer.is_none() {
        return Err(Error::NothingToDo);
    }

    // SAFETY: installing an async-signal-safe handler that only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }

    let attrib = Attributor::new(
        args.runc_roots.clone(),
        args.stockade_roots.clone(),
        host_mntns,
    );
    let mut st = State {
        args: args.clone(),
        rules,
        sink,
        attrib,
        tree: ProcTree::default(),
        host,
        metrics: metrics.clone(),
        enforcer,
        sensor,
        recent_denials: Vec::new(),
        ns_pids: std::collections::HashMap::new(),
        host_mntns,
    };
    for dir in &args.cgroups {
        let Some(enf) = st.enforcer.as_mut() else {
            return Err(Error::CgroupNeedsEnforce(dir.clone()));
        };
        let c = Container {
            id: format!("cgroup:{}", dir.display()),
            runtime: "cgroup".into(),
            pod: None,
            cgroup_v1_leaf: String::new(),
        };
        match enf.add_dir(&c, dir) {
            Ok(id) => {
                if let Some(s) = &st.sensor {
                    let _ = s.enforce_cgroup(id);
                }
                eprintln!(
                    "stockade watch: enforcing on cgroup {}{}",
                    dir.display(),
                    if enf.lsm.is_some() {
                        " (BPF-LSM and cgroup BPF)"
                    } else {
                        " (cgroup BPF)"
                    }
                );
            }
            Err(e) => {
                return Err(Error::Cgroup {
                    dir: dir.clone(),
                    source: Box::new(e),
                })
            }
        }
    }
    if st.enforcer.is_some() {
        for (c, pid, mnt) in scan_containers(&st.attrib, host_mntns) {
            st.enforce(&c, pid, mnt);
        }
    }

    let queue: Rc<RefCell<Vec<RawEvent>>> = Rc::new(RefCell::new(Vec::new()));
    let started = Instant::now();
    let deadline = args.duration.map(Duration::from_secs_f64);
    let mut last_stats = Instant::now();
    let mut last_scan = Instant::now();
    let mut reported_lost = 0u64;

    // The ring buffers borrow the skeletons; build them in a scope that ends before teardown.
    {
        let mut builder = RingBufferBuilder::new();
        let q1 = queue.clone();
        let q2 = queue.clone();
        let q3 = queue.clone();
        let push = |q: Rc<RefCell<Vec<RawEvent>>>| {
            let m = metrics.clone();
            move |data: &[u8]| {
                match RawEvent::decode(data) {
                    Some(ev) => q.borrow_mut().push(ev),
                    None => {
                        m.undecodable.fetch_add(1, Ordering::Relaxed);
                    }
                }
                0
            }
        };
        let sensor_ref = st.sensor.as_ref().map(|s| &s.skel.maps.events);
        if let Some(m) = sensor_ref {
            if let Err(e) = builder.add(m, push(q1)) {
                eprintln!("stockade watch: ring buffer: {e}");
            }
        }
        if let Some(enf) = st.enforcer.as_ref() {
            let _ = builder.add(&enf.cg.maps.deny_events, push(q2));
            if let Some((lsm, _)) = &enf.lsm {
                let _ = builder.add(&lsm.maps.lsm_events, push(q3));
            }
        }
        let rb = match builder.build() {
            Ok(rb) => rb,
            Err(e) => return Err(Error::RingBuffer(e)),
        };
        eprintln!("stockade watch: running");
        while !STOP.load(Ordering::SeqCst) {
            if let Some(d) = deadline {
                if started.elapsed() >= d {
                    break;
                }
            }
            let _ = rb.poll(Duration::from_millis(50));
            // wake-ups are batched: drain whatever is pending even after a timeout
            let _ = rb.consume();
            let batch: Vec<RawEvent> = std::mem::take(&mut *queue.borrow_mut());
            // Safe to use st mutably here: the ring buffer holds only shared borrows of maps.
            let had_events = !batch.is_empty();
            for ev in batch {
                st_handle(&mut st, ev);
            }
            // one write per batch, not per event; a batch is at most one poll interval old
            if had_events {
                if let Err(e) = st.sink.flush() {
                    output_failed(&e);
                }
            }
            if last_stats.elapsed() >= Duration::from_secs(1) {
                last_stats = Instant::now();
                if let Some(s) = st.sensor.as_ref() {
                    s.sweep_effects();
                }
                let lost = update_stats(&st, &metrics);
                if lost > reported_lost {
                    eprintln!(
                        "stockade watch: {lost} events lost or calls not examined so far ({})",
                        stats_line(&metrics)
                    );
                    reported_lost = lost;
                }
                if args.stats_interval > 0 && started.elapsed().as_secs() % args.stats_interval == 0
                {
                    eprintln!("stockade watch: {}", stats_line(&metrics));
                }
            }
            if st.enforcer.is_some() && last_scan.elapsed() >= Duration::from_secs(2) {
                last_scan = Instant::now();
                for (c, pid, mnt) in scan_containers(&st.attrib, host_mntns) {
                    st.enforce(&c, pid, mnt);
                }
                if let Some(e) = st.enforcer.as_mut() {
                    e.prune();
                }
            }
        }
        let _ = rb.consume();
        let batch: Vec<RawEvent> = std::mem::take(&mut *queue.borrow_mut());
        for ev in batch {
            st_handle(&mut st, ev);
        }
    }
    if let Err(e) = st.sink.flush() {
        output_failed(&e);
    }
    update_stats(&st, &metrics);
    eprintln!("stockade watch: stopped; {}", stats_line(&metrics));
    if let Some(e) = st.sink.error() {
        return Err(Error::OutputFailed {
            source: std::io::Error::new(e.kind(), e.to_string()),
            lost: st.sink.lost(),
        });
    }
    Ok(ExitCode::SUCCESS)
}

/// An output error is fatal: said once, and the loop stops (the exit code
/// and the count of lost events follow at the end of `run`).
fn output_failed(e: &std::io::Error) {
    if !STOP.swap(true, Ordering::SeqCst) {
        eprintln!("stockade watch: error: writing events: {e}; stopping");
    }
}

fn st_handle(st: &mut State, ev: RawEvent) {
    st.handle(ev);
}

/// Copies the kernel counters into the metrics; returns the events lost so far (ring-buffer
/// drops, skipped program runs, failed map operations, unreadable paths, undecodable records).
fn update_stats(st: &State, m: &Metrics) -> u64 {
    let (deny_drops, lsm_missed) = st.enforcer.as_ref().map_or((0, 0), |e| e.lost());
    let k = st.sensor.as_ref().map(|s| s.stats()).unwrap_or_default();
    m.ringbuf_pending_bytes.store(k.pending, Ordering::Relaxed);
    m.drops.store(k.drops + deny_drops, Ordering::Relaxed);
    m.kernel_events.store(k.emitted, Ordering::Relaxed);
    m.container_syscalls.store(k.seen, Ordering::Relaxed);
    m.kills.store(k.kills, Ordering::Relaxed);
    m.missed_runs
        .store(k.missed_runs + lsm_missed, Ordering::Relaxed);
    m.merged.store(k.merged, Ordering::Relaxed);
    m.map_errors.store(k.map_errors, Ordering::Relaxed);
    m.unread_paths.store(k.unread, Ordering::Relaxed);
    m.output_lost.store(st.sink.lost(), Ordering::Relaxed);
    if st.sensor.is_some() {
        m.ringbuf_size_bytes
            .store(16 * 1024 * 1024, Ordering::Relaxed);
    }
    lost(m)
}

fn lost(m: &Metrics) -> u64 {
    m.drops.load(Ordering::Relaxed)
        + m.missed_runs.load(Ordering::Relaxed)
        + m.map_errors.load(Ordering::Relaxed)
        + m.unread_paths.load(Ordering::Relaxed)
        + m.undecodable.load(Ordering::Relaxed)
        + m.output_lost.load(Ordering::Relaxed)
}

fn stats_line(m: &Metrics) -> String {
    let reported: u64 = m
        .events_by_rule
        .lock()
        .map(|x| x.values().sum())
        .unwrap_or(0);
    format!(
        "kernel_events={} drops={} missed_runs={} map_errors={} unread_paths={} undecodable={} output_lost={} merged={} reported={} container_syscalls={} kills={} host_suppressed={} containers_enforced={}",
        m.kernel_events.load(Ordering::Relaxed),
        m.drops.load(Ordering::Relaxed),
        m.missed_runs.load(Ordering::Relaxed),
        m.map_errors.load(Ordering::Relaxed),
        m.unread_paths.load(Ordering::Relaxed),
        m.undecodable.load(Ordering::Relaxed),
        m.output_lost.load(Ordering::Relaxed),
        m.merged.load(Ordering::Relaxed),
        reported,
        m.container_syscalls.load(Ordering::Relaxed),
        m.kills.load(Ordering::Relaxed),
        m.host_events_suppressed.load(Ordering::Relaxed),
        m.containers_enforced.load(Ordering::Relaxed),
    )
}

/// Loads the sensor with the chosen syscall hooks. The lean tier needs the capability:cap_capable
/// tracepoint (Linux 6.x); without it, detection falls back to the dispatcher, saying why.
fn load_sensor(
    probe: &Probe,
    host_mntns: u32,
    host_pidns: u32,
    args: &WatchArgs,
) -> Result<(Sensor, SyscallHooks), Error> {
    let wakeup = args.wakeup_kib * 1024;
    let hooks = args.syscall_hooks;
    let lean = match Sensor::load(
        probe,
        host_mntns,
        host_pidns,
        wakeup,
        hooks,
        args.lean_devices,
    ) {
        Ok(s) if hooks != SyscallHooks::None => return Ok((s, hooks)),
        Ok(s) => match s.missing.iter().find(|(n, _)| n == "cap_capable") {
            None => return Ok((s, hooks)),
            Some((n, e)) => format!("{n} not attached: {}", e.lines().next().unwrap_or("")),
        },
        Err(e) if hooks == SyscallHooks::None => {
            e.to_string().lines().next().unwrap_or("").to_string()
        }
        Err(e) => return Err(e),
    };
    eprintln!(
        "stockade watch: lean tier unavailable (it needs the capability:cap_capable tracepoint, \
         Linux 6.x): {lean}; falling back to --syscall-hooks dispatcher (every syscall pays the \
         tracing slow path)"
    );
    let s = Sensor::load(
        probe,
        host_mntns,
        host_pidns,
        wakeup,
        SyscallHooks::Dispatcher,
        false,
    )?;
    Ok((s, SyscallHooks::Dispatcher))
}
