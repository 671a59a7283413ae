//! Prometheus metrics in the text exposition format (version 0.0.4), written by hand: a few
//! counters, a gauge and one histogram do not need a metrics crate.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
pub const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// Every metric the webhook exports.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (endpoint, kind, decision) → count.
    requests: Mutex<BTreeMap<(String, String, String), u64>>,
    /// (rule, action) → count; action `deny`, `warn` or `audit`.
    rules: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// endpoint → latency histogram.
    latency: Mutex<BTreeMap<String, Histogram>>,
    pub connections_open: AtomicI64,
    pub connections_rejected: AtomicU64,
    pub tls_handshake_failures: AtomicU64,
    pub certificate_reloads: AtomicU64,
    pub certificate_reload_errors: AtomicU64,
    pub bad_requests: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Escape a label value: backslash, double quote and newline.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    pub fn record_request(&self, endpoint: &str, kind: &str, decision: &str, took: Duration) {
        *lock(&self.requests)
            .entry((endpoint.into(), kind.into(), decision.into()))
            .or_default() += 1;
        let secs = took.as_secs_f64();
        let mut lat = lock(&self.latency);
        let h = lat.entry(endpoint.into()).or_default();
        if h.counts.is_empty() {
            h.counts = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    pub fn record_rule(&self, rule: &str, action: &'static str) {
        *lock(&self.rules).entry((rule.into(), action)).or_default() += 1;
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "# HELP stockade_admission_requests_total AdmissionReview requests answered, by endpoint, object kind and decision.");
        let _ = writeln!(o, "# TYPE stockade_admission_requests_total counter");
        for ((e, k, d), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                o,
                "stockade_admission_requests_total{{endpoint=\"{}\",kind=\"{}\",decision=\"{}\"}} {n}",
                esc(e),
                esc(k),
                esc(d)
            );
        }
        let _ = writeln!(o, "# HELP stockade_admission_rule_decisions_total Violations found, by rule and what was done (deny, warn, audit).");
        let _ = writeln!(o, "# TYPE stockade_admission_rule_decisions_total counter");
        for ((r, a), n) in lock(&self.rules).iter() {
            let _ = writeln!(
                o,
                "stockade_admission_rule_decisions_total{{rule=\"{}\",action=\"{a}\"}} {n}",
                esc(r)
            );
        }
        let _ = writeln!(o, "# HELP stockade_admission_request_duration_seconds Time from a full request body to the response, by endpoint.");
        let _ = writeln!(
            o,
            "# TYPE stockade_admission_request_duration_seconds histogram"
        );
        for (e, h) in lock(&self.latency).iter() {
            let e = esc(e);
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "stockade_admission_request_duration_seconds_bucket{{endpoint=\"{e}\",le=\"{b}\"}} {}",
                    h.counts.get(i).copied().unwrap_or(0)
                );
            }
            let _ = writeln!(
                o,
                "stockade_admission_request_duration_seconds_bucket{{endpoint=\"{e}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                o,
                "stockade_admission_request_duration_seconds_sum{{endpoint=\"{e}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                o,
                "stockade_admission_request_duration_seconds_count{{endpoint=\"{e}\"}} {}",
                h.count
            );
        }
        let gauges: [(&str, &str, &str, i64); 6] = [
            (
                "stockade_admission_connections_open",
                "gauge",
                "TLS connections being served.",
                self.connections_open.load(Ordering::Relaxed),
            ),
            (
                "stockade_admission_connections_rejected_total",
                "counter",
                "Connections closed at once because the connection limit was reached.",
                self.connections_rejected.load(Ordering::Relaxed) as i64,
            ),
            (
                "stockade_admission_tls_handshake_failures_total",
                "counter",
                "TLS handshakes that failed or timed out.",
                self.tls_handshake_failures.load(Ordering::Relaxed) as i64,
            ),
            (
                "stockade_admission_certificate_reloads_total",
                "counter",
                "Serving certificates reloaded from disk.",
                self.certificate_reloads.load(Ordering::Relaxed) as i64,
            ),
            (
                "stockade_admission_certificate_reload_errors_total",
                "counter",
                "Reloads that failed (the previous certificate stays in use).",
                self.certificate_reload_errors.load(Ordering::Relaxed) as i64,
            ),
            (
                "stockade_admission_bad_requests_total",
                "counter",
                "Requests refused before evaluation: malformed, too large, too slow, wrong method or type.",
                self.bad_requests.load(Ordering::Relaxed) as i64,
            ),
        ];
        for (name, ty, help, v) in gauges {
            let _ = writeln!(o, "# HELP {name} {help}");
            let _ = writeln!(o, "# TYPE {name} {ty}");
            let _ = writeln!(o, "{name} {v}");
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        m.record_request("validate", "Pod", "denied", Duration::from_micros(300));
        m.record_request("validate", "Pod", "allowed", Duration::from_millis(2));
        m.record_rule("SKD-PSS-002", "deny");
        let t = m.render();
        assert!(t.contains(
            "stockade_admission_requests_total{endpoint=\"validate\",kind=\"Pod\",decision=\"denied\"} 1"
        ));
        assert!(t.contains(
            "stockade_admission_rule_decisions_total{rule=\"SKD-PSS-002\",action=\"deny\"} 1"
        ));
        assert!(t.contains(
            "stockade_admission_request_duration_seconds_bucket{endpoint=\"validate\",le=\"0.0005\"} 1"
        ));
        assert!(t.contains(
            "stockade_admission_request_duration_seconds_bucket{endpoint=\"validate\",le=\"+Inf\"} 2"
        ));
        assert!(t.contains(
            "stockade_admission_request_duration_seconds_count{endpoint=\"validate\"} 2"
        ));
        assert_eq!(esc("a\"b\\"), "a\\\"b\\\\");
    }
}
