//! Plan-level tests: namespaces, sysctls, bridges and ports, veth wiring, determinism, and
//! the Plan invariants (checked on every topology the tests compile).

use std::collections::BTreeSet;

use super::testutil::TopoBuilder;
use super::*;

/// Compiles and checks the Plan invariants; the tests of every stage go through it.
pub(crate) fn compile_ok(t: &Topology, lab: &str) -> Plan {
    let plan = compile(t, lab).unwrap_or_else(|e| panic!("compile failed: {}", e.one_line()));
    check_invariants(&plan);
    plan
}

pub(crate) fn check_invariants(plan: &Plan) {
    let mut macs = BTreeSet::new();
    let mut addrs = BTreeSet::new();
    for n in &plan.nodes {
        assert_eq!(n.netns, format!("{}-{}", plan.lab, n.name));
        let mut idx = BTreeSet::from([1u32]);
        if let Some(b) = &n.bridge {
            assert!(idx.insert(b.ifindex), "{}: bridge ifindex clash", n.name);
            assert!(macs.insert(b.mac), "duplicate MAC {}", b.mac);
        }
        for (ii, i) in n.ifaces.iter().enumerate() {
            assert!(
                idx.insert(i.ifindex),
                "{}: ifindex {} twice",
                n.name,
                i.ifindex
            );
            assert!(macs.insert(i.mac), "duplicate MAC {}", i.mac);
            assert_eq!(i.mac.0[0], 0x02);
            let peer = plan.iface(i.peer);
            let me = IfaceRef {
                node: plan.nodes.iter().position(|x| x.name == n.name).unwrap(),
                iface: ii,
            };
            assert_eq!(peer.peer, me, "peers point at each other");
            assert_eq!(peer.link, i.link);
            assert_eq!(peer.mtu, i.mtu);
            assert_eq!(i.port.is_some(), n.kind == NodeKind::Switch);
            for a in &i.addrs {
                assert!(addrs.insert(a.addr()), "address {a} twice");
            }
        }
        for a in &n.loopback {
            assert!(addrs.insert(a.addr()), "address {a} twice");
        }
        for r in &n.routes {
            let dev = n
                .ifaces
                .iter()
                .find(|i| i.ifindex == r.dev)
                .expect("route dev exists");
            assert!(
                dev.addrs.iter().any(|a| a.trunc().contains(&r.via)),
                "{}: gateway {} of {} not on {}",
                n.name,
                r.via,
                r.dst,
                dev.name
            );
        }
    }
    let mut seen = BTreeSet::new();
    for (k, v) in plan.veths.iter().enumerate() {
        assert_eq!(v.link, k);
        assert!(seen.insert(v.a) && seen.insert(v.b), "an end in two veths");
        assert_eq!(plan.iface(v.a).peer, v.b);
        assert_eq!(plan.iface(v.a).link, k);
    }
    let total: usize = plan.nodes.iter().map(|n| n.ifaces.len()).sum();
    assert_eq!(seen.len(), total, "every interface is a veth end");
}

fn small() -> Topology {
    TopoBuilder::new("small")
        .host("h1")
        .host("h2")
        .switch("s1")
        .router("r1")
        .link("h1", "s1")
        .link("h2", "s1")
        .link("r1", "s1")
        .sysctl("h1", "net.ipv6.conf.all.accept_dad", "1")
        .sysctl("h1", "net.core.somaxconn", "1024")
        .run("h2", "sleep 1000")
        .build()
}

#[test]
fn namespaces_are_lab_dash_node() {
    let plan = compile_ok(&small(), "lab7");
    let ns: Vec<_> = plan.nodes.iter().map(|n| n.netns.as_str()).collect();
    assert_eq!(ns, ["lab7-h1", "lab7-h2", "lab7-s1", "lab7-r1"]);
}

