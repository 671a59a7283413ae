//! CVE-2019-5736: a container process must never be able to write the
//! runtime's binary through `/proc/<pid>/exe` of a runtime process that runs
//! in, or joins, the container.
//!
//! Before `create`, `run` and `exec` make anything (unless no process of the
//! container could write the binary anyway, below), the runtime re-executes
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
//!
//! `create` and `run` skip the re-execution when no process of the container
//! could open the binary for writing anyway ([`container_may_write`]): the
//! container runs in a new user namespace whose uid map leaves out the
//! binary's owner and in a new pid namespace (only its own processes see the
//! init), and the binary gives no write permission to its group or to others
//! and has no ACL. The kernel's permission check then refuses the
//! write to every process of that namespace, whatever capabilities it holds
//! there: a capability overrides file permissions only for an inode whose
//! owner and group are mapped into the caller's namespace
//! (`capable_wrt_inode_uidgid`), and the namespace's processes hold none in
//! the host's. That is stockade's hardened default (container root is host
//! uid 100000), and the re-execution (an exec, plus the detached mount's
//! teardown when its last process exits) is about 1 ms of a 10 ms start.
//! `exec` decides the same way from the container's config in its state.
//!
//! The detached mount goes away when the fd that `open_tree(2)` returned is
//! closed, and that close waits for an expedited RCU grace period
//! (`namespace_unlock`): 0.7–1.4 ms here, about what the whole re-execution
//! otherwise costs. Closed at the exec (O_CLOEXEC), it would hold up the
//! re-executed runtime before its first instruction. So [`ensure_sealed`]
//! hands the fd across the exec (named in [`VIEW_FD_ENV`]), the re-executed
//! runtime takes it over at once ([`adopt_view`]: O_CLOEXEC again, the
//! variable removed, the fd checked to be the read-only view of the binary it
//! runs from), every child it makes closes its copy at once
//! ([`crate::spawn`]), and the runtime closes it ([`release_view`]) while it
//! waits for the container's init anyway. The fd is only ever the read-only
//! view that `/proc/self/exe` already names, so holding it longer gives no
//! process anything it could write.

use crate::error::{Error, Result, SysContext};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// The environment variable that names, in the re-executed runtime, the fd of
/// the detached read-only view it was executed from.
pub const VIEW_FD_ENV: &str = "_STOCKADE_EXESEAL_FD";

/// The adopted view's fd, or -1.
static VIEW_FD: AtomicI32 = AtomicI32::new(-1);

/// In the re-executed runtime, first thing: take over the view's fd that
/// [`ensure_sealed`] left open across the exec (see the module comment), and
/// remove [`VIEW_FD_ENV`] from the environment. The fd is taken only when it
/// is the binary we run from (same device and inode as `/proc/self/exe`) on a
/// read-only mount; anything else named there is left alone. Call it while
/// the process has one thread.
pub fn adopt_view() {
    let Some(v) = std::env::var_os(VIEW_FD_ENV) else {
        return;
    };
    std::env::remove_var(VIEW_FD_ENV);
    let Some(fd) = v.to_str().and_then(|s| s.parse::<RawFd>().ok()) else {
        return;
    };
    if fd <= 2 || VIEW_FD.load(Ordering::Relaxed) >= 0 || !is_view_of_self(fd) {
        return;
    }
    // SAFETY: fcntl with integer arguments on an fd checked above.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == 0 {
        VIEW_FD.store(fd, Ordering::Relaxed);
    }
}

/// Whether `fd` is our own binary (as `/proc/self/exe` names it) on a
/// read-only mount.
fn is_view_of_self(fd: RawFd) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(exe) = std::fs::metadata("/proc/self/exe") else {
        return false;
    };
    // SAFETY: fstat and fstatvfs fill zeroed structs for an fd number; a
    // closed or foreign fd only makes them fail or describe another file.
    let (st, vfs) = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        let mut vfs: libc::statvfs = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 || libc::fstatvfs(fd, &mut vfs) != 0 {
            return false;
        }
        (st, vfs)
    };
    st.st_dev == exe.dev() && st.st_ino == exe.ino() && vfs.f_flag & libc::ST_RDONLY != 0
}

