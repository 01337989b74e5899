//! The topology error corpus: every `tests/bad/*.yaml` must fail to load with the error its
//! header promises (conventions in `tests/common/corpus.rs`).

mod common;

use std::path::Path;

use common::corpus;
use topolab::topology::Topology;

#[test]
fn every_bad_file_fails_where_its_header_says() {
    corpus::fails_where_headers_say("tests/bad", 30, |p| Topology::load(p));
}

#[test]
fn every_error_has_a_hint() {
    corpus::every_error_has_a_hint("tests/bad", |p| Topology::load(p));
}

#[test]
fn missing_file_is_an_io_error() {
    let e = Topology::load(Path::new("/nonexistent/topolab/lab.yaml")).expect_err("no such file");
    assert_eq!(e.kind, topolab::topology::ErrorKind::Io);
    assert_eq!((e.line, e.column), (0, 0));
}
