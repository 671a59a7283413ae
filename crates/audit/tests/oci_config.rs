//! OCI config.json reader: decoding, field → line mapping, suppressions, and bad input.

use audit::source::{FileReport, Subject};

fn data(name: &str) -> String {
    let p = format!("{}/tests/data/oci/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn read(name: &str) -> FileReport {
    audit::oci::read(name, &data(name))
}

/// (rule id, line) of every violation of the OCI-only rules.
fn oci_findings(r: &FileReport) -> Vec<(String, u32)> {
    let item = &r.items[0];
    let Subject::Oci(spec) = &item.subject else {
        panic!("not an OCI subject")
    };
    policy::oci::evaluate(spec)
        .into_iter()
        .map(|v| {
            let (line, _) = item.lines.position(&v.field).expect("field has a line");
            (v.rule.id.clone(), line)
        })
        .collect()
}

#[test]
fn runc_spec_reads_clean() {
    let r = read("runc-spec.json");
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.items.len(), 1);
    assert_eq!(r.items[0].object.kind, "config.json");
    assert_eq!(r.items[0].object.name, "runc");
    assert_eq!(oci_findings(&r), vec![]);
    let l = &r.items[0].lines;
    assert_eq!(
        l.position("process.capabilities.bounding[1]"),
        Some((20, 5))
    );
    assert_eq!(l.position("linux.maskedPaths"), Some((155, 3)));
    assert_eq!(l.position("root.readonly"), Some((50, 3)));
}

#[test]
fn privileged_findings_point_at_their_lines() {
    let r = read("privileged.json");
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let text = data("privileged.json");
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle}")) as u32
            + 1
    };
    let got = oci_findings(&r);
    let hooks = line_of("\"prestart\"") + 1;
    assert!(got.contains(&("SKD-ESC-040".to_string(), line_of("\"maskedPaths\""))));
    assert!(got.contains(&("SKD-ESC-040".to_string(), line_of("\"readonlyPaths\""))));
    assert!(got.contains(&("SKD-ESC-042".to_string(), hooks)));
    assert_eq!(got.iter().filter(|(id, _)| id == "SKD-ESC-041").count(), 2);
    // The view's fields map to lines too.
    let Subject::Oci(spec) = &r.items[0].subject else {
        unreachable!()
    };
    let v = policy::oci::view(spec);
    let l = &r.items[0].lines;
    assert_eq!(
        l.position(&v.host_mounts[0].field).unwrap().0,
        line_of("\"source\": \"/var/run/docker.sock\"")
    );
    assert_eq!(
        l.position(&v.sysctls[0].field).unwrap().0,
        line_of("kernel.core_pattern")
    );
    assert_eq!(
        l.position(&v.containers[0].cwd.as_ref().unwrap().field)
            .unwrap()
            .0,
        line_of("/proc/self/fd/5")
    );
}

#[test]
fn hardened_reads_clean() {
    let r = read("hardened.json");
    assert!(r.problems.is_empty());
    assert_eq!(oci_findings(&r), vec![]);
}

#[test]
fn syntax_error_names_line() {
    let r = read("trailing-comma.json");
    assert!(r.items.is_empty());
    assert_eq!(r.problems.len(), 1);
    let p = &r.problems[0];
    assert_eq!(p.rule_id, "SKD-INPUT-001");
    assert_eq!(p.line, Some(6));
    assert_eq!(p.field, "process");
    assert!(p.message.contains("trailing comma"), "{}", p.message);
}

#[test]
fn unknown_capability_names_the_element() {
    let r = read("unknown-capability.json");
    let p = &r.problems[0];
    assert_eq!(p.line, Some(7));
    assert_eq!(p.field, "process.capabilities.bounding[1]");
    assert!(p.message.contains("CAP_FLY"), "{}", p.message);
}

#[test]
fn missing_required_field_names_the_object() {
    let r = read("missing-cwd.json");
    let p = &r.problems[0];
    assert_eq!(p.field, "process");
    assert!(p.message.contains("cwd"), "{}", p.message);
}

