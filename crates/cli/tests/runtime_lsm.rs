//! AppArmor profiles and SELinux labels (lsm/): on a host without the LSM
//! (this machine) a profile or label is one clear error naming the LSM, for
//! `run`, `create` and `exec`, and nothing is left behind; runc refuses the
//! same configs. On a host with AppArmor (the real-host guest) the profile is
//! applied at exec, and a profile that is not loaded is an error naming it.

mod runtime_support;
use runtime_support::*;
use serde_json::json;
use std::path::Path;
use std::process::Command;

fn apparmor_enabled() -> bool {
    Path::new("/sys/kernel/security/apparmor").is_dir()
        && std::fs::read("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|b| b.first() == Some(&b'Y'))
}

fn selinux_enabled() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .contains(" - selinuxfs ")
}

/// runc's answer for the same bundle (None when runc is not installed).
fn runc_refuses(env: &Env, b: &Path, id: &str) -> Option<bool> {
    let root = env.dir.join("runc-root");
    let out = Command::new("runc")
        .arg("--root")
        .arg(&root)
        .args(["run", "-b", b.to_str().unwrap(), id])
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    let _ = Command::new("runc")
        .arg("--root")
        .arg(&root)
        .args(["delete", "-f", id])
        .output();
    Some(!out.status.success())
}

