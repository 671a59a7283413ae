//! **E11 runtime-api-socket.** Connects to engine sockets: the caller's `--socket` paths plus the
//! well-known docker/containerd/cri-o/podman paths. A connection means the engine API is
//! reachable, i.e. "start a privileged container" is one request away. Stopped by: the auditor
//! (no socket binds, A), Landlock path rules, a monitor.

use crate::outcome::Layer;
use crate::{errno_name, sys, Ctx, Outcome, Technique};
use std::path::PathBuf;

pub const T: Technique = Technique {
    id: "runtime-socket",
    eid: "E11",
    title: "container engine socket reachable",
    layers: "A, L",
    run,
};

pub const WELL_KNOWN: [&str; 10] = [
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/var/run/crio/crio.sock",
    "/run/podman/podman.sock",
    "/var/run/podman/podman.sock",
    "/run/k3s/containerd/containerd.sock",
    "/var/run/cri-dockerd.sock",
];

fn run(ctx: &Ctx) -> Outcome {
    let mut paths: Vec<PathBuf> = ctx.cfg.sockets.clone();
    paths.extend(WELL_KNOWN.iter().map(PathBuf::from));
    let mut present = Vec::new();
    let mut denied = None;
    for p in &paths {
        match std::os::unix::net::UnixStream::connect(p) {
            Ok(_s) => {
                return Outcome::escaped(format!(
                    "connected to {} (engine API reachable)",
                    p.display()
                ))
            }
            Err(e) => {
                let n = sys::io_errno(&e);
                if n == libc::ENOENT {
                    continue;
                }
                present.push(format!("{}: {}", p.display(), errno_name(n)));
                if n == libc::EACCES || n == libc::EPERM {
                    denied = Some(n);
                }
            }
        }
    }
    if let Some(e) = denied {
        return Outcome::blocked(e, ctx.state.attribute(e, None), present.join(", "));
    }
    if !present.is_empty() {
        return Outcome::exposed(format!(
            "socket present, no listener: {}",
            present.join(", ")
        ));
    }
    Outcome::blocked(
        libc::ENOENT,
        Layer::MountNamespace,
        format!("no engine socket visible ({} paths tried)", paths.len()),
    )
}
