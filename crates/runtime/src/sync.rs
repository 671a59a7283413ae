//! The message channel between the runtime and the container's init.
//!
//! A `SOCK_SEQPACKET` socketpair keeps message boundaries. Messages are one
//! tag byte plus an optional payload. Both ends are `O_CLOEXEC`, so a
//! successful `execve` in the container closes the init's end and the runtime
//! reads end-of-file: that is how it learns the exec happened (`run` waits
//! for it on this channel; `start` on its connection to start.sock).

use crate::error::{Error, Result, SysContext};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::os::fd::{AsRawFd, OwnedFd};

/// Messages, by tag byte.
pub mod tag {
    /// intermediate -> runtime: the init's pid (i32 LE).
    pub const PID: u8 = b'P';
    /// runtime -> init: ids are mapped; go on. For `exec`, the cgroup is
    /// joined too; for `create` and `run` that is [`CGROUP`], sent next.
    pub const GO: u8 = b'G';
    /// runtime -> init (`create`, `run`): the init is in its cgroups. Sent
    /// after GO; the init reads it before the first step that needs the
    /// cgroups (see init.rs), and sets up its rootfs meanwhile.
    pub const CGROUP: u8 = b'C';
    /// init -> runtime: run prestart/createRuntime hooks now.
    pub const HOOKS: u8 = b'H';
    /// runtime -> init: hooks done.
    pub const HOOKS_DONE: u8 = b'h';
    /// init -> runtime: set up, waiting for `start`.
    pub const READY: u8 = b'R';
    /// runtime -> init, `run` only: start now (instead of a connection on
    /// start.sock); payload is the state for startContainer hooks. After
    /// it, the init reports a failure with ERROR and a seccomp notify fd
    /// (SCM_RIGHTS, payload "N") on this channel, and the runtime reads
    /// end-of-file when the execve happened.
    pub const START: u8 = b'S';
    /// init -> runtime: a setup step failed; payload is the message.
    pub const ERROR: u8 = b'E';
}

pub struct Channel {
    fd: OwnedFd,
}

impl Channel {
    /// A connected pair: (runtime end, init end).
    pub fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .ctx(|| "socketpair".into())?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    pub fn from_fd(fd: OwnedFd) -> Channel {
        Channel { fd }
    }

    pub fn send(&self, tag: u8, payload: &[u8]) -> Result<()> {
        let mut buf = Vec::with_capacity(payload.len() + 1);
        buf.push(tag);
        buf.extend_from_slice(payload);
        nix::sys::socket::send(
            self.fd.as_raw_fd(),
            &buf,
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
        )
        .ctx(|| "sync: send".into())?;
        Ok(())
    }

    /// Receive one message; `None` on end-of-file.
    pub fn recv(&self) -> Result<Option<(u8, Vec<u8>)>> {
        let mut buf = vec![0u8; 65536];
        loop {
            match nix::sys::socket::recv(
                self.fd.as_raw_fd(),
                &mut buf,
                nix::sys::socket::MsgFlags::empty(),
            ) {
                Ok(0) => return Ok(None),
                Ok(n) => return Ok(Some((buf[0], buf[1..n].to_vec()))),
                Err(nix::errno::Errno::EINTR) => continue,
                // The peer closed its end with a message of ours unread
                // (an init that failed while the runtime sent CGROUP). The
                // error is reported once; what the peer sent before it
                // closed is still queued, then end-of-file.
                Err(nix::errno::Errno::ECONNRESET) => continue,
                Err(e) => return Err(Error::sys("sync: recv", e)),
            }
        }
    }

    /// Receive and require a given tag; an ERROR message becomes an error.
    pub fn expect(&self, want: u8) -> Result<Vec<u8>> {
        match self.recv()? {
            Some((t, p)) if t == want => Ok(p),
            Some((tag::ERROR, p)) => Err(Error::Init(String::from_utf8_lossy(&p).into_owned())),
            Some((t, _)) => Err(Error::Init(format!(
                "protocol error: got {:?}, want {:?}",
                t as char, want as char
            ))),
            None => Err(Error::Init(
                "container init exited before finishing setup".into(),
            )),
        }
    }

    /// The socket itself (the init keeps it as its reply fd after start).
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    pub fn raw(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}
