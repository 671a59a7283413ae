//! Every Pod Security check both ways, at each level, at the versions where upstream changed it.
//! Pods are written as JSON (what the YAML would parse to) and deserialized into k8s-openapi
//! types, as the reader does.

use k8s_openapi::api::core::v1::Pod;
use policy::model::PodWorkload;
use policy::pss::{self, PssVersion};
use policy::Level;
use serde_json::{json, Value};

const B: Level = Level::Baseline;
const R: Level = Level::Restricted;

/// A pod that passes restricted at every version, with one container "c".
fn base() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "c",
                "image": "registry.k8s.io/pause",
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"]}
                }
            }]
        }
    })
}

/// RFC 7386 JSON merge patch (objects merge, `null` deletes, everything else replaces).
fn merge(target: &mut Value, patch: Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            let t = target.as_object_mut().unwrap();
            for (k, v) in p {
                if v.is_null() {
                    t.remove(&k);
                } else {
                    merge(t.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other,
    }
}

/// The base pod with `patch` merged in.
fn with(patch: Value) -> PodWorkload {
    let mut v = base();
    merge(&mut v, patch);
    workload(v)
}

/// The base pod's spec with container "c"'s securityContext merged with `sc`.
fn container_sc(sc: Value) -> PodWorkload {
    let mut v = base();
    merge(&mut v["spec"]["containers"][0]["securityContext"], sc);
    workload(v)
}

fn workload(v: Value) -> PodWorkload {
    let pod: Pod = serde_json::from_value(v).expect("valid pod");
    PodWorkload {
        kind: "Pod".into(),
        api_version: "v1".into(),
        metadata: pod.metadata.clone(),
        pod_metadata: pod.metadata,
        spec: pod.spec.expect("spec"),
        spec_path: "spec".into(),
    }
}

fn v(minor: u32) -> PssVersion {
    PssVersion::v1(minor)
}

/// Rule ids of the violations, deduplicated.
fn rules(w: &PodWorkload, level: Level, minor: u32) -> Vec<String> {
    let mut ids: Vec<String> = pss::evaluate(w, level, v(minor))
        .into_iter()
        .map(|x| x.rule.id.clone())
        .collect();
    ids.dedup();
    ids
}

#[track_caller]
fn passes(w: &PodWorkload, level: Level, minor: u32) {
    let got = pss::evaluate(w, level, v(minor));
    assert!(
        got.is_empty(),
        "expected pass at {level}:v1.{minor}, got {:?}",
        got.iter()
            .map(|x| format!("{} {} {}", x.rule.id, x.field, x.message))
            .collect::<Vec<_>>()
    );
}

#[track_caller]
fn fails(w: &PodWorkload, level: Level, minor: u32, rule: &str) {
    let got = rules(w, level, minor);
    assert_eq!(got, vec![rule.to_string()], "at {level}:v1.{minor}");
}

/// The one failing check's aggregated PSA message.
#[track_caller]
fn psa(w: &PodWorkload, level: Level, minor: u32) -> String {
    pss::forbidden_detail(&pss::check_results(w, level, v(minor)))
}

#[test]
fn base_pod_passes_everywhere() {
    let w = with(json!({}));
    for minor in 0..=37 {
        passes(&w, B, minor);
        passes(&w, R, minor);
    }
    passes(&w, Level::Hardened, 36);
}

// ---- baseline ---------------------------------------------------------------------------------

#[test]
fn host_namespaces() {
    for key in ["hostNetwork", "hostPID", "hostIPC"] {
        let bad = with(json!({"spec": {key: true}}));
        fails(&bad, B, 0, "SKD-PSS-001");
        fails(&bad, R, 36, "SKD-PSS-001");
        passes(&with(json!({"spec": {key: false}})), R, 36);
    }
    let all = with(json!({"spec": {"hostNetwork": true, "hostPID": true, "hostIPC": true}}));
    assert_eq!(
        psa(&all, B, 36),
        "host namespaces (hostNetwork=true, hostPID=true, hostIPC=true)"
    );
    let f: Vec<String> = pss::evaluate(&all, B, v(36))
        .into_iter()
        .map(|x| x.field)
        .collect();
    assert_eq!(f, ["spec.hostNetwork", "spec.hostPID", "spec.hostIPC"]);
}

#[test]
fn privileged_in_every_container_list() {
    passes(&container_sc(json!({"privileged": false})), R, 36);
    let bad = container_sc(json!({"privileged": true}));
    fails(&bad, B, 0, "SKD-PSS-002");
    fails(&bad, R, 36, "SKD-PSS-002");
    assert_eq!(
        psa(&bad, B, 36),
        r#"privileged (container "c" must not set securityContext.privileged=true)"#
    );

    let sc = json!({"privileged": true, "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"]}});
    let eph = with(json!({"spec": {"ephemeralContainers": [
        {"name": "debug", "image": "busybox", "securityContext": sc}
    ]}}));
    fails(&eph, B, 36, "SKD-PSS-002");
    fails(&eph, R, 36, "SKD-PSS-002");
    let x = &pss::evaluate(&eph, B, v(36))[0];
    assert_eq!(
        x.field,
        "spec.ephemeralContainers[0].securityContext.privileged"
    );
    assert_eq!(
        x.message,
        r#"privileged (container "debug" must not set securityContext.privileged=true)"#
    );

    let init = with(json!({"spec": {"initContainers": [
        {"name": "i1", "image": "busybox", "securityContext": sc},
        {"name": "i2", "image": "busybox", "securityContext": sc}
    ]}}));
    assert_eq!(
        psa(&init, B, 36),
        r#"privileged (containers "i1", "i2" must not set securityContext.privileged=true)"#
    );
}

