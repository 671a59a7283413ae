//! Any bytes as config.json: the runtime's config reading (parse, field-naming decode) and its
//! validation and policy gate must not panic, and every error is one line naming config.json or
//! a field (the runtime's errors are single lines on stderr).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    match runtime::bundle::parse_config(Path::new("config.json"), data) {
        Ok(spec) => {
            if let Err(e) = runtime::bundle::validate(&spec) {
                let msg = e.to_string();
                assert!(!msg.contains('\n'), "multi-line error: {msg:?}");
            }
            for policy in [
                runtime::gate::Policy::Default,
                runtime::gate::Policy::Warn,
                runtime::gate::Policy::Enforce(policy::Level::Hardened),
            ] {
                let _ = runtime::gate::check(&spec, policy);
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("config.json"), "error names no file: {msg:?}");
        }
    }
});
