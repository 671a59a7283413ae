//! Dockerfile rules, over a parsed Dockerfile model.

/// A parsed Dockerfile (being written).
#[derive(Debug, Clone, Default)]
pub struct Dockerfile {}
