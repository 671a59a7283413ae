//! Session 5's pod rules through the real webhook over HTTPS, with the real policy: probes and
//! lifecycle hooks aimed at the node, the kubelet or cloud metadata (SKD-K8S-017), subPath
//! mounts (SKD-K8S-018), sysctl values that smuggle a second setting (SKD-ESC-060) and user ids
//! above 2^31-1 (SKD-ESC-061). The namespace enforces Pod Security baseline and Stockade's
//! escape rules at baseline (`stockade.io/enforce`): each vector is denied by Stockade in its
//! own clause (Pod Security admits the sysctl value and the uid; it refuses any probe host, and
//! Stockade says why this one is an escape), and the benign twin is allowed.

mod common;

use admission::config::Config;
use common::*;
use serde_json::{json, Value};

fn labels() -> std::path::PathBuf {
    let d = tempdir("labels");
    let p = d.join("namespaces.json");
    std::fs::write(
        &p,
        serde_json::to_vec(&json!({"team-a": {
            "pod-security.kubernetes.io/enforce": "baseline",
            "stockade.io/enforce": "baseline"}}))
        .unwrap(),
    )
    .unwrap();
    p
}

/// `restricted_spec()` with `edit` applied to it (clean at every level before the edit).
fn spec(edit: impl FnOnce(&mut Value)) -> Value {
    let mut s = restricted_spec();
    edit(&mut s);
    s
}

/// The reasons of a denial, and its message.
fn denial(r: &Value) -> (Vec<String>, String) {
    let reasons = r["status"]["details"]["causes"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| c["reason"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    (
        reasons,
        r["status"]["message"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_pod_rules_are_enforced_over_https() {
    let labels = labels();
    let s = TestServer::start(engine(Config::default(), Some(&labels)), test_limits()).await;
    let c = s.client();
    let review = |name: &str, spec: Value| ReviewBuilder::new(pod(name, spec)).build();

    // The clean pod is allowed: the namespace's policy says nothing of it.
    let r = c
        .review("/validate", &review("clean", restricted_spec()))
        .await;
    assert_eq!(r["allowed"], true, "{r}");

    // (pod, spec, rule, field the message names, whether Pod Security refuses it too)
    let cases: Vec<(&str, Value, &str, &str, bool)> = vec![
        (
            "metadata-probe",
            spec(|s| {
                s["containers"][0]["livenessProbe"] = json!({"httpGet": {
                    "host": "169.254.169.254", "path": "/latest/meta-data/", "port": 80}});
            }),
            "SKD-K8S-017",
            "spec.containers[0].livenessProbe.httpGet.host",
            true,
        ),
        (
            "kubelet-hook",
            spec(|s| {
                s["containers"][0]["lifecycle"] = json!({"postStart": {"tcpSocket": {
                    "host": "127.0.0.1", "port": 10250}}});
            }),
            "SKD-K8S-017",
            "spec.containers[0].lifecycle.postStart.tcpSocket.host",
            true,
        ),
        (
            "smuggled-sysctl",
            spec(|s| {
                s["securityContext"]["sysctls"] = json!([{"name": "kernel.shm_rmid_forced",
                    "value": "1+kernel.core_pattern=|/var/lib/x"}]);
            }),
            "SKD-ESC-060",
            "spec.securityContext.sysctls[0]",
            false,
        ),
        (
            "huge-uid",
            spec(|s| {
                s["securityContext"]["runAsUser"] = json!(4294967295u64);
            }),
            "SKD-ESC-061",
            "spec.securityContext.runAsUser",
            false,
        ),
    ];
    for (name, spec, rule, field, pss) in cases {
        let r = c.review("/validate", &review(name, spec)).await;
        assert_eq!(r["allowed"], false, "{name}: {r}");
        let (reasons, message) = denial(&r);
        assert!(reasons.iter().any(|x| x == rule), "{name}: {reasons:?}");
        assert_eq!(
            message.contains("violates PodSecurity \"baseline:latest\""),
            pss,
            "{name}: {message}"
        );
        assert!(
            message.contains(&format!("violates Stockade \"baseline\": {rule} ({field}")),
            "{name}: {message}"
        );
    }

    // Benign twins: a probe on the pod's own port, a sysctl with a plain value, a high uid
    // within range.
    let benign = spec(|s| {
        s["containers"][0]["livenessProbe"] =
            json!({"httpGet": {"path": "/healthz", "port": 8080}});
        s["containers"][0]["lifecycle"] =
            json!({"preStop": {"httpGet": {"path": "/drain", "port": 8080}}});
        s["securityContext"]["sysctls"] = json!([{"name": "kernel.shm_rmid_forced", "value": "1"}]);
        s["securityContext"]["runAsUser"] = json!(2147483647u64);
    });
    let r = c.review("/validate", &review("benign", benign)).await;
    assert_eq!(r["allowed"], true, "{r}");

    // subPath is informational (SKD-K8S-018, severity info): a warning naming the mount,
    // never a denial.
    let sub = spec(|s| {
        s["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
        s["containers"][0]["volumeMounts"] = json!([{"name": "data", "mountPath": "/data",
            "subPath": "app"}]);
    });
    let r = c.review("/validate", &review("sub-path", sub)).await;
    assert_eq!(r["allowed"], true, "{r}");
    let warning = r["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.starts_with(
            "Stockade \"baseline\" (informational): SKD-K8S-018 \
             (spec.containers[0].volumeMounts[0].subPath: "
        ),
        "{r}"
    );
    // With a blocking vector beside it, the denial names only the blocking one.
    let both = spec(|s| {
        s["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
        s["containers"][0]["volumeMounts"] = json!([{"name": "data", "mountPath": "/data",
            "subPath": "app"}]);
        s["securityContext"]["runAsUser"] = json!(4294967295u64);
    });
    let r = c.review("/validate", &review("both", both)).await;
    assert_eq!(r["allowed"], false, "{r}");
    let (reasons, _) = denial(&r);
    assert_eq!(reasons, ["SKD-ESC-061"], "{r}");
    let _ = std::fs::remove_dir_all(labels.parent().unwrap());
}
