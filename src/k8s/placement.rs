//! PLACEHOLDER — round-robin shard placement, used until the planner's
//! `compile::shard::plan_shards` lands on main; then [`plan_shards`] calls it and this
//! round-robin goes. It fills the same [`ShardedPlan`] the planner does, without pins,
//! METIS or the MTU check: user node `i` (in Plan order) goes to shard `i % shards`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use crate::compile::shard::{CrossLink, Machine, ShardPlan, ShardedPlan};
use crate::topology::Topology;

/// UDP port of every cross-shard VXLAN link (PLACEHOLDER: the planner derives one per lab).
const VXLAN_PORT: u16 = 4789;

/// The agents' control port (PLACEHOLDER: the planner derives one per lab).
const CONTROL_PORT: u16 = 7470;

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

/// Compiles `topology` as lab `lab` and splits it over `machines` (PLACEHOLDER: round
/// robin, see the module doc). The error is one line; a topology error reads
/// `FILE:LINE:COL: message`.
pub fn plan_shards(
    topology: &Topology,
    lab: &str,
    machines: &[Machine],
) -> Result<ShardedPlan, String> {
    let plan = crate::compile::compile(topology, lab).map_err(|e| e.one_line())?;
    let n = machines.len() as u32;
    if n == 0 {
        return Err("a lab needs at least one shard".into());
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
            machines: machines.to_vec(),
            assign,
            cross,
            cut_weight,
            method: if n == 1 { "single" } else { "round-robin" }.into(),
            control_port: CONTROL_PORT,
        },
        plan,
    })
}
