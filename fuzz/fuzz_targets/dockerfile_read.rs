//! Any text: the Dockerfile reader and the Dockerfile rules must not panic, and every field a
//! violation names must map to a line.
#![no_main]

use audit::source::Subject;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let report = audit::dockerfile::read("Dockerfile", text);
    for item in &report.items {
        if let Subject::Dockerfile(df) = &item.subject {
            for v in policy::dockerfile::evaluate(df) {
                assert!(
                    item.lines.position(&v.field).is_some(),
                    "no line for {}",
                    v.field
                );
            }
        }
    }
});
