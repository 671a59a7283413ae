//! Shared test harness: a real server on loopback with freshly generated certificates, a rustls
//! client that trusts the generated CA and speaks HTTP/1.1 by hand (so hostile tests control
//! every byte), and AdmissionReview builders.
#![allow(dead_code)]

use admission::config::Config;
use admission::decide::Verdicts;
use admission::nslabels::NamespaceLabels;
use admission::nspolicy::{NamespacePolicy, PsaLevel};
use admission::review::Engine;
use admission::server::{Limits, Server};
use policy::{PodWorkload, Violation};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls_pki_types::pem::PemObject;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A fresh temporary directory.
pub fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "stockade-admission-{tag}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub tls_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    pub task: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(engine: Engine, limits: Limits) -> TestServer {
        let tls_dir = tempdir("tls");
        admission::tls::generate(&tls_dir, &[]).unwrap();
        let server = Server::bind(
            "127.0.0.1:0".parse().unwrap(),
            tls_dir.clone(),
            engine,
            limits,
        )
        .await
        .unwrap();
        let addr = server.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            tls_dir,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// A server with the real evaluator and default configuration.
    pub async fn default() -> TestServer {
        TestServer::start(engine(Config::default(), None), test_limits()).await
    }

    pub fn client(&self) -> Client {
        Client::new(self.addr, &self.tls_dir.join("ca.crt"))
    }

    /// Signal shutdown and wait (bounded) for the server to return.
    pub async fn stop(mut self) -> Duration {
        let t = Instant::now();
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("server stops within 30 s")
                .unwrap();
        }
        t.elapsed()
    }

    pub fn signal_stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = std::fs::remove_dir_all(&self.tls_dir);
    }
}

/// Short timeouts so hostile tests finish quickly.
pub fn test_limits() -> Limits {
    Limits {
        handshake_timeout: Duration::from_secs(1),
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        reload_interval: Duration::from_millis(100),
        shutdown_grace: Duration::from_secs(5),
        ..Limits::default()
    }
}

pub fn engine(config: Config, labels: Option<&Path>) -> Engine {
    let labels = labels.map(|p| NamespaceLabels::load(p).unwrap());
    Engine::new(config, labels).unwrap()
}

/// A stand-in for the Pod Security checks while `policy::pss` is being written on another
/// branch: `privileged` (baseline) and `allowPrivilegeEscalation != false` (restricted), with
/// Kubernetes' message format, over regular, init and ephemeral containers; plus SKD-ESC-020 for
/// a docker.sock hostPath at the escape level. Only for exercising the decision paths over HTTPS.
pub fn stand_in_evaluator(w: &PodWorkload, p: &NamespacePolicy) -> Verdicts {
    let containers = || {
        let spec = &w.spec;
        let mut out: Vec<(
            String,
            String,
            Option<k8s_openapi::api::core::v1::SecurityContext>,
        )> = Vec::new();
        for (i, c) in spec.containers.iter().enumerate() {
            out.push((
                format!("{}.containers[{i}]", w.spec_path),
                c.name.clone(),
                c.security_context.clone(),
            ));
        }
        for (i, c) in spec.init_containers.iter().flatten().enumerate() {
            out.push((
                format!("{}.initContainers[{i}]", w.spec_path),
                c.name.clone(),
                c.security_context.clone(),
            ));
        }
        for (i, c) in spec.ephemeral_containers.iter().flatten().enumerate() {
            out.push((
                format!("{}.ephemeralContainers[{i}]", w.spec_path),
                c.name.clone(),
                c.security_context.clone(),
            ));
        }
        out
    };
    let check = |level: PsaLevel| -> Vec<Violation> {
        let mut v = Vec::new();
        if level == PsaLevel::Privileged {
            return v;
        }
        for (field, name, sc) in containers() {
            if sc.as_ref().and_then(|s| s.privileged) == Some(true) {
                v.push(Violation::new(
                    policy::id::SKD_PSS_002,
                    format!("{field}.securityContext.privileged"),
                    format!("privileged (container {name:?} must not set securityContext.privileged=true)"),
                ));
            }
        }
        if level == PsaLevel::Restricted {
            for (field, name, sc) in containers() {
                if sc.as_ref().and_then(|s| s.allow_privilege_escalation) != Some(false) {
                    v.push(Violation::new(
                        policy::id::SKD_PSS_014,
                        format!("{field}.securityContext.allowPrivilegeEscalation"),
                        format!("allowPrivilegeEscalation != false (container {name:?} must set securityContext.allowPrivilegeEscalation=false)"),
                    ));
                }
            }
        }
        v
    };
    let mut escape = Vec::new();
    if p.escape.is_some() {
        for (i, vol) in w.spec.volumes.iter().flatten().enumerate() {
            if let Some(hp) = &vol.host_path {
                if hp.path.trim_end_matches('/').ends_with("docker.sock") {
                    escape.push(Violation::new(
                        policy::id::SKD_ESC_020,
                        format!("{}.volumes[{i}].hostPath", w.spec_path),
                        format!(
                            "host path {:?} exposes the container-engine socket docker",
                            hp.path
                        ),
                    ));
                }
            }
        }
    }
    Verdicts {
        enforce: check(p.enforce.level),
        audit: check(p.audit.level),
        warn: check(p.warn.level),
        escape,
    }
}

