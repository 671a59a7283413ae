//! The container's init process: the ordered steps it runs between `clone`
//! and `execve`. Each step is a function with a comment saying why it exists
//! and where it must sit in the order. Until `READY`, a failure is reported on
//! the sync channel (the runtime then removes everything); after it, on the
//! `start` connection (`create`) or on the sync channel (`run`).

use crate::cgroups::Cgroup;
use crate::error::{Error, Result, SysContext};
use crate::rootfs::{self, Root};
use crate::sync::{tag, Channel};
use crate::{capabilities, hooks, seccomp};
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::{Process, Spec};
use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// What the init needs to know, prepared by the runtime before `clone`.
pub struct InitConfig<'a> {
    pub spec: &'a Spec,
    pub process: &'a Process,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub cgroup: &'a Cgroup,
    /// A new user namespace is created (ids are mapped by the runtime).
    pub new_userns: bool,
    pub new_cgroupns: bool,
    /// Connected `--console-socket`, when `process.terminal` is true.
    pub console: Option<RawFd>,
    /// The listening `start.sock` of `create`. `None` in `run` (the start
    /// comes on the sync channel) and `exec`.
    pub start: Option<RawFd>,
    /// Number of fds above stdio to pass on (LISTEN_FDS + --preserve-fds).
    pub extra_fds: i32,
    /// Environment added by the runtime (LISTEN_FDS, LISTEN_PID).
    pub extra_env: Vec<String>,
    /// Confine the process to its root with Landlock.
    pub landlock: bool,
    /// `linux.seccomp` compiled to BPF by the runtime (see seccomp.rs).
    pub seccomp_bpf: Option<Vec<u8>>,
}

/// Entry of the container init created by `create` (and `run`).
pub fn create_main(cfg: &InitConfig, chan: Channel) -> i32 {
    let (exe, reply, ruleset) = match setup_container(cfg, &chan) {
        Ok((exe, Some(conn), ruleset)) => {
            drop(chan);
            (exe, OwnedFd::from(conn), ruleset)
        }
        // `run`: the start came on the sync channel, which stays the reply
        // channel until execve closes it.
        Ok((exe, None, ruleset)) => (exe, chan.into_fd(), ruleset),
        Err(e) => {
            let _ = chan.send(tag::ERROR, e.to_string().as_bytes());
            return 1;
        }
    };
    let r = finalize(cfg, cfg.process, &exe, ruleset, Some(reply.as_raw_fd()));
    if let Err(e) = r {
        let _ = send_error(reply.as_raw_fd(), &e);
    }
    1
}

/// Report a failure after `start` on the reply fd (start.sock connection or
/// sync channel): one message, "E" and the error, the same bytes as
/// [`tag::ERROR`] on the channel.
fn send_error(fd: RawFd, e: &Error) -> Result<()> {
    let mut msg = b"E".to_vec();
    msg.extend_from_slice(e.to_string().as_bytes());
    nix::sys::socket::send(fd, &msg, nix::sys::socket::MsgFlags::MSG_NOSIGNAL)
        .ctx(|| "send error".into())?;
    Ok(())
}

/// Entry of a process started by `exec` (namespaces already joined).
pub fn exec_main(cfg: &InitConfig, chan: Channel) -> i32 {
    let r = (|| -> Result<()> {
        chan.expect(tag::GO)?;
        nix::unistd::setsid().ctx(|| "setsid".into())?;
        if let Some(fd) = cfg.console {
            setup_console(fd, cfg.process, None)?;
        }
        let cwd = cfg.process.cwd();
        nix::unistd::chdir(cwd)
            .map_err(|e| Error::sys(format!("process.cwd ({})", cwd.display()), e))?;
        verify_cwd(cwd)?;
        set_rlimits(cfg.process)?;
        let exe = find_executable(cfg.process, &cfg.extra_env)?;
        // setns(mount) made the container's root ours.
        let ruleset = if cfg.landlock {
            Some(crate::landlock::prepare(Root::open(Path::new("/"))?.fd())?)
        } else {
            None
        };
        finalize(cfg, cfg.process, &exe, ruleset, None)
    })();
    if let Err(e) = r {
        let _ = chan.send(tag::ERROR, e.to_string().as_bytes());
    }
    1
}

