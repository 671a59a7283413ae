//! The normalized view of OCI runtime configs and the OCI-only rules, on `runc spec`'s default,
//! a `--privileged`-like config, a hardened one, and single-field variations.

use oci_spec::runtime::Spec;
use policy::model::{Namespace, Seccomp};
use policy::oci::{evaluate, view};
use serde_json::{json, Value};

const RUNC: &str = include_str!("../../audit/tests/data/oci/runc-spec.json");
const PRIVILEGED: &str = include_str!("../../audit/tests/data/oci/privileged.json");
const HARDENED: &str = include_str!("../../audit/tests/data/oci/hardened.json");

fn spec(text: &str) -> Spec {
    serde_json::from_str(text).expect("decodes")
}

/// runc's default with a change applied to its JSON.
fn runc_with(f: impl FnOnce(&mut Value)) -> Spec {
    let mut v: Value = serde_json::from_str(RUNC).unwrap();
    f(&mut v);
    serde_json::from_value(v).expect("decodes")
}

fn rule_fields(s: &Spec) -> Vec<(String, String)> {
    evaluate(s)
        .into_iter()
        .map(|v| (v.rule.id.clone(), v.field))
        .collect()
}

#[test]
fn runc_default_view() {
    let v = view(&spec(RUNC));
    assert_eq!(v.format, policy::Format::Oci);
    assert!(v.host_namespaces.is_empty(), "{:?}", v.host_namespaces);
    assert!(v.host_mounts.is_empty());
    assert!(v.devices.is_empty());
    assert_eq!(v.device_allow_all, None);
    assert_eq!(v.rootfs_propagation, None);
    let c = &v.containers[0];
    assert_eq!(c.name, "runc");
    assert_eq!(c.privileged, None);
    assert!(c.cap_add.is_empty(), "{:?}", c.cap_add);
    let bounding: Vec<&str> = c
        .cap_bounding
        .as_ref()
        .unwrap()
        .iter()
        .map(|f| f.value.as_str())
        .collect();
    assert_eq!(
        bounding,
        ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    );
    // runc spec has no seccomp: no filtering at all.
    assert_eq!(c.seccomp.value, Seccomp::Unconfined);
    assert_eq!(c.seccomp.field, "linux.seccomp");
    assert_eq!(c.no_new_privs.value, Some(true));
    assert_eq!(c.read_only_root.value, Some(true));
    assert_eq!(c.user.uid.as_ref().unwrap().value, 0);
    assert!(!c.user.userns);
    assert_eq!(c.memory_limit.value, None);
    assert_eq!(c.pids_limit.as_ref().unwrap().value, None);
    assert_eq!(c.cwd.as_ref().unwrap().value, "/");
    assert!(c.lsm_unconfined.is_empty());
}

#[test]
fn runc_default_passes_oci_only_rules() {
    assert_eq!(rule_fields(&spec(RUNC)), vec![]);
}

#[test]
fn privileged_view() {
    let v = view(&spec(PRIVILEGED));
    let c = &v.containers[0];
    assert_eq!(
        c.privileged.as_deref(),
        Some("process.capabilities.bounding")
    );
    assert_eq!(c.cap_add.len(), 41 - 3);
    let admin = c
        .cap_add
        .iter()
        .find(|f| f.value == "CAP_SYS_ADMIN")
        .unwrap();
    assert_eq!(admin.field, "process.capabilities.bounding");
    let ns: Vec<(Namespace, &str)> = v
        .host_namespaces
        .iter()
        .map(|f| (f.value, f.field.as_str()))
        .collect();
    assert_eq!(
        ns,
        [
            (Namespace::Network, "linux.namespaces"),
            (Namespace::Pid, "linux.namespaces[0].path")
        ]
    );
    assert_eq!(v.host_mounts.len(), 2);
    assert_eq!(v.host_mounts[0].host_path, "/var/run/docker.sock");
    assert!(!v.host_mounts[0].read_only);
    assert_eq!(v.host_mounts[0].field, "mounts[7].source");
    assert_eq!(v.host_mounts[1].host_path, "/");
    assert_eq!(v.host_mounts[1].propagation.as_deref(), Some("rshared"));
    assert_eq!(v.device_nodes[0].value.path, "/dev/sda");
    assert_eq!(v.device_nodes[0].value.kind, 'b');
    assert_eq!(v.device_nodes[0].field, "linux.devices[0]");
    assert_eq!(
        v.device_allow_all.as_deref(),
        Some("linux.resources.devices[0]")
    );
    assert_eq!(v.rootfs_propagation.as_ref().unwrap().value, "rshared");
    let sysctls: Vec<&str> = v.sysctls.iter().map(|f| f.value.as_str()).collect();
    assert_eq!(sysctls, ["kernel.core_pattern", "net.ipv4.ip_forward"]);
    assert_eq!(v.sysctls[0].field, "linux.sysctl['kernel.core_pattern']");
    assert_eq!(c.lsm_unconfined.len(), 2);
    assert_eq!(c.no_new_privs.value, Some(false));
    assert_eq!(c.read_only_root.value, Some(false));
    assert_eq!(c.cwd.as_ref().unwrap().value, "/proc/self/fd/5");
}

