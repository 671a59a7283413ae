//! Prometheus `/metrics` on a loopback address.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Metrics {
    pub events_by_rule: Mutex<BTreeMap<(String, String), u64>>,
    pub kernel_events: AtomicU64,
    pub drops: AtomicU64,
    pub container_syscalls: AtomicU64,
    /// Program runs the kernel skipped (recursion protection), summed over programs.
    pub missed_runs: AtomicU64,
    /// Lean-tier events merged into the thread's previous identical one.
    pub merged: AtomicU64,
    /// Failed map operations on an event's path in the kernel.
    pub map_errors: AtomicU64,
    /// Open paths the kernel could not read from user memory.
    pub unread_paths: AtomicU64,
    /// Ring-buffer records user space could not decode (too short).
    pub undecodable: AtomicU64,
    /// Reported events that never reached the output (write or flush failed).
    pub output_lost: AtomicU64,
    pub kills: AtomicU64,
    pub ringbuf_pending_bytes: AtomicU64,
    pub ringbuf_size_bytes: AtomicU64,
    pub host_events_suppressed: AtomicU64,
    pub containers_enforced: AtomicU64,
}

impl Metrics {
    pub fn count(&self, rule: &str, verdict: &str) {
        if let Ok(mut m) = self.events_by_rule.lock() {
            *m.entry((rule.to_string(), verdict.to_string()))
                .or_default() += 1;
        }
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str(
            "# HELP stockade_watch_events_total Behaviour events reported, by rule and verdict.\n",
        );
        s.push_str("# TYPE stockade_watch_events_total counter\n");
        if let Ok(m) = self.events_by_rule.lock() {
            for ((rule, verdict), n) in m.iter() {
                s.push_str(&format!(
                    "stockade_watch_events_total{{rule=\"{rule}\",verdict=\"{verdict}\"}} {n}\n"
                ));
            }
        }
        let g = |s: &mut String, name: &str, kind: &str, help: &str, v: &AtomicU64| {
            s.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}\n",
                v.load(Ordering::Relaxed)
            ));
        };
        g(
            &mut s,
            "stockade_watch_ringbuf_drops_total",
            "counter",
            "Events lost because a ring buffer was full (sensor and denial records).",
            &self.drops,
        );
        g(
            &mut s,
            "stockade_watch_output_lost_total",
            "counter",
            "Reported events that never reached the output because writing it failed (watch then exits non-zero).",
            &self.output_lost,
        );
        g(
            &mut s,
            "stockade_watch_missed_runs_total",
            "counter",
            "Program runs the kernel skipped because the program was already running on that CPU (recursion_misses): calls not examined.",
            &self.missed_runs,
        );
        g(
            &mut s,
            "stockade_watch_merged_events_total",
            "counter",
            "Lean tier: events equal to the thread's previous one within 1 ms, taken for the same call and not reported again.",
            &self.merged,
        );
        g(
            &mut s,
            "stockade_watch_map_errors_total",
            "counter",
            "Failed BPF map operations while handling a call.",
            &self.map_errors,
        );
        g(
            &mut s,
            "stockade_watch_unread_paths_total",
            "counter",
            "Open paths that could not be read from user memory (calls not classified).",
            &self.unread_paths,
        );
        g(
            &mut s,
            "stockade_watch_undecodable_records_total",
            "counter",
            "Ring-buffer records too short to decode.",
            &self.undecodable,
        );
        g(
            &mut s,
            "stockade_watch_kernel_events_total",
            "counter",
            "Records the kernel programs submitted.",
            &self.kernel_events,
        );
        g(
            &mut s,
            "stockade_watch_container_syscalls_total",
            "counter",
            "Traced syscalls made by container tasks (after the in-kernel filter).",
            &self.container_syscalls,
        );
        g(
            &mut s,
            "stockade_watch_kills_total",
            "counter",
            "Tasks killed by the reactive tier.",
            &self.kills,
        );
        g(
            &mut s,
            "stockade_watch_ringbuf_pending_bytes",
            "gauge",
            "Bytes waiting in the ring buffer at the last sample.",
            &self.ringbuf_pending_bytes,
        );
        g(
            &mut s,
            "stockade_watch_ringbuf_size_bytes",
            "gauge",
            "Ring buffer size.",
            &self.ringbuf_size_bytes,
        );
        g(
            &mut s,
            "stockade_watch_host_events_suppressed_total",
            "counter",
            "Events from host tasks in private namespaces, dropped by attribution.",
            &self.host_events_suppressed,
        );
        g(
            &mut s,
            "stockade_watch_containers_enforced",
            "gauge",
            "Containers with enforcement programs attached.",
            &self.containers_enforced,
        );
        s
    }
}

/// Serves `/metrics` on `addr` (must be loopback) in a background thread.
pub fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("--metrics {addr}: only loopback addresses are allowed"),
        ));
    }
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let (status, body) = if req.starts_with("GET /metrics") {
                ("200 OK", metrics.render())
            } else {
                ("404 Not Found", "not found; try /metrics\n".to_string())
            };
            let _ = write!(
                s,
                "HTTP/1.0 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(bound)
}
