//! A severity is a property of the escape, not of the level: a configuration that fails
//! `--fail-on S` at baseline fails it at restricted and at hardened, for every Pod Security
//! check (and so for every baseline check and its restricted twin), at every Pod Security
//! version. Pod Security's own verdict (`--pss-only`) is untouched.

use audit::run::{evaluate_files, AuditOptions};
use policy::catalogue::{Level, Severity};
use policy::PssVersion;

/// One pod per way of failing a baseline Pod Security check (pod- and container-level forms),
/// named after the check.
const FIXTURES: &[(&str, &str)] = &[
    ("hostNamespaces", "hostPID: true\n  containers: [{name: c, image: x}]"),
    ("privileged", "containers: [{name: c, image: x, securityContext: {privileged: true}}]"),
    ("capabilities_baseline/NET_RAW", "containers: [{name: c, image: x, securityContext: {capabilities: {add: [NET_RAW]}}}]"),
    ("capabilities_baseline/SYS_ADMIN", "containers: [{name: c, image: x, securityContext: {capabilities: {add: [SYS_ADMIN]}}}]"),
    ("hostPathVolumes", "volumes: [{name: h, hostPath: {path: /srv}}]\n  containers: [{name: c, image: x, volumeMounts: [{name: h, mountPath: /d}]}]"),
    ("hostPathVolumes/ro", "volumes: [{name: h, hostPath: {path: /srv}}]\n  containers: [{name: c, image: x, volumeMounts: [{name: h, mountPath: /d, readOnly: true}]}]"),
    ("hostPorts", "containers: [{name: c, image: x, ports: [{containerPort: 80, hostPort: 80}]}]"),
    ("appArmorProfile", "containers: [{name: c, image: x, securityContext: {appArmorProfile: {type: Unconfined}}}]"),
    ("seLinuxOptions", "containers: [{name: c, image: x, securityContext: {seLinuxOptions: {type: spc_t}}}]"),
    ("procMount", "hostUsers: false\n  containers: [{name: c, image: x, securityContext: {procMount: Unmasked}}]"),
    ("seccompProfile_baseline/container", "containers: [{name: c, image: x, securityContext: {seccompProfile: {type: Unconfined}}}]"),
    ("seccompProfile_baseline/pod", "securityContext: {seccompProfile: {type: Unconfined}}\n  containers: [{name: c, image: x}]"),
    ("sysctls", "securityContext: {sysctls: [{name: kernel.msgmax, value: '1'}]}\n  containers: [{name: c, image: x}]"),
    ("windowsHostProcess", "securityContext: {windowsOptions: {hostProcess: true}}\n  hostNetwork: true\n  containers: [{name: c, image: x}]"),
    ("windowsHostProcess/os", "os: {name: windows}\n  containers: [{name: c, image: x, securityContext: {capabilities: {add: [NET_RAW]}, seccompProfile: {type: Unconfined}}}]"),
    ("hostProbesAndHostLifecycle", "containers: [{name: c, image: x, livenessProbe: {httpGet: {host: 10.0.0.1, port: 80}}}]"),
];

fn worst(text: &str, level: Level, version: PssVersion) -> Vec<(String, Severity)> {
    let file = audit::k8s::read("pod.yaml", text);
    assert!(file.problems.is_empty(), "{:?}", file.problems);
    let opts = AuditOptions {
        policy: policy::Options {
            level,
            pss_version: version,
            pss_only: false,
        },
        ..AuditOptions::default()
    };
    evaluate_files(&[file], &opts)
        .findings
        .iter()
        .map(|f| (f.rule.id.clone(), f.rule.severity))
        .collect()
}

fn failing(findings: &[(String, Severity)], at: Severity) -> bool {
    findings.iter().any(|(_, s)| *s >= at)
}

#[test]
fn what_fails_at_baseline_fails_at_restricted_and_hardened_at_every_severity_and_version() {
    let mut checked = 0;
    for (name, spec) in FIXTURES {
        let text = format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  {spec}\n");
        for minor in 0..=PssVersion::LATEST.minor {
            let v = PssVersion::v1(minor);
            let base = worst(&text, Level::Baseline, v);
            for level in [Level::Restricted, Level::Hardened] {
                let stricter = worst(&text, level, v);
                for s in Severity::ALL {
                    if failing(&base, s) {
                        assert!(
                            failing(&stricter, s),
                            "{name} at {v}: fails --fail-on {s} at baseline ({base:?}) \
                             but not at {level} ({stricter:?})"
                        );
                        checked += 1;
                    }
                }
                // Finer: every baseline rule's severity is still reached at the same field.
                let top = |f: &[(String, Severity)]| f.iter().map(|x| x.1).max();
                assert!(top(&stricter) >= top(&base), "{name} at {v} {level}");
            }
        }
    }
    assert!(
        checked > FIXTURES.len() * 2,
        "the fixtures fail at baseline"
    );
}

#[test]
fn the_reported_cases_keep_high_at_restricted() {
    // Issue 16: Unconfined seccomp, an added NET_RAW and a writable hostPath were high at
    // baseline and medium at restricted.
    for name in [
        "seccompProfile_baseline/container",
        "capabilities_baseline/NET_RAW",
        "hostPathVolumes",
    ] {
        let spec = FIXTURES.iter().find(|f| f.0 == name).unwrap().1;
        let text = format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  {spec}\n");
        let f = worst(&text, Level::Restricted, PssVersion::LATEST);
        let baseline_rule = match name {
            "seccompProfile_baseline/container" => "SKD-PSS-009",
            "capabilities_baseline/NET_RAW" => "SKD-PSS-003",
            _ => "SKD-PSS-004",
        };
        assert!(
            f.contains(&(baseline_rule.to_string(), Severity::High)),
            "{name}: {f:?}"
        );
    }
}

#[test]
fn pss_only_keeps_kubernetes_verdict() {
    // A Windows pod passes restricted's capability and seccomp checks from v1.25 (the twins
    // override baseline's), as it does in Kubernetes; --pss-only must not change that.
    let spec = FIXTURES
        .iter()
        .find(|f| f.0 == "windowsHostProcess/os")
        .unwrap()
        .1;
    let text = format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  {spec}\n");
    let file = audit::k8s::read("pod.yaml", &text);
    let opts = AuditOptions {
        policy: policy::Options {
            level: Level::Restricted,
            pss_version: PssVersion::v1(25),
            pss_only: true,
        },
        ..AuditOptions::default()
    };
    let ids: Vec<String> = evaluate_files(&[file], &opts)
        .findings
        .iter()
        .map(|f| f.rule.id.clone())
        .collect();
    assert!(!ids.contains(&"SKD-PSS-003".to_string()), "{ids:?}");
    assert!(!ids.contains(&"SKD-PSS-009".to_string()), "{ids:?}");
}
