//! Routing rules: chains in both families, host default collapse, hosts never transit,
//! ties, unreachable prefixes.

use super::super::Plan;
use super::super::tests::compile_ok;
use crate::compile::testutil::TopoBuilder;

/// `dst via VIA dev IFNAME` lines of one node, in plan order.
fn routes(plan: &Plan, node: &str) -> Vec<String> {
    let n = plan.node(node).unwrap();
    n.routes
        .iter()
        .map(|r| {
            let dev = &n.ifaces.iter().find(|i| i.ifindex == r.dev).unwrap().name;
            format!("{} via {} dev {dev}", r.dst, r.via)
        })
        .collect()
}

/// h1 – s1 – r1 – r2 – r3 – s2 – h2
fn chain() -> Plan {
    let t = TopoBuilder::new("chain")
        .host("h1")
        .switch("s1")
        .router("r1")
        .router("r2")
        .router("r3")
        .switch("s2")
        .host("h2")
        .link("h1", "s1")
        .link("r1", "s1")
        .link("r1", "r2")
        .link("r2", "r3")
        .link("r3", "s2")
        .link("h2", "s2")
        .build();
    compile_ok(&t, "c")
}

#[test]
fn chain_of_routers_routes_every_prefix_both_families() {
    let p = chain();
    // s1 LAN 10.0.0.0/24 (r1 .1, h1 .2), s2 LAN 10.0.1.0/24 (r3 .1, h2 .2),
    // r1–r2 10.255.0.0/30, r2–r3 10.255.0.4/30.
    assert_eq!(
        routes(&p, "r1"),
        [
            "10.0.1.0/24 via 10.255.0.2 dev eth1",
            "10.255.0.4/30 via 10.255.0.2 dev eth1",
            "192.168.255.2/32 via 10.255.0.2 dev eth1",
            "192.168.255.3/32 via 10.255.0.2 dev eth1",
            "fd00:0:1:1::/64 via fd00:0:2::2 dev eth1",
            "fd00:0:2:1::/64 via fd00:0:2::2 dev eth1",
            "fd00:0:ff::2/128 via fd00:0:2::2 dev eth1",
            "fd00:0:ff::3/128 via fd00:0:2::2 dev eth1",
        ]
    );
    assert_eq!(
        routes(&p, "r2"),
        [
            "10.0.0.0/24 via 10.255.0.1 dev eth0",
            "10.0.1.0/24 via 10.255.0.6 dev eth1",
            "192.168.255.1/32 via 10.255.0.1 dev eth0",
            "192.168.255.3/32 via 10.255.0.6 dev eth1",
            "fd00:0:1::/64 via fd00:0:2::1 dev eth0",
            "fd00:0:1:1::/64 via fd00:0:2:1::2 dev eth1",
            "fd00:0:ff::1/128 via fd00:0:2::1 dev eth0",
            "fd00:0:ff::3/128 via fd00:0:2:1::2 dev eth1",
        ]
    );
    assert_eq!(
        routes(&p, "h1"),
        [
            "0.0.0.0/0 via 10.0.0.1 dev eth0",
            "::/0 via fd00:0:1::1 dev eth0"
        ]
    );
    assert_eq!(
        routes(&p, "h2"),
        [
            "0.0.0.0/0 via 10.0.1.1 dev eth0",
            "::/0 via fd00:0:1:1::1 dev eth0"
        ]
    );
    assert!(routes(&p, "s1").is_empty());
}

#[test]
fn ipv4_only_lab_has_ipv4_routes_only() {
    let t = TopoBuilder::new("v4")
        .ipv6(false)
        .host("h1")
        .router("r1")
        .router("r2")
        .host("h2")
        .link("h1", "r1")
        .link("r1", "r2")
        .link("r2", "h2")
        .build();
    let p = compile_ok(&t, "v4");
    assert_eq!(routes(&p, "h1"), ["0.0.0.0/0 via 10.255.0.2 dev eth0"]);
    assert_eq!(
        routes(&p, "r1"),
        [
            "10.255.0.8/30 via 10.255.0.6 dev eth1",
            "192.168.255.2/32 via 10.255.0.6 dev eth1"
        ]
    );
}

#[test]
fn multihomed_host_defaults_to_the_busiest_next_hop_plus_exceptions() {
    // h1 sits on LAN s1 (with r1, which leads on to r3) and LAN s2 (with r2, a dead end).
    let t = TopoBuilder::new("mh")
        .ipv6(false)
        .host("h1")
        .switch("s1")
        .switch("s2")
        .router("r1")
        .router("r2")
        .router("r3")
        .link("h1", "s1")
        .link("h1", "s2")
        .link("r1", "s1")
        .link("r2", "s2")
        .link("r1", "r3")
        .build();
    let p = compile_ok(&t, "mh");
    assert_eq!(
        routes(&p, "h1"),
        [
            "0.0.0.0/0 via 10.0.0.1 dev eth0",
            "192.168.255.2/32 via 10.0.1.1 dev eth1"
        ]
    );
}

