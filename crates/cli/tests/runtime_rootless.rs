//! Rootless: a real unprivileged user (made by the test, with /etc/subuid
//! and /etc/subgid entries, and removed after) runs containers with
//! `stockade spec --rootless`. State goes under $XDG_RUNTIME_DIR/stockade;
//! on this cgroup v1 host the container runs without cgroups of its own
//! (the user cannot make them), and a config that asks for limits is one
//! clear error with nothing left behind. Subordinate ids are mapped through
//! newuidmap/newgidmap.

mod runtime_support;
use runtime_support::*;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A user that exists for the test only.
struct User {
    name: String,
    uid: u32,
    xdg: PathBuf,
    home: Option<PathBuf>,
}

impl User {
    /// `home`: make a home directory there (podman keeps its storage in it).
    fn new(env: &Env, tag: &str, home: bool) -> Option<User> {
        let name = format!("stk{tag}{}", std::process::id() % 100000);
        let accounts = accounts();
        let _ = Command::new("userdel").arg(&name).output();
        let home = home.then(|| env.dir.join("home"));
        let mut c = Command::new("useradd");
        match &home {
            Some(h) => c.arg("-m").arg("-d").arg(h),
            None => c.args(["-M", "-d", "/nonexistent"]),
        };
        let out = c.args(["-s", "/bin/sh", &name]).output().ok()?;
        if !out.status.success() {
            eprintln!(
                "SKIP: useradd failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        let id = Command::new("id").args(["-u", &name]).output().unwrap();
        let uid: u32 = String::from_utf8_lossy(&id.stdout).trim().parse().unwrap();
        // Subordinate ids of our own choosing (useradd may have added some:
        // ours replace them), far from other users' and the runtime's default.
        let start =
            3_000_000 + (std::process::id() % 1000) * 131072 + if tag == "pm" { 65536 } else { 0 };
        for f in ["/etc/subuid", "/etc/subgid"] {
            edit_lines(&accounts, f, &name, Some(format!("{name}:{start}:65536")));
        }
        drop(accounts);
        let xdg = env.dir.join("xdg");
        std::fs::create_dir_all(&xdg).unwrap();
        std::os::unix::fs::chown(&xdg, Some(uid), Some(uid)).unwrap();
        std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700)).unwrap();
        Some(User {
            name,
            uid,
            xdg,
            home,
        })
    }

    /// Run `stockade ARGS` as the user, with XDG_RUNTIME_DIR set and no --root.
    fn stockade(&self, env: &Env, args: &[&str]) -> Output {
        let mut c = Command::new("runuser");
        c.args(["-u", &self.name, "--", "env", "-i", "PATH=/usr/bin:/bin"])
            .arg(format!("XDG_RUNTIME_DIR={}", self.xdg.display()))
            .arg(format!("USER={}", self.name))
            .args([
                "STOCKADE_POLICY=off",
                "STOCKADE_RUNTIME_CONFIG=/nonexistent/stockade-runtime.toml",
                BIN,
            ])
            .args(args)
            .current_dir("/");
        env.output(c)
    }

