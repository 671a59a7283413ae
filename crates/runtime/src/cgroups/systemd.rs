//! The systemd cgroup driver (`--systemd-cgroup`), the way runc's is: the
//! container's cgroup is a transient scope that systemd makes and owns,
//! asked for over D-Bus (zbus), and the resources go on the unit as its
//! properties so systemd keeps them; what systemd has no property for is
//! then written to the scope's cgroup files by the cgroupfs manager
//! (`mod.rs`, the same [`super::plan`]).
//!
//! `cgroupsPath` is runc's `slice:prefix:name`: the unit is
//! `<prefix>-<name>.scope` in `slice` (default `system.slice`, rootless
//! `user.slice`), and an empty path means `:stockade:<id>`. A nested slice
//! `a-b.slice` lives at `a.slice/a-b.slice`. A slice that does not exist is
//! made by systemd on demand, as for runc (kubelet's and containerd's
//! `cgroup_parent` slices rely on it); a malformed one is refused here.
//!
//! Root talks to the system bus, a rootless caller to its user manager's bus
//! (`$DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`), authenticated
//! as its uid on the host (rootless podman runs us as root of a user
//! namespace, and the bus knows only the outer uid).
//!
//! Every call is bounded ([`TIMEOUT`]); a systemd that is not there is one
//! error that names D-Bus and says how to proceed.

use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;
use zbus::zvariant::{OwnedObjectPath, Value};

/// The unit of a container, recorded in its state so `delete`, `update`
/// and the others use the same driver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// `<prefix>-<name>.scope`.
    pub name: String,
    /// The slice it is in, e.g. `system.slice`.
    pub slice: String,
    /// On the caller's user bus (rootless), not the system bus.
    #[serde(default)]
    pub user: bool,
    /// systemd made it for us: only then do we stop it (a name already in
    /// use is another container's unit).
    #[serde(default)]
    pub started: bool,
}

/// How long one D-Bus call, or one systemd job, may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The prefix of the unit when `cgroupsPath` is empty (runc's is `runc`).
pub const DEFAULT_PREFIX: &str = "stockade";

const FIELD: &str = "linux.cgroupsPath";
const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

fn bad(path: &str, msg: impl std::fmt::Display) -> Error {
    Error::field(
        FIELD,
        format!(
            "{path:?} {msg}; with --systemd-cgroup it is \"slice:prefix:name\" \
             (e.g. \"system.slice:stockade:web\"), or empty for \"system.slice:stockade:<id>\""
        ),
    )
}

/// The unit for `cgroupsPath` (runc's form `slice:prefix:name`) and
/// container `id`. Pure: no systemd needed.
pub fn parse(cgroups_path: Option<&str>, id: &str, rootless: bool) -> Result<Unit> {
    let raw = cgroups_path.unwrap_or("");
    let (slice, prefix, name) = if raw.is_empty() {
        ("", DEFAULT_PREFIX, id)
    } else {
        let parts: Vec<&str> = raw.split(':').collect();
        if parts.len() != 3 {
            return Err(bad(
                raw,
                format!("has {} part(s), not 3 separated by ':'", parts.len()),
            ));
        }
        (parts[0], parts[1], parts[2])
    };
    if name.is_empty() {
        return Err(bad(raw, "has an empty name (the part after the last ':')"));
    }
    if name.ends_with(".slice") {
        return Err(bad(
            raw,
            "names a slice as the container's unit; stockade makes a scope: give a name without .slice",
        ));
    }
    let unit_name = if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    // systemd's unit name rules: [A-Za-z0-9:_.\\-], at most 255 bytes.
    let ok = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_.\\-@".contains(&b))
    };
    if !ok(prefix) || !ok(name) || unit_name.len() > 255 || prefix.contains('@') {
        return Err(bad(
            raw,
            format!("makes the unit name {unit_name:?}, which systemd refuses (letters, digits, ':', '_', '.', '-' and '\\', at most 255 bytes)"),
        ));
    }
    let slice = match slice {
        "" if rootless => "user.slice",
        "" => "system.slice",
        s => s,
    };
    expand_slice(slice).map_err(|m| bad(raw, m))?;
    Ok(Unit {
        name: unit_name,
        slice: slice.to_string(),
        user: rootless,
        started: false,
    })
}

