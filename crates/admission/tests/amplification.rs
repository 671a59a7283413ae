//! Cost amplification (issue 17 item 8): a pod with tens of thousands of privileged containers
//! gets a bounded answer; health checks are served while such reviews are evaluated; the
//! Content-Type is strict; a kind that is not exactly known but is about a pod fails closed.
//! Latency and memory under load are measured in bench/admission-load.sh, not here.

mod common;

use common::*;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

/// A pod of `n` privileged containers: about 80 bytes of JSON each.
fn huge_pod(n: usize) -> Value {
    let containers: Vec<Value> = (0..n)
        .map(|i| container(&format!("c{i}"), json!({"privileged": true})))
        .collect();
    pod("huge", json!({"containers": containers}))
}

/// A review of a pod with one plain container, as bytes.
fn one_container_review() -> Vec<u8> {
    let review = ReviewBuilder::new(pod(
        "p",
        json!({"containers": [container("c", Value::Null)]}),
    ));
    serde_json::to_vec(&review.build()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_pods_get_bounded_answers() {
    let s = TestServer::default().await;
    let c = s.client();
    let review = ReviewBuilder::new(huge_pod(30_000)).build();
    let body = serde_json::to_vec(&review).unwrap();
    assert!(body.len() > 2_000_000, "{} bytes", body.len());
    let r = c
        .request("POST", "/validate/hardened", &body)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.body.len() < 64 * 1024,
        "response of {} bytes",
        r.body.len()
    );
    let resp = r.json()["response"].clone();
    assert_eq!(resp["allowed"], false);
    let msg = resp["status"]["message"].as_str().unwrap();
    assert!(msg.contains("more"), "no summary in {msg}");
    let causes = resp["status"]["details"]["causes"].as_array().unwrap();
    assert!(causes.len() <= 51, "{} causes", causes.len());

    // Four at once (smaller, for a debug build on two shared cores): each bounded.
    let body = serde_json::to_vec(&ReviewBuilder::new(huge_pod(10_000)).build()).unwrap();
    let mut big = Vec::new();
    for _ in 0..4 {
        let c2 = s.client();
        let b2 = body.clone();
        big.push(tokio::spawn(async move {
            c2.request("POST", "/validate/hardened", &b2).await
        }));
    }
    for t in big {
        let r = t.await.unwrap().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.body.len() < 64 * 1024);
    }
}

/// /healthz is answered while every evaluation worker is busy (and one more review waits for a
/// worker): it does not wait for one. Without wall-clock assumptions: the evaluator holds each
/// review until /healthz has answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_served_while_every_evaluation_worker_is_busy() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let entered = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let (e2, r2) = (entered.clone(), release.clone());
    let engine = engine(Default::default(), None).with_evaluator(move |w, p| {
        e2.fetch_add(1, Ordering::SeqCst);
        // Held for at most 60 s, so a failing test ends.
        for _ in 0..6000 {
            if r2.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        stand_in_evaluator(w, p)
    });
    let limits = test_limits();
    let workers = limits.eval_workers.max(1);
    let s = TestServer::start(engine, limits).await;
    let c = s.client();
    let body = one_container_review();
    let mut held = Vec::new();
    for _ in 0..workers + 1 {
        let c2 = s.client();
        let b2 = body.clone();
        held.push(tokio::spawn(async move {
            c2.request("POST", "/validate/restricted", &b2).await
        }));
    }
    for _ in 0..3000 {
        if entered.load(Ordering::SeqCst) >= workers {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        entered.load(Ordering::SeqCst),
        workers,
        "every evaluation worker busy, one review waiting"
    );
    let h = tokio::time::timeout(std::time::Duration::from_secs(10), c.get("/healthz")).await;
    let busy = held.iter().filter(|t| !t.is_finished()).count();
    release.store(true, Ordering::SeqCst);
    let h = h.expect("/healthz waited for an evaluation worker");
    assert_eq!(h.status, 200);
    assert_eq!(busy, workers + 1, "reviews answered while held");
    for t in held {
        let r = t.await.unwrap().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_type_is_strict() {
    let s = TestServer::default().await;
    let c = s.client();
    let body = one_container_review();
    for (ct, want) in [
        (None, 415),
        (Some("application/jsonfoo"), 415),
        (Some("text/json"), 415),
        (Some("application/json; charset=utf-8"), 200),
        (Some("Application/JSON"), 200),
    ] {
        let mut conn = c.connect().await.unwrap();
        let head = match ct {
            Some(t) => format!("POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: {t}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()),
            None => format!("POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()),
        };
        conn.write_all(head.as_bytes()).await.unwrap();
        conn.write_all(&body).await.unwrap();
        let r = parse_response(&read_all(&mut conn).await).unwrap();
        assert_eq!(r.status, want, "Content-Type {ct:?}: {}", r.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kind_about_a_pod_fails_closed() {
    let s = TestServer::default().await;
    let c = s.client();
    let privileged = pod(
        "p",
        json!({"containers": [container("c", json!({"privileged": true}))]}),
    );
    for kind in ["pod", "PODS", "Pods"] {
        let mut review = ReviewBuilder::new(privileged.clone()).build();
        review["request"]["kind"]["kind"] = json!(kind);
        review["request"]["requestKind"]["kind"] = json!(kind);
        let r = c.review("/validate/baseline", &review).await;
        assert_eq!(r["allowed"], false, "kind {kind}: {r}");
        assert!(
            r["status"]["message"]
                .as_str()
                .unwrap()
                .contains("fail closed"),
            "{r}"
        );
    }
    // A kind that is not pod-bearing at all is still let through untouched.
    let cm =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}});
    let r = c
        .review("/validate/baseline", &ReviewBuilder::new(cm).build())
        .await;
    assert_eq!(r["allowed"], true);
}
