//! `stockade-watch`: the watch command alone (the same as `stockade watch`), for hosts that only
//! need the sensor and for the integration tests.

use clap::Parser;

#[derive(Parser)]
#[command(name = "stockade-watch", version)]
struct Cli {
    #[command(flatten)]
    args: watch::cli::WatchArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match watch::run(cli.args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stockade watch: {e}");
            std::process::ExitCode::from(e.exit_code())
        }
    }
}
