//! The message channel between the runtime and the container's init.
//!
//! A `SOCK_SEQPACKET` socketpair keeps message boundaries. Messages are one
//! tag byte plus an optional payload of any size (up to [`MAX_MESSAGE`]): a
//! packet is at most [`CHUNK`] bytes of payload, and a longer payload goes
//! first as continuation packets ([`tag::MORE`] and a piece), then as the
//! tagged packet with the last piece. A short message is one packet, the
//! same bytes as before framing, so the raw readers of the error and fd
//! messages after START (`recv_fd`) still understand it. Without framing,
//! one packet is bounded by the socket buffer (EMSGSIZE at ~212 KB), and
//! a hook's state JSON (annotations) can be larger than that. Both ends are `O_CLOEXEC`, so a
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
    /// Either way: a piece of a long message; the piece with the real tag
    /// comes last.
    pub const MORE: u8 = b'+';
}

/// Payload bytes per packet.
pub const CHUNK: usize = 32 * 1024;
/// The longest message accepted (a state JSON with very large annotations
/// still fits; a runaway peer does not eat the runtime's memory).
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;

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
        if payload.len() > MAX_MESSAGE {
            return Err(Error::Init(format!(
                "sync: message {:?} of {} bytes is over the {MAX_MESSAGE}-byte limit",
                tag as char,
                payload.len()
            )));
        }
        let mut pieces: Vec<&[u8]> = payload.chunks(CHUNK).collect();
        let last = pieces.pop().unwrap_or(&[]);
        for p in pieces {
            self.packet(tag::MORE, p)?;
        }
        self.packet(tag, last)
    }

    fn packet(&self, tag: u8, piece: &[u8]) -> Result<()> {
        let mut buf = Vec::with_capacity(piece.len() + 1);
        buf.push(tag);
        buf.extend_from_slice(piece);
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
        let mut msg = Vec::new();
        loop {
            match self.packet_recv()? {
                None if msg.is_empty() => return Ok(None),
                None => {
                    return Err(Error::Init(format!(
                    "sync: the peer closed the channel in the middle of a message ({} bytes read)",
                    msg.len()
                )))
                }
                Some((tag::MORE, piece)) => {
                    msg.extend_from_slice(&piece);
                    if msg.len() > MAX_MESSAGE {
                        return Err(Error::Init(format!(
                            "sync: message over the {MAX_MESSAGE}-byte limit"
                        )));
                    }
                }
                Some((t, piece)) => {
                    msg.extend_from_slice(&piece);
                    return Ok(Some((t, msg)));
                }
            }
        }
    }

    fn packet_recv(&self) -> Result<Option<(u8, Vec<u8>)>> {
        let mut buf = vec![0u8; CHUNK + 1];
        loop {
            match nix::sys::socket::recv(
                self.fd.as_raw_fd(),
                &mut buf,
                nix::sys::socket::MsgFlags::empty(),
            ) {
                Ok(0) => return Ok(None),
                Ok(n) => {
                    buf.truncate(n);
                    let t = buf.remove(0);
                    return Ok(Some((t, buf)));
                }
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

/// The start request on start.sock (a stream): "S", the state's length
/// (u32, little-endian), the state for startContainer hooks.
pub fn start_request(state: &[u8]) -> Result<Vec<u8>> {
    if state.len() > MAX_MESSAGE {
        return Err(Error::Init(format!(
            "start: state of {} bytes is over the {MAX_MESSAGE}-byte limit",
            state.len()
        )));
    }
    let mut msg = Vec::with_capacity(state.len() + 5);
    msg.push(b'S');
    msg.extend_from_slice(&(state.len() as u32).to_le_bytes());
    msg.extend_from_slice(state);
    Ok(msg)
}

/// Read a [`start_request`] whole from `r`; returns the state.
pub fn read_start_request(r: &mut impl std::io::Read) -> Result<Vec<u8>> {
    let mut head = [0u8; 5];
    r.read_exact(&mut head)
        .map_err(|e| Error::io("start.sock", e))?;
    if head[0] != b'S' {
        return Err(Error::Init("start: bad request".into()));
    }
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_MESSAGE {
        return Err(Error::Init(format!(
            "start: request of {len} bytes is over the {MAX_MESSAGE}-byte limit"
        )));
    }
    let mut state = vec![0u8; len];
    r.read_exact(&mut state)
        .map_err(|e| Error::io("start.sock", e))?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_any_size_arrive_whole() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 70_000, 220_000, 1 << 20] {
            let (a, b) = Channel::pair().unwrap();
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let sent = payload.clone();
            let t = std::thread::spawn(move || a.send(tag::START, &sent).unwrap());
            let (got_tag, got) = b.recv().unwrap().unwrap();
            t.join().unwrap();
            assert_eq!(got_tag, tag::START, "len {len}");
            assert_eq!(got, payload, "len {len}");
        }
    }

    #[test]
    fn start_request_round_trips() {
        let state = vec![b'x'; 300_000];
        let msg = start_request(&state).unwrap();
        assert_eq!(read_start_request(&mut &msg[..]).unwrap(), state);
        assert!(read_start_request(&mut &msg[..1000]).is_err());
    }
}
