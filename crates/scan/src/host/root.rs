//! Files of a host, live (`/`) or a snapshot (`--root DIR`), read with `openat2(RESOLVE_IN_ROOT)`
//! so a symlink in a snapshot (`etc/docker/daemon.json -> /etc/shadow`, `../../..`) resolves
//! inside it, never on the machine running the scan. Reads are bounded; nothing is written.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, Mode};

/// The largest file read (a dpkg status of a big host is a few MiB).
pub const MAX_FILE: u64 = 64 << 20;

/// A root directory.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
    live: bool,
}

/// Owner and mode of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Meta {
    pub fn is_socket(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFSOCK
    }
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
}

impl Root {
    /// Open `path` as the root; `live` when it is this machine's `/`.
    pub fn open(path: &Path, live: bool) -> std::io::Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(std::io::Error::from)?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
            live,
        })
    }

    pub fn is_live(&self) -> bool {
        self.live
    }

    /// How to name `rel` in messages: the path on this machine.
    pub fn display(&self, rel: &str) -> String {
        self.path
            .join(rel.trim_start_matches('/'))
            .display()
            .to_string()
    }

    fn open_in(&self, rel: &str, flags: OFlag) -> std::io::Result<OwnedFd> {
        let rel = rel.trim_start_matches('/');
        let rel = if rel.is_empty() { "." } else { rel };
        openat2(
            self.fd.as_fd(),
            rel,
            OpenHow::new()
                .flags(flags | OFlag::O_CLOEXEC)
                .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS),
        )
        .map_err(std::io::Error::from)
    }

    /// The bytes of `rel`, `None` when it does not exist. A file larger than [`MAX_FILE`], or
    /// not a regular file (a FIFO would block), is an error.
    pub fn read(&self, rel: &str) -> std::io::Result<Option<Vec<u8>>> {
        let Some(file) = self.open_file(rel)? else {
            return Ok(None);
        };
        let mut out = Vec::new();
        file.take(MAX_FILE + 1).read_to_end(&mut out)?;
        if out.len() as u64 > MAX_FILE {
            return Err(std::io::Error::other(format!(
                "larger than {} MiB",
                MAX_FILE >> 20
            )));
        }
        Ok(Some(out))
    }

    /// `rel` opened for reading as a stream, `None` when it does not exist; not a regular file
    /// is an error.
    pub fn open_file(&self, rel: &str) -> std::io::Result<Option<std::fs::File>> {
        let fd = match self.open_in(rel, OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY) {
            Ok(fd) => fd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let st = fstat(fd.as_fd()).map_err(std::io::Error::from)?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(std::io::Error::other("not a regular file"));
        }
        Ok(Some(std::fs::File::from(fd)))
    }

    /// Owner and mode of `rel` (not following a final symlink's target outside the root).
    pub fn meta(&self, rel: &str) -> std::io::Result<Option<Meta>> {
        let fd = match self.open_in(rel, OFlag::O_PATH) {
            Ok(fd) => fd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let st = fstat(fd.as_fd()).map_err(std::io::Error::from)?;
        Ok(Some(Meta {
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
        }))
    }

    /// Names in directory `rel` (sorted), `None` when it does not exist.
    pub fn list(&self, rel: &str) -> std::io::Result<Option<Vec<String>>> {
        let fd = match self.open_in(rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
            Ok(fd) => fd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut dir = nix::dir::Dir::from_fd(fd).map_err(std::io::Error::from)?;
        let mut names: Vec<String> = dir
            .iter()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "." && n != "..")
            .collect();
        names.sort();
        Ok(Some(names))
    }
}
