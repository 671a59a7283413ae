//! Output: JSON lines (schema `stockade.watch/v1`, see docs/watch.md) or pretty text for a TTY.

use crate::attrib::Container;
use crate::proctree::Proc;
use policy::catalogue::Severity;
use serde::Serialize;
use serde_json::Value;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

/// Where records go: JSON lines or text, through a [`Guard`].
///
/// An output error is fatal to `watch` (run.rs stops and exits non-zero):
/// a sensor that keeps running while its events go nowhere is worse than one
/// that stops where a supervisor sees it. The sink counts what it lost: the
/// records not yet confirmed by a flush when a write or flush fails, and
/// every record offered after that.
pub struct Sink {
    kind: Kind,
    w: Box<dyn Write + Send>,
    /// Records written into the buffer since the last successful flush.
    unflushed: u64,
    /// Records lost to output errors.
    lost: u64,
    /// The first output error.
    error: Option<std::io::Error>,
    /// Records offered to the sink, and (JSON lines through a [`Guard`])
    /// the whole lines that reached the output: with both, the loss is
    /// exact.
    offered: u64,
    kept: Option<Arc<AtomicU64>>,
}

#[derive(Clone, Copy)]
enum Kind {
    Json,
    Text,
}

impl Sink {
    pub fn json(w: Box<dyn Write + Send>) -> Sink {
        Sink::new(Kind::Json, w)
    }

    /// JSON lines whose whole lines written are counted in `kept` (by the
    /// [`Guard`] under `w`).
    pub fn json_counted(w: Box<dyn Write + Send>, kept: Arc<AtomicU64>) -> Sink {
        let mut s = Sink::new(Kind::Json, w);
        s.kept = Some(kept);
        s
    }

    pub fn text(w: Box<dyn Write + Send>) -> Sink {
        Sink::new(Kind::Text, w)
    }

    fn new(kind: Kind, w: Box<dyn Write + Send>) -> Sink {
        Sink {
            kind,
            w,
            unflushed: 0,
            lost: 0,
            error: None,
            offered: 0,
            kept: None,
        }
    }

    /// Records lost to output errors so far: exact for counted JSON lines
    /// (offered minus whole lines written); otherwise the records not yet
    /// confirmed by a flush when the output failed, and all after it.
    pub fn lost(&self) -> u64 {
        match (&self.kept, &self.error) {
            (Some(k), Some(_)) => self.offered.saturating_sub(k.load(Ordering::Relaxed)),
            _ => self.lost,
        }
    }

    /// The first output error, once there was one.
    pub fn error(&self) -> Option<&std::io::Error> {
        self.error.as_ref()
    }

    fn fail(&mut self, e: std::io::Error, this_record: bool) -> std::io::Error {
        self.lost += self.unflushed + u64::from(this_record);
        self.unflushed = 0;
        let msg = std::io::Error::new(e.kind(), e.to_string());
        if self.error.is_none() {
            self.error = Some(e);
        }
        msg
    }

    pub fn write(&mut self, r: &Record) -> std::io::Result<()> {
        self.offered += 1;
        if self.error.is_some() {
            self.lost += 1;
            return Err(std::io::Error::other("output failed earlier"));
        }
        let res = match self.kind {
            Kind::Json => {
                // Serialise into memory first: serde_json issues many small writes, and through
                // the boxed writer each is a dynamic call into the BufWriter (a flood profile
                // showed them as the largest cost per event).
                let mut line = Vec::with_capacity(1024);
                serde_json::to_writer(&mut line, r)?;
                line.push(b'\n');
                self.w.write_all(&line)
            }
            Kind::Text => write_text(&mut self.w, r),
        };
        match res {
            Ok(()) => {
                self.unflushed += 1;
                if matches!(self.kind, Kind::Text) {
                    self.unflushed = 0; // write_text flushed
                }
                Ok(())
            }
            Err(e) => Err(self.fail(e, true)),
        }
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        if let Some(e) = &self.error {
            return Err(std::io::Error::new(e.kind(), e.to_string()));
        }
        match self.w.flush() {
            Ok(()) => {
                self.unflushed = 0;
                Ok(())
            }
            Err(e) => Err(self.fail(e, false)),
        }
    }
}

