//! `stockade admission serve --kubeconfig …` reading namespace labels from an API server.
//!
//! There is no kube-apiserver on the test machines, so the test runs a real HTTPS server
//! (axum + rustls, with its own CA from `stockade admission certs`' code) that speaks the API
//! server's protocol for namespaces as the webhook uses it: `GET /api/v1/namespaces` (a
//! `NamespaceList` with a `resourceVersion`, paged with `limit`/`continue`), `?watch=true` (a
//! chunked stream of `WatchEvent`s from a `resourceVersion`, `BOOKMARK`s when asked, a `410`
//! `ERROR` event for a compacted version, closed at `timeoutSeconds`), `GET
//! /api/v1/namespaces/{name}` (404 `Status` when absent), and `401` for a wrong bearer token.
//! The webhook runs as the real binary and is sent real AdmissionReviews over HTTPS.

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls_pki_types::pem::PemObject;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinSet;

const TOKEN: &str = "s3cret-token-for-the-test";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_stockade")
}

static SEQ: AtomicU64 = AtomicU64::new(0);

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "stockade-apiserver-{tag}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------------
// The API server.

#[derive(Clone, Debug)]
struct Event {
    rv: u64,
    line: Bytes,
}

#[derive(Default)]
struct Store {
    rv: u64,
    namespaces: BTreeMap<String, Value>,
    /// Events kept for watches that start from an older version (etcd's history).
    history: Vec<Event>,
    /// Watches from a version below this get `410 Gone` (compacted).
    oldest: u64,
    /// Events held back (a slow watch), sent by `release`.
    held: Option<Vec<Event>>,
}

struct FakeApi {
    store: Mutex<Store>,
    events: broadcast::Sender<Event>,
    /// Bumped to close every open watch.
    epoch: watch::Sender<u64>,
    /// Request lines seen (`GET /api/v1/namespaces?...`).
    log: Mutex<Vec<String>>,
    bookmark_every: Duration,
    /// Most items per list page, whatever `limit` asks (servers may return fewer).
    page: usize,
}

fn ns_object(name: &str, rv: u64, labels: &Value) -> Value {
    let mut l = labels.as_object().cloned().unwrap_or_default();
    l.insert("kubernetes.io/metadata.name".into(), json!(name));
    json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "uid": format!("uid-{name}"), "resourceVersion": rv.to_string(),
            "creationTimestamp": "2026-01-01T00:00:00Z", "labels": l},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code})
}

fn json_response(code: u16, v: &Value) -> Response {
    let mut r = Response::new(Body::from(serde_json::to_vec(v).unwrap()));
    *r.status_mut() = StatusCode::from_u16(code).unwrap();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap();
    b.push(b'\n');
    Bytes::from(b)
}

impl FakeApi {
    fn new() -> Arc<FakeApi> {
        Arc::new(FakeApi {
            store: Mutex::new(Store {
                rv: 100,
                ..Store::default()
            }),
            events: broadcast::channel(1024).0,
            epoch: watch::channel(0).0,
            log: Mutex::new(Vec::new()),
            bookmark_every: Duration::from_millis(300),
            page: 2,
        })
    }

    /// Record a change: a new version, the object stored, an event emitted (or held).
    fn change(&self, kind: &str, name: &str, labels: Option<&Value>) {
        let mut s = self.store.lock().unwrap();
        s.rv += 1;
        let rv = s.rv;
        let obj = match labels {
            Some(l) => {
                let o = ns_object(name, rv, l);
                s.namespaces.insert(name.into(), o.clone());
                o
            }
            None => {
                let old = s
                    .namespaces
                    .remove(name)
                    .expect("delete of a known namespace");
                let mut o = old;
                o["metadata"]["resourceVersion"] = json!(rv.to_string());
                o
            }
        };
        let ev = Event {
            rv,
            line: line(&json!({"type": kind, "object": obj})),
        };
        if let Some(h) = s.held.as_mut() {
            h.push(ev);
        } else {
            s.history.push(ev.clone());
            let _ = self.events.send(ev);
        }
    }

