//! Fuzzing the operator's outside input in `cargo test` (issue 13): a Lab's
//! `spec.topology` (mutated example topologies) goes through [`operator::bundle`] and the
//! status it yields — a bundle or a `Failed` status with a message, never a panic; and
//! `peers.json` texts go through [`operator::parse_peers`]; pods in any state (as the API
//! server lists them) go through the status the operator derives from them.
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
            "expected key to be a number",
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

/// A pod as the API server might list it: any shard label, owner, phase, IP, readiness
/// and container states.
fn pod() -> impl Strategy<Value = serde_json::Value> {
    let label = prop_oneof![
        (0u32..4).prop_map(|k| k.to_string()),
        Just("x".to_string()),
        Just("-1".to_string()),
        Just("4294967296".to_string()),
    ];
    let phase = prop::option::of(prop_oneof![
        Just("Pending"),
        Just("Running"),
        Just("Succeeded"),
        Just("Failed"),
        Just("Unknown"),
        Just(""),
    ]);
    let ip = prop::option::of(prop_oneof![
        Just("10.0.0.1"),
        Just(""),
        Just("fd00::1"),
        Just("not-an-ip"),
    ]);
    let text = prop::option::of(".{0,12}");
    (
        label,
        any::<bool>(),
        phase,
        ip,
        any::<bool>(),
        text.clone(),
        prop::option::of(any::<i32>()),
        text,
    )
        .prop_map(|(label, owned, phase, ip, ready, msg, exit, reason)| {
            let uid = if owned { "uid-lab" } else { "uid-other" };
            let mut state = serde_json::json!({});
            if let Some(code) = exit {
                state = serde_json::json!({"terminated": {"exitCode": code, "reason": reason}});
            } else if let Some(r) = &reason {
                state = serde_json::json!({"waiting": {"reason": r, "message": msg}});
            }
            serde_json::json!({
                "metadata": {
                    "name": format!("fuzz-shard-{label}"),
                    "labels": {"topolab.io/lab": "fuzz", "topolab.io/shard": label},
                    "ownerReferences": [{"apiVersion": "topolab.io/v1alpha1", "kind": "Lab",
                                         "name": "fuzz", "uid": uid}],
                },
                "status": {
                    "phase": phase,
                    "podIP": ip,
                    "message": msg,
                    "conditions": [
                        {"type": "Ready", "status": if ready { "True" } else { "False" }},
                        {"type": "PodScheduled", "status": "False", "reason": reason},
                    ],
                    "containerStatuses": [{"name": "agent", "image": "i", "imageID": "",
                        "ready": ready, "restartCount": 0, "state": state}],
                },
            })
        })
}

#[test]
fn pods_in_any_state_never_panic() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &(prop::collection::vec(pod(), 0..6), any::<bool>()),
            |(pods, published)| {
                let mut l = lab("nodes: {h1: {}}\n", 3);
                l.metadata.uid = Some("uid-lab".into());
                let pods: Vec<k8s_openapi::api::core::v1::Pod> = pods
                    .into_iter()
                    .map(|p| serde_json::from_value(p).unwrap())
                    .collect();
                let by_shard = operator::shard_pods(&l, &pods);
                prop_assert!(by_shard.keys().all(|k| *k < 3));
                let now = k8s_openapi::jiff::Timestamp::UNIX_EPOCH;
                let st = operator::status(&l, None, &by_shard, published, now);
                prop_assert_eq!(st.shards.len(), 3);
                if st.phase == Some(Phase::Running) {
                    prop_assert!(st.shards.iter().all(|s| s.ready && s.ip.is_some()));
                }
                if let Some(p) = operator::peers(3, &by_shard) {
                    prop_assert!(operator::parse_peers(&p, 3).is_ok());
                }
                Ok(())
            },
        )
        .unwrap();
}
