//! Unit tests that need no privileges: profiles, the Docker-like seccomp profile, the static-ELF
//! test, report parsing and the matrix.

use check::matrix::{cell, Column, Matrix};
use check::{profile, runner, Profile, Runtime};
use probe::{Layer, Outcome, ProbeResult};
use std::path::PathBuf;

#[test]
fn profile_and_runtime_names() {
    assert_eq!(Profile::parse("default"), Profile::Default);
    assert_eq!(Profile::parse("docker"), Profile::Docker);
    assert_eq!(Profile::parse("privileged"), Profile::Privileged);
    assert_eq!(Profile::parse("lxcfs"), Profile::Lxcfs);
    assert_eq!(Profile::Lxcfs.name(), "lxcfs");
    assert_eq!(
        Profile::parse("x/config.json"),
        Profile::File(PathBuf::from("x/config.json"))
    );
    let me = PathBuf::from("/usr/bin/stockade");
    assert_eq!(Runtime::parse("stockade", me.clone()).name(), "stockade");
    assert_eq!(Runtime::parse("runc", me.clone()), Runtime::Runc);
    assert_eq!(Runtime::parse("/opt/youki", me).name(), "youki");
}

#[test]
fn docker_seccomp_denies_what_moby_denies() {
    let s = profile::docker_seccomp();
    assert_eq!(s["defaultAction"], "SCMP_ACT_ALLOW");
    let rules = s["syscalls"].as_array().unwrap();
    let denied: Vec<&str> = rules[0]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for sc in [
        "keyctl",
        "add_key",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "io_uring_setup",
        "open_by_handle_at",
        "mount",
        "fsopen",
        "unshare",
        "setns",
        "kexec_load",
        "finit_module",
    ] {
        assert!(denied.contains(&sc), "{sc}");
    }
    assert!(
        !denied.contains(&"ptrace"),
        "moby allows ptrace on kernels >= 4.8"
    );
    // clone with namespace flags, clone3 and AF_VSOCK.
    assert_eq!(rules.iter().filter(|r| r["names"][0] == "clone").count(), 7);
    assert!(rules
        .iter()
        .any(|r| r["names"][0] == "clone3" && r["errnoRet"] == libc::ENOSYS));
    assert!(rules
        .iter()
        .any(|r| r["names"][0] == "socket" && r["args"][0]["value"] == libc::AF_VSOCK as u64));
    assert_eq!(profile::DOCKER_CAPS.len(), 14);
}

