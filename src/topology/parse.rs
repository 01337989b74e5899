//! Text → [`Spec`]: runs serde-saphyr and turns its errors into [`TopologyError`]s.
//!
//! serde-saphyr reports structured errors with a location; this module maps the ones a user
//! can act on to stable kinds (unknown key, duplicate key, missing key, unknown value) with
//! a hint, and everything else to [`ErrorKind::Syntax`] with the parser's own message.
//! Duplicate keys are rejected by serde-saphyr's default [`DuplicateKeyPolicy::Error`],
//! which this module asks for explicitly so that a changed default cannot slip through.
//!
//! [`DuplicateKeyPolicy::Error`]: serde_saphyr::DuplicateKeyPolicy::Error

use serde_saphyr::{DuplicateKeyPolicy, Error};

use super::Limits;
use super::error::{ErrorKind, TopologyError};
use super::model::{Source, Span};
use super::names::did_you_mean;
use super::spec::{Spec, loc_span};

/// Parses a topology file's text into its spec (shape only: no semantic checks).
pub fn parse(source: &Source) -> Result<Spec, TopologyError> {
    parse_with(source, Limits::default())
}

/// [`parse`], with the YAML budget sized for a lab of at most `limits.max_nodes` nodes.
pub fn parse_with(source: &Source, limits: Limits) -> Result<Spec, TopologyError> {
    serde_saphyr::from_str_with_options::<Spec>(&source.text, options(limits, MAX_DEPTH))
        .map_err(|e| convert(&e, source, &TOPOLOGY, limits))
}

/// Deepest YAML nesting accepted (serde-saphyr's default).
pub(crate) const MAX_DEPTH: usize = 64;

/// YAML values (scalars, mappings, lists) a file may hold per lab node allowed: a written
/// node with a few keys, its share of links with addresses and impairments.
const YAML_VALUES_PER_NODE: usize = 25;

/// Most YAML values a file may hold: enough for a lab at the node limit, and never less
/// than serde-saphyr's default.
pub(crate) fn max_yaml_values(limits: Limits) -> usize {
    limits
        .max_nodes
        .saturating_mul(YAML_VALUES_PER_NODE)
        .max(250_000)
}

/// The parser options every file (topology, scenario) is read with: duplicate keys are
/// errors, the budget follows the lab's node limit, and comments are never an error (any
/// number of comment lines may sit between entries; the 16 MiB file size bounds them).
pub(crate) fn options(limits: Limits, max_depth: usize) -> serde_saphyr::Options {
    let values = max_yaml_values(limits);
    serde_saphyr::options! {
        duplicate_keys: DuplicateKeyPolicy::Error,
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_depth: max_depth,
            max_nodes: values,
            max_events: values.saturating_mul(4),
            max_buffered_comment_events: usize::MAX,
        },
    }
}

/// The words that make [`convert`]'s hints fit the kind of file being read.
pub(crate) struct FileKind {
    /// "topology", "scenario".
    pub what: &'static str,
    /// What a missing `name:` or an empty file needs ("a lab name, like `name: mylab`").
    pub needs_name: &'static str,
    /// A file that shows the format.
    pub example_file: &'static str,
}

const TOPOLOGY: FileKind = FileKind {
    what: "topology",
    needs_name: "a lab name, like `name: mylab`",
    example_file: "topologies/quickstart.yaml",
};

