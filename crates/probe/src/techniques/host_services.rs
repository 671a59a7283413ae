//! **E44 node services from inside.** TCP connects from the container to services of the node
//! it runs on: the cloud metadata endpoint (169.254.169.254:80: instance credentials), the
//! kubelet API (10250: exec in any pod of the node), the Docker API over TCP (2375 plain,
//! 2376 TLS: a privileged container on request) and the node's loopback services. The targets
//! are never guessed: `stockade check` sets up fake listeners of its own in a network namespace
//! that stands in for the node (crates/check, targets.rs) and passes them as
//! `--service NAME=ADDR:PORT`; the probe only connects (no request is sent) and closes.
//!
//! Stopped by: a network namespace without a route to the node (the runtime's own default),
//! a network policy or firewall in front of the node's addresses, an LSM or cgroup BPF program
//! refusing the connect. Not applicable without targets or without IPv4 in the kernel.

use crate::{sys, Ctx, Layer, Outcome, Technique};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub const T: Technique = Technique {
    id: "host-services",
    eid: "E44",
    title: "node services from inside (cloud metadata, kubelet, Docker API, node loopback)",
    layers: "netns, network policy, LSM",
    run,
};

/// How long one connect may take before it counts as not reached.
const CONNECT_MS: i32 = 1500;

/// A non-blocking TCP connect with a timeout: Ok on an established connection (closed at once).
fn connect(addr: [u8; 4], port: u16) -> Result<(), i32> {
    // SAFETY: plain socket(2); the result is checked before use.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(sys::errno());
    }
    // SAFETY: fd was just created and is owned here only.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sa is a valid sockaddr_in of the size passed.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let e = sys::errno();
    if e != libc::EINPROGRESS {
        return Err(e);
    }
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, CONNECT_MS) };
    if n == 0 {
        return Err(libc::ETIMEDOUT);
    }
    if n < 0 {
        return Err(sys::errno());
    }
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: err and len are valid for getsockopt(SO_ERROR).
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(sys::errno());
    }
    if err != 0 {
        return Err(err);
    }
    Ok(())
}

/// The errnos of a network that has no way to the target (as opposed to a refusal by policy).
fn unreachable(e: i32) -> bool {
    matches!(
        e,
        libc::ENETUNREACH | libc::EHOSTUNREACH | libc::ECONNREFUSED | libc::ETIMEDOUT
    )
}

fn run(ctx: &Ctx) -> Outcome {
    let targets = &ctx.cfg.services;
    if targets.is_empty() {
        return Outcome::na(
            "no node service targets given (--service NAME=ADDR:PORT; stockade check sets up fake ones)",
        );
    }
    let mut reached = Vec::new();
    let mut missed = Vec::new();
    let mut refused: Option<(i32, String)> = None;
    for s in targets {
        let label = format!(
            "{} {}.{}.{}.{}:{}",
            s.name, s.addr[0], s.addr[1], s.addr[2], s.addr[3], s.port
        );
        match connect(s.addr, s.port) {
            Ok(()) => reached.push(label),
            Err(libc::EAFNOSUPPORT) => return Outcome::na("kernel lacks IPv4 (EAFNOSUPPORT)"),
            Err(e) if unreachable(e) => missed.push(format!("{label} ({})", crate::errno_name(e))),
            Err(e) => {
                missed.push(format!("{label} ({})", crate::errno_name(e)));
                refused.get_or_insert((e, label));
            }
        }
    }
    if !reached.is_empty() {
        let mut d = format!("connected to {}", reached.join(", "));
        if !missed.is_empty() {
            d.push_str(&format!("; not reached: {}", missed.join(", ")));
        }
        return Outcome::exposed(d);
    }
    if let Some((e, label)) = refused {
        return ctx.blocked(e, None, &format!("connect {label}"));
    }
    Outcome::blocked_by(
        Layer::NetworkNamespace,
        format!("no node service reachable: {}", missed.join(", ")),
    )
}
