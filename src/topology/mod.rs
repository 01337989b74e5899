//! Topology files: YAML spec (serde-saphyr, with spans) → checked [`Topology`].
//!
//! ```text
//!   text ──parse (parse.rs, spec.rs)──▶ Spec (serde types, Spanned<…>)
//!        ──check (check.rs)──────────▶ Topology (generators expanded, names and references valid)
//!                  ├─ addressing.rs   pools, explicit addresses
//!                  ├─ generate.rs     star, linear, tree, ring, torus, fattree, ases
//!                  ├─ links.rs        endpoints, interfaces, addresses, MTU
//!                  └─ emulation.rs    impairments (units.rs parses the values)
//!
//!   .clab.yml, .graphml, `tree,2,3` ──import/──▶ topolab YAML ──parse, check──▶ Topology
//! ```
//! Nothing here touches the kernel. Every user mistake becomes a [`TopologyError`] with
//! file, line, column and a hint; the first mistake found stops the check.
//!
//! Entry points: [`Topology::load`] (a file — topolab YAML, or a containerlab or GraphML
//! file converted by [`import`]; relative `trace` paths start at its directory), [`Topology::from_str`] (text; relative paths start at the current
//! directory), [`Topology::quickstart`] (the embedded default lab), and [`json_schema`]
//! for editors.

mod addressing;
pub mod bgp_check;
pub mod changes;
pub(crate) mod check;
mod emulation;
mod error;
mod generate;
pub mod import;
pub mod input;
mod links;
mod model;
pub(crate) mod names;
mod node_check;
pub mod openflow_check;
pub(crate) mod parse;
pub mod service;
pub(crate) mod spec;
pub mod units;
pub mod words;

use std::path::Path;

pub use error::{ErrorKind, TopologyError};
pub use input::MAX_FILE_BYTES;
pub use model::*;
pub use names::{check_lab_name, check_node_name, did_you_mean};
pub use service::{
    Mgmt, NodeFile, NodeLimits, Readiness, RestartPolicy, RoutesMode, Service, ServiceWhat,
    StopSignal,
};

/// Most nodes a lab may have unless raised (`--max-nodes`): bigger labs are possible, but
/// a typo (twenty stars of 99,999 hosts) should not take minutes and gigabytes to refuse.
pub const DEFAULT_MAX_NODES: usize = 10_000;

/// Bounds on what a topology may ask for, checked before anything large is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most nodes in the lab, written and generated together.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_nodes: DEFAULT_MAX_NODES,
        }
    }
}

/// The embedded default lab (`topolab up` without a file).
const QUICKSTART: &str = include_str!("../../topologies/quickstart.yaml");

impl Source {
    /// Reads a file for parsing (topology or scenario): a regular UTF-8 file of at most
    /// [`MAX_FILE_BYTES`]. A problem is an `Io` diagnostic naming the path.
    pub fn read(path: &Path) -> Result<Source, TopologyError> {
        let name = path.display().to_string();
        match input::read_text_file(path) {
            Ok(text) => Ok(Source {
                name,
                text: text.into(),
            }),
            Err(problem) => {
                let source = Source {
                    name: name.clone(),
                    text: "".into(),
                };
                Err(TopologyError::new(
                    ErrorKind::Io,
                    &source,
                    Span::default(),
                    format!("cannot read `{name}`: {}", problem.reason()),
                )
                .with_help(problem.hint()))
            }
        }
    }
}

impl Topology {
    /// Reads, parses and checks a topology file (default [`Limits`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Topology, TopologyError> {
        Topology::load_with(path, Limits::default())
    }

    /// Reads, parses and checks a topology file within `limits`. A file whose name says it
    /// is containerlab's (`*.clab.yml`) or GraphML (`*.graphml`) is imported first (see
    /// [`import`]), with default [`import::Options`].
    pub fn load_with(path: impl AsRef<Path>, limits: Limits) -> Result<Topology, TopologyError> {
        let path = path.as_ref();
        if let Some(format) = import::Format::detect(path) {
            return import::load(path, format, import::Options::default(), limits);
        }
        let source = Source::read(path)?;
        let spec = parse::parse_with(&source, limits)?;
        check::check_with(
            spec,
            source,
            Some(path.parent().unwrap_or(Path::new(""))),
            limits,
        )
    }

    /// Parses and checks topology text; `source_name` names it in diagnostics.
    #[allow(clippy::should_implement_trait)] // two arguments; not `FromStr`
    pub fn from_str(text: &str, source_name: &str) -> Result<Topology, TopologyError> {
        let source = Source {
            name: source_name.to_string(),
            text: text.into(),
        };
        let spec = parse::parse(&source)?;
        check::check(spec, source, None)
    }

    /// The embedded quickstart lab: two hosts on each of two switches, joined by two
    /// routers (`topologies/quickstart.yaml`).
    pub fn quickstart() -> Topology {
        Topology::from_str(QUICKSTART, "<embedded quickstart>")
            .expect("the embedded quickstart topology is valid (tested)")
    }
}

/// The JSON schema of topology files, for editors and `topolab validate --schema`.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(spec::Spec);
    serde_json::to_value(schema).expect("a schema is JSON")
}
