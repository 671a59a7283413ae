//! `stockade rules` and `stockade explain`.

use crate::error::Error;
use clap::{Args, ValueEnum};
use policy::catalogue::{Level, Severity};
use std::io::Write;
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum)]
pub enum RulesFormat {
    Text,
    Json,
    /// The catalogue as Markdown (docs/rules.md is this output).
    Markdown,
}

#[derive(Args)]
pub struct RulesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: RulesFormat,
    /// Only rules that apply at this level (baseline, restricted, hardened).
    #[arg(long)]
    level: Option<Level>,
    /// Only the Pod Security Standards checks.
    #[arg(long)]
    pss: bool,
    /// Only rules at or above this severity.
    #[arg(long)]
    severity: Option<Severity>,
}

#[derive(Args)]
pub struct ExplainArgs {
    /// Rule id (SKD-ESC-020), slug (runtime-socket) or Pod Security check id (hostPathVolumes).
    id: String,
}

/// Writes the listing; a closed pipe (`stockade rules | head`) ends it with exit code 0.
fn out(s: &str) -> Result<ExitCode, Error> {
    let mut o = std::io::stdout().lock();
    o.write_all(s.as_bytes())
        .and_then(|_| o.flush())
        .map_err(|e| Error::output(e, 0))?;
    Ok(ExitCode::SUCCESS)
}

pub fn rules(a: RulesArgs) -> Result<ExitCode, Error> {
    let rules: Vec<_> = policy::catalogue()
        .rules()
        .iter()
        .filter(|r| a.level.is_none_or(|l| l.includes(r.level)))
        .filter(|r| !a.pss || r.pss)
        .filter(|r| a.severity.is_none_or(|s| r.severity >= s))
        .collect();
    match a.format {
        RulesFormat::Markdown => out(&audit::report::rules_markdown(&rules)),
        RulesFormat::Json => {
            let v: Vec<_> = rules.iter().map(|r| audit::report::rule_json(r)).collect();
            let s = serde_json::to_string_pretty(&v).unwrap_or_default();
            out(&(s + "\n"))
        }
        RulesFormat::Text => {
            let mut s = String::new();
            for r in &rules {
                s.push_str(&format!(
                    "{:<14} {:<9} {:<11} {}\n",
                    r.id,
                    r.severity.as_str(),
                    r.level.as_str(),
                    r.title
                ));
            }
            s.push_str(&format!(
                "{} rules. `stockade explain ID` for details.\n",
                rules.len()
            ));
            out(&s)
        }
    }
}

pub fn explain(a: ExplainArgs) -> Result<ExitCode, Error> {
    match policy::catalogue().find(&a.id) {
        Some(r) => out(&audit::report::explain_text(r)),
        None => Err(Error::Usage(format!(
            "no rule {:?} (see `stockade rules` for the list)",
            a.id
        ))),
    }
}
