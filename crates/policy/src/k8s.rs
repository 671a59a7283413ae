//! Kubernetes pod specs: API-server defaulting, the normalized view of a pod (for the
//! cross-format escape rules) and the escape rules that only exist in Kubernetes terms (gitRepo,
//! subPath on hostPath, Bidirectional propagation, shareProcessNamespace).
//!
//! Field paths are prefixed with the workload's `spec_path` and use the manifest's own key names:
//! `spec.template.spec.containers[0].securityContext.privileged`.

use crate::catalogue::id;
use crate::catalogue::Format;
use crate::model::{
    ContainerView, Field, HostMount, Namespace, PodWorkload, Seccomp, UserView, Violation,
    WorkloadView,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, EphemeralContainer, Lifecycle, PodSpec, Probe,
    ResourceRequirements, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

// ------------------------------------------------------------------------------------------------
// Pod-bearing kinds
// ------------------------------------------------------------------------------------------------

/// A Kubernetes kind that carries a pod spec: what `stockade audit` reads as a workload and what
/// the admission webhook evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodKind {
    /// API group (`""` for the core group).
    pub group: &'static str,
    pub kind: &'static str,
    /// Plural resource name, as an admission request names it.
    pub resource: &'static str,
    /// Field path of the pod spec in the object.
    pub spec_path: &'static str,
}

/// Every pod-bearing kind.
pub const POD_KINDS: &[PodKind] = &[
    pod_kind_of("", "Pod", "pods", "spec"),
    pod_kind_of("apps", "Deployment", "deployments", "spec.template.spec"),
    pod_kind_of("apps", "StatefulSet", "statefulsets", "spec.template.spec"),
    pod_kind_of("apps", "DaemonSet", "daemonsets", "spec.template.spec"),
    pod_kind_of("apps", "ReplicaSet", "replicasets", "spec.template.spec"),
    pod_kind_of(
        "",
        "ReplicationController",
        "replicationcontrollers",
        "spec.template.spec",
    ),
    pod_kind_of("batch", "Job", "jobs", "spec.template.spec"),
    pod_kind_of(
        "batch",
        "CronJob",
        "cronjobs",
        "spec.jobTemplate.spec.template.spec",
    ),
    pod_kind_of("", "PodTemplate", "podtemplates", "template.spec"),
];

const fn pod_kind_of(
    group: &'static str,
    kind: &'static str,
    resource: &'static str,
    spec_path: &'static str,
) -> PodKind {
    PodKind {
        group,
        kind,
        resource,
        spec_path,
    }
}

/// The pod-bearing kind named `kind` (exactly, as in `kind:`), in any group.
pub fn pod_kind(kind: &str) -> Option<&'static PodKind> {
    POD_KINDS.iter().find(|k| k.kind == kind)
}

// ------------------------------------------------------------------------------------------------
// Defaulting
// ------------------------------------------------------------------------------------------------

/// Apply the API server's defaulting that Pod Security admission can observe.
///
/// PSA runs on the object *after* the API server has defaulted it, so a static check must do the
/// same or it disagrees with the cluster. Two defaults change what the checks see
/// (`k8s.io/kubernetes/pkg/apis/core/v1/defaults.go`):
///
/// * a volume that names no source becomes an `emptyDir` (`setDefaults_Volume`) — without this,
///   the restricted `restrictedVolumes` check would reject it as an unknown volume type;
/// * with `hostNetwork: true`, every port of a container or init container that has no
///   `hostPort` gets `hostPort := containerPort` (`defaultHostNetworkPorts`). Current API servers
///   do this for Pods only (templates behind a feature gate); we do it for every pod spec, which
///   changes only PSA's message, never its verdict (hostNetwork already fails baseline).
///
/// Every other default (dnsPolicy, restartPolicy, probe timings, imagePullPolicy, an empty pod
/// `securityContext`, ...) is invisible to the checks and left alone. The function is
/// idempotent. [`crate::pss::evaluate`] applies it itself (on a copy, only when it would change
/// something), so callers need not; readers may call it too so that every consumer sees the
/// defaulted object.
pub fn apply_defaults(spec: &mut PodSpec) {
    for v in spec.volumes.iter_mut().flatten() {
        if volume_has_no_source(v) {
            v.empty_dir = Some(EmptyDirVolumeSource::default());
        }
    }
    if spec.host_network == Some(true) {
        let init = spec.init_containers.iter_mut().flatten();
        for c in spec.containers.iter_mut().chain(init) {
            for p in c.ports.iter_mut().flatten() {
                if p.host_port.unwrap_or(0) == 0 {
                    p.host_port = Some(p.container_port);
                }
            }
        }
    }
}

