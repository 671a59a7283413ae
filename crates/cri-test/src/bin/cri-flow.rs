//! `cri-flow`: runs the CRI pod flow ([`stockade_cri_test::pod_flow`]) against a containerd
//! socket and prints one line per step; exits 1 when a step failed, 77 when none failed but one
//! was skipped. The realhost guest runs it (realhost/suite/apparmor.sh, selinux.sh).
//!
//! cri-flow --socket PATH --handler NAME --image REF [--network pod|host] [--cgroup-parent P]
//!          [--apparmor PROFILE] [--expect-attr LABEL] [--name NAME] [--runtime-binary PATH]
//!          [--unmask PATH] [--write-denied SCRIPT | --write-allowed SCRIPT]
//!
//! --unmask takes PATH out of containerd's default read-only paths. --write-denied runs
//! `sh -c SCRIPT` in the container and wants it to fail with "Permission denied";
//! --write-allowed wants it to print `written`.
//!
//! With --runtime-binary, UpdateContainerResources is skipped (with the reason) when that binary
//! has no `update` command.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use stockade_cri_test::{pod_flow, Cri, FlowOptions, Status, CONTAINERD_READONLY_PATHS};

fn main() -> ExitCode {
    let mut socket = PathBuf::from("/run/containerd/containerd.sock");
    let mut opts = FlowOptions {
        handler: String::new(),
        image: String::new(),
        cgroup_parent: String::new(),
        host_network: false,
        apparmor_profile: String::new(),
        expect_attr: None,
        update: Ok(()),
        readonly_paths: Vec::new(),
        write_check: None,
        name: format!("cri-flow-{}", std::process::id()),
        log_root: std::env::temp_dir().join("cri-flow-logs"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            eprintln!("cri-flow: {flag} needs a value (see the usage in crates/cri-test/src/bin/cri-flow.rs)");
            return ExitCode::from(2);
        };
        match flag.as_str() {
            "--socket" => socket = value.into(),
            "--handler" => opts.handler = value,
            "--image" => opts.image = value,
            "--cgroup-parent" => opts.cgroup_parent = value,
            "--network" if value == "pod" || value == "host" => opts.host_network = value == "host",
            "--apparmor" => opts.apparmor_profile = value,
            "--expect-attr" => opts.expect_attr = Some(value),
            "--name" => opts.name = value,
            "--unmask" => {
                opts.readonly_paths = CONTAINERD_READONLY_PATHS
                    .iter()
                    .filter(|p| **p != value)
                    .map(|p| p.to_string())
                    .collect()
            }
            "--write-denied" => opts.write_check = Some((value, true)),
            "--write-allowed" => opts.write_check = Some((value, false)),
            "--runtime-binary" => {
                let has_update = Command::new(&value)
                    .args(["update", "--help"])
                    .output()
                    .map(|o| o.status.success())
                    .unwrap_or(false);
                if !has_update {
                    opts.update = Err(format!("{value} has no `update` command yet (issue 13)"));
                }
            }
            _ => {
                eprintln!("cri-flow: unknown option {flag} (see the usage in crates/cri-test/src/bin/cri-flow.rs)");
                return ExitCode::from(2);
            }
        }
    }
    if opts.image.is_empty() {
        eprintln!("cri-flow: --image is required");
        return ExitCode::from(2);
    }
    let mut cri = match Cri::connect(&socket) {
        Ok(c) => c,
        Err(e) => {
            println!("FAIL: {e}");
            return ExitCode::from(1);
        }
    };
    match cri.version() {
        Ok(v) => println!(
            "ok: Version: {} {} (CRI {})",
            v.runtime_name, v.runtime_version, v.runtime_api_version
        ),
        Err(e) => {
            println!("FAIL: {e}");
            return ExitCode::from(1);
        }
    }
    let report = pod_flow(&mut cri, &opts);
    for s in &report.steps {
        println!("{s}");
    }
    if report.count(Status::Fail) > 0 {
        ExitCode::from(1)
    } else if let Some(s) = report.steps.iter().find(|s| s.status == Status::Skip) {
        println!("{}: {}", s.name, s.detail);
        ExitCode::from(77)
    } else {
        ExitCode::SUCCESS
    }
}
