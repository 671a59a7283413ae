//! `stockade image` and `stockade db` as a user runs them: JSON (`stockade.image/v1`), SARIF
//! (checked by Microsoft's SARIF validator when installed), a CycloneDX SBOM (decoded by Syft,
//! which must see the same packages), exit codes as for audit, `db import`/`db info`, the
//! `--max-db-age` warning, and bad input (one line naming the problem, exit 2).

#[path = "../../scan/tests/image_support/mod.rs"]
mod image_support;

use image_support::*;
use std::path::Path;
use std::process::{Command, Output};

fn stockade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stockade"))
        .args(args)
        .output()
        .unwrap()
}

fn small_image(t: &Path) -> String {
    let mut l = Layer::new();
    l.file("etc/os-release", 0o644, b"ID=alpine\nVERSION_ID=3.20.3\n")
        .file(
            "lib/apk/db/installed",
            0o644,
            b"P:musl\nV:1.2.5-r0\no:musl\n\nP:busybox\nV:1.36.1-r29\no:busybox\n\n",
        )
        .file("usr/bin/su", 0o4755, b"#!/bin/sh\n");
    let d = t.join("layout");
    let layer = l.finish();
    write_oci(
        &d,
        &[(gzip(&layer), layer, GZ)],
        serde_json::json!({"User": "1000"}),
    );
    format!("oci:{}", d.display())
}

#[test]
fn json_report_and_exit_codes() {
    let t = TempDir::new("cli-json");
    let img = small_image(t.path());
    let db = t.path().join("db");
    let db = db.to_str().unwrap();
    let o = stockade(&["image", "-f", "json", "--db", db, &img]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("no vulnerability data"));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], "stockade.image/v1");
    let pkgs = v["packages"].as_array().unwrap();
    assert_eq!(pkgs.len(), 2);
    assert_eq!(pkgs[0]["type"], "apk");
    assert_eq!(pkgs[0]["layer"], 0);
    assert!(pkgs
        .iter()
        .any(|p| p["name"] == "musl" && p["version"] == "1.2.5-r0"));
    let f = &v["findings"].as_array().unwrap()[0];
    assert_eq!(f["rule_id"], "SKD-IMG-010");
    assert_eq!(f["severity"], "medium");
    assert_eq!(f["path"], "/usr/bin/su");
    assert_eq!(f["layer"], 0);
    assert!(f["cves"].is_array());
    // Below --fail-on: exit 0.
    let o = stockade(&["image", "--fail-on", "high", "--db", db, &img]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("SKD-IMG-010"));
}

#[test]
fn sarif_is_valid() {
    let t = TempDir::new("cli-sarif");
    let img = small_image(t.path());
    let out = t.path().join("out.sarif");
    let o = stockade(&["image", "-f", "sarif", "-o", out.to_str().unwrap(), &img]);
    assert_eq!(o.status.code(), Some(1));
    let text = std::fs::read(&out).unwrap();
    let typed: serde_sarif::sarif::Sarif = serde_json::from_slice(&text).unwrap();
    let results = typed.runs[0].results.as_ref().unwrap();
    assert_eq!(results[0].rule_id.as_deref(), Some("SKD-IMG-010"));
    let tool = std::env::var("SARIF_MULTITOOL")
        .unwrap_or_else(|_| "/opt/stockade-ci/node_modules/.bin/sarif-multitool".into());
    if !Path::new(&tool).exists() {
        skip("sarif-multitool (npm @microsoft/sarif-multitool, scripts/install-deps) is missing");
        return;
    }
    let res = t.path().join("validation.sarif");
    let o = Command::new(&tool)
        .arg("validate")
        .arg(&out)
        .arg("-o")
        .arg(&res)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&res).unwrap()).unwrap();
    let errors: Vec<&serde_json::Value> = v["runs"][0]["results"]
        .as_array()
        .map(|a| a.iter().filter(|r| r["level"] == "error").collect())
        .unwrap_or_default();
    assert!(
        errors.is_empty(),
        "{errors:#?} {}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn cyclonedx_sbom_is_read_back_by_syft() {
    let t = TempDir::new("cli-cdx");
    let img = small_image(t.path());
    let out = t.path().join("sbom.cdx.json");
    let o = stockade(&[
        "image",
        "-f",
        "cyclonedx",
        "-o",
        out.to_str().unwrap(),
        &img,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["bomFormat"], "CycloneDX");
    assert_eq!(v["specVersion"], "1.5");
    assert_eq!(
        v["components"][0]["purl"],
        "pkg:apk/alpine/musl@1.2.5-r0?distro=alpine-3.20.3"
    );
    let Some(syft) = syft() else {
        skip("syft is needed to read the SBOM back");
        return;
    };
    let o = Command::new(syft)
        .args(["convert", out.to_str().unwrap(), "-o", "syft-json"])
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut got: Vec<String> = s["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {} {}",
                a["name"].as_str().unwrap(),
                a["version"].as_str().unwrap(),
                a["purl"].as_str().unwrap_or("")
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "busybox 1.36.1-r29 pkg:apk/alpine/busybox@1.36.1-r29?distro=alpine-3.20.3",
            "musl 1.2.5-r0 pkg:apk/alpine/musl@1.2.5-r0?distro=alpine-3.20.3"
        ]
    );
}

