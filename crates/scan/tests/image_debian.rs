//! A Debian 12 image built with mmdebstrap (minbase) from Debian's packages, imported with
//! `podman import` and saved with `podman save` in both archive formats: its dpkg inventory
//! equals `dpkg-query -W` over the same root filesystem's database, and Syft's.
//!
//! mmdebstrap takes about 100 s; the root filesystem tarball is cached under the target
//! directory (`CARGO_TARGET_TMPDIR`) and reused by later runs. Needs root, podman, mmdebstrap
//! and a Debian mirror; without them `SKIP` (a failure under `CI=true`).

mod image_support;

use image_support::*;
use scan::image::Limits;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn debian_rootfs_tar() -> Option<PathBuf> {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("debian-bookworm-minbase.tar");
    if cache.exists() {
        return Some(cache);
    }
    if !have("mmdebstrap") || !is_root() {
        skip("mmdebstrap and root are needed to build the Debian image");
        return None;
    }
    let part = cache.with_extension(format!("part{}", std::process::id()));
    let o = Command::new("mmdebstrap")
        .args([
            "--variant=minbase",
            "--mode=root",
            "--format=tar",
            "-q",
            "bookworm",
        ])
        .arg(&part)
        .output()
        .unwrap();
    if !o.status.success() {
        let _ = std::fs::remove_file(&part);
        skip(&format!(
            "mmdebstrap failed (no Debian mirror?): {}",
            String::from_utf8_lossy(&o.stderr)
        ));
        return None;
    }
    std::fs::rename(&part, &cache).unwrap();
    Some(cache)
}

#[test]
fn debian_inventory_equals_dpkg_query_and_syft_in_both_archive_formats() {
    let t = TempDir::new("debian");
    let Some(pm) = Podman::new(t.path()) else {
        return;
    };
    let Some(tarball) = debian_rootfs_tar() else {
        return;
    };
    // The reference: dpkg-query over the database of the same root filesystem.
    let root = t.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    assert!(Command::new("tar")
        .arg("-xf")
        .arg(&tarball)
        .arg("-C")
        .arg(&root)
        .arg("./var/lib/dpkg")
        .status()
        .unwrap()
        .success());
    let o = Command::new("dpkg-query")
        .arg(format!(
            "--admindir={}",
            root.join("var/lib/dpkg").display()
        ))
        .args(["-W", "-f=${db:Status-Status} ${Package} ${Version}\n"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let theirs: BTreeSet<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(st, _)| !matches!(*st, "not-installed" | "config-files"))
        .map(|(_, r)| r.to_string())
        .collect();
    assert!(theirs.len() > 50, "{}", theirs.len());
    let name = format!("localhost/skd-image-debian-{}:12", std::process::id());
    for fmt in ["oci-archive", "docker-archive"] {
        let out = t.path().join(format!("{fmt}.tar"));
        pm.import_save(&tarball, &[], &name, fmt, &out);
        let source = format!("{fmt}:{}", out.display());
        let started = std::time::Instant::now();
        let r = scan::image::scan(&source.parse().unwrap(), &Limits::default()).unwrap();
        let took = started.elapsed();
        let ours: BTreeSet<String> = r
            .packages
            .iter()
            .filter(|p| p.kind == scan::pkgdb::PkgType::Deb)
            .map(|p| format!("{} {}", p.name, p.version))
            .collect();
        assert_eq!(
            ours, theirs,
            "{fmt}: dpkg inventory differs from dpkg-query -W"
        );
        assert_eq!(r.distro.as_ref().map(|d| d.version_id.as_str()), Some("12"));
        println!(
            "debian {fmt}: {} packages equal dpkg-query -W ({took:?})",
            ours.len()
        );
        if let Some(sy) = syft_packages(&source, "deb") {
            assert_eq!(ours, sy, "{fmt}: differs from Syft");
            println!("debian {fmt}: equal to Syft's {} deb packages", sy.len());
        }
    }
}
