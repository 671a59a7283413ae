//! Each config.json field, read back from inside the container.

mod runtime_support;
use runtime_support::*;
use serde_json::json;

/// Run `script` in a container built from the default spec plus `edit`;
/// return stdout (asserting exit 0).
fn inside(
    env: &Env,
    name: &str,
    script: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> String {
    let b = env.bundle(name, &["sh", "-c", script], edit);
    let (code, out, err) = env.run(&env.id(name), &b);
    assert_eq!(code, 0, "{name}: stdout={out} stderr={err}");
    out
}

fn clean(env: &Env) {
    let f = env.footprint();
    assert!(f.is_empty(), "left behind: {f:?}");
}

#[test]
fn mounts_and_propagation() {
    if !need_root() {
        return;
    }
    let env = Env::new("mounts");
    let host = env.dir.join("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("f"), "data\n").unwrap();
    std::fs::write(env.dir.join("file"), "single\n").unwrap();
    let out = inside(&env, "m", "grep -E ' /(mnt/t|data|single/file|run) ' /proc/self/mountinfo; cat /data/f /single/file; touch /data/x 2>&1 || echo ro-ok", |c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "noexec", "size=1m", "mode=700"]}));
        m.push(json!({"destination": "/data", "type": "bind", "source": host, "options": ["rbind", "ro", "nodev"]}));
        m.push(json!({"destination": "/single/file", "type": "bind", "source": env.dir.join("file"), "options": ["bind", "ro"]}));
        m.push(json!({"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["private"]}));
    });
    assert!(out.contains(" /mnt/t rw,nosuid,noexec"), "{out}");
    assert!(out.contains("size=1024k,mode=700"), "{out}");
    assert!(out.contains(" /data ro,nodev"), "{out}");
    assert!(out.contains(" /single/file ro"), "{out}");
    assert!(out.contains("data\nsingle\n"), "{out}");
    assert!(out.contains("ro-ok"), "{out}");
    clean(&env);
}

#[test]
fn readonly_root_masked_and_readonly_paths() {
    if !need_root() {
        return;
    }
    let env = Env::new("paths");
    let out = inside(
        &env,
        "p",
        "touch /x 2>/dev/null && echo rootrw || echo rootro; wc -c < /proc/keys; ls /proc/acpi | wc -l; echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo sysrw || echo sysro; grep ' /proc/sys ' /proc/self/mountinfo",
        |c| {
            c["root"]["readonly"] = json!(true);
        },
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "rootro");
    assert_eq!(lines[1], "0", "/proc/keys is masked: {out}");
    assert_eq!(lines[2], "0", "/proc/acpi is an empty tmpfs: {out}");
    assert_eq!(lines[3], "sysro");
    assert!(lines[4].contains(" /proc/sys ro,"), "{out}");
    clean(&env);
}

#[test]
fn process_fields() {
    if !need_root() {
        return;
    }
    let env = Env::new("proc");
    let out = inside(
        &env,
        "u",
        "id -u; id -g; id -G; umask; pwd; echo $MYVAR; hostname; cat /proc/sys/kernel/domainname; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status",
        |c| {
            c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 63});
            c["process"]["cwd"] = json!("/tmp/work");
            c["process"]["env"] = json!(["PATH=/bin", "MYVAR=hello"]);
            c["hostname"] = json!("box1");
            c["domainname"] = json!("example.test");
            c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000}]);
            c["process"]["oomScoreAdj"] = json!(300);
            c["process"]["noNewPrivileges"] = json!(true);
            let caps = json!(["CAP_CHOWN", "CAP_KILL"]);
            c["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps, "ambient": caps});
        },
    );
    // CAP_CHOWN = bit 0, CAP_KILL = bit 5: 0x21.
    let want = "1000\n1000\n1000 10 20\n0077\n/tmp/work\nhello\nbox1\nexample.test\n512\n1000\n300\n\
CapInh:\t0000000000000021\nCapPrm:\t0000000000000021\nCapEff:\t0000000000000021\nCapBnd:\t0000000000000021\nCapAmb:\t0000000000000021\nNoNewPrivs:\t1\n";
    assert_eq!(out, want);
    clean(&env);
}

