//! The runc-compatible command line: clap types and `run`, which maps
//! errors to one log line and a non-zero exit code.

use crate::container::{self, CreateOpts, ExecOpts};
use crate::error::{Error, Result};
use crate::gate::{self, RuntimeConfig};
use crate::state::Store;
use crate::util;
use clap::{Args, Subcommand, ValueEnum};
use oci_spec::runtime::Process;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Global options of the OCI runtime commands.
#[derive(Args, Debug, Clone)]
pub struct GlobalOpts {
    /// Directory for container state (default /run/stockade; for a rootless
    /// caller, $XDG_RUNTIME_DIR/stockade, as runc)
    #[arg(long, global = true, default_value_os_t = default_root())]
    pub root: PathBuf,
    /// Write errors (and debug lines) to this file
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Format of --log lines
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug information
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use the systemd cgroup driver: the container's cgroup is a transient scope
    /// made over D-Bus; linux.cgroupsPath is "slice:prefix:name"
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Policy gate at create and exec: default, baseline, restricted, hardened, warn or off
    /// ($STOCKADE_POLICY, then `policy` in /etc/stockade/runtime.toml, then default:
    /// baseline's critical rules refuse, the others warn)
    #[arg(long, global = true, value_name = "LEVEL")]
    pub policy: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Path to the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master (process.terminal)
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Write the init's pid to this file
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Refused: pivot_root is always used
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted for compatibility (no effect)
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many fds (after stdio) to the container
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
    /// Container id
    pub id: String,
}

