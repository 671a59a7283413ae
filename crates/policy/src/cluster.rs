//! Rules across several Kubernetes objects: RBAC, service-account tokens, NetworkPolicies and
//! namespace Pod Security labels.

use crate::catalogue::{id, RuleId};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// A Kubernetes object used by the cross-object rules.
#[derive(Debug, Clone)]
pub enum ClusterObject {
    Namespace(Namespace),
    NetworkPolicy(NetworkPolicy),
    ServiceAccount(ServiceAccount),
    Role(Role),
    ClusterRole(ClusterRole),
    RoleBinding(RoleBinding),
    ClusterRoleBinding(ClusterRoleBinding),
}

impl ClusterObject {
    /// The kinds this enum holds.
    pub const KINDS: &'static [&'static str] = &[
        "Namespace",
        "NetworkPolicy",
        "ServiceAccount",
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
    ];

    pub fn kind(&self) -> &'static str {
        match self {
            ClusterObject::Namespace(_) => "Namespace",
            ClusterObject::NetworkPolicy(_) => "NetworkPolicy",
            ClusterObject::ServiceAccount(_) => "ServiceAccount",
            ClusterObject::Role(_) => "Role",
            ClusterObject::ClusterRole(_) => "ClusterRole",
            ClusterObject::RoleBinding(_) => "RoleBinding",
            ClusterObject::ClusterRoleBinding(_) => "ClusterRoleBinding",
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            ClusterObject::Namespace(o) => &o.metadata,
            ClusterObject::NetworkPolicy(o) => &o.metadata,
            ClusterObject::ServiceAccount(o) => &o.metadata,
            ClusterObject::Role(o) => &o.metadata,
            ClusterObject::ClusterRole(o) => &o.metadata,
            ClusterObject::RoleBinding(o) => &o.metadata,
            ClusterObject::ClusterRoleBinding(o) => &o.metadata,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation.
//
// The audited set is what the caller hands over (typically every file of one `stockade audit`
// run). Objects without `metadata.namespace` are taken to be in `default`, the namespace kubectl
// applies them to without `-n`. Rules that need the whole set are careful with partial sets:
//
// - SKD-K8S-001 only fires when a binding in the set grants the account something; an account
//   whose bindings live elsewhere is not guessed at. Bindings to the built-in ClusterRoles
//   `cluster-admin`, `admin` and `edit` count even when those roles are not in the set.
// - SKD-K8S-010 judges each workload by the NetworkPolicies of its namespace that select its pod
//   labels, and only when the set holds that Namespace object or at least one NetworkPolicy
//   somewhere: a set with neither (a single Deployment, a Helm chart without policies) says
//   nothing about the cluster's NetworkPolicies, so no finding is made.
// - SKD-K8S-011 only judges Namespace objects in the set.

use crate::model::{PodWorkload, Violation};
use k8s_openapi::api::rbac::v1::PolicyRule;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::{BTreeMap, BTreeSet};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
const PSA_ENFORCE: &str = "pod-security.kubernetes.io/enforce";
const PSA_ENFORCE_VERSION: &str = "pod-security.kubernetes.io/enforce-version";

/// Resources whose create/update/patch gives a pod spec, by API group.
const WORKLOADS: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "replicationcontrollers"),
    ("", "podtemplates"),
    ("apps", "deployments"),
    ("apps", "daemonsets"),
    ("apps", "statefulsets"),
    ("apps", "replicasets"),
    ("extensions", "deployments"),
    ("extensions", "daemonsets"),
    ("extensions", "replicasets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
];
const WORKLOAD_VERBS: &[&str] = &["create", "update", "patch"];

/// What one policy rule lets its holder do, as far as the escalation rules care.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Powers {
    create_workloads: bool,
    exec: bool,
    nodes_proxy: bool,
    escalate: bool,
    secrets: bool,
    wildcard: bool,
}

impl Powers {
    fn or(self, o: Powers) -> Powers {
        Powers {
            create_workloads: self.create_workloads || o.create_workloads,
            exec: self.exec || o.exec,
            nodes_proxy: self.nodes_proxy || o.nodes_proxy,
            escalate: self.escalate || o.escalate,
            secrets: self.secrets || o.secrets,
            wildcard: self.wildcard || o.wildcard,
        }
    }

    /// What makes a mounted token dangerous (SKD-K8S-001).
    fn token_danger(self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.create_workloads {
            out.push("create pods or workloads");
        }
        if self.exec || self.nodes_proxy {
            out.push("exec into pods");
        }
        if self.secrets {
            out.push("read secrets");
        }
        if self.escalate {
            out.push("grant itself more permissions");
        }
        out
    }
}

