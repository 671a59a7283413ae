//! The plan: `linux.resources` in, the cgroup writes out. Pure: it reads
//! nothing from the host; what it must know about the host (which v1
//! controllers are mounted, whether a cgroup2 hierarchy is there, BFQ's file
//! names) comes in a [`Layout`]. The managers (the cgroupfs one in
//! `mod.rs`; systemd's would put some of these on the unit instead) apply it.
//! Unit-tested on fixtures below; the pure-v2 guest
//! (crates/cli/tests/runtime_cgroup_v2.rs) checks the same writes land.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

/// The directory a write goes to: a v1 controller's hierarchy, or the
/// cgroup2 hierarchy ([`UNIFIED`]).
pub const UNIFIED: &str = "";

/// What the planner needs to know about the host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// Only cgroup2 (every controller there).
    pub v2_only: bool,
    /// Controllers mounted on v1 hierarchies (hybrid and v1 hosts).
    pub v1: Vec<String>,
    /// Controllers enabled in the cgroup2 hierarchy, when there is one.
    pub unified: Option<Vec<String>>,
    /// v1 blkio has BFQ's `blkio.bfq.weight` instead of CFQ's `blkio.weight`.
    pub bfq: bool,
}

/// When a write is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Always,
    /// May fail; if it does, it is made again after the next write (v1's
    /// memory limit and memsw limit must be set in the order that keeps
    /// limit <= memsw, which depends on the current values).
    MayFail,
    /// The retry of the preceding [`When::MayFail`] write, only if it failed.
    Retry,
}

/// One write of one value to one cgroup file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The v1 controller whose hierarchy holds the file, or [`UNIFIED`].
    pub ctrl: &'static str,
    pub file: String,
    pub value: String,
    /// The config field it comes from, for errors.
    pub field: String,
    pub when: When,
}

/// The eBPF device program to attach to the cgroup2 directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceProgram {
    pub rules: Vec<LinuxDeviceCgroup>,
    /// A failure is an error (pure v2: the only device control), or not
    /// (hybrid: a second layer behind v1's devices controller).
    pub required: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub writes: Vec<Write>,
    pub devices: Option<DeviceProgram>,
}

/// Devices every container gets, like runc's allowed list.
pub const DEFAULT_ALLOWED: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

struct Out<'a> {
    l: &'a Layout,
    w: Vec<Write>,
}

impl Out<'_> {
    fn push(&mut self, ctrl: &'static str, file: &str, value: String, field: &str, when: When) {
        self.w.push(Write {
            ctrl,
            file: file.to_string(),
            value,
            field: field.to_string(),
            when,
        });
    }
    fn w(&mut self, ctrl: &'static str, file: &str, value: impl ToString, field: &str) {
        self.push(ctrl, file, value.to_string(), field, When::Always)
    }
    /// A v1 controller that must be mounted for `field`.
    fn need(&self, ctrl: &'static str, field: &str) -> Result<&'static str> {
        if self.l.v1.iter().any(|c| c == ctrl) {
            Ok(ctrl)
        } else {
            Err(Error::unsupported(
                field,
                format!("the {ctrl} cgroup controller is not mounted"),
            ))
        }
    }
}

/// The plan for `r` on a host of layout `l`.
pub fn plan(r: &LinuxResources, l: &Layout) -> Result<Plan> {
    if l.v2_only {
        v2(r, l)
    } else {
        v1(r, l)
    }
}

