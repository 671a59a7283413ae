//! Enforcement tiers, attached per container.
//!
//! (b) cgroup BPF: `cgroup/dev` and `cgroup/sysctl` programs attached (as
//!     bpf links, so other programs on the cgroup stay) to the container's cgroup2 directory.
//!     runc in hybrid mode already puts each container in its own cgroup2 directory
//!     (`/sys/fs/cgroup/unified/<id>`); when a container sits in the cgroup2 root (an engine that
//!     only manages v1 controllers), its processes are moved into a new directory
//!     `<cgroup2>/stockade-watch/<runtime>-<id>` first. v1 `devices` cannot run BPF, so the device
//!     program works beside the v1 device controller: both must allow an access.
//! (a) BPF-LSM, when the probe allows it: the container's cgroup2 id goes into `target_cgroups`,
//!     which the LSM programs check with an ancestor walk.
//! (c) reactive: the sensor kills the task (`bpf_send_signal(SIGKILL)`) for the kinds in the kill
//!     mask, only in the mount namespaces marked enforced. Rare socket families are here:
//!     `cgroup/sock_create` would look right but the kernel runs it only for AF_INET/AF_INET6.

use crate::attrib::Container;
use crate::bpf_enforce::{EnforceSkel, EnforceSkelBuilder};
use crate::bpf_lsm::{LsmSkel, LsmSkelBuilder};
use crate::Error;
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags};
use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub struct Enforcer {
    pub cg: EnforceSkel<'static>,
    pub lsm: Option<(LsmSkel<'static>, Vec<Link>)>,
    cgroup2: PathBuf,
    /// container key -> (cgroup2 dir, links)
    attached: HashMap<String, (PathBuf, Vec<Link>)>,
    /// cgroup2 id -> container, for attributing denials
    pub by_cgroup: HashMap<u64, Container>,
}

fn cgroup_lines(pid: u32) -> Vec<(String, String)> {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _ = it.next()?;
            Some((it.next()?.to_string(), it.next()?.to_string()))
        })
        .collect()
}

impl Enforcer {
    /// Loads the cgroup programs, and with `want_lsm` the BPF-LSM ones; the second value says
    /// why BPF-LSM is not in use when it was wanted.
    pub fn load(cgroup2: PathBuf, want_lsm: bool) -> Result<(Enforcer, Option<Error>), Error> {
        let storage = Box::leak(Box::new(MaybeUninit::uninit()));
        let cg = EnforceSkelBuilder::default()
            .open(storage)
            .and_then(|o| o.load())
            .map_err(Error::bpf("cgroup programs"))?;
        let mut lsm_err = None;
        let lsm = if want_lsm {
            let storage = Box::leak(Box::new(MaybeUninit::uninit()));
            match LsmSkelBuilder::default()
                .open(storage)
                .and_then(|o| o.load())
            {
                Ok(mut skel) => {
                    let mut links = Vec::new();
                    for p in skel.object_mut().progs_mut() {
                        match p.attach() {
                            Ok(l) => links.push(l),
                            Err(e) => {
                                lsm_err = Some(Error::bpf(format!("attach {:?}", p.name()))(e))
                            }
                        }
                    }
                    Some((skel, links))
                }
                Err(e) => {
                    lsm_err = Some(Error::bpf("BPF-LSM load")(e));
                    None
                }
            }
        } else {
            None
        };
        Ok((
            Enforcer {
                cg,
                lsm,
                cgroup2,
                attached: HashMap::new(),
                by_cgroup: HashMap::new(),
            },
            lsm_err,
        ))
    }

    /// Denial records the enforcement programs could not report (their ring buffer was full;
    /// the denial still happened), and BPF-LSM program runs the kernel skipped (recursion).
    pub fn lost(&self) -> (u64, u64) {
        let mut drops = self.cg.maps.bss_data.as_deref().map_or(0, |b| b.deny_drops);
        let mut missed = 0;
        if let Some((lsm, _)) = &self.lsm {
            drops += lsm.maps.bss_data.as_deref().map_or(0, |b| b.deny_drops);
            missed = lsm
                .object()
                .progs()
                .filter_map(|p| crate::sensor::recursion_misses(p.as_fd()))
                .sum();
        }
        (drops, missed)
    }

    pub fn is_enforced(&self, c: &Container) -> bool {
        self.attached.contains_key(&key(c))
    }

    pub fn count(&self) -> usize {
        self.attached.len()
    }

