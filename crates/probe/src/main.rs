//! `stockade-probe`: run the escape battery and print a table (or `--json`).
//!
//! Exit code: 0 when the battery ran (whatever it found), 2 on a usage error.

use probe::{config, report, run_battery, techniques, Config, Ctx};

fn main() {
    let cfg = match Config::parse(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(msg) => {
            if msg.is_empty() {
                print!("{}", config::USAGE);
                std::process::exit(0);
            }
            eprintln!("stockade-probe: {msg}\n\n{}", config::USAGE);
            std::process::exit(2);
        }
    };
    if cfg.list {
        for t in techniques::ALL {
            println!(
                "{:<22} {:<4} {:<62} stopped by: {}",
                t.id, t.eid, t.title, t.layers
            );
        }
        return;
    }
    let ctx = Ctx::new(cfg);
    let results = run_battery(&ctx);
    if ctx.cfg.json {
        print!("{}", report::json(&results, &ctx.state));
    } else {
        print!("{}", report::table(&results, &ctx.state));
    }
}
