//! One AdmissionReview in, one out: decode, route by operation and subresource, apply
//! exemptions, evaluate with `policy`, decide, and encode the response in the request's own API
//! version (v1, or v1beta1 answered in kind).
//!
//! Synchronous and free of I/O: the HTTP layer hands it the body and sends what it returns.

use crate::config::Config;
use crate::decide::{decide, Decision, Exemption, Subject, Verdicts};
use crate::metrics::Metrics;
use crate::mutate::{harden, Hardening};
use crate::nsapi::NamespaceCache;
use crate::nslabels::{Labels, NamespaceLabels};
use crate::nspolicy::{LevelVersion, NamespacePolicy};
use crate::workload::{extract_json, object_kind, resource_of, Extracted};
use k8s_openapi::api::authentication::v1::UserInfo;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube_core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use kube_core::response::{StatusCause, StatusDetails};
use kube_core::{DynamicObject, GroupVersionKind, GroupVersionResource, Status, TypeMeta};
use policy::{
    evaluate_pod, evaluate_pod_beyond_pss, Level, Options, PodWorkload, PssVersion, Violation,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::Instant;

pub const API_V1: &str = "admission.k8s.io/v1";
pub const API_V1BETA1: &str = "admission.k8s.io/v1beta1";

/// Which endpoint a review came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/validate` (policy from namespace labels or config defaults) or `/validate/<level>`
    /// (that level where namespace labels say nothing).
    Validate(Option<Level>),
    /// `/mutate`.
    Mutate,
}

impl Endpoint {
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Validate(None) => "validate",
            Endpoint::Validate(Some(Level::Baseline)) => "validate/baseline",
            Endpoint::Validate(Some(Level::Restricted)) => "validate/restricted",
            Endpoint::Validate(Some(Level::Hardened)) => "validate/hardened",
            Endpoint::Mutate => "mutate",
        }
    }
}

/// Computes the violations of a workload for every mode of a namespace policy.
pub type Evaluator = dyn Fn(&PodWorkload, &NamespacePolicy) -> Verdicts + Send + Sync;

/// Where namespace labels come from.
#[derive(Debug)]
pub enum NamespaceSource {
    /// Nowhere: the level comes from the request path (`/validate/<level>`) or the defaults.
    Path,
    /// A snapshot file, reloaded when it changes.
    File(NamespaceLabels),
    /// The API server, listed and watched.
    Api(Arc<NamespaceCache>),
}

impl NamespaceSource {
    pub fn name(&self) -> &'static str {
        match self {
            NamespaceSource::Path => "path",
            NamespaceSource::File(_) => "file",
            NamespaceSource::Api(_) => "api",
        }
    }
}

/// What a live lookup of a namespace missing from the cache found.
pub type Lookup = Result<Option<Arc<Labels>>, String>;

/// A review that needs a namespace the cache does not hold.
#[derive(Debug)]
struct Miss;

/// Everything a review needs besides the request: configuration, namespace labels, metrics.
pub struct Engine {
    pub config: Config,
    /// Policy for namespaces whose labels say nothing, from the configuration.
    pub defaults: NamespacePolicy,
    pub labels: NamespaceSource,
    pub metrics: Metrics,
    /// [`verdicts`] (the policy crate) unless replaced with [`Engine::with_evaluator`].
    evaluator: Box<Evaluator>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("defaults", &self.defaults)
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

/// An HTTP answer: status, content type, body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub json: bool,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(status: u16, msg: impl Into<String>) -> Self {
        let mut body = msg.into().into_bytes();
        body.push(b'\n');
        Answer {
            status,
            json: false,
            body,
        }
    }
}

/// How a review ended, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ignored,
    Exempt,
    Allowed,
    Warned,
    Denied,
    Invalid,
    Mutated,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ignored => "ignored",
            Outcome::Exempt => "exempt",
            Outcome::Allowed => "allowed",
            Outcome::Warned => "warned",
            Outcome::Denied => "denied",
            Outcome::Invalid => "invalid",
            Outcome::Mutated => "mutated",
        }
    }
}

impl Engine {
    pub fn new(config: Config, labels: Option<NamespaceLabels>) -> Result<Engine, String> {
        let defaults = config
            .default_policy()
            .map_err(|(f, r)| format!("config: {f}: {r}"))?;
        Ok(Engine {
            config,
            defaults,
            labels: match labels {
                Some(l) => NamespaceSource::File(l),
                None => NamespaceSource::Path,
            },
            metrics: Metrics::default(),
            evaluator: Box::new(verdicts),
        })
    }

