//! The suppression file: findings a team has reviewed and accepted, each with a reason.
//!
//! ```toml
//! [[ignore]]
//! rules = ["SKD-ESC-031", "privileged"]     # ids, slugs or PSS check ids; "*" for every rule
//! files = ["deploy/*.yaml"]                 # optional; `*` matches any run of characters
//! objects = ["DaemonSet/stockade-watch"]    # optional; Kind/name or Kind/namespace/name
//! reason = "the sensor needs host PID to attribute events"
//! ```
//!
//! Suppressed findings stay in JSON and SARIF output, marked with their reason; they do not
//! count toward the exit code.

use crate::run::{rule_matches, Finding, Suppressed};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreConfig {
    #[serde(default)]
    pub ignore: Vec<IgnoreEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreEntry {
    pub rules: Vec<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub objects: Vec<String>,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
}

impl IgnoreConfig {
    pub fn load(path: &str) -> Result<IgnoreConfig, IgnoreError> {
        let text = std::fs::read_to_string(path).map_err(|source| IgnoreError::Read {
            path: path.to_string(),
            source,
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &str, text: &str) -> Result<IgnoreConfig, IgnoreError> {
        let cfg: IgnoreConfig = toml::from_str(text).map_err(|e| IgnoreError::Parse {
            path: path.to_string(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        for (i, e) in cfg.ignore.iter().enumerate() {
            let bad = |m: &str| IgnoreError::Parse {
                path: path.to_string(),
                message: format!("ignore[{i}]: {m}"),
            };
            if e.reason.trim().is_empty() {
                return Err(bad("reason must not be empty"));
            }
            if e.rules.is_empty() {
                return Err(bad("rules must name at least one rule (or \"*\")"));
            }
            for r in &e.rules {
                if r != "*" && policy::catalogue().find(r).is_none() {
                    return Err(bad(&format!("unknown rule {r:?}")));
                }
            }
        }
        Ok(cfg)
    }

    /// The suppression that applies to a finding, if any.
    pub fn matches(&self, f: &Finding) -> Option<Suppressed> {
        self.ignore
            .iter()
            .find(|e| {
                e.rules.iter().any(|r| rule_matches(r, f.rule))
                    && (e.files.is_empty() || e.files.iter().any(|p| wildcard(p, &f.file)))
                    && (e.objects.is_empty()
                        || f.object.as_ref().is_some_and(|o| {
                            let short = format!("{}/{}", o.kind, o.name);
                            let long = format!(
                                "{}/{}/{}",
                                o.kind,
                                o.namespace.as_deref().unwrap_or(""),
                                o.name
                            );
                            e.objects
                                .iter()
                                .any(|p| wildcard(p, &short) || wildcard(p, &long))
                        }))
            })
            .map(|e| Suppressed {
                source: "config",
                reason: e.reason.clone(),
            })
    }
}

/// `*` matches any run of characters (including `/`); everything else matches itself.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("deploy/*.yaml", "deploy/a/b.yaml"));
        assert!(wildcard("*", ""));
        assert!(!wildcard("deploy/*.yaml", "deploy/a.yml"));
        assert!(wildcard("DaemonSet/*", "DaemonSet/x"));
    }

    #[test]
    fn config_errors_name_the_entry() {
        let e = IgnoreConfig::parse("x.toml", "[[ignore]]\nrules=[\"SKD-NOPE\"]\nreason=\"r\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("ignore[0]: unknown rule"), "{e}");
        let e =
            IgnoreConfig::parse("x.toml", "[[ignore]]\nrules=[\"*\"]\nreason=\" \"\n").unwrap_err();
        assert!(e.to_string().contains("reason"), "{e}");
        assert!(IgnoreConfig::parse(
            "x.toml",
            "[[ignore]]\nrules=[\"privileged\"]\nreason=\"ok\"\n"
        )
        .is_ok());
    }
}
