//! Step 2: the targets, all the check's own, in a private work directory; removed on drop.
//!
//! * `hostdir/canary.txt`: a host file with unique content; `privileged` binds `hostdir` in, and
//!   `shocker`, `setns` and `proc-pid-root` look for it through the host's root.
//! * `hostdir/engine.sock`: a listening unix socket standing in for an engine API.
//! * `disk.img` on a loop device: a scratch ext4 with its own canary, the stand-in for a host
//!   disk (`block-dev-mount` never sees a real disk).
//! * a `sleep` process: the host process that `proc-pid-root`, `setns` and `ptrace` aim at.
//! * per bundle, a release_agent script that only writes a marker into that bundle's rootfs.
//!
//! The directory lives under the host's root file system on purpose (`$TMPDIR`, else `/tmp`):
//! `shocker`'s handle to inode 2 must be able to reach the file system the canary is on. It is
//! mode 0711 so a container whose root is mapped to an unprivileged host uid can still reach its
//! rootfs, with an unguessable name.

use crate::{io, Error, Result};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
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
    loopdev: Option<String>,
    sleeper: Option<Child>,
    _listener: UnixListener,
}

impl Drop for Fixture {
    fn drop(&mut self) {
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
            loopdev: None,
            sleeper: None,
            _listener: listener,
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
        if let Some(o) = only {
            a.extend(["--only".into(), o.to_string()]);
        }
        a
    }
}
