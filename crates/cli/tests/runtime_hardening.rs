//! The runtime's hardening (issue 4): the policy gate, the hardened default
//! config, the defenses for the runtime escape CVEs (each test reproduces
//! the attack's shape against stockade), and Landlock.

mod runtime_support;
use runtime_support::*;
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// A command for the gate's tests: the policy comes from `policy`
/// (None: the default), not from the support's "off".
fn gated(env: &Env, policy: Option<&str>) -> Command {
    let mut c = env.cmd();
    c.env_remove("STOCKADE_POLICY");
    if let Some(p) = policy {
        c.args(["--policy", p]);
    }
    c
}

/// A bundle whose config is the hardened default (`stockade spec`) with
/// the process replaced.
fn hardened_bundle(env: &Env, name: &str, args: &[&str]) -> std::path::PathBuf {
    let b = env.bundle(name, args, |_| {});
    // Mount points must exist: container root cannot create them in a
    // read-only, host-owned rootfs.
    std::fs::create_dir_all(b.join("rootfs/run")).unwrap();
    std::fs::remove_file(b.join("config.json")).unwrap();
    let out = env.stockade(&["spec", "--bundle", b.to_str().unwrap()]);
    assert!(out.status.success());
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    cfg["process"]["terminal"] = json!(false);
    cfg["process"]["args"] = json!(args);
    std::fs::write(b.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    b
}

/// Run `cmd` with `fd` (a host file or directory) as fd 3 of the runtime.
fn with_fd3(cmd: &mut Command, file: std::fs::File) {
    use std::os::fd::IntoRawFd;
    let raw = file.into_raw_fd();
    // SAFETY: F_DUPFD_CLOEXEC on an fd we own; moved high so dup2 onto 3
    // cannot clobber it.
    let high = unsafe { libc::fcntl(raw, libc::F_DUPFD_CLOEXEC, 300) };
    assert!(high >= 300);
    // SAFETY: only async-signal-safe dup2 between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(high, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn userns(cfg: &mut serde_json::Value) {
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    cfg["linux"]["uidMappings"] = map.clone();
    cfg["linux"]["gidMappings"] = map;
}

// ---- 1. the policy gate -------------------------------------------------

#[test]
fn gate_refuses_privileged_equivalent_config_leaving_nothing() {
    if !need_root() {
        return;
    }
    let env = Env::new("gate");
    let b = hardened_bundle(&env, "b", &["true"]);
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    cfg["process"]["capabilities"]["bounding"]
        .as_array_mut()
        .unwrap()
        .push(json!("CAP_SYS_ADMIN"));
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "network");
    cfg["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/var/run/docker.sock", "type": "bind",
        "source": "/var/run/docker.sock", "options": ["rbind"]}));
    std::fs::write(b.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    let log = env.dir.join("log.json");
    for policy in [None, Some("baseline")] {
        let mut c = gated(&env, policy);
        c.arg("--log").arg(&log).args(["--log-format", "json"]);
        c.args(["create", "-b", b.to_str().unwrap(), &env.id("g")]);
        let out = env.output(c);
        assert_eq!(out.status.code(), Some(1));
        let line = std::fs::read_to_string(&log).unwrap();
        let v: serde_json::Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
        let msg = v["msg"].as_str().unwrap();
        assert_eq!(v["level"], "error");
        assert!(
            msg.contains("violates the") && msg.contains("policy"),
            "{msg}"
        );
        // The rule ids and the offending fields, in one message.
        for want in [
            "SKD-ESC-",
            "process.capabilities.bounding",
            "linux.namespaces",
            "docker.sock",
        ] {
            assert!(msg.contains(want), "{want} missing from {msg}");
        }
        assert!(env.footprint().is_empty(), "{:?}", env.footprint());
    }
}

