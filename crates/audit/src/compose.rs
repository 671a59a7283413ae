//! The compose reader: compose v2, v3 and the Compose Specification (and v1 files, whose services
//! sit at the top level) into one normalized [`WorkloadView`] per service.
//!
//! Read through the Kubernetes-flavoured YAML loader, so anchors, merge keys and extension fields
//! (`x-*`) work, and YAML 1.1 booleans count (compose-go also casts `yes`/`on` to true).
//!
//! What maps where (field paths like `services.web.cap_add[0]`):
//! - `privileged`, `cap_add`, `user`, `read_only`, `working_dir`;
//! - `security_opt`: `seccomp:unconfined` / `seccomp=unconfined` (seccomp), a seccomp profile path
//!   (a custom profile), `apparmor:unconfined`, `label:disable`, `label:type:spc_t`,
//!   `systempaths=unconfined` (LSM / masking disabled), `no-new-privileges[:true|false]`;
//! - `pid`, `ipc`, `network_mode` (and v1 `net`), `uts`, `userns_mode`, `cgroup` set to `host`:
//!   host namespaces; `pid: service:x` / `container:x`: a shared PID namespace;
//! - `volumes` (short `src:dst[:opts]` and long syntax) whose source is a host path (starts with
//!   `/`, `.` or `~`; relative paths are resolved against the compose file's directory), and named
//!   volumes whose top-level definition binds a host path (`driver_opts` with `o: bind` or
//!   `type: none` and a `device`);
//! - `devices` (short and long), `device_cgroup_rules` allowing every device (`a`, `*:*`);
//! - `sysctls` (list or map; the sysctl names);
//! - `mem_limit` / `deploy.resources.limits.memory` (`512m`, `1g`, bytes), `pids_limit` /
//!   `deploy.resources.limits.pids`;
//! - `extends` within the same file (the base service's settings first, then the service's own);
//! - `volumes_from: [service[:ro]]`: the other service's host mounts (one hop).
//!
//! Values are interpolated as docker compose does it ([`crate::compose_env`]; an unset variable
//! where it decides a security setting is an error), and `include:` is followed
//! ([`read_project`]). `x-stockade-ignore` on a service (a string or a list of `ID[,ID]: reason`) gives
//! suppressions. `cap_drop` and `cgroup_parent` have no place in the model and are read only for
//! their types. A value of the wrong type is an `SKD-INPUT-001` problem, never a pass.

// A `Problem` is what this module reports; boxing it would only move the allocation.
#![allow(clippy::result_large_err)]

use crate::compose_env::Env;
use crate::k8s::parse_suppressions;
use crate::source::{push_index, push_key, FileReport, Item, ObjectRef, Problem};
use crate::source::{Subject, Suppression};
use crate::yaml::{self, YNode, YValue};
use policy::catalogue::Format;
use policy::model::{ContainerView, Field, HostMount, Namespace, Seccomp, UserView, WorkloadView};

/// Most `extends` hops followed.
const MAX_EXTENDS: usize = 8;

/// Read a compose file, interpolated with the environment and the `.env` beside it.
pub fn read(path: &str, text: &str) -> FileReport {
    let base_dir = project_dir(path);
    match Env::load(std::path::Path::new(&base_dir), &[]) {
        Ok(env) => read_with_env(path, text, &env, &base_dir).0,
        Err(e) => {
            let mut report = FileReport::new(path, Some(Format::Compose));
            report.problems.push(file_problem(format!(
                "the .env file cannot be read ({e}), so the file cannot be interpolated as \
                 docker compose would"
            )));
            report
        }
    }
}

/// A compose file and the files it includes (`include:`, followed recursively, each
/// interpolated with its own project's `.env` or `env_file`), one report per file. An included
/// file that is missing or cannot be read, or an include loop, is an `SKD-INPUT-001` problem
/// of the file that includes it, naming the file.
pub fn read_project(path: &str, text: &str, max_size: u64) -> Vec<FileReport> {
    let mut out = Vec::new();
    let base_dir = project_dir(path);
    let chain = vec![canonical(path)];
    match Env::load(std::path::Path::new(&base_dir), &[]) {
        Ok(env) => read_included(path, text, &env, &base_dir, &chain, max_size, &mut out),
        // `read` reports the .env file that cannot be read.
        Err(_) => out.push(read(path, text)),
    }
    out
}

/// Most nested `include`s followed.
const MAX_INCLUDE_DEPTH: usize = 16;

fn canonical(path: &str) -> String {
    if path == "-" {
        return path.to_string();
    }
    std::fs::canonicalize(path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.to_string())
}

fn file_problem(message: String) -> Problem {
    Problem {
        rule_id: yaml::UNDECODABLE,
        line: None,
        column: None,
        object: None,
        field: String::new(),
        message,
    }
}

/// One `include` entry: the files, their project directory and env files, where it is written.
struct Include {
    paths: Vec<String>,
    project_directory: Option<String>,
    env_files: Vec<String>,
    field: String,
    line: u32,
    column: u32,
}

