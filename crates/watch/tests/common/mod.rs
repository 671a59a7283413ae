//! Shared fixtures for the container tests: a busybox rootfs with the static trigger helper, runc
//! and stockade bundles under a private `--root`, a rootful podman with private configuration, and a running
//! `stockade-watch` whose JSON lines the tests read.
//!
//! The tests need root, runc, podman and clang. Without them they print why and pass as skipped,
//! so `cargo test` stays usable on a developer laptop; CI runs them as root.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const WATCH: &str = env!("CARGO_BIN_EXE_stockade-watch");

static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

/// This test process's scratch directory, `/tmp/skw-test-<pid>`, removed when the process exits
/// (the test harness ends with `exit`, which runs the handler registered here).
pub fn scratch() -> &'static Path {
    SCRATCH.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("skw-test-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        // SAFETY: atexit only records a pointer to a function that takes no arguments and
        // captures nothing; the function below touches only the OnceLock, already set when it
        // runs.
        unsafe {
            libc::atexit(remove_scratch);
        }
        d
    })
}

extern "C" fn remove_scratch() {
    if let Some(d) = SCRATCH.get() {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Why the container tests cannot run here, if they cannot, said once with
/// [`testkit::skip`]: CI installs every prerequisite, so there a reason to skip is a failure.
pub fn skip_reason(need_podman: bool) -> Option<String> {
    let why = if !testkit::is_root() {
        Some("not root".into())
    } else if testkit::busybox().is_none() {
        Some("busybox-static not installed".into())
    } else {
        let tools: &[&str] = if need_podman {
            &["runc", "clang", "podman"]
        } else {
            &["runc", "clang"]
        };
        testkit::missing(tools)
    };
    if let Some(w) = &why {
        testkit::skip(w);
    }
    why
}

pub fn sh(cmd: &str) -> std::process::Output {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .expect("run sh")
}

/// Removes the named cgroup v1 hierarchy `name` a trigger mounted, if the kernel still lists it.
/// A hierarchy outlives its last unmount when a child cgroup was removed just before it: the
/// child is freed after the unmount, and nothing destroys the root then. Mounting it again (by its
/// name, in a private mount namespace) once the child is gone and unmounting destroys it. Fails the
/// test if it cannot be removed: tests leave nothing on the host.
pub fn reap_named_hierarchy(name: &str) {
    let want = format!("name={name}");
    let listed = || {
        std::fs::read_to_string("/proc/self/cgroup")
            .map(|s| {
                s.lines()
                    .any(|l| l.split(':').nth(1) == Some(want.as_str()))
            })
            .unwrap_or(false)
    };
    for _ in 0..50 {
        if !listed() {
            return;
        }
        let script = format!(
            "d=$(mktemp -d) && mount -t cgroup -o none,name={name} cgroup \"$d\" && umount \"$d\"; rmdir \"$d\""
        );
        let _ = Command::new("unshare")
            .args(["-m", "sh", "-c", &script])
            .status();
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        !listed(),
        "the named cgroup hierarchy {name} is still there after 10 s"
    );
}

/// A unique-enough suffix for container and hierarchy names.
pub fn uniq(tag: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("skw-{tag}-{}-{}", std::process::id(), t % 100000)
}

/// The static trigger helper, built once.
pub fn helper() -> PathBuf {
    static H: OnceLock<PathBuf> = OnceLock::new();
    H.get_or_init(|| {
        let out = scratch().join("skd-trigger");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helper/skd-trigger.c");
        let st = Command::new("clang")
            .args(["-static", "-O2", "-w", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("clang");
        assert!(st.success(), "building the trigger helper");
        out
    })
    .clone()
}

/// A busybox rootfs with the helper, /sbin, a scratch service-account token and user 1000.
pub fn rootfs() -> PathBuf {
    static R: OnceLock<PathBuf> = OnceLock::new();
    R.get_or_init(|| {
        let r = scratch().join("rootfs");
        let bin = r.join("bin");
        testkit::busybox_rootfs(&r);
        for d in [
            "sbin",
            "proc",
            "sys",
            "dev",
            "mnt",
            "root",
            "var/run/secrets/kubernetes.io/serviceaccount",
        ] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        std::fs::copy(helper(), bin.join("skd-trigger")).unwrap();
        std::fs::write(
            r.join("var/run/secrets/kubernetes.io/serviceaccount/token"),
            "scratch-token-not-a-secret\n",
        )
        .unwrap();
        r
    })
    .clone()
}

/// A scratch loop device (4 MiB file under the test's scratch directory), detached and the file
/// deleted on drop.
pub struct Loop(testkit::LoopDevice);

impl Loop {
    pub fn new(tag: &str) -> Loop {
        let file = scratch().join(format!("{tag}.img"));
        Loop(testkit::LoopDevice::new(&file, 4, false).unwrap_or_else(|e| panic!("losetup: {e}")))
    }
}

impl std::ops::Deref for Loop {
    type Target = testkit::LoopDevice;
    fn deref(&self) -> &testkit::LoopDevice {
        &self.0
    }
}

/// The host's capability names that fit its bounding set (the VM lacks CAP_SYS_RESOURCE).
fn host_caps() -> Vec<String> {
    // The names by number, from the escape battery's probe (the one list in the tree).
    testkit::cap_names_in(testkit::bounding_set(), &probe::state::cap::NAMES)
}

pub enum Shape {
    /// every capability of the host, no seccomp, /proc and /sys writable, all devices allowed
    Privileged,
    /// like Privileged but sharing the host PID namespace
    PrivilegedHostPid,
    /// the runc default capabilities plus CAP_SYS_ADMIN
    SysAdmin,
    /// `runc spec` as it is (its capabilities, masked paths, read-only /sys, no_new_privs)
    Default,
}

/// The OCI runtime binary a [`Runc`] fixture drives: runc itself, or stockade's own runtime
/// (runc-compatible command line, docs/runtime.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Runc,
    Stockade,
}

impl Runtime {
    /// The name `stockade watch` reports in `container.runtime`.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Runc => "runc",
            Runtime::Stockade => "stockade",
        }
    }

    /// The runtime with `--root root` (and `--policy off` for stockade: its gate would refuse
    /// the privileged shapes).
    fn cmd(self, root: &Path) -> Command {
        let mut cmd = Command::new(self.bin());
        cmd.arg("--root").arg(root);
        if self == Runtime::Stockade {
            cmd.args(["--policy", "off"]);
        }
        cmd
    }

    fn bin(self) -> PathBuf {
        match self {
            Runtime::Runc => PathBuf::from("runc"),
            Runtime::Stockade => {
                stockade_bin().expect("stockade binary (see stockade_skip_reason)")
            }
        }
    }

    /// The private `--root` of this runtime's test containers (the watcher gets it as
    /// `--runc-root` or `--stockade-root`).
    pub fn root(self) -> PathBuf {
        let r = scratch().join(match self {
            Runtime::Runc => "runc-root",
            Runtime::Stockade => "stockade-root",
        });
        std::fs::create_dir_all(&r).unwrap();
        r
    }
}

/// The `stockade` binary of this build (crates/cli), next to the test executable's `deps/`
/// directory: `target/<profile>/stockade`. Another package's binary has no
/// `CARGO_BIN_EXE_*`; `cargo test --workspace` builds it before any test runs.
pub fn stockade_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let bin = profile_dir.join("stockade");
    bin.is_file().then_some(bin)
}