type Ruleset = Option<::landlock::RulesetCreated>;

fn setup_container(
    cfg: &InitConfig,
    chan: &Channel,
) -> Result<(PathBuf, Option<UnixStream>, Ruleset)> {
    let spec = cfg.spec;
    // 1. Wait until the runtime has written our id maps: nothing below may
    //    run with unmapped ids. The runtime then puts us in the container's
    //    cgroups while we set up the rootfs (the first write to a v1
    //    cgroup.procs waits for an RCU grace period); step 7 waits for that.
    chan.expect(tag::GO)?;

    // 2. Become root of the new user namespace (container uid 0).
    if cfg.new_userns {
        nix::unistd::setresgid(0.into(), 0.into(), 0.into()).ctx(|| {
            "linux.gidMappings: become gid 0 in the user namespace (is 0 mapped?)".into()
        })?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into()).ctx(|| {
            "linux.uidMappings: become uid 0 in the user namespace (is 0 mapped?)".into()
        })?;
    }

    // 3. (The cgroup namespace: step 7b, once we are in the cgroups.)

    // 4. A new session: the container must not share the caller's
    //    controlling terminal (TIOCSTI injection).
    nix::unistd::setsid().ctx(|| "setsid".into())?;

    // 5. oom_score_adj through the host /proc, while it is still visible
    //    (the fd is checked to be on procfs before the write).
    if let Some(adj) = cfg.process.oom_score_adj() {
        let fd = nix::fcntl::open(
            "/proc/self/oom_score_adj",
            OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| Error::sys("process.oomScoreAdj: open", e))?;
        verify_fs(&fd, PROC_SUPER_MAGIC, "process.oomScoreAdj", "procfs")?;
        std::fs::File::from(fd)
            .write_all(adj.to_string().as_bytes())
            .map_err(|e| Error::field("process.oomScoreAdj", e.to_string()))?;
    }

    // 5b. CVE-2016-9962: not dumpable from here to execve (the kernel resets
    //     it there), so no process that later joins the container can
    //     ptrace us or open our /proc/<pid> files (fds, exe, mem) while we
    //     hold host resources. Only after oom_score_adj: a non-dumpable
    //     process's /proc/self files belong to host root.
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    nix::errno::Errno::result(rc).ctx(|| "prctl(PR_SET_DUMPABLE, 0)".into())?;

    // 6. The filesystem: propagation, rootfs bind, mounts, devices. This
    //    needs neither the cgroups nor the cgroup namespace: mounts of type
    //    cgroup bind the host's cgroup directories (made before we were
    //    cloned); the devices made here are the config's, and the devices
    //    cgroup checks every later open of them.
    //    In a user namespace, new or inherited (rootless podman runs the
    //    runtime in one), devices are bound from the host, not made.
    let userns = cfg.new_userns || crate::cgroups::rootless();
    let root = rootfs::prepare_root(spec, cfg.rootfs)?;
    rootfs::mount_all(&root, spec, cfg.bundle, cfg.cgroup, userns)?;
    rootfs::create_devices(&root, spec, userns)?;
    // The working directory is created now, while the root is writable
    // (like runc); it is entered after pivot_root.
    let cwd = cfg.process.cwd();
    root.check_escape(cwd, "process.cwd")?;
    root.mkdir_all(cwd)
        .map_err(|e| Error::sys(format!("process.cwd ({})", cwd.display()), e))?;

    // 7. Wait until we are in the container's cgroups: from here on, hooks
    //    fork (pids limit) and all that follows counts against the limits.
    chan.expect(tag::CGROUP)?;
    // 7b. The cgroup namespace is made only now, after the runtime moved us
    //     into the container's cgroup, so its root is that cgroup (the
    //     cgroup mounts of step 6 are bind mounts of host directories and
    //     do not depend on it).
    if cfg.new_cgroupns {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .ctx(|| "unshare cgroup namespace".into())?;
    }

    // 7c. prestart and createRuntime hooks run in the runtime's namespaces
    //    (by the runtime); createContainer hooks here, before pivot_root.
    let hooks_cfg = spec.hooks().as_ref();
    let state = if hooks_cfg.is_some_and(|h| {
        h.prestart().is_some() || h.create_runtime().is_some() || h.create_container().is_some()
    }) {
        chan.send(tag::HOOKS, b"")?;
        String::from_utf8_lossy(&chan.expect(tag::HOOKS_DONE)?).into_owned()
    } else {
        String::new()
    };
    if let Some(h) = hooks_cfg {
        hooks::run("createContainer", h.create_container().as_ref(), &state)?;
    }

    // 7d. Landlock's ruleset, whose one rule is the new root: prepared now,
    //     while the rootfs fd is at hand; enforced just before execve.
    let ruleset = if cfg.landlock {
        Some(crate::landlock::prepare(root.fd())?)
    } else {
        None
    };

    // 7e. Test builds only (testknobs.rs, `fd-hygiene` off): hold a host
    //     directory fd of the bundle, to be leaked across execve.
    crate::testknobs::hold_host_dir(cfg.bundle)?;

    // 8. pivot_root into the rootfs and detach the host's tree (chroot when
    //    the container has no mount namespace of its own).
    if rootfs::has_mount_ns(spec) {
        rootfs::pivot(&root)?;
    } else {
        rootfs::chroot(&root)?;
    }
    drop(root);
    let root = Root::open(Path::new("/"))?;
    rootfs::finish_propagation(spec)?;

    // 9. The console (needs the container's /dev/pts).
    if let Some(fd) = cfg.console {
        setup_console(fd, cfg.process, Some(&root))?;
    }

    // 10. Kernel parameters, then read-only and masked paths (these cover
    //     /proc/sys, so sysctls go first), then the read-only root.
    let linux = spec.linux().as_ref();
    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        let mut keys: Vec<_> = sysctl.iter().collect();
        keys.sort();
        for (k, v) in keys {
            write_sysctl(k, v)?;
        }
    }
    if let Some(p) = linux.and_then(|l| l.readonly_paths().as_ref()) {
        rootfs::readonly_paths(&root, p)?;
    }
    if let Some(p) = linux.and_then(|l| l.masked_paths().as_ref()) {
        rootfs::masked_paths(&root, p)?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        rootfs::readonly_root()?;
    }

    // 11. Hostname and domain name (the uts namespace is checked at load).
    if let Some(h) = spec.hostname() {
        nix::unistd::sethostname(h).ctx(|| "hostname".into())?;
    }
    if let Some(d) = spec.domainname() {
        // SAFETY: pointer and length describe the live String `d`.
        let rc = unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) };
        nix::errno::Errno::result(rc).ctx(|| "domainname".into())?;
    }

    // 12. Per-process attributes that need no privileges dropped yet.
    set_rlimits(cfg.process)?;
    set_personality(spec)?;
    set_io_priority(cfg.process)?;
    set_scheduler(cfg.process)?;

    // 13. The working directory, resolved in the new root.
    let cwd_fd = root
        .resolve(cwd)
        .map_err(|e| Error::sys(format!("process.cwd ({})", cwd.display()), e))?;
    nix::unistd::fchdir(cwd_fd.as_fd())
        .map_err(|e| Error::sys(format!("process.cwd ({})", cwd.display()), e))?;
    drop(cwd_fd);
    drop(root);
    verify_cwd(cwd)?;

    // 14. Find the executable now, so a typo fails `create`, not `start`.
    let exe = find_executable(cfg.process, &cfg.extra_env)?;

    // 15. Tell the runtime we are ready and wait for `start`: a connection
    //     on start.sock (`create`), or START on the sync channel (`run`,
    //     which starts at once: no socket to bind, accept and connect).
    //     A created container outlives its `create` (spawn.rs).
    if cfg.start.is_some() {
        crate::spawn::outlive_parent();
    }
    chan.send(tag::READY, b"")?;
    let (conn, state) = match cfg.start {
        Some(fd) => {
            let (conn, state) = accept_start(fd)?;
            (Some(conn), state)
        }
        None => {
            let state = chan.expect(tag::START)?;
            (None, String::from_utf8_lossy(&state).into_owned())
        }
    };

    // 16. startContainer hooks run in the container, before the user process.
    if let Some(h) = spec.hooks().as_ref() {
        if let Err(e) = hooks::run("startContainer", h.start_container().as_ref(), &state) {
            if let Some(c) = &conn {
                // After READY a `create`'s runtime is gone: the error goes
                // to `start`. (In `run` the caller sends it on the channel.)
                let _ = send_error(c.as_raw_fd(), &e);
                // SAFETY: _exit ends this process without unwinding.
                unsafe { libc::_exit(1) }
            }
            return Err(e);
        }
    }
    Ok((exe, conn, ruleset))
}

