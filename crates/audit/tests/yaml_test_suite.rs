//! The YAML test suite (yaml/yaml-test-suite, data branch) against the loader: every case's
//! `in.yaml` must load to its `in.json`, or be refused where the case has `error`, except the
//! cases listed in docs/yaml.md, where Kubernetes' reader (sigs.k8s.io/yaml over go-yaml v2)
//! reads YAML differently from YAML 1.2 and the loader follows Kubernetes, or where a difference
//! is a known failure. The list in docs/yaml.md is the expectation: a case that starts passing,
//! or a new failure, fails this test, so the documented score stays true.
//!
//! The suite is found at $YAML_TEST_SUITE, or ../shared/corpora/yaml-test-suite next to the
//! repository (or its worktree parent). Missing: SKIP, or a failure under CI=true.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn suite_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("YAML_TEST_SUITE") {
        return Some(PathBuf::from(p));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    [
        root.join("../shared/corpora/yaml-test-suite"),
        root.join("../../shared/corpora/yaml-test-suite"),
    ]
    .into_iter()
    .find(|p| p.join("SOURCE").is_file())
}

/// Every case directory: one holding `in.yaml` (a top-level case or a numbered sub-case).
fn cases(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut tops: Vec<_> = std::fs::read_dir(dir)
        .expect("suite dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .collect();
    tops.sort_by_key(|e| e.file_name());
    for t in tops {
        let id = t.file_name().to_string_lossy().into_owned();
        if t.path().join("in.yaml").is_file() {
            out.push((id, t.path()));
            continue;
        }
        let mut subs: Vec<_> = std::fs::read_dir(t.path())
            .expect("case dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("in.yaml").is_file())
            .collect();
        subs.sort_by_key(|e| e.file_name());
        for s in subs {
            out.push((
                format!("{id}/{}", s.file_name().to_string_lossy()),
                s.path(),
            ));
        }
    }
    out
}

/// The JSON values of a stream of concatenated JSON texts (in.json holds one per document).
fn json_stream(text: &str) -> Result<Vec<Value>, String> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

/// Numbers compared by value (`1.0` and `1` are the same number).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// What the loader made of one case.
fn run_case(dir: &Path) -> Result<(), String> {
    let bytes = std::fs::read(dir.join("in.yaml")).map_err(|e| e.to_string())?;
    let text = String::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let must_fail = dir.join("error").exists();
    let loaded = audit::yaml::load(&text);
    let docs: Result<Vec<Value>, String> = match &loaded {
        Err(p) => Err(p.message.clone()),
        Ok(docs) => docs
            .iter()
            .map(|d| match &d.root {
                Err(p) => Err(p.message.clone()),
                Ok(n) => n.to_json().map_err(|p| p.message),
            })
            .collect(),
    };
    if must_fail {
        return match docs {
            Err(_) => Ok(()),
            Ok(v) => Err(format!("accepted invalid YAML as {}", Value::Array(v))),
        };
    }
    let docs = docs.map_err(|e| format!("refused: {e}"))?;
    let Ok(want) = std::fs::read_to_string(dir.join("in.json")) else {
        // No JSON form (complex keys, tags JSON cannot hold): loading is what is checked.
        return Ok(());
    };
    let want = json_stream(&want)?;
    // A document that is empty or only comments is null in JSON; the stream form drops it.
    let got: Vec<Value> = if docs.len() != want.len() {
        docs.into_iter().filter(|v| !v.is_null()).collect()
    } else {
        docs
    };
    if got.len() == want.len() && got.iter().zip(&want).all(|(a, b)| same(a, b)) {
        Ok(())
    } else {
        Err(format!(
            "loaded {} but the suite says {}",
            Value::Array(got),
            Value::Array(want)
        ))
    }
}

/// The documented differences: `| CASE | kind | reason |` rows of docs/yaml.md's tables,
/// kind `k8s` (deliberate: Kubernetes reads it so) or `failure` (known, not deliberate).
fn documented() -> BTreeMap<String, String> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/yaml.md"))
            .expect("docs/yaml.md");
    let mut out = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() >= 4 && cells[0].is_empty() {
            let id = cells[1].trim_matches('`');
            let kind = cells[2];
            if (kind == "k8s" || kind == "failure") && !id.is_empty() {
                out.insert(id.to_string(), kind.to_string());
            }
        }
    }
    out
}

#[test]
fn yaml_test_suite_score_matches_docs() {
    let Some(dir) = suite_dir() else {
        testkit::skip("yaml-test-suite not found (set YAML_TEST_SUITE to its directory)");
        return;
    };
    let all = cases(&dir);
    assert!(all.len() >= 350, "{} cases in {}", all.len(), dir.display());
    let documented = documented();
    let mut passed = 0;
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    for (id, path) in &all {
        // A panic is a defect whatever the case says.
        let r = std::panic::catch_unwind(|| run_case(path))
            .unwrap_or_else(|_| Err("panicked".to_string()));
        match (r, documented.get(id)) {
            (Ok(()), None) => passed += 1,
            (Ok(()), Some(_)) => fixed.push(id.clone()),
            (Err(e), None) => unexpected.push(format!("{id}: {e}")),
            (Err(_), Some(_)) => {}
        }
    }
    let differences = documented.values().filter(|k| *k == "k8s").count();
    let failures = documented.values().filter(|k| *k == "failure").count();
    println!(
        "yaml-test-suite: {} cases, {passed} passed, {differences} deliberate differences, \
         {failures} known failures",
        all.len()
    );
    assert!(
        unexpected.is_empty(),
        "{} cases fail and are not in docs/yaml.md:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "cases listed in docs/yaml.md now pass; remove them: {fixed:?}"
    );
    let ids: Vec<&String> = all.iter().map(|(id, _)| id).collect();
    for id in documented.keys() {
        assert!(
            ids.contains(&id),
            "docs/yaml.md lists {id}, not a case of the suite"
        );
    }
    assert_eq!(passed + documented.len(), all.len());
}