/// Whether [`apply_defaults`] would change this spec.
pub fn needs_defaults(spec: &PodSpec) -> bool {
    spec.volumes.iter().flatten().any(volume_has_no_source)
        || (spec.host_network == Some(true)
            && spec
                .containers
                .iter()
                .chain(spec.init_containers.iter().flatten())
                .flat_map(|c| c.ports.iter().flatten())
                .any(|p| p.host_port.unwrap_or(0) == 0))
}

/// Every volume source a `Volume` can name, with its JSON key (in the order of the Go struct).
pub(crate) fn volume_sources(v: &Volume) -> [(&'static str, bool); 30] {
    [
        ("hostPath", v.host_path.is_some()),
        ("emptyDir", v.empty_dir.is_some()),
        ("gcePersistentDisk", v.gce_persistent_disk.is_some()),
        ("awsElasticBlockStore", v.aws_elastic_block_store.is_some()),
        ("gitRepo", v.git_repo.is_some()),
        ("secret", v.secret.is_some()),
        ("nfs", v.nfs.is_some()),
        ("iscsi", v.iscsi.is_some()),
        ("glusterfs", v.glusterfs.is_some()),
        ("persistentVolumeClaim", v.persistent_volume_claim.is_some()),
        ("rbd", v.rbd.is_some()),
        ("flexVolume", v.flex_volume.is_some()),
        ("cinder", v.cinder.is_some()),
        ("cephfs", v.cephfs.is_some()),
        ("flocker", v.flocker.is_some()),
        ("downwardAPI", v.downward_api.is_some()),
        ("fc", v.fc.is_some()),
        ("azureFile", v.azure_file.is_some()),
        ("configMap", v.config_map.is_some()),
        ("vsphereVolume", v.vsphere_volume.is_some()),
        ("quobyte", v.quobyte.is_some()),
        ("azureDisk", v.azure_disk.is_some()),
        ("photonPersistentDisk", v.photon_persistent_disk.is_some()),
        ("projected", v.projected.is_some()),
        ("portworxVolume", v.portworx_volume.is_some()),
        ("scaleIO", v.scale_io.is_some()),
        ("storageos", v.storageos.is_some()),
        ("csi", v.csi.is_some()),
        ("ephemeral", v.ephemeral.is_some()),
        ("image", v.image.is_some()),
    ]
}

fn volume_has_no_source(v: &Volume) -> bool {
    volume_sources(v).iter().all(|(_, set)| !set)
}

// ------------------------------------------------------------------------------------------------
// Containers and field paths
// ------------------------------------------------------------------------------------------------

/// The field path of one container, written out only when a finding names it: it displays as
/// `spec.containers[0]`, `spec.initContainers[1]`, `spec.ephemeralContainers[0]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ContainerPath<'a> {
    spec_path: &'a str,
    /// `initContainers`, `containers` or `ephemeralContainers`.
    list: &'static str,
    index: usize,
}

impl std::fmt::Display for ContainerPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.spec_path)?;
        f.write_str(".")?;
        f.write_str(self.list)?;
        f.write_str("[")?;
        std::fmt::Display::fmt(&self.index, f)?;
        f.write_str("]")
    }
}

