//! `linux.seccomp` through libseccomp.
//!
//! The filter is built from the config only (the default profile is
//! `defaults.rs`' `profiles/default-seccomp.json`, which reaches here as
//! config). libseccomp's automatic no_new_privs is turned off:
//! `process.noNewPrivileges` decides that.
//!
//! Compiled once: the runtime (on the host, before the init is made)
//! compiles a filter without flags or notify rules to BPF and caches it
//! under `<root>/.cache/seccomp/<hash of the filter's JSON>.bpf`; the init
//! loads the bytes with seccomp(2). Filters with flags or SCMP_ACT_NOTIFY
//! are built by libseccomp in the init, as before.
//!
//! The cache is never trusted for its name alone: a cached program decides
//! what the container may call, so one another user could write would be a
//! way out. The cache's directories are made 0700 and its files 0600
//! whatever the umask, and a cached file is used only when it, the two cache
//! directories and the state root (walked with O_NOFOLLOW, checked on the
//! open fds) are owned by the runtime's user and writable by no one else.
//! Otherwise the filter is compiled afresh and nothing is cached.

use crate::error::{Error, Result};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};
use std::str::FromStr;

fn name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn action(
    a: &LinuxSeccompAction,
    errno: Option<u32>,
    default_errno: Option<u32>,
) -> Result<ScmpAction> {
    let n = name(a);
    let val = match n.as_str() {
        "SCMP_ACT_ERRNO" => Some(errno.or(default_errno).unwrap_or(libc::EPERM as u32) as i32),
        "SCMP_ACT_TRACE" => Some(errno.or(default_errno).unwrap_or(libc::EPERM as u32) as i32),
        _ => None,
    };
    ScmpAction::from_str(&n, val).map_err(|e| Error::Seccomp(format!("action {n}: {e}")))
}

/// Whether the filter has rules that need a listener (SCMP_ACT_NOTIFY).
pub fn uses_notify(s: &LinuxSeccomp) -> bool {
    name(&s.default_action()) == "SCMP_ACT_NOTIFY"
        || s.syscalls()
            .iter()
            .flatten()
            .any(|r| name(&r.action()) == "SCMP_ACT_NOTIFY")
}

/// Build the filter context (not loaded).
pub fn build(s: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    let def = action(&s.default_action(), None, s.default_errno_ret())?;
    let mut ctx = ScmpFilterContext::new(def).map_err(|e| Error::Seccomp(format!("init: {e}")))?;
    ctx.set_ctl_nnp(false)
        .map_err(|e| Error::Seccomp(format!("nnp attr: {e}")))?;
    for (i, a) in s.architectures().iter().flatten().enumerate() {
        let n = name(a);
        let arch = ScmpArch::from_str(&n)
            .map_err(|e| Error::Seccomp(format!("architectures[{i}] {n}: {e}")))?;
        ctx.add_arch(arch)
            .map_err(|e| Error::Seccomp(format!("architectures[{i}] {n}: {e}")))?;
    }
    for f in s.flags().iter().flatten() {
        let n = name(f);
        let r = match n.as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => ctx.set_ctl_tsync(true).map(|_| ()),
            "SECCOMP_FILTER_FLAG_LOG" => ctx.set_ctl_log(true).map(|_| ()),
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => ctx.set_ctl_ssb(true).map(|_| ()),
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => ctx.set_ctl_waitkill(true).map(|_| ()),
            other => return Err(Error::Seccomp(format!("flags: unknown flag {other}"))),
        };
        r.map_err(|e| Error::Seccomp(format!("flags {n}: {e}")))?;
    }
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        let act = action(&rule.action(), rule.errno_ret(), s.default_errno_ret())?;
        if act == def {
            continue; // libseccomp refuses rules equal to the default action
        }
        let mut conds = Vec::new();
        for (j, a) in rule.args().iter().flatten().enumerate() {
            let opn = name(&a.op());
            let op = match opn.as_str() {
                "SCMP_CMP_MASKED_EQ" => ScmpCompareOp::MaskedEqual(a.value()),
                _ => ScmpCompareOp::from_str(&opn)
                    .map_err(|e| Error::Seccomp(format!("syscalls[{i}].args[{j}].op: {e}")))?,
            };
            let datum = if opn == "SCMP_CMP_MASKED_EQ" {
                a.value_two().unwrap_or(0)
            } else {
                a.value()
            };
            conds.push((
                a.index() as u32,
                ScmpArgCompare::new(a.index() as u32, op, datum),
            ));
        }
        // libseccomp cannot compare one argument twice in a rule; like runc,
        // split such rules into one rule per condition.
        let mut idx: Vec<u32> = conds.iter().map(|c| c.0).collect();
        idx.sort();
        let repeated = idx.windows(2).any(|w| w[0] == w[1]);
        for n in rule.names() {
            let sc = match ScmpSyscall::from_name(n) {
                Ok(sc) => sc,
                Err(_) => continue, // unknown on this kernel/arch: ignored, like runc
            };
            let r = if conds.is_empty() {
                ctx.add_rule(act, sc).map(|_| ())
            } else if repeated {
                conds
                    .iter()
                    .try_for_each(|c| ctx.add_rule_conditional(act, sc, &[c.1]).map(|_| ()))
            } else {
                let cs: Vec<ScmpArgCompare> = conds.iter().map(|c| c.1).collect();
                ctx.add_rule_conditional(act, sc, &cs).map(|_| ())
            };
            r.map_err(|e| Error::Seccomp(format!("syscalls[{i}] {n}: {e}")))?;
        }
    }
    Ok(ctx)
}

