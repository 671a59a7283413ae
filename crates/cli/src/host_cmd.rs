//! `stockade host`: is this node's kernel, runtime and configuration open to a container escape?
//! Facts from this machine or a snapshot, verdicts against the curated escape database, and with
//! `--prove` the escape battery under the node's default runtime as reachability evidence.

use crate::error::Error;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum HostFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Args, Debug)]
pub struct HostArgs {
    /// Judge a snapshot: the directory holding its etc/, var/, usr/ and boot/ (the global
    /// `--root`, read only when given). Without it, this machine.
    #[arg(skip)]
    pub root: Option<PathBuf>,
    /// For a snapshot: what uname, /proc/sys and the LSM list would say (JSON; docs/host.md)
    #[arg(long, value_name = "FILE")]
    facts: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = HostFormat::Text)]
    format: HostFormat,
    /// Run the escape battery under the node's default runtime and profile (as root) and use its
    /// results as reachability evidence
    #[arg(long)]
    prove: bool,
    /// With --prove: the runtime (stockade, runc, crun or a path) instead of the node's default
    #[arg(long, value_name = "RUNTIME", requires = "prove")]
    prove_runtime: Option<String>,
    /// With --prove: the profile (default, docker, privileged or a config.json) instead of the
    /// node's default
    #[arg(long, value_name = "PROFILE", requires = "prove")]
    prove_profile: Option<String>,
    /// With --prove: the static stockade-probe to use
    #[arg(long, value_name = "PATH", requires = "prove")]
    probe: Option<PathBuf>,
    /// Exit 1 when a vulnerable finding is at or above this severity
    #[arg(long, default_value = "low", value_name = "SEVERITY")]
    fail_on: policy::Severity,
}

fn prove(a: &HostArgs, f: &scan::host::HostFacts) -> Result<scan::host::Proof, String> {
    if !f.live {
        return Err("--prove runs containers on this machine; it cannot prove a snapshot".into());
    }
    let d = scan::host::node_default(f);
    let why = if a.prove_runtime.is_some() || a.prove_profile.is_some() {
        format!(
            "chosen on the command line (the node's default: {} {}, {})",
            d.runtime, d.profile, d.why
        )
    } else {
        d.why
    };
    let rt = a.prove_runtime.clone().unwrap_or(d.runtime);
    let profile = a.prove_profile.clone().unwrap_or(d.profile);
    let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("stockade"));
    let case = check::Case {
        runtime: check::Runtime::parse(&rt, me),
        profile: check::Profile::parse(&profile),
    };
    let opts = check::Options {
        only: None,
        probe: a.probe.clone(),
    };
    let matrix = check::run(std::slice::from_ref(&case), &opts).map_err(|e| e.to_string())?;
    let col = matrix
        .columns
        .into_iter()
        .next()
        .ok_or("the battery produced no column")?;
    let results = col.result.map_err(|e| format!("{}: {e}", col.label))?;
    let mut proof = scan::host::Proof {
        runtime: col.runtime,
        profile: col.profile,
        why,
        results: Default::default(),
    };
    for r in results {
        let layer = match &r.outcome {
            probe::Outcome::Blocked { layer, .. } => Some(layer.to_string()),
            _ => None,
        };
        proof.results.insert(
            r.id.clone(),
            scan::host::ProbeEvidence {
                outcome: r.outcome.kind().to_string(),
                detail: r.outcome.text().to_string(),
                layer,
            },
        );
    }
    Ok(proof)
}

pub fn run(a: HostArgs) -> Result<ExitCode, Error> {
    let opts = scan::host::Options {
        root: a.root.clone(),
        facts: a.facts.clone(),
    };
    if opts.root.is_none() && opts.facts.is_some() {
        return Err(Error::Host(
            "--facts describes a snapshot; pass its files with --root DIR".into(),
        ));
    }
    let (facts, root) = scan::host::gather(&opts).map_err(Error::Host)?;
    let proof = if a.prove {
        Some(prove(&a, &facts).map_err(|e| Error::Host(format!("--prove: {e}")))?)
    } else {
        None
    };
    let report = scan::host::Report::new(&facts, &root, proof).map_err(Error::Host)?;
    let out = match a.format {
        HostFormat::Text => report.text(),
        HostFormat::Json => report.json(),
        HostFormat::Sarif => {
            serde_json::to_string_pretty(&sarif(&report)).unwrap_or_default() + "\n"
        }
    };
    use std::io::Write;
    if let Err(e) = std::io::stdout().write_all(out.as_bytes()) {
        // A closed pipe (`stockade host | head`) still gives the verdict's exit code.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(Error::Host(format!("writing output: {e}")));
        }
    }
    Ok(ExitCode::from(u8::from(report.failing(a.fail_on) > 0)))
}

/// SARIF 2.1.0: the rules with audit's descriptors (help, security-severity), one result per
/// vulnerable or mitigated finding (a mitigated one as a note), located at the host's root.
fn sarif(report: &scan::host::Report) -> serde_sarif::sarif::Sarif {
    use scan::host::Status;
    use serde_sarif::sarif::{
        ArtifactLocation, Location, Message, PhysicalLocation, PropertyBag, Result, ResultLevel,
    };
    use std::collections::BTreeMap;
    let (rules, index) =
        audit::report::sarif_rules(report.findings.iter().map(|f| f.rule_id.as_str()));
    let results: Vec<Result> = report
        .findings
        .iter()
        .filter(|f| f.status != Status::Fixed)
        .map(|f| {
            let level = match f.status {
                Status::Mitigated => ResultLevel::Note,
                _ => audit::report::sarif_level(f.severity),
            };
            let mut props = BTreeMap::new();
            props.insert("status".to_string(), serde_json::json!(f.status));
            props.insert("severity".to_string(), serde_json::json!(f.severity));
            props.insert("component".to_string(), serde_json::json!(f.component));
            props.insert("version".to_string(), serde_json::json!(f.version));
            props.insert("cves".to_string(), serde_json::json!(f.cves));
            props.insert("fixed_in".to_string(), serde_json::json!(f.fixed_in));
            props.insert("evidence".to_string(), serde_json::json!(f.evidence));
            let location = Location::builder()
                .physical_location(
                    PhysicalLocation::builder()
                        .artifact_location(
                            ArtifactLocation::builder()
                                .uri(report.host.root.clone())
                                .build(),
                        )
                        .build(),
                )
                .build();
            let mut r = Result::builder()
                .message(
                    Message::builder()
                        .text(format!(
                            "{} {} {}: {} ({}; {})",
                            f.component,
                            f.version,
                            f.cves.join(","),
                            f.title,
                            f.status.as_str(),
                            f.evidence.join("; ")
                        ))
                        .build(),
                )
                .rule_id(f.rule_id.clone())
                .level(level)
                .locations(vec![location])
                .properties(PropertyBag::builder().additional_properties(props).build())
                .build();
            r.rule_index = index.get(f.rule_id.as_str()).map(|&i| i as i64);
            r
        })
        .collect();
    audit::report::sarif_document("stockade host", rules, results)
}
