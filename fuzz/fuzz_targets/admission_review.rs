//! Any bytes as an AdmissionReview body, at every endpoint: the decoder and the review must not
//! panic; the answer is a JSON review (200) or a plain-text refusal (4xx/5xx), and a denial's
//! message stays bounded (decide.rs caps what it lists).
#![no_main]

use admission::review::{Endpoint, Engine};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::new(admission::config::Config::default(), None).expect("engine"))
}

fuzz_target!(|data: &[u8]| {
    for endpoint in [
        Endpoint::Validate(None),
        Endpoint::Validate(Some(policy::Level::Hardened)),
        Endpoint::Mutate,
    ] {
        let a = engine().review(endpoint, data);
        if a.status == 200 {
            let v: serde_json::Value =
                serde_json::from_slice(&a.body).expect("a 200 answer is JSON");
            if let Some(m) = v.pointer("/response/status/message").and_then(|m| m.as_str()) {
                assert!(m.len() < 64 * 1024 + data.len(), "message of {} bytes", m.len());
            }
        } else {
            assert!((400..600).contains(&a.status), "status {}", a.status);
        }
    }
});
