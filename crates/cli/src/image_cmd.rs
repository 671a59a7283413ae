//! `stockade image`.

use crate::error::Error;
use clap::{Args, ValueEnum};
use policy::Severity;
use scan::image::{Limits, Report, Source};
use std::io::Write;
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ImageFormat {
    Text,
    Json,
    Sarif,
    /// A CycloneDX 1.5 SBOM of the packages.
    Cyclonedx,
}

#[derive(Args)]
#[command(after_help = "\
Inputs (no daemon, no registry):
  oci:DIR               an OCI image layout directory
  oci-archive:FILE      a tar of an OCI image layout (`podman save --format oci-archive`)
  docker-archive:FILE   `docker save` / `podman save --format docker-archive`
  dir:ROOTFS            a root filesystem on disk
  container:ID          a running container of stockade, runc/crun or podman, read through
                        /proc/PID/root of its init

Layers are read once, their digests verified; each package and finding names the layer that
added it (0 is the base). See docs/image.md.")]
pub struct ImageArgs {
    /// The image to scan.
    image: Source,
    /// With container:ID, a runtime state directory (stockade's or runc's `--root`) searched
    /// before $STOCKADE_STATE_DIR, /run/stockade, /run/runc, /run/crun and
    /// /run/containerd/runc/*; podman is asked last. Repeatable.
    #[arg(long, value_name = "DIR")]
    state_root: Vec<std::path::PathBuf>,
    /// The workload that runs the image (Kubernetes manifest, compose file, OCI config.json,
    /// read as `stockade audit` reads them): each finding is graded by whether its escape is
    /// reachable under it; unreachable ones stay in the report and do not count toward the
    /// exit code.
    #[arg(long = "with", value_name = "MANIFEST")]
    with: Option<String>,
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
    /// An OpenVEX document: vulnerabilities it states `not_affected` or `fixed` for a package
    /// (by purl) or the whole image are suppressed (kept in JSON and SARIF, not counted).
    #[arg(long)]
    vex: Vec<std::path::PathBuf>,
    /// The audit ignore file (TOML, see docs/audit.md): `rules`, `files` (paths in the image),
    /// `objects` (package names) and a `reason`.
    #[arg(long)]
    ignore_file: Option<String>,
}

