//! The knowledge behind the image rules (`rules/image.toml`, `SKD-IMG-*`): which paths hold
//! credentials, which tools help after an escape, and the curated table of container-runtime
//! escape CVEs with their affected version ranges. `stockade image` (crate `scan`) reads these;
//! nothing else keeps a copy.

/// What kind of credential a path holds (SKD-IMG-040).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Kubeconfig,
    ServiceAccountToken,
    Cloud,
    Registry,
    SshPrivateKey,
}

impl Credential {
    pub fn describe(self) -> &'static str {
        match self {
            Credential::Kubeconfig => "a kubeconfig",
            Credential::ServiceAccountToken => "a Kubernetes service-account token",
            Credential::Cloud => "cloud credentials",
            Credential::Registry => "registry credentials",
            Credential::SshPrivateKey => "an SSH private key",
        }
    }

    /// Text the content must hold to count (an empty or placeholder file is not a credential).
    pub fn content_marker(self) -> Option<&'static str> {
        match self {
            Credential::Registry => Some("auth"),
            Credential::SshPrivateKey => Some("PRIVATE KEY-----"),
            Credential::Kubeconfig => Some("clusters"),
            _ => None,
        }
    }
}

/// Paths (relative to the root, no leading `/`) that are credentials wherever they are.
const CREDENTIAL_PATHS: &[(&str, Credential)] = &[
    ("etc/kubernetes/admin.conf", Credential::Kubeconfig),
    ("etc/kubernetes/super-admin.conf", Credential::Kubeconfig),
    ("etc/kubernetes/kubelet.conf", Credential::Kubeconfig),
    (
        "etc/kubernetes/controller-manager.conf",
        Credential::Kubeconfig,
    ),
    ("etc/kubernetes/scheduler.conf", Credential::Kubeconfig),
    ("var/lib/kubelet/kubeconfig", Credential::Kubeconfig),
    (
        "var/run/secrets/kubernetes.io/serviceaccount/token",
        Credential::ServiceAccountToken,
    ),
    (
        "run/secrets/kubernetes.io/serviceaccount/token",
        Credential::ServiceAccountToken,
    ),
];

/// Path endings, under any home or directory, that are credentials.
const CREDENTIAL_SUFFIXES: &[(&str, Credential)] = &[
    (".kube/config", Credential::Kubeconfig),
    (".aws/credentials", Credential::Cloud),
    (
        ".config/gcloud/application_default_credentials.json",
        Credential::Cloud,
    ),
    (".config/gcloud/credentials.db", Credential::Cloud),
    (".azure/accessTokens.json", Credential::Cloud),
    (".azure/msal_token_cache.json", Credential::Cloud),
    (".docker/config.json", Credential::Registry),
    (".config/containers/auth.json", Credential::Registry),
    ("containers/auth.json", Credential::Registry),
    (".ssh/id_rsa", Credential::SshPrivateKey),
    (".ssh/id_dsa", Credential::SshPrivateKey),
    (".ssh/id_ecdsa", Credential::SshPrivateKey),
    (".ssh/id_ed25519", Credential::SshPrivateKey),
];

/// The credential a path would hold, judged by its name (the content is checked too:
/// [`Credential::content_marker`]).
pub fn credential_at(path: &str) -> Option<Credential> {
    if let Some((_, c)) = CREDENTIAL_PATHS.iter().find(|(p, _)| *p == path) {
        return Some(*c);
    }
    for (s, c) in CREDENTIAL_SUFFIXES {
        if path == *s || path.strip_suffix(s).is_some_and(|d| d.ends_with('/')) {
            return Some(*c);
        }
    }
    // Host keys: etc/ssh/ssh_host_<type>_key.
    let host_key = path
        .strip_prefix("etc/ssh/ssh_host_")
        .is_some_and(|r| r.ends_with("_key") && !r.contains('/'));
    host_key.then_some(Credential::SshPrivateKey)
}

/// Whether a path's content should be kept for the credential check.
pub fn credential_candidate(path: &str) -> bool {
    credential_at(path).is_some()
}

/// Tools that turn a partial escape into a full one (SKD-IMG-050): reported where they are in a
/// bin directory. `mount` counts only with the setuid bit.
pub const ATTACKER_TOOLS: &[&str] = &["nsenter", "docker", "kubectl", "crictl", "ctr"];
pub const SETUID_ONLY_TOOLS: &[&str] = &["mount"];
pub const BIN_DIRS: &[&str] = &[
    "bin",
    "sbin",
    "usr/bin",
    "usr/sbin",
    "usr/local/bin",
    "usr/local/sbin",
];

/// Environment variables that make a loader on the host (an OCI hook run with the container's
/// environment) load code the image chose (SKD-IMG-020).
pub const LOADER_ENV: &[&str] = &["LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT"];

/// Working directories that reuse a runtime's leaked fds (SKD-IMG-021).
pub const PROC_FD_PREFIXES: &[&str] = &["/proc/self/fd/", "/proc/thread-self/fd/"];

/// Labels that an engine acts on with host privileges (SKD-IMG-024).
pub const ENGINE_LABELS: &[&str] = &["containerd.io/restart.loguri"];

/// The device nodes every runtime creates in /dev (the OCI runtime spec's default devices), with
/// their numbers: shipped in a layer with exactly these numbers they open nothing a container
/// does not already have, so SKD-IMG-012 leaves them out. Any other node, or one of these paths
/// with other numbers (a `/dev/null` that is 1:1, `/dev/mem`), is reported.
pub const STANDARD_DEVICES: &[(&str, u32, u32)] = &[
    ("dev/null", 1, 3),
    ("dev/zero", 1, 5),
    ("dev/full", 1, 7),
    ("dev/random", 1, 8),
    ("dev/urandom", 1, 9),
    ("dev/tty", 5, 0),
    ("dev/console", 5, 1),
    ("dev/ptmx", 5, 2),
];

