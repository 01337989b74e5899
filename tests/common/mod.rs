//! Helpers shared by the integration tests: the topology builder and example topologies.
#![allow(dead_code)]

pub mod builder;
pub mod topologies;
