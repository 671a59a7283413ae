//! `dir:ROOTFS` and `container:ID`: a root filesystem on disk (or a running container's, through
//! `/proc/PID/root`), indexed as one layer.
//!
//! The walk is relative to directory file descriptors, never to joined path strings: the root is
//! opened once, and every entry below it is reached from its parent's descriptor with `openat2`
//! (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`, one name at a time) and
//! `fstatat(AT_SYMLINK_NOFOLLOW)`. A symlink inside the root, a `..`, or a path swapped for a
//! symlink while the walk runs can therefore never lead it outside the root. Kernel pseudo
//! filesystems mounted inside (a container's `/proc`, `/sys`, cgroups, `devpts`...) are listed
//! but not entered: they are the host kernel's, not the image's.

use super::{FileEntry, Image, ImageError, Kind, Limits};
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, fstatat, Mode};
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Directories nested deeper than this are an error (a path of 4096 bytes holds at most 2048).
const MAX_DEPTH: usize = 1024;

/// Filesystem magics (`statfs.f_type`) of kernel pseudo filesystems that are never entered.
const PSEUDO_FS: &[i64] = &[
    0x9fa0,      // proc
    0x6265_6572, // sysfs
    0x0027_e0eb, // cgroup
    0x6367_7270, // cgroup2
    0x1cd1,      // devpts
    0x1980_0202, // mqueue
    0x7363_6673, // securityfs
    0x6462_6720, // debugfs
    0x7472_6163, // tracefs
    0xcafe_4a11, // bpf
    0x6573_5543, // fusectl
    0x6265_6570, // configfs
    0x6165_676c, // pstore
    0x4249_4e4d, // binfmt_misc
    0x6e73_6673, // nsfs
    0xde5e_81e4, // efivarfs
];

/// Walk `root` (a directory; the only path opened by name) into `img` as layer 0.
pub(crate) fn walk(root: &Path, img: &mut Image, limits: &Limits) -> Result<(), ImageError> {
    let fd = nix::fcntl::open(
        root,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        if e == nix::errno::Errno::ENOTDIR {
            ImageError::Invalid {
                image: img.source.clone(),
                what: root.display().to_string(),
                reason: "not a directory".into(),
            }
        } else {
            ImageError::io(root, e.into())
        }
    })?;
    let shown = root.display().to_string();
    walk_fd(fd, &shown, format!("dir:{shown}"), img, limits)
}

/// Walk an open root directory; `shown` names it in messages, `digest` is the layer's name.
pub(crate) fn walk_fd(
    root: OwnedFd,
    shown: &str,
    digest: String,
    img: &mut Image,
    limits: &Limits,
) -> Result<(), ImageError> {
    img.layers.push(super::LayerInfo {
        index: 0,
        digest,
        diff_id: String::new(),
        compression: "none",
        entries: 0,
    });
    let mut w = Walker {
        shown,
        img,
        limits,
        n: 0,
    };
    w.dir(root.as_fd(), "", 0)?;
    let n = w.n;
    if let Some(l) = img.layers.first_mut() {
        l.entries = n;
    }
    Ok(())
}

struct Walker<'a> {
    shown: &'a str,
    img: &'a mut Image,
    limits: &'a Limits,
    n: u64,
}