    fn create(&self, name: &str, labels: Value) {
        self.change("ADDED", name, Some(&labels));
    }
    fn relabel(&self, name: &str, labels: Value) {
        self.change("MODIFIED", name, Some(&labels));
    }
    fn delete(&self, name: &str) {
        self.change("DELETED", name, None);
    }
    fn hold(&self) {
        self.store.lock().unwrap().held = Some(Vec::new());
    }
    fn release(&self) {
        let mut s = self.store.lock().unwrap();
        for ev in s.held.take().unwrap_or_default() {
            s.history.push(ev.clone());
            let _ = self.events.send(ev);
        }
    }

    /// Other resources changed: the version moves on without a namespace event (watchers
    /// learn the new version from bookmarks only).
    fn advance(&self, n: u64) -> u64 {
        let mut s = self.store.lock().unwrap();
        s.rv += n;
        s.rv
    }

    /// Change a namespace, compact the history past that change and close every watch: a
    /// watcher resuming from its last version gets 410 and must list again to see the change.
    fn compact_with(&self, name: &str, labels: Value) {
        let mut s = self.store.lock().unwrap();
        s.rv += 1;
        let rv = s.rv;
        s.namespaces
            .insert(name.into(), ns_object(name, rv, &labels));
        s.history.clear();
        s.oldest = rv;
        self.epoch.send_modify(|e| *e += 1);
    }

    /// Close every watch (as an API server does at its timeout or on restart).
    fn close_watches(&self) {
        let _s = self.store.lock().unwrap();
        self.epoch.send_modify(|e| *e += 1);
    }

    fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn authorized(&self, h: &HeaderMap) -> bool {
        h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
    }
}

