//! Namespace labels from a snapshot file (`--namespace-labels FILE`, `--namespace-source file`),
//! reloaded when it changes; for a server without API access (the API source is [`crate::nsapi`]).
//!
//! The file is either the output of `kubectl get namespaces -o json` (a `NamespaceList`) or a
//! plain map `{"team-a": {"pod-security.kubernetes.io/enforce": "baseline"}}`; a sidecar or a
//! CronJob can refresh it.

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

pub type Labels = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: neither a NamespaceList nor a map of namespace to labels: {source}")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Deserialize)]
struct NsList {
    items: Vec<NsItem>,
}

#[derive(Deserialize)]
struct NsItem {
    metadata: NsMeta,
}

#[derive(Deserialize)]
struct NsMeta {
    name: String,
    #[serde(default)]
    labels: Labels,
}

/// Parse a snapshot (NamespaceList or map).
pub fn parse(text: &str) -> Result<HashMap<String, Arc<Labels>>, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    if value.get("items").is_some() {
        let list: NsList = serde_json::from_value(value)?;
        return Ok(list
            .items
            .into_iter()
            .map(|i| (i.metadata.name, Arc::new(i.metadata.labels)))
            .collect());
    }
    let map: BTreeMap<String, Labels> = serde_json::from_value(value)?;
    Ok(map.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
}

type Snapshot = (HashMap<String, Arc<Labels>>, Option<SystemTime>);

/// The labels of every namespace in the snapshot file.
#[derive(Debug)]
pub struct NamespaceLabels {
    path: PathBuf,
    current: RwLock<Snapshot>,
}

fn read(path: &Path) -> Result<HashMap<String, Arc<Labels>>, LabelsError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LabelsError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&text).map_err(|source| LabelsError::Parse {
        path: shown,
        source,
    })
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl NamespaceLabels {
    pub fn load(path: &Path) -> Result<Self, LabelsError> {
        let stamp = mtime(path);
        let map = read(path)?;
        Ok(NamespaceLabels {
            path: path.to_path_buf(),
            current: RwLock::new((map, stamp)),
        })
    }

    /// Labels of a namespace, `None` when it is not in the snapshot.
    pub fn get(&self, namespace: &str) -> Option<Arc<Labels>> {
        let g = match self.current.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.0.get(namespace).cloned()
    }

    /// Reload when the file's mtime changed; on error the old snapshot stays.
    pub fn reload_if_changed(&self) -> Result<bool, LabelsError> {
        let now = mtime(&self.path);
        let known = match self.current.read() {
            Ok(g) => g.1,
            Err(p) => p.into_inner().1,
        };
        if now.is_none() || now == known {
            return Ok(false);
        }
        let map = read(&self.path)?;
        let mut g = match self.current.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = (map, now);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespace_list_and_map() {
        let list = r#"{"apiVersion":"v1","kind":"NamespaceList","items":[
            {"metadata":{"name":"a","labels":{"pod-security.kubernetes.io/enforce":"baseline"}}},
            {"metadata":{"name":"b"}}]}"#;
        let m = parse(list).unwrap();
        assert_eq!(m["a"]["pod-security.kubernetes.io/enforce"], "baseline");
        assert!(m["b"].is_empty());
        let m = parse(r#"{"c":{"stockade.io/enforce":"hardened"}}"#).unwrap();
        assert_eq!(m["c"]["stockade.io/enforce"], "hardened");
        assert!(parse("[1]").is_err());
    }
}
