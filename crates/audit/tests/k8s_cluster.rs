//! Cross-object Kubernetes rules (policy::cluster) on manifest sets read by the Kubernetes
//! reader: RBAC escalation paths, dangerous bindings, powerful service-account tokens,
//! NetworkPolicy coverage and namespace Pod Security labels.

use audit::{FileReport, Subject};
use policy::cluster::{self, ClusterObject};
use policy::model::PodWorkload;

fn read(name: &str) -> FileReport {
    let path = format!("{}/tests/data/k8s/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture");
    let r = audit::k8s::read(&path, &text);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    r
}

/// (object name, rule id, field) of every violation.
fn evaluate(r: &FileReport) -> Vec<(String, String, String)> {
    let objects: Vec<(usize, &ClusterObject)> = r
        .items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| match &item.subject {
            Subject::Cluster(c) => Some((i, c.as_ref())),
            _ => None,
        })
        .collect();
    let pods: Vec<(usize, &PodWorkload)> = r
        .items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| match &item.subject {
            Subject::Pod(p) => Some((i, p.as_ref())),
            _ => None,
        })
        .collect();
    let mut out: Vec<_> = cluster::evaluate(&objects, &pods)
        .into_iter()
        .map(|(i, v)| {
            // Every field names a place in the object's own document.
            assert!(r.items[i].lines.position(&v.field).is_some());
            (r.items[i].object.name.clone(), v.rule.id.clone(), v.field)
        })
        .collect();
    out.sort();
    out
}

fn has(v: &[(String, String, String)], name: &str, id: &str, field: &str) -> bool {
    v.iter().any(|(n, i, f)| n == name && i == id && f == field)
}

#[test]
fn each_escalation_path_is_found() {
    let r = read("rbac-escalations.yaml");
    let v = evaluate(&r);
    let expect = [
        ("creates-pods", "SKD-K8S-002", "rules[1]"),
        ("patches-deployments", "SKD-K8S-002", "rules[0]"),
        ("execs", "SKD-K8S-003", "rules[0]"),
        ("debugs", "SKD-K8S-003", "rules[0]"),
        ("kubelet-proxy", "SKD-K8S-004", "rules[0]"),
        ("escalates", "SKD-K8S-005", "rules[0]"),
        ("binds", "SKD-K8S-005", "rules[0]"),
        ("impersonates", "SKD-K8S-005", "rules[0]"),
        ("wildcard-verbs", "SKD-K8S-006", "rules[0]"),
        ("wildcard-groups", "SKD-K8S-006", "rules[0]"),
        ("reads-secrets", "SKD-K8S-007", "rules[0]"),
        ("admins", "SKD-K8S-008", "roleRef.name"),
        ("everyone", "SKD-K8S-008", "subjects[0].name"),
    ];
    for (name, id, field) in expect {
        assert!(
            has(&v, name, id, field),
            "missing {name} {id} {field} in {v:#?}"
        );
    }
    assert_eq!(v.len(), expect.len(), "{v:#?}");
}

#[test]
fn clean_rbac_set_has_no_findings() {
    let r = read("rbac-clean.yaml");
    assert_eq!(evaluate(&r), []);
}

#[test]
fn powerful_tokens_are_found_through_bindings() {
    let r = read("sa-tokens.yaml");
    let v = evaluate(&r);
    let tokens: Vec<_> = v
        .iter()
        .filter(|(_, id, _)| id == "SKD-K8S-001")
        .map(|(n, _, f)| (n.as_str(), f.as_str()))
        .collect();
    assert_eq!(
        tokens,
        [
            // ServiceAccount subject without namespace: the RoleBinding's namespace.
            ("deployer", "spec.serviceAccountName"),
            // automountServiceAccountToken: true on the pod beats the account's false.
            ("forced", "spec.automountServiceAccountToken"),
            // system:serviceaccounts:mon group, aggregated ClusterRole reading secrets.
            ("scraper", "spec.template.spec.serviceAccountName"),
            // Default account, User system:serviceaccount:web:default bound to built-in edit.
            ("web", "spec.template.spec.serviceAccountName"),
        ]
    );
    // The quiet account opts out, the pod opted out, and `other-ns` is another account.
    assert!(has(&v, "deploy", "SKD-K8S-002", "rules[0]"));
    assert!(has(&v, "secret-peek", "SKD-K8S-007", "rules[0]"));
}