fn query(raw: &Option<String>) -> BTreeMap<String, String> {
    raw.as_deref()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn list_or_watch(
    State(api): State<Arc<FakeApi>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    api.log.lock().unwrap().push(format!(
        "GET /api/v1/namespaces?{}",
        raw.clone().unwrap_or_default()
    ));
    if !api.authorized(&headers) {
        return json_response(401, &status(401, "Unauthorized", "Unauthorized"));
    }
    let q = query(&raw);
    if matches!(q.get("watch").map(String::as_str), Some("true" | "1")) {
        return watch_stream(api, q);
    }
    let s = api.store.lock().unwrap();
    let start: usize = q.get("continue").and_then(|c| c.parse().ok()).unwrap_or(0);
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(usize::MAX);
    let n = limit.min(api.page);
    let items: Vec<Value> = s.namespaces.values().skip(start).take(n).cloned().collect();
    let mut meta = json!({"resourceVersion": s.rv.to_string()});
    if start + n < s.namespaces.len() {
        meta["continue"] = json!((start + n).to_string());
        meta["remainingItemCount"] = json!(s.namespaces.len() - start - n);
    }
    json_response(
        200,
        &json!({"kind": "NamespaceList", "apiVersion": "v1", "metadata": meta, "items": items}),
    )
}

fn watch_stream(api: Arc<FakeApi>, q: BTreeMap<String, String>) -> Response {
    let from: u64 = q
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let bookmarks = q.get("allowWatchBookmarks").map(String::as_str) == Some("true");
    let timeout = Duration::from_secs(
        q.get("timeoutSeconds")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1800),
    );
    let (tx, mut rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        // Subscribe before reading the history, so no event falls between the two.
        let mut sub = api.events.subscribe();
        let mut epoch = api.epoch.subscribe();
        let my_epoch = *epoch.borrow_and_update();
        let replay: Result<Vec<Event>, Bytes> = {
            let s = api.store.lock().unwrap();
            if from < s.oldest {
                let msg = format!("too old resource version: {from} ({})", s.oldest);
                Err(line(
                    &json!({"type": "ERROR", "object": status(410, "Expired", &msg)}),
                ))
            } else {
                Ok(s.history.iter().filter(|e| e.rv > from).cloned().collect())
            }
        };
        let replay = match replay {
            Ok(r) => r,
            Err(gone) => {
                let _ = tx.send(gone).await;
                return;
            }
        };
        let mut last = from;
        for e in replay {
            last = e.rv;
            if tx.send(e.line).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(api.bookmark_every);
        loop {
            tokio::select! {
                ev = sub.recv() => match ev {
                    Ok(e) if e.rv > last => {
                        last = e.rv;
                        if tx.send(e.line).await.is_err() { return; }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                },
                _ = epoch.changed() => return,
                _ = tick.tick(), if bookmarks => {
                    let rv = {
                        let s = api.store.lock().unwrap();
                        if *api.epoch.borrow() != my_epoch { return; }
                        s.rv
                    };
                    let b = json!({"type": "BOOKMARK", "object": {"kind": "Namespace",
                        "apiVersion": "v1", "metadata": {"resourceVersion": rv.to_string()}}});
                    if tx.send(line(&b)).await.is_err() { return; }
                }
                _ = &mut deadline => return,
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|o| o.map(Ok::<Bytes, std::convert::Infallible>))
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

async fn get_one(
    State(api): State<Arc<FakeApi>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    api.log
        .lock()
        .unwrap()
        .push(format!("GET /api/v1/namespaces/{name}"));
    if !api.authorized(&headers) {
        return json_response(401, &status(401, "Unauthorized", "Unauthorized"));
    }
    match api.store.lock().unwrap().namespaces.get(&name) {
        Some(o) => json_response(200, o),
        None => json_response(
            404,
            &status(404, "NotFound", &format!("namespaces \"{name}\" not found")),
        ),
    }
}

/// The API server over HTTPS on loopback; dropping it (or `stop`) takes it down.
struct ApiServer {
    port: u16,
    ca: PathBuf,
    dir: PathBuf,
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl ApiServer {
    async fn start(api: Arc<FakeApi>) -> ApiServer {
        let dir = tempdir("api");
        admission::tls::generate(&dir, &[]).unwrap();
        let cert = Arc::new(admission::tls::ReloadingCert::load(&dir).unwrap());
        let tls = Arc::new(admission::tls::server_config(cert).unwrap());
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let router = Router::new()
            .route("/api/v1/namespaces", get(list_or_watch))
            .route("/api/v1/namespaces/{name}", get(get_one))
            .with_state(api.clone());
        let tasks = Arc::new(Mutex::new(JoinSet::new()));
        let t2 = tasks.clone();
        tasks.lock().unwrap().spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let router = router.clone();
                t2.lock().unwrap().spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut b = hyper::server::conn::http1::Builder::new();
                    b.timer(TokioTimer::new());
                    let _ = b
                        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(router))
                        .await;
                });
            }
        });
        ApiServer {
            port,
            ca: dir.join("ca.crt"),
            dir,
            tasks,
        }
    }

    /// Take the API server down: the listener and every connection (watches included).
    fn stop(&self) {
        self.tasks.lock().unwrap().abort_all();
    }

    fn kubeconfig(&self, dir: &Path, token: &str) -> PathBuf {
        let p = dir.join("kubeconfig");
        std::fs::write(
            &p,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: fake\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority: {}\ncontexts:\n- name: test\n  context:\n    cluster: fake\n    user: webhook\nusers:\n- name: webhook\n  user:\n    token: {token}\n",
                self.port,
                self.ca.display()
            ),
        )
        .unwrap();
        p
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------------
// The webhook, as a process, and a client for it.

struct Webhook {
    child: Child,
    port: u16,
    ca: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl Webhook {
    fn start(dir: &Path, extra: &[&str]) -> Webhook {
        Webhook::start_with(dir, extra, |args| {
            let mut c = Command::new(bin());
            c.args(args);
            c
        })
    }

    /// Start `stockade admission serve` through `wrap`, which gets the arguments after the
    /// program name and returns the command to run.
    fn start_with(dir: &Path, extra: &[&str], wrap: impl FnOnce(&[String]) -> Command) -> Webhook {
        let tls = dir.join("tls");
        let out = Command::new(bin())
            .args(["admission", "certs", "--out"])
            .arg(&tls)
            .output()
            .unwrap();
        assert!(out.status.success());
        let port = free_port();
        let mut args: Vec<String> = vec!["admission".into(), "serve".into(), "--tls-dir".into()];
        args.push(tls.to_str().unwrap().into());
        args.push("--listen".into());
        args.push(format!("127.0.0.1:{port}"));
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = wrap(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let s2 = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s2.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Webhook {
            child,
            port,
            ca: tls.join("ca.crt"),
            stderr,
        }
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    async fn request(&self, method: &str, path: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&self.ca).ok()? {
            roots.add(c.ok()?).ok()?;
        }
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let fut = async {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .ok()?;
            let mut s = tokio_rustls::TlsConnector::from(Arc::new(cfg))
                .connect(ServerName::try_from("localhost").unwrap(), tcp)
                .await
                .ok()?;
            let head = format!(
                "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).await.ok()?;
            s.write_all(body).await.ok()?;
            let mut raw = Vec::new();
            let _ = s.read_to_end(&mut raw).await;
            let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
            let code = std::str::from_utf8(&raw[..end])
                .ok()?
                .split(' ')
                .nth(1)?
                .parse()
                .ok()?;
            Some((code, raw[end + 4..].to_vec()))
        };
        tokio::time::timeout(Duration::from_secs(30), fut)
            .await
            .ok()
            .flatten()
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let (c, b) = self.request("GET", path, b"").await.expect("GET answered");
        (c, String::from_utf8_lossy(&b).into_owned())
    }

    /// The `response` of a review of a privileged pod in `namespace`.
    async fn review_privileged_pod(&self, path: &str, namespace: &str) -> Value {
        let uid = format!("uid-{}", SEQ.fetch_add(1, Ordering::Relaxed));
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "registry.example/app:1",
                "securityContext": {"privileged": true}}]}});
        let gvk = json!({"group": "", "version": "v1", "kind": "Pod"});
        let gvr = json!({"group": "", "version": "v1", "resource": "pods"});
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "kind": gvk, "resource": gvr, "requestKind": gvk,
                "requestResource": gvr, "name": "p", "namespace": namespace, "operation": "CREATE",
                "userInfo": {"username": "alice"}, "object": pod, "dryRun": false}});
        let (code, body) = self
            .request("POST", path, &serde_json::to_vec(&review).unwrap())
            .await
            .expect("review answered");
        assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["response"]["uid"], json!(uid));
        v["response"].clone()
    }

    async fn metric(&self, name: &str) -> u64 {
        let (_, text) = self.get("/metrics").await;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
            .trim()
            .parse()
            .unwrap()
    }

    fn stop(mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            if t.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Poll `f` until it is true, for up to 20 s.
async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not within 20 s: {what}");
}

