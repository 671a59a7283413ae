//! The five capability sets of `process.capabilities`.
//!
//! Order matters: the bounding set is reduced while we still hold
//! CAP_SETPCAP (before the uid switch), the other sets after it.

use crate::error::{Error, Result};
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};
use std::str::FromStr;

fn convert(set: &Option<Capabilities>, field: &str) -> Result<CapsHashSet> {
    let mut out = CapsHashSet::new();
    for c in set.iter().flatten() {
        let n = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let cap = Capability::from_str(&n)
            .map_err(|_| Error::field(field, format!("unknown capability {n}")))?;
        out.insert(cap);
    }
    Ok(out)
}

/// Drop everything not in the bounding set.
pub fn drop_bounding(c: &LinuxCapabilities) -> Result<()> {
    let keep = convert(c.bounding(), "process.capabilities.bounding")?;
    for cap in caps::all() {
        if keep.contains(&cap) {
            continue;
        }
        // Capabilities the kernel does not know are skipped.
        if let Err(e) = caps::drop(None, CapSet::Bounding, cap) {
            if caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
                return Err(Error::field(
                    "process.capabilities.bounding",
                    format!("drop {cap}: {e}"),
                ));
            }
        }
    }
    Ok(())
}

/// Set effective, permitted, inheritable and ambient (after the uid switch).
pub fn set_sets(c: &LinuxCapabilities) -> Result<()> {
    let eff = convert(c.effective(), "process.capabilities.effective")?;
    let perm = convert(c.permitted(), "process.capabilities.permitted")?;
    let inh = convert(c.inheritable(), "process.capabilities.inheritable")?;
    let amb = convert(c.ambient(), "process.capabilities.ambient")?;
    // Inheritable, then effective (must stay within the current permitted
    // set), then permitted (must contain the new effective set).
    caps::set(None, CapSet::Inheritable, &inh)
        .map_err(|e| Error::field("process.capabilities.inheritable", e.to_string()))?;
    caps::set(None, CapSet::Effective, &eff)
        .map_err(|e| Error::field("process.capabilities.effective", e.to_string()))?;
    caps::set(None, CapSet::Permitted, &perm)
        .map_err(|e| Error::field("process.capabilities.permitted", e.to_string()))?;
    caps::clear(None, CapSet::Ambient).ok();
    for cap in amb {
        // Ambient needs the cap in permitted and inheritable; like runc,
        // skip what cannot be raised.
        let _ = caps::raise(None, CapSet::Ambient, cap);
    }
    Ok(())
}
