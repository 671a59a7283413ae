//! Real battery runs under Debian's runc, in two configurations:
//!
//! * `runc spec` as generated (3 capabilities, masked/read-only paths, no seccomp, no userns);
//! * a privileged config: all capabilities the host has, no seccomp, rw /sys, /proc/sys and
//!   cgroupfs, host pid namespace, all devices allowed, a host directory with a canary and a fake
//!   engine socket bind-mounted in, and a host directory fd leaked with `--preserve-fds`.
//!
//! Targets are the test's own: a scratch ext4 image on a loop device (never /dev/vda), a canary
//! file, a fake engine socket, a `sleep` process (never pid 1) and a harmless release_agent
//! script that writes a marker into the bundle. Everything is removed at the end.
//!
//! Needs root and `apt-get install -y runc busybox-static` (plus util-linux losetup and
//! e2fsprogs mkfs.ext4). Without them the test prints why and passes, unless
//! `STOCKADE_REQUIRE_RUNC=1`. `STOCKADE_PROBE_BIN` may point at a prebuilt static probe;
//! otherwise `scripts/build-probe.sh` builds one (in a separate target dir).

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use probe::{Layer, Outcome, ProbeResult};

/// The static busybox, or why the battery cannot run here.
fn prerequisites() -> Result<PathBuf, String> {
    if !testkit::is_root() {
        return Err("not root".into());
    }
    if let Some(why) = testkit::missing(&["runc", "losetup", "mkfs.ext4", "sleep"]) {
        return Err(why);
    }
    testkit::busybox().ok_or_else(|| "busybox-static not installed (static busybox)".into())
}

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn probe_binary() -> PathBuf {
    if let Ok(p) = std::env::var("STOCKADE_PROBE_BIN") {
        return PathBuf::from(p);
    }
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // A separate target dir: the outer `cargo test` holds the lock on the default one.
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| ws.join("target"))
        .join("probe-static");
    PathBuf::from(sh(Command::new(ws.join("scripts/build-probe.sh"))
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")))
}

/// Everything the test creates; removed on drop, even when an assertion fails.
struct Fixture {
    dir: PathBuf,
    loopdev: Option<String>,
    sleeper: Option<Child>,
    _listener: Option<UnixListener>,
    containers: Vec<String>,
    runc_root: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for id in &self.containers {
            let _ = Command::new("runc")
                .arg("--root")
                .arg(&self.runc_root)
                .args(["delete", "-f", id])
                .stderr(Stdio::null())
                .status();
        }
        if let Some(mut s) = self.sleeper.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
        if let Some(l) = &self.loopdev {
            let _ = Command::new("losetup").args(["-d", l]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Targets {
    args: Vec<String>,
    hostdir: PathBuf,
}

fn setup(bb: &Path, probe: &Path) -> (Fixture, Targets) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    // On the host's root file system on purpose: shocker's handle {ino 2} must reach it.
    let dir = PathBuf::from(format!(
        "/tmp/stockade-probe-it-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut fx = Fixture {
        dir: dir.clone(),
        loopdev: None,
        sleeper: None,
        _listener: None,
        containers: Vec::new(),
        runc_root: dir.join("runc-root"),
    };
    // Host canary + fake engine socket in a host directory that the privileged config binds in.
    let hostdir = dir.join("hostdir");
    std::fs::create_dir_all(&hostdir).unwrap();
    let content = format!("stockade-canary-{nanos}");
    std::fs::write(hostdir.join("canary.txt"), &content).unwrap();
    fx._listener = Some(UnixListener::bind(hostdir.join("engine.sock")).unwrap());
    // Scratch ext4 image on a loop device, with its own canary.
    let imgsrc = dir.join("imgsrc");
    std::fs::create_dir_all(&imgsrc).unwrap();
    std::fs::write(imgsrc.join("canary"), format!("block-{content}")).unwrap();
    let img = dir.join("disk.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    sh(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(&imgsrc)
        .arg(&img));
    let loopdev = sh(Command::new("losetup").args(["--find", "--show"]).arg(&img));
    fx.loopdev = Some(loopdev.clone());
    let rdev = std::fs::metadata(&loopdev).unwrap().rdev();
    let (maj, min) = (libc::major(rdev), libc::minor(rdev));
    // The sleeper: our own process, the host-pid target.
    let sleeper = Command::new("sleep").arg("600").spawn().unwrap();
    let pid = sleeper.id();
    fx.sleeper = Some(sleeper);
    // Bundle: busybox + the static probe.
    let bundle = dir.join("bundle");
    let rootfs = bundle.join("rootfs");
    for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "run", "hostdir"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy(bb, rootfs.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
    std::fs::copy(probe, rootfs.join("probe")).unwrap();
    std::fs::set_permissions(rootfs.join("probe"), std::fs::Permissions::from_mode(0o755)).unwrap();
    // Harmless release_agent: it only writes a marker into the bundle's rootfs.
    let agent = dir.join("agent.sh");
    std::fs::write(
        &agent,
        format!(
            "#!/bin/sh\necho \"release_agent ran on the host as uid $(id -u) for $1\" > {}\n",
            rootfs.join("ra-marker").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(&fx.runc_root).unwrap();
    let args: Vec<String> = vec![
        "/probe".into(),
        "--json".into(),
        "--canary".into(),
        "/hostdir/canary.txt".into(),
        "--host-canary".into(),
        hostdir.join("canary.txt").display().to_string(),
        "--canary-content".into(),
        content,
        "--socket".into(),
        "/run/engine.sock".into(),
        "--block-dev".into(),
        format!("{maj}:{min}"),
        "--target-pid".into(),
        pid.to_string(),
        "--release-agent".into(),
        agent.display().to_string(),
        "--release-marker".into(),
        "/ra-marker".into(),
        "--fork-cap".into(),
        "2048".into(),
        "--mem-mib".into(),
        "128".into(),
        "--timeout".into(),
        "60".into(),
    ];
    (fx, Targets { args, hostdir })
}

fn host_caps() -> Vec<String> {
    testkit::cap_names_in(testkit::bounding_set(), &probe::state::cap::NAMES)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Profile {
    /// `runc spec` as generated.
    Default,
    /// `runc spec` plus a small seccomp deny list (EPERM), to check seccomp attribution.
    DefaultSeccomp,
    /// `runc spec` plus pids.max=64 and a 64 MiB memory limit; only the exhaustion techniques.
    Limits,
    /// Everything open.
    Privileged,
    /// The privileged config inside a user namespace (container root = host uid 100000) with its
    /// own pid namespace: what the user namespace alone takes away.
    PrivilegedUserns,
}

/// Syscalls the `DefaultSeccomp` profile denies with EPERM (a subset of what moby denies).
const DENIED: [&str; 8] = [
    "keyctl",
    "add_key",
    "request_key",
    "io_uring_setup",
    "userfaultfd",
    "bpf",
    "perf_event_open",
    "unshare",
];

const USERNS_BASE: u32 = 100_000;

fn write_config(fx: &Fixture, t: &Targets, profile: Profile) -> PathBuf {
    let privileged = matches!(profile, Profile::Privileged | Profile::PrivilegedUserns);
    use serde_json::{json, Value};
    let bundle = fx.dir.join("bundle");
    let _ = std::fs::remove_file(bundle.join("config.json"));
    sh(Command::new("runc").args(["spec", "--bundle"]).arg(&bundle));
    let path = bundle.join("config.json");
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    c["process"]["terminal"] = json!(false);
    c["process"]["args"] = json!(t.args);
    if profile == Profile::Limits {
        let mut args = t.args.clone();
        args.extend([
            "--only".to_string(),
            "fork-bomb,memory-exhaustion".to_string(),
        ]);
        c["process"]["args"] = json!(args);
        c["linux"]["resources"]["pids"] = json!({"limit": 64});
        c["linux"]["resources"]["memory"] = json!({"limit": 64u64 << 20});
    }
    if profile == Profile::DefaultSeccomp {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": DENIED, "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
    }
    if privileged {
        let caps = host_caps();
        for set in [
            "bounding",
            "effective",
            "permitted",
            "inheritable",
            "ambient",
        ] {
            c["process"]["capabilities"][set] = json!(caps);
        }
        c["process"]["noNewPrivileges"] = json!(false);
        c["root"]["readonly"] = json!(false);
        c["linux"]["maskedPaths"] = json!([]);
        c["linux"]["readonlyPaths"] = json!([]);
        c["linux"]["resources"]["devices"] = json!([{"allow": true, "access": "rwm"}]);
        let ns: Vec<Value> = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["type"] != "pid" || profile == Profile::PrivilegedUserns)
            .cloned()
            .collect();
        c["linux"]["namespaces"] = json!(ns);
        let mounts = c["mounts"].as_array_mut().unwrap();
        for m in mounts.iter_mut() {
            if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|o| o != "ro");
            }
        }
        if profile == Profile::PrivilegedUserns {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            c["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": USERNS_BASE, "size": 65536}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": USERNS_BASE, "size": 65536}]);
        }
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(json!({"destination": "/hostdir", "type": "bind", "source": t.hostdir, "options": ["rbind", "ro"]}));
        mounts.push(json!({"destination": "/run/engine.sock", "type": "bind", "source": t.hostdir.join("engine.sock"), "options": ["bind"]}));
    }
    std::fs::write(&path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
    bundle
}

/// Run the battery; with `leak_fd`, pass a host directory as fd 3 (`--preserve-fds 1`).
fn run_battery(
    fx: &mut Fixture,
    bundle: &Path,
    id: &str,
    leak_fd: Option<&Path>,
) -> Vec<ProbeResult> {
    fx.containers.push(id.to_string());
    let mut cmd = Command::new("runc");
    cmd.arg("--root").arg(&fx.runc_root).arg("run");
    let mut keep = None;
    if let Some(dir) = leak_fd {
        cmd.args(["--preserve-fds", "1"]);
        let f = std::fs::File::open(dir).unwrap();
        let raw = std::os::fd::AsRawFd::as_raw_fd(&f);
        keep = Some(f);
        // SAFETY: dup2 in the forked child before exec; async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(raw, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    cmd.arg("--bundle").arg(bundle).arg(id);
    cmd.stdin(Stdio::null());
    let out = cmd.output().expect("runc run");
    drop(keep);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "runc run {id} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse(&stdout)
}

fn parse(json: &str) -> Vec<ProbeResult> {
    let v: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("bad JSON ({e}): {json}"));
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            let detail = s("detail");
            let outcome = match r["result"].as_str().unwrap() {
                "escaped" => Outcome::escaped(detail),
                "exposed" => Outcome::exposed(detail),
                "not-applicable" => Outcome::na(detail),
                "inconclusive" => Outcome::inconclusive(detail),
                "blocked" => Outcome::Blocked {
                    errno: r["errno_code"].as_i64().map(|e| e as i32),
                    layer: Layer::from_name(r["layer"].as_str().unwrap()).unwrap(),
                    detail,
                },
                other => panic!("unknown result {other}"),
            };
            ProbeResult {
                id: s("id"),
                eid: s("eid"),
                title: s("title"),
                outcome,
            }
        })
        .collect()
}

fn by_id(rs: &[ProbeResult]) -> BTreeMap<&str, &Outcome> {
    rs.iter().map(|r| (r.id.as_str(), &r.outcome)).collect()
}

fn show(name: &str, rs: &[ProbeResult]) {
    let st = probe::ProcState::default();
    let table = probe::report::table(rs, &st);
    // Drop the context line: it describes the test process, not the container.
    let body: String = table.lines().skip(1).map(|l| format!("{l}\n")).collect();
    eprintln!("==== {name} ====\n{body}");
}

#[test]
fn battery_under_runc_default_and_privileged() {
    let bb = match prerequisites() {
        Ok(bb) => bb,
        Err(why) => {
            assert!(
                std::env::var("STOCKADE_REQUIRE_RUNC").as_deref() != Ok("1"),
                "runc battery prerequisites missing: {why}"
            );
            testkit::skip(&why);
            return;
        }
    };
    let probe = probe_binary();
    let (mut fx, t) = setup(&bb, &probe);
    let core_before = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let tag = std::process::id();

    // 1. runc spec, unchanged apart from the process.
    let bundle = write_config(&fx, &t, Profile::Default);
    let default = run_battery(&mut fx, &bundle, &format!("probe-default-{tag}"), None);
    show("runc spec (default)", &default);
    let d = by_id(&default);
    assert!(
        default.len() >= 30,
        "battery has {} techniques",
        default.len()
    );
    for id in [
        "release-agent",
        "core-pattern",
        "block-dev-mount",
        "shocker",
    ] {
        let o = d.get(id).unwrap_or_else(|| panic!("{id} missing"));
        assert!(
            !o.is_escaped(),
            "{id} escaped under runc's default spec: {o:?}"
        );
    }
    // Attribution: the default spec drops CAP_MKNOD and CAP_SYS_ADMIN and loads no seccomp.
    assert!(
        matches!(
            d["block-dev-mount"],
            Outcome::Blocked {
                layer: Layer::Capability,
                ..
            }
        ),
        "{:?}",
        d["block-dev-mount"]
    );
    assert!(
        matches!(
            d["core-pattern"],
            Outcome::Blocked {
                layer: Layer::ReadOnlyMount,
                ..
            }
        ),
        "{:?}",
        d["core-pattern"]
    );
    assert!(matches!(d["no-seccomp"], Outcome::Exposed { .. }));
    assert!(matches!(
        d["proc-pid-root"],
        Outcome::Blocked {
            layer: Layer::PidNamespace,
            ..
        }
    ));

    // 2. runc spec + a seccomp deny list: blocks are attributed to seccomp where the capability
    // is not what is missing.
    let bundle = write_config(&fx, &t, Profile::DefaultSeccomp);
    let filtered = run_battery(&mut fx, &bundle, &format!("probe-seccomp-{tag}"), None);
    show("runc spec + seccomp deny list", &filtered);
    let f = by_id(&filtered);
    for id in [
        "keyctl",
        "io-uring",
        "userfaultfd",
        "perf-event",
        "userns-caps",
    ] {
        assert!(
            matches!(
                f[id],
                Outcome::Blocked {
                    layer: Layer::Seccomp,
                    errno: Some(libc::EPERM),
                    ..
                }
            ),
            "{id}: {:?}",
            f[id]
        );
    }
    assert!(
        matches!(
            f["bpf"],
            Outcome::Blocked {
                layer: Layer::CapabilityOrSeccomp,
                ..
            }
        ),
        "{:?}",
        f["bpf"]
    );
    assert!(matches!(
        f["no-seccomp"],
        Outcome::Blocked {
            layer: Layer::Seccomp,
            ..
        }
    ));

    // 3. runc spec + pids and memory limits: the exhaustion techniques are stopped by cgroups.
    let bundle = write_config(&fx, &t, Profile::Limits);
    let limited = run_battery(&mut fx, &bundle, &format!("probe-limits-{tag}"), None);
    show("runc spec + pids.max=64, memory 64 MiB", &limited);
    let l = by_id(&limited);
    assert!(
        matches!(
            l["fork-bomb"],
            Outcome::Blocked {
                layer: Layer::CgroupLimit,
                errno: Some(libc::EAGAIN),
                ..
            }
        ),
        "{:?}",
        l["fork-bomb"]
    );
    assert!(
        matches!(
            l["memory-exhaustion"],
            Outcome::Blocked {
                layer: Layer::CgroupLimit,
                ..
            }
        ),
        "{:?}",
        l["memory-exhaustion"]
    );

    // 4. privileged.
    let bundle = write_config(&fx, &t, Profile::Privileged);
    let privileged = run_battery(
        &mut fx,
        &bundle,
        &format!("probe-priv-{tag}"),
        Some(&t.hostdir),
    );
    show("privileged", &privileged);
    let p = by_id(&privileged);
    let escaped: Vec<&str> = privileged
        .iter()
        .filter(|r| r.outcome.is_escaped())
        .map(|r| r.id.as_str())
        .collect();
    assert!(
        escaped.len() >= 8,
        "only {} escaped: {escaped:?}",
        escaped.len()
    );
    for id in [
        "block-dev-mount",
        "release-agent",
        "core-pattern",
        "shocker",
        "proc-pid-root",
        "setns",
        "host-canary",
        "runtime-socket",
        "leaked-fds-cwd",
    ] {
        assert!(
            p[id].is_escaped(),
            "{id} did not escape under the privileged config: {:?}",
            p[id]
        );
    }

    // 5. privileged inside a user namespace: the host-root techniques lose their teeth.
    let bundle = write_config(&fx, &t, Profile::PrivilegedUserns);
    let userns = run_battery(&mut fx, &bundle, &format!("probe-userns-{tag}"), None);
    show(
        "privileged + user namespace (root = host uid 100000)",
        &userns,
    );
    let u = by_id(&userns);
    for id in [
        "core-pattern",
        "procsys-write",
        "release-agent",
        "block-dev-mount",
        "shocker",
        "sysfs-write",
        "binfmt-misc",
        "cgroupfs-write",
    ] {
        assert!(
            !u[id].is_escaped(),
            "{id} escaped despite the user namespace: {:?}",
            u[id]
        );
    }
    assert!(
        matches!(
            u["core-pattern"],
            Outcome::Blocked {
                layer: Layer::UserNamespace,
                ..
            }
        ),
        "{:?}",
        u["core-pattern"]
    );
    assert!(
        matches!(
            u["dangerous-caps"],
            Outcome::Blocked {
                layer: Layer::UserNamespace,
                ..
            }
        ),
        "{:?}",
        u["dangerous-caps"]
    );

    // Nothing on the host changed.
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        core_before
    );
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mi.contains(".stockade-probe-"),
        "a probe mount leaked:\n{mi}"
    );
    let cg = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    assert!(
        !cg.contains("stockade-probe"),
        "a named cgroup hierarchy survived:\n{cg}"
    );
    let bf = std::fs::read_dir("/proc/sys/fs/binfmt_misc")
        .map(|d| {
            d.flatten().any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("stockade-probe")
            })
        })
        .unwrap_or(false);
    assert!(!bf, "a binfmt_misc handler survived");
}
