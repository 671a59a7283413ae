//! The rule catalogue: every rule Stockade knows, with a stable id, loaded from the TOML files in
//! `crates/policy/rules/` that are compiled into the binary.
//!
//! The same id is used by every moment: `audit` and `admission` (declared), the runtime's policy
//! gate (started) and `watch` (running). Rules are data; the code that evaluates them lives in
//! the modules beside this one and refers to rules by id through [`rule`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown severity {s:?} (info, low, medium, high, critical)"))
    }
}

/// A policy level. Levels nest: `baseline` ⊂ `restricted` ⊂ `hardened`. The first two are the
/// Pod Security Standards levels; `hardened` adds Stockade's least-privilege rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Baseline,
    Restricted,
    Hardened,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Baseline, Level::Restricted, Level::Hardened];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
            Level::Hardened => "hardened",
        }
    }

    /// Whether a rule whose minimum level is `rule_level` applies when auditing at `self`.
    pub fn includes(self, rule_level: Level) -> bool {
        rule_level <= self
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown level {s:?} (baseline, restricted, hardened)"))
    }
}

/// What kind of input a rule is evaluated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Kubernetes,
    Compose,
    Dockerfile,
    Oci,
    Runtime,
    /// A container image (`stockade image`).
    Image,
    /// A node's kernel, runtimes and configuration (`stockade host`).
    Host,
}

/// The moment of a container's life at which a rule is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Moment {
    Declared,
    Started,
    Running,
}

/// One rule of the catalogue.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id, e.g. `SKD-PSS-002`. Never reused.
    pub id: String,
    /// Short kebab-case name.
    pub slug: String,
    pub title: String,
    pub severity: Severity,
    /// The lowest policy level at which the rule applies.
    pub level: Level,
    /// Whether the rule is one of the Pod Security Standards checks.
    #[serde(default)]
    pub pss: bool,
    /// The check id used by Kubernetes' pod-security-admission code, for PSS rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// For a cross-format rule: the PSS rule that reports the same thing on Kubernetes objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pss_equivalent: Option<String>,
    pub formats: Vec<Format>,
    pub moments: Vec<Moment>,
    /// What the rule checks, in one or two sentences.
    pub checks: String,
    /// The escape techniques (E-numbers of the reference catalogue) and CVEs it prevents.
    pub prevents: Vec<String>,
    pub remediation: String,
    /// For a rule `stockade watch` reports (moment `running`): which of its hook styles see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<WatchCoverage>,
    /// The rule's knowledge as lists (`[rule.params]`): names, paths, device classes the
    /// evaluation code and the runtime read from here instead of keeping copies.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
}

impl Rule {
    /// The list `[rule.params] name`; empty when the rule has none.
    pub fn param(&self, name: &str) -> &[String] {
        self.params.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Which hook styles of `stockade watch` (`--syscall-hooks`) see a running behaviour
/// (`[rule.watch]` in the rule files). The syscall-hook styles (`dispatcher`, `tracepoints`)
/// see every running rule; the lean tier (`none`) sees what reaches one of its hooks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchCoverage {
    /// What the lean tier sees of the behaviour.
    pub lean: LeanCoverage,
    /// The lean tier's hook for it (required unless `lean = "none"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lean_hook: Option<String>,
    /// What the lean tier misses (required unless `lean = "full"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lean_misses: Option<String>,
}

/// How much of a behaviour the lean tier (`stockade watch --syscall-hooks none`) sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeanCoverage {
    /// Every form of the behaviour.
    Full,
    /// Some forms (`lean_misses` says which it misses).
    Partial,
    /// None.
    None,
}

impl LeanCoverage {
    pub fn as_str(self) -> &'static str {
        match self {
            LeanCoverage::Full => "full",
            LeanCoverage::Partial => "partial",
            LeanCoverage::None => "none",
        }
    }
}