/// One name below `dir`, never following a symlink or leaving `dir`.
fn open_beneath(dir: BorrowedFd<'_>, name: &OsString, flags: OFlag) -> nix::Result<OwnedFd> {
    openat2(
        dir,
        name.as_os_str(),
        OpenHow::new()
            .flags(flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
            .resolve(
                ResolveFlag::RESOLVE_BENEATH
                    | ResolveFlag::RESOLVE_NO_SYMLINKS
                    | ResolveFlag::RESOLVE_NO_MAGICLINKS,
            ),
    )
}

impl Walker<'_> {
    fn err(&self, rel: &str, e: impl Into<std::io::Error>) -> ImageError {
        ImageError::io(&Path::new(self.shown).join(rel), e.into())
    }

    fn dir(&mut self, dir: BorrowedFd<'_>, rel: &str, depth: usize) -> Result<(), ImageError> {
        if depth > MAX_DEPTH {
            return Err(ImageError::Invalid {
                image: self.img.source.clone(),
                what: rel.to_string(),
                reason: format!("directories nested more than {MAX_DEPTH} deep"),
            });
        }
        // The names first (a duplicate of the descriptor for the listing), then each entry.
        let names: Vec<OsString> = {
            let dup = open_beneath(
                dir,
                &OsString::from("."),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY,
            )
            .map_err(|e| self.err(rel, e))?;
            let mut d = nix::dir::Dir::from_fd(dup).map_err(|e| self.err(rel, e))?;
            let mut v = Vec::new();
            for ent in d.iter() {
                let ent = ent.map_err(|e| self.err(rel, e))?;
                let b = ent.file_name().to_bytes();
                if b != b"." && b != b".." {
                    v.push(std::ffi::OsStr::from_bytes(b).to_os_string());
                }
            }
            v
        };
        for name in names {
            let Some(s) = name.to_str() else {
                continue;
            };
            let path = if rel.is_empty() {
                s.to_string()
            } else {
                format!("{rel}/{s}")
            };
            let st = match fstatat(
                dir,
                name.as_os_str(),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            ) {
                Ok(st) => st,
                // Gone since the listing (a running container changes under the walk).
                Err(nix::errno::Errno::ENOENT) => continue,
                Err(e) => return Err(self.err(&path, e)),
            };
            let kind = match st.st_mode & libc::S_IFMT {
                libc::S_IFDIR => Kind::Dir,
                libc::S_IFLNK => Kind::Symlink,
                libc::S_IFCHR => Kind::Char,
                libc::S_IFBLK => Kind::Block,
                libc::S_IFIFO => Kind::Fifo,
                libc::S_IFREG => Kind::File,
                _ => continue,
            };
            self.n += 1;
            let link = if kind == Kind::Symlink {
                nix::fcntl::readlinkat(dir, name.as_os_str())
                    .ok()
                    .map(|t| t.to_string_lossy().into_owned().into_boxed_str())
            } else {
                None
            };
            let mode = st.st_mode & 0o7777;
            let mut caps = false;
            let mut size = st.st_size as u64;
            let mut uid = st.st_uid;
            if kind == Kind::File {
                let f = open_beneath(
                    dir,
                    &name,
                    OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY,
                );
                match f {
                    Ok(fd) => {
                        // What was opened is what is read: its own metadata, not the name's.
                        let fst = fstat(fd.as_fd()).map_err(|e| self.err(&path, e))?;
                        if fst.st_mode & libc::S_IFMT == libc::S_IFREG {
                            size = fst.st_size as u64;
                            uid = fst.st_uid;
                            caps = has_caps(fd.as_fd());
                            let mut file = std::fs::File::from(fd);
                            super::read_content(
                                self.img,
                                0,
                                &path,
                                fst.st_mode & 0o7777,
                                size,
                                &mut file,
                                self.limits,
                            )
                            .map_err(|e| self.err(&path, e))?;
                        }
                    }
                    Err(nix::errno::Errno::ENOENT) => continue,
                    // Unreadable content (a mode-000 file of another user under a user
                    // namespace): indexed by its metadata, like a layer entry.
                    Err(_) => {}
                }
            }
            self.img.files.insert(
                path.clone().into_boxed_str(),
                FileEntry {
                    layer: 0,
                    kind,
                    mode,
                    uid,
                    size,
                    caps,
                    dev: (libc::major(st.st_rdev), libc::minor(st.st_rdev)),
                    link,
                },
            );
            if kind == Kind::Dir {
                let child = match open_beneath(dir, &name, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
                    Ok(fd) => fd,
                    Err(nix::errno::Errno::ENOENT) => continue,
                    Err(e) => return Err(self.err(&path, e)),
                };
                if is_pseudo_fs(child.as_fd()) {
                    continue;
                }
                self.dir(child.as_fd(), &path, depth + 1)?;
            }
        }
        Ok(())
    }
}

// `f_type` is an i64 on x86_64 and narrower elsewhere: the cast is for the other targets.
#[allow(clippy::unnecessary_cast)]
fn is_pseudo_fs(fd: BorrowedFd<'_>) -> bool {
    nix::sys::statfs::fstatfs(fd)
        .map(|s| PSEUDO_FS.contains(&(s.filesystem_type().0 as i64)))
        .unwrap_or(false)
}

/// Whether an open file carries a `security.capability` xattr.
fn has_caps(fd: BorrowedFd<'_>) -> bool {
    let name = c"security.capability";
    // SAFETY: `fd` is an open descriptor and `name` a NUL-terminated string, both valid for
    // the call; a null buffer with size 0 asks only for the value's length.
    let n = unsafe { libc::fgetxattr(fd.as_raw_fd(), name.as_ptr(), std::ptr::null_mut(), 0) };
    n > 0
}