/// An HTTP response as read off the wire.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parse `HTTP/1.1 200 OK\r\n...\r\n\r\nbody` (Content-Length bodies).
pub fn parse_response(raw: &[u8]) -> Option<Resp> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let body = raw[end + 4..].to_vec();
    Some(Resp {
        status,
        headers,
        body,
    })
}

#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    connector: TlsConnector,
}

impl Client {
    pub fn new(addr: SocketAddr, ca: &Path) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(ca).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        Client {
            addr,
            connector: TlsConnector::from(Arc::new(cfg)),
        }
    }

    /// TCP + TLS handshake.
    pub async fn connect(&self) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        self.connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
    }

    /// One request on a fresh connection (`Connection: close`), read to the end, within 30 s.
    pub async fn request(&self, method: &str, path: &str, body: &[u8]) -> std::io::Result<Resp> {
        let fut = async {
            let mut s = self.connect().await?;
            let head = format!(
                "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).await?;
            s.write_all(body).await?;
            s.flush().await?;
            let raw = read_all(&mut s).await;
            parse_response(&raw).ok_or_else(|| {
                std::io::Error::other(format!(
                    "no HTTP response: {:?}",
                    String::from_utf8_lossy(&raw)
                ))
            })
        };
        tokio::time::timeout(Duration::from_secs(30), fut)
            .await
            .map_err(|_| std::io::Error::other("request timed out after 30 s"))?
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.request("POST", path, &serde_json::to_vec(body).unwrap())
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request("GET", path, b"").await.unwrap()
    }

    /// POST a review and return its `response` object, checking the envelope.
    pub async fn review(&self, path: &str, review: &Value) -> Value {
        let r = self.post(path, review).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v = r.json();
        assert_eq!(v["kind"], "AdmissionReview");
        assert_eq!(v["apiVersion"], review["apiVersion"]);
        assert_eq!(v["response"]["uid"], review["request"]["uid"]);
        v["response"].clone()
    }
}

/// Read until EOF (or a TLS error after some data, e.g. a close without close_notify).
pub async fn read_all<S: AsyncReadExt + Unpin>(s: &mut S) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match s.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    out
}

/// An AdmissionReview request for `object`.
pub struct ReviewBuilder {
    v: Value,
}

