//! Watch's effect rules on Debian 12's own kernel (6.1) under QEMU: crates/watch/qemu/
//! run-effects-test.sh boots it with `stockade-watch --include-host` (the default tier), a
//! stockade container (its default spec: own user namespace, uid 65534) and host processes.
//!
//! - the sensor loads on 6.1 (kernel_cap_t is `__u32 cap[2]` there, the pipe's head and tail plain
//!   fields, no bpf_cast_to_kern_ctx, no ring-buffer memory as a map key);
//! - SKD-RUN-044: the Dirty Pipe pattern in the container, one event, and none for a splice relay;
//! - SKD-RUN-042, initial-user-namespace: a test module (crates/watch/qemu/skd-cred) whose proc
//!   file runs commit_creds(prepare_kernel_cred(&init_task)) in the writer, the payload of a kernel
//!   exploit without the bug. The container's uid 65534 writes it and becomes host root: once
//!   followed by an exec (seen at the exec), once followed by three seconds without exec, fork or
//!   exit (seen by the timer). On the host, a task of the initial user namespace that does the same
//!   (in the host's namespaces, or in a private mount namespace) gives no event: it did not move;
//!   a task in private user and mount namespaces (a container without a runtime) gives one,
//!   attributed to the host;
//! - SKD-RUN-042, capabilities-beyond-bounding-set (`skd-trigger inh_beyond_bset`) and SKD-RUN-044
//!   on the host in private namespaces: attributed to the host.
//!
//! The kernel and header packages are cached under target/qemu-effects.

mod common;

use common::stockade_bin;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn count(evs: &[Value], f: impl Fn(&Value) -> bool) -> usize {
    evs.iter().filter(|e| f(e)).count()
}

#[test]
fn effects_fire_on_debian_6_1_under_qemu() {
    if !testkit::require_root()
        || !testkit::require(&[
            "qemu-system-x86_64",
            "clang",
            "gcc-12",
            "make",
            "python3",
            "apt-get",
        ])
    {
        return;
    }
    let Some(stockade) = stockade_bin() else {
        testkit::skip("stockade binary not built (cargo build -p stockade)");
        return;
    };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = manifest.join("../../target/qemu-effects");
    let out = Command::new(manifest.join("qemu/run-effects-test.sh"))
        .arg(&out_dir)
        .env("WATCH", env!("CARGO_BIN_EXE_stockade-watch"))
        .env("STOCKADE", &stockade)
        .output()
        .expect("run-effects-test.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.code() == Some(3) {
        testkit::skip(&format!(
            "Debian's 6.1 kernel is not downloadable here: {text}"
        ));
        return;
    }
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("GUEST kernel 6.1."),
        "not Debian's 6.1:\n{text}"
    );
    let loaded = text
        .lines()
        .find(|l| l.starts_with("WATCH stockade watch: detection:"))
        .unwrap_or_else(|| panic!("the sensor did not load:\n{text}"));
    assert!(
        loaded.contains("programs attached") && !loaded.contains("not attached"),
        "{loaded}"
    );
    let result = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("RESULT {name} ")))
            .unwrap_or_else(|| panic!("no result for {name}:\n{text}"))
            .to_string()
    };
    let ctr = result("stockade");
    assert!(ctr.contains("rc=0"), "{ctr}");
    assert!(ctr.contains("dirty_pipe: spliced and wrote"), "{ctr}");
    assert!(ctr.contains("splice_relay: 0 (ok)"), "{ctr}");
    assert!(result("host-dirty-pipe").contains("rc=0"), "{text}");
    assert!(
        result("host-inh-beyond-bset").contains("beyond the bounding set"),
        "{text}"
    );
    let evs: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("EVENT "))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let in_ctr = |e: &Value| {
        e["container"]["id"] == "skd-effects" && e["container"]["runtime"] == "stockade"
    };
    let on_host = |e: &Value| e["container"]["runtime"] == "host";
    let rule = |e: &Value, r: &str| e["rule"] == r;
    let how = |e: &Value, h: &str| e["args"]["how"] == serde_json::json!([h]);
    let dump = || {
        evs.iter()
            .filter(|e| e["rule"] != "SKD-RUN-005")
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };

    // SKD-RUN-044: the pattern once (the relay adds none); this kernel is fixed
    let dp: Vec<&Value> = evs
        .iter()
        .filter(|e| in_ctr(e) && rule(e, "SKD-RUN-044"))
        .collect();
    assert_eq!(dp.len(), 1, "{}", dump());
    assert_eq!(dp[0]["args"]["file"], "skd-dp", "{}", dump());
    assert_eq!(dp[0]["args"]["merges_into_page_cache"], false, "{}", dump());
    let host_dp = count(&evs, |e| {
        on_host(e) && rule(e, "SKD-RUN-044") && e["args"]["file"] == "skd-dp-host"
    });
    assert_eq!(host_dp, 1, "{}", dump());
    assert_eq!(
        count(&evs, |e| !in_ctr(e) && !on_host(e)),
        0,
        "an event of an unknown container:\n{}",
        dump()
    );

    // SKD-RUN-042, capabilities beyond the bounding set, in private namespaces on the host
    let caps = count(&evs, |e| {
        on_host(e) && rule(e, "SKD-RUN-042") && how(e, "capabilities-beyond-bounding-set")
    });
    assert_eq!(caps, 1, "{}", dump());

    // SKD-RUN-042, the initial user namespace, needs the test module
    if text.contains("GUEST module skd_cred not loaded") || !text.contains("GUEST module") {
        testkit::skip(&format!(
            "the test module skd_cred did not build or load (target/qemu-effects/mod-*/build.log):\n{text}"
        ));
        return;
    }
    let ctr_cred: Vec<&Value> = evs
        .iter()
        .filter(|e| in_ctr(e) && rule(e, "SKD-RUN-042"))
        .collect();
    assert_eq!(ctr_cred.len(), 2, "{}", dump());
    for e in &ctr_cred {
        assert!(how(e, "initial-user-namespace"), "{e}");
        assert_eq!(e["process"]["euid"], 0, "{e}");
        assert_eq!(e["args"]["was"]["euid"], 2_000_065_534u64, "{e}");
    }
    let mut seen: Vec<&str> = ctr_cred
        .iter()
        .map(|e| e["args"]["seen_at"].as_str().unwrap_or(""))
        .collect();
    seen.sort();
    assert_eq!(seen, ["exec", "timer"], "{}", dump());
    // on the host: only the task that was in a user namespace of its own moved
    let host_cred: Vec<&Value> = evs
        .iter()
        .filter(|e| on_host(e) && rule(e, "SKD-RUN-042") && how(e, "initial-user-namespace"))
        .collect();
    assert_eq!(host_cred.len(), 1, "{}", dump());
    assert_eq!(host_cred[0]["args"]["seen_at"], "exec", "{}", dump());
}
