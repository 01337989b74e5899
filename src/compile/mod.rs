//! Compile: a checked [`Topology`](crate::topology::Topology) → petgraph model → [`Plan`].
//!
//! Pure and deterministic: no kernel, no clock, no randomness. The same topology and lab
//! name always give the same Plan (names, ifindexes, MACs, addresses, routes).

mod plan;

pub use plan::*;
