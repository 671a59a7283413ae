//! Shared by the `check_*` tests: prerequisites (a failure under `CI=true`, a visible SKIP line
//! elsewhere) and running `stockade check --json`.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn stockade() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stockade"))
}

/// The static probe, or `None` when the check tests cannot run here: [`testkit::skip`] (a
/// failure under `CI=true`, where scripts/install-deps installs everything).
pub fn prerequisites(_test: &str) -> Option<PathBuf> {
    if !testkit::require_root()
        || !testkit::require(&[
            "runc",
            "crun",
            "losetup",
            "mkfs.ext4",
            "unshare",
            "nsenter",
            "ip",
            "sleep",
        ])
    {
        return None;
    }
    if check::locate::busybox().is_none() {
        testkit::skip("no static busybox (apt-get install busybox-static)");
        return None;
    }
    match check::locate::probe() {
        Ok(p) => Some(p),
        Err(e) => {
            testkit::skip(&e.to_string());
            None
        }
    }
}

/// Run `stockade check ARGS --probe PROBE` with extra environment; returns (exit code, stdout,
/// stderr).
pub fn run(probe: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(stockade());
    cmd.arg("check").args(args).arg("--probe").arg(probe);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run stockade check");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `stockade check ARGS --json`: the runs of the JSON document (each must have run).
pub fn runs(probe: &Path, args: &[&str], env: &[(&str, &str)]) -> Vec<Value> {
    let mut a = args.to_vec();
    a.push("--json");
    let (code, stdout, stderr) = run(probe, &a, env);
    let v: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("check {args:?}: bad JSON ({e}): {stdout}\n{stderr}"));
    assert_eq!(v["schema"], "stockade.check/v1");
    let runs = v["runs"].as_array().expect("runs").clone();
    assert_eq!(code, 0, "check {args:?} exited {code}: {stderr}\n{stdout}");
    for r in &runs {
        assert!(r["error"].is_null(), "check {args:?}: {}", r["error"]);
    }
    runs
}

/// `(result, layer)` of technique `id` in one run.
pub fn outcome(run: &Value, id: &str) -> (String, String) {
    let (res, layer, _) = result_of(run, id);
    (res, layer)
}

/// `(result, layer, detail)` of technique `id` in one run.
pub fn result_of(run: &Value, id: &str) -> (String, String, String) {
    let r = run["results"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["id"] == id))
        .unwrap_or_else(|| panic!("{id} missing from {}", run["profile"]));
    let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
    (text("result"), text("layer"), text("detail"))
}

/// Ids of the techniques with result `kind`.
pub fn ids_with(run: &Value, kind: &str) -> Vec<String> {
    run["results"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter(|r| r["result"] == kind)
                .filter_map(|r| r["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
