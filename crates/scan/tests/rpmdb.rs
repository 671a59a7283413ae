//! The rpm database readers over the three real databases of ../shared/corpora/rpmdb (SQLite from
//! CBL-Mariner 2.0, Berkeley DB from a RHEL 8 libuuid install, NDB from SLE 15 BCI), compared
//! package for package with `rpm --dbpath DIR -qa` (Debian's rpm reads SQLite and, read-only,
//! Berkeley DB; it has no NDB backend) and, all three, with Syft's inventory of the same root
//! filesystem; each read through an image (`dir:` root filesystem) at rpm's two database
//! locations. Damaged copies are errors.
//!
//! Needs rpm and Syft; without them `SKIP` (a failure under `CI=true`).

mod image_support;

use image_support::*;
use scan::image::{Limits, Source};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const DBS: &[(&str, &str)] = &[
    ("cbl-mariner-2.0", "rpmdb.sqlite"),
    ("libuuid-bdb", "Packages"),
    ("sle15-bci-ndb", "Packages.db"),
];

fn ours(dir: &str, file: &str) -> BTreeSet<String> {
    let p = corpus(&format!("rpmdb/{dir}/{file}")).unwrap();
    let data = std::fs::read(&p).unwrap();
    scan::pkgdb::rpm::parse(&p.display().to_string(), file, &data)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|p| format!("{} {}", p.name, p.version))
        .collect()
}

/// `rpm -qa` over a private copy (rpm may create files beside the database).
fn rpm_qa(dir: &str, t: &Path) -> BTreeSet<String> {
    let copy = t.join(dir);
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(corpus(&format!("rpmdb/{dir}")).unwrap()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    let o = Command::new("rpm")
        .arg("--dbpath")
        .arg(&copy)
        .args([
            "-qa",
            "--qf",
            "%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n",
        ])
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
fn sqlite_and_bdb_equal_rpm_qa() {
    if corpus("rpmdb").is_none() {
        skip("the rpmdb corpus is missing");
        return;
    }
    if !have("rpm") {
        skip("rpm (Debian's rpm package) is needed");
        return;
    }
    let t = TempDir::new("rpmqa");
    for (dir, file) in &DBS[..2] {
        let o = ours(dir, file);
        let r = rpm_qa(dir, t.path());
        assert!(!r.is_empty(), "{dir}: rpm -qa listed nothing");
        assert_eq!(o, r, "{dir}/{file} differs from rpm -qa");
        println!("{dir}/{file}: {} packages equal rpm -qa", o.len());
    }
}

#[test]
fn every_backend_equals_syft_and_reads_through_an_image() {
    if corpus("rpmdb").is_none() {
        skip("the rpmdb corpus is missing");
        return;
    }
    let t = TempDir::new("rpmimg");
    for (i, (dir, file)) in DBS.iter().enumerate() {
        // rpm's two locations: the classic one and /usr/lib/sysimage/rpm.
        let loc = if i % 2 == 0 {
            "usr/lib/sysimage/rpm"
        } else {
            "var/lib/rpm"
        };
        let root = t.path().join(format!("root-{dir}"));
        std::fs::create_dir_all(root.join(loc)).unwrap();
        std::fs::copy(
            corpus(&format!("rpmdb/{dir}/{file}")).unwrap(),
            root.join(loc).join(file),
        )
        .unwrap();
        let src: Source = format!("dir:{}", root.display()).parse().unwrap();
        let r = scan::image::scan(&src, &Limits::default()).unwrap();
        let got: BTreeSet<String> = r
            .packages
            .iter()
            .filter(|p| p.kind == scan::pkgdb::PkgType::Rpm)
            .map(|p| format!("{} {}", p.name, p.version))
            .collect();
        assert_eq!(got, ours(dir, file), "{dir} through dir:");
        assert!(r.findings.iter().all(|f| f.rule_id != "SKD-IMG-071"));
        {
            // Syft writes the epoch apart; ours is `epoch:version-release`. Syft leaves out
            // rpm's gpg-pubkey pseudo-packages.
            if let Some(sy) = syft_packages(&format!("dir:{}", root.display()), "rpm") {
                let strip: BTreeSet<String> = got
                    .iter()
                    .map(|s| {
                        let (n, v) = s.split_once(' ').unwrap();
                        let v = v.split_once(':').map_or(v, |(_, r)| r);
                        format!("{n} {v}")
                    })
                    .filter(|s| !s.starts_with("gpg-pubkey "))
                    .collect();
                let sy: BTreeSet<String> = sy
                    .into_iter()
                    .map(|s| {
                        let (n, v) = s.split_once(' ').unwrap();
                        let v = v.split_once(':').map_or(v, |(_, r)| r);
                        format!("{n} {v}")
                    })
                    .collect();
                assert!(!sy.is_empty(), "{dir}: Syft found no rpm package");
                assert_eq!(strip, sy, "{dir}/{file} differs from Syft");
                println!("{dir}/{file}: {} packages equal Syft's", sy.len());
            }
        }
    }
}

#[test]
fn damaged_rpm_databases_are_errors() {
    if corpus("rpmdb").is_none() {
        skip("the rpmdb corpus is missing");
        return;
    }
    for (dir, file) in DBS {
        let data = std::fs::read(corpus(&format!("rpmdb/{dir}/{file}")).unwrap()).unwrap();
        // Truncated to a third.
        let cut = &data[..data.len() / 3];
        let e = scan::pkgdb::rpm::parse(file, file, cut);
        assert!(
            e.is_err(),
            "{dir}: a truncated database must not read as a shorter list"
        );
        println!("{dir} truncated: {}", e.unwrap_err());
        // Zeros.
        let zero = vec![0u8; data.len()];
        assert!(scan::pkgdb::rpm::parse(file, file, &zero).is_err());
    }
}
