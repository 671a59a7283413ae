//! Thin wrappers over the raw syscalls the techniques need. Every function returns the errno on
//! failure so the caller can attribute it.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub type SysResult<T> = Result<T, i32>;

pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

pub fn io_errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// A C string from a path. Paths with NUL bytes map to an empty string (the syscall then fails
/// with ENOENT), which is fine for a probe.
pub fn cpath(p: impl AsRef<Path>) -> CString {
    CString::new(p.as_ref().as_os_str().as_bytes()).unwrap_or_default()
}

pub fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

/// Turn a `-1` return into the errno.
pub fn check(ret: libc::c_long) -> SysResult<libc::c_long> {
    if ret < 0 {
        Err(errno())
    } else {
        Ok(ret)
    }
}

/// Wrap a returned file descriptor so it is closed on drop.
pub fn fd_result(ret: libc::c_long) -> SysResult<OwnedFd> {
    let fd = check(ret)? as RawFd;
    // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn open(path: impl AsRef<Path>, flags: i32) -> SysResult<OwnedFd> {
    let c = cpath(path);
    // SAFETY: c is a valid NUL-terminated string; the mode argument is ignored without O_CREAT.
    fd_result(unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, 0o600) } as libc::c_long)
}

pub fn read_to_string(path: impl AsRef<Path>) -> SysResult<String> {
    std::fs::read_to_string(path).map_err(|e| io_errno(&e))
}

/// Read up to `max` bytes.
pub fn read_head(path: impl AsRef<Path>, max: usize) -> SysResult<Vec<u8>> {
    let mut f = std::fs::File::open(path).map_err(|e| io_errno(&e))?;
    let mut buf = vec![0u8; max];
    let n = f.read(&mut buf).map_err(|e| io_errno(&e))?;
    buf.truncate(n);
    Ok(buf)
}

pub fn write_fd(fd: &OwnedFd, data: &[u8]) -> SysResult<usize> {
    // SAFETY: fd is open; data is a valid buffer of data.len() bytes.
    let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
    check(n as libc::c_long).map(|n| n as usize)
}

/// Open `path` write-only and write `v` to it in one write (kernel files take one value per
/// write).
pub fn write_str(path: impl AsRef<Path>, v: &str) -> SysResult<()> {
    let fd = open(path.as_ref(), libc::O_WRONLY)?;
    write_fd(&fd, v.as_bytes()).map(|_| ())
}

/// Read the current value of a kernel setting and write the very same value back. Proves write
/// access without changing anything. Returns the value.
pub fn write_back(path: impl AsRef<Path>) -> SysResult<String> {
    let path = path.as_ref();
    let cur = read_to_string(path)?;
    let fd = open(path, libc::O_WRONLY)?;
    let data = if cur.is_empty() { "\n" } else { cur.as_str() };
    write_fd(&fd, data.as_bytes())?;
    drop(fd);
    let after = read_to_string(path)?;
    if after != cur {
        // Should never happen; try once more to restore and report it loudly.
        if let Ok(fd) = open(path, libc::O_WRONLY) {
            let _ = write_fd(&fd, cur.as_bytes());
        }
        return Err(libc::EIO);
    }
    Ok(cur)
}

/// [`write_back`] the first of `candidates` that exists: `Ok((path, value))` when one was
/// written back, `Err(errno)` of the first that exists but refused, `Err(ENOENT)` when none
/// exists.
pub fn write_back_first<'a>(candidates: &[&'a str]) -> SysResult<(&'a str, String)> {
    for &p in candidates {
        match write_back(p) {
            Ok(v) => return Ok((p, v)),
            Err(libc::ENOENT) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(libc::ENOENT)
}

/// The first of `candidates` that exists (not following a final symlink).
pub fn first_existing<'a>(candidates: &[&'a str]) -> Option<&'a str> {
    candidates.iter().copied().find(|p| lstat(p).is_ok())
}

pub fn mount(
    src: &str,
    target: impl AsRef<Path>,
    fstype: &str,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> SysResult<()> {
    let s = cstr(src);
    let t = cpath(target);
    let f = cstr(fstype);
    let d = data.map(cstr);
    let dp = d
        .as_ref()
        .map(|d| d.as_ptr().cast::<libc::c_void>())
        .unwrap_or(std::ptr::null());
    // SAFETY: all pointers are valid NUL-terminated strings or null.
    let r = unsafe { libc::mount(s.as_ptr(), t.as_ptr(), f.as_ptr(), flags, dp) };
    check(r as libc::c_long).map(|_| ())
}

pub fn umount(target: impl AsRef<Path>) -> SysResult<()> {
    let t = cpath(target);
    // SAFETY: valid C string.
    check(unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) } as libc::c_long).map(|_| ())
}

