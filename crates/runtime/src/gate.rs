//! The policy gate: at `create`, config.json is evaluated with the same
//! rules as `stockade audit` on a config.json (`policy::oci::evaluate_config`)
//! and refused when it violates the chosen level. No rule logic lives here.
//!
//! The level comes from, first to last: `--policy` (global or `create`/`run`
//! option), `STOCKADE_POLICY`, `policy = "..."` in `/etc/stockade/runtime.toml`
//! (or the file named by `STOCKADE_RUNTIME_CONFIG`), and the default
//! [`DEFAULT`] (`baseline`). Engines pass no such flag, so the environment and
//! the file are how podman or containerd users choose it.
//!
//! The default, [`Policy::Default`], evaluates at `baseline` and refuses the
//! `critical` rules (privileged, host namespaces, CAP_SYS_ADMIN and the other
//! escape capabilities, engine sockets, writable sensitive host paths, host
//! devices, writable sysfs/cgroupfs, a cwd through an fd); the other baseline
//! findings are logged as warnings. Full `baseline` also refuses what engines
//! generate today: `ctr run` sets no seccomp profile (SKD-ESC-034) and podman
//! bind-mounts its own /etc/hosts, /etc/hostname, /run/.containerenv and
//! /dev/shm writable from the host (SKD-ESC-023).

use crate::error::{Error, Result};
use oci_spec::runtime::{Process, Spec};
use policy::Level;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// What the gate does with a config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Evaluate at `baseline`: refuse critical violations, warn about the rest.
    Default,
    /// Refuse a config that violates a rule at or below this level.
    Enforce(Level),
    /// Evaluate at `baseline`, log each violation as a warning, and proceed.
    Warn,
    /// No evaluation (an explicit opt-out, e.g. for the runtime's own tests
    /// of mechanics on deliberately unsafe configs).
    Off,
}

/// The policy when nobody chose one.
pub const DEFAULT: Policy = Policy::Default;

/// Default location of the runtime's configuration file.
pub const CONFIG_FILE: &str = "/etc/stockade/runtime.toml";

impl FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.eq_ignore_ascii_case("warn") {
            return Ok(Policy::Warn);
        }
        if s.eq_ignore_ascii_case("off") {
            return Ok(Policy::Off);
        }
        if s.eq_ignore_ascii_case("default") {
            return Ok(Policy::Default);
        }
        Level::from_str(s).map(Policy::Enforce).map_err(|_| {
            format!("unknown policy {s:?} (default, baseline, restricted, hardened, warn, off)")
        })
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Policy::Enforce(l) => write!(f, "{l}"),
            Policy::Warn => f.write_str("warn"),
            Policy::Off => f.write_str("off"),
            Policy::Default => f.write_str("default"),
        }
    }
}

/// `/etc/stockade/runtime.toml`: the runtime's own settings, for callers
/// (engines) that cannot pass flags.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// `baseline`, `restricted`, `hardened`, `warn` or `off`.
    pub policy: Option<String>,
    /// Landlock confinement of the container process (default true).
    pub landlock: Option<bool>,
    /// Rules (ids or slugs) the gate does not judge, for every container:
    /// the suppression a refusal names.
    pub ignore: Option<Vec<String>>,
}

