//! `stockade audit`.

use crate::error::Error;
use audit::ignore::IgnoreConfig;
use audit::run::{audit_paths_to, AuditError, AuditOptions, Ordered, Totals};
use clap::{Args, ValueEnum};
use policy::catalogue::{Level, Severity};
use policy::PssVersion;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Args)]
#[command(after_help = "\
Reads Kubernetes YAML/JSON (multi-document, List kinds, every pod-bearing kind, RBAC, \
NetworkPolicy, Namespace), compose files, Dockerfiles/Containerfiles and OCI config.json. \
Directories are searched recursively; `-` reads stdin.

Suppress a finding on a Kubernetes object with the annotation
  stockade.io/ignore: \"SKD-ESC-031,SKD-ESC-032: reason\"
or in a file passed with --ignore-file (see docs/audit.md). Suppressed findings stay in JSON and
SARIF output, marked with their reason.")]
pub struct AuditArgs {
    /// Files or directories to audit; `-` for stdin.
    #[arg(required = true)]
    paths: Vec<String>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    format: OutputFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o')]
    output: Option<String>,
    /// Policy level: baseline and restricted are the Pod Security levels; hardened adds
    /// Stockade's least-privilege rules (read-only root, memory limits, NetworkPolicies...).
    #[arg(long, default_value = "restricted")]
    level: Level,
    /// Pod Security version whose checks apply: v1.N or latest.
    #[arg(long, default_value = "latest")]
    pss_version: PssVersion,
    /// Only the Pod Security checks, with Kubernetes' own verdict: exit 1 exactly when Pod
    /// Security admission would reject the Pod at --level and --pss-version.
    #[arg(long)]
    pss_only: bool,
    /// Lowest severity that makes the exit code 1 (default: low; info with --pss-only).
    #[arg(long)]
    fail_on: Option<Severity>,
    /// A TOML file of reviewed suppressions (see docs/audit.md).
    #[arg(long)]
    ignore_file: Option<String>,
    /// Colour in text output.
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorChoice,
    /// Largest input read (a file, or stdin), in bytes or with a K, M or G suffix (powers of
    /// 1024). What is past it is not audited: finding SKD-INPUT-004 and exit 2. Memory does not
    /// grow with it: a large input is read document by document.
    #[arg(long, default_value = "64G", value_parser = parse_size)]
    max_input_size: u64,
    /// Largest single document (a compose file, Dockerfile or OCI config is one), as
    /// --max-input-size. A larger one is not audited: finding SKD-INPUT-004 and exit 2. Memory
    /// follows this limit.
    #[arg(long, default_value = "256M", value_parser = parse_size)]
    max_document_size: u64,
    /// Fail on files that are not manifests (Helm chart sources, Ansible, Grafana provisioning,
    /// JSON configuration): finding SKD-INPUT-005 instead of a counted skip.
    #[arg(long)]
    strict: bool,
}

/// `1048576`, `512K`, `256M`, `1G` (also `KiB`, `MiB`, `GiB`).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (n, unit) = t.split_at(digits);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("invalid size {s:?} (expected a number of bytes, or e.g. 256M)"))?;
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => return Err(format!("invalid size {s:?} (suffixes: K, M, G)")),
    };
    n.checked_mul(1 << shift)
        .filter(|&v| v > 0)
        .ok_or_else(|| format!("invalid size {s:?} (must be between 1 byte and 2^64)"))
}

