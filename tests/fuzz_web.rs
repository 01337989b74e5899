//! Fuzzing what the web view takes from outside: request bodies of link actions (JSON,
//! then the checks `topolab link … set` applies), Origin and Host headers, and daemon
//! answers folded into a tick (BGP summaries, OpenFlow switch lists of any shape). None of
//! it may panic; the page's embedded graph always reads back as sent, whatever the names.
//! `TOPOLAB_FUZZ_CASES` runs longer locally, as in tests/fuzz.rs.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

use topolab::compile::compile;
use topolab::topology::Topology;
use topolab::web::model::{Counters, Graph, TickInput, tick};
use topolab::web::server::{LinkRequest, host_is_address, link_action_of, origin_matches, page};

fn cases() -> u32 {
    std::env::var("TOPOLAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn link_request_bodies_never_panic() {
    let word = prop_oneof![
        "[a-z_.]{0,12}=[0-9a-z%.]{0,8}",
        "\\PC{0,20}",
        Just("delay=20ms".to_string()),
        Just("a_to_b.loss=1%".to_string()),
    ];
    let body = (
        prop_oneof![Just("down"), Just("up"), Just("set"), Just("x")],
        prop::collection::vec(word, 0..40),
    );
    runner()
        .run(&body, |(action, set)| {
            let r = LinkRequest {
                action: action.to_string(),
                set,
            };
            let _ = link_action_of(&r);
            Ok(())
        })
        .unwrap();
    runner()
        .run(&prop::collection::vec(any::<u8>(), 0..200), |bytes| {
            if let Ok(r) = serde_json::from_slice::<LinkRequest>(&bytes) {
                let _ = link_action_of(&r);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn origin_checks_never_panic_and_need_the_same_host() {
    let s = prop::option::of("\\PC{0,30}");
    runner()
        .run(&(s.clone(), s), |(o, h)| {
            let ok = origin_matches(o.as_deref(), h.as_deref());
            if let Some(h) = &h
                && host_is_address(h, 8080)
            {
                prop_assert!(h.ends_with(":8080"), "{h}");
                prop_assert!(
                    !h.chars()
                        .any(|c| c.is_ascii_alphabetic() && !"localhostabcdefABCDEF".contains(c)),
                    "{h}"
                );
            }
            if let (Some(o), true) = (&o, ok) {
                prop_assert_eq!(Some(o.trim_start_matches("http://")), h.as_deref());
            }
            Ok(())
        })
        .unwrap();
}

/// A JSON value of any shape, small.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::String),
        Just(Value::String("10.0.0.1".into())),
        Just(Value::String("established".into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("neighbors".to_string()),
                        Just("address".to_string()),
                        Just("state".to_string()),
                        Just("peer".to_string()),
                        "[a-z]{1,6}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

#[test]
fn daemon_answers_of_any_shape_make_a_tick() {
    let plan = compile(&Topology::quickstart(), "fuzzweb").unwrap();
    let answers = || prop::collection::vec(("[a-z0-9]{1,4}".prop_map(String::from), json()), 0..4);
    runner()
        .run(&(answers(), answers()), |(bgp, of)| {
            let now: Counters = Vec::new();
            let t = tick(
                &plan,
                TickInput {
                    t: 0.0,
                    dt: 1.0,
                    prev: None,
                    now: &now,
                    links: None,
                    services: &[],
                    bgp: &bgp,
                    openflow: &of,
                    errors: Vec::new(),
                },
            );
            prop_assert_eq!(t.links.len(), plan.links.len());
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_embedded_graph_reads_back_whatever_the_names() {
    let plan = compile(&Topology::quickstart(), "fuzzweb").unwrap();
    let base = Graph::from_plan(&plan, 1000);
    runner()
        .run(&("\\PC{0,40}", "\\PC{0,20}"), |(lab, node)| {
            let mut g = base.clone();
            g.lab = lab;
            g.nodes[0].name = node;
            let html = page(&g);
            let start = html.find("application/json\">").unwrap() + "application/json\">".len();
            let end = start + html[start..].find("</script>").unwrap();
            let back: Graph = serde_json::from_str(&html[start..end]).unwrap();
            prop_assert_eq!(back, g);
            Ok(())
        })
        .unwrap();
}
