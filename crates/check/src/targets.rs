//! Step 2: the targets, all the check's own, in a private work directory; removed on drop.
//!
//! * `hostdir/canary.txt`: a host file with unique content; `privileged` binds `hostdir` in, and
//!   `shocker`, `setns` and `proc-pid-root` look for it through the host's root.
//! * `hostdir/engine.sock`: a listening unix socket standing in for an engine API.
//! * `disk.img` on a loop device: a scratch ext4 with its own canary, the stand-in for a host
//!   disk (`block-dev-mount` never sees a real disk).
//! * a `sleep` process: the host process that `proc-pid-root`, `setns` and `ptrace` aim at.
//! * per bundle, a release_agent script that only writes a marker into that bundle's rootfs.
//! * a stand-in for the node's network: two network namespaces of the check's own (`netns-node`,
//!   `netns-ctr`, kept by bind mounts on files of the work directory), joined by a veth pair as
//!   Docker's bridge joins a container to its host. The node side holds 169.254.169.254 and
//!   10.254.0.1 with fake listeners (cloud metadata :80, kubelet :10250, Docker API :2375 and
//!   :2376) and a loopback service (127.0.0.1:10248); the docker and privileged profiles run in
//!   `netns-ctr` (default route via the node). Nothing is added to the host's own network.
//!
//! The directory lives under the host's root file system on purpose (`$TMPDIR`, else `/tmp`):
//! `shocker`'s handle to inode 2 must be able to reach the file system the canary is on. It is
//! mode 0711 so a container whose root is mapped to an unprivileged host uid can still reach its
//! rootfs, with an unguessable name.

use crate::{io, Error, Result};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct Fixture {
    pub dir: PathBuf,
    pub hostdir: PathBuf,
    pub canary_content: String,
    /// `maj:min` of the scratch loop device, when losetup and mkfs.ext4 exist.
    pub block_dev: Option<String>,
    pub sleeper_pid: u32,
    pub probe: PathBuf,
    pub busybox: Option<PathBuf>,
    /// What could not be set up (the techniques that need it report not-applicable).
    pub notes: Vec<String>,
    /// The container side of the node stand-in (a bind-mounted network namespace), when it
    /// could be set up (needs `ip`, `unshare`, `nsenter`).
    pub ctr_netns: Option<PathBuf>,
    loopdev: Option<String>,
    sleeper: Option<Child>,
    _listener: UnixListener,
    /// Bind-mounted namespace files to unmount on drop.
    ns_mounts: Vec<PathBuf>,
    /// The fake node services (in `netns-node`); closed on drop.
    node_listeners: Vec<std::net::TcpListener>,
}

