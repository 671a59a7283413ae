//! The 19 checks. Each function restates one upstream `check_*.go` function: the same fields,
//! the same allowed values, the same `ForbiddenReason` and aggregated `ForbiddenDetail` text, plus
//! one (field, message) item per offender for our violations.

use crate::catalogue::Level;
use crate::catalogue::{id, RuleId};
use crate::k8s::{containers, key_path, metadata_path, volume_sources, ContainerRef};
use k8s_openapi::api::core::v1::{LifecycleHandler, PodSpec, Probe, SELinuxOptions};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeSet;

/// What a check sees: the pod metadata, the defaulted spec and their field paths.
pub(crate) struct Ctx<'a> {
    meta: &'a ObjectMeta,
    spec: &'a PodSpec,
    /// Field path of the spec (`spec`, `spec.template.spec`, ...).
    sp: &'a str,
    /// Field path of the pod metadata (`metadata`, `spec.template.metadata`, ...).
    mp: String,
    containers: Vec<ContainerRef<'a>>,
    /// Whether PSA's aggregated detail is wanted ([`super::check_results`]) or only the
    /// per-offender items ([`super::evaluate`]).
    with_detail: bool,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        meta: &'a ObjectMeta,
        spec: &'a PodSpec,
        spec_path: &'a str,
        with_detail: bool,
    ) -> Self {
        Ctx {
            meta,
            spec,
            sp: spec_path,
            mp: metadata_path(spec_path),
            containers: containers(spec, spec_path).collect(),
            with_detail,
        }
    }

    /// PSA's aggregated `ForbiddenDetail`, built only when the caller wants it (empty
    /// otherwise: the audit keeps only the per-offender items).
    fn detail(&self, build: impl FnOnce() -> String) -> String {
        if self.with_detail {
            build()
        } else {
            String::new()
        }
    }

    fn windows(&self) -> bool {
        self.spec.os.as_ref().is_some_and(|os| os.name == "windows")
    }

    /// `relaxPolicyForUserNamespacePod`: `spec.hostUsers` explicitly false.
    fn user_namespace(&self) -> bool {
        self.spec.host_users == Some(false)
    }

    fn annotation_field(&self, key: &str) -> String {
        key_path(&format!("{}.annotations", self.mp), key)
    }
}

/// A failed check: PSA's reason and aggregated detail, and one (field, message) per offender.
pub(crate) struct Outcome {
    pub reason: String,
    pub detail: String,
    pub items: Vec<(String, String)>,
}

pub(crate) type CheckFn = fn(&Ctx) -> Option<Outcome>;

/// One version of a check.
pub(crate) struct Versioned {
    pub min_minor: u32,
    pub check: CheckFn,
    /// Baseline check ids this restricted check replaces at this version.
    pub overrides: &'static [&'static str],
}

/// A check with every version upstream defines.
pub(crate) struct Check {
    pub id: &'static str,
    pub rule_id: RuleId,
    pub level: Level,
    pub versions: &'static [Versioned],
}

impl Check {
    /// The version that applies at `v1.minor`: the one with the largest minimum ≤ minor.
    pub(crate) fn at(&self, minor: u32) -> Option<&Versioned> {
        self.versions.iter().rev().find(|v| v.min_minor <= minor)
    }
}

const fn v(min_minor: u32, check: CheckFn) -> Versioned {
    Versioned {
        min_minor,
        check,
        overrides: &[],
    }
}

const fn vo(min_minor: u32, check: CheckFn, overrides: &'static [&'static str]) -> Versioned {
    Versioned {
        min_minor,
        check,
        overrides,
    }
}

