//! Test set-up shared by the workspace's integration tests (a dev-dependency only).
//!
//! * [`skip`], [`require`], [`require_root`]: the one rule for a missing prerequisite. Under
//!   `CI=true` (`.ci/run`; `scripts/install-deps` installs every tool) it is a failure; elsewhere
//!   the test prints `SKIP: <test>: <why>` where a plain `cargo test` shows it, and returns.
//!   [`not_on_this_host`]: a case that does not apply to this host's kernel or system (never a
//!   failure, but visible).
//! * [`which`], [`have`], [`is_root`]: what the machine has.
//! * [`busybox`], [`busybox_rootfs`], [`bundle`]: a static-busybox root filesystem and an OCI
//!   bundle around it (its config.json from the runtime's own `spec`).
//! * [`LoopDevice`]: a scratch loop device, detached and deleted on drop.
//! * [`bounding_set`], [`cap_names_in`]: the capabilities this process may hold.
//! * [`Rng`]: a small seeded generator, so a randomised test's failure names a case that reproduces.

#![forbid(unsafe_code)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether this run is CI's: `CI=true`, where a missing prerequisite is a failure.
pub fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// The running test cannot run here because of `why`. Under `CI=true` this panics (CI
/// installs every prerequisite, so a missing one is a broken CI, not a pass); elsewhere it
/// writes `SKIP: <test>: <why>` straight to stderr (libtest captures `println!`/`eprintln!` of
/// passing tests, so a skip said that way would be invisible) and the caller returns.
pub fn skip(why: &str) {
    let test = this_test();
    assert!(!ci(), "{test}: prerequisite missing under CI=true: {why}");
    let _ = writeln!(std::io::stderr(), "SKIP: {test}: {why}");
}

/// The name of the running test: libtest names each test's thread after it (`main` when the
/// tests run on the main thread, with `--test-threads=1`).
pub fn this_test() -> String {
    std::thread::current().name().unwrap_or("test").to_string()
}

