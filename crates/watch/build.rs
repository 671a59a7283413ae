//! Compiles the BPF programs under `bpf/` with the system clang and generates libbpf-rs
//! skeletons for them (`$OUT_DIR/<name>.skel.rs`).

use libbpf_cargo::SkeletonBuilder;
use std::env;
use std::path::PathBuf;

const PROGRAMS: &[&str] = &["sensor", "enforce", "lsm"];

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let include = manifest.join("bpf");
    for name in PROGRAMS {
        let src = include.join(format!("{name}.bpf.c"));
        let skel = out.join(format!("{name}.skel.rs"));
        if let Err(e) = SkeletonBuilder::new()
            .source(&src)
            .clang_args([
                "-I".into(),
                include.clone().into_os_string(),
                "-Wno-compare-distinct-pointer-types".into(),
                "-O2".into(),
                "-I/usr/include/x86_64-linux-gnu".into(),
            ])
            .build_and_generate(&skel)
        {
            panic!(
                "compiling {}: {e:#}\n(needs Debian's clang; scripts/install-deps installs it; see docs/watch.md)",
                src.display()
            );
        }
        println!("cargo:rerun-if-changed={}", src.display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        include.join("sensor.h").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        include.join("vmlinux.h").display()
    );
}