/// Wait for `start` on the listening start.sock `fd`: one connection, whose
/// message is "S" and the state for startContainer hooks.
fn accept_start(fd: RawFd) -> Result<(UnixStream, String)> {
    // SAFETY: the runtime passed us this listening socket; we own our copy.
    let listener = unsafe { UnixListener::from_raw_fd(fd) };
    let (mut conn, _) = loop {
        match listener.accept() {
            Ok(c) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("start.sock", e)),
        }
    };
    drop(listener);
    let state = crate::sync::read_start_request(&mut conn)?;
    Ok((conn, String::from_utf8_lossy(&state).into_owned()))
}

/// The last steps, shared by create and exec: fds, user, capabilities,
/// no_new_privs, seccomp, execve. Returns only on failure.
fn finalize(
    cfg: &InitConfig,
    p: &Process,
    exe: &Path,
    ruleset: Ruleset,
    reply: Option<RawFd>,
) -> Result<()> {
    let seccomp = cfg.spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let nnp = p.no_new_privileges() == Some(true);
    let mut notify_fd = None;

    // a. Only stdio and the passed fds survive execve. Done first: a
    //    seccomp profile need not allow close_range (Docker's default
    //    profile does not), and nothing below opens an fd to keep.
    let keep = 3 + cfg.extra_fds.max(0);
    for fd in 3..keep {
        // SAFETY: fcntl on an fd number; errors (fd not open) are ignored.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
    // SAFETY: close_range with CLOEXEC only sets flags on fds >= keep.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            keep as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        )
    };
    nix::errno::Errno::result(rc).ctx(|| "close_range".into())?;
    // Test builds only (testknobs.rs, `fd-hygiene` off): undo it for one
    // host fd; a no-op otherwise.
    crate::testknobs::leak_across_exec();
    // a1. The AppArmor profile and SELinux label for execve (lsm.rs), while
    //    /proc is the container's procfs and before Landlock and seccomp.
    crate::lsm::apply_on_exec(p)?;
    // a2. Landlock, while we still hold CAP_SYS_ADMIN (needed without
    //    no_new_privs) and before a seccomp filter could deny its syscalls.
    if let Some(r) = ruleset {
        crate::landlock::enforce(r)?;
    }
    // b. Bounding set, while we still hold CAP_SETPCAP.
    if let Some(c) = p.capabilities() {
        capabilities::drop_bounding(c)?;
    }
    // c. Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
    //    before the uid switch drops it (runc does the same).
    if !nnp {
        if let Some(s) = seccomp {
            notify_fd = load_seccomp(cfg, s)?;
        }
    }
    // d. Groups, gid, uid. KEEPCAPS keeps the permitted set across setuid.
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    let u = p.user();
    let groups: Vec<nix::unistd::Gid> = u
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    let setgroups_denied = std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() == "deny")
        .unwrap_or(false);
    if !setgroups_denied {
        nix::unistd::setgroups(&groups).ctx(|| "process.user.additionalGids".into())?;
    } else if !groups.is_empty() {
        return Err(Error::field(
            "process.user.additionalGids",
            "setgroups is denied in this user namespace",
        ));
    }
    nix::unistd::setresgid(u.gid().into(), u.gid().into(), u.gid().into())
        .map_err(|e| Error::sys(format!("process.user.gid ({})", u.gid()), e))?;
    nix::unistd::setresuid(u.uid().into(), u.uid().into(), u.uid().into())
        .map_err(|e| Error::sys(format!("process.user.uid ({})", u.uid()), e))?;
    // SAFETY: as above.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    // e. The other capability sets.
    if let Some(c) = p.capabilities() {
        capabilities::set_sets(c)?;
    }
    if let Some(m) = u.umask() {
        nix::sys::stat::umask(Mode::from_bits_truncate(m));
    }
    // f. no_new_privs, then a filter that needed it.
    if nnp {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        nix::errno::Errno::result(rc).ctx(|| "process.noNewPrivileges".into())?;
        if let Some(s) = seccomp {
            notify_fd = load_seccomp(cfg, s)?;
        }
    }
    // g. Hand the notify fd to whoever asked for it (the `start` caller
    //    forwards it to linux.seccomp.listenerPath).
    if let Some(fd) = notify_fd {
        match reply {
            Some(c) => send_fd(c, fd, b"N")?,
            None => {
                return Err(Error::unsupported(
                    "linux.seccomp.listenerPath",
                    "seccomp notify in exec",
                ))
            }
        }
        let _ = nix::unistd::close(fd);
    }
    // h. execve.
    let args: Vec<CString> = p
        .args()
        .iter()
        .flatten()
        .map(|a| {
            CString::new(a.as_bytes())
                .map_err(|_| Error::field("process.args", "contains a NUL byte"))
        })
        .collect::<Result<_>>()?;
    let env: Vec<CString> = p
        .env()
        .iter()
        .flatten()
        .chain(cfg.extra_env.iter())
        .map(|a| {
            CString::new(a.as_bytes())
                .map_err(|_| Error::field("process.env", "contains a NUL byte"))
        })
        .collect::<Result<_>>()?;
    let path = CString::new(exe.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::field("process.args[0]", "NUL byte"))?;
    // The container process may outlive the runtime (`run -d`, `exec -d`).
    crate::spawn::outlive_parent();
    let e = nix::unistd::execve(&path, &args, &env).unwrap_err();
    Err(Error::sys(
        format!("process.args[0]: exec {}", exe.display()),
        e,
    ))
}

