//! The compose reader: every security-relevant field of compose v1, v2, v3 and the Compose
//! Specification reaches the service's normalized view, with its field path and line.

use audit::{FileReport, Item, Subject};
use policy::model::{Namespace, Seccomp, WorkloadView};

fn data(name: &str) -> String {
    format!("{}/tests/data/compose/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> FileReport {
    let path = data(name);
    let text = std::fs::read_to_string(&path).expect("fixture");
    audit::compose::read(&path, &text)
}

fn service<'a>(r: &'a FileReport, name: &str) -> (&'a Item, &'a WorkloadView) {
    for item in &r.items {
        if item.object.name == name {
            if let Subject::View(v) = &item.subject {
                return (item, v);
            }
        }
    }
    panic!(
        "no service {name}: {:?} {:?}",
        r.items.iter().map(|i| &i.object).collect::<Vec<_>>(),
        r.problems
    );
}

fn fields<T: Clone>(v: &[policy::Field<T>]) -> Vec<(T, &str)> {
    v.iter()
        .map(|f| (f.value.clone(), f.field.as_str()))
        .collect()
}

#[test]
fn compose_v2_every_field() {
    let r = read("v2.yml");
    assert!(
        r.problems.iter().all(|p| p.rule_id == "SKD-INPUT-003"),
        "{:?}",
        r.problems
    );
    let (item, v) = service(&r, "agent");
    assert_eq!(item.object.kind, "service");
    assert_eq!(item.line, 3);
    let c = &v.containers[0];
    assert_eq!(c.field, "services.agent");
    assert_eq!(c.privileged.as_deref(), Some("services.agent.privileged"));
    assert_eq!(
        item.lines.position("services.agent.privileged").unwrap().0,
        5
    );
    assert_eq!(
        fields(&c.cap_add),
        [
            ("SYS_ADMIN".to_string(), "services.agent.cap_add[0]"),
            ("cap_net_admin".to_string(), "services.agent.cap_add[1]")
        ]
    );
    let ns: Vec<_> = v.host_namespaces.iter().map(|f| f.value).collect();
    assert_eq!(
        ns,
        [
            Namespace::Pid,
            Namespace::Ipc,
            Namespace::Network,
            Namespace::Uts,
            Namespace::User,
            Namespace::Cgroup
        ]
    );
    assert_eq!(c.memory_limit.value, Some(512 * 1024 * 1024));
    assert_eq!(c.memory_limit.field, "services.agent.mem_limit");
    assert_eq!(c.pids_limit.as_ref().unwrap().value, Some(100));
    assert_eq!(c.user.uid.as_ref().unwrap().value, 0);
    let mounts: Vec<_> = v
        .host_mounts
        .iter()
        .map(|m| {
            (
                m.host_path.as_str(),
                m.target.as_str(),
                m.read_only,
                m.propagation.as_deref(),
                m.field.as_str(),
            )
        })
        .collect();
    let data_dir = format!("{}/tests/data/compose/./data", env!("CARGO_MANIFEST_DIR"));
    assert_eq!(
        mounts,
        [
            (
                "/var/run/docker.sock",
                "/var/run/docker.sock",
                false,
                None,
                "services.agent.volumes[0]"
            ),
            ("/etc", "/host/etc", true, None, "services.agent.volumes[1]"),
            (
                data_dir.as_str(),
                "/data",
                false,
                None,
                "services.agent.volumes[2]"
            ),
            (
                "/var/lib/kubelet",
                "/hb",
                true,
                None,
                "volumes.hostbind.driver_opts.device"
            ),
            (
                "/",
                "/rootfs",
                true,
                Some("rshared"),
                "services.agent.volumes[6]"
            ),
        ]
    );
    assert_eq!(v.host_mounts[3].mount_field, "services.agent.volumes[5]");
    assert_eq!(
        fields(&v.devices),
        [
            ("/dev/mem".to_string(), "services.agent.devices[0]"),
            ("/dev/fuse".to_string(), "services.agent.devices[1]")
        ]
    );
    assert_eq!(
        v.device_allow_all.as_deref(),
        Some("services.agent.device_cgroup_rules[1]")
    );
    assert_eq!(
        fields(&v.sysctls),
        [
            (
                "net.ipv4.ip_forward".to_string(),
                "services.agent.sysctls[0]"
            ),
            ("kernel.msgmax".to_string(), "services.agent.sysctls[1]")
        ]
    );
    assert_eq!(c.seccomp.value, Seccomp::Unconfined);
    assert_eq!(c.seccomp.field, "services.agent.security_opt[0]");
    assert_eq!(
        fields(&c.lsm_unconfined),
        [
            (
                "apparmor=unconfined".to_string(),
                "services.agent.security_opt[1]"
            ),
            (
                "label:disable".to_string(),
                "services.agent.security_opt[2]"
            )
        ]
    );
    assert_eq!(c.no_new_privs.value, Some(false));
    assert_eq!(c.cwd.as_ref().unwrap().value, "/proc/self/fd/3");
    assert_eq!(c.read_only_root.value, Some(false));
    let ids: Vec<_> = item
        .suppressions
        .iter()
        .flat_map(|s| s.rule_ids.clone())
        .collect();
    assert_eq!(ids, ["SKD-ESC-001", "SKD-ESC-002"]);
    // `privileged: yes` is also reported as a YAML 1.1 scalar.
    assert!(r
        .problems
        .iter()
        .any(|p| p.line == Some(5) && p.object.as_ref().is_some_and(|o| o.name == "agent")));
}