/// Turns a serde-saphyr error into a diagnostic with a stable kind, a location and a hint.
/// Shared by topology and scenario files (`kind` words the hints; `limits` sized the budget).
pub(crate) fn convert(
    err: &Error,
    source: &Source,
    kind: &FileKind,
    limits: Limits,
) -> TopologyError {
    let err = err.without_snippet();
    if let Error::AliasError { error, .. } = err {
        return convert(error, source, kind, limits);
    }
    let FileKind {
        what,
        needs_name,
        example_file,
    } = *kind;
    let span = err
        .location()
        .map(|l| fill_offset(loc_span(&l), &source.text))
        .unwrap_or_default();
    let (kind, message, help) = match err {
        Error::SerdeUnknownField {
            field, expected, ..
        } => {
            let help = match did_you_mean(field, expected.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None if expected.is_empty() => "no keys are allowed here".into(),
                None => format!("valid keys here: {}", expected.join(", ")),
            };
            (
                ErrorKind::UnknownKey,
                format!("unknown key `{field}`"),
                help,
            )
        }
        Error::DuplicateMappingKey { key, .. } => {
            let key = key.as_deref().unwrap_or("?");
            (
                ErrorKind::DuplicateKey,
                format!("duplicate key `{key}`"),
                "a key may appear only once in a mapping; merge or rename one of them".into(),
            )
        }
        Error::SerdeMissingField { field, .. } => {
            let help = if *field == "name" {
                format!("every {what} needs {needs_name}")
            } else {
                format!("add `{field}:` here")
            };
            (
                ErrorKind::MissingField,
                format!("missing key `{field}`"),
                help,
            )
        }
        Error::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let help = match did_you_mean(variant, expected.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("expected one of: {}", expected.join(", ")),
            };
            (
                ErrorKind::BadValue,
                format!("unknown value `{variant}`"),
                help,
            )
        }
        Error::Eof { .. }
            if source
                .text
                .lines()
                .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) =>
        {
            (
                ErrorKind::Syntax,
                EMPTY.into(),
                format!("a {what} needs at least {needs_name}"),
            )
        }
        Error::Budget {
            breach: serde_saphyr::budget::BudgetBreach::Depth { depth },
            ..
        } => (
            ErrorKind::Syntax,
            format!("nested too deeply ({depth} levels)"),
            format!("a {what} file nests mappings and lists less deeply than this"),
        ),
        Error::Budget {
            breach:
                serde_saphyr::budget::BudgetBreach::Nodes { .. }
                | serde_saphyr::budget::BudgetBreach::Events { .. },
            ..
        } => (
            ErrorKind::BadValue,
            format!(
                "the file is too large: over {} YAML values (keys, values and lists), \
                 the most a lab of {} nodes needs",
                max_yaml_values(limits),
                limits.max_nodes
            ),
            format!(
                "a lab has at most {} nodes unless raised with `--max-nodes N`; \
                 generators (`generate:`) write large labs in a few lines",
                limits.max_nodes
            ),
        ),
        Error::MultipleDocuments { .. } => (
            ErrorKind::Syntax,
            "more than one YAML document in the file".into(),
            format!("a {what} file holds one document: remove the second `---`"),
        ),
        Error::Unexpected { expected, .. } => {
            let what = match *expected {
                "mapping start" => "a mapping (`key: value`)",
                "sequence start" => "a list",
                "string scalar" => "a string",
                other => other,
            };
            (
                ErrorKind::Syntax,
                format!("expected {what} here"),
                format!(
                    "this value has the wrong shape (or a bracket above is not closed); \
                     {example_file} shows the format"
                ),
            )
        }
        other => {
            let message = strip_location(&other.to_string());
            let help = if message.contains("tab") {
                "indent with spaces: YAML does not allow tabs for indentation".into()
            } else if message.contains("invalid type") || message.starts_with("expected") {
                format!("this value has the wrong shape; {example_file} shows the format")
            } else {
                "check the YAML syntax near here".into()
            };
            (ErrorKind::Syntax, message, help)
        }
    };
    // An empty file's end is past its last line; point at its start instead.
    let span = if matches!(err, Error::Eof { .. }) && kind == ErrorKind::Syntax && message == EMPTY
    {
        Span {
            offset: 0,
            len: 0,
            line: 1,
            column: 1,
        }
    } else {
        span
    };
    TopologyError::new(kind, source, span, message).with_help(help)
}

const EMPTY: &str = "the file is empty";

