//! Link options of the `stockade` binary, for start-up time (docs/benchmarks.md, start-up).
//!
//! `-z pack-relative-relocs` stores the binary's ~23,000 relative relocations as a compact
//! bitmap (DT_RELR, glibc ≥ 2.36, binutils ≥ 2.38) instead of a 550 KB table that the dynamic
//! loader reads page by page on every exec: the runtime execs twice per container start (the
//! CVE-2019-5736 seal re-executes it). RELRO and `-z now` stay as rustc sets them.
//!
//! `libgcc_eh.a` (GCC's unwinder, static) is linked ahead of the `-lgcc_s` that Rust's standard
//! library asks for, so the unwinding symbols resolve from it and `--as-needed` drops
//! `libgcc_s.so.1`: one shared library less to load, and its constructor, which runs `cpuid`
//! (a trap to the hypervisor on a VM) to fill `__cpu_model`, no longer runs at every exec.
//! Panics and backtraces unwind as before (the same unwinder, linked in).

fn main() {
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if linux_gnu {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
}