#[derive(Subcommand, Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Create a container (its process waits for `start`)
    Create(CreateArgs),
    /// Start a created container
    Start { id: String },
    /// Create and start a container
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Return after start instead of waiting
        #[arg(short, long)]
        detach: bool,
        /// Keep the state after the container exits
        #[arg(long)]
        keep: bool,
    },
    /// Print a container's state as JSON
    State { id: String },
    /// Send a signal to a container
    Kill {
        /// Signal every process of the container
        #[arg(short, long)]
        all: bool,
        id: String,
        /// Signal name or number (default TERM)
        signal: Option<String>,
    },
    /// Delete a container
    Delete {
        /// Kill a running container first
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// Run a new process in a container
    Exec {
        #[arg(long)]
        console_socket: Option<PathBuf>,
        #[arg(long)]
        cwd: Option<PathBuf>,
        #[arg(short, long)]
        env: Vec<String>,
        #[arg(short, long)]
        tty: bool,
        /// uid[:gid]
        #[arg(short, long)]
        user: Option<String>,
        #[arg(short = 'g', long)]
        additional_gids: Vec<u32>,
        /// A process.json to run
        #[arg(short, long)]
        process: Option<PathBuf>,
        #[arg(short, long)]
        detach: bool,
        #[arg(long)]
        pid_file: Option<PathBuf>,
        #[arg(long)]
        process_label: Option<String>,
        #[arg(long)]
        apparmor: Option<String>,
        #[arg(long)]
        no_new_privs: bool,
        /// Add a capability
        #[arg(short, long)]
        cap: Vec<String>,
        #[arg(long, default_value_t = 0)]
        preserve_fds: i32,
        #[arg(long)]
        ignore_paused: bool,
        #[arg(long)]
        cgroup: Option<String>,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// List the processes of a container
    Ps {
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// List containers
    List {
        #[arg(short, long, default_value = "table")]
        format: String,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Freeze all processes of a container
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// Print container statistics
    Events {
        /// Print one stats document and exit
        #[arg(long)]
        stats: bool,
        /// Interval between stats documents
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// Change a container's cgroup resources
    Update(crate::update::UpdateArgs),
    /// Write a default config.json
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        /// Map only the caller's uid/gid and set no cgroup limits
        #[arg(long)]
        rootless: bool,
        /// runc's default config instead of the hardened one (no user
        /// namespace, seccomp, read-only root or limits)
        #[arg(long, conflicts_with = "rootless")]
        unhardened: bool,
    },
    /// Print the OCI features document
    Features,
}

/// The subcommand names of [`Command`].
pub const VERBS: &[&str] = &[
    "create", "start", "run", "state", "kill", "delete", "exec", "ps", "list", "pause", "resume",
    "events", "update", "spec", "features",
];

/// Whether `main` should seal ([`crate::exeseal`]) before it parses anything:
/// for `create` and `run` when the bundle's config.json has no `uidMappings`
/// at all, for `exec` when the container's state has none. Such a container
/// has no user namespace of its own, so the runtime will seal after reading
/// the config anyway ([`crate::exeseal::container_may_write`]), and sealing
/// first saves the first process that work. Otherwise (a mapping, or nothing
/// to read) the runtime decides once it has read the config. Either answer is
/// safe: this only chooses when the seal happens, never whether.
pub fn seal_first<S: AsRef<std::ffi::OsStr>>(args: &[S], verb: &str) -> bool {
    let file = match verb {
        "create" | "run" => bundle_arg(args).join("config.json"),
        "exec" => match exec_state_path(args) {
            Some(p) => p,
            None => return false,
        },
        _ => return false,
    };
    const KEY: &[u8] = b"\"uidMappings\"";
    match std::fs::read(file) {
        Ok(data) => !data.windows(KEY.len()).any(|w| w == KEY),
        Err(_) => false,
    }
}

/// The default `--root`, by runc's rule: `$XDG_RUNTIME_DIR/stockade` when
/// XDG_RUNTIME_DIR is set and the caller is rootless (not uid 0, or uid 0 of
/// a user namespace, as under rootless podman, unless $USER is root), else
/// `/run/stockade`.
pub fn default_root() -> PathBuf {
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|x| !x.is_empty());
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    let in_userns = || {
        std::fs::read_to_string("/proc/self/uid_map")
            .map(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
            .unwrap_or(false)
    };
    match xdg {
        Some(x)
            if euid != 0
                || (in_userns() && std::env::var("USER").map_or(true, |u| u != "root")) =>
        {
            Path::new(&x).join("stockade")
        }
        _ => PathBuf::from("/run/stockade"),
    }
}

/// The options of [`GlobalOpts`] that take a value (`--opt VALUE` or
/// `--opt=VALUE`), for the scans of the command line that run before the
/// parser ([`verb`], [`seal_first`]); a unit test keeps it in step with clap.
const GLOBAL_VALUED: &[&[u8]] = &[b"--root", b"--log", b"--log-format", b"--policy"];

/// The options of `exec` that take a value (checked against clap by a test).
const EXEC_VALUED: &[&[u8]] = &[
    b"--console-socket",
    b"--cwd",
    b"-e",
    b"--env",
    b"-u",
    b"--user",
    b"-g",
    b"--additional-gids",
    b"-p",
    b"--process",
    b"--pid-file",
    b"--process-label",
    b"--apparmor",
    b"-c",
    b"--cap",
    b"--preserve-fds",
    b"--cgroup",
];

/// The `--bundle` of a `create` or `run` command line, found without a parser.
fn bundle_arg<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let mut bundle = std::path::PathBuf::from(".");
    let mut it = args.iter().skip(1).map(|a| a.as_ref());
    while let Some(a) = it.next() {
        let b = a.as_bytes();
        if b == b"-b" || b == b"--bundle" {
            if let Some(v) = it.next() {
                bundle = v.into();
            }
        } else if let Some(v) = b
            .strip_prefix(b"--bundle=")
            .or_else(|| b.strip_prefix(b"-b"))
        {
            bundle = std::ffi::OsStr::from_bytes(v).into();
        }
    }
    bundle
}

/// `<root>/<id>/state.json` of an `exec` command line, found without a parser:
/// the global `--root` (default `/run/stockade`) and the first word after the
/// verb that is neither an option nor an option's value.
fn exec_state_path<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let mut root = default_root();
    let mut verb_seen = false;
    let mut it = args.iter().skip(1).map(|a| a.as_ref());
    while let Some(a) = it.next() {
        let b = a.as_bytes();
        if b == b"--root" {
            root = it.next()?.into();
        } else if let Some(v) = b.strip_prefix(b"--root=") {
            root = std::ffi::OsStr::from_bytes(v).into();
        } else if GLOBAL_VALUED.contains(&b) || EXEC_VALUED.contains(&b) {
            it.next()?;
        } else if b.starts_with(b"-") {
            // a flag, `--opt=value` or `-xVALUE`
        } else if !verb_seen {
            verb_seen = true;
        } else {
            let id = a.to_str()?;
            return util::valid_id(id).then(|| root.join(id).join("state.json"));
        }
    }
    None
}

/// The runtime verb of a command line (`argv[0]` first), found without
/// building a parser: the first word after the global options of
/// [`GlobalOpts`], when it is one of [`VERBS`]. `None` for anything else
/// (another subcommand, `--help`, an unknown option), which the full parser
/// then handles. The binary uses this to seal itself before parsing and to
/// build only the runtime's part of the command tree; the parser still
/// checks the whole command line.
pub fn verb<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Option<&'static str> {
    let mut it = args.iter().skip(1).map(|a| a.as_ref().as_encoded_bytes());
    while let Some(a) = it.next() {
        match a {
            _ if GLOBAL_VALUED.contains(&a) => {
                it.next()?;
            }
            b"--debug" | b"--systemd-cgroup" => {}
            _ if GLOBAL_VALUED
                .iter()
                .any(|o| a.starts_with(o) && a.get(o.len()) == Some(&b'=')) => {}
            _ => return VERBS.iter().copied().find(|v| v.as_bytes() == a),
        }
    }
    None
}

