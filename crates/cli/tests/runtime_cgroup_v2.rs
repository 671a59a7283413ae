//! The runtime on a pure cgroup v2 host. This machine is hybrid, so the
//! proof boots Debian's cloud kernel under QEMU with `cgroup_no_v1=all`
//! (crates/runtime/qemu/run-cgroup-v2.sh) and runs this stockade binary in
//! a busybox initramfs: every resource (memory, swap, pids, cpu, cpuset, io,
//! hugetlb, unified), the eBPF device program, the freezer, `events --stats`,
//! OOM events, `update` and cleanup, each checked in the cgroup files and
//! from inside the container. The kernel enables AppArmor (Debian's
//! default), so the same boot also checks `process.apparmorProfile` and
//! `exec --apparmor` with a test profile, and a profile that is not loaded. About a minute under software emulation; the
//! kernel package is cached under target/qemu-cgroup-v2.

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_stockade");

fn config(args: &[&str], resources: Value) -> Value {
    let dir = std::env::temp_dir().join(format!("stockade-cgv2-spec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(BIN)
        .args(["spec", "--unhardened", "--bundle"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut c: Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    c["root"] = json!({"path": "/tmp/rootfs", "readonly": true});
    c["process"]["terminal"] = json!(false);
    c["process"]["args"] = json!(args);
    let mounts = c["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
        "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
    );
    mounts.push(
        json!({"destination": "/kmsg", "type": "bind", "source": "/dev/kmsg",
        "options": ["bind"]}),
    );
    c["linux"]["resources"] = resources;
    c
}

#[test]
fn pure_cgroup_v2_under_qemu() {
    if !testkit::require_root() || !testkit::require(&["qemu-system-x86_64", "cpio"]) {
        return;
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = manifest.join("../../target/qemu-cgroup-v2");
    let cfgs = out_dir.join("configs");
    let _ = std::fs::remove_dir_all(&cfgs);
    std::fs::create_dir_all(&cfgs).unwrap();
    let res = config(
        &["sleep", "1000"],
        json!({
            "devices": [{"allow": false, "access": "rwm"}],
            "memory": {"limit": 67108864, "swap": 100663296, "reservation": 33554432},
            "pids": {"limit": 30},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
            "blockIO": {"weight": 500},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
            "unified": {"memory.high": "50331648"}
        }),
    );
    let oom = config(
        &[
            "sh",
            "-c",
            "while [ ! -e /dev/shm/go ]; do sleep 0.1; done; tail /dev/zero; exec sleep 1000",
        ],
        json!({
            "devices": [{"allow": false, "access": "rwm"}],
            "memory": {"limit": 16777216, "swap": 16777216}
        }),
    );
    let script =
        "cat /proc/self/attr/current; echo x > /dev/shm/denied && echo wrote || echo denied";
    let with_profile = |p: Option<&str>| {
        let mut c = config(&["sh", "-c", script], json!(null));
        if let Some(p) = p {
            c["process"]["apparmorProfile"] = json!(p);
        }
        c
    };
    let aa = with_profile(Some("stockade-test"));
    let noaa = with_profile(None);
    let aamissing = with_profile(Some("stockade-no-such"));
    let plain = config(&["sleep", "1000"], json!(null));
    // (oom: the OOM comes once `events` runs: the guest then creates /dev/shm/go.)
    for (n, c) in [
        ("res", res),
        ("oom", oom),
        ("aa", aa),
        ("noaa", noaa),
        ("aamissing", aamissing),
        ("plain", plain),
    ] {
        std::fs::write(
            cfgs.join(format!("{n}.json")),
            serde_json::to_vec_pretty(&c).unwrap(),
        )
        .unwrap();
    }
    let out = Command::new(manifest.join("../runtime/qemu/run-cgroup-v2.sh"))
        .arg(&out_dir)
        .env("STOCKADE", BIN)
        .output()
        .expect("run-cgroup-v2.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ok = text.lines().filter(|l| l.ends_with(" ok")).count();
    let failed: Vec<&str> = text.lines().filter(|l| l.contains(" FAIL")).collect();
    eprintln!("cgroup v2 guest: {ok} passed, {} failed", failed.len());
    assert!(
        text.contains("v1=0 "),
        "no v1 hierarchy in the guest:\n{text}"
    );
    assert!(out.status.success() && failed.is_empty(), "{text}");
    for name in [
        "memory.max",
        "memory.swap.max",
        "pids.max",
        "cpu.max",
        "cpuset.cpus",
        "hugetlb.2MB.max",
        "memory.high",
        "device-program",
        "cgroup.freeze",
        "stats-pids",
        "update-memory.max",
        "oom-event",
        "cgroup-removed",
        "apparmor-run-current",
        "apparmor-run-denied",
        "apparmor-none-wrote",
        "apparmor-exec-current",
        "apparmor-run-missing",
        "nothing-left",
    ] {
        assert!(
            text.contains(&format!("CHECK {name} ok")),
            "{name} missing:\n{text}"
        );
    }
}
