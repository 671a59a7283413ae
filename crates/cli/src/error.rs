//! The one error type of the `stockade` commands. Each command's `run(Args)` returns
//! `Result<ExitCode, Error>`; `main` alone prints the error (one line on stderr, its Display
//! names the command) and exits with [`Error::exit_code`]. The runtime verbs keep their
//! runc-compatible reporting (`runtime::cli::report`: stderr and `--log`), also called from
//! `main` alone.

/// What a command could not do. The Display is the whole line the user sees.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad usage or input found by the command itself (a flag that does not go with another,
    /// a rule that does not exist, a file that cannot be read whole).
    #[error("stockade: {0}")]
    Usage(String),
    /// `--ignore-file` cannot be read or parsed.
    #[error("stockade: {0}")]
    Ignore(#[from] audit::ignore::IgnoreError),
    /// An audit input or the report could not be read or written.
    #[error("stockade: {0}")]
    Audit(#[from] audit::run::AuditError),
    /// stdout could not be written (not a closed pipe: see [`Error::ClosedPipe`]).
    #[error("stockade: writing output: {0}")]
    Write(#[source] std::io::Error),
    /// The vulnerability store cannot be read or imported into.
    #[error("stockade: {0}")]
    Osv(#[from] scan::osv::OsvError),
    /// A `--vex` document cannot be read.
    #[error("stockade: {0}")]
    Vex(#[from] scan::vex::VexError),
    /// The image cannot be read.
    #[error("stockade: {0}")]
    Image(#[from] scan::image::ImageError),
    /// `stockade check` cannot run its battery.
    #[error("stockade check: {0}")]
    Check(#[from] check::Error),
    /// `stockade check`: a runtime or profile named twice.
    #[error("stockade check: {0}; name each once")]
    CheckTwice(String),
    /// `stockade host`: the node or snapshot cannot be judged.
    #[error("stockade host: {0}")]
    Host(String),
    /// `stockade watch`.
    #[error("stockade watch: {0}")]
    Watch(#[from] watch::Error),
    /// `stockade admission certs|serve`.
    #[error("stockade admission {0}")]
    Admission(#[from] admission::Error),
    /// The reader of stdout went away (`stockade audit . | head`): nothing is printed, and the
    /// exit code is the command's: 2 where it is a verdict the reader did not get whole (audit),
    /// 0 where the output is only a listing (rules, explain, host).
    #[error("stdout closed by its reader")]
    ClosedPipe { code: u8 },
}

impl Error {
    /// The process exit code: 2 for usage and input errors (README, "Exit codes"), the crate's
    /// own code for watch and admission.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Watch(e) => e.exit_code(),
            Error::Admission(e) => e.exit_code(),
            Error::ClosedPipe { code } => *code,
            _ => 2,
        }
    }

    /// An output error: a closed pipe becomes [`Error::ClosedPipe`] with `code`, anything else
    /// [`Error::Write`].
    pub fn output(e: std::io::Error, code: u8) -> Error {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Error::ClosedPipe { code }
        } else {
            Error::Write(e)
        }
    }
}
