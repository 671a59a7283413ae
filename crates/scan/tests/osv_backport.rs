//! The offline vulnerability store and distro-exact matching: Debian's runc
//! 1.1.5+ds1-1+deb12u1 carries the backported fix for CVE-2024-21626 (upstream fixed 1.1.12).
//! With Debian's record imported it is not reported; with only the upstream (Go) record it is,
//! and the status says the verdict rests on the upstream record alone. Also: an older Debian
//! revision is reported as fixed in Debian's version, "no fix yet" and "will not fix" statuses,
//! `ignore_unfixed`, and where each import came from and how old the data is.

mod image_support;

use image_support::*;
use scan::image::{Limits, Report, ScanOptions, Source};
use scan::osv::Store;
use std::path::{Path, PathBuf};

fn fixtures(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/osv")
        .join(sub)
}

/// A Debian 12 image whose dpkg database lists runc at `runc_version` and libfoo1.
fn debian_image(t: &Path, runc_version: &str) -> Source {
    let status = format!(
        "Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u5\n\n\
Package: runc\nStatus: install ok installed\nArchitecture: amd64\nVersion: {runc_version}\n\n\
Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nSource: libfoo\nVersion: 1.0-1\n"
    );
    let mut l = Layer::new();
    l.file(
        "etc/os-release",
        0o644,
        b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
    )
    .file("var/lib/dpkg/status", 0o644, status.as_bytes());
    let d = t.join("layout");
    let layer = l.finish();
    write_oci(&d, &[(gzip(&layer), layer, GZ)], serde_json::json!({}));
    format!("oci:{}", d.display()).parse().unwrap()
}

fn scan(src: &Source, db: &Path, ignore_unfixed: bool) -> Report {
    let opts = ScanOptions {
        limits: Limits::default(),
        store: Store::load(db).unwrap(),
        ignore_unfixed,
    };
    scan::image::scan_with(src, &opts).unwrap()
}

fn cve_findings<'a>(r: &'a Report, cve: &str) -> Vec<&'a scan::image::checks::Finding> {
    r.findings
        .iter()
        .filter(|f| f.cves.iter().any(|c| c == cve))
        .collect()
}

#[test]
fn debian_backport_is_not_reported_when_debian_says_fixed() {
    let t = TempDir::new("backport");
    let db = t.path().join("db");
    Store::import(&db, &fixtures("debian")).unwrap();
    Store::import(&db, &fixtures("go")).unwrap();
    let r = scan(&debian_image(t.path(), "1.1.5+ds1-1+deb12u1"), &db, false);
    assert!(r
        .packages
        .iter()
        .any(|p| p.name == "runc" && p.source.as_deref() == Some("runc")));
    assert!(
        cve_findings(&r, "CVE-2024-21626").is_empty(),
        "the backport is a false positive: {:#?}",
        r.findings
    );
    let info = r.database.as_ref().unwrap();
    assert_eq!(info.imports.len(), 2);
    assert_eq!(info.records, 2);
    assert!(info.imports[0].source.ends_with("fixtures/osv/debian"));
    assert_eq!(
        info.imports[1].newest_modified.as_deref(),
        Some("2024-02-06T18:00:00Z")
    );
    assert!(
        info.age_days > 300,
        "data from 2024 is old: {}",
        info.age_days
    );
}

#[test]
fn upstream_record_alone_reports_the_backport_and_says_so() {
    let t = TempDir::new("upstream");
    let db = t.path().join("db");
    Store::import(&db, &fixtures("go")).unwrap();
    let r = scan(&debian_image(t.path(), "1.1.5+ds1-1+deb12u1"), &db, false);
    let f = cve_findings(&r, "CVE-2024-21626");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    let f = f[0];
    assert_eq!(f.rule_id, "SKD-IMG-001", "a runtime escape CVE");
    assert_eq!(f.package.as_deref(), Some("runc"));
    assert_eq!(f.fixed_in.as_deref(), Some("1.1.12"));
    assert_eq!(f.status.as_deref(), Some("fixed"));
    assert_eq!(f.advisory.as_deref(), Some("GO-2024-2491 (upstream only)"));
    assert!(
        f.message.contains("only the upstream record"),
        "{}",
        f.message
    );
    assert_eq!(f.layer, Some(0));
    println!("{}", f.message);
}

#[test]
fn older_debian_revision_is_reported_fixed_in_debians_version() {
    let t = TempDir::new("olddeb");
    let db = t.path().join("db");
    Store::import(&db, &fixtures("debian")).unwrap();
    Store::import(&db, &fixtures("go")).unwrap();
    let r = scan(&debian_image(t.path(), "1.1.5+ds1-1"), &db, false);
    let f = cve_findings(&r, "CVE-2024-21626");
    assert_eq!(f.len(), 1, "one finding, Debian's: {:#?}", r.findings);
    assert_eq!(f[0].fixed_in.as_deref(), Some("1.1.5+ds1-1+deb12u1"));
    assert_eq!(f[0].advisory.as_deref(), Some("DEBIAN-CVE-2024-21626"));
}

#[test]
fn unfixed_statuses_and_ignore_unfixed() {
    let t = TempDir::new("unfixed");
    let db = t.path().join("db");
    Store::import(&db, &fixtures("synthetic")).unwrap();
    let src = debian_image(t.path(), "1.1.5+ds1-1+deb12u1");
    let r = scan(&src, &db, false);
    let mut st: Vec<(String, String)> = r
        .findings
        .iter()
        .filter(|f| f.rule_id == "SKD-IMG-070")
        .map(|f| (f.advisory.clone().unwrap(), f.status.clone().unwrap()))
        .collect();
    st.sort();
    assert_eq!(
        st,
        [
            ("TEST-NOFIX-1".to_string(), "no-fix".to_string()),
            ("TEST-WONTFIX-1".to_string(), "will-not-fix".to_string())
        ]
    );
    // libfoo1 is matched by its source package, libfoo.
    assert!(r
        .findings
        .iter()
        .any(|f| f.package.as_deref() == Some("libfoo1")));
    let r = scan(&src, &db, true);
    assert!(
        !r.findings.iter().any(|f| f.rule_id == "SKD-IMG-070"),
        "{:#?}",
        r.findings
    );
}

#[test]
fn bad_osv_input_is_an_error_and_keeps_the_old_store() {
    let t = TempDir::new("badosv");
    let db = t.path().join("db");
    Store::import(&db, &fixtures("go")).unwrap();
    let bad = t.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("x.json"), b"{\"id\": \"X\", \"affected\": 3}").unwrap();
    let e = Store::import(&db, &bad).unwrap_err();
    assert!(e.to_string().contains("x.json"), "{e}");
    let e = Store::import(&db, &t.path().join("missing")).unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
    assert_eq!(
        Store::load(&db).unwrap().unwrap().records.len(),
        1,
        "old store whole"
    );
    std::fs::write(Store::path(&db), b"{ truncated").unwrap();
    let e = Store::load(&db).unwrap_err();
    assert!(e.to_string().contains("stockade db import"), "{e}");
}
