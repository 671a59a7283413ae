//! The `stockade` command line: help, rules, explain, completions, exit codes, and the generated
//! rule documentation.

use std::process::{Command, Output};

fn stockade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stockade"))
        .args(args)
        .output()
        .expect("run stockade")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn docs_rules_md_is_generated_from_the_catalogue() {
    let o = stockade(&["rules", "--format", "markdown"]);
    assert!(o.status.success());
    let committed =
        std::fs::read_to_string(repo_root().join("docs/rules.md")).expect("docs/rules.md exists");
    assert!(
        committed == stdout(&o),
        "docs/rules.md is stale: run `stockade rules --format markdown > docs/rules.md`"
    );
}

#[test]
fn rules_markdown_honours_the_filters() {
    let o = stockade(&[
        "rules",
        "--format",
        "markdown",
        "--severity",
        "critical",
        "--pss",
    ]);
    assert!(o.status.success());
    let md = stdout(&o);
    let want: Vec<&str> = policy::catalogue()
        .rules()
        .iter()
        .filter(|r| r.pss && r.severity == policy::Severity::Critical)
        .map(|r| r.id.as_str())
        .collect();
    assert!(!want.is_empty());
    let sections: Vec<&str> = md.lines().filter_map(|l| l.strip_prefix("## ")).collect();
    assert_eq!(sections, want, "{md}");

    // --level alone: the rules that apply at baseline, a strict subset of the catalogue.
    let o = stockade(&["rules", "--format", "markdown", "--level", "baseline"]);
    assert!(o.status.success());
    let md = stdout(&o);
    let want: Vec<&str> = policy::catalogue()
        .rules()
        .iter()
        .filter(|r| policy::Level::Baseline.includes(r.level))
        .map(|r| r.id.as_str())
        .collect();
    assert!(!want.is_empty() && want.len() < policy::catalogue().rules().len());
    let sections: Vec<&str> = md.lines().filter_map(|l| l.strip_prefix("## ")).collect();
    assert_eq!(sections, want, "{md}");
}

#[test]
fn rules_json_lists_every_rule_with_its_fields() {
    let o = stockade(&["rules", "--format", "json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let rules = v.as_array().expect("array");
    assert_eq!(rules.len(), policy::catalogue().rules().len());
    for r in rules {
        for k in [
            "id",
            "title",
            "severity",
            "level",
            "checks",
            "prevents",
            "remediation",
        ] {
            assert!(r.get(k).is_some(), "rule {r} lacks {k}");
        }
    }
    let pss = stockade(&["rules", "--pss", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&pss.stdout).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(19));
}

#[test]
fn explain_finds_by_id_slug_and_upstream_check() {
    for id in ["SKD-ESC-020", "runtime-socket", "skd-esc-020"] {
        let o = stockade(&["explain", id]);
        assert!(o.status.success(), "{id}");
        assert!(stdout(&o).contains("Container-engine socket"), "{id}");
    }
    let o = stockade(&["explain", "hostPathVolumes"]);
    assert!(stdout(&o).starts_with("SKD-PSS-004"));
    let o = stockade(&["explain", "SKD-NOPE-999"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no rule"));
}

#[test]
fn usage_errors_exit_2_with_one_clear_line() {
    let o = stockade(&["audit", "/nonexistent/path.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/nonexistent/path.yaml"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let o = stockade(&["audit", "--pss-version", "2.0", "x.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let o = stockade(&["audit", "--pss-only", "--level", "hardened", "x.yaml"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn completions_for_each_shell() {
    for sh in ["bash", "zsh", "fish"] {
        let o = stockade(&["completions", sh]);
        assert!(o.status.success(), "{sh}");
        assert!(stdout(&o).contains("stockade"), "{sh}");
    }
}

#[test]
fn help_teaches_with_examples_and_exit_codes() {
    let o = stockade(&["--help"]);
    let s = stdout(&o);
    assert!(s.contains("Examples:") && s.contains("Exit codes"), "{s}");
    let o = stockade(&["audit", "--help"]);
    assert!(stdout(&o).contains("stockade.io/ignore"));
}
