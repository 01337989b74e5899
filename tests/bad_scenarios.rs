//! The scenario error corpus: every `tests/bad_scenarios/*.yaml` must fail to load with the
//! error its header promises (the conventions of `tests/bad/`, in `tests/common/corpus.rs`).

mod common;

use std::path::Path;

use common::corpus;
use topolab::scenario;

#[test]
fn every_bad_file_fails_where_its_header_says() {
    corpus::fails_where_headers_say("tests/bad_scenarios", 12, scenario::load);
}

#[test]
fn every_error_has_a_hint() {
    corpus::every_error_has_a_hint("tests/bad_scenarios", scenario::load);
}

#[test]
fn missing_file_is_an_io_error() {
    let e =
        scenario::load(Path::new("/nonexistent/topolab/scenario.yaml")).expect_err("no such file");
    assert_eq!(e.kind, topolab::topology::ErrorKind::Io);
    assert_eq!((e.line, e.column), (0, 0));
}
