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

//!
//! How the split is planned ([`plan_shards`], [`partition`]):
//! - the graph: one vertex per user node, weighted [`node_weight`] (1, plus 2 per `run:`
//!   command, plus 3 per built-in daemon: an OpenFlow switch carries its ports' traffic
//!   in userspace, a BGP speaker holds tables); one edge per link, weighted
//!   [`link_weight`] (its rate in Mbit/s, the faster direction; an unlimited link counts
//!   [`UNLIMITED_LINK_WEIGHT`], what a veth carries), parallel links summed;
//! - pins come from the topology's `placement:` (node → shard); a shard number not below
//!   the number of shards is an error pointing at it;
//! - METIS cuts the graph (see `partition.rs`: target part weights are the machines'
//!   `weight`s, imbalance bound 3 %, fixed seed), its parts are renamed after the pins
//!   they hold, and every pin is then forced;
//! - refused for now (a clear error): more shards than nodes, and a management network
//!   (`mgmt:`, or OpenFlow switches that reach a controller node through it) across
//!   several shards — the management network is one bridge on one machine.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use super::partition::{self, Graph};
use super::{LinkPlan, NodePlan, Plan, ServiceWhat};
use crate::topology::{ErrorKind, Topology, TopologyError};

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
    #[error("{shards} shards for a lab of {nodes} nodes: every shard needs at least one node")]
    TooManyShards { shards: usize, nodes: usize },
    #[error("no machines to split the lab over")]
    NoMachines,
    #[error("{0}")]
    Metis(#[from] partition::MetisError),
}

/// Why [`plan_shards`] failed: a mistake in the topology file (with its line and column),
/// or a split that cannot be made.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlanShardsError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Topology(#[from] TopologyError),
    #[error(transparent)]
    Shard(#[from] ShardError),
}

/// Version of the [`ShardedPlan`] format written by `topolab plan --out`.
pub const SHARDED_PLAN_VERSION: u32 = 1;

/// Weight of a link without a rate (Mbit/s): about what a veth carries (9–14 Gbit/s
/// measured on this machine kind), so an unlimited link is never cheaper to cut than a
/// limited one.
pub const UNLIMITED_LINK_WEIGHT: u64 = 10_000;

/// Underlay MTU of the machines `--shards N` makes up when no machines file is given:
/// what the local launcher builds (its underlay bridge and veths carry jumbo frames).
pub const DEFAULT_UNDERLAY_MTU: u32 = 9000;

/// First VXLAN UDP port: a lab's port is `14790 + fnv1a(lab) % 1000` (14790..=15789,
/// below Linux's ephemeral range, next to clabernetes' 14789).
pub const VXLAN_PORT_BASE: u16 = 14790;

/// First control-channel TCP port: a lab's is `15790 + fnv1a(lab) % 1000`.
pub const CONTROL_PORT_BASE: u16 = 15790;

/// How heavy a node is to run: 1, plus 2 per `run:` command, plus 3 per built-in daemon.
pub fn node_weight(n: &NodePlan) -> u32 {
    1 + n
        .services
        .iter()
        .map(|s| match s.what {
            ServiceWhat::Command { .. } => 2,
            ServiceWhat::Daemon { .. } => 3,
        })
        .sum::<u32>()
}

/// How costly a link is to cut: its rate in Mbit/s (the faster direction, at least 1), or
/// [`UNLIMITED_LINK_WEIGHT`] when a direction has no rate; never above that.
pub fn link_weight(l: &LinkPlan) -> u64 {
    match (l.a_to_b.rate, l.b_to_a.rate) {
        (Some(a), Some(b)) => (a.max(b) / 1_000_000).clamp(1, UNLIMITED_LINK_WEIGHT),
        _ => UNLIMITED_LINK_WEIGHT,
    }
}

/// VXLAN network identifier of link `link` of lab `lab`: `(fnv1a(lab) + link) mod
/// (2²⁴ − 1) + 1` — never 0, 24 bits, distinct for every link of a lab, and two labs
/// collide only when their name hashes fall within a link count of each other (and then
/// their UDP ports must match too, see [`vxlan_port`]).
pub fn vni(lab: &str, link: usize) -> u32 {
    const SPACE: u64 = (1 << 24) - 1;
    let base = super::ifaces::fnv1a(lab.as_bytes()) % SPACE;
    ((base + link as u64 % SPACE) % SPACE) as u32 + 1
}

/// The VXLAN UDP port of every cross-shard link of lab `lab` (one socket per lab and
/// machine); see [`VXLAN_PORT_BASE`].
pub fn vxlan_port(lab: &str) -> u16 {
    VXLAN_PORT_BASE + (lab_hash(lab) % 1000) as u16
}

/// The agents' control-channel TCP port of lab `lab`; see [`CONTROL_PORT_BASE`].
pub fn control_port(lab: &str) -> u16 {
    CONTROL_PORT_BASE + (lab_hash(lab) % 1000) as u16
}

/// The port hash: other bits of the name's hash than the VNI's.
fn lab_hash(lab: &str) -> u64 {
    super::ifaces::fnv1a(lab.as_bytes()) >> 40
}

/// The machines `--shards N` stands for when no machines file is given: `m0` … `m{N-1}`,
/// underlay `10.255.0.{k+1}`, MTU `mtu`, weight 1. At most 254 (one /24).
pub fn default_machines(n: u32, mtu: u32) -> Result<Vec<Machine>, ShardError> {
    if n == 0 {
        return Err(ShardError::NoMachines);
    }
    if n > 254 {
        return Err(ShardError::Other(format!(
            "{n} shards without a machines file: the made-up underlay 10.255.0.0/24 has \
             room for 254; list the machines with --machines"
        )));
    }
    Ok((0..n)
        .map(|k| Machine {
            name: format!("m{k}"),
            underlay: IpAddr::V4(Ipv4Addr::new(10, 255, 0, k as u8 + 1)),
            mtu,
            weight: 1,
        })
        .collect())
}

