//! User namespaces that just work: `stockade spec`'s default (container root
//! mapped to an unprivileged host range) on an ordinary bundle: a busybox
//! rootfs owned by host root, without /run or /proc, in a 0700 directory
//! (what `mktemp -d` makes). The runtime opens the rootfs on the host side
//! and idmaps it, so the container sees the files' own ids.

mod runtime_support;
use runtime_support::*;
use serde_json::json;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The first host id of `stockade spec`'s default range (defaults.rs).
const HOST_BASE: u32 = 2_000_000_000;

/// A bundle in a 0700 directory: busybox owned by host root, /etc/passwd
/// with root and `user` (1000), no /run and no /proc, and `stockade spec`'s
/// default config with `args` (and `edit` applied).
fn plain_bundle(env: &Env, args: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let b = env.dir.join("mktemp");
    std::fs::create_dir(&b).unwrap();
    std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o700)).unwrap();
    let rootfs = b.join("rootfs");
    testkit::busybox_rootfs(&rootfs);
    assert!(!rootfs.join("run").exists() && !rootfs.join("proc").exists());
    let out = env.stockade(&["spec", "--bundle", b.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    cfg["process"]["terminal"] = json!(false);
    cfg["process"]["args"] = json!(["sh", "-c", args]);
    edit(&mut cfg);
    std::fs::write(b.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    b
}

/// `run` under the default policy (not the tests' `off`), warnings in a log.
fn run_default(env: &Env, b: &Path, id: &str) -> (i32, String, String) {
    let mut c = env.cmd();
    c.env_remove("STOCKADE_POLICY");
    c.arg("--log").arg(env.dir.join("runtime.log"));
    c.args(["run", "--bundle", b.to_str().unwrap(), id]);
    let out = env.output(c);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn spec_default_runs_an_ordinary_bundle() {
    if !need_root() {
        return;
    }
    let env = Env::new("userns");
    let b = plain_bundle(
        &env,
        "cat /proc/self/uid_map; ls -ln /bin/busybox; test -d /run && echo run-ok",
        |_| {},
    );
    let (code, out, err) = run_default(&env, &b, &env.id("d"));
    assert_eq!(code, 0, "{out}{err}");
    let mut lines = out.lines();
    let map: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(map, ["0", &HOST_BASE.to_string(), "65536"], "{out}");
    let ls: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!((ls[2], ls[3]), ("0", "0"), "busybox shows as root's: {out}");
    assert_eq!(lines.next(), Some("run-ok"), "{out}");
    // On disk, the rootfs is still host root's (the idmap is a view).
    let md = std::fs::metadata(b.join("rootfs/bin/busybox")).unwrap();
    assert_eq!((md.uid(), md.gid()), (0, 0));
    let f = env.footprint();
    assert!(f.is_empty(), "left behind: {f:?}");
    let _ = std::fs::remove_dir_all(&env.dir);
}

/// The same bundle where the host's mounts are shared, as on every systemd host (this machine's
/// root is private, so a mount namespace with shared propagation stands in for one): the rootfs
/// tree the runtime clones on the host side joins the host's peer group, and pivot_root refused
/// it (EINVAL) until the attached tree was given "/"'s propagation. Found by the realhost guest.
#[test]
fn spec_default_runs_where_host_mounts_are_shared() {
    if !need_root() {
        return;
    }
    let env = Env::new("usernssh");
    let b = plain_bundle(&env, "echo shared-ok", |_| {});
    let mut c = Command::new("unshare");
    c.args(["--mount", "--propagation", "shared", BIN])
        .arg("--root")
        .arg(&env.root)
        .env(
            "STOCKADE_RUNTIME_CONFIG",
            "/nonexistent/stockade-runtime.toml",
        )
        .env_remove("STOCKADE_POLICY")
        .arg("--log")
        .arg(env.dir.join("runtime.log"))
        .args(["run", "--bundle", b.to_str().unwrap(), &env.id("sh")])
        .stdin(std::process::Stdio::null());
    let out = env.output(c);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "shared-ok\n",
        "{text}"
    );
    let f = env.footprint();
    assert!(f.is_empty(), "left behind: {f:?}");
    let _ = std::fs::remove_dir_all(&env.dir);
}

/// With the capabilities engines grant by default (podman's CHOWN, SETUID,
/// SETGID, FOWNER, DAC_OVERRIDE) and a writable root, `chown` and `su` work
/// on the idmapped rootfs as they would without a user namespace; a file
/// created on a bind mount (not idmapped) belongs to the mapped host range.
#[test]
fn chown_su_and_bind_mount_ownership() {
    if !need_root() {
        return;
    }
    let env = Env::new("usernsrw");
    let vol = env.dir.join("vol");
    std::fs::create_dir(&vol).unwrap();
    std::fs::set_permissions(&vol, std::fs::Permissions::from_mode(0o777)).unwrap();
    let script = "cp /etc/group /etc/g2 && chown 1000:1000 /etc/g2 && stat -c %u:%g /etc/g2; \
                  su user -c 'id -u; id -g'; touch /data/made-inside && echo touched";
    let vol_s = vol.to_str().unwrap().to_string();
    let b = plain_bundle(&env, script, |c| {
        c["root"]["readonly"] = json!(false);
        let caps = json!([
            "CAP_CHOWN",
            "CAP_SETUID",
            "CAP_SETGID",
            "CAP_FOWNER",
            "CAP_DAC_OVERRIDE",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
            "CAP_AUDIT_WRITE"
        ]);
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set] = caps.clone();
        }
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/data", "type": "bind", "source": vol_s,
            "options": ["rbind", "rw", "nosuid", "nodev"]
        }));
    });
    let (code, out, err) = run_default(&env, &b, &env.id("w"));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "1000:1000\n1000\n1000\ntouched\n", "{err}");
    // On disk, the idmapped rootfs keeps the container's ids as they are.
    let md = std::fs::metadata(b.join("rootfs/etc/g2")).unwrap();
    assert_eq!((md.uid(), md.gid()), (1000, 1000));
    // The bind mount is not idmapped: container root is the range's first id.
    let md = std::fs::metadata(vol.join("made-inside")).unwrap();
    assert_eq!((md.uid(), md.gid()), (HOST_BASE, HOST_BASE));
    let f = env.footprint();
    assert!(f.is_empty(), "left behind: {f:?}");
    let _ = std::fs::remove_dir_all(&env.dir);
}