#[test]
fn db_import_info_and_age_warning() {
    let t = TempDir::new("cli-db");
    let db = t.path().join("db");
    let db = db.to_str().unwrap();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../scan/tests/fixtures/osv/go");
    let o = stockade(&["db", "import", "--db", db, fixtures]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("imported 1 OSV records"));
    let o = stockade(&["db", "info", "--db", db]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("1 records") && out.contains("2024-02-06T18:00:00Z"),
        "{out}"
    );
    let img = small_image(t.path());
    let o = stockade(&["image", "--db", db, "--max-db-age", "30", &img]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("days old (more than --max-db-age 30)"),
        "{err}"
    );
    // A store that is not one: exit 2, naming it.
    std::fs::write(format!("{db}/osv-store.json"), b"{").unwrap();
    let o = stockade(&["image", "--db", db, &img]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("osv-store.json"));
    let o = stockade(&["db", "import", "--db", db, "/nonexistent-osv"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let t = TempDir::new("cli-bad");
    let img = small_image(t.path());
    // Flip a byte of the largest blob: a digest mismatch or a decode error, never a pass.
    let dir = img.strip_prefix("oci:").unwrap();
    let mut largest = None;
    for e in std::fs::read_dir(format!("{dir}/blobs/sha256")).unwrap() {
        let p = e.unwrap().path();
        let n = std::fs::metadata(&p).unwrap().len();
        if largest.as_ref().is_none_or(|(m, _)| n > *m) {
            largest = Some((n, p));
        }
    }
    let (_, blob) = largest.unwrap();
    let mut b = std::fs::read(&blob).unwrap();
    let at = b.len() / 2;
    b[at] ^= 0xff;
    std::fs::write(&blob, b).unwrap();
    let o = stockade(&["image", &img]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("stockade: ") && !l.contains("warning"))
        .unwrap();
    // The altered blob (layer or config, whichever is larger) is named by its digest.
    assert!(line.contains("sha256:") && line.contains(dir), "{err}");
    assert!(o.stdout.is_empty());
    // An input without its kind.
    let o = stockade(&["image", "/tmp"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("oci:DIR"));
    // A corrupt package database: reported as SKD-IMG-071, exit 2.
    let mut l = Layer::new();
    l.file("lib/apk/db/installed", 0o644, b"P:musl\n\n");
    let d = t.path().join("corrupt");
    let layer = l.finish();
    write_oci(&d, &[(layer.clone(), layer, PLAIN)], serde_json::json!({}));
    let o = stockade(&["image", &format!("oci:{}", d.display())]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stdout).contains("SKD-IMG-071"));
}

#[test]
fn vex_and_ignore_file_suppress_reviewed_findings() {
    let t = TempDir::new("cli-vex");
    let status = "Package: runc\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.1.5+ds1-1+deb12u1\n";
    let mut l = Layer::new();
    l.file("etc/os-release", 0o644, b"ID=debian\nVERSION_ID=\"12\"\n")
        .file("var/lib/dpkg/status", 0o644, status.as_bytes())
        .file("usr/bin/su", 0o4755, b"#!/bin/sh\n");
    let d = t.path().join("layout");
    let layer = l.finish();
    write_oci(&d, &[(layer.clone(), layer, PLAIN)], serde_json::json!({}));
    let img = format!("oci:{}", d.display());
    let db = t.path().join("db");
    let db = db.to_str().unwrap();
    let go = concat!(env!("CARGO_MANIFEST_DIR"), "/../scan/tests/fixtures/osv/go");
    assert!(stockade(&["db", "import", "--db", db, go]).status.success());
    // Without exceptions: the upstream-only runc match (critical) and the setuid su.
    let o = stockade(&["image", "-f", "json", "--db", db, &img]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"SKD-IMG-001") && ids.contains(&"SKD-IMG-010"),
        "{ids:?}"
    );
    let vex = t.path().join("runc.vex.json");
    std::fs::write(
        &vex,
        serde_json::to_vec(&serde_json::json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://example.invalid/vex/1",
            "author": "platform team",
            "timestamp": "2024-02-10T00:00:00Z",
            "version": 1,
            "statements": [{
                "vulnerability": {"name": "CVE-2024-21626"},
                "products": [{"@id": "pkg:deb/debian/runc@1.1.5%2Bds1-1%2Bdeb12u1"}],
                "status": "fixed",
                "justification": "Debian backported the fix (1.1.5+ds1-1+deb12u1 changelog)"
            }]
        }))
        .unwrap(),
    )
    .unwrap();
    let ign = t.path().join("ignore.toml");
    std::fs::write(
        &ign,
        "[[ignore]]\nrules = [\"setuid-file\"]\nfiles = [\"/usr/bin/su\"]\nreason = \"su is needed by the entrypoint\"\n",
    )
    .unwrap();
    let o = stockade(&[
        "image",
        "-f",
        "json",
        "--db",
        db,
        "--vex",
        vex.to_str().unwrap(),
        "--ignore-file",
        ign.to_str().unwrap(),
        &img,
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for f in v["findings"].as_array().unwrap() {
        assert!(f["suppressed"].is_string(), "{f}");
    }
    assert!(v["findings"]
        .to_string()
        .contains("VEX CVE-2024-21626 fixed: Debian backported"));
    // Expiry dates: an entry holds through its last day, and past it suppresses nothing (the
    // setuid su counts again, exit 1) and is named on stderr.
    for (expires, code) in [("2999-12-31", 0), ("2020-01-31", 1)] {
        std::fs::write(
            &ign,
            format!(
                "[[ignore]]\nrules = [\"setuid-file\"]\nfiles = [\"/usr/bin/su\"]\n\
                 reason = \"su is needed by the entrypoint\"\nexpires = {expires}\n"
            ),
        )
        .unwrap();
        let o = stockade(&[
            "image",
            "-f",
            "json",
            "--db",
            db,
            "--vex",
            vex.to_str().unwrap(),
            "--ignore-file",
            ign.to_str().unwrap(),
            &img,
        ]);
        assert_eq!(o.status.code(), Some(code), "expires {expires}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let su = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule_id"] == "SKD-IMG-010")
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        if code == 0 {
            assert!(su["suppressed"].is_string(), "{su}");
            assert!(!err.contains("expired"), "{err}");
        } else {
            assert!(su.get("suppressed").is_none_or(|s| s.is_null()), "{su}");
            assert!(
                err.contains(
                    "ignore[0] (setuid-file: su is needed by the entrypoint) expired on 2020-01-31"
                ),
                "{err}"
            );
        }
    }
    // A date that is not one: exit 2 naming the entry.
    std::fs::write(
        &ign,
        "[[ignore]]\nrules = [\"*\"]\nreason = \"r\"\nexpires = \"2027-02-30\"\n",
    )
    .unwrap();
    let o = stockade(&["image", "--ignore-file", ign.to_str().unwrap(), &img]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("ignore[0]: expires: \"2027-02-30\" is not a date"),
        "{err}"
    );
    // A VEX document that is not one: exit 2 naming it.
    std::fs::write(&vex, b"{\"@context\": \"x\"}").unwrap();
    let o = stockade(&["image", "--db", db, "--vex", vex.to_str().unwrap(), &img]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("runc.vex.json"));
}