/// The cgroup path of slice `s` below its manager's cgroup:
/// `a-b.slice` is `/a.slice/a-b.slice`, `-.slice` is `/`.
pub fn expand_slice(s: &str) -> std::result::Result<String, String> {
    let Some(stem) = s.strip_suffix(".slice") else {
        return Err(format!("has the slice {s:?}, which does not end in .slice"));
    };
    if s.contains('/') {
        return Err(format!(
            "has the slice {s:?}; a slice has no '/': nest slices with '-' (a-b.slice is in a.slice)"
        ));
    }
    if stem == "-" {
        return Ok("/".into());
    }
    if stem.is_empty()
        || !stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_.\\-".contains(&b))
    {
        return Err(format!(
            "has the slice {s:?}, which is not a valid slice name"
        ));
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if part.is_empty() {
            return Err(format!(
                "has the slice {s:?}, with an empty part between '-' (\"a--b\", \"-a\" and \"a-\" are not slices)"
            ));
        }
        path.push('/');
        path.push_str(&prefix);
        path.push_str(part);
        path.push_str(".slice");
        prefix.push_str(part);
        prefix.push('-');
    }
    Ok(path)
}

/// The cgroup of `unit` relative to a hierarchy's root, below the manager's
/// own cgroup (`/` for the system manager).
pub fn cgroup_of(unit: &Unit, manager_cgroup: &str) -> Result<PathBuf> {
    let slice = expand_slice(&unit.slice).map_err(|m| bad(&unit.slice, m))?;
    Ok(Path::new("/")
        .join(manager_cgroup.trim_start_matches('/'))
        .join(slice.trim_start_matches('/'))
        .join(&unit.name))
}

/// The cgroup of the caller's user manager (`.../user@UID.service`), read
/// from our own cgroup: a rootless runtime runs below it.
pub fn user_manager_cgroup() -> Result<String> {
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| Error::io("/proc/self/cgroup", e))?;
    let path = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("");
    let mut out = String::new();
    for c in path.split('/').filter(|c| !c.is_empty()) {
        out.push('/');
        out.push_str(c);
        if c.starts_with("user@") && c.ends_with(".service") {
            return Ok(out);
        }
    }
    Err(Error::Systemd(format!(
        "a rootless caller must run below its systemd user manager (user@UID.service), \
         but this process is in the cgroup {path:?}; run it from a login session or \
         `systemd-run --user --scope`, or drop --systemd-cgroup"
    )))
}

/// A unit property, typed as systemd wants it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prop {
    U64(u64),
    Bool(bool),
    Str(String),
    Bytes(Vec<u8>),
    U32s(Vec<u32>),
}

impl Prop {
    fn value(&self) -> Value<'_> {
        match self {
            Prop::U64(v) => Value::from(*v),
            Prop::Bool(v) => Value::from(*v),
            Prop::Str(v) => Value::from(v.as_str()),
            Prop::Bytes(v) => Value::from(v.clone()),
            Prop::U32s(v) => Value::from(v.clone()),
        }
    }
}

fn limit(v: i64) -> u64 {
    if v < 0 {
        u64::MAX
    } else {
        v as u64
    }
}

