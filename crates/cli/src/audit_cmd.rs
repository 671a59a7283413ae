//! `stockade audit`.

use audit::ignore::IgnoreConfig;
use audit::run::{audit_paths, AuditOptions};
use clap::{Args, ValueEnum};
use policy::catalogue::{Level, Severity};
use policy::PssVersion;
use std::io::{IsTerminal, Write};

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
    /// 1024). A larger input is not audited: finding SKD-INPUT-004 and exit 2.
    #[arg(long, default_value = "256M", value_parser = parse_size)]
    max_input_size: u64,
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

pub fn run(a: AuditArgs) -> u8 {
    if a.pss_only && a.level == Level::Hardened {
        eprintln!("stockade: --pss-only takes --level baseline or restricted (hardened is not a Pod Security level)");
        return 2;
    }
    let ignore = match &a.ignore_file {
        Some(p) => match IgnoreConfig::load(p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("stockade: {e}");
                return 2;
            }
        },
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
        strict: a.strict,
    };
    let report = match audit_paths(&a.paths, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stockade: {e}");
            return 2;
        }
    };
    let to_file = a.output.is_some();
    let color = match a.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            !to_file && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let written = write_report(&a, &report, color);
    if let Err(e) = written {
        eprintln!("stockade: {e}");
        return 2;
    }
    // The process ends right after this function: the report's memory goes back with it, so
    // it is not freed item by item (tens of thousands of findings, on one thread after the
    // workers are done).
    let report = std::mem::ManuallyDrop::new(report);
    // A document that cannot be decoded, or an input that cannot be read whole, is an input
    // error: it is reported as a finding (so it is never taken for clean) and the exit code says
    // the input was bad.
    let undecodable = report.findings.iter().any(|f| {
        f.suppressed.is_none() && (f.rule.id == "SKD-INPUT-001" || f.rule.id == "SKD-INPUT-004")
    });
    if undecodable {
        return 2;
    }
    let fail_on = a.fail_on.unwrap_or(if a.pss_only {
        Severity::Info
    } else {
        Severity::Low
    });
    if report.failing(fail_on) > 0 {
        1
    } else {
        0
    }
}

/// Write the report to `--output` or stdout, streaming JSON and SARIF straight to the writer.
fn write_report(
    a: &AuditArgs,
    report: &audit::run::AuditReport,
    color: bool,
) -> Result<(), String> {
    let (sink, name): (Box<dyn Write>, String) = match &a.output {
        Some(p) => (
            Box::new(std::fs::File::create(p).map_err(|e| format!("{p}: {e}"))?),
            p.clone(),
        ),
        None => (Box::new(std::io::stdout().lock()), "stdout".to_string()),
    };
    let mut w = std::io::BufWriter::new(sink);
    let result = match a.format {
        OutputFormat::Text => w.write_all(audit::report::text(report, color).as_bytes()),
        OutputFormat::Json => audit::report::write_json(report, &mut w),
        OutputFormat::Sarif => serde_json::to_writer_pretty(&mut w, &audit::report::sarif(report))
            .map_err(std::io::Error::from),
    }
    .and_then(|_| {
        if a.format != OutputFormat::Text {
            w.write_all(b"\n")?;
        }
        w.flush()
    });
    match result {
        // A closed pipe (`stockade audit . | head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("writing {name}: {e}")),
        Ok(()) => Ok(()),
    }
}
