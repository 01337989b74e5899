//! Where a Kubernetes lab's shards run: pods whose addresses are known only once they
//! are scheduled, split by the planner (`compile::shard::plan_shards`).

use std::net::{IpAddr, Ipv4Addr};

use crate::compile::shard::{self, Machine, PlanShardsError, ShardedPlan};
use crate::topology::Topology;

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

/// Compiles `topology` as lab `lab` and splits it over `machines` (the planner's pins,
/// METIS and MTU check). The error is one line; a topology error (a pin included) reads
/// `FILE:LINE:COL: message`.
pub fn plan_shards(
    topology: &Topology,
    lab: &str,
    machines: &[Machine],
) -> Result<ShardedPlan, String> {
    shard::plan_shards(topology, lab, machines).map_err(|e| match e {
        PlanShardsError::Topology(t) => t.one_line(),
        PlanShardsError::Shard(s) => s.to_string(),
    })
}