#[test]
fn user_namespace_mappings() {
    if !need_root() {
        return;
    }
    let env = Env::new("userns");
    let out = inside(
        &env,
        "un",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; ls -ld / | cut -c1-10",
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            c["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        },
    );
    let norm: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(norm[0], "0 100000 65536", "{out}");
    assert_eq!(norm[1], "0 100000 65536", "{out}");
    assert_eq!(norm[2], "0");
    clean(&env);
}

#[test]
fn join_namespace_by_path() {
    if !need_root() {
        return;
    }
    let env = Env::new("join");
    let b = env.bundle("a", &["sleep", "1000"], |_| {});
    let a = env.id("a");
    assert!(env
        .stockade(&["run", "-d", "-b", b.to_str().unwrap(), &a])
        .status
        .success());
    let pid = env.state(&a)["pid"].as_i64().unwrap();
    let net = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let uts = std::fs::read_link(format!("/proc/{pid}/ns/uts")).unwrap();
    let out = inside(
        &env,
        "b",
        "readlink /proc/self/ns/net; readlink /proc/self/ns/uts",
        |c| {
            for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
                if ns["type"] == "network" {
                    ns["path"] = json!(format!("/proc/{pid}/ns/net"));
                }
            }
            c["hostname"] = serde_json::Value::Null;
        },
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], net.to_str().unwrap());
    assert_ne!(lines[1], uts.to_str().unwrap());
    assert!(env.stockade(&["delete", "-f", &a]).status.success());
    clean(&env);
}

#[test]
fn sysctl_and_cgroup_limits() {
    if !need_root() {
        return;
    }
    let env = Env::new("cgroup");
    let script = "cat /proc/sys/net/ipv4/ip_forward; \
        if [ -d /sys/fs/cgroup/memory ]; then cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpuset/cpuset.cpus; cat /sys/fs/cgroup/devices/devices.list | head -1; \
        else cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; fi";
    let out = inside(&env, "c", script, |c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        c["linux"]["cgroupsPath"] = json!(format!("/{}/c", env.prefix));
        c["linux"]["resources"] = json!({
            "memory": {"limit": 67108864},
            "pids": {"limit": 100},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
            "devices": [{"allow": false, "access": "rwm"}]
        });
    });
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1", "{out}");
    assert_eq!(lines[1], "67108864", "{out}");
    assert!(out.contains("\n100\n512\n50000\n0\n"), "{out}");
    // After deny-all, the default devices are allowed again.
    assert!(
        out.trim_end().ends_with("c 1:3 rwm") || out.contains("c *:* m"),
        "{out}"
    );
    clean(&env);
}

#[test]
fn pids_limit_stops_forks() {
    if !need_root() {
        return;
    }
    let env = Env::new("limits");
    let b = env.bundle(
        "p",
        &[
            "sh",
            "-c",
            "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 10 & done; echo all-forked",
        ],
        |c| {
            c["linux"]["resources"] = json!({"pids": {"limit": 4}});
        },
    );
    let (code, out, err) = env.run(&env.id("p"), &b);
    assert_ne!(code, 0);
    assert!(!out.contains("all-forked"));
    assert!(
        err.contains("Resource temporarily unavailable") || err.contains("can't fork"),
        "code={code} out={out} err={err}"
    );
    clean(&env);
}

#[test]
fn seccomp_rules() {
    if !need_root() {
        return;
    }
    let env = Env::new("seccomp");
    let out = inside(
        &env,
        "s",
        "mkdir /tmp/d 2>&1; touch /tmp/f; chmod 755 /tmp/f && echo chmod755-ok; chmod 777 /tmp/f 2>&1; echo end",
        |c| {
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [
                    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                    {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [{"index": 1, "value": 511, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [{"index": 2, "value": 511, "op": "SCMP_CMP_EQ"}]}
                ]
            });
            c["root"]["readonly"] = json!(false);
        },
    );
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("chmod755-ok"), "{out}");
    assert!(out.contains("Permission denied"), "{out}");
    clean(&env);
}

