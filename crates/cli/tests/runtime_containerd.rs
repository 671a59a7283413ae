//! containerd (private daemon, its own root and sockets) runs a container
//! through the runc v2 shim with `BinaryName` = stockade (`ctr run
//! --runc-binary`), the path Kubernetes RuntimeClass takes.

mod runtime_support;
use runtime_support::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Build an OCI image-layout tarball from a rootfs directory.
const IMG_SH: &str = r#"set -e
R=$1; OUT=$2; W=$3; mkdir -p $W/blobs/sha256
tar --numeric-owner -C $R -cf $W/layer.tar .
DIFF=$(sha256sum $W/layer.tar | cut -d' ' -f1)
gzip -n -c $W/layer.tar > $W/layer.tgz
LD=$(sha256sum $W/layer.tgz | cut -d' ' -f1); LS=$(stat -c %s $W/layer.tgz); mv $W/layer.tgz $W/blobs/sha256/$LD
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"],"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' $DIFF > $W/config.json
CD=$(sha256sum $W/config.json | cut -d' ' -f1); CS=$(stat -c %s $W/config.json); mv $W/config.json $W/blobs/sha256/$CD
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' $CD $CS $LD $LS > $W/m.json
MD=$(sha256sum $W/m.json | cut -d' ' -f1); MS=$(stat -c %s $W/m.json); mv $W/m.json $W/blobs/sha256/$MD
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"}}]}' $MD $MS > $W/index.json
printf '{"imageLayoutVersion":"1.0.0"}' > $W/oci-layout
rm $W/layer.tar
tar -C $W -cf $OUT oci-layout index.json blobs
"#;

struct Containerd {
    env: Env,
    child: Child,
    sock: String,
    run_dir_existed: bool,
}