#[test]
fn static_elf_detection() {
    // The test binary itself is dynamically linked (it has an interpreter).
    let me = std::env::current_exe().unwrap();
    assert!(!check::locate::is_static_elf(&me));
    assert!(!check::locate::is_static_elf(std::path::Path::new(
        "/nonexistent"
    )));
    let dir = std::env::temp_dir().join(format!("check-units-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("not-elf");
    std::fs::write(&f, b"#!/bin/sh\n").unwrap();
    assert!(!check::locate::is_static_elf(&f));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn parses_the_probe_report() {
    let doc = "noise\n{\"probe\":\"stockade-probe\",\"version\":\"0.1.0\",\"context\":{},\"results\":[\
        {\"id\":\"core-pattern\",\"eid\":\"E04\",\"title\":\"t\",\"result\":\"blocked\",\"errno\":\"EROFS\",\"errno_code\":30,\"layer\":\"read-only-mount\",\"detail\":\"d\"},\
        {\"id\":\"shocker\",\"eid\":\"E26\",\"title\":\"t\",\"result\":\"escaped\",\"errno\":null,\"errno_code\":null,\"layer\":null,\"detail\":\"read canary\"}]}\n";
    let rs = runner::parse_report(doc).unwrap();
    assert_eq!(rs.len(), 2);
    assert_eq!(
        rs[0].outcome,
        Outcome::Blocked {
            errno: Some(30),
            layer: Layer::ReadOnlyMount,
            detail: "d".into()
        }
    );
    assert!(rs[1].outcome.is_escaped());
    assert!(runner::parse_report("no report").is_err());
    assert!(runner::parse_report("{\"probe\":1,\"results\":[{\"result\":\"weird\"}]}").is_err());
}

fn col(label: &str, rs: Result<Vec<ProbeResult>, String>) -> Column {
    Column {
        label: label.into(),
        runtime: label.into(),
        profile: "default".into(),
        result: rs,
    }
}

fn r(id: &str, o: Outcome) -> ProbeResult {
    ProbeResult {
        id: id.into(),
        eid: "E01".into(),
        title: "t".into(),
        outcome: o,
    }
}

#[test]
fn matrix_text_and_json() {
    let m = Matrix {
        columns: vec![
            col(
                "a default",
                Ok(vec![
                    r("x", Outcome::escaped("e")),
                    r("y", Outcome::blocked(1, Layer::Seccomp, "d")),
                ]),
            ),
            col("b default", Err("runtime `b` not found".into())),
        ],
        notes: Vec::new(),
    };
    let t = m.text();
    let lines: Vec<&str> = t.lines().collect();
    assert!(lines[0].starts_with("TECHNIQUE"), "{t}");
    assert!(
        lines[1].contains("ESCAPED") && lines[1].trim_end().ends_with('-'),
        "{t}"
    );
    assert!(lines[2].contains("blocked(seccomp)"), "{t}");
    assert!(t.contains("total escaped"), "{t}");
    assert!(
        t.contains("b default: did not run: runtime `b` not found"),
        "{t}"
    );
    assert!(!m.all_ran());
    let v: serde_json::Value = serde_json::from_str(&m.json()).unwrap();
    assert_eq!(v["schema"], "stockade.check/v1");
    assert_eq!(v["runs"][0]["summary"]["escaped"], 1);
    assert_eq!(v["runs"][0]["results"][1]["layer"], "seccomp");
    assert_eq!(v["runs"][0]["results"][1]["errno"], "EPERM");
    assert!(v["runs"][1]["error"]
        .as_str()
        .unwrap()
        .contains("not found"));
    assert_eq!(cell(None), "-");
    assert_eq!(cell(Some(&Outcome::na("r"))), "n/a");
}

#[test]
fn fail_on_levels_and_what_a_matrix_lets_through() {
    use check::FailOn;
    assert_eq!(FailOn::parse("escaped"), Some(FailOn::Escaped));
    assert_eq!(FailOn::parse("exposed"), Some(FailOn::Exposed));
    assert_eq!(FailOn::parse("blocked"), None);
    assert!(FailOn::Escaped.fails("escaped"));
    assert!(!FailOn::Escaped.fails("exposed"));
    assert!(FailOn::Exposed.fails("exposed"));
    // fail closed: an inconclusive result is let through at either level
    assert!(FailOn::Escaped.fails("inconclusive"));
    for k in ["blocked", "not-applicable"] {
        assert!(!FailOn::Exposed.fails(k), "{k}");
    }
    let res = |id: &str, o: Outcome| ProbeResult {
        id: id.into(),
        eid: "-".into(),
        title: id.into(),
        outcome: o,
    };
    let m = Matrix {
        columns: vec![
            Column {
                label: "a default".into(),
                runtime: "a".into(),
                profile: "default".into(),
                result: Ok(vec![
                    res("x", Outcome::exposed("x")),
                    res("y", Outcome::escaped("y")),
                    res("z", Outcome::na("z")),
                ]),
            },
            Column {
                label: "b default".into(),
                runtime: "b".into(),
                profile: "default".into(),
                result: Err("did not run".into()),
            },
        ],
        notes: Vec::new(),
    };
    let esc = m.let_through(FailOn::Escaped);
    assert_eq!(
        esc,
        vec![("a default".into(), "y".into(), "escaped".into())]
    );
    assert_eq!(m.let_through(FailOn::Exposed).len(), 2);
}

#[test]
fn runtime_and_profile_lists() {
    let me = PathBuf::from("/usr/bin/stockade");
    assert_eq!(Runtime::parse("runsc", me.clone()), Runtime::Runsc);
    assert_eq!(Runtime::Runsc.name(), "runsc");
    let rts = [Runtime::Runc, Runtime::parse("stockade", me.clone())];
    let cases = check::cross_cases(&rts, &[Profile::Default, Profile::Privileged]).unwrap();
    let labels: Vec<String> = cases.iter().map(|c| c.label()).collect();
    assert_eq!(
        labels,
        [
            "runc default",
            "stockade default",
            "runc privileged",
            "stockade privileged"
        ]
    );
    let err = check::cross_cases(&[Runtime::Runc, Runtime::Runc], &[Profile::Default]);
    assert_eq!(err.unwrap_err(), "--runtime names runc twice");
    let err = check::cross_cases(&[Runtime::Runc], &[Profile::Docker, Profile::Docker]);
    assert_eq!(err.unwrap_err(), "--profile names docker twice");
    // --compare: stockade first, the two non-stockade profiles last, every runtime that is
    // installed in between; one not installed is named in the skips
    let (cases, skipped) = check::compare_cases(&Runtime::parse("stockade", me));
    assert_eq!(cases[0].label(), "stockade default");
    assert_eq!(cases[1].label(), "runc default");
    let n = cases.len();
    assert_eq!(cases[n - 2].label(), "stockade docker");
    assert_eq!(cases[n - 1].label(), "stockade privileged");
    assert_eq!(n + skipped.len(), 6, "{skipped:?}");
    let runsc_in = cases.iter().any(|c| c.runtime == Runtime::Runsc);
    assert_eq!(runsc_in, check::locate::which("runsc").is_some());
    if !runsc_in {
        assert!(skipped.iter().any(|s| s.contains("runsc is not installed")));
    }
}
