//! Score `policy::pss` against the labelled Pod fixtures of kubernetes/pod-security-admission.
//!
//! Usage: `cargo run -p stockade-policy --example pss_oracle -- <testdata-dir> [-v]`
//!
//! `<testdata-dir>` is upstream's `test/testdata`, holding `<level>/v1.<minor>/<pass|fail>/*.yaml`
//! (a copy outside this repository: the fixtures are not ours to commit). Each fixture is a Pod;
//! it is evaluated at its directory's level and version, and our verdict (no violations = pass)
//! is compared with the directory it sits in. Prints the score and every disagreement; exits
//! non-zero if there is any, or if a fixture does not parse.

use k8s_openapi::api::core::v1::Pod;
use policy::model::PodWorkload;
use policy::pss::{self, PssVersion};
use policy::Level;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: pss_oracle <pod-security-admission test/testdata dir> [-v]");
        return ExitCode::from(2);
    };
    let verbose = args.any(|a| a == "-v");
    match run(Path::new(&dir), verbose) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("pss_oracle: {e}");
            ExitCode::from(2)
        }
    }
}

fn list(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    v.sort();
    Ok(v)
}

fn run(root: &Path, verbose: bool) -> Result<bool, String> {
    let (mut total, mut agree) = (0usize, 0usize);
    let mut by_level = std::collections::BTreeMap::<(String, &str), (usize, usize)>::new();
    let mut errors = 0usize;
    for level_dir in list(root)? {
        let Some(level_name) = level_dir.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Ok(level) = level_name.parse::<Level>() else {
            continue;
        };
        for version_dir in list(&level_dir)? {
            let Some(version) = version_dir
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<PssVersion>().ok())
            else {
                continue;
            };
            for expect in ["pass", "fail"] {
                let d = version_dir.join(expect);
                if !d.is_dir() {
                    continue;
                }
                for file in list(&d)? {
                    if file.extension().and_then(|e| e.to_str()) != Some("yaml") {
                        continue;
                    }
                    let text = std::fs::read_to_string(&file)
                        .map_err(|e| format!("{}: {e}", file.display()))?;
                    let pod: Pod = match serde_yaml_ng::from_str(&text) {
                        Ok(p) => p,
                        Err(e) => {
                            eprintln!("{}: cannot parse: {e}", file.display());
                            errors += 1;
                            continue;
                        }
                    };
                    let w = PodWorkload {
                        kind: "Pod".into(),
                        api_version: "v1".into(),
                        metadata: pod.metadata.clone(),
                        pod_metadata: pod.metadata.clone(),
                        spec: pod.spec.unwrap_or_default(),
                        spec_path: "spec".into(),
                    };
                    let results = pss::check_results(&w, level, version);
                    let passed = results.is_empty();
                    let ok = passed == (expect == "pass");
                    total += 1;
                    let e = by_level
                        .entry((level_name.to_string(), expect))
                        .or_default();
                    e.0 += 1;
                    if ok {
                        agree += 1;
                        e.1 += 1;
                    } else {
                        println!(
                            "MISMATCH {} at {level}:{version}: expected {expect}, got {}",
                            file.display(),
                            if passed {
                                "pass".to_string()
                            } else {
                                pss::forbidden_detail(&results)
                            }
                        );
                    }
                    if verbose && !passed {
                        println!(
                            "{level}:{version} {}: {}",
                            file.display(),
                            pss::forbidden_detail(&results)
                        );
                    }
                }
            }
        }
    }
    for ((level, expect), (n, ok)) in &by_level {
        println!("{level:>10} {expect}: {ok}/{n}");
    }
    println!("score: {agree}/{total} fixtures agree with upstream (parse errors: {errors})");
    Ok(agree == total && errors == 0)
}
