//! Making a process inside the container's namespaces.
//!
//! 1. The runtime forks an intermediate process (the runtime is
//!    single-threaded, so `fork` is sound).
//! 2. The intermediate joins the namespaces given by path (`setns`), the user
//!    namespace first, so the others are joined with its privileges.
//! 3. It then `clone`s the target with the flags of the namespaces to create,
//!    and `CLONE_PARENT`, so the target is the runtime's child (the runtime can
//!    wait for it; with `create` it is reparented when the runtime exits).
//!    Joining a pid namespace only affects children, which is why the target
//!    is cloned rather than the intermediate being used.
//! 4. The intermediate reports the target's pid on the channel and exits.
//!
//! When nothing is joined (the common `create`), steps 1, 2 and 4 are
//! skipped: the runtime clones the target itself.
//!
//! The target cannot outlive a runtime that dies during set-up: it keeps
//! only its own end of the sync channel (the runtime's end is closed in the
//! child, so the init reads end-of-file at its next message and exits), and
//! it has `PR_SET_PDEATHSIG` = SIGKILL, so it dies with the runtime even while
//! it is busy elsewhere (mounting, waiting on a hook). The init clears the
//! death signal where the container legitimately outlives the runtime: before
//! READY in `create` (whose runtime exits then), and just before execve
//! (`run -d`, `exec -d`), see init.rs. The death signal is taken from the
//! thread that cloned, and the runtime clones from its only thread.

use crate::error::{Error, Result, SysContext};
use crate::sync::{tag, Channel};
use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{ForkResult, Pid};
use std::os::fd::{OwnedFd, RawFd};

/// Where the new process goes.
pub struct Target {
    /// Namespaces to join, in order (`CLONE_NEWUSER` entries are moved first).
    pub join: Vec<(CloneFlags, OwnedFd)>,
    /// Namespaces to create with `clone`.
    pub new: CloneFlags,
    /// Fds the new process must not keep, such as the state-dir lock (an
    /// inherited copy would hold the flock for the container's lifetime).
    pub close: Vec<RawFd>,
    /// Make the new process non-dumpable until its execve. Used for `exec`:
    /// processes already running in the container could otherwise open
    /// /proc/<pid>/exe of the joining runtime binary (CVE-2019-5736) or
    /// ptrace it before it has dropped its privileges.
    pub nondumpable: bool,
}

/// Fork/setns/clone; run `child` in the target. Returns the target's pid.
/// `child` must never return normally; it should `_exit`.
pub fn spawn(
    mut target: Target,
    ours: &Channel,
    theirs: Channel,
    child: impl FnOnce(Channel) -> i32,
) -> Result<Pid> {
    // The child keeps only its own end: holding ours too, it would never
    // read end-of-file when the runtime dies.
    target.close.push(ours.raw());
    // The exe seal's view (exeseal.rs): the child drops its copy at once, so
    // that the runtime's release_view is the last close.
    target.close.extend(crate::exeseal::view_fd());
    if target.join.is_empty() && !target.nondumpable {
        // Nothing to join: clone the target directly (one process less on
        // the start-up path).
        let flags = target.new.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
        // SAFETY: as in `intermediate`: a fork-like raw clone of this
        // single-threaded process.
        let rc = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
        if rc < 0 {
            return Err(Error::sys("clone", nix::errno::Errno::last()));
        }
        if rc == 0 {
            for fd in &target.close {
                // SAFETY: closing an fd number in the child only.
                unsafe { libc::close(*fd) };
            }
            die_with_parent();
            let code = child(theirs);
            // SAFETY: _exit is always safe.
            unsafe { libc::_exit(code) }
        }
        drop(theirs);
        return Ok(Pid::from_raw(rc as i32));
    }
    // SAFETY: the runtime is single-threaded, so the child of fork() may use
    // any function; the intermediate only calls setns/clone/send and _exit.
    match unsafe { nix::unistd::fork() }.ctx(|| "fork".into())? {
        ForkResult::Child => {
            let code = intermediate(target, theirs, child);
            // SAFETY: _exit is always safe; it skips atexit handlers on purpose.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child: mid } => {
            drop(theirs);
            let pid = ours.expect(tag::PID);
            // Reap the intermediate whatever happened.
            let mid_status = waitpid(mid, None);
            let pid = pid?;
            let raw: [u8; 4] = pid
                .as_slice()
                .try_into()
                .map_err(|_| Error::Init("bad pid message".into()))?;
            let pid = i32::from_le_bytes(raw);
            match mid_status {
                Ok(WaitStatus::Exited(_, 0)) => Ok(Pid::from_raw(pid)),
                other => Err(Error::Init(format!(
                    "intermediate process failed: {other:?}"
                ))),
            }
        }
    }
}

fn intermediate(mut target: Target, chan: Channel, child: impl FnOnce(Channel) -> i32) -> i32 {
    for fd in &target.close {
        // SAFETY: closing an fd number of this (forked) process; the
        // runtime keeps its own copy.
        unsafe { libc::close(*fd) };
    }
    if target.nondumpable {
        // SAFETY: prctl with integer arguments only; inherited by the clone
        // below and reset by the kernel at execve.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    }
    target.join.sort_by_key(|(f, _)| {
        if *f == CloneFlags::CLONE_NEWUSER {
            0
        } else {
            1
        }
    });
    for (flag, fd) in &target.join {
        if let Err(e) = nix::sched::setns(fd, *flag) {
            let _ = chan.send(
                tag::ERROR,
                format!("join namespace {flag:?}: {e}").as_bytes(),
            );
            return 1;
        }
    }
    drop(target.join);
    let flags = target.new.bits() as libc::c_ulong
        | libc::CLONE_PARENT as libc::c_ulong
        | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: a raw clone without CLONE_VM and with a NULL stack behaves like
    // fork(): the child gets a copy-on-write copy of this single-threaded
    // process and continues on its own copy of the stack.
    let rc = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    if rc < 0 {
        let e = nix::errno::Errno::last();
        let _ = chan.send(tag::ERROR, format!("clone: {e}").as_bytes());
        return 1;
    }
    if rc == 0 {
        die_with_parent();
        let code = child(chan);
        // SAFETY: see above.
        unsafe { libc::_exit(code) }
    }
    let pid = rc as i32;
    match chan.send(tag::PID, &pid.to_le_bytes()) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// `PR_SET_PDEATHSIG` = SIGKILL in a freshly cloned target. Its parent is the
/// runtime (directly or through CLONE_PARENT). A runtime that died before
/// this call is seen through the channel instead: its end is closed, so the
/// target's first read (GO) is end-of-file.
fn die_with_parent() {
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
}

/// Clear the death signal: from here the process may outlive the runtime
/// (a created container waiting for `start`, or a process about to execve).
pub fn outlive_parent() {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0 as libc::c_ulong, 0, 0, 0) };
}
