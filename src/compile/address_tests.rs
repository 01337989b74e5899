//! Addressing rules, one test each: pools, sizes, order, explicit precedence, errors.

use super::super::tests::compile_ok;
use super::super::{Plan, compile};
use crate::compile::testutil::TopoBuilder;
use crate::topology::{ErrorKind, Topology};

fn addrs(plan: &Plan, node: &str) -> Vec<String> {
    let n = plan.node(node).unwrap();
    n.ifaces
        .iter()
        .flat_map(|i| i.addrs.iter().map(|a| a.to_string()))
        .collect()
}

fn lo(plan: &Plan, node: &str) -> Vec<String> {
    plan.node(node)
        .unwrap()
        .loopback
        .iter()
        .map(|a| a.to_string())
        .collect()
}

fn err(t: &Topology) -> crate::topology::TopologyError {
    compile(t, "e").expect_err("compile should fail")
}

#[test]
fn lan_routers_first_then_hosts_in_link_order() {
    let t = TopoBuilder::new("a")
        .host("h1")
        .host("h2")
        .router("r1")
        .switch("s1")
        .link("h2", "s1")
        .link("s1", "h1")
        .link("r1", "s1")
        .build();
    let p = compile_ok(&t, "a");
    assert_eq!(addrs(&p, "r1"), ["10.0.0.1/24", "fd00:0:1::1/64"]);
    assert_eq!(addrs(&p, "h2"), ["10.0.0.2/24", "fd00:0:1::2/64"]);
    assert_eq!(addrs(&p, "h1"), ["10.0.0.3/24", "fd00:0:1::3/64"]);
    assert!(addrs(&p, "s1").is_empty());
    assert_eq!(lo(&p, "r1"), ["192.168.255.1/32", "fd00:0:ff::1/128"]);
    assert!(lo(&p, "h1").is_empty());
}

#[test]
fn lans_are_ordered_by_their_first_switch_not_by_links() {
    let t = TopoBuilder::new("a")
        .switch("s1")
        .switch("s2")
        .host("h1")
        .host("h2")
        .link("h2", "s2")
        .link("h1", "s1")
        .build();
    let p = compile_ok(&t, "a");
    assert_eq!(addrs(&p, "h1")[0], "10.0.0.1/24");
    assert_eq!(addrs(&p, "h2")[0], "10.0.1.1/24");
}

#[test]
fn a_lan_bigger_than_a_slash_24_gets_an_aligned_larger_subnet() {
    let mut b = TopoBuilder::new("big").switch("s0").switch("s1").host("x");
    for i in 0..300 {
        b = b.host(&format!("h{i}"));
    }
    b = b.link("x", "s0");
    for i in 0..300 {
        b = b.link(&format!("h{i}"), "s1");
    }
    let p = compile_ok(&b.build(), "big");
    assert_eq!(addrs(&p, "x")[0], "10.0.0.1/24");
    // 300 hosts + network + broadcast → /23, aligned after 10.0.0.0/24.
    assert_eq!(addrs(&p, "h0")[0], "10.0.2.1/23");
    assert_eq!(addrs(&p, "h299")[0], "10.0.3.44/23");
    assert_eq!(addrs(&p, "h299")[1], "fd00:0:1:1::12c/64");
}

#[test]
fn point_to_point_links_take_a_then_b_from_p2p_pools() {
    let t = TopoBuilder::new("p")
        .host("h1")
        .router("r1")
        .router("r2")
        .link("h1", "r1")
        .link("r1", "r2")
        .build();
    let p = compile_ok(&t, "p");
    assert_eq!(addrs(&p, "h1"), ["10.255.0.1/30", "fd00:0:2::1/64"]);
    assert_eq!(
        addrs(&p, "r1"),
        [
            "10.255.0.2/30",
            "fd00:0:2::2/64",
            "10.255.0.5/30",
            "fd00:0:2:1::1/64"
        ]
    );
    assert_eq!(addrs(&p, "r2"), ["10.255.0.6/30", "fd00:0:2:1::2/64"]);
    assert_eq!(lo(&p, "r2"), ["192.168.255.2/32", "fd00:0:ff::2/128"]);
}

#[test]
fn explicit_loopbacks_win_and_are_skipped_by_the_pool() {
    let t = TopoBuilder::new("l")
        .router("r1")
        .router("r2")
        .loopback("r2", "192.168.255.1/32")
        .link("r1", "r2")
        .build();
    let p = compile_ok(&t, "l");
    assert_eq!(lo(&p, "r1"), ["192.168.255.2/32", "fd00:0:ff::1/128"]);
    assert_eq!(lo(&p, "r2"), ["192.168.255.1/32", "fd00:0:ff::2/128"]);
}

#[test]
fn explicit_address_sets_the_domain_subnet_and_others_number_around_it() {
    let t = TopoBuilder::new("x")
        .switch("s1")
        .switch("s2")
        .host("h1")
        .host("h2")
        .host("h3")
        .link("h1", "s1")
        .link("h2@10.0.0.1/24", "s2")
        .link("h3", "s2")
        .build();
    let p = compile_ok(&t, "x");
    // s1's LAN comes first but 10.0.0.0/24 is taken explicitly by s2's LAN.
    assert_eq!(addrs(&p, "h1")[0], "10.0.1.1/24");
    assert_eq!(addrs(&p, "h2")[0], "10.0.0.1/24");
    assert_eq!(addrs(&p, "h3")[0], "10.0.0.2/24");
    // IPv6 is untouched by an IPv4 explicit address.
    assert_eq!(addrs(&p, "h2")[1], "fd00:0:1:1::1/64");
}