impl WatchCoverage {
    /// One line for people: which tiers see the rule, and what the lean tier misses.
    pub fn describe(&self) -> String {
        let lean = match self.lean {
            LeanCoverage::Full => format!(
                "every trigger ({})",
                self.lean_hook.as_deref().unwrap_or("")
            ),
            LeanCoverage::Partial => format!(
                "partly, through {}; misses {}",
                self.lean_hook.as_deref().unwrap_or(""),
                self.lean_misses.as_deref().unwrap_or("")
            ),
            LeanCoverage::None => format!("no ({})", self.lean_misses.as_deref().unwrap_or("")),
        };
        format!("dispatcher and tracepoints: every trigger; lean (--syscall-hooks none): {lean}")
    }
}

impl Rule {
    /// Pod Security level of the rule, when it is a PSS check.
    pub fn pss_level(&self) -> Option<Level> {
        self.pss.then_some(self.level)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    rule: Vec<Rule>,
}

include!(concat!(env!("OUT_DIR"), "/rules.rs"));

/// A rule of the compiled catalogue, named in code by its constant in [`id`] (`id::SKD_ESC_020`):
/// only `build.rs` makes these, from `rules/*.toml`, so an id that is not a rule does not
/// compile. User input is looked up with [`Catalogue::find`] instead.
///
/// ```
/// assert_eq!(policy::rule(policy::id::SKD_ESC_020).slug, "runtime-socket");
/// ```
///
/// A mistyped id does not compile:
///
/// ```compile_fail
/// let _ = policy::rule(policy::id::SKD_ESC_0200);
/// ```
///
/// nor does an id written as a string, right or wrong:
///
/// ```compile_fail
/// let _ = policy::rule("SKD-ESC-020");
/// ```
///
/// ```compile_fail
/// let _ = policy::Violation::new("SKD-ESC-020", "field", "message");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleId {
    id: &'static str,
    /// Position in the compiled catalogue.
    index: usize,
}

impl RuleId {
    /// The id as written in the catalogue, e.g. `SKD-ESC-020`.
    pub const fn as_str(self) -> &'static str {
        self.id
    }

    /// The rule of the catalogue in use (see [`catalogue`]).
    pub fn rule(self) -> &'static Rule {
        let c = catalogue();
        match c.rules.get(self.index) {
            Some(r) if r.id == self.id => r,
            // A catalogue installed by a test may order its rules differently.
            _ => match c.find(self.id) {
                Some(r) => r,
                None => panic!("rule {} is missing from the installed catalogue", self.id),
            },
        }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id)
    }
}

impl PartialEq<str> for RuleId {
    fn eq(&self, other: &str) -> bool {
        self.id == other
    }
}

impl PartialEq<&str> for RuleId {
    fn eq(&self, other: &&str) -> bool {
        self.id == *other
    }
}

impl PartialEq<RuleId> for &str {
    fn eq(&self, other: &RuleId) -> bool {
        *self == other.id
    }
}

impl PartialEq<RuleId> for String {
    fn eq(&self, other: &RuleId) -> bool {
        self == other.id
    }
}

impl Serialize for RuleId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id)
    }
}

/// The loaded catalogue.
#[derive(Debug)]
pub struct Catalogue {
    rules: Vec<Rule>,
    by_id: IdIndex,
}

/// Rule ids to positions in `rules`: an open-addressing table hashed with FNV-1a. Every finding
/// looks its rule up by id, so this is on the audit's hot path; a `BTreeMap<String, _>` lookup
/// compared several ids that all start with `SKD-`.
#[derive(Debug)]
struct IdIndex {
    /// Position in `rules` + 1, 0 for an empty slot; the length is a power of two.
    slots: Vec<u32>,
}

impl IdIndex {
    fn hash(id: &str) -> usize {
        let mut h: u32 = 0x811c_9dc5;
        for b in id.bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        h as usize
    }

