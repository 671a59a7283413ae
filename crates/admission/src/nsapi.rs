//! Namespace labels from the API server: a small HTTPS client (hyper + rustls, requests built by
//! kube-core) and a cache kept current by list + watch, the way an informer does it.
//!
//! The cache lists namespaces (in pages of [`PAGE`]), then watches from the list's
//! `resourceVersion` with bookmarks, applying ADDED / MODIFIED / DELETED and following
//! BOOKMARK versions. A watch that ends (the server's timeout, a dropped connection) is resumed
//! from the last version seen; a `410 Gone` (as the HTTP status or as an `ERROR` event: the
//! version was compacted away) starts over with a fresh list. Failures back off exponentially.
//!
//! A namespace that is not in the cache (created a moment ago, its ADDED event still on the
//! way) is fetched with a GET before the review is decided, as Pod Security admission's
//! namespace getter does (lister first, then a live GET).

use crate::kubeconfig::{ApiConfig, Auth};
use crate::nslabels::Labels;
use axum::http::{self, header, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Namespace;
use kube_core::params::{GetParams, ListParams, WatchParams};
use kube_core::watch::WatchEvent;
use rustls::pki_types::ServerName;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Namespaces per list page.
pub const PAGE: u32 = 500;
/// Seconds the API server keeps a watch open (it closes it then; the cache resumes it).
pub const WATCH_SECONDS: u32 = 290;
/// Largest list page or single watch event accepted.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A failed API request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("cannot reach the API server at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("the API server rejected the credentials of {origin} (401 Unauthorized): {message}")]
    Unauthorized { origin: String, message: String },
    #[error("the API server answered {code} to {what}: {message}")]
    Status {
        code: u16,
        what: String,
        message: String,
    },
    #[error("the API server's answer to {what} is not what was expected: {reason}")]
    Decode { what: String, reason: String },
    #[error("the API server did not answer {what} within {secs} s")]
    Timeout { what: String, secs: u64 },
}

impl ApiError {
    pub fn code(&self) -> Option<u16> {
        match self {
            ApiError::Status { code, .. } => Some(*code),
            ApiError::Unauthorized { .. } => Some(401),
            _ => None,
        }
    }
}

/// An HTTPS client for one API server: a fresh connection per request (lists and GETs are rare,
/// the watch is one long request).
pub struct ApiClient {
    cfg: ApiConfig,
    tls: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
    /// Deadline for connecting and for a response head; bodies of lists and GETs too.
    pub timeout: Duration,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("server", &self.cfg.url())
            .field("origin", &self.cfg.origin)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    pub fn new(cfg: ApiConfig) -> Result<ApiClient, String> {
        let mut roots = rustls::RootCertStore::empty();
        for c in &cfg.roots {
            roots
                .add(c.clone())
                .map_err(|e| format!("{}: CA certificate: {e}", cfg.origin))?;
        }
        let b = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
        let tls = match &cfg.auth {
            Auth::ClientCert { chain, key } => b
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(|e| format!("{}: client certificate: {e}", cfg.origin))?,
            _ => b.with_no_client_auth(),
        };
        let server_name = ServerName::try_from(cfg.server_name.clone())
            .map_err(|e| format!("{}: server name {:?}: {e}", cfg.origin, cfg.server_name))?;
        Ok(ApiClient {
            cfg,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            server_name,
            timeout: Duration::from_secs(10),
        })
    }

    pub fn config(&self) -> &ApiConfig {
        &self.cfg
    }

    fn connect_error(&self, reason: impl std::fmt::Display) -> ApiError {
        ApiError::Connect {
            url: self.cfg.url(),
            reason: reason.to_string(),
        }
    }