/// One container of any of the pod's three lists, borrowed, with its field path.
#[derive(Debug, Clone)]
pub(crate) struct ContainerRef<'a> {
    /// `spec.containers[0]`, `spec.initContainers[1]`, `spec.ephemeralContainers[0]`.
    pub path: ContainerPath<'a>,
    pub name: &'a str,
    pub security_context: Option<&'a SecurityContext>,
    pub ports: &'a [ContainerPort],
    pub liveness_probe: Option<&'a Probe>,
    pub readiness_probe: Option<&'a Probe>,
    pub startup_probe: Option<&'a Probe>,
    pub lifecycle: Option<&'a Lifecycle>,
    pub volume_mounts: &'a [VolumeMount],
    pub resources: Option<&'a ResourceRequirements>,
    pub working_dir: Option<&'a str>,
}

impl<'a> ContainerRef<'a> {
    fn from_container(c: &'a Container, path: ContainerPath<'a>) -> Self {
        ContainerRef {
            path,
            name: &c.name,
            security_context: c.security_context.as_ref(),
            ports: c.ports.as_deref().unwrap_or(&[]),
            liveness_probe: c.liveness_probe.as_ref(),
            readiness_probe: c.readiness_probe.as_ref(),
            startup_probe: c.startup_probe.as_ref(),
            lifecycle: c.lifecycle.as_ref(),
            volume_mounts: c.volume_mounts.as_deref().unwrap_or(&[]),
            resources: c.resources.as_ref(),
            working_dir: c.working_dir.as_deref(),
        }
    }

    fn from_ephemeral(c: &'a EphemeralContainer, path: ContainerPath<'a>) -> Self {
        ContainerRef {
            path,
            name: &c.name,
            security_context: c.security_context.as_ref(),
            ports: c.ports.as_deref().unwrap_or(&[]),
            liveness_probe: c.liveness_probe.as_ref(),
            readiness_probe: c.readiness_probe.as_ref(),
            startup_probe: c.startup_probe.as_ref(),
            lifecycle: c.lifecycle.as_ref(),
            volume_mounts: c.volume_mounts.as_deref().unwrap_or(&[]),
            resources: c.resources.as_ref(),
            working_dir: c.working_dir.as_deref(),
        }
    }
}

/// Every container in PSA's visiting order: initContainers, containers, ephemeralContainers.
/// Borrowed and built as it is visited: a rule walking the containers allocates nothing (a pod
/// of 6,741 containers made a 1 MB list for each of the five walks of one evaluation).
pub(crate) fn containers<'a>(
    spec: &'a PodSpec,
    spec_path: &'a str,
) -> impl Iterator<Item = ContainerRef<'a>> + Clone + 'a {
    let init = spec.init_containers.as_deref().unwrap_or(&[]);
    let ephemeral = spec.ephemeral_containers.as_deref().unwrap_or(&[]);
    let path = move |list, index| ContainerPath {
        spec_path,
        list,
        index,
    };
    let init = init
        .iter()
        .enumerate()
        .map(move |(i, c)| ContainerRef::from_container(c, path("initContainers", i)));
    let main = spec
        .containers
        .iter()
        .enumerate()
        .map(move |(i, c)| ContainerRef::from_container(c, path("containers", i)));
    let ephemeral = ephemeral
        .iter()
        .enumerate()
        .map(move |(i, c)| ContainerRef::from_ephemeral(c, path("ephemeralContainers", i)));
    init.chain(main).chain(ephemeral)
}

/// The field path of the pod metadata that goes with `spec_path`: `spec` → `metadata`,
/// `spec.template.spec` → `spec.template.metadata`.
pub(crate) fn metadata_path(spec_path: &str) -> String {
    match spec_path.strip_suffix("spec") {
        Some(prefix) if prefix.is_empty() || prefix.ends_with('.') => {
            crate::cat(prefix, "metadata")
        }
        _ => "metadata".to_string(),
    }
}

/// A map key appended to a field path: `.name` for identifier-like keys, `['key']` otherwise.
pub(crate) fn key_path(base: &str, key: &str) -> String {
    let ident = !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ident {
        format!("{base}.{key}")
    } else {
        format!(
            "{base}['{}']",
            key.replace('\\', "\\\\").replace('\'', "\\'")
        )
    }
}

// ------------------------------------------------------------------------------------------------
// Quantities
// ------------------------------------------------------------------------------------------------

