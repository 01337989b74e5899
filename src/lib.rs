//! topolab: YAML topologies become network labs of Linux namespaces, veths and bridges.
//!
//! The pipeline (see DESIGN.md): `topology` (parse, check) → `compile` (Plan) →
//! `lab` (apply, supervise, tear down). The library returns data and typed errors; the
//! binary renders them.

// Lets the test-only topology builder (tests/common/builder.rs) name this crate
// `topolab` both in integration tests and when included by the unit tests.
#[cfg(test)]
extern crate self as topolab;

pub mod compile;
pub mod daemon;
pub mod lab;
pub mod link;
pub mod netlink;
pub mod netns;
pub mod scenario;
pub mod time;
pub mod tools;
pub mod topology;
