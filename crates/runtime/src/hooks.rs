//! OCI hooks: prestart, createRuntime, createContainer, startContainer,
//! poststart, poststop. Each gets the container state on stdin and is killed
//! when its `timeout` (seconds) passes.

use crate::error::{Error, Result};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The runtime-spec's MUSTs on a hook's fields, checked at `create` before
/// anything is made: `path` is absolute, and `timeout`, when set, is
/// greater than zero.
pub fn validate(hooks: Option<&oci_spec::runtime::Hooks>) -> Result<()> {
    let Some(h) = hooks else { return Ok(()) };
    let kinds: [(&str, &Option<Vec<Hook>>); 6] = [
        ("prestart", h.prestart()),
        ("createRuntime", h.create_runtime()),
        ("createContainer", h.create_container()),
        ("startContainer", h.start_container()),
        ("poststart", h.poststart()),
        ("poststop", h.poststop()),
    ];
    for (kind, list) in kinds {
        for (i, hook) in list.iter().flatten().enumerate() {
            if !hook.path().is_absolute() {
                return Err(Error::field(
                    format!("hooks.{kind}[{i}].path"),
                    format!("{:?} is not an absolute path", hook.path()),
                ));
            }
            if hook.timeout().is_some_and(|t| t <= 0) {
                return Err(Error::field(
                    format!("hooks.{kind}[{i}].timeout"),
                    "must be greater than zero when set",
                ));
            }
        }
    }
    Ok(())
}

/// Run the hooks of one kind in order; the first failure stops them.
pub fn run(kind: &'static str, hooks: Option<&Vec<Hook>>, state: &str) -> Result<()> {
    for (index, h) in hooks.into_iter().flatten().enumerate() {
        run_one(h, state).map_err(|msg| Error::Hook {
            kind,
            index,
            path: h.path().clone(),
            msg,
        })?;
    }
    Ok(())
}

/// Run every hook of one kind, in order, whatever the others did
/// (runtime-spec: a failing poststop hook is logged as a warning and the
/// remaining hooks still run). Returns the failures.
pub fn run_all(kind: &'static str, hooks: Option<&Vec<Hook>>, state: &str) -> Vec<Error> {
    hooks
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(index, h)| {
            run_one(h, state).err().map(|msg| Error::Hook {
                kind,
                index,
                path: h.path().clone(),
                msg,
            })
        })
        .collect()
}

fn run_one(h: &Hook, state: &str) -> std::result::Result<(), String> {
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(h.path());
    if let Some(a0) = args.first() {
        cmd.arg0(a0);
    }
    cmd.args(args.iter().skip(1));
    cmd.env_clear();
    for kv in h.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("start: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook may exit without reading its stdin; that is not an error.
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = h
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        match child.try_wait().map_err(|e| format!("wait: {e}"))? {
            Some(st) if st.success() => return Ok(()),
            Some(st) => return Err(format!("failed: {st}")),
            None => {}
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", h.timeout().unwrap_or(0)));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
