//! The goal of the routes, checked without root: in every example topology every host
//! reaches every other host's addresses, over IPv4 and IPv6, hosts never forwarding.
//! (tests/plan_script.rs checks the same on a real lab when run as root.)

mod common;

use common::builder::TopoBuilder;
use common::{sim, topologies};
use topolab::compile::compile;
use topolab::topology::Topology;

fn assert_full_reach(t: Topology) {
    let plan = compile(&t, "reach").unwrap_or_else(|e| panic!("{}", e.one_line()));
    let failures = sim::all_hosts_reach_each_other(&plan);
    assert!(failures.is_empty(), "{}: {failures:#?}", t.name);
}

#[test]
fn every_example_topology_is_fully_reachable() {
    for t in [
        topologies::lan(),
        topologies::chain(),
        topologies::ring(),
        topologies::quickstart(),
        topologies::explicit(),
        topologies::campus(),
        topologies::line6(),
    ] {
        assert_full_reach(t);
    }
}

#[test]
fn paths_are_shortest_and_stay_off_hosts() {
    let plan = compile(&topologies::campus(), "p").unwrap();
    let idx = |n: &str| plan.nodes.iter().position(|x| x.name == n).unwrap();
    let addr = |n: &str| plan.node(n).unwrap().ifaces[0].addrs[0].addr();
    // ha (LAN of r1) to hc (LAN of r3): one router hop on the triangle, not via `multi`.
    let path = sim::deliver(&plan, idx("ha"), addr("hc")).unwrap();
    assert_eq!(path, ["ha", "r1", "r3", "hc"]);
    let path = sim::deliver(&plan, idx("stub"), addr("hb2")).unwrap();
    assert_eq!(path, ["stub", "r3", "r2", "hb2"]);
}

#[test]
fn a_host_between_two_routers_does_not_join_them() {
    // h1 – r1 – mid – r2 – h2: `mid` is a host, so h1 and h2 stay apart.
    let t = TopoBuilder::new("split")
        .host("h1")
        .router("r1")
        .host("mid")
        .router("r2")
        .host("h2")
        .link("h1", "r1")
        .link("r1", "mid")
        .link("mid", "r2")
        .link("r2", "h2")
        .build();
    let plan = compile(&t, "s").unwrap();
    let h2 = plan.node("h2").unwrap().ifaces[0].addrs[0].addr();
    assert!(sim::deliver(&plan, 0, h2).is_err());
    let mid = plan.node("mid").unwrap().ifaces[0].addrs[0].addr();
    assert_eq!(sim::deliver(&plan, 0, mid).unwrap(), ["h1", "r1", "mid"]);
}
