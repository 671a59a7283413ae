//! Start-up probing: what this kernel and this process allow, and the resulting tier.
//!
//! Every check is a real attempt where one is cheap (a ring-buffer map, a two-instruction fentry
//! program), so a vendor kernel that lists a feature but refuses it (as this VM's kernel does for
//! trampolines) is seen as it is. `STOCKADE_BTF_PATH` points BTF elsewhere and
//! `STOCKADE_WATCH_SIMULATE=no-ringbuf,no-trampolines,no-lsm,no-cgroup2` simulates missing
//! features, for the degraded-kernel tests.

use libbpf_rs::libbpf_sys;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Probe {
    pub euid: u32,
    pub cap_bpf: bool,
    pub cap_sys_admin: bool,
    pub cap_perfmon: bool,
    /// Kernel BTF (needed by the CO-RE sensor); Err names what is missing.
    pub btf: Result<PathBuf, String>,
    pub ringbuf: Result<(), String>,
    pub trampolines: Result<(), String>,
    pub lsm_list: String,
    pub lockdown: String,
    /// The cgroup2 mount (hybrid: /sys/fs/cgroup/unified).
    pub cgroup2: Option<PathBuf>,
    pub simulated: Vec<String>,
}

/// What the probe allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// (a) BPF-LSM programs deny before the effect.
    Lsm,
    /// (b) cgroup BPF (device, sysctl) denies; the rest is reactive.
    Cgroup,
    /// (c) detect, and kill after the fact with bpf_send_signal.
    Reactive,
    /// Nothing can be loaded.
    None,
}

impl Tier {
    pub fn label(self) -> &'static str {
        match self {
            Tier::Lsm => "a (BPF-LSM deny)",
            Tier::Cgroup => "b (cgroup BPF deny + reactive kill)",
            Tier::Reactive => "c (reactive kill)",
            Tier::None => "none",
        }
    }
}

fn caps() -> (u32, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mut euid = u32::MAX;
    let mut cap = 0;
    for line in status.lines() {
        if let Some(v) = line.strip_prefix("Uid:") {
            euid = v
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(u32::MAX);
        }
        if let Some(v) = line.strip_prefix("CapEff:") {
            cap = u64::from_str_radix(v.trim(), 16).unwrap_or(0);
        }
    }
    (euid, cap)
}

fn probe_ringbuf() -> Result<(), String> {
    let opts = libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_create_opts>() as _,
        ..Default::default()
    };
    libbpf_rs::MapHandle::create(
        libbpf_rs::MapType::RingBuf,
        Some("skd_probe_rb"),
        0,
        0,
        4096,
        &opts,
    )
    .map(|_| ())
    .map_err(|e| format!("BPF_MAP_TYPE_RINGBUF: {e}"))
}

/// Loads `r0 = 0; exit` as an fentry program on `security_file_open`.
fn probe_fentry() -> Result<(), String> {
    // SAFETY: plain libbpf C calls with valid pointers; the BTF object is freed before return and
    // the program fd closed.
    unsafe {
        let btf = libbpf_sys::btf__load_vmlinux_btf();
        if btf.is_null() {
            return Err("no vmlinux BTF".into());
        }
        let name = c"security_file_open";
        let id = libbpf_sys::btf__find_by_name_kind(btf, name.as_ptr(), libbpf_sys::BTF_KIND_FUNC);
        libbpf_sys::btf__free(btf);
        if id < 0 {
            return Err("security_file_open not in BTF".into());
        }
        let insns: [u64; 2] = [0x0000_0000_0000_00b7, 0x0000_0000_0000_0095];
        let mut opts = libbpf_sys::bpf_prog_load_opts {
            sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
            expected_attach_type: libbpf_sys::BPF_TRACE_FENTRY,
            attach_btf_id: id as u32,
            ..Default::default()
        };
        let fd = libbpf_sys::bpf_prog_load(
            libbpf_sys::BPF_PROG_TYPE_TRACING,
            c"skd_probe".as_ptr(),
            c"GPL".as_ptr(),
            insns.as_ptr().cast(),
            2,
            &mut opts,
        );
        if fd < 0 {
            let err = std::io::Error::from_raw_os_error(-fd);
            return Err(format!("fentry load refused: {err}"));
        }
        libc::close(fd);
        Ok(())
    }
}

/// The LSM list and lockdown mode live in securityfs; mount it when absent (root only).
fn mount_securityfs() {
    if std::path::Path::new("/sys/kernel/security/lsm").exists() {
        return;
    }
    // SAFETY: constant NUL-terminated strings; mount(2) does not keep the pointers.
    unsafe {
        libc::mount(
            c"securityfs".as_ptr(),
            c"/sys/kernel/security".as_ptr(),
            c"securityfs".as_ptr(),
            0,
            std::ptr::null(),
        );
    }
}