#[test]
fn capabilities_baseline() {
    let ok = container_sc(json!({"capabilities": {"add": ["CHOWN", "NET_BIND_SERVICE"]}}));
    passes(&ok, B, 36);
    for bad_cap in ["SYS_ADMIN", "CAP_CHOWN", "chown", "NET_RAW"] {
        let bad = container_sc(json!({"capabilities": {"add": [bad_cap]}}));
        fails(&bad, B, 0, "SKD-PSS-003");
        fails(&bad, B, 36, "SKD-PSS-003");
    }
    let bad = container_sc(json!({"capabilities": {"add": ["SYS_ADMIN", "CHOWN", "BPF"]}}));
    assert_eq!(
        psa(&bad, B, 36),
        r#"non-default capabilities (container "c" must not include "BPF", "SYS_ADMIN" in securityContext.capabilities.add)"#
    );
    let fields: Vec<String> = pss::evaluate(&bad, B, v(36))
        .into_iter()
        .map(|x| x.field)
        .collect();
    assert_eq!(
        fields,
        [
            "spec.containers[0].securityContext.capabilities.add[0]",
            "spec.containers[0].securityContext.capabilities.add[2]"
        ]
    );
    // Before v1.22 restricted uses the baseline capability check; from v1.22 the restricted one
    // replaces it.
    fails(&bad, R, 21, "SKD-PSS-003");
    fails(&bad, R, 22, "SKD-PSS-018");
    // CHOWN is fine for baseline (and restricted before v1.22), not for restricted from v1.22.
    passes(&ok, R, 21);
    fails(&ok, R, 22, "SKD-PSS-018");
}

