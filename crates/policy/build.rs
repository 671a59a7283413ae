//! The rule catalogue is written as TOML (`rules/*.toml`). At build time this:
//!
//! - converts each file once into `$OUT_DIR/<name>.json`, which the binary parses at run time.
//!   Parsing the TOML at run time took about 4 million instructions, most of the CPU time of a
//!   `stockade run` whose config draws a policy warning; the same data as JSON parses several
//!   times faster;
//! - writes `$OUT_DIR/rules.rs` (included by `src/catalogue.rs`): the list of those JSON files in
//!   catalogue order, and `id::*`, one constant per rule (`id::SKD_ESC_020`), so that code names
//!   a rule by a constant and a mistyped id does not compile.
//!
//! A file that is not valid TOML, or a rule without a well-formed `id`, fails the build with the
//! file (and, for TOML errors, line and column).

use std::fmt::Write as _;
use std::path::PathBuf;

/// The rule files, in catalogue order.
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
    let mut files = String::new();
    let mut ids = String::new();
    let mut all = String::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut index = 0usize;
    for name in FILES {
        let src = format!("rules/{name}.toml");
        println!("cargo:rerun-if-changed={src}");
        let text = std::fs::read_to_string(&src).unwrap_or_else(|e| fail(&src, &e));
        let table: toml::Table = toml::from_str(&text).unwrap_or_else(|e| fail(&src, &e));
        let json = serde_json::to_string(&table).unwrap_or_else(|e| fail(&src, &e));
        let dst = out.join(format!("{name}.json"));
        std::fs::write(&dst, json).unwrap_or_else(|e| fail(&dst.display().to_string(), &e));
        let _ = writeln!(
            files,
            "    (\"{name}.toml\", include_str!(concat!(env!(\"OUT_DIR\"), \"/{name}.json\"))),"
        );
        let rules = table.get("rule").and_then(|r| r.as_array());
        for rule in rules.into_iter().flatten() {
            let id = rule.get("id").and_then(|v| v.as_str()).unwrap_or_else(|| {
                fail(&src, &"a [[rule]] without a string `id`");
            });
            let ok = id.starts_with("SKD-")
                && id
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                fail(
                    &src,
                    &format!("rule id {id:?}: ids are SKD- then A-Z, 0-9, -"),
                );
            }
            if !seen.insert(id.to_string()) {
                fail(&src, &format!("duplicate rule id {id}"));
            }
            let title = rule.get("title").and_then(|v| v.as_str()).unwrap_or("");
            let konst = id.replace('-', "_");
            let _ = writeln!(
                ids,
                "    /// {title} (`rules/{name}.toml`).\n    pub const {konst}: RuleId = RuleId {{ id: \"{id}\", index: {index} }};"
            );
            let _ = writeln!(all, "        {konst},");
            index += 1;
        }
    }
    let code = format!(
        "/// The rule files compiled into the binary, in catalogue order: `rules/<name>.toml` as JSON.\n\
         const RULE_FILES: &[(&str, &str)] = &[\n{files}];\n\n\
         /// One constant per rule of the catalogue, generated from `rules/*.toml` by `build.rs`:\n\
         /// code names its rules with these, so a mistyped id does not compile.\n\
         pub mod id {{\n    use super::RuleId;\n\n{ids}\n    \
         /// Every rule, in catalogue order.\n    pub const ALL: &[RuleId] = &[\n{all}    ];\n}}\n"
    );
    let dst = out.join("rules.rs");
    std::fs::write(&dst, code).unwrap_or_else(|e| fail(&dst.display().to_string(), &e));
}

fn fail(path: &str, e: &dyn std::fmt::Display) -> ! {
    eprintln!("crates/policy/{path}: {e}");
    std::process::exit(1)
}
