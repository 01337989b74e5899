//! Shards: one lab split across machines (issue 13).
//!
//! CONTRACT (types shared by the planner, the agent, the launchers and the Kubernetes
//! operator). The planner fills [`ShardPlan`] from a compiled [`Plan`] and a list of
//! [`Machine`]s; the agent of shard `k` derives its own part of the Plan from a
//! [`ShardedPlan`] (the file `topolab plan FILE --shards N --out F` writes and
//! `topolab agent --plan F --shard K` reads).
//!
//! Rules:
//! - every user node is on exactly one shard; pins (`shard:` on a node, `placement:`)
//!   win, METIS places the rest (weighted cut, balance bound);
//! - a cross-shard link is carried by one VXLAN device per end: VNI and UDP port are
//!   deterministic functions of the lab name and the link index;
//! - the underlay MTU of both ends' machines must be at least the link's MTU + 50
//!   ([`VXLAN_OVERHEAD`]), or planning fails with the numbers;
//! - pure: no kernel, no clock, no randomness; same input, same output.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::Plan;

/// Bytes a VXLAN encapsulation adds over IPv4 (outer Ethernet 14 + IPv4 20 + UDP 8 +
/// VXLAN 8): a lab link of MTU m needs an underlay MTU of at least m + 50.
pub const VXLAN_OVERHEAD: u32 = 50;

/// One machine a shard runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// A label (a Slurm node name, a pod name, `m0` …): shown, never used as a path.
    pub name: String,
    /// The machine's underlay address: VXLAN endpoints and the agent's control channel.
    pub underlay: IpAddr,
    /// The underlay's MTU.
    pub mtu: u32,
    /// Capacity weight (relative share of the nodes, by their weights).
    pub weight: u32,
}

/// Which shard each node is on, and how cross-shard links are carried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardPlan {
    /// The lab's name (the Plan's).
    pub lab: String,
    /// One per shard, shard `k` at index `k`.
    pub machines: Vec<Machine>,
    /// User node name → shard. Every user node of the Plan appears once.
    pub assign: BTreeMap<String, u32>,
    /// Every link whose ends are on different shards, in link order.
    pub cross: Vec<CrossLink>,
    /// Sum of the weights of the cut links (the planner's objective).
    pub cut_weight: u64,
    /// How the nodes were placed: `single` (one shard), `pins`, `metis`.
    pub method: String,
    /// TCP port of every agent's control channel (on its underlay address).
    pub control_port: u16,
}

/// A topology link whose two ends are on different shards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossLink {
    /// Index of the topology link (`LinkPlan::link`).
    pub link: usize,
    /// Shard of the link's `a` end and of its `b` end.
    pub a_shard: u32,
    pub b_shard: u32,
    /// VXLAN network identifier (24 bits, never 0).
    pub vni: u32,
    /// VXLAN UDP port (both ends).
    pub port: u16,
    /// The link's MTU (both ends' interfaces).
    pub mtu: u32,
}

/// What an agent needs: the whole lab's Plan and the split. Written by
/// `topolab plan --shards N --out FILE`, read by `topolab agent --plan FILE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardedPlan {
    /// Format version (1).
    pub version: u32,
    pub shards: ShardPlan,
    pub plan: Plan,
}

/// Why a split could not be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error(
        "link {a} — {b} has MTU {mtu}, but the underlay of machine `{machine}` has MTU \
         {underlay}: VXLAN needs {need} (link MTU + {VXLAN_OVERHEAD})"
    )]
    Mtu {
        a: String,
        b: String,
        mtu: u32,
        machine: String,
        underlay: u32,
        need: u32,
    },
    #[error("{0}")]
    Other(String),
}