#[test]
fn gate_levels_env_config_file_and_warn() {
    if !need_root() {
        return;
    }
    let env = Env::new("gatelv");
    // runc's default config: no seccomp profile (SKD-ESC-034, baseline).
    let b = env.bundle("b", &["true"], |_| {});
    let id = env.id("l");
    // The default warns (no seccomp is high, not critical) and runs it.
    let mut c = gated(&env, None);
    c.args(["run", "-b", b.to_str().unwrap(), &id]);
    let out = env.output(c);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // Warnings never go to stderr (an engine's container stdio): without
    // --log they are in <root>/stockade.log.
    assert!(err.is_empty(), "{err}");
    let log = std::fs::read_to_string(env.root.join("stockade.log")).unwrap_or_default();
    assert!(
        log.contains("level=warning") && log.contains("SKD-ESC-034"),
        "{log}"
    );
    // Full baseline refuses it, naming rule and field.
    let mut c = gated(&env, None);
    c.env("STOCKADE_POLICY", "baseline");
    c.args(["run", "-b", b.to_str().unwrap(), &id]);
    let out = env.output(c);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("SKD-ESC-034") && err.contains("linux.seccomp"),
        "{err}"
    );
    // The config file, when neither flag nor env says otherwise.
    let toml = env.dir.join("runtime.toml");
    std::fs::write(&toml, "policy = \"hardened\"\n").unwrap();
    let mut c = gated(&env, None);
    c.env("STOCKADE_RUNTIME_CONFIG", &toml);
    c.args(["run", "-b", b.to_str().unwrap(), &id]);
    let out = env.output(c);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hardened policy"));
    // The flag wins over the file.
    let mut c = gated(&env, Some("restricted"));
    c.env("STOCKADE_RUNTIME_CONFIG", &toml);
    c.args(["run", "-b", b.to_str().unwrap(), &id]);
    let out = env.output(c);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("restricted policy"));
    // An unknown level is a usage error.
    let mut c = gated(&env, Some("lax"));
    c.args(["run", "-b", b.to_str().unwrap(), &id]);
    assert_eq!(env.output(c).status.code(), Some(1));
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

// ---- 2. the hardened default --------------------------------------------

#[test]
fn hardened_default_passes_the_hardened_gate_and_confines() {
    if !need_root() {
        return;
    }
    let env = Env::new("hdef");
    let script =
        "cat /proc/self/uid_map; grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status; \
        touch /x 2>/dev/null && echo ROOT-WRITABLE; touch /tmp/x && echo TMP-OK; \
        echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo PROCSYS-WRITABLE; \
        mount -t tmpfs t /tmp 2>/dev/null && echo MOUNTED; \
        cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null; \
        unshare -U -r true 2>/dev/null && echo USERNS; unshare -m true 2>/dev/null && echo MNTNS; \
        ls /sys/class/net; echo done";
    let b = hardened_bundle(&env, "b", &["sh", "-c", script]);
    // testkit's rootfs links every busybox applet; older rootfs builders did not link unshare.
    match std::os::unix::fs::symlink("busybox", b.join("rootfs/bin/unshare")) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => panic!("link unshare: {e}"),
        _ => {}
    }
    let mut c = gated(&env, Some("hardened"));
    c.args(["run", "-b", b.to_str().unwrap(), &env.id("h")]);
    let out = env.output(c);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{s}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s.contains("2000000000") && s.contains("65536"), "{s}");
    assert!(s.contains("NoNewPrivs:\t1"), "{s}");
    assert!(s.contains("Seccomp:\t2"), "{s}");
    assert!(s.contains("CapEff:\t0000000020000420"), "{s}");
    assert!(s.contains("TMP-OK"), "{s}");
    assert!(s.contains("1024"), "pids limit: {s}");
    // USERNS/MNTNS: seccomp refuses unshare with namespace flags.
    for bad in [
        "ROOT-WRITABLE",
        "PROCSYS-WRITABLE",
        "MOUNTED",
        "USERNS",
        "MNTNS",
    ] {
        assert!(!s.contains(bad), "{bad}: {s}");
    }
    // Loopback only.
    let nets: Vec<&str> = s
        .lines()
        .skip_while(|l| !l.starts_with("lo"))
        .take_while(|l| *l != "done")
        .collect();
    assert_eq!(nets, ["lo"], "{s}");
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

/// `stockade run` on a bundle without config.json uses the hardened
/// default (here with stdin as the shell's script).
#[test]
fn run_without_config_uses_the_hardened_default() {
    if !need_root() {
        return;
    }
    let env = Env::new("nocfg");
    let b = hardened_bundle(&env, "b", &["true"]);
    std::fs::remove_file(b.join("config.json")).unwrap();
    let script = env.dir.join("script");
    std::fs::write(
        &script,
        "cat /proc/self/uid_map; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status\n",
    )
    .unwrap();
    let mut c = gated(&env, None);
    c.args(["run", "-b", b.to_str().unwrap(), &env.id("n")]);
    c.stdin(std::fs::File::open(&script).unwrap());
    let out = env.output(c);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{s}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        s.contains("2000000000") && s.contains("NoNewPrivs:\t1") && s.contains("Seccomp:\t2"),
        "{s}"
    );
    assert!(!b.join("config.json").exists());
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

