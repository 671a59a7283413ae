//! The container's filesystem: mounts, devices, pivot_root, masked and
//! read-only paths.
//!
//! Every path inside the rootfs is resolved with `openat2(RESOLVE_IN_ROOT)`
//! against an fd of the rootfs, never by joining strings, so a symlink in the
//! image cannot redirect a mount onto the host. Mount targets are then given
//! to mount(2) as `/proc/self/fd/N` of that resolved `O_PATH` fd. Every fd is
//! `O_CLOEXEC`.

use crate::cgroups::Cgroup;
use crate::error::{Error, Result, SysContext};
use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{fstat, mkdirat, mknodat, Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, LinuxNamespaceType, Mount, Spec};
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// Path of an fd through procfs, usable as a mount(2) source or target.
pub fn fd_path(fd: &impl AsRawFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// A handle on a root directory; all lookups stay inside it.
pub struct Root {
    fd: OwnedFd,
    /// The path it was opened at (only the test-only `safe-path` knob uses
    /// it, to show what joining strings does).
    path: PathBuf,
}

fn rel(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

impl Root {
    pub fn open(path: &Path) -> Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ctx(|| format!("open rootfs {}", path.display()))?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
        })
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Resolve `path` inside the root to an `O_PATH` fd.
    pub fn resolve(&self, path: &Path) -> nix::Result<OwnedFd> {
        let r = rel(path);
        let r = if r.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            r
        };
        openat2(
            self.fd.as_fd(),
            &r,
            OpenHow::new()
                .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
                .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS),
        )
    }

    /// `mkdir -p` inside the root; returns an `O_PATH` fd of the directory.
    pub fn mkdir_all(&self, path: &Path) -> nix::Result<OwnedFd> {
        let r = rel(path);
        let mut cur = self.resolve(Path::new("/"))?;
        let mut so_far = PathBuf::from("/");
        for c in r.components() {
            so_far.push(c);
            match self.resolve(&so_far) {
                Ok(fd) => cur = fd,
                Err(nix::errno::Errno::ENOENT) => {
                    match mkdirat(cur.as_fd(), c.as_os_str(), Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                        Err(e) => return Err(e),
                    }
                    cur = self.resolve(&so_far)?;
                }
                Err(e) => return Err(e),
            }
        }
        if !fstat(cur.as_fd())?.st_mode & libc::S_IFMT == libc::S_IFDIR {
            return Err(nix::errno::Errno::ENOTDIR);
        }
        Ok(cur)
    }

    /// Make sure a regular file exists at `path` (for file bind mounts).
    pub fn create_file(&self, path: &Path) -> nix::Result<OwnedFd> {
        if let Ok(fd) = self.resolve(path) {
            return Ok(fd);
        }
        let parent = path.parent().unwrap_or(Path::new("/"));
        let name = path.file_name().ok_or(nix::errno::Errno::EINVAL)?;
        let dir = self.mkdir_all(parent)?;
        // The parent was resolved in the root; a plain name with O_NOFOLLOW
        // cannot leave it.
        match openat(
            dir.as_fd(),
            name,
            OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
            Mode::from_bits_truncate(0o644),
        ) {
            Ok(_) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        self.resolve(path)
    }

    /// Remove a symlink at `path` (its parent resolved in the root), so what
    /// is created there next is a file of the root, never the link's target
    /// (CVE-2025-31133 / CVE-2025-52565 shapes: /dev/null, /dev/console
    /// planted as symlinks). Anything else at `path` is left alone.
    pub fn remove_symlink(&self, path: &Path) -> nix::Result<()> {
        let Some(name) = path.file_name() else {
            return Ok(());
        };
        let parent = match self.resolve(path.parent().unwrap_or(Path::new("/"))) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(e),
        };
        let is_link = nix::sys::stat::fstatat(
            parent.as_fd(),
            name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK);
        if is_link {
            nix::unistd::unlinkat(
                parent.as_fd(),
                name,
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            )?;
        }
        Ok(())
    }

    /// Refuse a path whose symlinks, followed on the host, would leave the
    /// root (e.g. `etc -> ../../../etc`). Resolution in the root would keep
    /// them inside anyway; this check turns an attempt into a clear error.
    pub fn check_escape(&self, path: &Path, field: &str) -> Result<()> {
        let mut todo: Vec<PathBuf> = rel(path)
            .components()
            .rev()
            .map(|c| c.as_os_str().into())
            .collect();
        let mut cur: Vec<std::ffi::OsString> = Vec::new();
        let mut hops = 0;
        let escape = |what: &str| {
            Error::field(
                field,
                format!("{} resolves outside the rootfs ({what})", path.display()),
            )
        };
        while let Some(c) = todo.pop() {
            let c = c.as_os_str();
            if c == "." || c.is_empty() {
                continue;
            }
            if c == ".." {
                if cur.pop().is_none() {
                    return Err(escape("'..' above the root"));
                }
                continue;
            }
            cur.push(c.to_os_string());
            let p: PathBuf = cur.iter().collect();
            match nix::fcntl::readlinkat(self.fd.as_fd(), &p) {
                Ok(target) => {
                    hops += 1;
                    if hops > 40 {
                        return Err(escape("too many symlinks"));
                    }
                    cur.pop();
                    let t = Path::new(&target);
                    if t.is_absolute() {
                        // An absolute link is followed on the host from "/":
                        // it is safe only if it stays below the root lexically
                        // (we then resolve it in the root).
                        if crate::util::clean_in_root(t).is_none() {
                            return Err(escape(&format!(
                                "symlink {} -> {}",
                                p.display(),
                                t.display()
                            )));
                        }
                        cur.clear();
                    }
                    let mut parts: Vec<PathBuf> = Vec::new();
                    for comp in t.components() {
                        match comp {
                            Component::Normal(n) => parts.push(n.into()),
                            Component::ParentDir => parts.push("..".into()),
                            _ => {}
                        }
                    }
                    // Check the link's own '..' against the current depth.
                    let mut depth = cur.len() as i64;
                    for q in &parts {
                        if q.as_os_str() == ".." {
                            depth -= 1;
                            if depth < 0 {
                                return Err(escape(&format!(
                                    "symlink {} -> {}",
                                    p.display(),
                                    t.display()
                                )));
                            }
                        } else {
                            depth += 1;
                        }
                    }
                    for q in parts.into_iter().rev() {
                        todo.push(q);
                    }
                }
                Err(nix::errno::Errno::EINVAL) => {} // not a symlink
                Err(nix::errno::Errno::ENOENT) | Err(nix::errno::Errno::ENOTDIR) => return Ok(()),
                Err(e) => return Err(Error::sys(format!("{field}: readlink {}", p.display()), e)),
            }
        }
        Ok(())
    }
}

