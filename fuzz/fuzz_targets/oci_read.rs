//! Any text: the config.json reader, the OCI view and the OCI rules must not panic; every field
//! the view or a violation names must map to a line.
#![no_main]

use audit::source::Subject;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let report = audit::oci::read("config.json", text);
    for item in &report.items {
        if let Subject::Oci(spec) = &item.subject {
            let view = policy::oci::view(spec);
            let _ = serde_json::to_string(&view);
            for v in policy::oci::evaluate_config(spec, &policy::Options::default()) {
                assert!(
                    item.lines.position(&v.field).is_some(),
                    "no line for {}",
                    v.field
                );
            }
        }
    }
    assert!(report.items.len() + report.problems.len() == 1);
});
