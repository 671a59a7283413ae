//! A full disk under `--output` (a small tmpfs): `watch` stops with a
//! non-zero exit, says how many events it could not write, and leaves only
//! whole JSON lines behind (issue 17 item 3).

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A tmpfs of `size` mounted on a scratch directory, unmounted on drop.
struct SmallFs(std::path::PathBuf);

impl SmallFs {
    fn new(tag: &str, size: &str) -> SmallFs {
        let d = scratch().join(uniq(tag));
        std::fs::create_dir_all(&d).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&d)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount tmpfs on {}", d.display());
        SmallFs(d)
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn full_output_disk_is_fatal_and_counted() {
    if skip_reason(false).is_some() {
        return;
    }
    let fs = SmallFs::new("full", "8k");
    let out = fs.0.join("events.jsonl");
    let err = scratch().join(uniq("full.err"));
    let mut child = Command::new(WATCH)
        .arg("--runc-root")
        .arg(Runtime::Runc.root())
        .arg("--stockade-root")
        .arg(Runtime::Stockade.root())
        .arg("-o")
        .arg(&out)
        .args(["--format", "json", "--duration", "120"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(&err).unwrap_or_default();
    let t = Instant::now();
    while !log().contains("stockade watch: running") {
        assert!(t.elapsed() < Duration::from_secs(30), "{}", log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let c = Runc::start("full", Shape::Privileged, None);
    // Each event is a JSON line of about 1 KB: the 8 KiB disk fills after a few.
    let mut status = None;
    for _ in 0..60 {
        Ctr::Runc(&c).exec(None, &["skd-trigger", "userfaultfd"], None);
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(60));
    }
    let status = match status {
        Some(s) => s,
        None => {
            let t = Instant::now();
            loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break s;
                }
                if t.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                    panic!("watch still running with a full output disk:\n{}", log());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    let log = log();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("error: writing events"), "{log}");
    let lost: u64 = log
        .rsplit("output_lost=")
        .next()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no output_lost count: {log}"));
    assert!(lost > 0, "{log}");
    assert!(
        log.contains(&format!("{lost} events were not written")),
        "{log}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "cut line: {text:?}"
    );
    let lines = text.lines().count();
    for l in text.lines() {
        serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
    }
    let reported: u64 = log
        .rsplit("reported=")
        .next()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert_eq!(lines as u64 + lost, reported, "{log}");
    println!("full output disk: {lines} whole lines written, {lost} events counted lost, exit 1");
}