/// Mount options parsed from a config.json `options` list.
#[derive(Debug)]
pub struct MountOpts {
    pub flags: MsFlags,
    pub clear: MsFlags,
    pub propagation: Vec<MsFlags>,
    pub data: Vec<String>,
    pub bind: bool,
    pub rec: bool,
    /// `idmap` (false) or `ridmap` (true): an idmapped bind mount.
    pub idmap: Option<bool>,
    /// Recursive attributes (`rro`, `rnosuid`, ...) for mount_setattr(2)
    /// with AT_RECURSIVE: set and cleared `MOUNT_ATTR_*` bits.
    pub rattr_set: u64,
    pub rattr_clr: u64,
}

pub fn parse_options(opts: &[String]) -> Result<MountOpts, String> {
    let mut o = MountOpts {
        flags: MsFlags::empty(),
        clear: MsFlags::empty(),
        propagation: Vec::new(),
        data: Vec::new(),
        bind: false,
        rec: false,
        idmap: None,
        rattr_set: 0,
        rattr_clr: 0,
    };
    for opt in opts {
        let (set, clear): (MsFlags, MsFlags) = match opt.as_str() {
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "lazytime" => (MsFlags::MS_LAZYTIME, MsFlags::empty()),
            "nolazytime" => (MsFlags::empty(), MsFlags::MS_LAZYTIME),
            "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
            "loud" => (MsFlags::empty(), MsFlags::MS_SILENT),
            "iversion" => (MsFlags::MS_I_VERSION, MsFlags::empty()),
            "noiversion" => (MsFlags::empty(), MsFlags::MS_I_VERSION),
            "bind" => {
                o.bind = true;
                continue;
            }
            "rbind" => {
                o.bind = true;
                o.rec = true;
                continue;
            }
            p @ ("shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate"
            | "unbindable" | "runbindable") => {
                let base = match p.trim_start_matches('r') {
                    "shared" => MsFlags::MS_SHARED,
                    "slave" => MsFlags::MS_SLAVE,
                    "private" => MsFlags::MS_PRIVATE,
                    _ => MsFlags::MS_UNBINDABLE,
                };
                let rec = if p.starts_with('r') && p != "rw" {
                    MsFlags::MS_REC
                } else {
                    MsFlags::empty()
                };
                o.propagation.push(base | rec);
                continue;
            }
            "tmpcopyup" => continue,
            "idmap" => {
                o.idmap = Some(false);
                continue;
            }
            "ridmap" => {
                o.idmap = Some(true);
                continue;
            }
            r if r.starts_with('r') && recursive_attr(&r[1..]).is_some() => {
                if let Some((set, clr)) = recursive_attr(&r[1..]) {
                    o.rattr_set = (o.rattr_set & !clr) | set;
                    o.rattr_clr = (o.rattr_clr & !set) | clr;
                }
                continue;
            }
            _ => {
                o.data.push(opt.clone());
                continue;
            }
        };
        o.flags |= set;
        o.flags &= !clear;
        o.clear |= clear;
    }
    Ok(o)
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const MOUNT_ATTR_ATIME: u64 = 0x70;
const MOUNT_ATTR_NOATIME: u64 = 0x10;
const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// The `MOUNT_ATTR_*` bits a recursive option (without its leading `r`)
/// sets and clears. The atime modes are one field: setting one clears the
/// others (relatime is the field's zero value).
fn recursive_attr(o: &str) -> Option<(u64, u64)> {
    Some(match o {
        "ro" => (MOUNT_ATTR_RDONLY, 0),
        "rw" => (0, MOUNT_ATTR_RDONLY),
        "nosuid" => (MOUNT_ATTR_NOSUID, 0),
        "suid" => (0, MOUNT_ATTR_NOSUID),
        "nodev" => (MOUNT_ATTR_NODEV, 0),
        "dev" => (0, MOUNT_ATTR_NODEV),
        "noexec" => (MOUNT_ATTR_NOEXEC, 0),
        "exec" => (0, MOUNT_ATTR_NOEXEC),
        "noatime" => (MOUNT_ATTR_NOATIME, MOUNT_ATTR_ATIME),
        "strictatime" => (MOUNT_ATTR_STRICTATIME, MOUNT_ATTR_ATIME),
        "relatime" | "atime" => (0, MOUNT_ATTR_ATIME),
        "nodiratime" => (MOUNT_ATTR_NODIRATIME, 0),
        "diratime" => (0, MOUNT_ATTR_NODIRATIME),
        "nosymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, 0),
        "symfollow" => (0, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

/// mount_setattr(2) on the mount at `fd` (and, with `recursive`, every
/// mount below it).
fn set_attr(fd: &impl AsRawFd, attr: &MountAttr, recursive: bool) -> nix::Result<()> {
    let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
    // SAFETY: mount_setattr on a live fd with an empty C path and a valid,
    // sized mount_attr.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    nix::errno::Errno::result(rc).map(drop)
}

/// Flags of an existing mount that a bind remount must keep (the kernel
/// refuses to drop locked nosuid/nodev/noexec/atime flags in a user namespace).
fn locked_flags(fd: &OwnedFd) -> MsFlags {
    use nix::sys::statvfs::{fstatvfs, FsFlags};
    let mut m = MsFlags::empty();
    if let Ok(s) = fstatvfs(fd) {
        let f = s.flags();
        for (a, b) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if f.contains(a) {
                m |= b;
            }
        }
    }
    m
}

fn mnt(
    src: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> nix::Result<()> {
    mount(src, target, fstype, flags, data)
}

/// Step: make the host's mounts invisible to changes we make, and turn the
/// rootfs into a mount point of its own (pivot_root needs one).
///
/// With `tree` (a detached rootfs from [`detached_root`]), the tree is
/// attached on top of this mount namespace's `/` (move_mount(2)) instead:
/// no path to the rootfs is walked from inside the user namespace, and
/// lookups by absolute path (host /sys, host device nodes) still see the
/// host's tree until pivot_root.
pub fn prepare_root(spec: &Spec, rootfs: &Path, tree: Option<OwnedFd>) -> Result<Root> {
    let prop = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().clone())
        .unwrap_or_default();
    let flags = match prop.as_str() {
        "" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "shared" | "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" | "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "private" | "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "unbindable" | "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        other => {
            return Err(Error::field(
                "linux.rootfsPropagation",
                format!("unknown value {other:?}"),
            ))
        }
    };
    // A shared root would propagate our mounts back to the host, and an
    // unbindable one could not be bind-mounted onto itself below; start from
    // slave (or what the config asks) for the whole tree, and apply shared or
    // unbindable after pivot_root (finish_propagation). Without a mount
    // namespace of its own "/" is the host's: leave its propagation alone.
    let first = if flags.intersects(MsFlags::MS_SHARED | MsFlags::MS_UNBINDABLE) {
        MsFlags::MS_SLAVE | MsFlags::MS_REC
    } else {
        flags
    };
    if has_mount_ns(spec) {
        mnt(None, "/", None, first, None).ctx(|| "make / rslave".into())?;
    }
    if let Some(fd) = tree.filter(|_| has_mount_ns(spec)) {
        // SAFETY: move_mount of our detached tree's fd onto "/", static C
        // strings, flags only.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                fd.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_FDCWD,
                c"/".as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        };
        nix::errno::Errno::result(rc).ctx(|| format!("root.path: attach {}", rootfs.display()))?;
        // The tree was cloned in the host's mount namespace, so on a host whose mounts are
        // shared (every systemd host) it joined their peer group, and pivot_root refuses a
        // shared new root (EINVAL). Give it the propagation "/" got above.
        mnt(None, &fd_path(&fd), None, first, None).ctx(|| {
            format!(
                "root.path: make the attached {} {first:?}",
                rootfs.display()
            )
        })?;
        return Ok(Root {
            fd,
            path: rootfs.to_path_buf(),
        });
    }
    mnt(
        Some(rootfs.to_str().unwrap_or_default()),
        rootfs.to_str().unwrap_or_default(),
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .ctx(|| format!("root.path: bind {} onto itself", rootfs.display()))?;
    Root::open(rootfs)
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
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// Host side of `create`, for a container with its own user and mount
/// namespaces: a detached copy of the rootfs tree (open_tree(2)
/// `OPEN_TREE_CLONE | AT_RECURSIVE`), opened with the runtime's host
/// privileges, so the bundle may sit in a directory the container's root
/// cannot traverse (a `mktemp -d`). With `idmap` (the user namespace's fd),
/// the tree is idmapped through that namespace (mount_setattr(2)
/// `MOUNT_ATTR_IDMAP`): a file owned by host uid N shows as uid N inside,
/// and what the container creates is owned by the same ids on disk. The
/// init attaches it ([`prepare_root`]).
pub fn detached_root(rootfs: &Path, idmap: Option<&OwnedFd>) -> Result<OwnedFd> {
    detached_tree(rootfs, true, idmap, true, "root.path")
}

/// The tag of an idmapped mount sent to the init before GO: `M`, then the
/// mount's index (u32, native order), with the tree as SCM_RIGHTS.
pub const IDMAPPED_MOUNT: u8 = b'M';

/// Host side: a detached, idmapped copy of `mounts[i]`'s source (an
/// `idmap`/`ridmap` bind mount, or one with `uidMappings`), through the
/// container's user namespace `userns`. A mount's own mappings must be the
/// container's (what containerd and Kubernetes' `hostUsers: false` send).
pub fn idmapped_mount(
    spec: &Spec,
    i: usize,
    m: &Mount,
    bundle: &Path,
    userns: Option<&OwnedFd>,
) -> Result<Option<OwnedFd>> {
    let field = format!("mounts[{i}]");
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]))
        .map_err(|e| Error::unsupported(format!("{field}.options"), e))?;
    if opts.idmap.is_none() && m.uid_mappings().is_none() && m.gid_mappings().is_none() {
        return Ok(None);
    }
    let is_bind = opts.bind || m.typ().as_deref() == Some("bind");
    if !is_bind {
        return Err(Error::unsupported(
            format!("{field}.options"),
            "idmapped mounts of a filesystem type (only bind mounts are idmapped)",
        ));
    }
    let linux = spec.linux().as_ref();
    let same = |mine: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>,
                theirs: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
        mine.as_ref().is_none_or(|m| Some(m) == theirs)
    };
    if !same(
        m.uid_mappings(),
        linux.and_then(|l| l.uid_mappings().as_ref()),
    ) || !same(
        m.gid_mappings(),
        linux.and_then(|l| l.gid_mappings().as_ref()),
    ) {
        return Err(Error::unsupported(
            format!("{field}.uidMappings"),
            "mappings other than the container's linux.uidMappings/gidMappings",
        ));
    }
    let Some(userns) = userns else {
        return Err(Error::field(
            format!("{field}.options"),
            "an idmapped mount needs a user namespace of the container's own (linux.uidMappings)",
        ));
    };
    let src = m
        .source()
        .as_ref()
        .ok_or_else(|| Error::field(format!("{field}.source"), "bind mount without a source"))?;
    let src = if src.is_absolute() {
        src.clone()
    } else {
        bundle.join(src)
    };
    let recursive = opts.idmap == Some(true);
    detached_tree(
        &src,
        opts.rec || recursive,
        Some(userns),
        recursive,
        &format!("{field}.source"),
    )
    .map(Some)
}

