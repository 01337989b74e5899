//! A hand-made split of a compiled Plan into shards, for tests that need a
//! [`ShardedPlan`] without the planner: nodes go where `assign` says (unlisted nodes to
//! shard 0), every link across shards gets VNI = link + 1 and UDP port 4789. Shared by
//! integration tests (through `tests/common`) and the crate's unit tests (a `#[path]`
//! include).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;

use topolab::compile::Plan;
use topolab::compile::shard::{CrossLink, Machine, ShardPlan, ShardedPlan};

/// Splits `plan` over machines at `underlays` (one per shard, underlay MTU `mtu`).
pub fn split(plan: &Plan, assign: &[(&str, u32)], underlays: &[IpAddr], mtu: u32) -> ShardedPlan {
    let pinned: BTreeMap<&str, u32> = assign.iter().copied().collect();
    let assign: BTreeMap<String, u32> = plan
        .user_nodes()
        .map(|n| {
            (
                n.name.clone(),
                pinned.get(n.name.as_str()).copied().unwrap_or(0),
            )
        })
        .collect();
    let shard_of = |r: topolab::compile::IfaceRef| assign[&plan.nodes[r.node].name];
    let cross = plan
        .links
        .iter()
        .filter(|l| shard_of(l.a) != shard_of(l.b))
        .map(|l| CrossLink {
            link: l.link,
            a_shard: shard_of(l.a),
            b_shard: shard_of(l.b),
            vni: l.link as u32 + 1,
            port: 4789,
            mtu: plan.iface(l.a).mtu,
        })
        .collect::<Vec<_>>();
    ShardedPlan {
        version: 1,
        shards: ShardPlan {
            lab: plan.lab.clone(),
            machines: underlays
                .iter()
                .enumerate()
                .map(|(i, u)| Machine {
                    name: format!("m{i}"),
                    underlay: *u,
                    mtu,
                    weight: 1,
                })
                .collect(),
            assign,
            cut_weight: cross.len() as u64,
            cross,
            method: "pins".into(),
            control_port: 7946,
        },
        plan: plan.clone(),
    }
}