/// serde-saphyr's messages end in ` at line L, column C`; the diagnostic has its own.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// Some errors (tabs) come without a byte offset; compute it from line and column.
fn fill_offset(mut span: Span, text: &str) -> Span {
    if span.line == 0 || span.offset != 0 || (span.line == 1 && span.column == 1) {
        return span;
    }
    let Some(line) = text.split_inclusive('\n').nth(span.line as usize - 1) else {
        return span;
    };
    let line_start = line.as_ptr() as usize - text.as_ptr() as usize;
    let in_line: usize = line
        .chars()
        .take(span.column.saturating_sub(1) as usize)
        .map(char::len_utf8)
        .sum();
    span.offset = line_start + in_line;
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> TopologyError {
        let source = Source {
            name: "t.yaml".into(),
            text: text.into(),
        };
        parse(&source).expect_err("should fail")
    }

    #[test]
    fn unknown_top_level_key_suggests() {
        let e = err("name: x\nnodez: {}\n");
        assert_eq!(e.kind, ErrorKind::UnknownKey);
        assert_eq!((e.line, e.column), (2, 1));
        assert_eq!(e.message(), "unknown key `nodez`");
        assert_eq!(e.help_text(), Some("did you mean `nodes`?"));
    }

    #[test]
    fn duplicate_key() {
        let e = err("name: x\nname: y\n");
        assert_eq!(e.kind, ErrorKind::DuplicateKey);
        assert_eq!((e.line, e.column), (2, 1));
    }

    #[test]
    fn missing_name() {
        let e = err("nodes: {h1: }\n");
        assert_eq!(e.kind, ErrorKind::MissingField);
        assert!(e.message().contains("`name`"));
    }

    #[test]
    fn unknown_kind_value() {
        let e = err("name: x\nnodes:\n  r1: {kind: roter}\n");
        assert_eq!(e.kind, ErrorKind::BadValue);
        assert_eq!(e.help_text(), Some("did you mean `router`?"));
    }

    #[test]
    fn tabs_are_syntax_errors_with_offsets() {
        let e = err("name: x\nnodes:\n\th1:\n");
        assert_eq!(e.kind, ErrorKind::Syntax);
        assert!(e.help_text().unwrap().contains("tabs"));
        assert_eq!(e.line, 3);
        assert!(!e.message().contains(" at line "));
    }

    #[test]
    fn offsets_from_line_and_column() {
        let span = Span {
            offset: 0,
            len: 0,
            line: 2,
            column: 3,
        };
        assert_eq!(fill_offset(span, "ab\ncdef\n").offset, 5);
        let span = Span {
            offset: 0,
            len: 0,
            line: 2,
            column: 2,
        };
        assert_eq!(fill_offset(span, "é\nµx\n").offset, 5);
    }

    #[test]
    fn empty_and_multi_document_files() {
        let e = err("# only a comment\n");
        assert_eq!(e.message(), "the file is empty");
        let e = err("name: x\n---\nname: y\n");
        assert!(
            e.message().contains("more than one YAML document"),
            "{}",
            e.message()
        );
        assert_eq!(e.line, 3);
    }

    #[test]
    fn comments_are_never_an_error() {
        let comments = "# a comment\n".repeat(1000);
        let text = format!(
            "name: x\nnodes:\n  h1:\n{comments}  h2:\nlinks:\n{comments}  - [h1, h2]\n{comments}"
        );
        let source = Source {
            name: "t.yaml".into(),
            text: text.into(),
        };
        let spec = parse(&source).unwrap_or_else(|e| panic!("{}", e.one_line()));
        assert_eq!(spec.links.unwrap().len(), 1);
    }

    #[test]
    fn too_many_yaml_values_names_the_node_limit() {
        let nodes: String = (0..130_000).map(|i| format!("  n{i}:\n")).collect();
        let e = err(&format!("name: x\nnodes:\n{nodes}"));
        assert_eq!(e.kind, ErrorKind::BadValue);
        assert!(
            e.message().contains("the file is too large"),
            "{}",
            e.one_line()
        );
        assert!(
            e.message().contains("a lab of 10000 nodes"),
            "{}",
            e.one_line()
        );
        assert!(!e.message().contains("budget"), "{}", e.one_line());
        assert!(e.help_text().unwrap().contains("--max-nodes"));
    }

    #[test]
    fn good_file_parses() {
        let source = Source {
            name: "t.yaml".into(),
            text: "name: x\nnodes:\n  h1:\n  s1: {kind: switch}\nlinks:\n  - [h1, s1]\n".into(),
        };
        let spec = parse(&source).unwrap();
        assert_eq!(spec.name.value, "x");
        assert_eq!(spec.nodes.unwrap().0.len(), 2);
    }
}