fn detached_tree(
    path: &Path,
    tree: bool,
    idmap: Option<&OwnedFd>,
    idmap_recursive: bool,
    field: &str,
) -> Result<OwnedFd> {
    let rootfs = path;
    let c = std::ffi::CString::new(rootfs.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::field(field, "contains a NUL byte"))?;
    let rec = if tree {
        libc::AT_RECURSIVE as libc::c_uint
    } else {
        0
    };
    // SAFETY: open_tree with a valid C path and flags; returns a new fd.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | rec,
        )
    };
    let fd =
        nix::errno::Errno::result(fd).ctx(|| format!("{field}: open_tree {}", rootfs.display()))?;
    // SAFETY: open_tree returned a fresh fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) };
    if let Some(userns) = idmap {
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_IDMAP,
            attr_clr: 0,
            propagation: 0,
            userns_fd: userns.as_raw_fd() as u64,
        };
        set_attr(&fd, &attr, idmap_recursive).ctx(|| {
            format!(
                "{field}: idmapped mount of {} (does its filesystem support idmapped mounts?)",
                rootfs.display()
            )
        })?;
    }
    Ok(fd)
}

/// Step: every entry of `mounts`, in order.
/// `idmapped` holds the trees the runtime made for idmapped bind mounts
/// ([`idmapped_mount`]), by index.
pub fn mount_all(
    root: &Root,
    spec: &Spec,
    bundle: &Path,
    cgroup: &Cgroup,
    userns: bool,
    idmapped: &mut Vec<(usize, OwnedFd)>,
) -> Result<()> {
    let label = spec.linux().as_ref().and_then(|l| l.mount_label().clone());
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let tree = idmapped
            .iter()
            .position(|(j, _)| *j == i)
            .map(|k| idmapped.swap_remove(k).1);
        mount_one(root, i, m, bundle, cgroup, userns, label.as_deref(), tree)?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn mount_one(
    root: &Root,
    i: usize,
    m: &Mount,
    bundle: &Path,
    cgroup: &Cgroup,
    userns: bool,
    mount_label: Option<&str>,
    tree: Option<OwnedFd>,
) -> Result<()> {
    let field = format!("mounts[{i}]");
    let dest = Path::new("/").join(m.destination());
    root.check_escape(&dest, &format!("{field}.destination"))?;
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]))
        .map_err(|e| Error::unsupported(format!("{field}.options"), e))?;
    let typ = m.typ().clone().unwrap_or_default();
    let is_bind = opts.bind || typ == "bind";
    let data = opts.data.join(",");
    let data = (!data.is_empty()).then_some(data);
    let fail =
        |what: &str, e: nix::Error| Error::sys(format!("{field} ({}): {what}", dest.display()), e);

    if is_bind {
        let src = m.source().as_ref().ok_or_else(|| {
            Error::field(format!("{field}.source"), "bind mount without a source")
        })?;
        let src = if src.is_absolute() {
            src.clone()
        } else {
            bundle.join(src)
        };
        let md = std::fs::metadata(&src).map_err(|e| {
            Error::field(format!("{field}.source"), format!("{}: {e}", src.display()))
        })?;
        let target = if md.is_dir() {
            root.mkdir_all(&dest)
        } else {
            root.create_file(&dest)
        }
        .map_err(|e| fail("create mount point", e))?;
        let mut flags = MsFlags::MS_BIND;
        if opts.rec {
            flags |= MsFlags::MS_REC;
        }
        if let Some(t) = tree {
            // SAFETY: move_mount of the runtime's detached, idmapped tree
            // onto the mount point's fd; empty C paths, flags only.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_move_mount,
                    t.as_raw_fd(),
                    c"".as_ptr(),
                    target.as_raw_fd(),
                    c"".as_ptr(),
                    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
                )
            };
            nix::errno::Errno::result(rc)
                .map_err(|e| fail(&format!("attach idmapped {}", src.display()), e))?;
        } else if opts.idmap.is_some() || m.uid_mappings().is_some() {
            return Err(Error::field(
                format!("{field}.options"),
                "idmapped mount without a user namespace of the container's own",
            ));
        } else {
            mnt(
                Some(src.to_str().unwrap_or_default()),
                &fd_path(&target),
                None,
                flags,
                None,
            )
            .map_err(|e| fail(&format!("bind {}", src.display()), e))?;
        }
        let extra = opts.flags & !(MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_REC);
        if !extra.is_empty() {
            // Re-resolve: the old fd points below the new mount.
            let top = root.resolve(&dest).map_err(|e| fail("reopen", e))?;
            let keep = locked_flags(&top) & !opts.clear;
            mnt(
                None,
                &fd_path(&top),
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra | keep,
                None,
            )
            .map_err(|e| fail("remount with options", e))?;
        }
    } else if typ == "cgroup" || typ == "cgroup2" {
        let target = root
            .mkdir_all(&dest)
            .map_err(|e| fail("create mount point", e))?;
        cgroup.mount_in_container(root, &dest, &target, opts.flags, &field)?;
    } else {
        let target = root
            .mkdir_all(&dest)
            .map_err(|e| fail("create mount point", e))?;
        let source = m
            .source()
            .as_ref()
            .and_then(|s| s.to_str())
            .unwrap_or(typ.as_str())
            .to_string();
        let flags = opts.flags & !MsFlags::MS_REMOUNT;
        // linux.mountLabel (SELinux): a context= option (lsm/selinux.rs).
        let data = crate::lsm::selinux::mount_data(&typ, data.as_deref(), mount_label);
        let r = mnt(
            Some(&source),
            &fd_path(&target),
            Some(typ.as_str()),
            flags,
            data.as_deref(),
        );
        match r {
            Ok(()) => {}
            // sysfs cannot be mounted in a user namespace that does not own
            // the network namespace; bind the host's /sys read-only instead.
            Err(nix::errno::Errno::EPERM) if typ == "sysfs" && userns => {
                mnt(
                    Some("/sys"),
                    &fd_path(&target),
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None,
                )
                .map_err(|e| fail("bind /sys", e))?;
            }
            Err(e) => return Err(fail(&format!("mount {typ}"), e)),
        }
    }
    if opts.rattr_set != 0 || opts.rattr_clr != 0 {
        let top = root.resolve(&dest).map_err(|e| fail("reopen", e))?;
        let attr = MountAttr {
            attr_set: opts.rattr_set,
            attr_clr: opts.rattr_clr,
            propagation: 0,
            userns_fd: 0,
        };
        set_attr(&top, &attr, true).map_err(|e| fail("recursive mount attributes", e))?;
    }
    if !opts.propagation.is_empty() {
        let top = root.resolve(&dest).map_err(|e| fail("reopen", e))?;
        for p in &opts.propagation {
            mnt(None, &fd_path(&top), None, *p, None).map_err(|e| fail("set propagation", e))?;
        }
    }
    Ok(())
}

