//! Fuzzing the agent's inputs (issue 13): mutated bundles (`topolab plan --shards N --out`
//! files, read by `topolab agent --plan`) go through `parse_bundle` and, when they parse,
//! `shard_subplan` for every shard number around the bundle's; mutated peers files through
//! `parse_peers` — a result or an error, never a panic.
//!
//! Seeds: the example labs, compiled and split by hand (`tests/common/shards.rs`), as
//! pretty JSON (one value per line, so scalar replacement hits node and interface indices,
//! shard numbers and addresses). `TOPOLAB_FUZZ_CASES=100000` runs longer locally.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;

use common::mutate::fuzz;
use common::shards::split;
use topolab::compile::compile;
use topolab::compile::shard_split::{parse_bundle, parse_peers, shard_subplan};
use topolab::topology::Topology;

const SCALARS: &[&str] = &[
    "0,",
    "1,",
    "2,",
    "3,",
    "4294967295,",
    "18446744073709551615,",
    "-1,",
    "1e400,",
    "null,",
    "\"\",",
    "\"../../etc\",",
    "\"a/b\",",
    "\"10.0.0.1\",",
    "\"::1\",",
    "\"300.1.1.1\",",
    "[],",
    "{},",
    "true,",
    "0",
    "1",
    "99999",
    "\"_fabric\"",
    "{\"node\": 99, \"iface\": 0},",
    "{\"node\": 0, \"iface\": 99},",
];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn seeds() -> Vec<String> {
    let mut out = Vec::new();
    for (file, assign) in [
        (
            "emulation.yaml",
            vec![
                ("a1", 0),
                ("sa", 0),
                ("ra", 0),
                ("rb", 1),
                ("sb", 1),
                ("b1", 1),
            ],
        ),
        ("quickstart.yaml", vec![("h1", 0), ("h2", 1)]),
    ] {
        let path = common::repo_path(&format!("topologies/{file}"));
        let t = Topology::load(&path).unwrap();
        let plan = compile(&t, "fz").unwrap();
        let b = split(&plan, &assign, &[ip("10.9.0.1"), ip("10.9.0.2")], 9000);
        out.push(serde_json::to_string_pretty(&b).unwrap());
    }
    out
}

fn check_bundle(text: &str) {
    if let Ok(b) = parse_bundle(text) {
        let n = b.shards.machines.len() as u32;
        for k in [0, 1, n.saturating_sub(1), n, u32::MAX] {
            let _ = shard_subplan(&b, k, &BTreeMap::new());
        }
    }
}

#[test]
fn bundles_never_panic() {
    fuzz(seeds(), SCALARS, check_bundle);
}

#[test]
fn peers_files_never_panic() {
    let seeds =
        vec!["{\n\"0\": \"10.0.0.1\",\n\"1\": \"10.0.0.2\",\n\"2\": \"fd00::3\"\n}\n".to_string()];
    fuzz(seeds, SCALARS, |t| {
        let _ = parse_peers(t);
    });
}
