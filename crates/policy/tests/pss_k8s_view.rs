//! API-server defaulting, the normalized pod view and the Kubernetes-only escape rules.

use k8s_openapi::api::core::v1::{Pod, PodSpec};
use policy::k8s;
use policy::model::{Namespace, PodWorkload, Seccomp};
use serde_json::{json, Value};

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

fn spec(v: Value) -> PodSpec {
    serde_json::from_value(v).expect("valid spec")
}

#[test]
fn defaults_volume_without_source_to_empty_dir() {
    let mut s = spec(json!({"containers": [], "volumes": [
        {"name": "a"}, {"name": "b", "configMap": {"name": "x"}}
    ]}));
    assert!(k8s::needs_defaults(&s));
    k8s::apply_defaults(&mut s);
    let vols = s.volumes.as_ref().unwrap();
    assert!(vols[0].empty_dir.is_some());
    assert!(vols[1].empty_dir.is_none() && vols[1].config_map.is_some());
    assert!(!k8s::needs_defaults(&s), "idempotent");
}

#[test]
fn defaults_host_ports_under_host_network() {
    let ports = json!([{"containerPort": 80}, {"containerPort": 443, "hostPort": 8443},
                       {"containerPort": 53, "hostPort": 0}]);
    let mut s = spec(json!({
        "hostNetwork": true,
        "initContainers": [{"name": "i", "ports": [{"containerPort": 9}]}],
        "containers": [{"name": "c", "ports": ports}]
    }));
    k8s::apply_defaults(&mut s);
    let hp: Vec<Option<i32>> = s.containers[0]
        .ports
        .iter()
        .flatten()
        .map(|p| p.host_port)
        .collect();
    assert_eq!(hp, [Some(80), Some(8443), Some(53)]);
    assert_eq!(
        s.init_containers.as_ref().unwrap()[0]
            .ports
            .as_ref()
            .unwrap()[0]
            .host_port,
        Some(9)
    );

    let mut no_hn = spec(json!({"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]}));
    assert!(!k8s::needs_defaults(&no_hn));
    k8s::apply_defaults(&mut no_hn);
    assert_eq!(
        no_hn.containers[0].ports.as_ref().unwrap()[0].host_port,
        None
    );
}

#[test]
fn view_of_containers() {
    let w = workload(json!({
        "metadata": {"name": "p", "annotations": {
            "container.apparmor.security.beta.kubernetes.io/b": "unconfined"
        }},
        "spec": {
            "hostUsers": false,
            "securityContext": {"runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"},
                                "seLinuxOptions": {"type": "spc_t"}},
            "initContainers": [{"name": "i", "image": "x"}],
            "containers": [
                {"name": "a", "image": "x", "workingDir": "/srv",
                 "resources": {"limits": {"memory": "512Mi", "cpu": "1"}},
                 "securityContext": {"privileged": true, "runAsUser": 0,
                                     "allowPrivilegeEscalation": false,
                                     "readOnlyRootFilesystem": true,
                                     "capabilities": {"add": ["SYS_ADMIN", "cap_net_raw"]},
                                     "seccompProfile": {"type": "Unconfined"},
                                     "seLinuxOptions": {"type": "container_t"}}},
                {"name": "b", "image": "x",
                 "resources": {"limits": {"memory": "1G"}},
                 "securityContext": {"allowPrivilegeEscalation": true,
                                     "appArmorProfile": {"type": "Unconfined"}}}
            ],
            "ephemeralContainers": [{"name": "e", "image": "x",
                "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p"}}}]
        }
    }));
    let view = k8s::pod_view(&w);
    let names: Vec<&str> = view.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["i", "a", "b", "e"]);
    let [i, a, b, e] = &view.containers[..] else {
        panic!()
    };

    assert_eq!(i.field, "spec.initContainers[0]");
    assert_eq!(i.privileged, None);
    // Pod-level values are inherited ...
    assert_eq!(i.user.uid.as_ref().unwrap().value, 1000);
    assert_eq!(
        i.user.uid.as_ref().unwrap().field,
        "spec.securityContext.runAsUser"
    );
    assert!(i.user.userns);
    assert_eq!(i.seccomp.value, Seccomp::RuntimeDefault);
    assert_eq!(i.seccomp.field, "spec.securityContext.seccompProfile.type");
    assert_eq!(i.no_new_privs.value, None);
    assert_eq!(i.memory_limit.value, None);
    assert_eq!(
        i.memory_limit.field,
        "spec.initContainers[0].resources.limits.memory"
    );
    assert_eq!(i.lsm_unconfined.len(), 1, "pod-level spc_t");
    assert_eq!(
        i.lsm_unconfined[0].field,
        "spec.securityContext.seLinuxOptions.type"
    );

    // ... and overridden by container values.
    assert_eq!(
        a.privileged.as_deref(),
        Some("spec.containers[0].securityContext.privileged")
    );
    let caps: Vec<(&str, &str)> = a
        .cap_add
        .iter()
        .map(|c| (c.value.as_str(), c.field.as_str()))
        .collect();
    assert_eq!(
        caps,
        [
            (
                "SYS_ADMIN",
                "spec.containers[0].securityContext.capabilities.add[0]"
            ),
            (
                "cap_net_raw",
                "spec.containers[0].securityContext.capabilities.add[1]"
            )
        ]
    );
    assert_eq!(a.user.uid.as_ref().unwrap().value, 0);
    assert_eq!(
        a.user.uid.as_ref().unwrap().field,
        "spec.containers[0].securityContext.runAsUser"
    );
    assert_eq!(a.seccomp.value, Seccomp::Unconfined);
    assert_eq!(a.no_new_privs.value, Some(true));
    assert_eq!(a.read_only_root.value, Some(true));
    assert_eq!(a.memory_limit.value, Some(512 * 1024 * 1024));
    assert_eq!(a.cwd.as_ref().unwrap().value, "/srv");
    assert_eq!(
        a.cwd.as_ref().unwrap().field,
        "spec.containers[0].workingDir"
    );
    assert!(
        a.lsm_unconfined.is_empty(),
        "container_t overrides pod spc_t"
    );

    assert_eq!(b.no_new_privs.value, Some(false));
    assert_eq!(b.read_only_root.value, None);
    assert_eq!(b.memory_limit.value, Some(1_000_000_000));
    let lsm: Vec<&str> = b.lsm_unconfined.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        lsm,
        [
            "spec.containers[1].securityContext.appArmorProfile.type",
            "metadata.annotations['container.apparmor.security.beta.kubernetes.io/b']",
            "spec.securityContext.seLinuxOptions.type"
        ]
    );

    assert_eq!(e.field, "spec.ephemeralContainers[0]");
    assert_eq!(e.seccomp.value, Seccomp::Profile);
}