/// CVE-2024-21626: the working directory must be inside the container's
/// root. The kernel's getcwd(2) prefixes a directory that is not reachable
/// from our root (a leaked host fd, a detached mount) with "(unreachable)";
/// anything but an absolute path is refused.
pub fn verify_cwd(cwd: &Path) -> Result<()> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: the raw syscall writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    let n = nix::errno::Errno::result(rc)
        .map_err(|e| Error::sys(format!("process.cwd ({}): getcwd", cwd.display()), e))?;
    let got = String::from_utf8_lossy(&buf[..(n as usize).saturating_sub(1)]).into_owned();
    if !got.starts_with('/') {
        return Err(Error::field(
            "process.cwd",
            format!(
                "{} is outside the container's root (getcwd: {got:?})",
                cwd.display()
            ),
        ));
    }
    Ok(())
}

/// The filter: the runtime's precompiled BPF when there is one.
fn load_seccomp(cfg: &InitConfig, s: &oci_spec::runtime::LinuxSeccomp) -> Result<Option<i32>> {
    match &cfg.seccomp_bpf {
        Some(b) => seccomp::load_program(b).map(|_| None),
        None => seccomp::load(s),
    }
}

/// Send one fd with SCM_RIGHTS.
pub fn send_fd(sock: RawFd, fd: RawFd, payload: &[u8]) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let iov = [std::io::IoSlice::new(payload)];
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(sock, &iov, &cmsg, MsgFlags::empty(), None).ctx(|| "send fd".into())?;
    Ok(())
}

