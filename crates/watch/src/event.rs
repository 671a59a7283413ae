//! Kernel events: the raw record from the ring buffers, decoded into owned Rust values.

use crate::bpf::types;

/// Event kinds; the values match `enum event_kind` in `bpf/sensor.h`.
pub mod kind {
    pub const OPEN: u32 = 1;
    pub const MOUNT: u32 = 2;
    pub const NEWMOUNT: u32 = 3;
    pub const MKNOD: u32 = 4;
    pub const SETNS: u32 = 5;
    pub const USERNS: u32 = 6;
    pub const PTRACE: u32 = 7;
    pub const PVM_WRITEV: u32 = 8;
    pub const MODULE: u32 = 9;
    pub const SOCKET: u32 = 10;
    pub const BPF: u32 = 11;
    pub const PERF: u32 = 12;
    pub const OPEN_BY_HANDLE: u32 = 13;
    pub const USERFAULTFD: u32 = 14;
    pub const IO_URING: u32 = 15;
    pub const CONNECT: u32 = 16;
    pub const LINK: u32 = 17;
    pub const CHMOD: u32 = 18;
    pub const SETUID: u32 = 19;
    pub const CWD_OUTSIDE: u32 = 20;
    pub const EXEC: u32 = 21;
    /// Lean tier: a block device opened (report-only `cgroup/dev`), args as `DENY_DEV`.
    pub const DEV: u32 = 22;
    pub const CONNECT4: u32 = 23;
    /// Effects (a container task's baseline, `ctr_tasks`): its mount or network namespace
    /// became the host's.
    pub const NS_HOST: u32 = 24;
    /// Its credentials moved to the initial user namespace, or gained capabilities beyond its
    /// bounding set.
    pub const CRED_ROOT: u32 = 25;
    /// A usermode helper executed (spawned from a kernel thread); `path2` holds its argument
    /// vector, NUL-separated (`args[0]` bytes), see [`super::RawEvent::argv`].
    pub const UMH: u32 = 26;
    /// A write into a pipe whose newest buffer is a file's page-cache page (spliced from the
    /// file): the Dirty Pipe pattern. `args`: fd, the buffer's flags, the file's inode, device,
    /// mode and owner; `path`: its name.
    pub const PIPE_PAGE_WRITE: u32 = 27;
    pub const DENY_DEV: u32 = 40;
    pub const DENY_SYSCTL: u32 = 41;
    // 42 was DENY_SOCKET (a `cgroup/sock_create` program, removed: the kernel runs that hook
    // only for AF_INET and AF_INET6 sockets, so it could never see a rare family).
    pub const DENY_LSM: u32 = 43;
}

/// Path classes of open events; the values match `enum open_class`.
pub mod class {
    pub const RELEASE_AGENT: u64 = 1;
    pub const NOTIFY_ON_RELEASE: u64 = 2;
    pub const CORE_PATTERN: u64 = 3;
    pub const ESCAPE_SYSCTL: u64 = 4;
    pub const DEVICE: u64 = 5;
    pub const PROC_MEM: u64 = 6;
    pub const PROC_FOREIGN: u64 = 7;
    pub const SELF_EXE: u64 = 8;
    pub const K8S_CREDS: u64 = 9;
    pub const RECON: u64 = 10;
    pub const IGNORE: u64 = 11;
    pub const WRITE_ONLY: u32 = 0x100;
}

/// What the kernel did with the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelVerdict {
    Allowed,
    Killed,
    Denied,
}

/// One decoded kernel event.
#[derive(Debug, Clone)]
pub struct RawEvent {
    pub kind: u32,
    pub verdict: KernelVerdict,
    pub ts_boot_ns: u64,
    pub cgroup_id: u64,
    pub reaper_start_ns: u64,
    pub cap_eff: u64,
    pub args: [u64; 6],
    pub tid: u32,
    pub tgid: u32,
    pub ppid: u32,
    pub vpid: u32,
    pub pidns: u32,
    pub mntns: u32,
    pub uid: u32,
    pub euid: u32,
    /// The task was in a container runtime's set-up lineage (`EVF_SETUP`, bpf/sensor.h).
    pub setup: bool,
    pub comm: String,
    pub pcomm: String,
    pub cg_leaf: String,
    pub cg_parent: String,
    pub cg_grand: String,
    pub path: String,
    pub path2: String,
    pub path3: String,
    /// The argument vector of a usermode helper (`kind::UMH`), as far as the kernel copied it.
    pub argv: Vec<String>,
}

fn cstr(b: &[i8]) -> String {
    let bytes: Vec<u8> = b
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl RawEvent {
    /// Decodes one ring-buffer record; `None` when it is too short (never expected).
    pub fn decode(data: &[u8]) -> Option<RawEvent> {
        if data.len() < std::mem::size_of::<types::event>() {
            return None;
        }
        // SAFETY: the record is at least as long as `struct event`, which is plain old data
        // (integers and byte arrays); read_unaligned copes with any alignment.
        let e: types::event = unsafe { std::ptr::read_unaligned(data.as_ptr().cast()) };
        Some(RawEvent {
            kind: e.kind,
            verdict: match e.verdict {
                1 => KernelVerdict::Killed,
                2 => KernelVerdict::Denied,
                _ => KernelVerdict::Allowed,
            },
            ts_boot_ns: e.ts_ns,
            cgroup_id: e.cgroup_id,
            reaper_start_ns: e.reaper_start_ns,
            cap_eff: e.cap_eff,
            args: e.args,
            tid: e.tid,
            tgid: e.tgid,
            ppid: e.ppid,
            vpid: e.vpid,
            pidns: e.pidns,
            mntns: e.mntns,
            uid: e.uid,
            euid: e.euid,
            setup: e.flags & 1 != 0,
            comm: cstr(&e.comm),
            pcomm: cstr(&e.pcomm),
            cg_leaf: cstr(&e.cg_leaf),
            cg_parent: cstr(&e.cg_parent),
            cg_grand: cstr(&e.cg_grand),
            path: cstr(&e.path),
            path2: cstr(&e.path2),
            path3: cstr(&e.path3),
            argv: if e.kind == kind::UMH {
                let n = (e.args[0] as usize).min(e.path2.len());
                e.path2[..n]
                    .split(|&c| c == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| {
                        let b: Vec<u8> = a.iter().map(|&c| c as u8).collect();
                        String::from_utf8_lossy(&b).into_owned()
                    })
                    .collect()
            } else {
                Vec::new()
            },
        })
    }
}