/// Parse a Kubernetes resource quantity (`512Mi`, `1G`, `1.5Gi`, `128974848`, `129e6`, `100m`)
/// to a whole number of units, rounding up as `Quantity.Value()` does. `None` for anything that
/// is not a valid quantity or does not fit in an `i64`.
pub fn parse_quantity(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, suffix) = split_quantity(s)?;
    let (neg, digits) = match num.as_bytes().first() {
        Some(b'-') => (true, &num[1..]),
        Some(b'+') => (false, &num[1..]),
        _ => (false, num),
    };
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // value = mantissa * base^exp10 * 2^exp2, where mantissa = int.frac as an integer and the
    // fraction's length lowers the decimal exponent.
    let mantissa: u128 = format!("{int_part}{frac_part}").parse().ok()?;
    let (mut exp10, exp2): (i64, u32) = match suffix {
        "" => (0, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        e if e.starts_with(['e', 'E']) => (e[1..].parse::<i64>().ok()?, 0),
        _ => return None,
    };
    exp10 -= frac_part.len() as i64;
    let mut value = mantissa.checked_mul(1u128.checked_shl(exp2)?)?;
    if exp10 >= 0 {
        let p = 10u128.checked_pow(u32::try_from(exp10).ok()?)?;
        value = value.checked_mul(p)?;
    } else {
        let p = 10u128.checked_pow(u32::try_from(-exp10).ok()?);
        value = match p {
            Some(p) => value.div_ceil(p),
            // Divisor beyond u128: any non-zero value rounds up to 1.
            None => u128::from(value != 0),
        };
    }
    let value = i64::try_from(value).ok()?;
    Some(if neg { -value } else { value })
}

fn split_quantity(s: &str) -> Option<(&str, &str)> {
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || ((c == '-' || c == '+') && i == 0)))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    Some((&s[..end], &s[end..]))
}

// ------------------------------------------------------------------------------------------------
// The normalized view
// ------------------------------------------------------------------------------------------------

/// The key prefix of a container's AppArmor annotation (the container's name follows).
pub(crate) const APPARMOR_CONTAINER_ANNOTATION_PREFIX: &str =
    "container.apparmor.security.beta.kubernetes.io/";