    /// Read namespace labels from the API server through `cache` (whose task the caller runs).
    pub fn with_namespace_cache(mut self, cache: Arc<NamespaceCache>) -> Self {
        self.labels = NamespaceSource::Api(cache);
        self
    }

    /// Whether namespace labels can be read: always, except with the API source before its
    /// first list.
    pub fn labels_ready(&self) -> bool {
        match &self.labels {
            NamespaceSource::Api(c) => c.synced(),
            _ => true,
        }
    }

    /// Every metric, the namespace cache's included.
    pub fn render_metrics(&self) -> String {
        let mut o = self.metrics.render();
        if let NamespaceSource::Api(c) = &self.labels {
            c.render_metrics(&mut o);
        }
        o
    }

    /// Replace the policy evaluation (tests and embedders; the server uses [`verdicts`]).
    pub fn with_evaluator(
        mut self,
        f: impl Fn(&PodWorkload, &NamespacePolicy) -> Verdicts + Send + Sync + 'static,
    ) -> Self {
        self.evaluator = Box::new(f);
        self
    }

    /// The policy of `namespace` for a review at `endpoint`: its labels (when the snapshot or
    /// the cache has the namespace), over the path's level (when the path names one), over the
    /// configured defaults. A namespace missing from the API cache is looked up live by
    /// [`Engine::review_async`]; here, without that lookup, it gets the defaults.
    pub fn namespace_policy(&self, endpoint: Endpoint, namespace: &str) -> NamespacePolicy {
        let looked_up = Err("not in the namespace cache".to_string());
        // With a lookup result given, `policy_for` never asks for one.
        self.policy_for(endpoint, namespace, Some(&looked_up))
            .unwrap_or_else(|Miss| self.defaults.clone())
    }

    fn policy_for(
        &self,
        endpoint: Endpoint,
        namespace: &str,
        looked_up: Option<&Lookup>,
    ) -> Result<NamespacePolicy, Miss> {
        let base = match endpoint {
            Endpoint::Validate(Some(level)) => NamespacePolicy::uniform(level),
            _ => self.defaults.clone(),
        };
        let labels = match &self.labels {
            NamespaceSource::Path => None,
            NamespaceSource::File(l) => l.get(namespace),
            NamespaceSource::Api(c) => match c.get(namespace) {
                Some(l) => Some(l),
                None => match looked_up {
                    None => return Err(Miss),
                    Some(Ok(found)) => found.clone(),
                    Some(Err(e)) => {
                        // Unknown labels: `decide` refuses pods with an internal error and
                        // allows controllers with the failure in the `error` annotation, as
                        // Kubernetes' Pod Security admission does.
                        let mut p = base;
                        let msg = format!("failed to look up namespace {namespace:?}: {e}");
                        p.errors.push(msg.clone());
                        p.lookup_failed = Some(msg);
                        return Ok(p);
                    }
                },
            },
        };
        Ok(match labels {
            Some(labels) => NamespacePolicy::from_labels(&labels, &base),
            None => base,
        })
    }

    /// Answer one request body, looking up live a namespace the API cache lacks (a namespace
    /// created a moment ago whose watch event has not arrived yet). A failed lookup refuses pods
    /// with an internal error (allows controllers with an `error` annotation), is logged, and is
    /// counted in the cache's error metric.
    pub async fn review_async(&self, endpoint: Endpoint, body: &[u8]) -> Answer {
        let start = Instant::now();
        let namespace = match self.review_inner(endpoint, body, None, start) {
            Ok(a) => return a,
            Err(ns) => ns,
        };
        let NamespaceSource::Api(cache) = &self.labels else {
            return Answer::text(500, "namespace lookup without an API source");
        };
        let looked_up: Lookup = match cache.fetch(&namespace).await {
            Ok(l) => Ok(l),
            Err(e) => {
                tracing::error!(namespace = %namespace, error = %e,
                    "cannot look up the namespace; refusing pods in it (internal error), allowing controllers with an error annotation");
                Err(e.to_string())
            }
        };
        match self.review_inner(endpoint, body, Some(&looked_up), start) {
            Ok(a) => a,
            Err(_) => Answer::text(500, "namespace lookup did not settle"),
        }
    }

    /// Answer one request body without waiting on the network: `None` when its namespace is
    /// missing from the API cache and must be looked up first ([`Engine::review_async`]).
    pub fn review_cached(&self, endpoint: Endpoint, body: &[u8]) -> Option<Answer> {
        self.review_inner(endpoint, body, None, Instant::now()).ok()
    }

