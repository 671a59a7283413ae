//! The rule catalogue is written as TOML (`rules/*.toml`) and read at run time as JSON: this
//! converts each file once, at build time, into `$OUT_DIR/<name>.json`. Parsing the TOML at run
//! time took about 4 million instructions, most of the CPU time of a `stockade run` whose config
//! draws a policy warning; the same data as JSON parses several times faster. A file that is not
//! valid TOML fails the build with the file, line and column.

use std::path::PathBuf;

/// The rule files, in catalogue order (`src/catalogue.rs` includes the JSON in this order).
const FILES: &[&str] = &[
    "pss",
    "escape",
    "k8s",
    "dockerfile",
    "input",
    "watch",
    "image",
    "host",
];

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for name in FILES {
        let src = format!("rules/{name}.toml");
        println!("cargo:rerun-if-changed={src}");
        let text = std::fs::read_to_string(&src).unwrap_or_else(|e| fail(&src, &e));
        let table: toml::Table = toml::from_str(&text).unwrap_or_else(|e| fail(&src, &e));
        let json = serde_json::to_string(&table).unwrap_or_else(|e| fail(&src, &e));
        let dst = out.join(format!("{name}.json"));
        std::fs::write(&dst, json).unwrap_or_else(|e| fail(&dst.display().to_string(), &e));
    }
}

fn fail(path: &str, e: &dyn std::fmt::Display) -> ! {
    eprintln!("crates/policy/{path}: {e}");
    std::process::exit(1)
}