/// A cpuset list ("0-2,4") as systemd's CPU or NUMA-node mask (bit n of
/// byte n/8 for cpu n).
pub fn cpuset_mask(list: &str, field: &str) -> Result<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let parse = |s: &str| {
            s.trim().parse::<usize>().map_err(|_| {
                Error::field(
                    field,
                    format!("{list:?} is not a list of numbers and ranges such as \"0-2,4\""),
                )
            })
        };
        let (a, b) = (parse(a)?, parse(b)?);
        if a > b || b >= 8192 {
            return Err(Error::field(
                field,
                format!("{list:?}: the range {part:?} is empty or past 8191"),
            ));
        }
        for n in a..=b {
            if out.len() <= n / 8 {
                out.resize(n / 8 + 1, 0);
            }
            out[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(out)
}

/// The unit properties for `r` (runc's set, for cgroup v2): what systemd
/// knows it keeps, across its own reloads. The files get the same values
/// and the rest from the plan.
pub fn resource_properties(r: &LinuxResources) -> Result<Vec<(&'static str, Prop)>> {
    let mut p = Vec::new();
    if let Some(m) = r.memory() {
        if let Some(l) = m.limit() {
            p.push(("MemoryMax", Prop::U64(limit(l))));
        }
        if let Some(v) = m.reservation() {
            p.push(("MemoryLow", Prop::U64(limit(v))));
        }
        // OCI's swap is memory+swap; systemd's MemorySwapMax is swap alone.
        match (m.swap(), m.limit()) {
            (Some(-1), _) => p.push(("MemorySwapMax", Prop::U64(u64::MAX))),
            (Some(s), Some(l)) if l > 0 && s >= 0 => {
                p.push(("MemorySwapMax", Prop::U64((s - l).max(0) as u64)))
            }
            _ => {}
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares() {
            if s > 0 {
                p.push(("CPUWeight", Prop::U64(super::plan::shares_to_weight(s))));
            }
        }
        if c.quota().is_some() || c.period().is_some() {
            let period = c.period().filter(|p| *p > 0).unwrap_or(100_000);
            p.push(("CPUQuotaPeriodUSec", Prop::U64(period)));
            let per_sec = match c.quota() {
                Some(q) if q > 0 => {
                    // systemd keeps a percentage: round up to 10 ms per second
                    // so the quota written to cpu.max below is not cut.
                    let v = (q as u64).saturating_mul(1_000_000) / period;
                    v.div_ceil(10_000) * 10_000
                }
                _ => u64::MAX,
            };
            p.push(("CPUQuotaPerSecUSec", Prop::U64(per_sec)));
        }
        if let Some(v) = c.cpus().as_deref().filter(|v| !v.is_empty()) {
            let mask = cpuset_mask(v, "linux.resources.cpu.cpus")?;
            p.push(("AllowedCPUs", Prop::Bytes(mask)));
        }
        if let Some(v) = c.mems().as_deref().filter(|v| !v.is_empty()) {
            let mask = cpuset_mask(v, "linux.resources.cpu.mems")?;
            p.push(("AllowedMemoryNodes", Prop::Bytes(mask)));
        }
    }
    if let Some(pids) = r.pids() {
        p.push(("TasksMax", Prop::U64(limit(pids.limit()))));
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
        p.push(("IOWeight", Prop::U64(super::plan::blkio_to_io_weight(w))));
    }
    Ok(p)
}

/// The properties of a new scope: the process, the slice, delegation,
/// accounting, then the resources.
pub fn scope_properties(
    unit: &Unit,
    id: &str,
    pid: i32,
    r: Option<&LinuxResources>,
) -> Result<Vec<(&'static str, Prop)>> {
    let mut p = vec![
        ("Description", Prop::Str(format!("stockade container {id}"))),
        ("Slice", Prop::Str(unit.slice.clone())),
        ("PIDs", Prop::U32s(vec![pid as u32])),
        ("Delegate", Prop::Bool(true)),
        ("DefaultDependencies", Prop::Bool(false)),
        ("MemoryAccounting", Prop::Bool(true)),
        ("CPUAccounting", Prop::Bool(true)),
        ("IOAccounting", Prop::Bool(true)),
        ("TasksAccounting", Prop::Bool(true)),
    ];
    if let Some(r) = r {
        p.extend(resource_properties(r)?);
    }
    Ok(p)
}

fn bus_err(user: bool, what: &str, e: impl std::fmt::Display) -> Error {
    let bus = if user {
        "the user's D-Bus session bus (rootless)"
    } else {
        "the D-Bus system bus"
    };
    Error::Systemd(format!(
        "{what} over {bus}: {e}; is systemd running? Without systemd, drop --systemd-cgroup \
         (containerd: SystemdCgroup = false; podman: --cgroup-manager cgroupfs)"
    ))
}

/// The host uid of our effective uid (through our user namespace's map).
fn host_uid() -> u32 {
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    for l in map.lines() {
        let f: Vec<u64> = l
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [inside, outside, count] = f[..] {
            let u = uid as u64;
            if u >= inside && u < inside + count {
                return (outside + (u - inside)) as u32;
            }
        }
    }
    uid
}

/// A connection to systemd (the system manager, or the caller's user
/// manager), with its own single-threaded executor.
pub struct Bus {
    rt: tokio::runtime::Runtime,
    conn: zbus::Connection,
    user: bool,
}

impl Bus {
    /// Connect to the bus of `user`'s manager (user bus) or the system's.
    pub fn connect(user: bool) -> Result<Bus> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| Error::Systemd(format!("start the D-Bus client: {e}")))?;
        let addr = if user {
            match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
                Ok(a) if !a.is_empty() => a,
                _ => match std::env::var_os("XDG_RUNTIME_DIR") {
                    Some(d) => format!("unix:path={}", Path::new(&d).join("bus").display()),
                    None => {
                        return Err(bus_err(
                            user,
                            "connect",
                            "neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set",
                        ))
                    }
                },
            }
        } else {
            match std::env::var("DBUS_SYSTEM_BUS_ADDRESS") {
                Ok(a) if !a.is_empty() => a,
                _ => "unix:path=/run/dbus/system_bus_socket".to_string(),
            }
        };
        let what = format!("connect to {addr}");
        let conn = rt.block_on(async {
            let b = zbus::connection::Builder::address(addr.as_str())
                .map_err(|e| bus_err(user, &what, e))?
                .user_id(host_uid())
                .method_timeout(TIMEOUT);
            tokio::time::timeout(TIMEOUT, b.build())
                .await
                .map_err(|_| bus_err(user, &what, "timed out"))?
                .map_err(|e| bus_err(user, &what, e))
        })?;
        Ok(Bus { rt, conn, user })
    }

    async fn call<B>(&self, method: &str, body: &B) -> zbus::Result<zbus::Message>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        self.conn
            .call_method(Some(DEST), PATH, Some(MANAGER), method, body)
            .await
    }

    /// Wait for `job` to leave systemd's queue; its result must be `done`.
    async fn wait_job(
        &self,
        jobs: &mut zbus::MessageStream,
        job: &OwnedObjectPath,
        unit: &str,
        what: &str,
    ) -> Result<()> {
        use futures_util::StreamExt;
        let wait = async {
            while let Some(m) = jobs.next().await {
                let Ok(m) = m else { continue };
                let Ok((_, path, _, result)) = m
                    .body()
                    .deserialize::<(u32, OwnedObjectPath, String, String)>()
                else {
                    continue;
                };
                if &path == job {
                    return Some(result);
                }
            }
            None
        };
        match tokio::time::timeout(TIMEOUT, wait).await {
            Ok(Some(r)) if r == "done" => Ok(()),
            Ok(Some(r)) => Err(Error::Systemd(format!(
                "{what} {unit}: systemd's job ended with {r:?} (see `journalctl -u {unit}`)"
            ))),
            Ok(None) => Err(bus_err(
                self.user,
                &format!("{what} {unit}"),
                "the bus closed",
            )),
            Err(_) => Err(Error::Systemd(format!(
                "{what} {unit}: systemd did not finish the job in {} s",
                TIMEOUT.as_secs()
            ))),
        }
    }

    async fn job_stream(&self) -> Result<zbus::MessageStream> {
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .sender(DEST)
            .and_then(|b| b.interface(MANAGER))
            .and_then(|b| b.member("JobRemoved"))
            .map_err(|e| Error::Systemd(format!("match rule: {e}")))?
            .build();
        let s = zbus::MessageStream::for_match_rule(rule, &self.conn, Some(64))
            .await
            .map_err(|e| bus_err(self.user, "subscribe to systemd's job signals", e))?;
        // systemd sends its signals only while a client has subscribed.
        let _ = self.call("Subscribe", &()).await;
        Ok(s)
    }

    /// StartTransientUnit: make the scope with `props` (which hold the
    /// init's pid) and wait until systemd has made it.
    pub fn start(&self, unit: &Unit, props: &[(&'static str, Prop)]) -> Result<()> {
        self.rt.block_on(async {
            let mut jobs = self.job_stream().await?;
            let body: Vec<(&str, Value<'_>)> = props.iter().map(|(k, v)| (*k, v.value())).collect();
            let aux: Vec<(&str, Vec<(&str, Value<'_>)>)> = Vec::new();
            let mut retried = false;
            loop {
                let r = self
                    .call(
                        "StartTransientUnit",
                        &(unit.name.as_str(), "replace", &body, &aux),
                    )
                    .await;
                match r {
                    Ok(m) => {
                        let job: OwnedObjectPath = m.body().deserialize().map_err(|e| {
                            Error::Systemd(format!("StartTransientUnit {}: reply: {e}", unit.name))
                        })?;
                        let r = self.wait_job(&mut jobs, &job, &unit.name, "start").await;
                        if r.is_err() {
                            // The unit is ours but did not start: leave none.
                            let _ = self
                                .call("StopUnit", &(unit.name.as_str(), "replace"))
                                .await;
                            let _ = self.call("ResetFailedUnit", &(unit.name.as_str(),)).await;
                        }
                        return r;
                    }
                    // A failed unit of the same name left from an earlier run:
                    // have systemd forget it, then try once more (as runc).
                    Err(zbus::Error::MethodError(n, _, _))
                        if n.as_str() == "org.freedesktop.systemd1.UnitExists" && !retried =>
                    {
                        retried = true;
                        let _ = self.call("ResetFailedUnit", &(unit.name.as_str(),)).await;
                    }
                    Err(zbus::Error::MethodError(n, msg, _))
                        if n.as_str() == "org.freedesktop.systemd1.UnitExists" =>
                    {
                        return Err(Error::Systemd(format!(
                            "the unit {} already exists ({}); another container uses this \
                             cgroupsPath: give each container its own name",
                            unit.name,
                            msg.unwrap_or_default()
                        )))
                    }
                    Err(zbus::Error::MethodError(n, msg, _)) => {
                        return Err(Error::Systemd(format!(
                            "StartTransientUnit {} in {}: {}: {}",
                            unit.name,
                            unit.slice,
                            n.as_str(),
                            msg.unwrap_or_default()
                        )))
                    }
                    Err(e) => return Err(bus_err(self.user, "StartTransientUnit", e)),
                }
            }
        })
    }

    /// The scope's cgroup as systemd has it (its `ControlGroup`).
    pub fn control_group(&self, unit: &Unit) -> Result<String> {
        self.rt.block_on(async {
            let m = self
                .call("GetUnit", &(unit.name.as_str(),))
                .await
                .map_err(|e| bus_err(self.user, &format!("GetUnit {}", unit.name), e))?;
            let path: OwnedObjectPath = m
                .body()
                .deserialize()
                .map_err(|e| Error::Systemd(format!("GetUnit {}: reply: {e}", unit.name)))?;
            let m = self
                .conn
                .call_method(
                    Some(DEST),
                    path.as_str(),
                    Some("org.freedesktop.DBus.Properties"),
                    "Get",
                    &("org.freedesktop.systemd1.Scope", "ControlGroup"),
                )
                .await
                .map_err(|e| bus_err(self.user, &format!("ControlGroup of {}", unit.name), e))?;
            let v: zbus::zvariant::OwnedValue = m
                .body()
                .deserialize()
                .map_err(|e| Error::Systemd(format!("ControlGroup of {}: {e}", unit.name)))?;
            String::try_from(v)
                .map_err(|e| Error::Systemd(format!("ControlGroup of {}: {e}", unit.name)))
        })
    }

    /// SetUnitProperties (runtime): what `update` changes.
    pub fn set(&self, unit: &Unit, props: &[(&'static str, Prop)]) -> Result<()> {
        if props.is_empty() {
            return Ok(());
        }
        self.rt.block_on(async {
            let body: Vec<(&str, Value<'_>)> = props.iter().map(|(k, v)| (*k, v.value())).collect();
            self.call("SetUnitProperties", &(unit.name.as_str(), true, &body))
                .await
                .map_err(|e| match e {
                    zbus::Error::MethodError(n, msg, _) => Error::Systemd(format!(
                        "SetUnitProperties {}: {}: {}",
                        unit.name,
                        n.as_str(),
                        msg.unwrap_or_default()
                    )),
                    e => bus_err(self.user, "SetUnitProperties", e),
                })
                .map(|_| ())
        })
    }

    /// StopUnit, waited for; a unit systemd no longer has is stopped. Then
    /// forget a failed state, so nothing of the unit is left.
    pub fn stop(&self, unit: &Unit) -> Result<()> {
        self.rt.block_on(async {
            let mut jobs = self.job_stream().await?;
            let r = self
                .call("StopUnit", &(unit.name.as_str(), "replace"))
                .await;
            let out = match r {
                Ok(m) => {
                    let job: OwnedObjectPath = m.body().deserialize().map_err(|e| {
                        Error::Systemd(format!("StopUnit {}: reply: {e}", unit.name))
                    })?;
                    self.wait_job(&mut jobs, &job, &unit.name, "stop").await
                }
                Err(zbus::Error::MethodError(n, _, _))
                    if n.as_str() == "org.freedesktop.systemd1.NoSuchUnit" =>
                {
                    Ok(())
                }
                Err(zbus::Error::MethodError(n, msg, _)) => Err(Error::Systemd(format!(
                    "StopUnit {}: {}: {}",
                    unit.name,
                    n.as_str(),
                    msg.unwrap_or_default()
                ))),
                Err(e) => Err(bus_err(self.user, "StopUnit", e)),
            };
            let _ = self.call("ResetFailedUnit", &(unit.name.as_str(),)).await;
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn slices_expand_like_systemd() {
        assert_eq!(expand_slice("system.slice").unwrap(), "/system.slice");
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            "/a.slice/a-b.slice/a-b-c.slice"
        );
        assert_eq!(expand_slice("-.slice").unwrap(), "/");
        for s in [
            "a",
            ".slice",
            "a--b.slice",
            "-a.slice",
            "a-.slice",
            "a/b.slice",
            "a b.slice",
        ] {
            assert!(expand_slice(s).is_err(), "{s}");
        }
    }

    #[test]
    fn paths_parse_like_runc() {
        let u = parse(Some("machine.slice:libpod:abc"), "id", false).unwrap();
        assert_eq!(u.name, "libpod-abc.scope");
        assert_eq!(u.slice, "machine.slice");
        assert!(!u.user);
        let u = parse(None, "c1", false).unwrap();
        assert_eq!(
            (u.name.as_str(), u.slice.as_str()),
            ("stockade-c1.scope", "system.slice")
        );
        let u = parse(Some(":p:n"), "c1", true).unwrap();
        assert_eq!(
            (u.name.as_str(), u.slice.as_str(), u.user),
            ("p-n.scope", "user.slice", true)
        );
        let u = parse(Some("system.slice::n"), "c1", false).unwrap();
        assert_eq!(u.name, "n.scope");
        assert_eq!(
            cgroup_of(
                &parse(Some("kubepods-besteffort.slice:cri:x"), "i", false).unwrap(),
                "/"
            )
            .unwrap(),
            Path::new("/kubepods.slice/kubepods-besteffort.slice/cri-x.scope")
        );
        assert_eq!(
            cgroup_of(&u, "/user.slice/user-1000.slice/user@1000.service").unwrap(),
            Path::new("/user.slice/user-1000.slice/user@1000.service/system.slice/n.scope")
        );
    }

    #[test]
    fn malformed_paths_name_the_field_and_the_form() {
        for p in [
            "a:b",
            "x.slice:p:",
            "/abs/path",
            "system:p:n",
            "a:b:c:d",
            "a--b.slice:p:n",
            "system.slice:p:n/../x",
            "system.slice:p:x.slice",
        ] {
            let e = parse(Some(p), "id", false).unwrap_err().to_string();
            assert!(e.contains("linux.cgroupsPath"), "{p}: {e}");
            assert!(e.contains("slice:prefix:name"), "{p}: {e}");
        }
    }

    #[test]
    fn properties_follow_runc() {
        let r = res(serde_json::json!({
            "memory": {"limit": 67108864, "swap": 100663296, "reservation": 1048576},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1,9", "mems": "0"},
            "pids": {"limit": 100},
            "blockIO": {"weight": 500}
        }));
        let p = resource_properties(&r).unwrap();
        let get = |k: &str| p.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        assert_eq!(get("MemoryMax"), Some(Prop::U64(67108864)));
        assert_eq!(get("MemorySwapMax"), Some(Prop::U64(33554432)));
        assert_eq!(get("MemoryLow"), Some(Prop::U64(1048576)));
        assert_eq!(get("CPUWeight"), Some(Prop::U64(39)));
        assert_eq!(get("CPUQuotaPerSecUSec"), Some(Prop::U64(500_000)));
        assert_eq!(get("CPUQuotaPeriodUSec"), Some(Prop::U64(100_000)));
        assert_eq!(get("AllowedCPUs"), Some(Prop::Bytes(vec![0b11, 0b10])));
        assert_eq!(get("AllowedMemoryNodes"), Some(Prop::Bytes(vec![1])));
        assert_eq!(get("TasksMax"), Some(Prop::U64(100)));
        assert_eq!(get("IOWeight"), Some(Prop::U64(4950)));
        // Unlimited, and a quota that is not a whole percent rounds up.
        let r = res(serde_json::json!({
            "memory": {"limit": -1, "swap": -1}, "pids": {"limit": -1},
            "cpu": {"quota": 12345, "period": 100000}
        }));
        let p = resource_properties(&r).unwrap();
        let get = |k: &str| p.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        assert_eq!(get("MemoryMax"), Some(Prop::U64(u64::MAX)));
        assert_eq!(get("MemorySwapMax"), Some(Prop::U64(u64::MAX)));
        assert_eq!(get("TasksMax"), Some(Prop::U64(u64::MAX)));
        assert_eq!(get("CPUQuotaPerSecUSec"), Some(Prop::U64(130_000)));
        assert!(cpuset_mask("1-0", "f").is_err());
        assert!(cpuset_mask("x", "f").is_err());
    }

    #[test]
    fn scope_has_the_pid_and_delegation() {
        let u = parse(None, "c", false).unwrap();
        let p = scope_properties(&u, "c", 42, None).unwrap();
        assert!(p.contains(&("PIDs", Prop::U32s(vec![42]))));
        assert!(p.contains(&("Delegate", Prop::Bool(true))));
        assert!(p.contains(&("Slice", Prop::Str("system.slice".into()))));
        assert!(p.contains(&("DefaultDependencies", Prop::Bool(false))));
    }
}
