//! Engine and node configuration: Docker's `daemon.json`, containerd's `config.toml`, CRI-O's
//! `crio.conf` and the kubelet's `KubeletConfiguration`. Each is decoded into the typed fields
//! `stockade host` judges; a file that exists and cannot be decoded (bad syntax, a field of the
//! wrong type) is a [`Problem`], never an absent file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::facts::Problem;
use super::root::Root;

pub const DOCKER_DAEMON_JSON: &str = "etc/docker/daemon.json";
pub const CONTAINERD_TOML: &str = "etc/containerd/config.toml";
pub const CRIO_CONF: &str = "etc/crio/crio.conf";
pub const KUBELET_CONFIGS: &[&str] = &[
    "var/lib/kubelet/config.yaml",
    "etc/kubernetes/kubelet/config.yaml",
];

/// The fields of Docker's `daemon.json` that matter for escapes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DockerDaemon {
    pub userns_remap: Option<String>,
    pub no_new_privileges: Option<bool>,
    pub icc: Option<bool>,
    pub live_restore: Option<bool>,
    pub seccomp_profile: Option<String>,
    pub selinux_enabled: Option<bool>,
    pub default_runtime: Option<String>,
    #[serde(skip_serializing)]
    pub runtimes: Option<BTreeMap<String, serde_json::Value>>,
}

/// What containerd's config says.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Containerd {
    pub default_runtime: Option<String>,
    pub runtimes: Vec<String>,
    pub systemd_cgroup: Option<bool>,
    pub enable_unprivileged_ports: Option<bool>,
    pub enable_unprivileged_icmp: Option<bool>,
}

/// What CRI-O's config says.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Crio {
    pub default_runtime: Option<String>,
    pub default_sysctls: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeletAnonymous {
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeletAuthentication {
    pub anonymous: Option<KubeletAnonymous>,
}

/// The fields of a `KubeletConfiguration` that matter for escapes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Kubelet {
    pub kind: Option<String>,
    pub authentication: Option<KubeletAuthentication>,
    pub read_only_port: Option<u32>,
    pub seccomp_default: Option<bool>,
    pub protect_kernel_defaults: Option<bool>,
    #[serde(default)]
    pub allowed_unsafe_sysctls: Vec<String>,
    #[serde(default)]
    pub feature_gates: BTreeMap<String, bool>,
    #[serde(skip)]
    pub path: String,
}

/// All of the node's configuration that was found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeConfig {
    pub docker: Option<DockerDaemon>,
    pub containerd: Option<Containerd>,
    pub crio: Option<Crio>,
    pub kubelet: Option<Kubelet>,
}

fn bytes(root: &Root, rel: &str, problems: &mut Vec<Problem>) -> Option<Vec<u8>> {
    match root.read(rel) {
        Ok(b) => b,
        Err(e) => {
            problems.push(Problem {
                path: root.display(rel),
                message: format!("cannot be read: {e}"),
            });
            None
        }
    }
}

fn problem(root: &Root, rel: &str, message: String, problems: &mut Vec<Problem>) {
    problems.push(Problem {
        path: root.display(rel),
        message,
    });
}

fn get<'a>(t: &'a toml::Table, path: &[&str]) -> Option<&'a toml::Value> {
    let (last, init) = path.split_last()?;
    let mut cur = t;
    for k in init {
        cur = cur.get(*k)?.as_table()?;
    }
    cur.get(*last)
}

fn toml_bool(
    t: &toml::Table,
    path: &[&str],
    root: &Root,
    rel: &str,
    problems: &mut Vec<Problem>,
) -> Option<bool> {
    match get(t, path)? {
        toml::Value::Boolean(b) => Some(*b),
        other => {
            problem(
                root,
                rel,
                format!(
                    "`{}` is {}, not a boolean",
                    path.join("."),
                    other.type_str()
                ),
                problems,
            );
            None
        }
    }
}

