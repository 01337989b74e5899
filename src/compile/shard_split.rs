//! Shard `k`'s own Plan, cut out of a [`ShardedPlan`] (issue 13): what `topolab agent
//! --shard K` applies. Pure: no kernel, no clock.
//!
//! ```text
//!  whole Plan ──▶ nodes of shard k (re-indexed, names, namespaces, routes unchanged)
//!             ──▶ veths with both ends on k
//!             ──▶ links with an end on k (re-numbered; `VxlanPlan::topo_link` keeps
//!                 the topology's number)
//!             ──▶ the fabric as `_fabric<k>` (namespace `<lab>-_fabric<k>`) with the relay
//!                 ports of k's userspace links
//!             ──▶ one VxlanPlan per cross-shard link end:
//!                   plain/kernel: the node's interface itself is the VXLAN device (same
//!                     name, ifindex, MAC, MTU, addresses; its kernel shaper stays);
//!                   userspace: the fabric's far-side relay port is the VXLAN device; the
//!                     relay applies the direction leaving this shard only.
//! ```
//! In the sub-plan a cross-shard link's far end (`LinkPlan::a` or `b`) is the VXLAN
//! device's [`IfaceRef`] (so every reference indexes this shard's nodes), and the VXLAN
//! interface's `peer` is itself: its other end is on another machine.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::shard::{ShardError, ShardedPlan};
use super::{IfaceRef, LinkPlan, MgmtIface, NodePlan, Plan, RelayPlan, VethPlan};
use crate::topology::NodeKind;

/// One end of a cross-shard link carried by a VXLAN device on this shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VxlanPlan {
    /// Index of the link in this (sub-)Plan's `links`.
    pub link: usize,
    /// Index of the link in the topology (`CrossLink::link`).
    pub topo_link: usize,
    /// The interface that is the VXLAN device (a node's interface, or a fabric port).
    pub iface: IfaceRef,
    pub vni: u32,
    /// UDP port (both ends).
    pub port: u16,
    /// This machine's underlay address and the peer machine's.
    pub local: IpAddr,
    pub remote: IpAddr,
    /// The shard holding the far end.
    pub peer_shard: u32,
    /// The far end of the link as `node:iface` (for `link`, `inspect`).
    pub peer_node: String,
    pub peer_iface: String,
    /// Whether the far end is the link's `a` end (else its `b` end).
    pub remote_is_a: bool,
}

/// The name of shard `k`'s fabric node (namespace `<lab>-_fabric<k>`).
pub fn fabric_name(k: u32) -> String {
    format!("{}{k}", super::emulation::FABRIC_NODE)
}

/// The name of shard `k`'s management network namespace suffix (`<lab>-_mgmt<k>`).
fn mgmt_name(k: u32) -> String {
    format!("_mgmt{k}")
}

fn other(msg: impl Into<String>) -> ShardError {
    ShardError::Other(msg.into())
}

/// The underlay address of shard `s`: `peers` (e.g. pod IPs known only after scheduling)
/// override the bundle's machines.
pub fn underlay_of(
    sp: &ShardedPlan,
    peers: &BTreeMap<u32, IpAddr>,
    s: u32,
) -> Result<IpAddr, ShardError> {
    if let Some(a) = peers.get(&s) {
        return Ok(*a);
    }
    sp.shards
        .machines
        .get(s as usize)
        .map(|m| m.underlay)
        .ok_or_else(|| other(format!("no machine for shard {s}")))
}

/// Which shard each node of the whole Plan is on (`None`: the fabric, split per shard).
fn shards_of_nodes(sp: &ShardedPlan) -> Result<Vec<Option<u32>>, ShardError> {
    let n = sp.shards.machines.len() as u32;
    sp.plan
        .nodes
        .iter()
        .map(|node| match node.kind {
            NodeKind::Fabric => Ok(None),
            NodeKind::Host
            | NodeKind::Router
            | NodeKind::Switch
            | NodeKind::OfSwitch
            | NodeKind::Controller => match sp.shards.assign.get(&node.name) {
                Some(&s) if s < n => Ok(Some(s)),
                Some(&s) => Err(other(format!(
                    "node `{}` is assigned to shard {s}, but there are {n} shards",
                    node.name
                ))),
                None => Err(other(format!("node `{}` is on no shard", node.name))),
            },
        })
        .collect()
}