/// Device paths a runtime mounts over, which must be character devices (SKD-IMG-030).
pub const MUST_BE_CHAR: &[&str] = &["dev/null", "dev/console"];

/// Distribution package names (source or binary) of the runtimes above and the Go module of
/// their upstream: upstream (Go) advisories apply to these packages when the distribution has no
/// record of its own about the vulnerability.
pub const RUNTIME_PACKAGES: &[(&str, &str)] = &[
    ("runc", "github.com/opencontainers/runc"),
    ("containerd", "github.com/containerd/containerd"),
    (
        "nvidia-container-toolkit",
        "github.com/NVIDIA/nvidia-container-toolkit",
    ),
    ("buildkit", "github.com/moby/buildkit"),
];

/// The upstream Go module of a runtime's distribution package.
pub fn runtime_module(package: &str) -> Option<&'static str> {
    RUNTIME_PACKAGES
        .iter()
        .find(|(p, _)| *p == package)
        .map(|(_, m)| *m)
}

/// Whether a CVE is one of the curated runtime escape CVEs.
pub fn is_runtime_escape_cve(cve: &str) -> bool {
    RUNTIME_CVES.iter().any(|r| r.cve == cve)
}

/// A runtime escape CVE and the versions of one Go module it affects (SKD-IMG-001).
#[derive(Debug, Clone, Copy)]
pub struct RuntimeCve {
    /// The runtime's Go main module, as in the binary's build info.
    pub module: &'static str,
    pub name: &'static str,
    pub cve: &'static str,
    /// Affected ranges `[introduced, fixed)` (semantic versions; "" introduced = from the start).
    pub affected: &'static [(&'static str, &'static str)],
    /// The advisory that gives the ranges.
    pub reference: &'static str,
}

/// The curated table. Each entry cites the upstream advisory that states its fixed versions.
pub const RUNTIME_CVES: &[RuntimeCve] = &[
    RuntimeCve {
        module: "github.com/opencontainers/runc",
        name: "runc",
        cve: "CVE-2019-5736",
        affected: &[("", "1.0.0-rc7")],
        reference:
            "https://github.com/opencontainers/runc/commit/0a8e4117e7f715d5fbeef398405813ce8e88558b",
    },
    RuntimeCve {
        module: "github.com/opencontainers/runc",
        name: "runc",
        cve: "CVE-2024-21626",
        affected: &[("1.0.0-rc93", "1.1.12")],
        reference: "https://github.com/opencontainers/runc/security/advisories/GHSA-xr7r-f8xq-vfvv",
    },
    RuntimeCve {
        module: "github.com/opencontainers/runc",
        name: "runc",
        cve: "CVE-2025-31133",
        affected: &[
            ("", "1.2.8"),
            ("1.3.0-rc.1", "1.3.3"),
            ("1.4.0-rc.1", "1.4.0-rc.3"),
        ],
        reference: "https://github.com/opencontainers/runc/security/advisories/GHSA-9493-h29p-rfm2",
    },
    RuntimeCve {
        module: "github.com/containerd/containerd",
        name: "containerd",
        cve: "CVE-2020-15257",
        affected: &[("", "1.3.9"), ("1.4.0", "1.4.3")],
        reference:
            "https://github.com/containerd/containerd/security/advisories/GHSA-36xw-fx78-c5r4",
    },
    RuntimeCve {
        module: "github.com/containerd/containerd",
        name: "containerd",
        cve: "CVE-2024-40635",
        affected: &[("", "1.6.38"), ("1.7.0", "1.7.27")],
        reference:
            "https://github.com/containerd/containerd/security/advisories/GHSA-265r-hfxg-fhmg",
    },
    RuntimeCve {
        module: "github.com/containerd/containerd/v2",
        name: "containerd",
        cve: "CVE-2024-40635",
        affected: &[("", "2.0.4")],
        reference:
            "https://github.com/containerd/containerd/security/advisories/GHSA-265r-hfxg-fhmg",
    },
    RuntimeCve {
        module: "github.com/NVIDIA/nvidia-container-toolkit",
        name: "NVIDIA container toolkit",
        cve: "CVE-2024-0132",
        affected: &[("", "1.16.2")],
        reference: "https://nvidia.custhelp.com/app/answers/detail/a_id/5582",
    },
    RuntimeCve {
        module: "github.com/NVIDIA/nvidia-container-toolkit",
        name: "NVIDIA container toolkit",
        cve: "CVE-2025-23266",
        affected: &[("", "1.17.8")],
        reference: "https://nvidia.custhelp.com/app/answers/detail/a_id/5659",
    },
    RuntimeCve {
        module: "github.com/moby/buildkit",
        name: "BuildKit",
        cve: "CVE-2024-23651",
        affected: &[("", "0.12.5")],
        reference: "https://github.com/moby/buildkit/security/advisories/GHSA-m3r6-h7wv-7xxv",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_paths() {
        assert_eq!(
            credential_at("root/.kube/config"),
            Some(Credential::Kubeconfig)
        );
        assert_eq!(
            credential_at("home/a/.ssh/id_ed25519"),
            Some(Credential::SshPrivateKey)
        );
        assert_eq!(
            credential_at("etc/ssh/ssh_host_rsa_key"),
            Some(Credential::SshPrivateKey)
        );
        assert_eq!(credential_at("etc/ssh/ssh_host_rsa_key.pub"), None);
        assert_eq!(credential_at("root/x.kube/config"), None);
        for r in RUNTIME_CVES {
            assert!(r.cve.starts_with("CVE-") && r.reference.starts_with("https://"));
        }
    }
}
