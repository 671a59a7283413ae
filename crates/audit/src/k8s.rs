//! The Kubernetes reader: YAML or JSON manifests (multi-document, `List` kinds) into typed
//! objects with field lines.
//!
//! - Pod-bearing kinds (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet,
//!   ReplicationController, Job, CronJob, PodTemplate) become [`Subject::Pod`]; their pod
//!   template is decoded into `k8s-openapi` types, whatever the `apiVersion` (old
//!   `extensions/v1beta1` Deployments have the same template).
//! - Namespace, NetworkPolicy, ServiceAccount, Role, ClusterRole, RoleBinding and
//!   ClusterRoleBinding become [`Subject::Cluster`].
//! - Any other kind is [`Subject::Other`].
//!
//! Fail closed: a document that does not parse, an object without `kind` or `apiVersion`, or an
//! object whose pod template (or metadata) does not decode — a type mismatch such as
//! `privileged: "maybe"`, a missing required field — is an `SKD-INPUT-001` problem naming the
//! field and line; the rest of the file is still read. Unknown fields are ignored, as the API
//! server's non-strict decoding does.
//!
//! A mapping with none of `apiVersion`, `kind`, `metadata`, `spec`, `template` or `items` is not
//! taken for a Kubernetes object and is skipped (a Helm `values.yaml`, say).

// A `Problem` is what this module reports; boxing it would only move the allocation.
#![allow(clippy::result_large_err)]

use crate::source::{push_index, push_key, FieldLines, FileReport, Item, ObjectRef, Problem};
use crate::source::{Subject, Suppression};
use crate::yaml::{self, YNode, YValue};
use k8s_openapi::api::core::v1::{Namespace, PersistentVolume, PodTemplateSpec, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::Resource;
use policy::catalogue::Format;
use policy::cluster::ClusterObject;
use policy::model::{HostMount, PodWorkload, WorkloadView};
use serde::Deserialize;

/// The suppression annotation.
pub const IGNORE_ANNOTATION: &str = "stockade.io/ignore";

/// Deepest nesting of `List`s inside `List`s that is expanded.
const MAX_LIST_NESTING: usize = 8;

/// Read a Kubernetes manifest file (YAML or JSON, any number of documents).
pub fn read(path: &str, text: &str) -> FileReport {
    let mut all = FileReport::new(path, Some(Format::Kubernetes));
    all.skipped = read_each(path, text, |part| {
        all.items.extend(part.items);
        all.problems.extend(part.problems);
    });
    all
}

/// [`read`], handing `f` the items and problems of each document as soon as it is read, so that
/// only one document's tree is alive at a time (memory follows the largest document, not the
/// input). Returns why the whole input was refused, if it was.
pub fn read_each(path: &str, text: &str, f: impl FnMut(FileReport)) -> Option<String> {
    // The caller bounds the input's size (`--max-input-size`).
    let limits = yaml::Limits {
        max_bytes: usize::MAX,
        ..yaml::Limits::default()
    };
    read_each_at(
        path,
        text,
        1,
        &limits,
        &mut yaml::StreamState::new(&limits),
        f,
    )
}

/// [`read_each`] over one piece of a longer stream: `text` holds whole documents and starts at
/// line `first_line`; `state` carries the document index and alias budget between pieces.
pub fn read_each_at(
    path: &str,
    text: &str,
    first_line: u32,
    limits: &yaml::Limits,
    state: &mut yaml::StreamState,
    f: impl FnMut(FileReport),
) -> Option<String> {
    read_documents_at(path, text, first_line, limits, state, None, f)
}

/// The items of a `List` too large to hold whole (`kubectl get -A -o yaml` writes one document),
/// read a few at a time: `text` is a run of whole entries of the List's top-level `items:` block
/// sequence, starting at line `first_line`, which YAML reads as a document whose root is that
/// sequence (lines and columns are the stream's own). Each entry is read as an item of the List,
/// inheriting `inherited` (kind and apiVersion, for a typed list whose `kind` came before
/// `items`). Returns why the piece was refused, if it was.
pub fn read_list_items_at(
    path: &str,
    text: &str,
    first_line: u32,
    limits: &yaml::Limits,
    state: &mut yaml::StreamState,
    inherited: Option<(&str, &str)>,
    f: impl FnMut(FileReport),
) -> Option<String> {
    read_documents_at(
        path,
        text,
        first_line,
        limits,
        state,
        Some(ListPiece { inherited }),
        f,
    )
}

/// What a piece of a `List` read item by item knows of its List.
#[derive(Clone, Copy)]
struct ListPiece<'a> {
    inherited: Option<(&'a str, &'a str)>,
}

