//! `--with MANIFEST`: grade an image's findings by whether the escape each enables is reachable
//! under the workload that runs the image. The manifest is decoded by `stockade audit`'s readers
//! into the same [`WorkloadView`]s the audit rules judge (the caller does that); this module only
//! reads the views.
//!
//! | finding | unreachable when every container of the workload ... |
//! |---|---|
//! | SKD-IMG-010 setuid/setgid, SKD-IMG-011 file capabilities | runs with no_new_privs (`allowPrivilegeEscalation: false`, `no-new-privileges`), or in a user namespace that maps container root to an unprivileged host uid |
//! | SKD-IMG-001 a vulnerable runtime inside the image | mounts no engine socket (or its directory) and is not privileged: the runtime in the image can only reach the host through one |
//! | SKD-IMG-012 device nodes | is not privileged and the workload does not allow every device (the device cgroup denies opening them) |
//! | SKD-IMG-021 `WorkingDir` under `/proc/self/fd` | sets its own working directory (not under `/proc/self/fd`) |
//! | SKD-IMG-022 `User` above 2^31-1 | sets its own numeric user |
//!
//! Every other finding is not graded (credentials, tools, vulnerable packages: the manifest says
//! nothing that closes them). A reachable finding says what makes it so. Severities are never
//! changed: an unreachable finding keeps its escape's severity, stays in every output, and does
//! not count toward the exit code.

use super::checks::Finding;
use policy::model::{ContainerView, WorkloadView};

/// A finding's grade under a workload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reachability {
    /// Whether the escape is reachable under the manifest.
    pub reachable: bool,
    /// The manifest it was graded under.
    pub under: String,
    /// What in the manifest decides, with its field.
    pub why: String,
}

fn all<'a>(views: &'a [WorkloadView]) -> impl Iterator<Item = &'a ContainerView> + 'a {
    views.iter().flat_map(|v| v.containers.iter())
}

fn privileged(views: &[WorkloadView]) -> Option<String> {
    all(views).find_map(|c| c.privileged.clone())
}

/// Whether each container gets no_new_privs or container root is not host root; `Err` names the
/// first container that does not.
fn setuid_closed(views: &[WorkloadView]) -> Result<String, String> {
    let mut why = Vec::new();
    for c in all(views) {
        if c.no_new_privs.value == Some(true) {
            why.push(format!(
                "{} sets no_new_privs ({})",
                c.name, c.no_new_privs.field
            ));
        } else if c.user.userns {
            why.push(format!(
                "{} runs in a user namespace (container root is not host root)",
                c.name
            ));
        } else {
            return Err(format!(
                "{} allows privilege escalation ({} is not false)",
                c.name, c.no_new_privs.field
            ));
        }
    }
    Ok(why.join("; "))
}

