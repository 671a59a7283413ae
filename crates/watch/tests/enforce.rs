//! `--enforce` on this kernel (tier b): inside a privileged container, opening a block device,
//! mknod and writing core_pattern fail with EPERM (cgroup BPF on the container's cgroup2
//! directory) and mount and a rare-family socket are killed (reactive tier), also from a process
//! that took a container runtime's name; the same actions on the host succeed.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

fn enforce_in(ctr: Ctr<'_>, blockdev: &str, mut w: Watcher, lp: &Loop) {
    w.wait_log(
        &format!("enforcing on container {}", ctr.id()),
        Duration::from_secs(20),
    );
    let block = ctr.exec(
        None,
        &["sh", "-c", &format!("head -c 8 {blockdev} >/dev/null")],
        None,
    );
    assert!(
        block.contains("Operation not permitted"),
        "block device open: {block}"
    );
    let mknod = ctr.exec(None, &["sh", "-c", "mknod /tmp/b1 b 7 251"], None);
    assert!(mknod.contains("Operation not permitted"), "mknod: {mknod}");
    let core = ctr.exec(
        None,
        &[
            "sh",
            "-c",
            "cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern",
        ],
        None,
    );
    assert!(
        core.contains("Operation not permitted"),
        "core_pattern: {core}"
    );
    let mount = ctr.exec(
        None,
        &[
            "sh",
            "-c",
            "mkdir -p /tmp/m; mount -t tmpfs x /tmp/m; echo exit=$?",
        ],
        None,
    );
    assert!(
        mount.contains("exit=137"),
        "mount is killed (reactive): {mount}"
    );
    // A rare socket family (AF_ALG) has no cgroup hook (`cgroup/sock_create` runs only for
    // AF_INET/AF_INET6): it is killed too, and reported.
    let sock = ctr.exec(
        None,
        &["sh", "-c", "skd-trigger socket; echo exit=$?"],
        None,
    );
    assert!(
        sock.contains("exit=137"),
        "rare socket family is killed (reactive): {sock}"
    );
    // ... and so it is when the process takes a container runtime's name: only a runtime's
    // set-up lineage, decided by what was executed on the host, is spared.
    let renamed = ctr.exec(
        None,
        &[
            "sh",
            "-c",
            "skd-trigger as 'runc:[2:INIT]' socket; echo exit=$?",
        ],
        None,
    );
    assert!(
        renamed.contains("exit=137"),
        "a process renamed runc:[2:INIT] is killed too: {renamed}"
    );
    // an ordinary action still works in the container
    let ok = ctr.exec(
        None,
        &["sh", "-c", "echo fine > /tmp/f && cat /tmp/f"],
        None,
    );
    assert!(ok.contains("fine"), "{ok}");

    // the host is untouched
    let host = sh(&format!(
        "head -c 8 {dev} | wc -c && mknod {d}/hb b 7 251 && rm {d}/hb && \
         cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern && echo host-ok",
        dev = lp.dev,
        d = scratch().display()
    ));
    let host_out = String::from_utf8_lossy(&host.stdout);
    assert!(
        host_out.contains("host-ok"),
        "host: {host_out} {}",
        String::from_utf8_lossy(&host.stderr)
    );

    let events = w.stop();
    let mine = of_container(&events, ctr.id());
    let verdict = |rule: &str| -> Vec<String> {
        mine.iter()
            .filter(|e| e["rule"] == rule)
            .map(|e| e["verdict"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(verdict("SKD-ESC-038"), ["denied"], "{mine:#?}");
    assert_eq!(verdict("SKD-RUN-007"), ["denied"], "{mine:#?}");
    assert_eq!(verdict("SKD-RUN-003"), ["denied"], "{mine:#?}");
    assert_eq!(verdict("SKD-RUN-005"), ["killed"], "{mine:#?}");
    assert_eq!(verdict("SKD-RUN-014"), ["killed", "killed"], "{mine:#?}");
    let by: Vec<&Value> = mine.iter().map(|e| &e["args"]["by"]).collect();
    assert!(by.iter().any(|b| *b == "cgroup/dev") && by.iter().any(|b| *b == "cgroup/sysctl"));
}

#[test]
fn runc_enforcement_denies_inside_allows_on_host() {
    if skip_reason(false).is_some() {
        return;
    }
    let lp = Loop::new("runc-enf");
    // scoped to this test's containers: other containers on the machine are left alone
    let w = Watcher::start("runc-enf", &["--enforce", "--container", "skw-enf-"]);
    let c = Runc::start("enf", Shape::Privileged, Some(&lp.dev));
    enforce_in(Ctr::Runc(&c), "/dev/skwloop", w, &lp);
}

#[test]
fn podman_enforcement_denies_inside_allows_on_host() {
    if skip_reason(true).is_some() {
        return;
    }
    let lp = Loop::new("podman-enf");
    podman_env();
    let c = Podman::start("enf", &["--privileged"]);
    let w = Watcher::start("podman-enf", &["--enforce", "--container", &c.id]);
    enforce_in(Ctr::Podman(&c), &lp.dev.clone(), w, &lp);
}

/// A container that was running before `watch --enforce` started is found by the /proc scan.
#[test]
fn enforcement_reaches_containers_started_earlier() {
    if skip_reason(false).is_some() {
        return;
    }
    let c = Runc::start("early", Shape::Privileged, None);
    let mut w = Watcher::start("early", &["--enforce", "--container", &c.id]);
    w.wait_log(
        &format!("enforcing on container {}", c.id),
        Duration::from_secs(10),
    );
    let out = Ctr::Runc(&c).exec(None, &["sh", "-c", "mknod /tmp/b2 b 7 252"], None);
    assert!(out.contains("Operation not permitted"), "{out}");
    w.stop();
}
