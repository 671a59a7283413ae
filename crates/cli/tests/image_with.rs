//! `stockade image --with MANIFEST`: the image's findings graded by whether their escape is
//! reachable under the workload that runs it, the manifest decoded by `stockade audit`'s readers
//! (a Kubernetes Pod, a compose service, an OCI config.json). An unreachable finding keeps its
//! severity, stays in the report, and does not count toward the exit code; a manifest that
//! cannot be decoded or holds no workload is one error, exit 2.

#[path = "../../scan/tests/image_support/mod.rs"]
mod image_support;

use image_support::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

fn stockade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stockade"))
        .args(args)
        .output()
        .unwrap()
}

/// An image with a setuid file, a device node, a `WorkingDir` under /proc/self/fd and a `User`
/// above 2^31-1, plus a plain credential-free file.
fn image(t: &Path) -> String {
    let mut l = Layer::new();
    l.file("etc/os-release", 0o644, b"ID=alpine\nVERSION_ID=3.20.3\n")
        .file("usr/bin/su", 0o4755, b"#!/bin/sh\n")
        .device("dev/sda", true, 8, 0);
    let d = t.join("layout");
    let layer = l.finish();
    write_oci(
        &d,
        &[(gzip(&layer), layer, GZ)],
        json!({"User": "4294967295", "WorkingDir": "/proc/self/fd/7"}),
    );
    format!("oci:{}", d.display())
}

fn graded(t: &Path, img: &str, manifest: &str, name: &str) -> (Option<i32>, Value) {
    let m = t.join(name);
    std::fs::write(&m, manifest).unwrap();
    let db = t.join("nodb");
    let o = stockade(&[
        "image",
        "-f",
        "json",
        "--db",
        db.to_str().unwrap(),
        "--with",
        m.to_str().unwrap(),
        img,
    ]);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code(), v)
}

/// rule id -> (reachable, why) of each graded finding; ungraded ones are absent.
fn grades(v: &Value) -> Vec<(String, bool, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["reachability"].is_null())
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_string(),
                f["reachability"]["reachable"].as_bool().unwrap(),
                f["reachability"]["why"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn grade_of(v: &Value, rule: &str) -> (bool, String) {
    let g = grades(v);
    let (_, r, why) = g
        .iter()
        .find(|(id, _, _)| id == rule)
        .unwrap_or_else(|| panic!("{rule} not graded: {g:?}"));
    (*r, why.clone())
}

#[test]
fn hardened_pod_makes_the_image_findings_unreachable() {
    let t = TempDir::new("with-pod");
    let img = image(t.path());
    // Without --with: all four findings count.
    let db = t.path().join("nodb");
    let o = stockade(&["image", "-f", "json", "--db", db.to_str().unwrap(), &img]);
    assert_eq!(o.status.code(), Some(1));
    let plain: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(grades(&plain).is_empty());
    let (code, v) = graded(
        t.path(),
        &img,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - name: app\n        image: web\n        workingDir: /srv\n        securityContext:\n          runAsUser: 1000\n          allowPrivilegeEscalation: false\n",
        "deploy.yaml",
    );
    for rule in ["SKD-IMG-010", "SKD-IMG-012", "SKD-IMG-021", "SKD-IMG-022"] {
        let (reachable, why) = grade_of(&v, rule);
        assert!(!reachable, "{rule}: {why}");
    }
    assert!(grade_of(&v, "SKD-IMG-010")
        .1
        .contains("spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation"));
    assert!(grade_of(&v, "SKD-IMG-021").1.contains("/srv"));
    assert!(grade_of(&v, "SKD-IMG-022").1.contains("uid 1000"));
    // Severities are the escape's, unchanged by the grade.
    for f in v["findings"].as_array().unwrap() {
        let same = plain["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["rule_id"] == f["rule_id"] && p["path"] == f["path"])
            .unwrap();
        assert_eq!(f["severity"], same["severity"]);
    }
    assert_eq!(code, Some(0), "nothing reachable: {v}");
}

#[test]
fn permissive_workloads_keep_them_reachable() {
    let t = TempDir::new("with-loose");
    let img = image(t.path());
    // A Pod that sets nothing: setuid reachable, the image's cwd and user apply.
    let (code, v) = graded(
        t.path(),
        &img,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: app\n    image: web\n",
        "pod.yaml",
    );
    assert_eq!(code, Some(1));
    for rule in ["SKD-IMG-010", "SKD-IMG-021", "SKD-IMG-022"] {
        assert!(grade_of(&v, rule).0, "{rule}");
    }
    assert!(!grade_of(&v, "SKD-IMG-012").0, "no privilege, no device");
    // A privileged compose service reaches the device node.
    let (_, v) = graded(
        t.path(),
        &img,
        "services:\n  web:\n    image: web\n    privileged: true\n",
        "compose.yaml",
    );
    let (reachable, why) = grade_of(&v, "SKD-IMG-012");
    assert!(reachable && why.contains("privileged"), "{why}");
    // An OCI config with noNewPrivileges: setuid unreachable.
    let (_, v) = graded(
        t.path(),
        &img,
        r#"{"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/", "noNewPrivileges": true, "user": {"uid": 0, "gid": 0}}, "root": {"path": "rootfs"}}"#,
        "config.json",
    );
    let (reachable, why) = grade_of(&v, "SKD-IMG-010");
    assert!(!reachable && why.contains("noNewPrivileges"), "{why}");
}

#[test]
fn bad_manifests_are_one_clear_error() {
    let t = TempDir::new("with-bad");
    let img = image(t.path());
    let db = t.path().join("nodb");
    for (name, text, says) in [
        (
            "broken.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: x\n",
            "broken.yaml:",
        ),
        ("Dockerfile", "FROM alpine\nRUN true\n", "no workload"),
        ("missing.yaml", "", "No such file"),
    ] {
        let m = t.path().join(name);
        if name != "missing.yaml" {
            std::fs::write(&m, text).unwrap();
        }
        let o = stockade(&[
            "image",
            "--db",
            db.to_str().unwrap(),
            "--with",
            m.to_str().unwrap(),
            &img,
        ]);
        assert_eq!(o.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(
            err.contains("--with") && err.contains(says),
            "{name}: {err}"
        );
        assert!(o.stdout.is_empty(), "{name}");
    }
}