/// Kubernetes' `hostUsers: false` through containerd: a volume bind mount
/// with `idmap` and the container's own mappings shows host ids as they
/// are (host root's file is root's inside, and what container root creates
/// is host root's on disk); `rro` makes a whole bind tree read-only; a
/// mapping other than the container's is refused naming the field.
#[test]
fn idmapped_and_recursive_read_only_bind_mounts() {
    if !need_root() {
        return;
    }
    let env = Env::new("usernsid");
    let vol = env.dir.join("vol");
    std::fs::create_dir(&vol).unwrap();
    std::fs::write(vol.join("host-root-file"), "x").unwrap();
    let ro = env.dir.join("ro");
    std::fs::create_dir_all(ro.join("sub")).unwrap();
    let script = "stat -c %u /vol/host-root-file; touch /vol/made && echo made; \
                  touch /ro/sub/x 2>/dev/null || echo ro-refused";
    let (vol_s, ro_s) = (
        vol.to_str().unwrap().to_string(),
        ro.to_str().unwrap().to_string(),
    );
    let map = json!([{"containerID": 0, "hostID": HOST_BASE, "size": 65536}]);
    let b = plain_bundle(&env, script, |c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(json!({
            "destination": "/vol", "type": "bind", "source": vol_s,
            "options": ["rbind", "rw", "idmap"],
            "uidMappings": map, "gidMappings": map
        }));
        mounts.push(json!({
            "destination": "/ro", "type": "bind", "source": ro_s,
            "options": ["rbind", "rro"]
        }));
    });
    let (code, out, err) = run_default(&env, &b, &env.id("i"));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "0\nmade\nro-refused\n", "{err}");
    let md = std::fs::metadata(vol.join("made")).unwrap();
    assert_eq!(
        (md.uid(), md.gid()),
        (0, 0),
        "container root is host root on an idmapped volume"
    );
    assert!(!ro.join("sub/x").exists());

    // Mappings other than the container's are refused, naming the field.
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    let n = cfg["mounts"].as_array().unwrap().len();
    cfg["mounts"][n - 2]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    std::fs::write(b.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    let (code, _, err) = run_default(&env, &b, &env.id("j"));
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!("mounts[{}].uidMappings", n - 2)),
        "{err}"
    );
    let f = env.footprint();
    assert!(f.is_empty(), "left behind: {f:?}");
    let _ = std::fs::remove_dir_all(&env.dir);
}