    /// Index `rules` by id (ids are unique: checked before).
    fn new(rules: &[Rule]) -> IdIndex {
        let size = (rules.len() * 4).next_power_of_two().max(16);
        let mut slots = vec![0u32; size];
        for (i, r) in rules.iter().enumerate() {
            let mut at = Self::hash(&r.id) & (size - 1);
            while slots[at] != 0 {
                at = (at + 1) & (size - 1);
            }
            slots[at] = u32::try_from(i + 1).unwrap_or(u32::MAX);
        }
        IdIndex { slots }
    }

    fn get(&self, rules: &[Rule], id: &str) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut at = Self::hash(id) & mask;
        loop {
            let i = (*self.slots.get(at)? as usize).checked_sub(1)?;
            if rules.get(i).is_some_and(|r| r.id == id) {
                return Some(i);
            }
            at = (at + 1) & mask;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("rules/{file}: {source}")]
    Parse {
        file: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("rules/{file}: duplicate rule id {id}")]
    Duplicate { file: &'static str, id: String },
    #[error("rules/{file}: rule {id}: {reason}")]
    Invalid {
        file: &'static str,
        id: String,
        reason: String,
    },
}

impl Catalogue {
    fn load() -> Result<Catalogue, CatalogueError> {
        Catalogue::from_json(RULE_FILES)
    }

    /// A catalogue from rule files (`(name, JSON text)`, in catalogue order) as `build.rs` makes
    /// them of `rules/*.toml`, checked as the compiled one is. For tests that change a rule's
    /// knowledge and [`install`] the result; the binaries use the compiled catalogue.
    pub fn from_json(files: &[(&'static str, &str)]) -> Result<Catalogue, CatalogueError> {
        let mut rules = Vec::new();
        let mut by_id = BTreeMap::new();
        for (file, text) in files {
            let file: &'static str = file;
            let parsed: RuleFile = serde_json::from_str(text)
                .map_err(|source| CatalogueError::Parse { file, source })?;
            for rule in parsed.rule {
                let invalid = |reason: &str| CatalogueError::Invalid {
                    file,
                    id: rule.id.clone(),
                    reason: reason.to_string(),
                };
                if !rule.id.starts_with("SKD-") {
                    return Err(invalid("ids start with SKD-"));
                }
                if rule.pss && rule.upstream.is_none() {
                    return Err(invalid("a PSS rule names its upstream check"));
                }
                if rule.formats.is_empty() || rule.moments.is_empty() {
                    return Err(invalid("formats and moments must not be empty"));
                }
                let running = rule.moments.contains(&Moment::Running);
                match &rule.watch {
                    None if running => {
                        return Err(invalid(
                            "a running rule says which watch tiers see it ([rule.watch])",
                        ))
                    }
                    Some(_) if !running => {
                        return Err(invalid("[rule.watch] on a rule without the running moment"))
                    }
                    Some(w) if w.lean != LeanCoverage::None && w.lean_hook.is_none() => {
                        return Err(invalid("[rule.watch] lean coverage without lean_hook"))
                    }
                    Some(w) if w.lean != LeanCoverage::Full && w.lean_misses.is_none() => {
                        return Err(invalid(
                            "[rule.watch] partial or no lean coverage without lean_misses",
                        ))
                    }
                    _ => {}
                }
                if by_id.insert(rule.id.clone(), rules.len()).is_some() {
                    return Err(CatalogueError::Duplicate { file, id: rule.id });
                }
                rules.push(rule);
            }
        }
        for rule in &rules {
            if let Some(eq) = &rule.pss_equivalent {
                if !by_id.contains_key(eq) {
                    return Err(CatalogueError::Invalid {
                        file: "escape.toml",
                        id: rule.id.clone(),
                        reason: format!("pss_equivalent {eq} is not a rule"),
                    });
                }
            }
        }
        let by_id = IdIndex::new(&rules);
        Ok(Catalogue { rules, by_id })
    }

    /// Every rule, in catalogue order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule with this id (case-insensitive), or the PSS rule with this upstream check id.
    pub fn find(&self, id: &str) -> Option<&Rule> {
        // Ids are usually passed as written in the catalogue: look those up without allocating.
        let hit = if id.bytes().any(|b| b.is_ascii_lowercase()) {
            self.by_id.get(&self.rules, &id.to_ascii_uppercase())
        } else {
            self.by_id.get(&self.rules, id)
        };
        if let Some(i) = hit {
            return Some(&self.rules[i]);
        }
        self.rules
            .iter()
            .find(|r| r.upstream.as_deref() == Some(id) || r.slug.eq_ignore_ascii_case(id))
    }
}

/// The names of the rule files compiled into the binary (`escape.toml`, ...), in catalogue order.
pub fn files() -> impl Iterator<Item = &'static str> {
    RULE_FILES.iter().map(|(name, _)| *name)
}

static CATALOGUE: OnceLock<Result<Catalogue, CatalogueError>> = OnceLock::new();

/// Use `c` as this process's catalogue instead of the compiled one: for a test that changes a
/// rule's knowledge (`[rule.params]`) and checks that every user of the rule follows. Only before
/// anything has read the catalogue: whether it was installed.
pub fn install(c: Catalogue) -> bool {
    CATALOGUE.set(Ok(c)).is_ok()
}

/// The catalogue compiled into this binary (or the one [`install`]ed).
///
/// The rule files are part of the source tree and covered by tests, so a parse failure is a
/// build defect, not user input; it is still reported, never a panic, through [`try_catalogue`].
pub fn try_catalogue() -> Result<&'static Catalogue, &'static CatalogueError> {
    CATALOGUE.get_or_init(Catalogue::load).as_ref()
}

/// The catalogue. See [`try_catalogue`]; the test suite proves it loads.
pub fn catalogue() -> &'static Catalogue {
    match try_catalogue() {
        Ok(c) => c,
        Err(e) => panic!("built-in rule catalogue is invalid: {e}"),
    }
}

/// A rule named in code: a [`RuleId`] constant of [`id`].
pub trait RuleRef {
    fn rule(self) -> &'static Rule;
}

impl RuleRef for RuleId {
    fn rule(self) -> &'static Rule {
        RuleId::rule(self)
    }
}