#[allow(clippy::too_many_arguments)]
fn read_included(
    path: &str,
    text: &str,
    env: &Env,
    base_dir: &str,
    chain: &[String],
    max_size: u64,
    out: &mut Vec<FileReport>,
) {
    let (mut report, includes) = read_with_env(path, text, env, base_dir);
    let mut nested = Vec::new();
    for inc in includes {
        let at = |message: String| Problem {
            rule_id: yaml::UNDECODABLE,
            line: Some(inc.line),
            column: Some(inc.column),
            object: None,
            field: inc.field.clone(),
            message,
        };
        for (n, p) in inc.paths.iter().enumerate() {
            let full = if p.starts_with('/') {
                p.clone()
            } else {
                format!("{}/{}", base_dir.trim_end_matches('/'), p)
            };
            let key = canonical(&full);
            if let Some(start) = chain.iter().position(|c| *c == key) {
                let mut cycle: Vec<&str> = chain[start..].iter().map(String::as_str).collect();
                cycle.push(&key);
                report.problems.push(at(format!(
                    "include loop: {} (docker compose refuses it)",
                    cycle.join(" -> ")
                )));
                continue;
            }
            if chain.len() >= MAX_INCLUDE_DEPTH {
                report.problems.push(at(format!(
                    "{full}: includes nested deeper than {MAX_INCLUDE_DEPTH}; not read"
                )));
                continue;
            }
            let text = match read_small(&full, max_size) {
                Ok(t) => t,
                Err(e) => {
                    report.problems.push(at(format!(
                        "included file {full} cannot be read: {e}; its services are not audited \
                         (fix the path, or remove the entry)"
                    )));
                    continue;
                }
            };
            // Paths in an included file are relative to its own directory (or the entry's
            // project_directory, for the first file of the entry).
            let dir = match (&inc.project_directory, n) {
                (Some(d), 0) if d.starts_with('/') => d.clone(),
                (Some(d), 0) => format!("{}/{}", base_dir.trim_end_matches('/'), d),
                _ => project_dir(&full),
            };
            let env_files: Vec<std::path::PathBuf> = inc
                .env_files
                .iter()
                .map(|f| std::path::Path::new(base_dir).join(f))
                .collect();
            let env = match Env::load(std::path::Path::new(&dir), &env_files) {
                Ok(e) => e,
                Err(e) => {
                    report.problems.push(at(format!(
                        "the env file of {full} cannot be read: {e}; its services are not audited"
                    )));
                    continue;
                }
            };
            let mut chain = chain.to_vec();
            chain.push(key);
            read_included(&full, &text, &env, &dir, &chain, max_size, &mut nested);
        }
    }
    out.push(report);
    out.append(&mut nested);
}

