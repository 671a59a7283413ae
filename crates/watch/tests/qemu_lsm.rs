//! Tier (a), BPF-LSM, on a stock Debian 6.12 kernel under QEMU (this VM's kernel refuses BPF
//! trampolines, so the LSM programs cannot load natively). Runs crates/watch/qemu/run-lsm-test.sh,
//! which boots the kernel with `lsm=...,bpf` and an initramfs carrying `stockade-watch`: mount,
//! the new mount API, release_agent writes, ptrace, and fileless and tmpfs exec must be denied
//! inside a cgroup and allowed outside it. The kernel package is cached under target/qemu-lsm.

use std::path::Path;
use std::process::Command;

#[test]
fn bpf_lsm_denies_inside_cgroup_allows_outside_under_qemu() {
    if !testkit::require_root() || !testkit::require(&["qemu-system-x86_64", "clang"]) {
        return;
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = manifest.join("../../target/qemu-lsm");
    let out = Command::new(manifest.join("qemu/run-lsm-test.sh"))
        .arg(&out_dir)
        .env("WATCH", env!("CARGO_BIN_EXE_stockade-watch"))
        .output()
        .expect("run-lsm-test.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    for a in [
        "mount",
        "newmount",
        "release_agent",
        "ptrace",
        "exec_tmp",
        "exec_memfd",
    ] {
        assert!(
            text.contains(&format!("ok: {a} denied inside, allowed outside")),
            "{a}:\n{text}"
        );
    }
    assert!(text.contains("tier a (BPF-LSM deny)"), "{text}");
}
