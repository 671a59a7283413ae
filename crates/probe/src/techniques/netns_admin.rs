//! **E41 nf-tables** and **E42 tc-qdisc**: CAP_NET_ADMIN over a network namespace of one's own,
//! the precondition of the nf_tables escapes (CVE-2023-32233, CVE-2024-1086) and of the xfrm one
//! (CVE-2026-43284). In a forked child the probe unshares a fresh user and network namespace
//! (so it becomes that namespace's owner), then over netlink creates and deletes an nf_tables
//! table (E41), or adds and deletes a `pfifo` qdisc on that namespace's own `lo` (E42). Nothing
//! outside the child's new namespaces is touched; the namespaces vanish with the child.
//!
//! **E47 netns-admin**: CAP_NET_ADMIN over the container's *own* network namespace, without a new
//! namespace: the probe reads the transmit queue length of its namespace's `lo` and writes the
//! same value back (SIOCGIFTXQLEN, then SIOCSIFTXQLEN, which the kernel lets through only with
//! CAP_NET_ADMIN over the namespace's owning user namespace, and which changes nothing when the
//! value is the same). With it, a workload reaches the nf_tables, tc and xfrm code of its own
//! namespace directly, with no user namespace to create (the seccomp rule on unshare then does
//! not help). Stopped by: the capability set (CAP_NET_ADMIN); not applicable when the namespace has
//! no `lo` or the kernel (gVisor's sentry) does not implement the ioctl.
//!
//! E41/E42 are stopped by: seccomp (unshare with namespace flags, moby's profile), `user.max_user_namespaces=0`
//! or `kernel.unprivileged_userns_clone=0`, an LSM; not applicable when the kernel lacks
//! nf_tables (`socket(NETLINK_NETFILTER)` or the table type refused with EAFNOSUPPORT/ENOENT).

use crate::{sys, Ctx, Layer, Outcome, Technique};

pub const NF_TABLES: Technique = Technique {
    id: "nf-tables",
    eid: "E41",
    title: "create an nf_tables table in a fresh user+net namespace",
    layers: "S, K (max_user_namespaces), LSM",
    run: run_nft,
};

pub const TC_QDISC: Technique = Technique {
    id: "tc-qdisc",
    eid: "E42",
    title: "add a tc qdisc to lo in a fresh user+net namespace",
    layers: "S, K (max_user_namespaces), LSM",
    run: run_tc,
};

pub const OWN_NETNS: Technique = Technique {
    id: "netns-admin",
    eid: "E47",
    title:
        "CAP_NET_ADMIN over the container's own network namespace (lo's txqueuelen written back)",
    layers: "C (NET_ADMIN), LSM",
    run: run_own_netns,
};

const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_DELTABLE: u16 = 2;
const NFTA_TABLE_NAME: u16 = 1;
const NFPROTO_INET: u8 = 1;
const RTM_NEWQDISC: u16 = 36;
const RTM_DELQDISC: u16 = 37;
const TCA_KIND: u16 = 1;
const TC_H_ROOT: u32 = 0xFFFF_FFFF;

/// Append one netlink message: header, the fixed family header `fixed`, then attributes.
fn push_msg(
    buf: &mut Vec<u8>,
    ty: u16,
    flags: u16,
    seq: u32,
    fixed: &[u8],
    attrs: &[(u16, &[u8])],
) {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]); // length, filled in below
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(fixed);
    for (t, v) in attrs {
        let len = 4 + v.len();
        buf.extend_from_slice(&(len as u16).to_ne_bytes());
        buf.extend_from_slice(&t.to_ne_bytes());
        buf.extend_from_slice(v);
        while buf.len() % 4 != 0 {
            buf.push(0);
        }
    }
    let len = (buf.len() - start) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

/// A netlink socket of `proto` with a receive timeout.
fn nl_socket(proto: i32) -> Result<std::os::fd::OwnedFd, i32> {
    // SAFETY: plain socket(2) call; the fd is owned below.
    let fd = sys::fd_result(unsafe {
        libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto)
    } as libc::c_long)?;
    let tv = libc::timeval {
        tv_sec: 2,
        tv_usec: 0,
    };
    use std::os::fd::AsRawFd;
    // SAFETY: `tv` is a valid timeval for the duration of the call.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
    Ok(fd)
}

