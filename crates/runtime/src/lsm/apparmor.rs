//! AppArmor: `process.apparmorProfile`, applied with the change-on-exec
//! attribute (`exec PROFILE` written to `attr/apparmor/exec`, or `attr/exec`
//! on older kernels), as `aa_change_onexec(3)` does.
//!
//! On a host where AppArmor is not enabled, a profile is refused. runc does
//! the same (its init fails writing `/proc/self/attr/exec`: "unable to apply
//! apparmor profile: ... invalid argument"); the engines set the field only
//! when AppArmor is enabled. Here the error names AppArmor and the profile.

use crate::error::{Error, Result};

const FIELD: &str = "process.apparmorProfile";

/// Whether AppArmor is enabled on this host (as runc and libapparmor tell).
pub fn enabled() -> bool {
    std::path::Path::new("/sys/kernel/security/apparmor").is_dir()
        && std::fs::read("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|b| b.first() == Some(&b'Y'))
}

/// The names of the loaded profiles, from `profiles` in securityfs
/// (`NAME (MODE)` per line); `None` when it cannot be read.
fn loaded() -> Option<Vec<String>> {
    let text = std::fs::read_to_string("/sys/kernel/security/apparmor/profiles").ok()?;
    Some(parse_profiles(&text))
}

/// `NAME (MODE)` lines to names (a name may contain spaces).
pub fn parse_profiles(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim_end();
            let name = match l.rfind(" (") {
                Some(i) if l.ends_with(')') => &l[..i],
                _ => l,
            };
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

/// In the runtime: the profile can be applied here.
pub fn check_profile(name: &str) -> Result<()> {
    if name.contains('\n') || name.contains('\0') {
        return Err(Error::field(
            FIELD,
            format!("{name:?} is not a profile name"),
        ));
    }
    if !enabled() {
        return Err(Error::field(
            FIELD,
            format!(
                "AppArmor is not enabled on this host, so profile {name:?} cannot be applied \
                 (runc refuses too); remove the field, or run on a host with AppArmor"
            ),
        ));
    }
    // "unconfined" is always there; stacked and namespaced names
    // ("a//&b", ":ns:name") are left to the kernel's answer at exec.
    if name == "unconfined" || name.contains("//") || name.starts_with(':') {
        return Ok(());
    }
    match loaded() {
        Some(names) if !names.iter().any(|n| n == name) => Err(not_loaded(name)),
        _ => Ok(()),
    }
}

fn not_loaded(name: &str) -> Error {
    Error::field(
        FIELD,
        format!(
            "AppArmor profile {name:?} is not loaded; load it first \
             (apparmor_parser -r /etc/apparmor.d/FILE) or name a loaded one"
        ),
    )
}

/// In the init, before `execve`.
pub fn change_on_exec(name: &str) -> Result<()> {
    match super::write_attr(FIELD, Some("apparmor"), "exec", &format!("exec {name}")) {
        Err(Error::Sys {
            source: nix::errno::Errno::ENOENT,
            what,
        }) if what.contains("write") => Err(not_loaded(name)),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_file() {
        let t = "containers-default-0.50.1 (enforce)\ncri-containerd.apparmor.d (enforce)\n\
                 /usr/bin/man (complain)\nodd name (x) (enforce)\n";
        assert_eq!(
            parse_profiles(t),
            vec![
                "containers-default-0.50.1",
                "cri-containerd.apparmor.d",
                "/usr/bin/man",
                "odd name (x)"
            ]
        );
    }

    #[test]
    fn refused_without_apparmor() {
        if enabled() {
            eprintln!("SKIP: AppArmor is enabled here; the guest tests the enabled path");
            return;
        }
        let e = check_profile("containers-default-0.50.1")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("AppArmor is not enabled") && e.contains("containers-default-0.50.1"),
            "{e}"
        );
        assert!(check_profile("bad\nname").is_err());
    }
}
