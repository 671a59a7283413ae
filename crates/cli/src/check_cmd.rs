//! `stockade check`: run the escape battery under runtimes and profiles, or `--compare` the
//! standard set, and optionally fail (`--fail-on`) when a run lets something through.

use crate::error::Error;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status when a run let through what `--fail-on` names.
pub const EXIT_LET_THROUGH: u8 = 3;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Runtimes to run the battery under, comma-separated: stockade, runc, crun, runsc, or the
    /// path of a runc-compatible binary [default: stockade]
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "stockade|runc|crun|runsc|PATH,..."
    )]
    runtime: Option<Vec<String>>,
    /// Configurations, comma-separated: default (the runtime's own `spec`), docker
    /// (Docker-like), privileged, lxcfs (docker plus a read-write bind of the check's own lxcfs
    /// at /var/lib/lxcfs), or a config.json file [default: default]
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "default|docker|privileged|lxcfs|FILE,..."
    )]
    profile: Option<Vec<String>>,
    /// One matrix. Alone: stockade, runc, crun and runsc defaults (runsc and crun where
    /// installed), docker-like and privileged under stockade. With --runtime/--profile: every
    /// runtime named under every profile named
    #[arg(long)]
    compare: bool,
    /// Exit 3 when a run lets through a technique that escaped (`escaped`), or that escaped or
    /// is exposed (`exposed`); an inconclusive result counts as let through
    #[arg(long, value_name = "escaped|exposed", value_parser = ["escaped", "exposed"])]
    fail_on: Option<String>,
    /// Print JSON (schema stockade.check/v1) instead of a table
    #[arg(long)]
    json: bool,
    /// Only these techniques (ids or E-numbers, comma-separated), e.g. core-pattern,E01
    #[arg(long, value_name = "IDS")]
    only: Option<String>,
    /// The static stockade-probe to use (default: $STOCKADE_PROBE_BIN, next to this binary,
    /// target/probe-static, or built with scripts/build-probe.sh)
    #[arg(long, value_name = "PATH")]
    probe: Option<PathBuf>,
}

pub fn run(a: CheckArgs) -> Result<ExitCode, Error> {
    let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("stockade"));
    let stockade = check::Runtime::Stockade(me.clone());
    let cases = if a.compare && a.runtime.is_none() && a.profile.is_none() {
        let (cases, skipped) = check::compare_cases(&stockade);
        for s in skipped {
            eprintln!("stockade check: SKIP column {s}");
        }
        cases
    } else {
        let list = |v: &Option<Vec<String>>, dflt: &str| -> Vec<String> {
            v.clone().unwrap_or_else(|| vec![dflt.to_string()])
        };
        let runtimes: Vec<check::Runtime> = list(&a.runtime, "stockade")
            .iter()
            .map(|r| check::Runtime::parse(r.trim(), me.clone()))
            .collect();
        let profiles: Vec<check::Profile> = list(&a.profile, "default")
            .iter()
            .map(|p| check::Profile::parse(p.trim()))
            .collect();
        check::cross_cases(&runtimes, &profiles).map_err(Error::CheckTwice)?
    };
    let opts = check::Options {
        only: a.only,
        probe: a.probe,
    };
    let matrix = check::run(&cases, &opts)?;
    for n in &matrix.notes {
        eprintln!("stockade check: {n}");
    }
    if a.json {
        print!("{}", matrix.json());
    } else if a.compare || matrix.columns.len() > 1 {
        print!("{}", matrix.text());
    } else {
        for c in &matrix.columns {
            print!("{}", c.table());
        }
    }
    if !matrix.all_ran() {
        if a.json {
            for c in &matrix.columns {
                if let Err(e) = &c.result {
                    eprintln!("stockade check: {}: {e}", c.label);
                }
            }
        }
        return Ok(ExitCode::from(1));
    }
    if let Some(level) = a.fail_on.as_deref().and_then(check::FailOn::parse) {
        let through = matrix.let_through(level);
        if !through.is_empty() {
            let name = a.fail_on.as_deref().unwrap_or_default();
            for (label, id, kind) in &through {
                eprintln!("stockade check: --fail-on {name}: {label}: {id} {kind}");
            }
            eprintln!(
                "stockade check: --fail-on {name}: {} technique result(s) let through",
                through.len()
            );
            return Ok(ExitCode::from(EXIT_LET_THROUGH));
        }
    }
    Ok(ExitCode::SUCCESS)
}
