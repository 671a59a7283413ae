//! Test-only CRI client: drives containerd's CRI (`runtime.v1.RuntimeService`) over its unix
//! socket with tonic, using our own message definitions ([`api`]) for just the fields the tests
//! use. Debian ships no `crictl`; this is what the containerd integration test
//! (`tests/cri_cgroupfs.rs`) and the realhost guest (`cri-flow`) use instead.
//!
//! [`pod_flow`] is the flow both run: RunPodSandbox, CreateContainer, StartContainer, ExecSync,
//! UpdateContainerResources, StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox.

#![forbid(unsafe_code)]

pub mod api;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

/// A failed CRI call or connection, with the method it came from.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// A blocking CRI client on its own single-threaded tokio runtime.
pub struct Cri {
    rt: tokio::runtime::Runtime,
    grpc: tonic::client::Grpc<Channel>,
}

impl Cri {
    /// Connects to the CRI endpoint at the unix socket `socket` (e.g.
    /// `/run/containerd/containerd.sock`).
    pub fn connect(socket: &Path) -> Result<Self, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error(format!("tokio runtime: {e}")))?;
        let path: PathBuf = socket.to_path_buf();
        let channel = rt
            .block_on(async move {
                // The URI is required by the API and ignored: the connector dials the socket.
                Endpoint::from_static("http://cri.invalid")
                    .connect_timeout(Duration::from_secs(10))
                    .connect_with_connector(tower::service_fn(move |_: Uri| {
                        let path = path.clone();
                        async move {
                            let stream = tokio::net::UnixStream::connect(path).await?;
                            Ok::<_, std::io::Error>(TokioIo::new(stream))
                        }
                    }))
                    .await
            })
            .map_err(|e| Error(format!("connect to CRI socket {}: {e:?}", socket.display())))?;
        Ok(Cri {
            rt,
            grpc: tonic::client::Grpc::new(channel),
        })
    }

    fn call<Req, Resp>(&mut self, method: &str, req: Req) -> Result<Resp, Error>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let uri: Uri = format!("{}{method}", api::SERVICE)
            .parse()
            .map_err(|e| Error(format!("{method}: bad path: {e}")))?;
        let path = uri
            .path_and_query()
            .cloned()
            .ok_or_else(|| Error(format!("{method}: no path")))?;
        let grpc = &mut self.grpc;
        self.rt
            .block_on(async {
                grpc.ready()
                    .await
                    .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
                grpc.unary(
                    tonic::Request::new(req),
                    path,
                    tonic_prost::ProstCodec::default(),
                )
                .await
            })
            .map(tonic::Response::into_inner)
            .map_err(|s| Error(format!("{method}: {:?}: {}", s.code(), s.message())))
    }

    pub fn version(&mut self) -> Result<api::VersionResponse, Error> {
        self.call(
            "Version",
            api::VersionRequest {
                version: "v1".into(),
            },
        )
    }

    pub fn run_pod_sandbox(
        &mut self,
        config: &api::PodSandboxConfig,
        handler: &str,
    ) -> Result<String, Error> {
        let r: api::RunPodSandboxResponse = self.call(
            "RunPodSandbox",
            api::RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: handler.into(),
            },
        )?;
        Ok(r.pod_sandbox_id)
    }

    pub fn create_container(
        &mut self,
        pod: &str,
        config: &api::ContainerConfig,
        sandbox: &api::PodSandboxConfig,
    ) -> Result<String, Error> {
        let r: api::CreateContainerResponse = self.call(
            "CreateContainer",
            api::CreateContainerRequest {
                pod_sandbox_id: pod.into(),
                config: Some(config.clone()),
                sandbox_config: Some(sandbox.clone()),
            },
        )?;
        Ok(r.container_id)
    }

    pub fn start_container(&mut self, id: &str) -> Result<(), Error> {
        let _: api::Empty = self.call("StartContainer", container(id))?;
        Ok(())
    }

    pub fn exec_sync(&mut self, id: &str, cmd: &[&str]) -> Result<api::ExecSyncResponse, Error> {
        self.call(
            "ExecSync",
            api::ExecSyncRequest {
                container_id: id.into(),
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                timeout: 60,
            },
        )
    }

    pub fn update_container_resources(
        &mut self,
        id: &str,
        resources: api::LinuxContainerResources,
    ) -> Result<(), Error> {
        let _: api::Empty = self.call(
            "UpdateContainerResources",
            api::UpdateContainerResourcesRequest {
                container_id: id.into(),
                linux: Some(resources),
            },
        )?;
        Ok(())
    }

    pub fn stop_container(&mut self, id: &str) -> Result<(), Error> {
        let _: api::Empty = self.call(
            "StopContainer",
            api::StopContainerRequest {
                container_id: id.into(),
                timeout: 5,
            },
        )?;
        Ok(())
    }

    pub fn remove_container(&mut self, id: &str) -> Result<(), Error> {
        let _: api::Empty = self.call("RemoveContainer", container(id))?;
        Ok(())
    }

    pub fn stop_pod_sandbox(&mut self, id: &str) -> Result<(), Error> {
        let _: api::Empty = self.call("StopPodSandbox", pod(id))?;
        Ok(())
    }

    pub fn remove_pod_sandbox(&mut self, id: &str) -> Result<(), Error> {
        let _: api::Empty = self.call("RemovePodSandbox", pod(id))?;
        Ok(())
    }
}