/// An included file, read whole: no NUL byte, UTF-8, within `max_size`.
fn read_small(path: &str, max_size: u64) -> Result<String, String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    f.take(max_size + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > max_size {
        return Err(format!("larger than {max_size} bytes"));
    }
    if bytes.contains(&0) {
        return Err("binary input (a NUL byte)".into());
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".into())
}

/// Read one compose file with these variables; also give back its `include` entries.
fn read_with_env(path: &str, text: &str, env: &Env, base_dir: &str) -> (FileReport, Vec<Include>) {
    let mut report = FileReport::new(path, Some(Format::Compose));
    let mut includes = Vec::new();
    let docs = match yaml::load(text) {
        Ok(d) => d,
        Err(p) => {
            report.skipped = Some(p.message);
            return (report, includes);
        }
    };
    for doc in docs {
        match doc.root {
            Err(p) => report.problems.push(p),
            Ok(mut root) => {
                let first = report.items.len();
                let mut unresolved = Vec::new();
                let mut problems = Vec::new();
                let mut segs = Vec::new();
                interpolate_tree(&mut root, &mut segs, env, &mut unresolved, &mut problems);
                report.problems.append(&mut problems);
                read_includes(&root, &mut includes, &mut report.problems);
                read_document(&root, doc.index, base_dir, &mut report);
                report.problems.extend(unresolved);
                for mut p in doc
                    .problems
                    .into_iter()
                    .chain(std::mem::take(&mut report.problems))
                {
                    if p.object.is_none() {
                        if let Some(item) = report.items[first..].iter().find(|i| {
                            let prefix = push_key("services", &i.object.name);
                            p.field == prefix
                                || p.field.starts_with(&format!("{prefix}."))
                                || p.field.starts_with(&format!("{prefix}["))
                        }) {
                            p.object = Some(item.object.clone());
                        }
                    }
                    report.problems.push(p);
                }
            }
        }
    }
    (report, includes)
}

/// Service fields whose value decides nothing the rules look at: an unset variable there is
/// left empty, as docker compose leaves it. Anywhere else (privileged, volumes, user, cap_add,
/// security_opt, devices, ...) it is an error: an empty value there is a guess.
const INERT_FIELDS: &[&str] = &[
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "labels",
    "annotations",
    "ports",
    "expose",
    "healthcheck",
    "depends_on",
    "container_name",
    "hostname",
    "domainname",
    "restart",
    "logging",
    "networks",
    "secrets",
    "configs",
    "profiles",
    "stop_signal",
    "stop_grace_period",
    "working_dir",
    "dns",
    "dns_search",
    "dns_opt",
    "extra_hosts",
    "platform",
    "pull_policy",
    "scale",
    "tty",
    "stdin_open",
    "init",
    "mac_address",
    "develop",
    "attach",
    "links",
    "external_links",
    "x-stockade-ignore",
];

/// Top-level keys that are not services in a v1 file.
const TOP_LEVEL: &[&str] = &[
    "version", "name", "include", "services", "networks", "volumes", "secrets", "configs",
];

/// Interpolate every string value (not keys) of the tree in place. Unset variables in fields
/// that decide a security setting become problems; `${VAR:?err}` and malformed expressions
/// anywhere are problems (docker compose refuses the file).
fn interpolate_tree(
    node: &mut YNode,
    segs: &mut Vec<String>,
    env: &Env,
    unresolved: &mut Vec<Problem>,
    problems: &mut Vec<Problem>,
) {
    let field = |segs: &[String]| {
        segs.iter()
            .fold(String::new(), |acc, k| match k.strip_prefix('[') {
                Some(_) => format!("{acc}{k}"),
                None => push_key(&acc, k),
            })
    };
    let at = node_pos(node.line, node.column);
    // The service the value is in, if any.
    let object = match segs.first().map(String::as_str) {
        Some("services") => segs.get(1),
        Some(k) if k.starts_with("x-") || TOP_LEVEL.contains(&k) => None,
        Some(_) => segs.first(),
        None => None,
    }
    .map(|name| ObjectRef {
        kind: "service".into(),
        name: name.clone(),
        namespace: None,
    });
    match &mut node.value {
        YValue::Str(s) => {
            let mut unset = Vec::new();
            match crate::compose_env::interpolate(s, env, &mut unset) {
                Ok(v) => *s = v,
                Err(e) => problems.push(problem(&at, &field(segs), None, e.to_string())),
            }
            let decides = match segs.first().map(String::as_str) {
                Some("services") => segs
                    .get(2)
                    .is_some_and(|k| !INERT_FIELDS.contains(&k.as_str())),
                Some("volumes") => true,
                Some(k) if k.starts_with("x-") || TOP_LEVEL.contains(&k) => false,
                // A v1 file: services at the top level.
                Some(_) => segs
                    .get(1)
                    .is_some_and(|k| !INERT_FIELDS.contains(&k.as_str())),
                None => false,
            };
            if decides && !unset.is_empty() {
                unset.dedup();
                let f = field(segs);
                unresolved.push(problem(
                    &at,
                    &f,
                    object.as_ref(),
                    format!(
                        "`{f}` uses {} not set in the environment or .env and without a default: \
                         docker compose would read it as empty, which decides a security setting \
                         here; set it, or give a default (${{{}:-value}})",
                        unset
                            .iter()
                            .map(|n| format!("${{{n}}}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        unset[0]
                    ),
                ));
            }
        }
        YValue::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                segs.push(format!("[{i}]"));
                interpolate_tree(item, segs, env, unresolved, problems);
                segs.pop();
            }
        }
        YValue::Map(entries) => {
            for e in entries.iter_mut() {
                segs.push(e.key.to_string());
                interpolate_tree(&mut e.value, segs, env, unresolved, problems);
                segs.pop();
            }
        }
        _ => {}
    }
}

fn node_pos(line: u32, column: u32) -> YNode {
    YNode {
        line,
        column,
        value: YValue::Null,
    }
}

/// The top-level `include` entries: a path, or `{path, project_directory, env_file}` (`path`
/// and `env_file` a string or a list).
fn read_includes(root: &YNode, out: &mut Vec<Include>, problems: &mut Vec<Problem>) {
    let Some(node) = root.get("include") else {
        return;
    };
    let YValue::Seq(items) = &node.value else {
        problems.push(problem(
            node,
            "include",
            None,
            "`include` must be a list".into(),
        ));
        return;
    };
    let strings = |n: &YNode| -> Option<Vec<String>> {
        match &n.value {
            YValue::Str(s) => Some(vec![s.clone()]),
            YValue::Seq(v) => v.iter().map(|x| x.as_str().map(str::to_string)).collect(),
            _ => None,
        }
    };
    for (i, item) in items.iter().enumerate() {
        let field = push_index("include", i);
        let entry = match &item.value {
            YValue::Str(s) => Some(Include {
                paths: vec![s.clone()],
                project_directory: None,
                env_files: Vec::new(),
                field: field.clone(),
                line: item.line,
                column: item.column,
            }),
            YValue::Map(_) => item.get("path").and_then(strings).map(|paths| Include {
                paths,
                project_directory: item
                    .get("project_directory")
                    .and_then(|d| d.as_str())
                    .map(str::to_string),
                env_files: item.get("env_file").and_then(strings).unwrap_or_default(),
                field: field.clone(),
                line: item.line,
                column: item.column,
            }),
            _ => None,
        };
        match entry {
            Some(e) => out.push(e),
            None => problems.push(problem(
                item,
                &field,
                None,
                "an `include` entry must be a path or a mapping with `path`".into(),
            )),
        }
    }
}

/// The absolute directory relative host paths are taken from.
fn project_dir(path: &str) -> String {
    let p = std::path::Path::new(if path == "-" { "." } else { path });
    let dir = if path == "-" {
        p.to_path_buf()
    } else {
        p.parent().map(|d| d.to_path_buf()).unwrap_or_default()
    };
    let dir = if dir.as_os_str().is_empty() {
        std::path::PathBuf::from(".")
    } else {
        dir
    };
    std::path::absolute(&dir)
        .unwrap_or(dir)
        .to_string_lossy()
        .into_owned()
}

fn problem(node: &YNode, field: &str, object: Option<&ObjectRef>, message: String) -> Problem {
    Problem {
        rule_id: yaml::UNDECODABLE,
        line: Some(node.line),
        column: Some(node.column),
        object: object.cloned(),
        field: field.to_string(),
        message,
    }
}

fn read_document(root: &YNode, document: usize, base_dir: &str, report: &mut FileReport) {
    let YValue::Map(top) = &root.value else {
        if !root.is_null() {
            report.problems.push(problem(
                root,
                "",
                None,
                "a compose file must be a mapping with `services`".into(),
            ));
        }
        return;
    };
    let (services, prefix): (Vec<(&str, &YNode, u32, u32)>, &str) = match root.get("services") {
        Some(s) => match &s.value {
            YValue::Map(entries) => (
                entries
                    .iter()
                    .map(|e| (e.key.as_str(), &e.value, e.line, e.column))
                    .collect(),
                "services",
            ),
            YValue::Null => (Vec::new(), "services"),
            _ => {
                report.problems.push(problem(
                    s,
                    "services",
                    None,
                    "`services` must be a mapping".into(),
                ));
                return;
            }
        },
        // A file of `include`s only: its services are in the files it includes.
        None if root.get("include").is_some() => (Vec::new(), "services"),
        None => {
            // Compose v1: services at the top level.
            let v1: Vec<_> = top
                .iter()
                .filter(|e| !e.key.starts_with("x-") && e.key != "version")
                .collect();
            let looks_v1 = !v1.is_empty()
                && v1
                    .iter()
                    .all(|e| e.value.get("image").is_some() || e.value.get("build").is_some());
            if !looks_v1 {
                report.problems.push(problem(
                    root,
                    "",
                    None,
                    "no `services` in this compose file".into(),
                ));
                return;
            }
            (
                v1.iter()
                    .map(|e| (e.key.as_str(), &e.value, e.line, e.column))
                    .collect(),
                "",
            )
        }
    };
    let lines = root.field_lines();
    let volumes = root.get("volumes");
    let first_item = report.items.len();
    for &(name, node, line, _column) in &services {
        let object = ObjectRef {
            kind: "service".into(),
            name: name.to_string(),
            namespace: None,
        };
        let service_path = push_key(prefix, name);
        let mut reader = ServiceReader {
            object: &object,
            problems: Vec::new(),
            base_dir,
            volumes,
        };
        // The chain of `extends` within this file, base first.
        let mut chain = vec![(service_path.clone(), node)];
        let mut current = node;
        for _ in 0..MAX_EXTENDS {
            let base = match current.get("extends").map(|e| &e.value) {
                Some(YValue::Str(s)) => Some(s.as_str()),
                Some(YValue::Map(_)) => {
                    let ext = current.get("extends").expect("present");
                    if ext.get("file").is_some() {
                        None
                    } else {
                        ext.get("service").and_then(|s| s.as_str())
                    }
                }
                _ => None,
            };
            let Some(base) = base else { break };
            let Some(&(_, base_node, _, _)) = services.iter().find(|(n, ..)| *n == base) else {
                break;
            };
            if chain.iter().any(|(_, n)| std::ptr::eq(*n, base_node)) {
                break;
            }
            chain.push((push_key(prefix, base), base_node));
            current = base_node;
        }
        let mut view = WorkloadView::new(Format::Compose);
        let mut container = empty_container(name, &service_path);
        let mut suppressions = Vec::new();
        if !matches!(node.value, YValue::Map(_) | YValue::Null) {
            report.problems.push(problem(
                node,
                &service_path,
                Some(&object),
                format!("service `{name}` must be a mapping"),
            ));
            continue;
        }
        for (path, n) in chain.iter().rev() {
            reader.apply(n, path, &mut view, &mut container);
        }
        let failed = !reader.problems.is_empty();
        if let Some(ignore) = node.get("x-stockade-ignore") {
            suppressions =
                reader.suppressions(ignore, &push_key(&service_path, "x-stockade-ignore"));
        }
        view.containers.push(container);
        report.problems.append(&mut reader.problems);
        if failed {
            continue;
        }
        report.items.push(Item {
            object,
            document,
            line,
            lines: lines.clone(),
            suppressions,
            subject: Subject::View(Box::new(view)),
        });
    }
    volumes_from(&services, prefix, &mut report.items[first_item..]);
}

/// `volumes_from: [service[:ro|rw]]` gives a service the host mounts of another service of this
/// file (followed one hop; `container:` references name containers outside the file).
fn volumes_from(services: &[(&str, &YNode, u32, u32)], prefix: &str, items: &mut [Item]) {
    let mut added: Vec<(usize, Vec<HostMount>)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(&(_, node, _, _)) = services.iter().find(|(n, ..)| *n == item.object.name) else {
            continue;
        };
        let Some(YValue::Seq(refs)) = node.get("volumes_from").map(|v| &v.value) else {
            continue;
        };
        let field = push_key(&push_key(prefix, &item.object.name), "volumes_from");
        let mut mounts = Vec::new();
        for (n, r) in refs.iter().enumerate() {
            let Some(text) = r.as_str() else { continue };
            let mut parts = text.split(':');
            let source = parts.next().unwrap_or("");
            let read_only = parts.next() == Some("ro");
            let Some(src) = items.iter().find(|it| it.object.name == source) else {
                continue;
            };
            let Subject::View(v) = &src.subject else {
                continue;
            };
            for m in &v.host_mounts {
                let mut m = m.clone();
                m.read_only |= read_only;
                m.mount_field = push_index(&field, n);
                mounts.push(m);
            }
        }
        if !mounts.is_empty() {
            added.push((i, mounts));
        }
    }
    for (i, mounts) in added {
        if let Subject::View(v) = &mut items[i].subject {
            v.host_mounts.extend(mounts);
        }
    }
}

