//! Copying between the runtime's stdio and a container's pty, for a
//! foreground `run` of a `terminal: true` process without --console-socket.

use nix::sys::termios;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

/// Run `wait` (which returns the exit code) while a thread copies stdin to
/// the pty master and the master to stdout. Signals that `wait` forwards
/// are blocked first, so the copying thread inherits the mask.
pub fn proxy_while(master: OwnedFd, wait: impl FnOnce() -> i32) -> i32 {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal};
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGWINCH,
        Signal::SIGCHLD,
    ] {
        set.add(s);
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    // SAFETY: fd 0 is open for the life of the process (or the calls fail).
    let stdin = unsafe { BorrowedFd::borrow_raw(0) };
    let saved = termios::tcgetattr(stdin).ok();
    if let Some(t) = &saved {
        let mut raw = t.clone();
        termios::cfmakeraw(&mut raw);
        let _ = termios::tcsetattr(stdin, termios::SetArg::TCSANOW, &raw);
        let mut ws: libc::winsize = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ/TIOCSWINSZ read/write a winsize we own.
        unsafe {
            if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
                libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
            }
        }
    }
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        copy_loop(&master);
        let _ = done_tx.send(());
    });
    let code = wait();
    // Let the copier drain what the process wrote before it exited.
    let _ = done_rx.recv_timeout(Duration::from_millis(500));
    if let Some(t) = saved {
        let _ = termios::tcsetattr(stdin, termios::SetArg::TCSANOW, &t);
    }
    code
}

fn write_all(fd: i32, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        // SAFETY: write from a live buffer to an fd number.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            if nix::errno::Errno::last() == nix::errno::Errno::EINTR {
                continue;
            }
            return false;
        }
        buf = &buf[n as usize..];
    }
    true
}

fn copy_loop(master: &OwnedFd) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut stdin_open = true;
    let mut buf = [0u8; 8192];
    loop {
        // SAFETY: fd 0 stays open while this thread runs.
        let stdin = unsafe { BorrowedFd::borrow_raw(0) };
        let mut fds = vec![PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if stdin_open {
            fds.push(PollFd::new(stdin, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
        }
        let m = fds[0].revents().unwrap_or(PollFlags::empty());
        let i = fds
            .get(1)
            .and_then(|f| f.revents())
            .unwrap_or(PollFlags::empty());
        if m.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            // SAFETY: read into our buffer from the master fd.
            let n = unsafe { libc::read(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return; // EIO: every slave fd is closed
            }
            if !write_all(1, &buf[..n as usize]) {
                return;
            }
        }
        if stdin_open && i.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            // SAFETY: read into our buffer from stdin.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                stdin_open = false;
            } else if !write_all(master.as_raw_fd(), &buf[..n as usize]) {
                return;
            }
        }
    }
}