/// The default seccomp profile lists only the native architecture: a
/// 32-bit system call (`int 0x80`, the compat table many filter bypasses
/// and kernel bugs went through) kills the thread. The same binary with x86
/// added to the profile's architectures (as Docker's profile has it) makes
/// the call, which shows the kernel has the compat entry and the test can
/// fail.
#[test]
fn hardened_seccomp_kills_compat_syscalls() {
    if !need_root() {
        return;
    }
    let env = Env::new("compat");
    let b = hardened_bundle(&env, "b", &["/compat-getpid"]);
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/helper/compat-getpid.c");
    let st = std::process::Command::new("clang")
        .args(["-static", "-O2", "-o"])
        .arg(b.join("rootfs/compat-getpid"))
        .arg(src)
        .status()
        .expect("clang (installed by scripts/install-deps)");
    assert!(st.success(), "building {src}");

    // Control: x86 in the profile's architectures.
    let cfg_path = b.join("config.json");
    let hardened = std::fs::read(&cfg_path).unwrap();
    let mut cfg: serde_json::Value = serde_json::from_slice(&hardened).unwrap();
    cfg["linux"]["seccomp"]["architectures"] = json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]);
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let (code, out, err) = env.run(&env.id("x86"), &b);
    if out.contains("compat getpid=-38") {
        testkit::not_on_this_host("this kernel has no 32-bit syscall entry (int 0x80 gave ENOSYS)");
        return;
    }
    assert_eq!((code, out.trim()), (0, "compat getpid=1"), "control: {err}");

    // The hardened default: killed by SIGSYS, nothing printed.
    std::fs::write(&cfg_path, &hardened).unwrap();
    let (code, out, err) = env.run(&env.id("native"), &b);
    assert!(!out.contains("compat getpid"), "{out}{err}");
    assert_eq!(code, 128 + libc::SIGSYS, "{out}{err}");
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

// ---- 3. the runtime escape CVEs -----------------------------------------

/// CVE-2019-5736: a process in the container overwrites the runtime binary
/// through /proc/<runtime pid>/exe. Here the container's init (runtime code
/// waiting for `start`) is pid 1 and a process exec'd into the created
/// container tries to write it: /proc/1/exe is a read-only mount of the
/// binary (or a sealed memfd), the host binary is unchanged.
#[test]
fn cve_2019_5736_runtime_exe_is_a_sealed_memfd() {
    if !need_root() {
        return;
    }
    let env = Env::new("exeseal");
    // Worst case: the container holds CAP_SYS_PTRACE, so the init's
    // non-dumpable flag does not stop it from reaching /proc/1/exe, and
    // Landlock (whose domain may not ptrace the unconfined init) is off;
    // the seal must stop it.
    let b = env.bundle("b", &["sleep", "30"], |c| {
        c["annotations"] = json!({"stockade.io/landlock": "off"});
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_PTRACE"));
        }
    });
    let id = env.id("e");
    let before = std::fs::read(BIN).unwrap();
    let out = env.stockade(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    // The runtime held the view's fd past its re-execution (exeseal::adopt_view); the init
    // holds no fd of the binary at all (spawn closes the child's copy first thing).
    {
        use std::os::unix::fs::MetadataExt;
        let bin = std::fs::metadata(BIN).unwrap();
        for e in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
            let p = e.unwrap().path();
            if let Ok(m) = std::fs::metadata(&p) {
                assert!(
                    m.dev() != bin.dev() || m.ino() != bin.ino(),
                    "the init holds {p:?}, an fd of the runtime binary"
                );
            }
        }
    }
    // The init runs from an unwritable view of the binary: a detached read-only bind mount
    // (or, on kernels without the new mount API, a sealed memfd copy).
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    let f = std::fs::File::open(format!("/proc/{pid}/exe")).unwrap();
    // SAFETY: fstatvfs fills a zeroed struct for an fd we own; fcntl takes integers only.
    let (ro, seals) = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        let rc = libc::fstatvfs(std::os::fd::AsRawFd::as_raw_fd(&f), &mut st);
        (
            rc == 0 && st.f_flag & libc::ST_RDONLY != 0,
            libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&f), libc::F_GET_SEALS),
        )
    };
    assert!(
        ro || (seals > 0 && exe.to_string_lossy().starts_with("/memfd:stockade")),
        "{exe:?} is neither on a read-only mount nor a sealed memfd"
    );
    // Even host root cannot write it: the mount is read-only (or the memfd sealed).
    let w = std::fs::OpenOptions::new()
        .append(true)
        .open(format!("/proc/{pid}/exe"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"x"));
    assert!(w.is_err(), "wrote the init's exe");
    // The attack from inside the container.
    let out = env.stockade(&[
        "exec",
        &id,
        "sh",
        "-c",
        "readlink /proc/1/exe; echo x >> /proc/1/exe && echo WROTE; env",
    ]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(!s.contains("WROTE"), "{s}");
    assert!(!s.contains("_STOCKADE_EXESEAL_FD"), "{s}");
    assert_eq!(
        std::fs::read(BIN).unwrap(),
        before,
        "runtime binary changed"
    );
    assert!(env.stockade(&["delete", "--force", &id]).status.success());
}

