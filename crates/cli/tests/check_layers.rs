//! Every layer is load-bearing: for each defensive layer, a config that turns that ONE layer off
//! (relative to a fully hardened config) lets a specific technique succeed (escaped or exposed),
//! while the fully hardened config blocks it. Each config runs under stockade through
//! `stockade check --profile FILE --only TECHNIQUE --json`.
//!
//! | layer | technique | config delta (relative to the hardened config) |
//! |---|---|---|
//! | user namespace | `host-canary` | no `user` namespace, no uid/gid mappings: container root is host root and reads a root-only (0600) file of a host directory that is bind-mounted in |
//! | capabilities | `af-packet` | every capability of the host's bounding set instead of KILL, NET_BIND_SERVICE, AUDIT_WRITE |
//! | seccomp | `keyctl` | no `linux.seccomp` |
//! | no_new_privs | `no-new-privs` | `process.noNewPrivileges: false` |
//! | masked paths | `masked-paths` | `linux.maskedPaths: []` |
//! | read-only mounts | `core-pattern` | rw rootfs, `/sys` and cgroupfs (no `ro` option), no `readonlyPaths`; base: the hardened config without the user namespace (under a user namespace host-global knobs belong to host root, so no technique of the battery needs the read-only mounts) |
//! | cgroup limits | `fork-bomb` | no `linux.resources.pids` / `memory` |
//! | Landlock | `leaked-fds-cwd` | Landlock off (`landlock = false` in the runtime config named by `STOCKADE_RUNTIME_CONFIG`); in both configs a host directory reaches the container as fd 3 (`--preserve-fds 1`) |
//! | fd hygiene | `leaked-fds-cwd` | the runtime leaks a host fd of the bundle directory across the container's execve (`STOCKADE_TEST_UNSAFE=fd-hygiene`); base: Landlock off in both runs (Landlock alone would stop the leaked fd's use) |
//! | safe path resolution | `dev-null` | device bind targets joined as strings on the host and masks bound from the path `/dev/null` unchecked (`STOCKADE_TEST_UNSAFE=safe-path`); base: the image's `/dev` (no tmpfs on it) holds `null -> ../../decoy`, leading out of the rootfs on the host |
//!
//! `STOCKADE_TEST_UNSAFE` is honoured only by test builds of the runtime (the `test-unsafe-knobs`
//! feature, enabled by this crate's dev-dependencies, and debug assertions; see
//! crates/runtime/src/testknobs.rs). With a release-profile test build the two rows that need it
//! print `SKIP`.

mod check_support;
use check_support::{outcome, prerequisites, runs, stockade};
use serde_json::{json, Value};
use std::path::Path;