fn write_text(w: &mut Box<dyn Write + Send>, r: &Record) -> std::io::Result<()> {
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

/// The output file (or stdout) under the sink's buffer. After the first
/// failed write it writes nothing more (the buffer's own flush at exit
/// included), and a regular file is cut back to the end of its last whole
/// line, so a reader never meets half a record.
pub struct Guard<W: Write> {
    w: W,
    /// For cutting back a regular file: its handle and where the last
    /// whole line ends.
    file: Option<std::fs::File>,
    pos: u64,
    line_end: u64,
    failed: bool,
    /// Whole lines written (and kept).
    lines: Arc<AtomicU64>,
}

impl<W: Write> Guard<W> {
    /// `file`: the same open file as `w`, when `w` is a regular file
    /// opened for appending (its current length is where writing starts).
    pub fn new(w: W, file: Option<std::fs::File>, lines: Arc<AtomicU64>) -> Guard<W> {
        let start = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len());
        Guard {
            w,
            file: start.and(file),
            pos: start.unwrap_or(0),
            line_end: start.unwrap_or(0),
            failed: false,
            lines,
        }
    }

    fn failed(&mut self, e: std::io::Error) -> std::io::Error {
        self.failed = true;
        if let Some(f) = &self.file {
            let _ = f.set_len(self.line_end);
        }
        e
    }
}

impl<W: Write> Write for Guard<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.failed {
            return Err(std::io::Error::other("output failed earlier"));
        }
        match self.w.write(buf) {
            Ok(0) if !buf.is_empty() => {
                Err(self.failed(std::io::Error::from(std::io::ErrorKind::WriteZero)))
            }
            Ok(n) => {
                let nl = buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
                self.lines.fetch_add(nl, Ordering::Relaxed);
                if let Some(i) = buf[..n].iter().rposition(|b| *b == b'\n') {
                    self.line_end = self.pos + i as u64 + 1;
                }
                self.pos += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Err(e),
            Err(e) => Err(self.failed(e)),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.failed {
            return Err(std::io::Error::other("output failed earlier"));
        }
        self.w.flush().map_err(|e| self.failed(e))
    }
}

/// RFC 3339 UTC time with microseconds from nanoseconds since the epoch.
pub fn rfc3339(ns: i128) -> String {
    let secs = ns.div_euclid(1_000_000_000) as i64;
    let nanos = ns.rem_euclid(1_000_000_000) as u32;
    policy::civil::rfc3339(secs, nanos, 6)
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

#[cfg(test)]
mod guard_tests {
    use super::*;

    /// A regular file that refuses to grow past `cap` bytes, like a full disk.
    struct Capped(std::fs::File, u64);
    impl Write for Capped {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let len = self.0.metadata()?.len();
            let room = self.1.saturating_sub(len) as usize;
            if room == 0 {
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
            }
            self.0.write(&buf[..buf.len().min(room)])
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_output_is_cut_to_whole_lines_and_counted() {
        let p = std::env::temp_dir().join(format!("stockade-guard-{}", std::process::id()));
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&p)
            .unwrap();
        let lines = Arc::new(AtomicU64::new(0));
        let g = Guard::new(Capped(f.try_clone().unwrap(), 100), Some(f), lines.clone());
        let mut w = std::io::BufWriter::with_capacity(16, g);
        let mut ok = 0;
        let mut err = None;
        for i in 0..20 {
            match w.write_all(format!("{{\"n\":\"{i:03}\",\"pad\":\"xxxxxxxx\"}}\n").as_bytes()) {
                Ok(()) => ok += 1,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        assert!(err.is_some(), "{ok} lines written, no error");
        drop(w);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        assert!(text.ends_with('\n'), "{text:?}");
        assert_eq!(text.lines().count() as u64, lines.load(Ordering::Relaxed));
        for l in text.lines() {
            serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
        }
    }
}