/// Send `msg` to the kernel and wait for the acknowledgement of sequence `seq`: 0 or an errno.
fn transact(fd: &std::os::fd::OwnedFd, msg: &[u8], seq: u32) -> Result<(), i32> {
    use std::os::fd::AsRawFd;
    // SAFETY: an all-zero sockaddr_nl is valid; the family is set below.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: `msg` and `sa` are valid for the given lengths.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            msg.as_ptr() as *const libc::c_void,
            msg.len(),
            0,
            &sa as *const libc::sockaddr_nl as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if n < 0 {
        return Err(sys::errno());
    }
    let mut buf = vec![0u8; 16384];
    for _ in 0..16 {
        // SAFETY: `buf` is valid for its length.
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                0,
            )
        };
        if n < 0 {
            return Err(sys::errno());
        }
        let mut off = 0usize;
        let n = n as usize;
        while off + 16 <= n {
            let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap_or([0; 4])) as usize;
            let ty = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
            let mseq = u32::from_ne_bytes(buf[off + 8..off + 12].try_into().unwrap_or([0; 4]));
            if len < 16 || off + len > n {
                return Err(libc::EBADMSG);
            }
            if ty == NLMSG_ERROR && len >= 20 {
                let err = i32::from_ne_bytes(buf[off + 16..off + 20].try_into().unwrap_or([0; 4]));
                if err != 0 {
                    return Err(-err);
                }
                if mseq == seq {
                    return Ok(());
                }
            }
            off += (len + 3) & !3;
        }
    }
    Err(libc::ETIMEDOUT)
}

/// Unshare a fresh user and network namespace (in the forked child).
fn fresh_user_net() -> Result<(), (i32, String)> {
    // SAFETY: unshare in a single-threaded forked child.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } != 0 {
        return Err((sys::errno(), "unshare(user|net)".into()));
    }
    Ok(())
}

fn nft_batch(ty: u16, flags: u16, name: &[u8]) -> Vec<u8> {
    let res_id = NFNL_SUBSYS_NFTABLES.to_be_bytes();
    let mut b = Vec::new();
    push_msg(
        &mut b,
        NFNL_MSG_BATCH_BEGIN,
        NLM_F_REQUEST,
        1,
        &[0, 0, res_id[0], res_id[1]],
        &[],
    );
    push_msg(
        &mut b,
        (NFNL_SUBSYS_NFTABLES << 8) | ty,
        NLM_F_REQUEST | NLM_F_ACK | flags,
        2,
        &[NFPROTO_INET, 0, 0, 0],
        &[(NFTA_TABLE_NAME, name)],
    );
    push_msg(
        &mut b,
        NFNL_MSG_BATCH_END,
        NLM_F_REQUEST,
        3,
        &[0, 0, res_id[0], res_id[1]],
        &[],
    );
    b
}

fn run_nft(ctx: &Ctx) -> Outcome {
    let r = super::capture(|| {
        fresh_user_net()?;
        let fd = nl_socket(libc::NETLINK_NETFILTER)
            .map_err(|e| (e, "socket(NETLINK_NETFILTER)".to_string()))?;
        let name = b"stockade_probe\0";
        transact(&fd, &nft_batch(NFT_MSG_NEWTABLE, NLM_F_CREATE, name), 2)
            .map_err(|e| (e, "NFT_MSG_NEWTABLE inet stockade_probe".to_string()))?;
        let deleted = transact(&fd, &nft_batch(NFT_MSG_DELTABLE, 0, name), 2).is_ok();
        Ok(format!(
            "created{} an nf_tables table in a fresh user+net namespace (CAP_NET_ADMIN over it)",
            if deleted { " and deleted" } else { "" }
        ))
    });
    outcome(ctx, r, "nf_tables")
}

fn run_tc(ctx: &Ctx) -> Outcome {
    let r = super::capture(|| {
        fresh_user_net()?;
        let fd =
            nl_socket(libc::NETLINK_ROUTE).map_err(|e| (e, "socket(NETLINK_ROUTE)".to_string()))?;
        // struct tcmsg: family, pad, pad, ifindex (lo is 1 in a new namespace), handle 1:0,
        // parent root, info.
        let mut tcm = Vec::new();
        tcm.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
        tcm.extend_from_slice(&1i32.to_ne_bytes());
        tcm.extend_from_slice(&0x0001_0000u32.to_ne_bytes());
        tcm.extend_from_slice(&TC_H_ROOT.to_ne_bytes());
        tcm.extend_from_slice(&0u32.to_ne_bytes());
        let mut add = Vec::new();
        push_msg(
            &mut add,
            RTM_NEWQDISC,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            1,
            &tcm,
            &[(TCA_KIND, b"pfifo\0")],
        );
        transact(&fd, &add, 1).map_err(|e| (e, "RTM_NEWQDISC pfifo on lo".to_string()))?;
        let mut del = Vec::new();
        push_msg(
            &mut del,
            RTM_DELQDISC,
            NLM_F_REQUEST | NLM_F_ACK,
            2,
            &tcm,
            &[],
        );
        let deleted = transact(&fd, &del, 2).is_ok();
        Ok(format!(
            "added{} a pfifo qdisc on lo of a fresh user+net namespace (CAP_NET_ADMIN over it)",
            if deleted { " and deleted" } else { "" }
        ))
    });
    outcome(ctx, r, "tc")
}