/// Allocate the container's pty, make it our stdio and controlling
/// terminal, bind it to /dev/console, and send the master to the console
/// socket (like runc: the payload is the pty's name).
fn setup_console(sock: RawFd, p: &Process, root: Option<&Root>) -> Result<()> {
    let master = nix::fcntl::open(
        "/dev/ptmx",
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "process.terminal: open /dev/ptmx".into())?;
    let mut unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int from the pointer we pass.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &mut unlock) };
    nix::errno::Errno::result(rc).ctx(|| "process.terminal: unlock pty".into())?;
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes an unsigned int to the pointer we pass.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) };
    nix::errno::Errno::result(rc).ctx(|| "process.terminal: pty number".into())?;
    // SAFETY: TIOCGPTPEER returns a new fd for the peer; flags are plain ints.
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    let slave =
        nix::errno::Errno::result(slave).ctx(|| "process.terminal: open pty peer".into())?;
    // SAFETY: the ioctl returned a fresh fd that nothing else owns.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    // CVE-2025-52565: what is bound to /dev/console is the peer of our
    // master, checked to be a devpts node, never a path that could have
    // been swapped for a symlink.
    verify_fs(&slave, DEVPTS_SUPER_MAGIC, "process.terminal", "devpts")?;
    if let Some(b) = p.console_size() {
        let ws = libc::winsize {
            ws_row: b.height() as u16,
            ws_col: b.width() as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize from the pointer we pass.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
    let name = format!("/dev/pts/{n}");
    if let Some(root) = root {
        // CVE-2025-52565: the bind target is a file of the root, not
        // whatever a /dev/console symlink of the image points at.
        root.remove_symlink(Path::new("/dev/console"))
            .ctx(|| "replace a /dev/console symlink".into())?;
        let target = root
            .create_file(Path::new("/dev/console"))
            .ctx(|| "create /dev/console".into())?;
        nix::mount::mount(
            Some(rootfs::fd_path(&slave).as_str()),
            rootfs::fd_path(&target).as_str(),
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(|| "bind pty to /dev/console".into())?;
    }
    send_fd(sock, master.as_raw_fd(), name.as_bytes())?;
    drop(master);
    // SAFETY: closing our copy of the console socket fd.
    unsafe { libc::close(sock) };
    for target in 0..3 {
        // SAFETY: dup2 onto stdio numbers; the old ones are replaced.
        let rc = unsafe { libc::dup2(slave.as_raw_fd(), target) };
        nix::errno::Errno::result(rc).ctx(|| "dup pty to stdio".into())?;
    }
    // SAFETY: TIOCSCTTY with an integer argument on our stdin.
    let rc = unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) };
    nix::errno::Errno::result(rc).ctx(|| "set controlling terminal".into())?;
    Ok(())
}

