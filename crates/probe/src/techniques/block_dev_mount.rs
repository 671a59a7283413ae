//! **E01 priv-hostdisk-mount.** `mknod` the caller's scratch block device (a loop device standing
//! in for the host disk, `--block-dev MAJ:MIN`), read its first sector raw, then mount it
//! read-only in a private mount namespace and read `--block-canary`. Stopped by: capabilities
//! (MKNOD, SYS_ADMIN), the device cgroup (D), a user namespace, Landlock (no MAKE_BLOCK), A.

use crate::outcome::Layer;
use crate::state::cap;
use crate::{errno_name, sys, Control, Ctx, Outcome, Technique};
use std::os::fd::AsRawFd;

pub const T: Technique = Technique {
    id: "block-dev-mount",
    eid: "E01",
    title: "mknod + mount the host block device, read the canary",
    layers: "C (MKNOD, SYS_ADMIN), D, U, L, A",
    run,
};

const FS: [&str; 6] = ["ext4", "ext3", "ext2", "xfs", "btrfs", "vfat"];

fn run(ctx: &Ctx) -> Outcome {
    let Some((maj, min)) = ctx.cfg.block_dev else {
        return Outcome::na("no target (pass --block-dev MAJ:MIN of a scratch loop device)");
    };
    // Never touch a device that backs a mounted file system here (the host disk under a
    // bind-mounted rootfs): the target must be the caller's scratch loop device.
    let majmin = format!("{maj}:{min}");
    if let Some(m) = sys::mountinfo().into_iter().find(|m| m.dev == majmin) {
        return Outcome::na(format!(
            "refusing {majmin}: it backs {} here; pass a scratch loop device",
            m.mount_point
        ));
    }
    let scratch = match sys::Scratch::new(ctx.cfg.scratch.as_deref(), "blk", true) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::inconclusive(format!("no writable scratch dir: {}", errno_name(e)))
        }
    };
    let node = scratch.join("blk");
    if let Err(e) = sys::mknod(&node, libc::S_IFBLK | 0o600, maj, min) {
        return ctx.blocked_cap(
            e,
            cap::MKNOD,
            Control::Mknod,
            &format!("mknod b {maj}:{min}"),
        );
    }
    let fd = match sys::open(&node, libc::O_RDONLY) {
        Ok(fd) => fd,
        Err(libc::EPERM) => {
            return Outcome::blocked(
                libc::EPERM,
                Layer::DeviceCgroup,
                format!("mknod ok; open b {maj}:{min}: EPERM"),
            )
        }
        Err(libc::EACCES)
            if sys::statvfs_flags(&scratch.path)
                .map(|f| f & libc::ST_NODEV != 0)
                .unwrap_or(false) =>
        {
            return Outcome::blocked(
                libc::EACCES,
                Layer::Unknown,
                "mknod ok; scratch fs is nodev",
            )
        }
        Err(e) => return ctx.blocked(e, None, &format!("mknod ok; open b {maj}:{min}")),
    };
    let mut sb = [0u8; 2048];
    // SAFETY: reading into a local buffer from our fd.
    let n = unsafe { libc::read(fd.as_raw_fd(), sb.as_mut_ptr().cast(), sb.len()) };
    drop(fd);
    let raw = if n >= 1082 && sb[1080] == 0x53 && sb[1081] == 0xef {
        format!("raw read {n} bytes (ext2/3/4 superblock magic)")
    } else {
        format!("raw read {n} bytes")
    };
    if let Err(e) = sys::private_mount_ns() {
        return Outcome::exposed(format!(
            "{raw} from b {maj}:{min}; mount ns: {}",
            errno_name(e)
        ));
    }
    let mnt = scratch.join("mnt");
    let _ = std::fs::create_dir(&mnt);
    let mut last = libc::ENODEV;
    for fs in FS.iter().filter(|f| super::fs_supported(f)) {
        match sys::mount(
            &node.to_string_lossy(),
            &mnt,
            fs,
            libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            None,
        ) {
            Ok(()) => {
                let canary = mnt.join(&ctx.cfg.block_canary);
                let ev = match sys::read_head(&canary, 4096) {
                    Ok(b) => format!(
                        "read {}: {:?}",
                        ctx.cfg.block_canary,
                        sys::printable(&b, 60)
                    ),
                    Err(e) => format!(
                        "{} {}; root holds {}",
                        ctx.cfg.block_canary,
                        errno_name(e),
                        sys::list_dir(&mnt, 8)
                    ),
                };
                let _ = sys::umount(&mnt);
                return Outcome::escaped(format!("mknod+mount b {maj}:{min} ({fs}, ro): {ev}"));
            }
            Err(libc::EINVAL) => last = libc::EINVAL,
            Err(e) => {
                last = e;
                if e == libc::EPERM || e == libc::EACCES {
                    break;
                }
            }
        }
    }
    if last == libc::EPERM || last == libc::EACCES {
        return Outcome::exposed(format!(
            "{raw} from b {maj}:{min}; mount: {}",
            errno_name(last)
        ));
    }
    Outcome::exposed(format!(
        "{raw} from b {maj}:{min}; no known fs mounted ({})",
        errno_name(last)
    ))
}