#[test]
fn host_path_volumes() {
    let bad = with(json!({"spec": {"volumes": [{"name": "h", "hostPath": {"path": "/etc"}}]}}));
    fails(&bad, B, 0, "SKD-PSS-004");
    assert_eq!(psa(&bad, B, 36), r#"hostPath volumes (volume "h")"#);
    assert_eq!(
        pss::evaluate(&bad, B, v(36))[0].field,
        "spec.volumes[0].hostPath"
    );
    // At restricted, restrictedVolumes replaces hostPathVolumes.
    fails(&bad, R, 36, "SKD-PSS-013");
    let ok = with(json!({"spec": {"volumes": [{"name": "e", "emptyDir": {}}]}}));
    passes(&ok, R, 36);
}

#[test]
fn host_ports() {
    let port = |hp: i64| {
        let mut v = base();
        v["spec"]["containers"][0]["ports"] = json!([{"containerPort": 8080, "hostPort": hp}]);
        workload(v)
    };
    passes(&port(0), R, 36);
    fails(&port(80), B, 0, "SKD-PSS-005");
    fails(&port(80), R, 36, "SKD-PSS-005");
    assert_eq!(
        psa(&port(80), B, 36),
        r#"hostPort (container "c" uses hostPort 80)"#
    );
    assert_eq!(
        pss::evaluate(&port(80), B, v(36))[0].field,
        "spec.containers[0].ports[0].hostPort"
    );

    // hostNetwork defaults hostPort to containerPort, as the API server does.
    let mut hn = base();
    hn["spec"]["hostNetwork"] = json!(true);
    hn["spec"]["containers"][0]["ports"] = json!([{"containerPort": 8080}]);
    assert_eq!(
        psa(&workload(hn), B, 36),
        r#"host namespaces (hostNetwork=true), hostPort (container "c" uses hostPort 8080)"#
    );

    let mut two = base();
    let c = two["spec"]["containers"][0].clone();
    let mut c2 = c.clone();
    c2["name"] = json!("d");
    c2["ports"] =
        json!([{"containerPort": 1, "hostPort": 80}, {"containerPort": 2, "hostPort": 1000}]);
    let mut c1 = c;
    c1["ports"] = json!([{"containerPort": 1, "hostPort": 80}]);
    two["spec"]["containers"] = json!([c1, c2]);
    assert_eq!(
        psa(&workload(two), B, 36),
        r#"hostPort (containers "c", "d" use hostPorts 1000, 80)"#
    );
}

#[test]
fn app_armor_fields() {
    for good in ["RuntimeDefault", "Localhost"] {
        let mut p = json!({"type": good});
        if good == "Localhost" {
            p["localhostProfile"] = json!("prof");
        }
        passes(
            &with(json!({"spec": {"securityContext": {"appArmorProfile": p}}})),
            R,
            36,
        );
        passes(&container_sc(json!({"appArmorProfile": p})), R, 36);
    }
    let pod =
        with(json!({"spec": {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}}}));
    fails(&pod, B, 0, "SKD-PSS-006");
    fails(&pod, R, 36, "SKD-PSS-006");
    assert_eq!(
        psa(&pod, B, 36),
        r#"forbidden AppArmor profile (pod must not set AppArmor profile type to "Unconfined")"#
    );
    let c = container_sc(json!({"appArmorProfile": {"type": "Unconfined"}}));
    fails(&c, B, 36, "SKD-PSS-006");
    assert_eq!(
        pss::evaluate(&c, B, v(36))[0].field,
        "spec.containers[0].securityContext.appArmorProfile.type"
    );
}

#[test]
fn app_armor_annotations() {
    let ann = |v: &str| {
        with(json!({"metadata": {"annotations": {
            "container.apparmor.security.beta.kubernetes.io/c": v
        }}}))
    };
    for good in ["runtime/default", "localhost/my-profile", ""] {
        passes(&ann(good), R, 36);
    }
    for bad in ["unconfined", "Unconfined", "docker/default"] {
        fails(&ann(bad), B, 0, "SKD-PSS-006");
        fails(&ann(bad), R, 36, "SKD-PSS-006");
    }
    let x = &pss::evaluate(&ann("unconfined"), B, v(36))[0];
    assert_eq!(
        x.field,
        "metadata.annotations['container.apparmor.security.beta.kubernetes.io/c']"
    );
    assert_eq!(
        psa(&ann("unconfined"), B, 36),
        r#"forbidden AppArmor profile (annotation must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/c="unconfined"")"#
    );
}

#[test]
fn app_armor_many_annotations_aggregate_like_psa() {
    let w = with(json!({"metadata": {"annotations": {
        "container.apparmor.security.beta.kubernetes.io/": "bogus",
        "container.apparmor.security.beta.kubernetes.io/a": "",
        "container.apparmor.security.beta.kubernetes.io/b": "runtime/default",
        "container.apparmor.security.beta.kubernetes.io/c": "localhost/",
        "container.apparmor.security.beta.kubernetes.io/e": "unconfined",
        "container.apparmor.security.beta.kubernetes.io/f": "unknown",
        "unrelated.example.com/e": "unconfined"
    }}}));
    assert_eq!(pss::evaluate(&w, B, v(36)).len(), 3);
    assert_eq!(
        psa(&w, B, 36),
        concat!(
            r#"forbidden AppArmor profiles (annotations must not set AppArmor profile type to "#,
            r#""container.apparmor.security.beta.kubernetes.io/="bogus"", "#,
            r#""container.apparmor.security.beta.kubernetes.io/e="unconfined"", "#,
            r#""container.apparmor.security.beta.kubernetes.io/f="unknown"")"#
        )
    );
}