/// Grade `f` under `views` (the workloads of `manifest`); `None` for findings not graded.
pub fn grade(f: &Finding, views: &[WorkloadView], manifest: &str) -> Option<Reachability> {
    let r = |reachable: bool, why: String| {
        Some(Reachability {
            reachable,
            under: manifest.to_string(),
            why,
        })
    };
    if views.iter().all(|v| v.containers.is_empty()) {
        return None;
    }
    match f.rule_id {
        policy::id::SKD_IMG_010 | policy::id::SKD_IMG_011 => match setuid_closed(views) {
            Ok(why) => r(false, why),
            Err(why) => r(true, why),
        },
        policy::id::SKD_IMG_001 => {
            if let Some(p) = privileged(views) {
                return r(
                    true,
                    format!("a privileged container ({p}) reaches the host"),
                );
            }
            let socket = views
                .iter()
                .flat_map(|v| v.host_mounts.iter())
                .find_map(|m| {
                    policy::paths::engine_socket(&m.host_path).map(|s| (s, m.field.clone()))
                });
            match socket {
                Some((s, field)) => r(
                    true,
                    format!("the workload mounts the engine socket {s} ({field})"),
                ),
                None => r(
                    false,
                    "the workload mounts no engine socket and is not privileged: the runtime in the image cannot drive the host's".to_string(),
                ),
            }
        }
        policy::id::SKD_IMG_012 => {
            if let Some(p) = privileged(views) {
                return r(
                    true,
                    format!("a privileged container ({p}) may open any device"),
                );
            }
            if let Some(a) = views.iter().find_map(|v| v.device_allow_all.clone()) {
                return r(true, format!("the workload allows every device ({a})"));
            }
            r(
                false,
                "no container is privileged or allowed every device: the device cgroup denies opening the node".to_string(),
            )
        }
        policy::id::SKD_IMG_021 => {
            let mut why = Vec::new();
            for c in all(views) {
                match &c.cwd {
                    Some(cwd) if !cwd.value.starts_with("/proc/self/fd") => {
                        why.push(format!("{} sets {} ({})", c.name, cwd.value, cwd.field))
                    }
                    _ => {
                        return r(
                            true,
                            format!("{} keeps the image's working directory", c.name),
                        )
                    }
                }
            }
            r(false, why.join("; "))
        }
        policy::id::SKD_IMG_022 => {
            let mut why = Vec::new();
            for c in all(views) {
                match &c.user.uid {
                    Some(u) if (0..=i64::from(i32::MAX)).contains(&u.value) => {
                        why.push(format!("{} runs as uid {} ({})", c.name, u.value, u.field))
                    }
                    _ => return r(true, format!("{} keeps the image's user", c.name)),
                }
            }
            r(false, why.join("; "))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::model::{HostMount, Seccomp, UserView};
    use policy::{Field, Format};

    fn container(nnp: Option<bool>) -> ContainerView {
        ContainerView {
            name: "app".into(),
            field: "spec.containers[0]".into(),
            privileged: None,
            cap_add: Vec::new(),
            cap_bounding: None,
            user: UserView::default(),
            seccomp: Field::new(Seccomp::RuntimeDefault, "x"),
            lsm_unconfined: Vec::new(),
            no_new_privs: Field::new(
                nnp,
                "spec.containers[0].securityContext.allowPrivilegeEscalation",
            ),
            read_only_root: Field::new(None, "x"),
            memory_limit: Field::new(None, "x"),
            pids_limit: None,
            cwd: None,
        }
    }

    fn runtime_finding() -> Finding {
        Finding::new(policy::id::SKD_IMG_001, "runc 1.1.5 in the image".into())
    }

    #[test]
    fn a_vulnerable_runtime_matters_only_with_the_engine_socket() {
        let mut v = WorkloadView::new(Format::Kubernetes);
        v.containers.push(container(None));
        let g = grade(&runtime_finding(), std::slice::from_ref(&v), "pod.yaml").unwrap();
        assert!(!g.reachable, "{g:?}");
        v.host_mounts.push(HostMount {
            host_path: "/var/run/docker.sock".into(),
            target: "/var/run/docker.sock".into(),
            read_only: false,
            propagation: None,
            sub_path: false,
            field: "spec.volumes[0].hostPath.path".into(),
            mount_field: String::new(),
        });
        let g = grade(&runtime_finding(), std::slice::from_ref(&v), "pod.yaml").unwrap();
        assert!(g.reachable && g.why.contains("/run/docker.sock"), "{g:?}");
        assert!(g.why.contains("spec.volumes[0].hostPath.path"), "{g:?}");
    }

    #[test]
    fn one_escalating_container_keeps_setuid_reachable() {
        let mut v = WorkloadView::new(Format::Kubernetes);
        v.containers.push(container(Some(true)));
        let f = Finding::new(policy::id::SKD_IMG_010, "setuid".into());
        assert!(!grade(&f, std::slice::from_ref(&v), "m").unwrap().reachable);
        v.containers.push(container(None));
        assert!(grade(&f, std::slice::from_ref(&v), "m").unwrap().reachable);
        // Not graded: credentials, vulnerable packages.
        let c = Finding::new(policy::id::SKD_IMG_040, "kubeconfig".into());
        assert!(grade(&c, std::slice::from_ref(&v), "m").is_none());
    }
}
