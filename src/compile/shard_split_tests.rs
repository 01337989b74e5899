//! Sub-plans of the example `emulation` lab split in two: shard 0 holds a1, sa, ra; shard
//! 1 holds rb, sb, b1, so the kernel link `fast` and the userspace link `slow` cross.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::*;
use crate::compile::testshards::split;
use crate::compile::{EngineChoice, compile};
use crate::topology::Topology;

fn emulation() -> Plan {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/topologies/emulation.yaml"
    ))
    .unwrap();
    let topo = Topology::from_str(&text, "emulation.yaml").unwrap();
    compile(&topo, "em").unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn bundle() -> ShardedPlan {
    split(
        &emulation(),
        &[
            ("a1", 0),
            ("sa", 0),
            ("ra", 0),
            ("rb", 1),
            ("sb", 1),
            ("b1", 1),
        ],
        &[ip("10.9.0.1"), ip("10.9.0.2")],
        9000,
    )
}

fn sub(k: u32) -> Plan {
    shard_subplan(&bundle(), k, &BTreeMap::new()).unwrap()
}

/// Every reference indexes the sub-plan; peers point at each other, except VXLAN devices
/// (their own peer); veths join two non-VXLAN interfaces; links are numbered in order.
fn check_subplan(p: &Plan) {
    let vx: BTreeSet<IfaceRef> = p.vxlans.iter().map(|v| v.iface).collect();
    for (ni, n) in p.nodes.iter().enumerate() {
        assert_eq!(n.netns, format!("{}-{}", p.lab, n.name));
        for (ii, i) in n.ifaces.iter().enumerate() {
            let me = IfaceRef {
                node: ni,
                iface: ii,
            };
            if vx.contains(&me) {
                assert_eq!(i.peer, me, "{}:{} is a VXLAN end", n.name, i.name);
            } else {
                assert_eq!(p.iface(i.peer).peer, me, "{}:{}", n.name, i.name);
            }
            assert!(i.link < p.links.len());
        }
        for s in &n.shapers {
            assert!(
                n.ifaces
                    .iter()
                    .any(|i| i.ifindex == s.ifindex && i.link == s.link)
            );
        }
    }
    for (li, l) in p.links.iter().enumerate() {
        assert_eq!(l.link, li);
        let _ = (p.iface(l.a), p.iface(l.b));
    }
    for v in &p.veths {
        assert!(!vx.contains(&v.a) && !vx.contains(&v.b));
        assert_eq!(p.iface(v.a).peer, v.b);
    }
    for v in &p.vxlans {
        assert_eq!(p.vxlan_of(v.link), Some(v));
        assert!(!p.end_is_local(v.link, v.remote_is_a));
        assert!(p.end_is_local(v.link, !v.remote_is_a));
    }
}

#[test]
fn each_shard_holds_its_nodes_and_its_own_fabric() {
    for k in 0..2 {
        let p = sub(k);
        check_subplan(&p);
        let names: Vec<&str> = p.nodes.iter().map(|n| n.name.as_str()).collect();
        let fabric = format!("_fabric{k}");
        let want: Vec<&str> = match k {
            0 => vec!["a1", "sa", "ra", &fabric],
            _ => vec!["b1", "sb", "rb", &fabric],
        };
        assert_eq!(
            names, want,
            "compile order (user nodes sorted), the fabric last"
        );
        assert_eq!(p.nodes[3].netns, format!("em-_fabric{k}"));
        // The fabric holds the two relay ports of the slow link only.
        let ports: Vec<&str> = p.nodes[3].ifaces.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(ports, ["l3a", "l3b"]);
    }
}

#[test]
fn routes_addresses_and_services_are_the_whole_labs() {
    let whole = emulation();
    for k in 0..2 {
        for n in sub(k).user_nodes() {
            let w = whole.node(&n.name).unwrap();
            assert_eq!(n.routes, w.routes, "{}", n.name);
            assert_eq!(n.addr_labels(), w.addr_labels());
            assert_eq!(n.services, w.services);
            let macs = |n: &NodePlan| {
                n.ifaces
                    .iter()
                    .map(|i| (i.name.clone(), i.mac, i.mtu, i.ifindex))
                    .collect::<Vec<_>>()
            };
            assert_eq!(macs(n), macs(w));
        }
    }
}

#[test]
fn a_kernel_link_end_is_the_nodes_own_interface_and_keeps_its_shaper() {
    let b = bundle();
    let fast = &b.shards.cross[0];
    assert_eq!(b.plan.links[fast.link].engine, EngineChoice::Kernel);
    for k in 0..2 {
        let p = sub(k);
        let v = p.vxlans.iter().find(|v| v.topo_link == fast.link).unwrap();
        let (node, other) = if k == 0 { ("ra", "rb") } else { ("rb", "ra") };
        assert_eq!(p.nodes[v.iface.node].name, node);
        assert_eq!(p.iface(v.iface).name, "fast");
        assert_eq!((v.vni, v.port), (fast.link as u32 + 1, 4789));
        assert_eq!(v.local, b.shards.machines[k as usize].underlay);
        assert_eq!(v.remote, b.shards.machines[1 - k as usize].underlay);
        assert_eq!(
            (v.peer_node.as_str(), v.peer_iface.as_str()),
            (other, "fast")
        );
        assert_eq!(v.remote_is_a, k == 1);
        let l = &p.links[v.link];
        assert_eq!((l.a, l.b), (v.iface, v.iface));
        // The shaper of traffic arriving at this end stays here; rb shapes a→b.
        let shapers = &p.nodes[v.iface.node].shapers;
        assert_eq!(shapers.len(), 1, "{node}");
        assert_eq!(shapers[0].ifindex, p.iface(v.iface).ifindex);
        assert_eq!(shapers[0].link, v.link);
    }
}

