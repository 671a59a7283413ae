//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup is
//! a transient scope made by systemd over D-Bus.
//!
//! Bad input and an unreachable systemd run everywhere (this machine has no
//! systemd: that case is real here). The lifecycle tests need systemd as
//! PID 1 with cgroup v2: they run in the realhost guest
//! (realhost/realhost.sh), and print `SKIP:` elsewhere.

mod runtime_support;
use runtime_support::*;
use serde_json::json;
use std::process::Command;

fn systemd_booted() -> bool {
    std::path::Path::new("/run/systemd/system").is_dir()
}

/// Whether systemd (PID 1, cgroup v2) can run the lifecycle tests; says
/// why not.
fn need_systemd(test: &str) -> bool {
    if !need_root() {
        return false;
    }
    if !systemd_booted() {
        println!(
            "SKIP: {test}: systemd is not PID 1 on this host (runs in the realhost guest: realhost/realhost.sh)"
        );
        return false;
    }
    true
}

/// `systemctl show -p PROP --value UNIT`.
fn show(unit: &str, prop: &str) -> String {
    let o = Command::new("systemctl")
        .args(["show", "-p", prop, "--value", unit])
        .output()
        .expect("systemctl");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Units systemd has (loaded in any state) whose name holds `needle`.
fn units_named(needle: &str) -> Vec<String> {
    if !systemd_booted() {
        return Vec::new();
    }
    let o = Command::new("systemctl")
        .args(["list-units", "--all", "--no-legend", "--plain"])
        .output()
        .expect("systemctl");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

/// `--systemd-cgroup create` with a bundle; the one error line, after
/// checking that nothing is left (state, cgroups, mounts, processes, units).
fn refused(env: &Env, bundle: &std::path::Path, name: &str, bus: Option<&str>) -> String {
    let before = env.footprint();
    let id = env.id(name);
    let mut c = env.cmd();
    if let Some(a) = bus {
        c.env("DBUS_SYSTEM_BUS_ADDRESS", a);
    }
    c.args(["--systemd-cgroup", "create", "--bundle"])
        .arg(bundle)
        .arg(&id);
    let out = env.output(c);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{name}: {err}");
    assert_eq!(err.lines().count(), 1, "{name}: one line, got {err:?}");
    let after = env.footprint();
    assert_eq!(before, after, "{name}: left something behind");
    assert!(after.is_empty(), "{after:?}");
    assert_eq!(units_named(&env.prefix), Vec::<String>::new(), "{name}");
    err
}

#[test]
fn unreachable_systemd_is_one_clear_error() {
    if !need_root() {
        return;
    }
    let env = Env::new("sdnobus");
    let b = env.bundle("b", &["true"], |c| {
        c["linux"]["resources"] = json!({"memory": {"limit": 67108864}});
    });
    // A bus address where nothing listens: the same on a host with systemd.
    let sock = format!("unix:path={}", env.dir.join("no-bus").display());
    let err = refused(&env, &b, "nobus", Some(&sock));
    for w in ["--systemd-cgroup", "D-Bus", "systemd", "no-bus"] {
        assert!(err.contains(w), "{w}: {err}");
    }
    // The system's own bus address: on this machine (no systemd) the
    // same error, naming the socket.
    if !systemd_booted() {
        let err = refused(&env, &b, "nosysbus", None);
        assert!(
            err.contains("/run/dbus/system_bus_socket") && err.contains("is systemd running"),
            "{err}"
        );
    }
}

#[test]
fn malformed_cgroups_path_is_refused_before_anything_is_made() {
    if !need_root() {
        return;
    }
    let env = Env::new("sdbadpath");
    for (i, (path, says)) in [
        ("a:b", "2 part(s)"),
        ("x.slice:p:", "empty name"),
        ("/abs/path", "1 part(s)"),
        ("system:p:n", "does not end in .slice"),
        ("a--b.slice:p:n", "empty part"),
        ("a/b.slice:p:n", "no '/'"),
        ("system.slice:p:x.slice", "names a slice"),
        ("system.slice:p:a/b", "systemd refuses"),
    ]
    .iter()
    .enumerate()
    {
        let b = env.bundle(&format!("b{i}"), &["true"], |c| {
            c["linux"]["cgroupsPath"] = json!(path);
        });
        let err = refused(&env, &b, &format!("p{i}"), None);
        for w in ["linux.cgroupsPath", path, says, "slice:prefix:name"] {
            assert!(err.contains(w), "{path}: {w}: {err}");
        }
    }
}

#[test]
fn systemd_path_without_the_flag_says_to_add_it() {
    if !need_root() {
        return;
    }
    let env = Env::new("sdnoflag");
    let b = env.bundle("b", &["true"], |c| {
        c["linux"]["cgroupsPath"] = json!("system.slice:stockade:x");
    });
    let before = env.footprint();
    let out = env.stockade(&["create", "--bundle", b.to_str().unwrap(), &env.id("x")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("linux.cgroupsPath") && err.contains("--systemd-cgroup"),
        "{err}"
    );
    assert_eq!(env.footprint(), before);
}

#[test]
fn features_say_systemd() {
    let env = Env::new("sdfeat");
    let out = env.stockade(&["features"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["linux"]["cgroup"]["systemd"], json!(true), "{v}");
    assert_eq!(v["linux"]["cgroup"]["systemdUser"], json!(true), "{v}");
}

/// The whole life of a container under the driver: the scope exists while
/// it runs with MemoryMax set, pause/resume, events --stats, update changes
/// MemoryMax, kill --all, delete stops it and leaves no unit.
#[test]
fn scope_lifecycle() {
    if !need_systemd("scope_lifecycle") {
        return;
    }
    let env = Env::new("sdlife");
    let id = env.id("c");
    let unit = format!("{}-{id}.scope", env.prefix);
    let b = env.bundle("b", &["sleep", "600"], |c| {
        c["linux"]["cgroupsPath"] = json!(format!("system.slice:{}:{id}", env.prefix));
        c["linux"]["resources"] = json!({
            "memory": {"limit": 67108864},
            "pids": {"limit": 50},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000},
        });
    });
    let sd = |args: &[&str]| {
        let mut c = env.cmd();
        c.arg("--systemd-cgroup").args(args);
        env.output(c)
    };
    let out = sd(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(show(&unit, "ActiveState"), "active");
    assert_eq!(show(&unit, "Slice"), "system.slice");
    assert_eq!(show(&unit, "MemoryMax"), "67108864");
    assert_eq!(show(&unit, "TasksMax"), "50");
    assert_eq!(show(&unit, "Delegate"), "yes");
    let cg = format!("/sys/fs/cgroup{}", show(&unit, "ControlGroup"));
    assert_eq!(cg, format!("/sys/fs/cgroup/system.slice/{unit}"));
    let read = |f: &str| {
        std::fs::read_to_string(format!("{cg}/{f}"))
            .unwrap_or_else(|e| panic!("{cg}/{f}: {e}"))
            .trim()
            .to_string()
    };
    assert_eq!(read("memory.max"), "67108864");
    assert_eq!(read("pids.max"), "50");
    assert_eq!(read("cpu.max"), "50000 100000");
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    assert!(
        read("cgroup.procs").lines().any(|l| l == pid.to_string()),
        "the init {pid} is in the scope"
    );
    // Later commands use the driver recorded in the state (no flag).
    let out = env.stockade(&["pause", &id]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(env.state(&id)["status"], "paused");
    let out = env.stockade(&["resume", &id]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(env.state(&id)["status"], "running");
    let out = env.stockade(&["events", "--stats", &id]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["data"]["memory"]["usage"]["limit"],
        json!(67108864),
        "{v}"
    );
    assert_eq!(v["data"]["pids"]["limit"], json!(50), "{v}");
    let out = env.stockade(&["update", "--memory", "128m", "--pids-limit", "70", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(show(&unit, "MemoryMax"), "134217728");
    assert_eq!(show(&unit, "TasksMax"), "70");
    assert_eq!(read("memory.max"), "134217728");
    assert_eq!(read("pids.max"), "70");
    let out = env.stockade(&["kill", "--all", &id, "KILL"]);
    assert!(out.status.success(), "{out:?}");
    for _ in 0..100 {
        if env.state(&id)["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(env.state(&id)["status"], "stopped");
    let out = env.stockade(&["delete", &id]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(units_named(&unit), Vec::<String>::new());
    assert!(!std::path::Path::new(&cg).exists(), "{cg} is gone");
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

/// `delete --force` of a running container stops its unit; the default
/// path (empty cgroupsPath) is `system.slice:stockade:<id>`; a slice that
/// does not exist yet is made by systemd, as for runc.
#[test]
fn default_path_and_a_new_slice() {
    if !need_systemd("default_path_and_a_new_slice") {
        return;
    }
    let env = Env::new("sdslice");
    let slice = format!("{}-test.slice", env.prefix);
    let cases = [
        ("d", String::new(), "stockade", "system.slice".to_string()),
        ("s", format!("{slice}:pfx:"), "pfx", slice.clone()),
    ];
    for (name, path, prefix, want_slice) in cases {
        let id = env.id(name);
        let b = env.bundle(name, &["sleep", "600"], |c| {
            if !path.is_empty() {
                c["linux"]["cgroupsPath"] = json!(format!("{path}{id}"));
            }
        });
        let unit = format!("{prefix}-{id}.scope");
        let mut c = env.cmd();
        c.args(["--systemd-cgroup", "run", "-d", "--bundle"])
            .arg(&b)
            .arg(&id);
        let out = env.output(c);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(show(&unit, "ActiveState"), "active", "{unit}");
        assert_eq!(show(&unit, "Slice"), want_slice);
        let out = env.stockade(&["delete", "--force", &id]);
        assert!(out.status.success(), "{out:?}");
        assert_eq!(units_named(&unit), Vec::<String>::new());
    }
    let _ = Command::new("systemctl")
        .args(["stop", &format!("{}-test.slice", env.prefix)])
        .status();
}

/// A container whose unit name is taken by a running one is refused and
/// leaves the running one alone.
#[test]
fn unit_name_in_use() {
    if !need_systemd("unit_name_in_use") {
        return;
    }
    let env = Env::new("sdtaken");
    let path = format!("system.slice:{}:same", env.prefix);
    let b = env.bundle("b", &["sleep", "600"], |c| {
        c["linux"]["cgroupsPath"] = json!(path);
    });
    let run = |id: &str| {
        let mut c = env.cmd();
        c.args(["--systemd-cgroup", "run", "-d", "--bundle"])
            .arg(&b)
            .arg(id);
        env.output(c)
    };
    let first = env.id("a");
    assert!(run(&first).status.success());
    let out = run(&env.id("b"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("already exists"), "{err}");
    let unit = format!("{}-same.scope", env.prefix);
    assert_eq!(show(&unit, "ActiveState"), "active");
    assert_eq!(env.state(&first)["status"], "running");
    assert!(env
        .stockade(&["delete", "--force", &first])
        .status
        .success());
    assert_eq!(units_named(&unit), Vec::<String>::new());
}

/// A slice systemd will not start (masked: `systemctl mask`, as an
/// administrator switches one off) is one clear error naming the slice, and
/// nothing is left: no scope unit, no cgroup, no state, no process. A slice
/// that merely does not exist yet is made by systemd, as for runc
/// ([`default_path_and_a_new_slice`]).
#[test]
fn masked_slice_is_one_clear_error() {
    if !need_systemd("masked_slice_is_one_clear_error") {
        return;
    }
    let env = Env::new("sdmasked");
    let slice = format!("{}-off.slice", env.prefix);
    let id = env.id("m");
    let b = env.bundle("b", &["sleep", "600"], |c| {
        c["linux"]["cgroupsPath"] = json!(format!("{slice}:pfx:{id}"));
        c["linux"]["resources"] = json!({"memory": {"limit": 67108864}});
    });
    let mask = Command::new("systemctl")
        .args(["mask", &slice])
        .output()
        .expect("systemctl mask");
    assert!(mask.status.success(), "{mask:?}");
    struct Unmask(String);
    impl Drop for Unmask {
        fn drop(&mut self) {
            let _ = Command::new("systemctl").args(["unmask", &self.0]).status();
        }
    }
    let _unmask = Unmask(slice.clone());
    let before = env.footprint();
    let mut c = env.cmd();
    c.args(["--systemd-cgroup", "run", "-d", "--bundle"])
        .arg(&b)
        .arg(&id);
    let out = env.output(c);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line, got {err:?}");
    assert!(err.contains(&slice) && err.contains("masked"), "{err}");
    assert_eq!(env.footprint(), before, "left something behind");
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
    // The scope (pfx-<id>.scope) is not left loaded, failed or otherwise
    // (systemd unloads an inactive transient unit on its next GC pass).
    for _ in 0..50 {
        if units_named(&id).is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(units_named(&id), Vec::<String>::new(), "{err}");
}