#[test]
fn se_linux_options() {
    for good in ["", "container_t", "container_init_t", "container_kvm_t"] {
        let w = container_sc(json!({"seLinuxOptions": {"type": good, "level": "s0:c1,c2"}}));
        passes(&w, R, 0);
        passes(&w, R, 36);
    }
    let engine = container_sc(json!({"seLinuxOptions": {"type": "container_engine_t"}}));
    fails(&engine, B, 30, "SKD-PSS-007");
    passes(&engine, B, 31);
    passes(&engine, R, 31);

    let spc = with(json!({"spec": {"securityContext": {"seLinuxOptions": {"type": "spc_t"}}}}));
    fails(&spc, B, 36, "SKD-PSS-007");
    fails(&spc, R, 36, "SKD-PSS-007");
    let user = container_sc(json!({"seLinuxOptions": {"user": "system_u", "role": "r"}}));
    fails(&user, B, 36, "SKD-PSS-007");
    let mut both = base();
    both["spec"]["securityContext"]["seLinuxOptions"] = json!({"type": "foo", "user": "u"});
    both["spec"]["containers"][0]["securityContext"]["seLinuxOptions"] =
        json!({"type": "bar", "role": "r"});
    assert_eq!(
        psa(&workload(both), B, 36),
        r#"seLinuxOptions (pod and container "c" set forbidden securityContext.seLinuxOptions: types "bar", "foo"; user may not be set; role may not be set)"#
    );
}

#[test]
fn proc_mount_and_user_namespaces() {
    passes(&container_sc(json!({"procMount": "Default"})), R, 36);
    let unmasked = container_sc(json!({"procMount": "Unmasked"}));
    fails(&unmasked, B, 0, "SKD-PSS-008");
    fails(&unmasked, B, 36, "SKD-PSS-008");
    fails(&unmasked, R, 34, "SKD-PSS-008");
    assert_eq!(
        psa(&unmasked, B, 36),
        r#"procMount (container "c" must not set securityContext.procMount to "Unmasked")"#
    );
    // From v1.35 restricted has its own procMount check that replaces baseline's.
    fails(&unmasked, R, 35, "SKD-PSS-019");

    let mut userns = base();
    userns["spec"]["hostUsers"] = json!(false);
    userns["spec"]["containers"][0]["securityContext"]["procMount"] = json!("Unmasked");
    let userns = workload(userns);
    fails(&userns, B, 34, "SKD-PSS-008");
    passes(&userns, B, 35);
    passes(&userns, B, 36);
    // procMount_restricted has no user-namespace relaxation.
    fails(&userns, R, 35, "SKD-PSS-019");
    fails(&userns, R, 36, "SKD-PSS-019");
}

#[test]
fn seccomp_annotations_before_v1_19_fields_after() {
    // An annotation-only pod (no seccomp fields): baseline reads annotations up to v1.18.
    let ann = |key: &str, val: &str| {
        let mut v = base();
        v["spec"]["securityContext"] = json!({"runAsNonRoot": true});
        v["metadata"]["annotations"] = json!({ key: val });
        workload(v)
    };
    let pod_key = "seccomp.security.alpha.kubernetes.io/pod";
    let c_key = "container.seccomp.security.alpha.kubernetes.io/c";
    for good in ["runtime/default", "docker/default", "localhost/prof.json"] {
        passes(&ann(pod_key, good), B, 18);
        passes(&ann(c_key, good), R, 18);
    }
    let bad = ann(pod_key, "unconfined");
    fails(&bad, B, 18, "SKD-PSS-009");
    fails(&bad, R, 18, "SKD-PSS-009");
    passes(&bad, B, 19);
    assert_eq!(
        psa(&bad, B, 18),
        r#"seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined")"#
    );
    assert_eq!(
        pss::evaluate(&bad, B, v(18))[0].field,
        "metadata.annotations['seccomp.security.alpha.kubernetes.io/pod']"
    );
    fails(&ann(c_key, "unconfined"), B, 0, "SKD-PSS-009");
    // An annotation naming a container that does not exist is not read.
    passes(
        &ann(
            "container.seccomp.security.alpha.kubernetes.io/other",
            "unconfined",
        ),
        B,
        18,
    );
    // From v1.19 restricted requires the field.
    fails(&bad, R, 19, "SKD-PSS-017");

    // The field: ignored before v1.19, only an explicit Unconfined fails baseline after.
    let field = container_sc(json!({"seccompProfile": {"type": "Unconfined"}}));
    passes(&field, B, 18);
    fails(&field, B, 19, "SKD-PSS-009");
    fails(&field, R, 19, "SKD-PSS-017");
    let mut unset = base();
    unset["spec"]["securityContext"] = json!({"runAsNonRoot": true});
    let unset = workload(unset);
    passes(&unset, B, 36);
    passes(&unset, R, 18);
    fails(&unset, R, 19, "SKD-PSS-017");
}