const PROC_SUPER_MAGIC: i64 = 0x9fa0;
const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;

/// Check that `fd` is on the filesystem `magic` (procfs, devpts) before
/// writing through it or mounting it.
fn verify_fs(fd: &impl AsFd, magic: i64, field: &str, what: &str) -> Result<()> {
    let st =
        nix::sys::statfs::fstatfs(fd).map_err(|e| Error::sys(format!("{field}: fstatfs"), e))?;
    if st.filesystem_type().0 as i64 != magic {
        return Err(Error::field(
            field,
            format!("not on {what} (a mount was swapped in?)"),
        ));
    }
    Ok(())
}

fn write_sysctl(key: &str, value: &str) -> Result<()> {
    let field = format!("linux.sysctl.{key}");
    if key.is_empty() || key.contains("..") || key.contains('/') {
        return Err(Error::field(field, "invalid key"));
    }
    let proc_sys = nix::fcntl::open(
        "/proc/sys",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys(format!("{field}: open /proc/sys"), e))?;
    // CVE-2025-52881: the write must land in procfs, not in whatever a
    // racing mount put at /proc/sys.
    verify_fs(&proc_sys, PROC_SUPER_MAGIC, &field, "procfs")?;
    let rel = key.replace('.', "/");
    let fd = nix::fcntl::openat2(
        proc_sys.as_fd(),
        rel.as_str(),
        OpenHow::new()
            .flags(OFlag::O_WRONLY | OFlag::O_CLOEXEC)
            .resolve(
                ResolveFlag::RESOLVE_BENEATH
                    | ResolveFlag::RESOLVE_NO_SYMLINKS
                    | ResolveFlag::RESOLVE_NO_XDEV,
            ),
    )
    .map_err(|e| Error::sys(field.clone(), e))?;
    verify_fs(&fd, PROC_SUPER_MAGIC, &field, "procfs")?;
    let mut f = std::fs::File::from(fd);
    f.write_all(value.as_bytes())
        .map_err(|e| Error::field(field, format!("write {value:?}: {e}")))
}