/// Compiles `topology` as lab `lab` and splits it over `machines` (shard `k` on
/// `machines[k]`): the file `topolab plan --out` writes, and what `up --shards` starts.
pub fn plan_shards(
    topology: &Topology,
    lab: &str,
    machines: &[Machine],
) -> Result<ShardedPlan, PlanShardsError> {
    let plan = super::compile(topology, lab)?;
    let shards = partition(&plan, topology, machines)?;
    Ok(ShardedPlan {
        version: SHARDED_PLAN_VERSION,
        shards,
        plan,
    })
}

/// Splits compiled `plan` (of `topology`) over `machines`: pins from `placement:`, METIS
/// for the rest, VNIs and ports for the cut links, the MTU check. Pure.
pub fn partition(
    plan: &Plan,
    topology: &Topology,
    machines: &[Machine],
) -> Result<ShardPlan, PlanShardsError> {
    let k = machines.len();
    if k == 0 {
        return Err(ShardError::NoMachines.into());
    }
    let users: Vec<usize> = (0..plan.nodes.len())
        .filter(|&i| !plan.nodes[i].kind.is_internal())
        .collect();
    let mut vertex_of = vec![None; plan.nodes.len()];
    for (v, &i) in users.iter().enumerate() {
        vertex_of[i] = Some(v as u32);
    }
    let mut pins: Vec<Option<u32>> = vec![None; users.len()];
    for pin in &topology.placement {
        if pin.shard >= k as u64 {
            return Err(TopologyError::new(
                ErrorKind::BadValue,
                &topology.source,
                pin.span,
                format!(
                    "shard {} is out of range: the lab is split over {k} shard{} (0..={})",
                    pin.shard,
                    if k == 1 { "" } else { "s" },
                    k - 1
                ),
            )
            .with_help("shards are numbered from 0; pin the node to an existing shard")
            .into());
        }
        // Compile keeps the topology's nodes first, in order.
        let same = plan
            .nodes
            .get(pin.node)
            .is_some_and(|n| n.name == topology.nodes[pin.node].name);
        if let Some(v) = vertex_of.get(pin.node).copied().flatten().filter(|_| same) {
            pins[v as usize] = Some(pin.shard as u32);
        }
    }
    if k > 1 {
        refuse_mgmt(topology, k)?;
        if users.len() < k {
            return Err(ShardError::TooManyShards {
                shards: k,
                nodes: users.len(),
            }
            .into());
        }
    }

    let mut g = Graph::new(users.iter().map(|&i| node_weight(&plan.nodes[i])).collect());
    let mut link_ends = Vec::with_capacity(plan.links.len());
    for l in &plan.links {
        let ends = vertex_of[l.a.node].zip(vertex_of[l.b.node]);
        if let Some((a, b)) = ends {
            g.add_edge(a, b, link_weight(l));
        }
        link_ends.push(ends);
    }
    let targets: Vec<u32> = machines.iter().map(|m| m.weight.max(1)).collect();
    let parts = partition::partition(&g, &targets, &pins).map_err(ShardError::from)?;

    let method = if k == 1 {
        "single"
    } else if parts.metis {
        "metis"
    } else {
        "pins"
    };
    let lab = &plan.lab;
    let port = vxlan_port(lab);
    let mut cross = Vec::new();
    for (l, ends) in plan.links.iter().zip(&link_ends) {
        let Some((a, b)) = ends else { continue };
        let (sa, sb) = (parts.part[*a as usize], parts.part[*b as usize]);
        if sa == sb {
            continue;
        }
        let mtu = plan.iface(l.a).mtu.max(plan.iface(l.b).mtu);
        for s in [sa, sb] {
            let m = &machines[s as usize];
            let need = mtu.saturating_add(VXLAN_OVERHEAD);
            if m.mtu < need {
                return Err(ShardError::Mtu {
                    a: plan.nodes[l.a.node].name.clone(),
                    b: plan.nodes[l.b.node].name.clone(),
                    mtu,
                    machine: m.name.clone(),
                    underlay: m.mtu,
                    need,
                }
                .into());
            }
        }
        cross.push(CrossLink {
            link: l.link,
            a_shard: sa,
            b_shard: sb,
            vni: vni(lab, l.link),
            port,
            mtu,
        });
    }
    Ok(ShardPlan {
        lab: lab.clone(),
        machines: machines.to_vec(),
        assign: users
            .iter()
            .zip(&parts.part)
            .map(|(&i, &s)| (plan.nodes[i].name.clone(), s))
            .collect(),
        cross,
        cut_weight: g.cut(&parts.part),
        method: method.into(),
        control_port: control_port(lab),
    })
}

/// The management network is one bridge in one namespace: it cannot span machines yet.
fn refuse_mgmt(topology: &Topology, k: usize) -> Result<(), TopologyError> {
    let Some(mgmt) = &topology.mgmt else {
        return Ok(());
    };
    let (at, what) = match crate::topology::openflow_check::needs_mgmt(&topology.nodes) {
        Some(at) => (
            at,
            "OpenFlow switches reach this controller node over the management network",
        ),
        None => (mgmt.span, "the lab has a management network (`mgmt:`)"),
    };
    Err(TopologyError::new(
        ErrorKind::BadValue,
        &topology.source,
        at,
        format!("{what}, which cannot span machines yet: split over {k} shards refused"),
    )
    .with_help(
        "run this lab on one machine (`--shards 1`), or drop the management network \
         (`mgmt: false`, and name external OpenFlow controllers as `tcp:IP:PORT`)",
    ))
}