#[test]
fn seccomp_restricted() {
    let mut container_only = base();
    container_only["spec"]["securityContext"] = json!({"runAsNonRoot": true});
    container_only["spec"]["containers"][0]["securityContext"]["seccompProfile"] =
        json!({"type": "Localhost", "localhostProfile": "p.json"});
    passes(&workload(container_only), R, 36);

    let mut unset = base();
    unset["spec"]["securityContext"] = json!({"runAsNonRoot": true});
    assert_eq!(
        psa(&workload(unset), R, 36),
        r#"seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
    );
    // An explicit Unconfined container overrides a good pod value and fails.
    let c = container_sc(json!({"seccompProfile": {"type": "Unconfined"}}));
    assert_eq!(
        psa(&c, R, 36),
        r#"seccompProfile (container "c" must not set securityContext.seccompProfile.type to "Unconfined")"#
    );
}

#[test]
fn sysctls_grow_with_versions() {
    let sysctl = |name: &str| {
        with(json!({"spec": {"securityContext": {"sysctls": [{"name": name, "value": "1"}]}}}))
    };
    passes(&sysctl("kernel.shm_rmid_forced"), R, 0);
    passes(&sysctl("net.ipv4.ip_unprivileged_port_start"), B, 0);
    for (name, since) in [
        ("net.ipv4.ip_local_reserved_ports", 27),
        ("net.ipv4.tcp_keepalive_time", 29),
        ("net.ipv4.tcp_fin_timeout", 29),
        ("net.ipv4.tcp_keepalive_intvl", 29),
        ("net.ipv4.tcp_keepalive_probes", 29),
        ("net.ipv4.tcp_rmem", 32),
        ("net.ipv4.tcp_wmem", 32),
        ("net.ipv4.tcp_slow_start_after_idle", 37),
        ("net.ipv4.tcp_notsent_lowat", 37),
    ] {
        let w = sysctl(name);
        fails(&w, B, since - 1, "SKD-PSS-010");
        fails(&w, R, since - 1, "SKD-PSS-010");
        passes(&w, B, since);
        passes(&w, R, since);
    }
    // `latest` is the newest version, v1.37: its additions are allowed.
    passes(
        &sysctl("net.ipv4.tcp_slow_start_after_idle"),
        B,
        PssVersion::LATEST.minor,
    );
    passes(
        &sysctl("net.ipv4.tcp_notsent_lowat"),
        B,
        PssVersion::LATEST.minor,
    );
    let bad = with(json!({"spec": {"securityContext": {"sysctls": [
        {"name": "kernel.msgmax", "value": "1"},
        {"name": "kernel.shm_rmid_forced", "value": "1"},
        {"name": "net.core.somaxconn", "value": "1"}
    ]}}}));
    assert_eq!(
        psa(&bad, B, 36),
        "forbidden sysctls (kernel.msgmax, net.core.somaxconn)"
    );
    let f: Vec<String> = pss::evaluate(&bad, B, v(36))
        .into_iter()
        .map(|x| x.field)
        .collect();
    assert_eq!(
        f,
        [
            "spec.securityContext.sysctls[0].name",
            "spec.securityContext.sysctls[2].name"
        ]
    );
}

#[test]
fn windows_host_process() {
    let pod = with(json!({"spec": {"securityContext": {"windowsOptions": {"hostProcess": true}}}}));
    fails(&pod, B, 0, "SKD-PSS-011");
    fails(&pod, R, 36, "SKD-PSS-011");
    let c = container_sc(json!({"windowsOptions": {"hostProcess": true}}));
    fails(&c, B, 36, "SKD-PSS-011");
    passes(
        &container_sc(json!({"windowsOptions": {"hostProcess": false}})),
        R,
        36,
    );
}

