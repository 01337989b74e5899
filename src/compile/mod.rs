//! Compile: a checked [`Topology`](crate::topology::Topology) → petgraph model → [`Plan`].
//!
//! Pure and deterministic: no kernel, no clock, no randomness. The same topology and lab
//! name always give the same Plan (names, ifindexes, MACs, addresses, routes).

mod plan;

pub use plan::*;

/// Placeholder until the compiler lands: every topology fails to compile.
pub fn compile(
    topology: &crate::topology::Topology,
    _lab: &str,
) -> Result<Plan, crate::topology::TopologyError> {
    Err(crate::topology::TopologyError::new(
        crate::topology::ErrorKind::BadValue,
        &topology.source,
        Default::default(),
        "compiler not built yet",
    ))
}
