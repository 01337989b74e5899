//! Fuzzing the importers in `cargo test` (issue 12): mutated containerlab files, GraphML
//! files and Mininet strings go through `topology::import` and, when they convert, through
//! the topolab checker and compile — a result or an error, never a panic.
//!
//! Seeds: the examples (`topologies/*.clab.yml`, `topologies/*.graphml`) and the error
//! corpus (`tests/bad_import/`). Mutations are `tests/common/mutate.rs`'s, with values that
//! stress these formats (hostile names, XML specials, odd numbers).
//! `TOPOLAB_FUZZ_CASES=100000` runs longer locally.

mod common;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use common::corpus::files_ending;
use common::mutate::{cases, fuzz};
use topolab::topology::import::{self, Format, Options};
use topolab::topology::{Limits, Source};

const SCALARS: &[&str] = &[
    "linux",
    "bridge",
    "ceos",
    "\"../etc\"",
    "\"a/b\"",
    "\"a b\"",
    "\"x:eth1\"",
    "[\"a:eth1\", \"a:eth1\"]",
    "[\"a:eth1\"]",
    "\"host:veth0\"",
    "\"/etc/passwd:/etc/x\"",
    "\".:/etc/frr\"",
    "\"x:/proc/x\"",
    "{node: a, interface: eth1}",
    "~",
    "[]",
    "{}",
    "0",
    "-1",
    "1e400",
    "NaN",
    "inf",
    "18446744073709551616",
    "<node id=\"0\"/>",
    "<node/>",
    "<edge source=\"0\" target=\"zz\"/>",
    "<edge source=\"0\" target=\"0\"/>",
    "<data key=\"d29\">91</data>",
    "<data key=\"d29\">-0</data>",
    "<data key=\"d39\">1e20</data>",
    "<data key=\"d42\">X</data>",
    "</graph>",
    "<graph>",
    "&amp;&lt;&#0;&#x110000;",
    "<![CDATA[ ]]>",
    "<!DOCTYPE x [<!ENTITY a \"b\">]>",
    "é東京",
];

fn seeds(endings: &[&str]) -> Vec<String> {
    let mut files = files_ending("topologies", endings);
    files.extend(files_ending("tests/bad_import", endings));
    let mut out: Vec<String> = files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    out.sort();
    assert!(out.len() >= 3, "seeds for {endings:?}");
    out
}

/// Converts `text` as `format` (both host choices), then checks and compiles the result.
fn convert(text: &str, format: Format) {
    let source = Source {
        name: "fuzz".into(),
        text: text.into(),
    };
    for hosts in [false, true] {
        let limits = Limits::default();
        if let Ok(imported) = import::import(&source, format, Options { hosts }, None, limits)
            && let Ok(t) = imported.topology(None, limits)
        {
            let _ = topolab::compile::compile(&t, "fuzz");
        }
    }
}

#[test]
fn containerlab_reader_never_panics() {
    fuzz(seeds(&[".clab.yml"]), SCALARS, |t| convert(t, Format::Clab));
}

#[test]
fn graphml_reader_never_panics() {
    fuzz(seeds(&[".graphml"]), SCALARS, |t| {
        convert(t, Format::Graphml)
    });
}

#[test]
fn mininet_strings_never_panic() {
    let word = prop_oneof![
        Just("minimal".to_string()),
        Just("single".to_string()),
        Just("linear".to_string()),
        Just("tree".to_string()),
        Just("torus".to_string()),
        "[a-z]{0,6}",
    ];
    let arg = prop_oneof![
        (0u64..8).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "[a-z]{1,6}=[0-9]{1,3}",
        ".{0,4}",
    ];
    let strategy = (word, prop::collection::vec(arg, 0..5));
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |(word, args)| {
            let text = std::iter::once(word)
                .chain(args)
                .collect::<Vec<_>>()
                .join(",");
            convert(&text, Format::Mininet);
            Ok(())
        })
        .unwrap();
}
