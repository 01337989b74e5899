//! One diagnostic type for everything a user can get wrong in a topology file, whether
//! `check` finds it (unknown node) or `compile` does (address pool exhausted).
//!
//! It carries the file text so that `miette` can draw the snippet, and the 1-based line and
//! column so that tests (and plain-text consumers) can check the location exactly.

use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};

use super::model::{Source, Span};

/// What kind of mistake it is: stable for tests and for tools that consume errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file is not YAML, or has the wrong shape (serde-saphyr's message).
    Syntax,
    UnknownKey,
    DuplicateKey,
    MissingField,
    UnknownNode,
    DuplicateName,
    BadName,
    IfaceNameTooLong,
    DuplicateIface,
    BadAddress,
    OverlappingSubnets,
    PoolExhausted,
    BadUnit,
    BadValue,
    BadLink,
    /// A file the topology refers to (a link's `trace`) does not exist.
    MissingFile,
    Io,
}

#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{message}")]
pub struct TopologyError {
    pub kind: ErrorKind,
    pub message: String,
    #[source_code]
    src: NamedSource<Arc<str>>,
    #[label("{label}")]
    at: Option<SourceSpan>,
    label: String,
    #[help]
    pub help: Option<String>,
    /// 1-based; 0 when the error has no location.
    pub line: u32,
    pub column: u32,
}

impl TopologyError {
    pub fn new(kind: ErrorKind, source: &Source, span: Span, message: impl Into<String>) -> Self {
        let at = (span.line > 0).then(|| SourceSpan::new(span.offset.into(), span.len));
        TopologyError {
            kind,
            message: message.into(),
            src: NamedSource::new(source.name.clone(), source.text.clone()),
            at,
            label: "here".into(),
            help: None,
            line: span.line,
            column: span.column,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// `file:line:col: message` — the one-line form for logs and tests.
    pub fn one_line(&self) -> String {
        format!(
            "{}:{}:{}: {}",
            self.src.name(),
            self.line,
            self.column,
            self.message
        )
    }
}