#[test]
fn privileged_breaks_every_oci_only_rule() {
    let got = rule_fields(&spec(PRIVILEGED));
    let want: Vec<(String, String)> = [
        ("SKD-ESC-040", "linux.maskedPaths"),
        ("SKD-ESC-040", "linux.readonlyPaths"),
        ("SKD-ESC-041", "mounts[5].options"),
        ("SKD-ESC-041", "mounts[6].options"),
        ("SKD-ESC-042", "hooks.prestart[0]"),
        ("SKD-ESC-042", "hooks.poststop[0]"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn hardened_view_and_rules() {
    let s = spec(HARDENED);
    assert_eq!(rule_fields(&s), vec![]);
    let v = view(&s);
    let c = &v.containers[0];
    assert!(v.host_namespaces.is_empty());
    assert!(c.cap_add.is_empty());
    assert_eq!(c.cap_bounding.as_deref().map(|b| b.len()), Some(0));
    assert_eq!(c.seccomp.value, Seccomp::Profile);
    assert!(c.user.userns);
    assert_eq!(c.user.uid.as_ref().unwrap().value, 1000);
    assert_eq!(c.memory_limit.value, Some(268435456));
    assert_eq!(c.pids_limit.as_ref().unwrap().value, Some(256));
    assert_eq!(v.host_mounts.len(), 1);
    assert!(v.host_mounts[0].read_only);
    assert_eq!(v.host_mounts[0].propagation.as_deref(), Some("rprivate"));
}

#[test]
fn cap_add_beyond_default_in_any_set() {
    let s = runc_with(|v| {
        v["process"]["capabilities"]["ambient"] = json!(["CAP_KILL", "CAP_NET_RAW"]);
        v["process"]["capabilities"]["inheritable"] = json!(["sys_ptrace"]);
    });
    let c = &view(&s).containers[0];
    let adds: Vec<(&str, &str)> = c
        .cap_add
        .iter()
        .map(|f| (f.value.as_str(), f.field.as_str()))
        .collect();
    assert_eq!(
        adds,
        [
            ("CAP_SYS_PTRACE", "process.capabilities.inheritable"),
            ("CAP_NET_RAW", "process.capabilities.ambient")
        ]
    );
    // Not privileged: the bounding set is still runc's.
    assert_eq!(c.privileged, None);
    // No capabilities object at all: nothing added, an empty bounding set.
    let s = runc_with(|v| {
        v["process"].as_object_mut().unwrap().remove("capabilities");
    });
    let c = &view(&s).containers[0];
    assert!(c.cap_add.is_empty());
    assert_eq!(c.cap_bounding.as_deref().map(|b| b.len()), Some(0));
}

#[test]
fn privileged_needs_all_three_conditions() {
    let all: Value =
        serde_json::from_str::<Value>(PRIVILEGED).unwrap()["process"]["capabilities"].clone();
    let with_all = |f: &dyn Fn(&mut Value)| {
        runc_with(|v| {
            v["process"]["capabilities"] = all.clone();
            f(v);
        })
    };
    let p = |s: &Spec| view(s).containers[0].privileged.is_some();
    // All caps, but /sys read-only (runc's mount): not privileged.
    assert!(!p(&with_all(&|_| {})));
    // All caps, /sys writable, no seccomp.
    let sys_rw = |v: &mut Value| v["mounts"][5]["options"] = json!(["nosuid", "rw"]);
    assert!(p(&with_all(&sys_rw)));
    // ... with a deny-by-default seccomp: not privileged.
    assert!(!p(&with_all(&|v| {
        sys_rw(v);
        v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ERRNO"});
    })));
    // ... with an allow-by-default seccomp: privileged.
    assert!(p(&with_all(&|v| {
        sys_rw(v);
        v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_LOG"});
    })));
}

#[test]
fn namespaces() {
    let hn = |s: &Spec| -> Vec<(Namespace, String)> {
        view(s)
            .host_namespaces
            .into_iter()
            .map(|f| (f.value, f.field))
            .collect()
    };
    let s = runc_with(|v| v["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}]));
    assert_eq!(
        hn(&s),
        [
            (Namespace::Network, "linux.namespaces".to_string()),
            (Namespace::Ipc, "linux.namespaces".to_string()),
            (Namespace::Uts, "linux.namespaces".to_string())
        ]
    );
    let s = runc_with(|v| {
        v["linux"]["namespaces"][1]["path"] = json!("/proc/1/ns/net");
        v["linux"]["namespaces"][2]["path"] = json!("/proc/self/ns/ipc");
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user", "path": "/proc/1/ns/user"}));
    });
    assert_eq!(
        hn(&s),
        [
            (Namespace::Network, "linux.namespaces[1].path".to_string()),
            (Namespace::Ipc, "linux.namespaces[2].path".to_string()),
            (Namespace::User, "linux.namespaces[5].path".to_string())
        ]
    );
    // Joining a pod sandbox: the pid namespace is shared, the network namespace is not the host's.
    let s = runc_with(|v| {
        v["linux"]["namespaces"][0]["path"] = json!("/proc/4242/ns/pid");
        v["linux"]["namespaces"][1]["path"] = json!("/var/run/netns/cni-1234");
    });
    let w = view(&s);
    assert!(w.host_namespaces.is_empty());
    assert_eq!(
        w.shared_pid_namespace.as_deref(),
        Some("linux.namespaces[0].path")
    );
    // No linux section at all: every namespace is the host's.
    let s = runc_with(|v| {
        v.as_object_mut().unwrap().remove("linux");
    });
    assert_eq!(hn(&s).len(), 5);
}

#[test]
fn user_namespace_mapping() {
    let userns = |maps: Value, path: Option<&str>| {
        let s = runc_with(|v| {
            let mut ns = json!({"type": "user"});
            if let Some(p) = path {
                ns["path"] = json!(p);
            }
            v["linux"]["namespaces"].as_array_mut().unwrap().push(ns);
            if !maps.is_null() {
                v["linux"]["uidMappings"] = maps;
            }
        });
        view(&s).containers[0].user.userns
    };
    assert!(userns(
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
        None
    ));
    assert!(!userns(
        json!([{"containerID": 0, "hostID": 0, "size": 65536}]),
        None
    ));
    // Container uid 1000 mapped to host root is no better.
    assert!(!userns(
        json!([{"containerID": 0, "hostID": 100000, "size": 1000}, {"containerID": 1000, "hostID": 0, "size": 1}]),
        None
    ));
    assert!(!userns(Value::Null, None));
    assert!(!userns(json!([]), None));
    assert!(!userns(Value::Null, Some("/proc/4242/ns/user")));
    // Mappings without a user namespace do nothing.
    let s = runc_with(|v| {
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 1}])
    });
    assert!(!view(&s).containers[0].user.userns);
}

#[test]
fn mounts_bind_detection_and_options() {
    let s = runc_with(|v| {
        let m = v["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/a", "type": "bind", "source": "/etc"}));
        m.push(json!({"destination": "/b", "type": "none", "source": "/var/lib/docker", "options": ["rbind", "ro", "rw"]}));
        m.push(json!({"destination": "/c", "source": "/data", "options": ["bind", "rw", "ro", "slave"]}));
        m.push(json!({"destination": "/d", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]}));
    });
    let v = view(&s);
    let got: Vec<(&str, bool, Option<&str>, &str)> = v
        .host_mounts
        .iter()
        .map(|m| {
            (
                m.host_path.as_str(),
                m.read_only,
                m.propagation.as_deref(),
                m.mount_field.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("/etc", false, None, "mounts[7]"),
            ("/var/lib/docker", false, None, "mounts[8].options"),
            ("/data", true, Some("slave"), "mounts[9].options")
        ]
    );
}