/// The normalized view of a pod-bearing object, for the cross-format escape rules.
///
/// Values are the effective ones: a container's securityContext overrides the pod's for the
/// user and seccomp; AppArmor and SELinux likewise. Unset values stay unset (`None`, `Unset`)
/// with the field where they would go.
pub fn pod_view(w: &PodWorkload) -> WorkloadView {
    let spec = &w.spec;
    let sp = w.spec_path.as_str();
    let mp = metadata_path(sp);
    let pod_sc = spec.security_context.as_ref();
    let mut view = WorkloadView::new(Format::Kubernetes);
    view.containers.reserve(containers(spec, sp).size_hint().0);

    let userns = spec.host_users == Some(false);
    // The pod's per-container AppArmor annotations, if it has any (most have none: no key is
    // built for each container to look up).
    let aa_annotations = w.pod_metadata.annotations.as_ref().filter(|a| {
        a.keys()
            .any(|k| k.starts_with(APPARMOR_CONTAINER_ANNOTATION_PREFIX))
    });
    for c in containers(spec, sp) {
        let sc = c.security_context;
        let scp = format!("{}.securityContext", c.path);

        let privileged = sc
            .and_then(|s| s.privileged)
            .filter(|p| *p)
            .map(|_| crate::cat(&scp, ".privileged"));

        let cap_add = sc
            .and_then(|s| s.capabilities.as_ref())
            .and_then(|caps| caps.add.as_ref())
            .map(|add| {
                add.iter()
                    .enumerate()
                    .map(|(j, cap)| Field::new(cap.clone(), format!("{scp}.capabilities.add[{j}]")))
                    .collect()
            })
            .unwrap_or_default();

        let uid = match sc.and_then(|s| s.run_as_user) {
            Some(u) => Some(Field::new(u, crate::cat(&scp, ".runAsUser"))),
            None => pod_sc
                .and_then(|p| p.run_as_user)
                .map(|u| Field::new(u, crate::cat(sp, ".securityContext.runAsUser"))),
        };
        let user = UserView {
            uid,
            name: None,
            userns,
        };

        let seccomp = match sc.and_then(|s| s.seccomp_profile.as_ref()) {
            Some(p) => Field::new(
                seccomp_kind(&p.type_),
                crate::cat(&scp, ".seccompProfile.type"),
            ),
            None => match pod_sc.and_then(|p| p.seccomp_profile.as_ref()) {
                Some(p) => Field::new(
                    seccomp_kind(&p.type_),
                    crate::cat(sp, ".securityContext.seccompProfile.type"),
                ),
                None => Field::new(Seccomp::Unset, crate::cat(&scp, ".seccompProfile")),
            },
        };

        let mut lsm_unconfined = Vec::new();
        match sc.and_then(|s| s.app_armor_profile.as_ref()) {
            Some(p) => {
                if p.type_ == "Unconfined" {
                    lsm_unconfined.push(Field::new(
                        "apparmor:Unconfined".to_string(),
                        crate::cat(&scp, ".appArmorProfile.type"),
                    ));
                }
            }
            None => {
                if let Some(p) = pod_sc.and_then(|p| p.app_armor_profile.as_ref()) {
                    if p.type_ == "Unconfined" {
                        lsm_unconfined.push(Field::new(
                            "apparmor:Unconfined".to_string(),
                            crate::cat(sp, ".securityContext.appArmorProfile.type"),
                        ));
                    }
                }
            }
        }
        if let Some(a) = aa_annotations {
            let aa_key = crate::cat(APPARMOR_CONTAINER_ANNOTATION_PREFIX, c.name);
            if let Some(v) = a.get(&aa_key) {
                if v == "unconfined" {
                    lsm_unconfined.push(Field::new(
                        format!("apparmor:{v}"),
                        key_path(&crate::cat(&mp, ".annotations"), &aa_key),
                    ));
                }
            }
        }
        let selinux = match sc.and_then(|s| s.se_linux_options.as_ref()) {
            Some(o) => Some((o, crate::cat(&scp, ".seLinuxOptions.type"))),
            None => pod_sc
                .and_then(|p| p.se_linux_options.as_ref())
                .map(|o| (o, crate::cat(sp, ".securityContext.seLinuxOptions.type"))),
        };
        if let Some((o, field)) = selinux {
            if let Some(t) = o.type_.as_deref() {
                if matches!(t, "spc_t" | "unconfined_t") {
                    lsm_unconfined.push(Field::new(format!("selinux:{t}"), field));
                }
            }
        }

        let no_new_privs = Field::new(
            sc.and_then(|s| s.allow_privilege_escalation)
                .map(|ape| !ape),
            crate::cat(&scp, ".allowPrivilegeEscalation"),
        );
        let read_only_root = Field::new(
            sc.and_then(|s| s.read_only_root_filesystem),
            crate::cat(&scp, ".readOnlyRootFilesystem"),
        );
        let memory_limit = Field::new(
            c.resources
                .and_then(|r| r.limits.as_ref())
                .and_then(|l| l.get("memory"))
                .and_then(|q| parse_quantity(&q.0)),
            format!("{}.resources.limits.memory", c.path),
        );
        let cwd = c
            .working_dir
            .map(|d| Field::new(d.to_string(), format!("{}.workingDir", c.path)));

        view.containers.push(ContainerView {
            name: c.name.to_string(),
            field: c.path.to_string(),
            privileged,
            cap_add,
            cap_bounding: None,
            user,
            seccomp,
            lsm_unconfined,
            no_new_privs,
            read_only_root,
            memory_limit,
            pids_limit: None,
            cwd,
        });
    }

    for (set, ns, key) in [
        (spec.host_network, Namespace::Network, "hostNetwork"),
        (spec.host_pid, Namespace::Pid, "hostPID"),
        (spec.host_ipc, Namespace::Ipc, "hostIPC"),
    ] {
        if set == Some(true) {
            view.host_namespaces
                .push(Field::new(ns, format!("{sp}.{key}")));
        }
    }
    if spec.share_process_namespace == Some(true) {
        view.shared_pid_namespace = Some(crate::cat(sp, ".shareProcessNamespace"));
    }

    for (i, vol) in spec.volumes.iter().flatten().enumerate() {
        let Some(hp) = vol.host_path.as_ref() else {
            continue;
        };
        let mounts: Vec<(String, &VolumeMount)> = containers(spec, sp)
            .flat_map(|c| {
                c.volume_mounts
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| m.name == vol.name)
                    .map(move |(j, m)| (format!("{}.volumeMounts[{j}]", c.path), m))
            })
            .collect();
        let read_only = !mounts.is_empty() && mounts.iter().all(|(_, m)| m.read_only == Some(true));
        let propagation = mounts
            .iter()
            .filter_map(|(_, m)| m.mount_propagation.as_deref())
            .max_by_key(|p| propagation_rank(p))
            .map(str::to_string);
        let sub_path = mounts.iter().any(|(_, m)| has_sub_path(m));
        let mount_field = mounts
            .iter()
            .find(|(_, m)| m.read_only != Some(true))
            .map(|(f, _)| crate::cat(f, ".readOnly"))
            .or_else(|| {
                mounts
                    .iter()
                    .find(|(_, m)| m.mount_propagation.is_some())
                    .map(|(f, _)| crate::cat(f, ".mountPropagation"))
            })
            .or_else(|| mounts.first().map(|(f, _)| f.clone()))
            .unwrap_or_else(|| format!("{sp}.volumes[{i}]"));
        view.host_mounts.push(HostMount {
            host_path: hp.path.clone(),
            target: mounts
                .first()
                .map(|(_, m)| m.mount_path.clone())
                .unwrap_or_default(),
            read_only,
            propagation,
            sub_path,
            field: format!("{sp}.volumes[{i}].hostPath.path"),
            mount_field,
        });
    }

    if let Some(sysctls) = pod_sc.and_then(|p| p.sysctls.as_ref()) {
        for (i, s) in sysctls.iter().enumerate() {
            view.sysctls.push(Field::new(
                s.name.clone(),
                format!("{sp}.securityContext.sysctls[{i}].name"),
            ));
            view.sysctl_values.push(Field::new(
                s.value.clone(),
                format!("{sp}.securityContext.sysctls[{i}].value"),
            ));
        }
    }
    let mut keys: Vec<&String> = w
        .pod_metadata
        .annotations
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    for k in keys {
        view.annotations.push(Field::new(
            k.clone(),
            key_path(&crate::cat(&mp, ".annotations"), k),
        ));
    }
    view
}