#[test]
fn volumes_from_brings_the_other_services_host_mounts() {
    let r = read("v2.yml");
    let (_, v) = service(&r, "sidecar");
    let sock = v
        .host_mounts
        .iter()
        .find(|m| m.host_path == "/var/run/docker.sock")
        .expect("docker.sock through volumes_from");
    assert!(sock.read_only);
    assert_eq!(sock.field, "services.agent.volumes[0]");
    assert_eq!(sock.mount_field, "services.sidecar.volumes_from[0]");
    assert_eq!(v.host_mounts.len(), 5);
}

#[test]
fn compose_v3_long_syntax_merge_and_deploy() {
    let r = read("v3.yml");
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let (item, web) = service(&r, "web");
    let c = &web.containers[0];
    // Injected by the merge key, from the anchor.
    assert_eq!(c.privileged.as_deref(), Some("services.web.privileged"));
    assert_eq!(item.lines.position("services.web.privileged").unwrap().0, 4);
    assert!(c.user.uid.is_none());
    assert_eq!(c.user.name.as_ref().unwrap().value, "app");
    assert_eq!(c.read_only_root.value, Some(true));
    assert_eq!(
        web.shared_pid_namespace.as_deref(),
        Some("services.web.pid")
    );
    assert_eq!(
        fields(&web.sysctls),
        [(
            "net.core.somaxconn".to_string(),
            "services.web.sysctls['net.core.somaxconn']"
        )]
    );
    assert_eq!(c.memory_limit.value, Some(1 << 30));
    assert_eq!(
        c.memory_limit.field,
        "services.web.deploy.resources.limits.memory"
    );
    assert_eq!(c.pids_limit.as_ref().unwrap().value, Some(50));
    // The service's own security_opt replaces the anchor's (explicit keys win over `<<`).
    assert_eq!(c.no_new_privs.value, Some(true));
    assert_eq!(c.seccomp.value, Seccomp::Profile);
    assert_eq!(
        fields(&c.lsm_unconfined),
        [(
            "label=type:spc_t".to_string(),
            "services.web.security_opt[2]"
        )]
    );
    let mounts: Vec<_> = web
        .host_mounts
        .iter()
        .map(|m| {
            (
                m.host_path.as_str(),
                m.read_only,
                m.propagation.as_deref(),
                m.field.as_str(),
            )
        })
        .collect();
    assert_eq!(
        mounts,
        [
            (
                "/run/containerd/containerd.sock",
                true,
                None,
                "services.web.volumes[0].source"
            ),
            (
                "/var/lib",
                false,
                Some("rshared"),
                "services.web.volumes[1].source"
            ),
        ]
    );
    let (_, db) = service(&r, "db");
    assert_eq!(db.containers[0].user.uid.as_ref().unwrap().value, 999);
    assert_eq!(db.containers[0].read_only_root.value, Some(true));
    assert_eq!(db.containers[0].seccomp.value, Seccomp::Unset);
    assert_eq!(db.containers[0].no_new_privs.value, None);
    assert_eq!(db.containers[0].memory_limit.value, None);
    assert_eq!(db.containers[0].pids_limit.as_ref().unwrap().value, None);
}