fn v1(r: &LinuxResources, l: &Layout) -> Result<Plan> {
    let mut o = Out { l, w: Vec::new() };
    if let Some(m) = r.memory() {
        let f = "linux.resources.memory";
        let c = o.need("memory", f)?;
        let swap = m.swap().map(|s| s.to_string());
        match (m.limit(), swap) {
            (Some(lim), Some(s)) => {
                // Limit first; if that fails (above the current memsw),
                // memsw first and the limit again.
                let lim = lim.to_string();
                o.push(
                    c,
                    "memory.limit_in_bytes",
                    lim.clone(),
                    &format!("{f}.limit"),
                    When::MayFail,
                );
                o.w(c, "memory.memsw.limit_in_bytes", s, &format!("{f}.swap"));
                o.push(
                    c,
                    "memory.limit_in_bytes",
                    lim,
                    &format!("{f}.limit"),
                    When::Retry,
                );
            }
            (Some(lim), None) => o.w(c, "memory.limit_in_bytes", lim, &format!("{f}.limit")),
            (None, Some(s)) => o.w(c, "memory.memsw.limit_in_bytes", s, &format!("{f}.swap")),
            (None, None) => {}
        }
        if let Some(v) = m.reservation() {
            o.w(
                c,
                "memory.soft_limit_in_bytes",
                v,
                &format!("{f}.reservation"),
            );
        }
        if let Some(v) = m.swappiness() {
            if v > 100 {
                return Err(Error::field(
                    format!("{f}.swappiness"),
                    format!("{v} is above 100"),
                ));
            }
            o.w(c, "memory.swappiness", v, &format!("{f}.swappiness"));
        }
        if m.disable_oom_killer() == Some(true) {
            o.w(c, "memory.oom_control", 1, &format!("{f}.disableOOMKiller"));
        }
    }
    if let Some(cpu) = r.cpu() {
        let f = "linux.resources.cpu";
        if cpu.shares().is_some()
            || cpu.quota().is_some()
            || cpu.period().is_some()
            || cpu.realtime_runtime().is_some()
            || cpu.realtime_period().is_some()
        {
            let c = o.need("cpu", f)?;
            if let Some(v) = cpu.shares() {
                o.w(c, "cpu.shares", v, &format!("{f}.shares"));
            }
            if let Some(v) = cpu.period() {
                o.w(c, "cpu.cfs_period_us", v, &format!("{f}.period"));
            }
            if let Some(v) = cpu.quota() {
                o.w(c, "cpu.cfs_quota_us", v, &format!("{f}.quota"));
            }
            if let Some(v) = cpu.realtime_period() {
                o.w(c, "cpu.rt_period_us", v, &format!("{f}.realtimePeriod"));
            }
            if let Some(v) = cpu.realtime_runtime() {
                o.w(c, "cpu.rt_runtime_us", v, &format!("{f}.realtimeRuntime"));
            }
        }
        if cpu.cpus().is_some() || cpu.mems().is_some() {
            let c = o.need("cpuset", f)?;
            if let Some(v) = cpu.cpus() {
                o.w(c, "cpuset.cpus", v, &format!("{f}.cpus"));
            }
            if let Some(v) = cpu.mems() {
                o.w(c, "cpuset.mems", v, &format!("{f}.mems"));
            }
        }
    }
    if let Some(p) = r.pids() {
        let c = o.need("pids", "linux.resources.pids")?;
        o.w(
            c,
            "pids.max",
            max_or(p.limit()),
            "linux.resources.pids.limit",
        );
    }
    if let Some(b) = r.block_io() {
        let f = "linux.resources.blockIO";
        let c = o.need("blkio", f)?;
        // CFQ is gone: BFQ has blkio.bfq.weight(_device) instead.
        let (wfile, wdev) = if l.bfq {
            ("blkio.bfq.weight", "blkio.bfq.weight")
        } else {
            ("blkio.weight", "blkio.weight_device")
        };
        if let Some(w) = b.weight() {
            o.w(c, wfile, w, &format!("{f}.weight"));
        }
        if let Some(w) = b.leaf_weight() {
            o.w(c, "blkio.leaf_weight", w, &format!("{f}.leafWeight"));
        }
        for (i, wd) in b.weight_device().iter().flatten().enumerate() {
            if let Some(w) = wd.weight() {
                o.w(
                    c,
                    wdev,
                    format!("{}:{} {w}", wd.major(), wd.minor()),
                    &format!("{f}.weightDevice[{i}]"),
                );
            }
        }
        for (name, list, file) in [
            (
                "throttleReadBpsDevice",
                b.throttle_read_bps_device(),
                "blkio.throttle.read_bps_device",
            ),
            (
                "throttleWriteBpsDevice",
                b.throttle_write_bps_device(),
                "blkio.throttle.write_bps_device",
            ),
            (
                "throttleReadIOPSDevice",
                b.throttle_read_iops_device(),
                "blkio.throttle.read_iops_device",
            ),
            (
                "throttleWriteIOPSDevice",
                b.throttle_write_iops_device(),
                "blkio.throttle.write_iops_device",
            ),
        ] {
            for (i, t) in list.iter().flatten().enumerate() {
                o.w(
                    c,
                    file,
                    format!("{}:{} {}", t.major(), t.minor(), t.rate()),
                    &format!("{f}.{name}[{i}]"),
                );
            }
        }
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        let f = format!("linux.resources.hugepageLimits[{i}]");
        if l.v1.iter().any(|c| c == "hugetlb") {
            o.w(
                "hugetlb",
                &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
                h.limit(),
                &f,
            );
        } else if l
            .unified
            .as_ref()
            .is_some_and(|u| u.iter().any(|c| c == "hugetlb"))
        {
            o.w(
                UNIFIED,
                &format!("hugetlb.{}.max", h.page_size()),
                h.limit(),
                &f,
            );
        } else {
            return Err(Error::unsupported(
                &f,
                "the hugetlb controller is not available",
            ));
        }
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            let f = "linux.resources.network.classID";
            let c = o.need("net_cls", f)?;
            o.w(c, "net_cls.classid", id, f);
        }
        for (i, p) in n.priorities().iter().flatten().enumerate() {
            let f = format!("linux.resources.network.priorities[{i}]");
            let c = o.need("net_prio", &f)?;
            o.w(
                c,
                "net_prio.ifpriomap",
                format!("{} {}", p.name(), p.priority()),
                &f,
            );
        }
    }
    let mut devices = None;
    if let Some(devs) = r.devices() {
        let c = o.need("devices", "linux.resources.devices")?;
        for (i, rule) in devs.iter().enumerate() {
            let (file, line) = device_rule(rule);
            o.w(c, file, line, &format!("linux.resources.devices[{i}]"));
        }
        if !devs.is_empty() {
            for line in DEFAULT_ALLOWED {
                o.w(
                    c,
                    "devices.allow",
                    line,
                    "linux.resources.devices (defaults)",
                );
            }
            // Hybrid hosts: the eBPF program on the unified hierarchy too
            // (a second layer; the v1 controller is the one that must work).
            if l.unified.is_some() {
                devices = Some(DeviceProgram {
                    rules: devs.clone(),
                    required: false,
                });
            }
        }
    }
    if let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) {
        if l.unified.is_none() {
            return Err(Error::unsupported(
                "linux.resources.unified",
                "no cgroup2 hierarchy",
            ));
        }
        unified(&mut o, u)?;
    }
    Ok(Plan {
        writes: o.w,
        devices,
    })
}