#[test]
fn namespace_labels_and_network_policies() {
    let r = read("namespaces.yaml");
    let v = evaluate(&r);
    assert_eq!(
        v,
        [
            (
                "bad-version".into(),
                "SKD-K8S-011".into(),
                "metadata.labels['pod-security.kubernetes.io/enforce-version']".into()
            ),
            // The pod in `good` (whose Namespace object is in the set), not in `unlisted`.
            ("p".into(), "SKD-K8S-010".into(), "metadata.name".into()),
            (
                "typo".into(),
                "SKD-K8S-011".into(),
                "metadata.labels['pod-security.kubernetes.io/enforce']".into()
            ),
            (
                "unlabelled".into(),
                "SKD-K8S-011".into(),
                "metadata.labels".into()
            ),
            (
                "wide-open".into(),
                "SKD-K8S-011".into(),
                "metadata.labels['pod-security.kubernetes.io/enforce']".into()
            ),
        ]
    );
}

#[test]
fn partial_set_with_a_network_policy_judges_every_workload() {
    let r = read("netpol-partial.yaml");
    let v = evaluate(&r);
    // `in-a` is selected by an ingress-only policy (its egress is open); `in-b` by none.
    assert_eq!(
        v,
        [
            ("in-a".into(), "SKD-K8S-010".into(), "metadata.name".into()),
            ("in-b".into(), "SKD-K8S-010".into(), "metadata.name".into()),
        ]
    );
}

/// (object name, message) of every SKD-K8S-010 violation.
fn network_messages(r: &FileReport) -> Vec<(String, String)> {
    let objects: Vec<(usize, &ClusterObject)> = r
        .items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| match &item.subject {
            Subject::Cluster(c) => Some((i, c.as_ref())),
            _ => None,
        })
        .collect();
    let pods: Vec<(usize, &PodWorkload)> = r
        .items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| match &item.subject {
            Subject::Pod(p) => Some((i, p.as_ref())),
            _ => None,
        })
        .collect();
    let mut out: Vec<_> = cluster::evaluate(&objects, &pods)
        .into_iter()
        .filter(|(_, v)| v.rule.id == "SKD-K8S-010")
        .map(|(i, v)| (r.items[i].object.name.clone(), v.message))
        .collect();
    out.sort();
    out
}

#[test]
fn network_policies_are_judged_per_workload() {
    let r = read("netpol-per-workload.yaml");
    let v = network_messages(&r);
    let about = |name: &str| -> Vec<&str> {
        v.iter()
            .filter(|(n, _)| n == name)
            .map(|(_, m)| m.as_str())
            .collect()
    };
    // Selected by a default-deny policy and an egress policy that excepts the metadata
    // address: nothing to say.
    assert!(about("isolated").is_empty(), "{v:?}");
    // In the same namespace, but no podSelector matches its labels.
    let stray = about("stray");
    assert_eq!(stray.len(), 1, "{v:?}");
    assert!(
        stray[0].contains("selected by no NetworkPolicy"),
        "{stray:?}"
    );
    // Ingress from every namespace, and no policy restricts its egress.
    let front = about("front");
    assert_eq!(front.len(), 2, "{v:?}");
    assert!(
        front
            .iter()
            .any(|m| m.contains("\"from-anywhere\" admits traffic from every namespace")),
        "{front:?}"
    );
    assert!(
        front
            .iter()
            .any(|m| m.contains("restricts egress") && m.contains("169.254.169.254")),
        "{front:?}"
    );
    // Ingress denied; egress to a block holding the metadata address.
    let scraper = about("scraper");
    assert_eq!(scraper.len(), 1, "{v:?}");
    assert!(
        scraper[0].contains("\"link-local\" lets it reach the cloud metadata service"),
        "{scraper:?}"
    );
}