/// The top level of a `List` read item by item ([`read_list_items_at`]), without its items:
/// `header`, the text up to its first entry (with the `items:` line, or `"items": [` in JSON),
/// and `trailer`, the text after its last entry (none if the document ended there), each with
/// the line it starts on. The two are read as one document (the List with no entries; lines
/// after the header's are those of the trailer). Returns the problems a reader of the whole
/// document would have met there: text that does not parse or is not a mapping, no `kind` or
/// `apiVersion`, or a `kind` that is not a list (then the items were read as objects where
/// Kubernetes would not read them).
pub fn list_shell_problems(
    header: (&str, u32),
    trailer: Option<(&str, u32)>,
    limits: &yaml::Limits,
    state: &mut yaml::StreamState,
) -> Vec<Problem> {
    let (head, line) = header;
    let mut text = head.to_string();
    // Lines from `moved` on are the trailer's, which starts `shift` lines further on.
    let moved = line.saturating_add(u32::try_from(head.matches('\n').count()).unwrap_or(u32::MAX));
    let mut shift = 0;
    if let Some((t, at)) = trailer {
        text.push_str(t);
        shift = at.saturating_sub(moved);
    }
    let fix = |l: u32| {
        if l >= moved {
            l.saturating_add(shift)
        } else {
            l
        }
    };
    let mut problems = Vec::new();
    let mut kind: Option<YNode> = None;
    let mut api_version: Option<YNode> = None;
    let mut parsed = true;
    let read = yaml::for_each_document_in_stream(&text, line, limits, state, |doc| {
        problems.extend(doc.problems);
        match doc.root {
            Ok(root) => match root.value {
                YValue::Map(_) => {
                    kind = root.get("kind").cloned();
                    api_version = root.get("apiVersion").cloned();
                }
                ref other => problems.push(problem(
                    &root,
                    None,
                    "",
                    format!(
                        "the List's top level is {}, not a mapping",
                        type_name(other)
                    ),
                )),
            },
            Err(p) => {
                parsed = false;
                problems.push(p);
            }
        }
    });
    if let Err(p) = read {
        parsed = false;
        problems.push(p);
    }
    for p in &mut problems {
        p.line = p.line.map(fix);
    }
    if !parsed {
        // What did not parse is the problem; whether it held `kind` is not known.
        return problems;
    }
    let at = |node: Option<&YNode>, message: String| Problem {
        rule_id: yaml::UNDECODABLE,
        line: Some(node.map_or(line, |n| fix(n.line))),
        column: node.map(|n| n.column),
        object: None,
        field: String::new(),
        message,
    };
    for (key, node) in [("kind", &kind), ("apiVersion", &api_version)] {
        match node.as_ref().map(|n| &n.value) {
            Some(YValue::Str(s)) if !s.is_empty() => {}
            Some(_) => problems.push(at(
                node.as_ref(),
                format!("`{key}` must be a non-empty string"),
            )),
            None => problems.push(at(
                None,
                format!("object has no `{key}`; Kubernetes cannot decode it (kind List?)"),
            )),
        }
    }
    if let Some(YValue::Str(k)) = kind.as_ref().map(|n| &n.value) {
        if !k.ends_with("List") {
            problems.push(at(
                kind.as_ref(),
                format!(
                    "a document of kind {k} with a top-level `items` larger than a stream \
                     piece: its items were read as a List's (objects), which Kubernetes would \
                     not do"
                ),
            ));
        }
    }
    problems
}

