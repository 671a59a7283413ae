//! Any text: the Kubernetes reader (YAML 1.1 loader, List expansion, typed decoding), the pod
//! rules and the cross-object rules must not panic; every field a violation names must map to a
//! line of its object.
#![no_main]

use audit::source::Subject;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let report = audit::k8s::read("fuzz.yaml", text);
    let opts = policy::Options {
        level: policy::Level::Hardened,
        ..policy::Options::default()
    };
    let mut cluster = Vec::new();
    let mut pods = Vec::new();
    for (i, item) in report.items.iter().enumerate() {
        match &item.subject {
            Subject::Pod(w) => {
                for v in policy::evaluate_pod(w, &opts) {
                    assert!(
                        item.lines.position(&v.field).is_some(),
                        "no line for {}",
                        v.field
                    );
                }
                pods.push((i, w.as_ref()));
            }
            Subject::Cluster(c) => cluster.push((i, c.as_ref())),
            _ => {}
        }
    }
    for (i, v) in policy::cluster::evaluate(&cluster, &pods) {
        assert!(i < report.items.len());
        let _ = report.items[i].lines.position(&v.field);
    }
});
