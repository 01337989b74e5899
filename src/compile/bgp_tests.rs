//! BGP compile rules: sessions (explicit, auto eBGP, iBGP full mesh and route reflection),
//! symmetry, router IDs, networks, routes of BGP routers, the built-in service.

use std::net::IpAddr;

use super::super::tests::compile_ok;
use super::*;
use crate::compile::Plan;
use crate::topology::Topology;

fn plan(text: &str) -> Plan {
    let t = Topology::from_str(text, "t.yaml").unwrap_or_else(|e| panic!("{}", e.one_line()));
    compile_ok(&t, "t")
}

fn err(text: &str) -> TopologyError {
    let t = Topology::from_str(text, "t.yaml").unwrap_or_else(|e| panic!("{}", e.one_line()));
    match crate::compile::compile(&t, "t") {
        Ok(_) => panic!("compiled"),
        Err(e) => e,
    }
}

fn speaker<'p>(p: &'p Plan, node: &str) -> &'p SpeakerConfig {
    p.node(node).unwrap().bgp.as_ref().expect("a speaker")
}

fn peer<'p>(p: &'p Plan, node: &str, name: &str) -> &'p PeerConfig {
    speaker(p, node)
        .peers
        .iter()
        .find(|x| x.name == name)
        .unwrap_or_else(|| panic!("{node} has no peer {name}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Every session between two lab speakers is answered by one back, with the addresses
/// swapped and each end's AS.
pub(crate) fn assert_symmetric(p: &Plan) {
    let owner = |a: IpAddr| {
        p.nodes.iter().find(|n| {
            n.loopback.iter().any(|l| l.addr() == a)
                || n.ifaces
                    .iter()
                    .any(|i| i.addrs.iter().any(|x| x.addr() == a))
        })
    };
    for n in &p.nodes {
        let Some(b) = &n.bgp else { continue };
        for s in &b.peers {
            let Some(other) = owner(s.address) else {
                continue;
            };
            let Some(ob) = &other.bgp else { continue };
            assert_eq!(s.remote_as, ob.asn, "{} → {}", n.name, s.name);
            let local = s.local_address.expect("lab sessions have a local address");
            let back = ob
                .peers
                .iter()
                .find(|x| x.address == local)
                .unwrap_or_else(|| panic!("{} does not answer {}'s session", other.name, n.name));
            assert_eq!(back.local_address, Some(s.address));
            assert_eq!(back.remote_as, b.asn);
        }
    }
}

const THREE_AS: &str = "
name: t
nodes:
  r1: {kind: router, bgp: {asn: 65001, neighbors: auto}}
  r2: {kind: router, bgp: {asn: 65001, neighbors: auto}}
  r3: {kind: router, bgp: {asn: 65002, neighbors: auto}}
  r4: {kind: router}
  h1:
  h3:
links:
  - [h1, r1]
  - [r1, r2]
  - [r2, r3]
  - [r3, h3]
  - [r3, r4]
";

#[test]
fn auto_makes_ebgp_over_links_and_ibgp_over_loopbacks() {
    let p = plan(THREE_AS);
    let r1 = speaker(&p, "r1");
    assert_eq!(r1.asn, 65001);
    assert_eq!(
        r1.router_id.to_string(),
        "192.168.255.1",
        "first IPv4 loopback"
    );
    assert_eq!((r1.hold_time, r1.keepalive, r1.connect_retry), (9, None, 2));
    assert!(r1.fib);
    assert_eq!(r1.listen_port, 179);
    // r1 has no eBGP neighbour; iBGP with r2 over loopbacks, next-hop-self.
    assert_eq!(r1.peers.len(), 1);
    let r2 = peer(&p, "r1", "r2");
    assert_eq!(r2.address, ip("192.168.255.2"));
    assert_eq!(r2.local_address, Some(ip("192.168.255.1")));
    assert_eq!(r2.remote_as, 65001);
    assert!(r2.next_hop_self);
    assert_eq!(r2.families, vec![Afi::Ipv4, Afi::Ipv6]);
    // r2–r3: eBGP over the link, IPv4 session carrying both families.
    let r3 = peer(&p, "r2", "r3");
    assert_eq!(r3.remote_as, 65002);
    assert!(!r3.next_hop_self);
    assert!(r3.address.is_ipv4());
    let link = p
        .node("r3")
        .unwrap()
        .ifaces
        .iter()
        .find(|i| i.name == "eth0")
        .unwrap();
    assert!(link.addrs.iter().any(|a| a.addr() == r3.address));
    assert_eq!(r3.families, vec![Afi::Ipv4, Afi::Ipv6]);
    // r4 has no bgp: no session, no speaker.
    assert!(p.node("r4").unwrap().bgp.is_none());
    assert_eq!(speaker(&p, "r3").peers.len(), 1);
    assert_symmetric(&p);
}

#[test]
fn bgp_routers_get_only_intra_as_loopback_routes() {
    let p = plan(THREE_AS);
    let dsts = |n: &str| -> Vec<String> {
        p.node(n)
            .unwrap()
            .routes
            .iter()
            .map(|r| r.dst.to_string())
            .collect()
    };
    assert_eq!(dsts("r1"), ["192.168.255.2/32", "fd00:0:ff::2/128"]);
    assert_eq!(dsts("r2"), ["192.168.255.1/32", "fd00:0:ff::1/128"]);
    assert!(dsts("r3").is_empty(), "{:?}", dsts("r3"));
    // Hosts keep their default routes, routers without bgp their static ones.
    assert_eq!(dsts("h1"), ["0.0.0.0/0", "::/0"]);
    assert!(dsts("r4").len() > 4);
}

#[test]
fn networks_default_to_host_facing_subnets_and_loopbacks() {
    let p = plan(THREE_AS);
    let nets = |n: &str| -> Vec<String> {
        speaker(&p, n)
            .networks
            .iter()
            .map(|r| r.to_string())
            .collect()
    };
    let h1_net = p.node("h1").unwrap().ifaces[0].addrs[0].trunc().to_string();
    assert_eq!(nets("r1")[0], h1_net);
    assert!(nets("r1").contains(&"192.168.255.1/32".to_string()));
    assert_eq!(
        nets("r2"),
        ["192.168.255.2/32", "fd00:0:ff::2/128"],
        "no p2p links"
    );
}

#[test]
fn the_builtin_service_comes_first() {
    let p = plan(
        "
name: t
nodes:
  r1: {kind: router, bgp: {asn: 65001}, run: sleep 1000}
",
    );
    let s = &p.node("r1").unwrap().services;
    assert_eq!(s.len(), 2);
    assert_eq!(s[0], bgp_service());
    assert_eq!(s[0].name, "bgp");
    assert_eq!(s[0].restart, RestartPolicy::OnFailure);
    assert_eq!(s[0].ready, Some(Readiness::Builtin));
    assert!(matches!(
        s[0].what,
        ServiceWhat::Daemon {
            kind: DaemonKind::Bgp,
            port: 179
        }
    ));
}

#[test]
fn explicit_neighbors_by_address_node_and_iface() {
    let p = plan(
        "
name: t
nodes:
  r1:
    kind: router
    bgp:
      asn: 65001
      timers: {hold: 30, keepalive: 10, connect_retry: 5}
      networks: [10.1.0.0/16]
      fib: false
      neighbors:
        - {node: r2, password: s3cret, ttl_security: 1}
        - {node: \"r3:right\", passive: true, families: [ipv6]}
        - {address: 192.0.2.9, remote_as: 64999, multihop: 3, port: 1179, hold_time: 60}
  r2: {kind: router, bgp: {asn: 65002}}
  r3: {kind: router, bgp: {asn: 65003}}
links:
  - [r1, r2]
  - [\"r1:left\", \"r3:left\"]
  - [\"r1:right\", \"r3:right\"]
",
    );
    let r1 = speaker(&p, "r1");
    assert_eq!(
        (r1.hold_time, r1.keepalive, r1.connect_retry),
        (30, Some(10), 5)
    );
    assert_eq!(r1.networks, vec!["10.1.0.0/16".parse().unwrap()]);
    assert!(!r1.fib);
    let r2 = peer(&p, "r1", "r2");
    assert_eq!(r2.remote_as, 65002);
    assert_eq!(r2.password.as_deref(), Some("s3cret"));
    assert_eq!(r2.ttl_security, Some(1));
    let r3 = peer(&p, "r1", "r3:right");
    assert!(r3.passive);
    assert_eq!(r3.families, vec![Afi::Ipv6]);
    let right = p
        .node("r3")
        .unwrap()
        .ifaces
        .iter()
        .find(|i| i.name == "right")
        .unwrap();
    assert!(right.addrs.iter().any(|a| a.addr() == r3.address));
    let ext = peer(&p, "r1", "192.0.2.9");
    assert_eq!(
        (ext.remote_as, ext.multihop, ext.port, ext.hold_time),
        (64999, Some(3), 1179, Some(60))
    );
    assert_eq!(ext.local_address, None);
    assert_eq!(ext.families, vec![Afi::Ipv4]);
    // r2 and r3 peer back without being told (the password and TTL rules too).
    let back = peer(&p, "r2", "r1");
    assert_eq!(back.password.as_deref(), Some("s3cret"));
    assert_eq!(back.ttl_security, Some(1));
    assert_eq!(speaker(&p, "r3").peers.len(), 1);
    assert_symmetric(&p);
}

#[test]
fn route_reflectors_take_the_clients() {
    let p = plan(
        "
name: t
nodes:
  rr: {kind: router, bgp: {asn: 65001, neighbors: auto, route_reflector: true}}
  c1: {kind: router, bgp: {asn: 65001, neighbors: auto}}
  c2: {kind: router, bgp: {asn: 65001, neighbors: auto}}
  c3: {kind: router, bgp: {asn: 65001, neighbors: auto}}
links:
  - [rr, c1]
  - [c1, c2]
  - [c2, c3]
",
    );
    let rr = speaker(&p, "rr");
    assert_eq!(rr.peers.len(), 3);
    assert!(rr.peers.iter().all(|x| x.rr_client && x.next_hop_self));
    for c in ["c1", "c2", "c3"] {
        let s = speaker(&p, c);
        assert_eq!(s.peers.len(), 1, "{c} peers only with the reflector");
        assert_eq!(s.peers[0].name, "rr");
        assert!(!s.peers[0].rr_client);
    }
    // c3 reaches rr's loopback through c2 and c1.
    let c3 = p.node("c3").unwrap();
    assert!(
        c3.routes
            .iter()
            .any(|r| r.dst.to_string() == "192.168.255.1/32")
    );
    assert_symmetric(&p);
}

#[test]
fn parallel_links_make_one_session_each_named_by_interface() {
    let p = plan(
        "
name: t
nodes:
  r1: {kind: router, bgp: {asn: 65001, neighbors: auto}}
  r2: {kind: router, bgp: {asn: 65002, neighbors: auto}}
links:
  - [r1, r2]
  - [r1, r2]
",
    );
    let names: Vec<&str> = speaker(&p, "r1")
        .peers
        .iter()
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(names, ["r2:eth0", "r2:eth1"]);
    assert_symmetric(&p);
}

#[test]
fn duplicate_router_ids_are_an_error_at_the_written_one() {
    let e = err("
name: t
nodes:
  r1: {kind: router, bgp: {asn: 65001}}
  r2: {kind: router, bgp: {asn: 65002, router_id: 192.168.255.1}}
");
    assert_eq!((e.line, e.column), (5, 51), "{}", e.one_line());
    assert!(
        e.message().contains("router ID 192.168.255.1"),
        "{}",
        e.one_line()
    );
}

#[test]
fn compile_errors_point_at_the_neighbor() {
    let e = err("
name: t
nodes:
  r1: {kind: router, bgp: {asn: 65001, neighbors: [{node: r2}]}}
  r2: {kind: router, bgp: {asn: 65002}}
");
    assert_eq!((e.line, e.column), (4, 59), "{}", e.one_line());
    assert!(e.message().contains("share no link"), "{}", e.one_line());
    let e = err("
name: t
nodes:
  r1: {kind: router, bgp: {asn: 65001, neighbors: [{node: \"r2:eth7\"}]}}
  r2: {kind: router, bgp: {asn: 65002}}
links:
  - [r1, r2]
");
    assert_eq!((e.line, e.column), (4, 63), "{}", e.one_line());
    assert!(
        e.message().contains("no interface `eth7`"),
        "{}",
        e.one_line()
    );
}

#[test]
fn one_family_runs_over_it_and_auto_keeps_off_written_links() {
    let p = plan(
        "
name: t
nodes:
  r1:
    kind: router
    bgp:
      asn: 65001
      neighbors: [auto, {node: \"r3:eth1\", families: [ipv6]}]
  r3: {kind: router, bgp: {asn: 65003}}
links:
  - [r3, r1]
  - [r1, r3]
",
    );
    let r1 = speaker(&p, "r1");
    assert_eq!(r1.peers.len(), 2, "{:?}", r1.peers);
    let v6 = peer(&p, "r1", "r3:eth1");
    assert!(v6.address.is_ipv6() && v6.local_address.is_some_and(|a| a.is_ipv6()));
    assert_eq!(v6.families, vec![Afi::Ipv6]);
    let auto = peer(&p, "r1", "r3");
    assert!(auto.address.is_ipv4());
    assert_eq!(speaker(&p, "r3").peers.len(), 2);
    assert_symmetric(&p);
}

#[test]
fn next_hops_are_ours_on_the_session_link_or_our_loopbacks() {
    let p = plan(THREE_AS);
    // eBGP over the r2–r3 link: r2's IPv4 and IPv6 addresses on that link.
    let s = peer(&p, "r2", "r3");
    let local = s.local_address.unwrap();
    let iface = p
        .node("r2")
        .unwrap()
        .ifaces
        .iter()
        .find(|i| i.addrs.iter().any(|a| a.addr() == local))
        .unwrap();
    let want: Vec<IpAddr> = iface.addrs.iter().map(|a| a.addr()).collect();
    assert_eq!(s.next_hops, want);
    assert!(s.next_hops[1].is_ipv6());
    // iBGP between loopbacks: our loopbacks.
    let s = peer(&p, "r1", "r2");
    assert_eq!(s.next_hops, vec![ip("192.168.255.1"), ip("fd00:0:ff::1")]);
}
