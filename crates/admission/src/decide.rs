//! The admission decision, as Kubernetes' Pod Security admission makes it, from violations already
//! computed. Pure: no I/O, no policy evaluation, so every branch is unit-tested with constructed
//! violations.
//!
//! * Pods (and `pods/ephemeralcontainers`): `enforce` violations deny with 403 Forbidden and
//!   `pods "x" is forbidden: violates PodSecurity "baseline:v1.36": reason (detail), ...`; a
//!   rejected request gets no warnings; an allowed one gets the `warn` level's as one warning
//!   `would violate PodSecurity "restricted:latest": ...`.
//! * Controllers (Deployment, CronJob, ...): never denied; `warn` warnings and `audit`
//!   annotations only.
//! * Audit annotations (the API server prefixes keys with the webhook's name): `enforce-policy`
//!   on evaluated pods, `audit-violations`, `exempt`, `error`; plus Stockade's
//!   `stockade-violations` listing every rule id and field found.
//! * Stockade's escape rules (namespace label `stockade.io/enforce`, or the `/validate/<level>`
//!   path) deny pods and warn on controllers the same way, in their own `violates Stockade
//!   "<level>": SKD-ESC-020 (field: message)` clause after Pod Security's.

use crate::nspolicy::{LevelVersion, NamespacePolicy, PsaLevel};
use policy::{Level, Violation};
use std::collections::BTreeMap;

/// Audit annotation keys, as Kubernetes' Pod Security webhook returns them.
pub const ANNOTATION_ENFORCE_POLICY: &str = "enforce-policy";
pub const ANNOTATION_AUDIT_VIOLATIONS: &str = "audit-violations";
pub const ANNOTATION_EXEMPT: &str = "exempt";
pub const ANNOTATION_ERROR: &str = "error";
pub const ANNOTATION_STOCKADE_VIOLATIONS: &str = "stockade-violations";

/// What the decision needs to know about the request.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// API group of the resource (`""`, `apps`, `batch`).
    pub group: &'a str,
    /// Plural resource (`pods`, `deployments`).
    pub resource: &'a str,
    /// Object name (may be empty on CREATE with generateName).
    pub name: &'a str,
    /// A Pod (or its ephemeral containers): enforce applies. Controllers only warn.
    pub is_pod: bool,
}

/// Violations per mode, each computed at the namespace policy's level and version for that mode
/// (empty when the mode's level is privileged). `escape` holds the violations of the rules Pod
/// Security lacks at `NamespacePolicy::escape`.
#[derive(Debug, Clone, Default)]
pub struct Verdicts {
    pub enforce: Vec<Violation>,
    pub audit: Vec<Violation>,
    pub warn: Vec<Violation>,
    pub escape: Vec<Violation>,
}

/// Why a request was not evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exemption {
    Namespace,
    User,
    RuntimeClass,
}

impl Exemption {
    pub fn as_str(self) -> &'static str {
        match self {
            Exemption::Namespace => "namespace",
            Exemption::User => "user",
            Exemption::RuntimeClass => "runtimeClass",
        }
    }
}

/// A denial's status (metav1.Status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// One per violation: rule id, field path, message.
    pub causes: Vec<Cause>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub rule: String,
    pub field: String,
    pub message: String,
}

/// The outcome, ready to be put into an AdmissionResponse.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub allowed: bool,
    pub denial: Option<Denial>,
    pub warnings: Vec<String>,
    pub audit_annotations: BTreeMap<String, String>,
    /// Rule ids that denied the request (for metrics and logs).
    pub denied_by: Vec<String>,
    /// Rule ids found in any mode (for metrics and logs).
    pub found: Vec<String>,
}

impl Decision {
    /// Allowed without evaluation (not pod-bearing, ignored subresource, DELETE, ...).
    pub fn allow() -> Self {
        Decision {
            allowed: true,
            ..Decision::default()
        }
    }

    /// Allowed because exempt, with PSA's `exempt` annotation.
    pub fn exempt(e: Exemption) -> Self {
        let mut d = Decision::allow();
        d.audit_annotations
            .insert(ANNOTATION_EXEMPT.into(), e.as_str().into());
        d
    }

    /// Denied because the object could not be evaluated (fail closed): 400 Bad Request.
    pub fn bad_request(message: String) -> Self {
        let mut d = Decision {
            allowed: false,
            ..Decision::default()
        };
        d.audit_annotations
            .insert(ANNOTATION_ERROR.into(), message.clone());
        d.denial = Some(Denial {
            code: 400,
            reason: "BadRequest",
            message,
            causes: Vec::new(),
        });
        d
    }
}