fn read_documents_at(
    path: &str,
    text: &str,
    first_line: u32,
    limits: &yaml::Limits,
    state: &mut yaml::StreamState,
    list: Option<ListPiece<'_>>,
    mut f: impl FnMut(FileReport),
) -> Option<String> {
    let mut report = FileReport::new(path, Some(Format::Kubernetes));
    // Guessing scans the text from the start, so only the first few broken documents get it.
    let mut guesses = 32;
    let mut reading = |doc: yaml::Document| {
        let root = match doc.root {
            Ok(r) => r,
            Err(mut p) => {
                if guesses > 0 {
                    guesses -= 1;
                    p.object = guess_object(text, doc.line.saturating_sub(first_line - 1));
                }
                report.problems.push(p);
                return;
            }
        };
        let mut objects: Vec<(String, ObjectRef)> = Vec::new();
        let root = std::sync::Arc::new(root);
        let document = Doc {
            root: &root,
            index: doc.index,
        };
        match (list, &root.value) {
            (None, _) => read_object(&root, "", document, None, 0, &mut report, &mut objects),
            (Some(piece), YValue::Seq(entries)) => {
                for (i, item) in entries.iter().enumerate() {
                    read_object(
                        item,
                        &push_index("", i),
                        document,
                        piece.inherited,
                        1,
                        &mut report,
                        &mut objects,
                    );
                }
            }
            (Some(_), other) => report.problems.push(problem(
                &root,
                None,
                "items",
                format!(
                    "the List's `items` continue with {}, not sequence entries",
                    type_name(other)
                ),
            )),
        }
        // Attach the document's YAML problems to the object they are in, with item-relative
        // fields.
        for mut p in doc.problems {
            if let Some((prefix, obj)) = objects
                .iter()
                .filter(|(prefix, _)| is_under(&p.field, prefix))
                .max_by_key(|(prefix, _)| prefix.len())
            {
                p.object = Some(obj.clone());
                p.field = relative(&p.field, prefix).to_string();
            }
            report.problems.push(p);
        }
        f(std::mem::replace(
            &mut report,
            FileReport::new(path, Some(Format::Kubernetes)),
        ));
    };
    let refused = yaml::for_each_document_in_stream(text, first_line, limits, state, &mut reading)
        .err()
        .map(|p| p.message);
    // A document that did not parse left its problem behind.
    if !report.problems.is_empty() || !report.items.is_empty() {
        f(report);
    }
    refused
}

/// The kind and name of a document that does not parse, read from its text as well as can be
/// (top-level `kind:` and the `name:` under `metadata:`), so the problem names the object.
fn guess_object(text: &str, first_line: u32) -> Option<ObjectRef> {
    let mut kind = None;
    let mut name = None;
    let mut in_metadata = false;
    let unquote = |v: &str| {
        let v = v.split(" #").next().unwrap_or("").trim();
        v.trim_matches(|c| c == '"' || c == '\'').to_string()
    };
    let lines = text.lines().enumerate();
    for (i, line) in lines.skip(first_line.saturating_sub(1) as usize).take(400) {
        if i + 1 > first_line as usize && line.starts_with("---") {
            break;
        }
        if let Some(v) = line.strip_prefix("kind:") {
            kind = Some(unquote(v));
        } else if line.starts_with("metadata:") {
            in_metadata = true;
        } else if !line.starts_with([' ', '#']) && !line.trim().is_empty() {
            in_metadata = false;
        } else if in_metadata && name.is_none() {
            if let Some(v) = line.trim_start().strip_prefix("name:") {
                if line.len() - line.trim_start().len() <= 4 {
                    name = Some(unquote(v));
                }
            }
        }
    }
    kind.filter(|k| !k.is_empty()).map(|kind| ObjectRef {
        kind,
        name: name.unwrap_or_default(),
        namespace: None,
    })
}

fn is_under(field: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || field == prefix
        || (field.starts_with(prefix)
            && matches!(field.as_bytes().get(prefix.len()), Some(b'.') | Some(b'[')))
}

fn relative<'a>(field: &'a str, prefix: &str) -> &'a str {
    if prefix.is_empty() {
        return field;
    }
    let rest = &field[prefix.len()..];
    rest.strip_prefix('.').unwrap_or(rest)
}

fn problem(
    node: &YNode,
    object: Option<ObjectRef>,
    field: impl Into<String>,
    message: String,
) -> Problem {
    Problem {
        rule_id: yaml::UNDECODABLE,
        line: Some(node.line),
        column: Some(node.column),
        object,
        field: field.into(),
        message,
    }
}

fn type_name(v: &YValue) -> &'static str {
    match v {
        YValue::Null => "null",
        YValue::Bool(_) => "a boolean",
        YValue::Int(_) | YValue::Float(_) => "a number",
        YValue::Str(_) => "a string",
        YValue::Seq(_) => "a sequence",
        YValue::Map(_) => "a mapping",
    }
}

/// The document an object is read from.
#[derive(Clone, Copy)]
struct Doc<'a> {
    root: &'a std::sync::Arc<YNode>,
    index: usize,
}

