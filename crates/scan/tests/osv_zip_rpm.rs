//! `stockade db import all.zip`: OSV's per-ecosystem archive read entry by entry (deflated, as
//! OSV publishes it), imported as the same records as the unpacked directory; truncated,
//! corrupted and undecodable archives are errors that leave the store as it was. And rpm
//! packages matched against the OSV records of rpm distributions (here SUSE, with the real SLE 15
//! BCI NDB database of ../shared/corpora/rpmdb), with rpm's version order, only for the image's
//! own distribution and release.

mod image_support;

use image_support::*;
use scan::image::{Limits, ScanOptions, Source};
use scan::osv::Store;
use std::io::Write;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv")
}

/// The fixture records as OSV's all.zip lays them out (flat, `ID.json`), deflated, with a
/// directory entry and a non-JSON entry that the import skips.
fn all_zip(out: &Path) -> Vec<String> {
    let f = std::fs::File::create(out).unwrap();
    let mut z = zip::ZipWriter::new(f);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.add_directory("notes/", opts).unwrap();
    z.start_file("notes/README.txt", opts).unwrap();
    z.write_all(b"not a record\n").unwrap();
    let mut ids = Vec::new();
    for sub in ["debian", "go", "synthetic"] {
        let mut names: Vec<PathBuf> = std::fs::read_dir(fixtures().join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for p in names {
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            z.start_file(name.as_str(), opts).unwrap();
            z.write_all(&std::fs::read(&p).unwrap()).unwrap();
            ids.push(name.trim_end_matches(".json").to_string());
        }
    }
    z.finish().unwrap();
    ids.sort();
    ids
}

fn ids(db: &Path) -> Vec<String> {
    let mut v: Vec<String> = Store::load(db)
        .unwrap()
        .unwrap()
        .records
        .iter()
        .map(|r| r.id.clone())
        .collect();
    v.sort();
    v
}

#[test]
fn all_zip_imports_the_same_records_as_the_directory() {
    let t = TempDir::new("allzip");
    let zip = t.path().join("all.zip");
    let want = all_zip(&zip);
    assert_eq!(want.len(), 4);
    let from_zip = t.path().join("db-zip");
    let p = Store::import(&from_zip, &zip).unwrap();
    assert_eq!(p.records, 4);
    assert!(p.source.ends_with("all.zip"), "{}", p.source);
    let from_dir = t.path().join("db-dir");
    Store::import(&from_dir, &fixtures()).unwrap();
    assert_eq!(ids(&from_zip), want);
    assert_eq!(ids(&from_zip), ids(&from_dir));
    // The same records, field for field.
    let a = Store::load(&from_zip).unwrap().unwrap();
    let b = Store::load(&from_dir).unwrap().unwrap();
    for r in &a.records {
        let o = b.records.iter().find(|x| x.id == r.id).unwrap();
        assert_eq!(
            serde_json::to_value(r).unwrap(),
            serde_json::to_value(o).unwrap()
        );
    }
}

#[test]
fn corrupt_archives_are_errors_and_leave_the_store_whole() {
    let t = TempDir::new("badzip");
    let good = t.path().join("all.zip");
    all_zip(&good);
    let db = t.path().join("db");
    Store::import(&db, &good).unwrap();
    let before = std::fs::read(Store::path(&db)).unwrap();
    let bytes = std::fs::read(&good).unwrap();

    // Truncated: the central directory is gone.
    let cut = t.path().join("truncated.zip");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = Store::import(&db, &cut).unwrap_err().to_string();
    assert!(e.contains("truncated.zip") && e.contains("zip"), "{e}");

    // A byte of a record's deflated data flipped: inflating fails or the CRC does not match.
    let at = bytes
        .windows(21)
        .position(|w| w == b"DEBIAN-CVE-2024-21626")
        .unwrap();
    let mut flipped = bytes.clone();
    // The local header's name is followed by the deflated data: damage it.
    flipped[at + 21 + 30] ^= 0x55;
    let f = t.path().join("flipped.zip");
    std::fs::write(&f, &flipped).unwrap();
    let e = Store::import(&db, &f).unwrap_err().to_string();
    assert!(e.contains("DEBIAN-CVE-2024-21626.json"), "{e}");

    // An entry that is not an OSV record.
    let nj = t.path().join("notjson.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&nj).unwrap());
    z.start_file("GHSA-bad.json", zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(b"{\"id\": 42}").unwrap();
    z.finish().unwrap();
    let e = Store::import(&db, &nj).unwrap_err().to_string();
    assert!(
        e.contains("GHSA-bad.json") && e.contains("not an OSV record"),
        "{e}"
    );

    // An archive without records.
    let empty = t.path().join("empty.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&empty).unwrap());
    z.start_file("README", zip::write::SimpleFileOptions::default())
        .unwrap();
    z.finish().unwrap();
    let e = Store::import(&db, &empty).unwrap_err().to_string();
    assert!(e.contains("no OSV records"), "{e}");

    assert_eq!(std::fs::read(Store::path(&db)).unwrap(), before);
}

/// A SUSE-format OSV record (made up for this test: `TEST-` ids, no real CVE).
fn suse_record(id: &str, ecosystem: &str, name: &str, fixed: &str) -> serde_json::Value {
    serde_json::json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": "2026-11-01T00:00:00Z",
        "summary": format!("test advisory for {name}"),
        "affected": [{
            "package": {"ecosystem": ecosystem, "name": name, "purl": format!("pkg:rpm/suse/{name}")},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
        }]
    })
}

#[test]
fn rpm_packages_match_their_distributions_advisories() {
    let Some(ndb) = corpus("rpmdb/sle15-bci-ndb/Packages.db") else {
        skip("the rpmdb corpus is missing");
        return;
    };
    let t = TempDir::new("rpmosv");
    let root = t.path().join("root");
    std::fs::create_dir_all(root.join("var/lib/rpm")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::copy(&ndb, root.join("var/lib/rpm/Packages.db")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "NAME=\"SLES\"\nVERSION=\"15-SP3\"\nVERSION_ID=\"15.3\"\nID=\"sles\"\n",
    )
    .unwrap();
    let recs = t.path().join("osv");
    std::fs::create_dir_all(&recs).unwrap();
    let sp3 = "SUSE:Linux Enterprise Server 15 SP3";
    for (id, eco, name, fixed) in [
        // libzstd1 1.4.4-1.6.1 installed: the release 1.6.2 is newer (rpm order).
        ("TEST-RPM-1", sp3, "libzstd1", "1.4.4-1.6.2"),
        // glibc 2.31-9.3.2 installed: 2.31-9.3.1 is older, and 2.31-10 is newer than 9.3.2 in
        // rpm's order (10 > 9 numerically), though not as strings.
        ("TEST-RPM-2", sp3, "glibc", "2.31-9.3.1"),
        ("TEST-RPM-3", sp3, "glibc", "2.31-10"),
        // Another release, another distribution: not this image's.
        (
            "TEST-RPM-4",
            "SUSE:Linux Enterprise Server 15 SP4",
            "libzstd1",
            "9:9",
        ),
        ("TEST-RPM-5", "AlmaLinux:9", "libzstd1", "9:9"),
        // By source package name (zstd) when no binary is named.
        ("TEST-RPM-6", sp3, "zstd", "1.4.4-1.6.5"),
    ] {
        std::fs::write(
            recs.join(format!("{id}.json")),
            serde_json::to_vec(&suse_record(id, eco, name, fixed)).unwrap(),
        )
        .unwrap();
    }
    let db = t.path().join("db");
    Store::import(&db, &recs).unwrap();
    let src: Source = format!("dir:{}", root.display()).parse().unwrap();
    let r = scan::image::scan_with(
        &src,
        &ScanOptions {
            limits: Limits::default(),
            store: Store::load(&db).unwrap(),
            ignore_unfixed: false,
        },
    )
    .unwrap();
    let hits: Vec<(String, String, String)> = r
        .findings
        .iter()
        .filter(|f| f.rule_id == "SKD-IMG-070")
        .map(|f| {
            (
                f.advisory.clone().unwrap_or_default(),
                f.package.clone().unwrap_or_default(),
                f.fixed_in.clone().unwrap_or_default(),
            )
        })
        .collect();
    let mut ids: Vec<&str> = hits
        .iter()
        .map(|(a, _, _)| a.split_whitespace().next().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["TEST-RPM-1", "TEST-RPM-3", "TEST-RPM-6"], "{hits:?}");
    let one = hits.iter().find(|h| h.0.starts_with("TEST-RPM-1")).unwrap();
    assert_eq!(
        (one.1.as_str(), one.2.as_str()),
        ("libzstd1", "1.4.4-1.6.2")
    );
    let f = r
        .findings
        .iter()
        .find(|f| {
            f.advisory
                .as_deref()
                .is_some_and(|a| a.starts_with("TEST-RPM-1"))
        })
        .unwrap();
    assert_eq!(f.status.as_deref(), Some("fixed"));
    assert!(
        f.message.contains("(SUSE:Linux Enterprise Server 15 SP3)"),
        "{}",
        f.message
    );
}