/// Run one command: its exit code (for `run` and `exec`, the process's own), or the error,
/// which the binary hands to [`report`].
pub fn run(global: &GlobalOpts, cmd: Command) -> Result<ExitCode> {
    dispatch(global, cmd).map(|code| ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// Says a failed command's error as runc does, and returns the exit code (1). The error line
/// goes to stderr and, with `--log`, to the log as a logrus-style line (shims read it there);
/// a policy refusal's line shows the first few violations, and the log gets every one first.
/// A reader of stdout that went away (`stockade features | head`) is no error: nothing is
/// said and the exit code is 0, as runc's.
pub fn report(global: &GlobalOpts, e: &Error) -> ExitCode {
    if let Error::Io { path, source } = e {
        if path.as_os_str() == "stdout" && source.kind() == std::io::ErrorKind::BrokenPipe {
            return ExitCode::SUCCESS;
        }
    }
    if let Error::Policy { violations, .. } = e {
        if violations.len() > crate::error::POLICY_SHOWN {
            for v in violations {
                log_warning(global, &format!("policy: {v}"));
            }
        }
    }
    log_error(global, &e.to_string());
    ExitCode::from(1)
}

/// Where warnings go without `--log`: this file in the state root (only
/// when the root exists; renamed to `.1` past [`WARNINGS_MAX`] bytes).
pub const WARNINGS_LOG: &str = "stockade.log";
const WARNINGS_MAX: u64 = 1 << 20;

/// Report an error: one line on stderr, and a logrus-style line in --log.
pub fn log_error(global: &GlobalOpts, msg: &str) {
    log_line(global, "error", msg)
}

/// Report a warning: in --log when given (shims read it), else in
/// `<root>/stockade.log` ([`WARNINGS_LOG`]). Never on stderr: under podman
/// (conmon) the runtime's stderr is the container's own.
pub fn log_warning(global: &GlobalOpts, msg: &str) {
    log_line(global, "warning", msg)
}

fn log_line(global: &GlobalOpts, level: &str, msg: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let to_stderr = level == "error";
    let msg = msg.replace('\n', " ");
    let (path, format) = match &global.log {
        Some(p) => (Some(p.clone()), global.log_format),
        None if !to_stderr && global.root.is_dir() => {
            let p = global.root.join(WARNINGS_LOG);
            if std::fs::metadata(&p).is_ok_and(|m| m.len() > WARNINGS_MAX) {
                let _ = std::fs::rename(&p, global.root.join(format!("{WARNINGS_LOG}.1")));
            }
            (Some(p), LogFormat::Text)
        }
        None => (None, global.log_format),
    };
    if let Some(path) = path {
        let line = match format {
            LogFormat::Json => format!(
                "{}\n",
                serde_json::json!({"level": level, "msg": msg, "time": util::rfc3339_now()})
            ),
            LogFormat::Text => format!(
                "time=\"{}\" level={level} msg={:?}\n",
                util::rfc3339_now(),
                msg
            ),
        };
        // std opens with O_CLOEXEC.
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
    if !to_stderr {
        return;
    }
    if global.log_format == LogFormat::Json && global.log.is_none() {
        eprintln!(
            "{}",
            serde_json::json!({"level": level, "msg": msg, "time": util::rfc3339_now()})
        );
    } else if level == "error" {
        eprintln!("stockade: {msg}");
    } else {
        eprintln!("stockade: {level}: {msg}");
    }
}

fn print_json(v: &serde_json::Value) -> Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Error::Usage(e.to_string()))?;
    say(format_args!("{s}"))
}

/// One line on stdout. A reader that went away (`stockade features |
/// head`) ends the command with an error that [`report`] ends quietly, as
/// runc ends; `println!` would panic.
fn say(line: std::fmt::Arguments) -> Result<()> {
    let mut o = std::io::stdout().lock();
    writeln!(o, "{line}")
        .and_then(|_| o.flush())
        .map_err(|e| Error::io("stdout", e))
}

fn create_opts(global: &GlobalOpts, a: &CreateArgs) -> Result<CreateOpts> {
    let cfg = RuntimeConfig::load(&RuntimeConfig::path())?;
    let policy = gate::resolve(global.policy.as_deref(), &cfg)?;
    let g = global.clone();
    Ok(CreateOpts {
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        preserve_fds: a.preserve_fds,
        no_pivot: a.no_pivot,
        policy: Some(policy),
        on_warning: Some(std::sync::Arc::new(move |m: &str| log_warning(&g, m))),
        no_landlock: cfg.landlock == Some(false),
        policy_ignore: cfg.ignore.clone().unwrap_or_default(),
        default_terminal: None,
        systemd_cgroup: global.systemd_cgroup,
    })
}

fn dispatch(global: &GlobalOpts, cmd: Command) -> Result<i32> {
    // Commands that need no state directory.
    match &cmd {
        Command::Spec {
            bundle,
            rootless,
            unhardened,
        } => return write_spec(bundle, *rootless, *unhardened).map(|_| 0),
        Command::Features => return print_json(&features()).map(|_| 0),
        _ => {}
    }
    // CVE-2019-5736: `create`, `run` and `exec` seal (exeseal.rs), where
    // their container needs it, once they have read its config.
    let store = Store::new(&global.root)?;
    match cmd {
        Command::Create(a) => {
            container::create(&store, &a.id, &create_opts(global, &a)?).map(|_| 0)
        }
        Command::Start { id } => container::start(&store, &id).map(|_| 0),
        Command::Run {
            create,
            detach,
            keep,
        } => container::run(
            &store,
            &create.id,
            &create_opts(global, &create)?,
            detach,
            keep,
        ),
        Command::State { id } => print_json(&container::state(&store, &id)?).map(|_| 0),
        Command::Kill { all, id, signal } => {
            let s = signal.unwrap_or_else(|| "TERM".into());
            let sig = util::parse_signal(&s)
                .ok_or_else(|| Error::Usage(format!("unknown signal {s:?}")))?;
            container::kill(&store, &id, sig, all).map(|_| 0)
        }
        Command::Delete { force, id } => {
            let g = global.clone();
            let warn: container::WarningSink =
                std::sync::Arc::new(move |m: &str| log_warning(&g, m));
            container::delete(&store, &id, force, Some(&warn)).map(|_| 0)
        }
        Command::Pause { id } => container::pause(&store, &id, true).map(|_| 0),
        Command::Resume { id } => container::pause(&store, &id, false).map(|_| 0),
        Command::List { format, quiet } => {
            let all = container::list(&store)?;
            if quiet {
                for v in &all {
                    say(format_args!("{}", v["id"].as_str().unwrap_or_default()))?;
                }
            } else if format == "json" {
                print_json(&serde_json::Value::Array(all))?;
            } else {
                say(format_args!(
                    "{:<20} {:<8} {:<10} {:<40} {:<32} OWNER",
                    "ID", "PID", "STATUS", "BUNDLE", "CREATED"
                ))?;
                for v in &all {
                    say(format_args!(
                        "{:<20} {:<8} {:<10} {:<40} {:<32} {}",
                        v["id"].as_str().unwrap_or_default(),
                        v["pid"],
                        v["status"].as_str().unwrap_or_default(),
                        v["bundle"].as_str().unwrap_or_default(),
                        v["created"].as_str().unwrap_or_default(),
                        v["owner"].as_str().unwrap_or("root"),
                    ))?;
                }
            }
            Ok(0)
        }
        Command::Ps {
            format,
            id,
            ps_args,
        } => {
            let pids = container::pids(&store, &id)?;
            if format == "json" {
                print_json(&serde_json::json!(pids))?;
                return Ok(0);
            }
            let args = if ps_args.is_empty() {
                vec!["-ef".to_string()]
            } else {
                ps_args
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .map_err(|e| Error::Usage(format!("ps: {e}")))?;
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let col = header.split_whitespace().position(|c| c == "PID");
            say(format_args!("{header}"))?;
            for l in lines {
                let pid = col
                    .and_then(|c| l.split_whitespace().nth(c))
                    .and_then(|p| p.parse::<i32>().ok());
                if pid.is_some_and(|p| pids.contains(&p)) {
                    say(format_args!("{l}"))?;
                }
            }
            Ok(0)
        }
        Command::Events {
            stats,
            interval,
            id,
        } => {
            let every = parse_duration(&interval)?;
            let mut ooms = None;
            loop {
                let v = container::stats(&store, &id)?;
                // An "oom" event (as runc's) for each new OOM kill.
                let n = v["data"]["memory"]["oomKill"].as_u64().unwrap_or(0);
                if !stats && ooms.is_some_and(|o| n > o) {
                    say(format_args!(
                        "{}",
                        serde_json::json!({"type": "oom", "id": id})
                    ))?;
                }
                ooms = Some(n);
                say(format_args!("{v}"))?;
                if stats {
                    return Ok(0);
                }
                std::thread::sleep(every);
            }
        }
        Command::Exec {
            console_socket,
            cwd,
            env,
            tty,
            user,
            additional_gids,
            process,
            detach,
            pid_file,
            process_label,
            apparmor,
            no_new_privs,
            cap,
            preserve_fds,
            ignore_paused: _,
            cgroup: _,
            id,
            command,
        } => {
            // Fail early, before reading --process, if the id is unknown.
            container::state(&store, &id)?;
            let mut proc_ = match process {
                Some(p) => {
                    let data = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
                    let value: serde_json::Value =
                        serde_json::from_slice(&data).map_err(|e| Error::Config {
                            path: p.clone(),
                            msg: format!("malformed JSON: {e}"),
                        })?;
                    crate::bundle::decode::<Process>(&p, value)?
                }
                None => exec_process(
                    &store,
                    &id,
                    ExecCli {
                        cwd,
                        env,
                        tty,
                        user,
                        additional_gids,
                        no_new_privs,
                        cap,
                        command,
                    },
                )?,
            };
            // Applied at exec (lsm.rs), and seen by the policy gate (an
            // unconfined profile is a finding).
            if let Some(a) = apparmor {
                proc_.set_apparmor_profile(Some(a));
            }
            if let Some(l) = process_label {
                proc_.set_selinux_label(Some(l));
            }
            let cfg = RuntimeConfig::load(&RuntimeConfig::path())?;
            let g = global.clone();
            container::exec(
                &store,
                &id,
                ExecOpts {
                    process: proc_,
                    console_socket,
                    pid_file,
                    detach,
                    preserve_fds,
                    no_landlock: cfg.landlock == Some(false),
                    policy: Some(gate::resolve(global.policy.as_deref(), &cfg)?),
                    policy_ignore: cfg.ignore.clone().unwrap_or_default(),
                    on_warning: Some(std::sync::Arc::new(move |m: &str| log_warning(&g, m))),
                },
            )
        }
        Command::Update(a) => {
            let cfg = RuntimeConfig::load(&RuntimeConfig::path())?;
            let policy = gate::resolve(global.policy.as_deref(), &cfg)?;
            crate::update::run(&store, &a, Some(policy), &|m: &str| log_warning(global, m))
                .map(|_| 0)
        }
        Command::Spec { .. } | Command::Features => Ok(0),
    }
}

struct ExecCli {
    cwd: Option<PathBuf>,
    env: Vec<String>,
    tty: bool,
    user: Option<String>,
    additional_gids: Vec<u32>,
    no_new_privs: bool,
    cap: Vec<String>,
    command: Vec<String>,
}

/// Build the exec process from the container's process and the flags.
fn exec_process(store: &Store, id: &str, a: ExecCli) -> Result<Process> {
    if a.command.is_empty() {
        return Err(Error::Usage("exec: no command given".into()));
    }
    let locked = store.open(id)?;
    let st = locked.load()?;
    let mut p = st.spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.command));
    p.set_terminal(Some(a.tty));
    p.set_console_size(None);
    if let Some(c) = a.cwd {
        p.set_cwd(c);
    }
    let mut env = p.env().clone().unwrap_or_default();
    for kv in a.env {
        let key = kv.split('=').next().unwrap_or_default().to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(kv);
    }
    p.set_env(Some(env));
    if let Some(u) = a.user {
        let mut user = p.user().clone();
        let (uid, gid) = u
            .split_once(':')
            .map(|(a, b)| (a, Some(b)))
            .unwrap_or((u.as_str(), None));
        user.set_uid(
            uid.parse()
                .map_err(|_| Error::Usage(format!("--user {u:?}: want uid[:gid]")))?,
        );
        if let Some(g) = gid {
            user.set_gid(
                g.parse()
                    .map_err(|_| Error::Usage(format!("--user {u:?}: want uid[:gid]")))?,
            );
        }
        if !a.additional_gids.is_empty() {
            user.set_additional_gids(Some(a.additional_gids));
        }
        p.set_user(user);
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for c in &a.cap {
            let name = if c.starts_with("CAP_") {
                c.clone()
            } else {
                format!("CAP_{}", c.to_uppercase())
            };
            let cap: oci_spec::runtime::Capability =
                serde_json::from_value(serde_json::json!(name))
                    .map_err(|_| Error::Usage(format!("--cap {c}: unknown capability")))?;
            for set in [
                caps.bounding().clone(),
                caps.effective().clone(),
                caps.permitted().clone(),
                caps.inheritable().clone(),
            ]
            .iter_mut()
            .enumerate()
            {
                let mut s = set.1.clone().unwrap_or_default();
                s.insert(cap);
                match set.0 {
                    0 => caps.set_bounding(Some(s)),
                    1 => caps.set_effective(Some(s)),
                    2 => caps.set_permitted(Some(s)),
                    _ => caps.set_inheritable(Some(s)),
                };
            }
        }
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

fn parse_duration(s: &str) -> Result<std::time::Duration> {
    let bad = || Error::Usage(format!("--interval {s:?}: want e.g. 5s or 500ms"));
    if let Some(ms) = s.strip_suffix("ms") {
        return ms
            .parse()
            .map(std::time::Duration::from_millis)
            .map_err(|_| bad());
    }
    if let Some(sec) = s.strip_suffix('s') {
        return sec
            .parse::<f64>()
            .map(std::time::Duration::from_secs_f64)
            .map_err(|_| bad());
    }
    s.parse()
        .map(std::time::Duration::from_secs)
        .map_err(|_| bad())
}

/// `spec`: the hardened default config.json ([`crate::defaults`]), or
/// runc's with `--unhardened`.
fn write_spec(bundle: &Path, rootless: bool, unhardened: bool) -> Result<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(Error::Usage(format!(
            "{} exists; remove it first",
            path.display()
        )));
    }
    let mut spec = if unhardened {
        crate::defaults::unhardened_spec()
    } else {
        crate::defaults::hardened_spec()
    };
    if rootless {
        // SAFETY: getuid/getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        if let Some(linux) = spec.linux_mut() {
            let one = |host| {
                vec![oci_spec::runtime::LinuxIdMappingBuilder::default()
                    .container_id(0u32)
                    .host_id(host)
                    .size(1u32)
                    .build()
                    .expect("id mapping")]
            };
            linux.set_uid_mappings(Some(one(uid)));
            linux.set_gid_mappings(Some(one(gid)));
            linux.set_resources(None);
        }
        // As runc's: no uid=/gid= mount options (those ids are not mapped),
        // and /sys bound from the host (a user namespace cannot mount sysfs
        // for a network namespace it does not own).
        if let Some(mounts) = spec.mounts().clone() {
            let mounts = mounts
                .into_iter()
                .map(|mut m| {
                    if m.destination() == Path::new("/sys") {
                        m.set_typ(Some("none".into()));
                        m.set_source(Some("/sys".into()));
                        m.set_options(Some(
                            ["rbind", "nosuid", "noexec", "nodev", "ro"]
                                .map(String::from)
                                .to_vec(),
                        ));
                    } else if let Some(o) = m.options().clone() {
                        m.set_options(Some(
                            o.into_iter()
                                .filter(|o| !o.starts_with("uid=") && !o.starts_with("gid="))
                                .collect(),
                        ));
                    }
                    m
                })
                .collect();
            spec.set_mounts(Some(mounts));
        }
    }
    let data = serde_json::to_string_pretty(&spec).map_err(|e| Error::Usage(e.to_string()))?;
    std::fs::write(&path, data + "\n").map_err(|e| Error::io(&path, e))
}

