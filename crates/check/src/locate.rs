//! Step 1: find the static probe and a static busybox.
//!
//! The probe runs inside rootfs that have no dynamic loader, so only a static ELF will do (one
//! without a `PT_INTERP` program header). Search order for the probe:
//! `$STOCKADE_PROBE_BIN`; `stockade-probe` next to the running binary; the output of
//! `scripts/build-probe.sh` under `target/probe-static` (or `target/`) of a workspace above the
//! running binary or the current directory; else the script is run to build it.

use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// True when `path` is an ELF executable without a dynamic loader.
pub fn is_static_elf(path: &Path) -> bool {
    let Ok(b) = std::fs::read(path) else {
        return false;
    };
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return false; // only 64-bit ELF
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap_or([0; 8])) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        if o + 4 > b.len() {
            return false;
        }
        if u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) == 3 {
            return false; // PT_INTERP: needs ld.so
        }
    }
    true
}

fn triple() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "aarch64-unknown-linux-gnu"
    } else {
        "x86_64-unknown-linux-gnu"
    }
}

/// Workspace roots above the running binary and the current directory.
fn workspaces() -> Vec<PathBuf> {
    let mut starts = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        starts.push(exe);
    }
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    let mut out = Vec::new();
    for s in starts {
        for a in s.ancestors() {
            if a.join("scripts/build-probe.sh").is_file() && !out.iter().any(|o| o == a) {
                out.push(a.to_path_buf());
            }
        }
    }
    out
}

/// Find (or build) the static probe.
pub fn probe() -> Result<PathBuf> {
    let mut tried = Vec::new();
    let mut candidates = Vec::new();
    if let Ok(p) = std::env::var("STOCKADE_PROBE_BIN") {
        candidates.push(PathBuf::from(p));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            candidates.push(dir.join("stockade-probe"));
        }
    }
    let ws = workspaces();
    for w in &ws {
        for t in ["target/probe-static", "target"] {
            candidates.push(w.join(t).join(triple()).join("release/stockade-probe"));
        }
    }
    for c in candidates {
        if is_static_elf(&c) {
            return Ok(c);
        }
        tried.push(c.display().to_string());
    }
    // Build it, into the same place the probe's own tests use.
    if let Some(w) = ws.first() {
        let out = Command::new(w.join("scripts/build-probe.sh"))
            .env("CARGO_TARGET_DIR", w.join("target/probe-static"))
            .env_remove("RUSTFLAGS")
            .output()
            .map_err(crate::io("scripts/build-probe.sh"))?;
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && is_static_elf(&p) {
            return Ok(p);
        }
        tried.push(format!(
            "scripts/build-probe.sh: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Err(Error::NoProbe(format!(
        "tried {}; build one with scripts/build-probe.sh or set STOCKADE_PROBE_BIN",
        tried.join(", ")
    )))
}

/// A static busybox (Debian's busybox-static), if installed.
pub fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox", "/usr/local/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| is_static_elf(p))
}

/// The full path of a command on `PATH`.
pub fn which(cmd: &str) -> Option<PathBuf> {
    if cmd.contains('/') {
        let p = PathBuf::from(cmd);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(cmd))
        .find(|p| p.is_file())
}
