//! Small helpers shared by the other modules.

use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// RFC 3339 timestamp with nanoseconds in UTC, like Go's `time.RFC3339Nano`.
pub fn rfc3339_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

/// Format seconds since the epoch as RFC 3339 (UTC).
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    policy::civil::rfc3339(secs, nanos, 9)
}

/// A container id must be usable as one directory name, and can never name
/// one of the runtime's own entries in the state root: those start with a
/// dot (`.cache`, `.console-*`), and so an id may not.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id.len() <= 1024
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b))
}

/// Lexically clean an absolute path inside a root ("/a/../b" -> "/b").
/// Returns `None` when `..` would climb above the root.
pub fn clean_in_root(path: &Path) -> Option<PathBuf> {
    let mut out: Vec<&std::ffi::OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                out.pop()?;
            }
            Component::Normal(n) => out.push(n),
        }
    }
    let mut p = PathBuf::from("/");
    for c in out {
        p.push(c);
    }
    Some(p)
}

/// Start time of a process (field 22 of /proc/<pid>/stat, in clock ticks),
/// and whether it is a zombie. `None` if the process does not exist.
pub fn proc_start_time(pid: i32) -> Option<(u64, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: split after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, *state == "Z" || *state == "X"))
}

/// Write `data` to `path` atomically (temporary file in the same directory +
/// rename). An existing file is swapped out with `RENAME_EXCHANGE` and the
/// old copy unlinked: ext4 starts writeback of the new file on a *replacing*
/// rename (auto_da_alloc), about 1 ms per state save; a swap does not, and
/// `path` still exists, old or new, at every moment.
///
/// The file gets `mode` whatever the umask. The temporary file is made with
/// O_EXCL|O_NOFOLLOW, so a planted file or symlink is never written through.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
    };
    let mut f = match open() {
        // Left by a runtime of the same pid that died before its rename.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&tmp)?;
            open()?
        }
        other => other?,
    };
    let written = f
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .and_then(|()| f.write_all(data));
    drop(f);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if renameat2(AT_FDCWD, &tmp, AT_FDCWD, path, RenameFlags::RENAME_EXCHANGE).is_ok() {
        return std::fs::remove_file(&tmp);
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Parse a signal given as a number ("9"), a name ("KILL") or "SIGKILL".
pub fn parse_signal(s: &str) -> Option<nix::sys::signal::Signal> {
    use std::str::FromStr;
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n).ok();
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    nix::sys::signal::Signal::from_str(&name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(1_700_000_000, 5), "2023-11-14T22:13:20.000000005Z");
    }

    #[test]
    fn ids() {
        assert!(valid_id("abc-1.2_3+x"));
        assert!(!valid_id("../x"));
        assert!(!valid_id(""));
        assert!(!valid_id(".."));
        // The runtime's own entries in the state root.
        assert!(!valid_id(".cache"));
        assert!(!valid_id(".console-x-1.sock"));
        assert!(valid_id("a.cache"));
    }

    #[test]
    fn clean() {
        assert_eq!(
            clean_in_root(Path::new("/a/../b")),
            Some(PathBuf::from("/b"))
        );
        assert_eq!(clean_in_root(Path::new("/../b")), None);
    }

    #[test]
    fn signals() {
        use nix::sys::signal::Signal;
        assert_eq!(parse_signal("9"), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("term"), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("SIGUSR1"), Some(Signal::SIGUSR1));
        assert_eq!(parse_signal("BOGUS"), None);
    }
}
