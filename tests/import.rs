//! Topologies from elsewhere (`topolab import`, and `up`/`validate`/`plan` of a foreign
//! file): containerlab files, Mininet strings and GraphML, converted, checked, round-tripped
//! through the YAML `import` prints, refused at the right line and column when wrong, and
//! (as root) a GraphML backbone brought up as a real lab whose link delays are the
//! great-circle figures.

mod common;

use std::path::Path;

use common::corpus;
use topolab::topology::Topology;

const BAD: &str = "tests/bad_import";
const ENDINGS: &[&str] = &[".clab.yml", ".graphml"];

/// What `validate` does with a foreign file: load it (import, parse, check) and compile.
fn validate(path: &Path) -> Result<(), topolab::topology::TopologyError> {
    let t = Topology::load(path)?;
    topolab::compile::compile(&t, &t.name).map(|_| ())
}

#[test]
fn every_bad_import_fails_where_its_header_says() {
    corpus::files_fail_where_headers_say(corpus::files_ending(BAD, ENDINGS), 30, validate);
}
