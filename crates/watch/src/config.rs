//! `--rules FILE`: enable, disable or re-severity the behaviour rules.
//!
//! ```toml
//! [rule.SKD-RUN-016]
//! enabled = false            # perf_event_open is normal for this fleet
//!
//! [rule.SKD-RUN-004]
//! severity = "critical"
//! ```

use policy::catalogue::Severity;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    #[serde(default)]
    pub rule: BTreeMap<String, RuleOverride>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleOverride {
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("{path}: rule {id} is not a rule that `stockade watch` reports")]
    UnknownRule { path: String, id: String },
}

impl RulesFile {
    pub fn load(path: &Path) -> Result<RulesFile, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: p.clone(),
            source,
        })?;
        let file: RulesFile = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: p.clone(),
            source,
        })?;
        for id in file.rule.keys() {
            if !crate::behaviour::RULES
                .iter()
                .any(|(r, _)| r.as_str() == id.as_str())
            {
                return Err(ConfigError::UnknownRule {
                    path: p,
                    id: id.clone(),
                });
            }
        }
        Ok(file)
    }

    pub fn enabled(&self, id: &str) -> bool {
        self.rule.get(id).and_then(|r| r.enabled).unwrap_or(true)
    }

    pub fn severity(&self, id: &str, default: Severity) -> Severity {
        self.rule
            .get(id)
            .and_then(|r| r.severity)
            .unwrap_or(default)
    }
}
