//! The HTTPS server: a TCP accept loop with a connection limit, a TLS handshake with a deadline,
//! HTTP/1.1 (hyper) with a header-read deadline, and an axum router whose review handlers read
//! the body under a size limit and a deadline.
//!
//! Every hostile client ends in a bounded error or a timeout: too many connections → closed at
//! once; no TLS ClientHello → closed after the handshake timeout; no (or slow) request head →
//! closed after the header timeout; slow body → 408; body over the limit → 413 (by
//! Content-Length before reading, or while reading); a Content-Type other than exactly
//! application/json (or none) → 415; malformed JSON or a wrong kind → 400.
//!
//! Reviews are evaluated on the blocking pool, a few at a time, apart from the async workers
//! that serve /healthz and the handshakes; the answer's size is bounded (decide.rs).

use crate::review::{Answer, Endpoint, Engine, NamespaceSource};
use crate::tls::{server_config, ReloadingCert, TlsError};
use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use policy::Level;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Limits and timings of the server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted (the API server sends at most a few MiB).
    pub max_body: usize,
    /// Deadline for the TLS handshake after the TCP connection is accepted.
    pub handshake_timeout: Duration,
    /// Deadline for a request head (also closes idle keep-alive connections).
    pub header_timeout: Duration,
    /// Deadline for reading a request body once its head arrived.
    pub body_timeout: Duration,
    /// Connections served at once; more are closed at once.
    pub max_connections: usize,
    /// How often certificate and namespace-label files are checked for changes.
    pub reload_interval: Duration,
    /// How long in-flight requests may finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// Reviews evaluated at once (on the blocking pool); the others wait for a permit.
    pub eval_workers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 3 * 1024 * 1024,
            handshake_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 4096,
            reload_interval: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(20),
            eval_workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

struct AppState {
    engine: Engine,
    limits: Limits,
    ready: AtomicBool,
    /// Permits for evaluations running at once (`Limits::eval_workers`).
    eval: Arc<Semaphore>,
    /// Large reviews answered so far: the heap is trimmed once this stops changing.
    large_reviews: AtomicU64,
}

/// A bound server, not yet serving.
pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
    cert: Arc<ReloadingCert>,
    tls: Arc<rustls::ServerConfig>,
}

impl Server {
    /// Load the certificate from `tls_dir` and bind `listen`.
    pub async fn bind(
        listen: SocketAddr,
        tls_dir: PathBuf,
        engine: Engine,
        limits: Limits,
    ) -> Result<Server, ServeError> {
        let cert = Arc::new(ReloadingCert::load(&tls_dir)?);
        let tls = Arc::new(server_config(cert.clone())?);
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| ServeError::Bind {
                addr: listen,
                source,
            })?;
        Ok(Server {
            listener,
            state: Arc::new(AppState {
                engine,
                eval: Arc::new(Semaphore::new(limits.eval_workers.max(1))),
                limits,
                ready: AtomicBool::new(false),
                large_reviews: AtomicU64::new(0),
            }),
            cert,
            tls,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serve until `shutdown` resolves, then stop accepting, let in-flight requests finish
    /// (up to the grace period) and return.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Server {
            listener,
            state,
            cert,
            tls,
        } = self;
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let router = router(state.clone());
        let graceful = GracefulShutdown::new();
        let conns = Arc::new(Semaphore::new(state.limits.max_connections));
        let reloader = tokio::spawn(reload_loop(state.clone(), cert));
        state.ready.store(true, Ordering::SeqCst);
        tracing::info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "serving");

