use clap::Parser;

/// Stockade: container-escape prevention.
#[derive(Parser, Debug)]
#[command(name = "stockade", version, about)]
struct Cli {
    #[command(flatten)]
    global: runtime::cli::GlobalOpts,
    #[command(subcommand)]
    command: runtime::cli::Command,
}

fn main() {
    let cli = Cli::parse();
    std::process::exit(runtime::cli::run(&cli.global, cli.command));
}