/// CVE-2019-5736 with a user namespace: `create` runs the init (and `exec`
/// its joining process) from the host binary itself, without re-executing,
/// when no process of the container could write it
/// (exeseal::container_may_write). Two copies of the runtime
/// show the rule the kernel enforces and that stockade reads it right:
/// - owned by host root, mode 0755: the init's exe is that file, and the
///   container's root, holding every capability that matters in its
///   namespace, cannot open it for writing (EACCES, not ETXTBSY);
/// - owned by host uid 100000 (= container root): stockade seals (the init's
///   exe is on a read-only mount), and the same open from inside gets past
///   the permission check (ETXTBSY: writable once the init exits), so the
///   seal was needed.
#[test]
fn cve_2019_5736_user_namespace_decides_the_seal() {
    if !need_root() {
        return;
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let env = Env::new("exeuserns");
    for (owner, sealed, want) in [
        (0u32, false, "Permission denied"),
        (100000u32, true, "Text file busy"),
    ] {
        let rt = env.dir.join(format!("rt-{owner}"));
        std::fs::copy(BIN, &rt).unwrap();
        std::fs::set_permissions(&rt, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&rt, Some(owner), Some(owner)).unwrap();
        let b = env.bundle(&format!("b{owner}"), &["sleep", "30"], |c| {
            userns(c);
            c["annotations"] = json!({"stockade.io/landlock": "off"});
            for set in ["bounding", "effective", "permitted"] {
                let caps = c["process"]["capabilities"][set].as_array_mut().unwrap();
                for cap in [
                    "CAP_DAC_OVERRIDE",
                    "CAP_DAC_READ_SEARCH",
                    "CAP_FOWNER",
                    "CAP_CHOWN",
                    "CAP_SYS_PTRACE",
                ] {
                    caps.push(json!(cap));
                }
            }
            c["mounts"].as_array_mut().unwrap().push(json!({
                "destination": "/rt", "type": "bind",
                "source": rt.to_str().unwrap(), "options": ["bind"]
            }));
        });
        // The mount point: container root cannot create it in a root-owned rootfs.
        std::fs::write(b.join("rootfs/rt"), b"").unwrap();
        let id = env.id(&format!("u{owner}"));
        let before = std::fs::read(&rt).unwrap();
        // The copy as the runtime, with the settings of env.cmd().
        let runtime = |args: &[&str]| {
            let mut c = Command::new(&rt);
            c.arg("--root")
                .arg(&env.root)
                .env("STOCKADE_POLICY", "off")
                .env(
                    "STOCKADE_RUNTIME_CONFIG",
                    "/nonexistent/stockade-runtime.toml",
                )
                .stdin(std::process::Stdio::null())
                .args(args);
            c
        };
        // Whether /proc/PID/exe is the copy, on a read-only mount (sealed).
        let sealed_exe = |pid: u32, what: &str| {
            let f = std::fs::File::open(format!("/proc/{pid}/exe"))
                .unwrap_or_else(|e| panic!("owner {owner}: {what}: {e}"));
            assert_eq!(
                f.metadata().unwrap().ino(),
                std::fs::metadata(&rt).unwrap().ino()
            );
            // SAFETY: fstatvfs fills a zeroed struct for an fd we own.
            unsafe {
                let mut st: libc::statvfs = std::mem::zeroed();
                libc::fstatvfs(std::os::fd::AsRawFd::as_raw_fd(&f), &mut st) == 0
                    && st.f_flag & libc::ST_RDONLY != 0
            }
        };
        let out = env.output(runtime(&["create", "-b", b.to_str().unwrap(), &id]));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pid = env.state(&id)["pid"].as_i64().unwrap();
        assert_eq!(
            sealed_exe(pid as u32, "init"),
            sealed,
            "owner {owner}: init exe on a read-only mount"
        );
        // Open the binary for writing from inside, writing nothing. `exec`
        // decides like `create`: its joining process (alive while the
        // process runs) is sealed exactly when the init is.
        let mut c = runtime(&[
            "exec",
            &id,
            "sh",
            "-c",
            "true >> /rt && echo OPENED; sleep 2",
        ]);
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let child = c.spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(700));
        assert_eq!(
            sealed_exe(child.id(), "exec's joining process"),
            sealed,
            "owner {owner}: exec's exe on a read-only mount"
        );
        let out = child.wait_with_output().unwrap();
        let (o, e) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            !o.contains("OPENED") && e.contains(want),
            "owner {owner}: {o}{e}"
        );
        assert_eq!(
            std::fs::read(&rt).unwrap(),
            before,
            "runtime binary changed"
        );
        assert!(env.stockade(&["delete", "--force", &id]).status.success());
        let _ = std::fs::remove_file(&rt);
    }
}

