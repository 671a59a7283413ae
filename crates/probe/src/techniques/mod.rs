//! The techniques, one module each. The E-numbers cite `escape-techniques.md` §1.5.
//!
//! Every technique runs in its own forked child (see [`crate::run_isolated`]), so it may chroot,
//! setns or unshare itself freely. Anything it creates (scratch dirs, mounts, child processes,
//! keys) it removes before returning.

use crate::sys;

pub mod abstract_sockets;
pub mod af_alg;
pub mod af_packet;
pub mod af_vsock;
pub mod binfmt_misc;
pub mod block_dev_mount;
pub mod bpf;
pub mod cgroupfs_write;
pub mod chroot_breakout;
pub mod console_pts;
pub mod core_pattern;
pub mod dangerous_caps;
pub mod dev_mem;
pub mod dev_null;
pub mod devices_allow;
pub mod dirty_pipe;
pub mod fork_bomb;
pub mod host_canary;
pub mod host_services;
pub mod inheritable_caps;
pub mod io_uring;
pub mod iopl;
pub mod kernel_info_leak;
pub mod kernel_module;
pub mod kexec_load;
pub mod keyctl;
pub mod leaked_fds_cwd;
pub mod lxcfs_rw;
pub mod masked_paths;
pub mod memory_exhaustion;
pub mod modprobe_path;
pub mod mount_fs;
pub mod mount_propagation;
pub mod mount_target_swap;
pub mod netns_admin;
pub mod new_mount_api;
pub mod no_new_privs;
pub mod no_seccomp;
pub mod overlay_userns;
pub mod perf_event;
pub mod proc_pid_root;
pub mod process_vm_readv;
pub mod procfs_sanity;
pub mod procsys_write;
pub mod ptrace;
pub mod release_agent;
pub mod runtime_exe_write;
pub mod runtime_socket;
pub mod setns;
pub mod shocker;
pub mod sysfs_write;
pub mod sysrq_trigger;
pub mod userfaultfd;
pub mod userns_caps;
pub mod userns_release_agent;

use crate::Technique;

/// The battery, in the order it runs (cheap, read-only checks first; fork bomb and memory last).
pub const ALL: &[Technique] = &[
    dangerous_caps::T,
    inheritable_caps::T,
    no_seccomp::T,
    no_new_privs::T,
    block_dev_mount::T,
    release_agent::T,
    userns_release_agent::T,
    core_pattern::T,
    procsys_write::T,
    sysrq_trigger::T,
    kernel_info_leak::T,
    dev_mem::T,
    iopl::T,
    sysfs_write::T,
    modprobe_path::T,
    binfmt_misc::T,
    runtime_socket::T,
    host_services::T,
    host_canary::T,
    proc_pid_root::T,
    setns::T,
    ptrace::T,
    process_vm_readv::T,
    kernel_module::T,
    kexec_load::T,
    runtime_exe_write::T,
    leaked_fds_cwd::T,
    mount_target_swap::T,
    dev_null::T,
    masked_paths::T,
    procfs_sanity::T,
    console_pts::T,
    keyctl::T,
    userns_caps::T,
    netns_admin::NF_TABLES,
    netns_admin::TC_QDISC,
    netns_admin::OWN_NETNS,
    overlay_userns::T,
    shocker::T,
    af_packet::T,
    af_alg::T,
    af_vsock::T,
    abstract_sockets::T,
    bpf::T,
    perf_event::T,
    userfaultfd::T,
    io_uring::T,
    cgroupfs_write::T,
    devices_allow::T,
    lxcfs_rw::T,
    chroot_breakout::T,
    mount_fs::PROC,
    mount_fs::SYSFS,
    mount_fs::TMPFS,
    new_mount_api::T,
    mount_propagation::T,
    dirty_pipe::T,
    fork_bomb::T,
    memory_exhaustion::T,
];