/// `features`: the OCI runtime features document.
pub fn features() -> serde_json::Value {
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.1",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
            "iversion", "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec",
            "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid",
            "private", "rbind", "relatime", "remount", "ro", "rprivate", "rshared", "rslave",
            "runbindable", "rw", "shared", "silent", "slave", "strictatime", "suid", "sync",
            "tmpcopyup", "unbindable", "idmap", "ridmap", "ratime", "rdev", "rdiratime", "rexec",
            "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnosuid", "rnosymfollow",
            "rrelatime", "rro", "rrw", "rstrictatime", "rsuid", "rsymfollow"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": caps::all().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": true, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                    "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"],
                "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"]
            },
            "apparmor": {"enabled": true},
            "selinux": {"enabled": true},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": true}}
        },
        "annotations": {"org.opencontainers.runc.checkpoint.enabled": "false", "io.github.stockade.version": env!("CARGO_PKG_VERSION")}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_the_subcommands() {
        let cmd = <Command as clap::Subcommand>::augment_subcommands(clap::Command::new("t"));
        let mut names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
        let mut verbs = VERBS.to_vec();
        names.sort_unstable();
        verbs.sort_unstable();
        assert_eq!(names, verbs);
    }

    #[test]
    fn prescan_option_lists_match_clap() {
        // Every option that takes a value, as the scans before the parser must skip it.
        let valued = |cmd: &clap::Command| -> Vec<String> {
            let mut v: Vec<String> = cmd
                .get_arguments()
                .filter(|a| !a.is_positional() && a.get_action().takes_values())
                .flat_map(|a| {
                    let long = a.get_long().map(|l| format!("--{l}"));
                    let short = a.get_short().map(|c| format!("-{c}"));
                    long.into_iter().chain(short)
                })
                .collect();
            v.sort();
            v
        };
        let listed = |l: &[&[u8]]| -> Vec<String> {
            let mut v: Vec<String> = l
                .iter()
                .map(|o| String::from_utf8(o.to_vec()).unwrap())
                .collect();
            v.sort();
            v
        };
        let global = <GlobalOpts as clap::Args>::augment_args(clap::Command::new("g"));
        assert_eq!(valued(&global), listed(GLOBAL_VALUED));
        let cmd = <Command as clap::Subcommand>::augment_subcommands(clap::Command::new("t"));
        let exec = cmd.find_subcommand("exec").unwrap();
        assert_eq!(valued(exec), listed(EXEC_VALUED));
    }

    #[test]
    fn seal_first_only_without_uid_mappings() {
        let d = std::env::temp_dir().join(format!("stockade-sealfirst-{}", std::process::id()));
        let (plain, mapped) = (d.join("plain"), d.join("mapped"));
        std::fs::create_dir_all(&plain).unwrap();
        std::fs::create_dir_all(&mapped).unwrap();
        std::fs::write(plain.join("config.json"), br#"{"linux":{}}"#).unwrap();
        std::fs::write(
            mapped.join("config.json"),
            br#"{"linux":{"uidMappings":[]}}"#,
        )
        .unwrap();
        let (p, m) = (plain.to_str().unwrap(), mapped.to_str().unwrap());
        let f = |a: &[&str], verb| seal_first(a, verb);
        // exec: the container's state, under --root.
        let root = d.join("root");
        for (id, cfg) in [("plain", plain.clone()), ("mapped", mapped.clone())] {
            std::fs::create_dir_all(root.join(id)).unwrap();
            std::fs::copy(cfg.join("config.json"), root.join(id).join("state.json")).unwrap();
        }
        let r = root.to_str().unwrap();
        let rooteq = format!("--root={r}");
        for (a, want) in [
            (vec!["s", "--root", r, "exec", "plain", "sh"], true),
            (
                vec![
                    "s", &rooteq, "exec", "-t", "--cap", "CAP_KILL", "-eA=1", "plain", "true",
                ],
                true,
            ),
            (
                vec!["s", "exec", "--root", r, "-u", "0", "plain", "true"],
                true,
            ),
            (vec!["s", "--root", r, "exec", "mapped", "sh"], false),
            (vec!["s", "--root", r, "exec", "absent", "sh"], false),
            (vec!["s", "--root", r, "exec", "../plain", "sh"], false),
            (vec!["s", "--root", r, "exec", "--cap"], false),
        ] {
            assert_eq!(f(&a, "exec"), want, "{a:?}");
        }
        assert!(!f(&["s", "start", "id"], "start"));
        let (eq, short) = (format!("--bundle={p}"), format!("-b{p}"));
        for (a, want) in [
            (vec!["s", "create", "-b", p, "id"], true),
            (vec!["s", "run", "--bundle", p, "id"], true),
            (vec!["s", "run", &eq, "id"], true),
            (vec!["s", "run", &short, "id"], true),
            (vec!["s", "create", "-b", m, "id"], false),
            (vec!["s", "run", "-b", "/nonexistent/bundle", "id"], false),
            (vec!["s", "run", "id", "-b"], false),
        ] {
            assert_eq!(f(&a, a[1]), want, "{a:?}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn verb_skips_global_options() {
        let v = |a: &[&str]| verb(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(v(&["stockade", "run", "-b", "x", "id"]), Some("run"));
        assert_eq!(
            v(&[
                "stockade",
                "--root",
                "/r",
                "--log",
                "run",
                "--log-format",
                "json",
                "create"
            ]),
            Some("create")
        );
        assert_eq!(
            v(&[
                "stockade",
                "--root=/r",
                "--debug",
                "--systemd-cgroup",
                "exec",
                "id"
            ]),
            Some("exec")
        );
        assert_eq!(
            v(&["stockade", "--policy", "off", "delete", "id"]),
            Some("delete")
        );
        // Not a runtime verb: the full parser decides.
        assert_eq!(v(&["stockade", "audit", "run"]), None);
        assert_eq!(v(&["stockade", "--help", "run"]), None);
        assert_eq!(v(&["stockade", "--root"]), None);
        assert_eq!(v(&["stockade"]), None);
        assert_eq!(v(&["stockade", "-x", "run"]), None);
    }
}