#[test]
fn a_userspace_link_end_is_the_far_side_relay_port() {
    let b = bundle();
    let slow = &b.shards.cross[1];
    assert_eq!(b.plan.links[slow.link].engine, EngineChoice::Userspace);
    for k in 0..2 {
        let p = sub(k);
        let v = p.vxlans.iter().find(|v| v.topo_link == slow.link).unwrap();
        let l = &p.links[v.link];
        let r = l.relay.unwrap();
        let fabric = &p.nodes[v.iface.node];
        assert_eq!(fabric.name, format!("_fabric{k}"));
        if k == 0 {
            assert_eq!(v.iface, r.b);
            assert_eq!(fabric.ifaces[r.b.iface].name, "l3b");
            assert_eq!((p.nodes[l.a.node].name.as_str(), l.b), ("ra", r.b));
        } else {
            assert_eq!(v.iface, r.a);
            assert_eq!(fabric.ifaces[r.a.iface].name, "l3a");
            assert_eq!((l.a, p.nodes[l.b.node].name.as_str()), (r.a, "rb"));
        }
        // Impairments travel whole: the lab decides which direction it applies.
        assert_eq!(l.a_to_b, b.plan.links[slow.link].a_to_b);
    }
}

#[test]
fn the_shards_together_hold_every_node_and_link_end_once() {
    let whole = emulation();
    let mut nodes = BTreeSet::new();
    let mut ends = Vec::new();
    for k in 0..2 {
        let p = sub(k);
        for n in p.user_nodes() {
            assert!(nodes.insert(n.name.clone()));
        }
        for v in &p.veths {
            ends.push(format!("{}:{}", p.nodes[v.a.node].name, p.iface(v.a).name));
        }
    }
    assert_eq!(nodes.len(), whole.user_nodes().count());
    // 6 links: 4 inside a shard (one veth each), the userspace one: one veth per shard.
    assert_eq!(ends.len(), 6);
}

#[test]
fn peers_override_underlay_addresses() {
    let peers = BTreeMap::from([(0, ip("192.0.2.10")), (1, ip("192.0.2.11"))]);
    let p = shard_subplan(&bundle(), 1, &peers).unwrap();
    assert!(
        p.vxlans
            .iter()
            .all(|v| v.local == ip("192.0.2.11") && v.remote == ip("192.0.2.10"))
    );
}

#[test]
fn one_shard_is_the_whole_lab_with_its_fabric_renamed() {
    let whole = emulation();
    let one = split(&whole, &[], &[ip("10.9.0.1")], 1500);
    let mut p = shard_subplan(&one, 0, &BTreeMap::new()).unwrap();
    assert!(p.vxlans.is_empty());
    let f = p.nodes.len() - 1;
    assert_eq!(p.nodes[f].netns, "em-_fabric0");
    p.nodes[f].name = whole.nodes[f].name.clone();
    p.nodes[f].netns = whole.nodes[f].netns.clone();
    assert_eq!(p, whole);
}

#[test]
fn bad_bundles_are_refused_with_the_reason() {
    let err = |b: &ShardedPlan, k| {
        shard_subplan(b, k, &BTreeMap::new())
            .unwrap_err()
            .to_string()
    };
    assert!(
        err(&bundle(), 2).contains("shard 2 does not exist"),
        "{}",
        err(&bundle(), 2)
    );
    let mut b = bundle();
    b.shards.assign.remove("sb");
    assert!(err(&b, 0).contains("node `sb` is on no shard"));
    let mut b = bundle();
    b.shards.assign.insert("sb".into(), 7);
    assert!(err(&b, 0).contains("assigned to shard 7"));
    let mut b = bundle();
    b.shards.cross.remove(0);
    assert!(err(&b, 0).contains("not listed as cross-shard"));
    let mut b = bundle();
    b.version = 2;
    assert!(err(&b, 0).contains("version 2"));
    let mut b = bundle();
    b.shards.cross[0].link = 99;
    assert!(!err(&b, 0).is_empty());
}

#[test]
fn a_whole_plan_serializes_without_vxlans() {
    let j = serde_json::to_string(&emulation()).unwrap();
    assert!(!j.contains("vxlans"));
    let j = serde_json::to_string(&sub(0)).unwrap();
    let back: Plan = serde_json::from_str(&j).unwrap();
    assert_eq!(back, sub(0));
}