/// Read one object (or a `List` of them). `doc_path` is the object's path in its document,
/// `inherited` the kind and apiVersion of a typed list's items.
fn read_object(
    node: &YNode,
    doc_path: &str,
    document: Doc<'_>,
    inherited: Option<(&str, &str)>,
    nesting: usize,
    report: &mut FileReport,
    objects: &mut Vec<(String, ObjectRef)>,
) {
    let YValue::Map(_) = &node.value else {
        if !node.is_null() {
            report.problems.push(problem(
                node,
                None,
                doc_path,
                format!(
                    "the document is {}, not a Kubernetes object",
                    type_name(&node.value)
                ),
            ));
        }
        return;
    };
    let string_field = |key: &str| -> Result<Option<String>, Problem> {
        match node.get(key) {
            None => Ok(None),
            Some(YNode {
                value: YValue::Str(s),
                ..
            }) if !s.is_empty() => Ok(Some(s.clone())),
            Some(v) => Err(problem(
                v,
                None,
                push_key(doc_path, key),
                format!("`{key}` must be a non-empty string"),
            )),
        }
    };
    let (kind, api_version) = match (string_field("kind"), string_field("apiVersion")) {
        (Ok(k), Ok(a)) => (k, a),
        (Err(p), _) | (_, Err(p)) => {
            report.problems.push(p);
            return;
        }
    };
    let (kind, api_version) = match (kind, api_version, inherited) {
        (Some(k), Some(a), _) => (k, a),
        (k, a, Some((ik, ia))) => (
            k.unwrap_or_else(|| ik.to_string()),
            a.unwrap_or_else(|| ia.to_string()),
        ),
        (k, a, None) => {
            let looks_like_object = [
                "apiVersion",
                "kind",
                "metadata",
                "spec",
                "template",
                "items",
            ]
            .iter()
            .any(|k| node.get(k).is_some());
            if looks_like_object {
                let missing = match (&k, &a) {
                    (None, None) => "`kind` and `apiVersion`",
                    (None, _) => "`kind`",
                    _ => "`apiVersion`",
                };
                report.problems.push(problem(
                    node,
                    None,
                    doc_path,
                    format!(
                        "object has no {missing}; Kubernetes cannot decode it{}",
                        k.map(|k| format!(" (kind {k})")).unwrap_or_default()
                    ),
                ));
            }
            return;
        }
    };

    // Lists: `List`, and typed lists (`PodList`, ...) that have `items`.
    let items = node.get("items");
    if kind == "List" || (kind.ends_with("List") && items.is_some()) {
        if nesting >= MAX_LIST_NESTING {
            report.problems.push(problem(
                node,
                None,
                doc_path,
                format!("lists nested more than {MAX_LIST_NESTING} deep"),
            ));
            return;
        }
        let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
        match items.map(|i| &i.value) {
            None | Some(YValue::Null) => {}
            Some(YValue::Seq(list)) => {
                let items_path = push_key(doc_path, "items");
                for (i, item) in list.iter().enumerate() {
                    read_object(
                        item,
                        &push_index(&items_path, i),
                        document,
                        item_kind.map(|k| (k, api_version.as_str())),
                        nesting + 1,
                        report,
                        objects,
                    );
                }
            }
            Some(_) => report.problems.push(problem(
                node,
                None,
                push_key(doc_path, "items"),
                format!("{kind} `items` must be a sequence"),
            )),
        }
        return;
    }

    let meta_node = node.get("metadata");
    let text_of = |key: &str| {
        meta_node
            .and_then(|m| m.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let object = ObjectRef {
        kind: kind.clone(),
        name: text_of("name")
            .or_else(|| text_of("generateName"))
            .unwrap_or_default(),
        namespace: text_of("namespace"),
    };
    objects.push((doc_path.to_string(), object.clone()));

    // Positions are looked up in the document's tree only for the fields that need one.
    let lines = FieldLines::tree(document.root.clone(), doc_path);

    let mut metadata: ObjectMeta = match decode_field(node, "metadata", &lines) {
        Ok(Some(m)) => m,
        Ok(None) => ObjectMeta::default(),
        Err(e) => {
            report_decode(report, &object, e);
            return;
        }
    };
    // Server-side-apply bookkeeping (`kubectl get -o yaml` output): large, never security
    // relevant.
    metadata.managed_fields = None;
    let mut suppressions = Vec::new();
    let mut subject = Subject::Other;
    // The object's own suppressions, once read (before its metadata moves into the subject).
    let mut own_suppressions = None;

    if let Some(spec_path) = policy::k8s::pod_kind(&kind).map(|k| k.spec_path) {
        let (pod_metadata, spec) = if kind == "Pod" {
            match decode_field(node, "spec", &lines) {
                Ok(spec) => (metadata.clone(), spec),
                Err(e) => {
                    report_decode(report, &object, e);
                    return;
                }
            }
        } else {
            let template_path = spec_path.strip_suffix(".spec").unwrap_or(spec_path);
            match decode_field::<PodTemplateSpec>(node, template_path, &lines) {
                Ok(Some(t)) => (t.metadata.unwrap_or_default(), t.spec),
                Ok(None) => (ObjectMeta::default(), None),
                Err(e) => {
                    report_decode(report, &object, e);
                    return;
                }
            }
        };
        let Some(spec) = spec else {
            let (line, column) = lines
                .position(spec_path)
                .unwrap_or((node.line, node.column));
            report.problems.push(Problem {
                rule_id: yaml::UNDECODABLE,
                line: Some(line),
                column: Some(column),
                object: Some(object.clone()),
                field: spec_path.to_string(),
                message: format!(
                    "{kind} has no pod spec at `{spec_path}`; the API server would reject it"
                ),
            });
            return;
        };
        if kind != "Pod" {
            let meta_path = format!(
                "{}.metadata",
                spec_path.strip_suffix(".spec").unwrap_or(spec_path)
            );
            suppressions.extend(annotation_suppressions(
                &pod_metadata,
                &meta_path,
                &lines,
                report,
                &object,
            ));
        }
        own_suppressions = Some(annotation_suppressions(
            &metadata, "metadata", &lines, report, &object,
        ));
        subject = Subject::Pod(Box::new(PodWorkload {
            kind: kind.clone(),
            api_version: api_version.clone(),
            metadata: std::mem::take(&mut metadata),
            pod_metadata,
            spec,
            spec_path: spec_path.to_string(),
        }));
    } else if ClusterObject::KINDS.contains(&kind.as_str()) {
        let decoded = match kind.as_str() {
            "Namespace" => decode_resource::<Namespace>(node, &lines).map(ClusterObject::Namespace),
            "NetworkPolicy" => {
                decode_resource::<NetworkPolicy>(node, &lines).map(ClusterObject::NetworkPolicy)
            }
            "ServiceAccount" => {
                decode_resource::<ServiceAccount>(node, &lines).map(ClusterObject::ServiceAccount)
            }
            "Role" => decode_resource::<Role>(node, &lines).map(ClusterObject::Role),
            "ClusterRole" => {
                decode_resource::<ClusterRole>(node, &lines).map(ClusterObject::ClusterRole)
            }
            "RoleBinding" => {
                decode_resource::<RoleBinding>(node, &lines).map(ClusterObject::RoleBinding)
            }
            _ => decode_resource::<ClusterRoleBinding>(node, &lines)
                .map(ClusterObject::ClusterRoleBinding),
        };
        match decoded {
            Ok(o) => subject = Subject::Cluster(Box::new(o)),
            Err(e) => {
                report_decode(report, &object, e);
                return;
            }
        }
    } else if kind == "PersistentVolume" {
        match decode_resource::<PersistentVolume>(node, &lines) {
            Ok(pv) => subject = Subject::Volume(Box::new(persistent_volume_view(&pv))),
            Err(e) => {
                report_decode(report, &object, e);
                return;
            }
        }
    }
    let mut own = match own_suppressions {
        Some(own) => own,
        None => annotation_suppressions(&metadata, "metadata", &lines, report, &object),
    };
    own.append(&mut suppressions);
    report.items.push(Item {
        object,
        document: document.index,
        line: node.line,
        lines,
        suppressions: own,
        subject,
    });
}

/// A PersistentVolume's host directory as a host mount: any pod that claims the volume mounts
/// it, whatever that pod's own spec says (a hostPath PV is hostPath without `hostPath` in the
/// pod). `local` volumes name a host path too. Writable, as a claim mounts it unless the pod
/// says otherwise.
fn persistent_volume_view(pv: &PersistentVolume) -> WorkloadView {
    let mut view = WorkloadView::new(Format::Kubernetes);
    let spec = pv.spec.as_ref();
    let paths = [
        (
            spec.and_then(|s| s.host_path.as_ref())
                .map(|h| h.path.clone()),
            "spec.hostPath",
        ),
        (
            spec.and_then(|s| s.local.as_ref()).map(|l| l.path.clone()),
            "spec.local",
        ),
    ];
    for (path, field) in paths {
        if let Some(host_path) = path {
            view.host_mounts.push(HostMount {
                host_path,
                target: String::new(),
                read_only: false,
                propagation: None,
                sub_path: false,
                field: format!("{field}.path"),
                mount_field: field.to_string(),
            });
        }
    }
    view
}

type DecodeError = (String, u32, u32, String);

fn report_decode(report: &mut FileReport, object: &ObjectRef, e: DecodeError) {
    let (field, line, column, message) = e;
    report.problems.push(Problem {
        rule_id: yaml::UNDECODABLE,
        line: Some(line),
        column: Some(column),
        object: Some(object.clone()),
        field,
        message,
    });
}

/// Decode the value at `path` (absent or null: `None`); on failure, the field and line of the
/// value that does not fit and the decoder's reason.
fn decode_field<'n, T: Deserialize<'n>>(
    root: &'n YNode,
    path: &str,
    lines: &FieldLines,
) -> Result<Option<T>, DecodeError> {
    let mut v = root;
    let mut walked = String::new();
    for key in path.split('.') {
        match &v.value {
            YValue::Map(_) => match v.get(key) {
                None => return Ok(None),
                Some(n) if n.is_null() => return Ok(None),
                Some(next) => v = next,
            },
            other => {
                let (line, column) = lines.position(&walked).unwrap_or((v.line, v.column));
                return Err((
                    walked.clone(),
                    line,
                    column,
                    format!("`{walked}` must be a mapping, not {}", type_name(other)),
                ));
            }
        }
        walked = push_key(&walked, key);
    }
    v.decode(path).map(Some).map_err(|e| located(e, lines))
}

fn located(e: yaml::DecodeError, lines: &FieldLines) -> DecodeError {
    let (line, column) = lines.position(&e.field).unwrap_or((e.line, e.column));
    let message = if e.field.is_empty() {
        e.message
    } else {
        format!("`{}`: {}", e.field, e.message)
    };
    (e.field, line, column, message)
}

/// Decode a whole cluster object, whatever its `apiVersion` (RBAC `v1beta1` has the v1 shape).
fn decode_resource<'n, T: Deserialize<'n> + Resource>(
    node: &'n YNode,
    lines: &FieldLines,
) -> Result<T, DecodeError> {
    node.decode_as(T::API_VERSION, T::KIND)
        .map_err(|e| located(e, lines))
}

/// Suppressions written in `stockade.io/ignore` on `meta` (found at `meta_path`).
fn annotation_suppressions(
    meta: &ObjectMeta,
    meta_path: &str,
    lines: &FieldLines,
    report: &mut FileReport,
    object: &ObjectRef,
) -> Vec<Suppression> {
    let Some(value) = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(IGNORE_ANNOTATION))
    else {
        return Vec::new();
    };
    match parse_suppressions(value) {
        Ok(s) => s,
        Err(message) => {
            let field = push_key(&push_key(meta_path, "annotations"), IGNORE_ANNOTATION);
            let (line, column) = lines.position(&field).unwrap_or((1, 1));
            report.problems.push(Problem {
                rule_id: yaml::UNDECODABLE,
                line: Some(line),
                column: Some(column),
                object: Some(object.clone()),
                field,
                message,
            });
            Vec::new()
        }
    }
}

/// Parse a suppression: `ID[,ID]: reason`, several separated by `;`. Ids are upper-cased. A
/// suppression without a reason or without ids is refused (so it cannot silently hide a
/// finding).
pub fn parse_suppressions(value: &str) -> Result<Vec<Suppression>, String> {
    let mut out = Vec::new();
    for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((ids, reason)) = part.split_once(':') else {
            return Err(format!(
                "suppression `{part}` has no reason; write `ID[,ID]: reason`"
            ));
        };
        let rule_ids: Vec<String> = ids
            .split(',')
            .map(|s| s.trim().to_ascii_uppercase())
            .filter(|s| !s.is_empty())
            .collect();
        let reason = reason.trim();
        if rule_ids.is_empty() || reason.is_empty() {
            return Err(format!(
                "suppression `{part}` needs rule ids and a reason: `ID[,ID]: reason`"
            ));
        }
        out.push(Suppression {
            rule_ids,
            reason: reason.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppressions_parse() {
        let s =
            parse_suppressions("skd-esc-001, SKD-PSS-002: needed for the CNI; SKD-X: y").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].rule_ids, ["SKD-ESC-001", "SKD-PSS-002"]);
        assert_eq!(s[0].reason, "needed for the CNI");
        assert!(parse_suppressions("SKD-ESC-001").is_err());
        assert!(parse_suppressions("SKD-ESC-001:  ").is_err());
    }
}