#[test]
fn view_of_unset_seccomp_and_user() {
    let w = workload(json!({"spec": {"containers": [{"name": "c", "image": "x"}]}}));
    let view = k8s::pod_view(&w);
    let c = &view.containers[0];
    assert_eq!(c.seccomp.value, Seccomp::Unset);
    assert_eq!(
        c.seccomp.field,
        "spec.containers[0].securityContext.seccompProfile"
    );
    assert!(c.user.uid.is_none());
    assert!(!c.user.userns);
    assert!(view.host_namespaces.is_empty());
    assert!(view.shared_pid_namespace.is_none());
}

#[test]
fn view_of_pod_namespaces_sysctls() {
    let w = workload(json!({"spec": {
        "hostNetwork": true, "hostPID": true, "hostIPC": false, "shareProcessNamespace": true,
        "securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]},
        "containers": [{"name": "c", "image": "x"}]
    }}));
    let view = k8s::pod_view(&w);
    let ns: Vec<(Namespace, &str)> = view
        .host_namespaces
        .iter()
        .map(|f| (f.value, f.field.as_str()))
        .collect();
    assert_eq!(
        ns,
        [
            (Namespace::Network, "spec.hostNetwork"),
            (Namespace::Pid, "spec.hostPID")
        ]
    );
    assert_eq!(
        view.shared_pid_namespace.as_deref(),
        Some("spec.shareProcessNamespace")
    );
    assert_eq!(view.sysctls[0].value, "kernel.msgmax");
    assert_eq!(
        view.sysctls[0].field,
        "spec.securityContext.sysctls[0].name"
    );
}

