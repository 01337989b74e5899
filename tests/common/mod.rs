//! Helpers shared by the integration tests: the topology builder, example topologies and
//! a forwarding simulator over Plans.
#![allow(dead_code)]

pub mod builder;
pub mod sim;
pub mod topologies;
