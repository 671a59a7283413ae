//! Debian version order against the reference: `dpkg --compare-versions` over generated pairs
//! (valid versions built from the characters each part allows, and near-misses of each other so
//! equal and `~` cases are common), and every string dpkg refuses is refused by us too.
//!
//! Needs `dpkg` (every Debian machine has it); without it the test prints `SKIP` (a failure under
//! `CI=true`).

use std::cmp::Ordering;
use std::io::Write;
use std::process::{Command, Stdio};

use scan::version::deb::{compare, DebVersion};

fn have_dpkg() -> bool {
    let ok = Command::new("dpkg")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        testkit::skip("dpkg not found; cannot compare against dpkg --compare-versions");
    }
    ok
}

const PIECES: &[&str] = &[
    "0",
    "1",
    "2",
    "9",
    "10",
    "01",
    "00",
    "123",
    "99999999999999999999",
    ".",
    "+",
    "~",
    "~~",
    "a",
    "b",
    "Z",
    "rc",
    "beta",
    "ds",
    "dfsg",
    "deb12u",
    "ubuntu",
    "git",
    "+b",
    "~rc",
    ".0",
];
const REV_PIECES: &[&str] = &[
    "0", "1", "2", "10", ".", "+", "~", "deb12u", "ubuntu", "a", "b", "~bpo",
];

fn gen(rng: &mut testkit::Rng) -> String {
    let mut s = String::new();
    match rng.below(6) {
        0 => s.push_str("1:"),
        1 => s.push_str(rng.pick(&["0:", "2:", "00:", "10:"])),
        _ => {}
    }
    s.push_str(rng.pick(&["0", "1", "2", "10", "6"]));
    for _ in 0..rng.below(5) {
        s.push_str(rng.pick(PIECES));
    }
    if rng.below(3) > 0 {
        if rng.below(5) == 0 {
            // a hyphen inside the upstream part (allowed when a revision follows)
            s.push_str("-rc");
            s.push_str(rng.pick(&["1", "2"]));
        }
        s.push('-');
        s.push_str(rng.pick(&["0", "1", "2", "10", "0ubuntu"]));
        for _ in 0..rng.below(4) {
            s.push_str(rng.pick(REV_PIECES));
        }
    }
    s
}

/// A near miss of `s`: one piece appended, removed or swapped, so the pair is often close.
fn mutate(rng: &mut testkit::Rng, s: &str) -> String {
    let mut t = s.to_string();
    match rng.below(5) {
        0 => t.push_str(rng.pick(&["~", "+b1", "a", ".0", "~rc1"])),
        1 if t.len() > 2 && !t.ends_with('-') => {
            t.pop();
        }
        2 => t = t.replacen('1', "2", 1),
        3 => t = format!("0:{t}"),
        _ => {}
    }
    t
}

#[test]
fn order_matches_dpkg_compare_versions() {
    if !have_dpkg() {
        return;
    }
    let mut rng = testkit::Rng::new(0x5eed_1234_abcd_ef01);
    let mut pairs = Vec::new();
    while pairs.len() < 1500 {
        let a = gen(&mut rng);
        let b = if rng.below(2) == 0 {
            mutate(&mut rng, &a)
        } else {
            gen(&mut rng)
        };
        // Keep only pairs dpkg itself accepts without a warning (checked below as well).
        if DebVersion::parse(&a).is_ok() && DebVersion::parse(&b).is_ok() {
            pairs.push((a, b));
        }
    }
    // One shell, one dpkg per pair: `lt` then `eq` decides the order.
    let script = r#"while read -r a b; do
        if dpkg --compare-versions "$a" lt "$b" 2>/dev/null; then echo "-1"
        elif dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then echo "0"
        else echo "1"; fi
    done"#;
    let mut child = Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    {
        let mut stdin = child.stdin.take().unwrap();
        for (a, b) in &pairs {
            writeln!(stdin, "{a} {b}").unwrap();
        }
    }
    let out = child.wait_with_output().expect("sh");
    let answers: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(answers.len(), pairs.len(), "dpkg answered every pair");
    let (mut lt, mut eq, mut gt) = (0, 0, 0);
    for ((a, b), want) in pairs.iter().zip(answers) {
        let want = match want {
            "-1" => Ordering::Less,
            "0" => Ordering::Equal,
            _ => Ordering::Greater,
        };
        match want {
            Ordering::Less => lt += 1,
            Ordering::Equal => eq += 1,
            Ordering::Greater => gt += 1,
        }
        assert_eq!(compare(a, b).unwrap(), want, "{a} vs {b}");
    }
    println!(
        "{} pairs agree with dpkg --compare-versions ({lt} lt, {eq} eq, {gt} gt)",
        pairs.len()
    );
    // The generator must exercise all three answers, or the test proves little.
    assert!(lt > 100 && gt > 100 && eq > 20, "lt {lt} eq {eq} gt {gt}");
}

#[test]
fn refused_where_dpkg_refuses_or_warns() {
    if !have_dpkg() {
        return;
    }
    for bad in [
        ":1",
        "a:1",
        "99999999999:1",
        "1:",
        "1.0-",
        "-1",
        "a1",
        "1.0_1",
        "1-a_b",
        "1:a",
        "1.0-1-",
        "1.0-1:2",
    ] {
        assert!(DebVersion::parse(bad).is_err(), "{bad:?} accepted");
        // dpkg either fails or warns ("has bad syntax") on each of these.
        let out = Command::new("dpkg")
            .args(["--compare-versions", bad, "eq", "1"])
            .output()
            .expect("dpkg");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.code() == Some(2)
                || stderr.contains("bad syntax")
                || stderr.contains("error"),
            "dpkg took {bad:?} silently: {:?} {stderr}",
            out.status
        );
    }
}

#[test]
fn the_runc_backport_sorts_below_upstream_fix() {
    // Debian 12's runc carries the CVE-2024-21626 fix as a patch; its version stays below
    // upstream's 1.1.12, which is why a scanner must use Debian's data, not the upstream number.
    let debian = DebVersion::parse("1.1.5+ds1-1+deb12u1").unwrap();
    assert!(debian < DebVersion::parse("1.1.12").unwrap());
    assert!(debian > DebVersion::parse("1.1.5+ds1-1").unwrap());
}