fn cgroup2_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    let mut found = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() > 2 && f[2] == "cgroup2" {
            let p = PathBuf::from(f[1]);
            // prefer /sys/fs/cgroup (pure v2) over any other
            if found.is_none() || p == std::path::Path::new("/sys/fs/cgroup") {
                found = Some(p);
            }
        }
    }
    found
}

impl Probe {
    pub fn run() -> Probe {
        let simulate: Vec<String> = std::env::var("STOCKADE_WATCH_SIMULATE")
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let sim = |what: &str| simulate.iter().any(|s| s == what);
        let (euid, cap) = caps();
        let btf_path = std::env::var_os("STOCKADE_BTF_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/sys/kernel/btf/vmlinux"));
        let btf = if btf_path.is_file() {
            Ok(btf_path)
        } else {
            Err(format!("no kernel BTF at {}", btf_path.display()))
        };
        let privileged = cap & (1 << 39) != 0 || cap & (1 << 21) != 0;
        let ringbuf = if sim("no-ringbuf") {
            Err("ring buffer unavailable (simulated)".into())
        } else if !privileged {
            Err("not permitted (needs CAP_BPF or CAP_SYS_ADMIN)".into())
        } else {
            probe_ringbuf()
        };
        let trampolines = if sim("no-trampolines") {
            Err("trampolines unavailable (simulated)".into())
        } else if !privileged || btf.is_err() {
            Err("not probed (needs BTF and CAP_BPF)".into())
        } else {
            probe_fentry()
        };
        mount_securityfs();
        let lsm_list = if sim("no-lsm") {
            String::new()
        } else {
            std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default()
        };
        let lockdown = std::fs::read_to_string("/sys/kernel/security/lockdown")
            .ok()
            .and_then(|s| {
                let a = s.find('[')?;
                let b = s.find(']')?;
                Some(s[a + 1..b].to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let cgroup2 = if sim("no-cgroup2") {
            None
        } else {
            cgroup2_mount()
        };
        Probe {
            euid,
            cap_bpf: cap & (1 << 39) != 0,
            cap_sys_admin: cap & (1 << 21) != 0,
            cap_perfmon: cap & (1 << 38) != 0,
            btf,
            ringbuf,
            trampolines,
            lsm_list: lsm_list.trim().to_string(),
            lockdown,
            cgroup2,
            simulated: simulate,
        }
    }

    pub fn bpf_lsm_active(&self) -> bool {
        self.lsm_list.split(',').any(|l| l == "bpf")
    }

    /// Can the detection sensor run at all? Err names what is missing.
    pub fn sensor_ok(&self) -> Result<(), String> {
        if !(self.cap_bpf || self.cap_sys_admin) {
            return Err(format!(
                "not privileged (euid {}, no CAP_BPF/CAP_SYS_ADMIN): BPF programs cannot be loaded",
                self.euid
            ));
        }
        if let Err(e) = &self.btf {
            return Err(format!("{e}: the CO-RE sensor needs kernel BTF"));
        }
        if let Err(e) = &self.ringbuf {
            return Err(format!("{e}: the sensor reports through a BPF ring buffer"));
        }
        if self.lockdown == "confidentiality" {
            return Err("lockdown=confidentiality forbids reading kernel memory from BPF".into());
        }
        Ok(())
    }

    pub fn tier(&self) -> Tier {
        if !(self.cap_bpf || self.cap_sys_admin) {
            return Tier::None;
        }
        if self.trampolines.is_ok() && self.bpf_lsm_active() {
            Tier::Lsm
        } else if self.cgroup2.is_some() {
            Tier::Cgroup
        } else if self.sensor_ok().is_ok() {
            Tier::Reactive
        } else {
            Tier::None
        }
    }

    /// One line: every feature and its state.
    pub fn summary(&self) -> String {
        let ok = |r: &Result<(), String>| match r {
            Ok(()) => "yes".to_string(),
            Err(e) => format!("no ({e})"),
        };
        format!(
            "euid={} cap_bpf={} cap_sys_admin={} btf={} ringbuf={} trampolines={} bpf_lsm={} lockdown={} cgroup2={}{}",
            self.euid,
            self.cap_bpf,
            self.cap_sys_admin,
            match &self.btf {
                Ok(p) => format!("yes ({})", p.display()),
                Err(e) => format!("no ({e})"),
            },
            ok(&self.ringbuf),
            ok(&self.trampolines),
            if self.bpf_lsm_active() { "listed" } else { "absent" },
            self.lockdown,
            self.cgroup2
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none".into()),
            if self.simulated.is_empty() {
                String::new()
            } else {
                format!(" simulated={}", self.simulated.join(","))
            }
        )
    }
}
