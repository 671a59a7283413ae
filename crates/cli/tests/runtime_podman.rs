//! Rootful podman drives stockade as its OCI runtime (`--runtime`), with
//! private configuration and storage, cgroupfs, no network, and the
//! ulimits this sandbox allows (no CAP_SYS_RESOURCE; see engines.md).

mod runtime_support;
use runtime_support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Podman {
    env: Env,
    conf: PathBuf,
    storage: PathBuf,
    parent_existed: bool,
    run_root_existed: bool,
}

const IMAGE: &str = "localhost/stockade-busybox:test";

impl Podman {
    fn new() -> Option<Podman> {
        if !need_root() || !testkit::require(&["podman"]) {
            return None;
        }
        let env = Env::new("podman");
        let d = &env.dir;
        for sub in ["tmp", "net", "img/root"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let img = d.join("img");
        testkit::busybox_rootfs(&img);
        let tgz = d.join("rootfs.tgz");
        assert!(Command::new("tar")
            .args(["--numeric-owner", "-C"])
            .arg(&img)
            .arg("-czf")
            .arg(&tgz)
            .arg(".")
            .status()
            .unwrap()
            .success());
        let conf = d.join("containers.conf");
        std::fs::write(
            &conf,
            format!(
                "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\nnetns = \"none\"\n\
                 [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nevents_logfile_path = \"{0}/events.log\"\ntmp_dir = \"{0}/tmp\"\n\
                 [network]\nnetwork_config_dir = \"{0}/net\"\n",
                d.display()
            ),
        )
        .unwrap();
        let storage = d.join("storage.conf");
        std::fs::write(
            &storage,
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/graph\"\nrunroot = \"{0}/run\"\n",
                d.display()
            ),
        )
        .unwrap();
        let parent_existed = Path::new("/sys/fs/cgroup/memory/libpod_parent").exists()
            || Path::new("/sys/fs/cgroup/libpod_parent").exists();
        let run_root_existed = Path::new("/run/stockade").exists();
        let p = Podman {
            env,
            conf,
            storage,
            parent_existed,
            run_root_existed,
        };
        let out = p.podman(&[
            "import",
            "--change",
            "CMD [\"/bin/sh\"]",
            tgz.to_str().unwrap(),
            IMAGE,
        ]);
        assert!(out.0 == 0, "import: {}", out.2);
        Some(p)
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", &self.conf)
            .env("CONTAINERS_STORAGE_CONF", &self.storage);
        c
    }

