//! **E06 kcore / kmsg / kallsyms leak.** Reads the `/proc/kcore` ELF header, a `/dev/kmsg` record
//! and the first `/proc/kallsyms` address. Any of them defeats KASLR or leaks host logs.
//! Stopped by: masked paths (M), the device allow-list (D), capabilities (SYSLOG), sysctls
//! (`kptr_restrict`, `dmesg_restrict`).

use crate::outcome::Layer;
use crate::state::cap;
use crate::{errno_name, sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "kernel-info-leak",
    eid: "E06",
    title: "read /proc/kcore, /dev/kmsg, kallsyms addresses (KASLR, host logs)",
    layers: "M, D, C (SYSLOG), K",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    let mut leaks = Vec::new();
    let mut notes = Vec::new();
    let mut kmsg_err = None;
    match sys::read_head("/proc/kcore", 4) {
        Ok(b) if b.starts_with(b"\x7fELF") => leaks.push("/proc/kcore ELF header".to_string()),
        Ok(_) => notes.push("kcore: masked".to_string()),
        Err(e) => notes.push(format!("kcore: {}", errno_name(e))),
    }
    match sys::open("/dev/kmsg", libc::O_RDONLY | libc::O_NONBLOCK) {
        Ok(fd) => {
            let mut buf = [0u8; 512];
            use std::os::fd::AsRawFd;
            // SAFETY: reading one record into a local buffer.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                leaks.push(format!(
                    "/dev/kmsg: {}",
                    sys::printable(&buf[..n as usize], 60)
                ));
            } else {
                let e = sys::errno();
                kmsg_err = Some(e);
                notes.push(format!("kmsg read: {}", errno_name(e)));
            }
        }
        Err(e) => {
            kmsg_err = Some(e);
            notes.push(format!("kmsg: {}", errno_name(e)));
        }
    }
    match sys::read_head("/proc/kallsyms", 64) {
        Ok(b) => {
            let s = String::from_utf8_lossy(&b);
            let addr = s.split_whitespace().next().unwrap_or("0");
            if addr.chars().any(|c| c != '0') {
                leaks.push(format!("kallsyms address {addr}"));
            } else {
                notes.push("kallsyms: zeroed (kptr_restrict)".into());
            }
        }
        Err(e) => notes.push(format!("kallsyms: {}", errno_name(e))),
    }
    if !leaks.is_empty() {
        return Outcome::exposed(format!("{} [{}]", leaks.join("; "), notes.join(", ")));
    }
    let detail = notes.join(", ");
    match kmsg_err {
        Some(libc::ENOENT) => Outcome::blocked(
            libc::ENOENT,
            Layer::DeviceCgroup,
            format!("{detail} (no /dev/kmsg node)"),
        ),
        Some(libc::EPERM) if ctx.state.has_cap(cap::SYSLOG) => {
            Outcome::blocked(libc::EPERM, Layer::DeviceCgroup, detail)
        }
        Some(e) => {
            let l = ctx.state.attribute(e, Some(cap::SYSLOG));
            Outcome::blocked(e, l, detail)
        }
        None => Outcome::blocked_by(Layer::Sysctl, detail),
    }
}