/// The adopted view's fd, for children to close ([`crate::spawn`]).
pub fn view_fd() -> Option<RawFd> {
    Some(VIEW_FD.load(Ordering::Relaxed)).filter(|fd| *fd >= 0)
}

/// Close the adopted view's fd (see the module comment): where the runtime
/// waits for its child anyway, so that the mount's teardown overlaps the
/// child's work. Idempotent; at exit the kernel closes it otherwise.
pub fn release_view() {
    let fd = VIEW_FD.swap(-1, Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: the fd was adopted by adopt_view and is closed once (swap).
        unsafe { libc::close(fd) };
    }
}

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
    // SAFETY: f is an open File for the whole call; st is a live, writable libc::statvfs.
    let rc = unsafe { libc::fstatvfs(f.as_raw_fd(), &mut st) };
    rc == 0 && st.f_flag & libc::ST_RDONLY != 0
}

/// Who may write a file, as far as [`container_may_write`] needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileAccess {
    /// Owner uid and mode bits, as `fstat` reports them.
    pub uid: u32,
    pub mode: u32,
    /// The file carries a POSIX ACL (or we could not tell).
    pub acl: bool,
}

impl FileAccess {
    /// Our own binary, through `/proc/self/exe`. `None` when it cannot be
    /// examined (the caller then seals).
    pub fn of_self() -> Option<FileAccess> {
        use std::os::unix::fs::MetadataExt;
        let f = std::fs::File::open("/proc/self/exe").ok()?;
        let md = f.metadata().ok()?;
        // SAFETY: fgetxattr on an fd we own with a static C name; a null
        // buffer of size 0 only asks for the value's size.
        let rc = unsafe {
            libc::fgetxattr(
                f.as_raw_fd(),
                c"system.posix_acl_access".as_ptr(),
                std::ptr::null_mut(),
                0,
            )
        };
        let errno = nix::errno::Errno::last();
        let acl = !(rc < 0
            && matches!(
                errno,
                nix::errno::Errno::ENODATA | nix::errno::Errno::EOPNOTSUPP
            ));
        Some(FileAccess {
            uid: md.uid(),
            mode: md.mode(),
            acl,
        })
    }
}

/// Whether a process that can see the container's init could open the file
/// described by `file` (our binary) for writing; see the module comment.
/// `true` unless the container has a new user namespace whose uid map leaves
/// out the file's owner and a new pid namespace (so that only the
/// container's own processes see the init, not those of a pid namespace it
/// joins, which may not be in a user namespace), and the file grants no group
/// or other write and has no ACL. Group write counts even when the group is
/// unmapped: where setgroups(2) is denied in the namespace, its processes
/// keep the host groups they were created with.
pub fn container_may_write(spec: &Spec, file: Option<FileAccess>) -> bool {
    let Some(file) = file else {
        return true;
    };
    if file.acl || file.mode & 0o022 != 0 {
        return true;
    }
    let linux = spec.linux().as_ref();
    let new_ns = |t: LinuxNamespaceType| {
        linux
            .and_then(|l| l.namespaces().as_ref())
            .is_some_and(|nss| nss.iter().any(|n| n.typ() == t && n.path().is_none()))
    };
    let uids: &[LinuxIdMapping] = linux
        .and_then(|l| l.uid_mappings().as_deref())
        .unwrap_or(&[]);
    if !new_ns(LinuxNamespaceType::User) || !new_ns(LinuxNamespaceType::Pid) || uids.is_empty() {
        return true;
    }
    uids.iter().any(|m| {
        let start = u64::from(m.host_id());
        (start..start + u64::from(m.size())).contains(&u64::from(file.uid))
    })
}

