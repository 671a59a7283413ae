//! Issue 16's false alarms (benign binds, a Role's `*`) and the escape vectors that were missing
//! from the catalogue: each failing input gives its rule at its severity, each benign twin
//! gives nothing.

use audit::run::{evaluate_files, read_text, AuditOptions};
use policy::catalogue::{Level, Severity};

/// (rule id, severity, field) of every finding of `text` read as the file `name`, at `level`.
fn audit(name: &str, text: &str, level: Level) -> Vec<(String, Severity, String)> {
    let file = read_text(name, text);
    assert!(file.problems.is_empty(), "{name}: {:?}", file.problems);
    let opts = AuditOptions {
        policy: policy::Options {
            level,
            ..policy::Options::default()
        },
        ..AuditOptions::default()
    };
    evaluate_files(&[file], &opts)
        .findings
        .iter()
        .map(|f| (f.rule.id.clone(), f.rule.severity, f.field.clone()))
        .collect()
}

fn ids(f: &[(String, Severity, String)]) -> Vec<&str> {
    f.iter().map(|x| x.0.as_str()).collect()
}

fn has(f: &[(String, Severity, String)], id: &str, sev: Severity) -> bool {
    f.iter().any(|x| x.0 == id && x.1 == sev)
}

/// A compose service that is clean at hardened apart from its volumes.
fn compose(volumes: &[&str]) -> String {
    let mut s = String::from(
        "services:\n  app:\n    image: x\n    read_only: true\n    user: \"1000\"\n    \
         cap_drop: [ALL]\n    security_opt: [no-new-privileges:true]\n    mem_limit: 100m\n    \
         pids_limit: 100\n    volumes:\n",
    );
    for v in volumes {
        s.push_str(&format!("      - {v}\n"));
    }
    s
}

#[test]
fn benign_binds_are_not_findings() {
    let clean = compose(&[
        "/dev/null:/app/secret.txt",
        "/dev/urandom:/dev/random",
        "/etc/localtime:/etc/localtime:ro",
        "/etc/timezone:/etc/timezone:ro",
        "/usr/share/zoneinfo:/usr/share/zoneinfo:ro",
        "/etc/ssl/certs:/etc/ssl/certs:ro",
        "/etc/ssl/certs/ca-certificates.crt:/ca.crt:ro",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem:/etc/ssl/cert.pem:ro",
        "/etc/pki/tls/certs:/certs:ro",
    ]);
    let f = audit("compose.yaml", &clean, Level::Hardened);
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn near_misses_of_benign_binds_are_still_findings() {
    for (volume, id, sev) in [
        // Writable: the host's time zone file can be rewritten.
        (
            "/etc/localtime:/etc/localtime",
            "SKD-ESC-021",
            Severity::Critical,
        ),
        // Keys live beside the certificates.
        ("/etc/ssl:/etc/ssl:ro", "SKD-ESC-022", Severity::High),
        (
            "/etc/ssl/certs/../private:/k:ro",
            "SKD-ESC-022",
            Severity::High,
        ),
        ("/etc/pki/tls:/pki:ro", "SKD-ESC-022", Severity::High),
        ("/dev/mem:/dev/mem", "SKD-ESC-021", Severity::Critical),
        ("/dev:/dev:ro", "SKD-ESC-022", Severity::High),
    ] {
        let f = audit("compose.yaml", &compose(&[volume]), Level::Hardened);
        assert!(has(&f, id, sev), "{volume}: {f:?}");
    }
}

const ROLE_STAR: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: ns-admin, namespace: team}
rules:
- apiGroups: ['*']
  resources: ['*']
  verbs: ['*']
";

#[test]
fn a_namespaced_role_cannot_grant_nodes_proxy() {
    let f = audit("role.yaml", ROLE_STAR, Level::Restricted);
    assert!(!ids(&f).contains(&"SKD-K8S-004"), "{f:?}");
    // What it does grant in its namespace is still reported.
    for id in ["SKD-K8S-002", "SKD-K8S-003", "SKD-K8S-006", "SKD-K8S-007"] {
        assert!(ids(&f).contains(&id), "{id}: {f:?}");
    }
    // The same rule in a ClusterRole does grant it.
    let cluster = ROLE_STAR
        .replace("kind: Role", "kind: ClusterRole")
        .replace(", namespace: team", "");
    let f = audit("clusterrole.yaml", &cluster, Level::Restricted);
    assert!(has(&f, "SKD-K8S-004", Severity::Critical), "{f:?}");
}

fn cluster_role(group: &str, resource: &str, verb: &str) -> String {
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: r}}\n\
         rules:\n- apiGroups: ['{group}']\n  resources: ['{resource}']\n  verbs: ['{verb}']\n"
    )
}

