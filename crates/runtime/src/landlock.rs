//! Landlock: the container process is confined to its root hierarchy, a
//! last layer against a host fd that leaked into the container (the
//! CVE-2024-21626 shape): even holding a host directory fd, the process
//! cannot open anything below it, because nothing outside the container's
//! root is beneath the one rule.
//!
//! The ruleset is prepared before pivot_root (its one rule is the new root's
//! fd, opened while the rootfs still has its host path) and enforced at the
//! end of `init::finalize`, before the capability drop and seccomp (without
//! no_new_privs, `landlock_restrict_self` needs CAP_SYS_ADMIN, and a user's
//! seccomp profile may deny the Landlock syscalls). Landlock checks at open
//! time, so fds opened before (stdio, preserved fds themselves) keep working.
//! Files under mounts inside the root are beneath it (Landlock walks up
//! through mount points). A kernel without Landlock degrades to no
//! confinement; `create` logs it (see [`supported_abi`]).
//!
//! Off with the annotation `stockade.io/landlock: "off"` or
//! `landlock = false` in /etc/stockade/runtime.toml.

use crate::error::{Error, Result};
use landlock::{
    Access, AccessFs, CompatLevel, Compatible, PathBeneath, Ruleset, RulesetAttr, RulesetCreated,
    RulesetCreatedAttr, RulesetStatus, ABI,
};
use oci_spec::runtime::Spec;
use std::os::fd::AsFd;

/// The annotation that turns Landlock off for one container.
pub const ANNOTATION: &str = "stockade.io/landlock";

/// The ABI whose filesystem rights are handled (older kernels get the
/// subset they know).
const TARGET_ABI: ABI = ABI::V7;

/// Whether the config asks for Landlock to be off.
pub fn disabled_by(spec: &Spec) -> bool {
    spec.annotations()
        .as_ref()
        .and_then(|a| a.get(ANNOTATION))
        .is_some_and(|v| matches!(v.as_str(), "off" | "false" | "disabled"))
}

/// Whether `process` holds CAP_SYS_ADMIN (bounding set): a process the
/// policy let mount filesystems. Landlock denies mount(2) to every process
/// it confines, so it stays off for such a process, said in a warning,
/// rather than silently breaking what the policy allowed.
pub fn needs_mount(process: Option<&oci_spec::runtime::Process>) -> bool {
    process
        .and_then(|p| p.capabilities().as_ref())
        .and_then(|c| c.bounding().as_ref())
        .is_some_and(|b| b.contains(&oci_spec::runtime::Capability::SysAdmin))
}

/// The warning said when [`needs_mount`] turns Landlock off.
pub const MOUNT_WARNING: &str = "landlock: off for this process: it holds CAP_SYS_ADMIN, which the policy allowed, and Landlock would deny it mount(2) (the other layers stay on)";

/// The kernel's Landlock ABI version, or None without Landlock.
pub fn supported_abi() -> Option<i64> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: the version query takes no attribute pointer and returns an int.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    (rc > 0).then_some(rc)
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::Init(format!("landlock: {e}"))
}

/// A ruleset allowing every filesystem access beneath `root` only.
pub fn prepare(root: impl AsFd) -> Result<RulesetCreated> {
    let all = AccessFs::from_all(TARGET_ABI);
    let r = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)
        .map_err(err)?
        .create()
        .map_err(err)?
        .add_rule(PathBeneath::new(root, all))
        .map_err(err)?
        // no_new_privs is process.noNewPrivileges' decision, not ours.
        .no_new_privs(false);
    Ok(r)
}

/// Enforce the ruleset on the calling process. Returns whether it is
/// enforced (false: the kernel has no Landlock).
pub fn enforce(r: RulesetCreated) -> Result<bool> {
    let st = r.restrict_self().map_err(err)?;
    Ok(st.ruleset != RulesetStatus::NotEnforced)
}