/// At most this many items are listed in one message, warning or annotation; the rest are
/// summed up ("... and 29,990 more"). A pod with 30,000 containers is answered in a response of
/// a few KiB, not tens of MB (cost linear in the request, response bounded).
pub const MAX_LISTED: usize = 20;
/// At most this many `details.causes` entries; the last one sums up the rest.
pub const MAX_CAUSES: usize = 50;

/// `a, b, c` for at most [`MAX_LISTED`] items, then `... and N more`.
fn bounded_join(items: impl Iterator<Item = String>) -> String {
    let mut shown = Vec::new();
    let mut more = 0usize;
    for i in items {
        if shown.len() < MAX_LISTED {
            shown.push(i);
        } else {
            more += 1;
        }
    }
    let mut out = shown.join(", ");
    if more > 0 {
        out.push_str(&format!(", ... and {more} more"));
    }
    out
}

/// `reason (detail), reason (detail)`: Pod Security's aggregated form; identical messages once.
fn pss_detail(vs: &[Violation]) -> String {
    let mut seen = std::collections::HashSet::new();
    bounded_join(
        vs.iter()
            .filter(|v| seen.insert(v.message.as_str()))
            .map(|v| v.message.clone()),
    )
}

/// `SKD-ESC-020 (spec.volumes[0].hostPath: host path ...)`: rule id, then field and message.
fn escape_detail<'a>(vs: impl IntoIterator<Item = &'a Violation>) -> String {
    bounded_join(
        vs.into_iter()
            .map(|v| format!("{} ({}: {})", v.rule.id, v.field, v.message)),
    )
}

fn causes(vs: &[&Violation]) -> Vec<Cause> {
    let mut out: Vec<Cause> = vs
        .iter()
        .take(MAX_CAUSES)
        .map(|v| Cause {
            rule: v.rule.id.clone(),
            field: v.field.clone(),
            message: v.message.clone(),
        })
        .collect();
    if vs.len() > MAX_CAUSES {
        out.push(Cause {
            rule: String::new(),
            field: String::new(),
            message: format!(
                "... and {} more violations (rules {})",
                vs.len() - MAX_CAUSES,
                ids(&vs[MAX_CAUSES..]).join(", ")
            ),
        });
    }
    out
}

fn ids(vs: &[&Violation]) -> Vec<String> {
    let mut out: Vec<String> = vs.iter().map(|v| v.rule.id.clone()).collect();
    out.sort();
    out.dedup();
    out
}

/// `pods "x"` as Kubernetes' `errors.NewForbidden` names the resource.
fn qualified(subject: &Subject) -> String {
    let res = if subject.group.is_empty() {
        subject.resource.to_string()
    } else {
        format!("{}.{}", subject.resource, subject.group)
    };
    if subject.name.is_empty() {
        res
    } else {
        format!("{res} {:?}", subject.name)
    }
}

fn stockade_policy(level: Level) -> String {
    format!("Stockade {:?}", level.as_str())
}

