//! `update`: change a live container's cgroup resources, with runc's flags
//! or a JSON `LinuxResources` document (`--resources FILE|-`).
//!
//! The given fields are written to the container's cgroups (through the same
//! code as `create`, [`crate::cgroups`]), judged first by the policy gate
//! under the container's policy (a change that drops a limit a rule asks for
//! is refused or warned like the same config at `create`), and merged into
//! the config recorded in the state, so `state`, a later `update` and
//! `delete` see the new values. Fields not given keep their value.

use crate::error::{Error, Result};
use crate::state::{Status, Store};
use clap::Args;
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
use serde_json::Value;
use std::io::Read;
use std::path::PathBuf;

/// runc's `update` flags.
#[derive(Args, Debug, Clone, Default)]
pub struct UpdateArgs {
    /// A JSON LinuxResources document to apply (a file, or - for stdin)
    #[arg(short, long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// Block IO weight (10 to 1000)
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period (microseconds)
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota (microseconds per period; -1 for none)
    #[arg(long, allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(long, visible_alias = "cpu-shares")]
    pub cpu_share: Option<u64>,
    /// CPU realtime period (microseconds)
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime (microseconds)
    #[arg(long, allow_negative_numbers = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs to use (e.g. 0-1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use (e.g. 0)
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Memory limit in bytes (suffixes k, m, g, t; -1 for none)
    #[arg(long, allow_negative_numbers = true)]
    pub memory: Option<String>,
    /// Memory reservation (soft limit) in bytes
    #[arg(long, allow_negative_numbers = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit in bytes; -1 for unlimited swap
    #[arg(long, allow_negative_numbers = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids (0 or -1 for none)
    #[arg(long, allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Container id
    pub id: String,
}

/// A byte count as runc reads it (docker's RAMInBytes): a number with an
/// optional binary suffix (b, k, m, g, t, p, with or without a trailing b),
/// or -1.
pub fn parse_bytes(flag: &str, s: &str) -> Result<i64> {
    let bad = || {
        Error::Usage(format!(
            "--{flag} {s:?}: want a byte count such as 67108864, 64m or 1g (or -1)"
        ))
    };
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let digits_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    let mult: i64 = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return Err(bad()),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    let v = n * mult as f64;
    if !v.is_finite() || v < 0.0 || v > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(v as i64)
}

/// The resources the flags ask for (only the fields given).
pub fn from_flags(a: &UpdateArgs) -> Result<LinuxResources> {
    let mut r = LinuxResources::default();
    let mem = [
        ("memory", &a.memory),
        ("memory-reservation", &a.memory_reservation),
        ("memory-swap", &a.memory_swap),
    ]
    .map(|(f, v)| v.as_deref().map(|s| parse_bytes(f, s)).transpose());
    let [limit, reservation, swap] = mem;
    let (limit, reservation, swap) = (limit?, reservation?, swap?);
    if limit.is_some() || reservation.is_some() || swap.is_some() {
        let mut m = LinuxMemory::default();
        m.set_limit(limit);
        m.set_reservation(reservation);
        m.set_swap(swap);
        r.set_memory(Some(m));
    }
    if a.cpu_share.is_some()
        || a.cpu_quota.is_some()
        || a.cpu_period.is_some()
        || a.cpu_rt_period.is_some()
        || a.cpu_rt_runtime.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some()
    {
        let mut c = LinuxCpu::default();
        c.set_shares(a.cpu_share);
        c.set_quota(a.cpu_quota);
        c.set_period(a.cpu_period);
        c.set_realtime_period(a.cpu_rt_period);
        c.set_realtime_runtime(a.cpu_rt_runtime);
        c.set_cpus(a.cpuset_cpus.clone());
        c.set_mems(a.cpuset_mems.clone());
        r.set_cpu(Some(c));
    }
    if let Some(p) = a.pids_limit {
        let mut pids = LinuxPids::default();
        pids.set_limit(p);
        r.set_pids(Some(pids));
    }
    if let Some(w) = a.blkio_weight {
        if !(10..=1000).contains(&w) {
            return Err(Error::Usage(format!(
                "--blkio-weight {w}: want a value from 10 to 1000"
            )));
        }
        let mut b = LinuxBlockIo::default();
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    Ok(r)
}

/// Read a `--resources` document whole and decode it; a field this
/// runtime does not know is an error (not silently dropped).
pub fn from_document(name: &str, data: &[u8]) -> Result<LinuxResources> {
    let path = PathBuf::from(name);
    let value: Value = serde_json::from_slice(data).map_err(|e| Error::Config {
        path: path.clone(),
        msg: format!("malformed JSON: {e}; want a LinuxResources object"),
    })?;
    if !value.is_object() {
        return Err(Error::Config {
            path,
            msg: "want a JSON object (LinuxResources)".into(),
        });
    }
    let r: LinuxResources = crate::bundle::decode(&path, value.clone())?;
    let back = serde_json::to_value(&r).map_err(|e| Error::Usage(e.to_string()))?;
    if let Some(field) = unknown_field(&value, &back, "") {
        return Err(Error::Config {
            path,
            msg: format!(
                "{field}: not a LinuxResources field (see the runtime-spec's linux.resources)"
            ),
        });
    }
    Ok(r)
}

/// The first key of `input` (a non-null value) that decoding dropped.
fn unknown_field(input: &Value, back: &Value, at: &str) -> Option<String> {
    match (input, back) {
        (Value::Object(i), Value::Object(b)) => i.iter().find_map(|(k, v)| {
            let here = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            match b.get(k) {
                _ if v.is_null() => None,
                None => Some(here),
                Some(bv) => unknown_field(v, bv, &here),
            }
        }),
        (Value::Array(i), Value::Array(b)) => i
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(n, (iv, bv))| unknown_field(iv, bv, &format!("{at}[{n}]"))),
        _ => None,
    }
}