/// CVE-2016-9962: a process that joins the container ptraces or reads the
/// init while it still holds host resources. The init is not dumpable: its
/// /proc files belong to host root, so container root (uid 100000 on the
/// host) cannot read them.
#[test]
fn cve_2016_9962_init_not_dumpable() {
    if !need_root() {
        return;
    }
    let env = Env::new("dump");
    let b = env.bundle("b", &["sleep", "30"], userns);
    let id = env.id("d");
    let out = env.stockade(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(format!("/proc/{pid}/environ")).unwrap();
    assert_eq!(m.uid(), 0, "init's /proc files owned by {}", m.uid());
    let out = env.stockade(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cat /proc/1/environ >/dev/null 2>&1 && echo READ; ls /proc/1/fd >/dev/null 2>&1 && echo FDS; echo ok",
    ]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("ok") && !s.contains("READ") && !s.contains("FDS"),
        "{s}"
    );
    assert!(env.stockade(&["delete", "--force", &id]).status.success());
}

/// CVE-2024-21626: process.cwd names a leaked host directory fd
/// (/proc/self/fd/N). The cwd is resolved inside the root without magic
/// links, and getcwd is checked after the chdir: create is refused.
#[test]
fn cve_2024_21626_cwd_through_a_leaked_fd_is_refused() {
    if !need_root() {
        return;
    }
    let env = Env::new("cwdfd");
    let b = env.bundle("b", &["pwd"], |c| {
        c["process"]["cwd"] = json!("/proc/self/fd/3");
    });
    let host = env.dir.join("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    let mut c = env.cmd();
    c.args([
        "run",
        "--preserve-fds",
        "1",
        "-b",
        b.to_str().unwrap(),
        &env.id("c"),
    ]);
    with_fd3(&mut c, std::fs::File::open(&host).unwrap());
    let out = env.output(c);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(err.contains("process.cwd"), "{err}");
    // And without --preserve-fds, the container sees only stdio.
    let b = env.bundle("b2", &["ls", "/proc/self/fd"], |_| {});
    let (code, out, err) = env.run(&env.id("n"), &b);
    assert_eq!(code, 0, "{err}");
    let fds: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "3 is ls's own directory fd");
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

/// CVE-2025-31133 shape: /dev/null is swapped for a symlink to a procfs
/// file between device creation and masking (here by a createContainer
/// hook, which runs in the container's mount namespace at that moment).
/// Masking resolves /dev/null inside the root and checks it is the 1:3
/// character device before binding it anywhere: create is refused and
/// core_pattern is untouched.
#[test]
fn cve_2025_31133_dev_null_swapped_for_a_symlink_is_refused() {
    if !need_root() {
        return;
    }
    let env = Env::new("devnull");
    let b = env.dir.join("b");
    let rootfs = b.join("rootfs");
    let swap = format!(
        "rm -f {r}/dev/null && ln -s /proc/sys/kernel/core_pattern {r}/dev/null",
        r = rootfs.display()
    );
    let b = env.bundle("b", &["true"], |c| {
        c["hooks"] = json!({"createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", swap]}]});
    });
    let before = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let (code, _, err) = env.run(&env.id("n"), &b);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("/dev/null is not the null device"), "{err}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        before
    );
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