    /// Send a request built by kube-core; the response head within the timeout.
    async fn send(
        &self,
        req: http::Request<Vec<u8>>,
        what: &str,
    ) -> Result<http::Response<Incoming>, ApiError> {
        let timeout = self.timeout;
        let fut = async {
            let tcp = tokio::net::TcpStream::connect((self.cfg.host.as_str(), self.cfg.port))
                .await
                .map_err(|e| self.connect_error(e))?;
            let _ = tcp.set_nodelay(true);
            let tls = self
                .tls
                .connect(self.server_name.clone(), tcp)
                .await
                .map_err(|e| self.connect_error(format!("TLS: {e}")))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| self.connect_error(e))?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "API server connection ended with an error");
                }
            });
            let (mut parts, body) = req.into_parts();
            let pq = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            parts.uri = format!("{}{pq}", self.cfg.base_path)
                .parse()
                .map_err(|e| self.connect_error(format!("request URI: {e}")))?;
            let h = &mut parts.headers;
            let host = if self.cfg.host.contains(':') {
                format!("[{}]:{}", self.cfg.host, self.cfg.port)
            } else {
                format!("{}:{}", self.cfg.host, self.cfg.port)
            };
            if let Ok(v) = HeaderValue::from_str(&host) {
                h.insert(header::HOST, v);
            }
            h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
            h.insert(
                header::USER_AGENT,
                HeaderValue::from_static(concat!("stockade-admission/", env!("CARGO_PKG_VERSION"))),
            );
            if let Auth::Token(t) = &self.cfg.auth {
                let mut v =
                    HeaderValue::from_str(&format!("Bearer {}", t.token())).map_err(|_| {
                        self.connect_error("the token has characters a header cannot hold")
                    })?;
                v.set_sensitive(true);
                h.insert(header::AUTHORIZATION, v);
            }
            sender
                .send_request(http::Request::from_parts(
                    parts,
                    Full::new(Bytes::from(body)),
                ))
                .await
                .map_err(|e| self.connect_error(e))
        };
        let resp = tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| ApiError::Timeout {
                what: what.to_string(),
                secs: timeout.as_secs(),
            })??;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let code = resp.status().as_u16();
        let body = tokio::time::timeout(timeout, read_limited(resp.into_body(), 64 * 1024))
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or_default();
        let message = serde_json::from_slice::<kube_core::Status>(&body)
            .map(|s| s.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).trim().to_string());
        if code == StatusCode::UNAUTHORIZED.as_u16() {
            if let Auth::Token(t) = &self.cfg.auth {
                t.invalidate();
            }
            return Err(ApiError::Unauthorized {
                origin: self.cfg.origin.clone(),
                message,
            });
        }
        Err(ApiError::Status {
            code,
            what: what.to_string(),
            message,
        })
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        req: http::Request<Vec<u8>>,
        what: &str,
    ) -> Result<T, ApiError> {
        let resp = self.send(req, what).await?;
        let body = tokio::time::timeout(self.timeout, read_limited(resp.into_body(), MAX_BODY))
            .await
            .map_err(|_| ApiError::Timeout {
                what: what.to_string(),
                secs: self.timeout.as_secs(),
            })?
            .map_err(|reason| ApiError::Decode {
                what: what.to_string(),
                reason,
            })?;
        serde_json::from_slice(&body).map_err(|e| ApiError::Decode {
            what: what.to_string(),
            reason: e.to_string(),
        })
    }
}

