//! The typed error of `stockade watch`: what failed, with its cause. [`crate::run`] returns it;
//! the `stockade` binary prints it (`stockade watch: ...`) and exits with [`Error::exit_code`].

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A step on a BPF object, program or map (open, load, attach, map update).
    #[error("{what}: {source}")]
    Bpf {
        what: String,
        #[source]
        source: libbpf_rs::Error,
    },
    /// A file or directory step (`mkdir`, `open`).
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The compiled BPF object lacks a part it was built with.
    #[error("{0}")]
    Object(&'static str),
    /// A container's process exited before it could be confined.
    #[error("pid {0} is gone")]
    PidGone(u32),
    /// `--rules FILE` cannot be read or names a rule watch does not report.
    #[error(transparent)]
    Rules(#[from] crate::config::ConfigError),
    /// `--output FILE` cannot be opened.
    #[error("--output {}: {source}", path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `--metrics ADDR` cannot be served.
    #[error("--metrics {addr}: {source}")]
    Metrics {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// `--cgroup DIR` without `--enforce`.
    #[error("--cgroup {} needs --enforce", .0.display())]
    CgroupNeedsEnforce(PathBuf),
    /// `--cgroup DIR` cannot be confined.
    #[error("--cgroup {}: {source}", dir.display())]
    Cgroup {
        dir: PathBuf,
        #[source]
        source: Box<Error>,
    },
    /// Neither detection nor enforcement could be loaded.
    #[error("nothing to do on this kernel/privilege level; exiting")]
    NothingToDo,
    /// The ring buffers could not be set up.
    #[error("ring buffer: {0}")]
    RingBuffer(#[source] libbpf_rs::Error),
    /// The event output failed while running; `lost` events were not written.
    #[error("error: the output failed ({source}); {lost} events were not written; exiting 1")]
    OutputFailed {
        #[source]
        source: std::io::Error,
        lost: u64,
    },
}

impl Error {
    pub(crate) fn bpf(what: impl Into<String>) -> impl FnOnce(libbpf_rs::Error) -> Error {
        let what = what.into();
        move |source| Error::Bpf { what, source }
    }

    pub(crate) fn io(
        what: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.to_path_buf();
        move |source| Error::Io { what, path, source }
    }

    /// The process exit code: 2 for a usage or input error (a flag's value), 1 when nothing
    /// could be loaded or the run failed (docs/watch.md).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Rules(_)
            | Error::Output { .. }
            | Error::Metrics { .. }
            | Error::CgroupNeedsEnforce(_)
            | Error::Cgroup { .. } => 2,
            _ => 1,
        }
    }
}