fn outcome(ctx: &Ctx, r: Result<String, super::StepErr>, what: &str) -> Outcome {
    match r {
        Ok(s) => Outcome::exposed(s),
        Err((libc::ENOSPC, step)) => Outcome::blocked(
            libc::ENOSPC,
            Layer::Sysctl,
            format!("{step}: ENOSPC (user.max_user_namespaces)"),
        ),
        Err((
            e @ (libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT | libc::ENOENT | libc::EOPNOTSUPP),
            step,
        )) if step.starts_with("socket")
            || step.starts_with("NFT_")
            || step.starts_with("RTM_") =>
        {
            Outcome::na(format!(
                "kernel lacks {what}: {step}: {}",
                crate::errno_name(e)
            ))
        }
        Err((0, step)) => Outcome::inconclusive(step),
        Err((e, step)) => ctx.blocked(e, None, &step),
    }
}

/// `struct ifreq` with the `ifr_qlen` member of the union (an int).
#[repr(C)]
struct IfreqQlen {
    name: [u8; libc::IFNAMSIZ],
    qlen: libc::c_int,
    _pad: [u8; 20],
}

fn run_own_netns(ctx: &Ctx) -> Outcome {
    use std::os::fd::AsRawFd;
    // SAFETY: plain socket(2) call; the fd is owned below.
    let sock = match sys::fd_result(unsafe {
        libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
    } as libc::c_long)
    {
        Ok(fd) => fd,
        Err(e @ (libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT)) => {
            return Outcome::na(format!("no IPv4 sockets: {}", crate::errno_name(e)))
        }
        Err(e) => return ctx.blocked(e, None, "socket(AF_INET)"),
    };
    let mut req = IfreqQlen {
        name: [0; libc::IFNAMSIZ],
        qlen: 0,
        _pad: [0; 20],
    };
    req.name[..2].copy_from_slice(b"lo");
    // SAFETY: `req` is a valid ifreq-sized buffer for the duration of the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFTXQLEN, &mut req) } != 0 {
        let e = sys::errno();
        return match e {
            libc::ENODEV | libc::ENOTTY | libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS => {
                Outcome::na(format!(
                    "SIOCGIFTXQLEN lo: {} (no lo, or the kernel lacks the ioctl)",
                    crate::errno_name(e)
                ))
            }
            _ => ctx.blocked(e, None, "SIOCGIFTXQLEN lo"),
        };
    }
    let qlen = req.qlen;
    // SAFETY: as above; the same length is written back.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFTXQLEN, &req) } != 0 {
        let e = sys::errno();
        return match e {
            libc::ENOTTY | libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS => Outcome::na(format!(
                "SIOCSIFTXQLEN lo: {} (the kernel lacks the ioctl)",
                crate::errno_name(e)
            )),
            _ => {
                // The SIOCGIFTXQLEN ioctl just reached the kernel: a seccomp filter on ioctl(2)
                // did not stop this one, so a refusal without the capability is the capability's.
                let mut layer = ctx.state.attribute(e, Some(crate::state::cap::NET_ADMIN));
                if layer == Layer::CapabilityOrSeccomp {
                    layer = Layer::Capability;
                }
                Outcome::blocked(
                    e,
                    layer,
                    format!(
                        "SIOCSIFTXQLEN lo (same length): {} (SIOCGIFTXQLEN was answered)",
                        crate::errno_name(e)
                    ),
                )
            }
        };
    }
    Outcome::exposed(format!(
        "wrote lo's txqueuelen ({qlen}, unchanged) in the container's own network namespace: \
         CAP_NET_ADMIN over it (nf_tables, tc, xfrm reachable without a user namespace)"
    ))
}