fn list(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or(&[])
}

/// RBAC's `VerbMatches`.
fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

/// RBAC's `APIGroupMatches`.
fn group_matches(rule: &PolicyRule, group: &str) -> bool {
    list(&rule.api_groups)
        .iter()
        .any(|g| g == "*" || g == group)
}

/// RBAC's `ResourceMatches`: `*`, the exact `resource[/subresource]`, or `*/subresource`.
fn resource_matches(rule: &PolicyRule, resource: &str) -> bool {
    let sub = resource.split_once('/').map(|(_, s)| s);
    list(&rule.resources)
        .iter()
        .any(|r| r == "*" || r == resource || sub.is_some_and(|s| r.strip_prefix("*/") == Some(s)))
}

/// The first verb of `verbs` the rule grants on `group`/`resource`, if any.
fn grants<'v>(
    rule: &PolicyRule,
    group: &str,
    resource: &str,
    verbs: &[&'v str],
) -> Option<&'v str> {
    if !group_matches(rule, group) || !resource_matches(rule, resource) {
        return None;
    }
    verbs.iter().copied().find(|v| verb_matches(rule, v))
}

/// What a rule grants, with a phrase per power for messages. `namespaced`: the rule is in a
/// Role, or reaches its holder through a RoleBinding, so it grants nothing on cluster-scoped
/// resources (nodes, persistentvolumes, clusterroles, certificatesigningrequests, webhook
/// configurations), whatever its `resources` say (`*` in a Role does not give nodes/proxy).
fn rule_powers(rule: &PolicyRule, namespaced: bool) -> (Powers, Vec<(RuleId, String)>) {
    let mut p = Powers::default();
    let mut why: Vec<(RuleId, String)> = Vec::new();
    if list(&rule.resources).is_empty() {
        return (p, why); // Non-resource URLs only.
    }
    let cluster = !namespaced;
    for (group, res) in WORKLOADS {
        if let Some(verb) = grants(rule, group, res, WORKLOAD_VERBS) {
            p.create_workloads = true;
            why.push((id::SKD_K8S_002, format!("{verb} on {res}")));
            break;
        }
    }
    for (res, verbs) in [
        ("pods/exec", &["create", "get"][..]),
        ("pods/attach", &["create", "get"][..]),
        ("pods/ephemeralcontainers", &["update", "patch"][..]),
    ] {
        if let Some(verb) = grants(rule, "", res, verbs) {
            p.exec = true;
            why.push((id::SKD_K8S_003, format!("{verb} on {res}")));
            break;
        }
    }
    if cluster
        && group_matches(rule, "")
        && resource_matches(rule, "nodes/proxy")
        && !rule.verbs.is_empty()
    {
        p.nodes_proxy = true;
        why.push((
            id::SKD_K8S_004,
            format!("{} on nodes/proxy", rule.verbs.join(",")),
        ));
    }
    let escalations: [(&str, &str, &[&str]); 7] = [
        (RBAC_GROUP, "roles", &["escalate", "bind"]),
        (RBAC_GROUP, "clusterroles", &["escalate", "bind"]),
        ("", "users", &["impersonate"]),
        ("", "groups", &["impersonate"]),
        ("", "serviceaccounts", &["impersonate"]),
        ("authentication.k8s.io", "uids", &["impersonate"]),
        (
            "authentication.k8s.io",
            "userextras/scopes",
            &["impersonate"],
        ),
    ];
    for (group, res, verbs) in escalations {
        if namespaced && res == "clusterroles" {
            continue;
        }
        if let Some(verb) = grants(rule, group, res, verbs) {
            p.escalate = true;
            why.push((id::SKD_K8S_005, format!("{verb} on {res}")));
            break;
        }
    }
    if list(&rule.resource_names).is_empty() {
        if let Some(verb) = grants(rule, "", "secrets", &["get", "list", "watch"]) {
            p.secrets = true;
            why.push((id::SKD_K8S_007, crate::cat(verb, " on secrets")));
        }
    }
    // SKD-K8S-013..016: grants that lead to node or cluster takeover without a pod spec.
    if let Some(verb) = grants(rule, "", "serviceaccounts/token", &["create"]) {
        p.escalate = true;
        why.push((id::SKD_K8S_013, format!("{verb} on serviceaccounts/token")));
    }
    if cluster {
        if let Some(verb) = grants(
            rule,
            "",
            "persistentvolumes",
            &["create", "update", "patch"],
        ) {
            p.create_workloads = true;
            why.push((id::SKD_K8S_014, format!("{verb} on persistentvolumes")));
        }
        const CERTS: &str = "certificates.k8s.io";
        for (res, verbs) in [
            (
                "certificatesigningrequests/approval",
                &["update", "patch"][..],
            ),
            ("signers", &["approve", "sign"][..]),
        ] {
            if let Some(verb) = grants(rule, CERTS, res, verbs) {
                p.escalate = true;
                why.push((id::SKD_K8S_015, format!("{verb} on {res}")));
                break;
            }
        }
        const ADMISSION: &str = "admissionregistration.k8s.io";
        for res in [
            "validatingwebhookconfigurations",
            "mutatingwebhookconfigurations",
            "validatingadmissionpolicies",
            "validatingadmissionpolicybindings",
        ] {
            let verbs = &["delete", "deletecollection", "update", "patch"][..];
            if let Some(verb) = grants(rule, ADMISSION, res, verbs) {
                why.push((id::SKD_K8S_016, format!("{verb} on {res}")));
                break;
            }
        }
    }
    let mut wild = Vec::new();
    if rule.verbs.iter().any(|v| v == "*") {
        wild.push("verbs");
    }
    if list(&rule.resources).iter().any(|r| r == "*") {
        wild.push("resources");
    }
    if list(&rule.api_groups).iter().any(|g| g == "*") {
        wild.push("apiGroups");
    }
    if !wild.is_empty() {
        p.wildcard = true;
        why.push((id::SKD_K8S_006, format!("`*` in {}", wild.join(", "))));
    }
    (p, why)
}

