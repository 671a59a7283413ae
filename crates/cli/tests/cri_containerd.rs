//! Kubernetes' path, on this machine's cgroupfs: a private containerd (its own root, state and
//! sockets) with the CRI plugin, driven over its socket by our CRI client (crates/cri-test):
//! RunPodSandbox, CreateContainer, StartContainer, ExecSync, UpdateContainerResources,
//! StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox.
//!
//! The runtimes are registered with the shipped deploy/runtime/containerd-stockade.toml block
//! (runc's shim, `BinaryName` = this build's stockade), with `SystemdCgroup = false` as this
//! machine has no systemd. No CNI plugin is set up here (a pod network would add a bridge to
//! the host), so the pods share the node's network. stockade's default policy refuses that
//! (SKD-ESC-002), which the test checks through CRI; the flow itself then runs under the handler
//! `stockade-warn` (the same binary with `STOCKADE_POLICY=warn`) and with `runc`, and both must
//! give the same results. The realhost guest runs the same flow with a pod network, the default
//! policy and `SystemdCgroup = true` (realhost/suite/apparmor.sh).
//!
//! The images (busybox and a pause image) are built locally by realhost/oci-image.sh and
//! imported with `ctr images import`: there is no registry. Needs root, containerd, ctr, runc
//! (scripts/install-deps); without them it prints `SKIP` (a failure under `CI=true`).
//! UpdateContainerResources is skipped visibly while `stockade` has no `update` command.

mod runtime_support;
use runtime_support::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use stockade_cri_test::{pod_flow, sandbox_config, Cri, FlowOptions, Status};

const PAUSE: &str = "localhost/stockade-test/pause:1";
const BUSYBOX: &str = "localhost/stockade-test/busybox:1";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Daemon {
    env: Env,
    child: Child,
    sock: PathBuf,
    parent: String,
}

