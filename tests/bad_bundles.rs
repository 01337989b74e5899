//! Bad bundles and peers files (issue 13): `topolab agent` refuses each with a message that
//! says what is wrong — for a JSON error, the line and column — and makes nothing.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;

use common::shards::split;
use topolab::compile::compile;
use topolab::compile::shard::ShardedPlan;
use topolab::compile::shard_split::{parse_bundle, parse_peers, shard_subplan};
use topolab::topology::Topology;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn bundle() -> ShardedPlan {
    let t = Topology::load(common::repo_path("topologies/quickstart.yaml")).unwrap();
    let plan = compile(&t, "bb").unwrap();
    split(
        &plan,
        &[("h1", 0), ("h2", 1)],
        &[ip("10.9.0.1"), ip("10.9.0.2")],
        9000,
    )
}

/// (text, what the message says, where).
const BAD_JSON: &[(&str, &str, &str)] = &[
    ("", "EOF while parsing", "line 1, column 0"),
    (
        "{\"version\": 1,\n  \"shards\": ",
        "EOF while parsing",
        "line 2, column 12",
    ),
    (
        "{\n  \"version\": \"one\"\n}",
        "invalid type: string \"one\"",
        "line 2, column 18",
    ),
    (
        "[1, 2]",
        "invalid type: integer `2`, expected struct ShardPlan",
        "line 1, column 5",
    ),
    (
        "{\"version\": 1}\n",
        "missing field `shards`",
        "line 1, column 14",
    ),
];

#[test]
fn json_errors_say_line_and_column() {
    for (text, what, at) in BAD_JSON {
        let e = parse_bundle(text).expect_err(text).to_string();
        assert!(e.contains(what), "{text:?}: {e}");
        assert!(e.starts_with(at), "{text:?}: {e} (want {at})");
    }
}

#[test]
fn peers_errors_say_line_and_column() {
    let cases = [
        (
            "{\"0\": \"10.0.0.300\"}",
            "invalid IP address syntax",
            "line 1, column 18",
        ),
        (
            "{\n\"zero\": \"10.0.0.1\"}",
            "expected key to be a number",
            "line 2, column 1",
        ),
        (
            "{\"0\": 7}",
            "invalid type: integer `7`",
            "line 1, column 7",
        ),
    ];
    for (text, what, at) in cases {
        let e = parse_peers(text).expect_err(text).to_string();
        assert!(e.contains(what), "{text:?}: {e}");
        assert!(e.starts_with(at), "{text:?}: {e} (want {at})");
    }
    let ok = parse_peers("{\"1\": \"fd00::2\"}").unwrap();
    assert_eq!(ok, BTreeMap::from([(1, ip("fd00::2"))]));
}

#[test]
fn a_bundle_that_parses_but_does_not_fit_is_refused_with_the_reason() {
    let none = BTreeMap::new();
    type Breaks = Box<dyn Fn(&mut ShardedPlan)>;
    let cases: Vec<(Breaks, u32, &str)> = vec![
        (
            Box::new(|_| {}),
            2,
            "shard 2 does not exist: the bundle has 2 shard(s)",
        ),
        (Box::new(|b| b.version = 9), 0, "bundle format version 9"),
        (
            Box::new(|b| b.shards.lab = "other".into()),
            0,
            "the split is for lab `other`",
        ),
        (
            Box::new(|b| {
                b.shards.assign.remove("h2");
            }),
            0,
            "node `h2` is on no shard",
        ),
        (
            Box::new(|b| b.plan.links[0].a.node = 99),
            0,
            "the plan is inconsistent: link 0",
        ),
        (
            Box::new(|b| b.plan.nodes[0].ifaces[0].peer.iface = 7),
            0,
            "the plan is inconsistent",
        ),
        (
            Box::new(|b| b.shards.cross.clear()),
            0,
            "not listed as cross-shard",
        ),
    ];
    for (break_it, k, want) in cases {
        let mut b = bundle();
        break_it(&mut b);
        let e = shard_subplan(&b, k, &none).expect_err(want).to_string();
        assert!(e.contains(want), "{e} (want {want})");
    }
}

/// The command: a bad bundle fails before anything is made, and says where.
#[test]
fn agent_refuses_a_bad_bundle_with_its_location() {
    let dir = std::env::temp_dir().join(format!("topolab-bad-bundle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bundle.json");
    std::fs::write(&f, "{\n  \"version\": \"one\"\n}").unwrap();
    let out = common::topolab()
        .args(["agent", "--shard", "0", "--plan"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2, column 18"), "{err}");
    assert!(out.stdout.is_empty(), "no ready line");
    let good = serde_json::to_string(&bundle()).unwrap();
    std::fs::write(&f, good).unwrap();
    let out = common::topolab()
        .args(["agent", "--shard", "5", "--plan"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("shard 5 does not exist"), "{err}");
    // --listen without the lab's secret: refused before anything is made.
    let out = common::topolab()
        .args(["agent", "--shard", "0", "--listen", "127.0.0.1:0", "--plan"])
        .arg(&f)
        .env_remove("TOPOLAB_LAB_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--listen needs the lab's secret"), "{err}");
    assert!(out.stdout.is_empty(), "no ready line");
    std::fs::remove_dir_all(&dir).unwrap();
}
