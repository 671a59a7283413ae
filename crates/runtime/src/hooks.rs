//! OCI hooks: prestart, createRuntime, createContainer, startContainer,
//! poststart, poststop. Each gets the container state on stdin and is killed
//! when its `timeout` (seconds) passes.

use crate::error::{Error, Result};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