#[test]
fn sysctls_by_kind_then_node_entries_override_in_place() {
    let plan = compile_ok(&small(), "l");
    let get = |n: &str| -> Vec<(String, String)> { plan.node(n).unwrap().sysctls.clone() };
    let kv = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        get("h1"),
        kv(&[
            ("net.ipv6.conf.all.accept_dad", "1"),
            ("net.ipv6.conf.default.accept_dad", "0"),
            ("net.ipv6.conf.all.keep_addr_on_down", "1"),
            ("net.ipv4.ping_group_range", "0 2147483647"),
            ("net.core.somaxconn", "1024"),
        ])
    );
    assert_eq!(
        get("r1"),
        kv(&[
            ("net.ipv6.conf.all.accept_dad", "0"),
            ("net.ipv6.conf.default.accept_dad", "0"),
            ("net.ipv6.conf.all.keep_addr_on_down", "1"),
            ("net.ipv4.ping_group_range", "0 2147483647"),
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv6.conf.all.forwarding", "1"),
        ])
    );
    assert_eq!(
        get("s1"),
        kv(&[
            ("net.ipv6.conf.all.disable_ipv6", "1"),
            ("net.ipv6.conf.default.disable_ipv6", "1"),
        ])
    );
    assert_eq!(
        plan.node("h2").unwrap().commands().collect::<Vec<_>>(),
        ["sleep 1000"]
    );
}

#[test]
fn ifindexes_lo_bridge_and_ports() {
    let plan = compile_ok(&small(), "l");
    let s1 = plan.node("s1").unwrap();
    let b = s1.bridge.as_ref().unwrap();
    assert_eq!((b.name.as_str(), b.ifindex, b.stp), ("br0", 100, false));
    let idx: Vec<_> = s1
        .ifaces
        .iter()
        .map(|i| (i.name.as_str(), i.ifindex))
        .collect();
    assert_eq!(idx, [("eth1", 101), ("eth2", 102), ("eth3", 103)]);
    assert!(
        s1.ifaces
            .iter()
            .all(|i| i.port == Some(PortRole::Forwarding))
    );
    let h1 = plan.node("h1").unwrap();
    assert!(h1.bridge.is_none());
    assert_eq!(
        (h1.ifaces[0].name.as_str(), h1.ifaces[0].ifindex),
        ("eth0", 101)
    );
}

#[test]
fn ring_ports_are_blocked_on_both_switch_ends_and_stay_veths() {
    let mut b = TopoBuilder::new("ring");
    for i in 1..=4 {
        b = b.switch(&format!("s{i}")).host(&format!("h{i}"));
    }
    for i in 1..=4 {
        b = b.link(&format!("h{i}"), &format!("s{i}"));
    }
    let t = b
        .link("s1", "s2")
        .link("s2", "s3")
        .link("s3", "s4")
        .link("s4", "s1")
        .build();
    let plan = compile_ok(&t, "r");
    assert_eq!(plan.veths.len(), 8);
    let blocked: Vec<(String, String)> = plan
        .nodes
        .iter()
        .flat_map(|n| {
            n.ifaces
                .iter()
                .filter(|i| i.port == Some(PortRole::Blocked))
                .map(|i| (n.name.clone(), i.name.clone()))
        })
        .collect();
    // Link 6 (s3–s4) closes the loop: s3's 3rd and s4's 2nd interface.
    assert_eq!(
        blocked,
        [("s3".into(), "eth3".into()), ("s4".into(), "eth2".into())]
    );
    // One LAN: every host in one subnet.
    let nets: BTreeSet<_> = plan
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Host)
        .map(|n| n.ifaces[0].addrs[0].trunc())
        .collect();
    assert_eq!(nets.len(), 1);
    let script = plan.to_ip_commands();
    assert!(script.contains("ip -n r-s3 link set dev eth2 master br0\n"));
    assert!(!script.contains("ip -n r-s3 link set dev eth3 master"));
    assert!(!script.contains("ip -n r-s4 link set dev eth2 master"));
}

#[test]
fn stp_domain_sets_stp_on_all_its_bridges() {
    let t = TopoBuilder::new("stp")
        .stp_switch("s1")
        .switch("s2")
        .switch("s3")
        .link("s1", "s2")
        .link("s2", "s1")
        .build();
    let plan = compile_ok(&t, "l");
    assert!(plan.nodes[0].bridge.as_ref().unwrap().stp);
    assert!(plan.nodes[1].bridge.as_ref().unwrap().stp);
    assert!(!plan.nodes[2].bridge.as_ref().unwrap().stp);
    assert!(
        plan.nodes
            .iter()
            .flat_map(|n| &n.ifaces)
            .all(|i| i.port == Some(PortRole::Forwarding))
    );
}