fn rules_powers(rules: &[PolicyRule], namespaced: bool) -> Powers {
    rules.iter().fold(Powers::default(), |acc, r| {
        acc.or(rule_powers(r, namespaced).0)
    })
}

fn ns_of(meta: &ObjectMeta) -> &str {
    meta.namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
}

fn name_of(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("")
}

fn label_field(key: &str) -> String {
    format!("metadata.labels['{key}']")
}

/// Whether a label selector matches a set of labels (an empty selector matches everything).
pub fn selector_matches(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    if let Some(m) = &sel.match_labels {
        if m.iter().any(|(k, v)| labels.get(k) != Some(v)) {
            return false;
        }
    }
    for e in sel.match_expressions.as_deref().unwrap_or(&[]) {
        let values = e.values.as_deref().unwrap_or(&[]);
        let ok = match e.operator.as_str() {
            "In" => labels.get(&e.key).is_some_and(|v| values.contains(v)),
            "NotIn" => !labels.get(&e.key).is_some_and(|v| values.contains(v)),
            "Exists" => labels.contains_key(&e.key),
            "DoesNotExist" => !labels.contains_key(&e.key),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Rules of the built-in ClusterRoles that matter here, for bindings to roles not in the set.
fn builtin_cluster_role(name: &str) -> Option<Vec<PolicyRule>> {
    let rule = |groups: &[&str], resources: &[&str], verbs: &[&str]| PolicyRule {
        api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
        resources: Some(resources.iter().map(|s| s.to_string()).collect()),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    match name {
        "cluster-admin" => Some(vec![rule(&["*"], &["*"], &["*"])]),
        "admin" | "edit" => Some(vec![
            rule(
                &[""],
                &["pods", "pods/exec", "pods/attach", "secrets"],
                &[
                    "create", "get", "list", "watch", "update", "patch", "delete",
                ],
            ),
            rule(
                &["apps"],
                &["deployments", "daemonsets", "statefulsets", "replicasets"],
                &["create", "update", "patch", "delete"],
            ),
            rule(
                &["batch"],
                &["jobs", "cronjobs"],
                &["create", "update", "patch"],
            ),
        ]),
        _ => None,
    }
}

struct Index<'a> {
    roles: BTreeMap<(&'a str, &'a str), &'a Role>,
    cluster_roles: BTreeMap<&'a str, &'a ClusterRole>,
}

impl Index<'_> {
    /// Every rule of a ClusterRole, including those it aggregates.
    fn cluster_role_rules(
        &self,
        name: &str,
        seen: &mut BTreeSet<String>,
    ) -> Option<Vec<PolicyRule>> {
        if !seen.insert(name.to_string()) {
            return Some(Vec::new());
        }
        let Some(cr) = self.cluster_roles.get(name) else {
            return builtin_cluster_role(name);
        };
        let mut rules = cr.rules.clone().unwrap_or_default();
        let selectors = cr
            .aggregation_rule
            .as_ref()
            .and_then(|a| a.cluster_role_selectors.clone())
            .unwrap_or_default();
        if !selectors.is_empty() {
            let empty = BTreeMap::new();
            for (other, o) in &self.cluster_roles {
                let labels = o.metadata.labels.as_ref().unwrap_or(&empty);
                if *other != name && selectors.iter().any(|s| selector_matches(s, labels)) {
                    rules.extend(self.cluster_role_rules(other, seen).unwrap_or_default());
                }
            }
        }
        Some(rules)
    }
}

/// The field a rule about a whole object names.
const OBJECT_NAME_FIELD: &str = "metadata.name";

/// What the cross-object rules need of a pod-bearing object: a few hundred bytes where a
/// [`PodWorkload`] takes kilobytes, so a caller can keep these for the whole audited set and
/// drop the workloads once each is evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    /// `Pod`, `Deployment`, ...
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    /// `serviceAccountName` (or the deprecated `serviceAccount`), if set and not empty.
    pub service_account: Option<String>,
    /// The pod's `automountServiceAccountToken`.
    pub automount_token: Option<bool>,
    /// Field path of the pod spec (`spec`, `spec.template.spec`, ...).
    pub spec_path: String,
    /// The pod template's labels (what NetworkPolicies select).
    pub labels: BTreeMap<String, String>,
}

impl PodRef {
    pub fn of(w: &PodWorkload) -> PodRef {
        PodRef {
            kind: w.kind.clone(),
            name: w.name().to_string(),
            namespace: w.metadata.namespace.clone(),
            service_account: w
                .spec
                .service_account_name
                .as_deref()
                .or(w.spec.service_account.as_deref())
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            automount_token: w.spec.automount_service_account_token,
            spec_path: w.spec_path.clone(),
            labels: w.pod_metadata.labels.clone().unwrap_or_default(),
        }
    }

    /// The fields the cross-object rules name on this object, all of them: a reader that drops
    /// the workload keeps the positions of these for the findings.
    pub fn fields(&self) -> [String; 4] {
        [
            self.automount_field(),
            self.service_account_field(),
            OBJECT_NAME_FIELD.to_string(),
            "metadata.namespace".to_string(),
        ]
    }

    fn automount_field(&self) -> String {
        crate::cat(&self.spec_path, ".automountServiceAccountToken")
    }

    fn service_account_field(&self) -> String {
        crate::cat(&self.spec_path, ".serviceAccountName")
    }

    fn namespace(&self) -> &str {
        self.namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or("default")
    }
}

/// Evaluate the cross-object rules. Indices are the caller's item indices, so each violation
/// can be attached to the object it is about.
pub fn evaluate(
    objects: &[(usize, &ClusterObject)],
    pods: &[(usize, &PodWorkload)],
) -> Vec<(usize, Violation)> {
    let refs: Vec<(usize, PodRef)> = pods.iter().map(|&(i, w)| (i, PodRef::of(w))).collect();
    evaluate_refs(objects, &refs)
}

/// [`evaluate`] over [`PodRef`]s.
pub fn evaluate_refs(
    objects: &[(usize, &ClusterObject)],
    pods: &[(usize, PodRef)],
) -> Vec<(usize, Violation)> {
    let ix = ClusterIndex::new(objects);
    let mut out = ix.object_violations();
    for (i, w) in pods {
        out.extend(ix.pod_violations(*i, w));
    }
    out
}

/// The cluster objects of a set, indexed for the cross-object rules: the rules about the objects
/// themselves once ([`ClusterIndex::object_violations`]), and those about each pod-bearing
/// object ([`ClusterIndex::pod_violations`]) one at a time, so that a caller can stream the
/// pods instead of holding them.
pub struct ClusterIndex<'a> {
    objects: &'a [(usize, &'a ClusterObject)],
    index: Index<'a>,
    service_accounts: BTreeMap<(&'a str, &'a str), &'a ServiceAccount>,
    namespaces: BTreeMap<&'a str, usize>,
    policies: BTreeMap<&'a str, Vec<&'a NetworkPolicy>>,
}

