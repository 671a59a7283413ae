//! Fixed-rate (open-loop) load generator for `stockade admission serve`, over TLS on loopback.
//!
//! Why not wrk: Debian's wrk is closed-loop (each connection sends its next request when the
//! previous answer arrives; `-R`, a fixed rate, is wrk2, not packaged). A closed loop measures
//! throughput at a connection count, not latency at a given request rate, and hides queueing
//! (coordinated omission). This sends request `i` at `start + i / rate`, spread round-robin over
//! `--connections` keep-alive TLS connections, each on its own thread with blocking I/O (std's
//! sleep is finer than tokio's 1 ms timer), and reports:
//!
//! * latency: request written → response read (what the API server's webhook client sees);
//! * lag: how late each request was sent after its scheduled time (a connection still waiting
//!   for its previous answer sends late; large lag means the rate was not sustained);
//! * corrected latency: scheduled time → response read (latency including queueing);
//! * errors: connection failures, non-200 answers, or answers that are not an allowed review.
//!
//! Built as an example of the admission crate:
//!   cargo run --release -p stockade-admission --example admission-load -- \
//!       --addr 127.0.0.1:8443 --ca DIR/ca.crt --rate 2000 --seconds 10

use rustls::pki_types::{CertificateDer, ServerName};
use rustls_pki_types::pem::PemObject;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    addr: SocketAddr,
    ca: PathBuf,
    rate: f64,
    seconds: f64,
    connections: usize,
    path: String,
    body: Option<PathBuf>,
    warmup: f64,
}

fn usage() -> ! {
    eprintln!(
        "usage: admission-load --addr ADDR --ca FILE [--rate N] [--seconds S] [--connections N] \
         [--path /validate/restricted] [--body FILE] [--warmup S]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:8443".parse().unwrap_or_else(|_| usage()),
        ca: PathBuf::new(),
        rate: 2000.0,
        seconds: 10.0,
        connections: 16,
        path: "/validate/restricted".into(),
        body: None,
        warmup: 2.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| usage());
        match k.as_str() {
            "--addr" => a.addr = v.parse().unwrap_or_else(|_| usage()),
            "--ca" => a.ca = v.into(),
            "--rate" => a.rate = v.parse().unwrap_or_else(|_| usage()),
            "--seconds" => a.seconds = v.parse().unwrap_or_else(|_| usage()),
            "--connections" => a.connections = v.parse().unwrap_or_else(|_| usage()),
            "--path" => a.path = v,
            "--body" => a.body = Some(v.into()),
            "--warmup" => a.warmup = v.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if a.ca.as_os_str().is_empty() || a.rate <= 0.0 || a.connections == 0 || a.seconds <= 0.0 {
        usage();
    }
    // Bounded: at most 5 minutes, at most 100,000 requests a second.
    a.seconds = a.seconds.min(300.0);
    a.warmup = a.warmup.clamp(0.0, 60.0);
    a.rate = a.rate.min(100_000.0);
    a
}

/// A Pod review like the API server sends for a ReplicaSet's pod (restricted-clean, so allowed):
/// `bench/admission-review.json`.
fn default_body() -> Vec<u8> {
    include_bytes!("admission-review.json").to_vec()
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn connect(addr: SocketAddr, cfg: &Arc<rustls::ClientConfig>) -> std::io::Result<BufReader<Tls>> {
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    tcp.set_nodelay(true)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let name = ServerName::try_from("localhost").map_err(std::io::Error::other)?;
    let conn = rustls::ClientConnection::new(cfg.clone(), name).map_err(std::io::Error::other)?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    // Complete the handshake now, not inside the first measured request.
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock)?;
    }
    Ok(BufReader::new(s))
}

/// One request/response on a keep-alive connection. Checks a 200 with an allowed review.
fn exchange(
    s: &mut BufReader<Tls>,
    head: &[u8],
    body: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(), String> {
    let w = s.get_mut();
    w.write_all(head).map_err(|e| e.to_string())?;
    w.write_all(body).map_err(|e| e.to_string())?;
    w.flush().map_err(|e| e.to_string())?;
    let mut line = String::new();
    s.read_line(&mut line).map_err(|e| e.to_string())?;
    if !line.starts_with("HTTP/1.1 200") {
        return Err(format!("status line {:?}", line.trim_end()));
    }
    let mut len = None;
    loop {
        line.clear();
        s.read_line(&mut line).map_err(|e| e.to_string())?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse::<usize>().ok();
            }
        }
    }
    let len = len.ok_or("no content-length")?;
    buf.resize(len, 0);
    s.read_exact(buf).map_err(|e| e.to_string())?;
    if !buf.windows(14).any(|w| w == b"\"allowed\":true") {
        return Err(format!("not allowed: {}", String::from_utf8_lossy(buf)));
    }
    Ok(())
}