impl Containerd {
    fn start() -> Option<Containerd> {
        if !need_root()
            || Command::new("containerd")
                .arg("--version")
                .output()
                .is_err()
            || Command::new("ctr").arg("--version").output().is_err()
        {
            eprintln!("containerd/ctr not installed: skipping (apt-get install containerd)");
            return None;
        }
        let run_dir_existed = Path::new("/run/containerd").exists();
        let env = Env::new("ctrd");
        let d = env.dir.clone();
        let rootfs = d.join("img");
        testkit::busybox_rootfs(&rootfs);
        let st = Command::new("sh")
            .arg("-c")
            .arg(IMG_SH)
            .arg("img.sh")
            .arg(&rootfs)
            .arg(d.join("img.tar"))
            .arg(d.join("layout"))
            .status()
            .unwrap();
        assert!(st.success());
        let sock = format!("{}/c.sock", d.display());
        std::fs::write(
            d.join("config.toml"),
            format!(
                "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{1}\"\n[ttrpc]\n  address = \"{1}.ttrpc\"\n[debug]\n  address = \"{0}/d.sock\"\n",
                d.display(),
                sock
            ),
        )
        .unwrap();
        let log = std::fs::File::create(d.join("containerd.log")).unwrap();
        let mut cmd = Command::new("containerd");
        cmd.arg("--config")
            .arg(d.join("config.toml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null());
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::setsid();
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        let c = Containerd {
            env,
            child,
            sock,
            run_dir_existed,
        };
        let t = Instant::now();
        while c.ctr(&["version"]).0 != 0 {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "containerd did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let (code, _, err) = c.ctr(&[
            "images",
            "import",
            "--index-name",
            "localhost/busybox:test",
            d.join("img.tar").to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "import: {err}");
        Some(c)
    }

    fn ctr(&self, args: &[&str]) -> (i32, String, String) {
        let mut c = Command::new("ctr");
        c.args(["-a", &self.sock, "-n", "stk"]).args(args);
        let out = self.env.output(c);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn run(&self, extra: &[&str], id: &str, cmd: &[&str]) -> (i32, String, String) {
        let rr = self.env.dir.join("runc-root");
        let fifo = self.env.dir.join("fifo");
        let mut args = vec![
            "run",
            "--fifo-dir",
            fifo.to_str().unwrap(),
            "--runtime",
            "io.containerd.runc.v2",
            "--runc-binary",
            BIN,
            "--runc-root",
            rr.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.push("localhost/busybox:test");
        args.push(id);
        args.extend_from_slice(cmd);
        // ctr has to be given owned strings; keep them alive here.
        let owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let refs: Vec<&str> = owned.iter().map(|s| s.as_str()).collect();
        self.ctr(&refs)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        for id in ["echo", "exit", "long"] {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", id]);
            let _ = self.ctr(&["task", "delete", "-f", id]);
            let _ = self.ctr(&["container", "delete", id]);
        }
        let _ = self.ctr(&["images", "rm", "localhost/busybox:test"]);
        // SAFETY: kill with the pid of the daemon we started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        if !self.run_dir_existed {
            for d in [
                "/run/containerd/fifo",
                "/run/containerd/s",
                "/run/containerd",
            ] {
                let _ = std::fs::remove_dir(d);
            }
        }
    }
}

#[test]
fn ctr_runs_stockade_through_the_runc_shim() {
    let Some(c) = Containerd::start() else { return };
    let (code, out, err) = c.run(&["--rm"], "echo", &["/bin/echo", "hi"]);
    assert_eq!((code, out.as_str()), (0, "hi\n"), "{err}");
    let (code, _, _) = c.run(&["--rm"], "exit", &["sh", "-c", "exit 7"]);
    assert_eq!(code, 7);
    // A detached task: exec, kill, delete.
    let (code, _, err) = c.run(&["-d"], "long", &["sleep", "1000"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = c.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "long",
        "sh",
        "-c",
        "echo in-exec; exit 3",
    ]);
    assert_eq!((code, out.as_str()), (3, "in-exec\n"), "{err}");
    let (code, out, _) = c.ctr(&["task", "ps", "long"]);
    assert_eq!(code, 0);
    assert!(out.lines().count() >= 2, "{out}");
    assert_eq!(c.ctr(&["task", "pause", "long"]).0, 0);
    assert_eq!(c.ctr(&["task", "resume", "long"]).0, 0);
    assert_eq!(c.ctr(&["task", "kill", "-s", "SIGKILL", "long"]).0, 0);
    let t = Instant::now();
    loop {
        let (_, out, _) = c.ctr(&["task", "ls"]);
        if out
            .lines()
            .any(|l| l.starts_with("long ") && l.contains("STOPPED"))
        {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "{out}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, _, err) = c.ctr(&["task", "delete", "long"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(c.ctr(&["container", "delete", "long"]).0, 0);
    // The runtime's state under --runc-root is gone.
    let rr = c.env.dir.join("runc-root");
    let left: Vec<_> = std::fs::read_dir(&rr)
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|ns| std::fs::read_dir(ns.path()).into_iter().flatten().flatten())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Kubernetes' `hostUsers: false` through containerd: the container runs in
/// a user namespace (host ids 2000000000..) and a volume is an idmapped bind
/// mount (option `idmap`, the container's own mappings): host root's file
/// shows as root's inside, and what container root writes there is host
/// root's on disk, as on a pod's volumes. The rootfs (host root's) is
/// idmapped by default. The spec is given whole (`ctr run --config`):
/// ctr 1.6's `--uidmap` replaces the task's runtime options, and with them
/// `--runc-binary`, so the shim would run runc instead.
#[test]
fn ctr_user_namespace_with_an_idmapped_volume() {
    let Some(c) = Containerd::start() else { return };
    let vol = c.env.dir.join("vol");
    std::fs::create_dir(&vol).unwrap();
    std::fs::write(vol.join("from-host"), "x").unwrap();
    let (code, spec, err) = c.ctr(&["oci", "spec"]);
    assert_eq!(code, 0, "{err}");
    let mut spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    let map = serde_json::json!([{"containerID": 0, "hostID": 2000000000u32, "size": 65536}]);
    spec["linux"]["uidMappings"] = map.clone();
    spec["linux"]["gidMappings"] = map;
    spec["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "user"}));
    spec["mounts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "destination": "/vol", "type": "bind", "source": vol.to_str().unwrap(),
            "options": ["rbind", "rw", "idmap"]
        }));
    spec["process"]["args"] = serde_json::json!([
        "sh",
        "-c",
        "cat /proc/self/uid_map; stat -c %u:%g /vol/from-host /bin/busybox; touch /vol/made && echo made"
    ]);
    spec["process"]["terminal"] = serde_json::json!(false);
    // `ctr oci spec` has no container id: its cgroupsPath is the namespace's,
    // which the other test's containers share.
    spec["linux"]["cgroupsPath"] = serde_json::json!(format!("/{}-idmapvol", c.env.prefix));
    // The image's rootfs, owned by host root: idmapped by default.
    spec["root"] =
        serde_json::json!({"path": c.env.dir.join("img").to_str().unwrap(), "readonly": true});
    let cfg = c.env.dir.join("userns-spec.json");
    std::fs::write(&cfg, serde_json::to_vec(&spec).unwrap()).unwrap();
    let rr = c.env.dir.join("runc-root");
    let fifo = c.env.dir.join("fifo");
    let (code, out, err) = c.ctr(&[
        "run",
        "--rm",
        "--fifo-dir",
        fifo.to_str().unwrap(),
        "--runtime",
        "io.containerd.runc.v2",
        "--runc-binary",
        BIN,
        "--runc-root",
        rr.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "idmapvol",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0", "2000000000", "65536"], "{out}");
    assert_eq!(lines[1], ["0:0"], "host root's volume file: {out}");
    assert_eq!(lines[2], ["0:0"], "the idmapped image rootfs: {out}");
    assert_eq!(lines[3], ["made"], "{out}");
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(vol.join("made")).unwrap();
    assert_eq!((md.uid(), md.gid()), (0, 0));
}
