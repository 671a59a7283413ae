//! Dockerfile rules (SKD-DKF-001..005, SKD-ESC-043) over a parsed Dockerfile model.
//!
//! The model is what BuildKit's parser produces, typed: parser directives, the global `ARG`s
//! before the first `FROM`, then one [`Stage`] per `FROM` with its instructions. The reader in
//! `audit::dockerfile` builds it (line continuations, comments, heredocs, JSON vs shell form);
//! this module never looks at raw file text.
//!
//! Field paths (what a [`Violation`] names, and what the reader maps to lines):
//! - `globalArgs[i]`: the i-th `ARG` before the first `FROM`;
//! - `stages[s]`: the `FROM` line of stage `s` (0-based);
//! - `stages[s].instructions[i]`: the i-th instruction after that `FROM` (0-based, `FROM` itself
//!   not counted);
//! - `stages[s].instructions[i].heredocs[h]`: the first body line of the h-th heredoc.

use crate::catalogue::id;
use crate::model::Violation;
use std::collections::HashMap;

/// A parsed Dockerfile.
#[derive(Debug, Clone, Default)]
pub struct Dockerfile {
    /// The escape character (`\` unless a `# escape=` directive says otherwise).
    pub escape: char,
    /// Parser directives (`syntax`, `escape`, `check`), lower-cased names.
    pub directives: Vec<(String, String)>,
    /// `ARG` instructions before the first `FROM` (usable in `FROM` lines, and in a stage that
    /// re-declares them).
    pub global_args: Vec<Instruction>,
    pub stages: Vec<Stage>,
}

/// One build stage: a `FROM` and the instructions up to the next `FROM`.
#[derive(Debug, Clone, Default)]
pub struct Stage {
    /// The `FROM` instruction.
    pub from: Instruction,
    /// The base image or earlier stage, as written (before ARG substitution).
    pub base: String,
    /// `AS name`, lower-cased as BuildKit compares it.
    pub name: Option<String>,
    pub instructions: Vec<Instruction>,
    /// `stages[s]`.
    pub field: String,
}

/// An instruction's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    /// JSON (exec) form: `["a", "b"]`.
    Exec(Vec<String>),
    /// Shell form: the rest of the logical line after the flags, continuations joined.
    Shell(String),
}

impl Default for Args {
    fn default() -> Self {
        Args::Shell(String::new())
    }
}

impl Args {
    /// The arguments as one command text (exec form joined by spaces).
    pub fn text(&self) -> String {
        match self {
            Args::Exec(v) => v.join(" "),
            Args::Shell(s) => s.clone(),
        }
    }
}

/// A `--name=value` flag of an instruction (`RUN --mount=...`, `ADD --checksum=...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// Name without the leading `--`, lower-cased.
    pub name: String,
    /// Value after `=`, when given.
    pub value: Option<String>,
}

/// A heredoc attached to an instruction (`RUN <<EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// Delimiter word, unquoted.
    pub name: String,
    /// Body, with its lines joined by `\n` (tabs stripped for `<<-`).
    pub content: String,
    /// Whether variables are expanded in the body (the delimiter was not quoted).
    pub expand: bool,
    /// `<<-`: leading tabs are stripped.
    pub strip_tabs: bool,
    /// Line of the first body line.
    pub line: u32,
}

/// One instruction.
#[derive(Debug, Clone, Default)]
pub struct Instruction {
    /// Upper-cased keyword: `RUN`, `USER`, ...
    pub keyword: String,
    pub flags: Vec<Flag>,
    pub args: Args,
    pub heredocs: Vec<Heredoc>,
    /// First and last physical line of the instruction (heredoc bodies included).
    pub line: u32,
    pub end_line: u32,
    /// Field path, see the module documentation.
    pub field: String,
}

impl Instruction {
    /// The value of flag `name`, if the flag is present (`Some(None)` for a bare `--name`).
    pub fn flag(&self, name: &str) -> Option<Option<&str>> {
        self.flags
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_deref())
    }

    /// Field path of the h-th heredoc.
    pub fn heredoc_field(&self, h: usize) -> String {
        format!("{}.heredocs[{h}]", self.field)
    }
}

