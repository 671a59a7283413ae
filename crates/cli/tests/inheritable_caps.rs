//! SKD-ESC-070 (issue 18, item 5): capability sets beyond CapEff. An inheritable set beyond
//! runc's default three is a finding of `stockade audit` on an OCI config and of the runtime's
//! policy gate (the same evaluation); the battery's `inheritable-caps` technique (E45) is in
//! crates/probe and crates/cli/tests/check_battery.rs.

mod runtime_support;
use runtime_support::*;
use serde_json::json;
use std::process::Command;

fn config_with_inheritable(dir: &std::path::Path, extra: &[&str]) -> std::path::PathBuf {
    let out = Command::new(env!("CARGO_BIN_EXE_stockade"))
        .args(["spec", "--bundle"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = dir.join("config.json");
    let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    for set in [
        "bounding",
        "effective",
        "permitted",
        "inheritable",
        "ambient",
    ] {
        let a = cfg["process"]["capabilities"][set].as_array_mut().unwrap();
        for c in extra {
            a.push(json!(c));
        }
    }
    std::fs::write(&p, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    p
}

fn audit_ids(path: &std::path::Path) -> Vec<(String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_stockade"))
        .args(["audit", "-f", "json"])
        .arg(path)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or("").to_string(),
                f["field"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn audit_flags_inheritable_capabilities_beyond_the_default() {
    let dir = std::env::temp_dir().join(format!("skd-inh-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // `stockade spec` as is: runc's default three in the inheritable and ambient sets, no finding
    let p = config_with_inheritable(&dir, &[]);
    let ids = audit_ids(&p);
    assert!(!ids.iter().any(|(id, _)| id == "SKD-ESC-070"), "{ids:?}");
    // one capability more: one finding, on the inheritable set
    std::fs::remove_file(&p).unwrap();
    let p = config_with_inheritable(&dir, &["CAP_SETUID"]);
    let ids = audit_ids(&p);
    let hits: Vec<_> = ids.iter().filter(|(id, _)| id == "SKD-ESC-070").collect();
    assert_eq!(hits.len(), 1, "{ids:?}");
    assert!(
        hits[0].1.contains("process.capabilities.inheritable"),
        "{ids:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_gate_warns_by_default_and_refuses_at_baseline() {
    if !need_root() {
        return;
    }
    let env = Env::new("inhcap");
    let b = env.bundle("b", &["true"], |_| {});
    std::fs::remove_file(b.join("config.json")).unwrap();
    config_with_inheritable(&b, &["CAP_SETUID"]);
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    cfg["process"]["terminal"] = json!(false);
    cfg["process"]["args"] = json!(["true"]);
    std::fs::create_dir_all(b.join("rootfs/run")).unwrap();
    std::fs::write(b.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    let id = env.id("i");
    // the default policy refuses only critical findings: a medium one is a warning in the log
    let mut c = env.cmd();
    c.env_remove("STOCKADE_POLICY");
    c.args(["run", "-b", b.to_str().unwrap(), &id]);
    let out = env.output(c);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let log = std::fs::read_to_string(env.root.join("stockade.log")).unwrap_or_default();
    assert!(
        log.contains("level=warning") && log.contains("SKD-ESC-070"),
        "{log}"
    );
    // full baseline refuses it, naming rule and field, and leaves nothing behind
    let mut c = env.cmd();
    c.env_remove("STOCKADE_POLICY");
    c.args([
        "--policy",
        "baseline",
        "run",
        "-b",
        b.to_str().unwrap(),
        &id,
    ]);
    let out = env.output(c);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("SKD-ESC-070") && err.contains("process.capabilities.inheritable"),
        "{err}"
    );
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}