#[test]
fn labels_without_the_lsm_are_refused_naming_it() {
    if !need_root() {
        return;
    }
    let env = Env::new("lsmoff");
    let cases: Vec<(&str, serde_json::Value, &str, bool)> = vec![
        (
            "aa",
            json!({"process": {"apparmorProfile": "containers-default-0.50.1"}}),
            "AppArmor",
            apparmor_enabled(),
        ),
        (
            "se",
            json!({"process": {"selinuxLabel": "system_u:system_r:container_t:s0:c1,c2"}}),
            "SELinux",
            selinux_enabled(),
        ),
        (
            "ml",
            json!({"linux": {"mountLabel": "system_u:object_r:container_file_t:s0:c1,c2"}}),
            "SELinux",
            selinux_enabled(),
        ),
    ];
    let mut ran = 0;
    for (name, patch, lsm, enabled) in cases {
        if enabled {
            testkit::not_on_this_host(&format!(
                "{lsm} is enabled here; case {name} is for hosts without it"
            ));
            continue;
        }
        ran += 1;
        let b = env.bundle(name, &["true"], |cfg| {
            for (k, v) in patch.as_object().unwrap() {
                for (kk, vv) in v.as_object().unwrap() {
                    cfg[k][kk] = vv.clone();
                }
            }
        });
        let field = if name == "ml" {
            "linux.mountLabel"
        } else if name == "aa" {
            "process.apparmorProfile"
        } else {
            "process.selinuxLabel"
        };
        for verb in ["run", "create"] {
            let id = env.id(&format!("{name}{verb}"));
            let out = env.stockade(&[verb, "-b", b.to_str().unwrap(), &id]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{name} {verb}: {err}");
            assert!(
                err.contains(lsm) && err.contains(field),
                "{name} {verb}: {err}"
            );
            assert_eq!(err.lines().count(), 1, "one line: {err}");
            assert!(env.footprint().is_empty(), "{:?}", env.footprint());
        }
        if let Some(refused) = runc_refuses(&env, &b, &env.id(&format!("{name}runc"))) {
            assert!(refused, "runc refuses {name} too");
        } else {
            testkit::skip(&format!("runc is not installed: no comparison for {name}"));
        }
    }
    // exec: --apparmor and --process-label on a running container.
    let b = env.bundle("plain", &["sleep", "1000"], |_| {});
    let id = env.id("exec");
    let out = env.stockade(&["run", "-d", "-b", b.to_str().unwrap(), &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (flag, value, lsm, enabled) in [
        ("--apparmor", "unconfined", "AppArmor", apparmor_enabled()),
        (
            "--process-label",
            "system_u:system_r:container_t:s0",
            "SELinux",
            selinux_enabled(),
        ),
    ] {
        if enabled {
            testkit::not_on_this_host(&format!(
                "{lsm} is enabled here; exec {flag} is for hosts without it"
            ));
            continue;
        }
        ran += 1;
        let out = env.stockade(&["exec", flag, value, &id, "true"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "exec {flag}: {err}");
        assert!(err.contains(lsm), "exec {flag}: {err}");
    }
    // Without a label, exec works as before.
    assert!(env.stockade(&["exec", &id, "true"]).status.success());
    assert!(env.stockade(&["delete", "--force", &id]).status.success());
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
    if ran == 0 {
        testkit::not_on_this_host("AppArmor and SELinux are both enabled: nothing to refuse here");
    }
}

#[test]
fn apparmor_profile_is_applied_at_exec() {
    if !need_root() {
        return;
    }
    if !apparmor_enabled() {
        testkit::not_on_this_host(
            "AppArmor is not enabled on this host (the real-host guest runs this)",
        );
        return;
    }
    let parser = ["/sbin/apparmor_parser", "/usr/sbin/apparmor_parser"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(parser) = parser else {
        testkit::skip("apparmor_parser is not installed (apt-get install apparmor)");
        return;
    };
    let env = Env::new("aaon");
    let profile = format!("stockade-test-{}", env.prefix);
    let src = env.dir.join("profile");
    std::fs::write(
        &src,
        format!(
            "profile {profile} flags=(attach_disconnected,mediate_deleted) {{\n  file,\n  capability,\n  \
             network,\n  mount,\n  umount,\n  pivot_root,\n  signal,\n  ptrace,\n  unix,\n  \
             deny /dev/shm/denied w,\n}}\n"
        ),
    )
    .unwrap();
    let load = Command::new(parser).arg("-r").arg(&src).output().unwrap();
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    struct Unload<'a>(&'a str, std::path::PathBuf);
    impl Drop for Unload<'_> {
        fn drop(&mut self) {
            let _ = Command::new(self.0).arg("-R").arg(&self.1).status();
        }
    }
    let _unload = Unload(parser, src.clone());
    let script =
        "cat /proc/self/attr/current; echo x > /dev/shm/denied && echo wrote || echo denied";
    // With the profile: run and exec are confined by it.
    let b = env.bundle("on", &["sh", "-c", script], |cfg| {
        cfg["process"]["apparmorProfile"] = json!(profile);
    });
    let (code, out, err) = env.run(&env.id("on"), &b);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{profile} (enforce)\ndenied\n"), "{err}");
    // Without it, the same write succeeds.
    let b = env.bundle("off", &["sh", "-c", script], |_| {});
    let (code, out, err) = env.run(&env.id("off"), &b);
    assert_eq!(code, 0, "{err}");
    assert!(out.ends_with("wrote\n"), "{out} {err}");
    // exec --apparmor into a running container.
    let b = env.bundle("long", &["sleep", "1000"], |_| {});
    let id = env.id("long");
    assert!(env
        .stockade(&["run", "-d", "-b", b.to_str().unwrap(), &id])
        .status
        .success());
    let out = env.stockade(&["exec", "--apparmor", &profile, &id, "sh", "-c", script]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{profile} (enforce)\ndenied\n"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A profile that is not loaded: one error naming it, nothing left.
    let out = env.stockade(&[
        "exec",
        "--apparmor",
        "stockade-no-such-profile",
        &id,
        "true",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("stockade-no-such-profile") && err.contains("not loaded"),
        "{err}"
    );
    assert!(env.stockade(&["delete", "-f", &id]).status.success());
    let b = env.bundle("missing", &["true"], |cfg| {
        cfg["process"]["apparmorProfile"] = json!("stockade-no-such-profile");
    });
    let out = env.stockade(&["run", "-b", b.to_str().unwrap(), &env.id("missing")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("stockade-no-such-profile") && err.contains("not loaded"),
        "{err}"
    );
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

/// The first context the loaded policy accepts (selinuxfs checks it).
fn valid_context(candidates: &[&str]) -> Option<String> {
    candidates.iter().find_map(|c| {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/sys/fs/selinux/context")
            .and_then(|mut f| std::io::Write::write_all(&mut f, c.as_bytes()))
            .ok()
            .map(|_| c.to_string())
    })
}

#[test]
fn selinux_label_is_applied_at_exec() {
    if !need_root() {
        return;
    }
    if !selinux_enabled() {
        testkit::not_on_this_host(
            "SELinux is not enabled on this host (the real-host guest's SELinux boot runs this)",
        );
        return;
    }
    // Debian's refpolicy has no container_t; take what the policy knows.
    let Some(label) = valid_context(&[
        "system_u:system_r:container_t:s0:c1,c2",
        "system_u:system_r:initrc_t:s0",
        "unconfined_u:unconfined_r:unconfined_t:s0",
    ]) else {
        panic!("no candidate process label is valid in the loaded policy");
    };
    let Some(mlabel) = valid_context(&[
        "system_u:object_r:container_file_t:s0:c1,c2",
        "system_u:object_r:tmp_t:s0",
        "system_u:object_r:tmpfs_t:s0",
    ]) else {
        panic!("no candidate mount label is valid in the loaded policy");
    };
    let env = Env::new("selinux");
    let script = "cat /proc/self/attr/current; echo; grep -o 'context=[^, ]*' /proc/self/mountinfo | sort -u";
    let b = env.bundle("on", &["sh", "-c", script], |cfg| {
        cfg["process"]["selinuxLabel"] = json!(label);
        cfg["linux"]["mountLabel"] = json!(mlabel);
    });
    let (code, out, err) = env.run(&env.id("on"), &b);
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    assert_eq!(
        lines.next().map(|l| l.trim_end_matches('\0')),
        Some(label.as_str()),
        "{out}"
    );
    assert!(
        out.contains(&format!("context={mlabel}"))
            || out.contains(&format!("context=\"{mlabel}\"")),
        "the tmpfs mounts carry mountLabel: {out}"
    );
    // exec --process-label
    let b = env.bundle("long", &["sleep", "1000"], |_| {});
    let id = env.id("long");
    assert!(env
        .stockade(&["run", "-d", "-b", b.to_str().unwrap(), &id])
        .status
        .success());
    let out = env.stockade(&[
        "exec",
        "--process-label",
        &label,
        &id,
        "cat",
        "/proc/self/attr/current",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end_matches('\0'),
        label,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(env.stockade(&["delete", "-f", &id]).status.success());
    // A label the policy does not know: one error, nothing left.
    for (name, edit) in [("badp", "selinuxLabel"), ("badm", "mountLabel")] {
        let b = env.bundle(name, &["true"], |cfg| {
            if edit == "selinuxLabel" {
                cfg["process"]["selinuxLabel"] = json!("system_u:system_r:stockade_no_such_t:s0");
            } else {
                cfg["linux"]["mountLabel"] = json!("system_u:object_r:stockade_no_such_t:s0");
            }
        });
        let out = env.stockade(&["run", "-b", b.to_str().unwrap(), &env.id(name)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            err.contains("invalid SELinux label") && err.contains("stockade_no_such_t"),
            "{err}"
        );
    }
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}
