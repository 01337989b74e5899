//! A tiny forwarding simulator over a [`Plan`], to check without root that its static
//! routes deliver: every host reaches every address of every other host.
//!
//! Model: an interface's segment is every L3 interface reachable through its veth peer
//! and, from switch ports, through the bridge's forwarding ports (blocked ports carry
//! nothing). A node delivers a packet addressed to itself; otherwise it picks the longest
//! prefix among its connected subnets and routes (kernel semantics), hands the packet to the
//! interface on that segment owning the destination (connected) or the gateway (routed),
//! and counts a hop. Hosts never forward; a packet that would need it is a failure.

use std::collections::{BTreeSet, VecDeque};
use std::net::IpAddr;

use topolab::compile::{IfaceRef, Plan, PortRole};
use topolab::topology::NodeKind;

/// L3 interfaces on the same segment as `start` (including `start`).
fn segment(plan: &Plan, start: IfaceRef) -> Vec<IfaceRef> {
    let mut seen = BTreeSet::from([start]);
    let mut queue = VecDeque::from([start]);
    let mut out = Vec::new();
    while let Some(r) = queue.pop_front() {
        let node = &plan.nodes[r.node];
        let iface = plan.iface(r);
        if node.kind != NodeKind::Switch {
            out.push(r);
        }
        let mut next = vec![iface.peer];
        if node.kind == NodeKind::Switch && iface.port == Some(PortRole::Forwarding) {
            next.extend(
                node.ifaces
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| i.port == Some(PortRole::Forwarding))
                    .map(|(k, _)| IfaceRef {
                        node: r.node,
                        iface: k,
                    }),
            );
        }
        for n in next {
            // A blocked switch port does not pass frames into the bridge, but the veth
            // itself still connects its two ends.
            if seen.insert(n) {
                queue.push_back(n);
            }
        }
    }
    out
}

fn owns(plan: &Plan, node: usize, dst: IpAddr) -> bool {
    let n = &plan.nodes[node];
    n.loopback.iter().any(|a| a.addr() == dst)
        || n.ifaces
            .iter()
            .flat_map(|i| &i.addrs)
            .any(|a| a.addr() == dst)
}

/// Follows the packet from `from` to `dst`; `Err` says where it got stuck.
pub fn deliver(plan: &Plan, from: usize, dst: IpAddr) -> Result<Vec<String>, String> {
    let mut at = from;
    let mut path = vec![plan.nodes[at].name.clone()];
    for _ in 0..64 {
        let node = &plan.nodes[at];
        if owns(plan, at, dst) {
            return Ok(path);
        }
        if at != from && node.kind != NodeKind::Router {
            return Err(format!(
                "{path:?}: host {} would have to forward",
                node.name
            ));
        }
        // Longest prefix: connected subnets (gateway = dst) and routes (gateway = via).
        let mut best: Option<(u8, usize, IpAddr)> = None;
        for (k, i) in node.ifaces.iter().enumerate() {
            for a in i.addrs.iter().filter(|a| a.trunc().contains(&dst)) {
                if best.is_none_or(|(len, _, _)| a.prefix_len() > len) {
                    best = Some((a.prefix_len(), k, dst));
                }
            }
        }
        for r in node.routes.iter().filter(|r| r.dst.contains(&dst)) {
            let k = node.ifaces.iter().position(|i| i.ifindex == r.dev).unwrap();
            if best.is_none_or(|(len, _, _)| r.dst.prefix_len() > len) {
                best = Some((r.dst.prefix_len(), k, r.via));
            }
        }
        let Some((_, k, gw)) = best else {
            return Err(format!("{path:?}: {} has no route to {dst}", node.name));
        };
        let seg = segment(plan, IfaceRef { node: at, iface: k });
        let Some(next) = seg
            .iter()
            .find(|r| r.node != at && plan.iface(**r).addrs.iter().any(|a| a.addr() == gw))
        else {
            return Err(format!("{path:?}: {gw} is not on {}'s segment", node.name));
        };
        at = next.node;
        path.push(plan.nodes[at].name.clone());
    }
    Err(format!("{path:?}: loop"))
}

/// Every host reaches every interface address of every other host; returns the failures.
pub fn all_hosts_reach_each_other(plan: &Plan) -> Vec<String> {
    let hosts: Vec<usize> = (0..plan.nodes.len())
        .filter(|&i| plan.nodes[i].kind == NodeKind::Host)
        .collect();
    let mut failures = Vec::new();
    for &a in &hosts {
        for &b in hosts.iter().filter(|&&b| b != a) {
            for addr in plan.nodes[b].ifaces.iter().flat_map(|i| &i.addrs) {
                if let Err(e) = deliver(plan, a, addr.addr()) {
                    failures.push(e);
                }
            }
        }
    }
    failures
}