#[test]
fn view_of_host_mounts() {
    let w = workload(json!({"spec": {
        "volumes": [
            {"name": "ro", "hostPath": {"path": "/etc"}},
            {"name": "mixed", "hostPath": {"path": "/var/run/docker.sock"}},
            {"name": "unused", "hostPath": {"path": "/"}},
            {"name": "ed", "emptyDir": {}}
        ],
        "containers": [
            {"name": "a", "image": "x", "volumeMounts": [
                {"name": "ro", "mountPath": "/host/etc", "readOnly": true},
                {"name": "mixed", "mountPath": "/var/run/docker.sock", "readOnly": true},
                {"name": "ed", "mountPath": "/tmp"}
            ]},
            {"name": "b", "image": "x", "volumeMounts": [
                {"name": "ro", "mountPath": "/etc2", "readOnly": true, "subPath": "ssl",
                 "mountPropagation": "HostToContainer"},
                {"name": "mixed", "mountPath": "/sock", "mountPropagation": "Bidirectional"}
            ]}
        ]
    }}));
    let view = k8s::pod_view(&w);
    assert_eq!(view.host_mounts.len(), 3, "only hostPath volumes");
    let [ro, mixed, unused] = &view.host_mounts[..] else {
        panic!()
    };

    assert_eq!(ro.host_path, "/etc");
    assert_eq!(ro.target, "/host/etc");
    assert!(ro.read_only);
    assert!(ro.sub_path);
    assert_eq!(ro.propagation.as_deref(), Some("HostToContainer"));
    assert_eq!(ro.field, "spec.volumes[0].hostPath.path");
    assert_eq!(
        ro.mount_field,
        "spec.containers[1].volumeMounts[0].mountPropagation"
    );

    // Read-only in one container, writable in another: not read-only.
    assert!(!mixed.read_only);
    assert!(!mixed.sub_path);
    assert_eq!(mixed.propagation.as_deref(), Some("Bidirectional"));
    assert_eq!(
        mixed.mount_field,
        "spec.containers[1].volumeMounts[1].readOnly"
    );

    // Declared but unmounted: no target, and not claimed read-only (an ephemeral container
    // added later can mount it).
    assert_eq!(unused.target, "");
    assert!(!unused.read_only);
    assert_eq!(unused.mount_field, "spec.volumes[2]");
}

#[test]
fn kubernetes_escape_rules() {
    let w = workload(json!({"spec": {
        "shareProcessNamespace": true,
        "volumes": [
            {"name": "h", "hostPath": {"path": "/var/log"}},
            {"name": "g", "gitRepo": {"repository": "https://example.com/r.git"}},
            {"name": "e", "emptyDir": {}}
        ],
        "containers": [{"name": "c", "image": "x", "volumeMounts": [
            {"name": "h", "mountPath": "/logs", "subPathExpr": "$(POD_NAME)"},
            {"name": "h", "mountPath": "/logs2", "subPath": "a", "readOnly": true},
            {"name": "e", "mountPath": "/e", "subPath": "x", "mountPropagation": "Bidirectional"},
            {"name": "g", "mountPath": "/src", "mountPropagation": "HostToContainer"}
        ]}]
    }}));
    let got: Vec<(String, String)> = k8s::evaluate(&w)
        .into_iter()
        .map(|v| (v.rule.id.clone(), v.field))
        .collect();
    let want: Vec<(String, String)> = [
        ("SKD-ESC-025", "spec.volumes[1].gitRepo"),
        (
            "SKD-ESC-024",
            "spec.containers[0].volumeMounts[0].subPathExpr",
        ),
        ("SKD-ESC-024", "spec.containers[0].volumeMounts[1].subPath"),
        // subPath on a non-hostPath volume: informational (CVE-2021-25741).
        ("SKD-K8S-018", "spec.containers[0].volumeMounts[2].subPath"),
        (
            "SKD-ESC-026",
            "spec.containers[0].volumeMounts[2].mountPropagation",
        ),
        ("SKD-ESC-030", "spec.shareProcessNamespace"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);

    let clean = workload(json!({"spec": {"containers": [{"name": "c", "image": "x"}]}}));
    assert!(k8s::evaluate(&clean).is_empty());
}

#[test]
fn quantities_as_kubernetes_parses_them() {
    assert_eq!(k8s::parse_quantity("512Mi"), Some(536_870_912));
    assert_eq!(k8s::parse_quantity("1G"), Some(1_000_000_000));
    assert_eq!(k8s::parse_quantity("2e3"), Some(2000));
    assert_eq!(k8s::parse_quantity("1.5Ki"), Some(1536));
    assert_eq!(k8s::parse_quantity("bogus"), None);
}