/// Evaluate the Dockerfile rules.
pub fn evaluate(df: &Dockerfile) -> Vec<Violation> {
    let mut out = Vec::new();
    if df.stages.is_empty() {
        return out;
    }
    let globals = global_args(df);
    for (name, value) in &df.directives {
        if name == "syntax" && !trusted_frontend(value) {
            out.push(Violation::new(
                id::SKD_DKF_006,
                "directives.syntax",
                format!(
                    "`# syntax={value}` builds with a frontend image outside the allow-list \
                     (docker/dockerfile): it runs with the builder's privileges"
                ),
            ));
        }
    }
    for ins in &df.global_args {
        syntax_variable(ins, &arg_decls(&ins.args.text()), &mut out);
    }
    let mut stage_users: Vec<Option<(String, String)>> = Vec::with_capacity(df.stages.len());
    let mut stage_envs: Vec<HashMap<String, String>> = Vec::with_capacity(df.stages.len());
    let mut stage_cwds: Vec<String> = Vec::with_capacity(df.stages.len());
    for (si, stage) in df.stages.iter().enumerate() {
        let base = expand(&stage.base, &globals, df.escape);
        let parent = parent_stage(df, si, &base);
        let mut vars: HashMap<String, String> =
            parent.map(|p| stage_envs[p].clone()).unwrap_or_default();
        let mut env_only = vars.clone();
        let mut user: Option<(String, String)> = parent.and_then(|p| stage_users[p].clone());
        let mut cwd = parent
            .map(|p| stage_cwds[p].clone())
            .unwrap_or_else(|| "/".to_string());
        for ins in &stage.instructions {
            match ins.keyword.as_str() {
                "ARG" => {
                    syntax_variable(ins, &arg_decls(&ins.args.text()), &mut out);
                    for (k, v) in arg_decls(&ins.args.text()) {
                        let v = match v {
                            Some(v) => Some(expand(&v, &vars, df.escape)),
                            None => globals.get(&k).cloned(),
                        };
                        // An ARG never overrides an ENV of the same name.
                        if !env_only.contains_key(&k) {
                            vars.insert(k, v.unwrap_or_default());
                        }
                    }
                }
                "LABEL" => {
                    for (k, v) in env_decls(&ins.args.text()) {
                        if k.trim_matches('"') == "containerd.io/restart.loguri" {
                            out.push(Violation::new(
                                id::SKD_DKF_009,
                                ins.field.clone(),
                                format!(
                                    "LABEL containerd.io/restart.loguri={v:?}: containerd's \
                                     restart monitor runs or opens it on the host"
                                ),
                            ));
                        }
                    }
                }
                "ENV" => {
                    let decls = env_decls(&ins.args.text());
                    let as_args: Vec<(String, Option<String>)> = decls
                        .iter()
                        .map(|(k, v)| (k.clone(), Some(v.clone())))
                        .collect();
                    syntax_variable(ins, &as_args, &mut out);
                    for (k, _) in &decls {
                        if k == "LD_PRELOAD" || k == "LD_LIBRARY_PATH" {
                            out.push(Violation::new(
                                id::SKD_DKF_008,
                                ins.field.clone(),
                                format!(
                                    "ENV {k} is inherited by OCI hooks that run in the \
                                     container's root (CVE-2025-23266): a library of the image \
                                     loads into a privileged host process"
                                ),
                            ));
                        }
                    }
                    for (k, v) in env_decls(&ins.args.text()) {
                        let v = expand(&v, &vars, df.escape);
                        vars.insert(k.clone(), v.clone());
                        env_only.insert(k, v);
                    }
                }
                "USER" => {
                    let u = expand(ins.args.text().trim(), &vars, df.escape);
                    for part in u.split(':') {
                        if part
                            .trim()
                            .parse::<u64>()
                            .is_ok_and(|n| n > i32::MAX as u64)
                        {
                            out.push(Violation::new(
                                id::SKD_ESC_061,
                                ins.field.clone(),
                                format!(
                                    "USER {u:?} names an id above 2^31-1 (containerd \
                                     CVE-2024-40635: it wraps, to root)"
                                ),
                            ));
                            break;
                        }
                    }
                    user = Some((u, ins.field.clone()));
                }
                "WORKDIR" => {
                    let w = expand(ins.args.text().trim(), &vars, df.escape);
                    cwd = if w.starts_with('/') {
                        w
                    } else {
                        format!("{}/{}", cwd.trim_end_matches('/'), w)
                    };
                    if crate::paths::cwd_through_fd(&cwd) {
                        out.push(Violation::new(
                            id::SKD_ESC_043,
                            ins.field.clone(),
                            format!(
                                "WORKDIR {cwd:?} goes through a process's file descriptors \
                                 (CVE-2024-21626: a leaked fd reaches the host)"
                            ),
                        ));
                    }
                }
                "RUN" => run_rules(ins, &mut out),
                "ADD" => add_rules(ins, &vars, df.escape, &mut out),
                _ => {}
            }
        }
        stage_users.push(user);
        stage_envs.push(env_only);
        stage_cwds.push(cwd);
    }
    let last = df.stages.len() - 1;
    let final_stage = &df.stages[last];
    match &stage_users[last] {
        None => out.push(Violation::new(
            id::SKD_DKF_001,
            final_stage.field.clone(),
            "the final stage sets no USER, so the image runs as root",
        )),
        Some((u, field)) if is_root_user(u) => out.push(Violation::new(
            id::SKD_DKF_001,
            field.clone(),
            format!("the final stage runs as root (USER {u:?})"),
        )),
        Some(_) => {}
    }
    out
}