/// Every check, in PSA's evaluation order: baseline ids sorted (byte order), then restricted ids
/// sorted.
pub(crate) static CHECKS: &[Check] = &[
    Check {
        id: "appArmorProfile",
        rule_id: id::SKD_PSS_006,
        level: Level::Baseline,
        versions: &[v(0, app_armor_profile)],
    },
    Check {
        id: "capabilities_baseline",
        rule_id: id::SKD_PSS_003,
        level: Level::Baseline,
        versions: &[v(0, capabilities_baseline)],
    },
    Check {
        id: "hostNamespaces",
        rule_id: id::SKD_PSS_001,
        level: Level::Baseline,
        versions: &[v(0, host_namespaces)],
    },
    Check {
        id: "hostPathVolumes",
        rule_id: id::SKD_PSS_004,
        level: Level::Baseline,
        versions: &[v(0, host_path_volumes)],
    },
    Check {
        id: "hostPorts",
        rule_id: id::SKD_PSS_005,
        level: Level::Baseline,
        versions: &[v(0, host_ports)],
    },
    Check {
        id: "hostProbesAndHostLifecycle",
        rule_id: id::SKD_PSS_012,
        level: Level::Baseline,
        versions: &[v(34, host_probes_and_host_lifecycle)],
    },
    Check {
        id: "privileged",
        rule_id: id::SKD_PSS_002,
        level: Level::Baseline,
        versions: &[v(0, privileged)],
    },
    Check {
        id: "procMount",
        rule_id: id::SKD_PSS_008,
        level: Level::Baseline,
        versions: &[v(0, proc_mount_1_0), v(35, proc_mount_baseline_1_35)],
    },
    Check {
        id: "seLinuxOptions",
        rule_id: id::SKD_PSS_007,
        level: Level::Baseline,
        versions: &[v(0, se_linux_options_1_0), v(31, se_linux_options_1_31)],
    },
    Check {
        id: "seccompProfile_baseline",
        rule_id: id::SKD_PSS_009,
        level: Level::Baseline,
        versions: &[
            v(0, seccomp_profile_baseline_1_0),
            v(19, seccomp_profile_baseline_1_19),
        ],
    },
    Check {
        id: "sysctls",
        rule_id: id::SKD_PSS_010,
        level: Level::Baseline,
        versions: &[
            v(0, sysctls_1_0),
            v(27, sysctls_1_27),
            v(29, sysctls_1_29),
            v(32, sysctls_1_32),
            v(37, sysctls_1_37),
        ],
    },
    Check {
        id: "windowsHostProcess",
        rule_id: id::SKD_PSS_011,
        level: Level::Baseline,
        versions: &[v(0, windows_host_process)],
    },
    Check {
        id: "allowPrivilegeEscalation",
        rule_id: id::SKD_PSS_014,
        level: Level::Restricted,
        versions: &[
            v(8, allow_privilege_escalation_1_8),
            v(25, allow_privilege_escalation_1_25),
        ],
    },
    Check {
        id: "capabilities_restricted",
        rule_id: id::SKD_PSS_018,
        level: Level::Restricted,
        versions: &[
            vo(22, capabilities_restricted_1_22, &["capabilities_baseline"]),
            vo(25, capabilities_restricted_1_25, &["capabilities_baseline"]),
        ],
    },
    Check {
        id: "procMount_restricted",
        rule_id: id::SKD_PSS_019,
        level: Level::Restricted,
        versions: &[vo(35, proc_mount_1_0, &["procMount"])],
    },
    Check {
        id: "restrictedVolumes",
        rule_id: id::SKD_PSS_013,
        level: Level::Restricted,
        versions: &[vo(0, restricted_volumes, &["hostPathVolumes"])],
    },
    Check {
        id: "runAsNonRoot",
        rule_id: id::SKD_PSS_015,
        level: Level::Restricted,
        versions: &[v(0, run_as_non_root_1_0), v(35, run_as_non_root_1_35)],
    },
    Check {
        id: "runAsUser",
        rule_id: id::SKD_PSS_016,
        level: Level::Restricted,
        versions: &[v(23, run_as_user_1_23), v(35, run_as_user_1_35)],
    },
    Check {
        id: "seccompProfile_restricted",
        rule_id: id::SKD_PSS_017,
        level: Level::Restricted,
        versions: &[
            vo(
                19,
                seccomp_profile_restricted_1_19,
                &["seccompProfile_baseline"],
            ),
            vo(
                25,
                seccomp_profile_restricted_1_25,
                &["seccompProfile_baseline"],
            ),
        ],
    },
];

// ------------------------------------------------------------------------------------------------
// Formatting helpers (PSA's helpers.go)
// ------------------------------------------------------------------------------------------------

fn pluralize<'s>(singular: &'s str, plural: &'s str, n: usize) -> &'s str {
    if n == 1 {
        singular
    } else {
        plural
    }
}

/// `"a", "b"` (PSA's joinQuote: no escaping).
fn join_quote<S: AsRef<str>>(items: &[S]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        out.push_str(if i == 0 { "\"" } else { "\", \"" });
        out.push_str(item.as_ref());
    }
    if !items.is_empty() {
        out.push('"');
    }
    out
}

/// Go's `%q` of a string (strconv.Quote) for the characters that occur in manifests.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if go_unprintable(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The non-ASCII characters (below U+10000) that Go's `strconv.IsPrint` rejects and that can
/// plausibly appear in a manifest: C1 controls, non-ASCII spaces, and invisible format
/// characters (zero-width, bidi controls, BOM).
fn go_unprintable(c: char) -> bool {
    matches!(c as u32,
        0x80..=0x9f
        | 0xa0
        | 0xad
        | 0x1680
        | 0x180e
        | 0x2000..=0x200f
        | 0x2028..=0x202f
        | 0x205f..=0x2064
        | 0x2066..=0x206f
        | 0x3000
        | 0xfeff
        | 0xfff9..=0xfffb)
}