        tokio::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let Ok(permit) = conns.clone().try_acquire_owned() else {
                state
                    .engine
                    .metrics
                    .connections_rejected
                    .fetch_add(1, Ordering::Relaxed);
                drop(tcp);
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let state2 = state.clone();
            let router = router.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let _permit = permit;
                let m = &state2.engine.metrics;
                let limits = &state2.limits;
                let tls = match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp))
                    .await
                {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        m.tls_handshake_failures.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        m.tls_handshake_failures.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
                m.connections_open.fetch_add(1, Ordering::Relaxed);
                let mut b = hyper::server::conn::http1::Builder::new();
                b.timer(TokioTimer::new())
                    .header_read_timeout(limits.header_timeout)
                    .max_buf_size(64 * 1024)
                    .keep_alive(true);
                let conn = b.serve_connection(TokioIo::new(tls), TowerToHyperService::new(router));
                let conn = watcher.watch(conn);
                if let Err(e) = conn.await {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                m.connections_open.fetch_sub(1, Ordering::Relaxed);
            });
        }

        state.ready.store(false, Ordering::SeqCst);
        drop(listener);
        reloader.abort();
        tracing::info!("shutting down: waiting for in-flight requests");
        tokio::select! {
            _ = graceful.shutdown() => tracing::info!("all connections closed"),
            _ = tokio::time::sleep(state.limits.shutdown_grace) => {
                tracing::warn!("grace period over; closing remaining connections")
            }
        }
    }
}

async fn reload_loop(state: Arc<AppState>, cert: Arc<ReloadingCert>) {
    let mut tick = tokio::time::interval(state.limits.reload_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let m = &state.engine.metrics;
        match cert.reload_if_changed() {
            Ok(true) => {
                m.certificate_reloads.fetch_add(1, Ordering::Relaxed);
                tracing::info!("serving certificate reloaded");
            }
            Ok(false) => {}
            Err(e) => {
                m.certificate_reload_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "certificate reload failed; keeping the previous one");
            }
        }
        if let NamespaceSource::File(l) = &state.engine.labels {
            match l.reload_if_changed() {
                Ok(true) => tracing::info!("namespace labels reloaded"),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "namespace labels reload failed; keeping the previous ones")
                }
            }
        }
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/validate/{level}", post(validate_level))
        .route("/mutate", post(mutate))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