#[test]
fn explicit_subnet_in_a_p2p_numbers_the_other_end_inside_it() {
    let t = TopoBuilder::new("x")
        .router("r1")
        .router("r2")
        .link("r1", "r2@172.16.0.1/29")
        .build();
    let p = compile_ok(&t, "x");
    assert_eq!(addrs(&p, "r1")[0], "172.16.0.2/29");
    assert_eq!(addrs(&p, "r2")[0], "172.16.0.1/29");
}

#[test]
fn explicit_addresses_of_one_domain_must_share_a_subnet() {
    let t = TopoBuilder::new("x")
        .switch("s1")
        .host("h1")
        .host("h2")
        .link("h1@10.1.0.1/24", "s1")
        .link("h2@10.1.1.1/24", "s1")
        .build();
    let e = err(&t);
    assert_eq!(e.kind, ErrorKind::BadAddress);
    assert_eq!(
        (e.line, e.column),
        (t.links[1].a.span.line, t.links[1].a.span.column)
    );

    let t = TopoBuilder::new("x")
        .switch("s1")
        .host("h1")
        .host("h2")
        .link("h1@10.1.0.1/24", "s1")
        .link("h2@10.1.0.2/25", "s1")
        .build();
    let e = err(&t);
    assert_eq!(e.kind, ErrorKind::OverlappingSubnets);
    assert_eq!(e.line, t.links[1].a.span.line);
}

#[test]
fn overlapping_explicit_subnets_of_two_domains_are_an_error_at_the_later_one() {
    let t = TopoBuilder::new("x")
        .host("h1")
        .host("h2")
        .host("h3")
        .link("h1@10.1.0.1/16", "h2")
        .link("h2", "h3@10.1.2.1/24")
        .build();
    let e = err(&t);
    assert_eq!(e.kind, ErrorKind::OverlappingSubnets);
    assert_eq!(
        (e.line, e.column),
        (t.links[1].b.span.line, t.links[1].b.span.column)
    );
    assert!(e.help_text().unwrap().contains("line"));
}

#[test]
fn duplicate_network_broadcast_and_switch_addresses_are_bad() {
    let dup = TopoBuilder::new("x")
        .host("h1")
        .host("h2")
        .router("r1")
        .link("h1@10.1.0.1/30", "r1")
        .link("h2@10.1.0.1/30", "r1")
        .build();
    let e = err(&dup);
    assert_eq!(e.kind, ErrorKind::BadAddress);
    assert_eq!(e.line, dup.links[1].a.span.line);

    let net = TopoBuilder::new("x")
        .host("h1")
        .host("h2")
        .link("h1@10.1.0.0/24", "h2")
        .build();
    assert_eq!(err(&net).kind, ErrorKind::BadAddress);

    let sw = TopoBuilder::new("x")
        .host("h1")
        .switch("s1")
        .link("h1", "s1@10.1.0.1/24")
        .build();
    let e = err(&sw);
    assert_eq!(e.kind, ErrorKind::BadAddress);
    assert_eq!(e.line, sw.links[0].b.span.line);
}

#[test]
fn exhausted_user_pool_points_at_the_pool_and_names_its_key() {
    let t = TopoBuilder::new("x")
        .pool("lan4", "10.9.0.0/23", 24)
        .switch("s1")
        .switch("s2")
        .switch("s3")
        .host("h1")
        .host("h2")
        .host("h3")
        .link("h1", "s1")
        .link("h2", "s2")
        .link("h3", "s3")
        .build();
    let e = err(&t);
    assert_eq!(e.kind, ErrorKind::PoolExhausted);
    assert_eq!(e.line, t.addressing.lan4.span.line);
    assert!(e.line > 0);
    assert!(e.help_text().unwrap().contains("addressing.lan4"), "{e:?}");
    assert!(e.message().contains("s3"), "{}", e.message());
}

#[test]
fn exhausted_default_pool_points_at_what_needed_the_room() {
    let mut t = TopoBuilder::new("x")
        .router("r1")
        .router("r2")
        .link("r1", "r2")
        .link("r2", "r1")
        .build();
    t.addressing.p2p4.net = "10.255.0.0/30".parse().unwrap();
    let e = err(&t);
    assert_eq!(e.kind, ErrorKind::PoolExhausted);
    assert_eq!(e.line, t.links[1].span.line);
    assert!(e.help_text().unwrap().contains("addressing.p2p4"));

    let mut t = TopoBuilder::new("x").router("r1").router("r2").build();
    t.addressing.loopback6.net = "fd00:0:ff::/127".parse().unwrap();
    let e = err(&t);
    assert_eq!(e.kind, ErrorKind::PoolExhausted);
    assert_eq!(e.line, t.nodes[1].span.line);
}

#[test]
fn a_disabled_family_keeps_explicit_addresses_only() {
    let t = TopoBuilder::new("x")
        .ipv6(false)
        .switch("s1")
        .host("h1")
        .host("h2")
        .router("r1")
        .link("h1@fd00:99::5/64", "s1")
        .link("h2", "s1")
        .link("r1", "s1")
        .build();
    let p = compile_ok(&t, "x");
    assert_eq!(addrs(&p, "h1"), ["fd00:99::5/64", "10.0.0.2/24"]);
    assert_eq!(addrs(&p, "h2"), ["10.0.0.3/24"]);
    assert_eq!(lo(&p, "r1"), ["192.168.255.1/32"]);
}

#[test]
fn explicit_subnet_too_small_for_its_segment_is_an_error() {
    let t = TopoBuilder::new("x")
        .switch("s1")
        .host("h1")
        .host("h2")
        .host("h3")
        .link("h1@10.1.0.1/30", "s1")
        .link("h2", "s1")
        .link("h3", "s1")
        .build();
    let e = err(&t);
    assert_eq!(e.kind, ErrorKind::BadAddress);
    assert_eq!(e.line, t.links[0].a.span.line);
}
