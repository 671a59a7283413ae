//! Output: JSON lines (schema `stockade.watch/v1`, see docs/watch.md) or pretty text for a TTY.

use crate::attrib::Container;
use crate::proctree::Proc;
use policy::catalogue::Severity;
use serde::Serialize;
use serde_json::Value;
use std::io::Write;

pub const SCHEMA: &str = "stockade.watch/v1";

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Reported only (detect mode, or no enforcement covers the behaviour).
    Alerted,
    /// The process was killed after the fact (`bpf_send_signal`), the reactive tier.
    Killed,
    /// The kernel refused the action (cgroup BPF or BPF-LSM returned -EPERM).
    Denied,
}

#[derive(Debug, Serialize)]
pub struct ProcessOut {
    pub pid: u32,
    pub tid: u32,
    /// The pid inside the container's pid namespace.
    pub vpid: u32,
    pub comm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    pub uid: u32,
    pub euid: u32,
    pub cap_eff: String,
    /// Parents, nearest first.
    pub parents: Vec<Proc>,
}

#[derive(Debug, Serialize)]
pub struct Namespaces {
    pub mnt: u32,
    pub pid: u32,
    pub cgroup2_id: u64,
}

#[derive(Debug, Serialize)]
pub struct Record {
    pub schema: &'static str,
    pub time: String,
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    pub behaviour: String,
    pub container: Container,
    pub process: ProcessOut,
    pub args: Value,
    pub verdict: Verdict,
    pub namespaces: Namespaces,
}

pub enum Sink {
    Json(Box<dyn Write + Send>),
    Text(Box<dyn Write + Send>),
}

impl Sink {
    pub fn write(&mut self, r: &Record) -> std::io::Result<()> {
        match self {
            Sink::Json(w) => {
                // Serialise into memory first: serde_json issues many small writes, and through
                // the boxed writer each is a dynamic call into the BufWriter (a flood profile
                // showed them as the largest cost per event).
                let mut line = Vec::with_capacity(1024);
                serde_json::to_writer(&mut line, r)?;
                line.push(b'\n');
                w.write_all(&line)
            }
            Sink::Text(w) => {
                let sev = match r.severity {
                    Severity::Critical => "\x1b[1;31mCRITICAL\x1b[0m",
                    Severity::High => "\x1b[31mHIGH\x1b[0m",
                    Severity::Medium => "\x1b[33mMEDIUM\x1b[0m",
                    Severity::Low => "\x1b[36mLOW\x1b[0m",
                    Severity::Info => "INFO",
                };
                let short: String = r.container.id.chars().take(12).collect();
                writeln!(
                    w,
                    "{} {sev} {} {} [{} {short}{}] {}({}) {}",
                    r.time,
                    r.rule,
                    r.title,
                    r.container.runtime,
                    r.container
                        .pod
                        .as_ref()
                        .map(|p| format!(" pod {p}"))
                        .unwrap_or_default(),
                    r.process.comm,
                    r.process.pid,
                    match r.verdict {
                        Verdict::Alerted => "",
                        Verdict::Killed => "\x1b[1mKILLED\x1b[0m",
                        Verdict::Denied => "\x1b[1mDENIED\x1b[0m",
                    }
                )?;
                let chain: Vec<String> = r
                    .process
                    .parents
                    .iter()
                    .map(|p| format!("{}({})", p.comm, p.pid))
                    .collect();
                writeln!(w, "    args {}  parents {}", r.args, chain.join(" < "))?;
                w.flush()
            }
        }
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Json(w) | Sink::Text(w) => w.flush(),
        }
    }
}

/// RFC 3339 UTC time with microseconds from nanoseconds since the epoch.
pub fn rfc3339(ns: i128) -> String {
    let secs = ns.div_euclid(1_000_000_000) as i64;
    let micros = (ns.rem_euclid(1_000_000_000) / 1000) as u32;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil-from-days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            super::rfc3339(1_795_786_462_123_456_000),
            "2026-11-27T13:34:22.123456Z"
        );
    }
}