#[test]
fn host_probes_and_lifecycle_from_v1_34() {
    let mut probe = base();
    probe["spec"]["containers"][0]["livenessProbe"] =
        json!({"httpGet": {"host": "169.254.169.254", "port": 80, "path": "/"}});
    let probe = workload(probe);
    passes(&probe, B, 33);
    passes(&probe, R, 33);
    fails(&probe, B, 34, "SKD-PSS-012");
    fails(&probe, R, 34, "SKD-PSS-012");
    let x = &pss::evaluate(&probe, B, v(34))[0];
    assert_eq!(x.field, "spec.containers[0].livenessProbe.httpGet.host");
    assert_eq!(
        x.message,
        r#"probe or lifecycle host (container "c" uses probe or lifecycle host "169.254.169.254")"#
    );

    let mut hook = base();
    hook["spec"]["containers"][0]["lifecycle"] =
        json!({"preStop": {"tcpSocket": {"host": "localhost", "port": 22}}});
    let hook = workload(hook);
    fails(&hook, B, 34, "SKD-PSS-012");
    assert_eq!(
        pss::evaluate(&hook, B, v(36))[0].field,
        "spec.containers[0].lifecycle.preStop.tcpSocket.host"
    );

    let mut empty = base();
    empty["spec"]["containers"][0]["readinessProbe"] =
        json!({"httpGet": {"host": "", "port": 80}, "tcpSocket": {"port": 80}});
    passes(&workload(empty), R, 36);
}

// ---- restricted -------------------------------------------------------------------------------

#[test]
fn restricted_volumes() {
    let vol = |v: Value| with(json!({"spec": {"volumes": [v]}}));
    for good in [
        json!({"name": "a", "configMap": {"name": "cm"}}),
        json!({"name": "a", "secret": {"secretName": "s"}}),
        json!({"name": "a", "emptyDir": {}}),
        json!({"name": "a", "persistentVolumeClaim": {"claimName": "c"}}),
        json!({"name": "a", "projected": {"sources": []}}),
        json!({"name": "a", "downwardAPI": {}}),
        json!({"name": "a", "csi": {"driver": "d"}}),
        json!({"name": "a", "ephemeral": {}}),
        json!({"name": "a", "image": {"reference": "img"}}),
    ] {
        passes(&vol(good), R, 36);
    }
    // A volume with no source is defaulted to emptyDir by the API server.
    passes(&vol(json!({"name": "nosource"})), R, 0);
    passes(&vol(json!({"name": "nosource"})), R, 36);

    let git = vol(json!({"name": "g", "gitRepo": {"repository": "https://x/y.git"}}));
    passes(&git, B, 36);
    fails(&git, R, 0, "SKD-PSS-013");
    fails(&git, R, 36, "SKD-PSS-013");
    assert_eq!(
        psa(&git, R, 36),
        r#"restricted volume types (volume "g" uses restricted volume type "gitRepo")"#
    );
    assert_eq!(
        pss::evaluate(&git, R, v(36))[0].field,
        "spec.volumes[0].gitRepo"
    );
    for bad in [
        json!({"name": "n", "nfs": {"server": "s", "path": "/"}}),
        json!({"name": "n", "cephfs": {"monitors": ["m"]}}),
        json!({"name": "n", "hostPath": {"path": "/"}}),
    ] {
        fails(&vol(bad), R, 36, "SKD-PSS-013");
    }
    // Invalid (the API server rejects two sources), but never let a hostPath through restricted
    // just because an allowed source sits beside it.
    let mixed = vol(json!({"name": "m", "emptyDir": {}, "hostPath": {"path": "/"}}));
    fails(&mixed, B, 36, "SKD-PSS-004");
    fails(&mixed, R, 36, "SKD-PSS-013");
    let two = with(json!({"spec": {"volumes": [
        {"name": "a", "nfs": {"server": "s", "path": "/"}},
        {"name": "b", "hostPath": {"path": "/"}},
        {"name": "c", "emptyDir": {}}
    ]}}));
    assert_eq!(
        psa(&two, R, 36),
        r#"restricted volume types (volumes "a", "b" use restricted volume types "hostPath", "nfs")"#
    );
}