impl ReviewBuilder {
    pub fn new(object: Value) -> ReviewBuilder {
        let kind = object["kind"].as_str().unwrap_or("Pod").to_string();
        let api = object["apiVersion"].as_str().unwrap_or("v1").to_string();
        let (group, version) = match api.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api.clone()),
        };
        let resource = admission::workload::resource_of(&kind).unwrap_or("configmaps");
        let gvk = json!({"group": group, "version": version, "kind": kind});
        let gvr = json!({"group": group, "version": version, "resource": resource});
        let uid = format!("uid-{}", SEQ.fetch_add(1, Ordering::Relaxed));
        let v = json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": uid,
                "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
                "name": object["metadata"]["name"].clone(),
                "namespace": object["metadata"]["namespace"].as_str().unwrap_or("team-a"),
                "operation": "CREATE",
                "userInfo": {"username": "alice", "uid": "u-1", "groups": ["system:authenticated"]},
                "object": object,
                "oldObject": null,
                "dryRun": false,
                "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
            }
        });
        ReviewBuilder { v }
    }
    pub fn namespace(mut self, ns: &str) -> Self {
        self.v["request"]["namespace"] = json!(ns);
        self
    }
    pub fn user(mut self, u: &str) -> Self {
        self.v["request"]["userInfo"]["username"] = json!(u);
        self
    }
    pub fn dry_run(mut self) -> Self {
        self.v["request"]["dryRun"] = json!(true);
        self
    }
    pub fn v1beta1(mut self) -> Self {
        self.v["apiVersion"] = json!("admission.k8s.io/v1beta1");
        self
    }
    pub fn update(mut self, old: Value) -> Self {
        self.v["request"]["operation"] = json!("UPDATE");
        self.v["request"]["oldObject"] = old;
        self.v["request"]["options"]["kind"] = json!("UpdateOptions");
        self
    }
    pub fn operation(mut self, op: &str) -> Self {
        self.v["request"]["operation"] = json!(op);
        self
    }
    pub fn subresource(mut self, s: &str) -> Self {
        self.v["request"]["subResource"] = json!(s);
        self.v["request"]["requestSubResource"] = json!(s);
        self
    }
    pub fn build(self) -> Value {
        self.v
    }
}

pub fn container(name: &str, sc: Value) -> Value {
    let mut c = json!({"name": name, "image": "registry.example/app:1"});
    if !sc.is_null() {
        c["securityContext"] = sc;
    }
    c
}

pub fn pod(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "team-a"}, "spec": spec})
}

pub fn deployment(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "team-a"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}})
}

pub fn cronjob(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name, "namespace": "team-a"},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {
            "spec": spec}}}}})
}

/// A pod spec with one container and the given container security context.
pub fn spec_with(sc: Value) -> Value {
    json!({"containers": [container("c", sc)]})
}

/// A pod spec that is clean at restricted: non-root, no escalation, drop ALL, RuntimeDefault.
pub fn restricted_spec() -> Value {
    json!({
        "securityContext": {"runAsNonRoot": true, "runAsUser": 1000,
            "seccompProfile": {"type": "RuntimeDefault"}},
        "automountServiceAccountToken": false,
        "containers": [container("c", json!({"allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]}}))]
    })
}

/// Decode and apply a response's base64 JSONPatch to `object`.
pub fn apply_patch(response: &Value, object: &Value) -> Value {
    use base64::Engine as _;
    assert_eq!(response["patchType"], "JSONPatch");
    let b = base64::engine::general_purpose::STANDARD
        .decode(
            response["patch"]
                .as_str()
                .expect("patch is a base64 string"),
        )
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&b).unwrap();
    let mut o = object.clone();
    json_patch::patch(&mut o, &patch).unwrap();
    o
}

/// The object of a review request as the policy crate's workload.
pub fn workload_of(object: &Value) -> PodWorkload {
    let kind = object["kind"].as_str().unwrap();
    let api = object["apiVersion"].as_str().unwrap();
    let group = api.split_once('/').map(|(g, _)| g).unwrap_or("");
    match admission::workload::extract(group, kind, api, object.clone()).unwrap() {
        admission::workload::Extracted::Workload(w) => *w,
        _ => panic!("not pod-bearing"),
    }
}

/// A time-bounded poll: `f` until true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t = Instant::now();
    while t.elapsed() < limit {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