    /// Answer one request body.
    pub fn review(&self, endpoint: Endpoint, body: &[u8]) -> Answer {
        let looked_up = Err("not in the namespace cache".to_string());
        match self.review_inner(endpoint, body, Some(&looked_up), Instant::now()) {
            Ok(a) => a,
            Err(_) => Answer::text(500, "namespace lookup did not settle"),
        }
    }

    /// One review; `Err(namespace)` when the namespace must be looked up first (only when
    /// `looked_up` is `None`).
    fn review_inner(
        &self,
        endpoint: Endpoint,
        body: &[u8],
        looked_up: Option<&Lookup>,
        start: Instant,
    ) -> Result<Answer, String> {
        let review: WireReview = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => return Ok(self.refuse(format!("invalid AdmissionReview: {e}"))),
        };
        if review.kind != "AdmissionReview" {
            return Ok(self.refuse(format!(
                "expected kind AdmissionReview, got {:?}",
                review.kind
            )));
        }
        if review.api_version != API_V1 && review.api_version != API_V1BETA1 {
            return Ok(self.refuse(format!(
                "unsupported apiVersion {:?} (admission.k8s.io/v1 or v1beta1)",
                review.api_version
            )));
        }
        let types = TypeMeta {
            api_version: review.api_version,
            kind: review.kind,
        };
        let Some((req, objects)) = review.request.map(|r| r.split(types)) else {
            return Ok(self.refuse("AdmissionReview has no request".into()));
        };
        if req.uid.is_empty() {
            return Ok(self.refuse("AdmissionReview request has no uid".into()));
        }

        let (decision, hardening, outcome) = match self.process(endpoint, &req, &objects, looked_up)
        {
            Ok(x) => x,
            Err(Miss) => return Err(req.namespace.clone().unwrap_or_default()),
        };
        let kind = req.kind.kind.as_str();
        let resource = resource_of(kind).unwrap_or(req.resource.resource.as_str());

        let mut resp = AdmissionResponse::from(&req);
        resp.allowed = decision.allowed;
        if let Some(den) = &decision.denial {
            let causes = den
                .causes
                .iter()
                .map(|c| StatusCause {
                    reason: c.rule.clone(),
                    message: c.message.clone(),
                    field: c.field.clone(),
                })
                .collect();
            resp.result = Status::failure(&den.message, den.reason)
                .with_code(den.code)
                .with_details(StatusDetails {
                    name: req.name.clone(),
                    group: req.kind.group.clone(),
                    kind: resource.to_string(),
                    uid: String::new(),
                    causes,
                    retry_after_seconds: 0,
                });
        }
        if !decision.warnings.is_empty() {
            resp.warnings = Some(decision.warnings.clone());
        }
        resp.audit_annotations = decision
            .audit_annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(h) = &hardening {
            if !h.patch.0.is_empty() {
                resp = match resp.with_patch(h.patch.clone()) {
                    Ok(r) => r,
                    Err(e) => return Ok(Answer::text(500, format!("cannot encode patch: {e}"))),
                };
            }
        }
        let body = match encode(resp) {
            Ok(b) => b,
            Err(e) => return Ok(Answer::text(500, format!("cannot encode response: {e}"))),
        };

