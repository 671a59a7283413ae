//! OpenVEX documents (https://github.com/openvex/spec): a supplier's or a team's statement that a
//! vulnerability does not affect a product (`not_affected`, with a justification) or is `fixed`.
//! Findings for such a vulnerability are kept in the report, marked suppressed with the
//! statement, and do not count toward the exit code. `affected` and `under_investigation`
//! statements suppress nothing.

use serde::Deserialize;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason} (an OpenVEX JSON document is expected)")]
pub struct VexError {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VexDocument {
    #[serde(rename = "@context")]
    pub context: String,
    #[serde(default)]
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Statement {
    pub vulnerability: Vulnerability,
    #[serde(default)]
    pub products: Vec<Product>,
    pub status: String,
    #[serde(default)]
    pub justification: Option<String>,
    #[serde(default)]
    pub impact_statement: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Vulnerability {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    #[serde(rename = "@id")]
    pub id: String,
}

impl VexDocument {
    pub fn load(path: &Path) -> Result<VexDocument, VexError> {
        let err = |reason: String| VexError {
            path: path.display().to_string(),
            reason,
        };
        let data = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let d: VexDocument = serde_json::from_slice(&data).map_err(|e| err(e.to_string()))?;
        if !d.context.starts_with("https://openvex.dev/ns") {
            return Err(err(format!("@context {:?} is not OpenVEX", d.context)));
        }
        for (i, s) in d.statements.iter().enumerate() {
            let known = ["not_affected", "affected", "fixed", "under_investigation"];
            if !known.contains(&s.status.as_str()) {
                return Err(err(format!(
                    "statements[{i}]: unknown status {:?}",
                    s.status
                )));
            }
        }
        Ok(d)
    }

    /// The statement that suppresses a finding about `names` (its CVEs and advisory ids) in the
    /// package with purl `purl` (`None` for findings without a package), if any.
    pub fn suppression(&self, names: &[String], purl: Option<&str>) -> Option<String> {
        self.statements
            .iter()
            .filter(|s| s.status == "not_affected" || s.status == "fixed")
            .filter(|s| {
                std::iter::once(&s.vulnerability.name)
                    .chain(&s.vulnerability.aliases)
                    .any(|v| names.iter().any(|n| n == v))
            })
            .find(|s| {
                // No products: the statement is about this image as a whole.
                s.products.is_empty()
                    || s.products.iter().any(|p| {
                        purl.is_some_and(|u| {
                            let base =
                                |x: &str| x.split(['?', '#']).next().unwrap_or("").to_string();
                            base(u) == base(&p.id)
                        })
                    })
            })
            .map(|s| {
                let why = s
                    .justification
                    .as_deref()
                    .or(s.impact_statement.as_deref())
                    .unwrap_or("");
                format!("VEX {} {}: {why}", s.vulnerability.name, s.status)
            })
    }
}
