//! Scenarios: scripted lab tests with built-in probes and JUnit/JSON reports.
//!
//! ```text
//!   scenario.yaml ──parse/check──▶ Scenario (model.rs)
//!                 ──run──────────▶ lab up → steps (with `during:` timelines) → lab down
//!                 ──report───────▶ human summary, JUnit XML, JSON
//! ```

pub mod model;
