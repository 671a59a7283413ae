//! `stockade image container:ID`: a running container found through the runtime state of
//! stockade (`run -d` with a private `--root`), runc (its own `--root`) and podman (a private
//! store), read through `/proc/PID/root`. Each container writes a setuid file into its own
//! filesystem after it starts, so the scan proves it read the live root, not the bundle; each
//! runs with `LD_LIBRARY_PATH` set, which the runtime's recorded config carries to SKD-IMG-020.
//! A missing id is one clear error naming it, exit 2.
//!
//! Needs root, busybox-static, runc and podman (`SKIP` otherwise; a failure under `CI=true`,
//! where scripts/install-deps installs them) and the Alpine minirootfs of ../shared/corpora for
//! podman.

mod runtime_support;
use runtime_support::*;

#[path = "../../scan/tests/image_support/mod.rs"]
#[allow(unused)]
mod image_support;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// What the container does: drop a setuid copy of busybox into its own /tmp, then wait.
const DROP: &str =
    "cp /bin/busybox /tmp/dropped && chmod 4755 /tmp/dropped && touch /tmp/ready && sleep 300";

fn scan(env: &Env, args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.arg("image")
        .args(args)
        .arg("--db")
        .arg(env.dir.join("nodb"));
    env.output(c)
}

/// Wait for the container to have made `/tmp/ready` (seen through its root).
fn wait_ready(pid: i64) {
    let ready = format!("/proc/{pid}/root/tmp/ready");
    for _ in 0..200 {
        if Path::new(&ready).exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the container never made /tmp/ready");
}

/// The scan's JSON: the live file, the config's environment and the layer list.
fn check_report(o: &Output, runtime: &str, id: &str) -> Value {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "findings expected: {err}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = v["findings"].as_array().unwrap();
    let dropped = f
        .iter()
        .find(|x| x["rule_id"] == "SKD-IMG-010" && x["path"] == "/tmp/dropped")
        .unwrap_or_else(|| panic!("the setuid file written in the running container: {f:?}"));
    assert_eq!(dropped["layer"], 0);
    assert!(
        f.iter().any(|x| x["rule_id"] == "SKD-IMG-020"
            && x["message"].as_str().unwrap().contains("LD_LIBRARY_PATH")),
        "the runtime's environment as the image config: {f:?}"
    );
    let layer = &v["layers"][0];
    let digest = layer["digest"].as_str().unwrap();
    assert!(
        digest.starts_with(&format!("container:{id} ({runtime} pid ")),
        "{digest}"
    );
    // The container's /proc and /sys (the host kernel's) are not walked.
    assert!(layer["entries"].as_u64().unwrap() < 2000, "{layer}");
    v
}

fn busybox_bundle(env: &Env, name: &str) -> std::path::PathBuf {
    env.bundle(name, &["sh", "-c", DROP], |c| {
        c["root"]["readonly"] = false.into();
        c["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push("LD_LIBRARY_PATH=/opt/lib".into());
    })
}

#[test]
fn stockade_container_by_id() {
    if !need_root() {
        return;
    }
    let env = Env::new("imgct");
    let b = busybox_bundle(&env, "b");
    let id = env.id("scan");
    let o = env.stockade(&["run", "-d", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    wait_ready(pid);
    let root = env.root.to_str().unwrap();
    let o = scan(
        &env,
        &[
            "-f",
            "json",
            "--state-root",
            root,
            &format!("container:{id}"),
        ],
    );
    check_report(&o, "stockade", &id);
    // Stopped: its state is there, its process is not: one clear error, exit 2.
    let o = env.stockade(&["kill", &id, "KILL"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for _ in 0..100 {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = scan(&env, &["--state-root", root, &format!("container:{id}")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("container:{id}")), "{err}");
    assert!(err.contains("not running") || err.contains("gone"), "{err}");
}

#[test]
fn runc_container_by_id() {
    if !need_root() || !image_support::have("runc") {
        image_support::skip("root and runc are needed to run a runc container");
        return;
    }
    let env = Env::new("imgrunc");
    let b = busybox_bundle(&env, "b");
    let id = env.id("runc");
    let runc_root = env.dir.join("runc");
    let runc = |args: &[&str]| {
        let mut c = Command::new("runc");
        c.arg("--root")
            .arg(&runc_root)
            .args(args)
            .stdin(Stdio::null());
        env.output(c)
    };
    let o = runc(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let st: Value = serde_json::from_slice(&runc(&["state", &id]).stdout).unwrap();
    wait_ready(st["pid"].as_i64().unwrap());
    let o = scan(
        &env,
        &[
            "-f",
            "json",
            "--state-root",
            runc_root.to_str().unwrap(),
            &format!("container:{id}"),
        ],
    );
    let _ = runc(&["delete", "--force", &id]);
    check_report(&o, "runc", &id);
}

#[test]
fn podman_container_by_name() {
    if !need_root() || !image_support::have("podman") {
        image_support::skip("root and podman are needed to run a podman container");
        return;
    }
    let Some(tgz) = image_support::corpus("images/alpine-minirootfs-3.20.3-x86_64.tar.gz") else {
        image_support::skip("the Alpine minirootfs corpus is missing");
        return;
    };
    let env = Env::new("imgpodman");
    let d = &env.dir;
    std::fs::create_dir_all(d.join("tmp")).unwrap();
    let conf = d.join("containers.conf");
    std::fs::write(
        &conf,
        format!(
            // runc: crun 1.8 refuses this machine's hybrid cgroups.
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\nnetns = \"none\"\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"none\"\ntmp_dir = \"{0}/tmp\"\n",
            d.display()
        ),
    )
    .unwrap();
    let storage = d.join("storage.conf");
    std::fs::write(
        &storage,
        format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/graph\"\nrunroot = \"{0}/run\"\n",
            d.display()
        ),
    )
    .unwrap();
    let podman = |args: &[&str]| {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", &conf)
            .env("CONTAINERS_STORAGE_CONF", &storage)
            .args(args)
            .stdin(Stdio::null());
        env.output(c)
    };
    let image = format!("localhost/skd-imgct-{}:3.20", std::process::id());
    let o = podman(&["import", "-q", tgz.to_str().unwrap(), &image]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let name = env.id("pod");
    let o = podman(&[
        "run",
        "-d",
        "--name",
        &name,
        "--env",
        "LD_LIBRARY_PATH=/opt/lib",
        &image,
        "sh",
        "-c",
        DROP,
    ]);
    let cleanup = || {
        let _ = podman(&["rm", "-f", "-t", "0", &name]);
        let _ = podman(&["rmi", "-f", &image]);
    };
    if !o.status.success() {
        cleanup();
        panic!("podman run: {}", String::from_utf8_lossy(&o.stderr));
    }
    let pid: i64 =
        String::from_utf8_lossy(&podman(&["inspect", "--format", "{{.State.Pid}}", &name]).stdout)
            .trim()
            .parse()
            .unwrap_or(0);
    wait_ready(pid);
    // Found through podman (same environment: its store), by name.
    let mut c = Command::new(BIN);
    c.env("CONTAINERS_CONF", &conf)
        .env("CONTAINERS_STORAGE_CONF", &storage)
        .args(["image", "-f", "json", "--db"])
        .arg(env.dir.join("nodb"))
        .arg(format!("container:{name}"));
    let o = env.output(c);
    cleanup();
    let v = check_report(&o, "podman", &name);
    // The Alpine inventory of the running container.
    let apk: Vec<&Value> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "apk")
        .collect();
    assert!(apk.len() >= 10, "{apk:?}");
    assert!(apk.iter().any(|p| p["name"] == "busybox"), "{apk:?}");
}

#[test]
fn missing_container_is_one_clear_error() {
    let env = Env::new("imgnone");
    let o = scan(
        &env,
        &[
            "--state-root",
            env.dir.to_str().unwrap(),
            "container:skd-no-such-container-4242",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("container:skd-no-such-container-4242")
            && lines[0].contains("no container with this id"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
    let o = scan(&env, &["container:../etc"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a container id"));
}
