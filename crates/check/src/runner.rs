//! Step 4: run the battery under a runtime and read its report.
//!
//! Each case gets its own bundle, its own state directory (`--root`, inside the check's private
//! work directory, so nothing appears in `/run/runc` or `/run/stockade`) and its own container
//! id; the container is deleted afterwards whatever happened.
//!
//! crun 1.8.1 refuses a hybrid cgroup host (v1 controllers plus `/sys/fs/cgroup/unified`). It is
//! run in a private mount namespace (`unshare -m`, private propagation) in which the unified
//! hierarchy is unmounted, so it sees a plain cgroup v1 host; the host's mounts are untouched.

use crate::locate::which;
use crate::targets::Fixture;
use crate::{io, profile, Case, Error, Options, Profile, Result};
use probe::{Layer, Outcome, ProbeResult};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Annotation of a profile file: `"true"` passes the check's host directory to the container as
/// fd 3 (`--preserve-fds 1`), the shape of a host fd that reaches the container (CVE-2024-21626),
/// so that what stops its use (Landlock) can be tested.
pub const PRESERVE_HOSTDIR_FD: &str = "org.stockade.check.preserve-hostdir-fd";

/// Annotation of a profile file: `"true"` plants the CVE-2025-31133 / CVE-2021-30465 shape in
/// the rootfs: `/dev/null` is a symlink `../../decoy`, which inside the root leads to `/decoy`
/// (a file of the rootfs) and, followed on the host from `<rootfs>/dev`, to `<bundle>/decoy` (a
/// scratch file of the check). `/dev` belongs to the container's root (the config's uid/gid
/// mapping of 0), as in an image whose files are chowned to the mapped range, so the runtime,
/// as container root, can replace entries there. Use it with a config that mounts no tmpfs on
/// `/dev` (the image's `/dev` is then the container's).
pub const DEV_NULL_SYMLINK: &str = "org.stockade.check.dev-null-symlink";

/// Plant [`DEV_NULL_SYMLINK`]'s shape in `bundle`.
fn plant_dev_null_symlink(bundle: &std::path::Path, config: &serde_json::Value) -> Result<()> {
    let rootfs = bundle.join("rootfs");
    std::fs::write(
        bundle.join("decoy"),
        "host-side scratch file of stockade check\n",
    )
    .map_err(io("write the host-side decoy"))?;
    std::fs::write(rootfs.join("decoy"), "decoy inside the root\n")
        .map_err(io("write rootfs/decoy"))?;
    std::os::unix::fs::symlink("../../decoy", rootfs.join("dev/null"))
        .map_err(io("plant rootfs/dev/null"))?;
    let host0 = |k: &str| {
        config["linux"][k]
            .as_array()
            .and_then(|m| m.iter().find(|e| e["containerID"] == 0))
            .and_then(|e| e["hostID"].as_u64())
            .and_then(|v| u32::try_from(v).ok())
    };
    if let (Some(uid), Some(gid)) = (host0("uidMappings"), host0("gidMappings")) {
        std::os::unix::fs::chown(rootfs.join("dev"), Some(uid), Some(gid))
            .map_err(io("chown rootfs/dev"))?;
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// This stockade binary (or the one given).
    Stockade(PathBuf),
    Runc,
    Crun,
    /// gVisor (`runsc`, Debian's package), run with `--network=none`: its sandbox gets its own
    /// network stack with only a loopback (runsc refuses an OCI network namespace without a
    /// path, which only an engine creates).
    Runsc,
    /// Any runc-compatible runtime binary.
    Path(PathBuf),
}

const HYBRID_UNIFIED: &str = "/sys/fs/cgroup/unified";

impl Runtime {
    /// `stockade`, `runc`, `crun`, `runsc`, or a path.
    pub fn parse(s: &str, stockade: PathBuf) -> Runtime {
        match s {
            "stockade" => Runtime::Stockade(stockade),
            "runc" => Runtime::Runc,
            "crun" => Runtime::Crun,
            "runsc" => Runtime::Runsc,
            p => Runtime::Path(PathBuf::from(p)),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Runtime::Stockade(_) => "stockade".into(),
            Runtime::Runc => "runc".into(),
            Runtime::Crun => "crun".into(),
            Runtime::Runsc => "runsc".into(),
            Runtime::Path(p) => p
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string()),
        }
    }

    /// The binary, or an error naming what is missing.
    pub fn binary(&self) -> Result<PathBuf> {
        match self {
            Runtime::Stockade(p) | Runtime::Path(p) => {
                which(&p.to_string_lossy()).ok_or_else(|| Error::NoRuntime(p.display().to_string()))
            }
            Runtime::Runc => which("runc").ok_or_else(|| Error::NoRuntime("runc".into())),
            Runtime::Crun => which("crun").ok_or_else(|| Error::NoRuntime("crun".into())),
            Runtime::Runsc => which("runsc").ok_or_else(|| Error::NoRuntime("runsc".into())),
        }
    }

    /// A command that runs the runtime; crun on a hybrid host in its own mount namespace.
    pub fn command(&self) -> Command {
        let bin = self.binary().unwrap_or_else(|_| PathBuf::from(self.name()));
        if *self == Runtime::Crun && is_mountpoint(HYBRID_UNIFIED) {
            let mut c = Command::new("unshare");
            c.args(["-m", "--propagation", "private", "sh", "-c"])
                .arg(format!(
                    "umount {HYBRID_UNIFIED} 2>/dev/null || umount -l {HYBRID_UNIFIED}; exec \"$0\" \"$@\""
                ))
                .arg(bin);
            c
        } else if *self == Runtime::Runsc {
            let mut c = Command::new(bin);
            c.arg("--network=none");
            c
        } else {
            Command::new(bin)
        }
    }
}

