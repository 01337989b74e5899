//! Topology files: YAML spec (serde-saphyr, with spans) → checked [`Topology`].
//!
//! ```text
//!   text ──parse (spec.rs)──▶ Spec (serde types, Spanned<…>)
//!        ──check (check.rs)─▶ Topology (generators expanded, names and references valid)
//! ```
//! Nothing here touches the kernel. Every user mistake becomes a [`TopologyError`] with
//! file, line, column and a hint.

mod error;
mod model;
mod names;
mod parse;
mod spec;
pub mod units;

pub use error::{ErrorKind, TopologyError};
pub use model::*;
pub use names::check_lab_name;