fn bad_ref(link: usize) -> ShardError {
    other(format!("the plan is inconsistent around link {link}"))
}

/// Every reference of `plan` points at something that exists (a bundle is outside input:
/// it is checked before anything indexes with it).
fn check_refs(plan: &Plan) -> Result<(), ShardError> {
    let ok = |r: IfaceRef| {
        plan.nodes
            .get(r.node)
            .is_some_and(|n| r.iface < n.ifaces.len())
    };
    let nlinks = plan.links.len();
    let bad = |what: String| Err(other(format!("the plan is inconsistent: {what}")));
    for (i, l) in plan.links.iter().enumerate() {
        let relay_ok = l.relay.is_none_or(|r| {
            ok(r.a)
                && ok(r.b)
                && [r.a, r.b]
                    .iter()
                    .all(|p| plan.nodes[p.node].kind == NodeKind::Fabric)
        });
        if l.link != i || !ok(l.a) || !ok(l.b) || !relay_ok {
            return bad(format!("link {i}"));
        }
    }
    for n in &plan.nodes {
        for i in &n.ifaces {
            if !ok(i.peer) || i.link >= nlinks {
                return bad(format!("{}:{}", n.name, i.name));
            }
        }
        if n.shapers.iter().any(|s| s.link >= nlinks) {
            return bad(format!("shapers of {}", n.name));
        }
    }
    if plan
        .veths
        .iter()
        .any(|v| !ok(v.a) || !ok(v.b) || v.link >= nlinks)
    {
        return bad("veths".into());
    }
    if let Some(m) = &plan.mgmt
        && m.nodes.iter().any(|i| i.node >= plan.nodes.len())
    {
        return bad("management network".into());
    }
    if !plan.vxlans.is_empty() {
        return bad("the whole lab's plan has VXLAN ends".into());
    }
    Ok(())
}

/// Reads a bundle (`topolab plan --shards N --out FILE`); a JSON error says where.
pub fn parse_bundle(text: &str) -> Result<ShardedPlan, ShardError> {
    serde_json::from_str(text).map_err(|e| other(json_error(&e)))
}

/// Reads a peers file: `{"0": "10.0.0.1", "1": "10.0.0.2", …}` (shard → underlay address).
pub fn parse_peers(text: &str) -> Result<BTreeMap<u32, IpAddr>, ShardError> {
    serde_json::from_str(text).map_err(|e| other(json_error(&e)))
}

/// A JSON error as `line L, column C: what`.
fn json_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    // serde_json ends its messages with " at line L column C"; say it once, first.
    let msg = msg
        .rsplit_once(" at line ")
        .map_or(msg.as_str(), |(m, _)| m)
        .to_string();
    format!("line {}, column {}: {msg}", e.line(), e.column())
}