fn seccomp_kind(t: &str) -> Seccomp {
    match t {
        "RuntimeDefault" => Seccomp::RuntimeDefault,
        "Localhost" => Seccomp::Profile,
        // `Unconfined`, and anything the API server would not accept: fail closed.
        _ => Seccomp::Unconfined,
    }
}

fn propagation_rank(p: &str) -> u8 {
    match p {
        "Bidirectional" => 2,
        "HostToContainer" => 1,
        _ => 0,
    }
}

fn has_sub_path(m: &VolumeMount) -> bool {
    m.sub_path.as_deref().is_some_and(|s| !s.is_empty())
        || m.sub_path_expr.as_deref().is_some_and(|s| !s.is_empty())
}

// ------------------------------------------------------------------------------------------------
// Kubernetes-only escape rules
// ------------------------------------------------------------------------------------------------

/// Kubernetes-only escape rules on one object: SKD-ESC-024 (subPath on a hostPath volume),
/// SKD-ESC-025 (gitRepo volume), SKD-ESC-026 (Bidirectional mount propagation on any volume) and
/// SKD-ESC-030 (shareProcessNamespace).
pub fn evaluate(w: &PodWorkload) -> Vec<Violation> {
    let spec = &w.spec;
    let sp = w.spec_path.as_str();
    let mut out = Vec::new();
    let volumes = spec.volumes.as_deref().unwrap_or(&[]);

    for (i, v) in volumes.iter().enumerate() {
        if let Some(g) = &v.git_repo {
            out.push(Violation::new(
                id::SKD_ESC_025,
                format!("{sp}.volumes[{i}].gitRepo"),
                format!(
                    "volume {:?} clones {:?} with git on the node (gitRepo)",
                    v.name, g.repository
                ),
            ));
        }
    }

    for c in containers(spec, sp) {
        for (j, m) in c.volume_mounts.iter().enumerate() {
            let path = c.path;
            let mp = move || format!("{path}.volumeMounts[{j}]");
            let host_path = volumes
                .iter()
                .find(|v| v.name == m.name)
                .and_then(|v| v.host_path.as_ref());
            if host_path.is_none() {
                for (key, val) in [("subPath", &m.sub_path), ("subPathExpr", &m.sub_path_expr)] {
                    if let Some(s) = val.as_deref().filter(|s| !s.is_empty()) {
                        out.push(Violation::new(
                            id::SKD_K8S_018,
                            format!("{}.{key}", mp()),
                            format!(
                                "container {:?} mounts volume {:?} with {key} {:?}",
                                c.name, m.name, s
                            ),
                        ));
                    }
                }
            }
            if let Some(hp) = host_path {
                for (key, val) in [("subPath", &m.sub_path), ("subPathExpr", &m.sub_path_expr)] {
                    if let Some(s) = val.as_deref().filter(|s| !s.is_empty()) {
                        out.push(Violation::new(
                            id::SKD_ESC_024,
                            format!("{}.{key}", mp()),
                            format!(
                                "container {:?} mounts hostPath volume {:?} ({}) with {key} {:?}",
                                c.name, m.name, hp.path, s
                            ),
                        ));
                    }
                }
            }
            if m.mount_propagation.as_deref() == Some("Bidirectional") {
                out.push(Violation::new(
                    id::SKD_ESC_026,
                    crate::cat(&mp(), ".mountPropagation"),
                    format!(
                        "container {:?} mounts volume {:?} at {} with mountPropagation=Bidirectional",
                        c.name, m.name, m.mount_path
                    ),
                ));
            }
        }
    }

    for c in containers(spec, sp) {
        let probes = [
            (
                "livenessProbe",
                c.liveness_probe.map(|p| (&p.http_get, &p.tcp_socket)),
            ),
            (
                "readinessProbe",
                c.readiness_probe.map(|p| (&p.http_get, &p.tcp_socket)),
            ),
            (
                "startupProbe",
                c.startup_probe.map(|p| (&p.http_get, &p.tcp_socket)),
            ),
            (
                "lifecycle.postStart",
                c.lifecycle
                    .and_then(|l| l.post_start.as_ref())
                    .map(|h| (&h.http_get, &h.tcp_socket)),
            ),
            (
                "lifecycle.preStop",
                c.lifecycle
                    .and_then(|l| l.pre_stop.as_ref())
                    .map(|h| (&h.http_get, &h.tcp_socket)),
            ),
        ];
        for (what, handler) in probes {
            let Some((http, tcp)) = handler else { continue };
            let targets = [
                (
                    "httpGet",
                    http.as_ref().map(|h| (h.host.as_deref(), &h.port)),
                ),
                (
                    "tcpSocket",
                    tcp.as_ref().map(|t| (t.host.as_deref(), &t.port)),
                ),
            ];
            for (kind, target) in targets {
                let Some((Some(host), port)) = target else {
                    continue;
                };
                if let Some(why) = pivot_target(host, port) {
                    out.push(Violation::new(
                        id::SKD_K8S_017,
                        format!("{}.{what}.{kind}.host", c.path),
                        format!(
                            "container {:?} {what} {kind} reaches {host:?} ({why}); the kubelet \
                             sends it from the node",
                            c.name
                        ),
                    ));
                }
            }
        }
    }

    if spec.share_process_namespace == Some(true) {
        out.push(Violation::new(
            id::SKD_ESC_030,
            crate::cat(sp, ".shareProcessNamespace"),
            "pod must not set shareProcessNamespace=true",
        ));
    }
    out
}