/// Why the stockade-runtime tests cannot run here, if they cannot (after [`skip_reason`]).
pub fn stockade_skip_reason() -> Option<String> {
    if stockade_bin().is_some() {
        return None;
    }
    let why = "stockade binary not built (cargo build -p stockade)".to_string();
    testkit::skip(&why);
    Some(why)
}

/// A container under a private `--root` of runc or stockade, running `sleep`; killed and
/// deleted on drop.
pub struct Runc {
    pub runtime: Runtime,
    pub root: PathBuf,
    pub id: String,
    bundle: PathBuf,
}

impl Runc {
    pub fn root() -> PathBuf {
        Runtime::Runc.root()
    }

    /// A runc container.
    pub fn start(tag: &str, shape: Shape, loopdev: Option<&str>) -> Runc {
        Runc::start_with(Runtime::Runc, tag, shape, loopdev, &[])
    }

    /// A container of `runtime`, from the same `runc spec` bundle. Stockade runs it with
    /// `--policy off`: its gate would refuse the privileged shapes, and a given config.json is
    /// honoured as written (the hardened defaults are only for `stockade spec`). `annotations`
    /// are added to config.json.
    pub fn start_with(
        runtime: Runtime,
        tag: &str,
        shape: Shape,
        loopdev: Option<&str>,
        annotations: &[(&str, &str)],
    ) -> Runc {
        let (id, bundle) = Runc::bundle(tag, shape, loopdev, annotations, &["sleep", "600"]);
        let root = runtime.root();
        // The detached container inherits the runtime's stdio: never a pipe we would wait on.
        let log = bundle.join("runc.log");
        let st = runtime
            .cmd(&root)
            .args(["run", "-d", "--bundle"])
            .arg(&bundle)
            .arg(&id)
            .current_dir(&bundle)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(bundle.join("runc.err")).unwrap())
            .status()
            .unwrap();
        assert!(
            st.success(),
            "{} run: {}",
            runtime.name(),
            std::fs::read_to_string(bundle.join("runc.err")).unwrap_or_default()
        );
        Runc {
            runtime,
            root,
            id,
            bundle,
        }
    }

    /// A privileged container of `runtime` that runs `args` in the foreground and is deleted
    /// when they exit (`run` without `-d`): returns its id and what it printed.
    pub fn run_once(runtime: Runtime, tag: &str, args: &[&str]) -> (String, String) {
        Runc::run_once_in(runtime, &runtime.root(), tag, args)
    }

    /// [`Runc::run_once`] with state under `root`.
    pub fn run_once_in(
        runtime: Runtime,
        root: &Path,
        tag: &str,
        args: &[&str],
    ) -> (String, String) {
        let (id, bundle) = Runc::bundle(tag, Shape::Privileged, None, &[], args);
        let out = runtime
            .cmd(root)
            .args(["run", "--bundle"])
            .arg(&bundle)
            .arg(&id)
            .current_dir(&bundle)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&bundle);
        (
            id,
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    /// A `runc spec` bundle of `shape` running `args`: (container id, bundle dir).
    fn bundle(
        tag: &str,
        shape: Shape,
        loopdev: Option<&str>,
        annotations: &[(&str, &str)],
        args: &[&str],
    ) -> (String, PathBuf) {
        let id = uniq(tag);
        let bundle = scratch().join(format!("bundle-{id}"));
        std::fs::create_dir_all(&bundle).unwrap();
        let out = Command::new("runc")
            .arg("spec")
            .current_dir(&bundle)
            .output()
            .unwrap();
        assert!(out.status.success());
        let path = bundle.join("config.json");
        let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        c["root"] = serde_json::json!({"path": rootfs(), "readonly": false});
        c["process"]["args"] = serde_json::json!(args);
        c["process"]["terminal"] = false.into();
        for (k, v) in annotations {
            c["annotations"][*k] = (*v).into();
        }
        if !matches!(shape, Shape::Default) {
            c["process"]["noNewPrivileges"] = false.into();
        }
        let caps: Vec<String> = match shape {
            Shape::Privileged | Shape::PrivilegedHostPid => host_caps(),
            Shape::SysAdmin | Shape::Default => {
                let mut v: Vec<String> = c["process"]["capabilities"]["bounding"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect();
                if matches!(shape, Shape::SysAdmin) {
                    v.push("CAP_SYS_ADMIN".into());
                }
                v
            }
        };
        for k in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][k] = serde_json::json!(caps);
        }
        let linux = c["linux"].as_object_mut().unwrap();
        if !matches!(shape, Shape::SysAdmin | Shape::Default) {
            linux.remove("maskedPaths");
            linux.remove("readonlyPaths");
            linux.insert(
                "resources".into(),
                serde_json::json!({"devices": [{"allow": true, "access": "rwm"}]}),
            );
        }
        if matches!(shape, Shape::PrivilegedHostPid) {
            let ns: Vec<Value> = linux["namespaces"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|n| n["type"] != "pid")
                .cloned()
                .collect();
            linux.insert("namespaces".into(), ns.into());
        }
        let mounts = c["mounts"].as_array_mut().unwrap();
        if !matches!(shape, Shape::SysAdmin | Shape::Default) {
            for m in mounts.iter_mut() {
                if m["destination"] == "/sys" {
                    let opts: Vec<Value> = m["options"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|o| *o != "ro")
                        .cloned()
                        .collect();
                    m["options"] = opts.into();
                }
            }
        }
        if let Some(dev) = loopdev {
            mounts.push(
                serde_json::json!({"destination": "/dev/skwloop", "type": "bind",
                "source": dev, "options": ["bind"]}),
            );
        }
        std::fs::write(&path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
        (id, bundle)
    }

    /// The host pid of the container's init (`state`).
    pub fn init_pid(&self) -> u64 {
        let out = Command::new(self.runtime.bin())
            .arg("--root")
            .arg(&self.root)
            .args(["state", &self.id])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} state: {}",
            self.runtime.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["pid"]
            .as_u64()
            .filter(|p| *p > 0)
            .expect("state has the init pid")
    }

    fn exec_cmd(&self, user: Option<&str>, argv: &[&str]) -> Command {
        let mut c = Command::new(self.runtime.bin());
        c.arg("--root").arg(&self.root);
        if self.runtime == Runtime::Stockade {
            // `exec` is gated like `create`, and the level is not remembered from `run`
            c.args(["--policy", "off"]);
        }
        c.arg("exec");
        if let Some(u) = user {
            c.args(["--user", u]);
        }
        c.arg(&self.id).args(argv);
        c
    }
}

