//! The probe's own security context (from /proc/self/status and uid_map), used to attribute an
//! errno to the layer that produced it.

use crate::outcome::Layer;

/// Capability numbers (linux/capability.h) the battery cares about.
pub mod cap {
    pub const DAC_READ_SEARCH: u32 = 2;
    pub const NET_ADMIN: u32 = 12;
    pub const NET_RAW: u32 = 13;
    pub const SYS_MODULE: u32 = 16;
    pub const SYS_RAWIO: u32 = 17;
    pub const SYS_CHROOT: u32 = 18;
    pub const SYS_PTRACE: u32 = 19;
    pub const SYS_ADMIN: u32 = 21;
    pub const SYS_BOOT: u32 = 22;
    pub const SYS_RESOURCE: u32 = 24;
    pub const MKNOD: u32 = 27;
    pub const SYSLOG: u32 = 34;
    pub const PERFMON: u32 = 38;
    pub const BPF: u32 = 39;

    /// (number, name) of every capability up to CAP_CHECKPOINT_RESTORE.
    pub const NAMES: [&str; 41] = [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ];

    pub fn name(c: u32) -> &'static str {
        NAMES.get(c as usize).copied().unwrap_or("?")
    }
}

/// What the probe found out about one refused open(2), to tell the layers apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenFacts {
    /// The errno of the same open (same flags) of `/dev/null`: equal to the refusal's errno, the
    /// syscall itself is refused (a seccomp filter); `None`, the open reached the kernel.
    pub control_errno: Option<i32>,
    /// The target's owner as seen from here (`stat`).
    pub owner: Option<u32>,
    /// The overflow uid (`/proc/sys/kernel/overflowuid`): what a host uid outside our user
    /// namespace's mapping shows up as.
    pub overflow_uid: u32,
}

/// The probe's security context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcState {
    pub uid: u32,
    pub cap_eff: u64,
    pub cap_bnd: u64,
    /// 0 = off, 1 = strict, 2 = filter.
    pub seccomp: u8,
    pub no_new_privs: bool,
    /// True when uid_map is not the identity map of the initial user namespace.
    pub in_user_ns: bool,
}

impl ProcState {
    /// Read the state of the calling process.
    pub fn current() -> ProcState {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let uid_map = std::fs::read_to_string("/proc/self/uid_map").ok();
        let mut st = ProcState::parse(&status, uid_map.as_deref());
        // SAFETY: geteuid has no preconditions.
        st.uid = unsafe { libc::geteuid() };
        st
    }

    /// Parse /proc/self/status and /proc/self/uid_map text.
    pub fn parse(status: &str, uid_map: Option<&str>) -> ProcState {
        let mut st = ProcState::default();
        for line in status.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim();
            match k {
                "CapEff" => st.cap_eff = u64::from_str_radix(v, 16).unwrap_or(0),
                "CapBnd" => st.cap_bnd = u64::from_str_radix(v, 16).unwrap_or(0),
                "Seccomp" => st.seccomp = v.parse().unwrap_or(0),
                "NoNewPrivs" => st.no_new_privs = v == "1",
                "Uid" => {
                    st.uid = v
                        .split_whitespace()
                        .nth(1)
                        .and_then(|x| x.parse().ok())
                        .unwrap_or(0)
                }
                _ => {}
            }
        }
        st.in_user_ns = match uid_map {
            Some(m) => {
                let f: Vec<&str> = m.split_whitespace().collect();
                !(f.len() == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
            }
            None => false,
        };
        st
    }

    pub fn has_cap(&self, c: u32) -> bool {
        c < 64 && self.cap_eff & (1u64 << c) != 0
    }

    pub fn seccomp_on(&self) -> bool {
        self.seccomp != 0
    }

    /// Names of the effective capabilities.
    pub fn cap_names(&self) -> Vec<&'static str> {
        (0..cap::NAMES.len() as u32)
            .filter(|c| self.has_cap(*c))
            .map(cap::name)
            .collect()
    }

    /// Attribute an errno from an operation gated by `needed` (if any) to a layer.
    ///
    /// EPERM/EACCES: a missing capability explains it (and if a seccomp filter is loaded too,
    /// both could); with the capability present, a loaded seccomp filter is the likely cause; with
    /// neither, a user namespace (capabilities that do not count towards the host) or an LSM.
    /// EROFS is a read-only mount. ENOSYS with a filter loaded is a seccomp ENOSYS stub, else the
    /// kernel lacks the call.
    pub fn attribute(&self, errno: i32, needed: Option<u32>) -> Layer {
        match errno {
            libc::EPERM | libc::EACCES => {
                if let Some(c) = needed {
                    if !self.has_cap(c) {
                        return if self.seccomp_on() {
                            Layer::CapabilityOrSeccomp
                        } else {
                            Layer::Capability
                        };
                    }
                }
                if self.seccomp_on() {
                    Layer::Seccomp
                } else if errno == libc::EACCES && self.uid != 0 {
                    Layer::Dac
                } else if self.in_user_ns {
                    Layer::UserNamespace
                } else if errno == libc::EACCES {
                    Layer::Lsm
                } else {
                    Layer::Unknown
                }
            }
            libc::EROFS => Layer::ReadOnlyMount,
            libc::ENOSYS => {
                if self.seccomp_on() {
                    Layer::Seccomp
                } else {
                    Layer::Kernel
                }
            }
            _ => Layer::Unknown,
        }
    }

    /// Attribute a refused open(2) of a file (EPERM/EACCES), using a control experiment rather
    /// than "a filter is loaded, so it must be the filter": if the same open of `/dev/null`
    /// goes through, the filter let the syscall reach the kernel and the refusal is the file's
    /// permission check. Then a target owned by a host uid outside our user namespace (the
    /// overflow uid, e.g. host root's `/proc/sys` knobs) is the user namespace's doing (our
    /// root's capabilities do not count for it); a non-root uid is plain DAC; root with its
    /// capabilities refused with EACCES is an LSM. Other errnos as [`ProcState::attribute`].
    pub fn attribute_open(&self, errno: i32, f: &OpenFacts) -> Layer {
        if errno != libc::EPERM && errno != libc::EACCES {
            return self.attribute(errno, None);
        }
        if f.control_errno == Some(errno) {
            return self.attribute(errno, None);
        }
        if self.in_user_ns && f.owner == Some(f.overflow_uid) {
            Layer::UserNamespace
        } else if self.uid != 0 {
            Layer::Dac
        } else if errno == libc::EACCES {
            Layer::Lsm
        } else {
            Layer::Unknown
        }
    }
}
