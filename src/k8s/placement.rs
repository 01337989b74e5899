//! PLACEHOLDER — round-robin shard placement, used until the planner's
//! `compile::shard` partition lands on main; then [`split`] calls it and this round-robin
//! goes. It fills the same [`ShardPlan`] the planner does, without pins, METIS or the MTU
//! check: user node `i` (in Plan order) goes to shard `i % shards`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use crate::compile::Plan;
use crate::compile::shard::{CrossLink, Machine, ShardError, ShardPlan, ShardedPlan};

/// UDP port of every cross-shard VXLAN link (the IANA VXLAN port).
const VXLAN_PORT: u16 = 4789;

/// The machines of a Kubernetes lab: `shard-<k>`, underlay address unknown (0.0.0.0)
/// until the pods are scheduled — agents get the real ones from `peers.json`.
pub fn pod_machines(shards: u32, underlay_mtu: u32) -> Vec<Machine> {
    (0..shards)
        .map(|k| Machine {
            name: format!("shard-{k}"),
            underlay: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            mtu: underlay_mtu,
            weight: 1,
        })
        .collect()
}

/// Splits `plan` over `machines` (PLACEHOLDER: round robin, see the module doc).
pub fn split(
    plan: Plan,
    machines: Vec<Machine>,
    control_port: u16,
) -> Result<ShardedPlan, ShardError> {
    let n = machines.len() as u32;
    if n == 0 {
        return Err(ShardError::Other("a lab needs at least one shard".into()));
    }
    let mut assign = BTreeMap::new();
    let mut shard_of = vec![0u32; plan.nodes.len()];
    for (i, node) in plan.user_nodes().enumerate() {
        assign.insert(node.name.clone(), i as u32 % n);
    }
    for (i, node) in plan.nodes.iter().enumerate() {
        shard_of[i] = assign.get(&node.name).copied().unwrap_or(0);
    }
    let mut cross = Vec::new();
    let mut cut_weight = 0;
    for l in &plan.links {
        let (a, b) = (shard_of[l.a.node], shard_of[l.b.node]);
        if a != b {
            cut_weight += 1;
            cross.push(CrossLink {
                link: l.link,
                a_shard: a,
                b_shard: b,
                vni: l.link as u32 + 1,
                port: VXLAN_PORT,
                mtu: plan.nodes[l.a.node].ifaces[l.a.iface].mtu,
            });
        }
    }
    Ok(ShardedPlan {
        version: 1,
        shards: ShardPlan {
            lab: plan.lab.clone(),
            machines,
            assign,
            cross,
            cut_weight,
            method: if n == 1 { "single" } else { "round-robin" }.into(),
            control_port,
        },
        plan,
    })
}