#[test]
fn rbac_takeover_grants() {
    for (group, resource, verb, id, sev) in [
        (
            "",
            "serviceaccounts/token",
            "create",
            "SKD-K8S-013",
            Severity::High,
        ),
        (
            "",
            "persistentvolumes",
            "create",
            "SKD-K8S-014",
            Severity::High,
        ),
        (
            "certificates.k8s.io",
            "certificatesigningrequests/approval",
            "update",
            "SKD-K8S-015",
            Severity::Critical,
        ),
        (
            "certificates.k8s.io",
            "signers",
            "approve",
            "SKD-K8S-015",
            Severity::Critical,
        ),
        (
            "rbac.authorization.k8s.io",
            "clusterroles",
            "escalate",
            "SKD-K8S-005",
            Severity::Critical,
        ),
        (
            "rbac.authorization.k8s.io",
            "roles",
            "bind",
            "SKD-K8S-005",
            Severity::Critical,
        ),
        (
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations",
            "delete",
            "SKD-K8S-016",
            Severity::High,
        ),
        (
            "admissionregistration.k8s.io",
            "mutatingwebhookconfigurations",
            "patch",
            "SKD-K8S-016",
            Severity::High,
        ),
    ] {
        let f = audit(
            "r.yaml",
            &cluster_role(group, resource, verb),
            Level::Baseline,
        );
        assert!(has(&f, id, sev), "{verb} {resource}: {f:?}");
    }
    // Benign neighbours: reading them grants nothing of the kind.
    for (group, resource, verb) in [
        ("", "serviceaccounts", "get"),
        ("", "persistentvolumes", "list"),
        ("", "persistentvolumeclaims", "create"),
        ("certificates.k8s.io", "certificatesigningrequests", "get"),
        (
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations",
            "get",
        ),
    ] {
        let f = audit(
            "r.yaml",
            &cluster_role(group, resource, verb),
            Level::Hardened,
        );
        assert!(f.is_empty(), "{verb} {resource}: {f:?}");
    }
    // Cluster-scoped grants in a Role grant nothing.
    let role = cluster_role("", "persistentvolumes", "create")
        .replace("kind: ClusterRole", "kind: Role")
        .replace("{name: r}", "{name: r, namespace: team}");
    assert!(audit("r.yaml", &role, Level::Hardened).is_empty());
}

fn pod(spec: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  {spec}\n")
}

