//! `stockade image`.

use clap::{Args, ValueEnum};
use policy::Severity;
use scan::image::{Limits, Report, Source};
use std::io::Write;

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ImageFormat {
    Text,
    Json,
}

#[derive(Args)]
#[command(after_help = "\
Inputs (no daemon, no registry):
  oci:DIR               an OCI image layout directory
  oci-archive:FILE      a tar of an OCI image layout (`podman save --format oci-archive`)
  docker-archive:FILE   `docker save` / `podman save --format docker-archive`
  dir:ROOTFS            a root filesystem on disk

Layers are read once, their digests verified; each package and finding names the layer that
added it (0 is the base). See docs/image.md.")]
pub struct ImageArgs {
    /// The image to scan.
    image: Source,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    format: ImageFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o')]
    output: Option<String>,
    /// Lowest severity that makes the exit code 1.
    #[arg(long, default_value = "low")]
    fail_on: Severity,
    /// The vulnerability store (default: $STOCKADE_DB, else /var/lib/stockade/db); without
    /// imported data the scan runs the escape checks only and says so.
    #[arg(long)]
    db: Option<std::path::PathBuf>,
    /// Warn when the vulnerability data is older than this many days.
    #[arg(long, default_value = "7")]
    max_db_age: u64,
    /// Leave out vulnerabilities without a fix (no fix yet, will not fix).
    #[arg(long)]
    ignore_unfixed: bool,
}

pub fn run(a: ImageArgs) -> u8 {
    let dir = crate::db_cmd::db_dir(a.db.clone());
    let store = match scan::osv::Store::load(&dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stockade: {e}");
            return 2;
        }
    };
    match &store {
        None => eprintln!(
            "stockade: warning: no vulnerability data in {} (run `stockade db import PATH`): packages are listed, not matched",
            dir.display()
        ),
        Some(s) if s.age() / 86_400 > a.max_db_age => eprintln!(
            "stockade: warning: the vulnerability data in {} is {} days old (more than --max-db-age {}): import newer data",
            dir.display(),
            s.age() / 86_400,
            a.max_db_age
        ),
        Some(_) => {}
    }
    let opts = scan::image::ScanOptions {
        limits: Limits::default(),
        store,
        ignore_unfixed: a.ignore_unfixed,
    };
    let report = match scan::image::scan_with(&a.image, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stockade: {e}");
            return 2;
        }
    };
    if let Err(e) = write(&a, &report) {
        eprintln!("stockade: {e}");
        return 2;
    }
    // A package database that cannot be read is an input error: reported as a finding (the
    // image is never taken for clean) and in the exit code.
    if report.findings.iter().any(|f| f.rule_id == "SKD-IMG-071") {
        return 2;
    }
    u8::from(report.failing(a.fail_on) > 0)
}

fn write(a: &ImageArgs, r: &Report) -> Result<(), String> {
    let (sink, name): (Box<dyn Write>, String) = match &a.output {
        Some(p) => (
            Box::new(std::fs::File::create(p).map_err(|e| format!("{p}: {e}"))?),
            p.clone(),
        ),
        None => (Box::new(std::io::stdout().lock()), "stdout".to_string()),
    };
    let mut w = std::io::BufWriter::new(sink);
    let res = match a.format {
        ImageFormat::Json => serde_json::to_writer_pretty(&mut w, r)
            .map_err(std::io::Error::from)
            .and_then(|_| w.write_all(b"\n")),
        ImageFormat::Text => w.write_all(text(r).as_bytes()),
    }
    .and_then(|_| w.flush());
    match res {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("writing {name}: {e}")),
        Ok(()) => Ok(()),
    }
}

fn text(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}: {} layers, {} packages",
        r.image,
        r.layers.len(),
        r.packages.len()
    );
    let mut findings: Vec<_> = r.findings.iter().collect();
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule_id.cmp(b.rule_id)));
    for f in &findings {
        let layer = f.layer.map(|l| format!(" [layer {l}]")).unwrap_or_default();
        let _ = writeln!(
            s,
            "{:<8} {}  {}{layer}",
            f.severity.as_str().to_uppercase(),
            f.rule_id,
            f.message
        );
    }
    let _ = writeln!(s, "{} findings", findings.len());
    s
}