    fn podman(&self, args: &[&str]) -> (i32, String, String) {
        let mut c = self.cmd();
        c.args(args);
        let out = self.env.output(c);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `podman run --rm --runtime stockade <extra> IMAGE <cmd>`.
    fn run(&self, extra: &[&str], cmd: &[&str]) -> (i32, String, String) {
        let mut args = vec!["run", "--rm", "--runtime", BIN];
        args.extend_from_slice(extra);
        args.push(IMAGE);
        args.extend_from_slice(cmd);
        self.podman(&args)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.podman(&["rm", "-af", "-t", "0"]);
        let _ = self.podman(&["rmi", "-af"]);
        if !self.run_root_existed {
            let _ = std::fs::remove_dir("/run/stockade");
        }
        if !self.parent_existed {
            // podman (conmon) made these; remove them if we caused them.
            for h in std::fs::read_dir("/sys/fs/cgroup")
                .into_iter()
                .flatten()
                .flatten()
            {
                let p = h.path().join("libpod_parent");
                let _ = std::fs::remove_dir(p.join("conmon"));
                let _ = std::fs::remove_dir(&p);
            }
        }
    }
}

#[test]
fn podman_uses_stockade() {
    let Some(p) = Podman::new() else { return };
    let (code, out, err) = p.run(&[], &["/bin/echo", "hi"]);
    assert_eq!((code, out.as_str()), (0, "hi\n"), "{err}");
    let (code, _, _) = p.run(&[], &["sh", "-c", "exit 42"]);
    assert_eq!(code, 42);
    let (_, out, _) = p.run(
        &["--read-only"],
        &[
            "sh",
            "-c",
            "touch /x 2>/dev/null || echo root-ro; touch /tmp/y && echo tmp-rw",
        ],
    );
    assert_eq!(out, "root-ro\ntmp-rw\n");
    let (_, out, _) = p.run(&["--user", "1000"], &["id", "-u"]);
    assert_eq!(out, "1000\n");
    let (_, out, _) = p.run(
        &["--cap-drop", "ALL"],
        &["grep", "-E", "^Cap(Prm|Eff|Bnd)", "/proc/self/status"],
    );
    assert_eq!(
        out,
        "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n"
    );
    let (_, out, err) = p.run(&["--memory", "64m"], &["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"]);
    assert_eq!(out, "67108864\n", "{err}");
    let (_, out, _) = p.run(
        &["--pids-limit", "10"],
        &[
            "sh",
            "-c",
            "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max",
        ],
    );
    assert_eq!(out, "10\n");
    let (code, out, _) = p.run(&["-t"], &["tty"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("/dev/pts/"), "{out:?}");

    // A long-running container: exec, pause, stop, logs, rm.
    let name = format!("{}-long", p.env.prefix);
    let (code, id, err) = p.podman(&[
        "run",
        "-d",
        "--name",
        &name,
        "--runtime",
        BIN,
        IMAGE,
        "sh",
        "-c",
        "echo started; exec sleep 1000",
    ]);
    assert_eq!(code, 0, "{err}");
    let id = id.trim().to_string();
    assert!(Path::new("/run/stockade")
        .join(&id)
        .join("state.json")
        .exists());
    let (code, out, _) = p.podman(&["exec", &name, "sh", "-c", "echo in; exit 3"]);
    assert_eq!((code, out.as_str()), (3, "in\n"));
    let (_, out, _) = p.podman(&["exec", "--user", "1000", &name, "id", "-u"]);
    assert_eq!(out, "1000\n");
    assert_eq!(p.podman(&["pause", &name]).0, 0);
    assert_eq!(p.podman(&["unpause", &name]).0, 0);
    let (code, _, err) = p.podman(&["stop", "-t", "1", &name]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = p.podman(&["logs", &name]);
    assert_eq!(out, "started\n");
    let (_, out, _) = p.podman(&["inspect", "--format", "{{.State.ExitCode}}", &name]);
    assert_eq!(
        out.trim(),
        "137",
        "PID 1 ignores SIGTERM, so stop escalates to SIGKILL"
    );
    assert_eq!(p.podman(&["rm", &name]).0, 0);
    assert!(
        !Path::new("/run/stockade").join(&id).exists(),
        "state removed"
    );
    let leftover: Vec<_> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .filter(|h| {
            h.path()
                .join("libpod_parent")
                .join(format!("libpod-{id}"))
                .exists()
        })
        .collect();
    assert!(leftover.is_empty(), "container cgroups removed");

    // kill with a signal a trap handles.
    let name2 = format!("{}-trap", p.env.prefix);
    let (code, _, err) = p.podman(&[
        "run",
        "-d",
        "--name",
        &name2,
        "--runtime",
        BIN,
        IMAGE,
        "sh",
        "-c",
        "trap 'exit 7' TERM; while true; do sleep 0.1; done",
    ]);
    assert_eq!(code, 0, "{err}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(p.podman(&["kill", "--signal", "TERM", &name2]).0, 0);
    let (_, out, _) = p.podman(&["wait", &name2]);
    assert_eq!(out.trim(), "7");
    assert_eq!(p.podman(&["rm", &name2]).0, 0);
}

impl Podman {
    /// `podman <global> run --rm --runtime stockade <extra> IMAGE <cmd>`.
    fn run_with(&self, global: &[&str], extra: &[&str], cmd: &[&str]) -> (i32, String, String) {
        let mut args: Vec<&str> = global.to_vec();
        args.extend_from_slice(&["run", "--rm", "--runtime", BIN]);
        args.extend_from_slice(extra);
        args.push(IMAGE);
        args.extend_from_slice(cmd);
        self.podman(&args)
    }

    /// `podman logs` of a finished `echo hi`, stdout and stderr together.
    fn logs_of_echo(&self, name: &str, global: &[&str], extra: &[&str]) -> String {
        let mut args: Vec<&str> = global.to_vec();
        args.extend_from_slice(&["run", "--name", name, "--runtime", BIN]);
        args.extend_from_slice(extra);
        args.extend_from_slice(&[IMAGE, "echo", "hi"]);
        let (code, _, err) = self.podman(&args);
        assert_eq!(code, 0, "{err}");
        let (code, out, err) = self.podman(&["logs", name]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(self.podman(&["rm", name]).0, 0);
        format!("{out}{err}")
    }
}

/// The runtime's diagnostics never become the container's output: conmon
/// hands the runtime the container's stdio. Without `--log` the policy's
/// warnings go to `<root>/stockade.log`; with `--log` (a runtime flag) they
/// go there. podman's own per-container binds (hosts, hostname,
/// .containerenv, shm) are not warnings at all.
#[test]
fn podman_logs_are_only_the_containers_output() {
    let Some(p) = Podman::new() else { return };
    let vol = p.env.dir.join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    // A writable host bind: a real warning (SKD-ESC-023) under the default.
    let bind = format!("{}:/data", vol.display());
    let extra = ["-v", bind.as_str()];

    // Without --log.
    let name = format!("{}-quiet", p.env.prefix);
    assert_eq!(p.logs_of_echo(&name, &[], &extra), "hi\n");
    let warnings = std::fs::read_to_string("/run/stockade/stockade.log").unwrap_or_default();
    let ours = format!("{}\\\" at \\\"/data\\\" is mounted writable", vol.display());
    assert!(
        warnings.contains(&ours),
        "the warning is in /run/stockade/stockade.log: {warnings}"
    );

    // With --log given as a runtime flag (podman puts it before the verb).
    let log = p.env.dir.join("oci.log");
    let flag = format!("log={}", log.display());
    let global = ["--runtime-flag", flag.as_str()];
    let name = format!("{}-logged", p.env.prefix);
    assert_eq!(p.logs_of_echo(&name, &global, &extra), "hi\n");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("level=warning") && text.contains(&ours),
        "{text}"
    );
    // podman's own binds are no finding.
    for f in [
        "/etc/hosts",
        "/etc/hostname",
        "/run/.containerenv",
        "/dev/shm",
    ] {
        assert!(
            !text.contains(&format!("at \\\"{f}\\\" is mounted")),
            "{f}: {text}"
        );
    }
    let lines = text.lines().count();
    let name = format!("{}-plain", p.env.prefix);
    assert_eq!(p.logs_of_echo(&name, &global, &[]), "hi\n");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.lines().skip(lines).any(|l| l.contains("SKD-ESC-023")),
        "a plain podman run has no SKD-ESC-023 warning: {text}"
    );
}

/// `lo` is up in the network namespace the runtime creates: busybox httpd
/// serves on 127.0.0.1 and nc fetches from it (busybox wget crashes on this
/// host, outside containers too).
#[test]
fn podman_network_none_has_loopback() {
    let Some(p) = Podman::new() else { return };
    let (code, out, err) = p.run(
        &["--network", "none"],
        &[
            "sh",
            "-c",
            "mkdir -p /tmp/www && echo served > /tmp/www/index.html && \
             httpd -p 127.0.0.1:8080 -h /tmp/www && \
             printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 8080 | tail -n 1",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "served\n"), "{err}");
}

/// Devices outside SKD-ESC-038's classes run under the default policy;
/// CAP_SYS_ADMIN is refused with a message that says how to relax it, and
/// with that relaxation the container mounts a tmpfs (Landlock steps aside
/// for a process the policy let mount, and says so).
#[test]
fn podman_policy_says_how_to_proceed() {
    let Some(p) = Podman::new() else { return };
    if std::path::Path::new("/dev/fuse").exists() {
        let (code, out, err) = p.run(&["--device", "/dev/fuse"], &["ls", "/dev/fuse"]);
        assert_eq!((code, out.as_str()), (0, "/dev/fuse\n"), "{err}");
    } else {
        testkit::not_on_this_host("/dev/fuse: no fuse device on this host");
    }
    let (code, out, err) = p.run(
        &["--device", "/dev/null:/dev/mynull"],
        &["sh", "-c", "echo x > /dev/mynull && echo ok"],
    );
    assert_eq!((code, out.as_str()), (0, "ok\n"), "{err}");

    let (code, _, err) = p.run(&["--cap-add", "SYS_ADMIN"], &["true"]);
    assert_ne!(code, 0, "CAP_SYS_ADMIN is refused under the default policy");
    for want in [
        "SKD-ESC-010",
        "--runtime-flag policy=warn",
        "runtime.toml",
        "ignore = [",
    ] {
        assert!(err.contains(want), "{want:?} in {err}");
    }

    // --privileged: dozens of findings, one short line that conmon passes
    // whole (it cut the old 4.3 KB list mid-JSON): a few, then a count.
    let (code, _, err) = p.run(&["--privileged"], &["true"]);
    assert_ne!(code, 0);
    let line = err
        .lines()
        .find(|l| l.contains("violates the"))
        .unwrap_or_else(|| panic!("no refusal line: {err}"));
    assert!(line.contains("more (all in --log)"), "{line}");
    assert!(line.len() < 1500, "{} bytes: {line}", line.len());

    let (code, out, err) = p.run_with(
        &["--runtime-flag", "policy=warn"],
        &["--cap-add", "SYS_ADMIN"],
        &[
            "sh",
            "-c",
            "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m && echo ok > /tmp/m/f && cat /tmp/m/f",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "ok\n"), "{err}");
}

#[test]
fn podman_update_changes_the_memory_limit() {
    let Some(p) = Podman::new() else { return };
    let name = format!("{}-upd", p.env.prefix);
    let (code, id, err) = p.podman(&[
        "run",
        "-d",
        "--name",
        &name,
        "--runtime",
        BIN,
        "--memory",
        "64m",
        IMAGE,
        "sleep",
        "1000",
    ]);
    assert_eq!(code, 0, "{err}");
    let id = id.trim().to_string();
    let limit = || {
        let (_, out, err) = p.podman(&[
            "exec",
            &name,
            "sh",
            "-c",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
        ]);
        assert!(!out.is_empty(), "{err}");
        out.trim().to_string()
    };
    assert_eq!(limit(), "67108864");
    let (code, _, err) = p.podman(&["update", "--memory", "32m", &name]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(limit(), "33554432");
    // Above the swap limit podman set at run (twice the memory): as with
    // runc, podman sends the new swap limit along.
    let (code, _, err) = p.podman(&["update", "--memory", "256m", &name]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(limit(), "268435456");
    let (code, _, err) = p.podman(&["update", "--memory", "32m", &name]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(limit(), "33554432");
    // Through the runtime's own view too: the state records the new limit.
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(Path::new("/run/stockade").join(&id).join("state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        state["spec"]["linux"]["resources"]["memory"]["limit"],
        33554432
    );
    assert_eq!(p.podman(&["rm", "-f", "-t", "0", &name]).0, 0);
}