#[test]
fn compose_spec_extends_interpolation_and_long_devices() {
    let r = read("spec.yaml");
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let (item, w) = service(&r, "worker");
    let c = &w.containers[0];
    assert_eq!(
        fields(&c.cap_add),
        [
            ("SYS_PTRACE".to_string(), "services.base.cap_add[0]"),
            ("BPF".to_string(), "services.worker.cap_add[0]")
        ]
    );
    assert_eq!(w.host_mounts[0].host_path, "/var/run/docker.sock");
    assert_eq!(w.host_mounts[0].field, "services.base.volumes[0]");
    assert_eq!(c.user.uid.as_ref().unwrap().value, 0);
    assert_eq!(
        fields(&w.devices),
        [("/dev/sda".to_string(), "services.worker.devices[0]")]
    );
    assert_eq!(c.no_new_privs.value, Some(true));
    assert_eq!(c.lsm_unconfined.len(), 1);
    assert_eq!(item.suppressions[0].rule_ids, ["SKD-ESC-015"]);
    let (_, clean) = service(&r, "clean");
    let c = &clean.containers[0];
    assert!(c.privileged.is_none() && c.cap_add.is_empty() && clean.host_mounts.is_empty());
    assert!(clean.host_namespaces.is_empty() && clean.devices.is_empty());
    assert_eq!(c.user.uid.as_ref().unwrap().value, 101);
    assert_eq!(c.memory_limit.value, Some(268435456));
    assert_eq!(c.no_new_privs.value, Some(true));
    assert_eq!(c.read_only_root.value, Some(true));
}

#[test]
fn wrong_types_and_duplicates_fail_closed() {
    let r = read("bad.yml");
    let names: Vec<_> = r.items.iter().map(|i| i.object.name.as_str()).collect();
    assert_eq!(names, ["dup", "ok"]);
    let errs: Vec<_> = r
        .problems
        .iter()
        .map(|p| (p.rule_id.as_str(), p.line.unwrap(), p.field.as_str()))
        .collect();
    assert!(
        errs.contains(&("SKD-INPUT-001", 4, "services.typo.privileged")),
        "{errs:?}"
    );
    assert!(
        errs.contains(&("SKD-INPUT-001", 5, "services.typo.cap_add")),
        "{errs:?}"
    );
    assert!(
        errs.contains(&("SKD-INPUT-002", 9, "services.dup.privileged")),
        "{errs:?}"
    );
    let (_, dup) = service(&r, "dup");
    assert!(dup.containers[0].privileged.is_some());
}

#[test]
fn compose_v1_top_level_services() {
    let r = read("v1.yml");
    let (_, v) = service(&r, "legacy");
    assert_eq!(
        v.containers[0].privileged.as_deref(),
        Some("legacy.privileged")
    );
    assert_eq!(v.host_namespaces[0].value, Namespace::Network);
}

#[test]
fn not_compose_is_reported() {
    let r = audit::compose::read("x.yml", "a: 1\nb: [2]\n");
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].rule_id, "SKD-INPUT-001");
    let r = audit::compose::read("x.yml", "services:\n  a: [1]\n");
    assert_eq!(r.problems.len(), 1);
    let r = audit::compose::read("x.yml", "\u{0}\u{1}garbage: [\n");
    assert!(r.items.is_empty());
}