/// Global ARG defaults, for FROM lines and for stages that re-declare them.
fn global_args(df: &Dockerfile) -> HashMap<String, String> {
    let mut g = HashMap::new();
    for ins in &df.global_args {
        for (k, v) in arg_decls(&ins.args.text()) {
            let v = v.map(|v| expand(&v, &g, df.escape)).unwrap_or_default();
            g.insert(k, v);
        }
    }
    g
}

/// The earlier stage a `FROM` refers to, by name or index.
fn parent_stage(df: &Dockerfile, si: usize, base: &str) -> Option<usize> {
    let b = base.to_ascii_lowercase();
    if let Some(i) = df.stages[..si]
        .iter()
        .rposition(|s| s.name.as_deref() == Some(b.as_str()))
    {
        return Some(i);
    }
    b.parse::<usize>().ok().filter(|&i| i < si)
}

/// Whether a USER value runs as uid 0.
fn is_root_user(u: &str) -> bool {
    let user = u.split(':').next().unwrap_or("").trim();
    user.is_empty() || user == "root" || user.parse::<u64>() == Ok(0)
}

/// `ARG a=1 b` → [(a, Some(1)), (b, None)].
fn arg_decls(text: &str) -> Vec<(String, Option<String>)> {
    split_words(text)
        .into_iter()
        .filter(|w| !w.is_empty())
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (w, None),
        })
        .collect()
}