fn containerd(root: &Root, problems: &mut Vec<Problem>) -> Option<Containerd> {
    let b = bytes(root, CONTAINERD_TOML, problems)?;
    let text = match std::str::from_utf8(&b) {
        Ok(t) => t,
        Err(e) => {
            problem(root, CONTAINERD_TOML, format!("not UTF-8: {e}"), problems);
            return None;
        }
    };
    let t: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            problem(
                root,
                CONTAINERD_TOML,
                format!("not valid TOML: {e}"),
                problems,
            );
            return None;
        }
    };
    // Version 2 configs keep the CRI plugin at "io.containerd.grpc.v1.cri"; version 3 splits it
    // into "io.containerd.cri.v1.runtime".
    let cri = ["plugins", "io.containerd.grpc.v1.cri"];
    let cri3 = ["plugins", "io.containerd.cri.v1.runtime"];
    let mut c = Containerd::default();
    for base in [&cri[..], &cri3[..]] {
        let p = |rest: &[&'static str]| -> Vec<&str> {
            base.iter().copied().chain(rest.iter().copied()).collect()
        };
        if let Some(v) = get(&t, &p(&["containerd", "default_runtime_name"])) {
            c.default_runtime = v.as_str().map(String::from);
        }
        if let Some(rt) = get(&t, &p(&["containerd", "runtimes"])).and_then(|v| v.as_table()) {
            for (name, v) in rt {
                c.runtimes.push(name.clone());
                if let Some(b) = v
                    .get("options")
                    .and_then(|o| o.get("SystemdCgroup"))
                    .and_then(|b| b.as_bool())
                {
                    c.systemd_cgroup = Some(b);
                }
            }
        }
        for (key, slot) in [
            (
                "enable_unprivileged_ports",
                &mut c.enable_unprivileged_ports,
            ),
            ("enable_unprivileged_icmp", &mut c.enable_unprivileged_icmp),
        ] {
            if let Some(b) = toml_bool(&t, &p(&[key]), root, CONTAINERD_TOML, problems) {
                *slot = Some(b);
            }
        }
    }
    Some(c)
}

fn crio(root: &Root, problems: &mut Vec<Problem>) -> Option<Crio> {
    let b = bytes(root, CRIO_CONF, problems)?;
    let t: toml::Table = match std::str::from_utf8(&b)
        .map_err(|e| e.to_string())
        .and_then(|s| toml::from_str(s).map_err(|e| e.to_string()))
    {
        Ok(t) => t,
        Err(e) => {
            problem(root, CRIO_CONF, format!("not valid TOML: {e}"), problems);
            return None;
        }
    };
    Some(Crio {
        default_runtime: get(&t, &["crio", "runtime", "default_runtime"])
            .and_then(|v| v.as_str())
            .map(String::from),
        default_sysctls: get(&t, &["crio", "runtime", "default_sysctls"])
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Read every configuration file present under `root`.
pub fn read(root: &Root, problems: &mut Vec<Problem>) -> NodeConfig {
    let mut node = NodeConfig::default();
    if let Some(b) = bytes(root, DOCKER_DAEMON_JSON, problems) {
        let de = &mut serde_json::Deserializer::from_slice(&b);
        match serde_path_to_error::deserialize::<_, DockerDaemon>(de) {
            Ok(d) => node.docker = Some(d),
            Err(e) => problem(
                root,
                DOCKER_DAEMON_JSON,
                format!("field `{}`: {}", e.path(), e.inner()),
                problems,
            ),
        }
    }
    node.containerd = containerd(root, problems);
    node.crio = crio(root, problems);
    for rel in KUBELET_CONFIGS {
        let Some(b) = bytes(root, rel, problems) else {
            continue;
        };
        let de = serde_yaml_ng::Deserializer::from_slice(&b);
        match serde_path_to_error::deserialize::<_, Kubelet>(de) {
            Ok(mut k) => {
                if k.kind
                    .as_deref()
                    .is_some_and(|k| k != "KubeletConfiguration")
                {
                    problem(
                        root,
                        rel,
                        format!(
                            "kind is {:?}, not KubeletConfiguration",
                            k.kind.as_deref().unwrap_or("")
                        ),
                        problems,
                    );
                    continue;
                }
                k.path = root.display(rel);
                node.kubelet = Some(k);
                break;
            }
            Err(e) => problem(
                root,
                rel,
                format!("field `{}`: {}", e.path(), e.inner()),
                problems,
            ),
        }
    }
    node
}
