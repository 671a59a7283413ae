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
//! * an lxcfs instance of the check's own (`lxcfs-rw`, E48), when `/dev/fuse`, the `lxcfs`
//!   binary and a cgroup v1 devices controller exist: the check opens `/dev/fuse` and mounts the
//!   FUSE file system itself at `lxcfs` in the work directory (in the host's mount namespace,
//!   where the runtimes bind it from; on a private bind of the directory, so it does not
//!   propagate), then starts `lxcfs -f /dev/fd/N` on that connection in a
//!   mount namespace of its own with a private tmpfs on `/run` (and without its copy of the
//!   FUSE mount), so its pid file and its `/run/lxcfs` directories never reach the host. The `lxcfs` profile binds it read-write at
//!   `/var/lib/lxcfs`. Drop unmounts it and ends the daemon (nothing left: no mount, no
//!   process, no FUSE connection).
//!
//! The directory lives under the host's root file system on purpose (`$TMPDIR`, else `/tmp`):
//! `shocker`'s handle to inode 2 must be able to reach the file system the canary is on. It is
//! mode 0711 so a container whose root is mapped to an unprivileged host uid can still reach its
//! rootfs, with an unguessable name.

use crate::{io, Error, Result};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
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
    /// The mount point (host path) of the check's lxcfs instance, when one runs.
    pub lxcfs: Option<PathBuf>,
    /// Why no lxcfs instance runs (the probe reports `lxcfs-rw` not applicable with it).
    pub no_lxcfs: Option<String>,
    lxcfs_daemon: Option<Child>,
    /// The private bind under the FUSE mount, unmounted after it.
    lxcfs_bind: Option<PathBuf>,
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
        self.stop_lxcfs();
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
            lxcfs: None,
            no_lxcfs: None,
            lxcfs_daemon: None,
            lxcfs_bind: None,
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
        if let Err(e) = fx.start_lxcfs() {
            fx.stop_lxcfs();
            fx.notes
                .push(format!("no lxcfs instance ({e}): lxcfs-rw is n/a"));
            fx.no_lxcfs = Some(e);
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

    /// The check's own lxcfs instance (module docs): the FUSE mount made here, the daemon in a
    /// mount namespace with a private `/run`, serving the connection it inherits as fd N.
    fn start_lxcfs(&mut self) -> std::result::Result<(), String> {
        let cgroups = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        if probe::techniques::devices_allow::devices_path(&cgroups).is_none() {
            return Err("no cgroup v1 devices controller on this host".into());
        }
        let bin = crate::locate::which("lxcfs")
            .ok_or("no lxcfs binary in PATH (Debian package lxcfs)")?;
        match std::fs::metadata("/dev/fuse") {
            Ok(m)
                if m.file_type().is_char_device()
                    && (libc::major(m.rdev()), libc::minor(m.rdev())) == (10, 229) => {}
            Ok(_) => return Err("/dev/fuse is not the FUSE device (char 10:229)".into()),
            Err(e) => return Err(format!("no /dev/fuse: {e}")),
        }
        let fuse = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open("/dev/fuse")
            .map_err(|e| format!("open /dev/fuse: {e}"))?;
        let mnt = self.dir.join("lxcfs");
        std::fs::DirBuilder::new()
            .mode(0o755)
            .create(&mnt)
            .map_err(|e| format!("create the lxcfs mount point: {e}"))?;
        let raw = std::os::fd::AsRawFd::as_raw_fd(&fuse);
        let data = std::ffi::CString::new(format!(
            "fd={raw},rootmode=40000,user_id=0,group_id=0,allow_other"
        ))
        .unwrap_or_default();
        let target = crate::sys_path(&mnt);
        // The mount point is first a private bind of itself, so the FUSE mount on it does not
        // propagate into the host's other mount namespaces (where it would outlive our umount).
        // SAFETY: valid NUL-terminated strings; a bind of our own empty directory onto itself.
        let r = unsafe {
            libc::mount(
                target.as_ptr(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        };
        if r != 0 {
            return Err(format!(
                "bind the lxcfs mount point: {}",
                std::io::Error::last_os_error()
            ));
        }
        self.lxcfs_bind = Some(mnt.clone());
        // SAFETY: as above; only the propagation type of our bind changes.
        let r = unsafe {
            libc::mount(
                std::ptr::null(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_PRIVATE,
                std::ptr::null(),
            )
        };
        if r != 0 {
            return Err(format!(
                "make the lxcfs mount point private: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: valid NUL-terminated strings; a FUSE mount on our own empty directory, served
        // by the connection `fuse` holds.
        let r = unsafe {
            libc::mount(
                c"lxcfs".as_ptr(),
                target.as_ptr(),
                c"fuse.lxcfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                data.as_ptr().cast(),
            )
        };
        if r != 0 {
            return Err(format!(
                "mount the lxcfs FUSE file system: {}",
                std::io::Error::last_os_error()
            ));
        }
        self.lxcfs = Some(mnt.clone());
        let log = std::fs::File::create(self.dir.join("lxcfs.log"))
            .map_err(|e| format!("create lxcfs.log: {e}"))?;
        let log2 = log.try_clone().map_err(|e| format!("dup lxcfs.log: {e}"))?;
        let mut cmd = Command::new(&bin);
        cmd.arg("-f")
            .arg(format!("/dev/fd/{raw}"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        // SAFETY: between fork and exec only async-signal-safe calls (prctl, unshare, mount,
        // fcntl) on pre-built C strings. The daemon dies with us; its mount namespace is its
        // own (private propagation, so its /run tmpfs and the cgroup mounts lxcfs makes never
        // reach the host); the FUSE fd loses CLOEXEC so lxcfs inherits it.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                let err = std::io::Error::last_os_error;
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(err());
                }
                if libc::unshare(libc::CLONE_NEWNS) != 0 {
                    return Err(err());
                }
                if libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) != 0
                {
                    return Err(err());
                }
                // The daemon's copy of the FUSE mount goes: the host's is the only one, so
                // unmounting it ends the connection.
                if libc::umount2(target.as_ptr(), libc::MNT_DETACH) != 0 {
                    return Err(err());
                }
                if libc::mount(
                    c"tmpfs".as_ptr(),
                    c"/run".as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    c"mode=0700".as_ptr().cast(),
                ) != 0
                {
                    return Err(err());
                }
                if libc::fcntl(raw, libc::F_SETFD, 0) != 0 {
                    return Err(err());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("start {}: {e}", bin.display()))?;
        self.lxcfs_daemon = Some(child);
        // Only the daemon holds the connection now: if it dies, the mount answers ENOTCONN
        // instead of blocking.
        drop(fuse);
        let ready = mnt.join("cgroup/devices");
        for _ in 0..100 {
            if let Some(Ok(Some(st))) = self.lxcfs_daemon.as_mut().map(Child::try_wait) {
                let log = std::fs::read_to_string(self.dir.join("lxcfs.log")).unwrap_or_default();
                return Err(format!(
                    "{} -f /dev/fd/{raw} exited ({st}): {}",
                    bin.display(),
                    log.trim()
                ));
            }
            if ready.is_dir() {
                return Ok(());
            }
            if mnt.join("proc").is_dir() && !mnt.join("cgroup").exists() {
                return Err(
                    "this lxcfs serves no cgroup tree (lxcfs >= 6 serves it only with --enable-cgroup)"
                        .into(),
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Err("lxcfs serves no cgroup/devices tree after 5 s (lxcfs >= 6 serves it only with --enable-cgroup)".into())
    }

    /// PID of the check's lxcfs daemon while it runs.
    pub fn lxcfs_pid(&self) -> Option<u32> {
        self.lxcfs_daemon.as_ref().map(Child::id)
    }

    /// Unmount the lxcfs FUSE file system (the daemon's read then fails and it exits), then
    /// end the daemon if it has not.
    fn stop_lxcfs(&mut self) {
        if let Some(mnt) = self.lxcfs.take() {
            let c = crate::sys_path(&mnt);
            // SAFETY: c is a valid NUL-terminated path; unmounting our own FUSE mount.
            if unsafe { libc::umount2(c.as_ptr(), 0) } != 0 {
                // SAFETY: as above, detached when still busy.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
        if let Some(b) = self.lxcfs_bind.take() {
            let c = crate::sys_path(&b);
            // SAFETY: c is a valid NUL-terminated path; our own bind of the mount point.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        if let Some(mut d) = self.lxcfs_daemon.take() {
            for i in 0..60 {
                if let Ok(Some(_)) = d.try_wait() {
                    return;
                }
                if i == 20 {
                    // SAFETY: signalling our own child, not yet reaped (try_wait said so).
                    unsafe { libc::kill(d.id() as libc::pid_t, libc::SIGTERM) };
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = d.kill();
            let _ = d.wait();
        }
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
        if let Some(l) = &self.lxcfs {
            a.extend(["--lxcfs".into(), l.display().to_string()]);
        } else if let Some(why) = &self.no_lxcfs {
            a.extend(["--no-lxcfs".into(), why.clone()]);
        }
        if let Some(o) = only {
            a.extend(["--only".into(), o.to_string()]);
        }
        a
    }
}
