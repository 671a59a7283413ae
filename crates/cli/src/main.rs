//! `stockade`: container-escape prevention at the three moments an escape needs.
//!
//! This binary only wires the crates together: argument parsing, human output and exit codes.

#![forbid(unsafe_code)]

mod audit_cmd;
mod check_cmd;
mod db_cmd;
mod error;
mod host_cmd;
mod image_cmd;
mod image_out;
mod rules_cmd;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

/// glibc's malloc, or mimalloc once a command turns it on (the audit): crates/heap.
#[global_allocator]
static HEAP: heap::Heap = heap::Heap;

const ABOUT: &str =
    "Stockade stops container escapes when a workload is declared, started and run.";

const LONG_ABOUT: &str = "\
Stockade stops container escapes at the three moments an escape needs a weakness:

  declared  `stockade audit` checks Kubernetes manifests, compose files, Dockerfiles and OCI
            configs for escape vectors and the Pod Security Standards.
  started   `stockade create|start|run|...`: a runc-compatible OCI runtime that podman,
            containerd and Kubernetes RuntimeClass can use in place of runc.
  running   `stockade watch` detects escape behaviour in any container with eBPF and, with
            --enforce, blocks it as far as the kernel allows.

Every finding names a rule of one catalogue: `stockade rules` lists them, `stockade explain ID`
tells what a rule checks, what escape it prevents and how to fix it.";

const AFTER_HELP: &str = "\
Examples:
  stockade check --compare                    try real escapes under stockade, runc, crun, a
                                              Docker-like and a privileged config (as root)
  stockade audit k8s/                         audit every manifest under k8s/ (restricted level)
  helm template . | stockade audit -          audit rendered charts from stdin
  stockade audit --format sarif -o out.sarif . for code-scanning UIs
  stockade audit --pss-only --level baseline --pss-version v1.30 pod.yaml
                                              the verdict Kubernetes' Pod Security admission gives
  stockade explain SKD-ESC-020                what the engine-socket rule checks and why
  stockade host --prove                       this node's kernel, runtimes and config against
                                              the escape database, with the battery's evidence
  stockade --root /run/stockade run -b bundle ctr1
                                              run an OCI bundle (runc's command line)

Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or input error.";

#[derive(Parser)]
#[command(
    name = "stockade",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true
)]
struct Cli {
    /// The runc-compatible global options (`--root`, `--log`, `--log-format`, ...), accepted
    /// before any subcommand so engines can call `stockade` exactly as they call runc.
    #[command(flatten)]
    global: runtime::cli::GlobalOpts,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Audit manifests, compose files, Dockerfiles and OCI configs for escape vectors.
    Audit(audit_cmd::AuditArgs),
    /// List the rule catalogue.
    Rules(rules_cmd::RulesArgs),
    /// Explain one rule: what it checks, what escape it prevents, how to fix it.
    Explain(rules_cmd::ExplainArgs),
    /// Watch running containers for escape behaviour (eBPF); --enforce blocks it.
    Watch(watch::cli::WatchArgs),
    /// Run the escape battery in a container and report what escapes (`--compare`: stockade,
    /// runc, crun, runsc, Docker-like and privileged side by side; `--fail-on` for CI).
    Check(check_cmd::CheckArgs),
    /// Scan a container image (OCI layout, oci-archive, docker-archive, root filesystem) for
    /// what enables an escape: runtimes with escape CVEs, setuid files, file capabilities,
    /// device nodes, config that reaches the host, credentials; and its packages.
    Image(image_cmd::ImageArgs),
    /// The offline vulnerability store: import OSV records, show what it holds.
    Db(db_cmd::DbArgs),
    /// Judge this node (or a snapshot: --root DIR --facts FILE): kernel, runtimes and
    /// configuration against the curated escape database; --prove adds the battery's evidence.
    Host(host_cmd::HostArgs),
    /// Kubernetes admission webhook: serve it, or make certificates for it.
    Admission(admission::AdmissionArgs),
    /// OCI runtime commands (runc-compatible): create, start, run, state, kill, delete, exec,
    /// ps, list, pause, resume, events, spec, features.
    #[command(flatten)]
    Runtime(runtime::cli::Command),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The command line when its subcommand is a runtime verb (`create`, `run`, ...): the same
/// global options and runtime subcommands as [`Cli`], without building the parsers of `audit`,
/// `watch`, `admission` and the rest, which an engine starting a container never needs.
#[derive(Parser)]
#[command(name = "stockade", version, about = ABOUT, propagate_version = true)]
struct RuntimeCli {
    #[command(flatten)]
    global: runtime::cli::GlobalOpts,
    #[command(subcommand)]
    command: runtime::cli::Command,
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(verb) = runtime::cli::verb(&args) {
        // Re-executed by the seal below: take over its read-only view's fd.
        runtime::exeseal::adopt_view();
        // CVE-2019-5736: `create`/`run` of a config, and `exec` into a container, without a user
        // namespace mapping re-execute from a sealed view of the binary (exeseal.rs) before
        // anything else, so the process that parses the command line and enters the container is
        // the re-executed one. On error, go on: the runtime seals again before it makes any
        // process and reports the error itself. Other calls decide once they have read the
        // container's config (exeseal::ensure_sealed_for).
        if runtime::cli::seal_first(&args, verb) {
            let _ = runtime::exeseal::ensure_sealed();
        }
        let cli = RuntimeCli::parse_from(args);
        return runtime::cli::run(&cli.global, cli.command)
            .unwrap_or_else(|e| runtime::cli::report(&cli.global, &e));
    }
    // `stockade host --root DIR` judges a snapshot; the global `--root` has a default (the
    // runtime's state directory), so only an explicit one counts.
    let root_given = args
        .iter()
        .any(|a| a == "--root" || a.to_string_lossy().starts_with("--root="));
    let cli = Cli::parse_from(args);
    let result = match cli.command {
        Command::Audit(a) => audit_cmd::run(a),
        Command::Rules(a) => rules_cmd::rules(a),
        Command::Explain(a) => rules_cmd::explain(a),
        Command::Watch(a) => watch::run(a).map_err(error::Error::from),
        Command::Check(a) => check_cmd::run(a),
        Command::Image(a) => image_cmd::run(a),
        Command::Db(a) => db_cmd::run(a),
        Command::Host(mut a) => {
            a.root = root_given.then(|| cli.global.root.clone());
            host_cmd::run(a)
        }
        Command::Admission(a) => admission::run(a).map_err(error::Error::from),
        Command::Runtime(c) => {
            return runtime::cli::run(&cli.global, c)
                .unwrap_or_else(|e| runtime::cli::report(&cli.global, &e))
        }
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "stockade", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    };
    // The one place a command's error is printed: one line on stderr (its Display names the
    // command), nothing for a reader of stdout that went away.
    result.unwrap_or_else(|e| {
        if !matches!(e, error::Error::ClosedPipe { .. }) {
            eprintln!("{e}");
        }
        ExitCode::from(e.exit_code())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clap's own consistency checks over the whole command tree: the runtime's global options
    /// (`--root`, `--log`, `--log-format`, ...) reach every subcommand, so a subcommand option
    /// with the same name would only fail at run time without this.
    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
        RuntimeCli::command().debug_assert();
    }
}