#[test]
fn seccomp_actions() {
    let sc = |action: &str| {
        let s = runc_with(|v| v["linux"]["seccomp"] = json!({"defaultAction": action}));
        view(&s).containers[0].seccomp.clone()
    };
    assert_eq!(sc("SCMP_ACT_ALLOW").value, Seccomp::Unconfined);
    assert_eq!(sc("SCMP_ACT_LOG").value, Seccomp::Unconfined);
    assert_eq!(sc("SCMP_ACT_LOG").field, "linux.seccomp.defaultAction");
    assert_eq!(sc("SCMP_ACT_ERRNO").value, Seccomp::Profile);
    assert_eq!(sc("SCMP_ACT_KILL_PROCESS").value, Seccomp::Profile);
}

#[test]
fn device_cgroup_rules() {
    let allow_all = |rules: Value| {
        let s = runc_with(|v| v["linux"]["resources"]["devices"] = rules);
        view(&s).device_allow_all
    };
    assert_eq!(
        allow_all(json!([{"allow": true}])).as_deref(),
        Some("linux.resources.devices[0]")
    );
    assert!(allow_all(
        json!([{"allow": true, "type": "a", "major": -1, "minor": -1, "access": "rwm"}])
    )
    .is_some());
    assert!(allow_all(
        json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "access": "rw"}])
    )
    .is_some());
    // Later deny-all wins; specific devices and mknod-only wildcards are fine.
    assert!(allow_all(
        json!([{"allow": true, "access": "rwm"}, {"allow": false, "access": "rwm"}])
    )
    .is_none());
    assert!(allow_all(json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}])).is_none());
    assert!(allow_all(json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "access": "m"}, {"allow": true, "type": "b", "access": "m"}])).is_none());
}