struct DefaultDev {
    path: &'static str,
    major: u64,
    minor: u64,
}

const DEFAULT_DEVICES: &[DefaultDev] = &[
    DefaultDev {
        path: "/dev/null",
        major: 1,
        minor: 3,
    },
    DefaultDev {
        path: "/dev/zero",
        major: 1,
        minor: 5,
    },
    DefaultDev {
        path: "/dev/full",
        major: 1,
        minor: 7,
    },
    DefaultDev {
        path: "/dev/random",
        major: 1,
        minor: 8,
    },
    DefaultDev {
        path: "/dev/urandom",
        major: 1,
        minor: 9,
    },
    DefaultDev {
        path: "/dev/tty",
        major: 5,
        minor: 0,
    },
];

/// Step: device nodes (the default set plus `linux.devices`) and the
/// standard /dev symlinks. In a user namespace mknod is not allowed, so the
/// host's node is bind-mounted instead.
pub fn create_devices(root: &Root, spec: &Spec, userns: bool) -> Result<()> {
    let devices: Vec<LinuxDevice> = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    for d in DEFAULT_DEVICES {
        if devices.iter().any(|x| x.path() == Path::new(d.path)) {
            continue;
        }
        make_node(
            root,
            Path::new(d.path),
            SFlag::S_IFCHR,
            0o666,
            d.major,
            d.minor,
            0,
            0,
            userns,
        )
        .map_err(|e| Error::sys(format!("create default device {}", d.path), e))?;
    }
    for (i, d) in devices.iter().enumerate() {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(Error::field(
                    format!("linux.devices[{i}].type"),
                    "\"a\" is not a device type",
                ))
            }
        };
        let p = Path::new("/").join(d.path());
        root.check_escape(&p, &format!("linux.devices[{i}].path"))?;
        make_node(
            root,
            &p,
            kind,
            d.file_mode().unwrap_or(0o666) & 0o7777,
            d.major() as u64,
            d.minor() as u64,
            d.uid().unwrap_or(0),
            d.gid().unwrap_or(0),
            userns,
        )
        .map_err(|e| Error::sys(format!("linux.devices[{i}] ({})", d.path().display()), e))?;
    }
    let dev = root
        .mkdir_all(Path::new("/dev"))
        .ctx(|| "create /dev".into())?;
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        match nix::unistd::symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(Error::sys(format!("symlink /dev/{name}"), e)),
        }
    }
    // /dev/ptmx must be the container's devpts instance.
    if root.resolve(Path::new("/dev/pts/ptmx")).is_ok() {
        let _ = nix::unistd::unlinkat(dev.as_fd(), "ptmx", nix::unistd::UnlinkatFlags::NoRemoveDir);
        nix::unistd::symlinkat("pts/ptmx", dev.as_fd(), "ptmx")
            .ctx(|| "symlink /dev/ptmx".into())?;
    }
    Ok(())
}

