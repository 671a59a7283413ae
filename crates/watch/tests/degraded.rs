//! Degraded kernels and privileges (simulated where this machine cannot really lack a feature),
//! and the operator-facing options: --rules, --metrics, --format text, --probe.

mod common;

use common::*;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

fn watch_once(env: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let out = Command::new(WATCH)
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn probe_states_the_tier_in_the_first_line() {
    if skip_reason(false).is_some() {
        return;
    }
    let (code, err) = watch_once(&[], &["--probe"]);
    assert_eq!(code, 0, "{err}");
    let first = err.lines().next().unwrap();
    assert!(first.starts_with("stockade watch: tier "), "{first}");
    // this VM: trampolines refused, so BPF-LSM is not usable even though `bpf` is listed
    assert!(first.contains("trampolines=no"), "{first}");
    assert!(first.contains("tier b (cgroup BPF"), "{first}");
    assert!(err.contains("detection: available"), "{err}");
}

#[test]
fn not_root_is_a_clear_message_not_a_crash() {
    if skip_reason(false).is_some() {
        return;
    }
    use std::os::unix::process::CommandExt;
    let out = Command::new(WATCH)
        .args(["--duration", "1"])
        .uid(65534)
        .gid(65534)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.lines().next().unwrap().contains("tier none"), "{err}");
    assert!(err.contains("not privileged (euid 65534"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn missing_btf_keeps_cgroup_enforcement() {
    if skip_reason(false).is_some() {
        return;
    }
    let (code, err) = watch_once(
        &[("STOCKADE_BTF_PATH", "/nonexistent/vmlinux")],
        &["--duration", "1"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no kernel BTF at /nonexistent/vmlinux"),
        "{err}"
    );
    assert!(
        err.contains("with --enforce, cgroup BPF enforcement would still work"),
        "{err}"
    );

    // and with --enforce it does: the cgroup programs carry no CO-RE relocations
    let c = Runc::start("nobtf", Shape::Privileged, None);
    let mut child = Command::new(WATCH)
        .env("STOCKADE_BTF_PATH", "/nonexistent/vmlinux")
        .arg("--runc-root")
        .arg(Runc::root())
        .args(["--enforce", "--duration", "30", "--container", &c.id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let t = std::time::Instant::now();
    let mut log = String::new();
    let want = format!("enforcing on container {}", c.id);
    while t.elapsed() < Duration::from_secs(15) && !log.contains(&want) {
        let mut buf = [0u8; 4096];
        let n = stderr.read(&mut buf).unwrap_or(0);
        log.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(
        log.contains("enforcement through cgroup BPF still works"),
        "{log}"
    );
    assert!(
        log.contains(&format!("enforcing on container {}", c.id)),
        "{log}"
    );
    let out = Ctr::Runc(&c).exec(None, &["sh", "-c", "mknod /tmp/b3 b 7 253"], None);
    assert!(out.contains("Operation not permitted"), "{out}");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}

#[test]
fn no_ring_buffer_names_what_is_missing() {
    if skip_reason(false).is_some() {
        return;
    }
    let (code, err) = watch_once(
        &[("STOCKADE_WATCH_SIMULATE", "no-ringbuf")],
        &["--duration", "1"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("ringbuf=no (ring buffer unavailable (simulated))"),
        "{err}"
    );
    assert!(
        err.contains("the sensor reports through a BPF ring buffer"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
}

#[test]
fn no_lsm_and_no_cgroup2_fall_to_the_reactive_tier() {
    if skip_reason(false).is_some() {
        return;
    }
    let (code, err) = watch_once(
        &[("STOCKADE_WATCH_SIMULATE", "no-lsm,no-cgroup2")],
        &["--probe"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("tier c (reactive kill)"), "{err}");
    assert!(err.contains("bpf_lsm=absent"), "{err}");
}

#[test]
fn rules_file_disables_and_regrades() {
    if skip_reason(false).is_some() {
        return;
    }
    let rules = scratch().join("rules.toml");
    std::fs::write(
        &rules,
        "[rule.SKD-RUN-015]\nenabled = false\n\n[rule.SKD-RUN-016]\nseverity = \"critical\"\n",
    )
    .unwrap();
    let mut w = Watcher::start("rules", &["--rules", rules.to_str().unwrap()]);
    let c = Runc::start("rules", Shape::Privileged, None);
    let ctr = Ctr::Runc(&c);
    ctr.exec(None, &["skd-trigger", "bpf"], None);
    ctr.exec(None, &["skd-trigger", "perf"], None);
    let events = w.stop();
    let mine = of_container(&events, &c.id);
    assert!(
        !mine.iter().any(|e| e["rule"] == "SKD-RUN-015"),
        "disabled: {mine:#?}"
    );
    let perf: Vec<_> = mine.iter().filter(|e| e["rule"] == "SKD-RUN-016").collect();
    assert_eq!(perf.len(), 1);
    assert_eq!(perf[0]["severity"], "critical");

    std::fs::write(&rules, "[rule.SKD-NOPE-1]\nenabled = false\n").unwrap();
    let (code, err) = watch_once(
        &[],
        &["--rules", rules.to_str().unwrap(), "--duration", "1"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("rule SKD-NOPE-1 is not a rule that `stockade watch` reports"),
        "{err}"
    );
}

#[test]
fn metrics_endpoint_and_text_output() {
    if skip_reason(false).is_some() {
        return;
    }
    let (code, err) = watch_once(&[], &["--metrics", "0.0.0.0:9464", "--duration", "1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("only loopback addresses are allowed"), "{err}");

    let mut w = Watcher::start("metrics", &["--metrics", "127.0.0.1:0", "--format", "text"]);
    let log = w.log();
    let addr = log
        .lines()
        .find_map(|l| l.strip_prefix("stockade watch: metrics at http://"))
        .and_then(|l| l.strip_suffix("/metrics"))
        .expect("metrics address logged")
        .to_string();
    let c = Runc::start("metrics", Shape::Privileged, None);
    Ctr::Runc(&c).exec(None, &["skd-trigger", "userfaultfd"], None);
    std::thread::sleep(Duration::from_millis(1500));
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    assert!(body.starts_with("HTTP/1.0 200 OK"), "{body}");
    assert!(
        body.contains("stockade_watch_events_total{rule=\"SKD-RUN-018\",verdict=\"alerted\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("stockade_watch_ringbuf_drops_total 0"),
        "{body}"
    );
    assert!(
        body.contains("stockade_watch_ringbuf_pending_bytes"),
        "{body}"
    );
    w.stop();
    let text = std::fs::read_to_string(&w.out).unwrap();
    assert!(
        text.contains("SKD-RUN-018 userfaultfd created in a container"),
        "{text}"
    );
    assert!(text.contains(&format!("[runc {}]", &c.id[..12])), "{text}");
}

/// A kernel without the capability:cap_capable tracepoint (simulated: the program is not
/// attached) cannot run the lean tier: one clear line, then the dispatcher.
#[test]
fn lean_tier_without_cap_capable_falls_back_to_the_dispatcher() {
    if skip_reason(false).is_some() {
        return;
    }
    let (code, err) = watch_once(
        &[("STOCKADE_WATCH_SKIP_PROGRAMS", "cap_capable")],
        &[
            "--syscall-hooks",
            "none",
            "--duration",
            "1",
            "-o",
            "/dev/null",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "lean tier unavailable (it needs the capability:cap_capable tracepoint, Linux 6.x): \
             cap_capable not attached: skipped"
        ),
        "{err}"
    );
    assert!(
        err.contains("falling back to --syscall-hooks dispatcher"),
        "{err}"
    );
    assert!(err.contains("(syscall hooks: dispatcher)"), "{err}");
    assert!(!err.contains("not covered: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// The lean tier states what it does not cover at start-up.
#[test]
fn lean_tier_lists_what_it_does_not_cover() {
    if skip_reason(false).is_some() {
        return;
    }
    let (code, err) = watch_once(
        &[],
        &[
            "--syscall-hooks",
            "none",
            "--duration",
            "1",
            "-o",
            "/dev/null",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(syscall hooks: none)"), "{err}");
    let listed = err
        .lines()
        .find(|l| l.contains("lean tier (--syscall-hooks none): not covered: "))
        .unwrap_or_else(|| panic!("no list of uncovered rules:\n{err}"));
    // from the catalogue's [rule.watch]: partly covered, not covered, and fully covered rules
    assert!(listed.contains("SKD-RUN-004 binfmt_misc"), "{listed}");
    assert!(listed.contains("SKD-RUN-024 service-account"), "{listed}");
    assert!(!listed.contains("SKD-RUN-005"), "{listed}");
    assert!(!listed.contains("SKD-RUN-020"), "{listed}");
    assert!(
        listed.contains("SKD-ESC-038 block devices opened, unless --lean-devices"),
        "{listed}"
    );
}