/// Decide on an evaluated request.
pub fn decide(subject: &Subject, ns: &NamespacePolicy, v: &Verdicts) -> Decision {
    let mut d = Decision::allow();

    if !ns.errors.is_empty() {
        d.audit_annotations
            .insert(ANNOTATION_ERROR.into(), ns.errors.join("; "));
    }

    // The namespace's labels could not be read: Pod Security admission answers a pod with an
    // internal error (fail closed) and lets a controller through with the `error` annotation.
    if let Some(msg) = &ns.lookup_failed {
        if subject.is_pod {
            d.allowed = false;
            d.denial = Some(Denial {
                code: 500,
                reason: "InternalError",
                message: format!("Internal error occurred: {msg}"),
                causes: Vec::new(),
            });
        }
        return d;
    }

    // A namespace privileged in every mode, without escape rules, is not evaluated (PSA's
    // short-circuit: no annotations either).
    let fully_privileged = [ns.enforce, ns.audit, ns.warn]
        .iter()
        .all(|lv| lv.level == PsaLevel::Privileged)
        && ns.escape.is_none();
    if fully_privileged {
        return d;
    }

    // Enforce: pods only. Every evaluated pod is annotated with the enforce policy, as PSA does.
    let enforce_pss = subject.is_pod && ns.enforce.level != PsaLevel::Privileged;
    let enforce_escape = subject.is_pod && ns.escape.is_some();
    if subject.is_pod {
        d.audit_annotations
            .insert(ANNOTATION_ENFORCE_POLICY.into(), ns.enforce.to_string());
    }
    let mut clauses = Vec::new();
    let mut denied: Vec<&Violation> = Vec::new();
    if enforce_pss && !v.enforce.is_empty() {
        clauses.push(format!(
            "violates PodSecurity {:?}: {}",
            ns.enforce.to_string(),
            pss_detail(&v.enforce)
        ));
        denied.extend(v.enforce.iter());
    }
    // An informational escape rule (SKD-K8S-018, subPath) names a risk to review, not one to
    // refuse: on a pod it is a warning, never a denial.
    let (blocking, informational): (Vec<&Violation>, Vec<&Violation>) = v
        .escape
        .iter()
        .partition(|x| x.rule.severity > policy::Severity::Info);
    if let (true, Some(level)) = (enforce_escape, ns.escape) {
        if !blocking.is_empty() {
            clauses.push(format!(
                "violates {}: {}",
                stockade_policy(level),
                escape_detail(blocking.iter().copied())
            ));
            denied.extend(blocking.iter().copied());
        }
    }
    if !clauses.is_empty() {
        d.allowed = false;
        d.denial = Some(Denial {
            code: 403,
            reason: "Forbidden",
            message: format!(
                "{} is forbidden: {}",
                qualified(subject),
                clauses.join("; ")
            ),
            causes: causes(&denied),
        });
        d.denied_by = ids(&denied);
    }

    // Audit.
    if ns.audit.level != PsaLevel::Privileged && !v.audit.is_empty() {
        d.audit_annotations.insert(
            ANNOTATION_AUDIT_VIOLATIONS.into(),
            would_violate(ns.audit, &v.audit),
        );
    }

    // Warn: only on requests that are not rejected.
    if d.allowed {
        if ns.warn.level != PsaLevel::Privileged && !v.warn.is_empty() {
            d.warnings.push(would_violate(ns.warn, &v.warn));
        }
        if let (false, Some(level), false) = (subject.is_pod, ns.escape, v.escape.is_empty()) {
            d.warnings.push(format!(
                "would violate {}: {}",
                stockade_policy(level),
                escape_detail(&v.escape)
            ));
        }
        if let (true, Some(level), false) = (subject.is_pod, ns.escape, informational.is_empty()) {
            d.warnings.push(format!(
                "{} (informational): {}",
                stockade_policy(level),
                escape_detail(informational.iter().copied())
            ));
        }
    }

    let all: Vec<&Violation> = v
        .enforce
        .iter()
        .chain(&v.audit)
        .chain(&v.warn)
        .chain(&v.escape)
        .collect();
    if !all.is_empty() {
        let mut listed: Vec<String> = all
            .iter()
            .map(|v| format!("{} {}", v.rule.id, v.field))
            .collect();
        listed.sort();
        listed.dedup();
        d.audit_annotations.insert(
            ANNOTATION_STOCKADE_VIOLATIONS.into(),
            bounded_join(listed.into_iter()),
        );
    }
    d.found = ids(&all);
    d
}

