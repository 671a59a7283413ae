//! The state store: one directory per container under `--root`.
//!
//! Layout of `<root>/<id>/`:
//! * `state.json` — [`ContainerState`], written atomically at every change;
//! * `start.sock` — the socket the blocked init listens on until `start`
//!   (`create` only: `run` starts the init over its sync channel, so a
//!   container made by `run` goes from "creating" straight to "running").
//!
//! The directory itself is `flock`ed for the duration of every command that
//! reads or changes the container, so concurrent `start`/`kill`/`delete` calls
//! on the same id serialise. A `create` that is killed half-way leaves a
//! `state.json` with whatever it had made (pid, cgroups), so `delete --force`
//! can remove it all.

use crate::cgroups::Cgroup;
use crate::error::{Error, Result, SysContext};
use crate::util;
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Status of a container, as the OCI runtime spec names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What we remember about a container between commands.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// Host pid of the container's init, 0 while it does not exist yet.
    pub pid: i32,
    /// Start time of `pid` (clock ticks), to detect pid reuse.
    pub pid_start: u64,
    pub created: String,
    pub owner: String,
    /// Cgroup directories we made (or joined) for the container.
    pub cgroup: Cgroup,
    /// Whether the container has its own pid namespace (killing pid 1 kills all).
    pub own_pid_ns: bool,
    /// Set once the init reported READY (create finished).
    pub ready: bool,
    /// The config the container was created from.
    pub spec: Spec,
    /// The policy `create` was given (`--policy`, STOCKADE_POLICY or
    /// runtime.toml), when one was: an `exec` that names none is judged
    /// under it. Absent for the default policy (and in older state files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

impl ContainerState {
    /// The status, derived from the live system, never trusted from disk.
    pub fn status_in(&self, dir: &Path) -> Status {
        if self.pid <= 0 {
            return Status::Creating;
        }
        match util::proc_start_time(self.pid) {
            Some((start, zombie)) if start == self.pid_start && !zombie => {}
            _ => return Status::Stopped,
        }
        if !self.ready {
            return Status::Creating;
        }
        if dir.join("start.sock").exists() {
            return Status::Created;
        }
        if self.cgroup.is_frozen() {
            return Status::Paused;
        }
        Status::Running
    }

    /// The runc-compatible `state` document.
    pub fn to_json(&self, status: Status) -> serde_json::Value {
        let mut v = serde_json::json!({
            "ociVersion": self.spec.version(),
            "id": self.id,
            "pid": if status == Status::Stopped { 0 } else { self.pid },
            "status": status.to_string(),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        });
        if let Some(a) = self.annotations() {
            v["annotations"] = serde_json::to_value(a).unwrap_or_default();
        }
        v
    }

    /// The OCI state given to hooks on stdin.
    pub fn hook_state(&self, status: Status) -> String {
        let mut v = serde_json::json!({
            "ociVersion": self.spec.version(),
            "id": self.id,
            "status": status.to_string(),
            "pid": self.pid,
            "bundle": self.bundle,
        });
        if let Some(a) = self.annotations() {
            v["annotations"] = serde_json::to_value(a).unwrap_or_default();
        }
        v.to_string()
    }

    fn annotations(&self) -> Option<&HashMap<String, String>> {
        self.spec.annotations().as_ref().filter(|a| !a.is_empty())
    }
}

/// Make `dir` and its missing parents, each mode 0700 whatever the umask.
/// Directories that exist already are left as they are.
pub fn make_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        make_private_dir(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(dir, e)),
        // Made meanwhile by a concurrent command.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// The `--root` directory.
pub struct Store {
    root: PathBuf,
}

/// A locked container directory. The lock is released when this is dropped.
pub struct Locked {
    pub id: String,
    pub dir: PathBuf,
    _lock: File,
}

impl Store {
    /// Open the root, making it (and missing parents) mode 0700 whatever
    /// the umask, like runc. An existing directory keeps its mode: `--root`
    /// may name a directory that is not only ours. What the runtime reads
    /// back from it that another user could have written (the seccomp
    /// cache) is checked for owner and mode before use (seccomp.rs).
    pub fn new(root: &Path) -> Result<Self> {
        make_private_dir(root)?;
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn check_id(id: &str) -> Result<()> {
        if util::valid_id(id) {
            Ok(())
        } else {
            Err(Error::InvalidId(id.to_string()))
        }
    }

    /// Make the directory for a new container and lock it.
    pub fn create(&self, id: &str) -> Result<Locked> {
        Self::check_id(id)?;
        let dir = self.root.join(id);
        use std::os::unix::fs::DirBuilderExt;
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            // The mode, whatever the umask (000 keeps 0700, 077 too; 777
            // would leave 000, unusable for a rootless runtime).
            Ok(()) => {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| Error::io(&dir, e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Exists(id.to_string()))
            }
            Err(e) => return Err(Error::io(&dir, e)),
        }
        Self::lock_dir(id, dir)
    }

    /// Lock an existing container's directory.
    pub fn open(&self, id: &str) -> Result<Locked> {
        Self::check_id(id)?;
        let dir = self.root.join(id);
        if !dir.is_dir() {
            return Err(Error::NotFound(id.to_string()));
        }
        Self::lock_dir(id, dir)
    }

    fn lock_dir(id: &str, dir: PathBuf) -> Result<Locked> {
        let f = File::open(&dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(id.to_string()),
            _ => Error::io(&dir, e),
        })?;
        // SAFETY: flock on a valid fd we own; no memory is involved.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        nix::errno::Errno::result(rc).ctx(|| format!("lock {}", dir.display()))?;
        // The directory may have been deleted while we waited for the lock.
        if !dir.is_dir() {
            return Err(Error::NotFound(id.to_string()));
        }
        Ok(Locked {
            id: id.to_string(),
            dir,
            _lock: f,
        })
    }

    /// Ids of all containers, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let rd = std::fs::read_dir(&self.root).map_err(|e| Error::io(&self.root, e))?;
        for e in rd.flatten() {
            if e.path().join("state.json").exists() {
                if let Some(s) = e.file_name().to_str() {
                    ids.push(s.to_string());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }
}

impl Locked {
    /// The lock's fd (children must close it).
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        self._lock.as_raw_fd()
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    pub fn load(&self) -> Result<ContainerState> {
        let p = self.state_path();
        let data = std::fs::read(&p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(self.id.clone()),
            _ => Error::io(&p, e),
        })?;
        serde_json::from_slice(&data).map_err(|e| Error::Config {
            path: p,
            msg: format!("corrupt state: {e}"),
        })
    }

    pub fn save(&self, st: &ContainerState) -> Result<()> {
        let p = self.state_path();
        let data = serde_json::to_vec(st).map_err(|e| Error::Config {
            path: p.clone(),
            msg: e.to_string(),
        })?;
        util::write_atomic(&p, &data, 0o600).map_err(|e| Error::io(&p, e))
    }

    /// Remove the directory and everything in it.
    pub fn remove(self) -> Result<()> {
        std::fs::remove_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))
    }
}
