//! The Plan: pure data describing every kernel object a lab needs, in the order apply
//! creates them. Compile produces it from a [`Topology`](crate::topology::Topology) and a
//! lab name; apply turns it into namespaces, links, addresses and routes; `topolab plan`
//! prints it as the equivalent `ip` commands.
//!
//! Invariants (compile guarantees them, apply relies on them):
//! - `nodes[i]` is namespace `nodes[i].netns`; [`IfaceRef`] indexes into `nodes` and
//!   `nodes[n].ifaces`.
//! - ifindexes are fixed here and unique within a namespace (`lo` is 1), so apply can
//!   address interfaces, bridges and routes without asking the kernel first.
//! - every veth appears once in `veths`, and both of its ends appear in `ifaces`.
//! - routes only use gateways inside a subnet of an interface of the same node.
//! - the same topology and lab name always give an identical Plan.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::topology::{Impairment, NodeKind};

/// Services, limits and files are plain data that `check` already produced; the Plan
/// carries them as they are (see `topology::service` for their rules).
pub use crate::topology::{
    NodeFile as FilePlan, NodeLimits, Readiness, RestartPolicy, RoutesMode, Service as ServicePlan,
    ServiceWhat, StopSignal,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Lab name: the prefix of every namespace name.
    pub lab: String,
    pub nodes: Vec<NodePlan>,
    pub veths: Vec<VethPlan>,
    /// Every topology link, in topology order, with the engine that carries it.
    pub links: Vec<LinkPlan>,
    /// The management network, when the topology asks for one.
    pub mgmt: Option<MgmtPlan>,
    /// A shard's sub-plan (issue 13): the ends of cross-shard links carried by VXLAN
    /// devices (see [`shard_subplan`](super::shard_split::shard_subplan)). Empty in a
    /// whole lab's Plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vxlans: Vec<super::shard_split::VxlanPlan>,
}

/// An out-of-band network: every node that [joins it](NodeKind::joins_mgmt) gets a veth
/// `mgmt0` whose other end is a port of bridge `br0` in the hidden namespace
/// `<lab>-_mgmt`. `mgmt0` has its address only (a connected prefix, no route through it),
/// so nothing is ever routed between the management network and the data plane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MgmtPlan {
    /// `<lab>-_mgmt` (`_` never starts a node name, so it clashes with no node).
    pub netns: String,
    /// The bridge in that namespace.
    pub bridge: String,
    pub bridge_ifindex: u32,
    pub bridge_mac: Mac,
    /// The pools (`None`: that family is off in `addressing`).
    pub ipv4: Option<IpNet>,
    pub ipv6: Option<IpNet>,
    /// One per joining node, in node order.
    pub nodes: Vec<MgmtIface>,
    /// `mgmt: {host: true}`: a veth into the root namespace.
    pub host: Option<MgmtHost>,
}

/// A node's `mgmt0` and its bridge port in the management namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MgmtIface {
    /// Index into `Plan::nodes`.
    pub node: usize,
    /// `mgmt0`.
    pub ifname: String,
    pub ifindex: u32,
    pub mac: Mac,
    /// The bridge port in the management namespace.
    pub peer: String,
    pub peer_ifindex: u32,
    pub peer_mac: Mac,
    /// Address(es) of `mgmt0`, with the pool's prefix length.
    pub addrs: Vec<IpNet>,
}