/// The rule `id` names (`rule(id::SKD_ESC_020)`), from the catalogue in use.
pub fn rule(id: impl RuleRef) -> &'static Rule {
    id.rule()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_loads_with_unique_ids() {
        let c = try_catalogue().expect("catalogue loads");
        assert!(c.rules().len() >= 60, "{} rules", c.rules().len());
        let pss: Vec<_> = c.rules().iter().filter(|r| r.pss).collect();
        assert_eq!(pss.len(), 19, "all 19 upstream PSS checks");
    }

    #[test]
    fn find_by_upstream_and_slug() {
        assert_eq!(catalogue().find("privileged").unwrap().id, "SKD-PSS-002");
        assert_eq!(
            catalogue().find("skd-esc-020").unwrap().slug,
            "runtime-socket"
        );
        assert!(catalogue().find("SKD-NOPE-1").is_none());
    }

    #[test]
    fn the_id_constants_are_the_catalogue() {
        let rules = catalogue().rules();
        assert_eq!(id::ALL.len(), rules.len());
        for (i, (k, r)) in id::ALL.iter().zip(rules).enumerate() {
            assert_eq!(k.as_str(), r.id);
            assert_eq!(k.index, i);
            assert!(std::ptr::eq(k.rule(), r));
        }
        assert_eq!(id::SKD_ESC_020.rule().slug, "runtime-socket");
    }

    #[test]
    fn levels_nest() {
        assert!(Level::Hardened.includes(Level::Baseline));
        assert!(!Level::Baseline.includes(Level::Restricted));
    }
}