/// A profile that denies close_range (Docker's default profile does not list
/// it, and runtime-tools' `default` test uses that profile) must not stop the
/// runtime from preparing the fds before execve.
#[test]
fn seccomp_profile_denying_close_range() {
    if !need_root() {
        return;
    }
    let env = Env::new("seccomp-cr");
    let out = inside(&env, "s", "echo started", |c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
            ]
        });
    });
    assert!(out.contains("started"), "{out}");
    clean(&env);
}

/// No mount namespace in the config (runtime-tools' linux_ns_itype): the
/// container shares the runtime's mount namespace, its mounts are made under
/// the rootfs there (as runc does), and `delete` takes them all down again.
#[test]
fn no_mount_namespace_shares_ours_and_cleans_up() {
    if !need_root() {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let env = Env::new("nomntns");
    let ours = std::fs::metadata("/proc/self/ns/mnt").unwrap().ino();
    let out = inside(
        &env,
        "n",
        "stat -L -c ino=%i /proc/self/ns/mnt; test -c /dev/null && echo dev-ok",
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "mount");
        },
    );
    assert!(out.contains(&format!("ino={ours}")), "{out}");
    assert!(out.contains("dev-ok"), "{out}");
    clean(&env);
}

#[test]
fn hooks_get_state_on_stdin() {
    if !need_root() {
        return;
    }
    let env = Env::new("hooks");
    let log = env.dir.join("hooks.log");
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo {name} $(cat) >> {}", log.display())], "timeout": 5});
    let b = env.bundle("h", &["true"], |c| {
        c["hooks"] = json!({
            "prestart": [hook("prestart")],
            "createRuntime": [hook("createRuntime")],
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")],
        });
    });
    let id = env.id("h");
    let (code, _, err) = env.run(&id, &b);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&log).unwrap();
    let kinds: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        kinds,
        ["prestart", "createRuntime", "poststart", "poststop"]
    );
    // runtime-spec 1.3: prestart and createRuntime are lifecycle steps 3
    // and 4, after the environment is made (step 2): "created"; poststart
    // after the user process runs; poststop once stopped.
    let mut statuses = Vec::new();
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l.split_once(' ').unwrap().1).unwrap();
        assert_eq!(v["id"], id.as_str());
        assert!(v["pid"].as_i64().unwrap() > 0);
        statuses.push(v["status"].as_str().unwrap().to_string());
    }
    assert_eq!(statuses, ["created", "created", "running", "stopped"]);
    // A hook that times out fails create and leaves nothing.
    let b = env.bundle("t", &["true"], |c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "10"], "timeout": 1}]});
    });
    let (code, _, err) = env.run(&env.id("t"), &b);
    assert_ne!(code, 0);
    assert!(
        err.contains("hooks.createRuntime[0]") && err.contains("timed out"),
        "{err}"
    );
    clean(&env);
}

