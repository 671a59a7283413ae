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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_pod_gets_a_bounded_answer_and_health_stays_served() {
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

    // Four at once (smaller, for a debug build on two shared cores); /healthz is answered
    // before they are: it does not wait for an evaluation worker.
    let body = serde_json::to_vec(&ReviewBuilder::new(huge_pod(10_000)).build()).unwrap();
    let mut big = Vec::new();
    for _ in 0..4 {
        let c2 = s.client();
        let b2 = body.clone();
        big.push(tokio::spawn(async move {
            c2.request("POST", "/validate/hardened", &b2).await
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let h = c.get("/healthz").await;
    assert_eq!(h.status, 200);
    let pending = big.iter().filter(|t| !t.is_finished()).count();
    assert!(
        pending > 0,
        "the big reviews finished before /healthz was answered"
    );
    for t in big {
        let r = t.await.unwrap().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.body.len() < 64 * 1024);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_type_is_strict() {
    let s = TestServer::default().await;
    let c = s.client();
    let body = serde_json::to_vec(
        &ReviewBuilder::new(pod(
            "p",
            json!({"containers": [container("c", Value::Null)]}),
        ))
        .build(),
    )
    .unwrap();
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
