//! `container:ID`: a running container, found through the runtime state of stockade
//! (`<root>/<id>/state.json`), runc or crun (`<root>/<id>/state.json`) or podman
//! (`podman container inspect`), and read through `/proc/PID/root` of its init process.
//!
//! The init's pid is checked against its start time (recorded by stockade and runc) before and
//! after `/proc/PID` is opened, so a pid reused by another process is never read. The root is
//! then walked from its descriptor ([`super::rootfs`]); what the runtime says the container runs
//! with (environment, working directory, user) becomes the image config the checks read.

use super::source::{ImageConfig, RunConfig};
use super::ImageError;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;
use serde_json::Value;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A running container found by id.
#[derive(Debug)]
pub struct Found {
    /// `stockade`, `runc` or `podman`.
    pub runtime: &'static str,
    /// Where it was found (the state file, or `podman container inspect`).
    pub via: String,
    pub pid: i32,
    /// The init's start time (clock ticks after boot), when the runtime recorded it.
    pub start: Option<u64>,
    pub config: ImageConfig,
}

/// The state directories searched besides those given: stockade's (`$STOCKADE_STATE_DIR`,
/// `/run/stockade`), runc's and crun's (`/run/runc`, `/run/crun`, containerd's
/// `/run/containerd/runc/*`).
pub fn default_roots() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(d) = std::env::var_os("STOCKADE_STATE_DIR") {
        v.push(PathBuf::from(d));
    }
    for d in ["/run/stockade", "/run/runc", "/run/crun"] {
        v.push(PathBuf::from(d));
    }
    if let Ok(rd) = std::fs::read_dir("/run/containerd/runc") {
        let mut ns: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        ns.sort();
        v.extend(ns);
    }
    v
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+:@".contains(&b))
}

/// Find container `id` in `roots` (state directories, searched in order), then through podman.
pub fn find(id: &str, roots: &[PathBuf]) -> Result<Found, ImageError> {
    let image = format!("container:{id}");
    if !valid_id(id) {
        return Err(ImageError::Invalid {
            image,
            what: "id".into(),
            reason: "not a container id (letters, digits and - _ . + : @)".into(),
        });
    }
    let mut searched = Vec::new();
    for root in roots {
        let state = root.join(id).join("state.json");
        searched.push(root.display().to_string());
        let bytes = match std::fs::read(&state) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => continue,
            Err(e) => return Err(ImageError::io(&state, e)),
        };
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| ImageError::Invalid {
            image: image.clone(),
            what: state.display().to_string(),
            reason: format!("not a runtime state file: {e}"),
        })?;
        return from_state(&image, &state, &v);
    }
    match podman_inspect(id) {
        Some(Ok(f)) => Ok(f),
        Some(Err(e)) => Err(ImageError::Invalid {
            image,
            what: "podman container inspect".into(),
            reason: e,
        }),
        None => Err(ImageError::Invalid {
            image,
            what: "id".into(),
            reason: format!(
                "no container with this id in the state of stockade or runc ({}) nor in podman's; name a running container (`stockade list`, `runc list`, `podman ps`), give its state directory with --state-root, or scan its root filesystem with dir:",
                searched.join(", ")
            ),
        }),
    }
}

/// A stockade state (`pid`, `pid_start`, `spec`) or a runc/crun one (`init_process_pid`,
/// `init_process_start`, a `bundle=` label naming the bundle with its `config.json`).
fn from_state(image: &str, state: &Path, v: &Value) -> Result<Found, ImageError> {
    let bad = |reason: &str| ImageError::Invalid {
        image: image.to_string(),
        what: state.display().to_string(),
        reason: reason.to_string(),
    };
    if let Some(pid) = v.get("pid").and_then(Value::as_i64) {
        let start = v.get("pid_start").and_then(Value::as_u64);
        return Ok(Found {
            runtime: "stockade",
            via: state.display().to_string(),
            pid: i32::try_from(pid).map_err(|_| bad("pid out of range"))?,
            start,
            config: v.get("spec").map(spec_config).unwrap_or_default(),
        });
    }
    if let Some(pid) = v.get("init_process_pid").and_then(Value::as_i64) {
        let start = v.get("init_process_start").and_then(Value::as_u64);
        // The OCI config of the bundle, when the state names it and it can be read.
        let config = v["config"]["labels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find_map(|l| l.strip_prefix("bundle="))
            .and_then(|b| std::fs::read(Path::new(b).join("config.json")).ok())
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .map(|s| spec_config(&s))
            .unwrap_or_default();
        return Ok(Found {
            runtime: "runc",
            via: state.display().to_string(),
            pid: i32::try_from(pid).map_err(|_| bad("pid out of range"))?,
            start,
            config,
        });
    }
    Err(bad(
        "neither stockade's (pid) nor runc's (init_process_pid) state format",
    ))
}

/// An OCI runtime spec's process as the image config fields the checks read.
fn spec_config(spec: &Value) -> ImageConfig {
    let p = &spec["process"];
    let env = p["env"].as_array().map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    });
    ImageConfig {
        config: Some(RunConfig {
            env,
            working_dir: p["cwd"].as_str().map(str::to_string),
            user: p["user"]["uid"].as_u64().map(|u| u.to_string()),
            ..RunConfig::default()
        }),
        ..ImageConfig::default()
    }
}

