//! topolab: YAML topologies become network labs of Linux namespaces, veths and bridges.
//!
//! The pipeline (see DESIGN.md): `topology` (parse, check) → `compile` (Plan) →
//! `lab` (apply, supervise, tear down). The library returns data and typed errors; the
//! binary renders them.

pub mod compile;
pub mod lab;
pub mod link;
pub mod netlink;
pub mod netns;
pub mod topology;
pub mod time;
