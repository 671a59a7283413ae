//! The dpkg reader against dpkg itself: this machine's real `/var/lib/dpkg/status` read by
//! `scan::pkgdb::dpkg` equals `dpkg-query -W` package for package (name, architecture, version,
//! source, source version). And every kind of damage to a copy of that file is an error naming
//! the line, never a shorter list.
//!
//! Needs `dpkg-query` and a dpkg database (every Debian machine); without them `SKIP` (a failure
//! under `CI=true`).

use std::collections::BTreeSet;
use std::process::Command;

use scan::pkgdb::dpkg::{parse_status, DpkgErrorKind};

fn real_status() -> Option<Vec<u8>> {
    match std::fs::read("/var/lib/dpkg/status") {
        Ok(b) if Command::new("dpkg-query").arg("--version").output().is_ok() => Some(b),
        _ => {
            testkit::skip("no /var/lib/dpkg/status or dpkg-query on this machine");
            None
        }
    }
}

#[test]
fn equals_dpkg_query_on_this_machine() {
    let Some(bytes) = real_status() else { return };
    let ours: BTreeSet<String> = parse_status(&bytes, "/var/lib/dpkg/status")
        .expect("this machine's dpkg database parses")
        .iter()
        .filter(|p| p.is_installed())
        .map(|p| {
            format!(
                "{}:{} {} {} {}",
                p.name,
                p.architecture.as_deref().unwrap_or(""),
                p.version,
                p.source,
                p.source_version
            )
        })
        .collect();
    let out = Command::new("dpkg-query")
        .args([
            "-W",
            "-f=${db:Status-Status} ${Package}:${Architecture} ${Version} ${source:Package} ${source:Version}\n",
        ])
        .output()
        .expect("dpkg-query");
    assert!(out.status.success());
    let theirs: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(st, _)| !matches!(*st, "not-installed" | "config-files"))
        .map(|(_, rest)| rest.to_string())
        .collect();
    assert!(
        theirs.len() > 50,
        "a real database: {} packages",
        theirs.len()
    );
    let only_ours: Vec<_> = ours.difference(&theirs).collect();
    let only_theirs: Vec<_> = theirs.difference(&ours).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "only ours: {only_ours:?}\nonly dpkg-query: {only_theirs:?}"
    );
    println!("{} installed packages equal dpkg-query -W", ours.len());
}

#[test]
fn damaged_copies_are_errors() {
    let Some(bytes) = real_status() else { return };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    // Truncated in the middle of a line (where depends on this host's database: inside a
    // field's name the last line has no colon, so it is a bad line).
    let cut = &text[..text.len() / 2];
    let cut = cut.trim_end_matches('\n');
    let e = parse_status(cut.as_bytes(), "copy").unwrap_err();
    assert!(
        matches!(
            e.kind,
            DpkgErrorKind::Truncated
                | DpkgErrorKind::MissingField(_)
                | DpkgErrorKind::BadVersion(_)
                | DpkgErrorKind::BadLine(_)
        ),
        "{e}"
    );
    // A field line without its colon.
    let broken = text.replacen("\nVersion: ", "\nVersion ", 1);
    let e = parse_status(broken.as_bytes(), "copy").unwrap_err();
    assert!(matches!(e.kind, DpkgErrorKind::BadLine(_)), "{e}");
    // Binary garbage in place of a paragraph.
    let mut garbage = bytes.clone();
    let mid = garbage.len() / 3;
    garbage.splice(mid..mid, b"\n\n\x00\xff\xfe\x01garbage\n".iter().copied());
    assert!(parse_status(&garbage, "copy").is_err());
    // Two paragraphs merged (the blank line lost): a duplicate field.
    let merged = text.replacen("\n\nPackage: ", "\nPackage: ", 1);
    let e = parse_status(merged.as_bytes(), "copy").unwrap_err();
    assert!(matches!(e.kind, DpkgErrorKind::DuplicateField(_)), "{e}");
}

/// Random damage never panics: bytes flipped, lines cut and duplicated in a real database, and
/// random version strings, each either parse or give an error.
#[test]
fn random_damage_never_panics() {
    let base: Vec<u8> = match std::fs::read("/var/lib/dpkg/status") {
        Ok(b) => b.into_iter().take(200_000).collect(),
        Err(_) => {
            b"Package: a\nStatus: install ok installed\nVersion: 1:2.3-4\nSource: b (1.0)\n\n"
                .to_vec()
        }
    };
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (mut ok, mut err) = (0, 0);
    for _ in 0..300 {
        let mut b = base.clone();
        for _ in 0..(next() % 8 + 1) {
            let i = (next() as usize) % b.len();
            match next() % 4 {
                0 => b[i] = (next() & 0xff) as u8,
                1 => b.truncate(i.max(1)),
                2 => {
                    let end = (i + (next() as usize % 64)).min(b.len());
                    let dup = b[i..end].to_vec();
                    b.splice(i..i, dup);
                }
                _ => b.insert(i, b"\n:( -~"[(next() % 6) as usize]),
            }
        }
        match parse_status(&b, "fuzz") {
            Ok(_) => ok += 1,
            Err(_) => err += 1,
        }
    }
    assert!(err > 0, "damage was never noticed ({ok} ok)");
    let alphabet = b"0123456789.:+-~abZ \xc3\xa9";
    for _ in 0..5000 {
        let len = (next() % 12) as usize;
        let s: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        let s = String::from_utf8_lossy(&s);
        if let Ok(v) = scan::version::deb::DebVersion::parse(&s) {
            // Accepted versions order consistently with themselves.
            assert_eq!(v.cmp(&v), std::cmp::Ordering::Equal);
        }
    }
}
