//! `stockade audit deploy/`: Stockade's own manifests are clean, except the watch DaemonSet's
//! findings, which are suppressed in the manifest with their reason (stockade.io/ignore).

use std::path::Path;
use std::process::Command;

#[test]
fn own_manifests_are_clean_or_annotated() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_stockade"))
        .current_dir(&root)
        .args(["audit", "--format", "json", "deploy/"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stockade audit deploy/ found unsuppressed findings:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The watch DaemonSet's findings (and its privileged namespace's) are reported as
    // suppressed by annotations with their reasons, and nothing else is reported.
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .all(|f| f["object"]["name"] == "stockade-watch"
                && ["DaemonSet", "Namespace"]
                    .contains(&f["object"]["kind"].as_str().unwrap_or(""))
                && f["suppressed"]["source"] == "annotation"),
        "{stdout}"
    );
    assert!(
        findings.iter().any(|f| f["rule_id"] == "SKD-PSS-001"),
        "{stdout}"
    );
}
