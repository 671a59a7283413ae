//! `stockade check`: run the escape battery under a runtime and profile, or `--compare` five.

use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Runtime to run the battery under: stockade, runc, crun, or the path of a runc-compatible
    /// binary
    #[arg(
        long,
        default_value = "stockade",
        value_name = "stockade|runc|crun|PATH"
    )]
    runtime: String,
    /// Configuration: default (the runtime's own `spec`), docker (Docker-like), privileged, or a
    /// config.json file
    #[arg(
        long,
        default_value = "default",
        value_name = "default|docker|privileged|FILE"
    )]
    profile: String,
    /// One matrix: stockade default, runc default, crun default, docker-like and privileged
    /// (both under stockade)
    #[arg(long, conflicts_with_all = ["runtime", "profile"])]
    compare: bool,
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

pub fn run(a: CheckArgs) -> u8 {
    let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("stockade"));
    let stockade = check::Runtime::Stockade(me.clone());
    let cases = if a.compare {
        check::compare_cases(&stockade)
    } else {
        vec![check::Case {
            runtime: check::Runtime::parse(&a.runtime, me),
            profile: check::Profile::parse(&a.profile),
        }]
    };
    let opts = check::Options {
        only: a.only,
        probe: a.probe,
    };
    let matrix = match check::run(&cases, &opts) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("stockade check: {e}");
            return 2;
        }
    };
    if a.json {
        print!("{}", matrix.json());
    } else if a.compare {
        print!("{}", matrix.text());
    } else {
        for c in &matrix.columns {
            print!("{}", c.table());
        }
    }
    if matrix.all_ran() {
        0
    } else {
        if a.json {
            for c in &matrix.columns {
                if let Err(e) = &c.result {
                    eprintln!("stockade check: {}: {e}", c.label);
                }
            }
        }
        1
    }
}