impl RuntimeConfig {
    /// The config file's path: `STOCKADE_RUNTIME_CONFIG` or [`CONFIG_FILE`].
    pub fn path() -> PathBuf {
        std::env::var_os("STOCKADE_RUNTIME_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(CONFIG_FILE))
    }

    /// Read the file; a missing file is the empty config.
    pub fn load(path: &Path) -> Result<RuntimeConfig> {
        match std::fs::read_to_string(path) {
            Ok(s) => toml::from_str(&s).map_err(|e| Error::Config {
                path: path.to_path_buf(),
                msg: e.to_string().replace('\n', " "),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RuntimeConfig::default()),
            Err(e) => Err(Error::io(path, e)),
        }
    }
}

/// Resolve the policy: flag, then `STOCKADE_POLICY`, then the config file, then [`DEFAULT`].
pub fn resolve(flag: Option<&str>, cfg: &RuntimeConfig) -> Result<Policy> {
    if let Some(f) = flag {
        return f
            .parse()
            .map_err(|e| Error::Usage(format!("--policy: {e}")));
    }
    if let Ok(v) = std::env::var("STOCKADE_POLICY") {
        if !v.is_empty() {
            return v
                .parse()
                .map_err(|e| Error::Usage(format!("STOCKADE_POLICY: {e}")));
        }
    }
    if let Some(v) = &cfg.policy {
        return v.parse().map_err(|e| {
            Error::Usage(format!("{}: policy: {e}", RuntimeConfig::path().display()))
        });
    }
    Ok(DEFAULT)
}

/// One violation as `RULE-ID field: message`.
fn line(v: &policy::Violation) -> String {
    format!("{} {}: {}", v.rule.id, v.field, v.message)
}

/// What the gate knows beyond the config: the container's id (to recognise
/// the engine's own per-container files) and the rules runtime.toml ignores.
#[derive(Debug, Default, Clone)]
pub struct Context {
    pub id: String,
    pub ignore: Vec<String>,
}

impl Context {
    fn ignores(&self, r: &policy::Rule) -> bool {
        self.ignore
            .iter()
            .any(|i| i.eq_ignore_ascii_case(&r.id) || i.eq_ignore_ascii_case(&r.slug))
    }
}

/// The host-path rules an engine's own per-container file is exempt from
/// (a writable bind; one under a sensitive directory such as
/// /var/lib/containerd, where containerd keeps its sandboxes' files).
const ENGINE_FILE_RULES: &[policy::RuleId] = &[
    policy::id::SKD_ESC_021,
    policy::id::SKD_ESC_022,
    policy::id::SKD_ESC_023,
];

/// Whether `mounts[i]` is one of the files an engine makes for each
/// container (hosts, hostname, resolv.conf, .containerenv, shm): its
/// destination is one of SKD-ESC-023's `engine_files`, and its source lies
/// in a directory named after this container, or after its pod sandbox (the
/// id in one of the rule's `sandbox_id_annotations`). podman, CRI-O and
/// containerd keep these in such a directory, wherever their storage is.
fn engine_file(spec: &Spec, field: &str, ctx: &Context) -> bool {
    let Some(i) = field
        .strip_prefix("mounts[")
        .and_then(|f| f.split_once(']'))
        .and_then(|(n, _)| n.parse::<usize>().ok())
    else {
        return false;
    };
    let Some(m) = spec.mounts().as_ref().and_then(|ms| ms.get(i)) else {
        return false;
    };
    let r = policy::catalogue::rule(policy::id::SKD_ESC_023);
    let dest = m.destination().to_string_lossy();
    if !r.param("engine_files").iter().any(|f| *f == dest) {
        return false;
    }
    let Some(src) = m.source().as_ref() else {
        return false;
    };
    let mut ids: Vec<&str> = vec![ctx.id.as_str()];
    if let Some(a) = spec.annotations() {
        ids.extend(
            r.param("sandbox_id_annotations")
                .iter()
                .filter_map(|k| a.get(k).map(String::as_str)),
        );
    }
    // The id is one of the source's last three directories (…/<id>/userdata/hosts,
    // …/sandboxes/<id>/hosts): not any component of a long path.
    let dirs: Vec<&std::ffi::OsStr> = src.parent().into_iter().flat_map(|p| p.iter()).collect();
    dirs.iter().rev().take(3).any(|d| {
        ids.iter()
            .any(|id| !id.is_empty() && *d == std::ffi::OsStr::new(id))
    })
}

/// The gate at `update`: the container's config with the new resources
/// (`after`), counting only the findings about `linux.resources` that the
/// config before the update (`before`) did not have: an update must not drop
/// a limit the policy asks for, and is not blamed for what `create` allowed.
pub fn check_update(before: &Spec, after: &Spec, policy: Policy) -> Result<Vec<String>> {
    let all = policy::Options {
        level: Level::Hardened,
        ..Default::default()
    };
    let old: Vec<(String, String)> = policy::oci::evaluate_config(before, &all)
        .into_iter()
        .map(|v| (v.rule.id.to_string(), v.field))
        .collect();
    decide(after, policy, "the updated resources", |v| {
        v.field.starts_with("linux.resources")
            && !old.contains(&(v.rule.id.to_string(), v.field.clone()))
    })
}

/// Evaluate `spec`. `Ok` holds warnings (only under [`Policy::Warn`]);
/// a violation under [`Policy::Enforce`] is [`Error::Policy`].
pub fn check(spec: &Spec, policy: Policy) -> Result<Vec<String>> {
    check_in(spec, policy, &Context::default())
}

/// [`check`] for the container `ctx.id`: the engine's own per-container
/// files are not findings, and the rules runtime.toml ignores are not judged.
pub fn check_in(spec: &Spec, policy: Policy, ctx: &Context) -> Result<Vec<String>> {
    decide(spec, policy, "config.json", |v| {
        let engines_own = ENGINE_FILE_RULES.iter().any(|r| *r == v.rule.id.as_str())
            && engine_file(spec, &v.field, ctx);
        !ctx.ignores(v.rule) && !engines_own
    })
}

/// The gate at `exec`: the new process (from `--process`, or the
/// container's process changed by `--cap`, `--user`, `--apparmor`, ...) is
/// evaluated in its container's config with the same rules and the same
/// policy resolution as `create`, counting only the findings about the
/// process itself (`process.*` fields: capabilities, uid, no_new_privs, an
/// unconfined LSM profile). The rest of the config was judged at `create`.
pub fn check_exec(spec: &Spec, process: &Process, policy: Policy) -> Result<Vec<String>> {
    check_exec_in(spec, process, policy, &Context::default())
}

/// [`check_exec`] without the rules runtime.toml ignores.
pub fn check_exec_in(
    spec: &Spec,
    process: &Process,
    policy: Policy,
    ctx: &Context,
) -> Result<Vec<String>> {
    let mut s = spec.clone();
    s.set_process(Some(process.clone()));
    decide(&s, policy, "the exec process", |v| {
        !ctx.ignores(v.rule) && (v.field == "process" || v.field.starts_with("process."))
    })
}

fn decide(
    spec: &Spec,
    policy: Policy,
    subject: &'static str,
    keep: impl Fn(&policy::Violation) -> bool,
) -> Result<Vec<String>> {
    let level = match policy {
        Policy::Enforce(l) => l,
        Policy::Warn | Policy::Default => Level::Baseline,
        Policy::Off => return Ok(Vec::new()),
    };
    let opts = policy::Options {
        level,
        ..Default::default()
    };
    let all: Vec<policy::Violation> = policy::oci::evaluate_config(spec, &opts)
        .into_iter()
        .filter(|v| keep(v))
        .collect();
    if policy == Policy::Default {
        let (refuse, warn): (Vec<_>, Vec<_>) = all
            .iter()
            .partition(|v| v.rule.severity == policy::Severity::Critical);
        if !refuse.is_empty() {
            return Err(Error::Policy {
                subject,
                level: "default (baseline, critical rules)".into(),
                violations: refuse.into_iter().map(line).collect(),
            });
        }
        return Ok(warn
            .into_iter()
            .map(|v| format!("policy (baseline): {}", line(v)))
            .collect());
    }
    let found: Vec<String> = all.iter().map(line).collect();
    match policy {
        Policy::Warn => Ok(found
            .into_iter()
            .map(|l| format!("policy warn (baseline): {l}"))
            .collect()),
        Policy::Off | Policy::Default => Ok(Vec::new()),
        Policy::Enforce(_) if found.is_empty() => Ok(Vec::new()),
        Policy::Enforce(l) => Err(Error::Policy {
            subject,
            level: l.to_string(),
            violations: found,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_levels_and_warn() {
        assert_eq!("warn".parse::<Policy>(), Ok(Policy::Warn));
        assert_eq!(
            "Restricted".parse::<Policy>(),
            Ok(Policy::Enforce(Level::Restricted))
        );
        assert!("lax".parse::<Policy>().is_err());
    }

    #[test]
    fn default_spec_without_seccomp_is_refused_at_baseline() {
        let spec = Spec::default();
        let e = check(&spec, Policy::Enforce(Level::Baseline)).unwrap_err();
        assert!(e.to_string().contains("SKD-ESC-034"), "{e}");
        assert!(!check(&spec, Policy::Warn).unwrap().is_empty());
        // The default only warns: no seccomp is high, not critical.
        assert!(!check(&spec, Policy::Default).unwrap().is_empty());
    }

    #[test]
    fn default_refuses_critical() {
        let mut spec = Spec::default();
        if let Some(l) = spec.linux_mut() {
            l.set_namespaces(Some(Vec::new()));
        }
        let e = check(&spec, Policy::Default).unwrap_err();
        assert!(e.to_string().contains("SKD-ESC-002"), "{e}");
    }

    #[test]
    fn exec_gate_judges_only_the_process() {
        let spec = crate::defaults::hardened_spec();
        let base = spec.process().clone().unwrap();
        // The container's own process passes every level.
        for l in Level::ALL {
            assert!(check_exec(&spec, &base, Policy::Enforce(l)).is_ok(), "{l}");
        }
        // CAP_SYS_ADMIN added by exec: critical, refused by the default.
        let mut p = base.clone();
        let mut caps = p.capabilities().clone().unwrap();
        let mut b = caps.bounding().clone().unwrap();
        b.insert(oci_spec::runtime::Capability::SysAdmin);
        caps.set_bounding(Some(b.clone()));
        caps.set_effective(Some(b));
        p.set_capabilities(Some(caps));
        let e = check_exec(&spec, &p, Policy::Default)
            .unwrap_err()
            .to_string();
        assert!(e.contains("the exec process violates"), "{e}");
        assert!(e.contains("process.capabilities"), "{e}");
        assert!(!check_exec(&spec, &p, Policy::Warn).unwrap().is_empty());
        assert!(check_exec(&spec, &p, Policy::Off).unwrap().is_empty());
        // The rest of the config is not re-judged: a container without
        // seccomp (created under `off`) still runs a harmless exec.
        let mut open = spec.clone();
        open.linux_mut().as_mut().unwrap().set_seccomp(None);
        assert!(check(&open, Policy::Enforce(Level::Baseline)).is_err());
        assert!(check_exec(&open, &base, Policy::Enforce(Level::Baseline)).is_ok());
    }

    /// podman's and containerd's own per-container files are no finding of
    /// the gate; the same path for another id, or another host file, is.
    #[test]
    fn engine_files_are_not_findings() {
        let mut spec = crate::defaults::hardened_spec();
        let bind = |src: &str, dst: &str| {
            oci_spec::runtime::MountBuilder::default()
                .source(src)
                .destination(dst)
                .typ("bind")
                .options(vec!["rbind".to_string(), "rw".to_string()])
                .build()
                .unwrap()
        };
        let mut mounts = spec.mounts().clone().unwrap_or_default();
        let first = mounts.len();
        mounts.push(bind(
            "/x/overlay-containers/c1/userdata/hosts",
            "/etc/hosts",
        ));
        mounts.push(bind("/x/overlay-containers/c1/userdata/shm", "/dev/shm"));
        mounts.push(bind(
            "/var/lib/containerd/cri/sandboxes/s9/resolv.conf",
            "/etc/resolv.conf",
        ));
        mounts.push(bind(
            "/x/overlay-containers/other/userdata/hostname",
            "/etc/hostname",
        ));
        mounts.push(bind("/srv/c1/data", "/data"));
        spec.set_mounts(Some(mounts));
        let mut ann = std::collections::HashMap::new();
        ann.insert("io.kubernetes.cri.sandbox-id".to_string(), "s9".to_string());
        spec.set_annotations(Some(ann));
        let ctx = Context {
            id: "c1".into(),
            ignore: Vec::new(),
        };
        let w = check_in(&spec, Policy::Warn, &ctx).unwrap();
        let fields: Vec<&str> = w
            .iter()
            .filter(|l| l.contains("SKD-ESC-02"))
            .map(|l| l.split(' ').nth(4).unwrap())
            .collect();
        let want = [
            format!("mounts[{}].options:", first + 3),
            format!("mounts[{}].options:", first + 4),
        ];
        assert_eq!(fields, want, "{w:?}");
        // Without the ids, every writable bind is a finding (containerd's
        // under /var/lib/containerd a sensitive one).
        spec.set_annotations(None);
        let all = check(&spec, Policy::Warn).unwrap();
        assert_eq!(all.iter().filter(|l| l.contains("SKD-ESC-023")).count(), 4);
        assert_eq!(all.iter().filter(|l| l.contains("SKD-ESC-021")).count(), 1);
    }

    /// A refusal shows a few violations, counts the rest, and names the
    /// three ways to relax; runtime.toml's `ignore` takes a rule out.
    #[test]
    fn refusals_are_short_and_say_how_to_proceed() {
        let mut spec = crate::defaults::hardened_spec();
        let p = spec.process_mut().as_mut().unwrap();
        let mut caps = p.capabilities().clone().unwrap();
        let all: std::collections::HashSet<_> = [
            oci_spec::runtime::Capability::SysAdmin,
            oci_spec::runtime::Capability::SysPtrace,
            oci_spec::runtime::Capability::SysModule,
            oci_spec::runtime::Capability::SysRawio,
            oci_spec::runtime::Capability::Bpf,
            oci_spec::runtime::Capability::DacReadSearch,
        ]
        .into_iter()
        .collect();
        caps.set_bounding(Some(all));
        p.set_capabilities(Some(caps));
        let e = check(&spec, Policy::Default).unwrap_err();
        let Error::Policy { violations, .. } = &e else {
            panic!("{e}")
        };
        assert!(violations.len() > crate::error::POLICY_SHOWN, "{e}");
        let msg = e.to_string();
        assert!(msg.len() < 1500, "{} bytes: {msg}", msg.len());
        for want in [
            "and ",
            " more (all in --log)",
            "--policy=warn",
            "--runtime-flag policy=warn",
            "runtime.toml",
            "ignore = [\"SKD-ESC-010\"",
        ] {
            assert!(msg.contains(want), "{want:?}: {msg}");
        }
        let ids: Vec<String> = violations
            .iter()
            .map(|v| v.split(' ').next().unwrap().to_string())
            .collect();
        let ctx = Context {
            id: String::new(),
            ignore: ids,
        };
        assert!(check_in(&spec, Policy::Default, &ctx).is_ok());
    }

    #[test]
    fn hardened_default_passes_every_level() {
        let spec = crate::defaults::hardened_spec();
        for l in Level::ALL {
            let r = check(&spec, Policy::Enforce(l));
            assert!(r.is_ok(), "{l}: {r:?}");
        }
    }
}