        let took = start.elapsed();
        let m = &self.metrics;
        m.record_request(endpoint.name(), kind, outcome.as_str(), took);
        for r in &decision.denied_by {
            m.record_rule(r, "deny");
        }
        for r in &decision.found {
            if !decision.denied_by.contains(r) {
                let action = if decision.warnings.is_empty() {
                    "audit"
                } else {
                    "warn"
                };
                m.record_rule(r, action);
            }
        }
        let user = req.user_info.username.as_deref().unwrap_or("");
        let ns = req.namespace.as_deref().unwrap_or("");
        let op = format!("{:?}", req.operation).to_ascii_uppercase();
        let sub = req.sub_resource.as_deref().unwrap_or("");
        let changes = hardening.map(|h| h.changes.join(", ")).unwrap_or_default();
        if matches!(
            outcome,
            Outcome::Denied | Outcome::Warned | Outcome::Invalid
        ) {
            tracing::info!(
                uid = %req.uid, endpoint = endpoint.name(), operation = %op, kind, subresource = sub,
                namespace = ns, name = %req.name, user, dry_run = req.dry_run,
                decision = outcome.as_str(), rules = %decision.found.join(","),
                message = decision.denial.as_ref().map(|d| d.message.as_str()).unwrap_or(""),
                warnings = %decision.warnings.join(" | "),
                took_us = took.as_micros() as u64, "admission decision"
            );
        } else {
            tracing::debug!(
                uid = %req.uid, endpoint = endpoint.name(), operation = %op, kind, subresource = sub,
                namespace = ns, name = %req.name, user, dry_run = req.dry_run,
                decision = outcome.as_str(), changes = %changes,
                took_us = took.as_micros() as u64, "admission decision"
            );
        }
        Ok(Answer {
            status: 200,
            json: true,
            body,
        })
    }

    fn refuse(&self, message: String) -> Answer {
        self.metrics
            .bad_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(error = %message, "bad admission request");
        Answer::text(400, message)
    }

    fn process(
        &self,
        endpoint: Endpoint,
        req: &AdmissionRequest<DynamicObject>,
        objects: &Objects,
        looked_up: Option<&Lookup>,
    ) -> Result<(Decision, Option<Hardening>, Outcome), Miss> {
        let ignored = Ok((Decision::allow(), None, Outcome::Ignored));
        if !matches!(req.operation, Operation::Create | Operation::Update) {
            return ignored;
        }
        let group = req.kind.group.as_str();
        let kind = req.kind.kind.as_str();
        let sub = req.sub_resource.as_deref().unwrap_or("");
        let ephemeral = sub == "ephemeralcontainers" && group.is_empty() && kind == "Pod";
        if !sub.is_empty() && !ephemeral {
            // status, binding, eviction, exec, attach, ...: not a change to what runs.
            return ignored;
        }
        if resource_of(kind).is_none() {
            // Not exactly a pod-bearing kind. A request that is otherwise about one (its
            // resource, its object's own kind, or the kind in another spelling such as `pod`)
            // is denied, not let through unevaluated (fail closed); other kinds (ConfigMap,
            // Service, ...) are allowed untouched.
            let resource = req.resource.resource.as_str();
            let object_kind = objects.object.and_then(|o| object_kind(o.get()));
            let object_kind = object_kind.as_deref();
            let pod_bearing = policy::k8s::POD_KINDS.iter().any(|k| {
                k.kind.eq_ignore_ascii_case(kind)
                    || k.resource == resource
                    || Some(k.kind) == object_kind
            });
            if pod_bearing {
                return invalid(format!(
                    "request.kind.kind {kind:?} is not a kind this webhook knows, but the request is about a pod-bearing object (resource {resource:?}, object kind {:?}); denied (fail closed)",
                    object_kind.unwrap_or("")
                ));
            }
            return ignored;
        }
        let ex = &self.config.exemptions;
        let namespace = req.namespace.as_deref().unwrap_or("");
        if ex.namespaces.contains(namespace) {
            return Ok((
                Decision::exempt(Exemption::Namespace),
                None,
                Outcome::Exempt,
            ));
        }
        if let Some(user) = req.user_info.username.as_deref() {
            if ex.usernames.contains(user) {
                return Ok((Decision::exempt(Exemption::User), None, Outcome::Exempt));
            }
        }
        let Some(object) = objects.object else {
            return invalid("the request has no object".into());
        };
        let api_version = if group.is_empty() {
            req.kind.version.clone()
        } else {
            format!("{group}/{}", req.kind.version)
        };
        let w = match to_workload(group, kind, &api_version, object) {
            Ok(Some(w)) => FreeLater::new(w),
            Ok(None) => return ignored,
            Err(e) => return invalid(e),
        };
        if let Some(rc) = w.spec.runtime_class_name.as_deref() {
            if ex.runtime_classes.contains(rc) {
                return Ok((
                    Decision::exempt(Exemption::RuntimeClass),
                    None,
                    Outcome::Exempt,
                ));
            }
        }

        match endpoint {
            Endpoint::Mutate => {
                if req.operation != Operation::Create || !sub.is_empty() {
                    return ignored;
                }
                match harden(&w, &self.config.mutate) {
                    Ok(h) if h.patch.0.is_empty() => {
                        Ok((Decision::allow(), None, Outcome::Allowed))
                    }
                    Ok(h) => Ok((Decision::allow(), Some(h), Outcome::Mutated)),
                    Err(e) => invalid(e.to_string()),
                }
            }
            Endpoint::Validate(_) => {
                if req.operation == Operation::Update && sub.is_empty() {
                    if let Some(old) = objects.old_object {
                        if let Ok(Some(old)) = to_workload(group, kind, &api_version, old) {
                            if !significant_update(&w, &old) {
                                return Ok((Decision::allow(), None, Outcome::Ignored));
                            }
                        }
                    }
                }
                let policy = self.policy_for(endpoint, namespace, looked_up)?;
                // A panic in evaluation must not take the webhook down with it: the request is
                // denied (fail closed) and the server goes on. (Only effective where panics
                // unwind; the workspace's release profile aborts, see docs/admission.md.)
                let evaluated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    (self.evaluator)(&w, &policy)
                }));
                let Ok(verdicts) = evaluated else {
                    tracing::error!(kind, name = %req.name, "policy evaluation panicked");
                    return invalid(format!(
                        "internal error evaluating {kind} {:?}; denied (fail closed)",
                        req.name
                    ));
                };
                let subject = Subject {
                    group,
                    resource: resource_of(kind).unwrap_or("pods"),
                    name: &req.name,
                    is_pod: w.is_pod(),
                };
                let d = decide(&subject, &policy, &verdicts);
                let outcome = if !d.allowed {
                    Outcome::Denied
                } else if !d.warnings.is_empty() {
                    Outcome::Warned
                } else {
                    Outcome::Allowed
                };
                Ok((d, None, outcome))
            }
        }
    }
}