pub fn run(a: AuditArgs) -> Result<ExitCode, Error> {
    if a.pss_only && a.level == Level::Hardened {
        return Err(Error::Usage("--pss-only takes --level baseline or restricted (hardened is not a Pod Security level)".into()));
    }
    let ignore = match &a.ignore_file {
        Some(p) => {
            let c = IgnoreConfig::load(p)?;
            for m in c.expired() {
                eprintln!("stockade: warning: {p}: {m}");
            }
            c
        }
        None => IgnoreConfig::default(),
    };
    let opts = AuditOptions {
        policy: policy::Options {
            level: a.level,
            pss_version: a.pss_version,
            pss_only: a.pss_only,
        },
        ignore,
        max_file_size: a.max_input_size,
        max_document_size: a.max_document_size,
        strict: a.strict,
    };
    let to_file = a.output.is_some();
    let color = match a.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            !to_file && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let totals = match audit_and_report(&a, &opts, color) {
        Ok(t) => t,
        // A closed pipe (`stockade audit . | head`) is not an error worth a message; the exit
        // code still says the report was not read whole.
        Err(AuditError::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            return Err(Error::ClosedPipe { code: 2 })
        }
        Err(e) => {
            // No half-written report is left behind.
            if let Some(p) = &a.output {
                let _ = std::fs::remove_file(p);
            }
            return Err(e.into());
        }
    };
    // A document that cannot be decoded, or an input that cannot be read whole, is an input
    // error: it is reported as a finding (so it is never taken for clean) and the exit code says
    // the input was bad.
    if totals.input_errors > 0 {
        return Ok(ExitCode::from(2));
    }
    let fail_on = a.fail_on.unwrap_or(if a.pss_only {
        Severity::Info
    } else {
        Severity::Low
    });
    Ok(ExitCode::from(u8::from(totals.failing(fail_on) > 0)))
}

/// Audit, writing the report to `--output` or stdout: text and JSON as the findings are made
/// (memory stays flat however many there are), SARIF from all the findings at the end.
fn audit_and_report(a: &AuditArgs, opts: &AuditOptions, color: bool) -> Result<Totals, AuditError> {
    // Every document's scalars and every finding are small blocks, made by the workers and
    // freed by the thread that writes the report: mimalloc takes 15-30 % less CPU time than
    // glibc's malloc over the run (docs/benchmarks.md).
    heap::use_mimalloc();
    let (sink, name): (Box<dyn Write>, String) = match &a.output {
        Some(p) => (
            Box::new(std::fs::File::create(p).map_err(|source| AuditError::Io {
                path: p.clone(),
                source,
            })?),
            p.clone(),
        ),
        None => (Box::new(std::io::stdout().lock()), "stdout".to_string()),
    };
    let written = |r: std::io::Result<()>| {
        r.map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                AuditError::Write(e)
            } else {
                AuditError::Write(std::io::Error::new(e.kind(), format!("{name}: {e}")))
            }
        })
    };
    let mut w = std::io::BufWriter::new(sink);
    let totals = match a.format {
        OutputFormat::Text => {
            let mut t = audit::report::TextWriter::new(&mut w, color);
            let mut ordered = Ordered::new(&mut t);
            let totals = audit_paths_to(&a.paths, opts, &mut ordered)?;
            written(ordered.finish())?;
            written(t.finish(&totals).map(|_| ()))?;
            totals
        }
        OutputFormat::Json => {
            let mut j = audit::report::JsonWriter::default();
            let mut ordered = Ordered::new(&mut j);
            let totals = audit_paths_to(&a.paths, opts, &mut ordered)?;
            written(ordered.finish())?;
            written(j.finish(&totals, &mut w).and_then(|_| w.write_all(b"\n")))?;
            totals
        }
        OutputFormat::Sarif => {
            let mut all = audit::run::Collect::default();
            let totals = audit_paths_to(&a.paths, opts, &mut all)?;
            let report = all.into_report(totals.clone());
            written(
                serde_json::to_writer_pretty(&mut w, &audit::report::sarif(&report))
                    .map_err(std::io::Error::from)
                    .and_then(|_| w.write_all(b"\n")),
            )?;
            // The process ends right after: the report's memory goes back with it, so it is
            // not freed item by item.
            std::mem::forget(report);
            totals
        }
    };
    written(w.flush())?;
    Ok(totals)
}