/// `podman container inspect ID` (its own store and settings from the environment:
/// `CONTAINERS_STORAGE_CONF`, `CONTAINERS_CONF`). `None` when podman is not installed or does
/// not know the id.
fn podman_inspect(id: &str) -> Option<Result<Found, String>> {
    let mut child = Command::new("podman")
        .args(["container", "inspect", "--format", "json", "--", id])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut out = Vec::new();
    let mut stdout = child.stdout.take()?;
    // Bounded: an inspect of one container is a few KiB.
    let read = stdout.by_ref().take(16 << 20).read_to_end(&mut out);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    if read.is_err() || !status.is_some_and(|s| s.success()) {
        return None;
    }
    let v: Value = match serde_json::from_slice(&out) {
        Ok(v) => v,
        Err(e) => return Some(Err(format!("undecodable output: {e}"))),
    };
    let c = &v[0];
    if !c["State"]["Running"].as_bool().unwrap_or(false) {
        return Some(Err(format!(
            "the container is {} (it must be running to be read through /proc/PID/root)",
            c["State"]["Status"].as_str().unwrap_or("not running")
        )));
    }
    let pid = c["State"]["Pid"].as_i64().filter(|p| *p > 0)?;
    let cfg = &c["Config"];
    let env = cfg["Env"].as_array().map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    });
    Some(Ok(Found {
        runtime: "podman",
        via: "podman container inspect".into(),
        pid: i32::try_from(pid).ok()?,
        start: None,
        config: ImageConfig {
            config: Some(RunConfig {
                env,
                working_dir: cfg["WorkingDir"].as_str().map(str::to_string),
                user: cfg["User"]
                    .as_str()
                    .filter(|u| !u.is_empty())
                    .map(str::to_string),
                labels: serde_json::from_value(cfg["Labels"].clone()).ok(),
                ..RunConfig::default()
            }),
            ..ImageConfig::default()
        },
    }))
}

/// The start time of the process whose `/proc/PID` directory is `proc`.
fn start_time(proc: &OwnedFd) -> Option<u64> {
    let fd = openat(
        proc.as_fd(),
        "stat",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s).ok()?;
    let rest = s.get(s.rfind(')')? + 2..)?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Open the container's root: `/proc/PID/root` of its init, checked to be the process the
/// runtime recorded (its start time) before and after.
pub fn open_root(id: &str, f: &Found) -> Result<OwnedFd, ImageError> {
    let image = format!("container:{id}");
    let gone = |why: String| ImageError::Invalid {
        image: image.clone(),
        what: format!("pid {} ({})", f.pid, f.via),
        reason: why,
    };
    if f.pid <= 0 {
        return Err(gone("the container has no running process".into()));
    }
    let procdir = format!("/proc/{}", f.pid);
    let proc = nix::fcntl::open(
        Path::new(&procdir),
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|_| gone("the process is gone: the container is not running".into()))?;
    let check = |when: &str| -> Result<(), ImageError> {
        match (f.start, start_time(&proc)) {
            (_, None) => Err(gone(format!("the process is gone ({when})"))),
            (Some(want), Some(got)) if want != got => Err(gone(format!(
                "pid {} is another process now (started at {got}, the container's at {want}): the container is not running",
                f.pid
            ))),
            _ => Ok(()),
        }
    };
    check("before opening its root")?;
    let root = openat(
        proc.as_fd(),
        "root",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ImageError::io(Path::new(&format!("{procdir}/root")), e.into()))?;
    check("after opening its root")?;
    Ok(root)
}