impl Daemon {
    fn start() -> Option<Daemon> {
        if !need_root()
            || !testkit::require(&["containerd", "ctr", "containerd-shim-runc-v2", "runc"])
        {
            return None;
        }
        let env = Env::new("cri");
        let d = env.dir.clone();
        for (image, cmd) in [(PAUSE, "/bin/sleep 2147483647"), (BUSYBOX, "/bin/sh")] {
            let tar = d.join(format!("{}.tar", image.rsplit('/').next().unwrap()));
            let st = Command::new(repo().join("realhost/oci-image.sh"))
                .arg(&tar)
                .arg(image)
                .args(cmd.split(' '))
                .status()
                .expect("realhost/oci-image.sh");
            assert!(st.success(), "realhost/oci-image.sh {image}");
        }
        let sock = d.join("containerd.sock");
        // restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, so the sandbox's default
        // oom_score_adj of -998 cannot be set (runc and stockade both fail on it); containerd
        // then keeps its own score, as it does for rootless.
        // The shipped block for containerd 1.6/1.7, with this build's binary, a private state
        // root, and the cgroupfs driver (this machine has no systemd).
        let shipped =
            std::fs::read_to_string(repo().join("deploy/runtime/containerd-stockade.toml"))
                .expect("deploy/runtime/containerd-stockade.toml");
        let block: String = shipped
            .lines()
            .skip_while(|l| !l.starts_with("[plugins."))
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            block.contains("BinaryName = \"/usr/local/bin/stockade\"")
                && block.contains("SystemdCgroup = true"),
            "the shipped containerd block changed: {block}"
        );
        let warn = d.join("stockade-warn");
        std::fs::write(
            &warn,
            format!("#!/bin/sh\nSTOCKADE_POLICY=warn exec {BIN} \"$@\"\n"),
        )
        .unwrap();
        std::fs::set_permissions(&warn, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let ours = |name: &str, binary: &str| {
            block
                .replace("runtimes.stockade", &format!("runtimes.{name}"))
                .replace("/usr/local/bin/stockade", binary)
                .replace(
                    "SystemdCgroup = true",
                    &format!(
                        "SystemdCgroup = false\n    Root = \"{}/{name}-root\"",
                        d.display()
                    ),
                )
        };
        let block = format!(
            "{}\n{}",
            ours("stockade", BIN),
            ours("stockade-warn", warn.to_str().unwrap())
        );
        let cri = "plugins.\"io.containerd.grpc.v1.cri\"";
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
             disabled_plugins = [\"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\", \"io.containerd.snapshotter.v1.devmapper\", \"io.containerd.snapshotter.v1.aufs\"]\n\
             [grpc]\n  address = \"{s}\"\n[ttrpc]\n  address = \"{s}.ttrpc\"\n[debug]\n  address = \"{d}/debug.sock\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{d}/opt\"\n\
             [{cri}]\n  sandbox_image = \"{PAUSE}\"\n  restrict_oom_score_adj = true\n\
             [{cri}.cni]\n  bin_dir = \"{d}/cni/bin\"\n  conf_dir = \"{d}/cni/conf\"\n\
             [{cri}.containerd]\n  snapshotter = \"overlayfs\"\n  default_runtime_name = \"runc\"\n\
             [{cri}.containerd.runtimes.runc]\n  runtime_type = \"io.containerd.runc.v2\"\n\
             [{cri}.containerd.runtimes.runc.options]\n    SystemdCgroup = false\n    Root = \"{d}/runc-root\"\n\
             {block}\n",
            d = d.display(),
            s = sock.display(),
        );
        std::fs::write(d.join("config.toml"), config).unwrap();
        let log = std::fs::File::create(d.join("containerd.log")).unwrap();
        let mut cmd = Command::new("containerd");
        cmd.arg("--config")
            .arg(d.join("config.toml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null());
        // SAFETY: setsid is async-signal-safe; the child is alone after fork.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::setsid();
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn containerd");
        let parent = format!("/{}", env.prefix);
        let daemon = Daemon {
            env,
            child,
            sock,
            parent,
        };
        let t = Instant::now();
        while daemon.ctr(&["version"]).0 != 0 {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "containerd did not start: {}",
                std::fs::read_to_string(d.join("containerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        for image in [PAUSE, BUSYBOX] {
            let tar = d.join(format!("{}.tar", image.rsplit('/').next().unwrap()));
            let (code, _, err) = daemon.ctr(&["images", "import", tar.to_str().unwrap()]);
            assert_eq!(code, 0, "ctr images import {image}: {err}");
        }
        Some(daemon)
    }

    fn ctr(&self, args: &[&str]) -> (i32, String, String) {
        let mut c = Command::new("ctr");
        c.arg("-a")
            .arg(&self.sock)
            .args(["-n", "k8s.io"])
            .args(args);
        let out = self.env.output(c);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The v1 controller directories (or the v2 directory) a cgroup path names.
    fn cgroup_dirs(&self, path: &str) -> Vec<PathBuf> {
        let mut dirs = vec![];
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            for e in rd.flatten() {
                let p = e.path().join(path.trim_start_matches('/'));
                if p.exists() {
                    dirs.push(p);
                }
            }
        }
        dirs
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill with the pid of the daemon this test started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        // containerd's own mounts under its root and state (snapshots, sandbox shm).
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(self.env.dir.to_str().unwrap()))
            .collect();
        ours.reverse();
        for m in ours {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
        for dir in self.cgroup_dirs(&self.parent) {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn stockade_has_update() -> Result<(), String> {
    let out = Command::new(BIN)
        .args(["update", "--help"])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err("`stockade update` does not exist yet (issue 13), so containerd cannot update a stockade container".into())
    }
}

#[test]
fn cri_pod_flow_with_stockade_and_runc_on_cgroupfs() {
    let Some(daemon) = Daemon::start() else {
        return;
    };
    let mut cri = Cri::connect(&daemon.sock).expect("CRI connect");
    let v = cri.version().expect("CRI Version");
    assert_eq!(v.runtime_name, "containerd", "{v:?}");
    assert_eq!(v.runtime_api_version, "v1", "{v:?}");

    // The default policy refuses a pod on the node's network, through CRI, and leaves nothing.
    let mut opts = FlowOptions {
        handler: "stockade".into(),
        image: BUSYBOX.into(),
        cgroup_parent: daemon.parent.clone(),
        host_network: true,
        apparmor_profile: String::new(),
        expect_attr: None,
        update: Ok(()),
        readonly_paths: Vec::new(),
        write_check: None,
        name: format!("{}-refused", daemon.env.prefix),
        log_root: daemon.env.dir.join("logs"),
    };
    let refused = cri.run_pod_sandbox(&sandbox_config(&opts, &opts.log_root), "stockade");
    let err = refused.expect_err("stockade's default policy ran a pod on the host's network");
    assert!(
        err.0.contains("SKD-ESC-002") && err.0.contains("network namespace"),
        "the refusal does not name the rule: {err}"
    );
    assert!(
        std::fs::read_dir(daemon.env.dir.join("stockade-root/k8s.io"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "a refused sandbox left state behind"
    );

    let mut reports = vec![];
    for (handler, update) in [("runc", Ok(())), ("stockade-warn", stockade_has_update())] {
        opts.handler = handler.into();
        opts.update = update;
        opts.name = format!("{}-{handler}", daemon.env.prefix);
        let report = pod_flow(&mut cri, &opts);
        for s in &report.steps {
            eprintln!("{handler}: {s}");
        }
        if report.count(Status::Fail) > 0 {
            let log =
                std::fs::read_to_string(daemon.env.dir.join("containerd.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(12).collect();
            panic!(
                "{handler}: the CRI flow failed (steps above); containerd's log ends:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        // Nothing left behind: no runtime state, no container cgroup.
        let root = daemon.env.dir.join(format!("{handler}-root/k8s.io"));
        for id in [&report.container_id, &report.pod_id] {
            assert!(
                !root.join(id).exists(),
                "{handler}: state of {id} left in {}",
                root.display()
            );
            let left = daemon.cgroup_dirs(&format!("{}/{id}", daemon.parent));
            assert!(left.is_empty(), "{handler}: cgroups left behind: {left:?}");
        }
        reports.push(report);
    }
    // The same flow gives the same results with both runtimes: every step stockade ran has
    // runc's outcome (the steps stockade skipped were printed above).
    let runc: Vec<(&str, Status)> = reports[0]
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.status))
        .collect();
    let ours: Vec<(&str, Status)> = reports[1]
        .steps
        .iter()
        .filter(|s| s.status != Status::Skip)
        .map(|s| (s.name.as_str(), s.status))
        .collect();
    let runc_comparable: Vec<(&str, Status)> = runc
        .iter()
        .copied()
        .filter(|(n, _)| ours.iter().any(|(m, _)| m == n))
        .collect();
    assert_eq!(runc_comparable, ours, "runc and stockade differ");
}