/// `base` with every field `delta` sets replaced (objects merge key by
/// key; lists and values replace).
pub fn merge(base: &LinuxResources, delta: &LinuxResources) -> Result<LinuxResources> {
    fn deep(b: &mut Value, d: &Value) {
        match (b, d) {
            (Value::Object(bo), Value::Object(dobj)) => {
                for (k, v) in dobj {
                    if v.is_null() {
                        continue;
                    }
                    match bo.get_mut(k) {
                        Some(bv) if bv.is_object() && v.is_object() => deep(bv, v),
                        _ => {
                            bo.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            (b, d) => *b = d.clone(),
        }
    }
    let enc = |r: &LinuxResources| serde_json::to_value(r).map_err(|e| Error::Usage(e.to_string()));
    let mut b = enc(base)?;
    deep(&mut b, &enc(delta)?);
    serde_json::from_value(b).map_err(|e| Error::Usage(format!("merged resources: {e}")))
}

/// The fields of `base` that `delta` sets (what an update overwrote), for
/// putting them back when the update fails half-way. Device rules are left
/// out: they are never part of an update's writes back.
pub fn restrict(base: &LinuxResources, delta: &LinuxResources) -> Result<LinuxResources> {
    let enc = |r: &LinuxResources| serde_json::to_value(r).map_err(|e| Error::Usage(e.to_string()));
    let (b, d) = (enc(base)?, enc(delta)?);
    let mut out = serde_json::Map::new();
    if let (Value::Object(b), Value::Object(d)) = (&b, &d) {
        for (k, dv) in d {
            if k == "devices" || dv.is_null() {
                continue;
            }
            let Some(bv) = b.get(k) else { continue };
            match (bv, dv) {
                (Value::Object(bo), Value::Object(dobj)) => {
                    let sub: serde_json::Map<String, Value> = bo
                        .iter()
                        .filter(|(kk, _)| dobj.get(*kk).is_some_and(|v| !v.is_null()))
                        .map(|(kk, vv)| (kk.clone(), vv.clone()))
                        .collect();
                    if !sub.is_empty() {
                        out.insert(k.clone(), Value::Object(sub));
                    }
                }
                _ => {
                    out.insert(k.clone(), bv.clone());
                }
            }
        }
    }
    serde_json::from_value(Value::Object(out)).map_err(|e| Error::Usage(e.to_string()))
}

/// `update`: the delta from `--resources` or the flags, applied to a
/// container that is created, running or paused.
pub fn run(
    store: &Store,
    a: &UpdateArgs,
    policy: Option<crate::gate::Policy>,
    on_warning: &dyn Fn(&str),
) -> Result<()> {
    let flags = from_flags(a)?;
    let delta = match &a.resources {
        Some(p) => {
            if flags != LinuxResources::default() {
                return Err(Error::Usage(
                    "update: give either --resources or the resource flags, not both".into(),
                ));
            }
            let (name, data) = if p.as_os_str() == "-" {
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .map_err(|e| Error::io("<stdin>", e))?;
                ("<stdin>".to_string(), buf)
            } else {
                let data = std::fs::read(p).map_err(|e| Error::io(p, e))?;
                (p.display().to_string(), data)
            };
            from_document(&name, &data)?
        }
        None if flags == LinuxResources::default() => {
            return Err(Error::Usage(
                "update: nothing to change: give --resources FILE|- or a flag such as --memory"
                    .into(),
            ))
        }
        None => flags,
    };
    let locked = store.open(&a.id)?;
    let mut st = locked.load()?;
    let status = st.status_in(&locked.dir);
    if matches!(status, Status::Stopped | Status::Creating) {
        return Err(Error::BadStatus {
            id: a.id.clone(),
            status: status.to_string(),
            msg: "cannot update the resources of a container that is not running".into(),
        });
    }
    let base = st
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let merged = merge(&base, &delta)?;
    let mut spec = st.spec.clone();
    if let Some(l) = spec.linux_mut() {
        l.set_resources(Some(merged));
    }
    // The gate, as at exec: the policy given, else the container's own.
    let policy = match (policy.unwrap_or(crate::gate::DEFAULT), &st.policy) {
        (crate::gate::DEFAULT, Some(p)) => p.parse().map_err(|e| {
            Error::Usage(format!(
                "{}: policy: {e}",
                locked.dir.join("state.json").display()
            ))
        })?,
        (p, _) => p,
    };
    for w in crate::gate::check_update(&st.spec, &spec, policy)? {
        on_warning(&w);
    }
    if let Err(e) = st
        .cgroup
        .set_unit(&delta)
        .and_then(|_| st.cgroup.apply(&delta))
    {
        // Put back what the update may have written, so the cgroups and the
        // recorded config agree again (best effort: the error is the news).
        if let Ok(back) = restrict(&base, &delta) {
            let _ = st.cgroup.apply(&back);
        }
        return Err(e);
    }
    st.spec = spec;
    locked.save(&st)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: UpdateArgs,
    }

    fn args(v: &[&str]) -> UpdateArgs {
        let mut all = vec!["update"];
        all.extend_from_slice(v);
        T::try_parse_from(all).unwrap().a
    }

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("memory", "67108864").unwrap(), 67108864);
        assert_eq!(parse_bytes("memory", "64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("memory", "64MB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("memory", "1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("memory", "1.5k").unwrap(), 1536);
        assert_eq!(parse_bytes("memory-swap", "-1").unwrap(), -1);
        for bad in ["", "m", "12q", "-5", "1e400g", "abc"] {
            let e = parse_bytes("memory", bad).unwrap_err().to_string();
            assert!(e.contains("--memory"), "{bad}: {e}");
        }
    }

    #[test]
    fn flags_set_only_what_is_given() {
        let r = from_flags(&args(&["--memory", "256m", "--pids-limit", "50", "c1"])).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"memory": {"limit": 268435456}, "pids": {"limit": 50}})
        );
        let r = from_flags(&args(&[
            "--cpu-share",
            "512",
            "--cpu-quota",
            "-1",
            "--cpuset-cpus",
            "0",
            "--blkio-weight",
            "300",
            "c1",
        ]))
        .unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"cpu": {"shares": 512, "quota": -1, "cpus": "0"}, "blockIO": {"weight": 300}})
        );
        assert_eq!(
            args(&["--cpu-shares", "2", "c"]).cpu_share,
            Some(2),
            "--cpu-shares is an alias"
        );
        assert!(from_flags(&args(&["--blkio-weight", "5", "c"])).is_err());
        assert_eq!(
            from_flags(&args(&["c"])).unwrap(),
            LinuxResources::default()
        );
    }

    #[test]
    fn documents_fail_closed() {
        let r = from_document("r.json", br#"{"memory":{"limit":1048576,"swap":-1}}"#).unwrap();
        assert_eq!(r.memory().unwrap().limit(), Some(1048576));
        let e = from_document("r.json", br#"{"memory":{"limmit":5}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("r.json") && e.contains("memory.limmit"), "{e}");
        let e = from_document("r.json", br#"{"memory":{"limit":"big"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("r.json") && e.contains("memory.limit"), "{e}");
        let e = from_document("<stdin>", b"{\"memory\":")
            .unwrap_err()
            .to_string();
        assert!(e.contains("<stdin>") && e.contains("malformed"), "{e}");
        assert!(from_document("r.json", b"[1]").is_err());
        // null means "not given".
        assert!(from_document("r.json", br#"{"memory":null,"pids":{"limit":3}}"#).is_ok());
    }

    #[test]
    fn restrict_keeps_what_the_delta_overwrote() {
        let base = from_document(
            "b",
            br#"{"memory":{"limit":1000,"swap":2000},"pids":{"limit":10},"devices":[{"allow":false,"access":"rwm"}]}"#,
        )
        .unwrap();
        let delta = from_document(
            "d",
            br#"{"memory":{"limit":4096},"cpu":{"shares":2},"devices":[]}"#,
        )
        .unwrap();
        let r = restrict(&base, &delta).unwrap();
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"memory": {"limit": 1000}})
        );
    }

    #[test]
    fn merge_overrides_only_given_fields() {
        let base = from_document(
            "b",
            br#"{"memory":{"limit":1000,"swap":2000},"pids":{"limit":10},"devices":[{"allow":false,"access":"rwm"}]}"#,
        )
        .unwrap();
        let delta = from_document("d", br#"{"memory":{"limit":4096},"cpu":{"shares":2}}"#).unwrap();
        let m = merge(&base, &delta).unwrap();
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v["memory"],
            serde_json::json!({"limit": 4096, "swap": 2000})
        );
        assert_eq!(v["pids"]["limit"], 10);
        assert_eq!(v["cpu"]["shares"], 2);
        assert_eq!(v["devices"].as_array().unwrap().len(), 1);
    }
}
