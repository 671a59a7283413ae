//! `/mutate`: a JSONPatch that hardens what can be hardened without breaking the workload.
//!
//! Applied on CREATE only (a Pod's security context is immutable afterwards, and patching a
//! controller's template on an unrelated UPDATE would restart its pods). Each change is made to
//! the typed pod spec; the patch is the JSON diff of the spec before and after, rooted at the
//! spec's place in the object, so it touches only the fields it sets.
//!
//! | change | when |
//! |---|---|
//! | pod `securityContext.seccompProfile: RuntimeDefault` | no seccomp profile at pod level and no legacy seccomp annotation |
//! | container `allowPrivilegeEscalation: false` | unset, container not privileged and not adding `SYS_ADMIN` (the API server rejects that combination) |
//! | container `capabilities.drop: [ALL]` (added caps kept) | config `drop-all`: `non-root` (default: the container runs as a non-root uid or with `runAsNonRoot: true`), `always`, `never`; or the pod asks with `drop-all` |
//! | container `readOnlyRootFilesystem: true` | the pod asks with `read-only-root` |
//! | pod `automountServiceAccountToken: false` | unset and the pod runs as the `default` service account, unless the pod asks with `keep-token` |
//!
//! A pod asks through the annotation `stockade.io/harden` on its template: a comma-separated list
//! of `drop-all`, `read-only-root`, `keep-token`, or `none` to be left alone. Privileged
//! containers and Windows pods are left alone.

use crate::config::{DropAll, MutateConfig};
use json_patch::{Patch, PatchOperation};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, PodSecurityContext, PodSpec, SeccompProfile, SecurityContext,
};
use policy::PodWorkload;

pub const HARDEN_ANNOTATION: &str = "stockade.io/harden";
const LEGACY_SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";

/// The hardening of one object.
#[derive(Debug, Clone, Default)]
pub struct Hardening {
    /// What was changed, one line each (`spec.containers[0].securityContext.allowPrivilegeEscalation=false`).
    pub changes: Vec<String>,
    pub patch: Patch,
}

#[derive(Debug, thiserror::Error)]
pub enum MutateError {
    #[error("cannot serialize the pod spec: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("bad JSON pointer {0:?}")]
    Pointer(String),
}

#[derive(Debug, Default)]
struct Asks {
    none: bool,
    drop_all: bool,
    read_only_root: bool,
    keep_token: bool,
}

fn asks(w: &PodWorkload) -> Asks {
    let mut a = Asks::default();
    let value = w
        .pod_metadata
        .annotations
        .as_ref()
        .and_then(|m| m.get(HARDEN_ANNOTATION));
    for item in value.map(String::as_str).unwrap_or("").split(',') {
        match item.trim() {
            "none" => a.none = true,
            "drop-all" => a.drop_all = true,
            "read-only-root" => a.read_only_root = true,
            "keep-token" => a.keep_token = true,
            _ => {}
        }
    }
    a
}

fn runs_as_non_root(c: &Container, pod: Option<&PodSecurityContext>) -> bool {
    let sc = c.security_context.as_ref();
    let uid = sc
        .and_then(|s| s.run_as_user)
        .or_else(|| pod.and_then(|p| p.run_as_user));
    let non_root = sc
        .and_then(|s| s.run_as_non_root)
        .or_else(|| pod.and_then(|p| p.run_as_non_root));
    matches!(uid, Some(u) if u > 0) || (uid.is_none() && non_root == Some(true))
}

fn adds_sys_admin(sc: &SecurityContext) -> bool {
    sc.capabilities
        .as_ref()
        .and_then(|c| c.add.as_ref())
        .is_some_and(|add| {
            add.iter()
                .any(|a| policy::escape::normalize_cap(a) == "SYS_ADMIN")
        })
}

fn harden_container(
    c: &mut Container,
    field: &str,
    drop_all: bool,
    read_only_root: bool,
    changes: &mut Vec<String>,
) {
    let sc = c.security_context.get_or_insert_with(Default::default);
    if sc.privileged == Some(true) {
        return;
    }
    if sc.allow_privilege_escalation.is_none() && !adds_sys_admin(sc) {
        sc.allow_privilege_escalation = Some(false);
        changes.push(format!(
            "{field}.securityContext.allowPrivilegeEscalation=false"
        ));
    }
    if drop_all {
        let caps = sc.capabilities.get_or_insert_with(Capabilities::default);
        let drop = caps.drop.get_or_insert_with(Vec::new);
        if !drop
            .iter()
            .any(|d| policy::escape::normalize_cap(d) == "ALL")
        {
            drop.push("ALL".into());
            changes.push(format!("{field}.securityContext.capabilities.drop+=ALL"));
        }
    }
    if read_only_root && sc.read_only_root_filesystem.is_none() {
        sc.read_only_root_filesystem = Some(true);
        changes.push(format!(
            "{field}.securityContext.readOnlyRootFilesystem=true"
        ));
    }
}