/// The response review as JSON. `kube-core` writes `patch` (a Go `[]byte`) as an array of
/// numbers; Go's encoder, and so every Kubernetes component, writes base64, which is what is sent.
fn encode(resp: AdmissionResponse) -> Result<Vec<u8>, serde_json::Error> {
    use base64::Engine as _;
    let patch = resp.patch.clone();
    let mut v = serde_json::to_value(resp.into_review())?;
    if let (Some(bytes), Some(slot)) = (patch, v.pointer_mut("/response/patch")) {
        *slot = serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    serde_json::to_vec(&v)
}

/// An AdmissionReview as it comes off the wire. kube-core's `AdmissionReview<DynamicObject>`
/// flattens its type meta (serde buffers the whole review in a generic tree to do that) and its
/// `DynamicObject` flattens the object into a `serde_json::Value` again: a 3 MB pod was built
/// three times over before it was decoded into its k8s-openapi type. Here the object and the old
/// object stay raw JSON borrowed from the body, decoded once, straight into their kind's type.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireReview<'a> {
    api_version: String,
    kind: String,
    #[serde(borrow, default)]
    request: Option<WireRequest<'a>>,
}

/// kube-core's `AdmissionRequest`, field for field, with the objects left raw.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRequest<'a> {
    uid: String,
    kind: GroupVersionKind,
    resource: GroupVersionResource,
    #[serde(default)]
    sub_resource: Option<String>,
    #[serde(default)]
    request_kind: Option<GroupVersionKind>,
    #[serde(default)]
    request_resource: Option<GroupVersionResource>,
    #[serde(default)]
    request_sub_resource: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    operation: Operation,
    user_info: UserInfo,
    #[serde(borrow, default)]
    object: Option<&'a RawValue>,
    #[serde(borrow, default)]
    old_object: Option<&'a RawValue>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    options: Option<RawExtension>,
}

/// The request's objects, raw JSON (`None` for an absent or `null` object).
struct Objects<'a> {
    object: Option<&'a RawValue>,
    old_object: Option<&'a RawValue>,
}

impl<'a> WireRequest<'a> {
    /// kube-core's request (without its objects) and the raw objects.
    fn split(self, types: TypeMeta) -> (AdmissionRequest<DynamicObject>, Objects<'a>) {
        let req = AdmissionRequest {
            types,
            uid: self.uid,
            kind: self.kind,
            resource: self.resource,
            sub_resource: self.sub_resource,
            request_kind: self.request_kind,
            request_resource: self.request_resource,
            request_sub_resource: self.request_sub_resource,
            name: self.name,
            namespace: self.namespace,
            operation: self.operation,
            user_info: self.user_info,
            object: None,
            old_object: None,
            dry_run: self.dry_run,
            options: self.options,
        };
        let objects = Objects {
            object: self.object,
            old_object: self.old_object,
        };
        (req, objects)
    }
}

fn invalid(message: String) -> Result<(Decision, Option<Hardening>, Outcome), Miss> {
    Ok((Decision::bad_request(message), None, Outcome::Invalid))
}