/// runtime-spec 1.3: a failing poststop hook is logged as a warning, the
/// remaining poststop hooks run, and `delete` succeeds. (A failing
/// poststart hook is an error that stops the container: lifecycle step 9.)
#[test]
fn failing_poststop_hook_warns_and_the_rest_run() {
    if !need_root() {
        return;
    }
    let env = Env::new("pshook");
    let log = env.dir.join("ps.log");
    let b = env.bundle("p", &["true"], |c| {
        c["hooks"] = json!({
            "poststop": [
                {"path": "/bin/false", "args": ["false"]},
                {"path": "/bin/sh", "args": ["sh", "-c", format!("echo poststop >> {}", log.display())]},
            ]
        });
    });
    let id = env.id("p");
    let rlog = env.dir.join("runtime.log");
    let rlog_s = rlog.to_str().unwrap();
    let out = env.stockade(&[
        "--log",
        rlog_s,
        "create",
        "--bundle",
        b.to_str().unwrap(),
        &id,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.stockade(&["--log", rlog_s, "start", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for _ in 0..500 {
        if env.state(&id)["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = env.stockade(&["--log", rlog_s, "delete", &id]);
    assert!(
        out.status.success(),
        "delete exits 0: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "poststop\n");
    let text = std::fs::read_to_string(&rlog).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("level=warning") && l.contains("hooks.poststop[0]")),
        "{text}"
    );
    assert!(!env.root.join(&id).exists(), "state removed");
    clean(&env);
}

/// `stockade features | head`: a reader that went away is no panic. The
/// pipe's read end is closed before the runtime starts, so its first write
/// meets EPIPE whatever the timing.
#[test]
fn features_survive_a_closed_pipe() {
    for args in [
        &["features"][..],
        &["--root", "/nonexistent-stockade-root", "list"][..],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = std::process::Command::new(BIN)
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            o.status.code().is_some(),
            "{args:?}: killed: {:?}",
            o.status
        );
    }
}

#[test]
fn container_hooks_run_inside() {
    if !need_root() {
        return;
    }
    let env = Env::new("chooks");
    // createContainer runs in the container's namespaces before pivot_root
    // (the host path is still reachable); startContainer runs in the
    // container after pivot_root, so its path is the container's.
    let log = env.dir.join("cc.log");
    let out = inside(&env, "h", "cat /dev/shm/sc", |c| {
        c["hooks"] = json!({
            "createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", format!("hostname > {}; readlink /proc/self/ns/mnt >> {}", log.display(), log.display())]}],
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /dev/shm/sc"]}],
        });
        c["hostname"] = json!("hooked");
    });
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "created");
    let cc = std::fs::read_to_string(&log).unwrap();
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let lines: Vec<&str> = cc.lines().collect();
    assert_ne!(
        lines[1],
        host_mnt.to_str().unwrap(),
        "createContainer runs in the container's mount namespace"
    );
    clean(&env);
}

#[test]
fn failing_start_container_hook_fails_start_and_run() {
    if !need_root() {
        return;
    }
    // startContainer hooks run after the start message: their error comes
    // back on the start.sock connection (`start`) or on the sync channel
    // (`run`), and the user process never runs.
    let env = Env::new("schook");
    let edit = |c: &mut serde_json::Value| {
        c["hooks"] = json!({"startContainer": [{"path": "/bin/false", "args": ["false"]}]});
    };
    let args = ["sh", "-c", "echo ran"];
    let b = env.bundle("r", &args, edit);
    let (code, out, err) = env.run(&env.id("r"), &b);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("hooks.startContainer[0]"), "{err}");
    assert!(!out.contains("ran"), "{out}");
    clean(&env);

    let b = env.bundle("c", &args, edit);
    let id = env.id("c");
    let out = env.stockade(&["create", "--bundle", b.to_str().unwrap(), &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.stockade(&["start", &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("hooks.startContainer[0]"), "{err}");
    assert!(env.stockade(&["delete", "--force", &id]).status.success());
    clean(&env);
}

#[test]
fn seccomp_notify_goes_to_listener() {
    if !need_root() {
        return;
    }
    use std::os::fd::AsRawFd;
    let env = Env::new("notify");
    let sock = env.dir.join("listener.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let b = env.bundle(
        "n",
        &["sh", "-c", "mkdir /dev/shm/x 2>&1; echo after"],
        |c| {
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "listenerPath": sock,
                "listenerMetadata": "meta1",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
            });
        },
    );
    let id = env.id("n");
    let got = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let (payload, fd) = runtime::init::recv_fd(conn.as_raw_fd()).unwrap();
        // Closing the notify fd makes the pending syscall fail (ENOSYS).
        drop(fd.expect("seccomp fd"));
        String::from_utf8(payload).unwrap()
    });
    let (code, out, err) = env.run(&id, &b);
    let payload = got.join().unwrap();
    let v: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(v["fds"], json!(["seccompFd"]));
    assert_eq!(v["metadata"], "meta1");
    assert_eq!(v["state"]["id"], id.as_str());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("after"), "{out}");
    assert!(
        out.contains("not implemented") || out.contains("Function not implemented"),
        "{out}"
    );
    clean(&env);
}

