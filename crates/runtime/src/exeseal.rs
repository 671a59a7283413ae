//! CVE-2019-5736: a container process must never be able to write the
//! runtime's binary through `/proc/<pid>/exe` of a runtime process that runs
//! in, or joins, the container.
//!
//! Before `create`, `run` and `exec` do anything, the runtime copies its own
//! binary into a `memfd`, seals it (`F_SEAL_SEAL | F_SEAL_SHRINK |
//! F_SEAL_GROW | F_SEAL_WRITE`) and re-executes itself from it (the idea of
//! runc's `exeseal` and crun's `cloned_binary`). Every process that later
//! enters the container (the init, `exec`'s joining process) therefore has a
//! sealed, anonymous copy as `/proc/self/exe`: writing it fails, and the host
//! binary is not reachable through it. A process whose exe is already sealed
//! does nothing, so the re-executed runtime goes straight on.

use crate::error::{Error, Result, SysContext};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Whether this process runs from a sealed memfd.
pub fn is_sealed() -> bool {
    let Ok(f) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: fcntl on an fd we own, integer command only.
    let s = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    s >= 0 && s & SEALS == SEALS
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

/// Re-execute from a sealed memfd copy of our binary unless already there.
/// Returns only when already sealed, or on error.
pub fn ensure_sealed() -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
    let mut src =
        std::fs::File::open("/proc/self/exe").map_err(|e| Error::io("/proc/self/exe", e))?;
    let mut dst = std::fs::File::from(memfd()?);
    std::io::copy(&mut src, &mut dst).map_err(|e| Error::io("exe seal: copy", e))?;
    drop(src);
    // SAFETY: fcntl with integer arguments on our memfd.
    let rc = unsafe { libc::fcntl(dst.as_raw_fd(), libc::F_ADD_SEALS, SEALS) };
    nix::errno::Errno::result(rc).ctx(|| "exe seal: F_ADD_SEALS".into())?;
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
