//! Shared helpers for the runtime integration tests: a private `--root`, a
//! busybox-static bundle, and cleanup that leaves nothing on the host.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use std::sync::atomic::{AtomicUsize, Ordering};

pub const BIN: &str = env!("CARGO_BIN_EXE_stockade");

static N: AtomicUsize = AtomicUsize::new(0);

pub fn busybox() -> PathBuf {
    testkit::busybox().expect("busybox-static is required: apt-get install busybox-static")
}

/// A test environment: a temporary directory with a state root.
pub struct Env {
    pub dir: PathBuf,
    pub root: PathBuf,
    pub prefix: String,
}

impl Env {
    pub fn new(name: &str) -> Env {
        let n = N.fetch_add(1, Ordering::SeqCst);
        let prefix = format!(
            "stk{}{}{n}",
            std::process::id(),
            name.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(8)
                .collect::<String>()
        );
        let dir = std::env::temp_dir().join(format!("stockade-test-{prefix}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let root = dir.join("state");
        Env { dir, root, prefix }
    }

    /// A container id unique to this test.
    pub fn id(&self, s: &str) -> String {
        format!("{}-{s}", self.prefix)
    }

    /// A bundle with a busybox rootfs and a config edited by `edit`.
    pub fn bundle(&self, name: &str, args: &[&str], edit: impl FnOnce(&mut Value)) -> PathBuf {
        let mut spec = Command::new(BIN);
        spec.args(["spec", "--unhardened"]);
        testkit::bundle(&self.dir.join(name), spec, args, edit)
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--root").arg(&self.root);
        // These tests exercise the runtime's mechanics on runc-like configs
        // (no seccomp, extra capabilities...): the policy gate is off. The
        // gate's own tests pass --policy. The host's runtime.toml is not read.
        c.env("STOCKADE_POLICY", "off");
        c.env(
            "STOCKADE_RUNTIME_CONFIG",
            "/nonexistent/stockade-runtime.toml",
        );
        c.stdin(Stdio::null());
        c
    }

    /// Run the runtime with args; returns the output.
    pub fn stockade(&self, args: &[&str]) -> Output {
        let mut c = self.cmd();
        c.args(args);
        self.output(c)
    }

    /// Like `Command::output`, but through files: a container started by
    /// `create` or `run -d` inherits the runtime's stdio, and a pipe would
    /// then never reach end-of-file.
    pub fn output(&self, mut c: Command) -> Output {
        let n = N.fetch_add(1, Ordering::SeqCst);
        let o = self.dir.join(format!(".out{n}"));
        let e = self.dir.join(format!(".err{n}"));
        c.stdout(std::fs::File::create(&o).unwrap());
        c.stderr(std::fs::File::create(&e).unwrap());
        let status = c.status().unwrap();
        let out = Output {
            status,
            stdout: std::fs::read(&o).unwrap(),
            stderr: std::fs::read(&e).unwrap(),
        };
        let _ = std::fs::remove_file(o);
        let _ = std::fs::remove_file(e);
        out
    }

    /// `run` a bundle in the foreground: (exit code, stdout, stderr).
    pub fn run(&self, id: &str, bundle: &Path) -> (i32, String, String) {
        let mut c = self.cmd();
        c.arg("run").arg("--bundle").arg(bundle).arg(id);
        let out = self.output(c);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn state(&self, id: &str) -> Value {
        let out = self.stockade(&["state", id]);
        assert!(
            out.status.success(),
            "state {id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// What this environment has on the host: our mounts, our cgroups,
    /// our state entries, our processes.
    pub fn footprint(&self) -> Footprint {
        let dir = self.dir.to_string_lossy().into_owned();
        let mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&dir))
            .map(String::from)
            .collect();
        let mut cgroups = Vec::new();
        find_named(Path::new("/sys/fs/cgroup"), &self.prefix, 6, &mut cgroups);
        let state: Vec<String> = std::fs::read_dir(&self.root)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    // The runtime's caches (.cache/seccomp) and its warnings
                    // log (stockade.log, without --log) are meant to stay.
                    .filter(|n| n != ".cache" && !n.starts_with("stockade.log"))
                    .collect()
            })
            .unwrap_or_default();
        let mut procs = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(cmd) = std::fs::read_to_string(e.path().join("cmdline")) {
                if cmd.contains(&self.prefix) {
                    procs.push(cmd.replace('\0', " "));
                }
            }
        }
        Footprint {
            mounts,
            cgroups,
            state,
            procs,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Footprint {
    pub mounts: Vec<String>,
    pub cgroups: Vec<PathBuf>,
    pub state: Vec<String>,
    pub procs: Vec<String>,
}

impl Footprint {
    pub fn is_empty(&self) -> bool {
        self.mounts.is_empty()
            && self.cgroups.is_empty()
            && self.state.is_empty()
            && self.procs.is_empty()
    }
}

fn find_named(dir: &Path, needle: &str, depth: usize, out: &mut Vec<PathBuf>) {
    if depth == 0 {
        return;
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                let p = e.path();
                if e.file_name().to_string_lossy().contains(needle) {
                    out.push(p.clone());
                }
                find_named(&p, needle, depth - 1, out);
            }
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Containers first, through the runtime itself.
        if let Ok(rd) = std::fs::read_dir(&self.root) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                let _ = self.stockade(&["delete", "--force", &id]);
            }
        }
        // Anything still mounted under our directory (a failed test).
        let dir = self.dir.to_string_lossy().into_owned();
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(String::from))
            .filter(|m| m.starts_with(&dir))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
        let mut cgroups = Vec::new();
        find_named(Path::new("/sys/fs/cgroup"), &self.prefix, 6, &mut cgroups);
        cgroups.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for c in cgroups {
            let _ = std::fs::remove_dir(c);
        }
        let _ = Command::new("rm")
            .arg("-rf")
            .arg("--one-file-system")
            .arg(&self.dir)
            .status();
    }
}

/// Whether the test can go on as root; if not, a visible `SKIP: <test>: needs root` (a failure
/// under `CI=true`, where the tests run as root), and the test returns.
pub fn need_root() -> bool {
    testkit::require_root()
}
