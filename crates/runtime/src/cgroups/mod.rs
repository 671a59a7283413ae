//! cgroups for v1, hybrid (v1 controllers plus a cgroup2 "unified" mount) and
//! pure v2 hosts, split like youki's libcgroups: [`plan`] turns
//! `linux.resources` into the writes (pure, unit-tested on fixtures), and a
//! manager applies them. This file is the cgroupfs manager: it finds the
//! hierarchies, makes and removes the container's directories, places
//! processes, applies the plan, freezes, counts and mounts.
//!
//! `cgroupsPath` is read like runc's cgroupfs driver: an absolute path is
//! relative to each hierarchy's root, a relative path (and the default, the
//! container id) is relative to the runtime's own cgroup in that hierarchy.
//! In hybrid mode the v1 controllers do the work; the process is also placed
//! in the unified hierarchy, which gets limits only for controllers that live
//! there (hugetlb on some hosts) and the `unified` map.

use crate::error::{Error, Result};
use crate::rootfs::{self, Root};
use nix::mount::MsFlags;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub mod plan;
pub mod systemd;

/// One hierarchy and the container's directory in it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Hier {
    /// Mount point of the hierarchy, e.g. /sys/fs/cgroup/memory.
    pub mount: PathBuf,
    /// Controllers attached (v1), or enabled in cgroup.controllers (v2).
    pub controllers: Vec<String>,
    pub v2: bool,
    /// The container's cgroup directory.
    pub dir: PathBuf,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Cgroup {
    pub hier: Vec<Hier>,
    /// Directories we created, parents first, removed in reverse.
    pub created: Vec<PathBuf>,
    /// The systemd scope holding the cgroup (`--systemd-cgroup`), which
    /// systemd makes and removes; `None` for the cgroupfs driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<systemd::Unit>,
}

/// The cgroup a relative `cgroupsPath` is below: our own (`own`), or on a
/// pure v2 host its parent.
fn base_for(own: &str, parent: bool) -> String {
    if parent {
        Path::new(own)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| "/".into())
    } else {
        own.to_string()
    }
}

/// Whether the runtime runs rootless: not uid 0, or uid 0 of a user
/// namespace (rootless podman runs the runtime in one).
pub fn rootless() -> bool {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return true;
    }
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
        .unwrap_or(false)
}

/// Whether `r` sets any limit (anything but device rules, which a rootless
/// container's user namespace enforces anyway: it cannot mknod).
pub fn has_limits(r: &LinuxResources) -> bool {
    match serde_json::to_value(r) {
        Ok(serde_json::Value::Object(m)) => m.iter().any(|(k, v)| {
            k != "devices"
                && !v.is_null()
                && !v.as_object().is_some_and(|o| o.is_empty())
                && !v.as_array().is_some_and(|a| a.is_empty())
        }),
        _ => true,
    }
}