fn container(id: &str) -> api::ContainerIdRequest {
    api::ContainerIdRequest {
        container_id: id.into(),
    }
}

fn pod(id: &str) -> api::PodSandboxIdRequest {
    api::PodSandboxIdRequest {
        pod_sandbox_id: id.into(),
    }
}

/// What [`pod_flow`] runs.
pub struct FlowOptions {
    /// The CRI runtime handler (`stockade`, `runc`, or "" for containerd's default).
    pub handler: String,
    /// The image the container runs (imported beforehand; there is no registry).
    pub image: String,
    /// `LinuxPodSandboxConfig.cgroup_parent`: `/name` for cgroupfs, `name.slice` for systemd.
    pub cgroup_parent: String,
    /// Share the node's network namespace (no CNI needed) instead of a pod network.
    pub host_network: bool,
    /// `runtime/default` to ask for the runtime's AppArmor profile; "" leaves it unset.
    pub apparmor_profile: String,
    /// The label `/proc/self/attr/current` must start with inside the container (an AppArmor
    /// profile name or an SELinux context); `None` records it without a check.
    pub expect_attr: Option<String>,
    /// Whether to call UpdateContainerResources; `Err(reason)` skips it with that reason.
    pub update: Result<(), String>,
    /// The container's read-only paths (CRI `readonly_paths`) in place of containerd's
    /// ([`CONTAINERD_READONLY_PATHS`]); empty keeps containerd's.
    pub readonly_paths: Vec<String>,
    /// A write the container tries through ExecSync (`sh -c SCRIPT`; the script prints `written`
    /// when the write worked) and whether it must be denied (`true`: it fails with "Permission
    /// denied") or must work (`false`).
    pub write_check: Option<(String, bool)>,
    /// A unique name for the pod (and the log directory under `log_root`).
    pub name: String,
    pub log_root: PathBuf,
}

/// A step's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Fail,
    Skip,
}

/// One step of the flow: its name (the CRI call or the check), outcome, and what was seen.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub status: Status,
    pub detail: String,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self.status {
            Status::Ok => "ok",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        };
        write!(f, "{s}: {}: {}", self.name, self.detail)
    }
}

/// What the flow saw: each step in order, plus what the container reported.
#[derive(Debug, Default)]
pub struct FlowReport {
    pub steps: Vec<Step>,
    pub pod_id: String,
    pub container_id: String,
    /// `/proc/self/attr/current` of an ExecSync process (its AppArmor or SELinux label).
    pub attr_current: String,
}

impl FlowReport {
    pub fn count(&self, status: Status) -> usize {
        self.steps.iter().filter(|s| s.status == status).count()
    }

    fn push(&mut self, name: &str, status: Status, detail: String) {
        self.steps.push(Step {
            name: name.into(),
            status,
            detail,
        });
    }

    fn check(&mut self, name: &str, ok: bool, detail: String) {
        self.push(name, if ok { Status::Ok } else { Status::Fail }, detail);
    }
}

