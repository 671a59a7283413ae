//! The webhook's configuration file (TOML), loaded once at start.
//!
//! ```toml
//! [defaults]                   # namespaces without Pod Security labels (when labels are known)
//! enforce = "baseline"         # privileged | baseline | restricted   (default privileged)
//! enforce-version = "latest"
//! audit = "restricted"
//! warn = "restricted"
//! stockade-enforce = "none"    # none | baseline | restricted | hardened
//!
//! [exemptions]                 # as Kubernetes' PodSecurityConfiguration
//! usernames = ["system:serviceaccount:kube-system:replicaset-controller"]
//! namespaces = ["kube-system"]
//! runtime-classes = ["kata"]
//!
//! [mutate]
//! drop-all = "non-root"        # never | non-root | always
//! ```

use crate::nspolicy::{LevelVersion, NamespacePolicy, PsaLevel, PsaVersion};
use policy::Level;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub exemptions: Exemptions,
    #[serde(default)]
    pub mutate: MutateConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Defaults {
    pub enforce: Option<String>,
    pub enforce_version: Option<String>,
    pub audit: Option<String>,
    pub audit_version: Option<String>,
    pub warn: Option<String>,
    pub warn_version: Option<String>,
    pub stockade_enforce: Option<String>,
}

/// Requests that are never evaluated, as in Kubernetes' `PodSecurityConfiguration`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Exemptions {
    #[serde(default)]
    pub usernames: BTreeSet<String>,
    #[serde(default)]
    pub namespaces: BTreeSet<String>,
    #[serde(default)]
    pub runtime_classes: BTreeSet<String>,
}

/// When `/mutate` adds `capabilities.drop: [ALL]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropAll {
    Never,
    /// Only for containers that run as a non-root user (they hold no effective capabilities, so
    /// dropping the bounding set changes nothing they rely on).
    #[default]
    NonRoot,
    Always,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MutateConfig {
    #[serde(default)]
    pub drop_all: DropAll,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("{path}: {field}: {reason}")]
    Invalid {
        path: String,
        field: &'static str,
        reason: String,
    },
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let c: Config = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: shown.clone(),
            source,
        })?;
        c.default_policy()
            .map_err(|(field, reason)| ConfigError::Invalid {
                path: shown,
                field,
                reason,
            })?;
        Ok(c)
    }

    /// The policy of a namespace whose labels are known but say nothing.
    pub fn default_policy(&self) -> Result<NamespacePolicy, (&'static str, String)> {
        let d = &self.defaults;
        let mut p = NamespacePolicy::privileged();
        for (name, level, version, slot) in [
            ("enforce", &d.enforce, &d.enforce_version, &mut p.enforce),
            ("audit", &d.audit, &d.audit_version, &mut p.audit),
            ("warn", &d.warn, &d.warn_version, &mut p.warn),
        ] {
            let l = match level {
                Some(s) => PsaLevel::parse(s).ok_or((
                    name,
                    format!("invalid level {s:?} (privileged, baseline, restricted)"),
                ))?,
                None => PsaLevel::Privileged,
            };
            let v = match version {
                Some(s) => PsaVersion::parse(s)
                    .ok_or((name, format!("invalid version {s:?} (latest or v1.N)")))?,
                None => PsaVersion::Latest,
            };
            *slot = LevelVersion::new(l, v);
        }
        p.escape = match d.stockade_enforce.as_deref() {
            None | Some("none") | Some("privileged") => None,
            Some(s) => Some(
                s.parse::<Level>()
                    .map_err(|e| ("stockade-enforce", e.to_string()))?,
            ),
        };
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_config() {
        let c: Config = toml::from_str(
            r#"
            [defaults]
            enforce = "baseline"
            warn = "restricted"
            warn-version = "v1.30"
            stockade-enforce = "hardened"
            [exemptions]
            usernames = ["admin"]
            namespaces = ["kube-system"]
            runtime-classes = ["kata"]
            [mutate]
            drop-all = "always"
            "#,
        )
        .unwrap();
        let p = c.default_policy().unwrap();
        assert_eq!(p.enforce.to_string(), "baseline:latest");
        assert_eq!(p.warn.to_string(), "restricted:v1.30");
        assert_eq!(p.escape, Some(Level::Hardened));
        assert!(c.exemptions.runtime_classes.contains("kata"));
        assert_eq!(c.mutate.drop_all, DropAll::Always);
    }

    #[test]
    fn rejects_unknown_fields_and_levels() {
        assert!(toml::from_str::<Config>("[exemptions]\nuser = []").is_err());
        let c: Config = toml::from_str("[defaults]\nenforce = \"strict\"").unwrap();
        assert!(c.default_policy().is_err());
    }
}
