//! Bad input: each case is one clear error naming the field, a non-zero exit
//! code, and nothing left behind (mounts, cgroups, processes, state).

mod runtime_support;
use runtime_support::*;
use serde_json::json;

/// Create with a broken bundle; return stderr after checking the failure
/// and that the host is unchanged.
fn refused(env: &Env, bundle: &std::path::Path, name: &str) -> String {
    let before = env.footprint();
    let id = env.id(name);
    let out = env.stockade(&["create", "--bundle", bundle.to_str().unwrap(), &id]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{name}: {err}");
    assert_eq!(err.lines().count(), 1, "{name}: one line, got {err:?}");
    let after = env.footprint();
    assert_eq!(before, after, "{name}: left something behind");
    assert!(after.is_empty(), "{after:?}");
    err
}

#[test]
fn malformed_config_json() {
    if !need_root() {
        return;
    }
    let env = Env::new("badjson");
    let b = env.bundle("b", &["true"], |_| {});
    std::fs::write(
        b.join("config.json"),
        "{\"ociVersion\": \"1.0.2\", \"process\": ",
    )
    .unwrap();
    let err = refused(&env, &b, "j");
    assert!(
        err.contains("config.json") && err.contains("malformed JSON"),
        "{err}"
    );
}

#[test]
fn missing_rootfs() {
    if !need_root() {
        return;
    }
    let env = Env::new("norootfs");
    let b = env.bundle("b", &["true"], |c| c["root"]["path"] = json!("nope"));
    let err = refused(&env, &b, "r");
    assert!(err.contains("root.path"), "{err}");
}

#[test]
fn unknown_namespace_type() {
    if !need_root() {
        return;
    }
    let env = Env::new("badns");
    let b = env.bundle("b", &["true"], |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "bogus"}));
    });
    let err = refused(&env, &b, "n");
    assert!(
        err.contains("linux.namespaces[") && err.contains("bogus"),
        "{err}"
    );
}

#[test]
fn unknown_capability_names_the_field() {
    if !need_root() {
        return;
    }
    // The runtime-spec says a value that cannot be mapped to the kernel MUST be an error (runc
    // 1.1 warns and runs the container without it; runtime-tools' process_capabilities_fail).
    let env = Env::new("badcap");
    let b = env.bundle("b", &["true"], |c| {
        c["process"]["capabilities"]["bounding"]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_TEST"));
    });
    let err = refused(&env, &b, "c");
    assert!(
        err.contains("config.json")
            && err.contains("process.capabilities.bounding[")
            && err.contains("CAP_TEST"),
        "{err}"
    );
}

#[test]
fn invalid_id_mappings() {
    if !need_root() {
        return;
    }
    let env = Env::new("badmap");
    let userns = |c: &mut serde_json::Value| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    };
    let b = env.bundle("overlap", &["true"], |c| {
        userns(c);
        c["linux"]["uidMappings"] = json!([
            {"containerID": 0, "hostID": 100000, "size": 1000},
            {"containerID": 500, "hostID": 300000, "size": 1000}
        ]);
    });
    let err = refused(&env, &b, "o");
    assert!(
        err.contains("linux.uidMappings[1]") && err.contains("overlaps"),
        "{err}"
    );
    let b = env.bundle("zero", &["true"], |c| {
        userns(c);
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 0}]);
    });
    let err = refused(&env, &b, "z");
    assert!(err.contains("linux.uidMappings[0].size"), "{err}");
    let b = env.bundle("missing", &["true"], |c| {
        userns(c);
    });
    let err = refused(&env, &b, "m");
    assert!(err.contains("linux.uidMappings"), "{err}");
}

#[test]
fn mount_destination_symlink_escaping_rootfs() {
    if !need_root() {
        return;
    }
    let env = Env::new("escape");
    let b = env.bundle("b", &["true"], |c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/evil/x", "type": "tmpfs", "source": "tmpfs"}));
    });
    std::os::unix::fs::symlink("../../../../../../../../tmp", b.join("rootfs/evil")).unwrap();
    let err = refused(&env, &b, "e");
    assert!(
        err.contains("mounts[")
            && err.contains(".destination")
            && err.contains("outside the rootfs"),
        "{err}"
    );
    // An absolute link with '..' is refused too.
    std::fs::remove_file(b.join("rootfs/evil")).unwrap();
    std::os::unix::fs::symlink("/../../../../tmp", b.join("rootfs/evil")).unwrap();
    let err = refused(&env, &b, "e2");
    assert!(err.contains(".destination"), "{err}");
    // Nothing was mounted on the host's /tmp.
    assert!(!std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some("/tmp/x")));
}

#[test]
fn cwd_outside_rootfs() {
    if !need_root() {
        return;
    }
    let env = Env::new("badcwd");
    let b = env.bundle("b", &["true"], |c| c["process"]["cwd"] = json!("/up/x"));
    std::os::unix::fs::symlink("../../../..", b.join("rootfs/up")).unwrap();
    let err = refused(&env, &b, "c");
    assert!(
        err.contains("process.cwd") && err.contains("outside the rootfs"),
        "{err}"
    );
    let b = env.bundle("rel", &["true"], |c| {
        c["process"]["cwd"] = json!("relative")
    });
    let err = refused(&env, &b, "r");
    assert!(err.contains("process.cwd"), "{err}");
}

#[test]
fn other_refusals() {
    if !need_root() {
        return;
    }
    let env = Env::new("misc");
    let b = env.bundle("nobin", &["/bin/definitely-missing"], |_| {});
    let err = refused(&env, &b, "x");
    assert!(err.contains("process.args[0]"), "{err}");
    let b = env.bundle("noproc", &["true"], |c| {
        c.as_object_mut().unwrap().remove("process");
    });
    let err = refused(&env, &b, "p");
    assert!(err.contains("process"), "{err}");
    let b = env.bundle("rlimit", &["true"], |c| {
        c["process"]["rlimits"] =
            json!([{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 100000000}]);
    });
    let err = refused(&env, &b, "l");
    assert!(err.contains("process.rlimits[0]"), "{err}");
    let b = env.bundle("tty", &["true"], |c| c["process"]["terminal"] = json!(true));
    let err = refused(&env, &b, "t");
    assert!(err.contains("--console-socket"), "{err}");
    let b = env.bundle("rdt", &["true"], |c| {
        c["linux"]["intelRdt"] = json!({"closID": "x"})
    });
    let err = refused(&env, &b, "i");
    assert!(
        err.contains("linux.intelRdt") && err.contains("not supported"),
        "{err}"
    );
    let b = env.bundle("ver", &["true"], |c| c["ociVersion"] = json!("2.0.0"));
    let err = refused(&env, &b, "v");
    assert!(err.contains("ociVersion"), "{err}");
    let out = env.stockade(&[
        "create",
        "--no-pivot",
        "--bundle",
        b.to_str().unwrap(),
        &env.id("np"),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-pivot"));
    let out = env.stockade(&["create", "--bundle", b.to_str().unwrap(), "../bad"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid container id"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}