/// Test builds only, `safe-path` off (testknobs.rs): the CVE-2021-30465 /
/// CVE-2025-31133 shape this module exists to prevent. The bind target is
/// the rootfs's host path and `path` joined as strings, opened (O_CREAT) and
/// mounted on by path, so a symlink in the rootfs is followed on the host,
/// out of the root.
fn bind_by_host_path(root: &Root, path: &Path) -> nix::Result<()> {
    let joined = root.path.join(path.strip_prefix("/").unwrap_or(path));
    drop(nix::fcntl::open(
        &joined,
        OFlag::O_RDONLY | OFlag::O_CREAT | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )?);
    mnt(
        Some(path.to_str().unwrap_or_default()),
        joined.to_str().unwrap_or_default(),
        None,
        MsFlags::MS_BIND,
        None,
    )
}

#[allow(clippy::too_many_arguments)]
fn make_node(
    root: &Root,
    path: &Path,
    kind: SFlag,
    mode: u32,
    major: u64,
    minor: u64,
    uid: u32,
    gid: u32,
    userns: bool,
) -> nix::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("/dev"));
    let name = path.file_name().ok_or(nix::errno::Errno::EINVAL)?;
    let dir = root.mkdir_all(parent)?;
    if userns {
        if crate::testknobs::off(crate::testknobs::Knob::SafePath) {
            return bind_by_host_path(root, path);
        }
        // CVE-2025-31133 shape: the bind target must be a file of the root.
        // A symlink at its place (left by the image, or planted) is removed,
        // never followed: the node then really is the device.
        root.remove_symlink(path)?;
        let target = root.create_file(path)?;
        let host = Path::new("/").join(path.strip_prefix("/").unwrap_or(path));
        return mnt(
            Some(host.to_str().unwrap_or_default()),
            &fd_path(&target),
            None,
            MsFlags::MS_BIND,
            None,
        );
    }
    let _ = nix::unistd::unlinkat(dir.as_fd(), name, nix::unistd::UnlinkatFlags::NoRemoveDir);
    let dev = libc::makedev(major as u32, minor as u32);
    mknodat(dir.as_fd(), name, kind, Mode::from_bits_truncate(mode), dev)?;
    // mknod is subject to the umask; set the exact mode.
    nix::sys::stat::fchmodat(
        dir.as_fd(),
        name,
        Mode::from_bits_truncate(mode),
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    )
    .or_else(|e| {
        if e == nix::errno::Errno::EOPNOTSUPP {
            Ok(())
        } else {
            Err(e)
        }
    })?;
    nix::unistd::fchownat(
        dir.as_fd(),
        name,
        Some(uid.into()),
        Some(gid.into()),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
}

