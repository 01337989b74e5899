//! Scenarios: scripted lab tests with built-in probes and JUnit/JSON reports.
//!
//! ```text
//!   scenario.yaml ──parse (spec.rs)──▶ ScenarioSpec ──check (check.rs)──▶ Scenario (model.rs)
//!                       actions.rs, expect.rs, refs.rs, inline.rs ──┘
//!                 ──run──────────▶ lab up → steps (with `during:` timelines) → lab down
//!                 ──report (report.rs)──▶ human summary, JUnit XML, JSON
//! ```
//!
//! Parsing and checking need no lab and touch nothing but files: [`load`] reads a scenario
//! and, when it names a topology file, loads that too (a scenario whose lab cannot be built
//! is reported before anything runs); an inline topology is checked in place, so its errors
//! point into the scenario file. Errors are [`TopologyError`]s, the same diagnostics as
//! topology files (kind, line, column, hint). Node names and `${…}` references are resolved
//! by the runner against the running lab; here only their syntax is checked.
//!
//! Entry points: [`load`], [`from_str`], [`default_scenario`] (the embedded
//! `scenarios/quickstart.yaml`), and [`topology`] (the checked topology a scenario names).

mod actions;
mod bgp;
mod check;
mod expect;
mod inline;
pub mod model;
mod openflow;
pub mod refs;
pub mod report;
mod resolve;
pub mod run;
mod spec;
mod steps;
mod summary;

use std::path::Path;

pub use check::{DEFAULT_TIMEOUT, parse_long_duration};
pub use model::*;
pub use resolve::endpoint;
pub use steps::{PairResult, PingallReport, ping_pairs, pingall_pairs};
pub use summary::fmt_duration;

use crate::topology::parse::{FileKind, convert};
use crate::topology::{ErrorKind, Limits, Source, Span, Topology, TopologyError};

/// The embedded default scenario (`topolab test` without a file).
const QUICKSTART: &str = include_str!("../../scenarios/quickstart.yaml");

const SCENARIO: FileKind = FileKind {
    what: "scenario",
    needs_name: "a name and steps, like `name: smoke` and `steps: [{sleep: 1s}]`",
    example_file: "scenarios/quickstart.yaml",
};

/// Reads, parses and checks a scenario file. A `topology:` path is resolved against the
/// file's directory and loaded (its errors point into the topology file).
pub fn load(path: &Path) -> Result<Scenario, TopologyError> {
    load_with(path, Limits::default())
}

/// [`load`], its topology checked within `limits` (`topolab test --max-nodes`).
pub fn load_with(path: &Path, limits: Limits) -> Result<Scenario, TopologyError> {
    let source = Source::read(path)?;
    parse_and_check(source, Some(path.parent().unwrap_or(Path::new(""))), limits)
}

/// Parses and checks scenario text; `source_name` names it in diagnostics. A `topology:`
/// path is not opened (there is no directory to resolve it against).
pub fn from_str(text: &str, source_name: &str) -> Result<Scenario, TopologyError> {
    let source = Source {
        name: source_name.to_string(),
        text: text.into(),
    };
    parse_and_check(source, None, Limits::default())
}

/// The embedded quickstart scenario: reachability, RTT bounds and routes on the quickstart
/// lab (`scenarios/quickstart.yaml`).
pub fn default_scenario() -> Scenario {
    from_str(QUICKSTART, "<embedded quickstart scenario>")
        .expect("the embedded quickstart scenario is valid (tested)")
}

/// The checked topology a scenario runs on. A file path is resolved against the directory
/// of the scenario's source name (the path it was loaded from).
pub fn topology(scenario: &Scenario) -> Result<Topology, TopologyError> {
    topology_with(scenario, Limits::default())
}

/// [`topology`] within `limits` (`topolab test --max-nodes`).
pub fn topology_with(scenario: &Scenario, limits: Limits) -> Result<Topology, TopologyError> {
    let dir = Path::new(&scenario.source.name)
        .parent()
        .unwrap_or(Path::new(""));
    match &scenario.topology {
        TopologyRef::Quickstart => Ok(Topology::quickstart()),
        TopologyRef::File(path) => Topology::load_with(dir.join(path), limits),
        TopologyRef::Inline(text) => {
            let source = Source {
                name: scenario.source.name.clone(),
                text: text.as_str().into(),
            };
            let spec = crate::topology::parse::parse_with(&source, limits)?;
            crate::topology::check::check_with(spec, source, Some(dir), limits)
        }
    }
}

/// Stack for parsing. serde's derived visitors recurse once per YAML nesting level and
/// their frames are large in debug builds (about 100 KB a level for a step), so a scenario
/// nested a few `parallel`s deep could overflow a 2 MB thread stack (test threads, tokio
/// workers). Parsing runs on its own thread with this much stack (reserved, not touched),
/// and the YAML depth is capped by [`MAX_DEPTH`], so no input can overflow it.
const PARSE_STACK: usize = 64 << 20;

/// Deepest YAML nesting accepted (a step inside `parallel` is two levels deeper).
const MAX_DEPTH: usize = 64;

fn parse_and_check(
    source: Source,
    base_dir: Option<&Path>,
    limits: Limits,
) -> Result<Scenario, TopologyError> {
    let fallback = source.clone();
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("scenario-parse".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, || parse_and_check_here(source, base_dir, limits));
        match spawned {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(TopologyError::new(
                    ErrorKind::Syntax,
                    &fallback,
                    Span::default(),
                    "internal error while reading this scenario",
                )
                .with_help("please report this file"))
            }),
            // No thread to be had: parse here (the depth cap still applies).
            Err(_) => parse_and_check_here(fallback, base_dir, limits),
        }
    })
}

fn parse_and_check_here(
    source: Source,
    base_dir: Option<&Path>,
    limits: Limits,
) -> Result<Scenario, TopologyError> {
    let options = crate::topology::parse::options(limits, MAX_DEPTH);
    let spec = serde_saphyr::from_str_with_options::<spec::ScenarioSpec>(&source.text, options)
        .map_err(|e| convert(&e, &source, &SCENARIO, limits))?;
    check::check(spec, source, base_dir, limits)
}

#[cfg(test)]
mod tests;