/// Harden `spec` in place; return what changed.
fn harden_spec(spec: &mut PodSpec, path: &str, asks: &Asks, cfg: &MutateConfig) -> Vec<String> {
    let mut changes = Vec::new();
    let is_windows = spec.os.as_ref().is_some_and(|o| o.name == "windows");
    if asks.none || is_windows {
        return changes;
    }
    let pod_sc = spec.security_context.get_or_insert_with(Default::default);
    if pod_sc.seccomp_profile.is_none() {
        pod_sc.seccomp_profile = Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        });
        changes.push(format!(
            "{path}.securityContext.seccompProfile.type=RuntimeDefault"
        ));
    }
    let pod_sc = spec.security_context.clone();
    for (list, name) in [
        (Some(&mut spec.containers), "containers"),
        (spec.init_containers.as_mut(), "initContainers"),
    ] {
        for (i, c) in list.into_iter().flatten().enumerate() {
            let field = format!("{path}.{name}[{i}]");
            let drop_all = asks.drop_all
                || match cfg.drop_all {
                    DropAll::Always => true,
                    DropAll::NonRoot => runs_as_non_root(c, pod_sc.as_ref()),
                    DropAll::Never => false,
                };
            harden_container(c, &field, drop_all, asks.read_only_root, &mut changes);
        }
    }
    let default_sa = matches!(
        spec.service_account_name.as_deref(),
        None | Some("") | Some("default")
    );
    if spec.automount_service_account_token.is_none() && default_sa && !asks.keep_token {
        spec.automount_service_account_token = Some(false);
        changes.push(format!("{path}.automountServiceAccountToken=false"));
    }
    changes
}