/// CVE-2025-52881 shape: a procfs write (a sysctl) redirected to another
/// file by a mount over /proc/sys (here a host directory holding a
/// look-alike kernel/domainname). The write goes through an fd checked to
/// be on procfs: create is refused and the host file is untouched.
#[test]
fn cve_2025_52881_sysctl_write_redirected_by_a_mount_is_refused() {
    if !need_root() {
        return;
    }
    let env = Env::new("procredir");
    let fake = env.dir.join("fake-sys");
    std::fs::create_dir_all(fake.join("kernel")).unwrap();
    std::fs::write(fake.join("kernel/domainname"), "host-file\n").unwrap();
    let src = fake.to_str().unwrap().to_string();
    let b = env.bundle("b", &["true"], |c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/proc/sys", "type": "bind", "source": src, "options": ["bind"]}));
        c["linux"]["sysctl"] = json!({"kernel.domainname": "written"});
        c["linux"]["readonlyPaths"] = json!([]);
    });
    let (code, _, err) = env.run(&env.id("p"), &b);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not on procfs"), "{err}");
    assert_eq!(
        std::fs::read_to_string(fake.join("kernel/domainname")).unwrap(),
        "host-file\n"
    );
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

/// Create a `terminal: true` container from the image's own /dev (no tmpfs
/// on it) after `plant` edited the rootfs, with --console-socket; start it
/// and read its pty. Returns (create's stderr or "", what the pty showed).
fn console_run(env: &Env, name: &str, plant: impl FnOnce(&std::path::Path)) -> (String, String) {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let b = env.bundle(name, &["sh", "-c", "ls -l /dev/console; echo done"], |c| {
        c["process"]["terminal"] = json!(true);
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != "/dev");
    });
    plant(&b.join("rootfs"));
    let sock = env.dir.join(format!("{name}.sock"));
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    let id = env.id(name);
    let out = env.stockade(&[
        "create",
        "-b",
        b.to_str().unwrap(),
        "--console-socket",
        sock.to_str().unwrap(),
        &id,
    ]);
    if !out.status.success() {
        let _ = env.stockade(&["delete", "--force", &id]);
        return (
            String::from_utf8_lossy(&out.stderr).into_owned(),
            String::new(),
        );
    }
    let (conn, _) = listener.accept().unwrap();
    conn.set_nonblocking(false).unwrap();
    let (_, fd) = runtime::init::recv_fd(conn.as_raw_fd()).unwrap();
    let mut master = std::fs::File::from(fd.expect("a pty master fd"));
    assert!(env.stockade(&["start", &id]).status.success());
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_secs(10) {
        match master.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if String::from_utf8_lossy(&buf).contains("done") {
            break;
        }
    }
    drop(master);
    assert!(env.stockade(&["delete", "--force", &id]).status.success());
    (String::new(), String::from_utf8_lossy(&buf).into_owned())
}