/// Enter a fresh mount namespace with everything made private, so that mounts made by a technique
/// can never propagate to the host and disappear when the technique's child exits. Needs
/// CAP_SYS_ADMIN, exactly like the mounts that follow.
pub fn private_mount_ns() -> SysResult<()> {
    // SAFETY: unshare with a flag constant.
    check(unsafe { libc::unshare(libc::CLONE_NEWNS) } as libc::c_long)?;
    mount("none", "/", "", libc::MS_REC | libc::MS_PRIVATE, None)
}

pub fn mknod(path: impl AsRef<Path>, mode: libc::mode_t, major: u32, minor: u32) -> SysResult<()> {
    let c = cpath(path);
    // SAFETY: valid C string.
    let r = unsafe { libc::mknod(c.as_ptr(), mode, libc::makedev(major, minor)) };
    check(r as libc::c_long).map(|_| ())
}

pub fn lstat(path: impl AsRef<Path>) -> SysResult<libc::stat> {
    let c = cpath(path);
    // SAFETY: the libc struct is a plain C struct of integers, for which all-zero bytes are a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: c is a NUL-terminated path that outlives the call; st is a live, writable
    // libc::stat that lstat fills.
    check(unsafe { libc::lstat(c.as_ptr(), &mut st) } as libc::c_long)?;
    Ok(st)
}

pub fn stat(path: impl AsRef<Path>) -> SysResult<libc::stat> {
    let c = cpath(path);
    // SAFETY: the libc struct is a plain C struct of integers, for which all-zero bytes are a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: c is a NUL-terminated path that outlives the call; st is a live, writable
    // libc::stat that stat fills.
    check(unsafe { libc::stat(c.as_ptr(), &mut st) } as libc::c_long)?;
    Ok(st)
}

pub fn fstat(fd: RawFd) -> SysResult<libc::stat> {
    // SAFETY: the libc struct is a plain C struct of integers, for which all-zero bytes are a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a live, writable libc::stat; a bad fd only makes fstat fail with EBADF.
    check(unsafe { libc::fstat(fd, &mut st) } as libc::c_long)?;
    Ok(st)
}

pub fn statfs(path: impl AsRef<Path>) -> SysResult<libc::statfs> {
    let c = cpath(path);
    // SAFETY: the libc struct is a plain C struct of integers, for which all-zero bytes are a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a NUL-terminated path that outlives the call; st is a live, writable
    // libc::statfs that statfs fills.
    check(unsafe { libc::statfs(c.as_ptr(), &mut st) } as libc::c_long)?;
    Ok(st)
}

pub fn statvfs_flags(path: impl AsRef<Path>) -> SysResult<u64> {
    let c = cpath(path);
    // SAFETY: the libc struct is a plain C struct of integers, for which all-zero bytes are a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a NUL-terminated path that outlives the call; st is a live, writable
    // libc::statvfs that statvfs fills.
    check(unsafe { libc::statvfs(c.as_ptr(), &mut st) } as libc::c_long)?;
    Ok(st.f_flag)
}

pub fn dev_ino(st: &libc::stat) -> (u64, u64) {
    (st.st_dev, st.st_ino)
}

/// How a forked child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildEnd {
    Exited(i32),
    Signaled(i32),
}

/// Run `f` in a forked child and return how it ended. The child never returns into the caller's
/// code: it calls `_exit` with `f`'s value.
pub fn in_child<F: FnOnce() -> i32>(f: F) -> SysResult<ChildEnd> {
    // SAFETY: the probe is single-threaded when it forks; the child only runs `f` and `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(errno());
    }
    if pid == 0 {
        let code = f();
        // SAFETY: terminate the child without running the parent's destructors or atexit hooks.
        unsafe { libc::_exit(code) };
    }
    wait_pid(pid)
}