fn empty_container(name: &str, path: &str) -> ContainerView {
    ContainerView {
        name: name.to_string(),
        field: path.to_string(),
        privileged: None,
        cap_add: Vec::new(),
        cap_bounding: None,
        user: UserView::default(),
        seccomp: Field::new(Seccomp::Unset, push_key(path, "security_opt")),
        lsm_unconfined: Vec::new(),
        no_new_privs: Field::new(None, push_key(path, "security_opt")),
        read_only_root: Field::new(None, push_key(path, "read_only")),
        memory_limit: Field::new(None, push_key(path, "mem_limit")),
        pids_limit: Some(Field::new(None, push_key(path, "pids_limit"))),
        cwd: None,
    }
}

struct ServiceReader<'a> {
    object: &'a ObjectRef,
    problems: Vec<Problem>,
    base_dir: &'a str,
    volumes: Option<&'a YNode>,
}

/// Docker's `RAMInBytes`: a number with an optional binary unit (b, k, m, g, t, p; `kb`, `kib`).
pub fn parse_bytes(s: &str) -> Option<i64> {
    let s = s.trim().to_ascii_lowercase();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let unit = unit.trim();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b').filter(|u| !u.is_empty()))
        .unwrap_or(unit);
    let mult: f64 = match unit {
        "" | "b" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return None,
    };
    let v = num * mult;
    (v.is_finite() && v < 9.0e18).then_some(v as i64)
}