/// `container "a"` / `containers "a", "b"`.
fn containers_phrase<S: AsRef<str>>(names: &[S]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

/// `reason (container "name" rest)` — [`msg`] of `containers_phrase(&[name]) + " " + rest`, the
/// per-offender message of most checks, in one allocation.
fn container_msg(reason: &str, name: &str, rest: std::fmt::Arguments) -> String {
    let mut s = String::with_capacity(reason.len() + name.len() + 96);
    s.push_str(reason);
    s.push_str(" (container \"");
    s.push_str(name);
    s.push_str("\" ");
    match rest.as_str() {
        Some(r) => s.push_str(r),
        None => {
            let _ = std::fmt::Write::write_fmt(&mut s, rest);
        }
    }
    s.push(')');
    s
}

fn msg(reason: &str, detail: &str) -> String {
    if detail.is_empty() {
        reason.to_string()
    } else {
        format!("{reason} ({detail})")
    }
}

fn sorted(set: &BTreeSet<String>) -> Vec<String> {
    set.iter().cloned().collect()
}

// ------------------------------------------------------------------------------------------------
// Baseline
// ------------------------------------------------------------------------------------------------

/// appArmorProfile (v1.0): pod and container `appArmorProfile.type` must be RuntimeDefault or
/// Localhost; the beta annotations must be empty, `runtime/default` or `localhost/*`.
fn app_armor_profile(ctx: &Ctx) -> Option<Outcome> {
    fn allowed_type(t: &str) -> bool {
        matches!(t, "RuntimeDefault" | "Localhost")
    }
    fn allowed_annotation(v: &str) -> bool {
        v.is_empty() || v == "runtime/default" || v.starts_with("localhost/")
    }
    const PREFIX: &str = crate::k8s::APPARMOR_CONTAINER_ANNOTATION_PREFIX;

    let mut setters: Vec<String> = Vec::new();
    let mut bad_values: BTreeSet<String> = BTreeSet::new();
    let mut items = Vec::new();
    let one = |setter: &str, value: &str| {
        msg(
            "forbidden AppArmor profile",
            &format!("{setter} must not set AppArmor profile type to \"{value}\""),
        )
    };

    if let Some(p) = ctx
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.app_armor_profile.as_ref())
    {
        if !allowed_type(&p.type_) {
            setters.push("pod".into());
            bad_values.insert(p.type_.clone());
            items.push((
                format!("{}.securityContext.appArmorProfile.type", ctx.sp),
                one("pod", &p.type_),
            ));
        }
    }
    let mut bad_containers = Vec::new();
    for c in &ctx.containers {
        if let Some(p) = c
            .security_context
            .and_then(|s| s.app_armor_profile.as_ref())
        {
            if !allowed_type(&p.type_) {
                bad_containers.push(c.name);
                bad_values.insert(p.type_.clone());
                items.push((
                    format!("{}.securityContext.appArmorProfile.type", c.path),
                    one(&containers_phrase(&[c.name]), &p.type_),
                ));
            }
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }

    let mut forbidden_annotations = Vec::new();
    for (k, val) in ctx.meta.annotations.iter().flatten() {
        if k.starts_with(PREFIX) && !allowed_annotation(val) {
            let text = format!("{k}={}", go_quote(val));
            items.push((
                ctx.annotation_field(k),
                msg(
                    "forbidden AppArmor profile",
                    &format!("annotation must not set AppArmor profile type to \"{text}\""),
                ),
            ));
            forbidden_annotations.push(text);
        }
    }

    let mut bad_value_list = sorted(&bad_values);
    if !forbidden_annotations.is_empty() {
        forbidden_annotations.sort();
        setters
            .push(pluralize("annotation", "annotations", forbidden_annotations.len()).to_string());
        bad_value_list.extend(forbidden_annotations);
    }
    if setters.is_empty() {
        return None;
    }
    Some(Outcome {
        reason: pluralize(
            "forbidden AppArmor profile",
            "forbidden AppArmor profiles",
            bad_value_list.len(),
        )
        .to_string(),
        detail: format!(
            "{} must not set AppArmor profile type to {}",
            setters.join(" and "),
            join_quote(&bad_value_list)
        ),
        items,
    })
}

const CAPABILITIES_BASELINE: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// capabilities_baseline (v1.0): `capabilities.add` only from the default set (exact spelling).
fn capabilities_baseline(ctx: &Ctx) -> Option<Outcome> {
    let mut bad_containers = Vec::new();
    let mut caps: BTreeSet<String> = BTreeSet::new();
    let mut items = Vec::new();
    for c in &ctx.containers {
        let Some(add) = c
            .security_context
            .and_then(|s| s.capabilities.as_ref())
            .and_then(|k| k.add.as_ref())
        else {
            continue;
        };
        let mut valid = true;
        for (j, cap) in add.iter().enumerate() {
            if !CAPABILITIES_BASELINE.contains(&cap.as_str()) {
                valid = false;
                caps.insert(cap.clone());
                items.push((
                    format!("{}.securityContext.capabilities.add[{j}]", c.path),
                    container_msg(
                        "non-default capabilities",
                        c.name,
                        format_args!(
                            "must not include \"{cap}\" in securityContext.capabilities.add"
                        ),
                    ),
                ));
            }
        }
        if !valid {
            bad_containers.push(c.name);
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    Some(Outcome {
        reason: "non-default capabilities".into(),
        detail: ctx.detail(|| {
            format!(
                "{} must not include {} in securityContext.capabilities.add",
                containers_phrase(&bad_containers),
                join_quote(&sorted(&caps))
            )
        }),
        items,
    })
}

/// hostNamespaces (v1.0): hostNetwork, hostPID, hostIPC unset or false.
fn host_namespaces(ctx: &Ctx) -> Option<Outcome> {
    let mut found = Vec::new();
    let mut items = Vec::new();
    for (set, key) in [
        (ctx.spec.host_network, "hostNetwork"),
        (ctx.spec.host_pid, "hostPID"),
        (ctx.spec.host_ipc, "hostIPC"),
    ] {
        if set == Some(true) {
            let text = crate::cat(key, "=true");
            items.push((format!("{}.{key}", ctx.sp), msg("host namespaces", &text)));
            found.push(text);
        }
    }
    if found.is_empty() {
        return None;
    }
    Some(Outcome {
        reason: "host namespaces".into(),
        detail: ctx.detail(|| found.join(", ")),
        items,
    })
}

/// hostPathVolumes (v1.0): no hostPath volume.
fn host_path_volumes(ctx: &Ctx) -> Option<Outcome> {
    let mut names = Vec::new();
    let mut items = Vec::new();
    for (i, vol) in ctx.spec.volumes.iter().flatten().enumerate() {
        if vol.host_path.is_some() {
            names.push(vol.name.as_str());
            items.push((
                format!("{}.volumes[{i}].hostPath", ctx.sp),
                msg("hostPath volumes", &format!("volume \"{}\"", vol.name)),
            ));
        }
    }
    if names.is_empty() {
        return None;
    }
    Some(Outcome {
        reason: "hostPath volumes".into(),
        detail: ctx.detail(|| {
            format!(
                "{} {}",
                pluralize("volume", "volumes", names.len()),
                join_quote(&names)
            )
        }),
        items,
    })
}

/// hostPorts (v1.0): every `ports[*].hostPort` unset or 0.
fn host_ports(ctx: &Ctx) -> Option<Outcome> {
    let mut bad_containers = Vec::new();
    let mut ports: BTreeSet<String> = BTreeSet::new();
    let mut items = Vec::new();
    for c in &ctx.containers {
        let mut valid = true;
        for (j, p) in c.ports.iter().enumerate() {
            let hp = p.host_port.unwrap_or(0);
            if hp != 0 {
                valid = false;
                ports.insert(hp.to_string());
                items.push((
                    format!("{}.ports[{j}].hostPort", c.path),
                    container_msg("hostPort", c.name, format_args!("uses hostPort {hp}")),
                ));
            }
        }
        if !valid {
            bad_containers.push(c.name);
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    Some(Outcome {
        reason: "hostPort".into(),
        detail: ctx.detail(|| {
            format!(
                "{} {} {} {}",
                containers_phrase(&bad_containers),
                pluralize("uses", "use", bad_containers.len()),
                pluralize("hostPort", "hostPorts", ports.len()),
                sorted(&ports).join(", ")
            )
        }),
        items,
    })
}

/// hostProbesAndHostLifecycle (v1.34): probes' and lifecycle handlers' httpGet/tcpSocket `host`
/// must be empty.
fn host_probes_and_host_lifecycle(ctx: &Ctx) -> Option<Outcome> {
    let mut bad_containers: BTreeSet<String> = BTreeSet::new();
    let mut hosts: BTreeSet<String> = BTreeSet::new();
    let mut items = Vec::new();
    for c in &ctx.containers {
        let mut found: Vec<(String, String)> = Vec::new();
        let mut probe = |p: Option<&Probe>, key: &str| {
            let Some(p) = p else { return };
            if let Some(h) = p.http_get.as_ref().and_then(|g| g.host.as_deref()) {
                if !h.is_empty() {
                    found.push((format!("{}.{key}.httpGet.host", c.path), h.to_string()));
                }
            }
            if let Some(h) = p.tcp_socket.as_ref().and_then(|t| t.host.as_deref()) {
                if !h.is_empty() {
                    found.push((format!("{}.{key}.tcpSocket.host", c.path), h.to_string()));
                }
            }
        };
        probe(c.liveness_probe, "livenessProbe");
        probe(c.readiness_probe, "readinessProbe");
        probe(c.startup_probe, "startupProbe");
        if let Some(l) = c.lifecycle {
            let mut handler = |h: Option<&LifecycleHandler>, key: &str| {
                let Some(h) = h else { return };
                if let Some(host) = h.http_get.as_ref().and_then(|g| g.host.as_deref()) {
                    if !host.is_empty() {
                        found.push((
                            format!("{}.lifecycle.{key}.httpGet.host", c.path),
                            host.to_string(),
                        ));
                    }
                }
                if let Some(host) = h.tcp_socket.as_ref().and_then(|t| t.host.as_deref()) {
                    if !host.is_empty() {
                        found.push((
                            format!("{}.lifecycle.{key}.tcpSocket.host", c.path),
                            host.to_string(),
                        ));
                    }
                }
            };
            handler(l.post_start.as_ref(), "postStart");
            handler(l.pre_stop.as_ref(), "preStop");
        }
        for (field, host) in found {
            bad_containers.insert(c.name.to_string());
            hosts.insert(host.clone());
            items.push((
                field,
                msg(
                    "probe or lifecycle host",
                    &format!(
                        "{} uses probe or lifecycle host \"{host}\"",
                        containers_phrase(&[c.name])
                    ),
                ),
            ));
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    Some(Outcome {
        reason: "probe or lifecycle host".into(),
        detail: format!(
            "{} {} {} {}",
            containers_phrase(&sorted(&bad_containers)),
            pluralize("uses", "use", bad_containers.len()),
            pluralize(
                "probe or lifecycle host",
                "probe or lifecycle hosts",
                hosts.len()
            ),
            join_quote(&sorted(&hosts))
        ),
        items,
    })
}

/// privileged (v1.0): `securityContext.privileged` unset or false.
fn privileged(ctx: &Ctx) -> Option<Outcome> {
    let mut bad = Vec::new();
    let mut items = Vec::new();
    for c in &ctx.containers {
        if c.security_context.and_then(|s| s.privileged) == Some(true) {
            bad.push(c.name);
            items.push((
                format!("{}.securityContext.privileged", c.path),
                container_msg(
                    "privileged",
                    c.name,
                    format_args!("must not set securityContext.privileged=true"),
                ),
            ));
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(Outcome {
        reason: "privileged".into(),
        detail: ctx.detail(|| {
            format!(
                "{} must not set securityContext.privileged=true",
                containers_phrase(&bad)
            )
        }),
        items,
    })
}

/// procMount (v1.0), also procMount_restricted (v1.35): `procMount` unset or `Default`.
fn proc_mount_1_0(ctx: &Ctx) -> Option<Outcome> {
    let mut bad = Vec::new();
    let mut types: BTreeSet<String> = BTreeSet::new();
    let mut items = Vec::new();
    for c in &ctx.containers {
        let Some(pm) = c.security_context.and_then(|s| s.proc_mount.as_deref()) else {
            continue;
        };
        if pm != "Default" {
            bad.push(c.name);
            types.insert(pm.to_string());
            items.push((
                format!("{}.securityContext.procMount", c.path),
                msg(
                    "procMount",
                    &format!(
                        "{} must not set securityContext.procMount to \"{pm}\"",
                        containers_phrase(&[c.name])
                    ),
                ),
            ));
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(Outcome {
        reason: "procMount".into(),
        detail: format!(
            "{} must not set securityContext.procMount to {}",
            containers_phrase(&bad),
            join_quote(&sorted(&types))
        ),
        items,
    })
}

/// procMount (baseline, v1.35): any value is allowed in a user namespace (`hostUsers: false`).
fn proc_mount_baseline_1_35(ctx: &Ctx) -> Option<Outcome> {
    if ctx.user_namespace() {
        return None;
    }
    proc_mount_1_0(ctx)
}

const SELINUX_TYPES_1_0: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t"];
const SELINUX_TYPES_1_31: &[&str] = &[
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

fn se_linux_options_1_0(ctx: &Ctx) -> Option<Outcome> {
    se_linux_options(ctx, SELINUX_TYPES_1_0)
}

fn se_linux_options_1_31(ctx: &Ctx) -> Option<Outcome> {
    se_linux_options(ctx, SELINUX_TYPES_1_31)
}

/// seLinuxOptions (v1.0, v1.31): type from the allowed set, user and role empty.
fn se_linux_options(ctx: &Ctx, allowed: &[&str]) -> Option<Outcome> {
    let mut bad_types: BTreeSet<String> = BTreeSet::new();
    let mut set_user = false;
    let mut set_role = false;
    let mut setters: Vec<String> = Vec::new();
    let mut items = Vec::new();

    // Returns the per-offender "bad data" list, empty when valid.
    let mut check = |o: &SELinuxOptions| -> Vec<String> {
        let mut data = Vec::new();
        let t = o.type_.as_deref().unwrap_or("");
        if !allowed.contains(&t) {
            bad_types.insert(t.to_string());
            data.push(format!("type \"{t}\""));
        }
        if !o.user.as_deref().unwrap_or("").is_empty() {
            set_user = true;
            data.push("user may not be set".to_string());
        }
        if !o.role.as_deref().unwrap_or("").is_empty() {
            set_role = true;
            data.push("role may not be set".to_string());
        }
        data
    };
    let one = |setter: &str, data: &[String]| {
        msg(
            "seLinuxOptions",
            &format!(
                "{setter} set forbidden securityContext.seLinuxOptions: {}",
                data.join("; ")
            ),
        )
    };

    if let Some(o) = ctx
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.se_linux_options.as_ref())
    {
        let data = check(o);
        if !data.is_empty() {
            setters.push("pod".into());
            items.push((
                format!("{}.securityContext.seLinuxOptions", ctx.sp),
                one("pod", &data),
            ));
        }
    }
    let mut bad_containers = Vec::new();
    for c in &ctx.containers {
        if let Some(o) = c.security_context.and_then(|s| s.se_linux_options.as_ref()) {
            let data = check(o);
            if !data.is_empty() {
                bad_containers.push(c.name);
                items.push((
                    format!("{}.securityContext.seLinuxOptions", c.path),
                    one(&containers_phrase(&[c.name]), &data),
                ));
            }
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    if setters.is_empty() {
        return None;
    }
    let mut data = Vec::new();
    if !bad_types.is_empty() {
        data.push(format!(
            "{} {}",
            pluralize("type", "types", bad_types.len()),
            join_quote(&sorted(&bad_types))
        ));
    }
    if set_user {
        data.push("user may not be set".to_string());
    }
    if set_role {
        data.push("role may not be set".to_string());
    }
    Some(Outcome {
        reason: "seLinuxOptions".into(),
        detail: format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters.join(" and "),
            data.join("; ")
        ),
        items,
    })
}

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

fn valid_seccomp_type(t: &str) -> bool {
    matches!(t, "Localhost" | "RuntimeDefault")
}

/// seccompProfile_baseline (v1.0): the alpha seccomp annotations, when present, must be
/// `runtime/default`, `docker/default` or `localhost/*`.
fn seccomp_profile_baseline_1_0(ctx: &Ctx) -> Option<Outcome> {
    fn valid(v: &str) -> bool {
        v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/")
    }
    let annotations = ctx.meta.annotations.as_ref();
    let get = |k: &str| annotations.and_then(|a| a.get(k));
    let mut forbidden: BTreeSet<String> = BTreeSet::new();
    let mut items = Vec::new();
    let mut keys = vec![SECCOMP_POD_ANNOTATION.to_string()];
    keys.extend(
        ctx.containers
            .iter()
            .map(|c| format!("{SECCOMP_CONTAINER_ANNOTATION_PREFIX}{}", c.name)),
    );
    for key in keys {
        if let Some(val) = get(&key) {
            if !valid(val) {
                let text = format!("{key}={}", go_quote(val));
                if forbidden.insert(text.clone()) {
                    items.push((
                        ctx.annotation_field(&key),
                        msg("seccompProfile", &format!("forbidden annotation {text}")),
                    ));
                }
            }
        }
    }
    if forbidden.is_empty() {
        return None;
    }
    Some(Outcome {
        reason: "seccompProfile".into(),
        detail: format!(
            "forbidden {} {}",
            pluralize("annotation", "annotations", forbidden.len()),
            sorted(&forbidden).join(", ")
        ),
        items,
    })
}

/// seccompProfile_baseline (v1.19): `seccompProfile.type`, where set, must be RuntimeDefault or
/// Localhost (unset is fine).
fn seccomp_profile_baseline_1_19(ctx: &Ctx) -> Option<Outcome> {
    seccomp_profile(ctx, false)
}

/// seccompProfile_restricted (v1.19): as baseline, and every container must get RuntimeDefault
/// or Localhost from its own field or the pod's.
fn seccomp_profile_restricted_1_19(ctx: &Ctx) -> Option<Outcome> {
    seccomp_profile(ctx, true)
}

/// seccompProfile_restricted (v1.25): Windows pods are exempt.
fn seccomp_profile_restricted_1_25(ctx: &Ctx) -> Option<Outcome> {
    if ctx.windows() {
        return None;
    }
    seccomp_profile_restricted_1_19(ctx)
}

fn seccomp_profile(ctx: &Ctx, required: bool) -> Option<Outcome> {
    let mut setters: Vec<String> = Vec::new();
    let mut bad_values: BTreeSet<String> = BTreeSet::new();
    let mut items = Vec::new();
    let explicit = |setter: &str, t: &str| {
        msg(
            "seccompProfile",
            &format!("{setter} must not set securityContext.seccompProfile.type to \"{t}\""),
        )
    };

    let mut pod_set = false;
    if let Some(p) = ctx
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref())
    {
        if valid_seccomp_type(&p.type_) {
            pod_set = true;
        } else {
            setters.push("pod".into());
            bad_values.insert(p.type_.clone());
            items.push((
                format!("{}.securityContext.seccompProfile.type", ctx.sp),
                explicit("pod", &p.type_),
            ));
        }
    }

    let mut explicitly_bad = Vec::new();
    let mut implicitly_bad: Vec<&ContainerRef> = Vec::new();
    for c in &ctx.containers {
        match c.security_context.and_then(|s| s.seccomp_profile.as_ref()) {
            Some(p) => {
                if !valid_seccomp_type(&p.type_) {
                    explicitly_bad.push(c.name);
                    bad_values.insert(p.type_.clone());
                    items.push((
                        format!("{}.securityContext.seccompProfile.type", c.path),
                        explicit(&containers_phrase(&[c.name]), &p.type_),
                    ));
                }
            }
            None => {
                if !pod_set {
                    implicitly_bad.push(c);
                }
            }
        }
    }
    if !explicitly_bad.is_empty() {
        setters.push(containers_phrase(&explicitly_bad));
    }
    if !setters.is_empty() {
        return Some(Outcome {
            reason: "seccompProfile".into(),
            detail: ctx.detail(|| {
                format!(
                    "{} must not set securityContext.seccompProfile.type to {}",
                    setters.join(" and "),
                    join_quote(&sorted(&bad_values))
                )
            }),
            items,
        });
    }
    if required && !implicitly_bad.is_empty() {
        let must = |names: &[&str]| {
            format!(
                "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                containers_phrase(names)
            )
        };
        return Some(Outcome {
            reason: "seccompProfile".into(),
            detail: ctx.detail(|| must(&implicitly_bad.iter().map(|c| c.name).collect::<Vec<_>>())),
            items: implicitly_bad
                .iter()
                .map(|c| {
                    (
                        format!("{}.securityContext.seccompProfile.type", c.path),
                        // msg("seccompProfile", &must(&[c.name])), in one allocation.
                        format!(
                            "seccompProfile (pod or container \"{}\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")",
                            c.name
                        ),
                    )
                })
                .collect(),
        });
    }
    None
}

/// Whether Pod Security allows the sysctl `name` at version 1.`minor`: it is in one of the lists
/// `[rule.params] "v1.N"` of SKD-PSS-010 with N <= `minor`.
pub fn safe_sysctl(name: &str, minor: u32) -> bool {
    crate::catalogue::id::SKD_PSS_010
        .rule()
        .params
        .iter()
        .any(|(version, names)| {
            version
                .strip_prefix("v1.")
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n <= minor)
                && names.iter().any(|s| s == name)
        })
}

fn sysctls_1_0(ctx: &Ctx) -> Option<Outcome> {
    sysctls(ctx, 0)
}
fn sysctls_1_27(ctx: &Ctx) -> Option<Outcome> {
    sysctls(ctx, 27)
}
fn sysctls_1_29(ctx: &Ctx) -> Option<Outcome> {
    sysctls(ctx, 29)
}
fn sysctls_1_32(ctx: &Ctx) -> Option<Outcome> {
    sysctls(ctx, 32)
}
fn sysctls_1_37(ctx: &Ctx) -> Option<Outcome> {
    sysctls(ctx, 37)
}

/// sysctls (v1.0, v1.27, v1.29, v1.32, v1.37): only the safe set of the version.
fn sysctls(ctx: &Ctx, minor: u32) -> Option<Outcome> {
    let mut names = Vec::new();
    let mut items = Vec::new();
    let list = ctx
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.sysctls.as_ref());
    for (i, s) in list.into_iter().flatten().enumerate() {
        if !safe_sysctl(&s.name, minor) {
            names.push(s.name.as_str());
            items.push((
                format!("{}.securityContext.sysctls[{i}].name", ctx.sp),
                msg("forbidden sysctls", &s.name),
            ));
        }
    }
    if names.is_empty() {
        return None;
    }
    Some(Outcome {
        reason: "forbidden sysctls".into(),
        detail: names.join(", "),
        items,
    })
}

/// windowsHostProcess (v1.0): `windowsOptions.hostProcess` unset or false, pod and containers.
fn windows_host_process(ctx: &Ctx) -> Option<Outcome> {
    let one = |setter: &str| {
        msg(
            "hostProcess",
            &crate::cat(
                setter,
                " must not set securityContext.windowsOptions.hostProcess=true",
            ),
        )
    };
    let mut items = Vec::new();
    let mut bad = Vec::new();
    for c in &ctx.containers {
        let hp = c
            .security_context
            .and_then(|s| s.windows_options.as_ref())
            .and_then(|w| w.host_process);
        if hp == Some(true) {
            bad.push(c.name);
            items.push((
                format!("{}.securityContext.windowsOptions.hostProcess", c.path),
                one(&containers_phrase(&[c.name])),
            ));
        }
    }
    let pod = ctx
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.windows_options.as_ref())
        .and_then(|w| w.host_process)
        == Some(true);
    let mut setters = Vec::new();
    if pod {
        setters.push("pod".to_string());
        items.insert(
            0,
            (
                format!("{}.securityContext.windowsOptions.hostProcess", ctx.sp),
                one("pod"),
            ),
        );
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    Some(Outcome {
        reason: "hostProcess".into(),
        detail: format!(
            "{} must not set securityContext.windowsOptions.hostProcess=true",
            setters.join(" and ")
        ),
        items,
    })
}

// ------------------------------------------------------------------------------------------------
// Restricted
// ------------------------------------------------------------------------------------------------

/// allowPrivilegeEscalation (v1.8): every container must set it to false explicitly.
fn allow_privilege_escalation_1_8(ctx: &Ctx) -> Option<Outcome> {
    let mut bad = Vec::new();
    let mut items = Vec::new();
    for c in &ctx.containers {
        if c.security_context
            .and_then(|s| s.allow_privilege_escalation)
            .unwrap_or(true)
        {
            bad.push(c.name);
            items.push((
                format!("{}.securityContext.allowPrivilegeEscalation", c.path),
                container_msg(
                    "allowPrivilegeEscalation != false",
                    c.name,
                    format_args!("must set securityContext.allowPrivilegeEscalation=false"),
                ),
            ));
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(Outcome {
        reason: "allowPrivilegeEscalation != false".into(),
        detail: ctx.detail(|| {
            format!(
                "{} must set securityContext.allowPrivilegeEscalation=false",
                containers_phrase(&bad)
            )
        }),
        items,
    })
}

/// allowPrivilegeEscalation (v1.25): Windows pods are exempt.
fn allow_privilege_escalation_1_25(ctx: &Ctx) -> Option<Outcome> {
    if ctx.windows() {
        return None;
    }
    allow_privilege_escalation_1_8(ctx)
}

/// capabilities_restricted (v1.22): drop must contain `ALL`; add only `NET_BIND_SERVICE`.
fn capabilities_restricted_1_22(ctx: &Ctx) -> Option<Outcome> {
    const REASON: &str = "unrestricted capabilities";
    let mut missing_drop = Vec::new();
    let mut adding = Vec::new();
    let mut forbidden: BTreeSet<String> = BTreeSet::new();
    let mut items = Vec::new();
    for c in &ctx.containers {
        let caps = c.security_context.and_then(|s| s.capabilities.as_ref());
        let dropped_all = caps
            .and_then(|k| k.drop.as_ref())
            .is_some_and(|d| d.iter().any(|x| x == "ALL"));
        if !dropped_all {
            missing_drop.push(c.name);
            items.push((
                format!("{}.securityContext.capabilities.drop", c.path),
                container_msg(
                    REASON,
                    c.name,
                    format_args!("must set securityContext.capabilities.drop=[\"ALL\"]"),
                ),
            ));
        }
        let mut added_forbidden = false;
        for (j, cap) in caps
            .and_then(|k| k.add.as_ref())
            .into_iter()
            .flatten()
            .enumerate()
        {
            if cap != "NET_BIND_SERVICE" {
                added_forbidden = true;
                if ctx.with_detail {
                    forbidden.insert(cap.clone());
                }
                items.push((
                    format!("{}.securityContext.capabilities.add[{j}]", c.path),
                    container_msg(
                        REASON,
                        c.name,
                        format_args!(
                            "must not include \"{cap}\" in securityContext.capabilities.add"
                        ),
                    ),
                ));
            }
        }
        if added_forbidden {
            adding.push(c.name);
        }
    }
    if missing_drop.is_empty() && adding.is_empty() {
        return None;
    }
    let detail = ctx.detail(|| {
        let mut details = Vec::new();
        if !missing_drop.is_empty() {
            details.push(format!(
                "{} must set securityContext.capabilities.drop=[\"ALL\"]",
                containers_phrase(&missing_drop)
            ));
        }
        if !adding.is_empty() {
            details.push(format!(
                "{} must not include {} in securityContext.capabilities.add",
                containers_phrase(&adding),
                join_quote(&sorted(&forbidden))
            ));
        }
        details.join("; ")
    });
    Some(Outcome {
        reason: REASON.into(),
        detail,
        items,
    })
}

/// capabilities_restricted (v1.25): Windows pods are exempt.
fn capabilities_restricted_1_25(ctx: &Ctx) -> Option<Outcome> {
    if ctx.windows() {
        return None;
    }
    capabilities_restricted_1_22(ctx)
}

/// restrictedVolumes (v1.0): only configMap, csi, downwardAPI, emptyDir, ephemeral, image,
/// persistentVolumeClaim, projected and secret volumes.
fn restricted_volumes(ctx: &Ctx) -> Option<Outcome> {
    const ALLOWED: &[&str] = &[
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ];
    let mut names = Vec::new();
    let mut types: BTreeSet<String> = BTreeSet::new();
    let mut items = Vec::new();
    for (i, vol) in ctx.spec.volumes.iter().flatten().enumerate() {
        let sources = volume_sources(vol);
        let allowed = sources.iter().any(|(k, set)| *set && ALLOWED.contains(k));
        // The first restricted source in upstream's switch order names the type.
        let restricted = sources
            .iter()
            .find(|(k, set)| *set && !ALLOWED.contains(k))
            .map(|(k, _)| *k);
        // Upstream lets a volume through as soon as it has an allowed source. A volume with an
        // allowed *and* a restricted source (`emptyDir` + `hostPath`) never reaches PSA — API
        // validation rejects it first — but a static audit does see it, and at restricted the
        // baseline hostPath check is overridden; so we fail it (same cluster verdict).
        let kind = match (allowed, restricted) {
            (true, None) => continue,
            (_, Some(k)) => k,
            (false, None) => "unknown",
        };
        let field = if kind == "unknown" {
            format!("{}.volumes[{i}]", ctx.sp)
        } else {
            format!("{}.volumes[{i}].{kind}", ctx.sp)
        };
        names.push(vol.name.as_str());
        types.insert(kind.to_string());
        items.push((
            field,
            msg(
                "restricted volume types",
                &format!(
                    "volume \"{}\" uses restricted volume type \"{kind}\"",
                    vol.name
                ),
            ),
        ));
    }
    if names.is_empty() {
        return None;
    }
    Some(Outcome {
        reason: "restricted volume types".into(),
        detail: ctx.detail(|| {
            format!(
                "{} {} {} {} {}",
                pluralize("volume", "volumes", names.len()),
                join_quote(&names),
                pluralize("uses", "use", names.len()),
                pluralize(
                    "restricted volume type",
                    "restricted volume types",
                    types.len()
                ),
                join_quote(&sorted(&types))
            )
        }),
        items,
    })
}

/// runAsNonRoot (v1.0): the pod sets true and no container sets false, or every container sets
/// true; an explicit false anywhere fails.
fn run_as_non_root_1_0(ctx: &Ctx) -> Option<Outcome> {
    const REASON: &str = "runAsNonRoot != true";
    let mut setters: Vec<String> = Vec::new();
    let mut items = Vec::new();
    let explicit = |setter: &str| {
        msg(
            REASON,
            &crate::cat(setter, " must not set securityContext.runAsNonRoot=false"),
        )
    };
    let mut pod_true = false;
    match ctx
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.run_as_non_root)
    {
        Some(false) => {
            setters.push("pod".into());
            items.push((
                format!("{}.securityContext.runAsNonRoot", ctx.sp),
                explicit("pod"),
            ));
        }
        Some(true) => pod_true = true,
        None => {}
    }
    let mut explicitly_bad = Vec::new();
    let mut implicitly_bad: Vec<&ContainerRef> = Vec::new();
    for c in &ctx.containers {
        match c.security_context.and_then(|s| s.run_as_non_root) {
            Some(false) => {
                explicitly_bad.push(c.name);
                items.push((
                    format!("{}.securityContext.runAsNonRoot", c.path),
                    explicit(&containers_phrase(&[c.name])),
                ));
            }
            Some(true) => {}
            None => {
                if !pod_true {
                    implicitly_bad.push(c);
                }
            }
        }
    }
    if !explicitly_bad.is_empty() {
        setters.push(containers_phrase(&explicitly_bad));
    }
    if !setters.is_empty() {
        return Some(Outcome {
            reason: REASON.into(),
            detail: ctx.detail(|| {
                format!(
                    "{} must not set securityContext.runAsNonRoot=false",
                    setters.join(" and ")
                )
            }),
            items,
        });
    }
    if implicitly_bad.is_empty() {
        return None;
    }
    let must = |names: &[&str]| {
        format!(
            "pod or {} must set securityContext.runAsNonRoot=true",
            containers_phrase(names)
        )
    };
    Some(Outcome {
        reason: REASON.into(),
        detail: ctx.detail(|| must(&implicitly_bad.iter().map(|c| c.name).collect::<Vec<_>>())),
        items: implicitly_bad
            .iter()
            .map(|c| {
                (
                    format!("{}.securityContext.runAsNonRoot", c.path),
                    // msg(REASON, &must(&[c.name])), in one allocation.
                    format!(
                        "{REASON} (pod or container \"{}\" must set securityContext.runAsNonRoot=true)",
                        c.name
                    ),
                )
            })
            .collect(),
    })
}

/// runAsNonRoot (v1.35): relaxed in a user namespace (`hostUsers: false`).
fn run_as_non_root_1_35(ctx: &Ctx) -> Option<Outcome> {
    if ctx.user_namespace() {
        return None;
    }
    run_as_non_root_1_0(ctx)
}

/// runAsUser (v1.23): runAsUser must not be 0 at pod or container level.
fn run_as_user_1_23(ctx: &Ctx) -> Option<Outcome> {
    const REASON: &str = "runAsUser=0";
    let one = |setter: &str| msg(REASON, &crate::cat(setter, " must not set runAsUser=0"));
    let mut setters: Vec<String> = Vec::new();
    let mut items = Vec::new();
    if ctx
        .spec
        .security_context
        .as_ref()
        .and_then(|s| s.run_as_user)
        == Some(0)
    {
        setters.push("pod".into());
        items.push((format!("{}.securityContext.runAsUser", ctx.sp), one("pod")));
    }
    let mut bad = Vec::new();
    for c in &ctx.containers {
        if c.security_context.and_then(|s| s.run_as_user) == Some(0) {
            bad.push(c.name);
            items.push((
                format!("{}.securityContext.runAsUser", c.path),
                one(&containers_phrase(&[c.name])),
            ));
        }
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    Some(Outcome {
        reason: REASON.into(),
        detail: format!("{} must not set runAsUser=0", setters.join(" and ")),
        items,
    })
}

/// runAsUser (v1.35): relaxed in a user namespace (`hostUsers: false`).
fn run_as_user_1_35(ctx: &Ctx) -> Option<Outcome> {
    if ctx.user_namespace() {
        return None;
    }
    run_as_user_1_23(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("unconfined"), r#""unconfined""#);
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("x\ny\u{1}"), r#""x\ny\x01""#);
        assert_eq!(go_quote("zero\u{200b}width"), r#""zero\u200bwidth""#);
        assert_eq!(go_quote("caf\u{e9}"), "\"caf\u{e9}\"");
    }

    #[test]
    fn joins_like_psa() {
        assert_eq!(join_quote::<&str>(&[]), "");
        assert_eq!(join_quote(&["a", "b"]), r#""a", "b""#);
        assert_eq!(containers_phrase(&["a"]), r#"container "a""#);
        assert_eq!(containers_phrase(&["a", "b"]), r#"containers "a", "b""#);
    }
}
