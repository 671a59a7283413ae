//! Linux security modules the config names: AppArmor
//! (`process.apparmorProfile`) and SELinux (`process.selinuxLabel`,
//! `linux.mountLabel`).
//!
//! Two moments, like runc: [`check`] runs in the runtime before anything is
//! made (a host without the LSM, a profile that is not loaded, a label the
//! policy rejects: one clear error naming it), and [`apply_on_exec`] runs in
//! the init (or the `exec` process) just before `execve`, writing the
//! change-on-exec attribute of the calling thread. That write goes through
//! the procfs mounted at `/proc`, checked to be procfs, without crossing a
//! mount or following a magic link (CVE-2019-16884: a fake `/proc` made the
//! label write land in an ordinary file and the profile was silently lost).

pub mod apparmor;
pub mod selinux;

use crate::error::{Error, Result};
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::{Process, Spec};
use std::io::Write;
use std::os::fd::AsFd;

const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Write `value` in one `write` to `/proc/thread-self/attr/<sub>/<name>`,
/// or `attr/<name>` when the kernel has no per-LSM directory.
fn write_attr(field: &str, sub: Option<&str>, name: &str, value: &str) -> Result<()> {
    let proc_ = nix::fcntl::open(
        "/proc",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys(format!("{field}: open /proc"), e))?;
    let is_proc = |fd: &dyn AsFd| {
        nix::sys::statfs::fstatfs(fd)
            .map(|s| s.filesystem_type().0 == PROC_SUPER_MAGIC)
            .unwrap_or(false)
    };
    if !is_proc(&proc_) {
        return Err(Error::field(
            field,
            "/proc is not procfs (a mount was swapped in?): the label cannot be applied",
        ));
    }
    let how = || {
        OpenHow::new()
            .flags(OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
            .resolve(
                ResolveFlag::RESOLVE_BENEATH
                    | ResolveFlag::RESOLVE_NO_MAGICLINKS
                    | ResolveFlag::RESOLVE_NO_XDEV,
            )
    };
    let mut paths = Vec::new();
    if let Some(s) = sub {
        paths.push(format!("thread-self/attr/{s}/{name}"));
    }
    paths.push(format!("thread-self/attr/{name}"));
    let mut last = nix::errno::Errno::ENOENT;
    for p in &paths {
        match nix::fcntl::openat2(proc_.as_fd(), p.as_str(), how()) {
            Ok(fd) => {
                if !is_proc(&fd) {
                    return Err(Error::field(field, format!("/proc/{p} is not on procfs")));
                }
                let mut f = std::fs::File::from(fd);
                return f.write_all(value.as_bytes()).map_err(|e| {
                    let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0));
                    Error::sys(format!("{field}: write {value:?} to /proc/{p}"), errno)
                });
            }
            Err(e) => last = e,
        }
    }
    Err(Error::sys(
        format!("{field}: open /proc/thread-self/attr/{name}"),
        last,
    ))
}

/// In the runtime, before anything is made: every LSM field of `spec` can be
/// applied on this host.
pub fn check(spec: &Spec) -> Result<()> {
    if let Some(p) = spec.process() {
        check_process(p)?;
    }
    if let Some(l) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.mount_label().as_deref())
    {
        if !l.is_empty() {
            selinux::check_label("linux.mountLabel", l)?;
        }
    }
    Ok(())
}

/// The fields of one process (the container's, or an `exec`'s).
pub fn check_process(p: &Process) -> Result<()> {
    if let Some(a) = p.apparmor_profile().as_deref().filter(|a| !a.is_empty()) {
        apparmor::check_profile(a)?;
    }
    if let Some(l) = p.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        selinux::check_label("process.selinuxLabel", l)?;
    }
    Ok(())
}

/// In the init, just before `execve`: the change-on-exec attributes.
pub fn apply_on_exec(p: &Process) -> Result<()> {
    if let Some(a) = p.apparmor_profile().as_deref().filter(|a| !a.is_empty()) {
        apparmor::change_on_exec(a)?;
    }
    if let Some(l) = p.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        selinux::set_exec_label(l)?;
    }
    Ok(())
}