/// Integer value of a sysctl file, if readable.
pub fn sysctl(path: &str) -> Option<i64> {
    sys::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether the kernel lists `fs` in /proc/filesystems.
pub fn fs_supported(fs: &str) -> bool {
    sys::read_to_string("/proc/filesystems")
        .map(|t| t.lines().any(|l| l.split_whitespace().last() == Some(fs)))
        .unwrap_or(false)
}

/// Outcome of a step that failed: errno plus which step.
pub type StepErr = (i32, String);

/// Run `f` in a forked child and return what it produced (through a pipe). A child that dies
/// without answering yields `Err((0, "child died: …"))`.
pub fn capture<F: FnOnce() -> Result<String, StepErr>>(f: F) -> Result<String, StepErr> {
    let mut fds = [0; 2];
    // SAFETY: fds is a two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err((sys::errno(), "pipe".into()));
    }
    // SAFETY: the kernel just created both descriptors.
    let (rd, wr) = unsafe {
        use std::os::fd::FromRawFd;
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    // SAFETY: technique processes are single-threaded when they call capture.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err((sys::errno(), "fork".into()));
    }
    if pid == 0 {
        drop(rd);
        let line = match f() {
            Ok(s) => format!("O\t{}", s.replace('\n', " ")),
            Err((e, step)) => format!("F\t{e}\t{}", step.replace('\n', " ")),
        };
        let _ = sys::write_fd(&wr, line.as_bytes());
        // SAFETY: leave the child without running destructors.
        unsafe { libc::_exit(0) };
    }
    drop(wr);
    let mut out = Vec::new();
    let mut file = std::fs::File::from(rd);
    let _ = std::io::Read::read_to_end(&mut file, &mut out);
    let end = sys::wait_pid(pid);
    let s = String::from_utf8_lossy(&out).into_owned();
    if let Some(ok) = s.strip_prefix("O\t") {
        return Ok(ok.to_string());
    }
    if let Some(rest) = s.strip_prefix("F\t") {
        let (e, step) = rest.split_once('\t').unwrap_or((rest, ""));
        return Err((e.parse().unwrap_or(0), step.to_string()));
    }
    Err((0, format!("child died without an answer: {end:?}")))
}

/// Try to open a socket of `family`; an fd is `Exposed`, EAFNOSUPPORT `NotApplicable`.
pub fn socket_probe(
    ctx: &crate::Ctx,
    family: i32,
    ty: i32,
    proto: i32,
    needed: Option<u32>,
    name: &str,
) -> crate::Outcome {
    // SAFETY: socket() with integer arguments.
    let r = unsafe { libc::socket(family, ty | libc::SOCK_CLOEXEC, proto) };
    match sys::fd_result(r as libc::c_long) {
        Ok(_fd) => crate::Outcome::exposed(format!("socket({name}) returned an fd")),
        Err(libc::EAFNOSUPPORT) | Err(libc::EPROTONOSUPPORT) => {
            crate::Outcome::na(format!("kernel lacks {name} (EAFNOSUPPORT)"))
        }
        Err(e) => ctx.blocked(e, needed, &format!("socket({name})")),
    }
}

/// The `--target-pid`, or the reason to skip. `Err(outcome)` is what the technique reports.
pub fn target_pid(ctx: &crate::Ctx) -> Result<i32, crate::Outcome> {
    let Some(pid) = ctx.cfg.target_pid else {
        return Err(crate::Outcome::na(
            "no target (pass --target-pid PID of your own sleeper)",
        ));
    };
    // SAFETY: getpid has no preconditions.
    if pid == unsafe { libc::getpid() } {
        return Err(crate::Outcome::na("target pid is the probe itself"));
    }
    if std::fs::symlink_metadata(format!("/proc/{pid}")).is_err() {
        return Err(crate::Outcome::blocked(
            libc::ESRCH,
            crate::Layer::PidNamespace,
            format!("pid {pid} not visible in /proc"),
        ));
    }
    Ok(pid)
}

/// Host canary path relative to some root ("/a/b" -> "a/b").
pub fn host_canary_rel(ctx: &crate::Ctx) -> Option<String> {
    ctx.cfg
        .host_canary
        .as_ref()
        .map(|p| p.to_string_lossy().trim_start_matches('/').to_string())
}
