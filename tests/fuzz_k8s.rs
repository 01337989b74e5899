//! Fuzzing the operator's outside input in `cargo test` (issue 13): a Lab's
//! `spec.topology` (mutated example topologies) goes through [`operator::bundle`] and the
//! status it yields — a bundle or a `Failed` status with a message, never a panic; and
//! `peers.json` texts go through [`operator::parse_peers`].
//! `TOPOLAB_FUZZ_CASES=100000` runs longer locally.

mod common;

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use common::corpus::yaml_files;
use common::mutate::{cases, fuzz};
use topolab::k8s::crd::{Lab, LabSpec, Phase};
use topolab::k8s::objects;
use topolab::k8s::operator;

const SCALARS: &[&str] = &[
    "host",
    "router",
    "switch",
    "\"../etc\"",
    "\"a/b\"",
    "~",
    "[]",
    "{}",
    "0",
    "-1",
    "1e400",
    "18446744073709551616",
    "[h1, h1]",
    "{kind: hots}",
    "é東京",
];

fn lab(topology: &str, shards: u32) -> Lab {
    objects::lab(
        "fuzz",
        "labs",
        LabSpec {
            topology: topology.to_string(),
            shards,
            image: "topolab:test".into(),
            resources: None,
            control_port: None,
            underlay_mtu: 9000,
        },
    )
}

/// A topology text as a Lab's spec: a bundle that parses back, or a Failed status that
/// says why and lists no shard.
fn check(text: &str) {
    for shards in [1, 3] {
        let l = lab(text, shards);
        let now = k8s_openapi::jiff::Timestamp::UNIX_EPOCH;
        match operator::bundle(&l) {
            Ok(b) => {
                let split: topolab::compile::shard::ShardedPlan =
                    serde_json::from_str(&b.text).expect("a bundle parses back");
                assert_eq!(split.shards.machines.len(), shards as usize);
                assert_eq!(split.shards.control_port, b.control_port);
            }
            Err(why) => {
                let st = operator::status(&l, Some(why.clone()), &BTreeMap::new(), false, now);
                assert_eq!(st.phase, Some(Phase::Failed));
                assert_eq!(st.message.as_deref(), Some(why.as_str()));
                assert!(st.shards.is_empty());
            }
        }
    }
}

#[test]
fn lab_topologies_never_panic() {
    let mut seeds: Vec<String> = yaml_files("topologies")
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 3);
    fuzz(seeds, SCALARS, check);
}

#[test]
fn peers_files_never_panic() {
    let valid = prop_oneof![
        Just(r#"{"0":"10.0.0.1","1":"10.0.0.2"}"#.to_string()),
        Just(r#"{"0":"fd00::1"}"#.to_string()),
    ];
    let text = prop_oneof![
        ".{0,40}",
        (valid, any::<usize>(), any::<u8>()).prop_map(|(v, at, b)| {
            let mut bytes = v.into_bytes();
            let i = at % bytes.len();
            bytes[i] = b;
            String::from_utf8_lossy(&bytes).into_owned()
        }),
        prop::collection::btree_map(".{0,12}", ".{0,16}", 0..4)
            .prop_map(|m| serde_json::to_string(&m).unwrap()),
    ];
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(text, 0u32..4), |(text, shards)| {
            if let Ok(map) = operator::parse_peers(&text, shards) {
                prop_assert_eq!(map.len(), shards as usize);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn peers_files_parse() {
    let m = operator::parse_peers(r#"{"0":"10.0.0.1","1":"fd00::2"}"#, 2).unwrap();
    assert_eq!(m[&1].to_string(), "fd00::2");
    for (bad, why) in [
        (r#"{"0":"10.0.0.1"}"#, "no address for shard 1"),
        (r#"{"0":"10.0.0.1","1":"x"}"#, "invalid IP address syntax"),
        (
            r#"{"0":"10.0.0.1","one":"10.0.0.2"}"#,
            "`one` is not a shard number",
        ),
        (
            r#"{"0":"10.0.0.1","1":"10.0.0.2","2":"10.0.0.3"}"#,
            "shard 2, but the lab has 2",
        ),
        ("[", "expected a map"),
    ] {
        let e = operator::parse_peers(bad, 2).unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
    }
}