/// Shard `k`'s part of the lab (see the module doc).
pub fn shard_subplan(
    sp: &ShardedPlan,
    k: u32,
    peers: &BTreeMap<u32, IpAddr>,
) -> Result<Plan, ShardError> {
    let plan = &sp.plan;
    let nshards = sp.shards.machines.len() as u32;
    if sp.version != 1 {
        return Err(other(format!(
            "bundle format version {} (this topolab reads version 1)",
            sp.version
        )));
    }
    if k >= nshards {
        return Err(other(format!(
            "shard {k} does not exist: the bundle has {nshards} shard(s), 0 to {}",
            nshards.saturating_sub(1)
        )));
    }
    if sp.shards.lab != plan.lab {
        return Err(other(format!(
            "the split is for lab `{}`, the plan for lab `{}`",
            sp.shards.lab, plan.lab
        )));
    }
    check_refs(plan)?;
    let shard_of = shards_of_nodes(sp)?;
    let cross: BTreeMap<usize, &super::shard::CrossLink> =
        sp.shards.cross.iter().map(|c| (c.link, c)).collect();
    // The shard of each end of every link (a relay port's is its node's).
    let end_shard = |r: IfaceRef| -> Option<u32> { shard_of.get(r.node).copied().flatten() };
    for l in &plan.links {
        let (Some(sa), Some(sb)) = (end_shard(l.a), end_shard(l.b)) else {
            return Err(other(format!(
                "link {} does not join two user nodes",
                l.link
            )));
        };
        match cross.get(&l.link) {
            None if sa != sb => {
                return Err(other(format!(
                    "link {} joins shards {sa} and {sb} but is not listed as cross-shard",
                    l.link
                )));
            }
            Some(c) if (c.a_shard, c.b_shard) != (sa, sb) => {
                return Err(other(format!(
                    "link {}: the split says shards {} and {}, the assignment {sa} and {sb}",
                    l.link, c.a_shard, c.b_shard
                )));
            }
            _ => {}
        }
    }
    for c in cross.values() {
        if c.link >= plan.links.len() {
            return Err(other(format!("cross-shard link {} does not exist", c.link)));
        }
    }

    // Nodes of shard k, in order; the fabric comes last (as in compile).
    let mut node_map: BTreeMap<usize, usize> = BTreeMap::new();
    let mut nodes: Vec<NodePlan> = Vec::new();
    for (i, n) in plan.nodes.iter().enumerate() {
        if shard_of[i] == Some(k) {
            node_map.insert(i, nodes.len());
            nodes.push(n.clone());
        }
    }
    // Relay ports of the links with an end here: both ports of each such link.
    let fabric_old = plan.nodes.iter().position(|n| n.kind == NodeKind::Fabric);
    let mut fabric_iface_map: BTreeMap<usize, usize> = BTreeMap::new();
    let local_link = |l: &LinkPlan| end_shard(l.a) == Some(k) || end_shard(l.b) == Some(k);
    if let Some(f) = fabric_old {
        let mut fabric = plan.nodes[f].clone();
        fabric.ifaces.clear();
        for l in plan.links.iter().filter(|l| local_link(l)) {
            if let Some(r) = l.relay {
                for port in [r.a, r.b] {
                    fabric_iface_map.insert(port.iface, fabric.ifaces.len());
                    fabric.ifaces.push(plan.iface(port).clone());
                }
            }
        }
        if !fabric.ifaces.is_empty() {
            fabric.name = fabric_name(k);
            fabric.netns = format!("{}-{}", plan.lab, fabric.name);
            node_map.insert(f, nodes.len());
            nodes.push(fabric);
        }
    }
    let map = |r: IfaceRef| -> Option<IfaceRef> {
        let node = *node_map.get(&r.node)?;
        let iface = if Some(r.node) == fabric_old {
            *fabric_iface_map.get(&r.iface)?
        } else {
            r.iface
        };
        Some(IfaceRef { node, iface })
    };

    // Links with an end here, re-numbered.
    let mut link_map: BTreeMap<usize, usize> = BTreeMap::new();
    let mut links = Vec::new();
    let mut vxlans = Vec::new();
    for l in plan.links.iter().filter(|l| local_link(l)) {
        let idx = links.len();
        link_map.insert(l.link, idx);
        let relay = match l.relay {
            None => None,
            Some(r) => Some(RelayPlan {
                a: map(r.a).ok_or_else(|| bad_ref(l.link))?,
                b: map(r.b).ok_or_else(|| bad_ref(l.link))?,
                per_packet: r.per_packet,
            }),
        };
        let (mut a, mut b) = (map(l.a), map(l.b));
        if let Some(c) = cross.get(&l.link) {
            let remote_is_a = a.is_none();
            let (far_end, far_shard) = if remote_is_a {
                (l.a, c.a_shard)
            } else {
                (l.b, c.b_shard)
            };
            // The VXLAN device: the local node's own interface, or the far-side relay port.
            let dev = match relay {
                Some(r) if remote_is_a => r.a,
                Some(r) => r.b,
                None => a.or(b).ok_or_else(|| bad_ref(l.link))?,
            };
            if remote_is_a {
                a = Some(dev);
            } else {
                b = Some(dev);
            }
            let far_node = &plan.nodes[far_end.node];
            vxlans.push(VxlanPlan {
                link: idx,
                topo_link: l.link,
                iface: dev,
                vni: c.vni,
                port: c.port,
                local: underlay_of(sp, peers, k)?,
                remote: underlay_of(sp, peers, far_shard)?,
                peer_shard: far_shard,
                peer_node: far_node.name.clone(),
                peer_iface: far_node.ifaces[far_end.iface].name.clone(),
                remote_is_a,
            });
        }
        links.push(LinkPlan {
            link: idx,
            a: a.ok_or_else(|| bad_ref(l.link))?,
            b: b.ok_or_else(|| bad_ref(l.link))?,
            relay,
            ..l.clone()
        });
    }

    // Interfaces: peers and link numbers in the sub-plan; a VXLAN device is its own peer.
    let vx_refs: Vec<IfaceRef> = vxlans.iter().map(|v| v.iface).collect();
    for (ni, node) in nodes.iter_mut().enumerate() {
        for (ii, iface) in node.ifaces.iter_mut().enumerate() {
            let me = IfaceRef {
                node: ni,
                iface: ii,
            };
            iface.link = *link_map
                .get(&iface.link)
                .ok_or_else(|| bad_ref(iface.link))?;
            iface.peer = if vx_refs.contains(&me) {
                me
            } else {
                // Its peer is here unless this interface is a VXLAN device (above).
                map(iface.peer).ok_or_else(|| {
                    other(format!(
                        "{}:{}: peer on another shard",
                        node.name, iface.name
                    ))
                })?
            };
        }
        for s in &mut node.shapers {
            s.link = *link_map.get(&s.link).ok_or_else(|| bad_ref(s.link))?;
        }
    }
    let mut veths: Vec<VethPlan> = Vec::new();
    for v in &plan.veths {
        let (Some(a), Some(b)) = (map(v.a), map(v.b)) else {
            continue;
        };
        if !vx_refs.contains(&a) && !vx_refs.contains(&b) {
            let link = *link_map.get(&v.link).ok_or_else(|| bad_ref(v.link))?;
            veths.push(VethPlan { a, b, link });
        }
    }

    // The management network stays inside the shard (its own namespace per shard).
    let mgmt = match &plan.mgmt {
        None => None,
        Some(m) if nshards == 1 => Some(m.clone()),
        Some(m) => {
            if m.host.is_some() {
                return Err(other(
                    "`mgmt: {host: true}` is not supported in a lab split across shards",
                ));
            }
            let mut m = m.clone();
            m.netns = format!("{}-{}", plan.lab, mgmt_name(k));
            m.nodes = m
                .nodes
                .iter()
                .filter_map(|i| {
                    Some(MgmtIface {
                        node: *node_map.get(&i.node)?,
                        ..i.clone()
                    })
                })
                .collect();
            Some(m)
        }
    };

    Ok(Plan {
        lab: plan.lab.clone(),
        nodes,
        veths,
        links,
        mgmt,
        vxlans,
    })
}

impl Plan {
    /// The VXLAN end of link `idx` of this (sub-)Plan, if its far end is on another shard.
    pub fn vxlan_of(&self, idx: usize) -> Option<&VxlanPlan> {
        self.vxlans.iter().find(|v| v.link == idx)
    }

    /// Whether end `a` (else `b`) of link `idx` is on this shard (always, in a whole Plan).
    pub fn end_is_local(&self, idx: usize, a: bool) -> bool {
        self.vxlan_of(idx).is_none_or(|v| v.remote_is_a != a)
    }
}

#[cfg(test)]
#[path = "shard_split_tests.rs"]
mod tests;
