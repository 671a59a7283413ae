//! `--prove` evidence turning a verdict: the same vulnerable kernel (a Debian 12 snapshot whose
//! kernel predates the CVE-2024-1086 fix, user namespaces open) judged without battery results,
//! with the nf-tables technique exposed (reachable, proved), and with it blocked by seccomp
//! (mitigated). The battery itself runs for real in crates/cli/tests/host.rs
//! (`prove_on_this_machine`); here its results are given, to check how they are used.

use std::collections::BTreeMap;

use scan::host::facts::{self, KernelView, Uname};
use scan::host::{ProbeEvidence, Proof, Report, Root, Status};

struct Dir(std::path::PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn snapshot(tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("stockade-host-prove-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("etc")).unwrap();
    std::fs::write(d.join("etc/os-release"), "ID=debian\nVERSION_ID=\"12\"\n").unwrap();
    std::fs::create_dir_all(d.join("boot")).unwrap();
    std::fs::write(d.join("boot/config-6.1.0-9-amd64"), "CONFIG_NF_TABLES=m\n").unwrap();
    Dir(d)
}

fn kernel() -> KernelView {
    KernelView {
        uname: Uname {
            release: "6.1.0-9-amd64".into(),
            version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.27-1 (2023-05-08)".into(),
            machine: "x86_64".into(),
        },
        sysctls: BTreeMap::from([("user.max_user_namespaces".into(), "63000".into())]),
        lsms: vec!["capability".into(), "apparmor".into()],
        ..Default::default()
    }
}

fn proof(outcome: &str, layer: Option<&str>) -> Proof {
    Proof {
        runtime: "runc".into(),
        profile: "docker".into(),
        why: "given by the test".into(),
        results: BTreeMap::from([(
            "nf-tables".to_string(),
            ProbeEvidence {
                outcome: outcome.into(),
                detail: "unshare(user|net): EPERM".into(),
                layer: layer.map(String::from),
            },
        )]),
    }
}

fn nft(r: &Report) -> (Status, String) {
    let f = r
        .findings
        .iter()
        .find(|f| f.cves.iter().any(|c| c == "CVE-2024-1086"))
        .expect("CVE-2024-1086 judged");
    (f.status, f.evidence.join(" | "))
}

#[test]
fn battery_results_decide_reachability() {
    let d = snapshot("reach");
    let root = Root::open(&d.0, false).unwrap();
    let facts = facts::gather(&root, Some(kernel())).unwrap();

    let (st, ev) = nft(&Report::new(&facts, &root, None).unwrap());
    assert_eq!(st, Status::Vulnerable);
    assert!(ev.contains("not proved"), "{ev}");

    let (st, ev) = nft(&Report::new(&facts, &root, Some(proof("exposed", None))).unwrap());
    assert_eq!(st, Status::Vulnerable);
    assert!(
        ev.contains("reachable from a container on this node (proved)"),
        "{ev}"
    );
    assert!(
        ev.contains("battery technique nf-tables under runc docker: exposed"),
        "{ev}"
    );

    let (st, ev) =
        nft(&Report::new(&facts, &root, Some(proof("blocked", Some("seccomp")))).unwrap());
    assert_eq!(st, Status::Mitigated);
    assert!(ev.contains("blocked by seccomp"), "{ev}");
    assert!(ev.contains("could not reach the path"), "{ev}");
}

#[test]
fn node_default_runtime_and_profile() {
    let d = snapshot("default");
    std::fs::create_dir_all(d.0.join("var/lib/dpkg")).unwrap();
    std::fs::write(
        d.0.join("var/lib/dpkg/status"),
        "Package: crun\nStatus: install ok installed\nVersion: 1.8.1-1\n",
    )
    .unwrap();
    let root = Root::open(&d.0, false).unwrap();
    let nd = |root: &Root| scan::host::node_default(&facts::gather(root, Some(kernel())).unwrap());
    let x = nd(&root);
    assert_eq!(
        (x.runtime.as_str(), x.profile.as_str()),
        ("crun", "default"),
        "{}",
        x.why
    );
    std::fs::create_dir_all(d.0.join("var/lib/kubelet")).unwrap();
    std::fs::write(
        d.0.join("var/lib/kubelet/config.yaml"),
        "kind: KubeletConfiguration\nseccompDefault: true\n",
    )
    .unwrap();
    let x = nd(&root);
    assert_eq!(
        (x.runtime.as_str(), x.profile.as_str()),
        ("runc", "docker"),
        "{}",
        x.why
    );
    std::fs::create_dir_all(d.0.join("etc/docker")).unwrap();
    std::fs::write(
        d.0.join("etc/docker/daemon.json"),
        r#"{"seccomp-profile": "unconfined"}"#,
    )
    .unwrap();
    let x = nd(&root);
    assert_eq!(
        (x.runtime.as_str(), x.profile.as_str()),
        ("runc", "default"),
        "{}",
        x.why
    );
    assert!(x.why.contains("unconfined"));
}