#[test]
fn default_next_hop_tie_goes_to_the_lowest_node_index() {
    // One prefix behind each router: counts tie, r1 (lower index) wins.
    let t = TopoBuilder::new("tie")
        .ipv6(false)
        .host("h1")
        .router("r2")
        .router("r1")
        .link("h1", "r1")
        .link("h1", "r2")
        .build();
    let p = compile_ok(&t, "tie");
    // Node order: r2 is node 1, r1 node 2.
    assert_eq!(
        routes(&p, "h1"),
        [
            "0.0.0.0/0 via 10.255.0.6 dev eth1",
            "192.168.255.2/32 via 10.255.0.2 dev eth0"
        ]
    );
}

#[test]
fn hosts_never_transit() {
    // r1 – h1 – r2: both routers reach h1, but never each other through it.
    let t = TopoBuilder::new("nt")
        .ipv6(false)
        .router("r1")
        .host("h1")
        .router("r2")
        .link("r1", "h1")
        .link("h1", "r2")
        .build();
    let p = compile_ok(&t, "nt");
    assert!(routes(&p, "r1").is_empty(), "{:?}", routes(&p, "r1"));
    assert!(routes(&p, "r2").is_empty());
    assert_eq!(
        routes(&p, "h1"),
        [
            "0.0.0.0/0 via 10.255.0.1 dev eth0",
            "192.168.255.2/32 via 10.255.0.6 dev eth1"
        ]
    );
}

#[test]
fn equal_cost_paths_pick_the_lowest_node_index_first_hop() {
    // Diamond r1 → {r3, r2} → r4; node order r1, r3, r2, r4 so r3 is the lower index.
    let t = TopoBuilder::new("dia")
        .ipv6(false)
        .router("r1")
        .router("r3")
        .router("r2")
        .router("r4")
        .link("r1", "r2")
        .link("r1", "r3")
        .link("r2", "r4")
        .link("r3", "r4")
        .build();
    let p = compile_ok(&t, "dia");
    let r1 = routes(&p, "r1");
    let to_r4 = r1
        .iter()
        .find(|r| r.starts_with("192.168.255.4/32"))
        .unwrap();
    // r1–r3 is link 1: 10.255.0.4/30, r3 is its b end (.6), r1's eth1.
    assert_eq!(to_r4, "192.168.255.4/32 via 10.255.0.6 dev eth1");
}

#[test]
fn hosts_without_router_neighbours_and_unreachable_prefixes_get_no_routes() {
    let t = TopoBuilder::new("iso")
        .host("h1")
        .host("h2")
        .switch("s1")
        .router("r1")
        .router("r2")
        .link("h1", "s1")
        .link("h2", "s1")
        .link("r1", "r2")
        .build();
    let p = compile_ok(&t, "iso");
    assert!(routes(&p, "h1").is_empty());
    // r1 and r2 see each other's loopbacks but not the hosts' LAN (no router on it).
    assert_eq!(
        routes(&p, "r1"),
        [
            "192.168.255.2/32 via 10.255.0.2 dev eth0",
            "fd00:0:ff::2/128 via fd00:0:2::2 dev eth0"
        ]
    );
}

#[test]
fn routes_on_a_lan_with_two_routers_use_the_nearest_one() {
    // h1 – s1 – {r1, r2}; r2 – r3. The host's default goes to r2 (3 prefixes behind it:
    // r2's loopback, r2–r3, r3's loopback) over r1 (its loopback only).
    let t = TopoBuilder::new("two")
        .ipv6(false)
        .host("h1")
        .switch("s1")
        .router("r1")
        .router("r2")
        .router("r3")
        .link("h1", "s1")
        .link("r1", "s1")
        .link("r2", "s1")
        .link("r2", "r3")
        .build();
    let p = compile_ok(&t, "two");
    assert_eq!(
        routes(&p, "h1"),
        [
            "0.0.0.0/0 via 10.0.0.2 dev eth0",
            "192.168.255.1/32 via 10.0.0.1 dev eth0"
        ]
    );
    assert_eq!(
        routes(&p, "r1"),
        [
            "10.255.0.0/30 via 10.0.0.2 dev eth0",
            "192.168.255.2/32 via 10.0.0.2 dev eth0",
            "192.168.255.3/32 via 10.0.0.2 dev eth0"
        ]
    );
}
