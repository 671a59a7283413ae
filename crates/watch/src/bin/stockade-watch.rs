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
    std::process::ExitCode::from(u8::try_from(watch::run(cli.args)).unwrap_or(1))
}