impl Drop for Runc {
    fn drop(&mut self) {
        let _ = Command::new(self.runtime.bin())
            .arg("--root")
            .arg(&self.root)
            .args(["delete", "--force", &self.id])
            .output();
        let _ = std::fs::remove_dir_all(&self.bundle);
    }
}

/// Rootful podman with private configuration and storage (engines.md §2). The storage is shared
/// by all test runs (one overlay mount, one image), not per run.
pub fn podman_env() -> Vec<(String, String)> {
    static ENV: OnceLock<Vec<(String, String)>> = OnceLock::new();
    ENV.get_or_init(|| {
        let d = std::env::temp_dir().join("skw-podman");
        std::fs::create_dir_all(d.join("tmp")).unwrap();
        std::fs::write(
            d.join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\nnetns = \"none\"\n\
                 [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 events_logfile_path = \"{0}/events.log\"\ntmp_dir = \"{0}/tmp\"\nruntime = \"runc\"\n\
                 [network]\nnetwork_config_dir = \"{0}/net\"\n",
                d.display()
            ),
        )
        .unwrap();
        std::fs::write(
            d.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{0}/graph\"\nrunroot = \"{0}/run\"\n",
                d.display()
            ),
        )
        .unwrap();
        let env = vec![
            ("CONTAINERS_CONF".to_string(), d.join("containers.conf").display().to_string()),
            (
                "CONTAINERS_STORAGE_CONF".to_string(),
                d.join("storage.conf").display().to_string(),
            ),
        ];
        let tgz = d.join("rootfs.tgz");
        let st = Command::new("tar")
            .arg("--numeric-owner")
            .arg("-czf")
            .arg(&tgz)
            .arg("-C")
            .arg(rootfs())
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success());
        let out = Command::new("podman")
            .envs(env.clone())
            .args(["import", "--change", "CMD [\"/bin/sh\"]"])
            .arg(&tgz)
            .arg("localhost/skw-busybox:test")
            .output()
            .unwrap();
        assert!(out.status.success(), "podman import: {}", String::from_utf8_lossy(&out.stderr));
        env
    })
    .clone()
}

