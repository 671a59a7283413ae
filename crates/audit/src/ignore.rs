//! The suppression file: findings a team has reviewed and accepted, each with a reason.
//!
//! ```toml
//! [[ignore]]
//! rules = ["SKD-ESC-031", "privileged"]     # ids, slugs or PSS check ids; "*" for every rule
//! files = ["deploy/*.yaml"]                 # optional; `*` matches any run of characters
//! objects = ["DaemonSet/stockade-watch"]    # optional; Kind/name or Kind/namespace/name
//! reason = "the sensor needs host PID to attribute events"
//! expires = 2027-06-30                      # optional; the last day (UTC) the entry applies
//! ```
//!
//! Suppressed findings stay in JSON and SARIF output, marked with their reason; they do not
//! count toward the exit code. An entry past its `expires` date suppresses nothing: the finding
//! counts again, and [`IgnoreConfig::expired`] names the entry so the command can say so.

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
    /// The last day (UTC) the entry applies: a TOML date (`2027-06-30`) or the same as a string.
    #[serde(default)]
    pub expires: Option<toml::Value>,
    /// `expires` as days since 1970-01-01 (set by [`IgnoreConfig::parse`]).
    #[serde(skip)]
    pub expires_day: Option<i64>,
}

impl IgnoreEntry {
    /// Whether the entry still applies on `today` (days since 1970-01-01, UTC).
    pub fn active_on(&self, today: i64) -> bool {
        self.expires_day.is_none_or(|d| today <= d)
    }

    /// Whether the entry applies today.
    pub fn active(&self) -> bool {
        self.active_on(today())
    }
}

/// A TOML value as it reads in a message (a string without its quotes).
fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(_) => "an array".into(),
        toml::Value::Table(_) => "a table".into(),
    }
}

/// Today (UTC) as days since 1970-01-01.
pub fn today() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs / 86_400).unwrap_or(i64::MAX)
}

/// `YYYY-MM-DD` as days since 1970-01-01, or `None` when it is not a real date.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = &s[r];
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days_in)
        .contains(&d)
        .then(|| policy::civil::days_from_civil(y, m, d))
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
        let mut cfg: IgnoreConfig = toml::from_str(text).map_err(|e| IgnoreError::Parse {
            path: path.to_string(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        for (i, e) in cfg.ignore.iter_mut().enumerate() {
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
            if let Some(v) = &e.expires {
                // A TOML local date (`2027-06-30`) or a string holding one; nothing else (a
                // date-time would leave open which time zone's day ends the entry).
                let text = match v {
                    toml::Value::Datetime(d) if d.time.is_some() || d.offset.is_some() => {
                        format!("{d} (a date-time)")
                    }
                    v => value_text(v),
                };
                match parse_date(&text) {
                    Some(day) => e.expires_day = Some(day),
                    None => {
                        return Err(bad(&format!(
                            "expires: {text:?} is not a date; write the last day the entry \
                             applies as YYYY-MM-DD"
                        )))
                    }
                }
            }
        }
        Ok(cfg)
    }

    /// The entries past their `expires` date on `today`, each as `ignore[N] (rules, reason)
    /// expired on DATE`.
    pub fn expired_on(&self, today: i64) -> Vec<String> {
        self.ignore
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.active_on(today))
            .map(|(i, e)| {
                let date = e.expires.as_ref().map(value_text).unwrap_or_default();
                format!(
                    "ignore[{i}] ({}: {}) expired on {date}; it suppresses nothing",
                    e.rules.join(","),
                    e.reason
                )
            })
            .collect()
    }

    /// The entries past their `expires` date today.
    pub fn expired(&self) -> Vec<String> {
        self.expired_on(today())
    }

    /// The suppression that applies to a finding, if any.
    pub fn matches(&self, f: &Finding) -> Option<Suppressed> {
        let today = today();
        self.ignore
            .iter()
            .find(|e| {
                e.active_on(today)
                    && e.rules.iter().any(|r| rule_matches(r, f.rule))
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

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(11_017));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("1900-02-29"), None);
        assert_eq!(parse_date("2027-13-01"), None);
        assert_eq!(parse_date("2027-1-01"), None);
        assert_eq!(parse_date("+027-01-01"), None);
        assert_eq!(parse_date("2027-01-00"), None);
    }

    #[test]
    fn expiry_dates() {
        let text = "[[ignore]]\nrules=[\"privileged\"]\nreason=\"old\"\nexpires=2020-01-31\n\
                    [[ignore]]\nrules=[\"*\"]\nreason=\"new\"\nexpires=\"2999-12-31\"\n\
                    [[ignore]]\nrules=[\"*\"]\nreason=\"always\"\n";
        let c = IgnoreConfig::parse("x.toml", text).unwrap();
        let day = parse_date("2020-01-31").unwrap();
        assert!(c.ignore[0].active_on(day) && !c.ignore[0].active_on(day + 1));
        assert!(!c.ignore[0].active() && c.ignore[1].active() && c.ignore[2].active());
        let exp = c.expired();
        assert_eq!(exp.len(), 1);
        assert!(
            exp[0].contains("ignore[0] (privileged: old) expired on 2020-01-31"),
            "{exp:?}"
        );
        for bad in [
            "expires=\"2027-02-30\"",
            "expires=2027-01-01T00:00:00Z",
            "expires=20270101",
            "expires=\"soon\"",
        ] {
            let e = IgnoreConfig::parse(
                "x.toml",
                &format!("[[ignore]]\nrules=[\"*\"]\nreason=\"r\"\n{bad}\n"),
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.contains("ignore[0]: expires:") && e.contains("YYYY-MM-DD"),
                "{bad}: {e}"
            );
        }
    }
}