#[test]
fn sysctl_values_that_smuggle_a_second_setting() {
    let bad = pod("securityContext: {sysctls: [{name: kernel.shm_rmid_forced, value: '1+kernel.core_pattern=|/x'}]}\n  containers: [{name: c, image: x}]");
    let f = audit("p.yaml", &bad, Level::Baseline);
    assert!(has(&f, "SKD-ESC-060", Severity::Critical), "{f:?}");
    // Pod Security alone passes it: only the name is checked.
    assert!(!ids(&f).contains(&"SKD-PSS-010"), "{f:?}");
    let ok = pod("securityContext: {sysctls: [{name: kernel.shm_rmid_forced, value: '1'}, {name: net.ipv4.ip_local_port_range, value: '1024 65535'}]}\n  containers: [{name: c, image: x}]");
    assert!(!ids(&audit("p.yaml", &ok, Level::Baseline)).contains(&"SKD-ESC-060"));
    // Compose, as a map and as a list, and OCI.
    for sysctls in [
        "{kernel.shm_rmid_forced: '1+kernel.core_pattern=|/x'}",
        "['kernel.shm_rmid_forced=1+kernel.core_pattern=|/x']",
    ] {
        let c = format!("services:\n  app:\n    image: x\n    sysctls: {sysctls}\n");
        let f = audit("compose.yaml", &c, Level::Baseline);
        assert!(
            has(&f, "SKD-ESC-060", Severity::Critical),
            "{sysctls}: {f:?}"
        );
    }
    let c =
        "services:\n  app:\n    image: x\n    sysctls: ['net.ipv4.ip_unprivileged_port_start=0']\n";
    assert!(!ids(&audit("compose.yaml", c, Level::Baseline)).contains(&"SKD-ESC-060"));
    let oci = std::fs::read_to_string(format!(
        "{}/tests/data/oci/hardened.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&oci).unwrap();
    v["linux"]["sysctl"] =
        serde_json::json!({"kernel.shm_rmid_forced": "1+kernel.core_pattern=|/x"});
    let f = audit("config.json", &v.to_string(), Level::Baseline);
    assert!(has(&f, "SKD-ESC-060", Severity::Critical), "{f:?}");
    for (value, smuggles) in [
        ("1", false),
        ("0 2147483647", false),
        ("4096 87380 6291456", false),
        ("1+kernel.core_pattern=|/x", true),
        ("1+kernel.core_pattern", true),
        ("1\nkernel.core_pattern=|/x", true),
        ("a=b", true),
        ("1+2", false),
    ] {
        assert_eq!(
            policy::escape::smuggles_a_setting(value),
            smuggles,
            "{value:?}"
        );
    }
}

#[test]
fn probes_and_lifecycle_handlers_aimed_at_the_node() {
    for (handler, why) in [
        ("livenessProbe: {httpGet: {host: 169.254.169.254, path: /latest/meta-data/iam/, port: 80}}", "metadata"),
        ("readinessProbe: {tcpSocket: {host: 'fd00:ec2::254', port: 80}}", "metadata v6"),
        ("startupProbe: {httpGet: {host: 127.0.0.1, port: 2379}}", "loopback"),
        ("lifecycle: {postStart: {httpGet: {host: localhost, port: 8080}}}", "loopback name"),
        ("lifecycle: {preStop: {tcpSocket: {host: 10.0.0.5, port: 10250}}}", "kubelet port"),
        ("livenessProbe: {httpGet: {host: metadata.google.internal, port: 80}}", "gcp"),
    ] {
        let p = pod(&format!("containers: [{{name: c, image: x, {handler}}}]"));
        let f = audit("p.yaml", &p, Level::Baseline);
        assert!(has(&f, "SKD-K8S-017", Severity::High), "{why}: {f:?}");
    }
    // Any other host is Pod Security's medium finding only; no host is nothing.
    let p = pod(
        "containers: [{name: c, image: x, livenessProbe: {httpGet: {host: 10.0.0.5, port: 8080}}}]",
    );
    let f = audit("p.yaml", &p, Level::Baseline);
    assert!(!ids(&f).contains(&"SKD-K8S-017"), "{f:?}");
    assert!(has(&f, "SKD-PSS-012", Severity::Medium), "{f:?}");
    let p = pod("containers: [{name: c, image: x, livenessProbe: {httpGet: {port: 10250}}}]");
    assert!(audit("p.yaml", &p, Level::Baseline).is_empty());
}

#[test]
fn subpath_on_any_volume_is_informational() {
    let p = pod("volumes: [{name: cfg, configMap: {name: c}}]\n  containers: [{name: c, image: x, volumeMounts: [{name: cfg, mountPath: /etc/app.conf, subPath: app.conf}]}]");
    let f = audit("p.yaml", &p, Level::Baseline);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(has(&f, "SKD-K8S-018", Severity::Info), "{f:?}");
    let p = pod("volumes: [{name: d, emptyDir: {}}]\n  containers: [{name: c, image: x, volumeMounts: [{name: d, mountPath: /d, subPathExpr: '$(POD)'}]}]");
    assert!(has(
        &audit("p.yaml", &p, Level::Baseline),
        "SKD-K8S-018",
        Severity::Info
    ));
    let p = pod("volumes: [{name: d, emptyDir: {}}]\n  containers: [{name: c, image: x, volumeMounts: [{name: d, mountPath: /d}]}]");
    assert!(audit("p.yaml", &p, Level::Baseline).is_empty());
}

#[test]
fn user_ids_above_2_pow_31_minus_1() {
    for (sc, bad) in [
        ("securityContext: {runAsUser: 4294967296}", true),
        ("securityContext: {runAsUser: 2147483648}", true),
        ("securityContext: {runAsUser: 2147483647}", false),
        ("securityContext: {runAsUser: 65534}", false),
    ] {
        let p = pod(&format!("containers: [{{name: c, image: x, {sc}}}]"));
        let f = audit("p.yaml", &p, Level::Baseline);
        assert_eq!(has(&f, "SKD-ESC-061", Severity::High), bad, "{sc}: {f:?}");
    }
    for (user, bad) in [
        ("4294967296", true),
        ("1000:4294967296", true),
        ("65534", false),
        ("app", false),
    ] {
        let df = format!("FROM debian:12\nUSER {user}\n");
        let f = audit("Dockerfile", &df, Level::Baseline);
        assert_eq!(has(&f, "SKD-ESC-061", Severity::High), bad, "{user}: {f:?}");
    }
    let c = "services:\n  app:\n    image: x\n    user: '4294967295'\n";
    assert!(has(
        &audit("compose.yaml", c, Level::Baseline),
        "SKD-ESC-061",
        Severity::High
    ));
    let oci = std::fs::read_to_string(format!(
        "{}/tests/data/oci/hardened.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&oci).unwrap();
    v["process"]["user"]["uid"] = serde_json::json!(4294967295u32);
    let f = audit("config.json", &v.to_string(), Level::Baseline);
    assert!(has(&f, "SKD-ESC-061", Severity::High), "{f:?}");
}