#[test]
fn allow_privilege_escalation() {
    let unset = container_sc(json!({"allowPrivilegeEscalation": null}));
    passes(&unset, B, 36);
    passes(&unset, R, 7);
    fails(&unset, R, 8, "SKD-PSS-014");
    fails(&unset, R, 36, "SKD-PSS-014");
    fails(
        &container_sc(json!({"allowPrivilegeEscalation": true})),
        R,
        36,
        "SKD-PSS-014",
    );
    assert_eq!(
        psa(&unset, R, 36),
        r#"allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)"#
    );
}

#[test]
fn windows_exemptions_from_v1_25() {
    // A Windows pod with none of the restricted Linux settings.
    let w = workload(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "win"},
        "spec": {
            "os": {"name": "windows"},
            "securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "c", "image": "mcr.microsoft.com/windows/nanoserver"}]
        }
    }));
    let ids = rules(&w, R, 24);
    assert!(ids.contains(&"SKD-PSS-014".to_string()), "{ids:?}");
    assert!(ids.contains(&"SKD-PSS-017".to_string()), "{ids:?}");
    assert!(ids.contains(&"SKD-PSS-018".to_string()), "{ids:?}");
    passes(&w, R, 25);
    passes(&w, R, 36);

    // Upstream quirk kept on purpose: the restricted capability and seccomp checks override the
    // baseline ones, so from v1.25 a Windows pod passes restricted with what fails baseline.
    let mut v = base();
    v["spec"]["os"] = json!({"name": "windows"});
    v["spec"]["containers"][0]["securityContext"]["capabilities"] = json!({"add": ["SYS_ADMIN"]});
    v["spec"]["containers"][0]["securityContext"]["seccompProfile"] = json!({"type": "Unconfined"});
    let quirk = workload(v);
    assert_eq!(rules(&quirk, B, 36), ["SKD-PSS-003", "SKD-PSS-009"]);
    passes(&quirk, R, 36);
    assert_eq!(rules(&quirk, R, 24), ["SKD-PSS-018", "SKD-PSS-017"]);
}

