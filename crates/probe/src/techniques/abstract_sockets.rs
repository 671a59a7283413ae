//! **E39 containerd-shim abstract socket (CVE-2020-15257).** Lists abstract unix sockets in
//! `/proc/net/unix`; abstract sockets are scoped by network namespace, so seeing the host's
//! (`@/containerd-shim/…`) means `hostNetwork`, and connecting reaches the shim API. Stopped
//! by: a network namespace, Landlock ABI 6 `SCOPE_ABSTRACT_UNIX_SOCKET`, the auditor.

use crate::outcome::Layer;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "abstract-sockets",
    eid: "E39",
    title: "host abstract unix sockets (containerd-shim API)",
    layers: "netns, L (ABI 6), A",
    run,
};

fn run(_ctx: &Ctx) -> Outcome {
    let text = match sys::read_to_string("/proc/net/unix") {
        Ok(t) => t,
        Err(e) => return Outcome::na(format!("no /proc/net/unix ({})", crate::errno_name(e))),
    };
    let names: Vec<String> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(7))
        .filter(|n| n.starts_with('@'))
        .map(|n| n.to_string())
        .collect();
    if names.is_empty() {
        return Outcome::blocked_by(Layer::NetworkNamespace, "no abstract unix sockets visible");
    }
    if let Some(shim) = names.iter().find(|n| n.contains("containerd-shim")) {
        return Outcome::escaped(format!("containerd-shim abstract socket visible: {shim}"));
    }
    let n = names.len();
    let mut s = names;
    s.sort();
    s.dedup();
    s.truncate(4);
    Outcome::exposed(format!(
        "{n} abstract sockets of this netns visible (host netns?): {}",
        s.join(", ")
    ))
}