fn unified(o: &mut Out, u: &std::collections::HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<_> = u.iter().collect();
    keys.sort();
    for (k, v) in keys {
        if k.contains('/') || k.starts_with('.') || !k.contains('.') {
            return Err(Error::field(
                format!("linux.resources.unified.{k}"),
                "not a cgroup file name",
            ));
        }
        o.w(UNIFIED, k, v, &format!("linux.resources.unified.{k}"));
    }
    Ok(())
}

/// runc's conversion of cpu shares (2..262144) to cgroup2's cpu.weight (1..10000).
pub fn shares_to_weight(s: u64) -> u64 {
    if s == 0 {
        100
    } else {
        1 + ((s.max(2) - 2) * 9999) / 262142
    }
}

/// runc's conversion of blkio weight (10..1000) to io.weight (1..10000).
pub fn blkio_to_io_weight(w: u16) -> u64 {
    1 + (w.clamp(10, 1000) as u64 - 10) * 9999 / 990
}

fn v2(r: &LinuxResources, l: &Layout) -> Result<Plan> {
    let mut o = Out { l, w: Vec::new() };
    const D: &str = UNIFIED;
    if let Some(m) = r.memory() {
        let f = "linux.resources.memory";
        if let Some(lim) = m.limit() {
            o.w(D, "memory.max", max_or(lim), &format!("{f}.limit"));
        }
        if let Some(s) = m.swap() {
            // v1's swap is memory+swap; v2's swap.max is swap alone.
            let v = match (s, m.limit()) {
                (-1, _) => "max".to_string(),
                (s, Some(lim)) if lim > 0 => (s - lim).max(0).to_string(),
                (s, _) => s.to_string(),
            };
            o.w(D, "memory.swap.max", v, &format!("{f}.swap"));
        }
        if let Some(v) = m.reservation() {
            o.w(D, "memory.low", v, &format!("{f}.reservation"));
        }
    }
    if let Some(c) = r.cpu() {
        let f = "linux.resources.cpu";
        if let Some(s) = c.shares() {
            o.w(D, "cpu.weight", shares_to_weight(s), &format!("{f}.shares"));
        }
        if c.quota().is_some() || c.period().is_some() {
            let q = match c.quota() {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".into(),
            };
            let p = c.period().unwrap_or(100_000);
            o.w(D, "cpu.max", format!("{q} {p}"), &format!("{f}.quota"));
        }
        if let Some(v) = c.cpus() {
            o.w(D, "cpuset.cpus", v, &format!("{f}.cpus"));
        }
        if let Some(v) = c.mems() {
            o.w(D, "cpuset.mems", v, &format!("{f}.mems"));
        }
    }
    if let Some(p) = r.pids() {
        o.w(
            D,
            "pids.max",
            max_or(p.limit()),
            "linux.resources.pids.limit",
        );
    }
    if let Some(b) = r.block_io() {
        let f = "linux.resources.blockIO";
        if let Some(w) = b.weight() {
            o.w(
                D,
                "io.weight",
                blkio_to_io_weight(w),
                &format!("{f}.weight"),
            );
        }
        for (name, list, key) in [
            (
                "throttleReadBpsDevice",
                b.throttle_read_bps_device(),
                "rbps",
            ),
            (
                "throttleWriteBpsDevice",
                b.throttle_write_bps_device(),
                "wbps",
            ),
            (
                "throttleReadIOPSDevice",
                b.throttle_read_iops_device(),
                "riops",
            ),
            (
                "throttleWriteIOPSDevice",
                b.throttle_write_iops_device(),
                "wiops",
            ),
        ] {
            for (i, t) in list.iter().flatten().enumerate() {
                o.w(
                    D,
                    "io.max",
                    format!("{}:{} {key}={}", t.major(), t.minor(), t.rate()),
                    &format!("{f}.{name}[{i}]"),
                );
            }
        }
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        o.w(
            D,
            &format!("hugetlb.{}.max", h.page_size()),
            h.limit(),
            &format!("linux.resources.hugepageLimits[{i}]"),
        );
    }
    if let Some(u) = r.unified() {
        unified(&mut o, u)?;
    }
    // v2 has no devices files: the rules become an eBPF program.
    let devices = r
        .devices()
        .as_ref()
        .filter(|d| !d.is_empty())
        .map(|d| DeviceProgram {
            rules: d.clone(),
            required: true,
        });
    Ok(Plan {
        writes: o.w,
        devices,
    })
}