fn psa(level: &str) -> Value {
    json!({"pod-security.kubernetes.io/enforce": level})
}

fn denied_at(r: &Value) -> Option<String> {
    if r["allowed"] == json!(false) {
        r["auditAnnotations"]["enforce-policy"]
            .as_str()
            .map(str::to_string)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_labels_follow_the_api_server() {
    let api = FakeApi::new();
    api.create("kube-system", json!({}));
    api.create("default", json!({}));
    api.create("team-a", psa("restricted"));
    let server = ApiServer::start(api.clone()).await;
    let dir = tempdir("webhook");
    let kc = server.kubeconfig(&dir, TOKEN);
    let wh = Webhook::start(&dir, &["--kubeconfig", kc.to_str().unwrap()]);

    eventually("the webhook is ready", || async {
        wh.request("GET", "/readyz", b"")
            .await
            .is_some_and(|(c, _)| c == 200)
    })
    .await;
    // Three namespaces over two pages (the server returns at most 2 per page).
    assert_eq!(
        wh.metric("stockade_admission_namespace_cache_namespaces")
            .await,
        3
    );
    assert_eq!(
        wh.metric("stockade_admission_namespace_cache_synced").await,
        1
    );
    assert!(
        wh.metric("stockade_admission_namespace_cache_last_sync_timestamp_seconds")
            .await
            > 1_700_000_000
    );
    let reqs = api.requests();
    assert!(reqs.iter().any(|r| r.contains("continue=2")), "{reqs:?}");
    let first_watch = reqs
        .iter()
        .find(|r| r.contains("watch=true"))
        .expect("a watch");
    assert!(
        first_watch.contains("allowWatchBookmarks=true"),
        "{first_watch}"
    );
    assert!(first_watch.contains("resourceVersion=103"), "{first_watch}");

    // enforce=restricted: the privileged pod is denied.
    let r = wh.review_privileged_pod("/validate", "team-a").await;
    assert_eq!(denied_at(&r).as_deref(), Some("restricted:latest"), "{r}");
    assert_eq!(r["status"]["code"], 403);

    // The label changes to privileged (a MODIFIED event): allowed.
    api.relabel("team-a", psa("privileged"));
    eventually("team-a allows the privileged pod", || async {
        wh.review_privileged_pod("/validate", "team-a").await["allowed"] == json!(true)
    })
    .await;

    // A new namespace (ADDED), reviewed once its event has arrived.
    api.create("team-b", psa("baseline"));
    eventually("team-b is in the cache", || async {
        wh.metric("stockade_admission_namespace_cache_namespaces")
            .await
            == 4
    })
    .await;
    let r = wh.review_privileged_pod("/validate", "team-b").await;
    assert_eq!(denied_at(&r).as_deref(), Some("baseline:latest"), "{r}");
    assert_eq!(
        wh.metric("stockade_admission_namespace_cache_direct_gets_total")
            .await,
        0,
        "team-b came from the watch"
    );

    // A namespace whose ADDED event is late: the review fetches it with a GET.
    api.hold();
    api.create("team-c", psa("restricted"));
    let r = wh.review_privileged_pod("/validate", "team-c").await;
    assert_eq!(denied_at(&r).as_deref(), Some("restricted:latest"), "{r}");
    assert_eq!(
        wh.metric("stockade_admission_namespace_cache_direct_gets_total")
            .await,
        1
    );
    assert!(api
        .requests()
        .contains(&"GET /api/v1/namespaces/team-c".to_string()));
    api.release();

    // A deleted namespace leaves the cache; a review naming it finds nothing (404) and gets the
    // defaults (privileged).
    api.delete("team-b");
    eventually("team-b leaves the cache", || async {
        wh.metric("stockade_admission_namespace_cache_namespaces")
            .await
            == 4
    })
    .await;
    let r = wh.review_privileged_pod("/validate", "team-b").await;
    assert_eq!(r["allowed"], true, "{r}");
    assert!(r["auditAnnotations"].get("error").is_none(), "{r}");

    // Bookmarks carry the version forward: after other resources changed, a resumed watch
    // starts from the bookmark's version, not the last namespace event's.
    let rv = api.advance(7);
    let mark = format!("resourceVersion={rv}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    api.close_watches();
    eventually("the watch resumes from the bookmark", || async {
        api.requests()
            .iter()
            .any(|r| r.contains("watch=true") && r.contains(&mark))
    })
    .await;
    assert_eq!(
        wh.metric("stockade_admission_namespace_cache_relists_total")
            .await,
        0
    );

    // Compaction: the watch's version is gone (410 ERROR event); the webhook lists again and
    // sees the change it missed.
    let lists_before = api
        .requests()
        .iter()
        .filter(|r| !r.contains("watch=") && r.starts_with("GET /api/v1/namespaces?"))
        .count();
    api.compact_with("team-a", psa("baseline"));
    eventually("team-a is baseline after the re-list", || async {
        denied_at(&wh.review_privileged_pod("/validate", "team-a").await).as_deref()
            == Some("baseline:latest")
    })
    .await;
    assert!(
        wh.metric("stockade_admission_namespace_cache_relists_total")
            .await
            >= 1
    );
    let lists_after = api
        .requests()
        .iter()
        .filter(|r| !r.contains("watch=") && r.starts_with("GET /api/v1/namespaces?"))
        .count();
    assert!(lists_after > lists_before);
    assert_eq!(
        wh.metric("stockade_admission_namespace_cache_errors_total")
            .await,
        0
    );

    // The API server goes down: cached namespaces still decide; a pod in an unknown namespace
    // is refused with an internal error (fail closed, as Kubernetes' Pod Security admission
    // answers when it cannot read the namespace), at every path, with the failure in the
    // `error` audit annotation, a log line and the error metric.
    server.stop();
    let r = wh.review_privileged_pod("/validate", "team-a").await;
    assert_eq!(denied_at(&r).as_deref(), Some("baseline:latest"), "{r}");
    for path in ["/validate", "/validate/restricted"] {
        let r = wh.review_privileged_pod(path, "team-new").await;
        assert_eq!(r["allowed"], false, "{r}");
        assert_eq!(r["status"]["code"], 500, "{r}");
        let msg = r["status"]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains("failed to look up namespace \"team-new\": cannot reach the API server at https://127.0.0.1:"),
            "{r}"
        );
        let err = r["auditAnnotations"]["error"].as_str().unwrap_or_default();
        assert!(
            err.starts_with("failed to look up namespace \"team-new\""),
            "{r}"
        );
    }
    assert!(
        wh.metric("stockade_admission_namespace_cache_errors_total")
            .await
            >= 2
    );
    // Still ready: the cache stays in use while the API server is away.
    assert_eq!(wh.get("/readyz").await.0, 200);

    let log = wh.log();
    assert_eq!(wh.stop(), Some(0));
    assert!(
        log.lines()
            .any(|l| l.contains("\"source\":\"api\"")
                && l.contains("\"server\":\"https://127.0.0.1:")),
        "{log}"
    );
    assert!(
        log.contains("cannot look up the namespace; refusing pods in it"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_is_a_clear_error_and_the_webhook_is_not_ready() {
    let api = FakeApi::new();
    api.create("team-a", psa("restricted"));
    let server = ApiServer::start(api.clone()).await;
    let dir = tempdir("badtoken");
    let kc = server.kubeconfig(&dir, "not-the-token");
    let wh = Webhook::start(&dir, &["--kubeconfig", kc.to_str().unwrap()]);
    eventually("the list is refused", || async {
        wh.log().contains("401 Unauthorized")
    })
    .await;
    let (code, body) = wh.get("/readyz").await;
    assert_eq!(code, 503);
    assert_eq!(body, "namespaces not listed from the API server yet\n");
    assert!(
        wh.metric("stockade_admission_namespace_cache_errors_total")
            .await
            >= 1
    );
    assert_eq!(
        wh.metric("stockade_admission_namespace_cache_synced").await,
        0
    );
    let log = wh.log();
    let line = log
        .lines()
        .find(|l| l.contains("401 Unauthorized"))
        .unwrap();
    assert!(
        line.contains(&format!(
            "the API server rejected the credentials of {} (context \\\"test\\\") (401 Unauthorized): Unauthorized",
            kc.display()
        )),
        "{line}"
    );
    assert!(api.requests().iter().all(|r| !r.contains("watch=true")));
    assert_eq!(wh.stop(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// In a pod: no flags, the service environment and the mounted token and CA. The token is
/// mounted (in a private mount namespace, over a tmpfs on /run) from a directory the test
/// rewrites, as the kubelet does when it rotates a bound token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_cluster_service_account_and_a_rotated_token() {
    let probe = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        testkit::not_on_this_host(
            "`unshare --mount` is not available (needs root and the unshare tool)",
        );
        return;
    }
    let api = FakeApi::new();
    api.create("team-a", psa("restricted"));
    let server = ApiServer::start(api.clone()).await;
    let dir = tempdir("incluster");
    let sa = dir.join("sa");
    std::fs::create_dir_all(&sa).unwrap();
    std::fs::copy(&server.ca, sa.join("ca.crt")).unwrap();
    // A token the API server does not accept (an expired one, say) until the kubelet rotates it.
    std::fs::write(sa.join("token"), "expired-token\n").unwrap();
    let port = server.port;
    let sa2 = sa.clone();
    let wh = Webhook::start_with(&dir, &[], move |args| {
        let mut c = Command::new("unshare");
        c.args(["--mount", "--propagation", "private", "sh", "-ec"])
            .arg(concat!(
                "mount -t tmpfs tmpfs /run\n",
                "mkdir -p /run/secrets/kubernetes.io/serviceaccount\n",
                "mount --bind \"$SA\" /run/secrets/kubernetes.io/serviceaccount\n",
                "exec \"$@\"\n"
            ))
            .arg("sh")
            .arg(bin())
            .args(args)
            .env("SA", &sa2)
            .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
            .env("KUBERNETES_SERVICE_PORT", port.to_string());
        c
    });
    eventually("the expired token is refused", || async {
        wh.log().contains("401 Unauthorized")
    })
    .await;
    assert_eq!(wh.get("/readyz").await.0, 503);
    // Rotation: the file gets the new token; the next attempt reads it again.
    std::fs::write(sa.join("token.tmp"), format!("{TOKEN}\n")).unwrap();
    std::fs::rename(sa.join("token.tmp"), sa.join("token")).unwrap();
    eventually("ready with the rotated token", || async {
        wh.request("GET", "/readyz", b"")
            .await
            .is_some_and(|(c, _)| c == 200)
    })
    .await;
    let r = wh.review_privileged_pod("/validate", "team-a").await;
    assert_eq!(denied_at(&r).as_deref(), Some("restricted:latest"), "{r}");
    let log = wh.log();
    assert_eq!(wh.stop(), Some(0));
    assert!(
        log.contains("in-cluster service account") && log.contains("\"source\":\"api\""),
        "{log}"
    );
    assert!(
        log.contains("the API server rejected the credentials of in-cluster service account (401 Unauthorized)"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unsupported_kubeconfig_fields_are_named() {
    let dir = tempdir("badkc");
    admission::tls::generate(&dir, &[]).unwrap();
    let kc = dir.join("kubeconfig");
    std::fs::write(
        &kc,
        "current-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority: ca.crt\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nusers:\n- name: u\n  user:\n    exec: {command: gke-gcloud-auth-plugin}\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["admission", "serve", "--tls-dir"])
        .arg(&dir)
        .args(["--listen", "127.0.0.1:0", "--kubeconfig"])
        .arg(&kc)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        format!(
            "stockade admission serve: {}: users[u].user.exec: not supported by stockade admission (use token, tokenFile or a client certificate)",
            kc.display()
        )
    );
    let out = Command::new(bin())
        .args(["admission", "serve", "--tls-dir"])
        .arg(&dir)
        .args(["--namespace-source", "api", "--namespace-labels"])
        .arg(&kc)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--namespace-labels does not go with --namespace-source api"));
    let _ = std::fs::remove_dir_all(&dir);
}