#[test]
fn run_as_non_root() {
    // Pod-level true covers containers that leave it unset.
    passes(&with(json!({})), R, 36);
    // Every container true without a pod value passes.
    let mut each = base();
    each["spec"]["securityContext"] = json!({"seccompProfile": {"type": "RuntimeDefault"}});
    each["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = json!(true);
    passes(&workload(each.clone()), R, 36);
    // Unset everywhere fails restricted, not baseline.
    each["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = Value::Null;
    let unset = workload(each);
    passes(&unset, B, 36);
    fails(&unset, R, 0, "SKD-PSS-015");
    assert_eq!(
        psa(&unset, R, 36),
        r#"runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true)"#
    );
    // A container's explicit false overrides the pod's true.
    let over = container_sc(json!({"runAsNonRoot": false}));
    fails(&over, R, 36, "SKD-PSS-015");
    let x = &pss::evaluate(&over, R, v(36))[0];
    assert_eq!(x.field, "spec.containers[0].securityContext.runAsNonRoot");
    assert_eq!(
        x.message,
        r#"runAsNonRoot != true (container "c" must not set securityContext.runAsNonRoot=false)"#
    );
    // A pod-level false fails even when every container sets true.
    let mut pod_false = base();
    pod_false["spec"]["securityContext"]["runAsNonRoot"] = json!(false);
    pod_false["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = json!(true);
    fails(&workload(pod_false), R, 36, "SKD-PSS-015");

    // hostUsers: false relaxes it from v1.35.
    let mut userns = base();
    userns["spec"]["hostUsers"] = json!(false);
    userns["spec"]["securityContext"]["runAsNonRoot"] = json!(false);
    let userns = workload(userns);
    fails(&userns, R, 34, "SKD-PSS-015");
    passes(&userns, R, 35);
}

#[test]
fn run_as_user() {
    let pod0 = with(json!({"spec": {"securityContext": {"runAsUser": 0}}}));
    passes(&pod0, B, 36);
    passes(&pod0, R, 22);
    fails(&pod0, R, 23, "SKD-PSS-016");
    assert_eq!(
        psa(&pod0, R, 36),
        "runAsUser=0 (pod must not set runAsUser=0)"
    );
    let c0 = container_sc(json!({"runAsUser": 0}));
    fails(&c0, R, 36, "SKD-PSS-016");
    passes(&container_sc(json!({"runAsUser": 1000})), R, 36);
    // A container's non-zero uid does not excuse a pod-level 0 (PSA checks both).
    let mut both = base();
    both["spec"]["securityContext"]["runAsUser"] = json!(0);
    both["spec"]["containers"][0]["securityContext"]["runAsUser"] = json!(1000);
    fails(&workload(both), R, 36, "SKD-PSS-016");

    let mut userns = base();
    userns["spec"]["hostUsers"] = json!(false);
    userns["spec"]["securityContext"]["runAsUser"] = json!(0);
    let userns = workload(userns);
    fails(&userns, R, 34, "SKD-PSS-016");
    passes(&userns, R, 35);
}

#[test]
fn capabilities_restricted() {
    let no_drop = container_sc(json!({"capabilities": null}));
    passes(&no_drop, B, 36);
    passes(&no_drop, R, 21);
    fails(&no_drop, R, 22, "SKD-PSS-018");
    let lower = container_sc(json!({"capabilities": {"drop": ["all"]}}));
    fails(&lower, R, 36, "SKD-PSS-018");
    let nbs = container_sc(json!({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}));
    passes(&nbs, R, 36);

    let mut v = base();
    let c = v["spec"]["containers"][0].clone();
    let mut a = c.clone();
    a["name"] = json!("a");
    a["securityContext"]["capabilities"] = json!({"add": ["FOO"]});
    let mut b = c;
    b["name"] = json!("b");
    b["securityContext"]["capabilities"] =
        json!({"drop": ["ALL"], "add": ["CHOWN", "NET_BIND_SERVICE"]});
    v["spec"]["containers"] = json!([a, b]);
    assert_eq!(
        psa(&workload(v), R, 36),
        r#"unrestricted capabilities (container "a" must set securityContext.capabilities.drop=["ALL"]; containers "a", "b" must not include "CHOWN", "FOO" in securityContext.capabilities.add)"#
    );
}

// ---- aggregation, order, field paths ----------------------------------------------------------

#[test]
fn checks_report_in_psa_order() {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad"},
        "spec": {
            "hostPID": true,
            "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
            "containers": [{"name": "c", "image": "x", "securityContext": {"privileged": true}}]
        }
    });
    let w = workload(pod.clone());
    let checks: Vec<&str> = pss::check_results(&w, R, v(36))
        .iter()
        .map(|r| r.check)
        .collect();
    assert_eq!(
        checks,
        [
            "hostNamespaces",
            "privileged",
            "allowPrivilegeEscalation",
            "capabilities_restricted",
            "restrictedVolumes",
            "runAsNonRoot",
            "seccompProfile_restricted"
        ]
    );
    pod["spec"]["hostPID"] = json!(false);
    assert_eq!(
        psa(&workload(pod), B, 36),
        r#"hostPath volumes (volume "h"), privileged (container "c" must not set securityContext.privileged=true)"#
    );
}

#[test]
fn template_field_paths() {
    // A Deployment's pod template: fields under spec.template.spec, annotations under
    // spec.template.metadata.
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}},
        "spec": {"containers": [{"name": "app", "image": "x", "securityContext": {"privileged": true}}]}
    }))
    .unwrap();
    let w = PodWorkload {
        kind: "Deployment".into(),
        api_version: "apps/v1".into(),
        metadata: Default::default(),
        pod_metadata: pod.metadata,
        spec: pod.spec.unwrap(),
        spec_path: "spec.template.spec".into(),
    };
    let fields: Vec<String> = pss::evaluate(&w, B, v(36))
        .into_iter()
        .map(|x| x.field)
        .collect();
    assert_eq!(
        fields,
        [
            "spec.template.metadata.annotations['container.apparmor.security.beta.kubernetes.io/app']",
            "spec.template.spec.containers[0].securityContext.privileged"
        ]
    );
}

#[test]
fn latest_is_the_newest_release() {
    assert_eq!(PssVersion::LATEST, PssVersion::v1(37));
    assert_eq!("latest".parse::<PssVersion>().unwrap(), PssVersion::LATEST);
    // Versions past the newest check version behave like it.
    let w = container_sc(json!({"privileged": true}));
    fails(&w, B, 99, "SKD-PSS-002");
}