impl<'a> ClusterIndex<'a> {
    pub fn new(objects: &'a [(usize, &'a ClusterObject)]) -> ClusterIndex<'a> {
        let mut index = Index {
            roles: BTreeMap::new(),
            cluster_roles: BTreeMap::new(),
        };
        let mut service_accounts: BTreeMap<(&str, &str), &ServiceAccount> = BTreeMap::new();
        let mut namespaces: BTreeMap<&str, usize> = BTreeMap::new();
        let mut policies: BTreeMap<&str, Vec<&NetworkPolicy>> = BTreeMap::new();
        for &(i, o) in objects {
            match o {
                ClusterObject::Role(r) => {
                    index
                        .roles
                        .insert((ns_of(&r.metadata), name_of(&r.metadata)), r);
                }
                ClusterObject::ClusterRole(r) => {
                    index.cluster_roles.insert(name_of(&r.metadata), r);
                }
                ClusterObject::ServiceAccount(sa) => {
                    service_accounts.insert((ns_of(&sa.metadata), name_of(&sa.metadata)), sa);
                }
                ClusterObject::Namespace(n) => {
                    namespaces.entry(name_of(&n.metadata)).or_insert(i);
                }
                ClusterObject::NetworkPolicy(np) => {
                    policies.entry(ns_of(&np.metadata)).or_default().push(np);
                }
                _ => {}
            }
        }
        ClusterIndex {
            objects,
            index,
            service_accounts,
            namespaces,
            policies,
        }
    }

    /// The rules about the cluster objects themselves (RBAC grants, bindings, namespace labels).
    pub fn object_violations(&self) -> Vec<(usize, Violation)> {
        let objects = self.objects;
        let mut out = Vec::new();
        // SKD-K8S-002..007: what each Role and ClusterRole grants.
        for &(i, o) in objects {
            let (kind, meta, rules) = match o {
                ClusterObject::Role(r) => ("Role", &r.metadata, r.rules.as_deref()),
                ClusterObject::ClusterRole(r) => ("ClusterRole", &r.metadata, r.rules.as_deref()),
                _ => continue,
            };
            for (n, rule) in rules.unwrap_or(&[]).iter().enumerate() {
                for (id, what) in rule_powers(rule, kind == "Role").1 {
                    out.push((
                        i,
                        Violation::new(
                            id,
                            format!("rules[{n}]"),
                            format!("{kind} \"{}\" grants {what}", name_of(meta)),
                        ),
                    ));
                }
            }
        }

        // SKD-K8S-008: dangerous bindings.
        for &(i, o) in objects {
            let (kind, meta, role_ref, subjects) = match o {
                ClusterObject::RoleBinding(b) => {
                    ("RoleBinding", &b.metadata, &b.role_ref, &b.subjects)
                }
                ClusterObject::ClusterRoleBinding(b) => {
                    ("ClusterRoleBinding", &b.metadata, &b.role_ref, &b.subjects)
                }
                _ => continue,
            };
            if role_ref.kind == "ClusterRole" && role_ref.name == "cluster-admin" {
                out.push((
                    i,
                    Violation::new(
                        id::SKD_K8S_008,
                        "roleRef.name",
                        format!("{kind} \"{}\" binds cluster-admin", name_of(meta)),
                    ),
                ));
            }
            for (n, s) in subjects.as_deref().unwrap_or(&[]).iter().enumerate() {
                let dangerous = matches!(
                    (s.kind.as_str(), s.name.as_str()),
                    ("User", "system:anonymous")
                        | ("Group", "system:unauthenticated")
                        | ("Group", "system:authenticated")
                        | ("Group", "system:masters")
                );
                if dangerous {
                    out.push((
                        i,
                        Violation::new(
                            id::SKD_K8S_008,
                            format!("subjects[{n}].name"),
                            format!(
                                "{kind} \"{}\" grants {} to {} {}",
                                name_of(meta),
                                role_ref.name,
                                s.kind,
                                s.name
                            ),
                        ),
                    ));
                }
            }
        }

        // SKD-K8S-011: Namespace Pod Security labels.
        for &(i, o) in objects {
            let ClusterObject::Namespace(n) = o else {
                continue;
            };
            let name = name_of(&n.metadata);
            let labels = n.metadata.labels.clone().unwrap_or_default();
            match labels.get(PSA_ENFORCE).map(String::as_str) {
                None => out.push((
                    i,
                    Violation::new(
                        id::SKD_K8S_011,
                        "metadata.labels",
                        format!("Namespace \"{name}\" has no {PSA_ENFORCE} label"),
                    ),
                )),
                Some("baseline") | Some("restricted") => {}
                Some("privileged") => out.push((
                    i,
                    Violation::new(
                        id::SKD_K8S_011,
                        label_field(PSA_ENFORCE),
                        format!("Namespace \"{name}\" enforces the privileged Pod Security level"),
                    ),
                )),
                Some(other) => out.push((
                    i,
                    Violation::new(
                        id::SKD_K8S_011,
                        label_field(PSA_ENFORCE),
                        format!(
                            "Namespace \"{name}\" has an invalid {PSA_ENFORCE} level \"{other}\" \
                         (baseline or restricted)"
                        ),
                    ),
                )),
            }
            if let Some(v) = labels.get(PSA_ENFORCE_VERSION) {
                if !valid_psa_version(v) {
                    out.push((
                        i,
                        Violation::new(
                            id::SKD_K8S_011,
                            label_field(PSA_ENFORCE_VERSION),
                            format!(
                            "Namespace \"{name}\" has an invalid {PSA_ENFORCE_VERSION} \"{v}\" \
                             (latest or v1.N)"
                        ),
                        ),
                    ));
                }
            }
        }
        out
    }

    /// The rules about one pod-bearing object (`i` is the caller's index for it): its mounted
    /// token (SKD-K8S-001) and its NetworkPolicy isolation (SKD-K8S-010).
    pub fn pod_violations(&self, i: usize, w: &PodRef) -> Vec<(usize, Violation)> {
        let objects = self.objects;
        let index = &self.index;
        let service_accounts = &self.service_accounts;
        let namespaces = &self.namespaces;
        let policies = &self.policies;
        let mut out = Vec::new();
        // SKD-K8S-001: mounted tokens of accounts that RBAC in the set makes powerful.
        'token: {
            let ns = w.namespace();
            let sa = w.service_account.as_deref().unwrap_or("default");
            let mounted = match w.automount_token {
                Some(b) => b,
                None => service_accounts
                    .get(&(ns, sa))
                    .and_then(|a| a.automount_service_account_token)
                    .unwrap_or(true),
            };
            if !mounted {
                break 'token;
            }
            let mut powers = Powers::default();
            let mut via: Vec<String> = Vec::new();
            for &(_, o) in objects {
                let (kind, meta, role_ref, subjects, binding_ns) = match o {
                    ClusterObject::RoleBinding(b) => (
                        "RoleBinding",
                        &b.metadata,
                        &b.role_ref,
                        &b.subjects,
                        Some(ns_of(&b.metadata)),
                    ),
                    ClusterObject::ClusterRoleBinding(b) => (
                        "ClusterRoleBinding",
                        &b.metadata,
                        &b.role_ref,
                        &b.subjects,
                        None,
                    ),
                    _ => continue,
                };
                let applies =
                    subjects
                        .as_deref()
                        .unwrap_or(&[])
                        .iter()
                        .any(|s| match s.kind.as_str() {
                            "ServiceAccount" => {
                                s.name == sa
                                    && s.namespace
                                        .as_deref()
                                        .filter(|n| !n.is_empty())
                                        .or(binding_ns)
                                        == Some(ns)
                            }
                            "Group" => {
                                s.name == "system:serviceaccounts"
                                    || s.name == "system:authenticated"
                                    || s.name == format!("system:serviceaccounts:{ns}")
                            }
                            "User" => s.name == format!("system:serviceaccount:{ns}:{sa}"),
                            _ => false,
                        });
                if !applies {
                    continue;
                }
                let rules = match role_ref.kind.as_str() {
                    "Role" => binding_ns
                        .and_then(|bns| index.roles.get(&(bns, role_ref.name.as_str())))
                        .map(|r| r.rules.clone().unwrap_or_default()),
                    "ClusterRole" => index.cluster_role_rules(&role_ref.name, &mut BTreeSet::new()),
                    _ => None,
                };
                let p = rules_powers(&rules.unwrap_or_default(), kind == "RoleBinding");
                if !p.token_danger().is_empty() {
                    powers = powers.or(p);
                    via.push(format!(
                        "{kind} \"{}\" ({} \"{}\")",
                        name_of(meta),
                        role_ref.kind,
                        role_ref.name
                    ));
                }
            }
            let danger = powers.token_danger();
            if danger.is_empty() {
                break 'token;
            }
            let field = if w.automount_token == Some(true) {
                w.automount_field()
            } else {
                w.service_account_field()
            };
            out.push((
                i,
                Violation::new(
                    id::SKD_K8S_001,
                    field,
                    format!(
                        "{} \"{}\" mounts the token of ServiceAccount {ns}/{sa}, which {} lets {}",
                        w.kind,
                        w.name,
                        via.join(" and "),
                        danger.join(", ")
                    ),
                ),
            ));
        }

        // SKD-K8S-010, per workload: selected by no NetworkPolicy, or by policies that still admit
        // every namespace or let it reach any address.
        'network: {
            let ns = w.namespace();
            if !namespaces.contains_key(ns) && policies.is_empty() {
                break 'network; // A partial set: nothing is known about this namespace's policies.
            }
            let selecting: Vec<&NetworkPolicy> = policies
                .get(ns)
                .into_iter()
                .flatten()
                .copied()
                .filter(|np| {
                    np.spec.as_ref().is_some_and(|s| {
                        s.pod_selector
                            .as_ref()
                            .is_none_or(|sel| selector_matches(sel, &w.labels))
                    })
                })
                .collect();
            for message in network_exposure(w, ns, &selecting) {
                out.push((
                    i,
                    Violation::new(id::SKD_K8S_010, OBJECT_NAME_FIELD, message),
                ));
            }
        }

        out
    }
}

