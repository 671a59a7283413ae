//! CVE-2019-5736: a container process must never be able to write the
//! runtime's binary through `/proc/<pid>/exe` of a runtime process that runs
//! in, or joins, the container.
//!
//! Before `create`, `run` and `exec` do anything, the runtime re-executes
//! itself from a view of its binary that cannot be written:
//!
//! 1. a detached, read-only bind mount of the binary (`open_tree(2)` with
//!    `OPEN_TREE_CLONE`, then `mount_setattr(2)` `MOUNT_ATTR_RDONLY`): no copy,
//!    nothing mounted anywhere a path reaches, gone when the last process
//!    running from it exits. Writing through `/proc/<pid>/exe` gives EROFS,
//!    even for host root, and only host root could remount it;
//! 2. where the kernel lacks the new mount API (before 5.12), a copy in a
//!    `memfd` sealed with `F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW |
//!    F_SEAL_WRITE` (the idea of runc's `exeseal` and crun's `cloned_binary`).
//!
//! Every process that later enters the container (the init, `exec`'s joining
//! process) therefore runs from an unwritable `/proc/self/exe`. A process
//! whose exe already cannot be written (sealed memfd, or a read-only mount)
//! does nothing, so the re-executed runtime goes straight on.

use crate::error::{Error, Result, SysContext};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Whether this process's binary cannot be written through `/proc/self/exe`:
/// a sealed memfd, or a file on a read-only mount.
pub fn is_sealed() -> bool {
    let Ok(f) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: fcntl on an fd we own, integer command only.
    let s = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    if s >= 0 && s & SEALS == SEALS {
        return true;
    }
    // SAFETY: fstatvfs fills the zeroed struct for an fd we own.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::fstatvfs(f.as_raw_fd(), &mut st) };
    rc == 0 && st.f_flag & libc::ST_RDONLY != 0
}

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;

/// A detached, read-only bind mount of our own binary, as an fd to exec.
fn readonly_view() -> Result<OwnedFd> {
    let path = c"/proc/self/exe";
    // SAFETY: open_tree with a static C path and flags; returns a new fd.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    let fd = nix::errno::Errno::result(fd).ctx(|| "exe seal: open_tree".into())?;
    // SAFETY: open_tree returned a fresh fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) };
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr on our detached mount fd with a valid, sized attr.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    nix::errno::Errno::result(rc).ctx(|| "exe seal: mount_setattr".into())?;
    Ok(fd)
}

/// A sealed memfd copy of our own binary (the fallback for older kernels).
fn sealed_copy() -> Result<OwnedFd> {
    let mut src =
        std::fs::File::open("/proc/self/exe").map_err(|e| Error::io("/proc/self/exe", e))?;
    let mut dst = std::fs::File::from(memfd()?);
    std::io::copy(&mut src, &mut dst).map_err(|e| Error::io("exe seal: copy", e))?;
    drop(src);
    // SAFETY: fcntl with integer arguments on our memfd.
    let rc = unsafe { libc::fcntl(dst.as_raw_fd(), libc::F_ADD_SEALS, SEALS) };
    nix::errno::Errno::result(rc).ctx(|| "exe seal: F_ADD_SEALS".into())?;
    Ok(OwnedFd::from(dst))
}

fn memfd() -> Result<OwnedFd> {
    let name = c"stockade";
    const MFD_EXEC: libc::c_uint = 0x10;
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: memfd_create with a static C string and flags.
    let mut fd = unsafe { libc::memfd_create(name.as_ptr(), base | MFD_EXEC) };
    if fd < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINVAL {
        // Kernels before 6.3 do not know MFD_EXEC (memfds are executable).
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(name.as_ptr(), base) };
    }
    nix::errno::Errno::result(fd).ctx(|| "exe seal: memfd_create".into())?;
    // SAFETY: memfd_create returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Re-execute from an unwritable view of our binary unless already there.
/// Returns only when already sealed, or on error.
pub fn ensure_sealed() -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
    let dst = match readonly_view() {
        Ok(fd) => fd,
        Err(_) => sealed_copy()?,
    };
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.into_encoded_bytes()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Usage("argument with a NUL byte".into()))?;
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut b = k.into_encoded_bytes();
            b.push(b'=');
            b.extend(v.into_encoded_bytes());
            CString::new(b)
        })
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Usage("environment with a NUL byte".into()))?;
    let e = nix::unistd::execveat(&dst, c"", &args, &env, nix::fcntl::AtFlags::AT_EMPTY_PATH)
        .unwrap_err();
    Err(Error::sys("exe seal: execveat of the sealed copy", e))
}