#[derive(Default)]
struct Samples {
    latency: Vec<u64>,
    lag: Vec<u64>,
    corrected: Vec<u64>,
    errors: Vec<String>,
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

fn main() {
    let a = parse_args();
    let body = match &a.body {
        Some(p) => std::fs::read(p).unwrap_or_else(|e| {
            eprintln!("{}: {e}", p.display());
            std::process::exit(2)
        }),
        None => default_body(),
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(&a.ca).unwrap_or_else(|e| {
        eprintln!("{}: {e}", a.ca.display());
        std::process::exit(2)
    });
    for c in certs.flatten() {
        let _ = roots.add(c);
    }
    let cfg = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1)
        })
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        a.path,
        body.len()
    )
    .into_bytes();

    let total_secs = a.warmup + a.seconds;
    let total = (a.rate * total_secs).round() as u64;
    let warm = (a.rate * a.warmup).round() as u64;
    let interval_ns = 1e9 / a.rate;
    let start = Instant::now() + Duration::from_millis(300);
    let n = a.connections as u64;

    let threads: Vec<_> = (0..n)
        .map(|k| {
            let (cfg, head, body) = (cfg.clone(), head.clone(), body.clone());
            let addr = a.addr;
            std::thread::spawn(move || {
                let mut out = Samples::default();
                let mut conn = match connect(addr, &cfg) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        out.errors.push(format!("connect: {e}"));
                        None
                    }
                };
                let mut buf = Vec::with_capacity(1024);
                let mut i = k;
                while i < total {
                    let due = start + Duration::from_nanos((i as f64 * interval_ns) as u64);
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    let sent = Instant::now();
                    let result = match conn.as_mut() {
                        Some(c) => exchange(c, &head, &body, &mut buf),
                        None => Err("no connection".into()),
                    };
                    let done = Instant::now();
                    let failed = result.is_err();
                    if i >= warm {
                        match result {
                            Ok(()) => {
                                out.latency.push((done - sent).as_micros() as u64);
                                out.lag
                                    .push(sent.saturating_duration_since(due).as_micros() as u64);
                                out.corrected
                                    .push(done.saturating_duration_since(due).as_micros() as u64);
                            }
                            Err(e) => out.errors.push(e),
                        }
                    }
                    if conn.is_none() || failed {
                        // The connection's state is unknown after an error: start a new one.
                        conn = connect(addr, &cfg).ok();
                    }
                    i += n;
                }
                out
            })
        })
        .collect();

    let mut all = Samples::default();
    for t in threads {
        match t.join() {
            Ok(s) => {
                all.latency.extend(s.latency);
                all.lag.extend(s.lag);
                all.corrected.extend(s.corrected);
                all.errors.extend(s.errors);
            }
            Err(_) => all.errors.push("worker thread panicked".into()),
        }
    }
    let elapsed = start.elapsed().as_secs_f64() - a.warmup;
    all.latency.sort_unstable();
    all.lag.sort_unstable();
    all.corrected.sort_unstable();
    let measured = total - warm;
    println!(
        "rate {} req/s for {}s (+{}s warm-up) over {} TLS keep-alive connections, POST {} ({} B body)",
        a.rate, a.seconds, a.warmup, a.connections, a.path, body.len()
    );
    println!(
        "requests {}  ok {}  errors {}  achieved {:.0} req/s",
        measured,
        all.latency.len(),
        all.errors.len(),
        all.latency.len() as f64 / elapsed.max(1e-9)
    );
    for (name, v) in [
        ("latency (ms)  ", &all.latency),
        ("corrected (ms)", &all.corrected),
        ("send lag (ms) ", &all.lag),
    ] {
        println!(
            "{name}  p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
            pct(v, 50.0),
            pct(v, 90.0),
            pct(v, 99.0),
            pct(v, 99.9),
            pct(v, 100.0)
        );
    }
    if !all.errors.is_empty() {
        let mut seen: Vec<&String> = all.errors.iter().collect();
        seen.sort();
        seen.dedup();
        for e in seen.iter().take(5) {
            println!("error: {e}");
        }
        std::process::exit(1);
    }
}