pub fn wait_pid(pid: libc::pid_t) -> SysResult<ChildEnd> {
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r < 0 {
            let e = errno();
            if e == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        break;
    }
    if libc::WIFEXITED(status) {
        Ok(ChildEnd::Exited(libc::WEXITSTATUS(status)))
    } else {
        Ok(ChildEnd::Signaled(libc::WTERMSIG(status)))
    }
}

/// Encode a child's result in its exit code: 0 = success, 1..=254 = errno.
pub fn code_of(r: SysResult<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.clamp(1, 254),
    }
}

/// A scratch directory for a technique, removed (after a lazy unmount) on drop.
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    /// Make a fresh directory under the first writable candidate. With `want_dev`, prefer a
    /// file system not mounted `nodev` (device nodes must be openable there).
    pub fn new(base: Option<&Path>, tag: &str, want_dev: bool) -> SysResult<Scratch> {
        let mut cands: Vec<PathBuf> = Vec::new();
        if let Some(b) = base {
            cands.push(b.to_path_buf());
        }
        for c in ["/tmp", "/dev", "/run", "/var/tmp", "/dev/shm", "/"] {
            cands.push(PathBuf::from(c));
        }
        if want_dev {
            cands.sort_by_key(|c| {
                statvfs_flags(c)
                    .map(|f| f & libc::ST_NODEV != 0)
                    .unwrap_or(true)
            });
        }
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        let mut last = libc::EROFS;
        for c in cands {
            let p = c.join(format!(".stockade-probe-{tag}-{pid}"));
            let cp = cpath(&p);
            // SAFETY: valid C string.
            if unsafe { libc::mkdir(cp.as_ptr(), 0o700) } == 0 {
                return Ok(Scratch { path: p });
            }
            last = errno();
            if last == libc::EEXIST {
                let _ = std::fs::remove_dir_all(&p);
                // SAFETY: as above.
                if unsafe { libc::mkdir(cp.as_ptr(), 0o700) } == 0 {
                    return Ok(Scratch { path: p });
                }
            }
        }
        Err(last)
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.path.join(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Lazily unmount anything a technique left mounted below the scratch dir, deepest first.
        let mut mounts: Vec<String> = read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(unescape_mountinfo))
            .filter(|m| Path::new(m).starts_with(&self.path))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = umount(&m);
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Undo the octal escapes of /proc/self/mountinfo path fields.
pub fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("x"), 8)
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// `major:minor` of the device backing the mount.
    pub dev: String,
    pub root: String,
    pub mount_point: String,
    pub options: String,
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

pub fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(sep) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        if f.len() < sep + 3 || sep < 6 {
            continue;
        }
        out.push(MountInfo {
            dev: f[2].to_string(),
            root: unescape_mountinfo(f[3]),
            mount_point: unescape_mountinfo(f[4]),
            options: f[5].to_string(),
            optional: f[6..sep].iter().map(|s| s.to_string()).collect(),
            fstype: f[sep + 1].to_string(),
            source: unescape_mountinfo(f[sep + 2]),
            super_options: f.get(sep + 3).unwrap_or(&"").to_string(),
        });
    }
    out
}

pub fn mountinfo() -> Vec<MountInfo> {
    parse_mountinfo(&read_to_string("/proc/self/mountinfo").unwrap_or_default())
}

/// Printable, shortened form of bytes for evidence strings.
pub fn printable(b: &[u8], max: usize) -> String {
    let s: String = String::from_utf8_lossy(b)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let s = s.trim().to_string();
    if s.chars().count() > max {
        format!("{}…", s.chars().take(max).collect::<String>())
    } else {
        s
    }
}

/// A few entries of a directory, for evidence.
pub fn list_dir(path: impl AsRef<Path>, max: usize) -> String {
    match std::fs::read_dir(path) {
        Ok(rd) => {
            let mut v: Vec<String> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            let more = v.len() > max;
            v.truncate(max);
            let mut s = v.join(",");
            if more {
                s.push_str(",…");
            }
            s
        }
        Err(e) => format!("<{}>", crate::outcome::errno_name(io_errno(&e))),
    }
}

/// The file-system magic of `path` (0 if unknown).
#[allow(clippy::unnecessary_cast)] // f_type is c_long on x86_64 glibc but differs elsewhere
pub fn fs_magic(path: impl AsRef<Path>) -> i64 {
    statfs(path).map(|s| s.f_type as i64).unwrap_or(0)
}