/// The fake node services: (name, address, port) on the node side of the stand-in network.
pub const NODE_SERVICES: [(&str, &str, u16); 5] = [
    ("metadata", "169.254.169.254", 80),
    ("kubelet", NODE_ADDR, 10250),
    ("docker-api", NODE_ADDR, 2375),
    ("docker-api-tls", NODE_ADDR, 2376),
    ("node-loopback", "127.0.0.1", 10248),
];
const NODE_ADDR: &str = "10.254.0.1";

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(mut s) = self.sleeper.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
        if let Some(l) = &self.loopdev {
            let _ = Command::new("losetup").args(["-d", l]).status();
        }
        self.node_listeners.clear();
        for m in self.ns_mounts.drain(..).rev() {
            let c = crate::sys_path(&m);
            // SAFETY: c is a valid NUL-terminated path; detaching our own bind mount.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(io(format!("{cmd:?}")))?;
    if !out.status.success() {
        return Err(Error::Command {
            cmd: format!("{cmd:?}"),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Fixture {
    pub fn new(probe: &Path, busybox: Option<&Path>) -> Result<Fixture> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let base = std::env::var_os("TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        let dir = base.join(format!("stockade-check-{}-{nanos:x}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o711)
            .create(&dir)
            .map_err(io(format!("create {}", dir.display())))?;
        // From here on, a failure removes what was made (Drop of a partial fixture).
        let hostdir = dir.join("hostdir");
        std::fs::create_dir(&hostdir).map_err(io("create hostdir"))?;
        let listener = UnixListener::bind(hostdir.join("engine.sock"))
            .map_err(io("bind the fake engine socket"))?;
        let mut fx = Fixture {
            dir: dir.clone(),
            hostdir: hostdir.clone(),
            canary_content: format!("stockade-canary-{nanos:x}"),
            block_dev: None,
            sleeper_pid: 0,
            probe: probe.to_path_buf(),
            busybox: busybox.map(Path::to_path_buf),
            notes: Vec::new(),
            ctr_netns: None,
            loopdev: None,
            sleeper: None,
            _listener: listener,
            ns_mounts: Vec::new(),
            node_listeners: Vec::new(),
        };
        std::fs::write(hostdir.join("canary.txt"), &fx.canary_content)
            .map_err(io("write the canary"))?;
        // The canary is root's and private: only host root (or a capability) reads it.
        std::fs::set_permissions(
            hostdir.join("canary.txt"),
            std::fs::Permissions::from_mode(0o600),
        )
        .map_err(io("chmod the canary"))?;
        match fx.loop_device() {
            Ok(()) => {}
            Err(e) => fx.notes.push(format!(
                "no scratch block device ({e}): block-dev-mount is n/a"
            )),
        }
        match fx.node_network() {
            Ok(()) => {}
            Err(e) => fx.notes.push(format!(
                "no stand-in node network ({e}): host-services is n/a in every profile"
            )),
        }
        let mut cmd = Command::new("sleep");
        cmd.arg("3600").stdin(Stdio::null()).stdout(Stdio::null());
        // SAFETY: prctl between fork and exec is async-signal-safe. The sleeper dies with us,
        // even when the check is killed before its cleanup runs.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let sleeper = cmd.spawn().map_err(io("start the sleeper (sleep 3600)"))?;
        fx.sleeper_pid = sleeper.id();
        fx.sleeper = Some(sleeper);
        Ok(fx)
    }

    /// A network namespace kept by a bind mount on `file` (created empty, mode 0600).
    fn netns_file(&mut self, name: &str) -> Result<PathBuf> {
        let f = self.dir.join(name);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&f)
            .map_err(io(format!("create {}", f.display())))?;
        run(Command::new("unshare")
            .arg(format!("--net={}", f.display()))
            .arg("true"))?;
        self.ns_mounts.push(f.clone());
        Ok(f)
    }

    /// The stand-in node network (module docs): two namespaces, a veth pair, the fake services.
    fn node_network(&mut self) -> Result<()> {
        let node = self.netns_file("netns-node")?;
        let ctr = self.netns_file("netns-ctr")?;
        let in_ns = |ns: &Path, script: &str| -> Result<String> {
            run(Command::new("nsenter")
                .arg(format!("--net={}", ns.display()))
                .args(["sh", "-euc", script]))
        };
        in_ns(
            &node,
            &format!(
                "ip link set lo up; ip link add skn0 type veth peer name skc0 netns {ctr}; \
                 ip addr add {NODE_ADDR}/24 dev skn0; ip addr add 169.254.169.254/32 dev skn0; \
                 ip link set skn0 up",
                ctr = ctr.display()
            ),
        )?;
        in_ns(
            &ctr,
            &format!(
                "ip link set lo up; ip addr add 10.254.0.2/24 dev skc0; ip link set skc0 up; \
                 ip route add default via {NODE_ADDR}"
            ),
        )?;
        // The listeners are made by a thread that has joined the node's namespace (a network
        // namespace is per thread); a socket stays in the namespace it was made in.
        let nsfile = std::fs::File::open(&node).map_err(io("open netns-node"))?;
        let listeners =
            std::thread::spawn(move || -> std::io::Result<Vec<std::net::TcpListener>> {
                use std::os::fd::AsRawFd;
                // SAFETY: setns on a valid namespace fd, for this thread only.
                if unsafe { libc::setns(nsfile.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                NODE_SERVICES
                    .iter()
                    .map(|(_, a, p)| std::net::TcpListener::bind((*a, *p)))
                    .collect()
            })
            .join()
            .map_err(|_| Error::Command {
                cmd: "node listeners".into(),
                stderr: "thread panicked".into(),
            })?
            .map_err(io("listen on the node stand-in's services"))?;
        self.node_listeners = listeners;
        self.ctr_netns = Some(ctr);
        Ok(())
    }

    /// `--service` arguments for the probe: the fake node services.
    pub fn service_args(&self) -> Option<String> {
        self.ctr_netns.as_ref()?;
        Some(
            NODE_SERVICES
                .iter()
                .map(|(n, a, p)| format!("{n}={a}:{p}"))
                .collect::<Vec<_>>()
                .join(","),
        )
    }

    fn loop_device(&mut self) -> Result<()> {
        let src = self.dir.join("imgsrc");
        std::fs::create_dir(&src).map_err(io("create imgsrc"))?;
        std::fs::write(src.join("canary"), format!("block-{}", self.canary_content))
            .map_err(io("write the block canary"))?;
        let img = self.dir.join("disk.img");
        std::fs::File::create(&img)
            .and_then(|f| f.set_len(8 << 20))
            .map_err(io("create disk.img"))?;
        run(Command::new("mkfs.ext4")
            .args(["-q", "-F", "-d"])
            .arg(&src)
            .arg(&img))?;
        let dev = run(Command::new("losetup").args(["--find", "--show"]).arg(&img))?;
        self.loopdev = Some(dev.clone());
        let rdev = std::fs::metadata(&dev)
            .map_err(io(format!("stat {dev}")))?
            .rdev();
        self.block_dev = Some(format!("{}:{}", libc::major(rdev), libc::minor(rdev)));
        Ok(())
    }

    /// A fresh bundle directory `bundle-<n>` with a rootfs holding the probe (and busybox), and
    /// a release_agent script that writes a marker into that rootfs. Returns (bundle, agent).
    pub fn bundle(&self, n: usize) -> Result<(PathBuf, PathBuf)> {
        let bundle = self.dir.join(format!("bundle-{n}"));
        let rootfs = bundle.join("rootfs");
        for d in [
            "bin", "proc", "sys", "dev", "tmp", "etc", "run", "hostdir", "root",
        ] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(rootfs.join(d))
                .map_err(io(format!("create rootfs/{d}")))?;
        }
        std::fs::set_permissions(rootfs.join("tmp"), std::fs::Permissions::from_mode(0o1777))
            .map_err(io("chmod rootfs/tmp"))?;
        std::fs::copy(&self.probe, rootfs.join("probe")).map_err(io("copy the probe"))?;
        std::fs::set_permissions(rootfs.join("probe"), std::fs::Permissions::from_mode(0o755))
            .map_err(io("chmod the probe"))?;
        if let Some(bb) = &self.busybox {
            std::fs::copy(bb, rootfs.join("bin/busybox")).map_err(io("copy busybox"))?;
            std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh"))
                .map_err(io("link /bin/sh"))?;
        }
        let agent = bundle.join("agent.sh");
        std::fs::write(
            &agent,
            format!(
                "#!/bin/sh\necho \"release_agent ran on the host as uid $(id -u) for $1\" > {}\n",
                rootfs.join("ra-marker").display()
            ),
        )
        .map_err(io("write the release_agent script"))?;
        std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755))
            .map_err(io("chmod the release_agent script"))?;
        Ok((bundle, agent))
    }

    /// The probe's command line inside the container.
    pub fn probe_args(&self, agent: &Path, only: Option<&str>) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "/probe".into(),
            "--json".into(),
            "--canary".into(),
            "/hostdir/canary.txt".into(),
            "--host-canary".into(),
            self.hostdir.join("canary.txt").display().to_string(),
            "--canary-content".into(),
            self.canary_content.clone(),
            "--socket".into(),
            "/run/engine.sock".into(),
            "--target-pid".into(),
            self.sleeper_pid.to_string(),
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
        if let Some(b) = &self.block_dev {
            a.extend(["--block-dev".into(), b.clone()]);
        }
        if let Some(s) = self.service_args() {
            a.extend(["--service".into(), s]);
        }
        if let Some(o) = only {
            a.extend(["--only".into(), o.to_string()]);
        }
        a
    }
}