fn rlimit_resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    })
}

fn set_rlimits(p: &Process) -> Result<()> {
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        let name = serde_json::to_value(r.typ())
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let res = rlimit_resource(&name).ok_or_else(|| {
            Error::field(
                format!("process.rlimits[{i}].type"),
                format!("unknown {name}"),
            )
        })?;
        let lim = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        // SAFETY: setrlimit reads the rlimit struct we pass.
        let rc = unsafe { libc::setrlimit(res, &lim) };
        nix::errno::Errno::result(rc).map_err(|e| {
            Error::sys(
                format!(
                    "process.rlimits[{i}] ({name} soft={} hard={})",
                    r.soft(),
                    r.hard()
                ),
                e,
            )
        })?;
    }
    Ok(())
}

fn set_personality(spec: &Spec) -> Result<()> {
    let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) else {
        return Ok(());
    };
    let d = serde_json::to_value(p.domain())
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let persona: libc::c_ulong = match d.as_str() {
        "LINUX" => 0,
        "LINUX32" => 0x0008,
        other => {
            return Err(Error::field(
                "linux.personality.domain",
                format!("unknown {other}"),
            ))
        }
    };
    // SAFETY: personality takes an integer.
    let rc = unsafe { libc::personality(persona) };
    nix::errno::Errno::result(rc).ctx(|| "linux.personality".into())?;
    Ok(())
}

fn set_io_priority(p: &Process) -> Result<()> {
    let Some(io) = p.io_priority() else {
        return Ok(());
    };
    let class = serde_json::to_value(io.class())
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let c: i64 = match class.as_str() {
        "IOPRIO_CLASS_RT" => 1,
        "IOPRIO_CLASS_BE" => 2,
        "IOPRIO_CLASS_IDLE" => 3,
        other => {
            return Err(Error::field(
                "process.ioPriority.class",
                format!("unknown {other}"),
            ))
        }
    };
    let prio = (c << 13) | (io.priority() & 0x1fff);
    // SAFETY: ioprio_set takes integers only (IOPRIO_WHO_PROCESS, self).
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, prio) };
    nix::errno::Errno::result(rc).ctx(|| "process.ioPriority".into())?;
    Ok(())
}

