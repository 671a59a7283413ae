//! Shared by the `check_*` tests: prerequisites (a failure under `CI=true`, a visible SKIP line
//! elsewhere) and running `stockade check --json`.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn stockade() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stockade"))
}

fn have(cmd: &str) -> bool {
    check::locate::which(cmd).is_some()
}

/// The static probe, or why the check tests cannot run. Under `CI=true` every prerequisite is
/// installed by scripts/install-deps, so a missing one fails the test; elsewhere it prints
/// `SKIP <test>: <why>` and the test returns.
pub fn prerequisites(test: &str) -> Option<PathBuf> {
    let why = (|| {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root (stockade check starts containers)".to_string());
        }
        for c in [
            "runc",
            "crun",
            "losetup",
            "mkfs.ext4",
            "unshare",
            "nsenter",
            "ip",
            "sleep",
        ] {
            if !have(c) {
                return Err(format!("{c} not installed (scripts/install-deps)"));
            }
        }
        if check::locate::busybox().is_none() {
            return Err("no static busybox (apt-get install busybox-static)".into());
        }
        check::locate::probe().map_err(|e| e.to_string())
    })();
    match why {
        Ok(p) => Some(p),
        Err(why) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{test}: prerequisite missing under CI=true: {why}");
            }
            // Straight to fd 2: libtest captures eprintln! of passing tests, and a skip must
            // be visible in a plain `cargo test`.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIP {test}: {why}");
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
    let r = run["results"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["id"] == id))
        .unwrap_or_else(|| panic!("{id} missing from {}", run["profile"]));
    (
        r["result"].as_str().unwrap_or("").to_string(),
        r["layer"].as_str().unwrap_or("").to_string(),
    )
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