/// containerd's default read-only paths of a container that is not privileged (its
/// `oci.populateDefaultUnixSpec`).
pub const CONTAINERD_READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

const MEMORY_START: i64 = 64 << 20;
const MEMORY_UPDATED: i64 = 96 << 20;

/// The container's memory limit as the container itself sees its cgroup: cgroup v2's
/// `memory.max`, else v1's `memory.limit_in_bytes`.
const READ_MEMORY_LIMIT: &str =
    "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes";

/// Runs the pod flow and cleans up whatever it created, whichever step fails.
pub fn pod_flow(cri: &mut Cri, opts: &FlowOptions) -> FlowReport {
    let mut r = FlowReport::default();
    let log_dir = opts.log_root.join(&opts.name);
    let _ = std::fs::create_dir_all(&log_dir);
    let sandbox = sandbox_config(opts, &log_dir);
    match cri.run_pod_sandbox(&sandbox, &opts.handler) {
        Ok(id) => {
            r.check("RunPodSandbox", true, id.clone());
            r.pod_id = id;
        }
        Err(e) => {
            r.check("RunPodSandbox", false, e.to_string());
            return r;
        }
    }
    let pod_id = r.pod_id.clone();
    container_steps(cri, opts, &sandbox, &mut r);
    if !r.container_id.is_empty() {
        let id = r.container_id.clone();
        let stopped = cri.stop_container(&id);
        r.check("StopContainer", stopped.is_ok(), format!("{stopped:?}"));
        let removed = cri.remove_container(&id);
        r.check("RemoveContainer", removed.is_ok(), format!("{removed:?}"));
    }
    let stopped = cri.stop_pod_sandbox(&pod_id);
    r.check("StopPodSandbox", stopped.is_ok(), format!("{stopped:?}"));
    let removed = cri.remove_pod_sandbox(&pod_id);
    r.check("RemovePodSandbox", removed.is_ok(), format!("{removed:?}"));
    let _ = std::fs::remove_dir_all(&log_dir);
    r
}

/// The pod's sandbox config: its own PID namespace per container, the pod's IPC namespace, the
/// node's network when `host_network` (else the pod network a CNI plugin sets up).
pub fn sandbox_config(opts: &FlowOptions, log_dir: &Path) -> api::PodSandboxConfig {
    api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: opts.name.clone(),
            uid: format!("uid-{}", opts.name),
            namespace: "stockade-test".into(),
            attempt: 0,
        }),
        hostname: if opts.host_network {
            String::new()
        } else {
            opts.name.clone()
        },
        log_directory: log_dir.display().to_string(),
        labels: Default::default(),
        annotations: Default::default(),
        linux: Some(api::LinuxPodSandboxConfig {
            cgroup_parent: opts.cgroup_parent.clone(),
            security_context: Some(api::LinuxSandboxSecurityContext {
                namespace_options: Some(namespaces(opts)),
            }),
        }),
    }
}

fn namespaces(opts: &FlowOptions) -> api::NamespaceOption {
    api::NamespaceOption {
        network: if opts.host_network {
            api::namespace_mode::NODE
        } else {
            api::namespace_mode::POD
        },
        pid: api::namespace_mode::CONTAINER,
        ipc: api::namespace_mode::POD,
    }
}