fn is_host_path(src: &str) -> bool {
    src.starts_with('/') || src.starts_with('.') || src.starts_with('~')
}

impl ServiceReader<'_> {
    fn bad(&mut self, node: &YNode, field: &str, what: &str) {
        self.problems.push(problem(
            node,
            field,
            Some(self.object),
            format!("`{field}` must be {what}, not {}", type_name(&node.value)),
        ));
    }

    /// A boolean as compose-go reads it (YAML booleans, and strings it casts).
    fn boolean(&mut self, node: &YNode, field: &str) -> Option<bool> {
        match &node.value {
            YValue::Bool(b) => Some(*b),
            YValue::Null => None,
            YValue::Str(s) => match s.to_ascii_lowercase().as_str() {
                "y" | "yes" | "true" | "on" => Some(true),
                "n" | "no" | "false" | "off" => Some(false),
                _ => {
                    self.bad(node, field, "a boolean");
                    None
                }
            },
            _ => {
                self.bad(node, field, "a boolean");
                None
            }
        }
    }

    fn string(&mut self, node: &YNode, field: &str) -> Option<String> {
        match &node.value {
            YValue::Str(s) => Some(s.clone()),
            YValue::Int(n) => Some(n.to_string()),
            YValue::Float(f) => Some(f.to_string()),
            YValue::Bool(b) => Some(b.to_string()),
            YValue::Null => None,
            _ => {
                self.bad(node, field, "a string");
                None
            }
        }
    }

    fn integer(&mut self, node: &YNode, field: &str) -> Option<i64> {
        match &node.value {
            YValue::Int(n) => n.as_i64(),
            YValue::Str(s) => match s.trim().parse() {
                Ok(v) => Some(v),
                Err(_) => {
                    self.bad(node, field, "an integer");
                    None
                }
            },
            YValue::Null => None,
            _ => {
                self.bad(node, field, "an integer");
                None
            }
        }
    }

    fn bytes(&mut self, node: &YNode, field: &str) -> Option<i64> {
        match &node.value {
            YValue::Int(n) => n.as_i64(),
            YValue::Float(f) => Some(*f as i64),
            YValue::Str(s) => match parse_bytes(s) {
                Some(v) => Some(v),
                None => {
                    self.bad(node, field, "a byte size such as 512m or 1g");
                    None
                }
            },
            YValue::Null => None,
            _ => {
                self.bad(node, field, "a byte size");
                None
            }
        }
    }

    fn list<'n>(&mut self, node: &'n YNode, field: &str) -> Vec<(String, &'n YNode)> {
        match &node.value {
            YValue::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, n)| (push_index(field, i), n))
                .collect(),
            YValue::Null => Vec::new(),
            _ => {
                self.bad(node, field, "a list");
                Vec::new()
            }
        }
    }

    fn suppressions(&mut self, node: &YNode, field: &str) -> Vec<Suppression> {
        let texts: Vec<(String, String)> = match &node.value {
            YValue::Str(s) => vec![(field.to_string(), s.clone())],
            YValue::Seq(_) => {
                let items = self.list(node, field);
                let mut out = Vec::new();
                for (f, n) in items {
                    if let Some(s) = self.string(n, &f) {
                        out.push((f, s));
                    }
                }
                out
            }
            _ => {
                self.bad(node, field, "a string or a list of strings");
                Vec::new()
            }
        };
        let mut out = Vec::new();
        for (f, text) in texts {
            match parse_suppressions(&text) {
                Ok(mut s) => out.append(&mut s),
                Err(message) => self.problems.push(Problem {
                    rule_id: yaml::UNDECODABLE,
                    line: Some(node.line),
                    column: Some(node.column),
                    object: Some(self.object.clone()),
                    field: f,
                    message,
                }),
            }
        }
        out
    }

    /// Apply one service definition (a base of `extends`, then the service itself).
    fn apply(&mut self, svc: &YNode, path: &str, view: &mut WorkloadView, c: &mut ContainerView) {
        let YValue::Map(entries) = &svc.value else {
            return;
        };
        for e in entries {
            let field = push_key(path, &e.key);
            let v = &e.value;
            match e.key.as_str() {
                "privileged" => {
                    if let Some(b) = self.boolean(v, &field) {
                        c.privileged = b.then(|| field.clone());
                    }
                }
                "cap_add" => {
                    for (f, n) in self.list(v, &field) {
                        if let Some(s) = self.string(n, &f) {
                            c.cap_add.push(Field::new(s, f));
                        }
                    }
                }
                "cap_drop" | "group_add" | "dns" | "ports" | "expose" => {
                    for (f, n) in self.list(v, &field) {
                        self.string(n, &f);
                    }
                }
                "user" => {
                    if let Some(s) = self.string(v, &field) {
                        let user = s.split(':').next().unwrap_or("").trim().to_string();
                        if let Ok(uid) = user.parse::<i64>() {
                            c.user.uid = Some(Field::new(uid, field));
                            c.user.name = None;
                        } else if user == "root" {
                            c.user.uid = Some(Field::new(0, field.clone()));
                            c.user.name = Some(Field::new(user, field));
                        } else {
                            c.user.uid = None;
                            c.user.name = Some(Field::new(user, field));
                        }
                    }
                }
                "read_only" => {
                    if let Some(b) = self.boolean(v, &field) {
                        c.read_only_root = Field::new(Some(b), field);
                    }
                }
                "working_dir" => {
                    if let Some(s) = self.string(v, &field) {
                        c.cwd = Some(Field::new(s, field));
                    }
                }
                "mem_limit" => {
                    if let Some(b) = self.bytes(v, &field) {
                        c.memory_limit = Field::new((b > 0).then_some(b), field);
                    }
                }
                "pids_limit" => {
                    if let Some(n) = self.integer(v, &field) {
                        c.pids_limit = Some(Field::new(Some(n), field));
                    }
                }
                "deploy" => self.deploy(v, &field, c),
                "security_opt" => {
                    for (f, n) in self.list(v, &field) {
                        if let Some(s) = self.string(n, &f) {
                            security_opt(&s, f, c);
                        }
                    }
                }
                "pid" => {
                    if let Some(s) = self.string(v, &field) {
                        if s == "host" {
                            view.host_namespaces.push(Field::new(Namespace::Pid, field));
                        } else if s.starts_with("service:") || s.starts_with("container:") {
                            view.shared_pid_namespace = Some(field);
                        }
                    }
                }
                "ipc" | "network_mode" | "net" | "uts" | "userns_mode" | "cgroup" => {
                    if let Some(s) = self.string(v, &field) {
                        if s == "host" {
                            let ns = match e.key.as_str() {
                                "ipc" => Namespace::Ipc,
                                "network_mode" | "net" => Namespace::Network,
                                "uts" => Namespace::Uts,
                                "userns_mode" => Namespace::User,
                                _ => Namespace::Cgroup,
                            };
                            view.host_namespaces.push(Field::new(ns, field));
                        }
                    }
                }
                "cgroup_parent" => {
                    self.string(v, &field);
                }
                "volumes" => {
                    for (f, n) in self.list(v, &field) {
                        self.volume(n, &f, view);
                    }
                }
                "devices" => {
                    for (f, n) in self.list(v, &field) {
                        let host = match &n.value {
                            YValue::Map(_) => n
                                .get("source")
                                .and_then(|s| self.string(s, &push_key(&f, "source"))),
                            _ => self
                                .string(n, &f)
                                .map(|s| s.split(':').next().unwrap_or("").to_string()),
                        };
                        if let Some(h) = host {
                            view.devices.push(Field::new(h, f));
                        }
                    }
                }
                "device_cgroup_rules" => {
                    for (f, n) in self.list(v, &field) {
                        if let Some(s) = self.string(n, &f) {
                            let mut parts = s.split_whitespace();
                            let kind = parts.next().unwrap_or("");
                            let numbers = parts.next().unwrap_or("*:*");
                            if (kind == "a" || numbers == "*:*") && view.device_allow_all.is_none()
                            {
                                view.device_allow_all = Some(f);
                            }
                        }
                    }
                }
                "sysctls" => match &v.value {
                    YValue::Map(entries) => {
                        for s in entries {
                            let f = push_key(&field, &s.key);
                            view.sysctls.push(Field::new(s.key.to_string(), f.clone()));
                            let value = match &s.value.value {
                                YValue::Str(v) => Some(v.clone()),
                                YValue::Int(n) => Some(n.to_string()),
                                _ => None,
                            };
                            if let Some(value) = value {
                                view.sysctl_values.push(Field::new(value, f));
                            }
                        }
                    }
                    _ => {
                        for (f, n) in self.list(v, &field) {
                            if let Some(s) = self.string(n, &f) {
                                let (name, value) = s.split_once('=').unwrap_or((s.as_str(), ""));
                                view.sysctls
                                    .push(Field::new(name.trim().to_string(), f.clone()));
                                view.sysctl_values.push(Field::new(value.to_string(), f));
                            }
                        }
                    }
                },
                _ => {}
            }
        }
    }

    fn deploy(&mut self, deploy: &YNode, field: &str, c: &mut ContainerView) {
        let limits_path = push_key(&push_key(field, "resources"), "limits");
        let Some(limits) = deploy.get("resources").and_then(|r| r.get("limits")) else {
            return;
        };
        if let Some(m) = limits.get("memory") {
            let f = push_key(&limits_path, "memory");
            if let Some(b) = self.bytes(m, &f) {
                c.memory_limit = Field::new((b > 0).then_some(b), f);
            }
        }
        if let Some(p) = limits.get("pids") {
            let f = push_key(&limits_path, "pids");
            if let Some(n) = self.integer(p, &f) {
                c.pids_limit = Some(Field::new(Some(n), f));
            }
        }
    }

    fn resolve_host(&self, src: &str) -> String {
        if src.starts_with('.') {
            format!("{}/{}", self.base_dir.trim_end_matches('/'), src)
        } else {
            src.to_string()
        }
    }

    /// A named volume's host path, from its top-level `driver_opts`.
    fn named_volume(&self, name: &str) -> Option<(String, String)> {
        let def = self.volumes?.get(name)?;
        let opts = def.get("driver_opts")?;
        let device = opts.get("device")?.as_str()?;
        let o = opts.get("o").and_then(|o| o.as_str()).unwrap_or("");
        let ty = opts.get("type").and_then(|t| t.as_str()).unwrap_or("");
        let binds = o.split(',').any(|x| x.trim() == "bind") || ty == "none";
        if !binds || !is_host_path(device) {
            return None;
        }
        let field = push_key(
            &push_key(&push_key("volumes", name), "driver_opts"),
            "device",
        );
        Some((self.resolve_host(device), field))
    }

    fn volume(&mut self, n: &YNode, field: &str, view: &mut WorkloadView) {
        match &n.value {
            YValue::Map(_) => {
                let get = |k: &str| n.get(k);
                let ty = get("type").and_then(|t| t.as_str()).unwrap_or("volume");
                let source = match get("source") {
                    Some(s) => self.string(s, &push_key(field, "source")),
                    None => None,
                };
                let target = match get("target") {
                    Some(t) => self.string(t, &push_key(field, "target")),
                    None => None,
                }
                .unwrap_or_default();
                let read_only = match get("read_only") {
                    Some(r) => self
                        .boolean(r, &push_key(field, "read_only"))
                        .unwrap_or(false),
                    None => false,
                };
                let propagation = get("bind")
                    .and_then(|b| b.get("propagation"))
                    .and_then(|p| p.as_str())
                    .map(str::to_string);
                let Some(source) = source else { return };
                let host = match ty {
                    "bind" => Some((self.resolve_host(&source), push_key(field, "source"))),
                    "volume" if is_host_path(&source) => {
                        Some((self.resolve_host(&source), push_key(field, "source")))
                    }
                    "volume" => self.named_volume(&source),
                    _ => None,
                };
                if let Some((host_path, host_field)) = host {
                    view.host_mounts.push(HostMount {
                        host_path,
                        target,
                        read_only,
                        propagation,
                        sub_path: false,
                        field: host_field,
                        mount_field: field.to_string(),
                    });
                }
            }
            _ => {
                let Some(s) = self.string(n, field) else {
                    return;
                };
                let parts: Vec<&str> = s.split(':').collect();
                if parts.len() < 2 {
                    return; // An anonymous volume.
                }
                let (src, target) = (parts[0], parts[1]);
                let opts: Vec<&str> = parts
                    .get(2)
                    .map(|o| o.split(',').map(str::trim).collect())
                    .unwrap_or_default();
                let read_only = opts.iter().any(|o| *o == "ro" || *o == "readonly");
                let propagation = opts
                    .iter()
                    .find(|o| {
                        matches!(
                            **o,
                            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate"
                        )
                    })
                    .map(|o| o.to_string());
                let host = if is_host_path(src) {
                    Some((self.resolve_host(src), field.to_string()))
                } else {
                    self.named_volume(src)
                };
                if let Some((host_path, host_field)) = host {
                    view.host_mounts.push(HostMount {
                        host_path,
                        target: target.to_string(),
                        read_only,
                        propagation,
                        sub_path: false,
                        field: host_field,
                        mount_field: field.to_string(),
                    });
                }
            }
        }
    }
}

