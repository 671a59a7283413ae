//! Dockerfile rules, over a parsed Dockerfile model.

/// A parsed Dockerfile (being written).
#[derive(Debug, Clone, Default)]
pub struct Dockerfile {}

/// Evaluate the Dockerfile rules (being written).
pub fn evaluate(_d: &Dockerfile) -> Vec<crate::model::Violation> {
    Vec::new()
}
