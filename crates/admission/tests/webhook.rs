//! The webhook over real HTTPS (loopback, rustls client trusting the generated CA) with real
//! AdmissionReview requests built from pods, deployments and cronjobs.
//!
//! Tests marked "stand-in" use `common::stand_in_evaluator` (two Pod Security checks and the
//! docker.sock rule, in Kubernetes' message format) because `policy::pss` and
//! `policy::k8s::pod_view` are being written on other branches; they exercise every decision
//! path of the server. `post_merge` at the bottom uses the real policy crate.

mod common;

use admission::config::Config;
use admission::server::Limits;
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn stand_in_server(config: Config, labels: Option<&std::path::Path>) -> TestServer {
    TestServer::start(
        engine(config, labels).with_evaluator(stand_in_evaluator),
        test_limits(),
    )
    .await
}

fn labels_file(v: Value) -> std::path::PathBuf {
    let d = tempdir("labels");
    let p = d.join("namespaces.json");
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    p
}

fn privileged_spec() -> Value {
    spec_with(json!({"privileged": true}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_pod_is_allowed_with_the_enforce_policy_annotation() {
    let s = TestServer::default().await;
    let c = s.client();
    let review = ReviewBuilder::new(pod("ok", restricted_spec())).build();
    let r = c.review("/validate/restricted", &review).await;
    assert_eq!(r["allowed"], true);
    assert!(r.get("warnings").is_none());
    assert_eq!(r["auditAnnotations"]["enforce-policy"], "restricted:latest");
    assert!(r.get("patch").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileged_pod_is_denied_like_pod_security_admission() {
    // Namespace labelled as in reference/admission/response-deny.json.
    let labels = labels_file(json!({"team-a": {
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/enforce-version": "v1.36",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "v1.36",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "v1.36"}}));
    let s = stand_in_server(Config::default(), Some(&labels)).await;
    let review = ReviewBuilder::new(pod("p", privileged_spec())).build();
    let r = s.client().review("/validate", &review).await;
    assert_eq!(r["allowed"], false);
    assert_eq!(r["status"]["code"], 403);
    assert_eq!(r["status"]["reason"], "Forbidden");
    assert_eq!(r["status"]["status"], "Failure");
    assert_eq!(
        r["status"]["message"],
        "pods \"p\" is forbidden: violates PodSecurity \"baseline:v1.36\": privileged (container \"c\" must not set securityContext.privileged=true)"
    );
    assert_eq!(r["status"]["details"]["name"], "p");
    assert_eq!(r["status"]["details"]["kind"], "pods");
    let cause = &r["status"]["details"]["causes"][0];
    assert_eq!(cause["reason"], "SKD-PSS-002");
    assert_eq!(
        cause["field"],
        "spec.containers[0].securityContext.privileged"
    );
    assert!(
        r.get("warnings").is_none(),
        "no warnings on a rejected request"
    );
    assert_eq!(r["auditAnnotations"]["enforce-policy"], "baseline:v1.36");
    let audit = r["auditAnnotations"]["audit-violations"].as_str().unwrap();
    assert!(audit.starts_with("would violate PodSecurity \"restricted:v1.36\": privileged (container \"c\" must not set securityContext.privileged=true), allowPrivilegeEscalation != false"), "{audit}");
    assert!(r["auditAnnotations"]["stockade-violations"]
        .as_str()
        .unwrap()
        .contains("SKD-PSS-002 spec.containers[0].securityContext.privileged"));
    let _ = std::fs::remove_dir_all(labels.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controllers_are_warned_and_audited_never_denied() {
    let s = stand_in_server(Config::default(), None).await;
    let c = s.client();
    for object in [
        deployment("web", privileged_spec()),
        cronjob("nightly", privileged_spec()),
    ] {
        let kind = object["kind"].as_str().unwrap().to_string();
        let r = c
            .review("/validate/restricted", &ReviewBuilder::new(object).build())
            .await;
        assert_eq!(r["allowed"], true, "{kind}");
        let w = r["warnings"].as_array().unwrap();
        assert_eq!(w.len(), 1, "{kind}: {w:?}");
        let w = w[0].as_str().unwrap();
        assert!(
            w.starts_with("would violate PodSecurity \"restricted:latest\": privileged (container \"c\" must not set securityContext.privileged=true), allowPrivilegeEscalation != false"),
            "{kind}: {w}"
        );
        assert!(r["auditAnnotations"]["audit-violations"]
            .as_str()
            .unwrap()
            .starts_with("would violate PodSecurity \"restricted:latest\""));
        assert!(r["auditAnnotations"].get("enforce-policy").is_none());
        let field = if kind == "CronJob" {
            "SKD-PSS-002 spec.jobTemplate.spec.template.spec.containers[0].securityContext.privileged"
        } else {
            "SKD-PSS-002 spec.template.spec.containers[0].securityContext.privileged"
        };
        assert!(r["auditAnnotations"]["stockade-violations"]
            .as_str()
            .unwrap()
            .contains(field));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_allowed_with_warning_and_audit_at_each_level() {
    let s = stand_in_server(Config::default(), None).await;
    let c = s.client();
    // Escalation is allowed at baseline, a warning at restricted.
    let spec = spec_with(json!({"allowPrivilegeEscalation": true}));
    let r = c
        .review(
            "/validate/baseline",
            &ReviewBuilder::new(pod("p", spec.clone())).build(),
        )
        .await;
    assert_eq!(r["allowed"], true);
    assert!(r.get("warnings").is_none());
    let r = c
        .review(
            "/validate/restricted",
            &ReviewBuilder::new(pod("p", spec)).build(),
        )
        .await;
    assert_eq!(r["allowed"], false);
    assert!(r["status"]["message"]
        .as_str()
        .unwrap()
        .contains("violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false"));

    // Labels: enforce baseline, warn restricted → allowed with a warning.
    let labels = labels_file(json!({"team-a": {
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted"}}));
    let s2 = stand_in_server(Config::default(), Some(&labels)).await;
    let r = s2
        .client()
        .review(
            "/validate",
            &ReviewBuilder::new(pod(
                "p",
                spec_with(json!({"allowPrivilegeEscalation": true})),
            ))
            .build(),
        )
        .await;
    assert_eq!(r["allowed"], true);
    assert_eq!(
        r["warnings"][0],
        "would violate PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false)"
    );
    assert_eq!(r["auditAnnotations"]["enforce-policy"], "baseline:latest");
    assert!(r["auditAnnotations"]["audit-violations"].is_string());
    let _ = std::fs::remove_dir_all(labels.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stockade_enforce_label_adds_the_escape_rules() {
    let labels = labels_file(json!({"items": [
        {"metadata": {"name": "team-a", "labels": {
            "pod-security.kubernetes.io/enforce": "baseline",
            "stockade.io/enforce": "restricted"}}},
        {"metadata": {"name": "team-b", "labels": {
            "pod-security.kubernetes.io/enforce": "baseline"}}}]}));
    let s = stand_in_server(Config::default(), Some(&labels)).await;
    let c = s.client();
    let spec = json!({"volumes": [{"name": "d", "hostPath": {"path": "/var/run/docker.sock"}}],
        "containers": [container("c", Value::Null)]});
    let r = c
        .review(
            "/validate",
            &ReviewBuilder::new(pod("dind", spec.clone())).build(),
        )
        .await;
    assert_eq!(r["allowed"], false);
    assert_eq!(
        r["status"]["message"],
        "pods \"dind\" is forbidden: violates Stockade \"restricted\": SKD-ESC-020 (spec.volumes[0].hostPath: host path \"/var/run/docker.sock\" exposes the container-engine socket docker)"
    );
    assert_eq!(r["status"]["details"]["causes"][0]["reason"], "SKD-ESC-020");
    // The same pod in a namespace without the label is Pod Security's business only.
    let r = c
        .review(
            "/validate",
            &ReviewBuilder::new(pod("dind", spec.clone()))
                .namespace("team-b")
                .build(),
        )
        .await;
    assert_eq!(r["allowed"], true);
    // A Deployment with it is warned.
    let r = c
        .review(
            "/validate",
            &ReviewBuilder::new(deployment("dind", spec)).build(),
        )
        .await;
    assert_eq!(r["allowed"], true);
    assert!(r["warnings"][0]
        .as_str()
        .unwrap()
        .starts_with("would violate Stockade \"restricted\": SKD-ESC-020 (spec.template.spec.volumes[0].hostPath"));
    let _ = std::fs::remove_dir_all(labels.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_labels_snapshot_is_reloaded() {
    let labels = labels_file(json!({"team-a": {}}));
    let s = stand_in_server(Config::default(), Some(&labels)).await;
    let c = s.client();
    let review = || ReviewBuilder::new(pod("p", privileged_spec())).build();
    // Unlabelled namespace on /validate: the config default, privileged.
    assert_eq!(c.review("/validate", &review()).await["allowed"], true);
    std::thread::sleep(Duration::from_millis(20));
    let tmp = labels.with_extension("tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec(&json!({"team-a": {"pod-security.kubernetes.io/enforce": "baseline"}}))
            .unwrap(),
    )
    .unwrap();
    std::fs::rename(&tmp, &labels).unwrap();
    let denied = eventually(Duration::from_secs(10), || {
        let c = c.clone();
        let r = review();
        async move { c.review("/validate", &r).await["allowed"] == false }
    })
    .await;
    assert!(denied, "new labels applied within 10 s, without a restart");
    let _ = std::fs::remove_dir_all(labels.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exemptions_by_namespace_user_and_runtime_class() {
    let config: Config = toml::from_str(
        r#"
        [exemptions]
        namespaces = ["ci"]
        usernames = ["system:serviceaccount:kube-system:ops"]
        runtime-classes = ["kata"]
        "#,
    )
    .unwrap();
    let s = stand_in_server(config, None).await;
    let c = s.client();
    let cases = [
        (
            ReviewBuilder::new(pod("p", privileged_spec())).namespace("ci"),
            "namespace",
        ),
        (
            ReviewBuilder::new(pod("p", privileged_spec()))
                .user("system:serviceaccount:kube-system:ops"),
            "user",
        ),
        (
            ReviewBuilder::new(pod("p", {
                let mut s = privileged_spec();
                s["runtimeClassName"] = json!("kata");
                s
            })),
            "runtimeClass",
        ),
    ];
    for (b, why) in cases {
        let r = c.review("/validate/restricted", &b.build()).await;
        assert_eq!(r["allowed"], true, "{why}");
        assert_eq!(r["auditAnnotations"]["exempt"], why);
        assert!(r.get("warnings").is_none());
    }
    // Not exempt: denied.
    let r = c
        .review(
            "/validate/restricted",
            &ReviewBuilder::new(pod("p", privileged_spec())).build(),
        )
        .await;
    assert_eq!(r["allowed"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_v1beta1_and_ephemeral_containers() {
    let s = stand_in_server(Config::default(), None).await;
    let c = s.client();
    // Dry-run requests are evaluated normally (the webhook has no side effects).
    let r = c
        .review(
            "/validate/baseline",
            &ReviewBuilder::new(pod("p", privileged_spec()))
                .dry_run()
                .build(),
        )
        .await;
    assert_eq!(r["allowed"], false);

    // v1beta1 is answered in kind (the envelope check in `review` compares apiVersion).
    let r = c
        .review(
            "/validate/baseline",
            &ReviewBuilder::new(pod("p", privileged_spec()))
                .v1beta1()
                .build(),
        )
        .await;
    assert_eq!(r["allowed"], false);

    // kubectl debug: a privileged ephemeral container through pods/ephemeralcontainers.
    let mut p = pod("p", spec_with(Value::Null));
    let old = p.clone();
    p["spec"]["ephemeralContainers"] = json!([{"name": "debugger", "image": "busybox",
        "securityContext": {"privileged": true}}]);
    let r = c
        .review(
            "/validate/baseline",
            &ReviewBuilder::new(p.clone())
                .update(old.clone())
                .subresource("ephemeralcontainers")
                .build(),
        )
        .await;
    assert_eq!(r["allowed"], false);
    assert!(r["status"]["message"]
        .as_str()
        .unwrap()
        .contains("container \"debugger\""));
    assert_eq!(
        r["status"]["details"]["causes"][0]["field"],
        "spec.ephemeralContainers[0].securityContext.privileged"
    );

    // Other subresources are ignored.
    let r = c
        .review(
            "/validate/baseline",
            &ReviewBuilder::new(p)
                .update(old)
                .subresource("status")
                .build(),
        )
        .await;
    assert_eq!(r["allowed"], true);
    assert!(r.get("auditAnnotations").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_deletes_and_other_kinds() {
    let s = stand_in_server(Config::default(), None).await;
    let c = s.client();
    let old = pod("p", privileged_spec());
    // A label change on an existing pod is not evaluated again (as Pod Security admission).
    let mut relabelled = old.clone();
    relabelled["metadata"]["labels"] = json!({"tier": "x"});
    let r = c
        .review(
            "/validate/baseline",
            &ReviewBuilder::new(relabelled).update(old.clone()).build(),
        )
        .await;
    assert_eq!(r["allowed"], true);
    // An image change is.
    let mut reimaged = old.clone();
    reimaged["spec"]["containers"][0]["image"] = json!("registry.example/app:2");
    let r = c
        .review(
            "/validate/baseline",
            &ReviewBuilder::new(reimaged).update(old.clone()).build(),
        )
        .await;
    assert_eq!(r["allowed"], false);
    // Scaling a Deployment: template unchanged, no warning.
    let d = deployment("web", privileged_spec());
    let mut scaled = d.clone();
    scaled["spec"]["replicas"] = json!(5);
    let r = c
        .review(
            "/validate/baseline",
            &ReviewBuilder::new(scaled).update(d).build(),
        )
        .await;
    assert!(r.get("warnings").is_none());
    // DELETE and a ConfigMap are allowed untouched.
    let r = c
        .review(
            "/validate/baseline",
            &ReviewBuilder::new(old).operation("DELETE").build(),
        )
        .await;
    assert_eq!(r["allowed"], true);
    let cm =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}});
    let r = c
        .review("/validate/baseline", &ReviewBuilder::new(cm).build())
        .await;
    assert_eq!(r["allowed"], true);
    assert!(r.get("auditAnnotations").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutating_patch_hardens_pods_deployments_and_cronjobs() {
    let s = TestServer::default().await;
    let c = s.client();
    let non_root = json!({"securityContext": {"runAsNonRoot": true, "runAsUser": 1000},
        "containers": [container("c", Value::Null)]});
    for object in [
        pod("p", non_root.clone()),
        deployment("web", non_root.clone()),
        cronjob("nightly", non_root.clone()),
    ] {
        let kind = object["kind"].as_str().unwrap().to_string();
        let r = c
            .review("/mutate", &ReviewBuilder::new(object.clone()).build())
            .await;
        assert_eq!(r["allowed"], true);
        let patched = apply_patch(&r, &object);
        let w = workload_of(&patched);
        let sc = w.spec.security_context.as_ref().unwrap();
        assert_eq!(
            sc.seccomp_profile.as_ref().unwrap().type_,
            "RuntimeDefault",
            "{kind}"
        );
        let csc = w.spec.containers[0].security_context.as_ref().unwrap();
        assert_eq!(csc.allow_privilege_escalation, Some(false), "{kind}");
        assert_eq!(
            csc.capabilities.as_ref().unwrap().drop,
            Some(vec!["ALL".to_string()]),
            "{kind}"
        );
        assert_eq!(w.spec.automount_service_account_token, Some(false));
        // Everything else is as it was.
        assert_eq!(patched["metadata"], object["metadata"]);
        // Re-audit the patched object (the real policy crate, restricted).
        let found = policy::evaluate_pod(&w, &policy::Options::default());
        assert!(found.is_empty(), "{kind}: {found:?}");
        // Mutating again changes nothing.
        let r2 = c
            .review("/mutate", &ReviewBuilder::new(patched).build())
            .await;
        assert!(r2.get("patch").is_none(), "{kind}: {r2}");
    }
    // No patch on UPDATE (a pod's security context is immutable).
    let p = pod("p", non_root);
    let r = c
        .review("/mutate", &ReviewBuilder::new(p.clone()).update(p).build())
        .await;
    assert!(r.get("patch").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let s = stand_in_server(Config::default(), None).await;
    let c = s.client();
    assert_eq!(c.get("/healthz").await.status, 200);
    assert_eq!(c.get("/readyz").await.status, 200);
    c.review(
        "/validate/baseline",
        &ReviewBuilder::new(pod("p", privileged_spec())).build(),
    )
    .await;
    c.review(
        "/validate/restricted",
        &ReviewBuilder::new(deployment("d", privileged_spec())).build(),
    )
    .await;
    let m = c.get("/metrics").await;
    assert_eq!(m.status, 200);
    assert!(m
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let t = m.text();
    for line in [
        "stockade_admission_requests_total{endpoint=\"validate/baseline\",kind=\"Pod\",decision=\"denied\"} 1",
        "stockade_admission_requests_total{endpoint=\"validate/restricted\",kind=\"Deployment\",decision=\"warned\"} 1",
        "stockade_admission_rule_decisions_total{rule=\"SKD-PSS-002\",action=\"deny\"} 1",
        "stockade_admission_rule_decisions_total{rule=\"SKD-PSS-002\",action=\"warn\"} 1",
        "stockade_admission_request_duration_seconds_count{endpoint=\"validate/baseline\"} 1",
    ] {
        assert!(t.contains(line), "missing {line} in\n{t}");
    }
    assert_eq!(c.get("/nope").await.status, 404);
    assert_eq!(c.get("/validate").await.status, 405);
    assert_eq!(
        c.request("POST", "/validate/strict", b"{}")
            .await
            .unwrap()
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_is_reloaded_without_restart() {
    let s = TestServer::default().await;
    let old = s.client();
    assert_eq!(old.get("/healthz").await.status, 200);
    // Keep the old CA, write a new CA and certificate in place.
    let keep = tempdir("oldca");
    std::fs::copy(s.tls_dir.join("ca.crt"), keep.join("ca.crt")).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    admission::tls::generate(&s.tls_dir, &[]).unwrap();
    let new = s.client();
    let reloaded = eventually(Duration::from_secs(10), || {
        let new = new.clone();
        async move { new.connect().await.is_ok() }
    })
    .await;
    assert!(reloaded, "new certificate served within 10 s");
    assert_eq!(new.get("/healthz").await.status, 200);
    let stale = Client::new(s.addr, &keep.join("ca.crt"));
    assert!(stale.connect().await.is_err(), "old CA no longer verifies");
    let m = new.get("/metrics").await.text();
    assert!(
        m.contains("stockade_admission_certificate_reloads_total 1"),
        "{m}"
    );
    let _ = std::fs::remove_dir_all(keep);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests() {
    use tokio::io::AsyncWriteExt;
    let mut s = TestServer::start(
        engine(Config::default(), None),
        Limits {
            body_timeout: Duration::from_secs(5),
            ..test_limits()
        },
    )
    .await;
    let c = s.client();
    let body =
        serde_json::to_vec(&ReviewBuilder::new(pod("p", restricted_spec())).build()).unwrap();
    let mut conn = c.connect().await.unwrap();
    let head = format!(
        "POST /validate/restricted HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body[..10]).await.unwrap();
    conn.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // SIGTERM equivalent: stop accepting, let this request finish.
    s.signal_stop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        tokio::time::timeout(Duration::from_secs(2), c.connect())
            .await
            .map(|r| r.is_err())
            .unwrap_or(true),
        "no new connections after shutdown"
    );
    conn.write_all(&body[10..]).await.unwrap();
    conn.flush().await.unwrap();
    let raw = tokio::time::timeout(Duration::from_secs(5), read_all(&mut conn))
        .await
        .unwrap();
    let r = parse_response(&raw).expect("in-flight request answered");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["response"]["allowed"], true);
    let t = Instant::now();
    s.stop().await;
    assert!(t.elapsed() < Duration::from_secs(6));
}

/// Assertions that need the real Pod Security checks and the Kubernetes normalized view
/// (`policy::pss::evaluate`, `policy::k8s::pod_view`), written on other branches. On this branch
/// both are stubs, so these tests assert only what already holds; the lead enables the
/// commented assertions after merging (each is listed in the admission report).
mod post_merge {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn real_policy_over_https() {
        let s = TestServer::default().await;
        let c = s.client();

        // Privileged pod at baseline.
        let r = c
            .review(
                "/validate/baseline",
                &ReviewBuilder::new(pod("p", privileged_spec())).build(),
            )
            .await;
        assert_eq!(r["auditAnnotations"]["enforce-policy"], "baseline:latest");
        assert_eq!(r["allowed"], false);
        assert_eq!(r["status"]["message"], "pods \"p\" is forbidden: violates PodSecurity \"baseline:latest\": privileged (container \"c\" must not set securityContext.privileged=true)");
        assert_eq!(r["status"]["details"]["causes"][0]["reason"], "SKD-PSS-002");

        // docker.sock hostPath under /validate/hardened (escape rules on).
        let spec = json!({"volumes": [{"name": "d", "hostPath": {"path": "/var/run/docker.sock"}}],
            "containers": [container("c", Value::Null)]});
        let r = c
            .review(
                "/validate/hardened",
                &ReviewBuilder::new(pod("dind", spec.clone())).build(),
            )
            .await;
        assert_eq!(r["allowed"], false);
        let m = r["status"]["message"].as_str().unwrap();
        assert!(
            m.contains("violates PodSecurity \"restricted:latest\": "),
            "{m}"
        );
        // At restricted, restrictedVolumes overrides hostPathVolumes, as in PSA.
        assert!(
            m.contains(
                "restricted volume types (volume \"d\" uses restricted volume type \"hostPath\")"
            ),
            "{m}"
        );
        assert!(
            m.contains("; violates Stockade \"hardened\": SKD-ESC-020 (spec.volumes[0]"),
            "{m}"
        );

        // A Deployment with it is only warned.
        let r = c
            .review(
                "/validate/hardened",
                &ReviewBuilder::new(deployment("dind", spec)).build(),
            )
            .await;
        assert_eq!(r["allowed"], true);
        let w: Vec<&str> = r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert!(
            w[0].starts_with("would violate PodSecurity \"restricted:latest\": "),
            "{w:?}"
        );
        assert!(
            w.iter()
                .any(|w| w.contains("SKD-ESC-020 (spec.template.spec.volumes[0]")),
            "{w:?}"
        );

        // A bare pod, mutated, then validated at restricted: only runAsNonRoot is left (the
        // patch cannot know the image's user).
        let bare = pod("bare", spec_with(Value::Null));
        let m = c
            .review("/mutate", &ReviewBuilder::new(bare.clone()).build())
            .await;
        let patched = apply_patch(&m, &bare);
        let r = c
            .review("/validate/restricted", &ReviewBuilder::new(patched).build())
            .await;
        assert_eq!(r["allowed"], false);
        let msg = r["status"]["message"].as_str().unwrap();
        assert!(msg.contains("runAsNonRoot != true"), "{msg}");
        assert!(!msg.contains("allowPrivilegeEscalation"), "{msg}");
        assert!(!msg.contains("seccompProfile"), "{msg}");
        // drop ALL is only added for containers known to run as non-root (configurable): a
        // root container may need CHOWN or SETUID, so this bare pod keeps its capabilities.
        assert!(msg.contains("unrestricted capabilities"), "{msg}");
    }
}
