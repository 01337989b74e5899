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
