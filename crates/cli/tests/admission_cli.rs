//! `stockade admission` as a process: certs, serve, JSON logs, SIGTERM, bad input.

use std::io::Read;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_stockade")
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stockade-cli-{tag}-{}", std::process::id()));
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

#[test]
fn certs_then_serve_then_sigterm() {
    let dir = tempdir("serve");
    let tls = dir.join("tls");
    let out = Command::new(bin())
        .args(["admission", "certs", "--out"])
        .arg(&tls)
        .args(["--dns", "stockade-admission.stockade-system.svc"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["ca.crt", "tls.crt", "tls.key"] {
        assert!(tls.join(f).is_file(), "{f}");
    }

    let port = free_port();
    let mut child = Command::new(bin())
        .args(["admission", "serve", "--tls-dir"])
        .arg(&tls)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "server did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let t = Instant::now();
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code.code(), Some(0));
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(messages.contains(&"serving"), "{messages:?}");
    assert!(messages.contains(&"SIGTERM received"), "{messages:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_names_the_file_and_exits_2() {
    let dir = tempdir("bad");
    let cfg = dir.join("admission.toml");
    std::fs::write(&cfg, "[exemptions]\nuser = [\"x\"]\n").unwrap();
    let out = Command::new(bin())
        .args(["admission", "serve", "--tls-dir"])
        .arg(&dir)
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("admission.toml"), "{err}");
    assert!(err.contains("user"), "{err}");

    // No certificate in the directory: exit 1, naming tls.crt.
    let out = Command::new(bin())
        .args(["admission", "serve", "--listen", "127.0.0.1:0", "--tls-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls.crt"));
    let _ = std::fs::remove_dir_all(&dir);
}
