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
