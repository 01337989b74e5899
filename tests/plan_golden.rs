//! Golden tests: `Plan::to_ip_commands()` (and the drawings) of the example topologies,
//! compared byte for byte with `tests/golden/*`.
//!
//! Snapshots are regenerated only on purpose: `TOPOLAB_BLESS=1 cargo test --test
//! plan_golden`, then review the diff. Never edit them by hand.

mod common;

use std::path::PathBuf;

use common::{golden, topologies};
use topolab::compile::{compile, graph};
use topolab::topology::Topology;

fn plan(name: &str, t: Topology) {
    let plan = compile(&t, name).unwrap_or_else(|e| panic!("{}", e.one_line()));
    golden(&format!("{name}.plan"), &plan.to_ip_commands());
}

#[test]
fn lan() {
    plan("lan", topologies::lan());
}

#[test]
fn chain() {
    plan("chain", topologies::chain());
}

/// Mininet's TorusTopo (`topologies/torus.yaml`): the generator's names and order, and
/// the links compile blocks to cut the torus's loops.
#[test]
fn torus() {
    let path = common::repo_path("topologies/torus.yaml");
    plan(
        "torus",
        Topology::load(&path).unwrap_or_else(|e| panic!("{}", e.one_line())),
    );
}

/// `topolab import`'s output for the foreign samples and a Mininet string: what a user
/// keeps and edits, so its shape changes only on purpose.
#[test]
fn imports() {
    use topolab::topology::import::{self, Format, Options};
    use topolab::topology::{Limits, Source};
    for (file, hosts, out) in [
        ("topologies/pair.clab.yml", false, "pair.import.yaml"),
        ("topologies/abilene.graphml", true, "abilene.import.yaml"),
        (
            "topologies/geant-core.graphml",
            false,
            "geant-core.import.yaml",
        ),
    ] {
        let path = common::repo_path(file);
        let source = Source::read(&path).unwrap();
        let format = Format::detect(&path).unwrap();
        let imported = import::import(
            &source,
            format,
            Options { hosts },
            path.parent(),
            Limits::default(),
        )
        .unwrap_or_else(|e| panic!("{}", e.one_line()));
        golden(out, &imported.yaml);
    }
    let source = Source {
        name: "`torus,3,3`".into(),
        text: "torus,3,3".into(),
    };
    let imported = import::import(
        &source,
        Format::Mininet,
        Options::default(),
        None,
        Limits::default(),
    )
    .unwrap();
    golden("torus.import.yaml", &imported.yaml);
}

#[test]
fn ring() {
    plan("ring", topologies::ring());
}

#[test]
fn quickstart() {
    plan("quickstart", topologies::quickstart());
}

#[test]
fn explicit() {
    plan("explicit", topologies::explicit());
}

#[test]
fn drawings() {
    let t = topologies::explicit();
    golden("explicit.dot", &graph::to_dot(&t));
    golden("explicit.mmd", &graph::to_mermaid(&t));
    let t = topologies::ring();
    golden("ring.dot", &graph::to_dot(&t));
    golden("ring.mmd", &graph::to_mermaid(&t));
}

/// `topologies/services.yaml`: every issue-9 key (services, limits, routes mode, private
/// dirs, files, management network with a host end).
#[test]
fn services() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("topologies/services.yaml");
    let t = Topology::load(&path).unwrap_or_else(|e| panic!("{}", e.one_line()));
    plan("services", t);
}

/// `topologies/openflow.yaml`: OpenFlow switches and a controller (no bridges on the
/// switches, IPv6 off on their ports, the management network on by itself, built-in
/// daemons), and the compiled configs the daemons get.
#[test]
fn openflow() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("topologies/openflow.yaml");
    let t = Topology::load(&path).unwrap_or_else(|e| panic!("{}", e.one_line()));
    let p = compile(&t, "openflow").unwrap_or_else(|e| panic!("{}", e.one_line()));
    let configs: Vec<_> = p
        .nodes
        .iter()
        .filter_map(|n| n.openflow.as_ref().map(|of| (&n.name, of)))
        .collect();
    let mut json = serde_json::to_string_pretty(&configs).unwrap();
    json.push('\n');
    golden("openflow.json", &json);
    plan("openflow", t);
}

/// `topologies/bgp.yaml`: three ASes with `neighbors: auto` (eBGP over links, iBGP over
/// loopbacks), BGP routers routed only inside their AS, and the speakers' compiled configs.
#[test]
fn bgp() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("topologies/bgp.yaml");
    let t = Topology::load(&path).unwrap_or_else(|e| panic!("{}", e.one_line()));
    let p = compile(&t, "bgp").unwrap_or_else(|e| panic!("{}", e.one_line()));
    let configs: Vec<_> = p
        .nodes
        .iter()
        .filter_map(|n| n.bgp.as_ref().map(|b| (&n.name, b)))
        .collect();
    let mut json = serde_json::to_string_pretty(&configs).unwrap();
    json.push('\n');
    golden("bgp.json", &json);
    plan("bgp", t);
}

// ---- the shard planner (issue 13) ----------------------------------------------------------