#[test]
fn limits_unset_when_not_positive() {
    let s = runc_with(|v| {
        v["linux"]["resources"]["memory"] = json!({"limit": -1});
        v["linux"]["resources"]["pids"] = json!({"limit": 0});
    });
    let c = &view(&s).containers[0];
    assert_eq!(c.memory_limit.value, None);
    assert_eq!(c.memory_limit.field, "linux.resources.memory.limit");
    assert_eq!(c.pids_limit.as_ref().unwrap().value, None);
}

#[test]
fn lsm_labels() {
    let s = runc_with(|v| {
        v["process"]["apparmorProfile"] = json!("docker-default");
        v["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0:c1,c2");
    });
    assert!(view(&s).containers[0].lsm_unconfined.is_empty());
    let s = runc_with(|v| {
        v["process"]["selinuxLabel"] = json!("unconfined_u:unconfined_r:unconfined_t:s0")
    });
    assert_eq!(
        view(&s).containers[0].lsm_unconfined[0].field,
        "process.selinuxLabel"
    );
}

#[test]
fn esc040_masked_and_readonly_paths() {
    let ids = |f: &dyn Fn(&mut Value)| rule_fields(&runc_with(f));
    // One missing masked path.
    let got =
        ids(&|v| v["linux"]["maskedPaths"] = json!(["/proc/kcore", "/proc/keys", "/sys/firmware"]));
    assert_eq!(
        got,
        [("SKD-ESC-040".to_string(), "linux.maskedPaths".to_string())]
    );
    let msg = evaluate(&runc_with(|v| {
        v["linux"]["maskedPaths"] = json!(["/proc/kcore", "/proc/keys", "/sys/firmware"])
    }))[0]
        .message
        .clone();
    assert!(msg.contains("/proc/timer_list"), "{msg}");
    // Parent directories cover, and masking covers the read-only requirement.
    assert!(ids(&|v| {
        v["linux"]["maskedPaths"] = json!([
            "/proc/kcore/",
            "/proc/keys",
            "/proc/timer_list",
            "/sys/firmware",
            "/proc/sysrq-trigger"
        ]);
        v["linux"]["readonlyPaths"] = json!(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"]);
    })
    .is_empty());
    // Lists absent.
    let got = ids(&|v| {
        let l = v["linux"].as_object_mut().unwrap();
        l.remove("maskedPaths");
        l.remove("readonlyPaths");
    });
    assert_eq!(got.len(), 2);
}

#[test]
fn esc041_writable_kernel_fs() {
    let ids = |f: &dyn Fn(&mut Value)| rule_fields(&runc_with(f));
    let got = ids(&|v| v["mounts"][6]["options"] = json!(["nosuid", "ro", "rw"]));
    assert_eq!(
        got,
        [("SKD-ESC-041".to_string(), "mounts[6].options".to_string())]
    );
    let got = ids(&|v| {
        v["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/sys/fs/cgroup", "type": "cgroup2", "source": "cgroup"}));
    });
    assert_eq!(got, [("SKD-ESC-041".to_string(), "mounts[7]".to_string())]);
    assert!(ids(&|v| v["mounts"][5]["options"] = json!(["rw", "ro"])).is_empty());
}