pub struct Podman {
    pub name: String,
    pub id: String,
}

impl Podman {
    pub fn start(tag: &str, extra: &[&str]) -> Podman {
        let name = uniq(tag);
        let out = Command::new("podman")
            .envs(podman_env())
            .args(["run", "-d", "--name", &name])
            .args(extra)
            .args(["localhost/skw-busybox:test", "sleep", "600"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "podman run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Podman { name, id }
    }

    fn exec_cmd(&self, user: Option<&str>, argv: &[&str]) -> Command {
        let mut c = Command::new("podman");
        c.envs(podman_env()).arg("exec");
        if let Some(u) = user {
            c.args(["--user", u]);
        }
        c.arg(&self.name).args(argv);
        c
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .envs(podman_env())
            .args(["rm", "-f", "-t", "0", &self.name])
            .output();
    }
}

/// Either engine, for the shared trigger table.
pub enum Ctr<'a> {
    Runc(&'a Runc),
    Podman(&'a Podman),
}

impl Ctr<'_> {
    pub fn id(&self) -> &str {
        match self {
            Ctr::Runc(r) => &r.id,
            Ctr::Podman(p) => &p.id,
        }
    }

    pub fn runtime(&self) -> &str {
        match self {
            Ctr::Runc(r) => r.runtime.name(),
            Ctr::Podman(_) => "podman",
        }
    }

    /// Runs argv in the container; `fd3` is passed as fd 3 (`--preserve-fds 1`).
    pub fn exec(&self, user: Option<&str>, argv: &[&str], fd3: Option<&std::fs::File>) -> String {
        let mut c = match self {
            Ctr::Runc(r) => r.exec_cmd(user, argv),
            Ctr::Podman(p) => p.exec_cmd(user, argv),
        };
        if let Some(f) = fd3 {
            use std::os::fd::AsRawFd;
            let raw = f.as_raw_fd();
            // insert --preserve-fds 1 right after "exec"
            let args: Vec<std::ffi::OsString> = c.get_args().map(|a| a.to_owned()).collect();
            let prog = c.get_program().to_owned();
            let envs: Vec<(std::ffi::OsString, std::ffi::OsString)> = c
                .get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
                .collect();
            let mut n = Command::new(prog);
            n.envs(envs);
            for a in args {
                let is_exec = a == "exec";
                n.arg(&a);
                if is_exec {
                    n.args(["--preserve-fds", "1"]);
                }
            }
            // SAFETY: dup2 in the child between fork and exec is async-signal-safe.
            unsafe {
                use std::os::unix::process::CommandExt;
                n.pre_exec(move || {
                    if raw == 3 {
                        // already fd 3: only clear close-on-exec
                        if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    } else if libc::dup2(raw, 3) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            c = n;
        }
        let out = c.stdin(Stdio::null()).output().expect("exec");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

/// A running `stockade-watch` writing JSON lines to a file.
pub struct Watcher {
    child: Option<Child>,
    pub out: PathBuf,
    pub err: PathBuf,
}

impl Watcher {
    pub fn start(tag: &str, extra: &[&str]) -> Watcher {
        let out = scratch().join(format!("{tag}.jsonl"));
        let err = scratch().join(format!("{tag}.err"));
        let _ = std::fs::remove_file(&out);
        let child = Command::new(WATCH)
            .arg("--runc-root")
            .arg(Runtime::Runc.root())
            .arg("--stockade-root")
            .arg(Runtime::Stockade.root())
            .arg("-o")
            .arg(&out)
            .args(if extra.contains(&"--format") {
                &["--duration", "600"][..]
            } else {
                &["--format", "json", "--duration", "600"][..]
            })
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("spawn stockade-watch");
        let w = Watcher {
            child: Some(child),
            out,
            err,
        };
        w.wait_log("stockade watch: running", Duration::from_secs(30));
        w
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    pub fn wait_log(&self, needle: &str, timeout: Duration) {
        let t = Instant::now();
        while t.elapsed() < timeout {
            if self.log().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "watch log lacks {needle:?} after {timeout:?}:\n{}",
            self.log()
        );
    }

    /// Stops the watcher (SIGTERM; it drains the ring buffers) and returns its events.
    pub fn stop(&mut self) -> Vec<Value> {
        std::thread::sleep(Duration::from_millis(300));
        if let Some(mut c) = self.child.take() {
            // SAFETY: signalling our own child by pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Events of one container, as (rule, event).
pub fn of_container<'a>(events: &'a [Value], id: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["container"]["id"] == id)
        .collect()
}
