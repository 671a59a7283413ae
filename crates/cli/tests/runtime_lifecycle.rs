//! Lifecycle: create/start/state/kill/delete/run/list/exec/pause/ps, pid
//! files, console sockets and fd passing.

mod runtime_support;
use runtime_support::*;
use serde_json::json;
use std::time::{Duration, Instant};

fn wait_status(env: &Env, id: &str, want: &str) {
    let t = Instant::now();
    loop {
        let s = env.state(id);
        if s["status"] == want {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{id}: status {} never became {want}",
            s["status"]
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn create_start_state_kill_delete() {
    if !need_root() {
        return;
    }
    let env = Env::new("life");
    let b = env.bundle("b", &["sleep", "1000"], |_| {});
    let id = env.id("c1");
    let pidfile = env.dir.join("pid");
    let out = env.stockade(&[
        "create",
        "--bundle",
        b.to_str().unwrap(),
        "--pid-file",
        pidfile.to_str().unwrap(),
        &id,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st = env.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["bundle"], b.canonicalize().unwrap().to_str().unwrap());
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    assert_eq!(st["pid"], json!(pid.parse::<i64>().unwrap()));
    // A second create with the same id fails.
    let out = env.stockade(&["create", "--bundle", b.to_str().unwrap(), &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    // The init is blocked: its command line is still ours, not sleep.
    let out = env.stockade(&["start", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.state(&id)["status"], "running");
    let out = env.stockade(&["start", &id]);
    assert!(!out.status.success(), "start twice must fail");
    // Running containers are not deleted without --force.
    let out = env.stockade(&["delete", &id]);
    assert!(!out.status.success());
    let list = env.stockade(&["list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["status"], "running");
    let out = env.stockade(&["kill", &id, "KILL"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_status(&env, &id, "stopped");
    let out = env.stockade(&["kill", &id, "9"]);
    assert!(!out.status.success(), "killing a stopped container fails");
    let out = env.stockade(&["delete", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.stockade(&["state", &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    assert!(!env.stockade(&["delete", &id]).status.success());
    assert!(
        env.stockade(&["delete", "--force", &id]).status.success(),
        "--force on a missing container succeeds"
    );
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

#[test]
fn run_propagates_exit_code_and_output() {
    if !need_root() {
        return;
    }
    let env = Env::new("exit");
    let b = env.bundle(
        "b",
        &["sh", "-c", "echo out; echo err >&2; exit 42"],
        |_| {},
    );
    let (code, out, err) = env.run(&env.id("x"), &b);
    assert_eq!(code, 42, "stderr: {err}");
    assert_eq!(out, "out\n");
    assert!(err.contains("err"));
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

#[test]
fn delete_force_created_and_running() {
    if !need_root() {
        return;
    }
    let env = Env::new("force");
    let b = env.bundle("b", &["sleep", "1000"], |_| {});
    let a = env.id("a");
    let c = env.id("c");
    assert!(env
        .stockade(&["create", "-b", b.to_str().unwrap(), &a])
        .status
        .success());
    assert!(env
        .stockade(&["run", "-d", "-b", b.to_str().unwrap(), &c])
        .status
        .success());
    assert_eq!(env.state(&c)["status"], "running");
    // A created container can be deleted (like runc), a running one needs --force.
    assert!(env.stockade(&["delete", &a]).status.success());
    assert!(!env.stockade(&["delete", &c]).status.success());
    assert!(env.stockade(&["delete", "--force", &c]).status.success());
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

#[test]
fn exec_pause_resume_ps_events() {
    if !need_root() {
        return;
    }
    let env = Env::new("exec");
    let b = env.bundle("b", &["sleep", "1000"], |_| {});
    let id = env.id("e");
    let out = env.stockade(&["run", "-d", "-b", b.to_str().unwrap(), &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.stockade(&["exec", &id, "sh", "-c", "echo hi; id -u; exit 3"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n0\n");
    let out = env.stockade(&[
        "exec",
        "--user",
        "1000:1000",
        "--env",
        "FOO=bar",
        "--cwd",
        "/tmp",
        &id,
        "sh",
        "-c",
        "id -u; id -g; echo $FOO; pwd",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1000\n1000\nbar\n/tmp\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // exec --process with a JSON file, detached, with a pid file.
    let p = json!({"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", "echo fromjson > /dev/shm/j"], "cwd": "/", "env": ["PATH=/bin"]});
    let pj = env.dir.join("p.json");
    std::fs::write(&pj, p.to_string()).unwrap();
    let pf = env.dir.join("exec.pid");
    let out = env.stockade(&[
        "exec",
        "--process",
        pj.to_str().unwrap(),
        "--detach",
        "--pid-file",
        pf.to_str().unwrap(),
        &id,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(&pf)
            .unwrap()
            .parse::<i32>()
            .unwrap()
            > 0
    );
    std::thread::sleep(Duration::from_millis(200));
    let out = env.stockade(&["exec", &id, "cat", "/dev/shm/j"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "fromjson\n");
    // A missing binary is a clear error.
    let out = env.stockade(&["exec", &id, "nosuchcmd"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuchcmd"));
    // ps
    let out = env.stockade(&["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pids, vec![env.state(&id)["pid"].as_i64().unwrap()]);
    // pause / resume
    assert!(env.stockade(&["pause", &id]).status.success());
    assert_eq!(env.state(&id)["status"], "paused");
    assert!(!env.stockade(&["pause", &id]).status.success());
    assert!(env.stockade(&["resume", &id]).status.success());
    assert_eq!(env.state(&id)["status"], "running");
    // events --stats
    let out = env.stockade(&["events", "--stats", &id]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["type"], "stats");
    assert!(v["data"]["pids"]["current"].as_u64().unwrap() >= 1);
    // kill --all
    assert!(env
        .stockade(&["kill", "--all", &id, "KILL"])
        .status
        .success());
    wait_status(&env, &id, "stopped");
    assert!(env.stockade(&["delete", &id]).status.success());
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

#[test]
fn console_socket_receives_pty_master() {
    if !need_root() {
        return;
    }
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let env = Env::new("tty");
    let b = env.bundle("b", &["sh", "-c", "tty; echo ok"], |c| {
        c["process"]["terminal"] = json!(true);
    });
    let sock = env.dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let id = env.id("t");
    let out = env.stockade(&[
        "create",
        "-b",
        b.to_str().unwrap(),
        "--console-socket",
        sock.to_str().unwrap(),
        &id,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (conn, _) = listener.accept().unwrap();
    let (name, fd) = runtime::init::recv_fd(conn.as_raw_fd()).unwrap();
    assert!(String::from_utf8_lossy(&name).starts_with("/dev/pts/"));
    let mut master = std::fs::File::from(fd.expect("a pty master fd"));
    assert!(env.stockade(&["start", &id]).status.success());
    let mut buf = Vec::new();
    let t = Instant::now();
    let mut chunk = [0u8; 256];
    while t.elapsed() < Duration::from_secs(5) {
        match master.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if String::from_utf8_lossy(&buf).contains("ok") {
            break;
        }
    }
    let s = String::from_utf8_lossy(&buf);
    assert!(s.contains("/dev/pts/0"), "tty output: {s:?}");
    assert!(s.contains("ok"));
    drop(master);
    assert!(env.stockade(&["delete", "--force", &id]).status.success());
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

#[test]
fn listen_fds_and_preserve_fds() {
    if !need_root() {
        return;
    }
    use std::os::unix::process::CommandExt;
    let env = Env::new("fds");
    let b = env.bundle(
        "b",
        &[
            "sh",
            "-c",
            "echo $LISTEN_FDS $LISTEN_PID; cat <&3; cat <&4; ls /proc/self/fd | wc -l",
        ],
        |_| {},
    );
    let f3 = env.dir.join("three");
    let f4 = env.dir.join("four");
    std::fs::write(&f3, "three\n").unwrap();
    std::fs::write(&f4, "four\n").unwrap();
    let a = std::fs::File::open(&f3).unwrap();
    let bb = std::fs::File::open(&f4).unwrap();
    // Move the files to high fds so the dup2 onto 3 and 4 cannot clobber
    // one of them (or a descriptor the test harness uses).
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) on fds we own.
    let (ra, rb) = unsafe {
        (
            libc::fcntl(
                std::os::fd::AsRawFd::as_raw_fd(&a),
                libc::F_DUPFD_CLOEXEC,
                200,
            ),
            libc::fcntl(
                std::os::fd::AsRawFd::as_raw_fd(&bb),
                libc::F_DUPFD_CLOEXEC,
                201,
            ),
        )
    };
    assert!(ra >= 200 && rb >= 200);
    let mut cmd = env.cmd();
    cmd.args([
        "run",
        "--preserve-fds",
        "1",
        "-b",
        b.to_str().unwrap(),
        &env.id("f"),
    ]);
    cmd.env("LISTEN_FDS", "1");
    cmd.env_remove("LISTEN_PID");
    // SAFETY: only async-signal-safe dup2 calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(ra, 3) < 0 || libc::dup2(rb, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = env.output(cmd);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // stdio + fd 3 + fd 4 + the fd ls opens for /proc/self/fd = 6 lines.
    assert_eq!(s, "1 1\nthree\nfour\n6\n");
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

#[test]
fn spec_and_features() {
    let env = Env::new("spec");
    let out = std::process::Command::new(BIN)
        .args(["features"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ociVersionMin"], "1.0.0");
    assert!(v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!("user")));
    let out = std::process::Command::new(BIN)
        .args(["spec", "--bundle"])
        .arg(&env.dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = std::process::Command::new(BIN)
        .args(["spec", "--bundle"])
        .arg(&env.dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "spec refuses to overwrite");
    // the systemd cgroup driver's flag is accepted as runc's is; `list` touches no cgroup,
    // so it works with and without systemd (the driver's own flows are in runtime_systemd.rs)
    let out = std::process::Command::new(BIN)
        .args(["--systemd-cgroup", "list"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn json_log_for_shims() {
    let env = Env::new("log");
    let log = env.dir.join("log.json");
    let mut c = env.cmd();
    c.args(["--log"])
        .arg(&log)
        .args(["--log-format", "json", "state", "nonexistent"]);
    let out = env.output(c);
    assert_eq!(out.status.code(), Some(1));
    let line = std::fs::read_to_string(&log).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(v["level"], "error");
    assert!(v["msg"].as_str().unwrap().contains("does not exist"));
    assert!(v["time"].as_str().is_some());
}

#[test]
fn exec_with_tty_and_caps() {
    if !need_root() {
        return;
    }
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let env = Env::new("exectty");
    let b = env.bundle("b", &["sleep", "1000"], |_| {});
    let id = env.id("t");
    assert!(env
        .stockade(&["run", "-d", "-b", b.to_str().unwrap(), &id])
        .status
        .success());
    let sock = env.dir.join("c.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let h = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let (_, fd) = runtime::init::recv_fd(conn.as_raw_fd()).unwrap();
        let mut master = std::fs::File::from(fd.unwrap());
        let mut s = Vec::new();
        let mut chunk = [0u8; 256];
        while let Ok(n) = master.read(&mut chunk) {
            if n == 0 {
                break;
            }
            s.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&s).into_owned()
    });
    let out = env.stockade(&[
        "exec",
        "--tty",
        "--console-socket",
        sock.to_str().unwrap(),
        "--cap",
        "CAP_SYS_ADMIN",
        &id,
        "sh",
        "-c",
        "tty; grep CapEff /proc/self/status",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = h.join().unwrap();
    assert!(text.contains("/dev/pts/"), "{text:?}");
    // The default caps plus CAP_SYS_ADMIN (bit 21).
    let eff = text.lines().find(|l| l.starts_with("CapEff")).unwrap();
    let v = u64::from_str_radix(eff.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert!(v & (1 << 21) != 0, "{eff}");
    assert!(env.stockade(&["delete", "-f", &id]).status.success());
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

#[test]
fn shared_pid_namespace_delete_kills_every_process() {
    if !need_root() {
        return;
    }
    let env = Env::new("hostpid");
    let b = env.bundle(
        "b",
        &["sh", "-c", "sleep 1001 & sleep 1002 & exec sleep 1003"],
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "pid");
        },
    );
    let id = env.id("h");
    assert!(env
        .stockade(&["run", "-d", "-b", b.to_str().unwrap(), &id])
        .status
        .success());
    let t = Instant::now();
    while env
        .stockade(&["ps", "--format", "json", &id])
        .stdout
        .iter()
        .filter(|c| **c == b',')
        .count()
        < 2
    {
        assert!(t.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(20));
    }
    // Killing pid 1 of the container does not take the others with it
    // without a pid namespace; delete --force must kill the whole cgroup.
    assert!(env.stockade(&["delete", "--force", &id]).status.success());
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("cmdline")).ok())
        .filter(|c| {
            [
                "sleep\x001001\x00",
                "sleep\x001002\x00",
                "sleep\x001003\x00",
            ]
            .contains(&c.as_str())
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

#[test]
fn exec_into_a_user_namespace() {
    if !need_root() {
        return;
    }
    let env = Env::new("execuserns");
    let b = env.bundle("b", &["sleep", "1000"], |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    });
    let id = env.id("u");
    let out = env.stockade(&["run", "-d", "-b", b.to_str().unwrap(), &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.stockade(&[
        "exec",
        "--user",
        "1000:1000",
        &id,
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map",
    ]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = s
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, ["1000", "0 200000 65536"]);
    // On the host, the process runs as 201000.
    assert!(env.stockade(&["delete", "-f", &id]).status.success());
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

#[test]
fn foreground_run_proxies_a_terminal() {
    if !need_root() {
        return;
    }
    let env = Env::new("runtty");
    let b = env.bundle("b", &["sh", "-c", "tty; echo done"], |c| {
        c["process"]["terminal"] = json!(true);
    });
    let (code, out, err) = env.run(&env.id("t"), &b);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("/dev/pts/0") && out.contains("done"),
        "{out:?}"
    );
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}
