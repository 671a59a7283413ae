//! Evaluation entry points: which rule modules run on which kind of workload, filtered by level.

use crate::catalogue::Level;
use crate::model::{PodWorkload, Violation, WorkloadView};
use crate::pss::PssVersion;

/// What to evaluate.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rules whose level is above this are not evaluated.
    pub level: Level,
    /// Pod Security version whose checks are applied.
    pub pss_version: PssVersion,
    /// Only the Pod Security checks (for a verdict identical to Kubernetes' PSA).
    pub pss_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            level: Level::Restricted,
            pss_version: PssVersion::LATEST,
            pss_only: false,
        }
    }
}

fn keep(v: &Violation, opts: &Options) -> bool {
    opts.level.includes(v.rule.level)
}

/// Every violation of a Kubernetes pod-bearing object: the Pod Security checks for the level and
/// version (restricted and hardened both apply the restricted PSS checks), then the escape rules
/// over its normalized view.
pub fn evaluate_pod(w: &PodWorkload, opts: &Options) -> Vec<Violation> {
    let pss_level = opts.level.min(Level::Restricted);
    let mut out = crate::pss::evaluate(w, pss_level, opts.pss_version);
    if !opts.pss_only && pss_level > Level::Baseline {
        keep_baseline_severity(
            &mut out,
            crate::pss::evaluate(w, Level::Baseline, opts.pss_version),
        );
    }
    if !opts.pss_only {
        out.extend(evaluate_pod_beyond_pss(w, opts.level));
    }
    out
}

/// The violations [`evaluate_pod`] adds to the Pod Security checks at `level`: the escape rules
/// over the workload's normalized view, then the Kubernetes rules Pod Security lacks. For a
/// caller that has the Pod Security verdict already (the admission webhook evaluates each
/// level once), without computing it again.
pub fn evaluate_pod_beyond_pss(w: &PodWorkload, level: Level) -> Vec<Violation> {
    let opts = Options {
        level,
        ..Options::default()
    };
    let view = crate::k8s::pod_view(w);
    let mut out: Vec<Violation> = crate::escape::evaluate(&view)
        .into_iter()
        .filter(|v| keep(v, &opts))
        .collect();
    out.extend(
        crate::k8s::evaluate(w)
            .into_iter()
            .filter(|v| keep(v, &opts)),
    );
    out
}

/// A severity belongs to the escape, not to the level: at restricted, Pod Security replaces some
/// baseline checks by a restricted twin (capabilities, seccomp, volumes, procMount) whose rule is
/// of lower severity, so an added NET_RAW, `Unconfined` seccomp or a hostPath volume would drop
/// from high to medium as the level gets stricter. Outside `--pss-only` (where the verdict must
/// be Kubernetes' own), every baseline violation is kept at restricted and above, and a twin's
/// violation of the same field is dropped in its favour. The invariant (tested over every
/// pair of Pod Security checks): whatever fails `--fail-on S` at baseline fails it at restricted
/// and hardened.
fn keep_baseline_severity(out: &mut Vec<Violation>, baseline: Vec<Violation>) {
    use std::collections::{HashMap, HashSet};
    // Hashed, not nested loops: a pod of 30,000 containers has as many violations per check.
    let present: HashSet<(&str, &str)> = out
        .iter()
        .map(|v| (v.rule.id.as_str(), v.field.as_str()))
        .collect();
    let missing: Vec<Violation> = baseline
        .into_iter()
        .filter(|b| !present.contains(&(b.rule.id.as_str(), b.field.as_str())))
        .collect();
    if missing.is_empty() {
        return;
    }
    let mut worst: HashMap<&str, crate::catalogue::Severity> = HashMap::new();
    for b in &missing {
        let s = worst.entry(b.field.as_str()).or_insert(b.rule.severity);
        *s = (*s).max(b.rule.severity);
    }
    out.retain(|v| {
        worst
            .get(v.field.as_str())
            .is_none_or(|s| v.rule.severity > *s)
    });
    drop(worst);
    out.extend(missing);
}

/// Every violation of a workload given as a normalized view (compose service, OCI config).
pub fn evaluate_view(view: &WorkloadView, opts: &Options) -> Vec<Violation> {
    if opts.pss_only {
        return Vec::new();
    }
    crate::escape::evaluate(view)
        .into_iter()
        .filter(|v| keep(v, opts))
        .collect()
}