#[test]
fn esc042_hooks() {
    let got = rule_fields(&runc_with(|v| {
        v["hooks"] = json!({
            "createRuntime": [{"path": "/a"}, {"path": "/b"}],
            "createContainer": [{"path": "/c"}],
            "startContainer": [{"path": "/d"}],
            "poststart": [{"path": "/e"}]
        })
    }));
    let fields: Vec<&str> = got.iter().map(|(_, f)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "hooks.createRuntime[0]",
            "hooks.createRuntime[1]",
            "hooks.createContainer[0]",
            "hooks.startContainer[0]",
            "hooks.poststart[0]"
        ]
    );
    assert!(rule_fields(&runc_with(|v| v["hooks"] = json!({}))).is_empty());
}

#[test]
fn evaluate_config_filters_by_level() {
    let s = spec(PRIVILEGED);
    let opts = policy::Options {
        level: policy::Level::Baseline,
        ..policy::Options::default()
    };
    let got = policy::oci::evaluate_config(&s, &opts);
    // ESC-042 is a restricted rule; 040 and 041 are baseline.
    assert!(got.iter().all(|v| v.rule.id != "SKD-ESC-042"));
    assert!(got.iter().any(|v| v.rule.id == "SKD-ESC-040"));
    let all = policy::oci::evaluate_config(&s, &policy::Options::default());
    assert!(all.iter().any(|v| v.rule.id == "SKD-ESC-042"));
}

#[test]
fn esc040_second_procfs() {
    let got = rule_fields(&runc_with(|v| {
        v["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/host-proc", "type": "proc", "source": "proc"}));
    }));
    assert_eq!(got, [("SKD-ESC-040".to_string(), "mounts[7]".to_string())]);
    let got = rule_fields(&runc_with(|v| {
        v["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/p", "type": "proc", "source": "proc", "options": ["ro"]}),
        );
    }));
    assert!(got.is_empty());
}

/// The cross-format findings of one rule on a config, as fields.
fn fields_of(s: &Spec, id: &str) -> Vec<String> {
    policy::oci::evaluate_config(s, &policy::Options::default())
        .into_iter()
        .filter(|v| v.rule.id == id)
        .map(|v| v.field)
        .collect()
}

#[test]
fn host_devices_are_judged_by_class_not_name() {
    let s = runc_with(|v| {
        v["linux"]["devices"] = json!([
            {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3},
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229},
            {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0},
            {"path": "/dev/harmless", "type": "c", "major": 1, "minor": 1},
            {"path": "/dev/cpu/0/msr", "type": "u", "major": 202, "minor": 0},
            {"path": "/dev/ttyS9", "type": "c", "major": 4, "minor": 73}
        ]);
    });
    assert_eq!(
        fields_of(&s, "SKD-ESC-038"),
        ["linux.devices[2]", "linux.devices[3]", "linux.devices[4]"]
    );
    let msg = policy::oci::evaluate_config(&s, &policy::Options::default())
        .into_iter()
        .find(|v| v.field == "linux.devices[3]")
        .unwrap()
        .message;
    assert!(msg.contains("c 1:1") && msg.contains("/dev/mem"), "{msg}");
}

#[test]
fn weakening_annotations_are_their_own_rule() {
    let s = runc_with(|v| {
        v["annotations"] = json!({
            "stockade.io/landlock": "off",
            "run.oci.keep_original_groups": "1",
            "org.systemd.property.DeviceAllow": "'/dev/sda rwm'",
            "io.kubernetes.cri-o.Devices": "/dev/sda",
            "io.kubernetes.cri-o.ContainerID": "abc",
            "stockade.io/ignore": "SKD-ESC-034: test",
            "org.opencontainers.image.stopSignal": "SIGTERM"
        });
    });
    assert_eq!(
        fields_of(&s, "SKD-ESC-044"),
        [
            "annotations['io.kubernetes.cri-o.Devices']",
            "annotations['org.systemd.property.DeviceAllow']",
            "annotations['run.oci.keep_original_groups']",
            "annotations['stockade.io/landlock']",
        ]
    );
    assert!(fields_of(&spec(RUNC), "SKD-ESC-044").is_empty());
}