/// Whether the config gives the container a mount namespace (new or
/// joined). Without one, every mount is made in the runtime's namespace.
pub fn has_mount_ns(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| n.iter().any(|n| n.typ() == LinuxNamespaceType::Mount))
}

/// Step, for a container without a mount namespace: `chroot` into the
/// rootfs (pivot_root would swap the host's root).
pub fn chroot(root: &Root) -> Result<()> {
    nix::unistd::fchdir(root.fd()).ctx(|| "chdir to rootfs".into())?;
    nix::unistd::chroot(".").ctx(|| "chroot".into())?;
    nix::unistd::chdir("/").ctx(|| "chdir /".into())?;
    Ok(())
}

/// Cleanup, for a container without a mount namespace: detach the mounts
/// `create` made in the runtime's namespace, everything below the rootfs,
/// deepest first, then the rootfs bind itself (only the top one, so a rootfs
/// that was a mount point before, such as an engine's overlay, stays).
pub fn unmount_host_mounts(spec: &Spec, rootfs: &Path) {
    if has_mount_ns(spec) || rootfs.as_os_str().is_empty() {
        return;
    }
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut below: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p.starts_with(rootfs) && p != rootfs)
        .collect();
    below.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    below.dedup();
    for p in &below {
        while umount2(p, MntFlags::MNT_DETACH).is_ok() {}
    }
    if info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|p| Path::new(&unescape_mountinfo(p)) == rootfs)
    {
        let _ = umount2(rootfs, MntFlags::MNT_DETACH);
    }
}

/// Mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Step: make the rootfs the process's root and detach the old one.
/// `pivot_root(".", ".")` stacks the old root on top of the new one; it is
/// made rslave first so detaching it cannot propagate to the host.
pub fn pivot(root: &Root) -> Result<()> {
    nix::unistd::fchdir(root.fd()).ctx(|| "chdir to rootfs".into())?;
    nix::unistd::pivot_root(".", ".").ctx(|| "pivot_root".into())?;
    mnt(None, ".", None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None)
        .ctx(|| "make old root rslave".into())?;
    umount2(".", MntFlags::MNT_DETACH).ctx(|| "detach old root".into())?;
    nix::unistd::chdir("/").ctx(|| "chdir /".into())?;
    Ok(())
}

/// Step (after pivot_root): rootfsPropagation shared/unbindable on "/".
pub fn finish_propagation(spec: &Spec) -> Result<()> {
    let prop = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().clone())
        .unwrap_or_default();
    let f = match prop.as_str() {
        "shared" | "rshared" => MsFlags::MS_SHARED,
        "unbindable" | "runbindable" => MsFlags::MS_UNBINDABLE,
        _ => return Ok(()),
    };
    let f = if prop.starts_with('r') {
        f | MsFlags::MS_REC
    } else {
        f
    };
    mnt(None, "/", None, f, None).ctx(|| "linux.rootfsPropagation".into())
}

