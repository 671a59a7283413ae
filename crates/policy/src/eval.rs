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
    if !opts.pss_only {
        let view = crate::k8s::pod_view(w);
        out.extend(
            crate::escape::evaluate(&view)
                .into_iter()
                .filter(|v| keep(v, opts)),
        );
        out.extend(
            crate::k8s::evaluate(w)
                .into_iter()
                .filter(|v| keep(v, opts)),
        );
    }
    out
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
