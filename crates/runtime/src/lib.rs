//! Stockade's OCI runtime core.
//!
//! The runtime is split into small modules, each owning one concern:
//!
//! * [`bundle`]: load and validate `config.json` (every error names its field);
//! * [`state`]: the per-container state directory under `--root`, with a lock;
//! * [`cgroups`]: cgroup v1, hybrid and v2 placement and resource limits (a pure plan, applied by the cgroupfs manager);
//! * [`spawn`]: the fork/setns/clone dance that makes the container's pid 1;
//! * [`init`]: the ordered steps the init process runs inside the container;
//! * [`rootfs`]: mounts, devices and pivot_root, with in-root path resolution;
//! * [`seccomp`], [`caps`](mod@capabilities), [`hooks`]: one concern each;
//! * [`gate`]: the policy gate (same rules as `stockade audit`); [`defaults`]: the hardened default config;
//! * [`container`]: the lifecycle operations (create, start, kill, delete, ...);
//! * [`cli`]: the runc-compatible command line;
//! * [`lsm`]: AppArmor profiles and SELinux labels, checked at load and applied at exec;
//! * [`update`]: `update`, new cgroup resources for a live container;
//! * [`testknobs`]: test-only switches that turn one layer off (never in a release binary).
//!
//! The library returns typed [`Error`]s; only [`cli`] prints.

pub mod bundle;
pub mod capabilities;
pub mod cgroups;
pub mod cli;
pub mod container;
pub mod defaults;
pub mod devices_bpf;
pub mod error;
pub mod exeseal;
pub mod gate;
pub mod hooks;
pub mod init;
pub mod landlock;
pub mod lsm;
pub mod reap;
pub mod rootfs;
pub mod seccomp;
pub mod spawn;
pub mod state;
pub mod sync;
pub mod testknobs;
pub mod tty;
pub mod update;
pub mod util;

pub use error::{Error, Result};