/// Load the filter into the calling process. Returns the notify fd when the
/// filter uses SCMP_ACT_NOTIFY.
pub fn load(s: &LinuxSeccomp) -> Result<Option<i32>> {
    let ctx = build(s)?;
    ctx.load()
        .map_err(|e| Error::Seccomp(format!("load: {e}")))?;
    if uses_notify(s) {
        let fd = ctx
            .get_notify_fd()
            .map_err(|e| Error::Seccomp(format!("notify fd: {e}")))?;
        return Ok(Some(fd));
    }
    Ok(None)
}

/// The filter as BPF, from the cache in `cache_dir` or compiled (and then
/// cached). None when the filter needs libseccomp at load time (flags,
/// SCMP_ACT_NOTIFY).
pub fn program(s: &LinuxSeccomp, cache_dir: Option<&std::path::Path>) -> Result<Option<Vec<u8>>> {
    use std::hash::{Hash, Hasher};
    use std::io::{Read, Seek};
    if uses_notify(s) || s.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Ok(None);
    }
    let json = serde_json::to_vec(s).map_err(|e| Error::Seccomp(e.to_string()))?;
    let key: String = [0u8, 1u8]
        .iter()
        .map(|salt| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (salt, env!("CARGO_PKG_VERSION"), &json).hash(&mut h);
            format!("{:016x}", h.finish())
        })
        .collect();
    let name = format!("{key}.bpf");
    if let Some(b) = cache_dir.and_then(|d| cache_read(d, &name)) {
        return Ok(Some(b));
    }
    let ctx = build(s)?;
    // SAFETY: memfd_create with a static C string.
    let fd = unsafe { libc::memfd_create(c"seccomp-bpf".as_ptr(), libc::MFD_CLOEXEC) };
    let fd = nix::errno::Errno::result(fd)
        .map_err(|e| Error::Seccomp(format!("memfd for export: {e}")))?;
    // SAFETY: memfd_create returned a fresh fd that nothing else owns.
    let mut f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    ctx.export_bpf(&f)
        .map_err(|e| Error::Seccomp(format!("export: {e}")))?;
    let mut b = Vec::new();
    f.rewind()
        .and_then(|_| f.read_to_end(&mut b))
        .map_err(|e| Error::Seccomp(format!("export: {e}")))?;
    if let Some(d) = cache_dir {
        // A cache that cannot be written (or is not ours) is only slower.
        if cache_dir_ours(d) {
            let _ = crate::util::write_atomic(&d.join(&name), &b, 0o600);
        }
    }
    Ok(Some(b))
}

/// Whether an open file is the runtime user's and writable by no one else.
fn private(f: &std::fs::File, dir: bool) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    f.metadata().is_ok_and(|m| {
        m.uid() == me && m.mode() & 0o022 == 0 && if dir { m.is_dir() } else { m.is_file() }
    })
}

/// Open `name` under `dir` without following a symlink.
fn open_nofollow(
    dir: Option<&std::fs::File>,
    name: &std::path::Path,
    flags: i32,
) -> Option<std::fs::File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let c = std::ffi::CString::new(name.as_os_str().as_encoded_bytes()).ok()?;
    let at = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: openat with a valid dirfd (or AT_FDCWD) and a NUL-terminated path.
    let fd = unsafe {
        libc::openat(
            at,
            c.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_RDONLY,
        )
    };
    // SAFETY: a fresh fd from openat, owned by nothing else.
    (fd >= 0).then(|| unsafe { std::fs::File::from_raw_fd(fd) })
}

/// The cache dir `<root>/.cache/seccomp` opened component by component:
/// the root, `.cache` and `seccomp` must each be private. Makes the two
/// cache directories (0700) when missing and `create`.
fn cache_dir_fd(d: &std::path::Path, create: bool) -> Option<std::fs::File> {
    let cache = d.parent()?;
    let root = cache.parent()?;
    if create {
        for p in [cache, d] {
            if std::fs::symlink_metadata(p).is_err() {
                let _ = crate::state::make_private_dir(p);
            }
        }
    }
    let mut f = open_nofollow(None, root, libc::O_DIRECTORY)?;
    if !private(&f, true) {
        return None;
    }
    for name in [cache.file_name()?, d.file_name()?] {
        f = open_nofollow(Some(&f), std::path::Path::new(name), libc::O_DIRECTORY)?;
        if !private(&f, true) {
            return None;
        }
    }
    // The root is private, so no one else can swap the path checked here
    // for another before the write that follows.
    Some(f)
}

fn cache_dir_ours(d: &std::path::Path) -> bool {
    cache_dir_fd(d, true).is_some()
}

/// A cached program, when the cache is private and the file looks like BPF.
fn cache_read(d: &std::path::Path, name: &str) -> Option<Vec<u8>> {
    use std::io::Read;
    let dir = cache_dir_fd(d, false)?;
    let mut f = open_nofollow(Some(&dir), std::path::Path::new(name), 0)?;
    if !private(&f, false) {
        return None;
    }
    let mut b = Vec::new();
    f.read_to_end(&mut b).ok()?;
    (!b.is_empty() && b.len() % 8 == 0).then_some(b)
}

/// Load a BPF program made by [`program`] into the calling process.
pub fn load_program(bpf: &[u8]) -> Result<()> {
    let prog = libc::sock_fprog {
        len: (bpf.len() / 8) as u16,
        filter: bpf.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: seccomp(SECCOMP_SET_MODE_FILTER) reads `len` instructions
    // from `bpf`, which outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    nix::errno::Errno::result(rc).map_err(|e| Error::Seccomp(format!("load: {e}")))?;
    Ok(())
}