fn max_or(v: i64) -> String {
    if v <= 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

fn device_rule(r: &LinuxDeviceCgroup) -> (&'static str, String) {
    let t = match r.typ() {
        Some(LinuxDeviceType::B) => "b",
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => "c",
        _ => "a",
    };
    let n = |v: Option<i64>| {
        v.filter(|x| *x >= 0)
            .map(|x| x.to_string())
            .unwrap_or_else(|| "*".into())
    };
    let access = r.access().clone().unwrap_or_else(|| "rwm".into());
    let line = if t == "a" && r.major().is_none() && r.minor().is_none() {
        "a".to_string()
    } else {
        format!("{t} {}:{} {access}", n(r.major()), n(r.minor()))
    };
    (
        if r.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        },
        line,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    fn v2_only() -> Layout {
        Layout {
            v2_only: true,
            unified: Some(
                ["cpuset", "cpu", "io", "memory", "hugetlb", "pids"]
                    .map(String::from)
                    .to_vec(),
            ),
            ..Default::default()
        }
    }

    /// This machine's shape: v1 controllers, a cgroup2 mount with hugetlb.
    fn hybrid() -> Layout {
        Layout {
            v1: [
                "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices", "freezer",
                "net_cls", "net_prio",
            ]
            .map(String::from)
            .to_vec(),
            unified: Some(vec!["hugetlb".into()]),
            ..Default::default()
        }
    }

    fn files(p: &Plan) -> Vec<(&str, &str, &str)> {
        p.writes
            .iter()
            .map(|w| (w.ctrl, w.file.as_str(), w.value.as_str()))
            .collect()
    }

    #[test]
    fn v2_every_resource() {
        let r = res(serde_json::json!({
            "memory": {"limit": 67108864, "swap": 100663296, "reservation": 33554432},
            "pids": {"limit": 30},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
            "blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
            "unified": {"memory.high": "50331648"},
            "devices": [{"allow": false, "access": "rwm"}]
        }));
        let p = plan(&r, &v2_only()).unwrap();
        assert_eq!(
            files(&p),
            vec![
                (UNIFIED, "memory.max", "67108864"),
                (UNIFIED, "memory.swap.max", "33554432"),
                (UNIFIED, "memory.low", "33554432"),
                (UNIFIED, "cpu.weight", "20"),
                (UNIFIED, "cpu.max", "50000 100000"),
                (UNIFIED, "cpuset.cpus", "0"),
                (UNIFIED, "cpuset.mems", "0"),
                (UNIFIED, "pids.max", "30"),
                (UNIFIED, "io.weight", "4950"),
                (UNIFIED, "io.max", "8:0 rbps=1048576"),
                (UNIFIED, "hugetlb.2MB.max", "4194304"),
                (UNIFIED, "memory.high", "50331648"),
            ]
        );
        assert!(p.devices.as_ref().is_some_and(|d| d.required));
    }

    #[test]
    fn v2_edge_values() {
        let p = plan(
            &res(
                serde_json::json!({"memory": {"limit": -1, "swap": -1}, "pids": {"limit": 0},
                "cpu": {"quota": -1}}),
            ),
            &v2_only(),
        )
        .unwrap();
        assert_eq!(
            files(&p),
            vec![
                (UNIFIED, "memory.max", "max"),
                (UNIFIED, "memory.swap.max", "max"),
                (UNIFIED, "cpu.max", "max 100000"),
                (UNIFIED, "pids.max", "max"),
            ]
        );
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262144), 10000);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10000);
        // swap below the limit: no swap at all, never negative.
        let p = plan(
            &res(serde_json::json!({"memory": {"limit": 100, "swap": 50}})),
            &v2_only(),
        )
        .unwrap();
        assert_eq!(p.writes[1].value, "0");
    }

    #[test]
    fn hybrid_is_v1_plus_unified() {
        let r = res(serde_json::json!({
            "memory": {"limit": 1000, "swap": 2000},
            "cpu": {"shares": 512},
            "pids": {"limit": 5},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
            "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}]
        }));
        let p = plan(&r, &hybrid()).unwrap();
        let f = files(&p);
        assert_eq!(f[0], ("memory", "memory.limit_in_bytes", "1000"));
        assert_eq!(p.writes[0].when, When::MayFail);
        assert_eq!(f[1], ("memory", "memory.memsw.limit_in_bytes", "2000"));
        assert_eq!(p.writes[2].when, When::Retry);
        assert!(f.contains(&("cpu", "cpu.shares", "512")));
        assert!(f.contains(&("pids", "pids.max", "5")));
        assert!(f.contains(&(UNIFIED, "hugetlb.2MB.max", "2097152")));
        assert!(f.contains(&("devices", "devices.deny", "a")));
        assert!(f.contains(&("devices", "devices.allow", "c 1:3 rw")));
        assert!(f.contains(&("devices", "devices.allow", "c 136:* rwm")));
        assert!(p.devices.as_ref().is_some_and(|d| !d.required));
    }

    #[test]
    fn missing_controllers_and_bad_keys_name_the_field() {
        let mut l = hybrid();
        l.v1.retain(|c| c != "pids");
        let e = plan(&res(serde_json::json!({"pids": {"limit": 5}})), &l)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linux.resources.pids") && e.contains("pids"),
            "{e}"
        );
        let e = plan(
            &res(serde_json::json!({"unified": {"../escape": "1"}})),
            &v2_only(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("linux.resources.unified"), "{e}");
        let e = plan(
            &res(serde_json::json!({"memory": {"swappiness": 101}})),
            &hybrid(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("swappiness"), "{e}");
        let mut l = hybrid();
        l.unified = None;
        assert!(plan(&res(serde_json::json!({"unified": {"a.b": "1"}})), &l).is_err());
        let mut l = hybrid();
        l.bfq = true;
        let p = plan(&res(serde_json::json!({"blockIO": {"weight": 300}})), &l).unwrap();
        assert_eq!(files(&p), vec![("blkio", "blkio.bfq.weight", "300")]);
    }
}