#[test]
fn veths_follow_link_order_with_a_then_b() {
    let plan = compile_ok(&small(), "l");
    let v = &plan.veths[1];
    assert_eq!(plan.nodes[v.a.node].name, "h2");
    assert_eq!(plan.nodes[v.b.node].name, "s1");
    assert_eq!(plan.iface(v.b).name, "eth2");
}

#[test]
fn compiling_twice_gives_identical_plans_and_scripts() {
    let t = small();
    let a = compile_ok(&t, "det");
    let b = compile_ok(&t.clone(), "det");
    assert_eq!(a, b);
    assert_eq!(a.to_ip_commands(), b.to_ip_commands());
}

#[test]
fn macs_depend_on_the_topology_name_not_the_lab_name() {
    let t = small();
    let a = compile_ok(&t, "one");
    let b = compile_ok(&t, "two");
    assert_eq!(a.nodes[0].ifaces[0].mac, b.nodes[0].ifaces[0].mac);
    let mut t2 = t.clone();
    t2.name = "other".into();
    let c = compile_ok(&t2, "one");
    assert_ne!(a.nodes[0].ifaces[0].mac, c.nodes[0].ifaces[0].mac);
}

#[test]
fn self_loops_and_isolated_nodes_compile() {
    let t = TopoBuilder::new("odd")
        .switch("s1")
        .router("r1")
        .host("lonely")
        .switch("empty")
        .link("s1", "s1")
        .link("r1", "r1")
        .link("r1", "s1")
        .build();
    let plan = compile_ok(&t, "odd");
    let s1 = plan.node("s1").unwrap();
    assert_eq!(s1.ifaces[0].port, Some(PortRole::Blocked));
    assert_eq!(s1.ifaces[1].port, Some(PortRole::Blocked));
    assert_eq!(s1.ifaces[2].port, Some(PortRole::Forwarding));
    assert!(plan.node("lonely").unwrap().ifaces.is_empty());
    assert!(plan.node("empty").unwrap().bridge.is_some());
}

#[test]
fn a_large_lab_compiles_quickly() {
    // 1000 hosts on one switch with a router, behind a chain of 100 routers.
    let mut b = TopoBuilder::new("big").switch("s0");
    for i in 0..1000 {
        b = b.host(&format!("h{i}"));
    }
    for i in 0..100 {
        b = b.router(&format!("r{i}"));
    }
    for i in 0..1000 {
        b = b.link(&format!("h{i}"), "s0");
    }
    b = b.link("r0", "s0");
    for i in 1..100 {
        b = b.link(&format!("r{}", i - 1), &format!("r{i}"));
    }
    let t = b.build();
    let start = std::time::Instant::now();
    let plan = compile_ok(&t, "big");
    let took = start.elapsed();
    assert_eq!(
        plan.node("h999").unwrap().ifaces[0].addrs[0].prefix_len(),
        22
    );
    // Per family: the LAN, 98 remote chain links, 99 other loopbacks.
    assert_eq!(plan.node("r99").unwrap().routes.len(), 2 * (1 + 98 + 99));
    assert_eq!(plan.node("h0").unwrap().routes.len(), 2);
    assert!(took.as_secs() < 10, "compile took {took:?}");
}

fn from_yaml(text: &str) -> crate::topology::Topology {
    crate::topology::Topology::from_str(text, "t.yaml")
        .unwrap_or_else(|e| panic!("{}", e.one_line()))
}