fn cg_err(path: &Path, msg: impl Into<String>) -> Error {
    Error::Cgroup {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

fn write(dir: &Path, file: &str, value: &str, field: &str) -> Result<()> {
    let p = dir.join(file);
    std::fs::write(&p, value)
        .map_err(|e| Error::field(field, format!("write {value:?} to {}: {e}", p.display())))
}

impl Cgroup {
    /// Find the hierarchies and compute the container's directories.
    pub fn plan(cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup> {
        let inner = cgroups_path
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| PathBuf::from(id));
        if inner.to_str().is_some_and(|s| s.contains(':')) {
            return Err(Error::field(
                "linux.cgroupsPath",
                format!(
                    "{:?} is systemd's \"slice:prefix:name\" form, for the systemd cgroup \
                     driver: add --systemd-cgroup, or give a cgroup path",
                    inner.display()
                ),
            ));
        }
        Self::at(inner)
    }

    /// The systemd driver's cgroup: the scope for `cgroupsPath` (runc's
    /// `slice:prefix:name`, see [`systemd`]), at the path systemd will give
    /// it below its manager's cgroup. Nothing is made until
    /// [`Cgroup::start_unit`].
    pub fn plan_systemd(cgroups_path: Option<&str>, id: &str) -> Result<Cgroup> {
        let user = rootless();
        let unit = systemd::parse(cgroups_path, id, user)?;
        let manager = if user {
            systemd::user_manager_cgroup()?
        } else {
            "/".to_string()
        };
        let mut cg = Self::at(systemd::cgroup_of(&unit, &manager)?)?;
        cg.systemd = Some(unit);
        Ok(cg)
    }

    /// The hierarchies, and the container's directory `inner` in each
    /// (absolute: from the hierarchy's root; relative: from our own cgroup).
    fn at(inner: PathBuf) -> Result<Cgroup> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| Error::io("/proc/self/mountinfo", e))?;
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| Error::io("/proc/self/cgroup", e))?;
        if crate::util::clean_in_root(&Path::new("/").join(&inner)).is_none() {
            return Err(Error::field(
                "linux.cgroupsPath",
                "'..' above the cgroup root",
            ));
        }
        // Pure v2 (no v1 hierarchy with controllers): a relative path goes
        // below the *parent* of our own cgroup, as runc's: our own cgroup
        // usually has processes (a systemd service, a user scope), and the
        // no-internal-processes rule then keeps its children from getting
        // controllers.
        let pure_v2 = !mountinfo.lines().any(|l| {
            l.split_once(" - ")
                .is_some_and(|(_, post)| post.starts_with("cgroup "))
        });
        let mut hier = Vec::new();
        for line in mountinfo.lines() {
            let Some((pre, post)) = line.split_once(" - ") else {
                continue;
            };
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            if pre.len() < 5 || post.len() < 3 {
                continue;
            }
            let mount = PathBuf::from(pre[4]);
            let (v2, controllers) = match post[0] {
                "cgroup2" => {
                    let c = std::fs::read_to_string(mount.join("cgroup.controllers"))
                        .unwrap_or_default();
                    (
                        true,
                        c.split_whitespace().map(String::from).collect::<Vec<_>>(),
                    )
                }
                "cgroup" => {
                    let c: Vec<String> = post[2]
                        .split(',')
                        .filter(|o| {
                            !matches!(
                                *o,
                                "rw" | "ro"
                                    | "relatime"
                                    | "noatime"
                                    | "nosuid"
                                    | "nodev"
                                    | "noexec"
                                    | "clone_children"
                                    | "xattr"
                            ) && !o.starts_with("release_agent")
                        })
                        .map(String::from)
                        .collect();
                    if c.is_empty() || c.iter().any(|x| x.starts_with("name=")) {
                        continue;
                    }
                    (false, c)
                }
                _ => continue,
            };
            if hier.iter().any(|h: &Hier| h.mount == mount) {
                continue;
            }
            // Our own cgroup in this hierarchy.
            let own_path = own
                .lines()
                .filter_map(|l| {
                    let mut it = l.splitn(3, ':');
                    let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
                    let matches = if v2 {
                        ctrls.is_empty()
                    } else {
                        let set: Vec<&str> = ctrls.split(',').collect();
                        controllers.iter().all(|c| set.contains(&c.as_str()))
                    };
                    matches.then(|| path.to_string())
                })
                .next()
                .unwrap_or_else(|| "/".into());
            let rel = if inner.is_absolute() {
                inner.clone()
            } else {
                Path::new(&base_for(&own_path, v2 && pure_v2)).join(&inner)
            };
            let rel = crate::util::clean_in_root(&rel).unwrap_or_else(|| PathBuf::from("/"));
            let dir = mount.join(rel.strip_prefix("/").unwrap_or(&rel));
            hier.push(Hier {
                mount,
                controllers,
                v2,
                dir,
            });
        }
        if hier.is_empty() {
            return Err(cg_err(
                Path::new("/sys/fs/cgroup"),
                "no cgroup hierarchy is mounted",
            ));
        }
        Ok(Cgroup {
            hier,
            created: Vec::new(),
            systemd: None,
        })
    }

    /// systemd driver: start the scope with the init `pid` in it and the
    /// resources as its properties, check that systemd put it where the
    /// init expects it, then make what systemd did not (v1 controllers it
    /// does not manage) and write the resources to the files.
    pub fn start_unit(
        &mut self,
        bus: &systemd::Bus,
        id: &str,
        pid: i32,
        r: Option<&LinuxResources>,
    ) -> Result<()> {
        let Some(unit) = self.systemd.clone() else {
            return Ok(());
        };
        bus.start(&unit, &systemd::scope_properties(&unit, id, pid, r)?)?;
        if let Some(u) = self.systemd.as_mut() {
            u.started = true;
        }
        let got = bus.control_group(&unit)?;
        if let Some(h) = self.hier.iter().find(|h| h.v2) {
            let want = Path::new("/").join(h.dir.strip_prefix(&h.mount).unwrap_or(&h.dir));
            if Path::new(&got) != want {
                return Err(Error::Systemd(format!(
                    "systemd made {} at the cgroup {got}, not at {} where the container expects it",
                    unit.name,
                    want.display()
                )));
            }
        }
        self.created = self.missing_dirs();
        self.create()?;
        if let Some(r) = r {
            self.apply(r)?;
        }
        Ok(())
    }

    /// `update` under the systemd driver: the unit's properties first, so
    /// systemd keeps the new values (the caller then writes the files).
    pub fn set_unit(&self, r: &LinuxResources) -> Result<()> {
        let Some(unit) = &self.systemd else {
            return Ok(());
        };
        let props = systemd::resource_properties(r)?;
        if props.is_empty() {
            return Ok(());
        }
        systemd::Bus::connect(unit.user)?.set(unit, &props)
    }

    /// Whether the directories are this container's: always for cgroupfs;
    /// for systemd once its scope was started (before, or when the unit
    /// name was in use, they may be another container's).
    pub fn owned(&self) -> bool {
        self.systemd.as_ref().is_none_or(|u| u.started)
    }

    /// systemd driver: stop the scope (systemd removes its cgroup). A bus
    /// that is not there is fine only if the scope's cgroup is not either.
    fn stop_unit(&self) -> Result<()> {
        let Some(unit) = self.systemd.as_ref().filter(|u| u.started) else {
            return Ok(());
        };
        match systemd::Bus::connect(unit.user) {
            Ok(bus) => bus.stop(unit),
            Err(_) if !self.hier.iter().any(|h| h.dir.exists()) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub fn is_v2_only(&self) -> bool {
        !self.hier.is_empty() && self.hier.iter().all(|h| h.v2)
    }

    fn find(&self, ctrl: &str) -> Option<&Hier> {
        self.hier
            .iter()
            .find(|h| !h.v2 && h.controllers.iter().any(|c| c == ctrl))
            .or_else(|| {
                self.hier
                    .iter()
                    .find(|h| h.v2 && h.controllers.iter().any(|c| c == ctrl))
            })
    }

    /// Make the directories (recording which ones we made).
    /// Directories `create` will make (parents first). The caller records
    /// them in the state before calling `create`, so a runtime killed in
    /// the middle leaves nothing `delete --force` does not know about.
    pub fn missing_dirs(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for h in &self.hier {
            let rel = h.dir.strip_prefix(&h.mount).unwrap_or(Path::new(""));
            let mut cur = h.mount.clone();
            for c in rel.components() {
                cur.push(c);
                if !cur.is_dir() && !out.contains(&cur) {
                    out.push(cur.clone());
                }
            }
        }
        out
    }

    pub fn create(&mut self) -> Result<()> {
        let pure_v2 = self.is_v2_only();
        for h in self.hier.clone() {
            let rel = h
                .dir
                .strip_prefix(&h.mount)
                .unwrap_or(Path::new(""))
                .to_path_buf();
            let mut cur = h.mount.clone();
            for c in rel.components() {
                let parent = cur.clone();
                cur.push(c);
                if cur.is_dir() {
                    continue;
                }
                if h.v2 && pure_v2 {
                    // Delegate the available controllers down the path.
                    // Not on hybrid hosts: the unified hierarchy's root
                    // belongs to the host, and enabling a controller there
                    // changes it for everyone (and breaks crun).
                    let avail = std::fs::read_to_string(parent.join("cgroup.controllers"))
                        .unwrap_or_default();
                    let want: Vec<String> =
                        avail.split_whitespace().map(|c| format!("+{c}")).collect();
                    if !want.is_empty() {
                        let _ =
                            std::fs::write(parent.join("cgroup.subtree_control"), want.join(" "));
                    }
                }
                match std::fs::create_dir(&cur) {
                    Ok(()) => {
                        if !self.created.contains(&cur) {
                            self.created.push(cur.clone());
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(cg_err(&cur, format!("mkdir: {e}"))),
                }
                if !h.v2 && h.controllers.iter().any(|c| c == "cpuset") {
                    // A new v1 cpuset is empty; inherit the parent's sets.
                    for f in ["cpuset.cpus", "cpuset.mems"] {
                        let v = std::fs::read_to_string(parent.join(f)).unwrap_or_default();
                        let _ = std::fs::write(cur.join(f), v.trim());
                    }
                }
            }
        }
        Ok(())
    }

    /// Put a process into every hierarchy.
    pub fn add(&self, pid: i32) -> Result<()> {
        for h in &self.hier {
            let p = h.dir.join("cgroup.procs");
            std::fs::write(&p, pid.to_string())
                .map_err(|e| cg_err(&p, format!("add pid {pid}: {e}")))?;
        }
        Ok(())
    }

    /// What the planner needs to know about this host.
    pub fn layout(&self) -> plan::Layout {
        let v1: Vec<String> = self
            .hier
            .iter()
            .filter(|h| !h.v2)
            .flat_map(|h| h.controllers.iter().cloned())
            .collect();
        let bfq = self
            .find("blkio")
            .is_some_and(|h| !h.v2 && !h.dir.join("blkio.weight").exists());
        plan::Layout {
            v2_only: self.is_v2_only(),
            v1,
            unified: self
                .hier
                .iter()
                .find(|h| h.v2)
                .map(|h| h.controllers.clone()),
            bfq,
        }
    }

    /// The directory of a plan's write: a v1 controller's, or the cgroup2 one.
    fn dir_for(&self, ctrl: &str) -> Option<&Path> {
        let h = if ctrl == plan::UNIFIED {
            self.hier.iter().find(|h| h.v2)
        } else {
            self.hier
                .iter()
                .find(|h| !h.v2 && h.controllers.iter().any(|c| c == ctrl))
        };
        h.map(|h| h.dir.as_path())
    }

    /// Write `linux.resources`: the plan ([`plan::plan`]), applied to the
    /// cgroupfs directories (the cgroupfs manager, v1, hybrid and v2).
    pub fn apply(&self, r: &LinuxResources) -> Result<()> {
        let p = plan::plan(r, &self.layout())?;
        let mut failed = false;
        for w in &p.writes {
            let dir = self.dir_for(w.ctrl).ok_or_else(|| {
                Error::unsupported(&w.field, format!("no cgroup directory for {}", w.file))
            })?;
            match w.when {
                plan::When::Always => write(dir, &w.file, &w.value, &w.field)?,
                plan::When::MayFail => failed = write(dir, &w.file, &w.value, &w.field).is_err(),
                plan::When::Retry if failed => {
                    failed = false;
                    write(dir, &w.file, &w.value, &w.field)?
                }
                plan::When::Retry => {}
            }
        }
        if let Some(d) = p.devices {
            if let Some(dir) = self.dir_for(plan::UNIFIED) {
                let r =
                    crate::devices_bpf::attach(dir, &d.rules, crate::devices_bpf::DEFAULT_ALLOWED);
                if d.required {
                    r?;
                }
            }
        }
        Ok(())
    }

    /// Whether the container's cgroup is frozen.
    pub fn is_frozen(&self) -> bool {
        if let Some(h) = self
            .hier
            .iter()
            .find(|h| !h.v2 && h.controllers.iter().any(|c| c == "freezer"))
        {
            return std::fs::read_to_string(h.dir.join("freezer.state"))
                .map(|s| s.trim() == "FROZEN")
                .unwrap_or(false);
        }
        if let Some(h) = self.hier.iter().find(|h| h.v2) {
            return std::fs::read_to_string(h.dir.join("cgroup.freeze"))
                .map(|s| s.trim() == "1")
                .unwrap_or(false);
        }
        false
    }

    /// Freeze or thaw all processes, waiting until the state is reached.
    pub fn freeze(&self, on: bool) -> Result<()> {
        if let Some(h) = self
            .hier
            .iter()
            .find(|h| !h.v2 && h.controllers.iter().any(|c| c == "freezer"))
        {
            let want = if on { "FROZEN" } else { "THAWED" };
            for _ in 0..1000 {
                write(&h.dir, "freezer.state", want, "freezer")?;
                let s = std::fs::read_to_string(h.dir.join("freezer.state")).unwrap_or_default();
                if s.trim() == want {
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            return Err(cg_err(&h.dir, format!("freezer did not reach {want}")));
        }
        if let Some(h) = self.hier.iter().find(|h| h.v2) {
            write(
                &h.dir,
                "cgroup.freeze",
                if on { "1" } else { "0" },
                "freezer",
            )?;
            for _ in 0..1000 {
                let ev = std::fs::read_to_string(h.dir.join("cgroup.events")).unwrap_or_default();
                if ev
                    .lines()
                    .any(|l| l == if on { "frozen 1" } else { "frozen 0" })
                {
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            return Err(cg_err(&h.dir, "cgroup.freeze did not settle"));
        }
        Err(Error::Usage("no freezer cgroup is available".into()))
    }

    /// Pids in the container's cgroup.
    pub fn pids(&self) -> Vec<i32> {
        if !self.owned() {
            return Vec::new();
        }
        let h = self
            .hier
            .iter()
            .find(|h| !h.v2 && h.controllers.iter().any(|c| c == "pids"))
            .or_else(|| self.hier.iter().find(|h| !h.v2))
            .or_else(|| self.hier.first());
        let Some(h) = h else { return Vec::new() };
        let mut v: Vec<i32> = std::fs::read_to_string(h.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        v.sort();
        v
    }

    /// Remove the directories we made (leaf first). Missing ones are fine.
    pub fn destroy(&self) -> Result<()> {
        self.stop_unit()?;
        if !self.owned() {
            return Ok(());
        }
        let mut dirs: Vec<PathBuf> = self.hier.iter().map(|h| h.dir.clone()).collect();
        for c in self.created.iter().rev() {
            if !dirs.contains(c) {
                dirs.push(c.clone());
            }
        }
        // Leaf directories first, then the parents we created.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        let mut last = None;
        for d in dirs {
            let ours = self.created.contains(&d) || self.hier.iter().any(|h| h.dir == d);
            if !ours {
                continue;
            }
            let mut ok = false;
            for _ in 0..200 {
                match std::fs::remove_dir(&d) {
                    Ok(()) => {
                        ok = true;
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        ok = true;
                        break;
                    }
                    // A parent shared with another container: leave it.
                    Err(_) if !self.hier.iter().any(|h| h.dir == d) => {
                        ok = true;
                        break;
                    }
                    Err(e) => {
                        last = Some(cg_err(&d, format!("rmdir: {e}")));
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                }
            }
            if ok {
                continue;
            }
        }
        match last {
            Some(e) if self.hier.iter().any(|h| h.dir.exists()) => Err(e),
            _ => Ok(()),
        }
    }

    /// Mount the container's view of cgroups at `dest` (a `cgroup` entry of
    /// `mounts`). The container's own directories are bind-mounted, so it
    /// never sees its siblings or the host's tree.
    pub fn mount_in_container(
        &self,
        root: &Root,
        dest: &Path,
        target: &OwnedFd,
        flags: MsFlags,
        field: &str,
    ) -> Result<()> {
        let ro = flags.contains(MsFlags::MS_RDONLY);
        let fail = |what: String, e: nix::Error| {
            Error::sys(format!("{field} ({}): {what}", dest.display()), e)
        };
        if self.is_v2_only() {
            return rootfs::bind_into(
                root,
                self.hier[0].dir.to_str().unwrap_or_default(),
                dest,
                ro,
            )
            .map_err(|e| fail("bind cgroup2".into(), e));
        }
        rootfs::mount_fs(
            "tmpfs",
            target,
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("mode=755"),
        )
        .map_err(|e| fail("mount tmpfs".into(), e))?;
        let base = root.resolve(dest).map_err(|e| fail("reopen".into(), e))?;
        for h in &self.hier {
            let name = h
                .mount
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_default();
            let sub = dest.join(&name);
            rootfs::bind_into(root, h.dir.to_str().unwrap_or_default(), &sub, ro)
                .map_err(|e| fail(format!("bind {}", h.dir.display()), e))?;
            // Co-mounted controllers ("cpu,cpuacct") get one link per name.
            let n = name.to_string_lossy();
            if n.contains(',') {
                for c in n.split(',') {
                    rootfs::symlink_in(&base, &n, std::ffi::OsStr::new(c))
                        .map_err(|e| fail(format!("symlink {c}"), e))?;
                }
            }
        }
        if ro {
            let top = root.resolve(dest).map_err(|e| fail("reopen".into(), e))?;
            nix::mount::mount(
                None::<&str>,
                rootfs::fd_path(&top).as_str(),
                None::<&str>,
                MsFlags::MS_REMOUNT
                    | MsFlags::MS_RDONLY
                    | MsFlags::MS_NOSUID
                    | MsFlags::MS_NODEV
                    | MsFlags::MS_NOEXEC,
                Some("mode=755"),
            )
            .map_err(|e| fail("remount tmpfs read-only".into(), e))?;
        }
        Ok(())
    }

    /// How many processes the OOM killer killed in the container's memory
    /// cgroup (v2 `memory.events`, v1 `memory.oom_control`), for `events`.
    pub fn oom_kills(&self) -> u64 {
        let Some(h) = self.find("memory") else {
            return 0;
        };
        let file = if h.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        std::fs::read_to_string(h.dir.join(file))
            .ok()
            .and_then(|t| keyed(&t, "oom_kill"))
            .unwrap_or(0)
    }

    /// A few numbers for `events --stats`.
    pub fn stats(&self) -> serde_json::Value {
        let read = |ctrl: &str, file: &str| -> Option<u64> {
            let h = self
                .find(ctrl)
                .or_else(|| self.hier.iter().find(|h| h.v2))?;
            std::fs::read_to_string(h.dir.join(file))
                .ok()?
                .trim()
                .parse()
                .ok()
        };
        if self.is_v2_only() {
            let cpu_usec = self
                .find("cpu")
                .or_else(|| self.hier.first())
                .and_then(|h| std::fs::read_to_string(h.dir.join("cpu.stat")).ok())
                .and_then(|t| keyed(&t, "usage_usec"))
                .unwrap_or(0);
            serde_json::json!({
                "cpu": {"usage": {"total": cpu_usec * 1000}},
                "memory": {"usage": {"usage": read("memory", "memory.current").unwrap_or(0), "limit": read("memory", "memory.max").unwrap_or(0)}, "oomKill": self.oom_kills()},
                "pids": {"current": read("pids", "pids.current").unwrap_or(0), "limit": read("pids", "pids.max").unwrap_or(0)},
            })
        } else {
            serde_json::json!({
                "cpu": {"usage": {"total": read("cpuacct", "cpuacct.usage").unwrap_or(0)}},
                "memory": {"usage": {"usage": read("memory", "memory.usage_in_bytes").unwrap_or(0), "max": read("memory", "memory.max_usage_in_bytes").unwrap_or(0), "limit": read("memory", "memory.limit_in_bytes").unwrap_or(0), "failcnt": read("memory", "memory.failcnt").unwrap_or(0)}, "oomKill": self.oom_kills()},
                "pids": {"current": read("pids", "pids.current").unwrap_or(0), "limit": read("pids", "pids.max").unwrap_or(0)},
            })
        }
    }
}

/// The value of `key` in a flat keyed file (`key value` lines).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}