/// If a probe or lifecycle handler aimed at `host`:`port` reaches something the node can reach
/// and the pod should not (the kubelet sends probes from the node's network namespace), what.
pub fn pivot_target(host: &str, port: &IntOrString) -> Option<&'static str> {
    let h = host
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if h.is_empty() {
        return None;
    }
    const METADATA: &[&str] = &[
        "169.254.169.254",
        "fd00:ec2::254",
        "metadata.google.internal",
        "metadata",
        "100.100.100.200",
        "169.254.170.2",
    ];
    if METADATA.contains(&h.as_str()) {
        return Some("the cloud metadata service");
    }
    if h.starts_with("169.254.") || h.starts_with("fe80:") {
        return Some("a link-local address of the node");
    }
    if h == "localhost"
        || h.ends_with(".localhost")
        || h.starts_with("127.")
        || h == "::1"
        || h == "0.0.0.0"
        || h == "::"
    {
        return Some("the node's loopback");
    }
    // 10250 kubelet API, 10255 kubelet read-only, 10248 kubelet healthz, 10249/10256 kube-proxy.
    let kubelet = match port {
        IntOrString::Int(p) => matches!(p, 10248..=10250 | 10255 | 10256),
        IntOrString::String(_) => false,
    };
    kubelet.then_some("the kubelet or kube-proxy port")
}