#[test]
fn connected_routers_get_no_static_routes_and_hosts_keep_their_default() {
    let text = "name: rc\nnodes:\n  h1:\n  r1: {kind: router, routes: connected}\n  \
                r2: {kind: router}\n  h2:\nlinks:\n  - [h1, r1]\n  - [r1, r2]\n  - [r2, h2]\n";
    let plan = compile(&from_yaml(text), "rc").unwrap();
    let r1 = plan.node("r1").unwrap();
    assert_eq!(r1.routes_mode, RoutesMode::Connected);
    assert!(r1.routes.is_empty(), "{:?}", r1.routes);
    // Its neighbours are compiled as today: h1 still defaults via r1, r2 routes via r1.
    let h1 = plan.node("h1").unwrap();
    assert!(h1.routes.iter().any(|r| r.dst.prefix_len() == 0));
    assert!(!plan.node("r2").unwrap().routes.is_empty());
    // `defaults.routes: connected` reaches routers and hosts, not switches.
    let text = "name: rd\ndefaults: {routes: connected}\nnodes:\n  h1:\n  r1: {kind: router}\n  \
                s1: {kind: switch}\nlinks:\n  - [h1, s1]\n  - [r1, s1]\n";
    let plan = compile(&from_yaml(text), "rd").unwrap();
    assert!(plan.user_nodes().all(|n| n.routes.is_empty()));
    assert_eq!(plan.node("s1").unwrap().routes_mode, RoutesMode::Static);
    assert_eq!(plan.node("r1").unwrap().routes_mode, RoutesMode::Connected);
}

#[test]
fn mgmt_addresses_hosts_first_then_nodes_in_order_and_the_namespace_is_hidden() {
    let text = "name: mg\nmgmt: {ipv4: 10.99.0.0/24, host: true}\naddressing: {lan4: 10.0.0.0/16}\n\
                nodes:\n  h1:\n  s1: {kind: switch}\n  r1: {kind: router}\nlinks:\n  - [h1, s1]\n  - [r1, s1]\n";
    let plan = compile(&from_yaml(text), "mglab").unwrap();
    let m = plan.mgmt.as_ref().unwrap();
    assert_eq!(m.netns, "mglab-_mgmt");
    assert_eq!(m.ipv6.unwrap().to_string(), "fd00:0:ee::/64");
    let host = m.host.as_ref().unwrap();
    assert!(host.ifname.len() <= 15 && host.ifname.starts_with("tl-"));
    assert_eq!(
        host.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        ["10.99.0.1/24", "fd00:0:ee::1/64"]
    );
    // The switch has no mgmt0; h1 and r1 do, in node order.
    let names: Vec<&str> = m
        .nodes
        .iter()
        .map(|i| plan.nodes[i.node].name.as_str())
        .collect();
    assert_eq!(names, ["h1", "r1"]);
    assert_eq!(
        plan.mgmt_addrs("r1")
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>(),
        ["10.99.0.3/24", "fd00:0:ee::3/64"]
    );
    assert!(plan.mgmt_addrs("s1").is_empty());
    // No node, route or namespace of the data plane mentions it.
    assert!(plan.user_node("_mgmt").is_none());
    assert!(plan.nodes.iter().all(|n| !n.netns.ends_with("_mgmt")));
    let mgmt_net: ipnet::IpNet = "10.99.0.0/24".parse().unwrap();
    for n in &plan.nodes {
        assert!(
            n.routes
                .iter()
                .all(|r| !mgmt_net.contains(&r.via) && !mgmt_net.contains(&r.dst.addr()))
        );
        assert!(n.ifaces.iter().all(|i| i.name != "mgmt0"));
    }
    // The host end's name depends on the lab name, not the topology.
    let other = compile(&from_yaml(text), "mglab2").unwrap();
    assert_ne!(other.mgmt.unwrap().host.unwrap().ifname, host.ifname);
    // Off by default.
    let plan = compile(&from_yaml("name: x\nnodes: {h1: }\n"), "x").unwrap();
    assert!(plan.mgmt.is_none());
}

#[test]
fn runtime_comments_never_let_file_text_out_of_the_comment() {
    let text = "name: hx\nnodes:\n  h1:\n    run:\n      - \"sleep 1\\nrm -rf /tmp/x\"\n      \
                - {name: w, cmd: \"true\", ready: {log: \"a\\nip netns add evil\"}}\n";
    let script = compile(&from_yaml(text), "hx").unwrap().to_ip_commands();
    for l in script.lines() {
        assert!(
            !l.starts_with("rm") && !l.contains("netns add evil") || l.starts_with('#'),
            "{l}"
        );
    }
    assert!(
        script.contains(r#"sh -c "sleep 1\nrm -rf /tmp/x""#),
        "{script}"
    );
}
