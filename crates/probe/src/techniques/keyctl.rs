//! **E24 keyctl / add_key.** Adds a throwaway key to the process keyring (then invalidates it).
//! Keyrings are not namespaced: a shared session keyring leaks between containers, and the
//! keyctl code has a history of privilege-escalation bugs (CVE-2016-0728). Stopped by: seccomp
//! (moby blocks keyctl/add_key/request_key), a user namespace (per-userns keyrings).

use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "keyctl",
    eid: "E24",
    title: "add_key/keyctl (unnamespaced kernel keyrings)",
    layers: "S, U",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    let ty = sys::cstr("user");
    // SAFETY: getpid has no preconditions.
    let desc = sys::cstr(&format!("stockade-probe-{}", unsafe { libc::getpid() }));
    let payload = b"x";
    // SAFETY: valid strings and buffer; KEY_SPEC_PROCESS_KEYRING = -2.
    let id = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            ty.as_ptr(),
            desc.as_ptr(),
            payload.as_ptr(),
            payload.len(),
            -2i32,
        )
    };
    if id >= 0 {
        // SAFETY: KEYCTL_INVALIDATE (21) on the key we just made.
        unsafe { libc::syscall(libc::SYS_keyctl, 21, id) };
        return Outcome::exposed(format!(
            "add_key created key {id} in the process keyring (invalidated)"
        ));
    }
    match sys::errno() {
        libc::ENOSYS if !ctx.state.seccomp_on() => Outcome::na("kernel built without keys"),
        e => ctx.blocked(e, None, "add_key"),
    }
}
