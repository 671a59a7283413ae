//! One rule, one place: a rule's knowledge lives in the catalogue (`crates/policy/rules/*.toml`)
//! and nowhere else. This test changes one engine-socket name of SKD-ESC-020 in the text of
//! `rules/escape.toml`, builds a catalogue of the changed files, installs it in this process, and
//! checks that `stockade audit`, the runtime's policy gate and `stockade watch` all follow, through
//! their public interfaces, with no other edit.
//!
//! The installed catalogue is the process's (see `policy::catalogue::install`), so this file holds
//! one test.

use policy::id;

const OLD: &str = "/run/docker.sock";
const NEW: &str = "/run/moby-engine.sock";

/// The rule files as `build.rs` makes them (TOML to JSON), with OLD renamed to NEW in escape.toml.
fn changed_catalogue() -> policy::catalogue::Catalogue {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../policy/rules");
    let mut files = Vec::new();
    let mut changed = 0;
    for name in policy::catalogue::files() {
        let path = format!("{dir}/{name}");
        let mut text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        if name == "escape.toml" {
            changed = text.matches(&format!("\"{OLD}\"")).count();
            text = text.replace(&format!("\"{OLD}\""), &format!("\"{NEW}\""));
        }
        let table: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        files.push((name, serde_json::to_string(&table).unwrap()));
    }
    assert_eq!(changed, 1, "{OLD} is named once in rules/escape.toml");
    let refs: Vec<(&'static str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    policy::catalogue::Catalogue::from_json(&refs).expect("the changed catalogue loads")
}

/// `stockade audit` on a pod that mounts `host_path`: whether SKD-ESC-020 is among its findings.
fn audit_finds(host_path: &str) -> bool {
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    \
         image: busybox\n    volumeMounts:\n    - name: s\n      mountPath: /s\n  volumes:\n  \
         - name: s\n    hostPath:\n      path: {host_path}\n"
    );
    let file = audit::run::read_text("pod.yaml", &manifest);
    assert!(file.problems.is_empty(), "{:?}", file.problems);
    let report = audit::run::evaluate_files(&[file], &audit::run::AuditOptions::default());
    report
        .findings
        .iter()
        .any(|f| f.rule.id == id::SKD_ESC_020.as_str())
}

/// The runtime's gate (default policy) on a config that bind-mounts `host_path`: whether it
/// refuses it for SKD-ESC-020.
fn gate_refuses(host_path: &str) -> bool {
    use oci_spec::runtime::{MountBuilder, Spec};
    let mut spec = Spec::default();
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(
        MountBuilder::default()
            .destination("/s")
            .typ("bind")
            .source(host_path)
            .options(vec!["rbind".to_string(), "ro".to_string()])
            .build()
            .unwrap(),
    );
    spec.set_mounts(Some(mounts));
    match runtime::gate::check(&spec, runtime::gate::Policy::Default) {
        Ok(_) => false,
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains(id::SKD_ESC_020.as_str()), "refused for: {e}");
            true
        }
    }
}

/// `stockade watch`'s classification of a container's AF_UNIX connect to `path`.
fn watch_detects(path: &str) -> bool {
    use watch::event::{kind, KernelVerdict, RawEvent};
    let ev = RawEvent {
        kind: kind::CONNECT,
        verdict: KernelVerdict::Allowed,
        ts_boot_ns: 0,
        cgroup_id: 0,
        reaper_start_ns: 0,
        cap_eff: 0,
        args: [0; 6],
        tid: 1,
        tgid: 1,
        ppid: 0,
        vpid: 7,
        pidns: 1,
        mntns: 1,
        uid: 0,
        euid: 0,
        setup: false,
        comm: String::new(),
        pcomm: String::new(),
        cg_leaf: String::new(),
        cg_parent: String::new(),
        cg_grand: String::new(),
        path: path.to_string(),
        path2: String::new(),
        path3: String::new(),
        argv: Vec::new(),
    };
    let host = watch::behaviour::HostFacts {
        pidns: 2,
        boot_to_real_ns: 0,
        cap_bnd: 0,
        clk_tck: 100,
    };
    watch::behaviour::classify(&ev, &host, &[]).is_some_and(|d| d.rule == id::SKD_ESC_020.as_str())
}

#[test]
fn a_socket_renamed_in_the_catalogue_changes_audit_gate_and_watch() {
    assert!(
        policy::catalogue::install(changed_catalogue()),
        "nothing read the catalogue before the test installed its own"
    );
    let new_name = NEW.rsplit('/').next().unwrap();
    let old_name = OLD.rsplit('/').next().unwrap();
    let var_run = |p: &str| p.replacen("/run/", "/var/run/", 1);
    // The renamed socket, at its place and in an unusual directory, is SKD-ESC-020 for all three.
    for p in [
        NEW.to_string(),
        var_run(NEW),
        format!("/srv/sockets/{new_name}"),
    ] {
        assert!(audit_finds(&p), "audit: {p}");
        assert!(gate_refuses(&p), "gate: {p}");
    }
    assert!(watch_detects(&format!("/srv/sockets/{new_name}")), "watch");
    assert!(watch_detects(&var_run(NEW)), "watch");
    // The old name is no longer an engine socket anywhere.
    for p in [
        OLD.to_string(),
        var_run(OLD),
        format!("/srv/sockets/{old_name}"),
    ] {
        assert!(!audit_finds(&p), "audit still finds {p}");
        assert!(!gate_refuses(&p), "gate still refuses {p}");
        assert!(!watch_detects(&p), "watch still detects {p}");
    }
    // The other sockets of the rule are untouched.
    let other = "/run/containerd/containerd.sock";
    assert!(audit_finds(other) && gate_refuses(other) && watch_detects(other));
}