    /// `spec --rootless` as the user, for the rootfs of `bundle`, with `args`.
    fn bundle(
        &self,
        env: &Env,
        name: &str,
        args: &[&str],
        edit: impl FnOnce(&mut Value),
    ) -> PathBuf {
        let b = env.bundle(name, args, |_| {});
        let tmp = env.dir.join(format!("{name}-spec"));
        std::fs::create_dir_all(&tmp).unwrap();
        std::os::unix::fs::chown(&tmp, Some(self.uid), None).unwrap();
        let out = self.stockade(
            env,
            &["spec", "--rootless", "--bundle", tmp.to_str().unwrap()],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut cfg: Value =
            serde_json::from_slice(&std::fs::read(tmp.join("config.json")).unwrap()).unwrap();
        cfg["root"]["path"] = json!(b.join("rootfs"));
        // The rootfs belongs to host root, which the user's container root
        // is not: mount points must exist beforehand (here, /run).
        for m in cfg["mounts"].as_array().unwrap() {
            let d = m["destination"].as_str().unwrap().trim_start_matches('/');
            let _ = std::fs::create_dir_all(b.join("rootfs").join(d));
        }
        cfg["process"]["terminal"] = json!(false);
        cfg["process"]["args"] = json!(args);
        edit(&mut cfg);
        std::fs::write(b.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
        b
    }
}

impl Drop for User {
    fn drop(&mut self) {
        // The user's containers, then the user and its subordinate ids.
        if let Ok(rd) = std::fs::read_dir(self.xdg.join("stockade")) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                if id != ".cache" {
                    let _ = Command::new(BIN)
                        .arg("--root")
                        .arg(self.xdg.join("stockade"))
                        .args(["delete", "--force", &id])
                        .output();
                }
            }
        }
        // Whatever the user still runs (podman's rootless pause process):
        // all of it was started by this test. userdel refuses while a
        // process of the user lives, so wait for them to be gone.
        for _ in 0..100 {
            let mut left = 0;
            for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let owned = std::fs::metadata(e.path())
                    .is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == self.uid);
                if let (true, Ok(pid)) = (owned, e.file_name().to_string_lossy().parse::<i32>()) {
                    left += 1;
                    // SAFETY: kill with a pid and a signal number only.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            if left == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let accounts = accounts();
        let out = Command::new("userdel").arg(&self.name).output();
        if !out.as_ref().is_ok_and(|o| o.status.success()) {
            eprintln!("userdel {} failed: {out:?}", self.name);
        }
        if let Some(h) = &self.home {
            let _ = Command::new("rm")
                .arg("-rf")
                .arg("--one-file-system")
                .arg(h)
                .status();
        }
        for f in ["/etc/subuid", "/etc/subgid"] {
            edit_lines(&accounts, f, &self.name, None);
        }
    }
}

/// The tests of this file run in parallel, and each changes the same account files: `useradd`
/// and `userdel` rewrite /etc/subuid and /etc/subgid too (useradd adds a range of its own), so a
/// test's edit made while the other test's `useradd` ran was lost to its rewrite (the subgid line
/// of ours reverted to useradd's 100000 range: newgidmap then refused the mapping). One change at
/// a time: useradd/userdel and our edits hold this lock.
fn accounts() -> std::sync::MutexGuard<'static, ()> {
    static ACCOUNTS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Replace the lines of `name` in `file` by `line` (or remove them),
/// leaving every other line as it is.
fn edit_lines(
    _accounts: &std::sync::MutexGuard<'_, ()>,
    file: &str,
    name: &str,
    line: Option<String>,
) {
    let old = std::fs::read_to_string(file).unwrap_or_default();
    let mut out: Vec<String> = old
        .lines()
        .filter(|l| !l.starts_with(&format!("{name}:")))
        .map(String::from)
        .collect();
    out.extend(line);
    let mut text = out.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    if text != old {
        std::fs::write(file, text).unwrap();
    }
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn rootless_user_runs_containers() {
    if !need_root() {
        return;
    }
    let env = Env::new("rootless");
    let Some(user) = User::new(&env, "rl", false) else {
        return;
    };
    let root = user.xdg.join("stockade");

    // 1. Its own uid as container root: state under $XDG_RUNTIME_DIR.
    let b = user.bundle(
        &env,
        "own",
        &["sh", "-c", "id -u; cat /proc/self/uid_map"],
        |_| {},
    );
    let id = env.id("own");
    let out = user.stockade(&env, &["run", "-b", b.to_str().unwrap(), &id]);
    let (o, e) = text(&out);
    assert!(out.status.success(), "{e}");
    let map: Vec<String> = o
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(o.lines().next(), Some("0"), "{o}");
    assert_eq!(map, vec![format!("0 {} 1", user.uid)], "{o}");

    // A detached one: its state is in $XDG_RUNTIME_DIR/stockade, owned by
    // the user; no cgroup of its own on this v1 host.
    let b = user.bundle(&env, "long", &["sleep", "1000"], |_| {});
    let id = env.id("long");
    let out = user.stockade(&env, &["run", "-d", "-b", b.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", text(&out).1);
    let st = root.join(&id).join("state.json");
    assert!(
        st.exists(),
        "state under $XDG_RUNTIME_DIR: {}",
        st.display()
    );
    let out = user.stockade(&env, &["state", &id]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "running");
    let out = user.stockade(&env, &["exec", &id, "id", "-u"]);
    assert_eq!(text(&out).0, "0\n", "{}", text(&out).1);
    let out = user.stockade(&env, &["delete", "--force", &id]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(!root.join(&id).exists());

    // 2. Subordinate ids through newuidmap/newgidmap.
    if Path::new("/usr/bin/newuidmap").exists() {
        let sub: u32 = std::fs::read_to_string("/etc/subuid")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{}:", user.name)).map(String::from))
            .and_then(|r| r.split(':').next().map(|s| s.parse().unwrap()))
            .unwrap();
        let b = user.bundle(&env, "sub", &["cat", "/proc/self/uid_map"], |cfg| {
            for k in ["uidMappings", "gidMappings"] {
                let own = cfg["linux"][k][0]["hostID"].clone();
                cfg["linux"][k] = json!([
                    {"containerID": 0, "hostID": own, "size": 1},
                    {"containerID": 1, "hostID": sub, "size": 65536}
                ]);
            }
        });
        let out = user.stockade(&env, &["run", "-b", b.to_str().unwrap(), &env.id("sub")]);
        let (o, e) = text(&out);
        assert!(out.status.success(), "{e}");
        let map: Vec<String> = o
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(
            map,
            vec![format!("0 {} 1", user.uid), format!("1 {sub} 65536")],
            "{o}"
        );
        // Ids the user does not own: newuidmap refuses, one clear error.
        let b = user.bundle(&env, "notmine", &["true"], |cfg| {
            cfg["linux"]["uidMappings"][0]["hostID"] = json!(0);
            cfg["linux"]["uidMappings"][0]["size"] = json!(2);
        });
        let out = user.stockade(
            &env,
            &["run", "-b", b.to_str().unwrap(), &env.id("notmine")],
        );
        let (_, e) = text(&out);
        assert!(!out.status.success());
        assert!(
            e.contains("linux.uidMappings") && e.contains("newuidmap"),
            "{e}"
        );
    } else {
        testkit::skip("newuidmap is not installed (apt-get install uidmap)");
    }

    // 3. Limits the user's cgroups cannot hold: refused, nothing left.
    if Path::new("/sys/fs/cgroup/memory").is_dir() {
        let b = user.bundle(&env, "limits", &["true"], |cfg| {
            cfg["linux"]["resources"] = json!({"memory": {"limit": 67108864}});
        });
        let id = env.id("limits");
        let out = user.stockade(&env, &["run", "-b", b.to_str().unwrap(), &id]);
        let (_, e) = text(&out);
        assert!(!out.status.success());
        assert!(
            e.contains("linux.resources") && e.contains("rootless"),
            "{e}"
        );
        assert!(!root.join(&id).exists(), "no state left");
    } else {
        testkit::not_on_this_host("not a cgroup v1 host: the limits case is for v1");
    }
    let left: Vec<_> = std::fs::read_dir(&root)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name())
                .filter(|n| n != ".cache")
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}

#[test]
fn rootless_podman_runs_with_stockade_as_with_runc() {
    if !need_root() {
        return;
    }
    if Command::new("podman").arg("--version").output().is_err() {
        testkit::skip("podman is not installed");
        return;
    }
    if !Path::new("/usr/bin/newuidmap").exists() {
        testkit::skip("rootless podman needs newuidmap (apt-get install uidmap)");
        return;
    }
    let env = Env::new("rlpodman");
    let Some(user) = User::new(&env, "pm", true) else {
        return;
    };
    let home = user.home.clone().unwrap();
    // A busybox image of our own, imported by the user.
    let img = env.dir.join("img");
    testkit::busybox_rootfs(&img);
    std::fs::create_dir_all(img.join("root")).unwrap();
    let tgz = home.join("rootfs.tgz");
    assert!(Command::new("tar")
        .args(["--numeric-owner", "-C"])
        .arg(&img)
        .arg("-czf")
        .arg(&tgz)
        .arg(".")
        .status()
        .unwrap()
        .success());
    std::os::unix::fs::chown(&tgz, Some(user.uid), Some(user.uid)).unwrap();
    let podman = |args: &[&str]| -> (i32, String, String) {
        let mut c = Command::new("runuser");
        c.args(["-u", &user.name, "--", "env", "-i", "PATH=/usr/bin:/bin"])
            .arg(format!("HOME={}", home.display()))
            .arg(format!("USER={}", user.name))
            .arg(format!("XDG_RUNTIME_DIR={}", user.xdg.display()))
            .args([
                "STOCKADE_POLICY=off",
                "podman",
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
            ])
            .args(args)
            .current_dir("/");
        let out = env.output(c);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let image = "localhost/stockade-rootless:test";
    let (code, _, err) = podman(&["import", tgz.to_str().unwrap(), image]);
    assert_eq!(code, 0, "{err}");
    let script = "id -u; cat /proc/self/uid_map; echo hi > /tmp/x && cat /tmp/x";
    let mut outs = Vec::new();
    for rt in ["runc", BIN] {
        let (code, out, err) = podman(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--runtime",
            rt,
            image,
            "sh",
            "-c",
            script,
        ]);
        assert_eq!(code, 0, "{rt}: {err}");
        let norm: Vec<String> = out
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        outs.push(norm);
    }
    assert_eq!(outs[0], outs[1], "runc and stockade agree");
    assert_eq!(outs[1][0], "0");
    assert_eq!(outs[1][1], format!("0 {} 1", user.uid));
    // A long-running one: exec (with an exit code and another user), stop, rm.
    let name = format!("{}-long", env.prefix);
    let (code, _, err) = podman(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        "--runtime",
        BIN,
        image,
        "sleep",
        "1000",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        user.xdg.join("stockade").is_dir(),
        "state under $XDG_RUNTIME_DIR/stockade"
    );
    let (code, out, _) = podman(&["exec", &name, "sh", "-c", "echo in; exit 3"]);
    assert_eq!((code, out.as_str()), (3, "in\n"));
    let (_, out, _) = podman(&["exec", "--user", "1000", &name, "id", "-u"]);
    assert_eq!(out, "1000\n");
    assert_eq!(podman(&["stop", "-t", "1", &name]).0, 0);
    assert_eq!(podman(&["rm", &name]).0, 0);
    let _ = podman(&["rmi", "-af"]);
    assert!(env.footprint().is_empty(), "{:?}", env.footprint());
}