/// The path of `tool` as the shell would find it on `$PATH` (an executable regular file).
pub fn which(tool: &str) -> Option<PathBuf> {
    if tool.contains('/') {
        let p = PathBuf::from(tool);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether `tool` is on `$PATH`.
pub fn have(tool: &str) -> bool {
    which(tool).is_some()
}

/// The first of `tools` not on `$PATH`, as a reason to skip.
pub fn missing(tools: &[&str]) -> Option<String> {
    tools
        .iter()
        .find(|t| !have(t))
        .map(|t| format!("{t} is not installed (scripts/install-deps installs it)"))
}

/// The running test (or a case of it) does not apply to this host because of `why`: a kernel or
/// system feature CI cannot install (no systemd as PID 1, a cgroup layout, an LSM that is or is
/// not enabled). Never a failure; said as `SKIP: <test>: <why>` straight to stderr like [`skip`],
/// so that it is seen. A missing tool is [`skip`]'s, not this.
pub fn not_on_this_host(why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIP: {}: {why}", this_test());
}

/// Whether every one of `tools` is on `$PATH`; if one is not, [`skip`] (a failure in CI) and
/// false.
pub fn require(tools: &[&str]) -> bool {
    match missing(tools) {
        None => true,
        Some(why) => {
            skip(&why);
            false
        }
    }
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    // The effective uid, as /proc says it (no unsafe libc call needed).
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Whether this process runs as root; if not, [`skip`] (CI runs the tests as root) and false.
pub fn require_root() -> bool {
    if is_root() {
        return true;
    }
    skip("needs root");
    false
}

/// A statically linked busybox (Debian's busybox-static), which runs in any root filesystem.
pub fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| {
            p.exists()
                && Command::new("ldd")
                    .arg(p)
                    .output()
                    .map(|o| !String::from_utf8_lossy(&o.stdout).contains("=>"))
                    .unwrap_or(true)
        })
}

/// Fills `rootfs` (mode 0755) with a static busybox at /bin/busybox, a link for each of its
/// applets in /bin, /tmp (mode 1777), and an /etc/passwd and /etc/group with root and `user`
/// (1000, home /tmp); nothing else (no /proc, /run: callers add the mount points they want).
/// Panics (a broken test set-up) when busybox-static is missing: check [`busybox`] first.
pub fn busybox_rootfs(rootfs: &Path) {
    let bb = busybox().expect("busybox-static is required: apt-get install busybox-static");
    let bin = rootfs.join("bin");
    for d in ["bin", "etc", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    let mode = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode(rootfs, 0o755);
    mode(&rootfs.join("tmp"), 0o1777);
    std::fs::copy(&bb, bin.join("busybox")).unwrap();
    mode(&bin.join("busybox"), 0o755);
    let list = Command::new(&bb).arg("--list").output().unwrap();
    for a in String::from_utf8_lossy(&list.stdout).lines() {
        if a != "busybox" && !a.is_empty() {
            let _ = std::os::unix::fs::symlink("busybox", bin.join(a));
        }
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nuser:x:1000:\n").unwrap();
}

/// An OCI bundle at `dir`: a [`busybox_rootfs`] in `dir/rootfs` with the mount points /proc,
/// /sys, /dev and /root, and the config.json that
/// `spec` writes (`runc spec`, `stockade spec --unhardened`: given without `--bundle`, which is
/// added), with `process.args` = `args`, no terminal, then `edit`ed. Returns `dir`.
pub fn bundle(
    dir: &Path,
    mut spec: Command,
    args: &[&str],
    edit: impl FnOnce(&mut serde_json::Value),
) -> PathBuf {
    let rootfs = dir.join("rootfs");
    busybox_rootfs(&rootfs);
    for d in ["proc", "sys", "dev", "root"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    let _ = std::fs::remove_file(dir.join("config.json"));
    let out = spec.arg("--bundle").arg(dir).output().unwrap();
    assert!(
        out.status.success(),
        "{spec:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = dir.join("config.json");
    let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    cfg["process"]["terminal"] = false.into();
    cfg["process"]["args"] = serde_json::json!(args);
    edit(&mut cfg);
    std::fs::write(&p, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    dir.to_path_buf()
}

/// A scratch loop device over a file of its own, detached and the file deleted on drop. A test
/// target that is never a real disk of the machine.
pub struct LoopDevice {
    /// `/dev/loopN`.
    pub dev: String,
    file: PathBuf,
}

impl LoopDevice {
    /// A zeroed file of `mib` MiB at `file`, attached to the first free loop device; with
    /// `ext4`, formatted first (`mkfs.ext4 -q -F`). Needs root, `losetup` (and `mkfs.ext4`).
    pub fn new(file: &Path, mib: u64, ext4: bool) -> Result<LoopDevice, String> {
        let f = std::fs::File::create(file).map_err(|e| format!("{}: {e}", file.display()))?;
        f.set_len(mib << 20)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        drop(f);
        let run = |cmd: &mut Command| -> Result<String, String> {
            let o = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
            if !o.status.success() {
                return Err(format!(
                    "{cmd:?}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
            Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        if ext4 {
            if let Err(e) = run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(file)) {
                let _ = std::fs::remove_file(file);
                return Err(e);
            }
        }
        match run(Command::new("losetup").args(["--find", "--show"]).arg(file)) {
            Ok(dev) => Ok(LoopDevice {
                dev,
                file: file.to_path_buf(),
            }),
            Err(e) => {
                let _ = std::fs::remove_file(file);
                Err(e)
            }
        }
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
        let _ = std::fs::remove_file(&self.file);
    }
}

/// This process's capability bounding set (`CapBnd` of /proc/self/status), bit n for
/// capability n.
pub fn bounding_set() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0)
}

/// `CAP_<name>` for each capability in `set`, from `names` by number (the escape battery's
/// `probe::state::cap::NAMES`, the one list in the tree, without its `CAP_` prefix).
pub fn cap_names_in(set: u64, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .enumerate()
        .filter(|(i, _)| *i < 64 && set & (1 << i) != 0)
        .map(|(_, n)| format!("CAP_{n}"))
        .collect()
}

/// A small deterministic generator (xorshift64*) for randomised tests: a fixed seed, so a
/// failure names a case that reproduces. Not for anything but tests.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0, which xorshift cannot leave, is taken as 1).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// An index into a slice of `len` (> 0) items.
    pub fn index(&mut self, len: usize) -> usize {
        (self.next_u64() % len as u64) as usize
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.index(items.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_finds_sh_and_not_a_made_up_tool() {
        assert!(which("sh").is_some());
        assert!(which("no-such-tool-stockade-testkit").is_none());
        assert_eq!(
            missing(&["sh", "no-such-tool-stockade-testkit"]).as_deref(),
            Some(
                "no-such-tool-stockade-testkit is not installed (scripts/install-deps installs it)"
            )
        );
    }

    #[test]
    fn cap_names_follow_the_bits() {
        assert_eq!(
            cap_names_in(0b101, &["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH"]),
            ["CAP_CHOWN", "CAP_DAC_READ_SEARCH"]
        );
    }
}