/// JSON pointer of a dotted field path: `spec.template.spec` → `/spec/template/spec`.
fn pointer_of(path: &str) -> String {
    path.split('.')
        .map(|seg| format!("/{}", seg.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// The hardening patch of a workload.
pub fn harden(w: &PodWorkload, cfg: &MutateConfig) -> Result<Hardening, MutateError> {
    let asks = asks(w);
    let mut spec = w.spec.clone();
    let had_seccomp_annotation = w
        .pod_metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(LEGACY_SECCOMP_POD_ANNOTATION));
    let mut changes = harden_spec(&mut spec, &w.spec_path, &asks, cfg);
    if had_seccomp_annotation {
        // The legacy annotation already decides the pod's profile; do not contradict it.
        if let Some(sc) = spec.security_context.as_mut() {
            if w.spec
                .security_context
                .as_ref()
                .and_then(|s| s.seccomp_profile.as_ref())
                .is_none()
            {
                sc.seccomp_profile = None;
                changes.retain(|c| !c.contains(".securityContext.seccompProfile"));
            }
        }
    }
    if changes.is_empty() {
        return Ok(Hardening::default());
    }
    let before = serde_json::to_value(&w.spec)?;
    let after = serde_json::to_value(&spec)?;
    let prefix = pointer_of(&w.spec_path);
    let diff = json_patch::diff(&before, &after);
    let mut ops = Vec::with_capacity(diff.0.len());
    for op in diff.0 {
        ops.push(reroot(op, &prefix)?);
    }
    Ok(Hardening {
        changes,
        patch: Patch(ops),
    })
}

fn reroot(op: PatchOperation, prefix: &str) -> Result<PatchOperation, MutateError> {
    let re = |p: &json_patch::jsonptr::Pointer| {
        let s = format!("{prefix}{p}");
        json_patch::jsonptr::PointerBuf::parse(&s).map_err(|_| MutateError::Pointer(s))
    };
    Ok(match op {
        PatchOperation::Add(mut o) => {
            o.path = re(&o.path)?;
            PatchOperation::Add(o)
        }
        PatchOperation::Remove(mut o) => {
            o.path = re(&o.path)?;
            PatchOperation::Remove(o)
        }
        PatchOperation::Replace(mut o) => {
            o.path = re(&o.path)?;
            PatchOperation::Replace(o)
        }
        PatchOperation::Move(mut o) => {
            o.path = re(&o.path)?;
            o.from = re(&o.from)?;
            PatchOperation::Move(o)
        }
        PatchOperation::Copy(mut o) => {
            o.path = re(&o.path)?;
            o.from = re(&o.from)?;
            PatchOperation::Copy(o)
        }
        PatchOperation::Test(mut o) => {
            o.path = re(&o.path)?;
            PatchOperation::Test(o)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{extract, Extracted};
    use serde_json::{json, Value};

    fn workload(group: &str, kind: &str, obj: &Value) -> PodWorkload {
        match extract(group, kind, "v1", obj.clone()).unwrap() {
            Extracted::Workload(w) => *w,
            Extracted::NotPodBearing => panic!("not pod-bearing"),
        }
    }

    fn apply(obj: &Value, h: &Hardening) -> Value {
        let mut o = obj.clone();
        json_patch::patch(&mut o, &h.patch).unwrap();
        o
    }

    #[test]
    fn hardens_a_bare_deployment_without_touching_other_fields() {
        let obj = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx", "x-unknown": 1}]}}}
        });
        let h = harden(
            &workload("apps", "Deployment", &obj),
            &MutateConfig::default(),
        )
        .unwrap();
        let out = apply(&obj, &h);
        let spec = &out["spec"]["template"]["spec"];
        assert_eq!(
            spec["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        assert_eq!(
            spec["containers"][0]["securityContext"]["allowPrivilegeEscalation"],
            false
        );
        // Root by default: capabilities are left as they are under `non-root`.
        assert!(spec["containers"][0]["securityContext"]
            .get("capabilities")
            .is_none());
        assert_eq!(spec["automountServiceAccountToken"], false);
        // Fields the typed model does not know survive (the patch never replaces the spec).
        assert_eq!(spec["containers"][0]["x-unknown"], 1);
        assert!(h
            .patch
            .0
            .iter()
            .all(|op| op.path().to_string().starts_with("/spec/template/spec/")));
    }

    #[test]
    fn drops_all_for_non_root_and_keeps_added_caps() {
        let obj = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"securityContext": {"runAsNonRoot": true, "runAsUser": 1000},
              "serviceAccountName": "api-reader",
              "containers": [{"name": "c", "image": "x",
                "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}}}]}});
        let h = harden(&workload("", "Pod", &obj), &MutateConfig::default()).unwrap();
        let out = apply(&obj, &h);
        let sc = &out["spec"]["containers"][0]["securityContext"];
        assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
        assert_eq!(sc["capabilities"]["add"], json!(["NET_BIND_SERVICE"]));
        // A named service account may use its token.
        assert!(out["spec"].get("automountServiceAccountToken").is_none());
        // Idempotent: hardening the result changes nothing.
        let again = harden(&workload("", "Pod", &out), &MutateConfig::default()).unwrap();
        assert!(again.patch.0.is_empty(), "{:?}", again.changes);
    }

    #[test]
    fn leaves_privileged_sys_admin_windows_and_opt_outs_alone() {
        let obj = json!({"kind": "Pod", "spec": {"containers": [
            {"name": "a", "image": "x", "securityContext": {"privileged": true}},
            {"name": "b", "image": "x", "securityContext": {"capabilities": {"add": ["CAP_SYS_ADMIN"]}}}]}});
        let h = harden(&workload("", "Pod", &obj), &MutateConfig::default()).unwrap();
        let out = apply(&obj, &h);
        assert!(out["spec"]["containers"][0]["securityContext"]
            .get("allowPrivilegeEscalation")
            .is_none());
        assert!(out["spec"]["containers"][1]["securityContext"]
            .get("allowPrivilegeEscalation")
            .is_none());

        let win = json!({"kind": "Pod", "spec": {"os": {"name": "windows"},
            "containers": [{"name": "a", "image": "x"}]}});
        assert!(harden(&workload("", "Pod", &win), &MutateConfig::default())
            .unwrap()
            .patch
            .0
            .is_empty());
        let none = json!({"kind": "Pod", "metadata": {"annotations": {"stockade.io/harden": "none"}},
            "spec": {"containers": [{"name": "a", "image": "x"}]}});
        assert!(
            harden(&workload("", "Pod", &none), &MutateConfig::default())
                .unwrap()
                .patch
                .0
                .is_empty()
        );
    }

    #[test]
    fn asked_hardening_and_cronjob_paths() {
        let obj = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
            "spec": {"schedule": "@hourly", "jobTemplate": {"spec": {"template": {
              "metadata": {"annotations": {"stockade.io/harden": "drop-all, read-only-root, keep-token"}},
              "spec": {"restartPolicy": "Never",
                "initContainers": [{"name": "i", "image": "x"}],
                "containers": [{"name": "c", "image": "x"}]}}}}}});
        let h = harden(
            &workload("batch", "CronJob", &obj),
            &MutateConfig::default(),
        )
        .unwrap();
        let out = apply(&obj, &h);
        let spec = &out["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        for c in [&spec["containers"][0], &spec["initContainers"][0]] {
            assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
            assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
        }
        assert!(spec.get("automountServiceAccountToken").is_none());
    }

    #[test]
    fn drop_all_never_and_always() {
        let obj = json!({"kind": "Pod", "spec": {"securityContext": {"runAsUser": 1000},
            "containers": [{"name": "c", "image": "x"}]}});
        let never = MutateConfig {
            drop_all: DropAll::Never,
        };
        let out = apply(&obj, &harden(&workload("", "Pod", &obj), &never).unwrap());
        assert!(out["spec"]["containers"][0]["securityContext"]
            .get("capabilities")
            .and_then(|c| c.get("drop"))
            .and_then(Value::as_array)
            .is_none_or(|d| d.is_empty()));
        let root = json!({"kind": "Pod", "spec": {"containers": [{"name": "c", "image": "x"}]}});
        let always = MutateConfig {
            drop_all: DropAll::Always,
        };
        let out = apply(
            &root,
            &harden(&workload("", "Pod", &root), &always).unwrap(),
        );
        assert_eq!(
            out["spec"]["containers"][0]["securityContext"]["capabilities"]["drop"],
            json!(["ALL"])
        );
    }
}