async fn read_limited(mut body: Incoming, max: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max {
                return Err(format!("body larger than {max} bytes"));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

fn ns_request() -> kube_core::Request {
    kube_core::Request::new("/api/v1/namespaces")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn labels_of(ns: &Namespace) -> Arc<Labels> {
    Arc::new(ns.metadata.labels.clone().unwrap_or_default())
}

/// Counters of the cache, exported as `stockade_admission_namespace_cache_*`.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub lists: AtomicU64,
    pub relists: AtomicU64,
    pub watch_events: AtomicU64,
    pub direct_gets: AtomicU64,
    pub errors: AtomicU64,
    pub last_sync: AtomicU64,
}

/// How a watch ended.
enum WatchEnd {
    /// The server closed it (its timeout) or the connection dropped: resume from the last version.
    Closed {
        events: u64,
    },
    /// The version is gone (410): list again.
    Gone,
    Failed(ApiError),
}

/// The labels of every namespace, kept current by list + watch.
#[derive(Debug)]
pub struct NamespaceCache {
    client: ApiClient,
    map: RwLock<HashMap<String, Arc<Labels>>>,
    synced: AtomicBool,
    pub stats: CacheStats,
    /// First and largest delay between failed attempts.
    pub backoff: (Duration, Duration),
    /// Deadline of the GET of a namespace missing from the cache: well inside the 5 s the
    /// webhook configuration gives a review (`timeoutSeconds`).
    pub lookup_timeout: Duration,
}

impl NamespaceCache {
    pub fn new(client: ApiClient) -> NamespaceCache {
        NamespaceCache {
            client,
            map: RwLock::new(HashMap::new()),
            synced: AtomicBool::new(false),
            stats: CacheStats::default(),
            backoff: (Duration::from_millis(250), Duration::from_secs(30)),
            lookup_timeout: Duration::from_secs(2),
        }
    }

    pub fn client(&self) -> &ApiClient {
        &self.client
    }

    /// Whether the first list has succeeded.
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::SeqCst)
    }

    /// Labels of a cached namespace.
    pub fn get(&self, namespace: &str) -> Option<Arc<Labels>> {
        match self.map.read() {
            Ok(g) => g.get(namespace).cloned(),
            Err(p) => p.into_inner().get(namespace).cloned(),
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Labels>>> {
        match self.map.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn len(&self) -> usize {
        match self.map.read() {
            Ok(g) => g.len(),
            Err(p) => p.into_inner().len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// GET one namespace (not in the cache yet): its labels, `None` when it does not exist.
    /// The answer is not put into the cache: only the watch writes it, so a GET that races a
    /// DELETED event cannot bring a namespace back (PSA's lister is fed by its informer alone).
    pub async fn fetch(&self, namespace: &str) -> Result<Option<Arc<Labels>>, ApiError> {
        self.stats.direct_gets.fetch_add(1, Ordering::Relaxed);
        let what = format!("GET namespace {namespace:?}");
        let req = ns_request()
            .get(namespace, &GetParams::default())
            .map_err(|e| ApiError::Decode {
                what: what.clone(),
                reason: e.to_string(),
            })?;
        let got = tokio::time::timeout(
            self.lookup_timeout,
            self.client.json::<Namespace>(req, &what),
        )
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::Timeout {
                what: what.clone(),
                secs: self.lookup_timeout.as_secs(),
            })
        });
        match got {
            Ok(ns) => Ok(Some(labels_of(&ns))),
            Err(e) if e.code() == Some(404) => Ok(None),
            Err(e) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// List every namespace (paged) and replace the cache; the list's resourceVersion.
    async fn list(&self) -> Result<String, ApiError> {
        let mut all = HashMap::new();
        let mut cont: Option<String> = None;
        let rv = loop {
            let lp = ListParams {
                limit: Some(PAGE),
                continue_token: cont.clone(),
                ..ListParams::default()
            };
            let req = ns_request().list(&lp).map_err(|e| ApiError::Decode {
                what: "list namespaces".into(),
                reason: e.to_string(),
            })?;
            let page: k8s_openapi::List<Namespace> =
                self.client.json(req, "list namespaces").await?;
            for ns in &page.items {
                if let Some(name) = &ns.metadata.name {
                    all.insert(name.clone(), labels_of(ns));
                }
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(c) => cont = Some(c),
                None => {
                    break page.metadata.resource_version.unwrap_or_default();
                }
            }
        };
        let n = all.len();
        *self.write() = all;
        self.stats.last_sync.store(unix_now(), Ordering::Relaxed);
        if self.stats.lists.fetch_add(1, Ordering::Relaxed) > 0 {
            self.stats.relists.fetch_add(1, Ordering::Relaxed);
        }
        self.synced.store(true, Ordering::SeqCst);
        tracing::info!(namespaces = n, resource_version = %rv, "namespaces listed");
        Ok(rv)
    }

    /// Watch from `rv`, applying events and advancing `rv`, until the watch ends.
    async fn watch(&self, rv: &mut String) -> WatchEnd {
        let wp = WatchParams {
            bookmarks: true,
            timeout: Some(WATCH_SECONDS),
            ..WatchParams::default()
        };
        let req = match ns_request().watch(&wp, rv) {
            Ok(r) => r,
            Err(e) => {
                return WatchEnd::Failed(ApiError::Decode {
                    what: "watch namespaces".into(),
                    reason: e.to_string(),
                })
            }
        };
        let resp = match self.client.send(req, "watch namespaces").await {
            Ok(r) => r,
            Err(e) if e.code() == Some(410) => return WatchEnd::Gone,
            Err(e) => return WatchEnd::Failed(e),
        };
        let mut body = resp.into_body();
        let mut buf: Vec<u8> = Vec::new();
        let mut events = 0u64;
        // The server closes the watch after WATCH_SECONDS; silence well past that means the
        // connection is dead without either side having noticed.
        let idle = Duration::from_secs(u64::from(WATCH_SECONDS) + 30);
        loop {
            let frame = match tokio::time::timeout(idle, body.frame()).await {
                Err(_) => {
                    return WatchEnd::Failed(ApiError::Timeout {
                        what: "watch namespaces (no data)".into(),
                        secs: idle.as_secs(),
                    })
                }
                Ok(None) => return WatchEnd::Closed { events },
                Ok(Some(Err(e))) => {
                    tracing::debug!(error = %e, "namespace watch connection broke");
                    return WatchEnd::Closed { events };
                }
                Ok(Some(Ok(f))) => f,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                let line = line.trim_ascii();
                if line.is_empty() {
                    continue;
                }
                match self.apply(line, rv) {
                    Ok(()) => events += 1,
                    Err(end) => return end,
                }
            }
            if buf.len() > MAX_BODY {
                return WatchEnd::Failed(ApiError::Decode {
                    what: "watch namespaces".into(),
                    reason: format!("an event larger than {MAX_BODY} bytes"),
                });
            }
        }
    }

    /// Apply one watch event.
    fn apply(&self, line: &[u8], rv: &mut String) -> Result<(), WatchEnd> {
        let ev: WatchEvent<Namespace> = serde_json::from_slice(line).map_err(|e| {
            WatchEnd::Failed(ApiError::Decode {
                what: "watch namespaces".into(),
                reason: format!("not a watch event: {e}"),
            })
        })?;
        self.stats.watch_events.fetch_add(1, Ordering::Relaxed);
        let (ns, deleted) = match ev {
            WatchEvent::Added(ns) | WatchEvent::Modified(ns) => (ns, false),
            WatchEvent::Deleted(ns) => (ns, true),
            WatchEvent::Bookmark(b) => {
                *rv = b.metadata.resource_version;
                return Ok(());
            }
            WatchEvent::Error(s) if s.code == 410 => return Err(WatchEnd::Gone),
            WatchEvent::Error(s) => {
                return Err(WatchEnd::Failed(ApiError::Status {
                    code: s.code,
                    what: "watch namespaces (ERROR event)".into(),
                    message: s.message,
                }))
            }
        };
        if let Some(v) = &ns.metadata.resource_version {
            v.clone_into(rv);
        }
        let Some(name) = ns.metadata.name.clone() else {
            return Ok(());
        };
        if deleted {
            self.write().remove(&name);
            tracing::debug!(namespace = %name, "namespace deleted");
        } else {
            let labels = labels_of(&ns);
            tracing::debug!(namespace = %name, "namespace labels updated");
            self.write().insert(name, labels);
        }
        Ok(())
    }

    fn failed(&self, what: &str, e: &ApiError) {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        tracing::error!(error = %e, "{what} failed");
    }

    /// List, then watch, forever (abort the task to stop).
    pub async fn run(self: Arc<Self>) {
        let (first, max) = self.backoff;
        let mut delay = first;
        let backoff = |d: &mut Duration| {
            let now = *d;
            *d = (*d * 2).min(max);
            now
        };
        loop {
            let mut rv = match self.list().await {
                Ok(rv) => rv,
                Err(e) => {
                    self.failed("listing namespaces", &e);
                    tokio::time::sleep(backoff(&mut delay)).await;
                    continue;
                }
            };
            delay = first;
            loop {
                match self.watch(&mut rv).await {
                    WatchEnd::Closed { events } => {
                        tracing::debug!(events, resource_version = %rv, "namespace watch ended; resuming");
                        if events > 0 {
                            delay = first;
                        } else {
                            tokio::time::sleep(backoff(&mut delay)).await;
                        }
                    }
                    WatchEnd::Gone => {
                        tracing::info!(resource_version = %rv, "namespace watch: resource version gone (410); listing again");
                        break;
                    }
                    WatchEnd::Failed(e) => {
                        self.failed("watching namespaces", &e);
                        tokio::time::sleep(backoff(&mut delay)).await;
                        if e.code().is_some() {
                            // The server answered but not with a watch: start over.
                            break;
                        }
                    }
                }
            }
        }
    }

    /// The cache's metrics in the Prometheus text format.
    pub fn render_metrics(&self, o: &mut String) {
        let s = &self.stats;
        let rows: [(&str, &str, &str, u64); 6] = [
            (
                "namespaces",
                "gauge",
                "Namespaces whose labels are cached.",
                self.len() as u64,
            ),
            (
                "last_sync_timestamp_seconds",
                "gauge",
                "Unix time of the last successful list of namespaces (0: none yet).",
                s.last_sync.load(Ordering::Relaxed),
            ),
            (
                "relists_total",
                "counter",
                "Lists after the first (after a 410 Gone or a failed watch).",
                s.relists.load(Ordering::Relaxed),
            ),
            (
                "watch_events_total",
                "counter",
                "Watch events applied (including bookmarks).",
                s.watch_events.load(Ordering::Relaxed),
            ),
            (
                "direct_gets_total",
                "counter",
                "Namespaces fetched with a GET because a review named one not in the cache.",
                s.direct_gets.load(Ordering::Relaxed),
            ),
            (
                "errors_total",
                "counter",
                "Failed lists, watches and GETs.",
                s.errors.load(Ordering::Relaxed),
            ),
        ];
        for (name, ty, help, v) in rows {
            let _ = writeln!(o, "# HELP stockade_admission_namespace_cache_{name} {help}");
            let _ = writeln!(o, "# TYPE stockade_admission_namespace_cache_{name} {ty}");
            let _ = writeln!(o, "stockade_admission_namespace_cache_{name} {v}");
        }
        let _ = writeln!(o, "# HELP stockade_admission_namespace_cache_synced 1 once the first list of namespaces succeeded.");
        let _ = writeln!(o, "# TYPE stockade_admission_namespace_cache_synced gauge");
        let _ = writeln!(
            o,
            "stockade_admission_namespace_cache_synced {}",
            u8::from(self.synced())
        );
    }
}
