//! Fuzzing the shard planner's inputs in `cargo test` (issue 13): mutated machines files
//! (`compile::machines`), mutated topologies with `placement:` split over 1–4 shards
//! (`compile::shard::plan_shards`), and mutated bundles (`ShardedPlan` JSON, what
//! `topolab agent --plan` reads) — a result or an error, never a panic.
//!
//! Seeds: `tests/data/machines.yaml`, `tests/bad_machines/`, `tests/data/shard-lab.yaml`,
//! `tests/bad_shards/`, and a bundle planned here. `TOPOLAB_FUZZ_CASES=100000` runs longer.

mod common;

use common::corpus::yaml_files;
use common::mutate::fuzz;
use topolab::compile::shard::{self, ShardedPlan};
use topolab::topology::{Source, Topology};

const SCALARS: &[&str] = &[
    "0",
    "1",
    "-1",
    "3",
    "4294967296",
    "18446744073709551616",
    "1279",
    "1280",
    "65535",
    "65536",
    "~",
    "[]",
    "{}",
    "''",
    "10.1.0.1",
    "10.1.0.256",
    "0.0.0.0",
    "::",
    "fd00::1",
    "ff02::1",
    "10.1.0.1/24",
    "\"\\u0000\"",
    "é",
    "../../etc/passwd",
    "{name: x, underlay: 10.9.9.9}",
    "h1",
    "s1",
    "{h1: 0}",
    "{h1: 9}",
    "true",
    "1e9",
];

fn seeds(files: &[&str], dirs: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(common::repo_path(f)).unwrap())
        .chain(
            dirs.iter()
                .flat_map(|d| yaml_files(d))
                .map(|p| std::fs::read_to_string(p).unwrap()),
        )
        .collect();
    out.sort();
    out
}

fn machines(text: &str) {
    let source = Source {
        name: "fuzz.yaml".into(),
        text: text.into(),
    };
    if let Ok(m) = topolab::compile::machines::parse(&source) {
        assert!(!m.is_empty());
    }
}

fn split(text: &str) {
    let Ok(t) = Topology::from_str(text, "fuzz.yaml") else {
        return;
    };
    for n in 1..=4 {
        let m = shard::default_machines(n, 1500 + 50 * n).unwrap();
        if let Ok(s) = shard::plan_shards(&t, "fuzz", &m) {
            assert!(s.shards.assign.values().all(|&k| k < n));
        }
    }
}

#[test]
fn machines_parser_never_panics() {
    fuzz(
        seeds(&["tests/data/machines.yaml"], &["tests/bad_machines"]),
        SCALARS,
        machines,
    );
}

#[test]
fn planner_never_panics() {
    fuzz(
        seeds(&["tests/data/shard-lab.yaml"], &["tests/bad_shards"]),
        SCALARS,
        split,
    );
}

#[test]
fn bundle_reader_never_panics() {
    let t = Topology::load(common::repo_path("tests/data/shard-lab.yaml")).unwrap();
    let bundle =
        shard::plan_shards(&t, "split", &shard::default_machines(3, 9000).unwrap()).unwrap();
    let text = serde_json::to_string_pretty(&bundle).unwrap();
    // The bundle reads back as written.
    assert_eq!(serde_json::from_str::<ShardedPlan>(&text).unwrap(), bundle);
    fuzz(vec![text], SCALARS, |text| {
        let _ = serde_json::from_str::<ShardedPlan>(text);
    });
}
