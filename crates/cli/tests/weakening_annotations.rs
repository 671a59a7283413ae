//! SKD-ESC-044: an annotation that switches off or weakens a layer
//! (`stockade.io/landlock: "off"`, `run.oci.*`, ...) is one rule with one id
//! in `stockade audit` (a Pod's template, a config.json) and at the
//! runtime's policy gate (warned under the default, refused under baseline).

mod runtime_support;
use runtime_support::*;
use serde_json::json;

fn audit(path: &std::path::Path) -> (i32, String) {
    let out = std::process::Command::new(BIN)
        .args(["audit", "--format", "json"])
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The (rule, field) pairs of SKD-ESC-044 in `stockade audit --format json`.
fn findings_044(json_text: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json_text).expect(json_text);
    let mut out = Vec::new();
    let mut stack = vec![&v];
    while let Some(x) = stack.pop() {
        match x {
            serde_json::Value::Object(m) => {
                if m.get("rule_id").and_then(|r| r.as_str()) == Some("SKD-ESC-044") {
                    if let Some(f) = m.get("field").and_then(|f| f.as_str()) {
                        out.push(f.to_string());
                    }
                }
                stack.extend(m.values());
            }
            serde_json::Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
    out.sort();
    out
}

#[test]
fn audit_flags_weakening_annotations_in_a_pod_and_a_config() {
    let env = Env::new("annaudit");
    let pod = env.dir.join("deploy.yaml");
    std::fs::write(
        &pod,
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations:
        stockade.io/landlock: "off"
        stockade.io/ignore: "SKD-ESC-031: test"
        prometheus.io/scrape: "true"
    spec:
      containers:
      - name: web
        image: nginx
"#,
    )
    .unwrap();
    let (code, text) = audit(&pod);
    assert_eq!(code, 1, "{text}");
    assert_eq!(
        findings_044(&text),
        ["spec.template.metadata.annotations['stockade.io/landlock']"],
        "{text}"
    );

    let cfg = env.dir.join("config.json");
    let out = std::process::Command::new(BIN)
        .args(["spec", "--bundle"])
        .arg(&env.dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    v["annotations"] =
        json!({"stockade.io/landlock": "off", "org.opencontainers.image.title": "x"});
    std::fs::write(&cfg, serde_json::to_vec(&v).unwrap()).unwrap();
    let (code, text) = audit(&cfg);
    assert_eq!(code, 1, "{text}");
    assert_eq!(
        findings_044(&text),
        ["annotations['stockade.io/landlock']"],
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&env.dir);
}

#[test]
fn the_gate_judges_the_landlock_annotation() {
    if !need_root() {
        return;
    }
    let env = Env::new("anngate");
    let b = env.bundle("a", &["true"], |c| {
        c["annotations"] = json!({"stockade.io/landlock": "off"});
    });
    let log = env.dir.join("runtime.log");
    // The default: a warning with the rule id, in --log; the container runs.
    let id = env.id("d");
    let out = env.stockade(&[
        "--log",
        log.to_str().unwrap(),
        "--policy",
        "default",
        "run",
        "--bundle",
        b.to_str().unwrap(),
        &id,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.is_empty(), "nothing on stderr: {err}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines().any(|l| l.contains("level=warning")
            && l.contains("SKD-ESC-044")
            && l.contains("annotations['stockade.io/landlock']")),
        "{text}"
    );
    // baseline: refused, naming the rule, the field and how to proceed.
    let out = env.stockade(&[
        "--policy",
        "baseline",
        "run",
        "--bundle",
        b.to_str().unwrap(),
        &env.id("b"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    for want in ["SKD-ESC-044", "--policy=warn", "runtime.toml"] {
        assert!(err.contains(want), "{want:?}: {err}");
    }
    let f = env.footprint();
    assert!(f.is_empty(), "left behind: {f:?}");
    let _ = std::fs::remove_dir_all(&env.dir);
}