/// A decoded workload that, when it is large, is freed after the answer has gone out rather
/// than on its path: freeing the 6,741 containers of a 3 MB pod (some 100,000 blocks) took a
/// tenth of the review's time. On the blocking pool when there is a Tokio runtime (the
/// server); at once otherwise.
struct FreeLater(PodWorkload);

/// Containers from which a workload is freed off the answer's path.
const FREE_LATER_CONTAINERS: usize = 256;

impl FreeLater {
    fn new(w: PodWorkload) -> Self {
        FreeLater(w)
    }
}

impl std::ops::Deref for FreeLater {
    type Target = PodWorkload;
    fn deref(&self) -> &PodWorkload {
        &self.0
    }
}

impl Drop for FreeLater {
    fn drop(&mut self) {
        let s = &self.0.spec;
        let n = s.containers.len()
            + s.init_containers.as_ref().map_or(0, Vec::len)
            + s.ephemeral_containers.as_ref().map_or(0, Vec::len);
        if n >= FREE_LATER_CONTAINERS {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                // The spec holds the containers; the rest is small.
                let spec = std::mem::take(&mut self.0.spec);
                rt.spawn_blocking(move || drop(spec));
            }
        }
    }
}

fn to_workload(
    group: &str,
    kind: &str,
    api_version: &str,
    object: &RawValue,
) -> Result<Option<PodWorkload>, String> {
    match extract_json(group, kind, api_version, object.get()) {
        Ok(Extracted::Workload(w)) => Ok(Some(*w)),
        Ok(Extracted::NotPodBearing) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether an UPDATE can change what Pod Security checks. For Pods, as Kubernetes' Pod Security
/// admission decides it (most of a pod's spec is immutable): container images, the number of
/// containers, and the seccomp annotations. For controllers: any change to the pod template's
/// spec or annotations (a scale or a label change is not evaluated again).
pub fn significant_update(new: &PodWorkload, old: &PodWorkload) -> bool {
    if !new.is_pod() {
        return new.spec != old.spec
            || new.pod_metadata.annotations != old.pod_metadata.annotations;
    }
    const SECCOMP_POD: &str = "seccomp.security.alpha.kubernetes.io/pod";
    const SECCOMP_CONTAINER: &str = "container.seccomp.security.alpha.kubernetes.io/";
    let ann = |w: &PodWorkload, k: &str| {
        w.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(k).cloned())
    };
    if ann(new, SECCOMP_POD) != ann(old, SECCOMP_POD) {
        return true;
    }
    fn lists(w: &PodWorkload) -> [&[k8s_openapi::api::core::v1::Container]; 2] {
        [
            w.spec.containers.as_slice(),
            w.spec.init_containers.as_deref().unwrap_or_default(),
        ]
    }
    let (n, o) = (lists(new), lists(old));
    for (nl, ol) in n.iter().zip(o.iter()) {
        if nl.len() != ol.len() {
            return true;
        }
        for (nc, oc) in nl.iter().zip(ol.iter()) {
            let key = format!("{SECCOMP_CONTAINER}{}", nc.name);
            if nc.image != oc.image || ann(new, &key) != ann(old, &key) {
                return true;
            }
        }
    }
    false
}

fn pss_for(
    w: &PodWorkload,
    lv: LevelVersion,
    cache: &mut Vec<(Level, PssVersion, Vec<Violation>)>,
) -> Vec<Violation> {
    let Some(level) = lv.level.policy_level() else {
        return Vec::new();
    };
    let version = lv.version.pss();
    if let Some((_, _, v)) = cache
        .iter()
        .find(|(l, ver, _)| *l == level && *ver == version)
    {
        return v.clone();
    }
    let v = evaluate_pod(
        w,
        &Options {
            level,
            pss_version: version,
            pss_only: true,
        },
    );
    cache.push((level, version, v.clone()));
    v
}

/// Evaluate a workload for every mode of a namespace policy (each level and version once).
pub fn verdicts(w: &PodWorkload, p: &NamespacePolicy) -> Verdicts {
    let mut cache = Vec::new();
    let mut v = Verdicts {
        enforce: pss_for(w, p.enforce, &mut cache),
        audit: pss_for(w, p.audit, &mut cache),
        warn: pss_for(w, p.warn, &mut cache),
        escape: Vec::new(),
    };
    if let Some(level) = p.escape {
        // The rules Pod Security lacks; its own checks are `enforce`, `audit` and `warn`.
        v.escape = evaluate_pod_beyond_pss(w, level)
            .into_iter()
            .filter(|x| !x.rule.pss)
            .collect();
    }
    v
}
