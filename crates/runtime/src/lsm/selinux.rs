//! SELinux: `process.selinuxLabel` (written to the change-on-exec
//! attribute `attr/exec`, as `setexeccon(3)` does) and `linux.mountLabel`
//! (a `context=` option on the filesystems the runtime mounts).
//!
//! Where SELinux is disabled or not available, a label is refused with an
//! error naming SELinux, never ignored: runc refuses `selinuxLabel` the same
//! way ("selinux label is specified in config, but selinux is disabled or
//! not supported"), and fails on `mountLabel` when the mount rejects
//! `context=`. Where it is enabled, a label the loaded policy does not know
//! is refused before anything is made (checked through selinuxfs's
//! `context` file, as `security_check_context(3)` does).

use crate::error::{Error, Result};
use std::io::Write;

/// Where selinuxfs is mounted, if it is.
fn selinuxfs() -> Option<std::path::PathBuf> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mi.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        (post.split(' ').next() == Some("selinuxfs"))
            .then(|| pre.split(' ').nth(4).map(std::path::PathBuf::from))
            .flatten()
    })
}

/// Whether SELinux is enabled (selinuxfs mounted with a policy loaded).
pub fn enabled() -> bool {
    selinuxfs().is_some_and(|p| p.join("enforce").exists())
}

/// In the runtime: `label` (of `field`) can be applied here.
pub fn check_label(field: &str, label: &str) -> Result<()> {
    if label.contains('\n') || label.contains('\0') || label.contains(',') && !has_mcs(label) {
        return Err(Error::field(
            field,
            format!("{label:?} is not an SELinux label (user:role:type[:level])"),
        ));
    }
    let Some(fs) = selinuxfs().filter(|p| p.join("enforce").exists()) else {
        return Err(Error::field(
            field,
            format!(
                "SELinux is disabled or not available on this host, so the label {label:?} \
                 cannot be applied (runc refuses too); remove it, or run on an SELinux host"
            ),
        ));
    };
    if label.split(':').count() < 3 {
        return Err(invalid(field, label, "want user:role:type[:level]"));
    }
    // The kernel's own check of the context against the loaded policy.
    let ctx = fs.join("context");
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&ctx)
        .map_err(|e| Error::io(&ctx, e))?;
    f.write_all(label.as_bytes())
        .map_err(|e| invalid(field, label, &format!("the loaded policy rejects it ({e})")))
}

/// A level with categories (`s0:c1,c2`) is the one place a comma belongs.
fn has_mcs(label: &str) -> bool {
    label.split(':').nth(3).is_some()
}

fn invalid(field: &str, label: &str, why: &str) -> Error {
    Error::field(field, format!("invalid SELinux label {label:?}: {why}"))
}

/// In the init, before `execve`.
pub fn set_exec_label(label: &str) -> Result<()> {
    super::write_attr("process.selinuxLabel", None, "exec", label)
}

/// Mount data with `context="LABEL"` added, for a filesystem of type `typ`
/// that the runtime mounts (not bind mounts, which keep their files' labels,
/// and not proc, sysfs, cgroup or mqueue, which the kernel labels itself).
pub fn mount_data(typ: &str, data: Option<&str>, label: Option<&str>) -> Option<String> {
    let label = label.filter(|l| !l.is_empty());
    match label {
        Some(l)
            if !matches!(
                typ,
                "proc" | "sysfs" | "cgroup" | "cgroup2" | "mqueue" | "bind"
            ) =>
        {
            let ctx = format!("context=\"{l}\"");
            Some(match data.filter(|d| !d.is_empty()) {
                Some(d) => format!("{d},{ctx}"),
                None => ctx,
            })
        }
        _ => data.map(String::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_context() {
        let l = Some("system_u:object_r:container_file_t:s0:c1,c2");
        assert_eq!(
            mount_data("tmpfs", Some("mode=755"), l).unwrap(),
            "mode=755,context=\"system_u:object_r:container_file_t:s0:c1,c2\""
        );
        assert_eq!(
            mount_data("devpts", None, l).unwrap(),
            "context=\"system_u:object_r:container_file_t:s0:c1,c2\""
        );
        assert_eq!(mount_data("proc", None, l), None);
        assert_eq!(mount_data("mqueue", Some("x"), l).as_deref(), Some("x"));
        assert_eq!(mount_data("tmpfs", Some("a"), None).as_deref(), Some("a"));
        assert_eq!(
            mount_data("tmpfs", Some("a"), Some("")).as_deref(),
            Some("a")
        );
    }

    #[test]
    fn refused_without_selinux() {
        if enabled() {
            eprintln!("SKIP: SELinux is enabled here; the guest tests the enabled path");
            return;
        }
        let e = check_label("process.selinuxLabel", "system_u:system_r:container_t:s0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("SELinux is disabled"), "{e}");
        assert!(e.contains("process.selinuxLabel"), "{e}");
        let e = check_label("process.selinuxLabel", "a\nb")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an SELinux label"), "{e}");
    }
}