/// `process.scheduler` through sched_setattr(2).
fn set_scheduler(p: &Process) -> Result<()> {
    let Some(sc) = p.scheduler() else {
        return Ok(());
    };
    let name = |v: serde_json::Value| v.as_str().map(String::from).unwrap_or_default();
    let policy = match name(serde_json::to_value(sc.policy()).unwrap_or_default()).as_str() {
        "SCHED_OTHER" => 0,
        "SCHED_FIFO" => 1,
        "SCHED_RR" => 2,
        "SCHED_BATCH" => 3,
        "SCHED_ISO" => 4,
        "SCHED_IDLE" => 5,
        "SCHED_DEADLINE" => 6,
        other => {
            return Err(Error::field(
                "process.scheduler.policy",
                format!("unknown {other}"),
            ))
        }
    };
    let mut flags = 0u64;
    for f in sc.flags().iter().flatten() {
        flags |= match name(serde_json::to_value(f).unwrap_or_default()).as_str() {
            "SCHED_FLAG_RESET_ON_FORK" => 0x01,
            "SCHED_FLAG_RECLAIM" => 0x02,
            "SCHED_FLAG_DL_OVERRUN" => 0x04,
            "SCHED_FLAG_KEEP_POLICY" => 0x08,
            "SCHED_FLAG_KEEP_PARAMS" => 0x10,
            "SCHED_FLAG_UTIL_CLAMP_MIN" => 0x20,
            "SCHED_FLAG_UTIL_CLAMP_MAX" => 0x40,
            other => {
                return Err(Error::field(
                    "process.scheduler.flags",
                    format!("unknown {other}"),
                ))
            }
        };
    }
    #[repr(C)]
    struct SchedAttr {
        size: u32,
        policy: u32,
        flags: u64,
        nice: i32,
        priority: u32,
        runtime: u64,
        deadline: u64,
        period: u64,
    }
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice: sc.nice().unwrap_or(0),
        priority: sc.priority().unwrap_or(0) as u32,
        runtime: sc.runtime().unwrap_or(0),
        deadline: sc.deadline().unwrap_or(0),
        period: sc.period().unwrap_or(0),
    };
    // SAFETY: sched_setattr reads `size` bytes of the struct we pass.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    nix::errno::Errno::result(rc).ctx(|| "process.scheduler".into())?;
    Ok(())
}

/// Resolve `process.args[0]` like execvp, with the container's PATH.
fn find_executable(p: &Process, extra_env: &[String]) -> Result<PathBuf> {
    let a0 = p
        .args()
        .as_ref()
        .and_then(|a| a.first())
        .ok_or_else(|| Error::field("process.args", "empty"))?;
    let is_exec = |path: &Path| {
        nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).is_ok()
            && std::fs::metadata(path)
                .map(|m| m.is_file())
                .unwrap_or(false)
    };
    if a0.contains('/') {
        let path = PathBuf::from(a0);
        if is_exec(&path) {
            return Ok(path);
        }
        return Err(Error::field(
            "process.args[0]",
            format!("exec: {a0:?}: no such executable file"),
        ));
    }
    let path_var = p
        .env()
        .iter()
        .flatten()
        .chain(extra_env.iter())
        .filter_map(|kv| kv.strip_prefix("PATH="))
        .next_back()
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .to_string();
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(a0);
        if is_exec(&cand) {
            return Ok(cand);
        }
    }
    Err(Error::field(
        "process.args[0]",
        format!("exec: {a0:?}: executable file not found in $PATH"),
    ))
}

/// Receive one fd sent with SCM_RIGHTS (payload returned too).
pub fn recv_fd(sock: RawFd) -> Result<(Vec<u8>, Option<OwnedFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = vec![0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .ctx(|| "receive fd".into())?;
    let mut fd = None;
    for c in msg.cmsgs().into_iter().flatten() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(f) = fds.first() {
                // SAFETY: the kernel just installed this fd for us.
                fd = Some(unsafe { OwnedFd::from_raw_fd(*f) });
            }
        }
    }
    let n = msg.bytes;
    buf.truncate(n);
    Ok((buf, fd))
}
