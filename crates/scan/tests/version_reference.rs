//! Version order against the reference tools, over generated pairs: rpm's own `rpm.vercmp`
//! (Debian's rpm, through `rpm --eval` and its Lua interpreter) and `apk version -t` run in a
//! chroot of Alpine's minirootfs. (dpkg's order is tested against `dpkg --compare-versions` in
//! deb_version.rs.)
//!
//! Needs rpm; root and the Alpine corpus for apk. Without them `SKIP` (a failure under
//! `CI=true`).

mod image_support;

use image_support::*;
use std::cmp::Ordering;
use std::process::Command;

fn rpm_version(g: &mut testkit::Rng) -> String {
    let mut s = String::new();
    if g.below(4) == 0 {
        s.push_str(&format!("{}:", g.below(3)));
    }
    let parts = 1 + g.below(4);
    for i in 0..parts {
        if i > 0 {
            s.push_str(g.pick(&[".", ".", ".", "_", "+", "~", "^"]));
        }
        match g.below(5) {
            0 => s.push_str(g.pick(&["a", "b", "rc", "beta", "git", "el"])),
            1 => s.push_str(&format!("0{}", g.below(20))),
            _ => s.push_str(&g.below(30).to_string()),
        }
    }
    if g.below(3) > 0 {
        s.push('-');
        s.push_str(&g.below(5).to_string());
        if g.below(2) == 0 {
            s.push_str(g.pick(&[".el9", ".fc40", "~pre", "^post", ".1"]));
        }
    }
    s
}

/// Pairs: each generated version against a neighbour, a mutation of itself, and itself.
fn pairs(seed: u64, n: usize, gen: fn(&mut testkit::Rng) -> String) -> Vec<(String, String)> {
    let mut g = testkit::Rng::new(seed);
    let mut out = Vec::new();
    for _ in 0..n {
        let a = gen(&mut g);
        let b = gen(&mut g);
        let mut c = a.clone();
        if let Some(i) = c.rfind(|ch: char| ch.is_ascii_digit()) {
            let d = (c.as_bytes()[i] - b'0' + 1) % 10;
            c.replace_range(i..=i, &d.to_string());
        }
        out.push((a.clone(), b));
        out.push((a.clone(), c));
        out.push((a.clone(), a));
    }
    out
}

fn sign(o: Ordering) -> i32 {
    match o {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

#[test]
fn rpm_order_equals_rpm_vercmp() {
    if !have("rpm") {
        skip("rpm (Debian's rpm package) is needed for rpm.vercmp");
        return;
    }
    let pairs = pairs(0x5eed_1234, 700, rpm_version);
    let mut lua = String::from("%{lua: local p = {");
    for (a, b) in &pairs {
        lua.push_str(&format!("{{\"{a}\",\"{b}\"}},"));
    }
    lua.push_str("} for _, x in ipairs(p) do io.write(rpm.vercmp(x[1], x[2]), \"\\n\") end}");
    let o = Command::new("rpm").args(["--eval", &lua]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let theirs: Vec<i32> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(theirs.len(), pairs.len());
    let mut bad = Vec::new();
    for ((a, b), t) in pairs.iter().zip(&theirs) {
        let ours = sign(scan::version::rpm::compare_evr(a, b));
        if ours != *t {
            bad.push(format!("{a} vs {b}: ours {ours}, rpm {t}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        pairs.len(),
        bad.join("\n")
    );
    println!("rpm: {} pairs agree with rpm.vercmp", pairs.len());
}

fn apk_version(g: &mut testkit::Rng) -> String {
    let mut s = g.below(20).to_string();
    for _ in 0..g.below(4) {
        s.push('.');
        if g.below(5) == 0 {
            s.push('0');
        }
        s.push_str(&g.below(15).to_string());
    }
    if g.below(5) == 0 {
        s.push_str(g.pick(&["a", "b", "z"]));
    }
    for _ in 0..g.below(3) {
        s.push('_');
        s.push_str(g.pick(&["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"]));
        if g.below(2) == 0 {
            s.push_str(&g.below(12).to_string());
        }
    }
    if g.below(6) == 0 {
        s.push_str(g.pick(&["~abc123", "~ff00"]));
    }
    if g.below(3) > 0 {
        s.push_str(&format!("-r{}", g.below(12)));
    }
    s
}

#[test]
fn apk_order_equals_apk_version_t() {
    let Some(tgz) = corpus("images/alpine-minirootfs-3.20.3-x86_64.tar.gz") else {
        skip("the Alpine minirootfs corpus is missing");
        return;
    };
    if !is_root() {
        skip("root is needed to chroot into the Alpine rootfs");
        return;
    }
    let t = TempDir::new("apkver");
    let root = t.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    assert!(Command::new("tar")
        .arg("-xzf")
        .arg(&tgz)
        .arg("-C")
        .arg(&root)
        .status()
        .unwrap()
        .success());
    let pairs = pairs(0xa1b2_c3d4, 400, apk_version);
    // One shell in the chroot runs every comparison.
    let mut script = String::new();
    for (a, b) in &pairs {
        script.push_str(&format!("apk version -t '{a}' '{b}'\n"));
    }
    std::fs::write(root.join("pairs.sh"), script).unwrap();
    let o = Command::new("chroot")
        .arg(&root)
        .args(["/bin/sh", "/pairs.sh"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let theirs: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(theirs.len(), pairs.len());
    let mut bad = Vec::new();
    for ((a, b), t) in pairs.iter().zip(&theirs) {
        let ours = match scan::version::apk::compare(a, b) {
            Ordering::Less => "<",
            Ordering::Equal => "=",
            Ordering::Greater => ">",
        };
        if ours != t {
            bad.push(format!("{a} {t} {b} (ours {ours})"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        pairs.len(),
        bad.join("\n")
    );
    println!("apk: {} pairs agree with apk version -t", pairs.len());
}