use topolab::compile::shard::{self, Machine, ShardPlan};

fn shard_lab(pin_h6: u32) -> Topology {
    let path = common::repo_path("tests/data/shard-lab.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace("h6: 2", &format!("h6: {pin_h6}"));
    Topology::from_str(&text, "shard-lab.yaml").unwrap_or_else(|e| panic!("{}", e.one_line()))
}

fn split(t: &Topology, lab: &str, machines: &[Machine]) -> ShardPlan {
    shard::plan_shards(t, lab, machines)
        .unwrap_or_else(|e| panic!("{e}"))
        .shards
}

fn golden_split(name: &str, s: &ShardPlan) {
    let mut json = serde_json::to_string_pretty(s).unwrap();
    json.push('\n');
    golden(name, &json);
}

/// `tests/data/shard-lab.yaml` over 2 and 3 shards: pins hold, METIS keeps each site
/// (switch, its hosts, its router) together and cuts the cheapest links (by rate).
#[test]
fn shards_small_lab_two_and_three_ways_with_pins() {
    let t = shard_lab(1);
    let two = split(&t, "split", &shard::default_machines(2, 9000).unwrap());
    assert_eq!((two.assign["h1"], two.assign["h6"]), (0, 1));
    assert_eq!(two.method, "metis");
    golden_split("shards-2.json", &two);

    let t = shard_lab(2);
    let three = split(&t, "split", &shard::default_machines(3, 9000).unwrap());
    assert_eq!((three.assign["h1"], three.assign["h6"]), (0, 2));
    for site in [
        ["h1", "h2", "s1", "r1"],
        ["h3", "h4", "s2", "r2"],
        ["h5", "h6", "s3", "r3"],
    ] {
        let shards: std::collections::BTreeSet<u32> =
            site.iter().map(|n| three.assign[*n]).collect();
        assert_eq!(shards.len(), 1, "{site:?} split: {:?}", three.assign);
    }
    // Only the three router-to-router links cross: 100 + 10 + 1000 Mbit/s.
    assert_eq!(three.cut_weight, 1110);
    golden_split("shards-3.json", &three);
}

/// A fattree k=4 over 4 shards: a pod per shard cuts 12 of the 16 core links (each core
/// switch goes with one pod); METIS must stay near that, far from a random split (≈ 36 of
/// 48 links).
#[test]
fn shards_fattree() {
    let t = Topology::load(common::repo_path("topologies/fattree.yaml"))
        .unwrap_or_else(|e| panic!("{}", e.one_line()));
    let s = split(&t, "fattree", &shard::default_machines(4, 9000).unwrap());
    assert!(s.cross.len() <= 16, "{} cross links", s.cross.len());
    let mut sizes = [0; 4];
    s.assign.values().for_each(|&k| sizes[k as usize] += 1);
    assert_eq!(sizes, [9, 9, 9, 9]);
    golden_split("shards-fattree.json", &s);
}

/// Same input, same split (METIS is seeded), for every shard count.
#[test]
fn shards_are_deterministic() {
    let t = Topology::from_str("name: ft8\ngenerate:\n  - fattree: {k: 8}\n", "ft8.yaml").unwrap();
    for n in [2, 3, 5] {
        let m = shard::default_machines(n, 9000).unwrap();
        let first = split(&t, "ft8", &m);
        for _ in 0..3 {
            assert_eq!(split(&t, "ft8", &m), first);
        }
    }
}

/// One shard: everything on it, method `single`, nothing crosses.
#[test]
fn shards_one_is_single() {
    let s = split(
        &shard_lab(0),
        "split",
        &shard::default_machines(1, 1500).unwrap(),
    );
    assert_eq!(s.method, "single");
    assert!(s.cross.is_empty() && s.assign.values().all(|&k| k == 0));
}

/// The MTU refusal names the link, both MTUs and what VXLAN needs.
#[test]
fn shards_mtu_refusal_text() {
    let t = shard_lab(1);
    let e = shard::plan_shards(&t, "split", &shard::default_machines(2, 1500).unwrap())
        .expect_err("1500-byte links over a 1500-byte underlay");
    assert_eq!(
        e.to_string(),
        "link r2 — r3 has MTU 1500, but the underlay of machine `m0` has MTU 1500: VXLAN \
         needs 1550 (link MTU + 50)"
    );
    // 1550 is enough.
    shard::plan_shards(&t, "split", &shard::default_machines(2, 1550).unwrap()).unwrap();
}

/// Machine weights size the shards: a machine of weight 3 gets about three times the
/// nodes of one of weight 1.
#[test]
fn shards_follow_machine_weights() {
    let t = Topology::from_str("name: ft8\ngenerate:\n  - fattree: {k: 8}\n", "ft8.yaml").unwrap();
    let mut m = shard::default_machines(2, 9000).unwrap();
    m[1].weight = 3;
    let s = split(&t, "ft8", &m);
    let on0 = s.assign.values().filter(|&&k| k == 0).count();
    // 208 nodes: a quarter is 52 (METIS may go 3 % over).
    assert!((48..=54).contains(&on0), "{on0} nodes on the light machine");
}