/// CVE-2025-52565 shape: the image's /dev/console is a symlink to a host
/// file (absolute path), and /dev/pts a symlink to a host directory, when
/// the runtime binds the container's pty to the console (`terminal: true`,
/// --console-socket). stockade binds the pty (the peer of its own master,
/// checked to be on devpts) onto a file it creates in the root in place of
/// the symlink, and refuses a /dev/pts that does not resolve inside the
/// root; nothing outside the root is written or mounted on.
#[test]
fn cve_2025_52565_console_symlinks_stay_inside_the_root() {
    if !need_root() {
        return;
    }
    let env = Env::new("console");
    let victim = env.dir.join("host-console-victim");
    std::fs::write(&victim, "HOST-FILE\n").unwrap();
    let (err, tty) = console_run(&env, "c", |r| {
        std::os::unix::fs::symlink(&victim, r.join("dev/console")).unwrap();
    });
    assert_eq!(err, "", "create refused a /dev/console symlink");
    let line = tty
        .lines()
        .find(|l| l.contains("/dev/console"))
        .unwrap_or_else(|| panic!("no ls line: {tty:?}"));
    assert!(
        line.starts_with('c'),
        "/dev/console is not the pty: {line:?}"
    );
    assert!(!line.contains("->"), "{line:?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "HOST-FILE\n");

    let host_dir = env.dir.join("host-pts-victim");
    std::fs::create_dir_all(&host_dir).unwrap();
    let (err, _) = console_run(&env, "p", |r| {
        std::os::unix::fs::symlink(&host_dir, r.join("dev/pts")).unwrap();
    });
    assert!(err.contains("/dev/pts"), "{err}");
    assert_eq!(std::fs::read_dir(&host_dir).unwrap().count(), 0);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "HOST-FILE\n");
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

/// An `exec` that names no policy is judged under the one the container was
/// created with: after `run --policy restricted`, a process with
/// no_new_privs off is refused by a plain `exec`, as `create` would have
/// refused it; an exec that names a policy is judged under that one.
#[test]
fn exec_keeps_the_policy_of_create() {
    if !need_root() {
        return;
    }
    let env = Env::new("execpol");
    let b = hardened_bundle(&env, "b", &["sleep", "1000"]);
    let id = env.id("p");
    let mut c = gated(&env, Some("restricted"));
    c.args(["run", "-d", "-b", b.to_str().unwrap(), &id]);
    let out = env.output(c);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    let mut p = cfg["process"].clone();
    p["args"] = json!(["true"]);
    p["noNewPrivileges"] = json!(false);
    let pj = env.dir.join("process.json");
    std::fs::write(&pj, serde_json::to_vec(&p).unwrap()).unwrap();
    let exec = |policy: Option<&str>| {
        let mut c = gated(&env, policy);
        c.args(["exec", "--process", pj.to_str().unwrap(), &id]);
        let out = env.output(c);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // No policy named: the container's (restricted) refuses it.
    let (code, err) = exec(None);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("the exec process violates the restricted") && err.contains("SKD-ESC-036"),
        "{err}"
    );
    // Named: that policy decides (baseline does not forbid it).
    let (code, err) = exec(Some("baseline"));
    assert_eq!(code, Some(0), "{err}");
    // A container created under the default policy keeps it: the same exec passes.
    let id2 = env.id("d");
    let mut c = gated(&env, None);
    c.args(["run", "-d", "-b", b.to_str().unwrap(), &id2]);
    assert!(env.output(c).status.success());
    let mut c = gated(&env, None);
    c.args(["exec", "--process", pj.to_str().unwrap(), &id2]);
    let out = env.output(c);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for i in [&id, &id2] {
        assert!(env.stockade(&["delete", "-f", i]).status.success());
    }
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

/// `exec` goes through the same policy gate as `create`: a capability, a
/// no_new_privs switched off or an unconfined profile that exec would add
/// is refused with the rule id under the policy that forbids it, and
/// allowed (with a warning) under `warn`.
#[test]
fn exec_is_gated_like_create() {
    if !need_root() {
        return;
    }
    let env = Env::new("execgate");
    let b = hardened_bundle(&env, "b", &["sleep", "1000"]);
    let id = env.id("g");
    let mut c = gated(&env, None);
    c.args(["run", "-d", "-b", b.to_str().unwrap(), &id]);
    let out = env.output(c);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exec = |policy: Option<&str>, args: &[&str]| {
        let mut c = gated(&env, policy);
        c.arg("exec").args(args);
        let out = env.output(c);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let caps = [
        "--cap",
        "CAP_SYS_ADMIN",
        &id,
        "grep",
        "CapEff",
        "/proc/self/status",
    ];
    // The default policy refuses CAP_SYS_ADMIN (critical) at exec as at create.
    let (code, stdout, err) = exec(None, &caps);
    assert_eq!(code, Some(1), "{stdout}{err}");
    assert!(
        err.contains("the exec process violates the default"),
        "{err}"
    );
    assert!(err.contains("SKD-ESC-010 process.capabilities"), "{err}");
    assert!(stdout.is_empty(), "the process ran: {stdout}");
    // Under `warn` it runs, with the finding logged.
    let (code, stdout, err) = exec(Some("warn"), &caps);
    assert_eq!(code, Some(0), "{err}");
    let log = std::fs::read_to_string(env.root.join("stockade.log")).unwrap_or_default();
    assert!(log.contains("SKD-ESC-010"), "{log}");
    let eff = stdout.split_whitespace().nth(1).unwrap_or_default();
    let eff = u64::from_str_radix(eff, 16).unwrap_or(0);
    assert!(eff & (1 << 21) != 0, "{stdout}");
    // A plain exec passes even the strictest level (the hardened default's process).
    let (code, _, err) = exec(Some("hardened"), &[&id, "true"]);
    assert_eq!(code, Some(0), "{err}");
    // --process: no_new_privs off and an unconfined AppArmor profile, refused
    // at restricted with both rule ids.
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    let mut p = cfg["process"].clone();
    p["args"] = json!(["true"]);
    p["noNewPrivileges"] = json!(false);
    p["apparmorProfile"] = json!("unconfined");
    let pj = env.dir.join("process.json");
    std::fs::write(&pj, serde_json::to_vec(&p).unwrap()).unwrap();
    let (code, _, err) = exec(
        Some("restricted"),
        &["--process", pj.to_str().unwrap(), &id],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("the exec process violates the restricted"),
        "{err}"
    );
    assert!(err.contains("SKD-ESC-036"), "{err}");
    assert!(err.contains("SKD-ESC-035"), "{err}");
    // With the gate off, the unconfined profile still cannot be applied:
    // refused as at create, not silently dropped.
    let (code, _, err) = exec(Some("off"), &["--process", pj.to_str().unwrap(), &id]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("process.apparmorProfile"), "{err}");
    assert!(env.stockade(&["delete", "-f", &id]).status.success());
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

// ---- 4. Landlock ----------------------------------------------------------

fn leaked_dir_read(env: &Env, name: &str, landlock_off: bool) -> String {
    let host = env.dir.join(format!("host-{name}"));
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("secret"), "HOST-SECRET\n").unwrap();
    let b = env.bundle(name, &["sh", "-c", "cat /proc/self/fd/3/secret"], |c| {
        if landlock_off {
            c["annotations"] = json!({"stockade.io/landlock": "off"});
        }
    });
    let mut c = env.cmd();
    c.args([
        "run",
        "--preserve-fds",
        "1",
        "-b",
        b.to_str().unwrap(),
        &env.id(name),
    ]);
    with_fd3(&mut c, std::fs::File::open(&host).unwrap());
    let out = env.output(c);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A host directory fd that reaches the container (simulated with
/// --preserve-fds) cannot be used to open host files with Landlock on, and
/// can with it off (the annotation): Landlock is what stops it.
#[test]
fn landlock_stops_a_leaked_host_directory_fd() {
    if !need_root() {
        return;
    }
    if Command::new(BIN).arg("features").output().is_err() {
        return;
    }
    let env = Env::new("landlock");
    let on = leaked_dir_read(&env, "on", false);
    assert!(!on.contains("HOST-SECRET"), "{on}");
    assert!(on.contains("Permission denied"), "{on}");
    let off = leaked_dir_read(&env, "off", true);
    assert!(off.contains("HOST-SECRET"), "{off}");
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

/// `landlock = false` in the runtime's config file turns it off too.
#[test]
fn landlock_off_in_runtime_toml() {
    if !need_root() {
        return;
    }
    let env = Env::new("lltoml");
    let toml = env.dir.join("runtime.toml");
    std::fs::write(&toml, "landlock = false\n").unwrap();
    let host = env.dir.join("host");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("secret"), "HOST-SECRET\n").unwrap();
    let b = env.bundle("b", &["sh", "-c", "cat /proc/self/fd/3/secret"], |_| {});
    let mut c = env.cmd();
    c.env("STOCKADE_RUNTIME_CONFIG", &toml);
    c.args([
        "run",
        "--preserve-fds",
        "1",
        "-b",
        b.to_str().unwrap(),
        &env.id("t"),
    ]);
    with_fd3(&mut c, std::fs::File::open(&host).unwrap());
    let out = env.output(c);
    assert!(String::from_utf8_lossy(&out.stdout).contains("HOST-SECRET"));
}