fn container_steps(
    cri: &mut Cri,
    opts: &FlowOptions,
    sandbox: &api::PodSandboxConfig,
    r: &mut FlowReport,
) {
    let config = api::ContainerConfig {
        metadata: Some(api::ContainerMetadata {
            name: "main".into(),
            attempt: 0,
        }),
        image: Some(api::ImageSpec {
            image: opts.image.clone(),
        }),
        command: vec!["/bin/sleep".into(), "3600".into()],
        args: vec![],
        log_path: "main.log".into(),
        linux: Some(api::LinuxContainerConfig {
            resources: Some(api::LinuxContainerResources {
                memory_limit_in_bytes: MEMORY_START,
                ..Default::default()
            }),
            security_context: Some(api::LinuxContainerSecurityContext {
                namespace_options: Some(namespaces(opts)),
                selinux_options: None,
                apparmor_profile: opts.apparmor_profile.clone(),
                readonly_paths: opts.readonly_paths.clone(),
            }),
        }),
    };
    match cri.create_container(&r.pod_id, &config, sandbox) {
        Ok(id) => {
            r.check("CreateContainer", true, id.clone());
            r.container_id = id;
        }
        Err(e) => return r.check("CreateContainer", false, e.to_string()),
    }
    let id = r.container_id.clone();
    if let Err(e) = cri.start_container(&id) {
        return r.check("StartContainer", false, e.to_string());
    }
    r.check("StartContainer", true, id.clone());

    match cri.exec_sync(&id, &["/bin/sh", "-c", "echo hi; echo err >&2; exit 3"]) {
        Ok(out) => r.check(
            "ExecSync",
            out.stdout == b"hi\n" && out.stderr == b"err\n" && out.exit_code == 3,
            format!(
                "stdout {:?} stderr {:?} exit {} (want \"hi\\n\", \"err\\n\", 3)",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                out.exit_code
            ),
        ),
        Err(e) => r.check("ExecSync", false, e.to_string()),
    }
    match cri.exec_sync(&id, &["/bin/cat", "/proc/self/attr/current"]) {
        Ok(out) => {
            r.attr_current = String::from_utf8_lossy(&out.stdout)
                .trim_end_matches(['\n', '\0'])
                .to_string();
            let detail = format!(
                "{:?} (exit {}, stderr {:?})",
                r.attr_current,
                out.exit_code,
                String::from_utf8_lossy(&out.stderr).trim()
            );
            match &opts.expect_attr {
                Some(want) => r.check(
                    "label",
                    out.exit_code == 0 && r.attr_current.starts_with(want.as_str()),
                    format!("{detail}, want {want:?}"),
                ),
                // Recorded, not judged: this host's LSMs give no label.
                None => r.push("label", Status::Ok, format!("{detail}, none expected")),
            }
        }
        Err(e) => r.check("label", false, e.to_string()),
    }
    if let Some((script, denied)) = &opts.write_check {
        write_step(cri, &id, script, *denied, r);
    }
    memory_limit_step(cri, &id, "memory limit at create", MEMORY_START, r);
    match &opts.update {
        Err(reason) => r.push("UpdateContainerResources", Status::Skip, reason.clone()),
        Ok(()) => {
            let updated = cri.update_container_resources(
                &id,
                api::LinuxContainerResources {
                    memory_limit_in_bytes: MEMORY_UPDATED,
                    ..Default::default()
                },
            );
            r.check(
                "UpdateContainerResources",
                updated.is_ok(),
                format!("memory {MEMORY_UPDATED}: {updated:?}"),
            );
            if updated.is_ok() {
                memory_limit_step(cri, &id, "memory limit after update", MEMORY_UPDATED, r);
            }
        }
    }
}

/// The write check of [`FlowOptions::write_check`].
fn write_step(cri: &mut Cri, id: &str, script: &str, denied: bool, r: &mut FlowReport) {
    let (name, want) = if denied {
        ("write denied", "fails with \"Permission denied\"")
    } else {
        ("write allowed", "prints \"written\"")
    };
    match cri.exec_sync(id, &["/bin/sh", "-c", script]) {
        Ok(out) => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let ok = if denied {
                out.exit_code != 0
                    && stderr.contains("Permission denied")
                    && !stdout.contains("written")
            } else {
                out.exit_code == 0 && stdout.trim() == "written"
            };
            r.check(
                name,
                ok,
                format!(
                    "{script:?}: stdout {:?} stderr {:?} exit {} (want: {want})",
                    stdout.trim(),
                    stderr.trim(),
                    out.exit_code
                ),
            );
        }
        Err(e) => r.check(name, false, e.to_string()),
    }
}

fn memory_limit_step(cri: &mut Cri, id: &str, name: &str, want: i64, r: &mut FlowReport) {
    match cri.exec_sync(id, &["/bin/sh", "-c", READ_MEMORY_LIMIT]) {
        Ok(out) => {
            let seen = String::from_utf8_lossy(&out.stdout).trim().to_string();
            r.check(
                name,
                seen == want.to_string(),
                format!("{seen:?} (want {want})"),
            );
        }
        Err(e) => r.check(name, false, e.to_string()),
    }
}