fn respond(a: Answer) -> Response {
    let ct = if a.json {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut r = Response::new(Body::from(a.body));
    *r.status_mut() = StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    r
}

fn refuse(state: &AppState, status: u16, msg: String) -> Response {
    state
        .engine
        .metrics
        .bad_requests
        .fetch_add(1, Ordering::Relaxed);
    tracing::info!(status, error = %msg, "request refused");
    respond(Answer::text(status, msg))
}

/// Read the body of a review under the size limit and the body deadline.
async fn read_body(state: &AppState, req: Request) -> Result<axum::body::Bytes, Response> {
    let max = state.limits.max_body;
    // Strict: the media type must be exactly application/json (parameters such as a charset
    // may follow a ';'). A missing type and look-alikes (`application/jsonfoo`) are 415.
    let ok = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|ct| ct.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or("").trim())
        .is_some_and(|mt| mt.eq_ignore_ascii_case("application/json"));
    if !ok {
        return Err(refuse(
            state,
            415,
            "Content-Type must be application/json".into(),
        ));
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(refuse(
            state,
            413,
            format!("request body larger than {max} bytes"),
        ));
    }
    // One buffer of the declared size (capped by the limit: a false Content-Length costs no
    // more than the limit), filled frame by frame: no list of chunks copied once more at the end.
    let cap = declared.map_or(64 * 1024, |n| n as usize);
    let mut body = req.into_body();
    let read = async {
        let mut buf = Vec::with_capacity(cap);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(BodyError::Read)?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > max {
                    return Err(BodyError::TooLarge);
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(buf)
    };
    match tokio::time::timeout(state.limits.body_timeout, read).await {
        Ok(Ok(b)) => Ok(axum::body::Bytes::from(b)),
        Ok(Err(BodyError::TooLarge)) => Err(refuse(
            state,
            413,
            format!("request body larger than {max} bytes"),
        )),
        Ok(Err(BodyError::Read(e))) => {
            Err(refuse(state, 400, format!("cannot read request body: {e}")))
        }
        Err(_) => Err(refuse(
            state,
            408,
            "request body not received in time".into(),
        )),
    }
}

/// Why a request body could not be read.
enum BodyError {
    TooLarge,
    Read(axum::Error),
}

async fn answer(state: Arc<AppState>, endpoint: Endpoint, req: Request) -> Response {
    let body = match read_body(&state, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    // Evaluation is CPU work: it runs on the blocking pool, at most `eval_workers` at a time,
    // so the async workers keep answering /healthz, /readyz, /metrics and TLS handshakes while
    // large reviews are evaluated, and memory in use is bounded by the permits.
    let Ok(_permit) = state.eval.clone().acquire_owned().await else {
        return respond(Answer::text(503, "shutting down"));
    };
    let large = body.len() > LARGE_BODY;
    let answer = match &state.engine.labels {
        NamespaceSource::Api(_) => {
            // A namespace missing from the cache is looked up (async) between two passes.
            let s2 = state.clone();
            let b2 = body.clone();
            match tokio::task::spawn_blocking(move || s2.engine.review_cached(endpoint, &b2)).await
            {
                Ok(Some(a)) => a,
                Ok(None) => state.engine.review_async(endpoint, &body).await,
                Err(_) => Answer::text(500, "internal error evaluating the review; denied"),
            }
        }
        _ => {
            let s2 = state.clone();
            match tokio::task::spawn_blocking(move || s2.engine.review(endpoint, &body)).await {
                Ok(a) => a,
                Err(_) => Answer::text(500, "internal error evaluating the review; denied"),
            }
        }
    };
    drop(_permit);
    if large {
        // The heap a large review used is kept while large reviews keep coming (the next one
        // reuses it instead of faulting in fresh pages), and handed back to the system once
        // none has come for TRIM_AFTER; off the answer's path (the trim walks every arena).
        let seq = state.large_reviews.fetch_add(1, Ordering::Relaxed) + 1;
        let s2 = state.clone();
        tokio::spawn(async move {
            tokio::time::sleep(TRIM_AFTER).await;
            if s2.large_reviews.load(Ordering::Relaxed) == seq {
                let _ = tokio::task::spawn_blocking(release_memory).await;
            }
        });
    }
    respond(answer)
}

/// A body over this size is large: after the last of a burst, freed memory is handed back to
/// the system.
const LARGE_BODY: usize = 256 * 1024;

/// How long after the last large review the heap is trimmed.
const TRIM_AFTER: Duration = Duration::from_secs(1);

/// Set glibc's allocator up for a server that sees bursts of large reviews, before any thread
/// starts: one arena (glibc's default is eight per core, one taken by each new thread of the
/// blocking pool, each keeping what its thread freed; and `malloc_trim` cannot shrink the top of
/// a thread's arena, only the main one's: with two arenas 16 MB stayed resident after a burst);
/// large blocks (a 3 MB body, the decoded list of 6,741 containers) come from the arena too
/// (mmap threshold 32 MiB, glibc's largest), and `free` does not shrink the heap by itself
/// (trim threshold 1 GiB): within a burst each review reuses the pages of the one before.
/// Mapping a fresh block for each review and unmapping it at its end made a third of a 3 MB
/// review's CPU time page faults. [`release_memory`] hands it all back after the burst.
#[allow(unsafe_code)]
pub fn tune_allocator() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt takes no pointers; it only sets parameters of the allocator.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 * 1024 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
    }
}

/// Give freed heap pages back to the kernel, after a burst of large reviews: `malloc_trim`
/// returns the free pages of every arena (RSS stayed at 1.16 GB after four 2.4 MB reviews
/// before the server trimmed), so the resident size comes back near its baseline.
#[allow(unsafe_code)]
fn release_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn validate(State(state): State<Arc<AppState>>, req: Request) -> Response {
    answer(state, Endpoint::Validate(None), req).await
}

async fn validate_level(
    State(state): State<Arc<AppState>>,
    UrlPath(level): UrlPath<String>,
    req: Request,
) -> Response {
    match level.parse::<Level>() {
        Ok(l) => answer(state, Endpoint::Validate(Some(l)), req).await,
        Err(e) => refuse(&state, 404, e),
    }
}

async fn mutate(State(state): State<Arc<AppState>>, req: Request) -> Response {
    answer(state, Endpoint::Mutate, req).await
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if !state.ready.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else if !state.engine.labels_ready() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "namespaces not listed from the API server yet\n",
        )
            .into_response()
    } else {
        "ok\n".into_response()
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut r = Response::new(Body::from(state.engine.render_metrics()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}