/// The root-namespace end of the management network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MgmtHost {
    /// In the root namespace: `tl-` and a hash of the lab name (≤ 15 bytes, unique per lab).
    /// No fixed ifindex: the root namespace's are not ours to choose.
    pub ifname: String,
    pub mac: Mac,
    /// The bridge port in the management namespace.
    pub peer: String,
    pub peer_ifindex: u32,
    pub peer_mac: Mac,
    /// The pools' first addresses.
    pub addrs: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodePlan {
    pub name: String,
    pub kind: NodeKind,
    /// Namespace name under /run/netns: `<lab>-<node>`.
    pub netns: String,
    /// Applied in order inside the namespace before any link exists (key like
    /// `net.ipv4.ip_forward`, value as written to /proc/sys).
    pub sysctls: Vec<(String, String)>,
    /// Addresses on `lo` (router loopbacks); `lo` itself is always brought up.
    pub loopback: Vec<IpNet>,
    /// Switches: the Linux bridge that joins their ports.
    pub bridge: Option<BridgePlan>,
    pub ifaces: Vec<IfacePlan>,
    pub routes: Vec<RoutePlan>,
    /// Kernel-engine shapers on traffic arriving at this node.
    pub shapers: Vec<ShaperPlan>,
    /// Supervised services, in file order (names unique within the node).
    pub services: Vec<ServicePlan>,
    /// CPU and memory limits (a cgroup of the node).
    pub limits: NodeLimits,
    /// `Connected`: `routes` holds nothing (a routing daemon on the node fills the table);
    /// other nodes' routes are computed as usual.
    pub routes_mode: RoutesMode,
    /// Directories the node gets its own copy of (its own mount namespace).
    pub private_dirs: Vec<std::path::PathBuf>,
    /// Files written into the private dirs before services start.
    pub files: Vec<FilePlan>,
    /// `ofswitch` and `controller` nodes: the config of their built-in daemon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openflow: Option<super::NodeOpenflow>,
    /// Nodes with `bgp:`: the config of their built-in speaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp: Option<crate::bgp::config::SpeakerConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BridgePlan {
    pub name: String,
    pub ifindex: u32,
    pub mac: Mac,
    /// Kernel STP on (forward delay 2 s); otherwise loops were cut at compile time.
    pub stp: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IfacePlan {
    pub name: String,
    pub ifindex: u32,
    pub mac: Mac,
    pub mtu: u32,
    pub addrs: Vec<IpNet>,
    /// Switch ports: how the port joins the node's bridge.
    pub port: Option<PortRole>,
    /// The other end of this veth.
    pub peer: IfaceRef,
    /// Index of the topology link this interface belongs to.
    pub link: usize,
    /// TX checksum offload, TSO and GSO stay on (false: turned off so that every frame
    /// the node sends is one wire packet — links with per-packet impairments).
    pub offloads: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortRole {
    /// A bridge port.
    Forwarding,
    /// Left out of the bridge: this link would close an L2 loop (no STP on this switch).
    Blocked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IfaceRef {
    pub node: usize,
    pub iface: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutePlan {
    /// Destination; `0.0.0.0/0` or `::/0` for a default route.
    pub dst: IpNet,
    pub via: IpAddr,
    /// ifindex of the outgoing interface in this node's namespace.
    pub dev: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VethPlan {
    pub a: IfaceRef,
    pub b: IfaceRef,
    pub link: usize,
}

/// One topology link as the lab carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkPlan {
    pub link: usize,
    /// The nodes' own ends (`a` and `b` as written in the topology).
    pub a: IfaceRef,
    pub b: IfaceRef,
    pub engine: EngineChoice,
    /// Why this engine, in words (`inspect` shows it).
    pub reason: String,
    pub a_to_b: Impairment,
    pub b_to_a: Impairment,
    /// Seeds of the two directions' random streams.
    pub seed_a_to_b: u64,
    pub seed_b_to_a: u64,
    /// Userspace engine: the fabric-namespace ends facing `a` and `b`.
    pub relay: Option<RelayPlan>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    /// A plain veth: nothing to emulate.
    Plain,
    /// tbf on an IFB at the receiving end.
    Kernel,
    /// Relayed through the supervisor's impairment pipeline.
    Userspace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayPlan {
    pub a: IfaceRef,
    pub b: IfaceRef,
    /// Offloads are off on the nodes' ends: every frame is one packet.
    pub per_packet: bool,
}

/// A kernel-engine shaper: traffic arriving on `ifindex` is redirected to an IFB device
/// whose root qdisc is a token bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShaperPlan {
    pub ifindex: u32,
    pub ifb: String,
    pub ifb_ifindex: u32,
    pub rate_bps: u64,
    pub burst: u32,
    pub limit: u32,
    pub link: usize,
}

/// A MAC address; compile derives them from stable names (locally administered, unicast).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac(pub [u8; 6]);

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let mut m = [0u8; 6];
        let mut parts = s.split(':');
        for b in m.iter_mut() {
            let p = parts
                .next()
                .ok_or_else(|| serde::de::Error::custom("short MAC address"))?;
            *b = u8::from_str_radix(p, 16).map_err(serde::de::Error::custom)?;
        }
        if parts.next().is_some() {
            return Err(serde::de::Error::custom("long MAC address"));
        }
        Ok(Mac(m))
    }
}

impl NodePlan {
    /// Every address of the node as `iface=addr` (interfaces in order, then `lo=` for the
    /// loopback's), as `up` and the web view show them.
    pub fn addr_labels(&self) -> Vec<String> {
        self.ifaces
            .iter()
            .flat_map(|i| i.addrs.iter().map(move |a| format!("{}={a}", i.name)))
            .chain(self.loopback.iter().map(|a| format!("lo={a}")))
            .collect()
    }

    /// The shell commands of this node's services, in order (built-in daemons left out).
    pub fn commands(&self) -> impl Iterator<Item = &str> {
        self.services.iter().filter_map(|s| match &s.what {
            ServiceWhat::Command { cmd } => Some(cmd.as_str()),
            ServiceWhat::Daemon { .. } => None,
        })
    }
}

impl Plan {
    pub fn node(&self, name: &str) -> Option<&NodePlan> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The nodes the user wrote (without internal ones such as the fabric).
    pub fn user_nodes(&self) -> impl Iterator<Item = &NodePlan> {
        self.nodes.iter().filter(|n| !n.kind.is_internal())
    }

    /// A node the user wrote, by name (never an internal one).
    pub fn user_node(&self, name: &str) -> Option<&NodePlan> {
        self.user_nodes().find(|n| n.name == name)
    }

    pub fn iface(&self, r: IfaceRef) -> &IfacePlan {
        &self.nodes[r.node].ifaces[r.iface]
    }

    /// A user node's management addresses (`mgmt0`), empty without a management network.
    pub fn mgmt_addrs(&self, node: &str) -> &[IpNet] {
        let Some(m) = &self.mgmt else { return &[] };
        m.nodes
            .iter()
            .find(|i| self.nodes[i.node].name == node)
            .map_or(&[], |i| i.addrs.as_slice())
    }

    /// The node that has `ip` on one of its interfaces or its loopback.
    pub fn node_owning(&self, ip: std::net::IpAddr) -> Option<&NodePlan> {
        self.nodes.iter().find(|n| {
            n.ifaces
                .iter()
                .flat_map(|i| &i.addrs)
                .chain(&n.loopback)
                .any(|a| a.addr() == ip)
        })
    }
}