#[test]
fn scheduler_and_personality() {
    if !need_root() {
        return;
    }
    let env = Env::new("sched");
    let out = inside(&env, "s", "grep -E '^policy' /proc/self/sched; cut -d' ' -f19 /proc/self/stat; grep -i personality /proc/self/status; cat /proc/self/personality 2>/dev/null || true", |c| {
        c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
        c["linux"]["personality"] = json!({"domain": "LINUX"});
    });
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].ends_with(" 3"), "SCHED_BATCH is policy 3: {out}");
    assert_eq!(lines[1], "5", "{out}");
    clean(&env);
}

#[test]
fn device_rules_are_enforced() {
    if !need_root() {
        return;
    }
    let env = Env::new("devices");
    let out = inside(&env, "d", "head -c1 /dev/zero | wc -c; head -c1 /dev/kmsg 2>&1 | grep -c 'not permitted'; ls -l /dev/kmsg | cut -c1", |c| {
        c["linux"]["devices"] = json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 420}]);
        c["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    });
    assert_eq!(out, "1\n1\nc\n", "{out}");
    clean(&env);
}

#[test]
fn memory_swap_reservation_and_blkio() {
    if !need_root()
        || !std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists()
    {
        return;
    }
    let env = Env::new("memsw");
    let out = inside(
        &env,
        "m",
        "cd /sys/fs/cgroup/memory; cat memory.limit_in_bytes memory.memsw.limit_in_bytes memory.soft_limit_in_bytes memory.swappiness",
        |c| {
            c["linux"]["resources"] = json!({
                "memory": {"limit": 33554432, "swap": 67108864, "reservation": 16777216, "swappiness": 10}
            });
        },
    );
    assert_eq!(out, "33554432\n67108864\n16777216\n10\n");
    // An impossible value is an error naming the field, and nothing stays.
    let b = env.bundle("bad", &["true"], |c| {
        c["linux"]["resources"] = json!({"memory": {"swappiness": 200}});
    });
    let (code, _, err) = env.run(&env.id("bad"), &b);
    assert_ne!(code, 0);
    assert!(err.contains("linux.resources.memory.swappiness"), "{err}");
    clean(&env);
}

#[test]
fn rootfs_propagation_and_default_mounts() {
    if !need_root() {
        return;
    }
    let env = Env::new("rprop");
    let script = "awk '$5 == \"/\" {print ($0 ~ /shared:/) ? \"shared\" : \"not-shared\"}' /proc/self/mountinfo; \
        for m in /proc /dev /dev/pts /dev/shm /dev/mqueue /sys /sys/fs/cgroup; do awk -v m=$m '$5 == m {split($0, a, \" - \"); split(a[2], b, \" \"); print m, b[1]}' /proc/self/mountinfo; done; \
        ls -l /dev/ptmx /dev/fd /dev/stdin | awk '{print $(NF-2), $NF}'";
    let out = inside(&env, "r", script, |c| {
        c["linux"]["rootfsPropagation"] = json!("shared");
    });
    assert_eq!(
        out,
        "shared\n/proc proc\n/dev tmpfs\n/dev/pts devpts\n/dev/shm tmpfs\n/dev/mqueue mqueue\n/sys sysfs\n/sys/fs/cgroup tmpfs\n\
/dev/fd /proc/self/fd\n/dev/ptmx pts/ptmx\n/dev/stdin /proc/self/fd/0\n"
    );
    let out = inside(&env, "p", "awk '$5 == \"/\" {print ($0 ~ /shared:/) ? \"shared\" : \"not-shared\"}' /proc/self/mountinfo", |c| {
        c["linux"]["rootfsPropagation"] = json!("private");
    });
    assert_eq!(out, "not-shared\n");
    // unbindable (runtime-tools' linux_rootfs_propagation): the rootfs must
    // still be bind-mounted onto itself, so "/" becomes unbindable only
    // after pivot_root.
    let out = inside(&env, "u", "awk '$5 == \"/\" {print ($0 ~ /unbindable/) ? \"unbindable\" : \"bindable\"}' /proc/self/mountinfo", |c| {
        c["linux"]["rootfsPropagation"] = json!("unbindable");
    });
    assert_eq!(out, "unbindable\n");
    clean(&env);
}