/// A PersistentVolume given as a view whose host mounts are its host directories: SKD-K8S-012
/// for each, and the cross-format host-path rules (engine socket, sensitive path).
pub fn evaluate_persistent_volume(view: &WorkloadView) -> Vec<Violation> {
    let mut out: Vec<Violation> = view
        .host_mounts
        .iter()
        .map(|m| {
            Violation::new(
                id::SKD_K8S_012,
                m.field.clone(),
                format!(
                    "PersistentVolume exposes the node directory {:?} to any pod that claims it",
                    m.host_path
                ),
            )
        })
        .collect();
    out.extend(crate::escape::evaluate(view));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("512Mi"), Some(512 << 20));
        assert_eq!(parse_quantity("1G"), Some(1_000_000_000));
        assert_eq!(parse_quantity("1Gi"), Some(1 << 30));
        assert_eq!(parse_quantity("1.5Gi"), Some(3 << 29));
        assert_eq!(parse_quantity("128974848"), Some(128_974_848));
        assert_eq!(parse_quantity("129e6"), Some(129_000_000));
        assert_eq!(parse_quantity("129E6"), Some(129_000_000));
        assert_eq!(parse_quantity("123Ki"), Some(123 * 1024));
        assert_eq!(parse_quantity("100m"), Some(1));
        assert_eq!(parse_quantity("0.5"), Some(1));
        assert_eq!(parse_quantity("1k"), Some(1000));
        assert_eq!(parse_quantity(".5k"), Some(500));
        assert_eq!(parse_quantity("-1"), Some(-1));
        assert_eq!(parse_quantity("0"), Some(0));
        assert_eq!(parse_quantity(""), None);
        assert_eq!(parse_quantity("Mi"), None);
        assert_eq!(parse_quantity("12 Mi"), None);
        assert_eq!(parse_quantity("1Xi"), None);
        assert_eq!(parse_quantity("1.2.3"), None);
        assert_eq!(parse_quantity("99999999999Ei"), None);
    }

    #[test]
    fn paths() {
        assert_eq!(metadata_path("spec"), "metadata");
        assert_eq!(
            metadata_path("spec.template.spec"),
            "spec.template.metadata"
        );
        assert_eq!(
            metadata_path("spec.jobTemplate.spec.template.spec"),
            "spec.jobTemplate.spec.template.metadata"
        );
        assert_eq!(metadata_path("template.spec"), "template.metadata");
        assert_eq!(
            key_path("metadata.annotations", "a_b"),
            "metadata.annotations.a_b"
        );
        assert_eq!(
            key_path(
                "metadata.annotations",
                "container.apparmor.security.beta.kubernetes.io/app"
            ),
            "metadata.annotations['container.apparmor.security.beta.kubernetes.io/app']"
        );
    }
}
