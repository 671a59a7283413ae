//! Decoding the object of an AdmissionReview into the policy crate's [`PodWorkload`].
//!
//! AdmissionReview objects are JSON the API server has already decoded and defaulted, so they are
//! deserialized straight into the `k8s-openapi` type of their kind; no YAML is involved. A kind
//! that carries no pod template is reported as [`Extracted::NotPodBearing`] (the webhook allows it,
//! as Pod Security admission does); an object of a pod-bearing kind that does not decode is an
//! error, and the webhook fails closed on it.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, PodTemplate, PodTemplateSpec, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use policy::PodWorkload;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The plural resource name of a pod-bearing kind (`Deployment` → `deployments`), from
/// [`policy::k8s::POD_KINDS`], the kinds the webhook evaluates.
pub fn resource_of(kind: &str) -> Option<&'static str> {
    policy::k8s::pod_kind(kind).map(|k| k.resource)
}

/// What an object turned out to be.
#[derive(Debug)]
pub enum Extracted {
    Workload(Box<PodWorkload>),
    /// A kind without a pod template (ConfigMap, Service, ...): nothing to evaluate.
    NotPodBearing,
}

/// Why a pod-bearing object could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("cannot decode {kind} object: {source}")]
    Decode {
        kind: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{kind} object has no pod spec at {field}")]
    NoSpec { kind: String, field: &'static str },
    #[error("object kind {object:?} does not match the request kind {request:?}")]
    KindMismatch { object: String, request: String },
}

/// An object to decode: a `Value` already parsed, or raw JSON (a review's object, decoded once,
/// straight into its kind's type, with no intermediate tree).
enum Source<'a> {
    Value(Value),
    Json(&'a str),
}

fn decode<T: DeserializeOwned>(kind: &str, object: Source) -> Result<T, ExtractError> {
    match object {
        Source::Value(v) => serde_json::from_value(v),
        Source::Json(s) => serde_json::from_str(s),
    }
    .map_err(|source| ExtractError::Decode {
        kind: kind.to_string(),
        source,
    })
}

/// The top-level `kind` of a JSON object, if it has one (the other fields are skipped, not
/// built).
pub fn object_kind(json: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Kind {
        kind: Option<String>,
    }
    serde_json::from_str::<Kind>(json).ok()?.kind
}

fn from_template(
    kind: &str,
    api_version: &str,
    metadata: ObjectMeta,
    template: Option<PodTemplateSpec>,
    field: &'static str,
) -> Result<PodWorkload, ExtractError> {
    let no_spec = || ExtractError::NoSpec {
        kind: kind.to_string(),
        field,
    };
    let template = template.ok_or_else(no_spec)?;
    let spec = template.spec.ok_or_else(no_spec)?;
    Ok(PodWorkload {
        kind: kind.to_string(),
        api_version: api_version.to_string(),
        metadata,
        pod_metadata: template.metadata.unwrap_or_default(),
        spec,
        spec_path: field.to_string(),
    })
}

/// Decode `object` as the kind the request names (`group`, `kind`) into a [`PodWorkload`].
///
/// `api_version` is the object's `group/version` as the request names it.
pub fn extract(
    group: &str,
    kind: &str,
    api_version: &str,
    object: Value,
) -> Result<Extracted, ExtractError> {
    if let Some(obj_kind) = object.get("kind").and_then(Value::as_str) {
        if obj_kind != kind && is_pod_kind(group, kind) {
            return Err(ExtractError::KindMismatch {
                object: obj_kind.to_string(),
                request: kind.to_string(),
            });
        }
    }
    extract_from(group, kind, api_version, Source::Value(object))
}

/// [`extract`] from raw JSON: the object is decoded once, straight into the k8s-openapi type
/// of its kind (which checks `kind` and `apiVersion` where the object has them).
pub fn extract_json(
    group: &str,
    kind: &str,
    api_version: &str,
    object: &str,
) -> Result<Extracted, ExtractError> {
    match extract_from(group, kind, api_version, Source::Json(object)) {
        // Say so when it is the object's kind that does not match the request's.
        Err(e @ ExtractError::Decode { .. }) => match object_kind(object) {
            Some(obj_kind) if obj_kind != kind => Err(ExtractError::KindMismatch {
                object: obj_kind,
                request: kind.to_string(),
            }),
            _ => Err(e),
        },
        r => r,
    }
}

fn is_pod_kind(group: &str, kind: &str) -> bool {
    policy::k8s::pod_kind(kind).is_some_and(|k| k.group == group)
}

fn extract_from(
    group: &str,
    kind: &str,
    api_version: &str,
    object: Source,
) -> Result<Extracted, ExtractError> {
    let Some(pod_kind) = policy::k8s::pod_kind(kind).filter(|k| k.group == group) else {
        return Ok(Extracted::NotPodBearing);
    };
    let field = pod_kind.spec_path;
    let w = match kind {
        "Pod" => {
            let pod: Pod = decode(kind, object)?;
            let spec = pod.spec.ok_or(ExtractError::NoSpec {
                kind: kind.to_string(),
                field,
            })?;
            PodWorkload {
                kind: kind.to_string(),
                api_version: api_version.to_string(),
                pod_metadata: pod.metadata.clone(),
                metadata: pod.metadata,
                spec,
                spec_path: field.to_string(),
            }
        }
        "Deployment" => {
            let o: Deployment = decode(kind, object)?;
            let t = Some(o.spec.template);
            from_template(kind, api_version, o.metadata, t, field)?
        }
        "StatefulSet" => {
            let o: StatefulSet = decode(kind, object)?;
            let t = Some(o.spec.template);
            from_template(kind, api_version, o.metadata, t, field)?
        }
        "DaemonSet" => {
            let o: DaemonSet = decode(kind, object)?;
            let t = Some(o.spec.template);
            from_template(kind, api_version, o.metadata, t, field)?
        }
        "ReplicaSet" => {
            let o: ReplicaSet = decode(kind, object)?;
            let t = o.spec.template;
            from_template(kind, api_version, o.metadata, t, field)?
        }
        "ReplicationController" => {
            let o: ReplicationController = decode(kind, object)?;
            let t = o.spec.and_then(|s| s.template);
            from_template(kind, api_version, o.metadata, t, field)?
        }
        "Job" => {
            let o: Job = decode(kind, object)?;
            let t = o.spec.map(|s| s.template);
            from_template(kind, api_version, o.metadata, t, field)?
        }
        "CronJob" => {
            let o: CronJob = decode(kind, object)?;
            let t = o.spec.job_template.spec.map(|s| s.template);
            from_template(kind, api_version, o.metadata, t, field)?
        }
        "PodTemplate" => {
            let o: PodTemplate = decode(kind, object)?;
            from_template(kind, api_version, o.metadata, o.template, field)?
        }
        _ => return Ok(Extracted::NotPodBearing),
    };
    Ok(Extracted::Workload(Box::new(w)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod_spec() -> Value {
        json!({"containers": [{"name": "c", "image": "busybox"}]})
    }

    #[test]
    fn every_kind_finds_its_spec() {
        let cases = [
            ("", "Pod", json!({"spec": pod_spec()}), "spec"),
            (
                "apps",
                "Deployment",
                json!({"spec": {"selector": {}, "template": {"spec": pod_spec()}}}),
                "spec.template.spec",
            ),
            (
                "batch",
                "CronJob",
                json!({"spec": {"schedule": "* * * * *",
                    "jobTemplate": {"spec": {"template": {"spec": pod_spec()}}}}}),
                "spec.jobTemplate.spec.template.spec",
            ),
            (
                "",
                "PodTemplate",
                json!({"template": {"spec": pod_spec()}}),
                "template.spec",
            ),
        ];
        for (group, kind, obj, path) in cases {
            match extract(group, kind, "v1", obj).unwrap() {
                Extracted::Workload(w) => {
                    assert_eq!(w.spec_path, path);
                    assert_eq!(w.spec.containers[0].name, "c");
                }
                Extracted::NotPodBearing => panic!("{kind} not pod-bearing"),
            }
        }
    }

    #[test]
    fn other_kinds_and_bad_objects() {
        assert!(matches!(
            extract("", "ConfigMap", "v1", json!({})).unwrap(),
            Extracted::NotPodBearing
        ));
        // Same kind name in another group is not ours.
        assert!(matches!(
            extract("example.com", "Pod", "v1", json!({})).unwrap(),
            Extracted::NotPodBearing
        ));
        assert!(matches!(
            extract("", "Pod", "v1", json!({"spec": {"containers": "nope"}})),
            Err(ExtractError::Decode { .. })
        ));
        assert!(matches!(
            extract("", "Pod", "v1", json!({"metadata": {"name": "x"}})),
            Err(ExtractError::NoSpec { .. })
        ));
        assert!(matches!(
            extract(
                "",
                "Pod",
                "v1",
                json!({"kind": "Secret", "spec": pod_spec()})
            ),
            Err(ExtractError::KindMismatch { .. })
        ));
    }
}
