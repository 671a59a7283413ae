//! SIGINT/SIGTERM during a check: the signal reaches the runtime (same process group) and ends
//! the running container; the check itself only notes it, runs no further case, and returns
//! normally so that the fixture's cleanup (loop device, sleeper, work directory) runs.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn note(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Install the handler (a handler, not SIG_IGN: handlers are reset at exec, so the runtime and
/// the container still get the default action).
pub fn catch() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `note` only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(
                sig,
                note as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
}

pub fn happened() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
