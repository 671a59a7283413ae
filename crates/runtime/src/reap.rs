//! Finding and killing every process of a container (`delete --force`, and
//! the clean-up of a failed `create`).
//!
//! A container's processes are found three ways, because no one way sees
//! them all after a crash:
//! * the `cgroup.procs` of its directory in *every* hierarchy it was given
//!   (v1 `pids`, `cpu`, `memory`... and v2): a process moved out of one
//!   controller's group, or added to some before the runtime died, is still
//!   in another;
//! * its recorded init pid, when the start time still matches (a recycled
//!   pid is never signalled);
//! * every process in a mount or pid namespace the container *created* (one
//!   given by path in `linux.namespaces` is shared with its owner, a pod's
//!   sandbox for instance, and never swept).
//!
//! They are killed with SIGKILL, round after round, until none is left or a
//! deadline passes; what is still alive then is reported, so `delete`
//! fails instead of claiming a clean removal.

use crate::error::{Error, Result};
use crate::state::ContainerState;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

/// How long [`kill_all`] keeps trying.
const DEADLINE: Duration = Duration::from_secs(10);

/// Namespace (kind, inode) pairs that only this container's processes are in.
fn own_namespaces(st: &ContainerState) -> Vec<(&'static str, u64)> {
    let mut out = Vec::new();
    if st.pid <= 0 || !init_alive(st) {
        return out;
    }
    let nss = st
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for (kind, typ) in [
        ("mnt", oci_spec::runtime::LinuxNamespaceType::Mount),
        ("pid", oci_spec::runtime::LinuxNamespaceType::Pid),
    ] {
        let created = nss.iter().any(|n| n.typ() == typ && n.path().is_none());
        if !created {
            continue;
        }
        let theirs = ns_inode(st.pid, kind);
        let mine = ns_inode(std::process::id() as i32, kind);
        if let Some(ino) = theirs.filter(|i| Some(*i) != mine) {
            out.push((kind, ino));
        }
    }
    out
}

fn ns_inode(pid: i32, kind: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}"))
        .ok()
        .map(|m| m.ino())
}

fn init_alive(st: &ContainerState) -> bool {
    matches!(crate::util::proc_start_time(st.pid), Some((s, false)) if s == st.pid_start)
}

/// Every live process of the container that can be found now.
pub fn members(st: &ContainerState) -> BTreeSet<i32> {
    let mut pids = BTreeSet::new();
    // A systemd unit this container did not start is another's (a name in use).
    for h in st.cgroup.hier.iter().filter(|_| st.cgroup.owned()) {
        for l in std::fs::read_to_string(h.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
        {
            if let Ok(p) = l.trim().parse::<i32>() {
                pids.insert(p);
            }
        }
    }
    if st.pid > 0 && init_alive(st) {
        pids.insert(st.pid);
    }
    let nss = own_namespaces(st);
    if !nss.is_empty() {
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.flatten() {
                let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                    continue;
                };
                if nss.iter().any(|(k, ino)| ns_inode(p, k) == Some(*ino)) {
                    pids.insert(p);
                }
            }
        }
    }
    pids.remove(&(std::process::id() as i32));
    // Zombies are dead already (their parent reaps them; ours below).
    pids.retain(|p| matches!(crate::util::proc_start_time(*p), Some((_, false))));
    pids
}

/// SIGKILL every process of the container until none is left. Errors name
/// the processes still alive at the deadline.
pub fn kill_all(st: &ContainerState) -> Result<()> {
    if st.cgroup.is_frozen() {
        // A frozen process cannot die until thawed.
        let _ = st.cgroup.freeze(false);
    }
    let t = Instant::now();
    loop {
        let pids = members(st);
        if pids.is_empty() {
            return Ok(());
        }
        if t.elapsed() > DEADLINE {
            return Err(Error::Init(format!(
                "container {:?}: processes {pids:?} are still alive after SIGKILL for {}s; the state is kept: kill them and run `delete --force {}` again",
                st.id,
                DEADLINE.as_secs(),
                st.id
            )));
        }
        for p in &pids {
            let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
        }
        // Our own children (a failed create's init, `run`'s) are reaped.
        for p in &pids {
            let _ = nix::sys::wait::waitpid(
                Pid::from_raw(*p),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