pub fn run(mut a: ImageArgs) -> Result<ExitCode, Error> {
    if let Source::Container { state_roots, .. } = &mut a.image {
        state_roots.extend(a.state_root.iter().cloned());
    } else if !a.state_root.is_empty() {
        return Err(Error::Usage(
            "--state-root is for a container:ID input".into(),
        ));
    }
    let mut vex = Vec::new();
    for p in &a.vex {
        vex.push(scan::vex::VexDocument::load(p)?);
    }
    let ignore = match &a.ignore_file {
        Some(p) => {
            let c = audit::ignore::IgnoreConfig::load(p)?;
            for m in c.expired() {
                eprintln!("stockade: warning: {p}: {m}");
            }
            Some(c)
        }
        None => None,
    };
    let workload = match &a.with {
        Some(p) => Some((p.clone(), workloads(p).map_err(Error::Usage)?)),
        None => None,
    };
    let dir = crate::db_cmd::db_dir(a.db.clone());
    let store = scan::osv::Store::load(&dir)?;
    // Said after the image was read, so an input error is the only line printed.
    let warning = match &store {
        None => Some(format!(
            "stockade: warning: no vulnerability data in {} (run `stockade db import PATH`): packages are listed, not matched",
            dir.display()
        )),
        Some(s) if s.age() / 86_400 > a.max_db_age => Some(format!(
            "stockade: warning: the vulnerability data in {} is {} days old (more than --max-db-age {}): import newer data",
            dir.display(),
            s.age() / 86_400,
            a.max_db_age
        )),
        Some(_) => None,
    };
    let opts = scan::image::ScanOptions {
        limits: Limits::default(),
        store,
        ignore_unfixed: a.ignore_unfixed,
    };
    let mut report = scan::image::scan_with(&a.image, &opts)?;
    if let Some(w) = warning {
        eprintln!("{w}");
    }
    suppress(&mut report, &vex, ignore.as_ref());
    if let Some((path, views)) = &workload {
        report.grade(views, path);
    }
    write(&a, &report).map_err(Error::Usage)?;
    // A package database that cannot be read is an input error: reported as a finding (the
    // image is never taken for clean) and in the exit code.
    if report
        .findings
        .iter()
        .any(|f| f.rule_id == policy::id::SKD_IMG_071)
    {
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::from(u8::from(report.failing(a.fail_on) > 0)))
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
        ImageFormat::Sarif => serde_json::to_writer_pretty(&mut w, &crate::image_out::sarif(r))
            .map_err(std::io::Error::from)
            .and_then(|_| w.write_all(b"\n")),
        ImageFormat::Cyclonedx => {
            serde_json::to_writer_pretty(&mut w, &crate::image_out::cyclonedx(r))
                .map_err(std::io::Error::from)
                .and_then(|_| w.write_all(b"\n"))
        }
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
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule_id.cmp(&b.rule_id)));
    for f in &findings {
        let mut layer = f.layer.map(|l| format!(" [layer {l}]")).unwrap_or_default();
        if let Some(why) = &f.suppressed {
            layer.push_str(&format!(" (suppressed: {why})"));
        }
        if let Some(g) = &f.reachability {
            let verdict = if g.reachable {
                "reachable"
            } else {
                "unreachable"
            };
            layer.push_str(&format!(" ({verdict} under {}: {})", g.under, g.why));
        }
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

/// The workloads of a manifest, decoded by `stockade audit`'s readers. A file that cannot be
/// read, decoded or recognised, or that holds no workload, is an error (never "no workload,
/// nothing reachable").
fn workloads(path: &str) -> Result<Vec<policy::WorkloadView>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("--with {path}: {e}"))?;
    if !meta.is_file() || meta.len() > 64 << 20 {
        return Err(format!(
            "--with {path}: not a regular file of at most 64 MiB: give a Kubernetes manifest, a compose file or an OCI config.json"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("--with {path}: {e}"))?;
    let rep = audit::run::read_text(path, &text);
    if let Some(why) = &rep.skipped {
        return Err(format!("--with {path}: {why}"));
    }
    if let Some(p) = rep.problems.first() {
        let at = p.line.map(|l| format!(":{l}")).unwrap_or_default();
        let field = if p.field.is_empty() {
            String::new()
        } else {
            format!(" {}:", p.field)
        };
        return Err(format!(
            "--with {path}{at}:{field} {} (fix the manifest, or check it with `stockade audit {path}`)",
            p.message
        ));
    }
    let mut views = Vec::new();
    for item in &rep.items {
        match &item.subject {
            audit::Subject::Pod(w) => views.push(policy::k8s::pod_view(w)),
            audit::Subject::View(v) => views.push((**v).clone()),
            audit::Subject::Oci(spec) => views.push(policy::oci::view(spec)),
            _ => {}
        }
    }
    if views.iter().all(|v| v.containers.is_empty()) {
        return Err(format!(
            "--with {path}: no workload in it (a Pod or a controller of pods, a compose service, an OCI config.json) to grade the image under"
        ));
    }
    Ok(views)
}

/// Mark findings that a reviewed exception covers: the ignore file first, then VEX statements.
fn suppress(
    r: &mut Report,
    vex: &[scan::vex::VexDocument],
    ignore: Option<&audit::ignore::IgnoreConfig>,
) {
    let purls: Vec<(String, String, String)> = r
        .packages
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.version.clone(),
                crate::image_out::purl(p, r.distro.as_ref()),
            )
        })
        .collect();
    for f in &mut r.findings {
        if let Some(cfg) = ignore {
            let today = audit::ignore::today();
            let hit = cfg.ignore.iter().find(|e| {
                e.active_on(today)
                    && e.rules.iter().any(|x| {
                        x == "*"
                            || policy::catalogue()
                                .find(x)
                                .is_some_and(|rule| rule.id == f.rule_id)
                    })
                    && (e.files.is_empty()
                        || f.path
                            .as_deref()
                            .is_some_and(|p| e.files.iter().any(|g| audit::ignore::wildcard(g, p))))
                    && (e.objects.is_empty()
                        || f.package.as_deref().is_some_and(|p| {
                            e.objects.iter().any(|g| audit::ignore::wildcard(g, p))
                        }))
            });
            if let Some(e) = hit {
                f.suppressed = Some(format!("ignore file: {}", e.reason));
                continue;
            }
        }
        let mut names = f.cves.clone();
        if let Some(a) = &f.advisory {
            names.push(a.trim_end_matches(" (upstream only)").to_string());
        }
        if names.is_empty() {
            continue;
        }
        let purl = purls
            .iter()
            .find(|(n, v, _)| Some(n) == f.package.as_ref() && Some(v) == f.version.as_ref())
            .map(|(_, _, u)| u.as_str());
        if let Some(why) = vex.iter().find_map(|d| d.suppression(&names, purl)) {
            f.suppressed = Some(why);
        }
    }
}