#[test]
fn wrong_types_and_garbage() {
    for (text, field) in [
        (
            "{\"process\": {\"user\": {\"uid\": \"root\", \"gid\": 0}, \"cwd\": \"/\"}}",
            "process.user.uid",
        ),
        (
            "{\"root\": {\"path\": \"r\", \"readonly\": \"yes\"}}",
            "root.readonly",
        ),
        (
            "{\"linux\": {\"namespaces\": [{\"type\": \"hostnet\"}]}}",
            "linux.namespaces[0].type",
        ),
        (
            "{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_MAYBE\"}}}",
            "linux.seccomp.defaultAction",
        ),
        ("[]", ""),
        ("", ""),
        ("not json", ""),
        ("{\"ociVersion\": \"1\"} trailing", ""),
    ] {
        let r = audit::oci::read("config.json", text);
        assert!(r.items.is_empty(), "{text}");
        assert_eq!(r.problems.len(), 1, "{text}");
        assert_eq!(r.problems[0].rule_id, "SKD-INPUT-001");
        assert_eq!(
            r.problems[0].field, field,
            "{text}: {}",
            r.problems[0].message
        );
        assert!(r.problems[0].line.is_some());
    }
}

#[test]
fn duplicate_struct_key_is_an_error() {
    // serde refuses a field given twice: a second `noNewPrivileges` cannot hide from the audit.
    let r = audit::oci::read(
        "config.json",
        "{\"process\": {\"user\": {\"uid\": 0, \"gid\": 0}, \"cwd\": \"/\", \"noNewPrivileges\": true, \"noNewPrivileges\": false}}",
    );
    assert_eq!(r.problems.len(), 1);
    assert!(
        r.problems[0].message.contains("duplicate"),
        "{}",
        r.problems[0].message
    );
}

#[test]
fn annotation_suppression() {
    let r = audit::oci::read(
        "config.json",
        "{\"annotations\": {\"stockade.io/ignore\": \"skd-esc-042, SKD-ESC-040: GPU hook from the vendor\"}}",
    );
    let s = &r.items[0].suppressions;
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].rule_ids, vec!["SKD-ESC-042", "SKD-ESC-040"]);
    assert_eq!(s[0].reason, "GPU hook from the vendor");
    assert_eq!(r.items[0].object.name, "config.json");
}

#[test]
fn positional_structs_are_refused() {
    // serde would read `root` as the struct (path, readonly) from an array; runc refuses it.
    let r = audit::oci::read("config.json", "{\n\"root\": [\"rootfs\", false]\n}");
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].field, "root");
    assert_eq!(r.problems[0].line, Some(2));
    let r = audit::oci::read(
        "config.json",
        "{\"process\": {\"user\": [0, 0], \"cwd\": \"/\"}}",
    );
    assert_eq!(r.problems[0].field, "process.user");
}

#[test]
fn go_case_insensitive_keys_are_refused() {
    // runc (Go encoding/json) would apply these; serde would silently ignore them.
    for (text, field) in [
        (
            "{\"process\": {\"user\": {\"uid\": 0, \"gid\": 0}, \"cwd\": \"/\", \"noNewPrivileges\": true, \"NoNewPrivileges\": false}}",
            "process.NoNewPrivileges",
        ),
        (
            "{\"process\": {\"user\": {\"uid\": 0, \"gid\": 0}, \"cwd\": \"/\", \"capabilities\": {\"Bounding\": [\"CAP_SYS_ADMIN\"]}}}",
            "process.capabilities.Bounding",
        ),
        ("{\"capabilitie\u{17f}\": {}}", "['capabilitie\u{17f}']"),
        ("{\"linux\": {\"MASKEDPATHS\": []}}", "linux.MASKEDPATHS"),
    ] {
        let r = audit::oci::read("config.json", text);
        assert_eq!(r.problems.len(), 1, "{text}");
        assert_eq!(r.problems[0].field, field);
        assert!(r.problems[0].message.contains("runc reads this key"));
    }
    // Free-form map keys are not spec keys.
    let r = audit::oci::read(
        "config.json",
        "{\"annotations\": {\"Process\": \"x\"}, \"linux\": {\"sysctl\": {\"Linux\": \"1\"}}}",
    );
    assert!(r.problems.is_empty(), "{:?}", r.problems);
}
