//! **new-mount-api** (fsopen/fsconfig/fsmount/open_tree; the CVE-2022-0185 fsconfig bug lives
//! here). Creates a *detached* tmpfs mount and a detached clone of `/`, attaches nothing, and
//! closes both. Stopped by: capabilities (SYS_ADMIN), seccomp (moby gates these with SYS_ADMIN),
//! a user namespace (only namespaced file systems).

use crate::state::cap;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "new-mount-api",
    eid: "-",
    title: "fsopen/fsmount/open_tree (detached mounts)",
    layers: "C (SYS_ADMIN), S, U",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    let tmpfs = sys::cstr("tmpfs");
    // SAFETY: fsopen(name, FSOPEN_CLOEXEC).
    let fs = match sys::fd_result(unsafe { libc::syscall(libc::SYS_fsopen, tmpfs.as_ptr(), 1) }) {
        Ok(fd) => fd,
        Err(libc::ENOSYS) if !ctx.state.seccomp_on() => {
            return Outcome::na("kernel lacks the new mount API")
        }
        Err(e) => return ctx.blocked(e, Some(cap::SYS_ADMIN), "fsopen(tmpfs)"),
    };
    use std::os::fd::AsRawFd;
    // SAFETY: FSCONFIG_CMD_CREATE (6) on our fs context.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            6,
            std::ptr::null::<u8>(),
            std::ptr::null::<u8>(),
            0,
        )
    };
    if r < 0 {
        return ctx.blocked(sys::errno(), Some(cap::SYS_ADMIN), "fsconfig(CREATE)");
    }
    // SAFETY: fsmount(fs, FSMOUNT_CLOEXEC, 0) -> a detached mount fd.
    let m = sys::fd_result(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), 1, 0) });
    let mut what = vec!["fsopen+fsconfig".to_string()];
    match m {
        Ok(_m) => what.push("fsmount (detached tmpfs)".into()),
        Err(e) => what.push(format!("fsmount: {}", crate::errno_name(e))),
    }
    let root = sys::cstr("/");
    // SAFETY: open_tree(AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC) -> detached clone.
    let t = sys::fd_result(unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            root.as_ptr(),
            1u32 | libc::O_CLOEXEC as u32,
        )
    });
    match t {
        Ok(_t) => what.push("open_tree(/, CLONE)".into()),
        Err(e) => what.push(format!("open_tree: {}", crate::errno_name(e))),
    }
    Outcome::exposed(format!("{} succeeded; nothing attached", what.join(", ")))
}
