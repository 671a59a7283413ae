//! `STOCKADE_TEST_UNSAFE` (crates/runtime/src/testknobs.rs) switches one runtime layer off for
//! the layer tests. These tests check that it cannot reach a production binary: the cargo
//! feature that compiles it in is activated for `cargo test` builds only (resolver 2 keeps
//! dev-dependency features out of `cargo build` / `cargo build --release`), and that the test
//! build does honour it (and fails closed on an unknown name).

use std::process::Command;

/// `cargo tree` of the stockade package with the features of each crate, for the given edge
/// kinds; the line of `stockade-runtime`.
fn runtime_features(edges: &str) -> Option<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "-p",
            "stockade",
            "--locked",
            "--offline",
            "--prefix",
            "none",
            "-e",
            edges,
            "-f",
            "{p} features=[{f}]",
        ])
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with("stockade-runtime "))
        .map(String::from)
}

#[test]
fn testknobs_are_not_in_a_normal_build() {
    // What `cargo build` / `cargo build --release` / `cargo install` resolve: no dev edges.
    let normal = runtime_features("normal,build").expect("stockade-runtime in the tree");
    assert!(
        !normal.contains("test-unsafe-knobs"),
        "a normal build of stockade enables the test-only knobs: {normal}"
    );
    // What `cargo test` resolves: the same string is there (the check above is live).
    let test = runtime_features("normal,build,dev").expect("stockade-runtime in the tree");
    assert!(test.contains("test-unsafe-knobs"), "{test}");
}

#[test]
fn test_build_honours_the_knob_and_fails_closed() {
    let dir = std::env::temp_dir().join(format!("stockade-knobs-{}", std::process::id()));
    let run = |val: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stockade"));
        c.arg("--root")
            .arg(dir.join("state"))
            .args(["create", "--bundle"])
            .arg(dir.join("no-such-bundle"))
            .arg("knobs");
        c.env_remove("STOCKADE_TEST_UNSAFE");
        if let Some(v) = val {
            c.env("STOCKADE_TEST_UNSAFE", v);
        }
        let out = c.output().unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let bogus = run(Some("fd-hygiene,no-such-layer"));
    let plain = run(None);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!plain.contains("STOCKADE_TEST_UNSAFE"), "{plain}");
    if cfg!(debug_assertions) {
        assert!(
            bogus.contains("STOCKADE_TEST_UNSAFE: unknown layer \"no-such-layer\""),
            "{bogus}"
        );
    } else {
        // A release-profile binary ignores the variable: the same error as without it.
        assert!(!bogus.contains("STOCKADE_TEST_UNSAFE"), "{bogus}");
    }
}