/// Step (after pivot_root): `linux.readonlyPaths`, bind-mounted onto
/// themselves and remounted read-only.
pub fn readonly_paths(root: &Root, paths: &[String]) -> Result<()> {
    for (i, p) in paths.iter().enumerate() {
        let field = format!("linux.readonlyPaths[{i}]");
        let fd = match root.resolve(Path::new(p)) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT) => continue,
            Err(e) => return Err(Error::sys(format!("{field} ({p})"), e)),
        };
        let fp = fd_path(&fd);
        mnt(
            Some(&fp),
            &fp,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )
        .map_err(|e| Error::sys(format!("{field} ({p}): bind"), e))?;
        let top = root
            .resolve(Path::new(p))
            .map_err(|e| Error::sys(format!("{field} ({p})"), e))?;
        let keep = locked_flags(&top);
        mnt(
            None,
            &fd_path(&top),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | keep,
            None,
        )
        .map_err(|e| Error::sys(format!("{field} ({p}): remount read-only"), e))?;
    }
    Ok(())
}

/// Step (after pivot_root): `linux.maskedPaths`. Files get /dev/null bound
/// over them (after checking that /dev/null really is the null device),
/// directories a read-only empty tmpfs.
pub fn masked_paths(root: &Root, paths: &[String]) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    // The source of file masks: the root's own /dev/null, checked to be the
    // null device. Test builds only, `safe-path` off (testknobs.rs): the path
    // `/dev/null`, whatever it is, without the 1:3 check.
    let null = if crate::testknobs::off(crate::testknobs::Knob::SafePath) {
        None
    } else {
        let null = root
            .resolve(Path::new("/dev/null"))
            .ctx(|| "linux.maskedPaths: open /dev/null".into())?;
        let st = fstat(null.as_fd()).ctx(|| "stat /dev/null".into())?;
        if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != libc::makedev(1, 3) {
            return Err(Error::field(
                "linux.maskedPaths",
                "/dev/null is not the null device",
            ));
        }
        Some(null)
    };
    let null_src = null
        .as_ref()
        .map_or_else(|| "/dev/null".to_string(), fd_path);
    for (i, p) in paths.iter().enumerate() {
        let field = format!("linux.maskedPaths[{i}]");
        let fd = match root.resolve(Path::new(p)) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT) => continue,
            Err(e) => return Err(Error::sys(format!("{field} ({p})"), e)),
        };
        let st = fstat(fd.as_fd()).map_err(|e| Error::sys(format!("{field} ({p})"), e))?;
        let r = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            mnt(
                Some("tmpfs"),
                &fd_path(&fd),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None,
            )
        } else {
            mnt(Some(&null_src), &fd_path(&fd), None, MsFlags::MS_BIND, None)
        };
        r.map_err(|e| Error::sys(format!("{field} ({p}): mask"), e))?;
    }
    Ok(())
}

/// Step (after pivot_root): `root.readonly`.
pub fn readonly_root() -> Result<()> {
    let fd = nix::fcntl::open("/", OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .ctx(|| "open /".into())?;
    let keep = locked_flags(&fd);
    mnt(
        None,
        "/",
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | keep,
        None,
    )
    .ctx(|| "root.readonly: remount / read-only".into())
}

/// Bind `src` (a host path or fd path) onto `target` inside the root, and
/// optionally make it read-only.
pub fn bind_into(root: &Root, src: &str, dest: &Path, ro: bool) -> nix::Result<()> {
    let target = root.mkdir_all(dest)?;
    mnt(
        Some(src),
        &fd_path(&target),
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    if ro {
        let top = root.resolve(dest)?;
        let keep = locked_flags(&top);
        mnt(
            None,
            &fd_path(&top),
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | keep,
            None,
        )?;
    }
    Ok(())
}

/// Mount a filesystem on an fd path.
pub fn mount_fs(
    fstype: &str,
    target: &OwnedFd,
    flags: MsFlags,
    data: Option<&str>,
) -> nix::Result<()> {
    mnt(Some(fstype), &fd_path(target), Some(fstype), flags, data)
}

/// Create a symlink `name -> target` in the directory `dir` (an fd in the root).
pub fn symlink_in(dir: &OwnedFd, target: &str, name: &OsStr) -> nix::Result<()> {
    match nix::unistd::symlinkat(target, dir.as_fd(), name) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}