/// The fully hardened config: `stockade spec` (whatever the runtime's defaults are) with every
/// layer switched on explicitly. The host directory bind-mounted in is the workload's mistake
/// that the user-namespace row exercises.
fn hardened(dir: &Path) -> Value {
    let out = std::process::Command::new(stockade())
        .arg("spec")
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let caps = json!(["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]);
    c["process"]["capabilities"] = json!({
        "bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps
    });
    c["process"]["noNewPrivileges"] = json!(true);
    c["root"]["readonly"] = json!(true);
    let l = &mut c["linux"];
    let mut ns: Vec<Value> = l["namespaces"].as_array().cloned().unwrap_or_default();
    for t in ["pid", "network", "ipc", "uts", "mount", "cgroup", "user"] {
        if !ns.iter().any(|n| n["type"] == t) {
            ns.push(json!({"type": t}));
        }
    }
    l["namespaces"] = json!(ns);
    if l["uidMappings"]
        .as_array()
        .map(Vec::is_empty)
        .unwrap_or(true)
    {
        l["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        l["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    }
    l["seccomp"] = check::profile::docker_seccomp();
    l["maskedPaths"] = json!(check::profile::DOCKER_MASKED);
    l["readonlyPaths"] = json!(check::profile::DOCKER_READONLY);
    if !l["resources"].is_object() {
        l["resources"] = json!({});
    }
    l["resources"]["pids"] = json!({"limit": 64});
    l["resources"]["memory"] = json!({"limit": 64u64 << 20});
    let mounts = c["mounts"].as_array_mut().unwrap();
    for m in mounts.iter_mut() {
        if m["destination"] == "/sys" || m["destination"] == "/sys/fs/cgroup" {
            let opts = m["options"].as_array_mut().unwrap();
            if !opts.iter().any(|o| o == "ro") {
                opts.push(json!("ro"));
            }
        }
    }
    mounts.push(json!({"destination": "/hostdir", "type": "bind", "source": "@hostdir", "options": ["rbind", "ro"]}));
    c
}

fn no_userns(c: &mut Value) {
    let l = &mut c["linux"];
    let ns: Vec<Value> = l["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "user")
        .cloned()
        .collect();
    l["namespaces"] = json!(ns);
    l.as_object_mut().unwrap().remove("uidMappings");
    l.as_object_mut().unwrap().remove("gidMappings");
}

fn all_caps(c: &mut Value) {
    let caps = json!(check::profile::host_caps());
    c["process"]["capabilities"] = json!({
        "bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps
    });
}

fn no_seccomp(c: &mut Value) {
    c["linux"].as_object_mut().unwrap().remove("seccomp");
}

fn no_nnp(c: &mut Value) {
    c["process"]["noNewPrivileges"] = json!(false);
}

fn no_masks(c: &mut Value) {
    c["linux"]["maskedPaths"] = json!([]);
}

fn rw_mounts(c: &mut Value) {
    c["root"]["readonly"] = json!(false);
    c["linux"]["readonlyPaths"] = json!([]);
    for m in c["mounts"].as_array_mut().unwrap() {
        if m["type"] == "bind" {
            continue;
        }
        if let Some(o) = m["options"].as_array_mut() {
            o.retain(|o| o != "ro");
        }
    }
}

fn no_limits(c: &mut Value) {
    let r = c["linux"]["resources"].as_object_mut().unwrap();
    r.remove("pids");
    r.remove("memory");
}

/// A host directory reaches the container as fd 3 (`--preserve-fds 1`).
fn pass_host_fd(c: &mut Value) {
    c["annotations"][check::runner::PRESERVE_HOSTDIR_FD] = json!("true");
}

/// Landlock, fd hygiene and safe path resolution are the runtime's, not the config's: their
/// delta is in the runtime's environment ([`Row::env_off`]), the config is unchanged.
fn unchanged(_: &mut Value) {}

struct Row {
    layer: &'static str,
    technique: &'static str,
    /// Applied to both configs of the row (the workload the row needs).
    setup: fn(&mut Value),
    delta: fn(&mut Value),
    /// Extra environment for both runs (the base the row needs).
    env_both: &'static [(&'static str, &'static str)],
    /// Extra environment for the "layer off" run.
    env_off: &'static [(&'static str, &'static str)],
}

const LANDLOCK_OFF: &str = "STOCKADE_RUNTIME_CONFIG";
const UNSAFE: &str = "STOCKADE_TEST_UNSAFE";

/// The image's own `/dev` (no tmpfs mounted on it) with `/dev/null -> ../../decoy`: inside the
/// root that is `/decoy`, followed on the host from `<rootfs>/dev` it leaves the rootfs (see
/// `check::runner::DEV_NULL_SYMLINK`).
fn dev_null_symlink(c: &mut Value) {
    c["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/dev");
    c["annotations"][check::runner::DEV_NULL_SYMLINK] = json!("true");
}

const ROWS: &[Row] = &[
    Row {
        layer: "user namespace",
        technique: "host-canary",
        setup: unchanged,
        delta: no_userns,
        env_both: &[],
        env_off: &[],
    },
    Row {
        layer: "capabilities",
        technique: "af-packet",
        setup: unchanged,
        delta: all_caps,
        env_both: &[],
        env_off: &[],
    },
    Row {
        layer: "seccomp",
        technique: "keyctl",
        setup: unchanged,
        delta: no_seccomp,
        env_both: &[],
        env_off: &[],
    },
    Row {
        layer: "no_new_privs",
        technique: "no-new-privs",
        setup: unchanged,
        delta: no_nnp,
        env_both: &[],
        env_off: &[],
    },
    Row {
        layer: "masked paths",
        technique: "masked-paths",
        setup: unchanged,
        delta: no_masks,
        env_both: &[],
        env_off: &[],
    },
    // Under a user namespace no technique of the battery needs read-only mounts (host-global
    // knobs are host root's; see docs/check.md), so this row's base is the hardened config
    // without the user namespace.
    Row {
        layer: "read-only mounts",
        technique: "core-pattern",
        setup: no_userns,
        delta: rw_mounts,
        env_both: &[],
        env_off: &[],
    },
    Row {
        layer: "cgroup limits",
        technique: "fork-bomb",
        setup: unchanged,
        delta: no_limits,
        env_both: &[],
        env_off: &[],
    },
    Row {
        layer: "Landlock",
        technique: "leaked-fds-cwd",
        setup: pass_host_fd,
        delta: unchanged,
        env_both: &[],
        env_off: &[(LANDLOCK_OFF, "@landlock-off")],
    },
    // Landlock alone would stop the use of a leaked host fd (the row above): this row's base
    // has it off, so fd hygiene is the only layer left.
    Row {
        layer: "fd hygiene",
        technique: "leaked-fds-cwd",
        setup: unchanged,
        delta: unchanged,
        env_both: &[(LANDLOCK_OFF, "@landlock-off")],
        env_off: &[(UNSAFE, "fd-hygiene")],
    },
    Row {
        layer: "safe path resolution",
        technique: "dev-null",
        setup: dev_null_symlink,
        delta: unchanged,
        env_both: &[],
        env_off: &[(UNSAFE, "safe-path")],
    },
];

#[test]
fn every_layer_is_load_bearing() {
    let Some(probe) = prerequisites("every_layer_is_load_bearing") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("stockade-check-layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let landlock_off = dir.join("runtime-landlock-off.toml");
    std::fs::write(&landlock_off, "landlock = false\n").unwrap();
    let full = hardened(&dir);
    let full_path = dir.join("hardened.json");
    std::fs::write(&full_path, serde_json::to_string_pretty(&full).unwrap()).unwrap();

    let mut failures = Vec::new();
    let mut table = String::from("LAYER  TECHNIQUE  ON  OFF\n");
    let env_of = |vars: &[&[(&'static str, &'static str)]]| -> Vec<(&'static str, String)> {
        vars.iter()
            .flat_map(|v| v.iter())
            .map(|(k, v)| {
                let v = if *v == "@landlock-off" {
                    landlock_off.display().to_string()
                } else {
                    v.to_string()
                };
                (*k, v)
            })
            .chain([("STOCKADE_POLICY", "off".to_string())])
            .collect()
    };
    for (i, row) in ROWS.iter().enumerate() {
        if row.env_off.iter().any(|(k, _)| *k == UNSAFE) && !cfg!(debug_assertions) {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIP {} row: a release-profile stockade never honours {UNSAFE} (testknobs.rs)",
                row.layer
            );
            continue;
        }
        let mut base = full.clone();
        (row.setup)(&mut base);
        let on_path = dir.join(format!("on-{i}.json"));
        std::fs::write(&on_path, serde_json::to_string_pretty(&base).unwrap()).unwrap();
        let env = env_of(&[row.env_both]);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let on = runs(
            &probe,
            &[
                "--profile",
                on_path.to_str().unwrap(),
                "--only",
                row.technique,
            ],
            &env,
        );
        let mut c = base.clone();
        (row.delta)(&mut c);
        let path = dir.join(format!("off-{i}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
        let env = env_of(&[row.env_both, row.env_off]);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let off = runs(
            &probe,
            &["--profile", path.to_str().unwrap(), "--only", row.technique],
            &env,
        );
        let (on_res, on_layer) = outcome(&on[0], row.technique);
        let on_res_layer = if on_layer.is_empty() {
            on_res.clone()
        } else {
            format!("{on_res}({on_layer})")
        };
        let (off_res, _) = outcome(&off[0], row.technique);
        let blocked_on = on_res == "blocked";
        let succeeds_off = off_res == "escaped" || off_res == "exposed";
        table.push_str(&format!(
            "{}  {}  {on_res_layer}  {off_res}\n",
            row.layer, row.technique
        ));
        if blocked_on && succeeds_off {
            continue;
        }
        failures.push(format!(
            "{}: {} is {on_res_layer} with the layer on, {off_res} with it off",
            row.layer, row.technique
        ));
    }
    eprintln!("{table}");
    if std::env::var_os("STOCKADE_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(
        failures.is_empty(),
        "layers not load-bearing:\n{}",
        failures.join("\n")
    );
}