/// One `security_opt` entry.
fn security_opt(s: &str, field: String, c: &mut ContainerView) {
    let (key, value) = match s.find([':', '=']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    match (key.trim(), value.map(str::trim)) {
        ("seccomp", Some("unconfined")) => c.seccomp = Field::new(Seccomp::Unconfined, field),
        ("seccomp", Some(_)) => c.seccomp = Field::new(Seccomp::Profile, field),
        ("apparmor", Some("unconfined")) => c.lsm_unconfined.push(Field::new(s.to_string(), field)),
        ("label", Some(v))
            if v == "disable"
                || v.strip_prefix("type:")
                    .or_else(|| v.strip_prefix("type="))
                    .is_some_and(|t| t == "spc_t" || t == "unconfined_t") =>
        {
            c.lsm_unconfined.push(Field::new(s.to_string(), field))
        }
        ("systempaths", Some("unconfined")) => {
            c.lsm_unconfined.push(Field::new(s.to_string(), field))
        }
        ("no-new-privileges", None) | ("no-new-privileges", Some("true")) => {
            c.no_new_privs = Field::new(Some(true), field)
        }
        ("no-new-privileges", Some("false")) => c.no_new_privs = Field::new(Some(false), field),
        _ => {}
    }
}

fn type_name(v: &YValue) -> &'static str {
    match v {
        YValue::Null => "null",
        YValue::Bool(_) => "a boolean",
        YValue::Int(_) | YValue::Float(_) => "a number",
        YValue::Str(_) => "a string",
        YValue::Seq(_) => "a list",
        YValue::Map(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("512m"), Some(512 * 1024 * 1024));
        assert_eq!(parse_bytes("1g"), Some(1 << 30));
        assert_eq!(parse_bytes("1GB"), Some(1 << 30));
        assert_eq!(parse_bytes("2kib"), Some(2048));
        assert_eq!(parse_bytes("1024"), Some(1024));
        assert_eq!(parse_bytes("1.5k"), Some(1536));
        assert_eq!(parse_bytes("12x"), None);
    }

    #[test]
    fn interpolation_takes_defaults() {
        let text = "services:\n  a:\n    image: x\n    volumes: ['${A:-/var/run}/docker.sock:/s', '${B-x}y:/t']\n    command: $${A} ${UNSET}\n";
        let (r, _) = read_with_env("c.yaml", text, &Env::from_pairs([]), "/p");
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        let Subject::View(v) = &r.items[0].subject else {
            panic!("a view")
        };
        let sources: Vec<&str> = v.host_mounts.iter().map(|m| m.host_path.as_str()).collect();
        assert_eq!(sources, ["/var/run/docker.sock"]);
    }
}