fn is_mountpoint(path: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|m| m.lines().any(|l| l.split(' ').nth(4) == Some(path)))
        .unwrap_or(false)
}

/// Build the bundle for `case`, run the battery in it, delete the container, parse the report.
pub fn run_case(fx: &Fixture, case: &Case, opts: &Options, n: usize) -> Result<Vec<ProbeResult>> {
    let rt = &case.runtime;
    rt.binary()?;
    let (bundle, agent) = fx.bundle(n)?;
    let args = fx.probe_args(&agent, opts.only.as_deref());
    let config = profile::write_config(&case.profile, rt, fx, &bundle, &args)?;
    let pass_fd = config["annotations"][PRESERVE_HOSTDIR_FD].as_str() == Some("true");
    if config["annotations"][DEV_NULL_SYMLINK].as_str() == Some("true") {
        plant_dev_null_symlink(&bundle, &config)?;
    }
    let root = fx.dir.join(format!("state-{n}"));
    std::fs::create_dir_all(&root).map_err(io("create the runtime state directory"))?;
    let id = format!("stockade-check-{}-{n}", std::process::id());
    let mut cmd = rt.command();
    // The docker, privileged and lxcfs profiles measure what the configuration lets through, so
    // stockade's policy gate (which would refuse them at create) is switched off for them,
    // unless the caller chose a policy.
    if matches!(rt, Runtime::Stockade(_))
        && matches!(
            case.profile,
            Profile::Docker | Profile::Privileged | Profile::Lxcfs
        )
        && std::env::var_os("STOCKADE_POLICY").is_none()
    {
        cmd.env("STOCKADE_POLICY", "off");
    }
    // `--privileged` means every layer off, including stockade's Landlock confinement (which
    // would otherwise refuse every mount the privileged escapes make). The runtime reads
    // `landlock = false` from the file named by STOCKADE_RUNTIME_CONFIG; a runtime without
    // Landlock ignores it.
    if matches!(rt, Runtime::Stockade(_))
        && case.profile == Profile::Privileged
        && std::env::var_os("STOCKADE_RUNTIME_CONFIG").is_none()
    {
        let conf = fx.dir.join("runtime-privileged.toml");
        std::fs::write(&conf, "landlock = false\n").map_err(io("write the runtime config"))?;
        cmd.env("STOCKADE_RUNTIME_CONFIG", conf);
    }
    cmd.arg("--root").arg(&root).arg("run");
    // Keep the directory open until the runtime has run.
    let mut _hostdir_fd = None;
    if pass_fd {
        let dir = std::fs::File::open(&fx.hostdir).map_err(io("open the host directory"))?;
        let raw = std::os::fd::AsRawFd::as_raw_fd(&dir);
        _hostdir_fd = Some(dir);
        cmd.args(["--preserve-fds", "1"]);
        // SAFETY: dup2 between fork and exec is async-signal-safe; fd 3 is then inherited
        // without CLOEXEC (dup2 clears it).
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                if libc::dup2(raw, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let out = cmd
        .arg("--bundle")
        .arg(&bundle)
        .arg(&id)
        .stdin(Stdio::null())
        .output();
    drop(_hostdir_fd);
    let _ = rt
        .command()
        .arg("--root")
        .arg(&root)
        .args(["delete", "--force", &id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let out = out.map_err(io(format!("{} run", rt.name())))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    parse_report(&stdout).map_err(|msg| Error::Report {
        runtime: case.label(),
        msg: format!("{msg}; exit {}", out.status),
        output: format!("{}{}", stdout.trim(), stderr.trim()),
    })
}

/// Parse the probe's `--json` document (the first line starting with `{"probe"`).
pub fn parse_report(stdout: &str) -> std::result::Result<Vec<ProbeResult>, String> {
    let start = stdout
        .find("{\"probe\"")
        .ok_or("no JSON report on stdout")?;
    let doc = stdout[start..].lines().next().unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(doc).map_err(|e| format!("bad JSON: {e}"))?;
    let results = v["results"].as_array().ok_or("no results array")?;
    results
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            let detail = s("detail");
            let outcome = match r["result"].as_str().unwrap_or("") {
                "escaped" => Outcome::escaped(detail),
                "exposed" => Outcome::exposed(detail),
                "not-applicable" => Outcome::na(detail),
                "inconclusive" => Outcome::inconclusive(detail),
                "blocked" => Outcome::Blocked {
                    errno: r["errno_code"].as_i64().map(|e| e as i32),
                    layer: r["layer"]
                        .as_str()
                        .and_then(Layer::from_name)
                        .unwrap_or(Layer::Unknown),
                    detail,
                },
                other => return Err(format!("unknown result `{other}`")),
            };
            Ok(ProbeResult {
                id: s("id"),
                eid: s("eid"),
                title: s("title"),
                outcome,
            })
        })
        .collect()
}