/// `latest` or `v1.N` (N without leading zeros), as Pod Security admission parses it.
fn valid_psa_version(v: &str) -> bool {
    v == "latest"
        || v.strip_prefix("v1.").is_some_and(|n| {
            !n.is_empty()
                && n.bytes().all(|c| c.is_ascii_digit())
                && (n == "0" || !n.starts_with('0'))
                && n.len() < 5
        })
}

/// The cloud metadata addresses (AWS, GCP, Azure, ...; AWS's IPv6 one).
const METADATA_V4: std::net::Ipv4Addr = std::net::Ipv4Addr::new(169, 254, 169, 254);
const METADATA_V6: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// Whether `cidr` (`a.b.c.d/n` or an IPv6 prefix) holds `ip`. A CIDR that does not parse holds
/// nothing (the API server refuses it).
fn cidr_holds(cidr: &str, ip: std::net::IpAddr) -> bool {
    let Some((addr, bits)) = cidr.trim().split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u32>() else {
        return false;
    };
    match (addr.parse::<std::net::IpAddr>(), ip) {
        (Ok(std::net::IpAddr::V4(net)), std::net::IpAddr::V4(ip)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (Ok(std::net::IpAddr::V6(net)), std::net::IpAddr::V6(ip)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(net) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

/// Whether a policy peer admits a metadata address (an `ipBlock` holding it, not excepted).
fn peer_reaches_metadata(peer: &k8s_openapi::api::networking::v1::NetworkPolicyPeer) -> bool {
    let Some(b) = &peer.ip_block else {
        return false;
    };
    [
        std::net::IpAddr::V4(METADATA_V4),
        std::net::IpAddr::V6(METADATA_V6),
    ]
    .into_iter()
    .any(|ip| {
        cidr_holds(&b.cidr, ip)
            && !b
                .except
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .any(|e| cidr_holds(e, ip))
    })
}

/// Whether a selector is absent or empty (selects everything).
fn selects_all(sel: Option<&LabelSelector>) -> bool {
    sel.is_none_or(|s| {
        s.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && s.match_expressions.as_ref().is_none_or(|e| e.is_empty())
    })
}

/// What SKD-K8S-010 says of one workload, given the NetworkPolicies of its namespace that select
/// it: nothing selects it; no policy restricts its ingress, or one admits every namespace; no
/// policy restricts its egress, or one lets it reach any address or the metadata address.
fn network_exposure(w: &PodRef, ns: &str, selecting: &[&NetworkPolicy]) -> Vec<String> {
    let who = format!("{} \"{}\" in namespace \"{ns}\"", w.kind, w.name);
    if selecting.is_empty() {
        return vec![format!(
            "{who} is selected by no NetworkPolicy: every pod of every namespace can reach it, \
             and it can reach any address, the cloud metadata service (169.254.169.254) and the \
             node included"
        )];
    }
    let mut out = Vec::new();
    let types = |np: &NetworkPolicy| -> (bool, bool) {
        let spec = np.spec.as_ref();
        match spec.and_then(|s| s.policy_types.as_ref()) {
            Some(t) => (
                t.iter().any(|x| x == "Ingress"),
                t.iter().any(|x| x == "Egress"),
            ),
            // The API server's default: Ingress, and Egress when there are egress rules.
            None => (true, spec.is_some_and(|s| s.egress.is_some())),
        }
    };
    let name = |np: &NetworkPolicy| np.metadata.name.clone().unwrap_or_default();
    let ingress: Vec<&&NetworkPolicy> = selecting.iter().filter(|np| types(np).0).collect();
    if ingress.is_empty() {
        out.push(format!(
            "{who}: no NetworkPolicy that selects it restricts ingress, so every pod of every \
             namespace can reach it"
        ));
    } else {
        for np in &ingress {
            let rules = np
                .spec
                .as_ref()
                .and_then(|s| s.ingress.as_deref())
                .unwrap_or(&[]);
            let open = rules.iter().any(|r| match r.from.as_deref() {
                None | Some([]) => true,
                Some(peers) => peers.iter().any(|p| {
                    p.namespace_selector.is_some()
                        && selects_all(p.namespace_selector.as_ref())
                        && selects_all(p.pod_selector.as_ref())
                }),
            });
            if open {
                out.push(format!(
                    "{who}: NetworkPolicy \"{}\" admits traffic from every namespace",
                    name(np)
                ));
                break;
            }
        }
    }
    let egress: Vec<&&NetworkPolicy> = selecting.iter().filter(|np| types(np).1).collect();
    if egress.is_empty() {
        out.push(format!(
            "{who}: no NetworkPolicy that selects it restricts egress, so it can reach any \
             address, the cloud metadata service (169.254.169.254) included"
        ));
    } else {
        for np in &egress {
            let rules = np
                .spec
                .as_ref()
                .and_then(|s| s.egress.as_deref())
                .unwrap_or(&[]);
            let any = rules
                .iter()
                .any(|r| matches!(r.to.as_deref(), None | Some([])));
            let metadata = rules.iter().any(|r| {
                r.to.as_deref()
                    .unwrap_or(&[])
                    .iter()
                    .any(peer_reaches_metadata)
            });
            if any || metadata {
                out.push(format!(
                    "{who}: NetworkPolicy \"{}\" lets it reach {}",
                    name(np),
                    if any {
                        "any address, the cloud metadata service (169.254.169.254) included"
                    } else {
                        "the cloud metadata service (169.254.169.254)"
                    }
                ));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
        PolicyRule {
            api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
            resources: Some(resources.iter().map(|s| s.to_string()).collect()),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn rbac_resource_matching_is_exact() {
        let r = rule(&[""], &["pods/*"], &["create"]);
        assert!(!resource_matches(&r, "pods/exec"));
        let r = rule(&[""], &["*/exec"], &["create"]);
        assert!(resource_matches(&r, "pods/exec"));
        assert!(!resource_matches(&r, "pods"));
        let r = rule(&["apps"], &["pods"], &["create"]);
        assert_eq!(rule_powers(&r, false).0, Powers::default());
        let r = rule(&["*"], &["*"], &["*"]);
        let p = rule_powers(&r, false).0;
        assert!(p.create_workloads && p.exec && p.nodes_proxy && p.escalate && p.secrets);
        assert!(p.wildcard);
        // In a Role (or through a RoleBinding) `*` reaches no cluster-scoped resource.
        let (p, why) = rule_powers(&r, true);
        assert!(!p.nodes_proxy && p.create_workloads && p.exec && p.escalate);
        for id in [
            id::SKD_K8S_004,
            id::SKD_K8S_014,
            id::SKD_K8S_015,
            id::SKD_K8S_016,
        ] {
            assert!(!why.iter().any(|w| w.0 == id), "{id} in {why:?}");
        }
    }

    #[test]
    fn named_secret_get_is_not_secrets_read() {
        let mut r = rule(&[""], &["secrets"], &["get"]);
        r.resource_names = Some(vec!["tls".into()]);
        assert!(!rule_powers(&r, false).0.secrets);
    }

    #[test]
    fn psa_versions() {
        for ok in ["latest", "v1.0", "v1.30", "v1.37"] {
            assert!(valid_psa_version(ok), "{ok}");
        }
        for bad in ["1.30", "v1.030", "v2.1", "v1.", "v1.x", "Latest"] {
            assert!(!valid_psa_version(bad), "{bad}");
        }
    }

    #[test]
    fn label_selectors() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
        let labels: BTreeMap<String, String> = [("a".to_string(), "1".to_string())].into();
        let sel = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "In".into(),
                values: Some(vec!["1".into(), "2".into()]),
            }]),
            ..Default::default()
        };
        assert!(selector_matches(&sel, &labels));
        assert!(selector_matches(&LabelSelector::default(), &labels));
        let sel = LabelSelector {
            match_labels: Some([("a".to_string(), "2".to_string())].into()),
            ..Default::default()
        };
        assert!(!selector_matches(&sel, &labels));
    }
}
