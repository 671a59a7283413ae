//! `stockade db`: the offline vulnerability store.

use crate::error::Error;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Where the store is unless `--db` or `STOCKADE_DB` says otherwise.
pub const DEFAULT_DB: &str = "/var/lib/stockade/db";

pub fn db_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("STOCKADE_DB").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DB))
}

#[derive(Args)]
pub struct DbArgs {
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Subcommand)]
enum DbCommand {
    /// Import OSV records (a directory of OSV .json files, searched recursively, one file, or
    /// OSV's per-ecosystem all.zip) into the local store; records with the same id replace
    /// older ones. Nothing is fetched.
    Import {
        /// The OSV data to import.
        path: PathBuf,
        /// The store directory (default: $STOCKADE_DB, else /var/lib/stockade/db).
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Show what the store holds: each import's source, time and record count, and the data's age.
    Info {
        /// The store directory (default: $STOCKADE_DB, else /var/lib/stockade/db).
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

pub fn run(a: DbArgs) -> Result<ExitCode, Error> {
    match a.command {
        DbCommand::Import { path, db } => {
            let dir = db_dir(db);
            let p = scan::osv::Store::import(&dir, &path)?;
            println!(
                "imported {} OSV records from {} into {}",
                p.records,
                p.source,
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Info { db } => {
            let dir = db_dir(db);
            match scan::osv::Store::load(&dir)? {
                Some(s) => {
                    println!(
                        "{}: {} records, data {} days old",
                        dir.display(),
                        s.records.len(),
                        s.age() / 86_400
                    );
                    for i in &s.imports {
                        println!(
                            "  {} records from {} (imported at {} s since the epoch; newest record modified {})",
                            i.records,
                            i.source,
                            i.imported_at,
                            i.newest_modified.as_deref().unwrap_or("unknown")
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                None => Err(Error::Usage(format!(
                    "{}: no vulnerability data imported (run `stockade db import PATH`)",
                    dir.display()
                ))),
            }
        }
    }
}
