//! deploy/: the kustomize bases build, and say what docs/admission.md says they say.
//!
//! Uses `kubectl kustomize` (kubectl is on the project's machines; Debian package `kubectl` or
//! `kubernetes-client`; scripts/install-deps installs it). Without kubectl the test prints a
//! `SKIP:` line, and fails under CI=true, where install-deps must have provided it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn kustomize(dir: &str) -> Option<String> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(root().join(dir))
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

/// The YAML documents of a kustomize output, each with its kind.
fn docs(yaml: &str) -> Vec<(String, String)> {
    yaml.split("\n---\n")
        .map(|d| {
            let kind = d
                .lines()
                .find_map(|l| l.strip_prefix("kind: "))
                .unwrap_or("")
                .to_string();
            (kind, d.to_string())
        })
        .collect()
}

#[test]
fn kustomize_bases_and_overlays() {
    let Some(all) = kustomize("deploy") else {
        testkit::skip("kubectl not installed: the kustomize checks of deploy/ did not run");
        return;
    };
    let d = docs(&all);
    let kinds: Vec<&str> = d.iter().map(|(k, _)| k.as_str()).collect();
    for k in [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "DaemonSet",
        "RuntimeClass",
    ] {
        assert!(kinds.contains(&k), "{k} missing: {kinds:?}");
    }
    let get = |k: &str| d.iter().find(|(kind, _)| kind == k).unwrap().1.clone();

    let dep = get("Deployment");
    assert!(dep.contains("replicas: 2"));
    assert!(dep.contains("image: registry.example/stockade:0.1.0"));
    assert!(dep.contains("- --tls-dir=/tls"));
    assert!(dep.contains("runAsNonRoot: true"));
    assert!(dep.contains("readOnlyRootFilesystem: true"));
    // Namespace labels from the API server, with a projected token where in-cluster clients
    // look for it, and read-only access to namespaces and nothing else.
    assert!(dep.contains("- --namespace-source=api"));
    assert!(dep.contains("mountPath: /var/run/secrets/kubernetes.io/serviceaccount"));
    assert!(dep.contains("serviceAccountToken:") && dep.contains("name: kube-root-ca.crt"));
    assert!(dep.contains("serviceAccountName: stockade-admission"));
    let role = get("ClusterRole");
    assert!(role.contains("- namespaces"), "{role}");
    let verbs: Vec<&str> = role
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("verbs:"))
        .skip(1)
        .take_while(|l| l.trim_start().starts_with("- "))
        .map(|l| l.trim_start().trim_start_matches("- "))
        .collect();
    assert_eq!(verbs, ["get", "list", "watch"], "{role}");
    assert_eq!(role.matches("resources:").count(), 1, "{role}");
    let binding = get("ClusterRoleBinding");
    assert!(
        binding.contains(
            "- kind: ServiceAccount\n  name: stockade-admission\n  namespace: stockade-system"
        ),
        "{binding}"
    );
    assert!(get("PodDisruptionBudget").contains("minAvailable: 1"));

    let vwc = get("ValidatingWebhookConfiguration");
    for path in [
        "/validate/baseline",
        "/validate/restricted",
        "/validate/hardened",
        "path: /validate\n",
    ] {
        assert!(vwc.contains(path), "{path}");
    }
    assert_eq!(vwc.matches("- pods/ephemeralcontainers").count(), 4);
    assert_eq!(vwc.matches("- kube-system").count(), 4);
    assert_eq!(vwc.matches("- stockade-system").count(), 4);
    assert_eq!(vwc.matches("failurePolicy: Fail").count(), 4);
    assert_eq!(vwc.matches("sideEffects: None").count(), 4);
    for r in [
        "deployments",
        "cronjobs",
        "jobs",
        "statefulsets",
        "daemonsets",
        "replicasets",
        "replicationcontrollers",
        "podtemplates",
    ] {
        assert!(vwc.contains(&format!("- {r}")), "{r}");
    }
    let mwc = get("MutatingWebhookConfiguration");
    assert!(mwc.contains("path: /mutate"));
    assert!(mwc.contains("failurePolicy: Ignore"));
    assert!(!mwc.contains("UPDATE"), "mutation on CREATE only");

    let ds = get("DaemonSet");
    assert!(ds.contains("hostPID: true"));
    assert!(ds.contains("- BPF") && ds.contains("- PERFMON"));
    assert!(!ds.contains("SYS_ADMIN") && !ds.contains("privileged: true"));
    assert!(ds.contains("stockade.io/ignore:"));
    let rc = get("RuntimeClass");
    assert!(rc.contains("handler: stockade"));

    let open = kustomize("deploy/overlays/fail-open").unwrap();
    let vwc = docs(&open)
        .into_iter()
        .find(|(k, _)| k == "ValidatingWebhookConfiguration")
        .unwrap()
        .1;
    assert_eq!(vwc.matches("failurePolicy: Ignore").count(), 4);
    assert!(!vwc.contains("failurePolicy: Fail"));

    let all_ns = kustomize("deploy/overlays/mutate-all").unwrap();
    assert!(!all_ns.contains("key: stockade.io/harden"));
}

#[test]
fn containerd_snippet_points_the_runc_shim_at_stockade() {
    let t =
        std::fs::read_to_string(root().join("deploy/runtime/containerd-stockade.toml")).unwrap();
    assert!(t.contains("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.stockade]"));
    assert!(t.contains("runtime_type = \"io.containerd.runc.v2\""));
    assert!(t.contains("BinaryName = \"/usr/local/bin/stockade\""));
    // It parses as TOML (the active block).
    let v: toml::Table = toml::from_str(&t).unwrap();
    assert!(v.contains_key("plugins"));
}