/// `ENV a=1 b="x y"` or the legacy `ENV a value with spaces`.
fn env_decls(text: &str) -> Vec<(String, String)> {
    let t = text.trim();
    let first = t.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        // Legacy form: the first word is the key, the rest the value.
        let rest = t[first.len()..].trim();
        if first.is_empty() {
            return Vec::new();
        }
        return vec![(first.to_string(), unquote(rest))];
    }
    split_words(t)
        .into_iter()
        .filter_map(|w| {
            w.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Split on unquoted whitespace, removing quotes (but keeping `$` for later expansion).
fn split_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '"' | '\'' => {
                in_word = true;
                for d in chars.by_ref() {
                    if d == c {
                        break;
                    }
                    cur.push(d);
                }
            }
            '\\' => {
                in_word = true;
                if let Some(d) = chars.next() {
                    cur.push(d);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return s[1..s.len() - 1].to_string();
        }
    }
    s.to_string()
}

/// Expand `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`,
/// `${VAR:?msg}` the way BuildKit does for USER, WORKDIR, ADD and FROM; quotes are removed
/// (single quotes suppress expansion) and `<escape>$` is a literal `$`. Unknown variables expand
/// to the empty string.
pub fn expand(text: &str, vars: &HashMap<String, String>, escape: char) -> String {
    expand_depth(text, vars, escape, 0)
}

fn expand_depth(text: &str, vars: &HashMap<String, String>, escape: char, depth: u32) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut in_double = false;
    while i < chars.len() {
        let c = chars[i];
        if c == escape && i + 1 < chars.len() {
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        match c {
            '\'' if !in_double => {
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    out.push(chars[i]);
                    i += 1;
                }
                i += 1;
            }
            '"' => {
                in_double = !in_double;
                i += 1;
            }
            '$' if i + 1 < chars.len() && chars[i + 1] == '{' => {
                // Find the matching close brace.
                let mut j = i + 2;
                let mut level = 1;
                while j < chars.len() {
                    match chars[j] {
                        '{' => level += 1,
                        '}' => {
                            level -= 1;
                            if level == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                let inner: String = chars[i + 2..j.min(chars.len())].iter().collect();
                out.push_str(&expand_braced(&inner, vars, escape, depth));
                i = j + 1;
            }
            '$' if i + 1 < chars.len()
                && (chars[i + 1] == '_' || chars[i + 1].is_ascii_alphabetic()) =>
            {
                let mut j = i + 1;
                while j < chars.len() && (chars[j] == '_' || chars[j].is_ascii_alphanumeric()) {
                    j += 1;
                }
                let name: String = chars[i + 1..j].iter().collect();
                if let Some(v) = vars.get(&name) {
                    out.push_str(v);
                }
                i = j;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn expand_braced(inner: &str, vars: &HashMap<String, String>, escape: char, depth: u32) -> String {
    let name_end = inner
        .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
        .unwrap_or(inner.len());
    let name = &inner[..name_end];
    let rest = &inner[name_end..];
    let value = vars.get(name);
    let sub = |w: &str| {
        if depth > 8 {
            w.to_string()
        } else {
            expand_depth(w, vars, escape, depth + 1)
        }
    };
    let set_nonempty = value.is_some_and(|v| !v.is_empty());
    if let Some(w) = rest.strip_prefix(":-") {
        return if set_nonempty {
            value.cloned().unwrap_or_default()
        } else {
            sub(w)
        };
    }
    if let Some(w) = rest.strip_prefix(":+") {
        return if set_nonempty { sub(w) } else { String::new() };
    }
    if let Some(w) = rest.strip_prefix('-') {
        return match value {
            Some(v) => v.clone(),
            None => sub(w),
        };
    }
    if let Some(w) = rest.strip_prefix('+') {
        return if value.is_some() {
            sub(w)
        } else {
            String::new()
        };
    }
    value.cloned().unwrap_or_default()
}

/// SKD-DKF-002, -003, -005 on one RUN.
fn run_rules(ins: &Instruction, out: &mut Vec<Violation>) {
    for f in &ins.flags {
        let v = f.value.as_deref().unwrap_or("");
        match f.name.as_str() {
            "security" if v.eq_ignore_ascii_case("insecure") => out.push(Violation::new(
                id::SKD_DKF_002,
                ins.field.clone(),
                "RUN --security=insecure runs the step with all capabilities on the build host",
            )),
            "network" if v.eq_ignore_ascii_case("host") => out.push(Violation::new(
                id::SKD_DKF_002,
                ins.field.clone(),
                "RUN --network=host gives the step the build host's network namespace",
            )),
            "mount" => {
                if let Some(why) = mount_buildkit_vector(v) {
                    out.push(Violation::new(
                        id::SKD_DKF_007,
                        ins.field.clone(),
                        format!("RUN --mount={v}: {why}"),
                    ));
                }
                if let Some(sock) = mount_binds_socket(v) {
                    out.push(Violation::new(
                        id::SKD_DKF_002,
                        ins.field.clone(),
                        format!("RUN --mount binds the container-engine socket {sock}"),
                    ));
                }
            }
            _ => {}
        }
    }
    let mut findings = Vec::new();
    let text = ins.args.text();
    match &ins.args {
        Args::Exec(v) => shell::analyze_words(v, 0, &mut findings),
        Args::Shell(s) => shell::analyze(s, 0, &mut findings),
    }
    let mut push = |field: &str, f: shell::Finding| {
        let (id, msg) = match f {
            shell::Finding::Setuid(cmd) => (
                id::SKD_DKF_003,
                format!("RUN adds a setuid/setgid bit: `{cmd}`"),
            ),
            shell::Finding::Setcap(cmd) => (
                id::SKD_DKF_003,
                format!("RUN adds file capabilities: `{cmd}`"),
            ),
            shell::Finding::PipeToShell(cmd) => (
                id::SKD_DKF_005,
                format!("RUN executes a downloaded script without verifying it: `{cmd}`"),
            ),
        };
        // One finding per rule and field: `bash -c "$(curl ...)"` is one problem, not two.
        if !out.iter().any(|v| v.rule.id == id && v.field == field) {
            out.push(Violation::new(id, field.to_string(), msg));
        }
    };
    for f in findings.drain(..) {
        push(&ins.field, f);
    }
    // A heredoc is a script when the command is empty (`RUN <<EOF`) or a shell reading stdin.
    if !ins.heredocs.is_empty() && heredoc_is_script(&text) {
        for (h, doc) in ins.heredocs.iter().enumerate() {
            shell::analyze(&doc.content, 0, &mut findings);
            let field = ins.heredoc_field(h);
            for f in findings.drain(..) {
                push(&field, f);
            }
        }
    }
}

/// Whether the command around heredoc markers runs the heredoc as a script.
fn heredoc_is_script(text: &str) -> bool {
    let words: Vec<&str> = text
        .split_whitespace()
        .filter(|w| !w.contains("<<"))
        .collect();
    match words.first() {
        None => true,
        Some(w) => shell::SHELLS.contains(&shell::basename(w)),
    }
}

/// The fields of a `--mount` value, read like BuildKit reads it (Go's encoding/csv): commas
/// separate fields, a double-quoted field may hold commas, `""` inside quotes is one quote.
fn csv_fields(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// The engine socket a `--mount` spec binds, if any.
/// Whether a `# syntax=` frontend is Docker's own (`docker/dockerfile[-upstream]`, any tag or
/// digest, with or without `docker.io/`).
fn trusted_frontend(image: &str) -> bool {
    let repo = image.trim();
    let repo = repo.split('@').next().unwrap_or("");
    let repo = match repo.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => repo,
    };
    let repo = repo
        .strip_prefix("docker.io/")
        .or_else(|| repo.strip_prefix("index.docker.io/"))
        .unwrap_or(repo);
    matches!(repo, "docker/dockerfile" | "docker/dockerfile-upstream")
}

/// SKD-DKF-006 for an ARG or ENV that sets `BUILDKIT_SYNTAX` (the frontend, like `# syntax=`).
fn syntax_variable(
    ins: &Instruction,
    decls: &[(String, Option<String>)],
    out: &mut Vec<Violation>,
) {
    for (k, v) in decls {
        if k != "BUILDKIT_SYNTAX" {
            continue;
        }
        let v = v.as_deref().unwrap_or("");
        if !trusted_frontend(v) {
            out.push(Violation::new(
                id::SKD_DKF_006,
                ins.field.clone(),
                format!(
                    "{} BUILDKIT_SYNTAX={v:?} selects a frontend image outside the allow-list \
                     (docker/dockerfile)",
                    ins.keyword
                ),
            ));
        }
    }
}

/// The BuildKit and buildah mount forms with known escapes (Leaky Vessels and buildah
/// CVE-2024-1753), if the `--mount` spec has one.
fn mount_buildkit_vector(spec: &str) -> Option<&'static str> {
    let mut typ = "bind".to_string();
    let (mut source, mut from, mut rw, mut propagation) = (false, false, false, false);
    for kv in csv_fields(spec) {
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "type" => typ = v.to_ascii_lowercase(),
            "source" | "src" => source = !v.is_empty(),
            "from" => from = !v.is_empty(),
            "rw" | "readwrite" => rw = v.is_empty() || v.eq_ignore_ascii_case("true"),
            "bind-propagation" => propagation = true,
            _ => {}
        }
    }
    if propagation {
        return Some(
            "bind-propagation lets mounts made in the step reach the build host (buildah \
             CVE-2024-1753 mounted the host's / this way)",
        );
    }
    match typ.as_str() {
        "cache" if source => Some(
            "a cache mount with source= races the cache directory against a symlink \
             (CVE-2024-23651): the step can reach the build host's files",
        ),
        "bind" if from && rw => Some(
            "a writable bind mount from another stage or image (CVE-2024-23652: the builder \
             removes files outside the container when it cleans it up)",
        ),
        _ => None,
    }
}

fn mount_binds_socket(spec: &str) -> Option<String> {
    let mut typ = "bind".to_string();
    let mut source = None;
    let mut target = None;
    for kv in csv_fields(spec) {
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        let v = v.trim().to_string();
        match k.trim().to_ascii_lowercase().as_str() {
            "type" => typ = v,
            "source" | "src" => source = Some(v),
            "target" | "dst" | "destination" => target = Some(v),
            _ => {}
        }
    }
    if !typ.eq_ignore_ascii_case("bind") {
        return None;
    }
    [source, target].into_iter().flatten().find_map(|p| {
        let n = crate::paths::normalize(&p);
        let name = n.rsplit('/').next().unwrap_or("");
        (crate::paths::is_engine_socket_name(name) || crate::paths::inside_engine(&n)).then_some(n)
    })
}

/// SKD-DKF-004 on one ADD.
fn add_rules(
    ins: &Instruction,
    vars: &HashMap<String, String>,
    escape: char,
    out: &mut Vec<Violation>,
) {
    if ins.flag("checksum").is_some() {
        return;
    }
    let words: Vec<String> = match &ins.args {
        Args::Exec(v) => v.clone(),
        Args::Shell(s) => split_words(s),
    };
    if words.len() < 2 || !ins.heredocs.is_empty() && words.iter().any(|w| w.starts_with("<<")) {
        return;
    }
    for src in &words[..words.len() - 1] {
        let s = expand(src, vars, escape);
        let l = s.to_ascii_lowercase();
        let remote = l.starts_with("http://") || l.starts_with("https://");
        let git = l.starts_with("git://")
            || l.starts_with("git@")
            || l.starts_with("ssh://")
            || (remote && (l.ends_with(".git") || l.contains(".git#")));
        if remote || git {
            let what = if git { "a git repository" } else { "a URL" };
            out.push(Violation::new(
                id::SKD_DKF_004,
                ins.field.clone(),
                format!("ADD fetches {what} ({s}) without --checksum"),
            ));
        }
    }
}

/// A small shell reader: enough of POSIX sh to find commands, pipelines and `sh -c` scripts.
mod shell {
    pub const SHELLS: &[&str] = &[
        "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "fish", "csh", "tcsh", "busybox",
    ];
    const FETCHERS: &[&str] = &["curl", "wget"];

    pub enum Finding {
        Setuid(String),
        Setcap(String),
        PipeToShell(String),
    }

    pub fn basename(w: &str) -> &str {
        w.rsplit('/').next().unwrap_or(w)
    }

    /// Pipelines of commands of words.
    type Script = Vec<Vec<Vec<String>>>;

    /// Split a script into pipelines → commands → words. Quotes are removed; `$(...)`,
    /// backquotes and `<(...)` are kept verbatim inside their word.
    #[allow(unused_assignments)] // the macros reset state that the last use does not read
    fn split(src: &str) -> Script {
        let mut pipelines: Script = Vec::new();
        let mut pipeline: Vec<Vec<String>> = Vec::new();
        let mut cmd: Vec<String> = Vec::new();
        let mut word = String::new();
        let mut in_word = false;
        let b: Vec<char> = src.chars().collect();
        let mut i = 0;
        macro_rules! end_word {
            () => {
                if in_word {
                    cmd.push(std::mem::take(&mut word));
                    in_word = false;
                }
            };
        }
        macro_rules! end_cmd {
            () => {
                end_word!();
                if !cmd.is_empty() {
                    pipeline.push(std::mem::take(&mut cmd));
                }
            };
        }
        macro_rules! end_pipeline {
            () => {
                end_cmd!();
                if !pipeline.is_empty() {
                    pipelines.push(std::mem::take(&mut pipeline));
                }
            };
        }
        while i < b.len() {
            let c = b[i];
            match c {
                '\\' => {
                    if i + 1 < b.len() && b[i + 1] != '\n' {
                        word.push(b[i + 1]);
                        in_word = true;
                    }
                    i += 2;
                }
                ' ' | '\t' | '\r' => {
                    end_word!();
                    i += 1;
                }
                '\n' | ';' => {
                    end_pipeline!();
                    i += 1;
                }
                '#' if !in_word => {
                    while i < b.len() && b[i] != '\n' {
                        i += 1;
                    }
                }
                '\'' => {
                    in_word = true;
                    i += 1;
                    while i < b.len() && b[i] != '\'' {
                        word.push(b[i]);
                        i += 1;
                    }
                    i += 1;
                }
                '"' => {
                    in_word = true;
                    i += 1;
                    while i < b.len() && b[i] != '"' {
                        if b[i] == '\\' && i + 1 < b.len() {
                            if matches!(b[i + 1], '"' | '\\' | '$' | '`') {
                                word.push(b[i + 1]);
                            } else if b[i + 1] != '\n' {
                                word.push('\\');
                                word.push(b[i + 1]);
                            }
                            i += 2;
                        } else if b[i] == '$' && b.get(i + 1) == Some(&'(') {
                            i = copy_balanced(&b, i, &mut word);
                        } else if b[i] == '`' {
                            i = copy_backquote(&b, i, &mut word);
                        } else {
                            word.push(b[i]);
                            i += 1;
                        }
                    }
                    i += 1;
                }
                '$' if b.get(i + 1) == Some(&'(') => {
                    in_word = true;
                    i = copy_balanced(&b, i, &mut word);
                }
                '<' | '>' if b.get(i + 1) == Some(&'(') => {
                    in_word = true;
                    i = copy_balanced(&b, i, &mut word);
                }
                '`' => {
                    in_word = true;
                    i = copy_backquote(&b, i, &mut word);
                }
                '&' if b.get(i + 1) == Some(&'&') => {
                    end_pipeline!();
                    i += 2;
                }
                '&' if word.ends_with('>') || word.ends_with('<') || b.get(i + 1) == Some(&'>') => {
                    word.push('&');
                    in_word = true;
                    i += 1;
                }
                '&' => {
                    end_pipeline!();
                    i += 1;
                }
                '|' if b.get(i + 1) == Some(&'|') => {
                    end_pipeline!();
                    i += 2;
                }
                '|' => {
                    end_cmd!();
                    i += 1;
                    if b.get(i) == Some(&'&') {
                        i += 1;
                    }
                }
                '(' | ')' | '{' | '}' if !in_word => {
                    end_word!();
                    i += 1;
                }
                c => {
                    word.push(c);
                    in_word = true;
                    i += 1;
                }
            }
        }
        end_pipeline!();
        pipelines
    }

    /// Copy `$(...)`, `<(...)` or `>(...)` starting at `i` into `word`; return the index after it.
    fn copy_balanced(b: &[char], mut i: usize, word: &mut String) -> usize {
        let mut level = 0usize;
        let mut quote: Option<char> = None;
        while i < b.len() {
            let c = b[i];
            word.push(c);
            i += 1;
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '(') => level += 1,
                (None, ')') => {
                    level = level.saturating_sub(1);
                    if level == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
        i
    }

    fn copy_backquote(b: &[char], mut i: usize, word: &mut String) -> usize {
        word.push('`');
        i += 1;
        while i < b.len() {
            word.push(b[i]);
            i += 1;
            if b[i - 1] == '`' {
                break;
            }
        }
        i
    }

    /// Skip assignments, redirections and wrappers (`sudo`, `env`, `exec`, ...): the words from
    /// the command name on.
    fn command(words: &[String]) -> &[String] {
        let mut i = 0;
        while i < words.len() {
            let w = words[i].as_str();
            let is_assign = w.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
            });
            let redirect = w.trim_start_matches(|c: char| c.is_ascii_digit() || c == '&');
            if is_assign {
                i += 1;
            } else if redirect.starts_with('>')
                || (redirect.starts_with('<') && !redirect.starts_with("<("))
            {
                // `>file` is one word; a bare `>` takes the next word.
                let op_only = redirect.trim_start_matches(['>', '<', '&', '|']).is_empty();
                let heredoc = redirect.starts_with("<<");
                i += if op_only && !heredoc { 2 } else { 1 };
            } else {
                match basename(w) {
                    "sudo" | "doas" => {
                        i += 1;
                        while i < words.len() && words[i].starts_with('-') {
                            let takes_arg = matches!(
                                words[i].as_str(),
                                "-u" | "-g" | "-C" | "-h" | "-p" | "-U" | "-r" | "-t"
                            );
                            i += if takes_arg { 2 } else { 1 };
                        }
                    }
                    "env" => {
                        i += 1;
                        while i < words.len() && words[i].starts_with('-') {
                            i += if words[i] == "-u" { 2 } else { 1 };
                        }
                    }
                    "exec" | "command" | "nohup" | "time" | "nice" | "stdbuf" | "then" | "do"
                    | "else" | "!" => {
                        i += 1;
                    }
                    _ => break,
                }
            }
        }
        &words[i.min(words.len())..]
    }

    /// Whether a word runs curl or wget in a command or process substitution.
    fn fetches(word: &str) -> bool {
        for open in ["$(", "`", "<("] {
            let mut rest = word;
            while let Some(p) = rest.find(open) {
                let after = rest[p + open.len()..].trim_start();
                let first = after
                    .split(|c: char| c.is_whitespace() || c == ')' || c == '`')
                    .next()
                    .unwrap_or("");
                if FETCHERS.contains(&basename(first)) {
                    return true;
                }
                rest = &rest[p + open.len()..];
            }
        }
        false
    }

    fn is_shell(cmd: &[String]) -> bool {
        match cmd.first() {
            None => false,
            Some(w) if basename(w) == "busybox" => {
                cmd.get(1).is_some_and(|w| SHELLS.contains(&basename(w)))
            }
            Some(w) => SHELLS.contains(&basename(w)),
        }
    }

    /// The `-c` script of a shell command, if any.
    fn dash_c(cmd: &[String]) -> Option<&str> {
        let start = if cmd.first().is_some_and(|w| basename(w) == "busybox") {
            2
        } else {
            1
        };
        let mut i = start;
        while i < cmd.len() {
            let w = &cmd[i];
            if w.starts_with('-') && !w.starts_with("--") && w.len() > 1 {
                if w[1..].contains('c') {
                    return cmd.get(i + 1).map(|s| s.as_str());
                }
                i += if matches!(w.as_str(), "-o" | "+o") {
                    2
                } else {
                    1
                };
            } else if w.starts_with("--") {
                i += 1;
            } else {
                return None;
            }
        }
        None
    }

    pub fn analyze(src: &str, depth: u32, out: &mut Vec<Finding>) {
        for pipeline in split(src) {
            analyze_pipeline(&pipeline, depth, out);
        }
    }

    /// An exec-form command: one command, no shell unless it invokes one.
    pub fn analyze_words(words: &[String], depth: u32, out: &mut Vec<Finding>) {
        analyze_pipeline(&[words.to_vec()], depth, out);
    }

    fn analyze_pipeline(pipeline: &[Vec<String>], depth: u32, out: &mut Vec<Finding>) {
        let mut fetched = false;
        for words in pipeline {
            let cmd = command(words);
            let Some(first) = cmd.first() else { continue };
            let name = basename(first);
            let shown = || words.join(" ");
            if fetched && is_shell(cmd) && dash_c(cmd).is_none() {
                let all: Vec<String> = pipeline.iter().map(|c| c.join(" ")).collect();
                out.push(Finding::PipeToShell(all.join(" | ")));
                fetched = false;
            }
            // Output of a download: `curl ...`, `echo "$(curl ...)"`, `cat <(wget ...)`.
            if FETCHERS.contains(&name) || cmd.iter().any(|w| fetches(w)) {
                fetched = true;
            }
            // `$(curl ...)` as the command, or handed to a shell, eval or source.
            let runs_fetch = fetches(first)
                || (is_shell(cmd) || matches!(name, "eval" | "source" | "."))
                    && cmd[1..].iter().any(|w| fetches(w));
            if runs_fetch {
                out.push(Finding::PipeToShell(shown()));
            }
            // Scripts handed to a shell (`sh -c`, `busybox sh -c`) or to anything else with `-c`
            // (`su -c`, `runuser -c`, `find -exec sh -c`).
            if depth < 4 {
                if let Some(script) = dash_c(cmd).filter(|_| is_shell(cmd)) {
                    analyze(script, depth + 1, out);
                }
                for pair in words.windows(2) {
                    if pair[0] == "-c" && !(is_shell(cmd) && dash_c(cmd) == Some(pair[1].as_str()))
                    {
                        analyze(&pair[1], depth + 1, out);
                    }
                }
            }
            mode_rules(words, out);
        }
    }

    /// chmod/install adding s bits, setcap; anywhere in the command (`find -exec chmod`, `xargs`).
    fn mode_rules(words: &[String], out: &mut Vec<Finding>) {
        let shown = || words.join(" ");
        for (k, w) in words.iter().enumerate() {
            match basename(w) {
                "chmod" => {
                    let mode = words[k + 1..]
                        .iter()
                        .find(|a| !a.starts_with('-') || is_symbolic_mode(a));
                    if mode.is_some_and(|m| adds_suid(m)) {
                        out.push(Finding::Setuid(shown()));
                        return;
                    }
                }
                "install" => {
                    let mut it = words[k + 1..].iter();
                    while let Some(a) = it.next() {
                        let m = if a == "-m" || a == "--mode" {
                            it.next().map(|s| s.as_str())
                        } else if let Some(m) = a.strip_prefix("--mode=") {
                            Some(m)
                        } else {
                            a.strip_prefix("-m").filter(|m| !m.is_empty())
                        };
                        if m.is_some_and(adds_suid) {
                            out.push(Finding::Setuid(shown()));
                            return;
                        }
                    }
                }
                "setcap" => {
                    let remove = words[k + 1..].iter().any(|a| a == "-r");
                    if !remove && words.len() > k + 1 {
                        out.push(Finding::Setcap(shown()));
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    fn is_symbolic_mode(m: &str) -> bool {
        !m.is_empty()
            && m.chars().all(|c| "ugoarwxXst+-=,0123456789".contains(c))
            && m.contains(['+', '-', '='])
    }

    /// Whether a chmod mode sets the setuid or setgid bit.
    pub fn adds_suid(mode: &str) -> bool {
        if !mode.is_empty() && mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return mode.len() >= 4 && u32::from_str_radix(mode, 8).is_ok_and(|v| v & 0o6000 != 0);
        }
        for clause in mode.split(',') {
            let who_end = clause
                .find(|c: char| !"ugoa".contains(c))
                .unwrap_or(clause.len());
            let who = &clause[..who_end];
            let affects = who.is_empty() || who.contains(['u', 'g', 'a']);
            let mut op = ' ';
            for c in clause[who_end..].chars() {
                match c {
                    '+' | '-' | '=' => op = c,
                    's' if affects && (op == '+' || op == '=') => return true,
                    _ => {}
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suid_modes() {
        for m in [
            "u+s", "g+s", "+s", "a+s", "ug+rws", "u=rwxs", "4755", "2755", "6755", "04755",
            "go-w,u+s",
        ] {
            assert!(shell::adds_suid(m), "{m}");
        }
        for m in ["755", "0755", "u-s", "o+s", "+x", "a+rX", "1777", "g-s"] {
            assert!(!shell::adds_suid(m), "{m}");
        }
    }

    #[test]
    fn fd_paths() {
        for p in [
            "/proc/self/fd/7",
            "/proc/self/fd/7/../../..",
            "/proc/1/cwd",
            "/tmp/../proc/self/fd/3",
            "/proc/thread-self/fd/8",
            "//proc//123/fd/4/",
        ] {
            assert!(crate::paths::cwd_through_fd(p), "{p}");
        }
        for p in [
            "/app",
            "/proc",
            "/proc/self/status",
            "/proc/self/fd/../../../app",
            "/proc/self/fd",
        ] {
            assert!(!crate::paths::cwd_through_fd(p), "{p}");
        }
        assert!(!crate::paths::cwd_through_fd("/app/proc/self/fd"));
    }

    #[test]
    fn expansion() {
        let mut v = HashMap::new();
        v.insert("A".to_string(), "x".to_string());
        v.insert("E".to_string(), String::new());
        assert_eq!(expand("$A/${A}", &v, '\\'), "x/x");
        assert_eq!(expand("${B:-def}", &v, '\\'), "def");
        assert_eq!(expand("${E:-def}", &v, '\\'), "def");
        assert_eq!(expand("${E-def}", &v, '\\'), "");
        assert_eq!(expand("${A:+alt}", &v, '\\'), "alt");
        assert_eq!(expand("${B:+alt}", &v, '\\'), "");
        assert_eq!(expand("\\$A '$A' \"$A\"", &v, '\\'), "$A $A x");
        assert_eq!(expand("${B:-${A}}", &v, '\\'), "x");
    }
}
