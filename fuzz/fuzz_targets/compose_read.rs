//! Any text: the compose reader and the cross-format escape rules must not panic; every field a
//! violation names must map to a line of its service.
#![no_main]

use audit::source::Subject;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let report = audit::compose::read("compose.yaml", text);
    let opts = policy::Options {
        level: policy::Level::Hardened,
        ..policy::Options::default()
    };
    for item in &report.items {
        if let Subject::View(view) = &item.subject {
            for v in policy::evaluate_view(view, &opts) {
                assert!(
                    item.lines.position(&v.field).is_some(),
                    "no line for {}",
                    v.field
                );
            }
        }
    }
});
