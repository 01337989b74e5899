//! One diagnostic type for everything a user can get wrong in a topology file, whether
//! `check` finds it (unknown node) or `compile` does (address pool exhausted) — and in a
//! scenario file, which is checked with the same machinery.
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
    /// Scenario files: a step with no action or two, or a key its action does not take.
    BadStep,
    /// Scenario files: a malformed `${…}` reference.
    BadReference,
    /// Scenario files: an expectation's regular expression does not compile.
    BadRegex,
}

/// A user's mistake in a topology file, with where it is and how to fix it.
///
/// Small on purpose (the snippet source and texts live behind one `Box`) so that every
/// `Result` carrying it stays cheap to move.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.detail.message)]
pub struct TopologyError {
    pub kind: ErrorKind,
    /// 1-based; 0 when the error has no location.
    pub line: u32,
    pub column: u32,
    detail: Box<Detail>,
}

#[derive(Debug)]
struct Detail {
    message: String,
    src: NamedSource<Arc<str>>,
    at: Option<SourceSpan>,
    label: String,
    help: Option<String>,
}

impl Diagnostic for TopologyError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.detail
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.detail.src)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let at = self.detail.at?;
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(Some(self.detail.label.clone()), at),
        )))
    }
}

impl TopologyError {
    pub fn new(kind: ErrorKind, source: &Source, span: Span, message: impl Into<String>) -> Self {
        let at = (span.line > 0).then(|| SourceSpan::new(span.offset.into(), span.len));
        TopologyError {
            kind,
            line: span.line,
            column: span.column,
            detail: Box::new(Detail {
                message: message.into(),
                src: NamedSource::new(source.name.clone(), source.text.clone()),
                at,
                label: "here".into(),
                help: None,
            }),
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.detail.help = Some(help.into());
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.detail.label = label.into();
        self
    }

    pub fn message(&self) -> &str {
        &self.detail.message
    }

    pub fn help_text(&self) -> Option<&str> {
        self.detail.help.as_deref()
    }

    /// `file:line:col: message` — the one-line form for logs and tests.
    pub fn one_line(&self) -> String {
        format!(
            "{}:{}:{}: {}",
            self.detail.src.name(),
            self.line,
            self.column,
            self.detail.message
        )
    }
}