/// `would violate PodSecurity "restricted:latest": reason (detail), ...`
fn would_violate(lv: LevelVersion, vs: &[Violation]) -> String {
    format!(
        "would violate PodSecurity {:?}: {}",
        lv.to_string(),
        pss_detail(vs)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nspolicy::PsaVersion;
    use policy::PssVersion;

    fn pod(name: &str) -> Subject<'_> {
        Subject {
            group: "",
            resource: "pods",
            name,
            is_pod: true,
        }
    }

    fn deployment(name: &str) -> Subject<'_> {
        Subject {
            group: "apps",
            resource: "deployments",
            name,
            is_pod: false,
        }
    }

    fn privileged_violation() -> Violation {
        Violation::new(
            policy::id::SKD_PSS_002,
            "spec.containers[0].securityContext.privileged",
            "privileged (container \"c\" must not set securityContext.privileged=true)",
        )
    }

    fn ape_violation() -> Violation {
        Violation::new(
            policy::id::SKD_PSS_014,
            "spec.containers[0].securityContext.allowPrivilegeEscalation",
            "allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false)",
        )
    }

    fn socket_violation() -> Violation {
        Violation::new(
            policy::id::SKD_ESC_020,
            "spec.volumes[0].hostPath",
            "host path \"/var/run/docker.sock\" exposes the container-engine socket docker",
        )
    }

    fn ns(enforce: &str, audit: &str, warn: &str) -> NamespacePolicy {
        let lv = |s: &str| {
            let (l, v) = s.split_once(':').unwrap();
            LevelVersion::new(PsaLevel::parse(l).unwrap(), PsaVersion::parse(v).unwrap())
        };
        NamespacePolicy {
            enforce: lv(enforce),
            audit: lv(audit),
            warn: lv(warn),
            escape: None,
            errors: Vec::new(),
            lookup_failed: None,
        }
    }

    #[test]
    fn failed_namespace_lookup_refuses_pods_and_lets_controllers_through() {
        let mut p = ns(
            "privileged:latest",
            "privileged:latest",
            "privileged:latest",
        );
        let msg = "failed to look up namespace \"team\": cannot reach the API server".to_string();
        p.errors.push(msg.clone());
        p.lookup_failed = Some(msg.clone());
        let v = Verdicts::default();
        let d = decide(&pod("p"), &p, &v);
        assert!(!d.allowed);
        let denial = d.denial.expect("a denial");
        assert_eq!((denial.code, denial.reason), (500, "InternalError"));
        assert!(denial.message.contains(&msg), "{}", denial.message);
        assert_eq!(d.audit_annotations[ANNOTATION_ERROR], msg);
        let d = decide(&deployment("d"), &p, &v);
        assert!(d.allowed && d.denial.is_none());
        assert_eq!(d.audit_annotations[ANNOTATION_ERROR], msg);
    }

    #[test]
    fn many_violations_give_a_bounded_answer() {
        let n = 30_000;
        let vs: Vec<Violation> = (0..n)
            .map(|i| Violation {
                rule: privileged_violation().rule,
                field: format!("spec.containers[{i}].securityContext.privileged"),
                message: format!(
                    "privileged (container \"c{i}\" must not set securityContext.privileged=true)"
                ),
            })
            .collect();
        let v = Verdicts {
            enforce: vs.clone(),
            audit: vs.clone(),
            warn: vs.clone(),
            escape: Vec::new(),
        };
        let d = decide(
            &pod("p"),
            &ns("baseline:v1.36", "baseline:v1.36", "baseline:v1.36"),
            &v,
        );
        let denial = d.denial.unwrap();
        assert!(
            denial
                .message
                .contains(&format!("and {} more", n - MAX_LISTED)),
            "{}",
            denial.message
        );
        assert!(denial.message.len() < 8 * 1024, "{}", denial.message.len());
        assert_eq!(denial.causes.len(), MAX_CAUSES + 1);
        let annotations: usize = d.audit_annotations.values().map(String::len).sum();
        assert!(annotations < 16 * 1024, "{annotations}");
    }

    #[test]
    fn pod_denied_like_psa() {
        let p = ns("baseline:v1.36", "restricted:v1.36", "restricted:v1.36");
        let v = Verdicts {
            enforce: vec![privileged_violation()],
            audit: vec![privileged_violation(), ape_violation()],
            warn: vec![privileged_violation(), ape_violation()],
            escape: vec![],
        };
        let d = decide(&pod("p"), &p, &v);
        assert!(!d.allowed);
        let den = d.denial.as_ref().unwrap();
        assert_eq!(den.code, 403);
        assert_eq!(den.reason, "Forbidden");
        // Byte for byte the example in reference/admission/response-deny.json.
        assert_eq!(
            den.message,
            "pods \"p\" is forbidden: violates PodSecurity \"baseline:v1.36\": privileged (container \"c\" must not set securityContext.privileged=true)"
        );
        assert_eq!(den.causes[0].rule, "SKD-PSS-002");
        assert_eq!(
            den.causes[0].field,
            "spec.containers[0].securityContext.privileged"
        );
        assert!(d.warnings.is_empty(), "no warnings on a rejected request");
        assert_eq!(d.audit_annotations["enforce-policy"], "baseline:v1.36");
        assert!(d.audit_annotations["audit-violations"].starts_with(
            "would violate PodSecurity \"restricted:v1.36\": privileged (container \"c\" must not set securityContext.privileged=true), allowPrivilegeEscalation != false"
        ));
        assert_eq!(d.denied_by, vec!["SKD-PSS-002"]);
        assert_eq!(d.found, vec!["SKD-PSS-002", "SKD-PSS-014"]);
    }

    #[test]
    fn pod_allowed_with_warning() {
        let p = ns("baseline:latest", "privileged:latest", "restricted:latest");
        let v = Verdicts {
            warn: vec![ape_violation()],
            ..Verdicts::default()
        };
        let d = decide(&pod("p"), &p, &v);
        assert!(d.allowed);
        assert!(d.denial.is_none());
        assert_eq!(
            d.warnings,
            vec!["would violate PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false)"]
        );
        assert!(!d.audit_annotations.contains_key("audit-violations"));
    }

    #[test]
    fn controllers_are_never_denied() {
        let p = ns(
            "restricted:latest",
            "restricted:latest",
            "restricted:latest",
        );
        let v = Verdicts {
            enforce: vec![privileged_violation()],
            audit: vec![privileged_violation()],
            warn: vec![privileged_violation()],
            escape: vec![socket_violation()],
        };
        let mut p2 = p.clone();
        p2.escape = Some(Level::Restricted);
        let d = decide(&deployment("web"), &p2, &v);
        assert!(d.allowed);
        assert!(!d.audit_annotations.contains_key("enforce-policy"));
        assert_eq!(d.warnings.len(), 2);
        assert!(d.warnings[0]
            .starts_with("would violate PodSecurity \"restricted:latest\": privileged"));
        assert_eq!(
            d.warnings[1],
            "would violate Stockade \"restricted\": SKD-ESC-020 (spec.volumes[0].hostPath: host path \"/var/run/docker.sock\" exposes the container-engine socket docker)"
        );
        assert!(d.audit_annotations.contains_key("audit-violations"));
    }

    #[test]
    fn escape_rules_deny_pods_in_their_own_clause() {
        let mut p = ns("baseline:latest", "privileged:latest", "privileged:latest");
        p.escape = Some(Level::Restricted);
        let v = Verdicts {
            escape: vec![socket_violation()],
            ..Verdicts::default()
        };
        let d = decide(&pod(""), &p, &v);
        assert!(!d.allowed);
        assert_eq!(
            d.denial.unwrap().message,
            "pods is forbidden: violates Stockade \"restricted\": SKD-ESC-020 (spec.volumes[0].hostPath: host path \"/var/run/docker.sock\" exposes the container-engine socket docker)"
        );
        assert_eq!(d.denied_by, vec!["SKD-ESC-020"]);
        assert_eq!(
            d.audit_annotations["stockade-violations"],
            "SKD-ESC-020 spec.volumes[0].hostPath"
        );
    }

    #[test]
    fn both_clauses_and_privileged_namespace() {
        let mut p = ns("baseline:v1.30", "privileged:latest", "privileged:latest");
        p.escape = Some(Level::Hardened);
        let v = Verdicts {
            enforce: vec![privileged_violation()],
            escape: vec![socket_violation()],
            ..Verdicts::default()
        };
        let msg = decide(&pod("p"), &p, &v).denial.unwrap().message;
        assert!(msg.starts_with(
            "pods \"p\" is forbidden: violates PodSecurity \"baseline:v1.30\": privileged"
        ));
        assert!(msg.contains("; violates Stockade \"hardened\": SKD-ESC-020 ("));

        // Violations computed for a privileged mode are ignored.
        let p = NamespacePolicy::privileged();
        let d = decide(&pod("p"), &p, &v);
        assert!(d.allowed && d.warnings.is_empty());
        assert!(!d.audit_annotations.contains_key("enforce-policy"));
    }

    #[test]
    fn privileged_enforce_still_annotates_evaluated_pods() {
        let p = ns(
            "privileged:latest",
            "privileged:latest",
            "restricted:latest",
        );
        let v = Verdicts {
            warn: vec![ape_violation()],
            ..Verdicts::default()
        };
        let d = decide(&pod("p"), &p, &v);
        assert!(d.allowed);
        assert_eq!(d.audit_annotations["enforce-policy"], "privileged:latest");
        assert_eq!(d.warnings.len(), 1);
    }

    #[test]
    fn grouped_resources_and_errors() {
        let mut p = ns(
            "restricted:latest",
            "privileged:latest",
            "privileged:latest",
        );
        p.errors
            .push("pod-security.kubernetes.io/enforce: invalid level \"x\"".into());
        let s = Subject {
            group: "apps",
            resource: "deployments",
            name: "web",
            is_pod: true,
        };
        let v = Verdicts {
            enforce: vec![privileged_violation(), privileged_violation()],
            ..Verdicts::default()
        };
        let d = decide(&s, &p, &v);
        let m = d.denial.unwrap().message;
        assert!(
            m.starts_with("deployments.apps \"web\" is forbidden"),
            "{m}"
        );
        // Identical messages are listed once, as PSA aggregates per check.
        assert_eq!(m.matches("privileged (").count(), 1);
        assert!(d.audit_annotations["error"].contains("invalid level"));
        let _ = PssVersion::LATEST;
    }

    #[test]
    fn exempt_and_bad_request() {
        let d = Decision::exempt(Exemption::RuntimeClass);
        assert!(d.allowed);
        assert_eq!(d.audit_annotations["exempt"], "runtimeClass");
        let d = Decision::bad_request("cannot decode Pod object".into());
        assert!(!d.allowed);
        assert_eq!(d.denial.unwrap().code, 400);
    }
}