    /// Finds or makes the container's cgroup2 directory (moving its processes when it sits in the
    /// root) and attaches the programs. Returns the directory.
    pub fn add(&mut self, c: &Container, pid: u32) -> Result<(PathBuf, u64), Error> {
        if let Some((dir, _)) = self.attached.get(&key(c)) {
            let id = std::fs::metadata(dir).map(|m| m.ino()).unwrap_or(0);
            return Ok((dir.clone(), id));
        }
        let lines = cgroup_lines(pid);
        if lines.is_empty() {
            return Err(Error::PidGone(pid));
        }
        let v2 = lines
            .iter()
            .find(|(ctrl, _)| ctrl.is_empty())
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| "/".into());
        let dir = if v2 != "/" {
            self.cgroup2.join(v2.trim_start_matches('/'))
        } else {
            let dir = self
                .cgroup2
                .join("stockade-watch")
                .join(format!("{}-{}", c.runtime, c.id));
            std::fs::create_dir_all(&dir).map_err(Error::io("mkdir", &dir))?;
            self.move_processes(&lines, pid, &dir)?;
            dir
        };
        let f = std::fs::File::open(&dir).map_err(Error::io("open", &dir))?;
        let fd = f.as_raw_fd();
        let mut links = Vec::new();
        for p in self.cg.object_mut().progs_mut() {
            let l = p.attach_cgroup(fd).map_err(Error::bpf(format!(
                "attach {:?} to {}",
                p.name(),
                dir.display()
            )))?;
            links.push(l);
        }
        let id = std::fs::metadata(&dir).map(|m| m.ino()).unwrap_or(0);
        if let Some((lsm, _)) = &self.lsm {
            lsm.maps
                .target_cgroups
                .update(&id.to_ne_bytes(), &1u32.to_ne_bytes(), MapFlags::ANY)
                .map_err(Error::bpf("target_cgroups"))?;
        }
        self.by_cgroup.insert(id, c.clone());
        self.attached.insert(key(c), (dir.clone(), links));
        Ok((dir, id))
    }

    /// Confines a cgroup2 directory given by the operator (`--cgroup`).
    pub fn add_dir(&mut self, c: &Container, dir: &Path) -> Result<u64, Error> {
        let f = std::fs::File::open(dir).map_err(Error::io("open", dir))?;
        let fd = f.as_raw_fd();
        let mut links = Vec::new();
        for p in self.cg.object_mut().progs_mut() {
            links.push(p.attach_cgroup(fd).map_err(Error::bpf(format!(
                "attach {:?} to {}",
                p.name(),
                dir.display()
            )))?);
        }
        let id = std::fs::metadata(dir).map(|m| m.ino()).unwrap_or(0);
        if let Some((lsm, _)) = &self.lsm {
            lsm.maps
                .target_cgroups
                .update(&id.to_ne_bytes(), &1u32.to_ne_bytes(), MapFlags::ANY)
                .map_err(Error::bpf("target_cgroups"))?;
        }
        self.by_cgroup.insert(id, c.clone());
        self.attached.insert(key(c), (dir.to_path_buf(), links));
        Ok(id)
    }

    /// Moves every process of the container's v1 `pids` cgroup (or just `pid`) into `dir`.
    fn move_processes(
        &self,
        lines: &[(String, String)],
        pid: u32,
        dir: &Path,
    ) -> Result<(), Error> {
        let v1 = lines
            .iter()
            .find(|(ctrl, _)| ctrl.split(',').any(|c| c == "pids"))
            .map(|(_, p)| PathBuf::from("/sys/fs/cgroup/pids").join(p.trim_start_matches('/')));
        let procs = dir.join("cgroup.procs");
        // two passes: a process forked during the first pass is caught by the second
        for _ in 0..2 {
            let pids: Vec<String> = match &v1 {
                Some(p) if p != Path::new("/sys/fs/cgroup/pids") => {
                    std::fs::read_to_string(p.join("cgroup.procs"))
                        .unwrap_or_default()
                        .lines()
                        .map(str::to_string)
                        .collect()
                }
                _ => vec![pid.to_string()],
            };
            for p in pids {
                // a process may exit meanwhile: ignore ESRCH
                let _ = std::fs::write(&procs, p);
            }
        }
        Ok(())
    }

    /// Detaches from containers whose cgroup2 directory is gone.
    pub fn prune(&mut self) {
        self.attached.retain(|_, (dir, _)| dir.exists());
    }
}

fn key(c: &Container) -> String {
    format!("{}/{}", c.runtime, c.id)
}
