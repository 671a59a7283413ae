//! `stockade host`: host snapshots built here (Debian 12 with its stock kernel and runc, Ubuntu
//! 22.04 with a vulnerable kernel package, user namespaces disabled, Docker with userns-remap),
//! each judged CVE by CVE; hostile and broken inputs; and this machine for real.
//!
//! A snapshot is a directory with the files `stockade host --root` reads (os-release, the dpkg
//! status, Debian changelogs, /boot/config-*, engine and kubelet configs) and a facts JSON with
//! what uname, the sysctls and the LSM list would say. The tests check that the snapshot is
//! byte-for-byte unchanged after each run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn stockade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stockade"))
        .args(args)
        .output()
        .expect("run stockade")
}

/// A snapshot directory, removed on drop.
struct Snap {
    dir: PathBuf,
}

impl Drop for Snap {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(self.dir.with_extension("facts.json"));
    }
}

impl Snap {
    fn new(name: &str) -> Snap {
        let dir = std::env::temp_dir().join(format!(
            "stockade-host-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Snap { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> &Self {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }

    /// A Debian changelog, gzipped as dpkg installs it.
    fn changelog(&self, package: &str, text: &str) -> &Self {
        let rel = format!("usr/share/doc/{package}/changelog.Debian");
        self.write(&rel, text);
        let st = Command::new("gzip")
            .arg("-9n")
            .arg(self.path(&rel))
            .status()
            .expect("gzip");
        assert!(st.success());
        self
    }

    fn facts(&self, v: &Value) -> String {
        let p = self.dir.with_extension("facts.json");
        std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
        p.display().to_string()
    }

    /// Every file's path, mode, size and bytes: to prove a run changed nothing.
    fn fingerprint(&self) -> BTreeMap<String, (u32, Vec<u8>)> {
        fn walk(d: &Path, base: &Path, out: &mut BTreeMap<String, (u32, Vec<u8>)>) {
            for e in std::fs::read_dir(d).unwrap() {
                let e = e.unwrap();
                let p = e.path();
                let m = std::fs::symlink_metadata(&p).unwrap();
                use std::os::unix::fs::PermissionsExt;
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                if m.is_dir() {
                    out.insert(rel, (m.permissions().mode(), Vec::new()));
                    walk(&p, base, out);
                } else if m.is_file() {
                    out.insert(rel, (m.permissions().mode(), std::fs::read(&p).unwrap()));
                } else {
                    out.insert(rel, (m.permissions().mode(), Vec::new()));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.dir, &self.dir, &mut out);
        out
    }

    /// `stockade host --root SNAP --facts FACTS --format json`: the report, after checking the
    /// snapshot is unchanged and the exit code is 0 or 1.
    fn judge(&self, facts: &Value) -> Value {
        let f = self.facts(facts);
        let before = self.fingerprint();
        let root = self.dir.display().to_string();
        let o = stockade(&["host", "--root", &root, "--facts", &f, "--format", "json"]);
        assert_eq!(
            before,
            self.fingerprint(),
            "stockade host changed the snapshot"
        );
        assert!(
            matches!(o.status.code(), Some(0) | Some(1)),
            "exit {:?}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        let v: Value = serde_json::from_slice(&o.stdout).expect("JSON report");
        assert_eq!(v["schema"], "stockade.host/v1");
        v
    }
}

/// The finding for `cve`: (status, fixed_in, evidence joined).
fn cve(report: &Value, cve: &str) -> (String, Option<String>, String) {
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["cves"].as_array().unwrap().iter().any(|c| c == cve))
        .unwrap_or_else(|| panic!("no finding for {cve}: {report:#}"));
    for key in [
        "rule_id",
        "severity",
        "status",
        "component",
        "version",
        "cves",
        "evidence",
    ] {
        assert!(!f[key].is_null(), "{cve}: field {key} missing");
    }
    (
        f["status"].as_str().unwrap().to_string(),
        f["fixed_in"].as_str().map(String::from),
        f["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(" | "),
    )
}

fn rule<'a>(report: &'a Value, id: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == id)
        .collect()
}

fn status_of(report: &Value, id: &str) -> Vec<String> {
    rule(report, id)
        .iter()
        .map(|f| f["status"].as_str().unwrap().to_string())
        .collect()
}

fn pkg(name: &str, version: &str, source: Option<&str>) -> String {
    format!(
        "Package: {name}\nStatus: install ok installed\nArchitecture: amd64\n{}Version: {version}\nDescription: {name}\n test package\n\n",
        source.map(|s| format!("Source: {s}\n")).unwrap_or_default()
    )
}

const DEBIAN_CONFIG: &str = "CONFIG_USER_NS=y\nCONFIG_NF_TABLES=m\nCONFIG_OVERLAY_FS=m\nCONFIG_VSOCKETS=m\nCONFIG_CRYPTO_USER_API_AEAD=m\nCONFIG_INET_ESP=m\nCONFIG_INET6_ESP=m\n# CONFIG_MODULES is not set\n";

/// Debian 12 as released: kernel 6.1.27-1, runc 1.1.5+ds1-1 (before the CVE-2024-21626 upload),
/// containerd 1.6.20~ds1-1, AppArmor on, cgroup v2.
fn debian12(name: &str, runc: &str) -> Snap {
    let s = Snap::new(name);
    s.write(
        "etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
    );
    let status = [
        pkg("base-files", "12.4+deb12u5", None),
        pkg("linux-image-6.1.0-9-amd64", "6.1.27-1", Some("linux")),
        pkg("runc", runc, None),
        pkg("containerd", "1.6.20~ds1-1", None),
    ]
    .concat();
    s.write("var/lib/dpkg/status", &status);
    s.write("boot/config-6.1.0-9-amd64", DEBIAN_CONFIG);
    let mut log = String::new();
    if runc == "1.1.5+ds1-1+deb12u1" {
        log.push_str("runc (1.1.5+ds1-1+deb12u1) bookworm-security; urgency=high\n\n  * Team upload.\n  * CVE-2024-21626: several container breakouts due to internally leaked fds\n\n -- Shengjing Zhu <zhsj@debian.org>  Fri, 02 Feb 2024 21:53:05 +0800\n\n");
    }
    log.push_str("runc (1.1.5+ds1-1) unstable; urgency=medium\n\n  * New upstream version 1.1.5+ds1\n    + CVE-2023-25809: rootless: `/sys/fs/cgroup` is writable when cgroupns\n      isn't unshared\n\n -- Shengjing Zhu <zhsj@debian.org>  Wed, 29 Mar 2023 17:24:36 +0800\n");
    s.changelog("runc", &log);
    s
}

fn debian12_facts() -> Value {
    json!({
        "uname": {"release": "6.1.0-9-amd64", "version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.27-1 (2023-05-08)", "machine": "x86_64"},
        "sysctls": {"user.max_user_namespaces": "63421", "kernel.unprivileged_userns_clone": "1",
                    "kernel.unprivileged_bpf_disabled": "2", "kernel.io_uring_disabled": "0",
                    "kernel.kptr_restrict": "0", "kernel.dmesg_restrict": "1", "fs.protected_regular": "2"},
        "lsms": ["lockdown", "capability", "landlock", "yama", "apparmor", "tomoyo", "bpf"],
        "lockdown": "none",
        "cgroup": "v2"
    })
}

#[test]
fn debian12_stock_kernel_and_runc() {
    let s = debian12("deb12", "1.1.5+ds1-1");
    let r = s.judge(&debian12_facts());
    // runc: Debian fixed CVE-2024-21626 in 1.1.5+ds1-1+deb12u1; this is the upload before.
    let (st, fixed, ev) = cve(&r, "CVE-2024-21626");
    assert_eq!(st, "vulnerable", "{ev}");
    assert_eq!(fixed.as_deref(), Some("1.1.5+ds1-1+deb12u1"));
    for c in ["CVE-2025-31133", "CVE-2025-52565", "CVE-2025-52881"] {
        let (st, fixed, ev) = cve(&r, c);
        assert_eq!(st, "vulnerable", "{c}: {ev}");
        assert_eq!(fixed.as_deref(), Some("1.2.8"), "{c}");
    }
    // The kernel: Debian package 6.1.27-1, stable base 6.1.27.
    let (st, fixed, ev) = cve(&r, "CVE-2024-1086");
    assert_eq!(st, "vulnerable", "{ev}");
    assert_eq!(fixed.as_deref(), Some("6.1.76-1"), "Debian's fixed package");
    assert!(
        ev.contains("precondition met: unprivileged user namespaces"),
        "{ev}"
    );
    assert!(ev.contains("not proved"), "{ev}");
    // Debian's 6.1.27-1 carries the CVE-2023-32233 fix although upstream's is 6.1.28 (its
    // changelog names the CVE in that upload; the escape database records it).
    let (st, _, ev) = cve(&r, "CVE-2023-32233");
    assert_eq!(st, "fixed", "{ev}");
    assert!(
        ev.contains("debian 12 fixed it in kernel package 6.1.27-1 (distro data)"),
        "{ev}"
    );
    let (st, _, ev) = cve(&r, "CVE-2023-0386");
    assert_eq!(st, "fixed", "6.1.27 is past 6.1.9: {ev}");
    for c in ["CVE-2022-0847", "CVE-2022-0185", "CVE-2022-0492"] {
        assert_eq!(cve(&r, c).0, "fixed", "{c}");
    }
    // Debian's own fixed packages (from its kernel changelog), not the upstream releases.
    for (c, f) in [
        ("CVE-2025-21756", "6.1.133-1"),
        ("CVE-2026-31431", "6.1.170-1"),
        ("CVE-2026-43284", "6.1.170-2"),
    ] {
        let (st, fixed, ev) = cve(&r, c);
        assert_eq!(
            (st.as_str(), fixed.as_deref()),
            ("vulnerable", Some(f)),
            "{c}: {ev}"
        );
    }
    assert!(cve(&r, "CVE-2026-31431")
        .2
        .contains("kernel config has CONFIG_CRYPTO_USER_API_AEAD"));
    // containerd 1.6.20 is past the CVE-2020-15257 fix.
    assert_eq!(cve(&r, "CVE-2020-15257").0, "fixed");
    // AppArmor on: no SKD-HOST-005 problem; userns open: SKD-HOST-003 vulnerable.
    assert_eq!(status_of(&r, "SKD-HOST-005"), ["fixed"]);
    assert_eq!(status_of(&r, "SKD-HOST-003"), ["vulnerable"]);
    let sysctl_findings: Vec<String> = rule(&r, "SKD-HOST-004")
        .iter()
        .map(|f| f["version"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        sysctl_findings,
        ["kernel.io_uring_disabled=0", "kernel.kptr_restrict=0"]
    );
    assert!(rule(&r, "SKD-HOST-016").is_empty(), "no unreadable input");
}

#[test]
fn debian12_security_update_runc_is_a_backport() {
    let s = debian12("deb12u1", "1.1.5+ds1-1+deb12u1");
    let r = s.judge(&debian12_facts());
    let (st, fixed, ev) = cve(&r, "CVE-2024-21626");
    assert_eq!(st, "fixed", "{ev}");
    assert_eq!(fixed, None);
    assert!(
        ev.contains("changelog.Debian.gz names CVE-2024-21626 in upload 1.1.5+ds1-1+deb12u1"),
        "{ev}"
    );
    assert!(ev.contains("backport"), "{ev}");
    for c in ["CVE-2025-31133", "CVE-2025-52565", "CVE-2025-52881"] {
        assert_eq!(cve(&r, c).0, "vulnerable", "{c}");
    }
}

#[test]
fn debian_kernel_changelog_backport_and_binary_without_package() {
    let s = debian12("kbackport", "1.1.5+ds1-1");
    // Debian unstable in May 2023 (6.1.27-1 was an unstable upload): no release for which the
    // database has distribution data, so the kernel package's changelog decides.
    s.write(
        "etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nNAME=\"Debian GNU/Linux\"\nID=debian\n",
    );
    // Debian's kernel changelog names CVE-2023-32233 in an upload at or below the running one:
    // fixed by backport although 6.1.27 is below the stable fix 6.1.28.
    s.changelog(
        "linux-image-6.1.0-9-amd64",
        "linux (6.1.27-1) unstable; urgency=medium\n\n  * New upstream stable update\n  * netfilter: nf_tables: deactivate anonymous set from preparation phase\n    (CVE-2023-32233)\n\n -- Salvatore Bonaccorso <carnil@debian.org>  Mon, 08 May 2023 07:00:00 +0200\n",
    );
    // A CRI-O binary that no package owns: its version is unknown, judged by nothing.
    s.write(
        "usr/local/bin/crio",
        "#!/bin/sh\necho crio version 1.23.0\n",
    );
    let r = s.judge(&debian12_facts());
    let (st, _, ev) = cve(&r, "CVE-2023-32233");
    assert_eq!(st, "fixed", "{ev}");
    assert!(
        ev.contains(
            "linux-image-6.1.0-9-amd64/changelog.Debian.gz names CVE-2023-32233 in upload 6.1.27-1"
        ),
        "{ev}"
    );
    assert_eq!(
        cve(&r, "CVE-2024-1086").0,
        "vulnerable",
        "other CVEs are still judged by version"
    );
    let (st, _, ev) = cve(&r, "CVE-2022-0811");
    assert_eq!(st, "vulnerable", "{ev}");
    assert!(
        ev.contains("binary present, version unknown") && ev.contains("fail closed"),
        "{ev}"
    );
    assert!(ev.contains("usr/local/bin/crio"), "{ev}");
}

/// A Go binary whose main module is `module`, with `-ldflags` `ldflags` (none: `(devel)` only).
fn go_binary(dir: &Path, module: &str, ldflags: &str) -> Option<Vec<u8>> {
    if !testkit::have("go") {
        testkit::skip("go (golang-go) is needed to build a Go binary with build info");
        return None;
    }
    let m = dir.join("gomod");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(m.join("go.mod"), format!("module {module}\n\ngo 1.19\n")).unwrap();
    std::fs::write(
        m.join("main.go"),
        "package main\n\nvar version = \"unknown\"\n\nfunc main() { println(version) }\n",
    )
    .unwrap();
    let o = Command::new("go")
        .args([
            "build",
            "-buildvcs=false",
            "-ldflags",
            ldflags,
            "-o",
            "bin",
            ".",
        ])
        .current_dir(&m)
        .env(
            "GOCACHE",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("gocache"),
        )
        .env("GOPATH", dir.join("gopath"))
        .env("GOFLAGS", "-mod=mod")
        .env("CGO_ENABLED", "0")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let bin = std::fs::read(m.join("bin")).unwrap();
    let _ = std::fs::remove_dir_all(dir);
    Some(bin)
}

#[test]
fn go_binary_without_package_is_judged_by_its_build_info() {
    // A node with runc from a source build in /usr/local/sbin and no runc package: the version
    // its build wrote (-X main.version=1.1.11) is read from its Go build info, never by
    // running it (a snapshot's binaries are not this machine's).
    let tmp = std::env::temp_dir().join(format!("stockade-host-gobin-{}", std::process::id()));
    let Some(bin) = go_binary(
        &tmp,
        "github.com/opencontainers/runc",
        "-X main.version=1.1.11",
    ) else {
        return;
    };
    let s = Snap::new("gobin");
    s.write(
        "etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
    );
    s.write(
        "var/lib/dpkg/status",
        &pkg("base-files", "12.4+deb12u5", None),
    );
    let p = s.path("usr/local/sbin/runc");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = s.judge(&debian12_facts());
    let comp = r["host"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "runc")
        .unwrap_or_else(|| panic!("{}", r["host"]["components"]));
    assert_eq!(comp["source"], "Go build info", "{comp}");
    assert_eq!(comp["version"], "1.1.11", "{comp}");
    let (st, fixed, ev) = cve(&r, "CVE-2024-21626");
    assert_eq!(st, "vulnerable", "{ev}");
    assert_eq!(fixed.as_deref(), Some("1.1.12"), "{ev}");
    assert!(!ev.contains("version unknown"), "{ev}");
}

#[test]
fn ubuntu2204_vulnerable_kernel_package() {
    let s = Snap::new("jammy");
    s.write(
        "etc/os-release",
        "PRETTY_NAME=\"Ubuntu 22.04.3 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\nID_LIKE=debian\n",
    );
    s.write(
        "var/lib/dpkg/status",
        &[
            pkg(
                "linux-image-5.15.0-91-generic",
                "5.15.0-91.101",
                Some("linux-signed"),
            ),
            pkg("runc", "1.1.7-0ubuntu1~22.04.1", None),
            pkg("containerd", "1.7.2-0ubuntu1~22.04.1", None),
        ]
        .concat(),
    );
    s.write(
        "boot/config-5.15.0-91-generic",
        &DEBIAN_CONFIG.replace("# CONFIG_MODULES is not set", "CONFIG_MODULES=y"),
    );
    let r = s.judge(&json!({
        "uname": {"release": "5.15.0-91-generic", "version": "#101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023", "machine": "x86_64"},
        "version_signature": "Ubuntu 5.15.0-91.101-generic 5.15.131",
        "sysctls": {"user.max_user_namespaces": "15000", "kernel.unprivileged_userns_clone": "1", "kernel.modules_disabled": "0"},
        "lsms": ["lockdown", "capability", "landlock", "yama", "apparmor"],
        "cgroup": "v2"
    }));
    let (st, fixed, ev) = cve(&r, "CVE-2024-1086");
    assert_eq!(st, "vulnerable", "{ev}");
    assert_eq!(fixed.as_deref(), Some("5.15.149"));
    assert!(ev.contains("Ubuntu version signature"), "{ev}");
    assert!(rule(&r, "SKD-HOST-001")[0]["version"]
        .as_str()
        .unwrap()
        .contains("package 5.15.0-91.101"));
    assert_eq!(cve(&r, "CVE-2025-21756").1.as_deref(), Some("5.15.179"));
    assert_eq!(cve(&r, "CVE-2026-31431").0, "vulnerable");
    for c in [
        "CVE-2023-32233",
        "CVE-2023-0386",
        "CVE-2022-0185",
        "CVE-2022-0492",
        "CVE-2022-0847",
    ] {
        assert_eq!(cve(&r, c).0, "fixed", "{c}: 5.15.131 is past its fix");
    }
    // No Ubuntu data and no changelog: runc 1.1.7 is judged by upstream's 1.1.12.
    let (st, fixed, _) = cve(&r, "CVE-2024-21626");
    assert_eq!(
        (st.as_str(), fixed.as_deref()),
        ("vulnerable", Some("1.1.12"))
    );
    assert_eq!(cve(&r, "CVE-2020-15257").0, "fixed");
    // Modules loadable, no lockdown.
    assert!(rule(&r, "SKD-HOST-004")
        .iter()
        .any(|f| f["version"] == "kernel.modules_disabled=0"));
}

#[test]
fn userns_disabled_mitigates_the_userns_bugs() {
    let s = debian12("nouserns", "1.1.5+ds1-1");
    let mut facts = debian12_facts();
    facts["sysctls"]["kernel.unprivileged_userns_clone"] = json!("0");
    let r = s.judge(&facts);
    // (CVE-2023-32233 is fixed in Debian's 6.1.27-1 itself: the mitigation is only "also".)
    let (st, _, ev) = cve(&r, "CVE-2023-32233");
    assert_eq!(st, "fixed", "{ev}");
    assert!(
        ev.contains("also: unprivileged user namespaces disabled"),
        "{ev}"
    );
    for c in ["CVE-2024-1086", "CVE-2026-43284"] {
        let (st, fixed, ev) = cve(&r, c);
        assert_eq!(st, "mitigated", "{c}: {ev}");
        assert!(
            ev.contains("kernel.unprivileged_userns_clone=0"),
            "{c}: {ev}"
        );
        assert!(fixed.is_some(), "{c}: the fix is still named");
    }
    // Bugs that need no user namespace stay vulnerable.
    assert_eq!(cve(&r, "CVE-2026-31431").0, "vulnerable");
    assert_eq!(cve(&r, "CVE-2025-21756").0, "vulnerable");
    assert_eq!(status_of(&r, "SKD-HOST-003"), ["mitigated"]);

    // The same with user.max_user_namespaces=0, and with the kernel built without nf_tables.
    let mut facts = debian12_facts();
    facts["sysctls"]["user.max_user_namespaces"] = json!("0");
    let r = s.judge(&facts);
    assert!(cve(&r, "CVE-2024-1086")
        .2
        .contains("user.max_user_namespaces=0"));
    s.write(
        "boot/config-6.1.0-9-amd64",
        "CONFIG_USER_NS=y\n# CONFIG_NF_TABLES is not set\n",
    );
    let r = s.judge(&debian12_facts());
    let (st, _, ev) = cve(&r, "CVE-2024-1086");
    assert_eq!(st, "mitigated");
    assert!(ev.contains("kernel built without CONFIG_NF_TABLES"), "{ev}");
}

#[test]
fn docker_userns_remap() {
    let s = debian12("remap", "1.1.5+ds1-1");
    let status = std::fs::read_to_string(s.path("var/lib/dpkg/status")).unwrap();
    s.write(
        "var/lib/dpkg/status",
        &(status + &pkg("docker.io", "20.10.24+dfsg1-1+b3", None)),
    );
    s.write(
        "etc/docker/daemon.json",
        r#"{"userns-remap": "default", "no-new-privileges": true, "icc": false, "log-driver": "journald"}"#,
    );
    let r = s.judge(&debian12_facts());
    for c in [
        "CVE-2024-21626",
        "CVE-2025-31133",
        "CVE-2025-52565",
        "CVE-2025-52881",
    ] {
        let (st, _, ev) = cve(&r, c);
        assert_eq!(st, "mitigated", "{c}: {ev}");
        assert!(ev.contains("userns-remap"), "{c}: {ev}");
    }
    assert_eq!(status_of(&r, "SKD-HOST-007"), ["mitigated"]);
    assert!(rule(&r, "SKD-HOST-008").is_empty(), "hardened daemon.json");
    // Docker's default seccomp profile keeps containers out of user namespaces.
    let (st, _, ev) = cve(&r, "CVE-2024-1086");
    assert_eq!(st, "mitigated", "{ev}");
    assert!(ev.contains("Docker's default seccomp profile"), "{ev}");

    // Without userns-remap, with seccomp off: the runc CVEs are vulnerable again.
    s.write(
        "etc/docker/daemon.json",
        r#"{"seccomp-profile": "unconfined"}"#,
    );
    let r = s.judge(&debian12_facts());
    assert_eq!(cve(&r, "CVE-2025-31133").0, "vulnerable");
    assert_eq!(cve(&r, "CVE-2024-1086").0, "vulnerable");
    assert_eq!(status_of(&r, "SKD-HOST-006"), ["vulnerable"]);
    assert_eq!(status_of(&r, "SKD-HOST-007"), ["vulnerable"]);
    assert_eq!(status_of(&r, "SKD-HOST-008"), ["vulnerable"]);
}

/// Debian 11 with its 5.10.92 kernel (before the CVE-2022-0492 fix) on a hybrid cgroup host:
/// AppArmor with an engine that applies its default container profile (which denies mount)
/// mitigates release_agent; without AppArmor it is vulnerable.
#[test]
fn apparmor_as_a_mitigation_fact() {
    let s = Snap::new("bullseye");
    s.write("etc/os-release", "ID=debian\nVERSION_ID=\"11\"\n");
    s.write(
        "var/lib/dpkg/status",
        &[
            pkg("linux-image-5.10.0-11-amd64", "5.10.92-1", Some("linux")),
            pkg("containerd", "1.4.13~ds1-1~deb11u1", None),
        ]
        .concat(),
    );
    s.write("boot/config-5.10.0-11-amd64", DEBIAN_CONFIG);
    let mut facts = json!({
        "uname": {"release": "5.10.0-11-amd64", "version": "#1 SMP Debian 5.10.92-1 (2022-01-18)", "machine": "x86_64"},
        "sysctls": {"user.max_user_namespaces": "63000", "kernel.unprivileged_userns_clone": "1"},
        "lsms": ["lockdown", "capability", "yama", "apparmor"],
        "cgroup": "hybrid"
    });
    let r = s.judge(&facts);
    let (st, fixed, ev) = cve(&r, "CVE-2022-0492");
    assert_eq!(st, "mitigated", "{ev}");
    assert_eq!(fixed.as_deref(), Some("5.10.97"));
    assert!(
        ev.contains("apparmor is active and containerd applies its default container profile"),
        "{ev}"
    );
    // Debian 11's 5.10.92-1 carries the CVE-2022-0185 fix (distro data).
    let (st, _, ev) = cve(&r, "CVE-2022-0185");
    assert_eq!(st, "fixed", "{ev}");
    assert!(
        ev.contains("debian 11 fixed it in kernel package 5.10.92-1"),
        "{ev}"
    );
    // Dirty Pipe: Debian fixed it in 5.10.92-2, so 5.10.92-1 is vulnerable, and needs nothing.
    let (st, fixed, _) = cve(&r, "CVE-2022-0847");
    assert_eq!(
        (st.as_str(), fixed.as_deref()),
        ("vulnerable", Some("5.10.92-2"))
    );
    facts["lsms"] = json!(["lockdown", "capability", "yama"]);
    let r = s.judge(&facts);
    let (st, _, ev) = cve(&r, "CVE-2022-0492");
    assert_eq!(st, "vulnerable", "{ev}");
    assert!(
        ev.contains("precondition met: cgroup v1 hierarchies"),
        "{ev}"
    );
}

/// Debian 12 running the 6.12 kernel series: Debian 12's fix for its 6.1 series (6.1.76-1) is not
/// applied to it; the 6.12 stable branch decides.
#[test]
fn distro_data_speaks_for_its_own_kernel_series() {
    let s = debian12("series", "1.1.5+ds1-1+deb12u1");
    let mut facts = debian12_facts();
    facts["uname"] = json!({"release": "6.12.118+deb12-cloud-amd64", "version": "#1 SMP PREEMPT_DYNAMIC Debian 6.12.118-1~deb12u1 (2026-11-28)", "machine": "x86_64"});
    let r = s.judge(&facts);
    let (st, _, ev) = cve(&r, "CVE-2024-1086");
    assert_eq!(st, "fixed", "{ev}");
    assert!(!ev.contains("6.1.76-1"), "{ev}");
    assert!(
        ev.contains("Debian package version 6.12.118-1~deb12u1"),
        "{ev}"
    );
    let (st, _, ev) = cve(&r, "CVE-2026-31431");
    assert_eq!(st, "fixed", "{ev}");
    assert!(ev.contains("at or past 6.12.85"), "{ev}");
}

#[test]
fn kubelet_config_findings() {
    let s = debian12("kubelet", "1.1.5+ds1-1+deb12u1");
    s.write(
        "var/lib/kubelet/config.yaml",
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  anonymous:\n    enabled: true\nreadOnlyPort: 10255\nallowedUnsafeSysctls: [\"kernel.*\"]\nfeatureGates:\n  UserNamespacesSupport: false\n",
    );
    let r = s.judge(&debian12_facts());
    for id in [
        "SKD-HOST-010",
        "SKD-HOST-011",
        "SKD-HOST-012",
        "SKD-HOST-013",
    ] {
        assert_eq!(status_of(&r, id), ["vulnerable"], "{id}");
    }
    assert_eq!(status_of(&r, "SKD-HOST-014"), ["vulnerable", "vulnerable"]);
    s.write(
        "var/lib/kubelet/config.yaml",
        "kind: KubeletConfiguration\nauthentication: {anonymous: {enabled: false}}\nreadOnlyPort: 0\nseccompDefault: true\nprotectKernelDefaults: true\n",
    );
    let r = s.judge(&debian12_facts());
    for id in [
        "SKD-HOST-010",
        "SKD-HOST-011",
        "SKD-HOST-012",
        "SKD-HOST-013",
        "SKD-HOST-014",
    ] {
        assert!(rule(&r, id).is_empty(), "{id}");
    }
    // seccompDefault: RuntimeDefault keeps pods out of user namespaces.
    assert_eq!(cve(&r, "CVE-2024-1086").0, "mitigated");
}

#[test]
fn engine_socket_modes() {
    let s = debian12("sockets", "1.1.5+ds1-1+deb12u1");
    std::fs::create_dir_all(s.path("run")).unwrap();
    let sock = s.path("run/docker.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let r = s.judge(&debian12_facts());
    let f = rule(&r, "SKD-HOST-015");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["status"], "vulnerable");
    assert!(f[0]["evidence"][0]
        .as_str()
        .unwrap()
        .contains("world-writable"));
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o660)).unwrap();
    let r = s.judge(&debian12_facts());
    assert!(
        rule(&r, "SKD-HOST-015").is_empty(),
        "root:root 0660 is fine"
    );
    drop(l);
}

#[test]
fn corrupt_package_database_is_a_finding() {
    let s = debian12("corrupt", "1.1.5+ds1-1");
    let status = std::fs::read_to_string(s.path("var/lib/dpkg/status")).unwrap();
    s.write(
        "var/lib/dpkg/status",
        &status.replacen("Version: 1.1.5+ds1-1", "Version 1.1.5+ds1-1", 1),
    );
    let r = s.judge(&debian12_facts());
    let f = rule(&r, "SKD-HOST-016");
    assert_eq!(f.len(), 1);
    let ev = f[0]["evidence"][0].as_str().unwrap();
    assert!(
        ev.contains("var/lib/dpkg/status:") && ev.contains("neither"),
        "{ev}"
    );
    assert!(
        rule(&r, "SKD-HOST-002").is_empty(),
        "no package is trusted from a corrupt database"
    );
    // The exit code says there are findings.
    let f = s.facts(&debian12_facts());
    let o = stockade(&["host", "--root", s.dir.to_str().unwrap(), "--facts", &f]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn hostile_configs_are_findings_not_crashes() {
    let s = debian12("hostile", "1.1.5+ds1-1");
    // A field of the wrong type, named by its path.
    s.write("etc/docker/daemon.json", r#"{"userns-remap": 5}"#);
    // A kubelet config that is a Pod, and a containerd config with a string for a boolean.
    s.write(
        "var/lib/kubelet/config.yaml",
        "kind: Pod\nmetadata: {name: x}\n",
    );
    s.write(
        "etc/containerd/config.toml",
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\nenable_unprivileged_ports = \"yes\"\n",
    );
    // CRI-O's config is a FIFO: reading must not block.
    std::fs::create_dir_all(s.path("etc/crio")).unwrap();
    assert!(Command::new("mkfifo")
        .arg(s.path("etc/crio/crio.conf"))
        .status()
        .unwrap()
        .success());
    // A symlink that points outside the snapshot resolves inside it (RESOLVE_IN_ROOT).
    std::fs::create_dir_all(s.path("etc/kubernetes/kubelet")).unwrap();
    std::os::unix::fs::symlink(
        "../../../../../../../../etc/passwd",
        s.path("etc/kubernetes/kubelet/config.yaml"),
    )
    .unwrap();
    let r = s.judge(&debian12_facts());
    let msgs: Vec<String> = rule(&r, "SKD-HOST-016")
        .iter()
        .map(|f| f["evidence"][0].as_str().unwrap().to_string())
        .collect();
    let has = |p: &str, w: &str| msgs.iter().any(|m| m.contains(p) && m.contains(w));
    assert!(has("daemon.json", "userns-remap"), "{msgs:?}");
    assert!(has("config.yaml", "not KubeletConfiguration"), "{msgs:?}");
    assert!(has("config.toml", "enable_unprivileged_ports"), "{msgs:?}");
    assert!(has("crio.conf", "not a regular file"), "{msgs:?}");
    assert!(
        !msgs.iter().any(|m| m.contains("root:x:0")),
        "the host's /etc/passwd was not read: {msgs:?}"
    );
    // A YAML alias bomb (10^9 nodes if expanded) neither hangs nor passes: the run returns at
    // once and the field it lands in is refused by its type.
    s.write(
        "var/lib/kubelet/config.yaml",
        &format!(
            "kind: KubeletConfiguration\na: &a [x,x,x,x,x,x,x,x,x,x]\n{}allowedUnsafeSysctls: *i\n",
            (b'b'..=b'i')
                .map(|c| {
                    let p = (c - 1) as char;
                    format!(
                        "{0}: &{0} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n",
                        c as char
                    )
                })
                .collect::<String>()
        ),
    );
    let r = s.judge(&debian12_facts());
    assert!(
        rule(&r, "SKD-HOST-016").iter().any(|f| f["evidence"][0]
            .as_str()
            .unwrap()
            .contains("var/lib/kubelet/config.yaml")),
        "alias bomb refused by the field type"
    );
}

#[test]
fn absurd_versions_are_judged_by_nothing() {
    let s = debian12("absurd", "1.1.5+ds1-1");
    let status = std::fs::read_to_string(s.path("var/lib/dpkg/status")).unwrap();
    s.write(
        "var/lib/dpkg/status",
        &status.replace(
            "Version: 1.1.5+ds1-1\n",
            "Version: 999999999999999999999.0-1\n",
        ),
    );
    let mut facts = debian12_facts();
    facts["uname"] =
        json!({"release": "99999999999999999999.1.0", "version": "#1 SMP", "machine": "x86_64"});
    let r = s.judge(&facts);
    let k = rule(&r, "SKD-HOST-017");
    assert_eq!(k.len(), 1, "one finding for the unjudgeable kernel");
    assert!(k[0]["evidence"][0]
        .as_str()
        .unwrap()
        .contains("beyond any real release"));
    assert!(rule(&r, "SKD-HOST-001").is_empty());
    let (st, _, ev) = cve(&r, "CVE-2024-21626");
    assert_eq!(st, "vulnerable", "{ev}");
    assert!(ev.contains("beyond any real release"), "{ev}");
    // An epoch past dpkg's limit makes the database corrupt.
    s.write(
        "var/lib/dpkg/status",
        &status.replace("Version: 1.1.5+ds1-1\n", "Version: 99999999999:1.0\n"),
    );
    let mut facts = debian12_facts();
    facts["uname"]["release"] = json!("garbage");
    facts["uname"]["version"] = json!("#1");
    let r = s.judge(&facts);
    assert!(rule(&r, "SKD-HOST-016")[0]["evidence"][0]
        .as_str()
        .unwrap()
        .contains("epoch"));
    assert!(rule(&r, "SKD-HOST-017")[0]["evidence"][0]
        .as_str()
        .unwrap()
        .contains("no major.minor"));
}

#[test]
fn bad_command_lines_are_clear_errors() {
    let o = stockade(&["host", "--root", "/nonexistent/snapshot"]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("--root /nonexistent/snapshot") && e.contains("No such file"),
        "{e}"
    );
    let s = Snap::new("badfacts");
    let root = s.dir.display().to_string();
    let o = stockade(&["host", "--root", &root, "--facts", "/nonexistent.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent.json"));
    let f = s.facts(&json!({"uname": {"release": "6.1.0", "version": "#1"}, "sysctl": {}}));
    let o = stockade(&["host", "--root", &root, "--facts", &f]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("unknown field `sysctl`"), "{e}");
    let f2 = s.facts(&json!({"uname": {"release": 6}}));
    let o = stockade(&["host", "--root", &root, "--facts", &f2]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("uname.release"));
    // A snapshot without --facts: the kernel is unjudged, which is a finding.
    let o = stockade(&["host", "--root", &root, "--format", "json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(status_of(&v, "SKD-HOST-017"), ["vulnerable"]);
    // --facts without --root is refused, as is --prove on a snapshot.
    let o = stockade(&["host", "--facts", "/x.json"]);
    assert_eq!(o.status.code(), Some(2));
    let o = stockade(&["host", "--root", &root, "--prove"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot prove a snapshot"));
}

#[test]
fn sarif_and_text_outputs() {
    let s = debian12("outputs", "1.1.5+ds1-1");
    let f = s.facts(&debian12_facts());
    let root = s.dir.display().to_string();
    let o = stockade(&["host", "--root", &root, "--facts", &f, "--format", "sarif"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "SKD-HOST-002"
        && r["properties"]["cves"][0] == "CVE-2024-21626"
        && r["level"] == "error"));
    let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "SKD-HOST-001"));
    let o = stockade(&["host", "--root", &root, "--facts", &f]);
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(
        t.contains("VULNERABLE critical SKD-HOST-002 runc CVE-2024-21626"),
        "{t}"
    );
    assert!(t.contains("fixed in: 1.1.5+ds1-1+deb12u1"), "{t}");
}

/// This machine, for real: Debian's runc with the CVE-2024-21626 backport, the 2025 trio open,
/// the kernel judged with its reasons.
#[test]
fn this_machine() {
    let o = stockade(&["host", "--format", "json"]);
    assert!(matches!(o.status.code(), Some(0) | Some(1)), "{o:?}");
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["host"]["live"], true);
    // Every kernel CVE of the database is judged, each with its reasons.
    let kernel = rule(&r, "SKD-HOST-001");
    assert!(kernel.len() >= 9, "{kernel:?}");
    for k in &kernel {
        assert!(k["evidence"].as_array().unwrap().len() >= 2, "{k}");
    }
    let runc = r["host"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "runc")
        .cloned();
    match runc.as_ref().and_then(|c| c["version"].as_str()) {
        Some("1.1.5+ds1-1+deb12u1") => {
            let (st, _, ev) = cve(&r, "CVE-2024-21626");
            assert_eq!(st, "fixed", "{ev}");
            assert!(ev.contains("changelog.Debian.gz"), "{ev}");
            for c in ["CVE-2025-31133", "CVE-2025-52565", "CVE-2025-52881"] {
                assert_eq!(cve(&r, c).0, "vulnerable", "{c}");
            }
        }
        Some(other) => {
            // Another upload than the one this was written on: the verdict must still rest on
            // evidence (the changelog or the version), whatever it is.
            println!(
                "note: runc here is {other}, not 1.1.5+ds1-1+deb12u1; checking consistency only"
            );
            for c in [
                "CVE-2024-21626",
                "CVE-2025-31133",
                "CVE-2025-52565",
                "CVE-2025-52881",
            ] {
                let (st, _, ev) = cve(&r, c);
                assert!(ev.contains("runc"), "{c}: {st}: {ev}");
            }
        }
        None => {
            testkit::skip("runc is not installed on this machine");
        }
    }
}

mod check_support;

fn evidence_of(r: &Value, c: &str) -> String {
    cve(r, c).2
}

/// `--prove` for real: the battery runs under the node's default runtime (runc's own spec here:
/// no Docker or kubelet configured) and its results join the verdicts' evidence; the docker-like
/// profile's seccomp then blocks the nf_tables path.
#[test]
fn prove_on_this_machine() {
    let Some(probe) = check_support::prerequisites("prove_on_this_machine") else {
        return;
    };
    let probe = probe.display().to_string();
    let plain = stockade(&["host", "--format", "json"]);
    let plain: Value = serde_json::from_slice(&plain.stdout).unwrap();
    let o = stockade(&["host", "--prove", "--probe", &probe, "--format", "json"]);
    assert!(
        matches!(o.status.code(), Some(0) | Some(1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let proved: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(proved["proof"]["results"]["nf-tables"]["outcome"].is_string());
    for c in ["CVE-2024-1086", "CVE-2026-31431", "CVE-2023-0386"] {
        let before = evidence_of(&plain, c);
        let after = evidence_of(&proved, c);
        assert_ne!(before, after, "{c}: --prove changed nothing");
        assert!(after.contains("--prove: battery technique"), "{c}: {after}");
    }
    // The new reachability probes answer under runc's spec (no seccomp): exposed, with a reason.
    for t in ["nf-tables", "tc-qdisc", "overlay-userns"] {
        let r = &proved["proof"]["results"][t];
        assert!(
            matches!(
                r["outcome"].as_str(),
                Some("exposed" | "blocked" | "not-applicable")
            ),
            "{t}: {r}"
        );
        assert!(!r["detail"].as_str().unwrap().is_empty(), "{t}: {r}");
    }
    let o = stockade(&[
        "host",
        "--prove",
        "--probe",
        &probe,
        "--prove-runtime",
        "runc",
        "--prove-profile",
        "docker",
        "--format",
        "json",
    ]);
    let docker: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(docker["proof"]["profile"], "docker");
    let nft = &docker["proof"]["results"]["nf-tables"];
    assert_eq!(nft["outcome"], "blocked", "{nft}");
    assert!(evidence_of(&docker, "CVE-2024-1086").contains("nf-tables under runc docker: blocked"));
}