/// Seal (see [`ensure_sealed`]) unless no process of the container made from
/// `spec` could write our binary ([`container_may_write`]).
pub fn ensure_sealed_for(spec: &Spec) -> Result<()> {
    if container_may_write(spec, FileAccess::of_self()) {
        ensure_sealed()
    } else {
        Ok(())
    }
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
    let (dst, view) = match readonly_view() {
        Ok(fd) => (fd, true),
        Err(_) => (sealed_copy()?, false),
    };
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.into_encoded_bytes()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Usage("argument with a NUL byte".into()))?;
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != VIEW_FD_ENV)
        .map(|(k, v)| {
            let mut b = k.into_encoded_bytes();
            b.push(b'=');
            b.extend(v.into_encoded_bytes());
            CString::new(b)
        })
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Usage("environment with a NUL byte".into()))?;
    if view {
        // Keep the view's fd open across the exec (see the module comment);
        // the re-executed runtime sets O_CLOEXEC on it again (adopt_view).
        // SAFETY: fcntl with integer arguments on our fd.
        let rc = unsafe { libc::fcntl(dst.as_raw_fd(), libc::F_SETFD, 0) };
        if let (0, Ok(var)) = (
            rc,
            CString::new(format!("{VIEW_FD_ENV}={}", dst.as_raw_fd())),
        ) {
            env.push(var);
        }
    }
    let e = nix::unistd::execveat(&dst, c"", &args, &env, nix::fcntl::AtFlags::AT_EMPTY_PATH)
        .unwrap_err();
    Err(Error::sys("exe seal: execveat of the sealed copy", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(ns: serde_json::Value, uids: serde_json::Value) -> Spec {
        serde_json::from_value(json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "linux": {"namespaces": ns, "uidMappings": uids},
        }))
        .unwrap()
    }

    const ROOT_0755: FileAccess = FileAccess {
        uid: 0,
        mode: 0o100755,
        acl: false,
    };

    /// adopt_view takes over only the read-only view of the binary we run from.
    #[test]
    fn only_the_readonly_view_of_our_binary_is_ours() {
        let exe = std::fs::File::open("/proc/self/exe").unwrap();
        // A plain fd of our binary is the view only where the binary itself
        // sits on a read-only mount.
        assert_eq!(is_view_of_self(exe.as_raw_fd()), is_sealed());
        let other = std::fs::File::open("/dev/null").unwrap();
        assert!(!is_view_of_self(other.as_raw_fd()));
        assert!(!is_view_of_self(-1));
        match readonly_view() {
            Ok(v) => assert!(is_view_of_self(v.as_raw_fd())),
            Err(e) => println!("SKIP: only_the_readonly_view_of_our_binary_is_ours (view): {e}"),
        }
    }

    #[test]
    fn user_namespace_without_the_owner_needs_no_seal() {
        let s = spec(
            json!([{"type": "user"}, {"type": "pid"}, {"type": "mount"}]),
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
        );
        assert!(!container_may_write(&s, Some(ROOT_0755)));
    }

    #[test]
    fn every_other_case_seals() {
        let userns = json!([{"type": "user"}, {"type": "pid"}]);
        let shifted = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        // No user namespace: container root is host root.
        assert!(container_may_write(
            &spec(json!([{"type": "mount"}]), json!([])),
            Some(ROOT_0755)
        ));
        // Joining an existing user namespace: its map is not ours to read here.
        assert!(container_may_write(
            &spec(
                json!([{"type": "user", "path": "/proc/1/ns/user"}, {"type": "pid"}]),
                json!([])
            ),
            Some(ROOT_0755)
        ));
        // The host's pid namespace, or another one joined: processes outside
        // the user namespace see the init.
        for pid in [
            json!([{"type": "user"}]),
            json!([{"type": "user"}, {"type": "pid", "path": "/proc/1/ns/pid"}]),
        ] {
            assert!(container_may_write(
                &spec(pid, shifted.clone()),
                Some(ROOT_0755)
            ));
        }
        // The owner is mapped (first and last id of a range).
        for uid in [100000, 165535] {
            let f = FileAccess { uid, ..ROOT_0755 };
            assert!(container_may_write(
                &spec(userns.clone(), shifted.clone()),
                Some(f)
            ));
        }
        let f = FileAccess {
            uid: 165536,
            ..ROOT_0755
        };
        assert!(!container_may_write(
            &spec(userns.clone(), shifted.clone()),
            Some(f)
        ));
        // Group or other write, an ACL, or a binary we could not examine.
        for f in [
            FileAccess {
                mode: 0o100775,
                ..ROOT_0755
            },
            FileAccess {
                mode: 0o100757,
                ..ROOT_0755
            },
            FileAccess {
                acl: true,
                ..ROOT_0755
            },
        ] {
            assert!(container_may_write(
                &spec(userns.clone(), shifted.clone()),
                Some(f)
            ));
        }
        assert!(container_may_write(&spec(userns, shifted), None));
    }
}
